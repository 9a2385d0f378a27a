//! The JSON written next to a model (`x.tflite` -> `x.json`): which feature schema the model was
//! trained on, the scaling fitted on its training data, and its thresholds. The plugin refuses a
//! model whose schema differs from the one compiled in.
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::threshold::Threshold;
use crate::features::{Scaling, FEATURES, SCHEMA_VERSION, WIDTH};

#[derive(Clone, Debug, PartialEq)]
pub struct Thresholds {
    pub p95: f32,
    pub p99: f32,
    pub p999: f32,
    /// The one the model recommends (`thresholds.default`).
    pub default: Threshold,
}

impl Thresholds {
    /// The score a threshold stands for.
    pub fn value(&self, t: Threshold) -> f32 {
        match t {
            Threshold::P95 => self.p95,
            Threshold::P99 => self.p99,
            Threshold::P999 => self.p999,
            Threshold::Value(v) => v,
        }
    }

    /// A threshold written as text (`p95`, `p99`, `p999` or a number); None if it is not one.
    pub fn resolve(&self, spec: &str) -> Option<f32> {
        spec.parse().ok().map(|t| self.value(t))
    }

    pub fn default_value(&self) -> f32 {
        self.value(self.default)
    }
}

#[derive(Clone, Debug)]
pub struct ModelMetadata {
    pub scaling: Scaling,
    pub thresholds: Thresholds,
    /// The whole document, for reporting.
    pub raw: Value,
}

/// `models/x.tflite` -> `models/x.json`.
pub fn metadata_path(model: &Path) -> PathBuf {
    model.with_extension("json")
}

fn floats(v: &Value) -> Option<Vec<f64>> {
    v.as_array()?.iter().map(Value::as_f64).collect()
}

impl ModelMetadata {
    /// Reads and checks the metadata of `model`. Errors are one line naming the fix.
    pub fn load(model: &Path) -> Result<ModelMetadata, String> {
        let path = metadata_path(model);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "model metadata {}: {e}; every model needs the JSON its training wrote next to it",
                path.display()
            )
        })?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| {
            format!(
                "model metadata {}: not valid JSON ({e}); re-export the model",
                path.display()
            )
        })?;
        Self::from_json(doc).map_err(|e| format!("model metadata {}: {e}", path.display()))
    }

    pub fn from_json(doc: Value) -> Result<ModelMetadata, String> {
        let schema = &doc["schema"];
        let version = schema["version"].as_u64().unwrap_or(0);
        let retrain =
            "retrain the model (training/) for this plugin or use the plugin it was trained for";
        if version != u64::from(SCHEMA_VERSION) {
            return Err(format!(
                "model was trained on feature schema v{version}, this plugin computes v{SCHEMA_VERSION}; {retrain}"
            ));
        }
        let names: Vec<&str> = schema["features"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if names.len() != WIDTH {
            return Err(format!(
                "model expects {} features, the schema has {WIDTH}; {retrain}",
                names.len()
            ));
        }
        if let Some(i) = (0..WIDTH).find(|&i| names[i] != FEATURES[i].name) {
            return Err(format!(
                "feature {i} is '{}' in the model and '{}' in the plugin; {retrain}",
                names[i], FEATURES[i].name
            ));
        }
        let scaling = match (
            floats(&doc["scaling"]["min"]),
            floats(&doc["scaling"]["max"]),
        ) {
            (Some(min), Some(max)) => Scaling::new(&min, &max).map_err(|e| e.to_string())?,
            _ => return Err("no scaling.min / scaling.max arrays; re-export the model".into()),
        };
        let t = &doc["thresholds"];
        let get = |k: &str| {
            t[k].as_f64()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(|v| v as f32)
        };
        let (Some(p95), Some(p99), Some(p999)) = (get("p95"), get("p99"), get("p999")) else {
            return Err(
                "thresholds.p95 / p99 / p999 missing or not numbers; re-export the model".into(),
            );
        };
        let default = match t["default"].as_str() {
            None => Threshold::P99,
            Some(s) => s
                .parse()
                .map_err(|e| format!("thresholds.default: {e}; re-export the model"))?,
        };
        let thresholds = Thresholds {
            p95,
            p99,
            p999,
            default,
        };
        Ok(ModelMetadata {
            scaling,
            thresholds,
            raw: doc,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::features::schema_json;
    use serde_json::json;

    pub fn valid() -> Value {
        json!({
            "schema": schema_json(),
            "scaling": {"min": vec![0.0; WIDTH], "max": vec![1.0; WIDTH]},
            "thresholds": {"p95": 0.001, "p99": 0.002, "p999": 0.004, "default": "p99"},
        })
    }

    #[test]
    fn accepts_matching_schema() {
        let m = ModelMetadata::from_json(valid()).unwrap();
        assert_eq!(m.thresholds.default_value(), 0.002);
        assert_eq!(m.thresholds.resolve("p999"), Some(0.004));
        assert_eq!(m.thresholds.resolve("0.5"), Some(0.5));
        assert_eq!(m.thresholds.resolve("-1"), None);
        let mut v = valid();
        v["thresholds"]["default"] = json!("p42");
        let e = ModelMetadata::from_json(v).unwrap_err();
        assert!(e.contains("invalid threshold 'p42'"), "{e}");
    }

    #[test]
    fn refuses_other_schemas_with_the_fix() {
        let mut v = valid();
        v["schema"]["version"] = json!(SCHEMA_VERSION + 1);
        let e = ModelMetadata::from_json(v).unwrap_err();
        assert!(e.contains("retrain"), "{e}");
        let mut v = valid();
        v["schema"]["features"] = json!(["a", "b"]);
        assert!(ModelMetadata::from_json(v)
            .unwrap_err()
            .contains("expects 2 features"));
        let mut v = valid();
        v["schema"]["features"][5] = json!("renamed");
        assert!(ModelMetadata::from_json(v)
            .unwrap_err()
            .contains("'renamed'"));
        let mut v = valid();
        v["thresholds"]["p99"] = json!("high");
        assert!(ModelMetadata::from_json(v).is_err());
        let e = ModelMetadata::load(Path::new("/nonexistent/m.tflite")).unwrap_err();
        assert!(e.contains("/nonexistent/m.json"), "{e}");
    }
}
