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

use crate::human::{self, escape};
use crate::record::{Latency, MessageRecord, Percentiles, Record, Sink};
use crate::stats::Collector;
use crate::tui::index::RowKind;
use crate::tui::layout::{inner, Layout};
use crate::tui::list::Scroll;
use crate::tui::model::Model;
use crate::tui::render::{count, pane_block, sel_style, DIM};
use crate::tui::view::timeline::Timeline;

/// Buckets of the latency chart.
pub const CHART_BUCKETS: usize = 240;

/// One line of the statistics table.
#[derive(Debug, Clone, PartialEq)]
pub struct StatRow {
    pub proto: &'static str,
    pub name: String,
    pub requests: u64,
    pub responses: u64,
    pub other: u64,
    pub errors: u64,
    pub latency: Option<Percentiles>,
    /// Highest latency per time bucket (µs; 0 = none), [`CHART_BUCKETS`].
    pub chart: Vec<u64>,
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

    /// Computes per-name statistics of the rows in the timeline's list
    /// with the summary's own code: each message row is given to a
    /// [`Collector`] as a message record (name, kind, direction, error,
    /// latency), and percentiles come from its [`Latency`] distributions
    /// (bounded, as the collector's names are: the rows beyond the first
    /// [`NAME_CAP`](crate::record::NAME_CAP) names of a protocol are one
    /// `(other)` row). The latency chart takes a second pass over the
    /// rows. `sel`: the row to select.
    pub fn compute(model: &Model, tl: &Timeline, sel: usize) -> StatsView {
        let mut c = Collector::default();
        let list = &tl.list;
        let n = list.len();
        let (mut t_lo, mut t_hi) = (i64::MAX, i64::MIN);
        for p in 0..n {
            let row = model.index.row(list.get(p));
            if row.kind() != RowKind::Message {
                continue;
            }
            let Some(sess) = model.sessions.get(row.session as usize) else {
                continue;
            };
            let name = model.index.name(&row);
            let mut msg = Message::new(row.dir(), 0, row.msg_kind(), name);
            msg.is_error = row.is_error();
            let rec = MessageRecord {
                session: &sess.info,
                index: u64::from(row.index),
                ts: crate::capture::Timestamp::from_micros(row.ts_us),
                // Statistics do not look at frames.
                frame: 0,
                msg: &msg,
                reply_to: row.reply_to().map(u64::from),
                latency_us: row.latency_us(),
                links: &[],
            };
            let _ = c.record(&Record::Message(rec));
            t_lo = t_lo.min(row.ts_us);
            t_hi = t_hi.max(row.ts_us);
        }
        let span = (t_lo, t_hi.max(t_lo));
        let mut rows = Vec::new();
        let mut all_lat = Latency::default();
        let mut total = StatRow {
            proto: "",
            name: "(all)".into(),
            requests: 0,
            responses: 0,
            other: 0,
            errors: 0,
            latency: None,
            chart: vec![0; CHART_BUCKETS],
        };
        for (proto, ps) in &c.summary.protos {
            let folded = (ps.folded.messages() > 0).then(|| ("(other)".to_string(), &ps.folded));
            for (name, ns) in ps.by_name.iter().map(|(k, v)| (k.clone(), v)).chain(folded) {
                all_lat.merge(&ns.latency);
                total.requests += ns.requests;
                total.responses += ns.responses;
                total.other += ns.other;
                total.errors += ns.errors;
                rows.push(StatRow {
                    proto,
                    name,
                    requests: ns.requests,
                    responses: ns.responses,
                    other: ns.other,
                    errors: ns.errors,
                    latency: ns.latency.percentiles(),
                    chart: Vec::new(),
                });
            }
        }
        total.latency = all_lat.percentiles();
        rows.sort_by(|a, b| {
            (b.requests + b.responses + b.other)
                .cmp(&(a.requests + a.responses + a.other))
                .then(a.name.cmp(&b.name))
        });
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
    draw_table(f, sv, table_area, r.width >= 100);
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

fn draw_table(f: &mut Frame<'_>, sv: &StatsView, table_area: Rect, wide: bool) {
    let lat = |p: &Option<Percentiles>, f: fn(&Percentiles) -> i64| {
        p.as_ref().map(|p| human::latency(f(p))).unwrap_or_default()
    };
    let n = table_area.height.saturating_sub(1) as usize;
    let off = sv.scroll.offset.min(sv.rows.len().saturating_sub(n));
    let mut rows = Vec::new();
    let all = sv.total.iter();
    let mk = |s: &StatRow| {
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
}

fn draw_chart(f: &mut Frame<'_>, sv: &StatsView, chart_area: Rect) {
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
