//! The subcommands that run things: detect, score, train, check.
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use super::args::{Detect, Input, Options};
use super::report::{
    classify, csv_row, error_lines, fix_for, rule_location, rules_loaded, Part, Summary, CSV_HEADER,
};
use super::suricata::{run, source_tree, Progress, RunSpec, Setup};

/// A failure: the lines to print on stderr, then exit 1.
pub struct Failure(pub Vec<String>);

impl From<String> for Failure {
    fn from(s: String) -> Self {
        Failure(vec![s])
    }
}

impl From<&str> for Failure {
    fn from(s: &str) -> Self {
        Failure(vec![s.to_string()])
    }
}

pub type Result<T> = std::result::Result<T, Failure>;

pub fn report(cmd: &str, r: Result<ExitCode>) -> ExitCode {
    match r {
        Ok(c) => c,
        Err(Failure(lines)) => {
            for (i, l) in lines.iter().enumerate() {
                if i == 0 {
                    eprintln!("mqtt-ml {cmd}: {l}");
                } else {
                    eprintln!("  {l}");
                }
            }
            ExitCode::from(1)
        }
    }
}

fn name_of(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "capture".into())
}

/// Removes the files a previous run left in `dir` (Suricata appends to them).
fn clear_outputs(dir: &Path) {
    for f in [
        "eve.json",
        "fast.log",
        "stats.log",
        "suricata.log",
        "suricata.out",
    ] {
        let _ = std::fs::remove_file(dir.join(f));
    }
}

/// Suricata failed: its first error lines and the fix.
fn suricata_failure(output: &str, how: &str, config: &Path, out_file: &Path) -> Failure {
    let errs = error_lines(output);
    let mut lines = vec![format!("suricata failed ({how})")];
    match errs.first() {
        Some(first) => {
            lines.extend(errs.iter().take(3).map(|l| l.to_string()));
            let lower = first.to_ascii_lowercase();
            let fix = if lower.contains("operation not permitted")
                || lower.contains("permission denied")
            {
                "fix: live capture needs root (or CAP_NET_RAW): run mqtt-ml with sudo".to_string()
            } else if lower.contains("no such device") || lower.contains("unable to find iface") {
                "fix: give an existing interface to -i (see ip link)".to_string()
            } else {
                let part = classify(first);
                let located = errs
                    .iter()
                    .find(|l| classify(l) == part && rule_location(l).is_some())
                    .unwrap_or(first);
                fix_for(part, located, &config.display().to_string())
            };
            lines.push(fix);
        }
        None => {
            let tail: Vec<&str> = output.lines().rev().take(5).collect();
            lines.extend(tail.into_iter().rev().map(str::to_string));
        }
    }
    lines.push(format!("Suricata's output: {}", out_file.display()));
    Failure(lines)
}

