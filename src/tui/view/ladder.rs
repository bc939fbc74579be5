//! The ladder view: a sequence diagram of one session, client on the
//! left, server on the right, an arrow per message with its latency.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use qscope_dissectors::Dir;

use crate::human;
use crate::tui::index::RowKind;
use crate::tui::layout::inner;
use crate::tui::list::{RowList, Scroll};
use crate::tui::model::Model;
use crate::tui::render::{kind_style, pane_block, rel, sev_style, trunc, width, DIM};
use crate::tui::view::timeline::Timeline;

/// The ladder view of one session.
#[derive(Debug, Default)]
pub struct LadderView {
    pub session: u32,
    pub list: RowList,
    pub scroll: Scroll,
}

impl LadderView {
    /// The ladder of session `s` (the timeline's filter applies), the
    /// timeline's selection selected.
    pub fn open(model: &Model, s: u32, tl: &Timeline) -> LadderView {
        let start = model.sessions[s as usize].first_row.min(model.index.len());
        let mut list = RowList::new(Some(s), tl.filter.is_some(), start);
        list.extend(&model.index, tl.limit(model), tl.filter.as_ref());
        let mut scroll = Scroll::default();
        if let Some(id) = tl.selected_row() {
            scroll.sel = list.position(id).min(list.len().saturating_sub(1));
        }
        LadderView {
            session: s,
            list,
            scroll,
        }
    }

    /// Selects row `id` (or the next listed one).
    pub fn show_row(&mut self, id: usize) {
        self.scroll.sel = self
            .list
            .position(id)
            .min(self.list.len().saturating_sub(1));
    }

    /// Moves the cursor; returns the row id selected.
    pub fn move_by(&mut self, delta: isize) -> Option<usize> {
        self.scroll.move_by(delta, self.list.len());
        (!self.list.is_empty()).then(|| self.list.get(self.scroll.sel))
    }

    /// A click on line `line` of the body (0 is the column labels);
    /// returns the row id selected.
    pub fn click(&mut self, line: usize) -> Option<usize> {
        if line == 0 {
            return None;
        }
        let p = self.scroll.offset + line - 1;
        if p >= self.list.len() {
            return None;
        }
        self.scroll.sel = p;
        Some(self.list.get(p))
    }
}

/// Columns kept between the client's and the server's label.
const LABEL_GAP: usize = 2;

/// The line naming the two columns: each label centred over its column
/// (`at`), within `w` columns. The longest form that leaves the labels
/// apart: "client ADDR", the address alone, "client :PORT", "client";
/// else none.
fn labels(w: usize, at: (usize, usize), addr: [std::net::SocketAddr; 2]) -> String {
    let [c, s] = addr;
    let forms = [
        [format!("client {c}"), format!("server {s}")],
        [c.to_string(), s.to_string()],
        [
            format!("client :{}", c.port()),
            format!("server :{}", s.port()),
        ],
        ["client".to_string(), "server".to_string()],
    ];
    let place = |label: &str, at: usize| {
        let n = width(label);
        let start = at.saturating_sub(n / 2).min(w.saturating_sub(n));
        (start, start + n)
    };
    let mut out = String::new();
    for [l, r] in &forms {
        let (ls, le) = place(l, at.0);
        let (rs, re) = place(r, at.1);
        if le + LABEL_GAP <= rs && re <= w {
            out.push_str(&" ".repeat(ls));
            out.push_str(l);
            out.push_str(&" ".repeat(rs - le));
            out.push_str(r);
            break;
        }
    }
    out
}

/// Draws the view.
pub fn draw(f: &mut Frame<'_>, ld: &LadderView, model: &Model, r: Rect) {
    let Some(sess) = model.sessions.get(ld.session as usize) else {
        return;
    };
    let title = format!("Ladder {}", model.session_title(ld.session));
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
    let (client, server) = (sess.info.client, sess.info.server);
    let mut lines = vec![Line::from(Span::styled(
        labels(w, (cx, sx), [client, server]),
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
        let row = model.index.row(id);
        let mark = if pos == ld.scroll.sel { ">" } else { " " };
        let time = format!("{mark}{:>w2$}", rel(model.t0, row.ts_us), w2 = tw - 1);
        let (mid, style, lat) = match row.kind() {
            RowKind::Message => {
                let name = model.index.name(&row);
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
                    RowKind::Note => format!(" {} ", model.index.text(&row)),
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
