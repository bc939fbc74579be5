//! QMP (QEMU Machine Protocol) and QGA (QEMU Guest Agent) dissector, with
//! recognition of the human monitor (HMP) on QMP ports. Reference:
//! `shared/protocols/qmp.md`; its DECISIONs are implemented as written.
//!
//! * [`scan`]: the resumable value-boundary scanner (QEMU's lexer and
//!   streamer, error recovery and limits included).
//! * [`json`]: QEMU's JSON grammar for each complete value (extensions,
//!   rejections, id equality, strict re-serialisation).
//! * this module: messages, pairing (section 4.3), session state
//!   (negotiation, OOB, QGA, pretty mode, HMP, telnet, mid-stream resync),
//!   expert notes (section 11) and the content probe (sections 7.2, 8).

pub mod json;
pub mod scan;
mod spec;
pub use spec::PROTOCOL;

use std::borrow::Cow;
use std::ops::Range;

use crate::{
    Ctx, Dir, Dissector, Field, Kind, Message, MsgRef, Note, Options, SessionStart, Severity, Step,
    Value, Verdict,
};
use json::{Mat, Node, Parsed, J};
use scan::{Scan, Scanner};

/// Top-level members of server objects that are decoded completely; the
/// others (`return`, `data`) are validated and kept as text.
const SERVER_KEYS: &[&str] = &["QMP", "error", "id", "event", "timestamp"];
/// Longest summary, in characters.
const SUMMARY_MAX: usize = 100;
/// Bytes of a value looked at for a summary.
const PREVIEW: usize = 4 * SUMMARY_MAX;
const BOM: &[u8] = b"\xEF\xBB\xBF";
const QEMU_ONLY: &str =
    "QEMU-only syntax (single quotes, \\' or C0 80): value re-serialised as strict JSON";
const HMP_REASON: &str = "HMP text (not QMP)";
const HMP_VERDICT: &str = "QEMU human monitor (HMP), not QMP";
/// Most "unanswered at close" notes reported one by one.
const MAX_UNANSWERED_NOTES: usize = 20;
/// Most requests kept pending for pairing (see `Qmp::push_pending`).
const MAX_PENDING: usize = 1024;

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

// ---------------------------------------------------------------------------
// Probe (sections 7.2 and 8).

