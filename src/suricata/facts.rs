//! Rule keywords on message facts, so rules can pair the score with what the message says:
//! `mqtt_ml.kalive:>=3600;`, `mqtt_ml.conack_val:>0;`, `mqtt_ml.src_failed_auth:>=5;`,
//! `mqtt_ml.msgtype:publish;` ... Each takes Suricata's float comparison syntax; a message without
//! the fact (a keep-alive on a PUBLISH) does not match. `mqtt_ml.top_feature:<name>;` matches when
//! the feature is among the three that explain the message's score.
//!
//! `mqtt_ml.qos` is also Suricata's `mqtt.qos`: a bare `0`, `1` or `2` matches the QoS bits of the
//! fixed header of any message to the server (Suricata's semantics); any other comparison
//! (`>0`, `!=0`, `1-2`) compares the QoS of PUBLISH messages in either direction.
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicI32, AtomicU16, Ordering::Relaxed};

use suricata_sys::sys::{
    DetectEngineCtx, DetectEngineThreadCtx, SCDetectHelperBufferRegister,
    SCDetectHelperKeywordRegister, SCDetectSignatureSetAppProto, SCSigTableAppLiteElmt,
    SigMatchCtx, Signature,
};

use super::detect::{append_ctx, arg, free_ctx};
use super::ffi::{
    Flow, SCDetectF64Free, SCDetectF64Match, SCDetectF64Parse, STREAM_TOCLIENT, STREAM_TOSERVER,
};
use super::log::{sclog, LOG_ERROR};
use super::parser::MqttTx;
use super::{plugin, scoring};
use crate::features::FEATURES;
use crate::rules::keywords::suricata_qos;
use crate::wire::{type_name, Body};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fact {
    MsgType,
    Qos,
    Kalive,
    ConackVal,
    MsgLen,
    TopicLen,
    ClientidLen,
    TimeDelta,
    FlowMsgCount,
    FlowFailedAuth,
    FlowFailedAuthRate,
    SrcConnects,
    SrcFailedAuth,
    SrcRefusedSecrets,
    SrcOpen,
    FlowMsgRate,
    Qos2PendingAge,
    EvidenceConnection,
    EvidenceClient,
    /// `mqtt_ml.qos` with Suricata's `mqtt.qos` argument: the header's QoS bits, any message.
    HeaderQos,
}

const FACTS: [(Fact, &CStr, &CStr); 19] = [
    (
        Fact::MsgType,
        c"mqtt_ml.msgtype",
        c"MQTT message type (number or name, e.g. publish)",
    ),
    (
        Fact::Qos,
        c"mqtt_ml.qos",
        c"0, 1 or 2: header QoS of messages to the server (Suricata's mqtt.qos); a comparison: PUBLISH QoS",
    ),
    (
        Fact::Kalive,
        c"mqtt_ml.kalive",
        c"CONNECT keep-alive seconds",
    ),
    (
        Fact::ConackVal,
        c"mqtt_ml.conack_val",
        c"CONNACK return/reason code",
    ),
    (Fact::MsgLen, c"mqtt_ml.msg_len", c"PUBLISH payload length"),
    (
        Fact::TopicLen,
        c"mqtt_ml.topic_len",
        c"PUBLISH topic length",
    ),
    (
        Fact::ClientidLen,
        c"mqtt_ml.clientid_len",
        c"CONNECT client id length",
    ),
    (
        Fact::TimeDelta,
        c"mqtt_ml.time_delta",
        c"seconds since the previous message of the connection",
    ),
    (
        Fact::FlowMsgCount,
        c"mqtt_ml.flow_msg_count",
        c"messages so far on the connection",
    ),
    (
        Fact::FlowFailedAuth,
        c"mqtt_ml.flow_failed_auth",
        c"refused CONNACKs on the connection",
    ),
    (
        Fact::FlowFailedAuthRate,
        c"mqtt_ml.flow_failed_auth_rate",
        c"share of refused CONNACKs on the connection",
    ),
    (
        Fact::SrcConnects,
        c"mqtt_ml.src_connects",
        c"CONNECTs from the client address in the window",
    ),
    (
        Fact::SrcFailedAuth,
        c"mqtt_ml.src_failed_auth",
        c"refused logins of the client address in the window",
    ),
    (
        Fact::SrcRefusedSecrets,
        c"mqtt_ml.src_refused_secrets",
        c"distinct credentials among the client address's refused logins in the window",
    ),
    (
        Fact::SrcOpen,
        c"mqtt_ml.src_open",
        c"connections of the client address open now",
    ),
    (
        Fact::FlowMsgRate,
        c"mqtt_ml.flow_msg_rate",
        c"messages per second on the connection (decayed over 10 s)",
    ),
    (
        Fact::Qos2PendingAge,
        c"mqtt_ml.qos2_pending_age",
        c"seconds the oldest incomplete QoS 2 exchange has waited",
    ),
    (
        Fact::EvidenceConnection,
        c"mqtt_ml.evidence_connection",
        c"the connection's accumulated above-threshold messages (decayed over 60 s)",
    ),
    (
        Fact::EvidenceClient,
        c"mqtt_ml.evidence_client",
        c"the client address's above-threshold messages in the window",
    ),
];

