//! End-to-end cases for records that must not depend on how TCP cut the stream or on when
//! Suricata frees a flow: the segmentation fuzzer (bench/segfuzz.py) on a few fixed cases, and
//! the end of a connection counted when its TCP stream ends.
use std::path::Path;
use std::process::Command;

use super::synth::{self, Side};
use super::{Env, Outcome};
use crate::ensure;

/// bench/segfuzz.py over `captures`, `cases` cases each from seed 1, plus `extra` arguments.
/// Returns (exit status, stdout and stderr).
fn segfuzz(env: &Env, captures: &[&str], cases: u32, extra: &[&str]) -> (Option<i32>, String) {
    let mut cmd = Command::new("python3");
    cmd.arg(env.root.join("bench/segfuzz.py"))
        .arg("--cases")
        .arg(cases.to_string())
        .arg("--seed-start")
        .arg("1")
        .arg("--plugin")
        .arg(&env.plugin)
        .arg("--captures")
        .args(captures)
        .args(extra)
        .env("SURICATA", &env.suricata)
        .env("SURICATA_YAML", &env.yaml);
    let out = cmd.current_dir(&env.root).output().expect("run segfuzz.py");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

/// The number before `what` in segfuzz's summary line ("..., 180 messages checked, ...").
fn figure(summary: &str, what: &str) -> Option<u64> {
    let line = summary
        .lines()
        .rev()
        .find(|l| l.starts_with("segfuzz:") && l.contains(what))?;
    let before = &line[..line.find(what)?];
    before.split_whitespace().last()?.parse().ok()
}

/// A few fixed re-segmentations (single-byte pieces, reordering, repeats, overlaps) of four
/// captures give the same records, alerts and events as the captures themselves; and a setting
/// that changes the records of the re-segmented runs only makes the comparison fail, so the
/// comparison is not vacuous.
pub fn segmentation_does_not_change_records(env: &Env) -> Outcome {
    let captures = [
        "pcaps/mqtt5-basic.pcap",
        "pcaps/mqtt31-basic.pcap",
        "pcaps/gen-malformed-a.pcap",
        // MQTT on a port that is not a detection port: case 1 sends the CONNECT's second piece
        // first, which must still time the CONNECT
        "pcaps/mqtt-otherport.pcap",
    ];
    let (code, out) = segfuzz(env, &captures, 2, &[]);
    ensure!(code == Some(0), "segfuzz failed (exit {code:?}):\n{out}");
    let checked = figure(&out, "messages checked").unwrap_or(0);
    let one_byte = figure(&out, "one-byte pieces").unwrap_or(0);
    let reordered = figure(&out, "reordered").unwrap_or(0);
    let overlapping = figure(&out, "overlapping").unwrap_or(0);
    ensure!(
        checked >= 500 && one_byte >= 100 && reordered > 0 && overlapping > 0,
        "too little was exercised: {checked} messages, {one_byte} one-byte pieces, \
         {reordered} reordered, {overlapping} overlapping:\n{out}"
    );
    ensure!(
        out.contains("failed cases: 0"),
        "no count of failed cases:\n{out}"
    );

    let (code, out) = segfuzz(
        env,
        &captures[..1],
        1,
        &[
            "--fuzz-set",
            "app-layer.protocols.mqtt-ml.max-payload-log=4",
        ],
    );
    ensure!(
        code == Some(1) && out.contains("FAIL pcaps/mqtt5-basic.pcap:1") && out.contains(".msg:"),
        "a changed payload log limit went unnoticed (exit {code:?}):\n{out}"
    );
    Outcome::Pass(format!("{checked} messages, {one_byte} one-byte pieces"))
}

/// A client's connections that end with a FIN exchange (no DISCONNECT) stop counting as open
/// when their TCP stream ends, not when Suricata's flow manager later frees the flow: the third
/// of three consecutive connections from one address sees itself as the only open one. Counting
/// at the free made `src.open`, a model feature, depend on thread timing.
pub fn connection_end_counted_at_stream_end(env: &Env) -> Outcome {
    let pcap = env.tmp.join("sequential-connections.pcap");
    let conn = |id: &str| {
        vec![
            (Side::Client, synth::connect_311(id)),
            (Side::Server, synth::CONNACK_OK.to_vec()),
            (Side::Client, synth::PINGREQ.to_vec()),
        ]
    };
    let client = [10, 9, 0, 7];
    synth::write_connections_pcap(
        &pcap,
        1883,
        &[
            (client, 41001, conn("one")),
            (client, 41002, conn("two")),
            (client, 41003, conn("three")),
        ],
    )
    .expect("write pcap");
    for round in 0..3 {
        let run = env.run(
            &format!("sequential-{round}"),
            Path::new(&pcap),
            &["--runmode", "single"],
        );
        ensure!(run.ok(), "{}", run.describe());
        let connects: Vec<(u64, u64, u64)> = run
            .records()
            .iter()
            .filter(|r| r["mqtt_ml"]["msgtype"] == 1)
            .map(|r| {
                (
                    r["src_port"].as_u64().unwrap_or(0),
                    r["mqtt_ml"]["src"]["connects"].as_u64().unwrap_or(0),
                    r["mqtt_ml"]["src"]["open"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        ensure!(
            connects == vec![(41001, 1, 1), (41002, 2, 1), (41003, 3, 1)],
            "CONNECTs as (port, src.connects, src.open): {connects:?}; expected each \
             connection to see itself only as open"
        );
    }
    Outcome::Pass(String::new())
}
