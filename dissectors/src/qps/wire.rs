//! Byte-level helpers: a bounds-checked cursor that records the byte range
//! of every value it reads (message offsets), field constructors, Mac OS
//! Roman text (D21) and one-line display text.

use std::borrow::Cow;
use std::ops::Range;

use nom::number::complete::{be_u16, be_u32, be_u8};
use nom::IResult;

use crate::{Field, Value};

type NomErr<'a> = nom::error::Error<&'a [u8]>;
/// A nom number parser over bytes.
type NumParser<'a, T> = fn(&'a [u8]) -> IResult<&'a [u8], T, NomErr<'a>>;

/// A cursor over `buf[pos..end]`; `pos` and `end` are message offsets, so
/// the ranges it returns are the fields' ranges.
#[derive(Debug, Clone, Copy)]
pub struct Cur<'a> {
    buf: &'a [u8],
    pub pos: usize,
    pub end: usize,
}

impl<'a> Cur<'a> {
    pub fn new(buf: &'a [u8], pos: usize, end: usize) -> Cur<'a> {
        let end = end.min(buf.len());
        Cur {
            buf,
            pos: pos.min(end),
            end,
        }
    }

    /// Bytes left before `end`.
    pub fn left(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    /// The bytes left.
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..self.end).unwrap_or(&[])
    }

    /// The whole buffer (for reads at computed offsets).
    pub fn whole(&self) -> &'a [u8] {
        self.buf
    }

    /// The next `n` bytes (nothing is consumed when fewer are left).
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

    fn num<T>(&mut self, n: usize, p: NumParser<'a, T>) -> Option<(T, Range<usize>)> {
        let save = self.pos;
        let (bytes, r) = self.take(n)?;
        match p(bytes) {
            Ok((_, v)) => Some((v, r)),
            Err(_) => {
                self.pos = save;
                None
            }
        }
    }

    pub fn u8(&mut self) -> Option<(u8, Range<usize>)> {
        self.num(1, be_u8)
    }

    pub fn u16(&mut self) -> Option<(u16, Range<usize>)> {
        self.num(2, be_u16)
    }

    pub fn u32(&mut self) -> Option<(u32, Range<usize>)> {
        self.num(4, be_u32)
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

/// Big-endian u16 at `off`, if there.
pub fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

/// Big-endian u32 at `off`, if there.
pub fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes([
        *s.first()?,
        *s.get(1)?,
        *s.get(2)?,
        *s.get(3)?,
    ]))
}

pub fn f_uint(name: &'static str, r: Range<usize>, v: impl Into<u64>) -> Field {
    Field::new(name, Some(r), Value::UInt(v.into()))
}

pub fn f_bytes(name: &'static str, r: Range<usize>, b: &[u8]) -> Field {
    Field::new(name, Some(r), Value::Bytes(b.to_vec()))
}

pub fn f_text(name: &'static str, r: Range<usize>, b: &[u8]) -> Field {
    Field::new(name, Some(r), Value::Str(mac_roman(b)))
}

pub fn f_bool(name: &'static str, r: Range<usize>, v: bool) -> Field {
    Field::new(name, Some(r), Value::Bool(v))
}

pub fn f_str(name: &'static str, r: Option<Range<usize>>, s: impl Into<String>) -> Field {
    Field::new(name, r, Value::Str(s.into()))
}

/// A value the dissector inferred (not on the wire): no byte range.
pub fn f_inferred(name: &'static str, v: Value) -> Field {
    Field::new(name, None, v)
}

pub fn f_struct(name: &'static str, r: Option<Range<usize>>, fields: Vec<Field>) -> Field {
    Field::new(name, r, Value::Struct(fields))
}

pub fn f_list(name: &'static str, r: Option<Range<usize>>, items: Vec<Field>) -> Field {
    Field::new(name, r, Value::List(items))
}

