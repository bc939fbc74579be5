//! Drawing: [`render`] reads `&State` and draws one frame. Only visible
//! rows are formatted; nothing here walks the whole index.
//!
//! [`layout`] is shared with [`super::state::apply`], which needs the pane
//! sizes for paging and the mouse.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Cell, Clear, Paragraph, Row as TRow, Sparkline, Table, TableState,
};
use ratatui::Frame;

use qscope_dissectors::{Dir, Kind, Proto, Severity};

use super::detail::{LineKind, StreamKind};
use super::index::{Row, RowKind};
use super::keys::KEYS;
use super::state::{InputKind, Pane, State, View};
use crate::human::{self, escape, Shown};

/// Smallest usable screen.
pub const MIN_W: u16 = 40;
pub const MIN_H: u16 = 10;

/// Where everything goes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Layout {
    pub area: Rect,
    pub header: Rect,
    pub footer: Rect,
    pub body: Rect,
    /// Timeline view panes (whole blocks; the first line is the title).
    pub sessions: Rect,
    pub timeline: Rect,
    pub tree: Rect,
    pub hex: Rect,
    pub too_small: bool,
}

fn inner(r: Rect, skip: u16) -> Rect {
    Rect {
        y: r.y + skip.min(r.height),
        height: r.height.saturating_sub(skip),
        ..r
    }
}

impl Layout {
    /// Lines of rows in the sessions pane (title and column header excluded).
    pub fn sessions_rows(&self) -> usize {
        self.sessions.height.saturating_sub(2) as usize
    }
    pub fn timeline_rows(&self) -> usize {
        self.timeline.height.saturating_sub(2) as usize
    }
    pub fn tree_rows(&self) -> usize {
        self.tree.height.saturating_sub(1) as usize
    }
    pub fn hex_rows(&self) -> usize {
        self.hex.height.saturating_sub(1) as usize
    }
    pub fn hex_visible(&self) -> bool {
        self.hex.height > 1 && self.hex.width > 0
    }
    /// Bytes per hex line.
    pub fn hex_width(&self) -> usize {
        if self.hex.width >= 76 {
            16
        } else {
            8
        }
    }
    /// Lines of the body below its title line.
    pub fn body_rows(&self) -> usize {
        self.body.height.saturating_sub(1) as usize
    }
    pub fn stats_chart_height(&self) -> u16 {
        if self.body.height >= 20 {
            8
        } else if self.body.height >= 12 {
            4
        } else {
            0
        }
    }
    pub fn stats_first_line(&self) -> u16 {
        self.body.y + 2
    }
    pub fn stats_rows(&self) -> usize {
        self.body
            .height
            .saturating_sub(2 + self.stats_chart_height()) as usize
    }
    /// Line of the body under `y` (0 = its title line).
    pub fn body_line(&self, y: u16) -> Option<usize> {
        (y >= self.body.y && y < self.body.y + self.body.height).then(|| (y - self.body.y) as usize)
    }

    /// The pane under (x, y) and the row of its list there (`None` on
    /// its title or column header).
    pub fn hit(&self, x: u16, y: u16) -> Option<(Pane, Option<usize>)> {
        let inside = |r: Rect| x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;
        for (pane, r, skip) in [
            (Pane::Sessions, self.sessions, 2),
            (Pane::Timeline, self.timeline, 2),
            (Pane::Tree, self.tree, 1),
            (Pane::Hex, self.hex, 1),
        ] {
            if r.height > 0 && inside(r) {
                let line = (y - r.y).checked_sub(skip).map(usize::from);
                return Some((pane, line));
            }
        }
        None
    }
}

/// The layout of `st` on its screen size.
pub fn layout(st: &State) -> Layout {
    layout_for(Rect::new(0, 0, st.size.0, st.size.1), st)
}

pub fn layout_for(area: Rect, st: &State) -> Layout {
    let mut l = Layout {
        area,
        ..Default::default()
    };
    if area.width < MIN_W || area.height < MIN_H {
        l.too_small = true;
        return l;
    }
    let footer_h = match &st.input {
        Some(i) if i.error.is_some() => 2,
        _ => 1,
    };
    l.header = Rect::new(area.x, area.y, area.width, 1);
    l.footer = Rect::new(
        area.x,
        area.y + area.height - footer_h,
        area.width,
        footer_h,
    );
    l.body = Rect::new(area.x, area.y + 1, area.width, area.height - 1 - footer_h);
    if st.view != View::Timeline {
        return l;
    }
    let b = l.body;
    let mut y = b.y;
    let mut h = b.height;
    // Sessions: title + column header + a few rows.
    if h >= 16 {
        let want = if h >= 36 {
            6
        } else if h >= 26 {
            4
        } else {
            3
        };
        let rows = (st.sessions.len() as u16).clamp(1, want);
        let sh = 2 + rows;
        l.sessions = Rect::new(b.x, y, b.width, sh);
        y += sh;
        h -= sh;
    }
    // Detail: about 45 % of what is left, when there is room.
    let dh = if h >= 14 { h * 45 / 100 } else { 0 };
    l.timeline = Rect::new(b.x, y, b.width, h - dh);
    if dh > 0 {
        let dy = y + h - dh;
        if b.width >= 110 {
            let hw = (b.width / 2).clamp(60, 78);
            l.tree = Rect::new(b.x, dy, b.width - hw, dh);
            l.hex = Rect::new(b.x + b.width - hw, dy, hw, dh);
        } else if st.show_hex {
            l.hex = Rect::new(b.x, dy, b.width, dh);
        } else {
            l.tree = Rect::new(b.x, dy, b.width, dh);
        }
    }
    l
}

