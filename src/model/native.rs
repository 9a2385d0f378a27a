//! A pure-Rust forward pass for dense float32 TFLite graphs.
//!
//! [`Plan::build`] turns the model's first subgraph into a list of steps once, at load time:
//! constant weights are decoded to `f32` (regrouped in blocks of outputs for the matrix-vector
//! products), every activation tensor gets a slot of known size, and anything this backend cannot
//! run exactly is rejected with the operator's name. [`NativeScorer`] then runs the steps in the graph's order over
//! its own slots, allocated once, so scoring a message allocates nothing. An activation operator
//! that only post-processes a FULLY_CONNECTED layer (the LOGISTIC after the last Dense layer) runs
//! inside that layer's step, on each block of outputs as it is stored.
//!
//! Operators: FULLY_CONNECTED (weights `[out, in]`, optional bias, fused activation), LOGISTIC,
//! RELU, RELU6, RELU_N1_TO_1, TANH, ADD / SUB / MUL (elementwise, with a constant or a same-size
//! operand, fused activation; what a BatchNormalization that was not folded leaves behind) and
//! RESHAPE. A Keras Dense/BatchNorm/Dropout autoencoder exports as FULLY_CONNECTED (+ fused RELU)
//! and LOGISTIC only: Dropout vanishes and BatchNorm folds into the preceding layer's weights.

use std::path::Path;
use std::sync::Arc;

use super::tflite_file::{op, options, tensor_type, Model, Operator};
use super::{ErrorKind, ModelError, Scorer};

/// Why a graph cannot be run natively (the caller adds the file name).
#[derive(Debug, Clone)]
pub struct PlanError(String);

impl PlanError {
    pub fn at(&self, path: &Path) -> ModelError {
        ModelError::new(
            ErrorKind::Unsupported,
            format!("model file {}: {}", path.display(), self.0),
            format!(
                "use {} tflite, or export a dense float32 model (FULLY_CONNECTED, LOGISTIC, RELU, \
                 RELU6, TANH, ADD, SUB, MUL, RESHAPE)",
                super::CONF_BACKEND
            ),
        )
    }
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Activation {
    None,
    Relu,
    ReluN1To1,
    Relu6,
    Tanh,
    Logistic,
}

impl Activation {
    /// TFLite's `ActivationFunctionType` (fused into FULLY_CONNECTED, ADD, ...).
    fn fused(code: i8) -> Option<Self> {
        Some(match code {
            0 => Activation::None,
            1 => Activation::Relu,
            2 => Activation::ReluN1To1,
            3 => Activation::Relu6,
            4 => Activation::Tanh,
            _ => return None, // SIGN_BIT and unknown values
        })
    }

