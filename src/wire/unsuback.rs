//! UNSUBACK: packet id; MQTT 5 adds properties and one reason code per filter.

use super::malformation::Malformation;
use super::properties::{self, Kind, Properties};
use super::reader::Ctx;
use super::reason;

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Unsuback {
    pub msgid: u16,
    pub properties: Option<Box<Properties>>,
    /// MQTT 5 only (empty before).
    pub reason_codes: Vec<u8>,
}

pub(crate) fn parse(i: &[u8], ctx: &mut Ctx) -> Option<Unsuback> {
    let (i, msgid) = ctx.msgid(i).ok()?;
    let mut u = Unsuback {
        msgid,
        ..Unsuback::default()
    };
    if !ctx.is_v5() {
        ctx.finish(i);
        return Some(u);
    }
    let Ok((i, props)) = properties::parse(i, ctx, Kind::Unsuback) else {
        return Some(u);
    };
    u.properties = Some(props);
    if i.is_empty() {
        ctx.flag(Malformation::NoTopics);
    }
    for &code in i {
        reason::check(ctx, code, reason::UNSUBACK_V5);
    }
    u.reason_codes = i.to_vec();
    Some(u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Limits, Malformations, ProtocolVersion};
    use ProtocolVersion::*;

    fn run(b: &[u8], v: ProtocolVersion) -> (Option<Unsuback>, Malformations) {
        let l = Limits::default();
        let mut c = Ctx::new(v, &l);
        (parse(b, &mut c), c.mal)
    }

    #[test]
    fn v311() {
        let (u, mal) = run(&[0x00, 0x02], V3_1_1);
        assert_eq!(u.unwrap().msgid, 2);
        assert!(mal.is_empty());
        let (_, mal) = run(&[0x00, 0x02, 0x00], V3_1_1);
        assert!(mal.contains(Malformation::TrailingBytes));
    }

    #[test]
    fn v5() {
        let (u, mal) = run(&[0x00, 0x02, 0x00, 0x11, 0x00], V5);
        assert_eq!(u.unwrap().reason_codes, vec![0x11, 0x00]);
        assert!(mal.is_empty());
        let (_, mal) = run(&[0x00, 0x02, 0x00], V5);
        assert!(mal.contains(Malformation::NoTopics));
        let (_, mal) = run(&[0x00, 0x02, 0x00, 0x02], V5);
        assert!(mal.contains(Malformation::InvalidReasonCode));
    }
}
