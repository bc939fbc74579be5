//! Telling the forms apart (mqserver.md section 8), finding
//! resynchronisation points (TEXT after a NUL, EARLY header with CRC, XML
//! document start), and the content probe (sections 8, 11, D20).

use super::common::*;
use super::early::{self, Test};
use super::{text, xdr, xml};
use crate::{SessionStart, Verdict};

/// How many bytes of each side the probe looks at.
pub const PROBE_WINDOW: usize = 64 << 10;
/// Mid-stream: give up when both sides showed this much without a start.
const MID_WINDOW: usize = 4096;

/// What the front of a direction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Clearly not MQServer.
    No,
    /// Undecided.
    More,
    /// A message of `form` with type `msgtype`; `full` when it parsed
    /// completely (TEXT/EARLY: terminator at LEN; XDR: exact body; XML:
    /// `</xds>`).
    Msg {
        form: Form,
        msgtype: i64,
        full: bool,
    },
    /// The header shape of `form`, but not a decodable message (framing
    /// error, type outside 1-19): enough to choose the form of a
    /// direction, not to claim a session.
    Shape(Form),
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Leading whitespace (skipped before the text forms).
pub fn leading_ws(b: &[u8]) -> usize {
    b.iter().take_while(|&&c| is_ws(c)).count()
}

/// The prefix tests of section 8, in order, on the first bytes of a
/// direction: the form, `Some(None)` for none of them, `None` while too
/// few bytes are there to tell.
pub fn form_test(b: &[u8]) -> Option<Option<Form>> {
    let s = b.get(leading_ws(b)..).unwrap_or(&[]);
    let mut undecided = s.is_empty();
    match xml::starts_doc(s) {
        Some(true) => return Some(Some(Form::Xml)),
        None if !s.is_empty() => undecided = true,
        _ => {}
    }
    // `^[0-9]{1,10}[ \t]*\|`
    let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
    if (1..=10).contains(&digits) {
        let rest = s.get(digits..).unwrap_or(&[]);
        let sp = rest
            .iter()
            .take_while(|&&c| c == b' ' || c == b'\t')
            .count();
        match rest.get(sp) {
            Some(b'|') => return Some(Some(Form::Text)),
            None if sp < 64 => undecided = true,
            _ => {}
        }
    } else if digits == s.len() && digits <= 10 && !s.is_empty() {
        undecided = true;
    }
    match xdr::looks_like_header(b) {
        Some(true) => return Some(Some(Form::Xdr)),
        None => undecided = true,
        Some(false) => {}
    }
    match early::candidate(b, 0, false, Test::Shape) {
        Some(true) => return Some(Some(Form::Early)),
        None => undecided = true,
        Some(false) => {}
    }
    if undecided {
        None
    } else {
        Some(None)
    }
}

/// Classifies the front of a direction (section 8, in order).
pub fn classify(b: &[u8], eos: bool) -> Class {
    let ws = leading_ws(b);
    let s = b.get(ws..).unwrap_or(&[]);
    if s.is_empty() {
        return if eos || b.len() >= PROBE_WINDOW {
            Class::No
        } else {
            Class::More
        };
    }
    let mut more = false;
    // XML.
    match xml::starts_doc(s) {
        Some(true) => {
            let mut hint = 0;
            return match xml::parse_front(s, eos, &mut hint) {
                xml::XStep::Frame(f) => Class::Msg {
                    form: Form::Xml,
                    msgtype: f.msgtype.value,
                    full: true,
                },
                xml::XStep::NeedMore if xml_plausible(s) => Class::More,
                _ => Class::No,
            };
        }
        None => more = true,
        Some(false) => {}
    }
    // TEXT: `^[0-9]{1,10}[ \t]*\|`.
    if s.first().is_some_and(u8::is_ascii_digit) {
        match text::parse_front(s, eos) {
            text::TStep::Frame { frame, exact } => {
                return Class::Msg {
                    form: Form::Text,
                    msgtype: frame.msgtype.value,
                    full: exact,
                }
            }
            text::TStep::NeedMore => more = true,
            text::TStep::Skip { .. } => return Class::Shape(Form::Text),
            text::TStep::Malformed(_) => {}
        }
    }
    // XDR.
    match xdr::looks_like_header(b) {
        Some(true) => {
            let t = be_u16(b, 6).map_or(0, i64::from);
            return match xdr::parse_front(b, eos) {
                xdr::DStep::Frame(_) => Class::Msg {
                    form: Form::Xdr,
                    msgtype: t,
                    full: true,
                },
                xdr::DStep::HeaderOnly(_) | xdr::DStep::NeedMore => Class::Msg {
                    form: Form::Xdr,
                    msgtype: t,
                    full: false,
                },
                xdr::DStep::Stop { .. } => Class::Shape(Form::Xdr),
            };
        }
        None => more = true,
        Some(false) => {}
    }
    // EARLY.
    match early::candidate(b, 0, eos, Test::Shape) {
        Some(true) => {
            let t = be_u16(b, 4).map_or(0, i64::from);
            match early::candidate(b, 0, eos, Test::Terminator) {
                Some(true) => {
                    return Class::Msg {
                        form: Form::Early,
                        msgtype: t,
                        full: true,
                    }
                }
                None => {
                    return Class::Msg {
                        form: Form::Early,
                        msgtype: t,
                        full: false,
                    }
                }
                Some(false) => return Class::Shape(Form::Early),
            }
        }
        None => more = true,
        Some(false) => {}
    }
    if more && !eos && b.len() < PROBE_WINDOW {
        Class::More
    } else {
        Class::No
    }
}

