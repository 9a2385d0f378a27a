//! The model inside Suricata: loaded once at start-up, one scorer (interpreter) per worker thread,
//! and the stats counters (`mqtt_ml.scored`, `.anomalies`, `.inference_errors`, `.scoring_ns`,
//! and `.source_evictions` of the per-client table).
use std::cell::RefCell;
use std::os::raw::{c_char, c_void};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::Instant;

use super::log::{sclog, LOG_ERROR};
use crate::config::Config;
use crate::features::{extract, RawVector, SCHEMA_VERSION, WIDTH};
use crate::flow::MessageRecord;
use crate::model::{Backend, LoadedModel};
use crate::scoring::{ModelMetadata, Scored, ScorerGuard};

pub struct Engine {
    model: LoadedModel,
    pub meta: ModelMetadata,
    /// The threshold in force (configured, else the model's default).
    pub threshold: f32,
}

static ENGINE: OnceLock<Engine> = OnceLock::new();

pub fn engine() -> Option<&'static Engine> {
    ENGINE.get()
}

/// Loads the configured model and checks that a scorer can be made from it. Errors are the one
/// line Suricata prints before it stops.
pub fn load(cfg: &Config) -> Result<(), String> {
    let path = Path::new(&cfg.model);
    if !path.is_file() {
        return Err(format!(
            "model {} not found: run scripts/setup.sh (it ships models/), set \
             app-layer.protocols.mqtt-ml.model to a .tflite file, or set scoring: no",
            path.display()
        ));
    }
    let meta = ModelMetadata::load(path)?;
    let backend: Backend = cfg
        .backend
        .parse()
        .map_err(|e: crate::model::ModelError| e.to_string())?;
    let model = LoadedModel::load(path, backend, cfg.tflite_library.as_deref().map(Path::new))
        .map_err(|e| e.to_string())?;
    model
        .check_width(WIDTH, &format!("v{SCHEMA_VERSION}"))
        .map_err(|e| e.to_string())?;
    // Fail at start-up, not at the first message, if no interpreter can be built.
    model.new_scorer().map_err(|e| e.to_string())?;
    let threshold = match &cfg.threshold {
        Some(spec) => meta.thresholds.resolve(spec).ok_or_else(|| {
            format!("threshold '{spec}': use p95, p99, p999 or a non-negative number")
        })?,
        None => meta.thresholds.default_value(),
    };
    let _ = ENGINE.set(Engine {
        model,
        meta,
        threshold,
    });
    Ok(())
}

thread_local! {
    /// This worker thread's scorer, built on first use (see `ScorerGuard` for failures).
    static SCORER: RefCell<ScorerGuard> = RefCell::new(ScorerGuard::new());
}

static SCORED: AtomicU64 = AtomicU64::new(0);
static ANOMALIES: AtomicU64 = AtomicU64::new(0);
static ERRORS: AtomicU64 = AtomicU64::new(0);
static NANOS: AtomicU64 = AtomicU64::new(0);

/// The score of a message (when scoring is on), and its feature vector when EVE should show it
/// (`log-features`, which also works with scoring off: that is how training data is made).
pub fn assess(
    record: &MessageRecord,
    log_features: bool,
) -> (Option<Scored>, Option<Box<RawVector>>) {
    let Some(engine) = engine() else {
        return (None, log_features.then(|| Box::new(extract(record))));
    };
    let started = Instant::now();
    let raw = extract(record);
    let build = || engine.model.new_scorer();
    let assessed = SCORER.with(|cell| {
        cell.borrow_mut()
            .assess(&build, &engine.meta.scaling, engine.threshold, &raw)
    });
    NANOS.fetch_add(started.elapsed().as_nanos() as u64, Relaxed);
    if let Some((e, first)) = &assessed.failure {
        // Fails closed: the message counts as an anomaly. Said once per thread; the counter
        // tells how often.
        ERRORS.fetch_add(1, Relaxed);
        if *first {
            sclog(
                LOG_ERROR,
                &format!("scoring failed ({e}); such messages count as anomalies"),
            );
        }
    }
    if let Some(s) = &assessed.scored {
        SCORED.fetch_add(1, Relaxed);
        if s.anomaly {
            ANOMALIES.fetch_add(1, Relaxed);
        }
    }
    (assessed.scored, log_features.then(|| Box::new(raw)))
}

extern "C" fn scored() -> u64 {
    SCORED.load(Relaxed)
}
extern "C" fn anomalies() -> u64 {
    ANOMALIES.load(Relaxed)
}
extern "C" fn errors() -> u64 {
    ERRORS.load(Relaxed)
}
extern "C" fn scoring_ns() -> u64 {
    NANOS.load(Relaxed)
}
extern "C" fn source_evictions() -> u64 {
    super::plugin::sources().evictions()
}
extern "C" fn probe_refusals() -> u64 {
    super::parser::PROBE_REFUSALS.load(Relaxed)
}
extern "C" fn memuse() -> u64 {
    super::plugin::budget().used() as u64
}
extern "C" fn memuse_peak() -> u64 {
    super::plugin::budget().peak() as u64
}
extern "C" fn memcap_refusals() -> u64 {
    super::plugin::budget().refusals()
}

extern "C" {
    fn StatsRegisterGlobalCounter(name: *const c_char, f: extern "C" fn() -> u64) -> u16;
    fn SCThreadRegisterInitCallback(
        f: extern "C" fn(*mut c_void, *mut c_void),
        user: *mut c_void,
    ) -> bool;
}

/// Global counters can only be registered once Suricata's stats are set up, which happens after
/// plugin init; the first thread's init callback is the earliest safe moment.
extern "C" fn on_thread_init(_tv: *mut c_void, _user: *mut c_void) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: names are static C strings; the functions live as long as the process.
        unsafe {
            StatsRegisterGlobalCounter(c"mqtt_ml.scored".as_ptr(), scored);
            StatsRegisterGlobalCounter(c"mqtt_ml.anomalies".as_ptr(), anomalies);
            StatsRegisterGlobalCounter(c"mqtt_ml.inference_errors".as_ptr(), errors);
            StatsRegisterGlobalCounter(c"mqtt_ml.scoring_ns".as_ptr(), scoring_ns);
            StatsRegisterGlobalCounter(c"mqtt_ml.source_evictions".as_ptr(), source_evictions);
            StatsRegisterGlobalCounter(c"mqtt_ml.probe_refusals".as_ptr(), probe_refusals);
            StatsRegisterGlobalCounter(c"mqtt_ml.memuse".as_ptr(), memuse);
            StatsRegisterGlobalCounter(c"mqtt_ml.memuse_peak".as_ptr(), memuse_peak);
            StatsRegisterGlobalCounter(c"mqtt_ml.memcap_refusals".as_ptr(), memcap_refusals);
        }
    });
}

pub fn register_counters() -> bool {
    // SAFETY: called from plugin init, before threads exist; the callback is a plain function.
    unsafe { SCThreadRegisterInitCallback(on_thread_init, std::ptr::null_mut()) }
}
