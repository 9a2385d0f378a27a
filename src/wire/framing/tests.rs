use super::*;
use crate::wire::probe_port;
use crate::wire::test_util::hex;
use crate::wire::{Malformations, Message};
use ProtocolVersion::*;

fn msg(input: &[u8], v: ProtocolVersion) -> (Message, usize) {
    match parse_message(input, v, &Limits::default()) {
        Parsed::Message { msg, len } => (msg, len),
        other => panic!("expected a message, got {other:?}"),
    }
}

fn mal(input: &[u8], v: ProtocolVersion) -> Malformations {
    msg(input, v).0.malformations
}

/// Parse a whole capture the way the glue will: track the version from CONNECT.
fn walk(stream: &[u8]) -> Vec<Message> {
    let mut out = Vec::new();
    let mut v = Unknown;
    let mut at = 0;
    while at < stream.len() {
        let (m, len) = msg(&stream[at..], v);
        if let Body::Connect(_) = m.body {
            v = m.version;
        }
        out.push(m);
        at += len;
    }
    out
}

#[test]
fn mosquitto_v5_session() {
    // mqtt5-pub-mosquittoprops: CONNECT, CONNACK, PUBLISH, PUBACK, DISCONNECT
    let stream = hex(concat!(
        "10cc0100044d51545405c6003c3c2700002b672100de110000022b22029a2600097573657270726f70",
        "3100087573657276616c312600097573657270726f703200087573657276616c3200136d79766f6963",
        "6569736d7970617373706f72744b03000a6d7977696c6c74797065090007313233343536370200000085",
        "019008000f726573706f6e73655f746f706963312600097573657270726f703500087573657276616c35",
        "18000000c8000977696c6c746f706963000b77696c6c6d657373616765000475736572000470617373",
        "200600000322000a",
        "325e0006746f706963580001430300066d79747970650900053132333435020000004d015808000f7265",
        "73706f6e73655f746f706963312300052600097573657270726f703300087573657276616c336261616261",
        "61626c61636b7368656570",
        "4003000110",
        "e01d001b110000007a2600097573657270726f703400087573657276616c34",
    ));
    let msgs = walk(&stream);
    let types: Vec<u8> = msgs.iter().map(|m| m.header.msg_type).collect();
    assert_eq!(types, vec![1, 2, 3, 4, 14]);
    assert!(msgs.iter().all(|m| m.version == V5));
    assert_eq!(msgs[0].header.remaining_len, 204);
    assert_eq!(msgs[0].header.header_len, 3);
    let Body::Publish(p) = &msgs[2].body else {
        panic!()
    };
    assert_eq!(p.payload, b"baabaablacksheep");
    assert_eq!(msgs[2].msgid(), Some(1));
    let Body::Puback(a) = &msgs[3].body else {
        panic!()
    };
    assert_eq!(a.reason_code, Some(0x10));
    let Body::Disconnect(d) = &msgs[4].body else {
        panic!()
    };
    assert_eq!(d.reason_code, Some(0));
    // only the captured out-of-range payload format indicators
    for m in &msgs {
        let bad: Vec<_> = m.malformations.iter().collect();
        assert!(
            bad.is_empty() || bad == [Malformation::InvalidProperty],
            "{m:?}"
        );
    }
}

#[test]
fn mosquitto_v311_unsubscribe_session() {
    let stream = hex(concat!(
        "102b00044d51545404c2003c00136d79766f69636569736d7970617373706f7274000475736572000470617373",
        "20020000",
        "820b00010006746f7069635802",
        "9003000102",
        "a20a00020006746f70696358a20a00030006746f70696359",
        "b0020002b0020003",
        "e000",
    ));
    let msgs = walk(&stream);
    assert_eq!(msgs.len(), 9);
    assert!(msgs.iter().all(|m| m.malformations.is_empty()), "{msgs:?}");
    assert!(msgs.iter().all(|m| m.version == V3_1_1));
    let Body::Unsubscribe(u) = &msgs[5].body else {
        panic!()
    };
    assert_eq!((u.msgid, u.topics[0].value.as_str()), (3, "topicY"));
}

