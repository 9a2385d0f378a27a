//! The plugin's configuration: one immutable struct, read once at start-up from the
//! `app-layer.protocols.mqtt-ml` section of suricata.yaml (or `--set`), validated here so that a
//! bad value stops Suricata with one line naming the key and the fix.
use std::fmt;

use crate::scoring::{Threshold, THRESHOLD_FIX};

/// The yaml section every key lives under.
pub const SECTION: &str = "app-layer.protocols.mqtt-ml";

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Largest MQTT message kept (bytes); larger ones are skipped with `message_too_large`.
    pub max_msg_len: usize,
    /// Most transactions alive per flow.
    pub max_tx: usize,
    /// Most messages turned into transactions per stream slice.
    pub max_msgs_per_segment: usize,
    /// PUBLISH payload / will message bytes kept and logged.
    pub max_payload_log: usize,
    /// Whether EVE shows CONNECT passwords (their length is always logged).
    pub log_passwords: bool,
    /// Sliding window for per-source counters, seconds.
    pub source_window: u64,
    /// Most client addresses tracked by the per-source table.
    pub source_table_size: usize,
    /// IPv6 clients are counted per prefix of this many bits (128: per address), so that a host
    /// rotating addresses inside its network is still one client.
    pub source_ipv6_prefix: u8,
    /// Most unparsed TCP segments remembered per flow direction for message timing.
    pub packet_log_size: usize,
    /// Log `mqtt_ml` records in every eve-log that lists Suricata's built-in `mqtt` type.
    pub eve_follow_mqtt: bool,
    /// Score every message with the model (off: parse and log only, said once at start-up).
    pub scoring: bool,
    /// The model (.tflite); its metadata is the .json beside it. None: the one installed with the
    /// plugin, found relative to the plugin's own file (`layout::find_model`).
    pub model: Option<String>,
    /// Which runtime runs the model.
    pub backend: String,
    /// Path of libtensorflowlite_c.so, when not found by the usual search.
    pub tflite_library: Option<String>,
    /// Threshold override; None = the model's default.
    pub threshold: Option<Threshold>,
    /// Log each message's feature vector in EVE (what training reads).
    pub log_features: bool,
    /// Write `mqtt_ml` records for anomalous messages only (alerts still carry every message's
    /// object). EVE output is most of what the plugin costs; a SOC often wants only these.
    pub log_anomalies_only: bool,
    /// `eve-record: full`: every field in `mqtt_ml` records (wire fields, MQTT 5 properties,
    /// payload); the default record holds what an analyst reads (docs/eve.md).
    pub eve_record_full: bool,
    /// The plugin's memory budget for what it holds per flow (transactions, topic aliases, the
    /// packet log, QoS 2 start times; bytes, 0 = none). Past it, messages beyond
    /// `max_msgs_per_segment` are dropped and counted whatever their type, and the rest stop
    /// growing.
    pub memcap: usize,
    /// Bytes of each MQTT stream direction reassembled and parsed; 0 = all. Suricata's global
    /// default (1 MiB) would stop parsing long-lived MQTT connections and floods after 1 MiB.
    pub stream_depth: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_msg_len: 1 << 20,
            max_tx: 4096,
            max_msgs_per_segment: 4096,
            max_payload_log: 256,
            log_passwords: false,
            source_window: 60,
            source_table_size: 65536,
            source_ipv6_prefix: 64,
            packet_log_size: 256,
            eve_follow_mqtt: true,
            scoring: true,
            model: None,
            backend: "tflite".to_owned(),
            tflite_library: None,
            threshold: None,
            log_features: false,
            log_anomalies_only: false,
            eve_record_full: false,
            memcap: 64 << 20,
            stream_depth: 0,
        }
    }
}

/// A key with a bad value: displays as the one line Suricata logs before it stops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub value: String,
    pub expected: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid value '{}' for {}.{}: {}",
            self.value, SECTION, self.key, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

/// Every key the plugin reads, relative to `SECTION`.
pub const KEYS: &[&str] = &[
    "max-msg-length",
    "max-tx",
    "max-msgs-per-segment",
    "max-payload-log",
    "log-passwords",
    "source-window",
    "source-table-size",
    "source-ipv6-prefix",
    "packet-log-size",
    "eve-follow-mqtt",
    "scoring",
    "model",
    "backend",
    "tflite-library",
    "threshold",
    "log-features",
    "stream-depth",
    "log-records",
    "eve-record",
    "memcap",
];

