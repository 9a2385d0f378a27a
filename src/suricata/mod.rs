//! The only code that touches Suricata: plugin entry, parser callbacks, EVE logger, packet
//! callback and configuration. Everything here adapts Suricata's C interface to the pure layers
//! (`wire`, `flow`, `eve`); no protocol logic lives here.

mod buffers;
mod conf;
mod detect;
mod facts;
mod ffi;
mod log;
mod mqtt_keywords;
mod packets;
mod parser;
mod plugin;
mod scoring;