/// An incomplete XML document that may still be an MQServer message: after
/// the declaration and any `<!...>`, an `<xds>` element whose first
/// element, if present, is `<int32>`.
fn xml_plausible(s: &[u8]) -> bool {
    if s.len() >= PROBE_WINDOW {
        return false;
    }
    let mut p = 0usize;
    if prefix_ci(s, b"<?xml") == Some(true) {
        match s.iter().position(|&c| c == b'>') {
            Some(e) => p = e + 1,
            None => return s.len() < 512,
        }
    }
    loop {
        let rest = s.get(p..).unwrap_or(&[]);
        let rest = rest.get(leading_ws(rest)..).unwrap_or(&[]);
        if rest.is_empty() {
            return true;
        }
        match prefix_ci(rest, b"<!") {
            Some(true) => match rest.iter().position(|&c| c == b'>') {
                Some(e) => {
                    p = s.len() - rest.len() + e + 1;
                    continue;
                }
                None => return rest.len() < 512,
            },
            None => return true,
            Some(false) => {}
        }
        return match xml::starts_doc(rest) {
            Some(true) => {
                let Some(gt) = rest.iter().position(|&c| c == b'>') else {
                    return true;
                };
                let body = rest.get(gt + 1..).unwrap_or(&[]);
                let body = body.get(leading_ws(body)..).unwrap_or(&[]);
                prefix_ci(body, b"<int32>") != Some(false)
            }
            None => true,
            Some(false) => false,
        };
    }
}

/// A resynchronisation search result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// A message of this form starts at this position.
    At(usize, Form),
    /// Nothing before this position; it cannot be decided yet.
    Undecided(usize),
    /// Nothing in the buffer.
    None,
}

/// Looks for the first resynchronisation point at or after `from`: an XML
/// document start, a complete TEXT message right after a NUL (or after the
/// CR/LF that may follow one), or an EARLY
/// header whose terminator and CRC check out. `only` restricts the form
/// (XDR has none). `text_at0`: position 0 follows a NUL, CR or LF.
pub fn find_anchor(
    data: &[u8],
    from: usize,
    only: Option<Form>,
    eos: bool,
    text_at0: bool,
) -> Anchor {
    let want = |f: Form| only.is_none_or(|o| o == f);
    if only == Some(Form::Xdr) {
        return Anchor::None;
    }
    let mut i = from;
    while i < data.len() {
        let rest = data.get(i..).unwrap_or(&[]);
        let mut undecided = false;
        if want(Form::Xml) && rest.first() == Some(&b'<') {
            match xml::starts_doc(rest) {
                Some(true) => return Anchor::At(i, Form::Xml),
                None if !eos => undecided = true,
                _ => {}
            }
        }
        let after_nul = if i == 0 {
            text_at0
        } else {
            matches!(data.get(i - 1), Some(0 | b'\r' | b'\n'))
        };
        if want(Form::Text) && after_nul && rest.first().is_some_and(u8::is_ascii_digit) {
            match text::anchor(rest) {
                Some(true) => return Anchor::At(i, Form::Text),
                None if !eos && rest.len() < (1 << 16) => undecided = true,
                _ => {}
            }
        }
        if want(Form::Early) {
            match early::candidate(data, i, eos, Test::Strict) {
                Some(true) => return Anchor::At(i, Form::Early),
                None => undecided = true,
                Some(false) => {}
            }
        }
        if undecided {
            return Anchor::Undecided(i);
        }
        i += 1;
    }
    Anchor::None
}

