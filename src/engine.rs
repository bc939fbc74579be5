//! The engine: packets in, records out.
//!
//! For each packet: [`layers::decode`] → [`Reassembler::segment`] → per
//! connection events. A new connection becomes a session that first
//! *detects* its protocol (decode-as override, then content probes, with the
//! server port as a hint) while holding its first bytes, then feeds both
//! directions through one [`Driver`] with the protocol's dissector. The
//! driver's items become [`Record`]s: messages get their index, the index of
//! the request they answer and the latency; notes and attributes are kept
//! for the session's end record.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use qscope_dissectors::{
    new_dissector, probe, proto_for_port, Dir, Driver, Item, Limits, MsgRef, Note, Options, Proto,
    SessionStart, Severity, Verdict,
};

use crate::capture::{CaptureError, Packet, Source, Timestamp};
use crate::layers::{self, Decoded};
use crate::reassembly::{self, ConnId, Event, Reassembler};
use crate::record::{
    Flow, MessageRecord, RangeRecord, Record, SessionEnd, SessionInfo, Sink, Summary,
};
use crate::stats::Collector;

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
    /// When raised, [`analyze`] stops reading the source (signals, `-c`).
    pub stop: Option<Arc<AtomicBool>>,
}

impl Default for Config {
    fn default() -> Config {
        let reassembly = reassembly::Config {
            server_ports: qscope_dissectors::WELL_KNOWN_PORTS
                .iter()
                .map(|(p, _)| *p)
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

/// Reads `source` to its end (or first error) and pushes records into `sink`.
pub fn analyze(
    source: &mut dyn Source,
    cfg: Config,
    sink: &mut dyn Sink,
) -> Result<Summary, AnalyzeError> {
    let stop = cfg.stop.clone();
    let mut engine = Engine::new(cfg, sink);
    let mut fault = None;
    loop {
        if stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed)) {
            break;
        }
        match source.next_packet() {
            Ok(Some(pkt)) => engine.packet(&pkt),
            Ok(None) => break,
            Err(e) => {
                fault = Some(e);
                break;
            }
        }
        if engine.done() {
            break;
        }
    }
    engine.table.out.collector.summary.dropped = source.dropped();
    let summary = engine.finish(fault.as_ref().map(|e| e.to_string()));
    match (summary, fault) {
        (Err(e), _) => Err(AnalyzeError::Output(e)),
        (Ok(_), Some(e)) => Err(AnalyzeError::Capture(e)),
        (Ok(s), None) => Ok(s),
    }
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

struct Session {
    info: SessionInfo,
    /// Client and server are the other way round from the reassembler's guess.
    swapped: bool,
    state: State,
    next_index: u64,
    /// Messages that later replies may refer to: where they start → (index, ts).
    refs: HashMap<MsgRef, (u64, Timestamp)>,
    ref_order: VecDeque<MsgRef>,
    notes: Vec<Note>,
    attrs: Vec<(&'static str, String)>,
    last_ts: Timestamp,
    pending: Option<PendingRange>,
}

/// Where records go: the user's sink and the statistics collector.
struct Out<'s> {
    sink: &'s mut dyn Sink,
    collector: Collector,
    /// The first write error; nothing more is written after it.
    error: Option<io::Error>,
    /// The sink asked to stop ([`Flow::Stop`]): no more packets are read;
    /// sessions still end and the summary is still written.
    stopped: bool,
    /// Sessions announced so far (their ids are "s1", "s2", ...).
    announced: u64,
}

/// Sessions plus the output; separate from the reassembler so reassembly
/// events can be handled while the reassembler is borrowed, and the output
/// separate from the sessions so a session can be written about in place.
struct Table<'s> {
    cfg: Config,
    /// The packet being analysed (the last one, at the end).
    frame: u64,
    /// Timestamp of the capture's first packet (`SessionInfo::t0`).
    t0: Option<Timestamp>,
    sessions: HashMap<ConnId, Session>,
    out: Out<'s>,
    /// Reused buffer for the driver's items.
    items: Vec<Item>,
}

/// Packet-at-a-time analysis.
pub struct Engine<'s> {
    reasm: Reassembler,
    table: Table<'s>,
    last_ts: Timestamp,
}

