//! Text for people: summaries on one line, escaped and truncated strings.

use super::json::{self, Node};
use crate::toolkit::clip_chars;
use crate::{Field, Message, Value};

/// Longest summary, in characters.
pub(super) const SUMMARY_MAX: usize = 100;
/// Bytes of a value looked at for a summary.
pub(super) const PREVIEW: usize = 4 * SUMMARY_MAX;
pub(super) const QEMU_ONLY: &str =
    "QEMU-only syntax (single quotes, \\' or C0 80): value re-serialised as strict JSON";

/// One line of at most `max` characters: line breaks and the indentation
/// after them collapse, control characters are escaped.
pub(super) fn one_line(s: &str, max: usize) -> String {
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
pub(super) fn esc(s: &str, max: usize) -> String {
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
pub(super) fn token_text(b: &[u8]) -> String {
    esc(&String::from_utf8_lossy(b), 60)
}

/// The `id` field of a request or reply, and its summary text
/// (`id=...`, at most 40 characters of it; none when `lean`).
pub(super) fn push_id(m: &mut Message, idn: &Node, text: &[u8], strict: bool, lean: bool) -> String {
    let t = json::node_text(idn, text, strict);
    let shown = if lean {
        String::new()
    } else {
        format!("id={}", clip_chars(&t, 40))
    };
    m.fields
        .push(Field::new("id", Some(idn.span.clone()), Value::Json(t)));
    shown
}
