//! Suricata's log (SCLogMessage) and EVE output: the JsonBuilder adapter and the tx logger.
use std::cell::RefCell;
use std::ffi::CString;
use std::os::raw::c_void;

use suricata_sys::jsonbuilder::*;

use super::ffi::SCLogMessage;
use super::parser::MqttTx;
use crate::eve::{self, TextSink};

pub const LOG_ERROR: i32 = 1;
pub const LOG_NOTICE: i32 = 3;
pub const LOG_INFO: i32 = 4;
pub const LOG_CONFIG: i32 = 6;

/// Writes one line to Suricata's log at `level`.
pub fn sclog(level: i32, message: &str) {
    let msg = CString::new(message.replace('\0', " ")).unwrap_or_default();
    // SAFETY: every pointer is a valid NUL-terminated string for the duration of the call.
    unsafe {
        SCLogMessage(
            level,
            c"mqtt-ml".as_ptr(),
            0,
            c"mqtt-ml".as_ptr(),
            c"mqtt-ml".as_ptr(),
            msg.as_ptr(),
        );
    }
}

thread_local! {
    /// This thread's record text, reused: a record costs no allocation once it has grown.
    static TEXT: RefCell<TextSink> = RefCell::new(TextSink::new());
}

/// EVE logger for one transaction: called for `mqtt_ml` records and for alert metadata. The
/// object is written as text (numbers through itoa/ryu, strings escaped in place) and handed to
/// JsonBuilder in one `SCJbSetFormatted` call, instead of one builder call and one number-to-
/// string allocation per field.
// SAFETY: `tx` is an `MqttTx` of this parser and `jb` the live JsonBuilder Suricata passes the
// logger, both for the call.
pub unsafe extern "C" fn log_tx(tx: *const c_void, jb: *mut c_void) -> bool {
    if tx.is_null() || jb.is_null() {
        return false;
    }
    let tx = &*(tx as *const MqttTx);
    let cfg = super::plugin::config();
    // A transaction carrying only flow events has no message to write.
    let Some(record) = tx.record.as_ref() else {
        return false;
    };
    let opt = eve::RecordOptions {
        log_passwords: cfg.log_passwords,
        full: cfg.eve_record_full,
    };
    let a = eve::Assessment {
        scored: tx.scored.as_ref(),
        features: tx.features.as_deref(),
    };
    TEXT.with(|t| {
        let Ok(mut text) = t.try_borrow_mut() else {
            return false;
        };
        text.clear();
        if eve::write_record(&mut *text, record, a, opt).is_err() {
            return false;
        }
        let bytes = text.as_c_bytes();
        // SAFETY: `jb` is the live builder Suricata passed in; `bytes` is NUL-terminated UTF-8
        // (keys are static ASCII, values escaped JSON) and outlives the call, which copies it.
        unsafe { SCJbSetFormatted(jb as *mut SCJsonBuilder, bytes.as_ptr().cast()) }
    })
}
