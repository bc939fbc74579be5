//! Eight bytes at a time (SWAR): the byte searches shared by the scanner
//! and the JSON parsers, which skip through strings eight bytes per step.
//!
//! Masks have the high bit of each byte that matches set. A mask may also
//! mark bytes above (after) a true match, never below, so its lowest set
//! bit is the first match.

pub(super) const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Bytes of `w` equal to `b`.
#[inline(always)]
pub(super) fn swar_eq(w: u64, b: u8) -> u64 {
    let x = w ^ (LO * u64::from(b));
    x.wrapping_sub(LO) & !x & HI
}

/// Bytes of `w` below `n` (`n` at most 0x80).
#[inline(always)]
pub(super) fn swar_lt(w: u64, n: u8) -> u64 {
    w.wrapping_sub(LO * u64::from(n)) & !w & HI
}

/// Bytes of `w` below `n` (`n` at most 0x80) or with the high bit set
/// (0x80 and above).
#[inline(always)]
pub(super) fn swar_outside(w: u64, n: u8) -> u64 {
    (w.wrapping_sub(LO * u64::from(n)) | w) & HI
}

/// From `i`, the position of the first byte of `data` for which `stop`
/// holds, or `data.len()`; `stop8` is `stop` for eight bytes at a time.
#[inline(always)]
pub(super) fn skip_until(
    data: &[u8],
    mut i: usize,
    stop8: impl Fn(u64) -> u64,
    stop: impl Fn(u8) -> bool,
) -> usize {
    while let Some(chunk) = data.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let m = stop8(u64::from_le_bytes(*chunk));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while data.get(i).is_some_and(|&c| !stop(c)) {
        i += 1;
    }
    i
}
