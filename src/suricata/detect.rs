//! Rule keywords.
//!
//! - `mqtt_ml.score:<cmp>;` compares the message's score with Suricata's float syntax
//!   (`>0.0003`, `<=0.1`, `0.001-0.01`, `!=0`, ...).
//! - `mqtt_ml.score;` (no argument) is a sticky buffer holding the score as text with nine
//!   decimals (`0.000412345`), for `content`, `pcre`, `startswith` and the like.
//! - `mqtt_ml.anomaly;` matches the plugin's decision (EVE `anomaly`: a score above the threshold
//!   backed by the connection's or the client's accumulated evidence, or an extreme score);
//!   `mqtt_ml.anomaly:p999;` (or `p95`, `p99`, or a number) matches a score above that threshold,
//!   message by message, without the evidence.
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicI32, AtomicU16, Ordering::Relaxed};

use suricata_sys::sys::{
    DetectEngineCtx, DetectEngineThreadCtx, SCDetectBufferSetActiveList,
    SCDetectHelperBufferMpmRegister, SCDetectHelperBufferRegister, SCDetectHelperKeywordRegister,
    SCDetectSignatureSetAppProto, SCSigMatchAppendSMToList, SCSigTableAppLiteElmt, SigMatchCtx,
    Signature,
};

use super::ffi::{
    Flow, SCDetectF64Free, SCDetectF64Match, SCDetectF64Parse, STREAM_TOCLIENT, STREAM_TOSERVER,
};
use super::log::{sclog, LOG_ERROR};
use super::parser::MqttTx;
use super::{plugin, scoring};

const SIGMATCH_OPTIONAL_OPT: u16 = 1 << 4;
const SIGMATCH_INFO_STICKY_BUFFER: u16 = 1 << 9;

static SCORE_KW: AtomicU16 = AtomicU16::new(0);
static ANOMALY_KW: AtomicU16 = AtomicU16::new(0);
static SCORE_LIST: AtomicI32 = AtomicI32::new(-1);
static SCORE_BUFFER: AtomicI32 = AtomicI32::new(-1);
static ANOMALY_LIST: AtomicI32 = AtomicI32::new(-1);

/// A keyword's argument, trimmed; None when absent or empty.
pub(super) fn arg(raw: *const c_char) -> Option<String> {
    if raw.is_null() {
        return None;
    }
    // SAFETY: Suricata passes a NUL-terminated keyword argument.
    let s = unsafe { CStr::from_ptr(raw) }
        .to_string_lossy()
        .trim()
        .to_owned();
    Some(s).filter(|s| !s.is_empty())
}

/// Attaches `value` to the rule as keyword `kw`'s match context on `list`; frees it again when
/// Suricata refuses. Returns the setup result.
// SAFETY: `de` and `s` are the engine and signature Suricata passed to a keyword setup; on failure
// the context is freed here, otherwise Suricata owns it and frees it with the keyword's Free.
pub(super) unsafe fn append_ctx<T>(
    de: *mut DetectEngineCtx,
    s: *mut Signature,
    kw: u16,
    list: i32,
    value: T,
) -> c_int {
    let ctx = Box::into_raw(Box::new(value)) as *mut SigMatchCtx;
    if SCSigMatchAppendSMToList(de, s, kw, ctx, list).is_null() {
        drop(Box::from_raw(ctx as *mut T));
        return -1;
    }
    0
}

/// Free callback for a context made by `append_ctx::<T>`.
// SAFETY: `ctx` is null or a `Box<T>` made by `append_ctx::<T>` for this keyword, freed once.
pub(super) unsafe extern "C" fn free_ctx<T>(_de: *mut DetectEngineCtx, ctx: *mut c_void) {
    if !ctx.is_null() {
        drop(Box::from_raw(ctx as *mut T));
    }
}

/// Common start of every setup: the rule is about this protocol, and there is a model.
// SAFETY: `s` is the signature being set up, as Suricata passed it.
unsafe fn setup_common(s: *mut Signature, kw: &str) -> bool {
    if scoring::engine().is_none() {
        sclog(
            LOG_ERROR,
            &format!("{kw} needs scoring: set app-layer.protocols.mqtt-ml.scoring: yes"),
        );
        return false;
    }
    SCDetectSignatureSetAppProto(s, plugin::alproto()) == 0
}

// SAFETY: Suricata passes the engine, the signature being set up and `raw` (null or a
// NUL-terminated argument).
unsafe extern "C" fn score_setup(
    de: *mut DetectEngineCtx,
    s: *mut Signature,
    raw: *const c_char,
) -> c_int {
    if !setup_common(s, "mqtt_ml.score") {
        return -1;
    }
    let Some(text) = arg(raw) else {
        // No argument: the sticky buffer.
        return if SCDetectBufferSetActiveList(de, s, SCORE_BUFFER.load(Relaxed)) < 0 {
            -1
        } else {
            0
        };
    };
    let ctx = SCDetectF64Parse(raw);
    if ctx.is_null() {
        sclog(
            LOG_ERROR,
            &format!(
                "mqtt_ml.score: invalid comparison '{text}'; use e.g. >0.0003, <=0.1, 0.001-0.01"
            ),
        );
        return -1;
    }
    let kw = SCORE_KW.load(Relaxed);
    if SCSigMatchAppendSMToList(de, s, kw, ctx as *mut SigMatchCtx, SCORE_LIST.load(Relaxed))
        .is_null()
    {
        SCDetectF64Free(ctx);
        return -1;
    }
    0
}

