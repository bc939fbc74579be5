//! The one summary sanitiser: bytes or text made into one safe line for
//! summaries and notes (control characters escaped, length capped).
//!
//! The protocols have always written escapes their own way, and their
//! output is kept byte for byte, so the differences are parameters of
//! [`Line`]: which characters get a short name (`\n`), how other control
//! characters are written, and how many characters are kept.

use std::fmt::Write as _;

/// How a control character without a short name (and an invalid byte) is
/// written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctl {
    /// `\x1b`; invalid bytes `\xff` (QM, QPS).
    LowerHex,
    /// `\x1B` (`\u0100` and above, which no control character is); invalid
    /// bytes `\xFF` (MQServer).
    UpperHex,
    /// `\u{1b}` (QM text that came from elsewhere).
    Braced,
    /// `\u001B`, as JSON writes it (QMP).
    Json,
}

/// Short names of control characters: `\n`, `\r`, `\t`.
pub const NAMED_NRT: &[(char, &str)] = &[('\n', "\\n"), ('\r', "\\r"), ('\t', "\\t")];

/// Short names of control characters as C and JSON write them: `\t`, `\n`,
/// `\r`, `\f`, `\b`.
pub const NAMED_C: &[(char, &str)] = &[
    ('\t', "\\t"),
    ('\n', "\\n"),
    ('\r', "\\r"),
    ('\u{c}', "\\f"),
    ('\u{8}', "\\b"),
];

/// The rules of one summary line.
#[derive(Debug, Clone, Copy)]
pub struct Line {
    /// Most characters kept (an escape or a token counts as one); a cut is
    /// marked with `...`.
    pub max: usize,
    /// Control characters written by name (the others as [`Line::ctl`]).
    pub named: &'static [(char, &'static str)],
    pub ctl: Ctl,
}

impl Line {
    /// `max` characters, no short names, `ctl` escapes.
    pub const fn new(max: usize, ctl: Ctl) -> Line {
        Line {
            max,
            named: &[],
            ctl,
        }
    }

    /// The same rules with short names for `named`.
    pub const fn named(self, named: &'static [(char, &'static str)]) -> Line {
        Line { named, ..self }
    }
}

/// One unit of input: a character, a token that is already safe (QM's
/// `<FM>`), or a byte that is not text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    Char(char),
    Token(&'a str),
    Byte(u8),
}

/// The line for `pieces`.
pub fn one_line<'a>(pieces: impl IntoIterator<Item = Piece<'a>>, line: &Line) -> String {
    let pieces = pieces.into_iter();
    // Room for the pieces there are sure to be (within the limit), so the
    // line is not grown piece by piece.
    let mut out = String::with_capacity(pieces.size_hint().0.min(line.max) + 3);
    for (n, piece) in pieces.enumerate() {
        if n >= line.max {
            out.push_str("...");
            break;
        }
        match piece {
            Piece::Token(t) => out.push_str(t),
            Piece::Char(c) => push_char(&mut out, c, line),
            Piece::Byte(b) => push_byte(&mut out, b, line.ctl),
        }
    }
    out
}

/// The line for text. Printable ASCII that fits is returned as it is.
pub fn one_line_str(s: &str, line: &Line) -> String {
    if s.len() <= line.max && s.bytes().all(|b| (0x20..0x7F).contains(&b)) {
        return s.to_owned();
    }
    one_line(s.chars().map(Piece::Char), line)
}

/// The line for bytes that are mostly UTF-8: the text is kept, each
/// invalid byte is escaped (and counts as one character).
pub fn one_line_utf8(b: &[u8], line: &Line) -> String {
    let pieces = b.utf8_chunks().flat_map(|chunk| {
        chunk
            .valid()
            .chars()
            .map(Piece::Char)
            .chain(chunk.invalid().iter().map(|&x| Piece::Byte(x)))
    });
    one_line(pieces, line)
}

fn push_char(out: &mut String, c: char, line: &Line) {
    if !c.is_control() {
        out.push(c);
        return;
    }
    if let Some((_, name)) = line.named.iter().find(|(k, _)| *k == c) {
        out.push_str(name);
        return;
    }
    let v = u32::from(c);
    // Writing to a String cannot fail.
    let _ = match line.ctl {
        Ctl::LowerHex => write!(out, "\\x{v:02x}"),
        Ctl::UpperHex if v < 0x100 => write!(out, "\\x{v:02X}"),
        Ctl::UpperHex => write!(out, "\\u{v:04X}"),
        Ctl::Braced => write!(out, "\\u{{{v:x}}}"),
        Ctl::Json => write!(out, "\\u{v:04X}"),
    };
}

fn push_byte(out: &mut String, b: u8, ctl: Ctl) {
    let _ = match ctl {
        Ctl::LowerHex => write!(out, "\\x{b:02x}"),
        Ctl::UpperHex | Ctl::Braced | Ctl::Json => write!(out, "\\x{b:02X}"),
    };
}

/// `s` cut to at most `max` characters, with `...` where it was cut.
pub fn clip_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", s.get(..i).unwrap_or(s)),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles() {
        let s = "a\u{1b}\nb\u{85}";
        let lower = Line::new(10, Ctl::LowerHex);
        assert_eq!(one_line_str(s, &lower), "a\\x1b\\x0ab\\x85");
        let braced = Line::new(10, Ctl::Braced).named(NAMED_NRT);
        assert_eq!(one_line_str(s, &braced), "a\\u{1b}\\nb\\u{85}");
        let json = Line::new(10, Ctl::Json).named(NAMED_C);
        assert_eq!(one_line_str("\u{8}\u{1}", &json), "\\b\\u0001");
        let upper = Line::new(10, Ctl::UpperHex);
        assert_eq!(one_line_utf8(b"\xc3\xa9\x1b\xff", &upper), "é\\x1B\\xFF");
    }

    #[test]
    fn cuts_and_tokens() {
        let l = Line::new(3, Ctl::LowerHex);
        assert_eq!(one_line_str("abc", &l), "abc");
        assert_eq!(one_line_str("abcd", &l), "abc...");
        assert_eq!(one_line_str("\u{1}bcd", &l), "\\x01bc...");
        let p = [Piece::Token("<FM>"), Piece::Char('x'), Piece::Byte(0xff)];
        assert_eq!(one_line(p, &l), "<FM>x\\xff");
        assert_eq!(one_line(p, &Line::new(1, Ctl::LowerHex)), "<FM>...");
        assert_eq!(one_line_utf8(b"ab\xffcd", &l), "ab\\xff...");
    }
}
