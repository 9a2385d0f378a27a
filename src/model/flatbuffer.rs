//! A minimal FlatBuffers reader: just enough of the wire format to walk a TensorFlow Lite model.
//!
//! Model files come from disk and may be truncated, corrupt or hostile, so every access is checked:
//! each offset is validated against the buffer before it is followed, arithmetic is checked, vector
//! lengths are validated against the bytes that would hold them (so callers never allocate more
//! elements than the file could contain), and nothing here loops except over such validated vectors.
//! Nothing panics: every failure is an [`FbError`] naming what was malformed and where.
//!
//! Wire format recap (little endian):
//! - the buffer starts with a `u32` offset to the root table (optionally followed by a 4-byte file
//!   identifier at bytes 4..8);
//! - a table starts with an `i32` "soffset": the table's vtable lives at `table_pos - soffset`;
//! - a vtable is `u16` vtable size in bytes, `u16` table size in bytes, then one `u16` per field:
//!   that field's offset from the table start, 0 meaning "absent, use the default";
//! - reference fields (tables, vectors, strings) hold a `u32` offset relative to the field itself;
//! - a vector is a `u32` element count followed by the elements; a string is a byte vector followed
//!   by a NUL that is not counted.

use std::fmt;

/// What was wrong with the bytes, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FbError {
    pub what: &'static str,
    pub offset: usize,
}

impl fmt::Display for FbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.offset)
    }
}

pub type FbResult<T> = Result<T, FbError>;

fn err<T>(what: &'static str, offset: usize) -> FbResult<T> {
    Err(FbError { what, offset })
}

/// The `N` bytes at `pos`, if they are all inside `buf`.
fn bytes<const N: usize>(buf: &[u8], pos: usize) -> FbResult<[u8; N]> {
    pos.checked_add(N)
        .and_then(|end| buf.get(pos..end))
        .and_then(|s| s.try_into().ok())
        .map_or_else(|| err("read past the end of the file", pos), Ok)
}

fn read_u16(buf: &[u8], pos: usize) -> FbResult<u16> {
    bytes::<2>(buf, pos).map(u16::from_le_bytes)
}

fn read_u32(buf: &[u8], pos: usize) -> FbResult<u32> {
    bytes::<4>(buf, pos).map(u32::from_le_bytes)
}

fn read_i32(buf: &[u8], pos: usize) -> FbResult<i32> {
    bytes::<4>(buf, pos).map(i32::from_le_bytes)
}

/// Follows the `u32` forward offset stored at `pos`; the target must lie inside the buffer.
fn follow(buf: &[u8], pos: usize) -> FbResult<usize> {
    let off = read_u32(buf, pos)? as usize;
    match pos.checked_add(off) {
        Some(target) if off != 0 && target < buf.len() => Ok(target),
        _ => err("offset points outside the file", pos),
    }
}

/// The root table of `buf`. `identifier`, when given, must be at bytes 4..8.
pub fn root<'a>(buf: &'a [u8], identifier: Option<&[u8; 4]>) -> FbResult<Table<'a>> {
    if buf.len() < 8 {
        return err("file too short for a FlatBuffer", 0);
    }
    if let Some(id) = identifier {
        if &buf[4..8] != id {
            return err("bad file identifier", 4);
        }
    }
    Table::at(buf, follow(buf, 0)?)
}

/// A table: a position in the buffer plus its validated vtable.
#[derive(Clone, Copy, Debug)]
pub struct Table<'a> {
    buf: &'a [u8],
    pos: usize,
    vtable: usize,
    vtable_len: usize,
    table_len: usize,
}

impl<'a> Table<'a> {
    fn at(buf: &'a [u8], pos: usize) -> FbResult<Self> {
        let soffset = read_i32(buf, pos)? as i64;
        // The vtable may sit before or after the table; compute in i64 so no sign or overflow issue
        // can wrap around into a valid-looking position.
        let vtable = pos as i64 - soffset;
        if vtable < 0 || vtable as u64 >= buf.len() as u64 {
            return err("table's vtable is outside the file", pos);
        }
        let vtable = vtable as usize;
        let vtable_len = read_u16(buf, vtable)? as usize;
        let table_len = read_u16(buf, vtable + 2)? as usize;
        if vtable_len < 4 || vtable_len % 2 != 0 || vtable + vtable_len > buf.len() {
            return err("malformed vtable", vtable);
        }
        if table_len < 4 || pos + table_len > buf.len() {
            return err("table extends past the end of the file", pos);
        }
        Ok(Table {
            buf,
            pos,
            vtable,
            vtable_len,
            table_len,
        })
    }

