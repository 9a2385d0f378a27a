//! The subset of the TensorFlow Lite model schema (`schema.fbs`, file identifier "TFL3") needed to
//! load a dense float32 autoencoder: the model version, the first subgraph (tensors, inputs,
//! outputs, operators), the operator codes and the constant buffers.
//!
//! Parsing checks structure and cross references (tensor, buffer and opcode indices) once, so that
//! the backends can index without further checks. Everything borrows from the file's bytes; the
//! vectors built here hold at most one element per element of the file's own (validated) vectors,
//! so a hostile file cannot make the loader allocate far beyond its own size.

use super::flatbuffer::{self, FbError, Table};
use std::fmt;

pub const FILE_IDENTIFIER: &[u8; 4] = b"TFL3";
/// The only schema version TensorFlow Lite has written since 2018.
pub const SCHEMA_VERSION: u32 = 3;
/// Sanity bounds: a dense autoencoder has a handful of each. They keep a crafted file from making
/// the loader build huge tables out of one shared, repeated offset.
const MAX_TENSORS: usize = 1 << 16;
const MAX_OPERATORS: usize = 1 << 16;
const MAX_RANK: usize = 16;

/// `BuiltinOperator` values used by the native backend or named in error messages.
pub mod op {
    pub const ADD: i32 = 0;
    pub const DEQUANTIZE: i32 = 6;
    pub const FULLY_CONNECTED: i32 = 9;
    pub const LOGISTIC: i32 = 14;
    pub const MUL: i32 = 18;
    pub const RELU: i32 = 19;
    pub const RELU_N1_TO_1: i32 = 20;
    pub const RELU6: i32 = 21;
    pub const RESHAPE: i32 = 22;
    pub const TANH: i32 = 28;
    pub const CUSTOM: i32 = 32;
    pub const SUB: i32 = 41;
    pub const QUANTIZE: i32 = 114;

    pub fn name(code: i32) -> String {
        let known = match code {
            ADD => "ADD",
            3 => "CONV_2D",
            DEQUANTIZE => "DEQUANTIZE",
            FULLY_CONNECTED => "FULLY_CONNECTED",
            LOGISTIC => "LOGISTIC",
            MUL => "MUL",
            RELU => "RELU",
            RELU_N1_TO_1 => "RELU_N1_TO_1",
            RELU6 => "RELU6",
            RESHAPE => "RESHAPE",
            25 => "SOFTMAX",
            TANH => "TANH",
            CUSTOM => "CUSTOM",
            SUB => "SUB",
            42 => "DIV",
            QUANTIZE => "QUANTIZE",
            126 => "BATCH_MATMUL",
            _ => return format!("builtin operator {code}"),
        };
        known.to_string()
    }
}

/// `TensorType` values.
pub mod tensor_type {
    pub const FLOAT32: i8 = 0;

    pub fn name(t: i8) -> String {
        let known = match t {
            0 => "FLOAT32",
            1 => "FLOAT16",
            2 => "INT32",
            3 => "UINT8",
            4 => "INT64",
            5 => "STRING",
            6 => "BOOL",
            7 => "INT16",
            8 => "COMPLEX64",
            9 => "INT8",
            10 => "FLOAT64",
            _ => return format!("tensor type {t}"),
        };
        known.to_string()
    }
}

/// `BuiltinOptions` union tags of the option tables the native backend reads.
pub mod options {
    pub const FULLY_CONNECTED: u8 = 8;
    pub const ADD: u8 = 11;
    pub const MUL: u8 = 21;
    pub const SUB: u8 = 28;
}

/// What is wrong with a model file, in words (the caller adds the file name and the fix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(pub String);

