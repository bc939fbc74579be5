//! A shard: the connections whose 4-tuple hashes to it, from TCP segments
//! to owned, tagged items.
//!
//! For each segment of its epoch batch: [`Reassembler::segment`] → per
//! connection events. A new connection becomes a session that first
//! *detects* its protocol (decode-as override, then content probes, with the
//! server port as a hint) while holding its first bytes, then feeds both
//! directions through one [`Driver`] with the protocol's dissector. The
//! driver's items become [`Item`]s: messages get their index, the index of
//! the request they answer and the latency; attributes are reported as
//! they change and, with notes (counted when repeated), kept for the
//! session's end.
//!
//! Every item is tagged with where it was produced: the frame being
//! processed, a phase (budget cuts at the start of an epoch, packets, live
//! expiry, the end of the capture) and the session (the frame number of the
//! packet that opened its connection). One shard produces items in tag
//! order; the merger interleaves shards by tag, which gives the order a
//! single shard would have produced.

use std::borrow::Cow;
use std::collections::VecDeque;

use qscope_dissectors::{
    new_dissector, Dir, Driver, Item as DItem, Limits, Message, MsgRef, Note, Options, Proto,
    SessionStart, Severity,
};

use super::budget::{self, Decision, Dropped, Report};
use super::detect;
use super::dispatch::Epoch;
use super::item::{
    Item, MsgItem, ShardOut, Tagged, FRAME_END, PHASE_CUT, PHASE_EXPIRE, PHASE_PACKET,
};
use crate::capture::Timestamp;
use crate::layers::TcpSegment;
use crate::reassembly::{self, ConnId, EndReason, Event, Reassembler};
use crate::record::{SessionInfo, STATE_ATTR};
use crate::FastMap;

/// What a shard needs of the configuration (each shard has a copy).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub decode_as: Vec<(u16, Proto)>,
    pub opts: Options,
    pub limits: Limits,
    pub reassembly: reassembly::Config,
    pub probe_bytes: usize,
    pub max_pending_refs: usize,
    pub keep_bytes: bool,
    pub trim: Option<fn(&mut Message)>,
}

/// Records held while a session's protocol is being detected.
enum Held {
    Data {
        dir: Dir,
        offset: u64,
        bytes: Vec<u8>,
        at: At,
    },
    Gap {
        dir: Dir,
        offset: u64,
        len: u64,
        at: At,
    },
    End {
        dir: Dir,
        at: At,
    },
}

/// When something happened: the capture time and number (from 1) of the
/// packet being analysed. Held events keep theirs, so a message decoded
/// after detection still names the packet that completed it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct At {
    ts: Timestamp,
    frame: u64,
}

enum State {
    Detecting {
        held: Vec<Held>,
        /// Bytes in `held`.
        held_bytes: usize,
        /// Contiguous first bytes of each direction (reassembler orientation).
        prefix: [Vec<u8>; 2],
        prefix_done: [bool; 2],
    },
    Decoding(Box<Driver>),
    /// No dissector: bytes are reported as undecoded ranges with this reason.
    Undecoded {
        reason: &'static str,
    },
}

/// An undecoded range not yet written: adjacent ranges of one direction
/// with the same reason are merged into one record.
struct PendingRange {
    dir: Dir,
    offset: u64,
    len: u64,
    at: At,
    reason: Cow<'static, str>,
    severity: Severity,
}

/// Distinct notes kept per session; later distinct notes are only counted.
const MAX_NOTES: usize = 64;
/// Memory charged per pairing entry.
const REF_COST: usize = 96;
/// Fixed memory charged per session: its state in the shard's table (about
/// 500 bytes, with the table's slack about twice that), its dissector
/// (QMP's about 1 kB plus what it allocates), driver, entry in the merger's
/// table and in the statistics. Measured: 1 M connections picked up with
/// only a SYN hold about 2.3 kB each beyond what reassembly reports, and
/// decoding sessions more; `qscope stats` keeps about 600 bytes more per
/// open session.
const SESSION_COST: usize = 5 << 10;

/// A holder's last accounted charge, for the shard's totals.
#[derive(Debug, Clone, Copy, Default)]
struct Account {
    charge: u64,
    shed: u64,
    bucket: u64,
}

