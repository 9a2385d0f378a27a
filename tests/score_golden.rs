//! Scores pinned to golden values: the shipped model (models/mqtt-ml.tflite) on both backends,
//! over parsed MQTT messages and seeded random feature vectors, must give the scores and top
//! features recorded in tests/golden/scores-<backend>.txt within 1e-6 relative. The files were
//! written by the scoring code as it was before its speed-ups, with
//!
//!     MQTT_ML_WRITE_GOLDEN=1 cargo test --release --test score_golden
//!
//! so any later change to scaling, the forward passes, the error or the top-3 that moves a score
//! fails here. (The feature vector is src/features' business: the random vectors test scoring
//! without it, the parsed messages with it.) Each file's first line names the model file (FNV-1a
//! hash of models/mqtt-ml.tflite and .json) and the feature schema it was made with; a new model or
//! schema fails the test with that message, and the files must then be written again with the
//! command above, from scoring code known to be right.
use std::fmt::Write as _;
use std::path::PathBuf;

use mqtt_ml::config::Config;
use mqtt_ml::features::{extract, RawVector, SCHEMA_VERSION, WIDTH};
use mqtt_ml::flow::{Clock, Direction, MessageRecord, Micros, PacketFacts, Session, Shared};
use mqtt_ml::model::{Backend, LoadedModel};
use mqtt_ml::scoring::{score, ModelMetadata};

struct StepClock(Micros);

impl Clock for StepClock {
    fn carrier(&mut self, _dir: Direction, offset: u64) -> Option<PacketFacts> {
        // Irregular gaps, so the timing features vary.
        self.0 += 1_000 + (offset * 7_919) % 250_000;
        Some(PacketFacts {
            ts: self.0,
            seq: 0,
            payload_len: (64 + offset % 900) as u16,
            tcp_flags: if offset % 5 == 0 { 0x19 } else { 0x18 },
        })
    }
    fn now(&self) -> Micros {
        self.0
    }
    fn flow_start(&self) -> Micros {
        0
    }
}

fn publish(qos: u8, id: u16, topic: &[u8], payload_len: usize) -> Vec<u8> {
    let mut body = vec![0x00, topic.len() as u8];
    body.extend_from_slice(topic);
    if qos > 0 {
        body.extend(id.to_be_bytes());
    }
    body.extend(std::iter::repeat_n(b'x', payload_len));
    let mut m = vec![0x30 | (qos << 1)];
    let mut len = body.len();
    loop {
        let b = (len % 128) as u8;
        len /= 128;
        m.push(if len > 0 { b | 0x80 } else { b });
        if len == 0 {
            break;
        }
    }
    m.extend(body);
    m
}

/// Parsed messages of both directions: CONNECTs with different flags and keep-alives, failed and
/// accepted CONNACKs, PUBLISHes at QoS 0-2 of many sizes, SUBSCRIBE, PINGREQ, DISCONNECT.
fn records() -> Vec<MessageRecord> {
    let cfg = Config::default();
    let mut out = Vec::new();
    for conn in 0..12u16 {
        let mut to_server: Vec<u8> = vec![
            0x10, 0x18, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0xC2, 0x00, 0x3C, 0x00, 0x04,
            b's', b'n', b'0', b'1', 0x00, 0x02, b'u', b'1', 0x00, 0x02, b'p', b'w',
        ];
        to_server[9] = [0xC2, 0x02, 0xCE, 0x00][usize::from(conn % 4)];
        to_server[11] = [0x3C, 0x05, 0xFF, 0x00][usize::from(conn / 4 % 4)];
        for i in 0..(20 + conn as usize * 9) {
            match i % 17 {
                16 => to_server.extend([0xC0, 0x00]),
                15 => to_server.extend([0x82, 0x06, 0x00, 0x02, 0x00, 0x01, b'#', 0x01]),
                _ => {
                    let qos = (i % 3) as u8;
                    let size = (i * 37 + conn as usize * 101) % 3000;
                    to_server.extend(publish(qos, i as u16 + 1, b"home/sensors/t", size));
                }
            }
        }
        to_server.extend([0xE0, 0x00]);
        let to_client: &[u8] = if conn % 3 == 0 {
            &[0x20, 0x02, 0x00, 0x05]
        } else {
            &[0x20, 0x02, 0x00, 0x00, 0xD0, 0x00]
        };
        let mut session = Session::new(false, None);
        let mut clock = StepClock(1_000_000 * u64::from(conn + 1));
        let shared = Shared {
            config: &cfg,
            sources: None,
        };
        session.parse(
            Direction::ToServer,
            &to_server,
            0,
            shared,
            &mut clock,
            &mut |r| out.push(r),
        );
        let shared = Shared {
            config: &cfg,
            sources: None,
        };
        session.parse(
            Direction::ToClient,
            to_client,
            0,
            shared,
            &mut clock,
            &mut |r| out.push(r),
        );
    }
    out
}

