//! Per-message scoring cost, for each backend. Two parts:
//! 1. the whole per-message path of the plugin on parsed messages: feature vector, scaling,
//!    reconstruction, mean squared error and top-3, with the shipped model (models/);
//! 2. the model step alone on random scaled vectors, split into reconstruct and mse/top-3.
//!
//! Prints medians over several repetitions, of the thread's CPU time per message.
//!
//! cargo bench --bench score [-- VECTORS REPETITIONS]   (defaults: 200000 vectors, 7 repetitions)
//!
//! It uses the pure layers only: `--no-default-features` runs it without Suricata's headers.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use mqtt_ml::config::Config;
use mqtt_ml::features::{extract, RawVector, Scaling, WIDTH};
use mqtt_ml::flow::{Clock, Direction, MessageRecord, Micros, PacketFacts, Session, Shared};
use mqtt_ml::model::{mse, top_errors, Backend, LoadedModel, Scorer};
use mqtt_ml::scoring::{score, ModelMetadata};

/// The thread's CPU time, read like `std::time::Instant`. On a machine shared with other jobs, wall
/// time also counts the time this thread waited for a CPU, which says nothing about the code;
/// CPU time leaves that out (caches and branch predictors other jobs disturb still count).
struct Instant(Duration);

impl Instant {
    fn now() -> Self {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid timespec to write; this clock exists on every Linux.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
        Instant(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    }
    fn elapsed(&self) -> Duration {
        Self::now().0.saturating_sub(self.0)
    }
}

/// Packet facts for the bench: every message timed by a fixed clock.
struct FixedClock(Micros);

impl Clock for FixedClock {
    fn carrier(&mut self, _dir: Direction, _offset: u64) -> Option<PacketFacts> {
        self.0 += 1_000;
        Some(PacketFacts {
            ts: self.0,
            seq: 0,
            payload_len: 64,
            tcp_flags: 0x18,
        })
    }
    fn now(&self) -> Micros {
        self.0
    }
    fn flow_start(&self) -> Micros {
        0
    }
}

/// Parsed messages like a sensor connection's: a CONNECT, then PUBLISHes of varied sizes at QoS
/// 0-2 with the odd PINGREQ, parsed by the plugin's own session layer.
fn records(n: usize) -> Vec<MessageRecord> {
    let mut stream = vec![
        0x10, 0x18, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0xC2, 0x00, 0x3C, 0x00, 0x04, b's',
        b'n', b'0', b'1', 0x00, 0x02, b'u', b'1', 0x00, 0x02, b'p', b'w',
    ];
    for i in 0..n {
        if i % 50 == 49 {
            stream.extend([0xC0, 0x00]);
            continue;
        }
        let qos = (i % 3) as u8;
        let topic = b"home/sensors/temperature";
        let payload_len = 8 + (i * 7) % 120;
        let mut body = vec![0x00, topic.len() as u8];
        body.extend_from_slice(topic);
        if qos > 0 {
            body.extend([(i >> 8) as u8, i as u8 | 1]);
        }
        body.extend(std::iter::repeat_n(b'7', payload_len));
        stream.push(0x30 | (qos << 1));
        stream.push(body.len() as u8);
        stream.extend(body);
    }
    let cfg = Config::default();
    let mut session = Session::new(false, None);
    let mut clock = FixedClock(1_000_000);
    let mut out = Vec::with_capacity(n + 1);
    let shared = Shared {
        config: &cfg,
        sources: None,
    };
    session.parse(
        Direction::ToServer,
        &stream,
        0,
        shared,
        &mut clock,
        &mut |r| out.push(r),
    );
    out
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Part 1: features + scaling + model + mse + top-3 per parsed message, shipped model.
fn whole_path(reps: usize) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("models/mqtt-ml.tflite");
    let meta = match ModelMetadata::load(&path) {
        Ok(m) => m,
        Err(e) => {
            println!("per message (features + score): skipped: {e}");
            return;
        }
    };
    let recs = records(20_000);
    for backend in [Backend::Native, Backend::Tflite] {
        let model = match LoadedModel::load(&path, backend, None) {
            Ok(m) => m,
            Err(e) => {
                println!("{backend:>6} per message: skipped: {e}");
                continue;
            }
        };
        let mut scorer = model.new_scorer().expect("scorer");
        let threshold = meta.thresholds.default_value();
        let (mut total, mut features, mut wall) = (Vec::new(), Vec::new(), Vec::new());
        let mut checksum = 0.0f64;
        for rep in 0..=reps {
            let (start, wall_start) = (Instant::now(), std::time::Instant::now());
            for r in &recs {
                let raw = extract(black_box(r));
                let s = score(scorer.as_mut(), &meta.scaling, threshold, &raw).expect("score");
                checksum += f64::from(s.score);
            }
            let t_total = start.elapsed().as_nanos() as f64 / recs.len() as f64;
            let t_wall = wall_start.elapsed().as_nanos() as f64 / recs.len() as f64;
            let start = Instant::now();
            for r in &recs {
                black_box(extract(black_box(r)));
            }
            let t_features = start.elapsed().as_nanos() as f64 / recs.len() as f64;
            if rep > 0 {
                total.push(t_total);
                features.push(t_features);
                wall.push(t_wall);
            }
        }
        // On a shared machine the minimum says more about the code than the median does.
        let fastest = total.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "{backend:>6} per message: median {:.0} ns, min {fastest:.0} ns (features {:.0} ns; wall time median {:.0} ns), {} messages x {reps} (checksum {checksum:.3})",
            median(&mut total),
            median(&mut features),
            median(&mut wall),
            recs.len(),
        );
        stages(scorer.as_mut(), &meta.scaling, &recs, reps);
    }
}

