//! The owned result of parsing one control packet. No lifetimes: the caller keeps it after
//! the input buffer is gone.

use super::{
    Ack, Auth, Connack, Connect, Disconnect, FixedHeader, Malformations, ProtocolVersion, Publish,
    Suback, Subscribe, Unsuback, Unsubscribe,
};

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Message {
    pub header: FixedHeader,
    pub body: Body,
    pub malformations: Malformations,
    /// Version whose layouts were used. For a CONNECT this is the one its level byte
    /// announces (what the caller should use for the rest of the connection), otherwise
    /// the version the caller passed in.
    pub version: ProtocolVersion,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Body {
    Connect(Connect),
    Connack(Connack),
    Publish(Publish),
    Puback(Ack),
    Pubrec(Ack),
    Pubrel(Ack),
    Pubcomp(Ack),
    Subscribe(Subscribe),
    Suback(Suback),
    Unsubscribe(Unsubscribe),
    Unsuback(Unsuback),
    Pingreq,
    Pingresp,
    Disconnect(Disconnect),
    Auth(Auth),
    /// Type 0, or 15 on a 3.x connection. The body is not interpreted.
    Reserved,
    /// The header framed the message but the body broke before its first variable-length
    /// part (e.g. a PUBLISH cut inside its topic); the malformations say why.
    Unparsed,
}

impl Message {
    /// Packet identifier, for the types that carry one.
    pub fn msgid(&self) -> Option<u16> {
        match &self.body {
            Body::Publish(p) => p.msgid,
            Body::Puback(a) | Body::Pubrec(a) | Body::Pubrel(a) | Body::Pubcomp(a) => Some(a.msgid),
            Body::Subscribe(s) => Some(s.msgid),
            Body::Suback(s) => Some(s.msgid),
            Body::Unsubscribe(u) => Some(u.msgid),
            Body::Unsuback(u) => Some(u.msgid),
            _ => None,
        }
    }
}
