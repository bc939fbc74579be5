//! The one driver: feeds a [`Dissector`] the reassembled bytes of both
//! directions of a session, owns the buffering, enforces the limits and
//! turns every byte of each stream into exactly one of message, undecoded
//! range or gap (no hole, no overlap).
//!
//! The driver is pure (no I/O): the app's engine feeds it from the TCP
//! reassembler, and dissector tests and fuzz targets feed it directly.

use std::borrow::Cow;

use crate::dissector::{Ctx, Dissector, Step};
use crate::model::{Dir, Message, Note, Severity};

/// What the driver reports, in stream order per direction.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Message(Message),
    /// Bytes kept but not a message of the protocol.
    Undecoded {
        dir: Dir,
        offset: u64,
        len: u64,
        reason: Cow<'static, str>,
        severity: Severity,
    },
    /// Bytes missing from the stream.
    Gap {
        dir: Dir,
        offset: u64,
        len: u64,
    },
    /// A note about the session as a whole.
    SessionNote(Note),
    /// A session attribute set by the dissector (latest wins).
    Attr(&'static str, String),
}

impl Item {
    /// The message, if this item is one.
    pub fn as_message(&self) -> Option<&Message> {
        match self {
            Item::Message(m) => Some(m),
            _ => None,
        }
    }

    /// Direction, offset and length of a message, undecoded range or gap.
    pub fn span(&self) -> Option<(Dir, u64, u64)> {
        match self {
            Item::Message(m) => Some((m.dir, m.offset, m.len as u64)),
            Item::Undecoded {
                dir, offset, len, ..
            }
            | Item::Gap { dir, offset, len } => Some((*dir, *offset, *len)),
            _ => None,
        }
    }
}

/// The messages among `items`.
pub fn messages(items: &[Item]) -> Vec<&Message> {
    items.iter().filter_map(Item::as_message).collect()
}

/// The undecoded ranges among `items`: (dir, offset, len, reason, severity).
pub fn undecoded(items: &[Item]) -> Vec<(Dir, u64, u64, String, Severity)> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Undecoded {
                dir,
                offset,
                len,
                reason,
                severity,
            } => Some((*dir, *offset, *len, reason.to_string(), *severity)),
            _ => None,
        })
        .collect()
}

/// The session notes among `items`.
pub fn session_notes(items: &[Item]) -> Vec<&Note> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::SessionNote(n) => Some(n),
            _ => None,
        })
        .collect()
}

/// Checks the driver's promise: the messages, undecoded ranges and gaps of
/// each direction tile `0..len[dir]` in order, with no hole, no overlap and
/// no empty range.
pub fn check_coverage(items: &[Item], len: [u64; 2]) -> Result<(), String> {
    let mut at = [0u64; 2];
    for (dir, offset, n) in items.iter().filter_map(Item::span) {
        if offset != at[dir.idx()] {
            return Err(format!(
                "{dir:?}: range at {offset}, expected {}",
                at[dir.idx()]
            ));
        }
        if n == 0 {
            return Err(format!("{dir:?}: empty range at {offset}"));
        }
        at[dir.idx()] += n;
    }
    if at != len {
        return Err(format!("covered {at:?} of {len:?} bytes"));
    }
    Ok(())
}

/// Limits the driver enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most bytes buffered per direction while a message is incomplete. When
    /// exceeded, the buffered bytes are reported as undecoded and the
    /// dissector is told to resynchronise as after a gap.
    pub max_message: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_message: 64 << 20,
        }
    }
}

/// Most bytes reserved at once for a message whose length a dissector
/// announced ([`Ctx::need_total`]): a length header is not trusted with
/// more; beyond it the buffer grows as bytes arrive.
const MAX_RESERVE: usize = 4 << 20;

/// Buffers of messages done with, kept per thread for the next message
/// that arrives in pieces: it then starts with the room an earlier one
/// grew to, instead of growing (and copying, and faulting in) its own by
/// doubling. A direction holds a buffer only while a message is
/// incomplete. At most [`spare::KEEP`] buffers of at most
/// [`spare::MAX_CAP`] bytes each are kept, the largest given out first.
mod spare {
    use std::cell::RefCell;

