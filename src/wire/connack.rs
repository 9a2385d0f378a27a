//! CONNACK: acknowledge flags, return/reason code, MQTT 5 properties.

use super::malformation::Malformation;
use super::properties::{self, Kind, Properties};
use super::reader::Ctx;
use super::reason;
use super::ProtocolVersion;

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Connack {
    /// Whole acknowledge-flags byte.
    pub flags: u8,
    /// Bit 0 (3.1.1 and 5; MQTT 3.1 reserves the whole byte).
    pub session_present: bool,
    /// Bits 1-7, which must be 0.
    pub reserved: u8,
    /// Return code (3.x) or reason code (5).
    pub return_code: u8,
    pub properties: Option<Box<Properties>>,
}

/// The 3.1.1 return code for a protocol level the server does not support.
const V3_UNACCEPTABLE_PROTOCOL_VERSION: u8 = 1;

/// Whether a CONNACK code refuses the client's credentials or its right to connect: 3.1.1 return
/// codes 4 (bad user name or password) and 5 (not authorized); MQTT 5 reason codes 0x86 (bad
/// user name or password), 0x87 (not authorized), 0x8A (banned) and 0x8C (bad authentication
/// method). The two code spaces do not overlap, so no version is needed. Other refusals
/// (unacceptable protocol version, identifier rejected, server unavailable or busy, ...) say
/// nothing about a login: a 3.1.1 broker refusing an MQTT 5 CONNECT before the client falls back
/// is ordinary interoperation.
pub fn is_auth_refusal(code: u8) -> bool {
    matches!(code, 4 | 5 | 0x86 | 0x87 | 0x8A | 0x8C)
}

pub(crate) fn parse(i: &[u8], ctx: &mut Ctx) -> Option<Connack> {
    let (i, flags) = ctx.u8(i).ok()?;
    let (i, return_code) = ctx.u8(i).ok()?;
    let mut c = Connack {
        flags,
        session_present: flags & 1 != 0,
        reserved: flags & 0xFE,
        return_code,
        properties: None,
    };
    // 3.1 predates session-present and calls the byte "not used": nothing to check.
    if c.reserved != 0 && ctx.version != ProtocolVersion::V3_1 {
        ctx.flag(Malformation::ConnackReservedFlags);
    }
    // A server that does not speak MQTT 5 refuses a 5.0 CONNECT with a 3.1.1-format CONNACK: two
    // bytes, no property length, return code 1 (unacceptable protocol level). MQTT 5.0 section
    // 3.1.2.2 allows exactly that answer, so it is decoded as 3.1.1, not as a truncated 5.0 one.
    if ctx.is_v5() && i.is_empty() && return_code == V3_UNACCEPTABLE_PROTOCOL_VERSION {
        ctx.finish(i);
    } else if ctx.is_v5() {
        reason::check(ctx, return_code, reason::CONNACK_V5);
        // MQTT 5 makes the property length mandatory here, unlike in the acks.
        if let Ok((rest, props)) = properties::parse(i, ctx, Kind::Connack) {
            c.properties = Some(props);
            ctx.finish(rest);
        }
    } else {
        reason::check(ctx, return_code, reason::CONNACK_V3);
        ctx.finish(i);
    }
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_refusals_are_credential_refusals_only() {
        for code in [4, 5, 0x86, 0x87, 0x8A, 0x8C] {
            assert!(is_auth_refusal(code), "{code:#x}");
        }
        // Accepted; 3.1.1 protocol version, identifier, server unavailable; 5.0 unspecified,
        // protocol version, client id, server unavailable and busy, quota.
        for code in [0, 1, 2, 3, 0x80, 0x84, 0x85, 0x88, 0x89, 0x97] {
            assert!(!is_auth_refusal(code), "{code:#x}");
        }
    }
    use crate::wire::{Limits, Malformations};
    use ProtocolVersion::*;

    fn run(bytes: &[u8], v: ProtocolVersion) -> (Option<Connack>, Malformations) {
        let l = Limits::default();
        let mut c = Ctx::new(v, &l);
        (parse(bytes, &mut c), c.mal)
    }

    #[test]
    fn v311_accepted_with_session() {
        let (c, mal) = run(&[0x01, 0x00], V3_1_1);
        let c = c.unwrap();
        assert!(c.session_present && mal.is_empty());
        assert_eq!(c.return_code, 0);
        assert!(c.properties.is_none());
    }

    #[test]
    fn v311_refusal_of_a_v5_connect_is_legal() {
        // `20 02 00 01`: what a 3.1.1 broker answers to an MQTT 5 CONNECT.
        let (c, mal) = run(&[0x00, 0x01], V5);
        assert!(mal.is_empty(), "{mal:?}");
        assert_eq!(c.unwrap().return_code, 1);
        // Any other two-byte 5.0 CONNACK still lacks its mandatory property length.
        let (_, mal) = run(&[0x00, 0x00], V5);
        assert!(!mal.is_empty());
        let (_, mal) = run(&[0x00, 0x87], V5);
        assert!(!mal.is_empty());
    }

    #[test]
    fn v3_bad_code_and_flags_and_trailing() {
        let (_, mal) = run(&[0x02, 0x06, 0x00], V3_1_1);
        assert!(mal.contains(Malformation::ConnackReservedFlags));
        assert!(mal.contains(Malformation::InvalidReasonCode));
        assert!(mal.contains(Malformation::TrailingBytes));
        let (_, mal) = run(&[0x02, 0x00], V3_1);
        assert!(mal.is_empty());
    }

    #[test]
    fn v5_mosquitto() {
        // captured from Mosquitto: 20 06 | 00 00 03 22 00 0a
        let (c, mal) = run(&[0x00, 0x00, 0x03, 0x22, 0x00, 0x0A], V5);
        let c = c.unwrap();
        assert!(mal.is_empty(), "{mal:?}");
        assert_eq!(c.properties.unwrap().topic_alias_maximum, Some(10));
    }

    #[test]
    fn v5_not_authorized_and_missing_props() {
        let (c, mal) = run(&[0x00, 0x87], V5);
        assert_eq!(c.unwrap().return_code, 0x87);
        assert!(mal.contains(Malformation::Truncated));
    }

    #[test]
    fn truncated_is_unparsed() {
        let (c, mal) = run(&[0x00], V3_1_1);
        assert!(c.is_none());
        assert!(mal.contains(Malformation::Truncated));
    }
}
