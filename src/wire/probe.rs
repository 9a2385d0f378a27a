//! Protocol detection on the configured MQTT ports: is this data MQTT?
//!
//! There a flow may be picked up midstream, so the data need not start with a CONNECT: any
//! message may come first. But TLS, HTTP, SSH and random bytes on port 1883 must not be taken for
//! MQTT (they would be logged and scored as MQTT messages). Every message whose start is in the
//! probed bytes must look like what a client or broker sends: the flag nibble its type requires,
//! a minimal remaining length the type can have, and, where the first body bytes are present,
//! codes and strings the type allows. One bad byte is enough to say "not MQTT"; Suricata then
//! gives the flow up (`app_proto: failed`), as with its own parsers' probes, and the glue raises
//! Suricata's protocol-detection event on the flow (docs/events.md).
//!
//! A CONNECT type byte with a broken body stays MQTT: that is an attack on the broker, which the
//! parser flags. Linear in the input, no allocation.
use super::fixed_header::{self as fh, first_byte_malformations, HeaderRead};
use super::framing::min_remaining;
use super::{probe_connect, Probe, ProtocolVersion};

/// Is data on a configured MQTT port MQTT? See the module documentation.
pub fn probe_port(input: &[u8]) -> Probe {
    match probe_connect(input) {
        Probe::NotMqtt => {}
        other => return other,
    }
    let mqtt = Probe::Mqtt(ProtocolVersion::Unknown);
    if input.first() == Some(&0x10) {
        // A CONNECT whose protocol name is wrong, or whose length cannot be framed.
        return match fh::read(input) {
            HeaderRead::Incomplete => Probe::NeedMore,
            HeaderRead::TooLong => mqtt,
            HeaderRead::Ok { header, .. } => match input.get(usize::from(header.header_len)..) {
                // A long name length only with the name itself (a malformed CONNECT).
                Some([hi, lo, name @ ..]) if u16::from_be_bytes([*hi, *lo]) > 16 => {
                    if name.starts_with(b"MQTT") || name.starts_with(b"MQIsdp") {
                        mqtt
                    } else {
                        Probe::NotMqtt
                    }
                }
                _ => mqtt,
            },
        };
    }
    let mut at = 0usize;
    while let Some(rest) = input.get(at..).filter(|r| !r.is_empty()) {
        let byte = rest[0];
        if byte >> 4 == 0 || !first_byte_malformations(byte, ProtocolVersion::Unknown).is_empty() {
            return Probe::NotMqtt;
        }
        let header = match fh::read(rest) {
            HeaderRead::Ok {
                header,
                minimal: true,
            } => header,
            // The type byte checked out and nothing follows yet (a midstream flow may start
            // with a one-byte segment): waiting would only delay detection past that segment.
            HeaderRead::Incomplete => return mqtt,
            _ => return Probe::NotMqtt,
        };
        let body = rest
            .get(usize::from(header.header_len)..)
            .unwrap_or_default();
        let body = &body[..body.len().min(header.remaining_len as usize)];
        if !body_plausible(header.msg_type, header.qos, header.remaining_len, body) {
            return Probe::NotMqtt;
        }
        at = at.saturating_add(header.total_len());
    }
    mqtt
}

/// Do the first bytes of a body (`body`, possibly cut short by the end of input) fit a message of
/// type `t` with remaining length `rem`, in any MQTT version?
fn body_plausible(t: u8, qos: u8, rem: u32, body: &[u8]) -> bool {
    if rem < min_remaining(t) {
        return false;
    }
    let at = |i: usize| body.get(i).copied();
    // A check on a byte that is not there yet passes.
    let byte_in = |i: usize, ok: &[u8]| at(i).is_none_or(|b| ok.contains(&b));
    match t {
        fh::PINGREQ | fh::PINGRESP => rem == 0,
        fh::CONNACK => {
            byte_in(0, &[0, 1])
                && (byte_in(1, &[0, 1, 2, 3, 4, 5]) || byte_in(1, CONNACK_REASONS))
                && props_fit(body, 2, rem)
        }
        fh::PUBACK | fh::PUBREC => rem == 2 || (byte_in(2, ACK_REASONS) && props_fit(body, 3, rem)),
        fh::PUBREL | fh::PUBCOMP => rem == 2 || (byte_in(2, &[0, 0x92]) && props_fit(body, 3, rem)),
        fh::PUBLISH => {
            let id = if qos > 0 { 2 } else { 0 };
            string_fits(body, 0, rem.saturating_sub(id))
        }
        fh::SUBSCRIBE | fh::UNSUBSCRIBE => {
            // 3.x: packet id, then a topic filter. 5.0: packet id, properties, topic filter.
            string_fits(body, 2, rem)
                || match at(2) {
                    Some(0) => string_fits(body, 3, rem),
                    Some(n) if u32::from(n) < rem - 2 => byte_in(3, &[0x0B, 0x26]),
                    Some(_) => false,
                    None => true,
                }
        }
        fh::SUBACK => {
            let v3 = body.iter().skip(2).all(|b| [0, 1, 2, 0x80].contains(b));
            let v5 = match at(2) {
                Some(0) => body.iter().skip(3).all(|b| SUBACK_REASONS.contains(b)),
                Some(n) if u32::from(n) < rem - 3 => byte_in(3, &[0x1F, 0x26]),
                Some(_) => false,
                None => true,
            };
            v3 || v5
        }
        fh::UNSUBACK => {
            rem == 2
                || match at(2) {
                    Some(0) => body.iter().skip(3).all(|b| UNSUBACK_REASONS.contains(b)),
                    Some(n) if u32::from(n) < rem - 3 => byte_in(3, &[0x1F, 0x26]),
                    Some(_) => false,
                    None => true,
                }
        }
        fh::DISCONNECT => rem == 0 || (byte_in(0, DISCONNECT_REASONS) && props_fit(body, 1, rem)),
        fh::AUTH => rem == 0 || (byte_in(0, &[0, 0x18, 0x19]) && props_fit(body, 1, rem)),
        _ => false,
    }
}

/// An MQTT 5 property length at `i`, if present, fits in the remaining length.
fn props_fit(body: &[u8], i: usize, rem: u32) -> bool {
    match body.get(i) {
        None => true,
        Some(&n) if n < 0x80 => u32::from(n) + (i as u32) < rem,
        // A longer property list in a short message: anything else is not MQTT.
        Some(_) => rem > 128 + i as u32,
    }
}

/// A length-prefixed UTF-8 string at `i` fits in `room` bytes from the body start, and the bytes
/// of it that are present are printable UTF-8 (a control character or an invalid sequence in a
/// topic is far more likely another protocol than a real client).
fn string_fits(body: &[u8], i: usize, room: u32) -> bool {
    let Some(rest) = body.get(i..) else {
        return true;
    };
    let [hi, lo, text @ ..] = rest else {
        return true;
    };
    let len = usize::from(u16::from_be_bytes([*hi, *lo]));
    if (i + 2 + len) as u64 > u64::from(room) {
        return false;
    }
    let text = &text[..text.len().min(len)];
    let valid = match std::str::from_utf8(text) {
        Ok(s) => s,
        // Cut by the end of input inside a character: fine.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&text[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    !valid.chars().any(char::is_control)
}

const CONNACK_REASONS: &[u8] = &[
    0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
    0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
];
const ACK_REASONS: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
const SUBACK_REASONS: &[u8] = &[
    0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
];
const UNSUBACK_REASONS: &[u8] = &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
const DISCONNECT_REASONS: &[u8] = &[
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
    0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
];
