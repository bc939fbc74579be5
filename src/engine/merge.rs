//! The last stage of the engine: the shards' items of each epoch merged in
//! tag order into records, for the statistics collector and the sink.
//!
//! The merger gives sessions their ids ("s1", "s2", ... in the order they
//! are announced), lends each item to the sink as a [`Record`], adds up the
//! shards' budget reports and takes the budget's decisions (it is the
//! coordinator; see `budget`).

use std::io;

use super::budget::{Coordinator, Report, Verdict};
use super::dispatch::Counters;
use super::item::{Item, ShardOut, Tagged};
use crate::reassembly;
use crate::record::{
    AttrRecord, BytesRecord, Flow, MemoryStats, MessageRecord, RangeRecord, Record, SessionEnd,
    SessionInfo, Sink, Summary,
};
use crate::stats::Collector;
use crate::FastMap;

/// Pushes records into the collector and the sink, and remembers how the
/// sink answered.
struct Emitter {
    collector: Collector,
    /// The first write error; nothing more is written after it.
    error: Option<io::Error>,
    /// The sink asked to stop.
    stopped: bool,
}

impl Emitter {
    fn emit(&mut self, sink: &mut dyn Sink, rec: &Record<'_>) {
        if self.error.is_some() {
            return;
        }
        // The collector only counts; it cannot fail.
        let _ = self.collector.record(rec);
        match sink.record(rec) {
            Ok(Flow::Continue) => {}
            Ok(Flow::Stop) => self.stopped = true,
            Err(e) => self.error = Some(e),
        }
    }
}

/// Merges epochs into records.
pub(crate) struct Merger {
    em: Emitter,
    /// Announced sessions by holder, until they end.
    sessions: FastMap<u64, SessionInfo>,
    announced: u64,
    counters: Counters,
    memory: MemoryStats,
    coord: Coordinator,
    /// Small item lists are kept, once merged, for the threads that made
    /// them to drop ([`Merger::sending_back`]).
    send_back: bool,
    /// The last merge's lists kept so, in shard order (empty: dropped).
    spent: Vec<Vec<Tagged>>,
}

/// A shard's merged items go back to it to be dropped (freeing memory on
/// the thread that allocated it costs less: `stats -j 2` on the 1 GiB
/// mixed capture took 3 % less CPU) when they are at most this many. The
/// items of larger lists are dropped by the merger as it emits them: a
/// list sent back waits whole for its shard's next epoch, and an epoch of
/// many tiny messages makes items of some 20 times its bytes
/// (`benches/bigmix` case d peaked 80 MB higher with every list sent
/// back).
const SEND_BACK_ITEMS: usize = 1024;

impl Merger {
    pub fn new(memory_limit: u64) -> Merger {
        Merger {
            em: Emitter {
                collector: Collector::default(),
                error: None,
                stopped: false,
            },
            sessions: FastMap::default(),
            announced: 0,
            counters: Counters::default(),
            memory: MemoryStats {
                limit: memory_limit,
                ..MemoryStats::default()
            },
            coord: Coordinator::new(memory_limit),
            send_back: false,
            spent: Vec::new(),
        }
    }

    /// For the threaded engines: freeing memory on another thread than
    /// the one that allocated it costs more (the allocator hands it back
    /// to its owner), so the lists of up to [`SEND_BACK_ITEMS`] items are
    /// kept once merged, for [`Merger::take_spent`].
    pub fn sending_back(mut self) -> Merger {
        self.send_back = true;
        self
    }

    /// The item lists of the last epoch merged, in shard order, for each
    /// shard to drop (empty where the merger dropped the items itself).
    pub fn take_spent(&mut self) -> Vec<Vec<Tagged>> {
        std::mem::take(&mut self.spent)
    }

    /// Writing failed or the sink asked to stop: read no more packets.
    pub fn done(&self) -> bool {
        self.em.error.is_some() || self.em.stopped
    }

    /// Merges one epoch's outputs (one per shard, in shard order) and
    /// returns the budget's verdict (its decision applies `budget::LAG`
    /// epochs later).
    pub fn epoch(
        &mut self,
        sink: &mut dyn Sink,
        counters: &Counters,
        outs: Vec<ShardOut>,
    ) -> Verdict {
        self.counters.add(counters);
        let mut report = Report::new();
        let mut lists = Vec::with_capacity(outs.len());
        let mut items = 0;
        for o in outs {
            items += o.items.len() as u64;
            report.add(&o.report);
            self.memory.dropped.add(&o.dropped);
            lists.push(o.items);
        }
        self.spent = self.merge(sink, lists);
        let v = self.coord.decide(&report, items);
        self.memory.peak = self.coord.peak;
        if v.decision.is_some() {
            self.memory.dropped.cuts += 1;
        }
        v
    }

