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
    fn set_bool(&mut self, key: &CStr, val: bool) -> SinkResult;
    fn append_str(&mut self, val: &str) -> SinkResult;
    fn append_uint(&mut self, val: u64) -> SinkResult;
    fn append_float(&mut self, val: f64) -> SinkResult;
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
    fn set_bool(&mut self, key: &CStr, val: bool) -> SinkResult {
        self.put(Some(&text(key)), Value::from(val))
    }
    fn append_str(&mut self, val: &str) -> SinkResult {
        self.put(None, Value::from(val))
    }
    fn append_uint(&mut self, val: u64) -> SinkResult {
        self.put(None, Value::from(val))
    }
    fn append_float(&mut self, val: f64) -> SinkResult {
        self.put(None, Value::from(val))
    }
}
