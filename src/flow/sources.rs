//! Per-client-IP counters over a sliding window: brute force and Malaria DoS open a new TCP
//! connection per attempt, so per-flow counters alone never see them.
//!
//! The window is split into buckets so memory per address is fixed; the table holds at most
//! `capacity` addresses and, when full, first drops addresses idle for a whole window, then the
//! least recently seen of a small random sample (an approximation of LRU with bounded work per
//! insert that a flood of new addresses cannot steer onto busy clients). IPv6 clients are counted
//! per prefix (`source-ipv6-prefix`, a /64 by default): a host rotating addresses inside its
//! network is one client.
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;

use super::Micros;

const BUCKETS: usize = 6;
const EVICTION_SAMPLE: usize = 16;
/// Distinct refused credentials remembered per address: the count saturates here.
pub const SECRETS: usize = 32;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceCounts {
    pub connects: u32,
    pub failed_auth: u32,
    /// Distinct credentials (user name and password) among the refused logins in the window: a
    /// device retrying an expired password has one, a password guesser many.
    pub refused_secrets: u32,
    /// Connections of this address that sent CONNECT and have not ended: SlowITe holds many.
    pub open: u32,
    /// Messages from or to this address whose score was above the threshold in the window: the
    /// client's accumulated evidence.
    pub anomalies: u32,
    /// The latest time the address's above-threshold messages in the window reached the table's
    /// flag level (`with_flag_level`); 0: never. Kept beyond the window, for as long as the
    /// address is in the table, so that a connection that sat idle through it still learns, when
    /// it ends, that its client was flagged while it was open.
    pub flagged_at: Micros,
    /// The first time it was (0: never).
    pub first_flagged_at: Micros,
}

#[derive(Clone, Debug, Default)]
struct Entry {
    /// Index of the bucket each slot holds (time / bucket width), so stale slots are recognised.
    epochs: [u64; BUCKETS],
    counts: [SourceCounts; BUCKETS],
    last_seen: Micros,
    /// Hashes of refused credentials with the bucket index they were last refused in.
    secrets: [(u64, u64); SECRETS],
    open: u32,
    flagged_at: Micros,
    first_flagged_at: Micros,
    /// Where the address sits in `SourceTable::keys`.
    pos: usize,
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
        let live = |e: u64| e + (BUCKETS as u64) > epoch && e <= epoch;
        let mut t = SourceCounts::default();
        for (e, c) in self.epochs.iter().zip(&self.counts) {
            if live(*e) {
                t.connects = t.connects.saturating_add(c.connects);
                t.failed_auth = t.failed_auth.saturating_add(c.failed_auth);
                t.anomalies = t.anomalies.saturating_add(c.anomalies);
            }
        }
        // Slot 0 of a hash means "empty" (a real hash of 0 is remapped on insert).
        t.refused_secrets = self
            .secrets
            .iter()
            .filter(|(h, e)| *h != 0 && live(*e))
            .count() as u32;
        t.open = self.open;
        t.flagged_at = self.flagged_at;
        t.first_flagged_at = self.first_flagged_at;
        t
    }

    /// Remembers a refused credential hash: refreshed when known, else it replaces the oldest.
    fn refuse(&mut self, hash: u64, epoch: u64) {
        let hash = hash.max(1);
        let slot = match self.secrets.iter().position(|(h, _)| *h == hash) {
            Some(i) => i,
            None => (0..SECRETS)
                .min_by_key(|&i| (self.secrets[i].0 != 0, self.secrets[i].1))
                .unwrap_or(0),
        };
        self.secrets[slot] = (hash, epoch);
    }
}

#[derive(Debug)]
pub struct SourceTable {
    entries: HashMap<IpAddr, Entry>,
    /// Every tracked address, so that eviction can sample at random.
    keys: Vec<IpAddr>,
    capacity: usize,
    bucket_width: Micros,
    window: Micros,
    last_sweep: Micros,
    ipv6_prefix: u8,
    rng: u64,
    evictions: u64,
    /// Above-threshold messages in the window that flag an address (0: never flagged).
    flag_level: u32,
}

/// What happened that a source is counted for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceEvent {
    /// A CONNECT from this address.
    Connect,
    /// A CONNACK with a non-zero code sent to this address, with the hash of the refused
    /// credentials (user name and password) when the CONNECT was seen.
    FailedAuth(Option<u64>),
    /// A connection of this address that had sent CONNECT ended.
    Closed,
    /// A message of this address scored above the threshold.
    Anomaly,
    /// Any other message: only reads the counts.
    Other,
}

