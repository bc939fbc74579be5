//! Form (a): the design document's notation taken literally,
//! `MID|MSGTYPE|VERSION|LEN|FLAGS|CRC|DATA` NUL \[NUL\] (mqserver.md
//! section 4, parsing algorithm 4.2).

use std::ops::Range;

use super::common::*;
use super::sqlite;
use crate::{Field, Note, Value};

/// The six separators must lie within this many bytes (4.2 step 1).
pub const HDR_WINDOW: usize = 128;
/// How far a NUL is searched for when LEN is wrong (4.2 step 4).
pub const LEN_LIMIT: usize = 1 << 20;

#[derive(Debug)]
pub enum TStep {
    NeedMore,
    /// A message; `exact` when LEN and the terminator agree.
    Frame {
        frame: Box<Frame>,
        exact: bool,
    },
    /// Framing is known but the message is not one (MSGTYPE outside 1-19,
    /// truncated at the end of the stream): skip `len` bytes.
    Skip {
        len: usize,
        reason: String,
    },
    /// No trustworthy framing: resynchronise.
    Malformed(String),
}

fn trim(b: &[u8], r: Range<usize>) -> Range<usize> {
    let mut s = r.start;
    let mut e = r.end;
    while s < e && matches!(b.get(s), Some(b' ' | b'\t')) {
        s += 1;
    }
    while e > s && matches!(b.get(e - 1), Some(b' ' | b'\t')) {
        e -= 1;
    }
    s..e
}

