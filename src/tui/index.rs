//! The compact index: one 32-byte [`Row`] per timeline row, a budgeted
//! text arena for short summary prefixes, and the interned message names.
//!
//! Everything that grows with the number of messages lives in fixed-size
//! chunks ([`Chunked`], [`Arena`]), so the real allocation is what is used
//! plus at most one partly filled chunk: no doubling slack. The text arena
//! is budgeted: on average at most [`TEXT_BUDGET`] bytes per row (length
//! byte included), with short texts leaving credit that longer ones may
//! use, up to [`MAX_TEXT`] bytes for one row. See [`Index::memory`].

use qscope_dissectors::{Dir, Kind, Severity};

/// "No value" for the `u32` fields of a [`Row`].
pub const NONE: u32 = u32::MAX;
/// "No latency".
pub const NO_LATENCY: i32 = i32::MIN;
/// Average text bytes per row the arena may use (length byte included).
pub const TEXT_BUDGET: u64 = 24;
/// Text bytes the arena may use whatever the number of rows: small
/// captures keep their summaries whole.
pub const TEXT_ALLOWANCE: u64 = 1 << 20;
/// Most text bytes kept for one row.
pub const MAX_TEXT: usize = 160;
/// Name id used when the name table is full (a hostile capture with
/// millions of distinct names): the row shows "…".
pub const NAME_OVERFLOW: u16 = u16::MAX;

const CHUNK_BITS: usize = 14;
const CHUNK: usize = 1 << CHUNK_BITS;

/// A growable array stored in fixed-size chunks of 16384 elements.
#[derive(Debug, Clone, Default)]
pub struct Chunked<T> {
    chunks: Vec<Box<[T]>>,
    len: usize,
}

impl<T: Copy + Default> Chunked<T> {
    pub fn new() -> Self {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, v: T) {
        if self.len == self.chunks.len() * CHUNK {
            self.chunks
                .push(vec![T::default(); CHUNK].into_boxed_slice());
        }
        self.chunks[self.len >> CHUNK_BITS][self.len & (CHUNK - 1)] = v;
        self.len += 1;
    }

    /// The element at `i` (panics when out of range, like indexing).
    pub fn get(&self, i: usize) -> T {
        assert!(i < self.len, "index {i} out of range {}", self.len);
        self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }

    pub fn set(&mut self, i: usize, v: T) {
        assert!(i < self.len);
        self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)] = v;
    }

    pub fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }

    pub fn last(&self) -> Option<T> {
        self.len.checked_sub(1).map(|i| self.get(i))
    }

    /// Bytes allocated (chunks plus the chunk table).
    pub fn memory(&self) -> usize {
        self.chunks.len() * CHUNK * std::mem::size_of::<T>()
            + self.chunks.capacity() * std::mem::size_of::<Box<[T]>>()
    }
}

impl<T: Copy + Default + Ord> Chunked<T> {
    /// Position of the first element `>= x` (the array must be sorted).
    pub fn lower_bound(&self, x: T) -> usize {
        let (mut lo, mut hi) = (0, self.len);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.get(mid) < x {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// What a timeline row stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Message,
    /// Bytes missing from the capture (`aux` = length, saturating).
    Gap,
    /// Bytes no message covers, with a warning (`aux` = length).
    Undecoded,
    /// A session note worth a row (text = the note).
    Note,
    /// A session was announced.
    Open,
    /// A session ended.
    End,
}

impl RowKind {
    fn code(self) -> u16 {
        match self {
            RowKind::Message => 0,
            RowKind::Gap => 1,
            RowKind::Undecoded => 2,
            RowKind::Note => 3,
            RowKind::Open => 4,
            RowKind::End => 5,
        }
    }
    fn from_code(c: u16) -> RowKind {
        match c {
            1 => RowKind::Gap,
            2 => RowKind::Undecoded,
            3 => RowKind::Note,
            4 => RowKind::Open,
            5 => RowKind::End,
            _ => RowKind::Message,
        }
    }
}

fn kind_code(k: Kind) -> u16 {
    match k {
        Kind::Request => 0,
        Kind::Response => 1,
        Kind::Event => 2,
        Kind::Greeting => 3,
        Kind::Push => 4,
        Kind::Other => 5,
    }
}

fn kind_from_code(c: u16) -> Kind {
    match c {
        0 => Kind::Request,
        1 => Kind::Response,
        2 => Kind::Event,
        3 => Kind::Greeting,
        4 => Kind::Push,
        _ => Kind::Other,
    }
}

/// One timeline row: 32 bytes.
///
/// `flags`: bits 0-2 [`RowKind`], 3-5 message [`Kind`], 6 direction
/// (set = s2c), 7 error, 8-9 highest note severity (0 none, 1 info,
/// 2 warn, 3 error), 10 text was cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Row {
    /// Capture time, µs since the Unix epoch.
    pub ts_us: i64,
    /// Session ordinal (0 for "s1"...).
    pub session: u32,
    /// Message: its index in the session.
    pub index: u32,
    /// Message: index of the request it answers ([`NONE`]); gap and
    /// undecoded rows: their length in bytes (saturating).
    pub aux: u32,
    /// Message: latency in µs (saturating; [`NO_LATENCY`] when none).
    pub latency: i32,
    /// Offset of the row's text in the arena ([`NONE`] when none).
    pub text: u32,
    /// Interned message name.
    pub name: u16,
    pub flags: u16,
}

impl Row {
    pub fn new(kind: RowKind, ts_us: i64, session: u32) -> Row {
        Row {
            ts_us,
            session,
            index: NONE,
            aux: NONE,
            latency: NO_LATENCY,
            text: NONE,
            name: NAME_OVERFLOW,
            flags: kind.code(),
        }
    }

