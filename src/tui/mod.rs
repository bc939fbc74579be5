//! The terminal UI: `qscope CAPTURE` (and, later, `qscope -i IFACE`).
//!
//! # Design
//!
//! * **State, actions, rendering.** [`State`] holds everything on screen:
//!   the [`model`] the analysis feeds and the state of each view. Keys and
//!   mouse events become [`Action`]s ([`keys`]); so do the analysis
//!   thread's batches of rows and the background jobs' results. [`apply`]
//!   is the only function that changes the state, and it is pure (no I/O,
//!   no threads, no waiting): what it wants done in the background it
//!   queues in the [`action::Outbox`]. [`render()`] reads `&State` only.
//!   Tests drive the same code with a [`Harness`] and ratatui's
//!   `TestBackend`.
//!
//! * **Views.** Each view or pane ([`view`]: sessions, timeline, detail
//!   and hex, stream, ladder, statistics, notes, help, header and footer)
//!   is a module with its state, what its keys do and how it draws.
//!   `apply` routes an action to the view on screen and keeps the views in
//!   step; [`draw`] has each draw itself. The modules form layers and
//!   never import each other in a circle (`tests/module_graph.rs` checks
//!   it): the data ([`index`], [`feed`], [`jobs`], [`spool`]), the
//!   vocabulary ([`layout`], [`action`], [`list`], [`render`](mod@render)), the
//!   [`model`] and the [`decoded`] sessions, the views, then [`state`],
//!   [`keys`], [`draw`] and [`harness`].
//!
//! * **The feed.** A background thread ([`feed`]) reads the [`Source`],
//!   appends every packet to the spool ([`spool`]: an unlinked temporary
//!   file), runs the [`Engine`](crate::engine::Engine) and turns its
//!   records into 32-byte [`index::Row`]s, sent to the UI in batches (the
//!   first after 15 ms or 64 rows, so the UI fills in at once). A live
//!   source is read on a thread of its own so that rows appear while the
//!   network is quiet; drops (`Source::dropped`) are shown in the header.
//!
//! * **The index** keeps, per row (message, gap, warning, session
//!   open/close/note): time, session, message index, the request it
//!   answers or its length, latency, an interned name id and flags (kind,
//!   direction, error, note severity) in 32 bytes, plus a summary prefix
//!   in a text arena budgeted at 26 bytes per row on average (short
//!   summaries leave room for longer ones, 160 bytes at most). All of it
//!   lives in fixed-size chunks, so the allocation is what is used. The
//!   timeline's list of row ids (4 bytes per row, only when a session or
//!   a filter narrows the view) and the filter's bit set (1 bit per row)
//!   complete the per-message cost: at most 32 + 26 + 4 + 1/8 < 64 bytes
//!   (`benches/tui_index.rs` measures it). Rendering formats only the
//!   visible rows; nothing per frame walks the index.
//!
//! * **Decoding on demand.** Decoded field trees are not kept. Selecting a
//!   message asks for its session to be decoded again ([`jobs`]): the
//!   engine re-runs over the spooled packets of that connection only
//!   (4-tuple), from the last checkpoint (every 4096 packets) known to
//!   precede the session, next to a second reassembler that keeps the
//!   session's bytes (64 MiB per direction at most). The decoded messages
//!   of a window of ±2048 message indexes are cached (3 sessions), which
//!   serves the detail tree, the hex view and the stream view. The job
//!   stops as soon as the window is complete or the session ends.
//!
//! * **Filtering and export** re-run the engine over the whole spool in
//!   the background (following it while a live capture goes on): the
//!   filter job reports the row ids of matching messages (the ids follow
//!   from the same record → row rule the index uses) and the view fills
//!   in as it goes; the export job writes JSONL with
//!   [`JsonlWriter`](crate::sink::json::JsonlWriter).
//!
//! * **Statistics** are computed with the code of `qscope stats`: message
//!   rows are given to a detailed [`Collector`](crate::stats::Collector),
//!   selected when the view lists them (a reply counts under its request),
//!   and percentiles come from its [`Latency`](crate::record::Latency)
//!   distributions.
//!
//! * **Safety.** Every string from the wire goes through
//!   [`escape`](crate::human::escape) before it is stored for
//!   display. The terminal is restored on exit, on a panic of the UI
//!   thread (panic hook; panics of other threads are reported after exit)
//!   and on Ctrl-C (a key in raw mode) or when the engine's stop flag
//!   ([`Config::stop`]) is raised by someone else (the signal handlers of
//!   live capture). Quitting raises the flag, which stops a live source.
//!
//! * **`NO_COLOR`** (or [`Options::no_color`]): frames are drawn without
//!   any colour ([`render::monochrome`]); what colours meant stays as
//!   reverse video, bold and underline. crossterm is never asked for a
//!   colour, which under `NO_COLOR` it would send as an attribute reset.
//!
//! # Limits
//!
//! * The spool holds a copy of every packet read: as much temporary disk
//!   as the capture (it is unlinked at once and vanishes with the
//!   process). Without it (no writable temporary directory) the timeline
//!   works and details, filters and exports say they are unavailable.
//! * Decoding a message re-reads its session from the session's start up
//!   to the window around the message: instant for ordinary sessions,
//!   proportional to the session for one huge session. While following a
//!   live session, a decode under way is allowed to finish rather than
//!   restarted for every new row.
//! * A session's state is what its dissector says (the `state`
//!   attribute: QMP's "negotiating") or, failing that, how many requests
//!   await a reply; attributes (user, account, login failed) show as soon
//!   as the dissector learns them (the engine reports each change as a
//!   `Record::Attr`).
//! * Statistics of a very large view are computed when the view opens
//!   (about 0.1 s per million messages) and, while data arrives,
//!   again every few seconds.

