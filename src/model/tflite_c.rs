//! The TensorFlow Lite C API (`libtensorflowlite_c.so`), bound at run time with `dlopen`/`dlsym`.
//!
//! Binding at run time instead of linking keeps the plugin loadable on a machine without the
//! library: choosing the `tflite` backend there gives one clear error naming the fix, instead of
//! Suricata failing to load the plugin with a loader message. Only the handful of functions below
//! are used; they have been stable since TF 2.3, and the TF 2.9 build `scripts/setup-tflite.sh`
//! fetches has them all.
//!
//! Ownership: one [`SharedModel`] (the `TfLiteModel` plus the bytes it points into) per loaded
//! model, shared by every [`TfliteScorer`]; one interpreter per scorer, i.e. per worker thread.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::native::check_lengths;
use super::{ErrorKind, ModelError, Scorer, CONF_TFLITE_LIBRARY};

/// The library's file name (also its SONAME).
pub const LIBRARY_NAME: &str = "libtensorflowlite_c.so";
/// Environment variable naming the library when no path is configured.
pub const LIBRARY_ENV: &str = "MQTT_ML_TFLITE_LIB";

const K_TFLITE_OK: c_int = 0;
const K_TFLITE_FLOAT32: c_int = 1;

// Opaque C types, only ever handled by pointer.
#[repr(C)]
struct TfLiteModel {
    _opaque: [u8; 0],
}
#[repr(C)]
struct TfLiteInterpreterOptions {
    _opaque: [u8; 0],
}
#[repr(C)]
struct TfLiteInterpreter {
    _opaque: [u8; 0],
}
#[repr(C)]
struct TfLiteTensor {
    _opaque: [u8; 0],
}

// Signatures from tensorflow/lite/c/c_api.h.
type Version = unsafe extern "C" fn() -> *const c_char;
type ModelCreate = unsafe extern "C" fn(*const c_void, usize) -> *mut TfLiteModel;
type ModelDelete = unsafe extern "C" fn(*mut TfLiteModel);
type OptionsCreate = unsafe extern "C" fn() -> *mut TfLiteInterpreterOptions;
type OptionsSetNumThreads = unsafe extern "C" fn(*mut TfLiteInterpreterOptions, i32);
type OptionsDelete = unsafe extern "C" fn(*mut TfLiteInterpreterOptions);
type InterpreterCreate = unsafe extern "C" fn(
    *const TfLiteModel,
    *const TfLiteInterpreterOptions,
) -> *mut TfLiteInterpreter;
type InterpreterDelete = unsafe extern "C" fn(*mut TfLiteInterpreter);
type AllocateTensors = unsafe extern "C" fn(*mut TfLiteInterpreter) -> c_int;
type TensorCount = unsafe extern "C" fn(*const TfLiteInterpreter) -> i32;
type InputTensor = unsafe extern "C" fn(*const TfLiteInterpreter, i32) -> *mut TfLiteTensor;
type OutputTensor = unsafe extern "C" fn(*const TfLiteInterpreter, i32) -> *const TfLiteTensor;
type Invoke = unsafe extern "C" fn(*mut TfLiteInterpreter) -> c_int;
type TensorType = unsafe extern "C" fn(*const TfLiteTensor) -> c_int;
type TensorNumDims = unsafe extern "C" fn(*const TfLiteTensor) -> i32;
type TensorDim = unsafe extern "C" fn(*const TfLiteTensor, i32) -> i32;
type TensorByteSize = unsafe extern "C" fn(*const TfLiteTensor) -> usize;
type CopyFromBuffer = unsafe extern "C" fn(*mut TfLiteTensor, *const c_void, usize) -> c_int;
type CopyToBuffer = unsafe extern "C" fn(*const TfLiteTensor, *mut c_void, usize) -> c_int;