    pub fn kind(&self) -> RowKind {
        RowKind::from_code(self.flags & 7)
    }
    pub fn msg_kind(&self) -> Kind {
        kind_from_code((self.flags >> 3) & 7)
    }
    pub fn set_msg_kind(&mut self, k: Kind) {
        self.flags = (self.flags & !(7 << 3)) | (kind_code(k) << 3);
    }
    pub fn dir(&self) -> Dir {
        if self.flags & (1 << 6) != 0 {
            Dir::S2C
        } else {
            Dir::C2S
        }
    }
    pub fn set_dir(&mut self, d: Dir) {
        if d == Dir::S2C {
            self.flags |= 1 << 6;
        } else {
            self.flags &= !(1 << 6);
        }
    }
    pub fn is_error(&self) -> bool {
        self.flags & (1 << 7) != 0
    }
    pub fn set_error(&mut self, e: bool) {
        if e {
            self.flags |= 1 << 7;
        } else {
            self.flags &= !(1 << 7);
        }
    }
    /// Highest severity of the row's notes.
    pub fn severity(&self) -> Option<Severity> {
        match (self.flags >> 8) & 3 {
            1 => Some(Severity::Info),
            2 => Some(Severity::Warn),
            3 => Some(Severity::Error),
            _ => None,
        }
    }
    pub fn raise_severity(&mut self, s: Severity) {
        let code = match s {
            Severity::Info => 1,
            Severity::Warn => 2,
            Severity::Error => 3,
        };
        let cur = (self.flags >> 8) & 3;
        if code > cur {
            self.flags = (self.flags & !(3 << 8)) | (code << 8);
        }
    }
    pub fn text_cut(&self) -> bool {
        self.flags & (1 << 10) != 0
    }
    fn set_text_cut(&mut self) {
        self.flags |= 1 << 10;
    }
    pub fn reply_to(&self) -> Option<u32> {
        (self.kind() == RowKind::Message && self.aux != NONE).then_some(self.aux)
    }
    pub fn latency_us(&self) -> Option<i64> {
        (self.latency != NO_LATENCY).then_some(i64::from(self.latency))
    }
    /// Byte length of a gap or undecoded row.
    pub fn range_len(&self) -> u32 {
        self.aux
    }
}

/// Saturating conversions for row fields.
pub fn sat_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(NONE - 1)
}

pub fn sat_latency(us: i64) -> i32 {
    us.clamp(i64::from(i32::MIN + 1), i64::from(i32::MAX)) as i32
}

const ARENA_BITS: u32 = 20;
const ARENA_CHUNK: usize = 1 << ARENA_BITS;
/// Chunks addressable by a `u32` offset (one short so that `NONE` is never
/// a valid offset).
const ARENA_MAX_CHUNKS: usize = (1 << (32 - ARENA_BITS)) - 1;

/// Length-prefixed short texts (≤ 255 bytes each) in 1 MiB chunks.
#[derive(Debug, Default)]
pub struct Arena {
    chunks: Vec<Vec<u8>>,
    /// Bytes stored (length bytes included).
    used: u64,
}

impl Arena {
    /// Stores `s` (at most 255 bytes); `None` when the arena is full.
    fn push(&mut self, s: &[u8]) -> Option<u32> {
        debug_assert!(s.len() <= 255);
        let need = s.len() + 1;
        if self
            .chunks
            .last()
            .is_none_or(|c| c.len() + need > ARENA_CHUNK)
        {
            if self.chunks.len() >= ARENA_MAX_CHUNKS {
                return None;
            }
            self.chunks.push(Vec::with_capacity(ARENA_CHUNK));
        }
        let ci = self.chunks.len() - 1;
        let c = &mut self.chunks[ci];
        let off = ((ci as u32) << ARENA_BITS) | c.len() as u32;
        c.push(s.len() as u8);
        c.extend_from_slice(s);
        self.used += need as u64;
        Some(off)
    }

    fn get(&self, off: u32) -> &str {
        let c = &self.chunks[(off >> ARENA_BITS) as usize];
        let p = (off as usize) & (ARENA_CHUNK - 1);
        let n = c[p] as usize;
        // Only whole characters are ever stored.
        std::str::from_utf8(&c[p + 1..p + 1 + n]).unwrap_or("")
    }