/// How many bytes of each direction the probe looks at.
const PROBE_WINDOW: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Srv {
    /// Nothing decisive yet.
    Unknown,
    /// `{"QMP"` (compact or pretty).
    Greeting,
    /// A response or event object (or QGA's `FF {"return"`).
    Reply,
    /// The human monitor's banner or prompt.
    Hmp,
    /// Clearly not a QMP server.
    No,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cli {
    Unknown,
    /// An `execute`/`exec-oob` shaped object.
    Command,
    /// QGA shapes: a `guest-*` command, or 0xFF followed by `{`.
    Guest,
    /// Printable text lines (probably HMP).
    Text,
    No,
}

/// Skips whitespace and telnet IAC sequences at the front.
fn skip_iac_ws(mut b: &[u8]) -> &[u8] {
    loop {
        let n = b.iter().take_while(|&&c| is_ws(c)).count();
        b = b.get(n..).unwrap_or(&[]);
        match (b.first(), b.get(1)) {
            (Some(0xFF), Some(0xFB..=0xFE)) if b.len() >= 3 => b = b.get(3..).unwrap_or(&[]),
            (Some(0xFF), Some(0xFA)) => match b.windows(2).position(|w| w == [0xFF, 0xF0]) {
                Some(p) => b = b.get(p + 2..).unwrap_or(&[]),
                None => return &[],
            },
            (Some(0xFF), Some(0xF1..=0xF9)) => b = b.get(2..).unwrap_or(&[]),
            _ => return b,
        }
    }
}

enum Prefix {
    Yes,
    Partial,
    No,
}

fn prefix_of(data: &[u8], pat: &[u8]) -> Prefix {
    if data.starts_with(pat) {
        Prefix::Yes
    } else if data.len() < pat.len() && pat.starts_with(data) {
        Prefix::Partial
    } else {
        Prefix::No
    }
}

/// HMP banner (`QEMU `) or prompt (`(qemu) `) at the front.
fn hmp_prefix(data: &[u8]) -> Prefix {
    match (prefix_of(data, b"QEMU "), prefix_of(data, b"(qemu) ")) {
        (Prefix::Yes, _) | (_, Prefix::Yes) => Prefix::Yes,
        (Prefix::Partial, _) | (_, Prefix::Partial) => Prefix::Partial,
        _ => Prefix::No,
    }
}

/// The first object key at `b` (which starts just after `{`).
fn first_key(b: &[u8], single_quotes: bool) -> Result<&[u8], bool> {
    let n = b.iter().take_while(|&&c| is_ws(c)).count();
    let b = b.get(n..).unwrap_or(&[]);
    let Some(&q) = b.first() else {
        return Err(true);
    };
    if q != b'"' && !(single_quotes && q == b'\'') {
        return Err(false);
    }
    let body = b.get(1..).unwrap_or(&[]);
    match body.iter().take(40).position(|&c| c == q) {
        Some(p) => Ok(body.get(..p).unwrap_or(&[])),
        None => Err(body.len() < 40),
    }
}

fn server_shape(s: &[u8]) -> Srv {
    let (s, ff) = match s.first() {
        Some(0xFF) => (s.get(1..).unwrap_or(&[]), true),
        _ => (s, false),
    };
    match s.first() {
        None => Srv::Unknown,
        Some(b'{') => match first_key(s.get(1..).unwrap_or(&[]), false) {
            Ok(b"QMP") if !ff => Srv::Greeting,
            Ok(b"return" | b"error" | b"id" | b"event" | b"timestamp") => Srv::Reply,
            Ok(_) => Srv::No,
            Err(true) => Srv::Unknown,
            Err(false) => Srv::No,
        },
        Some(_) => Srv::No,
    }
}

fn classify_server(b: &[u8], mid: bool) -> Srv {
    let win = b.get(..b.len().min(PROBE_WINDOW)).unwrap_or(b);
    let s = skip_iac_ws(win);
    if s.is_empty() {
        return Srv::Unknown;
    }
    match hmp_prefix(s) {
        Prefix::Yes => return Srv::Hmp,
        Prefix::Partial => return Srv::Unknown,
        Prefix::No => {}
    }
    let first = server_shape(s);
    if !mid || matches!(first, Srv::Greeting | Srv::Reply) {
        return first;
    }
    // Mid-stream: the first bytes are usually inside a message. Look at
    // the lines that follow.
    if win.windows(7).any(|w| w == b"(qemu) ") {
        return Srv::Hmp;
    }
    for (i, _) in win.iter().enumerate().filter(|(_, &c)| c == b'\n') {
        let line = win.get(i + 1..).unwrap_or(&[]);
        if let Srv::Greeting | Srv::Reply = server_shape(line) {
            return Srv::Reply;
        }
    }
    // Possibly inside one long reply: undecided.
    Srv::Unknown
}

fn command_shape(s: &[u8]) -> Cli {
    match first_key(s.get(1..).unwrap_or(&[]), true) {
        Ok(b"execute" | b"exec-oob" | b"arguments" | b"id" | b"control") => {
            let head = s.get(..s.len().min(512)).unwrap_or(s);
            if head.windows(7).any(|w| w == b"\"guest-" || w == b"'guest-") {
                Cli::Guest
            } else {
                Cli::Command
            }
        }
        Ok(_) => Cli::No,
        Err(true) => Cli::Unknown,
        Err(false) => Cli::No,
    }
}

fn classify_client(b: &[u8], mid: bool) -> Cli {
    let win = b.get(..b.len().min(PROBE_WINDOW)).unwrap_or(b);
    let mut s = skip_iac_ws(win);
    let mut reset = false;
    while let Some(0xFF) = s.first() {
        reset = true;
        s = skip_iac_ws(s.get(1..).unwrap_or(&[]));
    }
    if s.starts_with(BOM) {
        s = skip_iac_ws(s.get(3..).unwrap_or(&[]));
    }
    let Some(&first) = s.first() else {
        return Cli::Unknown;
    };
    if first == b'{' {
        return match command_shape(s) {
            Cli::Command | Cli::Unknown if reset => Cli::Guest,
            other => other,
        };
    }
    if mid {
        // Find a command that starts later (after the end of a partial one).
        for (i, _) in win.iter().enumerate().filter(|(_, &c)| c == b'{') {
            let prev = i.checked_sub(1).and_then(|p| win.get(p)).copied();
            if matches!(prev, Some(b'}' | b'\n' | b'\r' | b' ' | 0xFF)) {
                let c = command_shape(win.get(i..).unwrap_or(&[]));
                if matches!(c, Cli::Command | Cli::Guest) {
                    return c;
                }
            }
        }
        return if win.len() >= PROBE_WINDOW {
            Cli::No
        } else {
            Cli::Unknown
        };
    }
    if first.is_ascii_alphabetic() && !reset {
        return Cli::Text;
    }
    if first == 0xEF && s.len() < 3 && BOM.starts_with(s) {
        return Cli::Unknown;
    }
    Cli::No
}

/// Decides whether the first bytes of a session are QMP or QGA (qmp.md 7.2
/// and 8). Looks at most at the first [`PROBE_WINDOW`] bytes of each side.
pub fn probe(c2s: &[u8], s2c: &[u8], start: SessionStart) -> Verdict {
    let mid = start.mid_stream;
    let sv = classify_server(s2c, mid);
    let cv = classify_client(c2s, mid);
    // The same questions with the sides swapped.
    let sw_s = classify_server(c2s, mid);
    let sw_c = classify_client(s2c, mid);
    if sv == Srv::Hmp || (sw_s == Srv::Hmp && sv == Srv::Unknown) {
        return Verdict::NoMatch(Some(HMP_VERDICT));
    }
    if sv == Srv::Greeting {
        return Verdict::Match { swap: false };
    }
    if sw_s == Srv::Greeting {
        return Verdict::Match { swap: true };
    }
    if sv == Srv::Reply && cv != Cli::No && cv != Cli::Text {
        return Verdict::Match { swap: false };
    }
    if sw_s == Srv::Reply && sw_c != Cli::No && sw_c != Cli::Text {
        return Verdict::Match { swap: true };
    }
    if cv == Cli::Guest && sv != Srv::No {
        return Verdict::Match { swap: false };
    }
    if sw_c == Cli::Guest && sw_s != Srv::No {
        return Verdict::Match { swap: true };
    }
    if mid && cv == Cli::Command && sv != Srv::No {
        return Verdict::Match { swap: false };
    }
    if mid && sw_c == Cli::Command && sw_s != Srv::No {
        return Verdict::Match { swap: true };
    }
    let window = |b: &'_ [u8]| b.len().min(PROBE_WINDOW);
    let server_spoke = !skip_iac_ws(s2c.get(..window(s2c)).unwrap_or(&[])).is_empty();
    let client_spoke = !skip_iac_ws(c2s.get(..window(c2s)).unwrap_or(&[])).is_empty();
    if !mid {
        // Only with the connection start captured: the first server bytes
        // must be '{', 0xFF, whitespace or telnet.
        if sv == Srv::No && sw_s != Srv::Greeting {
            return Verdict::NoMatch(None);
        }
        if cv == Cli::No && !server_spoke {
            return Verdict::NoMatch(None);
        }
        if cv == Cli::Text && server_spoke && sv != Srv::Unknown {
            return Verdict::NoMatch(None);
        }
    } else {
        // Mid-stream, the first kilobytes may all be inside one long reply:
        // give up only when both sides showed nothing QMP-like.
        let full = |b: &[u8]| b.len() >= PROBE_WINDOW;
        let s_none = full(s2c) || sv == Srv::No;
        let c_none = full(c2s) || cv == Cli::No;
        if s_none && c_none && (full(s2c) || full(c2s) || (server_spoke && client_spoke)) {
            return Verdict::NoMatch(None);
        }
    }
    Verdict::NeedMore
}

// ---------------------------------------------------------------------------
// Text helpers.

/// One line of at most `max` characters: line breaks and the indentation
/// after them collapse, control characters are escaped.
fn one_line(s: &str, max: usize) -> String {
    // Printable ASCII only (the common case): nothing collapses or needs
    // an escape, one byte is one character.
    if s.bytes().all(|b| (0x20..0x7F).contains(&b)) {
        return match s.get(..max) {
            Some(head) if s.len() > max => format!("{head}..."),
            _ => s.to_owned(),
        };
    }
    let mut out = String::with_capacity(s.len().min(max.saturating_mul(4)) + 3);
    let mut count = 0usize;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if count >= max {
            out.push_str("...");
            break;
        }
        if c == '\r' || c == '\n' {
            while matches!(chars.peek(), Some(' ' | '\t' | '\r' | '\n')) {
                chars.next();
            }
            while out.ends_with(' ') {
                out.pop();
            }
            let after_open = out.ends_with('{') || out.ends_with('[') || out.is_empty();
            let before_close = matches!(chars.peek(), Some('}' | ']') | None);
            if !after_open && !before_close {
                out.push(' ');
                count += 1;
            }
            continue;
        }
        push_escaped(&mut out, c);
        count += 1;
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\t' => out.push_str("\\t"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\u{c}' => out.push_str("\\f"),
        '\u{8}' => out.push_str("\\b"),
        c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
        c => out.push(c),
    }
}

/// A decoded string for display: control characters escaped, truncated.
fn esc(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max.saturating_mul(4)) + 3);
    for (n, c) in s.chars().enumerate() {
        if n >= max {
            out.push_str("...");
            break;
        }
        push_escaped(&mut out, c);
    }
    out
}

/// Raw bytes as QEMU shows a lexer error token (`stray '...'`): invalid
/// UTF-8 as U+FFFD, control characters escaped.
fn token_text(b: &[u8]) -> String {
    esc(&String::from_utf8_lossy(b), 60)
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", s.get(..i).unwrap_or(s)),
        None => s.to_owned(),
    }
}

// ---------------------------------------------------------------------------
// Session state.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PKind {
    /// An object (command).
    Command,
    /// A top-level array, string, number or keyword.
    NonObject,
}

/// A client item waiting for its reply (section 4.3).
#[derive(Debug, Clone)]
struct Pending {
    /// Stream offset of the request message (c2s).
    offset: u64,
    name: String,
    kind: PKind,
    id: Option<Node>,
    /// Sent with `exec-oob` (or 2.12's `control.run-oob`).
    oob: bool,
    /// A non-object value found in the remains of malformed input.
    from_malformed: bool,
    /// `qmp_capabilities` whose `arguments.enable` contains "oob".
    caps_oob: bool,
    /// `guest-sync`/`guest-sync-delimited`: the `arguments.id` sent.
    sync_id: Option<Node>,
}

/// Looking for a start point (capture started mid-stream, or after a gap).
#[derive(Debug, Clone)]
struct Resync {
    reason: &'static str,
    /// Position 0 of the buffer may start a message (first captured byte,
    /// after a gap, after skipped bytes that ended at a line or segment).
    boundary0: bool,
    /// Next position to examine.
    next: usize,
    /// The candidate being checked, at position 0.
    cand: Option<Candidate>,
    /// Client: positions where a TCP segment began (data lengths seen at
    /// earlier calls).
    segs: Vec<usize>,
    last_len: usize,
    /// Server: how far the buffer was searched for an HMP prompt.
    hmp_checked: usize,
}

