//! The timeline pane: every row of the view (all sessions or one, all
//! messages or those the display filter keeps), its cursor, the search,
//! the jumps between related rows, and following a live capture.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row as TRow, Table};
use ratatui::Frame;

use qscope_dissectors::Severity;

use crate::human::{self, escape};
use crate::tui::action::Outbox;
use crate::tui::index::{Bits, Row, RowKind};
use crate::tui::jobs::Job;
use crate::tui::layout::inner;
use crate::tui::list::{ActiveFilter, RowList, Scroll};
use crate::tui::model::Model;
use crate::tui::render::{
    count, kind_style, pane_block, proto_short, rel, sel_style, sev_style, DIM,
};

/// Jump history length.
const MAX_JUMPS: usize = 100;

/// The timeline's state.
#[derive(Debug)]
pub struct Timeline {
    /// The rows shown.
    pub list: RowList,
    pub scroll: Scroll,
    pub filter: Option<ActiveFilter>,
    filter_gen: u64,
    /// What `/` looks for (lower case).
    pub search: Option<String>,
    /// Rows jumped from (`b` goes back).
    pub jumps: Vec<usize>,
    /// Follow new rows (live).
    pub tail: bool,
    /// Rows of the index when the display was paused.
    pub paused_at: Option<usize>,
}

impl Timeline {
    pub fn new(live: bool) -> Timeline {
        Timeline {
            list: RowList::new(None, false, 0),
            scroll: Scroll::default(),
            filter: None,
            filter_gen: 0,
            search: None,
            jumps: Vec::new(),
            tail: live,
            paused_at: None,
        }
    }

    /// Row id of the selection.
    pub fn selected_row(&self) -> Option<usize> {
        (!self.list.is_empty()).then(|| self.list.get(self.scroll.sel))
    }

    /// Rows of the index that may be shown (all, unless paused).
    pub fn limit(&self, model: &Model) -> usize {
        let n = model.index.len();
        self.paused_at.map_or(n, |p| p.min(n))
    }

    /// Lists the rows that arrived (or that the filter decided).
    pub fn extend(&mut self, model: &Model) {
        let limit = self.limit(model);
        self.list.extend(&model.index, limit, self.filter.as_ref());
    }

    /// One session's rows, or all; the selected row stays selected when
    /// listed.
    pub fn set_scope(&mut self, model: &Model, session: Option<u32>) {
        let keep = self.selected_row();
        let start = session
            .and_then(|s| model.sessions.get(s as usize))
            .map_or(0, |s| s.first_row.min(model.index.len()));
        self.list = RowList::new(session, self.filter.is_some(), start);
        self.extend(model);
        if let Some(id) = keep {
            self.scroll.sel = self
                .list
                .position(id)
                .min(self.list.len().saturating_sub(1));
        }
    }

    /// Selects row `id` (widening the scope if it is hidden), remembering
    /// the current row for `b` when `remember`.
    pub fn select(&mut self, model: &Model, id: usize, remember: bool, out: &mut Outbox) {
        if remember {
            if let Some(cur) = self.selected_row() {
                if self.jumps.last() != Some(&cur) {
                    self.jumps.push(cur);
                    if self.jumps.len() > MAX_JUMPS {
                        self.jumps.remove(0);
                    }
                }
            }
        }
        if self.list.find(id).is_none() && self.list.session.is_some() {
            let row = model.index.row(id);
            if self.list.session != Some(row.session) {
                self.set_scope(model, None);
            }
        }
        match self.list.find(id) {
            Some(p) => self.scroll.sel = p,
            None => {
                self.scroll.sel = self
                    .list
                    .position(id)
                    .min(self.list.len().saturating_sub(1));
                out.status("that row is hidden by the filter (f to change it)");
            }
        }
        self.tail = false;
    }