// ------------------------------------------------------------ styles

const DIM: Style = Style::new().fg(Color::DarkGray);

fn kind_style(row: &Row) -> Style {
    if row.is_error() {
        return Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
    }
    match row.msg_kind() {
        Kind::Request => Style::new().fg(Color::Cyan),
        Kind::Response => Style::new().fg(Color::Green),
        Kind::Event => Style::new().fg(Color::Yellow),
        Kind::Push => Style::new().fg(Color::Blue),
        Kind::Greeting => Style::new().fg(Color::Magenta),
        Kind::Other => Style::new(),
    }
}

fn sev_style(s: Option<Severity>) -> Style {
    match s {
        Some(Severity::Error) => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Some(Severity::Warn) => Style::new().fg(Color::Yellow),
        _ => Style::new(),
    }
}

fn title_style(focused: bool) -> Style {
    if focused {
        Style::new()
            .fg(Color::Black)
            .bg(Color::Cyan)
            .add_modifier(Modifier::BOLD)
    } else {
        Style::new().add_modifier(Modifier::BOLD)
    }
}

fn sel_style(focused: bool) -> Style {
    if focused {
        Style::new().add_modifier(Modifier::REVERSED)
    } else {
        Style::new().bg(Color::DarkGray)
    }
}

fn pane_block(title: String, focused: bool) -> Block<'static> {
    Block::new()
        .borders(Borders::TOP)
        .border_style(DIM)
        .title(Span::styled(format!(" {title} "), title_style(focused)))
}

// ------------------------------------------------------------ formatting

/// Thousands separators.
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn human_bytes(n: u64) -> String {
    if n < 1000 {
        format!("{n} B")
    } else if n < 1_000_000 {
        format!("{:.1} kB", n as f64 / 1e3)
    } else if n < 1_000_000_000 {
        format!("{:.1} MB", n as f64 / 1e6)
    } else {
        format!("{:.2} GB", n as f64 / 1e9)
    }
}

fn rel(st: &State, ts: i64) -> String {
    let us = ts - st.t0.unwrap_or(ts);
    format!("{:.6}", us as f64 / 1e6)
}

fn proto_short(p: Proto) -> &'static str {
    match p {
        Proto::Qmp => "qmp",
        Proto::Qm => "qm",
        Proto::Qps => "qps",
        Proto::MqServer => "mq",
        Proto::Unknown => "?",
    }
}

/// Display width of `s`.
fn width(s: &str) -> usize {
    Span::raw(s).width()
}

/// `s` cut to at most `max` columns.
fn trunc(s: &str, max: usize) -> String {
    let mut out = String::new();
    let mut w = 0;
    let mut buf = [0u8; 4];
    for c in s.chars() {
        let cw = width(c.encode_utf8(&mut buf));
        if w + cw > max {
            break;
        }
        w += cw;
        out.push(c);
    }
    out
}

// ------------------------------------------------------------ render

