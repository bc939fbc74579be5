//! The threaded engines: `jobs` shards on their own threads, the merger on
//! the caller's. A capture file is read by every shard itself
//! ([`run_parallel`]); any other source by one reader thread that
//! dispatches ([`run_threaded`]). See the module above for the stages.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;

use super::batch::Batch;
use super::budget::{self, Decision, Verdict, Verdicts};
use super::dispatch::{Counters, Dispatcher, Epoch};
use super::item::{ShardOut, Tagged};
use super::merge::Merger;
use super::shard::{Settings, Shard};
use super::{Config, Decide, Pace, Stepper, LIVE_WAIT};
use crate::capture::{CaptureError, Next, Source, Timestamp};
use crate::reassembly;
use crate::record::{Sink, Summary};

/// What a shard thread is given.
enum ShardIn {
    Epoch(Arc<Epoch>, Timestamp),
    Finish { last_ts: Timestamp, last_frame: u64 },
}

/// What a shard thread gives back.
enum ShardMsg {
    Epoch(ShardOut),
    Final(ShardOut, reassembly::Stats),
}

/// What the reader tells the merger.
enum Meta {
    Epoch(Counters),
    End {
        fault: Option<CaptureError>,
        dropped: Option<u64>,
    },
}

/// Epochs in flight per channel.
const DEPTH: usize = 3;

/// The shards' side of a threaded run, seen from the merger: epoch by
/// epoch, the reader's counters and every shard's output (in shard order);
/// the budget's verdicts go back to the shards.
struct Lanes {
    meta: Receiver<Meta>,
    outs: Vec<Receiver<ShardMsg>>,
    verdicts: Vec<Sender<Verdict>>,
    /// Each shard's items, merged, go back to it to be dropped there (see
    /// [`Merger::take_spent`]).
    spent: Vec<Sender<Vec<Tagged>>>,
}

/// A shard's ends of its lanes.
struct Ends {
    out: SyncSender<ShardMsg>,
    verdicts: Receiver<Verdict>,
    spent: Receiver<Vec<Tagged>>,
}

impl Ends {
    /// Drops the item lists the merger has sent back.
    fn drop_spent(&self) {
        self.spent.try_iter().for_each(drop);
    }
}

impl Lanes {
    /// A channel pair per shard; the shards' ends are returned with it.
    fn new(n: usize) -> (Lanes, SyncSender<Meta>, Vec<Ends>) {
        let (meta_tx, meta) = mpsc::sync_channel::<Meta>(DEPTH + 1);
        let mut outs = Vec::with_capacity(n);
        let mut verdicts = Vec::with_capacity(n);
        let mut spent = Vec::with_capacity(n);
        let mut ends = Vec::with_capacity(n);
        for _ in 0..n {
            let (out_tx, out_rx) = mpsc::sync_channel::<ShardMsg>(DEPTH);
            let (verdict_tx, verdict_rx) = mpsc::channel::<Verdict>();
            let (spent_tx, spent_rx) = mpsc::channel::<Vec<Tagged>>();
            outs.push(out_rx);
            verdicts.push(verdict_tx);
            spent.push(spent_tx);
            ends.push(Ends {
                out: out_tx,
                verdicts: verdict_rx,
                spent: spent_rx,
            });
        }
        let lanes = Lanes {
            meta,
            outs,
            verdicts,
            spent,
        };
        (lanes, meta_tx, ends)
    }

