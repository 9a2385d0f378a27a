//! Running Suricata with the plugin and reading what it wrote, for the end-to-end tests.
#![allow(dead_code)]

pub mod cases;
pub mod cli_cases;
pub mod eve_schema_cases;
pub mod feature_cases;
pub mod hardening_cases;
pub mod install_cases;
pub mod keyword_cases;
pub mod rules_cases;
pub mod scoring_cases;
pub mod segment_cases;
pub mod synth;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub enum Outcome {
    Pass(String),
    Fail(String),
    Skip(String),
}

/// `Fail` with a message unless `cond`.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        let holds: bool = $cond;
        if !holds {
            return Outcome::Fail(format!($($fmt)+));
        }
    };
}

pub struct Env {
    pub root: PathBuf,
    pub suricata: PathBuf,
    pub yaml: PathBuf,
    pub plugin: PathBuf,
    pub wrapper: PathBuf,
    pub datasets: PathBuf,
    pub tmp: PathBuf,
}

impl Env {
    pub fn discover() -> Result<Env, String> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let suricata = std::env::var_os("SURICATA")
            .map(PathBuf::from)
            .or_else(|| which("suricata"))
            .ok_or("suricata not on PATH: run scripts/test.sh (it builds Suricata 8.0.7)")?;
        let version = Command::new(&suricata)
            .arg("-V")
            .output()
            .map_err(|e| e.to_string())?;
        let version = String::from_utf8_lossy(&version.stdout).to_string();
        if !version.contains("8.0.7") {
            return Err(format!(
                "{} is not Suricata 8.0.7: {version}",
                suricata.display()
            ));
        }
        let prefix = suricata
            .parent()
            .and_then(Path::parent)
            .unwrap_or(Path::new("/"));
        let yaml = std::env::var_os("SURICATA_YAML")
            .map(PathBuf::from)
            .unwrap_or_else(|| prefix.join("etc/suricata/suricata.yaml"));
        // MQTT_ML_PLUGIN runs the cases against another build (e.g. to see a new case fail on
        // an older plugin).
        let plugin = std::env::var_os("MQTT_ML_PLUGIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/release/libmqtt_ml.so"));
        let wrapper = root.join("target/release/mqtt-ml");
        for p in [&yaml, &plugin, &wrapper] {
            if !p.is_file() {
                return Err(format!("{} missing: run scripts/test.sh", p.display()));
            }
        }
        let datasets = std::env::var_os("MQTT_ML_DATASETS")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("../shared/datasets"));
        let tmp = std::env::temp_dir().join(format!("mqtt-ml-e2e-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
        Ok(Env {
            root,
            suricata,
            yaml,
            plugin,
            wrapper,
            datasets,
            tmp,
        })
    }

    /// A fresh output directory for one run.
    pub fn out_dir(&self, name: &str) -> PathBuf {
        let d = self.tmp.join(name);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("create output dir");
        d
    }

    /// Suricata with the stock yaml and the plugin, plus `extra` arguments, reading `pcap`.
    pub fn run(&self, name: &str, pcap: &Path, extra: &[&str]) -> Run {
        let dir = self.out_dir(name);
        let mut cmd = Command::new(&self.suricata);
        cmd.arg("-c").arg(&self.yaml);
        cmd.arg("--set")
            .arg(format!("plugins.0={}", self.plugin.display()));
        cmd.arg("-k")
            .arg("none")
            .arg("-l")
            .arg(&dir)
            .arg("-r")
            .arg(pcap);
        cmd.args(extra);
        Run::from(
            cmd.current_dir(&self.root).output().expect("run suricata"),
            dir,
        )
    }

    /// `suricata -T` (load configuration and rules, then exit) with the plugin.
    pub fn check(&self, name: &str, extra: &[&str]) -> Run {
        let dir = self.out_dir(name);
        let mut cmd = Command::new(&self.suricata);
        cmd.arg("-T").arg("-c").arg(&self.yaml);
        cmd.arg("--set")
            .arg(format!("plugins.0={}", self.plugin.display()));
        cmd.arg("-l").arg(&dir).args(extra);
        Run::from(
            cmd.current_dir(&self.root)
                .output()
                .expect("run suricata -T"),
            dir,
        )
    }

    /// `suricata -T` with `rules`: every `alert` line of the file must load. Returns how many.
    pub fn rules_all_load(&self, name: &str, rules: &Path) -> Result<usize, String> {
        let n = std::fs::read_to_string(rules)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("alert"))
            .count();
        let check = self.check(name, &["-S", rules.to_str().unwrap_or_default(), "-v"]);
        let loaded = format!("{n} rules successfully loaded");
        if check.ok() && check.output.contains(&loaded) {
            Ok(n)
        } else {
            Err(format!("expected '{loaded}': {}", check.describe()))
        }
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.tmp.join(name);
        std::fs::write(&p, text).expect("write file");
        p
    }

    pub fn verify_pcap(&self, name: &str) -> Option<PathBuf> {
        let p = self.datasets.join("suricata-verify").join(name);
        p.is_file().then_some(p)
    }

    pub fn pcap(&self, name: &str) -> PathBuf {
        self.root.join("pcaps").join(name)
    }

    /// The project's own captures.
    pub fn project_pcaps(&self) -> Vec<PathBuf> {
        list(&self.root.join("pcaps"), &["pcap"])
    }

    /// The namespace captures of `pcaps/ns-home/` (one address per host, cut to 8 seconds).
    /// Run "a" of `pcaps/ns-home/`: the captures the tshark comparison covers (run "b" is not
    /// reconciled with tshark yet; pcaps/README.md).
    pub fn namespace_pcaps(&self) -> Vec<PathBuf> {
        list(&self.root.join("pcaps/ns-home"), &["pcap"])
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with("-a.pcap"))
            .collect()
    }

    /// Suricata's MQTT regression captures (MIT), if the datasets are present.
    /// None when the folder is missing or holds no capture: a case that needs them then reports
    /// a skip, never a pass.
    pub fn suricata_verify_pcaps(&self) -> Option<Vec<PathBuf>> {
        let d = self.datasets.join("suricata-verify");
        Some(list(&d, &["pcap"])).filter(|v| !v.is_empty())
    }

    /// MQTTset captures (CC BY-NC-SA, read in place), if present.
    pub fn mqttset_pcaps(&self) -> Option<Vec<PathBuf>> {
        let d = self.datasets.join("mqttset-reduced");
        if !d.is_dir() {
            return None;
        }
        let mut v = Vec::new();
        for sub in std::fs::read_dir(&d).ok()?.flatten() {
            if sub.path().is_dir() {
                v.extend(list(&sub.path(), &["pcap", "pcapng"]));
            }
        }
        v.sort();
        Some(v)
    }
}

