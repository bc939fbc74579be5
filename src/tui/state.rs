//! The UI state and the one function that changes it: [`apply`].
//!
//! Keys and mouse events become [`Action`]s ([`super::keys`]); so do the
//! analysis thread's [`Batch`]es and the background jobs' results.
//! `apply` is pure: it never blocks, reads a file or spawns a thread; what
//! it wants done in the background it queues in the [`Outbox`], which the
//! runtime (or a test harness) starts. Rendering reads `&State` only.
//!
//! The state is the [`Model`] the analysis feeds plus each view's own
//! state ([`super::view`]); `apply` routes each action to the view on
//! screen and keeps the views in step (the selected row, the scope).

use std::path::PathBuf;

use ratatui::layout::Rect;

use super::action::{Action, Outbox};
use super::decoded::Decodes;
use super::feed::Batch;
use super::index::RowKind;
use super::jobs::{Job, JobResult};
use super::layout::{Layout, Pane, Shape, View};
use super::list::Scroll;
use super::model::Model;
use super::view::bars::{Input, InputKind};
use super::view::detail::DetailPane;
use super::view::ladder::LadderView;
use super::view::notes::NotesView;
use super::view::sessions::SessionsPane;
use super::view::stats::StatsView;
use super::view::stream::StreamView;
use super::view::timeline::{row_matches, Timeline};
use crate::filter::Filter;

/// The whole UI state.
#[derive(Debug)]
pub struct State {
    /// What the analysis reported.
    pub model: Model,
    /// The status line and the jobs to start.
    pub out: Outbox,

    pub view: View,
    pub focus: Pane,
    pub help: bool,
    pub input: Option<Input>,
    pub size: (u16, u16),

    /// The sessions pane.
    pub sess: SessionsPane,
    pub timeline: Timeline,
    pub decoded: Decodes,
    /// The tree and hex panes.
    pub detail: DetailPane,
    pub stream: Option<StreamView>,
    pub ladder: Option<LadderView>,
    pub stats: Option<StatsView>,
    pub notes: NotesView,

    pub export_dir: PathBuf,
    pub exporting: usize,
    /// `NO_COLOR`: draw without colours (reverse, bold, underline only).
    pub no_color: bool,
    pub quit: bool,
    ticks: u64,
    /// The selected row the sessions pane last followed.
    followed: Option<usize>,
}

impl State {
    pub fn new(title: impl Into<String>, live: bool) -> State {
        State {
            model: Model::new(title.into(), live),
            out: Outbox::default(),
            view: View::Timeline,
            focus: Pane::Timeline,
            help: false,
            input: None,
            size: (80, 24),
            sess: SessionsPane::default(),
            timeline: Timeline::new(live),
            decoded: Decodes::default(),
            detail: DetailPane::default(),
            stream: None,
            ladder: None,
            stats: None,
            notes: NotesView::default(),
            export_dir: PathBuf::from("."),
            exporting: 0,
            no_color: false,
            quit: false,
            ticks: 0,
            followed: None,
        }
    }

    /// The layout on a screen `area`.
    pub fn layout_in(&self, area: Rect) -> Layout {
        let footer = match &self.input {
            Some(i) if i.error.is_some() => 2,
            _ => 1,
        };
        Layout::compute(
            area,
            Shape {
                view: self.view,
                sessions: self.model.sessions.len(),
                footer,
                show_hex: self.detail.show_hex,
            },
        )
    }

    /// The layout on the state's screen size.
    pub fn layout(&self) -> Layout {
        self.layout_in(Rect::new(0, 0, self.size.0, self.size.1))
    }

    /// Row id of the timeline selection.
    pub fn selected_row(&self) -> Option<usize> {
        self.timeline.selected_row()
    }