#[test]
fn mosquitto_v5_unsubscribe_session() {
    let stream = hex(concat!(
        "102f00044d51545405c2003c0321001400136d79766f69636569736d7970617373706f72740004757365",
        "72000470617373",
        "200600000322000a820c0001000006746f7069635802900400010002",
        "a20b0002000006746f70696358a20b0003000006746f70696359",
        "b00400020000b00400030011e00104",
    ));
    let msgs = walk(&stream);
    assert_eq!(msgs.len(), 9);
    assert!(msgs.iter().all(|m| m.malformations.is_empty()), "{msgs:?}");
    let Body::Unsuback(u) = &msgs[7].body else {
        panic!()
    };
    assert_eq!(u.reason_codes, vec![0x11]);
}

#[test]
fn suricata_verify_malformed_captures() {
    // excessive property length in CONNECT (0xff)
    let m = mal(
        &hex("102f00044d51545405c2003cff21001400136d79766f69636569736d7970617373706f7274000475736572000470617373"),
        Unknown,
    );
    assert!(m.contains(Malformation::OversizedProperties), "{m:?}");
    // PUBLISH with QoS 3
    let m = mal(
        &hex("361a0006746f706963580001626161626161626c61636b7368656570"),
        V3_1_1,
    );
    assert!(m.contains(Malformation::InvalidQos));
    // message type 0
    let (m, len) = msg(
        &hex("00180006746f70696358626161626161626c61636b7368656570"),
        V3_1_1,
    );
    assert_eq!((m.body, len), (Body::Reserved, 26));
    assert!(m.malformations.contains(Malformation::ReservedMsgType));
}

#[test]
fn incomplete() {
    let l = Limits::default();
    assert_eq!(
        parse_message(&[], V5, &l),
        Parsed::Incomplete { needed: None }
    );
    assert_eq!(
        parse_message(&[0x30], V5, &l),
        Parsed::Incomplete { needed: None }
    );
    assert_eq!(
        parse_message(&[0x30, 0xFF], V5, &l),
        Parsed::Incomplete { needed: None }
    );
    assert_eq!(
        parse_message(&[0x30, 0x05, 0x00], V5, &l),
        Parsed::Incomplete { needed: Some(7) }
    );
}

#[test]
fn oversized_before_buffering() {
    let l = Limits {
        max_msg_len: 10,
        ..Limits::default()
    };
    assert_eq!(
        parse_message(&[0x30, 0x80, 0x01], V5, &l),
        Parsed::Oversized { total_len: 131 }
    );
    // exactly at the limit is fine
    let mut m = vec![0x30, 0x08, 0x00, 0x01, b't'];
    m.extend_from_slice(&[0; 5]);
    assert!(matches!(
        parse_message(&m, V5, &l),
        Parsed::Message { len: 10, .. }
    ));
}

#[test]
fn bad_header() {
    assert_eq!(
        parse_message(
            &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
            V5,
            &Limits::default()
        ),
        Parsed::BadHeader(Malformation::BadRemainingLength)
    );
}

#[test]
fn header_malformations() {
    let (m, len) = msg(&[0xC0, 0x80, 0x00], V3_1_1);
    assert_eq!((m.body, len), (Body::Pingreq, 3));
    assert!(m
        .malformations
        .contains(Malformation::NonMinimalRemainingLength));
    assert!(mal(&[0x83, 0x06, 0, 1, 0, 1, b'a', 0], V3_1_1)
        .contains(Malformation::InvalidFixedHeaderFlags));
    assert!(mal(&[0xC0, 0x01, 0x00], V3_1_1).contains(Malformation::TrailingBytes));
    assert!(mal(&[0xD0, 0x00], V3_1_1).is_empty());
}

