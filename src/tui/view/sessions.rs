//! The sessions pane: one line per session (protocol, client -> server,
//! messages, duration, errors, state), sorted by a key the user cycles.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row as TRow, Table};
use ratatui::Frame;

use crate::human;
use crate::tui::layout::inner;
use crate::tui::list::Scroll;
use crate::tui::model::{Model, SessionEntry};
use crate::tui::render::{count, pane_block, proto_short, sel_style, width, DIM};

/// How the sessions pane is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Start,
    Proto,
    Messages,
    Errors,
    Duration,
    Client,
}

impl SortKey {
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Start => "start",
            SortKey::Proto => "protocol",
            SortKey::Messages => "messages",
            SortKey::Errors => "errors",
            SortKey::Duration => "duration",
            SortKey::Client => "client",
        }
    }
    fn next(self) -> SortKey {
        match self {
            SortKey::Start => SortKey::Proto,
            SortKey::Proto => SortKey::Messages,
            SortKey::Messages => SortKey::Errors,
            SortKey::Errors => SortKey::Duration,
            SortKey::Duration => SortKey::Client,
            SortKey::Client => SortKey::Start,
        }
    }
}

/// The sessions pane's state.
#[derive(Debug)]
pub struct SessionsPane {
    /// Session ordinals in the order shown.
    pub order: Vec<u32>,
    pub sort: SortKey,
    pub scroll: Scroll,
}

impl Default for SessionsPane {
    fn default() -> SessionsPane {
        SessionsPane {
            order: Vec::new(),
            sort: SortKey::Start,
            scroll: Scroll::default(),
        }
    }
}

impl SessionsPane {
    /// The selected session's ordinal.
    pub fn selected(&self) -> Option<u32> {
        self.order.get(self.scroll.sel).copied()
    }

    /// After a batch: lists the sessions announced since and sorts again
    /// (counts changed).
    pub fn update(&mut self, sessions: &[SessionEntry]) {
        let n = sessions.len();
        let base = self.order.len() as u32;
        self.order.extend(base..n as u32);
        // Start order is the order sessions arrive in.
        if self.sort != SortKey::Start {
            self.sort(sessions);
        }
    }

    /// The next sort key; returns the status line's message.
    pub fn cycle_sort(&mut self, sessions: &[SessionEntry]) -> String {
        self.sort = self.sort.next();
        self.sort(sessions);
        format!("sessions sorted by {}", self.sort.as_str())
    }

    /// Sorts by the current key, keeping the selected session selected.
    pub fn sort(&mut self, sessions: &[SessionEntry]) {
        let keep = self.selected();
        let ss = sessions;
        let key = self.sort;
        self.order.sort_by(|a, b| {
            let (x, y) = (&ss[*a as usize], &ss[*b as usize]);
            let ord = match key {
                SortKey::Start => std::cmp::Ordering::Equal,
                SortKey::Proto => x.info.proto.cmp(&y.info.proto),
                SortKey::Messages => y.messages.cmp(&x.messages),
                SortKey::Errors => y.errors.cmp(&x.errors),
                SortKey::Duration => y.duration_us().cmp(&x.duration_us()),
                SortKey::Client => x.info.client.cmp(&y.info.client),
            };
            ord.then(a.cmp(b))
        });
        if let Some(k) = keep {
            if let Some(p) = self.order.iter().position(|s| *s == k) {
                self.scroll.sel = p;
            }
        }
    }

    pub fn move_by(&mut self, delta: isize) {
        self.scroll.move_by(delta, self.order.len());
    }

    /// Puts the cursor on session `s`, when listed.
    pub fn show(&mut self, s: u32) {
        if let Some(p) = self.order.iter().position(|o| *o == s) {
            self.scroll.sel = p;
        }
    }

    /// A click on line `line` of the list.
    pub fn click(&mut self, line: usize) {
        self.scroll.sel = self.scroll.offset + line;
    }
}