struct Session {
    info: SessionInfo,
    /// Frame number of the packet that opened the connection: the
    /// session's tag, unique and in opening order.
    holder: u64,
    announced: bool,
    /// Client and server are the other way round from the reassembler's guess.
    swapped: bool,
    state: State,
    next_index: u64,
    /// Messages that later replies may refer to: where they start → (index, ts).
    refs: FastMap<MsgRef, (u64, Timestamp)>,
    ref_order: VecDeque<MsgRef>,
    /// Distinct notes with how often each was made.
    notes: Vec<(Note, u64)>,
    /// Text bytes of `notes`.
    notes_bytes: usize,
    attrs: Vec<(&'static str, String)>,
    last_ts: Timestamp,
    pending: Option<PendingRange>,
    /// Epoch of the last packet.
    last_epoch: u64,
    account: Account,
    /// Listed in `Table::touched` since the last accounting.
    touched: bool,
}

impl Session {
    /// The session has events: listed in `touched` (once) for the
    /// epoch's accounting.
    fn touch(&mut self, touched: &mut Vec<ConnId>, conn: ConnId) {
        if !self.touched {
            self.touched = true;
            touched.push(conn);
        }
    }

    fn note(&mut self, note: Note) {
        if let Some(slot) = self
            .notes
            .iter_mut()
            .find(|(n, _)| n.severity == note.severity && n.text == note.text)
        {
            slot.1 += 1;
        } else if self.notes.len() < MAX_NOTES {
            self.notes_bytes += note.text.len();
            self.notes.push((note, 1));
        } else {
            let more = "further distinct notes not kept (too many)";
            match self.notes.iter_mut().find(|(n, _)| n.text == more) {
                Some(slot) => slot.1 += 1,
                None => self.notes.push((Note::info(more), 1)),
            }
        }
    }
}

/// Sessions plus the output; separate from the reassembler so reassembly
/// events can be handled while the reassembler is borrowed, and the output
/// separate from the sessions so a session can be written about in place.
struct Table {
    set: Settings,
    sessions: FastMap<ConnId, Session>,
    em: Emit,
    /// The packet being analysed (the last one, at the end).
    at: At,
    /// The time reference (`SessionInfo::t0`).
    t0: Timestamp,
    epoch: u64,
    /// Connections with events since the last accounting (once each,
    /// but for those [`Shard::cut`] adds).
    touched: Vec<ConnId>,
    dropped: Dropped,
    /// Reused buffer for the driver's items.
    items: Vec<DItem>,
    /// The totals of the holders' accounts.
    total: u64,
    shed_hist: Vec<u64>,
    /// Charge by activity bucket: bucket `idle_base + i` at index `i`.
    idle_hist: VecDeque<u64>,
    idle_base: u64,
}

/// Where items go, with the tag of the items produced now.
struct Emit {
    out: Vec<Tagged>,
    frame: u64,
    phase: u8,
    max_pending_refs: usize,
    /// [`Config::trim`](super::Config::trim).
    trim: Option<fn(&mut Message)>,
}

/// One shard.
pub(crate) struct Shard {
    reasm: Reassembler,
    table: Table,
}

impl Shard {
    pub fn new(set: Settings) -> Shard {
        let mut rcfg = set.reassembly.clone();
        // The memory budget replaces limits that would depend on how
        // connections are spread over shards.
        rcfg.max_buffered_total = usize::MAX;
        rcfg.max_connections = usize::MAX;
        Shard {
            reasm: Reassembler::new(rcfg),
            table: Table {
                em: Emit {
                    out: Vec::new(),
                    frame: 0,
                    phase: PHASE_PACKET,
                    max_pending_refs: set.max_pending_refs,
                    trim: set.trim,
                },
                set,
                sessions: FastMap::default(),
                at: At::default(),
                t0: Timestamp::default(),
                epoch: 0,
                touched: Vec::new(),
                dropped: Dropped::default(),
                items: Vec::new(),
                total: 0,
                shed_hist: vec![0; budget::CLASSES],
                idle_hist: VecDeque::new(),
                idle_base: 0,
            },
        }
    }

    /// Runs epoch `e`'s batch number `i` (applying `cut` first); `t0` is
    /// the time reference.
    pub fn epoch(
        &mut self,
        e: &Epoch,
        i: usize,
        t0: Timestamp,
        cut: Option<&Decision>,
    ) -> ShardOut {
        self.begin(e.number, t0, cut, e.first_ts, e.first_frame);
        if let Some(b) = e.batches.get(i) {
            for s in &b.segs {
                self.segment(&b.segment(s), s.ts, s.frame);
            }
        }
        self.end(e)
    }