pub mod action;
pub mod decoded;
pub mod draw;
pub mod feed;
pub mod harness;
pub mod index;
pub mod jobs;
pub mod keys;
pub mod layout;
pub mod list;
pub mod model;
pub mod render;
pub mod spool;
pub mod state;
pub mod view;

use std::io::{self, Stdout};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

pub use action::Action;
pub use draw::render;
pub use harness::Harness;
pub use layout::{Pane, View};
pub use state::{apply, State};

use crate::capture::Source;
use crate::engine::Config;

/// How to run the UI.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The source is a live capture: follow new messages, offer pause.
    pub live: bool,
    /// Where exports are written (default: the current directory).
    pub export_dir: Option<PathBuf>,
    /// Draw without colours. `NO_COLOR` in the environment (set and not
    /// empty, <https://no-color.org>) does the same.
    pub no_color: bool,
}

/// `NO_COLOR` is set and not empty.
fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Runs the UI until the user quits. `source` is read on a background thread.
pub fn run(source: Box<dyn Source + Send>, cfg: Config, title: String) -> io::Result<()> {
    run_with(source, cfg, title, Options::default())
}

/// Panics of threads other than the UI's, reported after the terminal is
/// restored.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

type Hook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static>;

/// The terminal in raw mode on the alternate screen; restored on drop.
struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
    prev_hook: Arc<Hook>,
}

impl Screen {
    fn enter() -> io::Result<Screen> {
        let prev_hook: Arc<Hook> = Arc::new(std::panic::take_hook());
        let ui = std::thread::current().id();
        let prev = prev_hook.clone();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().id() == ui {
                restore_terminal();
                prev(info);
            } else if let Ok(mut p) = PANICS.lock() {
                let who = std::thread::current().name().unwrap_or("?").to_string();
                p.push(format!("thread {who}: {info}"));
            }
        }));
        enable_raw_mode()?;
        let mut out = io::stdout();
        if let Err(e) = execute!(out, EnterAlternateScreen, EnableMouseCapture) {
            restore_terminal();
            return Err(e);
        }
        let terminal = match Terminal::new(CrosstermBackend::new(out)) {
            Ok(t) => t,
            Err(e) => {
                restore_terminal();
                return Err(e);
            }
        };
        Ok(Screen {
            terminal,
            prev_hook,
        })
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = self.terminal.show_cursor();
        restore_terminal();
        let prev = self.prev_hook.clone();
        let _ = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| prev(info)));
    }
}

