//! App-layer parser callbacks: protocol detection, per-flow state, one transaction per message.
use std::collections::VecDeque;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};
use std::sync::OnceLock;

use suricata_sys::sys::{
    SCAppLayerParserConfParserEnabled, SCAppLayerParserRegisterLogger,
    SCAppLayerParserSetStreamDepth, SCAppLayerParserStateIssetFlag,
    SCAppLayerProtoDetectConfProtoDetectionEnabled, SCAppLayerProtoDetectPMRegisterPatternCSwPP,
};

use super::ffi::*;
use super::log::{sclog, LOG_ERROR};
use super::packets::{flow_origin, FlowClock};
use super::{plugin, scoring};
use crate::events::Event;
use crate::features::RawVector;
use crate::flow::{
    only_direction, Clock, Direction, MessageRecord, Session, Shared, StreamProgress,
};
use crate::scoring::{ConnectionEvidence, Scored};
use crate::wire::{self, Probe};

/// The protocol's name: EVE, rules (`app-layer-event:mqtt-ml.*`) and yaml
/// (`app-layer.protocols.mqtt-ml`). No `_`: Suricata rewrites `_` to `-` in yaml keys.
pub const PROTO_NAME: &CStr = c"mqtt-ml";

pub struct MqttTx {
    tx_data: AppLayerTxData,
    id: u64,
    /// None for a transaction that only carries flow events no message was left to carry (a gap
    /// at the end of a stream): rules on those events see it; it writes no `mqtt_ml` record.
    pub record: Option<MessageRecord>,
    pub scored: Option<Scored>,
    /// The feature vector, kept only when EVE logs it.
    pub features: Option<Box<RawVector>>,
    /// The score as text, for the `mqtt_ml.score` sticky buffer; made on first use.
    pub score_text: std::cell::OnceCell<String>,
    /// Bytes charged to the plugin's memory budget for this transaction.
    charged: usize,
}

impl Drop for MqttTx {
    fn drop(&mut self) {
        plugin::budget().release(self.charged);
    }
}

/// What a transaction holds, estimated from above: the struct and its message's heap (no more
/// than the body, itself at most `max-msg-length`); the feature vector is added when kept.
fn tx_bytes(record: &MessageRecord) -> usize {
    let body = (record.msg.header.remaining_len as usize).min(plugin::config().max_msg_len);
    std::mem::size_of::<MqttTx>() + body
}

#[derive(Default)]
struct MqttState {
    state_data: AppLayerStateData,
    txs: VecDeque<MqttTx>,
    next_id: u64,
    /// Created at the first data, when the flow (client address, midstream) is known.
    session: Option<Session>,
    /// The connection's accumulated evidence for the anomaly decision.
    evidence: ConnectionEvidence,
}

/// Makes `record` the next transaction (a free function so the parser can call it while the
/// session, another field of the state, is borrowed). `charged`: what was charged to the memory
/// budget for `record` when it was parsed.
fn push_tx(
    txs: &mut VecDeque<MqttTx>,
    next_id: &mut u64,
    evidence: &mut ConnectionEvidence,
    client: Option<std::net::IpAddr>,
    record: MessageRecord,
    mut charged: usize,
) {
    let cfg = plugin::config();
    let to_server = record.ctx.direction == Direction::ToServer;
    let (scored, features) = scoring::assess(&record, cfg.log_features, evidence, client);
    if features.is_some() {
        let extra = std::mem::size_of::<RawVector>();
        plugin::budget().charge(extra);
        charged += extra;
    }
    let mut tx = MqttTx {
        tx_data: AppLayerTxData::for_direction(to_server),
        id: *next_id,
        record: Some(record),
        scored,
        features,
        score_text: std::cell::OnceCell::new(),
        charged,
    };
    *next_id += 1;
    let Some(record) = tx.record.as_mut() else {
        return;
    };
    if txs.len() >= cfg.max_tx {
        // Transactions complete on creation, and Suricata logs and frees complete ones after
        // each packet: more than max-tx are alive only within one flush (bounded by the input
        // and max-msgs-per-segment). Dropping the oldest would throw away messages nobody had
        // logged or inspected, so, as Suricata's own MQTT parser does at its cap, every
        // transaction stays until it is logged, and those past the cap say so.
        record.events.insert(Event::TooManyTransactions);
    }
    for e in record.events.iter() {
        tx.tx_data.set_event(e.id());
    }
    if cfg.log_anomalies_only && !tx.scored.is_some_and(|s| s.anomaly) {
        tx.tx_data.skip_logging();
    }
    txs.push_back(tx);
}

