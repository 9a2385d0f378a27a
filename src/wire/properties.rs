//! MQTT 5 properties: a varint length, then (identifier, value) items. The block length is
//! trusted only up to the end of the message; items are bounded by the block.

use super::malformation::Malformation;
use super::reader::{Ctx, Field, Stop};
use super::strings::{decode_utf8, raw};

/// Every property of MQTT 5.0 section 2.2.2.2. Single-valued ones keep the first occurrence;
/// a repeat is flagged `InvalidProperty`.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Properties {
    /// Declared property length (may exceed what was present: see `OversizedProperties`).
    pub property_len: u32,
    /// 0x01
    pub payload_format_indicator: Option<u8>,
    /// 0x02
    pub message_expiry_interval: Option<u32>,
    /// 0x03
    pub content_type: Option<String>,
    /// 0x08
    pub response_topic: Option<String>,
    /// 0x09: only the length is kept (opaque, potentially sensitive).
    pub correlation_data_len: Option<u16>,
    /// 0x0B: may repeat in PUBLISH.
    pub subscription_identifiers: Vec<u32>,
    /// 0x11
    pub session_expiry_interval: Option<u32>,
    /// 0x12
    pub assigned_client_identifier: Option<String>,
    /// 0x13
    pub server_keep_alive: Option<u16>,
    /// 0x15
    pub authentication_method: Option<String>,
    /// 0x16: only the length is kept (credentials).
    pub authentication_data_len: Option<u16>,
    /// 0x17
    pub request_problem_information: Option<u8>,
    /// 0x18
    pub will_delay_interval: Option<u32>,
    /// 0x19
    pub request_response_information: Option<u8>,
    /// 0x1A
    pub response_information: Option<String>,
    /// 0x1C
    pub server_reference: Option<String>,
    /// 0x1F
    pub reason_string: Option<String>,
    /// 0x21
    pub receive_maximum: Option<u16>,
    /// 0x22
    pub topic_alias_maximum: Option<u16>,
    /// 0x23
    pub topic_alias: Option<u16>,
    /// 0x24
    pub maximum_qos: Option<u8>,
    /// 0x25
    pub retain_available: Option<u8>,
    /// 0x26: may repeat; each pair costs at least 5 wire bytes, so growth is input-bounded.
    pub user_properties: Vec<(String, String)>,
    /// 0x27
    pub maximum_packet_size: Option<u32>,
    /// 0x28
    pub wildcard_subscription_available: Option<u8>,
    /// 0x29
    pub subscription_identifier_available: Option<u8>,
    /// 0x2A
    pub shared_subscription_available: Option<u8>,
}

/// Which packet (or the CONNECT will) a property block belongs to; decides allowed ids.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Connect,
    Will,
    Connack,
    Publish,
    Puback,
    Pubrec,
    Pubrel,
    Pubcomp,
    Subscribe,
    Suback,
    Unsubscribe,
    Unsuback,
    Disconnect,
    Auth,
}

impl Kind {
    const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

const fn mask(kinds: &[Kind]) -> u16 {
    let mut m = 0;
    let mut i = 0;
    while i < kinds.len() {
        m |= kinds[i].bit();
        i += 1;
    }
    m
}

use Kind::*;
const PUB_WILL: u16 = mask(&[Publish, Will]);
const ALL: u16 = u16::MAX;

/// Allowed packet kinds per identifier (MQTT 5.0 table 2-4); None = unknown identifier.
const fn allowed_in(id: u8) -> Option<u16> {
    Some(match id {
        0x01 | 0x02 | 0x03 | 0x08 | 0x09 => PUB_WILL,
        0x0B => mask(&[Publish, Subscribe]),
        0x11 => mask(&[Connect, Connack, Disconnect]),
        0x12 | 0x13 | 0x1A | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => Connack.bit(),
        0x15 | 0x16 => mask(&[Connect, Connack, Auth]),
        0x17 | 0x19 => Connect.bit(),
        0x18 => Will.bit(),
        0x1C => mask(&[Connack, Disconnect]),
        0x1F => mask(&[
            Connack, Puback, Pubrec, Pubrel, Pubcomp, Suback, Unsuback, Disconnect, Auth,
        ]),
        0x21 | 0x22 | 0x27 => mask(&[Connect, Connack]),
        0x23 => Publish.bit(),
        0x26 => ALL,
        _ => return None,
    })
}

/// Identifiers that may legitimately appear more than once in `kind`.
fn may_repeat(id: u8, kind: Kind) -> bool {
    id == 0x26 || (id == 0x0B && kind == Publish)
}

/// Parse a property block at the start of `i`. Stops (returns Err) only when the length
/// varint itself is unreadable; problems inside the block are flagged and the returned rest
/// starts after the declared block (or is empty if the block overran the message).
/// Boxed: properties are large and MQTT 5 only, so messages without them stay small.
pub(crate) fn parse<'a>(i: &'a [u8], ctx: &mut Ctx, kind: Kind) -> Field<'a, Box<Properties>> {
    let (i, property_len) = ctx.varint(i)?;
    let declared = property_len as usize;
    let (block, rest) = if declared > i.len() {
        ctx.flag(Malformation::OversizedProperties);
        (i, &[][..])
    } else {
        i.split_at(declared)
    };
    let mut props = Box::new(Properties {
        property_len,
        ..Properties::default()
    });
    let mut seen: u64 = 0;
    let mut b = block;
    while !b.is_empty() {
        match item(b, ctx, kind, &mut props, &mut seen) {
            Ok(next) => b = next,
            Err(Stop) => break,
        }
    }
    Ok((rest, props))
}

