//! Everything known about a message beyond its own bytes: the packet that carried it, the flow's
//! state after it, and its client's recent history. Stored on the transaction; read by EVE and
//! by the feature vector.
use super::sources::SourceCounts;
use super::stats::FlowSnapshot;
use super::{Direction, Micros};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MessageContext {
    pub direction: Direction,
    /// Capture time of the carrying segment (or of the last packet seen, see `timed_by_packet`).
    pub ts: Micros,
    /// False when the carrying segment was not found (e.g. dropped from a full packet log), in
    /// which case `ts`, `tcp_flags` and `tcp_len` describe the flow's latest packet instead.
    pub timed_by_packet: bool,
    pub tcp_flags: u8,
    pub tcp_len: u16,
    pub flow: FlowSnapshot,
    pub source: SourceCounts,
}

impl MessageContext {
    pub fn ts_seconds(&self) -> f64 {
        self.ts as f64 / 1e6
    }

    pub fn direction(&self) -> Direction {
        self.direction
    }
}
