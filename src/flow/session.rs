//! One MQTT connection, both directions: frames the streams, follows the protocol version from
//! CONNECT, times each message by its carrying packet, updates the flow and per-source counters,
//! and hands out one record per message. Pure: the glue supplies packet facts through `Clock`.
use std::net::IpAddr;

use super::aliases::TopicAliases;
use super::budget::Budget;
use super::stats::{MessageFacts, CONNECT};
use super::stream::Step;
use super::{
    Direction, DirectionStream, FlowStats, MessageContext, Micros, PacketFacts, SharedSourceTable,
    StreamEvent, StreamItem, StreamProgress,
};
use crate::config::Config;
use crate::events::{Event, EventSet};
use crate::flow::sources::SourceEvent;
use crate::wire::{self, msg_type, Body, Limits, ProtocolVersion};

/// One parsed message with everything known about it: what a transaction holds.
#[derive(Clone, Debug)]
pub struct MessageRecord {
    pub msg: wire::Message,
    pub ctx: MessageContext,
    pub events: EventSet,
    /// Messages of this direction parsed and counted just before this one but given no record
    /// (past `max-msgs-per-segment`); non-zero only with the `too_many_messages` event.
    pub dropped: u32,
}

/// What every session of the process shares: the configuration and the per-source table.
#[derive(Clone, Copy)]
pub struct Shared<'a> {
    pub config: &'a Config,
    pub sources: Option<&'a SharedSourceTable>,
}

/// Where the session learns packet facts (the flow storage in Suricata, plain values in tests).
pub trait Clock {
    /// The segment carrying stream byte `offset` of `dir`, if still known.
    fn carrier(&mut self, dir: Direction, offset: u64) -> Option<PacketFacts>;
    /// The latest packet time of the flow: the fallback when no segment matches.
    fn now(&self) -> Micros;
    /// When the flow's first packet was seen.
    fn flow_start(&self) -> Micros;
}

#[derive(Debug)]
pub struct Session {
    streams: [DirectionStream; 2],
    version: ProtocolVersion,
    stats: FlowStats,
    midstream: bool,
    connects: u32,
    client: Option<IpAddr>,
    /// Hash of the last CONNECT's user name and password, matched with its CONNACK.
    credentials: Option<u64>,
    /// Whether this connection counts among its client's open connections.
    counted_open: bool,
    /// When the client's CONNECT was seen (0: not yet).
    opened_at: Micros,
    /// Whether the client published, subscribed or unsubscribed: used the session it opened.
    used: bool,
    /// Whether the end-of-connection verdict was given (once per connection).
    judged_at_end: bool,
    /// Time of the latest message.
    last_ts: Micros,
    /// Flow-level events waiting for the next message of their direction.
    pending: [EventSet; 2],
    aliases: [TopicAliases; 2],
    /// The plugin's memory budget: while it is spent, messages that matter are not kept past
    /// `max-msgs-per-segment` either.
    budget: Option<&'static Budget>,
    /// Messages that matter dropped because `keep_past_cap` was off, not yet reported.
    refused: u64,
}

impl Session {
    pub fn new(midstream: bool, client: Option<IpAddr>) -> Self {
        Session {
            streams: [
                DirectionStream::new(midstream),
                DirectionStream::new(midstream),
            ],
            version: ProtocolVersion::Unknown,
            stats: FlowStats::new(),
            midstream,
            connects: 0,
            client,
            credentials: None,
            counted_open: false,
            opened_at: 0,
            used: false,
            judged_at_end: false,
            last_ts: 0,
            pending: [EventSet::default(); 2],
            aliases: Default::default(),
            budget: None,
            refused: 0,
        }
    }

    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// The connection ended: it no longer counts among its client's open connections.
    pub fn close(&mut self, sources: Option<&SharedSourceTable>) {
        if let (true, Some(table), Some(addr)) = (self.counted_open, sources, self.client) {
            table.observe(addr, SourceEvent::Closed, self.last_ts);
        }
        self.counted_open = false;
    }

    /// When the connection ends (called at the end of either direction's stream; answers once):
    /// true when it held an MQTT session open without ever publishing, subscribing or
    /// unsubscribing, and its client address was flagged (`SourceCounts::flagged_at`) while it
    /// was open: first flagged before `now` (the flow's last packet) and flagged again since it
    /// connected. Bounding by the flow's own times keeps the answer the same however late the
    /// end of a timed-out flow is processed. SlowITe opens its connections before its client
    /// stands out, each harmless-looking on its own; this is when they can be told apart.
    pub fn idle_under_flagged_client(
        &mut self,
        sources: Option<&SharedSourceTable>,
        now: Micros,
    ) -> bool {
        if std::mem::replace(&mut self.judged_at_end, true) || !self.counted_open || self.used {
            return false;
        }
        let (Some(table), Some(addr)) = (sources, self.client) else {
            return false;
        };
        let now = now.max(self.last_ts);
        let c = table.observe(addr, SourceEvent::Other, now);
        c.first_flagged_at != 0 && c.first_flagged_at <= now && c.flagged_at >= self.opened_at
    }

    /// The client address this connection's per-source counts are kept under.
    pub fn client(&self) -> Option<IpAddr> {
        self.client
    }

    /// The memory budget that decides, message by message, whether messages that matter are
    /// kept past `max-msgs-per-segment`, and that the topic aliases and the QoS 2 start times are
    /// charged to.
    pub fn set_budget(&mut self, budget: &'static Budget) {
        self.budget = Some(budget);
        self.stats.set_budget(budget);
        for a in &mut self.aliases {
            a.set_budget(budget);
        }
    }