impl From<FbError> for FormatError {
    fn from(e: FbError) -> Self {
        FormatError(e.to_string())
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn invalid<T>(msg: String) -> Result<T, FormatError> {
    Err(FormatError(msg))
}

#[derive(Debug, Clone)]
pub struct OperatorCode {
    /// The effective builtin code: the maximum of `deprecated_builtin_code` (int8, the only field
    /// before schema 2.4) and `builtin_code` (int32, added for codes above 127). Old writers leave
    /// the new field at its default 0 and new writers put min(code, 127) in the old one, so the
    /// maximum is right for both, which is how TensorFlow Lite itself reads it.
    pub builtin: i32,
    pub version: i32,
}

#[derive(Debug, Clone)]
pub struct Tensor<'a> {
    pub shape: Vec<i32>,
    pub ttype: i8,
    /// Index into `Model::buffers`; buffer 0 is by convention the empty sentinel.
    pub buffer: usize,
    pub name: &'a str,
}

#[derive(Debug, Clone)]
pub struct Operator<'a> {
    pub opcode_index: usize,
    /// Tensor indices; -1 marks an omitted optional input (e.g. no bias).
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
    pub options_type: u8,
    pub options: Option<Table<'a>>,
}

#[derive(Debug, Clone)]
pub struct Model<'a> {
    pub version: u32,
    pub operator_codes: Vec<OperatorCode>,
    pub tensors: Vec<Tensor<'a>>,
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
    pub operators: Vec<Operator<'a>>,
    /// Constant data per buffer (empty when the buffer holds no data).
    pub buffers: Vec<&'a [u8]>,
}

impl<'a> Model<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Model<'a>, FormatError> {
        if bytes.len() >= 8 && &bytes[4..8] != FILE_IDENTIFIER {
            return invalid(format!(
                "not a TensorFlow Lite flatbuffer (bad identifier {:?}, expected \"TFL3\")",
                String::from_utf8_lossy(&bytes[4..8])
            ));
        }
        let root = flatbuffer::root(bytes, Some(FILE_IDENTIFIER))?;
        let version = root.u32(0, 0)?;
        if version != SCHEMA_VERSION {
            return invalid(format!(
                "schema version {version}, expected {SCHEMA_VERSION}"
            ));
        }

        let mut operator_codes = Vec::new();
        if let Some(codes) = root.vector(1, 4)? {
            if codes.len() > MAX_OPERATORS {
                return invalid(format!("{} operator codes", codes.len()));
            }
            for i in 0..codes.len() {
                let t = codes.table(i)?;
                let deprecated = t.i8(0, 0)? as i32;
                let builtin = t.i32(3, 0)?;
                operator_codes.push(OperatorCode {
                    builtin: deprecated.max(builtin),
                    version: t.i32(2, 1)?,
                });
            }
        }

        let buffers = parse_buffers(bytes, &root)?;

        let subgraphs = match root.vector(2, 4)? {
            Some(s) if !s.is_empty() => s,
            _ => return invalid("model has no subgraph".to_string()),
        };
        let sg = subgraphs.table(0)?;

        let mut tensors = Vec::new();
        if let Some(ts) = sg.vector(0, 4)? {
            if ts.len() > MAX_TENSORS {
                return invalid(format!("{} tensors", ts.len()));
            }
            for i in 0..ts.len() {
                let t = ts.table(i)?;
                let shape = match t.vector(0, 4)? {
                    Some(s) if s.len() > MAX_RANK => {
                        return invalid(format!("tensor {i} has rank {}", s.len()))
                    }
                    Some(s) => s.to_i32_vec()?,
                    None => Vec::new(),
                };
                let buffer = t.u32(2, 0)? as usize;
                if buffer >= buffers.len().max(1) {
                    return invalid(format!("tensor {i} refers to missing buffer {buffer}"));
                }
                tensors.push(Tensor {
                    shape,
                    ttype: t.i8(1, tensor_type::FLOAT32)?,
                    buffer,
                    name: t.str(3)?.unwrap_or(""),
                });
            }
        }