    pub const KEEP: usize = 8;
    pub const MAX_CAP: usize = 1 << 20;

    thread_local! {
        static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    }

    /// The largest kept buffer (empty), or a new one.
    pub fn take() -> Vec<u8> {
        SPARE
            .with(|s| {
                let mut s = s.try_borrow_mut().ok()?;
                let (i, _) = s.iter().enumerate().max_by_key(|(_, b)| b.capacity())?;
                Some(s.swap_remove(i))
            })
            .unwrap_or_default()
    }

    /// Keeps `buf` for later if it is worth keeping (in place of a
    /// smaller one when [`KEEP`] are kept).
    pub fn give(mut buf: Vec<u8>) {
        if buf.capacity() == 0 || buf.capacity() > MAX_CAP {
            return;
        }
        buf.clear();
        SPARE.with(|s| {
            let Ok(mut s) = s.try_borrow_mut() else {
                return;
            };
            if s.len() < KEEP {
                s.push(buf);
            } else if let Some(small) = s.iter_mut().min_by_key(|b| b.capacity()) {
                if small.capacity() < buf.capacity() {
                    *small = buf;
                }
            }
        });
    }
}

#[derive(Default)]
struct DirState {
    /// Unconsumed bytes; `buf[start..]` begins at stream offset `base`.
    buf: Vec<u8>,
    start: usize,
    base: u64,
    ended: bool,
    /// The dissector needs this many unconsumed bytes before it can decide
    /// anything ([`Ctx::need_total`]); 0 when it did not say.
    need: usize,
}

impl DirState {
    fn pending(&self) -> usize {
        self.buf.len() - self.start
    }
    fn consume(&mut self, n: usize) {
        self.start += n;
        self.base += n as u64;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }
    fn compact(&mut self) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }
    /// The dissector answered `NeedMore`, with the total it needs if it
    /// knows it: room for the whole message is reserved once.
    fn wait_for(&mut self, need: Option<usize>) {
        if self.buf.capacity() == 0 {
            self.buf = spare::take();
        }
        self.need = need.unwrap_or(0);
        let want = self.need.min(MAX_RESERVE);
        if want > self.pending() {
            self.buf.reserve(want - self.pending());
        }
    }
}

impl Drop for DirState {
    fn drop(&mut self) {
        spare::give(std::mem::take(&mut self.buf));
    }
}

/// Drives one dissector over one session.
pub struct Driver {
    dissector: Box<dyn Dissector>,
    dirs: [DirState; 2],
    limits: Limits,
    closed: bool,
}

impl Driver {
    pub fn new(dissector: Box<dyn Dissector>, limits: Limits) -> Driver {
        Driver {
            dissector,
            dirs: [DirState::default(), DirState::default()],
            limits,
            closed: false,
        }
    }

    /// Bytes currently buffered for `dir` (an incomplete message).
    pub fn buffered(&self, dir: Dir) -> usize {
        self.dirs[dir.idx()].pending()
    }

    /// Bytes held in the driver's buffers, for memory accounting.
    ///
    /// A function of the streams alone (not of the buffers' actual
    /// capacity, which depends on the per-thread spares): the bytes held,
    /// rounded up to a power of two as a growing buffer is, or the room
    /// reserved for an announced message. So a memory budget charges the
    /// same whichever thread ran the session.
    pub fn memory(&self) -> usize {
        self.dirs
            .iter()
            .map(|d| {
                let held = if d.buf.is_empty() {
                    0
                } else {
                    d.buf.len().next_power_of_two()
                };
                held.max(d.need.min(MAX_RESERVE))
            })
            .sum()
    }

    /// Gives up the buffered bytes of both directions (incomplete
    /// messages): each becomes an undecoded range with `reason`, and the
    /// dissector resynchronises as after a gap. Returns the bytes dropped.
    /// Used when a memory budget must be enforced.
    pub fn shed(&mut self, reason: &'static str, out: &mut dyn FnMut(Item)) -> u64 {
        if self.closed {
            return 0;
        }
        let mut dropped = 0;
        for dir in [Dir::C2S, Dir::S2C] {
            let st = &self.dirs[dir.idx()];
            let (offset, len) = (st.base, st.pending() as u64);
            if len == 0 {
                // Nothing pending: just give the capacity back.
                self.dirs[dir.idx()].buf = Vec::new();
                self.dirs[dir.idx()].start = 0;
                continue;
            }
            dropped += len;
            self.flush_incomplete(dir, reason, out);
            let mut ctx = Ctx::default();
            self.dissector.gap(dir, offset + len, 0, &mut ctx);
            flush_ctx(&mut ctx, out);
        }
        dropped
    }