impl<'s> Engine<'s> {
    pub fn new(cfg: Config, sink: &'s mut dyn Sink) -> Engine<'s> {
        Engine {
            reasm: Reassembler::new(cfg.reassembly.clone()),
            table: Table {
                cfg,
                frame: 0,
                t0: None,
                sessions: HashMap::new(),
                out: Out {
                    sink,
                    collector: Collector::default(),
                    error: None,
                    stopped: false,
                    announced: 0,
                },
                items: Vec::new(),
            },
            last_ts: Timestamp::default(),
        }
    }

    /// True once writing to the sink has failed or the sink asked to stop
    /// (feed no more packets; [`Engine::finish`] still ends every session).
    pub fn done(&self) -> bool {
        self.table.out.error.is_some() || self.table.out.stopped
    }

    /// Analyses one captured packet.
    pub fn packet(&mut self, pkt: &Packet<'_>) {
        let s = &mut self.table.out.collector.summary;
        s.packets += 1;
        if (pkt.data.len() as u64) < u64::from(pkt.orig_len) {
            s.cut_packets += 1;
        }
        self.last_ts = self.last_ts.max(pkt.ts);
        self.table.frame = pkt.num;
        self.table.t0.get_or_insert(pkt.ts);
        match layers::decode(pkt.link, pkt.data, pkt.orig_len) {
            Ok(Decoded::Tcp(seg)) => {
                self.table.out.collector.summary.tcp_segments += 1;
                let table = &mut self.table;
                self.reasm.segment(pkt.ts, &seg, &mut |ev| table.event(ev));
            }
            Ok(Decoded::NotTcp) => s.non_tcp_packets += 1,
            Ok(Decoded::Fragment) => s.ip_fragments += 1,
            Err(e) => {
                s.malformed_packets += 1;
                if s.malformed_examples.len() < 10 {
                    s.malformed_examples.push(format!("frame {}: {e}", pkt.num));
                }
            }
        }
    }

    /// Live capture: closes idle connections and overdue holes.
    pub fn expire(&mut self, now: Timestamp) {
        let table = &mut self.table;
        self.reasm.expire(now, &mut |ev| table.event(ev));
    }

    /// Ends the analysis: flushes every connection and writes the summary.
    pub fn finish(mut self, error: Option<String>) -> io::Result<Summary> {
        let table = &mut self.table;
        self.reasm.finish(self.last_ts, &mut |ev| table.event(ev));
        let mut summary = std::mem::take(&mut self.table.out.collector.summary);
        summary.tcp = self.reasm.stats().clone();
        summary.error = error;
        if let Some(e) = self.table.out.error.take() {
            return Err(e);
        }
        self.table.out.sink.finish(&summary)?;
        Ok(summary)
    }
}

impl Out<'_> {
    fn emit(&mut self, rec: Record<'_>) {
        if self.error.is_some() {
            return;
        }
        // The collector only counts; it cannot fail.
        let _ = self.collector.record(&rec);
        match self.sink.record(&rec) {
            Ok(Flow::Continue) => {}
            Ok(Flow::Stop) => self.stopped = true,
            Err(e) => self.error = Some(e),
        }
    }

    /// Gives the session its id and writes its `session` record.
    fn announce(&mut self, s: &mut Session) {
        self.announced += 1;
        s.info.id = format!("s{}", self.announced);
        self.emit(Record::Session(&s.info));
    }

    /// Writes the session's pending undecoded range, if any.
    fn flush_pending(&mut self, s: &mut Session) {
        if let Some(p) = s.pending.take() {
            let mut r = range(&s.info, p.dir, p.offset, p.len, p.at, Some(&p.reason));
            r.severity = p.severity;
            self.emit(Record::Undecoded(r));
        }
    }

    /// Turns one driver item into records (or session notes/attributes).
    fn item(&mut self, s: &mut Session, item: Item, at: At, max_refs: usize) {
        let ts = at.ts;
        if matches!(item, Item::Message(_) | Item::Gap { .. }) {
            self.flush_pending(s);
        }
        match item {
            Item::Message(msg) => {
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
                    if s.ref_order.len() > max_refs {
                        if let Some(old) = s.ref_order.pop_front() {
                            s.refs.remove(&old);
                        }
                    }
                }
                self.emit(Record::Message(MessageRecord {
                    session: &s.info,
                    index,
                    ts,
                    frame: at.frame,
                    msg: &msg,
                    reply_to,
                    latency_us,
                    links: &links,
                }));
            }
            Item::Undecoded {
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
            Item::Gap { dir, offset, len } => {
                self.emit(Record::Gap(range(&s.info, dir, offset, len, at, None)));
            }
            Item::SessionNote(n) => s.notes.push(n),
            Item::Attr(k, v) => match s.attrs.iter_mut().find(|(key, _)| *key == k) {
                Some(slot) => slot.1 = v,
                None => s.attrs.push((k, v)),
            },
        }
    }
}