/// Mac OS Roman, 0x80..=0xFF.
const MAC_ROMAN_HIGH: [char; 128] = [
    'Ä', 'Å', 'Ç', 'É', 'Ñ', 'Ö', 'Ü', 'á', 'à', 'â', 'ä', 'ã', 'å', 'ç', 'é', 'è', //
    'ê', 'ë', 'í', 'ì', 'î', 'ï', 'ñ', 'ó', 'ò', 'ô', 'ö', 'õ', 'ú', 'ù', 'û', 'ü', //
    '†', '°', '¢', '£', '§', '•', '¶', 'ß', '®', '©', '™', '´', '¨', '≠', 'Æ', 'Ø', //
    '∞', '±', '≤', '≥', '¥', 'µ', '∂', '∑', '∏', 'π', '∫', 'ª', 'º', 'Ω', 'æ', 'ø', //
    '¿', '¡', '¬', '√', 'ƒ', '≈', '∆', '«', '»', '…', '\u{a0}', 'À', 'Ã', 'Õ', 'Œ', 'œ', //
    '–', '—', '“', '”', '‘', '’', '÷', '◊', 'ÿ', 'Ÿ', '⁄', '€', '‹', '›', 'ﬁ', 'ﬂ', //
    '‡', '·', '‚', '„', '‰', 'Â', 'Ê', 'Á', 'Ë', 'È', 'Í', 'Î', 'Ï', 'Ì', 'Ó', 'Ô', //
    '\u{f8ff}', 'Ò', 'Ú', 'Û', 'Ù', 'ı', 'ˆ', '˜', '¯', '˘', '˙', '˚', '¸', '˝', '˛', 'ˇ', //
];

/// Decodes Mac OS Roman text (D21); identical to ASCII below 0x80, and a
/// bijection, so the bytes stay recoverable.
pub fn mac_roman(b: &[u8]) -> String {
    if b.is_ascii() {
        return b.iter().map(|&c| char::from(c)).collect();
    }
    b.iter()
        .map(|&c| {
            if c < 0x80 {
                char::from(c)
            } else {
                MAC_ROMAN_HIGH
                    .get(usize::from(c - 0x80))
                    .copied()
                    .unwrap_or('\u{fffd}')
            }
        })
        .collect()
}

/// Text for summaries and notes: control characters escaped, at most `max`
/// characters (then "...").
pub fn disp(s: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n >= max {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Mac OS Roman bytes for display.
pub fn disp_bytes(b: &[u8], max: usize) -> String {
    disp(&mac_roman(b), max)
}

/// A list of names for a summary: at most `max_items` names and about
/// `budget` characters, then "+N more".
pub fn name_list<'s>(names: impl IntoIterator<Item = Cow<'s, str>>, budget: usize) -> String {
    let mut out = String::new();
    let mut shown = 0usize;
    let mut more = 0usize;
    for name in names {
        if more > 0 || (shown > 0 && out.chars().count() + name.chars().count() > budget) {
            more += 1;
            continue;
        }
        if shown > 0 {
            out.push_str(", ");
        }
        out.push_str(&disp(&name, 80));
        shown += 1;
    }
    if more > 0 {
        out.push_str(&format!(" +{more} more"));
    }
    out
}

/// "1 story", "2 stories".
pub fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Seconds since 1904-01-01 (classic Mac OS clock) as a UTC date and time.
pub fn mac_time(secs: u32) -> String {
    let unix = i64::from(secs) - 2_082_844_800;
    let days = unix.div_euclid(86_400);
    let tod = unix.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        tod / 3600,
        tod % 3600 / 60,
        tod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_reads_and_ranges() {
        let b = [0u8, 1, 0, 0, 0, 2, 3, b'a', b'b', b'c', 9];
        let mut c = Cur::new(&b, 0, b.len());
        assert_eq!(c.u16(), Some((1, 0..2)));
        assert_eq!(c.u32(), Some((2, 2..6)));
        assert_eq!(c.pstr(), Some((&b"abc"[..], 6..10)));
        assert_eq!(c.u16(), None);
        assert_eq!(c.pos, 10);
        assert_eq!(c.u8(), Some((9, 10..11)));
        assert_eq!(c.left(), 0);
        let mut short = Cur::new(&[5u8, b'x'], 0, 2);
        assert_eq!(short.pstr(), None);
        assert_eq!(short.pos, 0);
    }

    #[test]
    fn mac_roman_and_time() {
        assert_eq!(mac_roman(b"Caf\x8e \xa5 \xd2x\xd3"), "Café • “x”");
        assert_eq!(mac_time(0), "1904-01-01 00:00:00 UTC");
        assert_eq!(mac_time(0xc20c_3880), "2007-03-01 08:00:00 UTC");
        assert_eq!(disp("a\u{1b}b", 10), "a\\x1bb");
        assert_eq!(
            name_list(["aaaa", "bbbb", "cccc"].map(Cow::Borrowed), 9),
            "aaaa, bbbb +1 more"
        );
    }
}