    /// The session the user is looking at: the sessions pane's selection
    /// when it has the focus, else the selected row's.
    pub fn current_session(&self) -> Option<u32> {
        if self.focus == Pane::Sessions && self.view == View::Timeline {
            if let Some(s) = self.sess.selected() {
                return Some(s);
            }
        }
        self.selected_row()
            .map(|r| self.model.index.row(r).session)
            .filter(|s| (*s as usize) < self.model.sessions.len())
            .or(self.timeline.list.session)
            .or_else(|| self.sess.selected())
    }

    /// Bytes the per-row structures use: the index, the timeline's row
    /// list and the filter's bit set.
    pub fn index_memory(&self) -> usize {
        self.model.index.memory()
            + self.timeline.list.memory()
            + self.timeline.filter.as_ref().map_or(0, |f| f.bits.memory())
            + self.ladder.as_ref().map_or(0, |l| l.list.memory())
    }

    fn page(&self) -> usize {
        let l = self.layout();
        match (self.view, self.focus) {
            (View::Timeline, Pane::Sessions) => l.sessions_rows(),
            (View::Timeline, Pane::Tree) => l.tree_rows(),
            (View::Timeline, Pane::Hex) => l.hex_rows(),
            (View::Timeline, _) => l.timeline_rows(),
            _ => l.body_rows(),
        }
        .max(1)
    }
}

/// Applies one action.
pub fn apply(st: &mut State, action: Action) {
    if !matches!(action, Action::Tick | Action::Batch(_) | Action::Job(_)) {
        if let Some((_, false)) = st.out.status {
            st.out.status = None;
        }
    }
    match action {
        Action::Batch(b) => batch(st, *b),
        Action::Job(r) => job_result(st, r),
        Action::Tick => {
            st.ticks += 1;
            if st.view == View::Stats
                && st.ticks.is_multiple_of(8)
                && st.stats.as_ref().is_some_and(|s| s.stale(&st.model))
            {
                compute_stats(st);
            }
            if st.view == View::Expert && st.ticks.is_multiple_of(8) && st.notes.stale(&st.model) {
                st.notes.refresh(&st.model);
            }
        }
        Action::Resize(w, h) => st.size = (w, h),
        Action::Quit => st.quit = true,
        Action::Help => st.help = !st.help,
        Action::Back => back(st),
        Action::Up(n) => move_sel(st, -(n as isize)),
        Action::Down(n) => move_sel(st, n as isize),
        Action::PageUp => move_sel(st, -(st.page() as isize)),
        Action::PageDown => move_sel(st, st.page() as isize),
        Action::HalfUp => move_sel(st, -(st.page() as isize / 2).max(1)),
        Action::HalfDown => move_sel(st, (st.page() as isize / 2).max(1)),
        Action::Top => move_sel(st, isize::MIN / 2),
        Action::Bottom => {
            move_sel(st, isize::MAX / 2);
            if st.view == View::Timeline && st.focus == Pane::Timeline && st.model.live {
                st.timeline.tail = true;
            }
        }
        Action::Left => left_right(st, false),
        Action::Right => left_right(st, true),
        Action::Enter => enter(st),
        Action::Toggle => {
            if st.view == View::Timeline {
                st.detail.toggle_node();
            }
        }
        Action::FocusNext => focus(st, true),
        Action::FocusPrev => focus(st, false),
        Action::Show(v) => show(st, v),
        Action::StartSearch | Action::StartFilter => {
            let (kind, text) = match action {
                Action::StartSearch => (InputKind::Search, String::new()),
                _ => (
                    InputKind::Filter,
                    st.timeline
                        .filter
                        .as_ref()
                        .map(|f| f.expr.clone())
                        .unwrap_or_default(),
                ),
            };
            st.input = Some(Input::new(kind, text));
        }
        Action::Input(_) | Action::InputBackspace | Action::InputClear => {
            if let Some(i) = &mut st.input {
                match action {
                    Action::Input(c) => i.text.push(c),
                    Action::InputBackspace => {
                        i.text.pop();
                    }
                    _ => i.text.clear(),
                }
                i.check();
            }
        }
        Action::InputCancel => st.input = None,
        Action::InputSubmit => submit(st),
        Action::SearchNext => search(st, true),
        Action::SearchPrev => search(st, false),
        Action::NextError => next_error(st, true),
        Action::PrevError => next_error(st, false),
        Action::JumpPair => {
            if let Some(t) = st.timeline.pair_of_selected(&st.model, &mut st.out) {
                select_row(st, t, true);
            }
        }
        Action::JumpBack => match st.timeline.jumps.pop() {
            Some(id) => select_row(st, id, false),
            None => st.out.status("no earlier position"),
        },
        Action::ToggleScope => toggle_scope(st),
        Action::CycleSort => {
            let msg = st.sess.cycle_sort(&st.model.sessions);
            st.out.status(msg);
        }
        Action::ToggleHex => match (st.view, &mut st.stream) {
            (View::Stream, Some(s)) => s.toggle_hex(),
            _ => {
                st.detail.show_hex = !st.detail.show_hex;
                if st.focus == Pane::Hex && !st.layout().hex_visible() {
                    st.focus = Pane::Tree;
                }
            }
        },
        Action::ToggleTail => toggle_tail(st),
        Action::TogglePause => toggle_pause(st),
        Action::ExportView => export(st, false),
        Action::ExportSession => export(st, true),
        Action::Click { x, y } => click(st, x, y),
        Action::Wheel { x, y, down } => wheel(st, x, y, down),
    }
    after(st);
}

