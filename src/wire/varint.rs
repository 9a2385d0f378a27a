//! MQTT variable byte integer (remaining length, property length, subscription identifier):
//! 7 bits per byte, little-endian groups, at most 4 bytes. Decoded in place, no allocation.

/// Longest legal encoding.
pub const MAX_VARINT_LEN: usize = 4;

/// Largest value 4 bytes can carry (268,435,455).
pub const MAX_VARINT_VALUE: u32 = 0x0FFF_FFFF;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Varint {
    /// Decoded `value` from `len` bytes. `minimal` is false for encodings with a useless
    /// trailing zero group (`80 00`), which the spec forbids but which still frame.
    Ok {
        value: u32,
        len: usize,
        minimal: bool,
    },
    /// Input ended while every byte so far had its continuation bit set.
    Incomplete,
    /// A 4th byte still had the continuation bit: not a legal encoding.
    TooLong,
}

/// Decode the varint at the start of `input`. Reads at most 4 bytes.
pub fn decode(input: &[u8]) -> Varint {
    let mut value: u32 = 0;
    for (i, &b) in input.iter().take(MAX_VARINT_LEN).enumerate() {
        // i < 4 so the shift is at most 21 and 7 bits << 21 stays below 2^28: no overflow.
        value |= u32::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return Varint::Ok {
                value,
                len: i + 1,
                minimal: i == 0 || b != 0,
            };
        }
    }
    if input.len() >= MAX_VARINT_LEN {
        Varint::TooLong
    } else {
        Varint::Incomplete
    }
}

#[cfg(test)]
pub(crate) fn encode(mut value: u32, out: &mut Vec<u8>) {
    loop {
        let mut b = (value & 0x7F) as u8;
        value >>= 7;
        if value != 0 {
            b |= 0x80;
        }
        out.push(b);
        if value == 0 {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(value: u32, len: usize) -> Varint {
        Varint::Ok {
            value,
            len,
            minimal: true,
        }
    }

    #[test]
    fn spec_boundaries() {
        assert_eq!(decode(&[0x00]), ok(0, 1));
        assert_eq!(decode(&[0x7F]), ok(127, 1));
        assert_eq!(decode(&[0x80, 0x01]), ok(128, 2));
        assert_eq!(decode(&[0xFF, 0x7F]), ok(16_383, 2));
        assert_eq!(decode(&[0x80, 0x80, 0x01]), ok(16_384, 3));
        assert_eq!(decode(&[0xFF, 0xFF, 0x7F]), ok(2_097_151, 3));
        assert_eq!(decode(&[0x80, 0x80, 0x80, 0x01]), ok(2_097_152, 4));
        assert_eq!(decode(&[0xFF, 0xFF, 0xFF, 0x7F]), ok(MAX_VARINT_VALUE, 4));
    }

    #[test]
    fn stops_at_terminator() {
        assert_eq!(decode(&[0x05, 0xFF, 0xFF]), ok(5, 1));
    }

    #[test]
    fn non_minimal() {
        assert_eq!(
            decode(&[0x80, 0x00]),
            Varint::Ok {
                value: 0,
                len: 2,
                minimal: false
            }
        );
        assert_eq!(
            decode(&[0x85, 0x80, 0x00]),
            Varint::Ok {
                value: 5,
                len: 3,
                minimal: false
            }
        );
    }

    #[test]
    fn incomplete_and_too_long() {
        assert_eq!(decode(&[]), Varint::Incomplete);
        assert_eq!(decode(&[0x80]), Varint::Incomplete);
        assert_eq!(decode(&[0xFF, 0xFF, 0xFF]), Varint::Incomplete);
        assert_eq!(decode(&[0xFF, 0xFF, 0xFF, 0xFF]), Varint::TooLong);
        assert_eq!(decode(&[0x80, 0x80, 0x80, 0x80, 0x01]), Varint::TooLong);
    }

    #[test]
    fn encode_roundtrip() {
        for v in [
            0,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            2_097_152,
            MAX_VARINT_VALUE,
        ] {
            let mut buf = Vec::new();
            encode(v, &mut buf);
            assert_eq!(decode(&buf), ok(v, buf.len()));
        }
    }
}