    /// Next stream offset the driver expects for `dir`.
    pub fn next_offset(&self, dir: Dir) -> u64 {
        let s = &self.dirs[dir.idx()];
        s.base + s.pending() as u64
    }

    /// Feeds `bytes`, which start at stream offset `offset` of `dir`.
    /// Bytes before the expected offset (already seen) are ignored; a jump
    /// forward is treated as a gap.
    pub fn data(&mut self, dir: Dir, offset: u64, mut bytes: &[u8], out: &mut dyn FnMut(Item)) {
        if self.closed || self.dirs[dir.idx()].ended {
            return;
        }
        let expected = self.next_offset(dir);
        let mut offset = offset;
        if offset < expected {
            let dup = (expected - offset).min(bytes.len() as u64) as usize;
            bytes = &bytes[dup..];
            offset += dup as u64;
        }
        if bytes.is_empty() {
            return;
        }
        if offset > expected {
            self.gap(dir, expected, offset - expected, out);
        }
        let st = &mut self.dirs[dir.idx()];
        if st.pending() == 0 {
            // Fast path: parse straight from the caller's bytes, keep only the rest.
            st.base = offset;
            let used = run(
                &mut *self.dissector,
                dir,
                st.base,
                bytes,
                false,
                &self.limits,
                out,
            );
            let st = &mut self.dirs[dir.idx()];
            st.base += used.consumed as u64;
            let rest = bytes.get(used.consumed..).unwrap_or(&[]);
            if !rest.is_empty() {
                st.wait_for(used.need);
            }
            st.buf.extend_from_slice(rest);
            if used.resync {
                self.overflow(dir, out);
            }
        } else {
            st.buf.extend_from_slice(bytes);
            // The dissector said it needs more than there is: no call until
            // then (past the limit it is called, as it always was, so that
            // the oversized message is given up at the same point).
            if st.pending() < st.need && st.pending() <= self.limits.max_message {
                return;
            }
            self.pump(dir, false, out);
        }
    }

    /// `len` bytes at `offset` of `dir` were lost.
    pub fn gap(&mut self, dir: Dir, offset: u64, len: u64, out: &mut dyn FnMut(Item)) {
        if self.closed || self.dirs[dir.idx()].ended || len == 0 {
            return;
        }
        let expected = self.next_offset(dir);
        // Whatever was buffered is a message cut short by the gap.
        self.flush_incomplete(dir, "incomplete message cut by a gap in the capture", out);
        let st = &mut self.dirs[dir.idx()];
        // A gap that starts later than expected also covers the bytes in between.
        let (offset, len) = if offset > expected {
            (expected, len + (offset - expected))
        } else {
            (offset, len)
        };
        st.base = offset + len;
        out(Item::Gap { dir, offset, len });
        let mut ctx = Ctx::default();
        self.dissector.gap(dir, offset, len, &mut ctx);
        flush_ctx(&mut ctx, out);
    }

    /// The stream of `dir` ended: decode what can still be decoded and report
    /// the rest as an incomplete message.
    pub fn end(&mut self, dir: Dir, out: &mut dyn FnMut(Item)) {
        if self.closed || self.dirs[dir.idx()].ended {
            return;
        }
        self.pump(dir, true, out);
        self.flush_incomplete(dir, "incomplete message at end of stream", out);
        self.dirs[dir.idx()].ended = true;
    }

    /// The session is over: end both directions and let the dissector report
    /// what is still pending.
    pub fn close(&mut self, out: &mut dyn FnMut(Item)) {
        if self.closed {
            return;
        }
        self.end(Dir::C2S, out);
        self.end(Dir::S2C, out);
        let mut ctx = Ctx::default();
        self.dissector.close(&mut ctx);
        flush_ctx(&mut ctx, out);
        self.closed = true;
    }