    /// The end: merges the shards' last items and writes the summary.
    pub fn finish(
        mut self,
        sink: &mut dyn Sink,
        outs: Vec<(ShardOut, reassembly::Stats)>,
        error: Option<String>,
        dropped: Option<u64>,
    ) -> io::Result<Summary> {
        let mut tcp = reassembly::Stats::default();
        let mut lists = Vec::with_capacity(outs.len());
        for (o, t) in outs {
            self.memory.dropped.add(&o.dropped);
            tcp.add(&t);
            lists.push(o.items);
        }
        self.merge(sink, lists);
        let mut summary = std::mem::take(&mut self.em.collector.summary);
        let c = &self.counters;
        summary.packets = c.packets;
        summary.tcp_segments = c.tcp_segments;
        summary.non_tcp_packets = c.non_tcp_packets;
        summary.ip_fragments = c.ip_fragments;
        summary.malformed_packets = c.malformed_packets;
        summary.cut_packets = c.cut_packets;
        summary.malformed_examples = c.malformed_examples.clone();
        summary.tcp = tcp;
        summary.error = error;
        summary.dropped = dropped;
        summary.memory = self.memory.clone();
        if let Some(e) = self.em.error.take() {
            return Err(e);
        }
        sink.finish(&summary)?;
        Ok(summary)
    }

    /// Interleaves the shards' items by tag (each list is in tag order);
    /// returns the lists kept for their shards to drop (the others empty:
    /// their items are dropped as they are emitted).
    fn merge(&mut self, sink: &mut dyn Sink, mut lists: Vec<Vec<Tagged>>) -> Vec<Vec<Tagged>> {
        let keep: Vec<bool> = lists
            .iter()
            .map(|l| self.send_back && l.len() <= SEND_BACK_ITEMS)
            .collect();
        if let ([list], [keep]) = (lists.as_mut_slice(), keep.as_slice()) {
            for t in list.iter_mut() {
                self.pass(sink, t, *keep);
            }
        } else {
            let mut next = vec![0usize; lists.len()];
            loop {
                // The list whose next item has the lowest tag.
                let mut best: Option<(usize, (u64, u8, u64))> = None;
                for (i, list) in lists.iter().enumerate() {
                    if let Some(t) = next.get(i).and_then(|&n| list.get(n)) {
                        let k = t.key();
                        if best.is_none_or(|(_, b)| k < b) {
                            best = Some((i, k));
                        }
                    }
                }
                let Some((i, _)) = best else {
                    break;
                };
                let (Some(n), Some(list)) = (next.get_mut(i), lists.get_mut(i)) else {
                    break;
                };
                if let Some(t) = list.get_mut(*n) {
                    self.pass(sink, t, keep.get(i) == Some(&true));
                }
                *n += 1;
            }
        }
        for (list, keep) in lists.iter_mut().zip(keep) {
            if !keep {
                *list = Vec::new();
            }
        }
        lists
    }

    /// Emits `t`, then drops its item unless its list goes back to its
    /// shard (`keep`).
    fn pass(&mut self, sink: &mut dyn Sink, t: &mut Tagged, keep: bool) {
        self.emit(sink, t);
        if !keep {
            t.item = Item::Spent;
        }
    }

    fn emit(&mut self, sink: &mut dyn Sink, t: &mut Tagged) {
        let holder = t.holder;
        match &mut t.item {
            Item::Session(info) => {
                self.announced += 1;
                let info = SessionInfo {
                    id: format!("s{}", self.announced),
                    ..*info
                };
                let info = self.sessions.entry(holder).or_insert(info);
                self.em.emit(sink, &Record::Session(info));
            }
            Item::Message(m) => {
                let Some(info) = self.sessions.get(&holder) else {
                    return;
                };
                let rec = Record::Message(MessageRecord {
                    session: info,
                    index: m.index,
                    ts: m.ts,
                    frame: m.frame,
                    msg: &m.msg,
                    reply_to: m.reply_to,
                    latency_us: m.latency_us,
                    links: &m.links,
                });
                self.em.emit(sink, &rec);
            }
            Item::Range {
                gap,
                dir,
                offset,
                len,
                ts,
                frame,
                reason,
                severity,
            } => {
                let Some(info) = self.sessions.get(&holder) else {
                    return;
                };
                let r = RangeRecord {
                    session: info,
                    dir: *dir,
                    offset: *offset,
                    len: *len,
                    ts: *ts,
                    frame: *frame,
                    reason: reason.as_deref(),
                    severity: *severity,
                };
                let rec = if *gap {
                    Record::Gap(r)
                } else {
                    Record::Undecoded(r)
                };
                self.em.emit(sink, &rec);
            }
            Item::Bytes { dir, offset, data } => {
                let Some(info) = self.sessions.get(&holder) else {
                    return;
                };
                let rec = Record::Bytes(BytesRecord {
                    session: info,
                    dir: *dir,
                    offset: *offset,
                    data,
                });
                self.em.emit(sink, &rec);
            }
            Item::Attr { key, value } => {
                let Some(info) = self.sessions.get(&holder) else {
                    return;
                };
                let rec = Record::Attr(AttrRecord {
                    session: info,
                    key,
                    value,
                });
                self.em.emit(sink, &rec);
            }
            Item::End {
                end,
                messages,
                notes,
                attrs,
            } => {
                let Some(info) = self.sessions.remove(&holder) else {
                    return;
                };
                let rec = Record::SessionEnd(SessionEnd {
                    session: &info,
                    end: *end,
                    messages: *messages,
                    notes,
                    attrs,
                });
                self.em.emit(sink, &rec);
            }
            Item::Spent => {}
        }
    }
}