    /// Merges until the reader's end (or the sink's stop, which raises
    /// `halt`); returns the summary and the reader's fault.
    fn merge(
        self,
        mut merger: Merger,
        sink: &mut dyn Sink,
        halt: &AtomicBool,
    ) -> (io::Result<Summary>, Option<CaptureError>) {
        let n = self.outs.len();
        let mut fault = None;
        let mut dropped = None;
        let mut stats = vec![reassembly::Stats::default(); n];
        while let Ok(meta) = self.meta.recv() {
            match meta {
                Meta::Epoch(counters) => {
                    let mut got = Vec::with_capacity(n);
                    for (i, rx) in self.outs.iter().enumerate() {
                        if let Ok(ShardMsg::Epoch(o)) = rx.recv() {
                            if let Some(s) = stats.get_mut(i) {
                                s.clone_from(&o.tcp);
                            }
                            got.push(o);
                        }
                    }
                    let v = merger.epoch(sink, &counters, got);
                    if merger.done() {
                        // Stop: nothing more is merged; the threads end as
                        // their channels close.
                        halt.store(true, Ordering::Relaxed);
                        let error = fault.as_ref().map(ToString::to_string);
                        drop(self);
                        let last = stats
                            .into_iter()
                            .map(|s| (ShardOut::default(), s))
                            .collect();
                        return (merger.finish(sink, last, error, dropped), fault);
                    }
                    for tx in &self.verdicts {
                        let _ = tx.send(v);
                    }
                    for (tx, list) in self.spent.iter().zip(merger.take_spent()) {
                        if !list.is_empty() {
                            let _ = tx.send(list);
                        }
                    }
                }
                Meta::End {
                    fault: f,
                    dropped: d,
                } => {
                    fault = f;
                    dropped = d;
                    break;
                }
            }
        }
        let error = fault.as_ref().map(ToString::to_string);
        let mut last = Vec::with_capacity(n);
        for rx in &self.outs {
            if let Ok(ShardMsg::Final(o, s)) = rx.recv() {
                last.push((o, s));
            }
        }
        (merger.finish(sink, last, error, dropped), fault)
    }
}

/// `n` jobs: a reader thread, `n` shard threads, the merger on this thread.
pub(super) fn run_threaded(
    source: &mut (dyn Source + Send),
    cfg: &Config,
    sink: &mut dyn Sink,
    n: usize,
) -> (io::Result<Summary>, Option<CaptureError>) {
    let halt = AtomicBool::new(false);
    let merger = Merger::new(cfg.memory_limit).sending_back();
    std::thread::scope(|sc| {
        let (lanes, meta_tx, ends) = Lanes::new(n);
        let mut ins: Vec<SyncSender<ShardIn>> = Vec::with_capacity(n);
        let mut threads = Vec::with_capacity(n + 1);
        for (i, end) in ends.into_iter().enumerate() {
            let (in_tx, in_rx) = mpsc::sync_channel::<ShardIn>(DEPTH);
            ins.push(in_tx);
            let set = cfg.settings();
            threads.push(sc.spawn(move || shard_thread(i, set, &in_rx, &end)));
        }
        let halt = &halt;
        threads.push(sc.spawn(move || reader_thread(source, cfg, n, &ins, &meta_tx, halt)));
        let result = lanes.merge(merger, sink, halt);
        join_all(threads);
        result
    })
}