    fn pump(&mut self, dir: Dir, eos: bool, out: &mut dyn FnMut(Item)) {
        let st = &mut self.dirs[dir.idx()];
        let used = run(
            &mut *self.dissector,
            dir,
            st.base,
            &st.buf[st.start..],
            eos,
            &self.limits,
            out,
        );
        st.consume(used.consumed);
        st.compact();
        if st.pending() > 0 {
            st.wait_for(used.need);
        } else {
            st.need = 0;
            // Nothing is incomplete: the room goes back for the next
            // message (of any session) that arrives in pieces.
            spare::give(std::mem::take(&mut st.buf));
        }
        if used.resync {
            self.overflow(dir, out);
        }
    }

    /// The buffered bytes exceed the limit: give them up and resynchronise.
    fn overflow(&mut self, dir: Dir, out: &mut dyn FnMut(Item)) {
        let limit = self.limits.max_message;
        let st = &self.dirs[dir.idx()];
        let (offset, len) = (st.base, st.pending() as u64);
        self.flush_incomplete(
            dir,
            format!("message larger than the {limit}-byte limit; skipped"),
            out,
        );
        let mut ctx = Ctx::default();
        self.dissector.gap(dir, offset + len, 0, &mut ctx);
        flush_ctx(&mut ctx, out);
    }

    fn flush_incomplete(
        &mut self,
        dir: Dir,
        reason: impl Into<Cow<'static, str>>,
        out: &mut dyn FnMut(Item),
    ) {
        let st = &mut self.dirs[dir.idx()];
        let len = st.pending();
        if len > 0 {
            out(Item::Undecoded {
                dir,
                offset: st.base,
                len: len as u64,
                reason: reason.into(),
                severity: Severity::Warn,
            });
            st.consume(len);
        }
        spare::give(std::mem::take(&mut st.buf));
        st.start = 0;
        st.need = 0;
    }
}

struct Used {
    consumed: usize,
    /// The unconsumed rest exceeds the message limit.
    resync: bool,
    /// With an unconsumed rest: the total the dissector said it needs.
    need: Option<usize>,
}

/// Runs the dissector over `data` until it needs more bytes; returns how many
/// bytes were consumed.
fn run(
    d: &mut dyn Dissector,
    dir: Dir,
    base: u64,
    data: &[u8],
    eos: bool,
    limits: &Limits,
    out: &mut dyn FnMut(Item),
) -> Used {
    let mut pos = 0usize;
    let mut ctx = Ctx {
        eos,
        ..Ctx::default()
    };
    while pos < data.len() {
        let offset = base + pos as u64;
        let rest = &data[pos..];
        ctx.need = None;
        let step = d.parse(dir, offset, rest, &mut ctx);
        flush_ctx(&mut ctx, out);
        match step {
            Step::Message(mut m) => {
                let len = m.len.clamp(1, rest.len());
                if len != m.len {
                    m.notes.push(Note::error(format!(
                        "dissector claimed {} bytes of {} available",
                        m.len,
                        rest.len()
                    )));
                    m.len = len;
                }
                m.dir = dir;
                m.offset = offset;
                tidy_secrets(&mut m.secrets, len);
                pos += len;
                out(Item::Message(m));
            }
            Step::Skip {
                len,
                reason,
                severity,
            } => {
                let len = len.clamp(1, rest.len());
                pos += len;
                out(Item::Undecoded {
                    dir,
                    offset,
                    len: len as u64,
                    reason,
                    severity,
                });
            }
            Step::NeedMore => {
                return Used {
                    consumed: pos,
                    resync: rest.len() > limits.max_message,
                    need: ctx.need.take(),
                };
            }
        }
    }
    Used {
        consumed: pos,
        resync: false,
        need: None,
    }
}

