//! Which TCP segment carried a message.
//!
//! Suricata parses a direction's data when the other side ACKs it, so "now" at parse time is the
//! ACK's time. The flow update callback records every data segment (time, flags, payload length,
//! sequence number) here first; when a message is parsed, the segment holding its last byte (the
//! frame in which Wireshark dissects it) is looked up by stream offset. Bounded per direction:
//! segments are dropped once parsing has passed them, and the oldest go first when a direction
//! runs ahead of parsing by more than `capacity` segments.
//!
//! The log is charged to the plugin's memory budget (its struct and its queues' buffers). A queue
//! grows only with the budget's room: when the budget is spent, a direction keeps the segments it
//! already has room for, the oldest making way for each new one (the newest segment, the one most
//! likely to carry the next message's last byte, is always kept), and a direction with no room at
//! all keeps none. A message whose segment is not held is timed by the flow's latest packet
//! (`timed_by_packet: false`): coarser timing, never a lost message.
use std::collections::VecDeque;

use super::budget::{queue_bytes, room_for_one, Budget, Held, Room};
use super::{Direction, Micros};

/// One TCP segment, as the packet callback saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketFacts {
    pub ts: Micros,
    pub seq: u32,
    pub payload_len: u16,
    pub tcp_flags: u8,
}

#[derive(Debug)]
pub struct PacketLog {
    segments: [VecDeque<PacketFacts>; 2],
    capacity: usize,
    /// Time of the most recent packet of either direction: the fallback when no segment matches.
    last_ts: Micros,
    /// Segments forgotten unparsed because a direction ran too far ahead of the parser, or not
    /// kept because the memory budget was spent.
    pub dropped: u64,
    held: Held,
}

/// The default number of unparsed segments kept per direction.
pub const DEFAULT_SEGMENT_CAPACITY: usize = 256;

impl PacketLog {
    pub fn new(capacity: usize) -> Self {
        PacketLog {
            segments: [VecDeque::new(), VecDeque::new()],
            capacity: capacity.max(1),
            last_ts: 0,
            dropped: 0,
            held: Held::default(),
        }
    }

    /// Charges the log to `budget`; from then on its queues grow only with the budget's room.
    pub fn with_budget(mut self, budget: &'static Budget) -> Self {
        self.held.attach(budget);
        self.settle();
        self
    }

    /// Bytes the log holds: its struct and its queues' buffers.
    pub fn bytes(&self) -> usize {
        self.held.bytes()
    }

    fn settle(&mut self) {
        let now =
            std::mem::size_of::<Self>() + self.segments.iter().map(queue_bytes).sum::<usize>();
        self.held.settle(now);
    }

    pub fn last_ts(&self) -> Micros {
        self.last_ts
    }

    /// Records a packet. Only segments with payload can carry a message; a retransmission of a
    /// segment already held keeps the original (first) capture time.
    pub fn record(&mut self, dir: Direction, p: PacketFacts) {
        self.last_ts = self.last_ts.max(p.ts);
        if p.payload_len == 0 {
            return;
        }
        let q = &mut self.segments[dir.index()];
        if q.iter()
            .rev()
            .take(8)
            .any(|s| s.seq == p.seq && s.payload_len >= p.payload_len)
        {
            return;
        }
        match room_for_one(q, self.capacity, &self.held) {
            Room::Free => {}
            Room::Full | Room::Refused if !q.is_empty() => {
                q.pop_front();
                self.dropped += 1;
            }
            // No room at all: messages of this direction are timed by the latest packet until
            // the budget has room again.
            Room::Full | Room::Refused => {
                self.dropped += 1;
                return;
            }
        }
        q.push_back(p);
        self.settle();
    }

    /// The segment holding stream byte `offset` of a direction whose first payload byte has
    /// sequence number `base_seq`. Segments wholly before `offset` are forgotten: messages are
    /// parsed in stream order, so no later message can need them.
    pub fn carrier(&mut self, dir: Direction, base_seq: u32, offset: u64) -> Option<PacketFacts> {
        let q = &mut self.segments[dir.index()];
        // Sequence space is 32 bits: compare offsets modulo 2^32, which is exact for any segment
        // within 2 GiB of the message.
        let target = (offset as u32).wrapping_add(base_seq);
        let before = |s: &PacketFacts| {
            let end = s.seq.wrapping_add(u32::from(s.payload_len));
            (target.wrapping_sub(end) as i32) >= 0
        };
        while q.front().is_some_and(before) {
            q.pop_front();
        }
        let found = q
            .iter()
            .find(|s| target.wrapping_sub(s.seq) < u32::from(s.payload_len))
            .copied();
        // A direction that ran far ahead once (a message sent in many small segments) gives the
        // room back once parsing has caught up.
        if q.capacity() > 64 && q.len() < q.capacity() / 4 {
            q.shrink_to(q.len() * 2);
            self.settle();
        }
        found
    }

