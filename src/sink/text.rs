//! The text printer (`qscope print`): one line per message, `-V` for the
//! decoded field tree. Every string that came from the wire goes through
//! [`escape`], so no raw control byte or escape sequence reaches a terminal.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};

use qscope_dissectors::{Dir, Field, Severity, Value};

use crate::capture::Timestamp;
use crate::record::{Flow, Record, Sink, Summary};

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

/// How `print` shows times (`-t`, as tshark's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TimeFormat {
    /// Seconds since the capture's first packet.
    #[default]
    Relative,
    /// UTC time of day.
    Absolute,
    /// UTC date and time (RFC 3339).
    AbsoluteDate,
    /// Seconds since the previous line printed.
    Delta,
    /// Seconds since the Unix epoch.
    Epoch,
}

/// Formats `ts` for the time column: `t0` is the capture's first packet,
/// `prev` the time of the previous line printed (if any).
pub fn format_time(
    fmt: TimeFormat,
    ts: Timestamp,
    t0: Timestamp,
    prev: Option<Timestamp>,
) -> String {
    let secs = |us: i64| format!("{:>11.6}", us as f64 / 1e6);
    match fmt {
        TimeFormat::Relative => secs(ts.micros_since(&t0)),
        TimeFormat::Delta => secs(prev.map_or(0, |p| ts.micros_since(&p))),
        TimeFormat::Epoch => {
            let frac = if ts.nano {
                format!("{:09}", ts.nanos)
            } else {
                format!("{:06}", ts.nanos / 1000)
            };
            format!("{}.{frac}", ts.secs)
        }
        TimeFormat::AbsoluteDate => ts.rfc3339(),
        TimeFormat::Absolute => {
            let s = ts.rfc3339();
            // "YYYY-MM-DDTHH:MM:SS.ffffffZ" -> "HH:MM:SS.ffffff"
            match s.split_once('T') {
                Some((_, t)) => t.trim_end_matches('Z').to_string(),
                None => s,
            }
        }
    }
}

/// Prints a timeline, one line per message.
pub struct TextPrinter<W: Write> {
    out: W,
    /// Print the decoded fields of every message.
    pub verbose: bool,
    /// Longest value shown per field in verbose mode (characters).
    pub max_value: usize,
    /// Flush after every record (live capture, terminals).
    pub flush_each: bool,
    /// How the time column is shown.
    pub time_format: TimeFormat,
    /// Time of the previous line printed (for [`TimeFormat::Delta`]).
    prev_ts: Option<Timestamp>,
}

impl<W: Write> TextPrinter<W> {
    pub fn new(out: W, verbose: bool) -> Self {
        TextPrinter {
            out,
            verbose,
            max_value: 4000,
            flush_each: false,
            time_format: TimeFormat::Relative,
            prev_ts: None,
        }
    }

    /// The time column of a line about `ts` (`t0`: the capture's first packet).
    fn time(&mut self, ts: Timestamp, t0: Timestamp) -> String {
        let t = format_time(self.time_format, ts, t0, self.prev_ts);
        self.prev_ts = Some(ts);
        t
    }
}

fn arrow(dir: Dir) -> &'static str {
    match dir {
        Dir::C2S => "->",
        Dir::S2C => "<-",
    }
}

/// Formats a latency in µs for humans.
pub fn human_latency(us: i64) -> String {
    if us.abs() < 1000 {
        format!("{us} µs")
    } else if us.abs() < 1_000_000 {
        format!("{:.1} ms", us as f64 / 1e3)
    } else {
        format!("{:.2} s", us as f64 / 1e6)
    }
}

fn value_text(v: &Value, max: usize) -> String {
    let s = match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Str(s) => format!("\"{}\"", escape(s)),
        Value::Bytes(b) => match std::str::from_utf8(b) {
            Ok(s) => format!("\"{}\"", escape(s)),
            Err(_) => {
                let mut h = String::from("hex:");
                for byte in b {
                    let _ = write!(h, "{byte:02x}");
                }
                h
            }
        },
        // Pretty-printing only adds line breaks between tokens (a strict JSON
        // text has none inside strings), so escape it line by line.
        Value::Json(text) => pretty_json(text)
            .lines()
            .map(escape)
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Struct(_) | Value::List(_) => String::new(),
    };
    abbreviate(&s, max).into_owned()
}

fn write_fields(out: &mut String, fields: &[Field], indent: usize, max: usize) {
    for f in fields {
        let pad = "    ".repeat(indent);
        let range = match &f.range {
            Some(r) => format!("  [{}..{}]", r.start, r.end),
            None => String::new(),
        };
        let name = escape(&f.name);
        match &f.value {
            Value::Struct(children) | Value::List(children) => {
                let _ = writeln!(out, "{pad}{name}:{range}");
                write_fields(out, children, indent + 1, max);
            }
            v => {
                let text = value_text(v, max);
                let text = text.replace('\n', &format!("\n{pad}    "));
                let _ = writeln!(out, "{pad}{name}: {text}{range}");
            }
        }
    }
}

