//! Where analysis results go. The engine pushes [`Record`]s into a [`Sink`]:
//! the JSONL and JSON exporters, the text printer, the statistics collector
//! and tests are all sinks.

pub mod ek;
pub mod json;
pub mod record;
pub mod select;
pub mod text;

use std::io;
use std::net::SocketAddr;

use qscope_dissectors::{Dir, Message, Note, Proto, Severity};

use crate::capture::Timestamp;
use crate::stats::Summary;

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
    pub notes: &'a [Note],
    pub attrs: &'a [(&'static str, String)],
}

/// One thing the analysis learned, in the order it learned it.
#[derive(Debug)]
pub enum Record<'a> {
    Session(&'a SessionInfo),
    Message(MessageRecord<'a>),
    Gap(RangeRecord<'a>),
    Undecoded(RangeRecord<'a>),
    SessionEnd(SessionEnd<'a>),
}

/// A consumer of records.
pub trait Sink {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<()>;
    /// End of the analysis (also after a capture error).
    fn finish(&mut self, summary: &Summary) -> io::Result<()>;
}

/// Sends every record to several sinks in turn.
pub struct Tee<'a>(pub Vec<&'a mut dyn Sink>);

impl Sink for Tee<'_> {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<()> {
        self.0.iter_mut().try_for_each(|s| s.record(rec))
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
    pub summary: Option<Summary>,
}

impl Sink for Collect {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<()> {
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
            Record::Gap(r) | Record::Undecoded(r) => self.ranges.push((
                r.session.id.clone(),
                r.dir,
                r.offset,
                r.len,
                r.reason.map(str::to_owned),
            )),
            Record::SessionEnd(e) => {
                for n in e.notes {
                    self.session_notes.push((e.session.id.clone(), n.clone()));
                }
            }
        }
        Ok(())
    }
    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        self.summary = Some(summary.clone());
        Ok(())
    }
}