#[test]
fn type_15_depends_on_version() {
    let (m, _) = msg(&[0xF0, 0x00], V3_1_1);
    assert_eq!(m.body, Body::Reserved);
    assert!(m.malformations.contains(Malformation::ReservedMsgType));
    for v in [V5, Unknown] {
        let (m, _) = msg(&[0xF0, 0x00], v);
        assert!(matches!(m.body, Body::Auth(_)));
        assert!(m.malformations.is_empty());
    }
}

#[test]
fn framed_but_broken_body_is_unparsed() {
    let (m, len) = msg(&[0x30, 0x01, 0x00, 0xAA], V3_1_1);
    assert_eq!((m.body, len), (Body::Unparsed, 3));
    assert!(m.malformations.contains(Malformation::Truncated));
}

#[test]
fn unknown_parses_as_311() {
    // v5-style PUBACK with reason code: under Unknown the extra byte is trailing
    assert!(mal(&[0x40, 0x03, 0x00, 0x01, 0x10], Unknown).contains(Malformation::TrailingBytes));
}

#[test]
fn resync_finds_stream_after_garbage() {
    let mut s = vec![0xFF, 0x00, 0x17, 0x2F];
    let start = s.len();
    s.extend_from_slice(&hex(
        "30180006746f70696358626161626161626c61636b7368656570e000",
    ));
    assert_eq!(resync(&s), Some(start));
    // a valid message at 0 is its own resync point
    assert_eq!(resync(&s[start..]), Some(0));
}

#[test]
fn resync_accepts_message_running_past_end() {
    assert_eq!(resync(&[0x00, 0x30, 0x18, 0x00, 0x06, b't']), Some(1));
    // cut header at the very end
    assert_eq!(resync(&[0x00, 0x00, 0xE0]), Some(2));
}