/// Keeps every cursor valid and visible, and the detail in step.
fn after(st: &mut State) {
    let l = st.layout();
    st.timeline
        .scroll
        .fit(st.timeline.list.len(), l.timeline_rows());
    // The sessions pane's cursor follows the selected message's session
    // (unless the user is moving it).
    let sel = st.timeline.selected_row();
    if sel != st.followed {
        st.followed = sel;
        if st.focus != Pane::Sessions {
            if let Some(id) = sel {
                st.sess.show(st.model.index.row(id).session);
            }
        }
    }
    st.sess.scroll.fit(st.sess.order.len(), l.sessions_rows());
    let following = st.timeline.tail && st.model.done.is_none();
    st.detail.refresh(
        &st.model,
        st.timeline.selected_row(),
        &mut st.decoded,
        following,
        &mut st.out,
    );
    st.detail.tree.fit(st.detail.lines.len(), l.tree_rows());
    let body = l.body_rows();
    if let Some(s) = &mut st.stream {
        s.update(&st.model, &st.decoded, st.size.0, body);
    }
    if let Some(ld) = &mut st.ladder {
        ld.scroll.fit(ld.list.len(), body.saturating_sub(1));
    }
    if let Some(s) = &mut st.stats {
        s.scroll.fit(s.rows.len(), l.stats_rows());
    }
    let n = st.notes.len();
    st.notes.scroll.fit(n, body.saturating_sub(1));
}

// ------------------------------------------------------------ feeding

fn batch(st: &mut State, b: Batch) {
    st.model.ingest(b);
    st.sess.update(&st.model.sessions);
    extend_lists(st);
    if st.timeline.tail && st.timeline.paused_at.is_none() {
        st.timeline.scroll.sel = st.timeline.list.len().saturating_sub(1);
    }
}

/// Lists the rows that arrived, in the timeline and the ladder.
fn extend_lists(st: &mut State) {
    st.timeline.extend(&st.model);
    if let Some(l) = &mut st.ladder {
        let limit = st.timeline.limit(&st.model);
        l.list
            .extend(&st.model.index, limit, st.timeline.filter.as_ref());
    }
}

