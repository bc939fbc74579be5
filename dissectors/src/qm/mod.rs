//! OpenQM / ScarletDME QMClient dissector (TCP 4243), as specified in
//! `docs/qm.md` (the DECISIONs it cites are written out there).
//!
//! * `frame`: the two headers, plausibility and chaining tests, and the
//!   resynchronisation at segment starts (section 2.6).
//! * `request`: the arguments of the 46 function codes (section 4).
//! * `response`: response data interpreted through the pending request.
//! * `mv`: MultiValue text and structured views (section 5).
//! * [`probe`]: content detection (section 9).
//! * this module: per-connection state (section 7): pending requests in
//!   capture-time order, the prompt dialogue, SV_ERROR + GetError, the
//!   file table, login state, and the expert notes of section 12.
//!
//! Capture-time order: the dissector sees each direction's bytes as they
//! arrive, so it numbers arrivals (a logical clock) and records, per
//! direction, at which arrival each stream offset was reached. A response
//! answers the oldest pending request that was complete before the
//! response's last byte arrived, even when one side's frames are decoded
//! late (after resynchronisation). While the client side is still looking
//! for a frame start, server frames wait so they are not taken for
//! unanswered ones.

mod codes;
mod frame;
mod mv;
mod probe;
mod request;
mod response;
pub mod spec;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::{BTreeSet, VecDeque};

use crate::toolkit::{le_i16, le_i32};
use crate::{
    Ctx, Dir, Dissector, Field, Kind, Message, MsgRef, Note, Options, SessionStart, Severity, Step,
    Value,
};
use codes::{function_name, is_known};
use frame::{RStep, Resync, Side, FRAME_MAX, GREETING};
use mv::quoted;
use request::{Files, ReqInfo};
use response::Answers;

pub use codes::{FUNCTIONS, OUTCOMES};
pub use probe::probe;

const GREETING_REASON: &str = "QM greeting (0x06)";
const MID_STREAM: &str = "partial message (capture started mid-stream)";
const AFTER_GAP: &str = "partial message (after a gap in the capture)";
const AFTER_LIMIT: &str = "partial message (after a message over the size limit)";
const CUT_REST: &str = "rest of a frame cut short by a gap or the size limit";
const STOPPED: &str = "not decoded: framing lost after a malformed frame length";
/// Server bytes held while the client side resynchronises.
const HOLD_MAX: usize = 16 << 20;
/// Bytes searched for the greeting before giving up on a chunk.
const GREETING_SEARCH: usize = 4096;
/// Most arrivals remembered per direction.
const MAX_ARRIVALS: usize = 1 << 16;
/// Most pending requests, open files and known records remembered.
const MAX_PENDING: usize = 4096;
const MAX_FILES: usize = 4096;
const MAX_KNOWN: usize = 1024;
/// Most "unanswered at close" notes.
const MAX_UNANSWERED_NOTES: usize = 20;
/// Longest text in a summary part.
const SUM: usize = 60;

/// An Execute waiting for (or answering) keyboard input (section 6).
#[derive(Debug, Clone)]
struct Dialogue {
    /// The request that started the dialogue (normally an Execute).
    exec: MsgRef,
    exec_code: i16,
    command: Vec<u8>,
    /// SV_PROMPT answers so far.
    prompts: u32,
    /// The latest SV_PROMPT response.
    last_prompt: Option<MsgRef>,
}

/// A request waiting for its response.
#[derive(Debug, Clone)]
struct Pending {
    at: MsgRef,
    code: i16,
    /// Arrival at which its last byte was seen.
    clock: u64,
    info: ReqInfo,
    /// Respond/EndCommand within a dialogue, or a request rejected because a
    /// prompt was outstanding.
    dialogue: Option<Dialogue>,
    rejected: bool,
    /// A request cut by a gap: no message to refer to.
    lost: bool,
}

