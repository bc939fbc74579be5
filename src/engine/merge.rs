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
}

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
        }
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
        self.merge(sink, lists);
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

    /// Interleaves the shards' items by tag (each list is in tag order).
    fn merge(&mut self, sink: &mut dyn Sink, lists: Vec<Vec<Tagged>>) {
        if lists.len() == 1 {
            for list in lists {
                for t in list {
                    self.emit(sink, t);
                }
            }
            return;
        }
        let mut iters: Vec<std::iter::Peekable<std::vec::IntoIter<Tagged>>> = lists
            .into_iter()
            .map(|l| l.into_iter().peekable())
            .collect();
        loop {
            let mut best: Option<(usize, (u64, u8, u64))> = None;
            for (i, it) in iters.iter_mut().enumerate() {
                if let Some(t) = it.peek() {
                    let k = t.key();
                    if best.is_none_or(|(_, b)| k < b) {
                        best = Some((i, k));
                    }
                }
            }
            let Some((i, _)) = best else {
                break;
            };
            if let Some(t) = iters.get_mut(i).and_then(Iterator::next) {
                self.emit(sink, t);
            }
        }
    }

    fn emit(&mut self, sink: &mut dyn Sink, t: Tagged) {
        let holder = t.holder;
        match t.item {
            Item::Session(mut info) => {
                self.announced += 1;
                info.id = format!("s{}", self.announced);
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
                    dir,
                    offset,
                    len,
                    ts,
                    frame,
                    reason: reason.as_deref(),
                    severity,
                };
                let rec = if gap {
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
                    dir,
                    offset,
                    data: &data,
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
                    value: &value,
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
                    end,
                    messages,
                    notes: &notes,
                    attrs: &attrs,
                });
                self.em.emit(sink, &rec);
            }
        }
    }
}
