//! The threshold grammar, written once: `p95`, `p99`, `p999` (the model's benign percentiles, from
//! its metadata) or a non-negative number. The configuration (`threshold:`), the model metadata
//! (`thresholds.default`), the `mqtt_ml.anomaly` keyword and the command line all parse with it.
use std::fmt;
use std::str::FromStr;

/// What to say when a threshold does not parse.
pub const THRESHOLD_FIX: &str = "use p95, p99, p999 or a non-negative number";

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    P95,
    P99,
    P999,
    /// A fixed score, finite and non-negative.
    Value(f32),
}

/// A string that is not a threshold; displays as "invalid threshold 'x': use p95, ...".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThresholdError(pub String);

impl fmt::Display for ThresholdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid threshold '{}': {THRESHOLD_FIX}", self.0)
    }
}

impl std::error::Error for ThresholdError {}

impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "p95" => Ok(Threshold::P95),
            "p99" => Ok(Threshold::P99),
            "p999" => Ok(Threshold::P999),
            t => t
                .parse::<f32>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(Threshold::Value)
                .ok_or_else(|| ThresholdError(s.to_owned())),
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::P95 => f.write_str("p95"),
            Threshold::P99 => f.write_str("p99"),
            Threshold::P999 => f.write_str("p999"),
            Threshold::Value(v) => write!(f, "{v}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!("p95".parse(), Ok(Threshold::P95));
        assert_eq!(" p99 ".parse(), Ok(Threshold::P99));
        assert_eq!("p999".parse(), Ok(Threshold::P999));
        assert_eq!("0".parse(), Ok(Threshold::Value(0.0)));
        assert_eq!("3e-4".parse(), Ok(Threshold::Value(3e-4)));
        for bad in ["", "p42", "P95", "-1", "-0.1", "inf", "NaN", "high", "0.5x"] {
            let e = bad.parse::<Threshold>().unwrap_err();
            assert_eq!(e.0, bad);
            assert!(e.to_string().contains(THRESHOLD_FIX), "{e}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["p95", "p99", "p999", "0.5", "0.000123"] {
            let t: Threshold = s.parse().unwrap();
            assert_eq!(t.to_string().parse::<Threshold>(), Ok(t));
        }
        assert_eq!(Threshold::P999.to_string(), "p999");
    }
}
