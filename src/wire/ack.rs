//! PUBACK, PUBREC, PUBREL, PUBCOMP: packet id, then (MQTT 5) optional reason code and
//! optional properties.

use super::fixed_header::{PUBACK, PUBREC, PUBREL};
use super::properties::{Kind, Properties};
use super::reader::Ctx;
use super::reason;

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Ack {
    pub msgid: u16,
    /// MQTT 5 only; None when the remaining length is 2 (meaning success).
    pub reason_code: Option<u8>,
    pub properties: Option<Box<Properties>>,
}

/// `msg_type` is one of PUBACK/PUBREC/PUBREL/PUBCOMP.
pub(crate) fn parse(i: &[u8], ctx: &mut Ctx, msg_type: u8) -> Option<Ack> {
    let (i, msgid) = ctx.msgid(i).ok()?;
    let mut ack = Ack {
        msgid,
        ..Ack::default()
    };
    if ctx.is_v5() {
        let (kind, valid) = match msg_type {
            PUBACK => (Kind::Puback, reason::PUBACK_PUBREC_V5),
            PUBREC => (Kind::Pubrec, reason::PUBACK_PUBREC_V5),
            PUBREL => (Kind::Pubrel, reason::PUBREL_PUBCOMP_V5),
            _ => (Kind::Pubcomp, reason::PUBREL_PUBCOMP_V5),
        };
        (ack.reason_code, ack.properties) = reason::code_and_properties(i, ctx, kind, valid);
    } else {
        ctx.finish(i);
    }
    Some(ack)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixed_header::PUBCOMP;
    use crate::wire::{Limits, Malformation, Malformations, ProtocolVersion};
    use ProtocolVersion::*;

    fn run(b: &[u8], v: ProtocolVersion, t: u8) -> (Option<Ack>, Malformations) {
        let l = Limits::default();
        let mut c = Ctx::new(v, &l);
        (parse(b, &mut c, t), c.mal)
    }

    #[test]
    fn v311_plain() {
        let (a, mal) = run(&[0x00, 0x07], V3_1_1, PUBACK);
        assert_eq!(a.unwrap().msgid, 7);
        assert!(mal.is_empty());
        let (_, mal) = run(&[0x00, 0x07, 0x00], V3_1_1, PUBACK);
        assert!(mal.contains(Malformation::TrailingBytes));
    }

    #[test]
    fn v5_short_forms() {
        let (a, mal) = run(&[0x00, 0x01], V5, PUBACK);
        let a = a.unwrap();
        assert_eq!((a.reason_code, a.properties.is_none()), (None, true));
        assert!(mal.is_empty());
        // Mosquitto's PUBACK "40 03 00 01 10": no matching subscribers
        let (a, mal) = run(&[0x00, 0x01, 0x10], V5, PUBACK);
        assert_eq!(a.unwrap().reason_code, Some(0x10));
        assert!(mal.is_empty());
    }

    #[test]
    fn v5_with_reason_string() {
        let (a, mal) = run(
            &[0x00, 0x02, 0x92, 0x04, 0x1F, 0x00, 0x01, b'x'],
            V5,
            PUBCOMP,
        );
        let a = a.unwrap();
        assert!(mal.is_empty(), "{mal:?}");
        assert_eq!(a.properties.unwrap().reason_string.as_deref(), Some("x"));
    }

    #[test]
    fn v5_bad_code_for_type() {
        let (_, mal) = run(&[0x00, 0x02, 0x10], V5, PUBREL);
        assert!(mal.contains(Malformation::InvalidReasonCode));
    }

    #[test]
    fn zero_id_and_truncated() {
        let (_, mal) = run(&[0x00, 0x00], V3_1_1, PUBREC);
        assert!(mal.contains(Malformation::MissingMsgId));
        let (a, mal) = run(&[0x01], V3_1_1, PUBREC);
        assert!(a.is_none());
        assert!(mal.contains(Malformation::Truncated));
    }
}