pub fn detect(d: Detect) -> Result<ExitCode> {
    let setup = Setup::find(d.opts.config.as_deref())?;
    let rules = setup.rules(&d.opts.rules)?;
    let (input_args, name, what) = match &d.input {
        Input::Pcap(p) => {
            if !p.is_file() {
                return Err(format!("capture {} not found: check the path", p.display()).into());
            }
            (
                vec!["-r".to_string(), p.display().to_string()],
                name_of(p),
                format!("reading {}", p.display()),
            )
        }
        Input::Interface(i) => (
            vec!["-i".to_string(), i.clone()],
            i.clone(),
            format!("capturing on {i}"),
        ),
    };
    let dir = d
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out").join(format!("detect-{name}")));
    std::fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "cannot create {}: {e}; pass -o with a writable directory",
            dir.display()
        )
    })?;
    clear_outputs(&dir);
    if rules.is_empty() {
        eprintln!("mqtt-ml detect: no rules found (suricata-rules/ of the source tree); pass --rules FILE for alerts");
    }
    let mut args = setup.base_args(&d.opts, &rules);
    args.extend(["-k".into(), "none".into(), "-l".into()]);
    args.push(dir.display().to_string());
    args.extend(input_args);
    args.extend(d.opts.extra.iter().cloned());
    let live = matches!(d.input, Input::Interface(_));
    if live {
        match d.seconds {
            Some(n) => eprintln!("mqtt-ml detect: {what} for {n}s (Ctrl-C stops earlier)"),
            None => eprintln!("mqtt-ml detect: {what}; Ctrl-C stops and prints the summary"),
        }
    }
    let out_file = dir.join("suricata.out");
    let spec = RunSpec {
        suricata: &setup.suricata,
        args,
        output_file: out_file.clone(),
        eve: dir.join("eve.json"),
        stop_after: d.seconds.map(Duration::from_secs),
        what,
    };
    let ended = run(&spec)?;
    let stopped_by_us = ended.interrupted || ended.timed_out;
    // Killed by the signal we sent is a stop, not a failure; any other non-zero end is one.
    let killed_by_us = stopped_by_us && ended.status.code().is_none();
    if !ended.ok() && !killed_by_us {
        return Err(suricata_failure(
            &ended.output,
            &ended.describe(),
            &setup.yaml,
            &out_file,
        ));
    }
    let eve = dir.join("eve.json");
    let text = std::fs::read_to_string(&eve).map_err(|_| {
        Failure(vec![
            format!("Suricata wrote no {}", eve.display()),
            format!(
                "fix: use a suricata.yaml with an eve-log writing eve.json that lists the mqtt or mqtt-ml type (Suricata's stock one does); {} is in use",
                setup.yaml.display()
            ),
        ])
    })?;
    let skipped = error_lines(&ended.output)
        .iter()
        .filter(|l| l.contains("error parsing signature"))
        .count();
    if skipped > 0 {
        eprintln!(
            "mqtt-ml detect: warning: {skipped} rule(s) did not load (see {}); mqtt-ml check --rules FILE shows why",
            out_file.display()
        );
    }
    let summary = Summary::from_text(&text);
    println!("eve.json: {}", eve.display());
    print!("{}", summary.render());
    if ended.interrupted && !live {
        eprintln!("mqtt-ml detect: interrupted: the summary covers the part of the capture read");
        return Ok(ExitCode::from(1));
    }
    if !ended.ok() {
        eprintln!(
            "mqtt-ml detect: suricata did not stop cleanly ({})",
            ended.describe()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(what: &str) -> Result<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let d = std::env::temp_dir().join(format!("mqtt-ml-{what}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&d).map_err(|e| {
            format!(
                "cannot create {}: {e}; set TMPDIR to a writable directory",
                d.display()
            )
        })?;
        Ok(TempDir(d))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn score(pcap: &Path, opts: &Options) -> Result<ExitCode> {
    let setup = Setup::find(opts.config.as_deref())?;
    if !pcap.is_file() {
        return Err(format!("capture {} not found: check the path", pcap.display()).into());
    }
    let tmp = TempDir::new("score")?;
    let mut args = setup.base_args(opts, &[]);
    args.extend(["-k".into(), "none".into(), "-l".into()]);
    args.push(tmp.0.display().to_string());
    args.extend(["-r".into(), pcap.display().to_string()]);
    args.extend(opts.extra.iter().cloned());
    let out_file = tmp.0.join("suricata.out");
    let spec = RunSpec {
        suricata: &setup.suricata,
        args,
        output_file: out_file.clone(),
        eve: tmp.0.join("eve.json"),
        stop_after: None,
        what: format!("scoring {}", pcap.display()),
    };
    let ended = run(&spec)?;
    if ended.interrupted {
        return Err("interrupted".to_string().into());
    }
    if !ended.ok() {
        let mut f = suricata_failure(&ended.output, &ended.describe(), &setup.yaml, &out_file);
        // The temporary directory goes away: show the output's tail instead of its path.
        f.0.pop();
        return Err(f);
    }
    let text = std::fs::read_to_string(tmp.0.join("eve.json")).map_err(|_| {
        format!(
            "Suricata wrote no eve.json: use a suricata.yaml with an eve-log writing eve.json (Suricata's stock one does); {} is in use",
            setup.yaml.display()
        )
    })?;
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    // A closed stdout (e.g. `| head`) just ends the output.
    let _ = (|| -> std::io::Result<()> {
        writeln!(w, "{CSV_HEADER}")?;
        for line in text.lines() {
            let Ok(rec) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if let Some(row) = csv_row(&rec) {
                writeln!(w, "{row}")?;
            }
        }
        w.flush()
    })();
    Ok(ExitCode::SUCCESS)
}

pub fn train(args: &[String]) -> Result<ExitCode> {
    let tree = source_tree().ok_or(
        "training/run.sh not found: run mqtt-ml from the source tree's target/release/, or from a clone of the repository",
    )?;
    let script = tree.join("training/run.sh");
    let could_not = |e: std::io::Error| {
        format!(
            "could not run {}: {e}; check that it is executable",
            script.display()
        )
    };
    let progress = Progress::new("training");
    let mut cmd = Command::new(&script);
    cmd.args(args);
    let status = if progress.is_shown() {
        with_spinner(&mut cmd, &progress)
    } else {
        // Not a terminal: the pipeline's output passes through untouched.
        cmd.status()
    }
    .map_err(could_not)?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => ExitCode::from(1),
    })
}