impl Table<'_> {
    fn event(&mut self, ev: Event<'_>) {
        let frame = self.frame;
        let at = |ts| At { ts, frame };
        match ev {
            Event::Open {
                conn,
                client,
                server,
                ts,
                mid_stream,
            } => {
                let info = SessionInfo {
                    id: String::new(),
                    proto: Proto::Unknown,
                    client,
                    server,
                    start: ts,
                    t0: self.t0.unwrap_or(ts),
                    mid_stream,
                };
                self.sessions.insert(
                    conn,
                    Session {
                        info,
                        swapped: false,
                        state: State::Detecting {
                            held: Vec::new(),
                            prefix: [Vec::new(), Vec::new()],
                            prefix_done: [false, false],
                        },
                        next_index: 0,
                        refs: HashMap::new(),
                        ref_order: VecDeque::new(),
                        notes: Vec::new(),
                        attrs: Vec::new(),
                        last_ts: ts,
                        pending: None,
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
                    s.notes.push(Note::new(severity, text));
                }
            }
        }
    }

    fn data(&mut self, conn: ConnId, dir: Dir, offset: u64, bytes: &[u8], at: At) {
        let probe_bytes = self.cfg.probe_bytes;
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        s.last_ts = at.ts;
        if let State::Detecting {
            held,
            prefix,
            prefix_done,
        } = &mut s.state
        {
            let p = &mut prefix[dir.idx()];
            if !prefix_done[dir.idx()] && offset == p.len() as u64 {
                let room = probe_bytes.saturating_sub(p.len());
                p.extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
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
        self.feed(
            conn,
            at,
            |d, out| d.data(dir, offset, bytes, out),
            |out, reason| {
                out(Item::Undecoded {
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
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        s.last_ts = at.ts;
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
            |out, _| out(Item::Gap { dir, offset, len }),
        );
    }

    fn end(&mut self, conn: ConnId, dir: Dir, at: At) {
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
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
        if s.info.id.is_empty() {
            // Never announced (no payload at all): announce now so nothing is silent.
            self.out.announce(&mut s);
        }
        self.out.flush_pending(&mut s);
        let end = SessionEnd {
            session: &s.info,
            end: s.last_ts.max(at.ts),
            messages: s.next_index,
            notes: &s.notes,
            attrs: &s.attrs,
        };
        self.out.emit(Record::SessionEnd(end));
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
        let ports = [s.info.server.port(), s.info.client.port()];
        let forced = ports.iter().find_map(|p| {
            self.cfg
                .decode_as
                .iter()
                .find(|(port, _)| port == p)
                .map(|(_, proto)| (*p, *proto))
        });
        let hint = ports.iter().find_map(|p| proto_for_port(*p));
        let decision = match forced {
            Some((port, proto)) => Some((
                proto,
                port == s.info.client.port() && port != s.info.server.port(),
                None,
            )),
            None => {
                let mut order: Vec<Proto> = hint.into_iter().collect();
                order.extend(Proto::KNOWN.iter().copied().filter(|p| Some(*p) != hint));
                let mut waiting = false;
                let mut hint_undecided = false;
                let mut found = None;
                let mut reason = None;
                for proto in order {
                    match probe(proto, &prefix[0], &prefix[1], start) {
                        Verdict::Match { swap } => {
                            found = Some((proto, swap, None));
                            break;
                        }
                        Verdict::NeedMore => {
                            waiting = true;
                            hint_undecided |= Some(proto) == hint;
                        }
                        Verdict::NoMatch(r) => reason = reason.or(r),
                    }
                }
                match (found, hint) {
                    (Some(f), _) => Some(f),
                    _ if waiting && !force => None,
                    // Out of bytes or time: the port's protocol, unless its
                    // own probe ruled it out.
                    (None, Some(h)) if hint_undecided => Some((h, false, None)),
                    (None, _) => Some((
                        Proto::Unknown,
                        false,
                        Some(reason.unwrap_or("protocol not recognised")),
                    )),
                }
            }
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
        s.state = match (proto, new_dissector(proto, start, self.cfg.opts)) {
            (Proto::Unknown, _) | (_, None) => {
                let reason = reason.unwrap_or("no dissector for this protocol");
                s.notes.push(Note::info(reason));
                State::Undecoded { reason }
            }
            (_, Some(d)) => State::Decoding(Box::new(Driver::new(d, self.cfg.limits))),
        };
        if let Some((port, _)) = forced {
            s.notes.push(Note::info(format!(
                "decoded as {proto} by --decode-as {port}={proto}"
            )));
        }
        self.out.announce(s);
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
    /// out into records.
    fn feed(
        &mut self,
        conn: ConnId,
        at: At,
        f: impl FnOnce(&mut Driver, &mut dyn FnMut(Item)),
        g: impl FnOnce(&mut dyn FnMut(Item), &'static str),
    ) {
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        let mut items = std::mem::take(&mut self.items);
        match &mut s.state {
            State::Decoding(driver) => f(driver, &mut |i| items.push(i)),
            State::Undecoded { reason } => g(&mut |i| items.push(i), reason),
            State::Detecting { .. } => {}
        }
        for item in items.drain(..) {
            self.out.item(s, item, at, self.cfg.max_pending_refs);
        }
        self.items = items;
    }
}

fn range<'a>(
    info: &'a SessionInfo,
    dir: Dir,
    offset: u64,
    len: u64,
    at: At,
    reason: Option<&'a str>,
) -> RangeRecord<'a> {
    RangeRecord {
        session: info,
        dir,
        offset,
        len,
        ts: at.ts,
        frame: at.frame,
        reason,
        severity: if reason.is_some() {
            Severity::Info
        } else {
            Severity::Warn
        },
    }
}
