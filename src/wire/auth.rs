//! AUTH (MQTT 5): optional reason code and optional properties, like DISCONNECT.

use super::properties::{Kind, Properties};
use super::reader::Ctx;
use super::reason;

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Auth {
    /// None when the remaining length is 0 (success).
    pub reason_code: Option<u8>,
    pub properties: Option<Box<Properties>>,
}

/// Always uses the MQTT 5 layout: AUTH does not exist before it, and on an Unknown
/// connection it is only decoded because it may be a midstream MQTT 5 flow.
pub(crate) fn parse(i: &[u8], ctx: &mut Ctx) -> Auth {
    let mut a = Auth::default();
    (a.reason_code, a.properties) =
        reason::code_and_properties(i, ctx, Kind::Auth, reason::AUTH_V5);
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Limits, Malformation, ProtocolVersion};

    #[test]
    fn continue_authentication() {
        let l = Limits::default();
        let mut c = Ctx::new(ProtocolVersion::V5, &l);
        let body = [
            0x18, 0x0A, 0x15, 0x00, 0x03, b'S', b'C', b'R', 0x16, 0x00, 0x01, 0xAB,
        ];
        let a = parse(&body, &mut c);
        assert!(c.mal.is_empty(), "{:?}", c.mal);
        assert_eq!(a.reason_code, Some(0x18));
        let p = a.properties.unwrap();
        assert_eq!(p.authentication_method.as_deref(), Some("SCR"));
        assert_eq!(p.authentication_data_len, Some(1));
    }

    #[test]
    fn misplaced_property_and_bad_code() {
        let l = Limits::default();
        let mut c = Ctx::new(ProtocolVersion::V5, &l);
        parse(&[0x05, 0x02, 0x23, 0x00], &mut c);
        assert!(c.mal.contains(Malformation::InvalidReasonCode));
        assert!(c.mal.contains(Malformation::Truncated));
        assert!(c.mal.contains(Malformation::InvalidProperty));
    }
}