impl Config {
    /// Applies one `key: value` pair. Unknown keys are ignored here (Suricata's own keys such as
    /// `enabled` and `detection-ports` live in the same section).
    pub fn apply(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let err = |expected: &str| ConfigError {
            key: key.to_owned(),
            value: value.to_owned(),
            expected: expected.to_owned(),
        };
        let v = value.trim();
        match key {
            "max-msg-length" => {
                self.max_msg_len = parse_size(v)
                    .filter(|n| (16..=(256 << 20)).contains(n))
                    .ok_or_else(|| err("use a size from 16 to 256mb, e.g. 1mb (default)"))?
            }
            "max-tx" => {
                self.max_tx = parse_count(v, 1, 1_000_000)
                    .ok_or_else(|| err("use a whole number from 1 to 1000000 (default 4096)"))?
            }
            "max-msgs-per-segment" => {
                self.max_msgs_per_segment = parse_count(v, 1, 1_000_000)
                    .ok_or_else(|| err("use a whole number from 1 to 1000000 (default 4096)"))?
            }
            "max-payload-log" => {
                self.max_payload_log = parse_size(v)
                    .filter(|n| *n <= (1 << 20))
                    .ok_or_else(|| err("use a size from 0 to 1mb (default 256)"))?
            }
            "log-passwords" => {
                self.log_passwords =
                    parse_bool(v).ok_or_else(|| err("use yes or no (default no)"))?
            }
            "source-window" => {
                self.source_window = parse_count(v, 1, 86_400)
                    .ok_or_else(|| err("use seconds from 1 to 86400 (default 60)"))?
                    as u64
            }
            "source-table-size" => {
                self.source_table_size = parse_count(v, 1, 16_000_000)
                    .ok_or_else(|| err("use a whole number from 1 to 16000000 (default 65536)"))?
            }
            "source-ipv6-prefix" => self.source_ipv6_prefix = parse_count(
                v.trim_start_matches('/'),
                1,
                128,
            )
            .ok_or_else(|| {
                err("use a prefix length from 1 to 128, e.g. 64 (default; 128 counts each address)")
            })? as u8,
            "packet-log-size" => {
                self.packet_log_size = parse_count(v, 1, 65_536)
                    .ok_or_else(|| err("use a whole number from 1 to 65536 (default 256)"))?
            }
            "eve-follow-mqtt" => {
                self.eve_follow_mqtt =
                    parse_bool(v).ok_or_else(|| err("use yes or no (default yes)"))?
            }
            "scoring" => {
                self.scoring = parse_bool(v).ok_or_else(|| err("use yes or no (default yes)"))?
            }
            "model" => {
                if v.is_empty() {
                    return Err(err("give the path of a .tflite model"));
                }
                self.model = Some(v.to_owned())
            }
            "backend" => {
                if !matches!(v, "tflite" | "native") {
                    return Err(err("use tflite or native (default tflite)"));
                }
                self.backend = v.to_owned()
            }
            "tflite-library" => self.tflite_library = Some(v.to_owned()).filter(|s| !s.is_empty()),
            "threshold" => self.threshold = Some(v.parse().map_err(|_| err(THRESHOLD_FIX))?),
            "log-records" => {
                self.log_anomalies_only = match v {
                    "all" => false,
                    "anomalies" => true,
                    _ => return Err(err("use all or anomalies (default all)")),
                }
            }
            "eve-record" => {
                self.eve_record_full = match v {
                    "default" => false,
                    "full" => true,
                    _ => return Err(err("use default or full (default default)")),
                }
            }
            "memcap" => {
                self.memcap = parse_size(v)
                    .filter(|n| *n == 0 || *n >= 1 << 20)
                    .ok_or_else(|| {
                        err("use a size of at least 1mb, e.g. 64mb (default), or 0 for no limit")
                    })?
            }
            "stream-depth" => {
                self.stream_depth = parse_size(v)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| err("use a size up to 4gb, or 0 for no limit (default 0)"))?
            }
            "log-features" => {
                self.log_features =
                    parse_bool(v).ok_or_else(|| err("use yes or no (default no)"))?
            }
            _ => {}
        }
        Ok(())
    }

    /// Builds a config from `(key, value)` pairs, stopping at the first bad value.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ConfigError> {
        let mut c = Config::default();
        for (k, v) in pairs {
            c.apply(k, v)?;
        }
        Ok(c)
    }
}

fn parse_count(v: &str, min: usize, max: usize) -> Option<usize> {
    v.parse::<usize>().ok().filter(|n| (min..=max).contains(n))
}

