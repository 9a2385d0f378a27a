//! Packet facts from the shim's flow update callback, kept in flow storage, and the `Clock` the
//! session reads them through; and the protocol-detection event for flows the port probe refused.
use std::os::raw::{c_int, c_void};

use super::ffi::{self, Flow, PacketFactsC, ALPROTO_FAILED, ALPROTO_UNKNOWN};
use super::plugin;
use crate::flow::{Clock, Direction, Micros, PacketFacts, PacketLog};

fn micros(secs: u64, usecs: u64) -> Micros {
    secs.saturating_mul(1_000_000).saturating_add(usecs)
}

/// What the plugin keeps in a flow's storage.
struct FlowData {
    log: PacketLog,
    probe: ProbeVerdict,
}

/// What the port probe said about the flow, as far as the protocol-detection event goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ProbeVerdict {
    /// Nothing refused.
    None,
    /// Data refused as not MQTT; the event is raised on the flow's next packet.
    Refused,
    /// The event was raised (once per flow).
    Reported,
}

/// The flow's data, created on first use.
///
/// # Safety
/// `f` is a live flow that the calling thread holds (Suricata locks a flow while its packets and
/// app-layer data are processed, probes included), so no other reference to its storage exists
/// meanwhile.
unsafe fn flow_data<'a>(f: *mut Flow, create: bool) -> Option<&'a mut FlowData> {
    let p = ffi::mqtt_ml_flow_data_get(f) as *mut FlowData;
    if !p.is_null() {
        return Some(&mut *p);
    }
    if !create {
        return None;
    }
    // The packet log is charged to the memory budget (its queues grow only with the budget's
    // room) and released when the flow goes.
    let data = FlowData {
        log: PacketLog::new(plugin::config().packet_log_size).with_budget(plugin::budget()),
        probe: ProbeVerdict::None,
    };
    let data = Box::into_raw(Box::new(data));
    if ffi::mqtt_ml_flow_data_set(f, data as *mut c_void) != 0 {
        drop(Box::from_raw(data));
        return None;
    }
    Some(&mut *data)
}

/// The port probe refused this flow's data as not MQTT: the flow's next packet carries the
/// protocol-detection event, unless another protocol has been recognised by then.
///
/// # Safety
/// As `flow_data`: `f` is the live flow the probe was called for, locked by the calling thread.
pub unsafe fn probe_refused(f: *const Flow) {
    // Flow storage is the plugin's own slot; writing it does not touch the flow's other fields.
    if let Some(d) = flow_data(f as *mut Flow, true) {
        if d.probe == ProbeVerdict::None {
            d.probe = ProbeVerdict::Refused;
        }
    }
}

/// Called by the shim for every TCP packet of every followed flow, before stream and app-layer
/// handling. Returns 1 when the shim is to set Suricata's protocol-detection event
/// (`APPLAYER_PROTO_DETECTION_SKIPPED`) on this packet: the port probe refused the flow's data and
/// no protocol has been recognised since.
// SAFETY: the shim passes the packet's live flow (or null) and facts on its stack (or null), for
// the call; flow storage is only touched through the shim for this flow, on its worker thread.
#[no_mangle]
pub unsafe extern "C" fn mqtt_ml_on_packet(f: *mut Flow, facts: *const PacketFactsC) -> c_int {
    if f.is_null() || facts.is_null() {
        return 0;
    }
    let facts = &*facts;
    let ours = plugin::alproto();
    let unrecognised = facts.alproto == ALPROTO_UNKNOWN || facts.alproto == ALPROTO_FAILED;
    let mut raise = 0;
    if let Some(d) = flow_data(f, false) {
        if d.probe == ProbeVerdict::Refused && unrecognised {
            d.probe = ProbeVerdict::Reported;
            raise = 1;
        }
    }
    if facts.alproto != ALPROTO_UNKNOWN && facts.alproto != ours {
        // Another protocol, or none (given up): nothing to time, and no need to keep memory.
        let p = ffi::mqtt_ml_flow_data_get(f) as *mut FlowData;
        if !p.is_null() && ffi::mqtt_ml_flow_data_set(f, std::ptr::null_mut()) == 0 {
            drop(Box::from_raw(p));
        }
        return raise;
    }
    if let Some(d) = flow_data(f, true) {
        let dir = if facts.to_server != 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        d.log.record(
            dir,
            PacketFacts {
                ts: micros(facts.ts_secs, u64::from(facts.ts_usecs)),
                seq: facts.seq,
                payload_len: facts.payload_len,
                tcp_flags: facts.tcp_flags,
            },
        );
    }
    raise
}

