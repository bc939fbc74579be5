//! A legacy pcap file read once, in blocks, by every reader of it.
//!
//! With several jobs, every worker reads the whole capture and keeps the
//! connections of its own shard (see `engine::threads::run_parallel`).
//! Through [`FileSource`](super::FileSource) that meant one `read()` of the
//! whole file per worker, each copying every byte out of the page cache.
//! Here the file is cut into [`BLOCK`]-byte blocks that are read once, by
//! whichever reader first needs one, and shared: each reader parses its
//! records straight from the blocks (a record that straddles two blocks is
//! put together in a small buffer of its own). A block is let go when the
//! last reader has taken it; a reader more than [`AHEAD`] blocks ahead of
//! the slowest waits for it (the engine's epochs keep them closer).
//!
//! Only the plain case is handled here: a regular file in one of the four
//! standard pcap formats, read up to its size when opened, each record
//! complete and within the streaming reader's limit. At anything
//! else (a truncated or oversized record, a read error, a file that
//! shrank) [`Records::next`] answers [`Step::Fallback`] and the caller
//! goes on with the streaming reader, which finds the same packets and
//! words the error (`file.rs`).

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::source::Timestamp;

/// Bytes per block: a few fit in a core's cache.
pub(super) const BLOCK: usize = 256 * 1024;
/// Length of a pcap record header (the standard formats).
const REC_HDR: usize = 16;
/// Blocks held at most between the slowest reader and the fastest (the
/// fastest waits): 16 MiB.
const AHEAD: usize = 64;
/// Spare block buffers kept for reuse, so that new ones are rarely
/// allocated and zeroed. As many as can be in use: the distance between
/// the readers swings within [`AHEAD`], and a smaller pool let go of
/// buffers as it shrank only to allocate them again as it grew (with two
/// workers on the 1 GiB mixed capture, 289 fresh buffers against 19).
/// The pool never holds more than were in use at once before.
const POOL: usize = AHEAD;

/// The blocks of one file, shared by its readers.
pub struct Blocks {
    file: File,
    size: u64,
    /// Bytes per block ([`BLOCK`]; smaller in tests).
    block: usize,
    ring: Mutex<Ring>,
    ready: Condvar,
    pool: Mutex<Vec<Vec<u8>>>,
}

/// The blocks between the slowest reader and the fastest.
struct Ring {
    /// Index of `slots[0]`.
    first: u64,
    slots: VecDeque<Slot>,
    /// Readers that have not yet let go of the file.
    readers: usize,
    /// A block has been asked for.
    begun: bool,
}

enum Slot {
    /// A reader is reading it.
    Reading,
    /// Read (`None`: the read failed or came short); `left`: readers yet
    /// to take it.
    Done {
        data: Option<Arc<Vec<u8>>>,
        left: usize,
    },
}

impl Blocks {
    /// Blocks of `file`, `size` bytes long, of `block` bytes each (at
    /// least one; [`BLOCK`] but for tests and fuzzing), with one reader.
    pub fn sized(file: File, size: u64, block: usize) -> Arc<Blocks> {
        Arc::new(Blocks {
            file,
            size,
            block: block.max(1),
            ring: Mutex::new(Ring {
                first: 0,
                slots: VecDeque::new(),
                readers: 1,
                begun: false,
            }),
            ready: Condvar::new(),
            pool: Mutex::new(Vec::new()),
        })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    fn ring(&self) -> Option<MutexGuard<'_, Ring>> {
        self.ring.lock().ok()
    }

    /// One more reader, if no block has been asked for yet (a reader
    /// that joined later could miss blocks already let go).
    fn join(&self) -> bool {
        match self.ring() {
            Some(mut r) if !r.begun => {
                r.readers += 1;
                true
            }
            _ => false,
        }
    }

    /// The readers begin with block `k`.
    fn begin_at(&self, k: u64) {
        if let Some(mut r) = self.ring() {
            if !r.begun {
                r.first = k;
            }
        }
    }

    /// The reader whose next block is `next` lets go of the file: the
    /// blocks from `next` on no longer wait for it.
    fn leave(&self, next: u64) {
        let Some(mut r) = self.ring() else { return };
        r.readers = r.readers.saturating_sub(1);
        let skip = usize::try_from(next.saturating_sub(r.first)).unwrap_or(usize::MAX);
        for slot in r.slots.iter_mut().skip(skip) {
            if let Slot::Done { left, .. } = slot {
                *left = left.saturating_sub(1);
            }
        }
        if r.trim() {
            self.ready.notify_all();
        }
    }