    /// Messages that matter dropped because of the memory budget since the last call.
    pub fn take_refused(&mut self) -> u64 {
        std::mem::take(&mut self.refused)
    }

    /// Flow events of `dir` still waiting for a message to carry them; cleared.
    pub fn take_pending(&mut self, dir: Direction) -> EventSet {
        std::mem::take(&mut self.pending[dir.index()])
    }

    pub fn on_gap(&mut self, dir: Direction) {
        self.streams[dir.index()].on_gap();
        self.pending[dir.index()].insert(Event::Stream(StreamEvent::Gap));
    }

    /// Parses `input` (stream offset `offset`) of one direction, emitting one record per message.
    pub fn parse(
        &mut self,
        dir: Direction,
        input: &[u8],
        offset: u64,
        shared: Shared<'_>,
        clock: &mut dyn Clock,
        emit: &mut dyn FnMut(MessageRecord),
    ) -> StreamProgress {
        let cfg = shared.config;
        let limits = Limits {
            max_msg_len: cfg.max_msg_len,
            max_payload_capture: cfg.max_payload_log,
        };
        let mut stream = std::mem::take(&mut self.streams[dir.index()]);
        let mut pos = 0usize;
        let mut kept = 0usize;
        // Past the cap every message is still counted (flow and client counters, topic aliases,
        // version), and the types that matter still get a record; of the others only the last of
        // each run is kept, and it says how many before it were dropped.
        let mut held: Option<MessageRecord> = None;
        let progress = loop {
            match stream.step(input, &mut pos, offset, self.version, &limits) {
                Step::Continue => {}
                Step::Stop(p) => break p,
                Step::Item(StreamItem::Event(e)) => {
                    self.pending[dir.index()].insert(Event::Stream(e))
                }
                Step::Item(StreamItem::Message { msg, end, .. }) => {
                    let always = always_kept(msg.header.msg_type);
                    let rec = self.record(dir, msg, end, clock, shared.sources);
                    if kept < cfg.max_msgs_per_segment {
                        kept += 1;
                        emit(rec);
                    } else if always && self.budget.is_none_or(|b| b.has_room(0)) {
                        if let Some(h) = held.take() {
                            emit(h);
                        }
                        emit(rec);
                    } else if hold(&mut held, rec).is_some_and(always_kept) {
                        // Only while the budget is spent does a message that matters get here.
                        self.refused += 1;
                    }
                }
            }
        };
        if let Some(h) = held {
            emit(h);
        }
        self.streams[dir.index()] = stream;
        progress
    }

    /// At the end of `dir`'s stream, after `parse` answered "incomplete": `input` (stream offset
    /// `offset`) holds a message the peer never finished. It gets a record of its header, marked
    /// `truncated`, instead of vanishing with the flow.
    pub fn finish(
        &mut self,
        dir: Direction,
        input: &[u8],
        offset: u64,
        shared: Shared<'_>,
        clock: &mut dyn Clock,
        emit: &mut dyn FnMut(MessageRecord),
    ) {
        let mut pos = 0usize;
        let mut stream = std::mem::take(&mut self.streams[dir.index()]);
        let item = stream.finish(input, &mut pos, offset, self.version);
        self.streams[dir.index()] = stream;
        match item {
            Some(StreamItem::Message { msg, end, .. }) => {
                let rec = self.record(dir, msg, end, clock, shared.sources);
                emit(rec);
            }
            // Carried by the end-of-stream transaction (`take_pending`).
            Some(StreamItem::Event(e)) => self.pending[dir.index()].insert(Event::Stream(e)),
            None => {}
        }
    }

    fn record(
        &mut self,
        dir: Direction,
        mut msg: wire::Message,
        end: u64,
        clock: &mut dyn Clock,
        sources: Option<&SharedSourceTable>,
    ) -> MessageRecord {
        let mut events = std::mem::take(&mut self.pending[dir.index()]);
        for m in msg.malformations.iter() {
            events.insert(Event::Malformed(m));
        }
        if let Body::Publish(p) = &mut msg.body {
            resolve_topic_alias(&mut self.aliases[dir.index()], p);
        }
        let t = msg.header.msg_type;
        self.learn_alias_maximum(dir, &msg.body);
        if t == CONNECT {
            self.connects += 1;
            if self.connects > 1 {
                events.insert(Event::DoubleConnect);
            }
            if dir == Direction::ToServer {
                self.version = msg.version;
                if let Body::Connect(c) = &msg.body {
                    self.credentials = Some(credentials_hash(c));
                }
            }
        } else if dir == Direction::ToServer
            && self.stats.msg_count_in(Direction::ToServer) == 0
            && self.connects == 0
            && !self.midstream
        {
            events.insert(Event::MissingConnect);
        }
        if wrong_direction(t, dir) {
            events.insert(Event::WrongDirection);
        }
        if dir == Direction::ToServer
            && matches!(
                t,
                msg_type::PUBLISH | msg_type::SUBSCRIBE | msg_type::UNSUBSCRIBE
            )
        {
            self.used = true;
        }

        let carrier = clock.carrier(dir, end);
        let ts = carrier.map_or_else(|| clock.now(), |p| p.ts);
        self.last_ts = self.last_ts.max(ts);
        let facts = MessageFacts {
            msg_type: t,
            qos: msg.header.qos,
            dup: msg.header.dup,
            connack_code: match &msg.body {
                Body::Connack(c) => Some(c.return_code),
                _ => None,
            },
            wire_len: u32::try_from(msg.header.total_len()).unwrap_or(u32::MAX),
        };
        let flow = self.stats.observe(dir, facts, ts, clock.flow_start());
        let source_event = match (t, facts.connack_code) {
            // Only the first CONNECT makes the connection an open one (a second is an event).
            (CONNECT, _) if dir == Direction::ToServer && !self.counted_open => {
                self.counted_open = sources.is_some() && self.client.is_some();
                self.opened_at = ts;
                SourceEvent::Connect
            }
            (CONNECT, _) if dir == Direction::ToServer => SourceEvent::Other,
            // Only a refusal of the credentials is a failed login; a protocol-version refusal
            // before a client falls back to 3.1.1 is not.
            (_, Some(code)) if wire::is_auth_refusal(code) && dir == Direction::ToClient => {
                SourceEvent::FailedAuth(self.credentials)
            }
            _ => SourceEvent::Other,
        };
        let source = match (sources, self.client) {
            (Some(table), Some(addr)) => table.observe(addr, source_event, ts),
            _ => Default::default(),
        };
        // A refused login or a DISCONNECT ends the MQTT session, whenever TCP closes: from then
        // on the connection no longer holds one of the client's slots.
        let ends = match (t, facts.connack_code) {
            (_, Some(code)) => code != 0 && dir == Direction::ToClient,
            (msg_type::DISCONNECT, _) => dir == Direction::ToServer,
            _ => false,
        };
        if ends {
            self.close(sources);
        }
        MessageRecord {
            ctx: MessageContext {
                direction: dir,
                ts,
                timed_by_packet: carrier.is_some(),
                tcp_flags: carrier.map_or(0, |p| p.tcp_flags),
                tcp_len: carrier.map_or(0, |p| p.payload_len),
                flow,
                source,
            },
            events,
            msg,
            dropped: 0,
        }
    }
}

