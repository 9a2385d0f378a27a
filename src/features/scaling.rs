//! Min-max scaling fitted on benign training data (stored in the model's metadata): training data
//! spans [0, 1]; other values are clipped to [LOW, HIGH] = [-1, 2]. Clipping at [0, 1] would make
//! a keep-alive of 65535 look exactly like the largest benign one; the wider range keeps "far
//! beyond anything benign" visible (the sigmoid output cannot follow it, so its error grows)
//! while bounding what one wild value can add to the score.
use super::schema::WIDTH;
use super::vector::RawVector;

/// Clip bounds of scaled values.
pub const LOW: f32 = -1.0;
pub const HIGH: f32 = 2.0;
/// The smallest range a feature is scaled by, in transformed units (a factor of e for `log1p`
/// features, one step for flags). Benign training data that happened to barely vary (QoS 2
/// exchanges answered within 5 ms on every training network) must not make an ordinary value
/// elsewhere (25 ms) look like the most extreme one: a value is only "far out" when it is far in
/// absolute terms too. A feature that never varied in training therefore counts a departure of
/// one unit (a flag that was always 0 and is now 1) fully, and smaller ones in proportion.
pub const MIN_RANGE: f32 = 1.0;

#[derive(Clone, Debug, PartialEq)]
pub struct Scaling {
    pub min: RawVector,
    pub max: RawVector,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScalingError(pub String);

impl std::fmt::Display for ScalingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Scaling {
    pub fn new(min: &[f64], max: &[f64]) -> Result<Scaling, ScalingError> {
        if min.len() != WIDTH || max.len() != WIDTH {
            return Err(ScalingError(format!(
                "scaling has {} min and {} max values, the schema has {WIDTH} features",
                min.len(),
                max.len()
            )));
        }
        let mut s = Scaling {
            min: [0.0; WIDTH],
            max: [0.0; WIDTH],
        };
        for i in 0..WIDTH {
            if !min[i].is_finite() || !max[i].is_finite() || max[i] < min[i] {
                return Err(ScalingError(format!(
                    "scaling for feature {i} is not a finite range"
                )));
            }
            s.min[i] = min[i] as f32;
            s.max[i] = max[i] as f32;
        }
        Ok(s)
    }

    /// Scales into `out`: `(x - min) / max(max - min, MIN_RANGE)` clipped to [LOW, HIGH]; NaN
    /// maps to HIGH.
    pub fn apply(&self, raw: &RawVector, out: &mut RawVector) {
        for i in 0..WIDTH {
            let (lo, hi, x) = (self.min[i], self.max[i], raw[i]);
            let range = (hi - lo).max(MIN_RANGE);
            let v = ((x - lo) / range).clamp(LOW, HIGH);
            out[i] = if v.is_nan() { HIGH } else { v };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_clips_and_floors_narrow_ranges() {
        let mut min = vec![0.0; WIDTH];
        let mut max = vec![2.0; WIDTH];
        min[1] = 5.0;
        max[1] = 5.0;
        min[6] = 0.0;
        max[6] = 0.005;
        let s = Scaling::new(&min, &max).unwrap();
        let mut raw = [1.0f32; WIDTH];
        raw[2] = 9.0;
        raw[3] = -1.0;
        raw[4] = f32::NAN;
        raw[5] = 3.0;
        raw[6] = 0.025;
        let mut out = [0.0; WIDTH];
        s.apply(&raw, &mut out);
        assert_eq!(out[0], 0.5);
        assert_eq!(out[1], LOW, "constant feature, a whole unit or more below");
        assert_eq!(
            out[2], HIGH,
            "far above the training range: clipped, not lost"
        );
        assert_eq!(out[3], -0.5, "below the training range, within the clip");
        assert_eq!(out[4], HIGH, "NaN counts as out of range");
        assert_eq!(
            out[5], 1.5,
            "above the training range, still told apart from its maximum"
        );
        assert!(
            (out[6] - 0.025).abs() < 1e-7,
            "a narrow training range is scaled by MIN_RANGE: {}",
            out[6]
        );
        raw[1] = 6.0;
        s.apply(&raw, &mut out);
        assert_eq!(out[1], 1.0, "constant feature, one unit above");
        raw[1] = 5.0;
        s.apply(&raw, &mut out);
        assert_eq!(out[1], 0.0, "constant feature, at its value");
    }

    #[test]
    fn rejects_bad_ranges() {
        assert!(Scaling::new(&[0.0; 3], &[1.0; 3]).is_err());
        let mut max = vec![1.0; WIDTH];
        max[0] = -1.0;
        assert!(Scaling::new(&[0.0; WIDTH], &max).is_err());
    }
}
