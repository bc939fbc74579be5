//! Header shapes and content detection (qps.md sections 2.3 and 8): the
//! version word 0x003F003F at offset 4 of a request header and at offset 0
//! of a response header, with the lengths checked against each request
//! type. Shared by the probe and by resynchronisation (mid-stream pickup,
//! gaps, untrusted framing).

use super::codes::code_name;
use super::types::{HDR, MAX_LEN, VERSION};
use crate::toolkit::{be_u16, be_u32};
use crate::{SessionStart, Verdict};

/// Largest message accepted as a resynchronisation or probe candidate.
pub const CAND_MAX: u32 = 1 << 20;
/// Bytes of each direction the probe looks at.
const WINDOW: usize = 64 << 10;
/// A direction this long without a plausible header is not QPS.
const ENOUGH: usize = 4096;

/// Which header layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Client → server (version at offset 4).
    Req,
    /// Server → client (version at offset 0).
    Resp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A plausible header: the message is this many bytes long.
    Yes(usize),
    No,
    NeedMore,
}

fn version_at(side: Side) -> usize {
    match side {
        Side::Req => 4,
        Side::Resp => 0,
    }
}

/// Whether the bytes there agree with the version word as far as they go:
/// `Some(true)` all four present and equal, `Some(false)` a mismatch,
/// `None` equal so far but incomplete.
fn version_prefix(side: Side, b: &[u8]) -> Option<bool> {
    let at = version_at(side);
    let have = b.get(at..).unwrap_or(&[]);
    let n = have.len().min(4);
    if have.get(..n) != VERSION.get(..n) {
        return Some(false);
    }
    if n == 4 {
        Some(true)
    } else {
        None
    }
}

/// Whether a request of type `code` may have these Data and Sub-Data
/// lengths (section 3; D7 and D9 variants included).
pub fn plausible_lengths(code: u16, data: u32, sub: u32) -> bool {
    match code {
        0x05 => sub == 0 && (6..=517).contains(&data),
        0x06 | 0x40 | 0x43 | 0x4A => data == 0 && sub == 0,
        0x08 => data == 0x10A && sub == 0,
        0x09 | 0x0E | 0x16 => data == 2 && sub == 0,
        0x0A => data == 2,
        0x14 => data == 4 && sub >= 0x48,
        0x2B => sub == 0 && (1..=0x44).contains(&data),
        0x42 => data == 0x12 && sub == 4,
        0x66 => data == 0x14 && sub == 0,
        _ => false,
    }
}

/// The header at the front of `b`, checked strictly (a known request code
/// with matching lengths; a response with small code and status). `long`:
/// response Length includes the header (D2).
pub fn header(side: Side, b: &[u8], long: bool) -> Shape {
    if b.len() < HDR {
        return match version_prefix(side, b) {
            Some(false) => Shape::No,
            _ => Shape::NeedMore,
        };
    }
    if version_prefix(side, b) != Some(true) {
        return Shape::No;
    }
    let ok_total = |n: u32| n <= CAND_MAX;
    match side {
        Side::Req => {
            let (Some(code), Some(sub), Some(pkt)) = (be_u16(b, 2), be_u32(b, 10), be_u32(b, 14))
            else {
                return Shape::No;
            };
            if code_name(code).is_none() || sub > pkt || !ok_total(pkt) {
                return Shape::No;
            }
            if !plausible_lengths(code, pkt - sub, sub) {
                return Shape::No;
            }
            Shape::Yes(HDR + pkt as usize)
        }
        Side::Resp => {
            let (Some(code), Some(status), Some(len)) = (be_u16(b, 4), be_u16(b, 6), be_u32(b, 14))
            else {
                return Shape::No;
            };
            if code > 0xFF || status > 0xFF || !ok_total(len) {
                return Shape::No;
            }
            match long {
                false => Shape::Yes(HDR + len as usize),
                true if len as usize >= HDR => Shape::Yes(len as usize),
                true => Shape::No,
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cand {
    Yes,
    No,
    NeedMore,
}

/// Whether a message plausibly starts at the front of `b`: a strict header
/// whose message either ends exactly at the end of the bytes or is followed
/// by the version word of the next header. `complete`: the whole message
/// must be there (otherwise a plausible header with its message still
/// arriving is enough).
pub fn candidate(side: Side, b: &[u8], long: bool, eos: bool, complete: bool) -> Cand {
    let total = match header(side, b, long) {
        Shape::Yes(t) => t,
        Shape::No => return Cand::No,
        Shape::NeedMore if eos => return Cand::No,
        Shape::NeedMore => return Cand::NeedMore,
    };
    if b.len() <= total {
        return match (b.len() == total, complete, eos) {
            (true, _, _) | (false, false, _) => Cand::Yes,
            (false, true, true) => Cand::No,
            (false, true, false) => Cand::NeedMore,
        };
    }
    match version_prefix(side, b.get(total..).unwrap_or(&[])) {
        Some(true) => Cand::Yes,
        Some(false) => Cand::No,
        None if eos => Cand::Yes,
        None => Cand::NeedMore,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Empty,
    /// Shows requests (the client's side).
    Req,
    /// Shows responses (the server's side).
    Resp,
    Undecided,
    No,
}

fn classify(b: &[u8], mid: bool) -> Class {
    let win = b.get(..b.len().min(WINDOW)).unwrap_or(b);
    if win.is_empty() {
        return Class::Empty;
    }
    // Undecided because a plausible header's message is still arriving, or
    // only because the bytes end inside a possible header.
    let mut waiting = false;
    let mut tail = false;
    // With the connection start captured a message starts at offset 0;
    // mid-stream, at any offset.
    let last = if mid { win.len() } else { 1 };
    for p in 0..last {
        let rest = win.get(p..).unwrap_or(&[]);
        // Mid-stream, demand the next header's confirmation (or the end of
        // the bytes) rather than one plausible header.
        let req = candidate(Side::Req, rest, false, false, mid);
        let resp = candidate(Side::Resp, rest, false, false, mid);
        match (req, resp) {
            (Cand::Yes, _) => return Class::Req,
            (_, Cand::Yes) => return Class::Resp,
            (Cand::No, Cand::No) => {}
            _ if rest.len() < HDR => tail = true,
            _ => waiting = true,
        }
    }
    if waiting || (tail && win.len() < ENOUGH) {
        Class::Undecided
    } else if !mid || win.len() >= ENOUGH {
        Class::No
    } else {
        // Mid-stream, the bytes so far may all be inside one long message.
        Class::Undecided
    }
}

/// Decides whether the first bytes of a session are QPS (section 8).
pub fn probe(c2s: &[u8], s2c: &[u8], start: SessionStart) -> Verdict {
    let mid = start.mid_stream;
    let c = classify(c2s, mid);
    let s = classify(s2c, mid);
    use Class::*;
    match (c, s) {
        (Req, Resp | Empty | Undecided | Req) => Verdict::Match { swap: false },
        (Resp | Empty | Undecided, Req) | (Resp, Resp | Empty | Undecided) => {
            Verdict::Match { swap: true }
        }
        // Only a server has spoken so far (or the client's first header is
        // still incomplete).
        (Empty | Undecided, Resp) => Verdict::Match { swap: false },
        (No, _) | (_, No) => Verdict::NoMatch(None),
        (Empty | Undecided, Empty | Undecided) => Verdict::NeedMore,
    }
}

/// Sanity limit on any length field in normal decoding (section 8).
pub fn within_limit(n: u32) -> bool {
    n <= MAX_LEN
}