/// Seeded vectors spread over and beyond each feature's fitted range (so clipping counts too).
fn random_vectors(meta: &ModelMetadata, n: usize) -> Vec<RawVector> {
    let mut s: u64 = 0x5eed;
    let mut unit = || {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
    };
    (0..n)
        .map(|_| {
            let mut v = [0f32; WIDTH];
            for (i, x) in v.iter_mut().enumerate() {
                let (lo, hi) = (meta.scaling.min[i], meta.scaling.max[i]);
                let span = (hi - lo).max(1.0);
                *x = lo - 0.25 * span + unit() * 1.5 * span;
            }
            v
        })
        .collect()
}

fn vectors(meta: &ModelMetadata) -> Vec<RawVector> {
    let mut v: Vec<RawVector> = records().iter().map(extract).collect();
    v.extend(random_vectors(meta, 2_000));
    v
}

/// One line per vector: score, then (index, error) of the top three.
fn lines(backend: Backend, meta: &ModelMetadata, path: &std::path::Path) -> Option<String> {
    let model = match LoadedModel::load(path, backend, None) {
        Ok(m) => m,
        Err(e) => {
            println!("{backend}: skipped: {e}");
            return None;
        }
    };
    let mut scorer = model.new_scorer().expect("scorer");
    let threshold = meta.thresholds.default_value();
    let mut out = String::new();
    for raw in vectors(meta) {
        let s = score(scorer.as_mut(), &meta.scaling, threshold, &raw).expect("score");
        let _ = write!(out, "{:e}", s.score);
        for (i, e) in s.top {
            let _ = write!(out, " {i} {e:e}");
        }
        out.push('\n');
    }
    Some(out)
}

/// What the golden values depend on besides the scoring code: the model, its metadata, the schema.
fn fingerprint(model: &std::path::Path) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for path in [model.to_path_buf(), model.with_extension("json")] {
        for b in std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("# model fnv1a {h:016x}, feature schema v{SCHEMA_VERSION}, width {WIDTH}")
}

fn close(a: f32, b: f32) -> bool {
    a == b || (a - b).abs() <= 1e-6 * a.abs().max(b.abs())
}

#[test]
fn scores_match_golden_values() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let model = root.join("models/mqtt-ml.tflite");
    let meta = ModelMetadata::load(&model).expect("shipped model metadata");
    let write = std::env::var_os("MQTT_ML_WRITE_GOLDEN").is_some();
    let mut compared = 0;
    for backend in [Backend::Native, Backend::Tflite] {
        let golden = root.join(format!("tests/golden/scores-{backend}.txt"));
        let Some(now) = lines(backend, &meta, &model) else {
            assert_eq!(backend, Backend::Tflite, "the native backend always loads");
            continue;
        };
        let header = fingerprint(&model);
        if write {
            std::fs::write(&golden, format!("{header}\n{now}")).expect("write golden file");
            continue;
        }
        let want = std::fs::read_to_string(&golden)
            .unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
        let (made_for, want) = want.split_once('\n').unwrap_or_default();
        assert_eq!(
            made_for,
            header,
            "{}: golden scores made for another model or feature schema; write them again \
             (MQTT_ML_WRITE_GOLDEN=1 cargo test --release --test score_golden) from scoring code \
             known to be right",
            golden.display()
        );
        let (want, now): (Vec<&str>, Vec<&str>) = (want.lines().collect(), now.lines().collect());
        assert_eq!(want.len(), now.len(), "{backend}: number of vectors");
        assert!(want.len() > 2_300, "{backend}: {} vectors", want.len());
        for (n, (w, g)) in want.iter().zip(&now).enumerate() {
            let parse = |l: &str| -> Vec<f32> {
                l.split(' ').map(|t| t.parse().expect("number")).collect()
            };
            let (w, g) = (parse(w), parse(g));
            assert!(
                close(w[0], g[0]),
                "{backend} vector {n}: score {} != {}",
                g[0],
                w[0]
            );
            for k in 0..3 {
                let (wi, we, gi, ge) = (w[1 + 2 * k], w[2 + 2 * k], g[1 + 2 * k], g[2 + 2 * k]);
                assert!(
                    close(we, ge),
                    "{backend} vector {n}: top {k} error {ge} != {we}"
                );
                // The same feature, unless two errors tie within the tolerance.
                assert!(
                    wi == gi
                        || close(we, w[2 + 2 * ((k + 1) % 3)])
                        || close(we, w[2 + 2 * ((k + 2) % 3)]),
                    "{backend} vector {n}: top {k} feature {gi} != {wi}"
                );
            }
            compared += 1;
        }
    }
    if !write {
        assert!(compared > 2_300, "compared {compared}");
    }
}
