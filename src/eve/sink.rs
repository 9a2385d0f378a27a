//! A minimal JSON writer interface: what the record needs, nothing more.
use std::ffi::CStr;

use serde_json::{Map, Value};

/// The builder refused a write (out of memory, or misuse such as closing too often).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkError;

pub type SinkResult = Result<(), SinkError>;

/// A JSON document under construction. Keys are C string literals (`c"msgtype"`): the record
/// writes about sixty per message, and Suricata's builder takes NUL-terminated keys, so static
/// ones cost no allocation.
pub trait JsonSink {
    fn open_object(&mut self, key: &CStr) -> SinkResult;
    fn open_array(&mut self, key: &CStr) -> SinkResult;
    /// Starts an object as the next element of the open array.
    fn start_object(&mut self) -> SinkResult;
    fn close(&mut self) -> SinkResult;
    fn set_str(&mut self, key: &CStr, val: &str) -> SinkResult;
    fn set_uint(&mut self, key: &CStr, val: u64) -> SinkResult;
    fn set_float(&mut self, key: &CStr, val: f64) -> SinkResult;
    /// An f32 written as the shortest text that reads back as that f32 (`0.02`, not the f64
    /// widening `0.019999999552965164`).
    fn set_f32(&mut self, key: &CStr, val: f32) -> SinkResult;
    /// Bytes as printable ASCII, others as '.', the way Suricata logs payloads (no copy made).
    fn set_printable(&mut self, key: &CStr, val: &[u8]) -> SinkResult;
    fn set_bool(&mut self, key: &CStr, val: bool) -> SinkResult;
    fn append_str(&mut self, val: &str) -> SinkResult;
    fn append_uint(&mut self, val: u64) -> SinkResult;
    fn append_f32(&mut self, val: f32) -> SinkResult;
}

/// Payload byte as logged: printable ASCII as is, anything else as '.'.
pub fn printable(b: u8) -> u8 {
    if (0x20..0x7f).contains(&b) {
        b
    } else {
        b'.'
    }
}

/// The value a JSON reader gets back from [`JsonSink::set_f32`]'s text.
pub fn f32_as_written(v: f32) -> Option<f64> {
    v.is_finite()
        .then(|| ryu::Buffer::new().format_finite(v).parse().ok())
        .flatten()
}

/// Builds a `serde_json::Value`: for tests and for tools that want the record without Suricata.
#[derive(Debug)]
pub struct ValueSink {
    stack: Vec<(Option<String>, Value)>,
}

impl Default for ValueSink {
    fn default() -> Self {
        ValueSink {
            stack: vec![(None, Value::Object(Map::new()))],
        }
    }
}

impl ValueSink {
    pub fn new() -> Self {
        Self::default()
    }

    /// The finished document (open containers are closed).
    pub fn finish(mut self) -> Value {
        while self.stack.len() > 1 {
            let _ = self.close();
        }
        self.stack.pop().map(|(_, v)| v).unwrap_or(Value::Null)
    }

    fn put(&mut self, key: Option<&str>, v: Value) -> SinkResult {
        match (self.stack.last_mut(), key) {
            (Some((_, Value::Object(m))), Some(k)) => {
                m.insert(k.to_owned(), v);
                Ok(())
            }
            (Some((_, Value::Array(a))), None) => {
                a.push(v);
                Ok(())
            }
            _ => Err(SinkError),
        }
    }
}

fn text(key: &CStr) -> String {
    key.to_string_lossy().into_owned()
}

impl JsonSink for ValueSink {
    fn open_object(&mut self, key: &CStr) -> SinkResult {
        self.stack
            .push((Some(text(key)), Value::Object(Map::new())));
        Ok(())
    }
    fn open_array(&mut self, key: &CStr) -> SinkResult {
        self.stack.push((Some(text(key)), Value::Array(Vec::new())));
        Ok(())
    }
    fn start_object(&mut self) -> SinkResult {
        self.stack.push((None, Value::Object(Map::new())));
        Ok(())
    }
    fn close(&mut self) -> SinkResult {
        if self.stack.len() < 2 {
            return Err(SinkError);
        }
        let (key, v) = self.stack.pop().ok_or(SinkError)?;
        self.put(key.as_deref(), v)
    }
    fn set_str(&mut self, key: &CStr, val: &str) -> SinkResult {
        self.put(Some(&text(key)), Value::from(val))
    }
    fn set_uint(&mut self, key: &CStr, val: u64) -> SinkResult {
        self.put(Some(&text(key)), Value::from(val))
    }
    fn set_float(&mut self, key: &CStr, val: f64) -> SinkResult {
        self.put(Some(&text(key)), Value::from(val))
    }
    fn set_f32(&mut self, key: &CStr, val: f32) -> SinkResult {
        self.put(Some(&text(key)), Value::from(f32_as_written(val)))
    }
    fn set_printable(&mut self, key: &CStr, val: &[u8]) -> SinkResult {
        let s: String = val.iter().map(|&b| char::from(printable(b))).collect();
        self.put(Some(&text(key)), Value::from(s))
    }
    fn set_bool(&mut self, key: &CStr, val: bool) -> SinkResult {
        self.put(Some(&text(key)), Value::from(val))
    }
    fn append_str(&mut self, val: &str) -> SinkResult {
        self.put(None, Value::from(val))
    }
    fn append_uint(&mut self, val: u64) -> SinkResult {
        self.put(None, Value::from(val))
    }
    fn append_f32(&mut self, val: f32) -> SinkResult {
        self.put(None, Value::from(f32_as_written(val)))
    }
}

