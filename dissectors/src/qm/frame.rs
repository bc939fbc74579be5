//! Framing (sections 2.2–2.6): the two headers, the plausibility test used
//! to find frame starts, the chaining test, and the resynchronisation at
//! segment starts for captures that begin inside a connection (or after a
//! gap).

use std::collections::VecDeque;

use crate::toolkit::{le_i16, le_i32};
use crate::{Dir, Severity, Step};

/// Request header: length (4) + function code (2).
pub const REQ_HDR: usize = 6;
/// Response header: length (4) + outcome (2) + status (4).
pub const RESP_HDR: usize = 10;
/// Largest length accepted while searching for a frame start (2.6); a
/// search bound only, frames beyond it are legal.
pub const SEARCH_MAX: i64 = 10_000_000;
/// Largest frame decoded (DECISION 6); beyond it the direction stops.
pub const FRAME_MAX: i64 = 64 << 20;
/// The server's greeting byte.
pub const GREETING: u8 = 0x06;

/// Which header a direction uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Req,
    Resp,
}

impl Side {
    pub fn of(dir: Dir) -> Side {
        match dir {
            Dir::C2S => Side::Req,
            Dir::S2C => Side::Resp,
        }
    }
    pub fn hdr(self) -> usize {
        match self {
            Side::Req => REQ_HDR,
            Side::Resp => RESP_HDR,
        }
    }
}

/// The length and the code (request) or outcome (response) at the front,
/// or `None` when fewer than 6 bytes are there.
pub fn head(data: &[u8]) -> Option<(i32, i16)> {
    Some((le_i32(data, 0)?, le_i16(data, 4)?))
}

/// A response's status, at offset 6.
pub fn status(data: &[u8]) -> Option<i32> {
    le_i32(data, 6)
}

/// Result of testing one header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plaus {
    /// A plausible header of a frame of this many bytes.
    Yes(usize),
    /// Consistent so far; more bytes needed.
    Partial,
    No,
}

/// Whether a plausible header of `side` starts at the front of `b` (2.6
/// rule 2): request 6 ≤ L ≤ 10^7 and code 1–46; response 10 ≤ L ≤ 10^7
/// and outcome 0–5. Tests what is there when the header is incomplete.
pub fn plausible(b: &[u8], side: Side) -> Plaus {
    let (lo, hi) = match side {
        Side::Req => (1u8, 46u8),
        Side::Resp => (0u8, 5u8),
    };
    // The high byte of the length is 0 for any L ≤ 10^7.
    if b.get(3).is_some_and(|&x| x != 0) {
        return Plaus::No;
    }
    if let Some(&c) = b.get(4) {
        if c < lo || c > hi {
            return Plaus::No;
        }
    }
    if b.get(5).is_some_and(|&x| x != 0) {
        return Plaus::No;
    }
    match head(b) {
        None => Plaus::Partial,
        Some((l, _)) => {
            let l = i64::from(l);
            if l < side.hdr() as i64 || l > SEARCH_MAX {
                Plaus::No
            } else {
                usize::try_from(l).map_or(Plaus::No, Plaus::Yes)
            }
        }
    }
}

/// Result of a chaining test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain {
    /// Three plausible headers chain, or the frames end exactly at the end
    /// of the data (at end of stream). Carries the number of frames seen.
    Accept(usize),
    Reject,
    NeedMore,
}

/// Tests whether frames of `side` chain from the front of `data` (2.6 rule
/// 2): three plausible headers at 0, L1, L1+L2, or frames that end exactly
/// at the end of the data when `eos`.
pub fn chain(data: &[u8], side: Side, eos: bool) -> Chain {
    let mut pos = 0usize;
    let mut n = 0usize;
    loop {
        if pos == data.len() {
            return match (eos, n) {
                (true, 0) => Chain::Reject,
                (true, n) => Chain::Accept(n),
                (false, _) => Chain::NeedMore,
            };
        }
        match plausible(data.get(pos..).unwrap_or(&[]), side) {
            Plaus::No => return Chain::Reject,
            Plaus::Partial if eos => return Chain::Reject,
            Plaus::Partial => return Chain::NeedMore,
            Plaus::Yes(l) => {
                n += 1;
                if n >= 3 {
                    return Chain::Accept(n);
                }
                pos = pos.saturating_add(l);
                if pos > data.len() {
                    return if eos { Chain::Reject } else { Chain::NeedMore };
                }
            }
        }
    }
}

