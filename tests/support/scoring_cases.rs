//! End-to-end scoring: the plugin with a model whose behaviour the test controls.
//!
//! `tests/models/masked11_malformed.tflite` reconstructs every feature exactly except
//! `malformed`, which it reconstructs as 0; with scaling [0, 1] a malformed message scores exactly
//! 1/11 and every other message 0, so each rule's expected alerts are known message by message.
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::{Env, Outcome, Run};
use crate::ensure;

const MALFORMED_SCORE: f64 = 1.0 / mqtt_ml::features::WIDTH as f64;

/// Copies `model` into the test's directory with a metadata file made from `meta`.
fn install_model(env: &Env, name: &str, model: &str, meta: &Value) -> PathBuf {
    let dir = env.out_dir(&format!("model-{name}"));
    let dst = dir.join("model.tflite");
    std::fs::copy(env.root.join("tests/models").join(model), &dst).expect("copy model");
    std::fs::write(dir.join("model.json"), serde_json::to_string(meta).unwrap())
        .expect("write meta");
    dst
}

/// Thresholds: p95 0.001, p99 0.005 (the default), p999 0.5. A malformed message (1/11) is
/// above p99 by more than the decision's extreme factor (10), so it is anomalous on its own.
fn metadata() -> Value {
    metadata_with(0.005)
}

fn metadata_with(p99: f64) -> Value {
    let width = mqtt_ml::features::WIDTH;
    json!({
        "format": "mqtt-ml-model", "format_version": 1,
        "schema": mqtt_ml::features::schema_json(),
        "scaling": {"min": vec![0.0; width], "max": vec![1.0; width]},
        "thresholds": {"p95": 0.001, "p99": p99, "p999": 0.5, "default": "p99"},
    })
}

fn model_args(model: &Path, backend: &str) -> Vec<String> {
    vec![
        "--set".into(),
        format!("app-layer.protocols.mqtt-ml.model={}", model.display()),
        "--set".into(),
        format!("app-layer.protocols.mqtt-ml.backend={backend}"),
    ]
}

fn run_with(env: &Env, name: &str, pcap: &Path, args: &[String]) -> Run {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    env.run(name, pcap, &refs)
}

/// Captures with and without malformed messages.
fn captures(env: &Env) -> Result<Vec<PathBuf>, Outcome> {
    let mut v = vec![env.pcap("mqtt311-basic.pcap"), env.pcap("mqtt5-basic.pcap")];
    for name in [
        "mqtt-events-invalid-qos__input.pcap",
        "mqtt-events-unassigned-msgtype__input.pcap",
    ] {
        v.push(
            env.verify_pcap(name)
                .ok_or_else(|| Outcome::Skip("dataset not found: suricata-verify".into()))?,
        );
    }
    Ok(v)
}

/// `mqtt_ml.score:>X` fires on exactly the malformed messages, with either backend, and every
/// record's score is the predicted one.
pub fn score_rule_fires_where_predicted(env: &Env) -> Outcome {
    let model = install_model(env, "masked", "masked11_malformed.tflite", &metadata());
    let rules = env.write(
        "score.rules",
        "alert mqtt any any -> any any (msg:\"score\"; mqtt_ml.score:>0.01; sid:9199001; rev:1;)\n",
    );
    let pcaps = match captures(env) {
        Ok(p) => p,
        Err(o) => return o,
    };
    let (mut alerts_total, mut malformed_total, mut records_total) = (0, 0, 0);
    for backend in ["tflite", "native"] {
        for p in &pcaps {
            let mut args = model_args(&model, backend);
            args.extend(["-S".into(), rules.display().to_string()]);
            let name = format!(
                "score-{backend}-{}",
                p.file_name().unwrap().to_string_lossy()
            );
            let run = run_with(env, &name, p, &args);
            ensure!(run.ok(), "{name}: {}", run.describe());
            let recs = run.records();
            let mut malformed = 0;
            for r in &recs {
                let m = &r["mqtt_ml"];
                let score = m["score"].as_f64();
                ensure!(score.is_some(), "{name}: record without score: {m}");
                let score = score.unwrap();
                if m["malformed"] == true {
                    malformed += 1;
                    ensure!(
                        (score - MALFORMED_SCORE).abs() < 1e-6,
                        "{name}: malformed scored {score}"
                    );
                    ensure!(
                        m["top_features"][0]["name"] == "malformed",
                        "{name}: top {}",
                        m["top_features"]
                    );
                    ensure!(m["anomaly"] == true, "{name}: not flagged as anomaly");
                    ensure!(
                        m["evidence"]["reason"] == "extreme",
                        "{name}: reason {}",
                        m["evidence"]
                    );
                } else {
                    ensure!(score < 1e-9, "{name}: benign message scored {score}: {m}");
                }
                ensure!(
                    (m["threshold"].as_f64().unwrap_or(0.0) - 0.005).abs() < 1e-9,
                    "threshold {}",
                    m["threshold"]
                );
            }
            let alerts = run.alerts();
            ensure!(
                alerts.len() == malformed,
                "{name}: {} alerts for {malformed} malformed messages",
                alerts.len()
            );
            for a in &alerts {
                ensure!(
                    a["mqtt_ml"]["score"].as_f64().is_some(),
                    "alert without score metadata"
                );
            }
            alerts_total += alerts.len();
            malformed_total += malformed;
            records_total += recs.len();
        }
    }
    ensure!(
        malformed_total >= 4,
        "expected malformed messages in the captures, got {malformed_total}"
    );
    Outcome::Pass(format!(
        "{records_total} records over both backends, {alerts_total} alerts = {malformed_total} malformed"
    ))
}