/// Runs `cmd` with its stdout and stderr lines scrolling above the spinner, which shows the
/// elapsed time and the step the pipeline last announced (`[step] ...`).
fn with_spinner(
    cmd: &mut Command,
    progress: &Progress,
) -> std::io::Result<std::process::ExitStatus> {
    use std::sync::mpsc::{channel, RecvTimeoutError};
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let (tx, rx) = channel::<String>();
    let streams: [Option<Box<dyn Read + Send>>; 2] = [
        child
            .stdout
            .take()
            .map(|o| Box::new(o) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|e| Box::new(e) as Box<dyn Read + Send>),
    ];
    let readers: Vec<_> = streams
        .into_iter()
        .flatten()
        .map(|r| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(r).lines().map_while(std::io::Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let started = std::time::Instant::now();
    let mut step = String::new();
    loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(line) => {
                progress.println(&line);
                if let Some(s) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
                    step = s.to_string();
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        progress.set(format!(
            "mqtt-ml: training {}s {step}",
            started.elapsed().as_secs()
        ));
    }
    for r in readers {
        let _ = r.join();
    }
    progress.finish();
    child.wait()
}

/// `app-layer.protocols.mqtt-ml.<key>` from `suricata --dump-config` output.
fn dumped(dump: &str, key: &str) -> Option<String> {
    let want = format!("{}.{key} = ", mqtt_ml::config::SECTION);
    dump.lines()
        .find_map(|l| l.strip_prefix(&want))
        .map(|v| v.trim().to_string())
        .filter(|v| v != "(null)")
}

fn model_report(opts: &Options, dump: &str, plugin: &Path) -> String {
    if dumped(dump, "scoring").is_some_and(|v| matches!(v.as_str(), "no" | "false" | "off" | "0")) {
        return "model ok: not used (scoring: no)".into();
    }
    let path = opts
        .model
        .clone()
        .or_else(|| dumped(dump, "model").map(PathBuf::from))
        .or_else(|| mqtt_ml::layout::find_model(plugin).ok());
    let Some(path) = path else {
        return format!(
            "model ok: none found beside the plugin {}",
            plugin.display()
        );
    };
    let path = std::fs::canonicalize(&path).unwrap_or(path);
    let backend = opts
        .backend
        .clone()
        .or_else(|| dumped(dump, "backend"))
        .unwrap_or_else(|| "tflite".into());
    match mqtt_ml::scoring::ModelMetadata::load(&path) {
        Ok(meta) => {
            let schema = &meta.raw["schema"];
            let t = &meta.thresholds;
            let spec = opts
                .threshold
                .map(|t| t.to_string())
                .or_else(|| dumped(dump, "threshold"))
                .unwrap_or_else(|| t.default.to_string());
            let in_force = t
                .resolve(&spec)
                .map(|v| format!("{v:.6}"))
                .unwrap_or_else(|| "?".into());
            format!(
                "model ok: {} (schema v{}, width {}, backend {backend}, thresholds p95 {:.6} p99 {:.6} p999 {:.6}, in force {spec} = {in_force})",
                path.display(),
                schema["version"],
                schema["width"],
                t.p95,
                t.p99,
                t.p999,
            )
        }
        Err(e) => format!("model ok: {} ({e})", path.display()),
    }
}

pub fn check(opts: &Options) -> Result<ExitCode> {
    let setup = match Setup::find(opts.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            if e.contains("suricata.yaml") {
                println!("config FAILED");
            }
            return Err(e.into());
        }
    };
    let rules = match setup.rules(&opts.rules) {
        Ok(r) => r,
        Err(e) => {
            println!("rules FAILED");
            return Err(e.into());
        }
    };
    let tmp = TempDir::new("check")?;
    let mut args = setup.base_args(opts, &rules);
    args.extend(["-l".into(), tmp.0.display().to_string()]);
    args.extend(opts.extra.iter().cloned());
    let run_suricata = |first: &[&str]| {
        Command::new(&setup.suricata)
            .args(first)
            .args(&args)
            .output()
            .map_err(|e| {
                format!(
                    "could not run {}: {e}; set SURICATA to the suricata binary",
                    setup.suricata.display()
                )
            })
    };
    let test = run_suricata(&["-T", "-v"])?;
    let mut output = String::from_utf8_lossy(&test.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&test.stderr));
    let dump = run_suricata(&["--dump-config"])
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let config_line = format!("config ok: {}", setup.yaml.display());
    let rules_line = || {
        let files = match rules.len() {
            0 => "no rules files".to_string(),
            1 => format!("1 file: {}", rules[0].display()),
            n => format!("{n} files"),
        };
        match rules_loaded(&output) {
            Some((n, _)) => format!("rules ok: {n} rules loaded from {files}"),
            None => format!("rules ok: {files}"),
        }
    };
    if test.status.success() {
        println!("{config_line}");
        println!("{}", model_report(opts, &dump, &setup.plugin));
        println!("{}", rules_line());
        return Ok(ExitCode::SUCCESS);
    }
    let errs = error_lines(&output);
    let Some(first) = errs.first() else {
        let tail: Vec<String> = output.lines().rev().take(5).map(str::to_string).collect();
        let mut lines = vec![format!(
            "suricata -T failed ({}) without an error line; its last lines:",
            test.status
        )];
        lines.extend(tail.into_iter().rev());
        return Err(Failure(lines));
    };
    let part = classify(first);
    let order = [Part::Config, Part::Model, Part::Rules];
    let failed_at = order.iter().position(|p| *p == part).unwrap_or(0);
    let name = |p: Part| match p {
        Part::Config => "config",
        Part::Model => "model",
        Part::Rules => "rules",
    };
    for (i, p) in order.iter().enumerate() {
        if i < failed_at {
            match p {
                Part::Config => println!("{config_line}"),
                Part::Model => println!("{}", model_report(opts, &dump, &setup.plugin)),
                Part::Rules => println!("{}", rules_line()),
            }
        } else if i == failed_at {
            println!("{} FAILED", name(*p));
            let same: Vec<&&str> = errs
                .iter()
                .filter(|l| classify(l) == part)
                .take(3)
                .collect();
            for l in same {
                println!("  {l}");
            }
            // The line that names a rule's file and line, when there is one.
            let located = errs
                .iter()
                .find(|l| classify(l) == part && rule_location(l).is_some())
                .unwrap_or(first);
            println!(
                "  {}",
                fix_for(part, located, &setup.yaml.display().to_string())
            );
        } else {
            println!(
                "{} not checked (Suricata stopped at the {})",
                name(*p),
                name(part)
            );
        }
    }
    Ok(ExitCode::from(1))
}

/// `mqtt-ml rules convert IN`: the converted rules on stdout, the report on stderr; exit 1 when a
/// rule could not be converted (it is kept unchanged, and would not load with the plugin).
pub fn convert(input: &Path) -> Result<ExitCode> {
    let text = std::fs::read_to_string(input)
        .map_err(|e| format!("cannot read {}: {e}: check the path", input.display()))?;
    let c = mqtt_ml::rules::convert::convert_rules(&text);
    print!("{}", c.output);
    let report = c.report();
    if !report.is_empty() {
        eprint!("{report}");
        if !report.ends_with('\n') {
            eprintln!();
        }
    }
    Ok(if c.unconverted.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spinner_run_passes_output_and_exit_status_through() {
        let progress = Progress::new("test");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo '[step] one'; echo two >&2; exit 3"]);
        let st = with_spinner(&mut cmd, &progress).unwrap();
        assert_eq!(st.code(), Some(3));
    }
}