impl Fact {
    fn value(self, tx: &MqttTx) -> Option<f64> {
        let r = tx.record.as_ref()?;
        let f = &r.ctx.flow;
        let body = &r.msg.body;
        Some(match self {
            Fact::MsgType => f64::from(r.msg.header.msg_type),
            Fact::Qos => match body {
                Body::Publish(_) => f64::from(r.msg.header.qos),
                _ => return None,
            },
            Fact::Kalive => match body {
                Body::Connect(c) => f64::from(c.keep_alive?),
                _ => return None,
            },
            Fact::ConackVal => match body {
                Body::Connack(c) => f64::from(c.return_code),
                _ => return None,
            },
            Fact::MsgLen => match body {
                Body::Publish(p) => p.payload_len as f64,
                _ => return None,
            },
            Fact::TopicLen => match body {
                Body::Publish(p) => f64::from(p.topic.len),
                _ => return None,
            },
            Fact::ClientidLen => match body {
                Body::Connect(c) => f64::from(c.client_id.as_ref()?.len),
                _ => return None,
            },
            Fact::TimeDelta => f.time_delta,
            Fact::FlowMsgCount => f.msg_index as f64,
            Fact::FlowFailedAuth => f.failed_auth as f64,
            Fact::FlowFailedAuthRate => f.failed_auth_rate,
            Fact::SrcConnects => f64::from(r.ctx.source.connects),
            Fact::SrcFailedAuth => f64::from(r.ctx.source.failed_auth),
            Fact::SrcRefusedSecrets => f64::from(r.ctx.source.refused_secrets),
            Fact::SrcOpen => f64::from(r.ctx.source.open),
            Fact::FlowMsgRate => f.msg_rate,
            Fact::Qos2PendingAge => f.qos2_pending_age,
            Fact::EvidenceConnection => f64::from(tx.scored?.evidence.connection),
            Fact::EvidenceClient => f64::from(tx.scored?.evidence.client),
            Fact::HeaderQos => f64::from(r.msg.header.qos),
        })
    }
}

/// `mqtt_ml.msgtype:publish` reads as `mqtt_ml.msgtype:3`.
fn msgtype_number(arg: &str) -> Option<String> {
    let (op, name) = arg.split_at(arg.find(|c: char| c.is_ascii_alphabetic())?);
    let n = (0u8..=15).find(|n| type_name(*n) == name.to_ascii_lowercase())?;
    Some(format!("{op}{n}"))
}

struct FactCtx {
    fact: Fact,
    cmp: *mut c_void,
}

impl Drop for FactCtx {
    fn drop(&mut self) {
        // SAFETY: `cmp` came from SCDetectF64Parse and is freed once, here.
        unsafe { SCDetectF64Free(self.cmp) }
    }
}

static FACT_KW: [AtomicU16; FACTS.len()] = [const { AtomicU16::new(0) }; FACTS.len()];
static TOP_KW: AtomicU16 = AtomicU16::new(0);
static LIST: AtomicI32 = AtomicI32::new(-1);
/// Inspected to the server only, like Suricata's `mqtt.qos`.
static TOSERVER_LIST: AtomicI32 = AtomicI32::new(-1);

// SAFETY: as the keyword setups in detect.rs: the engine and signature Suricata passed, `raw` null
// or NUL-terminated.
unsafe fn fact_setup(
    de: *mut DetectEngineCtx,
    s: *mut Signature,
    raw: *const c_char,
    i: usize,
) -> c_int {
    let (mut fact, name, _) = FACTS[i];
    let name = name.to_string_lossy();
    if SCDetectSignatureSetAppProto(s, plugin::alproto()) != 0 {
        return -1;
    }
    let arg = arg(raw).unwrap_or_default();
    let mut list = LIST.load(Relaxed);
    let arg = match fact {
        Fact::MsgType => msgtype_number(&arg).unwrap_or(arg),
        Fact::Qos if suricata_qos(&arg).is_some() => {
            fact = Fact::HeaderQos;
            list = TOSERVER_LIST.load(Relaxed);
            arg
        }
        _ => arg,
    };
    let Ok(carg) = std::ffi::CString::new(arg.clone()) else {
        return -1;
    };
    let cmp = SCDetectF64Parse(carg.as_ptr());
    if cmp.is_null() {
        sclog(
            LOG_ERROR,
            &format!("{name}: invalid comparison '{arg}'; use e.g. >0, >=3600, 1-5"),
        );
        return -1;
    }
    let kw = FACT_KW[i].load(Relaxed);
    append_ctx(de, s, kw, list, FactCtx { fact, cmp })
}