        // The first index in `list` that names no tensor (-1 allowed where inputs are optional).
        let bad = |list: &[i32], optional: bool| -> Option<i32> {
            list.iter()
                .copied()
                .find(|&t| !((t >= 0 && (t as usize) < tensors.len()) || (optional && t == -1)))
        };
        let int_vec = |t: &Table<'a>, id: u16| -> Result<Vec<i32>, FormatError> {
            Ok(match t.vector(id, 4)? {
                Some(v) => v.to_i32_vec()?,
                None => Vec::new(),
            })
        };

        let inputs = int_vec(&sg, 1)?;
        let outputs = int_vec(&sg, 2)?;
        if let Some(t) = bad(&inputs, false).or(bad(&outputs, false)) {
            return invalid(format!(
                "subgraph input or output refers to missing tensor {t}"
            ));
        }

        let mut operators = Vec::new();
        if let Some(ops) = sg.vector(3, 4)? {
            if ops.len() > MAX_OPERATORS {
                return invalid(format!("{} operators", ops.len()));
            }
            for i in 0..ops.len() {
                let t = ops.table(i)?;
                let opcode_index = t.u32(0, 0)? as usize;
                if opcode_index >= operator_codes.len() {
                    return invalid(format!(
                        "operator {i} refers to missing operator code {opcode_index}"
                    ));
                }
                let op = Operator {
                    opcode_index,
                    inputs: int_vec(&t, 1)?,
                    outputs: int_vec(&t, 2)?,
                    options_type: t.u8(3, 0)?,
                    options: t.table(4)?,
                };
                if let Some(t) = bad(&op.inputs, true).or(bad(&op.outputs, false)) {
                    return invalid(format!("operator {i} refers to missing tensor {t}"));
                }
                operators.push(op);
            }
        }

        Ok(Model {
            version,
            operator_codes,
            tensors,
            inputs,
            outputs,
            operators,
            buffers,
        })
    }

    /// The effective builtin operator code of operator `op` (indices validated by `parse`).
    pub fn builtin_code(&self, op: &Operator<'_>) -> i32 {
        self.operator_codes[op.opcode_index].builtin
    }

    /// Constant data of tensor `t` (empty for activations and graph inputs).
    pub fn tensor_data(&self, t: &Tensor<'_>) -> &'a [u8] {
        self.buffers.get(t.buffer).copied().unwrap_or(&[])
    }
}

