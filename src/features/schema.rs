//! Names, order, transform and meaning of every feature, and the schema version. Changing any of
//! them changes the model's input: bump `SCHEMA_VERSION`, and the plugin will refuse models
//! trained on the old schema. docs/features.md explains why each feature is there.
use serde_json::{json, Value};

/// Bumped whenever a feature is added, removed, reordered or redefined.
pub const SCHEMA_VERSION: u32 = 2;

/// How a raw value is mapped before min-max scaling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transform {
    Identity,
    /// `ln(1 + x)`, for heavy-tailed counts, lengths and durations.
    Log1p,
}

impl Transform {
    pub fn name(self) -> &'static str {
        match self {
            Transform::Identity => "identity",
            Transform::Log1p => "log1p",
        }
    }

    pub fn apply(self, x: f64) -> f32 {
        match self {
            Transform::Identity => x as f32,
            Transform::Log1p => x.max(0.0).ln_1p() as f32,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Feature {
    pub name: &'static str,
    pub transform: Transform,
    /// Which attack it helps see, and what it measures.
    pub doc: &'static str,
}

const fn f(name: &'static str, transform: Transform, doc: &'static str) -> Feature {
    Feature {
        name,
        transform,
        doc,
    }
}

use Transform::{Identity as Id, Log1p as Log};

pub const WIDTH: usize = 28;

/// The features, in model input order.
pub const FEATURES: [Feature; WIDTH] = [
    // The TCP segment that carried the message (MQTTset: tcp.flags, tcp.len, tcp.time_delta).
    f("tcp_flags", Id, "TCP flags byte of the carrying segment"),
    f(
        "tcp_len",
        Log,
        "payload bytes of the carrying segment: floods pack many messages per segment",
    ),
    f(
        "time_delta",
        Log,
        "seconds since the previous message of the connection: floods (tiny), SlowITe (idle)",
    ),
    // Fixed header (mqtt.msgtype, mqtt.qos, mqtt.dupflag, mqtt.retain, mqtt.len, mqtt.msgid).
    f(
        "msgtype",
        Id,
        "control packet type 0-15 (0 and 15 are reserved before MQTT 5)",
    ),
    f(
        "qos",
        Id,
        "PUBLISH QoS 0-3: Malaria DoS publishes at QoS 1/2, 3 is malformed",
    ),
    f("dupflag", Id, "PUBLISH DUP flag"),
    f("retain", Id, "PUBLISH RETAIN flag"),
    f("len", Log, "remaining length from the fixed header"),
    f("msgid", Log, "packet identifier (0 when the type has none)"),
    // CONNECT (mqtt.kalive, mqtt.conflag.*, mqtt.clientid_len, mqtt.ver).
    f(
        "kalive",
        Log,
        "CONNECT keep-alive seconds: SlowITe asks for up to 65535",
    ),
    f("conflag_cleansess", Id, "CONNECT clean-session flag"),
    f("conflag_uname", Id, "CONNECT user-name flag"),
    f(
        "conflag_passwd",
        Id,
        "CONNECT password flag: brute force always sends one",
    ),
    f("conflag_willflag", Id, "CONNECT will flag"),
    f(
        "clientid_len",
        Log,
        "CONNECT client identifier length: tools use random or empty ids",
    ),
    f(
        "ver",
        Id,
        "CONNECT protocol level (3, 4 or 5; 0 on other messages)",
    ),
    // CONNACK (mqtt.conack.val).
    f(
        "conack_val",
        Id,
        "CONNACK return/reason code: 5 (3.x) or 134/135 (5.0) for refused logins",
    ),
    // PUBLISH (mqtt.topic_len, payload length).
    f("topic_len", Log, "PUBLISH topic length"),
    f(
        "payload_len",
        Log,
        "PUBLISH payload length: Malaria DoS and floods send large payloads",
    ),
    // Parse result.
    f(
        "malformed",
        Id,
        "1 when the message raised any malformation event",
    ),
    // The connection so far.
    f(
        "flow_time",
        Log,
        "seconds since the connection's first message: SlowITe holds connections open",
    ),
    f("flow_msgs", Log, "messages so far on the connection"),
    f(
        "flow_msg_rate",
        Log,
        "messages per second on the connection (over at least one second)",
    ),
    f(
        "flow_failed_auth_rate",
        Id,
        "share of refused CONNACKs on the connection",
    ),
    f(
        "flow_pending_qos2",
        Log,
        "QoS 2 handshakes started and not completed",
    ),
    // The client's address across connections (brute force and Malaria open one per attempt).
    f(
        "src_connects",
        Log,
        "CONNECTs from the client address in the sliding window",
    ),
    f(
        "src_failed_auth",
        Log,
        "refused logins of the client address in the sliding window",
    ),
    f("direction", Id, "0 client to broker, 1 broker to client"),
];

/// The schema as JSON: what `mqtt-ml schema` prints and what model metadata must repeat.
pub fn schema_json() -> Value {
    json!({
        "version": SCHEMA_VERSION,
        "width": WIDTH,
        "features": FEATURES.iter().map(|f| f.name).collect::<Vec<_>>(),
        "transforms": FEATURES.iter().map(|f| f.transform.name()).collect::<Vec<_>>(),
        "docs": FEATURES.iter().map(|f| f.doc).collect::<Vec<_>>(),
        "scaling": "x' = clip((transform(x) - min) / (max - min), -1, 2); when max - min <= f32 epsilon: 0 at min, 2 above, -1 below; NaN -> 2",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_unique_and_json_consistent() {
        let mut names: Vec<&str> = FEATURES.iter().map(|f| f.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), WIDTH);
        let j = schema_json();
        assert_eq!(j["width"], WIDTH);
        assert_eq!(j["features"][0], "tcp_flags");
        assert_eq!(j["transforms"].as_array().unwrap().len(), WIDTH);
    }

    #[test]
    fn log1p_clamps_negative() {
        assert_eq!(Transform::Log1p.apply(-5.0), 0.0);
        assert!((Transform::Log1p.apply(std::f64::consts::E - 1.0) - 1.0).abs() < 1e-6);
    }
}
