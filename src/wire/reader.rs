//! Shared plumbing for the body parsers: the parse context, and nom field readers that turn
//! "ran out of bytes" into a recorded `Truncated` malformation plus an early stop, so each
//! packet parser can keep whatever it decoded before the stop.

use nom::number::complete::{be_u16, be_u32, be_u8};
use nom::IResult;

use super::malformation::{Malformation, Malformations};
use super::varint::{self, Varint};
use super::{Limits, ProtocolVersion};

/// A field could not be read; the reason is already in `Ctx::mal`. Carries no data so the
/// callers' `?` stays cheap and they return what they have so far.
#[derive(Debug)]
pub(crate) struct Stop;

pub(crate) type Field<'a, T> = Result<(&'a [u8], T), Stop>;

pub(crate) struct Ctx<'l> {
    pub version: ProtocolVersion,
    pub limits: &'l Limits,
    pub mal: Malformations,
}

impl<'l> Ctx<'l> {
    pub fn new(version: ProtocolVersion, limits: &'l Limits) -> Self {
        Ctx {
            version,
            limits,
            mal: Malformations::new(),
        }
    }

    pub fn flag(&mut self, m: Malformation) {
        self.mal.insert(m);
    }

    pub fn is_v5(&self) -> bool {
        self.version == ProtocolVersion::V5
    }

    /// Convert a complete-mode nom result: any failure means the body ended too early,
    /// because these readers only fail on missing bytes.
    pub fn need<'a, T>(&mut self, r: IResult<&'a [u8], T>) -> Field<'a, T> {
        r.map_err(|_| {
            self.flag(Malformation::Truncated);
            Stop
        })
    }

    pub fn u8<'a>(&mut self, i: &'a [u8]) -> Field<'a, u8> {
        self.need(be_u8(i))
    }

    pub fn u16<'a>(&mut self, i: &'a [u8]) -> Field<'a, u16> {
        self.need(be_u16(i))
    }

    pub fn u32<'a>(&mut self, i: &'a [u8]) -> Field<'a, u32> {
        self.need(be_u32(i))
    }

    /// Packet identifier; 0 is never a valid one.
    pub fn msgid<'a>(&mut self, i: &'a [u8]) -> Field<'a, u16> {
        let (i, id) = self.u16(i)?;
        if id == 0 {
            self.flag(Malformation::MissingMsgId);
        }
        Ok((i, id))
    }

    /// Variable byte integer inside a body. Non-minimal encodings are flagged but accepted
    /// since the value is still unambiguous.
    pub fn varint<'a>(&mut self, i: &'a [u8]) -> Field<'a, u32> {
        match varint::decode(i) {
            Varint::Ok {
                value,
                len,
                minimal,
            } => {
                if !minimal {
                    self.flag(Malformation::InvalidVarint);
                }
                Ok((i.get(len..).unwrap_or_default(), value))
            }
            Varint::Incomplete => {
                self.flag(Malformation::Truncated);
                Err(Stop)
            }
            Varint::TooLong => {
                self.flag(Malformation::InvalidVarint);
                Err(Stop)
            }
        }
    }

    /// End of a fixed-layout body: anything left over is suspicious (covert data, desync).
    pub fn finish(&mut self, rest: &[u8]) {
        if !rest.is_empty() {
            self.flag(Malformation::TrailingBytes);
        }
    }
}
