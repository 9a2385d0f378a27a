//! Malformation kinds found while parsing. Each becomes one Suricata app-layer event, named by
//! [`Malformation::name`]; parsing carries on past them wherever the framing is still known.

use std::fmt;

macro_rules! malformations {
    ($($(#[$doc:meta])* $variant:ident = $bit:literal => $name:literal,)+) => {
        /// One kind of protocol violation. The discriminant is its bit in [`Malformations`].
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        #[repr(u8)]
        pub enum Malformation {
            $($(#[$doc])* $variant = $bit,)+
        }

        impl Malformation {
            /// Every kind, in bit order (the order [`Malformations::iter`] yields them).
            pub const ALL: &'static [Malformation] = &[$(Malformation::$variant,)+];

            /// Snake-case event name, stable: rules and EVE output refer to it.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Malformation::$variant => $name,)+
                }
            }
        }
    };
}

malformations! {
    /// Message type 0, or 15 on a 3.x connection (15 is AUTH only in MQTT 5).
    ReservedMsgType = 0 => "reserved_msg_type",
    /// Fixed-header flag nibble not the one the spec mandates for the type (0b0010 for
    /// PUBREL/SUBSCRIBE/UNSUBSCRIBE, 0 for the others except PUBLISH), or DUP on a QoS 0 PUBLISH.
    InvalidFixedHeaderFlags = 1 => "invalid_fixed_header_flags",
    /// QoS 3: in a PUBLISH header, a CONNECT will QoS or a subscription's requested QoS.
    InvalidQos = 2 => "invalid_qos",
    /// Remaining-length varint longer than 4 bytes; the message cannot be framed.
    BadRemainingLength = 3 => "bad_remaining_length",
    /// Remaining length not minimally encoded (e.g. `80 00`); framing still works, but
    /// legitimate encoders never do this, so it hints at evasion.
    NonMinimalRemainingLength = 4 => "non_minimal_remaining_length",
    /// CONNECT protocol name is neither "MQTT" nor "MQIsdp".
    InvalidProtocolName = 5 => "invalid_protocol_name",
    /// CONNECT level not 3/4/5 (bridge bit 0x80 ignored), or it contradicts the name
    /// ("MQIsdp" must be 3, "MQTT" must be 4 or 5).
    InvalidProtocolLevel = 6 => "invalid_protocol_level",
    /// CONNECT flags bit 0 (reserved) is set.
    ConnectReservedFlag = 7 => "connect_reserved_flag",
    /// CONNECT will QoS/retain set without the will flag, or (before MQTT 5) a password
    /// without a user name.
    InvalidConnectFlags = 8 => "invalid_connect_flags",
    /// CONNACK acknowledge flags other than session-present are set (3.1.1 and 5).
    ConnackReservedFlags = 9 => "connack_reserved_flags",
    /// A field runs past the end of the remaining length.
    Truncated = 10 => "truncated",
    /// Bytes are left after the last field of a type whose layout is fully determined.
    TrailingBytes = 11 => "trailing_bytes",
    /// MQTT 5 property length goes beyond the end of the message.
    OversizedProperties = 12 => "oversized_properties",
    /// MQTT 5 property that is unknown, not allowed in this packet type, repeated where
    /// only one is allowed, or carries an out-of-range value (e.g. a boolean of 2).
    InvalidProperty = 13 => "invalid_property",
    /// A variable byte integer inside the body (property length, subscription identifier)
    /// is longer than 4 bytes or not minimally encoded.
    InvalidVarint = 14 => "invalid_varint",
    /// A string field is not valid UTF-8 or contains U+0000.
    InvalidUtf8 = 15 => "invalid_utf8",
    /// PUBLISH topic of length 0 without a topic alias, or an empty SUBSCRIBE/UNSUBSCRIBE
    /// topic filter.
    EmptyTopic = 16 => "empty_topic",
    /// PUBLISH topic name contains a wildcard (`+` or `#`), which only filters may use.
    WildcardInTopic = 17 => "wildcard_in_topic",
    /// SUBSCRIBE/UNSUBSCRIBE without any topic filter, or SUBACK (and MQTT 5 UNSUBACK)
    /// without any return code.
    NoTopics = 18 => "no_topics",
    /// SUBSCRIBE options byte with reserved bits set (bits 2-7 before MQTT 5, bits 6-7 and
    /// retain-handling 3 in MQTT 5).
    InvalidSubscribeOptions = 19 => "invalid_subscribe_options",
    /// Return/reason code not defined for this packet type and protocol version.
    InvalidReasonCode = 20 => "invalid_reason_code",
    /// Packet identifier 0 where one is required (QoS>0 PUBLISH, acks, (UN)SUBSCRIBE(ACK)).
    MissingMsgId = 21 => "missing_msg_id",
    /// Message longer than `Limits::max_msg_len`. Never set by the parser itself: raised by
    /// the caller on [`Parsed::Oversized`](super::Parsed::Oversized).
    MessageTooLarge = 22 => "message_too_large",
}

impl fmt::Display for Malformation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Set of malformations seen in one message. A bit set so a message carries it without
/// allocating, however many times a kind occurs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Malformations(u32);

impl Malformations {
    pub const fn new() -> Self {
        Malformations(0)
    }

    pub fn insert(&mut self, m: Malformation) {
        self.0 |= 1 << (m as u32);
    }

    pub const fn contains(&self, m: Malformation) -> bool {
        self.0 & (1 << (m as u32)) != 0
    }

    pub const fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// Raw bits, bit n = the kind whose discriminant is n.
    pub const fn bits(&self) -> u32 {
        self.0
    }

    pub fn len(&self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn iter(&self) -> impl Iterator<Item = Malformation> + '_ {
        Malformation::ALL
            .iter()
            .copied()
            .filter(|m| self.contains(*m))
    }
}

impl fmt::Debug for Malformations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl FromIterator<Malformation> for Malformations {
    fn from_iter<I: IntoIterator<Item = Malformation>>(iter: I) -> Self {
        let mut set = Malformations::new();
        for m in iter {
            set.insert(m);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_distinct_and_fit() {
        let mut all = Malformations::new();
        for (i, m) in Malformation::ALL.iter().enumerate() {
            assert_eq!(*m as usize, i, "discriminants must be dense and ordered");
            assert!(!all.contains(*m));
            all.insert(*m);
        }
        assert!(Malformation::ALL.len() <= 32);
        assert_eq!(all.len(), Malformation::ALL.len());
    }

    #[test]
    fn names_are_snake_case_and_unique() {
        let mut names: Vec<&str> = Malformation::ALL.iter().map(|m| m.name()).collect();
        for n in &names {
            assert!(
                n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{n}"
            );
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Malformation::ALL.len());
    }

    #[test]
    fn set_operations() {
        let mut s = Malformations::new();
        assert!(s.is_empty());
        s.insert(Malformation::Truncated);
        s.insert(Malformation::Truncated);
        s.insert(Malformation::InvalidQos);
        assert_eq!(s.len(), 2);
        let v: Vec<_> = s.iter().collect();
        assert_eq!(v, vec![Malformation::InvalidQos, Malformation::Truncated]);
        assert_eq!(format!("{s:?}"), "{InvalidQos, Truncated}");
    }
}