/// The sticky-buffer form and `mqtt_ml.anomaly` with the model's thresholds.
pub fn sticky_buffer_and_anomaly(env: &Env) -> Outcome {
    let model = install_model(env, "sticky", "masked11_malformed.tflite", &metadata());
    let Some(pcap) = env.verify_pcap("mqtt-events-invalid-qos__input.pcap") else {
        return Outcome::Skip("dataset not found: suricata-verify".into());
    };
    let rules = env.write(
        "sticky.rules",
        "alert mqtt any any -> any any (msg:\"sticky\"; mqtt_ml.score; content:\"0.090909\"; startswith; sid:9199010; rev:1;)\n\
         alert mqtt any any -> any any (msg:\"anomaly\"; mqtt_ml.anomaly; sid:9199011; rev:1;)\n\
         alert mqtt any any -> any any (msg:\"anomaly p999\"; mqtt_ml.anomaly:p999; sid:9199012; rev:1;)\n\
         alert mqtt any any -> any any (msg:\"anomaly p95\"; mqtt_ml.anomaly:p95; sid:9199013; rev:1;)\n",
    );
    let mut args = model_args(&model, "tflite");
    args.extend(["-S".into(), rules.display().to_string()]);
    let run = run_with(env, "sticky", &pcap, &args);
    ensure!(run.ok(), "{}", run.describe());
    let sids: Vec<u64> = run
        .alerts()
        .iter()
        .filter_map(|a| a["alert"]["signature_id"].as_u64())
        .collect();
    let count = |sid| sids.iter().filter(|s| **s == sid).count();
    ensure!(count(9199010) == 1, "sticky buffer: {sids:?}");
    ensure!(
        count(9199011) == 1,
        "anomaly (1/11 is over 10 times the default p99 = 0.005): {sids:?}"
    );
    ensure!(
        count(9199012) == 0,
        "anomaly:p999 (0.5) must stay silent: {sids:?}"
    );
    ensure!(count(9199013) == 1, "anomaly:p95: {sids:?}");
    Outcome::Pass(String::new())
}

/// The decision: with the default threshold at 0.02 a malformed message (1/11) is above it but
/// not extreme (10 x 0.02), so it is anomalous only with evidence: about three above-threshold
/// messages on its connection, or five from its client. Every record's decision is checked
/// against its own evidence, on a capture of one malformed message and on a fuzzer's capture.
pub fn decision_needs_evidence(env: &Env) -> Outcome {
    let model = install_model(
        env,
        "decision",
        "masked11_malformed.tflite",
        &metadata_with(0.02),
    );
    let Some(single) = env.verify_pcap("mqtt-events-invalid-qos__input.pcap") else {
        return Outcome::Skip("dataset not found: suricata-verify".into());
    };
    let fuzz = env.pcap("gen-malformed-a.pcap");
    let mut by_reason = std::collections::BTreeMap::new();
    for (name, pcap) in [("decision-single", &single), ("decision-fuzz", &fuzz)] {
        let run = run_with(env, name, pcap, &model_args(&model, "native"));
        ensure!(run.ok(), "{name}: {}", run.describe());
        let recs = run.records();
        for r in &recs {
            let m = &r["mqtt_ml"];
            let score = m["score"].as_f64().unwrap_or(f64::NAN);
            let above = score > 0.02;
            ensure!(
                m["above_threshold"] == above,
                "{name}: above_threshold: {m}"
            );
            let ev = &m["evidence"];
            let conn = ev["connection"].as_f64().unwrap_or(-1.0);
            let client = ev["client"].as_u64().unwrap_or(0);
            let expect = if !above {
                "none"
            } else if score >= 0.2 {
                "extreme"
            } else if conn >= 2.5 {
                "connection"
            } else if client >= 5 {
                "client"
            } else {
                "none"
            };
            ensure!(ev["reason"] == expect, "{name}: expected {expect}: {m}");
            ensure!(
                m["anomaly"] == (expect != "none"),
                "{name}: anomaly vs evidence: {m}"
            );
            *by_reason.entry(expect).or_insert(0) += 1;
        }
        if name == "decision-single" {
            let flagged = recs
                .iter()
                .filter(|r| r["mqtt_ml"]["anomaly"] == true)
                .count();
            let above = recs
                .iter()
                .filter(|r| r["mqtt_ml"]["above_threshold"] == true)
                .count();
            ensure!(
                above == 1 && flagged == 0,
                "{name}: one odd message must not alarm ({above} above, {flagged} anomalous)"
            );
        }
    }
    ensure!(
        by_reason.get("connection").copied().unwrap_or(0)
            + by_reason.get("client").copied().unwrap_or(0)
            > 0,
        "the fuzzer's capture never accumulated evidence: {by_reason:?}"
    );
    Outcome::Pass(format!("{by_reason:?}"))
}

