//! The expert notes view: every note of the analysis (about a message, a
//! gap, undecoded bytes or a session), each leading to its row.

use ratatui::layout::Constraint::{Fill, Length};
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Row as TRow, Table};
use ratatui::Frame;

use crate::tui::index::RowKind;
use crate::tui::layout::inner;
use crate::tui::list::Scroll;
use crate::tui::model::Model;
use crate::tui::render::{count, pane_block, rel, sel_style, sev_style, DIM};

/// The notes view's state.
#[derive(Debug, Default)]
pub struct NotesView {
    pub scroll: Scroll,
}

impl NotesView {
    /// Opens on the first note at or after row `selected`.
    pub fn open(&mut self, model: &Model, selected: Option<usize>) {
        if let Some(id) = selected {
            let p = model.notes.partition_point(|n| (n.row as usize) < id);
            self.scroll.sel = p.min(model.notes.len().saturating_sub(1));
        }
    }

    pub fn move_by(&mut self, delta: isize, model: &Model) {
        self.scroll.move_by(delta, model.notes.len());
    }

    /// The row of the selected note, when it is in the index.
    pub fn target(&self, model: &Model) -> Option<usize> {
        let n = model.notes.get(self.scroll.sel)?;
        let row = n.row as usize;
        (row < model.index.len()).then_some(row)
    }

    /// A click on line `line` of the body (0 is its title).
    pub fn click(&mut self, line: usize, model: &Model) {
        if line > 0 {
            let p = self.scroll.offset + line - 1;
            if p < model.notes.len() {
                self.scroll.sel = p;
            }
        }
    }
}

/// Draws the view.
pub fn draw(f: &mut Frame<'_>, v: &NotesView, model: &Model, r: Rect) {
    let mut title = format!("Expert notes {}", count(model.notes.len() as u64));
    if model.notes_dropped > 0 {
        title.push_str(&format!(" (+{} not listed)", count(model.notes_dropped)));
    }
    f.render_widget(pane_block(title, true), r);
    let body = inner(r, 1);
    let n = body.height.saturating_sub(1) as usize;
    let off = v.scroll.offset.min(model.notes.len().saturating_sub(n));
    let mut rows = Vec::new();
    for (i, note) in model.notes.iter().enumerate().skip(off).take(n) {
        let sid = model.session_id(note.session).to_string();
        let row = model
            .index
            .rows
            .len()
            .gt(&(note.row as usize))
            .then(|| model.index.row(note.row as usize));
        let what = row.map_or(String::new(), |r| match r.kind() {
            RowKind::Message => format!("#{} {}", r.index, model.index.name(&r)),
            RowKind::Gap => "gap".into(),
            RowKind::Undecoded => "undecoded".into(),
            _ => "session".into(),
        });
        let mut tr = TRow::new(vec![
            Cell::from(Span::styled(
                note.severity.as_str(),
                sev_style(Some(note.severity)),
            )),
            Cell::from(sid),
            Cell::from(row.map_or(String::new(), |r| rel(model.t0, r.ts_us))),
            Cell::from(what),
            Cell::from(note.text.to_string()),
        ]);
        if i == v.scroll.sel {
            tr = tr.style(sel_style(true));
        }
        rows.push(tr);
    }
    let t = Table::new(
        rows,
        [Length(5), Length(4), Length(10), Length(22), Fill(1)],
    )
    .header(TRow::new(vec!["sev", "sess", "time", "message", "note"]).style(DIM))
    .column_spacing(1);
    f.render_widget(t, body);
    if model.notes.is_empty() {
        f.render_widget(
            Paragraph::new(Span::styled("no notes", DIM)),
            inner(body, 1),
        );
    }
}
