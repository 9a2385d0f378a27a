//! The record a message produces, read back as JSON.
use serde_json::Value;

use super::{write_record, Assessment, JsonSink, RecordOptions, TextSink, ValueSink};
use crate::flow::session::tests::{records, CONNECT_V5, PUBLISH_V5};
use crate::flow::{Direction, MessageRecord};

fn json(r: &MessageRecord, opt: RecordOptions) -> Value {
    let mut sink = ValueSink::new();
    write_record(&mut sink, r, Assessment::default(), opt).expect("record writes");
    sink.finish()["mqtt_ml"].clone()
}

#[test]
fn connect_fields_use_wireshark_names() {
    // 3.1.1 CONNECT with user name "u" and password "pw".
    let connect = [
        0x10, 0x14, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0xC2, 0x00, 0x3C, 0x00, 0x01, b'c',
        0x00, 0x01, b'u', 0x00, 0x02, b'p', b'w',
    ];
    let recs = records(Direction::ToServer, &connect);
    let full = RecordOptions {
        full: true,
        ..RecordOptions::default()
    };
    let m = json(&recs[0], full);
    assert_eq!(m["msgtype"], 1);
    assert_eq!(m["protoname"], "MQTT");
    assert_eq!(m["ver"], 4);
    assert_eq!(m["conflags"], 0xC2);
    assert_eq!(m["conflag_cleansess"], true);
    assert_eq!(m["conflag_uname"], true);
    assert_eq!(m["kalive"], 60);
    assert_eq!(m["clientid"], "c");
    assert_eq!(m["username"], "u");
    assert_eq!(m["passwd_len"], 2);
    assert!(m.get("passwd").is_none(), "passwords hidden by default");
    assert_eq!(m["direction"], "to_server");
    assert_eq!(m["malformed"], false);
    let shown = json(
        &recs[0],
        RecordOptions {
            log_passwords: true,
            full: false,
        },
    );
    assert_eq!(shown["passwd"], "pw");
    // The default record keeps the CONNECT's key fields and leaves out the rest.
    let lean = json(&recs[0], RecordOptions::default());
    assert_eq!(lean["clientid"], "c");
    assert_eq!(lean["username"], "u");
    assert_eq!(lean["kalive"], 60);
    assert_eq!(lean["conflags"], 0xC2);
    for absent in [
        "protoname",
        "ver",
        "conflag_cleansess",
        "passwd_len",
        "hdrflags",
        "len",
    ] {
        assert!(
            lean.get(absent).is_none(),
            "{absent} only in the full record"
        );
    }
}

/// A CONNECT whose remaining length ends inside its variable header (9 bytes: name, level,
/// flags, one byte of keep-alive) logs the fields it holds whole and none it does not.
#[test]
fn connect_cut_in_its_variable_header_logs_what_it_holds() {
    let connect = [
        0x10, 0x09, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0xEE, 0x00,
    ];
    let recs = records(Direction::ToServer, &connect);
    let full = RecordOptions {
        full: true,
        ..RecordOptions::default()
    };
    let m = json(&recs[0], full);
    assert_eq!(m["malformed"], true);
    assert_eq!(m["protoname"], "MQTT");
    assert_eq!(m["ver"], 5);
    assert_eq!(m["conflags"], 0xEE);
    assert_eq!(m["conflag_willflag"], true);
    assert_eq!(m["conflag_qos"], 1);
    assert!(m.get("kalive").is_none(), "{m}");
    assert!(m.get("clientid").is_none(), "{m}");
}