impl MqttState {
    /// The stream of `dir` ends: events still waiting for a message (a gap, a resync) get their
    /// own transaction instead of vanishing.
    fn flush_pending(&mut self, dir: Direction) {
        let pending = self.session.as_mut().map(|s| s.take_pending(dir));
        if let Some(events) = pending.filter(|e| !e.is_empty()) {
            self.push_events(dir, events);
        }
    }

    /// `dir`'s stream has had its last data (`both`: so has the other direction's): pending
    /// events get a transaction, the connection gets its verdict, and once both directions are
    /// done it stops counting among its client's open connections, in the worker at this packet,
    /// rather than when Suricata's flow manager frees the flow, which happens on another thread
    /// at a time that depends on thread scheduling (and made `src.open`, a model feature, differ
    /// from run to run on the same capture). The verdict comes first: it asks whether the
    /// connection was still open.
    fn stream_ended(&mut self, dir: Direction, now: crate::flow::Micros, both: bool) {
        self.flush_pending(dir);
        self.judge_at_end(dir, now);
        if both {
            if let Some(session) = self.session.as_mut() {
                session.close(Some(plugin::sources()));
            }
        }
    }

    /// At the end of a stream: the connection's verdict as a whole, once. An idle MQTT session
    /// whose client was flagged while it was open raises `idle_connection_of_flagged_client` on
    /// a transaction of its own, in the direction whose stream is ending (so detection still
    /// inspects it).
    fn judge_at_end(&mut self, dir: Direction, now: crate::flow::Micros) {
        let idle = self
            .session
            .as_mut()
            .is_some_and(|s| s.idle_under_flagged_client(Some(plugin::sources()), now));
        if idle {
            let mut events = crate::events::EventSet::default();
            events.insert(Event::IdleConnectionOfFlaggedClient);
            self.push_events(dir, events);
        }
    }

    /// A transaction for flow events left pending when the stream ends (no later message of the
    /// direction came to carry them).
    fn push_events(&mut self, dir: Direction, events: crate::events::EventSet) {
        let mut tx_data = AppLayerTxData::for_direction(dir == Direction::ToServer);
        for e in events.iter() {
            tx_data.set_event(e.id());
        }
        tx_data.skip_logging();
        self.txs.push_back(MqttTx {
            tx_data,
            id: self.next_id,
            record: None,
            scored: None,
            features: None,
            score_text: std::cell::OnceCell::new(),
            charged: 0,
        });
        self.next_id += 1;
    }

    fn index_of(&self, id: u64) -> Option<usize> {
        // Ids are consecutive and the deque is in id order, except where Suricata freed some.
        let front = self.txs.front()?.id;
        let guess = id.checked_sub(front)? as usize;
        match self.txs.get(guess) {
            Some(tx) if tx.id == id => Some(guess),
            _ => self.txs.iter().position(|t| t.id == id),
        }
    }
}

// SAFETY: Suricata passes the flow it holds locked, `input` with `len` readable bytes (or null)
// and `rdir` null or writable, for the call.
unsafe extern "C" fn probe(
    f: *const Flow,
    dir: u8,
    input: *const u8,
    len: u32,
    rdir: *mut u8,
) -> AppProto {
    if input.is_null() || len == 0 {
        return ALPROTO_UNKNOWN;
    }
    let data = std::slice::from_raw_parts(input, len as usize);
    // A flow picked up midstream is oriented by its first packet, which may come from the
    // broker. A message only one side sends tells who is who; Suricata then swaps the flow.
    if !rdir.is_null() {
        let seen = if dir & STREAM_TOSERVER != 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        match only_direction(data[0] >> 4) {
            Some(Direction::ToServer) if seen == Direction::ToClient => *rdir = STREAM_TOSERVER,
            Some(Direction::ToClient) if seen == Direction::ToServer => *rdir = STREAM_TOCLIENT,
            _ => {}
        }
    }
    // This probe runs on the configured MQTT ports only, where a flow picked up midstream may
    // start with any message and a broken CONNECT is an attack the parser must see and flag;
    // other protocols (TLS, HTTP, random bytes) are refused and Suricata gives the flow up; the
    // flow's next packet carries Suricata's protocol-detection event (`packets::probe_refused`).
    match wire::probe_port(data) {
        Probe::Mqtt(_) => plugin::alproto(),
        Probe::NeedMore => ALPROTO_UNKNOWN,
        Probe::NotMqtt => {
            PROBE_REFUSALS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if !f.is_null() {
                super::packets::probe_refused(f);
            }
            ALPROTO_FAILED
        }
    }
}

