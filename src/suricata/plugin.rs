//! Plugin entry point: `SCPluginRegister`, start-up checks, and the process-wide state (config,
//! protocol id, per-source table) that every callback reads.
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::OnceLock;

use suricata_sys::sys::{
    SCAppLayerPlugin, SCOutputJsonLogDirection, SCPlugin, SCPluginRegisterAppLayer, SC_API_VERSION,
    SC_PACKAGE_VERSION,
};

use super::ffi::{self, AppProto};
use super::log::{sclog, LOG_CONFIG, LOG_ERROR, LOG_NOTICE};
use super::{conf, detect, log, parser, scoring};
use crate::config::Config;
use crate::flow::{Budget, SharedSourceTable};

static CONFIG: OnceLock<Config> = OnceLock::new();
static SOURCES: OnceLock<SharedSourceTable> = OnceLock::new();
static ALPROTO: AtomicU16 = AtomicU16::new(ffi::ALPROTO_UNKNOWN);
static BUDGET: Budget = Budget::new();

/// The plugin's memory budget (`memcap`), shared by all threads.
pub fn budget() -> &'static Budget {
    &BUDGET
}

/// The configuration read at start-up (defaults if read before init, which Suricata never does).
pub fn config() -> &'static Config {
    CONFIG.get_or_init(Config::default)
}

pub fn sources() -> &'static SharedSourceTable {
    SOURCES.get_or_init(|| {
        let c = config();
        SharedSourceTable::new(c.source_table_size, c.source_window)
            .with_ipv6_prefix(c.source_ipv6_prefix)
            // Flagged: as many above-threshold messages as make the decision's client evidence.
            .with_flag_level(crate::scoring::decision::DecisionParams::default().client)
    })
}

pub fn alproto() -> AppProto {
    ALPROTO.load(Ordering::Relaxed)
}

pub fn set_alproto(p: AppProto) {
    ALPROTO.store(p, Ordering::Relaxed);
}

/// EVE names a plugin's records after its protocol (`mqtt-ml`); the documented event type is
/// `mqtt_ml`, matching the object the records carry. Suricata registers the logger after the
/// plugin's init, so this runs once at the first flow, before anything is logged.
pub fn name_eve_event_type() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: Suricata returns its static logger table entry for our protocol, or null.
        unsafe {
            let l = suricata_sys::sys::SCEveJsonSimpleGetLogger(alproto());
            if !l.is_null() {
                (*l).name = c"mqtt_ml".as_ptr();
            }
        }
    });
}

/// Stops Suricata at start-up with one error line naming the fix.
fn fail(message: &str) -> ! {
    sclog(LOG_ERROR, message);
    std::process::exit(1);
}

extern "C" fn init() {
    let cfg = match conf::read() {
        Ok(c) => c,
        Err(e) => fail(&e.to_string()),
    };
    let follow_mqtt = cfg.eve_follow_mqtt;
    BUDGET.set_cap(cfg.memcap);
    let _ = CONFIG.set(cfg);
    if let Some(cfg) = CONFIG.get() {
        if cfg.scoring {
            if let Err(e) = scoring::load(cfg) {
                fail(&e);
            }
        } else if cfg.log_anomalies_only {
            fail("log-records: anomalies needs scoring: set scoring: yes or log-records: all");
        } else {
            sclog(
                LOG_NOTICE,
                "scoring is off (scoring: no): messages are parsed and logged, not scored",
            );
        }
    }
    if !matches!(
        conf::get_value("autofp-scheduler").as_deref(),
        Some("ippair")
    ) {
        sclog(
            LOG_CONFIG,
            "per-client counters (src_* features) see other connections in the order workers \
             process them; with the autofp runmode, set autofp-scheduler: ippair for scores that \
             do not depend on thread count",
        );
    }
    if !scoring::register_counters() {
        fail("could not register the thread callback for the mqtt_ml stats counters");
    }
    if follow_mqtt {
        let n = conf::follow_builtin_mqtt_eve_type();
        if n > 0 {
            sclog(
                LOG_CONFIG,
                "logging mqtt_ml records where eve-log lists the mqtt type",
            );
        }
    }
    // Suricata's own MQTT parser claims port 1883 first; while it runs this plugin never sees the
    // data. The plugin replaces it (rules with `alert mqtt` bind to the plugin through an alias).
    if !conf::set(c"app-layer.protocols.mqtt.enabled", c"no") {
        fail(
            "could not disable Suricata's built-in MQTT parser (app-layer.protocols.mqtt.enabled)",
        );
    }
    // SAFETY: called once from the plugin's init, before Suricata finalizes flow storage.
    if unsafe { ffi::mqtt_ml_shim_init() } != 0 {
        fail("could not register flow storage or the packet callback; is this Suricata 8.0.7?");
    }
    // Suricata copies what it needs (function pointers, static names) and keeps no pointer to
    // the struct itself, so it lives on the stack.
    let mut plugin = SCAppLayerPlugin {
        name: parser::PROTO_NAME.as_ptr(),
        Register: Some(parser::register),
        KeywordsRegister: Some(detect::register),
        logname: c"JsonMqttMlLog".as_ptr(),
        confname: c"eve-log.mqtt-ml".as_ptr(),
        dir: SCOutputJsonLogDirection::LOG_DIR_FLOW as u8,
        Logger: Some(log::log_tx),
    };
    // SAFETY: a valid struct for the duration of the call; its strings are static.
    if unsafe { SCPluginRegisterAppLayer(&mut plugin) } != 0 {
        fail("Suricata refused to register the app-layer plugin");
    }
    sclog(
        LOG_NOTICE,
        "replacing Suricata's MQTT parser: `alert mqtt` rules bind to mqtt-ml; rules using the \
         built-in mqtt.* keywords will not load: convert them with \
         `mqtt-ml rules convert IN.rules > OUT.rules` (mqtt.type becomes mqtt_ml.type, ...)",
    );
}

/// Suricata's plugin entry point.
#[no_mangle]
pub extern "C" fn SCPluginRegister() -> *const SCPlugin {
    let plugin = SCPlugin {
        version: SC_API_VERSION,
        suricata_version: SC_PACKAGE_VERSION.as_ptr() as *const _,
        name: c"mqtt-ml".as_ptr(),
        plugin_version: concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const _,
        license: c"MIT".as_ptr(),
        author: c"mqtt-ml contributors".as_ptr(),
        Init: Some(init),
    };
    Box::into_raw(Box::new(plugin))
}