/// The latest SV_ERROR (section 7, rule 4).
#[derive(Debug, Clone)]
struct ErrRef {
    request: Option<MsgRef>,
    name: String,
    /// Not yet explained by a GetError.
    fresh: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Login {
    /// Connection start not captured.
    Unknown,
    NotYet,
    Sent,
    Ok,
    Failed,
}

#[derive(Debug, Default)]
struct DirSt {
    /// Server side at the connection start: the 0x06 is still to come.
    await_greeting: bool,
    resync: Option<Resync>,
    stopped: bool,
    /// Skip up to this offset (the rest of a frame cut short).
    discard_until: Option<u64>,
    /// The incomplete frame at the front: start, end and code/outcome.
    in_frame: Option<(u64, u64, Option<i16>)>,
    /// (stream offset reached, clock) per arrival, oldest first.
    arrivals: VecDeque<(u64, u64)>,
    seen_end: Option<u64>,
}

/// The QMClient dissector for one session.
pub struct Qm {
    opts: Options,
    /// The connection start was not captured, or a gap happened: pairing
    /// is uncertain and some flags are softened.
    relaxed: bool,
    dirs: [DirSt; 2],
    clock: u64,
    pending: VecDeque<Pending>,
    requests: u64,
    matched: u64,
    prompt: Option<Dialogue>,
    last_error: Option<ErrRef>,
    files: Files,
    /// (fno, id) of records read successfully in this session.
    known: BTreeSet<(i16, Vec<u8>)>,
    login: Login,
    quit_answered: bool,
}

impl Qm {
    pub fn new(start: SessionStart, opts: Options) -> Qm {
        let mut dirs = [DirSt::default(), DirSt::default()];
        if start.mid_stream {
            dirs[0].resync = Some(Resync::new(MID_STREAM, false));
            dirs[1].resync = Some(Resync::new(MID_STREAM, true));
        } else {
            dirs[1].await_greeting = true;
        }
        Qm {
            opts,
            relaxed: start.mid_stream,
            dirs,
            clock: 0,
            pending: VecDeque::new(),
            requests: 0,
            matched: 0,
            prompt: None,
            last_error: None,
            files: Files::new(),
            known: BTreeSet::new(),
            login: if start.mid_stream {
                Login::Unknown
            } else {
                Login::NotYet
            },
            quit_answered: false,
        }
    }

    // -- capture-time order ------------------------------------------------

    /// Records the arrival of bytes up to `offset + len` of `dir`.
    fn arrive(&mut self, dir: Dir, offset: u64, len: usize) {
        let end = offset + len as u64;
        let st = &mut self.dirs[dir.idx()];
        while st.arrivals.front().is_some_and(|&(e, _)| e <= offset) {
            st.arrivals.pop_front();
        }
        if st.seen_end.is_none_or(|s| end > s) {
            self.clock += 1;
            st.arrivals.push_back((end, self.clock));
            if st.arrivals.len() > MAX_ARRIVALS {
                st.arrivals.pop_front();
            }
            st.seen_end = Some(end);
        }
    }

    /// The arrival at which stream offset `end` of `dir` was reached.
    fn done_clock(&mut self, dir: Dir, end: u64) -> u64 {
        let a = &mut self.dirs[dir.idx()].arrivals;
        while a.front().is_some_and(|&(e, _)| e < end) {
            a.pop_front();
        }
        a.front().map_or(self.clock, |&(_, c)| c)
    }

    // -- framing -----------------------------------------------------------

    /// The server's first bytes at the connection start (DECISION 2).
    fn greeting(&mut self, data: &[u8], ctx: &mut Ctx) -> Step {
        let st = &mut self.dirs[Dir::S2C.idx()];
        match data.iter().position(|&b| b == GREETING) {
            Some(0) => {
                st.await_greeting = false;
                Step::skip(1, GREETING_REASON, Severity::Info)
            }
            Some(p) => {
                ctx.note(Note::warn(format!(
                    "{p} bytes before the QM greeting: {}",
                    quoted(data.get(..p).unwrap_or(&[]), SUM)
                )));
                Step::skip(p, "pre-greeting bytes", Severity::Warn)
            }
            None if ctx.eos => {
                st.await_greeting = false;
                let printable = data
                    .iter()
                    .all(|&c| (0x20..0x7F).contains(&c) || matches!(c, b'\r' | b'\n' | b'\t'));
                if printable {
                    ctx.note(Note::warn(format!(
                        "server start-up error instead of the QM greeting: {}",
                        quoted(data, 120)
                    )));
                    Step::skip(
                        data.len(),
                        "server start-up error (no QM greeting)",
                        Severity::Warn,
                    )
                } else {
                    ctx.note(Note::warn("no QM greeting (0x06) from the server"));
                    Step::skip(
                        data.len(),
                        "pre-greeting bytes (no QM greeting)",
                        Severity::Warn,
                    )
                }
            }
            None if data.len() > GREETING_SEARCH => {
                Step::skip(data.len(), "pre-greeting bytes", Severity::Warn)
            }
            None => Step::NeedMore,
        }
    }