#[test]
fn publish_and_context() {
    let recs = records(Direction::ToServer, &[CONNECT_V5, PUBLISH_V5].concat());
    let full = RecordOptions {
        full: true,
        ..RecordOptions::default()
    };
    let lean = json(&recs[1], RecordOptions::default());
    assert_eq!(lean["topic"], "t");
    assert_eq!(lean["msg_len"], 2);
    assert_eq!(lean["qos"], 0);
    assert!(
        lean.get("msg").is_none(),
        "no payload in the default record"
    );
    assert!(lean.get("properties").is_none());
    assert_eq!(lean["flow"]["msg_count"], 2);
    assert_eq!(lean["src"]["connects"], 0);
    assert!(lean["tcp"].get("timed_by_packet").is_none());
    assert!(lean["flow"].get("failed_auth_rate").is_none());
    let m = json(&recs[1], full);
    assert_eq!(m["msgtype_name"], "publish");
    assert_eq!(m["topic"], "t");
    assert_eq!(m["msg"], "hi");
    assert_eq!(m["msg_len"], 2);
    assert_eq!(m["qos"], 0);
    assert_eq!(m["protocol_version"], 5);
    assert_eq!(m["properties"]["property_len"], 0);
    assert_eq!(m["flow"]["msg_count"], 2);
    assert_eq!(m["tcp"]["timed_by_packet"], false);
    assert!(m["flow"]["time_delta"].is_f64());
}