/// The C API's entry points, resolved from one library.
struct Api {
    library: String,
    version: String,
    model_create: ModelCreate,
    model_delete: ModelDelete,
    options_create: OptionsCreate,
    options_set_num_threads: OptionsSetNumThreads,
    options_delete: OptionsDelete,
    interpreter_create: InterpreterCreate,
    interpreter_delete: InterpreterDelete,
    allocate_tensors: AllocateTensors,
    input_tensor_count: TensorCount,
    output_tensor_count: TensorCount,
    input_tensor: InputTensor,
    output_tensor: OutputTensor,
    invoke: Invoke,
    tensor_type: TensorType,
    tensor_num_dims: TensorNumDims,
    tensor_dim: TensorDim,
    tensor_byte_size: TensorByteSize,
    copy_from_buffer: CopyFromBuffer,
    copy_to_buffer: CopyToBuffer,
}

/// The last `dlerror()` message, or a generic one.
fn dl_error() -> String {
    // SAFETY: dlerror takes no arguments and returns NULL or a NUL-terminated string that stays
    // valid until the next dl* call on this thread (glibc keeps it per thread); we copy it at once.
    let p = unsafe { libc::dlerror() };
    if p.is_null() {
        "unknown error".to_string()
    } else {
        // SAFETY: non-NULL, NUL-terminated, valid until the next dl* call (see above).
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

/// The default cache directory, as the scripts compute it: `$MQTT_ML_CACHE`, else
/// `$XDG_CACHE_HOME/mqtt-ml`, else `$HOME/.cache/mqtt-ml`.
pub fn cache_dir() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(c) = var("MQTT_ML_CACHE") {
        return Some(PathBuf::from(c));
    }
    if let Some(x) = var("XDG_CACHE_HOME") {
        return Some(PathBuf::from(x).join("mqtt-ml"));
    }
    var("HOME").map(|h| PathBuf::from(h).join(".cache/mqtt-ml"))
}

/// Where to look for the library, in order. A configured path (argument, else `$MQTT_ML_TFLITE_LIB`)
/// is the only candidate: silently running some other library than the one configured would hide
/// a mistake. Otherwise the loader's own search (a system install), then the cache.
fn candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_path_buf()];
    }
    if let Some(p) = std::env::var_os(LIBRARY_ENV).filter(|v| !v.is_empty()) {
        return vec![PathBuf::from(p)];
    }
    let mut v = vec![PathBuf::from(LIBRARY_NAME)];
    if let Some(c) = cache_dir() {
        v.push(c.join("tflite").join(LIBRARY_NAME));
    }
    v
}

impl Api {
    fn load(explicit: Option<&Path>) -> Result<Api, ModelError> {
        let mut tried = Vec::new();
        for path in candidates(explicit) {
            let shown = path.display().to_string();
            let Ok(c_path) = CString::new(path.as_os_str().as_encoded_bytes()) else {
                tried.push(format!("{shown} (path contains a NUL byte)"));
                continue;
            };
            // SAFETY: c_path is a valid NUL-terminated string. RTLD_LOCAL keeps the library's
            // symbols out of the global namespace (Suricata and other plugins never see them);
            // RTLD_NOW reports missing dependencies here rather than at the first call. Loading
            // runs the library's static constructors, which is what loading it means.
            let handle =
                unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
            if handle.is_null() {
                let reason = dl_error();
                // dlerror repeats the path; keep just the reason.
                let reason = reason
                    .strip_prefix(&format!("{shown}: "))
                    .unwrap_or(&reason)
                    .to_string();
                tried.push(format!("{shown}: {reason}"));
                continue;
            }
            // The handle is deliberately never dlclose()d: the library may have registered
            // thread-local destructors or atexit handlers, and unmapping it under them would crash
            // at thread or process exit. A second dlopen of the same file returns the same handle.
            return Api::resolve(handle, &shown);
        }
        Err(ModelError::new(
            ErrorKind::LibraryNotFound,
            format!(
                "TensorFlow Lite C library not found (tried {})",
                tried.join("; ")
            ),
            format!(
                "run scripts/setup-tflite.sh or set {CONF_TFLITE_LIBRARY} to its path \
                 (or use the native backend)"
            ),
        ))
    }

