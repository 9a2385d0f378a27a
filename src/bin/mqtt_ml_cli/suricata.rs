//! Finding Suricata, its yaml, the plugin and the source tree, and running Suricata with a progress
//! line and signal forwarding.
use std::io::IsTerminal;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mqtt_ml::layout::Installed;

use super::args::Options;
use super::report::{progress_line, EveCounter};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Everything needed to run Suricata with the plugin.
pub struct Setup {
    pub suricata: PathBuf,
    pub yaml: PathBuf,
    pub plugin: PathBuf,
    /// The source tree (rules, training), when found.
    pub tree: Option<PathBuf>,
    /// The installation this command belongs to, when it is an installed copy.
    pub installed: Option<Installed>,
}

impl Setup {
    /// Finds everything; the error is one line naming the fix.
    pub fn find(config: Option<&Path>) -> Result<Setup, String> {
        let suricata = crate::find_suricata().ok_or(
            "suricata not found: run scripts/setup.sh, or set SURICATA to the suricata binary",
        )?;
        let yaml = find_yaml(config, &suricata)?;
        let plugin = find_plugin()?;
        Ok(Setup {
            suricata,
            yaml,
            plugin,
            tree: source_tree(),
            installed: installed(),
        })
    }

    /// The rules files: the given ones (checked to exist), else every shipped `*.rules` (those
    /// installed with this command, else `suricata-rules/` of the source tree).
    pub fn rules(&self, given: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
        if !given.is_empty() {
            return given
                .iter()
                .map(|r| {
                    std::fs::canonicalize(r).map_err(|e| {
                        format!(
                            "rules file {}: {e}; check the path given to --rules",
                            r.display()
                        )
                    })
                })
                .collect();
        }
        let dir = match (&self.installed, &self.tree) {
            (Some(i), _) => i.rules_dir(),
            (None, Some(t)) => t.join("suricata-rules"),
            (None, None) => return Ok(Vec::new()),
        };
        let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        v.retain(|p| p.extension().is_some_and(|e| e == "rules") && p.is_file());
        v.sort();
        Ok(v)
    }

    /// Suricata's arguments for the plugin, configuration, rules and model options (input, log
    /// directory and run mode are added by the caller).
    pub fn base_args(&self, opts: &Options, rules: &[PathBuf]) -> Vec<String> {
        base_args(&self.yaml, &self.plugin, opts, rules)
    }
}

/// See `Setup::base_args`.
pub fn base_args(yaml: &Path, plugin: &Path, opts: &Options, rules: &[PathBuf]) -> Vec<String> {
    let mut a = vec![
        "-c".to_string(),
        yaml.display().to_string(),
        "--set".into(),
        format!("plugins.mqtt-ml-wrapper-0={}", plugin.display()),
        // Every flow of one client/broker pair on one thread: the per-client evidence then sees
        // a capture's messages in the same order on every run (with the default flow hash, the
        // threads interleave a client's connections differently each time, and so do the
        // decisions that rest on them).
        "--set".into(),
        "autofp-scheduler=ippair".into(),
    ];
    match rules {
        // No rules: none at all, rather than the yaml's (often missing) rule-files.
        [] => a.extend(["-S".into(), "/dev/null".into()]),
        // -S loads only this file; several files replace the yaml's rule-files list.
        [one] => a.extend(["-S".into(), one.display().to_string()]),
        many => {
            for (i, r) in many.iter().enumerate() {
                a.extend(["--set".into(), format!("rule-files.{i}={}", r.display())]);
            }
        }
    }
    let section = mqtt_ml::config::SECTION;
    if let Some(m) = &opts.model {
        let abs = std::fs::canonicalize(m).unwrap_or_else(|_| m.clone());
        a.extend(["--set".into(), format!("{section}.model={}", abs.display())]);
    }
    if let Some(b) = &opts.backend {
        a.extend(["--set".into(), format!("{section}.backend={b}")]);
    }
    if let Some(t) = opts.threshold {
        a.extend(["--set".into(), format!("{section}.threshold={t}")]);
    }
    a
}

fn find_yaml(config: Option<&Path>, suricata: &Path) -> Result<PathBuf, String> {
    if let Some(c) = config {
        return if c.is_file() {
            Ok(std::fs::canonicalize(c).unwrap_or_else(|_| c.to_path_buf()))
        } else {
            Err(format!(
                "config {} not found: pass --config with the path of a suricata.yaml",
                c.display()
            ))
        };
    }
    if let Some(y) = std::env::var_os("SURICATA_YAML").map(PathBuf::from) {
        if y.is_file() {
            return Ok(y);
        }
    }
    let prefix = suricata.parent().and_then(Path::parent);
    let candidates = prefix
        .map(|p| p.join("etc/suricata/suricata.yaml"))
        .into_iter()
        .chain([PathBuf::from("/etc/suricata/suricata.yaml")]);
    for c in candidates {
        if c.is_file() {
            return Ok(c);
        }
    }
    Err("no suricata.yaml found: pass --config FILE, or set SURICATA_YAML".into())
}

