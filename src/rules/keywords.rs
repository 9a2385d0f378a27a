//! The mqtt-ml equivalents of Suricata 8's 17 MQTT keywords: their names, argument parsing and
//! what each one reads from a parsed message. Pure; `src/suricata/` registers them.
//!
//! Semantics follow Suricata's `rust/src/mqtt/detect.rs` with these deliberate differences
//! (docs/rules.md lists them for users):
//! - one message per transaction, where Suricata pairs a request with its response: a keyword
//!   looks at the message it is evaluated on only;
//! - `connect.flags`: `will` is the will flag (0x04) and `will_retain` the will-retain flag (0x20)
//!   as the MQTT specification and Suricata's documentation say (Suricata 8.0.7 tests them the
//!   other way round);
//! - `connack.session_present` takes `yes`, `true`, `no`, `false` (also `1`, `0`);
//! - a MQTT 5 DISCONNECT carrying only a reason code reports that code (Suricata 8.0.7: 0).

use super::uint::U8Cmp;
use crate::wire::{Body, Message, ProtocolVersion};

/// Keywords that match a value of the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntKeyword {
    Type,
    Flags,
    Qos,
    ReasonCode,
    SessionPresent,
    ProtocolVersion,
    ConnectFlags,
}

/// Sticky buffers: one value per message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Buffer {
    ConnectClientid,
    ConnectUsername,
    ConnectPassword,
    ConnectProtocolString,
    ConnectWilltopic,
    ConnectWillmessage,
    PublishTopic,
    PublishMessage,
}

/// Multi-buffers: any number of values per message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MultiBuffer {
    SubscribeTopic,
    UnsubscribeTopic,
}

/// Which direction Suricata inspects a keyword in (its list registration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inspect {
    ToServer,
    ToClient,
    Both,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int(IntKeyword),
    Buffer(Buffer),
    Multi(MultiBuffer),
}

/// One keyword: Suricata's name, ours, what it is and where Suricata inspects it.
#[derive(Clone, Copy, Debug)]
pub struct Keyword {
    pub suricata: &'static str,
    pub name: &'static str,
    pub kind: Kind,
    pub inspect: Inspect,
    pub desc: &'static str,
}

const fn kw(
    suricata: &'static str,
    name: &'static str,
    kind: Kind,
    inspect: Inspect,
    desc: &'static str,
) -> Keyword {
    Keyword {
        suricata,
        name,
        kind,
        inspect,
        desc,
    }
}

use Inspect::{Both, ToClient, ToServer};