/// A stable hash of the credentials a CONNECT presents (user name and password, each with its
/// presence), so that refused logins can be counted by distinct secret without keeping it.
fn credentials_hash(c: &wire::Connect) -> u64 {
    use std::hash::{Hash, Hasher};
    // `DefaultHasher::new()` has fixed keys: the same credentials hash alike in every thread.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    c.username.as_ref().map(|u| u.value.as_bytes()).hash(&mut h);
    c.password.as_ref().map(|p| p.data.as_slice()).hash(&mut h);
    h.finish()
}

impl Session {
    /// MQTT 5 Topic Alias Maximum: the CONNECT's bounds the aliases the server may use, the
    /// CONNACK's those the client may use; absent means none.
    fn learn_alias_maximum(&mut self, dir: Direction, body: &Body) {
        let (props, other) = match (body, dir) {
            (Body::Connect(c), Direction::ToServer) => (&c.properties, Direction::ToClient),
            (Body::Connack(c), Direction::ToClient) => (&c.properties, Direction::ToServer),
            _ => return,
        };
        if let Some(p) = props {
            let max = p.topic_alias_maximum.unwrap_or(0);
            self.aliases[other.index()].set_maximum(max);
        }
    }
}

/// Message types that get a record even past `max-msgs-per-segment`: what an attack cannot do
/// without (connecting, authenticating, publishing, subscribing).
fn always_kept(msg_type: u8) -> bool {
    use msg_type::*;
    matches!(msg_type, CONNECT | CONNACK | PUBLISH | SUBSCRIBE)
}

/// Keeps `rec` as the last message of a run past the cap, dropping the one held before it (its
/// events and its own count carry over, so the kept record accounts for the whole run). Returns
/// the type of the message dropped, if any.
fn hold(held: &mut Option<MessageRecord>, mut rec: MessageRecord) -> Option<u8> {
    let prev = held.take();
    if let Some(prev) = &prev {
        rec.dropped = prev.dropped.saturating_add(1);
        rec.events.union(prev.events);
        rec.events
            .insert(Event::Stream(StreamEvent::TooManyMessages));
    }
    *held = Some(rec);
    prev.map(|p| p.msg.header.msg_type)
}

/// Learns or applies an MQTT 5 topic alias: a PUBLISH with an empty topic takes the topic its
/// alias was last set to (`topic_len` stays 0, as on the wire).
fn resolve_topic_alias(aliases: &mut TopicAliases, p: &mut wire::Publish) {
    let Some(alias) = p.properties.as_ref().and_then(|pr| pr.topic_alias) else {
        return;
    };
    if p.topic.value.is_empty() {
        if let Some(t) = aliases.get(alias) {
            p.topic.value = t.to_owned();
        }
    } else {
        aliases.set(alias, &p.topic.value);
    }
}

/// The direction a message type may travel in, for types only one side sends.
pub fn only_direction(msg_type: u8) -> Option<Direction> {
    use msg_type::*;
    match msg_type {
        CONNECT | SUBSCRIBE | UNSUBSCRIBE | PINGREQ => Some(Direction::ToServer),
        CONNACK | SUBACK | UNSUBACK | PINGRESP => Some(Direction::ToClient),
        _ => None,
    }
}

