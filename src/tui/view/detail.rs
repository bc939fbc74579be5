//! The detail panes of the timeline view: the selected row's field tree
//! (decoded on demand) beside its bytes in hex, the selected field's
//! range highlighted. Every string from the wire goes through [`escape`]
//! when the tree is built, so drawing only ever sees safe text.

use std::collections::HashSet;
use std::ops::Range;

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use qscope_dissectors::{Field, Proto, Severity, Value};

use crate::human::{self, escape, pretty_json, Secrets, Shown};
use crate::record::{Collected, STATE_ATTR};
use crate::tui::action::Outbox;
use crate::tui::decoded::Decodes;
use crate::tui::index::{Row, RowKind};
use crate::tui::jobs::WINDOW;
use crate::tui::layout::{inner, Layout};
use crate::tui::list::Scroll;
use crate::tui::model::Model;
use crate::tui::render::{pane_block, sel_style, sev_style, DIM};

/// The detail panes' state: the row shown, decoded, and the cursors.
#[derive(Debug, Default)]
pub struct DetailPane {
    /// Row id shown.
    pub row: Option<usize>,
    pub lines: Vec<TreeLine>,
    /// The message's bytes, when kept.
    pub bytes: Option<Vec<u8>>,
    /// Which of them hold secrets (offsets within the message).
    pub secrets: Secrets,
    /// `--show-secrets`: the hex pane does not mask them.
    pub show_secrets: bool,
    /// Why there is nothing (yet): "decoding s3…".
    pub status: Option<String>,
    pub proto: Option<Proto>,
    /// What the cache held when this was built (rebuild when it changes).
    stamp: (u64, u64, u64),
    /// The tree's cursor.
    pub tree: Scroll,
    /// First line of the hex dump (when the user scrolled it).
    pub hex_scroll: usize,
    /// Narrow screens show the tree or the hex dump.
    pub show_hex: bool,
    /// Tree nodes whose default expansion was flipped (by path).
    pub toggled: HashSet<String>,
    toggled_gen: u64,
}

/// What the panes show of one row.
#[derive(Default)]
struct Content {
    row: Option<usize>,
    lines: Vec<TreeLine>,
    bytes: Option<Vec<u8>>,
    secrets: Secrets,
    show_secrets: bool,
    status: Option<String>,
    proto: Option<Proto>,
    stamp: (u64, u64, u64),
}

impl DetailPane {
    fn set(&mut self, c: Content) {
        self.row = c.row;
        self.lines = c.lines;
        self.bytes = c.bytes;
        self.secrets = c.secrets;
        self.show_secrets = c.show_secrets;
        self.status = c.status;
        self.proto = c.proto;
        self.stamp = c.stamp;
    }

