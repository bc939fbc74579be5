//! The one interface every protocol implements.
//!
//! A dissector is fed the reassembled bytes of each direction of one session
//! by the [`Driver`](crate::driver::Driver), which owns buffering, limits and
//! resynchronisation. The dissector only answers, for the bytes at the front
//! of a direction's buffer: "here is a message of N bytes", "I need more
//! bytes", or "skip K bytes (with a reason)". It keeps whatever per-session
//! state its protocol needs (pending requests, negotiation, file handles).

use std::borrow::Cow;

use crate::model::{Dir, Message, Note, Severity};

/// The answer of [`Dissector::parse`] about the front of the buffer.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// The first `msg.len` bytes (`msg.len > 0`) form one message.
    Message(Message),
    /// The first `len` bytes (`len > 0`) are not a message: separators,
    /// delimiters, greeting bytes, malformed input, resynchronisation. The
    /// driver reports them as an `undecoded` range with this reason; the
    /// severity says how remarkable they are (whitespace is `Info`).
    Skip {
        len: usize,
        reason: Cow<'static, str>,
        severity: Severity,
    },
    /// Nothing can be decided until more bytes arrive. The driver calls again
    /// with the same bytes plus whatever arrives next (the front does not move,
    /// so a dissector may remember how far it has scanned). A dissector that
    /// knows how long the message at the front is says so with
    /// [`Ctx::need_total`].
    NeedMore,
}

impl Step {
    pub fn skip(len: usize, reason: impl Into<Cow<'static, str>>, severity: Severity) -> Step {
        Step::Skip {
            len,
            reason: reason.into(),
            severity,
        }
    }
}

/// Options that change what dissectors put in their output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Keep passwords and other secrets instead of redacting them.
    pub show_secrets: bool,
    /// Leave out the fields that hold a message's bulk content (a QM
    /// record, list or command output as bytes and a record's structured
    /// view, a QMP message's whole JSON value), which only a field display,
    /// a filter or an export reads: building them is much of the cost of a
    /// large message. QMP and QM also leave the summary empty (its
    /// formatting is most of the rest of a small message's cost).
    /// Everything else (name, kind, error flag, notes, pairing, the other
    /// fields) is the same as without it. For statistics without a filter.
    pub lean: bool,
}

/// Result of probing the first bytes of a session for a protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The bytes are this protocol. `swap` says the session's sides are the
    /// other way round (the side called client is really the server).
    Match { swap: bool },
    /// The bytes are not this protocol; the reason is shown to the user when
    /// it is worth knowing (e.g. "QEMU human monitor (HMP), not QMP").
    NoMatch(Option<&'static str>),
    /// Not enough bytes yet.
    NeedMore,
}

/// Facts about the session a dissector is created for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStart {
    /// The connection's start (SYN) was not captured: both directions may
    /// begin inside a message, and protocol state is unknown.
    pub mid_stream: bool,
}

/// What a dissector may report besides its answer: notes about the session.
#[derive(Debug, Default)]
pub struct Ctx {
    /// The direction being parsed has ended (FIN, RST or end of capture): no
    /// byte will follow the ones given. Values that need one byte of
    /// lookahead may complete now.
    pub eos: bool,
    /// Notes about the session (not about one message), e.g. "HMP detected",
    /// "requests unanswered at close".
    pub notes: Vec<Note>,
    /// Named attributes of the session (`"mode" => "pretty"`), latest wins.
    pub attrs: Vec<(&'static str, String)>,
    /// With [`Step::NeedMore`]: the message at the front is this many bytes
    /// long (a length header said so). The driver then reserves room for it
    /// once and calls again only when that many bytes are there or the
    /// stream ends, as Suricata's parsers do.
    pub need: Option<usize>,
}

impl Ctx {
    pub fn note(&mut self, note: Note) {
        self.notes.push(note);
    }
    /// Says, with [`Step::NeedMore`], that nothing can be decided before
    /// the data holds `total` bytes (see [`Ctx::need`]).
    pub fn need_total(&mut self, total: usize) {
        self.need = Some(total);
    }
    /// Sets an attribute of the session (latest wins). The engine reports
    /// each change as it happens and the last values at the session's
    /// end. One key is special: `state`, where the session is in its
    /// protocol ("negotiating"; empty: nothing particular), set when it
    /// changes, is passed on each time and not kept for the end.
    pub fn attr(&mut self, key: &'static str, value: impl Into<String>) {
        match self.attrs.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value.into(),
            None => self.attrs.push((key, value.into())),
        }
    }
}

/// One protocol's decoder for one session (both directions).
///
/// Contract (checked by the driver, relied on by dissectors):
/// * `data` starts at the first unconsumed byte of `dir`, at stream offset
///   `offset`; between two calls for the same direction that answered
///   [`Step::NeedMore`], the bytes already given are unchanged and more may
///   follow. After a `NeedMore` with [`Ctx::need_total`], the next call for
///   that direction comes when at least that many bytes are there, or with
///   `eos`, or after a gap.
/// * An answer that consumes bytes consumes at least one and at most
///   `data.len()`.
/// * No method panics, whatever the bytes.
pub trait Dissector: Send {
    fn parse(&mut self, dir: Dir, offset: u64, data: &[u8], ctx: &mut Ctx) -> Step;

    /// `len` bytes at `offset` of `dir` are missing (lost in capture, or
    /// discarded by the driver). The next call for `dir` starts after them;
    /// the dissector should resynchronise before decoding again.
    fn gap(&mut self, dir: Dir, offset: u64, len: u64, ctx: &mut Ctx);

    /// The session is over (both directions ended or the capture ended):
    /// report what is still pending.
    fn close(&mut self, ctx: &mut Ctx);
}
