//! Form (b): the early binary codec (mqserver.md section 5): a 20-byte
//! big-endian header, SQLite-encoded DATA, a NUL, and any number of zero
//! padding bytes located by the header search of section 5.2.

use super::common::*;
use super::sqlite;
use crate::{Field, Note, Severity, Value};

/// Longest LEN waited for before the first NUL after the header is taken
/// as the terminator.
pub const LEN_LIMIT: usize = 1 << 20;
/// Longest LEN a resynchronisation candidate may claim.
const ANCHOR_LEN: usize = 1 << 16;
/// The test client's padding after the NUL (section 5.2).
pub const FIXED_PADDING: usize = 63;

#[derive(Debug)]
pub enum EStep {
    NeedMore,
    Frame(Box<Frame>),
    Skip {
        len: usize,
        reason: String,
        severity: Severity,
    },
}

/// Remembers, while the front of a direction stays put, which stretches
/// of the buffer are known to hold no `00` byte, so that waiting for a
/// long message does not rescan it at every call.
#[derive(Debug, Default, Clone)]
pub struct ZeroScan {
    /// `data[from..to]` holds no `00`.
    known: Vec<(usize, usize)>,
}

impl ZeroScan {
    pub fn reset(&mut self) {
        self.known.clear();
    }

    /// The first `00` in `data[from..end]`.
    pub fn first(&mut self, data: &[u8], from: usize, end: usize) -> Option<usize> {
        let end = end.min(data.len());
        if from >= end {
            return None;
        }
        let start = self
            .known
            .iter()
            .find(|(f, _)| *f == from)
            .map_or(from, |(_, t)| (*t).clamp(from, end));
        let hit = data
            .get(start..end)
            .and_then(|r| r.iter().position(|&c| c == 0))
            .map(|i| i + start);
        if hit.is_none() {
            let full = self.known.len() >= 8;
            match self.known.iter_mut().find(|(f, _)| *f == from) {
                Some(e) => e.1 = e.1.max(end),
                None if !full => self.known.push((from, end)),
                None => {}
            }
        }
        hit
    }
}

/// How strictly a header candidate is tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    /// MSGTYPE 1-19 and VERSION 1 only.
    Shape,
    /// Also `00` at 20+LEN with no `00` before it (when available).
    Terminator,
    /// Also the CRC, and a bounded LEN (resynchronisation).
    Strict,
}

/// Tests a header at `p` (5.2 step 2). `None` while undecidable.
pub fn candidate(data: &[u8], p: usize, eos: bool, test: Test) -> Option<bool> {
    candidate_with(data, p, eos, test, &mut ZeroScan::default())
}

fn candidate_with(data: &[u8], p: usize, eos: bool, test: Test, zs: &mut ZeroScan) -> Option<bool> {
    let undecided = if eos {
        Some(test != Test::Strict)
    } else {
        None
    };
    let (Some(t), Some(v)) = (be_u16(data, p + 4), be_u16(data, p + 6)) else {
        // Decide early on what is there.
        let b4 = data.get(p + 4).copied();
        let b6 = data.get(p + 6).copied();
        if b4.is_some_and(|x| x != 0) || b6.is_some_and(|x| x != 0) {
            return Some(false);
        }
        return if eos { Some(false) } else { None };
    };
    if !(1..=19).contains(&t) || v != 1 {
        return Some(false);
    }
    if test == Test::Shape {
        return Some(true);
    }
    let Some(n) = be_u32(data, p + 8).and_then(|n| usize::try_from(n).ok()) else {
        return undecided;
    };
    // A LEN past the limit is never waited for: the first NUL ends DATA.
    let limit = if test == Test::Strict {
        ANCHOR_LEN
    } else {
        LEN_LIMIT
    };
    if n > limit {
        return Some(false);
    }
    let start = p + 20;
    let region_len = data.len().saturating_sub(start);
    match zs.first(data, start, start + n + 1).map(|z| z - start) {
        Some(q) if q != n => return Some(false),
        Some(_) => {}
        None if region_len > n => return Some(false),
        None => return undecided,
    }
    if test == Test::Strict {
        let (Some(crc), Some(body)) = (be_u32(data, p + 16), data.get(start..start + n)) else {
            return Some(false);
        };
        return Some(crc32(body) == crc);
    }
    Some(true)
}