fn once<T>(slot: &mut Option<T>, v: T) {
    if slot.is_none() {
        *slot = Some(v);
    }
}

/// Values the spec restricts to 0 or 1.
fn boolean(ctx: &mut Ctx, v: u8) -> u8 {
    if v > 1 {
        ctx.flag(Malformation::InvalidProperty);
    }
    v
}

/// Values for which 0 is a protocol error.
fn nonzero<T: Default + PartialEq>(ctx: &mut Ctx, v: T) -> T {
    if v == T::default() {
        ctx.flag(Malformation::InvalidProperty);
    }
    v
}

/// One property item; returns the input after it.
fn item<'a>(
    b: &'a [u8],
    ctx: &mut Ctx,
    kind: Kind,
    p: &mut Properties,
    seen: &mut u64,
) -> Result<&'a [u8], Stop> {
    let (b, id) = ctx.u8(b)?;
    let Some(allowed) = allowed_in(id) else {
        // Unknown id: its value's size is unknown too, so the rest of the block is opaque.
        ctx.flag(Malformation::InvalidProperty);
        return Err(Stop);
    };
    if allowed & kind.bit() == 0 {
        ctx.flag(Malformation::InvalidProperty);
    }
    // Known ids are all < 64.
    let bit = 1u64 << (id & 63);
    if *seen & bit != 0 && !may_repeat(id, kind) {
        ctx.flag(Malformation::InvalidProperty);
    }
    *seen |= bit;

    let b = match id {
        0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => {
            let (b, v) = ctx.u8(b)?;
            let v = boolean(ctx, v);
            let slot = match id {
                0x01 => &mut p.payload_format_indicator,
                0x17 => &mut p.request_problem_information,
                0x19 => &mut p.request_response_information,
                0x24 => &mut p.maximum_qos,
                0x25 => &mut p.retain_available,
                0x28 => &mut p.wildcard_subscription_available,
                0x29 => &mut p.subscription_identifier_available,
                _ => &mut p.shared_subscription_available,
            };
            once(slot, v);
            b
        }
        0x13 | 0x21 | 0x22 | 0x23 => {
            let (b, v) = ctx.u16(b)?;
            match id {
                0x13 => once(&mut p.server_keep_alive, v),
                0x21 => once(&mut p.receive_maximum, nonzero(ctx, v)),
                0x22 => once(&mut p.topic_alias_maximum, v),
                _ => once(&mut p.topic_alias, nonzero(ctx, v)),
            }
            b
        }
        0x02 | 0x11 | 0x18 | 0x27 => {
            let (b, v) = ctx.u32(b)?;
            match id {
                0x02 => once(&mut p.message_expiry_interval, v),
                0x11 => once(&mut p.session_expiry_interval, v),
                0x18 => once(&mut p.will_delay_interval, v),
                _ => once(&mut p.maximum_packet_size, nonzero(ctx, v)),
            }
            b
        }
        0x0B => {
            let (b, v) = ctx.varint(b)?;
            p.subscription_identifiers.push(nonzero(ctx, v));
            b
        }
        0x09 | 0x16 => {
            let (b, data) = raw(b, ctx)?;
            let len = u16::try_from(data.len()).unwrap_or(u16::MAX);
            once(
                if id == 0x09 {
                    &mut p.correlation_data_len
                } else {
                    &mut p.authentication_data_len
                },
                len,
            );
            b
        }
        0x26 => {
            let (b, k) = raw(b, ctx)?;
            let (b, v) = raw(b, ctx)?;
            let pair = (decode_utf8(k, ctx), decode_utf8(v, ctx));
            p.user_properties.push(pair);
            b
        }
        // The remaining known ids are all UTF-8 strings.
        _ => {
            let (b, s) = raw(b, ctx)?;
            let s = decode_utf8(s, ctx);
            let slot = match id {
                0x03 => &mut p.content_type,
                0x08 => &mut p.response_topic,
                0x12 => &mut p.assigned_client_identifier,
                0x15 => &mut p.authentication_method,
                0x1A => &mut p.response_information,
                0x1C => &mut p.server_reference,
                _ => &mut p.reason_string,
            };
            once(slot, s);
            b
        }
    };
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Limits, ProtocolVersion};

    fn run(bytes: &[u8], kind: Kind) -> (Box<Properties>, usize, crate::wire::Malformations) {
        let l = Limits::default();
        let mut c = Ctx::new(ProtocolVersion::V5, &l);
        let (rest, p) = parse(bytes, &mut c, kind).expect("length varint");
        (p, rest.len(), c.mal)
    }

    /// tests/reference/quirks.py names this test: Wireshark 4.0.17 shows the property length
    /// `ff 21` (suricata-verify mqtt5-excessiveproplen) as 65313, a big-endian u16; it is a
    /// variable byte integer, 127 + 33 * 128.
    #[test]
    fn tshark_quirk_property_length_is_a_varint() {
        let mut bytes = vec![0xFF, 0x21, 0x00, 0x14];
        bytes.extend_from_slice(b"rest of the connect");
        let (p, _, mal) = run(&bytes, Connect);
        assert_eq!(p.property_len, 4351);
        assert!(mal.contains(Malformation::OversizedProperties), "{mal:?}");
    }

    #[test]
    fn empty_block() {
        let (p, rest, mal) = run(&[0x00, 0xAA], Publish);
        assert_eq!(*p, Properties::default());
        assert_eq!(rest, 1);
        assert!(mal.is_empty());
    }

    #[test]
    fn connack_properties() {
        // receive max 20, topic alias max 10, assigned client id "ab", retain avail 1,
        // shared sub avail 0
        let bytes = [
            0x0F, 0x21, 0x00, 0x14, 0x22, 0x00, 0x0A, 0x12, 0x00, 0x02, b'a', b'b', 0x25, 0x01,
            0x2A, 0x00,
        ];
        let (p, rest, mal) = run(&bytes, Connack);
        assert!(mal.is_empty(), "{mal:?}");
        assert_eq!(rest, 0);
        assert_eq!(p.property_len, 15);
        assert_eq!(p.receive_maximum, Some(20));
        assert_eq!(p.topic_alias_maximum, Some(10));
        assert_eq!(p.assigned_client_identifier.as_deref(), Some("ab"));
        assert_eq!(p.retain_available, Some(1));
        assert_eq!(p.shared_subscription_available, Some(0));
    }

    #[test]
    fn user_properties_and_sub_ids_repeat_in_publish() {
        let bytes = [
            0x0E, 0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', 0x0B, 0x05, 0x0B, 0x80, 0x01, 0x23,
            0x00,
        ];
        // last item (topic alias) is cut by the block length -> truncated within block
        let (p, _, mal) = run(&bytes, Publish);
        assert_eq!(p.user_properties, vec![("k".into(), "v".into())]);
        assert_eq!(p.subscription_identifiers, vec![5, 128]);
        assert!(mal.contains(Malformation::Truncated));
        assert!(!mal.contains(Malformation::InvalidProperty));
    }

    #[test]
    fn duplicate_and_misplaced_are_invalid() {
        let (p, _, mal) = run(&[0x06, 0x23, 0x00, 0x01, 0x23, 0x00, 0x02], Publish);
        assert_eq!(p.topic_alias, Some(1));
        assert!(mal.contains(Malformation::InvalidProperty));

        let (_, _, mal) = run(&[0x02, 0x0B, 0x01], Connack);
        assert!(mal.contains(Malformation::InvalidProperty));

        let (_, _, mal) = run(&[0x04, 0x0B, 0x01, 0x0B, 0x02], Subscribe);
        assert!(mal.contains(Malformation::InvalidProperty));
    }

    #[test]
    fn unknown_id_skips_rest_of_block() {
        let (p, rest, mal) = run(&[0x05, 0x7F, 0x01, 0x02, 0x03, 0x04, 0xEE], Publish);
        assert_eq!(rest, 1);
        assert_eq!(p.property_len, 5);
        assert!(mal.contains(Malformation::InvalidProperty));
    }

    #[test]
    fn bad_values() {
        let (_, _, mal) = run(&[0x02, 0x01, 0x02], Publish);
        assert!(mal.contains(Malformation::InvalidProperty));
        let (_, _, mal) = run(&[0x03, 0x21, 0x00, 0x00], Connect);
        assert!(mal.contains(Malformation::InvalidProperty));
    }

    #[test]
    fn oversized_block() {
        let (p, rest, mal) = run(&[0x7F, 0x24, 0x01], Connack);
        assert_eq!(rest, 0);
        assert_eq!(p.maximum_qos, Some(1));
        assert!(mal.contains(Malformation::OversizedProperties));
    }

    #[test]
    fn bad_length_varint_stops() {
        let l = Limits::default();
        let mut c = Ctx::new(ProtocolVersion::V5, &l);
        assert!(parse(&[0xFF, 0xFF, 0xFF, 0xFF, 0x01], &mut c, Publish).is_err());
        assert!(c.mal.contains(Malformation::InvalidVarint));
        let mut c = Ctx::new(ProtocolVersion::V5, &l);
        assert!(parse(&[], &mut c, Publish).is_err());
        assert!(c.mal.contains(Malformation::Truncated));
    }

    #[test]
    fn every_known_id_is_decodable() {
        for id in 0u8..=0x7F {
            let Some(_) = allowed_in(id) else { continue };
            // value of 4 bytes covers every fixed type; strings read length 0x0101 and fail
            // cleanly inside the block
            let bytes = [0x05, id, 0x00, 0x00, 0x00, 0x01];
            let (_, rest, _) = run(&bytes, Connect);
            assert_eq!(rest, 0);
        }
    }
}