#[test]
fn malformed_message_lists_its_events() {
    // PUBLISH with QoS 3.
    let recs = records(
        Direction::ToServer,
        &[CONNECT_V5, &[0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01]].concat(),
    );
    let m = json(&recs[1], RecordOptions::default());
    assert_eq!(m["malformed"], true);
    let events: Vec<&str> = m["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(events.contains(&"invalid_qos"), "{events:?}");
}

#[test]
fn score_fields_and_feature_vector() {
    use crate::features::{extract, WIDTH};
    use crate::scoring::Scored;
    let recs = records(Direction::ToServer, CONNECT_V5);
    let scored = Scored {
        score: 0.25,
        threshold: 0.01,
        above: true,
        anomaly: true,
        evidence: crate::scoring::Evidence {
            connection: 1.0,
            client: 2,
            reason: crate::scoring::Reason::Extreme,
        },
        top: [(8, 0.5), (0, 0.25), (3, -1.0)],
    };
    let features = extract(&recs[0]);
    let mut sink = ValueSink::new();
    let a = Assessment {
        scored: Some(&scored),
        features: Some(&features),
    };
    write_record(&mut sink, &recs[0], a, RecordOptions::default()).unwrap();
    let m = sink.finish()["mqtt_ml"].clone();
    assert_eq!(m["score"], 0.25);
    assert_eq!(m["anomaly"], true);
    assert_eq!(m["above_threshold"], true);
    assert_eq!(m["evidence"]["client"], 2);
    assert_eq!(m["evidence"]["reason"], "extreme");
    // The f32 threshold reads back as written, not widened to 0.009999999776482582.
    assert_eq!(m["threshold"], 0.01);
    let mut text = TextSink::new();
    write_record(&mut text, &recs[0], a, RecordOptions::default()).unwrap();
    let t = std::str::from_utf8(text.as_bytes()).unwrap();
    assert!(
        t.starts_with(
            r#""mqtt_ml":{"score":0.25,"threshold":0.01,"anomaly":true,"above_threshold":true,"#
        ),
        "{t}"
    );
    let top = m["top_features"].as_array().unwrap();
    assert_eq!(top.len(), 2, "unused slots are not logged");
    assert_eq!(top[0]["name"], "src_failed_auth");
    assert_eq!(top[1]["name"], "msgtype");
    assert_eq!(m["features"].as_array().unwrap().len(), WIDTH);
}

/// The text the plugin hands to Suricata, read back by a JSON parser.
fn text_json(r: &MessageRecord, a: Assessment<'_>, opt: RecordOptions) -> Value {
    let mut sink = TextSink::new();
    write_record(&mut sink, r, a, opt).expect("record writes");
    let text = format!(
        "{{{}}}",
        std::str::from_utf8(sink.as_bytes()).expect("utf-8")
    );
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    v["mqtt_ml"].clone()
}

#[test]
fn text_and_value_sinks_write_the_same_record() {
    use crate::features::extract;
    use crate::flow::session::tests::CONNACK_OK;
    use crate::scoring::Scored;
    let bad_qos: &[u8] = &[0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01];
    let to_server = [CONNECT_V5, PUBLISH_V5, bad_qos].concat();
    let scored = Scored {
        score: 0.123_456_79,
        threshold: 0.02,
        above: true,
        anomaly: true,
        evidence: crate::scoring::Evidence {
            connection: 2.75,
            client: 7,
            reason: crate::scoring::Reason::Connection,
        },
        top: [(9, 0.5), (0, 1e-7), (3, -1.0)],
    };
    let mut recs = records(Direction::ToServer, &to_server);
    recs.extend(records(Direction::ToClient, CONNACK_OK));
    let mut checked = 0;
    for r in &recs {
        let features = extract(r);
        for (sc, f) in [(None, None), (Some(&scored), Some(&features))] {
            for full in [false, true] {
                let opt = RecordOptions {
                    log_passwords: true,
                    full,
                };
                let a = Assessment {
                    scored: sc,
                    features: f,
                };
                let mut v = ValueSink::new();
                write_record(&mut v, r, a, opt).unwrap();
                assert_eq!(text_json(r, a, opt), v.finish()["mqtt_ml"], "{r:?}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 16);
}

#[test]
fn text_sink_escapes_strings_and_payloads() {
    let mut s = TextSink::new();
    s.set_str(c"a", "q\"b\\\n\u{1}\u{7f}é").unwrap();
    s.set_printable(c"p", b"x\"\\\x00\xff").unwrap();
    s.open_array(c"l").unwrap();
    s.append_f32(f32::NAN).unwrap();
    s.append_f32(1.0).unwrap();
    s.append_uint(u64::MAX).unwrap();
    s.close().unwrap();
    s.set_float(c"t", 1_700_000_000.123_456).unwrap();
    assert!(
        s.close().is_err(),
        "the enclosing object is not the sink's to close"
    );
    let text = std::str::from_utf8(s.as_bytes()).unwrap();
    assert_eq!(
        text,
        "\"a\":\"q\\\"b\\\\\\n\\u0001\u{7f}é\",\"p\":\"x\\\"\\\\..\",\
         \"l\":[null,1.0,18446744073709551615],\"t\":1700000000.123456"
    );
    let c = s.as_c_bytes();
    assert_eq!(c.last(), Some(&0));
    assert_eq!(c.iter().filter(|&&b| b == 0).count(), 1);
}

#[test]
fn dropped_count_is_written_on_the_record_that_carries_it() {
    let recs = records(Direction::ToServer, &[0xC0u8, 0x00].repeat(4_100));
    assert_eq!(recs.len(), 4_097);
    let carrier = json(&recs[4_096], RecordOptions::default());
    assert_eq!(carrier["dropped"], 3);
    assert_eq!(carrier["msg_index"], 4_100);
    assert_eq!(carrier["events"][0], "too_many_messages");
    assert!(json(&recs[0], RecordOptions::default())
        .get("dropped")
        .is_none());
}

#[test]
fn failed_score_is_written_as_a_number_and_flagged() {
    use crate::scoring::{Scored, FAILED_TOP};
    let recs = records(Direction::ToServer, CONNECT_V5);
    let scored = Scored {
        score: f32::INFINITY,
        threshold: 0.01,
        above: true,
        anomaly: true,
        evidence: crate::scoring::Evidence {
            connection: 1.0,
            client: 0,
            reason: crate::scoring::Reason::Extreme,
        },
        top: FAILED_TOP,
    };
    let mut sink = ValueSink::new();
    let a = Assessment {
        scored: Some(&scored),
        features: None,
    };
    write_record(&mut sink, &recs[0], a, RecordOptions::default()).unwrap();
    let m = sink.finish()["mqtt_ml"].clone();
    assert_eq!(m["score"].as_f64().map(|v| v as f32), Some(f32::MAX));
    assert_eq!(m["score_failed"], true);
    assert_eq!(m["anomaly"], true);
    assert_eq!(m["top_features"].as_array().map(Vec::len), Some(0));
}
