//! How raw bytes from the wire are shown: the one set of rules every byte
//! view follows (`qscope follow` text and `--hex`, the TUI's hex
//! pane and its stream view).
//!
//! * **Masking.** Dissectors mark the bytes that hold secrets
//!   (`Message::secrets`). Unless the user asked for them
//!   (`--show-secrets`), each such byte is shown as `**` in hex and `*` as
//!   text or in the ASCII column: one per byte, so offsets, line lengths
//!   and the hex layout stay what they would be. Masking is a pure
//!   function of the bytes, where they sit, the [`Secrets`] and the show
//!   flag ([`shown`]).
//! * **Text.** Printable ASCII as is; `\\`, `\t`, `\r`, `\n`; any other
//!   byte as `\xNN`. So the text is ASCII, free of control characters, and
//!   every byte can be read back.
//! * **Lines.** A new line starts after a 0x0a byte only in sessions of a
//!   text protocol, where 0x0a ends lines: QMP (and QGA) and MQServer's
//!   text and XML encodings ([`Layout::of`]). In binary protocols (QM, QPS,
//!   MQServer's early binary and XDR encodings) and in sessions of no known
//!   protocol, a 0x0a is one more byte (shown as `\n`) and does not split a
//!   frame over lines.
//! * **Hex.** Rows of `OFFSET  hh hh hh hh hh hh hh hh  hh ... |ascii|`
//!   (8 hex digits of stream offset, an extra space after the 8th byte);
//!   the ASCII column shows printable ASCII, `.` for other bytes, and in QM
//!   sessions the MultiValue marks 0xFF..0xFB as `~ ^ ] \ |`.

use std::fmt::Write as _;
use std::ops::Range;

use qscope_dissectors::registry::LineBreaks;
use qscope_dissectors::{Message, Proto, Value};

/// A secret byte in hex.
pub const MASK_HEX: &str = "**";
/// A secret byte as text and in the ASCII column.
pub const MASK_CHAR: char = '*';

/// Byte ranges that hold secrets, in one coordinate system (stream offsets
/// of one direction, or offsets within one message): sorted, disjoint,
/// non-empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    ranges: Vec<Range<u64>>,
}

impl Secrets {
    pub fn new(ranges: impl IntoIterator<Item = Range<u64>>) -> Secrets {
        let mut s = Secrets::default();
        s.extend(ranges);
        s
    }

    /// A message's secrets, relative to its first byte.
    pub fn within(m: &Message) -> Secrets {
        Secrets::new(m.secrets.iter().map(|r| r.start as u64..r.end as u64))
    }

    /// Adds ranges (empty ones are ignored).
    pub fn extend(&mut self, ranges: impl IntoIterator<Item = Range<u64>>) {
        self.ranges
            .extend(ranges.into_iter().filter(|r| r.start < r.end));
        self.ranges.sort_by_key(|r| r.start);
        let mut merged: Vec<Range<u64>> = Vec::with_capacity(self.ranges.len());
        for r in self.ranges.drain(..) {
            match merged.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }
        self.ranges = merged;
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn ranges(&self) -> &[Range<u64>] {
        &self.ranges
    }

    /// The byte at `at` is secret.
    pub fn contains(&self, at: u64) -> bool {
        let i = self.ranges.partition_point(|r| r.end <= at);
        self.ranges.get(i).is_some_and(|r| r.start <= at)
    }

    /// Some byte of `r` is secret.
    pub fn overlaps(&self, r: &Range<u64>) -> bool {
        let i = self.ranges.partition_point(|s| s.end <= r.start);
        self.ranges
            .get(i)
            .is_some_and(|s| s.start < r.end && r.start < r.end)
    }
}

/// One byte as a view shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Byte(u8),
    /// A byte of a secret, masked.
    Secret,
}

