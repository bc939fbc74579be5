//! What goes into [`apply`](super::state::apply) and what comes out:
//! [`Action`]s in (keys, the mouse, the analysis thread's batches, the
//! jobs' results, time), an [`Outbox`] out (the status line's message and
//! the jobs to start).

use super::feed::Batch;
use super::jobs::{Job, JobResult};
use super::layout::View;

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

/// What `apply` leaves for the runtime: the status line and the jobs to
/// start.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Status line: (text, is an error).
    pub status: Option<(String, bool)>,
    /// Jobs for the runtime to start.
    pub jobs: Vec<Job>,
}

impl Outbox {
    pub fn status(&mut self, text: impl Into<String>) {
        self.status = Some((text.into(), false));
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.status = Some((text.into(), true));
    }

    pub fn job(&mut self, job: Job) {
        self.jobs.push(job);
    }
}
