//! Rule language: the mqtt-ml equivalents of Suricata's MQTT keywords (argument parsing and
//! matching on parsed messages) and the converter for rules written with the built-in ones.
//! Pure; the Suricata glue in `src/suricata/` registers the keywords.

pub mod convert;
pub mod keywords;
pub mod uint;