fn list(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| {
        p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| exts.contains(&e))
    });
    v.sort();
    v
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// How many `mqtt_ml` records an output directory's eve.json holds.
pub fn mqtt_ml_records_in(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("eve.json"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"event_type\":\"mqtt_ml\""))
        .count()
}

pub struct Run {
    pub code: Option<i32>,
    pub output: String,
    pub dir: PathBuf,
}

impl Run {
    fn from(out: Output, dir: PathBuf) -> Run {
        let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
        output.push_str(&String::from_utf8_lossy(&out.stderr));
        Run {
            code: out.status.code(),
            output,
            dir,
        }
    }

    /// Exited by itself with status 0 (a signal gives no code).
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    pub fn error_lines(&self) -> Vec<&str> {
        self.output
            .lines()
            .filter(|l| l.starts_with("E: ") || l.starts_with("Error: "))
            .collect()
    }

    pub fn eve(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.dir.join("eve.json")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).expect("eve line is JSON"))
            .collect()
    }

    pub fn records(&self) -> Vec<Value> {
        self.eve()
            .into_iter()
            .filter(|r| r["event_type"] == "mqtt_ml")
            .collect()
    }

    pub fn alerts(&self) -> Vec<Value> {
        self.eve()
            .into_iter()
            .filter(|r| r["event_type"] == "alert")
            .collect()
    }

    /// A short description for failure messages.
    pub fn describe(&self) -> String {
        let tail: Vec<&str> = self.output.lines().rev().take(12).collect();
        format!(
            "exit {:?}; last output:\n{}",
            self.code,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }
}
