//! Formatting for humans: the one place that decides how qscope shows
//! things in `print`, `stats`, `follow` and the terminal UI.
//!
//! * Text from the wire goes through [`escape`] before it reaches a
//!   terminal: control characters, bidirectional overrides and other
//!   invisible format characters become visible escapes.
//! * Durations and latencies: [`latency`] (`401µs`, `2.8ms`, `412ms`,
//!   `1.20s`).
//! * Directions: [`arrow`] (`->` client to server, `<-` server to client).
//! * Counted nouns: [`plural`] (`1 session`, `2 sessions`).
//! * Decoded values on one line: [`value_text`]; JSON re-indented:
//!   [`pretty_json`].
//! * Raw bytes (text, hex, masking of secrets): [`bytes`].
//! * Colour for `print --color` (palette, `NO_COLOR`): [`color`].

pub mod bytes;
pub mod color;

use std::borrow::Cow;
use std::fmt::Write as _;

use qscope_dissectors::{Dir, Proto, Value};

pub use bytes::*;

/// Makes text safe for a terminal: control characters (C0, DEL, C1),
/// bidirectional overrides and other invisible format characters become
/// visible escapes (`\x1b`, `\u{202e}`).
pub fn escape(s: &str) -> Cow<'_, str> {
    fn bad(c: char) -> bool {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
    }
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && bad(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if bad(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Shortens `s` to at most `max` characters, marking the cut.
pub fn abbreviate(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some((cut, _)) => Cow::Owned(format!("{}… ({} more bytes)", &s[..cut], s.len() - cut)),
    }
}

/// [`abbreviate`] for an owned string (kept as it is when short enough).
pub fn abbreviate_owned(s: String, max: usize) -> String {
    match abbreviate(&s, max) {
        Cow::Borrowed(_) => s,
        Cow::Owned(o) => o,
    }
}

/// Re-indents a strict JSON text (2 spaces per level) without parsing it
/// into a tree; numbers and strings are kept exactly as written.
pub fn pretty_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    let mut chars = text.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    };
    while let Some(c) = chars.next() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                // keep empty containers on one line
                while matches!(chars.peek(), Some(' ' | '\t' | '\r' | '\n')) {
                    chars.next();
                }
                if matches!(chars.peek(), Some('}' | ']')) {
                    if let Some(close) = chars.next() {
                        out.push(close);
                    }
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            ' ' | '\t' | '\r' | '\n' => {}
            c => out.push(c),
        }
    }
    out
}

/// The ending of a noun counted `n` times: `""` for one, else `"s"`.
pub fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A duration or latency in microseconds, short: `401µs`, `2.8ms`,
/// `412ms`, `1.20s`, `123s` (negative ones with a `-`).
pub fn latency(us: i64) -> String {
    let sign = if us < 0 { "-" } else { "" };
    let a = us.unsigned_abs();
    if a < 1000 {
        format!("{sign}{a}µs")
    } else if a < 100_000 {
        format!("{sign}{:.1}ms", a as f64 / 1e3)
    } else if a < 1_000_000 {
        format!("{sign}{}ms", a / 1000)
    } else if a < 100_000_000 {
        format!("{sign}{:.2}s", a as f64 / 1e6)
    } else {
        format!("{sign}{}s", a / 1_000_000)
    }
}

/// A time difference with its sign always shown: `+401µs`, `-2.8ms`.
pub fn delta(us: i64) -> String {
    if us < 0 {
        latency(us)
    } else {
        format!("+{}", latency(us))
    }
}

/// The direction as an arrow: `->` client to server, `<-` server to client.
pub fn arrow(d: Dir) -> &'static str {
    match d {
        Dir::C2S => "->",
        Dir::S2C => "<-",
    }
}

/// The direction in words.
pub fn dir_text(d: Dir) -> &'static str {
    match d {
        Dir::C2S => "c2s (client -> server)",
        Dir::S2C => "s2c (server -> client)",
    }
}

/// Latin-1 with MultiValue marks made visible (`<FM>`...), escaped.
pub fn qm_text(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for &c in b {
        match c {
            0xFF => s.push_str("<IM>"),
            0xFE => s.push_str("<FM>"),
            0xFD => s.push_str("<VM>"),
            0xFC => s.push_str("<SM>"),
            0xFB => s.push_str("<TM>"),
            c => s.push(char::from(c)),
        }
    }
    escape(&s).into_owned()
}

/// Bytes as text: valid UTF-8 escaped, other bytes as `\xNN`.
pub fn bytes_text(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        s.push_str(&escape(chunk.valid()));
        for x in chunk.invalid() {
            let _ = write!(s, "\\x{x:02x}");
        }
    }
    s
}

/// A decoded value on one line, at most `max` characters: strings quoted
/// and escaped, QM bytes with their marks, other non-UTF-8 bytes in hex,
/// JSON as sent (escaped), structures as their size.
pub fn value_text(v: &Value, proto: Option<Proto>, max: usize) -> String {
    let s = match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Str(s) => format!("\"{}\"", escape(s)),
        Value::Bytes(b)
            if proto
                .and_then(Proto::protocol)
                .is_some_and(|p| p.display.marks) =>
        {
            format!("\"{}\"", qm_text(b))
        }
        Value::Bytes(b) => match std::str::from_utf8(b) {
            Ok(s) => format!("\"{}\"", escape(s)),
            Err(_) => {
                let mut h = String::from("hex ");
                for x in b.iter().take(256) {
                    let _ = write!(h, "{x:02x}");
                }
                if b.len() > 256 {
                    let _ = write!(h, "… ({} bytes)", b.len());
                }
                h
            }
        },
        Value::Json(t) => escape(t).into_owned(),
        Value::Struct(f) => format!("{} fields", f.len()),
        Value::List(f) => format!("{} item{}", f.len(), plural(f.len() as u64)),
    };
    abbreviate(&s, max).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_makes_control_bytes_visible() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape("a\u{1b}[2Jb"), "a\\x1b[2Jb");
        assert_eq!(escape("\u{9b}x\u{202e}"), "\\u{9b}x\\u{202e}");
        assert_eq!(escape("a\\b\r\n"), "a\\b\\r\\n");
    }

    #[test]
    fn pretty_json_keeps_tokens() {
        let p = pretty_json(r#"{"a": [1, 2.50], "b": {}, "c": "x,{y}"}"#);
        assert_eq!(
            p,
            "{\n  \"a\": [\n    1,\n    2.50\n  ],\n  \"b\": {},\n  \"c\": \"x,{y}\"\n}"
        );
    }

    #[test]
    fn abbreviate_marks_cut() {
        assert_eq!(abbreviate("abcdef", 3), "abc… (3 more bytes)");
        assert_eq!(abbreviate("abc", 3), "abc");
    }

    #[test]
    fn latencies_are_short_and_one_format() {
        assert_eq!(latency(401), "401µs");
        assert_eq!(latency(2_800), "2.8ms");
        assert_eq!(latency(412_300), "412ms");
        assert_eq!(latency(1_204_000), "1.20s");
        assert_eq!(latency(123_000_000), "123s");
        assert_eq!(latency(-5), "-5µs");
        assert_eq!(delta(401), "+401µs");
        assert_eq!(delta(-2_800), "-2.8ms");
    }
}
