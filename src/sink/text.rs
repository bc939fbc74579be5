//! The text printer (`qscope print`): one line per message, `-V` for the
//! decoded field tree. Every string that came from the wire goes through
//! [`escape`], so no raw control byte or escape sequence reaches a terminal.
//! With colour on ([`TextPrinter::paint`]), SGR codes wrap pieces of text
//! that are already escaped, and removing them gives the uncoloured output
//! byte for byte.

use std::fmt::Write as _;
use std::io::{self, Write};

use qscope_dissectors::{Dir, Field, Proto, Severity, Value};

use crate::capture::Timestamp;
use crate::human::color::{Paint, Style, SLOW_US};
use crate::human::{self, escape};
use crate::record::{Flow, Record, Sink, Summary};

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
    /// Colour (`--color`); off by default.
    pub paint: Paint,
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
            paint: Paint::default(),
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

/// A field's value for `print -V`: JSON re-indented over several lines
/// (each escaped), anything else as [`human::value_text`].
fn value_text(v: &Value, proto: Proto, max: usize) -> String {
    match v {
        // Pretty-printing only adds line breaks between tokens (a strict JSON
        // text has none inside strings), so escape it line by line.
        Value::Json(text) => {
            let s = human::pretty_json(text)
                .lines()
                .map(escape)
                .collect::<Vec<_>>()
                .join("\n");
            human::abbreviate(&s, max).into_owned()
        }
        v => human::value_text(v, Some(proto), max),
    }
}

fn write_fields(
    out: &mut String,
    fields: &[Field],
    indent: usize,
    proto: Proto,
    max: usize,
    paint: Paint,
) {
    for f in fields {
        let pad = "    ".repeat(indent);
        let range = match &f.range {
            Some(r) => format!(
                "  {}",
                paint.paint(Style::Dim, &format!("[{}..{}]", r.start, r.end))
            ),
            None => String::new(),
        };
        let name = paint.paint(Style::Dim, &escape(&f.name)).into_owned();
        match &f.value {
            Value::Struct(children) | Value::List(children) => {
                let _ = writeln!(out, "{pad}{name}:{range}");
                write_fields(out, children, indent + 1, proto, max, paint);
            }
            v => {
                let text = value_text(v, proto, max);
                let text = text.replace('\n', &format!("\n{pad}    "));
                let _ = writeln!(out, "{pad}{name}: {text}{range}");
            }
        }
    }
}

impl<W: Write> Sink for TextPrinter<W> {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
        let mut line = String::new();
        let paint = self.paint;
        let p = |style: Style, text: &str| paint.paint(style, text).into_owned();
        let arrow = |d: Dir| {
            let style = match d {
                Dir::C2S => Style::C2s,
                Dir::S2C => Style::S2c,
            };
            p(style, human::arrow(d))
        };
        let severity = |sev: Severity| match sev {
            Severity::Error => Style::Error,
            Severity::Warn => Style::Warn,
            Severity::Info => Style::Dim,
        };
        match rec {
            Record::Bytes(_) | Record::Attr(_) => {}
            Record::Session(s) => {
                let head = format!(
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
                // (The session's id and addresses are qscope's own text.)
                let _ = writeln!(line, "{}", p(Style::Header, &head));
            }
            Record::Message(m) => {
                let t = self.time(m.ts, m.session.t0);
                let msg = m.msg;
                let text = if msg.is_error {
                    Style::Error
                } else {
                    Style::Plain
                };
                let _ = write!(
                    line,
                    "{t} {:<4} {} {} {}{}",
                    m.session.id,
                    arrow(msg.dir),
                    p(Style::Dim, &format!("{:<4}", m.session.proto)),
                    p(text, &escape(&msg.name)),
                    // The marker, unless the name already says it (MQServer's ERROR).
                    if msg.is_error && !msg.name.eq_ignore_ascii_case("error") {
                        format!(" {}", p(Style::ErrorMark, "ERROR"))
                    } else {
                        String::new()
                    }
                );
                if !msg.summary.is_empty() {
                    let _ = write!(line, "  {}", p(text, &escape(&msg.summary)));
                }
                if let Some(l) = m.latency_us {
                    let style = if l > SLOW_US {
                        Style::Slow
                    } else {
                        Style::Plain
                    };
                    let _ = write!(line, "  ({})", p(style, &human::latency(l)));
                }
                line.push('\n');
                for n in &msg.notes {
                    if self.verbose || n.severity >= Severity::Warn {
                        let note = format!("{}: {}", n.severity.as_str(), escape(&n.text));
                        let _ = writeln!(line, "{:>16}{}", "", p(severity(n.severity), &note));
                    }
                }
                if self.verbose {
                    let about = format!(
                        "#{} {} frame {} offset {} len {}{}",
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
                    let _ = writeln!(line, "{:>16}{}", "", p(Style::Dim, &about));
                    for (role, i) in m.links {
                        let link = format!("{} #{i}", escape(&role.replace('_', " ")));
                        let _ = writeln!(line, "{:>16}{}", "", p(Style::Dim, &link));
                    }
                    let mut tree = String::new();
                    write_fields(
                        &mut tree,
                        &msg.fields,
                        0,
                        m.session.proto,
                        self.max_value,
                        paint,
                    );
                    for l in tree.lines() {
                        let _ = writeln!(line, "{:>16}{l}", "");
                    }
                }
            }
            Record::Gap(r) => {
                let t = self.time(r.ts, r.session.t0);
                let gap = format!(
                    "GAP  {} bytes missing at {} offset {}",
                    r.len,
                    r.dir.as_str(),
                    r.offset
                );
                let _ = writeln!(
                    line,
                    "{t} {:<4} {} {}",
                    r.session.id,
                    arrow(r.dir),
                    p(Style::Warn, &gap)
                );
            }
            Record::Undecoded(r) => {
                if r.severity >= Severity::Warn || self.verbose {
                    let t = self.time(r.ts, r.session.t0);
                    let what = format!(
                        "({} bytes at offset {}: {})",
                        r.len,
                        r.offset,
                        escape(r.reason.unwrap_or("undecoded"))
                    );
                    let _ = writeln!(
                        line,
                        "{t} {:<4} {} {}",
                        r.session.id,
                        arrow(r.dir),
                        p(severity(r.severity), &what)
                    );
                }
            }
            Record::SessionEnd(e) => {
                for (n, count) in e.notes {
                    if self.verbose || n.severity >= Severity::Warn || e.messages == 0 {
                        let mut note = format!(
                            "# {} {}: {}",
                            e.session.id,
                            n.severity.as_str(),
                            escape(&n.text)
                        );
                        if *count > 1 {
                            let _ = write!(note, " ({count} times)");
                        }
                        let _ = writeln!(line, "{}", p(severity(n.severity), &note));
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
        let n = |n: u64, one: &str| format!("{n} {one}{}", human::plural(n));
        let mut line = format!(
            "# {}, {}, {}, {} ({}), {}",
            n(s.packets, "packet"),
            n(s.sessions, "session"),
            n(s.messages, "message"),
            n(s.gaps, "gap"),
            n(s.gap_bytes, "byte"),
            n(s.undecoded_bytes, "undecoded byte")
        );
        if let Some(d) = s.dropped {
            // Live capture: by the kernel or interface; relay: chunks
            // left undecoded because decoding fell behind.
            let _ = write!(line, ", {d} dropped");
        }
        if let Some(m) = s.matched {
            let _ = write!(line, ", {m} matching the filter");
        }
        let line = format!("{}\n", self.paint.paint(Style::Dim, &line));
        self.out.write_all(line.as_bytes())?;
        self.out.flush()
    }
}