    /// Position of field `id` if present, checked so that `size` bytes there are inside the table.
    fn field(&self, id: u16, size: usize) -> FbResult<Option<usize>> {
        let slot = 4 + 2 * id as usize;
        if slot + 2 > self.vtable_len {
            return Ok(None); // older writer: the field did not exist yet
        }
        let off = read_u16(self.buf, self.vtable + slot)? as usize;
        if off == 0 {
            return Ok(None);
        }
        if off < 4 || off + size > self.table_len {
            return err("field lies outside its table", self.pos);
        }
        Ok(Some(self.pos + off))
    }

    fn scalar<const N: usize>(&self, id: u16) -> FbResult<Option<[u8; N]>> {
        match self.field(id, N)? {
            Some(p) => bytes::<N>(self.buf, p).map(Some),
            None => Ok(None),
        }
    }

    pub fn u8(&self, id: u16, default: u8) -> FbResult<u8> {
        Ok(self.scalar::<1>(id)?.map_or(default, |b| b[0]))
    }

    pub fn i8(&self, id: u16, default: i8) -> FbResult<i8> {
        Ok(self.scalar::<1>(id)?.map_or(default, |b| b[0] as i8))
    }

    pub fn bool(&self, id: u16, default: bool) -> FbResult<bool> {
        Ok(self.scalar::<1>(id)?.map_or(default, |b| b[0] != 0))
    }

    pub fn i32(&self, id: u16, default: i32) -> FbResult<i32> {
        Ok(self.scalar::<4>(id)?.map_or(default, i32::from_le_bytes))
    }

    pub fn u32(&self, id: u16, default: u32) -> FbResult<u32> {
        Ok(self.scalar::<4>(id)?.map_or(default, u32::from_le_bytes))
    }

    pub fn u64(&self, id: u16, default: u64) -> FbResult<u64> {
        Ok(self.scalar::<8>(id)?.map_or(default, u64::from_le_bytes))
    }

    pub fn f32(&self, id: u16, default: f32) -> FbResult<f32> {
        Ok(self.scalar::<4>(id)?.map_or(default, f32::from_le_bytes))
    }

    fn reference(&self, id: u16) -> FbResult<Option<usize>> {
        match self.field(id, 4)? {
            Some(p) => follow(self.buf, p).map(Some),
            None => Ok(None),
        }
    }

    pub fn table(&self, id: u16) -> FbResult<Option<Table<'a>>> {
        match self.reference(id)? {
            Some(p) => Table::at(self.buf, p).map(Some),
            None => Ok(None),
        }
    }

    /// A vector whose elements are `elem_size` bytes each (4 for offsets to tables or strings).
    pub fn vector(&self, id: u16, elem_size: usize) -> FbResult<Option<Vector<'a>>> {
        match self.reference(id)? {
            Some(p) => Vector::at(self.buf, p, elem_size).map(Some),
            None => Ok(None),
        }
    }

    pub fn str(&self, id: u16) -> FbResult<Option<&'a str>> {
        match self.vector(id, 1)? {
            Some(v) => std::str::from_utf8(v.bytes())
                .map(Some)
                .or_else(|_| err("string is not UTF-8", v.start)),
            None => Ok(None),
        }
    }
}

/// A vector whose whole extent (`len * elem_size` bytes) was checked to be inside the buffer.
#[derive(Clone, Copy, Debug)]
pub struct Vector<'a> {
    buf: &'a [u8],
    start: usize,
    len: usize,
    elem_size: usize,
}

impl<'a> Vector<'a> {
    fn at(buf: &'a [u8], pos: usize, elem_size: usize) -> FbResult<Self> {
        let len = read_u32(buf, pos)? as usize;
        let start = pos + 4;
        match len
            .checked_mul(elem_size)
            .and_then(|n| n.checked_add(start))
        {
            Some(end) if end <= buf.len() => Ok(Vector {
                buf,
                start,
                len,
                elem_size,
            }),
            _ => err("vector extends past the end of the file", pos),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The raw element bytes (for `[ubyte]` vectors: the data itself).
    pub fn bytes(&self) -> &'a [u8] {
        // In bounds: checked in `at`.
        &self.buf[self.start..self.start + self.len * self.elem_size]
    }

    fn elem(&self, i: usize, size: usize) -> FbResult<usize> {
        if i >= self.len || size != self.elem_size {
            return err("vector index or element type mismatch", self.start);
        }
        Ok(self.start + i * self.elem_size)
    }

    pub fn i32(&self, i: usize) -> FbResult<i32> {
        read_i32(self.buf, self.elem(i, 4)?)
    }

    pub fn table(&self, i: usize) -> FbResult<Table<'a>> {
        let p = self.elem(i, 4)?;
        Table::at(self.buf, follow(self.buf, p)?)
    }

