//! The record contract: what the engine reports and every consumer reads.
//!
//! The engine pushes [`Record`]s, in the order it learns of them, into a
//! [`Sink`]: the JSONL/JSON/EK writers, the text printer, the statistics,
//! the display filter's selection, the terminal UI and tests are all sinks.
//! A sink answers each record with [`Flow`]: go on, or stop the analysis
//! (as ripgrep's sinks do). The final [`Summary`] closes every analysis.
//!
//! This module depends on the capture timestamp, the TCP statistics and
//! the dissectors' message model only; the filter, the statistics, the
//! writers and the TUI depend on it, never the other way round.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;

use qscope_dissectors::{Dir, Kind, Message, Note, Proto, Severity};

use crate::capture::Timestamp;
use crate::reassembly;

mod distinct;
mod latency;

pub use distinct::{Distinct, EXACT_DISTINCT};
pub use latency::{Latency, Percentiles, EXACT_SAMPLES, MAX_RELATIVE_ERROR};

/// What a sink wants after a record: more, or the end of the analysis
/// (`-c COUNT` reached, a view complete, the reader gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

impl Flow {
    pub fn is_stop(self) -> bool {
        self == Flow::Stop
    }
}

/// What the engine knows about a session when it announces it.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// Unique within one run: "s1", "s2", ...
    pub id: String,
    pub proto: Proto,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Timestamp of the session's first packet.
    pub start: Timestamp,
    /// Timestamp of the capture's first packet: the one reference that
    /// relative times count from, in every output and view (as tshark's
    /// `frame.time_relative`), whatever the filter or the session.
    pub t0: Timestamp,
    /// The connection's start was not captured.
    pub mid_stream: bool,
}

/// A message as the engine reports it: the dissector's message plus where it
/// sits in the session.
#[derive(Debug)]
pub struct MessageRecord<'a> {
    pub session: &'a SessionInfo,
    /// 0-based position within the session, both directions, time order.
    pub index: u64,
    /// Timestamp of the packet that completed the message.
    pub ts: Timestamp,
    /// Number of that packet in the capture, from 1 (as Wireshark counts).
    pub frame: u64,
    pub msg: &'a Message,
    /// Index of the request this message answers.
    pub reply_to: Option<u64>,
    pub latency_us: Option<i64>,
    /// `msg.links` resolved to message indexes (unknown ones left out).
    pub links: &'a [(&'static str, u64)],
}

/// Bytes of a stream that are not a message (`gap` when they are missing).
#[derive(Debug)]
pub struct RangeRecord<'a> {
    pub session: &'a SessionInfo,
    pub dir: Dir,
    pub offset: u64,
    pub len: u64,
    pub ts: Timestamp,
    /// The packet at which the range became known (from 1).
    pub frame: u64,
    /// `None` for a gap (bytes missing from the capture).
    pub reason: Option<&'a str>,
    pub severity: Severity,
}

/// What is known about a session when it ends.
#[derive(Debug)]
pub struct SessionEnd<'a> {
    pub session: &'a SessionInfo,
    pub end: Timestamp,
    pub messages: u64,
    /// The session's distinct notes, each with how often it was made.
    pub notes: &'a [(Note, u64)],
    pub attrs: &'a [(&'static str, String)],
}

/// The attribute a dissector sets to say where its session is in the
/// protocol ("negotiating"; empty: nothing particular), when that changes.
/// The engine passes each setting on ([`Record::Attr`]) without keeping
/// it: the session's end lists only the attributes that describe the
/// session (user, account, ...).
pub const STATE_ATTR: &str = "state";

/// A session attribute the dissector set or changed (`user`, `account`,
/// [`STATE_ATTR`], ...), reported when it happens. Writers ignore it: the
/// session's attributes are in its [`SessionEnd`].
#[derive(Debug)]
pub struct AttrRecord<'a> {
    pub session: &'a SessionInfo,
    pub key: &'static str,
    pub value: &'a str,
}

/// Reassembled bytes of a session, in stream order per direction (only
/// when the analysis was asked to keep them: `follow`, the TUI's views).
#[derive(Debug)]
pub struct BytesRecord<'a> {
    pub session: &'a SessionInfo,
    pub dir: Dir,
    /// Stream offset of `data[0]`.
    pub offset: u64,
    pub data: &'a [u8],
}