/// Parses the front of an EARLY direction: padding before the next header,
/// or the message at the front.
pub fn parse_front(data: &[u8], eos: bool, zs: &mut ZeroScan) -> EStep {
    let Some(f) = data.iter().position(|&c| c != 0) else {
        return if eos {
            EStep::Skip {
                len: data.len(),
                reason: format!("{} zero padding bytes at the end of the stream", data.len()),
                severity: Severity::Info,
            }
        } else {
            EStep::NeedMore
        };
    };
    let cands: Vec<usize> = [0usize, 1, 2, 3, 5]
        .iter()
        .filter_map(|&k| f.checked_sub(k))
        .collect();
    let mut chosen = None;
    for &p in &cands {
        match candidate_with(data, p, eos, Test::Terminator, zs) {
            Some(true) => {
                chosen = Some(p);
                break;
            }
            Some(false) => {}
            None => return EStep::NeedMore,
        }
    }
    if chosen.is_none() {
        // No candidate with a terminator: a header whose LEN is wrong
        // (5.2 step 1 handles it).
        chosen = cands
            .iter()
            .copied()
            .find(|&p| candidate(data, p, eos, Test::Shape) == Some(true));
    }
    let Some(p) = chosen else {
        // Garbage: search forward with the same test.
        let mut i = f + 1;
        while i < data.len() {
            match candidate_with(data, i, eos, Test::Terminator, zs) {
                Some(true) => break,
                Some(false) => i += 1,
                None => break,
            }
        }
        let i = i.min(data.len());
        if i == 0 {
            return EStep::NeedMore;
        }
        return EStep::Skip {
            len: i,
            reason: "garbage between EARLY messages (no plausible header)".into(),
            severity: Severity::Warn,
        };
    };
    if p > 0 {
        let reason = if p == FIXED_PADDING {
            "EARLY fixed-size padding (NUL + 63 zero bytes, the test client's 84 + LEN write)"
                .into()
        } else {
            format!("{p} zero bytes between EARLY messages")
        };
        return EStep::Skip {
            len: p,
            reason,
            severity: Severity::Info,
        };
    }
    message(data, eos, zs)
}