/// Draws the whole screen.
pub fn render(f: &mut Frame<'_>, st: &State) {
    let area = f.area();
    let l = layout_for(area, st);
    if l.too_small {
        let msg = format!(
            "qscope needs {MIN_W}x{MIN_H} at least ({}x{} now); q quits",
            area.width, area.height
        );
        f.render_widget(
            Paragraph::new(msg).wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    header(f, st, l.header);
    match st.view {
        View::Timeline => {
            if l.sessions.height > 0 {
                sessions(f, st, l.sessions);
            }
            timeline(f, st, l.timeline);
            if l.tree.height > 0 {
                tree(f, st, l.tree);
            }
            if l.hex.height > 0 {
                hex(f, st, l.hex);
            }
        }
        View::Stream => stream(f, st, l.body),
        View::Ladder => ladder(f, st, l.body),
        View::Stats => stats(f, st, &l),
        View::Expert => expert(f, st, l.body),
    }
    footer(f, st, l.footer);
    if st.help {
        help(f, area);
    }
}

fn header(f: &mut Frame<'_>, st: &State, r: Rect) {
    let errors: u64 = st.sessions.iter().map(|s| s.errors).sum();
    let messages: u64 = st.sessions.iter().map(|s| s.messages).sum();
    let left = format!(
        " qscope  {}  {} session{}  {} msgs  {} err ",
        escape(&st.title),
        count(st.sessions.len() as u64),
        if st.sessions.len() == 1 { "" } else { "s" },
        count(messages),
        count(errors),
    );
    let p = &st.progress;
    let mut right = String::new();
    if st.live {
        right.push_str("LIVE ");
    }
    match &st.done {
        None => right.push_str(&format!(
            "reading… {} pkts {}",
            count(p.packets),
            human_bytes(p.bytes)
        )),
        Some(d) => {
            right.push_str(&format!(
                "{} pkts {}",
                count(p.packets),
                human_bytes(p.bytes)
            ));
            if let Some(e) = &d.error {
                right.push_str(&format!(" STOPPED: {}", escape(e)));
            }
        }
    }
    if p.spool_error.is_some() {
        right.push_str(" (no spool: details off)");
    }
    if let Some(d) = p.dropped {
        right.push_str(&format!(", {} dropped", count(d)));
    }
    if st.paused_at.is_some() {
        right.push_str(" PAUSED");
    } else if st.tail {
        right.push_str(" TAIL");
    }
    right.push(' ');
    let w = r.width as usize;
    let lw = width(&left);
    let rw = width(&right);
    let style = Style::new().bg(Color::Blue).fg(Color::White);
    let line = if lw + rw <= w {
        Line::from(vec![
            Span::styled(left, style.add_modifier(Modifier::BOLD)),
            Span::styled(" ".repeat(w - lw - rw), style),
            Span::styled(right, style),
        ])
    } else {
        Line::from(Span::styled(trunc(&format!("{left}│{right}"), w), style))
    };
    f.render_widget(Paragraph::new(line).style(style), r);
}

fn footer(f: &mut Frame<'_>, st: &State, r: Rect) {
    if let Some(i) = &st.input {
        let label = match i.kind {
            InputKind::Search => "/",
            InputKind::Filter => "filter: ",
        };
        let ok = i.error.is_none();
        let style = match (i.kind, ok, i.text.is_empty()) {
            (InputKind::Filter, _, true) => Style::new(),
            (InputKind::Filter, true, _) => Style::new().fg(Color::Green),
            (InputKind::Filter, false, _) => Style::new().fg(Color::Red),
            _ => Style::new(),
        };
        let mut lines = vec![Line::from(vec![
            Span::styled(label, Style::new().add_modifier(Modifier::BOLD)),
            Span::styled(escape(&i.text).into_owned(), style),
            Span::styled("█", Style::new().fg(Color::Gray)),
        ])];
        if let Some(e) = &i.error {
            // FilterError::render: the expression, then the caret line.
            if let Some(caret) = e.lines().nth(1) {
                lines.push(Line::from(Span::styled(
                    format!("{}{}", " ".repeat(label.len()), escape(caret)),
                    Style::new().fg(Color::Red),
                )));
            }
        }
        f.render_widget(Paragraph::new(lines), r);
        return;
    }
    if let Some((text, err)) = &st.status {
        let style = if *err {
            Style::new().fg(Color::White).bg(Color::Red)
        } else {
            Style::new().fg(Color::Black).bg(Color::Yellow)
        };
        f.render_widget(
            Paragraph::new(Line::from(Span::styled(
                format!(" {} ", escape(text)),
                style,
            ))),
            r,
        );
        return;
    }
    let hints: &[(&str, &str)] = match st.view {
        View::Timeline => &[
            ("?", "help"),
            ("q", "quit"),
            ("f", "filter"),
            ("/", "search"),
            ("e", "error"),
            ("r", "req/reply"),
            ("L", "ladder"),
            ("F", "stream"),
            ("S", "stats"),
            ("X", "notes"),
            ("a", "session"),
            ("w", "export"),
        ],
        View::Stream => &[
            ("Esc", "back"),
            ("x", "text/hex"),
            ("h/l", "scroll"),
            ("q", "quit"),
        ],
        View::Ladder => &[
            ("Esc", "back"),
            ("j/k", "move"),
            ("Enter", "to timeline"),
            ("q", "quit"),
        ],
        View::Stats => &[("Esc", "back"), ("j/k", "select name"), ("q", "quit")],
        View::Expert => &[("Esc", "back"), ("Enter", "go to message"), ("q", "quit")],
    };
    let mut spans = Vec::new();
    let mut used = 0;
    for (k, d) in hints {
        let w = width(k) + width(d) + 3;
        if used + w > r.width as usize {
            break;
        }
        used += w;
        spans.push(Span::styled(
            format!(" {k}"),
            Style::new().add_modifier(Modifier::BOLD).fg(Color::Cyan),
        ));
        spans.push(Span::raw(format!(" {d} ")));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), r);
}

fn sessions(f: &mut Frame<'_>, st: &State, r: Rect) {
    let focused = st.focus == Pane::Sessions;
    let title = format!(
        "Sessions {}  sort: {} (s)",
        count(st.sessions.len() as u64),
        st.sort.as_str()
    );
    f.render_widget(pane_block(title, focused), r);
    let body = inner(r, 1);
    let n = body.height.saturating_sub(1) as usize;
    let off = st.sess.offset.min(st.sess_order.len().saturating_sub(n));
    let wide = r.width >= 100;
    let mut rows = Vec::new();
    for (i, ord) in st.sess_order.iter().enumerate().skip(off).take(n) {
        let s = &st.sessions[*ord as usize];
        let mark = if i == st.sess.sel { ">" } else { " " };
        let mut cells = vec![
            Cell::from(format!("{mark}{}", s.info.id)),
            Cell::from(proto_short(s.info.proto)),
            Cell::from(format!("{} -> {}", s.info.client, s.info.server)),
            Cell::from(count(s.messages)),
            Cell::from(human::latency(s.duration_us())),
            Cell::from(Span::styled(
                count(s.errors),
                if s.errors > 0 {
                    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
                } else {
                    Style::new()
                },
            )),
            Cell::from(s.state_label()),
        ];
        if !wide {
            cells.remove(4);
        }
        let mut row = TRow::new(cells);
        if i == st.sess.sel {
            row = row.style(sel_style(focused));
        }
        rows.push(row);
    }
    let cs = st
        .sess_order
        .iter()
        .skip(off)
        .take(n)
        .map(|o| {
            let i = &st.sessions[*o as usize].info;
            width(&format!("{} -> {}", i.client, i.server))
        })
        .max()
        .unwrap_or(16)
        .clamp(16, (r.width as usize / 2).max(16)) as u16;
    let idw = (2 + count(st.sessions.len() as u64).len()).max(4) as u16;
    let mut widths = vec![idw, 5, cs, 7, 9, 5, 20];
    let mut head = vec![
        " id",
        "proto",
        "client -> server",
        "msgs",
        "duration",
        "err",
        "state",
    ];
    if !wide {
        widths.remove(4);
        head.remove(4);
    }
    let widths: Vec<ratatui::layout::Constraint> = widths
        .into_iter()
        .enumerate()
        .map(|(i, w)| {
            if i + 1 == head.len() {
                ratatui::layout::Constraint::Min(w)
            } else {
                ratatui::layout::Constraint::Length(w)
            }
        })
        .collect();
    let t = Table::new(rows, widths)
        .header(TRow::new(head).style(DIM))
        .column_spacing(1);
    f.render_widget(t, body);
}

/// One timeline row as cells: time, delta, session, arrow, proto, name,
/// summary, latency.
fn row_cells(st: &State, pos: usize, row: &Row, narrow: bool) -> Vec<Cell<'static>> {
    let prev = if pos > 0 {
        Some(st.index.row(st.timeline.get(pos - 1)))
    } else {
        None
    };
    let d = prev.map_or(0, |p| row.ts_us - p.ts_us);
    let sess = st.sessions.get(row.session as usize);
    let sid = sess.map_or(String::new(), |s| s.info.id.clone());
    let proto = sess.map_or("", |s| proto_short(s.info.proto));
    let mark = if pos == st.tl.sel { ">" } else { " " };
    let time = Cell::from(format!("{mark}{}", rel(st, row.ts_us)));
    let dcell = Cell::from(Span::styled(human::delta(d), DIM));
    let mut cells = vec![time, dcell, Cell::from(sid)];
    let text = st.index.text(row);
    let cut = if row.text_cut() { "…" } else { "" };
    match row.kind() {
        RowKind::Message => {
            let style = kind_style(row);
            let flag = if row.is_error() {
                "!"
            } else if row.severity() >= Some(Severity::Warn) {
                "*"
            } else {
                " "
            };
            cells.push(Cell::from(Span::styled(human::arrow(row.dir()), style)));
            cells.push(Cell::from(proto));
            cells.push(Cell::from(Line::from(vec![
                Span::styled(flag, sev_style(row.severity()).add_modifier(Modifier::BOLD)),
                Span::styled(st.index.name(row).to_string(), style),
            ])));
            let mut summary = vec![];
            if row.is_error() {
                summary.push(Span::styled("ERROR ", style));
            }
            summary.push(Span::raw(format!("{text}{cut}")));
            cells.push(Cell::from(Line::from(summary)));
            cells.push(Cell::from(
                Line::from(row.latency_us().map(human::latency).unwrap_or_default())
                    .right_aligned(),
            ));
        }
        kind => {
            let (a, msg, style) = match kind {
                RowKind::Gap => (
                    human::arrow(row.dir()),
                    format!(
                        "~~ {} bytes missing ({}) ~~",
                        row.range_len(),
                        row.dir().as_str()
                    ),
                    Style::new().fg(Color::Black).bg(Color::Yellow),
                ),
                RowKind::Undecoded => (
                    human::arrow(row.dir()),
                    format!("{} bytes: {text}{cut}", row.range_len()),
                    sev_style(row.severity()),
                ),
                RowKind::Note => (
                    "  ",
                    format!(
                        "{}: {text}{cut}",
                        row.severity().map_or("note", |s| s.as_str())
                    ),
                    sev_style(row.severity()),
                ),
                RowKind::Open => (
                    "==",
                    sess.map_or(String::new(), |s| {
                        format!(
                            "{} {} -> {}{}",
                            s.info.proto,
                            s.info.client,
                            s.info.server,
                            if s.info.mid_stream {
                                " (mid-stream)"
                            } else {
                                ""
                            }
                        )
                    }),
                    DIM,
                ),
                _ => (
                    "==",
                    sess.map_or(String::new(), |s| {
                        format!(
                            "{} msgs, {} errors, {}",
                            count(s.messages),
                            count(s.errors),
                            human::latency(s.duration_us())
                        )
                    }),
                    DIM,
                ),
            };
            let label = match kind {
                RowKind::Gap => " GAP",
                RowKind::Undecoded => " undecoded",
                RowKind::Note => " note",
                RowKind::Open => " open",
                _ => " close",
            };
            cells.push(Cell::from(Span::styled(a, style)));
            cells.push(Cell::from(proto));
            cells.push(Cell::from(Span::styled(label, style)));
            cells.push(Cell::from(Span::styled(msg, style)));
            cells.push(Cell::from(""));
        }
    }
    if narrow {
        cells.remove(1);
        cells.remove(3);
    }
    cells
}