/// One thing the analysis learned, in the order it learned it.
#[derive(Debug)]
pub enum Record<'a> {
    Session(&'a SessionInfo),
    Message(MessageRecord<'a>),
    Gap(RangeRecord<'a>),
    Undecoded(RangeRecord<'a>),
    SessionEnd(SessionEnd<'a>),
    /// Reassembled bytes (opt-in: `engine::Config::keep_bytes`).
    Bytes(BytesRecord<'a>),
    /// A session attribute set or changed (every writer ignores it).
    Attr(AttrRecord<'a>),
}

impl Record<'_> {
    /// The session the record is about.
    pub fn session(&self) -> &SessionInfo {
        match self {
            Record::Session(s) => s,
            Record::Message(m) => m.session,
            Record::Gap(r) | Record::Undecoded(r) => r.session,
            Record::SessionEnd(e) => e.session,
            Record::Bytes(b) => b.session,
            Record::Attr(a) => a.session,
        }
    }
}

/// A consumer of records.
pub trait Sink {
    /// One record; the answer says whether the analysis should go on.
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow>;
    /// End of the analysis (also after a capture error or a [`Flow::Stop`]).
    fn finish(&mut self, summary: &Summary) -> io::Result<()>;
}

impl<S: Sink + ?Sized> Sink for &mut S {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
        (**self).record(rec)
    }
    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        (**self).finish(summary)
    }
}

/// Sends every record to several sinks in turn; stops when one of them
/// says so (the others still got the record).
pub struct Tee<'a>(pub Vec<&'a mut dyn Sink>);

impl Sink for Tee<'_> {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
        let mut flow = Flow::Continue;
        for s in &mut self.0 {
            if s.record(rec)?.is_stop() {
                flow = Flow::Stop;
            }
        }
        Ok(flow)
    }
    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        self.0.iter_mut().try_for_each(|s| s.finish(summary))
    }
}

/// A message record with owned parts, as kept by [`Collect`].
#[derive(Debug, Clone)]
pub struct Collected {
    pub session: String,
    pub index: u64,
    pub ts: Timestamp,
    pub frame: u64,
    pub msg: Message,
    pub reply_to: Option<u64>,
    pub latency_us: Option<i64>,
    pub links: Vec<(&'static str, u64)>,
}

/// Keeps every record as an owned value; for tests.
#[derive(Default, Debug)]
pub struct Collect {
    pub sessions: Vec<SessionInfo>,
    pub messages: Vec<Collected>,
    /// (session id, dir, offset, len, reason; None = gap)
    pub ranges: Vec<(String, Dir, u64, u64, Option<String>)>,
    pub session_notes: Vec<(String, Note)>,
    /// Attribute changes: (session id, key, value).
    pub attrs: Vec<(String, &'static str, String)>,
    pub summary: Option<Summary>,
}

impl Sink for Collect {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
        match rec {
            Record::Session(s) => self.sessions.push((*s).clone()),
            Record::Message(m) => self.messages.push(Collected {
                session: m.session.id.clone(),
                index: m.index,
                ts: m.ts,
                frame: m.frame,
                msg: m.msg.clone(),
                reply_to: m.reply_to,
                latency_us: m.latency_us,
                links: m.links.to_vec(),
            }),
            Record::Bytes(_) => {}
            Record::Attr(a) => self
                .attrs
                .push((a.session.id.clone(), a.key, a.value.to_string())),
            Record::Gap(r) | Record::Undecoded(r) => self.ranges.push((
                r.session.id.clone(),
                r.dir,
                r.offset,
                r.len,
                r.reason.map(str::to_owned),
            )),
            Record::SessionEnd(e) => {
                for n in e.notes {
                    self.session_notes.push((e.session.id.clone(), n.0.clone()));
                }
            }
        }
        Ok(Flow::Continue)
    }
    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        self.summary = Some(summary.clone());
        Ok(())
    }
}

/// Distinct message names kept per protocol (in [`ProtoStats::by_name`]
/// and in the `qscope stats` report): the first ones seen; the messages of
/// any further name count together as "folded" (the `(other)` row).
pub const NAME_CAP: usize = 1000;

