//! What a shard hands the merger: owned items, tagged with where they were
//! produced (a leaf shared by `shard` and `merge`).

use std::borrow::Cow;

use qscope_dissectors::{Dir, Message, Note, Severity};

use super::budget::{Dropped, Report};
use crate::capture::Timestamp;
use crate::reassembly;
use crate::record::SessionInfo;

/// Phases of a frame's items, in merge order.
pub(crate) const PHASE_CUT: u8 = 0;
pub(crate) const PHASE_PACKET: u8 = 1;
pub(crate) const PHASE_EXPIRE: u8 = 2;
/// Items of the end of the capture carry this frame.
pub(crate) const FRAME_END: u64 = u64::MAX;

/// A message with where it sits in its session.
#[derive(Debug)]
pub(crate) struct MsgItem {
    pub index: u64,
    pub ts: Timestamp,
    pub frame: u64,
    pub msg: Message,
    pub reply_to: Option<u64>,
    pub latency_us: Option<i64>,
    pub links: Vec<(&'static str, u64)>,
}

/// What a shard reports, owned, to cross to the merger.
#[derive(Debug)]
pub(crate) enum Item {
    /// The session is announced (its id is given by the merger).
    Session(SessionInfo),
    Message(Box<MsgItem>),
    Range {
        gap: bool,
        dir: Dir,
        offset: u64,
        len: u64,
        ts: Timestamp,
        frame: u64,
        reason: Option<Cow<'static, str>>,
        severity: Severity,
    },
    /// Reassembled bytes (only with `Config::keep_bytes`).
    Bytes {
        dir: Dir,
        offset: u64,
        data: Vec<u8>,
    },
    /// A session attribute set or changed.
    Attr {
        key: &'static str,
        value: String,
    },
    End {
        end: Timestamp,
        messages: u64,
        notes: Vec<(Note, u64)>,
        /// The attributes kept ([`STATE_ATTR`](crate::record::STATE_ATTR) is not).
        attrs: Vec<(&'static str, String)>,
    },
    /// What the merger leaves of an item it has emitted and dropped.
    Spent,
}

/// An item and where it was produced.
#[derive(Debug)]
pub(crate) struct Tagged {
    pub frame: u64,
    pub phase: u8,
    pub holder: u64,
    pub item: Item,
}

impl Tagged {
    pub fn key(&self) -> (u64, u8, u64) {
        (self.frame, self.phase, self.holder)
    }
}

/// What a shard hands the merger for one epoch.
#[derive(Debug, Default)]
pub(crate) struct ShardOut {
    pub items: Vec<Tagged>,
    pub report: Report,
    pub dropped: Dropped,
    /// The reassembler's counters so far.
    pub tcp: reassembly::Stats,
}
