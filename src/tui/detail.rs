//! Turning decoded data into display lines: the field tree of a message,
//! the description of non-message rows, the stream view's lines and the
//! hex dump. Every string from the wire goes through [`escape`] here, so
//! rendering only ever sees safe text.

use std::collections::HashSet;
use std::ops::Range;

use qscope_dissectors::{Dir, Field, Proto, Severity, Value};

use super::index::{Row, RowKind};
use super::jobs::DecodedSession;
use super::state::State;
use crate::human::{self, escape, pretty_json};
use crate::record::Collected;

/// Longest value shown on one tree line (characters).
pub const MAX_VALUE: usize = 2000;
/// Most lines of the stream view.
pub const MAX_STREAM_LINES: usize = 200_000;
/// Width of a hex row of 16 bytes ([`human::push_hex_row`]).
const HEX_ROW_16: usize = 78;

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
                    value: human::value_text(&f.value, proto, MAX_VALUE),
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
                        value: human::value_text(&f.value, proto, MAX_VALUE),
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
                        human::abbreviate_owned(escape(text).into_owned(), 200)
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
                            value: human::abbreviate_owned(escape(l).into_owned(), MAX_VALUE),
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
                value: human::value_text(v, proto, MAX_VALUE),
                range: f.range.clone(),
                path: None,
                expanded: false,
            }),
        }
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
            human::dir_text(msg.dir),
            msg.offset,
            msg.len
        ),
    ));
    out.push(TreeLine::info("time", m.ts.rfc3339()));
    out.push(TreeLine::info("frame", m.frame.to_string()));
    if let Some(r) = m.reply_to {
        let lat = m
            .latency_us
            .map(|l| format!(", latency {}", human::latency(l)))
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
            human::abbreviate_owned(escape(&msg.summary).into_owned(), MAX_VALUE),
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
            out.push(TreeLine::info("duration", human::latency(s.duration_us())));
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
            out.push(TreeLine::info("direction", human::dir_text(row.dir())));
            out.push(TreeLine::info("session", info.id.clone()));
        }
        RowKind::Undecoded => {
            out.push(head(
                "undecoded",
                format!("{} bytes: {}", row.range_len(), st.index.text(row)),
            ));
            out.push(TreeLine::info("direction", human::dir_text(row.dir())));
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

/// The stream view: the conversation in arrival order, client and
/// server bytes apart, gaps marked. Bytes are shown by the rules of
/// [`crate::human`], as `qscope follow` shows them: the same escaping, the
/// same line breaks, secrets masked unless shown. Text lines longer than
/// `wrap` characters are wrapped (never inside an escape); hex rows have 16
/// bytes when `wrap` leaves room for them, else 8.
pub fn stream_lines(
    d: &DecodedSession,
    proto: Option<Proto>,
    hex: bool,
    wrap: usize,
) -> Vec<StreamLine> {
    let layout = human::Layout::of(proto.unwrap_or(Proto::Unknown), d.encoding.as_deref());
    // `wrap` is what the pane shows of a line after its 3-column prefix.
    let per = if wrap >= HEX_ROW_16 { 16 } else { 8 };
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
        let shown = human::shown(b, c.offset, &d.secrets[c.dir.idx()], d.show_secrets);
        let lines = if hex {
            human::hex_rows(shown, c.offset, per, layout.marks)
        } else {
            human::text_lines(shown, layout.line_breaks)
                .iter()
                .flat_map(|l| human::wrap(l, wrap).into_iter().map(str::to_owned))
                .collect()
        };
        if !lines.into_iter().all(|l| push_line(&mut out, kind, l)) {
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