/// The type of the message at an anchor.
fn anchor_type(data: &[u8], at: usize, form: Form) -> Option<i64> {
    let rest = data.get(at..)?;
    match form {
        Form::Xml => {
            let mut hint = 0;
            match xml::parse_front(rest, false, &mut hint) {
                xml::XStep::Frame(f) => Some(f.msgtype.value),
                _ => None,
            }
        }
        Form::Text => match text::parse_front(rest, false) {
            text::TStep::Frame { frame, .. } => Some(frame.msgtype.value),
            _ => None,
        },
        Form::Early => be_u16(rest, 4).map(i64::from),
        Form::Xdr => be_u16(rest, 6).map(i64::from),
    }
}

/// +1 for a server-only type, -1 for a client-only one.
fn server_score(t: i64) -> i32 {
    match origin(t) {
        Origin::Server => 1,
        Origin::Client => -1,
        Origin::Both => 0,
    }
}

/// Decides whether the first bytes of a session are MQServer, in any form.
pub fn probe(c2s: &[u8], s2c: &[u8], start: SessionStart) -> Verdict {
    let win = |b: &[u8]| b.len().min(PROBE_WINDOW);
    let c2s = c2s.get(..win(c2s)).unwrap_or(c2s);
    let s2c = s2c.get(..win(s2c)).unwrap_or(s2c);
    if start.mid_stream {
        return probe_mid(c2s, s2c);
    }
    let claim = |k: Class| match k {
        Class::Shape(_) => Class::No,
        other => other,
    };
    let s = claim(classify(s2c, false));
    let c = claim(classify(c2s, false));
    if s == Class::No || c == Class::No {
        return Verdict::NoMatch(None);
    }
    match (s, c) {
        (
            Class::Msg {
                msgtype: SRVCAP, ..
            },
            _,
        ) => Verdict::Match { swap: false },
        (
            _,
            Class::Msg {
                msgtype: SRVCAP, ..
            },
        ) => Verdict::Match { swap: true },
        (
            Class::Msg {
                msgtype: ts,
                full: fs,
                ..
            },
            Class::Msg {
                msgtype: tc,
                full: fc,
                ..
            },
        ) if fs || fc => Verdict::Match {
            swap: server_score(tc) > server_score(ts),
        },
        (
            Class::Msg {
                msgtype,
                full: true,
                ..
            },
            Class::More,
        ) => Verdict::Match {
            swap: origin(msgtype) == Origin::Client,
        },
        (
            Class::More,
            Class::Msg {
                msgtype,
                full: true,
                ..
            },
        ) => Verdict::Match {
            swap: origin(msgtype) == Origin::Server,
        },
        _ => Verdict::NeedMore,
    }
}

/// Mid-stream: look for resynchronisation points (or an XDR header right
/// at the front) on both sides.
fn probe_mid(c2s: &[u8], s2c: &[u8]) -> Verdict {
    let look = |b: &[u8]| -> Option<(Form, i64)> {
        if let Class::Msg {
            form: Form::Xdr,
            msgtype,
            full: true,
        } = classify(b, false)
        {
            return Some((Form::Xdr, msgtype));
        }
        match find_anchor(b, 0, None, false, false) {
            Anchor::At(i, f) => anchor_type(b, i, f).map(|t| (f, t)),
            _ => None,
        }
    };
    let s = look(s2c);
    let c = look(c2s);
    match (s, c) {
        (Some((_, ts)), Some((_, tc))) => Verdict::Match {
            swap: server_score(tc) > server_score(ts),
        },
        (Some((_, ts)), None) => Verdict::Match {
            swap: origin(ts) == Origin::Client,
        },
        (None, Some((_, tc))) => Verdict::Match {
            swap: origin(tc) == Origin::Server,
        },
        (None, None) => {
            let full = |b: &[u8]| b.len() >= MID_WINDOW;
            if (full(c2s) && full(s2c)) || c2s.len() >= PROBE_WINDOW || s2c.len() >= PROBE_WINDOW {
                Verdict::NoMatch(None)
            } else {
                Verdict::NeedMore
            }
        }
    }
}
