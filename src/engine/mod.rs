//! The engine: packets in, records out, on every core.
//!
//! Follow a packet through:
//!
//! 1. `dispatch`: the packet's link, IP and TCP headers are decoded and
//!    the TCP segment is copied into the batch of the *shard* its
//!    connection hashes to (both directions to the same shard). Batches are
//!    cut into *epochs* by packet count and bytes.
//! 2. `shard`: each shard reassembles its connections
//!    ([`Reassembler`](crate::reassembly::Reassembler)), detects each
//!    session's protocol, drives the dissector through the one
//!    [`Driver`](qscope_dissectors::Driver), pairs replies with requests,
//!    and produces owned items tagged with where they were produced.
//! 3. `merge`: the merger interleaves every shard's items of an epoch by
//!    tag — the order one shard would have produced them in — gives
//!    sessions their ids and lends each item as a
//!    [`Record`](crate::record::Record) to the statistics collector and the
//!    [`Sink`].
//!
//! With `jobs` shards, each shard runs on its own thread and the merger
//! runs on the caller's thread (the sink never leaves it). A source that
//! can be read again (a capture file) is parsed by every shard itself
//! (a pcap file from blocks read once and shared), each counting every
//! packet and analysing its own connections
//! (`threads::run_parallel`); any other source is read by a reader
//! thread that dispatches (`threads::run_threaded`). With one job the same
//! three stages run in turn on the caller's thread. Epochs are cut from the packet sequence alone, so the
//! output is byte-identical for every number of jobs.
//!
//! Memory is bounded by the budget (`budget`): reassembly buffers,
//! buffered incomplete messages, detection prefixes, pairing state, notes
//! and per-session state are charged; when the total passes the limit, the
//! largest holders are shed and then the oldest connections closed, the
//! same way for every number of jobs, and the summary counts what was
//! dropped. Statistics bound themselves ([`crate::stats`]).
//!
//! A sink's [`Flow::Stop`](crate::record::Flow) ends the analysis after the
//! epoch that asked for it: nothing else is written but the summary.

mod batch;
mod budget;
mod detect;
mod dispatch;
mod item;
mod merge;
mod shard;
mod threads;

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use qscope_dissectors::{Limits, Message, Options, Proto};

use crate::capture::{CaptureError, Next, Packet, Source, Timestamp};
use crate::layers;
use crate::reassembly;
use crate::record::{Sink, Summary};
use budget::{Decision, Verdicts};
use dispatch::{Dispatcher, Epoch};
use item::ShardOut;
use merge::Merger;
use shard::{Settings, Shard};

/// The default memory limit: 1 GiB.
pub const DEFAULT_MEMORY_LIMIT: u64 = 1 << 30;

/// How the engine decodes.
#[derive(Debug, Clone)]
pub struct Config {
    /// `--decode-as PORT=PROTO`: sessions with this server (or client) port
    /// are decoded as PROTO without probing.
    pub decode_as: Vec<(u16, Proto)>,
    pub opts: Options,
    pub limits: Limits,
    pub reassembly: reassembly::Config,
    /// Bytes per direction held while detecting the protocol; when exceeded
    /// the engine decides with what it has.
    pub probe_bytes: usize,
    /// Most requests remembered per session for pairing replies.
    pub max_pending_refs: usize,
    /// When raised, [`analyze`] stops reading the source (signals); the
    /// sessions still end and the summary is written.
    pub stop: Option<Arc<AtomicBool>>,
    /// Shards (worker threads); 0 = the number of available cores.
    pub jobs: usize,
    /// Memory budget in bytes (`--memory-limit`).
    pub memory_limit: u64,
    /// Report the reassembled bytes of every session as `Record::Bytes`
    /// (`follow`, the TUI's stream and hex views).
    pub keep_bytes: bool,
    /// The time reference, when the caller knows it (replaying part of a
    /// capture); else the first packet read.
    pub t0: Option<Timestamp>,
    /// Applied to every message where it is made, on its shard's thread,
    /// before it is handed on: for a sink that reads only part of a
    /// message ([`stats::trim`](crate::stats::trim)), so that the merger
    /// thread neither reads nor frees the rest.
    pub trim: Option<fn(&mut Message)>,
}

