//! MQServer client protocol dissector, in all four wire forms, as
//! specified in `docs/mqserver.md` (the DECISIONs it cites are written out
//! there).
//!
//! * [`text`]: form (a), the design document's `MID|MSGTYPE|...|DATA` NUL.
//! * [`early`]: form (b), the early binary codec (20-byte header, CRC-32,
//!   SQLite-encoded DATA, NUL, zero padding) with [`sqlite`].
//! * [`xdr`]: form (c), OSSP-XDS XDR (no length field: bodies by type).
//! * [`xml`]: form (d), OSSP-XDS XML, one document per message.
//! * [`body`]: per-type bodies (section 4.3 splits, section 6.3 layouts,
//!   nested queue payloads).
//! * [`probe`](mod@probe): form detection, resynchronisation points and the probe.
//! * this module: the session (form per direction, resynchronisation,
//!   pairing of section 9.3, state checks and notes of section 14).

pub mod body;
pub mod common;
pub mod probe;
pub mod early;
mod message;
pub mod sqlite;
pub mod text;
pub mod xdr;
pub mod xml;
pub mod spec;

use std::collections::VecDeque;

use crate::{Ctx, Dir, Dissector, MsgRef, Note, Options, SessionStart, Severity, Step, Verdict};
use common::*;
use probe::Anchor;

pub use common::{crc32, Form};

/// Decides whether the first bytes of a session are MQServer (any form).
pub fn probe(c2s: &[u8], s2c: &[u8], start: SessionStart) -> Verdict {
    probe::probe(c2s, s2c, start)
}

/// Messages remembered per direction for pairing.
const MAX_SENT: usize = 4096;
/// Open queue requests and SENDTOQUEUEs remembered.
const MAX_OPEN: usize = 1024;
/// Notes per message.
const MAX_NOTES: usize = 24;
/// Session notes of one kind reported at close.
const MAX_CLOSE_NOTES: usize = 20;
/// Longest summary, in characters.
const SUMMARY_MAX: usize = 160;

const MID_STREAM: &str = "no MQServer message start found (capture started mid-stream; TEXT resumes after a NUL, EARLY at a header with a valid CRC, XML at <?xml; XDR cannot be resynchronised)";
const AFTER_GAP: &str = "no MQServer message start found after a gap (TEXT resumes after a NUL, EARLY at a header with a valid CRC, XML at <?xml)";
const BEFORE_FIRST: &str = "bytes before the first recognisable MQServer message";

