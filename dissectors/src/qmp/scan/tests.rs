//! Tests of the scanner: items, errors, recovery, limits, resumption.

use super::*;

/// Runs the scanner over `data` fed in pieces of `chunk` bytes, like the
/// driver does (the front stays until an item is reported), and lists
/// the items.
pub(crate) fn items(client: bool, data: &[u8], chunk: usize) -> Vec<(usize, Scan)> {
    let mut sc = Scanner::new(client);
    let mut out = Vec::new();
    let mut front = 0;
    let mut avail = chunk.min(data.len());
    loop {
        let eos = avail == data.len();
        let buf = &data[front..avail];
        if buf.is_empty() {
            if eos {
                break;
            }
            avail = (avail + chunk).min(data.len());
            continue;
        }
        let s = sc.next(buf, eos);
        let len = match &s {
            Scan::NeedMore => {
                if eos {
                    out.push((front, Scan::NeedMore));
                    break;
                }
                avail = (avail + chunk).min(data.len());
                continue;
            }
            Scan::Whitespace(n) | Scan::Recovery(n) => *n,
            Scan::Value { len, .. }
            | Scan::LexError { len, .. }
            | Scan::Cut { len }
            | Scan::Limit { len, .. } => *len,
            Scan::Delimiter => 1,
        };
        assert!(len > 0 && len <= buf.len(), "{s:?} of {}", buf.len());
        out.push((front, s));
        front += len;
    }
    out
}

/// Items as (offset, short description) for readable assertions.
fn desc(client: bool, data: &[u8]) -> Vec<(usize, String)> {
    let all = items(client, data, data.len().max(1));
    // Splitting at every byte position gives the same result. Whitespace
    // and recovery runs may be reported in more pieces; merge them.
    for chunk in 1..data.len().max(1) {
        assert_eq!(
            merge(items(client, data, chunk)),
            merge(all.clone()),
            "chunk {chunk} of {:?}",
            String::from_utf8_lossy(data)
        );
    }
    all.into_iter()
        .map(|(o, s)| {
            let d = match s {
                Scan::NeedMore => "needmore".to_string(),
                Scan::Whitespace(n) => format!("ws{n}"),
                Scan::Value { len, crlf } => format!(
                    "value:{}{}",
                    String::from_utf8_lossy(&data[o..o + len]),
                    if crlf { "+crlf" } else { "" }
                ),
                Scan::LexError { len, tok_start } => format!(
                    "error:{}|{}",
                    String::from_utf8_lossy(&data[o..o + tok_start]),
                    String::from_utf8_lossy(&data[o + tok_start..o + len])
                ),
                Scan::Cut { len } => {
                    format!("cut:{}", String::from_utf8_lossy(&data[o..o + len]))
                }
                Scan::Recovery(n) => {
                    format!("recovery:{}", String::from_utf8_lossy(&data[o..o + n]))
                }
                Scan::Limit { len, what } => format!("limit{len}:{what}"),
                Scan::Delimiter => "delimiter".to_string(),
            };
            (o, d)
        })
        .collect()
}

fn merge(v: Vec<(usize, Scan)>) -> Vec<(usize, Scan)> {
    let mut out: Vec<(usize, Scan)> = Vec::new();
    for (o, s) in v {
        if let Some((_, last)) = out.last_mut() {
            match (last, &s) {
                (Scan::Whitespace(a), Scan::Whitespace(b))
                | (Scan::Recovery(a), Scan::Recovery(b)) => {
                    *a += b;
                    continue;
                }
                _ => {}
            }
        }
        out.push((o, s));
    }
    out
}

fn d(client: bool, data: &[u8]) -> Vec<String> {
    desc(client, data).into_iter().map(|(_, s)| s).collect()
}

#[test]
fn whitespace_and_objects() {
    assert_eq!(
        d(true, b" \t\r\n{\"a\":[1,{}]}{\"b\":2}\r\n"),
        vec!["ws4", "value:{\"a\":[1,{}]}", "value:{\"b\":2}", "ws2"]
    );
}

