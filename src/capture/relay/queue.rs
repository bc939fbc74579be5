//! The decoding queue between the pumps and the analysis: bounded, never
//! waited on by a pump (see the module documentation of the relay).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use qscope_dissectors::Dir;

use crate::capture::source::Timestamp;

use super::config::ITEM_COST;
use super::net::Stream;

/// What the relay tells the analysis.
pub(super) enum Ev {
    /// Client `id` connected (at `accepted`) and was connected to the
    /// target (at `ts`).
    Open {
        id: u64,
        accepted: Timestamp,
        ts: Timestamp,
    },
    /// Client `id` connected, and the target could not be reached.
    Refused {
        id: u64,
        accepted: Timestamp,
        ts: Timestamp,
    },
    /// Bytes read in `dir`, at stream offset `offset`.
    Data {
        id: u64,
        dir: Dir,
        offset: u64,
        bytes: Vec<u8>,
        ts: Timestamp,
    },
    /// The sender in `dir` closed (`reset`: reset or went away) after
    /// `offset` bytes.
    End {
        id: u64,
        dir: Dir,
        offset: u64,
        reset: bool,
        ts: Timestamp,
    },
}

impl Ev {
    pub(super) fn cost(&self) -> usize {
        match self {
            Ev::Data { bytes, .. } => bytes.len() + ITEM_COST,
            _ => ITEM_COST,
        }
    }
}

pub(super) struct Inner {
    pub(super) queue: VecDeque<Ev>,
    /// Cost of what is queued.
    pub(super) queued: usize,
    /// Sockets of each relayed client (client, target), to shut them down
    /// on stop.
    pub(super) socks: HashMap<u64, [Stream; 2]>,
    /// Pumps still running (each queues an `End` before it exits).
    pub(super) pumps: usize,
    /// Stopping: every socket was shut down; no new client is relayed.
    pub(super) closing: bool,
    /// Last timestamp handed out (timestamps never go back in the queue).
    pub(super) last_ts: Timestamp,
}

pub(super) struct Shared {
    pub(super) inner: Mutex<Inner>,
    pub(super) ready: Condvar,
    pub(super) cap: usize,
    /// Raised to stop: by signals, `--duration`, [`Relay::stop`].
    pub(super) shutdown: Arc<AtomicBool>,
    /// Raised to stop accepting clients ([`Relay::drain`]).
    pub(super) no_accept: AtomicBool,
    /// Raised when nobody reads the queue any more.
    pub(super) decoding_off: AtomicBool,
    /// Connection threads alive (connecting or relaying).
    pub(super) clients_open: AtomicUsize,
    pub(super) clients: AtomicU64,
    pub(super) refused: AtomicU64,
    pub(super) bytes: [AtomicU64; 2],
    pub(super) dropped_chunks: AtomicU64,
    pub(super) dropped_bytes: AtomicU64,
    pub(super) warned: AtomicBool,
    /// Messages on standard error.
    pub(super) log: AtomicBool,
}

pub(super) fn now() -> SystemTime {
    SystemTime::now()
}

pub(super) fn stamp(t: SystemTime) -> Timestamp {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    Timestamp {
        secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: d.subsec_micros() * 1000,
        nano: false,
    }
}