/// The 17 keywords, in the order of Suricata's documentation.
pub const KEYWORDS: [Keyword; 17] = [
    kw(
        "mqtt.protocol_version",
        "mqtt_ml.protocol_version",
        Kind::Int(IntKeyword::ProtocolVersion),
        ToServer,
        "MQTT protocol version of the connection (3, 4, 5)",
    ),
    kw(
        "mqtt.type",
        "mqtt_ml.type",
        Kind::Int(IntKeyword::Type),
        Both,
        "MQTT control packet type (number or name, e.g. CONNECT)",
    ),
    kw(
        "mqtt.flags",
        "mqtt_ml.flags",
        Kind::Int(IntKeyword::Flags),
        ToServer,
        "MQTT fixed header flags (dup, retain, or a number)",
    ),
    kw(
        "mqtt.qos",
        "mqtt_ml.qos",
        Kind::Int(IntKeyword::Qos),
        ToServer,
        "MQTT fixed header QoS (0-2); a comparison compares the PUBLISH QoS",
    ),
    kw(
        "mqtt.reason_code",
        "mqtt_ml.reason_code",
        Kind::Int(IntKeyword::ReasonCode),
        Both,
        "MQTT reason/return code (CONNACK, acks, DISCONNECT, AUTH, SUBACK, UNSUBACK)",
    ),
    kw(
        "mqtt.connack.session_present",
        "mqtt_ml.connack.session_present",
        Kind::Int(IntKeyword::SessionPresent),
        ToClient,
        "MQTT CONNACK session present flag (yes, true, no, false)",
    ),
    kw(
        "mqtt.connect.clientid",
        "mqtt_ml.connect.clientid",
        Kind::Buffer(Buffer::ConnectClientid),
        ToServer,
        "sticky buffer: MQTT CONNECT client id",
    ),
    kw(
        "mqtt.connect.flags",
        "mqtt_ml.connect.flags",
        Kind::Int(IntKeyword::ConnectFlags),
        ToServer,
        "MQTT CONNECT flags (username, password, will, will_retain, clean_session, or a number)",
    ),
    kw(
        "mqtt.connect.password",
        "mqtt_ml.connect.password",
        Kind::Buffer(Buffer::ConnectPassword),
        ToServer,
        "sticky buffer: MQTT CONNECT password",
    ),
    kw(
        "mqtt.connect.protocol_string",
        "mqtt_ml.connect.protocol_string",
        Kind::Buffer(Buffer::ConnectProtocolString),
        ToServer,
        "sticky buffer: MQTT CONNECT protocol name",
    ),
    kw(
        "mqtt.connect.username",
        "mqtt_ml.connect.username",
        Kind::Buffer(Buffer::ConnectUsername),
        ToServer,
        "sticky buffer: MQTT CONNECT user name",
    ),
    kw(
        "mqtt.connect.willmessage",
        "mqtt_ml.connect.willmessage",
        Kind::Buffer(Buffer::ConnectWillmessage),
        ToServer,
        "sticky buffer: MQTT CONNECT will message",
    ),
    kw(
        "mqtt.connect.willtopic",
        "mqtt_ml.connect.willtopic",
        Kind::Buffer(Buffer::ConnectWilltopic),
        ToServer,
        "sticky buffer: MQTT CONNECT will topic",
    ),
    kw(
        "mqtt.publish.message",
        "mqtt_ml.publish.message",
        Kind::Buffer(Buffer::PublishMessage),
        Both,
        "sticky buffer: MQTT PUBLISH payload",
    ),
    kw(
        "mqtt.publish.topic",
        "mqtt_ml.publish.topic",
        Kind::Buffer(Buffer::PublishTopic),
        Both,
        "sticky buffer: MQTT PUBLISH topic",
    ),
    kw(
        "mqtt.subscribe.topic",
        "mqtt_ml.subscribe.topic",
        Kind::Multi(MultiBuffer::SubscribeTopic),
        ToServer,
        "multi-buffer: MQTT SUBSCRIBE topics",
    ),
    kw(
        "mqtt.unsubscribe.topic",
        "mqtt_ml.unsubscribe.topic",
        Kind::Multi(MultiBuffer::UnsubscribeTopic),
        ToServer,
        "multi-buffer: MQTT UNSUBSCRIBE topics",
    ),
];

/// The keyword Suricata calls `name` (its documented alias `mqtt.connack.return_code` included).
pub fn by_suricata_name(name: &str) -> Option<&'static Keyword> {
    let name = match name {
        "mqtt.connack.return_code" => "mqtt.reason_code",
        n => n,
    };
    KEYWORDS.iter().find(|k| k.suricata == name)
}

/// The keyword named `name` (mqtt-ml's name).
pub fn by_name(name: &str) -> Option<&'static Keyword> {
    KEYWORDS.iter().find(|k| k.name == name)
}

/// Most topics of one SUBSCRIBE or UNSUBSCRIBE inspected by the multi-buffers (Suricata's
/// `subscribe-topic-match-limit` default), so a message with thousands of topics costs a bounded
/// amount of detection work.
pub const TOPIC_MATCH_LIMIT: usize = 100;

/// Message type names as Suricata's rules spell them (any case); 0 is `UNASSIGNED`.
const TYPE_NAMES: [&str; 16] = [
    "unassigned",
    "connect",
    "connack",
    "publish",
    "puback",
    "pubrec",
    "pubrel",
    "pubcomp",
    "subscribe",
    "suback",
    "unsubscribe",
    "unsuback",
    "pingreq",
    "pingresp",
    "disconnect",
    "auth",
];