    // Always inlined, so that it is compiled with the caller's vector width (see `Plan::run`).
    #[inline(always)]
    fn apply(self, v: &mut [f32]) {
        match self {
            Activation::None => {}
            Activation::Relu => v.iter_mut().for_each(|x| *x = x.max(0.0)),
            Activation::ReluN1To1 => v.iter_mut().for_each(|x| *x = x.clamp(-1.0, 1.0)),
            Activation::Relu6 => v.iter_mut().for_each(|x| *x = x.clamp(0.0, 6.0)),
            Activation::Tanh => v.iter_mut().for_each(|x| *x = x.tanh()),
            Activation::Logistic => v.iter_mut().for_each(|x| *x = logistic(*x)),
        }
    }
}

#[inline(always)]
fn logistic(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `e^x` for f32, branch-free so that loops over it vectorize (std's `exp` is a libm call per
/// element, which dominated the forward pass). Relative error is a few 1e-7, well inside the
/// 1e-5 agreement the backends keep with Keras. Classic scheme: x = n ln2 + r with |r| <= ln2/2,
/// e^r from a degree-6 polynomial, 2^n put straight into the exponent bits.
#[inline(always)]
fn exp(x: f32) -> f32 {
    // Beyond these, e^x is 0 or +inf in f32 anyway; the clamp keeps 2^n a normal number.
    let x = x.clamp(-87.0, 88.0);
    // Round x / ln2 to the nearest integer by adding 1.5 * 2^23: the sum's low mantissa bits
    // then hold n (SSE2 has no vector round instruction; this needs only an add).
    const SHIFT: f32 = 12_582_912.0;
    let t = x * std::f32::consts::LOG2_E + SHIFT;
    let n = t - SHIFT;
    // r = x - n ln2, with ln2 split in two so the product is exact enough.
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e_r = p * r * r + r + 1.0;
    // 2^n: n (in -126..=127 after the clamp) goes into the exponent field.
    let n_bits = t.to_bits().wrapping_sub(SHIFT.to_bits()) as i32;
    e_r * f32::from_bits((n_bits.wrapping_add(127) as u32) << 23)
}

/// Outputs computed together by FULLY_CONNECTED: 16 floats are four SSE registers, enough
/// independent accumulators to hide the latency of the additions.
const BLOCK: usize = 16;

#[derive(Debug, Clone, Copy)]
enum BinOp {
    Add,
    Sub,
    Mul,
}

#[derive(Debug, Clone)]
enum Operand {
    Slot(usize),
    Const(Vec<f32>),
}

#[derive(Debug, Clone)]
enum Step {
    /// y = act(W x + b). The weights are stored in blocks of [`BLOCK`] outputs: block `b` holds,
    /// for each input `i` in turn, `W[b*BLOCK .. b*BLOCK+BLOCK][i]` (zero-padded past the last
    /// output). A block's accumulators then stay in registers for the whole pass over the inputs
    /// (a plain `y += x[i] * W^T[i]` keeps `y` in memory and stalls on reloading it), the inner
    /// loop is a fixed-size vector multiply-add, and each output still sums bias + x0 w0 + x1 w1
    /// + ... in input order, as a plain dot product would.
    FullyConnected {
        input: usize,
        output: usize,
        blocks: Vec<[f32; BLOCK]>,
        bias: Vec<[f32; BLOCK]>,
        act: Activation,
        /// A LOGISTIC, TANH, ... operator that followed and was the only reader of this layer's
        /// output, applied after `act` (see [`fuse_activations`]).
        post: Activation,
    },
    Unary {
        input: usize,
        output: usize,
        act: Activation,
    },
    Binary {
        a: Operand,
        b: Operand,
        output: usize,
        op: BinOp,
        act: Activation,
    },
    Copy {
        input: usize,
        output: usize,
    },
}

/// The compiled graph: shared, read-only, by every scorer of one model.
#[derive(Debug)]
pub struct Plan {
    width: usize,
    input_slot: usize,
    output_slot: usize,
    slot_sizes: Vec<usize>,
    steps: Vec<Step>,
}

/// Activation slots may hold at most this many values in total, or as many as the file has bytes
/// if that is more. Weights bound most sizes already, but a chain of elementwise operators over a
/// wide declared input has no weights; this keeps a crafted file from making each scorer allocate
/// far more than the file's own size.
const MIN_ARENA_CAP: usize = 1 << 16;

fn fail<T>(msg: String) -> Result<T, PlanError> {
    Err(PlanError(msg))
}

/// Decodes a constant float32 tensor's little-endian bytes.
fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Number of elements of a fully known shape (`None` if a dimension is unknown or it overflows).
fn elements(shape: &[i32]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| {
        if d < 0 {
            None
        } else {
            n.checked_mul(d as usize)
        }
    })
}

struct Builder<'m, 'a> {
    model: &'m Model<'a>,
    /// Tensor index -> slot, for activations computed so far.
    slot_of: Vec<Option<usize>>,
    slot_sizes: Vec<usize>,
    arena_cap: usize,
}

impl<'m, 'a> Builder<'m, 'a> {
    fn name(&self, t: usize) -> String {
        let n = self.model.tensors[t].name;
        if n.is_empty() {
            format!("tensor {t}")
        } else {
            format!("tensor {t} ({n})")
        }
    }

    fn is_const(&self, t: usize) -> bool {
        !self.model.tensor_data(&self.model.tensors[t]).is_empty()
    }

    fn check_float(&self, t: usize, what: &str) -> Result<(), PlanError> {
        let ty = self.model.tensors[t].ttype;
        if ty != tensor_type::FLOAT32 {
            return fail(format!(
                "{what}: {} is {}, the native backend runs FLOAT32 only",
                self.name(t),
                tensor_type::name(ty)
            ));
        }
        Ok(())
    }

    /// Constant float32 data of tensor `t`, which must hold exactly its shape's element count.
    fn constant(&self, t: usize, what: &str) -> Result<Vec<f32>, PlanError> {
        self.check_float(t, what)?;
        let tensor = &self.model.tensors[t];
        let data = self.model.tensor_data(tensor);
        match elements(&tensor.shape) {
            Some(n) if n.checked_mul(4) == Some(data.len()) => Ok(floats(data)),
            _ => fail(format!(
                "{what}: {} has shape {:?} but {} bytes of data",
                self.name(t),
                tensor.shape,
                data.len()
            )),
        }
    }

    /// The slot of an activation tensor already computed (or the graph input).
    fn slot(&self, t: i32, what: &str) -> Result<usize, PlanError> {
        if t < 0 {
            return fail(format!("{what}: a required input is missing"));
        }
        let t = t as usize;
        self.check_float(t, what)?;
        match self.slot_of[t] {
            Some(s) => Ok(s),
            None if self.is_const(t) => fail(format!(
                "{what}: {} is a constant where the native backend expects an activation",
                self.name(t)
            )),
            None => fail(format!(
                "{what}: {} is used before any operator computes it",
                self.name(t)
            )),
        }
    }

    fn operand(&self, t: i32, what: &str) -> Result<Operand, PlanError> {
        if t >= 0 && self.slot_of[t as usize].is_none() && self.is_const(t as usize) {
            Ok(Operand::Const(self.constant(t as usize, what)?))
        } else {
            Ok(Operand::Slot(self.slot(t, what)?))
        }
    }

    fn len(&self, o: &Operand) -> usize {
        match o {
            Operand::Slot(s) => self.slot_sizes[*s],
            Operand::Const(v) => v.len(),
        }
    }

    /// A new slot for the single output of an operator, holding `size` values. Each tensor is
    /// written once, so no step ever reads the slot it writes.
    fn output(&mut self, o: &Operator<'_>, size: usize, what: &str) -> Result<usize, PlanError> {
        let [t] = o.outputs[..] else {
            return fail(format!(
                "{what}: has {} outputs, expected 1",
                o.outputs.len()
            ));
        };
        let t = t as usize; // validated non-negative and in range by the parser
        self.check_float(t, what)?;
        if self.slot_of[t].is_some() || self.is_const(t) {
            return fail(format!("{what}: {} is written twice", self.name(t)));
        }
        if let Some(declared) = elements(&self.model.tensors[t].shape) {
            if declared != size {
                return fail(format!(
                    "{what}: {} has shape {:?} but the operator produces {size} values",
                    self.name(t),
                    self.model.tensors[t].shape
                ));
            }
        }
        let total = self.slot_sizes.iter().sum::<usize>() + size;
        if total > self.arena_cap {
            return fail(format!(
                "{what}: the activations would need {total} values, more than a model of this size \
                 can justify"
            ));
        }
        let s = self.slot_sizes.len();
        self.slot_sizes.push(size);
        self.slot_of[t] = Some(s);
        Ok(s)
    }

    /// The fused activation from an operator's options table (`expected` union tag).
    fn fused(&self, o: &Operator<'_>, expected: u8, what: &str) -> Result<Activation, PlanError> {
        let code = match (o.options_type, o.options) {
            (0, _) | (_, None) => 0,
            (t, Some(table)) if t == expected => table
                .i8(0, 0)
                .or_else(|e| fail(format!("{what}: bad options ({e})")))?,
            (t, _) => return fail(format!("{what}: unexpected options type {t}")),
        };
        Activation::fused(code).map_or_else(
            || fail(format!("{what}: unsupported fused activation {code}")),
            Ok,
        )
    }

    fn fully_connected(&mut self, o: &Operator<'_>, what: &str) -> Result<Step, PlanError> {
        let (x, w, b) = match o.inputs[..] {
            [x, w] => (x, w, -1),
            [x, w, b] => (x, w, b),
            _ => return fail(format!("{what}: has {} inputs", o.inputs.len())),
        };
        if let (options::FULLY_CONNECTED, Some(t)) = (o.options_type, o.options) {
            // weights_format: only DEFAULT (0); the shuffled int8 layout is for quantized models.
            let format = t
                .i8(1, 0)
                .or_else(|e| fail(format!("{what}: bad options ({e})")))?;
            if format != 0 {
                return fail(format!("{what}: weights format {format} is not DEFAULT"));
            }
        }
        let act = self.fused(o, options::FULLY_CONNECTED, what)?;
        let input = self.slot(x, what)?;
        if w < 0 || !self.is_const(w as usize) {
            return fail(format!("{what}: weights are not a constant tensor"));
        }
        let shape = self.model.tensors[w as usize].shape.clone();
        let [out_n, in_n] = shape[..] else {
            return fail(format!("{what}: weights shape {shape:?} is not [out, in]"));
        };
        let (out_n, in_n) = (out_n.max(0) as usize, in_n.max(0) as usize);
        let weights = self.constant(w as usize, what)?;
        if in_n == 0 || out_n == 0 || self.slot_sizes[input] != in_n {
            return fail(format!(
                "{what}: input has {} values, weights expect {in_n} (batch size must be 1)",
                self.slot_sizes[input]
            ));
        }
        let bias = if b < 0 {
            vec![0.0; out_n]
        } else if self.is_const(b as usize) {
            let bias = self.constant(b as usize, what)?;
            if bias.len() != out_n {
                return fail(format!(
                    "{what}: bias has {} values, expected {out_n}",
                    bias.len()
                ));
            }
            bias
        } else {
            return fail(format!("{what}: bias is not a constant tensor"));
        };
        let n_blocks = out_n.div_ceil(BLOCK);
        let mut blocks = vec![[0.0; BLOCK]; n_blocks * in_n];
        let mut bias_blocks = vec![[0.0; BLOCK]; n_blocks];
        for (r, row) in weights.chunks_exact(in_n).enumerate() {
            let (b, k) = (r / BLOCK, r % BLOCK);
            for (i, &v) in row.iter().enumerate() {
                blocks[b * in_n + i][k] = v;
            }
            bias_blocks[b][k] = bias[r];
        }
        let output = self.output(o, out_n, what)?;
        Ok(Step::FullyConnected {
            input,
            output,
            blocks,
            bias: bias_blocks,
            act,
            post: Activation::None,
        })
    }

    fn unary(&mut self, o: &Operator<'_>, act: Activation, what: &str) -> Result<Step, PlanError> {
        let Some(&x) = o.inputs.first() else {
            return fail(format!("{what}: has no input"));
        };
        let input = self.slot(x, what)?;
        let output = self.output(o, self.slot_sizes[input], what)?;
        Ok(Step::Unary { input, output, act })
    }

    fn binary(&mut self, o: &Operator<'_>, bop: BinOp, what: &str) -> Result<Step, PlanError> {
        let [x, y] = o.inputs[..] else {
            return fail(format!("{what}: has {} inputs, expected 2", o.inputs.len()));
        };
        let tag = match bop {
            BinOp::Add => options::ADD,
            BinOp::Sub => options::SUB,
            BinOp::Mul => options::MUL,
        };
        let act = self.fused(o, tag, what)?;
        let a = self.operand(x, what)?;
        let b = self.operand(y, what)?;
        if matches!((&a, &b), (Operand::Const(_), Operand::Const(_))) {
            return fail(format!("{what}: both operands are constants"));
        }
        let (la, lb) = (self.len(&a), self.len(&b));
        // Same size, or a single value broadcast over the other: the shapes a folded-out
        // BatchNorm or a scaling layer leave ([1, n] with [n] or [1]).
        let n = match (la, lb) {
            _ if la == lb => la,
            (1, n) | (n, 1) => n,
            _ => return fail(format!("{what}: cannot broadcast {la} values with {lb}")),
        };
        let output = self.output(o, n, what)?;
        Ok(Step::Binary {
            a,
            b,
            output,
            op: bop,
            act,
        })
    }
}

/// The slots a step reads.
fn reads(step: &Step) -> impl Iterator<Item = usize> + '_ {
    let (x, y) = match step {
        Step::FullyConnected { input, .. }
        | Step::Unary { input, .. }
        | Step::Copy { input, .. } => (Some(*input), None),
        Step::Binary { a, b, .. } => {
            let slot = |o: &Operand| match o {
                Operand::Slot(s) => Some(*s),
                Operand::Const(_) => None,
            };
            (slot(a), slot(b))
        }
    };
    x.into_iter().chain(y)
}

/// Moves each unary activation (LOGISTIC after the last Dense layer, as Keras exports it) into
/// the FULLY_CONNECTED step whose output is its only input, when nothing else reads that output.
/// The step then applies it to its accumulators before storing them, saving a pass over memory;
/// the values are the same, computed by the same function on the same numbers.
fn fuse_activations(steps: &mut Vec<Step>, output_slot: usize) {
    let mut i = 0;
    while i < steps.len() {
        let Step::FullyConnected {
            output,
            post: Activation::None,
            ..
        } = steps[i]
        else {
            i += 1;
            continue;
        };
        let readers = steps
            .iter()
            .flat_map(reads)
            .filter(|&r| r == output)
            .count();
        let unary = steps
            .iter()
            .position(|s| matches!(s, Step::Unary { input, .. } if *input == output));
        match unary {
            Some(j) if readers == 1 && output != output_slot => {
                let Step::Unary {
                    output: to, act, ..
                } = steps.remove(j)
                else {
                    unreachable!("position() matched a unary step")
                };
                if let Step::FullyConnected { output, post, .. } = &mut steps[i] {
                    *output = to;
                    *post = act;
                }
                // Step i may fuse again with the next activation; removing j > i kept it at i.
            }
            _ => i += 1,
        }
    }
}

impl Plan {
    /// `file_len` is the model file's size, which bounds the activation memory (see
    /// `MIN_ARENA_CAP`).
    pub fn build(model: &Model<'_>, file_len: usize) -> Result<Plan, PlanError> {
        Self::compile(model, file_len, true)
    }

