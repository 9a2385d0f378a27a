//! Packet facts from the shim's flow update callback, kept in flow storage, and the `Clock` the
//! session reads them through.
use std::os::raw::c_void;

use super::ffi::{self, Flow, PacketFactsC, ALPROTO_UNKNOWN};
use super::plugin;
use crate::flow::{Clock, Direction, Micros, PacketFacts, PacketLog};

fn micros(secs: u64, usecs: u64) -> Micros {
    secs.saturating_mul(1_000_000).saturating_add(usecs)
}

/// The flow's packet log, created on first use.
///
/// # Safety
/// `f` is a live flow that the calling thread holds (Suricata locks a flow while its packets and
/// app-layer data are processed), so no other reference to its storage exists meanwhile.
unsafe fn packet_log<'a>(f: *mut Flow, create: bool) -> Option<&'a mut PacketLog> {
    let p = ffi::mqtt_ml_flow_data_get(f) as *mut PacketLog;
    if !p.is_null() {
        return Some(&mut *p);
    }
    if !create {
        return None;
    }
    // Charged to the memory budget (its queues grow only with the budget's room), released when
    // the flow goes.
    let log = PacketLog::new(plugin::config().packet_log_size).with_budget(plugin::budget());
    let log = Box::into_raw(Box::new(log));
    if ffi::mqtt_ml_flow_data_set(f, log as *mut c_void) != 0 {
        drop(Box::from_raw(log));
        return None;
    }
    Some(&mut *log)
}

/// Called by the shim for every TCP packet of every flow, before stream and app-layer handling.
// SAFETY: the shim passes the packet's live flow (or null) and facts on its stack (or null), for
// the call; flow storage is only touched through the shim for this flow, on its worker thread.
#[no_mangle]
pub unsafe extern "C" fn mqtt_ml_on_packet(f: *mut Flow, facts: *const PacketFactsC) {
    if f.is_null() || facts.is_null() {
        return;
    }
    let facts = &*facts;
    let ours = plugin::alproto();
    if facts.alproto != ALPROTO_UNKNOWN && facts.alproto != ours {
        // Another protocol: nothing to time, and no need to keep memory for it.
        let p = ffi::mqtt_ml_flow_data_get(f) as *mut PacketLog;
        if !p.is_null() && ffi::mqtt_ml_flow_data_set(f, std::ptr::null_mut()) == 0 {
            drop(Box::from_raw(p));
        }
        return;
    }
    if let Some(log) = packet_log(f, true) {
        let dir = if facts.to_server != 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        log.record(
            dir,
            PacketFacts {
                ts: micros(facts.ts_secs, u64::from(facts.ts_usecs)),
                seq: facts.seq,
                payload_len: facts.payload_len,
                tcp_flags: facts.tcp_flags,
            },
        );
    }
}

/// Flow storage destructor, called by the shim when Suricata frees the flow.
// SAFETY: `data` is null or the `PacketLog` box this module stored in flow storage; Suricata calls
// this once when it frees the flow.
#[no_mangle]
pub unsafe extern "C" fn mqtt_ml_flow_data_free(data: *mut c_void) {
    if !data.is_null() {
        drop(Box::from_raw(data as *mut PacketLog));
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
            packet_log(self.flow, false)?.carrier(dir, base, offset)
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