    fn resolve(handle: *mut c_void, library: &str) -> Result<Api, ModelError> {
        let sym = |name: &str| -> Result<*mut c_void, ModelError> {
            let c_name = CString::new(name).expect("symbol names have no NUL");
            // SAFETY: handle is a live handle from dlopen; c_name is NUL-terminated.
            let p = unsafe { libc::dlsym(handle, c_name.as_ptr()) };
            if p.is_null() {
                Err(ModelError::new(
                    ErrorKind::Library,
                    format!("{library} has no {name}, so it is not the TensorFlow Lite C API"),
                    format!(
                        "run scripts/setup-tflite.sh or set {CONF_TFLITE_LIBRARY} to a \
                         libtensorflowlite_c.so"
                    ),
                ))
            } else {
                Ok(p)
            }
        };
        macro_rules! bind {
            ($name:literal, $ty:ty) => {{
                let p = sym($name)?;
                // SAFETY: p is the address of the C function $name, whose signature in the TFLite
                // C API (tensorflow/lite/c/c_api.h) matches the field's type it is bound to
                // (opaque pointers, int32/size_t/int arguments, C calling convention).
                unsafe { std::mem::transmute::<*mut c_void, $ty>(p) }
            }};
        }
        let version_fn = bind!("TfLiteVersion", Version);
        // SAFETY: TfLiteVersion returns a pointer to a static NUL-terminated string.
        let version = unsafe { CStr::from_ptr(version_fn()) }
            .to_string_lossy()
            .into_owned();
        Ok(Api {
            library: library.to_string(),
            version,
            model_create: bind!("TfLiteModelCreate", ModelCreate),
            model_delete: bind!("TfLiteModelDelete", ModelDelete),
            options_create: bind!("TfLiteInterpreterOptionsCreate", OptionsCreate),
            options_set_num_threads: bind!(
                "TfLiteInterpreterOptionsSetNumThreads",
                OptionsSetNumThreads
            ),
            options_delete: bind!("TfLiteInterpreterOptionsDelete", OptionsDelete),
            interpreter_create: bind!("TfLiteInterpreterCreate", InterpreterCreate),
            interpreter_delete: bind!("TfLiteInterpreterDelete", InterpreterDelete),
            allocate_tensors: bind!("TfLiteInterpreterAllocateTensors", AllocateTensors),
            input_tensor_count: bind!("TfLiteInterpreterGetInputTensorCount", TensorCount),
            output_tensor_count: bind!("TfLiteInterpreterGetOutputTensorCount", TensorCount),
            input_tensor: bind!("TfLiteInterpreterGetInputTensor", InputTensor),
            output_tensor: bind!("TfLiteInterpreterGetOutputTensor", OutputTensor),
            invoke: bind!("TfLiteInterpreterInvoke", Invoke),
            tensor_type: bind!("TfLiteTensorType", TensorType),
            tensor_num_dims: bind!("TfLiteTensorNumDims", TensorNumDims),
            tensor_dim: bind!("TfLiteTensorDim", TensorDim),
            tensor_byte_size: bind!("TfLiteTensorByteSize", TensorByteSize),
            copy_from_buffer: bind!("TfLiteTensorCopyFromBuffer", CopyFromBuffer),
            copy_to_buffer: bind!("TfLiteTensorCopyToBuffer", CopyToBuffer),
        })
    }

    fn describe(&self) -> String {
        format!("TensorFlow Lite {} ({})", self.version, self.library)
    }
}

/// A `TfLiteModel` and the bytes it reads from, shared by all interpreters of one loaded model.
pub struct SharedModel {
    api: Api,
    model: *mut TfLiteModel,
    path: PathBuf,
    width: usize,
    /// The model's bytes, 16-byte aligned: TFLite reads constant tensors in place and expects
    /// them as aligned as the flatbuffer's `force_align: 16` promises. Must outlive `model`,
    /// which holds pointers into it (dropped after `Drop::drop` deletes the model).
    _bytes: Vec<u128>,
}

