//! The plugin's global memory budget (`memcap`): what its per-flow state holds outside Suricata's
//! own memcaps (transactions with their messages, topic aliases, the packet log, QoS 2 start
//! times), in use, at its peak, and how often the budget refused something. Shared by all threads;
//! lock-free.
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

#[derive(Debug, Default)]
pub struct Budget {
    /// Bytes allowed; 0 = no limit.
    cap: AtomicUsize,
    used: AtomicUsize,
    peak: AtomicUsize,
    refusals: AtomicU64,
}

impl Budget {
    pub const fn new() -> Self {
        Budget {
            cap: AtomicUsize::new(0),
            used: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            refusals: AtomicU64::new(0),
        }
    }

    pub fn set_cap(&self, bytes: usize) {
        self.cap.store(bytes, Relaxed);
    }

    /// Counts `bytes` as held, whatever the cap (what is already parsed is kept).
    pub fn charge(&self, bytes: usize) {
        let now = self.used.fetch_add(bytes, Relaxed).saturating_add(bytes);
        self.peak.fetch_max(now, Relaxed);
    }

    /// Takes `bytes` if they fit under the cap; otherwise counts a refusal.
    pub fn try_charge(&self, bytes: usize) -> bool {
        if !self.has_room(bytes) {
            self.refusals.fetch_add(1, Relaxed);
            return false;
        }
        self.charge(bytes);
        true
    }

    /// Whether `bytes` more fit under the cap.
    pub fn has_room(&self, bytes: usize) -> bool {
        let cap = self.cap.load(Relaxed);
        cap == 0 || self.used.load(Relaxed).saturating_add(bytes) <= cap
    }

    /// Counts a refusal made elsewhere (something not kept because the budget was spent).
    pub fn refused(&self, n: u64) {
        self.refusals.fetch_add(n, Relaxed);
    }

    pub fn release(&self, bytes: usize) {
        // Never below zero, even if a release raced ahead of its charge.
        let _ = self
            .used
            .fetch_update(Relaxed, Relaxed, |u| Some(u.saturating_sub(bytes)));
    }

    pub fn used(&self) -> usize {
        self.used.load(Relaxed)
    }

    pub fn peak(&self) -> usize {
        self.peak.load(Relaxed)
    }

    pub fn refusals(&self) -> u64 {
        self.refusals.load(Relaxed)
    }
}

/// What one owner (a packet log, a flow's counters) holds under the budget: charged as it grows,
/// released as it shrinks and when the owner goes. Without a budget it only keeps the count.
#[derive(Debug, Default)]
pub struct Held {
    budget: Option<&'static Budget>,
    bytes: usize,
}

impl Held {
    /// Charges what is held, and from now on every change, to `budget` (once; later calls keep
    /// the first budget).
    pub fn attach(&mut self, budget: &'static Budget) {
        if self.budget.is_none() {
            budget.charge(self.bytes);
            self.budget = Some(budget);
        }
    }

    /// The owner now holds `now` bytes: the difference is charged (whatever the cap: it is
    /// already allocated) or released.
    pub fn settle(&mut self, now: usize) {
        if let Some(b) = self.budget {
            if now > self.bytes {
                b.charge(now - self.bytes);
            } else {
                b.release(self.bytes - now);
            }
        }
        self.bytes = now;
    }

    /// Whether `more` bytes fit under the budget (always, without one); a refusal is counted
    /// when they do not.
    pub fn room(&self, more: usize) -> bool {
        match self.budget {
            Some(b) if !b.has_room(more) => {
                b.refused(1);
                false
            }
            _ => true,
        }
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(b) = self.budget {
            b.release(self.bytes);
        }
    }
}

/// Whether a bounded queue can take one more element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Room {
    /// It can (it was grown if it had to be).
    Free,
    /// It holds `max_len` elements already.
    Full,
    /// It would have to grow, and the budget refused the growth (counted).
    Refused,
}