    /// Block `k`, read by this reader if no other has begun it. `None`:
    /// it could not be read whole.
    fn take(&self, k: u64) -> Option<Arc<Vec<u8>>> {
        let mut r = self.ring()?;
        r.begun = true;
        loop {
            let at = usize::try_from(k.checked_sub(r.first)?).ok()?;
            let len = r.slots.len();
            let crowded = len >= AHEAD && r.readers > 1;
            match r.slots.get_mut(at) {
                Some(Slot::Done { data, left }) => {
                    let data = data.clone();
                    *left = left.saturating_sub(1);
                    if r.trim() {
                        self.ready.notify_all();
                    }
                    return data;
                }
                // Being read; or this reader is too far ahead of the
                // slowest, which takes blocks already read and so never
                // waits here.
                Some(Slot::Reading) => r = self.ready.wait(r).ok()?,
                None if at == len && crowded => {
                    r = self.ready.wait(r).ok()?;
                }
                None if at == len => {
                    r.slots.push_back(Slot::Reading);
                    drop(r);
                    let data = self.read(k).map(Arc::new);
                    r = self.ring()?;
                    let readers = r.readers;
                    // The front may have moved meanwhile (not past this
                    // block, which is not done).
                    let at = usize::try_from(k.checked_sub(r.first)?).ok()?;
                    if let Some(slot) = r.slots.get_mut(at) {
                        *slot = Slot::Done {
                            data,
                            left: readers,
                        };
                    }
                    self.ready.notify_all();
                }
                None => return None,
            }
        }
    }

    /// Reads block `k` whole (the last one up to the file's size).
    fn read(&self, k: u64) -> Option<Vec<u8>> {
        let start = k.checked_mul(self.block as u64)?;
        let len = usize::try_from(self.size.checked_sub(start)?)
            .ok()?
            .min(self.block);
        let mut buf = self
            .pool
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_default();
        buf.resize(len, 0);
        self.file.read_exact_at(&mut buf, start).ok()?;
        Some(buf)
    }

    /// A block no reader holds any more, for reuse.
    fn recycle(&self, block: Arc<Vec<u8>>) {
        if let Ok(buf) = Arc::try_unwrap(block) {
            if let Ok(mut p) = self.pool.lock() {
                if p.len() < POOL {
                    p.push(buf);
                }
            }
        }
    }
}

/// `b` as a `u32` in the file's byte order.
pub(super) fn read_u32(b: [u8; 4], big_endian: bool) -> u32 {
    if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    }
}

/// The four bytes at `at` of `b` (zeros past its end: callers check the
/// length first and report a short input themselves).
pub(super) fn word(b: &[u8], at: usize) -> [u8; 4] {
    b.get(at..)
        .and_then(|r| r.first_chunk::<4>())
        .copied()
        .unwrap_or_default()
}

impl Ring {
    /// Lets go of the leading blocks every reader has taken; true if
    /// there were any.
    fn trim(&mut self) -> bool {
        let first = self.first;
        while let Some(Slot::Done { left: 0, .. }) = self.slots.front() {
            self.slots.pop_front();
            self.first += 1;
        }
        self.first != first
    }
}

/// The pcap file header's facts the records need.
#[derive(Clone, Copy)]
pub struct Format {
    pub big_endian: bool,
    pub nano: bool,
    /// Longer records (header included) are not the plain case.
    pub limit: usize,
}

/// One reader's records, parsed from the shared blocks.
pub struct Records {
    blocks: Arc<Blocks>,
    format: Format,
    /// The block the next record starts in, and its index.
    cur: Arc<Vec<u8>>,
    k: u64,
    /// Block `k` has been taken.
    started: bool,
    /// Where the next record starts in `cur`.
    pos: usize,
    /// A record that straddles blocks, put together.
    carry: Vec<u8>,
    /// Left the blocks (after a fallback).
    gone: bool,
    /// The last record.
    last: At,
    /// Where the record of the fallback begins.
    stopped: u64,
}

/// What [`Records::next`] found.
pub enum Step {
    /// A record, whose captured bytes [`Records::data`] gives: its
    /// timestamp and length on the wire.
    Packet(Timestamp, u32),
    End,
    /// Not the plain case: read on with the streaming reader.
    Fallback,
}

/// Where a record's bytes are.
#[derive(Clone, Copy)]
enum At {
    Block(usize, usize),
    Carry,
}

