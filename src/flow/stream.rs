//! Framing one direction of a TCP stream into MQTT messages.
//!
//! Suricata hands the parser stream slices: a message may span slices (the parser asks for more
//! with "incomplete"), a slice may hold many messages, data may have gaps, and a flow may be
//! picked up midstream. This type decides where messages start and skips what cannot be framed.
//! It is pull-based, one message per `step`, because the protocol version that decides how the
//! next message parses can change with the message just parsed (CONNECT).
use crate::wire::{self, Limits, Malformation, Parsed, ProtocolVersion};

/// Something a flow did that is not a property of one message's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamEvent {
    /// Bytes were skipped to find the next plausible fixed header (midstream, gap, garbage).
    Resync,
    /// A message longer than the configured maximum: its header is recorded, its body skipped.
    MessageTooLarge,
    /// A data gap (lost packets) in the stream.
    Gap,
    /// More messages in one slice than configured; the rest were framed but not kept.
    TooManyMessages,
}

// Items are returned by value and consumed at once, never stored: boxing the message would add an
// allocation per message for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum StreamItem {
    /// A message occupying stream bytes `start..=end`.
    Message {
        msg: wire::Message,
        start: u64,
        end: u64,
    },
    Event(StreamEvent),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamProgress {
    /// All input consumed.
    Done,
    /// `consumed` bytes used; call again with at least `needed` bytes from there.
    Incomplete { consumed: u32, needed: u32 },
}

#[allow(clippy::large_enum_variant)] // see StreamItem
#[derive(Debug)]
pub enum Step {
    Item(StreamItem),
    /// Input was skipped; call again.
    Continue,
    Stop(StreamProgress),
}

#[derive(Debug, Default)]
pub struct DirectionStream {
    /// Bytes still to skip of a message too large to keep.
    skip: u64,
    /// True until a message boundary is known: at a gap, after an unframeable header, and at
    /// the start of a flow picked up midstream.
    resync: bool,
    /// The boundary resynchronisation chose is a guess until a whole message is framed there.
    unconfirmed: bool,
}

impl DirectionStream {
    pub fn new(midstream: bool) -> Self {
        DirectionStream {
            skip: 0,
            resync: midstream,
            unconfirmed: false,
        }
    }

    pub fn on_gap(&mut self) {
        self.skip = 0;
        self.resync = true;
    }

    /// At the end of the stream: the bytes `step` left waiting for more (`input[*pos..]`) are a
    /// message cut short. It becomes a header-only message marked `truncated`, so a connection
    /// that closes in the middle of a message still shows it. Where the boundary was only a
    /// guess of resynchronisation (after a gap, garbage, or a midstream start) and no message
    /// ever confirmed it, the bytes are reported as skipped (`resync`) instead of inventing a
    /// message. Nothing is left over while a too-large body is skipped (its header was
    /// recorded).
    pub fn finish(
        &mut self,
        input: &[u8],
        pos: &mut usize,
        offset: u64,
        version: ProtocolVersion,
    ) -> Option<StreamItem> {
        if self.skip > 0 {
            return None;
        }
        let rest = input.get(*pos..).filter(|r| !r.is_empty())?;
        if self.resync || self.unconfirmed {
            *pos = input.len();
            return Some(StreamItem::Event(StreamEvent::Resync));
        }
        let msg = wire::header_only(rest, version, Malformation::Truncated);
        let start = offset + *pos as u64;
        *pos = input.len();
        Some(StreamItem::Message {
            msg,
            start,
            end: start + rest.len() as u64 - 1,
        })
    }

    /// Advances over `input[*pos..]` (the slice starts at stream offset `offset`) by one message,
    /// one event, or one skip.
    pub fn step(
        &mut self,
        input: &[u8],
        pos: &mut usize,
        offset: u64,
        version: ProtocolVersion,
        limits: &Limits,
    ) -> Step {
        let Some(rest) = input.get(*pos..).filter(|r| !r.is_empty()) else {
            return Step::Stop(StreamProgress::Done);
        };
        if self.skip > 0 {
            let n = self.skip.min(rest.len() as u64);
            self.skip -= n;
            *pos += n as usize;
            return Step::Continue;
        }
        if self.resync {
            return match wire::resync(rest) {
                Some(0) => {
                    self.resync = false;
                    self.unconfirmed = true;
                    Step::Continue
                }
                Some(n) => {
                    self.resync = false;
                    self.unconfirmed = true;
                    *pos += n;
                    Step::Item(StreamItem::Event(StreamEvent::Resync))
                }
                None => {
                    *pos = input.len();
                    Step::Item(StreamItem::Event(StreamEvent::Resync))
                }
            };
        }
        match wire::parse_message(rest, version, limits) {
            Parsed::Message { msg, len } => {
                self.unconfirmed = false;
                let len = len.clamp(1, rest.len());
                let start = offset + *pos as u64;
                *pos += len;
                Step::Item(StreamItem::Message {
                    msg,
                    start,
                    end: start + len as u64 - 1,
                })
            }
            Parsed::Incomplete { needed } => {
                let needed = needed.unwrap_or(0).max(rest.len() + 1);
                Step::Stop(StreamProgress::Incomplete {
                    consumed: *pos as u32,
                    needed: u32::try_from(needed).unwrap_or(u32::MAX),
                })
            }
            Parsed::Oversized { total_len } => {
                let msg = wire::header_only(rest, version, Malformation::MessageTooLarge);
                let start = offset + *pos as u64;
                let header_len = usize::from(msg.header.header_len).min(rest.len());
                // The header is reported now; the body is skipped as it arrives.
                self.skip = (total_len - header_len) as u64;
                *pos += header_len;
                Step::Item(StreamItem::Message {
                    msg,
                    start,
                    end: start + header_len as u64 - 1,
                })
            }
            Parsed::BadHeader(m) => {
                self.resync = true;
                let msg = wire::header_only(rest, version, m);
                let start = offset + *pos as u64;
                // Step past the bad byte so resync cannot land on it again.
                *pos += 1;
                Step::Item(StreamItem::Message {
                    msg,
                    start,
                    end: start,
                })
            }
        }
    }
}
