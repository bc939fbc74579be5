//! The analysis thread: reads the source, appends every packet to the
//! spool, runs the engine, and turns its records into compact [`Batch`]es
//! of rows for the UI.
//!
//! Records become rows by one rule, [`rows_of`], shared with the
//! background re-runs (filter, export): the row ids a re-run computes are
//! the ids the index holds.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use qscope_dissectors::{Note, Severity};

use super::index::{sat_latency, sat_u32, Row, RowKind, NAME_OVERFLOW, NONE};
use super::spool;
use crate::capture::{LinkType, Packet, Source, Timestamp};
use crate::engine::{Config, Engine};
use crate::human::escape;
use crate::record::{Flow, Record, SessionEnd, SessionInfo, Sink, Summary};

/// Most session-note rows one session end produces.
pub const MAX_END_NOTE_ROWS: usize = 16;
/// Most entries in the expert list (the rest are counted).
pub const MAX_NOTES: usize = 100_000;
/// Longest note text kept for the expert list.
pub const MAX_NOTE_TEXT: usize = 300;
/// Most distinct message names (the rest show as "…").
pub const MAX_NAMES: usize = NAME_OVERFLOW as usize;
/// Packets between checkpoints.
pub const CHECKPOINT_EVERY: u64 = 4096;

/// Session notes that get a row of their own.
pub fn end_note_rows<'a>(e: &'a SessionEnd<'_>) -> impl Iterator<Item = &'a Note> + 'a {
    let quiet = e.messages == 0;
    e.notes
        .iter()
        .map(|(n, _)| n)
        .filter(move |n| quiet || n.severity >= Severity::Warn)
        .take(MAX_END_NOTE_ROWS)
}

/// How many rows a record becomes.
pub fn rows_of(rec: &Record<'_>) -> u64 {
    match rec {
        Record::Session(_) | Record::Message(_) | Record::Gap(_) => 1,
        Record::Undecoded(r) => u64::from(r.severity >= Severity::Warn),
        Record::SessionEnd(e) => 1 + end_note_rows(e).count() as u64,
        Record::Bytes(_) | Record::Attr(_) => 0,
    }
}

pub fn micros(ts: Timestamp) -> i64 {
    ts.micros_since(&Timestamp::default())
}

/// An entry of the expert list.
#[derive(Debug, Clone)]
pub struct NoteEntry {
    pub row: u32,
    pub session: u32,
    pub severity: Severity,
    /// Escaped, at most [`MAX_NOTE_TEXT`] bytes.
    pub text: Box<str>,
}

/// What a session end adds to its session.
#[derive(Debug, Clone)]
pub struct EndInfo {
    pub session: u32,
    pub end_us: i64,
    /// Escaped values.
    pub attrs: Vec<(&'static str, String)>,
    /// Escaped texts.
    pub notes: Vec<Note>,
}

/// A session attribute set or changed.
#[derive(Debug, Clone)]
pub struct AttrInfo {
    pub session: u32,
    pub key: &'static str,
    /// Escaped.
    pub value: String,
}

/// Reading progress.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    pub packets: u64,
    /// Captured bytes read.
    pub bytes: u64,
    pub spool_bytes: u64,
    /// Packets the (live) source lost.
    pub dropped: Option<u64>,
    pub spool_error: Option<String>,
}

/// How the analysis ended.
#[derive(Debug, Clone)]
pub struct Done {
    /// The summary, without the per-name latency distributions.
    pub summary: Summary,
    pub error: Option<String>,
}

/// New rows and everything else learned since the previous batch.
#[derive(Debug, Default)]
pub struct Batch {
    /// Id of the first row of `rows`.
    pub first_row: u64,
    /// `text` holds the offset of the row's text in `texts`; its end is
    /// `text_ends[i]`.
    pub rows: Vec<Row>,
    pub texts: String,
    pub text_ends: Vec<u32>,
    /// Names new in this batch, in id order (escaped).
    pub names: Vec<Box<str>>,
    /// Sessions announced in this batch, in ordinal order.
    pub sessions: Vec<SessionInfo>,
    /// Attribute changes, in the order they happened.
    pub attrs: Vec<AttrInfo>,
    pub ends: Vec<EndInfo>,
    pub notes: Vec<NoteEntry>,
    /// Notes not kept (expert list full).
    pub notes_dropped: u64,
    /// (highest timestamp before, spool position).
    pub checkpoints: Vec<(i64, u64)>,
    pub progress: Progress,
    pub done: Option<Done>,
}

impl Batch {
    pub fn text(&self, i: usize) -> &str {
        let start = if i == 0 {
            0
        } else {
            self.text_ends[i - 1] as usize
        };
        &self.texts[start..self.text_ends[i] as usize]
    }