    /// Starts epoch `number` (its first packet: `first_ts`, `first_frame`),
    /// applying `cut` first; `t0` is the time reference.
    pub fn begin(
        &mut self,
        number: u64,
        t0: Timestamp,
        cut: Option<&Decision>,
        first_ts: Timestamp,
        first_frame: u64,
    ) {
        self.table.epoch = number;
        self.table.t0 = t0;
        if let Some(d) = cut.filter(|d| !d.is_empty()) {
            self.cut(
                d,
                At {
                    ts: first_ts,
                    frame: first_frame,
                },
            );
        }
        self.table.em.phase = PHASE_PACKET;
    }

    /// One TCP segment of the epoch, captured at `ts` in packet `frame`.
    pub fn segment(&mut self, seg: &TcpSegment<'_>, ts: Timestamp, frame: u64) {
        self.table.em.frame = frame;
        self.table.at = At { ts, frame };
        let table = &mut self.table;
        self.reasm.segment(ts, seg, &mut |ev| table.event(ev));
    }

    /// Ends epoch `e` (a quiet live capture: closing what has waited too
    /// long as of `e.expire`), forgets the closed connections past their
    /// time as of `e.clock`, and hands its output over.
    pub fn end(&mut self, e: &Epoch) -> ShardOut {
        let last_frame = e.last_frame;
        self.reasm.sweep_tombs(e.clock);
        if let Some(now) = e.expire {
            self.table.em.frame = last_frame;
            self.table.em.phase = PHASE_EXPIRE;
            self.table.at = At {
                ts: now,
                frame: last_frame,
            };
            let table = &mut self.table;
            self.reasm.expire(now, &mut |ev| table.event(ev));
        }
        // The accounts are read only here, at the epoch's end: each
        // connection with events is accounted once, however many it had.
        self.account();
        self.output()
    }

    /// The end of the capture: every connection is flushed and closed.
    pub fn finish(&mut self, last_ts: Timestamp, last_frame: u64) -> (ShardOut, reassembly::Stats) {
        self.table.em.frame = FRAME_END;
        self.table.em.phase = PHASE_CUT;
        self.table.at = At {
            ts: last_ts,
            frame: last_frame,
        };
        let table = &mut self.table;
        self.reasm.finish(last_ts, &mut |ev| table.event(ev));
        self.account();
        (self.output(), self.reasm.stats().clone())
    }

    fn output(&mut self) -> ShardOut {
        let mut report = Report::new();
        report.total = self.table.total + self.reasm.tomb_memory() as u64;
        report.shed.clone_from(&self.table.shed_hist);
        let t = &self.table;
        report.idle = (t.idle_base..)
            .zip(t.idle_hist.iter())
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| (k, *v))
            .collect();
        report.tombs = self.reasm.tomb_memory() as u64;
        // The next epoch's list starts with room for as many items as this
        // one had: no growing (and moving) it by doubling epoch after epoch.
        let room = Vec::with_capacity(self.table.em.out.len());
        ShardOut {
            items: std::mem::replace(&mut self.table.em.out, room),
            report,
            dropped: std::mem::take(&mut self.table.dropped),
            tcp: self.reasm.stats().clone(),
        }
    }

    /// The reassembler's counters so far.
    pub fn tcp(&self) -> reassembly::Stats {
        self.reasm.stats().clone()
    }

    /// Brings the accounts of the connections with events up to date.
    fn account(&mut self) {
        let t = &mut self.table;
        let mut touched = std::mem::take(&mut t.touched);
        for conn in touched.drain(..) {
            let Some(s) = t.sessions.get_mut(&conn) else {
                continue;
            };
            s.touched = false;
            let (r_total, r_shed) = self.reasm.memory(conn);
            let (d_total, d_shed) = session_memory(s);
            let new = Account {
                charge: (r_total + d_total) as u64,
                shed: (r_shed + d_shed) as u64,
                bucket: s.last_epoch / budget::BUCKET,
            };
            let old = std::mem::replace(&mut s.account, new);
            unaccount(t, old);
            t.total += new.charge;
            t.shed_hist[budget::class(new.shed)] += new.shed;
            *idle_slot(t, new.bucket) += new.charge;
        }
        t.touched = touched;
    }