/// `bytes`, whose first byte sits at `base` (in the coordinates of
/// `secrets`), with the secret ones masked unless `show`.
pub fn shown<'a>(
    bytes: &'a [u8],
    base: u64,
    secrets: &'a Secrets,
    show: bool,
) -> impl Iterator<Item = Shown> + 'a {
    let ranges = if show { &[][..] } else { secrets.ranges() };
    // The first range that may cover `base` or a later byte.
    let mut next = ranges.partition_point(|r| r.end <= base);
    bytes.iter().enumerate().map(move |(i, &b)| {
        let at = base.saturating_add(i as u64);
        while ranges.get(next).is_some_and(|r| r.end <= at) {
            next += 1;
        }
        match ranges.get(next) {
            Some(r) if r.start <= at => Shown::Secret,
            _ => Shown::Byte(b),
        }
    })
}

/// How a session's bytes are laid out, decided once per session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Layout {
    /// Text: a new line after each 0x0a (text protocols only).
    pub line_breaks: bool,
    /// Hex: QM's MultiValue marks in the ASCII column.
    pub marks: bool,
}

impl Layout {
    /// The layout of a session of `proto`; `encoding` is what the MQServer
    /// dissector reports for the session's messages (the `encoding` field:
    /// `text`, `binary`, `xdr`, `xml`), see [`encoding`].
    pub fn of(proto: Proto, encoding: Option<&str>) -> Layout {
        let Some(display) = proto.protocol().map(|p| &p.display) else {
            return Layout::default();
        };
        let line_breaks = match display.line_breaks {
            LineBreaks::Never => false,
            LineBreaks::Always => true,
            LineBreaks::Encodings(list) => encoding.is_some_and(|e| list.contains(&e)),
        };
        Layout {
            line_breaks,
            marks: display.marks,
        }
    }
}

/// The wire encoding a message reports (MQServer's `encoding` field).
pub fn encoding(m: &Message) -> Option<&str> {
    match &m.field("encoding")?.value {
        Value::Str(s) => Some(s),
        _ => None,
    }
}

