//! The `mqtt_ml` EVE object: which fields a message produces (docs/eve.md is their reference).
//! Written through the small `JsonSink` trait so the same code fills Suricata's JsonBuilder in the
//! plugin (as text, [`TextSink`]) and a serde_json value in tests.

mod record;
mod sink;

pub use record::{write_record, Assessment, RecordOptions};
pub use sink::{f32_as_written, JsonSink, SinkError, TextSink, ValueSink};

#[cfg(test)]
mod tests;
