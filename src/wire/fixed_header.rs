//! Fixed header: first byte (type + flags) and the remaining-length varint.

use super::malformation::{Malformation, Malformations};
use super::varint::{self, Varint};
use super::ProtocolVersion;

pub const CONNECT: u8 = 1;
pub const CONNACK: u8 = 2;
pub const PUBLISH: u8 = 3;
pub const PUBACK: u8 = 4;
pub const PUBREC: u8 = 5;
pub const PUBREL: u8 = 6;
pub const PUBCOMP: u8 = 7;
pub const SUBSCRIBE: u8 = 8;
pub const SUBACK: u8 = 9;
pub const UNSUBSCRIBE: u8 = 10;
pub const UNSUBACK: u8 = 11;
pub const PINGREQ: u8 = 12;
pub const PINGRESP: u8 = 13;
pub const DISCONNECT: u8 = 14;
pub const AUTH: u8 = 15;

/// Wire name of a message type (the 4-bit value), as used in logs.
pub const fn type_name(msg_type: u8) -> &'static str {
    match msg_type {
        CONNECT => "connect",
        CONNACK => "connack",
        PUBLISH => "publish",
        PUBACK => "puback",
        PUBREC => "pubrec",
        PUBREL => "pubrel",
        PUBCOMP => "pubcomp",
        SUBSCRIBE => "subscribe",
        SUBACK => "suback",
        UNSUBSCRIBE => "unsubscribe",
        UNSUBACK => "unsuback",
        PINGREQ => "pingreq",
        PINGRESP => "pingresp",
        DISCONNECT => "disconnect",
        AUTH => "auth",
        _ => "reserved",
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct FixedHeader {
    /// Whole first byte (Wireshark's `mqtt.hdrflags`).
    pub byte: u8,
    /// Upper nibble, 0..=15.
    pub msg_type: u8,
    /// Bit 3; meaningful for PUBLISH only, reported for every type as on the wire.
    pub dup: bool,
    /// Bits 2-1; meaningful for PUBLISH only.
    pub qos: u8,
    /// Bit 0; meaningful for PUBLISH only.
    pub retain: bool,
    pub remaining_len: u32,
    /// First byte plus varint, 2..=5.
    pub header_len: u8,
}

impl FixedHeader {
    /// Header plus body length in bytes.
    pub fn total_len(&self) -> usize {
        usize::from(self.header_len).saturating_add(self.remaining_len as usize)
    }

    pub fn flags(&self) -> u8 {
        self.byte & 0x0F
    }
}

/// Is type 15 AUTH (rather than reserved) under `version`? Only 3.x rules it out: an
/// Unknown version is usually a midstream pickup, which may well be MQTT 5.
pub(crate) fn auth_allowed(version: ProtocolVersion) -> bool {
    !matches!(version, ProtocolVersion::V3_1 | ProtocolVersion::V3_1_1)
}

/// Flag nibble mandated for a type, or None where the flags carry data (PUBLISH) or the
/// type itself is reserved.
const fn required_flags(msg_type: u8) -> Option<u8> {
    match msg_type {
        PUBREL | SUBSCRIBE | UNSUBSCRIBE => Some(0b0010),
        CONNECT | CONNACK | PUBACK | PUBREC | PUBCOMP | SUBACK | UNSUBACK | PINGREQ | PINGRESP
        | DISCONNECT | AUTH => Some(0),
        _ => None,
    }
}

/// Malformations visible in the first byte alone.
pub(crate) fn first_byte_malformations(byte: u8, version: ProtocolVersion) -> Malformations {
    let mut mal = Malformations::new();
    let msg_type = byte >> 4;
    let flags = byte & 0x0F;
    if msg_type == 0 || (msg_type == AUTH && !auth_allowed(version)) {
        mal.insert(Malformation::ReservedMsgType);
        return mal;
    }
    if msg_type == PUBLISH {
        let qos = (flags >> 1) & 3;
        if qos == 3 {
            mal.insert(Malformation::InvalidQos);
        } else if qos == 0 && flags & 0b1000 != 0 {
            mal.insert(Malformation::InvalidFixedHeaderFlags);
        }
    } else if required_flags(msg_type) != Some(flags) {
        mal.insert(Malformation::InvalidFixedHeaderFlags);
    }
    mal
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum HeaderRead {
    /// `minimal` is false for a non-minimal remaining-length encoding.
    Ok {
        header: FixedHeader,
        minimal: bool,
    },
    Incomplete,
    TooLong,
}

/// Decode the fixed header at the start of `input` (at most 5 bytes are looked at).
pub(crate) fn read(input: &[u8]) -> HeaderRead {
    let Some((&byte, rest)) = input.split_first() else {
        return HeaderRead::Incomplete;
    };
    match varint::decode(rest) {
        Varint::Ok {
            value,
            len,
            minimal,
        } => HeaderRead::Ok {
            header: FixedHeader {
                byte,
                msg_type: byte >> 4,
                dup: byte & 0b1000 != 0,
                qos: (byte >> 1) & 3,
                retain: byte & 1 != 0,
                remaining_len: value,
                // len <= 4
                header_len: (len as u8).saturating_add(1),
            },
            minimal,
        },
        Varint::Incomplete => HeaderRead::Incomplete,
        Varint::TooLong => HeaderRead::TooLong,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProtocolVersion::*;

    #[test]
    fn decodes_publish_bits() {
        let HeaderRead::Ok { header, minimal } = read(&[0x3D, 0x80, 0x01]) else {
            panic!()
        };
        assert!(minimal);
        assert_eq!(header.msg_type, PUBLISH);
        assert!(header.dup && header.retain);
        assert_eq!(header.qos, 2);
        assert_eq!(header.remaining_len, 128);
        assert_eq!(header.header_len, 3);
        assert_eq!(header.total_len(), 131);
    }

    #[test]
    fn incomplete_and_too_long() {
        assert_eq!(read(&[]), HeaderRead::Incomplete);
        assert_eq!(read(&[0x30]), HeaderRead::Incomplete);
        assert_eq!(read(&[0x30, 0xFF, 0xFF, 0xFF]), HeaderRead::Incomplete);
        assert_eq!(read(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF]), HeaderRead::TooLong);
    }

    #[test]
    fn flag_rules() {
        let bad = |b: u8, v| {
            first_byte_malformations(b, v).contains(Malformation::InvalidFixedHeaderFlags)
        };
        for b in [
            0x10, 0x20, 0x40, 0x50, 0x62, 0x70, 0x82, 0x90, 0xA2, 0xB0, 0xC0, 0xD0, 0xE0,
        ] {
            assert!(first_byte_malformations(b, V3_1_1).is_empty(), "{b:#x}");
        }
        assert!(first_byte_malformations(0xF0, V5).is_empty());
        for b in [0x11, 0x60, 0x80, 0x83, 0xA0, 0xC1, 0xE8, 0xF1] {
            assert!(bad(b, V5), "{b:#x}");
        }
        // DUP on QoS 0
        assert!(bad(0x38, V3_1_1));
        assert!(!bad(0x3B, V3_1_1));
    }

    #[test]
    fn qos3_and_reserved() {
        assert!(first_byte_malformations(0x36, V5).contains(Malformation::InvalidQos));
        assert!(first_byte_malformations(0x00, V5).contains(Malformation::ReservedMsgType));
        assert!(first_byte_malformations(0xF0, V3_1).contains(Malformation::ReservedMsgType));
        assert!(first_byte_malformations(0xF0, V3_1_1).contains(Malformation::ReservedMsgType));
        assert!(first_byte_malformations(0xF0, Unknown).is_empty());
    }

    #[test]
    fn names() {
        assert_eq!(type_name(CONNECT), "connect");
        assert_eq!(type_name(0), "reserved");
        assert_eq!(type_name(AUTH), "auth");
    }
}
