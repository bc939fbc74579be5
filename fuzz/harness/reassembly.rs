//! TCP reassembly: segments decoded from the fuzz input are fed to the real
//! [`Reassembler`], and its events are judged against a deliberately
//! simple model.
//!
//! # What is checked
//!
//! Always, for every connection: `Open` comes first and ids only grow;
//! per direction, `Data`/`Gap` offsets tile the stream from 0 (no hole, no
//! overlap, never empty); at most one `End` per direction, `Close` after
//! both, nothing after `Close`; every end reason is possible at the point
//! it is given (`Rst` on a RST, `Replaced` on a SYN, `Idle` on `expire` or
//! an eviction, `CaptureEnd` on `finish`, `Fin` only for a direction that
//! sent a FIN); notes are one line; after `finish` nothing is open or held,
//! and the statistics agree with the events.
//!
//! Where the model can say: for a connection opened by a handshake the
//! harness made (SYN with ISN `ic`, SYN-ACK with ISN `is`), stream offset
//! `o` of a direction is sequence number `ic + 1 + o` (or `is + 1 + o`).
//! The model keeps, per connection and direction, the first copy of every
//! sequence number sent (a byte, or "missing" for the part of a segment the
//! snap length cut). Every delivered byte must equal that first copy.
//! In *quiet* mode (no ACKs, FINs, RSTs, stray SYNs, time or limits), the
//! delivered stream must be exactly the model's: first copies as data,
//! everything else as gaps.
//!
//! # Input format
//!
//! `cfg`, `tuples`, then (unless `cfg` bit 6 and not quiet) one handshake
//! per 4-tuple (`isn isn`), then operations; see [`Op`] and [`encode`].
//! An ISN is `sel` then: `sel & 3 == 0`: `u32::MAX - u8`; 1: `u8`; 2: `u32`;
//! 3: `0x7fff_ff00 + u8` (wrap-around and sign boundaries are near).

use std::collections::HashMap;
use std::net::SocketAddr;

use qscope::capture::Timestamp;
use qscope::layers::{TcpFlags, TcpSegment};
use qscope::reassembly::{Config, ConnId, EndReason, Event, Reassembler};
use qscope_dissectors::Dir;

use super::Bytes;

/// The 4-tuples (client first). The last one talks to itself.
fn tuples() -> [(SocketAddr, SocketAddr); 4] {
    [
        (
            SocketAddr::from(([10, 0, 0, 1], 50000)),
            SocketAddr::from(([10, 0, 0, 2], 4444)),
        ),
        (
            SocketAddr::from(([10, 0, 0, 1], 50001)),
            SocketAddr::from(([10, 0, 0, 2], 4444)),
        ),
        (
            SocketAddr::from(([0xfd00, 0, 0, 0, 0, 0, 0, 1], 7)),
            SocketAddr::from(([0xfd00, 0, 0, 0, 0, 0, 0, 2], 7)),
        ),
        (
            SocketAddr::from(([10, 0, 0, 3], 9)),
            SocketAddr::from(([10, 0, 0, 3], 9)),
        ),
    ]
}

/// Patterned payload: byte at sequence number `seq` in copy `variant`.
/// Copies of one variant agree; different variants (almost always) differ.
pub fn byte_at(seq: u32, variant: u8) -> u8 {
    let x = seq.wrapping_mul(0x9E37_79B1) ^ u32::from(variant).wrapping_mul(0x85EB_CA6B);
    ((x >> 24) as u8) ^ ((x >> 8) as u8)
}