/// Makes room in `q` for one more element: it grows by doubling (from 4, at most to `max_len`
/// elements), and only with the room `held`'s budget has for the growth. The owner settles
/// `held` afterwards with what it then holds.
pub fn room_for_one<T>(q: &mut VecDeque<T>, max_len: usize, held: &Held) -> Room {
    if q.len() >= max_len {
        return Room::Full;
    }
    if q.len() < q.capacity() {
        return Room::Free;
    }
    let cap = q.capacity();
    let want = cap.saturating_mul(2).max(4).min(max_len);
    if !held.room((want - cap) * std::mem::size_of::<T>()) {
        return Room::Refused;
    }
    q.reserve_exact(want - q.len());
    Room::Free
}

/// Heap bytes a queue's buffer takes.
pub fn queue_bytes<T>(q: &VecDeque<T>) -> usize {
    q.capacity() * std::mem::size_of::<T>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn use_peak_and_refusals() {
        let b = Budget::new();
        b.set_cap(100);
        assert!(b.try_charge(60));
        assert!(!b.try_charge(50), "over the cap");
        assert_eq!((b.used(), b.refusals()), (60, 1));
        b.charge(50); // already parsed: kept, counted
        assert_eq!((b.used(), b.peak()), (110, 110));
        assert!(!b.has_room(1));
        b.release(110);
        b.release(5);
        assert_eq!((b.used(), b.peak()), (0, 110));
        assert!(b.try_charge(100));
        b.set_cap(0);
        assert!(b.try_charge(1 << 40), "0 = no limit");
    }

    #[test]
    fn held_charges_settles_and_releases() {
        static B: Budget = Budget::new();
        B.set_cap(100);
        {
            let mut h = Held::default();
            h.settle(30);
            assert_eq!(B.used(), 0, "no budget yet");
            h.attach(&B);
            assert_eq!(B.used(), 30);
            h.settle(80);
            assert!(h.room(20) && !h.room(21));
            assert_eq!((B.used(), B.refusals()), (80, 1));
            h.settle(10);
            assert_eq!(B.used(), 10);
        }
        assert_eq!(B.used(), 0, "released when the owner goes");
    }

    #[test]
    fn queue_grows_by_doubling_within_the_budget() {
        static B: Budget = Budget::new();
        let mut h = Held::default();
        h.attach(&B);
        B.set_cap(4 * 8 + 8 * 8);
        let mut q: VecDeque<u64> = VecDeque::new();
        let push = |q: &mut VecDeque<u64>, h: &mut Held| {
            let r = room_for_one(q, 10, h);
            if r == Room::Free {
                q.push_back(1);
            }
            h.settle(queue_bytes(q));
            r
        };
        for _ in 0..4 {
            assert_eq!(push(&mut q, &mut h), Room::Free);
        }
        assert_eq!((q.capacity(), B.used()), (4, 32));
        // Doubling to 8 needs 32 more bytes: fits.
        assert_eq!(push(&mut q, &mut h), Room::Free);
        assert_eq!((q.capacity(), B.used()), (8, 64));
        for _ in 0..3 {
            assert_eq!(push(&mut q, &mut h), Room::Free);
        }
        // Growing to 10 (the limit) needs 16 more: the budget has 32 left.
        assert_eq!(push(&mut q, &mut h), Room::Free);
        assert_eq!(q.capacity(), 10);
        assert_eq!(push(&mut q, &mut h), Room::Free);
        assert_eq!(push(&mut q, &mut h), Room::Full);
        // A second queue finds the budget spent: refused, counted, nothing allocated.
        let mut h2 = Held::default();
        h2.attach(&B);
        B.charge(32);
        let mut q2: VecDeque<u64> = VecDeque::new();
        assert_eq!(push(&mut q2, &mut h2), Room::Refused);
        assert_eq!((q2.capacity(), B.refusals()), (0, 1));
    }
}
