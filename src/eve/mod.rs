//! The `mqtt_ml` EVE object: which fields a message produces (docs/eve.md is their reference).
//! Written through the small `JsonSink` trait so the same code fills Suricata's JsonBuilder in the
//! plugin and a serde_json value in tests.

mod record;
mod sink;

pub use record::{write_record, Assessment, RecordOptions};
pub use sink::{JsonSink, SinkError, ValueSink};

#[cfg(test)]
mod tests;