fn find_plugin() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("MQTT_ML_PLUGIN").map(PathBuf::from) {
        return std::fs::canonicalize(&p).map_err(|e| {
            format!(
                "plugin {} (MQTT_ML_PLUGIN): {e}; set MQTT_ML_PLUGIN to libmqtt_ml.so",
                p.display()
            )
        });
    }
    let exe = own_exe().map_err(|e| format!("cannot locate mqtt-ml itself: {e}"))?;
    let beside = exe.with_file_name(mqtt_ml::layout::PLUGIN_FILE);
    let candidates = [Some(beside.clone()), installed().map(|i| i.plugin())];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "plugin {} not found: build it with scripts/build-plugin.sh, or set MQTT_ML_PLUGIN to libmqtt_ml.so",
                beside.display()
            )
        })
}

/// This command's own file, symbolic links resolved.
pub fn own_exe() -> std::io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(std::fs::canonicalize(&exe).unwrap_or(exe))
}

/// The installation this command is part of (`P/bin/mqtt-ml` with `P/share/mqtt-ml`).
pub fn installed() -> Option<Installed> {
    Installed::containing(&own_exe().ok()?)
}

/// The source tree: the first ancestor of the binary holding `training/run.sh`, else the tree
/// this binary was built from.
pub fn source_tree() -> Option<PathBuf> {
    let is_tree = |d: &Path| d.join("training/run.sh").is_file() && d.join("Cargo.toml").is_file();
    if let Ok(exe) = std::env::current_exe() {
        let exe = std::fs::canonicalize(&exe).unwrap_or(exe);
        if let Some(d) = exe.ancestors().skip(1).find(|d| is_tree(d)) {
            return Some(d.to_path_buf());
        }
    }
    let built = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    is_tree(&built).then_some(built)
}

/// A spinner with a status line on stderr, only when stderr is a terminal (nothing is drawn, and
/// the output stays as it is, otherwise).
pub struct Progress(Option<ProgressBar>);

impl Progress {
    pub fn new(what: &str) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(format!("mqtt-ml: {what}"));
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress(Some(bar))
    }

    pub fn is_shown(&self) -> bool {
        self.0.is_some()
    }

    pub fn set(&self, line: String) {
        if let Some(b) = &self.0 {
            b.set_message(line);
        }
    }

    /// Prints a line above the spinner (or on stderr when there is none).
    pub fn println(&self, line: &str) {
        match &self.0 {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Signals received by mqtt-ml while Suricata runs (Ctrl-C, SIGTERM).
static SIGNALS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_signal(_: libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::SeqCst);
}

fn catch_signals() {
    let handler = on_signal as extern "C" fn(libc::c_int);
    // SAFETY: the handler only touches an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
        libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
    }
}

fn send(child: &Child, sig: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: plain kill(2) on our own child's PID.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// How a run ended.
pub struct Ended {
    pub status: ExitStatus,
    /// Stopped because the user asked (Ctrl-C / SIGTERM to mqtt-ml).
    pub interrupted: bool,
    /// Stopped by `--seconds`.
    pub timed_out: bool,
    /// Suricata's stdout and stderr.
    pub output: String,
}

impl Ended {
    pub fn ok(&self) -> bool {
        self.status.success()
    }

    /// For messages: "exit 1" or "killed by signal 9".
    pub fn describe(&self) -> String {
        match (self.status.code(), self.status.signal()) {
            (Some(c), _) => format!("exit {c}"),
            (None, Some(s)) => format!("killed by signal {s}"),
            _ => "ended".into(),
        }
    }
}

/// One Suricata run: the arguments, where its output goes, what to watch.
pub struct RunSpec<'a> {
    pub suricata: &'a Path,
    pub args: Vec<String>,
    /// Suricata's stdout+stderr go to this file.
    pub output_file: PathBuf,
    /// The eve.json to count records in for the progress line.
    pub eve: PathBuf,
    /// Stop (SIGINT) after this long once the engine has started.
    pub stop_after: Option<Duration>,
    /// Words for the progress line ("reading x.pcap", "capturing on lo").
    pub what: String,
}

