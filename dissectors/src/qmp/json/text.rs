//! Lexical helpers shared by the exact parser, the fast parser, the
//! verifier and the scanner: QEMU's hex escapes, code point rules,
//! modified UTF-8, number grammar and where the plain tokens end.

pub(crate) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// From `i`, past the run of bytes for which `f` holds: an integer's
/// digits, a keyword's letters.
#[inline(always)]
pub(crate) fn run_end(s: &[u8], mut i: usize, f: impl Fn(&u8) -> bool) -> usize {
    while s.get(i).is_some_and(&f) {
        i += 1;
    }
    i
}

/// After an integer's digits, at `i`: the number goes on (a fraction or
/// an exponent follows) or may (the bytes end there), so it is not a
/// plain integer yet.
#[inline(always)]
pub(crate) fn digits_go_on(s: &[u8], i: usize) -> bool {
    matches!(s.get(i), None | Some(b'.' | b'e' | b'E'))
}

/// After a leading `0`, at `i`: the token goes on (a digit or a fraction
/// follows) or may (the bytes end there).
#[inline(always)]
pub(crate) fn zero_goes_on(s: &[u8], i: usize) -> bool {
    matches!(s.get(i), None | Some(b'0'..=b'9' | b'.'))
}

/// QEMU's `cvt4hex`: four hex digits at `i` (before `end`), else -1.
pub(super) fn hex4(s: &[u8], i: usize, end: usize) -> i64 {
    let mut cp = 0i64;
    for k in 0..4 {
        let j = i + k;
        if j >= end {
            return -1;
        }
        let d = match s.get(j).copied().unwrap_or(0) {
            c @ b'0'..=b'9' => c - b'0',
            c @ b'a'..=b'f' => c - b'a' + 10,
            c @ b'A'..=b'F' => c - b'A' + 10,
            _ => return -1,
        };
        cp = (cp << 4) | i64::from(d);
    }
    cp
}

/// QEMU's `is_valid_codepoint`: in range, no surrogate, no noncharacter.
pub(super) fn valid_cp(cp: i64) -> Option<char> {
    if !(0..=0x10FFFF).contains(&cp) {
        return None;
    }
    if (0xFDD0..=0xFDEF).contains(&cp) || (cp & 0xFFFE) == 0xFFFE {
        return None;
    }
    char::from_u32(u32::try_from(cp).ok()?)
}

/// QEMU's `mod_utf8_codepoint` for a multi-byte sequence at `i`: the
/// character, its length, and whether it was the overlong `C0 80`.
pub(super) fn mod_utf8(s: &[u8], i: usize, end: usize) -> Option<(char, usize, bool)> {
    const MIN_CP: [i64; 5] = [0x80, 0x800, 0x10000, 0x200000, 0x4000000];
    let b = *s.get(i)?;
    if b >= 0xFE || b & 0x40 == 0 {
        return None;
    }
    let len = (b.leading_ones() as usize).clamp(2, 6);
    let mut cp = i64::from(b & (0x7F >> len));
    for k in 1..len {
        let j = i + k;
        if j >= end {
            return None;
        }
        let c = *s.get(j)?;
        if c & 0xC0 != 0x80 {
            return None;
        }
        cp = (cp << 6) | i64::from(c & 0x3F);
    }
    let nul = cp == 0 && len == 2;
    if cp < MIN_CP[len - 2] && !nul {
        return None;
    }
    Some((valid_cp(cp)?, len, nul))
}

/// QEMU's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
/// Returns the end of the longest match and whether it is a number.
pub(crate) fn lex_number(s: &[u8], start: usize) -> (usize, bool) {
    let digit = |i: usize| s.get(i).is_some_and(u8::is_ascii_digit);
    let mut i = start;
    if s.get(i) == Some(&b'-') {
        i += 1;
    }
    match s.get(i) {
        Some(b'0') => {
            i += 1;
            if digit(i) {
                return (i + 1, false);
            }
        }
        Some(b'1'..=b'9') => {
            while digit(i) {
                i += 1;
            }
        }
        _ => return ((i + 1).min(s.len()), false),
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        if !digit(i) {
            return ((i + 1).min(s.len()), false);
        }
        while digit(i) {
            i += 1;
        }
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digit(i) {
            return ((i + 1).min(s.len()), false);
        }
        while digit(i) {
            i += 1;
        }
    }
    (i, true)
}
