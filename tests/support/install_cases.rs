//! Building and installing like a Suricata component: the default build is the plugin, a build
//! without Suricata's headers stops with one line, an installed copy runs with no source tree,
//! and suricata-update installs the shipped rules from the tarball the install writes.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{mqtt_ml_records_in, Env, Outcome, Run};
use crate::ensure;

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

/// Every `mqtt_ml` record of a run carries a finite, non-negative score.
fn scored_records(run: &Run) -> Result<usize, String> {
    let recs = run.records();
    if recs.is_empty() {
        return Err(format!("no mqtt_ml records: {}", run.describe()));
    }
    for r in &recs {
        let s = r["mqtt_ml"]["score"].as_f64();
        if !s.is_some_and(|s| s.is_finite() && s >= 0.0) {
            return Err(format!("record without a score: {r}"));
        }
    }
    Ok(recs.len())
}

fn run_in(dir: &Path, cmd: &mut Command, out_dir: &Path) -> Run {
    let out = cmd.current_dir(dir).output().expect("run suricata");
    let mut output = text(&out.stdout);
    output.push_str(&text(&out.stderr));
    Run {
        code: out.status.code(),
        output,
        dir: out_dir.to_path_buf(),
    }
}

/// `nm -D` of the plugin the suite loads (the default `cargo build --release`) shows the entry
/// point, and Suricata given it with `--set plugins.0=` logs scored `mqtt_ml` records.
pub fn default_build_is_the_plugin(env: &Env) -> Outcome {
    let nm = match Command::new("nm").arg("-D").arg(&env.plugin).output() {
        Ok(o) => o,
        Err(e) => return Outcome::Fail(format!("nm: {e} (Debian: apt-get install binutils)")),
    };
    let symbols = text(&nm.stdout);
    ensure!(
        symbols.lines().any(|l| l.ends_with(" T SCPluginRegister")),
        "{} does not export SCPluginRegister:\n{}",
        env.plugin.display(),
        describe(&nm)
    );
    let run = env.run("default-build", &env.pcap("mqtt311-basic.pcap"), &[]);
    ensure!(run.ok(), "{}", run.describe());
    match scored_records(&run) {
        Ok(n) => Outcome::Pass(format!("SCPluginRegister exported; {n} scored records")),
        Err(e) => Outcome::Fail(e),
    }
}

/// PATH without the directories that hold `libsuricata-config`.
fn path_without_suricata_config() -> std::ffi::OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|d| !d.join("libsuricata-config").exists())
        .collect();
    std::env::join_paths(dirs).unwrap_or_default()
}

/// A build with no Suricata headers anywhere stops with one error line that names the fix: no
/// panic, no backtrace. Its own target directory, so the suite's build is left alone.
pub fn headerless_build_fails_in_one_line(env: &Env) -> Outcome {
    let base = std::env::temp_dir().join("mqtt-ml-e2e-headerless");
    let empty_include = base.join("include");
    let empty_cache = base.join("cache");
    for d in [&empty_include, &empty_cache] {
        let _ = std::fs::remove_dir_all(d);
        std::fs::create_dir_all(d).expect("create dir");
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--quiet", "--offline", "--lib"])
        .arg("--manifest-path")
        .arg(env.root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(base.join("target"))
        .env("SURICATA_INCLUDE_DIR", &empty_include)
        .env("MQTT_ML_CACHE", &empty_cache)
        .env("PATH", path_without_suricata_config())
        .env_remove("CARGO_TARGET_DIR")
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => return Outcome::Fail(format!("cargo: {e}")),
    };
    ensure!(
        !out.status.success(),
        "built without headers: {}",
        describe(&out)
    );
    let err = text(&out.stderr);
    let naming_fix: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("SURICATA_INCLUDE_DIR") && l.contains("scripts/setup.sh"))
        .collect();
    ensure!(
        naming_fix.len() == 1 && naming_fix[0].starts_with("error: "),
        "want one error line naming the fix:\n{err}"
    );
    ensure!(
        naming_fix[0].contains("--no-default-features"),
        "the line should name the headerless build too: {}",
        naming_fix[0]
    );
    for bad in [
        "panicked",
        "backtrace",
        "Caused by",
        "process didn't exit successfully",
    ] {
        ensure!(!err.contains(bad), "'{bad}' in:\n{err}");
    }
    // Cargo adds one generic line of its own ("build script logged errors").
    let others: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("error") && !l.contains("SURICATA_INCLUDE_DIR"))
        .filter(|l| !l.contains("build script logged errors"))
        .collect();
    ensure!(others.is_empty(), "other errors: {others:?}\n{err}");
    Outcome::Pass(naming_fix[0].to_string())
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    if let Some(d) = to.parent() {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("copy {} to {}: {e}", from.display(), to.display()))
}

