//! SUBSCRIBE: packet id, MQTT 5 properties, then (topic filter, options) pairs.

use super::malformation::Malformation;
use super::properties::{self, Kind, Properties};
use super::reader::Ctx;
use super::strings::{self, Str};

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Subscribe {
    pub msgid: u16,
    pub properties: Option<Box<Properties>>,
    pub topics: Vec<SubscribeTopic>,
}

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct SubscribeTopic {
    pub topic: Str,
    /// Whole options byte (3.x: requested QoS only; 5: QoS, no-local, retain-as-published,
    /// retain handling).
    pub options: u8,
}

impl SubscribeTopic {
    pub fn qos(&self) -> u8 {
        self.options & 3
    }
}

pub(crate) fn parse(i: &[u8], ctx: &mut Ctx) -> Option<Subscribe> {
    let (mut i, msgid) = ctx.msgid(i).ok()?;
    let mut s = Subscribe {
        msgid,
        ..Subscribe::default()
    };
    if ctx.is_v5() {
        let Ok((rest, props)) = properties::parse(i, ctx, Kind::Subscribe) else {
            return Some(s);
        };
        s.properties = Some(props);
        i = rest;
    }
    if i.is_empty() {
        ctx.flag(Malformation::NoTopics);
    }
    // Every entry consumes at least 3 bytes, so this loop and the Vec are input-bounded.
    while !i.is_empty() {
        let Ok((rest, topic)) = strings::string(i, ctx) else {
            break;
        };
        let Ok((rest, options)) = ctx.u8(rest) else {
            break;
        };
        if topic.len == 0 {
            ctx.flag(Malformation::EmptyTopic);
        }
        check_options(options, ctx);
        s.topics.push(SubscribeTopic { topic, options });
        i = rest;
    }
    Some(s)
}

fn check_options(options: u8, ctx: &mut Ctx) {
    if options & 3 == 3 {
        ctx.flag(Malformation::InvalidQos);
    }
    let bad = if ctx.is_v5() {
        // bits 6-7 reserved; retain handling (bits 4-5) has no value 3
        options & 0xC0 != 0 || (options >> 4) & 3 == 3
    } else {
        options & 0xFC != 0
    };
    if bad {
        ctx.flag(Malformation::InvalidSubscribeOptions);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Limits, Malformations, ProtocolVersion};
    use ProtocolVersion::*;

    fn run(b: &[u8], v: ProtocolVersion) -> (Option<Subscribe>, Malformations) {
        let l = Limits::default();
        let mut c = Ctx::new(v, &l);
        (parse(b, &mut c), c.mal)
    }

    /// tests/reference/quirks.py names this test: Wireshark 4.0.17 shows a 3.1.1 options byte of
    /// 0x44 as QoS 68; the QoS is its low two bits, the rest reserved (and flagged).
    #[test]
    fn tshark_quirk_qos_is_the_low_two_bits_of_the_options() {
        let body = b"\x00\x03\x00\x06home/#\x44";
        let (s, mal) = run(body, V3_1_1);
        let t = &s.unwrap().topics[0];
        assert_eq!(t.options, 0x44);
        assert_eq!(t.qos(), 0);
        assert!(
            mal.contains(Malformation::InvalidSubscribeOptions),
            "{mal:?}"
        );
        // ns-home/malformed-a.pcap frame 2982: a well-formed entry, then one whose length was cut
        // so that its options byte is a topic character ('t', 0x74: tshark shows QoS 116), then
        // a length running past the end (the 35-byte body as captured).
        let body = b"\x00\xad\x00\x11home/kitchen/plug\x01\x00\x07alarm/st/de";
        let (s, mal) = run(body, V3_1_1);
        let s = s.unwrap();
        let got: Vec<(&str, u8, u8)> = s
            .topics
            .iter()
            .map(|t| (t.topic.value.as_str(), t.options, t.qos()))
            .collect();
        assert_eq!(got, vec![("home/kitchen/plug", 1, 1), ("alarm/s", 0x74, 0)]);
        assert!(mal.contains(Malformation::InvalidSubscribeOptions));
        assert!(mal.contains(Malformation::Truncated));
    }

    #[test]
    fn mosquitto_v5_two_topics() {
        // 82 15 | 00 01 00 | 00 06 "topicX" 00 | 00 06 "topicY" 00
        let body = b"\x00\x01\x00\x00\x06topicX\x00\x00\x06topicY\x00";
        let (s, mal) = run(body, V5);
        let s = s.unwrap();
        assert!(mal.is_empty());
        assert_eq!(s.msgid, 1);
        assert_eq!(s.properties.unwrap().property_len, 0);
        assert_eq!(s.topics.len(), 2);
        assert_eq!(s.topics[1].topic.value, "topicY");
    }

    #[test]
    fn v311_qos_and_options() {
        let (s, mal) = run(b"\x00\x0a\x00\x03a/#\x01", V3_1_1);
        assert_eq!(s.unwrap().topics[0].qos(), 1);
        assert!(mal.is_empty());
        let (_, mal) = run(b"\x00\x0a\x00\x01a\x07", V3_1_1);
        assert!(mal.contains(Malformation::InvalidQos));
        assert!(mal.contains(Malformation::InvalidSubscribeOptions));
        let (_, mal) = run(b"\x00\x0a\x00\x00\x00\x2c", V5);
        assert!(!mal.contains(Malformation::InvalidSubscribeOptions));
        assert!(mal.contains(Malformation::EmptyTopic));
        let (_, mal) = run(b"\x00\x0a\x00\x00\x01a\x30", V5);
        assert!(mal.contains(Malformation::InvalidSubscribeOptions));
    }

    #[test]
    fn no_topics_and_truncated_entry() {
        let (s, mal) = run(b"\x00\x01", V3_1_1);
        assert!(s.unwrap().topics.is_empty());
        assert!(mal.contains(Malformation::NoTopics));
        let (s, mal) = run(b"\x00\x01\x00\x01a\x00\x00\x05ab", V3_1_1);
        assert_eq!(s.unwrap().topics.len(), 1);
        assert!(mal.contains(Malformation::Truncated));
        assert!(!mal.contains(Malformation::NoTopics));
    }
}
