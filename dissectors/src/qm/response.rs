//! Response data (sections 3 and 4): interpreted through the request being
//! answered (DECISION 8), by outcome (section 7, rule 5).

use std::ops::Range;

use super::codes::{self, SV_ELSE, SV_ERROR, SV_LOCKED, SV_OK, SV_ON_ERROR, SV_PROMPT};
use super::mv::{self, bytes_fields, quoted};
use super::request::{plural, ReqInfo};
use crate::toolkit::{le_i16, le_i32};
use crate::{Field, Note, Value};

/// A decoded response data part.
#[derive(Debug, Clone, Default)]
pub struct Resp {
    pub fields: Vec<Field>,
    pub summary: Vec<String>,
    pub notes: Vec<Note>,
    pub is_error: bool,
    /// Leave out bulk content and the summary (see
    /// [`crate::Options::lean`]).
    pub lean: bool,
}

impl Resp {
    /// Adds a summary part, made only when the summary is wanted.
    fn sum(&mut self, part: impl FnOnce() -> String) {
        if !self.lean {
            self.summary.push(part());
        }
    }
}

const SUM: usize = 60;

/// What a response answers, for interpretation.
pub struct Answers<'a> {
    /// The function whose data layout applies (the Execute's for the final
    /// response of a prompt dialogue).
    pub code: i16,
    pub info: &'a ReqInfo,
}

fn int(name: &'static str, r: Range<usize>, v: impl Into<i64>) -> Field {
    Field::new(name, Some(r), Value::Int(v.into()))
}

/// Decodes the data part of a response frame (`frame` is the whole frame;
/// the data starts at offset 10).
pub fn decode(
    frame: &[u8],
    outcome: i16,
    status: i32,
    answers: Option<&Answers<'_>>,
    lean: bool,
) -> Resp {
    let mut s = Resp {
        lean,
        ..Resp::default()
    };
    let data = frame.get(10..).unwrap_or(&[]);
    let dr = 10..frame.len();
    let code = answers.map(|a| a.code);
    // The status, with its usual meaning (sections 3.2, DECISION 18).
    let meaning: Option<String> = match outcome {
        SV_ELSE => codes::else_reason(status, code).map(str::to_owned),
        SV_LOCKED => Some(format!("user {status} holds the lock")),
        SV_OK if matches!(code, Some(21..=23)) => Some("return code".into()),
        SV_OK if code == Some(20) => Some("left by the subroutine".into()),
        SV_OK if status != 0 => Some("stale: meaningless after success".into()),
        _ => None,
    };
    let short = codes::outcome_short(outcome);
    match &meaning {
        Some(m) => s.sum(|| format!("{short} status={status} ({m})")),
        None => s.sum(|| format!("{short} status={status}")),
    }
    if let Some(m) = meaning {
        s.fields
            .push(Field::new("status_meaning", None, Value::Str(m)));
    }
    match outcome {
        SV_OK => match answers {
            Some(a) => ok_data(&mut s, a, data, dr),
            None => raw(&mut s, data, dr),
        },
        SV_ON_ERROR => {
            s.is_error = true;
            bytes_fields(&mut s.fields, "message", dr, data);
            if !data.is_empty() {
                s.sum(|| quoted(data, SUM));
            }
            let text = mv::one_line(data, 120);
            s.notes.push(Note::warn(if data.is_empty() {
                "SV_ON_ERROR (no text)".to_owned()
            } else {
                format!("SV_ON_ERROR: {text}")
            }));
        }
        SV_ELSE | SV_ERROR | SV_LOCKED => {
            if outcome == SV_ERROR {
                s.is_error = true;
                s.notes.push(Note::info(
                    "SV_ERROR: the client fetches the text with GetError",
                ));
            }
            if outcome == SV_LOCKED {
                s.fields.push(int("lock_holder", 6..10, status));
                s.notes.push(Note::info(format!(
                    "record or file locked by user {status}"
                )));
            }
            if !data.is_empty() {
                raw(&mut s, data, dr);
                s.notes.push(Note::info(format!(
                    "{} data bytes where none are expected",
                    data.len()
                )));
            }
        }
        SV_PROMPT => {
            let (lines, _) = mv::list_view(data, dr.start, b'\n');
            if lines.len() > 1 {
                s.fields.push(Field::new(
                    "prompt_lines",
                    Some(dr.clone()),
                    Value::List(lines),
                ));
            }
            bytes_fields(&mut s.fields, "prompt", dr, data);
            s.sum(|| quoted(data, SUM));
        }
        _ => {
            s.is_error = true;
            raw(&mut s, data, dr);
            s.notes.push(Note::warn(format!(
                "malformed response: undefined outcome code {outcome}"
            )));
        }
    }
    s
}