#[derive(Debug, Clone)]
struct Candidate {
    /// Where the JSON value starts (after an optional 0xFF or BOM).
    value_at: usize,
    scan: Scanner,
    /// Length of the scanned value, once complete.
    done: Option<usize>,
}

impl Resync {
    fn new(reason: &'static str) -> Resync {
        Resync {
            reason,
            boundary0: true,
            next: 0,
            cand: None,
            segs: Vec::new(),
            last_len: 0,
            hmp_checked: 0,
        }
    }
}

#[derive(Debug, Clone)]
struct DirState {
    scan: Scanner,
    resync: Option<Resync>,
    /// Skipping the rest of a value the driver gave up on (over its limit).
    discard: bool,
    /// Where the last malformed item ended (client), to group runs.
    malformed_end: Option<u64>,
    /// A significant byte was seen (not whitespace, not telnet).
    started: bool,
    /// The last item was a value (for the server's line-end check).
    after_value: bool,
}

impl DirState {
    fn new(client: bool, mid_stream: bool) -> DirState {
        DirState {
            scan: Scanner::verifying(client),
            resync: mid_stream.then(|| Resync::new("partial message (capture started mid-stream)")),
            discard: false,
            malformed_end: None,
            started: false,
            after_value: false,
        }
    }
}

/// What the greeting said.
#[derive(Debug, Clone, Copy)]
struct Greeting {
    oob: bool,
}

/// The QMP/QGA dissector for one session.
pub struct Qmp {
    opts: Options,
    mid_stream: bool,
    /// Pairing and negotiation state are uncertain (mid-stream start or a
    /// gap): unmatched replies are info, no ordering/negotiation flags.
    relaxed: bool,
    /// The pending list overflowed once (noted).
    pending_overflow_noted: bool,
    dirs: [DirState; 2],
    hmp: bool,
    telnet: bool,
    greeting: Option<Greeting>,
    greetings: u32,
    caps_sent: u32,
    negotiated: bool,
    oob: bool,
    qga: bool,
    qga_synced: bool,
    pretty: bool,
    pending: Vec<Pending>,
    /// Start offset of the most recent malformed client item.
    last_malformed: Option<u64>,
    /// A malformed item came after the last parsed client object.
    after_malformed: bool,
    /// The latest malformed record is just a parser reset byte.
    last_malformed_reset: bool,
}

/// The outcome of matching one response.
struct Pairing {
    reply_to: Option<MsgRef>,
    name: Option<String>,
    notes: Vec<Note>,
}

impl Qmp {
    pub fn new(start: SessionStart, opts: Options) -> Qmp {
        Qmp {
            opts,
            mid_stream: start.mid_stream,
            relaxed: start.mid_stream,
            pending_overflow_noted: false,
            dirs: [
                DirState::new(true, start.mid_stream),
                DirState::new(false, start.mid_stream),
            ],
            hmp: false,
            telnet: false,
            greeting: None,
            greetings: 0,
            caps_sent: 0,
            negotiated: false,
            oob: false,
            qga: false,
            qga_synced: false,
            pretty: false,
            pending: Vec::new(),
            last_malformed: None,
            after_malformed: false,
            last_malformed_reset: false,
        }
    }

    fn set_qga(&mut self, ctx: &mut Ctx) {
        if !self.qga {
            self.qga = true;
            ctx.attr("variant", "qga");
        }
    }

    fn enter_hmp(&mut self, ctx: &mut Ctx) {
        if !self.hmp {
            self.hmp = true;
            ctx.note(Note::info(
                "QEMU human monitor (HMP) on a QMP port: connection not decoded as JSON",
            ));
            ctx.attr("variant", "hmp");
        }
    }

    /// Records a malformed client item at `offset` (section 4.3: parse
    /// errors attach to the latest one; contiguous pieces form one record).
    fn malformed(&mut self, dir: Dir, offset: u64, len: usize) {
        self.malformed_item(dir, offset, len, false);
    }

    fn malformed_item(&mut self, dir: Dir, offset: u64, len: usize, reset: bool) {
        if dir != Dir::C2S {
            return;
        }
        let st = &mut self.dirs[0];
        // A reset byte is an item of its own (the client sends it on
        // purpose, usually in a write of its own).
        if reset || st.malformed_end != Some(offset) || self.last_malformed.is_none() {
            self.last_malformed = Some(offset);
            self.last_malformed_reset = reset;
        } else {
            self.last_malformed_reset &= reset;
        }
        st.malformed_end = Some(offset + len as u64);
        self.after_malformed = true;
    }

    // -- resynchronisation (section 2.9) ----------------------------------

    /// Looks for a start point. `None`: found at position 0, decode
    /// normally from there.
    fn resync(&mut self, dir: Dir, data: &[u8], ctx: &mut Ctx) -> Option<Step> {
        let client = dir == Dir::C2S;
        let eos = ctx.eos;
        let mut hmp = false;
        let step = {
            let r = self.dirs[dir.idx()].resync.as_mut()?;
            if data.len() > r.last_len {
                if r.last_len > 0 {
                    r.segs.push(r.last_len);
                }
                r.last_len = data.len();
            }
            if !client {
                let from = r.hmp_checked.saturating_sub(6);
                let upto = data.len().min(1 << 16);
                if upto > from {
                    hmp = data
                        .get(from..upto)
                        .is_some_and(|w| w.windows(7).any(|w| w == b"(qemu) "))
                        || matches!(hmp_prefix(data), Prefix::Yes) && r.boundary0;
                    r.hmp_checked = upto;
                }
            }
            if hmp {
                None
            } else {
                Some(resync_step(r, client, data, eos))
            }
        };
        if hmp {
            self.enter_hmp(ctx);
            return Some(Step::skip(data.len(), HMP_REASON, Severity::Info));
        }
        match step {
            Some(Some(step)) => Some(step),
            Some(None) | None => {
                self.dirs[dir.idx()].resync = None;
                None
            }
        }
    }

    // -- the main path ----------------------------------------------------

