//! Drives the whole pure path of the plugin on arbitrary bytes, the way the Suricata glue does:
//! a `Session` fed both directions of a connection in slices cut at fuzzer-chosen points (with
//! gaps, and with the re-delivery Suricata does after an "incomplete" answer), then per message
//! the feature vector, scaling + scoring with the native backend of `tests/models/ae11.tflite` (the autoencoder's architecture at the schema's width),
//! and the EVE record written into a `ValueSink`.
//!
//! Input layout:
//!   byte 0  options: bit 0 midstream, bit 1 per-source table on, bit 2 log passwords,
//!           bit 3 small limits (64-byte messages, 4-byte payload log, 3 messages per slice),
//!           bit 4 log features, bits 5-7 client address
//!   byte 1  threshold choice and clock step
//!   then chunks: [ctl, len] + `len` bytes. ctl bit 0: direction (0 to_server, 1 to_client);
//!           bit 1: a gap of `len + 1` bytes instead of data (no bytes follow);
//!           bits 2-7: microseconds / 64 the segment arrives after the previous one.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use mqtt_ml::config::Config;
use mqtt_ml::eve::{write_record, Assessment, RecordOptions, ValueSink};
use mqtt_ml::features::{extract, schema_json, WIDTH};
use mqtt_ml::flow::{
    Clock, Direction, MessageRecord, Micros, PacketFacts, PacketLog, Session, Shared,
    SharedSourceTable, StreamProgress,
};
use mqtt_ml::model::{Backend, LoadedModel, Scorer};
use mqtt_ml::scoring::{score, ModelMetadata};
use serde_json::json;

struct Engine {
    scorer: Mutex<Box<dyn Scorer>>,
    meta: ModelMetadata,
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/models/ae11.tflite");
        let model = LoadedModel::load(&path, Backend::Native, None).expect("load ae11.tflite");
        model.check_width(WIDTH, "fuzz").expect("the model has the schema's width");
        // Ranges wide enough that ordinary values land inside and extreme ones are clipped.
        let mut max = vec![12.0; WIDTH];
        max[3] = 15.0;
        let meta = ModelMetadata::from_json(json!({
            "schema": schema_json(),
            "scaling": {"min": vec![0.0; WIDTH], "max": max},
            "thresholds": {"p95": 0.001, "p99": 0.01, "p999": 0.1, "default": "p99"},
        }))
        .expect("metadata");
        Engine {
            scorer: Mutex::new(model.new_scorer().expect("scorer")),
            meta,
        }
    })
}

/// Packet facts as the flow update callback would have recorded them.
struct FuzzClock {
    log: PacketLog,
    now: Micros,
    start: Micros,
}

impl Clock for FuzzClock {
    fn carrier(&mut self, dir: Direction, offset: u64) -> Option<PacketFacts> {
        self.log.carrier(dir, 1, offset)
    }
    fn now(&self) -> Micros {
        self.now
    }
    fn flow_start(&self) -> Micros {
        self.start
    }
}

/// One direction's unconsumed bytes, as Suricata keeps them after an "incomplete" answer.
#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    offset: u64,
    /// Bytes the parser asked for from `offset` before it wants to be called again.
    needed: usize,
    /// Stream offset of the next byte to arrive.
    next: u64,
}

struct Run<'a> {
    session: Session,
    clock: FuzzClock,
    cfg: &'a Config,
    sources: Option<&'a SharedSourceTable>,
    records: Vec<MessageRecord>,
}

impl Run<'_> {
    fn feed(&mut self, dir: Direction, p: &mut Pending) {
        if p.buf.len() < p.needed || p.buf.is_empty() {
            return;
        }
        let shared = Shared {
            config: self.cfg,
            sources: self.sources,
        };
        let before = self.records.len();
        let records = &mut self.records;
        let progress =
            self.session
                .parse(dir, &p.buf, p.offset, shared, &mut self.clock, &mut |r| {
                    records.push(r)
                });
        // Past max-msgs-per-segment only the types an attack needs (CONNECT, CONNACK, PUBLISH,
        // SUBSCRIBE) are kept, plus the last of each run of others: never two others in a row.
        let past_cap = &self.records[(before + self.cfg.max_msgs_per_segment).min(self.records.len())..];
        let needed = |r: &MessageRecord| matches!(r.msg.header.msg_type, 1 | 2 | 3 | 8);
        assert!(past_cap.windows(2).all(|w| needed(&w[0]) || needed(&w[1])));
        match progress {
            StreamProgress::Done => {
                p.offset += p.buf.len() as u64;
                p.buf.clear();
                p.needed = 0;
            }
            StreamProgress::Incomplete { consumed, needed } => {
                let consumed = consumed as usize;
                assert!(consumed <= p.buf.len(), "consumed past the input");
                p.buf.drain(..consumed);
                p.offset += consumed as u64;
                // Asking for no more than is already there would make Suricata spin.
                assert!(
                    needed as usize > p.buf.len(),
                    "incomplete: needs {needed}, has {}",
                    p.buf.len()
                );
                p.needed = needed as usize;
            }
        }
    }
}

