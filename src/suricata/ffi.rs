//! Suricata 8.0.7 types and functions that `suricata-sys` does not declare.
//!
//! These mirror `rust/src/applayer.rs` and `src/app-layer-register.h` of Suricata 8.0.7 field for
//! field; the plugin refuses to load into another API version (see `plugin.rs`), and every size
//! and offset is asserted at compile time here and, against the installed headers, in shim.c, so
//! the layouts cannot drift silently. Symbols resolve against the suricata binary, which exports
//! them.
#![allow(non_snake_case, non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_void};

pub use suricata_sys::sys::{AppLayerParserState, AppProto, Flow};

pub const IPPROTO_TCP: u8 = 6;
pub const ALPROTO_UNKNOWN: AppProto = 0;
pub const ALPROTO_FAILED: AppProto = suricata_sys::sys::AppProtoEnum::ALPROTO_FAILED as AppProto;

pub const STREAM_TOSERVER: u8 = 0x04;
pub const STREAM_TOCLIENT: u8 = 0x08;

pub const APP_LAYER_PARSER_EOF_TS: u16 = 1 << 5;
pub const APP_LAYER_PARSER_EOF_TC: u16 = 1 << 6;
pub const APP_LAYER_PARSER_OPT_ACCEPT_GAPS: u32 = 1;

pub const APP_LAYER_TX_SKIP_INSPECT_TS: u8 = 1;
pub const APP_LAYER_TX_SKIP_INSPECT_TC: u8 = 1 << 1;

pub const APP_LAYER_EVENT_TYPE_TRANSACTION: c_int = 1;

/// One contiguous piece of a stream direction handed to a parser, or a gap (null data).
#[repr(C)]
pub struct StreamSlice {
    input: *const u8,
    input_len: u32,
    flags: u8,
    offset: u64,
}

