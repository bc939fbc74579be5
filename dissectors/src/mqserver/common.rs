//! Shared vocabulary of the four wire forms: message types, flags, the
//! CRC-32 of forms TEXT and EARLY, the decoded-frame type every form parser
//! produces, and small text helpers.

use std::ops::Range;

use crate::names::CodeNames;
use crate::toolkit::{one_line_utf8, Ctl, Line};
use crate::{Field, Kind, Note, Value};

/// The four wire forms (mqserver.md section 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// (a) the design document's notation taken literally.
    Text,
    /// (b) the early binary codec (20-byte header, CRC-32, SQLite data).
    Early,
    /// (c) OSSP-XDS XDR.
    Xdr,
    /// (d) OSSP-XDS XML, one document per message.
    Xml,
}

impl Form {
    /// The `encoding` value of the export contract.
    pub fn as_str(self) -> &'static str {
        match self {
            Form::Text => "text",
            Form::Early => "binary",
            Form::Xdr => "xdr",
            Form::Xml => "xml",
        }
    }
    /// Forms whose receivers follow the design document's ACK/ERROR MIDs.
    pub fn design(self) -> bool {
        matches!(self, Form::Text | Form::Early)
    }
}

/// Most items shown for one payload (XDR, text or XML).
pub const MAX_PAYLOAD_ITEMS: usize = 256;

pub const ACK: i64 = 1;
pub const ERROR: i64 = 2;
pub const SRVCAP: i64 = 3;
pub const AUTH: i64 = 4;
pub const CLNTCAP: i64 = 5;
pub const APPID: i64 = 6;
pub const NOTIFY: i64 = 7;
pub const FINDQUEUE: i64 = 8;
pub const PRESENCE: i64 = 9;
pub const JOINQUEUE: i64 = 10;
pub const QUEUEINFO: i64 = 13;
pub const SENDTOQUEUE: i64 = 15;
pub const GETFROMQUEUE: i64 = 16;
pub const MSGFROMQUEUE: i64 = 17;

/// Message type names, numbers 1..=19 (section 3), with the aliases form
/// TEXT accepts (D15).
pub static TYPES: CodeNames = CodeNames {
    what: "MQServer message type",
    optional_prefix: "",
    aliases: &[(19, "MSGFRCLNT"), (18, "SENTTOCLNT")],
    entries: &[
        (1, "ACK"),
        (2, "ERROR"),
        (3, "SRVCAP"),
        (4, "AUTH"),
        (5, "CLNTCAP"),
        (6, "APPID"),
        (7, "NOTIFY"),
        (8, "FINDQUEUE"),
        (9, "PRESENCE"),
        (10, "JOINQUEUE"),
        (11, "PARTQUEUE"),
        (12, "CREATEQUEUE"),
        (13, "QUEUEINFO"),
        (14, "ALTERQUEUE"),
        (15, "SENDTOQUEUE"),
        (16, "GETFROMQUEUE"),
        (17, "MSGFROMQUEUE"),
        (18, "SENDTOCLNT"),
        (19, "MSGFROMCLNT"),
    ],
};

/// The name of message type `t`, if it is one of the 19.
pub fn type_name(t: i64) -> Option<&'static str> {
    TYPES.name_of(t)
}

/// A type given by name in form TEXT (case-insensitive; D15 aliases).
pub fn type_from_name(s: &str) -> Option<i64> {
    TYPES.code_of(s)
}

/// Who initiates a message type (section 3, D13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Client,
    Server,
    Both,
}

pub fn origin(t: i64) -> Origin {
    match t {
        1 | 2 | 14 => Origin::Both,
        3 | 9 | 13 | 17 | 19 => Origin::Server,
        _ => Origin::Client,
    }
}

pub fn kind(t: i64) -> Kind {
    match t {
        ACK | ERROR | CLNTCAP | QUEUEINFO => Kind::Response,
        SRVCAP => Kind::Greeting,
        PRESENCE => Kind::Event,
        MSGFROMQUEUE | 19 => Kind::Push,
        _ => Kind::Request,
    }
}

/// Types the final implementation decodes (section 3 notes, 6.4).
pub fn xds_implemented(t: i64) -> bool {
    matches!(t, 1 | 2 | 3 | 4 | 5 | 10 | 13 | 15 | 17)
}

pub const FLG_REQUIREACK: u32 = 0x01;
pub const FLG_REQUIREACKPROCESS: u32 = 0x02;
/// Set by the final implementation on every message (D19).
pub const FLG_IMPL: u32 = 0x08;