/// The message whose header is at the front.
fn message(data: &[u8], eos: bool, zs: &mut ZeroScan) -> EStep {
    let (Some(mid), Some(t), Some(version), Some(n), Some(flags), Some(crc)) = (
        be_u32(data, 0),
        be_u16(data, 4),
        be_u16(data, 6),
        be_u32(data, 8),
        be_u32(data, 12),
        be_u32(data, 16),
    ) else {
        return if eos {
            EStep::Skip {
                len: data.len(),
                reason: "EARLY header truncated at the end of the stream".into(),
                severity: Severity::Error,
            }
        } else {
            EStep::NeedMore
        };
    };
    let t = i64::from(t);
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    let after = data.get(20..).unwrap_or(&[]);
    let q = zs.first(data, 20, 20 + LEN_LIMIT + 1).map(|z| z - 20);
    let mut notes = Vec::new();
    // 5.2 step 1: the NUL at 20+LEN, else the first NUL after the header.
    let (dl, term) = match after.get(n) {
        Some(0) => {
            if q.is_some_and(|q| q < n) {
                notes.push(Note::info("EARLY DATA contains 00 bytes"));
            }
            (n, 1)
        }
        Some(_) => match q {
            Some(q) => {
                notes.push(Note::error(format!(
                    "missing terminator at 20+LEN; LEN mismatch (declared {n}, actual {q})"
                )));
                (q, 1)
            }
            None if eos => {
                notes.push(Note::error(format!(
                    "missing terminator; LEN mismatch (declared {n}, actual {})",
                    after.len()
                )));
                (after.len(), 0)
            }
            None => return EStep::NeedMore,
        },
        None => match q {
            Some(q) if n > LEN_LIMIT || eos => {
                notes.push(Note::error(format!(
                    "missing terminator at 20+LEN; LEN mismatch (declared {n}, actual {q})"
                )));
                (q, 1)
            }
            None if eos && after.len() == n => {
                notes.push(Note::error(
                    "missing terminator (NUL) at the end of the stream",
                ));
                (n, 0)
            }
            None if eos => {
                return EStep::Skip {
                    len: data.len(),
                    reason: format!(
                        "EARLY message truncated at the end of the stream ({} of {n} DATA bytes)",
                        after.len()
                    ),
                    severity: Severity::Error,
                }
            }
            None if after.len() > LEN_LIMIT => {
                return EStep::Skip {
                    len: 20,
                    reason: format!(
                        "EARLY header with LEN {n} and no NUL within {LEN_LIMIT} bytes"
                    ),
                    severity: Severity::Error,
                }
            }
            _ => return EStep::NeedMore,
        },
    };
    let len = 20 + dl + term;
    if type_name(t).is_none() {
        return EStep::Skip {
            len,
            reason: format!("EARLY message with MSGTYPE {t} outside 1-19"),
            severity: Severity::Error,
        };
    }
    let raw = after.get(..dl).unwrap_or(&[]);
    let computed = crc32(raw);
    let crc_bad = computed != crc;
    if crc_bad {
        notes.push(Note::error(format!(
            "CRC mismatch (header {crc}, computed {computed} over DATA)"
        )));
    }
    let mut extra = vec![
        Field::new("len", Some(8..12), Value::UInt(n as u64)),
        Field::new("crc", Some(16..20), Value::UInt(u64::from(crc))),
        Field::new("crc_ok", Some(16..20), Value::Bool(!crc_bad)),
        Field::new(
            "crc_computed",
            Some(20..20 + dl),
            Value::UInt(u64::from(computed)),
        ),
        Field::new("data", Some(20..20 + dl), bval(raw)),
    ];
    // Section 5.3: which view is the body.
    let decoded = sqlite::decode(raw);
    let (bytes, map, view) = match decoded {
        Ok(d) if sqlite::encode(&d.bytes) == raw => {
            let map = PosMap::Table {
                starts: d.starts.iter().map(|s| 20 + s).collect(),
                end: 20 + dl,
            };
            if d.late_variant {
                notes.push(Note::info("SQLite escape 01 28 (later SQLite variant)"));
            }
            (d.bytes, map, "sqlite")
        }
        _ if printable(raw) => (raw.to_vec(), PosMap::Linear(20), "raw text"),
        Ok(d) => {
            notes.push(Note::info(if d.late_variant {
                "non-canonical SQLite encoding (escape 01 28 of the later SQLite variant)"
            } else {
                "non-canonical SQLite offset"
            }));
            let map = PosMap::Table {
                starts: d.starts.iter().map(|s| 20 + s).collect(),
                end: 20 + dl,
            };
            (d.bytes, map, "sqlite (non-canonical)")
        }
        Err(e) => {
            notes.push(Note::warn(format!("SQLite decode error in DATA: {e}")));
            (raw.to_vec(), PosMap::Linear(20), "raw bytes")
        }
    };
    if view.starts_with("sqlite") {
        extra.push(Field::new("body", Some(20..20 + dl), bval(&bytes)));
    }
    extra.push(Field::new(
        "body_view",
        Some(20..20 + dl),
        Value::Str(view.to_owned()),
    ));
    let frame = Frame {
        form: Form::Early,
        len,
        mid: Hv {
            value: i64::from(mid),
            range: 0..4,
        },
        msgtype: Hv {
            value: t,
            range: 4..6,
        },
        version: Some(Hv {
            value: i64::from(version),
            range: 6..8,
        }),
        flags: Some(Hv {
            value: i64::from(flags),
            range: 12..16,
        }),
        extra,
        body: Body::Text { bytes, map },
        notes,
        secret_fields: vec!["data", "body"],
    };
    EStep::Frame(Box::new(frame))
}
