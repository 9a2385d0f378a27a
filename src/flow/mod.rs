//! Per-flow and per-source state, pure Rust: which packet carried each message, the flow's timing
//! and counters, and a bounded per-client-IP table. The Suricata glue feeds it plain values.

pub mod aliases;
pub mod budget;
pub mod context;
pub mod packets;
pub mod session;
pub mod sources;
pub mod stats;
pub mod stream;

pub use budget::Budget;
pub use context::MessageContext;
pub use packets::{PacketFacts, PacketLog};
pub use session::{only_direction, Clock, MessageRecord, Session, Shared};
pub use sources::{SharedSourceTable, SourceCounts, SourceTable};
pub use stats::FlowStats;
pub use stream::{DirectionStream, StreamEvent, StreamItem, StreamProgress};

/// Which way a message travels, relative to the client that opened the TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    ToServer,
    ToClient,
}

impl Direction {
    pub fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ToServer => "to_server",
            Direction::ToClient => "to_client",
        }
    }
}

/// Microseconds since the Unix epoch: capture timestamps, as Suricata keeps them.
pub type Micros = u64;

/// Seconds between two capture times, never negative (pcaps from several hosts may step back).
pub fn seconds_between(earlier: Micros, later: Micros) -> f64 {
    later.saturating_sub(earlier) as f64 / 1e6
}