/// Runs Suricata in its own process group, forwarding mqtt-ml's SIGINT/SIGTERM to it, showing a
/// progress line on a terminal's stderr, and stopping it after `stop_after`.
pub fn run(spec: &RunSpec) -> Result<Ended, String> {
    let out = std::fs::File::create(&spec.output_file)
        .map_err(|e| format!("cannot write {}: {e}", spec.output_file.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("cannot write {}: {e}", spec.output_file.display()))?;
    let mut cmd = Command::new(spec.suricata);
    cmd.args(&spec.args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // Its own process group: a terminal's Ctrl-C reaches mqtt-ml only, which forwards it
        // once, and then prints the summary.
        .process_group(0);
    // SAFETY: prctl is async-signal-safe; it makes Suricata stop if mqtt-ml dies.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    catch_signals();
    let signals_before = SIGNALS.load(Ordering::SeqCst);
    let mut child = cmd.spawn().map_err(|e| {
        format!(
            "could not run {}: {e}; set SURICATA to the suricata binary",
            spec.suricata.display()
        )
    })?;
    let progress = Progress::new(&spec.what);
    let started = Instant::now();
    let mut engine_started: Option<Instant> = None;
    let mut counter = EveCounter::default();
    let mut last_tick = Instant::now();
    let mut forwarded = 0usize;
    let mut timed_out = false;
    let mut stop_sent: Option<Instant> = None;
    let mut escalation = 0;
    let status = loop {
        if let Some(st) = child
            .try_wait()
            .map_err(|e| format!("waiting for suricata: {e}"))?
        {
            break st;
        }
        std::thread::sleep(Duration::from_millis(100));
        // Forward each new signal, escalating: SIGINT, then SIGTERM, then SIGKILL.
        let received = SIGNALS.load(Ordering::SeqCst) - signals_before;
        while forwarded < received {
            forwarded += 1;
            let sig = match forwarded {
                1 => libc::SIGINT,
                2 => libc::SIGTERM,
                _ => libc::SIGKILL,
            };
            send(&child, sig);
            stop_sent.get_or_insert_with(Instant::now);
        }
        if let Some(limit) = spec.stop_after {
            if engine_started.is_none() {
                let text = std::fs::read_to_string(&spec.output_file).unwrap_or_default();
                // Count from the engine's start; give up waiting for it after 30 s.
                if text.contains("Engine started") || started.elapsed() > Duration::from_secs(30) {
                    engine_started = Some(Instant::now());
                }
            }
            if !timed_out && engine_started.is_some_and(|t| t.elapsed() >= limit) {
                timed_out = true;
                send(&child, libc::SIGINT);
                stop_sent.get_or_insert_with(Instant::now);
            }
        }
        // Suricata should stop within seconds of SIGINT; if not, insist.
        if let Some(t) = stop_sent {
            if escalation == 0 && t.elapsed() > Duration::from_secs(15) {
                escalation = 1;
                send(&child, libc::SIGTERM);
            } else if escalation == 1 && t.elapsed() > Duration::from_secs(30) {
                escalation = 2;
                send(&child, libc::SIGKILL);
            }
        }
        if progress.is_shown() && last_tick.elapsed() >= Duration::from_secs(1) {
            last_tick = Instant::now();
            counter.poll(&spec.eve);
            progress.set(progress_line(
                &spec.what,
                started.elapsed().as_secs(),
                counter.messages,
            ));
        }
    };
    progress.finish();
    let output = std::fs::read_to_string(&spec.output_file).unwrap_or_default();
    Ok(Ended {
        status,
        interrupted: forwarded > 0,
        timed_out,
        output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suricata_arguments_for_plugin_rules_and_model() {
        let opts = Options {
            backend: Some("native".into()),
            threshold: Some(mqtt_ml::scoring::Threshold::P99),
            model: Some("/m/x.tflite".into()),
            ..Options::default()
        };
        let a = base_args(
            Path::new("/s.yaml"),
            Path::new("/p/libmqtt_ml.so"),
            &opts,
            &["/r/a.rules".into()],
        );
        assert_eq!(
            a,
            [
                "-c",
                "/s.yaml",
                "--set",
                "plugins.mqtt-ml-wrapper-0=/p/libmqtt_ml.so",
                "--set",
                "autofp-scheduler=ippair",
                "-S",
                "/r/a.rules",
                "--set",
                "app-layer.protocols.mqtt-ml.model=/m/x.tflite",
                "--set",
                "app-layer.protocols.mqtt-ml.backend=native",
                "--set",
                "app-layer.protocols.mqtt-ml.threshold=p99",
            ]
        );
        let a = base_args(
            Path::new("/s.yaml"),
            Path::new("/p.so"),
            &Options::default(),
            &["/a.rules".into(), "/b.rules".into()],
        );
        assert_eq!(
            a[6..],
            [
                "--set",
                "rule-files.0=/a.rules",
                "--set",
                "rule-files.1=/b.rules"
            ]
        );
    }
}
