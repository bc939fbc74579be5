//! The drawing vocabulary the views share: styles, the block of a pane,
//! and the formatting of counts, sizes, times and names. Each view draws
//! itself (`view::*::draw`); [`super::draw::render`] draws a frame.

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders};

use qscope_dissectors::{Kind, Proto, Severity};

use super::index::Row;

// ------------------------------------------------------------ styles

pub const DIM: Style = Style::new().fg(Color::DarkGray);

pub fn kind_style(row: &Row) -> Style {
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

pub fn sev_style(s: Option<Severity>) -> Style {
    match s {
        Some(Severity::Error) => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Some(Severity::Warn) => Style::new().fg(Color::Yellow),
        _ => Style::new(),
    }
}

pub fn title_style(focused: bool) -> Style {
    if focused {
        Style::new()
            .fg(Color::Black)
            .bg(Color::Cyan)
            .add_modifier(Modifier::BOLD)
    } else {
        Style::new().add_modifier(Modifier::BOLD)
    }
}

pub fn sel_style(focused: bool) -> Style {
    if focused {
        Style::new().add_modifier(Modifier::REVERSED)
    } else {
        Style::new().bg(Color::DarkGray)
    }
}

pub fn pane_block(title: String, focused: bool) -> Block<'static> {
    Block::new()
        .borders(Borders::TOP)
        .border_style(DIM)
        .title(Span::styled(format!(" {title} "), title_style(focused)))
}

/// Takes the colours out of a drawn frame (`NO_COLOR`), keeping what they
/// meant: reverse, bold and underline stay; a coloured background
/// (the header, a focused pane's title, the status line, the selected
/// field's bytes, a gap) becomes reverse video, the dark one of a
/// selection in a pane without the focus an underline. Terminals are sent
/// no colour at all (crossterm, honouring `NO_COLOR` itself, would turn a
/// colour change into an SGR reset that also drops reverse and bold).
pub fn monochrome(buf: &mut Buffer) {
    for cell in buf.content.iter_mut() {
        match cell.bg {
            Color::Reset => {}
            Color::DarkGray => cell.modifier.insert(Modifier::UNDERLINED),
            _ => cell.modifier.insert(Modifier::REVERSED),
        }
        cell.fg = Color::Reset;
        cell.bg = Color::Reset;
    }
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

/// Time `ts` (µs) relative to `t0`, in seconds.
pub fn rel(t0: Option<i64>, ts: i64) -> String {
    let us = ts - t0.unwrap_or(ts);
    format!("{:.6}", us as f64 / 1e6)
}

pub fn proto_short(p: Proto) -> &'static str {
    p.protocol().map_or("?", |d| d.short)
}

/// Display width of `s`.
pub fn width(s: &str) -> usize {
    Span::raw(s).width()
}

/// `s` cut to at most `max` columns.
pub fn trunc(s: &str, max: usize) -> String {
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
