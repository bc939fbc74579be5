//! The header (the capture, counts, progress, live state) and the footer
//! (the line being typed, the status message or the keys of the view).

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::filter::Filter;
use crate::human::{escape, plural};
use crate::tui::layout::View;
use crate::tui::model::Model;
use crate::tui::render::{count, human_bytes, trunc, width};
use crate::tui::view::timeline::Timeline;

/// A line being typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub kind: InputKind,
    pub text: String,
    /// Filter: the parse error of the text as typed (caret rendering).
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Search,
    Filter,
}

impl Input {
    pub fn new(kind: InputKind, text: String) -> Input {
        let mut i = Input {
            kind,
            text,
            error: None,
        };
        i.check();
        i
    }

    /// Parses a filter as typed, for the caret under its error.
    pub fn check(&mut self) {
        self.error = match self.kind {
            InputKind::Filter if !self.text.trim().is_empty() => Filter::parse(&self.text)
                .err()
                .map(|e| e.render(&self.text)),
            _ => None,
        };
    }
}

/// Draws the header.
pub fn draw_header(f: &mut Frame<'_>, model: &Model, tl: &Timeline, r: Rect) {
    let errors: u64 = model.sessions.iter().map(|s| s.errors).sum();
    let messages: u64 = model.sessions.iter().map(|s| s.messages).sum();
    let left = format!(
        " qscope  {}  {} session{}  {} msg{}  {} err ",
        escape(&model.title),
        count(model.sessions.len() as u64),
        plural(model.sessions.len() as u64),
        count(messages),
        plural(messages),
        count(errors),
    );
    let p = &model.progress;
    let mut right = String::new();
    if model.live {
        right.push_str("LIVE ");
    }
    match &model.done {
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
    if tl.paused_at.is_some() {
        right.push_str(" PAUSED");
    } else if tl.tail {
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

/// Draws the footer.
pub fn draw_footer(
    f: &mut Frame<'_>,
    input: Option<&Input>,
    status: Option<&(String, bool)>,
    view: View,
    r: Rect,
) {
    if let Some(i) = input {
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
    if let Some((text, err)) = status {
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
    let hints: &[(&str, &str)] = match view {
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
