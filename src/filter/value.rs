//! Values read from messages, literals read from expressions, and how they
//! compare.

use std::cmp::Ordering;
use std::net::IpAddr;

use qscope_dissectors::{Field, Value};
use regex::Regex;
use serde_json::Value as Json;

/// A value of a field in one message, borrowed from it where possible.
#[derive(Debug)]
pub(crate) enum V<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(&'a str),
    Bytes(&'a [u8]),
    /// JSON text of a whole value (a `Value::Json` field).
    JsonText(&'a str),
    /// A parsed JSON node (reached by a path into JSON).
    Js(&'a Json),
    /// Decoded children: `Value::Struct` (false) or `Value::List` (true).
    Fields(&'a [Field], bool),
    Addr(IpAddr),
    /// Nanoseconds.
    Dur(i128),
    /// Nanoseconds since the Unix epoch.
    Time(i128),
    /// 0 info, 1 warn, 2 error.
    Sev(u8),
    /// A code and its name ("" when the code has none).
    Named(Option<i128>, &'a str),
}

impl<'a> V<'a> {
    pub fn from_value(v: &'a Value) -> V<'a> {
        match v {
            Value::Null => V::Null,
            Value::Bool(b) => V::Bool(*b),
            Value::Int(i) => V::Int(i128::from(*i)),
            Value::UInt(u) => V::Int(i128::from(*u)),
            Value::Float(f) => V::Float(*f),
            Value::Str(s) => V::Str(s),
            Value::Bytes(b) => V::Bytes(b),
            Value::Json(t) => V::JsonText(t),
            Value::Struct(k) => V::Fields(k, false),
            Value::List(k) => V::Fields(k, true),
        }
    }
}

/// A literal of a dynamically typed comparison, read every way it can be.
#[derive(Debug, Clone)]
pub(crate) struct AnyLit {
    pub text: String,
    pub int: Option<i128>,
    pub float: Option<f64>,
    pub boolean: Option<bool>,
    pub null: bool,
}

impl AnyLit {
    /// `quoted` literals are strings only.
    pub fn new(text: &str, quoted: bool) -> AnyLit {
        let bare = !quoted;
        AnyLit {
            text: text.to_owned(),
            int: parse_int(text).filter(|_| bare),
            float: parse_float(text).filter(|_| bare),
            boolean: match text {
                "true" if bare => Some(true),
                "false" if bare => Some(false),
                _ => None,
            },
            null: bare && text == "null",
        }
    }
}

/// A literal converted for the field it is compared with.
#[derive(Debug, Clone)]
pub(crate) enum Lit {
    Str(String),
    Int(i128),
    /// Nanoseconds.
    Dur(i128),
    /// An address and a prefix length (32 or 128 for one address).
    Net(IpAddr, u8),
    Bool(bool),
    Sev(u8),
    /// Nanoseconds since the Unix epoch.
    Time(i128),
    Regex(Box<Regex>),
    Any(AnyLit),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    Matches,
}

impl Op {
    fn holds(self, o: Ordering) -> bool {
        match self {
            Op::Eq => o == Ordering::Equal,
            Op::Ne => o != Ordering::Equal,
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
            Op::Gt => o == Ordering::Greater,
            Op::Ge => o != Ordering::Less,
            Op::Contains | Op::Matches => false,
        }
    }
    fn ordering(self) -> bool {
        !matches!(self, Op::Contains | Op::Matches)
    }
}

fn ord<T: PartialOrd>(op: Op, a: T, b: T) -> bool {
    op.ordering() && a.partial_cmp(&b).is_some_and(|o| op.holds(o))
}

/// Does value `v` satisfy `v OP lit`? (`Ne` is handled by the caller as
/// "present and not equal"; here it is plain inequality.)
pub(crate) fn compare(v: &V<'_>, op: Op, lit: &Lit) -> bool {
    match v {
        V::Fields(items, true) => items.iter().any(|k| {
            let e = V::from_value(&k.value);
            if op == Op::Contains {
                compare(&e, Op::Eq, lit)
            } else {
                compare(&e, op, lit)
            }
        }),
        V::Fields(_, false) => false,
        V::Js(j) => compare_json(j, op, lit),
        V::JsonText(t) => compare_json_text(t, op, lit),
        _ => scalar(v, op, lit),
    }
}

fn compare_json(j: &Json, op: Op, lit: &Lit) -> bool {
    match j {
        Json::Null => scalar(&V::Null, op, lit),
        Json::Bool(b) => scalar(&V::Bool(*b), op, lit),
        Json::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => scalar(&V::Int(i128::from(i)), op, lit),
            (_, Some(u), _) => scalar(&V::Int(i128::from(u)), op, lit),
            (_, _, Some(f)) => scalar(&V::Float(f), op, lit),
            _ => false,
        },
        Json::String(s) => scalar(&V::Str(s), op, lit),
        Json::Array(items) => items.iter().any(|e| {
            if op == Op::Contains {
                compare_json(e, Op::Eq, lit)
            } else {
                compare_json(e, op, lit)
            }
        }),
        Json::Object(_) => {
            let text = j.to_string();
            scalar(&V::Str(&text), op, lit)
        }
    }
}

fn compare_json_text(t: &str, op: Op, lit: &Lit) -> bool {
    let s = t.trim();
    // Fast paths without parsing (and without allocating) for the usual
    // scalars: ids are short strings or numbers.
    if let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        if !inner.contains(['\\', '"']) {
            return scalar(&V::Str(inner), op, lit);
        }
    }
    match s {
        "true" => return scalar(&V::Bool(true), op, lit),
        "false" => return scalar(&V::Bool(false), op, lit),
        "null" => return scalar(&V::Null, op, lit),
        _ => {}
    }
    if let Ok(i) = s.parse::<i64>() {
        return scalar(&V::Int(i128::from(i)), op, lit);
    }
    match s.as_bytes().first() {
        // Objects compare as their text: `qmp.value contains "..."`.
        Some(b'{') | None => scalar(&V::Str(t), op, lit),
        _ => match serde_json::from_str::<Json>(s) {
            Ok(j) => compare_json(&j, op, lit),
            Err(_) => scalar(&V::Str(t), op, lit),
        },
    }
}

fn scalar(v: &V<'_>, op: Op, lit: &Lit) -> bool {
    match (v, lit) {
        (V::Str(s), Lit::Str(l)) => str_op(s, op, l),
        (V::Str(s), Lit::Any(a)) => str_op(s, op, &a.text),
        (V::Str(s), Lit::Regex(re)) => op == Op::Matches && re.is_match(s),
        (V::Bytes(b), Lit::Str(l)) => bytes_op(b, op, l.as_bytes()),
        (V::Bytes(b), Lit::Any(a)) => bytes_op(b, op, a.text.as_bytes()),
        (V::Bytes(b), Lit::Regex(re)) => {
            op == Op::Matches && re.is_match(&String::from_utf8_lossy(b))
        }
        (V::Int(i), Lit::Int(l)) => ord(op, *i, *l),
        (V::Int(i), Lit::Any(a)) => match (a.int, a.float) {
            (Some(l), _) => ord(op, *i, l),
            (None, Some(f)) => ord(op, *i as f64, f),
            _ => false,
        },
        (V::Float(x), Lit::Int(l)) => ord(op, *x, *l as f64),
        (V::Float(x), Lit::Any(a)) => a.float.is_some_and(|f| ord(op, *x, f)),
        (V::Bool(b), Lit::Bool(l)) => ord(op, *b, *l),
        (V::Bool(b), Lit::Any(a)) => a.boolean.is_some_and(|l| ord(op, *b, l)),
        (V::Null, Lit::Any(a)) => a.null && matches!(op, Op::Eq | Op::Le | Op::Ge),
        (V::Addr(ip), Lit::Net(net, bits)) => {
            let inside = in_net(*ip, *net, *bits);
            match op {
                Op::Eq => inside,
                Op::Ne => !inside,
                _ => false,
            }
        }
        (V::Dur(d), Lit::Dur(l)) => ord(op, *d, *l),
        (V::Time(t), Lit::Time(l)) => ord(op, *t, *l),
        (V::Sev(s), Lit::Sev(l)) => ord(op, *s, *l),
        (V::Named(code, _), Lit::Int(l)) => code.is_some_and(|c| ord(op, c, *l)),
        (V::Named(_, name), Lit::Str(l)) => match op {
            Op::Contains => contains_ignore_ascii_case(name, l),
            Op::Eq => name.eq_ignore_ascii_case(l),
            _ => false,
        },
        (V::Named(_, name), Lit::Regex(re)) => op == Op::Matches && re.is_match(name),
        _ => false,
    }
}

fn contains_ignore_ascii_case(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

fn str_op(s: &str, op: Op, l: &str) -> bool {
    match op {
        Op::Contains => s.contains(l),
        Op::Matches => false,
        _ => ord(op, s, l),
    }
}

fn bytes_op(b: &[u8], op: Op, l: &[u8]) -> bool {
    match op {
        Op::Contains => l.is_empty() || b.windows(l.len()).any(|w| w == l),
        Op::Matches => false,
        _ => ord(op, b, l),
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (canonical(ip), canonical(net)) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let bits = u32::from(bits.min(32));
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let bits = u32::from(bits.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// Reading literals.

/// Decimal or `0x` hexadecimal, optionally signed.
pub(crate) fn parse_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        if h.is_empty() || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        i128::from_str_radix(h, 16).ok()?
    } else {
        if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        body.parse::<i128>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// A decimal number such as `1.5`, `-3` or `2e3` (no `inf`/`nan`).
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let starts_ok = body.starts_with(|c: char| c.is_ascii_digit())
        || (body.starts_with('.')
            && body
                .get(1..2)
                .is_some_and(|c| c.as_bytes()[0].is_ascii_digit()));
    if !starts_ok
        || !body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
    {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// `10ms`, `1.5s`, `250us`, `2m`, `1h`, `30ns`, `0`; in nanoseconds.
pub(crate) fn parse_duration(s: &str) -> Option<i128> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let split = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (num, unit) = body.split_at(split);
    let scale: i128 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "" if !num.is_empty() && num.bytes().all(|b| b == b'0') => 1,
        _ => return None,
    };
    let ns = decimal_scaled(num, scale)?;
    Some(if neg { -ns } else { ns })
}

/// `num` (digits with at most one '.') times `scale`, truncated.
fn decimal_scaled(num: &str, scale: i128) -> Option<i128> {
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || int.len() > 20
    {
        return None;
    }
    let i: i128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut total = i.checked_mul(scale)?;
    let mut unit = scale;
    for d in frac.bytes().take(12) {
        unit /= 10;
        total = total.checked_add(i128::from(d - b'0') * unit)?;
    }
    Some(total)
}

/// `127.0.0.1`, `::1`, `10.0.0.0/8`, `fe80::/10`.
pub(crate) fn parse_net(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        None => max,
        Some(b) if !b.is_empty() && b.len() <= 3 && b.bytes().all(|c| c.is_ascii_digit()) => {
            b.parse::<u8>().ok().filter(|&n| n <= max)?
        }
        Some(_) => return None,
    };
    Some((ip, bits))
}

/// RFC 3339-like times (`2026-11-22T02:26:09.5Z`, `2026-11-22 02:26:09`,
/// `2026-11-22`, with `Z` or `+01:00`; UTC without an offset) or Unix
/// seconds (`1700000000.25`). In nanoseconds since the epoch.
pub(crate) fn parse_time(s: &str) -> Option<i128> {
    if let Some(ns) = decimal_scaled(s, 1_000_000_000) {
        return Some(ns);
    }
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    if b.len() < 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = days_from_civil(y, mo, d) * 86_400;
    let mut nanos: i128 = 0;
    let mut rest = s.get(10..)?;
    if let Some(t) = rest.strip_prefix(['T', 't', ' ']) {
        let tb = t.as_bytes();
        if tb.len() < 5 || tb.get(2) != Some(&b':') {
            return None;
        }
        let h = t
            .get(0..2)
            .filter(|x| x.bytes().all(|c| c.is_ascii_digit()))?
            .parse::<i64>()
            .ok()?;
        let mi = t
            .get(3..5)
            .filter(|x| x.bytes().all(|c| c.is_ascii_digit()))?
            .parse::<i64>()
            .ok()?;
        if h > 23 || mi > 59 {
            return None;
        }
        secs += h * 3600 + mi * 60;
        rest = t.get(5..)?;
        if let Some(r) = rest.strip_prefix(':') {
            let sec = r
                .get(0..2)
                .filter(|x| x.bytes().all(|c| c.is_ascii_digit()))?
                .parse::<i64>()
                .ok()?;
            if sec > 60 {
                return None;
            }
            secs += sec;
            rest = r.get(2..)?;
            if let Some(fr) = rest.strip_prefix('.') {
                let n = fr.bytes().take_while(u8::is_ascii_digit).count();
                if n == 0 {
                    return None;
                }
                nanos = decimal_scaled(&format!("0.{}", fr.get(..n)?), 1_000_000_000)?;
                rest = fr.get(n..)?;
            }
        }
        match rest {
            "" | "Z" | "z" => {}
            off => {
                let sign = match off.as_bytes().first() {
                    Some(b'+') => 1,
                    Some(b'-') => -1,
                    _ => return None,
                };
                let o = off.get(1..)?;
                let (oh, om) = match o.split_once(':') {
                    Some((a, b)) => (a, b),
                    None => (o.get(..2)?, o.get(2..)?),
                };
                if oh.len() != 2 || om.len() != 2 {
                    return None;
                }
                let oh: i64 = oh
                    .bytes()
                    .all(|c| c.is_ascii_digit())
                    .then(|| oh.parse().ok())??;
                let om: i64 = om
                    .bytes()
                    .all(|c| c.is_ascii_digit())
                    .then(|| om.parse().ok())??;
                secs -= sign * (oh * 3600 + om * 60);
            }
        }
    } else if !rest.is_empty() {
        return None;
    }
    Some(i128::from(secs) * 1_000_000_000 + nanos)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_int("42"), Some(42));
        assert_eq!(parse_int("-7"), Some(-7));
        assert_eq!(parse_int("0x2a"), Some(42));
        assert_eq!(parse_int("0x"), None);
        assert_eq!(parse_int("4a"), None);
        assert_eq!(parse_int("-"), None);
        assert_eq!(parse_int("99999999999999999999999999999999999999999"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10ms"), Some(10_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("250us"), Some(250_000));
        assert_eq!(parse_duration("2m"), Some(120_000_000_000));
        assert_eq!(parse_duration("1h"), Some(3_600_000_000_000));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration(".5ms"), Some(500_000));
        assert_eq!(parse_duration("-1ms"), Some(-1_000_000));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("ms"), None);
        assert_eq!(parse_duration("1.2.3s"), None);
        assert_eq!(parse_duration("10parsecs"), None);
    }

    #[test]
    fn networks() {
        let (ip, bits) = parse_net("10.0.0.0/8").unwrap();
        assert!(in_net("10.1.2.3".parse().unwrap(), ip, bits));
        assert!(!in_net("11.1.2.3".parse().unwrap(), ip, bits));
        assert!(in_net("::ffff:10.9.9.9".parse().unwrap(), ip, bits));
        let (ip, bits) = parse_net("::1").unwrap();
        assert_eq!(bits, 128);
        assert!(in_net("::1".parse().unwrap(), ip, bits));
        let (ip, bits) = parse_net("0.0.0.0/0").unwrap();
        assert!(in_net("1.2.3.4".parse().unwrap(), ip, bits));
        assert!(parse_net("10.0.0.0/33").is_none());
        assert!(parse_net("1.2.3").is_none());
    }

    #[test]
    fn times() {
        let s = 1_763_778_369i128; // 2025-11-22T02:26:09Z
        assert_eq!(parse_time("2025-11-22T02:26:09Z"), Some(s * 1_000_000_000));
        assert_eq!(parse_time("2025-11-22 02:26:09"), Some(s * 1_000_000_000));
        assert_eq!(
            parse_time("2025-11-22T03:26:09.5+01:00"),
            Some(s * 1_000_000_000 + 500_000_000)
        );
        assert_eq!(
            parse_time("2025-11-22T02:26Z"),
            Some((s - 9) * 1_000_000_000)
        );
        assert_eq!(
            parse_time("2025-11-22"),
            Some((s - 2 * 3600 - 26 * 60 - 9) * 1_000_000_000)
        );
        assert_eq!(
            parse_time("1763778369.25"),
            Some(s * 1_000_000_000 + 250_000_000)
        );
        assert_eq!(parse_time("2025-13-01"), None);
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("2025-11-22T"), None);
    }
}