impl StreamSlice {
    pub fn is_gap(&self) -> bool {
        self.input.is_null() && self.input_len > 0
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// # Safety
    /// Suricata guarantees `input` points to `input_len` readable bytes for the call's duration.
    pub unsafe fn as_slice(&self) -> &[u8] {
        if self.input.is_null() || self.input_len == 0 {
            return &[];
        }
        std::slice::from_raw_parts(self.input, self.input_len as usize)
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppLayerResult {
    pub status: i32,
    pub consumed: u32,
    pub needed: u32,
}

impl AppLayerResult {
    pub fn ok() -> Self {
        Self::default()
    }
    pub fn incomplete(consumed: u32, needed: u32) -> Self {
        AppLayerResult {
            status: 1,
            consumed,
            needed,
        }
    }
}

#[repr(C)]
#[derive(Default)]
pub struct AppLayerStateData {
    pub file_flags: u16,
}

/// Per-transaction bookkeeping owned by the parser and managed by Suricata (detection state,
/// events, logged flags). Layout of Suricata 8.0.7's `AppLayerTxData`.
#[repr(C)]
pub struct AppLayerTxData {
    config_log_flags: u8,
    pub updated_tc: bool,
    pub updated_ts: bool,
    pub flags: u8,
    logged: u32,
    files_opened: u32,
    files_logged: u32,
    files_stored: u32,
    file_flags: u16,
    file_tx: u8,
    guessed_applayer_logged: u8,
    detect_progress_ts: u8,
    detect_progress_tc: u8,
    de_state: *mut c_void,
    events: *mut c_void,
    txbits: *mut c_void,
}

impl AppLayerTxData {
    /// Tx data for a message that travels one way: detection skips the other direction.
    pub fn for_direction(to_server: bool) -> Self {
        AppLayerTxData {
            config_log_flags: 0,
            updated_tc: !to_server,
            updated_ts: to_server,
            flags: if to_server {
                APP_LAYER_TX_SKIP_INSPECT_TC
            } else {
                APP_LAYER_TX_SKIP_INSPECT_TS
            },
            logged: 0,
            files_opened: 0,
            files_logged: 0,
            files_stored: 0,
            file_flags: 0,
            file_tx: 0,
            guessed_applayer_logged: 0,
            detect_progress_ts: 0,
            detect_progress_tc: 0,
            de_state: std::ptr::null_mut(),
            events: std::ptr::null_mut(),
            txbits: std::ptr::null_mut(),
        }
    }

    /// Keeps Suricata's transaction loggers (EVE `mqtt_ml` records) off this transaction; alerts
    /// still log its object. Bit 0 of the log flags is Suricata's CONFIG_TYPE_TX.
    pub fn skip_logging(&mut self) {
        self.config_log_flags |= 1;
    }

    pub fn set_event(&mut self, event: u8) {
        // SAFETY: `events` is null or a list Suricata allocated for this tx.
        unsafe { AppLayerDecoderEventsSetEventRaw(&mut self.events, event) }
    }
}

impl Drop for AppLayerTxData {
    fn drop(&mut self) {
        // SAFETY: each pointer is null or was allocated by Suricata for this tx, freed once here.
        unsafe {
            if !self.de_state.is_null() {
                DetectEngineStateFree(self.de_state);
            }
            if !self.events.is_null() {
                AppLayerDecoderEventsFreeEvents(&mut self.events);
            }
            if !self.txbits.is_null() {
                GenericVarFree(self.txbits);
            }
        }
    }
}

#[repr(C)]
pub struct AppLayerGetFileState {
    fc: *mut c_void,
    cfg: *const c_void,
}

#[repr(C)]
pub struct AppLayerGetTxIterTuple {
    tx_ptr: *mut c_void,
    tx_id: u64,
    has_next: bool,
}

pub type ProbeFn = unsafe extern "C" fn(*const Flow, u8, *const u8, u32, *mut u8) -> AppProto;
pub type ParseFn = unsafe extern "C" fn(
    *mut Flow,
    *mut c_void,
    *mut AppLayerParserState,
    StreamSlice,
    *const c_void,
) -> AppLayerResult;
pub type GetEventInfoFn = unsafe extern "C" fn(*const c_char, *mut u8, *mut c_int) -> c_int;
pub type GetEventInfoByIdFn = unsafe extern "C" fn(u8, *mut *const c_char, *mut c_int) -> c_int;
pub type GetStateNameByIdFn = unsafe extern "C" fn(c_int, u8) -> *const c_char;
pub type GetStateIdByNameFn = unsafe extern "C" fn(*const c_char, u8) -> c_int;

/// Suricata 8.0.7's `AppLayerParser` (`RustParser` on its Rust side).
#[repr(C)]
pub struct RustParser {
    pub name: *const c_char,
    pub default_port: *const c_char,
    pub ipproto: u8,
    pub probe_ts: Option<ProbeFn>,
    pub probe_tc: Option<ProbeFn>,
    pub min_depth: u16,
    pub max_depth: u16,
    pub state_new: unsafe extern "C" fn(*mut c_void, AppProto) -> *mut c_void,
    pub state_free: unsafe extern "C" fn(*mut c_void),
    pub parse_ts: ParseFn,
    pub parse_tc: ParseFn,
    pub get_tx_count: unsafe extern "C" fn(*mut c_void) -> u64,
    pub get_tx: unsafe extern "C" fn(*mut c_void, u64) -> *mut c_void,
    pub tx_free: unsafe extern "C" fn(*mut c_void, u64),
    pub tx_comp_st_ts: c_int,
    pub tx_comp_st_tc: c_int,
    pub tx_get_progress: unsafe extern "C" fn(*mut c_void, u8) -> c_int,
    pub get_eventinfo: Option<GetEventInfoFn>,
    pub get_eventinfo_byid: Option<GetEventInfoByIdFn>,
    pub localstorage_new: Option<unsafe extern "C" fn() -> *mut c_void>,
    pub localstorage_free: Option<unsafe extern "C" fn(*mut c_void)>,
    pub get_tx_files: Option<unsafe extern "C" fn(*mut c_void, u8) -> AppLayerGetFileState>,
    pub get_tx_iterator: Option<
        unsafe extern "C" fn(
            u8,
            AppProto,
            *mut c_void,
            u64,
            u64,
            *mut u64,
        ) -> AppLayerGetTxIterTuple,
    >,
    pub get_state_data: unsafe extern "C" fn(*mut c_void) -> *mut AppLayerStateData,
    pub get_tx_data: unsafe extern "C" fn(*mut c_void) -> *mut AppLayerTxData,
    pub apply_tx_config: Option<unsafe extern "C" fn(*mut c_void, *mut c_void, c_int, u8) -> bool>,
    pub flags: u32,
    pub get_frame_id_by_name: Option<unsafe extern "C" fn(*const c_char) -> c_int>,
    pub get_frame_name_by_id: Option<unsafe extern "C" fn(u8) -> *const c_char>,
    pub get_state_id_by_name: Option<GetStateIdByNameFn>,
    pub get_state_name_by_id: Option<GetStateNameByIdFn>,
}

/// Layout of `MqttMlPacketFacts` in shim.c.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PacketFactsC {
    pub ts_secs: u64,
    pub ts_usecs: u32,
    pub seq: u32,
    pub payload_len: u16,
    pub tcp_flags: u8,
    pub to_server: u8,
    pub alproto: u16,
}

/// Compile-time layout checks, 64-bit targets: the same sizes and offsets are asserted in
/// shim.c against Suricata's own headers, so a layout change on either side breaks the build.
#[cfg(target_pointer_width = "64")]
mod layout {
    use super::*;
    use std::mem::{offset_of, size_of};

    macro_rules! layout {
        ($t:ty, $size:expr; $($f:ident @ $off:expr),* $(,)?) => {
            const _: () = assert!(size_of::<$t>() == $size, stringify!($t));
            $(const _: () = assert!(offset_of!($t, $f) == $off, stringify!($t.$f));)*
        };
    }

    layout!(StreamSlice, 24; input @ 0, input_len @ 8, flags @ 12, offset @ 16);
    layout!(AppLayerResult, 12; status @ 0, consumed @ 4, needed @ 8);
    layout!(AppLayerStateData, 2; file_flags @ 0);
    layout!(AppLayerTxData, 56;
        config_log_flags @ 0, updated_tc @ 1, updated_ts @ 2, flags @ 3, logged @ 4,
        files_opened @ 8, files_logged @ 12, files_stored @ 16, file_flags @ 20, file_tx @ 22,
        guessed_applayer_logged @ 23, detect_progress_ts @ 24, detect_progress_tc @ 25,
        de_state @ 32, events @ 40, txbits @ 48);
    layout!(AppLayerGetFileState, 16; fc @ 0, cfg @ 8);
    layout!(AppLayerGetTxIterTuple, 24; tx_ptr @ 0, tx_id @ 8, has_next @ 16);
    layout!(RustParser, 232;
        name @ 0, default_port @ 8, ipproto @ 16, probe_ts @ 24, probe_tc @ 32, min_depth @ 40,
        max_depth @ 42, state_new @ 48, state_free @ 56, parse_ts @ 64, parse_tc @ 72,
        get_tx_count @ 80, get_tx @ 88, tx_free @ 96, tx_comp_st_ts @ 104, tx_comp_st_tc @ 108,
        tx_get_progress @ 112, get_eventinfo @ 120, get_eventinfo_byid @ 128,
        localstorage_new @ 136, localstorage_free @ 144, get_tx_files @ 152,
        get_tx_iterator @ 160, get_state_data @ 168, get_tx_data @ 176, apply_tx_config @ 184,
        flags @ 192, get_frame_id_by_name @ 200, get_frame_name_by_id @ 208,
        get_state_id_by_name @ 216, get_state_name_by_id @ 224);
    layout!(PacketFactsC, 24;
        ts_secs @ 0, ts_usecs @ 8, seq @ 12, payload_len @ 16, tcp_flags @ 18, to_server @ 19,
        alproto @ 20);
    // `AppProto` is Suricata's uint16_t.
    const _: () = assert!(size_of::<AppProto>() == 2);
}

extern "C" {
    // Suricata, app-layer-register.h / app-layer-events.h / detect-engine-state.h / util-var.h
    pub fn AppLayerRegisterProtocolDetection(
        parser: *const RustParser,
        enable_default: c_int,
    ) -> AppProto;
    pub fn AppLayerRegisterParser(parser: *const RustParser, alproto: AppProto) -> c_int;
    pub fn AppLayerRegisterParserAlias(proto_name: *const c_char, alias: *const c_char) -> c_int;
    pub fn AppLayerDecoderEventsSetEventRaw(events: *mut *mut c_void, event: u8);
    pub fn AppLayerDecoderEventsFreeEvents(events: *mut *mut c_void);
    pub fn DetectEngineStateFree(state: *mut c_void);
    pub fn GenericVarFree(var: *mut c_void);
    pub fn SCLogMessage(
        level: c_int,
        file: *const c_char,
        line: u32,
        function: *const c_char,
        module: *const c_char,
        message: *const c_char,
    ) -> c_int;
    pub fn FlowGetLastTimeAsParts(flow: *const Flow, secs: *mut u64, usecs: *mut u64);

    // Suricata's float comparison (rust/src/detect/float.rs): `>0.5`, `1-2`, `!=0`, ...
    pub fn SCDetectF64Parse(s: *const c_char) -> *mut c_void;
    pub fn SCDetectF64Match(value: f64, ctx: *const c_void) -> c_int;
    pub fn SCDetectF64Free(ctx: *mut c_void);

    // shim.c
    pub fn mqtt_ml_shim_init() -> c_int;
    pub fn mqtt_ml_shim_set_alproto(alproto: u16);
    pub fn mqtt_ml_shim_watch_port(port: u16);
    pub fn mqtt_ml_flow_data_get(f: *const Flow) -> *mut c_void;
    pub fn mqtt_ml_flow_data_set(f: *mut Flow, data: *mut c_void) -> c_int;
    pub fn mqtt_ml_flow_base_seq(f: *const Flow, to_server: c_int, base: *mut u32) -> c_int;
    pub fn mqtt_ml_flow_start_time(f: *const Flow, secs: *mut u64, usecs: *mut u32);
    pub fn mqtt_ml_flow_client_addr(f: *const Flow, out: *mut u8) -> c_int;
    pub fn mqtt_ml_flow_is_midstream(f: *const Flow) -> c_int;
}