impl Default for Config {
    fn default() -> Config {
        let reassembly = reassembly::Config {
            server_ports: qscope_dissectors::well_known_ports()
                .map(|(p, _)| p)
                .collect(),
            ..Default::default()
        };
        Config {
            decode_as: Vec::new(),
            opts: Options::default(),
            limits: Limits::default(),
            reassembly,
            probe_bytes: 64 << 10,
            max_pending_refs: 1 << 20,
            stop: None,
            jobs: 0,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            keep_bytes: false,
            t0: None,
            trim: None,
        }
    }
}

impl Config {
    /// Adds `--decode-as` overrides, and makes their ports count as server
    /// ports when orienting connections picked up mid-stream.
    pub fn with_decode_as(mut self, pairs: Vec<(u16, Proto)>) -> Config {
        for (port, _) in &pairs {
            if !self.reassembly.server_ports.contains(port) {
                self.reassembly.server_ports.push(*port);
            }
        }
        self.decode_as = pairs;
        self
    }

    /// The number of shards this configuration runs with.
    pub fn shards(&self) -> usize {
        match self.jobs {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    fn settings(&self) -> Settings {
        Settings {
            decode_as: self.decode_as.clone(),
            opts: self.opts,
            limits: self.limits,
            reassembly: self.reassembly.clone(),
            probe_bytes: self.probe_bytes,
            max_pending_refs: self.max_pending_refs,
            keep_bytes: self.keep_bytes,
            trim: self.trim,
        }
    }

    fn stopped(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
    }
}

/// Why an analysis stopped.
#[derive(Debug)]
pub enum AnalyzeError {
    /// The capture could not be read further (what came before was analysed
    /// and written, summary included).
    Capture(CaptureError),
    /// Writing the output failed.
    Output(io::Error),
}

impl std::fmt::Display for AnalyzeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnalyzeError::Capture(e) => write!(f, "{e}"),
            AnalyzeError::Output(e) => write!(f, "cannot write output: {e}"),
        }
    }
}

impl std::error::Error for AnalyzeError {}

/// How long a live source may wait for a packet before pending work is
/// handed on anyway.
const LIVE_WAIT: Duration = Duration::from_millis(50);
/// How often, at most, a quiet live capture closes what has waited too
/// long (overdue holes).
const EXPIRE_EVERY: Duration = Duration::from_secs(1);

/// The current wall-clock time as a capture timestamp (live expiry).
fn wall_clock() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp {
        secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: d.subsec_nanos(),
        nano: false,
    }
}

/// Reads `source` to its end (or first error, or until the sink asks to
/// stop) and pushes records into `sink`.
pub fn analyze(
    source: &mut (dyn Source + Send),
    cfg: Config,
    sink: &mut dyn Sink,
) -> Result<Summary, AnalyzeError> {
    let n = cfg.shards();
    // (Stopped before the start: nothing is read, as with one job.)
    let others = if n > 1 && !cfg.stopped() {
        (1..n).map(|_| source.reopen()).collect::<Option<Vec<_>>>()
    } else {
        None
    };
    let (summary, fault) = match others {
        _ if n <= 1 => run_inline(source, &cfg, sink),
        Some(others) => threads::run_parallel(source, others, &cfg, sink),
        None => threads::run_threaded(source, &cfg, sink, n),
    };
    match (summary, fault) {
        (Err(e), _) => Err(AnalyzeError::Output(e)),
        (Ok(_), Some(e)) => Err(AnalyzeError::Capture(e)),
        (Ok(s), None) => Ok(s),
    }
}

/// The live-capture timing of a reader: hand on what came in promptly,
/// and close what waited too long when the capture is quiet.
struct Pace {
    live: bool,
    epoch_started: Instant,
    last_expire: Instant,
}

impl Pace {
    fn new(live: bool) -> Pace {
        Pace {
            live,
            epoch_started: Instant::now(),
            last_expire: Instant::now(),
        }
    }

    /// A packet is about to start a new epoch.
    fn started(&mut self) {
        self.epoch_started = Instant::now();
    }

    /// After a packet: should the (unfinished) epoch end now?
    fn due(&self) -> bool {
        self.live && self.epoch_started.elapsed() >= LIVE_WAIT
    }

    /// The source is idle: `None` to go on waiting, else end the epoch
    /// now, with the time to expire connections as of (if due).
    fn idle(&mut self, pending: bool) -> Option<Option<Timestamp>> {
        let expire = self.last_expire.elapsed() >= EXPIRE_EVERY;
        if !pending && !expire {
            return None;
        }
        Some(expire.then(|| {
            self.last_expire = Instant::now();
            wall_clock()
        }))
    }
}

