//! Drawing one frame: [`render`] reads `&State` and has each view draw
//! itself where the layout puts it. Only visible rows are formatted;
//! nothing here walks the whole index.

use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::layout::{Pane, View, MIN_H, MIN_W};
use super::render::monochrome;
use super::state::State;
use super::view::{bars, detail, help, ladder, notes, sessions, stats, stream, timeline};

/// Draws the whole screen (without colours under `NO_COLOR`).
pub fn render(f: &mut Frame<'_>, st: &State) {
    draw(f, st);
    if st.no_color {
        monochrome(f.buffer_mut());
    }
}

fn draw(f: &mut Frame<'_>, st: &State) {
    let area = f.area();
    let l = st.layout_in(area);
    if l.too_small {
        let msg = format!(
            "qscope needs {MIN_W}x{MIN_H} at least ({}x{} now); q quits",
            area.width, area.height
        );
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    }
    let m = &st.model;
    bars::draw_header(f, m, &st.timeline, l.header);
    match st.view {
        View::Timeline => {
            if l.sessions.height > 0 {
                sessions::draw(f, &st.sess, m, st.focus == Pane::Sessions, l.sessions);
            }
            timeline::draw(f, &st.timeline, m, st.focus == Pane::Timeline, l.timeline);
            if l.tree.height > 0 {
                detail::draw_tree(f, &st.detail, m, st.focus == Pane::Tree, l.tree);
            }
            if l.hex.height > 0 {
                detail::draw_hex(f, &st.detail, st.focus == Pane::Hex, l.hex);
            }
            if l.sep.height > 0 {
                detail::draw_sep(f, l.sep);
            }
        }
        View::Stream => {
            if let Some(v) = &st.stream {
                stream::draw(f, v, m, l.body);
            }
        }
        View::Ladder => {
            if let Some(ld) = &st.ladder {
                ladder::draw(f, ld, m, l.body);
            }
        }
        View::Stats => {
            if let Some(sv) = &st.stats {
                stats::draw(f, sv, &l);
            }
        }
        View::Expert => notes::draw(f, &st.notes, m, l.body),
    }
    bars::draw_footer(
        f,
        st.input.as_ref(),
        st.out.status.as_ref(),
        st.view,
        l.footer,
    );
    if st.help {
        help::draw(f, area);
    }
}