impl<W: Write> Sink for TextPrinter<W> {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
        let mut line = String::new();
        match rec {
            Record::Session(s) => {
                let _ = writeln!(
                    line,
                    "# {} {} {} -> {} start {}{}",
                    s.id,
                    s.proto,
                    s.client,
                    s.server,
                    s.start.rfc3339(),
                    if s.mid_stream {
                        " (picked up mid-stream)"
                    } else {
                        ""
                    }
                );
            }
            Record::Message(m) => {
                let t = self.time(m.ts, m.session.t0);
                let msg = m.msg;
                let _ = write!(
                    line,
                    "{t} {:<4} {} {:<4} {}{}",
                    m.session.id,
                    arrow(msg.dir),
                    m.session.proto,
                    escape(&msg.name),
                    // The marker, unless the name already says it (MQServer's ERROR).
                    if msg.is_error && !msg.name.eq_ignore_ascii_case("error") {
                        " ERROR"
                    } else {
                        ""
                    }
                );
                if !msg.summary.is_empty() {
                    let _ = write!(line, "  {}", escape(&msg.summary));
                }
                if let Some(l) = m.latency_us {
                    let _ = write!(line, "  ({})", human_latency(l));
                }
                line.push('\n');
                for n in &msg.notes {
                    if self.verbose || n.severity >= Severity::Warn {
                        let _ = writeln!(
                            line,
                            "{:>16}{}: {}",
                            "",
                            n.severity.as_str(),
                            escape(&n.text)
                        );
                    }
                }
                if self.verbose {
                    let _ = writeln!(
                        line,
                        "{:>16}#{} {} frame {} offset {} len {}{}",
                        "",
                        m.index,
                        msg.kind.as_str(),
                        m.frame,
                        msg.offset,
                        msg.len,
                        match m.reply_to {
                            Some(r) => format!(", reply to #{r}"),
                            None => String::new(),
                        }
                    );
                    for (role, i) in m.links {
                        let _ = writeln!(line, "{:>16}{} #{i}", "", role.replace('_', " "));
                    }
                    let mut tree = String::new();
                    write_fields(&mut tree, &msg.fields, 0, self.max_value);
                    for l in tree.lines() {
                        let _ = writeln!(line, "{:>16}{l}", "");
                    }
                }
            }
            Record::Gap(r) => {
                let t = self.time(r.ts, r.session.t0);
                let _ = writeln!(
                    line,
                    "{t} {:<4} {} GAP  {} bytes missing at {} offset {}",
                    r.session.id,
                    arrow(r.dir),
                    r.len,
                    r.dir.as_str(),
                    r.offset
                );
            }
            Record::Undecoded(r) => {
                if r.severity >= Severity::Warn || self.verbose {
                    let t = self.time(r.ts, r.session.t0);
                    let _ = writeln!(
                        line,
                        "{t} {:<4} {} ({} bytes at offset {}: {})",
                        r.session.id,
                        arrow(r.dir),
                        r.len,
                        r.offset,
                        escape(r.reason.unwrap_or("undecoded"))
                    );
                }
            }
            Record::SessionEnd(e) => {
                for n in e.notes {
                    if self.verbose || n.severity >= Severity::Warn || e.messages == 0 {
                        let _ = writeln!(
                            line,
                            "# {} {}: {}",
                            e.session.id,
                            n.severity.as_str(),
                            escape(&n.text)
                        );
                    }
                }
            }
        }
        self.out.write_all(line.as_bytes())?;
        if self.flush_each && !line.is_empty() {
            self.out.flush()?;
        }
        Ok(Flow::Continue)
    }

    fn finish(&mut self, s: &Summary) -> io::Result<()> {
        let mut line = format!(
            "# {} packets, {} sessions, {} messages, {} gaps ({} bytes), {} undecoded bytes",
            s.packets, s.sessions, s.messages, s.gaps, s.gap_bytes, s.undecoded_bytes
        );
        if let Some(d) = s.dropped {
            // Live capture: by the kernel or interface; relay: chunks
            // left undecoded because decoding fell behind.
            let _ = write!(line, ", {d} dropped");
        }
        if let Some(m) = s.matched {
            let _ = write!(line, ", {m} matching the filter");
        }
        line.push('\n');
        self.out.write_all(line.as_bytes())?;
        self.out.flush()
    }
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
}