    /// Stops decoding `dir` (DECISIONs 5 and 6).
    fn stop(&mut self, dir: Dir, len: usize, reason: String, ctx: &mut Ctx) -> Step {
        self.dirs[dir.idx()].stopped = true;
        ctx.note(Note::error(format!("{} {reason}", dir.as_str())));
        Step::skip(len, reason, Severity::Error)
    }

    fn frame(&mut self, dir: Dir, offset: u64, data: &[u8], ctx: &mut Ctx) -> Step {
        let side = Side::of(dir);
        let hdr = side.hdr();
        let eos = ctx.eos;
        let Some(l) = le_i32(data, 0).map(i64::from) else {
            return self.truncated(dir, data.len(), None, eos);
        };
        if l < hdr as i64 {
            let what = match side {
                Side::Req if l <= 4 => format!(
                    "malformed frame: length {l} (4 or less: the server takes it as an empty command and ends the session)"
                ),
                Side::Req => format!("malformed frame: length {l} is smaller than the 6-byte request header"),
                Side::Resp => format!("malformed frame: length {l} is smaller than the 10-byte response header"),
            };
            return self.stop(dir, data.len(), what, ctx);
        }
        if l > FRAME_MAX {
            let what = format!(
                "oversized frame: length {l} is over the {} MiB limit",
                FRAME_MAX >> 20
            );
            return self.stop(dir, data.len(), what, ctx);
        }
        let l = usize::try_from(l).unwrap_or(usize::MAX);
        let code = frame::head(data).map(|(_, c)| c);
        if data.len() < l {
            if eos {
                return self.truncated(dir, data.len(), Some(l), eos);
            }
            self.dirs[dir.idx()].in_frame = Some((offset, offset + l as u64, code));
            ctx.need_total(l);
            return Step::NeedMore;
        }
        self.dirs[dir.idx()].in_frame = None;
        let f = data.get(..l).unwrap_or(data);
        Step::Message(match dir {
            Dir::C2S => self.request(offset, f),
            Dir::S2C => self.response(offset, f, ctx),
        })
    }

    fn truncated(&mut self, dir: Dir, have: usize, want: Option<usize>, eos: bool) -> Step {
        if !eos {
            return Step::NeedMore;
        }
        self.dirs[dir.idx()].in_frame = None;
        let reason = match want {
            Some(l) => format!(
                "truncated frame at end of stream: the header says {l} bytes, {have} captured"
            ),
            None => format!("truncated frame header at end of stream ({have} bytes)"),
        };
        Step::skip(have, reason, Severity::Error)
    }

    // -- requests ----------------------------------------------------------