    fn step(&mut self, dir: Dir, offset: u64, data: &[u8], ctx: &mut Ctx) -> Step {
        let d = dir.idx();
        let eos = ctx.eos;
        if self.dirs[d].scan.at_item_start() {
            if let Some(&0xFF) = data.first() {
                if dir == Dir::S2C
                    && !self.dirs[d].started
                    && !self.telnet
                    && matches!(data.get(1), Some(0xFB..=0xFE))
                {
                    self.telnet = true;
                    ctx.note(Note::info(
                        "telnet negotiation on a QMP connection (telnet chardev)",
                    ));
                }
                if self.telnet {
                    if let Some(step) = telnet_seq(data, eos) {
                        self.dirs[d].scan.leave_recovery();
                        return step;
                    }
                }
            }
            let first = data.first().copied().unwrap_or(b' ');
            if dir == Dir::S2C && !self.dirs[d].started && !is_ws(first) {
                match hmp_prefix(data) {
                    Prefix::Yes => {
                        self.enter_hmp(ctx);
                        return Step::skip(data.len(), HMP_REASON, Severity::Info);
                    }
                    Prefix::Partial if !eos => return Step::NeedMore,
                    _ => {}
                }
            }
            if dir == Dir::C2S
                && !self.dirs[1].started
                && !self.dirs[0].started
                && !self.mid_stream
                && !eos
                && data.len() < PROBE_WINDOW
            {
                // Text before the server spoke: probably HMP; wait for the
                // server to confirm (section 7.2).
                if let Some(&c) = data.iter().find(|&&c| !is_ws(c)) {
                    if c.is_ascii_alphabetic() {
                        return Step::NeedMore;
                    }
                }
            }
        }
        let scan = self.dirs[d].scan.next(data, eos);
        let client = dir == Dir::C2S;
        match scan {
            Scan::NeedMore => Step::NeedMore,
            Scan::Whitespace(n) => {
                let st = &mut self.dirs[d];
                if !client
                    && st.after_value
                    && data.first() == Some(&b'\n')
                    && self.greeting.is_none()
                    && !self.pretty
                {
                    // LF-only line ends and no greeting: the guest agent.
                    self.set_qga(ctx);
                }
                self.dirs[d].after_value = false;
                Step::skip(n, "whitespace", Severity::Info)
            }
            Scan::Delimiter => {
                self.dirs[d].started = true;
                self.dirs[d].after_value = false;
                self.set_qga(ctx);
                Step::skip(1, "QGA sync delimiter", Severity::Info)
            }
            Scan::Recovery(n) => {
                self.dirs[d].after_value = false;
                self.malformed(dir, offset, n);
                Step::skip(
                    n,
                    "malformed input skipped by error recovery",
                    Severity::Warn,
                )
            }
            Scan::LexError { len, tok_start } => {
                let st = &mut self.dirs[d];
                st.started = true;
                st.after_value = false;
                let tok = data.get(tok_start..len).unwrap_or(&[]);
                let reset = client
                    && tok_start == 0
                    && len == 1
                    && tok.iter().all(|&b| scan::is_reset_byte(b));
                self.malformed_item(dir, offset, len, reset);
                let (reason, sev): (Cow<'static, str>, Severity) = match tok {
                    [0xFF] if client => ("parser reset (0xFF)".into(), Severity::Info),
                    [b] if client && scan::is_reset_byte(*b) => {
                        let what = if *b < 0x20 { "control byte " } else { "" };
                        (
                            format!("parser reset ({what}0x{b:02X})").into(),
                            Severity::Info,
                        )
                    }
                    [0xEF] if client && tok_start == 0 && data.starts_with(BOM) => (
                        "malformed JSON: UTF-8 byte order mark (QEMU answers stray '\\uFFFD')"
                            .into(),
                        Severity::Warn,
                    ),
                    _ => {
                        let what = if client {
                            "malformed JSON"
                        } else {
                            "malformed server output"
                        };
                        let cut = if tok_start > 0 {
                            " (partial value discarded)"
                        } else {
                            ""
                        };
                        (
                            format!("{what}: stray '{}'{cut}", token_text(tok)).into(),
                            Severity::Warn,
                        )
                    }
                };
                Step::skip(len, reason, sev)
            }
            Scan::Cut { len } => {
                self.dirs[d].after_value = false;
                self.malformed(dir, offset, len);
                Step::skip(
                    len,
                    "malformed JSON: incomplete value discarded by a parser reset",
                    Severity::Warn,
                )
            }
            Scan::Limit { len, what } => {
                self.dirs[d].after_value = false;
                self.malformed(dir, offset, len);
                Step::skip(
                    len,
                    format!("malformed JSON: {what} (QEMU rejects the value)"),
                    Severity::Warn,
                )
            }
            Scan::Value { len, crlf } => {
                let text = data.get(..len).unwrap_or(data);
                let st = &mut self.dirs[d];
                st.started = true;
                st.after_value = !client;
                let known = st.scan.take_verified();
                if !client && crlf && !self.pretty {
                    self.pretty = true;
                    ctx.attr("mode", "pretty");
                }
                self.value(dir, offset, text, known.as_deref(), ctx)
            }
        }
    }

    /// Oversized value: skip what was scanned until the value ends.
    fn discard(&mut self, dir: Dir, data: &[u8], eos: bool) -> Step {
        let st = &mut self.dirs[dir.idx()];
        let reason = "rest of a value larger than the size limit";
        let s = st.scan.next(data, eos);
        let n = match s {
            Scan::NeedMore => {
                let n = st.scan.scanned().min(data.len());
                if n == 0 {
                    return Step::NeedMore;
                }
                st.scan.rebase(n);
                return Step::skip(n, reason, Severity::Warn);
            }
            Scan::Whitespace(n) | Scan::Recovery(n) => n,
            Scan::Value { len, .. }
            | Scan::LexError { len, .. }
            | Scan::Cut { len }
            | Scan::Limit { len, .. } => len,
            Scan::Delimiter => 1,
        };
        st.discard = false;
        Step::skip(n.clamp(1, data.len()), reason, Severity::Warn)
    }

    /// A complete value; `known`: what the scanner's verifier found (see
    /// [`json::parse_known`]).
    fn value(
        &mut self,
        dir: Dir,
        offset: u64,
        text: &[u8],
        known: Option<&[Range<usize>]>,
        ctx: &mut Ctx,
    ) -> Step {
        let client = dir == Dir::C2S;
        let mat = if client {
            Mat::All
        } else {
            Mat::Top(SERVER_KEYS)
        };
        let parsed = match known {
            Some(known) => json::parse_known(text, mat, known),
            None => json::parse(text, mat),
        };
        match parsed {
            Err(e) => {
                self.malformed(dir, offset, text.len());
                let what = if client {
                    "malformed JSON"
                } else {
                    "malformed server output"
                };
                Step::skip(text.len(), format!("{what}: {}", e.msg), Severity::Warn)
            }
            Ok(p) if client => self.client_value(offset, text, p, ctx),
            Ok(p) => self.server_value(text, p, ctx),
        }
    }

    // -- client values ----------------------------------------------------

