//! Turning decoded data into display lines: the field tree of a message,
//! the description of non-message rows, the stream view's lines and the
//! hex dump. Every string from the wire goes through [`escape`] here, so
//! rendering only ever sees safe text.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::ops::Range;

use qscope_dissectors::{Dir, Field, Proto, Severity, Value};

use super::index::{Row, RowKind};
use super::jobs::DecodedSession;
use super::state::State;
use crate::record::Collected;
use crate::sink::text::{escape, human_latency, pretty_json};

/// Longest value shown on one tree line (characters).
pub const MAX_VALUE: usize = 2000;
/// Most lines of the stream view.
pub const MAX_STREAM_LINES: usize = 200_000;

/// How a tree line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// The message's name line.
    Header,
    /// Where and when (offset, time, reply).
    Info,
    Note(Severity),
    Field,
    /// A line of pretty-printed JSON.
    Json,
}

/// One line of the detail tree.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeLine {
    pub depth: u16,
    pub kind: LineKind,
    /// Escaped.
    pub name: String,
    /// Escaped.
    pub value: String,
    /// Bytes of the message this line was decoded from.
    pub range: Option<Range<usize>>,
    /// Set on nodes that expand.
    pub path: Option<String>,
    pub expanded: bool,
}

impl TreeLine {
    fn info(name: &str, value: impl Into<String>) -> TreeLine {
        TreeLine {
            depth: 0,
            kind: LineKind::Info,
            name: name.to_string(),
            value: value.into(),
            range: None,
            path: None,
            expanded: false,
        }
    }

    pub fn note(text: &str) -> TreeLine {
        TreeLine {
            kind: LineKind::Note(Severity::Info),
            ..TreeLine::info("", escape(text).into_owned())
        }
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

fn cut(mut s: String, max: usize) -> String {
    if let Some((i, _)) = s.char_indices().nth(max) {
        let more = s.len() - i;
        s.truncate(i);
        let _ = write!(s, "… ({more} more bytes)");
    }
    s
}

fn value_text(v: &Value, proto: Option<Proto>) -> String {
    let s = match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Str(s) => format!("\"{}\"", escape(s)),
        Value::Bytes(b) if proto == Some(Proto::Qm) => format!("\"{}\"", qm_text(b)),
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
        Value::List(f) => format!("{} item{}", f.len(), if f.len() == 1 { "" } else { "s" }),
    };
    cut(s, MAX_VALUE)
}

fn push_fields(
    out: &mut Vec<TreeLine>,
    fields: &[Field],
    depth: u16,
    prefix: &str,
    proto: Option<Proto>,
    toggled: &HashSet<String>,
) {
    for (i, f) in fields.iter().enumerate() {
        let path = if prefix.is_empty() {
            i.to_string()
        } else {
            format!("{prefix}.{i}")
        };
        let name = escape(&f.name).into_owned();
        match &f.value {
            Value::Struct(children) | Value::List(children) => {
                let default = depth == 0 && children.len() <= 64;
                let expanded = default != toggled.contains(&path);
                out.push(TreeLine {
                    depth,
                    kind: LineKind::Field,
                    name,
                    value: value_text(&f.value, proto),
                    range: f.range.clone(),
                    path: Some(path.clone()),
                    expanded,
                });
                if expanded {
                    push_fields(out, children, depth + 1, &path, proto, toggled);
                }
            }
            Value::Json(text) => {
                let pretty = pretty_json(text);
                let n = pretty.lines().count();
                if n <= 1 {
                    out.push(TreeLine {
                        depth,
                        kind: LineKind::Field,
                        name,
                        value: value_text(&f.value, proto),
                        range: f.range.clone(),
                        path: None,
                        expanded: false,
                    });
                    continue;
                }
                let default = n <= 400;
                let expanded = default != toggled.contains(&path);
                out.push(TreeLine {
                    depth,
                    kind: LineKind::Field,
                    name,
                    value: if expanded {
                        format!("JSON, {n} lines")
                    } else {
                        cut(escape(text).into_owned(), 200)
                    },
                    range: f.range.clone(),
                    path: Some(path),
                    expanded,
                });
                if expanded {
                    for l in pretty.lines() {
                        out.push(TreeLine {
                            depth: depth + 1,
                            kind: LineKind::Json,
                            name: String::new(),
                            value: cut(escape(l).into_owned(), MAX_VALUE),
                            range: f.range.clone(),
                            path: None,
                            expanded: false,
                        });
                    }
                }
            }
            v => out.push(TreeLine {
                depth,
                kind: LineKind::Field,
                name,
                value: value_text(v, proto),
                range: f.range.clone(),
                path: None,
                expanded: false,
            }),
        }
    }
}

fn dir_text(d: Dir) -> &'static str {
    match d {
        Dir::C2S => "c2s (client -> server)",
        Dir::S2C => "s2c (server -> client)",
    }
}