#[test]
fn brackets_inside_strings_are_ignored() {
    assert_eq!(
        d(true, br#"{"a":"}]{[\"\\","b":'}\''}"#),
        vec![r#"value:{"a":"}]{[\"\\","b":'}\''}"#]
    );
    // single quotes are not strings on the server side
    assert_eq!(
        d(false, br#"{'a'}"#),
        vec![r#"error:{|'"#, "recovery:a'", "value:}"]
    );
}

#[test]
fn top_level_scalars() {
    assert_eq!(
        d(true, br#""abc" 'x' [1] 42 true"#),
        vec![
            "value:\"abc\"",
            "ws1",
            "value:'x'",
            "ws1",
            "value:[1]",
            "ws1",
            "value:42",
            "ws1",
            "value:true"
        ]
    );
    // a number needs one byte of lookahead, except at the end of the stream
    let mut sc = Scanner::new(true);
    assert_eq!(sc.next(b"42", false), Scan::NeedMore);
    assert_eq!(
        sc.next(b"42", true),
        Scan::Value {
            len: 2,
            crlf: false
        }
    );
    assert_eq!(
        d(true, b"-0.5e+3,1e5}"),
        vec!["value:-0.5e+3", "value:,", "value:1e5", "value:}"]
    );
    assert_eq!(d(true, b"nul{}"), vec!["value:nul", "value:{}"]);
}

#[test]
fn stray_tokens_are_single_byte_values() {
    // QEMU answers each with "expecting value"; the parser rejects them.
    assert_eq!(
        d(true, b"}]:,"),
        vec!["value:}", "value:]", "value::", "value:,"]
    );
    // unbalanced closers end a value early
    assert_eq!(d(true, b"{]"), vec!["value:{]"]);
    // mismatched kinds keep QEMU's separate counters
    assert_eq!(d(true, b"{[}]"), vec!["value:{[}]"]);
}

#[test]
fn lexical_errors_and_recovery() {
    // The observed 6-error cascade of a control byte inside a string.
    assert_eq!(
        d(true, b"{\"execute\":\"query-st\x01atus\",\"id\":11}\n"),
        vec![
            "cut:{\"execute\":\"query-st",
            "error:|\x01",
            "recovery:atus\"",
            "value:,",
            "value:\"id\"",
            "value::",
            "value:11",
            "value:}",
            "ws1"
        ]
    );
    // Any other bad byte: the partial value and the token are one item.
    assert_eq!(
        d(true, b"{\"a\":True}"),
        vec!["error:{\"a\":|T", "recovery:rue", "value:}"]
    );
    assert_eq!(
        d(true, b"% {\"execute\":\"x\"}"),
        vec!["error:|%", "recovery: ", "value:{\"execute\":\"x\"}"]
    );
    // leading zero, lone minus, bad fraction: the offending byte is consumed
    assert_eq!(d(true, b"01 "), vec!["error:|01", "recovery: "]);
    assert_eq!(d(true, b"-x,"), vec!["error:|-x", "value:,"]);
    assert_eq!(d(true, b"1.}"), vec!["error:|1.}"]);
    assert_eq!(d(true, b"[1e]"), vec!["error:[|1e]"]);
    // upper-case letters, '+' outside a number, bytes >= 0x80
    assert_eq!(d(true, b"+1"), vec!["error:|+", "recovery:1"]);
    assert_eq!(d(true, b"Q{}"), vec!["error:|Q", "value:{}"]);
    assert_eq!(
        d(true, b"\xc3\xa9,"),
        vec!["error:|\u{FFFD}", "recovery:\u{FFFD}", "value:,"]
    );
    // '%' is ordinary inside a string, an error outside
    assert_eq!(d(true, b"[\"%d\"]%"), vec!["value:[\"%d\"]", "error:|%"]);
    // 0xFE at top level is a reset like 0xFF
    assert_eq!(d(true, b"\xfe{}"), vec!["error:|\u{FFFD}", "value:{}"]);
    // recovery ends at CR/LF (whitespace afterwards) but not at TAB
    assert_eq!(
        d(true, b"#a\tb\r\n{}"),
        vec!["error:|#", "recovery:a\tb", "ws2", "value:{}"]
    );
    // a raw control character inside a string
    assert_eq!(
        d(true, b"\"a\nb\"{}"),
        vec!["error:|\"a\n", "recovery:b\"", "value:{}"]
    );
}

#[test]
fn reset_bytes() {
    // client: 0xFF at top level is a one-byte error; recovery ends at '{'
    assert_eq!(
        d(true, b"\xff{\"execute\":\"guest-sync\"}\n"),
        vec![
            "error:|\u{FFFD}",
            "value:{\"execute\":\"guest-sync\"}",
            "ws1"
        ]
    );
    // a half-sent command before a reset byte is cut, then the reset
    assert_eq!(
        d(true, b"{\"execute\":\"query-status\"\x0c{}"),
        vec![
            "cut:{\"execute\":\"query-status\"",
            "error:|\x0c",
            "value:{}"
        ]
    );
    assert_eq!(d(true, b"\x0c\x0c"), vec!["error:|\x0c", "error:|\x0c"]);
    // server: 0xFF at top level is the QGA delimiter
    assert_eq!(
        d(false, b"\xff{\"return\": 1}\n"),
        vec!["delimiter", "value:{\"return\": 1}", "ws1"]
    );
    // 0xFE / 0xFF inside a string are errors too
    assert_eq!(
        d(true, b"\"ab\xfe{}"),
        vec!["cut:\"ab", "error:|\u{FFFD}", "value:{}"]
    );
}

#[test]
fn bom_is_one_error_then_the_command() {
    assert_eq!(
        d(true, b"\xEF\xBB\xBF{\"execute\":\"qmp_capabilities\"}"),
        vec![
            "error:|\u{FFFD}",
            "recovery:\u{FFFD}\u{FFFD}",
            "value:{\"execute\":\"qmp_capabilities\"}"
        ]
    );
}

#[test]
fn pretty_output_has_crlf_inside() {
    let s = b"{\r\n    \"return\": {\r\n    }\r\n}\r\n";
    assert_eq!(
        d(false, s),
        vec!["value:{\r\n    \"return\": {\r\n    }\r\n}+crlf", "ws2"]
    );
}

#[test]
fn escapes_may_be_split() {
    assert_eq!(
        d(true, br#"["\"\u0041\\", 'a\'b']"#),
        vec![r#"value:["\"\u0041\\", 'a\'b']"#]
    );
}

#[test]
fn nesting_limit_emulates_qemu() {
    // 1100 '[' then 1100 ']': one limit error at the 1025th '[', then a
    // balanced array of 75, then 1025 stray ']' (1027 replies in QEMU).
    let mut s = "[".repeat(1100).into_bytes();
    s.extend("]".repeat(1100).bytes());
    let it = items(true, &s, 4096);
    assert_eq!(
        it[0].1,
        Scan::Limit {
            len: 1025,
            what: "JSON nesting depth limit exceeded"
        }
    );
    assert_eq!(
        it[1],
        (
            1025,
            Scan::Value {
                len: 150,
                crlf: false
            }
        )
    );
    assert_eq!(it.len(), 2 + 1025);
    assert!(it[2..].iter().all(|(_, s)| *s
        == Scan::Value {
            len: 1,
            crlf: false
        }));
    // the server side has no limit
    let it = items(false, &s, 4096);
    assert_eq!(
        it,
        vec![(
            0,
            Scan::Value {
                len: 2200,
                crlf: false
            }
        )]
    );
}

#[test]
fn resumes_without_rescanning() {
    let mut sc = Scanner::new(false);
    let mut v = b"{\"return\": \"".to_vec();
    v.extend(std::iter::repeat_n(b'x', 1000));
    assert_eq!(sc.next(&v, false), Scan::NeedMore);
    assert_eq!(sc.scanned(), v.len());
    v.extend(b"\"}\r\n");
    assert_eq!(
        sc.next(&v, false),
        Scan::Value {
            len: v.len() - 2,
            crlf: false
        }
    );
}

#[test]
fn incomplete_at_end_of_stream() {
    assert_eq!(d(true, b"{\"a\":1"), vec!["needmore"]);
    assert_eq!(d(true, b"1."), vec!["needmore"]);
}
