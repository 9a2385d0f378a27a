//! Which TCP segment carried a message.
//!
//! Suricata parses a direction's data when the other side ACKs it, so "now" at parse time is the
//! ACK's time. The flow update callback records every data segment (time, flags, payload length,
//! sequence number) here first; when a message is parsed, the segment holding its last byte (the
//! frame in which Wireshark dissects it) is looked up by stream offset. Bounded per direction:
//! segments are dropped once parsing has passed them, and the oldest go first when a direction
//! runs ahead of parsing by more than `capacity` segments.
use std::collections::VecDeque;

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
    /// Segments forgotten unparsed because a direction ran too far ahead of the parser.
    pub dropped: u64,
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
        }
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
        if q.len() >= self.capacity {
            q.pop_front();
            self.dropped += 1;
        }
        q.push_back(p);
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
        q.iter()
            .find(|s| target.wrapping_sub(s.seq) < u32::from(s.payload_len))
            .copied()
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
}