    /// Moves the cursor; moving up stops following new rows.
    pub fn move_by(&mut self, delta: isize) {
        let before = self.scroll.sel;
        self.scroll.move_by(delta, self.list.len());
        if delta < 0 && self.scroll.sel != before {
            self.tail = false;
        }
    }

    /// A click on line `line` of the list.
    pub fn click(&mut self, line: usize) {
        let p = self.scroll.offset + line;
        if p < self.list.len() {
            self.scroll.sel = p;
            self.tail = false;
        }
    }

    /// The next (or previous) listed row satisfying `pred`, from the
    /// selection, wrapping around: its id and whether it wrapped.
    pub fn find_next(
        &self,
        model: &Model,
        forward: bool,
        pred: impl Fn(&Row) -> bool,
    ) -> Option<(usize, bool)> {
        let n = self.list.len();
        if n == 0 {
            return None;
        }
        let cur = self.scroll.sel;
        for k in 1..=n {
            let (p, wrapped) = if forward {
                ((cur + k) % n, cur + k >= n)
            } else {
                ((cur + n - k) % n, k > cur)
            };
            let id = self.list.get(p);
            if pred(&model.index.row(id)) {
                return Some((id, wrapped));
            }
        }
        None
    }

    /// The row paired with the selection: a reply's request, a request's
    /// reply.
    pub fn pair_of_selected(&self, model: &Model, out: &mut Outbox) -> Option<usize> {
        let id = self.selected_row()?;
        let index = &model.index;
        let row = index.row(id);
        if row.kind() != RowKind::Message {
            out.status("not a message");
            return None;
        }
        let first = model
            .sessions
            .get(row.session as usize)
            .map_or(0, |s| s.first_row.min(id));
        let target = if let Some(req) = row.reply_to() {
            (first..id).rev().find(|&i| {
                let r = index.row(i);
                r.session == row.session && r.kind() == RowKind::Message && r.index == req
            })
        } else {
            let end = index.len();
            let found = (id + 1..end).find(|&i| {
                let r = index.row(i);
                r.session == row.session && r.reply_to() == Some(row.index)
            });
            if found.is_none() {
                out.status("no reply to this message");
                return None;
            }
            found
        };
        if target.is_none() {
            out.status("the request is not in the index");
        }
        target
    }

    /// Sets the display filter `expr` (already parsed once): the filter
    /// job decides which rows match; the list fills in as it reports.
    pub fn set_filter(&mut self, model: &Model, expr: String, out: &mut Outbox) {
        self.filter_gen += 1;
        let gen = self.filter_gen;
        self.filter = Some(ActiveFilter {
            expr: expr.clone(),
            gen,
            bits: Bits::default(),
            scanned: 0,
            matches: 0,
            done: false,
            error: None,
        });
        out.job(Job::Filter { expr, gen });
        let s = self.list.session;
        self.set_scope(model, s);
        self.scroll = Scroll::default();
        self.tail = false;
    }

    /// Removes the display filter, if any.
    pub fn clear_filter(&mut self, model: &Model, out: &mut Outbox) {
        if self.filter.take().is_some() {
            out.job(Job::CancelFilter);
            let s = self.list.session;
            self.set_scope(model, s);
            out.status("filter cleared");
        }
    }

    /// The filter job's report: marks the matches. False when it is about
    /// another filter.
    pub fn filter_report(
        &mut self,
        gen: u64,
        scanned: u64,
        matches: &[u32],
        done: bool,
        error: Option<String>,
        out: &mut Outbox,
    ) -> bool {
        let Some(f) = &mut self.filter else {
            return false;
        };
        if f.gen != gen {
            return false;
        }
        for m in matches {
            f.bits.set(*m as usize);
        }
        f.matches += matches.len() as u64;
        f.scanned = f.scanned.max(scanned);
        f.done = done;
        if let Some(e) = error {
            f.error = Some(e.clone());
            out.error(format!("filter: {e}"));
        }
        true
    }
}