    fn client_value(&mut self, offset: u64, text: &[u8], mut p: Parsed, ctx: &mut Ctx) -> Step {
        let len = text.len();
        let mut notes = Vec::new();
        if !p.strict {
            notes.push(Note::info(QEMU_ONLY));
        }
        if !matches!(p.root.v, J::Obj(_)) {
            let from_malformed = self.after_malformed;
            self.push_pending(
                Pending {
                    offset,
                    name: "non-object".into(),
                    kind: PKind::NonObject,
                    id: None,
                    oob: false,
                    from_malformed,
                    caps_oob: false,
                    sync_id: None,
                },
                ctx,
            );
            notes.push(Note::warn(
                "not a JSON object: QEMU answers \"QMP input must be a JSON object\"",
            ));
            if from_malformed {
                notes.push(Note::info("from malformed input"));
            }
            let value = json::node_text(&p.root, text, p.strict);
            let mut m = Message::new(Dir::C2S, len, Kind::Request, "non-object");
            m.summary = one_line(&value, SUMMARY_MAX);
            m.fields
                .push(Field::new("value", Some(0..len), Value::Json(value)));
            m.notes = notes;
            return Step::Message(m);
        }
        self.after_malformed = false;

        // What the command is.
        let root = &p.root;
        let exec = root.get("execute");
        let exec_oob = root.get("exec-oob");
        let run_oob = root
            .get("control")
            .and_then(|c| c.get("run-oob"))
            .is_some_and(|n| n.v == J::Bool(true));
        let (name, name_field) = match (exec, exec_oob) {
            (Some(n), _) => match n.as_str() {
                Some(s) => (s.to_owned(), Some(("execute", n.span.clone()))),
                None => ("(invalid execute)".to_owned(), None),
            },
            (None, Some(n)) => match n.as_str() {
                Some(s) => (s.to_owned(), Some(("exec-oob", n.span.clone()))),
                None => ("(invalid exec-oob)".to_owned(), None),
            },
            (None, None) => ("(no execute)".to_owned(), None),
        };
        let oob = (exec_oob.is_some() && exec.is_none()) || run_oob;
        let id = root.get("id").cloned();
        let args = root.get("arguments");

        // Predicted request-shape errors (qmp.md 3.5).
        match (exec, exec_oob) {
            (Some(_), Some(_)) => notes.push(Note::warn(
                "QMP input member 'execute' clashes with 'exec-oob' (QEMU rejects it)",
            )),
            (None, None) => notes.push(Note::warn(
                "QMP input lacks member 'execute' (QEMU rejects it)",
            )),
            _ => {}
        }
        if name_field.is_none() && (exec.is_some() || exec_oob.is_some()) {
            notes.push(Note::warn(
                "QMP input member 'execute' must be a string (QEMU rejects it)",
            ));
        }
        if args.is_some_and(|a| !matches!(a.v, J::Obj(_))) {
            notes.push(Note::warn(
                "QMP input member 'arguments' must be an object (QEMU rejects it)",
            ));
        }
        for m in root.members() {
            if !matches!(
                m.key.as_str(),
                "execute" | "exec-oob" | "arguments" | "id" | "control"
            ) {
                notes.push(Note::warn(format!(
                    "QMP input member '{}' is unexpected (QEMU rejects it)",
                    esc(&m.key, 40)
                )));
            }
        }

        // Negotiation, OOB, QGA.
        let mut caps_oob = false;
        if oob {
            if !self.oob && !self.relaxed && !self.qga {
                notes.push(Note::warn(
                    "exec-oob without OOB enabled: QEMU answers \"QMP input member 'exec-oob' is unexpected\"",
                ));
            }
            if id.is_none() {
                notes.push(Note::warn(
                    "exec-oob without id: its reply can only be matched by guess",
                ));
            }
        }
        if name == "qmp_capabilities" {
            if self.caps_sent > 0 || self.negotiated {
                notes.push(Note::info("second qmp_capabilities"));
            }
            self.caps_sent += 1;
            caps_oob = args
                .and_then(|a| a.get("enable"))
                .is_some_and(|e| match &e.v {
                    J::Arr(items) => items.iter().any(|i| i.as_str() == Some("oob")),
                    _ => false,
                });
        } else if self.greeting.is_some()
            && !self.negotiated
            && self.caps_sent == 0
            && !self.relaxed
            && !self.qga
        {
            notes.push(Note::warn(
                "command sent before capabilities negotiation (QEMU answers CommandNotFound)",
            ));
        }
        if name.starts_with("guest-") && self.greeting.is_none() {
            self.set_qga(ctx);
        }
        let sync_id = if name == "guest-sync" || name == "guest-sync-delimited" {
            args.and_then(|a| a.get("id")).cloned()
        } else {
            None
        };

        // Section 11: notable operations and clear-text secrets.
        if name == "human-monitor-command" {
            let line = args
                .and_then(|a| a.get("command-line"))
                .and_then(Node::as_str)
                .unwrap_or("");
            notes.push(Note::info(format!(
                "HMP command line (any monitor command): {}",
                esc(line, 80)
            )));
        } else if notable(&name) {
            notes.push(Note::info(format!("notable operation: {name}")));
        }
        let show = self.opts.show_secrets;
        let secrets = match p.root.get_mut("arguments") {
            Some(a) => redact(a, &name, !show),
            None => Vec::new(),
        };
        let redacted = !secrets.is_empty() && !show;
        if !secrets.is_empty() {
            let names: Vec<&str> = secrets.iter().map(|(n, _)| *n).collect();
            notes.push(Note::warn(format!(
                "clear-text credential in arguments ({}) on an unencrypted connection",
                names.join(", ")
            )));
            if redacted {
                notes.push(Note::info(
                    "secret replaced by \"<redacted>\" in value and summary (show-secrets keeps it)",
                ));
            }
        }
        let root = &p.root;
        let value = if redacted {
            json::node_text(root, text, false)
        } else {
            json::node_text(root, text, p.strict)
        };

        // Fields and summary.
        let mut m = Message::new(Dir::C2S, len, Kind::Request, name.clone());
        m.secrets = secrets.into_iter().map(|(_, r)| r).collect();
        m.fields
            .push(Field::new("value", Some(0..len), Value::Json(value)));
        if let Some((key, span)) = name_field {
            m.fields
                .push(Field::new(key, Some(span), Value::Str(name.clone())));
        }
        let mut summary = String::new();
        if let Some(idn) = &id {
            let t = json::node_text(idn, text, p.strict);
            m.fields.push(Field::new(
                "id",
                Some(idn.span.clone()),
                Value::Json(t.clone()),
            ));
            summary.push_str("id=");
            summary.push_str(&truncate_chars(&t, 40));
        }
        if let Some(a) = root.get("arguments") {
            let mut s = String::new();
            json::write_json(a, text, &mut s, PREVIEW);
            if !summary.is_empty() {
                summary.push(' ');
            }
            summary.push_str(&s);
        }
        m.summary = one_line(&summary, SUMMARY_MAX);
        m.notes = notes;

        self.push_pending(
            Pending {
                offset,
                name,
                kind: PKind::Command,
                id,
                oob,
                from_malformed: false,
                caps_oob,
                sync_id,
            },
            ctx,
        );
        Step::Message(m)
    }

    // -- server values ----------------------------------------------------

    fn server_value(&mut self, text: &[u8], p: Parsed, ctx: &mut Ctx) -> Step {
        let len = text.len();
        let mut notes = Vec::new();
        // Server output is strict JSON; anything else is re-serialised from
        // a complete tree.
        let p = if p.strict {
            p
        } else {
            notes.push(Note::info(QEMU_ONLY));
            match json::parse(text, Mat::All) {
                Ok(full) => full,
                Err(_) => p,
            }
        };
        let root = &p.root;
        let mut m = Message::new(Dir::S2C, len, Kind::Other, "unknown");
        m.fields.push(Field::new(
            "value",
            Some(0..len),
            Value::Json(json::node_text(root, text, p.strict)),
        ));
        if !matches!(root.v, J::Obj(_)) {
            m.name = "non-object".into();
            m.summary = one_line(&json::preview(root, text, p.strict, PREVIEW), SUMMARY_MAX);
            notes.push(Note::warn("server sent a value that is not a JSON object"));
            m.notes = notes;
            return Step::Message(m);
        }
        let has = |k: &str| root.get(k).is_some();
        let only_qmp = has("QMP") && root.members().len() == 1;
        if only_qmp {
            self.greeting_msg(&mut m, root, text, &mut notes, ctx);
        } else if has("event") && !has("return") && !has("error") {
            m.kind = Kind::Event;
            let ev = root.get("event");
            m.name = ev
                .and_then(Node::as_str)
                .map_or_else(|| "(invalid event)".to_owned(), str::to_owned);
            if let Some(ev) = ev.filter(|e| e.as_str().is_some()) {
                m.fields.push(Field::new(
                    "event",
                    Some(ev.span.clone()),
                    Value::Str(m.name.clone()),
                ));
            }
            m.summary = match root.get("data") {
                Some(d) => one_line(&json::preview(d, text, p.strict, PREVIEW), SUMMARY_MAX),
                None => String::new(),
            };
        } else if has("return") != has("error") {
            let negotiating = !self.negotiated;
            self.response_msg(&mut m, root, text, p.strict, &mut notes);
            if negotiating && self.negotiated {
                // Capabilities negotiation is over: commands are accepted.
                ctx.attr("state", "");
            }
        } else {
            notes.push(Note::warn(
                "unknown server message (none of greeting, return, error, event)",
            ));
            m.summary = one_line(&json::preview(root, text, p.strict, PREVIEW), SUMMARY_MAX);
        }
        m.notes.extend(notes);
        Step::Message(m)
    }

