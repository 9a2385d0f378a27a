//! Suricata's log (SCLogMessage) and EVE output: the JsonBuilder adapter and the tx logger.
use std::ffi::{CStr, CString};
use std::os::raw::c_void;

use suricata_sys::jsonbuilder::*;

use super::ffi::SCLogMessage;
use super::parser::MqttTx;
use crate::eve::{self, JsonSink, SinkError};

pub const LOG_ERROR: i32 = 1;
pub const LOG_NOTICE: i32 = 3;
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

/// Suricata's JsonBuilder as a `JsonSink`.
struct Builder(*mut SCJsonBuilder);

fn check(ok: bool) -> Result<(), SinkError> {
    if ok {
        Ok(())
    } else {
        Err(SinkError)
    }
}

// SAFETY (all methods): `self.0` is the live builder Suricata passed to the logger callback, and
// every string pointer outlives its call; string values go through the byte-length API so they
// need no NUL terminator and may hold any bytes (JsonBuilder escapes them).
impl JsonSink for Builder {
    fn open_object(&mut self, k: &CStr) -> Result<(), SinkError> {
        check(unsafe { SCJbOpenObject(self.0, k.as_ptr()) })
    }
    fn open_array(&mut self, k: &CStr) -> Result<(), SinkError> {
        check(unsafe { SCJbOpenArray(self.0, k.as_ptr()) })
    }
    fn start_object(&mut self) -> Result<(), SinkError> {
        check(unsafe { SCJbStartObject(self.0) })
    }
    fn close(&mut self) -> Result<(), SinkError> {
        check(unsafe { SCJbClose(self.0) })
    }
    fn set_str(&mut self, k: &CStr, v: &str) -> Result<(), SinkError> {
        // The byte-length API refuses empty values (e.g. an MQTT 5 topic sent as an alias).
        if v.is_empty() {
            return check(unsafe { SCJbSetString(self.0, k.as_ptr(), c"".as_ptr()) });
        }
        let len = u32::try_from(v.len()).map_err(|_| SinkError)?;
        check(unsafe { SCJbSetStringFromBytes(self.0, k.as_ptr(), v.as_ptr(), len) })
    }
    fn set_uint(&mut self, k: &CStr, v: u64) -> Result<(), SinkError> {
        check(unsafe { SCJbSetUint(self.0, k.as_ptr(), v) })
    }
    fn set_float(&mut self, k: &CStr, v: f64) -> Result<(), SinkError> {
        check(unsafe { SCJbSetFloat(self.0, k.as_ptr(), v) })
    }
    fn set_bool(&mut self, k: &CStr, v: bool) -> Result<(), SinkError> {
        check(unsafe { SCJbSetBool(self.0, k.as_ptr(), v) })
    }
    fn append_str(&mut self, v: &str) -> Result<(), SinkError> {
        if v.is_empty() {
            return check(unsafe { SCJbAppendString(self.0, c"".as_ptr()) });
        }
        let len = u32::try_from(v.len()).map_err(|_| SinkError)?;
        check(unsafe { SCJbAppendStringFromBytes(self.0, v.as_ptr(), len) })
    }
    fn append_uint(&mut self, v: u64) -> Result<(), SinkError> {
        check(unsafe { SCJbAppendUint(self.0, v) })
    }
    fn append_float(&mut self, v: f64) -> Result<(), SinkError> {
        check(unsafe { SCJbAppendFloat(self.0, v) })
    }
}

/// EVE logger for one transaction: called for `mqtt_ml` records and for alert metadata.
// SAFETY: `tx` is an `MqttTx` of this parser and `jb` the live JsonBuilder Suricata passes the
// logger, both for the call.
pub unsafe extern "C" fn log_tx(tx: *const c_void, jb: *mut c_void) -> bool {
    if tx.is_null() || jb.is_null() {
        return false;
    }
    let tx = &*(tx as *const MqttTx);
    // A transaction carrying only flow events has no message to write.
    let Some(record) = tx.record.as_ref() else {
        return false;
    };
    let mut b = Builder(jb as *mut SCJsonBuilder);
    let opt = eve::RecordOptions {
        log_passwords: super::plugin::config().log_passwords,
    };
    let a = eve::Assessment {
        scored: tx.scored.as_ref(),
        features: tx.features.as_deref(),
    };
    eve::write_record(&mut b, record, a, opt).is_ok()
}