/// A checkout's release artefacts, model and rules copied to `dir` (as a build machine would
/// have them); everything else of the source tree is left behind.
fn copy_build(env: &Env, dir: &Path) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(dir);
    copy(&env.root.join("Cargo.toml"), &dir.join("Cargo.toml"))?;
    for f in ["mqtt-ml.tflite", "mqtt-ml.json"] {
        copy(
            &env.root.join("models").join(f),
            &dir.join("models").join(f),
        )?;
    }
    let rules = env.root.join("suricata-rules");
    for e in std::fs::read_dir(&rules)
        .map_err(|e| e.to_string())?
        .flatten()
    {
        if e.path().is_file() {
            copy(&e.path(), &dir.join("suricata-rules").join(e.file_name()))?;
        }
    }
    copy(&env.wrapper, &dir.join("target/release/mqtt-ml"))?;
    copy(&env.plugin, &dir.join("target/release/libmqtt_ml.so"))?;
    Ok(())
}

/// Installs a copied build into `prefix`, then deletes the copy. Returns the install's stdout.
fn install_from_copy(env: &Env, name: &str, prefix: &Path) -> Result<String, String> {
    let build = env.tmp.join(format!("{name}-build"));
    copy_build(env, &build)?;
    let _ = std::fs::remove_dir_all(prefix);
    let out = Command::new(build.join("target/release/mqtt-ml"))
        .arg("install")
        .arg("--prefix")
        .arg(prefix)
        .current_dir(&env.tmp)
        .output()
        .map_err(|e| format!("mqtt-ml install: {e}"))?;
    std::fs::remove_dir_all(&build).map_err(|e| format!("delete the build copy: {e}"))?;
    if !out.status.success() {
        return Err(format!("mqtt-ml install: {}", describe(&out)));
    }
    Ok(text(&out.stdout))
}