impl SourceTable {
    pub fn new(capacity: usize, window_secs: u64) -> Self {
        let window = window_secs.max(1) * 1_000_000;
        SourceTable {
            entries: HashMap::new(),
            keys: Vec::new(),
            capacity: capacity.max(1),
            bucket_width: (window / BUCKETS as u64).max(1),
            window,
            last_sweep: 0,
            ipv6_prefix: 64,
            // Seeded per process, so an attacker cannot predict which entries are sampled.
            rng: RandomState::new().hash_one(0x6d71_7474u32) | 1,
            evictions: 0,
            flag_level: 0,
        }
    }

    /// Counts IPv6 clients per /`bits` prefix (1 to 128; 128 = per address).
    pub fn with_ipv6_prefix(mut self, bits: u8) -> Self {
        self.ipv6_prefix = bits.clamp(1, 128);
        self
    }

    /// An address is flagged (`SourceCounts::flagged_at`) whenever its above-threshold messages
    /// in the window reach `level` (0: never).
    pub fn with_flag_level(mut self, level: u32) -> Self {
        self.flag_level = level;
        self
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Live entries evicted to make room in a full table (idle ones aged out are not counted).
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// The key an address is counted under: itself, or its IPv6 prefix.
    fn key(&self, addr: IpAddr) -> IpAddr {
        match addr {
            IpAddr::V6(a) if self.ipv6_prefix < 128 => {
                let mask = u128::MAX << (128 - u32::from(self.ipv6_prefix));
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
            }
            other => other,
        }
    }

    /// Counts `event` for `addr` at time `ts` and returns the counts in the window ending at `ts`.
    pub fn observe(&mut self, addr: IpAddr, event: SourceEvent, ts: Micros) -> SourceCounts {
        let addr = self.key(addr);
        let epoch = ts / self.bucket_width;
        // Reading, a close or an anomaly never creates an entry: only what a client does to
        // connect (CONNECT, a refused login) claims a place in the table.
        if matches!(
            event,
            SourceEvent::Other | SourceEvent::Closed | SourceEvent::Anomaly
        ) && !self.entries.contains_key(&addr)
        {
            return SourceCounts::default();
        }
        if event == SourceEvent::Other {
            return self
                .entries
                .get(&addr)
                .map_or_else(SourceCounts::default, |e| e.total(epoch));
        }
        if !self.entries.contains_key(&addr) {
            if self.entries.len() >= self.capacity {
                self.make_room(ts);
            }
            self.keys.push(addr);
            let pos = self.keys.len() - 1;
            self.entries.insert(
                addr,
                Entry {
                    pos,
                    ..Entry::default()
                },
            );
        }
        let Some(entry) = self.entries.get_mut(&addr) else {
            return SourceCounts::default();
        };
        entry.last_seen = entry.last_seen.max(ts);
        match event {
            SourceEvent::Connect => {
                let slot = entry.slot(epoch);
                slot.connects = slot.connects.saturating_add(1);
                entry.open = entry.open.saturating_add(1);
            }
            SourceEvent::FailedAuth(secret) => {
                let slot = entry.slot(epoch);
                slot.failed_auth = slot.failed_auth.saturating_add(1);
                if let Some(h) = secret {
                    entry.refuse(h, epoch);
                }
            }
            SourceEvent::Closed => entry.open = entry.open.saturating_sub(1),
            SourceEvent::Anomaly => {
                let slot = entry.slot(epoch);
                slot.anomalies = slot.anomalies.saturating_add(1);
            }
            SourceEvent::Other => {}
        }
        let mut total = entry.total(epoch);
        if event == SourceEvent::Anomaly
            && self.flag_level > 0
            && total.anomalies >= self.flag_level
        {
            entry.flagged_at = ts.max(1).max(entry.flagged_at);
            if entry.first_flagged_at == 0 {
                entry.first_flagged_at = ts.max(1);
            }
            total.flagged_at = entry.flagged_at;
            total.first_flagged_at = entry.first_flagged_at;
        }
        total
    }

    fn make_room(&mut self, now: Micros) {
        // A full sweep at most once per bucket width keeps the cost per insert bounded on average.
        if now.saturating_sub(self.last_sweep) >= self.bucket_width {
            self.last_sweep = now;
            let window = self.window;
            self.entries
                .retain(|_, e| e.open > 0 || now.saturating_sub(e.last_seen) < window);
            self.keys.clear();
            for (a, e) in self.entries.iter_mut() {
                e.pos = self.keys.len();
                self.keys.push(*a);
            }
        }
        if self.entries.len() >= self.capacity {
            let mut victim: Option<(Micros, usize)> = None;
            for _ in 0..EVICTION_SAMPLE {
                let i = (self.next_random() % self.keys.len() as u64) as usize;
                let seen = self.entries.get(&self.keys[i]).map_or(0, |e| e.last_seen);
                if victim.is_none_or(|(s, _)| seen < s) {
                    victim = Some((seen, i));
                }
            }
            if let Some((_, i)) = victim {
                self.remove_at(i);
                self.evictions += 1;
            }
        }
    }

    fn remove_at(&mut self, i: usize) {
        let addr = self.keys.swap_remove(i);
        self.entries.remove(&addr);
        if let Some(moved) = self.keys.get(i) {
            if let Some(e) = self.entries.get_mut(moved) {
                e.pos = i;
            }
        }
    }

    /// xorshift64*: cheap, and good enough to pick a sample.
    fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// The table shared by all worker threads.
#[derive(Debug)]
pub struct SharedSourceTable(Mutex<SourceTable>);

impl SharedSourceTable {
    pub fn new(capacity: usize, window_secs: u64) -> Self {
        SharedSourceTable(Mutex::new(SourceTable::new(capacity, window_secs)))
    }

    pub fn with_ipv6_prefix(self, bits: u8) -> Self {
        let t = self.0.into_inner().unwrap_or_else(|e| e.into_inner());
        SharedSourceTable(Mutex::new(t.with_ipv6_prefix(bits)))
    }

    pub fn with_flag_level(self, level: u32) -> Self {
        let t = self.0.into_inner().unwrap_or_else(|e| e.into_inner());
        SharedSourceTable(Mutex::new(t.with_flag_level(level)))
    }

    pub fn evictions(&self) -> u64 {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).evictions()
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

    /// The flag outlives the window: a connection idle since long before still learns that its
    /// client was flagged while it was open.
    #[test]
    fn flag_is_kept_beyond_the_window() {
        let mut t = SourceTable::new(100, 60).with_flag_level(5);
        t.observe(ip(1), SourceEvent::Connect, 1000 * SEC);
        for i in 0..4 {
            let c = t.observe(ip(1), SourceEvent::Anomaly, 1001 * SEC + i * SEC);
            assert_eq!(c.flagged_at, 0, "flagged below the level");
        }
        let c = t.observe(ip(1), SourceEvent::Anomaly, 1010 * SEC);
        assert_eq!(c.flagged_at, 1010 * SEC);
        let later = t.observe(ip(1), SourceEvent::Other, 2000 * SEC);
        assert_eq!(later.anomalies, 0, "the window forgot the anomalies");
        assert_eq!(later.flagged_at, 1010 * SEC, "but not the flag");
        assert_eq!(later.first_flagged_at, 1010 * SEC);
        t.observe(ip(1), SourceEvent::Anomaly, 1011 * SEC);
        let again = t.observe(ip(1), SourceEvent::Other, 1012 * SEC);
        assert_eq!(
            (again.first_flagged_at, again.flagged_at),
            (1010 * SEC, 1011 * SEC)
        );
        // Without a level nothing is ever flagged.
        let mut u = SourceTable::new(100, 60);
        u.observe(ip(2), SourceEvent::Connect, SEC);
        for i in 0..50 {
            assert_eq!(
                u.observe(ip(2), SourceEvent::Anomaly, SEC + i).flagged_at,
                0
            );
        }
    }

    #[test]
    fn counts_within_window_and_forgets_after() {
        let mut t = SourceTable::new(100, 60);
        for i in 0..10 {
            t.observe(ip(1), SourceEvent::Connect, 1000 * SEC + i * SEC);
        }
        let c = t.observe(ip(1), SourceEvent::FailedAuth(None), 1010 * SEC);
        assert_eq!(
            c,
            SourceCounts {
                connects: 10,
                failed_auth: 1,
                open: 10,
                ..Default::default()
            }
        );
        assert_eq!(
            t.observe(ip(1), SourceEvent::Other, 1020 * SEC).connects,
            10
        );
        assert_eq!(t.observe(ip(2), SourceEvent::Other, 1020 * SEC).connects, 0);
        // Two windows later every windowed count has aged out; open connections stay open.
        assert_eq!(
            t.observe(ip(1), SourceEvent::Other, 1130 * SEC),
            SourceCounts {
                open: 10,
                ..Default::default()
            }
        );
    }

    #[test]
    fn refused_secrets_are_distinct_and_windowed() {
        let mut t = SourceTable::new(100, 60);
        // A device retrying one expired password: one secret however often it is refused.
        for i in 0..20 {
            t.observe(
                ip(1),
                SourceEvent::FailedAuth(Some(42)),
                1000 * SEC + i * SEC,
            );
        }
        assert_eq!(
            t.observe(ip(1), SourceEvent::Other, 1020 * SEC)
                .refused_secrets,
            1
        );
        // A guesser: every password differs; the count saturates at SECRETS.
        for i in 0..100u64 {
            t.observe(
                ip(2),
                SourceEvent::FailedAuth(Some(1000 + i)),
                1000 * SEC + i,
            );
        }
        let g = t.observe(ip(2), SourceEvent::Other, 1001 * SEC);
        assert_eq!((g.refused_secrets, g.failed_auth), (SECRETS as u32, 100));
        // A refusal without a known CONNECT counts as a failure but not as a secret.
        let n = t.observe(ip(3), SourceEvent::FailedAuth(None), 1000 * SEC);
        assert_eq!((n.failed_auth, n.refused_secrets), (1, 0));
        // Old secrets leave with the window.
        assert_eq!(
            t.observe(ip(2), SourceEvent::Other, 1200 * SEC)
                .refused_secrets,
            0
        );
    }

    #[test]
    fn open_connections_and_anomalies() {
        let mut t = SourceTable::new(100, 60);
        for _ in 0..3 {
            t.observe(ip(1), SourceEvent::Connect, 1000 * SEC);
        }
        assert_eq!(t.observe(ip(1), SourceEvent::Closed, 1001 * SEC).open, 2);
        assert_eq!(
            t.observe(ip(1), SourceEvent::Anomaly, 1001 * SEC).anomalies,
            1
        );
        assert_eq!(
            t.observe(ip(1), SourceEvent::Anomaly, 1002 * SEC).anomalies,
            2
        );
        // An address with open connections survives the idle sweep.
        let mut small = SourceTable::new(2, 60);
        small.observe(ip(1), SourceEvent::Connect, 1000 * SEC);
        small.observe(ip(2), SourceEvent::Connect, 1000 * SEC);
        small.observe(ip(2), SourceEvent::Closed, 1000 * SEC);
        small.observe(ip(3), SourceEvent::Connect, 2000 * SEC);
        assert_eq!(small.observe(ip(1), SourceEvent::Other, 2000 * SEC).open, 1);
        assert_eq!(small.observe(ip(2), SourceEvent::Other, 2000 * SEC).open, 0);
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

    /// A flood of new addresses into a full table must not flush a client that keeps connecting:
    /// eviction takes the least recently seen of a random sample, so a busy entry goes only if
    /// every sampled entry is busier, which a flood of one-shot addresses makes vanishingly rare.
    #[test]
    fn flood_of_new_addresses_does_not_flush_busy_clients() {
        let mut t = SourceTable::new(256, 60);
        let busy: Vec<IpAddr> = (0..20u32).map(|i| ip(0x0a00_0000 | i)).collect();
        let mut ts = 1000 * SEC;
        let mut flood = 0xc0a8_0000u32;
        let rounds = 2_000u32;
        for _ in 0..rounds {
            for b in &busy {
                ts += 1;
                t.observe(*b, SourceEvent::Connect, ts);
            }
            for _ in 0..50 {
                ts += 1;
                flood += 1;
                t.observe(ip(flood), SourceEvent::Connect, ts);
            }
        }
        assert!(t.len() <= 256);
        let kept: Vec<u32> = busy
            .iter()
            .map(|b| t.observe(*b, SourceEvent::Other, ts).connects)
            .collect();
        let flushed = kept.iter().filter(|c| **c != rounds).count();
        assert_eq!(flushed, 0, "busy clients flushed: {kept:?}");
        assert!(t.evictions() >= u64::from(rounds) * 50 - 256);
    }

    /// A host rotating IPv6 addresses inside its /64 is one client by default.
    #[test]
    fn ipv6_clients_are_counted_per_prefix() {
        let v6 = |s: &str| -> IpAddr { s.parse().unwrap() };
        let mut t = SourceTable::new(100, 60);
        for i in 0..10u16 {
            let a = v6(&format!("2001:db8:1:2:{i:x}:0:0:{i:x}"));
            t.observe(a, SourceEvent::Connect, 1000 * SEC + u64::from(i));
        }
        let c = t.observe(v6("2001:db8:1:2::99"), SourceEvent::Other, 1001 * SEC);
        assert_eq!(
            c.connects, 10,
            "rotating addresses dodge the per-client counts"
        );
        let other_net = t.observe(v6("2001:db8:1:3::1"), SourceEvent::Other, 1001 * SEC);
        assert_eq!(other_net.connects, 0);
        // Per address when configured so.
        let mut t = SourceTable::new(100, 60).with_ipv6_prefix(128);
        t.observe(v6("2001:db8::1"), SourceEvent::Connect, 1000 * SEC);
        let c = t.observe(v6("2001:db8::2"), SourceEvent::Other, 1000 * SEC);
        assert_eq!(c.connects, 0);
        // IPv4 is unaffected.
        let mut t = SourceTable::new(100, 60).with_ipv6_prefix(8);
        t.observe(ip(0x0a00_0001), SourceEvent::Connect, 1000 * SEC);
        assert_eq!(
            t.observe(ip(0x0a00_0002), SourceEvent::Other, 1000 * SEC)
                .connects,
            0
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
