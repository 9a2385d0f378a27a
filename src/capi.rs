//! A small C ABI over the model and the scoring step, for hosts other than Suricata (the Zeek
//! package in `zeek/` calls it from its BiFs). It has nothing to do with Suricata: it is built into
//! the cdylib with or without the `suricata` feature. The header is `zeek/plugin/include/mqtt_ml.h`.
//!
//! A host builds the feature vector itself (raw, transformed as the schema says, not scaled), in
//! schema order, and gets back exactly what the plugin would compute for it: the metadata's
//! min-max scaling, the model's reconstruction, the mean squared error and the three features
//! with the largest squared error ([`crate::scoring::score`]).
//!
//! Threads: each handle owns one scorer behind a mutex, so one handle may be shared by threads,
//! which then take turns. For throughput, open one handle per thread.
//!
//! Every function checks its pointers and lengths, and no panic crosses the boundary: each body
//! runs under `catch_unwind` and a panic becomes the function's error value.
use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use crate::features::{RawVector, FEATURES, SCHEMA_VERSION, WIDTH};
use crate::model::{Backend, LoadedModel, Scorer};
use crate::scoring::{score, ModelMetadata, TOP};

/// An open model: its metadata (scaling, thresholds) and one scorer. Opaque to C.
pub struct MqttMlModel {
    model: LoadedModel,
    meta: ModelMetadata,
    scorer: Mutex<Box<dyn Scorer>>,
}

/// Writes `msg` into `buf` (capacity `len` bytes, NUL included), cut at a character boundary.
///
/// # Safety
/// `buf` is NULL or points to `len` writable bytes.
unsafe fn write_err(buf: *mut c_char, len: usize, msg: &str) {
    if buf.is_null() || len == 0 {
        return;
    }
    let mut n = msg.len().min(len - 1);
    while !msg.is_char_boundary(n) {
        n -= 1;
    }
    // SAFETY: n < len bytes plus the NUL fit in the caller's buffer.
    unsafe {
        std::ptr::copy_nonoverlapping(msg.as_ptr(), buf.cast::<u8>(), n);
        *buf.add(n) = 0;
    }
}

fn open(path: &Path, backend: Option<&str>) -> Result<MqttMlModel, String> {
    let backend = match backend {
        None | Some("native") => Backend::Native,
        Some("tflite") => Backend::Tflite,
        Some(other) => {
            return Err(format!(
                "unknown model backend {other:?}: use \"tflite\" or \"native\""
            ))
        }
    };
    if let Err(e) = std::fs::metadata(path) {
        return Err(format!(
            "model file {}: cannot read it ({e}): give the path of a .tflite file with its .json \
             metadata beside it",
            path.display()
        ));
    }
    let meta = ModelMetadata::load(path)?;
    let model = LoadedModel::load(path, backend, None).map_err(|e| e.to_string())?;
    model
        .check_width(WIDTH, &format!("v{SCHEMA_VERSION}"))
        .map_err(|e| e.to_string())?;
    let scorer = model.new_scorer().map_err(|e| e.to_string())?;
    Ok(MqttMlModel {
        model,
        meta,
        scorer: Mutex::new(scorer),
    })
}

/// Opens the model at `path` (a `.tflite` file; its metadata is the `.json` beside it) with
/// `backend` (`"tflite"`, `"native"`, or NULL for native). On failure returns NULL and writes a
/// one-line, NUL-terminated error into `err` (at most `err_len` bytes; `err` may be NULL).
///
/// # Safety
/// `path` and `backend` are NULL or NUL-terminated strings; `err` is NULL or points to `err_len`
/// writable bytes.
#[no_mangle]
pub unsafe extern "C" fn mqtt_ml_model_open(
    path: *const c_char,
    backend: *const c_char,
    err: *mut c_char,
    err_len: usize,
) -> *mut MqttMlModel {
    let result = catch_unwind(AssertUnwindSafe(|| {
        if path.is_null() {
            return Err("model path is NULL".to_owned());
        }
        // SAFETY: the caller passes NUL-terminated strings (or NULL, checked).
        let path = unsafe { CStr::from_ptr(path) };
        let path = Path::new(std::ffi::OsStr::from_bytes(path.to_bytes()));
        let backend = if backend.is_null() {
            None
        } else {
            // SAFETY: as above.
            let b = unsafe { CStr::from_ptr(backend) };
            Some(
                b.to_str()
                    .map_err(|_| "model backend is not UTF-8: use \"tflite\" or \"native\"")?,
            )
        };
        open(path, backend).map(|m| Box::into_raw(Box::new(m)))
    }));
    let msg = match result {
        Ok(Ok(m)) => return m,
        Ok(Err(e)) => e,
        Err(_) => "internal error while opening the model".to_owned(),
    };
    // SAFETY: the caller's buffer contract.
    unsafe { write_err(err, err_len, &msg) };
    std::ptr::null_mut()
}