/// Flow storage destructor, called by the shim when Suricata frees the flow.
// SAFETY: `data` is null or the `FlowData` box this module stored in flow storage; Suricata calls
// this once when it frees the flow.
#[no_mangle]
pub unsafe extern "C" fn mqtt_ml_flow_data_free(data: *mut c_void) {
    if !data.is_null() {
        drop(Box::from_raw(data as *mut FlowData));
    }
}

/// Packet facts of one flow, for the duration of one parser call.
pub struct FlowClock {
    flow: *mut Flow,
}

impl FlowClock {
    /// # Safety
    /// `flow` is the live, locked flow of the current parser call.
    pub unsafe fn new(flow: *mut Flow) -> Self {
        FlowClock { flow }
    }
}

impl Clock for FlowClock {
    fn carrier(&mut self, dir: Direction, offset: u64) -> Option<PacketFacts> {
        let mut base = 0u32;
        // SAFETY: see `FlowClock::new`.
        unsafe {
            let to_server = i32::from(dir == Direction::ToServer);
            if ffi::mqtt_ml_flow_base_seq(self.flow, to_server, &mut base) == 0 {
                return None;
            }
            flow_data(self.flow, false)?.log.carrier(dir, base, offset)
        }
    }

    fn now(&self) -> Micros {
        let (mut s, mut us) = (0u64, 0u64);
        // SAFETY: see `FlowClock::new`.
        unsafe { ffi::FlowGetLastTimeAsParts(self.flow, &mut s, &mut us) };
        micros(s, us)
    }

    fn flow_start(&self) -> Micros {
        let (mut s, mut us) = (0u64, 0u32);
        // SAFETY: see `FlowClock::new`.
        unsafe { ffi::mqtt_ml_flow_start_time(self.flow, &mut s, &mut us) };
        micros(s, u64::from(us))
    }
}

/// The flow's client address and whether it was picked up midstream.
///
/// # Safety
/// `flow` is a live flow.
pub unsafe fn flow_origin(flow: *const Flow) -> (Option<std::net::IpAddr>, bool) {
    let mut buf = [0u8; 16];
    let addr = match ffi::mqtt_ml_flow_client_addr(flow, buf.as_mut_ptr()) {
        4 => Some(std::net::IpAddr::from([buf[0], buf[1], buf[2], buf[3]])),
        6 => Some(std::net::IpAddr::from(buf)),
        _ => None,
    };
    (addr, ffi::mqtt_ml_flow_is_midstream(flow) != 0)
}

/// Tells the shim which flows to follow before detection is done: this protocol's id and its
/// detection ports (`detection-ports.dp`/`.sp`, else the default 1883). A port list the shim
/// cannot read (`any`, negations, variables) leaves it following every TCP flow, as before.
pub fn follow_detection_ports(alproto: super::ffi::AppProto) {
    let key = |k: &str| {
        super::conf::get_value(&format!("{}.detection-ports.{k}", crate::config::SECTION))
    };
    let specs: Vec<String> = [key("dp"), key("sp")].into_iter().flatten().collect();
    let specs = if specs.is_empty() {
        vec!["1883".to_owned()]
    } else {
        specs
    };
    let mut ports = Vec::new();
    for s in &specs {
        match crate::config::parse_port_list(s) {
            Some(p) => ports.extend(p),
            None => return,
        }
    }
    // SAFETY: plain setters of the shim's static tables, called during single-threaded setup.
    unsafe {
        ffi::mqtt_ml_shim_set_alproto(alproto);
        for (lo, hi) in ports {
            for p in lo..=hi {
                ffi::mqtt_ml_shim_watch_port(p);
            }
        }
    }
}
