//! The UI state and the one function that changes it: [`apply`].
//!
//! Keys and mouse events become [`Action`]s ([`super::keys`]); so do the
//! analysis thread's [`Batch`]es and the background jobs' results.
//! `apply` is pure: it never blocks, reads a file or spawns a thread; what
//! it wants done in the background it queues in [`State::jobs`], which
//! the runtime (or a test harness) starts. Rendering reads `&State` only.

use std::collections::HashSet;
use std::path::PathBuf;

use qscope_dissectors::{Kind, Message, Note, Proto, Severity};

use super::detail::{self, TreeLine};
use super::feed::{Batch, Done, NoteEntry, Progress};
use super::index::{Bits, Chunked, Index, Row, RowKind};
use super::jobs::{DecodedSession, Job, JobResult, SessionKey};
use super::render;
use crate::filter::Filter;
use crate::human::Secrets;
use crate::record::{Latency, MessageRecord, Percentiles, Record, SessionInfo, Sink};
use crate::stats::Collector;

/// Decoded sessions kept.
const DECODED_CACHE: usize = 3;
/// Jump history length.
const MAX_JUMPS: usize = 100;
/// Buckets of the latency chart.
pub const CHART_BUCKETS: usize = 240;

/// What fills the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Sessions, timeline and the selected message.
    Timeline,
    /// Follow stream: the reassembled bytes of one session.
    Stream,
    /// Sequence diagram of one session.
    Ladder,
    /// Per-name statistics and the latency chart.
    Stats,
    /// Expert notes.
    Expert,
}

/// The panes of the timeline view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Sessions,
    Timeline,
    Tree,
    Hex,
}

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

/// Everything a key, the mouse, the analysis or a job can do.
#[derive(Debug)]
pub enum Action {
    Batch(Box<Batch>),
    Job(JobResult),
    /// Time passes (about 4 per second).
    Tick,
    Resize(u16, u16),
    Quit,
    Up(usize),
    Down(usize),
    PageUp,
    PageDown,
    HalfUp,
    HalfDown,
    Top,
    Bottom,
    Left,
    Right,
    Enter,
    /// Expand or collapse the selected tree node.
    Toggle,
    FocusNext,
    FocusPrev,
    Show(View),
    /// Esc: close what is open, back to the timeline.
    Back,
    Help,
    StartSearch,
    StartFilter,
    Input(char),
    InputBackspace,
    InputClear,
    InputSubmit,
    InputCancel,
    SearchNext,
    SearchPrev,
    NextError,
    PrevError,
    /// Reply → its request, request → its reply.
    JumpPair,
    JumpBack,
    /// All sessions ↔ the selected session only.
    ToggleScope,
    CycleSort,
    /// Tree ↔ hex (narrow screens); text ↔ hex in the stream view.
    ToggleHex,
    ToggleTail,
    TogglePause,
    ExportView,
    ExportSession,
    Click {
        x: u16,
        y: u16,
    },
    Wheel {
        x: u16,
        y: u16,
        down: bool,
    },
}

/// A list cursor: selected position and first visible position.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scroll {
    pub sel: usize,
    pub offset: usize,
}

impl Scroll {
    /// Keeps `sel` in `[0, len)` and visible in `height` lines.
    pub fn fit(&mut self, len: usize, height: usize) {
        self.sel = self.sel.min(len.saturating_sub(1));
        let h = height.max(1);
        if self.sel < self.offset {
            self.offset = self.sel;
        } else if self.sel >= self.offset + h {
            self.offset = self.sel + 1 - h;
        }
        self.offset = self.offset.min(len.saturating_sub(h));
    }

    fn move_by(&mut self, delta: isize, len: usize) {
        let cur = self.sel as isize + delta;
        self.sel = cur.clamp(0, len.saturating_sub(1) as isize) as usize;
    }
}

/// What the timeline (or the ladder) shows: all rows, or those of one
/// session and/or those matching the filter. Row ids are kept only when
/// something is left out.
#[derive(Debug, Default)]
pub struct RowList {
    pub session: Option<u32>,
    pub filtered: bool,
    ids: Chunked<u32>,
    /// Rows examined so far.
    frontier: usize,
}

impl RowList {
    fn new(session: Option<u32>, filtered: bool, start: usize) -> RowList {
        RowList {
            session,
            filtered,
            ids: Chunked::new(),
            frontier: start,
        }
    }

    fn identity(&self) -> bool {
        self.session.is_none() && !self.filtered
    }

