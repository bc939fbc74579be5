//! The reassembler's vocabulary: the [`Event`]s it reports, why a
//! direction or connection ended ([`EndReason`]), its [`Config`] and its
//! [`Stats`]. Both the reassembler and its per-direction streams use these;
//! neither is imported by this module.

use std::net::SocketAddr;

use qscope_dissectors::{Dir, Severity};

use crate::capture::Timestamp;

/// Identifies a connection in events; never reused within a reassembler.
pub type ConnId = u64;

/// Why a direction ended or a connection closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// FIN: every byte of the direction was reported (both directions, for
    /// a `Close`).
    Fin,
    /// A RST was seen.
    Rst,
    /// No packet for longer than the idle timeout, or evicted by the
    /// connection limit.
    Idle,
    /// [`Reassembler::finish`](super::Reassembler::finish).
    CaptureEnd,
    /// A new SYN reused the 4-tuple.
    Replaced,
    /// Closed by its owner to keep within a memory budget
    /// ([`Reassembler::close_conn`](super::Reassembler::close_conn)).
    Limit,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Fin => "fin",
            EndReason::Rst => "rst",
            EndReason::Idle => "idle",
            EndReason::CaptureEnd => "capture-end",
            EndReason::Replaced => "replaced",
            EndReason::Limit => "limit",
        }
    }
}

/// What the reassembler reports, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// A new connection. `client` opened it (sent the SYN); for a connection
    /// picked up mid-stream (no SYN seen) the side judged to be the client.
    Open {
        conn: ConnId,
        client: SocketAddr,
        server: SocketAddr,
        ts: Timestamp,
        mid_stream: bool,
    },
    /// In-order bytes of one direction; `offset` is the stream offset of
    /// `bytes[0]`. Offsets of successive Data/Gap events of a direction are
    /// contiguous. Never empty.
    Data {
        conn: ConnId,
        dir: Dir,
        offset: u64,
        bytes: &'a [u8],
        ts: Timestamp,
    },
    /// Bytes `[offset, offset + len)` of `dir` will never be delivered.
    /// `len > 0`.
    Gap {
        conn: ConnId,
        dir: Dir,
        offset: u64,
        len: u64,
        ts: Timestamp,
    },
    /// No more bytes in `dir`.
    End {
        conn: ConnId,
        dir: Dir,
        ts: Timestamp,
        reason: EndReason,
    },
    /// The connection is finished; no more events for it.
    Close {
        conn: ConnId,
        ts: Timestamp,
        reason: EndReason,
    },
    /// Expert note from the TCP layer.
    Note {
        conn: ConnId,
        dir: Option<Dir>,
        ts: Timestamp,
        severity: Severity,
        text: String,
    },
}

/// Reassembly settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Out-of-order bytes held per direction (plus [`HELD_OVERHEAD`](super::HELD_OVERHEAD) per
    /// held entry).
    pub max_buffered_per_stream: usize,
    /// Out-of-order bytes held across all streams.
    pub max_buffered_total: usize,
    /// A hole older than this (capture time, microseconds) is a gap.
    pub gap_timeout_us: i64,
    /// A connection without packets for this long is closed by
    /// [`Reassembler::expire`](super::Reassembler::expire).
    pub idle_timeout_us: Option<i64>,
    /// Ports known to be servers, to orient mid-stream connections.
    pub server_ports: Vec<u16>,
    /// Live connections kept at most; beyond, the least recently active one
    /// is closed with a note.
    pub max_connections: usize,
    /// How long (capture time, microseconds) a closed connection is
    /// remembered so that its stray packets do not open a ghost connection.
    pub tomb_ttl_us: i64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_buffered_per_stream: 4 << 20,
            max_buffered_total: 256 << 20,
            gap_timeout_us: 1_000_000,
            idle_timeout_us: None,
            server_ports: Vec::new(),
            max_connections: 100_000,
            tomb_ttl_us: 60_000_000,
        }
    }
}

/// Counters over everything fed so far.
#[derive(Default, Debug, Clone)]
pub struct Stats {
    /// Segments fed.
    pub segments: u64,
    /// Bytes delivered in `Data` events.
    pub bytes: u64,
    /// Segments carrying no new byte (duplicates, retransmissions).
    pub retransmissions: u64,
    /// Segments whose bytes were (partly) held out of order.
    pub out_of_order: u64,
    /// `Gap` events.
    pub gaps: u64,
    /// Bytes reported in `Gap` events.
    pub gap_bytes: u64,
    /// Segments whose overlap with an earlier copy had different bytes.
    pub overlaps_differing: u64,
    /// Times a buffer or connection limit forced gaps or a close.
    pub limit_hits: u64,
    /// Connections opened.
    pub connections: u64,
}

impl Stats {
    /// Adds another reassembler's counters (shards of one analysis).
    pub fn add(&mut self, o: &Stats) {
        self.segments += o.segments;
        self.bytes += o.bytes;
        self.retransmissions += o.retransmissions;
        self.out_of_order += o.out_of_order;
        self.gaps += o.gaps;
        self.gap_bytes += o.gap_bytes;
        self.overlaps_differing += o.overlaps_differing;
        self.limit_hits += o.limit_hits;
        self.connections += o.connections;
    }
}