impl Records {
    /// Records from byte `start` of the file (after its header).
    pub fn new(blocks: Arc<Blocks>, format: Format, start: usize) -> Records {
        let block = blocks.block;
        blocks.begin_at((start / block) as u64);
        Records {
            blocks,
            format,
            cur: Arc::new(Vec::new()),
            k: (start / block) as u64,
            started: false,
            pos: start % block,
            carry: Vec::new(),
            gone: false,
            last: At::Carry,
            stopped: start as u64,
        }
    }

    /// Another reader of the same blocks, while none has been read.
    pub fn share(&self) -> Option<Records> {
        if self.gone || self.started || !self.blocks.join() {
            return None;
        }
        let start = self.consumed() as usize;
        Some(Records::new(Arc::clone(&self.blocks), self.format, start))
    }

    /// After [`Step::Fallback`]: where the record it stopped at begins
    /// (the blocks may have been read further, putting it together).
    pub fn resume_at(&self) -> u64 {
        self.stopped
    }

    /// Bytes of the file consumed so far.
    pub fn consumed(&self) -> u64 {
        self.k
            .saturating_mul(self.blocks.block as u64)
            .saturating_add(self.pos as u64)
            .min(self.blocks.size())
    }

    fn leave(&mut self) {
        if !self.gone {
            self.gone = true;
            self.blocks.leave(self.k + u64::from(self.started));
        }
    }

    /// Moves to the next block (the first, at the start); false when it
    /// cannot be had.
    fn advance(&mut self) -> bool {
        let k = self.k + u64::from(self.started);
        let Some(next) = self.blocks.take(k) else {
            return false;
        };
        let old = std::mem::replace(&mut self.cur, next);
        self.blocks.recycle(old);
        if self.started {
            self.pos = 0;
        }
        self.k = k;
        self.started = true;
        true
    }

    fn word(&self, b: &[u8], at: usize) -> u32 {
        read_u32(word(b, at), self.format.big_endian)
    }

    /// The last record's bytes, header included.
    fn record(&self) -> &[u8] {
        match self.last {
            At::Block(start, end) => self.cur.get(start..end),
            At::Carry => self.carry.get(..),
        }
        .unwrap_or_default()
    }

    /// The captured bytes of the record [`Records::next`] last found.
    pub fn data(&self) -> &[u8] {
        self.record().get(REC_HDR..).unwrap_or_default()
    }

    /// The next record, or where the plain case ends.
    pub fn next(&mut self) -> Step {
        if self.gone {
            return Step::Fallback;
        }
        // The common case first, without working out the file offset.
        let at = match self.in_block() {
            Some(at) => at,
            None => {
                let start = self.consumed();
                match self.locate(start) {
                    Some(Some(at)) => at,
                    Some(None) => return Step::End,
                    None => {
                        self.stopped = start;
                        self.leave();
                        return Step::Fallback;
                    }
                }
            }
        };
        self.last = at;
        let rec = self.record();
        let ts = Timestamp::legacy(self.word(rec, 0), self.word(rec, 4), self.format.nano);
        let caplen = u32::try_from(rec.len().saturating_sub(REC_HDR)).unwrap_or(u32::MAX);
        Step::Packet(ts, self.word(rec, 12).max(caplen))
    }

    /// The next record if it lies whole (and within the limit) in the
    /// current block, which ends within the file: what [`Records::locate`]
    /// would find. Moves past it.
    #[inline]
    fn in_block(&mut self) -> Option<At> {
        if !self.started {
            return None;
        }
        let rest = self.cur.get(self.pos..)?;
        let len = REC_HDR.checked_add(usize::try_from(self.word(rest.get(..REC_HDR)?, 8)).ok()?)?;
        if len > self.format.limit || len > rest.len() {
            return None;
        }
        let start = self.pos;
        self.pos += len;
        Some(At::Block(start, start + len))
    }