fn timeline(f: &mut Frame<'_>, st: &State, r: Rect) {
    let focused = st.focus == Pane::Timeline;
    let mut title = format!("Timeline {}", count(st.timeline.len() as u64));
    if let Some(s) = st.timeline.session {
        if let Some(e) = st.sessions.get(s as usize) {
            title.push_str(&format!("  session {} (a: all)", e.info.id));
        }
    }
    if let Some(flt) = &st.filter {
        let total = st.index.len() as u64;
        let state = if flt.error.is_some() {
            " failed".to_string()
        } else if flt.done {
            String::new()
        } else if let Some(pct) = (flt.scanned.min(total) * 100).checked_div(total) {
            format!(" {pct}%")
        } else {
            " …".to_string()
        };
        title.push_str(&format!(
            "  filter: {} ({} match{}{state})",
            escape(&flt.expr),
            count(flt.matches),
            if flt.matches == 1 { "" } else { "es" }
        ));
    }
    f.render_widget(pane_block(title, focused), r);
    let body = inner(r, 1);
    let n = body.height.saturating_sub(1) as usize;
    let len = st.timeline.len();
    let mut off = st.tl.offset.min(len.saturating_sub(n));
    if st.tl.sel >= off + n {
        off = st.tl.sel + 1 - n.max(1);
    }
    let narrow = r.width < 72;
    let tw = st
        .index
        .rows
        .last()
        .map_or(8, |l| rel(st, l.ts_us).len().max(8)) as u16
        + 1;
    let name_w = if r.width >= 120 {
        26
    } else if r.width >= 90 {
        20
    } else {
        18
    };
    let sw = (1 + count(st.sessions.len() as u64).len()).max(3) as u16;
    let mut widths = vec![tw, 7, sw, 2, 3, name_w, 10, 8];
    let mut head = vec![
        " time", "delta", "sid", "", "pro", " name", "summary", "latency",
    ];
    if narrow {
        widths.remove(1);
        head.remove(1);
        widths.remove(3);
        head.remove(3);
    }
    let last = widths.len() - 1;
    let constraints: Vec<ratatui::layout::Constraint> = widths
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i + 1 == last {
                ratatui::layout::Constraint::Fill(1)
            } else {
                ratatui::layout::Constraint::Length(*w)
            }
        })
        .collect();
    let mut rows = Vec::new();
    for pos in off..(off + n).min(len) {
        let id = st.timeline.get(pos);
        let row = st.index.row(id);
        let mut tr = TRow::new(row_cells(st, pos, &row, narrow));
        if pos == st.tl.sel {
            tr = tr.style(sel_style(focused));
        }
        rows.push(tr);
    }
    if len == 0 {
        let msg = if st.filter.as_ref().is_some_and(|f| !f.done) {
            "filtering…"
        } else if st.filter.is_some() {
            "no message matches the filter"
        } else if st.done.is_some() {
            "no messages"
        } else {
            "reading…"
        };
        f.render_widget(Paragraph::new(Span::styled(msg, DIM)), inner(body, 1));
    }
    let t = Table::new(rows, constraints)
        .header(TRow::new(head).style(DIM))
        .column_spacing(1);
    f.render_widget(t, body);
}

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