fn wrong_direction(t: u8, dir: Direction) -> bool {
    only_direction(t).is_some_and(|d| d != dir)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::flow::PacketLog;
    use crate::wire::Malformation;

    /// A clock over a packet log filled by the test, as the packet callback fills it.
    pub struct TestClock {
        pub log: PacketLog,
        pub now: Micros,
    }

    impl Clock for TestClock {
        fn carrier(&mut self, dir: Direction, offset: u64) -> Option<PacketFacts> {
            self.log.carrier(dir, 1, offset)
        }
        fn now(&self) -> Micros {
            self.now
        }
        fn flow_start(&self) -> Micros {
            0
        }
    }

    /// Every record of `data`, parsed by a fresh session with the default configuration.
    pub fn records(dir: Direction, data: &[u8]) -> Vec<MessageRecord> {
        let cfg = Config::default();
        let mut s = Session::new(false, None);
        let mut c = clock();
        let mut out = Vec::new();
        let shared = Shared {
            config: &cfg,
            sources: None,
        };
        s.parse(dir, data, 0, shared, &mut c, &mut |r| out.push(r));
        out
    }

    pub fn clock() -> TestClock {
        TestClock {
            log: PacketLog::new(64),
            now: 99_000_000,
        }
    }

    pub const CONNECT_V5: &[u8] = &[
        0x10, 0x10, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3c, 0x00, 0x00, 0x03,
        b'a', b'b', b'c',
    ];
    /// MQTT 5 PUBLISH QoS 0, topic "t", no properties, payload "hi".
    pub const PUBLISH_V5: &[u8] = &[0x30, 0x06, 0x00, 0x01, b't', 0x00, b'h', b'i'];
    /// The same bytes read as 3.1.1: the property length byte becomes payload.
    pub const CONNACK_OK: &[u8] = &[0x20, 0x02, 0x00, 0x00];

    fn run(
        s: &mut Session,
        dir: Direction,
        input: &[u8],
        offset: u64,
        clock: &mut TestClock,
    ) -> (StreamProgress, Vec<MessageRecord>) {
        let cfg = Config::default();
        let mut out = Vec::new();
        let shared = Shared {
            config: &cfg,
            sources: None,
        };
        let p = s.parse(dir, input, offset, shared, clock, &mut |r| out.push(r));
        (p, out)
    }

    /// A PUBLISH whose length says 539 bytes, of which the peer sent 30 before closing: at the
    /// stream's end it is recorded, header only, as truncated (it used to vanish).
    #[test]
    fn message_cut_by_the_end_of_the_stream_is_recorded() {
        let mut s = Session::new(false, None);
        let mut c = clock();
        let (_, recs) = run(&mut s, Direction::ToServer, CONNECT_V5, 0, &mut c);
        assert_eq!(recs.len(), 1);
        let mut cut = vec![0x32, 0x9b, 0x04, 0x00, 0x11];
        cut.extend_from_slice(b"home/kitchen/plug\x00\x02{\"v\":550}");
        let off = CONNECT_V5.len() as u64;
        let (p, recs) = run(&mut s, Direction::ToServer, &cut, off, &mut c);
        assert!(recs.is_empty());
        let StreamProgress::Incomplete { consumed: 0, .. } = p else {
            panic!("{p:?}")
        };
        let cfg = Config::default();
        let mut out = Vec::new();
        let shared = Shared {
            config: &cfg,
            sources: None,
        };
        s.finish(Direction::ToServer, &cut, off, shared, &mut c, &mut |r| {
            out.push(r)
        });
        assert_eq!(out.len(), 1, "the cut message vanished");
        let r = &out[0];
        assert_eq!(r.msg.header.msg_type, msg_type::PUBLISH);
        assert_eq!(r.msg.header.remaining_len, 539);
        assert!(r.events.contains(Event::Malformed(Malformation::Truncated)));
        assert_eq!(
            r.ctx.flow.msg_index, 2,
            "counted as the connection's second message"
        );
        // Nothing more to finish once it was recorded, and nothing at all for an empty rest.
        let mut again = Vec::new();
        s.finish(
            Direction::ToServer,
            &[],
            off + cut.len() as u64,
            shared,
            &mut c,
            &mut |r| again.push(r),
        );
        assert!(again.is_empty());
    }

    /// After a gap the boundary resynchronisation picks is a guess: bytes cut by the end of the
    /// stream there are reported as skipped, not as an invented message.
    #[test]
    fn unconfirmed_boundary_at_the_end_is_skipped_not_invented() {
        let mut s = Session::new(false, None);
        let mut c = clock();
        run(&mut s, Direction::ToServer, CONNECT_V5, 0, &mut c);
        s.on_gap(Direction::ToServer);
        s.take_pending(Direction::ToServer);
        let off = 500;
        // "bc" looks like a PUBREL announcing 99 bytes.
        let (p, recs) = run(&mut s, Direction::ToServer, b"abc", off, &mut c);
        assert!(recs.is_empty());
        let StreamProgress::Incomplete { consumed, .. } = p else {
            panic!("{p:?}")
        };
        let cfg = Config::default();
        let shared = Shared {
            config: &cfg,
            sources: None,
        };
        let rest = &b"abc"[consumed as usize..];
        let mut out = Vec::new();
        s.finish(
            Direction::ToServer,
            rest,
            off + u64::from(consumed),
            shared,
            &mut c,
            &mut |r| out.push(r),
        );
        assert!(
            out.is_empty(),
            "a message was invented: {:?}",
            out[0].msg.header
        );
        let pending = s.take_pending(Direction::ToServer);
        assert!(pending.contains(Event::Stream(StreamEvent::Resync)));
    }

    #[test]
    fn version_switches_within_one_slice() {
        let mut s = Session::new(false, None);
        let mut c = clock();
        let data = [CONNECT_V5, PUBLISH_V5].concat();
        let (p, recs) = run(&mut s, Direction::ToServer, &data, 0, &mut c);
        assert_eq!(p, StreamProgress::Done);
        assert_eq!(recs.len(), 2);
        assert_eq!(s.version(), ProtocolVersion::V5);
        match &recs[1].msg.body {
            Body::Publish(p) => assert_eq!(p.payload, b"hi"),
            other => panic!("{other:?}"),
        }
        assert!(
            recs.iter().all(|r| r.events.is_empty()),
            "{:?}",
            recs[1].events
        );
    }

    #[test]
    fn message_split_across_slices_asks_for_the_rest() {
        let mut s = Session::new(false, None);
        let mut c = clock();
        let (p, recs) = run(&mut s, Direction::ToServer, &CONNECT_V5[..7], 0, &mut c);
        assert!(recs.is_empty());
        let StreamProgress::Incomplete { consumed, needed } = p else {
            panic!("{p:?}")
        };
        assert_eq!(consumed, 0);
        assert_eq!(needed as usize, CONNECT_V5.len());
        let (p, recs) = run(&mut s, Direction::ToServer, CONNECT_V5, 0, &mut c);
        assert_eq!(p, StreamProgress::Done);
        assert_eq!(recs.len(), 1);
    }

    #[test]
    fn timed_by_the_segment_holding_the_last_byte() {
        let mut s = Session::new(false, None);
        let mut c = clock();
        let seg = |ts, seq, len| PacketFacts {
            ts,
            seq,
            payload_len: len,
            tcp_flags: 0x18,
        };
        // CONNECT in two segments (seq starts at 1 = base), then CONNACK from the server.
        c.log.record(Direction::ToServer, seg(1_000_000, 1, 10));
        c.log.record(Direction::ToServer, seg(1_500_000, 11, 8));
        c.log.record(Direction::ToClient, seg(1_600_000, 1, 4));
        let (_, recs) = run(&mut s, Direction::ToServer, CONNECT_V5, 0, &mut c);
        assert_eq!(recs[0].ctx.ts, 1_500_000);
        assert!(recs[0].ctx.timed_by_packet);
        assert_eq!(recs[0].ctx.tcp_len, 8);
        let (_, recs) = run(&mut s, Direction::ToClient, CONNACK_OK, 0, &mut c);
        assert_eq!(recs[0].ctx.ts, 1_600_000);
        assert!((recs[0].ctx.flow.time_delta - 0.1).abs() < 1e-9);
        // No segment known: the flow's latest time, and the record says so.
        let (_, recs) = run(&mut s, Direction::ToServer, PUBLISH_V5, 18, &mut c);
        assert!(!recs[0].ctx.timed_by_packet);
        assert_eq!(recs[0].ctx.ts, c.now);
    }

    #[test]
    fn missing_connect_and_wrong_direction() {
        let mut s = Session::new(false, None);
        let mut c = clock();
        let (_, recs) = run(&mut s, Direction::ToServer, CONNACK_OK, 0, &mut c);
        assert!(recs[0].events.contains(Event::MissingConnect));
        assert!(recs[0].events.contains(Event::WrongDirection));
        // Picked up midstream: no missing_connect.
        let mut s = Session::new(true, None);
        let (_, recs) = run(&mut s, Direction::ToServer, PUBLISH_V5, 0, &mut c);
        assert_eq!(recs.len(), 1);
        assert!(!recs[0].events.contains(Event::MissingConnect));
    }

    #[test]
    fn gap_then_resync_on_the_next_plausible_header() {
        let mut s = Session::new(false, None);
        let mut c = clock();
        run(&mut s, Direction::ToServer, CONNECT_V5, 0, &mut c);
        s.on_gap(Direction::ToServer);
        // The data after the gap starts inside a message: three bytes of garbage, then a message.
        let data = [&[0x61, 0x62, 0xff][..], PUBLISH_V5].concat();
        let (p, recs) = run(&mut s, Direction::ToServer, &data, 100, &mut c);
        assert_eq!(p, StreamProgress::Done);
        assert_eq!(recs.len(), 1, "{recs:?}");
        assert_eq!(recs[0].msg.header.msg_type, 3);
        assert!(recs[0].events.contains(Event::Stream(StreamEvent::Gap)));
        assert!(recs[0].events.contains(Event::Stream(StreamEvent::Resync)));
    }

    #[test]
    fn too_many_messages_in_one_slice_are_counted_not_kept() {
        let cfg = Config {
            max_msgs_per_segment: 3,
            ..Config::default()
        };
        let mut s = Session::new(false, None);
        let mut c = clock();
        let data: Vec<u8> = [CONNECT_V5]
            .into_iter()
            .chain([&[0xC0u8, 0x00][..]; 9])
            .flatten()
            .copied()
            .collect();
        let mut out = Vec::new();
        let shared = Shared {
            config: &cfg,
            sources: None,
        };
        s.parse(Direction::ToServer, &data, 0, shared, &mut c, &mut |r| {
            out.push(r)
        });
        assert_eq!(out.len(), 4);
        let ev = Event::Stream(StreamEvent::TooManyMessages);
        assert!(out[3].events.contains(ev));
        assert_eq!((out[3].dropped, out[3].ctx.flow.msg_index), (6, 10));
        // The event rode on this slice's own record, not on the next message.
        let (_, recs) = run(&mut s, Direction::ToServer, PUBLISH_V5, 200, &mut c);
        assert!(!recs[0].events.contains(ev));
        assert_eq!(recs[0].ctx.flow.msg_index, 11);
    }

    /// One flush of 5,000 PINGREQs then a PUBLISH, default configuration: every message is
    /// counted, the PUBLISH gets its record, and the records that were dropped are accounted for
    /// by a record carrying `too_many_messages` and how many.
    #[test]
    fn messages_past_the_cap_are_counted_and_publish_is_kept() {
        let mut data: Vec<u8> = [0xC0u8, 0x00].repeat(5_000);
        data.extend_from_slice(PUBLISH_V5);
        let recs = records(Direction::ToServer, &data);
        let last = recs.last().expect("records");
        assert_eq!(
            last.msg.header.msg_type,
            msg_type::PUBLISH,
            "PUBLISH vanished"
        );
        assert_eq!(last.ctx.flow.msg_index, 5_001, "counters stopped");
        assert_eq!(last.ctx.flow.msg_count_ts, 5_001);
        let carriers: Vec<&MessageRecord> = recs
            .iter()
            .filter(|r| {
                r.events
                    .contains(Event::Stream(StreamEvent::TooManyMessages))
            })
            .collect();
        assert_eq!(carriers.len(), 1, "one record carries the event");
        let dropped: u64 = recs.iter().map(|r| u64::from(r.dropped)).sum();
        assert!(dropped > 0);
        assert_eq!(
            recs.len() as u64 + dropped,
            5_001,
            "every message accounted for"
        );
        assert_eq!(u64::from(carriers[0].dropped), dropped);
        // The carrier is the last message of the dropped run, timed and counted as itself.
        assert_eq!(carriers[0].msg.header.msg_type, msg_type::PINGREQ);
        assert_eq!(carriers[0].ctx.flow.msg_index, 5_000);
    }

    /// Messages that matter get a record past the cap; the rest are dropped and counted, and the
    /// event does not wait for a later message.
    #[test]
    fn past_the_cap_connect_publish_subscribe_connack_are_kept() {
        let cfg = Config {
            max_msgs_per_segment: 2,
            ..Config::default()
        };
        let subscribe = [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x00];
        let ping = [0xC0, 0x00];
        let to_server: Vec<u8> = [
            &ping[..],
            &ping,
            &ping,
            CONNECT_V5,
            &ping,
            &ping,
            &ping,
            PUBLISH_V5,
            &subscribe,
            &ping,
            &ping,
        ]
        .concat();
        let mut s = Session::new(false, None);
        let mut c = clock();
        let shared = Shared {
            config: &cfg,
            sources: None,
        };
        let mut out = Vec::new();
        s.parse(
            Direction::ToServer,
            &to_server,
            0,
            shared,
            &mut c,
            &mut |r| out.push(r),
        );
        let types: Vec<u8> = out.iter().map(|r| r.msg.header.msg_type).collect();
        assert_eq!(types, [12, 12, 12, 1, 12, 3, 8, 12], "{out:?}");
        let dropped: Vec<u32> = out.iter().map(|r| r.dropped).collect();
        assert_eq!(dropped, [0, 0, 0, 0, 2, 0, 0, 1]);
        let ev = Event::Stream(StreamEvent::TooManyMessages);
        let flagged: Vec<bool> = out.iter().map(|r| r.events.contains(ev)).collect();
        assert_eq!(
            flagged,
            [false, false, false, false, true, false, false, true]
        );
        assert_eq!(out.last().map(|r| r.ctx.flow.msg_index), Some(11));
        // The server's side: CONNACKs are kept too.
        let to_client: Vec<u8> = [CONNACK_OK; 5].concat();
        let mut out = Vec::new();
        s.parse(
            Direction::ToClient,
            &to_client,
            0,
            shared,
            &mut c,
            &mut |r| out.push(r),
        );
        assert_eq!(out.len(), 5);
        assert!(out.iter().all(|r| r.dropped == 0 && !r.events.contains(ev)));
    }

    /// With the memory budget spent, messages that matter past the cap are no longer kept beyond
    /// it: they are counted, dropped like the others, and the refusals are reported.
    #[test]
    fn spent_budget_drops_past_the_cap_messages_that_matter_too() {
        let cfg = Config {
            max_msgs_per_segment: 2,
            ..Config::default()
        };
        let data: Vec<u8> = [PUBLISH_V5; 6].concat();
        static SPENT: Budget = Budget::new();
        SPENT.set_cap(1 << 20);
        SPENT.charge(2 << 20);
        let mut s = Session::new(true, None);
        s.set_budget(&SPENT);
        let mut c = clock();
        let shared = Shared {
            config: &cfg,
            sources: None,
        };
        let mut out = Vec::new();
        s.parse(Direction::ToServer, &data, 0, shared, &mut c, &mut |r| {
            out.push(r)
        });
        let dropped: Vec<u32> = out.iter().map(|r| r.dropped).collect();
        assert_eq!(dropped, [0, 0, 3]);
        assert_eq!(s.take_refused(), 3, "refused: the three dropped PUBLISHes");
        assert_eq!(s.take_refused(), 0);
        assert_eq!(out.last().map(|r| r.ctx.flow.msg_index), Some(6));
    }

    #[test]
    fn topic_alias_is_resolved_per_direction() {
        let mut s = Session::new(false, None);
        let mut c = clock();
        run(&mut s, Direction::ToServer, CONNECT_V5, 0, &mut c);
        // PUBLISH "ab" with topic alias 1, then PUBLISH with empty topic and alias 1.
        let set = [0x30, 0x08, 0x00, 0x02, b'a', b'b', 0x03, 0x23, 0x00, 0x01];
        let use_ = [0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01];
        let (_, recs) = run(
            &mut s,
            Direction::ToServer,
            &[set, [0; 10]].concat()[..10],
            18,
            &mut c,
        );
        assert_eq!(recs.len(), 1);
        let (_, recs) = run(&mut s, Direction::ToServer, &use_, 28, &mut c);
        match &recs[0].msg.body {
            Body::Publish(p) => {
                assert_eq!(p.topic.value, "ab");
                assert_eq!(p.topic.len, 0);
            }
            other => panic!("{other:?}"),
        }
        // The other direction has its own aliases.
        let (_, recs) = run(&mut s, Direction::ToClient, &use_, 0, &mut c);
        match &recs[0].msg.body {
            Body::Publish(p) => assert_eq!(p.topic.value, ""),
            other => panic!("{other:?}"),
        }
    }

    /// Topic aliases are kept only up to what the connection negotiated: the server's CONNACK
    /// Topic Alias Maximum for the client's PUBLISHes, the CONNECT's for the server's (none when
    /// absent), so a client cannot make the plugin hold aliases the broker would refuse.
    #[test]
    fn topic_aliases_are_capped_at_the_negotiated_maximum() {
        let mut s = Session::new(false, None);
        let mut c = clock();
        run(&mut s, Direction::ToServer, CONNECT_V5, 0, &mut c);
        // CONNACK 5.0 with Topic Alias Maximum 2.
        let connack = [0x20, 0x06, 0x00, 0x00, 0x03, 0x22, 0x00, 0x02];
        run(&mut s, Direction::ToClient, &connack, 0, &mut c);
        let set = |alias: u8, topic: u8| [0x30, 0x07, 0x00, 0x01, topic, 0x03, 0x23, 0x00, alias];
        let use_ = |alias: u8| [0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, alias];
        let mut off = 18;
        for (alias, topic) in [(1, b'a'), (2, b'b'), (3, b'c'), (200, b'd')] {
            run(&mut s, Direction::ToServer, &set(alias, topic), off, &mut c);
            off += 9;
        }
        let topic_of = |recs: &[MessageRecord]| match &recs[0].msg.body {
            Body::Publish(p) => p.topic.value.clone(),
            other => panic!("{other:?}"),
        };
        let mut resolved = Vec::new();
        for alias in [1, 2, 3, 200] {
            let (_, recs) = run(&mut s, Direction::ToServer, &use_(alias), off, &mut c);
            off += 8;
            resolved.push(topic_of(&recs));
        }
        assert_eq!(resolved, ["a", "b", "", ""]);
        // The CONNECT allowed the server no alias at all.
        run(&mut s, Direction::ToClient, &set(1, b'z'), 8, &mut c);
        let (_, recs) = run(&mut s, Direction::ToClient, &use_(1), 17, &mut c);
        assert_eq!(topic_of(&recs), "");
    }

    #[test]
    fn oversized_message_is_recorded_and_its_body_skipped_across_slices() {
        let cfg = Config {
            max_msg_len: 64,
            ..Config::default()
        };
        let mut s = Session::new(false, None);
        let mut c = clock();
        let shared = Shared {
            config: &cfg,
            sources: None,
        };
        let mut out = Vec::new();
        // PUBLISH with remaining length 300: header and part of the body in the first slice.
        let mut big = vec![0x30, 0xAC, 0x02, 0x00, 0x01, b't'];
        big.resize(100, b'x');
        let p = s.parse(Direction::ToServer, &big, 0, shared, &mut c, &mut |r| {
            out.push(r)
        });
        assert_eq!(p, StreamProgress::Done);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].msg.header.remaining_len, 300);
        assert!(matches!(out[0].msg.body, Body::Unparsed));
        assert!(out[0]
            .events
            .contains(Event::Stream(StreamEvent::MessageTooLarge)));
        let mut rest = vec![b'x'; 203];
        rest.extend_from_slice(PUBLISH_V5);
        s.parse(Direction::ToServer, &rest, 100, shared, &mut c, &mut |r| {
            out.push(r)
        });
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[1].msg.header.msg_type, 3);
        assert!(out[1].events.is_empty(), "{:?}", out[1].events);
    }

    #[test]
    fn unframeable_header_is_recorded_then_resynced() {
        let mut s = Session::new(false, None);
        let mut c = clock();
        run(&mut s, Direction::ToServer, CONNECT_V5, 0, &mut c);
        // A 5-byte remaining length, then a good message.
        let data = [&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F][..], PUBLISH_V5].concat();
        let (p, recs) = run(&mut s, Direction::ToServer, &data, 18, &mut c);
        assert_eq!(p, StreamProgress::Done);
        assert_eq!(recs.len(), 2, "{recs:?}");
        assert!(recs[0]
            .events
            .contains(Event::Malformed(Malformation::BadRemainingLength)));
        assert!(recs[0].events.any_malformation());
        assert_eq!(recs[1].msg.header.msg_type, 3);
    }
}