/// Joins each thread to its very end (past its thread-locals'
/// destructors, which the scope's own wait does not cover): nothing of
/// the run is still alive when it returns. Their results, in order; a
/// thread's panic goes on here.
fn join_all<T>(threads: Vec<std::thread::ScopedJoinHandle<'_, T>>) -> Vec<T> {
    threads
        .into_iter()
        .map(|t| {
            t.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
        .collect()
}

/// `n` jobs on a file that can be read `n` times: `n` workers, each
/// parsing the whole file itself and analysing only the connections of
/// its shard (no reader thread, no packet copied between threads; a pcap
/// file's blocks are read from the kernel once, by whichever worker
/// needs one first, and shared: see `capture::blocks`),
/// the merger on this thread. Worker 0 reports the counters, the fault
/// and the progress; every worker cuts the same epochs from the same
/// packets, so the output is the same as with one job.
pub(super) fn run_parallel(
    source: &mut (dyn Source + Send),
    others: Vec<Box<dyn Source + Send>>,
    cfg: &Config,
    sink: &mut dyn Sink,
) -> (io::Result<Summary>, Option<CaptureError>) {
    let n = others.len() + 1;
    let halt = AtomicBool::new(false);
    // Ctrl-C: every worker stops after the same epoch (see `Worker::run`).
    let stop_after = AtomicU64::new(u64::MAX);
    let merger = Merger::new(cfg.memory_limit).sending_back();
    std::thread::scope(|sc| {
        let (lanes, meta_tx, ends) = Lanes::new(n);
        let (halt, stop_after) = (&halt, &stop_after);
        let mut ends = ends.into_iter();
        let mut workers = Vec::with_capacity(n);
        let Some(end0) = ends.next() else {
            return lanes.merge(merger, sink, halt);
        };
        for (i, (mut src, end)) in others.into_iter().zip(ends).enumerate() {
            workers.push(sc.spawn(move || {
                let _batch = Batch::begin();
                let w = Worker::new(cfg, i + 1, n, halt, stop_after);
                w.run(&mut *src, &end, None)
            }));
        }
        workers.push(sc.spawn(move || {
            let _batch = Batch::begin();
            let w = Worker::new(cfg, 0, n, halt, stop_after);
            w.run(source, &end0, Some(&meta_tx))
        }));
        let batch = Batch::begin();
        let (summary, fault) = lanes.merge(merger, sink, halt);
        drop(batch);
        // The same bytes give the same faults; should another reader
        // have failed where the first did not, say so. (Worker 0 reports
        // its fault to the merger and returns none.)
        let other = join_all(workers).into_iter().flatten().next();
        (summary, fault.or(other))
    })
}

/// One of [`run_parallel`]'s workers: reader and shard in one.
struct Worker<'a> {
    cfg: &'a Config,
    step: Stepper,
    halt: &'a AtomicBool,
    stop_after: &'a AtomicU64,
}

impl<'a> Worker<'a> {
    /// Worker `i` of `n`.
    fn new(
        cfg: &'a Config,
        i: usize,
        n: usize,
        halt: &'a AtomicBool,
        stop_after: &'a AtomicU64,
    ) -> Worker<'a> {
        Worker {
            cfg,
            step: Stepper::new(cfg, (i, n)),
            halt,
            stop_after,
        }
    }

    /// Reads the whole source; `meta`: this is worker 0, which reports
    /// the counters and the end. Returns the source's fault (for the
    /// other workers; worker 0 reports it to the merger).
    fn run(
        mut self,
        source: &mut (dyn Source + Send),
        end: &Ends,
        meta: Option<&SyncSender<Meta>>,
    ) -> Option<CaptureError> {
        let out = &end.out;
        let mut known = Verdicts::default();
        let mut decide = |number: u64| verdict_at(&mut known, &end.verdicts, number);
        let mut fault = None;
        loop {
            if self.halt.load(Ordering::Relaxed) {
                return None;
            }
            if meta.is_some() && self.cfg.stopped() {
                // The others may be ahead of worker 0, but by fewer than
                // LAG + PROMISE + 1 epochs (each needs the merger's verdict
                // on epoch e - LAG, or a promise covering it, which was
                // given at most PROMISE epochs earlier; either needs
                // worker 0's epoch): all can still stop after the same
                // epoch.
                let (number, _, _) = self.step.disp.current();
                let _ = self.stop_after.compare_exchange(
                    u64::MAX,
                    number + budget::LAG + budget::PROMISE + 1,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            match source.next_packet() {
                Ok(Some(p)) => match self.step.packet(&p, &mut decide) {
                    None => return None,
                    Some(false) => {}
                    Some(true) => {
                        let number = self.step.disp.current().0;
                        end.drop_spent();
                        if !self.close(&mut decide, out, meta) {
                            return None;
                        }
                        if number >= self.stop_after.load(Ordering::Relaxed) {
                            break;
                        }
                    }
                },
                Ok(None) => break,
                Err(e) => {
                    fault = Some(e);
                    break;
                }
            }
        }
        if !self.close(&mut decide, out, meta) {
            return None;
        }
        let (o, stats) = self.step.finish();
        if out.send(ShardMsg::Final(o, stats)).is_err() {
            return None;
        }
        match meta {
            Some(m) => {
                let _ = m.send(Meta::End {
                    fault,
                    dropped: source.dropped(),
                });
                None
            }
            None => fault,
        }
    }

    /// Ends the current epoch (even one without packets) and hands its
    /// output on (worker 0: its counters too). False: the merger is gone.
    fn close(
        &mut self,
        decide: &mut Decide<'_>,
        out: &SyncSender<ShardMsg>,
        meta: Option<&SyncSender<Meta>>,
    ) -> bool {
        let Some((mut e, o)) = self.step.close(None, decide) else {
            return false;
        };
        if out.send(ShardMsg::Epoch(o)).is_err() {
            return false;
        }
        meta.is_none_or(|m| m.send(Meta::Epoch(std::mem::take(&mut e.counters))).is_ok())
    }
}

fn reader_thread(
    source: &mut (dyn Source + Send),
    cfg: &Config,
    n: usize,
    ins: &[SyncSender<ShardIn>],
    meta: &SyncSender<Meta>,
    halt: &AtomicBool,
) {
    let mut disp = Dispatcher::new(n);
    let mut pace = Pace::new(source.live());
    let mut fault = None;
    let send = |e: Epoch, t0: Timestamp| -> bool {
        let counters = e.counters.clone();
        let e = Arc::new(e);
        for tx in ins {
            if tx.send(ShardIn::Epoch(e.clone(), t0)).is_err() {
                return false;
            }
        }
        meta.send(Meta::Epoch(counters)).is_ok()
    };
    let mut go_on = true;
    while go_on && !cfg.stopped() && !halt.load(Ordering::Relaxed) {
        let epoch = match source.next_or_idle(LIVE_WAIT) {
            Ok(Next::Packet(p)) => {
                if disp.pending() == 0 {
                    pace.started();
                }
                match disp.packet(&p) {
                    Some(e) => Some(e),
                    None if pace.due() => Some(disp.take(None)),
                    None => None,
                }
            }
            Ok(Next::Idle) => pace
                .idle(disp.pending() > 0)
                .map(|expire| disp.take(expire)),
            Ok(Next::End) => break,
            Err(e) => {
                fault = Some(e);
                break;
            }
        };
        if let Some(e) = epoch {
            let t0 = cfg.t0.or(disp.t0).unwrap_or_default();
            go_on = send(e, t0);
        }
    }
    if !go_on || halt.load(Ordering::Relaxed) {
        return;
    }
    let t0 = cfg.t0.or(disp.t0).unwrap_or_default();
    if !send(disp.take(None), t0) {
        return;
    }
    for tx in ins {
        let _ = tx.send(ShardIn::Finish {
            last_ts: disp.last_ts,
            last_frame: disp.last_frame,
        });
    }
    let _ = meta.send(Meta::End {
        fault,
        dropped: source.dropped(),
    });
}

/// What applies at the start of epoch `n`: the decision taken after epoch
/// `n - LAG`, known from the verdicts received so far (all that arrived
/// are taken, so the channel stays short) or, while it is not, from the
/// next ones, waited for. `None`: the merger is gone.
fn verdict_at(known: &mut Verdicts, rx: &Receiver<Verdict>, n: u64) -> Option<Option<Decision>> {
    while let Ok(v) = rx.try_recv() {
        known.push(v);
    }
    loop {
        if let Some(d) = known.at(n) {
            return Some(d);
        }
        known.push(rx.recv().ok()?);
    }
}

fn shard_thread(i: usize, set: Settings, rx: &Receiver<ShardIn>, end: &Ends) {
    let (tx, verdicts) = (&end.out, &end.verdicts);
    let mut shard = Shard::new(set);
    let mut known = Verdicts::default();
    while let Ok(msg) = rx.recv() {
        match msg {
            ShardIn::Epoch(e, t0) => {
                let Some(cut) = verdict_at(&mut known, verdicts, e.number) else {
                    return;
                };
                end.drop_spent();
                let out = shard.epoch(&e, i, t0, cut.as_ref());
                if tx.send(ShardMsg::Epoch(out)).is_err() {
                    return;
                }
            }
            ShardIn::Finish {
                last_ts,
                last_frame,
            } => {
                let (out, stats) = shard.finish(last_ts, last_frame);
                let _ = tx.send(ShardMsg::Final(out, stats));
                return;
            }
        }
    }
}
