//! Background jobs over the spool: decode one session on demand, evaluate
//! a display filter on every message, export to JSONL.
//!
//! Each job re-runs the real [`Engine`] over spooled packets, so what it
//! sees is what the first analysis saw:
//!
//! * **Decode** feeds only the packets of the session's connection (its
//!   4-tuple), from the last checkpoint known to precede the session's
//!   first packet, through the engine, which also reports the session's
//!   reassembled bytes. It keeps the decoded messages of a window of
//!   message indexes around the selected one, and up to
//!   [`MAX_STREAM_BYTES`] per direction, and stops (the sink says so) as
//!   soon as the window is complete or the session ends. It also keeps the
//!   secret ranges of every message it decodes, in the window or not, so
//!   that the byte views can mask them ([`crate::human`]).
//! * **Filter** re-runs everything (following the spool while the
//!   analysis is still running) and reports the row ids of matching
//!   messages; row ids follow from [`rows_of`], the rule the index uses.
//! * **Export** re-runs everything and writes the records of the chosen
//!   session, or of the filtered view, with [`JsonlWriter`].

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use qscope_dissectors::{Dir, Proto};

use super::feed::rows_of;
use super::spool::{self, Reader};
use crate::capture::Timestamp;
use crate::engine::{Config, Engine};
use crate::filter::Filter;
use crate::human::{self, Secrets};
use crate::layers::{self, Decoded};
use crate::record::{Collected, Flow, Record, Sink, Summary};
use crate::sink::json::JsonlWriter;

/// Most reassembled bytes kept per direction by a decode job.
pub const MAX_STREAM_BYTES: usize = 64 << 20;
/// Most arrival-order chunks kept for the stream view.
pub const MAX_CHUNKS: usize = 200_000;
/// Messages decoded on each side of the selected one.
pub const WINDOW: u64 = 2048;

/// Identifies a session across runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKey {
    pub ordinal: u32,
    pub id: String,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub start: Timestamp,
}

/// A direction's reassembled bytes, as runs of contiguous bytes.
#[derive(Debug, Default, Clone)]
pub struct Stream {
    runs: Vec<(u64, Vec<u8>)>,
    bytes: usize,
    /// Bytes before this offset were dropped (memory cap).
    pub trimmed_to: u64,
}

impl Stream {
    fn push(&mut self, off: u64, data: &[u8]) {
        self.bytes += data.len();
        if let Some((start, run)) = self.runs.last_mut() {
            if *start + run.len() as u64 == off {
                run.extend_from_slice(data);
                return;
            }
        }
        self.runs.push((off, data.to_vec()));
    }

    /// Drops whole runs from the front while over `cap` and before `keep`.
    fn trim(&mut self, cap: usize, keep: u64) {
        let mut n = 0;
        while self.bytes > cap && n < self.runs.len() {
            let (start, run) = &self.runs[n];
            let end = start + run.len() as u64;
            if end > keep && n + 1 == self.runs.len() {
                break;
            }
            if end > keep {
                break;
            }
            self.bytes -= run.len();
            self.trimmed_to = end;
            n += 1;
        }
        self.runs.drain(..n);
        // One huge run: keep its tail.
        if self.bytes > cap && self.runs.len() == 1 && self.runs[0].0 < keep {
            let (start, run) = &mut self.runs[0];
            let cut = ((keep - *start) as usize)
                .min(run.len())
                .min(self.bytes - cap / 2);
            run.drain(..cut);
            *start += cut as u64;
            self.bytes -= cut;
            self.trimmed_to = *start;
        }
    }

    /// Bytes `[off, off+len)` when all of them are kept.
    pub fn get(&self, off: u64, len: usize) -> Option<&[u8]> {
        let i = self
            .runs
            .partition_point(|(s, _)| *s <= off)
            .checked_sub(1)?;
        let (start, run) = &self.runs[i];
        let a = (off - start) as usize;
        run.get(a..a.checked_add(len)?)
    }

    /// The kept bytes from `off`, up to `len`, as far as they are contiguous.
    pub fn get_partial(&self, off: u64, len: usize) -> &[u8] {
        let Some(i) = self.runs.partition_point(|(s, _)| *s <= off).checked_sub(1) else {
            return &[];
        };
        let (start, run) = &self.runs[i];
        let a = (off - start) as usize;
        if a >= run.len() {
            return &[];
        }
        &run[a..run.len().min(a + len)]
    }