    /// `fuse`: move unary activations into the layer before them ([`fuse_activations`]); off
    /// only in tests, which check that it changes nothing but the speed.
    fn compile(model: &Model<'_>, file_len: usize, fuse: bool) -> Result<Plan, PlanError> {
        let mut b = Builder {
            model,
            slot_of: vec![None; model.tensors.len()],
            slot_sizes: Vec::new(),
            arena_cap: file_len.max(MIN_ARENA_CAP),
        };
        let ([input], [output]) = (&model.inputs[..], &model.outputs[..]) else {
            return fail("the graph needs exactly one input and one output".to_string());
        };
        let input_t = *input as usize;
        b.check_float(input_t, "graph input")?;
        let width = match model.tensors[input_t].shape[..] {
            [1, w] | [w] if w > 0 && w as usize <= super::MAX_WIDTH => w as usize,
            _ => return fail("graph input is not [1, W]".to_string()),
        };
        b.slot_sizes.push(width);
        b.slot_of[input_t] = Some(0);

        let mut steps = Vec::with_capacity(model.operators.len());
        for (i, o) in model.operators.iter().enumerate() {
            let code = model.builtin_code(o);
            let what = format!("operator {i} ({})", op::name(code));
            let step = match code {
                op::FULLY_CONNECTED => b.fully_connected(o, &what)?,
                op::LOGISTIC => b.unary(o, Activation::Logistic, &what)?,
                op::RELU => b.unary(o, Activation::Relu, &what)?,
                op::RELU6 => b.unary(o, Activation::Relu6, &what)?,
                op::RELU_N1_TO_1 => b.unary(o, Activation::ReluN1To1, &what)?,
                op::TANH => b.unary(o, Activation::Tanh, &what)?,
                op::ADD => b.binary(o, BinOp::Add, &what)?,
                op::SUB => b.binary(o, BinOp::Sub, &what)?,
                op::MUL => b.binary(o, BinOp::Mul, &what)?,
                op::RESHAPE => {
                    let Some(&x) = o.inputs.first() else {
                        return fail(format!("{what}: has no input"));
                    };
                    let input = b.slot(x, &what)?;
                    let output = b.output(o, b.slot_sizes[input], &what)?;
                    Step::Copy { input, output }
                }
                _ => return fail(format!("{what} is not supported by the native backend")),
            };
            steps.push(step);
        }

        let output_t = *output as usize;
        let Some(output_slot) = b.slot_of[output_t] else {
            return fail("no operator computes the graph output".to_string());
        };
        if b.slot_sizes[output_slot] != width {
            return fail(format!(
                "the graph output has {} values, its input {width}",
                b.slot_sizes[output_slot]
            ));
        }
        if fuse {
            fuse_activations(&mut steps, output_slot);
        }
        Ok(Plan {
            width,
            input_slot: 0,
            output_slot,
            slot_sizes: b.slot_sizes,
            steps,
        })
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// Runs the steps, with 256-bit vectors where the CPU has AVX. Only the vector width changes:
    /// every output is still the same sequence of multiplies and adds (no fused multiply-add), so
    /// both paths give bit-identical results.
    fn run(&self, slots: &mut [Vec<f32>], features: &[f32], reconstruction: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU has AVX, checked just above (the check is a cached load).
            unsafe { self.run_avx(slots, features, reconstruction) };
            return;
        }
        self.run_steps::<false>(slots, features, reconstruction);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    fn run_avx(&self, slots: &mut [Vec<f32>], features: &[f32], reconstruction: &mut [f32]) {
        self.run_steps::<true>(slots, features, reconstruction);
    }

    /// The steps themselves. `slots` comes from [`Plan::new_slots`]: each holds its values
    /// followed by padding up to a whole number of blocks, so that a FULLY_CONNECTED step stores
    /// whole blocks only. Slot indices and sizes were fixed at build time, so the indexing below
    /// cannot go out of bounds.
    /// `AVX`: the caller has checked that the CPU has AVX.
    #[inline(always)]
    fn run_steps<const AVX: bool>(
        &self,
        slots: &mut [Vec<f32>],
        features: &[f32],
        reconstruction: &mut [f32],
    ) {
        let sizes = &self.slot_sizes[..];
        let input_slot = self.input_slot;
        for step in &self.steps {
            match step {
                Step::FullyConnected {
                    input,
                    output,
                    blocks,
                    bias,
                    act,
                    post,
                } => {
                    // Take the output slot out so it can be written while the input is read
                    // (they are different slots); no allocation, just a pointer swap.
                    let mut y = std::mem::take(&mut slots[*output]);
                    let x = read(slots, sizes, features, input_slot, *input);
                    let n_in = x.len();
                    for ((y_block, weights), b) in y
                        .chunks_exact_mut(BLOCK)
                        .zip(blocks.chunks_exact(n_in))
                        .zip(bias)
                    {
                        let y_block: &mut [f32; BLOCK] = y_block
                            .try_into()
                            .expect("chunks_exact_mut gives whole blocks");
                        dense_block::<AVX>(x, weights, b, y_block);
                        // The activations on the whole block, a fixed length: a few full-width
                        // vector operations each (padding lanes get them too, and are never
                        // read).
                        act.apply(y_block);
                        post.apply(y_block);
                    }
                    slots[*output] = y;
                }
                Step::Unary { input, output, act } => {
                    let mut y = std::mem::take(&mut slots[*output]);
                    let n = sizes[*output];
                    y[..n].copy_from_slice(read(slots, sizes, features, input_slot, *input));
                    act.apply(&mut y[..n]);
                    slots[*output] = y;
                }
                Step::Binary {
                    a,
                    b,
                    output,
                    op,
                    act,
                } => {
                    let mut taken = std::mem::take(&mut slots[*output]);
                    let y = &mut taken[..sizes[*output]];
                    let (p, q) = (
                        operand(a, slots, sizes, features, input_slot),
                        operand(b, slots, sizes, features, input_slot),
                    );
                    // Sizes were matched at build time: equal, or one side a single value.
                    let at = |v: &[f32], i: usize| if v.len() == 1 { v[0] } else { v[i] };
                    for (i, yo) in y.iter_mut().enumerate() {
                        let (p, q) = (at(p, i), at(q, i));
                        *yo = match op {
                            BinOp::Add => p + q,
                            BinOp::Sub => p - q,
                            BinOp::Mul => p * q,
                        };
                    }
                    act.apply(y);
                    slots[*output] = taken;
                }
                Step::Copy { input, output } => {
                    let mut y = std::mem::take(&mut slots[*output]);
                    let n = sizes[*output];
                    y[..n].copy_from_slice(read(slots, sizes, features, input_slot, *input));
                    slots[*output] = y;
                }
            }
        }
        reconstruction.copy_from_slice(read(slots, sizes, features, input_slot, self.output_slot));
    }

    /// One vector per slot, padded to whole blocks (see [`Plan::run_steps`]).
    fn new_slots(&self) -> Vec<Vec<f32>> {
        self.slot_sizes
            .iter()
            .map(|&n| vec![0.0; n.next_multiple_of(BLOCK)])
            .collect()
    }
}

/// One block of a FULLY_CONNECTED layer before its activation: `out[k] = bias[k] + x[0] w[0][k]
/// + x[1] w[1][k] + ...`, summed in input order, one rounding per multiply and per add. `AVX`: the
/// CPU has AVX (see [`Plan::run`]).
#[inline(always)]
fn dense_block<const AVX: bool>(
    x: &[f32],
    weights: &[[f32; BLOCK]],
    bias: &[f32; BLOCK],
    out: &mut [f32; BLOCK],
) {
    #[cfg(target_arch = "x86_64")]
    if AVX {
        // SAFETY: `AVX` is true only in `Plan::run_avx`, which runs when the CPU has AVX.
        unsafe { dense_block_avx(x, weights, bias, out) };
        return;
    }
    let mut acc = *bias;
    for (xi, w) in x.iter().zip(weights) {
        for k in 0..BLOCK {
            acc[k] += xi * w[k];
        }
    }
    *out = acc;
}

/// [`dense_block`] written with AVX instructions: the compiler's own vectorization of the loop
/// above splits a block into uneven pieces, this keeps it in two registers of eight. The same
/// operations (a multiply, then an add; no fused multiply-add), so the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[inline]
unsafe fn dense_block_avx(
    x: &[f32],
    weights: &[[f32; BLOCK]],
    bias: &[f32; BLOCK],
    out: &mut [f32; BLOCK],
) {
    use std::arch::x86_64::{
        _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_set1_ps, _mm256_storeu_ps,
    };
    const { assert!(BLOCK == 16) };
    // SAFETY: every pointer is to a whole [f32; 16], read or written as two halves of eight;
    // the loads and stores are the unaligned kind.
    unsafe {
        let mut lo = _mm256_loadu_ps(bias.as_ptr());
        let mut hi = _mm256_loadu_ps(bias.as_ptr().add(8));
        for (xi, w) in x.iter().zip(weights) {
            let v = _mm256_set1_ps(*xi);
            lo = _mm256_add_ps(lo, _mm256_mul_ps(v, _mm256_loadu_ps(w.as_ptr())));
            hi = _mm256_add_ps(hi, _mm256_mul_ps(v, _mm256_loadu_ps(w.as_ptr().add(8))));
        }
        _mm256_storeu_ps(out.as_mut_ptr(), lo);
        _mm256_storeu_ps(out.as_mut_ptr().add(8), hi);
    }
}

/// Slot `s`'s values, where the graph input's slot is the caller's feature vector itself.
#[inline]
fn read<'s>(
    slots: &'s [Vec<f32>],
    sizes: &[usize],
    features: &'s [f32],
    input_slot: usize,
    s: usize,
) -> &'s [f32] {
    if s == input_slot {
        features
    } else {
        &slots[s][..sizes[s]]
    }
}

