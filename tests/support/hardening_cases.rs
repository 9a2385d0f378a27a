//! End-to-end cases for the limits an attacker could hide behind: messages past the per-flush
//! cap, the transaction cap, non-MQTT protocols on MQTT ports. Each runs on a capture it writes.
use serde_json::Value;

use super::synth::{self, Side};
use super::{Env, Outcome};
use crate::ensure;

fn events_of(r: &Value) -> Vec<String> {
    r["mqtt_ml"]["events"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|e| e.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// One flush of 5,000 PINGREQs followed by a PUBLISH: the PUBLISH is logged, every message is
/// counted, and the records that were dropped are accounted for by one that says how many.
pub fn flood_past_segment_cap(env: &Env) -> Outcome {
    let pcap = env.tmp.join("ping-flood.pcap");
    let mut flood = synth::PINGREQ.repeat(5_000);
    flood.extend(synth::publish_311("after/flood", b"hidden?"));
    let segments = vec![
        (Side::Client, synth::connect_311("flooder")),
        (Side::Server, synth::CONNACK_OK.to_vec()),
        (Side::Client, flood),
    ];
    synth::write_tcp_pcap(&pcap, 40001, 1883, &segments).expect("write pcap");
    let run = env.run("ping-flood", &pcap, &[]);
    ensure!(run.ok(), "{}", run.describe());
    let recs = run.records();
    let total = 5_003u64; // CONNECT, CONNACK, 5,000 PINGREQs, PUBLISH
    let publish = recs.iter().find(|r| r["mqtt_ml"]["msgtype"] == 3);
    ensure!(
        publish.is_some(),
        "the PUBLISH after the flood vanished ({} records)",
        recs.len()
    );
    let last_index = recs
        .iter()
        .filter_map(|r| r["mqtt_ml"]["msg_index"].as_u64())
        .max();
    ensure!(
        last_index == Some(total),
        "counters stopped: last msg_index {last_index:?}, {total} messages"
    );
    let dropped: u64 = recs
        .iter()
        .filter_map(|r| r["mqtt_ml"]["dropped"].as_u64())
        .sum();
    let carriers = recs
        .iter()
        .filter(|r| events_of(r).iter().any(|e| e == "too_many_messages"))
        .count();
    ensure!(
        carriers >= 1 && dropped > 0,
        "no record says messages were dropped"
    );
    ensure!(
        recs.len() as u64 + dropped == total,
        "{} records + {dropped} dropped != {total} messages",
        recs.len()
    );
    Outcome::Pass(format!(
        "{} records, {dropped} PINGREQs dropped and counted, PUBLISH logged",
        recs.len()
    ))
}

/// More messages in one flush than `max-tx`: transactions are complete when created, so none is
/// thrown away before it is logged; the ones past the cap say so.
pub fn max_tx_drops_nothing_unlogged(env: &Env) -> Outcome {
    let pcap = env.tmp.join("publish-burst.pcap");
    let burst: Vec<u8> = (0..300)
        .flat_map(|i| synth::publish_311("burst", format!("{i:04}").as_bytes()))
        .collect();
    let segments = vec![
        (Side::Client, synth::connect_311("burster")),
        (Side::Server, synth::CONNACK_OK.to_vec()),
        (Side::Client, burst),
    ];
    synth::write_tcp_pcap(&pcap, 40002, 1883, &segments).expect("write pcap");
    let run = env.run(
        "publish-burst",
        &pcap,
        // The full record: it carries the payloads that tell the messages apart.
        &[
            "--set",
            "app-layer.protocols.mqtt-ml.max-tx=100",
            "--set",
            "app-layer.protocols.mqtt-ml.eve-record=full",
        ],
    );
    ensure!(run.ok(), "{}", run.describe());
    let recs = run.records();
    let payloads: Vec<&str> = recs
        .iter()
        .filter_map(|r| r["mqtt_ml"]["msg"].as_str())
        .collect();
    ensure!(
        recs.len() == 302 && payloads.len() == 300 && payloads[0] == "0000",
        "{} records, {} PUBLISHes logged (first {:?}) of 300",
        recs.len(),
        payloads.len(),
        payloads.first()
    );
    let flagged = recs
        .iter()
        .filter(|r| events_of(r).iter().any(|e| e == "too_many_transactions"))
        .count();
    ensure!(flagged > 0, "no record says max-tx was passed");
    Outcome::Pass(format!(
        "302 of 302 messages logged with max-tx 100; {flagged} flagged"
    ))
}

/// A full per-client table evicts live clients to make room, and says how many in the stats.
pub fn source_evictions_counted(env: &Env) -> Outcome {
    let pcap = env.tmp.join("many-clients.pcap");
    let conns: Vec<synth::Client> = (1..=6u8)
        .map(|i| {
            let segs = vec![
                (Side::Client, synth::connect_311(&format!("c{i}"))),
                (Side::Server, synth::CONNACK_OK.to_vec()),
            ];
            ([10, 9, 1, i], 41000 + u16::from(i), segs)
        })
        .collect();
    synth::write_connections_pcap(&pcap, 1883, &conns).expect("write pcap");
    let run = env.run(
        "many-clients",
        &pcap,
        &[
            "--runmode",
            "single",
            "--set",
            "app-layer.protocols.mqtt-ml.source-table-size=2",
        ],
    );
    ensure!(run.ok(), "{}", run.describe());
    ensure!(run.records().len() == 12, "{} records", run.records().len());
    let stats = run.eve().into_iter().rfind(|r| r["event_type"] == "stats");
    let evictions = stats
        .as_ref()
        .and_then(|s| s["stats"]["mqtt_ml"]["source_evictions"].as_u64());
    ensure!(
        evictions == Some(4),
        "6 clients in a table of 2: expected 4 evictions, stats say {evictions:?}"
    );
    Outcome::Pass("4 evictions counted".into())
}

/// TLS, HTTP and random bytes on port 1883 are not MQTT: no record, Suricata gives the flow up,
/// and it does so with its protocol-detection event (`applayer_proto_detection_skipped`: an EVE
/// anomaly record, and the shipped rule 9100031 fires); an MQTT connection in the same capture is
/// still logged and raises none. With Suricata's TLS and HTTP parsers on, those flows are theirs
/// (the probe never sees them) and only the random bytes are refused.
pub fn other_protocols_on_mqtt_port(env: &Env) -> Outcome {
    let pcap = env.tmp.join("not-mqtt-on-1883.pcap");
    let hex = |s: &str| -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
            .collect()
    };
    let mut client_hello = hex("160301006e0100006a0303");
    client_hello.extend((0u8..32).map(|i| i.wrapping_mul(37)));
    client_hello.extend(hex(
        "000004130113020100003d0000000e000c0000096c6f63616c686f7374",
    ));
    let server_hello = hex("160303005a020000560303a1b2c3d4e5f60718293a4b5c6d7e8f90");
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let random: Vec<u8> = (0..200)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let conns: Vec<synth::Client> = vec![
        (
            [10, 9, 2, 1],
            42001,
            vec![(Side::Client, client_hello), (Side::Server, server_hello)],
        ),
        (
            [10, 9, 2, 2],
            42002,
            vec![
                (
                    Side::Client,
                    b"POST /api/v1 HTTP/1.1\r\nHost: broker\r\nContent-Length: 2\r\n\r\n{}"
                        .to_vec(),
                ),
                (
                    Side::Server,
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(),
                ),
            ],
        ),
        (
            [10, 9, 2, 3],
            42003,
            vec![(
                Side::Client,
                b"GET / HTTP/1.1\r\nHost: broker\r\n\r\n".to_vec(),
            )],
        ),
        ([10, 9, 2, 4], 42004, vec![(Side::Client, random)]),
        (
            [10, 9, 2, 5],
            42005,
            vec![
                (Side::Client, synth::connect_311("real")),
                (Side::Server, synth::CONNACK_OK.to_vec()),
                (Side::Client, synth::publish_311("t", b"x")),
            ],
        ),
    ];
    synth::write_connections_pcap(&pcap, 1883, &conns).expect("write pcap");
    let rules = env.root.join("suricata-rules/mqtt-ml-events.rules");
    let rules = rules.to_str().unwrap_or_default();
    // With Suricata's TLS and HTTP detection off, the plugin's probe alone decides.
    let alone = env.run(
        "not-mqtt-alone",
        &pcap,
        &[
            "-S",
            rules,
            "--set",
            "app-layer.protocols.tls.enabled=no",
            "--set",
            "app-layer.protocols.http.enabled=no",
        ],
    );
    ensure!(alone.ok(), "{}", alone.describe());
    let taken: Vec<u64> = alone
        .records()
        .iter()
        .filter_map(|r| r["src_port"].as_u64().filter(|p| *p != 42005))
        .collect();
    ensure!(
        taken.is_empty(),
        "probe alone: logged as MQTT from ports {taken:?}"
    );
    let refusals = alone
        .eve()
        .into_iter()
        .rfind(|r| r["event_type"] == "stats")
        .and_then(|s| s["stats"]["mqtt_ml"]["probe_refusals"].as_u64())
        .unwrap_or(0);
    ensure!(
        refusals >= 4,
        "probe alone: {refusals} refusals counted for 4 foreign connections"
    );
    let given_up = flows_given_up_with_event(&alone);
    ensure!(
        given_up == [42001, 42002, 42003, 42004],
        "probe alone: flows given up with the event and the rule's alert: {given_up:?}"
    );
    let run = env.run("not-mqtt", &pcap, &["-S", rules]);
    ensure!(run.ok(), "{}", run.describe());
    let recs = run.records();
    let foreign: Vec<u64> = recs
        .iter()
        .filter_map(|r| r["src_port"].as_u64().filter(|p| *p != 42005))
        .collect();
    ensure!(foreign.is_empty(), "logged as MQTT from ports {foreign:?}");
    ensure!(
        recs.len() == 3,
        "{} records of the MQTT connection",
        recs.len()
    );
    let flows: Vec<Value> = run
        .eve()
        .into_iter()
        .filter(|r| r["event_type"] == "flow")
        .collect();
    for port in [42001u64, 42002, 42003, 42004] {
        let f = flows.iter().find(|f| f["src_port"] == port);
        ensure!(f.is_some(), "no flow record for port {port}");
        let proto = &f.map(|f| f["app_proto"].clone()).unwrap_or_default();
        ensure!(*proto != "mqtt-ml", "port {port}: flow detected as {proto}");
    }
    let mqtt = flows.iter().find(|f| f["src_port"] == 42005);
    ensure!(
        mqtt.is_some_and(|f| f["app_proto"] == "mqtt-ml"),
        "the MQTT connection: {mqtt:?}"
    );
    let protos: Vec<String> = flows
        .iter()
        .filter(|f| f["src_port"] != 42005)
        .map(|f| f["app_proto"].as_str().unwrap_or("none").to_owned())
        .collect();
    let given_up = flows_given_up_with_event(&run);
    ensure!(
        given_up == [42004],
        "TLS and HTTP parsers on: flows given up with the event: {given_up:?} (the random bytes \
         only)"
    );
    Outcome::Pass(format!(
        "probe alone: TLS, HTTP x2, random given up with the event and alert; parsers on: \
         app_proto {protos:?}, random given up with the event; MQTT logged, no event"
    ))
}

/// Client ports of the flows that carry Suricata's protocol-detection event both ways a user sees
/// it: an EVE anomaly record and an alert of the shipped rule (sid 9100031). Sorted.
fn flows_given_up_with_event(run: &super::Run) -> Vec<u64> {
    let client_port = |r: &Value| {
        let (s, d) = (r["src_port"].as_u64(), r["dest_port"].as_u64());
        if s == Some(1883) {
            d
        } else {
            s
        }
    };
    let eve = run.eve();
    let anomalies: Vec<u64> = eve
        .iter()
        .filter(|r| {
            r["event_type"] == "anomaly"
                && r["anomaly"]["event"] == "APPLAYER_PROTO_DETECTION_SKIPPED"
                && r["anomaly"]["layer"] == "proto_detect"
        })
        .filter_map(client_port)
        .collect();
    let alerts: Vec<u64> = run
        .alerts()
        .iter()
        .filter(|a| a["alert"]["signature_id"] == 9100031)
        .filter_map(client_port)
        .collect();
    let mut ports: Vec<u64> = anomalies
        .iter()
        .copied()
        .filter(|p| alerts.contains(p))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// A gap at the end of a stream, with no message after it, still raises its event: a rule on
/// `app-layer-event:mqtt-ml.gap` fires.
pub fn gap_event_without_later_message(env: &Env) -> Outcome {
    let pcap = env.tmp.join("gap-at-end.pcap");
    let segments = vec![
        (Side::Client, synth::connect_311("lossy")),
        (Side::Server, synth::CONNACK_OK.to_vec()),
        (Side::ClientLost, vec![0; 100]),
        (Side::Client, b"abc".to_vec()),
    ];
    synth::write_tcp_pcap(&pcap, 40003, 1883, &segments).expect("write pcap");
    let rules = env.write(
        "gap.rules",
        "alert mqtt any any -> any any (msg:\"gap\"; app-layer-event:mqtt-ml.gap; sid:7;)\n",
    );
    let run = env.run(
        "gap-at-end",
        &pcap,
        &["-S", rules.to_str().unwrap_or_default()],
    );
    ensure!(run.ok(), "{}", run.describe());
    ensure!(
        run.records().len() == 2,
        "{} records (CONNECT, CONNACK expected)",
        run.records().len()
    );
    let alerts = run.alerts();
    ensure!(
        alerts.len() == 1,
        "{} gap alerts; the gap event vanished",
        alerts.len()
    );
    Outcome::Pass("gap event raised with no later message".into())
}

/// The plugin's memory budget: under it, a burst of PUBLISHes past max-msgs-per-segment is kept;
/// with it spent, the rest are counted and dropped (a record says how many), and the stats show
/// use, peak and refusals.
pub fn memcap_bounds_and_counts(env: &Env) -> Outcome {
    let pcap = env.tmp.join("publish-9000.pcap");
    let burst: Vec<u8> = (0..9_000)
        .flat_map(|_| synth::publish_311("t", b"hi"))
        .collect();
    let segments = vec![
        (Side::Client, synth::connect_311("burst")),
        (Side::Server, synth::CONNACK_OK.to_vec()),
        (Side::Client, burst),
    ];
    synth::write_tcp_pcap(&pcap, 40004, 1883, &segments).expect("write pcap");
    let stats_of = |run: &super::Run| -> Value {
        run.eve()
            .into_iter()
            .rfind(|r| r["event_type"] == "stats")
            .map(|s| s["stats"]["mqtt_ml"].clone())
            .unwrap_or_default()
    };
    let cap = "app-layer.protocols.mqtt-ml.max-msgs-per-segment=100";
    let roomy = env.run("memcap-default", &pcap, &["--set", cap]);
    ensure!(roomy.ok(), "{}", roomy.describe());
    ensure!(
        roomy.records().len() == 9_002,
        "default memcap: {} records",
        roomy.records().len()
    );
    let s = stats_of(&roomy);
    ensure!(
        s["memcap_refusals"] == 0 && s["memuse_peak"].as_u64().unwrap_or(0) > 9_000 * 7,
        "default memcap stats: {s}"
    );
    let tight = env.run(
        "memcap-1mb",
        &pcap,
        &[
            "--set",
            cap,
            "--set",
            "app-layer.protocols.mqtt-ml.memcap=1mb",
        ],
    );
    ensure!(tight.ok(), "{}", tight.describe());
    let recs = tight.records();
    let dropped: u64 = recs
        .iter()
        .filter_map(|r| r["mqtt_ml"]["dropped"].as_u64())
        .sum();
    let s = stats_of(&tight);
    let refused = s["memcap_refusals"].as_u64().unwrap_or(0);
    let peak = s["memuse_peak"].as_u64().unwrap_or(0);
    ensure!(
        recs.len() < 9_002 && recs.len() as u64 + dropped == 9_002,
        "1mb: {} records + {dropped} dropped",
        recs.len()
    );
    ensure!(
        refused == dropped,
        "{refused} refusals counted, {dropped} dropped: {s}"
    );
    ensure!(
        peak <= (1 << 20) + 4096,
        "peak {peak} over the 1 MiB budget by more than one transaction"
    );
    Outcome::Pass(format!(
        "default: 9002 kept, peak {} B; 1mb: {} kept, {refused} refused, peak {peak} B",
        stats_of(&roomy)["memuse_peak"],
        recs.len()
    ))
}

/// The packet log (which segment carried each message) is under the memory budget: a PUBLISH sent
/// one byte per segment makes the log hold 40,000 segments until the message completes. With the
/// default memcap that shows in `mqtt_ml.memuse_peak`; with 1mb the log stops growing at the
/// budget, the refusals are counted, and the PUBLISH is still logged, timed by its last segment.
pub fn packet_log_under_memcap(env: &Env) -> Outcome {
    let pcap = env.tmp.join("publish-bytewise.pcap");
    let publish = synth::publish_311("slow/drip", &vec![b'z'; 39_980]);
    let mut segments = vec![
        (Side::Client, synth::connect_311("dripper")),
        (Side::Server, synth::CONNACK_OK.to_vec()),
    ];
    segments.extend(publish.iter().map(|b| (Side::Client, vec![*b])));
    synth::write_tcp_pcap(&pcap, 40005, 1883, &segments).expect("write pcap");
    let stats_of = |run: &super::Run| -> Value {
        run.eve()
            .into_iter()
            .rfind(|r| r["event_type"] == "stats")
            .map(|s| s["stats"]["mqtt_ml"].clone())
            .unwrap_or_default()
    };
    let size = "app-layer.protocols.mqtt-ml.packet-log-size=65536";
    let check_publish = |run: &super::Run, what: &str| -> Result<(), String> {
        let recs = run.records();
        let p = recs.iter().find(|r| r["mqtt_ml"]["msgtype"] == 3);
        match p {
            Some(p) if recs.len() == 3 && p["mqtt_ml"]["tcp"]["len"] == 1 => Ok(()),
            Some(p) => Err(format!(
                "{what}: {} records, PUBLISH timed by a segment of {} bytes",
                recs.len(),
                p["mqtt_ml"]["tcp"]["len"]
            )),
            None => Err(format!("{what}: the PUBLISH was not logged")),
        }
    };
    let roomy = env.run("packet-log-default", &pcap, &["--set", size]);
    ensure!(roomy.ok(), "{}", roomy.describe());
    if let Err(e) = check_publish(&roomy, "default memcap") {
        return Outcome::Fail(e);
    }
    let s = stats_of(&roomy);
    let peak = s["memuse_peak"].as_u64().unwrap_or(0);
    ensure!(
        peak >= 32_768 * 16 && s["memcap_refusals"] == 0,
        "default memcap: 40,000 segments held, yet {s}"
    );
    let tight = env.run(
        "packet-log-1mb",
        &pcap,
        &[
            "--set",
            size,
            "--set",
            "app-layer.protocols.mqtt-ml.memcap=1mb",
        ],
    );
    ensure!(tight.ok(), "{}", tight.describe());
    if let Err(e) = check_publish(&tight, "memcap 1mb") {
        return Outcome::Fail(e);
    }
    let t = stats_of(&tight);
    let refused = t["memcap_refusals"].as_u64().unwrap_or(0);
    let tight_peak = t["memuse_peak"].as_u64().unwrap_or(0);
    ensure!(
        refused > 0 && tight_peak <= 1 << 20,
        "memcap 1mb: {refused} refusals, peak {tight_peak}: {t}"
    );
    Outcome::Pass(format!(
        "default: peak {peak} B; 1mb: peak {tight_peak} B, {refused} refusals; PUBLISH logged and \
         timed by its last segment in both"
    ))
}
