//! From a message's feature vector to its anomaly score: the model's metadata (schema check,
//! scaling, thresholds) and the scoring step (scale, reconstruct, mean squared error, the features
//! that contributed most).

pub mod decision;
mod guard;
mod metadata;
mod score;
pub mod site;
mod threshold;

pub use decision::{decide, is_answer, ConnectionEvidence, DecisionParams, Evidence, Reason};
pub use guard::{Assessed, Build, ScorerGuard, FAILED_TOP};
pub use metadata::{metadata_path, ModelMetadata, Thresholds};
pub use score::{score, Scored, TOP};
pub use threshold::{Threshold, ThresholdError, THRESHOLD_FIX};