    /// All elements of an `[int]` vector.
    pub fn to_i32_vec(&self) -> FbResult<Vec<i32>> {
        if self.elem_size != 4 {
            return err("vector element type mismatch", self.start);
        }
        Ok(self
            .bytes()
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-built buffer: root table with fields 0 (u32 = 7), 1 (absent), 2 (vector of 3 i32),
    /// 3 (string "hi").
    fn sample() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&20u32.to_le_bytes()); // 0: root offset -> table at 20
        b.extend_from_slice(b"TEST"); // 4: identifier
                                      // 8..20: vtable: 12 bytes long, table 16 bytes long, fields at +4, absent, +8, +12
        for v in [12u16, 16, 4, 0, 8, 12] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        let table = b.len(); // 20
        b.extend_from_slice(&((table - 8) as i32).to_le_bytes()); // soffset -> vtable at 8
        b.extend_from_slice(&7u32.to_le_bytes()); // field 0 at +4
        b.extend_from_slice(&0u32.to_le_bytes()); // field 2 at +8: patched below
        b.extend_from_slice(&0u32.to_le_bytes()); // field 3 at +12: patched below
        let vec_pos = b.len();
        b.extend_from_slice(&3u32.to_le_bytes());
        for v in [1i32, -2, 3] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        let str_pos = b.len();
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(b"hi\0\0");
        let f2 = table + 8;
        b[f2..f2 + 4].copy_from_slice(&((vec_pos - f2) as u32).to_le_bytes());
        let f3 = table + 12;
        b[f3..f3 + 4].copy_from_slice(&((str_pos - f3) as u32).to_le_bytes());
        b
    }

    #[test]
    fn reads_fields_and_defaults() {
        let b = sample();
        let t = root(&b, Some(b"TEST")).unwrap();
        assert_eq!(t.u32(0, 99).unwrap(), 7);
        assert_eq!(t.u32(1, 99).unwrap(), 99, "absent field gives the default");
        assert_eq!(
            t.i8(9, -5).unwrap(),
            -5,
            "field beyond the vtable gives the default"
        );
        let v = t.vector(2, 4).unwrap().unwrap();
        assert_eq!(v.to_i32_vec().unwrap(), vec![1, -2, 3]);
        assert_eq!(v.i32(1).unwrap(), -2);
        assert!(v.i32(3).is_err());
        assert_eq!(t.str(3).unwrap(), Some("hi"));
    }

    #[test]
    fn rejects_bad_identifier_and_short_files() {
        let b = sample();
        assert_eq!(
            root(&b, Some(b"TFL3")).unwrap_err().what,
            "bad file identifier"
        );
        for n in 0..b.len() {
            // Any truncation either fails cleanly or (never here) succeeds; never panics.
            let t = root(&b[..n], Some(b"TEST"));
            if let Ok(t) = t {
                let _ = t
                    .vector(2, 4)
                    .and_then(|v| v.map(|v| v.to_i32_vec()).transpose());
                let _ = t.str(3);
            }
        }
    }

    #[test]
    fn rejects_huge_vector_lengths() {
        let mut b = sample();
        let table = 20;
        let vec_pos = table + 16;
        b[vec_pos..vec_pos + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let t = root(&b, None).unwrap();
        assert!(t.vector(2, 4).is_err());
    }

    #[test]
    fn rejects_vtable_outside_and_self_referencing_offsets() {
        let mut b = sample();
        // soffset pointing far before the start of the buffer
        b[20..24].copy_from_slice(&i32::MAX.to_le_bytes());
        assert!(root(&b, None).is_err());
        b[20..24].copy_from_slice(&i32::MIN.to_le_bytes());
        assert!(root(&b, None).is_err());
        // a zero root offset would make the "table" the offset itself
        let mut c = sample();
        c[0..4].copy_from_slice(&0u32.to_le_bytes());
        assert!(root(&c, None).is_err());
    }
}
