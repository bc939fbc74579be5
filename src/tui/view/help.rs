//! The help overlay: every key ([`KEYS`]), then what the marks in the
//! rows mean ([`MARKERS`]).

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use crate::tui::keys::KEYS;

/// The marks in the rows of the views, for the legend.
pub const MARKERS: &[(&str, &str)] = &[
    (">", "the selected row"),
    ("!", "an error (reply or request)"),
    ("*", "a warning on the message (X)"),
    ("-> <-", "client to server, and back"),
    ("==", "session opened / closed"),
    ("~~ GAP", "bytes missing (a gap)"),
    ("▸ ▾", "field collapsed / expanded"),
    ("** *", "a secret, masked (hex, text)"),
];

/// Lines of two-column entries (`key`, what it is), `per` per column.
fn columns(entries: &[(&str, &'static str)], cols: usize) -> Vec<Vec<Line<'static>>> {
    let per = entries.len().div_ceil(cols);
    (0..cols)
        .map(|c| {
            entries
                .iter()
                .skip(c * per)
                .take(per)
                .map(|(k, d)| {
                    Line::from(vec![
                        Span::styled(
                            format!("{k:<10}"),
                            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
                        ),
                        Span::raw(*d),
                    ])
                })
                .collect()
        })
        .collect()
}

/// Draws the overlay in the middle of `area`.
pub fn draw(f: &mut Frame<'_>, area: Rect) {
    let w = area.width.min(100);
    let cols = if w >= 76 { 2 } else { 1 };
    let per = KEYS.len().div_ceil(cols);
    let marks = MARKERS.len().div_ceil(cols);
    // Keys, a blank line, the legend's title and the legend, in borders.
    let h = (per as u16 + 1 + 1 + marks as u16 + 2).min(area.height);
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
    let keys = columns(KEYS, cols);
    let legend = columns(MARKERS, cols);
    for (c, (mut lines, legend)) in keys.into_iter().zip(legend).enumerate() {
        lines.resize(per + 1, Line::default());
        lines.push(if c == 0 {
            Line::from(Span::styled(
                "Marks in the rows",
                Style::new().add_modifier(Modifier::BOLD),
            ))
        } else {
            Line::default()
        });
        lines.extend(legend);
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