/// FLAGS decoded into its bits, the raw value kept (section 2, D19).
pub fn flags_field(v: u32, range: Range<usize>) -> Field {
    let undefined = v & !(FLG_REQUIREACK | FLG_REQUIREACKPROCESS);
    Field::new(
        "flags",
        Some(range.clone()),
        Value::Struct(vec![
            Field::new("value", Some(range.clone()), Value::UInt(u64::from(v))),
            Field::new(
                "require_ack",
                Some(range.clone()),
                Value::Bool(v & FLG_REQUIREACK != 0),
            ),
            Field::new(
                "require_ack_process",
                Some(range.clone()),
                Value::Bool(v & FLG_REQUIREACKPROCESS != 0),
            ),
            Field::new("undefined", Some(range), Value::UInt(u64::from(undefined))),
        ]),
    )
}

/// Notes about FLAGS (section 14, D19): 0x08 is expected, other undefined
/// bits are info.
pub fn flags_notes(v: u32, notes: &mut Vec<Note>) {
    let odd = v & !(FLG_REQUIREACK | FLG_REQUIREACKPROCESS | FLG_IMPL);
    if odd != 0 {
        notes.push(Note::info(format!(
            "undefined FLAGS bits 0x{odd:X} set (FLAGS 0x{v:X})"
        )));
    }
}

// ---------------------------------------------------------------------------
// CRC-32/IEEE (zlib): reflected polynomial 0x04C11DB7, init and final XOR
// 0xFFFFFFFF (D6).

const fn crc_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CRC_TABLE: [u32; 256] = crc_table();

/// CRC-32/IEEE of `data` (check value: `crc32(b"123456789") == 0xCBF43926`).
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        let i = usize::from((c as u8) ^ b);
        c = CRC_TABLE.get(i).copied().unwrap_or(0) ^ (c >> 8);
    }
    c ^ 0xFFFF_FFFF
}

// ---------------------------------------------------------------------------
// What a form parser hands to the session.

/// Maps byte positions of a body to byte ranges of the message (the body
/// may be a decoded view of the wire bytes).
#[derive(Debug, Clone)]
pub enum PosMap {
    /// Body byte `i` is message byte `base + i`.
    Linear(usize),
    /// Body byte `i` starts at message byte `starts[i]`; the last ends at `end`.
    Table { starts: Vec<usize>, end: usize },
}

impl PosMap {
    pub fn range(&self, r: Range<usize>) -> Range<usize> {
        match self {
            PosMap::Linear(base) => base + r.start..base + r.end,
            PosMap::Table { starts, end } => {
                let at = |i: usize| starts.get(i).copied().unwrap_or(*end);
                if r.start >= r.end {
                    let p = at(r.start);
                    p..p
                } else {
                    at(r.start)..at(r.end)
                }
            }
        }
    }
}

/// One typed XDS item (XDR or XML).
#[derive(Debug, Clone, PartialEq)]
pub enum IVal {
    Int(i64),
    Str(Vec<u8>),
    Oct(Vec<u8>),
    /// XML: an element that is not one of the three XDS types.
    Other {
        tag: String,
        text: Vec<u8>,
    },
}

impl IVal {
    pub fn type_name(&self) -> &'static str {
        match self {
            IVal::Int(_) => "int32",
            IVal::Str(_) => "string",
            IVal::Oct(_) => "octetstream",
            IVal::Other { .. } => "element",
        }
    }
}