/// serde_json turns a non-finite float into null; the record has no other nulls.
fn has_null(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Array(a) => a.iter().any(has_null),
        serde_json::Value::Object(m) => m.values().any(has_null),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (opts, step) = (data[0], data[1]);
    let mut cfg = Config {
        log_passwords: opts & 4 != 0,
        ..Config::default()
    };
    if opts & 8 != 0 {
        cfg.max_msg_len = 64;
        cfg.max_payload_log = 4;
        cfg.max_msgs_per_segment = 3;
    }
    let log_features = opts & 16 != 0;
    let client = IpAddr::V4(Ipv4Addr::new(10, 0, 0, opts >> 5));
    let table = SharedSourceTable::new(4, 1 + u64::from(step & 3));
    let sources = (opts & 2 != 0).then_some(&table);
    let eng = engine();
    let threshold = match step >> 6 {
        0 => eng.meta.thresholds.default_value(),
        1 => eng.meta.thresholds.p95,
        2 => eng.meta.thresholds.p999,
        _ => 0.0,
    };

    let start: Micros = 1_700_000_000_000_000;
    let mut run = Run {
        session: Session::new(opts & 1 != 0, Some(client)),
        clock: FuzzClock {
            log: PacketLog::new(if opts & 8 != 0 { 2 } else { 64 }),
            now: start,
            start,
        },
        cfg: &cfg,
        sources,
        records: Vec::new(),
    };
    let mut pending: [Pending; 2] = Default::default();
    let mut fed = 0usize;
    let mut rest = &data[2..];
    while rest.len() >= 2 {
        let (ctl, len) = (rest[0], usize::from(rest[1]));
        rest = &rest[2..];
        let dir = if ctl & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        run.clock.now += u64::from(ctl >> 2) * 64 + u64::from(step >> 2 & 0xf);
        let p = &mut pending[dir.index()];
        if ctl & 2 != 0 {
            // A gap: Suricata drops what it held and tells the parser.
            let gap = len as u64 + 1;
            p.next += gap;
            p.buf.clear();
            p.offset = p.next;
            p.needed = 0;
            run.session.on_gap(dir);
            continue;
        }
        let n = len.min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        if n == 0 {
            continue;
        }
        run.clock.log.record(
            dir,
            PacketFacts {
                ts: run.clock.now,
                seq: (p.next as u32).wrapping_add(1),
                payload_len: n as u16,
                tcp_flags: 0x18,
            },
        );
        p.next += n as u64;
        p.buf.extend_from_slice(chunk);
        fed += n;
        run.feed(dir, p);
    }

    // Every message is at least two bytes of the input.
    assert!(
        run.records.len() * 2 <= fed,
        "{} records from {fed} bytes",
        run.records.len()
    );

    let mut scorer = eng.scorer.lock().unwrap_or_else(|e| e.into_inner());
    let mut counted = 0u64;
    for r in &run.records {
        // Messages dropped past max-msgs-per-segment are still counted: the record after them
        // says how many.
        counted += 1 + u64::from(r.dropped);
        assert_eq!(r.ctx.flow.msg_index, counted, "msg_index out of sequence");
        assert!(r.ctx.flow.time_delta >= 0.0 && r.ctx.flow.time_relative >= 0.0);
        let raw = extract(r);
        assert!(
            raw.iter().all(|v| v.is_finite()),
            "non-finite feature: {raw:?}"
        );
        let s = score(scorer.as_mut(), &eng.meta.scaling, threshold, &raw).expect("score");
        assert!(s.score.is_finite() && s.score >= 0.0, "score {}", s.score);
        assert!(
            s.score <= 1.0,
            "scaled inputs and sigmoid outputs: error <= 1"
        );
        assert_eq!(s.anomaly, s.score > threshold);
        for (k, (idx, err)) in s.top.iter().enumerate() {
            assert!(usize::from(*idx) < WIDTH && err.is_finite() && *err >= 0.0);
            if k > 0 {
                assert!(s.top[k - 1].1 >= *err, "top errors not ordered");
            }
        }
        let mut sink = ValueSink::new();
        write_record(
            &mut sink,
            r,
            Assessment {
                scored: Some(&s),
                features: log_features.then_some(&raw),
            },
            // The full record writes every field: the most code under the fuzzer.
            RecordOptions {
                log_passwords: cfg.log_passwords,
                full: true,
            },
        )
        .expect("write_record");
        let v = sink.finish();
        let obj = v["mqtt_ml"].as_object().expect("mqtt_ml object");
        assert_eq!(obj["msg_index"].as_u64(), Some(counted));
        assert!(obj["score"].as_f64().is_some_and(|x| x.is_finite()));
        if !cfg.log_passwords {
            assert!(!obj.contains_key("passwd"), "password logged");
        }
        if let Some(m) = obj.get("msg").and_then(|m| m.as_str()) {
            assert!(m.len() <= cfg.max_payload_log, "payload log over the limit");
        }
        assert!(!has_null(&v), "a NaN or infinity became null: {v}");
        serde_json::to_string(&v).expect("serialise");
    }
});
