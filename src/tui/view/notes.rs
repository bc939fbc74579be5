//! The expert notes view: every note of the analysis (about a message, a
//! gap, undecoded bytes or a session) and the notes `qscope stats
//! --expert` derives from pairing (requests never answered, replies after
//! more than 30 s), in row order, each leading to its row.

use std::collections::{BTreeMap, HashMap};

use ratatui::layout::Constraint::{Fill, Length};
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Row as TRow, Table};
use ratatui::Frame;

use qscope_dissectors::{Kind, Severity};

use crate::stats::{
    late_reply_text, never_answered_text, OPEN_OVERALL, OPEN_PER_SESSION, TIMEOUT_US,
};
use crate::tui::feed::{NoteEntry, MAX_NOTES};
use crate::tui::index::{sat_u32, RowKind};
use crate::tui::layout::inner;
use crate::tui::list::Scroll;
use crate::tui::model::Model;
use crate::tui::render::{count, pane_block, rel, sel_style, sev_style, DIM};

/// A note of the list: the model's (`false`) or derived (`true`), by
/// position in its vector.
type NoteRef = (bool, u32);

/// The notes view's state.
#[derive(Debug, Default)]
pub struct NotesView {
    pub scroll: Scroll,
    /// Notes derived from pairing, by row.
    pub derived: Vec<NoteEntry>,
    /// Derived notes not kept (beyond [`MAX_NOTES`]).
    pub derived_dropped: u64,
    /// The list shown: the model's notes and the derived ones, by row.
    list: Vec<NoteRef>,
    /// Rows of the index when computed.
    computed_at: usize,
}

impl NotesView {
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Note `i` of the list.
    pub fn get<'a>(&'a self, model: &'a Model, i: usize) -> Option<&'a NoteEntry> {
        match *self.list.get(i)? {
            (false, k) => model.notes.get(k as usize),
            (true, k) => self.derived.get(k as usize),
        }
    }

    /// Rows arrived since the list was made.
    pub fn stale(&self, model: &Model) -> bool {
        self.computed_at != model.index.len()
    }

    /// Makes the list again, keeping the selected note's row selected.
    pub fn refresh(&mut self, model: &Model) {
        let keep = self.get(model, self.scroll.sel).map(|n| n.row as usize);
        let (derived, dropped) = derive(model);
        self.derived = derived;
        self.derived_dropped = dropped;
        self.list = merge(&model.notes, &self.derived);
        self.computed_at = model.index.len();
        if let Some(row) = keep {
            self.select_row(model, row);
        }
    }

    /// Selects the first note at or after row `row`.
    fn select_row(&mut self, model: &Model, row: usize) {
        let p = self.list.partition_point(|r| self.row_of(model, *r) < row);
        self.scroll.sel = p.min(self.list.len().saturating_sub(1));
    }

    fn row_of(&self, model: &Model, r: NoteRef) -> usize {
        match r {
            (false, k) => model.notes[k as usize].row as usize,
            (true, k) => self.derived[k as usize].row as usize,
        }
    }

    /// Opens on the first note at or after row `selected`.
    pub fn open(&mut self, model: &Model, selected: Option<usize>) {
        self.refresh(model);
        if let Some(id) = selected {
            self.select_row(model, id);
        }
    }

    pub fn move_by(&mut self, delta: isize) {
        self.scroll.move_by(delta, self.list.len());
    }

    /// The row of the selected note, when it is in the index.
    pub fn target(&self, model: &Model) -> Option<usize> {
        let n = self.get(model, self.scroll.sel)?;
        let row = n.row as usize;
        (row < model.index.len()).then_some(row)
    }

    /// A click on line `line` of the body (0 is its title).
    pub fn click(&mut self, line: usize) {
        if line > 0 {
            let p = self.scroll.offset + line - 1;
            if p < self.list.len() {
                self.scroll.sel = p;
            }
        }
    }
}

