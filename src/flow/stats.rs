//! Per-flow timing and counters, updated once per parsed message.
use super::{seconds_between, Direction, Micros};

/// What the counters need to know about a message (a small view of `wire::Message`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageFacts {
    pub msg_type: u8,
    pub qos: u8,
    pub dup: bool,
    /// CONNACK return code (3.x) or reason code (5.0).
    pub connack_code: Option<u8>,
}

pub const CONNECT: u8 = 1;
pub const PUBLISH: u8 = 3;
pub const PUBCOMP: u8 = 7;

/// The flow's state after a message: what EVE and the feature vector read.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FlowSnapshot {
    pub time_delta: f64,
    pub time_relative: f64,
    pub duration: f64,
    pub msg_index: u64,
    pub msg_count_ts: u64,
    pub msg_count_tc: u64,
    pub connacks: u64,
    pub failed_auth: u64,
    pub failed_auth_rate: f64,
    pub pending_qos2: u64,
}

#[derive(Debug, Default)]
pub struct FlowStats {
    first_msg: Option<Micros>,
    prev_msg: Option<Micros>,
    msg_count: u64,
    per_direction: [u64; 2],
    connacks: u64,
    failed_auth: u64,
    pending_qos2: u64,
}

impl FlowStats {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn msg_count(&self) -> u64 {
        self.msg_count
    }

    pub fn msg_count_in(&self, dir: Direction) -> u64 {
        self.per_direction[dir.index()]
    }

    /// Counts a message carried at time `ts` on a flow that started at `flow_start`.
    pub fn observe(
        &mut self,
        dir: Direction,
        m: MessageFacts,
        ts: Micros,
        flow_start: Micros,
    ) -> FlowSnapshot {
        let first = *self.first_msg.get_or_insert(ts);
        let time_delta = self.prev_msg.map_or(0.0, |prev| seconds_between(prev, ts));
        // Messages are parsed in stream order but two directions interleave: keep the latest.
        self.prev_msg = Some(self.prev_msg.map_or(ts, |p| p.max(ts)));
        self.msg_count += 1;
        self.per_direction[dir.index()] += 1;
        if let Some(code) = m.connack_code {
            self.connacks += 1;
            if code != 0 {
                self.failed_auth += 1;
            }
        }
        match m.msg_type {
            PUBLISH if m.qos == 2 && !m.dup => self.pending_qos2 += 1,
            PUBCOMP => self.pending_qos2 = self.pending_qos2.saturating_sub(1),
            _ => {}
        }
        FlowSnapshot {
            time_delta,
            time_relative: seconds_between(first, ts),
            duration: seconds_between(flow_start, ts),
            msg_index: self.msg_count,
            msg_count_ts: self.per_direction[0],
            msg_count_tc: self.per_direction[1],
            connacks: self.connacks,
            failed_auth: self.failed_auth,
            failed_auth_rate: if self.connacks == 0 {
                0.0
            } else {
                self.failed_auth as f64 / self.connacks as f64
            },
            pending_qos2: self.pending_qos2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(msg_type: u8) -> MessageFacts {
        MessageFacts {
            msg_type,
            ..Default::default()
        }
    }

    #[test]
    fn timing_counts_and_directions() {
        let mut s = FlowStats::new();
        let a = s.observe(Direction::ToServer, facts(CONNECT), 1_000_000, 500_000);
        assert_eq!((a.time_delta, a.time_relative, a.duration), (0.0, 0.0, 0.5));
        let b = s.observe(
            Direction::ToClient,
            MessageFacts {
                msg_type: 2,
                connack_code: Some(5),
                ..Default::default()
            },
            1_250_000,
            500_000,
        );
        assert_eq!(b.time_delta, 0.25);
        assert_eq!(b.time_relative, 0.25);
        assert_eq!((b.msg_index, b.msg_count_ts, b.msg_count_tc), (2, 1, 1));
        assert_eq!((b.connacks, b.failed_auth, b.failed_auth_rate), (1, 1, 1.0));
        let c = s.observe(
            Direction::ToClient,
            MessageFacts {
                msg_type: 2,
                connack_code: Some(0),
                ..Default::default()
            },
            1_250_000,
            500_000,
        );
        assert_eq!(c.failed_auth_rate, 0.5);
    }

    #[test]
    fn time_going_backwards_is_zero_not_negative() {
        let mut s = FlowStats::new();
        s.observe(Direction::ToServer, facts(CONNECT), 2_000_000, 0);
        let b = s.observe(Direction::ToClient, facts(2), 1_000_000, 0);
        assert_eq!(b.time_delta, 0.0);
        assert_eq!(b.time_relative, 0.0);
    }

    #[test]
    fn qos2_handshakes_pending_until_pubcomp() {
        let mut s = FlowStats::new();
        let publish = MessageFacts {
            msg_type: PUBLISH,
            qos: 2,
            ..Default::default()
        };
        s.observe(Direction::ToServer, publish, 1, 0);
        let dup = MessageFacts {
            dup: true,
            ..publish
        };
        assert_eq!(s.observe(Direction::ToServer, dup, 2, 0).pending_qos2, 1);
        assert_eq!(
            s.observe(Direction::ToClient, facts(PUBCOMP), 3, 0)
                .pending_qos2,
            0
        );
        assert_eq!(
            s.observe(Direction::ToClient, facts(PUBCOMP), 4, 0)
                .pending_qos2,
            0
        );
    }
}
