//! End-to-end checks of the EVE output against docs/eve.schema.json and of the Elastic assets in
//! elastic/ against that output: tests/schema/validate_eve.py and tests/schema/check_mapping.py on
//! what Suricata with the plugin writes for every capture.
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use super::{Env, Outcome};
use crate::ensure;

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Like their own suricata-verify tests, two captures need midstream pickup.
fn midstream_args(pcap: &Path) -> Vec<String> {
    let name = name_of(pcap);
    if name.contains("midstream") || name.starts_with("mqtt-ping") {
        vec!["--set".into(), "stream.midstream=true".into()]
    } else {
        vec![]
    }
}

/// The project's captures and Suricata's MQTT captures.
fn all_captures(env: &Env) -> Result<Vec<PathBuf>, Outcome> {
    let mut pcaps = env.project_pcaps();
    if pcaps.len() < 5 {
        return Err(Outcome::Fail(format!(
            "expected the project's captures in pcaps/, found {}",
            pcaps.len()
        )));
    }
    match env.suricata_verify_pcaps() {
        Some(v) if !v.is_empty() => pcaps.extend(v),
        _ => {
            return Err(Outcome::Skip(
                "dataset not found: ../shared/datasets/suricata-verify".into(),
            ))
        }
    }
    Ok(pcaps)
}