fn job_result(st: &mut State, r: JobResult) {
    match r {
        JobResult::Decoded(d) => st.decoded.accept(d, &mut st.out),
        JobResult::Filter {
            gen,
            scanned,
            matches,
            done,
            error,
        } => {
            if !st
                .timeline
                .filter_report(gen, scanned, &matches, done, error, &mut st.out)
            {
                return;
            }
            let had = st.timeline.list.len();
            extend_lists(st);
            if had == 0 && !st.timeline.list.is_empty() {
                st.timeline.scroll = Scroll::default();
            }
        }
        JobResult::Export { path, result } => {
            st.exporting = st.exporting.saturating_sub(1);
            match result {
                Ok(n) => st.out.status(format!(
                    "exported {n} message{} to {}",
                    crate::human::plural(n),
                    path.display()
                )),
                Err(e) => st.out.error(format!("export failed: {e}")),
            }
        }
    }
}

// ------------------------------------------------------------ moving

fn move_sel(st: &mut State, delta: isize) {
    if st.help {
        return;
    }
    match st.view {
        View::Timeline => match st.focus {
            Pane::Sessions => st.sess.move_by(delta),
            Pane::Timeline => st.timeline.move_by(delta),
            Pane::Tree => st.detail.move_tree(delta),
            Pane::Hex => {
                let l = st.layout();
                st.detail.move_hex(delta, &l);
            }
        },
        View::Stream => {
            if let Some(s) = &mut st.stream {
                s.move_by(delta);
            }
        }
        View::Ladder => {
            let Some(ld) = &mut st.ladder else { return };
            if let Some(id) = ld.move_by(delta) {
                show_in_timeline(st, id);
            }
        }
        View::Stats => {
            if let Some(s) = &mut st.stats {
                s.move_by(delta);
            }
        }
        View::Expert => st.notes.move_by(delta),
    }
}

/// Puts the timeline's cursor on row `id` (or the next listed one),
/// without remembering a jump.
fn show_in_timeline(st: &mut State, id: usize) {
    let tl = &mut st.timeline;
    tl.scroll.sel = tl.list.position(id).min(tl.list.len().saturating_sub(1));
}

/// Selects row `id` in the timeline (widening the scope if it is hidden)
/// and in the ladder.
fn select_row(st: &mut State, id: usize, remember: bool) {
    st.timeline.select(&st.model, id, remember, &mut st.out);
    if let Some(ld) = &mut st.ladder {
        ld.show_row(id);
    }
}

fn back(st: &mut State) {
    if st.help {
        st.help = false;
    } else if st.input.is_some() {
        st.input = None;
    } else if st.view != View::Timeline {
        st.view = View::Timeline;
    } else if st.focus != Pane::Timeline {
        st.focus = Pane::Timeline;
    }
}

fn focus(st: &mut State, forward: bool) {
    if st.view != View::Timeline {
        return;
    }
    let hex = st.layout().hex_visible();
    let order: &[Pane] = if hex {
        &[Pane::Sessions, Pane::Timeline, Pane::Tree, Pane::Hex]
    } else {
        &[Pane::Sessions, Pane::Timeline, Pane::Tree]
    };
    let i = order.iter().position(|p| *p == st.focus).unwrap_or(1);
    let n = order.len();
    st.focus = order[if forward {
        (i + 1) % n
    } else {
        (i + n - 1) % n
    }];
}

fn left_right(st: &mut State, right: bool) {
    match (st.view, st.focus) {
        (View::Timeline, Pane::Tree) => st.detail.left_right(right),
        (View::Stream, _) => {
            if let Some(s) = &mut st.stream {
                s.left_right(right);
            }
        }
        (View::Timeline, Pane::Sessions) | (View::Timeline, Pane::Timeline) => {
            focus(st, right);
        }
        _ => {}
    }
}