    pub fn kept(&self) -> usize {
        self.bytes
    }
}

/// A piece of the conversation in arrival order (for the stream view).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub dir: Dir,
    pub offset: u64,
    pub len: u64,
    pub gap: bool,
}

/// One session, decoded on demand.
#[derive(Debug, Default)]
pub struct DecodedSession {
    pub session: u32,
    pub proto: Option<Proto>,
    /// The window of message indexes asked for: `[lo, hi)`.
    pub lo: u64,
    pub hi: u64,
    /// The decoded messages of the window, by index.
    pub messages: Vec<Collected>,
    /// By direction (client→server first), in the engine's orientation.
    pub streams: [Stream; 2],
    pub chunks: Vec<Chunk>,
    pub chunks_dropped: bool,
    /// Messages seen (the highest index + 1).
    pub reached: u64,
    /// The session's end was seen: nothing more will come.
    pub complete: bool,
    pub error: Option<String>,
    /// Bytes that hold secrets, by direction (as `streams`), as stream
    /// offsets: of every message decoded, in the window or not.
    pub secrets: [Secrets; 2],
    /// `--show-secrets`: the byte views do not mask them.
    pub show_secrets: bool,
    /// The wire encoding the session's messages report (MQServer).
    pub encoding: Option<String>,
}

impl DecodedSession {
    pub fn message(&self, index: u64) -> Option<&Collected> {
        self.messages
            .binary_search_by_key(&index, |m| m.index)
            .ok()
            .map(|i| &self.messages[i])
    }

    /// Whether message `index` is known here, or known not to exist.
    pub fn covers(&self, index: u64) -> bool {
        (self.lo..self.hi).contains(&index) && (index < self.reached || self.complete)
    }
}

/// What a job reports.
#[derive(Debug)]
pub enum JobResult {
    Decoded(Box<DecodedSession>),
    Filter {
        gen: u64,
        /// Rows examined so far: every row id below is decided.
        scanned: u64,
        matches: Vec<u32>,
        done: bool,
        error: Option<String>,
    },
    Export {
        path: PathBuf,
        result: Result<u64, String>,
    },
}

/// A job to start (asked for by [`super::state::apply`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    Decode {
        key: SessionKey,
        center: u64,
        /// Spool position to start from.
        from: u64,
    },
    Filter {
        expr: String,
        gen: u64,
    },
    CancelFilter,
    Export {
        path: PathBuf,
        /// Session id ("s3") or every session.
        session: Option<String>,
        filter: Option<String>,
    },
}

/// Starts jobs on threads of their own; results come back on `tx`.
pub struct Jobs {
    spool: Option<Arc<spool::Shared>>,
    cfg: Config,
    tx: Sender<JobResult>,
    decode_cancel: Option<Arc<AtomicBool>>,
    filter_cancel: Option<Arc<AtomicBool>>,
}

impl Jobs {
    pub fn new(spool: Option<Arc<spool::Shared>>, mut cfg: Config, tx: Sender<JobResult>) -> Jobs {
        cfg.stop = None;
        Jobs {
            spool,
            cfg,
            tx,
            decode_cancel: None,
            filter_cancel: None,
        }
    }

    fn cancel(slot: &mut Option<Arc<AtomicBool>>) -> Arc<AtomicBool> {
        if let Some(c) = slot.take() {
            c.store(true, Ordering::Relaxed);
        }
        let c = Arc::new(AtomicBool::new(false));
        *slot = Some(c.clone());
        c
    }

