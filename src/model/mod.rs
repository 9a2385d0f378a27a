//! The anomaly model: a TensorFlow Lite autoencoder, loaded once and run by one [`Scorer`] per
//! worker thread. A message's score is the mean squared error between its (scaled) feature vector
//! and the model's reconstruction of it.
//!
//! Two interchangeable backends run the same `.tflite` file:
//! - [`Backend::Tflite`]: the TensorFlow Lite C library, bound at run time with `dlopen` so that a
//!   missing library is a clear configuration error rather than a loader failure
//!   ([`tflite_c`]);
//! - [`Backend::Native`]: a small pure-Rust forward pass over the same graph, for the dense float32
//!   operators such a model contains ([`native`]).

pub mod flatbuffer;
pub mod native;
pub mod tflite_c;
pub mod tflite_file;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use tflite_file::{tensor_type, Model};

/// Widest feature vector accepted (the schema has a few dozen features); bounds what a model file
/// can make either backend allocate per scorer.
pub const MAX_WIDTH: usize = 1 << 16;

/// The suricata.yaml keys error messages point at.
pub const CONF_MODEL: &str = "app-layer.protocols.mqtt-ml.model";
pub const CONF_BACKEND: &str = "app-layer.protocols.mqtt-ml.backend";
pub const CONF_TFLITE_LIBRARY: &str = "app-layer.protocols.mqtt-ml.tflite-library";

/// Runs the model on one feature vector at a time. Not shared: each worker thread owns one.
pub trait Scorer: Send {
    /// Feature width the model expects.
    fn width(&self) -> usize;
    /// Reconstructs `input` (already scaled to `[0, 1]`, len == width()) into `output` (same len).
    fn reconstruct(&mut self, input: &[f32], output: &mut [f32]) -> Result<(), ModelError>;
}

/// What kind of problem a [`ModelError`] reports (for callers that branch on it; the message is
/// for people).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The model file cannot be read.
    File,
    /// The file is not a (valid) TensorFlow Lite model.
    Format,
    /// A valid model this runtime cannot run (operator, tensor type or graph shape).
    Unsupported,
    /// The model's input is not float32.
    InputType,
    /// The model's width differs from the feature schema's, or a call passed the wrong length.
    Width,
    /// The TensorFlow Lite C library cannot be found or loaded.
    LibraryNotFound,
    /// A library was loaded but is not a usable TensorFlow Lite C API.
    Library,
    /// TensorFlow Lite failed at run time.
    Runtime,
    /// A configuration value is not one of the accepted ones.
    Config,
}

/// A model problem. Its `Display` is one line that names the problem and then, after the last
/// `": "`, how to fix it.
#[derive(Debug, Clone)]
pub struct ModelError {
    kind: ErrorKind,
    message: String,
}