    fn request(&mut self, offset: u64, f: &[u8]) -> Message {
        let at = MsgRef {
            dir: Dir::C2S,
            offset,
        };
        let (len, code) = frame::head(f).unwrap_or((0, 0));
        let q = request::decode(code, f, &self.files, self.opts);
        let name = function_name(code);
        let mut m = Message::new(Dir::C2S, f.len(), Kind::Request, name.clone());
        m.fields
            .push(Field::new("length", Some(0..4), Value::Int(len.into())));
        m.fields
            .push(Field::new("code", Some(4..6), Value::Int(code.into())));
        m.fields.extend(q.fields);
        m.secrets = q.secrets;
        m.is_error = q.malformed;
        let mut notes = Vec::new();
        let mut summary = q.summary;
        if !is_known(code) {
            notes.push(Note::warn(format!(
                "illegal function code {code}: OpenQM 2.x / ScarletDME answer SV_ERROR \"Illegal action code ({code})\""
            )));
        }
        notes.extend(q.notes);

        // Login state (sections 8 and 12).
        match code {
            codes::LOGIN => self.login = Login::Sent,
            codes::LOCAL_LOGIN => {
                self.login = Login::Sent;
                notes.push(Note::warn(
                    "LocalLogin over TCP: asks for a session as the server process's OS user (often root) without any credential",
                ));
            }
            _ if matches!(self.login, Login::NotYet | Login::Failed) => {
                notes.push(Note::warn(
                    "request before login: the server answers SV_ON_ERROR \"Not logged in\" and closes the connection",
                ));
            }
            _ => {}
        }

        // The prompt dialogue (section 6, section 7 rules 2 and 3).
        let mut dialogue = None;
        let mut rejected = false;
        match (code, self.prompt.take()) {
            (codes::RESPOND | codes::END_COMMAND, Some(dl)) => {
                m.links.push(("execute", dl.exec));
                if let Some(p) = dl.last_prompt {
                    m.links.push(("prompt", p));
                }
                m.fields.push(Field::new(
                    "execute_command",
                    None,
                    Value::Str(mv::display_max(&dl.command, mv::MAX_LEAF).0),
                ));
                m.fields.push(Field::new(
                    "prompt_round",
                    None,
                    Value::Int(dl.prompts.into()),
                ));
                if code == codes::END_COMMAND {
                    summary.push(format!(
                        "abandons {} at prompt {}",
                        quoted(&dl.command, SUM),
                        dl.prompts
                    ));
                } else {
                    summary.push(format!(
                        "(prompt {} of {})",
                        dl.prompts,
                        quoted(&dl.command, SUM)
                    ));
                }
                dialogue = Some(dl);
            }
            (codes::RESPOND | codes::END_COMMAND, None) => {
                let text = format!(
                    "{name} sent when no prompt is outstanding (the server answers SV_ERROR)"
                );
                notes.push(if self.relaxed && self.matched == 0 {
                    Note::info(text)
                } else {
                    Note::warn(text)
                });
            }
            (_, Some(dl)) => {
                notes.push(Note::warn(format!(
                    "sent while a prompt of {} is outstanding: rejected by the server, not executed; its answer is the final response of that command",
                    quoted(&dl.command, SUM)
                )));
                m.links.push(("execute", dl.exec));
                dialogue = Some(dl);
                rejected = true;
            }
            (_, None) => {}
        }

        // GetError names the failing request (section 7, rule 4).
        if code == codes::GET_ERROR {
            if let Some(e) = self.last_error.as_ref().filter(|e| e.fresh) {
                if let Some(r) = e.request {
                    m.links.push(("error_of", r));
                }
                m.fields
                    .push(Field::new("error_of", None, Value::Str(e.name.clone())));
                summary.push(format!("(for {})", e.name));
            }
        }
        if let Some(fno) = q.info.fno {
            let release_all = code == 15 && fno == 0;
            if !self.relaxed && !release_all && !self.files.contains_key(&fno) {
                notes.push(Note::info(format!(
                    "fno {fno} was not opened in this session (expect SV_ERROR \"Invalid file number\")"
                )));
            }
        }
        if matches!(code, codes::WRITE | codes::WRITEU) {
            if let (Some(fno), Some(id)) = (q.info.fno, &q.info.id) {
                if self.known.contains(&(fno, id.clone())) {
                    notes.push(Note::info(
                        "destructive: overwrites an existing record (read earlier in this session)",
                    ));
                }
            }
        }
        if !self.relaxed && !self.pending.is_empty() && !rejected {
            notes.push(Note::info(format!(
                "pipelined request: {} earlier request{} not answered yet",
                self.pending.len(),
                request::plural(self.pending.len())
            )));
        }

        let clock = self.done_clock(Dir::C2S, offset + f.len() as u64);
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(Pending {
            at,
            code,
            clock,
            info: q.info,
            dialogue,
            rejected,
            lost: false,
        });
        self.requests += 1;
        self.summarise(&mut m, &summary);
        m.notes = notes;
        m
    }

    // -- responses ---------------------------------------------------------

    /// The request a response completed at `clock` answers (section 7, rule 1).
    fn take_pending(&mut self, clock: u64, notes: &mut Vec<Note>) -> Option<Pending> {
        let n = self.pending.iter().take_while(|p| p.clock < clock).count();
        if n == 0 {
            return None;
        }
        if n > 1 && self.relaxed {
            // Lock-step: the latest request sent before this response is the
            // one answered; the answers to the earlier ones were not captured.
            for _ in 1..n {
                self.pending.pop_front();
            }
            notes.push(Note::info(format!(
                "{} earlier request{} got no answer in the capture",
                n - 1,
                request::plural(n - 1)
            )));
        }
        self.pending.pop_front()
    }

