//! Per-message scoring cost: reconstruct + mse + top-3 errors for one feature vector, for each
//! backend, on the autoencoder in tests/models. Prints the median over several repetitions.
//!
//! cargo bench --bench score [-- VECTORS REPETITIONS]   (defaults: 200000 vectors, 7 repetitions)

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use mqtt_ml::model::{mse, top_errors, Backend, LoadedModel};

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
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
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