/// The tree of a decoded message.
pub fn message_lines(
    m: &Collected,
    proto: Option<Proto>,
    toggled: &HashSet<String>,
) -> Vec<TreeLine> {
    let msg = &m.msg;
    let mut out = vec![TreeLine {
        kind: LineKind::Header,
        ..TreeLine::info(
            &format!("#{} {}", m.index, msg.kind.as_str()),
            format!(
                "{}{}",
                escape(&msg.name),
                if msg.is_error { "  ERROR" } else { "" }
            ),
        )
    }];
    out.push(TreeLine::info(
        "bytes",
        format!(
            "{} offset {} len {}",
            dir_text(msg.dir),
            msg.offset,
            msg.len
        ),
    ));
    out.push(TreeLine::info("time", m.ts.rfc3339()));
    out.push(TreeLine::info("frame", m.frame.to_string()));
    if let Some(r) = m.reply_to {
        let lat = m
            .latency_us
            .map(|l| format!(", latency {}", human_latency(l)))
            .unwrap_or_default();
        out.push(TreeLine::info(
            "reply to",
            format!("#{r}{lat}   (r: jump to it)"),
        ));
    }
    for (role, i) in &m.links {
        out.push(TreeLine::info(&role.replace('_', " "), format!("#{i}")));
    }
    if !msg.summary.is_empty() {
        out.push(TreeLine::info(
            "summary",
            cut(escape(&msg.summary).into_owned(), MAX_VALUE),
        ));
    }
    for n in &msg.notes {
        out.push(TreeLine {
            kind: LineKind::Note(n.severity),
            ..TreeLine::info(n.severity.as_str(), escape(&n.text).into_owned())
        });
    }
    push_fields(&mut out, &msg.fields, 0, "", proto, toggled);
    out
}

/// What a non-message row is about.
pub fn row_lines(st: &State, id: usize, row: &Row) -> Vec<TreeLine> {
    let Some(s) = st.sessions.get(row.session as usize) else {
        return vec![TreeLine::info("row", format!("#{id}"))];
    };
    let mut out = Vec::new();
    let info = &s.info;
    let head = |name: &str, value: String| TreeLine {
        kind: LineKind::Header,
        ..TreeLine::info(name, value)
    };
    match row.kind() {
        RowKind::Open | RowKind::End => {
            out.push(head(
                &format!("session {}", info.id),
                format!("{} {} -> {}", info.proto, info.client, info.server),
            ));
            out.push(TreeLine::info("start", info.start.rfc3339()));
            if info.mid_stream {
                out.push(TreeLine::info(
                    "picked up",
                    "mid-stream (its start was not captured)",
                ));
            }
            out.push(TreeLine::info("state", s.state_label()));
            out.push(TreeLine::info(
                "messages",
                format!(
                    "{} ({} requests, {} errors, {} with warnings)",
                    s.messages, s.requests, s.errors, s.warnings
                ),
            ));
            out.push(TreeLine::info("duration", human_latency(s.duration_us())));
            for (k, v) in &s.attrs {
                out.push(TreeLine::info(k, v.clone()));
            }
            for n in &s.notes {
                out.push(TreeLine {
                    kind: LineKind::Note(n.severity),
                    ..TreeLine::info(n.severity.as_str(), n.text.to_string())
                });
            }
        }
        RowKind::Gap => {
            out.push(head(
                "gap",
                format!("{} bytes missing from the capture", row.range_len()),
            ));
            out.push(TreeLine::info("direction", dir_text(row.dir())));
            out.push(TreeLine::info("session", info.id.clone()));
        }
        RowKind::Undecoded => {
            out.push(head(
                "undecoded",
                format!("{} bytes: {}", row.range_len(), st.index.text(row)),
            ));
            out.push(TreeLine::info("direction", dir_text(row.dir())));
            out.push(TreeLine::info("session", info.id.clone()));
        }
        RowKind::Note | RowKind::Message => {
            let p = st.notes.partition_point(|n| (n.row as usize) < id);
            let text = st
                .notes
                .get(p)
                .filter(|n| n.row as usize == id)
                .map(|n| n.text.to_string())
                .unwrap_or_else(|| st.index.text(row).to_string());
            out.push(head(
                "note",
                row.severity().map_or("info", |s| s.as_str()).to_string(),
            ));
            out.push(TreeLine::info("text", text));
            out.push(TreeLine::info("session", info.id.clone()));
        }
    }
    out
}

