//! Names, order, transform and meaning of every feature, and the schema version. Changing any of
//! them changes the model's input: bump `SCHEMA_VERSION`, and the plugin will refuse models
//! trained on the old schema. docs/features.md explains why each feature is there.
use serde_json::{json, Value};

/// Bumped whenever a feature is added, removed, reordered or redefined.
pub const SCHEMA_VERSION: u32 = 4;

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
            Transform::Log1p => log1p(x),
        }
    }
}

/// Whole numbers below this take `ln(1 + n)` from a table.
const TABLED: u32 = 256;

/// `ln(1 + max(x, 0))` as f32. Most log1p features are counts, and small ones (0 most of all):
/// for a whole number below [`TABLED`] the result comes from a table filled by this very
/// computation, so it is the same bits, without a call into libm per feature.
#[inline]
fn log1p(x: f64) -> f32 {
    let n = x as u32; // saturates; NaN gives 0
                      // Bit equality: exactly n, and not -0.0 (which the computation keeps as -0.0).
    if n < TABLED && f64::from(n).to_bits() == x.to_bits() {
        return TABLE.get_or_init(table)[n as usize];
    }
    log1p_computed(x)
}

#[inline]
fn log1p_computed(x: f64) -> f32 {
    x.max(0.0).ln_1p() as f32
}

static TABLE: std::sync::OnceLock<[f32; TABLED as usize]> = std::sync::OnceLock::new();

fn table() -> [f32; TABLED as usize] {
    std::array::from_fn(|n| log1p_computed(n as f64))
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

pub const WIDTH: usize = 11;

/// The features, in model input order. Each carries attack signal that holds across networks:
/// what the message is, how hard the connection is being driven, and what its client address does
/// across connections. Protocol options that differ between deployments (flags, identifier and
/// topic lengths, keep-alive, QoS, message sizes) are deliberately absent: docs/features.md says why
/// for each, with the measurements behind it.
pub const FEATURES: [Feature; WIDTH] = [
    // What the message is.
    f(
        "msgtype",
        Id,
        "control packet type 0-15 (0 and 15 are reserved before MQTT 5)",
    ),
    f("direction", Id, "0 client to broker, 1 broker to client"),
    f(
        "malformed",
        Id,
        "1 when the message raised any malformation event: fuzzing, malformed-packet attacks",
    ),
    f(
        "refused",
        Id,
        "1 for a CONNACK refusing the connection (any non-zero return or reason code)",
    ),
    // How hard the connection is driven right now.
    f(
        "flow_msg_rate",
        Log,
        "messages per second on the connection, decayed over 10 s: floods, Malaria DoS",
    ),
    f(
        "flow_byte_rate",
        Log,
        "bytes per second on the connection, decayed over 10 s: floods of large messages",
    ),
    f(
        "flow_failed_auth",
        Log,
        "CONNACKs refusing the credentials (bad user name or password, not authorized, banned) \
         on the connection so far",
    ),
    f(
        "qos2_pending_age",
        Log,
        "seconds the oldest incomplete QoS 2 exchange has waited: handshakes left hanging",
    ),
    // The client address across its connections (one connection per attempt is common in attacks).
    // How often it connects is not among them: one connection per message is how shell scripts
    // and devices behind a NAT publish, so that count told networks apart, not attacks.
    f(
        "src_failed_auth",
        Log,
        "logins of the client address refused for their credentials in the sliding window",
    ),
    f(
        "src_refused_secrets",
        Log,
        "distinct credentials among the address's refused logins in the window: guessing, not retrying",
    ),
    f(
        "src_open",
        Log,
        "connections of the client address open now: SlowITe holds hundreds",
    ),
];

/// The schema as JSON: what `mqtt-ml schema` prints and what model metadata must repeat.
pub fn schema_json() -> Value {
    json!({
        "version": SCHEMA_VERSION,
        "width": WIDTH,
        "features": FEATURES.iter().map(|f| f.name).collect::<Vec<_>>(),
        "transforms": FEATURES.iter().map(|f| f.transform.name()).collect::<Vec<_>>(),
        "docs": FEATURES.iter().map(|f| f.doc).collect::<Vec<_>>(),
        "scaling": "x' = clip((transform(x) - min) / max(max - min, 1), -1, 2); NaN -> 2",
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
        assert_eq!(j["features"][0], "msgtype");
        assert_eq!(j["transforms"].as_array().unwrap().len(), WIDTH);
    }

    /// The table gives the computed values bit for bit, and only whole numbers in its range
    /// use it.
    #[test]
    fn log1p_table_is_the_computation() {
        let mut xs: Vec<f64> = (0..2 * TABLED).map(f64::from).collect();
        xs.extend((0..2 * TABLED).map(|n| f64::from(n) + 0.5));
        xs.extend([
            -0.0,
            -1.0,
            -0.5,
            1e-300,
            f64::MIN_POSITIVE,
            255.999_999_999,
            f64::from(TABLED) - 1e-12,
            4_294_967_295.0,
            4_294_967_296.0,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ]);
        for x in xs {
            let (got, want) = (Transform::Log1p.apply(x), log1p_computed(x));
            assert_eq!(got.to_bits(), want.to_bits(), "log1p({x}): {got} vs {want}");
        }
    }

    #[test]
    fn log1p_clamps_negative() {
        assert_eq!(Transform::Log1p.apply(-5.0), 0.0);
        assert!((Transform::Log1p.apply(std::f64::consts::E - 1.0) - 1.0).abs() < 1e-6);
    }
}
