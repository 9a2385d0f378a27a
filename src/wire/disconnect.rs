//! DISCONNECT: empty before MQTT 5; then an optional reason code and optional properties.

use super::properties::{Kind, Properties};
use super::reader::Ctx;
use super::reason;

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Disconnect {
    /// MQTT 5 only; None when the remaining length is 0 (normal disconnection).
    pub reason_code: Option<u8>,
    pub properties: Option<Box<Properties>>,
}

pub(crate) fn parse(i: &[u8], ctx: &mut Ctx) -> Disconnect {
    let mut d = Disconnect::default();
    if ctx.is_v5() {
        (d.reason_code, d.properties) =
            reason::code_and_properties(i, ctx, Kind::Disconnect, reason::DISCONNECT_V5);
    } else {
        ctx.finish(i);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Limits, Malformation, ProtocolVersion};
    use ProtocolVersion::*;

    #[test]
    fn v311_must_be_empty() {
        let l = Limits::default();
        let mut c = Ctx::new(V3_1_1, &l);
        assert_eq!(parse(&[], &mut c), Disconnect::default());
        assert!(c.mal.is_empty());
        parse(&[0], &mut c);
        assert!(c.mal.contains(Malformation::TrailingBytes));
    }

    #[test]
    fn mosquitto_v5_session_expiry_and_user_property() {
        // e0 1d | 04 1b 11 0000007a 26 ...
        let mut body = vec![0x04, 0x1B, 0x11, 0x00, 0x00, 0x00, 0x7A, 0x26, 0x00, 0x09];
        body.extend_from_slice(b"userprop4\x00\x08userval4");
        let l = Limits::default();
        let mut c = Ctx::new(V5, &l);
        let d = parse(&body, &mut c);
        assert!(c.mal.is_empty(), "{:?}", c.mal);
        assert_eq!(d.reason_code, Some(4));
        let p = d.properties.unwrap();
        assert_eq!(p.session_expiry_interval, Some(122));
        assert_eq!(p.user_properties[0].0, "userprop4");
    }

    #[test]
    fn v5_bad_code_and_trailing() {
        let l = Limits::default();
        let mut c = Ctx::new(V5, &l);
        let d = parse(&[0x01, 0x00, 0xFF], &mut c);
        assert_eq!(d.reason_code, Some(1));
        assert!(c.mal.contains(Malformation::InvalidReasonCode));
        assert!(c.mal.contains(Malformation::TrailingBytes));
    }
}