#[derive(Debug, Clone)]
enum Mode {
    Normal,
    /// Looking for a start point; the reason is shown for skipped bytes.
    Resync(&'static str),
    /// Decoding stopped for good (XDR without framing).
    Dead(String),
}

/// A message a side sent, kept for pairing.
#[derive(Debug, Clone)]
struct Sent {
    at: MsgRef,
    mid: i64,
    t: i64,
    /// TEXT/EARLY: FLAGS asked for an ACK, or the type requires one.
    expects_ack: bool,
    /// An ACK or ERROR referred to it.
    settled: bool,
}

#[derive(Debug, Clone)]
struct DirSt {
    form: Option<Form>,
    mode: Mode,
    /// XML: how far the search for `</xds>` got.
    hint: usize,
    /// EARLY: stretches known to hold no NUL.
    zeros: early::ZeroScan,
    /// Last MID of the side's own messages (section 9.3).
    last_mid: Option<i64>,
    sent: VecDeque<Sent>,
    /// EARLY padding statistics (section 14).
    early_msgs: u32,
    pad_fixed: u32,
    pad_other: u32,
    /// The previous step of this direction was a message.
    after_msg: bool,
    /// The last byte consumed was a NUL, CR or LF (a TEXT message may
    /// start here when resynchronising).
    after_nul: bool,
}

impl DirSt {
    fn new(mid_stream: bool) -> DirSt {
        DirSt {
            form: None,
            mode: if mid_stream {
                Mode::Resync(MID_STREAM)
            } else {
                Mode::Normal
            },
            hint: 0,
            zeros: early::ZeroScan::default(),
            last_mid: None,
            sent: VecDeque::new(),
            early_msgs: 0,
            pad_fixed: 0,
            pad_other: 0,
            after_msg: false,
            after_nul: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    None,
    Pending(MsgRef),
    Ok,
    Failed,
}

/// A FINDQUEUE or JOINQUEUE waiting for its QUEUEINFO (section 9.3).
#[derive(Debug, Clone)]
struct QueueReq {
    at: MsgRef,
    /// Queue names, and whether each has been answered.
    names: Vec<(Vec<u8>, bool)>,
}

/// A SENDTOQUEUE, for linking the MSGFROMQUEUE echoes (section 9.3).
#[derive(Debug, Clone)]
struct Sendq {
    at: MsgRef,
    queue: Vec<u8>,
    topic: Vec<u8>,
    payload: Vec<u8>,
    linked: bool,
}

/// The MQServer dissector for one session.
pub struct MqServer {
    opts: Options,
    /// Pairing and order are uncertain (mid-stream start or a gap).
    relaxed: bool,
    dirs: [DirSt; 2],
    srvcap: Option<MsgRef>,
    auth: Auth,
    queue_reqs: VecDeque<QueueReq>,
    sendqs: VecDeque<Sendq>,
    /// The server acknowledged the CLNTCAP (D14).
    clntcap_acked: bool,
    text_noted: bool,
    mismatch_noted: bool,
    /// Stream offset of the front being parsed.
    offset: u64,
}

impl MqServer {
    pub fn new(start: SessionStart, opts: Options) -> MqServer {
        MqServer {
            opts,
            relaxed: start.mid_stream,
            dirs: [DirSt::new(start.mid_stream), DirSt::new(start.mid_stream)],
            srvcap: None,
            auth: Auth::None,
            queue_reqs: VecDeque::new(),
            sendqs: VecDeque::new(),
            clntcap_acked: false,
            text_noted: false,
            mismatch_noted: false,
            offset: 0,
        }
    }

    fn set_form(&mut self, dir: Dir, form: Form, ctx: &mut Ctx) {
        let d = dir.idx();
        if self.dirs[d].form == Some(form) {
            return;
        }
        self.dirs[d].form = Some(form);
        ctx.attr("encoding", form.as_str());
        if let Some(other) = self.dirs[dir.flip().idx()].form {
            if other != form && !self.mismatch_noted {
                self.mismatch_noted = true;
                ctx.note(Note::warn(format!(
                    "forms differ between directions: {} is {}, {} is {}",
                    dir.as_str(),
                    form.as_str(),
                    dir.flip().as_str(),
                    other.as_str()
                )));
            }
        }
        if form == Form::Text && !self.text_noted {
            self.text_noted = true;
            ctx.note(Note::info(
                "TEXT form in use (the design document's notation, never implemented by the project)",
            ));
        }
    }

    fn kill(&mut self, dir: Dir, reason: String) {
        self.dirs[dir.idx()].mode = Mode::Dead(reason);
    }

    /// Looks for a start point while resynchronising.
    fn resync(&mut self, dir: Dir, data: &[u8], reason: &'static str, ctx: &mut Ctx) -> Step {
        let d = dir.idx();
        let only = self.dirs[d].form.or(self.dirs[dir.flip().idx()].form);
        if only == Some(Form::Xdr) {
            let why =
                "XDR cannot be resynchronised (no length field): rest of the direction not decoded"
                    .to_owned();
            ctx.note(Note::warn(format!("{}: {why}", dir.as_str())));
            self.kill(dir, why.clone());
            return Step::skip(data.len(), why, Severity::Error);
        }
        let at0 = self.dirs[d].after_nul;
        match probe::find_anchor(data, 0, only, ctx.eos, at0) {
            Anchor::At(0, form) => {
                self.dirs[d].mode = Mode::Normal;
                self.set_form(dir, form, ctx);
                self.decode(dir, data, ctx)
            }
            Anchor::At(i, form) => {
                self.dirs[d].mode = Mode::Normal;
                self.set_form(dir, form, ctx);
                Step::skip(i, reason, Severity::Warn)
            }
            Anchor::Undecided(0) => Step::NeedMore,
            Anchor::Undecided(i) => Step::skip(i, reason, Severity::Warn),
            Anchor::None => Step::skip(data.len(), reason, Severity::Warn),
        }
    }

    /// Decides the form of a direction from its first bytes (section 8).
    fn first(&mut self, dir: Dir, data: &[u8], ctx: &mut Ctx) -> Step {
        let found = match probe::form_test(data) {
            None if ctx.eos => None,
            None => return Step::NeedMore,
            Some(f) => f,
        };
        match found {
            Some(form) => {
                self.set_form(dir, form, ctx);
                let ws = probe::leading_ws(data);
                if ws > 0 && matches!(form, Form::Text | Form::Xml) {
                    return Step::skip(ws, "whitespace before the first message", Severity::Info);
                }
                self.decode(dir, data, ctx)
            }
            None => {
                self.dirs[dir.idx()].mode = Mode::Resync(BEFORE_FIRST);
                self.resync(dir, data, BEFORE_FIRST, ctx)
            }
        }
    }

    /// Decodes the front of a direction whose form is known.
    fn decode(&mut self, dir: Dir, data: &[u8], ctx: &mut Ctx) -> Step {
        let d = dir.idx();
        let eos = ctx.eos;
        let Some(form) = self.dirs[d].form else {
            return self.first(dir, data, ctx);
        };
        match form {
            Form::Text => {
                let n = data
                    .iter()
                    .take_while(|&&c| matches!(c, 0 | b'\r' | b'\n'))
                    .count();
                if n > 0 {
                    return Step::skip(n, "NUL/CR/LF between TEXT messages", Severity::Info);
                }
                match text::parse_front(data, eos) {
                    text::TStep::NeedMore => Step::NeedMore,
                    text::TStep::Frame { frame, .. } => self.finish(dir, *frame),
                    text::TStep::Skip { len, reason } => Step::skip(len, reason, Severity::Error),
                    text::TStep::Malformed(why) => {
                        let reason = format!("malformed TEXT message: {why}");
                        match probe::find_anchor(data, 1, Some(Form::Text), eos, false) {
                            Anchor::At(i, _) => Step::skip(i, reason, Severity::Error),
                            Anchor::Undecided(i) => {
                                self.dirs[d].mode =
                                    Mode::Resync("resynchronising after a malformed TEXT message");
                                Step::skip(i, reason, Severity::Error)
                            }
                            Anchor::None => {
                                self.dirs[d].mode =
                                    Mode::Resync("resynchronising after a malformed TEXT message");
                                Step::skip(data.len(), reason, Severity::Error)
                            }
                        }
                    }
                }
            }
            Form::Early => match early::parse_front(data, eos, &mut self.dirs[d].zeros) {
                early::EStep::NeedMore => Step::NeedMore,
                early::EStep::Frame(frame) => {
                    let st = &mut self.dirs[d];
                    st.early_msgs += 1;
                    self.finish(dir, *frame)
                }
                early::EStep::Skip {
                    len,
                    reason,
                    severity,
                } => {
                    let st = &mut self.dirs[d];
                    if severity == Severity::Info && st.after_msg && len < data.len() {
                        if len == early::FIXED_PADDING {
                            st.pad_fixed += 1;
                        } else {
                            st.pad_other += 1;
                        }
                    }
                    Step::skip(len, reason, severity)
                }
            },
            Form::Xdr => match xdr::parse_front(data, eos) {
                xdr::DStep::NeedMore => Step::NeedMore,
                xdr::DStep::Frame(frame) => self.finish(dir, *frame),
                xdr::DStep::HeaderOnly(frame) => {
                    let name = type_name(frame.msgtype.value).unwrap_or("type");
                    let why = format!(
                        "XDR stream undecodable after {name} (body length unknown): rest of the direction not decoded"
                    );
                    ctx.note(Note::error(format!("{}: {why}", dir.as_str())));
                    let step = self.finish(dir, *frame);
                    self.kill(dir, why);
                    step
                }
                xdr::DStep::Stop { len, reason } => {
                    ctx.note(Note::error(format!("{}: {reason}", dir.as_str())));
                    self.kill(dir, reason.clone());
                    Step::skip(len, reason, Severity::Error)
                }
            },
            Form::Xml => {
                let ws = probe::leading_ws(data);
                if ws > 0 {
                    return Step::skip(ws, "whitespace between XML documents", Severity::Info);
                }
                let mut hint = self.dirs[d].hint;
                let step = xml::parse_front(data, eos, &mut hint);
                self.dirs[d].hint = hint;
                match step {
                    xml::XStep::NeedMore => Step::NeedMore,
                    xml::XStep::Frame(frame) => self.finish(dir, *frame),
                    xml::XStep::Bad { len, reason } => Step::skip(len, reason, Severity::Warn),
                    xml::XStep::NotXml => {
                        let reason = "not an XML document start (skipped to the next <?xml)";
                        match probe::find_anchor(data, 1, Some(Form::Xml), eos, false) {
                            Anchor::At(i, _) | Anchor::Undecided(i) => {
                                Step::skip(i, reason, Severity::Warn)
                            }
                            Anchor::None => Step::skip(data.len(), reason, Severity::Warn),
                        }
                    }
                }
            }
        }
    }

    // -- pairing (section 9.3) --------------------------------------------

    /// The peer's newest message with `mid` that can be answered (not an
    /// ACK or ERROR), preferring one not yet settled.
    fn find_mid(&self, peer: Dir, mid: i64) -> Option<usize> {
        let sent = &self.dirs[peer.idx()].sent;
        let ok = |s: &Sent| s.mid == mid && s.t != ACK && s.t != ERROR;
        sent.iter()
            .rposition(|s| ok(s) && !s.settled)
            .or_else(|| sent.iter().rposition(ok))
    }

    /// The peer's most recent message that can be answered.
    fn last_of(&self, peer: Dir) -> Option<usize> {
        self.dirs[peer.idx()]
            .sent
            .iter()
            .rposition(|s| s.t != ACK && s.t != ERROR)
    }

    fn settle(&mut self, peer: Dir, i: usize) -> Option<(MsgRef, i64)> {
        let s = self.dirs[peer.idx()].sent.get_mut(i)?;
        s.settled = true;
        Some((s.at, s.t))
    }
}

impl Dissector for MqServer {
    fn parse(&mut self, dir: Dir, offset: u64, data: &[u8], ctx: &mut Ctx) -> Step {
        self.offset = offset;
        let d = dir.idx();
        let step = match self.dirs[d].mode.clone() {
            Mode::Dead(reason) => Step::skip(data.len(), reason, Severity::Error),
            Mode::Resync(reason) => self.resync(dir, data, reason, ctx),
            Mode::Normal => self.decode(dir, data, ctx),
        };
        let st = &mut self.dirs[d];
        let used = match &step {
            Step::NeedMore => return step,
            Step::Message(m) => {
                st.after_msg = true;
                m.len
            }
            Step::Skip { len, .. } => {
                st.after_msg = false;
                *len
            }
        };
        st.hint = 0;
        st.zeros.reset();
        st.after_nul = used
            .checked_sub(1)
            .and_then(|i| data.get(i))
            .is_some_and(|&c| matches!(c, 0 | b'\r' | b'\n'));
        step
    }

    fn gap(&mut self, dir: Dir, _offset: u64, _len: u64, ctx: &mut Ctx) {
        self.relaxed = true;
        let d = dir.idx();
        let st = &mut self.dirs[d];
        st.hint = 0;
        st.zeros.reset();
        st.after_msg = false;
        st.after_nul = false;
        if matches!(st.mode, Mode::Dead(_)) {
            return;
        }
        let form = st.form.or(self.dirs[dir.flip().idx()].form);
        if form == Some(Form::Xdr) {
            let why = "XDR cannot be resynchronised after a gap (no length field): rest of the direction not decoded".to_owned();
            ctx.note(Note::warn(format!("{}: {why}", dir.as_str())));
            self.kill(dir, why);
        } else {
            self.dirs[d].mode = Mode::Resync(AFTER_GAP);
        }
    }

    fn close(&mut self, ctx: &mut Ctx) {
        let mut missing = 0usize;
        for st in &self.dirs {
            for s in st.sent.iter().filter(|s| s.expects_ack && !s.settled) {
                missing += 1;
                if missing <= MAX_CLOSE_NOTES {
                    ctx.note(Note::info(format!(
                        "ACK missing at close: {} MID {} ({} offset {})",
                        type_name(s.t).unwrap_or("?"),
                        s.mid,
                        s.at.dir.as_str(),
                        s.at.offset
                    )));
                }
            }
        }
        if missing > MAX_CLOSE_NOTES {
            ctx.note(Note::info(format!(
                "{} more messages without their ACK at close",
                missing - MAX_CLOSE_NOTES
            )));
        }
        if let Auth::Pending(r) = self.auth {
            ctx.note(Note::info(format!(
                "AUTH ({} offset {}) unanswered at close",
                r.dir.as_str(),
                r.offset
            )));
        }
        for (dir, st) in [Dir::C2S, Dir::S2C].iter().zip(&self.dirs) {
            if st.early_msgs > 0 {
                let unpadded = st.early_msgs.saturating_sub(st.pad_fixed + st.pad_other);
                ctx.note(Note::info(format!(
                    "EARLY {}: {} messages; fixed 63-byte padding after {}, other zero padding after {}, none after {unpadded}",
                    dir.as_str(),
                    st.early_msgs,
                    st.pad_fixed,
                    st.pad_other
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests;