    /// Finds the next record, which begins at byte `offset` of the file
    /// (`Some(None)`: the file's end; `None`: not the plain case), and
    /// moves past it.
    fn locate(&mut self, offset: u64) -> Option<Option<At>> {
        let size = self.blocks.size();
        if offset == size {
            return Some(None);
        }
        // A record of `len` bytes (header included) within the limit and
        // the file.
        let limit = self.format.limit;
        let plain = |len: usize| len <= limit && offset + len as u64 <= size;
        // (`next` has tried the current block; at the start there was none.)
        if !self.started {
            if !self.advance() {
                return None;
            }
            if let Some(at) = self.in_block() {
                return Some(Some(at));
            }
        }
        // Not whole in this block: over the limit, or straddling.
        let rest = self.cur.get(self.pos..)?;
        let len = match rest.get(..REC_HDR) {
            Some(h) => REC_HDR + self.word(h, 8) as usize,
            None => REC_HDR,
        };
        if !plain(len) {
            return None;
        }
        // The record goes on in the next block(s).
        self.carry.clear();
        self.carry.extend_from_slice(rest);
        self.pos = self.cur.len();
        let mut need = REC_HDR;
        loop {
            if need == REC_HDR && self.carry.len() >= REC_HDR {
                need = REC_HDR + self.word(&self.carry, 8) as usize;
                if !plain(need) {
                    return None;
                }
            }
            if self.carry.len() >= need {
                break;
            }
            if self.pos >= self.cur.len() && !self.advance() {
                return None;
            }
            let avail = self.cur.get(self.pos..)?;
            let take = (need - self.carry.len()).min(avail.len());
            self.carry.extend_from_slice(avail.get(..take)?);
            self.pos += take;
        }
        Some(Some(At::Carry))
    }
}

impl Drop for Records {
    fn drop(&mut self) {
        self.leave();
    }
}

/// A file with given bytes in the temp directory, removed on drop.
#[cfg(test)]
pub(super) struct TempFile(pub std::path::PathBuf);

#[cfg(test)]
impl TempFile {
    pub fn new(bytes: &[u8]) -> TempFile {
        use std::io::Write;
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "qscope-blocks-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let mut f = File::create(&path).unwrap();
        f.write_all(bytes).unwrap();
        TempFile(path)
    }
}