/// Draws the pane.
pub fn draw(f: &mut Frame<'_>, p: &SessionsPane, model: &Model, focused: bool, r: Rect) {
    let title = format!(
        "Sessions {}  sort: {} (s)",
        count(model.sessions.len() as u64),
        p.sort.as_str()
    );
    f.render_widget(pane_block(title, focused), r);
    let body = inner(r, 1);
    let n = body.height.saturating_sub(1) as usize;
    let off = p.scroll.offset.min(p.order.len().saturating_sub(n));
    let wide = r.width >= 100;
    let mut rows = Vec::new();
    for (i, ord) in p.order.iter().enumerate().skip(off).take(n) {
        let s = &model.sessions[*ord as usize];
        let mark = if i == p.scroll.sel { ">" } else { " " };
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
        if i == p.scroll.sel {
            row = row.style(sel_style(focused));
        }
        rows.push(row);
    }
    let cs = p
        .order
        .iter()
        .skip(off)
        .take(n)
        .map(|o| {
            let i = &model.sessions[*o as usize].info;
            width(&format!("{} -> {}", i.client, i.server))
        })
        .max()
        .unwrap_or(16)
        .clamp(16, (r.width as usize / 2).max(16)) as u16;
    let idw = (2 + count(model.sessions.len() as u64).len()).max(4) as u16;
    // Counts are never cut: their columns widen for the widest shown.
    let widest = |value: fn(&SessionEntry) -> u64, least: usize| {
        p.order
            .iter()
            .skip(off)
            .take(n)
            .map(|o| count(value(&model.sessions[*o as usize])).len())
            .max()
            .unwrap_or(0)
            .max(least) as u16
    };
    let msgs_w = widest(|s| s.messages, 7);
    let err_w = widest(|s| s.errors, 5);
    let mut widths = vec![idw, 5, cs, msgs_w, 9, err_w, 20];
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
    let widths: Vec<Constraint> = widths
        .into_iter()
        .enumerate()
        .map(|(i, w)| {
            if i + 1 == head.len() {
                Constraint::Min(w)
            } else {
                Constraint::Length(w)
            }
        })
        .collect();
    let t = Table::new(rows, widths)
        .header(TRow::new(head).style(DIM))
        .column_spacing(1);
    f.render_widget(t, body);
}

#[cfg(test)]
mod tests {
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    use super::*;
    use crate::capture::Timestamp;
    use crate::record::SessionInfo;
    use crate::tui::harness::buffer_text;

    /// A session's message and error counts are never cut, however wide.
    #[test]
    fn large_counts_are_shown_whole() {
        let mut model = Model::new("t".into(), false);
        model.sessions.push(SessionEntry {
            info: SessionInfo {
                id: "s1".into(),
                proto: qscope_dissectors::Proto::Qps,
                client: "10.0.0.1:40000".parse().unwrap(),
                server: "10.0.0.2:7070".parse().unwrap(),
                start: Timestamp::from_micros(0),
                t0: Timestamp::from_micros(0),
                mid_stream: false,
            },
            first_row: 0,
            end_row: usize::MAX,
            messages: 12_345_678,
            requests: 0,
            errors: 1_234_567,
            warnings: 0,
            first_us: 0,
            last_us: 0,
            end_us: None,
            pending: 0,
            attrs: Vec::new(),
            notes: Vec::new(),
        });
        let pane = SessionsPane {
            order: vec![0],
            ..SessionsPane::default()
        };
        for w in [140, 80] {
            let mut t = Terminal::new(TestBackend::new(w, 5)).unwrap();
            t.draw(|f| draw(f, &pane, &model, true, f.area())).unwrap();
            let text = buffer_text(t.backend().buffer());
            assert!(text.contains(" 12,345,678 "), "{w} columns:\n{text}");
            assert!(text.contains(" 1,234,567 "), "{w} columns:\n{text}");
        }
    }
}
