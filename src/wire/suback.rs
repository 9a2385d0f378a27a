//! SUBACK: packet id, MQTT 5 properties, one return/reason code per requested filter.

use super::malformation::Malformation;
use super::properties::{self, Kind, Properties};
use super::reader::Ctx;
use super::reason;

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Suback {
    pub msgid: u16,
    pub properties: Option<Box<Properties>>,
    /// Granted QoS (0-2) or failure (0x80, or an MQTT 5 reason code), one per filter.
    pub return_codes: Vec<u8>,
}

pub(crate) fn parse(i: &[u8], ctx: &mut Ctx) -> Option<Suback> {
    let (mut i, msgid) = ctx.msgid(i).ok()?;
    let mut s = Suback {
        msgid,
        ..Suback::default()
    };
    let valid = if ctx.is_v5() {
        let Ok((rest, props)) = properties::parse(i, ctx, Kind::Suback) else {
            return Some(s);
        };
        s.properties = Some(props);
        i = rest;
        reason::SUBACK_V5
    } else {
        reason::SUBACK_V3
    };
    if i.is_empty() {
        ctx.flag(Malformation::NoTopics);
    }
    for &code in i {
        reason::check(ctx, code, valid);
    }
    s.return_codes = i.to_vec();
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Limits, Malformations, ProtocolVersion};
    use ProtocolVersion::*;

    fn run(b: &[u8], v: ProtocolVersion) -> (Option<Suback>, Malformations) {
        let l = Limits::default();
        let mut c = Ctx::new(v, &l);
        (parse(b, &mut c), c.mal)
    }

    #[test]
    fn v311_codes() {
        let (s, mal) = run(&[0x00, 0x01, 0x00, 0x02, 0x80], V3_1_1);
        assert_eq!(s.unwrap().return_codes, vec![0, 2, 0x80]);
        assert!(mal.is_empty());
        let (_, mal) = run(&[0x00, 0x01, 0x87], V3_1_1);
        assert!(mal.contains(Malformation::InvalidReasonCode));
    }

    #[test]
    fn mosquitto_v5() {
        // 90 05 | 00 01 00 00 00
        let (s, mal) = run(&[0x00, 0x01, 0x00, 0x00, 0x00], V5);
        let s = s.unwrap();
        assert!(mal.is_empty());
        assert_eq!(s.return_codes, vec![0, 0]);
        let (_, mal) = run(&[0x00, 0x01, 0x00, 0x87], V5);
        assert!(mal.is_empty());
    }

    #[test]
    fn empty() {
        let (_, mal) = run(&[0x00, 0x01], V3_1_1);
        assert!(mal.contains(Malformation::NoTopics));
    }
}