/// One value of a queue payload: its XDS type, its bytes within the
/// payload, its value.
pub type PayloadItem = (&'static str, Range<usize>, crate::Value);

/// Where an octet stream's decoded bytes sit in the message.
#[derive(Debug, Clone, PartialEq)]
pub enum OctMap {
    /// XDR: decoded byte `i` is message byte `base + i`.
    Raw(usize),
    /// XML: base64 text starting at message byte `base`, `chars` long.
    Base64 { base: usize, chars: usize },
}

impl OctMap {
    pub fn range(&self, r: Range<usize>) -> Range<usize> {
        match self {
            OctMap::Raw(base) => base + r.start..base + r.end,
            OctMap::Base64 { base, chars } => {
                let first = |k: usize| 4 * (k / 3) + k % 3;
                let s = first(r.start).min(*chars);
                let e = if r.end > r.start {
                    (first(r.end - 1) + 2).min(*chars)
                } else {
                    s
                };
                base + s..base + e
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub val: IVal,
    /// The item's bytes in the message.
    pub range: Range<usize>,
    /// The value's own bytes in the message: XDR without the length word
    /// and padding, XML between the tags (as on the wire, entities and
    /// all).
    pub content: Range<usize>,
    /// For octet streams: where the decoded bytes sit.
    pub oct: Option<OctMap>,
}

/// The body of a frame, still to be interpreted per type.
#[derive(Debug, Clone)]
pub enum Body {
    /// TEXT / EARLY: the body bytes (DATA, or its SQLite decoding) split
    /// per section 4.3.
    Text { bytes: Vec<u8>, map: PosMap },
    /// XDR / XML: typed items after the four header items.
    Items(Vec<Item>),
    /// XDR: only the header could be decoded.
    None,
}

/// A header value with the bytes it came from.
#[derive(Debug, Clone)]
pub struct Hv {
    pub value: i64,
    pub range: Range<usize>,
}

/// One message as decoded by a form parser, before the session adds
/// pairing, state checks and the summary.
#[derive(Debug, Clone)]
pub struct Frame {
    pub form: Form,
    pub len: usize,
    pub mid: Hv,
    /// Always 1..=19 (form parsers skip frames with other types).
    pub msgtype: Hv,
    pub version: Option<Hv>,
    pub flags: Option<Hv>,
    /// Form-specific fields after the header (LEN, CRC, DATA views).
    pub extra: Vec<Field>,
    pub body: Body,
    pub notes: Vec<Note>,
    /// Fields holding the password's wire bytes (AUTH in TEXT/EARLY),
    /// redacted unless secrets are shown.
    pub secret_fields: Vec<&'static str>,
}

// ---------------------------------------------------------------------------
// Text helpers.

/// A byte string as a value: text when it is UTF-8, else bytes (exported
/// losslessly as hex).
pub fn bval(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => Value::Str(s.to_owned()),
        Err(_) => Value::Bytes(b.to_vec()),
    }
}

/// Printable ASCII (0x20..=0x7E) only.
pub fn printable(b: &[u8]) -> bool {
    b.iter().all(|&c| (0x20..=0x7E).contains(&c))
}

/// Text (valid UTF-8) without control characters.
pub fn clean_text(b: &[u8]) -> bool {
    std::str::from_utf8(b).is_ok_and(|s| !s.chars().any(char::is_control))
}

/// Bytes for one-line display: UTF-8 kept, control characters and invalid
/// bytes escaped as `\xNN`, at most `max` characters.
pub fn show(b: &[u8], max: usize) -> String {
    one_line_utf8(b, &Line::new(max, Ctl::UpperHex))
}

pub use crate::toolkit::{be_u16, be_u32};

/// Case-insensitive ASCII search for `pat` in `hay` from `from`.
pub fn find_ci(hay: &[u8], pat: &[u8], from: usize) -> Option<usize> {
    let (&first, rest) = match pat.split_first() {
        Some(split) => split,
        None => return Some(from),
    };
    let hay_tail = hay.get(from..)?;
    if first.is_ascii_alphabetic() {
        return hay_tail
            .windows(pat.len())
            .position(|w| w.eq_ignore_ascii_case(pat))
            .map(|p| p + from);
    }
    // A first byte with no case (`<` of a tag): found at memchr's speed,
    // the rest compared where it is.
    memchr::memchr_iter(first, hay_tail)
        .find(|&p| {
            hay_tail
                .get(p + 1..p + pat.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(rest))
        })
        .map(|p| p + from)
}

/// `data` starts with `pat` (case-insensitive): yes, not yet decidable
/// (`None`), or no.
pub fn prefix_ci(data: &[u8], pat: &[u8]) -> Option<bool> {
    let n = data.len().min(pat.len());
    let (Some(a), Some(b)) = (data.get(..n), pat.get(..n)) else {
        return Some(false);
    };
    if !a.eq_ignore_ascii_case(b) {
        Some(false)
    } else if n == pat.len() {
        Some(true)
    } else {
        None
    }
}

/// Civil UTC date-time of a Unix timestamp, RFC 3339.
pub fn unix_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b"This is my data string"), 2_099_544_737);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn type_names_and_aliases() {
        assert_eq!(type_name(1), Some("ACK"));
        assert_eq!(type_name(19), Some("MSGFROMCLNT"));
        assert_eq!(type_name(0), None);
        assert_eq!(type_name(20), None);
        assert_eq!(type_from_name("srvcap"), Some(3));
        assert_eq!(type_from_name("MSGFRCLNT"), Some(19));
        assert_eq!(type_from_name("SentToClnt"), Some(18));
        assert_eq!(type_from_name("nope"), None);
    }

    #[test]
    fn unix_time_is_rfc3339() {
        assert_eq!(unix_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(unix_time(1_795_310_869), "2026-11-22T01:27:49Z");
        assert_eq!(unix_time(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn base64_ranges_stay_in_the_element() {
        let m = OctMap::Base64 { base: 10, chars: 8 };
        assert_eq!(m.range(0..3), 10..14);
        assert_eq!(m.range(3..6), 14..18);
        assert_eq!(m.range(1..2), 11..13);
    }

    #[test]
    fn show_escapes_controls() {
        assert_eq!(show(b"fish\xb5U", 20), "fish\\xB5U");
        assert_eq!(show(b"a\nb", 20), "a\\x0Ab");
        assert_eq!(show(b"abcdef", 3), "abc...");
    }
}