// SAFETY: a TfLiteModel is immutable once created (interpreters only read it), and the C API
// allows one model to be shared by several interpreters; the struct owns the model and its bytes
// outright, and only TfLiteModelDelete (in Drop, with exclusive access) mutates anything.
unsafe impl Send for SharedModel {}
// SAFETY: see Send: concurrent use is limited to creating interpreters from the read-only model.
unsafe impl Sync for SharedModel {}

impl SharedModel {
    /// Loads the library and creates the model from `bytes` (already validated by the parser).
    pub fn new(
        library: Option<&Path>,
        bytes: &[u8],
        path: &Path,
        width: usize,
    ) -> Result<SharedModel, ModelError> {
        let api = Api::load(library)?;
        let aligned: Vec<u128> = bytes
            .chunks(16)
            .map(|c| {
                let mut b = [0u8; 16];
                b[..c.len()].copy_from_slice(c);
                u128::from_ne_bytes(b)
            })
            .collect();
        // SAFETY: the pointer and length describe `bytes.len()` initialised bytes inside
        // `aligned`, which SharedModel keeps alive (and unmoved: a Vec's heap buffer does not
        // move) until after TfLiteModelDelete. The function returns NULL on invalid data.
        let model = unsafe { (api.model_create)(aligned.as_ptr().cast(), bytes.len()) };
        if model.is_null() {
            return Err(ModelError::new(
                ErrorKind::Format,
                format!(
                    "model file {}: {} rejected it (its reason is on stderr)",
                    path.display(),
                    api.describe()
                ),
                "re-export it with tf.lite.TFLiteConverter, or use the native backend",
            ));
        }
        Ok(SharedModel {
            api,
            model,
            path: path.to_path_buf(),
            width,
            _bytes: aligned,
        })
    }
}

impl Drop for SharedModel {
    fn drop(&mut self) {
        // SAFETY: `model` came from TfLiteModelCreate and is deleted once, here. Every
        // interpreter using it holds an Arc<SharedModel>, so none is left when this runs.
        unsafe { (self.api.model_delete)(self.model) }
    }
}

/// One interpreter over the shared model: a worker thread's scorer.
pub struct TfliteScorer {
    shared: Arc<SharedModel>,
    interpreter: *mut TfLiteInterpreter,
    input: *mut TfLiteTensor,
    output: *const TfLiteTensor,
}

// SAFETY: the interpreter is owned by this scorer alone and used through `&mut self`, so from one
// thread at a time; TFLite interpreters have no thread affinity (no thread-locals tie them to the
// thread that created them), they are only not safe for concurrent use, which `!Sync` rules out.
unsafe impl Send for TfliteScorer {}

