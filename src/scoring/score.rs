//! Scoring one vector.
use super::decision::Evidence;
use crate::features::{RawVector, Scaling, WIDTH};
use crate::model::{mse, top_errors, ModelError, Scorer};

/// How many of the largest per-feature errors a score explains itself with.
pub const TOP: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored {
    /// Mean squared reconstruction error of the scaled vector.
    pub score: f32,
    /// The threshold in force when it was scored.
    pub threshold: f32,
    /// The score is above the threshold (or not finite).
    pub above: bool,
    /// The decision (see `decision`): equal to `above` until the message's connection and client
    /// evidence are applied, which only the plugin can do.
    pub anomaly: bool,
    pub evidence: Evidence,
    /// (feature index, squared error), largest first.
    pub top: [(u8, f32); TOP],
}

/// Scales `raw`, reconstructs it with `model` and measures the error.
pub fn score(
    model: &mut dyn Scorer,
    scaling: &Scaling,
    threshold: f32,
    raw: &RawVector,
) -> Result<Scored, ModelError> {
    let mut input = [0f32; WIDTH];
    let mut output = [0f32; WIDTH];
    scaling.apply(raw, &mut input);
    model.reconstruct(&input, &mut output)?;
    let score = mse(&input, &output);
    let mut top = [(0u8, -1f32); TOP];
    for (slot, (i, e)) in top
        .iter_mut()
        .zip(top_errors::<TOP>(&input, &output).as_slice())
    {
        *slot = (*i as u8, *e);
    }
    let above = !score.is_finite() || score > threshold;
    Ok(Scored {
        score,
        threshold,
        above,
        anomaly: above,
        evidence: Evidence::default(),
        top,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Reconstructs every feature as 0.5 (also used by the site calibration's tests).
    pub(crate) struct Half;
    impl Scorer for Half {
        fn width(&self) -> usize {
            WIDTH
        }
        fn reconstruct(&mut self, _i: &[f32], o: &mut [f32]) -> Result<(), ModelError> {
            o.fill(0.5);
            Ok(())
        }
    }

    #[test]
    fn score_is_mse_of_scaled_vector_and_top_is_ordered() {
        let scaling = Scaling::new(&[0.0; WIDTH], &[1.0; WIDTH]).unwrap();
        let mut raw = [0.5f32; WIDTH];
        raw[3] = 1.0; // error 0.25
        raw[7] = 0.0; // error 0.25
        raw[9] = 0.8; // error 0.09
        let s = score(&mut Half, &scaling, 0.01, &raw).unwrap();
        let expected = (0.25 + 0.25 + 0.09) / WIDTH as f32;
        assert!((s.score - expected).abs() < 1e-7, "{}", s.score);
        assert!(s.anomaly);
        assert_eq!(s.top[0].0, 3);
        assert_eq!(s.top[1].0, 7);
        assert_eq!(s.top[2].0, 9);
        let quiet = score(&mut Half, &scaling, 0.1, &raw).unwrap();
        assert!(!quiet.anomaly);
    }
}
