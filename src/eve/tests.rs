//! The record a message produces, read back as JSON.
use serde_json::Value;

use super::{write_record, Assessment, RecordOptions, ValueSink};
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
    let m = json(&recs[0], RecordOptions::default());
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
        },
    );
    assert_eq!(shown["passwd"], "pw");
}

#[test]
fn publish_and_context() {
    let recs = records(Direction::ToServer, &[CONNECT_V5, PUBLISH_V5].concat());
    let m = json(&recs[1], RecordOptions::default());
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
        anomaly: true,
        top: [(9, 0.5), (0, 0.25), (3, -1.0)],
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
    assert_eq!(m["threshold"].as_f64().unwrap() as f32, 0.01);
    let top = m["top_features"].as_array().unwrap();
    assert_eq!(top.len(), 2, "unused slots are not logged");
    assert_eq!(top[0]["name"], "kalive");
    assert_eq!(top[1]["name"], "tcp_flags");
    assert_eq!(m["features"].as_array().unwrap().len(), WIDTH);
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
        anomaly: true,
        top: FAILED_TOP,
    };
    let mut sink = ValueSink::new();
    let a = Assessment {
        scored: Some(&scored),
        features: None,
    };
    write_record(&mut sink, &recs[0], a, RecordOptions::default()).unwrap();
    let m = sink.finish()["mqtt_ml"].clone();
    assert_eq!(m["score"].as_f64(), Some(f64::from(f32::MAX)));
    assert_eq!(m["score_failed"], true);
    assert_eq!(m["anomaly"], true);
    assert_eq!(m["top_features"].as_array().map(Vec::len), Some(0));
}