/// A keyword's parsed argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntArg {
    Cmp(U8Cmp),
    Bool(bool),
}

/// Parses `arg` for `kw`, or says what is wrong with it.
///
/// `mqtt_ml.qos` is not parsed here: it takes Suricata's `0`, `1`, `2` (see [`suricata_qos`])
/// or the float comparison of the mqtt-ml fact keyword, which the glue parses.
pub fn parse_int_arg(kw: IntKeyword, arg: &str) -> Result<IntArg, String> {
    let cmp = match kw {
        IntKeyword::Type => parse_type(arg),
        IntKeyword::Flags => parse_flag_list(arg, &FIXED_FLAGS),
        IntKeyword::ConnectFlags => parse_flag_list(arg, &CONNECT_FLAGS),
        IntKeyword::ReasonCode | IntKeyword::ProtocolVersion => U8Cmp::parse(arg),
        IntKeyword::Qos => suricata_qos(arg).map(U8Cmp::Eq),
        IntKeyword::SessionPresent => {
            return parse_bool(arg).map(IntArg::Bool).ok_or_else(|| {
                format!("invalid value '{}'; use yes, true, no or false", arg.trim())
            })
        }
    };
    cmp.map(IntArg::Cmp).ok_or_else(|| {
        let hint = match kw {
            IntKeyword::Type => "a type name (CONNECT, PUBLISH, ...) or a number comparison",
            IntKeyword::Flags => "dup, retain (! negates), comma separated, or a number comparison",
            IntKeyword::ConnectFlags => {
                "username, password, will, will_retain, clean_session (! negates), or a number comparison"
            }
            IntKeyword::Qos => "0, 1 or 2",
            _ => "a number comparison such as 5, >3, 1-5",
        };
        format!("invalid value '{}'; use {hint}", arg.trim())
    })
}

/// `mqtt.qos`'s argument: a whole number 0 to 2 (spaces around allowed), as Suricata reads it.
pub fn suricata_qos(arg: &str) -> Option<u8> {
    arg.trim().parse::<u8>().ok().filter(|q| *q <= 2)
}

fn parse_type(arg: &str) -> Option<U8Cmp> {
    if let Some(c) = U8Cmp::parse(arg) {
        return Some(c);
    }
    let (neg, name) = match arg.strip_prefix('!') {
        Some(n) => (true, n),
        None => (false, arg),
    };
    let n = TYPE_NAMES
        .iter()
        .position(|t| t.eq_ignore_ascii_case(name))? as u8;
    Some(if neg { U8Cmp::Ne(n) } else { U8Cmp::Eq(n) })
}

fn parse_bool(arg: &str) -> Option<bool> {
    match arg.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => Some(true),
        "no" | "false" | "0" => Some(false),
        _ => None,
    }
}

const FIXED_FLAGS: [(&str, u8); 2] = [("dup", 0x08), ("retain", 0x01)];
const CONNECT_FLAGS: [(&str, u8); 5] = [
    ("username", 0x80),
    ("password", 0x40),
    // Longer name first: `will_retain` starts with `will`.
    ("will_retain", 0x20),
    ("will", 0x04),
    ("clean_session", 0x02),
];

/// A number comparison, or flag names (`!` negates) separated by commas or spaces: each named
/// flag must be set, each negated one clear, the others don't matter.
fn parse_flag_list(arg: &str, names: &[(&str, u8)]) -> Option<U8Cmp> {
    if let Some(c) = U8Cmp::parse(arg) {
        return Some(c);
    }
    let (mut mask, mut want) = (0u8, 0u8);
    let mut s = arg;
    let mut any = false;
    loop {
        s = s.trim_start_matches(' ');
        if s.is_empty() {
            break;
        }
        let (neg, rest) = match s.strip_prefix('!') {
            Some(r) => (true, r),
            None => (false, s),
        };
        let (name, bit) = names.iter().find(|(n, _)| rest.starts_with(n))?;
        if mask & bit != 0 {
            return None; // repeated flag
        }
        mask |= bit;
        if !neg {
            want |= bit;
        }
        any = true;
        s = rest[name.len()..].trim_start_matches([' ', ',']);
    }
    any.then_some(U8Cmp::Mask { mask, want })
}

