//! MQTT 5 topic aliases: a PUBLISH may replace its topic by a number set up by an earlier PUBLISH
//! of the same direction. Resolving them gives analysts (and Wireshark-compatible output) the real
//! topic. Bounded: at most `MAX_ALIASES` aliases and `MAX_BYTES` of topic text per direction, and
//! once the connection has negotiated a Topic Alias Maximum for the direction (CONNECT for the
//! server's PUBLISHes, CONNACK for the client's; 0 when the property is absent), no alias above it;
//! an alias beyond the bounds is simply not resolved.
use std::collections::HashMap;

use super::budget::Budget;

pub const MAX_ALIASES: usize = 1024;
pub const MAX_BYTES: usize = 64 * 1024;
/// What an entry costs beyond its topic text (map slot, String header), for the memory budget.
const ENTRY_COST: usize = 48;

#[derive(Debug, Default)]
pub struct TopicAliases {
    map: HashMap<u16, String>,
    bytes: usize,
    /// The negotiated Topic Alias Maximum, once known.
    max: Option<u16>,
    /// The plugin's memory budget, charged for what the table holds.
    budget: Option<&'static Budget>,
    charged: usize,
}

impl Drop for TopicAliases {
    fn drop(&mut self) {
        if let Some(b) = self.budget {
            b.release(self.charged);
        }
    }
}

impl TopicAliases {
    /// Charges what the table holds to `budget`; while it is spent, no new alias is stored.
    pub fn set_budget(&mut self, budget: &'static Budget) {
        if self.budget.is_none() {
            self.budget = Some(budget);
            self.settle();
        }
    }

    /// Brings the budget's charge in line with what the table holds.
    fn settle(&mut self) {
        let Some(b) = self.budget else {
            return;
        };
        let holds = self.map.len() * ENTRY_COST + self.bytes;
        if holds > self.charged {
            b.charge(holds - self.charged);
        } else {
            b.release(self.charged - holds);
        }
        self.charged = holds;
    }

    /// The Topic Alias Maximum negotiated for this direction: aliases above it are dropped and
    /// never stored again.
    pub fn set_maximum(&mut self, max: u16) {
        self.max = Some(max);
        let before = self.map.len();
        self.map.retain(|a, _| *a <= max);
        if self.map.len() != before {
            self.bytes = self.map.values().map(String::len).sum();
        }
        self.settle();
    }

    /// Records `alias` -> `topic` (a PUBLISH that carries both).
    pub fn set(&mut self, alias: u16, topic: &str) {
        let old = self.map.get(&alias).map_or(0, String::len);
        let grows = !self.map.contains_key(&alias);
        let allowed = self.max.is_none_or(|m| alias <= m);
        let growth = (topic.len() + if grows { ENTRY_COST } else { 0 }).saturating_sub(old);
        let spent = self.budget.is_some_and(|b| !b.has_room(growth));
        if spent {
            if let Some(b) = self.budget {
                b.refused(1);
            }
        }
        if !allowed
            || spent
            || (grows && self.map.len() >= MAX_ALIASES)
            || self.bytes - old + topic.len() > MAX_BYTES
        {
            // Keep the table bounded; a stale mapping must not survive a refused update.
            if let Some(s) = self.map.remove(&alias) {
                self.bytes -= s.len();
            }
            self.settle();
            return;
        }
        self.bytes = self.bytes - old + topic.len();
        self.map.insert(alias, topic.to_owned());
        self.settle();
    }

    pub fn get(&self, alias: u16) -> Option<&str> {
        self.map.get(&alias).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_and_replace() {
        let mut a = TopicAliases::default();
        a.set(1, "sensors/a");
        assert_eq!(a.get(1), Some("sensors/a"));
        a.set(1, "sensors/b");
        assert_eq!(a.get(1), Some("sensors/b"));
        assert_eq!(a.get(2), None);
    }

    #[test]
    fn negotiated_maximum_bounds_aliases() {
        let mut a = TopicAliases::default();
        a.set(5, "early");
        a.set_maximum(3);
        assert_eq!(a.get(5), None, "an alias above the maximum is forgotten");
        a.set(3, "ok");
        a.set(4, "refused");
        assert_eq!((a.get(3), a.get(4)), (Some("ok"), None));
        assert_eq!(a.bytes, 2);
        a.set_maximum(0);
        a.set(1, "none allowed");
        assert_eq!(a.get(1), None);
    }

    #[test]
    fn charged_to_the_memory_budget_and_refused_when_spent() {
        static B: Budget = Budget::new();
        B.set_cap(1 << 20);
        {
            let mut a = TopicAliases::default();
            a.set(1, "before");
            a.set_budget(&B);
            assert_eq!(B.used(), ENTRY_COST + 6);
            a.set(2, "xy");
            assert_eq!(B.used(), 2 * ENTRY_COST + 8);
            a.set(2, "x");
            assert_eq!(B.used(), 2 * ENTRY_COST + 7);
            B.charge(1 << 20); // someone else spent the budget
            a.set(3, "refused");
            assert_eq!((a.get(3), B.refusals()), (None, 1));
            B.release(1 << 20);
        }
        assert_eq!(B.used(), 0, "released when the flow goes");
    }

    #[test]
    fn bounded_in_count_and_bytes() {
        let mut a = TopicAliases::default();
        for i in 0..5000u16 {
            a.set(i, "t");
        }
        assert_eq!(a.map.len(), MAX_ALIASES);
        let big = "x".repeat(MAX_BYTES);
        a.set(1, &big);
        assert_eq!(a.get(1), None, "refused update drops the stale mapping");
        assert!(a.bytes <= MAX_BYTES);
    }
}