    fn response(&mut self, offset: u64, f: &[u8], ctx: &mut Ctx) -> Message {
        let at = MsgRef {
            dir: Dir::S2C,
            offset,
        };
        let (len, outcome) = frame::head(f).unwrap_or((0, 0));
        let status = frame::status(f).unwrap_or(0);
        let clock = self.done_clock(Dir::S2C, offset + f.len() as u64);
        let mut notes = Vec::new();
        let p = self.take_pending(clock, &mut notes);
        let name = p
            .as_ref()
            .map_or(Cow::Borrowed("response"), |p| function_name(p.code));
        let mut m = Message::new(Dir::S2C, f.len(), Kind::Response, name.clone());
        m.fields
            .push(Field::new("length", Some(0..4), Value::Int(len.into())));
        m.fields.push(Field::new(
            "outcome",
            Some(4..6),
            Value::Int(outcome.into()),
        ));
        if let Some(n) = codes::outcome_name(outcome) {
            m.fields
                .push(Field::new("outcome_name", None, Value::Str(n.into())));
        }
        m.fields
            .push(Field::new("status", Some(6..10), Value::Int(status.into())));

        let Some(p) = p else {
            let r = response::decode(f, outcome, status, None, self.opts.lean);
            m.fields.extend(r.fields);
            m.is_error = r.is_error;
            let text = "unmatched response: no request is pending";
            notes.push(if self.relaxed && self.matched == 0 {
                Note::info(
                    "unmatched response (mid-stream): answers a request sent before the capture began",
                )
            } else if self.relaxed {
                Note::info(format!("{text} (after a gap)"))
            } else if self.quit_answered {
                Note::info("response after Quit")
            } else {
                Note::warn(text)
            });
            notes.extend(r.notes);
            self.summarise(&mut m, &r.summary);
            m.notes = notes;
            return m;
        };
        self.matched += 1;
        if !p.lost {
            m.reply_to = Some(p.at);
        } else {
            notes.push(Note::info("answers a request cut by a gap in the capture"));
        }
        // The final response of a prompt dialogue carries the Execute's output.
        let layout = match (&p.dialogue, outcome) {
            (Some(d), o) if o != codes::SV_PROMPT && (p.rejected || p.code != d.exec_code) => {
                d.exec_code
            }
            _ => p.code,
        };
        let r = response::decode(
            f,
            outcome,
            status,
            Some(&Answers {
                code: layout,
                info: &p.info,
            }),
            self.opts.lean,
        );
        m.fields.extend(r.fields);
        m.is_error = r.is_error;
        let mut summary = r.summary;
        notes.extend(r.notes);

        if outcome == codes::SV_PROMPT {
            let dl = match p.dialogue.clone() {
                Some(mut d) if !p.rejected => {
                    d.prompts += 1;
                    d.last_prompt = Some(at);
                    d
                }
                _ => Dialogue {
                    exec: p.at,
                    exec_code: p.code,
                    command: p
                        .info
                        .text
                        .clone()
                        .unwrap_or_else(|| name.as_bytes().to_vec()),
                    prompts: 1,
                    last_prompt: Some(at),
                },
            };
            if !matches!(p.code, codes::EXECUTE | codes::RESPOND | codes::END_COMMAND) {
                notes.push(Note::info(format!(
                    "prompt outside Execute: {name} waits for keyboard input"
                )));
            }
            m.links.push(("prompt_of", dl.exec));
            m.fields.push(Field::new(
                "command",
                None,
                Value::Str(mv::display_max(&dl.command, mv::MAX_LEAF).0),
            ));
            m.fields.push(Field::new(
                "prompt_round",
                None,
                Value::Int(dl.prompts.into()),
            ));
            notes.push(Note::info(format!(
                "prompt {} of {}: the client must answer with Respond or EndCommand",
                dl.prompts,
                quoted(&dl.command, SUM)
            )));
            summary.push(format!(
                "(prompt {} of {})",
                dl.prompts,
                quoted(&dl.command, SUM)
            ));
            self.prompt = Some(dl);
        } else if let Some(d) = &p.dialogue {
            m.links.push(("execute", d.exec));
            m.fields.push(Field::new(
                "execute_command",
                None,
                Value::Str(mv::display_max(&d.command, mv::MAX_LEAF).0),
            ));
            if p.rejected {
                notes.push(Note::warn(format!(
                    "{} aborted: {name} was sent while its prompt was outstanding",
                    quoted(&d.command, SUM)
                )));
            } else {
                notes.push(Note::info(format!(
                    "final response of {} after {} prompt{}",
                    quoted(&d.command, SUM),
                    d.prompts,
                    request::plural(d.prompts as usize)
                )));
            }
        }
        self.session_effects(&p, outcome, f, &mut m, &mut summary, &mut notes, ctx);
        self.summarise(&mut m, &summary);
        m.notes = notes;
        m
    }