    pub fn len(&self) -> usize {
        if self.identity() {
            self.frontier
        } else {
            self.ids.len()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row id at position `pos`.
    pub fn get(&self, pos: usize) -> usize {
        if self.identity() {
            pos
        } else {
            self.ids.get(pos) as usize
        }
    }

    /// Position of row `id`, or of the first row after it.
    pub fn position(&self, id: usize) -> usize {
        if self.identity() {
            id.min(self.frontier)
        } else {
            self.ids.lower_bound(id.min(u32::MAX as usize) as u32)
        }
    }

    /// Position of row `id` when listed.
    pub fn find(&self, id: usize) -> Option<usize> {
        let p = self.position(id);
        (p < self.len() && self.get(p) == id).then_some(p)
    }

    fn extend(&mut self, index: &Index, limit: usize, filter: Option<&ActiveFilter>) {
        let limit = if self.filtered {
            limit.min(filter.map(|f| f.scanned as usize).unwrap_or(0))
        } else {
            limit
        };
        if self.identity() {
            self.frontier = self.frontier.max(limit);
            return;
        }
        while self.frontier < limit {
            let id = self.frontier;
            let row = index.row(id);
            let ok = self.session.is_none_or(|s| row.session == s)
                && (!self.filtered
                    || (row.kind() == RowKind::Message && filter.is_some_and(|f| f.bits.get(id))));
            if ok {
                self.ids.push(id as u32);
            }
            self.frontier += 1;
        }
    }

    /// Bytes allocated.
    pub fn memory(&self) -> usize {
        self.ids.memory()
    }
}

/// The display filter in force.
#[derive(Debug)]
pub struct ActiveFilter {
    pub expr: String,
    pub gen: u64,
    /// Matching row ids.
    pub bits: Bits,
    /// Rows decided so far.
    pub scanned: u64,
    pub matches: u64,
    pub done: bool,
    pub error: Option<String>,
}

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

/// A session and what the timeline taught about it.
#[derive(Debug, Clone)]
pub struct SessionEntry {
    pub info: SessionInfo,
    /// Row id of its `Open` row: no row of the session comes before.
    pub first_row: usize,
    pub messages: u64,
    pub requests: u64,
    pub errors: u64,
    pub warnings: u64,
    pub first_us: i64,
    pub last_us: i64,
    pub end_us: Option<i64>,
    /// Requests not answered yet.
    pub pending: u64,
    pub greeting: bool,
    pub caps_sent: bool,
    pub negotiated: bool,
    pub attrs: Vec<(&'static str, String)>,
    pub notes: Vec<Note>,
}

impl SessionEntry {
    fn new(info: SessionInfo) -> SessionEntry {
        let us = super::feed::micros(info.start);
        SessionEntry {
            info,
            first_row: usize::MAX,
            messages: 0,
            requests: 0,
            errors: 0,
            warnings: 0,
            first_us: us,
            last_us: us,
            end_us: None,
            pending: 0,
            greeting: false,
            caps_sent: false,
            negotiated: false,
            attrs: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn duration_us(&self) -> i64 {
        self.end_us.unwrap_or(self.last_us) - self.first_us
    }

    pub fn attr(&self, k: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.as_str())
    }

    /// A short, honest description of where the session is.
    pub fn state_label(&self) -> String {
        let mut s = if self.end_us.is_some() {
            "closed".to_string()
        } else if self.info.proto == Proto::Qmp && self.greeting && !self.negotiated {
            if self.caps_sent {
                "negotiating".to_string()
            } else {
                "greeting".to_string()
            }
        } else if self.pending > 0 {
            format!("awaiting {}", self.pending)
        } else {
            "idle".to_string()
        };
        if self.attr("login") == Some("failed") {
            s.push_str(", login failed");
        } else if let Some(a) = self.attr("account") {
            s.push_str(&format!(", account {a}"));
        } else if let Some(u) = self.attr("user") {
            s.push_str(&format!(", user {u}"));
        }
        if let Some(v) = self.attr("variant") {
            s.push_str(&format!(", {v}"));
        }
        s
    }

    pub fn key(&self, ordinal: u32) -> SessionKey {
        SessionKey {
            ordinal,
            id: self.info.id.clone(),
            client: self.info.client,
            server: self.info.server,
            start: self.info.start,
        }
    }
}

/// The selected row, decoded.
#[derive(Debug, Default)]
pub struct Detail {
    /// Row id shown.
    pub row: Option<usize>,
    pub lines: Vec<TreeLine>,
    /// The message's bytes, when kept.
    pub bytes: Option<Vec<u8>>,
    /// Which of them hold secrets (offsets within the message).
    pub secrets: Secrets,
    /// `--show-secrets`: the hex pane does not mask them.
    pub show_secrets: bool,
    /// Why there is nothing (yet): "decoding s3…".
    pub status: Option<String>,
    pub proto: Option<Proto>,
    /// What the cache held when this was built (rebuild when it changes).
    stamp: (u64, u64, u64),
}

/// The stream view of one session.
#[derive(Debug, Default)]
pub struct StreamView {
    pub session: u32,
    pub hex: bool,
    pub lines: Vec<detail::StreamLine>,
    pub scroll: Scroll,
    pub hscroll: usize,
    pub status: Option<String>,
    stamp: u64,
}

/// The ladder view of one session.
#[derive(Debug, Default)]
pub struct LadderView {
    pub session: u32,
    pub list: RowList,
    pub scroll: Scroll,
}

/// One line of the statistics table.
#[derive(Debug, Clone, PartialEq)]
pub struct StatRow {
    pub proto: &'static str,
    pub name: String,
    pub requests: u64,
    pub responses: u64,
    pub other: u64,
    pub errors: u64,
    pub latency: Option<Percentiles>,
    /// Highest latency per time bucket (µs; 0 = none), [`CHART_BUCKETS`].
    pub chart: Vec<u64>,
}

/// The statistics view.
#[derive(Debug, Default)]
pub struct StatsView {
    pub scope: String,
    pub rows: Vec<StatRow>,
    /// All names together.
    pub total: Option<StatRow>,
    pub span_us: (i64, i64),
    pub scroll: Scroll,
    /// Rows of the index when computed.
    computed_at: usize,
}

/// The whole UI state.
#[derive(Debug)]
pub struct State {
    pub title: String,
    pub live: bool,
    pub index: Index,
    pub sessions: Vec<SessionEntry>,
    /// Sessions pane order (ordinals).
    pub sess_order: Vec<u32>,
    pub sort: SortKey,
    pub sess: Scroll,
    pub notes: Vec<NoteEntry>,
    pub notes_dropped: u64,
    pub checkpoints: Vec<(i64, u64)>,
    pub progress: Progress,
    pub done: Option<Done>,
    /// Timestamp (µs) that relative times count from.
    pub t0: Option<i64>,

    pub view: View,
    pub focus: Pane,
    pub help: bool,
    pub input: Option<Input>,
    /// Status line: (text, is an error).
    pub status: Option<(String, bool)>,
    pub size: (u16, u16),

    pub timeline: RowList,
    pub tl: Scroll,
    pub filter: Option<ActiveFilter>,
    filter_gen: u64,
    pub search: Option<String>,
    jumps: Vec<usize>,
    pub tail: bool,
    pub paused_at: Option<usize>,

    pub decoded: Vec<Box<DecodedSession>>,
    decoded_gen: u64,
    /// Decode asked for and not yet answered: (session, message index).
    pub decoding: Option<(u32, u64)>,
    /// Decodes answered without the message: don't ask again.
    decode_failed: Option<(u32, u64)>,
    pub detail: Detail,
    pub tree: Scroll,
    pub hex_scroll: usize,
    /// Narrow screens show the tree or the hex dump.
    pub show_hex: bool,
    /// Tree nodes whose default expansion was flipped (by path).
    pub toggled: HashSet<String>,
    toggled_gen: u64,

    pub stream: Option<StreamView>,
    pub ladder: Option<LadderView>,
    pub stats: Option<StatsView>,
    pub expert: Scroll,

    /// Jobs for the runtime to start.
    pub jobs: Vec<Job>,
    pub export_dir: PathBuf,
    pub exporting: usize,
    pub quit: bool,
    ticks: u64,
}

impl State {
    pub fn new(title: impl Into<String>, live: bool) -> State {
        State {
            title: title.into(),
            live,
            index: Index::default(),
            sessions: Vec::new(),
            sess_order: Vec::new(),
            sort: SortKey::Start,
            sess: Scroll::default(),
            notes: Vec::new(),
            notes_dropped: 0,
            checkpoints: Vec::new(),
            progress: Progress::default(),
            done: None,
            t0: None,
            view: View::Timeline,
            focus: Pane::Timeline,
            help: false,
            input: None,
            status: None,
            size: (80, 24),
            timeline: RowList::new(None, false, 0),
            tl: Scroll::default(),
            filter: None,
            filter_gen: 0,
            search: None,
            jumps: Vec::new(),
            tail: live,
            paused_at: None,
            decoded: Vec::new(),
            decoded_gen: 0,
            decoding: None,
            decode_failed: None,
            detail: Detail::default(),
            tree: Scroll::default(),
            hex_scroll: 0,
            show_hex: false,
            toggled: HashSet::new(),
            toggled_gen: 0,
            stream: None,
            ladder: None,
            stats: None,
            expert: Scroll::default(),
            jobs: Vec::new(),
            export_dir: PathBuf::from("."),
            exporting: 0,
            quit: false,
            ticks: 0,
        }
    }

    /// Row id of the timeline selection.
    pub fn selected_row(&self) -> Option<usize> {
        (!self.timeline.is_empty()).then(|| self.timeline.get(self.tl.sel))
    }

    /// The session the user is looking at: the sessions pane's selection
    /// when it has the focus, else the selected row's.
    pub fn current_session(&self) -> Option<u32> {
        if self.focus == Pane::Sessions && self.view == View::Timeline {
            if let Some(s) = self.sess_order.get(self.sess.sel) {
                return Some(*s);
            }
        }
        self.selected_row()
            .map(|r| self.index.row(r).session)
            .filter(|s| (*s as usize) < self.sessions.len())
            .or(self.timeline.session)
            .or_else(|| self.sess_order.get(self.sess.sel).copied())
    }

    fn limit(&self) -> usize {
        let n = self.index.len();
        self.paused_at.map_or(n, |p| p.min(n))
    }

    pub fn decoded_for(&self, session: u32) -> Option<&DecodedSession> {
        self.decoded
            .iter()
            .find(|d| d.session == session)
            .map(|d| &**d)
    }

    /// Bytes the per-row structures use: the index, the timeline's row
    /// list and the filter's bit set.
    pub fn index_memory(&self) -> usize {
        self.index.memory()
            + self.timeline.memory()
            + self.filter.as_ref().map_or(0, |f| f.bits.memory())
            + self.ladder.as_ref().map_or(0, |l| l.list.memory())
    }

    fn status(&mut self, text: impl Into<String>) {
        self.status = Some((text.into(), false));
    }

    fn error(&mut self, text: impl Into<String>) {
        self.status = Some((text.into(), true));
    }

    fn page(&self) -> usize {
        let l = render::layout(self);
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
        if let Some((_, false)) = st.status {
            st.status = None;
        }
    }
    match action {
        Action::Batch(b) => batch(st, *b),
        Action::Job(r) => job_result(st, r),
        Action::Tick => {
            st.ticks += 1;
            if st.view == View::Stats && st.ticks.is_multiple_of(8) {
                if let Some(s) = &st.stats {
                    if s.computed_at != st.index.len() {
                        compute_stats(st);
                    }
                }
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
            if st.view == View::Timeline && st.focus == Pane::Timeline && st.live {
                st.tail = true;
            }
        }
        Action::Left => left_right(st, false),
        Action::Right => left_right(st, true),
        Action::Enter => enter(st),
        Action::Toggle => toggle_node(st),
        Action::FocusNext => focus(st, true),
        Action::FocusPrev => focus(st, false),
        Action::Show(v) => show(st, v),
        Action::StartSearch => {
            st.input = Some(Input {
                kind: InputKind::Search,
                text: String::new(),
                error: None,
            })
        }
        Action::StartFilter => {
            let text = st
                .filter
                .as_ref()
                .map(|f| f.expr.clone())
                .unwrap_or_default();
            st.input = Some(Input {
                kind: InputKind::Filter,
                text,
                error: None,
            });
            check_input(st);
        }
        Action::Input(c) => {
            if let Some(i) = &mut st.input {
                i.text.push(c);
            }
            check_input(st);
        }
        Action::InputBackspace => {
            if let Some(i) = &mut st.input {
                i.text.pop();
            }
            check_input(st);
        }
        Action::InputClear => {
            if let Some(i) = &mut st.input {
                i.text.clear();
            }
            check_input(st);
        }
        Action::InputCancel => st.input = None,
        Action::InputSubmit => submit(st),
        Action::SearchNext => search(st, true),
        Action::SearchPrev => search(st, false),
        Action::NextError => next_error(st, true),
        Action::PrevError => next_error(st, false),
        Action::JumpPair => jump_pair(st),
        Action::JumpBack => {
            if let Some(id) = st.jumps.pop() {
                select_row(st, id, false);
            } else {
                st.status("no earlier position");
            }
        }
        Action::ToggleScope => toggle_scope(st),
        Action::CycleSort => {
            st.sort = st.sort.next();
            sort_sessions(st);
            st.status(format!("sessions sorted by {}", st.sort.as_str()));
        }
        Action::ToggleHex => match (st.view, &mut st.stream) {
            (View::Stream, Some(s)) => {
                s.hex = !s.hex;
                s.stamp = u64::MAX;
                s.scroll = Scroll::default();
            }
            _ => {
                st.show_hex = !st.show_hex;
                if st.focus == Pane::Hex && !render::layout(st).hex_visible() {
                    st.focus = Pane::Tree;
                }
            }
        },
        Action::ToggleTail => {
            st.tail = !st.tail;
            if st.tail {
                st.paused_at = None;
                extend_lists(st);
                move_sel(st, isize::MAX / 2);
            }
            st.status(if st.tail {
                "following new messages"
            } else {
                "not following new messages"
            });
        }
        Action::TogglePause => {
            if st.paused_at.is_some() {
                st.paused_at = None;
                extend_lists(st);
                if st.tail {
                    st.tl.sel = st.timeline.len().saturating_sub(1);
                }
                st.status("resumed");
            } else {
                st.paused_at = Some(st.index.len());
                st.status("paused: new messages are counted, not shown (p resumes)");
            }
        }
        Action::ExportView => export(st, false),
        Action::ExportSession => export(st, true),
        Action::Click { x, y } => click(st, x, y),
        Action::Wheel { x, y, down } => wheel(st, x, y, down),
    }
    after(st);
}

/// Keeps every cursor valid and visible, and the detail in step.
fn after(st: &mut State) {
    let l = render::layout(st);
    st.tl.fit(st.timeline.len(), l.timeline_rows());
    st.sess.fit(st.sess_order.len(), l.sessions_rows());
    refresh_detail(st);
    st.tree.fit(st.detail.lines.len(), l.tree_rows());
    let stamp = st.stream_stamp();
    if st.stream.as_ref().is_some_and(|s| s.stamp != stamp) {
        rebuild_stream(st);
    }
    let body = l.body_rows();
    if let Some(s) = &mut st.stream {
        let n = s.lines.len();
        s.scroll.sel = s.scroll.sel.min(n.saturating_sub(body));
        s.scroll.offset = s.scroll.sel;
    }
    if let Some(ld) = &mut st.ladder {
        ld.scroll.fit(ld.list.len(), body.saturating_sub(1));
    }
    if let Some(s) = &mut st.stats {
        s.scroll.fit(s.rows.len(), l.stats_rows());
    }
    st.expert.fit(st.notes.len(), body.saturating_sub(1));
}

impl State {
    fn stream_stamp(&self) -> u64 {
        match &self.stream {
            Some(s) => match self.decoded_for(s.session) {
                Some(_) => {
                    (self.decoded_gen << 17) | (u64::from(s.hex) << 16) | u64::from(self.size.0)
                }
                None => 0,
            },
            None => 0,
        }
    }
}

// ------------------------------------------------------------ feeding

fn batch(st: &mut State, b: Batch) {
    for n in &b.names {
        st.index.names.push(n.clone());
    }
    let new_sessions = !b.sessions.is_empty();
    for info in b.sessions.iter() {
        // Relative times count from the capture's first packet, as in
        // every other output.
        st.t0.get_or_insert(super::feed::micros(info.t0));
        st.sessions.push(SessionEntry::new(info.clone()));
    }
    for (i, row) in b.rows.iter().enumerate() {
        let id = st.index.len();
        if st.t0.is_none() {
            st.t0 = Some(row.ts_us);
        }
        if let Some(s) = st.sessions.get_mut(row.session as usize) {
            note_row(s, row, &st.index);
            if row.kind() == RowKind::Open {
                s.first_row = id;
            }
        }
        st.index.push(*row, b.text(i));
    }
    for e in &b.ends {
        if let Some(s) = st.sessions.get_mut(e.session as usize) {
            s.end_us = Some(e.end_us);
            s.attrs = e.attrs.clone();
            s.notes = e.notes.clone();
            s.pending = 0;
        }
    }
    st.notes.extend(b.notes);
    st.notes_dropped += b.notes_dropped;
    st.checkpoints.extend(b.checkpoints);
    st.progress = b.progress;
    if b.done.is_some() {
        st.done = b.done;
    }
    if new_sessions {
        let base = st.sess_order.len() as u32;
        st.sess_order.extend(base..st.sessions.len() as u32);
    }
    // Start order is the order sessions arrive in.
    if st.sort != SortKey::Start {
        sort_sessions(st);
    }
    extend_lists(st);
    if st.tail && st.paused_at.is_none() {
        st.tl.sel = st.timeline.len().saturating_sub(1);
    }
}

fn note_row(s: &mut SessionEntry, row: &Row, index: &Index) {
    s.last_us = s.last_us.max(row.ts_us);
    if row.kind() != RowKind::Message {
        return;
    }
    s.messages += 1;
    if row.is_error() {
        s.errors += 1;
    }
    if row.severity() >= Some(Severity::Warn) {
        s.warnings += 1;
    }
    let name = index.name(row);
    match row.msg_kind() {
        Kind::Request => {
            s.requests += 1;
            s.pending += 1;
            if s.info.proto == Proto::Qmp && name == "qmp_capabilities" {
                s.caps_sent = true;
            }
        }
        Kind::Response => {
            if row.reply_to().is_some() {
                s.pending = s.pending.saturating_sub(1);
            }
            if s.info.proto == Proto::Qmp && name == "qmp_capabilities" && !row.is_error() {
                s.negotiated = true;
            }
        }
        Kind::Greeting => s.greeting = true,
        _ => {}
    }
}

fn extend_lists(st: &mut State) {
    let limit = st.limit();
    st.timeline.extend(&st.index, limit, st.filter.as_ref());
    if let Some(l) = &mut st.ladder {
        l.list.extend(&st.index, limit, st.filter.as_ref());
    }
}

fn sort_sessions(st: &mut State) {
    let keep = st.sess_order.get(st.sess.sel).copied();
    let ss = &st.sessions;
    let key = st.sort;
    st.sess_order.sort_by(|a, b| {
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
        if let Some(p) = st.sess_order.iter().position(|s| *s == k) {
            st.sess.sel = p;
        }
    }
}

fn job_result(st: &mut State, r: JobResult) {
    match r {
        JobResult::Decoded(d) => {
            if st.decoding.is_some_and(|(s, _)| s == d.session) {
                let want = st.decoding.take();
                if let Some((s, i)) = want {
                    if !d.covers(i) && d.error.is_none() {
                        st.decode_failed = Some((s, i));
                    }
                }
            }
            if let Some(e) = &d.error {
                let e = e.clone();
                st.error(e);
            }
            st.decoded.retain(|x| x.session != d.session);
            st.decoded.insert(0, d);
            st.decoded.truncate(DECODED_CACHE);
            st.decoded_gen += 1;
        }
        JobResult::Filter {
            gen,
            scanned,
            matches,
            done,
            error,
        } => {
            let Some(f) = &mut st.filter else { return };
            if f.gen != gen {
                return;
            }
            for m in &matches {
                f.bits.set(*m as usize);
            }
            f.matches += matches.len() as u64;
            f.scanned = f.scanned.max(scanned);
            f.done = done;
            if let Some(e) = error {
                f.error = Some(e.clone());
                st.error(format!("filter: {e}"));
            }
            let had = st.timeline.len();
            extend_lists(st);
            if had == 0 && !st.timeline.is_empty() {
                st.tl = Scroll::default();
            }
        }
        JobResult::Export { path, result } => {
            st.exporting = st.exporting.saturating_sub(1);
            match result {
                Ok(n) => st.status(format!(
                    "exported {n} message{} to {}",
                    if n == 1 { "" } else { "s" },
                    path.display()
                )),
                Err(e) => st.error(format!("export failed: {e}")),
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
            Pane::Sessions => st.sess.move_by(delta, st.sess_order.len()),
            Pane::Timeline => {
                let before = st.tl.sel;
                st.tl.move_by(delta, st.timeline.len());
                if delta < 0 && st.tl.sel != before {
                    st.tail = false;
                }
            }
            Pane::Tree => st.tree.move_by(delta, st.detail.lines.len()),
            Pane::Hex => {
                let lines = st
                    .detail
                    .bytes
                    .as_ref()
                    .map_or(0, |b| b.len().div_ceil(render::layout(st).hex_width()));
                let h = render::layout(st).hex_rows();
                let max = lines.saturating_sub(h) as isize;
                st.hex_scroll = (st.hex_scroll as isize + delta).clamp(0, max.max(0)) as usize;
            }
        },
        View::Stream => {
            if let Some(s) = &mut st.stream {
                s.scroll.move_by(delta, s.lines.len());
            }
        }
        View::Ladder => {
            let Some(ld) = &mut st.ladder else { return };
            ld.scroll.move_by(delta, ld.list.len());
            if !ld.list.is_empty() {
                let id = ld.list.get(ld.scroll.sel);
                let p = st.timeline.position(id);
                st.tl.sel = p.min(st.timeline.len().saturating_sub(1));
            }
        }
        View::Stats => {
            if let Some(s) = &mut st.stats {
                s.scroll.move_by(delta, s.rows.len());
            }
        }
        View::Expert => st.expert.move_by(delta, st.notes.len()),
    }
}

/// Selects row `id` in the timeline (widening the scope if it is hidden).
fn select_row(st: &mut State, id: usize, remember: bool) {
    if remember {
        if let Some(cur) = st.selected_row() {
            if st.jumps.last() != Some(&cur) {
                st.jumps.push(cur);
                if st.jumps.len() > MAX_JUMPS {
                    st.jumps.remove(0);
                }
            }
        }
    }
    if st.timeline.find(id).is_none() && st.timeline.session.is_some() {
        let row = st.index.row(id);
        if st.timeline.session != Some(row.session) {
            set_scope(st, None);
        }
    }
    match st.timeline.find(id) {
        Some(p) => st.tl.sel = p,
        None => {
            st.tl.sel = st
                .timeline
                .position(id)
                .min(st.timeline.len().saturating_sub(1));
            st.status("that row is hidden by the filter (f to change it)");
        }
    }
    st.tail = false;
    if let Some(ld) = &mut st.ladder {
        ld.scroll.sel = ld.list.position(id).min(ld.list.len().saturating_sub(1));
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
    let hex = render::layout(st).hex_visible();
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
        (View::Timeline, Pane::Tree) => {
            let Some(line) = st.detail.lines.get(st.tree.sel) else {
                return;
            };
            match (&line.path, line.expanded, right) {
                (Some(_), false, true) | (Some(_), true, false) => toggle_node(st),
                (_, _, false) => {
                    // to the parent
                    let depth = line.depth;
                    if let Some(p) = st.detail.lines[..st.tree.sel]
                        .iter()
                        .rposition(|l| l.depth < depth)
                    {
                        st.tree.sel = p;
                    }
                }
                _ => {}
            }
        }
        (View::Stream, _) => {
            if let Some(s) = &mut st.stream {
                s.hscroll = if right {
                    s.hscroll + 8
                } else {
                    s.hscroll.saturating_sub(8)
                };
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
                if let Some(s) = st.sess_order.get(st.sess.sel).copied() {
                    set_scope(st, Some(s));
                    let first = st.sessions[s as usize].first_row;
                    if let Some(p) = st.timeline.find(first) {
                        st.tl.sel = p;
                    } else {
                        st.tl.sel = 0;
                    }
                    st.focus = Pane::Timeline;
                }
            }
            Pane::Timeline => st.focus = Pane::Tree,
            Pane::Tree => toggle_node(st),
            Pane::Hex => {}
        },
        View::Expert => {
            if let Some(n) = st.notes.get(st.expert.sel) {
                let row = n.row as usize;
                if row < st.index.len() {
                    st.view = View::Timeline;
                    st.focus = Pane::Timeline;
                    select_row(st, row, true);
                }
            }
        }
        View::Ladder => {
            st.view = View::Timeline;
            st.focus = Pane::Timeline;
        }
        View::Stats | View::Stream => {}
    }
}

fn toggle_node(st: &mut State) {
    if st.view != View::Timeline {
        return;
    }
    let Some(line) = st.detail.lines.get(st.tree.sel) else {
        return;
    };
    if let Some(p) = &line.path {
        if !st.toggled.remove(p) {
            st.toggled.insert(p.clone());
        }
        st.toggled_gen += 1;
    }
}

fn set_scope(st: &mut State, session: Option<u32>) {
    let keep = st.selected_row();
    let start = session
        .and_then(|s| st.sessions.get(s as usize))
        .map_or(0, |s| s.first_row.min(st.index.len()));
    st.timeline = RowList::new(session, st.filter.is_some(), start);
    extend_lists(st);
    if let Some(id) = keep {
        st.tl.sel = st
            .timeline
            .position(id)
            .min(st.timeline.len().saturating_sub(1));
    }
}

fn toggle_scope(st: &mut State) {
    if st.timeline.session.is_some() {
        set_scope(st, None);
        st.status("all sessions");
    } else if let Some(s) = st.current_session() {
        set_scope(st, Some(s));
        let id = st.sessions[s as usize].info.id.clone();
        st.status(format!("session {id} only (a: all sessions)"));
    }
}

fn show(st: &mut State, v: View) {
    st.help = false;
    match v {
        View::Timeline => {}
        View::Stream => {
            let Some(s) = st.current_session() else {
                st.status("no session yet");
                return;
            };
            let hex = st.stream.as_ref().is_some_and(|x| x.hex);
            st.stream = Some(StreamView {
                session: s,
                hex,
                stamp: u64::MAX,
                ..Default::default()
            });
            if st.decoded_for(s).is_none() {
                let center = st
                    .selected_row()
                    .map(|r| st.index.row(r))
                    .filter(|r| r.session == s && r.kind() == RowKind::Message)
                    .map_or(0, |r| u64::from(r.index));
                request_decode(st, s, center);
            }
        }
        View::Ladder => {
            let Some(s) = st.current_session() else {
                st.status("no session yet");
                return;
            };
            let start = st.sessions[s as usize].first_row.min(st.index.len());
            let mut list = RowList::new(Some(s), st.filter.is_some(), start);
            list.extend(&st.index, st.limit(), st.filter.as_ref());
            let mut scroll = Scroll::default();
            if let Some(id) = st.selected_row() {
                scroll.sel = list.position(id).min(list.len().saturating_sub(1));
            }
            st.ladder = Some(LadderView {
                session: s,
                list,
                scroll,
            });
        }
        View::Stats => compute_stats(st),
        View::Expert => {
            if let Some(id) = st.selected_row() {
                let p = st.notes.partition_point(|n| (n.row as usize) < id);
                st.expert.sel = p.min(st.notes.len().saturating_sub(1));
            }
        }
    }
    st.view = v;
}

// ------------------------------------------------------------ input

fn check_input(st: &mut State) {
    if let Some(i) = &mut st.input {
        i.error = match i.kind {
            InputKind::Filter if !i.text.trim().is_empty() => {
                Filter::parse(&i.text).err().map(|e| e.render(&i.text))
            }
            _ => None,
        };
    }
}

fn submit(st: &mut State) {
    let Some(input) = st.input.take() else { return };
    match input.kind {
        InputKind::Search => {
            if input.text.is_empty() {
                st.search = None;
                return;
            }
            st.search = Some(input.text.to_lowercase());
            search(st, true);
        }
        InputKind::Filter => {
            let expr = input.text.trim().to_string();
            if expr.is_empty() {
                if st.filter.take().is_some() {
                    st.jobs.push(Job::CancelFilter);
                    let s = st.timeline.session;
                    set_scope(st, s);
                    st.status("filter cleared");
                }
                return;
            }
            if let Err(e) = Filter::parse(&expr) {
                st.input = Some(Input {
                    error: Some(e.render(&input.text)),
                    ..input
                });
                return;
            }
            st.filter_gen += 1;
            let gen = st.filter_gen;
            st.filter = Some(ActiveFilter {
                expr: expr.clone(),
                gen,
                bits: Bits::default(),
                scanned: 0,
                matches: 0,
                done: false,
                error: None,
            });
            st.jobs.push(Job::Filter { expr, gen });
            let s = st.timeline.session;
            set_scope(st, s);
            st.tl = Scroll::default();
            st.tail = false;
        }
    }
}

fn row_matches(st: &State, row: &Row, needle: &str) -> bool {
    let hay = |s: &str| s.to_lowercase().contains(needle);
    match row.kind() {
        RowKind::Message => hay(st.index.name(row)) || hay(st.index.text(row)),
        RowKind::Open | RowKind::End => st
            .sessions
            .get(row.session as usize)
            .is_some_and(|s| hay(&s.info.id)),
        _ => hay(st.index.text(row)),
    }
}

fn find_in_list(st: &State, forward: bool, pred: impl Fn(&Row) -> bool) -> Option<(usize, bool)> {
    let n = st.timeline.len();
    if n == 0 {
        return None;
    }
    let cur = st.tl.sel;
    for k in 1..=n {
        let (p, wrapped) = if forward {
            ((cur + k) % n, cur + k >= n)
        } else {
            ((cur + n - k) % n, k > cur)
        };
        if pred(&st.index.row(st.timeline.get(p))) {
            return Some((p, wrapped));
        }
    }
    None
}

fn search(st: &mut State, forward: bool) {
    let Some(needle) = st.search.clone() else {
        st.status("no search (/ to search)");
        return;
    };
    match find_in_list(st, forward, |r| row_matches(st, r, &needle)) {
        Some((p, wrapped)) => {
            let id = st.timeline.get(p);
            select_row(st, id, true);
            if wrapped {
                st.status(if forward {
                    "search hit BOTTOM, continuing at TOP"
                } else {
                    "search hit TOP, continuing at BOTTOM"
                });
            }
        }
        None => st.error(format!("not found: {needle}")),
    }
}

fn next_error(st: &mut State, forward: bool) {
    match find_in_list(st, forward, |r| {
        r.kind() == RowKind::Message && r.is_error()
    }) {
        Some((p, wrapped)) => {
            let id = st.timeline.get(p);
            select_row(st, id, true);
            if st.view == View::Timeline {
                st.focus = Pane::Timeline;
            }
            if wrapped {
                st.status("wrapped around");
            }
        }
        None => st.status("no error in view"),
    }
}

fn jump_pair(st: &mut State) {
    let Some(id) = st.selected_row() else { return };
    let row = st.index.row(id);
    if row.kind() != RowKind::Message {
        st.status("not a message");
        return;
    }
    let first = st
        .sessions
        .get(row.session as usize)
        .map_or(0, |s| s.first_row.min(id));
    let target = if let Some(req) = row.reply_to() {
        (first..id).rev().find(|&i| {
            let r = st.index.row(i);
            r.session == row.session && r.kind() == RowKind::Message && r.index == req
        })
    } else {
        let end = st.index.len();
        let found = (id + 1..end).find(|&i| {
            let r = st.index.row(i);
            r.session == row.session && r.reply_to() == Some(row.index)
        });
        if found.is_none() {
            st.status("no reply to this message");
            return;
        }
        found
    };
    match target {
        Some(t) => select_row(st, t, true),
        None => st.status("the request is not in the index"),
    }
}

// ------------------------------------------------------------ detail

fn request_decode(st: &mut State, session: u32, center: u64) {
    if st.decoding == Some((session, center)) {
        return;
    }
    let Some(s) = st.sessions.get(session as usize) else {
        return;
    };
    let start = super::feed::micros(s.info.start);
    let p = st.checkpoints.partition_point(|c| c.0 < start);
    let from = if p == 0 { 0 } else { st.checkpoints[p - 1].1 };
    st.jobs.push(Job::Decode {
        key: s.key(session),
        center,
        from,
    });
    st.decoding = Some((session, center));
}

fn refresh_detail(st: &mut State) {
    let Some(id) = st.selected_row() else {
        st.detail = Detail::default();
        return;
    };
    let row = st.index.row(id);
    // A session's description changes as its rows arrive.
    let live = if row.kind() == RowKind::Message {
        0
    } else {
        st.index.len() as u64
    };
    let stamp = (st.decoded_gen, st.toggled_gen, live);
    if st.detail.row == Some(id) && st.detail.stamp == stamp && st.detail.status.is_none() {
        return;
    }
    if st.detail.row != Some(id) {
        st.tree = Scroll::default();
        st.hex_scroll = 0;
    }
    let sess = st.sessions.get(row.session as usize);
    let mut d = Detail {
        row: Some(id),
        stamp,
        proto: sess.map(|s| s.info.proto),
        ..Default::default()
    };
    if row.kind() != RowKind::Message {
        d.lines = detail::row_lines(st, id, &row);
        st.detail = d;
        return;
    }
    let index = u64::from(row.index);
    match st.decoded_for(row.session) {
        Some(dec) if dec.covers(index) => match dec.message(index) {
            Some(m) => {
                d.lines = detail::message_lines(m, d.proto, &st.toggled);
                let dir = m.msg.dir.idx();
                d.bytes = dec.streams[dir]
                    .get(m.msg.offset, m.msg.len)
                    .map(|b| b.to_vec());
                d.secrets = Secrets::within(&m.msg);
                d.show_secrets = dec.show_secrets;
                if d.bytes.is_none() {
                    d.lines
                        .push(TreeLine::note("(the bytes of this message were not kept)"));
                }
            }
            None => d.status = Some("message not found when decoding again".into()),
        },
        _ => {
            if st.decode_failed == Some((row.session, index)) {
                d.status = Some("message not found when decoding again".into());
            } else {
                let sid = sess.map(|s| s.info.id.clone()).unwrap_or_default();
                d.status = Some(format!("decoding {sid} #{index}…"));
                // Following a live session: let the decode under way
                // finish rather than restart it with every new row.
                let following = st.tail && st.done.is_none();
                let busy_here = st.decoding.is_some_and(|(s, _)| s == row.session);
                if !(following && busy_here)
                    && st.decoding.is_none_or(|(s, c)| {
                        s != row.session
                            || (index + super::jobs::WINDOW / 2 < c
                                || index > c + super::jobs::WINDOW / 2)
                    })
                {
                    request_decode(st, row.session, index);
                }
            }
        }
    }
    st.detail = d;
}

fn rebuild_stream(st: &mut State) {
    let stamp = st.stream_stamp();
    let Some(view) = &st.stream else { return };
    let session = view.session;
    let hex = view.hex;
    let (lines, status) = match st.decoded_for(session) {
        Some(d) => {
            let proto = st.sessions.get(session as usize).map(|s| s.info.proto);
            let wrap = (st.size.0 as usize).saturating_sub(3).max(20);
            (detail::stream_lines(d, proto, hex, wrap), None)
        }
        None => (
            Vec::new(),
            Some(format!(
                "decoding {}…",
                st.sessions
                    .get(session as usize)
                    .map_or("", |s| s.info.id.as_str())
            )),
        ),
    };
    if let Some(v) = &mut st.stream {
        v.lines = lines;
        v.status = status;
        v.stamp = stamp;
    }
}

// ------------------------------------------------------------ stats

/// Computes per-name statistics of the rows in the timeline's list with
/// the summary's own code: each message row is given to a
/// [`Collector`] as a message record (name, kind, direction, error,
/// latency), and percentiles come from its [`Latency`] distributions
/// (bounded, as the collector's names are: the rows beyond the first
/// [`NAME_CAP`](crate::record::NAME_CAP) names of a protocol are one
/// `(other)` row). The latency chart takes a second pass over the rows.
pub fn compute_stats(st: &mut State) {
    let mut c = Collector::default();
    let list = &st.timeline;
    let n = list.len();
    let (mut t_lo, mut t_hi) = (i64::MAX, i64::MIN);
    for p in 0..n {
        let row = st.index.row(list.get(p));
        if row.kind() != RowKind::Message {
            continue;
        }
        let Some(sess) = st.sessions.get(row.session as usize) else {
            continue;
        };
        let name = st.index.name(&row);
        let mut msg = Message::new(row.dir(), 0, row.msg_kind(), name);
        msg.is_error = row.is_error();
        let rec = MessageRecord {
            session: &sess.info,
            index: u64::from(row.index),
            ts: crate::capture::Timestamp::from_micros(row.ts_us),
            // Statistics do not look at frames.
            frame: 0,
            msg: &msg,
            reply_to: row.reply_to().map(u64::from),
            latency_us: row.latency_us(),
            links: &[],
        };
        let _ = c.record(&Record::Message(rec));
        t_lo = t_lo.min(row.ts_us);
        t_hi = t_hi.max(row.ts_us);
    }
    let span = (t_lo, t_hi.max(t_lo));
    let bucket = |t: i64| -> usize {
        let w = (span.1 - span.0).max(1) as i128;
        (((t - span.0) as i128 * CHART_BUCKETS as i128 / (w + 1)) as usize).min(CHART_BUCKETS - 1)
    };
    let mut rows = Vec::new();
    let mut all_lat = Latency::default();
    let mut total = StatRow {
        proto: "",
        name: "(all)".into(),
        requests: 0,
        responses: 0,
        other: 0,
        errors: 0,
        latency: None,
        chart: vec![0; CHART_BUCKETS],
    };
    for (proto, ps) in &c.summary.protos {
        let folded = (ps.folded.messages() > 0).then(|| ("(other)".to_string(), &ps.folded));
        for (name, ns) in ps.by_name.iter().map(|(k, v)| (k.clone(), v)).chain(folded) {
            all_lat.merge(&ns.latency);
            total.requests += ns.requests;
            total.responses += ns.responses;
            total.other += ns.other;
            total.errors += ns.errors;
            rows.push(StatRow {
                proto,
                name,
                requests: ns.requests,
                responses: ns.responses,
                other: ns.other,
                errors: ns.errors,
                latency: ns.latency.percentiles(),
                chart: Vec::new(),
            });
        }
    }
    total.latency = all_lat.percentiles();
    rows.sort_by(|a, b| {
        (b.requests + b.responses + b.other)
            .cmp(&(a.requests + a.responses + a.other))
            .then(a.name.cmp(&b.name))
    });
    // Charts: the busiest names get a series each (second pass).
    let series = {
        let charted: std::collections::HashMap<&str, usize> = rows
            .iter()
            .enumerate()
            .take(64)
            .map(|(i, r)| (r.name.as_str(), i))
            .collect();
        let mut series: Vec<Vec<u64>> = vec![vec![0; CHART_BUCKETS]; charted.len()];
        for p in 0..n {
            let row = st.index.row(list.get(p));
            if row.kind() != RowKind::Message || st.sessions.get(row.session as usize).is_none() {
                continue;
            }
            let Some(l) = row.latency_us() else {
                continue;
            };
            let b = bucket(row.ts_us);
            let l = l.max(0) as u64;
            total.chart[b] = total.chart[b].max(l);
            if let Some(i) = charted.get(st.index.name(&row)) {
                series[*i][b] = series[*i][b].max(l);
            }
        }
        series
    };
    for (i, s) in series.into_iter().enumerate() {
        rows[i].chart = s;
    }
    let scope = match (&st.timeline.session, &st.filter) {
        (Some(s), Some(f)) => format!(
            "session {}, filter {}",
            st.sessions[*s as usize].info.id, f.expr
        ),
        (Some(s), None) => format!("session {}", st.sessions[*s as usize].info.id),
        (None, Some(f)) => format!("filter {}", f.expr),
        (None, None) => "all sessions".to_string(),
    };
    let keep = st.stats.as_ref().map_or(0, |s| s.scroll.sel);
    st.stats = Some(StatsView {
        scope,
        rows,
        total: Some(total),
        span_us: span,
        scroll: Scroll {
            sel: keep,
            offset: 0,
        },
        computed_at: st.index.len(),
    });
}

// ------------------------------------------------------------ export

fn export(st: &mut State, session_only: bool) {
    let session = if session_only {
        st.current_session()
    } else {
        st.timeline.session
    };
    let session_id = session
        .and_then(|s| st.sessions.get(s as usize))
        .map(|s| s.info.id.clone());
    if session_only && session_id.is_none() {
        st.status("no session to export");
        return;
    }
    let filter = if session_only {
        None
    } else {
        st.filter.as_ref().map(|f| f.expr.clone())
    };
    let what = match (&session_id, &filter) {
        (Some(s), Some(_)) => format!("{s}-filtered"),
        (Some(s), None) => s.clone(),
        (None, Some(_)) => "filtered".to_string(),
        (None, None) => "all".to_string(),
    };
    let stem: String = std::path::Path::new(&st.title)
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
    st.jobs.push(Job::Export {
        path: path.clone(),
        session: session_id,
        filter,
    });
    st.exporting += 1;
    st.status(format!("exporting to {}…", path.display()));
}

// ------------------------------------------------------------ mouse

fn click(st: &mut State, x: u16, y: u16) {
    if st.help {
        st.help = false;
        return;
    }
    let l = render::layout(st);
    match st.view {
        View::Timeline => {
            if let Some((pane, line)) = l.hit(x, y) {
                st.focus = pane;
                let Some(line) = line else { return };
                match pane {
                    Pane::Sessions => st.sess.sel = st.sess.offset + line,
                    Pane::Timeline => {
                        let p = st.tl.offset + line;
                        if p < st.timeline.len() {
                            st.tl.sel = p;
                            st.tail = false;
                        }
                    }
                    Pane::Tree => {
                        let p = st.tree.offset + line;
                        if p < st.detail.lines.len() {
                            if st.tree.sel == p {
                                toggle_node(st);
                            }
                            st.tree.sel = p;
                        }
                    }
                    Pane::Hex => {}
                }
            }
        }
        View::Expert => {
            if let Some(line) = l.body_line(y) {
                if line > 0 {
                    let p = st.expert.offset + line - 1;
                    if p < st.notes.len() {
                        st.expert.sel = p;
                    }
                }
            }
        }
        View::Ladder => {
            if let Some(line) = l.body_line(y) {
                if let Some(ld) = &mut st.ladder {
                    if line > 0 {
                        let p = ld.scroll.offset + line - 1;
                        if p < ld.list.len() {
                            ld.scroll.sel = p;
                            let id = ld.list.get(p);
                            st.tl.sel = st
                                .timeline
                                .position(id)
                                .min(st.timeline.len().saturating_sub(1));
                        }
                    }
                }
            }
        }
        View::Stats => {
            let first = l.stats_first_line();
            if y >= first {
                if let Some(s) = &mut st.stats {
                    let p = s.scroll.offset + (y - first) as usize;
                    if p < s.rows.len() {
                        s.scroll.sel = p;
                    }
                }
            }
        }
        View::Stream => {}
    }
}

fn wheel(st: &mut State, x: u16, y: u16, down: bool) {
    let delta = if down { 3 } else { -3 };
    if st.view == View::Timeline {
        if let Some((pane, _)) = render::layout(st).hit(x, y) {
            let keep = st.focus;
            st.focus = pane;
            move_sel(st, delta);
            st.focus = keep;
            if pane == Pane::Timeline && !down {
                st.tail = false;
            }
            return;
        }
    }
    move_sel(st, delta);
}
