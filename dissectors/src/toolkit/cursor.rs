//! The byte cursor and the big-endian readers at an offset.

use std::ops::Range;

/// A cursor over `buf[pos..end]`. `pos` and `end` are offsets into `buf`
/// (usually a whole message), so the ranges the reads return are the
/// fields' ranges. A read that does not fit before `end` returns `None` and
/// consumes nothing.
#[derive(Debug, Clone, Copy)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pub pos: usize,
    pub end: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor over `buf[pos..end]` (both clamped to the buffer).
    pub fn new(buf: &'a [u8], pos: usize, end: usize) -> Cursor<'a> {
        let end = end.min(buf.len());
        Cursor {
            buf,
            pos: pos.min(end),
            end,
        }
    }

    /// A cursor over `buf[pos..]`.
    pub fn from(buf: &'a [u8], pos: usize) -> Cursor<'a> {
        Cursor::new(buf, pos, buf.len())
    }

    /// Bytes left before `end`.
    pub fn left(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    /// The bytes left (nothing is consumed).
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..self.end).unwrap_or(&[])
    }

    /// The whole buffer (for reads at computed offsets).
    pub fn whole(&self) -> &'a [u8] {
        self.buf
    }

    /// The next `n` bytes and their range (nothing is consumed when fewer
    /// are left).
    pub fn take(&mut self, n: usize) -> Option<(&'a [u8], Range<usize>)> {
        let stop = self.pos.checked_add(n)?;
        if stop > self.end {
            return None;
        }
        let bytes = self.buf.get(self.pos..stop)?;
        let r = self.pos..stop;
        self.pos = stop;
        Some((bytes, r))
    }

    /// `n` bytes where `n` was read from the wire: negative or beyond the
    /// end fails.
    pub fn take_len(&mut self, n: i64) -> Option<(&'a [u8], Range<usize>)> {
        self.take(usize::try_from(n).ok()?)
    }

    /// Everything left, and its range; the cursor ends at `end`.
    pub fn take_rest(&mut self) -> (&'a [u8], Range<usize>) {
        let at = self.pos;
        self.pos = self.end;
        (self.rest_from(at), at..self.end)
    }

    fn rest_from(&self, at: usize) -> &'a [u8] {
        self.buf.get(at..self.end).unwrap_or(&[])
    }

    /// Skips the padding that follows a value of `len` bytes so that the
    /// next one starts at a multiple of `align` (QM's pad byte after an
    /// odd-length string: `align` 2). Fails, consuming nothing, when the
    /// padding is not there.
    pub fn pad(&mut self, len: usize, align: usize) -> Option<()> {
        let n = match len.checked_rem(align) {
            Some(0) | None => 0,
            Some(r) => align - r,
        };
        if n > 0 {
            self.take(n)?;
        }
        Some(())
    }

    fn array<const N: usize>(&mut self) -> Option<([u8; N], Range<usize>)> {
        let (bytes, r) = self.take(N)?;
        let a = bytes.first_chunk::<N>()?;
        Some((*a, r))
    }

    pub fn u8(&mut self) -> Option<(u8, Range<usize>)> {
        self.array::<1>().map(|(a, r)| (u8::from_be_bytes(a), r))
    }

    pub fn u16(&mut self) -> Option<(u16, Range<usize>)> {
        self.array().map(|(a, r)| (u16::from_be_bytes(a), r))
    }

    pub fn u32(&mut self) -> Option<(u32, Range<usize>)> {
        self.array().map(|(a, r)| (u32::from_be_bytes(a), r))
    }

    /// Little-endian (QM).
    pub fn le_i16(&mut self) -> Option<(i16, Range<usize>)> {
        self.array().map(|(a, r)| (i16::from_le_bytes(a), r))
    }

    /// Little-endian (QM).
    pub fn le_i32(&mut self) -> Option<(i32, Range<usize>)> {
        self.array().map(|(a, r)| (i32::from_le_bytes(a), r))
    }

    /// A Pascal string (1-byte length, then the text). The range covers the
    /// length byte and the text.
    pub fn pstr(&mut self) -> Option<(&'a [u8], Range<usize>)> {
        let save = self.pos;
        let (n, _) = self.u8()?;
        match self.take(usize::from(n)) {
            Some((text, r)) => Some((text, save..r.end)),
            None => {
                self.pos = save;
                None
            }
        }
    }
}

/// Big-endian u16 at `at`, if there.
pub fn be_u16(b: &[u8], at: usize) -> Option<u16> {
    let a = b.get(at..)?.first_chunk::<2>()?;
    Some(u16::from_be_bytes(*a))
}

/// Big-endian u32 at `at`, if there.
pub fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    let a = b.get(at..)?.first_chunk::<4>()?;
    Some(u32::from_be_bytes(*a))
}

/// Little-endian i16 at `at`, if there (QM).
pub fn le_i16(b: &[u8], at: usize) -> Option<i16> {
    let a = b.get(at..)?.first_chunk::<2>()?;
    Some(i16::from_le_bytes(*a))
}

/// Little-endian i32 at `at`, if there (QM).
pub fn le_i32(b: &[u8], at: usize) -> Option<i32> {
    let a = b.get(at..)?.first_chunk::<4>()?;
    Some(i32::from_le_bytes(*a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_ranges() {
        let b = [0u8, 1, 0, 0, 0, 2, 3, b'a', b'b', b'c', 9];
        let mut c = Cursor::new(&b, 0, b.len());
        assert_eq!(c.u16(), Some((1, 0..2)));
        assert_eq!(c.u32(), Some((2, 2..6)));
        assert_eq!(c.pstr(), Some((&b"abc"[..], 6..10)));
        assert_eq!(c.u16(), None);
        assert_eq!(c.pos, 10);
        assert_eq!(c.u8(), Some((9, 10..11)));
        assert_eq!(c.left(), 0);
        let mut short = Cursor::new(&[5u8, b'x'], 0, 2);
        assert_eq!(short.pstr(), None);
        assert_eq!(short.pos, 0);
    }

    #[test]
    fn little_endian_lengths_padding_rest() {
        let b = [0xfeu8, 0xff, 1, 0, 0, 0, b'x', 0, b'y', b'z'];
        let mut c = Cursor::from(&b, 0);
        assert_eq!(c.le_i16(), Some((-2, 0..2)));
        assert_eq!(c.le_i32(), Some((1, 2..6)));
        assert_eq!(c.take_len(-1), None);
        assert_eq!(c.take_len(1), Some((&b"x"[..], 6..7)));
        assert_eq!(c.pad(1, 2), Some(()));
        assert_eq!(c.pos, 8);
        assert_eq!(c.take_rest(), (&b"yz"[..], 8..10));
        assert_eq!(c.take_rest(), (&b""[..], 10..10));
        assert_eq!(c.pad(1, 2), None);
        assert_eq!(c.le_i16(), None);
    }

    #[test]
    fn at_offsets() {
        let b = [1u8, 2, 3, 4, 5];
        assert_eq!(be_u16(&b, 3), Some(0x0405));
        assert_eq!(be_u16(&b, 4), None);
        assert_eq!(be_u32(&b, 1), Some(0x0203_0405));
        assert_eq!(be_u32(&b, 2), None);
        assert_eq!(be_u32(&b, usize::MAX), None);
        assert_eq!(le_i16(&[0xfe, 0xff], 0), Some(-2));
        assert_eq!(le_i32(&b, 1), Some(0x0504_0302));
        assert_eq!(le_i32(&b, 2), None);
    }
}
