//! Return/reason code tables (MQTT 3.1.1 section 3.2.2.3 / 3.9.3, MQTT 5.0 section 2.4) and
//! the "optional reason code, then optional properties" tail shared by MQTT 5 acks,
//! DISCONNECT and AUTH.

use super::malformation::Malformation;
use super::properties::{self, Kind, Properties};
use super::reader::Ctx;

pub(crate) const CONNACK_V3: &[u8] = &[0, 1, 2, 3, 4, 5];
pub(crate) const CONNACK_V5: &[u8] = &[
    0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
    0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
];
pub(crate) const PUBACK_PUBREC_V5: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
pub(crate) const PUBREL_PUBCOMP_V5: &[u8] = &[0x00, 0x92];
pub(crate) const SUBACK_V3: &[u8] = &[0x00, 0x01, 0x02, 0x80];
pub(crate) const SUBACK_V5: &[u8] = &[
    0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
];
pub(crate) const UNSUBACK_V5: &[u8] = &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
pub(crate) const DISCONNECT_V5: &[u8] = &[
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
    0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
];
pub(crate) const AUTH_V5: &[u8] = &[0x00, 0x18, 0x19];

pub(crate) fn check(ctx: &mut Ctx, code: u8, valid: &[u8]) {
    if !valid.contains(&code) {
        ctx.flag(Malformation::InvalidReasonCode);
    }
}

/// MQTT 5 tail: a reason code if at least one byte is left, then properties if any bytes
/// are left after it (the spec lets senders drop both when they would be the defaults).
/// Everything after the properties is trailing garbage.
pub(crate) fn code_and_properties(
    i: &[u8],
    ctx: &mut Ctx,
    kind: Kind,
    valid: &[u8],
) -> (Option<u8>, Option<Box<Properties>>) {
    let Some((&code, rest)) = i.split_first() else {
        return (None, None);
    };
    check(ctx, code, valid);
    if rest.is_empty() {
        return (Some(code), None);
    }
    match properties::parse(rest, ctx, kind) {
        Ok((rest, props)) => {
            ctx.finish(rest);
            (Some(code), Some(props))
        }
        Err(_) => (Some(code), None),
    }
}