/// A shard fed packet by packet by a dispatcher of its own, which cuts the
/// epochs (one job; or a worker that reads the file itself and analyses
/// the connections of its part). An epoch begins in the shard at its first
/// packet, with the budget's decision for it from `decide` (`None`: the
/// decisions are gone, stop), and ends when the dispatcher says it is full.
struct Stepper {
    disp: Dispatcher,
    shard: Shard,
    t0: Option<Timestamp>,
    /// Analyse only the connections of shard `part.0` of `part.1`.
    part: (usize, usize),
    /// The current epoch has begun in the shard.
    open: bool,
}

type Decide<'a> = dyn FnMut(u64) -> Option<Option<Decision>> + 'a;

impl Stepper {
    fn new(cfg: &Config, part: (usize, usize)) -> Stepper {
        Stepper {
            disp: Dispatcher::new(1),
            shard: Shard::new(cfg.settings()),
            t0: cfg.t0,
            part,
            open: false,
        }
    }

    fn begin(
        &mut self,
        number: u64,
        first_ts: Timestamp,
        first_frame: u64,
        decide: &mut Decide<'_>,
    ) -> Option<()> {
        let cut = decide(number)?;
        let t0 = self.t0.or(self.disp.t0).unwrap_or(first_ts);
        self.shard
            .begin(number, t0, cut.as_ref(), first_ts, first_frame);
        self.open = true;
        Some(())
    }

    /// One packet; `Some(true)` when its epoch is full (close it now).
    fn packet(&mut self, p: &Packet<'_>, decide: &mut Decide<'_>) -> Option<bool> {
        if !self.open {
            self.begin(self.disp.current().0, p.ts, p.num, decide)?;
        }
        let (i, n) = self.part;
        // The plain case is read once, and its segment built only for
        // this shard's connections: every worker reads every packet, and
        // with n workers all but one in n are another's.
        if let Some(plain) = layers::Plain::ethernet(p.link, p.data) {
            self.disp.count_plain(p, &plain);
            let (a, b) = plain.endpoints();
            if dispatch::shard_of_v4(a, b, n) == i {
                self.shard.segment(&plain.segment(), p.ts, p.num);
            }
        } else if let Some(seg) = self.disp.count(p) {
            if dispatch::shard_of(seg.src, seg.dst, n) == i {
                self.shard.segment(&seg, p.ts, p.num);
            }
        }
        Some(self.disp.full())
    }

    /// Ends the current epoch (even one without packets): the epoch, with
    /// its counters, and the shard's output.
    fn close(
        &mut self,
        expire: Option<Timestamp>,
        decide: &mut Decide<'_>,
    ) -> Option<(Epoch, ShardOut)> {
        let e = self.disp.take(expire);
        if !self.open {
            self.begin(e.number, e.first_ts, e.first_frame, decide)?;
        }
        self.open = false;
        let out = self.shard.end(&e);
        Some((e, out))
    }

    /// After the last epoch: every connection closes.
    fn finish(&mut self) -> (ShardOut, reassembly::Stats) {
        self.shard.finish(self.disp.last_ts, self.disp.last_frame)
    }
}

/// One job on one thread: each packet is analysed as it is read (its
/// bytes are not copied), and epochs end where the dispatcher cuts them,
/// exactly as with several jobs. The budget's verdicts are kept in
/// `verdicts` (each is known before the epoch it applies to).
struct Inline {
    step: Stepper,
    verdicts: Verdicts,
}

impl Inline {
    fn new(cfg: &Config) -> Inline {
        Inline {
            step: Stepper::new(cfg, (0, 1)),
            verdicts: Verdicts::default(),
        }
    }

    fn packet(&mut self, p: &Packet<'_>, merger: &mut Merger, sink: &mut dyn Sink) {
        let verdicts = &mut self.verdicts;
        if self.step.packet(p, &mut |n| verdicts.at(n)) == Some(true) {
            self.close(None, merger, sink);
        }
    }

    /// Ends the current epoch (even one without packets).
    fn close(&mut self, expire: Option<Timestamp>, merger: &mut Merger, sink: &mut dyn Sink) {
        let verdicts = &mut self.verdicts;
        if let Some((e, out)) = self.step.close(expire, &mut |n| verdicts.at(n)) {
            let v = merger.epoch(sink, &e.counters, vec![out]);
            self.verdicts.push(v);
        }
    }

