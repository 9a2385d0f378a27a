//! `mqtt-ml install [--prefix P]`: puts this build's plugin and command, the model, the rules (with
//! a tarball for `suricata-update add-source`) and a yaml include naming the installed paths where
//! Suricata users expect them (`mqtt_ml::layout`), then says what to add to suricata.yaml.
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use mqtt_ml::layout::{self, Installed, MODEL_FILE, PLUGIN_FILE, RULES_TARBALL};

use super::commands::Result;
use super::suricata::own_exe;

/// The files of a build: the plugin and command beside each other, the model and rules of the
/// source tree they were built in.
struct Build {
    cli: PathBuf,
    plugin: PathBuf,
    tree: PathBuf,
}

impl Build {
    fn find() -> Result<Build> {
        let cli = own_exe().map_err(|e| format!("cannot locate mqtt-ml itself: {e}"))?;
        let plugin = cli.with_file_name(PLUGIN_FILE);
        if !plugin.is_file() {
            return Err(format!(
                "{} not found beside {}: build it with `cargo build --release` (or \
                 scripts/build-plugin.sh) and run target/release/mqtt-ml install",
                PLUGIN_FILE,
                cli.display()
            )
            .into());
        }
        let tree = layout::source_tree_of(&cli).ok_or_else(|| {
            format!(
                "{} is not in a source tree (no Cargo.toml and models/ above it): run the \
                 mqtt-ml built in a checkout, target/release/mqtt-ml install",
                cli.display()
            )
        })?;
        Ok(Build { cli, plugin, tree })
    }

    fn model(&self) -> PathBuf {
        self.tree.join("models").join(MODEL_FILE)
    }

    fn rules_dir(&self) -> PathBuf {
        self.tree.join("suricata-rules")
    }
}

/// The shipped yaml include with the installed plugin and model paths in place of the source
/// tree's relative ones.
pub fn installed_yaml(template: &str, inst: &Installed) -> std::result::Result<String, String> {
    let mut plugin_done = false;
    let mut model_done = false;
    let mut out = String::with_capacity(template.len() + 256);
    for line in template.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if line == "---" {
            out.push_str(&format!(
                "---\n# Installed by `mqtt-ml install --prefix {}`: the paths below are the \
                 installed files.\n",
                inst.prefix.display()
            ));
        } else if !plugin_done && trimmed.starts_with("- ") && trimmed.ends_with(PLUGIN_FILE) {
            out.push_str(&format!("{indent}- {}\n", inst.plugin().display()));
            plugin_done = true;
        } else if !model_done && (trimmed.starts_with("#model:") || trimmed.starts_with("model:")) {
            out.push_str(&format!("{indent}model: {}\n", inst.model().display()));
            model_done = true;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    match (plugin_done, model_done) {
        (true, true) => Ok(out),
        _ => Err(
            "suricata-rules/mqtt-ml.yaml has no plugins entry or model line to set: \
                  restore it from the repository"
                .into(),
        ),
    }
}

/// Copies `from` to `to` through a temporary file and a rename, so that a running copy of the
/// old file (a loaded plugin, this command) is never overwritten in place.
fn put(from: &Path, to: &Path, mode: u32) -> Result<()> {
    let fail = |e: std::io::Error| {
        format!(
            "cannot install {} as {}: {e}; choose a writable --prefix, or run with sudo",
            from.display(),
            to.display()
        )
    };
    let tmp = to.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::copy(from, &tmp).map_err(fail)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).map_err(fail)?;
    std::fs::rename(&tmp, to).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })?;
    Ok(())
}

fn write(to: &Path, text: &str) -> Result<()> {
    std::fs::write(to, text).map_err(|e| {
        format!(
            "cannot write {}: {e}; choose a writable --prefix, or run with sudo",
            to.display()
        )
        .into()
    })
}

fn mkdir(d: &Path) -> Result<()> {
    std::fs::create_dir_all(d).map_err(|e| {
        format!(
            "cannot create {}: {e}; choose a writable --prefix, or run with sudo",
            d.display()
        )
        .into()
    })
}

/// The shipped `*.rules` files, sorted.
fn rules_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "rules") && p.is_file());
    v.sort();
    v
}

/// `rules/<name>.rules` for each file, gzipped: the layout suricata-update reads from a source.
fn tarball(rules_dir: &Path, files: &[PathBuf]) -> Result<PathBuf> {
    let out = rules_dir.join(RULES_TARBALL);
    let mut cmd = Command::new("tar");
    cmd.arg("-czf")
        .arg(&out)
        .args(["--owner=0", "--group=0", "--numeric-owner"])
        .args(["--transform", "s,^,rules/,"])
        .arg("-C")
        .arg(rules_dir);
    for f in files {
        cmd.arg(f.file_name().unwrap_or_default());
    }
    let st = cmd.status().map_err(|e| {
        format!("could not run tar: {e}; install tar (Debian: apt-get install tar)")
    })?;
    if !st.success() {
        return Err(format!("tar failed ({st}) writing {}", out.display()).into());
    }
    Ok(out)
}

