//! QPS (Quark Publishing System 3.5) client/server dissector. Reference:
//! `shared/protocols/qps.md`; its DECISIONs (D1–D24) are implemented as
//! written.
//!
//! * [`probe`](self::probe()): header shapes, content detection and the
//!   candidates used to resynchronise (section 8).
//! * `wire`: a bounds-checked cursor that records byte ranges, Mac OS Roman.
//! * `request` / `response`: every packet body (section 4).
//! * this module: framing (18-byte headers that differ by direction, D1,
//!   D2), resynchronisation, session state (session id, sequence numbers),
//!   pairing by sequence number (section 5) and the expert notes of
//!   section 11.

mod probe;
mod request;
mod response;
mod spec;
pub use spec::PROTOCOL;
mod wire;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use nom::number::streaming::{be_u16, be_u32};
use nom::{IResult, Parser};

use crate::names::CodeNames;
use crate::{
    Ctx, Dir, Dissector, Field, Kind, Message, MsgRef, Note, Options, SessionStart, Severity, Step,
    Value,
};
pub use probe::probe;
use probe::{Cand, Side};
use wire::{f_bytes, f_uint};

/// The version word of QPS 3.5 (D22).
pub(crate) const VERSION: [u8; 4] = [0x00, 0x3F, 0x00, 0x3F];
const VERSION_WORD: u32 = 0x003F_003F;
/// Header size in both directions.
pub(crate) const HDR: usize = 18;
/// Sanity limit on Packet length / Length (section 8).
pub(crate) const MAX_LEN: u32 = 16 << 20;
/// Most entries remembered per table (names, handles, searches, pending).
const MAX_TABLE: usize = 4096;
/// Most "unanswered at close" notes reported one by one.
const MAX_UNANSWERED_NOTES: usize = 20;

pub(crate) const SIGNON: u16 = 0x05;
pub(crate) const CLOSE: u16 = 0x06;
pub(crate) const OPEN_HEADER: u16 = 0x08;
pub(crate) const READ_HEADER: u16 = 0x09;
pub(crate) const SAVE_HEADER: u16 = 0x0A;
pub(crate) const CLOSE_HEADER: u16 = 0x0E;
pub(crate) const SEARCH: u16 = 0x14;
pub(crate) const SIGN_OFF: u16 = 0x16;
pub(crate) const GET_STATUSES: u16 = 0x2B;
pub(crate) const GET_REPOSITORIES: u16 = 0x40;
pub(crate) const SEARCH_COUNT: u16 = 0x42;
pub(crate) const GET_SEARCH_RESULTS: u16 = 0x43;
pub(crate) const GET_HEADERS: u16 = 0x4A;
pub(crate) const GET_PUBLICATIONS: u16 = 0x66;

/// Request type names (section 3).
pub static REQUESTS: CodeNames = CodeNames {
    what: "QPS request",
    optional_prefix: "",
    aliases: &[],
    entries: &[
        (SIGNON as i64, "Signon"),
        (CLOSE as i64, "Close"),
        (OPEN_HEADER as i64, "OpenHeader"),
        (READ_HEADER as i64, "ReadHeader"),
        (SAVE_HEADER as i64, "SaveHeader"),
        (CLOSE_HEADER as i64, "CloseHeader"),
        (SEARCH as i64, "Search"),
        (SIGN_OFF as i64, "SignOff"),
        (GET_STATUSES as i64, "GetStatuses"),
        (GET_REPOSITORIES as i64, "GetRepositories"),
        (SEARCH_COUNT as i64, "SearchCount"),
        (GET_SEARCH_RESULTS as i64, "GetSearchResults"),
        (GET_HEADERS as i64, "GetHeaders"),
        (GET_PUBLICATIONS as i64, "GetPublications"),
    ],
};

/// The name of a request code (section 3).
pub(crate) fn code_name(code: u16) -> Option<&'static str> {
    REQUESTS.name_of(i64::from(code))
}

fn request_name(code: u16) -> String {
    match code_name(code) {
        Some(n) => n.to_owned(),
        None => format!("unknown code 0x{code:02x}"),
    }
}

/// Client → server header (section 2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReqHdr {
    pub session: u16,
    pub code: u16,
    pub version: u32,
    pub seq: u16,
    pub sub_len: u32,
    pub pkt_len: u32,
}

/// Server → client header (section 2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RespHdr {
    pub version: u32,
    pub code: u16,
    pub status: u16,
    pub seq: u16,
    pub flags: u32,
    pub length: u32,
}

type NomErr<'a> = nom::error::Error<&'a [u8]>;

fn u16s(b: &[u8]) -> IResult<&[u8], u16, NomErr<'_>> {
    be_u16(b)
}

fn u32s(b: &[u8]) -> IResult<&[u8], u32, NomErr<'_>> {
    be_u32(b)
}

