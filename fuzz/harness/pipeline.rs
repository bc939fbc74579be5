//! The whole pipeline: a capture file's bytes in
//! ([`FileSource::from_reader`] → [`analyze`]), every record written by the
//! real JSONL writer and by the text printer (verbose), then the output
//! judged:
//!
//! * JSONL: every line is one strict JSON object (RFC 8259 grammar, checked
//!   by [`super::json`], not by the writer's own code) with a `type`, no
//!   repeated top-level key, and the last line is the one `summary`;
//! * a session is announced once, before its other records, and
//!   `session_end` is its last record, counting its messages;
//! * message indexes grow within a session, and `reply_to` names an
//!   earlier message of the session;
//! * per session and direction, the message, undecoded and gap ranges tile
//!   the stream from offset 0, with no hole and no overlap (the export
//!   contract's coverage rule);
//! * the summary's message, session, gap and undecoded counts are those of
//!   the lines;
//! * the text output is UTF-8 with no control character but line feeds and
//!   none of the invisible or bidirectional characters the printer must
//!   escape: nothing from the wire reaches a terminal raw.
//!
//! The configuration depends on the input's length (modulo 3): the
//! default one, protocols forced on the well-known ports (each the wrong
//! one), or tiny buffers, timeouts and probe sizes. Each input is analysed
//! with one job, with two read as a stream (one reader thread, two
//! shards) and with two read as a file (each worker reads the file
//! itself: what `qscope` does with a capture file, here in shared blocks
//! of a few hundred bytes so that records straddle them): the outputs
//! must be the same bytes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Cursor;

use qscope::capture::FileSource;
use qscope::engine::{analyze, AnalyzeError, Config};
use qscope::record::{Sink, Tee};
use qscope::sink::json::JsonlWriter;
use qscope::sink::text::TextPrinter;
use qscope_dissectors::Proto;

use super::json;
use super::TempFile;

fn variant(n: usize) -> Config {
    match n % 3 {
        0 => Config::default(),
        1 => Config::default().with_decode_as(vec![
            (4444, Proto::Qm),
            (4243, Proto::Qmp),
            (7070, Proto::MqServer),
            (8889, Proto::Qps),
            (80, Proto::Unknown),
        ]),
        _ => {
            let mut c = Config::default();
            c.reassembly.max_buffered_per_stream = 200;
            c.reassembly.max_buffered_total = 300;
            c.reassembly.gap_timeout_us = 1000;
            c.reassembly.max_connections = 2;
            c.reassembly.idle_timeout_us = Some(10_000);
            c.probe_bytes = 16;
            c.max_pending_refs = 2;
            c
        }
    }
}

/// Runs one fuzz input: with one job, and with two through the
/// reader-thread engine (a stream) and through the workers that each read
/// the file; the outputs must be the same bytes.
pub fn run(data: &[u8]) {
    let cfg = |jobs| Config {
        jobs,
        ..variant(data.len())
    };
    let stream = |cfg| {
        FileSource::from_reader("fuzz.pcap", Box::new(Cursor::new(data.to_vec())))
            .ok()
            .map(|src| analyse(src, cfg))
    };
    let one = stream(cfg(1));
    let two = stream(cfg(2));
    let (Some((jsonl, text)), Some(two)) = (one, two) else {
        return;
    };
    assert!(jsonl == two.0, "-j 1 and -j 2 wrote different JSONL");
    assert!(text == two.1, "-j 1 and -j 2 wrote different text");
    let file = TempFile::new(data);
    // Blocks of a few hundred bytes, so that the workers share records
    // that straddle them.
    let block = 64 + data.len() % 449;
    let src = FileSource::open_in_blocks(&file.0, block)
        .expect("a capture read from a stream opens as a file");
    // Errors name the input: the file by its path, the stream "fuzz.pcap".
    let path = file.0.display().to_string();
    let named = |out: Vec<u8>| -> Vec<u8> {
        String::from_utf8_lossy(&out)
            .replace(&path, "fuzz.pcap")
            .into_bytes()
    };
    let (pj, pt) = analyse(src, cfg(2));
    let parallel = (named(pj), named(pt));
    assert!(
        jsonl == parallel.0,
        "-j 1 and -j 2 on a file wrote different JSONL"
    );
    assert!(
        text == parallel.1,
        "-j 1 and -j 2 on a file wrote different text"
    );
    check_jsonl(&jsonl);
    check_text(&text);
}

/// The JSONL and the text output of the analysis of `src`.
fn analyse(mut src: FileSource, cfg: Config) -> (Vec<u8>, Vec<u8>) {
    let mut jsonl_out = Vec::new();
    let mut text_out = Vec::new();
    let result = {
        let mut jsonl = JsonlWriter::new(&mut jsonl_out);
        let mut text = TextPrinter::new(&mut text_out, true);
        let sinks: Vec<&mut dyn Sink> = vec![&mut jsonl, &mut text];
        let mut tee = Tee(sinks);
        analyze(&mut src, cfg, &mut tee)
    };
    if let Err(AnalyzeError::Output(e)) = result {
        panic!("writing to memory failed: {e}");
    }
    (jsonl_out, text_out)
}

/// (session, dir) → the message, gap and undecoded ranges: (offset, len, type).
type Ranges = BTreeMap<(String, String), Vec<(u64, u64, String)>>;

#[derive(Default)]
struct SessionState {
    ended: bool,
    messages: u64,
    last_index: Option<u64>,
    indexes: HashSet<u64>,
}