    /// Starts `job` (cancelling the previous job of its kind).
    pub fn start(&mut self, job: Job) {
        let tx = self.tx.clone();
        let cfg = self.cfg.clone();
        let Some(spool) = self.spool.clone() else {
            let err = "no spool: the packets were not kept".to_string();
            let _ = match job {
                Job::Decode { key, center, .. } => {
                    tx.send(JobResult::Decoded(Box::new(DecodedSession {
                        session: key.ordinal,
                        lo: center.saturating_sub(WINDOW),
                        hi: center + WINDOW,
                        complete: true,
                        error: Some(err),
                        ..Default::default()
                    })))
                }
                Job::Filter { gen, .. } => tx.send(JobResult::Filter {
                    gen,
                    scanned: 0,
                    matches: Vec::new(),
                    done: true,
                    error: Some(err),
                }),
                Job::Export { path, .. } => tx.send(JobResult::Export {
                    path,
                    result: Err(err),
                }),
                Job::CancelFilter => Ok(()),
            };
            return;
        };
        match job {
            Job::Decode { key, center, from } => {
                let cancel = Self::cancel(&mut self.decode_cancel);
                spawn("qscope-decode", move || {
                    if let Some(d) = decode(&spool, cfg, &key, center, from, &cancel) {
                        let _ = tx.send(JobResult::Decoded(Box::new(d)));
                    }
                });
            }
            Job::Filter { expr, gen } => {
                let cancel = Self::cancel(&mut self.filter_cancel);
                spawn("qscope-filter", move || {
                    filter(&spool, cfg, &expr, gen, &cancel, &tx);
                });
            }
            Job::CancelFilter => {
                if let Some(c) = self.filter_cancel.take() {
                    c.store(true, Ordering::Relaxed);
                }
            }
            Job::Export {
                path,
                session,
                filter,
            } => {
                spawn("qscope-export", move || {
                    let result = export(&spool, cfg, &path, session, filter);
                    let _ = tx.send(JobResult::Export { path, result });
                });
            }
        }
    }
}

impl Drop for Jobs {
    fn drop(&mut self) {
        for c in [&self.decode_cancel, &self.filter_cancel]
            .into_iter()
            .flatten()
        {
            c.store(true, Ordering::Relaxed);
        }
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    // Failing to start a thread leaves the job undone; the UI keeps
    // showing "decoding…" rather than crashing.
    let _ = std::thread::Builder::new().name(name.into()).spawn(f);
}

/// Waits for more spool, or says the spool is complete. False when cancelled.
fn wait_more(reader: &Reader, cancel: &AtomicBool) -> bool {
    if reader.at_final_end() {
        return false;
    }
    std::thread::sleep(Duration::from_millis(20));
    !cancel.load(Ordering::Relaxed)
}

// ---------------------------------------------------------------- decode

struct DecodeSink<'k> {
    key: &'k SessionKey,
    /// The session's id in this run.
    target: Option<String>,
    out: DecodedSession,
}

impl DecodeSink<'_> {
    fn chunk(&mut self, c: Chunk) {
        let chunks = &mut self.out.chunks;
        if let Some(last) = chunks.last_mut() {
            if last.dir == c.dir && last.gap == c.gap && last.offset + last.len == c.offset {
                last.len += c.len;
                return;
            }
        }
        if chunks.len() >= MAX_CHUNKS {
            self.out.chunks_dropped = true;
            return;
        }
        chunks.push(c);
    }

    /// Keeps the streams under the cap without dropping bytes of kept
    /// messages.
    fn trim(&mut self) {
        for dir in [Dir::C2S, Dir::S2C] {
            let s = &mut self.out.streams[dir.idx()];
            if s.kept() <= MAX_STREAM_BYTES {
                continue;
            }
            let keep = self
                .out
                .messages
                .iter()
                .find(|m| m.msg.dir == dir)
                .map(|m| m.msg.offset)
                .unwrap_or(u64::MAX);
            s.trim(MAX_STREAM_BYTES / 2, keep);
        }
    }
}