/// `mqtt-ml install` from a copy of the build, the copy deleted, then from another directory:
/// Suricata with the printed yaml include, Suricata with the plugin alone (`--set plugins.0=`,
/// model found relative to the plugin), and the installed `mqtt-ml detect` all produce scored
/// records from the installed files.
pub fn installed_copy_runs_without_the_source_tree(env: &Env) -> Outcome {
    let prefix = env.tmp.join("install-prefix");
    let stdout = match install_from_copy(env, "install", &prefix) {
        Ok(s) => s,
        Err(e) => return Outcome::Fail(e),
    };
    let include = prefix.join("etc/suricata/mqtt-ml.yaml");
    let plugin = prefix.join("lib/suricata/libmqtt_ml.so");
    let model = prefix.join("share/mqtt-ml/mqtt-ml.tflite");
    ensure!(
        stdout.contains(&format!("\ninclude:\n  - {}\n", include.display())),
        "the two suricata.yaml lines are not printed:\n{stdout}"
    );
    for f in [
        &plugin,
        &model,
        &prefix.join("share/mqtt-ml/mqtt-ml.json"),
        &prefix.join("bin/mqtt-ml"),
        &prefix.join("share/mqtt-ml/rules/mqtt-ml.rules"),
        &prefix.join("share/mqtt-ml/rules/mqtt-ml-events.rules"),
        &prefix.join("share/mqtt-ml/rules/mqtt-ml-rules.tar.gz"),
        &include,
    ] {
        ensure!(f.is_file(), "{} not installed:\n{stdout}", f.display());
    }
    let yaml = std::fs::read_to_string(&include).unwrap_or_default();
    ensure!(
        yaml.contains(&format!("  - {}\n", plugin.display()))
            && yaml.contains(&format!("model: {}\n", model.display())),
        "the include does not name the installed plugin and model:\n{yaml}"
    );
    // Somewhere with no source tree above it.
    let elsewhere = env.out_dir("install-elsewhere");
    let pcap = env.pcap("gen-malformed-a.pcap");

    let out = env.out_dir("install-with-include");
    let run = run_in(
        &elsewhere,
        Command::new(&env.suricata)
            .arg("-c")
            .arg(&env.yaml)
            .arg("--include")
            .arg(&include)
            .args(["-v", "-k", "none", "-l"])
            .arg(&out)
            .arg("-S")
            .arg(prefix.join("share/mqtt-ml/rules/mqtt-ml-events.rules"))
            .arg("-r")
            .arg(&pcap),
        &out,
    );
    ensure!(run.ok(), "with the include: {}", run.describe());
    let with_include = match scored_records(&run) {
        Ok(n) => n,
        Err(e) => return Outcome::Fail(format!("with the include: {e}")),
    };
    ensure!(
        run.output.contains(&format!("model {} (", model.display())),
        "the installed model was not the one loaded: {}",
        run.describe()
    );
    ensure!(
        !run.alerts().is_empty(),
        "the installed event rules did not fire on malformed traffic"
    );

    let out = env.out_dir("install-plugin-only");
    let run = run_in(
        &elsewhere,
        Command::new(&env.suricata)
            .arg("-c")
            .arg(&env.yaml)
            .arg("--set")
            .arg(format!("plugins.0={}", plugin.display()))
            .args(["-v", "-k", "none", "-S", "/dev/null", "-l"])
            .arg(&out)
            .arg("-r")
            .arg(&pcap),
        &out,
    );
    ensure!(run.ok(), "plugin alone: {}", run.describe());
    let plugin_only = match scored_records(&run) {
        Ok(n) => n,
        Err(e) => return Outcome::Fail(format!("plugin alone: {e}")),
    };
    ensure!(
        run.output.contains(&format!("model {} (", model.display())),
        "the plugin did not find the installed model beside it: {}",
        run.describe()
    );
    ensure!(
        plugin_only == with_include,
        "{plugin_only} records with the plugin alone, {with_include} with the include"
    );

    // The installed command: its plugin, model and rules are the installed ones. A marker rule
    // appended to the installed rules shows which rules it loaded.
    let installed_rules = prefix.join("share/mqtt-ml/rules/mqtt-ml-events.rules");
    let marker = "alert mqtt any any -> any any (msg:\"installed rules marker\"; \
                  mqtt_ml.msgtype:connect; sid:9199950; rev:1;)\n";
    let appended = std::fs::read_to_string(&installed_rules)
        .map(|t| t + marker)
        .and_then(|t| std::fs::write(&installed_rules, t));
    ensure!(
        appended.is_ok(),
        "append to {}: {appended:?}",
        installed_rules.display()
    );
    let out = env.out_dir("install-cli");
    let cli = Command::new(prefix.join("bin/mqtt-ml"))
        .arg("detect")
        .arg(&pcap)
        .arg("-o")
        .arg(&out)
        .env("SURICATA", &env.suricata)
        .env("SURICATA_YAML", &env.yaml)
        .env_remove("MQTT_ML_PLUGIN")
        .current_dir(&elsewhere)
        .output()
        .expect("run the installed mqtt-ml");
    ensure!(
        cli.status.success(),
        "installed mqtt-ml detect: {}",
        describe(&cli)
    );
    ensure!(
        mqtt_ml_records_in(&out) == with_include,
        "installed mqtt-ml detect logged {} records, Suricata {with_include}",
        mqtt_ml_records_in(&out)
    );
    let eve = std::fs::read_to_string(out.join("eve.json")).unwrap_or_default();
    ensure!(
        eve.contains("\"signature_id\":9199950"),
        "installed mqtt-ml detect did not load the installed rules: {}",
        describe(&cli)
    );
    // The plugin copied alone, far from any model: one error line naming the fix.
    let lonely = env.tmp.join("lonely/a/b/c/libmqtt_ml.so");
    if let Err(e) = copy(&plugin, &lonely) {
        return Outcome::Fail(e);
    }
    let out = env.out_dir("lonely-plugin");
    let run = run_in(
        &elsewhere,
        Command::new(&env.suricata)
            .arg("-T")
            .arg("-c")
            .arg(&env.yaml)
            .arg("--set")
            .arg(format!("plugins.0={}", lonely.display()))
            .arg("-l")
            .arg(&out),
        &out,
    );
    let errors = run.error_lines();
    ensure!(
        !run.ok()
            && errors.len() == 1
            && errors[0].contains("no model beside the plugin")
            && errors[0].contains("mqtt-ml install"),
        "a plugin without a model: {}",
        run.describe()
    );
    Outcome::Pass(format!(
        "{with_include} scored records from the installed copy"
    ))
}