fn get<'a>(m: &'a [(String, &'a str)], key: &str, line: &str) -> &'a str {
    m.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("no {key:?} in {line}"))
}

fn get_str(m: &[(String, &str)], key: &str, line: &str) -> String {
    json::as_str(get(m, key, line)).unwrap_or_else(|| panic!("{key:?} is not a string in {line}"))
}

fn get_u64(m: &[(String, &str)], key: &str, line: &str) -> u64 {
    json::as_u64(get(m, key, line))
        .unwrap_or_else(|| panic!("{key:?} is not an unsigned integer in {line}"))
}

fn check_jsonl(out: &[u8]) {
    let text = std::str::from_utf8(out).expect("JSONL output is UTF-8");
    assert!(
        text.ends_with('\n'),
        "JSONL output does not end with a newline"
    );
    let lines: Vec<&str> = text[..text.len() - 1].split('\n').collect();
    let mut sessions: HashMap<String, SessionState> = HashMap::new();
    let mut ranges: Ranges = BTreeMap::new();
    let (mut messages, mut gaps, mut gap_bytes, mut undecoded, mut undecoded_bytes) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    for (n, line) in lines.iter().enumerate() {
        let m = json::members(line)
            .unwrap_or_else(|e| panic!("line {} is not one JSON object ({e}): {line}", n + 1));
        let mut keys = HashSet::new();
        for (k, _) in &m {
            assert!(keys.insert(k.as_str()), "key {k:?} twice in {line}");
        }
        let ty = get_str(&m, "type", line);
        if ty == "summary" {
            assert_eq!(n + 1, lines.len(), "the summary is not the last line");
            let count = |outer: &str, inner: &str| {
                let o = json::members(get(&m, outer, line)).expect("object");
                get_u64(&o, inner, line)
            };
            assert_eq!(get_u64(&m, "messages", line), messages, "summary.messages");
            assert_eq!(
                get_u64(&m, "sessions", line),
                sessions.len() as u64,
                "summary.sessions"
            );
            assert_eq!(count("gaps", "count"), gaps, "summary.gaps.count");
            assert_eq!(count("gaps", "bytes"), gap_bytes, "summary.gaps.bytes");
            assert_eq!(
                count("undecoded", "ranges"),
                undecoded,
                "summary.undecoded.ranges"
            );
            assert_eq!(
                count("undecoded", "bytes"),
                undecoded_bytes,
                "summary.undecoded.bytes"
            );
            continue;
        }
        assert!(
            n + 1 < lines.len(),
            "the last line is not the summary: {line}"
        );
        if ty == "session" {
            let id = get_str(&m, "id", line);
            assert!(
                sessions
                    .insert(id.clone(), SessionState::default())
                    .is_none(),
                "session {id} announced twice"
            );
            continue;
        }
        let sid = get_str(&m, "session", line);
        let Some(st) = sessions.get_mut(&sid) else {
            panic!("record of session {sid} before its session record: {line}");
        };
        assert!(!st.ended, "record after session_end: {line}");
        match ty.as_str() {
            "message" | "gap" | "undecoded" => {
                let dir = get_str(&m, "dir", line);
                assert!(dir == "c2s" || dir == "s2c", "dir {dir}");
                let offset = get_u64(&m, "offset", line);
                let len = get_u64(&m, "len", line);
                ranges
                    .entry((sid.clone(), dir))
                    .or_default()
                    .push((offset, len, ty.clone()));
                match ty.as_str() {
                    "message" => {
                        messages += 1;
                        st.messages += 1;
                        let index = get_u64(&m, "index", line);
                        assert!(
                            st.last_index.is_none_or(|l| index > l),
                            "message index {index} after {:?}",
                            st.last_index
                        );
                        st.last_index = Some(index);
                        st.indexes.insert(index);
                        let reply_to = get(&m, "reply_to", line);
                        if reply_to != "null" {
                            let r = json::as_u64(reply_to).expect("reply_to is an index");
                            assert!(
                                r < index && st.indexes.contains(&r),
                                "reply_to {r} is not an earlier message of {sid}: {line}"
                            );
                        }
                    }
                    "gap" => {
                        gaps += 1;
                        gap_bytes += len;
                    }
                    _ => {
                        undecoded += 1;
                        undecoded_bytes += len;
                    }
                }
            }
            "session_end" => {
                st.ended = true;
                assert_eq!(
                    get_u64(&m, "messages", line),
                    st.messages,
                    "session_end.messages of {sid}"
                );
            }
            other => panic!("unknown record type {other:?}: {line}"),
        }
    }
    assert!(
        lines
            .last()
            .is_some_and(|l| l.contains("\"type\":\"summary\"")),
        "no summary line"
    );
    for (key, mut v) in ranges {
        v.sort();
        let mut next = 0;
        for (o, l, ty) in &v {
            assert_eq!(
                *o, next,
                "{key:?}: {ty} at {o} but the previous range ended at {next}"
            );
            assert!(*l > 0, "{key:?}: empty {ty} at {o}");
            next = o + l;
        }
    }
}

/// What the printer must never let through (as `text::escape` promises).
fn forbidden(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

fn check_text(out: &[u8]) {
    let text = std::str::from_utf8(out).expect("text output is UTF-8");
    if let Some((i, c)) = text.char_indices().find(|&(_, c)| forbidden(c)) {
        let from = text[..i].rfind('\n').map_or(0, |p| p + 1);
        panic!(
            "raw {c:?} in the text output: {:?}",
            &text[from..text[i..].find('\n').map_or(text.len(), |p| i + p)]
        );
    }
}
