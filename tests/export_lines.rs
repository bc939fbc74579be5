//! Every output well-formed: each line of `qscope export --format jsonl`
//! and `--format ek` is one JSON value on its own, for every bundled capture
//! and for QMP laid out with whitespace (newlines, tabs, CRs) between every
//! token; and a QMP message's `fields.value` is its value written compact,
//! whatever the layout on the wire.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Every `*.pcap` under `captures/`, sorted.
fn all_captures() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "pcap") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&bundled(""), &mut out);
    out.sort();
    out
}

/// Runs `qscope export PCAP --format FORMAT` and returns its lines, each
/// parsed on its own (the test fails on the first line that is not one
/// whole JSON object), with the raw text of each.
fn export_lines(pcap: &Path, format: &str) -> Vec<(String, Value)> {
    let out = qscope(&["export", pcap.to_str().unwrap(), "--format", format]);
    let what = format!("{} --format {format}", pcap.display());
    assert!(
        out.status.success(),
        "{what}: exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("{what}: not UTF-8: {e}"));
    assert!(text.ends_with('\n'), "{what}: the last line is not ended");
    text.split_terminator('\n')
        .enumerate()
        .map(|(n, line)| {
            assert!(!line.contains('\r'), "{what}: line {} holds a CR", n + 1);
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| {
                panic!(
                    "{what}: line {} is not one JSON value ({e}): {}",
                    n + 1,
                    &line[..line.len().min(300)]
                )
            });
            assert!(v.is_object(), "{what}: line {} is not an object", n + 1);
            (line.to_string(), v)
        })
        .collect()
}

/// The message records of an `ek` export: index actions and documents
/// alternate, one document per action.
fn ek_documents(lines: &[(String, Value)], what: &str) -> Vec<(String, Value)> {
    assert!(
        lines.len().is_multiple_of(2),
        "{what}: odd number of ek lines"
    );
    lines
        .chunks(2)
        .map(|pair| {
            let idx = pair[0].1["index"]["_index"].as_str();
            assert!(
                idx.is_some_and(|i| i.starts_with("qscope-")),
                "{what}: not an index action: {}",
                pair[0].0
            );
            assert_eq!(pair[1].1["type"], "message", "{what}: {}", pair[1].0);
            pair[1].clone()
        })
        .collect()
}

/// End (exclusive) of the JSON value starting at `text[at]` (no leading
/// whitespace): a string to its closing quote, an object or array to its
/// matching bracket (skipping strings), anything else to the next
/// structural character or whitespace.
fn value_end(text: &[u8], at: usize) -> usize {
    let string_end = |mut i: usize| {
        // i is just after the opening quote
        while text[i] != b'"' {
            i += if text[i] == b'\\' { 2 } else { 1 };
        }
        i + 1
    };
    match text[at] {
        b'"' => string_end(at + 1),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            loop {
                match text[i] {
                    b'"' => {
                        i = string_end(i + 1);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            at + text[at..]
                .iter()
                .position(|b| b",}]".contains(b) || b.is_ascii_whitespace())
                .unwrap_or(text.len() - at)
        }
    }
}

/// The raw text of the member `key` of the JSON object `obj` (as written,
/// not re-serialized).
fn raw_member<'a>(obj: &'a str, key: &str) -> Option<&'a str> {
    let t = obj.as_bytes();
    let skip_ws = |mut i: usize| {
        while i < t.len() && t[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let mut i = skip_ws(0);
    assert_eq!(t[i], b'{', "not an object: {obj}");
    i = skip_ws(i + 1);
    while t[i] != b'}' {
        let kend = value_end(t, i);
        let k: String = serde_json::from_str(&obj[i..kend]).unwrap();
        i = skip_ws(kend);
        assert_eq!(t[i], b':');
        let vstart = skip_ws(i + 1);
        let vend = value_end(t, vstart);
        if k == key {
            return Some(&obj[vstart..vend]);
        }
        i = skip_ws(vend);
        if t[i] == b',' {
            i = skip_ws(i + 1);
        }
    }
    None
}

/// Whether JSON text has whitespace outside its strings.
fn whitespace_outside_strings(text: &str) -> Option<usize> {
    let mut in_str = false;
    let mut escaped = false;
    for (i, b) in text.bytes().enumerate() {
        if in_str {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_str = false;
            }
        } else if b == b'"' {
            in_str = true;
        } else if b.is_ascii_whitespace() {
            return Some(i);
        }
    }
    None
}

/// The raw `fields.value` of a QMP message line, checked compact.
fn compact_value<'a>(line: &'a str, what: &str) -> &'a str {
    let raw = raw_member(line, "fields")
        .and_then(|f| raw_member(f, "value"))
        .unwrap_or_else(|| panic!("{what}: no fields.value in {line}"));
    if let Some(at) = whitespace_outside_strings(raw) {
        panic!(
            "{what}: fields.value has whitespace outside strings at {at}: {}",
            &raw[..raw.len().min(300)]
        );
    }
    raw
}

