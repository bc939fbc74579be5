//! The help overlay: every key ([`KEYS`]).

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use crate::tui::keys::KEYS;

/// Draws the overlay in the middle of `area`.
pub fn draw(f: &mut Frame<'_>, area: Rect) {
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
