//! Every app-layer event the plugin raises, with its stable id and rule name
//! (`app-layer-event:mqtt-ml.<name>`). Wire malformations come first, with the ids the wire
//! layer gives them; flow-level events follow. `suricata-rules/mqtt-ml-events.rules` has one rule
//! per event, and a test checks the two agree.
use crate::flow::StreamEvent;
use crate::wire::Malformation;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// Something wrong with one message's bytes.
    Malformed(Malformation),
    Stream(StreamEvent),
    /// The first message a client sent was not CONNECT (and the flow was not picked up midstream).
    MissingConnect,
    /// A second CONNECT on the same connection (a protocol violation).
    DoubleConnect,
    /// A message sent the wrong way (e.g. CONNECT from the server, CONNACK from the client).
    WrongDirection,
    /// More live transactions than `max-tx` (none is dropped before it is logged).
    TooManyTransactions,
    /// Raised when a connection ends: it held an MQTT session open without ever publishing,
    /// subscribing or unsubscribing, and its client address was flagged while it was open
    /// (SlowITe's connections, each harmless-looking when it connected).
    IdleConnectionOfFlaggedClient,
}

const FLOW_EVENTS: &[(Event, &str)] = &[
    (Event::Stream(StreamEvent::Resync), "resync"),
    (Event::Stream(StreamEvent::Gap), "gap"),
    (
        Event::Stream(StreamEvent::MessageTooLarge),
        "message_too_large",
    ),
    (
        Event::Stream(StreamEvent::TooManyMessages),
        "too_many_messages",
    ),
    (Event::MissingConnect, "missing_connect"),
    (Event::DoubleConnect, "double_connect"),
    (Event::WrongDirection, "wrong_direction"),
    (Event::TooManyTransactions, "too_many_transactions"),
    (
        Event::IdleConnectionOfFlaggedClient,
        "idle_connection_of_flagged_client",
    ),
];

impl Event {
    /// Every event, in id order.
    pub fn all() -> impl Iterator<Item = Event> {
        Malformation::ALL
            .iter()
            .filter(|m| **m != Malformation::MessageTooLarge)
            .map(|m| Event::Malformed(*m))
            .chain(FLOW_EVENTS.iter().map(|(e, _)| *e))
    }

    pub fn id(self) -> u8 {
        match self {
            // The stream layer reports oversized messages itself; one id for one event.
            Event::Malformed(Malformation::MessageTooLarge) => {
                Event::Stream(StreamEvent::MessageTooLarge).id()
            }
            Event::Malformed(m) => m as u8,
            other => {
                let i = FLOW_EVENTS
                    .iter()
                    .position(|(e, _)| *e == other)
                    .unwrap_or(0);
                FLOW_BASE + i as u8
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Event::Malformed(Malformation::MessageTooLarge) => "message_too_large",
            Event::Malformed(m) => m.name(),
            other => FLOW_EVENTS
                .iter()
                .find(|(e, _)| *e == other)
                .map_or("unknown", |(_, n)| n),
        }
    }

    pub fn from_id(id: u8) -> Option<Event> {
        Event::all().find(|e| e.id() == id)
    }

    pub fn from_name(name: &str) -> Option<Event> {
        Event::all().find(|e| e.name() == name)
    }

    /// Whether the event says the message itself is malformed (the `malformed` EVE field and
    /// feature), as opposed to something about the flow.
    pub fn is_malformation(self) -> bool {
        matches!(
            self,
            Event::Malformed(_) | Event::Stream(StreamEvent::MessageTooLarge)
        )
    }
}

/// Flow-level ids start after the largest malformation id.
const FLOW_BASE: u8 = 32;

/// The events of one message, without allocating.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventSet(u64);

impl EventSet {
    pub fn insert(&mut self, e: Event) {
        self.0 |= 1u64 << e.id();
    }

    pub fn contains(&self, e: Event) -> bool {
        self.0 & (1u64 << e.id()) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    pub fn union(&mut self, other: EventSet) {
        self.0 |= other.0;
    }

    pub fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        Event::all().filter(|e| self.contains(*e))
    }

    pub fn any_malformation(&self) -> bool {
        self.iter().any(Event::is_malformation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_and_names_are_unique_and_round_trip() {
        let mut ids = HashSet::new();
        let mut names = HashSet::new();
        for e in Event::all() {
            assert!(ids.insert(e.id()), "duplicate id {}", e.id());
            assert!(names.insert(e.name()), "duplicate name {}", e.name());
            assert!(e.id() < 64);
            assert_eq!(Event::from_id(e.id()), Some(e));
            assert_eq!(Event::from_name(e.name()), Some(e));
            let ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
            assert!(e.name().bytes().all(ok), "{}", e.name());
        }
        assert!(Malformation::ALL.len() < FLOW_BASE as usize);
    }

    #[test]
    fn set_holds_malformations_and_flow_events() {
        let mut s = EventSet::default();
        s.insert(Event::MissingConnect);
        assert!(!s.any_malformation());
        s.insert(Event::Malformed(Malformation::Truncated));
        assert!(s.any_malformation());
        assert_eq!(s.iter().count(), 2);
        let mut t = EventSet::default();
        t.insert(Event::Malformed(Malformation::MessageTooLarge));
        assert!(t.contains(Event::Stream(StreamEvent::MessageTooLarge)));
    }
}

#[cfg(test)]
mod rules_file {
    use super::Event;

    /// The shipped rules file has exactly one rule per event, and no rule for an unknown event.
    #[test]
    fn every_event_has_one_rule() {
        let rules = include_str!("../suricata-rules/mqtt-ml-events.rules");
        let names: Vec<&str> = rules
            .lines()
            .filter_map(|l| l.split("app-layer-event:mqtt-ml.").nth(1))
            .filter_map(|r| r.split(';').next())
            .collect();
        for e in Event::all() {
            assert_eq!(
                names.iter().filter(|n| **n == e.name()).count(),
                1,
                "{}",
                e.name()
            );
        }
        assert_eq!(names.len(), Event::all().count());
    }
}

#[cfg(test)]
mod quirks_file {
    /// Every quirk the Wireshark comparison may excuse names a test that exists, so an excuse
    /// cannot outlive the evidence for it.
    #[test]
    fn every_quirk_names_an_existing_test() {
        let quirks = include_str!("../tests/reference/quirks.py");
        let sources: Vec<(&str, &str)> = vec![
            ("wire::properties", include_str!("wire/properties.rs")),
            ("wire::subscribe", include_str!("wire/subscribe.rs")),
            ("flow::session", include_str!("flow/session.rs")),
            ("flow::packets", include_str!("flow/packets.rs")),
            ("wire::connect", include_str!("wire/connect.rs")),
            ("wire::strings", include_str!("wire/strings.rs")),
        ];
        let mut named = 0;
        for (module, src) in &sources {
            for part in quirks.split(&format!("{module} tests::")).skip(1) {
                let name: String = part
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                assert!(
                    src.contains(&format!("fn {name}(")),
                    "{module}::{name} missing"
                );
                named += 1;
            }
        }
        assert_eq!(named, 11, "quirks.py names eleven tests");
    }
}