macro_rules! setups {
    ($($f:ident = $i:literal),+) => {
        $(unsafe extern "C" fn $f(de: *mut DetectEngineCtx, s: *mut Signature, raw: *const c_char) -> c_int {
            fact_setup(de, s, raw, $i)
        })+
        type Setup = unsafe extern "C" fn(*mut DetectEngineCtx, *mut Signature, *const c_char) -> c_int;
        const SETUPS: [Setup; FACTS.len()] = [$($f),+];
    };
}

setups!(
    s0 = 0,
    s1 = 1,
    s2 = 2,
    s3 = 3,
    s4 = 4,
    s5 = 5,
    s6 = 6,
    s7 = 7,
    s8 = 8,
    s9 = 9,
    s10 = 10,
    s11 = 11,
    s12 = 12,
    s13 = 13,
    s14 = 14,
    s15 = 15,
    s16 = 16,
    s17 = 17,
    s18 = 18
);

// SAFETY: `txv` is an `MqttTx` of this parser, `ctx` the context `fact_setup` attached with
// `append_ctx`.
unsafe extern "C" fn fact_match(
    _det: *mut DetectEngineThreadCtx,
    _f: *mut Flow,
    _flags: u8,
    _state: *mut c_void,
    txv: *mut c_void,
    _s: *const Signature,
    ctx: *const SigMatchCtx,
) -> c_int {
    let tx = &*(txv as *const MqttTx);
    let ctx = &*(ctx as *const FactCtx);
    match ctx.fact.value(tx) {
        Some(v) => SCDetectF64Match(v, ctx.cmp),
        None => 0,
    }
}

// SAFETY: as `fact_setup`.
unsafe extern "C" fn top_setup(
    de: *mut DetectEngineCtx,
    s: *mut Signature,
    raw: *const c_char,
) -> c_int {
    if scoring::engine().is_none() {
        sclog(
            LOG_ERROR,
            "mqtt_ml.top_feature needs scoring: set app-layer.protocols.mqtt-ml.scoring: yes",
        );
        return -1;
    }
    if SCDetectSignatureSetAppProto(s, plugin::alproto()) != 0 {
        return -1;
    }
    let arg = arg(raw).unwrap_or_default();
    let Some(i) = FEATURES.iter().position(|f| f.name == arg) else {
        sclog(
            LOG_ERROR,
            &format!("mqtt_ml.top_feature: unknown feature '{arg}'; see docs/features.md"),
        );
        return -1;
    };
    append_ctx(de, s, TOP_KW.load(Relaxed), LIST.load(Relaxed), i as u8)
}

// SAFETY: `txv` is an `MqttTx` of this parser, `ctx` the context `top_setup` attached with
// `append_ctx`.
unsafe extern "C" fn top_match(
    _det: *mut DetectEngineThreadCtx,
    _f: *mut Flow,
    _flags: u8,
    _state: *mut c_void,
    txv: *mut c_void,
    _s: *const Signature,
    ctx: *const SigMatchCtx,
) -> c_int {
    let tx = &*(txv as *const MqttTx);
    let want = *(ctx as *const u8);
    c_int::from(
        tx.scored
            .is_some_and(|sc| sc.top.iter().any(|(i, e)| *i == want && *e >= 0.0)),
    )
}

// SAFETY: called from detect.rs `register`, once, single-threaded; every string is static.
pub unsafe fn register() {
    let both = STREAM_TOSERVER | STREAM_TOCLIENT;
    LIST.store(
        SCDetectHelperBufferRegister(c"mqtt_ml.facts".as_ptr(), plugin::alproto(), both),
        Relaxed,
    );
    TOSERVER_LIST.store(
        SCDetectHelperBufferRegister(
            c"mqtt_ml.facts_to_server".as_ptr(),
            plugin::alproto(),
            STREAM_TOSERVER,
        ),
        Relaxed,
    );
    for (i, (_, name, desc)) in FACTS.iter().enumerate() {
        let kw = SCSigTableAppLiteElmt {
            name: name.as_ptr(),
            desc: desc.as_ptr(),
            url: c"docs/rules.md".as_ptr(),
            flags: 0,
            Setup: Some(SETUPS[i]),
            Free: Some(free_ctx::<FactCtx>),
            AppLayerTxMatch: Some(fact_match),
        };
        FACT_KW[i].store(SCDetectHelperKeywordRegister(&kw), Relaxed);
    }
    let top = SCSigTableAppLiteElmt {
        name: c"mqtt_ml.top_feature".as_ptr(),
        desc: c"a feature among the three that explain the message's score".as_ptr(),
        url: c"docs/rules.md".as_ptr(),
        flags: 0,
        Setup: Some(top_setup),
        Free: Some(free_ctx::<u8>),
        AppLayerTxMatch: Some(top_match),
    };
    TOP_KW.store(SCDetectHelperKeywordRegister(&top), Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_type_names_become_numbers() {
        assert_eq!(msgtype_number("publish").as_deref(), Some("3"));
        assert_eq!(msgtype_number(">=CONNACK").as_deref(), Some(">=2"));
        assert_eq!(msgtype_number("3"), None);
        assert_eq!(msgtype_number("bogus"), None);
    }
}