    /// The message's summary: its parts joined, made one safe line; none
    /// when lean (see [`crate::Options::lean`]).
    fn summarise(&self, m: &mut Message, parts: &[String]) {
        if !self.opts.lean {
            m.summary = mv::clean(&parts.join(" "), 200);
        }
    }

    /// What an answer changes in the session (files, login, errors).
    #[allow(clippy::too_many_arguments)]
    fn session_effects(
        &mut self,
        p: &Pending,
        outcome: i16,
        f: &[u8],
        m: &mut Message,
        summary: &mut Vec<String>,
        notes: &mut Vec<Note>,
        ctx: &mut Ctx,
    ) {
        let name = function_name(p.code);
        if outcome == codes::SV_ERROR {
            self.last_error = Some(ErrRef {
                request: (!p.lost).then_some(p.at),
                name: name.clone().into_owned(),
                fresh: true,
            });
        }
        if p.rejected || outcome == codes::SV_PROMPT {
            return;
        }
        let data = f.get(10..).unwrap_or(&[]);
        match (p.code, outcome) {
            (codes::QUIT, _) => self.quit_answered = true,
            (codes::GET_ERROR, codes::SV_OK) => match self.last_error.as_mut() {
                Some(e) if e.fresh => {
                    e.fresh = false;
                    if let Some(r) = e.request {
                        m.links.push(("error_of", r));
                    }
                    m.fields
                        .push(Field::new("error_of", None, Value::Str(e.name.clone())));
                    summary.push(format!("(error of {})", e.name));
                }
                _ => notes.push(Note::info(
                    "no SV_ERROR since the last GetError: the server repeats its most recent error text",
                )),
            },
            (codes::OPEN | codes::OPEN_QMNET, codes::SV_OK) => {
                if let (Some(fno), Some(name)) = (le_i16(data, 0), &p.info.text) {
                    if self.files.len() < MAX_FILES || self.files.contains_key(&fno) {
                        self.files.insert(fno, name.clone());
                    }
                }
            }
            (codes::CLOSE, codes::SV_OK) => {
                if let Some(fno) = p.info.fno {
                    self.files.remove(&fno);
                }
            }
            (codes::LOGIN | codes::LOCAL_LOGIN, codes::SV_OK) => {
                self.login = Login::Ok;
                match &p.info.user {
                    Some(u) if p.code == codes::LOGIN => {
                        ctx.attr("user", mv::one_line(u, SUM));
                    }
                    _ => {
                        ctx.attr("user", "(LocalLogin: the server's OS user)");
                        ctx.note(Note::warn(
                            "LocalLogin accepted over TCP: the session runs as the server's OS user without any credential",
                        ));
                    }
                }
            }
            (codes::LOGIN | codes::LOCAL_LOGIN, codes::SV_ON_ERROR) => {
                self.login = Login::Failed;
                notes.push(Note::warn(
                    "login failed (the server closes the connection; repeated failures suggest password guessing)",
                ));
                ctx.attr("login", "failed");
                if let Some(u) = &p.info.user {
                    ctx.note(Note::warn(format!("login failed for user {}", quoted(u, SUM))));
                }
            }
            (27 | 28, codes::SV_ON_ERROR) if data.windows(14).any(|w| w == b"Illegal opcode") => {
                notes.push(Note::info(
                    "known ScarletDME server bug: EnterPackage/ExitPackage abort with \"Illegal opcode\"",
                ));
            }
            (_, codes::SV_ON_ERROR) if data == b"Not logged in" => {
                notes.push(Note::warn(
                    "rejected: not logged in (the server closes the connection)",
                ));
            }
            (codes::ACCOUNT, codes::SV_OK) => {
                if let Some(a) = &p.info.text {
                    ctx.attr("account", mv::one_line(&a.to_ascii_uppercase(), SUM));
                }
            }
            (6..=10, codes::SV_OK) => {
                if let (Some(fno), Some(id)) = (p.info.fno, &p.info.id) {
                    if self.known.len() < MAX_KNOWN {
                        self.known.insert((fno, id.clone()));
                    }
                }
            }
            (18 | 19, codes::SV_OK) => {
                if let (Some(fno), Some(id)) = (p.info.fno, &p.info.id) {
                    self.known.remove(&(fno, id.clone()));
                }
            }
            _ => {}
        }
    }
}

impl Dissector for Qm {
    fn parse(&mut self, dir: Dir, offset: u64, data: &[u8], ctx: &mut Ctx) -> Step {
        if data.is_empty() {
            return Step::NeedMore;
        }
        self.arrive(dir, offset, data.len());
        let d = dir.idx();
        if self.dirs[d].stopped {
            return Step::skip(data.len(), STOPPED, Severity::Error);
        }
        if let Some(end) = self.dirs[d].discard_until {
            if end > offset {
                let n = usize::try_from(end - offset).map_or(data.len(), |n| n.min(data.len()));
                return Step::skip(n, CUT_REST, Severity::Warn);
            }
            self.dirs[d].discard_until = None;
        }
        if dir == Dir::S2C && self.dirs[d].await_greeting {
            return self.greeting(data, ctx);
        }
        if let Some(r) = self.dirs[d].resync.as_mut() {
            match r.step(Side::of(dir), offset, data, ctx.eos) {
                RStep::Step(s) => return s,
                RStep::Greeting => return Step::skip(1, GREETING_REASON, Severity::Info),
                RStep::Decode => self.dirs[d].resync = None,
            }
        }
        if dir == Dir::S2C
            && !ctx.eos
            && data.len() < HOLD_MAX
            && self.dirs[0].resync.as_ref().is_some_and(Resync::undecided)
        {
            return Step::NeedMore;
        }
        self.frame(dir, offset, data, ctx)
    }

