//! Sticky buffers and multi-buffers of Suricata's MQTT rule language under mqtt-ml names
//! (`mqtt_ml.connect.clientid`, ..., `mqtt_ml.publish.message`; `mqtt_ml.subscribe.topic` and
//! `mqtt_ml.unsubscribe.topic`), registered for multi-pattern matching so that `content`, `pcre`,
//! transforms and `fast_pattern` work on them. The bytes come from `crate::rules::keywords`.
use std::os::raw::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicI32, Ordering::Relaxed};

use suricata_sys::sys::{
    DetectEngineCtx, DetectEngineThreadCtx, SCDetectBufferSetActiveList,
    SCDetectHelperBufferMpmRegister, SCDetectHelperKeywordRegister,
    SCDetectHelperMultiBufferMpmRegister, SCDetectSignatureSetAppProto, SCSigTableAppLiteElmt,
    Signature,
};

use super::mqtt_keywords::{direction, names_of};
use super::parser::MqttTx;
use super::plugin;
use crate::rules::keywords::{self, Buffer, Keyword, Kind, MultiBuffer};

const SIGMATCH_NOOPT: u16 = 1;
const SIGMATCH_INFO_STICKY_BUFFER: u16 = 1 << 9;

const BUFFERS: [Buffer; 8] = [
    Buffer::ConnectClientid,
    Buffer::ConnectUsername,
    Buffer::ConnectPassword,
    Buffer::ConnectProtocolString,
    Buffer::ConnectWilltopic,
    Buffer::ConnectWillmessage,
    Buffer::PublishTopic,
    Buffer::PublishMessage,
];
const MULTI: [MultiBuffer; 2] = [MultiBuffer::SubscribeTopic, MultiBuffer::UnsubscribeTopic];

static LISTS: [AtomicI32; 10] = [const { AtomicI32::new(-1) }; 10];

fn keyword_of(kind: Kind) -> &'static Keyword {
    keywords::KEYWORDS
        .iter()
        .find(|k| k.kind == kind)
        .expect("every buffer is in the keyword table")
}

/// Hands `data` to Suricata; the bytes live in the transaction, which outlives the inspection.
unsafe fn give(data: Option<&[u8]>, buf: *mut *const u8, len: *mut u32) -> bool {
    match data {
        Some(d) => {
            *buf = d.as_ptr();
            // Messages are at most a few MiB (max-msg-length); saturate rather than wrap.
            *len = u32::try_from(d.len()).unwrap_or(u32::MAX);
            true
        }
        None => {
            *buf = std::ptr::null();
            *len = 0;
            false
        }
    }
}

unsafe extern "C" fn get<const I: usize>(
    txv: *const c_void,
    _flow_flags: u8,
    buf: *mut *const u8,
    len: *mut u32,
) -> bool {
    let tx = &*(txv as *const MqttTx);
    // A transaction carrying only flow events has no message, so no buffer.
    let Some(record) = tx.record.as_ref() else {
        return false;
    };
    give(keywords::buffer(BUFFERS[I], &record.msg), buf, len)
}

unsafe extern "C" fn get_multi<const I: usize>(
    _det: *mut DetectEngineThreadCtx,
    txv: *const c_void,
    _flow_flags: u8,
    local_id: u32,
    buf: *mut *const u8,
    len: *mut u32,
) -> bool {
    let tx = &*(txv as *const MqttTx);
    let Some(record) = tx.record.as_ref() else {
        return false;
    };
    give(
        keywords::multi_buffer(MULTI[I], &record.msg, local_id as usize),
        buf,
        len,
    )
}

/// Setup of buffer `I` (0-7 sticky, 8-9 multi): the rule is about this protocol, and the
/// following content keywords apply to the buffer.
unsafe extern "C" fn setup<const I: usize>(
    de: *mut DetectEngineCtx,
    s: *mut Signature,
    _raw: *const c_char,
) -> c_int {
    if SCDetectSignatureSetAppProto(s, plugin::alproto()) != 0 {
        return -1;
    }
    if SCDetectBufferSetActiveList(de, s, LISTS[I].load(Relaxed)) < 0 {
        return -1;
    }
    0
}

type Setup = unsafe extern "C" fn(*mut DetectEngineCtx, *mut Signature, *const c_char) -> c_int;
type GetData = unsafe extern "C" fn(*const c_void, u8, *mut *const u8, *mut u32) -> bool;
type GetMulti = unsafe extern "C" fn(
    *mut DetectEngineThreadCtx,
    *const c_void,
    u8,
    u32,
    *mut *const u8,
    *mut u32,
) -> bool;

const SETUPS: [Setup; 10] = [
    setup::<0>, setup::<1>, setup::<2>, setup::<3>, setup::<4>, setup::<5>, setup::<6>, setup::<7>,
    setup::<8>, setup::<9>,
];
const GETS: [GetData; 8] = [
    get::<0>, get::<1>, get::<2>, get::<3>, get::<4>, get::<5>, get::<6>, get::<7>,
];
const GET_MULTI: [GetMulti; 2] = [get_multi::<0>, get_multi::<1>];

unsafe fn register_sticky(i: usize, k: &Keyword) {
    let (name, desc) = names_of(k);
    let elmt = SCSigTableAppLiteElmt {
        name,
        desc,
        url: c"docs/rules.md".as_ptr(),
        flags: SIGMATCH_NOOPT | SIGMATCH_INFO_STICKY_BUFFER,
        Setup: Some(SETUPS[i]),
        Free: None,
        AppLayerTxMatch: None,
    };
    SCDetectHelperKeywordRegister(&elmt);
}

pub unsafe fn register() {
    let alproto = plugin::alproto();
    for (i, b) in BUFFERS.iter().enumerate() {
        let k = keyword_of(Kind::Buffer(*b));
        register_sticky(i, k);
        let (name, desc) = names_of(k);
        LISTS[i].store(
            SCDetectHelperBufferMpmRegister(
                name,
                desc,
                alproto,
                direction(k.inspect),
                Some(GETS[i]),
            ),
            Relaxed,
        );
    }
    for (j, m) in MULTI.iter().enumerate() {
        let i = BUFFERS.len() + j;
        let k = keyword_of(Kind::Multi(*m));
        register_sticky(i, k);
        let (name, desc) = names_of(k);
        LISTS[i].store(
            SCDetectHelperMultiBufferMpmRegister(
                name,
                desc,
                alproto,
                direction(k.inspect),
                Some(GET_MULTI[j]),
            ),
            Relaxed,
        );
    }
}