    /// Shows row `selected`: its tree and bytes when its session is
    /// decoded, else asks for the decode. `following`: a live capture is
    /// being followed (a decode under way is left to finish).
    pub fn refresh(
        &mut self,
        model: &Model,
        selected: Option<usize>,
        decodes: &mut Decodes,
        following: bool,
        out: &mut Outbox,
    ) {
        let Some(id) = selected else {
            self.set(Content::default());
            return;
        };
        let row = model.index.row(id);
        // A session's description changes as its rows arrive.
        let live = if row.kind() == RowKind::Message {
            0
        } else {
            model.index.len() as u64
        };
        let stamp = (decodes.gen, self.toggled_gen, live);
        if self.row == Some(id) && self.stamp == stamp && self.status.is_none() {
            return;
        }
        if self.row != Some(id) {
            self.tree = Scroll::default();
            self.hex_scroll = 0;
        }
        let sess = model.sessions.get(row.session as usize);
        let mut d = Content {
            row: Some(id),
            stamp,
            proto: sess.map(|s| s.info.proto),
            ..Default::default()
        };
        if row.kind() != RowKind::Message {
            d.lines = row_lines(model, id, &row);
            self.set(d);
            return;
        }
        let index = u64::from(row.index);
        match decodes.get(row.session) {
            Some(dec) if dec.covers(index) => match dec.message(index) {
                Some(m) => {
                    d.lines = message_lines(m, d.proto, &self.toggled);
                    let dir = m.msg.dir.idx();
                    d.bytes = dec.streams[dir]
                        .get(m.msg.offset, m.msg.len)
                        .map(|b| b.to_vec());
                    d.secrets = Secrets::within(&m.msg);
                    d.show_secrets = dec.show_secrets;
                    if d.bytes.is_none() {
                        d.lines
                            .push(TreeLine::note("(the bytes of this message were not kept)"));
                    }
                }
                None => d.status = Some("message not found when decoding again".into()),
            },
            _ => {
                if decodes.failed == Some((row.session, index)) {
                    d.status = Some("message not found when decoding again".into());
                } else {
                    let sid = sess.map(|s| s.info.id.clone()).unwrap_or_default();
                    d.status = Some(format!("decoding {sid} #{index}…"));
                    // Following a live session: let the decode under way
                    // finish rather than restart it with every new row.
                    let busy_here = decodes.decoding.is_some_and(|(s, _)| s == row.session);
                    if !(following && busy_here)
                        && decodes.decoding.is_none_or(|(s, c)| {
                            s != row.session || (index + WINDOW / 2 < c || index > c + WINDOW / 2)
                        })
                    {
                        decodes.request(model, row.session, index, out);
                    }
                }
            }
        }
        self.set(d);
    }

    /// Expands or collapses the selected node.
    pub fn toggle_node(&mut self) {
        let Some(line) = self.lines.get(self.tree.sel) else {
            return;
        };
        if let Some(p) = &line.path {
            if !self.toggled.remove(p) {
                self.toggled.insert(p.clone());
            }
            self.toggled_gen += 1;
        }
    }

    /// h/l in the tree: collapse or expand, or go to the parent.
    pub fn left_right(&mut self, right: bool) {
        let Some(line) = self.lines.get(self.tree.sel) else {
            return;
        };
        match (&line.path, line.expanded, right) {
            (Some(_), false, true) | (Some(_), true, false) => self.toggle_node(),
            (_, _, false) => {
                // to the parent
                let depth = line.depth;
                if let Some(p) = self.lines[..self.tree.sel]
                    .iter()
                    .rposition(|l| l.depth < depth)
                {
                    self.tree.sel = p;
                }
            }
            _ => {}
        }
    }

    pub fn move_tree(&mut self, delta: isize) {
        self.tree.move_by(delta, self.lines.len());
    }

    /// Scrolls the hex dump.
    pub fn move_hex(&mut self, delta: isize, l: &Layout) {
        let lines = self
            .bytes
            .as_ref()
            .map_or(0, |b| b.len().div_ceil(l.hex_width()));
        let h = l.hex_rows();
        let max = lines.saturating_sub(h) as isize;
        self.hex_scroll = (self.hex_scroll as isize + delta).clamp(0, max.max(0)) as usize;
    }

    /// A click on line `line` of the tree: selects it; on the selected
    /// line, expands or collapses it.
    pub fn click_tree(&mut self, line: usize) {
        let p = self.tree.offset + line;
        if p < self.lines.len() {
            if self.tree.sel == p {
                self.toggle_node();
            }
            self.tree.sel = p;
        }
    }
}