/// One operation of the input. `server` sends from the tuple's server side;
/// `rel` and `ack` are relative to the sender's (and the peer's) ISN + 1 of
/// the tuple's last handshake.
#[derive(Debug, Clone)]
pub enum Op {
    /// A segment of `len` patterned bytes (`variant` 0..=3), `extra * 4`
    /// more bytes on the wire than captured, optionally ACK and FIN.
    Data {
        tuple: u8,
        server: bool,
        rel: i16,
        len: u8,
        variant: u8,
        extra: Option<u8>,
        ack: Option<i16>,
        fin: bool,
        psh: bool,
    },
    /// A segment carrying `bytes` (at most 63) as they are.
    Literal {
        tuple: u8,
        server: bool,
        rel: i16,
        bytes: Vec<u8>,
    },
    /// SYN (client, ISN `ic`) then SYN-ACK (server, ISN `is`).
    Handshake { tuple: u8, ic: u32, is: u32 },
    Rst {
        tuple: u8,
        server: bool,
        rel: i16,
        ack: Option<i16>,
    },
    /// A SYN with sequence number `seq` (from the server if `server`).
    Syn { tuple: u8, server: bool, seq: u32 },
    /// A SYN-ACK with sequence number `seq` acknowledging `ack`: from the
    /// server, or (reversed) from the client when `server` is set.
    SynAck {
        tuple: u8,
        server: bool,
        seq: u32,
        ack: i16,
    },
    /// A pure ACK.
    Ack { tuple: u8, server: bool, ack: i16 },
    /// A FIN without payload.
    Fin {
        tuple: u8,
        server: bool,
        rel: i16,
        ack: Option<i16>,
    },
    /// Capture time moves by `tens_of_ms` × 10 ms (backwards if `back`),
    /// then `expire` is called if asked.
    Time {
        tens_of_ms: u8,
        back: bool,
        expire: bool,
    },
}

/// Encodes a fuzz input: `cfg` (bit 0 quiet, bits 1-2 buffer limits,
/// bit 3 gap timeout, bit 4 idle timeout, bit 5 one connection at most,
/// bit 6 no initial handshakes, bit 7 server port hint), the number of
/// tuples (1..=4), the initial handshakes' ISNs and the operations.
pub fn encode(cfg: u8, tuples: u8, handshakes: &[(u32, u32)], ops: &[Op]) -> Vec<u8> {
    let mut v = vec![cfg, tuples.saturating_sub(1)];
    let isn = |v: &mut Vec<u8>, x: u32| {
        v.push(2);
        v.extend_from_slice(&x.to_be_bytes());
    };
    for &(ic, is) in handshakes {
        isn(&mut v, ic);
        isn(&mut v, is);
    }
    let head = |kind: u8, tuple: u8, server: bool, a: bool, b: bool| {
        kind | (tuple & 3) << 3 | u8::from(server) << 5 | u8::from(a) << 6 | u8::from(b) << 7
    };
    for op in ops {
        match op {
            Op::Data {
                tuple,
                server,
                rel,
                len,
                variant,
                extra,
                ack,
                fin,
                psh,
            } => {
                let kind = if *fin { 3 } else { 0 };
                v.push(head(kind, *tuple, *server, ack.is_some(), false));
                v.extend_from_slice(&rel.to_be_bytes());
                v.push(*len);
                v.push(variant & 3 | u8::from(extra.is_some()) << 2 | u8::from(*psh) << 3);
                if let Some(e) = extra {
                    v.push(*e);
                }
                if let Some(a) = ack {
                    v.extend_from_slice(&a.to_be_bytes());
                }
            }
            Op::Literal {
                tuple,
                server,
                rel,
                bytes,
            } => {
                v.push(head(7, *tuple, *server, false, false));
                v.extend_from_slice(&rel.to_be_bytes());
                let n = bytes.len().min(63);
                v.push(n as u8);
                v.extend_from_slice(&bytes[..n]);
            }
            Op::Handshake { tuple, ic, is } => {
                v.push(head(4, *tuple, false, false, false));
                isn(&mut v, *ic);
                isn(&mut v, *is);
            }
            Op::Rst {
                tuple,
                server,
                rel,
                ack,
            } => {
                v.push(head(5, *tuple, *server, ack.is_some(), false));
                v.push(0);
                v.extend_from_slice(&rel.to_be_bytes());
                if let Some(a) = ack {
                    v.extend_from_slice(&a.to_be_bytes());
                }
            }
            Op::Syn { tuple, server, seq } => {
                v.push(head(5, *tuple, *server, false, false));
                v.push(1);
                isn(&mut v, *seq);
            }
            Op::SynAck {
                tuple,
                server,
                seq,
                ack,
            } => {
                v.push(head(5, *tuple, *server, false, false));
                v.push(2);
                isn(&mut v, *seq);
                v.extend_from_slice(&ack.to_be_bytes());
            }
            Op::Ack { tuple, server, ack } => {
                v.push(head(5, *tuple, *server, false, false));
                v.push(3);
                v.extend_from_slice(&ack.to_be_bytes());
            }
            Op::Fin {
                tuple,
                server,
                rel,
                ack,
            } => {
                v.push(head(5, *tuple, *server, ack.is_some(), false));
                v.push(4);
                v.extend_from_slice(&rel.to_be_bytes());
                if let Some(a) = ack {
                    v.extend_from_slice(&a.to_be_bytes());
                }
            }
            Op::Time {
                tens_of_ms,
                back,
                expire,
            } => {
                v.push(head(6, 0, false, *expire, *back));
                v.push(*tens_of_ms);
            }
        }
    }
    v
}