// SAFETY: `ctx` is null or what SCDetectF64Parse returned for this keyword, freed once.
unsafe extern "C" fn score_free(_de: *mut DetectEngineCtx, ctx: *mut c_void) {
    if !ctx.is_null() {
        SCDetectF64Free(ctx);
    }
}

// SAFETY: `txv` is an `MqttTx` of this parser (alive for the call), `ctx` the F64 context
// `score_setup` attached.
unsafe extern "C" fn score_match(
    _det: *mut DetectEngineThreadCtx,
    _f: *mut Flow,
    _flags: u8,
    _state: *mut c_void,
    txv: *mut c_void,
    _s: *const Signature,
    ctx: *const SigMatchCtx,
) -> c_int {
    let tx = &*(txv as *const MqttTx);
    match tx.scored {
        Some(sc) => SCDetectF64Match(f64::from(sc.score), ctx as *const c_void),
        None => 0,
    }
}

// SAFETY: `txv` is an `MqttTx` of this parser; the buffer written points into it (its
// `score_text`), which outlives the inspection of that transaction; `buf` and `len` are writable.
unsafe extern "C" fn score_buffer(
    txv: *const c_void,
    _flow_flags: u8,
    buf: *mut *const u8,
    len: *mut u32,
) -> bool {
    let tx = &*(txv as *const MqttTx);
    let Some(sc) = tx.scored else {
        return false;
    };
    let text = tx.score_text.get_or_init(|| format!("{:.9}", sc.score));
    *buf = text.as_ptr();
    *len = text.len() as u32;
    true
}

// SAFETY: as `score_setup`.
unsafe extern "C" fn anomaly_setup(
    de: *mut DetectEngineCtx,
    s: *mut Signature,
    raw: *const c_char,
) -> c_int {
    if !setup_common(s, "mqtt_ml.anomaly") {
        return -1;
    }
    let Some(engine) = scoring::engine() else {
        return -1;
    };
    // None: the decision; Some(t): the score alone against `t`.
    let threshold: Option<f32> = match arg(raw) {
        None => None,
        Some(spec) => match engine.meta.thresholds.resolve(&spec) {
            Some(t) => Some(t),
            None => {
                sclog(
                    LOG_ERROR,
                    &format!(
                        "mqtt_ml.anomaly: invalid threshold '{spec}'; {}",
                        crate::scoring::THRESHOLD_FIX
                    ),
                );
                return -1;
            }
        },
    };
    let kw = ANOMALY_KW.load(Relaxed);
    append_ctx(de, s, kw, ANOMALY_LIST.load(Relaxed), threshold)
}

// SAFETY: `txv` is an `MqttTx` of this parser, `ctx` the `f32` threshold `anomaly_setup` attached
// with `append_ctx`.
unsafe extern "C" fn anomaly_match(
    _det: *mut DetectEngineThreadCtx,
    _f: *mut Flow,
    _flags: u8,
    _state: *mut c_void,
    txv: *mut c_void,
    _s: *const Signature,
    ctx: *const SigMatchCtx,
) -> c_int {
    let tx = &*(txv as *const MqttTx);
    let threshold = *(ctx as *const Option<f32>);
    c_int::from(tx.scored.is_some_and(|sc| match threshold {
        None => sc.anomaly,
        Some(t) => sc.score > t,
    }))
}

/// Registers the keywords; called by Suricata while it sets up its keyword table.
// SAFETY: called once by Suricata while it builds its keyword table, single-threaded; every string
// is static.
pub unsafe extern "C" fn register() {
    let alproto = plugin::alproto();
    let both = STREAM_TOSERVER | STREAM_TOCLIENT;
    SCORE_LIST.store(
        SCDetectHelperBufferRegister(c"mqtt_ml.score_cmp".as_ptr(), alproto, both),
        Relaxed,
    );
    ANOMALY_LIST.store(
        SCDetectHelperBufferRegister(c"mqtt_ml.anomaly".as_ptr(), alproto, both),
        Relaxed,
    );
    SCORE_BUFFER.store(
        SCDetectHelperBufferMpmRegister(
            c"mqtt_ml.score".as_ptr(),
            c"MQTT anomaly score as text".as_ptr(),
            alproto,
            both,
            Some(score_buffer),
        ),
        Relaxed,
    );
    let score = SCSigTableAppLiteElmt {
        name: c"mqtt_ml.score".as_ptr(),
        desc: c"MQTT message anomaly score: compare (mqtt_ml.score:>0.0003) or sticky buffer"
            .as_ptr(),
        url: c"docs/rules.md".as_ptr(),
        flags: SIGMATCH_OPTIONAL_OPT | SIGMATCH_INFO_STICKY_BUFFER,
        Setup: Some(score_setup),
        Free: Some(score_free),
        AppLayerTxMatch: Some(score_match),
    };
    SCORE_KW.store(SCDetectHelperKeywordRegister(&score), Relaxed);
    let anomaly = SCSigTableAppLiteElmt {
        name: c"mqtt_ml.anomaly".as_ptr(),
        desc:
            c"MQTT message the plugin decided is anomalous (or: score above p95/p99/p999/a number)"
                .as_ptr(),
        url: c"docs/rules.md".as_ptr(),
        flags: SIGMATCH_OPTIONAL_OPT,
        Setup: Some(anomaly_setup),
        Free: Some(free_ctx::<Option<f32>>),
        AppLayerTxMatch: Some(anomaly_match),
    };
    ANOMALY_KW.store(SCDetectHelperKeywordRegister(&anomaly), Relaxed);
    super::facts::register();
    super::mqtt_keywords::register();
}