/// A rule's `rev` and Emerging Threats metadata: the keys ET rules carry, dates as YYYY_MM_DD,
/// updated no earlier than created.
fn et_conventions(rule: &str) -> Result<(), String> {
    let option = |name: &str| {
        rule.split("; ")
            .find_map(|o| o.strip_prefix(&format!("{name}:")))
            .map(|v| v.trim_end_matches(";)").to_string())
    };
    match option("rev").and_then(|r| r.parse::<u32>().ok()) {
        Some(r) if r >= 1 => {}
        _ => return Err("no rev".into()),
    }
    match option("sid").and_then(|s| s.parse::<u32>().ok()) {
        Some(s) if (9_100_000..9_100_200).contains(&s) => {}
        _ => return Err("sid outside 9100000-9100199".into()),
    }
    let md = option("metadata").ok_or("no metadata")?;
    let pairs: Vec<(&str, &str)> = md.split(", ").filter_map(|kv| kv.split_once(' ')).collect();
    let get = |k: &str| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
    for k in [
        "affected_product",
        "attack_target",
        "created_at",
        "deployment",
        "signature_severity",
        "updated_at",
    ] {
        if get(k).is_none() {
            return Err(format!("metadata has no {k}"));
        }
    }
    let date = |k: &str| {
        get(k)
            .filter(|d| {
                d.len() == 10
                    && d.chars().enumerate().all(|(i, c)| {
                        if i == 4 || i == 7 {
                            c == '_'
                        } else {
                            c.is_ascii_digit()
                        }
                    })
            })
            .ok_or(format!("{k} is not YYYY_MM_DD"))
    };
    if date("updated_at")? < date("created_at")? {
        return Err("updated_at before created_at".into());
    }
    let severity = get("signature_severity").unwrap_or_default();
    if !["Informational", "Minor", "Major", "Critical"].contains(&severity) {
        return Err(format!("signature_severity {severity}"));
    }
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| *k).collect();
    if !keys.windows(2).all(|w| w[0] <= w[1]) {
        return Err("metadata keys not in alphabetical order".into());
    }
    Ok(())
}

/// suricata-update, offline, with the tarball `mqtt-ml install` wrote added as a source: its
/// output rules file holds every shipped rule (each with `rev` and ET metadata), enabled, and
/// Suricata with the plugin loads all of it.
pub fn suricata_update_installs_the_shipped_rules(env: &Env) -> Outcome {
    let cache = std::env::var_os("MQTT_ML_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/mqtt-ml")))
        .unwrap_or_default();
    let su = cache.join("venv/bin/suricata-update");
    if !su.is_file() {
        return Outcome::Skip(format!(
            "{} not installed: run scripts/setup.sh (training/requirements-rules.txt)",
            su.display()
        ));
    }
    let prefix = env.tmp.join("update-prefix");
    if let Err(e) = install_from_copy(env, "update", &prefix) {
        return Outcome::Fail(e);
    }
    let tarball = prefix.join("share/mqtt-ml/rules/mqtt-ml-rules.tar.gz");
    let work = env.out_dir("suricata-update");
    let data = work.join("data");
    let rules_out = work.join("rules");
    let suricata_update = |args: &[&str]| {
        Command::new(&su)
            .arg("-D")
            .arg(&data)
            .args(args)
            .current_dir(&work)
            .output()
            .expect("run suricata-update")
    };
    let add = suricata_update(&[
        "add-source",
        "mqtt-ml",
        &format!("file://{}", tarball.display()),
    ]);
    ensure!(add.status.success(), "add-source: {}", describe(&add));
    let update = suricata_update(&[
        "--suricata",
        env.suricata.to_str().unwrap_or_default(),
        "--suricata-conf",
        env.yaml.to_str().unwrap_or_default(),
        "--no-test",
        "--no-reload",
        "-o",
        rules_out.to_str().unwrap_or_default(),
    ]);
    ensure!(update.status.success(), "update: {}", describe(&update));
    let merged = std::fs::read_to_string(rules_out.join("suricata.rules")).unwrap_or_default();
    let mut shipped = Vec::new();
    for f in ["mqtt-ml.rules", "mqtt-ml-events.rules"] {
        let t =
            std::fs::read_to_string(env.root.join("suricata-rules").join(f)).unwrap_or_default();
        shipped.extend(
            t.lines()
                .filter(|l| l.starts_with("alert"))
                .map(str::to_string),
        );
    }
    ensure!(!shipped.is_empty(), "no shipped rules found");
    for rule in &shipped {
        if let Err(e) = et_conventions(rule) {
            return Outcome::Fail(format!("{e}: {rule}"));
        }
    }
    for rule in &shipped {
        ensure!(
            merged.lines().any(|l| l == rule),
            "not installed (or not enabled) by suricata-update: {rule}"
        );
    }
    ensure!(
        merged.contains("sid:9100111;") && merged.contains("sid:9100000;"),
        "sids missing"
    );
    let check = env.check(
        "suricata-update-rules",
        &[
            "-v",
            "-S",
            rules_out
                .join("suricata.rules")
                .to_str()
                .unwrap_or_default(),
        ],
    );
    ensure!(
        check.ok() && check.output.contains(" 0 rules failed"),
        "the updated rules file does not load with the plugin: {}",
        check.describe()
    );
    Outcome::Pass(format!("{} shipped rules installed", shipped.len()))
}
