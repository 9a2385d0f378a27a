//! Model runtime tests. The TensorFlow Lite C backend tests need `libtensorflowlite_c.so`: they
//! fail (with the loader's one-line message) when it is missing; `scripts/setup-tflite.sh` puts it
//! in the cache, where the default search finds it.

use super::test_support::{model_bytes, model_path, Rng};
use super::*;

const WIDTH: usize = 28;
/// Agreement required between Keras, the native backend and TFLite.
const TOLERANCE: f32 = 1e-5;

fn load(name: &str, backend: Backend) -> LoadedModel {
    LoadedModel::load(&model_path(name), backend, None).unwrap_or_else(|e| panic!("{e}"))
}

fn load_err(name: &str, backend: Backend, library: Option<&Path>) -> ModelError {
    match LoadedModel::load(&model_path(name), backend, library) {
        Ok(_) => panic!("{name} loaded with the {backend} backend, expected an error"),
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "error is not one line: {msg}");
            assert!(msg.contains(": "), "error names no fix: {msg}");
            e
        }
    }
}

fn reconstruct(scorer: &mut dyn Scorer, input: &[f32]) -> Vec<f32> {
    let mut out = vec![f32::NAN; input.len()];
    scorer.reconstruct(input, &mut out).unwrap();
    out
}

fn random_vectors(n: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| (0..WIDTH).map(|_| rng.unit()).collect())
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// (inputs, Keras outputs) recorded by training/make_test_models.py.
fn expected(name: &str) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let text = String::from_utf8(model_bytes(name)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rows = |k: &str| -> Vec<Vec<f32>> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
                    .collect()
            })
            .collect()
    };
    (rows("inputs"), rows("keras_outputs"))
}

// ---- scoring helpers ----

#[test]
fn mse_and_top_errors() {
    let a = [0.0, 1.0, 0.5, 0.25];
    let b = [0.0, 0.0, 1.0, 0.0];
    assert_eq!(mse(&a, &b), (0.0 + 1.0 + 0.25 + 0.0625) / 4.0);
    assert_eq!(mse(&[], &[]), 0.0);
    let top = top_errors::<3>(&a, &b);
    assert_eq!(top.as_slice(), &[(1, 1.0), (2, 0.25), (3, 0.0625)]);
    // Ties keep the lower index first; shorter vectors give fewer entries.
    let top = top_errors::<3>(&[1.0, 1.0], &[0.0, 0.0]);
    assert_eq!(top.as_slice(), &[(0, 1.0), (1, 1.0)]);
    // Ascending errors exercise the insertion at the front.
    let x: Vec<f32> = (0..10).map(|i| i as f32).collect();
    let top = top_errors::<3>(&x, &[0.0; 10]);
    assert_eq!(top.as_slice(), &[(9, 81.0), (8, 64.0), (7, 49.0)]);
    // A NaN reconstruction is reported, not hidden.
    let top = top_errors::<2>(&[0.0, 0.0, 5.0], &[0.0, f32::NAN, 0.0]);
    assert_eq!(top.as_slice(), &[(1, f32::INFINITY), (2, 25.0)]);
}

#[test]
fn top_errors_agree_with_a_full_sort() {
    let mut rng = Rng::new(99);
    for case in 0..2000 {
        let n = rng.below(40);
        // Coarse values make ties common.
        let coarse = case % 2 == 0;
        let mut value = || {
            if coarse {
                rng.below(4) as f32 / 4.0
            } else {
                rng.unit()
            }
        };
        let a: Vec<f32> = (0..n).map(|_| value()).collect();
        let b: Vec<f32> = (0..n).map(|_| value()).collect();
        let mut want: Vec<(usize, f32)> = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y) * (x - y))
            .enumerate()
            .collect();
        // Largest error first, lower index first among equals (a stable sort keeps index order).
        want.sort_by(|p, q| q.1.total_cmp(&p.1));
        want.truncate(3);
        assert_eq!(top_errors::<3>(&a, &b).as_slice(), &want[..], "{a:?} {b:?}");
        assert_eq!(
            top_errors::<1>(&a, &b).as_slice(),
            &want[..want.len().min(1)]
        );
    }
}

#[test]
fn shared_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<LoadedModel>();
    send_sync::<ModelError>();
    fn send<T: Send>() {}
    send::<Box<dyn Scorer>>();
}

#[test]
fn backend_names() {
    assert_eq!("tflite".parse::<Backend>().unwrap(), Backend::Tflite);
    assert_eq!("native".parse::<Backend>().unwrap(), Backend::Native);
    let e = "onnx".parse::<Backend>().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert_eq!(
        e.to_string(),
        "app-layer.protocols.mqtt-ml.backend: unknown model backend \"onnx\": \
         use \"tflite\" or \"native\""
    );
}

// ---- the native backend ----