impl TfliteScorer {
    pub fn new(shared: Arc<SharedModel>) -> Result<TfliteScorer, ModelError> {
        let api = &shared.api;
        let fail = |problem: String| {
            ModelError::new(
                ErrorKind::Runtime,
                format!(
                    "model file {}: {}: {problem}",
                    shared.path.display(),
                    api.describe()
                ),
                "use the native backend, or a libtensorflowlite_c.so that supports this model",
            )
        };
        // SAFETY: plain constructor; NULL is checked below.
        let options = unsafe { (api.options_create)() };
        if options.is_null() {
            return Err(fail("cannot create interpreter options".into()));
        }
        // SAFETY: `options` is live; `shared.model` is live for as long as `shared` is, and the
        // returned interpreter is stored next to that Arc, so the model outlives it. The C API
        // copies what it needs from the options, which may be deleted right after.
        let interpreter = unsafe {
            // One thread per interpreter: the plugin already runs one per worker thread.
            (api.options_set_num_threads)(options, 1);
            let i = (api.interpreter_create)(shared.model, options);
            (api.options_delete)(options);
            i
        };
        if interpreter.is_null() {
            return Err(fail(
                "cannot build an interpreter (an operator or operator version it does not \
                 support? its reason is on stderr)"
                    .into(),
            ));
        }
        // From here on, Drop deletes the interpreter on every path.
        let mut scorer = TfliteScorer {
            shared: Arc::clone(&shared),
            interpreter,
            input: std::ptr::null_mut(),
            output: std::ptr::null(),
        };
        let width = shared.width;
        // SAFETY: `interpreter` is live. Tensor pointers returned by the getters stay valid for
        // the interpreter's lifetime once tensors are allocated (no resize happens afterwards);
        // index 0 is checked against the tensor counts before use.
        unsafe {
            if (api.allocate_tensors)(interpreter) != K_TFLITE_OK {
                return Err(fail("cannot allocate tensors".into()));
            }
            let (n_in, n_out) = (
                (api.input_tensor_count)(interpreter),
                (api.output_tensor_count)(interpreter),
            );
            if n_in != 1 || n_out != 1 {
                return Err(fail(format!("{n_in} inputs and {n_out} outputs")));
            }
            scorer.input = (api.input_tensor)(interpreter, 0);
            scorer.output = (api.output_tensor)(interpreter, 0);
        }
        for (what, t) in [
            ("input", scorer.input.cast_const()),
            ("output", scorer.output),
        ] {
            if t.is_null() {
                return Err(fail(format!("no {what} tensor")));
            }
            // SAFETY: `t` is a live tensor of the live interpreter (checked non-NULL above);
            // these getters only read its header, and `d` is below the dimension count.
            let (ty, dims, bytes) = unsafe {
                let n = (api.tensor_num_dims)(t);
                let dims: Vec<i32> = (0..n.clamp(0, 8)).map(|d| (api.tensor_dim)(t, d)).collect();
                ((api.tensor_type)(t), dims, (api.tensor_byte_size)(t))
            };
            if ty != K_TFLITE_FLOAT32 {
                return Err(ModelError::new(
                    ErrorKind::InputType,
                    format!(
                        "model file {}: {what} tensor has TfLiteType {ty}, not float32",
                        shared.path.display()
                    ),
                    "export the model as float32 (no full-integer quantization of inputs/outputs)",
                ));
            }
            let shape_ok = matches!(dims[..], [1, w] | [w] if w as usize == width);
            if !shape_ok || bytes != width * 4 {
                return Err(fail(format!(
                    "{what} tensor has shape {dims:?} ({bytes} bytes), expected [1, {width}]"
                )));
            }
        }
        Ok(scorer)
    }
}

impl Scorer for TfliteScorer {
    fn width(&self) -> usize {
        self.shared.width
    }

    fn reconstruct(&mut self, input: &[f32], output: &mut [f32]) -> Result<(), ModelError> {
        check_lengths(self.shared.width, input, output)?;
        let api = &self.shared.api;
        let bytes = std::mem::size_of_val(input);
        // SAFETY: the interpreter and its tensors are live (owned by self); the copies are
        // bounds-checked by TFLite against the tensor's byte size, which was checked to be
        // `width * 4` == the byte length of `input` and `output` (checked just above).
        let (stage, status) = unsafe {
            match (api.copy_from_buffer)(self.input, input.as_ptr().cast(), bytes) {
                K_TFLITE_OK => match (api.invoke)(self.interpreter) {
                    K_TFLITE_OK => (
                        "read the output",
                        (api.copy_to_buffer)(self.output, output.as_mut_ptr().cast(), bytes),
                    ),
                    status => ("run the model", status),
                },
                status => ("set the input", status),
            }
        };
        if status != K_TFLITE_OK {
            return Err(ModelError::new(
                ErrorKind::Runtime,
                format!(
                    "{} failed to {stage} of {} (status {status})",
                    api.describe(),
                    self.shared.path.display()
                ),
                "use the native backend",
            ));
        }
        Ok(())
    }
}

impl Drop for TfliteScorer {
    fn drop(&mut self) {
        // SAFETY: the interpreter came from TfLiteInterpreterCreate, is deleted once, here; the
        // model it uses is still alive (self.shared drops after this).
        unsafe { (self.shared.api.interpreter_delete)(self.interpreter) }
    }
}
