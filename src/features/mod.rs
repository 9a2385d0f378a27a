//! The feature vector: one definition (names, order, transforms, version) shared by inference and
//! training. Training reads it through `mqtt-ml schema` and reads the vectors themselves from the
//! plugin's EVE output (`log-features`), so no second extractor exists anywhere.

mod scaling;
mod schema;
mod vector;

pub use scaling::{Scaling, ScalingError, HIGH, LOW};
pub use schema::{schema_json, Feature, Transform, FEATURES, SCHEMA_VERSION, WIDTH};
pub use vector::{extract, RawVector};