    fn push(&mut self, row: Row, text: &str) {
        self.texts.push_str(text);
        self.rows.push(row);
        self.text_ends.push(self.texts.len() as u32);
    }

    fn is_empty(&self) -> bool {
        self.rows.is_empty()
            && self.sessions.is_empty()
            && self.attrs.is_empty()
            && self.ends.is_empty()
            && self.notes.is_empty()
            && self.checkpoints.is_empty()
            && self.done.is_none()
    }
}

/// Turns records into rows (the sink side of the analysis thread).
#[derive(Default)]
pub struct Feeder {
    pub batch: Batch,
    next_row: u64,
    names: HashMap<Box<str>, u16>,
    ids: HashMap<String, u32>,
    next_session: u32,
    notes_kept: usize,
}

impl Feeder {
    fn session(&self, info: &SessionInfo) -> u32 {
        self.ids.get(&info.id).copied().unwrap_or(NONE)
    }

    fn name_id(&mut self, name: &str) -> u16 {
        if let Some(id) = self.names.get(name) {
            return *id;
        }
        if self.names.len() >= MAX_NAMES {
            return NAME_OVERFLOW;
        }
        let id = self.names.len() as u16;
        let esc: Box<str> = escape(name).into();
        self.names.insert(name.into(), id);
        self.batch.names.push(esc);
        id
    }

    fn note(&mut self, row: u64, session: u32, severity: Severity, text: &str) {
        if self.notes_kept >= MAX_NOTES {
            self.batch.notes_dropped += 1;
            return;
        }
        self.notes_kept += 1;
        let esc = escape(text);
        self.batch.notes.push(NoteEntry {
            row: sat_u32(row),
            session,
            severity,
            text: super::index::prefix(&esc, MAX_NOTE_TEXT).into(),
        });
    }

    fn row(&mut self, row: Row, text: &str) -> u64 {
        if self.batch.rows.is_empty() {
            self.batch.first_row = self.next_row;
        }
        let id = self.next_row;
        self.batch.push(row, text);
        self.next_row += 1;
        id
    }

    /// Takes the batch built so far.
    pub fn take(&mut self) -> Batch {
        let b = std::mem::take(&mut self.batch);
        self.batch.first_row = self.next_row;
        b
    }
}

impl Sink for Feeder {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
        let before = self.next_row;
        match rec {
            Record::Bytes(_) => {}
            Record::Attr(a) => {
                let session = self.session(a.session);
                self.batch.attrs.push(AttrInfo {
                    session,
                    key: a.key,
                    value: escape(a.value).into_owned(),
                });
            }
            Record::Session(info) => {
                let ord = self.next_session;
                self.next_session += 1;
                self.ids.insert(info.id.clone(), ord);
                self.batch.sessions.push((*info).clone());
                self.row(Row::new(RowKind::Open, micros(info.start), ord), "");
            }
            Record::Message(m) => {
                let s = self.session(m.session);
                let mut row = Row::new(RowKind::Message, micros(m.ts), s);
                row.index = sat_u32(m.index);
                row.aux = m.reply_to.map(sat_u32).unwrap_or(NONE);
                row.latency = m
                    .latency_us
                    .map(sat_latency)
                    .unwrap_or(super::index::NO_LATENCY);
                row.name = self.name_id(&m.msg.name);
                row.set_msg_kind(m.msg.kind);
                row.set_dir(m.msg.dir);
                row.set_error(m.msg.is_error);
                for n in &m.msg.notes {
                    row.raise_severity(n.severity);
                }
                let summary = escape(&m.msg.summary);
                let id = self.row(row, &summary);
                for n in &m.msg.notes {
                    self.note(id, s, n.severity, &n.text);
                }
            }
            Record::Gap(r) => {
                let s = self.session(r.session);
                let mut row = Row::new(RowKind::Gap, micros(r.ts), s);
                row.aux = sat_u32(r.len);
                row.set_dir(r.dir);
                row.raise_severity(Severity::Warn);
                let id = self.row(row, "");
                self.note(
                    id,
                    s,
                    Severity::Warn,
                    &format!(
                        "{} bytes missing from the capture ({} at offset {})",
                        r.len,
                        r.dir.as_str(),
                        r.offset
                    ),
                );
            }
            Record::Undecoded(r) => {
                if r.severity >= Severity::Warn {
                    let s = self.session(r.session);
                    let mut row = Row::new(RowKind::Undecoded, micros(r.ts), s);
                    row.aux = sat_u32(r.len);
                    row.set_dir(r.dir);
                    row.raise_severity(r.severity);
                    let reason = escape(r.reason.unwrap_or("undecoded"));
                    let id = self.row(row, &reason);
                    self.note(
                        id,
                        s,
                        r.severity,
                        &format!(
                            "{} undecoded bytes ({} at offset {}): {}",
                            r.len,
                            r.dir.as_str(),
                            r.offset,
                            r.reason.unwrap_or("undecoded")
                        ),
                    );
                }
            }
            Record::SessionEnd(e) => {
                let s = self.session(e.session);
                let end_us = micros(e.end);
                let mut first_note_row = None;
                for n in end_note_rows(e) {
                    let mut row = Row::new(RowKind::Note, end_us, s);
                    row.raise_severity(n.severity);
                    let id = self.row(row, &escape(&n.text));
                    first_note_row.get_or_insert(id);
                }
                let end_row = self.row(Row::new(RowKind::End, end_us, s), "");
                let first = first_note_row.unwrap_or(end_row);
                let quiet = e.messages == 0;
                let mut shown = 0u64;
                for (n, _) in e.notes {
                    let row = if (quiet || n.severity >= Severity::Warn)
                        && shown < MAX_END_NOTE_ROWS as u64
                    {
                        shown += 1;
                        first + shown - 1
                    } else {
                        end_row
                    };
                    self.note(row, s, n.severity, &n.text);
                }
                self.batch.ends.push(EndInfo {
                    session: s,
                    end_us,
                    attrs: e
                        .attrs
                        .iter()
                        .map(|(k, v)| (*k, escape(v).into_owned()))
                        .collect(),
                    notes: e
                        .notes
                        .iter()
                        .map(|(n, _)| Note::new(n.severity, escape(&n.text).into_owned()))
                        .collect(),
                });
                self.ids.remove(&e.session.id);
            }
        }
        debug_assert_eq!(self.next_row - before, rows_of(rec));
        Ok(Flow::Continue)
    }

    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        Ok(())
    }
}