/// Per message name (QMP command, QM function, ...).
#[derive(Debug, Clone, Default)]
pub struct NameStats {
    pub requests: u64,
    pub responses: u64,
    pub errors: u64,
    pub other: u64,
    /// Latencies of the replies (µs).
    pub latency: Latency,
}

impl NameStats {
    /// Messages counted.
    pub fn messages(&self) -> u64 {
        self.requests + self.responses + self.other
    }

    /// Counts message `m`.
    pub(crate) fn count(&mut self, m: &MessageRecord<'_>) {
        match m.msg.kind {
            Kind::Request => self.requests += 1,
            Kind::Response => self.responses += 1,
            _ => self.other += 1,
        }
        if m.msg.is_error {
            self.errors += 1;
        }
        if let Some(l) = m.latency_us {
            self.latency.add(l);
        }
    }

    /// Adds the counts of `o`.
    pub fn merge(&mut self, o: &NameStats) {
        self.requests += o.requests;
        self.responses += o.responses;
        self.errors += o.errors;
        self.other += o.other;
        self.latency.merge(&o.latency);
    }
}

/// Per protocol.
#[derive(Debug, Clone, Default)]
pub struct ProtoStats {
    pub sessions: u64,
    pub messages: u64,
    pub c2s: u64,
    pub s2c: u64,
    pub errors: u64,
    /// The first [`NAME_CAP`] distinct names.
    pub by_name: BTreeMap<String, NameStats>,
    /// The messages of every further name, together (`folded_names` of them).
    pub folded: NameStats,
    /// How many distinct names were folded (exact up to
    /// [`EXACT_DISTINCT`], beyond an estimate).
    pub folded_names: Distinct,
}

/// What the memory budget (`--memory-limit`) gave up, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryDrops {
    /// Times a decision was taken.
    pub cuts: u64,
    /// Bytes held out of order that became gaps early.
    pub reassembly_bytes: u64,
    /// Bytes of incomplete messages (driver buffers) reported undecoded.
    pub message_bytes: u64,
    /// Bytes held while detecting a protocol that detection had to decide on.
    pub detection_bytes: u64,
    /// Requests forgotten by pairing (later replies to them are unpaired).
    pub pairing_entries: u64,
    /// Connections closed early.
    pub connections: u64,
    /// Remembered closed connections forgotten (their later packets are
    /// no longer recognised as strays).
    pub forgotten_closed: u64,
}

impl MemoryDrops {
    pub fn add(&mut self, o: &MemoryDrops) {
        self.cuts += o.cuts;
        self.reassembly_bytes += o.reassembly_bytes;
        self.message_bytes += o.message_bytes;
        self.detection_bytes += o.detection_bytes;
        self.pairing_entries += o.pairing_entries;
        self.connections += o.connections;
        self.forgotten_closed += o.forgotten_closed;
    }

    pub fn is_empty(&self) -> bool {
        *self == MemoryDrops::default()
    }
}

/// The memory budget's figures for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// The limit, in bytes (`--memory-limit`).
    pub limit: u64,
    /// Highest memory the budget tracked at an epoch's end.
    pub peak: u64,
    /// What was given up, by kind.
    pub dropped: MemoryDrops,
}

/// Totals for one run, written as the `summary` record.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub packets: u64,
    pub tcp_segments: u64,
    pub non_tcp_packets: u64,
    pub ip_fragments: u64,
    pub malformed_packets: u64,
    pub cut_packets: u64,
    pub sessions: u64,
    pub messages: u64,
    pub undecoded_ranges: u64,
    pub undecoded_bytes: u64,
    pub gaps: u64,
    pub gap_bytes: u64,
    pub notes_by_severity: [u64; 3],
    pub tcp: reassembly::Stats,
    pub protos: BTreeMap<&'static str, ProtoStats>,
    /// The first few malformed packets, as "frame N: reason".
    pub malformed_examples: Vec<String>,
    /// Kernel/libpcap drop counters for live capture.
    pub dropped: Option<u64>,
    /// Why the analysis stopped early, if it did.
    pub error: Option<String>,
    /// With `-Y`: how many messages the filter selected.
    pub matched: Option<u64>,
    /// The memory budget: limit, peak, what was dropped.
    pub memory: MemoryStats,
}