    /// Applies a budget decision at the start of an epoch (`at`: its first
    /// packet, the same for every shard).
    fn cut(&mut self, d: &Decision, at: At) {
        self.table.em.frame = at.frame;
        self.table.em.phase = PHASE_CUT;
        self.table.at = at;
        let ts = at.ts;
        if d.forget_closed {
            // A count of connections, not of shards that forgot some: the
            // same for every number of shards.
            self.table.dropped.forgotten_closed += self.reasm.forget_closed();
        }
        // Holders in opening order, so that items come out in tag order.
        let mut conns: Vec<(u64, ConnId, Account)> = self
            .table
            .sessions
            .iter()
            .map(|(c, s)| (s.holder, *c, s.account))
            .collect();
        conns.sort_unstable_by_key(|(h, _, _)| *h);
        for (_, conn, acct) in conns {
            let close = d.close_before.is_some_and(|b| acct.bucket < b);
            let shed = d.shed_min.is_some_and(|m| acct.shed > 0 && acct.shed >= m);
            if close {
                self.table.dropped.connections += 1;
                if let Some(s) = self.table.sessions.get_mut(&conn) {
                    s.note(Note::warn(
                        "connection closed early to stay within the memory limit (--memory-limit); its later packets are ignored",
                    ));
                }
                let table = &mut self.table;
                self.reasm
                    .close_conn(conn, ts, EndReason::Limit, &mut |ev| table.event(ev));
            } else if shed {
                self.shed(conn, ts);
            }
            self.table.touched.push(conn);
        }
        self.account();
    }

    /// Gives up what a connection holds that can be given up.
    fn shed(&mut self, conn: ConnId, ts: Timestamp) {
        let t = &mut self.table;
        let Some(s) = t.sessions.get_mut(&conn) else {
            return;
        };
        s.note(Note::warn(
            "buffered data dropped to stay within the memory limit (--memory-limit)",
        ));
        if let State::Detecting { held_bytes, .. } = &s.state {
            t.dropped.detection_bytes += *held_bytes as u64;
            t.detect(conn, true);
        }
        let before = self.reasm.stats().gap_bytes;
        let table = &mut self.table;
        self.reasm.shed(conn, ts, &mut |ev| table.event(ev));
        let t = &mut self.table;
        t.dropped.reassembly_bytes += self.reasm.stats().gap_bytes - before;
        let mut dropped = 0;
        t.feed(
            conn,
            t.at,
            |d, out| {
                dropped = d.shed(
                    "incomplete message dropped to stay within the memory limit (--memory-limit)",
                    out,
                )
            },
            |_, _| (),
        );
        t.dropped.message_bytes += dropped;
        if let Some(s) = t.sessions.get_mut(&conn) {
            let n = s.refs.len() as u64;
            if n > 0 {
                t.dropped.pairing_entries += n;
                s.refs = FastMap::default();
                s.ref_order = VecDeque::new();
            }
        }
    }
}

fn unaccount(t: &mut Table, old: Account) {
    t.total -= old.charge.min(t.total);
    if let Some(h) = t.shed_hist.get_mut(budget::class(old.shed)) {
        *h -= old.shed.min(*h);
    }
    if old.charge == 0 {
        // Never accounted.
        return;
    }
    let v = idle_slot(t, old.bucket);
    *v -= old.charge.min(*v);
    // Forget the leading empty buckets.
    while t.idle_hist.front() == Some(&0) {
        t.idle_hist.pop_front();
        t.idle_base += 1;
    }
}

/// The charge of activity bucket `b` (buckets only grow; one older than
/// the first kept one lands in the first).
fn idle_slot(t: &mut Table, b: u64) -> &mut u64 {
    if t.idle_hist.is_empty() {
        t.idle_base = b;
    }
    let i = b.saturating_sub(t.idle_base) as usize;
    if i >= t.idle_hist.len() {
        t.idle_hist.resize(i + 1, 0);
    }
    &mut t.idle_hist[i]
}

/// A session's memory outside the reassembler: `(total, sheddable)`.
fn session_memory(s: &Session) -> (usize, usize) {
    let (held, driver) = match &s.state {
        State::Detecting {
            held_bytes, prefix, ..
        } => (held_bytes + prefix[0].capacity() + prefix[1].capacity(), 0),
        State::Decoding(d) => (0, d.memory()),
        State::Undecoded { .. } => (0, 0),
    };
    let refs = s.refs.len() * REF_COST;
    let notes = s.notes_bytes + s.notes.len() * 48;
    let attrs: usize = s.attrs.iter().map(|(_, v)| v.len() + 48).sum();
    let shed = held + driver + refs;
    (SESSION_COST + notes + attrs + shed, shed)
}

