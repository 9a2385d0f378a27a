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

    /// Scales into `out`: `(x - min) / (max - min)` clipped to [LOW, HIGH]. A feature that never
    /// varied in training maps to 0 at its value, HIGH above and LOW below it, so any departure
    /// counts fully; NaN maps to HIGH.
    pub fn apply(&self, raw: &RawVector, out: &mut RawVector) {
        for i in 0..WIDTH {
            let (lo, hi, x) = (self.min[i], self.max[i], raw[i]);
            let range = hi - lo;
            let v = if range > f32::EPSILON {
                ((x - lo) / range).clamp(LOW, HIGH)
            } else if x > lo {
                HIGH
            } else if x < lo {
                LOW
            } else {
                0.0
            };
            out[i] = if v.is_nan() { HIGH } else { v };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_clips_and_handles_constant_features() {
        let mut min = vec![0.0; WIDTH];
        let mut max = vec![2.0; WIDTH];
        min[1] = 5.0;
        max[1] = 5.0;
        let s = Scaling::new(&min, &max).unwrap();
        let mut raw = [1.0f32; WIDTH];
        raw[2] = 9.0;
        raw[3] = -1.0;
        raw[4] = f32::NAN;
        raw[5] = 3.0;
        let mut out = [0.0; WIDTH];
        s.apply(&raw, &mut out);
        assert_eq!(out[0], 0.5);
        assert_eq!(out[1], LOW, "constant feature, value below");
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
        raw[1] = 6.0;
        s.apply(&raw, &mut out);
        assert_eq!(out[1], HIGH, "constant feature, value above");
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