fn read_isn(inp: &mut Bytes<'_>) -> u32 {
    match inp.u8() & 3 {
        0 => u32::MAX - u32::from(inp.u8()),
        1 => u32::from(inp.u8()),
        2 => inp.u32(),
        _ => 0x7fff_ff00 + u32::from(inp.u8()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Copy1 {
    Byte(u8),
    Missing,
}

/// The model's view of one connection.
struct Epoch {
    tuple: usize,
    client: SocketAddr,
    /// Sequence number of offset 0 per direction, when the model knows it.
    base: Option<[u32; 2]>,
    /// First copy of each sequence number sent, per direction.
    first: [HashMap<u32, Copy1>; 2],
    fin_sent: [bool; 2],
    next: [u64; 2],
    ended: [bool; 2],
    closed: bool,
    /// Delivered stream per direction (quiet mode only): `None` = gap.
    map: [Vec<Option<u8>>; 2],
}

/// What the reassembler was doing when it emitted an event.
#[derive(Debug, Clone, Copy)]
enum Call {
    Segment { syn: bool, rst: bool, opened: bool },
    Expire,
    Finish,
}

/// An owned copy of an event (timestamps dropped).
#[derive(Debug)]
enum Ev {
    Open {
        conn: ConnId,
        client: SocketAddr,
        server: SocketAddr,
        mid_stream: bool,
    },
    Data {
        conn: ConnId,
        dir: Dir,
        offset: u64,
        bytes: Vec<u8>,
    },
    Gap {
        conn: ConnId,
        dir: Dir,
        offset: u64,
        len: u64,
    },
    End {
        conn: ConnId,
        dir: Dir,
        reason: EndReason,
    },
    Close {
        conn: ConnId,
        reason: EndReason,
    },
    Note {
        conn: ConnId,
        text: String,
    },
}

fn own(e: Event<'_>) -> Ev {
    match e {
        Event::Open {
            conn,
            client,
            server,
            mid_stream,
            ..
        } => Ev::Open {
            conn,
            client,
            server,
            mid_stream,
        },
        Event::Data {
            conn,
            dir,
            offset,
            bytes,
            ..
        } => Ev::Data {
            conn,
            dir,
            offset,
            bytes: bytes.to_vec(),
        },
        Event::Gap {
            conn,
            dir,
            offset,
            len,
            ..
        } => Ev::Gap {
            conn,
            dir,
            offset,
            len,
        },
        Event::End {
            conn, dir, reason, ..
        } => Ev::End { conn, dir, reason },
        Event::Close { conn, reason, .. } => Ev::Close { conn, reason },
        Event::Note { conn, text, .. } => Ev::Note { conn, text },
    }
}

struct Harness {
    r: Reassembler,
    quiet: bool,
    tuples: usize,
    epochs: HashMap<ConnId, Epoch>,
    /// The latest connection of each tuple.
    current: [Option<ConnId>; 4],
    /// ISNs of each tuple's last handshake (client, server).
    isn: [[u32; 2]; 4],
    t: i64,
    segments: u64,
    last_open: Option<ConnId>,
    data_bytes: u64,
    gaps: u64,
    gap_bytes: u64,
}

impl Harness {
    fn ts(&self) -> Timestamp {
        Timestamp::from_micros(self.t)
    }

    /// Feeds one segment of `tuple`; `handshake` is `Some((ic, is))` for
    /// the segments of a handshake the harness made.
    fn feed(&mut self, tuple: usize, seg: &TcpSegment<'_>, handshake: Option<(u32, u32)>) {
        let mut evs = Vec::new();
        let ts = self.ts();
        self.r.segment(ts, seg, &mut |e| evs.push(own(e)));
        self.segments += 1;
        let (tc, ts_) = tuples()[tuple];
        // 1. A connection opened by this segment is the tuple's current one.
        let mut opened = false;
        for e in &evs {
            if let Ev::Open {
                conn,
                client,
                server,
                mid_stream,
            } = e
            {
                opened = true;
                assert!(
                    self.last_open.is_none_or(|l| *conn > l),
                    "connection ids must grow: {conn} after {:?}",
                    self.last_open
                );
                self.last_open = Some(*conn);
                assert!(!self.epochs.contains_key(conn), "conn {conn} opened twice");
                let base = match handshake {
                    Some((ic, is))
                        if !mid_stream && *client == tc && *server == ts_ && tc != ts_ =>
                    {
                        Some([ic.wrapping_add(1), is.wrapping_add(1)])
                    }
                    _ => None,
                };
                self.epochs.insert(
                    *conn,
                    Epoch {
                        tuple,
                        client: *client,
                        base,
                        first: [HashMap::new(), HashMap::new()],
                        fin_sent: [false; 2],
                        next: [0; 2],
                        ended: [false; 2],
                        closed: false,
                        map: [Vec::new(), Vec::new()],
                    },
                );
                self.current[tuple] = Some(*conn);
            }
        }
        // 2. The model records the segment's bytes as the current
        // connection's, first copy wins.
        if let Some(ep) = self.current[tuple].and_then(|c| self.epochs.get_mut(&c)) {
            let d = if seg.src == ep.client { 0 } else { 1 };
            if seg.flags.fin {
                ep.fin_sent[d] = true;
            }
            let first = &mut ep.first[d];
            let seq0 = if seg.flags.syn {
                seg.seq.wrapping_add(1)
            } else {
                seg.seq
            };
            let wire = (seg.wire_len as usize).max(seg.payload.len());
            for i in 0..wire {
                let copy = seg
                    .payload
                    .get(i)
                    .map_or(Copy1::Missing, |&b| Copy1::Byte(b));
                first.entry(seq0.wrapping_add(i as u32)).or_insert(copy);
            }
        }
        // 3. Judge the events.
        let call = Call::Segment {
            syn: seg.flags.syn,
            rst: seg.flags.rst,
            opened,
        };
        self.judge(evs, call);
    }

    fn judge(&mut self, evs: Vec<Ev>, call: Call) {
        for e in evs {
            let conn = match &e {
                Ev::Open { .. } => continue,
                Ev::Data { conn, .. }
                | Ev::Gap { conn, .. }
                | Ev::End { conn, .. }
                | Ev::Close { conn, .. }
                | Ev::Note { conn, .. } => *conn,
            };
            let quiet = self.quiet;
            let Some(ep) = self.epochs.get_mut(&conn) else {
                panic!("event for a connection never opened: {e:?}");
            };
            assert!(!ep.closed, "event after Close: {e:?}");
            match e {
                Ev::Open { .. } => {}
                Ev::Data {
                    dir, offset, bytes, ..
                } => {
                    let d = dir.idx();
                    assert!(!ep.ended[d], "Data after End: conn {conn} {dir:?}");
                    assert!(!bytes.is_empty(), "empty Data");
                    assert_eq!(
                        offset, ep.next[d],
                        "Data not contiguous: conn {conn} {dir:?}"
                    );
                    ep.next[d] += bytes.len() as u64;
                    self.data_bytes += bytes.len() as u64;
                    if let Some(base) = ep.base {
                        for (i, &b) in bytes.iter().enumerate() {
                            let o = offset + i as u64;
                            let seq = base[d].wrapping_add(o as u32);
                            let want = ep.first[d].get(&seq);
                            assert_eq!(
                                want,
                                Some(&Copy1::Byte(b)),
                                "conn {conn} {dir:?} offset {o} (seq {seq}): delivered {b:#04x}, first copy sent {want:?}"
                            );
                        }
                    }
                    if quiet {
                        ep.map[d].extend(bytes.iter().map(|&b| Some(b)));
                    }
                }
                Ev::Gap {
                    dir, offset, len, ..
                } => {
                    let d = dir.idx();
                    assert!(!ep.ended[d], "Gap after End: conn {conn} {dir:?}");
                    assert!(len > 0, "empty Gap");
                    assert_eq!(
                        offset, ep.next[d],
                        "Gap not contiguous: conn {conn} {dir:?}"
                    );
                    ep.next[d] += len;
                    self.gaps += 1;
                    self.gap_bytes += len;
                    if quiet {
                        assert!(len < 1 << 20, "quiet mode: gap of {len} bytes");
                        ep.map[d].extend(std::iter::repeat_n(None, len as usize));
                    }
                }
                Ev::End { dir, reason, .. } => {
                    let d = dir.idx();
                    assert!(!ep.ended[d], "second End: conn {conn} {dir:?}");
                    ep.ended[d] = true;
                    if reason == EndReason::Fin {
                        assert!(
                            ep.fin_sent[d],
                            "End(Fin) without a FIN: conn {conn} {dir:?}"
                        );
                    } else {
                        check_reason(reason, call);
                    }
                }
                Ev::Close { reason, .. } => {
                    assert!(ep.ended[0] && ep.ended[1], "Close before both Ends: {conn}");
                    ep.closed = true;
                    if reason == EndReason::Fin {
                        assert!(ep.fin_sent[0] && ep.fin_sent[1], "Close(Fin) without FINs");
                    } else {
                        check_reason(reason, call);
                    }
                }
                Ev::Note { text, .. } => {
                    assert!(!text.is_empty() && !text.contains('\n'), "note {text:?}");
                }
            }
        }
    }

    fn handshake(&mut self, t: usize, ic: u32, is: u32) {
        self.isn[t] = [ic, is];
        let (c, s) = tuples()[t];
        let syn = TcpSegment {
            src: c,
            dst: s,
            seq: ic,
            ack: 0,
            flags: TcpFlags {
                syn: true,
                ..TcpFlags::default()
            },
            window: 65535,
            payload: &[],
            wire_len: 0,
        };
        self.feed(t, &syn, Some((ic, is)));
        let synack = TcpSegment {
            src: s,
            dst: c,
            seq: is,
            ack: ic.wrapping_add(1),
            flags: TcpFlags {
                syn: true,
                ack: true,
                ..TcpFlags::default()
            },
            ..syn
        };
        self.feed(t, &synack, Some((ic, is)));
    }

    /// A segment of tuple `t` from the client (or the server).
    fn seg<'p>(&self, t: usize, server: bool, rel: i16, ack: Option<i16>) -> TcpSegment<'p> {
        let (c, s) = tuples()[t];
        let (src, dst, d) = if server { (s, c, 1) } else { (c, s, 0) };
        TcpSegment {
            src,
            dst,
            seq: self.isn[t][d]
                .wrapping_add(1)
                .wrapping_add(i32::from(rel) as u32),
            ack: ack.map_or(0, |a| {
                self.isn[t][1 - d]
                    .wrapping_add(1)
                    .wrapping_add(i32::from(a) as u32)
            }),
            flags: TcpFlags {
                ack: ack.is_some(),
                ..TcpFlags::default()
            },
            window: 65535,
            payload: &[],
            wire_len: 0,
        }
    }

    /// Decodes and applies one operation.
    fn op(&mut self, inp: &mut Bytes<'_>) {
        let k = inp.u8();
        let t = usize::from((k >> 3) & 3) % self.tuples;
        let server = k & 0x20 != 0;
        let fa = k & 0x40 != 0;
        let fb = k & 0x80 != 0;
        let quiet = self.quiet;
        match k & 7 {
            0..=3 => {
                let rel = inp.i16();
                let len = usize::from(inp.u8());
                let v = inp.u8();
                let extra = if v & 4 != 0 {
                    u32::from(inp.u8()) * 4
                } else {
                    0
                };
                let ack = fa.then(|| inp.i16()).filter(|_| !quiet);
                let mut seg = self.seg(t, server, rel, ack);
                let payload: Vec<u8> = (0..len)
                    .map(|i| byte_at(seg.seq.wrapping_add(i as u32), v & 3))
                    .collect();
                seg.payload = &payload;
                seg.wire_len = len as u32 + extra;
                seg.flags.fin = k & 7 == 3 && !quiet;
                seg.flags.psh = v & 8 != 0;
                self.feed(t, &seg, None);
            }
            4 => {
                let ic = read_isn(inp);
                let is = read_isn(inp);
                if !quiet {
                    self.handshake(t, ic, is);
                }
            }
            5 => {
                let sub = inp.u8() % 5;
                let seg = match sub {
                    0 => {
                        let rel = inp.i16();
                        let ack = fa.then(|| inp.i16());
                        let mut s = self.seg(t, server, rel, ack);
                        s.flags.rst = true;
                        s
                    }
                    1 => {
                        let seq = read_isn(inp);
                        let mut s = self.seg(t, server, 0, None);
                        s.seq = seq;
                        s.flags.syn = true;
                        s
                    }
                    2 => {
                        let seq = read_isn(inp);
                        let ack = inp.i16();
                        // A SYN-ACK normally comes from the server.
                        let mut s = self.seg(t, !server, 0, Some(ack));
                        s.seq = seq;
                        s.flags.syn = true;
                        s
                    }
                    3 => {
                        let ack = inp.i16();
                        self.seg(t, server, 0, Some(ack))
                    }
                    _ => {
                        let rel = inp.i16();
                        let ack = fa.then(|| inp.i16());
                        let mut s = self.seg(t, server, rel, ack);
                        s.flags.fin = true;
                        s
                    }
                };
                if !quiet {
                    self.feed(t, &seg, None);
                }
            }
            6 => {
                let d = i64::from(inp.u8()) * 10_000;
                if !quiet {
                    self.t += if fb { -d } else { d };
                    if fa {
                        let mut evs = Vec::new();
                        let ts = self.ts();
                        self.r.expire(ts, &mut |e| evs.push(own(e)));
                        self.judge(evs, Call::Expire);
                    }
                }
            }
            _ => {
                let rel = inp.i16();
                let n = usize::from(inp.u8() % 64);
                let bytes = inp.take(n);
                let mut seg = self.seg(t, server, rel, None);
                seg.payload = bytes;
                seg.wire_len = bytes.len() as u32;
                self.feed(t, &seg, None);
            }
        }
    }

    fn finish(mut self) {
        let mut evs = Vec::new();
        let ts = self.ts();
        self.r.finish(ts, &mut |e| evs.push(own(e)));
        self.judge(evs, Call::Finish);
        assert_eq!(self.r.held_bytes(), 0, "bytes still held after finish");
        assert_eq!(
            self.r.live_connections(),
            0,
            "connections open after finish"
        );
        for (id, ep) in &self.epochs {
            assert!(ep.closed, "conn {id} never closed");
        }
        let st = self.r.stats();
        assert_eq!(st.segments, self.segments, "stats.segments");
        assert_eq!(
            st.connections,
            self.epochs.len() as u64,
            "stats.connections"
        );
        assert_eq!(st.bytes, self.data_bytes, "stats.bytes");
        assert_eq!(st.gaps, self.gaps, "stats.gaps");
        assert_eq!(st.gap_bytes, self.gap_bytes, "stats.gap_bytes");
        if self.quiet {
            self.check_quiet();
        }
    }

    /// Quiet mode: each tuple had one connection, from the harness's
    /// handshake, and each direction is exactly the model's stream.
    fn check_quiet(&self) {
        assert_eq!(
            self.epochs.len(),
            self.tuples,
            "quiet: one connection per tuple"
        );
        for ep in self.epochs.values() {
            let base = ep.base.expect("quiet: every connection has a known base");
            for (d, &base) in base.iter().enumerate() {
                let mut want: Vec<Option<u8>> = Vec::new();
                for (&seq, copy) in &ep.first[d] {
                    let o = seq.wrapping_sub(base) as i32;
                    let Ok(o) = usize::try_from(o) else { continue };
                    if want.len() <= o {
                        want.resize(o + 1, None);
                    }
                    if let Copy1::Byte(b) = copy {
                        want[o] = Some(*b);
                    }
                }
                if ep.map[d] != want {
                    let at = ep.map[d]
                        .iter()
                        .zip(&want)
                        .position(|(a, b)| a != b)
                        .unwrap_or(want.len().min(ep.map[d].len()));
                    panic!(
                        "quiet: tuple {} dir {d}: delivered {} bytes, model {}; first difference at offset {at}: {:?} vs {:?}",
                        ep.tuple,
                        ep.map[d].len(),
                        want.len(),
                        ep.map[d].get(at),
                        want.get(at)
                    );
                }
            }
        }
    }
}

/// A non-FIN end reason must fit what the reassembler was doing.
fn check_reason(reason: EndReason, call: Call) {
    let ok = match (reason, call) {
        (EndReason::Rst, Call::Segment { rst, .. }) => rst,
        (EndReason::Replaced, Call::Segment { syn, .. }) => syn,
        (EndReason::Idle, Call::Segment { opened, .. }) => opened,
        (EndReason::Idle, Call::Expire) => true,
        (EndReason::CaptureEnd, Call::Finish) => true,
        _ => false,
    };
    assert!(ok, "end reason {reason:?} during {call:?}");
}

/// Runs one fuzz input.
pub fn run(data: &[u8]) {
    let mut inp = Bytes::new(data);
    let cfg = inp.u8();
    let quiet = cfg & 1 != 0;
    let mut tuples = 1 + usize::from(inp.u8() % 4);
    if quiet {
        // The last tuple talks to itself: not a two-sided stream.
        tuples = tuples.min(3);
    }
    let (per_stream, total) = match (cfg >> 1) & 3 {
        _ if quiet => (1 << 24, 1 << 24),
        0 => (1 << 24, 1 << 24),
        1 => (600, 1000),
        2 => (64, 100),
        _ => (1 << 24, 300),
    };
    let config = Config {
        max_buffered_per_stream: per_stream,
        max_buffered_total: total,
        gap_timeout_us: if cfg & 8 != 0 && !quiet {
            500_000
        } else {
            i64::MAX
        },
        idle_timeout_us: (cfg & 16 != 0 && !quiet).then_some(2_000_000),
        server_ports: if cfg & 128 != 0 { vec![4444] } else { vec![] },
        max_connections: if cfg & 32 != 0 && !quiet { 1 } else { 8 },
        // With the idle timeout: short enough that time moving on also
        // forgets closed connections.
        tomb_ttl_us: if cfg & 16 != 0 && !quiet {
            1_000_000
        } else {
            60_000_000
        },
    };
    let mut h = Harness {
        r: Reassembler::new(config),
        quiet,
        tuples,
        epochs: HashMap::new(),
        current: [None; 4],
        isn: [[0; 2]; 4],
        t: 1_000_000_000,
        segments: 0,
        last_open: None,
        data_bytes: 0,
        gaps: 0,
        gap_bytes: 0,
    };
    if quiet || cfg & 64 == 0 {
        for t in 0..tuples {
            let ic = read_isn(&mut inp);
            let is = read_isn(&mut inp);
            h.handshake(t, ic, is);
        }
    }
    let mut ops = 0;
    while !inp.is_empty() && ops < 4096 {
        ops += 1;
        h.op(&mut inp);
    }
    h.finish();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The model and the reassembler agree on a plain exchange in quiet
    /// mode, with wrap-around, reordering, a differing overlap and a cut.
    #[test]
    fn quiet_exchange_matches_the_model() {
        let d = |rel, len, variant, extra| Op::Data {
            tuple: 0,
            server: false,
            rel,
            len,
            variant,
            extra,
            ack: None,
            fin: false,
            psh: true,
        };
        let input = encode(
            1,
            1,
            &[(u32::MAX - 3, 7)],
            &[
                d(100, 50, 0, None),
                d(0, 60, 0, None),
                d(40, 100, 1, None),
                d(200, 10, 0, Some(3)),
                d(-5, 10, 2, None),
            ],
        );
        run(&input);
        // Everything else too: every operation, not quiet.
        let all = vec![
            d(0, 10, 0, None),
            Op::Literal {
                tuple: 1,
                server: true,
                rel: 0,
                bytes: b"hello".to_vec(),
            },
            Op::Handshake {
                tuple: 1,
                ic: 5,
                is: u32::MAX,
            },
            Op::Rst {
                tuple: 0,
                server: true,
                rel: 0,
                ack: Some(3),
            },
            Op::Syn {
                tuple: 2,
                server: false,
                seq: 9,
            },
            Op::SynAck {
                tuple: 2,
                server: false,
                seq: 99,
                ack: 0,
            },
            Op::Ack {
                tuple: 2,
                server: false,
                ack: 400,
            },
            Op::Fin {
                tuple: 1,
                server: false,
                rel: 0,
                ack: None,
            },
            Op::Time {
                tens_of_ms: 255,
                back: false,
                expire: true,
            },
        ];
        for cfg in [0u8, 0x1e, 0x7e, 0xfe] {
            run(&encode(cfg, 4, &[(1, 2), (3, 4), (5, 6), (7, 8)], &all));
        }
    }
}
