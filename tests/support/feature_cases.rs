//! The plugin's feature vectors against features computed independently from tshark's fields
//! (tests/reference/tshark_features.py), message by message.
use std::process::Command;

use serde_json::Value;

use super::{Env, Outcome};
use crate::ensure;

/// Several connections per client, refused logins (3.1.1 and 5.0), QoS 2 in both directions,
/// one attacker address beside benign devices, many connections held open.
const CAPTURES: &[&str] = &[
    "mqtt311-basic.pcap",
    "mqtt5-basic.pcap",
    "mqtt-auth-fail.pcap",
    "gen-malaria-a.pcap",
    "ns-home/bruteforce-a.pcap",
    "ns-home/slowite-a.pcap",
];

/// Every feature tshark's fields allow, recomputed from them, equals the one the plugin logs.
pub fn features_match_tshark(env: &Env) -> Outcome {
    let schema = env.out_dir("features-schema").join("schema.json");
    let out = Command::new(&env.wrapper)
        .arg("schema")
        .output()
        .expect("run mqtt-ml schema");
    ensure!(out.status.success(), "mqtt-ml schema failed");
    std::fs::write(&schema, &out.stdout).expect("write schema");
    let mut messages = 0;
    let mut max_diff: std::collections::BTreeMap<String, f64> = Default::default();
    // Messages on which the oracle's value is not 0: a check only ever made on zeros proves
    // little.
    let mut nonzero: std::collections::BTreeMap<String, u64> = Default::default();
    let mut failures = vec![];
    for name in CAPTURES {
        let pcap = env.pcap(name);
        let tag = name.replace('/', "-");
        // One thread: the client counters then see connections in the order packets arrive.
        let run = env.run(
            &format!("features-{tag}"),
            &pcap,
            &[
                "--runmode",
                "single",
                "--set",
                "app-layer.protocols.mqtt-ml.log-features=yes",
            ],
        );
        ensure!(run.ok(), "{name}: {}", run.describe());
        let summary = run.dir.join("features.json");
        let out = Command::new("python3")
            .arg(env.root.join("tests/reference/tshark_features.py"))
            .arg("--pcap")
            .arg(&pcap)
            .arg("--eve")
            .arg(run.dir.join("eve.json"))
            .arg("--out-of-order")
            .arg("--schema")
            .arg(&schema)
            .arg("--json")
            .arg(&summary)
            .output()
            .expect("run tshark_features.py");
        let text = std::fs::read_to_string(&summary).unwrap_or_default();
        let Ok(s) = serde_json::from_str::<Value>(&text) else {
            failures.push(format!(
                "{name}: no summary: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        };
        messages += s["paired"].as_u64().unwrap_or(0);
        if let Some(features) = s["features"].as_object() {
            for (f, st) in features {
                let d = st["max_abs_diff"].as_f64().unwrap_or(f64::NAN);
                let e = max_diff.entry(f.clone()).or_insert(0.0);
                *e = e.max(d);
                *nonzero.entry(f.clone()).or_insert(0) += st["nonzero"].as_u64().unwrap_or(0);
            }
        }
        if s["ok"] != true {
            let report = String::from_utf8_lossy(&out.stdout);
            let head: Vec<&str> = report.lines().take(40).collect();
            failures.push(format!("{name}:\n{}", head.join("\n")));
        }
    }
    ensure!(failures.is_empty(), "{}", failures.join("\n"));
    ensure!(
        max_diff.len() == 10,
        "expected 10 checked features (every one but malformed), got {:?}",
        max_diff.keys()
    );
    let zero: Vec<&String> = nonzero
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(f, _)| f)
        .collect();
    ensure!(zero.is_empty(), "features only ever 0 here: {zero:?}");
    let diffs: Vec<String> = max_diff
        .iter()
        .map(|(f, d)| format!("{f} {d:.1e}"))
        .collect();
    Outcome::Pass(format!(
        "{} captures, {messages} messages, 10 features each as tshark's fields give them \
         (tolerance 1e-6 absolute and relative; src_open and window edges between bounds); \
         largest differences: {}; malformed not checked",
        CAPTURES.len(),
        diffs.join(", ")
    ))
}
