//! Per-flow timing and counters, updated once per parsed message.
use super::budget::{queue_bytes, room_for_one, Budget, Held, Room};
use super::{seconds_between, Direction, Micros};

/// What the counters need to know about a message (a small view of `wire::Message`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageFacts {
    pub msg_type: u8,
    pub qos: u8,
    pub dup: bool,
    /// CONNACK return code (3.x) or reason code (5.0).
    pub connack_code: Option<u8>,
    /// Bytes on the wire (fixed header included).
    pub wire_len: u32,
}

/// Time constant of the connection's recent message and byte rates, seconds: long enough that a
/// sustained flood stands out, short enough that one burst of events fades within a minute.
pub const RATE_TAU_SECS: f64 = 10.0;
/// Start times of incomplete QoS 2 exchanges kept per connection (the count goes on beyond it).
const QOS2_TIMES: usize = 64;

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
    /// Seconds the oldest incomplete QoS 2 exchange has been waiting (0 when none).
    pub qos2_pending_age: f64,
    /// Messages per second on the connection, exponentially decayed (`RATE_TAU_SECS`).
    pub msg_rate: f64,
    /// Bytes per second on the connection, decayed the same way.
    pub byte_rate: f64,
}

/// An exponentially decayed event count: `value / tau` is a rate that follows bursts and forgets
/// them, in constant memory.
#[derive(Clone, Copy, Debug, Default)]
struct Decayed {
    value: f64,
    at: Option<Micros>,
}

impl Decayed {
    fn add(&mut self, amount: f64, ts: Micros, tau_secs: f64) -> f64 {
        // Out-of-order times (the two directions interleave) decay nothing.
        let dt = self.at.map_or(0.0, |at| seconds_between(at, ts));
        self.value = self.value * (-dt / tau_secs).exp() + amount;
        self.at = Some(self.at.map_or(ts, |at| at.max(ts)));
        self.value
    }
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
    /// Start times of the oldest incomplete QoS 2 exchanges, oldest first (at most
    /// `QOS2_TIMES`, and only as many as the memory budget has room for: past it the count stays
    /// exact and the age counts from the oldest start time held).
    qos2_started: std::collections::VecDeque<Micros>,
    msgs: Decayed,
    bytes: Decayed,
    /// The start times' buffer, under the plugin's memory budget.
    held: Held,
}

impl FlowStats {
    pub fn new() -> Self {
        Self::default()
    }

    /// Charges what the counters hold (the QoS 2 start times) to `budget`.
    pub fn set_budget(&mut self, budget: &'static Budget) {
        self.held.attach(budget);
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
            if crate::wire::is_auth_refusal(code) {
                self.failed_auth += 1;
            }
        }
        match m.msg_type {
            PUBLISH if m.qos == 2 && !m.dup => {
                self.pending_qos2 += 1;
                if room_for_one(&mut self.qos2_started, QOS2_TIMES, &self.held) == Room::Free {
                    self.qos2_started.push_back(ts);
                    self.held.settle(queue_bytes(&self.qos2_started));
                }
            }
            PUBCOMP => {
                self.pending_qos2 = self.pending_qos2.saturating_sub(1);
                // Exchanges mostly complete in order; the count stays exact either way.
                if self.qos2_started.len() as u64 > self.pending_qos2 {
                    self.qos2_started.pop_front();
                }
            }
            _ => {}
        }
        let msg_rate = self.msgs.add(1.0, ts, RATE_TAU_SECS) / RATE_TAU_SECS;
        let byte_rate = self.bytes.add(f64::from(m.wire_len), ts, RATE_TAU_SECS) / RATE_TAU_SECS;
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
            qos2_pending_age: self
                .qos2_started
                .front()
                .map_or(0.0, |&t| seconds_between(t, ts)),
            msg_rate,
            byte_rate,
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
    fn recent_rates_follow_bursts_and_fade() {
        let mut s = FlowStats::new();
        let m = MessageFacts {
            msg_type: PUBLISH,
            wire_len: 100,
            ..Default::default()
        };
        let mut last = FlowSnapshot::default();
        // 1,000 messages within one second: about 100 messages/s over a 10 s time constant.
        for i in 0..1000 {
            last = s.observe(Direction::ToServer, m, 1_000_000 + i * 1000, 0);
        }
        assert!(
            last.msg_rate > 90.0 && last.msg_rate <= 100.0,
            "{}",
            last.msg_rate
        );
        assert!((last.byte_rate / last.msg_rate - 100.0).abs() < 1e-6);
        // Two minutes of silence later, the burst has faded.
        let later = s.observe(Direction::ToServer, m, 121_000_000, 0);
        assert!(later.msg_rate < 0.2, "{}", later.msg_rate);
    }

    #[test]
    fn qos2_pending_age_is_the_oldest_open_exchange() {
        let mut s = FlowStats::new();
        let publish = MessageFacts {
            msg_type: PUBLISH,
            qos: 2,
            ..Default::default()
        };
        assert_eq!(
            s.observe(Direction::ToServer, publish, 0, 0)
                .qos2_pending_age,
            0.0
        );
        s.observe(Direction::ToServer, publish, 1_000_000, 0);
        let a = s.observe(Direction::ToServer, facts(2), 3_000_000, 0);
        assert_eq!((a.pending_qos2, a.qos2_pending_age), (2, 3.0));
        let b = s.observe(Direction::ToClient, facts(PUBCOMP), 4_000_000, 0);
        assert_eq!((b.pending_qos2, b.qos2_pending_age), (1, 3.0));
        let c = s.observe(Direction::ToClient, facts(PUBCOMP), 5_000_000, 0);
        assert_eq!((c.pending_qos2, c.qos2_pending_age), (0, 0.0));
    }

    /// The QoS 2 start times are charged to the memory budget, at most `QOS2_TIMES` of them; with
    /// the budget spent none is added, the count stays exact and the age comes from what is held.
    #[test]
    fn qos2_start_times_under_the_memory_budget() {
        static B: Budget = Budget::new();
        let publish = MessageFacts {
            msg_type: PUBLISH,
            qos: 2,
            ..Default::default()
        };
        {
            let mut s = FlowStats::new();
            s.set_budget(&B);
            for t in 0..200 {
                s.observe(Direction::ToServer, publish, t, 0);
            }
            assert_eq!(B.used(), QOS2_TIMES * 8, "64 start times, no more");
            B.set_cap(B.used());
            let mut spent = FlowStats::new();
            spent.set_budget(&B);
            spent.observe(Direction::ToServer, publish, 1_000_000, 0);
            let a = spent.observe(Direction::ToServer, publish, 3_000_000, 0);
            assert_eq!((a.pending_qos2, a.qos2_pending_age), (2, 0.0));
            assert_eq!((B.used(), B.refusals()), (QOS2_TIMES * 8, 2));
        }
        assert_eq!(B.used(), 0, "released with the flow");
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
