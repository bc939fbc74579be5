//! Values: id equality and strict re-serialisation.

use super::tree::{Node, J};

/// A number as QEMU holds it: an integer in the i64/u64 range, or a double.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NumVal {
    Int(i128),
    Float(f64),
}

impl NumVal {
    pub fn of(text: &str) -> NumVal {
        if !text.contains(['.', 'e', 'E']) {
            if let Ok(v) = text.parse::<i64>() {
                return NumVal::Int(i128::from(v));
            }
            if let Ok(v) = text.parse::<u64>() {
                return NumVal::Int(i128::from(v));
            }
        }
        NumVal::Float(text.parse::<f64>().unwrap_or(f64::NAN))
    }
    pub fn as_f64(self) -> f64 {
        match self {
            NumVal::Int(v) => v as f64,
            NumVal::Float(f) => f,
        }
    }
}

/// JSON value equality for ids (qmp.md 4.3 step 4): strings after decoding,
/// objects as unordered sets, arrays element-wise, numbers equal as
/// integers when both are i64/u64 integers, else as doubles.
pub fn json_eq(a: &Node, b: &Node) -> bool {
    match (&a.v, &b.v) {
        (J::Null, J::Null) => true,
        (J::Bool(x), J::Bool(y)) => x == y,
        (J::Str(x), J::Str(y)) => x == y,
        (J::Num(x), J::Num(y)) => match (NumVal::of(x), NumVal::of(y)) {
            (NumVal::Int(p), NumVal::Int(q)) => p == q,
            (p, q) => p.as_f64() == q.as_f64(),
        },
        (J::Arr(x), J::Arr(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q)),
        (J::Obj(x), J::Obj(y)) => {
            x.len() == y.len()
                && x.iter().all(|m| {
                    y.iter()
                        .find(|n| n.key == m.key)
                        .is_some_and(|n| json_eq(&m.val, &n.val))
                })
        }
        _ => false,
    }
}

/// Writes `s` as a strict JSON string literal.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Serialises `n` as compact strict JSON into `out`, stopping once `out`
/// holds more than `limit` bytes (returns false then). `src` is the text
/// the node was parsed from (for [`J::Raw`] nodes, copied verbatim).
pub fn write_json(n: &Node, src: &[u8], out: &mut String, limit: usize) -> bool {
    if out.len() > limit {
        return false;
    }
    match &n.v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Num(t) => out.push_str(t),
        J::Str(s) => write_str(out, s),
        J::Raw => {
            let raw = src.get(n.span.clone()).unwrap_or(&[]);
            out.push_str(&String::from_utf8_lossy(raw));
        }
        J::Arr(items) => {
            out.push('[');
            for (k, it) in items.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                if !write_json(it, src, out, limit) {
                    return false;
                }
            }
            out.push(']');
        }
        J::Obj(ms) => {
            out.push('{');
            for (k, m) in ms.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                write_str(out, &m.key);
                out.push(':');
                if !write_json(&m.val, src, out, limit) {
                    return false;
                }
            }
            out.push('}');
        }
    }
    out.len() <= limit
}

/// The node as a strict JSON text: the original bytes when the value was
/// strict (and valid UTF-8), else re-serialised.
pub fn node_text(n: &Node, src: &[u8], strict: bool) -> String {
    if strict {
        if let Some(Ok(s)) = src.get(n.span.clone()).map(std::str::from_utf8) {
            return s.to_owned();
        }
    }
    let mut out = String::new();
    write_json(n, src, &mut out, usize::MAX);
    out
}

/// About the first `max` bytes of the node's strict JSON text, for
/// summaries (large values are not copied whole).
pub fn preview(n: &Node, src: &[u8], strict: bool, max: usize) -> String {
    if strict {
        let end = n.span.end.min(n.span.start.saturating_add(max));
        if let Some(raw) = src.get(n.span.start..end) {
            return String::from_utf8_lossy(raw).into_owned();
        }
    }
    let mut out = String::new();
    write_json(n, src, &mut out, max);
    out
}
