//! `mqtt-ml learn`: fits a trained model to one site from benign traffic recorded there (a capture,
//! or N seconds live), without TensorFlow: the plugin extracts the feature vectors, the native
//! backend scores them, and `mqtt_ml::scoring::site` re-fits scaling and thresholds. Writes the
//! site model (the same .tflite and new metadata) into a directory and prints the line for
//! suricata.yaml.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mqtt_ml::features::RawVector;
use mqtt_ml::model::{Backend, LoadedModel};
use mqtt_ml::scoring::{metadata_path, site, ModelMetadata};

use super::args::{Input, Options};
use super::commands::{Failure, TempDir};
use super::suricata::{run, RunSpec, Setup};

type Result<T> = std::result::Result<T, Failure>;

/// The model file a site is learned from: `--model`, else the one the plugin loads by default.
fn base_model(opts: &Options, plugin: &Path) -> Result<PathBuf> {
    if let Some(m) = &opts.model {
        return Ok(m.clone());
    }
    mqtt_ml::layout::find_model(plugin).map_err(|tried| {
        format!(
            "no model beside the plugin {} (looked in {}): pass --model FILE",
            plugin.display(),
            tried
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
        .into()
    })
}

/// The feature vectors of every `mqtt_ml` record of an eve.json.
pub fn feature_rows(eve: &str) -> Vec<RawVector> {
    eve.lines()
        .filter(|l| l.contains("\"event_type\":\"mqtt_ml\""))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|rec| {
            let v: Vec<f64> = rec["mqtt_ml"]["features"]
                .as_array()?
                .iter()
                .filter_map(serde_json::Value::as_f64)
                .collect();
            site::row(&v)
        })
        .collect()
}

pub fn learn(input: &Input, seconds: Option<u64>, out: &Path, opts: &Options) -> Result<ExitCode> {
    let setup = Setup::find(opts.config.as_deref())?;
    let model_path = base_model(opts, &setup.plugin)?;
    let meta = ModelMetadata::load(&model_path)?;
    let model = LoadedModel::load(&model_path, Backend::Native, None).map_err(|e| e.to_string())?;
    let mut scorer = model.new_scorer().map_err(|e| e.to_string())?;
    let (input_args, what, source) = match input {
        Input::Pcap(p) => {
            if !p.is_file() {
                return Err(format!("capture {} not found: check the path", p.display()).into());
            }
            let what = format!("reading {}", p.display());
            (
                vec!["-r".to_string(), p.display().to_string()],
                what,
                p.display().to_string(),
            )
        }
        Input::Interface(i) => {
            if seconds.is_none() {
                return Err(format!(
                    "learning live on {i} needs --seconds N: how much benign traffic to learn from"
                )
                .into());
            }
            let what = format!("capturing on {i}");
            (
                vec!["-i".to_string(), i.clone()],
                what,
                format!("interface {i}"),
            )
        }
    };
    let tmp = TempDir::new("learn")?;
    // Features only: scoring off, so nothing of the model in force shapes what is learned.
    let no_scoring = Options {
        model: None,
        backend: None,
        threshold: None,
        rules: Vec::new(),
        ..opts.clone()
    };
    let mut args = setup.base_args(&no_scoring, &[]);
    for kv in ["scoring=no", "log-features=yes"] {
        args.extend(["--set".into(), format!("app-layer.protocols.mqtt-ml.{kv}")]);
    }
    args.extend(["-k".into(), "none".into(), "-l".into()]);
    args.push(tmp.0.display().to_string());
    args.extend(input_args);
    args.extend(opts.extra.iter().cloned());
    let spec = RunSpec {
        suricata: &setup.suricata,
        args,
        output_file: tmp.0.join("suricata.out"),
        eve: tmp.0.join("eve.json"),
        stop_after: seconds.map(std::time::Duration::from_secs),
        what,
    };
    let ended = run(&spec)?;
    let stopped_live = ended.interrupted && matches!(input, Input::Interface(_));
    if !(ended.ok() || stopped_live) {
        return Err(format!("Suricata failed: {}", ended.describe()).into());
    }
    let eve = std::fs::read_to_string(tmp.0.join("eve.json")).unwrap_or_default();
    let rows = feature_rows(&eve);
    let (doc, summary) = site::calibrate(&meta, scorer.as_mut(), &rows, &source)?;
    std::fs::create_dir_all(out).map_err(|e| {
        format!(
            "cannot create {}: {e}; pass -o with a writable directory",
            out.display()
        )
    })?;
    let site_model = out.join(
        model_path
            .file_name()
            .unwrap_or_else(|| std::ffi::OsStr::new("mqtt-ml.tflite")),
    );
    std::fs::copy(&model_path, &site_model)
        .map_err(|e| format!("cannot write {}: {e}", site_model.display()))?;
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
    std::fs::write(metadata_path(&site_model), text)
        .map_err(|e| format!("cannot write {}: {e}", metadata_path(&site_model).display()))?;
    println!(
        "learned from {} benign MQTT messages of {source}",
        summary.messages
    );
    if summary.widened.is_empty() {
        println!("scaling: unchanged (the site stays within the model's benign range)");
    } else {
        println!("scaling: widened for {}", summary.widened.join(", "));
    }
    for (name, before, after) in &summary.thresholds {
        println!("threshold {name}: {before} -> {after}");
    }
    println!("site model: {}", site_model.display());
    println!(
        "use it: app-layer.protocols.mqtt-ml.model: {}",
        site_model.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_ml::features::WIDTH;

    #[test]
    fn rows_come_from_mqtt_ml_records_of_the_schema_width() {
        let good = vec![0.5; WIDTH];
        let eve = format!(
            "{}\n{}\n{}\n",
            serde_json::json!({"event_type": "mqtt_ml", "mqtt_ml": {"features": good}}),
            serde_json::json!({"event_type": "mqtt_ml", "mqtt_ml": {"features": [1.0, 2.0]}}),
            serde_json::json!({"event_type": "flow", "mqtt_ml": {"features": good}}),
        );
        let rows = feature_rows(&eve);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0], [0.5f32; WIDTH]);
    }
}
