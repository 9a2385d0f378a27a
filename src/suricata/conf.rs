//! Reads the plugin's keys from Suricata's configuration tree into `Config`.
use std::ffi::{CStr, CString};
use std::os::raw::c_char;

use suricata_sys::sys::{SCConfGet, SCConfSet};

use crate::config::{Config, ConfigError, KEYS, SECTION};

/// A configuration value by its full name.
pub fn get_value(name: &str) -> Option<String> {
    get(name)
}

fn get(name: &str) -> Option<String> {
    let cname = CString::new(name).ok()?;
    let mut val: *const c_char = std::ptr::null();
    // SAFETY: `cname` is NUL-terminated; on success Suricata points `val` at a string it owns.
    unsafe {
        if SCConfGet(cname.as_ptr(), &mut val) != 1 || val.is_null() {
            return None;
        }
        Some(CStr::from_ptr(val).to_string_lossy().into_owned())
    }
}

/// The plugin's configuration from suricata.yaml / `--set`.
pub fn read() -> Result<Config, ConfigError> {
    let mut cfg = Config::default();
    for k in KEYS {
        if let Some(v) = get(&format!("{SECTION}.{k}")) {
            cfg.apply(k, &v)?;
        }
    }
    Ok(cfg)
}

/// Sets a configuration value (used to switch off Suricata's built-in MQTT parser).
pub fn set(name: &CStr, value: &CStr) -> bool {
    // SAFETY: both are NUL-terminated; Suricata copies them.
    unsafe { SCConfSet(name.as_ptr(), value.as_ptr()) == 1 }
}

/// Adds `mqtt-ml` to the `types` of every eve-log output that lists Suricata's own `mqtt` type,
/// so that a suricata.yaml written for the built-in parser logs this plugin's records where it
/// logged MQTT before. Returns how many outputs were extended.
pub fn follow_builtin_mqtt_eve_type() -> usize {
    use suricata_sys::sys::{
        SCConfGetFirstNode, SCConfGetNextNode, SCConfGetNode, SCConfGetValueNode,
        SCConfNodeGetNodeOrCreate, SCConfNodeLookupChild, SCConfNode_,
    };
    let mut extended = 0;
    // SAFETY: the configuration tree is only read and extended here, during single-threaded
    // start-up; nodes returned by Suricata stay valid while the tree lives.
    unsafe {
        let outputs = SCConfGetNode(c"outputs".as_ptr());
        if outputs.is_null() {
            return 0;
        }
        let mut out = SCConfGetFirstNode(outputs);
        while !out.is_null() {
            let eve = SCConfNodeLookupChild(out, c"eve-log".as_ptr());
            let types = if eve.is_null() {
                eve
            } else {
                SCConfNodeLookupChild(eve, c"types".as_ptr())
            };
            if !types.is_null() {
                let (mut count, mut has_mqtt, mut has_ours) = (0usize, false, false);
                let mut t = SCConfGetFirstNode(types);
                while !t.is_null() {
                    let v = SCConfGetValueNode(t);
                    if !v.is_null() {
                        match CStr::from_ptr(v).to_bytes() {
                            b"mqtt" => has_mqtt = true,
                            b"mqtt-ml" => has_ours = true,
                            _ => {}
                        }
                    }
                    count += 1;
                    t = SCConfGetNextNode(t);
                }
                if has_mqtt && !has_ours {
                    let name = CString::new(count.to_string()).unwrap_or_default();
                    let node =
                        SCConfNodeGetNodeOrCreate(types, name.as_ptr(), 0) as *mut SCConfNode_;
                    if !node.is_null() && (*node).val.is_null() {
                        (*node).val = libc::strdup(c"mqtt-ml".as_ptr());
                        extended += 1;
                    }
                }
            }
            out = SCConfGetNextNode(out);
        }
    }
    extended
}