pub fn install(prefix: &Path) -> Result<ExitCode> {
    let prefix = std::path::absolute(prefix).map_err(|e| {
        format!(
            "prefix {}: {e}; give an absolute --prefix",
            prefix.display()
        )
    })?;
    let inst = Installed::new(&prefix);
    let build = Build::find()?;
    let model = build.model();
    let meta = mqtt_ml::scoring::metadata_path(&model);
    for f in [&model, &meta] {
        if !f.is_file() {
            return Err(format!(
                "{} not found: restore models/ from the repository (git checkout models/)",
                f.display()
            )
            .into());
        }
    }
    // The model must load with this build's schema before it is installed beside the plugin.
    mqtt_ml::scoring::ModelMetadata::load(&model)?;
    let rules = rules_files(&build.rules_dir());
    if rules.is_empty() {
        return Err(format!(
            "no rules in {}: restore suricata-rules/ from the repository",
            build.rules_dir().display()
        )
        .into());
    }
    let template_path = build.rules_dir().join("mqtt-ml.yaml");
    let template = std::fs::read_to_string(&template_path).map_err(|e| {
        format!(
            "{}: {e}; restore suricata-rules/ from the repository",
            template_path.display()
        )
    })?;
    let yaml = installed_yaml(&template, &inst)?;

    for d in [
        inst.plugin_dir(),
        prefix.join("bin"),
        inst.share(),
        inst.rules_dir(),
        inst.etc(),
    ] {
        mkdir(&d)?;
    }
    let mut done: Vec<PathBuf> = Vec::new();
    put(&build.plugin, &inst.plugin(), 0o755)?;
    done.push(inst.plugin());
    if build.cli != inst.bin() {
        put(&build.cli, &inst.bin(), 0o755)?;
    }
    done.push(inst.bin());
    put(&model, &inst.model(), 0o644)?;
    done.push(inst.model());
    let meta_to = mqtt_ml::scoring::metadata_path(&inst.model());
    put(&meta, &meta_to, 0o644)?;
    done.push(meta_to);
    for r in &rules {
        let to = inst.rules_dir().join(r.file_name().unwrap_or_default());
        put(r, &to, 0o644)?;
        done.push(to);
    }
    done.push(tarball(&inst.rules_dir(), &rules)?);
    // A yaml include already there may hold the user's settings: keep it, put ours beside it.
    let include = inst.yaml_include();
    let kept = match std::fs::read_to_string(&include) {
        Ok(old) if old != yaml => {
            let new = include.with_extension("yaml.new");
            write(&new, &yaml)?;
            done.push(new);
            true
        }
        _ => {
            write(&include, &yaml)?;
            done.push(include.clone());
            false
        }
    };

    println!(
        "installed mqtt-ml {} under {}:",
        env!("CARGO_PKG_VERSION"),
        prefix.display()
    );
    for f in &done {
        println!("  {}", f.display());
    }
    if kept {
        println!(
            "{} exists and differs: kept; the new one is {}.new",
            include.display(),
            include.display()
        );
    }
    println!();
    println!("Add these two lines at the end of suricata.yaml (they load the plugin with its outputs and settings):");
    println!();
    println!("include:");
    println!("  - {}", include.display());
    println!();
    println!("Rules, with suricata-update:");
    println!();
    println!(
        "  suricata-update add-source mqtt-ml file://{}",
        inst.rules_dir().join(RULES_TARBALL).display()
    );
    println!("  suricata-update");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_include_gets_the_installed_paths() {
        let template = include_str!("../../../suricata-rules/mqtt-ml.yaml");
        let inst = Installed::new("/opt/p");
        let y = installed_yaml(template, &inst).unwrap();
        assert!(
            y.contains("\n  - /opt/p/lib/suricata/libmqtt_ml.so\n"),
            "{y}"
        );
        assert!(
            y.contains("\n      model: /opt/p/share/mqtt-ml/mqtt-ml.tflite\n"),
            "{y}"
        );
        assert!(y.starts_with("%YAML 1.1\n---\n# Installed by"), "{y}");
        assert!(
            !y.lines()
                .any(|l| !l.trim_start().starts_with('#') && l.contains("target/release")),
            "{y}"
        );
        // Everything else is the shipped file, line for line.
        assert_eq!(y.lines().count(), template.lines().count() + 1);
        assert!(installed_yaml("plugins:\n  - x.so\n", &inst).is_err());
    }
}
