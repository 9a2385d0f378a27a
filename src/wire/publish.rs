//! PUBLISH: topic name, packet id (QoS > 0), MQTT 5 properties, payload (copied up to the
//! capture limit).

use super::malformation::Malformation;
use super::properties::{self, Kind, Properties};
use super::reader::Ctx;
use super::strings::{self, Str};
use super::FixedHeader;

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Publish {
    pub topic: Str,
    /// Present for QoS 1 and 2 (and the invalid QoS 3, which is read as if it had one).
    pub msgid: Option<u16>,
    pub properties: Option<Box<Properties>>,
    /// Full payload length on the wire.
    pub payload_len: usize,
    /// First `min(payload_len, max_payload_capture)` bytes.
    pub payload: Vec<u8>,
}

/// Topic-name rules shared with the CONNECT will topic. An empty name is legal only when a
/// MQTT 5 topic alias stands in for it.
pub(crate) fn check_topic_name(topic: &Str, has_alias: bool, ctx: &mut Ctx) {
    if topic.value.is_empty() && !has_alias {
        ctx.flag(Malformation::EmptyTopic);
    }
    if topic.value.contains(['+', '#']) {
        ctx.flag(Malformation::WildcardInTopic);
    }
}

pub(crate) fn parse(i: &[u8], ctx: &mut Ctx, header: &FixedHeader) -> Option<Publish> {
    let (i, topic) = strings::string(i, ctx).ok()?;
    let (i, msgid) = if header.qos > 0 {
        let (i, id) = ctx.msgid(i).ok()?;
        (i, Some(id))
    } else {
        (i, None)
    };
    let mut p = Publish {
        topic,
        msgid,
        ..Publish::default()
    };
    let mut i = i;
    if ctx.is_v5() {
        match properties::parse(i, ctx, Kind::Publish) {
            Ok((rest, props)) => {
                i = rest;
                p.properties = Some(props);
            }
            // Where the payload starts is unknown; report none rather than a guess.
            Err(_) => i = &[],
        }
    }
    let has_alias = p
        .properties
        .as_ref()
        .is_some_and(|x| x.topic_alias.is_some());
    check_topic_name(&p.topic, has_alias, ctx);
    p.payload_len = i.len();
    p.payload = i
        .get(..ctx.limits.max_payload_capture)
        .unwrap_or(i)
        .to_vec();
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixed_header::{read, HeaderRead};
    use crate::wire::{Limits, Malformations, ProtocolVersion};
    use ProtocolVersion::*;

    /// Split a whole message into header and body and parse the body.
    fn run(msg: &[u8], v: ProtocolVersion, l: &Limits) -> (Option<Publish>, Malformations) {
        let HeaderRead::Ok { header, .. } = read(msg) else {
            panic!("test header")
        };
        let mut c = Ctx::new(v, l);
        let body = &msg[usize::from(header.header_len)..];
        (parse(body, &mut c, &header), c.mal)
    }

    #[test]
    fn mosquitto_v311_qos0() {
        // 30 18 | 00 06 "topicX" "baabaablacksheep"
        let msg = b"\x30\x18\x00\x06topicXbaabaablacksheep";
        let (p, mal) = run(msg, V3_1_1, &Limits::default());
        let p = p.unwrap();
        assert!(mal.is_empty());
        assert_eq!(p.topic.value, "topicX");
        assert_eq!(p.msgid, None);
        assert_eq!(p.payload_len, 16);
        assert_eq!(p.payload, b"baabaablacksheep");
    }

    #[test]
    fn mosquitto_v5_qos1_with_properties() {
        let mut msg = vec![0x32, 0x5E, 0x00, 0x06];
        msg.extend_from_slice(b"topicX");
        msg.extend_from_slice(&[0x00, 0x01, 0x43]);
        msg.extend_from_slice(b"\x03\x00\x06mytype\x09\x00\x0512345\x02\x00\x00\x00\x4d\x01\x58");
        msg.extend_from_slice(b"\x08\x00\x0fresponse_topic1\x23\x00\x05");
        msg.extend_from_slice(b"\x26\x00\x09userprop3\x00\x08userval3baabaablacksheep");
        let (p, mal) = run(&msg, V5, &Limits::default());
        let p = p.unwrap();
        // payload format indicator 0x58 is really in the capture
        assert_eq!(
            mal.iter().collect::<Vec<_>>(),
            vec![Malformation::InvalidProperty]
        );
        assert_eq!(p.msgid, Some(1));
        let props = p.properties.unwrap();
        assert_eq!(props.property_len, 0x43);
        assert_eq!(props.topic_alias, Some(5));
        assert_eq!(props.content_type.as_deref(), Some("mytype"));
        assert_eq!(p.payload, b"baabaablacksheep");
    }

    #[test]
    fn payload_capped() {
        let l = Limits {
            max_payload_capture: 3,
            ..Limits::default()
        };
        let (p, _) = run(b"\x30\x08\x00\x01tabcde", V3_1_1, &l);
        let p = p.unwrap();
        assert_eq!((p.payload_len, p.payload.as_slice()), (5, &b"abc"[..]));
    }

    #[test]
    fn empty_topic_and_wildcards() {
        let (_, mal) = run(b"\x30\x02\x00\x00", V3_1_1, &Limits::default());
        assert!(mal.contains(Malformation::EmptyTopic));
        let (_, mal) = run(b"\x30\x04\x00\x02a#", V3_1_1, &Limits::default());
        assert!(mal.contains(Malformation::WildcardInTopic));
        // empty topic with alias is fine in v5
        let (_, mal) = run(b"\x30\x06\x00\x00\x03\x23\x00\x01", V5, &Limits::default());
        assert!(mal.is_empty(), "{mal:?}");
    }

    #[test]
    fn msgid_zero_and_truncation() {
        let (p, mal) = run(b"\x32\x05\x00\x01t\x00\x00", V3_1_1, &Limits::default());
        assert_eq!(p.unwrap().msgid, Some(0));
        assert!(mal.contains(Malformation::MissingMsgId));
        let (p, mal) = run(b"\x32\x04\x00\x01t\x00", V3_1_1, &Limits::default());
        assert!(p.is_none());
        assert!(mal.contains(Malformation::Truncated));
    }

    #[test]
    fn oversized_properties() {
        let (p, mal) = run(b"\x30\x06\x00\x01t\x7f\x01\x00", V5, &Limits::default());
        assert!(mal.contains(Malformation::OversizedProperties));
        assert_eq!(p.unwrap().payload_len, 0);
    }
}
