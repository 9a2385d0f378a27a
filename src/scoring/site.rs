//! Learning a site: re-fitting a trained model's scaling and thresholds to what is normal on one
//! network, from benign traffic recorded there, without retraining (no TensorFlow at the site).
//!
//! - Scaling widens to cover the site's benign range: `min' = min(min, site min)`, `max' =
//!   max(max, site max)`. What this network does routinely then never lies beyond what the model
//!   knows as benign, while everything the model learned stays inside [0, 1] as in training.
//! - Thresholds become the site's own percentiles of the re-scaled scores, never lower than the
//!   model's (a short or quiet recording must not make the detector more sensitive than shipped).
//!
//! The result is a complete metadata document for the same .tflite file: the plugin loads it like
//! any model (`app-layer.protocols.mqtt-ml.model`).
use serde_json::{json, Value};

use super::score::score;
use super::ModelMetadata;
use crate::features::{RawVector, Scaling, WIDTH};
use crate::model::Scorer;

/// What a calibration found, for the command to print.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteSummary {
    pub messages: usize,
    /// Features whose range the site widened, by name.
    pub widened: Vec<&'static str>,
    /// (name, model threshold, site threshold)
    pub thresholds: Vec<(&'static str, f32, f32)>,
}

/// The fewest benign messages a calibration accepts: below that the percentiles mean nothing.
pub const MIN_MESSAGES: usize = 300;

/// Re-fits `meta` to the benign `rows` of a site, scoring them with `model`.
pub fn calibrate(
    meta: &ModelMetadata,
    model: &mut dyn Scorer,
    rows: &[RawVector],
    source: &str,
) -> Result<(Value, SiteSummary), String> {
    if rows.len() < MIN_MESSAGES {
        return Err(format!(
            "{} MQTT messages in {source}; learning a site needs at least {MIN_MESSAGES} benign \
             messages: record longer",
            rows.len()
        ));
    }
    let mut min = meta.scaling.min;
    let mut max = meta.scaling.max;
    let mut widened = Vec::new();
    for (i, f) in crate::features::FEATURES.iter().enumerate() {
        let (lo, hi) = rows
            .iter()
            .map(|r| r[i])
            .filter(|v| v.is_finite())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        if lo < min[i] || hi > max[i] {
            widened.push(f.name);
        }
        if lo.is_finite() {
            min[i] = min[i].min(lo);
            max[i] = max[i].max(hi);
        }
    }
    let to_f64 = |v: &RawVector| v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
    let scaling = Scaling::new(&to_f64(&min), &to_f64(&max)).map_err(|e| e.to_string())?;
    let mut scores = Vec::with_capacity(rows.len());
    for r in rows {
        let s = score(model, &scaling, f32::INFINITY, r).map_err(|e| e.to_string())?;
        scores.push(if s.score.is_finite() {
            s.score
        } else {
            f32::MAX
        });
    }
    scores.sort_by(f32::total_cmp);
    let t = &meta.thresholds;
    let mut thresholds = Vec::new();
    let mut out = meta.raw.clone();
    for (name, q, model_value) in [
        ("p95", 0.95, t.p95),
        ("p99", 0.99, t.p99),
        ("p999", 0.999, t.p999),
    ] {
        let site = percentile(&scores, q).max(model_value);
        thresholds.push((name, model_value, site));
        out["thresholds"][name] = json!(site);
    }
    out["scaling"] = json!({"min": to_f64(&min), "max": to_f64(&max)});
    out["site"] = json!({
        "source": source,
        "messages": rows.len(),
        "widened_features": widened,
        "model_thresholds": {"p95": t.p95, "p99": t.p99, "p999": t.p999},
        "method": "scaling widened to the site's benign range; thresholds are the site's \
                   percentiles of the re-scaled scores, never below the model's",
    });
    // The result must load as a model's metadata.
    ModelMetadata::from_json(out.clone())?;
    Ok((
        out,
        SiteSummary {
            messages: rows.len(),
            widened,
            thresholds,
        },
    ))
}

/// Linear-interpolated percentile of sorted values (numpy's default), `q` in [0, 1].
fn percentile(sorted: &[f32], q: f64) -> f32 {
    let pos = q * (sorted.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos.fract());
    let j = (i + 1).min(sorted.len() - 1);
    (f64::from(sorted[i]) * (1.0 - frac) + f64::from(sorted[j]) * frac) as f32
}

/// The width check shared with the plugin: a row of another width is not a feature vector.
pub fn row(values: &[f64]) -> Option<RawVector> {
    if values.len() != WIDTH {
        return None;
    }
    let mut r = [0f32; WIDTH];
    for (o, v) in r.iter_mut().zip(values) {
        *o = *v as f32;
    }
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::schema_json;
    use crate::scoring::score::tests::Half;

    fn meta() -> ModelMetadata {
        ModelMetadata::from_json(json!({
            "format": "mqtt-ml-model", "format_version": 1,
            "schema": schema_json(),
            "scaling": {"min": vec![0.0; WIDTH], "max": vec![1.0; WIDTH]},
            "thresholds": {"p95": 0.001, "p99": 0.002, "p999": 0.005, "default": "p999"},
        }))
        .unwrap()
    }

    #[test]
    fn widens_scaling_and_raises_thresholds_to_the_site() {
        // A site where feature 4 routinely reaches 3 (three times the trained maximum).
        let rows: Vec<RawVector> = (0..2000)
            .map(|i| {
                let mut r = [0.5f32; WIDTH];
                r[4] = 3.0 * (i % 100) as f32 / 99.0;
                r
            })
            .collect();
        let (doc, sum) = calibrate(&meta(), &mut Half, &rows, "site.pcap").unwrap();
        assert_eq!(sum.widened, vec![crate::features::FEATURES[4].name]);
        assert_eq!(doc["scaling"]["max"][4], 3.0);
        assert_eq!(doc["scaling"]["max"][0], 1.0);
        let m = ModelMetadata::from_json(doc).unwrap();
        // Feature 4 spans [0, 1] again after re-scaling: the site's scores reach 0.25/WIDTH,
        // above the model's thresholds, which therefore rise to the site's percentiles.
        let top = 0.25 / WIDTH as f32;
        assert!(m.thresholds.p999 > 0.005 && m.thresholds.p999 <= top + 1e-6);
        assert!(m.thresholds.p95 > 0.001 && m.thresholds.p95 < m.thresholds.p999);
        assert_eq!((sum.messages, sum.thresholds.len()), (2000, 3));
    }

    #[test]
    fn never_more_sensitive_than_the_model() {
        let rows = vec![[0.5f32; WIDTH]; 1500];
        let (doc, sum) = calibrate(&meta(), &mut Half, &rows, "quiet.pcap").unwrap();
        assert!(sum.widened.is_empty());
        let m = ModelMetadata::from_json(doc).unwrap();
        assert_eq!(
            (m.thresholds.p95, m.thresholds.p99, m.thresholds.p999),
            (0.001, 0.002, 0.005)
        );
    }

    #[test]
    fn too_little_traffic_is_one_clear_error() {
        let e = calibrate(&meta(), &mut Half, &[[0.5; WIDTH]; 10], "x.pcap").unwrap_err();
        assert!(
            e.contains("at least 300") && e.contains("record longer"),
            "{e}"
        );
    }

    #[test]
    fn percentile_matches_numpy() {
        let v: Vec<f32> = (0..=10).map(|x| x as f32).collect();
        assert_eq!(percentile(&v, 0.95), 9.5);
        assert_eq!(percentile(&v, 0.0), 0.0);
        assert_eq!(percentile(&v, 1.0), 10.0);
    }
}