    fn greeting_msg(
        &mut self,
        m: &mut Message,
        root: &Node,
        text: &[u8],
        notes: &mut Vec<Note>,
        ctx: &mut Ctx,
    ) {
        m.kind = Kind::Greeting;
        m.name = "greeting".into();
        let q = root.get("QMP");
        let ver = q.and_then(|q| q.get("version"));
        let qemu = ver.and_then(|v| v.get("qemu"));
        let version = match qemu.map(|n| &n.v) {
            Some(J::Obj(_)) => {
                let part = |k: &str| match qemu.and_then(|n| n.get(k)).map(|n| &n.v) {
                    Some(J::Num(t)) => t.to_string(),
                    _ => "?".to_owned(),
                };
                Some(format!(
                    "{}.{}.{}",
                    part("major"),
                    part("minor"),
                    part("micro")
                ))
            }
            Some(J::Str(s)) => {
                notes.push(Note::info(
                    "old-version greeting (version.qemu is a string: QEMU 0.12)",
                ));
                Some(s.clone())
            }
            _ => None,
        };
        if let (Some(v), Some(qn)) = (&version, qemu) {
            m.fields.push(Field::new(
                "version",
                Some(qn.span.clone()),
                Value::Str(v.clone()),
            ));
        }
        let package = ver
            .and_then(|v| v.get("package"))
            .and_then(|p| p.as_str().map(|s| (s.to_owned(), p.span.clone())));
        if let Some((pkg, span)) = &package {
            m.fields.push(Field::new(
                "package",
                Some(span.clone()),
                Value::Str(pkg.clone()),
            ));
        }
        let caps_node = q.and_then(|q| q.get("capabilities"));
        let caps: Vec<String> = match caps_node.map(|n| &n.v) {
            Some(J::Arr(items)) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        if let Some(cn) = caps_node {
            m.fields.push(Field::new(
                "capabilities",
                Some(cn.span.clone()),
                Value::List(
                    caps.iter()
                        .map(|c| Field::new("capability", None, Value::Str(c.clone())))
                        .collect(),
                ),
            ));
        }
        let oob = caps.iter().any(|c| c == "oob");
        if !oob {
            notes.push(Note::info(
                "greeting without the oob capability (QEMU before 3.0, or no monitor I/O thread)",
            ));
        }
        if self.greetings > 0 {
            notes.push(Note::warn("second greeting on the connection"));
        } else {
            self.greeting = Some(Greeting { oob });
            if !self.negotiated {
                // Capabilities negotiation mode: only qmp_capabilities.
                ctx.attr("state", "negotiating");
            }
            ctx.note(Note::info(
                "QMP on plain TCP: no TLS, and QMP has no authentication (whoever connects controls the VM)",
            ));
        }
        self.greetings += 1;
        let caps_text = caps_node
            .map(|c| json::node_text(c, text, true))
            .unwrap_or_default();
        let mut s = format!("QEMU {}", version.as_deref().unwrap_or("?"));
        if let Some((pkg, _)) = package.filter(|(p, _)| !p.is_empty()) {
            s.push_str(&format!(" ({})", esc(&pkg, 50)));
        }
        s.push_str(&format!(" capabilities: {caps_text}"));
        m.summary = one_line(&s, SUMMARY_MAX);
    }

    fn response_msg(
        &mut self,
        m: &mut Message,
        root: &Node,
        text: &[u8],
        strict: bool,
        notes: &mut Vec<Note>,
    ) {
        m.kind = Kind::Response;
        let id = root.get("id");
        let err = root.get("error");
        let ret = root.get("return");
        let class = err.and_then(|e| e.get("class"));
        let desc = err.and_then(|e| e.get("desc"));
        let class_s = class.and_then(Node::as_str);
        let desc_s = desc.and_then(Node::as_str);
        m.is_error = err.is_some();
        let mut summary = String::new();
        if let Some(idn) = id {
            let t = json::node_text(idn, text, strict);
            m.fields.push(Field::new(
                "id",
                Some(idn.span.clone()),
                Value::Json(t.clone()),
            ));
            summary.push_str("id=");
            summary.push_str(&truncate_chars(&t, 40));
            summary.push(' ');
        }
        if let (Some(c), Some(s)) = (class, class_s) {
            m.fields.push(Field::new(
                "class",
                Some(c.span.clone()),
                Value::Str(s.to_owned()),
            ));
        }
        if let (Some(d), Some(s)) = (desc, desc_s) {
            m.fields.push(Field::new(
                "desc",
                Some(d.span.clone()),
                Value::Str(s.to_owned()),
            ));
        }
        match (err, ret) {
            (Some(e), _) => {
                match (class_s, desc) {
                    // The desc as written on the wire (server output is ASCII
                    // with escapes), e.g. `stray '\uFFFD'`.
                    (Some(c), Some(d)) => {
                        let raw = json::node_text(d, text, strict);
                        let inner = raw
                            .strip_prefix('"')
                            .and_then(|r| r.strip_suffix('"'))
                            .unwrap_or(&raw);
                        summary.push_str(&format!("{}: {inner}", esc(c, 40)));
                    }
                    _ => summary.push_str(&json::node_text(e, text, strict)),
                }
                if class_s.is_none() || desc_s.is_none() {
                    notes.push(Note::warn("error object without class or desc"));
                }
            }
            (None, Some(r)) => summary.push_str(&json::preview(r, text, strict, PREVIEW)),
            (None, None) => {}
        }
        m.summary = one_line(&summary, SUMMARY_MAX);

        // Notes about the error itself (section 11).
        let d = desc_s.unwrap_or("");
        let parse_error = err.is_some()
            && (d.starts_with("JSON parse error")
                || d == "Invalid JSON syntax"
                || class_s == Some("JSONParsing"));
        if parse_error {
            if self.last_malformed_reset {
                notes.push(Note::info(
                    "parse error reply: the expected answer to the client's parser reset",
                ));
            } else {
                notes.push(Note::warn(
                    "parse error reply: the client sent malformed JSON",
                ));
            }
        } else if d.starts_with("QMP input")
            || d.starts_with("JSON token")
            || d.starts_with("JSON nesting")
        {
            notes.push(Note::warn(format!("request rejected: {}", esc(d, 80))));
        }
        if class_s == Some("CommandNotFound") {
            if d.contains("Expecting capabilities negotiation") {
                notes.push(Note::warn(
                    "command sent before capabilities negotiation completed",
                ));
            } else if d.contains("has been disabled") {
                notes.push(Note::info("guest agent command disabled"));
            }
        }

        let pairing = self.pair(id, err.is_some(), parse_error, d, ret);
        m.reply_to = pairing.reply_to;
        m.name = pairing
            .name
            .unwrap_or_else(|| if err.is_some() { "error" } else { "return" }.to_owned());
        notes.extend(pairing.notes);
    }

    // -- pairing (section 4.3) --------------------------------------------

    /// Adds a request to the pending list, which is bounded: real clients
    /// have a handful in flight (QEMU queues at most 8 with OOB), so beyond
    /// [`MAX_PENDING`] the oldest is forgotten (noted once) rather than
    /// letting a flood of unanswered requests make every reply scan them.
    fn push_pending(&mut self, p: Pending, ctx: &mut Ctx) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.remove(0);
            if !self.pending_overflow_noted {
                self.pending_overflow_noted = true;
                ctx.note(Note::warn(format!(
                    "more than {MAX_PENDING} requests pending at once: the oldest are no longer paired \
                     (their replies, if any, show as unmatched)"
                )));
            }
        }
        self.pending.push(p);
    }

    fn take(&mut self, i: usize) -> Option<Pending> {
        if i >= self.pending.len() {
            return None;
        }
        let p = self.pending.remove(i);
        // Older non-object items from malformed input are closed silently
        // ("not answered (version-dependent)").
        let mut k = 0;
        self.pending.retain(|q| {
            let keep = !(k < i && q.kind == PKind::NonObject && q.from_malformed);
            k += 1;
            keep
        });
        Some(p)
    }

    fn unmatched(&self, what: &str) -> Note {
        if self.relaxed {
            Note::info(format!(
                "unmatched response (mid-stream or after a gap): {what}"
            ))
        } else {
            Note::warn(format!("unmatched response: {what}"))
        }
    }

    fn attach_to_malformed(&self, notes: &mut Vec<Note>) {
        match self.last_malformed {
            Some(off) => notes.push(Note::info(format!(
                "answers malformed input at offset {off}"
            ))),
            None => notes.push(Note::info(
                "answers malformed input not seen in the capture",
            )),
        }
    }

    fn pair(
        &mut self,
        id: Option<&Node>,
        is_error: bool,
        parse_error: bool,
        desc: &str,
        ret: Option<&Node>,
    ) -> Pairing {
        let mut out = Pairing {
            reply_to: None,
            name: None,
            notes: Vec::new(),
        };
        let mut uncertain = false;
        let matched = if let Some(id) = id {
            // Step 2: by id, oldest first.
            let found = self.pending.iter().position(|p| {
                p.kind == PKind::Command && p.id.as_ref().is_some_and(|pid| json::json_eq(pid, id))
            });
            match found {
                Some(i) => {
                    let inband = self.pending.get(i).is_some_and(|p| !p.oob);
                    let older_inband = self.pending.iter().take(i).any(|q| match q.kind {
                        PKind::Command => !q.oob,
                        PKind::NonObject => !q.from_malformed,
                    });
                    if inband && older_inband && !self.relaxed {
                        out.notes.push(Note::warn(
                            "response out of order: an older in-band request is still unanswered",
                        ));
                    }
                    if inband && older_inband && self.relaxed {
                        // In-band replies come in order: after a gap (or a
                        // mid-stream start), older in-band requests still
                        // pending lost their replies in the capture.
                        let before = self.pending.len();
                        let mut k = 0;
                        self.pending.retain(|q| {
                            let lost = k < i && q.kind == PKind::Command && !q.oob;
                            k += 1;
                            !lost
                        });
                        let lost = before - self.pending.len();
                        out.notes.push(Note::info(format!(
                            "{lost} earlier request(s) got no reply in the capture (lost in a gap)"
                        )));
                        // The matched request is now the first in-band one.
                        let j = self.pending.iter().position(|p| {
                            p.kind == PKind::Command
                                && p.id.as_ref().is_some_and(|pid| json::json_eq(pid, id))
                        });
                        j.and_then(|j| self.take(j))
                    } else {
                        self.take(i)
                    }
                }
                None => {
                    out.notes
                        .push(self.unmatched("no pending request with this id"));
                    None
                }
            }
        } else if parse_error {
            // Step 3: parse errors belong to malformed input.
            self.attach_to_malformed(&mut out.notes);
            None
        } else if is_error && desc == "QMP input must be a JSON object" {
            match self.pending.iter().position(|p| p.kind == PKind::NonObject) {
                Some(i) => self.take(i),
                None => {
                    self.attach_to_malformed(&mut out.notes);
                    None
                }
            }
        } else {
            let oldest = self
                .pending
                .iter()
                .position(|p| p.kind == PKind::Command && p.id.is_none());
            let sync_pending = self.pending.iter().any(|p| p.sync_id.is_some());
            match oldest {
                Some(i)
                    if self.qga
                        && !self.qga_synced
                        && self.pending.get(i).is_some_and(|p| p.sync_id.is_some()) =>
                {
                    // The answer to our sync, or stale output before it.
                    let want = self.pending.get(i).and_then(|p| p.sync_id.as_ref());
                    let ok = !is_error
                        && matches!((want, ret), (Some(w), Some(r)) if json::json_eq(w, r));
                    if ok {
                        self.qga_synced = true;
                        self.take(i)
                    } else {
                        out.notes.push(Note::info(
                            "possibly stale output from an earlier client (does not answer the pending guest-sync)",
                        ));
                        None
                    }
                }
                Some(_) if self.qga && !self.qga_synced && sync_pending => {
                    out.notes.push(Note::info(
                        "possibly stale output from an earlier client (arrived before the guest-sync completed)",
                    ));
                    None
                }
                Some(i) => {
                    uncertain = self.pending.get(i).is_some_and(|p| p.oob);
                    let p = self.take(i);
                    if let Some(p) = &p {
                        if let (Some(want), false) = (&p.sync_id, is_error) {
                            if ret.is_some_and(|r| json::json_eq(want, r)) {
                                self.qga_synced = true;
                            } else {
                                out.notes.push(Note::info(
                                    "stale output: guest-sync returned a different id than sent",
                                ));
                            }
                        }
                    }
                    p
                }
                None if self.qga && !self.qga_synced => {
                    out.notes.push(Note::info(
                        "possibly stale output from an earlier client (nothing pending)",
                    ));
                    None
                }
                None => {
                    out.notes
                        .push(self.unmatched("no pending request without id"));
                    None
                }
            }
        };
        if let Some(p) = matched {
            if uncertain {
                out.notes.push(Note::info(
                    "uncertain match: id-less exec-oob paired by order only",
                ));
            }
            if p.name == "qmp_capabilities" && !p.oob {
                if !is_error {
                    if !self.negotiated {
                        self.negotiated = true;
                        self.oob = p.caps_oob && self.greeting.is_none_or(|g| g.oob);
                    }
                } else if desc.contains("already complete") {
                    out.notes.push(Note::info("second qmp_capabilities"));
                }
            }
            if p.id.is_some() && id.is_some() && p.sync_id.is_some() && !is_error {
                match (&p.sync_id, ret) {
                    (Some(w), Some(r)) if json::json_eq(w, r) => self.qga_synced = true,
                    _ => out.notes.push(Note::info(
                        "stale output: guest-sync returned a different id than sent",
                    )),
                }
            }
            out.reply_to = Some(MsgRef {
                dir: Dir::C2S,
                offset: p.offset,
            });
            out.name = Some(p.name);
        }
        out
    }
}