    fn gap(&mut self, dir: Dir, offset: u64, len: u64, ctx: &mut Ctx) {
        self.relaxed = true;
        let clock = self.clock;
        let st = &mut self.dirs[dir.idx()];
        st.arrivals.clear();
        st.seen_end = None;
        st.await_greeting = false;
        let was_stopped = std::mem::take(&mut st.stopped);
        let cut = st.in_frame.take();
        let resumes = offset.saturating_add(len);
        match cut {
            // The gap falls inside a frame whose length is known: framing
            // resumes at its end.
            Some((start, end, code)) if resumes <= end && !was_stopped => {
                st.resync = None;
                st.discard_until = (resumes < end).then_some(end);
                match dir {
                    Dir::C2S => {
                        if let Some(code) = code {
                            self.pending.push_back(Pending {
                                at: MsgRef {
                                    dir: Dir::C2S,
                                    offset: start,
                                },
                                code,
                                clock,
                                info: ReqInfo::default(),
                                dialogue: None,
                                rejected: false,
                                lost: true,
                            });
                        }
                    }
                    Dir::S2C => {
                        if let Some(p) = self.pending.pop_front() {
                            ctx.note(Note::info(format!(
                                "the answer to {} (c2s offset {}) was cut short in the capture",
                                function_name(p.code),
                                p.at.offset
                            )));
                        }
                    }
                }
            }
            _ => {
                st.discard_until = None;
                let reason = if len == 0 { AFTER_LIMIT } else { AFTER_GAP };
                st.resync = Some(Resync::new(reason, false));
            }
        }
    }

    fn close(&mut self, ctx: &mut Ctx) {
        let open: Vec<&Pending> = self
            .pending
            .iter()
            .filter(|p| p.code != codes::QUIT && !p.lost)
            .collect();
        for p in open.iter().take(MAX_UNANSWERED_NOTES) {
            ctx.note(Note::info(format!(
                "{} (c2s offset {}) unanswered at close{}",
                function_name(p.code),
                p.at.offset,
                if p.info.waits {
                    " (it was waiting for a lock)"
                } else {
                    ""
                }
            )));
        }
        if open.len() > MAX_UNANSWERED_NOTES {
            ctx.note(Note::info(format!(
                "{} more requests unanswered at close",
                open.len() - MAX_UNANSWERED_NOTES
            )));
        }
        if let Some(d) = self.prompt.take() {
            ctx.note(Note::info(format!(
                "a prompt of {} was still outstanding at close",
                quoted(&d.command, SUM)
            )));
        }
        self.pending.clear();
    }
}