/// Keeps a message's secret ranges within its `len` bytes, sorted, merged
/// and non-empty, so that every byte view can rely on them.
fn tidy_secrets(secrets: &mut Vec<std::ops::Range<usize>>, len: usize) {
    for r in secrets.iter_mut() {
        r.end = r.end.min(len);
    }
    secrets.retain(|r| r.start < r.end);
    secrets.sort_by_key(|r| r.start);
    let mut merged: Vec<std::ops::Range<usize>> = Vec::with_capacity(secrets.len());
    for r in secrets.drain(..) {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    *secrets = merged;
}

fn flush_ctx(ctx: &mut Ctx, out: &mut dyn FnMut(Item)) {
    for note in ctx.notes.drain(..) {
        out(Item::SessionNote(note));
    }
    for (k, v) in ctx.attrs.drain(..) {
        out(Item::Attr(k, v));
    }
}

/// Runs a dissector over two complete streams, feeding each in chunks of
/// `chunk` bytes, alternating by the order in `schedule` (`(dir, bytes)`
/// pairs, each fed whole). A convenience for tests and fuzzing: real traffic
/// goes through the engine.
pub fn run_schedule(
    dissector: Box<dyn Dissector>,
    schedule: &[(Dir, &[u8])],
    chunk: usize,
) -> Vec<Item> {
    let mut driver = Driver::new(dissector, Limits::default());
    let mut items = Vec::new();
    let mut offsets = [0u64; 2];
    for (dir, bytes) in schedule {
        for piece in bytes.chunks(chunk.max(1)) {
            driver.data(*dir, offsets[dir.idx()], piece, &mut |i| items.push(i));
            offsets[dir.idx()] += piece.len() as u64;
        }
    }
    driver.close(&mut |i| items.push(i));
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;

    /// A toy protocol: messages are lines ending in '\n'; '#' bytes are junk.
    struct Lines;
    impl Dissector for Lines {
        fn parse(&mut self, dir: Dir, _offset: u64, data: &[u8], ctx: &mut Ctx) -> Step {
            if data[0] == b'#' {
                return Step::skip(1, "junk", Severity::Warn);
            }
            match data.iter().position(|&b| b == b'\n') {
                Some(i) => Step::Message(Message::new(dir, i + 1, Kind::Request, "line")),
                None if ctx.eos => {
                    Step::Message(Message::new(dir, data.len(), Kind::Request, "tail"))
                }
                None => Step::NeedMore,
            }
        }
        fn gap(&mut self, _: Dir, _: u64, _: u64, _: &mut Ctx) {}
        fn close(&mut self, ctx: &mut Ctx) {
            ctx.note(Note::info("closed"));
        }
    }

    /// A toy length-prefixed protocol: one length byte, then that many
    /// bytes. Counts its calls.
    struct Prefixed {
        calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }
    impl Dissector for Prefixed {
        fn parse(&mut self, dir: Dir, _offset: u64, data: &[u8], ctx: &mut Ctx) -> Step {
            self.calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let total = 1 + usize::from(data[0]);
            if data.len() >= total {
                Step::Message(Message::new(dir, total, Kind::Request, "frame"))
            } else if ctx.eos {
                Step::skip(data.len(), "cut", Severity::Warn)
            } else {
                ctx.need_total(total);
                Step::NeedMore
            }
        }
        fn gap(&mut self, _: Dir, _: u64, _: u64, _: &mut Ctx) {}
        fn close(&mut self, _: &mut Ctx) {}
    }

    #[test]
    fn a_known_total_is_waited_for_without_calls() {
        let mut stream = vec![200u8];
        stream.extend([7u8; 200]);
        stream.extend([2, 1, 2, 50, 9]);
        for chunk in [1, 3, 10, 64, 500] {
            let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let d = Box::new(Prefixed {
                calls: calls.clone(),
            });
            let items = run_schedule(d, &[(Dir::C2S, &stream)], chunk);
            assert_eq!(
                spans(&items),
                vec![(0, 201, "msg"), (201, 3, "msg"), (204, 2, "undecoded")],
                "chunk {chunk}"
            );
            // Without the total, every chunk of the 201-byte frame would
            // be a call.
            let n = calls.load(std::sync::atomic::Ordering::Relaxed);
            assert!(n <= 6, "chunk {chunk}: {n} calls");
        }
        // Past the limit, the message is given up as it always was.
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut d = Driver::new(Box::new(Prefixed { calls }), Limits { max_message: 50 });
        let mut items = Vec::new();
        for (i, piece) in stream.chunks(10).enumerate() {
            d.data(Dir::C2S, i as u64 * 10, piece, &mut |i| items.push(i));
        }
        d.close(&mut |i| items.push(i));
        assert_eq!(spans(&items).first(), Some(&(0, 60, "undecoded")));
    }

    #[test]
    fn a_buffer_is_held_only_while_a_message_is_incomplete_and_the_largest_goes_first() {
        // Tests run on threads of their own: this thread's spares are
        // this test's.
        std::thread::spawn(|| {
            let mut d = Driver::new(Box::new(Lines), Limits::default());
            let big = [b'x'; 5000];
            let mut items = Vec::new();
            d.data(Dir::C2S, 0, &big, &mut |i| items.push(i));
            assert!(d.dirs[0].buf.capacity() >= 5000);
            d.data(Dir::C2S, 5000, b"\n", &mut |i| items.push(i));
            assert_eq!(spans(&items), vec![(0, 5001, "msg")]);
            // The message is complete: its room went back to the spares.
            assert_eq!(d.dirs[0].buf.capacity(), 0);
            // A small spare too; the next incomplete message gets the
            // large one.
            spare::give(Vec::with_capacity(16));
            d.data(Dir::S2C, 0, b"ab", &mut |i| items.push(i));
            assert!(d.dirs[1].buf.capacity() >= 5000);
            assert_eq!(spare::take().capacity(), 16);
            assert_eq!(spare::take().capacity(), 0);
        })
        .join()
        .unwrap();
    }

    fn spans(items: &[Item]) -> Vec<(u64, u64, &'static str)> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Message(m) => Some((m.offset, m.len as u64, "msg")),
                Item::Undecoded { offset, len, .. } => Some((*offset, *len, "undecoded")),
                Item::Gap { offset, len, .. } => Some((*offset, *len, "gap")),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn chunking_does_not_change_messages() {
        let text = b"ab\n#cd\nefg";
        for chunk in 1..=text.len() {
            let items = run_schedule(Box::new(Lines), &[(Dir::C2S, text)], chunk);
            assert_eq!(
                spans(&items),
                vec![
                    (0, 3, "msg"),
                    (3, 1, "undecoded"),
                    (4, 3, "msg"),
                    (7, 3, "msg")
                ],
                "chunk {chunk}"
            );
            assert!(items.contains(&Item::SessionNote(Note::info("closed"))));
        }
    }

    #[test]
    fn gap_cuts_pending_message_and_covers_stream() {
        let mut d = Driver::new(Box::new(Lines), Limits::default());
        let mut items = Vec::new();
        d.data(Dir::S2C, 0, b"ab\ncd", &mut |i| items.push(i));
        d.data(Dir::S2C, 10, b"x\ny\n", &mut |i| items.push(i));
        d.close(&mut |i| items.push(i));
        assert_eq!(
            spans(&items),
            vec![
                (0, 3, "msg"),
                (3, 2, "undecoded"),
                (5, 5, "gap"),
                (10, 2, "msg"),
                (12, 2, "msg")
            ]
        );
    }

    #[test]
    fn duplicate_bytes_are_ignored() {
        let mut d = Driver::new(Box::new(Lines), Limits::default());
        let mut items = Vec::new();
        d.data(Dir::C2S, 0, b"ab", &mut |i| items.push(i));
        d.data(Dir::C2S, 0, b"ab\n", &mut |i| items.push(i));
        d.close(&mut |i| items.push(i));
        assert_eq!(spans(&items), vec![(0, 3, "msg")]);
    }

    #[test]
    fn oversized_message_is_skipped_and_decoding_resumes() {
        let mut d = Driver::new(Box::new(Lines), Limits { max_message: 8 });
        let mut items = Vec::new();
        d.data(Dir::C2S, 0, b"0123456789", &mut |i| items.push(i));
        d.data(Dir::C2S, 10, b"ok\n", &mut |i| items.push(i));
        d.close(&mut |i| items.push(i));
        assert_eq!(spans(&items), vec![(0, 10, "undecoded"), (10, 3, "msg")]);
    }

    #[test]
    fn secret_ranges_are_clipped_sorted_and_merged() {
        let mut s = vec![9..20, 2..4, 0..0, 3..6, 30..40, 6..7];
        tidy_secrets(&mut s, 12);
        assert_eq!(s, vec![2..7, 9..12]);
    }
}