/// Longest value shown on one tree line (characters).
pub const MAX_VALUE: usize = 2000;

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
pub fn row_lines(model: &Model, id: usize, row: &Row) -> Vec<TreeLine> {
    let Some(s) = model.sessions.get(row.session as usize) else {
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
                    "{} ({} request{}, {} error{}, {} with warnings)",
                    s.messages,
                    s.requests,
                    human::plural(s.requests),
                    s.errors,
                    human::plural(s.errors),
                    s.warnings
                ),
            ));
            out.push(TreeLine::info("duration", human::latency(s.duration_us())));
            // The state attribute is in the state line.
            for (k, v) in s.attrs.iter().filter(|(k, _)| *k != STATE_ATTR) {
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
                format!("{} bytes: {}", row.range_len(), model.index.text(row)),
            ));
            out.push(TreeLine::info("direction", human::dir_text(row.dir())));
            out.push(TreeLine::info("session", info.id.clone()));
        }
        RowKind::Note | RowKind::Message => {
            let p = model.notes.partition_point(|n| (n.row as usize) < id);
            let text = model
                .notes
                .get(p)
                .filter(|n| n.row as usize == id)
                .map(|n| n.text.to_string())
                .unwrap_or_else(|| model.index.text(row).to_string());
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

// ------------------------------------------------------------ drawing

fn qm_spans(text: &str, base: Style) -> Vec<Span<'static>> {
    let mark = Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD);
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = ["<FM>", "<VM>", "<SM>", "<TM>", "<IM>"]
        .iter()
        .filter_map(|m| rest.find(m))
        .min()
    {
        if i > 0 {
            out.push(Span::styled(rest[..i].to_string(), base));
        }
        out.push(Span::styled(rest[i..i + 4].to_string(), mark));
        rest = &rest[i + 4..];
    }
    if !rest.is_empty() {
        out.push(Span::styled(rest.to_string(), base));
    }
    out
}

/// Draws the field tree.
pub fn draw_tree(f: &mut Frame<'_>, d: &DetailPane, model: &Model, focused: bool, r: Rect) {
    let title = match d.row {
        Some(id) if id < model.index.len() => {
            let row = model.index.row(id);
            let sid = model.session_id(row.session);
            if row.kind() == RowKind::Message {
                format!("Detail  {sid} #{}", row.index)
            } else {
                format!("Detail  {sid}")
            }
        }
        _ => "Detail".to_string(),
    };
    f.render_widget(pane_block(title, focused), r);
    let body = inner(r, 1);
    if let Some(s) = &d.status {
        f.render_widget(
            Paragraph::new(Span::styled(escape(s).into_owned(), DIM)),
            body,
        );
        return;
    }
    let n = body.height as usize;
    let off = d.tree.offset.min(d.lines.len().saturating_sub(n));
    let qm = marks(d.proto);
    let mut lines = Vec::new();
    for (i, l) in d.lines.iter().enumerate().skip(off).take(n) {
        let indent = "  ".repeat(l.depth as usize);
        let marker = match (&l.path, l.expanded) {
            (Some(_), true) => "▾ ",
            (Some(_), false) => "▸ ",
            _ => "  ",
        };
        let (ns, vs) = match l.kind {
            LineKind::Header => (
                Style::new().add_modifier(Modifier::BOLD),
                if l.value.ends_with("ERROR") {
                    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
                } else {
                    Style::new().add_modifier(Modifier::BOLD)
                },
            ),
            LineKind::Info => (DIM, Style::new()),
            LineKind::Note(s) => (sev_style(Some(s)), sev_style(Some(s))),
            LineKind::Field => (Style::new().fg(Color::Cyan), Style::new()),
            LineKind::Json => (Style::new(), Style::new().fg(Color::Green)),
        };
        let cursor = if i == d.tree.sel { ">" } else { " " };
        let mut spans = vec![
            Span::raw(format!("{cursor}{indent}")),
            Span::styled(marker, DIM),
        ];
        if !l.name.is_empty() {
            spans.push(Span::styled(l.name.clone(), ns));
            spans.push(Span::styled(": ", DIM));
        }
        if qm {
            spans.extend(qm_spans(&l.value, vs));
        } else {
            spans.push(Span::styled(l.value.clone(), vs));
        }
        if let (Some(rg), false) = (&l.range, l.kind == LineKind::Json) {
            spans.push(Span::styled(format!("  [{}..{}]", rg.start, rg.end), DIM));
        }
        let mut line = Line::from(spans);
        if i == d.tree.sel {
            line = line.style(sel_style(focused));
        }
        lines.push(line);
    }
    f.render_widget(Paragraph::new(lines), body);
}