fn enter(st: &mut State) {
    match st.view {
        View::Timeline => match st.focus {
            Pane::Sessions => {
                if let Some(s) = st.sess.selected() {
                    st.timeline.set_scope(&st.model, Some(s));
                    let first = st.model.sessions[s as usize].first_row;
                    st.timeline.scroll.sel = st.timeline.list.find(first).unwrap_or(0);
                    st.focus = Pane::Timeline;
                }
            }
            Pane::Timeline => st.focus = Pane::Tree,
            Pane::Tree => st.detail.toggle_node(),
            Pane::Hex => {}
        },
        View::Expert => {
            if let Some(row) = st.notes.target(&st.model) {
                st.view = View::Timeline;
                st.focus = Pane::Timeline;
                select_row(st, row, true);
            }
        }
        View::Ladder => {
            st.view = View::Timeline;
            st.focus = Pane::Timeline;
        }
        View::Stats | View::Stream => {}
    }
}

fn toggle_scope(st: &mut State) {
    if st.timeline.list.session.is_some() {
        st.timeline.set_scope(&st.model, None);
        st.out.status("all sessions");
    } else if let Some(s) = st.current_session() {
        st.timeline.set_scope(&st.model, Some(s));
        let id = st.model.session_id(s).to_string();
        st.out
            .status(format!("session {id} only (a: all sessions)"));
    }
}

fn toggle_tail(st: &mut State) {
    let tl = &mut st.timeline;
    tl.tail = !tl.tail;
    if tl.tail {
        tl.paused_at = None;
        extend_lists(st);
        move_sel(st, isize::MAX / 2);
    }
    st.out.status(if st.timeline.tail {
        "following new messages"
    } else {
        "not following new messages"
    });
}

fn toggle_pause(st: &mut State) {
    if st.timeline.paused_at.is_some() {
        st.timeline.paused_at = None;
        extend_lists(st);
        if st.timeline.tail {
            st.timeline.scroll.sel = st.timeline.list.len().saturating_sub(1);
        }
        st.out.status("resumed");
    } else {
        st.timeline.paused_at = Some(st.model.index.len());
        st.out
            .status("paused: new messages are counted, not shown (p resumes)");
    }
}

fn show(st: &mut State, v: View) {
    st.help = false;
    match v {
        View::Timeline => {}
        View::Stream => {
            let Some(s) = st.current_session() else {
                st.out.status("no session yet");
                return;
            };
            let hex = st.stream.as_ref().is_some_and(|x| x.hex);
            st.stream = Some(StreamView::new(s, hex));
            if st.decoded.get(s).is_none() {
                let center = st
                    .selected_row()
                    .map(|r| st.model.index.row(r))
                    .filter(|r| r.session == s && r.kind() == RowKind::Message)
                    .map_or(0, |r| u64::from(r.index));
                st.decoded.request(&st.model, s, center, &mut st.out);
            }
        }
        View::Ladder => {
            let Some(s) = st.current_session() else {
                st.out.status("no session yet");
                return;
            };
            st.ladder = Some(LadderView::open(&st.model, s, &st.timeline));
        }
        View::Stats => compute_stats(st),
        View::Expert => st.notes.open(&st.model, st.timeline.selected_row()),
    }
    st.view = v;
}

fn compute_stats(st: &mut State) {
    let keep = st.stats.as_ref().map_or(0, |s| s.scroll.sel);
    st.stats = Some(StatsView::compute(&st.model, &st.timeline, keep));
}

// ------------------------------------------------------------ input

fn submit(st: &mut State) {
    let Some(input) = st.input.take() else { return };
    match input.kind {
        InputKind::Search => {
            if input.text.is_empty() {
                st.timeline.search = None;
                return;
            }
            st.timeline.search = Some(input.text.to_lowercase());
            search(st, true);
        }
        InputKind::Filter => {
            let expr = input.text.trim().to_string();
            if expr.is_empty() {
                st.timeline.clear_filter(&st.model, &mut st.out);
                return;
            }
            if let Err(e) = Filter::parse(&expr) {
                st.input = Some(Input {
                    error: Some(e.render(&input.text)),
                    ..input
                });
                return;
            }
            st.timeline.set_filter(&st.model, expr, &mut st.out);
        }
    }
}

