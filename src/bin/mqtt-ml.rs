//! `mqtt-ml`: runs Suricata with the mqtt-ml plugin, and answers questions about it.
//!
//! Subcommands (docs/cli.md): `detect` (a capture or a live interface, then a summary), `score`
//! (per-message scores as CSV), `train` (training/run.sh), `check` (config, model and rules),
//! `install` (plugin, model, rules and yaml include under a prefix), `completions` (shell).
//!
//! `mqtt-ml schema` prints the feature schema (names, order, transforms, version) as JSON: the
//! training pipeline reads it from here so that the schema is defined in one place only.
//!
//! Suricata 8.0.7 has no `--plugin` flag: plugins are loaded from the yaml `plugins:` list. This
//! wrapper accepts `--plugin PATH` (any number of times), turns each into
//! `--set plugins.<name>=<absolute path>`, and passes every other argument to suricata unchanged:
//!
//!     mqtt-ml --plugin target/release/libmqtt_ml.so -r capture.pcap -l out/
//!
//! Suricata is taken from `$SURICATA`, else from PATH, else from the prefix scripts/setup.sh builds.
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

#[path = "mqtt_ml_cli/mod.rs"]
mod cli;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let first = args.first().and_then(|a| a.to_str()).unwrap_or("--help");
    let subcommand = cli::args::is_subcommand(first);
    let help = args.is_empty() || args.iter().any(|a| a == "--help" || a == "-h");
    let version = matches!(first, "-V" | "--version");
    if subcommand || (help || version) && !has_plugin(&args) {
        let Some(mut args) = args
            .iter()
            .map(|a| a.to_str().map(str::to_string))
            .collect::<Option<Vec<String>>>()
        else {
            eprintln!("mqtt-ml: arguments must be valid UTF-8; rename the file or use a symlink");
            return ExitCode::from(2);
        };
        if !subcommand && !version {
            args = vec!["--help".into()];
        }
        return cli::main(&args);
    }
    let suricata_args = match translate(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("mqtt-ml: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(suricata) = find_suricata() else {
        eprintln!(
            "mqtt-ml: suricata not found; run scripts/setup.sh, or set SURICATA to the suricata binary"
        );
        return ExitCode::from(2);
    };
    let err = Command::new(&suricata).args(&suricata_args).exec();
    eprintln!("mqtt-ml: could not run {}: {err}", suricata.display());
    ExitCode::from(2)
}

fn has_plugin(args: &[OsString]) -> bool {
    args.iter()
        .any(|a| a == "--plugin" || a.to_string_lossy().starts_with("--plugin="))
}

/// Replaces each `--plugin PATH` / `--plugin=PATH` with `--set plugins.<name>=<absolute PATH>`.
fn translate(args: &[OsString]) -> Result<Vec<OsString>, String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    let mut n = 0;
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        let path = if s == "--plugin" {
            it.next()
                .ok_or("--plugin needs a path to a plugin .so")?
                .into()
        } else if let Some(p) = s.strip_prefix("--plugin=") {
            PathBuf::from(p)
        } else {
            out.push(a.clone());
            continue;
        };
        let abs = std::fs::canonicalize(&path).map_err(|e| {
            format!(
                "plugin {}: {e}; build it with scripts/build-plugin.sh",
                path.display()
            )
        })?;
        let mut set = OsString::from(format!("plugins.mqtt-ml-wrapper-{n}="));
        set.push(abs.as_os_str());
        out.push("--set".into());
        out.push(set);
        n += 1;
    }
    Ok(out)
}

fn find_suricata() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SURICATA") {
        return Some(PathBuf::from(p));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let c = dir.join("suricata");
            if c.is_file() {
                return Some(c);
            }
        }
    }
    let cache = std::env::var_os("MQTT_ML_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/mqtt-ml")))?;
    let c = cache.join("suricata-8.0.7/bin/suricata");
    c.is_file().then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_flags_become_set_options_and_the_rest_passes_through() {
        let so = std::env::current_exe().unwrap();
        let args: Vec<OsString> = vec![
            "-r".into(),
            "x.pcap".into(),
            "--plugin".into(),
            so.clone().into(),
        ];
        let out = translate(&args).unwrap();
        assert_eq!(out[0], "-r");
        assert_eq!(out[1], "x.pcap");
        assert_eq!(out[2], "--set");
        assert_eq!(
            out[3],
            OsString::from(format!("plugins.mqtt-ml-wrapper-0={}", so.display()))
        );
    }

    #[test]
    fn missing_plugin_file_names_the_fix() {
        let e = translate(&["--plugin=/nonexistent/libmqtt_ml.so".into()]).unwrap_err();
        assert!(e.contains("build-plugin.sh"), "{e}");
        assert!(translate(&["--plugin".into()]).is_err());
    }
}