#[test]
fn native_matches_keras() {
    for name in ["ae28", "ops28"] {
        let model = load(&format!("{name}.tflite"), Backend::Native);
        assert_eq!(model.width(), WIDTH);
        let mut scorer = model.new_scorer().unwrap();
        let (inputs, outputs) = expected(&format!("{name}.expected.json"));
        assert!(inputs.len() >= 5);
        for (x, want) in inputs.iter().zip(&outputs) {
            let got = reconstruct(scorer.as_mut(), x);
            let d = max_abs_diff(&got, want);
            assert!(d <= TOLERANCE, "{name}: native vs Keras differ by {d}");
        }
    }
}

#[test]
fn zero_model_score_is_closed_form() {
    for backend in [Backend::Native, Backend::Tflite] {
        let mut scorer = load("zero28.tflite", backend).new_scorer().unwrap();
        for x in random_vectors(200, 7) {
            let out = reconstruct(scorer.as_mut(), &x);
            assert!(out.iter().all(|&v| v == 0.5), "{backend}: {out:?}");
            let closed = x.iter().map(|&v| (v as f64 - 0.5).powi(2)).sum::<f64>() / WIDTH as f64;
            let score = mse(&x, &out) as f64;
            assert!(
                (score - closed).abs() <= 1e-7,
                "{backend}: {score} vs {closed}"
            );
        }
    }
}

#[test]
fn identity_model_reconstructs_exactly() {
    let mut scorer = load("identity28.tflite", Backend::Native)
        .new_scorer()
        .unwrap();
    for x in random_vectors(100, 11) {
        let out = reconstruct(scorer.as_mut(), &x);
        assert_eq!(out, x);
        assert_eq!(mse(&x, &out), 0.0);
    }
}

#[test]
fn scorers_are_independent_per_thread() {
    let model = load("ae28.tflite", Backend::Native);
    let vectors = random_vectors(50, 3);
    let mut reference = model.new_scorer().unwrap();
    let want: Vec<Vec<f32>> = vectors
        .iter()
        .map(|x| reconstruct(reference.as_mut(), x))
        .collect();
    std::thread::scope(|s| {
        for _ in 0..2 {
            let mut scorer = model.new_scorer().unwrap();
            let (vectors, want) = (&vectors, &want);
            s.spawn(move || {
                for (x, w) in vectors.iter().zip(want) {
                    assert_eq!(&reconstruct(scorer.as_mut(), x), w);
                }
            });
        }
    });
}

#[test]
fn wrong_lengths_are_errors_not_panics() {
    for backend in [Backend::Native, Backend::Tflite] {
        let mut scorer = load("ae28.tflite", backend).new_scorer().unwrap();
        assert_eq!(scorer.width(), WIDTH);
        let mut out = vec![0.0; WIDTH];
        let e = scorer.reconstruct(&[0.0; 3], &mut out).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Width);
        let e = scorer
            .reconstruct(&[0.0; WIDTH], &mut out[..5])
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Width);
    }
}

// ---- the TensorFlow Lite C backend ----

#[test]
fn tflite_matches_native_on_random_vectors() {
    for name in ["ae28.tflite", "ops28.tflite"] {
        let mut native = load(name, Backend::Native).new_scorer().unwrap();
        let mut tflite = load(name, Backend::Tflite).new_scorer().unwrap();
        let mut worst = 0.0f32;
        for x in random_vectors(1000, 42) {
            let a = reconstruct(native.as_mut(), &x);
            let b = reconstruct(tflite.as_mut(), &x);
            worst = worst.max(max_abs_diff(&a, &b));
            let (sa, sb) = (mse(&x, &a), mse(&x, &b));
            assert!((sa - sb).abs() <= TOLERANCE, "{name}: scores {sa} vs {sb}");
        }
        assert!(
            worst <= TOLERANCE,
            "{name}: TFLite vs native differ by {worst}"
        );
    }
}

#[test]
fn tflite_matches_keras() {
    let mut scorer = load("ae28.tflite", Backend::Tflite).new_scorer().unwrap();
    let (inputs, outputs) = expected("ae28.expected.json");
    for (x, want) in inputs.iter().zip(&outputs) {
        let d = max_abs_diff(&reconstruct(scorer.as_mut(), x), want);
        assert!(d <= TOLERANCE, "TFLite vs Keras differ by {d}");
    }
}

#[test]
fn tflite_scorers_share_one_model_across_threads() {
    let model = load("ae28.tflite", Backend::Tflite);
    let vectors = random_vectors(100, 5);
    let mut reference = model.new_scorer().unwrap();
    let want: Vec<Vec<f32>> = vectors
        .iter()
        .map(|x| reconstruct(reference.as_mut(), x))
        .collect();
    let scorers: Vec<Box<dyn Scorer>> = (0..2).map(|_| model.new_scorer().unwrap()).collect();
    drop(model); // the scorers keep the shared model (and its bytes) alive
    std::thread::scope(|s| {
        for mut scorer in scorers {
            let (vectors, want) = (&vectors, &want);
            s.spawn(move || {
                for (x, w) in vectors.iter().zip(want) {
                    assert_eq!(&reconstruct(scorer.as_mut(), x), w);
                }
            });
        }
    });
}