impl Shared {
    /// An empty queue bounded by `queue_bytes` (at least four items).
    pub(super) fn new(queue_bytes: usize, log: bool) -> Shared {
        Shared {
            inner: Mutex::new(Inner {
                queue: VecDeque::new(),
                queued: 0,
                socks: HashMap::new(),
                pumps: 0,
                closing: false,
                last_ts: Timestamp::default(),
            }),
            ready: Condvar::new(),
            cap: queue_bytes.max(ITEM_COST * 4),
            shutdown: Arc::new(AtomicBool::new(false)),
            no_accept: AtomicBool::new(false),
            decoding_off: AtomicBool::new(false),
            clients_open: AtomicUsize::new(0),
            clients: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            bytes: [AtomicU64::new(0), AtomicU64::new(0)],
            dropped_chunks: AtomicU64::new(0),
            dropped_bytes: AtomicU64::new(0),
            warned: AtomicBool::new(false),
            log: AtomicBool::new(log),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A timestamp for an event being queued now: never before the last.
    pub(super) fn next_ts(g: &mut Inner, t: SystemTime) -> Timestamp {
        let ts = stamp(t).max(g.last_ts);
        g.last_ts = ts;
        ts
    }

    pub(super) fn log(&self, msg: impl fmt::Display) {
        if self.log.load(Ordering::Relaxed) {
            eprintln!("qscope: relay: {msg}");
        }
    }

    /// Queues an event regardless of the bound (opening and closing). The
    /// caller wakes the analysis once the lock is released.
    pub(super) fn push_always(g: &mut Inner, ev: Ev) {
        g.queued += ev.cost();
        g.queue.push_back(ev);
    }

    /// Registers a connected client for relaying and tells the analysis.
    /// `None` when stopping (the client is not relayed); else whether the
    /// connection is decoded (its opening fitted in the queue).
    pub(super) fn register(
        &self,
        id: u64,
        socks: [Stream; 2],
        accepted: SystemTime,
    ) -> Option<bool> {
        let mut g = self.lock();
        if g.closing {
            return None;
        }
        g.socks.insert(id, socks);
        g.pumps += 2;
        let tracked = !self.decoding_off.load(Ordering::Relaxed) && g.queued < self.cap;
        if tracked {
            let accepted = Self::next_ts(&mut g, accepted);
            let ts = Self::next_ts(&mut g, now());
            Self::push_always(&mut g, Ev::Open { id, accepted, ts });
        }
        drop(g);
        self.ready.notify_one();
        Some(tracked)
    }

    pub(super) fn refused(&self, id: u64, accepted: SystemTime) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        let mut g = self.lock();
        if g.closing || self.decoding_off.load(Ordering::Relaxed) || g.queued >= self.cap {
            return;
        }
        let accepted = Self::next_ts(&mut g, accepted);
        let ts = Self::next_ts(&mut g, now());
        Self::push_always(&mut g, Ev::Refused { id, accepted, ts });
        drop(g);
        self.ready.notify_one();
    }

    /// Offers a copy of relayed bytes to the analysis; never waits. True
    /// when queued: the caller wakes the analysis ([`Shared::wake`]) after
    /// it has passed the bytes on, so the wake-up costs the relay nothing.
    pub(super) fn data(&self, id: u64, dir: Dir, offset: u64, bytes: &[u8]) -> bool {
        if self.decoding_off.load(Ordering::Relaxed) {
            return false;
        }
        let copy = bytes.to_vec();
        let mut g = self.lock();
        if g.queued + copy.len() + ITEM_COST > self.cap {
            drop(g);
            self.dropped(bytes.len());
            return false;
        }
        let ts = Self::next_ts(&mut g, now());
        Self::push_always(
            &mut g,
            Ev::Data {
                id,
                dir,
                offset,
                bytes: copy,
                ts,
            },
        );
        true
    }

    pub(super) fn wake(&self) {
        self.ready.notify_one();
    }

    /// Relayed bytes left out of the analysis while it runs.
    pub(super) fn dropped(&self, bytes: usize) {
        if self.decoding_off.load(Ordering::Relaxed) {
            return;
        }
        self.dropped_chunks.fetch_add(1, Ordering::Relaxed);
        self.dropped_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
        if !self.warned.swap(true, Ordering::Relaxed) {
            self.log(
                "warning: decoding fell behind; relayed bytes are left undecoded \
                 (a gap in the session), the relay itself goes on",
            );
        }
    }

    /// A pump's last act: the end of its direction, and one pump fewer.
    pub(super) fn end(&self, id: u64, tracked: bool, dir: Dir, offset: u64, reset: bool) {
        let mut g = self.lock();
        if tracked && !self.decoding_off.load(Ordering::Relaxed) {
            let ts = Self::next_ts(&mut g, now());
            Self::push_always(
                &mut g,
                Ev::End {
                    id,
                    dir,
                    offset,
                    reset,
                    ts,
                },
            );
        }
        g.pumps -= 1;
        drop(g);
        self.ready.notify_all();
    }

    pub(super) fn unregister(&self, id: u64) {
        self.lock().socks.remove(&id);
    }

    /// Shuts every relayed socket down and relays no new client.
    pub(super) fn close_all(&self) {
        self.shutdown.store(true, Ordering::Relaxed);
        let mut g = self.lock();
        if g.closing {
            return;
        }
        g.closing = true;
        for socks in g.socks.values() {
            for s in socks {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
        drop(g);
        self.ready.notify_all();
    }
}
