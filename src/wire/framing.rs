//! Framing: one message from the start of a buffer, resynchronisation after garbage, and
//! protocol detection.

use super::fixed_header::{self as fh, first_byte_malformations, FixedHeader, HeaderRead};
use super::malformation::Malformation;
use super::message::{Body, Message};
use super::reader::Ctx;
use super::{
    ack, auth, connack, connect, disconnect, publish, suback, subscribe, unsuback, unsubscribe,
};
use super::{Limits, Parsed, Probe, ProtocolVersion};

/// The message a header stands for when its body cannot be had: too large to keep
/// ([`Parsed::Oversized`]) or not framed at all ([`Parsed::BadHeader`]). It carries what the first
/// bytes say, the first-byte malformations and `m`; the body is [`Body::Unparsed`]. Recording it
/// keeps such a message visible (EVE, rules, features) instead of leaving only a stream event.
pub fn header_only(input: &[u8], version: ProtocolVersion, m: Malformation) -> Message {
    let byte = input.first().copied().unwrap_or(0);
    let header = match fh::read(input) {
        HeaderRead::Ok { header, .. } => header,
        HeaderRead::Incomplete | HeaderRead::TooLong => FixedHeader {
            byte,
            msg_type: byte >> 4,
            dup: byte & 0b1000 != 0,
            qos: (byte >> 1) & 3,
            retain: byte & 1 != 0,
            remaining_len: 0,
            header_len: 1,
        },
    };
    let mut malformations = first_byte_malformations(byte, version);
    malformations.insert(m);
    Message {
        header,
        body: Body::Unparsed,
        malformations,
        version,
    }
}

/// Frame and decode the message at the start of `input`. `version` is the connection's
/// version so far (a CONNECT always uses its own level instead).
pub fn parse_message(input: &[u8], version: ProtocolVersion, limits: &Limits) -> Parsed {
    let (header, minimal) = match fh::read(input) {
        HeaderRead::Ok { header, minimal } => (header, minimal),
        HeaderRead::Incomplete => return Parsed::Incomplete { needed: None },
        HeaderRead::TooLong => return Parsed::BadHeader(Malformation::BadRemainingLength),
    };
    let total_len = header.total_len();
    if total_len > limits.max_msg_len {
        return Parsed::Oversized { total_len };
    }
    let Some(body) = input.get(usize::from(header.header_len)..total_len) else {
        return Parsed::Incomplete {
            needed: Some(total_len),
        };
    };
    let mut ctx = Ctx::new(version, limits);
    ctx.mal = first_byte_malformations(header.byte, version);
    if !minimal {
        ctx.flag(Malformation::NonMinimalRemainingLength);
    }
    let body = decode_body(&header, body, &mut ctx);
    Parsed::Message {
        msg: Message {
            header,
            body,
            malformations: ctx.mal,
            version: ctx.version,
        },
        len: total_len,
    }
}

fn decode_body(h: &FixedHeader, i: &[u8], ctx: &mut Ctx) -> Body {
    fn or_unparsed<T>(parsed: Option<T>, wrap: fn(T) -> Body) -> Body {
        parsed.map_or(Body::Unparsed, wrap)
    }
    match h.msg_type {
        fh::CONNECT => or_unparsed(connect::parse(i, ctx), Body::Connect),
        fh::CONNACK => or_unparsed(connack::parse(i, ctx), Body::Connack),
        fh::PUBLISH => or_unparsed(publish::parse(i, ctx, h), Body::Publish),
        fh::PUBACK => or_unparsed(ack::parse(i, ctx, h.msg_type), Body::Puback),
        fh::PUBREC => or_unparsed(ack::parse(i, ctx, h.msg_type), Body::Pubrec),
        fh::PUBREL => or_unparsed(ack::parse(i, ctx, h.msg_type), Body::Pubrel),
        fh::PUBCOMP => or_unparsed(ack::parse(i, ctx, h.msg_type), Body::Pubcomp),
        fh::SUBSCRIBE => or_unparsed(subscribe::parse(i, ctx), Body::Subscribe),
        fh::SUBACK => or_unparsed(suback::parse(i, ctx), Body::Suback),
        fh::UNSUBSCRIBE => or_unparsed(unsubscribe::parse(i, ctx), Body::Unsubscribe),
        fh::UNSUBACK => or_unparsed(unsuback::parse(i, ctx), Body::Unsuback),
        fh::PINGREQ | fh::PINGRESP => {
            ctx.finish(i);
            if h.msg_type == fh::PINGREQ {
                Body::Pingreq
            } else {
                Body::Pingresp
            }
        }
        fh::DISCONNECT => Body::Disconnect(disconnect::parse(i, ctx)),
        fh::AUTH if fh::auth_allowed(ctx.version) => Body::Auth(auth::parse(i, ctx)),
        _ => Body::Reserved,
    }
}

/// Smallest remaining length each type can have, so that resync rejects headers whose body
/// could not even hold the mandatory fields.
pub(crate) const fn min_remaining(msg_type: u8) -> u32 {
    match msg_type {
        // "MQTT" name (6) + level + flags + keep alive (4) + client id length (2)
        fh::CONNECT => 12,
        fh::CONNACK | fh::PUBACK | fh::PUBREC | fh::PUBREL | fh::PUBCOMP | fh::UNSUBACK => 2,
        fh::PUBLISH => 2,
        // id + filter length + options
        fh::SUBSCRIBE => 5,
        fh::SUBACK => 3,
        fh::UNSUBSCRIBE => 4,
        _ => 0,
    }
}

