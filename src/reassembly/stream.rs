//! One direction of a connection: sequence-number mapping, the out-of-order
//! store, the tail of delivered bytes, FIN tracking and every rule that turns
//! a hole into a [`Event::Gap`].
//!
//! Offsets are 64-bit stream offsets (0 = first byte after the SYN, or the
//! first captured byte of a connection picked up mid-stream). Everything
//! before `next` has been delivered (as `Data` or `Gap`); everything held in
//! `ooo` lies strictly after `next`, without overlaps.

use std::collections::{BTreeMap, VecDeque};

use qscope_dissectors::{Dir, Severity};

use super::event::{Config, ConnId, EndReason, Event, Stats};
use crate::capture::Timestamp;

/// Delivered bytes kept per direction to compare retransmissions against.
pub(super) const TAIL_KEEP: usize = 8 * 1024;
/// Bookkeeping charged per held entry on top of its bytes, so that floods of
/// tiny out-of-order segments hit the buffer limits too.
pub const HELD_OVERHEAD: usize = 64;
/// Segments (and ACKs) more than this far beyond the delivery point are
/// considered bogus and ignored: no real TCP window is larger (2^30 with the
/// maximal window scale).
pub const MAX_AHEAD: u64 = 1 << 30;

/// What a stream needs from its reassembler while it works.
pub(super) struct Ctx<'c> {
    pub cfg: &'c Config,
    pub stats: &'c mut Stats,
    /// Bytes (plus overhead) held out of order across all streams.
    pub total_held: &'c mut usize,
    pub conn: ConnId,
    /// Capture time of the packet (or `expire`/`finish` call) being handled.
    pub ts: Timestamp,
}

/// What an entry of the out-of-order store holds.
#[derive(Debug)]
enum Held {
    /// Captured bytes.
    Data(Vec<u8>),
    /// Bytes known to exist but not captured (snap length cut): a gap once
    /// delivery reaches them.
    Missing(u64),
}

#[derive(Debug)]
struct Entry {
    held: Held,
    /// Capture time of the earliest packet that contributed to the entry.
    ts: Timestamp,
}

impl Entry {
    fn len(&self) -> u64 {
        match &self.held {
            Held::Data(v) => v.len() as u64,
            Held::Missing(n) => *n,
        }
    }
    fn charge(&self) -> usize {
        match &self.held {
            Held::Data(v) => v.len() + HELD_OVERHEAD,
            Held::Missing(_) => HELD_OVERHEAD,
        }
    }
}

/// A piece of a segment on its way into the stream.
#[derive(Clone, Copy)]
enum Content<'p> {
    Data(&'p [u8]),
    Missing(u64),
}

impl<'p> Content<'p> {
    fn len(&self) -> u64 {
        match self {
            Content::Data(d) => d.len() as u64,
            Content::Missing(n) => *n,
        }
    }
    /// The part `[from, to)`, relative to the piece's first byte.
    fn sub(&self, from: u64, to: u64) -> Content<'p> {
        match self {
            Content::Data(d) => {
                let from = usize::try_from(from).unwrap_or(usize::MAX);
                let to = usize::try_from(to).unwrap_or(usize::MAX);
                Content::Data(d.get(from..to).unwrap_or(&[]))
            }
            Content::Missing(_) => Content::Missing(to.saturating_sub(from)),
        }
    }
}

/// How one segment's bytes fared.
#[derive(Default)]
struct Fate {
    /// Some bytes were delivered or held for the first time.
    fresh: bool,
    /// Some bytes were held out of order.
    held: bool,
    /// Some bytes differed from the copy seen first (`(offset, len)` of the
    /// first differing range found).
    differing: Option<(u64, u64)>,
}

impl Fate {
    fn differ(&mut self, off: u64, len: u64) {
        if self.differing.is_none() {
            self.differing = Some((off, len));
        }
    }
}