fn raw(s: &mut Resp, data: &[u8], dr: Range<usize>) {
    if !data.is_empty() {
        bytes_fields(&mut s.fields, "data", dr, data);
        s.sum(|| format!("{} bytes", data.len()));
    }
}

/// Data of an SV_OK answer, by function (section 4.1).
fn ok_data(s: &mut Resp, a: &Answers<'_>, data: &[u8], dr: Range<usize>) {
    let start = dr.start;
    match a.code {
        2 => {
            bytes_fields(&mut s.fields, "error_text", dr, data);
            s.sum(|| quoted(data, SUM));
        }
        4 | 29 => {
            let r = le_i16(data, 0).map(|f| (data.get(2..).unwrap_or(&[]), f));
            match r {
                Some((rest, f)) => {
                    s.fields.push(int("fno", start..start + 2, f));
                    if let Some(name) = &a.info.text {
                        s.fields.push(Field::new(
                            "file_name",
                            None,
                            Value::Str(mv::display_max(name, mv::MAX_LEAF).0),
                        ));
                        s.sum(|| format!("fno={f} ({})", mv::one_line(name, SUM)));
                    } else {
                        s.sum(|| format!("fno={f}"));
                    }
                    if !rest.is_empty() {
                        extra(s, rest, start + 2..dr.end);
                    }
                }
                None => short(s, data, dr, 2),
            }
        }
        6..=10 => record(s, "record", data, dr),
        12 => {
            bytes_fields(&mut s.fields, "id", dr, data);
            s.sum(|| format!("id={}", quoted(data, SUM)));
        }
        14 | 35 | 37..=39 => {
            let what = match a.code {
                35 => ("index name", "index names"),
                38 => ("value", "values"),
                _ => ("id", "ids"),
            };
            list(s, what, data, dr);
        }
        20 => call_args(s, data, dr),
        21..=23 => {
            let (lines, cut) = mv::list_view(data, start, mv::FM);
            let n = mv::count(data, mv::FM);
            if !lines.is_empty() {
                s.fields
                    .push(Field::new("lines", Some(dr.clone()), Value::List(lines)));
            }
            mv::bulk(&mut s.fields, s.lean, "output", dr, data);
            if cut {
                s.notes.push(Note::info(format!(
                    "output view abbreviated; `output` keeps all {} bytes",
                    data.len()
                )));
            }
            if n > 0 {
                s.sum(|| format!("{n} line{}: {}", plural(n), quoted(data, SUM)));
            }
        }
        34 => {
            let r = le_i32(data, 0).map(|v| (data.get(4..).unwrap_or(&[]), v));
            match r {
                Some((rest, v)) => {
                    s.fields.push(int("recordlocked", start..start + 4, v));
                    let m = match v {
                        0 => "not locked".to_owned(),
                        v if v > 0 => format!("locked by this session ({v})"),
                        v => format!("locked by another user ({v})"),
                    };
                    s.sum(|| m.clone());
                    s.fields.push(Field::new("lock_state", None, Value::Str(m)));
                    if !rest.is_empty() {
                        extra(s, rest, start + 4..dr.end);
                    }
                }
                None => short(s, data, dr, 4),
            }
        }
        36 => record(s, "description", data, dr),
        40 => {
            bytes_fields(&mut s.fields, "value", dr, data);
            let key = a.info.key.and_then(codes::fileinfo_key);
            match key {
                Some(k) => s.sum(|| format!("{k}={}", quoted(data, SUM))),
                None => s.sum(|| quoted(data, SUM)),
            }
        }
        41 => record(s, "value", data, dr),
        44 | 45 => {
            bytes_fields(&mut s.fields, "key", dr, data);
            s.sum(|| format!("key={}", quoted(data, SUM)));
        }
        c if codes::is_known(c) => {
            // Functions answered with an empty data part.
            if !data.is_empty() {
                raw(s, data, dr);
                s.notes.push(Note::info(format!(
                    "{} data bytes where none are expected",
                    data.len()
                )));
            }
        }
        c => {
            raw(s, data, dr);
            s.notes.push(Note::info(format!(
                "the server accepted unknown function {c}"
            )));
        }
    }
}