/// Security-relevant commands (section 11).
fn notable(name: &str) -> bool {
    matches!(
        name,
        "quit"
            | "system_reset"
            | "system_powerdown"
            | "stop"
            | "device_add"
            | "device_del"
            | "blockdev-add"
            | "blockdev-create"
            | "getfd"
            | "add-fd"
            | "qom-set"
            | "object-add"
            | "guest-exec"
            | "guest-set-user-password"
            | "guest-shutdown"
    ) || name.starts_with("migrate")
        || name.starts_with("x-")
        || name.starts_with("guest-file-")
}

/// Finds clear-text secrets in a command's arguments (and replaces them by
/// "<redacted>" when `apply`); returns their member names and where their
/// text sits in the message (inside the quotes, escapes as written).
fn redact(args: &mut Node, command: &str, apply: bool) -> Vec<(&'static str, Range<usize>)> {
    let secret_object =
        command == "object-add" && args.get("qom-type").and_then(Node::as_str) == Some("secret");
    let mut found = Vec::new();
    let J::Obj(members) = &mut args.v else {
        return found;
    };
    for m in members.iter_mut() {
        let hit: Option<&'static str> = match m.key.as_str() {
            "password" => Some("password"),
            "data" if secret_object => Some("data"),
            _ => None,
        };
        if let Some(name) = hit {
            if let J::Str(s) = &mut m.val.v {
                found.push((name, string_text(&m.val.span)));
                if apply {
                    *s = "<redacted>".to_owned();
                }
            }
        }
        if secret_object && m.key == "props" {
            if let J::Obj(props) = &mut m.val.v {
                for pm in props.iter_mut().filter(|pm| pm.key == "data") {
                    if let J::Str(s) = &mut pm.val.v {
                        found.push(("props.data", string_text(&pm.val.span)));
                        if apply {
                            *s = "<redacted>".to_owned();
                        }
                    }
                }
            }
        }
    }
    found
}

/// The text of a string token without its quotes.
fn string_text(span: &Range<usize>) -> Range<usize> {
    let start = (span.start + 1).min(span.end);
    start..span.end.saturating_sub(1).max(start)
}

