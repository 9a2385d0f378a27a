//! mqtt-ml: MQTT parsing, per-flow timing and anomaly scoring for Suricata 8.
//!
//! Data flows one way through the layers:
//! - [`wire`]: MQTT 3.1 / 3.1.1 / 5.0 wire format, pure, for hostile input;
//! - [`flow`]: framing of TCP streams, per-flow timing and counters, per-source table;
//! - [`eve`]: the `mqtt_ml` EVE object of one message;
//! - [`rules`]: the rule keywords' pure parts and the converter for built-in `mqtt.*` rules;
//! - `suricata` (feature `suricata`): the plugin, the only code that touches Suricata;
//! - [`capi`]: a small C ABI to score feature vectors from other tools (the Zeek package).

pub mod capi;
pub mod config;
pub mod eve;
pub mod events;
pub mod features;
pub mod flow;
pub mod layout;
pub mod model;
pub mod rules;
pub mod scoring;
pub mod wire;

#[cfg(feature = "suricata")]
mod suricata;