#[test]
fn resync_rejects_implausible() {
    assert_eq!(resync(&[]), None);
    assert_eq!(resync(&[0x00; 64]), None);
    // PINGREQ with a length, CONNECT with a wrong name, PUBLISH with a topic too long
    assert_eq!(resync(&[0xC0, 0x01, 0x00, 0x00]), None);
    assert_eq!(
        resync(&[0x10, 0x0C, 0x00, 0x04, b'H', b'T', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        None
    );
    assert_eq!(resync(&[0x30, 0x03, 0x00, 0x09, 0x00, 0x00, 0x00]), None);
    // a message ending before a non-header is not a resync point
    assert_eq!(resync(&[0xE0, 0x00, 0x00, 0x00]), None);
}

#[test]
fn resync_after_bad_header_moves_forward() {
    let mut s = vec![0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F];
    s.extend_from_slice(&[0xC0, 0x00, 0xD0, 0x00]);
    assert!(matches!(
        parse_message(&s, V3_1_1, &Limits::default()),
        Parsed::BadHeader(_)
    ));
    assert_eq!(resync(&s), Some(6));
}

#[test]
fn resync_midstream_capture() {
    // mqtt-midstream-split: the server side starts one byte into a CONNACK, then a DISCONNECT
    // follows later; the tail of the CONNACK (an assigned client id) must not be mistaken
    // for a header that chains.
    let mut s = hex("3200002f22000a1200296175746f2d31423433453830302d303845332d334241312d324539372d453941304234303634424635");
    let tail = s.len();
    s.extend_from_slice(&[0xE0, 0x00]);
    assert_eq!(resync(&s), Some(tail));
}

#[test]
fn resync_is_linear_on_adversarial_input() {
    // every offset is a plausible PUBLISH header pointing just past the next offset
    // every offset of the first is a PUBLISH header whose topic does not fit; of the second,
    // a message that frames but never chains
    let s: Vec<u8> = std::iter::repeat_n([0x30u8, 0x02], 500_000)
        .flatten()
        .collect();
    let t = std::time::Instant::now();
    assert_eq!(resync(&s), Some(s.len() - 2));
    let mut junk: Vec<u8> = std::iter::repeat_n([0x30u8, 0x7F], 500_000)
        .flatten()
        .collect();
    junk.push(0x00);
    let _ = resync(&junk);
    assert!(t.elapsed().as_secs() < 5);
}

#[test]
fn probe() {
    let v311 = hex("102b00044d51545404c2003c00136d79766f69636569736d7970617373706f7274");
    assert_eq!(probe_connect(&v311), Probe::Mqtt(V3_1_1));
    let v31 = hex("102d00064d514973647003c2003c");
    assert_eq!(probe_connect(&v31), Probe::Mqtt(V3_1));
    let v5 = hex("10cc0100044d51545405c6003c");
    assert_eq!(probe_connect(&v5), Probe::Mqtt(V5));
    assert_eq!(probe_connect(&v311[..5]), Probe::NeedMore);
    assert_eq!(probe_connect(&v311[..8]), Probe::NeedMore);
    assert_eq!(probe_connect(&[]), Probe::NeedMore);
    assert_eq!(probe_connect(&[0x10]), Probe::NeedMore);
    assert_eq!(probe_connect(b"GET / HTTP/1.1\r\n"), Probe::NotMqtt);
    assert_eq!(probe_connect(&hex("20020000")), Probe::NotMqtt);
    assert_eq!(probe_connect(&hex("102b00044d515454")), Probe::NeedMore);
    assert_eq!(probe_connect(&hex("102b00044d51545803")), Probe::NotMqtt);
    assert_eq!(probe_connect(&hex("100200044d51545404")), Probe::NotMqtt);
    assert_eq!(probe_connect(&hex("10ffffffff")), Probe::NotMqtt);
    assert_eq!(
        probe_connect(&hex("102b00044d51545403")),
        Probe::Mqtt(Unknown)
    );
    assert_eq!(
        probe_connect(&hex("102b00044d51545484")),
        Probe::Mqtt(V3_1_1)
    );
}

/// The first slice of a large message picked up midstream: the real header at 0 runs past the
/// input, while its payload happens to end in `c0 00` (a PINGREQ that fits exactly). The segment
/// boundary wins.
#[test]
fn resync_prefers_a_header_at_the_segment_start() {
    let mut input = vec![0x30, 0xAC, 0x02, 0x00, 0x01, b't'];
    input.extend(std::iter::repeat_n(b'x', 90));
    input.extend([0xC0, 0x00]);
    assert_eq!(resync(&input), Some(0));
}

/// Garbage before a message after a gap: a false header with a long length at offset 1 loses to
/// the message that frames exactly.
#[test]
fn resync_prefers_exact_framing_over_a_header_running_past_the_end() {
    let mut input = vec![0x61, 0x62, 0xFF];
    input.extend([0x30, 0x06, 0x00, 0x01, b't', 0x00, b'h', b'i']);
    assert_eq!(resync(&input), Some(3));
}

/// Other protocols on an MQTT port are not MQTT. At most 16 bytes: what Suricata shows the probe.
#[test]
fn probe_port_rejects_tls_http_and_others() {
    let tls: &[&str] = &[
        // ClientHello (TLS 1.0 record, 1.2 hello), ServerHello, alert, application data,
        // change cipher spec, SSLv2-compatible hello.
        "160301020001000 1fc0303a1b2c3d4e5f6",
        "160303007a0200007603035f1e2d3c4b5a",
        "15030300020228",
        "17030300351a2b3c4d5e6f708192a3b4c5",
        "140303000101",
        "80b2010300010089000000",
    ];
    for t in tls {
        let b = hex(&t.replace(' ', ""));
        assert_eq!(probe_port(&b), Probe::NotMqtt, "TLS {t}");
    }
    let text: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: x\r\n",
        b"POST /api HTTP/1.1\r\n",
        b"PUT /x HTTP/1.1\r\n",
        b"PATCH /x HTTP/1.1\r\n",
        b"HEAD / HTTP/1.0\r\n",
        b"OPTIONS * HTTP/1.1\r\n",
        b"DELETE /x HTTP/1.1\r\n",
        b"CONNECT a:443 HTTP/1.1\r\n",
        b"HTTP/1.1 200 OK\r\n",
        b"HTTP/1.0 404 Not Found\r\n",
        b"SSH-2.0-OpenSSH_9.2p1\r\n",
        b"220 mail ESMTP\r\n",
        b"* OK IMAP4 ready\r\n",
        b"+OK POP3 ready\r\n",
        b"{\"jsonrpc\":\"2.0\"}",
    ];
    for t in text {
        let t = &t[..t.len().min(16)];
        assert_eq!(
            probe_port(t),
            Probe::NotMqtt,
            "{}",
            String::from_utf8_lossy(t)
        );
    }
}

/// Random bytes are not MQTT: a fixed sample of 16-byte buffers, of which at most 1 in 1000 may
/// pass for a midstream MQTT message sequence.
#[test]
fn probe_port_rejects_random_binary() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let n = 20_000;
    let mut accepted = 0;
    for _ in 0..n {
        let a = next().to_le_bytes();
        let b = next().to_le_bytes();
        let buf = [a, b].concat();
        if probe_port(&buf) != Probe::NotMqtt {
            accepted += 1;
        }
    }
    eprintln!("{accepted} of {n} random 16-byte buffers taken for MQTT");
    assert!(
        accepted * 1000 <= n,
        "{accepted} of {n} random buffers taken for MQTT"
    );
}

