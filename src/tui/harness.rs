//! Running the UI without a terminal: for tests and benchmarks. The
//! analysis and the jobs run on their threads as in [`super::run`];
//! [`Harness::settle`] waits until everything asked for has arrived, so
//! that what is drawn is deterministic.

use std::io;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;

use super::action::Action;
use super::draw::render;
use super::feed::{self, FeedHandle};
use super::jobs::{JobResult, Jobs};
use super::keys::{key_action, parse_key};
use super::state::{apply, State};
use crate::capture::{FileSource, Source};
use crate::engine::Config;

/// The UI state driven by hand.
pub struct Harness {
    pub state: State,
    feed: FeedHandle,
    feed_open: bool,
    jobs: Jobs,
    job_rx: Receiver<JobResult>,
}

impl Harness {
    /// Opens a capture file (title: its file name), screen `w`×`h`.
    pub fn open(path: &Path, w: u16, h: u16) -> io::Result<Harness> {
        let src = FileSource::open(path).map_err(io::Error::other)?;
        let title = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Harness::new(
            Box::new(src),
            Config::default(),
            title,
            false,
            w,
            h,
        ))
    }

    pub fn new(
        source: Box<dyn Source + Send>,
        cfg: Config,
        title: String,
        live: bool,
        w: u16,
        h: u16,
    ) -> Harness {
        let feed = feed::spawn(source, cfg.clone(), live);
        let (tx, job_rx) = mpsc::channel();
        let jobs = Jobs::new(feed.spool.clone(), cfg, tx);
        let mut state = State::new(title, live);
        state.size = (w, h);
        Harness {
            state,
            feed,
            feed_open: true,
            jobs,
            job_rx,
        }
    }

    /// Applies an action and starts the jobs it asks for.
    pub fn apply(&mut self, a: Action) {
        apply(&mut self.state, a);
        for j in self.state.out.jobs.drain(..) {
            self.jobs.start(j);
        }
    }

    /// Applies what has arrived; true when something did.
    pub fn pump(&mut self) -> bool {
        let mut any = false;
        while self.feed_open {
            match self.feed.rx.try_recv() {
                Ok(b) => {
                    self.apply(Action::Batch(Box::new(b)));
                    any = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => self.feed_open = false,
            }
        }
        while let Ok(r) = self.job_rx.try_recv() {
            self.apply(Action::Job(r));
            any = true;
        }
        any
    }

    /// Applies batches until `pred` holds (or the analysis ended / 60 s).
    pub fn pump_until(&mut self, mut pred: impl FnMut(&State) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !pred(&self.state) && Instant::now() < deadline && self.feed_open {
            match self.feed.rx.recv_timeout(Duration::from_millis(20)) {
                Ok(b) => self.apply(Action::Batch(Box::new(b))),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => self.feed_open = false,
            }
            self.pump();
        }
    }

    fn busy(&self) -> bool {
        let st = &self.state;
        st.model.done.is_none()
            || st.decoded.decoding.is_some()
            || st.timeline.filter.as_ref().is_some_and(|f| !f.done)
            || st.exporting > 0
    }

    /// Waits until the analysis is done and every job answered.
    pub fn settle(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            self.pump();
            if !self.busy() || Instant::now() > deadline {
                break;
            }
            if self.state.model.done.is_none() && self.feed_open {
                match self.feed.rx.recv_timeout(Duration::from_millis(20)) {
                    Ok(b) => self.apply(Action::Batch(Box::new(b))),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => self.feed_open = false,
                }
            } else if let Ok(r) = self.job_rx.recv_timeout(Duration::from_millis(20)) {
                self.apply(Action::Job(r));
            }
        }
    }

    /// Presses keys (space-separated names, see [`parse_key`]), settling
    /// after each.
    pub fn keys(&mut self, keys: &str) {
        for k in keys.split_whitespace() {
            let ev = parse_key(k).unwrap_or_else(|| panic!("unknown key {k}"));
            if let Some(a) = key_action(&self.state, ev) {
                self.apply(a);
            }
            self.settle();
        }
    }

    /// Presses keys without waiting for anything (live sources: the
    /// analysis does not end), then applies what has arrived.
    pub fn press(&mut self, keys: &str) {
        for k in keys.split_whitespace() {
            let ev = parse_key(k).unwrap_or_else(|| panic!("unknown key {k}"));
            if let Some(a) = key_action(&self.state, ev) {
                self.apply(a);
            }
            self.pump();
        }
    }

    /// Types text into the open input line.
    pub fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.apply(Action::Input(c));
        }
    }

    /// Draws the current state.
    pub fn buffer(&self) -> Buffer {
        draw(&self.state)
    }

    /// The screen as text, one line per row, trailing spaces removed.
    pub fn screen(&self) -> String {
        buffer_text(&self.buffer())
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.feed
            .stop
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Draws `st` on a test backend of its size.
pub fn draw(st: &State) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(st.size.0, st.size.1)).expect("test backend");
    t.draw(|f| render(f, st)).expect("test backend");
    t.backend().buffer().clone()
}

/// A buffer's text, one line per row, trailing spaces removed.
pub fn buffer_text(b: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..b.area.height {
        let mut line = String::new();
        for x in 0..b.area.width {
            line.push_str(b[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