/// One direction of a connection.
#[derive(Debug)]
pub(super) struct Stream {
    pub dir: Dir,
    /// Sequence number of the SYN, when one was seen.
    pub isn: Option<u32>,
    /// Sequence number of stream offset 0.
    base: Option<u32>,
    /// Latest acknowledgement number the peer sent for this direction.
    peer_ack: Option<u32>,
    /// Next offset to deliver.
    next: u64,
    /// Held out-of-order entries by offset; all start after `next`.
    ooo: BTreeMap<u64, Entry>,
    /// Bytes plus overhead held in `ooo`.
    held: usize,
    /// Multiset of the entries' `ts`, to know the age of the oldest hole.
    arrivals: BTreeMap<Timestamp, u32>,
    /// Offset of the FIN and when it was seen.
    fin: Option<(u64, Timestamp)>,
    ended: bool,
    /// Last delivered bytes: offsets `[next - tail.len(), next)`.
    tail: VecDeque<u8>,
    noted_trunc: bool,
    noted_before_start: bool,
    noted_after_fin: bool,
    /// Notes that a hostile stream could repeat at every segment are made
    /// once per direction (the summary's TCP counters count them all).
    noted_differ: bool,
    noted_ahead: bool,
    noted_bad_fin: bool,
}

impl Stream {
    pub fn new(dir: Dir) -> Stream {
        Stream {
            dir,
            isn: None,
            base: None,
            peer_ack: None,
            next: 0,
            ooo: BTreeMap::new(),
            held: 0,
            arrivals: BTreeMap::new(),
            fin: None,
            ended: false,
            tail: VecDeque::new(),
            noted_trunc: false,
            noted_before_start: false,
            noted_after_fin: false,
            noted_differ: false,
            noted_ahead: false,
            noted_bad_fin: false,
        }
    }

    /// A stream that starts after a SYN with sequence number `isn`.
    pub fn with_isn(dir: Dir, isn: u32) -> Stream {
        let mut s = Stream::new(dir);
        s.isn = Some(isn);
        s.base = Some(isn.wrapping_add(1));
        s
    }

    pub fn base(&self) -> Option<u32> {
        self.base
    }

    /// Sets the sequence number of offset 0 unless it is already known.
    pub fn set_base(&mut self, seq: u32) {
        if self.base.is_none() {
            self.base = Some(seq);
        }
    }

    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Maps a 32-bit sequence number to the stream offset nearest to the
    /// delivery point (negative: before the stream's first byte).
    fn offset_of(&self, seq: u32) -> Option<i64> {
        let rel = seq.wrapping_sub(self.base?);
        let next = i64::try_from(self.next).ok()?;
        // Truncation to u32 is the modular arithmetic we want.
        let diff = rel.wrapping_sub(self.next as u32) as i32;
        next.checked_add(i64::from(diff))
    }

    // ----- emitting -------------------------------------------------------

