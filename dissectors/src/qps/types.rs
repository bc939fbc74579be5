//! What the parts of the QPS dissector share: framing constants, the two
//! headers, a packet decoder's output and the session state.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;

use crate::toolkit::Cursor;
use crate::{Field, MsgRef, Note, Options, Value};

/// The version word of QPS 3.5 (D22).
pub(crate) const VERSION: [u8; 4] = [0x00, 0x3F, 0x00, 0x3F];
pub(super) const VERSION_WORD: u32 = 0x003F_003F;
/// Header size in both directions.
pub(crate) const HDR: usize = 18;
/// Sanity limit on Packet length / Length (section 8).
pub(crate) const MAX_LEN: u32 = 16 << 20;
/// Most entries remembered per table (names, handles, searches, pending).
pub(super) const MAX_TABLE: usize = 4096;
/// Most "unanswered at close" notes reported one by one.
pub(super) const MAX_UNANSWERED_NOTES: usize = 20;

/// Client → server header (section 2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReqHdr {
    pub session: u16,
    pub code: u16,
    pub version: u32,
    pub seq: u16,
    pub sub_len: u32,
    pub pkt_len: u32,
}

/// Server → client header (section 2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RespHdr {
    pub version: u32,
    pub code: u16,
    pub status: u16,
    pub seq: u16,
    pub flags: u32,
    pub length: u32,
}

/// The request header at the front (`None`: fewer than 18 bytes).
pub(super) fn req_hdr(b: &[u8]) -> Option<ReqHdr> {
    let mut c = Cursor::from(b, 0);
    Some(ReqHdr {
        session: c.u16()?.0,
        code: c.u16()?.0,
        version: c.u32()?.0,
        seq: c.u16()?.0,
        sub_len: c.u32()?.0,
        pkt_len: c.u32()?.0,
    })
}

/// The response header at the front (`None`: fewer than 18 bytes).
pub(super) fn resp_hdr(b: &[u8]) -> Option<RespHdr> {
    let mut c = Cursor::from(b, 0);
    Some(RespHdr {
        version: c.u32()?.0,
        code: c.u16()?.0,
        status: c.u16()?.0,
        seq: c.u16()?.0,
        flags: c.u32()?.0,
        length: c.u32()?.0,
    })
}

/// What a packet decoder produces besides the header.
#[derive(Debug, Default)]
pub(crate) struct Out {
    pub fields: Vec<Field>,
    pub notes: Vec<Note>,
    /// The packet-specific part of the summary.
    pub summary: String,
    pub links: Vec<(&'static str, MsgRef)>,
    pub is_error: bool,
    /// Message ranges holding secrets (whether or not they are shown).
    pub secrets: Vec<Range<usize>>,
}

/// What a request leaves for decoding its response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum ReqCtx {
    #[default]
    None,
    /// Signon: the user name.
    Signon(String),
    /// GetStatuses: the publication name.
    Statuses(String),
    /// OpenHeader: the file name.
    Open(String),
}

/// A request waiting for its response.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub offset: u64,
    pub code: u16,
    pub ctx: ReqCtx,
}

/// Sequence number → request waiting for its response, at most
/// [`MAX_TABLE`] of them: beyond, the oldest (lowest c2s offset) is
/// forgotten. The order of arrival is kept beside the map, so finding the
/// oldest does not scan the table (a flood of unanswered requests made
/// every request scan all 4,096).
#[derive(Debug, Default)]
pub(crate) struct Pendings {
    by_seq: BTreeMap<u16, Pending>,
    /// (sequence number, offset) of every request added, oldest first;
    /// entries no longer in `by_seq` (answered, replaced) are skipped when
    /// met, and swept when they outnumber the live ones.
    order: VecDeque<(u16, u64)>,
}

impl Pendings {
    /// Adds a request; returns the one it replaces (a repeated sequence
    /// number), and whether the oldest request was forgotten to make room
    /// (beyond [`MAX_TABLE`]).
    pub fn insert(&mut self, seq: u16, p: Pending) -> (Option<Pending>, bool) {
        self.order.push_back((seq, p.offset));
        let old = self.by_seq.insert(seq, p);
        let mut forgot = false;
        if self.by_seq.len() > MAX_TABLE {
            while let Some((s, off)) = self.order.pop_front() {
                if self.by_seq.get(&s).is_some_and(|p| p.offset == off) {
                    self.by_seq.remove(&s);
                    forgot = true;
                    break;
                }
            }
        }
        if self.order.len() > 2 * MAX_TABLE {
            let by_seq = &self.by_seq;
            self.order
                .retain(|(s, off)| by_seq.get(s).is_some_and(|p| p.offset == *off));
        }
        (old, forgot)
    }

    /// The request `seq` was answered.
    pub fn remove(&mut self, seq: u16) -> Option<Pending> {
        self.by_seq.remove(&seq)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_seq.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&u16, &Pending)> {
        self.by_seq.iter()
    }

    pub fn clear(&mut self) {
        self.by_seq.clear();
        self.order.clear();
    }
}

/// A header field definition learnt from GetHeaders.
#[derive(Debug, Clone)]
pub(crate) struct FieldDef {
    pub name: String,
    pub data_type: u32,
}

/// Session state shared by the packet decoders.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub opts: Options,
    pub mid: bool,
    /// Requests waiting for their responses.
    pub pending: Pendings,
    /// The pending table overflowed once (noted).
    pub pending_overflow_noted: bool,
    /// Session id from the last successful Signon (or, mid-stream, adopted
    /// from the first request).
    pub session: Option<u32>,
    /// The client's last sequence number (None after a gap).
    pub last_seq: Option<u16>,
    /// Some client message has been seen (or lost).
    pub seq_started: bool,
    /// Client bytes were lost: responses may answer requests never seen.
    pub c2s_lost: bool,
    /// The client sent Close.
    pub closed: bool,
    pub failed_signons: u32,
    pub fields: BTreeMap<u32, FieldDef>,
    pub pubs: BTreeMap<u32, String>,
    /// Search requests by sequence number (for pushes) and the latest one.
    pub search_reqs: BTreeMap<u16, u64>,
    pub last_search_req: Option<u64>,
    /// Search id → Search request, and the most recent successful search (D15).
    pub search_ids: BTreeMap<u16, u64>,
    pub current_search: Option<(u16, u64)>,
    /// GetSearchResults responses since the current search.
    pub results_parts: u32,
    /// Open header handle → (OpenHeader request, file name).
    pub handles: BTreeMap<u16, (u64, String)>,
}

/// Inserts into a bounded table (existing keys are always updated).
pub(crate) fn remember<K: Ord, V>(t: &mut BTreeMap<K, V>, k: K, v: V) {
    if t.len() < MAX_TABLE || t.contains_key(&k) {
        t.insert(k, v);
    }
}

/// Raw bytes as a field value (kept, never dropped).
pub(crate) fn raw(b: &[u8]) -> Value {
    Value::Bytes(b.to_vec())
}