/// A telnet IAC sequence at the front (telnet mode only).
fn telnet_seq(data: &[u8], eos: bool) -> Option<Step> {
    let reason = "telnet negotiation";
    if data.first() != Some(&0xFF) {
        return None;
    }
    match data.get(1) {
        None if eos => None,
        None => Some(Step::NeedMore),
        Some(0xFB..=0xFE) => {
            if data.len() >= 3 {
                Some(Step::skip(3, reason, Severity::Info))
            } else if eos {
                Some(Step::skip(data.len(), reason, Severity::Info))
            } else {
                Some(Step::NeedMore)
            }
        }
        Some(0xFA) => match data.windows(2).position(|w| w == [0xFF, 0xF0]) {
            Some(p) => Some(Step::skip(p + 2, reason, Severity::Info)),
            None if eos || data.len() > PROBE_WINDOW => {
                Some(Step::skip(data.len(), reason, Severity::Info))
            }
            None => Some(Step::NeedMore),
        },
        Some(0xF0..=0xF9 | 0xFF) => Some(Step::skip(2, reason, Severity::Info)),
        Some(_) => None,
    }
}

/// Whether position `p` may start a message while resynchronising.
fn is_boundary(r: &Resync, client: bool, data: &[u8], p: usize) -> bool {
    if p == 0 {
        return r.boundary0;
    }
    let prev = data.get(p - 1).copied().unwrap_or(0);
    prev == b'\n' || (client && (prev == b'}' || r.segs.binary_search(&p).is_ok()))
}

enum CandStart {
    No,
    NeedMore,
    Yes(usize),
}

/// A candidate start at `p`: `{`, optionally after 0xFF (or, client side,
/// a BOM). Returns where the value starts.
fn cand_start(client: bool, data: &[u8], p: usize, eos: bool) -> CandStart {
    let rest = data.get(p..).unwrap_or(&[]);
    let skip = match rest.first() {
        Some(0xFF) => 1,
        Some(0xEF) if client => match prefix_of(rest, BOM) {
            Prefix::Yes => 3,
            Prefix::Partial if !eos => return CandStart::NeedMore,
            _ => return CandStart::No,
        },
        _ => 0,
    };
    match rest.get(skip) {
        Some(b'{') => CandStart::Yes(p + skip),
        None if skip > 0 && !eos => CandStart::NeedMore,
        _ => CandStart::No,
    }
}

/// One resynchronisation step: `Some(step)` to answer, `None` when a start
/// point was confirmed at position 0.
fn resync_step(r: &mut Resync, client: bool, data: &[u8], eos: bool) -> Option<Step> {
    let reason = r.reason;
    loop {
        if r.cand.is_none() {
            let mut found = None;
            let mut p = r.next;
            while p < data.len() {
                if is_boundary(r, client, data, p) {
                    match cand_start(client, data, p, eos) {
                        CandStart::Yes(v) => {
                            found = Some((p, v));
                            break;
                        }
                        CandStart::NeedMore => {
                            r.next = p;
                            return Some(Step::NeedMore);
                        }
                        CandStart::No => {}
                    }
                }
                p += 1;
            }
            match found {
                None => {
                    // Nothing here can start a message: report it all. The
                    // next bytes begin a new segment (client) or, after a
                    // line end, a new line (server).
                    r.boundary0 = client || data.last() == Some(&b'\n');
                    r.next = 0;
                    r.segs.clear();
                    r.last_len = 0;
                    return Some(Step::skip(data.len(), reason, Severity::Info));
                }
                Some((p, _)) if p > 0 => {
                    r.boundary0 = true;
                    r.next = 0;
                    r.segs.retain(|&s| s > p);
                    for s in r.segs.iter_mut() {
                        *s -= p;
                    }
                    r.last_len = r.last_len.saturating_sub(p);
                    return Some(Step::skip(p, reason, Severity::Info));
                }
                Some((_, v)) => {
                    r.cand = Some(Candidate {
                        value_at: v,
                        scan: Scanner::new(client),
                        done: None,
                    });
                }
            }
        }
        let Some(c) = r.cand.as_mut() else {
            continue;
        };
        let v = c.value_at;
        let body = data.get(v..).unwrap_or(&[]);
        if c.done.is_none() {
            match c.scan.next(body, eos) {
                Scan::NeedMore if !eos => return Some(Step::NeedMore),
                Scan::Value { len, .. } => c.done = Some(len),
                _ => {}
            }
        }
        let ok = match c.done {
            None => false,
            Some(len) => {
                let end = v + len;
                let line_end = match (data.get(end), data.get(end + 1)) {
                    (Some(b'\n'), _) | (Some(b'\r'), Some(b'\n')) => Some(true),
                    (None, _) | (Some(b'\r'), None) if !eos => None,
                    (None, _) => Some(true),
                    _ => Some(false),
                };
                match line_end {
                    None if !client => return Some(Step::NeedMore),
                    Some(false) if !client => false,
                    _ => data.get(v..end).is_some_and(|t| start_shape_ok(client, t)),
                }
            }
        };
        r.cand = None;
        if ok {
            return None;
        }
        r.next = 1;
    }
}

/// The value at a candidate start has the shape that confirms it: a
/// command (client) or a greeting, response or event (server).
fn start_shape_ok(client: bool, text: &[u8]) -> bool {
    let mat = if client {
        Mat::All
    } else {
        Mat::Top(SERVER_KEYS)
    };
    let Ok(p) = json::parse(text, mat) else {
        return false;
    };
    let J::Obj(ms) = &p.root.v else {
        return false;
    };
    let has = |k: &str| ms.iter().any(|m| m.key == k);
    if client {
        return has("execute") || has("exec-oob");
    }
    let only = |allowed: &[&str]| ms.iter().all(|m| allowed.contains(&m.key.as_str()));
    (has("QMP") && ms.len() == 1)
        || ((has("return") != has("error")) && only(&["return", "error", "id"]))
        || (has("event") && only(&["event", "timestamp", "data"]))
}

impl Dissector for Qmp {
    fn parse(&mut self, dir: Dir, offset: u64, data: &[u8], ctx: &mut Ctx) -> Step {
        if data.is_empty() {
            return Step::NeedMore;
        }
        if self.hmp {
            return Step::skip(data.len(), HMP_REASON, Severity::Info);
        }
        let d = dir.idx();
        if self.dirs[d].discard {
            return self.discard(dir, data, ctx.eos);
        }
        if self.dirs[d].resync.is_some() {
            if let Some(step) = self.resync(dir, data, ctx) {
                return step;
            }
            // A start point at the front: the scanner starts afresh.
            self.dirs[d].scan.reset();
        }
        self.step(dir, offset, data, ctx)
    }

    fn gap(&mut self, dir: Dir, _offset: u64, len: u64, _ctx: &mut Ctx) {
        let st = &mut self.dirs[dir.idx()];
        if len == 0 {
            // The driver dropped an oversized incomplete value: skip its
            // rest, keeping the scanner in step (decision 14).
            if let Some(r) = &mut st.resync {
                *r = Resync::new(r.reason);
            } else if st.scan.in_value() {
                st.discard = true;
                let n = st.scan.scanned();
                st.scan.rebase(n);
            } else {
                st.scan.reset();
            }
            return;
        }
        st.scan.reset();
        st.discard = false;
        st.after_value = false;
        st.malformed_end = None;
        st.resync = Some(Resync::new("partial message (after a gap in the capture)"));
        self.relaxed = true;
        if dir == Dir::C2S {
            self.after_malformed = false;
        }
    }

    fn close(&mut self, ctx: &mut Ctx) {
        let open: Vec<&Pending> = self
            .pending
            .iter()
            .filter(|p| !(p.kind == PKind::NonObject && p.from_malformed))
            .collect();
        for p in open.iter().take(MAX_UNANSWERED_NOTES) {
            ctx.note(Note::info(format!(
                "request '{}' (c2s offset {}) unanswered at close",
                esc(&p.name, 60),
                p.offset
            )));
        }
        if open.len() > MAX_UNANSWERED_NOTES {
            ctx.note(Note::info(format!(
                "{} more requests unanswered at close",
                open.len() - MAX_UNANSWERED_NOTES
            )));
        }
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests;