/// Runs `f` on the model behind `m`, or returns `default` when `m` is NULL or `f` panics.
///
/// # Safety
/// `m` is NULL or a live handle from [`mqtt_ml_model_open`].
unsafe fn with_model<T>(m: *const MqttMlModel, default: T, f: impl FnOnce(&MqttMlModel) -> T) -> T {
    if m.is_null() {
        return default;
    }
    // SAFETY: the caller's contract.
    let model = unsafe { &*m };
    catch_unwind(AssertUnwindSafe(|| f(model))).unwrap_or(default)
}

/// The model's input width (the schema's, 28 for schema v1); 0 when `m` is NULL.
///
/// # Safety
/// `m` is NULL or a live handle from [`mqtt_ml_model_open`].
#[no_mangle]
pub unsafe extern "C" fn mqtt_ml_model_width(m: *const MqttMlModel) -> u32 {
    // SAFETY: forwarded contract.
    unsafe { with_model(m, 0, |m| m.model.width() as u32) }
}

/// The feature schema version the model was trained on (always the one compiled in, since
/// opening checks it); 0 when `m` is NULL.
///
/// # Safety
/// `m` is NULL or a live handle from [`mqtt_ml_model_open`].
#[no_mangle]
pub unsafe extern "C" fn mqtt_ml_model_schema_version(m: *const MqttMlModel) -> u32 {
    // SAFETY: forwarded contract.
    unsafe {
        with_model(m, 0, |m| {
            m.meta.raw["schema"]["version"]
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(SCHEMA_VERSION)
        })
    }
}

/// A threshold from the model's metadata: `"p95"`, `"p99"`, `"p999"`, a non-negative number
/// written as a string, or NULL for the model's default. Returns -1 when `m` is NULL or `name` is
/// none of these.
///
/// # Safety
/// `m` is NULL or a live handle from [`mqtt_ml_model_open`]; `name` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqtt_ml_model_threshold(
    m: *const MqttMlModel,
    name: *const c_char,
) -> f32 {
    // SAFETY: forwarded contract.
    unsafe {
        with_model(m, -1.0, |m| {
            let t = &m.meta.thresholds;
            if name.is_null() {
                return t.default_value();
            }
            // SAFETY: the caller passes a NUL-terminated string.
            let name = CStr::from_ptr(name);
            name.to_str()
                .ok()
                .and_then(|s| t.resolve(s))
                .unwrap_or(-1.0)
        })
    }
}

/// Scores one feature vector: `features` holds `n` floats (raw: transformed as the schema says but
/// not scaled, in schema order; `n` must equal the model's width). Applies the metadata's scaling,
/// reconstructs, and returns the mean squared error, as the Suricata plugin does. When
/// `out_top_idx` / `out_top_err` are not NULL, writes the 3 features with the largest squared
/// error (index, error), largest first. Returns -1 on any error (NULL pointer, wrong `n`,
/// inference failure); a score is never negative.
///
/// # Safety
/// `m` is NULL or a live handle; `features` is NULL or points to `n` floats; `out_top_idx` and
/// `out_top_err` are NULL or point to 3 writable elements each.
#[no_mangle]
pub unsafe extern "C" fn mqtt_ml_model_score(
    m: *const MqttMlModel,
    features: *const f32,
    n: usize,
    out_top_idx: *mut u32,
    out_top_err: *mut f32,
) -> f32 {
    if features.is_null() || n != WIDTH {
        return -1.0;
    }
    // SAFETY: forwarded contract; `features` points to n == WIDTH floats.
    unsafe {
        with_model(m, -1.0, |m| {
            if m.model.width() != n {
                return -1.0;
            }
            let mut raw: RawVector = [0.0; WIDTH];
            raw.copy_from_slice(std::slice::from_raw_parts(features, n));
            let mut scorer = m.scorer.lock().unwrap_or_else(|e| e.into_inner());
            let threshold = m.meta.thresholds.default_value();
            let Ok(s) = score(scorer.as_mut(), &m.meta.scaling, threshold, &raw) else {
                return -1.0;
            };
            for (k, (idx, e)) in s.top.iter().enumerate().take(TOP) {
                if !out_top_idx.is_null() {
                    *out_top_idx.add(k) = u32::from(*idx);
                }
                if !out_top_err.is_null() {
                    *out_top_err.add(k) = *e;
                }
            }
            s.score
        })
    }
}