/// What must stay MQTT: any message a broker or client starts a segment with, a CONNECT with a
/// broken protocol name (an attack the parser flags), and short input that may still become MQTT.
#[test]
fn probe_port_keeps_mqtt() {
    let mqtt: &[&str] = &[
        "102b00044d51545404c2003c0013",   // CONNECT 3.1.1
        "102b00044d51545803c2003c",       // CONNECT, bad protocol name
        "100d00284d5154540402001e000178", // CONNECT, bad protocol name length
        "20",                             // CONNACK's first byte, alone in its segment
        "20020000",                       // CONNACK
        "2003000000",                     // CONNACK 5.0, no properties
        "300a0004612f622f6869",           // PUBLISH a/b/hi
        "32090003612f6200016869",         // PUBLISH QoS 1
        "3d0700017400016869",             // PUBLISH QoS 2 dup retain
        "40020001",                       // PUBACK
        "4004000110",                     // PUBACK 5.0 reason 0x10
        "50020001",                       // PUBREC
        "62020001",                       // PUBREL
        "70020001",                       // PUBCOMP
        "8206000100016100",               // SUBSCRIBE
        "9003000100",                     // SUBACK
        "a20500010001",                   // UNSUBSCRIBE (cut)
        "b0020001",                       // UNSUBACK
        "c000",                           // PINGREQ
        "d000c000d000",                   // PINGRESP, PINGREQ, PINGRESP
        "e000",                           // DISCONNECT
        "f000",                           // AUTH (5.0)
        "30ff7f0003612f62",               // PUBLISH longer than the input
        "40020001d000",                   // PUBACK then PINGRESP
    ];
    for m in mqtt {
        let b = hex(&m.replace(' ', ""));
        assert!(
            matches!(probe_port(&b), Probe::Mqtt(_)),
            "{m}: {:?}",
            probe_port(&b)
        );
    }
    assert_eq!(probe_port(&[]), Probe::NeedMore);
    assert_eq!(probe_port(&hex("10")), Probe::NeedMore);
    assert_eq!(probe_port(&hex("102b00044d51")), Probe::NeedMore);
}