/// The request header at the front (`None`: fewer than 18 bytes).
fn req_hdr(b: &[u8]) -> Option<ReqHdr> {
    let (_, (session, code, version, seq, sub_len, pkt_len)) =
        (u16s, u16s, u32s, u16s, u32s, u32s).parse(b).ok()?;
    Some(ReqHdr {
        session,
        code,
        version,
        seq,
        sub_len,
        pkt_len,
    })
}

/// The response header at the front (`None`: fewer than 18 bytes).
fn resp_hdr(b: &[u8]) -> Option<RespHdr> {
    let (_, (version, code, status, seq, flags, length)) =
        (u32s, u16s, u16s, u16s, u32s, u32s).parse(b).ok()?;
    Some(RespHdr {
        version,
        code,
        status,
        seq,
        flags,
        length,
    })
}

/// What a packet decoder produces besides the header.
#[derive(Debug, Default)]
pub(crate) struct Out {
    pub fields: Vec<Field>,
    pub notes: Vec<Note>,
    /// The packet-specific part of the summary.
    pub summary: String,
    pub links: Vec<(&'static str, MsgRef)>,
    pub is_error: bool,
    /// Message ranges holding secrets (whether or not they are shown).
    pub secrets: Vec<Range<usize>>,
}

/// What a request leaves for decoding its response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum ReqCtx {
    #[default]
    None,
    /// Signon: the user name.
    Signon(String),
    /// GetStatuses: the publication name.
    Statuses(String),
    /// OpenHeader: the file name.
    Open(String),
}

/// A request waiting for its response.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub offset: u64,
    pub code: u16,
    pub ctx: ReqCtx,
}

/// A header field definition learnt from GetHeaders.
#[derive(Debug, Clone)]
pub(crate) struct FieldDef {
    pub name: String,
    pub data_type: u32,
}

/// Session state shared by the packet decoders.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub opts: Options,
    pub mid: bool,
    /// Sequence number → request waiting for its response.
    pub pending: BTreeMap<u16, Pending>,
    /// Session id from the last successful Signon (or, mid-stream, adopted
    /// from the first request).
    pub session: Option<u32>,
    /// The client's last sequence number (None after a gap).
    pub last_seq: Option<u16>,
    /// Some client message has been seen (or lost).
    pub seq_started: bool,
    /// Client bytes were lost: responses may answer requests never seen.
    pub c2s_lost: bool,
    /// The client sent Close.
    pub closed: bool,
    pub failed_signons: u32,
    pub fields: BTreeMap<u32, FieldDef>,
    pub pubs: BTreeMap<u32, String>,
    /// Search requests by sequence number (for pushes) and the latest one.
    pub search_reqs: BTreeMap<u16, u64>,
    pub last_search_req: Option<u64>,
    /// Search id → Search request, and the most recent successful search (D15).
    pub search_ids: BTreeMap<u16, u64>,
    pub current_search: Option<(u16, u64)>,
    /// GetSearchResults responses since the current search.
    pub results_parts: u32,
    /// Open header handle → (OpenHeader request, file name).
    pub handles: BTreeMap<u16, (u64, String)>,
}

/// Inserts into a bounded table (existing keys are always updated).
pub(crate) fn remember<K: Ord, V>(t: &mut BTreeMap<K, V>, k: K, v: V) {
    if t.len() < MAX_TABLE || t.contains_key(&k) {
        t.insert(k, v);
    }
}

impl State {
    fn check_seq(&mut self, seq: u16, o: &mut Out) {
        match self.last_seq {
            None if !self.mid && !self.seq_started && seq != 1 => o.notes.push(Note::info(
                format!("first sequence number is {seq} (expected 1)"),
            )),
            Some(last) if seq == last => o
                .notes
                .push(Note::info(format!("repeated sequence number {seq}"))),
            Some(last) => {
                let next = last.wrapping_add(1);
                // D6: after 0xFFFF, 0x0000 or 0x0001.
                if seq != next && !(last == 0xFFFF && seq == 1) {
                    o.notes.push(Note::info(format!(
                        "sequence number {seq} out of order (expected {next})"
                    )));
                }
            }
            None => {}
        }
        self.last_seq = Some(seq);
        self.seq_started = true;
    }

    fn check_session(&mut self, h: &ReqHdr, o: &mut Out) {
        let sid = h.session;
        if h.code == SIGNON {
            if sid != 0 {
                o.notes.push(Note::warn(format!(
                    "Signon with Session ID 0x{sid:04x} (expected 0)"
                )));
            }
            return;
        }
        match self.session {
            // D5: the header carries the low 16 bits.
            Some(s) if u32::from(sid) != s & 0xFFFF => o.notes.push(Note::warn(format!(
                "Session ID 0x{sid:04x} differs from the session id 0x{s:04x} assigned at Signon"
            ))),
            Some(_) => {}
            None if sid == 0 => {}
            // Signon not captured: adopt the client's session id.
            None if self.mid || self.c2s_lost => self.session = Some(u32::from(sid)),
            None => o.notes.push(Note::warn(format!(
                "Session ID 0x{sid:04x} before a successful Signon"
            ))),
        }
    }