/// The running analysis, seen from the UI.
pub struct FeedHandle {
    pub rx: Receiver<Batch>,
    /// `None` when no spool could be created (then decoding on demand,
    /// filtering and exporting are unavailable).
    pub spool: Option<Arc<spool::Shared>>,
    /// Raise to stop reading.
    pub stop: Arc<AtomicBool>,
}

/// A packet copied out of the source (live mode reads on its own thread).
struct Owned {
    num: u64,
    ts: Timestamp,
    link: LinkType,
    data: Vec<u8>,
    orig_len: u32,
}

enum Next {
    Packet(Owned),
    Dropped(Option<u64>),
    End(Option<String>),
}

/// Starts the analysis thread. `live`: read the source on a thread of its
/// own so that rows are shown even while no packet arrives.
pub fn spawn(source: Box<dyn Source + Send>, mut cfg: Config, live: bool) -> FeedHandle {
    let stop = cfg
        .stop
        .get_or_insert_with(|| Arc::new(AtomicBool::new(false)))
        .clone();
    let (tx, rx) = mpsc::sync_channel::<Batch>(32);
    let (spool_w, spool_r, spool_err) = match spool::create() {
        Ok((w, r)) => (Some(w), Some(r), None),
        Err(e) => (
            None,
            None,
            Some(format!("no spool ({e}): details unavailable")),
        ),
    };
    let stop2 = stop.clone();
    std::thread::Builder::new()
        .name("qscope-analysis".into())
        .spawn(move || analysis(source, cfg, live, spool_w, spool_err, tx, stop2))
        .expect("spawn the analysis thread");
    FeedHandle {
        rx,
        spool: spool_r,
        stop,
    }
}

struct Loop {
    tx: SyncSender<Batch>,
    spool: Option<spool::Writer>,
    spool_err: Option<String>,
    progress: Progress,
    last_send: Instant,
    sent_any: bool,
    max_ts: i64,
    /// The UI went away.
    gone: bool,
}

impl Loop {
    fn due(&self, rows: usize) -> bool {
        let t = self.last_send.elapsed();
        if self.sent_any {
            rows >= 32_768 || t >= Duration::from_millis(60)
        } else {
            rows >= 64 || t >= Duration::from_millis(15)
        }
    }

    fn send(&mut self, feeder: &mut Feeder, done: Option<Done>) {
        if let Some(w) = &mut self.spool {
            if done.is_some() {
                w.finish();
            } else {
                w.flush();
            }
            self.progress.spool_bytes = w.position();
            if let Some(e) = &w.error {
                self.progress.spool_error = Some(e.clone());
            }
        }
        if self.progress.spool_error.is_none() {
            self.progress.spool_error = self.spool_err.clone();
        }
        let mut b = feeder.take();
        b.progress = self.progress.clone();
        b.done = done;
        if !b.is_empty() || b.progress.packets > 0 {
            self.gone |= self.tx.send(b).is_err();
        }
        self.last_send = Instant::now();
        self.sent_any = true;
    }