impl Sink for DecodeSink<'_> {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
        let is_target = |id: &str, t: &Option<String>| t.as_deref() == Some(id);
        match rec {
            Record::Session(info) => {
                let same = |a: SocketAddr, b: SocketAddr| {
                    (a == self.key.client && b == self.key.server)
                        || (a == self.key.server && b == self.key.client)
                };
                if self.target.is_none()
                    && info.start == self.key.start
                    && same(info.client, info.server)
                {
                    self.target = Some(info.id.clone());
                    self.out.proto = Some(info.proto);
                }
            }
            Record::Message(m) if is_target(&m.session.id, &self.target) => {
                self.out.reached = self.out.reached.max(m.index + 1);
                if !m.msg.secrets.is_empty() {
                    self.out.secrets[m.msg.dir.idx()].extend(m.msg.secret_offsets());
                }
                if self.out.encoding.is_none() {
                    self.out.encoding = human::encoding(m.msg).map(str::to_owned);
                }
                if (self.out.lo..self.out.hi).contains(&m.index) {
                    self.out.messages.push(Collected {
                        session: self.key.id.clone(),
                        index: m.index,
                        ts: m.ts,
                        frame: m.frame,
                        msg: m.msg.clone(),
                        reply_to: m.reply_to,
                        latency_us: m.latency_us,
                        links: m.links.to_vec(),
                    });
                }
                if m.index + 1 >= self.out.hi {
                    // The window is complete.
                    return Ok(Flow::Stop);
                }
            }
            Record::Bytes(b) if is_target(&b.session.id, &self.target) => {
                self.out.streams[b.dir.idx()].push(b.offset, b.data);
                self.chunk(Chunk {
                    dir: b.dir,
                    offset: b.offset,
                    len: b.data.len() as u64,
                    gap: false,
                });
                self.trim();
            }
            Record::Gap(r) if is_target(&r.session.id, &self.target) => self.chunk(Chunk {
                dir: r.dir,
                offset: r.offset,
                len: r.len,
                gap: true,
            }),
            Record::SessionEnd(e) if is_target(&e.session.id, &self.target) => {
                self.out.complete = true;
                return Ok(Flow::Stop);
            }
            _ => {}
        }
        Ok(Flow::Continue)
    }
    fn finish(&mut self, _: &Summary) -> io::Result<()> {
        Ok(())
    }
}

/// Decodes the session of `key` again from the spool (from byte `from`,
/// a checkpoint before the session), keeping the messages of a window
/// around index `center` and the session's reassembled bytes (the engine
/// reports them: `Config::keep_bytes`).
fn decode(
    spool: &Arc<spool::Shared>,
    mut cfg: Config,
    key: &SessionKey,
    center: u64,
    from: u64,
    cancel: &AtomicBool,
) -> Option<DecodedSession> {
    let lo = center.saturating_sub(WINDOW);
    let hi = center.saturating_add(WINDOW);
    cfg.keep_bytes = true;
    cfg.jobs = 1;
    let sink = DecodeSink {
        key,
        target: None,
        out: DecodedSession {
            session: key.ordinal,
            lo,
            hi,
            show_secrets: cfg.opts.show_secrets,
            ..Default::default()
        },
    };
    let mut engine = Engine::new(cfg, sink);
    let mut reader = Reader::new(spool.clone(), from, None);
    let mut error = None;
    let mut n = 0u64;
    loop {
        n += 1;
        if n.is_multiple_of(1024) && cancel.load(Ordering::Relaxed) {
            return None;
        }
        let p = match reader.read_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => {
                error = Some(format!("spool: {e}"));
                break;
            }
        };
        let Ok(Decoded::Tcp(seg)) = layers::decode(p.link, p.data, p.orig_len) else {
            continue;
        };
        let ours = (seg.src == key.client && seg.dst == key.server)
            || (seg.src == key.server && seg.dst == key.client);
        if !ours {
            continue;
        }
        engine.packet(&p);
        if engine.done() {
            break;
        }
    }
    let mut out = if !engine.done() && reader.at_final_end() {
        let (_, sink) = engine.finish(None, None);
        sink.out
    } else {
        engine.flush();
        std::mem::take(&mut engine.sink().out)
    };
    if reader.at_final_end() {
        // Nothing more will come: what was not seen does not exist.
        out.complete = true;
    }
    out.error = error;
    Some(out)
}

// ---------------------------------------------------------------- filter

struct FilterSink {
    filter: Filter,
    row: u64,
    matches: Vec<u32>,
}

impl Sink for FilterSink {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
        if let Record::Message(m) = rec {
            if self.filter.matches(m) {
                self.matches.push(super::index::sat_u32(self.row));
            }
        }
        self.row += rows_of(rec);
        Ok(Flow::Continue)
    }
    fn finish(&mut self, _: &Summary) -> io::Result<()> {
        Ok(())
    }
}

