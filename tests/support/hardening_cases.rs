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
        &["--set", "app-layer.protocols.mqtt-ml.max-tx=100"],
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