#[cfg(test)]
impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl TempFile {
        fn blocks(&self, block: usize) -> Arc<Blocks> {
            let file = File::open(&self.0).unwrap();
            let size = file.metadata().unwrap().len();
            Blocks::sized(file, size, block)
        }
    }

    /// A 24-byte header (its contents do not matter here) and `n` records
    /// of pseudo-random lengths; the records as (ts, data, orig_len).
    /// A record as read: timestamp, captured bytes, length on the wire.
    type Rec = (Timestamp, Vec<u8>, u32);

    fn capture(n: usize, seed: u64, big_endian: bool) -> (Vec<u8>, Vec<Rec>) {
        let mut bytes = vec![0u8; 24];
        let mut recs = Vec::new();
        let mut x = seed | 1;
        let put = |v: &mut Vec<u8>, w: u32| {
            v.extend_from_slice(&if big_endian {
                w.to_be_bytes()
            } else {
                w.to_le_bytes()
            })
        };
        for i in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 300) as usize;
            let data: Vec<u8> = (0..len).map(|j| (i + j) as u8).collect();
            let orig = if x.is_multiple_of(5) {
                len as u32 + 40
            } else {
                len as u32
            };
            put(&mut bytes, i as u32);
            put(&mut bytes, (x % 1_000_000) as u32);
            put(&mut bytes, len as u32);
            put(&mut bytes, orig);
            bytes.extend_from_slice(&data);
            recs.push((
                Timestamp::legacy(i as u32, (x % 1_000_000) as u32, false),
                data,
                orig,
            ));
        }
        (bytes, recs)
    }

    const LIMIT: usize = 1 << 20;

    const PLAIN: Format = Format {
        big_endian: false,
        nano: false,
        limit: LIMIT,
    };

    /// Everything `r` gives, and how it ended (true: `End`).
    fn drain(r: &mut Records) -> (Vec<Rec>, bool) {
        let mut got = Vec::new();
        loop {
            match r.next() {
                Step::Packet(ts, orig) => got.push((ts, r.data().to_vec(), orig)),
                Step::End => return (got, true),
                Step::Fallback => return (got, false),
            }
        }
    }

    #[test]
    fn records_are_the_same_for_any_block_size() {
        for big_endian in [false, true] {
            let (bytes, want) = capture(200, 7, big_endian);
            let t = TempFile::new(&bytes);
            for block in [1, 7, 16, 17, 100, 333, 4096, 1 << 20] {
                let format = Format {
                    big_endian,
                    ..PLAIN
                };
                let mut r = Records::new(t.blocks(block), format, 24);
                let (got, end) = drain(&mut r);
                assert!(end, "block {block}");
                assert_eq!(got, want, "block {block}");
                assert_eq!(r.consumed(), bytes.len() as u64);
            }
        }
    }

    #[test]
    fn readers_on_threads_share_blocks_and_let_them_go() {
        let (bytes, want) = capture(3000, 11, false);
        let t = TempFile::new(&bytes);
        for block in [64, 1000, 8192] {
            let blocks = t.blocks(block);
            let first = Records::new(Arc::clone(&blocks), PLAIN, 24);
            let others: Vec<Records> = (0..3).map(|_| first.share().unwrap()).collect();
            let results: Vec<_> = std::thread::scope(|s| {
                let hs: Vec<_> = std::iter::once(first)
                    .chain(others)
                    .map(|mut r| s.spawn(move || drain(&mut r)))
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            for (got, end) in results {
                assert!(end);
                assert_eq!(got, want);
            }
            // Every block was let go.
            assert!(blocks.ring().unwrap().slots.is_empty());
        }
    }

    /// Two readers sharing the blocks (of `block` bytes) of a capture of
    /// `n` records; the file, its blocks and the records to expect.
    fn two_readers(
        n: usize,
        seed: u64,
        block: usize,
    ) -> (TempFile, Arc<Blocks>, Records, Records, Vec<Rec>) {
        let (bytes, want) = capture(n, seed, false);
        let t = TempFile::new(&bytes);
        let blocks = t.blocks(block);
        let a = Records::new(Arc::clone(&blocks), PLAIN, 24);
        let b = a.share().unwrap();
        (t, blocks, a, b, want)
    }

    #[test]
    fn a_reader_far_ahead_waits_for_the_slowest() {
        let (_t, blocks, mut a, mut b, want) = two_readers(3000, 23, 64);
        std::thread::scope(|s| {
            let fast = s.spawn(move || drain(&mut a));
            // Until the slow reader moves, the fast one stops AHEAD
            // blocks on.
            while blocks.ring().unwrap().slots.len() < AHEAD {
                std::thread::yield_now();
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert_eq!(blocks.ring().unwrap().slots.len(), AHEAD);
            assert!(!fast.is_finished());
            assert_eq!(drain(&mut b), (want.clone(), true));
            assert_eq!(fast.join().unwrap(), (want, true));
        });
        assert!(blocks.ring().unwrap().slots.is_empty());
    }

    #[test]
    fn a_reader_that_stops_does_not_hold_the_others() {
        let (_t, blocks, mut a, mut b, want) = two_readers(2000, 13, 512);
        for _ in 0..10 {
            assert!(matches!(a.next(), Step::Packet(..)));
        }
        drop(a);
        let (got, end) = drain(&mut b);
        assert!(end);
        assert_eq!(got, want);
        assert!(blocks.ring().unwrap().slots.is_empty());
        // Sharing ends once reading has begun.
        assert!(b.share().is_none());
    }

    #[test]
    fn anything_but_the_plain_case_falls_back() {
        let (bytes, want) = capture(20, 17, false);
        // Cut anywhere: the whole records before the cut, then a fallback
        // (or the end, when the cut falls between records).
        let mut ends = vec![24];
        let mut at = 24;
        for (_, d, _) in &want {
            at += 16 + d.len();
            ends.push(at);
        }
        for cut in 24..bytes.len() {
            let t = TempFile::new(&bytes[..cut]);
            for block in [5, 64, 4096] {
                let mut r = Records::new(t.blocks(block), PLAIN, 24);
                let (got, end) = drain(&mut r);
                let whole = ends.iter().filter(|&&e| e <= cut).count() - 1;
                assert_eq!(got, want[..whole].to_vec(), "cut {cut} block {block}");
                assert_eq!(end, ends.contains(&cut), "cut {cut} block {block}");
                if !end {
                    // The streaming reader goes on at the record not read.
                    assert_eq!(r.resume_at(), ends[whole] as u64, "cut {cut} block {block}");
                }
            }
        }
        // A record over the reader's limit.
        let mut big = bytes[..24].to_vec();
        big.extend_from_slice(&[0; 8]);
        big.extend_from_slice(&(LIMIT as u32).to_le_bytes());
        big.extend_from_slice(&[0; 4]);
        big.resize(big.len() + LIMIT, 0);
        let t = TempFile::new(&big);
        let mut r = Records::new(t.blocks(1 << 20), PLAIN, 24);
        assert!(matches!(r.next(), Step::Fallback));
        assert!(matches!(r.next(), Step::Fallback));
    }

    #[test]
    fn a_file_shorter_than_its_blocks_falls_back() {
        // The file shrank after its size was taken.
        let (bytes, _) = capture(100, 19, false);
        let t = TempFile::new(&bytes);
        let file = File::open(&t.0).unwrap();
        let blocks = Blocks::sized(file, bytes.len() as u64 + 1000, 256);
        let mut r = Records::new(blocks, PLAIN, 24);
        let (got, end) = drain(&mut r);
        assert!(!end);
        assert!(got.len() < 100);
    }
}
