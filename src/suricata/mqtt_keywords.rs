//! The integer and flag keywords of Suricata's MQTT rule language under mqtt-ml names:
//! `mqtt_ml.type`, `mqtt_ml.flags`, `mqtt_ml.reason_code`, `mqtt_ml.connack.session_present`,
//! `mqtt_ml.protocol_version`, `mqtt_ml.connect.flags` (`mqtt_ml.qos` lives with the message
//! facts, which already had that name). Argument parsing and matching are in
//! `crate::rules::keywords`; this file only registers them.
use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicI32, AtomicU16, Ordering::Relaxed};
use std::sync::OnceLock;

use suricata_sys::sys::{
    DetectEngineCtx, DetectEngineThreadCtx, SCDetectHelperBufferRegister,
    SCDetectHelperKeywordRegister, SCDetectSignatureSetAppProto, SCSigTableAppLiteElmt,
    SigMatchCtx, Signature,
};

use super::detect::{append_ctx, arg, free_ctx};
use super::ffi::{Flow, STREAM_TOCLIENT, STREAM_TOSERVER};
use super::log::{sclog, LOG_ERROR};
use super::parser::MqttTx;
use super::plugin;
use crate::rules::keywords::{self, Inspect, IntArg, IntKeyword, Keyword, Kind};

const INT_KEYWORDS: [IntKeyword; 6] = [
    IntKeyword::Type,
    IntKeyword::Flags,
    IntKeyword::ReasonCode,
    IntKeyword::SessionPresent,
    IntKeyword::ProtocolVersion,
    IntKeyword::ConnectFlags,
];

static KW_IDS: [AtomicU16; 6] = [const { AtomicU16::new(0) }; 6];
static LISTS: [AtomicI32; 6] = [const { AtomicI32::new(-1) }; 6];

struct IntCtx {
    kw: IntKeyword,
    arg: IntArg,
}

/// The keyword table entry of an integer keyword.
pub(super) fn keyword_of(kw: IntKeyword) -> &'static Keyword {
    keywords::KEYWORDS
        .iter()
        .find(|k| k.kind == Kind::Int(kw))
        .expect("every integer keyword is in the table")
}

/// Suricata's direction flags for where a keyword is inspected.
pub(super) fn direction(i: Inspect) -> u8 {
    match i {
        Inspect::ToServer => STREAM_TOSERVER,
        Inspect::ToClient => STREAM_TOCLIENT,
        Inspect::Both => STREAM_TOSERVER | STREAM_TOCLIENT,
    }
}

/// C strings for names and descriptions Suricata keeps pointers to; made once, never freed.
pub(super) fn c_strings() -> &'static Vec<(CString, CString)> {
    static S: OnceLock<Vec<(CString, CString)>> = OnceLock::new();
    S.get_or_init(|| {
        keywords::KEYWORDS
            .iter()
            .map(|k| {
                (
                    CString::new(k.name).unwrap_or_default(),
                    CString::new(k.desc).unwrap_or_default(),
                )
            })
            .collect()
    })
}

/// (name, description) C strings of `k`.
pub(super) fn names_of(k: &Keyword) -> (*const c_char, *const c_char) {
    let i = keywords::KEYWORDS
        .iter()
        .position(|x| x.name == k.name)
        .unwrap_or(0);
    let (n, d) = &c_strings()[i];
    (n.as_ptr(), d.as_ptr())
}

unsafe extern "C" fn setup<const I: usize>(
    de: *mut DetectEngineCtx,
    s: *mut Signature,
    raw: *const c_char,
) -> c_int {
    let kw = INT_KEYWORDS[I];
    let name = keyword_of(kw).name;
    if SCDetectSignatureSetAppProto(s, plugin::alproto()) != 0 {
        return -1;
    }
    let text = arg(raw).unwrap_or_default();
    let parsed = match keywords::parse_int_arg(kw, &text) {
        Ok(a) => a,
        Err(e) => {
            sclog(LOG_ERROR, &format!("{name}: {e}"));
            return -1;
        }
    };
    append_ctx(
        de,
        s,
        KW_IDS[I].load(Relaxed),
        LISTS[I].load(Relaxed),
        IntCtx { kw, arg: parsed },
    )
}

unsafe extern "C" fn int_match(
    _det: *mut DetectEngineThreadCtx,
    _f: *mut Flow,
    _flags: u8,
    _state: *mut c_void,
    txv: *mut c_void,
    _s: *const Signature,
    ctx: *const SigMatchCtx,
) -> c_int {
    let tx = &*(txv as *const MqttTx);
    let ctx = &*(ctx as *const IntCtx);
    c_int::from(
        tx.record
            .as_ref()
            .is_some_and(|r| keywords::int_matches(ctx.kw, ctx.arg, &r.msg)),
    )
}

type Setup = unsafe extern "C" fn(*mut DetectEngineCtx, *mut Signature, *const c_char) -> c_int;
const SETUPS: [Setup; 6] = [
    setup::<0>, setup::<1>, setup::<2>, setup::<3>, setup::<4>, setup::<5>,
];

pub unsafe fn register() {
    for (i, kw) in INT_KEYWORDS.iter().enumerate() {
        let k = keyword_of(*kw);
        let (name, desc) = names_of(k);
        // The list takes the keyword's name: rule analysis and errors show it.
        LISTS[i].store(
            SCDetectHelperBufferRegister(name, plugin::alproto(), direction(k.inspect)),
            Relaxed,
        );
        let elmt = SCSigTableAppLiteElmt {
            name,
            desc,
            url: c"docs/rules.md".as_ptr(),
            flags: 0,
            Setup: Some(SETUPS[i]),
            Free: Some(free_ctx::<IntCtx>),
            AppLayerTxMatch: Some(int_match),
        };
        KW_IDS[i].store(SCDetectHelperKeywordRegister(&elmt), Relaxed);
    }
    super::buffers::register();
}