impl Emit {
    fn push(&mut self, holder: u64, item: Item) {
        self.out.push(Tagged {
            frame: self.frame,
            phase: self.phase,
            holder,
            item,
        });
    }

    /// Writes the session's `session` item.
    fn announce(&mut self, s: &mut Session) {
        s.announced = true;
        self.push(s.holder, Item::Session(s.info.clone()));
    }

    /// Writes the session's pending undecoded range, if any.
    fn flush_pending(&mut self, s: &mut Session) {
        if let Some(p) = s.pending.take() {
            let item = range(
                false,
                p.dir,
                p.offset,
                p.len,
                p.at,
                Some(p.reason),
                p.severity,
            );
            self.push(s.holder, item);
        }
    }
}

impl Table {
    fn event(&mut self, ev: Event<'_>) {
        let frame = self.at.frame;
        let at = |ts| At { ts, frame };
        match ev {
            Event::Open {
                conn,
                client,
                server,
                ts,
                mid_stream,
            } => {
                self.touched.push(conn);
                let info = SessionInfo {
                    id: String::new(),
                    proto: Proto::Unknown,
                    client,
                    server,
                    start: ts,
                    t0: self.t0,
                    mid_stream,
                };
                self.sessions.insert(
                    conn,
                    Session {
                        info,
                        holder: self.at.frame,
                        announced: false,
                        swapped: false,
                        state: State::Detecting {
                            held: Vec::new(),
                            held_bytes: 0,
                            prefix: [Vec::new(), Vec::new()],
                            prefix_done: [false, false],
                        },
                        next_index: 0,
                        refs: FastMap::default(),
                        ref_order: VecDeque::new(),
                        notes: Vec::new(),
                        notes_bytes: 0,
                        attrs: Vec::new(),
                        last_ts: ts,
                        pending: None,
                        last_epoch: self.epoch,
                        account: Account::default(),
                        touched: true,
                    },
                );
            }
            Event::Data {
                conn,
                dir,
                offset,
                bytes,
                ts,
            } => self.data(conn, dir, offset, bytes, at(ts)),
            Event::Gap {
                conn,
                dir,
                offset,
                len,
                ts,
            } => self.gap(conn, dir, offset, len, at(ts)),
            Event::End { conn, dir, ts, .. } => self.end(conn, dir, at(ts)),
            Event::Close { conn, ts, .. } => self.close(conn, at(ts)),
            Event::Note {
                conn,
                dir,
                severity,
                text,
                ..
            } => {
                if let Some(s) = self.sessions.get_mut(&conn) {
                    let dir = dir.map(|d| if s.swapped { d.flip() } else { d });
                    let text = match dir {
                        Some(d) => format!("tcp {}: {text}", d.as_str()),
                        None => format!("tcp: {text}"),
                    };
                    s.note(Note::new(severity, text));
                }
            }
        }
    }

    fn data(&mut self, conn: ConnId, dir: Dir, offset: u64, bytes: &[u8], at: At) {
        let probe_bytes = self.set.probe_bytes;
        let epoch = self.epoch;
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        s.touch(&mut self.touched, conn);
        s.last_ts = at.ts;
        s.last_epoch = epoch;
        if let State::Detecting {
            held,
            held_bytes,
            prefix,
            prefix_done,
        } = &mut s.state
        {
            let p = &mut prefix[dir.idx()];
            if !prefix_done[dir.idx()] && offset == p.len() as u64 {
                let room = probe_bytes.saturating_sub(p.len());
                p.extend_from_slice(bytes.get(..bytes.len().min(room)).unwrap_or(&[]));
            }
            *held_bytes += bytes.len();
            held.push(Held::Data {
                dir,
                offset,
                bytes: bytes.to_vec(),
                at,
            });
            let full = prefix.iter().any(|p| p.len() >= probe_bytes);
            self.detect(conn, full);
            return;
        }
        let dir = if s.swapped { dir.flip() } else { dir };
        if self.set.keep_bytes {
            let holder = s.holder;
            self.em.push(
                holder,
                Item::Bytes {
                    dir,
                    offset,
                    data: bytes.to_vec(),
                },
            );
        }
        self.feed(
            conn,
            at,
            |d, out| d.data(dir, offset, bytes, out),
            |out, reason| {
                out(DItem::Undecoded {
                    dir,
                    offset,
                    len: bytes.len() as u64,
                    reason: Cow::Borrowed(reason),
                    severity: Severity::Info,
                })
            },
        );
    }