/// What [`Resync::step`] decided.
#[derive(Debug, Clone, PartialEq)]
pub enum RStep {
    /// Answer this.
    Step(Step),
    /// A frame starts at the front: decode normally from here.
    Decode,
    /// The front byte is the server's greeting (a capture without the SYN
    /// that still begins at the connection start, DECISION 2).
    Greeting,
}

/// Looking for a frame start (section 2.6). Candidates are the first byte
/// given and then every position where newly arrived bytes began (a TCP
/// segment start: the driver hands over bytes as they arrive and the front
/// stays put while the dissector answers `NeedMore`).
#[derive(Debug, Clone)]
pub struct Resync {
    pub reason: &'static str,
    /// Candidate stream offsets not yet rejected, in order.
    cands: VecDeque<u64>,
    /// End of the bytes seen so far.
    seen_end: Option<u64>,
    /// An accepted start after skipped bytes.
    accepted: Option<u64>,
    /// Server side at the capture start: test for a lone 0x06 first.
    greeting_check: bool,
}

/// Most candidates remembered (further segment starts are ignored until
/// the older ones are decided).
const MAX_CANDS: usize = 1 << 16;

impl Resync {
    pub fn new(reason: &'static str, greeting_check: bool) -> Resync {
        Resync {
            reason,
            cands: VecDeque::new(),
            seen_end: None,
            accepted: None,
            greeting_check,
        }
    }

    /// Bytes are held waiting for a decision.
    pub fn undecided(&self) -> bool {
        self.seen_end.is_some() && (!self.cands.is_empty() || self.accepted.is_some())
    }

    fn note_arrival(&mut self, offset: u64, len: usize) {
        let end = offset + len as u64;
        match self.seen_end {
            None => {
                self.cands.push_back(offset);
                self.seen_end = Some(end);
            }
            Some(s) if end > s => {
                let start = s.max(offset);
                if self.cands.back().is_none_or(|&b| b < start) && self.cands.len() < MAX_CANDS {
                    self.cands.push_back(start);
                }
                self.seen_end = Some(end);
            }
            Some(_) => {}
        }
    }

