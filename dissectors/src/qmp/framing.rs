//! Framing (qmp.md section 2): the scanner's items become the driver's
//! steps (whitespace, QGA delimiters, malformed input, telnet, values), and
//! each complete value goes to the request or the reply side.

use std::borrow::Cow;
use std::ops::Range;

use super::json::{self, Mat};
use super::probe::{hmp_prefix, is_ws, Prefix, BOM, PROBE_WINDOW};
use super::reply::SERVER_KEYS;
use super::scan::{self, Scan};
use super::state::{Qmp, HMP_REASON};
use super::text::token_text;
use crate::{Ctx, Dir, Note, Severity, Step};

impl Qmp {
    /// At the start of an item: telnet negotiation, the human monitor's
    /// banner, text before the server spoke. `Some` answers the call.
    fn item_start(&mut self, dir: Dir, data: &[u8], ctx: &mut Ctx) -> Option<Step> {
        let d = dir.idx();
        let eos = ctx.eos;
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
                    return Some(step);
                }
            }
        }
        let first = data.first().copied().unwrap_or(b' ');
        if dir == Dir::S2C && !self.dirs[d].started && !is_ws(first) {
            match hmp_prefix(data) {
                Prefix::Yes => {
                    self.enter_hmp(ctx);
                    return Some(Step::skip(data.len(), HMP_REASON, Severity::Info));
                }
                Prefix::Partial if !eos => return Some(Step::NeedMore),
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
                    return Some(Step::NeedMore);
                }
            }
        }
        None
    }

    /// The main path: the item at the front of `data`.
    pub(super) fn step(&mut self, dir: Dir, offset: u64, data: &[u8], ctx: &mut Ctx) -> Step {
        let d = dir.idx();
        let eos = ctx.eos;
        if self.dirs[d].scan.at_item_start() {
            if let Some(step) = self.item_start(dir, data, ctx) {
                return step;
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
                let (reason, sev) = lex_error_reason(client, tok, tok_start, data);
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
    pub(super) fn discard(&mut self, dir: Dir, data: &[u8], eos: bool) -> Step {
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
}

/// Why a lexical error token `tok` (at `tok_start` in `data`) is skipped,
/// and how bad it is.
fn lex_error_reason(
    client: bool,
    tok: &[u8],
    tok_start: usize,
    data: &[u8],
) -> (Cow<'static, str>, Severity) {
    match tok {
        [0xFF] if client => ("parser reset (0xFF)".into(), Severity::Info),
        [b] if client && scan::is_reset_byte(*b) => {
            let what = if *b < 0x20 { "control byte " } else { "" };
            (
                format!("parser reset ({what}0x{b:02X})").into(),
                Severity::Info,
            )
        }
        [0xEF] if client && tok_start == 0 && data.starts_with(BOM) => (
            "malformed JSON: UTF-8 byte order mark (QEMU answers stray '\\uFFFD')".into(),
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
    }
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