/// The model's notes and the derived ones in one list by row (the
/// model's first at a row).
fn merge(notes: &[NoteEntry], derived: &[NoteEntry]) -> Vec<NoteRef> {
    let mut out = Vec::with_capacity(notes.len() + derived.len());
    let (mut i, mut j) = (0, 0);
    while i < notes.len() || j < derived.len() {
        let take_model = j >= derived.len() || (i < notes.len() && notes[i].row <= derived[j].row);
        if take_model {
            out.push((false, i as u32));
            i += 1;
        } else {
            out.push((true, j as u32));
            j += 1;
        }
    }
    out
}

/// The notes `qscope stats --expert` derives from pairing, from the rows
/// of the index: a request no message answered by its session's end (or,
/// once the analysis is over, at all), at the request; a reply later
/// than [`TIMEOUT_US`], at the reply. Pairing is bounded as in the
/// statistics (beyond [`OPEN_PER_SESSION`] open requests in a session or
/// [`OPEN_OVERALL`] in all, the oldest counts as unanswered). By row; at
/// most [`MAX_NOTES`] (the rest are counted).
fn derive(model: &Model) -> (Vec<NoteEntry>, u64) {
    let index = &model.index;
    let mut out = Vec::new();
    let mut dropped = 0u64;
    let mut note = |row: usize, session: u32, text: String| {
        if out.len() < MAX_NOTES {
            out.push(NoteEntry {
                row: sat_u32(row as u64),
                session,
                severity: Severity::Warn,
                text: text.into(),
            });
        } else {
            dropped += 1;
        }
    };
    // Per session: its open requests (message index → row id).
    let mut open: HashMap<u32, BTreeMap<u32, usize>> = HashMap::new();
    let mut total = 0usize;
    let name_of = |id: usize| index.name(&index.row(id)).to_string();
    for id in 0..index.len() {
        let row = index.row(id);
        let s = row.session;
        match row.kind() {
            RowKind::Message => {
                let mut name = None;
                if let Some(r) = row.reply_to() {
                    if let Some(req) = open.get_mut(&s).and_then(|o| o.remove(&r)) {
                        total -= 1;
                        name = Some(name_of(req));
                    }
                    if row.latency_us().is_some_and(|l| l > TIMEOUT_US) {
                        let name = name.unwrap_or_else(|| name_of(id));
                        note(id, s, late_reply_text(&name));
                    }
                }
                if row.msg_kind() == Kind::Request {
                    let o = open.entry(s).or_default();
                    o.insert(row.index, id);
                    total += 1;
                    while o.len() > OPEN_PER_SESSION || total > OPEN_OVERALL {
                        let Some((_, req)) = o.pop_first() else { break };
                        total -= 1;
                        note(req, s, never_answered_text(&name_of(req)));
                    }
                }
            }
            RowKind::End => {
                for (_, req) in open.remove(&s).unwrap_or_default() {
                    total -= 1;
                    note(req, s, never_answered_text(&name_of(req)));
                }
            }
            _ => {}
        }
    }
    if model.done.is_some() {
        // As `qscope stats` at the end: what is still open never was.
        for (s, o) in open {
            for (_, req) in o {
                note(req, s, never_answered_text(&name_of(req)));
            }
        }
    }
    out.sort_by_key(|n| n.row);
    (out, dropped)
}

/// Draws the view.
pub fn draw(f: &mut Frame<'_>, v: &NotesView, model: &Model, r: Rect) {
    let mut title = format!("Expert notes {}", count(v.len() as u64));
    if !v.derived.is_empty() {
        title.push_str(&format!(
            " ({} from pairing)",
            count(v.derived.len() as u64)
        ));
    }
    let dropped = model.notes_dropped + v.derived_dropped;
    if dropped > 0 {
        title.push_str(&format!(" (+{} not listed)", count(dropped)));
    }
    f.render_widget(pane_block(title, true), r);
    let body = inner(r, 1);
    let n = body.height.saturating_sub(1) as usize;
    let off = v.scroll.offset.min(v.len().saturating_sub(n));
    let mut rows = Vec::new();
    for i in (off..v.len()).take(n) {
        let Some(note) = v.get(model, i) else { break };
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
    if v.is_empty() {
        f.render_widget(
            Paragraph::new(Span::styled("no notes", DIM)),
            inner(body, 1),
        );
    }
}
