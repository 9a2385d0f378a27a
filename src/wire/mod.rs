//! MQTT 3.1 / 3.1.1 / 5.0 wire format, for hostile input.
//!
//! Pure: no Suricata, no I/O. [`parse_message`] frames and decodes one control packet from
//! the start of a buffer into an owned [`Message`]; [`resync`] finds where to restart after
//! garbage or a midstream pickup; [`probe_connect`] detects the protocol from a CONNECT.
//!
//! Guarantees on any input: no panic, work linear in the input, and no copy larger than the
//! bytes that justify it (payloads and will messages capped by [`Limits::max_payload_capture`]).
//! Protocol violations never abort a framed message: they are recorded as
//! [`Malformation`]s on it and the fields decoded up to the problem are kept.

mod ack;
mod auth;
mod connack;
mod connect;
mod disconnect;
mod fixed_header;
mod framing;
mod malformation;
mod message;
mod probe;
mod properties;
mod publish;
mod reader;
mod reason;
mod strings;
mod suback;
mod subscribe;
mod unsuback;
mod unsubscribe;
pub mod varint;

#[cfg(test)]
mod fuzz_tests;

pub use ack::Ack;
pub use auth::Auth;
pub use connack::{is_auth_refusal, Connack};
pub use connect::Connect;
pub use disconnect::Disconnect;
pub use fixed_header::{type_name, FixedHeader};
pub use framing::{header_only, parse_message, probe_connect, resync};
pub use malformation::{Malformation, Malformations};
pub use message::{Body, Message};
pub use probe::probe_port;
pub use properties::Properties;
pub use publish::Publish;
pub use strings::{Bin, Str};
pub use suback::Suback;
pub use subscribe::{Subscribe, SubscribeTopic};
pub use unsuback::Unsuback;
pub use unsubscribe::Unsubscribe;

/// Message type numbers (upper nibble of the first byte).
pub mod msg_type {
    pub use super::fixed_header::{
        AUTH, CONNACK, CONNECT, DISCONNECT, PINGREQ, PINGRESP, PUBACK, PUBCOMP, PUBLISH, PUBREC,
        PUBREL, SUBACK, SUBSCRIBE, UNSUBACK, UNSUBSCRIBE,
    };
}

/// Parser limits, read once at init.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Limits {
    /// Largest whole message (fixed header included) that is buffered and decoded; larger
    /// ones come back as [`Parsed::Oversized`]. Default 1 MiB.
    pub max_msg_len: usize,
    /// Bytes of a PUBLISH payload or CONNECT will message copied into the [`Message`];
    /// the full length is always recorded. Default 256.
    pub max_payload_capture: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_msg_len: 1 << 20,
            max_payload_capture: 256,
        }
    }
}

/// Protocol version of a connection, from the CONNECT level byte.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum ProtocolVersion {
    /// No (valid) CONNECT seen: parsed with 3.1.1 layouts (no properties), except that
    /// type 15 is decoded as AUTH since a midstream MQTT 5 flow may legitimately carry it.
    #[default]
    Unknown,
    V3_1,
    V3_1_1,
    V5,
}

impl ProtocolVersion {
    /// Map a CONNECT level byte. Bit 0x80 is the bridge marker some brokers (Mosquitto) set
    /// on bridge connections; it does not change the wire format, so it is ignored.
    pub const fn from_level(level: u8) -> Self {
        match level & 0x7F {
            3 => ProtocolVersion::V3_1,
            4 => ProtocolVersion::V3_1_1,
            5 => ProtocolVersion::V5,
            _ => ProtocolVersion::Unknown,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            ProtocolVersion::Unknown => "unknown",
            ProtocolVersion::V3_1 => "3.1",
            ProtocolVersion::V3_1_1 => "3.1.1",
            ProtocolVersion::V5 => "5.0",
        }
    }
}

/// Outcome of [`parse_message`].
// A short-lived return value that the caller destructures at once; boxing the message
// would cost an allocation per message to save a few hundred bytes of stack.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Parsed {
    /// A whole message, which consumed `len` bytes (fixed header + remaining length).
    Message { msg: Message, len: usize },
    /// More bytes are needed. `needed` is the total message length once the fixed header
    /// is complete, None while the header itself is still cut.
    Incomplete { needed: Option<usize> },
    /// The header frames a message longer than `max_msg_len`: skip `total_len` bytes (they
    /// may extend into later segments) and raise [`Malformation::MessageTooLarge`].
    Oversized { total_len: usize },
    /// The fixed header cannot frame a message (remaining length over 4 bytes): the stream
    /// position is lost, call [`resync`].
    BadHeader(Malformation),
}

/// Result of [`probe_connect`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Probe {
    /// Looks like MQTT. `Unknown` when the protocol name is right but the level is not one
    /// the name allows: still MQTT traffic, just off-spec.
    Mqtt(ProtocolVersion),
    NotMqtt,
    NeedMore,
}

#[cfg(test)]
pub(crate) mod test_util {
    /// Hex string to bytes (test vectors copied from captures).
    pub fn hex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        s.chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let l = Limits::default();
        assert_eq!((l.max_msg_len, l.max_payload_capture), (1 << 20, 256));
        assert_eq!(ProtocolVersion::default(), ProtocolVersion::Unknown);
    }

    #[test]
    fn levels() {
        assert_eq!(ProtocolVersion::from_level(3), ProtocolVersion::V3_1);
        assert_eq!(ProtocolVersion::from_level(4), ProtocolVersion::V3_1_1);
        assert_eq!(ProtocolVersion::from_level(0x85), ProtocolVersion::V5);
        assert_eq!(ProtocolVersion::from_level(6), ProtocolVersion::Unknown);
        assert_eq!(ProtocolVersion::V5.name(), "5.0");
    }
}
