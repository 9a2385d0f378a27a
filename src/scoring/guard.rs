//! One worker thread's scorer and what happens when scoring fails.
use crate::features::{RawVector, Scaling};
use crate::model::{ModelError, Scorer};

use super::{score, Scored, TOP};

/// `top` of a score that failed: no feature explains it.
pub const FAILED_TOP: [(u8, f32); TOP] = [(0, -1.0); TOP];

/// Builds a scorer (an interpreter) for the thread.
pub type Build<'a> = &'a dyn Fn() -> Result<Box<dyn Scorer>, ModelError>;

/// What scoring one message gave.
#[derive(Debug)]
pub struct Assessed {
    pub scored: Option<Scored>,
    /// Set when scoring failed: the reason, and whether this thread says so for the first time.
    pub failure: Option<(String, bool)>,
}

/// Messages to wait before building a scorer again after a build failed: doubles per failure.
const FIRST_BACKOFF: u32 = 1 << 10;
const MAX_BACKOFF: u32 = 1 << 20;

/// A thread's scorer, built on first use. Scoring fails closed: a message whose score cannot be
/// had (no scorer, an inference error, a non-finite score) is an anomaly with an infinite score,
/// so `mqtt_ml.anomaly` and `mqtt_ml.score:>x` rules still see it. A scorer that cannot be built
/// is tried again after a growing number of messages, never on every message.
pub struct ScorerGuard {
    scorer: Option<Box<dyn Scorer>>,
    /// Messages left before the next build attempt, after a failed one.
    wait: u32,
    backoff: u32,
    /// This thread has reported a failure already.
    said: bool,
}

impl Default for ScorerGuard {
    fn default() -> Self {
        ScorerGuard {
            scorer: None,
            wait: 0,
            backoff: FIRST_BACKOFF,
            said: false,
        }
    }
}

impl ScorerGuard {
    pub fn new() -> Self {
        Self::default()
    }

    /// Scores `raw`; see the type's documentation for failures.
    pub fn assess(
        &mut self,
        build: Build<'_>,
        scaling: &Scaling,
        threshold: f32,
        raw: &RawVector,
    ) -> Assessed {
        let result = match self.scorer() {
            Ok(Some(scorer)) => score(scorer, scaling, threshold, raw).map_err(|e| e.to_string()),
            Ok(None) => self.build(build).and_then(|scorer| {
                score(scorer, scaling, threshold, raw).map_err(|e| e.to_string())
            }),
            Err(e) => Err(e),
        };
        let error = match result {
            Ok(s) if s.score.is_finite() => {
                return Assessed {
                    scored: Some(s),
                    failure: None,
                }
            }
            Ok(s) => format!("the model gave a non-finite score ({})", s.score),
            Err(e) => e,
        };
        let first = !std::mem::replace(&mut self.said, true);
        Assessed {
            scored: Some(Scored {
                score: f32::INFINITY,
                threshold,
                above: true,
                anomaly: true,
                evidence: super::Evidence::default(),
                top: FAILED_TOP,
            }),
            failure: Some((error, first)),
        }
    }

    /// The built scorer, `None` when one should be built now, or why there is none.
    fn scorer(&mut self) -> Result<Option<&mut dyn Scorer>, String> {
        if let Some(s) = self.scorer.as_mut() {
            return Ok(Some(s.as_mut()));
        }
        if self.wait > 0 {
            self.wait -= 1;
            return Err("no scorer: building one failed; trying again later".into());
        }
        Ok(None)
    }

    fn build(&mut self, build: Build<'_>) -> Result<&mut dyn Scorer, String> {
        match build() {
            Ok(s) => {
                self.backoff = FIRST_BACKOFF;
                Ok(self.scorer.insert(s).as_mut())
            }
            Err(e) => {
                self.wait = self.backoff;
                self.backoff = self.backoff.saturating_mul(2).min(MAX_BACKOFF);
                Err(e.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::WIDTH;
    use crate::model::ErrorKind;
    use std::cell::Cell;

    /// Reconstructs with a fixed value, or fails.
    struct Fixed(Result<f32, ()>);
    impl Scorer for Fixed {
        fn width(&self) -> usize {
            WIDTH
        }
        fn reconstruct(&mut self, _i: &[f32], o: &mut [f32]) -> Result<(), ModelError> {
            match self.0 {
                Ok(v) => {
                    o.fill(v);
                    Ok(())
                }
                Err(()) => Err(ModelError::new(ErrorKind::Runtime, "invoke failed", "x")),
            }
        }
    }

    fn scaling() -> Scaling {
        Scaling::new(&[0.0; WIDTH], &[1.0; WIDTH]).unwrap()
    }

    #[test]
    fn non_finite_score_is_an_anomaly_and_a_failure() {
        let mut g = ScorerGuard::new();
        let build: Build<'_> = &|| Ok(Box::new(Fixed(Ok(f32::NAN))));
        let a = g.assess(build, &scaling(), 0.05, &[0.5; WIDTH]);
        let s = a
            .scored
            .expect("a failed score still reaches rules and EVE");
        assert!(s.anomaly, "NaN score fails open");
        assert!(
            s.score > 1e30,
            "rules comparing the score see it above any threshold"
        );
        assert!(a.failure.is_some_and(|(_, first)| first));
        let b = g.assess(build, &scaling(), 0.05, &[0.5; WIDTH]);
        assert!(b.scored.is_some_and(|s| s.anomaly));
        assert!(b.failure.is_some_and(|(_, first)| !first), "said once");
    }

    #[test]
    fn inference_error_is_an_anomaly_said_once() {
        let mut g = ScorerGuard::new();
        let build: Build<'_> = &|| Ok(Box::new(Fixed(Err(()))));
        let firsts: Vec<bool> = (0..5)
            .map(|_| {
                let a = g.assess(build, &scaling(), 0.05, &[0.5; WIDTH]);
                assert!(a.scored.is_some_and(|s| s.anomaly && s.top == FAILED_TOP));
                a.failure.expect("counted").1
            })
            .collect();
        assert_eq!(firsts, [true, false, false, false, false]);
    }

    #[test]
    fn a_scorer_that_cannot_be_built_is_not_rebuilt_per_message() {
        let mut g = ScorerGuard::new();
        let builds = Cell::new(0u32);
        let build: Build<'_> = &|| {
            builds.set(builds.get() + 1);
            Err(ModelError::new(ErrorKind::Runtime, "no interpreter", "x"))
        };
        for _ in 0..10_000 {
            let a = g.assess(build, &scaling(), 0.05, &[0.5; WIDTH]);
            assert!(a.scored.is_some_and(|s| s.anomaly));
            assert!(a.failure.is_some());
        }
        assert!(
            builds.get() <= 4,
            "{} builds for 10,000 messages",
            builds.get()
        );
        assert!(builds.get() >= 2, "never retried");
    }

    #[test]
    fn good_scores_pass_through() {
        let mut g = ScorerGuard::new();
        let build: Build<'_> = &|| Ok(Box::new(Fixed(Ok(0.5))));
        let a = g.assess(build, &scaling(), 0.05, &[0.5; WIDTH]);
        assert!(a.failure.is_none());
        let s = a.scored.unwrap();
        assert_eq!((s.score, s.anomaly), (0.0, false));
    }
}