    fn note(&self, cx: &Ctx<'_>, severity: Severity, text: String, out: &mut dyn FnMut(Event<'_>)) {
        out(Event::Note {
            conn: cx.conn,
            dir: Some(self.dir),
            ts: cx.ts,
            severity,
            text,
        });
    }

    fn emit_data(&mut self, cx: &mut Ctx<'_>, bytes: &[u8], out: &mut dyn FnMut(Event<'_>)) {
        if bytes.is_empty() {
            return;
        }
        out(Event::Data {
            conn: cx.conn,
            dir: self.dir,
            offset: self.next,
            bytes,
            ts: cx.ts,
        });
        self.next = self.next.saturating_add(bytes.len() as u64);
        cx.stats.bytes += bytes.len() as u64;
        if let Some(last) = bytes.last_chunk::<TAIL_KEEP>() {
            self.tail.clear();
            self.tail.extend(last);
        } else {
            let over = (self.tail.len() + bytes.len()).saturating_sub(TAIL_KEEP);
            self.tail.drain(..over);
            self.tail.extend(bytes);
        }
    }

    fn emit_gap(&mut self, cx: &mut Ctx<'_>, len: u64, out: &mut dyn FnMut(Event<'_>)) {
        if len == 0 {
            return;
        }
        out(Event::Gap {
            conn: cx.conn,
            dir: self.dir,
            offset: self.next,
            len,
            ts: cx.ts,
        });
        self.next = self.next.saturating_add(len);
        self.tail.clear();
        cx.stats.gaps += 1;
        cx.stats.gap_bytes += len;
    }

    fn emit(&mut self, cx: &mut Ctx<'_>, c: Content<'_>, out: &mut dyn FnMut(Event<'_>)) {
        match c {
            Content::Data(d) => self.emit_data(cx, d, out),
            Content::Missing(n) => self.emit_gap(cx, n, out),
        }
    }

    // ----- the out-of-order store ----------------------------------------

    fn add_arrival(&mut self, ts: Timestamp) {
        *self.arrivals.entry(ts).or_insert(0) += 1;
    }

    fn remove_arrival(&mut self, ts: Timestamp) {
        if let Some(n) = self.arrivals.get_mut(&ts) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.arrivals.remove(&ts);
            }
        }
    }

    fn charge(&mut self, cx: &mut Ctx<'_>, n: usize) {
        self.held = self.held.saturating_add(n);
        *cx.total_held = cx.total_held.saturating_add(n);
    }

    fn release(&mut self, cx: &mut Ctx<'_>, n: usize) {
        self.held = self.held.saturating_sub(n);
        *cx.total_held = cx.total_held.saturating_sub(n);
    }

    fn take(&mut self, cx: &mut Ctx<'_>, key: u64) -> Option<Entry> {
        let e = self.ooo.remove(&key)?;
        self.release(cx, e.charge());
        self.remove_arrival(e.ts);
        Some(e)
    }

    /// Holds `c` (which starts at `pos`, after `next`, overlapping nothing
    /// held). Data adjacent to a held data entry is appended to it.
    fn hold(&mut self, cx: &mut Ctx<'_>, pos: u64, c: Content<'_>) {
        let ts = cx.ts;
        if let Content::Data(d) = c {
            let mut merged = None;
            if let Some((&k, e)) = self.ooo.range_mut(..pos).next_back() {
                if k.saturating_add(e.len()) == pos {
                    if let Held::Data(v) = &mut e.held {
                        v.extend_from_slice(d);
                        let old = e.ts;
                        if ts < old {
                            e.ts = ts;
                        }
                        merged = Some(old);
                    }
                }
            }
            if let Some(old) = merged {
                if ts < old {
                    self.remove_arrival(old);
                    self.add_arrival(ts);
                }
                self.charge(cx, d.len());
                return;
            }
        }
        let held = match c {
            Content::Data(d) => Held::Data(d.to_vec()),
            Content::Missing(n) => Held::Missing(n),
        };
        let e = Entry { held, ts };
        self.charge(cx, e.charge());
        self.add_arrival(ts);
        self.ooo.insert(pos, e);
    }

    /// Delivers held entries as long as they continue the stream.
    fn drain(&mut self, cx: &mut Ctx<'_>, out: &mut dyn FnMut(Event<'_>)) {
        while let Some(&k) = self.ooo.keys().next() {
            if k > self.next {
                break;
            }
            let Some(e) = self.take(cx, k) else { break };
            // Entries never start before `next`; if one did, skip its stale
            // head rather than deliver bytes twice.
            let skip = self.next - k;
            if skip >= e.len() {
                continue;
            }
            match &e.held {
                Held::Data(v) => {
                    let from = usize::try_from(skip).unwrap_or(usize::MAX);
                    self.emit_data(cx, v.get(from..).unwrap_or(&[]), out);
                }
                Held::Missing(n) => self.emit_gap(cx, n - skip, out),
            }
        }
    }

    /// True when the tail of delivered bytes contradicts `bytes` at `off`.
    fn tail_differs(&self, off: u64, bytes: &[u8]) -> bool {
        let tail_start = self.next.saturating_sub(self.tail.len() as u64);
        let a = off.max(tail_start);
        let b = off.saturating_add(bytes.len() as u64).min(self.next);
        (a..b).any(|i| {
            let t = self.tail.get((i - tail_start) as usize);
            let n = bytes.get((i - off) as usize);
            matches!((t, n), (Some(t), Some(n)) if t != n)
        })
    }

    /// Puts `c`, starting at `start`, into the stream: bytes before `next`
    /// and bytes already held are compared and dropped (first copy wins),
    /// new bytes at `next` are delivered at once (zero-copy) together with
    /// whatever held entries they connect to, other new bytes are held.
    fn insert(
        &mut self,
        cx: &mut Ctx<'_>,
        start: u64,
        c: Content<'_>,
        fate: &mut Fate,
        out: &mut dyn FnMut(Event<'_>),
    ) {
        let end = start.saturating_add(c.len());
        let mut pos = start;
        while pos < end {
            if pos < self.next {
                let upto = end.min(self.next);
                if let Content::Data(d) = c.sub(pos - start, upto - start) {
                    if self.tail_differs(pos, d) {
                        fate.differ(pos, upto - pos);
                    }
                }
                pos = upto;
                continue;
            }
            // Already held?
            if let Some((&k, e)) = self.ooo.range(..=pos).next_back() {
                let e_end = k.saturating_add(e.len());
                if e_end > pos {
                    let upto = end.min(e_end);
                    if let (Held::Data(v), Content::Data(d)) =
                        (&e.held, c.sub(pos - start, upto - start))
                    {
                        let held = v.get((pos - k) as usize..(upto - k) as usize);
                        if held.is_some_and(|h| h != d) {
                            fate.differ(pos, upto - pos);
                        }
                    }
                    pos = upto;
                    continue;
                }
            }
            let next_held = self
                .ooo
                .range(pos.saturating_add(1)..)
                .next()
                .map_or(u64::MAX, |(&k, _)| k);
            let upto = end.min(next_held);
            let piece = c.sub(pos - start, upto - start);
            fate.fresh = true;
            if pos == self.next {
                self.emit(cx, piece, out);
                self.drain(cx, out);
            } else {
                self.hold(cx, pos, piece);
                fate.held = true;
            }
            pos = upto;
        }
    }

    // ----- segments -------------------------------------------------------

    /// Handles the data and FIN of one segment of this direction. `seq` is
    /// the sequence number of the first payload byte (after the SYN's, if
    /// any); `wire_len` the payload length on the wire.
    pub fn segment(
        &mut self,
        cx: &mut Ctx<'_>,
        seq: u32,
        payload: &[u8],
        wire_len: u32,
        fin: bool,
        out: &mut dyn FnMut(Event<'_>),
    ) {
        let wire = u64::from(wire_len).max(payload.len() as u64);
        if wire == 0 && !fin {
            // Pure ACKs and window updates: never data, never holes.
            return;
        }
        if self.base.is_none() {
            if !fin && wire <= 1 && self.peer_ack == Some(seq.wrapping_add(1)) {
                // Keep-alive before any data: it must not become offset 0.
                return;
            }
            self.base = Some(seq);
        }
        let Some(s) = self.offset_of(seq) else { return };
        let next = i64::try_from(self.next).unwrap_or(i64::MAX);
        if !fin && wire <= 1 && s == next - 1 {
            // Keep-alive: one byte (or none) just before the next byte.
            return;
        }
        if wire > 0 {
            self.data(cx, s, payload, wire, out);
        }
        if fin {
            let f = s.saturating_add(i64::try_from(wire).unwrap_or(i64::MAX));
            self.set_fin(cx, f, out);
        }
        self.try_end_fin(cx, out);
    }

    fn data(
        &mut self,
        cx: &mut Ctx<'_>,
        s: i64,
        payload: &[u8],
        wire: u64,
        out: &mut dyn FnMut(Event<'_>),
    ) {
        let mut payload = payload;
        let mut wire = wire;
        let mut s = s;
        if s < 0 {
            let cut = s.unsigned_abs();
            if !self.noted_before_start {
                self.noted_before_start = true;
                self.note(
                    cx,
                    Severity::Info,
                    format!(
                        "{} bytes before the first byte of the stream dropped (further occurrences not noted)",
                        cut.min(wire)
                    ),
                    out,
                );
            }
            if cut >= wire {
                cx.stats.retransmissions += 1;
                return;
            }
            payload = payload
                .get(usize::try_from(cut).unwrap_or(usize::MAX)..)
                .unwrap_or(&[]);
            wire -= cut;
            s = 0;
        }
        let start = s.unsigned_abs();
        let mut end = start.saturating_add(wire);
        if start > self.next.saturating_add(MAX_AHEAD) {
            if !self.noted_ahead {
                self.noted_ahead = true;
                self.note(
                    cx,
                    Severity::Warn,
                    format!(
                        "segment at offset {start} is {} bytes beyond the next expected byte: ignored (further ones in this direction not noted)",
                        start - self.next
                    ),
                    out,
                );
            }
            return;
        }
        if let Some((f, _)) = self.fin {
            if end > f {
                if !self.noted_after_fin {
                    self.noted_after_fin = true;
                    self.note(
                        cx,
                        Severity::Warn,
                        format!("bytes after the FIN (offset {f}) dropped"),
                        out,
                    );
                }
                if start >= f {
                    return;
                }
                end = f;
            }
        }
        let cap_end = start.saturating_add(payload.len() as u64).min(end);
        let captured = payload.get(..(cap_end - start) as usize).unwrap_or(&[]);
        let mut fate = Fate::default();
        self.insert(cx, start, Content::Data(captured), &mut fate, out);
        if end > cap_end {
            if !self.noted_trunc {
                self.noted_trunc = true;
                self.note(
                    cx,
                    Severity::Warn,
                    format!(
                        "segment cut by the snap length: {} of {} bytes captured, the rest becomes a gap (further cuts in this direction not noted)",
                        cap_end - start,
                        end - start
                    ),
                    out,
                );
            }
            self.insert(cx, cap_end, Content::Missing(end - cap_end), &mut fate, out);
        }
        if fate.held {
            cx.stats.out_of_order += 1;
        } else if !fate.fresh {
            cx.stats.retransmissions += 1;
        }
        if let Some((off, len)) = fate.differing {
            cx.stats.overlaps_differing += 1;
            if !self.noted_differ {
                self.noted_differ = true;
                self.note(
                    cx,
                    Severity::Warn,
                    format!(
                        "retransmitted bytes differ from the first copy at offset {off} ({len} bytes); first copy kept (further ones in this direction are counted in the summary's tcp.overlaps_differing, not noted)"
                    ),
                    out,
                );
            }
        }
        if fate.held {
            self.enforce_limits(cx, out);
        }
    }

    fn set_fin(&mut self, cx: &mut Ctx<'_>, f: i64, out: &mut dyn FnMut(Event<'_>)) {
        if self.fin.is_some() || self.ended {
            return;
        }
        let Ok(f) = u64::try_from(f) else { return };
        if f < self.next || f > self.next.saturating_add(MAX_AHEAD) {
            if !self.noted_bad_fin {
                self.noted_bad_fin = true;
                self.note(
                    cx,
                    Severity::Warn,
                    format!(
                        "FIN at offset {f} contradicts the stream (next byte {}): ignored (further ones in this direction not noted)",
                        self.next
                    ),
                    out,
                );
            }
            return;
        }
        self.fin = Some((f, cx.ts));
        // Held bytes at or after the FIN can never be delivered.
        let beyond: Vec<u64> = self
            .ooo
            .range(..)
            .filter(|(&k, e)| k.saturating_add(e.len()) > f)
            .map(|(&k, _)| k)
            .collect();
        let mut dropped = 0u64;
        for k in beyond {
            if let Some(e) = self.take(cx, k) {
                if k < f {
                    let keep = f - k;
                    dropped += e.len() - keep;
                    let held = match e.held {
                        Held::Data(mut v) => {
                            v.truncate(keep as usize);
                            Held::Data(v)
                        }
                        Held::Missing(_) => Held::Missing(keep),
                    };
                    let e = Entry { held, ts: e.ts };
                    self.charge(cx, e.charge());
                    self.add_arrival(e.ts);
                    self.ooo.insert(k, e);
                } else {
                    dropped += e.len();
                }
            }
        }
        if dropped > 0 {
            self.noted_after_fin = true;
            self.note(
                cx,
                Severity::Warn,
                format!("{dropped} held bytes after the FIN (offset {f}) dropped"),
                out,
            );
        }
    }

    /// Ends the direction with reason `Fin` once every byte before the FIN
    /// has been delivered.
    fn try_end_fin(&mut self, cx: &mut Ctx<'_>, out: &mut dyn FnMut(Event<'_>)) {
        if let Some((f, _)) = self.fin {
            if !self.ended && self.next >= f {
                self.end(cx, EndReason::Fin, out);
            }
        }
    }

    /// Ends the direction (if not ended yet): no more events for it.
    pub fn end(&mut self, cx: &mut Ctx<'_>, reason: EndReason, out: &mut dyn FnMut(Event<'_>)) {
        if self.ended {
            return;
        }
        self.ended = true;
        let keys: Vec<u64> = self.ooo.keys().copied().collect();
        for k in keys {
            self.take(cx, k);
        }
        self.tail = VecDeque::new();
        out(Event::End {
            conn: cx.conn,
            dir: self.dir,
            ts: cx.ts,
            reason,
        });
    }

    // ----- gap rules ------------------------------------------------------

    /// Declares every byte before `limit` that is neither delivered nor held
    /// as a gap, delivering held entries on the way.
    fn gap_until(&mut self, cx: &mut Ctx<'_>, limit: u64, out: &mut dyn FnMut(Event<'_>)) {
        while !self.ended && self.next < limit {
            let before = self.next;
            let t = self.ooo.keys().next().map_or(limit, |&k| k.min(limit));
            if t > self.next {
                self.emit_gap(cx, t - self.next, out);
            }
            self.drain(cx, out);
            self.try_end_fin(cx, out);
            if self.next == before {
                break;
            }
        }
    }

    /// Declares the hole at `next` (up to the first held entry, or up to the
    /// FIN) as a gap and delivers what follows it. False if there is none.
    fn declare_first_hole(&mut self, cx: &mut Ctx<'_>, out: &mut dyn FnMut(Event<'_>)) -> bool {
        let target = match (self.ooo.keys().next(), self.fin) {
            (Some(&k), _) => k,
            (None, Some((f, _))) => f,
            (None, None) => return false,
        };
        let before = self.next;
        self.gap_until(cx, target, out);
        self.next != before
    }

    /// Rule (a): the peer acknowledged `ack`, so every byte before it reached
    /// the endpoint; those the capture lacks become gaps.
    pub fn acked(&mut self, cx: &mut Ctx<'_>, ack: u32, out: &mut dyn FnMut(Event<'_>)) {
        self.peer_ack = Some(ack);
        if self.ended {
            return;
        }
        let Some(a) = self.offset_of(ack) else { return };
        let Ok(a) = u64::try_from(a) else { return };
        if a <= self.next || a - self.next > MAX_AHEAD {
            return;
        }
        // The FIN takes a sequence number of its own.
        let limit = self.fin.map_or(a, |(f, _)| a.min(f));
        self.gap_until(cx, limit, out);
    }

    /// Capture time since which the hole at `next` has been waiting.
    fn hole_since(&self) -> Option<Timestamp> {
        if self.ended {
            return None;
        }
        let held = self.arrivals.keys().next().copied();
        let fin = self.fin.and_then(|(f, ts)| (f > self.next).then_some(ts));
        match (held, fin) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Rule (c): holes that have waited longer than the gap timeout at
    /// capture time `now` become gaps.
    pub fn check_timeout(
        &mut self,
        cx: &mut Ctx<'_>,
        now: Timestamp,
        out: &mut dyn FnMut(Event<'_>),
    ) {
        while let Some(since) = self.hole_since() {
            if now.micros_since(&since) <= cx.cfg.gap_timeout_us {
                break;
            }
            if !self.declare_first_hole(cx, out) {
                break;
            }
        }
    }

    /// Rule (b): too many bytes held (in this stream or overall) → the
    /// stream's holes become gaps, oldest offset first, until under limits.
    fn enforce_limits(&mut self, cx: &mut Ctx<'_>, out: &mut dyn FnMut(Event<'_>)) {
        let mut noted = false;
        loop {
            let what = if self.held > cx.cfg.max_buffered_per_stream {
                format!(
                    "per-stream limit ({} bytes)",
                    cx.cfg.max_buffered_per_stream
                )
            } else if *cx.total_held > cx.cfg.max_buffered_total {
                format!("global limit ({} bytes)", cx.cfg.max_buffered_total)
            } else {
                break;
            };
            if self.ooo.is_empty() {
                break;
            }
            if !noted {
                noted = true;
                cx.stats.limit_hits += 1;
                self.note(
                    cx,
                    Severity::Warn,
                    format!(
                        "limit: out-of-order data exceeds the {what}; the hole at offset {} is declared a gap",
                        self.next
                    ),
                    out,
                );
            }
            if !self.declare_first_hole(cx, out) {
                break;
            }
        }
    }

    /// Memory the stream holds (bytes held out of order with their
    /// overhead, the tail kept for overlap checks): `(total, sheddable)`.
    pub fn memory(&self) -> (usize, usize) {
        let shed = self.held + self.tail.capacity();
        (std::mem::size_of::<Stream>() + shed, shed)
    }

    /// Gives up what the stream holds: holes before held bytes become gaps
    /// (the held bytes are delivered), and the tail of delivered bytes kept
    /// for overlap checks is dropped (later overlaps are no longer compared
    /// with it).
    pub fn shed(&mut self, cx: &mut Ctx<'_>, out: &mut dyn FnMut(Event<'_>)) {
        self.flush(cx, out);
        self.tail = VecDeque::new();
    }

    /// Rule (d): declares every remaining hole a gap and delivers everything
    /// held (up to the FIN, which then ends the direction).
    pub fn flush(&mut self, cx: &mut Ctx<'_>, out: &mut dyn FnMut(Event<'_>)) {
        let held_end = self
            .ooo
            .iter()
            .next_back()
            .map_or(0, |(&k, e)| k.saturating_add(e.len()));
        let fin = self.fin.map_or(0, |(f, _)| f);
        self.gap_until(cx, held_end.max(fin), out);
    }
}
