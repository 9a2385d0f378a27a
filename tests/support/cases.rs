//! The end-to-end cases. Each returns Pass (with the figure it measured), Fail or Skip.
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::{Env, Outcome};
use crate::ensure;

const OTHER_PORT: u16 = 18830;

fn ports_for(pcap: &Path) -> String {
    let name = pcap.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.contains("otherport") {
        OTHER_PORT.to_string()
    } else {
        "1883".to_string()
    }
}

/// Two suricata-verify captures hold flows without a TCP handshake; like their own tests, they
/// need midstream pickup switched on.
fn extra_args_for(pcap: &Path) -> &'static [&'static str] {
    let name = name_of(pcap);
    if name.contains("midstream") || name.starts_with("mqtt-ping") {
        &["--set", "stream.midstream=true"]
    } else {
        &[]
    }
}

/// The project's benign captures: the protocol walkthroughs and the generated benign traffic.
fn is_benign_capture(p: &Path) -> bool {
    let name = name_of(p);
    name.starts_with("mqtt") || name.starts_with("gen-benign")
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every capture, stock yaml + plugin: clean exit, no error lines, MQTT records logged.
pub fn stock_yaml_every_capture(env: &Env) -> Outcome {
    let mut pcaps = env.project_pcaps();
    let verify = env.suricata_verify_pcaps();
    let have_verify = verify.is_some();
    pcaps.extend(verify.unwrap_or_default());
    ensure!(
        pcaps.len() >= 5,
        "expected the project's captures, found {}",
        pcaps.len()
    );
    let mut total = 0;
    for p in &pcaps {
        let run = env.run(&format!("stock-{}", name_of(p)), p, extra_args_for(p));
        ensure!(run.ok(), "{}: {}", name_of(p), run.describe());
        ensure!(
            run.error_lines().is_empty(),
            "{}: errors: {:?}",
            name_of(p),
            run.error_lines()
        );
        let n = run.records().len();
        ensure!(n > 0, "{}: no mqtt_ml records", name_of(p));
        total += n;
    }
    let figure = format!("{} captures, {total} mqtt_ml records", pcaps.len());
    if !have_verify {
        // The project's captures passed, but half of what this case covers was not there.
        return Outcome::Skip(format!(
            "dataset not found: ../shared/datasets/suricata-verify (project captures only: {figure})"
        ));
    }
    Outcome::Pass(figure)
}

/// The project's own captures hold every segment (recorded on loopback or a namespace bridge;
/// the generators report tcpdump's drop count), so a segment that arrives out of order is late,
/// never lost: tshark must reassemble it or it shows nothing of the message. Third-party captures may lack segments on purpose (Suricata's
/// `mqtt-events-missing-connect`), where tshark would wait for them and show nothing more.
fn out_of_order_for(env: &Env, pcap: &Path) -> &'static [&'static str] {
    if pcap.starts_with(env.root.join("pcaps")) {
        &["--out-of-order"]
    } else {
        &[]
    }
}

struct Agreement {
    pcaps: usize,
    messages_tshark: u64,
    aligned: u64,
    compared: u64,
    agreeing: u64,
    excused: u64,
    refused: u64,
    failures: Vec<String>,
}