    pub fn used(&self) -> u64 {
        self.used
    }

    pub fn memory(&self) -> usize {
        self.chunks.iter().map(|c| c.capacity()).sum::<usize>()
            + self.chunks.capacity() * std::mem::size_of::<Vec<u8>>()
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a
/// character boundary.
pub fn prefix(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Every row of the capture, in the order the analysis produced them.
#[derive(Debug, Default)]
pub struct Index {
    pub rows: Chunked<Row>,
    pub text: Arena,
    /// Interned message names (already escaped), by id.
    pub names: Vec<Box<str>>,
}

impl Index {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn row(&self, i: usize) -> Row {
        self.rows.get(i)
    }

    /// Appends a row with its text (already escaped), keeping as much of
    /// the text as the budget allows.
    pub fn push(&mut self, mut row: Row, text: &str) {
        row.text = NONE;
        if !text.is_empty() {
            let allowed = (TEXT_BUDGET * (self.rows.len() as u64 + 1) + TEXT_ALLOWANCE)
                .saturating_sub(self.text.used)
                .min(MAX_TEXT as u64 + 1) as usize;
            if allowed >= 2 {
                let p = prefix(text, allowed - 1);
                if let Some(off) = self.text.push(p.as_bytes()) {
                    row.text = off;
                }
                if p.len() < text.len() {
                    row.set_text_cut();
                }
            } else {
                row.set_text_cut();
            }
        }
        self.rows.push(row);
    }

    /// The row's kept text ("" when none).
    pub fn text(&self, row: &Row) -> &str {
        if row.text == NONE {
            ""
        } else {
            self.text.get(row.text)
        }
    }

    /// The row's message name ("…" when the name table overflowed).
    pub fn name(&self, row: &Row) -> &str {
        self.names
            .get(usize::from(row.name))
            .map(|s| &**s)
            .unwrap_or("…")
    }

    /// Bytes allocated for the rows, the text arena and the name table.
    pub fn memory(&self) -> usize {
        self.rows.memory()
            + self.text.memory()
            + self.names.capacity() * std::mem::size_of::<Box<str>>()
            + self.names.iter().map(|n| n.len()).sum::<usize>()
    }
}

/// A growable bit set (filter matches by row id).
#[derive(Debug, Default, Clone)]
pub struct Bits {
    words: Vec<u64>,
}

impl Bits {
    pub fn set(&mut self, i: usize) {
        let w = i / 64;
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        self.words[w] |= 1 << (i % 64);
    }
    pub fn get(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    pub fn memory(&self) -> usize {
        self.words.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_is_32_bytes() {
        assert_eq!(std::mem::size_of::<Row>(), 32);
    }

    #[test]
    fn flags_round_trip() {
        let mut r = Row::new(RowKind::Message, 5, 1);
        r.set_msg_kind(Kind::Push);
        r.set_dir(Dir::S2C);
        r.set_error(true);
        r.raise_severity(Severity::Warn);
        r.raise_severity(Severity::Info);
        assert_eq!(r.kind(), RowKind::Message);
        assert_eq!(r.msg_kind(), Kind::Push);
        assert_eq!(r.dir(), Dir::S2C);
        assert!(r.is_error());
        assert_eq!(r.severity(), Some(Severity::Warn));
        let g = Row::new(RowKind::Gap, 0, 0);
        assert_eq!(g.kind(), RowKind::Gap);
        assert_eq!(g.severity(), None);
    }

    #[test]
    fn text_budget_is_kept() {
        let mut ix = Index::default();
        let long = "é".repeat(300);
        for _ in 0..100_000 {
            ix.push(Row::new(RowKind::Message, 0, 0), &long);
        }
        assert!(ix.text.used() <= TEXT_BUDGET * 100_000 + TEXT_ALLOWANCE);
        let t = ix.text(&ix.row(0));
        assert!(!t.is_empty() && t.len() <= MAX_TEXT);
        assert!(ix.row(0).text_cut());
        let t = ix.text(&ix.row(99_999));
        assert!(!t.is_empty() && t.len() <= TEXT_BUDGET as usize);
        // short texts leave credit for later long ones
        for _ in 0..100 {
            ix.push(Row::new(RowKind::Message, 0, 0), "ab");
        }
        ix.push(Row::new(RowKind::Message, 0, 0), &"x".repeat(500));
        assert_eq!(ix.text(&ix.row(100_100)).len(), MAX_TEXT);
    }

    #[test]
    fn chunked_lower_bound() {
        let mut c = Chunked::new();
        for i in 0..40_000u32 {
            c.push(i * 2);
        }
        assert_eq!(c.lower_bound(0), 0);
        assert_eq!(c.lower_bound(3), 2);
        assert_eq!(c.lower_bound(80_000), 40_000);
        assert_eq!(c.get(39_999), 79_998);
    }
}