/// Writes JSON text straight into a reusable buffer: numbers through `itoa`/`ryu` on the stack,
/// strings escaped in place, no allocation once the buffer has grown to a record's size. The
/// text is the members of an object (`"mqtt_ml":{...}`), ready for JsonBuilder's
/// `SCJbSetFormatted`, which appends it to the EVE record in one call.
#[derive(Debug, Default)]
pub struct TextSink {
    buf: Vec<u8>,
    /// Per open container: its closing bracket, and whether it has a member yet (a comma goes
    /// before the next one). Index 0 is the enclosing object the text is spliced into.
    open: Vec<(u8, bool)>,
}

impl TextSink {
    pub fn new() -> Self {
        let mut s = Self::default();
        s.clear();
        s
    }

    /// Empties the buffer for the next record, keeping its capacity.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.open.clear();
        self.open.push((b'}', false));
    }

    /// The text written since `clear`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// NUL-terminates the text for C (strings are escaped, so none holds a NUL) and returns it.
    pub fn as_c_bytes(&mut self) -> &[u8] {
        self.buf.push(0);
        &self.buf
    }

    fn sep(&mut self) {
        match self.open.last_mut() {
            Some((_, seen)) if *seen => self.buf.push(b','),
            Some((_, seen)) => *seen = true,
            None => self.open.push((b'}', true)),
        }
    }

    fn key(&mut self, key: &CStr) {
        self.sep();
        // Keys are the record's own static names: plain ASCII, nothing to escape.
        self.buf.push(b'"');
        self.buf.extend_from_slice(key.to_bytes());
        self.buf.extend_from_slice(b"\":");
    }

    fn string(&mut self, v: &str) {
        // serde_json escapes as JsonBuilder does: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`,
        // other control bytes as `\u00XX`, everything else as is. Writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.buf, v);
    }

    fn uint(&mut self, v: u64) {
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    fn f64(&mut self, v: f64) {
        if v.is_finite() {
            self.buf
                .extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
        } else {
            self.buf.extend_from_slice(b"null");
        }
    }

    fn f32(&mut self, v: f32) {
        if v.is_finite() {
            self.buf
                .extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
        } else {
            self.buf.extend_from_slice(b"null");
        }
    }

    fn open(&mut self, bracket: u8, closing: u8) {
        self.buf.push(bracket);
        self.open.push((closing, false));
    }
}

impl JsonSink for TextSink {
    fn open_object(&mut self, key: &CStr) -> SinkResult {
        self.key(key);
        self.open(b'{', b'}');
        Ok(())
    }
    fn open_array(&mut self, key: &CStr) -> SinkResult {
        self.key(key);
        self.open(b'[', b']');
        Ok(())
    }
    fn start_object(&mut self) -> SinkResult {
        self.sep();
        self.open(b'{', b'}');
        Ok(())
    }
    fn close(&mut self) -> SinkResult {
        // The enclosing object (index 0) is JsonBuilder's to close.
        if self.open.len() < 2 {
            return Err(SinkError);
        }
        let (closing, _) = self.open.pop().ok_or(SinkError)?;
        self.buf.push(closing);
        Ok(())
    }
    fn set_str(&mut self, key: &CStr, val: &str) -> SinkResult {
        self.key(key);
        self.string(val);
        Ok(())
    }
    fn set_uint(&mut self, key: &CStr, val: u64) -> SinkResult {
        self.key(key);
        self.uint(val);
        Ok(())
    }
    fn set_float(&mut self, key: &CStr, val: f64) -> SinkResult {
        self.key(key);
        self.f64(val);
        Ok(())
    }
    fn set_f32(&mut self, key: &CStr, val: f32) -> SinkResult {
        self.key(key);
        self.f32(val);
        Ok(())
    }
    fn set_printable(&mut self, key: &CStr, val: &[u8]) -> SinkResult {
        self.key(key);
        self.buf.push(b'"');
        for &b in val {
            match printable(b) {
                b'"' => self.buf.extend_from_slice(b"\\\""),
                b'\\' => self.buf.extend_from_slice(b"\\\\"),
                c => self.buf.push(c),
            }
        }
        self.buf.push(b'"');
        Ok(())
    }
    fn set_bool(&mut self, key: &CStr, val: bool) -> SinkResult {
        self.key(key);
        self.buf
            .extend_from_slice(if val { b"true" } else { b"false" });
        Ok(())
    }
    fn append_str(&mut self, val: &str) -> SinkResult {
        self.sep();
        self.string(val);
        Ok(())
    }
    fn append_uint(&mut self, val: u64) -> SinkResult {
        self.sep();
        self.uint(val);
        Ok(())
    }
    fn append_f32(&mut self, val: f32) -> SinkResult {
        self.sep();
        self.f32(val);
        Ok(())
    }
}