    fn request(&mut self, h: &ReqHdr, msg: &[u8], offset: u64, ctx: &mut Ctx) -> Message {
        let mut o = Out {
            fields: vec![
                f_uint("session_id", 0..2, h.session),
                f_uint("code", 2..4, h.code),
                f_uint("version", 4..8, h.version),
                f_uint("seq", 8..10, h.seq),
                f_uint("subdata_len", 10..14, h.sub_len),
                f_uint("packet_len", 14..18, h.pkt_len),
            ],
            ..Out::default()
        };
        self.check_seq(h.seq, &mut o);
        self.check_session(h, &mut o);
        if self.closed {
            o.notes.push(Note::warn("traffic after Close"));
        }
        let data_end = HDR + h.pkt_len.saturating_sub(h.sub_len) as usize;
        let rctx = request::decode(self, h, msg, data_end, offset, &mut o, ctx);
        let pending = Pending {
            offset,
            code: h.code,
            ctx: rctx,
        };
        if let Some(old) = self.pending.insert(h.seq, pending) {
            o.notes.push(Note::info(format!(
                "duplicate sequence number {}: replaces the unanswered {} at c2s offset {}",
                h.seq,
                request_name(old.code),
                old.offset
            )));
        }
        if self.pending.len() > MAX_TABLE {
            // Forget the oldest request.
            let oldest = self
                .pending
                .iter()
                .min_by_key(|(_, p)| p.offset)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.pending.remove(&k);
            }
        }
        if h.code == CLOSE {
            self.closed = true;
        }
        let mut m = Message::new(Dir::C2S, msg.len(), Kind::Request, request_name(h.code));
        m.summary = summary(h.seq, &o.summary);
        m.fields = o.fields;
        m.notes = o.notes;
        m.links = o.links;
        m.is_error = o.is_error;
        m.secrets = o.secrets;
        m
    }

    fn response(&mut self, h: &RespHdr, msg: &[u8], data_end: usize, ctx: &mut Ctx) -> Message {
        let mut o = Out {
            fields: vec![
                f_uint("version", 0..4, h.version),
                f_uint("code", 4..6, h.code),
                f_uint("status", 6..8, h.status),
                f_uint("seq", 8..10, h.seq),
            ],
            ..Out::default()
        };
        let flags_bytes = msg.get(10..14).unwrap_or(&[]);
        let data = msg.get(HDR..data_end).unwrap_or(&[]);
        let (kind, name, reply_to) = if h.status == 5 && response::is_search_update(data) {
            o.fields.push(f_uint("flags", 10..14, h.flags));
            o.fields.push(f_uint("length", 14..18, h.length));
            response::search_update(self, h, msg, data_end, &mut o);
            (Kind::Push, "SearchUpdate".to_owned(), None)
        } else {
            // D20: Flags of normal responses are undocumented: raw.
            o.fields.push(f_bytes("flags", 10..14, flags_bytes));
            o.fields.push(f_uint("length", 14..18, h.length));
            match self.pending.remove(&h.seq) {
                Some(p) => {
                    response::decode(self, &p, h, msg, data_end, &mut o, ctx);
                    let reply = MsgRef {
                        dir: Dir::C2S,
                        offset: p.offset,
                    };
                    (Kind::Response, request_name(p.code), Some(reply))
                }
                None => {
                    if h.status == 5 {
                        o.notes.push(Note::warn(
                            "Status 5 (SearchUpdate) but the Data is not a SearchUpdate",
                        ));
                    }
                    if self.mid || self.c2s_lost {
                        o.notes.push(Note::info(format!(
                            "no pending request with sequence number {} (its request was not captured)",
                            h.seq
                        )));
                    } else {
                        o.notes.push(Note::warn(format!(
                            "unsolicited server message: no pending request with sequence number {}",
                            h.seq
                        )));
                    }
                    let mut c = wire::Cur::new(msg, HDR, data_end);
                    response::header_only(&mut c, &mut o, false);
                    o.summary = format!("code {}, status {}", h.code, h.status);
                    (Kind::Other, "Response".to_owned(), None)
                }
            }
        };
        let mut m = Message::new(Dir::S2C, msg.len(), kind, name);
        m.summary = summary(h.seq, &o.summary);
        m.fields = o.fields;
        m.notes = o.notes;
        m.links = o.links;
        m.is_error = o.is_error;
        m.reply_to = reply_to;
        m
    }
}

fn summary(seq: u16, body: &str) -> String {
    if body.is_empty() {
        format!("[seq {seq}]")
    } else {
        format!("[seq {seq}] {body}")
    }
}

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

/// Raw bytes as a field value (kept, never dropped).
pub(crate) fn raw(b: &[u8]) -> Value {
    Value::Bytes(b.to_vec())
}

#[cfg(test)]
mod tests;