/// Protocol level of the connection as Suricata's `mqtt.protocol_version` reads it: 3, 4, 5,
/// or 0 before a (valid) CONNECT.
pub fn protocol_level(m: &Message) -> u8 {
    match m.version {
        ProtocolVersion::Unknown => 0,
        ProtocolVersion::V3_1 => 3,
        ProtocolVersion::V3_1_1 => 4,
        ProtocolVersion::V5 => 5,
    }
}

/// Reason or return codes a message carries, as `mqtt.reason_code` sees them: a MQTT 5 ack,
/// DISCONNECT or AUTH that omits its code means 0 (success).
pub fn reason_codes(m: &Message) -> Vec<u8> {
    let v5 = m.version == ProtocolVersion::V5;
    match &m.body {
        Body::Connack(c) => vec![c.return_code],
        Body::Puback(a) | Body::Pubrec(a) | Body::Pubrel(a) | Body::Pubcomp(a) if v5 => {
            vec![a.reason_code.unwrap_or(0)]
        }
        Body::Disconnect(d) if v5 => vec![d.reason_code.unwrap_or(0)],
        Body::Auth(a) => vec![a.reason_code.unwrap_or(0)],
        Body::Suback(s) => s.return_codes.clone(),
        Body::Unsuback(u) => u.reason_codes.clone(),
        _ => Vec::new(),
    }
}

/// Does `m` satisfy `kw` with `arg`? Direction is the glue's business (see [`Keyword::inspect`]).
pub fn int_matches(kw: IntKeyword, arg: IntArg, m: &Message) -> bool {
    match (kw, arg) {
        (IntKeyword::SessionPresent, IntArg::Bool(b)) => {
            matches!(&m.body, Body::Connack(c) if c.session_present == b)
        }
        (IntKeyword::ReasonCode, IntArg::Cmp(c)) => {
            reason_codes(m).into_iter().any(|v| c.matches(v))
        }
        (IntKeyword::ConnectFlags, IntArg::Cmp(c)) => {
            matches!(&m.body, Body::Connect(x) if x.conflags.is_some_and(|f| c.matches(f)))
        }
        (kw, IntArg::Cmp(c)) => {
            let h = &m.header;
            let v = match kw {
                IntKeyword::Type => h.msg_type,
                IntKeyword::Flags => u8::from(h.retain) | (u8::from(h.dup) << 3),
                IntKeyword::Qos => h.qos,
                IntKeyword::ProtocolVersion => protocol_level(m),
                _ => return false,
            };
            c.matches(v)
        }
        _ => false,
    }
}

/// A sticky buffer's bytes in `m`; None when the message has no such field or it is empty
/// (Suricata then does not inspect the buffer either).
pub fn buffer(b: Buffer, m: &Message) -> Option<&[u8]> {
    let data: &[u8] = match (&m.body, b) {
        (Body::Connect(c), Buffer::ConnectClientid) => c.client_id.as_ref()?.value.as_bytes(),
        (Body::Connect(c), Buffer::ConnectUsername) => c.username.as_ref()?.value.as_bytes(),
        (Body::Connect(c), Buffer::ConnectPassword) => &c.password.as_ref()?.data,
        (Body::Connect(c), Buffer::ConnectProtocolString) => c.protoname.as_bytes(),
        (Body::Connect(c), Buffer::ConnectWilltopic) => c.will_topic.as_ref()?.value.as_bytes(),
        (Body::Connect(c), Buffer::ConnectWillmessage) => &c.will_msg.as_ref()?.data,
        (Body::Publish(p), Buffer::PublishTopic) => p.topic.value.as_bytes(),
        (Body::Publish(p), Buffer::PublishMessage) => &p.payload,
        _ => return None,
    };
    (!data.is_empty()).then_some(data)
}