/// Flow directions on MQTT ports whose data the probe refused as not MQTT
/// (`mqtt_ml.probe_refusals`).
pub static PROBE_REFUSALS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Content detection on any port: a CONNECT starts `10 <len> 00 04 "MQTT"` or `00 06 "MQIsdp"`.
// SAFETY: Suricata passes `input` with `len` readable bytes (or null), for the call.
unsafe extern "C" fn probe_connect_only(
    _f: *const Flow,
    _dir: u8,
    input: *const u8,
    len: u32,
    _rdir: *mut u8,
) -> AppProto {
    if input.is_null() || len == 0 {
        return ALPROTO_UNKNOWN;
    }
    match wire::probe_connect(std::slice::from_raw_parts(input, len as usize)) {
        Probe::Mqtt(_) => plugin::alproto(),
        Probe::NeedMore => ALPROTO_UNKNOWN,
        Probe::NotMqtt => ALPROTO_FAILED,
    }
}

// SAFETY: no pointer is read; the box is freed once, by `state_free`.
unsafe extern "C" fn state_new(_orig: *mut c_void, _proto: AppProto) -> *mut c_void {
    plugin::name_eve_event_type();
    Box::into_raw(Box::<MqttState>::default()) as *mut c_void
}

// SAFETY: `state` is null or a pointer `state_new` made with Box::into_raw, freed exactly once
// here.
unsafe extern "C" fn state_free(state: *mut c_void) {
    if !state.is_null() {
        let mut state = Box::from_raw(state as *mut MqttState);
        if let Some(session) = state.session.as_mut() {
            session.close(Some(plugin::sources()));
        }
    }
}

// SAFETY: `state` is a live `MqttState` from `state_new`; Suricata calls parser callbacks of one
// flow from one thread at a time.
unsafe extern "C" fn tx_free(state: *mut c_void, tx_id: u64) {
    let state = &mut *(state as *mut MqttState);
    if let Some(i) = state.index_of(tx_id) {
        state.txs.remove(i);
    }
    // Idle connections (thousands in a SlowITe attack) should not each keep room for several
    // transactions (about 2 KB) once theirs are logged.
    if state.txs.is_empty() && state.txs.capacity() > 0 {
        state.txs = VecDeque::new();
    }
}

// SAFETY: as `tx_free`; the returned pointer stays valid until `tx_free` removes that transaction,
// and Suricata does not use it after.
unsafe extern "C" fn get_tx(state: *mut c_void, tx_id: u64) -> *mut c_void {
    let state = &mut *(state as *mut MqttState);
    match state.index_of(tx_id) {
        Some(i) => &mut state.txs[i] as *mut MqttTx as *mut c_void,
        None => std::ptr::null_mut(),
    }
}

// SAFETY: as `tx_free`.
unsafe extern "C" fn get_tx_count(state: *mut c_void) -> u64 {
    (*(state as *mut MqttState)).next_id
}

/// A message is complete in both directions as soon as it is parsed.
// SAFETY: no pointer is read.
unsafe extern "C" fn tx_progress(_tx: *mut c_void, _dir: u8) -> c_int {
    1
}

// SAFETY: `tx` is a pointer `get_tx` returned (an `MqttTx` still in its state's deque).
unsafe extern "C" fn get_tx_data(tx: *mut c_void) -> *mut AppLayerTxData {
    &mut (*(tx as *mut MqttTx)).tx_data
}