impl ModelError {
    /// `problem` and `fix` are joined as "problem: fix".
    pub fn new(kind: ErrorKind, problem: impl fmt::Display, fix: impl fmt::Display) -> Self {
        ModelError {
            kind,
            message: format!("{problem}: {fix}"),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Model width vs the feature schema's width.
    pub fn width_mismatch(model_width: usize, schema_width: usize, schema: &str) -> Self {
        Self::new(
            ErrorKind::Width,
            format!("model has input width {model_width}, the feature schema has {schema_width}"),
            format!("retrain or use a model for schema {schema}"),
        )
    }

    fn bad_file(path: &Path, problem: impl fmt::Display) -> Self {
        Self::new(
            ErrorKind::Format,
            format!("model file {}: {problem}", path.display()),
            "re-export it from Keras with tf.lite.TFLiteConverter as float32 \
             (see training/make_test_models.py)",
        )
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ModelError {}

/// Mean squared error between `input` and its reconstruction (0 for empty vectors). Pairs beyond
/// the shorter slice are ignored.
pub fn mse(input: &[f32], output: &[f32]) -> f32 {
    let n = input.len().min(output.len());
    if n == 0 {
        return 0.0;
    }
    let (input, output) = (&input[..n], &output[..n]);
    // Eight independent partial sums: the loop vectorizes instead of waiting on one long chain of
    // dependent additions.
    let mut acc = [0.0f32; 8];
    let (xs, ys) = (input.chunks_exact(8), output.chunks_exact(8));
    let (x_rest, y_rest) = (xs.remainder(), ys.remainder());
    for (x, y) in xs.zip(ys) {
        for k in 0..8 {
            let d = x[k] - y[k];
            acc[k] += d * d;
        }
    }
    let mut sum = acc.iter().sum::<f32>();
    for (x, y) in x_rest.iter().zip(y_rest) {
        sum += (x - y) * (x - y);
    }
    sum / n as f32
}

/// The `N` largest per-feature squared errors, largest first: which features made a score high.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopErrors<const N: usize> {
    items: [(usize, f32); N],
    len: usize,
}

impl<const N: usize> TopErrors<N> {
    /// `(feature index, squared error)` pairs, largest error first; fewer than `N` only when the
    /// vectors are shorter than `N`.
    pub fn as_slice(&self) -> &[(usize, f32)] {
        &self.items[..self.len]
    }
}

/// Indices of the `N` largest per-feature squared errors, in descending order of error (ties: lower
/// index first). No allocation. A NaN error (a broken reconstruction) ranks, and is reported, as
/// infinity, so it is never hidden. Only the first 2^32 - 1 features are considered.
pub fn top_errors<const N: usize>(input: &[f32], output: &[f32]) -> TopErrors<N> {
    // Each candidate is one u64 key: the squared error's bits above (u32::MAX - index). A squared
    // error is never negative (nor -0.0), and the bit patterns of non-negative floats sort like the
    // floats, so comparing keys compares errors first, then prefers the lower index. Keeping the
    // N largest keys is then a min/max insertion network with no data-dependent branch, which
    // matters here: on real data which feature lands in the top N is unpredictable, and a branchy
    // insertion cost more than the rest of the scoring together.
    let mut keys = [0u64; N]; // 0: empty (every real key is larger, its low half being > 0)
    let n = input.len().min(output.len()).min(u32::MAX as usize - 1);
    for (i, (a, b)) in input[..n].iter().zip(&output[..n]).enumerate() {
        let d = a - b;
        let e = if d.is_nan() { f32::INFINITY } else { d * d };
        let mut carry = (u64::from(e.to_bits()) << 32) | u64::from(u32::MAX - i as u32);
        for slot in keys.iter_mut() {
            let (hi, lo) = ((*slot).max(carry), (*slot).min(carry));
            *slot = hi;
            carry = lo;
        }
    }
    let mut items = [(usize::MAX, 0.0); N];
    for (item, key) in items.iter_mut().zip(keys) {
        *item = (
            (u32::MAX - key as u32) as usize,
            f32::from_bits((key >> 32) as u32),
        );
    }
    TopErrors {
        items,
        len: n.min(N),
    }
}

/// Which engine runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The TensorFlow Lite C library (`libtensorflowlite_c.so`).
    Tflite,
    /// The built-in Rust forward pass.
    Native,
}

impl FromStr for Backend {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        match s {
            "tflite" => Ok(Backend::Tflite),
            "native" => Ok(Backend::Native),
            other => Err(ModelError::new(
                ErrorKind::Config,
                format!("{CONF_BACKEND}: unknown model backend {other:?}"),
                "use \"tflite\" or \"native\"",
            )),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Tflite => "tflite",
            Backend::Native => "native",
        })
    }
}

enum Engine {
    Native(Arc<native::Plan>),
    Tflite(Arc<tflite_c::SharedModel>),
}

struct Inner {
    path: PathBuf,
    bytes: Arc<[u8]>,
    width: usize,
    backend: Backend,
    engine: Engine,
}

/// A model loaded once from a `.tflite` file and shared by all worker threads (cheap to clone),
/// each of which makes its own [`Scorer`] with [`LoadedModel::new_scorer`].
#[derive(Clone)]
pub struct LoadedModel {
    inner: Arc<Inner>,
}

impl fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedModel")
            .field("path", &self.inner.path)
            .field("width", &self.inner.width)
            .field("backend", &self.inner.backend)
            .finish()
    }
}