#[test]
fn every_capture_exports_one_json_value_per_line() {
    let captures = all_captures();
    let names: Vec<String> = captures
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "qmp-pretty",
        "qapi-asdoc",
        "qmp-basic",
        "qm-1-fileops-qmclilib",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} not found in captures/"
        );
    }
    for pcap in &captures {
        let what = pcap.display().to_string();
        let jsonl = export_lines(pcap, "jsonl");
        assert_eq!(jsonl.last().unwrap().1["type"], "summary", "{what}");
        let ek = export_lines(pcap, "ek");
        let docs = ek_documents(&ek, &what);
        let msgs: Vec<&(String, Value)> = jsonl
            .iter()
            .filter(|(_, v)| v["type"] == "message")
            .collect();
        assert_eq!(
            docs.len(),
            msgs.len(),
            "{what}: one ek document per message"
        );
        for ((line, m), (dline, d)) in msgs.iter().zip(&docs) {
            assert_eq!(d["fields"], m["fields"], "{what}");
            if m["proto"] == "qmp" {
                compact_value(line, &what);
                compact_value(dline, &what);
            }
        }
    }
}

/// A tiny deterministic generator (xorshift64*), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// 1 to 4 whitespace bytes, at least one of them a newline, tab or CR.
    fn whitespace(&mut self) -> Vec<u8> {
        let mut ws = vec![[b'\n', b'\t', b'\r'][self.below(3)]];
        for _ in 0..self.below(4) {
            ws.push([b'\n', b'\t', b'\r', b' '][self.below(4)]);
        }
        let at = self.below(ws.len());
        ws.rotate_left(at);
        ws
    }
}

/// The JSON values of a stream of back-to-back values, each with its exact
/// text (whitespace between them dropped).
fn split_values(stream: &[u8]) -> Vec<(&[u8], Value)> {
    let mut out = Vec::new();
    let mut it = serde_json::Deserializer::from_slice(stream).into_iter::<Value>();
    let mut end = 0;
    while let Some(v) = it.next() {
        let v = v.unwrap();
        let start = end
            + stream[end..]
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap();
        end = it.byte_offset();
        out.push((&stream[start..end], v));
    }
    out
}

/// The tokens of one JSON value (`{ } [ ] : ,`, strings, numbers and
/// keywords), without the whitespace between them.
fn tokens(text: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < text.len() && text[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == text.len() {
            return out;
        }
        let end = match text[i] {
            b'{' | b'}' | b'[' | b']' | b':' | b',' => i + 1,
            _ => value_end(text, i),
        };
        out.push(&text[i..end]);
        i = end;
    }
}

/// `text` (one JSON value, as sent) with random whitespace between every
/// two tokens instead of its own.
fn relayout(text: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, t) in tokens(text).into_iter().enumerate() {
        if n > 0 {
            out.extend(rng.whitespace());
        }
        out.extend_from_slice(t);
    }
    out
}

struct Sent {
    dir: &'static str,
    /// Offset in its direction's stream.
    offset: usize,
    /// The message as sent, laid out with whitespace.
    bytes: Vec<u8>,
    /// Its tokens with nothing between them: number text, escapes and key
    /// order as the peer sent them.
    compact: String,
    value: Value,
}

