//! QPS (Quark Publishing System 3.5) client/server dissector, as specified
//! in `docs/qps.md` (its "ref. D*n*" decisions are written out there).
//!
//! * [`probe`](self::probe()): header shapes, content detection and the
//!   candidates used to resynchronise (section 8).
//! * `codes`: request codes and data type names (section 3).
//! * `types`: framing constants, the two headers, the session state.
//! * `request` / `response`: every packet body (section 4), with `body`
//!   (helpers both use) and `header` (the raw story header of ReadHeader
//!   and SaveHeader).
//! * `pairing`: session id and sequence numbers, pairing by sequence
//!   number (section 5).
//! * `wire`: field constructors, Mac OS Roman, display text; the byte
//!   cursor is the toolkit's.
//! * this module: framing (18-byte headers that differ by direction, D1,
//!   D2), resynchronisation and the expert notes of section 11.

mod body;
mod codes;
mod header;
mod pairing;
mod probe;
mod request;
mod response;
pub mod spec;
mod types;
mod wire;

use std::borrow::Cow;

pub use codes::REQUESTS;
pub use probe::probe;

use crate::{Ctx, Dir, Dissector, Note, Options, SessionStart, Severity, Step};
use codes::*;
use probe::{Cand, Side};
use types::*;

/// Looking for a message start (mid-stream pickup, gap, untrusted framing).
#[derive(Debug, Clone)]
struct Resync {
    reason: Cow<'static, str>,
    severity: Severity,
    /// First position not yet examined.
    next: usize,
}

impl Resync {
    fn new(reason: impl Into<Cow<'static, str>>, severity: Severity) -> Resync {
        Resync {
            reason: reason.into(),
            severity,
            next: 0,
        }
    }
}

/// The QPS dissector of one session.
pub struct Qps {
    resync: [Option<Resync>; 2],
    /// D2: responses on this connection count the header in Length.
    long_len: bool,
    st: State,
}

impl Qps {
    pub fn new(start: SessionStart, opts: Options) -> Qps {
        let mid = start.mid_stream;
        let r = || {
            mid.then(|| {
                Resync::new(
                    "partial message (capture started mid-stream)",
                    Severity::Info,
                )
            })
        };
        Qps {
            resync: [r(), r()],
            long_len: false,
            st: State {
                opts,
                mid,
                ..State::default()
            },
        }
    }

    fn side(dir: Dir) -> Side {
        match dir {
            Dir::C2S => Side::Req,
            Dir::S2C => Side::Resp,
        }
    }

    /// One resynchronisation step: `Some(step)` to answer, `None` once a
    /// message start is confirmed at the front.
    fn resync_step(&mut self, dir: Dir, data: &[u8], eos: bool) -> Option<Step> {
        let long = dir == Dir::S2C && self.long_len;
        let slot = self.resync.get_mut(dir.idx())?;
        let r = slot.as_mut()?;
        let mut p = r.next;
        while p < data.len() {
            let rest = data.get(p..).unwrap_or(&[]);
            match probe::candidate(Self::side(dir), rest, long, eos, true) {
                Cand::No => p += 1,
                Cand::Yes if p == 0 => {
                    *slot = None;
                    return None;
                }
                Cand::NeedMore if p == 0 => {
                    r.next = 0;
                    return Some(Step::NeedMore);
                }
                // Everything before p cannot start a message.
                Cand::Yes | Cand::NeedMore => {
                    r.next = 0;
                    return Some(Step::skip(p, r.reason.clone(), r.severity));
                }
            }
        }
        r.next = 0;
        Some(Step::skip(data.len(), r.reason.clone(), r.severity))
    }

    /// The header at the front cannot be trusted: skip to the next
    /// plausible message start.
    fn framing_error(&mut self, dir: Dir, data: &[u8], eos: bool, reason: String) -> Step {
        self.skip_header(dir, data, eos, reason, Severity::Error)
    }

    /// The header at the front is not decoded: skip to the next plausible
    /// message start, reporting the bytes with `reason`.
    fn skip_header(
        &mut self,
        dir: Dir,
        data: &[u8],
        eos: bool,
        reason: String,
        severity: Severity,
    ) -> Step {
        let mut r = Resync::new(reason, severity);
        r.next = 1;
        let fallback = Step::skip(1, r.reason.clone(), severity);
        if let Some(slot) = self.resync.get_mut(dir.idx()) {
            *slot = Some(r);
        }
        match self.resync_step(dir, data, eos) {
            Some(step @ Step::Skip { .. }) => step,
            _ => fallback,
        }
    }

    /// No version word where this direction's layout has it (D1, D22).
    fn wrong_version(
        &mut self,
        dir: Dir,
        data: &[u8],
        eos: bool,
        version: u32,
        other_layout: bool,
    ) -> Step {
        let (mine, other, at) = match dir {
            Dir::C2S => ("request", "server (response)", 4),
            Dir::S2C => ("response", "client (request)", 0),
        };
        let (hi, lo) = (version >> 16, version & 0xFFFF);
        let (reason, severity) = if other_layout {
            (
                format!("{other} header layout in the {} direction", dir.as_str()),
                Severity::Error,
            )
        } else if hi == lo && hi != 0 {
            // Another QPS version (section 8 option, not enabled): not decoded.
            (
                format!("QPS version 0x{hi:04x} (0x{version:08x}) not decoded: only QPS 3.5 (0x003f003f)"),
                Severity::Warn,
            )
        } else {
            (
                format!("not a QPS {mine} header (version 0x{version:08x} at offset {at})"),
                Severity::Error,
            )
        };
        self.skip_header(dir, data, eos, reason, severity)
    }