    /// The end: the last epoch, then every connection closes.
    fn finish(
        &mut self,
        merger: &mut Merger,
        sink: &mut dyn Sink,
    ) -> (ShardOut, reassembly::Stats) {
        self.close(None, merger, sink);
        self.step.finish()
    }
}

/// One job: the reader, the shard and the merger take turns.
fn run_inline(
    source: &mut (dyn Source + Send),
    cfg: &Config,
    sink: &mut dyn Sink,
) -> (io::Result<Summary>, Option<CaptureError>) {
    let mut inline = Inline::new(cfg);
    let mut pace = Pace::new(source.live());
    let mut merger = Merger::new(cfg.memory_limit);
    let mut fault = None;
    let mut halted = false;
    loop {
        if cfg.stopped() {
            break;
        }
        match source.next_or_idle(LIVE_WAIT) {
            Ok(Next::Packet(p)) => {
                if inline.step.disp.pending() == 0 {
                    pace.started();
                }
                inline.packet(&p, &mut merger, sink);
                if inline.step.disp.pending() > 0 && pace.due() {
                    inline.close(None, &mut merger, sink);
                }
            }
            Ok(Next::Idle) => {
                if let Some(expire) = pace.idle(inline.step.disp.pending() > 0) {
                    inline.close(expire, &mut merger, sink);
                }
            }
            Ok(Next::End) => break,
            Err(e) => {
                fault = Some(e);
                break;
            }
        }
        if merger.done() {
            halted = true;
            break;
        }
    }
    let dropped = source.dropped();
    let error = fault.as_ref().map(ToString::to_string);
    let last = if halted {
        vec![(ShardOut::default(), inline.step.shard.tcp())]
    } else {
        vec![inline.finish(&mut merger, sink)]
    };
    (merger.finish(sink, last, error, dropped), fault)
}

/// Packet-at-a-time analysis on the caller's thread, for callers that
/// interleave their own work with the engine's (the terminal UI: spooling,
/// live batches). The same stages as [`analyze`] with one job; the sink is
/// owned and reachable between packets.
pub struct Engine<S: Sink> {
    inline: Inline,
    merger: Option<Merger>,
    sink: S,
    halted: bool,
}

impl<S: Sink> Engine<S> {
    pub fn new(cfg: Config, sink: S) -> Engine<S> {
        Engine {
            inline: Inline::new(&cfg),
            merger: Some(Merger::new(cfg.memory_limit)),
            sink,
            halted: false,
        }
    }

    /// The sink, between packets.
    pub fn sink(&mut self) -> &mut S {
        &mut self.sink
    }

    /// True once writing failed or the sink asked to stop: feed no more
    /// packets.
    pub fn done(&self) -> bool {
        self.halted
    }

    /// Analyses one captured packet (its records come out when its epoch
    /// ends, or at [`Engine::flush`]).
    pub fn packet(&mut self, pkt: &Packet<'_>) {
        let Some(merger) = self.merger.as_mut().filter(|_| !self.halted) else {
            return;
        };
        self.inline.packet(pkt, merger, &mut self.sink);
        self.halted = merger.done();
    }

    /// Ends the current epoch now, so that every record of the packets
    /// given so far comes out.
    pub fn flush(&mut self) {
        if self.inline.step.disp.pending() > 0 {
            self.close(None);
        }
    }

    /// Live capture gone quiet: closes what has waited too long as of `now`.
    pub fn expire(&mut self, now: Timestamp) {
        self.close(Some(now));
    }

    fn close(&mut self, expire: Option<Timestamp>) {
        let Some(merger) = self.merger.as_mut().filter(|_| !self.halted) else {
            return;
        };
        self.inline.close(expire, merger, &mut self.sink);
        self.halted = merger.done();
    }

    /// Ends the analysis: flushes every connection and writes the summary
    /// (`error`: why reading stopped early; `dropped`: the source's losses).
    pub fn finish(
        mut self,
        error: Option<String>,
        dropped: Option<u64>,
    ) -> (io::Result<Summary>, S) {
        let Some(mut merger) = self.merger.take() else {
            return (Ok(Summary::default()), self.sink);
        };
        let last = if self.halted {
            vec![(ShardOut::default(), self.inline.step.shard.tcp())]
        } else {
            vec![self.inline.finish(&mut merger, &mut self.sink)]
        };
        (
            merger.finish(&mut self.sink, last, error, dropped),
            self.sink,
        )
    }
}