/// Builds a capture of qmp-basic's real messages (both directions, the
/// server's up to each reply after each request) laid out with whitespace
/// between every token, between messages and before the first, written in
/// segments cut at random points, on a port that is no hint (the protocol
/// is found by content); returns what was sent and each direction's length.
fn whitespace_capture(path: &Path, seed: u64) -> (Vec<Sent>, [usize; 2]) {
    let mut rng = Rng(seed);
    let c2s = std::fs::read(bundled("qmp/qmp-basic.c2s.bin")).unwrap();
    let s2c = std::fs::read(bundled("qmp/qmp-basic.s2c.bin")).unwrap();
    let requests = split_values(&c2s);
    let mut replies = split_values(&s2c).into_iter();
    assert!(requests.len() > 10 && replies.len() > 10);

    let mut conv = Conv::new(40000 + (seed % 1000) as u16, 5555);
    let mut sent = Vec::new();
    let mut len = [0usize; 2];
    // One side's turn: its messages, each followed by whitespace, in
    // segments cut at random points.
    let mut turn = |dir: &'static str, msgs: Vec<(&[u8], Value)>, conv: &mut Conv| {
        let side = usize::from(dir == "s2c");
        let mut bytes = Vec::new();
        if len[side] == 0 {
            bytes.extend(rng.whitespace());
        }
        for (text, value) in msgs {
            let laid = relayout(text, &mut rng);
            sent.push(Sent {
                dir,
                offset: len[side] + bytes.len(),
                bytes: laid.clone(),
                compact: String::from_utf8(tokens(text).concat()).unwrap(),
                value,
            });
            bytes.extend(laid);
            bytes.extend(rng.whitespace());
        }
        len[side] += bytes.len();
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len().min(16384));
            if side == 0 {
                conv.c2s(&rest[..n]);
            } else {
                conv.s2c(&rest[..n]);
            }
            rest = &rest[n..];
        }
    };
    turn("s2c", vec![replies.next().unwrap()], &mut conv); // greeting
    for req in requests {
        turn("c2s", vec![req], &mut conv);
        // The server's messages up to and including the reply.
        let mut out = Vec::new();
        for (text, value) in replies.by_ref() {
            let done = value.get("return").is_some() || value.get("error").is_some();
            out.push((text, value));
            if done {
                break;
            }
        }
        turn("s2c", out, &mut conv);
    }
    turn("s2c", replies.collect(), &mut conv);
    conv.close();
    conv.write(path);
    (sent, len)
}

/// QMP with newlines, tabs and CRs between every token, both directions:
/// every jsonl and ek line is one JSON value; each message is found at its
/// bytes, its `fields.value` is the original value written compact (the
/// same value, and the same tokens with nothing between them), and
/// `field_ranges.value` covers the whole message.
#[test]
fn qmp_with_whitespace_between_every_token_exports_compact_values() {
    let dir = scratch("export_lines");
    for seed in [0x9e37_79b9_7f4a_7c15u64, 7, 0xdead_beef] {
        let path = dir.join(format!("whitespace-{seed:x}.pcap"));
        let (sent, len) = whitespace_capture(&path, seed);
        let what = path.display().to_string();

        let jsonl = export_lines(&path, "jsonl");
        let recs: Vec<Value> = jsonl.iter().map(|(_, v)| v.clone()).collect();
        let sessions = of_type(&recs, "session");
        assert_eq!(sessions.len(), 1, "{what}");
        assert_eq!(sessions[0]["proto"], "qmp", "{what}");
        let covered = assert_coverage(&recs);
        for (d, n) in [("c2s", len[0]), ("s2c", len[1])] {
            assert_eq!(
                covered[&("s1".to_string(), d.to_string())],
                n as u64,
                "{what} {d}"
            );
        }
        for u in of_type(&recs, "undecoded") {
            assert_eq!(u["severity"], "info", "{what}: {u}");
        }
        assert!(of_type(&recs, "gap").is_empty(), "{what}");

        let msgs: Vec<(String, Value)> = jsonl
            .into_iter()
            .filter(|(_, v)| v["type"] == "message")
            .collect();
        check_messages(&msgs, &sent, &format!("{what} jsonl"));
        let ek = export_lines(&path, "ek");
        check_messages(&ek_documents(&ek, &what), &sent, &format!("{what} ek"));
    }
}

/// The exported messages are what was sent: each at its offset, of its
/// length, with its value written compact and `field_ranges.value`
/// covering it.
fn check_messages(msgs: &[(String, Value)], sent: &[Sent], what: &str) {
    for d in ["c2s", "s2c"] {
        let want: Vec<&Sent> = sent.iter().filter(|s| s.dir == d).collect();
        let got: Vec<&(String, Value)> = msgs.iter().filter(|(_, m)| m["dir"] == d).collect();
        assert_eq!(got.len(), want.len(), "{what} {d}: message count");
        for (i, (s, (line, m))) in want.iter().zip(got).enumerate() {
            let at = format!("{what} {d} #{i}");
            assert_eq!(m["proto"], "qmp", "{at}");
            assert_eq!(m["offset"], s.offset as u64, "{at}: offset");
            assert_eq!(m["len"], s.bytes.len() as u64, "{at}: len");
            assert_eq!(m["fields"]["value"], s.value, "{at}: value");
            assert_eq!(
                m["field_ranges"]["value"],
                serde_json::json!([0, s.bytes.len()]),
                "{at}: field_ranges.value"
            );
            assert_eq!(
                compact_value(line, &at),
                s.compact,
                "{at}: value as written"
            );
        }
    }
}