/// The project venv's Python (it has `jsonschema`, training/requirements.txt) if set up, else
/// python3 (validate_eve.py then uses its built-in validator).
fn python() -> PathBuf {
    let cache = std::env::var_os("MQTT_ML_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .map(|d| PathBuf::from(d).join("mqtt-ml"))
                .or_else(|| {
                    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/mqtt-ml"))
                })
        });
    cache
        .map(|c| c.join("venv/bin/python"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// Runs Suricata over every capture with `args` (plus log-features, log-passwords, the event
/// rules) and returns the eve.json files and the mqtt_ml record count.
fn run_all(
    env: &Env,
    tag: &str,
    pcaps: &[PathBuf],
    args: &[String],
) -> Result<(Vec<PathBuf>, usize), Outcome> {
    let rules = env.root.join("suricata-rules/mqtt-ml-events.rules");
    let mut eves = Vec::new();
    let mut records = 0;
    for p in pcaps {
        let mut a: Vec<String> = args.to_vec();
        a.extend([
            "--set".into(),
            "app-layer.protocols.mqtt-ml.log-features=yes".into(),
            "--set".into(),
            "app-layer.protocols.mqtt-ml.log-passwords=yes".into(),
            "-S".into(),
            rules.display().to_string(),
        ]);
        a.extend(midstream_args(p));
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let name = format!("{tag}-{}", name_of(p));
        let run = env.run(&name, p, &refs);
        if !run.ok() {
            return Err(Outcome::Fail(format!("{name}: {}", run.describe())));
        }
        let n = run.records().len();
        if n == 0 {
            return Err(Outcome::Fail(format!("{name}: no mqtt_ml records")));
        }
        records += n;
        eves.push(run.dir.join("eve.json"));
    }
    Ok((eves, records))
}

struct Checked {
    summary: Value,
    mapping: String,
}

/// validate_eve.py and check_mapping.py on `eves`.
fn check(env: &Env, tag: &str, eves: &[PathBuf]) -> Result<Checked, Outcome> {
    let py = python();
    let summary_path = env.tmp.join(format!("{tag}-validate.json"));
    let out = Command::new(&py)
        .arg(env.root.join("tests/schema/validate_eve.py"))
        .arg("--json")
        .arg(&summary_path)
        .args(eves)
        .output()
        .map_err(|e| Outcome::Fail(format!("{}: {e}", py.display())))?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let tail: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("  ") || l.starts_with("validate"))
            .take(30)
            .collect();
        return Err(Outcome::Fail(format!(
            "validate_eve.py failed:\n{}",
            tail.join("\n")
        )));
    }
    let summary: Value = std::fs::read_to_string(&summary_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| Outcome::Fail(format!("validate_eve.py wrote no summary:\n{text}")))?;
    let out = Command::new(&py)
        .arg(env.root.join("tests/schema/check_mapping.py"))
        .args(eves)
        .output()
        .map_err(|e| Outcome::Fail(format!("{}: {e}", py.display())))?;
    let mapping = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        let tail: Vec<&str> = mapping.lines().take(30).collect();
        return Err(Outcome::Fail(format!(
            "check_mapping.py failed:\n{}{}",
            tail.join("\n"),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let first = mapping
        .lines()
        .next()
        .unwrap_or("")
        .trim_start_matches("check_mapping: ")
        .to_string();
    Ok(Checked {
        summary,
        mapping: first,
    })
}

fn counts(s: &Value) -> String {
    format!(
        "{} objects valid ({} records, {} alerts, {} scored) [{}]",
        s["valid"],
        s["records"],
        s["alerts"],
        s["scored"],
        s["validator"].as_str().unwrap_or("?")
    )
}

/// Every capture with scoring off: each mqtt_ml record and alert matches docs/eve.schema.json,
/// and every field it carries is mapped by elastic/ with a compatible type.
pub fn eve_schema_every_capture(env: &Env) -> Outcome {
    let pcaps = match all_captures(env) {
        Ok(p) => p,
        Err(o) => return o,
    };
    let args = vec![
        "--set".to_string(),
        "app-layer.protocols.mqtt-ml.scoring=no".to_string(),
    ];
    let (eves, records) = match run_all(env, "schema", &pcaps, &args) {
        Ok(r) => r,
        Err(o) => return o,
    };
    let c = match check(env, "schema", &eves) {
        Ok(c) => c,
        Err(o) => return o,
    };
    ensure!(
        c.summary["records"].as_u64() == Some(records as u64),
        "validate_eve.py saw {} records, Suricata wrote {records}",
        c.summary["records"]
    );
    ensure!(
        c.summary["alerts"].as_u64().unwrap_or(0) > 0,
        "no alert carried mqtt_ml: {}",
        c.summary
    );
    Outcome::Pass(format!(
        "{} captures, {}; mapping: {}",
        pcaps.len(),
        counts(&c.summary),
        c.mapping
    ))
}

/// The same with a model loaded (native backend) and `eve-record: full`, so the score fields and
/// every field of the full record are checked too:
/// tests/models/masked11_malformed.tflite with [0, 1] scaling scores malformed messages 1/11
/// and every other message 0 (written as the integer 0).
pub fn eve_schema_scored(env: &Env) -> Outcome {
    let pcaps = match all_captures(env) {
        Ok(p) => p,
        Err(o) => return o,
    };
    let dir = env.out_dir("schema-model");
    let model = dir.join("model.tflite");
    if let Err(e) = std::fs::copy(
        env.root.join("tests/models/masked11_malformed.tflite"),
        &model,
    ) {
        return Outcome::Fail(format!("copy model: {e}"));
    }
    let width = mqtt_ml::features::WIDTH;
    let meta = json!({
        "format": "mqtt-ml-model", "format_version": 1,
        "schema": mqtt_ml::features::schema_json(),
        "scaling": {"min": vec![0.0; width], "max": vec![1.0; width]},
        "thresholds": {"p95": 0.01, "p99": 0.02, "p999": 0.5, "default": "p99"},
    });
    if let Err(e) = std::fs::write(dir.join("model.json"), meta.to_string()) {
        return Outcome::Fail(format!("write metadata: {e}"));
    }
    let args = vec![
        "--set".to_string(),
        format!("app-layer.protocols.mqtt-ml.model={}", model.display()),
        "--set".to_string(),
        "app-layer.protocols.mqtt-ml.backend=native".to_string(),
        // The unscored run checks the default record; this one every field of the full record.
        "--set".to_string(),
        "app-layer.protocols.mqtt-ml.eve-record=full".to_string(),
    ];
    let (eves, _) = match run_all(env, "schema-scored", &pcaps, &args) {
        Ok(r) => r,
        Err(o) => return o,
    };
    let c = match check(env, "schema-scored", &eves) {
        Ok(c) => c,
        Err(o) => return o,
    };
    let s = &c.summary;
    ensure!(
        s["scored"].as_u64().is_some() && s["scored"] == s["checked"],
        "not every object carries a score: {s}"
    );
    Outcome::Pass(format!(
        "{} captures, {}; mapping: {}",
        pcaps.len(),
        counts(s),
        c.mapping
    ))
}
