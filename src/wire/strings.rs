//! Length-prefixed fields: UTF-8 strings, binary data and string pairs (2-byte big-endian
//! length, then that many bytes). Copies are bounded by the bytes actually present.

use nom::multi::length_data;
use nom::number::complete::be_u16;

use super::malformation::Malformation;
use super::reader::{Ctx, Field};

/// An MQTT UTF-8 string. `len` is the length on the wire; `value` is a lossy decoding, so
/// hostile bytes still reach the logs (the malformation says it was not clean UTF-8).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Str {
    pub len: u16,
    pub value: String,
}

/// MQTT binary data. `data` may hold fewer than `len` bytes when capture is capped.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Bin {
    pub len: u16,
    pub data: Vec<u8>,
}

/// Decode bytes as an MQTT string: lossy UTF-8, flagging invalid sequences and U+0000
/// (in valid UTF-8 a 0 byte can only be U+0000, so a byte search is exact).
pub(crate) fn decode_utf8(bytes: &[u8], ctx: &mut Ctx) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            if bytes.contains(&0) {
                ctx.flag(Malformation::InvalidUtf8);
            }
            s.to_owned()
        }
        Err(_) => {
            ctx.flag(Malformation::InvalidUtf8);
            String::from_utf8_lossy(bytes).into_owned()
        }
    }
}

/// Raw length-prefixed bytes, without copying.
pub(crate) fn raw<'a>(i: &'a [u8], ctx: &mut Ctx) -> Field<'a, &'a [u8]> {
    ctx.need(length_data(be_u16)(i))
}

pub(crate) fn string<'a>(i: &'a [u8], ctx: &mut Ctx) -> Field<'a, Str> {
    let (rest, bytes) = raw(i, ctx)?;
    let value = decode_utf8(bytes, ctx);
    Ok((
        rest,
        Str {
            len: wire_len(bytes),
            value,
        },
    ))
}

/// Binary data keeping at most `cap` bytes.
pub(crate) fn binary<'a>(i: &'a [u8], ctx: &mut Ctx, cap: usize) -> Field<'a, Bin> {
    let (rest, bytes) = raw(i, ctx)?;
    let kept = bytes.get(..cap).unwrap_or(bytes);
    Ok((
        rest,
        Bin {
            len: wire_len(bytes),
            data: kept.to_vec(),
        },
    ))
}

/// The slice came from a u16 length prefix, so it always fits; saturate rather than trust it.
fn wire_len(bytes: &[u8]) -> u16 {
    u16::try_from(bytes.len()).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Limits, ProtocolVersion};

    fn ctx(limits: &Limits) -> Ctx<'_> {
        Ctx::new(ProtocolVersion::V3_1_1, limits)
    }

    #[test]
    fn reads_string_and_rest() {
        let l = Limits::default();
        let mut c = ctx(&l);
        let (rest, s) = string(&[0, 3, b'a', b'/', b'b', 9], &mut c).unwrap();
        assert_eq!(s.value, "a/b");
        assert_eq!(s.len, 3);
        assert_eq!(rest, &[9]);
        assert!(c.mal.is_empty());
    }

    #[test]
    fn empty_string() {
        let l = Limits::default();
        let mut c = ctx(&l);
        let (rest, s) = string(&[0, 0], &mut c).unwrap();
        assert_eq!((s.len, s.value.as_str(), rest.len()), (0, "", 0));
    }

    #[test]
    fn truncated_length_and_body() {
        let l = Limits::default();
        let mut c = ctx(&l);
        assert!(string(&[0], &mut c).is_err());
        assert!(string(&[0, 5, b'a'], &mut c).is_err());
        assert!(c.mal.contains(Malformation::Truncated));
    }

    #[test]
    fn invalid_utf8_is_lossy_and_flagged() {
        let l = Limits::default();
        let mut c = ctx(&l);
        let (_, s) = string(&[0, 2, 0xC3, 0x28], &mut c).unwrap();
        assert_eq!(s.value, "\u{FFFD}(");
        assert!(c.mal.contains(Malformation::InvalidUtf8));
    }

    #[test]
    fn nul_is_flagged() {
        let l = Limits::default();
        let mut c = ctx(&l);
        let (_, s) = string(&[0, 2, b'a', 0], &mut c).unwrap();
        assert_eq!(s.value, "a\0");
        assert!(c.mal.contains(Malformation::InvalidUtf8));
    }

    #[test]
    fn binary_is_capped_but_keeps_len() {
        let l = Limits::default();
        let mut c = ctx(&l);
        let (rest, b) = binary(&[0, 4, 1, 2, 3, 4], &mut c, 2).unwrap();
        assert_eq!(
            (b.len, b.data.as_slice(), rest.len()),
            (4, &[1u8, 2][..], 0)
        );
    }
}