#[cfg(test)]
mod source_tests {
    use super::tests::{clock, CONNACK_OK};
    use super::*;

    /// A 3.1.1 CONNECT with user "u" and password `pw`.
    fn connect_with_password(pw: &[u8]) -> Vec<u8> {
        let mut body = vec![0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0xC2, 0x00, 0x3c];
        body.extend_from_slice(&[0x00, 0x01, b'c', 0x00, 0x01, b'u']);
        body.extend_from_slice(&[0x00, pw.len() as u8]);
        body.extend_from_slice(pw);
        let mut m = vec![0x10, body.len() as u8];
        m.extend(body);
        m
    }
    const CONNACK_REFUSED: &[u8] = &[0x20, 0x02, 0x00, 0x05];

    /// One connection from 10.0.0.1: CONNECT with `pw`, answered with `connack`; the session
    /// (left open) and the records of both messages.
    fn login(
        table: &SharedSourceTable,
        pw: &[u8],
        connack: &[u8],
    ) -> (Session, Vec<MessageRecord>) {
        let cfg = Config::default();
        let shared = Shared {
            config: &cfg,
            sources: Some(table),
        };
        let mut s = Session::new(false, Some(IpAddr::from([10, 0, 0, 1])));
        let mut c = clock();
        let mut out = Vec::new();
        let data = connect_with_password(pw);
        s.parse(Direction::ToServer, &data, 0, shared, &mut c, &mut |r| {
            out.push(r)
        });
        s.parse(Direction::ToClient, connack, 0, shared, &mut c, &mut |r| {
            out.push(r)
        });
        (s, out)
    }