#[inline]
fn operand<'s>(
    o: &'s Operand,
    slots: &'s [Vec<f32>],
    sizes: &[usize],
    features: &'s [f32],
    input_slot: usize,
) -> &'s [f32] {
    match o {
        Operand::Slot(s) => read(slots, sizes, features, input_slot, *s),
        Operand::Const(c) => c,
    }
}

/// One worker's native scorer: the shared plan plus its own activation slots.
pub struct NativeScorer {
    plan: Arc<Plan>,
    slots: Vec<Vec<f32>>,
}

impl NativeScorer {
    pub fn new(plan: Arc<Plan>) -> Self {
        let slots = plan.new_slots();
        NativeScorer { plan, slots }
    }
}

impl Scorer for NativeScorer {
    fn width(&self) -> usize {
        self.plan.width
    }

    fn reconstruct(&mut self, input: &[f32], output: &mut [f32]) -> Result<(), ModelError> {
        check_lengths(self.plan.width, input, output)?;
        self.plan.run(&mut self.slots, input, output);
        Ok(())
    }
}

/// Both vectors must have the model's width (shared by the two backends).
pub(crate) fn check_lengths(width: usize, input: &[f32], output: &[f32]) -> Result<(), ModelError> {
    if input.len() != width || output.len() != width {
        return Err(ModelError::new(
            ErrorKind::Width,
            format!(
                "reconstruct called with {} inputs and {} outputs for a model of width {width}",
                input.len(),
                output.len()
            ),
            "pass vectors of the model's width (Scorer::width)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_is_accurate() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x <= 88.0 {
            let want = (x as f64).exp();
            let rel = ((exp(x) as f64 - want) / want).abs();
            worst = worst.max(rel);
            x += 0.001_7;
        }
        assert!(worst < 5e-7, "relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(logistic(0.0), 0.5);
        assert!(logistic(-1000.0) >= 0.0 && logistic(-1000.0) < 1e-37);
        assert_eq!(logistic(1000.0), 1.0);
        assert!(exp(f32::NAN).is_nan() || exp(f32::NAN) >= 0.0); // no panic on NaN
    }

    /// The portable steps give the same bits as the ones [`Plan::run`] picks for this CPU (the
    /// AVX ones, on most x86-64), on every test graph the native backend runs.
    #[test]
    fn portable_and_vector_paths_agree_bit_for_bit() {
        use crate::model::test_support::{model_bytes, Rng};
        for name in [
            "ae28.tflite",
            "ops28.tflite",
            "identity28.tflite",
            "zero28.tflite",
        ] {
            let bytes = model_bytes(name);
            let model = Model::parse(&bytes).expect("parse");
            let plan = Plan::build(&model, bytes.len()).expect("plan");
            let mut slots = plan.new_slots();
            let mut rng = Rng::new(11);
            let (mut fast, mut plain) = (vec![0.0; plan.width], vec![0.0; plan.width]);
            for _ in 0..500 {
                let x: Vec<f32> = (0..plan.width).map(|_| rng.unit() * 8.0 - 4.0).collect();
                plan.run(&mut slots, &x, &mut fast);
                plan.run_steps::<false>(&mut slots, &x, &mut plain);
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&fast), bits(&plain), "{name}: input {x:?}");
            }
        }
    }

    /// Fusing activations into the layers before them removes steps and changes no bit of any
    /// output, on the shipped model and on a graph of every supported operator.
    #[test]
    fn fused_activations_give_identical_outputs() {
        use crate::model::test_support::{model_bytes, Rng};
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let shipped = std::fs::read(root.join("models/mqtt-ml.tflite")).expect("shipped model");
        // The shipped model's graph may change with retraining: only its outputs are checked.
        for (name, bytes, fused_away) in [
            ("models/mqtt-ml.tflite", shipped, None),
            ("ae28.tflite", model_bytes("ae28.tflite"), Some(1)),
            ("ops28.tflite", model_bytes("ops28.tflite"), Some(2)),
        ] {
            let model = Model::parse(&bytes).expect("parse");
            let fused = Arc::new(Plan::compile(&model, bytes.len(), true).expect("plan"));
            let plain = Arc::new(Plan::compile(&model, bytes.len(), false).expect("plan"));
            if let Some(n) = fused_away {
                assert_eq!(
                    plain.steps.len() - fused.steps.len(),
                    n,
                    "{name}: steps fused away"
                );
            }
            let (mut a, mut b) = (NativeScorer::new(fused), NativeScorer::new(plain));
            let width = a.width();
            let mut rng = Rng::new(7);
            let (mut ya, mut yb) = (vec![0.0; width], vec![0.0; width]);
            for _ in 0..500 {
                // Over and beyond the scaled range [-1, 2], so saturated outputs count too.
                let x: Vec<f32> = (0..width).map(|_| rng.unit() * 8.0 - 4.0).collect();
                a.reconstruct(&x, &mut ya).unwrap();
                b.reconstruct(&x, &mut yb).unwrap();
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&ya), bits(&yb), "{name}: input {x:?}");
            }
        }
    }
}
