//! End-to-end cases for the `mqtt-ml` command line: detect, score, check, --help and live capture.
use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Env, Outcome};
use crate::ensure;

/// `mqtt-ml ARGS` from the source tree, with the test's Suricata and yaml.
fn cli(env: &Env, args: &[&str]) -> Command {
    let mut c = Command::new(&env.wrapper);
    c.args(args)
        .env("SURICATA", &env.suricata)
        .env("SURICATA_YAML", &env.yaml)
        .env_remove("MQTT_ML_PLUGIN")
        .current_dir(&env.root);
    c
}

fn run_cli(env: &Env, args: &[&str]) -> Output {
    cli(env, args).output().expect("run mqtt-ml")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// The number after `label` on the summary line that starts with it.
fn summary_number(summary: &str, label: &str) -> Option<u64> {
    summary
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

fn eve_records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// `detect` on a capture: a summary whose figures are those of the eve.json it wrote.
pub fn cli_detect_summary(env: &Env) -> Outcome {
    let pcap = env.pcap("gen-malformed-a.pcap");
    let detect = |dir: &Path| {
        run_cli(
            env,
            &[
                "detect",
                pcap.to_str().unwrap(),
                "-o",
                dir.to_str().unwrap(),
            ],
        )
    };
    let dir = env.out_dir("cli-detect");
    let out = detect(&dir);
    ensure!(out.status.success(), "{}", describe(&out));
    let summary = text(&out.stdout);
    let recs = eve_records(&dir.join("eve.json"));
    let msgs: Vec<&Value> = recs
        .iter()
        .filter(|r| r["event_type"] == "mqtt_ml")
        .collect();
    let flows: HashSet<String> = msgs.iter().map(|r| r["flow_id"].to_string()).collect();
    let anomalies = msgs
        .iter()
        .filter(|r| r["mqtt_ml"]["anomaly"] == true)
        .count() as u64;
    let alerts = recs.iter().filter(|r| r["event_type"] == "alert").count() as u64;
    let n = summary_number(&summary, "MQTT messages");
    ensure!(n.is_some_and(|n| n > 0), "no message count:\n{summary}");
    ensure!(
        n == Some(msgs.len() as u64),
        "summary says {n:?} messages, eve.json has {}:\n{summary}",
        msgs.len()
    );
    ensure!(
        summary_number(&summary, "connections") == Some(flows.len() as u64),
        "connections: eve.json has {}:\n{summary}",
        flows.len()
    );
    ensure!(
        summary_number(&summary, "anomalies") == Some(anomalies),
        "anomalies: eve.json has {anomalies}:\n{summary}"
    );
    ensure!(
        summary_number(&summary, "alerts") == Some(alerts),
        "alerts: eve.json has {alerts}:\n{summary}"
    );
    ensure!(
        alerts > 0,
        "the event rules should fire on malformed messages:\n{summary}"
    );
    ensure!(
        summary.contains("\n  event "),
        "event-rule alerts not counted as `event`:\n{summary}"
    );
    if anomalies > 0 {
        ensure!(
            summary.contains("top anomalous clients\n  127.0.0.1"),
            "no top clients:\n{summary}"
        );
    }
    // The same capture decides the same way on every run: its one client's connections are
    // spread over several threads, which must not reorder the per-client evidence.
    let mut again = Vec::new();
    for i in 0..3 {
        let out = detect(&env.out_dir(&format!("cli-detect-{i}")));
        ensure!(out.status.success(), "{}", describe(&out));
        again.push(summary_number(&text(&out.stdout), "anomalies"));
    }
    ensure!(
        again.iter().all(|a| *a == Some(anomalies)),
        "anomalies differ between runs of the same capture: {anomalies}, then {again:?}"
    );
    Outcome::Pass(format!(
        "{} messages, {} connections, {anomalies} anomalies (4 runs alike), {alerts} alerts",
        msgs.len(),
        flows.len()
    ))
}

/// `score`: the exact header, one row per mqtt_ml record, scores that parse as floats.
pub fn cli_score_csv(env: &Env) -> Outcome {
    let pcap = env.pcap("gen-malformed-a.pcap");
    let out = run_cli(env, &["score", pcap.to_str().unwrap()]);
    ensure!(out.status.success(), "{}", describe(&out));
    let csv = text(&out.stdout);
    let mut lines = csv.lines();
    ensure!(
        lines.next()
            == Some(
                "ts,src_ip,src_port,dest_ip,dest_port,direction,msg_index,msgtype,score,threshold,anomaly,top_feature"
            ),
        "header: {:?}",
        csv.lines().next()
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let run = env.run("cli-score-reference", &pcap, &[]);
    ensure!(run.ok(), "{}", run.describe());
    let recs = run.records();
    ensure!(
        rows.len() == recs.len(),
        "{} rows for {} mqtt_ml records",
        rows.len(),
        recs.len()
    );
    // The same messages (client port, position in the flow), whatever the order of flows.
    let mut from_csv: Vec<(String, String)> = Vec::new();
    for r in &rows {
        ensure!(r.len() == 12, "row with {} fields: {r:?}", r.len());
        let score: Result<f64, _> = r[8].parse();
        let threshold: Result<f64, _> = r[9].parse();
        ensure!(
            score.as_ref().is_ok_and(|s| s.is_finite() && *s >= 0.0),
            "score {:?} in {r:?}",
            r[8]
        );
        ensure!(threshold.is_ok(), "threshold {:?} in {r:?}", r[9]);
        // `anomaly` is the decision: never without a score above the threshold.
        let above = score.unwrap() > threshold.unwrap();
        ensure!(
            r[10] == "false" || (r[10] == "true" && above),
            "anomaly {} for score {} / threshold {}",
            r[10],
            r[8],
            r[9]
        );
        ensure!(r[0].parse::<f64>().is_ok(), "ts {:?}", r[0]);
        from_csv.push((r[2].to_string(), r[6].to_string()));
    }
    let mut from_eve: Vec<(String, String)> = recs
        .iter()
        .map(|r| {
            (
                r["src_port"].to_string(),
                r["mqtt_ml"]["msg_index"].to_string(),
            )
        })
        .collect();
    from_csv.sort();
    from_eve.sort();
    ensure!(
        from_csv == from_eve,
        "rows and records are different messages"
    );
    Outcome::Pass(format!("{} rows", rows.len()))
}

/// `check`: ok on the defaults; a bad model path, a broken rule file and a missing config each
/// fail with a line that says what and how to fix it.
pub fn cli_check(env: &Env) -> Outcome {
    let ok = run_cli(env, &["check"]);
    let report = text(&ok.stdout);
    ensure!(ok.status.success(), "{}", describe(&ok));
    ensure!(report.contains("config ok: "), "no config line:\n{report}");
    let schema = format!(
        "schema v{}, width {}",
        mqtt_ml::features::SCHEMA_VERSION,
        mqtt_ml::features::WIDTH
    );
    ensure!(
        report.contains("model ok: ") && report.contains(&schema),
        "no model line with {schema}:\n{report}"
    );
    ensure!(
        report
            .lines()
            .any(|l| l.starts_with("rules ok: ") && l.contains(" rules loaded")),
        "no rules line:\n{report}"
    );

    let bad_model = run_cli(env, &["check", "--model", "/nonexistent/model.tflite"]);
    let report = text(&bad_model.stdout);
    ensure!(
        bad_model.status.code() == Some(1),
        "bad model: {}",
        describe(&bad_model)
    );
    ensure!(
        report.contains("model FAILED")
            && report.contains("/nonexistent/model.tflite not found")
            && report
                .lines()
                .any(|l| l.trim_start().starts_with("fix:") && l.contains("--model")),
        "bad model:\n{report}"
    );

    let broken = env.write(
        "cli-broken.rules",
        "alert mqtt any any -> any any (msg:\"broken\"; no_such_keyword; sid:9199900; rev:1;)\n",
    );
    let bad_rules = run_cli(env, &["check", "--rules", broken.to_str().unwrap()]);
    let report = text(&bad_rules.stdout);
    ensure!(
        bad_rules.status.code() == Some(1),
        "broken rules: {}",
        describe(&bad_rules)
    );
    let fix = format!("fix: correct line 1 of {}", broken.display());
    ensure!(
        report.contains("rules FAILED")
            && report.contains("error parsing signature")
            && report.contains(&fix),
        "broken rules:\n{report}"
    );

    let bad_config = run_cli(env, &["check", "--config", "/nonexistent/suricata.yaml"]);
    let err = text(&bad_config.stderr);
    ensure!(
        bad_config.status.code() == Some(1) && err.contains("pass --config"),
        "missing config: {}",
        describe(&bad_config)
    );
    Outcome::Pass(String::new())
}

/// Every subcommand's --help exits 0 with its usage; a usage error exits 2 naming the fix.
pub fn cli_help(env: &Env) -> Outcome {
    for sub in ["detect", "score", "train", "check", "schema"] {
        let out = run_cli(env, &[sub, "--help"]);
        ensure!(out.status.success(), "{sub} --help: {}", describe(&out));
        ensure!(
            text(&out.stdout).contains(&format!("usage: mqtt-ml {sub}")),
            "{sub} --help: {}",
            describe(&out)
        );
    }
    for args in [&["--help"][..], &["help"], &[]] {
        let out = run_cli(env, args);
        ensure!(out.status.success(), "{args:?}: {}", describe(&out));
        ensure!(
            text(&out.stdout).contains("mqtt-ml detect"),
            "{args:?}: {}",
            describe(&out)
        );
    }
    let out = run_cli(env, &["detect"]);
    ensure!(out.status.code() == Some(2), "{}", describe(&out));
    let err = text(&out.stderr);
    ensure!(
        err.lines().count() == 1 && err.contains("see mqtt-ml detect --help"),
        "{err}"
    );
    let out = run_cli(env, &["score", "x.pcap", "--threshold", "p42"]);
    ensure!(out.status.code() == Some(2), "{}", describe(&out));
    Outcome::Pass(String::new())
}

/// A process stopped by its PID when the case ends, however it ends.
struct Stop(Child);

impl Drop for Stop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            if let Ok(pid) = libc::pid_t::try_from(self.0.id()) {
                // SAFETY: kill(2) on our own child's PID.
                unsafe {
                    libc::kill(pid, libc::SIGINT);
                }
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.0.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Waits for `child` up to `limit`; None if it had to be killed.
fn wait_bounded(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

/// `detect -i lo --seconds N` while a private mosquitto on a free loopback port gets a few
/// PUBLISHes: their messages appear in eve.json and in the summary.
pub fn cli_live_capture(env: &Env) -> Outcome {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Outcome::Skip("live capture on lo needs root".into());
    }
    let mosquitto = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .into_iter()
        .find(|p| Path::new(p).is_file());
    let (Some(mosquitto), true) = (mosquitto, on_path("mosquitto_pub")) else {
        return Outcome::Skip(
            "mosquitto not installed (apt-get install mosquitto mosquitto-clients)".into(),
        );
    };
    let port = match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(a) => a.port(),
        Err(e) => return Outcome::Fail(format!("no free port: {e}")),
    };
    let dir = env.out_dir("cli-live");
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
    )
    .expect("write mosquitto.conf");
    let broker_log = std::fs::File::create(dir.join("mosquitto.log")).expect("log");
    let broker = Command::new(mosquitto)
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(broker_log.try_clone().expect("log"))
        .stderr(broker_log)
        .spawn();
    let _broker = match broker {
        Ok(c) => Stop(c),
        Err(e) => return Outcome::Fail(format!("mosquitto: {e}")),
    };
    ensure!(
        wait_for(Duration::from_secs(5), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        }),
        "mosquitto did not listen on {port}"
    );
    let eve_dir = dir.join("detect");
    let dp = format!("app-layer.protocols.mqtt-ml.detection-ports.dp={port}");
    // Its own af-packet fanout group, so that another Suricata capturing on lo does not share
    // (and split) the packets.
    let cluster = format!("af-packet.1.cluster-id={}", 20000 + port % 10000);
    let stdout = std::fs::File::create(dir.join("cli.stdout")).expect("stdout file");
    let stderr = std::fs::File::create(dir.join("cli.stderr")).expect("stderr file");
    let detect = cli(
        env,
        &[
            "detect",
            "-i",
            "lo",
            "--seconds",
            "4",
            "-o",
            eve_dir.to_str().unwrap(),
            "--",
            "--set",
            &dp,
            "--set",
            &cluster,
        ],
    )
    .stdin(Stdio::null())
    .stdout(stdout)
    .stderr(stderr)
    .spawn();
    let mut detect = match detect {
        Ok(c) => Stop(c),
        Err(e) => return Outcome::Fail(format!("mqtt-ml detect: {e}")),
    };
    let started = wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(eve_dir.join("suricata.out"))
            .is_ok_and(|t| t.contains("Engine started"))
    });
    ensure!(
        started,
        "Suricata did not start capturing:\n{}",
        std::fs::read_to_string(eve_dir.join("suricata.out")).unwrap_or_default()
    );
    const PUBLISHES: usize = 5;
    for i in 0..PUBLISHES {
        let publ = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args([
                "-t",
                "mqtt-ml/cli-test",
                "-q",
                "1",
                "-m",
                &format!("reading {i}"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(mut publ) = publ else {
            return Outcome::Fail("could not run mosquitto_pub".into());
        };
        let st = wait_bounded(&mut publ, Duration::from_secs(3));
        ensure!(st.is_some_and(|s| s.success()), "mosquitto_pub {i}: {st:?}");
    }
    let st = wait_bounded(&mut detect.0, Duration::from_secs(20));
    let out = std::fs::read_to_string(dir.join("cli.stdout")).unwrap_or_default();
    let err = std::fs::read_to_string(dir.join("cli.stderr")).unwrap_or_default();
    ensure!(
        st.is_some_and(|s| s.success()),
        "mqtt-ml detect did not stop cleanly after --seconds: {st:?}\n{out}\n{err}"
    );
    let recs = eve_records(&eve_dir.join("eve.json"));
    let ours: Vec<&Value> = recs
        .iter()
        .filter(|r| r["event_type"] == "mqtt_ml" && r["dest_port"] == port)
        .collect();
    let count = |name: &str| {
        ours.iter()
            .filter(|r| r["mqtt_ml"]["msgtype_name"] == name)
            .count()
    };
    ensure!(
        count("connect") == PUBLISHES && count("publish") == PUBLISHES,
        "port {port}: {} connects, {} publishes in {} records; summary:\n{out}",
        count("connect"),
        count("publish"),
        ours.len()
    );
    let n = summary_number(&out, "MQTT messages").unwrap_or(0);
    ensure!(
        n >= ours.len() as u64,
        "summary counts {n} messages, port {port} alone has {}:\n{out}",
        ours.len()
    );
    Outcome::Pass(format!("{} messages on port {port}", ours.len()))
}

/// `rules convert`: built-in keyword rules come out as mqtt_ml.* rules that load with the plugin,
/// other lines unchanged; an unconvertible rule is kept, reported with its sid, and exit is 1.
pub fn cli_rules_convert(env: &Env) -> Outcome {
    let input = env.write(
        "convert-in.rules",
        "# a comment stays\n\
         alert mqtt any any -> any any (msg:\"connect\"; mqtt.type:CONNECT; mqtt.connect.clientid; content:\"dev\"; sid:9199301; rev:1;)\n\
         alert tcp any any -> any any (msg:\"other\"; content:\"x\"; sid:9199302; rev:1;)\n",
    );
    let out = run_cli(env, &["rules", "convert", input.to_str().unwrap()]);
    ensure!(out.status.success(), "{}", describe(&out));
    let converted = text(&out.stdout);
    ensure!(
        converted.contains("mqtt_ml.type:CONNECT; mqtt_ml.connect.clientid;")
            && converted.contains("# a comment stays\n")
            && converted.contains("(msg:\"other\"; content:\"x\"; sid:9199302; rev:1;)"),
        "output: {converted}"
    );
    let rules = env.write("convert-out.rules", &converted);
    if let Err(e) = env.rules_all_load("convert-load", &rules) {
        return Outcome::Fail(format!("converted rules do not load: {e}"));
    }
    let bad = env.write(
        "convert-bad.rules",
        "alert mqtt any any -> any any (msg:\"event\"; app-layer-event:mqtt.missing_connect; sid:9199303; rev:1;)\n",
    );
    let out = run_cli(env, &["rules", "convert", bad.to_str().unwrap()]);
    ensure!(out.status.code() == Some(1), "exit {:?}", out.status.code());
    ensure!(
        text(&out.stderr).contains("9199303"),
        "report: {}",
        text(&out.stderr)
    );
    Outcome::Pass(String::new())
}

/// `learn`: a site model from a benign capture, which the plugin then loads; thresholds never
/// fall below the model's; too little traffic is one error line.
pub fn cli_learn_site_model(env: &Env) -> Outcome {
    let dir = env.out_dir("learn-site");
    let _ = std::fs::remove_dir_all(&dir);
    let pcap = env.pcap("gen-benign-a.pcap");
    let out = run_cli(
        env,
        &["learn", pcap.to_str().unwrap(), "-o", dir.to_str().unwrap()],
    );
    ensure!(out.status.success(), "{}", describe(&out));
    let model = dir.join("mqtt-ml.tflite");
    let meta: Value = match std::fs::read_to_string(dir.join("mqtt-ml.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
    {
        Some(v) => v,
        None => return Outcome::Fail("no readable site metadata".into()),
    };
    let shipped: Value = serde_json::from_str(
        &std::fs::read_to_string(env.root.join("models/mqtt-ml.json")).unwrap_or_default(),
    )
    .unwrap_or(Value::Null);
    for k in ["p95", "p99", "p999"] {
        let (site, base) = (
            meta["thresholds"][k].as_f64().unwrap_or(-1.0),
            shipped["thresholds"][k].as_f64().unwrap_or(f64::MAX),
        );
        ensure!(site >= base, "{k}: site {site} below the model's {base}");
    }
    ensure!(
        meta["site"]["messages"].as_u64().unwrap_or(0) >= 300,
        "site block: {}",
        meta["site"]
    );
    let check = run_cli(env, &["check", "--model", model.to_str().unwrap()]);
    ensure!(check.status.success(), "site model: {}", describe(&check));
    let small = env.pcap("mqtt311-basic.pcap");
    let dir2 = env.out_dir("learn-small");
    let out = run_cli(
        env,
        &[
            "learn",
            small.to_str().unwrap(),
            "-o",
            dir2.to_str().unwrap(),
        ],
    );
    let err = text(&out.stderr);
    ensure!(
        out.status.code() == Some(1) && err.lines().count() == 1 && err.contains("record longer"),
        "too little traffic: {}",
        describe(&out)
    );
    Outcome::Pass(format!("{}", meta["site"]["messages"]))
}