/// Sizes as Suricata writes them: `4096`, `64kb`, `1mb`, `1gb` (case-insensitive).
pub fn parse_size(v: &str) -> Option<usize> {
    let lower = v.to_ascii_lowercase();
    let (digits, mult) = if let Some(d) = lower.strip_suffix("kb") {
        (d, 1usize << 10)
    } else if let Some(d) = lower.strip_suffix("mb") {
        (d, 1 << 20)
    } else if let Some(d) = lower.strip_suffix("gb") {
        (d, 1 << 30)
    } else {
        (lower.as_str(), 1)
    };
    digits.trim().parse::<usize>().ok()?.checked_mul(mult)
}

/// A Suricata port list as `detection-ports` takes it (`1883`, `[1883, 8883]`, `1883:1890`), as
/// inclusive ranges; None for what it cannot read exactly (`any`, `!1883`, variables).
pub fn parse_port_list(v: &str) -> Option<Vec<(u16, u16)>> {
    let inner = v.trim().trim_start_matches('[').trim_end_matches(']');
    let mut out = Vec::new();
    for part in inner.split(',') {
        let part = part.trim();
        let (lo, hi) = match part.split_once(':') {
            Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
            None => {
                let p = part.parse().ok()?;
                (p, p)
            }
        };
        if lo > hi {
            return None;
        }
        out.push((lo, hi));
    }
    Some(out)
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Some(true),
        "no" | "false" | "off" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_valid_values() {
        let c = Config::from_pairs([
            ("max-msg-length", "64kb"),
            ("max-tx", "10"),
            ("log-passwords", "yes"),
            ("enabled", "yes"),
        ])
        .unwrap();
        assert_eq!(c.max_msg_len, 65536);
        assert_eq!(c.max_tx, 10);
        assert!(c.log_passwords);
        assert_eq!(c.source_window, Config::default().source_window);
    }

    #[test]
    fn bad_values_name_the_key_and_the_fix() {
        let e = Config::from_pairs([("max-tx", "lots")]).unwrap_err();
        let line = e.to_string();
        assert!(
            line.contains("app-layer.protocols.mqtt-ml.max-tx"),
            "{line}"
        );
        assert!(
            line.contains("'lots'") && line.contains("whole number"),
            "{line}"
        );
        assert!(Config::from_pairs([("max-msg-length", "0")]).is_err());
        assert!(Config::from_pairs([("max-msg-length", "99999999999999999999gb")]).is_err());
        assert!(Config::from_pairs([("log-passwords", "maybe")]).is_err());
        assert!(Config::from_pairs([("source-window", "-1")]).is_err());
        let line = Config::from_pairs([("source-ipv6-prefix", "129")])
            .unwrap_err()
            .to_string();
        assert!(
            line.contains("mqtt-ml.source-ipv6-prefix") && line.contains("from 1 to 128"),
            "{line}"
        );
        assert!(Config::from_pairs([("source-ipv6-prefix", "0")]).is_err());
        let line = Config::from_pairs([("memcap", "12kb")])
            .unwrap_err()
            .to_string();
        assert!(
            line.contains("mqtt-ml.memcap") && line.contains("at least 1mb"),
            "{line}"
        );
        assert_eq!(Config::from_pairs([("memcap", "0")]).unwrap().memcap, 0);
        assert_eq!(
            Config::from_pairs([("memcap", "2mb")]).unwrap().memcap,
            2 << 20
        );
        assert_eq!(
            Config::from_pairs([("source-ipv6-prefix", "/48")])
                .unwrap()
                .source_ipv6_prefix,
            48
        );
        assert!(Config::from_pairs([("backend", "gpu")]).is_err());
        assert!(Config::from_pairs([("log-records", "some")]).is_err());
        assert!(Config::from_pairs([("eve-record", "all")]).is_err());
        assert_eq!(parse_port_list("1883"), Some(vec![(1883, 1883)]));
        assert_eq!(
            parse_port_list("[1883, 8883:8885]"),
            Some(vec![(1883, 1883), (8883, 8885)])
        );
        for unreadable in ["any", "!1883", "$MQTT_PORTS", "", "9:1", "70000"] {
            assert_eq!(parse_port_list(unreadable), None, "{unreadable}");
        }
        assert!(!Config::default().eve_record_full);
        assert!(
            Config::from_pairs([("eve-record", "full")])
                .unwrap()
                .eve_record_full
        );
        assert!(
            Config::from_pairs([("log-records", "anomalies")])
                .unwrap()
                .log_anomalies_only
        );
        assert!(Config::from_pairs([("threshold", "high")]).is_err());
        assert!(Config::from_pairs([("threshold", "-0.1")]).is_err());
        let c = Config::from_pairs([("threshold", "p999"), ("backend", "native")]).unwrap();
        assert_eq!(
            (c.threshold, c.backend.as_str()),
            (Some(Threshold::P999), "native")
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1MB"), Some(1 << 20));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("kb"), None);
    }
}