    fn packet(&mut self, engine: &mut Engine<Feeder>, p: &Packet<'_>) {
        if let Some(w) = &mut self.spool {
            if self.progress.packets.is_multiple_of(CHECKPOINT_EVERY) {
                let pos = w.position();
                engine.sink().batch.checkpoints.push((self.max_ts, pos));
            }
            w.packet(p);
        }
        self.max_ts = self.max_ts.max(micros(p.ts));
        self.progress.packets += 1;
        self.progress.bytes += p.data.len() as u64;
        engine.packet(p);
    }
}

fn analysis(
    mut source: Box<dyn Source + Send>,
    cfg: Config,
    live: bool,
    spool: Option<spool::Writer>,
    spool_err: Option<String>,
    tx: SyncSender<Batch>,
    stop: Arc<AtomicBool>,
) {
    let mut engine = Engine::new(cfg, Feeder::default());
    let mut lp = Loop {
        tx,
        spool,
        spool_err,
        progress: Progress::default(),
        last_send: Instant::now(),
        sent_any: false,
        max_ts: i64::MIN,
        gone: false,
    };
    let mut fault = None;
    if live {
        let (ptx, prx) = mpsc::sync_channel::<Next>(8192);
        let stop_r = stop.clone();
        let reader = std::thread::Builder::new()
            .name("qscope-capture".into())
            .spawn(move || {
                let mut n = 0u64;
                loop {
                    if stop_r.load(Ordering::Relaxed) {
                        let _ = ptx.send(Next::End(None));
                        return;
                    }
                    let msg = match source.next_packet() {
                        Ok(Some(p)) => Next::Packet(Owned {
                            num: p.num,
                            ts: p.ts,
                            link: p.link,
                            data: p.data.to_vec(),
                            orig_len: p.orig_len,
                        }),
                        Ok(None) => Next::End(None),
                        Err(e) => Next::End(Some(e.to_string())),
                    };
                    let end = matches!(msg, Next::End(_));
                    if end {
                        let _ = ptx.send(Next::Dropped(source.dropped()));
                    }
                    if ptx.send(msg).is_err() || end {
                        return;
                    }
                    n += 1;
                    if n.is_multiple_of(256) && ptx.send(Next::Dropped(source.dropped())).is_err() {
                        return;
                    }
                }
            });
        if reader.is_err() {
            fault = Some("cannot start the capture thread".to_string());
        } else {
            loop {
                if stop.load(Ordering::Relaxed) || lp.gone {
                    break;
                }
                match prx.recv_timeout(Duration::from_millis(50)) {
                    Ok(Next::Packet(o)) => {
                        let p = Packet {
                            num: o.num,
                            ts: o.ts,
                            link: o.link,
                            data: &o.data,
                            orig_len: o.orig_len,
                        };
                        lp.packet(&mut engine, &p);
                    }
                    Ok(Next::Dropped(d)) => lp.progress.dropped = d,
                    Ok(Next::End(e)) => {
                        fault = e;
                        break;
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
                if lp.due(engine.sink().batch.rows.len()) {
                    engine.flush();
                    lp.send(engine.sink(), None);
                }
            }
        }
    } else {
        let mut n = 0u64;
        loop {
            if stop.load(Ordering::Relaxed) || lp.gone {
                break;
            }
            match source.next_packet() {
                Ok(Some(p)) => lp.packet(&mut engine, &p),
                Ok(None) => break,
                Err(e) => {
                    fault = Some(e.to_string());
                    break;
                }
            }
            n += 1;
            if n.is_multiple_of(32) && lp.due(engine.sink().batch.rows.len()) {
                // Rows come out of the engine when it analyses: now.
                engine.flush();
                lp.send(engine.sink(), None);
            }
        }
        lp.progress.dropped = source.dropped();
    }
    let (result, mut feeder) = engine.finish(fault.clone(), lp.progress.dropped);
    let mut summary = match result {
        Ok(s) => s,
        Err(e) => Summary {
            error: Some(e.to_string()),
            ..Summary::default()
        },
    };
    for p in summary.protos.values_mut() {
        for n in p.by_name.values_mut() {
            n.latency = Default::default();
        }
        p.folded.latency = Default::default();
    }
    if summary.dropped.is_none() {
        summary.dropped = lp.progress.dropped;
    }
    let error = fault.or_else(|| summary.error.clone());
    lp.send(&mut feeder, Some(Done { summary, error }));
}