    pub fn pending(&self, dir: Direction) -> usize {
        self.segments[dir.index()].len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(ts: Micros, seq: u32, len: u16) -> PacketFacts {
        PacketFacts {
            ts,
            seq,
            payload_len: len,
            tcp_flags: 0x18,
        }
    }

    #[test]
    fn finds_the_segment_holding_the_last_byte() {
        let mut log = PacketLog::new(16);
        log.record(Direction::ToServer, seg(10, 1001, 100));
        log.record(Direction::ToServer, seg(20, 1101, 50));
        // Message spanning both segments, last byte at offset 120: second segment.
        assert_eq!(log.carrier(Direction::ToServer, 1001, 120).unwrap().ts, 20);
        // The first segment is now behind the parser and gone.
        assert_eq!(log.pending(Direction::ToServer), 1);
        assert!(log.carrier(Direction::ToServer, 1001, 150).is_none());
    }

    /// tests/reference/quirks.py names this test: when the segment holding a message's last
    /// byte arrives before an earlier segment of the message (out of order), it is still the
    /// carrier, although Wireshark shows the message in the later frame that completed it.
    #[test]
    fn out_of_order_segments_the_last_byte_is_carried_by_its_own() {
        let mut log = PacketLog::new(16);
        log.record(Direction::ToServer, seg(10, 1001, 100));
        // Bytes 150-159 (the message's end) arrive at 20, the gap 100-149 only at 30.
        log.record(Direction::ToServer, seg(20, 1151, 10));
        log.record(Direction::ToServer, seg(30, 1101, 50));
        let c = log.carrier(Direction::ToServer, 1001, 159).unwrap();
        assert_eq!((c.ts, c.payload_len), (20, 10));
        // A message ending inside the gap is carried by the segment that filled it.
        let mut log = PacketLog::new(16);
        log.record(Direction::ToServer, seg(20, 1151, 10));
        log.record(Direction::ToServer, seg(30, 1101, 50));
        assert_eq!(log.carrier(Direction::ToServer, 1001, 120).unwrap().ts, 30);
    }

    #[test]
    fn directions_are_separate_and_empty_segments_ignored() {
        let mut log = PacketLog::new(16);
        log.record(Direction::ToClient, seg(5, 7, 0));
        log.record(Direction::ToClient, seg(6, 7, 4));
        assert!(log.carrier(Direction::ToServer, 7, 0).is_none());
        assert_eq!(log.carrier(Direction::ToClient, 7, 3).unwrap().ts, 6);
        assert_eq!(log.last_ts(), 6);
    }

    #[test]
    fn retransmission_keeps_the_original_time() {
        let mut log = PacketLog::new(16);
        log.record(Direction::ToServer, seg(1, 100, 10));
        log.record(Direction::ToServer, seg(9, 100, 10));
        assert_eq!(log.pending(Direction::ToServer), 1);
        assert_eq!(log.carrier(Direction::ToServer, 100, 9).unwrap().ts, 1);
    }

    #[test]
    fn sequence_wraparound() {
        let mut log = PacketLog::new(16);
        let base = u32::MAX - 5;
        log.record(Direction::ToServer, seg(1, base, 4));
        log.record(Direction::ToServer, seg(2, base.wrapping_add(4), 8));
        assert_eq!(log.carrier(Direction::ToServer, base, 7).unwrap().ts, 2);
    }

    #[test]
    fn bounded() {
        let mut log = PacketLog::new(4);
        for i in 0..100u32 {
            log.record(Direction::ToServer, seg(u64::from(i), i * 10, 10));
        }
        assert_eq!(log.pending(Direction::ToServer), 4);
        assert_eq!(log.dropped, 96);
    }

    /// The log is charged to the memory budget; past it, a direction keeps the room it has (the
    /// oldest segments make way, the newest is kept and still times its message), a direction
    /// with no room keeps nothing (its messages are timed by the latest packet), refusals are
    /// counted, and everything is released when the flow goes.
    #[test]
    fn charged_to_the_memory_budget_and_bounded_by_it() {
        static B: Budget = Budget::new();
        let entry = std::mem::size_of::<PacketFacts>();
        let base = std::mem::size_of::<PacketLog>();
        B.set_cap(base + 16 * entry);
        {
            let mut log = PacketLog::new(1024).with_budget(&B);
            assert_eq!(B.used(), base, "the struct itself");
            for i in 0..100u32 {
                log.record(Direction::ToServer, seg(u64::from(i), 1 + i * 10, 10));
            }
            assert_eq!(
                B.used(),
                base + 16 * entry,
                "grown to the budget, no further"
            );
            assert_eq!(log.bytes(), B.used());
            assert_eq!(log.pending(Direction::ToServer), 16);
            assert_eq!(log.dropped, 84);
            assert_eq!(
                B.refusals(),
                84,
                "every segment that needed growth was refused"
            );
            // The newest segment is held: the message ending there is timed by it.
            assert_eq!(log.carrier(Direction::ToServer, 1, 995).unwrap().ts, 99);
            // The other direction finds no room at all: nothing kept, nothing to time by.
            log.record(Direction::ToClient, seg(7, 50, 10));
            assert_eq!(log.pending(Direction::ToClient), 0);
            assert!(log.carrier(Direction::ToClient, 50, 5).is_none());
            assert_eq!(log.last_ts(), 99);
            assert_eq!(B.refusals(), 85);
        }
        assert_eq!(B.used(), 0, "released with the flow");
        assert!(B.peak() <= base + 16 * entry);
    }

    #[test]
    fn gives_room_back_once_parsing_catches_up() {
        static B: Budget = Budget::new();
        let mut log = PacketLog::new(4096).with_budget(&B);
        for i in 0..1000u32 {
            log.record(Direction::ToServer, seg(u64::from(i), i, 1));
        }
        let grown = B.used();
        assert!(grown >= 1000 * std::mem::size_of::<PacketFacts>());
        // A message ending at the last byte: every segment before it goes, and the room with it.
        assert_eq!(log.carrier(Direction::ToServer, 0, 999).unwrap().ts, 999);
        assert!(B.used() < grown / 8, "{} of {grown} still held", B.used());
        assert_eq!(log.bytes(), B.used());
    }
}