fn parse_buffers<'a>(bytes: &'a [u8], root: &Table<'a>) -> Result<Vec<&'a [u8]>, FormatError> {
    let mut buffers = Vec::new();
    let Some(list) = root.vector(4, 4)? else {
        return Ok(buffers);
    };
    if list.len() > MAX_TENSORS {
        return invalid(format!("{} buffers", list.len()));
    }
    for i in 0..list.len() {
        let b = list.table(i)?;
        let mut data: &'a [u8] = match b.vector(0, 1)? {
            Some(v) => v.bytes(),
            None => &[],
        };
        // Models over 2 GB keep buffer data after the flatbuffer, addressed by offset and size from
        // the start of the file (offset 1 is the writer's "not placed yet" marker).
        let offset = b.u64(1, 0)?;
        if offset > 1 {
            let size = b.u64(2, 0)?;
            let range = usize::try_from(offset)
                .ok()
                .zip(usize::try_from(size).ok())
                .and_then(|(o, s)| Some(o..o.checked_add(s)?))
                .and_then(|r| bytes.get(r));
            data = match range {
                Some(d) => d,
                None => return invalid(format!("buffer {i} lies outside the file")),
            };
        }
        buffers.push(data);
    }
    Ok(buffers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::model_bytes;
    use std::sync::Arc;

    #[test]
    fn parses_the_exported_autoencoder() {
        let bytes = model_bytes("ae28.tflite");
        let m = Model::parse(&bytes).unwrap();
        assert_eq!(m.version, 3);
        let ops: Vec<i32> = m.operators.iter().map(|o| m.builtin_code(o)).collect();
        assert_eq!(
            ops,
            vec![
                op::FULLY_CONNECTED,
                op::FULLY_CONNECTED,
                op::FULLY_CONNECTED,
                op::FULLY_CONNECTED,
                op::LOGISTIC
            ]
        );
        assert_eq!(m.inputs.len(), 1);
        let input = &m.tensors[m.inputs[0] as usize];
        assert_eq!(input.shape, vec![1, 28]);
        assert_eq!(input.ttype, tensor_type::FLOAT32);
        // The first layer's weights: [16, 28] float32 constants.
        let fc = &m.operators[0];
        let w = &m.tensors[fc.inputs[1] as usize];
        assert_eq!(w.shape, vec![16, 28]);
        assert_eq!(m.tensor_data(w).len(), 16 * 28 * 4);
    }

    #[test]
    fn rejects_wrong_identifier_and_version() {
        let mut bytes = model_bytes("ae28.tflite");
        bytes[4..8].copy_from_slice(b"TFL2");
        let e = Model::parse(&bytes).unwrap_err();
        assert!(e.0.contains("bad identifier"), "{e}");
        assert!(Model::parse(b"").is_err());
        assert!(Model::parse(b"TFL3TFL3").is_err());
    }

    /// Flips, truncations and insertions of the real model's bytes: parsing must return, never
    /// panic, and must not take long (the loops are bounded by the file's own vectors).
    #[test]
    fn survives_mutated_files() {
        let original = model_bytes("ae28.tflite");
        let mut rng = crate::model::test_support::Rng::new(0x5eed);
        let (mut ok, mut built) = (0usize, 0usize);
        let start = std::time::Instant::now();
        let mut buf = Vec::with_capacity(original.len() + 64);
        for i in 0..100_000 {
            buf.clear();
            buf.extend_from_slice(&original);
            let edits = 1 + rng.below(4);
            for _ in 0..edits {
                match (i + rng.below(7)) % 7 {
                    // Bit flip anywhere.
                    0 | 1 => {
                        let p = rng.below(buf.len().max(1));
                        if let Some(b) = buf.get_mut(p) {
                            *b ^= 1 << rng.below(8);
                        }
                    }
                    // Overwrite with an "interesting" value (0, 0xff, a big or a negative offset).
                    2 | 3 => {
                        let p = rng.below(buf.len().max(1));
                        let v: [u8; 4] = match rng.below(4) {
                            0 => [0; 4],
                            1 => [0xff; 4],
                            2 => (buf.len() as u32).to_le_bytes(),
                            _ => (-(rng.below(4096) as i32)).to_le_bytes(),
                        };
                        for (k, b) in v.iter().enumerate() {
                            if let Some(x) = buf.get_mut(p + k) {
                                *x = *b;
                            }
                        }
                    }
                    4 => {
                        let n = rng.below(buf.len() + 1);
                        buf.truncate(n);
                    }
                    5 => {
                        let p = rng.below(buf.len() + 1);
                        let v = rng.below(256) as u8;
                        buf.insert(p, v);
                    }
                    _ => {
                        if !buf.is_empty() {
                            let p = rng.below(buf.len());
                            buf.remove(p);
                        }
                    }
                }
            }
            if let Ok(m) = Model::parse(&buf) {
                ok += 1;
                // The native backend must cope with whatever parsed, and run whatever it accepts.
                if let Ok(plan) = crate::model::native::Plan::build(&m, buf.len()) {
                    built += 1;
                    let w = plan.width();
                    let mut scorer = crate::model::native::NativeScorer::new(Arc::new(plan));
                    let input = vec![0.5; w];
                    let mut output = vec![0.0; w];
                    use crate::model::Scorer;
                    scorer.reconstruct(&input, &mut output).unwrap();
                }
            }
        }
        let elapsed = start.elapsed();
        eprintln!(
            "{ok} of 100000 mutated files parsed, {built} built a native plan, in {elapsed:?}"
        );
        assert!(
            ok > 0 && built > 0,
            "some mutations (e.g. in weights) must still parse and build"
        );
        assert!(elapsed.as_secs() < 60, "mutation loop took {elapsed:?}");
    }
}