    fn gap(&mut self, conn: ConnId, dir: Dir, offset: u64, len: u64, at: At) {
        let epoch = self.epoch;
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        s.touch(&mut self.touched, conn);
        s.last_ts = at.ts;
        s.last_epoch = epoch;
        if let State::Detecting {
            held, prefix_done, ..
        } = &mut s.state
        {
            prefix_done[dir.idx()] = true;
            held.push(Held::Gap {
                dir,
                offset,
                len,
                at,
            });
            return;
        }
        let dir = if s.swapped { dir.flip() } else { dir };
        self.feed(
            conn,
            at,
            |d, out| d.gap(dir, offset, len, out),
            |out, _| out(DItem::Gap { dir, offset, len }),
        );
    }

    fn end(&mut self, conn: ConnId, dir: Dir, at: At) {
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        s.touch(&mut self.touched, conn);
        s.last_ts = at.ts;
        if let State::Detecting {
            held, prefix_done, ..
        } = &mut s.state
        {
            prefix_done[dir.idx()] = true;
            held.push(Held::End { dir, at });
            let both = prefix_done.iter().all(|d| *d);
            if both {
                self.detect(conn, true);
            }
            return;
        }
        let dir = if s.swapped { dir.flip() } else { dir };
        self.feed(conn, at, |d, out| d.end(dir, out), |_, _| ());
    }

    fn close(&mut self, conn: ConnId, at: At) {
        if matches!(
            self.sessions.get(&conn).map(|s| &s.state),
            Some(State::Detecting { .. })
        ) {
            self.detect(conn, true);
        }
        self.feed(conn, at, |d, out| d.close(out), |_, _| ());
        let Some(mut s) = self.sessions.remove(&conn) else {
            return;
        };
        unaccount(self, s.account);
        if !s.announced {
            // Never announced (no payload at all): announce now so nothing is silent.
            self.em.announce(&mut s);
        }
        self.em.flush_pending(&mut s);
        let end = Item::End {
            end: s.last_ts.max(at.ts),
            messages: s.next_index,
            notes: std::mem::take(&mut s.notes),
            attrs: std::mem::take(&mut s.attrs),
        };
        self.em.push(s.holder, end);
    }

    /// Decides the protocol of a detecting session if the bytes allow it (or
    /// `force`), then replays the held events through the decoder.
    fn detect(&mut self, conn: ConnId, force: bool) {
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        let State::Detecting { prefix, .. } = &s.state else {
            return;
        };
        let start = SessionStart {
            mid_stream: s.info.mid_stream,
        };
        let (server, client) = (s.info.server.port(), s.info.client.port());
        let forced = detect::forced(&self.set.decode_as, server, client);
        let decision = match forced {
            Some((port, proto)) => Some((proto, port == client && port != server, None)),
            None => detect::probe_all(&prefix[0], &prefix[1], [server, client], start, force),
        };
        let Some((proto, swap, reason)) = decision else {
            return;
        };
        let State::Detecting { held, .. } =
            std::mem::replace(&mut s.state, State::Undecoded { reason: "" })
        else {
            return;
        };
        if swap {
            s.swapped = true;
            std::mem::swap(&mut s.info.client, &mut s.info.server);
        }
        s.info.proto = proto;
        s.state = match (proto, new_dissector(proto, start, self.set.opts)) {
            (Proto::Unknown, _) | (_, None) => {
                let reason = reason.unwrap_or("no dissector for this protocol");
                s.note(Note::info(reason));
                State::Undecoded { reason }
            }
            (_, Some(d)) => State::Decoding(Box::new(Driver::new(d, self.set.limits))),
        };
        if let Some((port, _)) = forced {
            s.note(Note::info(format!(
                "decoded as {proto} by --decode-as {port}={proto}"
            )));
        }
        self.em.announce(s);
        for h in held {
            match h {
                Held::Data {
                    dir,
                    offset,
                    bytes,
                    at,
                } => self.data(conn, dir, offset, &bytes, at),
                Held::Gap {
                    dir,
                    offset,
                    len,
                    at,
                } => self.gap(conn, dir, offset, len, at),
                Held::End { dir, at } => self.end(conn, dir, at),
            }
        }
    }