fn decimal(s: &[u8], max_digits: usize) -> Option<u64> {
    if s.is_empty() || s.len() > max_digits || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

fn hex(s: &[u8]) -> Option<u64> {
    let h = s.strip_prefix(b"0x").or_else(|| s.strip_prefix(b"0X"))?;
    if h.is_empty() || h.len() > 8 || !h.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
}

fn flags_value(s: &[u8]) -> Option<u32> {
    if let Some(v) = hex(s) {
        return u32::try_from(v).ok();
    }
    if let Some(v) = decimal(s, 10) {
        return u32::try_from(v).ok();
    }
    let mut v = 0u32;
    for name in s.split(|&c| c == b'+') {
        let name = String::from_utf8_lossy(name).trim().to_ascii_uppercase();
        v |= match name.as_str() {
            "REQUIREACK" => FLG_REQUIREACK,
            // D15: the code's misspelling.
            "REQUIREACKPROCESS" | "REQUIREACPPROCESS" => FLG_REQUIREACKPROCESS,
            _ => return None,
        };
    }
    Some(v)
}

/// CRC field: unsigned decimal, `0x` hex, or negative decimal (the signed
/// view, flagged). Returns the value and whether it was negative.
fn crc_value(s: &[u8]) -> Option<(u32, bool)> {
    if let Some(v) = hex(s) {
        return u32::try_from(v).ok().map(|v| (v, false));
    }
    if let Some(neg) = s.strip_prefix(b"-") {
        let v = decimal(neg, 10)?;
        let v = i32::try_from(-i64::try_from(v).ok()?).ok()?;
        return Some((v as u32, true));
    }
    decimal(s, 10)
        .and_then(|v| u32::try_from(v).ok())
        .map(|v| (v, false))
}

/// Parses the message at the front of `data`.
pub fn parse_front(data: &[u8], eos: bool) -> TStep {
    // Step 1: six separators within the first 128 bytes.
    let mut seps = Vec::with_capacity(6);
    for (i, &c) in data.iter().enumerate().take(HDR_WINDOW) {
        if c == b'|' {
            seps.push(i);
            if seps.len() == 6 {
                break;
            }
        } else if c == 0 {
            return TStep::Malformed("NUL inside the TEXT header".into());
        } else if seps.is_empty() && !(c.is_ascii_digit() || c == b' ' || c == b'\t') {
            return TStep::Malformed("TEXT header does not start with a decimal MID".into());
        }
    }
    if seps.len() < 6 {
        if data.len() >= HDR_WINDOW || eos {
            return TStep::Malformed("fewer than six | separators in the first 128 bytes".into());
        }
        return TStep::NeedMore;
    }
    let mut bounds = Vec::with_capacity(6);
    let mut start = 0usize;
    for &s in &seps {
        bounds.push(start..s);
        start = s + 1;
    }
    let ds = start;
    let mut notes = Vec::new();
    let raw: Vec<Range<usize>> = bounds.clone();
    let f: Vec<Range<usize>> = bounds.into_iter().map(|r| trim(data, r)).collect();
    if f.iter().zip(&raw).any(|(a, b)| a != b) {
        notes.push(Note::info("spaces around TEXT header fields trimmed"));
    }
    let get = |i: usize| -> &[u8] { f.get(i).and_then(|r| data.get(r.clone())).unwrap_or(&[]) };
    let rng = |i: usize| f.get(i).cloned().unwrap_or(0..0);
    let mut extra = Vec::new();

    // MID (4.1).
    let Some(mid) = decimal(get(0), 10).filter(|&v| v <= u64::from(u32::MAX)) else {
        return TStep::Malformed("TEXT MID is not a decimal number of at most 10 digits".into());
    };
    // MSGTYPE: number or name.
    let t_raw = get(1);
    let (msgtype, by_name) = match decimal(t_raw, 2) {
        Some(v) => (i64::try_from(v).ok(), false),
        None => (
            std::str::from_utf8(t_raw).ok().and_then(type_from_name),
            true,
        ),
    };
    // VERSION.
    let v_raw = get(2);
    let version = match v_raw {
        b"1" | b"V1" | b"v1" => Some(1),
        other => {
            let digits = other
                .strip_prefix(b"V")
                .or_else(|| other.strip_prefix(b"v"))
                .unwrap_or(other);
            let v = decimal(digits, 10).and_then(|v| i64::try_from(v).ok());
            notes.push(Note::warn(format!(
                "VERSION '{}' is not 1",
                show(other, 20)
            )));
            if v.is_none() {
                extra.push(Field::new("version_text", Some(rng(2)), bval(other)));
            }
            v
        }
    };
    // LEN.
    let declared = decimal(get(3), 10).and_then(|v| usize::try_from(v).ok());
    if declared.is_none() {
        notes.push(Note::error(format!(
            "LEN '{}' is not a decimal number",
            show(get(3), 20)
        )));
    }
    // FLAGS.
    let flags = flags_value(get(4));
    if flags.is_none() {
        notes.push(Note::warn(format!(
            "FLAGS '{}' not understood",
            show(get(4), 30)
        )));
        extra.push(Field::new("flags_text", Some(rng(4)), bval(get(4))));
    }
    // CRC.
    let crc = crc_value(get(5));
    match crc {
        None => notes.push(Note::warn(format!(
            "CRC '{}' is not a number",
            show(get(5), 20)
        ))),
        Some((_, true)) => notes.push(Note::info(
            "CRC written as a negative number (signed 32-bit view)",
        )),
        _ => {}
    }

    // Steps 3 and 4: DATA and the terminator.
    let after = data.get(ds..).unwrap_or(&[]);
    let first_nul = || after.iter().take(LEN_LIMIT + 1).position(|&c| c == 0);
    let mut exact = false;
    let (data_len, term): (usize, usize) = match declared.filter(|&n| n <= LEN_LIMIT) {
        Some(n) if after.len() > n => {
            if after.get(n) == Some(&0) {
                exact = true;
                (n, 1)
            } else {
                match first_nul() {
                    Some(q) => {
                        notes.push(Note::error(format!(
                            "LEN mismatch (declared {n}, actual {q})"
                        )));
                        (q, 1)
                    }
                    None if after.len() > LEN_LIMIT => {
                        return TStep::Malformed(format!(
                            "LEN {n} wrong and no NUL within {LEN_LIMIT} bytes"
                        ))
                    }
                    None if eos => {
                        notes.push(Note::error(format!(
                            "LEN mismatch (declared {n}, actual {}) and missing terminator",
                            after.len()
                        )));
                        (after.len(), 0)
                    }
                    None => return TStep::NeedMore,
                }
            }
        }
        Some(n) => {
            if !eos {
                return TStep::NeedMore;
            }
            match first_nul() {
                Some(q) => {
                    notes.push(Note::error(format!(
                        "LEN mismatch (declared {n}, actual {q})"
                    )));
                    (q, 1)
                }
                None if after.len() == n => {
                    notes.push(Note::error(
                        "missing terminator (NUL) at the end of the stream",
                    ));
                    (n, 0)
                }
                None => {
                    return TStep::Skip {
                        len: data.len(),
                        reason: format!(
                        "TEXT message truncated at the end of the stream ({} of {n} DATA bytes)",
                        after.len()
                    ),
                    }
                }
            }
        }
        None => match first_nul() {
            Some(q) => {
                if let Some(n) = declared {
                    notes.push(Note::error(format!(
                        "LEN mismatch (declared {n}, actual {q})"
                    )));
                }
                (q, 1)
            }
            None if after.len() > LEN_LIMIT => {
                return TStep::Malformed(format!("no NUL within {LEN_LIMIT} bytes"))
            }
            None if eos => {
                notes.push(Note::error(
                    "missing terminator (NUL) at the end of the stream",
                ));
                (after.len(), 0)
            }
            None => return TStep::NeedMore,
        },
    };
    let de = ds + data_len;
    let mut len = de + term;
    // A second NUL belongs to the message when it came with it.
    if term == 1 && data.get(len) == Some(&0) {
        len += 1;
    }
    let body = data.get(ds..de).unwrap_or(&[]);

    let Some(t) = msgtype.filter(|&t| type_name(t).is_some()) else {
        return TStep::Skip {
            len,
            reason: format!(
                "TEXT message with MSGTYPE '{}' outside 1-19",
                show(t_raw, 20)
            ),
        };
    };
    if by_name {
        extra.push(Field::new("msgtype_text", Some(rng(1)), bval(t_raw)));
    }

    // Step 5: CRC over DATA.
    let computed = crc32(body);
    extra.push(Field::new(
        "len",
        Some(rng(3)),
        match declared {
            Some(n) => Value::UInt(n as u64),
            None => bval(get(3)),
        },
    ));
    if let Some((c, _)) = crc {
        extra.push(Field::new("crc", Some(rng(5)), Value::UInt(u64::from(c))));
        extra.push(Field::new(
            "crc_ok",
            Some(rng(5)),
            Value::Bool(c == computed),
        ));
        if c != computed {
            notes.push(Note::error(format!(
                "CRC mismatch (header {c}, computed {computed} over DATA)"
            )));
        }
    } else {
        extra.push(Field::new("crc_text", Some(rng(5)), bval(get(5))));
    }
    extra.push(Field::new(
        "crc_computed",
        Some(ds..de),
        Value::UInt(u64::from(computed)),
    ));
    extra.push(Field::new("data", Some(ds..de), bval(body)));
    // 4.3: an alternative view when DATA looks SQLite-encoded.
    if body.iter().any(|&c| c < 0x20) {
        if let Ok(d) = sqlite::decode(body) {
            extra.push(Field::new("data_sqlite", Some(ds..de), bval(&d.bytes)));
        }
    }
    let frame = Frame {
        form: Form::Text,
        len,
        mid: Hv {
            value: i64::try_from(mid).unwrap_or(0),
            range: rng(0),
        },
        msgtype: Hv {
            value: t,
            range: rng(1),
        },
        version: version.map(|v| Hv {
            value: v,
            range: rng(2),
        }),
        flags: flags.map(|v| Hv {
            value: i64::from(v),
            range: rng(4),
        }),
        extra,
        body: Body::Text {
            bytes: body.to_vec(),
            map: PosMap::Linear(ds),
        },
        notes,
        secret_fields: vec!["data", "data_sqlite"],
    };
    TStep::Frame {
        frame: Box::new(frame),
        exact: exact && version == Some(1),
    }
}

/// A resynchronisation point: a complete, exact TEXT message starts at the
/// front. `None` while undecidable.
pub fn anchor(data: &[u8]) -> Option<bool> {
    match parse_front(data, false) {
        TStep::NeedMore => None,
        TStep::Frame { exact, .. } => Some(exact),
        TStep::Skip { .. } | TStep::Malformed(_) => Some(false),
    }
}
