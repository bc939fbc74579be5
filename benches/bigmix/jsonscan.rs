//! Checking qscope's JSON output without holding it: every JSONL line is
//! parsed on its own (serde_json, values skipped with `IgnoredAny`), and
//! the keys about dropping and memory near the top of a record are kept.

use std::fmt;
use std::io::{BufRead, BufReader, Read};

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Key names printed from a summary: what was dropped, memory, limits.
const WORDS: [&str; 8] = [
    "drop", "memory", "limit", "evict", "shed", "trunc", "budget", "discard",
];

fn interesting(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    WORDS.iter().any(|w| k.contains(w))
}

/// What a scan found in one JSON value.
#[derive(Default, Debug)]
pub struct Found {
    /// The top-level `type`.
    pub kind: Option<String>,
    /// Interesting keys of the top level and one level below (path, value).
    pub keys: Vec<(String, Value)>,
}

impl Found {
    /// `path=value` pairs, values compact JSON.
    pub fn keys_text(&self) -> String {
        if self.keys.is_empty() {
            return "(no drop/memory/limit key)".into();
        }
        self.keys
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
    /// A byte count under a key naming both memory and a limit, if any.
    pub fn memory_limit(&self) -> Option<u64> {
        self.keys.iter().find_map(|(k, v)| {
            let k = k.to_ascii_lowercase();
            (k.contains("memory") && k.contains("limit")).then(|| v.as_u64())?
        })
    }
}

struct Scan<'a> {
    depth: usize,
    path: String,
    found: &'a mut Found,
}

impl<'de> DeserializeSeed<'de> for Scan<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Scan<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        while s.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(k) = m.next_key::<String>()? {
            let path = if self.path.is_empty() {
                k.clone()
            } else {
                format!("{}.{k}", self.path)
            };
            if self.depth == 0 && k == "type" {
                let v: Value = m.next_value()?;
                self.found.kind = v.as_str().map(str::to_string);
            } else if interesting(&k) {
                let v: Value = m.next_value()?;
                self.found.keys.push((path, v));
            } else if self.depth == 0 {
                m.next_value_seed(Scan {
                    depth: 1,
                    path,
                    found: self.found,
                })?;
            } else {
                m.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

fn scan_slice(b: &[u8]) -> Result<Found, serde_json::Error> {
    let mut found = Found::default();
    let mut de = serde_json::Deserializer::from_slice(b);
    Scan {
        depth: 0,
        path: String::new(),
        found: &mut found,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(found)
}

/// The verdict on a JSONL stream.
#[derive(Default, Debug)]
pub struct Lines {
    pub lines: u64,
    pub bytes: u64,
    pub invalid: u64,
    pub first_error: Option<String>,
    /// The scan of the last `summary` record.
    pub summary: Option<Found>,
}

/// Reads a JSONL stream to its end: each line must be one JSON value.
pub fn jsonl(r: impl Read) -> Lines {
    let mut r = BufReader::with_capacity(1 << 20, r);
    let mut v = Lines::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        match r.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(n) => v.bytes += n as u64,
        }
        v.lines += 1;
        let body = line.strip_suffix(b"\n").unwrap_or(&line);
        match scan_slice(body) {
            Ok(f) => {
                if f.kind.as_deref() == Some("summary") {
                    v.summary = Some(f);
                }
            }
            Err(e) => {
                v.invalid += 1;
                if v.first_error.is_none() {
                    v.first_error = Some(format!("line {}: {e}", v.lines));
                }
            }
        }
    }
    v
}

/// The verdict on one JSON document (`stats --format json`).
#[derive(Debug)]
pub struct Doc {
    pub bytes: u64,
    pub result: Result<Found, String>,
}

pub fn document(mut r: impl Read) -> Doc {
    let mut b = Vec::new();
    let res = r.read_to_end(&mut b);
    let result = match res {
        Err(e) => Err(format!("read: {e}")),
        Ok(_) => scan_slice(&b).map_err(|e| e.to_string()),
    };
    Doc {
        bytes: b.len() as u64,
        result,
    }
}

/// Counts the bytes and lines of a text stream (`stats` tables).
pub fn text(r: impl Read) -> (u64, u64) {
    let mut r = BufReader::with_capacity(1 << 20, r);
    let (mut bytes, mut lines) = (0u64, 0u64);
    loop {
        let n = match r.fill_buf() {
            Ok([]) | Err(_) => break,
            Ok(b) => {
                lines += b.iter().filter(|&&c| c == b'\n').count() as u64;
                b.len()
            }
        };
        bytes += n as u64;
        r.consume(n);
    }
    (bytes, lines)
}
