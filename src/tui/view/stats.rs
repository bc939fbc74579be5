//! The statistics view: per-name counts and latency percentiles of the
//! rows in view, computed with the summary's own code, and a chart of the
//! highest latency over time of the selected name.

use std::collections::HashMap;

use ratatui::layout::Constraint::{Fill, Length};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row as TRow, Sparkline, Table, TableState};
use ratatui::Frame;

use qscope_dissectors::Message;

use crate::capture::Timestamp;
use crate::human::{self, escape};
use crate::record::{MessageRecord, Percentiles, Record, SessionEnd, Sink};
use crate::stats::{Collector, NameDetail};
use crate::tui::index::RowKind;
use crate::tui::layout::{inner, Layout};
use crate::tui::list::Scroll;
use crate::tui::model::Model;
use crate::tui::render::{count, pane_block, sel_style, width, DIM};
use crate::tui::view::timeline::Timeline;

/// Buckets of the latency chart.
pub const CHART_BUCKETS: usize = 240;

/// One line of the statistics table: the numbers of `qscope stats`
/// ([`NameDetail`]: replies count under the request's name).
#[derive(Debug, Clone, PartialEq)]
pub struct StatRow {
    pub proto: &'static str,
    pub name: String,
    pub messages: u64,
    pub requests: u64,
    pub replies: u64,
    pub errors: u64,
    /// Requests never answered (in sessions that ended).
    pub missing: u64,
    pub latency: Option<Percentiles>,
    /// Highest latency per time bucket (µs; 0 = none), [`CHART_BUCKETS`].
    pub chart: Vec<u64>,
}

impl StatRow {
    fn new(proto: &'static str, name: String, n: &NameDetail) -> StatRow {
        StatRow {
            proto,
            name,
            messages: n.messages,
            requests: n.requests,
            replies: n.replies,
            errors: n.errors,
            missing: n.missing,
            latency: n.latency.percentiles(),
            chart: Vec::new(),
        }
    }
}

/// The statistics view.
#[derive(Debug, Default)]
pub struct StatsView {
    pub scope: String,
    pub rows: Vec<StatRow>,
    /// All names together.
    pub total: Option<StatRow>,
    pub span_us: (i64, i64),
    pub scroll: Scroll,
    /// Rows of the index when computed.
    computed_at: usize,
}

impl StatsView {
    /// Rows arrived since it was computed.
    pub fn stale(&self, model: &Model) -> bool {
        self.computed_at != model.index.len()
    }

    pub fn move_by(&mut self, delta: isize) {
        self.scroll.move_by(delta, self.rows.len());
    }

    /// A click on screen line `y`.
    pub fn click(&mut self, l: &Layout, y: u16) {
        let first = l.stats_first_line();
        if y >= first {
            let p = self.scroll.offset + (y - first) as usize;
            if p < self.rows.len() {
                self.scroll.sel = p;
            }
        }
    }

    /// Computes per-name statistics of the timeline's view with the code
    /// of `qscope stats`: the message rows are given to a detailed
    /// [`Collector`] as message records (name, kind, direction, error,
    /// reply, latency), each selected when the view lists it, so that a
    /// reply counts under its request and a filtered view counts as
    /// `qscope stats -Y` does; the requests of the sessions that ended
    /// unanswered are missing (of all sessions, once the analysis is
    /// over). Percentiles come from its [`Latency`](crate::record::Latency) distributions, bounded
    /// as its names are (beyond [`NAME_CAP`](crate::record::NAME_CAP)
    /// names of a protocol, one `(other)` row). The latency chart takes a
    /// second pass over the rows. `sel`: the row to select.
    pub fn compute(model: &Model, tl: &Timeline, sel: usize) -> StatsView {
        let mut c = Collector::detailed(None, 0);
        let span = collect(model, tl, &mut c);
        let mut rows = Vec::new();
        let mut all = NameDetail::default();
        if let Some(d) = &c.detail {
            for (proto, p) in d.protos() {
                let folded = (p.folded.messages > 0).then_some(("(other)", &p.folded));
                for (name, n) in p.names().into_iter().chain(folded) {
                    rows.push(StatRow::new(proto, name.to_string(), n));
                }
                all.merge(&p.total());
            }
        }
        let mut total = StatRow::new("", "(all)".into(), &all);
        total.chart = vec![0; CHART_BUCKETS];
        rows.sort_by(|a, b| b.messages.cmp(&a.messages).then(a.name.cmp(&b.name)));
        charts(model, tl, span, &mut rows, &mut total);
        let scope = match (&tl.list.session, &tl.filter) {
            (Some(s), Some(f)) => format!("session {}, filter {}", model.session_id(*s), f.expr),
            (Some(s), None) => format!("session {}", model.session_id(*s)),
            (None, Some(f)) => format!("filter {}", f.expr),
            (None, None) => "all sessions".to_string(),
        };
        StatsView {
            scope,
            rows,
            total: Some(total),
            span_us: span,
            scroll: Scroll { sel, offset: 0 },
            computed_at: model.index.len(),
        }
    }
}