fn filter(
    spool: &Arc<spool::Shared>,
    cfg: Config,
    expr: &str,
    gen: u64,
    cancel: &AtomicBool,
    tx: &Sender<JobResult>,
) {
    let f = match Filter::parse(expr) {
        Ok(f) => f,
        Err(e) => {
            let _ = tx.send(JobResult::Filter {
                gen,
                scanned: 0,
                matches: Vec::new(),
                done: true,
                error: Some(e.to_string()),
            });
            return;
        }
    };
    let sink = FilterSink {
        filter: f,
        row: 0,
        matches: Vec::new(),
    };
    let mut engine = Engine::new(cfg, sink);
    let mut reader = Reader::new(spool.clone(), 0, None);
    let mut last = Instant::now();
    let mut n = 0u64;
    let report = |s: &mut FilterSink, done: bool, error: Option<String>| {
        let matches = std::mem::take(&mut s.matches);
        tx.send(JobResult::Filter {
            gen,
            scanned: s.row,
            matches,
            done,
            error,
        })
        .is_ok()
    };
    loop {
        n += 1;
        if n.is_multiple_of(256) && cancel.load(Ordering::Relaxed) {
            return;
        }
        match reader.read_packet() {
            Ok(Some(p)) => engine.packet(&p),
            Ok(None) => {
                // Analyse what has been read while waiting for more.
                engine.flush();
                if !wait_more(&reader, cancel) {
                    if cancel.load(Ordering::Relaxed) {
                        return;
                    }
                    break;
                }
            }
            Err(e) => {
                report(engine.sink(), true, Some(format!("spool: {e}")));
                return;
            }
        }
        if last.elapsed() >= Duration::from_millis(100) {
            last = Instant::now();
            if !report(engine.sink(), false, None) {
                return;
            }
        }
    }
    let (_, mut sink) = engine.finish(None, None);
    report(&mut sink, true, None);
}

// ---------------------------------------------------------------- export

struct ExportSink<'w> {
    out: JsonlWriter<&'w mut BufWriter<File>>,
    session: Option<String>,
    filter: Option<Filter>,
    /// Sessions whose `session` record was written (filtered exports
    /// write it before the session's first matching message).
    written: std::collections::HashSet<String>,
    messages: u64,
}

impl ExportSink<'_> {
    fn wants(&self, id: &str) -> bool {
        self.session.as_deref().is_none_or(|s| s == id)
    }
}

impl Sink for ExportSink<'_> {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
        match rec {
            Record::Session(info) => {
                if self.wants(&info.id) && self.filter.is_none() {
                    self.written.insert(info.id.clone());
                    self.out.record(rec)?;
                }
            }
            Record::Message(m) => {
                if self.wants(&m.session.id) && self.filter.as_ref().is_none_or(|f| f.matches(m)) {
                    if self.written.insert(m.session.id.clone()) {
                        self.out.record(&Record::Session(m.session))?;
                    }
                    self.messages += 1;
                    self.out.record(rec)?;
                }
            }
            Record::Gap(r) | Record::Undecoded(r) => {
                if self.filter.is_none() && self.written.contains(&r.session.id) {
                    self.out.record(rec)?;
                }
            }
            Record::SessionEnd(e) => {
                if self.written.remove(&e.session.id) {
                    self.out.record(rec)?;
                }
            }
            Record::Bytes(_) | Record::Attr(_) => {}
        }
        Ok(Flow::Continue)
    }
    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        if self.session.is_none() && self.filter.is_none() {
            self.out.finish(summary)
        } else {
            Ok(())
        }
    }
}

fn export(
    spool: &Arc<spool::Shared>,
    cfg: Config,
    path: &PathBuf,
    session: Option<String>,
    filter: Option<String>,
) -> Result<u64, String> {
    let filter = match filter {
        Some(f) => Some(Filter::parse(&f).map_err(|e| e.to_string())?),
        None => None,
    };
    let file = File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut w = BufWriter::new(file);
    let messages = {
        let sink = ExportSink {
            out: JsonlWriter::new(&mut w),
            session,
            filter,
            written: Default::default(),
            messages: 0,
        };
        let mut engine = Engine::new(cfg, sink);
        // What has been read so far: a live capture goes on.
        let until = spool.flushed();
        let mut reader = Reader::new(spool.clone(), 0, Some(until));
        loop {
            match reader.read_packet() {
                Ok(Some(p)) => engine.packet(&p),
                Ok(None) => break,
                Err(e) => return Err(format!("spool: {e}")),
            }
            if engine.done() {
                break;
            }
        }
        if spool.done() && until == spool.flushed() {
            let (result, sink) = engine.finish(None, None);
            result.map_err(|e| e.to_string())?;
            sink.messages
        } else {
            // A live capture goes on: what was read so far, without the
            // sessions' ends and the summary.
            engine.flush();
            engine.sink().messages
        }
    };
    w.flush()
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(messages)
}
