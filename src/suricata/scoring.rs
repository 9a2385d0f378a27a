//! The model inside Suricata: loaded once at start-up, one scorer (interpreter) per worker thread,
//! and the stats counters (`mqtt_ml.scored`, `.anomalies`, `.inference_errors`, `.scoring_ns`,
//! kept per thread and summed when read, and `.source_evictions` of the per-client table).
use std::cell::RefCell;
use std::net::IpAddr;
use std::os::raw::{c_char, c_void};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use super::log::{sclog, LOG_ERROR, LOG_INFO};
use super::plugin;
use crate::config::Config;
use crate::features::{extract, RawVector, SCHEMA_VERSION, WIDTH};
use crate::flow::sources::SourceEvent;
use crate::flow::MessageRecord;
use crate::layout;
use crate::model::{Backend, LoadedModel};
use crate::scoring::{
    decide, is_answer, ConnectionEvidence, DecisionParams, ModelMetadata, Scored, ScorerGuard,
};

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

/// The path of the loaded plugin (`libmqtt_ml.so`), from the dynamic loader.
fn plugin_file() -> Option<PathBuf> {
    let mut info = std::mem::MaybeUninit::<libc::Dl_info>::zeroed();
    let addr = super::plugin::SCPluginRegister as *const c_void;
    // SAFETY: dladdr only reads the loader's tables; `info` is written before it returns non-zero,
    // and dli_fname then points at a NUL-terminated string owned by the loader.
    unsafe {
        if libc::dladdr(addr, info.as_mut_ptr()) == 0 {
            return None;
        }
        let info = info.assume_init();
        if info.dli_fname.is_null() {
            return None;
        }
        let name = std::ffi::CStr::from_ptr(info.dli_fname).to_string_lossy();
        let p = PathBuf::from(name.as_ref());
        Some(std::fs::canonicalize(&p).unwrap_or(p))
    }
}

/// The configured model, else the one installed with the plugin (found relative to the plugin's
/// own file). Errors are one line naming the fix.
pub fn model_path(cfg: &Config) -> Result<PathBuf, String> {
    if let Some(m) = &cfg.model {
        return Ok(PathBuf::from(m));
    }
    let plugin = plugin_file().ok_or(
        "cannot locate the plugin's own file to find its model: set \
         app-layer.protocols.mqtt-ml.model to a .tflite file, or set scoring: no",
    )?;
    layout::find_model(&plugin).map_err(|looked| {
        let looked: Vec<String> = looked.iter().map(|p| p.display().to_string()).collect();
        format!(
            "no model beside the plugin {} (looked for {}): install it with `mqtt-ml install`, \
             set app-layer.protocols.mqtt-ml.model to a .tflite file, or set scoring: no",
            plugin.display(),
            looked.join(", ")
        )
    })
}

/// Loads the configured model and checks that a scorer can be made from it. Errors are the one
/// line Suricata prints before it stops.
pub fn load(cfg: &Config) -> Result<(), String> {
    let path = model_path(cfg)?;
    let path = path.as_path();
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
    let threshold = match cfg.threshold {
        Some(t) => meta.thresholds.value(t),
        None => meta.thresholds.default_value(),
    };
    sclog(
        LOG_INFO,
        &format!(
            "model {} (backend {}, threshold {threshold})",
            path.display(),
            cfg.backend
        ),
    );
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

/// This thread's counters. Only the owning thread writes them (a plain load and store, no locked
/// read-modify-write shared between threads); the stats thread sums every thread's.
#[derive(Default)]
struct Counters {
    scored: AtomicU64,
    anomalies: AtomicU64,
    errors: AtomicU64,
    nanos: AtomicU64,
}

impl Counters {
    fn bump(c: &AtomicU64, by: u64) {
        c.store(c.load(Relaxed).wrapping_add(by), Relaxed);
    }
}

/// Every thread's counters (a handful of worker threads; each leaks one small struct).
static ALL: Mutex<Vec<&'static Counters>> = Mutex::new(Vec::new());

thread_local! {
    static MINE: &'static Counters = {
        let c: &'static Counters = Box::leak(Box::default());
        if let Ok(mut all) = ALL.lock() {
            all.push(c);
        }
        c
    };
}

fn total(field: fn(&Counters) -> &AtomicU64) -> u64 {
    ALL.lock()
        .map(|all| all.iter().map(|c| field(c).load(Relaxed)).sum())
        .unwrap_or(0)
}

/// One message in this many is timed for `mqtt_ml.scoring_ns` (which then counts its time that
/// many times): two clock reads per message cost about as much as the model step.
const TIME_ONE_IN: u64 = 16;

/// The score of a message (when scoring is on), and its feature vector when EVE should show it
/// (`log-features`, which also works with scoring off: that is how training data is made).
/// The decision is applied here too: `evidence` is the connection's, and the client's comes from
/// the per-source table (`client`).
pub fn assess(
    record: &MessageRecord,
    log_features: bool,
    evidence: &mut ConnectionEvidence,
    client: Option<IpAddr>,
) -> (Option<Scored>, Option<Box<RawVector>>) {
    let Some(engine) = engine() else {
        return (None, log_features.then(|| Box::new(extract(record))));
    };
    MINE.with(|c| {
        let timed = c.scored.load(Relaxed) % TIME_ONE_IN == 0;
        let started = timed.then(Instant::now);
        let raw = extract(record);
        let build = || engine.model.new_scorer();
        let assessed = SCORER.with(|cell| {
            cell.borrow_mut()
                .assess(&build, &engine.meta.scaling, engine.threshold, &raw)
        });
        if let Some(t) = started {
            Counters::bump(&c.nanos, t.elapsed().as_nanos() as u64 * TIME_ONE_IN);
        }
        if let Some((e, first)) = &assessed.failure {
            // Fails closed: the message counts as an anomaly. Said once per thread; the counter
            // tells how often.
            Counters::bump(&c.errors, 1);
            if *first {
                sclog(
                    LOG_ERROR,
                    &format!("scoring failed ({e}); such messages count as anomalies"),
                );
            }
        }
        let mut scored = assessed.scored;
        if let Some(s) = scored.as_mut() {
            Counters::bump(&c.scored, 1);
            // A failed score is infinite: above the threshold and extreme, so an anomaly.
            let (anomaly, ev) = decide(
                s.score,
                s.threshold,
                record.ctx.ts,
                is_answer(record.msg.header.msg_type),
                evidence,
                record.ctx.source.anomalies,
                || {
                    let addr = client?;
                    let counts =
                        plugin::sources().observe(addr, SourceEvent::Anomaly, record.ctx.ts);
                    Some(counts.anomalies)
                },
                &DecisionParams::default(),
            );
            s.anomaly = anomaly;
            s.evidence = ev;
            if s.anomaly {
                Counters::bump(&c.anomalies, 1);
            }
        }
        (scored, log_features.then(|| Box::new(raw)))
    })
}

extern "C" fn scored() -> u64 {
    total(|c| &c.scored)
}
extern "C" fn anomalies() -> u64 {
    total(|c| &c.anomalies)
}
extern "C" fn errors() -> u64 {
    total(|c| &c.errors)
}
extern "C" fn scoring_ns() -> u64 {
    total(|c| &c.nanos)
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