// SAFETY: as `tx_free`.
unsafe extern "C" fn get_state_data(state: *mut c_void) -> *mut AppLayerStateData {
    &mut (*(state as *mut MqttState)).state_data
}

// SAFETY: `state` is a live `MqttState` owned by this flow, `flow` its flow, `pstate` its parser
// state; the slice's bytes are readable for the call (see `StreamSlice::as_slice`).
unsafe fn parse(
    flow: *mut Flow,
    state: *mut c_void,
    pstate: *mut AppLayerParserState,
    slice: StreamSlice,
    dir: Direction,
) -> AppLayerResult {
    let eof_flag = match dir {
        Direction::ToServer => APP_LAYER_PARSER_EOF_TS,
        Direction::ToClient => APP_LAYER_PARSER_EOF_TC,
    };
    let state = &mut *(state as *mut MqttState);
    let input = slice.as_slice();
    let eof = SCAppLayerParserStateIssetFlag(pstate, eof_flag) > 0;
    // Both directions have had their last data: every message of the connection is parsed.
    let ended = eof
        && SCAppLayerParserStateIssetFlag(pstate, APP_LAYER_PARSER_EOF_TS) > 0
        && SCAppLayerParserStateIssetFlag(pstate, APP_LAYER_PARSER_EOF_TC) > 0;
    if input.is_empty() && !slice.is_gap() && eof {
        state.stream_ended(dir, FlowClock::new(flow).now(), ended);
        return AppLayerResult::ok();
    }
    let MqttState {
        session,
        txs,
        next_id,
        evidence,
        ..
    } = state;
    let session = session.get_or_insert_with(|| {
        let (client, midstream) = flow_origin(flow);
        Session::new(midstream, client)
    });
    let client = session.client();
    if slice.is_gap() {
        session.on_gap(dir);
        return AppLayerResult::ok();
    }
    let mut clock = FlowClock::new(flow);
    // Each record is charged as it is made: while the memory budget is spent, messages past
    // max-msgs-per-segment are dropped and counted whatever their type.
    let budget = plugin::budget();
    session.set_budget(budget);
    let shared = Shared {
        config: plugin::config(),
        sources: Some(plugin::sources()),
    };
    let mut emit = |r: MessageRecord| {
        let charged = tx_bytes(&r);
        budget.charge(charged);
        push_tx(txs, next_id, evidence, client, r, charged);
    };
    let progress = session.parse(dir, input, slice.offset(), shared, &mut clock, &mut emit);
    let progress = match progress {
        // The stream ends inside a message: record what came of it rather than lose it.
        StreamProgress::Incomplete { consumed, .. } if eof => {
            let consumed = (consumed as usize).min(input.len());
            let rest = &input[consumed..];
            let at = slice.offset() + consumed as u64;
            session.finish(dir, rest, at, shared, &mut clock, &mut emit);
            StreamProgress::Done
        }
        p => p,
    };
    budget.refused(session.take_refused());
    if eof {
        state.stream_ended(dir, clock.now(), ended);
    }
    match progress {
        StreamProgress::Done => AppLayerResult::ok(),
        StreamProgress::Incomplete { consumed, needed } => {
            AppLayerResult::incomplete(consumed, needed)
        }
    }
}

// SAFETY: see `parse`.
unsafe extern "C" fn parse_ts(
    flow: *mut Flow,
    state: *mut c_void,
    pstate: *mut AppLayerParserState,
    slice: StreamSlice,
    _data: *const c_void,
) -> AppLayerResult {
    parse(flow, state, pstate, slice, Direction::ToServer)
}

// SAFETY: see `parse`.
unsafe extern "C" fn parse_tc(
    flow: *mut Flow,
    state: *mut c_void,
    pstate: *mut AppLayerParserState,
    slice: StreamSlice,
    _data: *const c_void,
) -> AppLayerResult {
    parse(flow, state, pstate, slice, Direction::ToClient)
}

/// C strings of the event names, indexed by event id (Suricata keeps the pointers).
fn event_names() -> &'static Vec<Option<CString>> {
    static NAMES: OnceLock<Vec<Option<CString>>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut v = vec![None; 64];
        for e in Event::all() {
            v[usize::from(e.id())] = CString::new(e.name()).ok();
        }
        v
    })
}