    /// A refused login with `pw`, the connection closed by the caller when `close`.
    fn attempt(table: &SharedSourceTable, pw: &[u8], close: bool) -> Vec<MessageRecord> {
        let (mut s, out) = login(table, pw, CONNACK_REFUSED);
        if close {
            s.close(Some(table));
        }
        out
    }

    #[test]
    fn refused_credentials_are_counted_by_distinct_secret() {
        let table = SharedSourceTable::new(16, 60);
        for _ in 0..5 {
            attempt(&table, b"expired", true);
        }
        let last = attempt(&table, b"expired", true);
        assert_eq!(last[1].ctx.source.failed_auth, 6);
        assert_eq!(last[1].ctx.source.refused_secrets, 1);
        let guess = attempt(&table, b"guess-1", true);
        assert_eq!(guess[1].ctx.source.refused_secrets, 2);
    }

    #[test]
    fn a_refused_login_frees_its_slot_at_once() {
        let table = SharedSourceTable::new(16, 60);
        for _ in 0..5 {
            // Never closed by the caller: the refusal alone ends the session.
            attempt(&table, b"x", false);
        }
        let sixth = attempt(&table, b"x", false);
        assert_eq!(
            sixth[0].ctx.source.open, 1,
            "five refused connections hold no slot"
        );
        assert_eq!(
            sixth[1].ctx.source.open, 1,
            "counted until its refusal is seen"
        );
    }