/// Bad keyword arguments fail the rule at load, cleanly.
pub fn keyword_arguments_checked(env: &Env) -> Outcome {
    let model = install_model(env, "kwargs", "masked11_malformed.tflite", &metadata());
    for (i, opt) in [
        "mqtt_ml.score:>abc;",
        "mqtt_ml.score:>>1;",
        "mqtt_ml.anomaly:p42;",
        "mqtt_ml.score:;x",
    ]
    .iter()
    .enumerate()
    {
        let rules = env.write(
            &format!("bad{i}.rules"),
            &format!(
                "alert mqtt any any -> any any (msg:\"x\"; {opt} sid:{};)\n",
                9199100 + i
            ),
        );
        let mut args = model_args(&model, "native");
        args.extend(["-S".into(), rules.display().to_string()]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = env.check(&format!("badkw{i}"), &refs);
        ensure!(
            run.code == Some(1),
            "{opt}: expected a load failure: {}",
            run.describe()
        );
        ensure!(
            run.output.contains("error parsing signature"),
            "{opt}: {}",
            run.describe()
        );
    }
    Outcome::Pass(String::new())
}

/// Every way the model can be unusable stops Suricata with one error line naming the fix.
pub fn model_failures_are_one_clear_line(env: &Env) -> Outcome {
    let good = install_model(env, "good", "masked11_malformed.tflite", &metadata());
    let corrupt = env.out_dir("model-corrupt").join("model.tflite");
    std::fs::write(&corrupt, b"TFL3 this is not a flatbuffer at all").unwrap();
    std::fs::write(corrupt.with_extension("json"), metadata().to_string()).unwrap();
    let mut v2 = metadata();
    v2["schema"]["version"] = json!(999);
    let wrong_schema = install_model(env, "v999", "masked11_malformed.tflite", &v2);
    let narrow = install_model(env, "narrow", "zero20.tflite", &metadata());
    let no_meta = env.out_dir("model-nometa").join("model.tflite");
    std::fs::copy(&good, &no_meta).unwrap();
    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        ("missing model", model_args(Path::new("/nonexistent/m.tflite"), "tflite"), "not found"),
        ("corrupt model tflite", model_args(&corrupt, "tflite"), "model"),
        ("corrupt model native", model_args(&corrupt, "native"), "model"),
        ("wrong schema", model_args(&wrong_schema, "native"), "retrain"),
        ("wrong width", model_args(&narrow, "native"), "20"),
        ("no metadata", model_args(&no_meta, "native"), "metadata"),
        (
            "missing TFLite library",
            [model_args(&good, "tflite"), vec!["--set".into(), "app-layer.protocols.mqtt-ml.tflite-library=/nonexistent/libtensorflowlite_c.so".into()]].concat(),
            "setup",
        ),
    ];
    for (what, args, needle) in &cases {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = env.check(&format!("fail-{}", what.replace(' ', "-")), &refs);
        ensure!(
            run.code == Some(1),
            "{what}: expected exit 1: {}",
            run.describe()
        );
        let ours: Vec<&str> = run
            .output
            .lines()
            .filter(|l| l.starts_with("E: mqtt-ml"))
            .collect();
        ensure!(
            ours.len() == 1,
            "{what}: expected one error line: {}",
            run.describe()
        );
        ensure!(
            ours[0].contains(needle),
            "{what}: '{}' lacks '{needle}'",
            ours[0]
        );
    }
    Outcome::Pass(format!("{} failure modes", cases.len()))
}

/// The stats counters count what was scored.
pub fn stats_counters(env: &Env) -> Outcome {
    let model = install_model(env, "stats", "masked11_malformed.tflite", &metadata());
    let Some(pcap) = env.verify_pcap("mqtt-events-invalid-qos__input.pcap") else {
        return Outcome::Skip("dataset not found: suricata-verify".into());
    };
    let run = run_with(env, "stats", &pcap, &model_args(&model, "native"));
    ensure!(run.ok(), "{}", run.describe());
    let records = run.records().len() as u64;
    let stats = run.eve().into_iter().rfind(|r| r["event_type"] == "stats");
    let Some(stats) = stats else {
        return Outcome::Fail("no stats record".into());
    };
    let m = &stats["stats"]["mqtt_ml"];
    ensure!(
        m["scored"].as_u64() == Some(records),
        "scored {} vs {records} records: {m}",
        m["scored"]
    );
    ensure!(m["anomalies"].as_u64() == Some(1), "anomalies: {m}");
    ensure!(m["inference_errors"].as_u64() == Some(0), "errors: {m}");
    ensure!(m["scoring_ns"].as_u64().unwrap_or(0) > 0, "scoring_ns: {m}");
    Outcome::Pass(format!("{m}"))
}