fn search(st: &mut State, forward: bool) {
    let Some(needle) = st.timeline.search.clone() else {
        st.out.status("no search (/ to search)");
        return;
    };
    let model = &st.model;
    match st
        .timeline
        .find_next(model, forward, |r| row_matches(model, r, &needle))
    {
        Some((id, wrapped)) => {
            select_row(st, id, true);
            if wrapped {
                st.out.status(if forward {
                    "search hit BOTTOM, continuing at TOP"
                } else {
                    "search hit TOP, continuing at BOTTOM"
                });
            }
        }
        None => st.out.error(format!("not found: {needle}")),
    }
}

fn next_error(st: &mut State, forward: bool) {
    match st.timeline.find_next(&st.model, forward, |r| {
        r.kind() == RowKind::Message && r.is_error()
    }) {
        Some((id, wrapped)) => {
            select_row(st, id, true);
            if st.view == View::Timeline {
                st.focus = Pane::Timeline;
            }
            if wrapped {
                st.out.status("wrapped around");
            }
        }
        None => st.out.status("no error in view"),
    }
}

// ------------------------------------------------------------ export

fn export(st: &mut State, session_only: bool) {
    let session = if session_only {
        st.current_session()
    } else {
        st.timeline.list.session
    };
    let session_id = session
        .and_then(|s| st.model.sessions.get(s as usize))
        .map(|s| s.info.id.clone());
    if session_only && session_id.is_none() {
        st.out.status("no session to export");
        return;
    }
    let filter = if session_only {
        None
    } else {
        st.timeline.filter.as_ref().map(|f| f.expr.clone())
    };
    let what = match (&session_id, &filter) {
        (Some(s), Some(_)) => format!("{s}-filtered"),
        (Some(s), None) => s.clone(),
        (None, Some(_)) => "filtered".to_string(),
        (None, None) => "all".to_string(),
    };
    let stem: String = std::path::Path::new(&st.model.title)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let stem = if stem.is_empty() {
        "capture".to_string()
    } else {
        stem
    };
    let path = st.export_dir.join(format!("qscope-{stem}-{what}.jsonl"));
    st.out.job(Job::Export {
        path: path.clone(),
        session: session_id,
        filter,
    });
    st.exporting += 1;
    st.out.status(format!("exporting to {}…", path.display()));
}

// ------------------------------------------------------------ mouse

fn click(st: &mut State, x: u16, y: u16) {
    if st.help {
        st.help = false;
        return;
    }
    let l = st.layout();
    match st.view {
        View::Timeline => {
            if let Some((pane, line)) = l.hit(x, y) {
                st.focus = pane;
                let Some(line) = line else { return };
                match pane {
                    Pane::Sessions => st.sess.click(line),
                    Pane::Timeline => st.timeline.click(line),
                    Pane::Tree => st.detail.click_tree(line),
                    Pane::Hex => {}
                }
            }
        }
        View::Expert => {
            if let Some(line) = l.body_line(y) {
                st.notes.click(line);
            }
        }
        View::Ladder => {
            let line = l.body_line(y);
            if let (Some(line), Some(ld)) = (line, &mut st.ladder) {
                if let Some(id) = ld.click(line) {
                    show_in_timeline(st, id);
                }
            }
        }
        View::Stats => {
            if let Some(s) = &mut st.stats {
                s.click(&l, y);
            }
        }
        View::Stream => {}
    }
}

fn wheel(st: &mut State, x: u16, y: u16, down: bool) {
    let delta = if down { 3 } else { -3 };
    if st.view == View::Timeline {
        if let Some((pane, _)) = st.layout().hit(x, y) {
            let keep = st.focus;
            st.focus = pane;
            move_sel(st, delta);
            st.focus = keep;
            if pane == Pane::Timeline && !down {
                st.timeline.tail = false;
            }
            return;
        }
    }
    move_sel(st, delta);
}