/// The whole path's stages one at a time, each over every message (its inputs computed by the
/// stage before): where the time of a message goes. The sum is close to the whole path's time,
/// not equal: run together, the stages overlap in the CPU.
fn stages(scorer: &mut dyn Scorer, scaling: &Scaling, recs: &[MessageRecord], reps: usize) {
    let raws: Vec<RawVector> = recs.iter().map(extract).collect();
    let mut scaled = vec![[0f32; WIDTH]; raws.len()];
    let mut recon = vec![[0f32; WIDTH]; raws.len()];
    let n = recs.len() as f64;
    let mut t = [const { Vec::new() }; 5];
    let mut sink = 0.0f32;
    for rep in 0..=reps {
        let mut lap = [0.0; 5];
        let start = Instant::now();
        for r in recs {
            black_box(extract(black_box(r)));
        }
        lap[0] = start.elapsed().as_nanos() as f64 / n;
        let start = Instant::now();
        for (raw, x) in raws.iter().zip(scaled.iter_mut()) {
            scaling.apply(black_box(raw), x);
        }
        lap[1] = start.elapsed().as_nanos() as f64 / n;
        let start = Instant::now();
        for (x, y) in scaled.iter().zip(recon.iter_mut()) {
            scorer.reconstruct(black_box(x), y).expect("reconstruct");
        }
        lap[2] = start.elapsed().as_nanos() as f64 / n;
        let start = Instant::now();
        for (x, y) in scaled.iter().zip(&recon) {
            sink += mse(black_box(x), y);
        }
        lap[3] = start.elapsed().as_nanos() as f64 / n;
        let start = Instant::now();
        for (x, y) in scaled.iter().zip(&recon) {
            sink += top_errors::<3>(black_box(x), y).as_slice()[0].1;
        }
        lap[4] = start.elapsed().as_nanos() as f64 / n;
        if rep > 0 {
            for (v, l) in t.iter_mut().zip(lap) {
                v.push(l);
            }
        }
    }
    let [a, b, c, d, e] = &mut t;
    println!(
        "        stages (medians): features {:.0} + scaling {:.0} + reconstruct {:.0} + mse {:.0} + top-3 {:.0} ns ({sink:.0})",
        median(a),
        median(b),
        median(c),
        median(d),
        median(e),
    );
}

/// Seeded uniform vectors in [0, 1) (SplitMix64), like scaled features.
fn vectors(n: usize, width: usize) -> Vec<f32> {
    let mut s: u64 = 0x00c0_ffee;
    (0..n * width)
        .map(|_| {
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let reps: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(7);
    whole_path(reps);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/models/ae28.tflite");

    for backend in [Backend::Native, Backend::Tflite] {
        let model = match LoadedModel::load(&path, backend, None) {
            Ok(m) => m,
            Err(e) => {
                println!("{backend:>6}: skipped: {e}");
                continue;
            }
        };
        let width = model.width();
        let data = vectors(n, width);
        let mut scorer = model.new_scorer().expect("scorer");
        let mut out = vec![0.0f32; width];
        // Three passes per repetition: the whole per-message work, the model alone, and the
        // scoring helpers alone (on the last reconstruction), so regressions can be placed.
        let mut total = Vec::with_capacity(reps);
        let mut model_only = Vec::with_capacity(reps);
        let mut helpers_only = Vec::with_capacity(reps);
        let mut checksum = 0.0f64;
        for rep in 0..=reps {
            let start = Instant::now();
            for x in data.chunks_exact(width) {
                scorer
                    .reconstruct(black_box(x), &mut out)
                    .expect("reconstruct");
                let score = mse(x, &out);
                let top = top_errors::<3>(x, &out);
                checksum += score as f64 + top.as_slice()[0].0 as f64;
            }
            let t_total = start.elapsed().as_nanos() as f64 / n as f64;
            let start = Instant::now();
            for x in data.chunks_exact(width) {
                scorer
                    .reconstruct(black_box(x), &mut out)
                    .expect("reconstruct");
                black_box(&out);
            }
            let t_model = start.elapsed().as_nanos() as f64 / n as f64;
            let start = Instant::now();
            for x in data.chunks_exact(width) {
                let score = mse(black_box(x), &out);
                let top = top_errors::<3>(black_box(x), &out);
                checksum += score as f64 + top.as_slice()[0].0 as f64;
            }
            let t_helpers = start.elapsed().as_nanos() as f64 / n as f64;
            if rep > 0 {
                // Repetition 0 only warms caches and branch predictors.
                total.push(t_total);
                model_only.push(t_model);
                helpers_only.push(t_helpers);
            }
        }
        println!(
            "{backend:>6}: median {:.0} ns/message (min {:.0}, max {:.0}) = reconstruct {:.0} + mse/top-3 {:.0}; {reps} x {n} vectors, width {width} (checksum {checksum:.0})",
            median(&mut total),
            total[0],
            total[total.len() - 1],
            median(&mut model_only),
            median(&mut helpers_only),
        );
    }
}