/// Draws the column between the tree and the hex dump: the tree's text
/// never runs into the bytes.
pub fn draw_sep(f: &mut Frame<'_>, r: Rect) {
    let lines: Vec<Line> = (0..r.height)
        .map(|i| Line::from(Span::styled(if i == 0 { "┬" } else { "│" }, DIM)))
        .collect();
    f.render_widget(Paragraph::new(lines), r);
}

/// Draws the hex dump, the selected field's bytes highlighted.
pub fn draw_hex(f: &mut Frame<'_>, d: &DetailPane, focused: bool, r: Rect) {
    let hl = d.lines.get(d.tree.sel).and_then(|l| l.range.clone());
    let title = match (&d.bytes, &hl) {
        (Some(b), Some(h)) => format!("Bytes {}  field {}..{}", b.len(), h.start, h.end),
        (Some(b), None) => format!("Bytes {}", b.len()),
        _ => "Bytes".to_string(),
    };
    f.render_widget(pane_block(title, focused), r);
    let body = inner(r, 1);
    let Some(bytes) = &d.bytes else {
        let msg = d
            .status
            .clone()
            .unwrap_or_else(|| "no bytes for this row".into());
        f.render_widget(
            Paragraph::new(Span::styled(escape(&msg).into_owned(), DIM)),
            body,
        );
        return;
    };
    let per = if body.width >= 76 { 16 } else { 8 };
    let total = bytes.len().div_ceil(per);
    let n = body.height as usize;
    // Show the highlighted range unless the user scrolled the pane.
    let mut off = d.hex_scroll;
    if !focused {
        if let Some(h) = &hl {
            let first = h.start / per;
            if first < off || first >= off + n {
                off = first.saturating_sub(1);
            }
        }
    }
    off = off.min(total.saturating_sub(n));
    let qm = marks(d.proto);
    let hi = Style::new().fg(Color::Black).bg(Color::Yellow);
    let mark = Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD);
    let mut lines = Vec::new();
    for li in off..(off + n).min(total) {
        let start = li * per;
        let raw = bytes
            .get(start..(start + per).min(bytes.len()))
            .unwrap_or(&[]);
        // Secret bytes masked (human's rules), same length.
        let chunk: Vec<Shown> =
            human::shown(raw, start as u64, &d.secrets, d.show_secrets).collect();
        let mut spans = vec![Span::styled(format!("{start:06x}  "), DIM)];
        let inside = |i: usize| hl.as_ref().is_some_and(|h| h.contains(&i));
        for k in 0..per {
            match chunk.get(k) {
                Some(x) => {
                    let st_ = if inside(start + k) { hi } else { Style::new() };
                    let mut cell = String::with_capacity(2);
                    human::push_hex(&mut cell, *x);
                    spans.push(Span::styled(cell, st_));
                    let gap_style = if inside(start + k) && inside(start + k + 1) && k + 1 < per {
                        hi
                    } else {
                        Style::new()
                    };
                    spans.push(Span::styled(if k == 7 { "  " } else { " " }, gap_style));
                }
                None => spans.push(Span::raw(if k == 7 { "    " } else { "   " })),
            }
        }
        spans.push(Span::raw(" "));
        for (k, x) in chunk.iter().enumerate() {
            let c = human::ascii(*x, qm);
            let s = if inside(start + k) {
                hi
            } else if qm && matches!(x, Shown::Byte(0xFB..)) {
                mark
            } else if c == '.' {
                DIM
            } else {
                Style::new()
            };
            spans.push(Span::styled(c.to_string(), s));
        }
        lines.push(Line::from(spans));
    }
    f.render_widget(Paragraph::new(lines), body);
}

/// Whether the protocol's bytes carry QM's MultiValue marks (the registry
/// says).
fn marks(proto: Option<Proto>) -> bool {
    proto
        .and_then(Proto::protocol)
        .is_some_and(|p| p.display.marks)
}
