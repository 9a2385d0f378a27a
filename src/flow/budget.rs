//! The plugin's global memory budget (`memcap`): what its per-flow state holds outside Suricata's
//! own memcaps (transactions, with their messages), in use, at its peak, and how often the budget
//! refused something. Shared by all threads; lock-free.
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
}
