//! Byte-level helpers of QPS: field constructors, Mac OS Roman text (D21)
//! and one-line display text. The cursor is the toolkit's
//! ([`Cursor`](crate::toolkit::Cursor)).

use std::borrow::Cow;
use std::ops::Range;

use crate::toolkit::{one_line_str, Ctl, Line};
use crate::{Field, Value};

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

/// Text for summaries and notes: control characters escaped (`\x1b`), at
/// most `max` characters (then "...").
pub fn disp(s: &str, max: usize) -> String {
    one_line_str(s, &Line::new(max, Ctl::LowerHex))
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