    /// One step over `data` (which starts at stream offset `offset`).
    pub fn step(&mut self, side: Side, offset: u64, data: &[u8], eos: bool) -> RStep {
        self.note_arrival(offset, data.len());
        let reason = self.reason;
        if let Some(a) = self.accepted {
            if a <= offset {
                self.accepted = None;
                return RStep::Decode;
            }
            let n = usize::try_from(a - offset).unwrap_or(usize::MAX);
            return RStep::Step(Step::skip(n.min(data.len()), reason, Severity::Info));
        }
        while self.cands.front().is_some_and(|&c| c < offset) {
            self.cands.pop_front();
        }
        if self.greeting_check && self.cands.front() == Some(&offset) {
            if data.first() == Some(&GREETING) {
                let rest = data.get(1..).unwrap_or(&[]);
                let verdict = if rest.is_empty() && eos {
                    Chain::Accept(0)
                } else {
                    chain(rest, side, eos)
                };
                match verdict {
                    Chain::Accept(_) => {
                        self.greeting_check = false;
                        self.cands.clear();
                        self.accepted = Some(offset + 1);
                        return RStep::Greeting;
                    }
                    Chain::NeedMore => return RStep::Step(Step::NeedMore),
                    Chain::Reject => {}
                }
            }
            self.greeting_check = false;
        }
        while let Some(&c) = self.cands.front() {
            let Ok(p) = usize::try_from(c - offset) else {
                break;
            };
            if p >= data.len() {
                break;
            }
            match chain(data.get(p..).unwrap_or(&[]), side, eos) {
                Chain::Accept(_) => {
                    self.cands.clear();
                    if p == 0 {
                        return RStep::Decode;
                    }
                    self.accepted = Some(c);
                    return RStep::Step(Step::skip(p, reason, Severity::Info));
                }
                Chain::Reject => {
                    self.cands.pop_front();
                }
                Chain::NeedMore => {
                    if p > 0 {
                        return RStep::Step(Step::skip(p, reason, Severity::Info));
                    }
                    return RStep::Step(Step::NeedMore);
                }
            }
        }
        // No start in these bytes: not decoded. Later bytes begin a new segment.
        self.cands.clear();
        RStep::Step(Step::skip(data.len(), reason, Severity::Info))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(code: u8, body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 6) as u32).to_le_bytes().to_vec();
        v.extend_from_slice(&[code, 0]);
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn plausibility_of_headers() {
        assert_eq!(plausible(&req(24, b"abcd"), Side::Req), Plaus::Yes(10));
        assert_eq!(plausible(&req(47, b""), Side::Req), Plaus::No);
        assert_eq!(plausible(&req(0, b""), Side::Req), Plaus::No);
        assert_eq!(plausible(&[0x0a, 0, 0], Side::Req), Plaus::Partial);
        assert_eq!(plausible(&[5, 0, 0, 0, 1, 0], Side::Req), Plaus::No);
        assert_eq!(plausible(b"ABCDEFGH", Side::Req), Plaus::No);
        assert_eq!(plausible(&[10, 0, 0, 0, 5, 0], Side::Resp), Plaus::Yes(10));
        assert_eq!(plausible(&[10, 0, 0, 0, 6, 0], Side::Resp), Plaus::No);
        assert_eq!(plausible(&[9, 0, 0, 0, 0, 0], Side::Resp), Plaus::No);
    }

    #[test]
    fn chains_three_frames_or_to_the_end() {
        let mut s = req(1, b"");
        s.extend(req(2, b""));
        assert_eq!(chain(&s, Side::Req, false), Chain::NeedMore);
        assert_eq!(chain(&s, Side::Req, true), Chain::Accept(2));
        s.extend(req(3, b"x"));
        assert_eq!(chain(&s, Side::Req, false), Chain::Accept(3));
        assert_eq!(chain(&s[1..], Side::Req, true), Chain::Reject);
        assert_eq!(chain(&s[..s.len() - 1], Side::Req, true), Chain::Accept(3));
    }

    #[test]
    fn resync_skips_to_a_segment_start() {
        let mut r = Resync::new("partial", false);
        // Segment 1: the tail of a frame; segment 2: three frames.
        let tail = b"ABCDEFGHIJ".to_vec();
        assert!(matches!(
            r.step(Side::Req, 100, &tail, false),
            RStep::Step(Step::Skip { len: 10, .. })
        ));
        let mut s = req(6, b"\x01\x00C001");
        s.extend(req(5, b"\x01\x00"));
        s.extend(req(1, b""));
        assert_eq!(r.step(Side::Req, 110, &s, false), RStep::Decode);
    }

    #[test]
    fn resync_waits_then_skips_partial_prefix() {
        let mut r = Resync::new("partial", false);
        let mut buf = vec![b'Z'; 7];
        assert_eq!(
            r.step(Side::Req, 0, &buf, false),
            RStep::Step(Step::skip(7, "partial", Severity::Info))
        );
        // A frame header arrives alone, then the rest.
        buf = req(21, b"LIST");
        assert_eq!(
            r.step(Side::Req, 7, &buf[..6], false),
            RStep::Step(Step::NeedMore)
        );
        buf.extend(req(1, b""));
        assert_eq!(r.step(Side::Req, 7, &buf, true), RStep::Decode);
    }

    #[test]
    fn greeting_without_syn() {
        let mut r = Resync::new("partial", true);
        assert_eq!(
            r.step(Side::Resp, 0, &[6], false),
            RStep::Step(Step::NeedMore)
        );
        let mut s = vec![6u8];
        s.extend_from_slice(&[10, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(r.step(Side::Resp, 0, &s, true), RStep::Greeting);
        assert_eq!(r.step(Side::Resp, 1, &s[1..], true), RStep::Decode);
    }
}