fn agreement(env: &Env, pcaps: &[PathBuf]) -> Agreement {
    let mut a = Agreement {
        pcaps: pcaps.len(),
        messages_tshark: 0,
        aligned: 0,
        compared: 0,
        agreeing: 0,
        excused: 0,
        refused: 0,
        failures: vec![],
    };
    for p in pcaps {
        let name = name_of(p);
        // The field-by-field comparison needs every wire field: the full record.
        let mut args = extra_args_for(p).to_vec();
        args.extend(["--set", "app-layer.protocols.mqtt-ml.eve-record=full"]);
        let run = env.run(&format!("agree-{name}"), p, &args);
        if !run.ok() {
            a.failures
                .push(format!("{name}: suricata {}", run.describe()));
            continue;
        }
        let summary = run.dir.join("agreement.json");
        let out = Command::new("python3")
            .arg(env.root.join("tests/reference/compare.py"))
            .arg("--pcap")
            .arg(p)
            .arg("--eve")
            .arg(run.dir.join("eve.json"))
            .arg("--ports")
            .arg(ports_for(p))
            .arg("--quirks")
            .args(out_of_order_for(env, p))
            .arg("--json")
            .arg(&summary)
            .output()
            .expect("run compare.py");
        let text = std::fs::read_to_string(&summary).unwrap_or_default();
        let Ok(s) = serde_json::from_str::<Value>(&text) else {
            a.failures.push(format!(
                "{name}: compare.py wrote no summary: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        };
        a.messages_tshark += s["messages_tshark"].as_u64().unwrap_or(0);
        a.aligned += s["aligned"].as_u64().unwrap_or(0);
        a.compared += s["fields_compared"].as_u64().unwrap_or(0);
        a.agreeing += s["fields_agreeing"].as_u64().unwrap_or(0);
        a.excused += s["fields_excused"].as_u64().unwrap_or(0);
        a.refused += s["tshark_refused"].as_u64().unwrap_or(0);
        if s["ok"] != true {
            let report = String::from_utf8_lossy(&out.stdout);
            let tail: Vec<&str> = report.lines().take(30).collect();
            a.failures.push(format!("{name}:\n{}", tail.join("\n")));
        }
    }
    a
}

fn agreement_outcome(a: Agreement) -> Outcome {
    let pct = if a.compared == 0 {
        0.0
    } else {
        100.0 * a.agreeing as f64 / a.compared as f64
    };
    let figure = format!(
        "{} captures, {} of {} tshark messages aligned, {} of {} fields agree ({pct:.4}%), \
         {} differ by a documented tshark quirk, {} in connections refused as not MQTT",
        a.pcaps, a.aligned, a.messages_tshark, a.agreeing, a.compared, a.excused, a.refused
    );
    ensure!(a.compared > 0, "nothing compared");
    ensure!(a.failures.is_empty(), "{figure}\n{}", a.failures.join("\n"));
    Outcome::Pass(figure)
}

/// Message-by-message agreement with tshark on the project's captures (the namespace captures
/// of `pcaps/ns-home/` included) and Suricata's own.
pub fn agreement_bundled(env: &Env) -> Outcome {
    let mut pcaps = env.project_pcaps();
    let namespace = env.namespace_pcaps();
    ensure!(!namespace.is_empty(), "no captures in pcaps/ns-home/");
    pcaps.extend(namespace);
    match env.suricata_verify_pcaps() {
        Some(v) => pcaps.extend(v),
        None => {
            return Outcome::Skip("dataset not found: ../shared/datasets/suricata-verify".into())
        }
    }
    agreement_outcome(agreement(env, &pcaps))
}

/// The same on MQTTset (read in place, never copied).
pub fn agreement_mqttset(env: &Env) -> Outcome {
    match env.mqttset_pcaps() {
        Some(v) if !v.is_empty() => agreement_outcome(agreement(env, &v)),
        _ => Outcome::Skip("dataset not found: ../shared/datasets/mqttset-reduced".into()),
    }
}

/// Each record carries the time of the TCP segment that carried it, which is earlier than the
/// packet (the ACK) on which Suricata parsed and logged it.
pub fn timing_is_carrying_packet(env: &Env) -> Outcome {
    let run = env.run(
        "timing",
        &env.pcap("mqtt311-basic.pcap"),
        &["--set", "app-layer.protocols.mqtt-ml.eve-record=full"],
    );
    ensure!(run.ok(), "{}", run.describe());
    let recs = run.records();
    ensure!(!recs.is_empty(), "no records");
    let mut earlier = 0;
    for r in &recs {
        let m = &r["mqtt_ml"];
        ensure!(
            m["tcp"]["timed_by_packet"] == true,
            "not timed by packet: {m}"
        );
        let ts = m["tcp"]["ts"].as_f64().unwrap_or(0.0);
        let logged = eve_time(&r["timestamp"]);
        ensure!(
            ts <= logged + 1e-6,
            "carrying packet after logging packet: {ts} > {logged}"
        );
        if ts + 1e-6 < logged {
            earlier += 1;
        }
        ensure!(
            m["tcp"]["len"].as_u64().unwrap_or(0) >= 2,
            "tcp.len below a message: {m}"
        );
    }
    ensure!(earlier > 0, "no record was timed before its logging packet");
    Outcome::Pass(format!(
        "{} records, {earlier} logged on a later packet",
        recs.len()
    ))
}

/// Seconds since the epoch of an EVE timestamp like 2026-11-20T23:47:03.123456+0000.
fn eve_time(v: &Value) -> f64 {
    let s = v.as_str().unwrap_or("");
    let parse = |a: usize, b: usize| s.get(a..b).and_then(|x| x.parse::<i64>().ok()).unwrap_or(0);
    let (y, mo, d) = (parse(0, 4), parse(5, 7), parse(8, 10));
    let (h, mi, sec) = (parse(11, 13), parse(14, 16), parse(17, 19));
    let frac: f64 = s
        .get(19..26)
        .and_then(|x| format!("0{x}").parse().ok())
        .unwrap_or(0.0);
    // Days from civil date (proleptic Gregorian), UTC.
    let (y2, m2) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    (days * 86400 + h * 3600 + mi * 60 + sec) as f64 + frac
}

/// `alert mqtt ...` binds to the plugin; the alert carries the message's mqtt_ml object.
pub fn alert_mqtt_binds(env: &Env) -> Outcome {
    let Some(pcap) = env.verify_pcap("mqtt-events-invalid-qos__input.pcap") else {
        return Outcome::Skip("dataset not found: suricata-verify".into());
    };
    let rules = env.write(
        "bind.rules",
        "alert mqtt any any -> any 1883 (msg:\"qos 3\"; app-layer-event:mqtt-ml.invalid_qos; sid:1;)\n",
    );
    let run = env.run("bind", &pcap, &["-S", rules.to_str().unwrap()]);
    ensure!(run.ok(), "{}", run.describe());
    let alerts = run.alerts();
    ensure!(alerts.len() == 1, "expected 1 alert, got {}", alerts.len());
    let a = &alerts[0];
    ensure!(a["app_proto"] == "mqtt-ml", "app_proto {}", a["app_proto"]);
    ensure!(a["mqtt_ml"]["qos"] == 3, "alert metadata: {}", a["mqtt_ml"]);
    ensure!(
        a["mqtt_ml"]["malformed"] == true,
        "alert metadata: {}",
        a["mqtt_ml"]
    );
    Outcome::Pass(String::new())
}

/// Rules with Suricata's built-in mqtt.* keywords are refused at load: an error, no crash.
pub fn builtin_keywords_rejected(env: &Env) -> Outcome {
    let rules = env.write(
        "builtin.rules",
        "alert mqtt any any -> any any (msg:\"v5\"; mqtt.protocol_version:5; sid:2;)\n",
    );
    let run = env.check("builtin", &["-S", rules.to_str().unwrap()]);
    ensure!(run.code == Some(1), "expected exit 1: {}", run.describe());
    ensure!(
        run.output.contains("error parsing signature"),
        "{}",
        run.describe()
    );
    ensure!(
        run.output
            .contains("built-in mqtt.* keywords will not load"),
        "no explanation logged: {}",
        run.describe()
    );
    ensure!(
        run.output
            .contains("mqtt-ml rules convert IN.rules > OUT.rules"),
        "the explanation does not name the converter: {}",
        run.describe()
    );
    Outcome::Pass(String::new())
}

/// The shipped event rules all load, and malformed captures fire the expected ones.
pub fn event_rules(env: &Env) -> Outcome {
    let rules = env.root.join("suricata-rules/mqtt-ml-events.rules");
    let n_rules = match env.rules_all_load("events-load", &rules) {
        Ok(n) => n,
        Err(e) => return Outcome::Fail(e),
    };

    let cases: &[(&str, &str)] = &[
        ("mqtt-events-invalid-qos__input.pcap", "invalid_qos"),
        (
            "mqtt-events-unassigned-msgtype__input.pcap",
            "reserved_msg_type",
        ),
        ("mqtt-events-missing-connect__input.pcap", "missing_connect"),
        ("mqtt5-excessiveproplen__input.pcap", "oversized_properties"),
    ];
    let mut fired = 0;
    for (pcap, event) in cases {
        let Some(p) = env.verify_pcap(pcap) else {
            return Outcome::Skip("dataset not found: suricata-verify".into());
        };
        let run = env.run(
            &format!("events-{pcap}"),
            &p,
            &["-S", rules.to_str().unwrap()],
        );
        ensure!(run.ok(), "{pcap}: {}", run.describe());
        let hit = run.alerts().iter().any(|a| {
            a["alert"]["metadata"]["mqtt_ml_event"]
                .as_array()
                .is_some_and(|v| v.iter().any(|e| e == event))
        });
        ensure!(
            hit,
            "{pcap}: no alert for {event}; alerts: {:?}",
            run.alerts()
                .iter()
                .map(|a| a["alert"]["signature"].clone())
                .collect::<Vec<_>>()
        );
        fired += 1;
    }
    // The generated malformed capture fires too.
    let gen = env.pcap("gen-malformed-a.pcap");
    let run = env.run(
        "events-gen-malformed",
        &gen,
        &["-S", rules.to_str().unwrap()],
    );
    ensure!(run.ok(), "{}", run.describe());
    let gen_alerts = run.alerts().len();
    ensure!(gen_alerts > 0, "gen-malformed-a.pcap: no event alerts");
    // And the benign captures stay silent.
    for p in env
        .project_pcaps()
        .into_iter()
        .filter(|p| is_benign_capture(p))
    {
        let run = env.run(
            &format!("events-benign-{}", name_of(&p)),
            &p,
            &["-S", rules.to_str().unwrap()],
        );
        ensure!(run.ok(), "{}", run.describe());
        let sigs: Vec<Value> = run
            .alerts()
            .iter()
            .map(|a| a["alert"]["signature"].clone())
            .collect();
        ensure!(
            sigs.is_empty(),
            "{}: unexpected alerts {sigs:?}",
            name_of(&p)
        );
    }
    Outcome::Pass(format!(
        "{n_rules} rules load; {fired} malformed captures fire, {gen_alerts} alerts on the \
         generated one; benign silent"
    ))
}

/// suricata-rules/mqtt-ml.yaml loads the plugin and enables the record type by itself.
pub fn yaml_include(env: &Env) -> Outcome {
    let dir = env.out_dir("include");
    let include = env.root.join("suricata-rules/mqtt-ml.yaml");
    let out = Command::new(&env.suricata)
        .arg("-c")
        .arg(&env.yaml)
        .arg("--include")
        .arg(&include)
        .args(["-k", "none", "-l"])
        .arg(&dir)
        .arg("-r")
        .arg(env.pcap("mqtt311-basic.pcap"))
        .current_dir(&env.root)
        .output()
        .expect("run suricata");
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let n = super::mqtt_ml_records_in(&dir);
    ensure!(n > 0, "no mqtt_ml records with the include");
    Outcome::Pass(format!("{n} records"))
}

/// `mqtt-ml --plugin libmqtt_ml.so -r capture` runs Suricata with the plugin.
pub fn wrapper(env: &Env) -> Outcome {
    let dir = env.out_dir("wrapper");
    let out = Command::new(&env.wrapper)
        .arg("--plugin")
        .arg("target/release/libmqtt_ml.so")
        .arg("-c")
        .arg(&env.yaml)
        .args(["-k", "none", "-l"])
        .arg(&dir)
        .arg("-r")
        .arg(env.pcap("mqtt5-basic.pcap"))
        .env("SURICATA", &env.suricata)
        .current_dir(&env.root)
        .output()
        .expect("run wrapper");
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let n = super::mqtt_ml_records_in(&dir);
    ensure!(n > 0, "no records through the wrapper");
    let bad = Command::new(&env.wrapper)
        .args(["--plugin", "/nonexistent.so", "-V"])
        .output()
        .expect("run");
    ensure!(bad.status.code() == Some(2), "missing plugin should exit 2");
    Outcome::Pass(format!("{n} records"))
}

/// MQTT on a port nobody configured is found by its CONNECT.
pub fn other_port(env: &Env) -> Outcome {
    let run = env.run("otherport", &env.pcap("mqtt-otherport.pcap"), &[]);
    ensure!(run.ok(), "{}", run.describe());
    let recs = run.records();
    let on_port = recs.iter().filter(|r| r["dest_port"] == OTHER_PORT).count();
    ensure!(
        on_port > 0 && on_port == recs.len(),
        "{on_port} of {} records on {OTHER_PORT}",
        recs.len()
    );
    Outcome::Pass(format!("{on_port} records on port {OTHER_PORT}"))
}

/// A flow picked up midstream (no handshake, no CONNECT) is parsed from the next message.
pub fn midstream(env: &Env) -> Outcome {
    let Some(pcap) = env.verify_pcap("mqtt-midstream-split__mqtt-midstream-split.pcap") else {
        return Outcome::Skip("dataset not found: suricata-verify".into());
    };
    let run = env.run("midstream", &pcap, &["--set", "stream.midstream=true"]);
    ensure!(run.ok(), "{}", run.describe());
    let recs = run.records();
    ensure!(!recs.is_empty(), "no records from a midstream flow");
    let missing = recs.iter().filter(|r| {
        r["mqtt_ml"]["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|x| x == "missing_connect"))
    });
    ensure!(
        missing.count() == 0,
        "midstream flow flagged missing_connect"
    );
    Outcome::Pass(format!("{} records", recs.len()))
}

/// A bad value stops Suricata with one line naming the key and the fix.
pub fn bad_config(env: &Env) -> Outcome {
    let run = env.check(
        "badconf",
        &["--set", "app-layer.protocols.mqtt-ml.max-tx=lots"],
    );
    ensure!(run.code == Some(1), "expected exit 1: {}", run.describe());
    let lines: Vec<&str> = run
        .output
        .lines()
        .filter(|l| l.contains("max-tx"))
        .collect();
    ensure!(
        lines.len() == 1,
        "expected one line about max-tx: {}",
        run.describe()
    );
    ensure!(
        lines[0].contains("whole number") && lines[0].contains("'lots'"),
        "{}",
        lines[0]
    );
    Outcome::Pass(String::new())
}

/// Limits set in the yaml reach the parser: with a tiny max-msg-length, longer messages are
/// recorded by their header only, flagged `message_too_large`, and the flow goes on.
pub fn limits_apply(env: &Env) -> Outcome {
    let p = env.pcap("mqtt311-basic.pcap");
    let normal = env.run("limits-default", &p, &[]).records().len();
    let run = env.run(
        "limits-small",
        &p,
        &[
            "--set",
            "app-layer.protocols.mqtt-ml.max-msg-length=16",
            // `len` (the remaining length) is in the full record only.
            "--set",
            "app-layer.protocols.mqtt-ml.eve-record=full",
        ],
    );
    ensure!(run.ok(), "{}", run.describe());
    let recs = run.records();
    let too_large = |r: &&Value| {
        r["mqtt_ml"]["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|x| x == "message_too_large"))
    };
    let flagged: Vec<&Value> = recs.iter().filter(too_large).collect();
    ensure!(
        recs.len() == normal,
        "{} records with a 16-byte limit, {normal} without",
        recs.len()
    );
    ensure!(!flagged.is_empty(), "no message_too_large events");
    for r in &flagged {
        let m = &r["mqtt_ml"];
        ensure!(
            m["len"].as_u64().unwrap_or(0) + 2 > 16,
            "flagged a short message: {m}"
        );
        ensure!(
            m.get("clientid").is_none() && m.get("topic").is_none(),
            "body parsed: {m}"
        );
    }
    let short = recs.iter().filter(|r| !too_large(r)).count();
    ensure!(short > 0, "no message under the limit was parsed");
    Outcome::Pass(format!(
        "{} of {normal} messages over 16 bytes recorded by header only",
        flagged.len()
    ))
}

/// Failed CONNACKs count per flow and, across connections, per client address.
pub fn failed_auth(env: &Env) -> Outcome {
    let run = env.run("auth", &env.pcap("mqtt-auth-fail.pcap"), &[]);
    ensure!(run.ok(), "{}", run.describe());
    let connacks: Vec<Value> = run
        .records()
        .into_iter()
        .filter(|r| r["mqtt_ml"]["msgtype"] == 2)
        .map(|r| r["mqtt_ml"].clone())
        .collect();
    let failures = connacks.iter().filter(|m| m["conack_val"] != 0).count();
    ensure!(failures >= 2, "expected failed CONNACKs, got {failures}");
    for m in &connacks {
        let want = u64::from(m["conack_val"] != 0);
        ensure!(
            m["flow"]["failed_auth"] == want,
            "per-flow failed_auth: {m}"
        );
    }
    let max_src = connacks
        .iter()
        .filter_map(|m| m["src"]["failed_auth"].as_u64())
        .max()
        .unwrap_or(0);
    ensure!(
        max_src as usize == failures,
        "per-source failed_auth {max_src}, failures {failures}"
    );
    Outcome::Pass(format!("{failures} failed CONNACKs counted per source"))
}

/// Scores do not depend on the number of worker threads when flows are scheduled by address
/// pair: on every project capture, two threads give exactly the single-threaded records, message
/// by message, every field (score, per-client and per-flow counters) compared exactly. Messages
/// Suricata parses only at the end-of-capture flush (`pkt_src` "stream (flow timeout)": never
/// ACKed) are parsed in an order that varies from run to run even with one thread
/// (docs/performance.md); they are counted on both sides but their values are not compared.
pub fn thread_count_independent(env: &Env) -> Outcome {
    type Key = (String, u64, String, u64, String, u64);
    let records = |run: &super::Run| -> (Vec<(Key, String)>, usize) {
        let mut flushed = 0;
        let mut v: Vec<(Key, String)> = Vec::new();
        for r in run.records() {
            let m = &r["mqtt_ml"];
            let key = (
                r["src_ip"].as_str().unwrap_or("").to_owned(),
                r["src_port"].as_u64().unwrap_or(0),
                r["dest_ip"].as_str().unwrap_or("").to_owned(),
                r["dest_port"].as_u64().unwrap_or(0),
                m["direction"].as_str().unwrap_or("").to_owned(),
                m["msg_index"].as_u64().unwrap_or(0),
            );
            if r["pkt_src"] == "wire/pcap" {
                v.push((key, m.to_string()));
            } else {
                flushed += 1;
            }
        }
        v.sort();
        (v, flushed)
    };
    let pcaps = env.project_pcaps();
    ensure!(pcaps.len() >= 5, "expected the project's captures");
    let (mut compared, mut flushed_total) = (0, 0);
    for p in &pcaps {
        let name = name_of(p);
        let single = env.run(&format!("threads-1-{name}"), p, &["--runmode", "single"]);
        ensure!(single.ok(), "{name}: {}", single.describe());
        let two = env.run(
            &format!("threads-2-{name}"),
            p,
            &[
                "--runmode",
                "autofp",
                "--set",
                "autofp-scheduler=ippair",
                "--set",
                "threading.detect-thread-ratio=1",
            ],
        );
        ensure!(two.ok(), "{name}: {}", two.describe());
        let ((a, fa), (b, fb)) = (records(&single), records(&two));
        ensure!(
            !a.is_empty() && a.len() + fa == b.len() + fb,
            "{name}: {} vs {} records",
            a.len() + fa,
            b.len() + fb
        );
        let (mut i, mut j, mut differ) = (0, 0, Vec::new());
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                std::cmp::Ordering::Equal => {
                    if a[i].1 != b[j].1 {
                        differ.push(format!("{:?}\n  1: {}\n  2: {}", a[i].0, a[i].1, b[j].1));
                    }
                    compared += 1;
                    i += 1;
                    j += 1;
                }
                // A message parsed from a packet in one run and at the flush in the other.
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
            }
        }
        ensure!(
            differ.is_empty(),
            "{name}: {} messages differ with 2 threads, first: {}",
            differ.len(),
            differ[0]
        );
        flushed_total += fa.max(fb);
    }
    Outcome::Pass(format!(
        "{} captures, {compared} messages identical in every field with 1 and 2 threads; \
         {flushed_total} parsed at the end-of-capture flush not compared",
        pcaps.len()
    ))
}

/// `log-records: anomalies` writes records for anomalous messages only, and alerts still work.
pub fn log_anomalies_only(env: &Env) -> Outcome {
    // An attack beside benign devices on their own addresses: some records anomalous, some not.
    let p = env.pcap("ns-home/bruteforce-a.pcap");
    let rules = env.root.join("suricata-rules/mqtt-ml.rules");
    let rules = rules.to_str().unwrap_or_default();
    let all = env.run("records-all", &p, &["-S", rules]);
    ensure!(all.ok(), "{}", all.describe());
    let anomalous = all
        .records()
        .iter()
        .filter(|r| r["mqtt_ml"]["anomaly"] == true)
        .count();
    let only = "app-layer.protocols.mqtt-ml.log-records=anomalies";
    let some = env.run("records-anomalies", &p, &["-S", rules, "--set", only]);
    ensure!(some.ok(), "{}", some.describe());
    let recs = some.records();
    ensure!(
        recs.iter().all(|r| r["mqtt_ml"]["anomaly"] == true),
        "a non-anomalous record was logged"
    );
    // Compared within the run: a message parsed at the end-of-capture flush may score slightly
    // differently from one run to the next (see docs/performance.md).
    let stats = some.eve().into_iter().rfind(|r| r["event_type"] == "stats");
    let counted = stats
        .as_ref()
        .and_then(|s| s["stats"]["mqtt_ml"]["anomalies"].as_u64());
    ensure!(
        counted == Some(recs.len() as u64),
        "{} records, {counted:?} anomalies counted",
        recs.len()
    );
    ensure!(
        anomalous > 0 && recs.len() < all.records().len(),
        "nothing was left out"
    );
    ensure!(
        some.alerts().len() == all.alerts().len(),
        "alerts changed: {} vs {}",
        some.alerts().len(),
        all.alerts().len()
    );
    let noscore = "app-layer.protocols.mqtt-ml.scoring=no";
    let bad = env.check("records-noscore", &["--set", only, "--set", noscore]);
    ensure!(
        bad.code == Some(1) && bad.output.contains("needs scoring"),
        "{}",
        bad.describe()
    );
    Outcome::Pass(format!(
        "{} of {} records written",
        recs.len(),
        all.records().len()
    ))
}