/// The number of features in the compiled-in schema (28 for schema v1).
#[no_mangle]
pub extern "C" fn mqtt_ml_feature_count() -> u32 {
    WIDTH as u32
}

fn names() -> &'static [CString] {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    NAMES.get_or_init(|| {
        FEATURES
            .iter()
            .map(|f| CString::new(f.name).unwrap_or_default())
            .collect()
    })
}

/// The name of feature `i` in schema order (a static string, never freed), or NULL when `i` is
/// not below the schema's width.
#[no_mangle]
pub extern "C" fn mqtt_ml_feature_name(i: u32) -> *const c_char {
    catch_unwind(|| {
        names()
            .get(i as usize)
            .map_or(std::ptr::null(), |s| s.as_ptr())
    })
    .unwrap_or(std::ptr::null())
}

/// Closes a handle (NULL is ignored). The handle must not be used afterwards.
///
/// # Safety
/// `m` is NULL or a live handle from [`mqtt_ml_model_open`], closed only once.
#[no_mangle]
pub unsafe extern "C" fn mqtt_ml_model_close(m: *mut MqttMlModel) {
    if m.is_null() {
        return;
    }
    // SAFETY: the caller's contract: `m` came from Box::into_raw in mqtt_ml_model_open.
    let b = unsafe { Box::from_raw(m) };
    let _ = catch_unwind(AssertUnwindSafe(move || drop(b)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn shipped() -> CString {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/mqtt-ml.tflite");
        CString::new(p.to_str().unwrap()).unwrap()
    }

    fn open_native() -> *mut MqttMlModel {
        let mut err = [0 as c_char; 256];
        let m = unsafe {
            mqtt_ml_model_open(shipped().as_ptr(), std::ptr::null(), err.as_mut_ptr(), 256)
        };
        assert!(!m.is_null(), "{:?}", unsafe {
            CStr::from_ptr(err.as_ptr())
        });
        m
    }

    #[test]
    fn opens_the_shipped_model_and_reports_its_facts() {
        let m = open_native();
        unsafe {
            assert_eq!(mqtt_ml_model_width(m), WIDTH as u32);
            assert_eq!(mqtt_ml_model_schema_version(m), SCHEMA_VERSION);
            let p99 = mqtt_ml_model_threshold(m, c"p99".as_ptr());
            assert!(p99 > 0.0);
            assert!(mqtt_ml_model_threshold(m, c"p95".as_ptr()) <= p99);
            assert!(mqtt_ml_model_threshold(m, std::ptr::null()) > 0.0);
            assert_eq!(mqtt_ml_model_threshold(m, c"p42".as_ptr()), -1.0);
            assert_eq!(mqtt_ml_model_threshold(m, c"0.5".as_ptr()), 0.5);
            mqtt_ml_model_close(m);
        }
    }

    #[test]
    fn scores_like_the_scoring_module() {
        let m = open_native();
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/mqtt-ml.tflite");
        let meta = ModelMetadata::load(&path).unwrap();
        let model = LoadedModel::load(&path, Backend::Native, None).unwrap();
        let mut scorer = model.new_scorer().unwrap();
        let mut raw = [0f32; WIDTH];
        for (i, v) in raw.iter_mut().enumerate() {
            *v = (i as f32 * 0.37).sin().abs() * 3.0;
        }
        let want = score(scorer.as_mut(), &meta.scaling, 0.0, &raw).unwrap();
        let (mut idx, mut err) = ([0u32; 3], [0f32; 3]);
        let got = unsafe {
            mqtt_ml_model_score(m, raw.as_ptr(), WIDTH, idx.as_mut_ptr(), err.as_mut_ptr())
        };
        assert_eq!(got, want.score);
        for k in 0..TOP {
            assert_eq!(idx[k], u32::from(want.top[k].0));
            assert_eq!(err[k], want.top[k].1);
        }
        // Optional outputs.
        let again = unsafe {
            mqtt_ml_model_score(
                m,
                raw.as_ptr(),
                WIDTH,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        assert_eq!(again, got);
        unsafe { mqtt_ml_model_close(m) };
    }

    #[test]
    fn bad_arguments_are_errors_not_crashes() {
        let m = open_native();
        let raw = [0f32; WIDTH + 1];
        unsafe {
            assert_eq!(
                mqtt_ml_model_score(
                    m,
                    raw.as_ptr(),
                    WIDTH - 1,
                    std::ptr::null_mut(),
                    std::ptr::null_mut()
                ),
                -1.0
            );
            assert_eq!(
                mqtt_ml_model_score(
                    m,
                    raw.as_ptr(),
                    WIDTH + 1,
                    std::ptr::null_mut(),
                    std::ptr::null_mut()
                ),
                -1.0
            );
            assert_eq!(
                mqtt_ml_model_score(
                    m,
                    std::ptr::null(),
                    WIDTH,
                    std::ptr::null_mut(),
                    std::ptr::null_mut()
                ),
                -1.0
            );
            assert_eq!(
                mqtt_ml_model_score(
                    std::ptr::null(),
                    raw.as_ptr(),
                    WIDTH,
                    std::ptr::null_mut(),
                    std::ptr::null_mut()
                ),
                -1.0
            );
            assert_eq!(mqtt_ml_model_width(std::ptr::null()), 0);
            assert_eq!(mqtt_ml_model_schema_version(std::ptr::null()), 0);
            assert_eq!(
                mqtt_ml_model_threshold(std::ptr::null(), std::ptr::null()),
                -1.0
            );
            mqtt_ml_model_close(std::ptr::null_mut());
            mqtt_ml_model_close(m);
        }
    }

    #[test]
    fn open_errors_are_one_line_messages() {
        let mut err = [0 as c_char; 512];
        let open = |p: &CStr, b: Option<&CStr>, err: &mut [c_char]| unsafe {
            mqtt_ml_model_open(
                p.as_ptr(),
                b.map_or(std::ptr::null(), CStr::as_ptr),
                err.as_mut_ptr(),
                err.len(),
            )
        };
        let text = |err: &[c_char]| {
            unsafe { CStr::from_ptr(err.as_ptr()) }
                .to_string_lossy()
                .into_owned()
        };
        assert!(open(c"/nonexistent/m.tflite", None, &mut err).is_null());
        let e = text(&err);
        assert!(
            e.contains("/nonexistent/m.tflite") && !e.contains('\n'),
            "{e}"
        );
        assert!(open(&shipped(), Some(c"onnx"), &mut err).is_null());
        assert!(text(&err).contains("\"onnx\""), "{}", text(&err));
        // NULL path, NULL / short error buffers.
        let m = unsafe {
            mqtt_ml_model_open(
                std::ptr::null(),
                std::ptr::null(),
                err.as_mut_ptr(),
                err.len(),
            )
        };
        assert!(m.is_null());
        assert!(text(&err).contains("NULL"));
        let m = unsafe {
            mqtt_ml_model_open(
                c"/nonexistent".as_ptr(),
                std::ptr::null(),
                std::ptr::null_mut(),
                99,
            )
        };
        assert!(m.is_null());
        let mut tiny = [1 as c_char; 8];
        assert!(open(c"/nonexistent/m.tflite", None, &mut tiny).is_null());
        assert_eq!(text(&tiny).len(), 7);
        // A model without metadata beside it.
        let dir = std::env::temp_dir().join(format!("mqtt-ml-capi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let lone = dir.join("lone.tflite");
        std::fs::copy(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/mqtt-ml.tflite"),
            &lone,
        )
        .unwrap();
        let c = CString::new(lone.to_str().unwrap()).unwrap();
        assert!(open(&c, None, &mut err).is_null());
        assert!(text(&err).contains("lone.json"), "{}", text(&err));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn feature_names_are_static_and_in_schema_order() {
        assert_eq!(mqtt_ml_feature_count(), WIDTH as u32);
        for (i, f) in FEATURES.iter().enumerate() {
            let p = mqtt_ml_feature_name(i as u32);
            assert_eq!(unsafe { CStr::from_ptr(p) }.to_str().unwrap(), f.name);
            assert_eq!(p, mqtt_ml_feature_name(i as u32), "same pointer every time");
        }
        assert!(mqtt_ml_feature_name(WIDTH as u32).is_null());
        assert!(mqtt_ml_feature_name(u32::MAX).is_null());
    }

    #[test]
    fn one_handle_can_be_shared_by_threads() {
        struct Handle(*mut MqttMlModel);
        unsafe impl Send for Handle {}
        unsafe impl Sync for Handle {}
        let h = std::sync::Arc::new(Handle(open_native()));
        let raw = [0.5f32; WIDTH];
        let first = unsafe {
            mqtt_ml_model_score(
                h.0,
                raw.as_ptr(),
                WIDTH,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let h = h.clone();
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        let s = unsafe {
                            mqtt_ml_model_score(
                                h.0,
                                raw.as_ptr(),
                                WIDTH,
                                std::ptr::null_mut(),
                                std::ptr::null_mut(),
                            )
                        };
                        assert_eq!(s, first);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        unsafe { mqtt_ml_model_close(h.0) };
    }
}
