//! Per-connection, per-direction TCP reassembly.
//!
//! A [`Reassembler`] is fed TCP segments in capture order and emits
//! [`Event`]s: a connection [`Open`](Event::Open)s, each direction's bytes
//! arrive in order as [`Data`](Event::Data) (zero-copy when the segment is in
//! order) or are declared lost as a [`Gap`](Event::Gap), each direction
//! [`End`](Event::End)s, and the connection [`Close`](Event::Close)s.
//! Per direction, the `offset`s of successive `Data`/`Gap` events are
//! contiguous from 0, so every byte is reported exactly once.
//!
//! # Rules
//!
//! * **Offsets.** 32-bit sequence numbers are mapped (with wrap-around) to
//!   64-bit offsets: 0 is the first byte after the SYN, or the first
//!   captured byte of a direction when the connection was picked up
//!   mid-stream. Bytes before offset 0 are dropped with a note.
//! * **Order.** In-order bytes are delivered at once; out-of-order bytes are
//!   held (copied) until the hole before them fills or is declared a gap.
//! * **Overlaps.** First copy wins: bytes already delivered or held are kept,
//!   later copies are dropped (a segment with nothing new counts as a
//!   retransmission). When a later copy differs from the first one (checked
//!   against held bytes and against the last 8 KiB delivered) a warning
//!   [`Note`](Event::Note) is emitted.
//! * **Gaps.** The hole at the delivery point becomes a gap, and the bytes
//!   held after it are delivered, when
//!   (a) the peer acknowledges bytes beyond the hole start: the bytes up to
//!   the acknowledgement (or the FIN) that are not held become gaps;
//!   (b) the bytes held out of order exceed
//!   [`Config::max_buffered_per_stream`] or [`Config::max_buffered_total`]
//!   (each held entry is also charged [`HELD_OVERHEAD`] bytes): holes of the
//!   stream that grew are declared, lowest offset first, until under both
//!   limits;
//!   (c) the hole has waited more than [`Config::gap_timeout_us`] of capture
//!   time (measured from the earliest arrival of the bytes still held after
//!   it, or of a FIN beyond it), checked on every packet of the connection
//!   and in [`Reassembler::expire`];
//!   (d) the connection ends by RST, replacement, idle timeout or capture
//!   end: everything held is delivered with gaps before it.
//!   A segment cut by the snap length (`wire_len > payload.len()`) delivers
//!   its captured bytes and then its missing tail as a gap.
//! * **FIN** ends its direction once every byte before it is delivered. A
//!   FIN beyond a hole waits for the gap rules above (the peer's ACK of the
//!   FIN triggers rule (a)). Bytes after a FIN are dropped.
//! * **RST** delivers what is held and closes the connection.
//! * **SYN.** The SYN sender is the client (if a SYN-ACK comes first, its
//!   destination). A SYN with a different ISN on a live 4-tuple closes the
//!   old connection (reason [`EndReason::Replaced`]) and opens a new one.
//! * **Mid-stream pickup** (first packet with payload is not a SYN): the
//!   side whose port is in [`Config::server_ports`] is the server, else the
//!   lower port, else the destination of the first packet. Segments without
//!   payload never open a connection.
//! * **Not data:** zero-length segments (they never create holes) and
//!   keep-alives (0 or 1 byte at the next sequence number minus one).
//! * **Memory** is bounded by the buffer limits, by
//!   [`Config::max_connections`] (the least recently active connection is
//!   closed, reason [`EndReason::Idle`], with a note) and by forgetting
//!   connections once closed. Connections closed by FIN, RST or their
//!   owner's memory budget ([`Reassembler::close_conn`] with
//!   [`EndReason::Limit`]) leave a small tombstone for
//!   [`Config::tomb_ttl_us`] of capture time, so that their later packets
//!   do not open ghost connections (a new SYN still opens a new one).
//!   Whether a tombstone still holds is judged by the time of the packet
//!   on its own address pair; tombstones are swept by
//!   [`Reassembler::sweep_tombs`]. Nothing a connection's packets meet
//!   depends on another connection's packets, so connections may be
//!   spread over several reassemblers with the same results.
// The no-panic promise for code that reads untrusted bytes, held by the
// compiler (tests may unwrap and index).
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use std::collections::BTreeSet;
use std::net::SocketAddr;