/// Appends the text form of one byte.
pub fn push_text(out: &mut String, s: Shown) {
    match s {
        Shown::Secret => out.push(MASK_CHAR),
        Shown::Byte(b'\\') => out.push_str("\\\\"),
        Shown::Byte(b'\t') => out.push_str("\\t"),
        Shown::Byte(b'\r') => out.push_str("\\r"),
        Shown::Byte(b'\n') => out.push_str("\\n"),
        Shown::Byte(b @ 0x20..=0x7e) => out.push(char::from(b)),
        Shown::Byte(b) => {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
}

/// The text lines of a run of bytes: one line, or with `line_breaks` a new
/// line after each 0x0a that is not the last byte. Never empty.
pub fn text_lines(bytes: impl IntoIterator<Item = Shown>, line_breaks: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut after_newline = false;
    for s in bytes {
        if after_newline {
            lines.push(std::mem::take(&mut cur));
        }
        push_text(&mut cur, s);
        after_newline = line_breaks && s == Shown::Byte(b'\n');
    }
    lines.push(cur);
    lines
}

/// Splits a line made by [`text_lines`] into pieces of at most `width`
/// characters (at least one escape each), never inside an escape.
pub fn wrap(line: &str, width: usize) -> Vec<&str> {
    let width = width.max(4);
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        let tok = match (b.get(i), b.get(i + 1)) {
            (Some(b'\\'), Some(b'x')) => 4,
            (Some(b'\\'), Some(_)) => 2,
            _ => 1,
        };
        let end = (i + tok).min(b.len());
        if end - start > width && i > start {
            out.push(line.get(start..i).unwrap_or(""));
            start = i;
        }
        i = end;
    }
    out.push(line.get(start..).unwrap_or(""));
    out
}

/// Appends the hex form of one byte: two lower-case digits, or `**`.
pub fn push_hex(out: &mut String, s: Shown) {
    match s {
        Shown::Byte(b) => {
            let _ = write!(out, "{b:02x}");
        }
        Shown::Secret => out.push_str(MASK_HEX),
    }
}

/// The ASCII column's character for one byte.
pub fn ascii(s: Shown, marks: bool) -> char {
    match s {
        Shown::Secret => MASK_CHAR,
        Shown::Byte(x @ 0x20..=0x7e) => char::from(x),
        Shown::Byte(0xFE) if marks => '^',
        Shown::Byte(0xFD) if marks => ']',
        Shown::Byte(0xFC) if marks => '\\',
        Shown::Byte(0xFB) if marks => '|',
        Shown::Byte(0xFF) if marks => '~',
        Shown::Byte(_) => '.',
    }
}

/// Appends one hex dump row (without a line end): the offset, `per` hex
/// cells (blank past the end of `row`), the ASCII column between bars.
pub fn push_hex_row(out: &mut String, offset: u64, row: &[Shown], per: usize, marks: bool) {
    let _ = write!(out, "{offset:08x}  ");
    for j in 0..per {
        match row.get(j) {
            Some(s) => {
                push_hex(out, *s);
                out.push(' ');
            }
            None => out.push_str("   "),
        }
        if j == 7 {
            out.push(' ');
        }
    }
    out.push_str(" |");
    out.extend(row.iter().map(|s| ascii(*s, marks)));
    out.push('|');
}

/// The hex dump rows of a run of bytes whose first byte is at `base`.
pub fn hex_rows(
    bytes: impl IntoIterator<Item = Shown>,
    base: u64,
    per: usize,
    marks: bool,
) -> Vec<String> {
    let per = per.max(1);
    let cells: Vec<Shown> = bytes.into_iter().collect();
    cells
        .chunks(per)
        .enumerate()
        .map(|(i, row)| {
            let mut s = String::new();
            push_hex_row(&mut s, base + (i * per) as u64, row, per, marks);
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(b: &[u8], base: u64, secrets: &[(u64, u64)], show: bool) -> Vec<Shown> {
        let s = Secrets::new(secrets.iter().map(|&(a, z)| a..z));
        shown(b, base, &s, show).collect()
    }

    #[test]
    fn secrets_are_sorted_merged_and_looked_up() {
        let s = Secrets::new([10..12, 2..4, 3..6, 7..7, 12..13]);
        assert_eq!(s.ranges(), &[2..6, 10..13]);
        let hits: Vec<u64> = (0..15).filter(|&i| s.contains(i)).collect();
        assert_eq!(hits, vec![2, 3, 4, 5, 10, 11, 12]);
        assert!(s.overlaps(&(5..8)) && s.overlaps(&(0..3)) && s.overlaps(&(12..20)));
        assert!(!s.overlaps(&(6..10)) && !s.overlaps(&(13..20)) && !s.overlaps(&(3..3)));
        assert!(Secrets::default().is_empty());
    }

    #[test]
    fn masking_keeps_length_and_offsets() {
        // Stream offsets 100..108; secret 103..106 and one past the end.
        let b = b"pw=abc;x";
        let c = cells(b, 100, &[(103, 106), (200, 300)], false);
        assert_eq!(c.len(), b.len());
        let masked: Vec<usize> = (0..b.len()).filter(|&i| c[i] == Shown::Secret).collect();
        assert_eq!(masked, vec![3, 4, 5]);
        assert_eq!(text_lines(c.iter().copied(), false), vec!["pw=***;x"]);
        // A range that started before the run.
        let c = cells(b"bcdef", 101, &[(99, 103)], false);
        assert_eq!(text_lines(c, false), vec!["**def"]);
        // Shown when asked.
        let c = cells(b, 100, &[(103, 106)], true);
        assert_eq!(text_lines(c, false), vec!["pw=abc;x"]);
    }

    #[test]
    fn text_escapes_every_byte_one_way() {
        let b = b"a\\b\tc\rd\ne\x00\x1b\x7f\xbe~ ";
        let c = cells(b, 0, &[], false);
        assert_eq!(
            text_lines(c, false),
            vec!["a\\\\b\\tc\\rd\\ne\\x00\\x1b\\x7f\\xbe~ "]
        );
    }

    #[test]
    fn lines_break_after_newlines_only_for_text_protocols() {
        let b = b"one\r\ntwo\nthree\n";
        assert_eq!(
            text_lines(cells(b, 0, &[], false), true),
            vec!["one\\r\\n", "two\\n", "three\\n"]
        );
        assert_eq!(
            text_lines(cells(b, 0, &[], false), false),
            vec!["one\\r\\ntwo\\nthree\\n"]
        );
        // A masked 0x0a is a secret byte, not a line end.
        assert_eq!(
            text_lines(cells(b"a\nb", 0, &[(1, 2)], false), true),
            vec!["a*b"]
        );
        assert_eq!(text_lines(std::iter::empty(), true), vec![""]);
        assert!(Layout::of(Proto::Qmp, None).line_breaks);
        assert_eq!(
            Layout::of(Proto::Qm, None),
            Layout {
                line_breaks: false,
                marks: true
            }
        );
        assert!(!Layout::of(Proto::Qps, None).line_breaks);
        assert!(!Layout::of(Proto::Unknown, None).line_breaks);
        for (enc, breaks) in [
            ("text", true),
            ("xml", true),
            ("binary", false),
            ("xdr", false),
        ] {
            assert_eq!(
                Layout::of(Proto::MqServer, Some(enc)).line_breaks,
                breaks,
                "{enc}"
            );
        }
        assert!(!Layout::of(Proto::MqServer, None).line_breaks);
    }

    /// The escapes and characters of a text line.
    fn tokens(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut it = s.chars().peekable();
        while let Some(c) = it.next() {
            let mut t = c.to_string();
            if c == '\\' {
                let n = if it.peek() == Some(&'x') { 3 } else { 1 };
                t.extend(it.by_ref().take(n));
            }
            out.push(t);
        }
        out
    }

    #[test]
    fn wrapping_never_cuts_an_escape() {
        let line = "ab\\x00cd\\\\e\\n";
        for w in 1..=line.len() + 1 {
            let parts = wrap(line, w);
            assert_eq!(parts.concat(), line, "width {w}");
            let split: Vec<String> = parts.iter().flat_map(|p| tokens(p)).collect();
            assert_eq!(split, tokens(line), "width {w}: {parts:?}");
            assert!(parts.iter().all(|p| p.len() <= w.max(4)), "{parts:?}");
        }
        assert_eq!(wrap("abcdefgh", 4), vec!["abcd", "efgh"]);
        assert_eq!(wrap("ab\\x00cd", 4), vec!["ab", "\\x00", "cd"]);
        assert_eq!(wrap("", 4), vec![""]);
    }

    #[test]
    fn hex_rows_mask_cells_and_keep_the_layout() {
        let b: Vec<u8> = (0x41..0x41 + 18).collect();
        let rows = hex_rows(
            cells(&b, 0x20, &[(0x21, 0x23), (0x31, 0x32)], false),
            0x20,
            16,
            false,
        );
        assert_eq!(
            rows,
            vec![
                "00000020  41 ** ** 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50  |A**DEFGHIJKLMNOP|",
                "00000030  51 **                                             |Q*|",
            ]
        );
        let clear = hex_rows(cells(&b, 0x20, &[], false), 0x20, 16, false);
        assert_eq!(rows[0].len(), clear[0].len());
        assert_eq!(rows[1].len(), clear[1].len());
        // QM marks in the ASCII column; other bytes as '.'.
        let r = hex_rows(
            cells(b"\xfe\xfd\xfc\xfb\xff\x00", 0, &[], false),
            0,
            8,
            true,
        );
        assert_eq!(r, vec!["00000000  fe fd fc fb ff 00         |^]\\|~.|"]);
        let r = hex_rows(cells(b"\xfe\x00", 0, &[], false), 0, 8, false);
        assert_eq!(r, vec!["00000000  fe 00                     |..|"]);
    }
}