/// Whether `row` matches the search `needle` (lower case).
pub fn row_matches(model: &Model, row: &Row, needle: &str) -> bool {
    let hay = |s: &str| s.to_lowercase().contains(needle);
    match row.kind() {
        RowKind::Message => hay(model.index.name(row)) || hay(model.index.text(row)),
        RowKind::Open | RowKind::End => model
            .sessions
            .get(row.session as usize)
            .is_some_and(|s| hay(&s.info.id)),
        _ => hay(model.index.text(row)),
    }
}

// ------------------------------------------------------------ drawing

/// One timeline row as cells: time, delta, session, arrow, proto, name,
/// summary, latency.
fn row_cells(
    tl: &Timeline,
    model: &Model,
    pos: usize,
    row: &Row,
    narrow: bool,
) -> Vec<Cell<'static>> {
    let prev = if pos > 0 {
        Some(model.index.row(tl.list.get(pos - 1)))
    } else {
        None
    };
    let d = prev.map_or(0, |p| row.ts_us - p.ts_us);
    let sess = model.sessions.get(row.session as usize);
    let sid = sess.map_or(String::new(), |s| s.info.id.clone());
    let proto = sess.map_or("", |s| proto_short(s.info.proto));
    let mark = if pos == tl.scroll.sel { ">" } else { " " };
    let time = Cell::from(format!("{mark}{}", rel(model.t0, row.ts_us)));
    let dcell = Cell::from(Span::styled(human::delta(d), DIM));
    let mut cells = vec![time, dcell, Cell::from(sid)];
    let text = model.index.text(row);
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
                Span::styled(model.index.name(row).to_string(), style),
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
                            "{} msg{}, {} error{}, {}",
                            count(s.messages),
                            human::plural(s.messages),
                            count(s.errors),
                            human::plural(s.errors),
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

/// The pane's title: count, scope, filter and its progress.
fn title(tl: &Timeline, model: &Model) -> String {
    let mut title = format!("Timeline {}", count(tl.list.len() as u64));
    if let Some(s) = tl.list.session {
        if let Some(e) = model.sessions.get(s as usize) {
            title.push_str(&format!("  session {} (a: all)", e.info.id));
        }
    }
    if let Some(flt) = &tl.filter {
        let total = model.index.len() as u64;
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
    title
}

/// Draws the pane.
pub fn draw(f: &mut Frame<'_>, tl: &Timeline, model: &Model, focused: bool, r: Rect) {
    f.render_widget(pane_block(title(tl, model), focused), r);
    let body = inner(r, 1);
    let n = body.height.saturating_sub(1) as usize;
    let len = tl.list.len();
    let mut off = tl.scroll.offset.min(len.saturating_sub(n));
    if tl.scroll.sel >= off + n {
        off = tl.scroll.sel + 1 - n.max(1);
    }
    let narrow = r.width < 72;
    let tw = model
        .index
        .rows
        .last()
        .map_or(8, |l| rel(model.t0, l.ts_us).len().max(8)) as u16
        + 1;
    let name_w = if r.width >= 120 {
        26
    } else if r.width >= 90 {
        20
    } else {
        18
    };
    let sw = (1 + count(model.sessions.len() as u64).len()).max(3) as u16;
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
    let constraints: Vec<Constraint> = widths
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i + 1 == last {
                Constraint::Fill(1)
            } else {
                Constraint::Length(*w)
            }
        })
        .collect();
    let mut rows = Vec::new();
    for pos in off..(off + n).min(len) {
        let id = tl.list.get(pos);
        let row = model.index.row(id);
        let mut tr = TRow::new(row_cells(tl, model, pos, &row, narrow));
        if pos == tl.scroll.sel {
            tr = tr.style(sel_style(focused));
        }
        rows.push(tr);
    }
    if len == 0 {
        let msg = if tl.filter.as_ref().is_some_and(|f| !f.done) {
            "filtering…"
        } else if tl.filter.is_some() {
            "no message matches the filter"
        } else if model.done.is_some() {
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