impl LoadedModel {
    /// Reads and checks `path`, and prepares `backend`: the native backend compiles its plan (an
    /// unsupported operator fails here), the TFLite backend loads the C library (`tflite_library`,
    /// else `$MQTT_ML_TFLITE_LIB`, else the system's, else the one `scripts/setup-tflite.sh` puts in
    /// the cache) and builds one interpreter as a check, so every error surfaces at load time.
    pub fn load(
        path: &Path,
        backend: Backend,
        tflite_library: Option<&Path>,
    ) -> Result<LoadedModel, ModelError> {
        let bytes: Arc<[u8]> = std::fs::read(path)
            .map_err(|e| {
                ModelError::new(
                    ErrorKind::File,
                    format!("model file {}: cannot read it ({e})", path.display()),
                    format!(
                        "check {CONF_MODEL} (a relative path is taken from Suricata's \
                         working directory)"
                    ),
                )
            })?
            .into();
        let model = Model::parse(&bytes).map_err(|e| {
            if e.0.starts_with("not a TensorFlow Lite") {
                ModelError::bad_file(path, e)
            } else {
                ModelError::bad_file(
                    path,
                    format!("corrupt or truncated TensorFlow Lite file ({e})"),
                )
            }
        })?;
        let width = io_width(path, &model)?;
        let engine = match backend {
            Backend::Native => Engine::Native(Arc::new(
                native::Plan::build(&model, bytes.len()).map_err(|e| e.at(path))?,
            )),
            Backend::Tflite => {
                let shared = Arc::new(tflite_c::SharedModel::new(
                    tflite_library,
                    &bytes,
                    path,
                    width,
                )?);
                // One interpreter now, so that an operator this library cannot run is reported at
                // load time rather than when the first worker starts.
                drop(tflite_c::TfliteScorer::new(Arc::clone(&shared))?);
                Engine::Tflite(shared)
            }
        };
        Ok(LoadedModel {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                bytes,
                width,
                backend,
                engine,
            }),
        })
    }

    /// A new scorer (one per worker thread).
    pub fn new_scorer(&self) -> Result<Box<dyn Scorer>, ModelError> {
        Ok(match &self.inner.engine {
            Engine::Native(plan) => Box::new(native::NativeScorer::new(Arc::clone(plan))),
            Engine::Tflite(shared) => Box::new(tflite_c::TfliteScorer::new(Arc::clone(shared))?),
        })
    }

    /// Feature width the model expects.
    pub fn width(&self) -> usize {
        self.inner.width
    }

    /// Fails with the one-line "width mismatch" error unless the model takes `schema_width`
    /// features (`schema` names the feature schema, e.g. "v1").
    pub fn check_width(&self, schema_width: usize, schema: &str) -> Result<(), ModelError> {
        if self.inner.width == schema_width {
            Ok(())
        } else {
            Err(ModelError::width_mismatch(
                self.inner.width,
                schema_width,
                schema,
            ))
        }
    }

    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The model file's bytes, as loaded.
    pub fn bytes(&self) -> &[u8] {
        &self.inner.bytes
    }
}

/// The model's feature width: one float32 input of shape `[1, W]` (or `[W]`) and one float32
/// output of `W` values, as an autoencoder has. Checked for both backends, before either runs it.
fn io_width(path: &Path, model: &Model<'_>) -> Result<usize, ModelError> {
    let unsupported = |problem: String| {
        ModelError::new(
            ErrorKind::Unsupported,
            format!("model file {}: {problem}", path.display()),
            "export an autoencoder with one float32 input [1, W] and one float32 output [1, W]",
        )
    };
    if model.inputs.len() != 1 || model.outputs.len() != 1 {
        return Err(unsupported(format!(
            "model has {} inputs and {} outputs, not one of each",
            model.inputs.len(),
            model.outputs.len()
        )));
    }
    // Indices were validated by the parser.
    let input = &model.tensors[model.inputs[0] as usize];
    let output = &model.tensors[model.outputs[0] as usize];
    for (what, t) in [("input", input), ("output", output)] {
        if t.ttype != tensor_type::FLOAT32 {
            return Err(ModelError::new(
                ErrorKind::InputType,
                format!(
                    "model file {}: {what} tensor is {}, not FLOAT32",
                    path.display(),
                    tensor_type::name(t.ttype)
                ),
                "export the model as float32 (no full-integer quantization of inputs/outputs)",
            ));
        }
    }
    let width_of = |shape: &[i32]| match shape {
        [1, w] | [w] if *w > 0 && *w as usize <= MAX_WIDTH => Some(*w as usize),
        _ => None,
    };
    let w = width_of(&input.shape)
        .ok_or_else(|| unsupported(format!("input shape {:?} is not [1, W]", input.shape)))?;
    if width_of(&output.shape) != Some(w) {
        return Err(unsupported(format!(
            "output shape {:?} does not match input shape {:?}",
            output.shape, input.shape
        )));
    }
    Ok(w)
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::path::PathBuf;

    pub fn model_path(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/models")
            .join(name)
    }

    pub fn model_bytes(name: &str) -> Vec<u8> {
        let p = model_path(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// A small deterministic generator (SplitMix64) so tests need no extra crate.
    pub struct Rng(u64);

    impl Rng {
        pub fn new(seed: u64) -> Self {
            Rng(seed)
        }
        pub fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        /// Uniform in `0..n` (0 when n == 0).
        pub fn below(&mut self, n: usize) -> usize {
            if n == 0 {
                0
            } else {
                (self.next_u64() % n as u64) as usize
            }
        }
        /// Uniform in [0, 1).
        pub fn unit(&mut self) -> f32 {
            (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
        }
    }
}

#[cfg(test)]
mod tests;