/// [`run`] with options (live capture, export directory).
pub fn run_with(
    source: Box<dyn Source + Send>,
    cfg: Config,
    title: String,
    opts: Options,
) -> io::Result<()> {
    let feed = feed::spawn(source, cfg.clone(), opts.live);
    let (jtx, jrx) = mpsc::channel();
    let mut jobs = jobs::Jobs::new(feed.spool.clone(), cfg, jtx);
    let mut st = State::new(title, opts.live);
    if let Some(d) = opts.export_dir {
        st.export_dir = d;
    }
    st.no_color = opts.no_color || no_color_env();
    let result = {
        let mut screen = Screen::enter()?;
        event_loop(&mut screen, &mut st, &feed, &mut jobs, &jrx)
    };
    feed.stop.store(true, Ordering::Relaxed);
    if let Ok(p) = PANICS.lock() {
        for m in p.iter() {
            eprintln!("qscope: internal error in {m}");
        }
    }
    result
}

fn event_loop(
    screen: &mut Screen,
    st: &mut State,
    feed: &feed::FeedHandle,
    jobs: &mut jobs::Jobs,
    jrx: &mpsc::Receiver<jobs::JobResult>,
) -> io::Result<()> {
    let size = screen.terminal.size()?;
    apply(st, Action::Resize(size.width, size.height));
    let mut dirty = true;
    let mut last_tick = Instant::now();
    let mut feed_open = true;
    let mut panics_seen = 0;
    let stop_was_raised = feed.stop.load(Ordering::Relaxed);
    loop {
        if dirty {
            screen.terminal.draw(|f| render(f, st))?;
            dirty = false;
        }
        if event::poll(Duration::from_millis(30))? {
            loop {
                let a = match event::read()? {
                    Event::Key(k) => keys::key_action(st, k),
                    Event::Mouse(m) => keys::mouse_action(m),
                    Event::Resize(w, h) => {
                        let _ = screen.terminal.autoresize();
                        Some(Action::Resize(w, h))
                    }
                    _ => None,
                };
                if let Some(a) = a {
                    apply(st, a);
                    dirty = true;
                }
                if !event::poll(Duration::ZERO)? {
                    break;
                }
            }
        }
        let t = Instant::now();
        while feed_open && t.elapsed() < Duration::from_millis(40) {
            match feed.rx.try_recv() {
                Ok(b) => {
                    apply(st, Action::Batch(Box::new(b)));
                    dirty = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    feed_open = false;
                    if st.model.done.is_none() {
                        let why = PANICS
                            .lock()
                            .ok()
                            .and_then(|p| p.last().cloned())
                            .unwrap_or_else(|| "the analysis stopped".into());
                        let b = feed::Batch {
                            done: Some(feed::Done {
                                summary: Default::default(),
                                error: Some(why),
                            }),
                            progress: st.model.progress.clone(),
                            ..Default::default()
                        };
                        apply(st, Action::Batch(Box::new(b)));
                        dirty = true;
                    }
                }
            }
        }
        while let Ok(r) = jrx.try_recv() {
            apply(st, Action::Job(r));
            dirty = true;
        }
        if last_tick.elapsed() >= Duration::from_millis(250) {
            last_tick = Instant::now();
            apply(st, Action::Tick);
            if st.model.done.is_none() {
                dirty = true;
            }
        }
        if let Ok(p) = PANICS.lock() {
            if p.len() > panics_seen {
                panics_seen = p.len();
                st.out.error(format!("internal error: {}", p[p.len() - 1]));
                dirty = true;
            }
        }
        for j in st.out.jobs.drain(..) {
            jobs.start(j);
        }
        // Something else raised the stop flag (the signal handlers of
        // live capture): quit, restoring the terminal.
        if !stop_was_raised && feed.stop.load(Ordering::Relaxed) {
            st.quit = true;
        }
        if st.quit {
            return Ok(());
        }
    }
}