    /// SlowITe: connections opened before their client was flagged, idle since, are told apart
    /// when they end; one that published, one opened after the flag, or any connection of a
    /// client never flagged, is not. Each connection is judged once.
    #[test]
    fn idle_connections_of_a_flagged_client_are_told_at_the_end() {
        let client = IpAddr::from([10, 0, 0, 1]);
        let table = SharedSourceTable::new(16, 60).with_flag_level(5);
        let (mut idle, _) = accepted(&table);
        let (mut never_flagged, _) = accepted(&table);
        let (mut busy, _) = accepted(&table);
        let cfg = Config::default();
        let shared = Shared {
            config: &cfg,
            sources: Some(&table),
        };
        let publish = [0x30, 0x05, 0x00, 0x01, b't', b'h', b'i'];
        busy.parse(
            Direction::ToServer,
            &publish,
            100,
            shared,
            &mut clock(),
            &mut |_| {},
        );
        let sec = 1_000_000;
        assert!(
            !never_flagged.idle_under_flagged_client(Some(&table), 150 * sec),
            "not flagged yet"
        );
        for _ in 0..5 {
            table.observe(client, SourceEvent::Anomaly, 200 * sec);
        }
        assert!(idle.idle_under_flagged_client(Some(&table), 900 * sec));
        assert!(
            !idle.idle_under_flagged_client(Some(&table), 900 * sec),
            "judged twice"
        );
        assert!(
            !busy.idle_under_flagged_client(Some(&table), 900 * sec),
            "it published"
        );
        // Flagged before it connected: its own conduct decides, and it did nothing wrong.
        let early = SharedSourceTable::new(16, 60).with_flag_level(5);
        accepted(&early);
        for _ in 0..5 {
            early.observe(client, SourceEvent::Anomaly, sec);
        }
        let (mut later, _) = accepted(&early);
        assert!(!later.idle_under_flagged_client(Some(&early), 900 * sec));
        // An ended session (refused, or after DISCONNECT) holds nothing.
        let (mut refused, _) = login(&table, b"x", CONNACK_REFUSED);
        assert!(!refused.idle_under_flagged_client(Some(&table), 900 * sec));
    }

    /// A connection from 10.0.0.1 with an accepted login, left open.
    fn accepted(table: &SharedSourceTable) -> (Session, Vec<MessageRecord>) {
        login(table, b"ok", CONNACK_OK)
    }

    #[test]
    fn open_connections_count_until_closed_or_disconnected() {
        let table = SharedSourceTable::new(16, 60);
        let mut sessions: Vec<Session> = (0..3).map(|_| accepted(&table).0).collect();
        let (mut fourth, recs) = accepted(&table);
        assert_eq!(recs[0].ctx.source.open, 4);
        // Closing twice (the flow ends after a DISCONNECT) counts once.
        sessions[0].close(Some(&table));
        sessions[0].close(Some(&table));
        let cfg = Config::default();
        let shared = Shared {
            config: &cfg,
            sources: Some(&table),
        };
        let mut out = Vec::new();
        let disconnect = [0xE0, 0x00];
        fourth.parse(
            Direction::ToServer,
            &disconnect,
            100,
            shared,
            &mut clock(),
            &mut |r| out.push(r),
        );
        fourth.close(Some(&table));
        let (_, fifth) = accepted(&table);
        assert_eq!(fifth[0].ctx.source.open, 3, "two of five ended");
    }
}