use qscope_dissectors::{Dir, Severity};

use crate::capture::Timestamp;
use crate::layers::TcpSegment;
use crate::FastMap;

mod event;
mod stream;
#[cfg(test)]
mod tests;
mod tombs;

pub use event::{Config, ConnId, EndReason, Event, Stats};
use stream::{Ctx, Stream};
pub use stream::{HELD_OVERHEAD, MAX_AHEAD};
use tombs::{Key, Tomb, Tombs};
pub use tombs::{TOMB_COST, TOMB_COST_V4};

fn key(a: SocketAddr, b: SocketAddr) -> Key {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

#[derive(Debug)]
struct Conn {
    client: SocketAddr,
    server: SocketAddr,
    mid_stream: bool,
    last_ts: Timestamp,
    streams: [Stream; 2],
}

impl Conn {
    fn dir_of(&self, src: SocketAddr) -> Dir {
        if src == self.client {
            Dir::C2S
        } else {
            Dir::S2C
        }
    }
    fn all_ended(&self) -> bool {
        self.streams.iter().all(Stream::ended)
    }
}

/// What a SYN on a live 4-tuple means.
enum SynAction {
    /// Retransmission of a SYN already seen.
    Ignore,
    /// Handshake of the live connection (SYN-ACK completing it).
    Accept,
    /// A new connection on the same 4-tuple.
    Replace,
}

/// TCP reassembly for any number of connections. See the module docs for
/// the rules.
#[derive(Debug)]
pub struct Reassembler {
    cfg: Config,
    stats: Stats,
    /// By id; ids are handed out in order, so wherever the order of
    /// connections matters it is the order of their ids ([`Reassembler::ids`]).
    conns: FastMap<ConnId, Conn>,
    by_key: FastMap<Key, ConnId>,
    /// `(last packet time, conn)`, least recently active first.
    activity: BTreeSet<(Timestamp, ConnId)>,
    tombs: Tombs,
    total_held: usize,
    next_id: ConnId,
}

impl Reassembler {
    pub fn new(cfg: Config) -> Self {
        Reassembler {
            cfg,
            stats: Stats::default(),
            conns: FastMap::default(),
            by_key: FastMap::default(),
            activity: BTreeSet::new(),
            tombs: Tombs::default(),
            total_held: 0,
            next_id: 0,
        }
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Connections currently open.
    pub fn live_connections(&self) -> usize {
        self.conns.len()
    }

    /// Bytes (plus overhead) currently held out of order, all streams.
    pub fn held_bytes(&self) -> usize {
        self.total_held
    }

    /// Memory a connection holds: `(total, sheddable)` bytes, where the
    /// sheddable part is what [`Reassembler::shed`] gives back.
    pub fn memory(&self, id: ConnId) -> (usize, usize) {
        match self.conns.get(&id) {
            Some(c) => {
                let (a, b) = (c.streams[0].memory(), c.streams[1].memory());
                // The connection, its map entries and its activity entry.
                (a.0 + b.0 + 160, a.1 + b.1)
            }
            None => (0, 0),
        }
    }

    /// Memory of the closed connections remembered (tombstones).
    pub fn tomb_memory(&self) -> usize {
        self.tombs.memory()
    }

    /// Forgets every closed connection (their stray packets may then open
    /// new connections picked up mid-stream); returns how many.
    pub fn forget_closed(&mut self) -> u64 {
        self.tombs.clear()
    }

    /// Forgets the closed connections older than the tombstone time to
    /// live as of `now`. (A tombstone past its time already lets packets
    /// through; this frees it. The engine calls it at every epoch's end
    /// with the latest capture time of all packets, the same for every
    /// shard.)
    pub fn sweep_tombs(&mut self, now: Timestamp) {
        self.tombs.sweep(now, self.cfg.tomb_ttl_us);
    }

    /// Gives up what connection `id` holds: its holes before held bytes
    /// become gaps (the held bytes are delivered) and the tails kept for
    /// overlap checks are dropped.
    pub fn shed(&mut self, id: ConnId, ts: Timestamp, out: &mut dyn FnMut(Event<'_>)) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let mut cx = Ctx {
            cfg: &self.cfg,
            stats: &mut self.stats,
            total_held: &mut self.total_held,
            conn: id,
            ts,
        };
        for s in conn.streams.iter_mut() {
            s.shed(&mut cx, out);
        }
        if conn.all_ended() {
            self.close(id, ts, EndReason::Fin, out);
        }
    }

    /// Closes connection `id` now: what is held is delivered with gaps,
    /// both directions end, `Close` follows.
    pub fn close_conn(
        &mut self,
        id: ConnId,
        ts: Timestamp,
        reason: EndReason,
        out: &mut dyn FnMut(Event<'_>),
    ) {
        self.close(id, ts, reason, out);
    }

    /// Feeds one TCP segment captured at `ts`. Events are delivered via
    /// `out` in order.
    pub fn segment(&mut self, ts: Timestamp, seg: &TcpSegment<'_>, out: &mut dyn FnMut(Event<'_>)) {
        self.stats.segments += 1;
        let k = key(seg.src, seg.dst);
        let syn = seg.flags.syn && !seg.flags.rst;
        let id = match self.by_key.get(&k).copied() {
            Some(id) if syn => match self.syn_on_live(id, seg) {
                SynAction::Ignore => {
                    self.stats.retransmissions += 1;
                    self.touch(id, ts);
                    return;
                }
                SynAction::Accept => id,
                SynAction::Replace => {
                    self.close(id, ts, EndReason::Replaced, out);
                    self.open(ts, seg, out)
                }
            },
            Some(id) => id,
            None => {
                if let Some(t) = self.tombs.get(&k) {
                    let live = ts.micros_since(&t.closed) <= self.cfg.tomb_ttl_us;
                    if live && (!syn || tomb_matches(t, &k, seg)) {
                        return;
                    }
                    self.tombs.remove(&k);
                }
                let has_payload = !seg.payload.is_empty() || seg.wire_len > 0;
                if seg.flags.rst || !(syn || has_payload) {
                    return;
                }
                self.open(ts, seg, out)
            }
        };
        if seg.flags.rst {
            self.touch(id, ts);
            self.close(id, ts, EndReason::Rst, out);
            return;
        }
        let track = self.tracks_activity();
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        active(conn, &mut self.activity, track, id, ts);
        let mut cx = Ctx {
            cfg: &self.cfg,
            stats: &mut self.stats,
            total_held: &mut self.total_held,
            conn: id,
            ts,
        };
        let dir = conn.dir_of(seg.src);
        let [c2s, s2c] = &mut conn.streams;
        let (own, peer) = match dir {
            Dir::C2S => (c2s, s2c),
            Dir::S2C => (s2c, c2s),
        };
        if syn {
            // SYN-ACK completing the handshake; offsets start after it.
            if own.isn.is_none()
                && (own.base().is_none() || own.base() == Some(seg.seq.wrapping_add(1)))
            {
                own.isn = Some(seg.seq);
                own.set_base(seg.seq.wrapping_add(1));
            }
        }
        if seg.flags.ack {
            if !conn.mid_stream && peer.base().is_none() {
                // The handshake's ACK names the peer's first byte.
                peer.set_base(seg.ack);
            }
            peer.acked(&mut cx, seg.ack, out);
        }
        let seq = if syn {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        own.segment(&mut cx, seq, seg.payload, seg.wire_len, seg.flags.fin, out);
        for s in conn.streams.iter_mut() {
            s.check_timeout(&mut cx, ts, out);
        }
        if conn.all_ended() {
            self.close(id, ts, EndReason::Fin, out);
        }
    }

    /// Closes connections idle longer than the idle timeout and declares
    /// overdue holes as gaps (called periodically by live capture).
    pub fn expire(&mut self, now: Timestamp, out: &mut dyn FnMut(Event<'_>)) {
        if let Some(idle) = self.cfg.idle_timeout_us {
            let stale: Vec<ConnId> = self
                .activity
                .iter()
                .take_while(|(t, _)| now.micros_since(t) > idle)
                .map(|&(_, id)| id)
                .collect();
            for id in stale {
                self.close(id, now, EndReason::Idle, out);
            }
        }
        let mut done = Vec::new();
        for id in self.ids() {
            let Some(conn) = self.conns.get_mut(&id) else {
                continue;
            };
            let mut cx = Ctx {
                cfg: &self.cfg,
                stats: &mut self.stats,
                total_held: &mut self.total_held,
                conn: id,
                ts: now,
            };
            for s in conn.streams.iter_mut() {
                s.check_timeout(&mut cx, now, out);
            }
            if conn.all_ended() {
                done.push(id);
            }
        }
        for id in done {
            self.close(id, now, EndReason::Fin, out);
        }
    }

    /// End of capture: every held segment is delivered (with gaps before
    /// it), every direction ends, every connection closes (reason
    /// `CaptureEnd`; a direction whose FIN is reached ends with `Fin`).
    pub fn finish(&mut self, ts: Timestamp, out: &mut dyn FnMut(Event<'_>)) {
        for id in self.ids() {
            self.close(id, ts, EndReason::CaptureEnd, out);
        }
        self.tombs.clear();
    }

    // ----- internals ------------------------------------------------------

    /// The open connections' ids, oldest first.
    fn ids(&self) -> Vec<ConnId> {
        let mut ids: Vec<ConnId> = self.conns.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Whether the least recently active connection must be known: for
    /// the idle timeout or the connection limit (an ordered set updated on
    /// every packet otherwise costs for nothing).
    fn tracks_activity(&self) -> bool {
        self.cfg.idle_timeout_us.is_some() || self.cfg.max_connections != usize::MAX
    }

    fn touch(&mut self, id: ConnId, ts: Timestamp) {
        let track = self.tracks_activity();
        if let Some(conn) = self.conns.get_mut(&id) {
            active(conn, &mut self.activity, track, id, ts);
        }
    }

    fn syn_on_live(&self, id: ConnId, seg: &TcpSegment<'_>) -> SynAction {
        let Some(conn) = self.conns.get(&id) else {
            return SynAction::Replace;
        };
        if seg.flags.ack {
            // SYN-ACK: must come from the server.
            if seg.src != conn.server {
                return SynAction::Replace;
            }
            let [_, s] = &conn.streams;
            match s.isn {
                Some(isn) if isn == seg.seq => SynAction::Ignore,
                Some(_) => SynAction::Replace,
                None if s.base().is_none_or(|b| b == seg.seq.wrapping_add(1)) => SynAction::Accept,
                None => SynAction::Replace,
            }
        } else {
            let [s, _] = &conn.streams;
            if seg.src == conn.client && s.isn == Some(seg.seq) {
                SynAction::Ignore
            } else {
                SynAction::Replace
            }
        }
    }

    /// Opens a connection for `seg` (a SYN, a SYN-ACK, or a mid-stream
    /// segment with payload) and returns its id.
    fn open(
        &mut self,
        ts: Timestamp,
        seg: &TcpSegment<'_>,
        out: &mut dyn FnMut(Event<'_>),
    ) -> ConnId {
        while self.conns.len() >= self.cfg.max_connections.max(1) {
            let Some(&(_, victim)) = self.activity.iter().next() else {
                break;
            };
            self.stats.limit_hits += 1;
            out(Event::Note {
                conn: victim,
                dir: None,
                ts,
                severity: Severity::Warn,
                text: format!(
                    "limit: more than {} connections; closing the least recently active one",
                    self.cfg.max_connections
                ),
            });
            self.close(victim, ts, EndReason::Idle, out);
        }
        let id = self.next_id;
        self.next_id += 1;
        let syn = seg.flags.syn;
        let (client, server, mid_stream, streams) = if syn && !seg.flags.ack {
            let streams = [Stream::with_isn(Dir::C2S, seg.seq), Stream::new(Dir::S2C)];
            (seg.src, seg.dst, false, streams)
        } else if syn {
            let streams = [
                Stream::with_isn(Dir::C2S, seg.ack.wrapping_sub(1)),
                Stream::with_isn(Dir::S2C, seg.seq),
            ];
            (seg.dst, seg.src, false, streams)
        } else {
            let server = self.guess_server(seg.src, seg.dst);
            let client = if server == seg.src { seg.dst } else { seg.src };
            (
                client,
                server,
                true,
                [Stream::new(Dir::C2S), Stream::new(Dir::S2C)],
            )
        };
        self.stats.connections += 1;
        out(Event::Open {
            conn: id,
            client,
            server,
            ts,
            mid_stream,
        });
        self.conns.insert(
            id,
            Conn {
                client,
                server,
                mid_stream,
                last_ts: ts,
                streams,
            },
        );
        self.by_key.insert(key(client, server), id);
        if self.tracks_activity() {
            self.activity.insert((ts, id));
        }
        id
    }

    /// Orientation of a mid-stream connection whose first packet goes from
    /// `src` to `dst`: returns the server.
    fn guess_server(&self, src: SocketAddr, dst: SocketAddr) -> SocketAddr {
        let known = |a: SocketAddr| self.cfg.server_ports.contains(&a.port());
        match (known(src), known(dst)) {
            (true, false) => src,
            (false, true) => dst,
            _ if src.port() < dst.port() => src,
            _ => dst,
        }
    }

    /// Delivers what is held (with gaps), ends both directions, emits
    /// `Close` and forgets the connection.
    fn close(
        &mut self,
        id: ConnId,
        ts: Timestamp,
        reason: EndReason,
        out: &mut dyn FnMut(Event<'_>),
    ) {
        let Some(mut conn) = self.conns.remove(&id) else {
            return;
        };
        let k = key(conn.client, conn.server);
        if self.by_key.get(&k) == Some(&id) {
            self.by_key.remove(&k);
        }
        self.activity.remove(&(conn.last_ts, id));
        let mut cx = Ctx {
            cfg: &self.cfg,
            stats: &mut self.stats,
            total_held: &mut self.total_held,
            conn: id,
            ts,
        };
        for s in conn.streams.iter_mut() {
            s.flush(&mut cx, out);
            s.end(&mut cx, reason, out);
        }
        out(Event::Close {
            conn: id,
            ts,
            reason,
        });
        if matches!(reason, EndReason::Fin | EndReason::Rst | EndReason::Limit) {
            let tomb = Tomb {
                client_first: conn.client == k.0,
                isn: [conn.streams[0].isn, conn.streams[1].isn],
                closed: ts,
            };
            self.tombs.insert(&k, tomb);
        }
    }
}

/// True when `seg` (a SYN or SYN-ACK) is a retransmission from the closed
/// connection rather than a new connection.
fn tomb_matches(t: &Tomb, k: &Key, seg: &TcpSegment<'_>) -> bool {
    let client = if t.client_first { k.0 } else { k.1 };
    if seg.flags.ack {
        seg.dst == client && t.isn[1] == Some(seg.seq)
    } else {
        seg.src == client && t.isn[0] == Some(seg.seq)
    }
}

/// Connection `id` (`conn`) had a packet at `ts`: its last activity, and
/// its place in `activity` when that is tracked.
#[inline]
fn active(
    conn: &mut Conn,
    activity: &mut BTreeSet<(Timestamp, ConnId)>,
    track: bool,
    id: ConnId,
    ts: Timestamp,
) {
    if !track {
        conn.last_ts = conn.last_ts.max(ts);
    } else if ts > conn.last_ts {
        activity.remove(&(conn.last_ts, id));
        conn.last_ts = ts;
        activity.insert((ts, id));
    }
}