    /// Runs `f` on the session's driver (decoding sessions), or `g` with
    /// the reason the session is not decoded, and turns the items that come
    /// out into output items.
    fn feed(
        &mut self,
        conn: ConnId,
        at: At,
        f: impl FnOnce(&mut Driver, &mut dyn FnMut(DItem)),
        g: impl FnOnce(&mut dyn FnMut(DItem), &'static str),
    ) {
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        let items = &mut self.items;
        match &mut s.state {
            State::Decoding(driver) => f(driver, &mut |i| items.push(i)),
            State::Undecoded { reason } => g(&mut |i| items.push(i), reason),
            State::Detecting { .. } => {}
        }
        for item in self.items.drain(..) {
            self.em.item(s, item, at);
        }
    }
}

impl Emit {
    /// Turns one driver item into output items (or session notes/attributes).
    fn item(&mut self, s: &mut Session, item: DItem, at: At) {
        if matches!(item, DItem::Message(_) | DItem::Gap { .. }) {
            self.flush_pending(s);
        }
        let ts = at.ts;
        match item {
            DItem::Message(mut msg) => {
                if let Some(trim) = self.trim {
                    trim(&mut msg);
                }
                let index = s.next_index;
                s.next_index += 1;
                let (reply_to, latency_us) = match msg.reply_to.and_then(|r| s.refs.get(&r)) {
                    Some((i, t)) => (Some(*i), Some(ts.micros_since(t))),
                    None => (None, None),
                };
                let links: Vec<(&'static str, u64)> = msg
                    .links
                    .iter()
                    .filter_map(|(role, r)| s.refs.get(r).map(|(i, _)| (*role, *i)))
                    .collect();
                let r = msg.msg_ref();
                if s.refs.insert(r, (index, ts)).is_none() {
                    s.ref_order.push_back(r);
                    if s.ref_order.len() > self.max_pending_refs {
                        if let Some(old) = s.ref_order.pop_front() {
                            s.refs.remove(&old);
                        }
                    }
                }
                let holder = s.holder;
                self.push(
                    holder,
                    Item::Message(Box::new(MsgItem {
                        index,
                        ts,
                        frame: at.frame,
                        msg,
                        reply_to,
                        latency_us,
                        links,
                    })),
                );
            }
            DItem::Undecoded {
                dir,
                offset,
                len,
                reason,
                severity,
            } => {
                if let Some(p) = &mut s.pending {
                    if p.dir == dir
                        && p.offset + p.len == offset
                        && p.reason == reason
                        && p.severity == severity
                    {
                        p.len += len;
                        p.at = at;
                        return;
                    }
                }
                self.flush_pending(s);
                s.pending = Some(PendingRange {
                    dir,
                    offset,
                    len,
                    at,
                    reason,
                    severity,
                });
            }
            DItem::Gap { dir, offset, len } => {
                let item = range(true, dir, offset, len, at, None, Severity::Warn);
                self.push(s.holder, item);
            }
            DItem::SessionNote(n) => s.note(n),
            DItem::Attr(k, v) if k == STATE_ATTR => {
                // Where the session is: passed on as the dissector says
                // it, not kept (it is not part of the session's end).
                self.push(s.holder, Item::Attr { key: k, value: v });
            }
            DItem::Attr(k, v) => {
                // Reported when it changes; kept for the session's end.
                let slot = match s.attrs.iter().position(|(key, _)| *key == k) {
                    Some(i) if s.attrs[i].1 == v => return,
                    Some(i) => {
                        s.attrs[i].1 = v;
                        i
                    }
                    None => {
                        s.attrs.push((k, v));
                        s.attrs.len() - 1
                    }
                };
                let value = s.attrs[slot].1.clone();
                self.push(s.holder, Item::Attr { key: k, value });
            }
        }
    }
}

fn range(
    gap: bool,
    dir: Dir,
    offset: u64,
    len: u64,
    at: At,
    reason: Option<Cow<'static, str>>,
    severity: Severity,
) -> Item {
    Item::Range {
        gap,
        dir,
        offset,
        len,
        ts: at.ts,
        frame: at.frame,
        reason,
        severity,
    }
}