    fn incomplete(data: &[u8], eos: bool) -> Step {
        if eos {
            Step::skip(
                data.len(),
                "truncated QPS message at end of stream",
                Severity::Error,
            )
        } else {
            Step::NeedMore
        }
    }

    fn parse_request(&mut self, offset: u64, data: &[u8], ctx: &mut Ctx) -> Step {
        let eos = ctx.eos;
        let Some(h) = req_hdr(data) else {
            return Self::incomplete(data, eos);
        };
        if h.version != VERSION_WORD {
            let other_layout = data.get(..4) == Some(&VERSION[..]);
            return self.wrong_version(Dir::C2S, data, eos, h.version, other_layout);
        }
        if h.sub_len > h.pkt_len {
            let reason = format!(
                "Sub-Data length {} exceeds Packet length {}",
                h.sub_len, h.pkt_len
            );
            return self.framing_error(Dir::C2S, data, eos, reason);
        }
        if !probe::within_limit(h.pkt_len) {
            let reason = format!("Packet length {} beyond the 16 MiB limit", h.pkt_len);
            return self.framing_error(Dir::C2S, data, eos, reason);
        }
        let total = HDR + h.pkt_len as usize;
        let Some(msg) = data.get(..total) else {
            return Self::incomplete(data, eos);
        };
        Step::Message(self.st.request(&h, msg, offset, ctx))
    }

    fn parse_response(&mut self, data: &[u8], ctx: &mut Ctx) -> Step {
        let eos = ctx.eos;
        let Some(h) = resp_hdr(data) else {
            return Self::incomplete(data, eos);
        };
        if h.version != VERSION_WORD {
            let other_layout = data.get(4..8) == Some(&VERSION[..]);
            return self.wrong_version(Dir::S2C, data, eos, h.version, other_layout);
        }
        if !probe::within_limit(h.length) {
            let reason = format!("Length {} beyond the 16 MiB limit", h.length);
            return self.framing_error(Dir::S2C, data, eos, reason);
        }
        let len = h.length as usize;
        let mut switched = false;
        let total = if self.long_len {
            if len < HDR {
                let reason = format!(
                    "Length {len} shorter than the header (Length includes the header on this connection)"
                );
                return self.framing_error(Dir::S2C, data, eos, reason);
            }
            len
        } else {
            // D2: Length counts the Data. If the bytes after it do not start
            // a response but the bytes at Length do, it includes the header.
            let after = data.get(HDR + len..HDR + len + 4);
            if len >= HDR
                && after.is_some()
                && after != Some(&VERSION[..])
                && data.get(len..len + 4) == Some(&VERSION[..])
            {
                self.long_len = true;
                switched = true;
                len
            } else {
                HDR + len
            }
        };
        let Some(msg) = data.get(..total) else {
            return Self::incomplete(data, eos);
        };
        let mut m = self.st.response(&h, msg, total, ctx);
        if switched {
            let text = "response Length includes the 18-byte header on this connection (D2): decoding switched";
            m.notes.push(Note::warn(text));
            ctx.note(Note::warn(text));
        }
        Step::Message(m)
    }
}

impl Dissector for Qps {
    fn parse(&mut self, dir: Dir, offset: u64, data: &[u8], ctx: &mut Ctx) -> Step {
        if data.is_empty() {
            return Step::NeedMore;
        }
        if let Some(step) = self.resync_step(dir, data, ctx.eos) {
            return step;
        }
        match dir {
            Dir::C2S => self.parse_request(offset, data, ctx),
            Dir::S2C => self.parse_response(data, ctx),
        }
    }

    fn gap(&mut self, dir: Dir, _offset: u64, len: u64, _ctx: &mut Ctx) {
        let reason = if len == 0 {
            "partial message (rest of a message over the size limit)"
        } else {
            "partial message (after a gap in the capture)"
        };
        if let Some(slot) = self.resync.get_mut(dir.idx()) {
            *slot = Some(Resync::new(reason, Severity::Info));
        }
        if dir == Dir::C2S {
            self.st.last_seq = None;
            self.st.seq_started = true;
            self.st.c2s_lost = true;
        }
    }

    fn close(&mut self, ctx: &mut Ctx) {
        // D18: no response is expected to Close, none required for CloseHeader.
        let mut open: Vec<(u16, &Pending)> = self
            .st
            .pending
            .iter()
            .filter(|(_, p)| p.code != CLOSE && p.code != CLOSE_HEADER)
            .map(|(s, p)| (*s, p))
            .collect();
        open.sort_by_key(|(_, p)| p.offset);
        for (seq, p) in open.iter().take(MAX_UNANSWERED_NOTES) {
            ctx.note(Note::info(format!(
                "request {} (seq {seq}, c2s offset {}) unanswered at close",
                request_name(p.code),
                p.offset
            )));
        }
        if open.len() > MAX_UNANSWERED_NOTES {
            ctx.note(Note::info(format!(
                "{} more requests unanswered at close",
                open.len() - MAX_UNANSWERED_NOTES
            )));
        }
        self.st.pending.clear();
    }
}

#[cfg(test)]
mod tests;