fn short(s: &mut Resp, data: &[u8], dr: Range<usize>, need: usize) {
    raw(s, data, dr);
    s.notes.push(Note::warn(format!(
        "malformed response: {} data bytes, {need} expected",
        data.len()
    )));
}

fn extra(s: &mut Resp, b: &[u8], r: Range<usize>) {
    s.fields
        .push(Field::new("extra", Some(r), Value::Bytes(b.to_vec())));
    s.notes.push(Note::info(format!(
        "{} extra data bytes after the expected fields",
        b.len()
    )));
}

/// A dynamic array: a capped structured view, then the raw bytes.
fn record(s: &mut Resp, name: &'static str, data: &[u8], dr: Range<usize>) {
    let n = mv::count(data, mv::FM);
    s.fields
        .push(Field::new("field_count", None, Value::Int(n as i64)));
    mv::view(&mut s.fields, &mut s.notes, s.lean, name, dr.clone(), data, n);
    mv::bulk(&mut s.fields, s.lean, name, dr, data);
    s.sum(|| {
        let mut sum = format!("{name} {n} field{}, {} bytes", plural(n), data.len());
        if !data.is_empty() {
            sum.push_str(": ");
            sum.push_str(&quoted(data, 40));
        }
        sum
    });
}

/// An FM-separated list: a capped view, then the raw bytes.
fn list(s: &mut Resp, what: (&'static str, &'static str), data: &[u8], dr: Range<usize>) {
    let n = mv::count(data, mv::FM);
    s.fields
        .push(Field::new("count", None, Value::Int(n as i64)));
    let (items, cut) = mv::list_view(data, dr.start, mv::FM);
    if !items.is_empty() {
        s.fields
            .push(Field::new("items", Some(dr.clone()), Value::List(items)));
    }
    if cut {
        s.notes.push(Note::info(format!(
            "list view abbreviated; `list` keeps all {} bytes",
            data.len()
        )));
    }
    mv::bulk(&mut s.fields, s.lean, "list", dr, data);
    let word = if n == 1 { what.0 } else { what.1 };
    if n == 0 {
        s.sum(|| format!("no {}", what.1));
    } else {
        s.sum(|| format!("{n} {word}: {}", quoted(data, 40)));
    }
}

/// Call (20) answer: the changed arguments (section 4.3).
fn call_args(s: &mut Resp, data: &[u8], dr: Range<usize>) {
    let mut pos = 0usize;
    let mut args = Vec::new();
    let mut parts = Vec::new();
    let base = dr.start;
    while pos < data.len() {
        let piece = data.get(pos..).unwrap_or(&[]);
        let (Some(num), Some(len)) = (le_i16(piece, 0), le_i32(piece, 2)) else {
            break;
        };
        let Ok(l) = usize::try_from(len) else {
            break;
        };
        let vstart = pos + 6;
        let Some(v) = vstart.checked_add(l).and_then(|e| data.get(vstart..e)) else {
            break;
        };
        let end = vstart + l + l % 2;
        if end > data.len() {
            break;
        }
        let mut f = vec![
            int("number", base + pos..base + pos + 2, num),
            int("length", base + pos + 2..base + pos + 6, len),
        ];
        bytes_fields(&mut f, "value", base + vstart..base + vstart + l, v);
        if args.len() < 1000 {
            args.push(Field::new(
                num.to_string(),
                Some(base + pos..base + end),
                Value::Struct(f),
            ));
        }
        if parts.len() < 4 {
            parts.push(format!("{num}={}", quoted(v, 30)));
        }
        pos = end;
    }
    let n = args.len();
    if n > 0 {
        s.fields.push(Field::new(
            "args",
            Some(base..base + pos),
            Value::List(args),
        ));
    }
    s.fields
        .push(Field::new("changed", None, Value::Int(n as i64)));
    s.sum(|| if n == 0 {
        "no argument changed".to_owned()
    } else {
        format!("{n} arg{} changed: {}", plural(n), parts.join(" "))
    });
    if pos < data.len() {
        let rest = data.get(pos..).unwrap_or(&[]);
        s.fields.push(Field::new(
            "raw",
            Some(base + pos..dr.end),
            Value::Bytes(rest.to_vec()),
        ));
        s.notes.push(Note::warn(format!(
            "malformed Call answer: {} bytes at data offset {pos} are not an argument",
            rest.len()
        )));
    }
}