/// Is there a plausible fixed header at `input[at..]`? Returns the end offset of the message
/// it frames (possibly beyond the input), or `Some(input.len())` for a header cut by the
/// end of input. Looks at no more than the 5 header bytes plus a few body bytes.
fn plausible_at(input: &[u8], at: usize) -> Option<usize> {
    let rest = input.get(at..)?;
    let &byte = rest.first()?;
    let msg_type = byte >> 4;
    // Unknown version: accept AUTH (15), which a midstream MQTT 5 flow may carry.
    if msg_type == 0 || !first_byte_malformations(byte, ProtocolVersion::Unknown).is_empty() {
        return None;
    }
    let header = match fh::read(rest) {
        HeaderRead::Ok {
            header,
            minimal: true,
        } => header,
        HeaderRead::Incomplete => return Some(input.len()),
        _ => return None,
    };
    let rem = header.remaining_len;
    let body = rest
        .get(usize::from(header.header_len)..)
        .unwrap_or_default();
    let sane = match msg_type {
        fh::PINGREQ | fh::PINGRESP => rem == 0,
        fh::CONNECT => rem >= min_remaining(msg_type) && connect_name_prefix_ok(body),
        fh::PUBLISH => publish_topic_fits(body, rem, header.qos),
        _ => rem >= min_remaining(msg_type),
    };
    sane.then(|| at.saturating_add(header.total_len()))
}

/// The protocol name, as far as it is present, is "MQTT" or "MQIsdp".
fn connect_name_prefix_ok(body: &[u8]) -> bool {
    const MQTT: &[u8] = b"\x00\x04MQTT";
    const MQISDP: &[u8] = b"\x00\x06MQIsdp";
    MQTT.starts_with(body.get(..MQTT.len()).unwrap_or(body))
        || MQISDP.starts_with(body.get(..MQISDP.len()).unwrap_or(body))
}

/// A PUBLISH's topic (and packet id) must fit in its remaining length.
fn publish_topic_fits(body: &[u8], rem: u32, qos: u8) -> bool {
    let [hi, lo, ..] = *body else {
        return rem >= 2;
    };
    let topic_len = u32::from(u16::from_be_bytes([hi, lo]));
    let id_len = if qos > 0 { 2 } else { 0 };
    topic_len + 2 + id_len <= rem
}

/// Offset of the next plausible fixed header in `input`, starting at 0. Plausible means:
/// type 1..=15 (15 = AUTH, accepted since resync cannot know the version), the flag nibble
/// that type requires, a minimal remaining length of at most 4 bytes, a length the type can
/// have, and the framed message either ends exactly where another plausible header starts,
/// ends exactly at the end of input, or runs beyond it (incomplete). A header that makes
/// [`parse_message`] return `BadHeader` is never plausible, so after `BadHeader` at offset 0
/// the answer is always > 0.
///
/// Which candidate wins: the data after a gap or at a midstream pickup starts on a TCP segment
/// boundary, where senders start messages, so a plausible header at offset 0 is taken. Otherwise
/// a header whose framing closes exactly (at the end of input or at another plausible header) is
/// preferred to an earlier one whose message would run beyond the input: in garbage, a byte pair
/// that looks like a header with a long length is far more common than an exact fit.
///
/// Linear: at most three passes, each offset costing at most two constant-size header checks.
pub fn resync(input: &[u8]) -> Option<usize> {
    let chains = |at: usize, exact_only: bool| match plausible_at(input, at) {
        None => false,
        Some(end) if end == input.len() => true,
        Some(end) if end > input.len() => !exact_only,
        Some(end) => plausible_at(input, end).is_some(),
    };
    if !input.is_empty() && chains(0, false) {
        return Some(0);
    }
    (1..input.len())
        .find(|&at| chains(at, true))
        .or_else(|| (1..input.len()).find(|&at| chains(at, false)))
}

/// Does `input` start like an MQTT connection (a CONNECT)?
pub fn probe_connect(input: &[u8]) -> Probe {
    let Some(&byte) = input.first() else {
        return Probe::NeedMore;
    };
    if byte != 0x10 {
        return Probe::NotMqtt;
    }
    let header = match fh::read(input) {
        HeaderRead::Ok { header, .. } => header,
        HeaderRead::Incomplete => return Probe::NeedMore,
        HeaderRead::TooLong => return Probe::NotMqtt,
    };
    if header.remaining_len < min_remaining(fh::CONNECT) {
        return Probe::NotMqtt;
    }
    let body = input
        .get(usize::from(header.header_len)..)
        .unwrap_or_default();
    let (name_len, version) = match body {
        [0, 4, b'M', b'Q', b'T', b'T', level, ..] => (4, ProtocolVersion::from_level(*level)),
        [0, 6, b'M', b'Q', b'I', b's', b'd', b'p', level, ..] => {
            (6, ProtocolVersion::from_level(*level))
        }
        _ if connect_name_prefix_ok(body) => return Probe::NeedMore,
        _ => return Probe::NotMqtt,
    };
    let expected = match name_len {
        4 => matches!(version, ProtocolVersion::V3_1_1 | ProtocolVersion::V5),
        _ => version == ProtocolVersion::V3_1,
    };
    Probe::Mqtt(if expected {
        version
    } else {
        ProtocolVersion::Unknown
    })
}

#[cfg(test)]
mod tests;