/// What a stream line shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Data(Dir),
    Gap,
    Info,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamLine {
    pub kind: StreamKind,
    /// Escaped.
    pub text: String,
}

fn push_line(out: &mut Vec<StreamLine>, kind: StreamKind, text: String) -> bool {
    if out.len() >= MAX_STREAM_LINES {
        return false;
    }
    out.push(StreamLine { kind, text });
    true
}

/// Hex dump lines of `b`, whose first byte is at `base`.
pub fn hex_dump(b: &[u8], base: u64, per: usize, qm: bool) -> Vec<String> {
    b.chunks(per)
        .enumerate()
        .map(|(i, c)| {
            let mut s = format!("{:08x}  ", base + (i * per) as u64);
            for k in 0..per {
                match c.get(k) {
                    Some(x) => {
                        let _ = write!(s, "{x:02x} ");
                    }
                    None => s.push_str("   "),
                }
            }
            s.push(' ');
            for x in c {
                s.push(ascii(*x, qm));
            }
            s
        })
        .collect()
}

/// The hex view's character for a byte: printable ASCII, MultiValue
/// marks (QM) as `^ ] \ | ~`, anything else as `.`.
pub fn ascii(x: u8, qm: bool) -> char {
    match x {
        0x20..=0x7e => char::from(x),
        0xFE if qm => '^',
        0xFD if qm => ']',
        0xFC if qm => '\\',
        0xFB if qm => '|',
        0xFF if qm => '~',
        _ => '.',
    }
}

/// The stream view: the conversation in arrival order, client and
/// server bytes apart, gaps marked.
/// Text lines longer than `wrap` characters are wrapped.
pub fn stream_lines(
    d: &DecodedSession,
    proto: Option<Proto>,
    hex: bool,
    wrap: usize,
) -> Vec<StreamLine> {
    let qm = proto == Some(Proto::Qm);
    let mut out = Vec::new();
    let kept = [d.streams[0].kept(), d.streams[1].kept()];
    push_line(
        &mut out,
        StreamKind::Info,
        format!(
            "{} bytes client -> server, {} bytes server -> client{}",
            kept[0],
            kept[1],
            if d.complete { "" } else { " (so far)" }
        ),
    );
    for (i, s) in d.streams.iter().enumerate() {
        if s.trimmed_to > 0 {
            push_line(
                &mut out,
                StreamKind::Info,
                format!(
                    "({} bytes before offset {} not kept: memory limit)",
                    if i == 0 { "c2s" } else { "s2c" },
                    s.trimmed_to
                ),
            );
        }
    }
    for c in &d.chunks {
        if c.gap {
            if !push_line(
                &mut out,
                StreamKind::Gap,
                format!(
                    "[... {} bytes missing from the capture ({} at offset {}) ...]",
                    c.len,
                    c.dir.as_str(),
                    c.offset
                ),
            ) {
                break;
            }
            continue;
        }
        let s = &d.streams[c.dir.idx()];
        let b = s.get_partial(c.offset, c.len as usize);
        if b.is_empty() {
            continue;
        }
        let kind = StreamKind::Data(c.dir);
        let mut full = true;
        if hex {
            for l in hex_dump(b, c.offset, 16, qm) {
                if !push_line(&mut out, kind, l) {
                    full = false;
                    break;
                }
            }
        } else {
            for line in b.split_inclusive(|x| *x == b'\n') {
                let line = line.strip_suffix(b"\n").unwrap_or(line);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let text = if qm { qm_text(line) } else { bytes_text(line) };
                let mut rest = text.as_str();
                loop {
                    let cut_at = rest
                        .char_indices()
                        .nth(wrap.max(1))
                        .map_or(rest.len(), |(i, _)| i);
                    if !push_line(&mut out, kind, rest[..cut_at].to_string()) {
                        full = false;
                        break;
                    }
                    rest = &rest[cut_at..];
                    if rest.is_empty() {
                        break;
                    }
                }
                if !full {
                    break;
                }
            }
        }
        if !full {
            break;
        }
    }
    if out.len() >= MAX_STREAM_LINES || d.chunks_dropped {
        out.push(StreamLine {
            kind: StreamKind::Info,
            text: "(more not shown: export the session for everything)".into(),
        });
    }
    out
}