fn tree(f: &mut Frame<'_>, st: &State, r: Rect) {
    let focused = st.focus == Pane::Tree;
    let d = &st.detail;
    let title = match d.row {
        Some(id) if id < st.index.len() => {
            let row = st.index.row(id);
            let sid = st
                .sessions
                .get(row.session as usize)
                .map_or("", |s| s.info.id.as_str());
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
    let off = st.tree.offset.min(d.lines.len().saturating_sub(n));
    let qm = d.proto == Some(Proto::Qm);
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
        let cursor = if i == st.tree.sel { ">" } else { " " };
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
        if i == st.tree.sel {
            line = line.style(sel_style(focused));
        }
        lines.push(line);
    }
    f.render_widget(Paragraph::new(lines), body);
}

fn hex(f: &mut Frame<'_>, st: &State, r: Rect) {
    let focused = st.focus == Pane::Hex;
    let d = &st.detail;
    let hl = d.lines.get(st.tree.sel).and_then(|l| l.range.clone());
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
    let mut off = st.hex_scroll;
    if st.focus != Pane::Hex {
        if let Some(h) = &hl {
            let first = h.start / per;
            if first < off || first >= off + n {
                off = first.saturating_sub(1);
            }
        }
    }
    off = off.min(total.saturating_sub(n));
    let qm = d.proto == Some(Proto::Qm);
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

fn session_title(st: &State, s: u32) -> String {
    st.sessions.get(s as usize).map_or(String::new(), |e| {
        format!(
            "{} {} {} <-> {}",
            e.info.id, e.info.proto, e.info.client, e.info.server
        )
    })
}

fn stream(f: &mut Frame<'_>, st: &State, r: Rect) {
    let Some(v) = &st.stream else { return };
    let title = format!(
        "Stream {}  {} (x)  client->server red, server->client blue",
        session_title(st, v.session),
        if v.hex { "hex" } else { "text" }
    );
    f.render_widget(pane_block(title, true), r);
    let body = inner(r, 1);
    if let Some(s) = &v.status {
        f.render_widget(Paragraph::new(Span::styled(s.clone(), DIM)), body);
        return;
    }
    let n = body.height as usize;
    let off = v.scroll.sel.min(v.lines.len().saturating_sub(n));
    let mut lines = Vec::new();
    for l in v.lines.iter().skip(off).take(n) {
        let (prefix, style) = match l.kind {
            StreamKind::Data(Dir::C2S) => ("-> ", Style::new().fg(Color::Red)),
            StreamKind::Data(Dir::S2C) => ("<- ", Style::new().fg(Color::Blue)),
            StreamKind::Gap => ("!! ", Style::new().fg(Color::Black).bg(Color::Yellow)),
            StreamKind::Info => ("   ", DIM),
        };
        let text: String = l.text.chars().skip(v.hscroll).collect();
        lines.push(Line::from(vec![
            Span::styled(prefix, style.add_modifier(Modifier::BOLD)),
            Span::styled(text, style),
        ]));
    }
    f.render_widget(Paragraph::new(lines), body);
}

fn ladder(f: &mut Frame<'_>, st: &State, r: Rect) {
    let Some(ld) = &st.ladder else { return };
    let Some(sess) = st.sessions.get(ld.session as usize) else {
        return;
    };
    let title = format!("Ladder {}", session_title(st, ld.session));
    f.render_widget(pane_block(title, true), r);
    let body = inner(r, 1);
    if body.height < 2 {
        return;
    }
    let w = body.width as usize;
    let tw = 10usize;
    let lat_w = if w >= 100 { 12 } else { 9 };
    let cx = tw + 2;
    let sx = w.saturating_sub(lat_w + 2).max(cx + 10);
    let span = sx - cx - 1;
    // Column labels.
    let label = |s: String, at: usize, out: &mut Vec<char>| {
        let s: Vec<char> = s.chars().collect();
        let start = at
            .saturating_sub(s.len() / 2)
            .min(w.saturating_sub(s.len()));
        for (i, c) in s.into_iter().enumerate() {
            if start + i < out.len() {
                out[start + i] = c;
            }
        }
    };
    let mut head = vec![' '; w];
    label(format!("client {}", sess.info.client), cx, &mut head);
    label(format!("server {}", sess.info.server), sx, &mut head);
    let mut lines = vec![Line::from(Span::styled(
        head.into_iter().collect::<String>(),
        Style::new().add_modifier(Modifier::BOLD),
    ))];
    let n = body.height as usize - 1;
    let len = ld.list.len();
    let mut off = ld.scroll.offset.min(len.saturating_sub(n));
    if ld.scroll.sel >= off + n {
        off = ld.scroll.sel + 1 - n;
    }
    for pos in off..(off + n).min(len) {
        let id = ld.list.get(pos);
        let row = st.index.row(id);
        let mark = if pos == ld.scroll.sel { ">" } else { " " };
        let time = format!("{mark}{:>w2$}", rel(st, row.ts_us), w2 = tw - 1);
        let (mid, style, lat) = match row.kind() {
            RowKind::Message => {
                let name = st.index.name(&row);
                let text = if row.is_error() {
                    format!(" {name} ERROR ")
                } else {
                    format!(" {name} ")
                };
                let text = trunc(&text, span.saturating_sub(4));
                let tl = width(&text);
                let fill = span.saturating_sub(tl + 1);
                let (l, rr) = (fill / 2, fill - fill / 2);
                let mid = match row.dir() {
                    Dir::C2S => format!("{}{}{}>", "-".repeat(l), text, "-".repeat(rr)),
                    Dir::S2C => format!("<{}{}{}", "-".repeat(l), text, "-".repeat(rr)),
                };
                (
                    mid,
                    kind_style(&row),
                    row.latency_us().map(human::latency).unwrap_or_default(),
                )
            }
            kind => {
                let text = match kind {
                    RowKind::Gap => format!(
                        " gap: {} bytes missing ({}) ",
                        row.range_len(),
                        row.dir().as_str()
                    ),
                    RowKind::Undecoded => format!(" {} undecoded bytes ", row.range_len()),
                    RowKind::Note => format!(" {} ", st.index.text(&row)),
                    RowKind::Open => " opened ".to_string(),
                    _ => " closed ".to_string(),
                };
                let text = trunc(&text, span);
                let fill = span.saturating_sub(width(&text));
                let dots = if kind == RowKind::Gap { "~" } else { " " };
                let mid = format!(
                    "{}{}{}",
                    dots.repeat(fill / 2),
                    text,
                    dots.repeat(fill - fill / 2)
                );
                let style = match kind {
                    RowKind::Gap => Style::new().fg(Color::Black).bg(Color::Yellow),
                    RowKind::Note | RowKind::Undecoded => sev_style(row.severity()),
                    _ => DIM,
                };
                (mid, style, String::new())
            }
        };
        let mut line = Line::from(vec![
            Span::styled(time, DIM),
            Span::raw(" ".repeat(cx - tw)),
            Span::styled("|", DIM),
            Span::styled(mid, style),
            Span::styled("|", DIM),
            Span::raw(" "),
            Span::styled(lat, DIM),
        ]);
        if pos == ld.scroll.sel {
            line = line.style(Style::new().add_modifier(Modifier::REVERSED));
        }
        lines.push(line);
    }
    f.render_widget(Paragraph::new(lines), body);
}

fn stats(f: &mut Frame<'_>, st: &State, l: &Layout) {
    let r = l.body;
    let Some(sv) = &st.stats else { return };
    let title = format!("Statistics  {}", escape(&sv.scope));
    f.render_widget(pane_block(title, true), r);
    let ch = l.stats_chart_height();
    let table_area = Rect {
        height: r.height.saturating_sub(1 + ch),
        ..inner(r, 1)
    };
    let lat = |p: &Option<crate::record::Percentiles>,
               f: fn(&crate::record::Percentiles) -> i64| {
        p.as_ref().map(|p| human::latency(f(p))).unwrap_or_default()
    };
    let n = table_area.height.saturating_sub(1) as usize;
    let off = sv.scroll.offset.min(sv.rows.len().saturating_sub(n));
    let mut rows = Vec::new();
    let all = sv.total.iter();
    let mk = |s: &super::state::StatRow| {
        let mark = if sv
            .rows
            .get(sv.scroll.sel)
            .is_some_and(|x| std::ptr::eq(x, s))
        {
            ">"
        } else {
            " "
        };
        vec![
            Cell::from(format!("{mark}{}", s.proto)),
            Cell::from(s.name.clone()),
            Cell::from(Line::from(count(s.requests + s.responses + s.other)).right_aligned()),
            Cell::from(Line::from(count(s.requests)).right_aligned()),
            Cell::from(Line::from(count(s.responses)).right_aligned()),
            Cell::from(
                Line::from(Span::styled(
                    count(s.errors),
                    if s.errors > 0 {
                        Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
                    } else {
                        Style::new()
                    },
                ))
                .right_aligned(),
            ),
            Cell::from(Line::from(lat(&s.latency, |p| p.p50)).right_aligned()),
            Cell::from(Line::from(lat(&s.latency, |p| p.p95)).right_aligned()),
            Cell::from(Line::from(lat(&s.latency, |p| p.p99)).right_aligned()),
            Cell::from(Line::from(lat(&s.latency, |p| p.max)).right_aligned()),
        ]
    };
    for (i, s) in sv
        .rows
        .iter()
        .enumerate()
        .skip(off)
        .take(n.saturating_sub(1))
    {
        let style = if i == sv.scroll.sel {
            sel_style(true)
        } else {
            Style::new()
        };
        rows.push((mk(s), style));
    }
    for t in all {
        rows.push((mk(t), Style::new().add_modifier(Modifier::BOLD)));
    }
    use ratatui::layout::Constraint::{Fill, Length};
    let wide = r.width >= 100;
    let lw = if wide { 9 } else { 8 };
    let mut widths = vec![
        Length(4),
        Fill(1),
        Length(7),
        Length(6),
        Length(6),
        Length(5),
        Length(lw),
        Length(lw),
        Length(lw),
        Length(lw),
    ];
    let head = [
        "prot", "name", "count", "req", "resp", "err", "p50", "p95", "p99", "max",
    ];
    let mut head: Vec<Cell> = head
        .iter()
        .enumerate()
        .map(|(i, h)| {
            if i < 2 {
                Cell::from(*h)
            } else {
                Cell::from(Line::from(*h).right_aligned())
            }
        })
        .collect();
    if !wide {
        // Requests and responses go first when space is short.
        for i in [4, 3] {
            widths.remove(i);
            head.remove(i);
        }
        rows = rows
            .into_iter()
            .map(|(mut cells, style)| {
                cells.remove(4);
                cells.remove(3);
                (cells, style)
            })
            .collect();
    }
    let rows: Vec<TRow> = rows
        .into_iter()
        .map(|(cells, style)| TRow::new(cells).style(style))
        .collect();
    let t = Table::new(rows, widths)
        .header(TRow::new(head).style(DIM))
        .column_spacing(1);
    let mut ts = TableState::default();
    f.render_stateful_widget(t, table_area, &mut ts);
    if ch == 0 {
        return;
    }
    let chart_area = Rect {
        y: r.y + r.height - ch,
        height: ch,
        ..r
    };
    let sel = sv.rows.get(sv.scroll.sel);
    let (name, data) = match sel {
        Some(s) if !s.chart.is_empty() => (s.name.as_str(), &s.chart),
        _ => match &sv.total {
            Some(t) => ("all names", &t.chart),
            None => return,
        },
    };
    let width_n = chart_area.width as usize;
    let mut bars = vec![0u64; width_n.max(1)];
    for (i, v) in data.iter().enumerate() {
        let b = i * width_n / data.len().max(1);
        if let Some(x) = bars.get_mut(b) {
            *x = (*x).max(*v);
        }
    }
    let peak = data.iter().copied().max().unwrap_or(0);
    let span_s = (sv.span_us.1 - sv.span_us.0) as f64 / 1e6;
    let caption = format!(
        " highest latency over time: {}  (0 to {span_s:.3} s, peak {})",
        escape(name),
        human::latency(peak as i64)
    );
    f.render_widget(
        Paragraph::new(Span::styled(caption, DIM)),
        Rect {
            height: 1,
            ..chart_area
        },
    );
    f.render_widget(
        Sparkline::default()
            .data(bars)
            .style(Style::new().fg(Color::Cyan)),
        inner(chart_area, 1),
    );
}

fn expert(f: &mut Frame<'_>, st: &State, r: Rect) {
    let mut title = format!("Expert notes {}", count(st.notes.len() as u64));
    if st.notes_dropped > 0 {
        title.push_str(&format!(" (+{} not listed)", count(st.notes_dropped)));
    }
    f.render_widget(pane_block(title, true), r);
    let body = inner(r, 1);
    let n = body.height.saturating_sub(1) as usize;
    let off = st.expert.offset.min(st.notes.len().saturating_sub(n));
    let mut rows = Vec::new();
    for (i, note) in st.notes.iter().enumerate().skip(off).take(n) {
        let sid = st
            .sessions
            .get(note.session as usize)
            .map_or(String::new(), |s| s.info.id.clone());
        let row = st
            .index
            .rows
            .len()
            .gt(&(note.row as usize))
            .then(|| st.index.row(note.row as usize));
        let what = row.map_or(String::new(), |r| match r.kind() {
            RowKind::Message => format!("#{} {}", r.index, st.index.name(&r)),
            RowKind::Gap => "gap".into(),
            RowKind::Undecoded => "undecoded".into(),
            _ => "session".into(),
        });
        let mut tr = TRow::new(vec![
            Cell::from(Span::styled(
                note.severity.as_str(),
                sev_style(Some(note.severity)),
            )),
            Cell::from(sid),
            Cell::from(row.map_or(String::new(), |r| rel(st, r.ts_us))),
            Cell::from(what),
            Cell::from(note.text.to_string()),
        ]);
        if i == st.expert.sel {
            tr = tr.style(sel_style(true));
        }
        rows.push(tr);
    }
    use ratatui::layout::Constraint::{Fill, Length};
    let t = Table::new(
        rows,
        [Length(5), Length(4), Length(10), Length(22), Fill(1)],
    )
    .header(TRow::new(vec!["sev", "sess", "time", "message", "note"]).style(DIM))
    .column_spacing(1);
    f.render_widget(t, body);
    if st.notes.is_empty() {
        f.render_widget(
            Paragraph::new(Span::styled("no notes", DIM)),
            inner(body, 1),
        );
    }
}

fn help(f: &mut Frame<'_>, area: Rect) {
    let w = area.width.min(100);
    let cols = if w >= 76 { 2 } else { 1 };
    let per = KEYS.len().div_ceil(cols);
    let h = (per as u16 + 3).min(area.height);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    f.render_widget(Clear, r);
    let block = Block::bordered()
        .title(Span::styled(
            " Keys (Esc or ? closes) ",
            Style::new().add_modifier(Modifier::BOLD),
        ))
        .border_style(Style::new().fg(Color::Cyan));
    let body = block.inner(r);
    f.render_widget(block, r);
    let cw = body.width / cols as u16;
    for c in 0..cols {
        let mut lines = Vec::new();
        for (k, d) in KEYS.iter().skip(c * per).take(per) {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("{k:<10}"),
                    Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
                ),
                Span::raw(*d),
            ]));
        }
        f.render_widget(
            Paragraph::new(lines),
            Rect::new(
                body.x + c as u16 * cw,
                body.y,
                cw.saturating_sub(1),
                body.height,
            ),
        );
    }
}