/// Topic `i` of a SUBSCRIBE or UNSUBSCRIBE, within [`TOPIC_MATCH_LIMIT`].
pub fn multi_buffer(b: MultiBuffer, m: &Message, i: usize) -> Option<&[u8]> {
    if i >= TOPIC_MATCH_LIMIT {
        return None;
    }
    match (&m.body, b) {
        (Body::Subscribe(s), MultiBuffer::SubscribeTopic) => {
            Some(s.topics.get(i)?.topic.value.as_bytes())
        }
        (Body::Unsubscribe(u), MultiBuffer::UnsubscribeTopic) => {
            Some(u.topics.get(i)?.value.as_bytes())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{self, Limits, Parsed};

    fn parse(bytes: &[u8], v: ProtocolVersion) -> Message {
        match wire::parse_message(bytes, v, &Limits::default()) {
            Parsed::Message { msg, .. } => msg,
            other => panic!("{other:?}"),
        }
    }

    fn cmp(kw: IntKeyword, arg: &str) -> IntArg {
        parse_int_arg(kw, arg).unwrap()
    }

    // CONNECT, MQTT 3.1.1, flags 0xc6 (username, password, will, clean session), client id "c1",
    // will topic "wt", will message "wm", user "u", password "p".
    const CONNECT: &[u8] =
        b"\x10\x1c\x00\x04MQTT\x04\xc6\x00\x3c\x00\x02c1\x00\x02wt\x00\x02wm\x00\x01u\x00\x01p";

    #[test]
    fn seventeen_keywords_named_after_suricata() {
        assert_eq!(KEYWORDS.len(), 17);
        for k in KEYWORDS {
            assert_eq!(k.name, k.suricata.replacen("mqtt.", "mqtt_ml.", 1));
            assert_eq!(by_name(k.name).unwrap().suricata, k.suricata);
        }
        assert_eq!(
            by_suricata_name("mqtt.connack.return_code").unwrap().name,
            "mqtt_ml.reason_code"
        );
        assert!(by_suricata_name("mqtt.CONNACK").is_none());
    }

    #[test]
    fn type_names_and_numbers() {
        assert_eq!(cmp(IntKeyword::Type, "CONNECT"), IntArg::Cmp(U8Cmp::Eq(1)));
        assert_eq!(cmp(IntKeyword::Type, "auth"), IntArg::Cmp(U8Cmp::Eq(15)));
        assert_eq!(
            cmp(IntKeyword::Type, "UNASSIGNED"),
            IntArg::Cmp(U8Cmp::Eq(0))
        );
        assert_eq!(cmp(IntKeyword::Type, "!PUBLISH"), IntArg::Cmp(U8Cmp::Ne(3)));
        assert_eq!(cmp(IntKeyword::Type, ">=8"), IntArg::Cmp(U8Cmp::Ge(8)));
        assert!(parse_int_arg(IntKeyword::Type, "invalidopt").is_err());
    }

    #[test]
    fn flag_lists_like_suricata() {
        let m = |s| parse_int_arg(IntKeyword::Flags, s);
        assert_eq!(
            m("retain,!dup"),
            Ok(IntArg::Cmp(U8Cmp::Mask { mask: 9, want: 1 }))
        );
        assert_eq!(
            m("dup, retain"),
            Ok(IntArg::Cmp(U8Cmp::Mask { mask: 9, want: 9 }))
        );
        assert!(m("ref").is_err());
        assert!(m("dup,!").is_err());
        assert!(m("dup,!dup").is_err());
        assert!(m("").is_err());
        let c = |s| parse_int_arg(IntKeyword::ConnectFlags, s);
        assert_eq!(
            c("username,password,will,will_retain,clean_session"),
            Ok(IntArg::Cmp(U8Cmp::Mask {
                mask: 0xE6,
                want: 0xE6
            }))
        );
        assert_eq!(
            c("!username,!password,!will,!will_retain,!clean_session"),
            Ok(IntArg::Cmp(U8Cmp::Mask {
                mask: 0xE6,
                want: 0
            }))
        );
        assert_eq!(
            c("   username,password"),
            Ok(IntArg::Cmp(U8Cmp::Mask {
                mask: 0xC0,
                want: 0xC0
            }))
        );
        assert_eq!(c("will"), Ok(IntArg::Cmp(U8Cmp::Mask { mask: 4, want: 4 })));
        assert_eq!(
            c("will_retain"),
            Ok(IntArg::Cmp(U8Cmp::Mask {
                mask: 0x20,
                want: 0x20
            }))
        );
        for bad in [
            "foobar",
            "will,!",
            "",
            "username, username",
            "!username,password,!password",
        ] {
            assert!(c(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn qos_and_session_present_values() {
        assert_eq!(suricata_qos(" 2"), Some(2));
        assert_eq!(suricata_qos("3"), None);
        assert_eq!(suricata_qos(">0"), None);
        for (s, b) in [
            ("yes", true),
            ("true", true),
            ("no", false),
            ("false", false),
            ("TRUE", true),
        ] {
            assert_eq!(cmp(IntKeyword::SessionPresent, s), IntArg::Bool(b));
        }
        assert!(parse_int_arg(IntKeyword::SessionPresent, "maybe").is_err());
    }

    #[test]
    fn connect_fields_and_flags() {
        let m = parse(CONNECT, ProtocolVersion::Unknown);
        assert_eq!(buffer(Buffer::ConnectClientid, &m), Some(&b"c1"[..]));
        assert_eq!(buffer(Buffer::ConnectWilltopic, &m), Some(&b"wt"[..]));
        assert_eq!(buffer(Buffer::ConnectWillmessage, &m), Some(&b"wm"[..]));
        assert_eq!(buffer(Buffer::ConnectUsername, &m), Some(&b"u"[..]));
        assert_eq!(buffer(Buffer::ConnectPassword, &m), Some(&b"p"[..]));
        assert_eq!(
            buffer(Buffer::ConnectProtocolString, &m),
            Some(&b"MQTT"[..])
        );
        assert_eq!(buffer(Buffer::PublishTopic, &m), None);
        let f = |s| {
            int_matches(
                IntKeyword::ConnectFlags,
                cmp(IntKeyword::ConnectFlags, s),
                &m,
            )
        };
        assert!(f("username,password,will,!will_retain"));
        assert!(f("clean_session"));
        assert!(!f("will_retain"));
        assert!(f("0xc6") && f("&0x80=0x80"));
        let t = |s| int_matches(IntKeyword::Type, cmp(IntKeyword::Type, s), &m);
        assert!(t("CONNECT") && t("1") && !t("PUBLISH"));
        let v = |s| {
            int_matches(
                IntKeyword::ProtocolVersion,
                cmp(IntKeyword::ProtocolVersion, s),
                &m,
            )
        };
        assert!(v("4") && !v("5"));
    }

    #[test]
    fn publish_header_fields() {
        // PUBLISH QoS 1, dup and retain, topic "a/b", id 7, payload "hi".
        let m = parse(b"\x3b\x09\x00\x03a/b\x00\x07hi", ProtocolVersion::V3_1_1);
        assert_eq!(buffer(Buffer::PublishTopic, &m), Some(&b"a/b"[..]));
        assert_eq!(buffer(Buffer::PublishMessage, &m), Some(&b"hi"[..]));
        let f = |s| int_matches(IntKeyword::Flags, cmp(IntKeyword::Flags, s), &m);
        assert!(f("dup,retain") && f("dup") && !f("!retain") && f("9"));
        let q = |s| int_matches(IntKeyword::Qos, cmp(IntKeyword::Qos, s), &m);
        assert!(q("1") && !q("0"));
        // An empty payload is no buffer.
        let m = parse(b"\x30\x05\x00\x03a/b", ProtocolVersion::V3_1_1);
        assert_eq!(buffer(Buffer::PublishMessage, &m), None);
    }

    #[test]
    fn reason_codes_per_type() {
        let rc = |b: &[u8], v| reason_codes(&parse(b, v));
        // CONNACK refused (5), any version.
        assert_eq!(rc(b"\x20\x02\x00\x05", ProtocolVersion::V3_1_1), vec![5]);
        // MQTT 5 PUBACK without a code means success; 3.1.1 has none.
        assert_eq!(rc(b"\x40\x02\x00\x01", ProtocolVersion::V5), vec![0]);
        assert_eq!(rc(b"\x40\x03\x00\x01\x10", ProtocolVersion::V5), vec![16]);
        assert!(rc(b"\x40\x02\x00\x01", ProtocolVersion::V3_1_1).is_empty());
        // MQTT 5 DISCONNECT: empty means 0; with a code, that code.
        assert_eq!(rc(b"\xe0\x00", ProtocolVersion::V5), vec![0]);
        assert_eq!(rc(b"\xe0\x01\x8b", ProtocolVersion::V5), vec![0x8b]);
        // SUBACK: every granted QoS / code.
        assert_eq!(
            rc(b"\x90\x04\x00\x01\x00\x80", ProtocolVersion::V3_1_1),
            vec![0, 0x80]
        );
        let m = parse(b"\x90\x04\x00\x01\x00\x80", ProtocolVersion::V3_1_1);
        assert!(int_matches(
            IntKeyword::ReasonCode,
            cmp(IntKeyword::ReasonCode, "128"),
            &m
        ));
        assert!(!int_matches(
            IntKeyword::ReasonCode,
            cmp(IntKeyword::ReasonCode, "1"),
            &m
        ));
    }

    #[test]
    fn session_present() {
        let m = parse(b"\x20\x02\x01\x00", ProtocolVersion::V3_1_1);
        let sp = |s| {
            int_matches(
                IntKeyword::SessionPresent,
                cmp(IntKeyword::SessionPresent, s),
                &m,
            )
        };
        assert!(sp("yes") && sp("true") && !sp("no") && !sp("false"));
        let m = parse(b"\x20\x02\x00\x00", ProtocolVersion::V3_1_1);
        let sp = |s| {
            int_matches(
                IntKeyword::SessionPresent,
                cmp(IntKeyword::SessionPresent, s),
                &m,
            )
        };
        assert!(!sp("yes") && sp("no"));
        // Not a CONNACK: never.
        let m = parse(CONNECT, ProtocolVersion::Unknown);
        assert!(!int_matches(
            IntKeyword::SessionPresent,
            IntArg::Bool(false),
            &m
        ));
    }

    #[test]
    fn subscribe_topics_are_a_multi_buffer() {
        // SUBSCRIBE id 1: "a" QoS 0, "b/#" QoS 1.
        let m = parse(
            b"\x82\x0c\x00\x01\x00\x01a\x00\x00\x03b/#\x01",
            ProtocolVersion::V3_1_1,
        );
        assert_eq!(
            multi_buffer(MultiBuffer::SubscribeTopic, &m, 0),
            Some(&b"a"[..])
        );
        assert_eq!(
            multi_buffer(MultiBuffer::SubscribeTopic, &m, 1),
            Some(&b"b/#"[..])
        );
        assert_eq!(multi_buffer(MultiBuffer::SubscribeTopic, &m, 2), None);
        assert_eq!(multi_buffer(MultiBuffer::UnsubscribeTopic, &m, 0), None);
        // UNSUBSCRIBE id 2: "x", "y".
        let m = parse(
            b"\xa2\x08\x00\x02\x00\x01x\x00\x01y",
            ProtocolVersion::V3_1_1,
        );
        assert_eq!(
            multi_buffer(MultiBuffer::UnsubscribeTopic, &m, 1),
            Some(&b"y"[..])
        );
        assert_eq!(
            multi_buffer(MultiBuffer::UnsubscribeTopic, &m, TOPIC_MATCH_LIMIT),
            None
        );
    }
}