/// Gives the view's messages to `c` (see [`StatsView::compute`]); returns
/// the span of their times.
fn collect(model: &Model, tl: &Timeline, c: &mut Collector) -> (i64, i64) {
    let Some(d) = c.detail.as_mut() else {
        return (0, 0);
    };
    let list = &tl.list;
    let limit = tl.limit(model);
    let (mut t_lo, mut t_hi) = (i64::MAX, i64::MIN);
    // Unfiltered, the list is the rows to count; filtered, every message
    // of the scope is given, selected when listed (replies to selected
    // requests count with them).
    let (ids, filtered): (Box<dyn Iterator<Item = usize>>, bool) = if list.filtered {
        let start = list
            .session
            .and_then(|s| model.sessions.get(s as usize))
            .map_or(0, |s| s.first_row.min(limit));
        (Box::new(start..limit), true)
    } else {
        (Box::new((0..list.len()).map(|p| list.get(p))), false)
    };
    let mut next = 0;
    for id in ids {
        let row = model.index.row(id);
        if row.kind() != RowKind::Message || list.session.is_some_and(|s| s != row.session) {
            continue;
        }
        let Some(sess) = model.sessions.get(row.session as usize) else {
            continue;
        };
        let selected = !filtered || {
            while next < list.len() && list.get(next) < id {
                next += 1;
            }
            next < list.len() && list.get(next) == id
        };
        let name = model.index.name(&row);
        let mut msg = Message::new(row.dir(), 0, row.msg_kind(), name);
        msg.is_error = row.is_error();
        let rec = MessageRecord {
            session: &sess.info,
            index: u64::from(row.index),
            ts: Timestamp::from_micros(row.ts_us),
            // Statistics do not look at frames.
            frame: 0,
            msg: &msg,
            reply_to: row.reply_to().map(u64::from),
            latency_us: row.latency_us(),
            links: &[],
        };
        d.message_selected(&rec, selected);
        if selected {
            t_lo = t_lo.min(row.ts_us);
            t_hi = t_hi.max(row.ts_us);
        }
    }
    // The requests of a session that ended are answered or missing.
    for s in model.sessions.iter().filter(|s| s.end_row < limit) {
        let end = SessionEnd {
            session: &s.info,
            end: Timestamp::from_micros(s.end_us.unwrap_or(s.last_us)),
            messages: s.messages,
            notes: &[],
            attrs: &[],
        };
        let _ = c.record(&Record::SessionEnd(end));
    }
    if model.done.is_some() && tl.paused_at.is_none() {
        // As `qscope stats` at the end: what is still open is missing.
        if let Some(d) = c.detail.as_mut() {
            d.finish();
        }
    }
    (t_lo, t_hi.max(t_lo))
}

/// The latency charts: the busiest names get a series each (a second
/// pass over the rows), all names together one.
fn charts(
    model: &Model,
    tl: &Timeline,
    span: (i64, i64),
    rows: &mut [StatRow],
    total: &mut StatRow,
) {
    let list = &tl.list;
    let bucket = |t: i64| -> usize {
        let w = (span.1 - span.0).max(1) as i128;
        (((t - span.0) as i128 * CHART_BUCKETS as i128 / (w + 1)) as usize).min(CHART_BUCKETS - 1)
    };
    let charted: HashMap<&str, usize> = rows
        .iter()
        .enumerate()
        .take(64)
        .map(|(i, r)| (r.name.as_str(), i))
        .collect();
    let mut series: Vec<Vec<u64>> = vec![vec![0; CHART_BUCKETS]; charted.len()];
    for p in 0..list.len() {
        let row = model.index.row(list.get(p));
        if row.kind() != RowKind::Message || model.sessions.get(row.session as usize).is_none() {
            continue;
        }
        let Some(l) = row.latency_us() else {
            continue;
        };
        let b = bucket(row.ts_us);
        let l = l.max(0) as u64;
        total.chart[b] = total.chart[b].max(l);
        if let Some(i) = charted.get(model.index.name(&row)) {
            series[*i][b] = series[*i][b].max(l);
        }
    }
    for (i, s) in series.into_iter().enumerate() {
        rows[i].chart = s;
    }
}

