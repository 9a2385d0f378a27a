//! UNSUBSCRIBE: packet id, MQTT 5 properties, then topic filters.

use super::malformation::Malformation;
use super::properties::{self, Kind, Properties};
use super::reader::Ctx;
use super::strings::{self, Str};

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Unsubscribe {
    pub msgid: u16,
    pub properties: Option<Box<Properties>>,
    pub topics: Vec<Str>,
}

pub(crate) fn parse(i: &[u8], ctx: &mut Ctx) -> Option<Unsubscribe> {
    let (mut i, msgid) = ctx.msgid(i).ok()?;
    let mut u = Unsubscribe {
        msgid,
        ..Unsubscribe::default()
    };
    if ctx.is_v5() {
        let Ok((rest, props)) = properties::parse(i, ctx, Kind::Unsubscribe) else {
            return Some(u);
        };
        u.properties = Some(props);
        i = rest;
    }
    if i.is_empty() {
        ctx.flag(Malformation::NoTopics);
    }
    // Each entry consumes at least 2 bytes: input-bounded.
    while !i.is_empty() {
        let Ok((rest, topic)) = strings::string(i, ctx) else {
            break;
        };
        if topic.len == 0 {
            ctx.flag(Malformation::EmptyTopic);
        }
        u.topics.push(topic);
        i = rest;
    }
    Some(u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Limits, Malformations, ProtocolVersion};
    use ProtocolVersion::*;

    fn run(b: &[u8], v: ProtocolVersion) -> (Option<Unsubscribe>, Malformations) {
        let l = Limits::default();
        let mut c = Ctx::new(v, &l);
        (parse(b, &mut c), c.mal)
    }

    #[test]
    fn v311_and_v5() {
        let (u, mal) = run(b"\x00\x02\x00\x06topicX", V3_1_1);
        assert_eq!(u.unwrap().topics[0].value, "topicX");
        assert!(mal.is_empty());
        let (u, mal) = run(b"\x00\x02\x00\x00\x01a\x00\x01b", V5);
        assert_eq!(u.unwrap().topics.len(), 2);
        assert!(mal.is_empty());
    }

    #[test]
    fn empty_and_truncated() {
        let (_, mal) = run(b"\x00\x02", V3_1_1);
        assert!(mal.contains(Malformation::NoTopics));
        let (_, mal) = run(b"\x00\x02\x00\x00", V3_1_1);
        assert!(mal.contains(Malformation::EmptyTopic));
        let (u, mal) = run(b"\x00\x02\x00\x03ab", V3_1_1);
        assert!(u.unwrap().topics.is_empty());
        assert!(mal.contains(Malformation::Truncated));
    }
}
