//! Per-client-IP counters over a sliding window: brute force and Malaria DoS open a new TCP
//! connection per attempt, so per-flow counters alone never see them.
//!
//! The window is split into buckets so memory per address is fixed; the table holds at most
//! `capacity` addresses and, when full, first drops addresses idle for a whole window, then the
//! least recently seen of a small sample (an approximation of LRU with bounded work per insert).
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use super::Micros;

const BUCKETS: usize = 6;
const EVICTION_SAMPLE: usize = 16;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceCounts {
    pub connects: u32,
    pub failed_auth: u32,
}

#[derive(Clone, Debug, Default)]
struct Entry {
    /// Index of the bucket each slot holds (time / bucket width), so stale slots are recognised.
    epochs: [u64; BUCKETS],
    counts: [SourceCounts; BUCKETS],
    last_seen: Micros,
}

impl Entry {
    fn slot(&mut self, epoch: u64) -> &mut SourceCounts {
        let i = (epoch % BUCKETS as u64) as usize;
        if self.epochs[i] != epoch {
            self.epochs[i] = epoch;
            self.counts[i] = SourceCounts::default();
        }
        &mut self.counts[i]
    }

    fn total(&self, epoch: u64) -> SourceCounts {
        let mut t = SourceCounts::default();
        for (e, c) in self.epochs.iter().zip(&self.counts) {
            if *e + (BUCKETS as u64) > epoch && *e <= epoch {
                t.connects = t.connects.saturating_add(c.connects);
                t.failed_auth = t.failed_auth.saturating_add(c.failed_auth);
            }
        }
        t
    }
}

#[derive(Debug)]
pub struct SourceTable {
    entries: HashMap<IpAddr, Entry>,
    capacity: usize,
    bucket_width: Micros,
    window: Micros,
    last_sweep: Micros,
}

/// What happened that a source is counted for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceEvent {
    /// A CONNECT from this address.
    Connect,
    /// A CONNACK with a non-zero code sent to this address.
    FailedAuth,
    /// Any other message: only reads the counts.
    Other,
}

impl SourceTable {
    pub fn new(capacity: usize, window_secs: u64) -> Self {
        let window = window_secs.max(1) * 1_000_000;
        SourceTable {
            entries: HashMap::new(),
            capacity: capacity.max(1),
            bucket_width: (window / BUCKETS as u64).max(1),
            window,
            last_sweep: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Counts `event` for `addr` at time `ts` and returns the counts in the window ending at `ts`.
    pub fn observe(&mut self, addr: IpAddr, event: SourceEvent, ts: Micros) -> SourceCounts {
        let epoch = ts / self.bucket_width;
        if event == SourceEvent::Other {
            return self
                .entries
                .get(&addr)
                .map_or_else(SourceCounts::default, |e| e.total(epoch));
        }
        if !self.entries.contains_key(&addr) && self.entries.len() >= self.capacity {
            self.make_room(ts);
        }
        let entry = self.entries.entry(addr).or_default();
        entry.last_seen = entry.last_seen.max(ts);
        let slot = entry.slot(epoch);
        match event {
            SourceEvent::Connect => slot.connects = slot.connects.saturating_add(1),
            SourceEvent::FailedAuth => slot.failed_auth = slot.failed_auth.saturating_add(1),
            SourceEvent::Other => {}
        }
        entry.total(epoch)
    }

    fn make_room(&mut self, now: Micros) {
        // A full sweep at most once per bucket width keeps the cost per insert bounded on average.
        if now.saturating_sub(self.last_sweep) >= self.bucket_width {
            self.last_sweep = now;
            let window = self.window;
            self.entries
                .retain(|_, e| now.saturating_sub(e.last_seen) < window);
        }
        if self.entries.len() >= self.capacity {
            let victim = self
                .entries
                .iter()
                .take(EVICTION_SAMPLE)
                .min_by_key(|(_, e)| e.last_seen)
                .map(|(a, _)| *a);
            if let Some(a) = victim {
                self.entries.remove(&a);
            }
        }
    }
}

/// The table shared by all worker threads.
#[derive(Debug)]
pub struct SharedSourceTable(Mutex<SourceTable>);

impl SharedSourceTable {
    pub fn new(capacity: usize, window_secs: u64) -> Self {
        SharedSourceTable(Mutex::new(SourceTable::new(capacity, window_secs)))
    }

    pub fn observe(&self, addr: IpAddr, event: SourceEvent, ts: Micros) -> SourceCounts {
        // A poisoned lock means a panic elsewhere; the counts are still usable.
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        t.observe(addr, event, ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Micros = 1_000_000;

    fn ip(n: u32) -> IpAddr {
        IpAddr::from(n.to_be_bytes())
    }

    #[test]
    fn counts_within_window_and_forgets_after() {
        let mut t = SourceTable::new(100, 60);
        for i in 0..10 {
            t.observe(ip(1), SourceEvent::Connect, 1000 * SEC + i * SEC);
        }
        let c = t.observe(ip(1), SourceEvent::FailedAuth, 1010 * SEC);
        assert_eq!(
            c,
            SourceCounts {
                connects: 10,
                failed_auth: 1
            }
        );
        assert_eq!(
            t.observe(ip(1), SourceEvent::Other, 1020 * SEC).connects,
            10
        );
        assert_eq!(t.observe(ip(2), SourceEvent::Other, 1020 * SEC).connects, 0);
        // Two windows later everything has aged out.
        assert_eq!(
            t.observe(ip(1), SourceEvent::Other, 1130 * SEC),
            SourceCounts::default()
        );
    }

    #[test]
    fn table_is_bounded() {
        let mut t = SourceTable::new(64, 60);
        for i in 0..10_000u32 {
            t.observe(ip(i), SourceEvent::Connect, 1000 * SEC + u64::from(i));
        }
        assert!(t.len() <= 64);
        // The newest address is there.
        assert_eq!(
            t.observe(ip(9_999), SourceEvent::Other, 1001 * SEC)
                .connects,
            1
        );
    }

    #[test]
    fn shared_table_is_usable_across_threads() {
        let t = std::sync::Arc::new(SharedSourceTable::new(16, 60));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let t = t.clone();
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        t.observe(ip(7), SourceEvent::Connect, 1000 * SEC);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(
            t.observe(ip(7), SourceEvent::Other, 1000 * SEC).connects,
            400
        );
    }
}