// ------------------------------------------------------------ drawing

/// Draws the view: the table, and the chart below when there is room.
pub fn draw(f: &mut Frame<'_>, sv: &StatsView, l: &Layout) {
    let r = l.body;
    let title = format!("Statistics  {}", escape(&sv.scope));
    f.render_widget(pane_block(title, true), r);
    let ch = l.stats_chart_height();
    let table_area = Rect {
        height: r.height.saturating_sub(1 + ch),
        ..inner(r, 1)
    };
    draw_table(f, sv, table_area);
    if ch == 0 {
        return;
    }
    let chart_area = Rect {
        y: r.y + r.height - ch,
        height: ch,
        ..r
    };
    draw_chart(f, sv, chart_area);
}

/// A column of the table: header, least width (0: a latency's), the order
/// in which narrow screens leave it out (0: never), cell.
type Column = (&'static str, u16, u8, fn(&StatRow) -> String);

/// Columns the name keeps at least, when others can go.
const NAME_MIN: u16 = 16;

fn lat(s: &StatRow, f: fn(&Percentiles) -> i64) -> String {
    s.latency
        .as_ref()
        .map(|p| human::latency(f(p)))
        .unwrap_or_else(|| "-".into())
}

/// The numeric columns, as `qscope stats` has them.
const COLUMNS: &[Column] = &[
    ("msgs", 7, 0, |s| count(s.messages)),
    ("reqs", 6, 1, |s| count(s.requests)),
    ("replies", 7, 2, |s| count(s.replies)),
    ("err", 5, 0, |s| count(s.errors)),
    ("missing", 7, 0, |s| count(s.missing)),
    ("min", 0, 5, |s| lat(s, |p| p.min)),
    ("p50", 0, 6, |s| lat(s, |p| p.p50)),
    ("p95", 0, 4, |s| lat(s, |p| p.p95)),
    ("p99", 0, 3, |s| lat(s, |p| p.p99)),
    ("max", 0, 0, |s| lat(s, |p| p.max)),
];

/// The width of each of [`COLUMNS`] for the rows `shown`: a latency's is
/// `lw`; a count's is its least width, or more when a count shown needs
/// more (the total's, usually): a number is never cut.
fn col_widths(shown: &[&StatRow], lw: u16) -> Vec<u16> {
    COLUMNS
        .iter()
        .map(|c| {
            if c.1 == 0 {
                return lw;
            }
            shown
                .iter()
                .map(|s| width(&(c.3)(s)) as u16)
                .max()
                .unwrap_or(0)
                .max(c.1)
        })
        .collect()
}

/// The columns shown in `width`, with their widths: all, or without
/// requests, replies, p99, p95, min, p50 (in that order) until the name
/// has [`NAME_MIN`] columns.
fn columns(width: u16, widths: &[u16]) -> Vec<(&'static Column, u16)> {
    let mut cols: Vec<(&Column, u16)> = COLUMNS.iter().zip(widths.iter().copied()).collect();
    let used = |cols: &[(&Column, u16)]| -> u16 {
        // The mark and protocol, the columns, a space between any two.
        4 + cols.iter().map(|c| c.1).sum::<u16>() + cols.len() as u16 + 1
    };
    for order in 1..=6 {
        if used(&cols) + NAME_MIN <= width {
            break;
        }
        cols.retain(|c| c.0 .2 != order);
    }
    cols
}

/// Draws the table: a line per name, the selected one marked, and the
/// total; narrow screens leave columns out ([`columns`]).
fn draw_table(f: &mut Frame<'_>, sv: &StatsView, table_area: Rect) {
    let lw = if table_area.width >= 120 { 9 } else { 8 };
    let n = table_area.height.saturating_sub(1) as usize;
    let off = sv.scroll.offset.min(sv.rows.len().saturating_sub(n));
    let visible: Vec<&StatRow> = sv.rows.iter().skip(off).take(n.saturating_sub(1)).collect();
    let shown: Vec<&StatRow> = visible.iter().copied().chain(sv.total.as_ref()).collect();
    let cols = columns(table_area.width, &col_widths(&shown, lw));
    let right = |t: String| Cell::from(Line::from(t).right_aligned());
    let mk = |s: &StatRow, style: Style| {
        let selected = sv
            .rows
            .get(sv.scroll.sel)
            .is_some_and(|x| std::ptr::eq(x, s));
        let mark = if selected { ">" } else { " " };
        let mut cells = vec![
            Cell::from(format!("{mark}{}", s.proto)),
            Cell::from(s.name.clone()),
        ];
        for (c, _) in &cols {
            let text = (c.3)(s);
            cells.push(match c.0 {
                "err" if s.errors > 0 => Cell::from(
                    Line::from(Span::styled(
                        text,
                        Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                    ))
                    .right_aligned(),
                ),
                "missing" if s.missing > 0 => Cell::from(
                    Line::from(Span::styled(text, Style::new().fg(Color::Yellow))).right_aligned(),
                ),
                _ => right(text),
            });
        }
        TRow::new(cells).style(style)
    };
    let mut rows = Vec::new();
    for (i, s) in (off..).zip(visible) {
        let style = if i == sv.scroll.sel {
            sel_style(true)
        } else {
            Style::new()
        };
        rows.push(mk(s, style));
    }
    if let Some(t) = &sv.total {
        rows.push(mk(t, Style::new().add_modifier(Modifier::BOLD)));
    }
    let mut widths = vec![Length(4), Fill(1)];
    let mut head = vec![Cell::from("prot"), Cell::from("name")];
    for (c, w) in &cols {
        widths.push(Length(*w));
        head.push(right(c.0.to_string()));
    }
    let t = Table::new(rows, widths)
        .header(TRow::new(head).style(DIM))
        .column_spacing(1);
    let mut ts = TableState::default();
    f.render_stateful_widget(t, table_area, &mut ts);
}

/// Draws the chart of the selected name (of all names when the selected
/// one has no series); a name without replies has no latency to chart.
fn draw_chart(f: &mut Frame<'_>, sv: &StatsView, chart_area: Rect) {
    let sel = sv.rows.get(sv.scroll.sel);
    let (name, data, replied) = match sel {
        Some(s) if s.latency.is_none() => (s.name.as_str(), &s.chart, false),
        Some(s) if !s.chart.is_empty() => (s.name.as_str(), &s.chart, true),
        _ => match &sv.total {
            Some(t) => ("all names", &t.chart, t.latency.is_some()),
            None => return,
        },
    };
    let caption_area = Rect {
        height: 1,
        ..chart_area
    };
    if !replied {
        let caption = format!(
            " highest latency over time: {}  (no replies, no latency)",
            escape(name)
        );
        f.render_widget(Paragraph::new(Span::styled(caption, DIM)), caption_area);
        return;
    }
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
    f.render_widget(Paragraph::new(Span::styled(caption, DIM)), caption_area);
    f.render_widget(
        Sparkline::default()
            .data(bars)
            .style(Style::new().fg(Color::Cyan)),
        inner(chart_area, 1),
    );
}

#[cfg(test)]
mod tests {
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    use super::*;
    use crate::tui::harness::buffer_text;

    fn row(name: &str, n: u64) -> StatRow {
        StatRow {
            proto: "qps",
            name: name.into(),
            messages: n,
            requests: n,
            replies: 0,
            errors: 0,
            missing: n,
            latency: None,
            chart: Vec::new(),
        }
    }

    /// Counts wider than a column's usual width widen it: none is cut
    /// (a cut `1,000,000` read `000,000`), on a wide screen or a narrow
    /// one.
    #[test]
    fn large_counts_are_shown_whole() {
        let sv = StatsView {
            rows: vec![row("GetHeaders", 1_000_000), row("Signon", 2)],
            total: Some(row("", 12_345_678)),
            ..StatsView::default()
        };
        for w in [140, 80, 60] {
            let mut t = Terminal::new(TestBackend::new(w, 6)).unwrap();
            t.draw(|f| draw_table(f, &sv, f.area())).unwrap();
            let text = buffer_text(t.backend().buffer());
            let lines: Vec<&str> = text.lines().collect();
            assert!(lines[1].contains(" 1,000,000 "), "{w} columns:\n{text}");
            assert!(lines[3].contains(" 12,345,678 "), "{w} columns:\n{text}");
        }
    }
}