// SAFETY: `name` is null or a NUL-terminated string, `id` and `ty` writable, for the call.
unsafe extern "C" fn event_info(name: *const c_char, id: *mut u8, ty: *mut c_int) -> c_int {
    if name.is_null() {
        return -1;
    }
    let Some(e) = CStr::from_ptr(name)
        .to_str()
        .ok()
        .and_then(Event::from_name)
    else {
        return -1;
    };
    *id = e.id();
    *ty = APP_LAYER_EVENT_TYPE_TRANSACTION;
    0
}

// SAFETY: `name` and `ty` are writable; the name written points into a static that lives as long as
// the process.
unsafe extern "C" fn event_info_by_id(id: u8, name: *mut *const c_char, ty: *mut c_int) -> c_int {
    match event_names().get(usize::from(id)).and_then(|n| n.as_ref()) {
        Some(n) => {
            *name = n.as_ptr();
            *ty = APP_LAYER_EVENT_TYPE_TRANSACTION;
            0
        }
        None => -1,
    }
}

fn parser_definition() -> RustParser {
    RustParser {
        name: PROTO_NAME.as_ptr(),
        default_port: c"1883".as_ptr(),
        ipproto: IPPROTO_TCP,
        probe_ts: Some(probe),
        probe_tc: Some(probe),
        min_depth: 0,
        max_depth: 16,
        state_new,
        state_free,
        parse_ts,
        parse_tc,
        get_tx_count,
        get_tx,
        tx_free,
        tx_comp_st_ts: 1,
        tx_comp_st_tc: 1,
        tx_get_progress: tx_progress,
        get_eventinfo: Some(event_info),
        get_eventinfo_byid: Some(event_info_by_id),
        localstorage_new: None,
        localstorage_free: None,
        get_tx_files: None,
        get_tx_iterator: None,
        get_state_data,
        get_tx_data,
        apply_tx_config: None,
        flags: APP_LAYER_PARSER_OPT_ACCEPT_GAPS,
        get_frame_id_by_name: None,
        get_frame_name_by_id: None,
        get_state_id_by_name: None,
        get_state_name_by_id: None,
    }
}

/// Registers detection and parsing; called by Suricata during app-layer setup.
// SAFETY: called once by Suricata during app-layer setup, single-threaded; every string passed is
// static.
pub unsafe extern "C" fn register() {
    let tcp = c"tcp".as_ptr();
    if SCAppLayerProtoDetectConfProtoDetectionEnabled(tcp, PROTO_NAME.as_ptr()) == 0 {
        sclog(
            super::log::LOG_CONFIG,
            "protocol detection disabled in suricata.yaml (app-layer.protocols.mqtt-ml.enabled)",
        );
        return;
    }
    // Suricata copies the definition's fields; the strings it points to are static.
    let definition = parser_definition();
    let parser = &definition;
    let alproto = AppLayerRegisterProtocolDetection(parser, 1);
    plugin::set_alproto(alproto);
    super::packets::follow_detection_ports(alproto);
    for pattern in [c"|00 04|MQTT", c"|00 06|MQIsdp"] {
        // After the CONNECT type byte and a 1-4 byte remaining length.
        if SCAppLayerProtoDetectPMRegisterPatternCSwPP(
            IPPROTO_TCP,
            alproto,
            pattern.as_ptr(),
            13,
            2,
            STREAM_TOSERVER,
            Some(probe_connect_only),
            0,
            16,
        ) < 0
        {
            sclog(
                LOG_ERROR,
                "could not register content-based protocol detection",
            );
        }
    }
    // Rules written for Suricata's MQTT (`alert mqtt ...`) bind to this protocol.
    AppLayerRegisterParserAlias(PROTO_NAME.as_ptr(), c"mqtt".as_ptr());
    if SCAppLayerParserConfParserEnabled(tcp, PROTO_NAME.as_ptr()) != 0 {
        AppLayerRegisterParser(parser, alproto);
        // MQTT connections live for days: parse all of them unless configured otherwise.
        SCAppLayerParserSetStreamDepth(IPPROTO_TCP, alproto, plugin::config().stream_depth);
        SCAppLayerParserRegisterLogger(IPPROTO_TCP, alproto);
    }
}