// ---- load errors: one line, naming the problem and the fix ----

#[test]
fn missing_file() {
    for backend in [Backend::Native, Backend::Tflite] {
        let e = load_err("no-such-model.tflite", backend, None);
        assert_eq!(e.kind(), ErrorKind::File);
        let msg = e.to_string();
        assert!(msg.starts_with("model file "), "{msg}");
        assert!(
            msg.contains("no-such-model.tflite: cannot read it (No such file"),
            "{msg}"
        );
        assert!(msg.ends_with(
            ": check app-layer.protocols.mqtt-ml.model (a relative path is taken from \
             Suricata's working directory)"
        ));
    }
}

#[test]
fn wrong_width() {
    for backend in [Backend::Native, Backend::Tflite] {
        let model = load("zero20.tflite", backend);
        assert_eq!(model.width(), 20);
        let e = model.check_width(WIDTH, "v1").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Width);
        assert_eq!(
            e.to_string(),
            "model has input width 20, the feature schema has 28: retrain or use a model for \
             schema v1"
        );
        load("ae28.tflite", backend)
            .check_width(WIDTH, "v1")
            .unwrap();
    }
}

#[test]
fn non_float_input() {
    for backend in [Backend::Native, Backend::Tflite] {
        let e = load_err("int8in28.tflite", backend, None);
        assert_eq!(e.kind(), ErrorKind::InputType);
        let msg = e.to_string();
        assert!(
            msg.ends_with(
                "int8in28.tflite: input tensor is INT8, not FLOAT32: export the model as float32 \
                 (no full-integer quantization of inputs/outputs)"
            ),
            "{msg}"
        );
    }
}

#[test]
fn missing_library() {
    let e = load_err(
        "ae28.tflite",
        Backend::Tflite,
        Some(Path::new("/nonexistent/libtensorflowlite_c.so")),
    );
    assert_eq!(e.kind(), ErrorKind::LibraryNotFound);
    assert_eq!(
        e.to_string(),
        "TensorFlow Lite C library not found (tried /nonexistent/libtensorflowlite_c.so: cannot \
         open shared object file: No such file or directory): run scripts/setup-tflite.sh or set \
         app-layer.protocols.mqtt-ml.tflite-library to its path (or use the native backend)"
    );
    // The native backend needs no library.
    LoadedModel::load(
        &model_path("ae28.tflite"),
        Backend::Native,
        Some(Path::new("/nonexistent")),
    )
    .unwrap();
}

#[test]
fn library_without_the_c_api() {
    // libm loads fine but is not TensorFlow Lite.
    let e = load_err("ae28.tflite", Backend::Tflite, Some(Path::new("libm.so.6")));
    assert_eq!(e.kind(), ErrorKind::Library);
    assert!(e.to_string().starts_with(
        "libm.so.6 has no TfLiteVersion, so it is not the TensorFlow Lite C API: run \
         scripts/setup-tflite.sh"
    ));
}

#[test]
fn unsupported_operator() {
    let e = load_err("softmax28.tflite", Backend::Native, None);
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    let msg = e.to_string();
    assert!(
        msg.contains(
            "softmax28.tflite: operator 1 (SOFTMAX) is not supported by the native backend: use \
             app-layer.protocols.mqtt-ml.backend tflite"
        ),
        "{msg}"
    );
    // TFLite itself runs it.
    load("softmax28.tflite", Backend::Tflite);
}

#[test]
fn garbage_and_truncated_files() {
    let dir = std::env::temp_dir().join(format!("mqtt-ml-model-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ae = model_bytes("ae28.tflite");
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("empty", Vec::new(), "corrupt or truncated"),
        (
            "text",
            b"this is not a model at all\n".to_vec(),
            "not a TensorFlow Lite flatbuffer (bad identifier",
        ),
        ("half", ae[..ae.len() / 2].to_vec(), "corrupt or truncated"),
        ("head", ae[..64].to_vec(), "corrupt or truncated"),
    ];
    for (name, bytes, want) in cases {
        let path = dir.join(format!("{name}.tflite"));
        std::fs::write(&path, bytes).unwrap();
        for backend in [Backend::Native, Backend::Tflite] {
            let e = match LoadedModel::load(&path, backend, None) {
                Ok(_) => panic!("{name} loaded"),
                Err(e) => e,
            };
            assert_eq!(e.kind(), ErrorKind::Format, "{name}: {e}");
            let msg = e.to_string();
            assert!(msg.contains(want), "{name}: {msg}");
            assert!(
                msg.ends_with(
                    ": re-export it from Keras with tf.lite.TFLiteConverter as float32 (see \
                     training/make_test_models.py)"
                ),
                "{msg}"
            );
            assert!(!msg.contains('\n'));
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
