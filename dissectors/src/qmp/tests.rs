//! Unit tests of the QMP dissector: whole conversations through the driver.

use super::json::Mat;
use super::pairing::MAX_PENDING;
use super::probe::{HMP_VERDICT, PROBE_WINDOW};
use super::reply::SERVER_KEYS;
use super::text::{one_line, token_text, SUMMARY_MAX};
use super::*;
use crate::driver::{run_schedule, Driver, Item, Limits};
use crate::{Kind, Message, Options, SessionStart, Value, Verdict};

const GREETING: &[u8] = b"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, \"package\": \"Debian 1:7.2+dfsg-7+deb12u18+b3\"}, \"capabilities\": [\"oob\"]}}\r\n";
const CAPS_OOB: &[u8] = b"{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[\"oob\"]}}";
const CAPS: &[u8] = b"{\"execute\":\"qmp_capabilities\"}";
const RET_EMPTY: &[u8] = b"{\"return\": {}}\r\n";

fn run_with(start: SessionStart, opts: Options, steps: &[(Dir, &[u8])]) -> Vec<Item> {
    let mut d = Driver::new(Box::new(Qmp::new(start, opts)), Limits::default());
    let mut items = Vec::new();
    let mut offs = [0u64; 2];
    for (dir, bytes) in steps {
        d.data(*dir, offs[dir.idx()], bytes, &mut |i| items.push(i));
        offs[dir.idx()] += bytes.len() as u64;
    }
    d.close(&mut |i| items.push(i));
    items
}

fn run(steps: &[(Dir, &[u8])]) -> Vec<Item> {
    run_with(SessionStart::default(), Options::default(), steps)
}

/// A negotiated QMP session (OOB enabled) followed by `steps`.
fn session(steps: &[(Dir, &[u8])]) -> Vec<Item> {
    let mut all: Vec<(Dir, &[u8])> = vec![
        (Dir::S2C, GREETING),
        (Dir::C2S, CAPS_OOB),
        (Dir::S2C, RET_EMPTY),
    ];
    all.extend_from_slice(steps);
    run(&all)
}

use crate::driver::messages as msgs;
use Dir::{C2S, S2C};

fn dir_msgs(items: &[Item], dir: Dir) -> Vec<&Message> {
    msgs(items).into_iter().filter(|m| m.dir == dir).collect()
}

fn value(m: &Message) -> &str {
    match m.field("value").map(|f| &f.value) {
        Some(Value::Json(t)) => t,
        other => panic!("no value: {other:?}"),
    }
}

fn has_note(m: &Message, text: &str) -> bool {
    m.notes.iter().any(|n| n.text.contains(text))
}

fn note_sev(m: &Message, text: &str) -> Option<Severity> {
    m.notes
        .iter()
        .find(|n| n.text.contains(text))
        .map(|n| n.severity)
}

fn session_notes(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::SessionNote(n) => Some(n.text.to_string()),
            _ => None,
        })
        .collect()
}

fn attrs(items: &[Item]) -> Vec<(&'static str, String)> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Attr(k, v) => Some((*k, v.clone())),
            _ => None,
        })
        .collect()
}

fn undecoded(items: &[Item], dir: Dir) -> Vec<(u64, u64, String, Severity)> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Undecoded {
                dir: d,
                offset,
                len,
                reason,
                severity,
            } if *d == dir && reason != "whitespace" => {
                Some((*offset, *len, reason.to_string(), *severity))
            }
            _ => None,
        })
        .collect()
}

/// The c2s offset of the request a response answers.
fn reply(m: &Message) -> Option<u64> {
    m.reply_to.map(|r| {
        assert_eq!(r.dir, C2S);
        r.offset
    })
}

/// Every byte covered exactly once per direction.
fn assert_covered(items: &[Item], lens: [u64; 2]) {
    let r = crate::driver::check_coverage(items, lens);
    assert!(r.is_ok(), "{r:?}");
}

// --- messages and fields --------------------------------------------------

#[test]
fn greeting_command_response_event_fields() {
    let items = session(&[
        (C2S, b"{\"execute\":\"query-version\",\"id\":\"__qmp#00000\"}"),
        (
            S2C,
            b"{\"return\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, \"package\": \"x\"}, \"id\": \"__qmp#00000\"}\r\n",
        ),
        (C2S, b"{\"execute\":\"stop\",\"id\":7}"),
        (S2C, b"{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\"}\r\n"),
        (S2C, b"{\"return\": {}, \"id\": 7}\r\n"),
    ]);
    let s = dir_msgs(&items, S2C);
    let g = s[0];
    assert_eq!((g.kind, g.name.as_str()), (Kind::Greeting, "greeting"));
    assert_eq!(g.len, GREETING.len() - 2);
    assert_eq!(value(g).as_bytes(), &GREETING[..GREETING.len() - 2]);
    assert_eq!(
        g.field("version").unwrap().value,
        Value::Str("7.2.22".into())
    );
    assert!(matches!(&g.field("capabilities").unwrap().value, Value::List(l) if l.len() == 1));
    assert!(
        g.summary.starts_with("QEMU 7.2.22 (Debian"),
        "{}",
        g.summary
    );

    let c = dir_msgs(&items, C2S);
    assert_eq!(c[1].name, "query-version");
    assert_eq!(c[1].kind, Kind::Request);
    let f = c[1].field("execute").unwrap();
    assert_eq!(f.value, Value::Str("query-version".into()));
    assert_eq!(f.range, Some(11..26));
    assert_eq!(
        c[1].field("id").unwrap().value,
        Value::Json("\"__qmp#00000\"".into())
    );
    assert_eq!(c[1].summary, "id=\"__qmp#00000\"");

    let r = s[2];
    assert_eq!((r.kind, r.name.as_str()), (Kind::Response, "query-version"));
    assert_eq!(reply(r), Some(c[1].offset));
    assert!(
        r.summary
            .starts_with("id=\"__qmp#00000\" {\"qemu\": {\"micro\": 22"),
        "{}",
        r.summary
    );
    assert!(r.summary.chars().count() <= SUMMARY_MAX + 3);
    let r_range = r.field("id").unwrap().range.clone().unwrap();
    assert_eq!(&value(r)[r_range], "\"__qmp#00000\"");

    let e = s[3];
    assert_eq!((e.kind, e.name.as_str()), (Kind::Event, "STOP"));
    assert_eq!(e.reply_to, None);
    assert_eq!(e.field("event").unwrap().value, Value::Str("STOP".into()));
    assert_eq!(s[4].name, "stop");
    assert_eq!(reply(s[4]), Some(c[2].offset));
    assert!(has_note(c[2], "notable operation: stop"));
    // a negotiated session on plain TCP
    assert!(session_notes(&items)
        .iter()
        .any(|n| n.contains("plain TCP")));
    assert!(msgs(&items)
        .iter()
        .all(|m| m.notes.iter().all(|n| n.severity == Severity::Info)));
}

#[test]
fn error_reply_fields_and_summary() {
    let items = session(&[
        (C2S, b"{\"execute\":\"no-such-command\",\"id\":\"x\"}"),
        (
            S2C,
            b"{\"id\": \"x\", \"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command no-such-command has not been found\"}}\r\n",
        ),
    ]);
    let r = dir_msgs(&items, S2C)[2];
    assert!(r.is_error);
    assert_eq!(r.name, "no-such-command");
    assert_eq!(
        r.field("class").unwrap().value,
        Value::Str("CommandNotFound".into())
    );
    assert_eq!(
        r.summary,
        "id=\"x\" CommandNotFound: The command no-such-command has not been found"
    );
}

#[test]
fn qemu_only_syntax_is_reserialised() {
    let items = session(&[
        (C2S, b"{'execute':'query-status','id':'it\\'s \"q\"'}\n"),
        (S2C, b"{\"return\": {}, \"id\": \"it's \\\"q\\\"\"}\r\n"),
        (C2S, b"{\"execute\":\"query-name\",\"id\":\"a\xC0\x80b\"}"),
        (S2C, b"{\"return\": {}, \"id\": \"a\\u0000b\"}\r\n"),
    ]);
    let c = dir_msgs(&items, C2S);
    assert_eq!(
        value(c[1]),
        r#"{"execute":"query-status","id":"it's \"q\""}"#
    );
    assert_eq!(note_sev(c[1], "QEMU-only syntax"), Some(Severity::Info));
    assert_eq!(
        c[1].field("id").unwrap().value,
        Value::Json(r#""it's \"q\"""#.into())
    );
    assert_eq!(value(c[2]), r#"{"execute":"query-name","id":"a\u0000b"}"#);
    let s = dir_msgs(&items, S2C);
    assert_eq!(reply(s[2]), Some(c[1].offset));
    assert_eq!(reply(s[3]), Some(c[2].offset));
}

#[test]
fn ids_match_by_json_value_not_bytes() {
    let items = session(&[
        (
            C2S,
            b"{\"execute\":\"query-status\",\"id\":[0.1, 1e300, -0.0, 1E2, 12345678901234567890123, -9223372036854775809, 3.0, 9223372036854775807, 18446744073709551615]}",
        ),
        (C2S, b"{\"execute\":\"query-name\",\"id\":{\"b\":\"\\u00e9\\/\",\"a\":-1.5e3}}"),
        (
            S2C,
            b"{\"return\": {}, \"id\": [0.10000000000000001, 1.0000000000000001e+300, -0, 100, 1.2345678901234568e+22, -9.2233720368547758e+18, 3, 9223372036854775807, 18446744073709551615]}\r\n",
        ),
        (S2C, b"{\"return\": {}, \"id\": {\"a\": -1500, \"b\": \"\\u00E9/\"}}\r\n"),
    ]);
    let c = dir_msgs(&items, C2S);
    let s = dir_msgs(&items, S2C);
    assert_eq!(reply(s[2]), Some(c[1].offset));
    assert_eq!(reply(s[3]), Some(c[2].offset));
    assert!(!has_note(s[2], "out of order"));
}

// --- pairing (section 4.3) ------------------------------------------------

#[test]
fn oob_reply_overtakes_in_band_without_a_flag() {
    let items = session(&[
        (
            C2S,
            b"{\"execute\":\"query-qmp-schema\",\"id\":\"ib-1\"}{\"exec-oob\":\"query-yank\",\"id\":\"oob-1\"}",
        ),
        (S2C, b"{\"return\": [], \"id\": \"oob-1\"}\r\n"),
        (S2C, b"{\"return\": [], \"id\": \"ib-1\"}\r\n"),
    ]);
    let c = dir_msgs(&items, C2S);
    let s = dir_msgs(&items, S2C);
    assert_eq!(
        c[2].field("exec-oob").unwrap().value,
        Value::Str("query-yank".into())
    );
    assert_eq!(
        (s[2].name.as_str(), reply(s[2])),
        ("query-yank", Some(c[2].offset))
    );
    assert_eq!(
        (s[3].name.as_str(), reply(s[3])),
        ("query-qmp-schema", Some(c[1].offset))
    );
    assert!(s.iter().all(|m| m.notes.is_empty()), "{s:?}");
    assert!(c
        .iter()
        .all(|m| m.notes.iter().all(|n| n.severity == Severity::Info)));
}

#[test]
fn in_band_reply_out_of_order_is_flagged() {
    let items = session(&[
        (
            C2S,
            b"{\"execute\":\"a\",\"id\":1}{\"execute\":\"b\",\"id\":2}",
        ),
        (S2C, b"{\"return\": {}, \"id\": 2}\r\n"),
        (S2C, b"{\"return\": {}, \"id\": 1}\r\n"),
    ]);
    let s = dir_msgs(&items, S2C);
    assert_eq!(note_sev(s[2], "out of order"), Some(Severity::Warn));
    assert!(!has_note(s[3], "out of order"));
}

#[test]
fn id_less_replies_are_fifo_and_exec_oob_matches_are_uncertain() {
    let items = session(&[
        (C2S, b"{\"execute\":\"query-status\"}\n{\"execute\":\"query-name\"}\n{\"exec-oob\":\"query-yank\"}\n"),
        (S2C, b"{\"return\": {\"status\": \"running\"}}\r\n"),
        (S2C, b"{\"return\": {}}\r\n"),
        (S2C, b"{\"return\": []}\r\n"),
        (S2C, b"{\"return\": []}\r\n"),
    ]);
    let c = dir_msgs(&items, C2S);
    let s = dir_msgs(&items, S2C);
    assert_eq!(reply(s[2]), Some(c[1].offset));
    assert_eq!(reply(s[3]), Some(c[2].offset));
    assert_eq!(reply(s[4]), Some(c[3].offset));
    assert_eq!(note_sev(s[4], "uncertain"), Some(Severity::Info));
    assert_eq!(note_sev(c[3], "exec-oob without id"), Some(Severity::Warn));
    // nothing left for the last one
    assert_eq!((reply(s[5]), s[5].name.as_str()), (None, "return"));
    assert_eq!(note_sev(s[5], "unmatched"), Some(Severity::Warn));
}

#[test]
fn duplicate_ids_take_the_oldest() {
    let items = session(&[
        (
            C2S,
            b"{\"execute\":\"a\",\"id\":1}{\"execute\":\"b\",\"id\":1}",
        ),
        (
            S2C,
            b"{\"return\": {}, \"id\": 1}\r\n{\"return\": {}, \"id\": 1}\r\n",
        ),
    ]);
    let c = dir_msgs(&items, C2S);
    let s = dir_msgs(&items, S2C);
    assert_eq!((s[2].name.as_str(), reply(s[2])), ("a", Some(c[1].offset)));
    assert_eq!((s[3].name.as_str(), reply(s[3])), ("b", Some(c[2].offset)));
}

#[test]
fn non_objects_and_parse_errors() {
    let items = session(&[
        (C2S, b"42 }[1]\n"),
        (S2C, b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input must be a JSON object\"}}\r\n"),
        (S2C, b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}\r\n"),
        (S2C, b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input must be a JSON object\"}}\r\n"),
    ]);
    let c = dir_msgs(&items, C2S);
    let s = dir_msgs(&items, S2C);
    let base = c[0].len as u64;
    // 42 and [1] are messages; '}' is malformed
    assert_eq!((c[1].name.as_str(), value(c[1])), ("non-object", "42"));
    assert_eq!(value(c[2]), "[1]");
    assert!(has_note(c[1], "must be a JSON object"));
    let u = undecoded(&items, C2S);
    assert_eq!(
        u,
        vec![(
            base + 3,
            1,
            "malformed JSON: expecting value".into(),
            Severity::Warn
        )]
    );
    assert_eq!(reply(s[2]), Some(c[1].offset));
    assert_eq!(s[3].reply_to, None);
    assert!(has_note(
        s[3],
        &format!("answers malformed input at offset {}", base + 3)
    ));
    assert_eq!(note_sev(s[3], "parse error reply"), Some(Severity::Warn));
    assert_eq!(reply(s[4]), Some(c[2].offset));
    assert!(session_notes(&items)
        .iter()
        .all(|n| !n.contains("unanswered")));
}

#[test]
fn error_cascade_of_a_control_byte_in_a_string() {
    // Observed: 6 error replies for one broken command.
    let pe = |d: &str| {
        format!("{{\"error\": {{\"class\": \"GenericError\", \"desc\": \"{d}\"}}}}\r\n")
            .into_bytes()
    };
    let r1 = pe("JSON parse error, stray '\\\"query-st\\u0001'");
    let r2 = pe("JSON parse error, expecting value");
    let r3 = pe("QMP input must be a JSON object");
    let client = b"{\"execute\":\"query-st\x01atus\",\"id\":11}\n";
    let items = session(&[
        (C2S, client),
        (S2C, &r1),
        (S2C, &r2),
        (S2C, &r3),
        (S2C, &r2),
        (S2C, &r3),
        (S2C, &r2),
        (C2S, b"{\"execute\":\"query-status\",\"id\":12}"),
        (S2C, b"{\"return\": {}, \"id\": 12}\r\n"),
    ]);
    let c = dir_msgs(&items, C2S);
    let s = dir_msgs(&items, S2C);
    // "id" and 11 are non-object items from malformed input
    assert_eq!(value(c[1]), "\"id\"");
    assert_eq!(value(c[2]), "11");
    assert!(has_note(c[1], "from malformed input") && has_note(c[2], "from malformed input"));
    assert_eq!(reply(s[4]), Some(c[1].offset));
    assert_eq!(reply(s[6]), Some(c[2].offset));
    for k in [2, 3, 5, 7] {
        assert_eq!(s[k].reply_to, None);
        assert!(
            has_note(s[k], "answers malformed input at offset"),
            "{:?}",
            s[k]
        );
    }
    assert_eq!(reply(s[8]), Some(c[3].offset));
    assert!(!has_note(c[3], "from malformed input"));
    let u = undecoded(&items, C2S);
    let base = CAPS_OOB.len() as u64;
    assert_eq!(u[0].0, base);
    assert!(u[0].2.contains("incomplete value"), "{u:?}");
    assert_eq!(u[1].2, "parser reset (control byte 0x01)");
    assert_eq!(u[2].2, "malformed input skipped by error recovery");
    assert!(s.iter().all(|m| !has_note(m, "unmatched")));
}

#[test]
fn from_malformed_items_are_closed_silently() {
    // Only one "must be a JSON object" arrives for two cascade scalars: the
    // older one is closed without a note when a later item is answered.
    let items = session(&[
        (C2S, b"#\"a\" \"b\" {\"execute\":\"x\"}"),
        (S2C, b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input must be a JSON object\"}}\r\n"),
        (S2C, b"{\"return\": {}}\r\n"),
    ]);
    let c = dir_msgs(&items, C2S);
    let s = dir_msgs(&items, S2C);
    // '#' is an error; recovery skips `"a" "b" ` up to '{'
    assert_eq!(c.len(), 2);
    assert_eq!(reply(s[3]), Some(c[1].offset));
    let items = session(&[
        (C2S, b"#\n\"a\"\n\"b\"\n{\"execute\":\"x\"}"),
        (S2C, b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input must be a JSON object\"}}\r\n"),
        (S2C, b"{\"return\": {}}\r\n"),
    ]);
    let c = dir_msgs(&items, C2S);
    let s = dir_msgs(&items, S2C);
    assert_eq!(c.len(), 4);
    assert_eq!(reply(s[2]), Some(c[1].offset));
    assert_eq!(reply(s[3]), Some(c[3].offset));
    // "b" was closed silently: not unanswered at close
    assert!(session_notes(&items)
        .iter()
        .all(|n| !n.contains("unanswered")));
}

#[test]
fn reset_byte_and_half_command() {
    let items = session(&[
        (C2S, b"{\"execute\":\"query-status\"\x0c"),
        (S2C, b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\f'\"}}\r\n"),
        (C2S, b"\xff"),
        (S2C, b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\uFFFD'\"}}\r\n"),
    ]);
    let u = undecoded(&items, C2S);
    let base = CAPS_OOB.len() as u64;
    assert_eq!(
        u[0],
        (
            base,
            25,
            "malformed JSON: incomplete value discarded by a parser reset".into(),
            Severity::Warn
        )
    );
    assert_eq!(
        u[1],
        (
            base + 25,
            1,
            "parser reset (control byte 0x0C)".into(),
            Severity::Info
        )
    );
    assert_eq!(
        u[2],
        (base + 26, 1, "parser reset (0xFF)".into(), Severity::Info)
    );
    let s = dir_msgs(&items, S2C);
    assert!(has_note(
        s[2],
        &format!("answers malformed input at offset {}", base + 25)
    ));
    assert!(has_note(
        s[3],
        &format!("answers malformed input at offset {}", base + 26)
    ));
    assert_eq!(note_sev(s[3], "parse error reply"), Some(Severity::Info));
    assert_eq!(
        s[3].summary,
        "GenericError: JSON parse error, stray '\\uFFFD'"
    );
}

#[test]
fn bom_is_malformed_then_the_command_runs() {
    let items = run(&[
        (S2C, GREETING),
        (C2S, b"\xEF\xBB\xBF{\"execute\":\"qmp_capabilities\"}"),
        (S2C, b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\uFFFD'\"}}\r\n"),
        (S2C, RET_EMPTY),
    ]);
    let u = undecoded(&items, C2S);
    assert!(u[0].2.contains("byte order mark"), "{u:?}");
    assert_eq!(u[1].2, "malformed input skipped by error recovery");
    let c = dir_msgs(&items, C2S);
    assert_eq!((c[0].offset, c[0].name.as_str()), (3, "qmp_capabilities"));
    let s = dir_msgs(&items, S2C);
    assert!(has_note(s[1], "answers malformed input at offset 0"));
    assert_eq!(reply(s[2]), Some(3));
}

#[test]
fn invalid_values_are_malformed_and_not_pending() {
    let items = session(&[
        (C2S, b"{\"execute\":\"query-status\",\"id\":nul}"),
        (C2S, b"{\"execute\":\"a\",\"id\":1,\"id\":2}"),
        (C2S, b"{\"execute\":\"\\ud800\"}"),
        (C2S, b"{\"execute\":\"\xED\xA0\x80\"}"),
        (C2S, b"{\"execute\":\"x\",\"id\":01}"),
    ]);
    let reasons: Vec<String> = undecoded(&items, C2S).into_iter().map(|u| u.2).collect();
    assert_eq!(reasons[0], "malformed JSON: invalid keyword 'nul'");
    assert_eq!(reasons[1], "malformed JSON: duplicate key");
    assert_eq!(
        reasons[2],
        "malformed JSON: \\ud800 is not a valid Unicode character"
    );
    assert_eq!(
        reasons[3],
        "malformed JSON: invalid UTF-8 sequence in string"
    );
    assert!(
        reasons[4].starts_with("malformed JSON: stray '01'"),
        "{reasons:?}"
    );
    assert_eq!(dir_msgs(&items, C2S).len(), 1);
    assert!(session_notes(&items)
        .iter()
        .all(|n| !n.contains("unanswered")));
}

// --- negotiation and notes ------------------------------------------------

#[test]
fn negotiation_and_oob_state() {
    // Without enable: exec-oob is flagged.
    let items = run(&[
        (S2C, GREETING),
        (C2S, b"{\"execute\":\"query-status\"}"),
        (S2C, b"{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"Expecting capabilities negotiation with 'qmp_capabilities'\"}}\r\n"),
        (C2S, CAPS),
        (S2C, RET_EMPTY),
        (C2S, b"{\"exec-oob\":\"yank\",\"id\":\"o\"}"),
        (S2C, b"{\"id\": \"o\", \"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input member 'exec-oob' is unexpected\"}}\r\n"),
        (C2S, CAPS),
        (S2C, b"{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"Capabilities negotiation is already complete, command ignored\"}}\r\n"),
    ]);
    let c = dir_msgs(&items, C2S);
    let s = dir_msgs(&items, S2C);
    assert_eq!(
        note_sev(c[0], "before capabilities negotiation"),
        Some(Severity::Warn)
    );
    assert_eq!(
        note_sev(s[1], "before capabilities negotiation"),
        Some(Severity::Warn)
    );
    assert_eq!(
        note_sev(c[2], "exec-oob without OOB enabled"),
        Some(Severity::Warn)
    );
    assert_eq!(note_sev(s[3], "request rejected"), Some(Severity::Warn));
    assert_eq!(
        note_sev(c[3], "second qmp_capabilities"),
        Some(Severity::Info)
    );
    assert_eq!(
        note_sev(s[4], "second qmp_capabilities"),
        Some(Severity::Info)
    );
    assert_eq!(reply(s[4]), Some(c[3].offset));
    // 2.12's control.run-oob counts as exec-oob
    let items = session(&[
        (C2S, b"{\"execute\":\"a\",\"id\":1}{\"execute\":\"b\",\"control\":{\"run-oob\":true},\"id\":2}"),
        (S2C, b"{\"return\": {}, \"id\": 2}\r\n{\"return\": {}, \"id\": 1}\r\n"),
    ]);
    let s = dir_msgs(&items, S2C);
    assert!(!has_note(s[2], "out of order"));
    assert!(!has_note(dir_msgs(&items, C2S)[2], "unexpected"));
}

#[test]
fn request_shape_predictions() {
    let items = session(&[
        (C2S, b"{\"id\":1}{\"execute\":5}{\"execute\":\"x\",\"arguments\":[]}{\"execute\":\"x\",\"foo\":1}"),
    ]);
    let c = dir_msgs(&items, C2S);
    assert!(has_note(c[1], "lacks member 'execute'"));
    assert_eq!(c[1].name, "(no execute)");
    assert!(has_note(c[2], "'execute' must be a string"));
    assert!(has_note(c[3], "'arguments' must be an object"));
    assert!(has_note(c[4], "member 'foo' is unexpected"));
}

#[test]
fn secrets_are_redacted_unless_asked() {
    let cmd: &[u8] = b"{\"execute\":\"guest-set-user-password\",\"arguments\":{\"username\":\"root\",\"password\":\"c2VjcmV0\",\"crypted\":false}}";
    let items = run(&[(C2S, cmd)]);
    let c = dir_msgs(&items, C2S)[0];
    assert!(
        !value(c).contains("c2VjcmV0") && value(c).contains("<redacted>"),
        "{}",
        value(c)
    );
    assert!(!c.summary.contains("c2VjcmV0"), "{}", c.summary);
    assert_eq!(note_sev(c, "clear-text credential"), Some(Severity::Warn));
    assert!(has_note(c, "redacted"));
    assert!(has_note(c, "notable operation"));
    let v: Vec<u8> = value(c).bytes().collect();
    assert!(json::parse(&v, Mat::All).unwrap().strict);
    // kept with show_secrets
    let items = run_with(
        SessionStart::default(),
        Options { show_secrets: true, ..Options::default() },
        &[(C2S, cmd)],
    );
    let c = dir_msgs(&items, C2S)[0];
    assert_eq!(value(c).as_bytes(), cmd);
    assert!(has_note(c, "clear-text credential") && !has_note(c, "redacted"));
    // object-add of a secret
    let items = session(&[(
        C2S,
        b"{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":\"secret\",\"id\":\"s0\",\"data\":\"letmein\"}}",
    )]);
    let c = dir_msgs(&items, C2S)[1];
    assert!(!value(c).contains("letmein"));
    assert!(has_note(c, "(data)"));
}

/// The bytes of message `m` (whose text is `text`) its secret ranges cover.
fn masked<'a>(text: &'a [u8], m: &Message) -> Vec<&'a [u8]> {
    m.secrets.iter().map(|r| &text[r.clone()]).collect()
}

#[test]
fn secret_arguments_are_marked_exactly_shown_or_not() {
    let cases: &[(&[u8], &[&[u8]])] = &[
        (
            b"{ \"execute\": \"set_password\", \"arguments\": { \"protocol\": \"vnc\",\n    \"password\": \"secret\" } }",
            &[b"secret"],
        ),
        // QEMU's single quotes, and escapes as written on the wire.
        (
            b"{'execute':'guest-set-user-password','arguments':{'username':'root','password':'c2Vj\\u0063\\n','crypted':false}}",
            &[b"c2Vj\\u0063\\n"],
        ),
        (
            b"{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":\"secret\",\"id\":\"s0\",\"data\":\"letmein\"}}",
            &[b"letmein"],
        ),
        (
            b"{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":\"secret\",\"id\":\"s1\",\"props\":{\"data\":\"\",\"format\":\"raw\"},\"password\":\"pw\"}}",
            &[b"pw"],
        ),
        // Not secrets: a non-secret object's data, a password that is not a string.
        (
            b"{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":\"memory-backend-ram\",\"id\":\"m\",\"data\":\"x\"}}",
            &[],
        ),
        (
            b"{\"execute\":\"set_password\",\"arguments\":{\"protocol\":\"vnc\",\"password\":1}}",
            &[],
        ),
    ];
    for (cmd, want) in cases {
        for show in [false, true] {
            let items = run_with(
                SessionStart::default(),
                Options { show_secrets: show, ..Options::default() },
                &[(S2C, GREETING), (C2S, CAPS), (S2C, RET_EMPTY), (C2S, cmd)],
            );
            let c = dir_msgs(&items, C2S);
            assert_eq!(c.len(), 2, "{items:?}");
            assert!(c[0].secrets.is_empty());
            assert_eq!(
                masked(cmd, c[1]),
                want.to_vec(),
                "{} show {show}",
                String::from_utf8_lossy(cmd)
            );
        }
    }
}

#[test]
fn human_monitor_command_shows_the_command_line() {
    let items = session(&[(
        C2S,
        b"{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":\"info\\tstatus\"}}",
    )]);
    let c = dir_msgs(&items, C2S)[1];
    assert!(
        has_note(c, "HMP command line (any monitor command): info\\tstatus"),
        "{:?}",
        c.notes
    );
}

#[test]
fn unanswered_requests_at_close() {
    let items = session(&[(C2S, b"{\"execute\":\"quit\",\"id\":1}")]);
    let notes = session_notes(&items);
    assert!(
        notes
            .iter()
            .any(|n| n.contains("'quit'") && n.contains("unanswered at close")),
        "{notes:?}"
    );
}

#[test]
fn unknown_server_objects_and_second_greeting() {
    let items = session(&[
        (S2C, b"{\"return\": {}, \"error\": {}}\r\n{\"foo\": 1}\r\n"),
        (S2C, GREETING),
        (S2C, b"[1]\r\n"),
    ]);
    let s = dir_msgs(&items, S2C);
    assert_eq!((s[2].kind, s[2].name.as_str()), (Kind::Other, "unknown"));
    assert_eq!(
        note_sev(s[2], "unknown server message"),
        Some(Severity::Warn)
    );
    assert_eq!(s[3].kind, Kind::Other);
    assert_eq!(note_sev(s[4], "second greeting"), Some(Severity::Warn));
    assert_eq!(s[5].name, "non-object");
    // none of them consumed anything or broke the session
    assert_eq!(s.len(), 6);
}

#[test]
fn old_greeting_without_oob() {
    let items = run(&[(
        S2C,
        b"{\"QMP\": {\"version\": {\"qemu\": \"0.12.50\", \"package\": \"\"}, \"capabilities\": []}}\r\n",
    )]);
    let g = dir_msgs(&items, S2C)[0];
    assert_eq!(
        g.field("version").unwrap().value,
        Value::Str("0.12.50".into())
    );
    assert!(has_note(g, "old-version greeting"));
    assert!(has_note(g, "without the oob capability"));
}

#[test]
fn pretty_mode_is_an_attribute_and_values_stay_exact() {
    let pretty_greeting = b"{\r\n    \"QMP\": {\r\n        \"version\": {\r\n            \"qemu\": {\r\n                \"micro\": 22,\r\n                \"minor\": 2,\r\n                \"major\": 7\r\n            },\r\n            \"package\": \"\"\r\n        },\r\n        \"capabilities\": [\r\n            \"oob\"\r\n        ]\r\n    }\r\n}\r\n";
    let pretty_ret = b"{\r\n    \"return\": {\r\n    }\r\n}\r\n";
    // Pretty output arrives line by line; an event and a return may share a segment.
    let mut steps: Vec<(Dir, &[u8])> = pretty_greeting
        .split_inclusive(|&b| b == b'\n')
        .map(|l| (S2C, l))
        .collect();
    steps.push((C2S, CAPS));
    steps.push((S2C, pretty_ret));
    let items = run(&steps);
    assert!(attrs(&items).contains(&("mode", "pretty".into())));
    let s = dir_msgs(&items, S2C);
    assert_eq!(
        value(s[0]).as_bytes(),
        &pretty_greeting[..pretty_greeting.len() - 2]
    );
    assert_eq!(
        s[0].field("version").unwrap().value,
        Value::Str("7.2.22".into())
    );
    assert_eq!(s[1].summary, "{}");
    assert_eq!(reply(s[1]), Some(0));
    assert!(!attrs(&items).iter().any(|(k, _)| *k == "variant"));
}

// --- QGA (section 6) ------------------------------------------------------

#[test]
fn qga_sync_delimiter_and_stale_output() {
    let items = run(&[
        (C2S, b"\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":5}}\n"),
        (S2C, b"{\"return\": {}}\n"),
        (S2C, b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\uFFFD'\"}}\n"),
        (S2C, b"\xff{\"return\": 5}\n"),
        (C2S, b"{\"execute\": \"guest-ping\"}\n"),
        (S2C, b"{\"return\": {}}\n"),
    ]);
    assert!(attrs(&items).contains(&("variant", "qga".into())));
    let u = undecoded(&items, S2C);
    assert_eq!(
        u,
        vec![(96, 1, "QGA sync delimiter".into(), Severity::Info)]
    );
    let c = dir_msgs(&items, C2S);
    let s = dir_msgs(&items, S2C);
    assert_eq!(s[0].reply_to, None);
    assert_eq!(note_sev(s[0], "possibly stale"), Some(Severity::Info));
    assert_eq!(note_sev(s[1], "parse error reply"), Some(Severity::Info));
    assert!(has_note(s[1], "answers malformed input at offset 0"));
    assert_eq!(
        (s[2].name.as_str(), reply(s[2])),
        ("guest-sync-delimited", Some(1))
    );
    assert_eq!(reply(s[3]), Some(c[1].offset));
    assert!(session_notes(&items)
        .iter()
        .all(|n| !n.contains("unanswered")));
    // no negotiation expected in QGA
    assert!(msgs(&items).iter().all(|m| !has_note(m, "negotiation")));
}

#[test]
fn qga_guest_sync_with_wrong_id_is_stale() {
    let items = run(&[
        (
            C2S,
            b"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":42}}\n",
        ),
        (S2C, b"{\"return\": 41}\n"),
        (S2C, b"{\"return\": 42}\n"),
    ]);
    let s = dir_msgs(&items, S2C);
    assert_eq!(s[0].reply_to, None);
    assert!(has_note(s[0], "stale"));
    assert_eq!(reply(s[1]), Some(0));
}

#[test]
fn qga_detected_from_lf_only_line_ends() {
    let items = run(&[
        (C2S, b"{\"execute\":\"ping\"}"),
        (S2C, b"{\"return\": {}}\n"),
    ]);
    assert!(attrs(&items).contains(&("variant", "qga".into())));
}

// --- HMP and telnet (section 7) -------------------------------------------

#[test]
fn hmp_is_recognised_and_not_parsed() {
    let banner: &[u8] = b"QEMU 7.2.22 monitor - type 'help' for more information\r\n(qemu) ";
    let items = run(&[
        (C2S, b"info version\r\n"),
        (S2C, banner),
        (S2C, b"i\x1b[K\x1b[Din\x1b[K"),
        (C2S, b"{\"execute\":\"qmp_capabilities\"}\r\n"),
    ]);
    assert!(msgs(&items).is_empty());
    for d in [C2S, S2C] {
        assert!(undecoded(&items, d)
            .iter()
            .all(|u| u.2 == HMP_REASON && u.3 == Severity::Info));
    }
    assert!(session_notes(&items).iter().any(|n| n.contains("HMP")));
    assert_covered(&items, [14 + 32, banner.len() as u64 + 12]);
    // with a telnet chardev
    let items = run(&[
        (S2C, b"\xff\xfb\x01\xff\xfb\x03\xff\xfb\x00\xff\xfd\x00"),
        (C2S, b"\xff\xfd\x01\xff\xfd\x03"),
        (S2C, banner),
    ]);
    assert!(msgs(&items).is_empty());
    let u = undecoded(&items, S2C);
    assert_eq!(u.iter().filter(|u| u.2 == "telnet negotiation").count(), 4);
    assert_eq!(u.last().unwrap().2, HMP_REASON);
    let notes = session_notes(&items);
    assert!(notes.iter().any(|n| n.contains("telnet")) && notes.iter().any(|n| n.contains("HMP")));
}

#[test]
fn qmp_over_telnet_chardev() {
    let items = run(&[
        (S2C, b"\xff\xfb\x01\xff\xfb\x03\xff\xfb\x00\xff\xfd\x00"),
        (S2C, GREETING),
        (C2S, b"\xff\xfd\x01"),
        (C2S, CAPS),
        (S2C, RET_EMPTY),
    ]);
    let s = dir_msgs(&items, S2C);
    assert_eq!(s[0].kind, Kind::Greeting);
    assert_eq!(reply(s[1]), Some(3));
    assert_eq!(
        undecoded(&items, C2S),
        vec![(0, 3, "telnet negotiation".into(), Severity::Info)]
    );
}

// --- mid-stream, gaps, limits ---------------------------------------------

#[test]
fn mid_stream_start_finds_message_boundaries() {
    let s2c: &[u8] = b"e\", \"default\": 1}]}\r\n    {\"x\": 1}\r\n{\"return\": {}, \"id\": 3}\r\n{\"return\": {}, \"id\": 9}\r\n";
    let c2s1: &[u8] = b"ery-status\"}{\"bogus\":{\"execute\":1}}";
    let c2s2: &[u8] = b"{\"execute\":\"x\",\"id\":3}";
    let items = run_with(
        SessionStart { mid_stream: true },
        Options::default(),
        &[(C2S, c2s1), (C2S, c2s2), (S2C, s2c)],
    );
    let c = dir_msgs(&items, C2S);
    let s = dir_msgs(&items, S2C);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].offset, c2s1.len() as u64);
    assert_eq!(s.len(), 2);
    assert_eq!(reply(s[0]), Some(c[0].offset));
    assert_eq!(note_sev(s[1], "unmatched"), Some(Severity::Info));
    let partial = "partial message (capture started mid-stream)";
    // partial bytes may be reported in several pieces; all before the start point
    for (d, upto) in [(C2S, c2s1.len() as u64), (S2C, 35)] {
        let u = undecoded(&items, d);
        assert!(
            u.iter().all(|u| u.2 == partial && u.3 == Severity::Info),
            "{u:?}"
        );
        assert_eq!(u.iter().map(|u| u.1).sum::<u64>(), upto);
    }
    assert_covered(&items, [(c2s1.len() + c2s2.len()) as u64, s2c.len() as u64]);
    // an exact start is kept
    let items = run_with(
        SessionStart { mid_stream: true },
        Options::default(),
        &[(S2C, RET_EMPTY)],
    );
    assert_eq!(dir_msgs(&items, S2C)[0].offset, 0);
}

#[test]
fn mid_stream_start_byte_by_byte() {
    let s2c: &[u8] = b"\"meta-type\": \"x\"}], \"id\": \"ib-1\"}\r\n{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\"}\r\n\xff{\"return\": 7}\n";
    for chunk in 1..8 {
        let dis = Box::new(Qmp::new(
            SessionStart { mid_stream: true },
            Options::default(),
        ));
        let items = run_schedule(dis, &[(S2C, s2c)], chunk);
        let s = dir_msgs(&items, S2C);
        assert_eq!(s.len(), 2, "chunk {chunk}");
        assert_eq!(s[0].name, "STOP");
        assert_eq!(value(s[1]), "{\"return\": 7}");
    }
}

#[test]
fn gap_resynchronises_the_direction() {
    let mut d = Driver::new(
        Box::new(Qmp::new(SessionStart::default(), Options::default())),
        Limits::default(),
    );
    let mut items = Vec::new();
    let mut out = |i| items.push(i);
    d.data(S2C, 0, GREETING, &mut out);
    d.data(C2S, 0, b"{\"execute\":\"q\",\"id\":1}", &mut out);
    let g = GREETING.len() as u64;
    d.data(S2C, g, b"{\"return\": {\"a\": \"x", &mut out);
    // 100 bytes lost
    d.data(
        S2C,
        g + 19 + 100,
        b"yz\"}, \"id\": 1}\r\n{\"return\": {}, \"id\": 2}\r\n",
        &mut out,
    );
    d.data(C2S, 22, b"{\"execute\":\"r\",\"id\":2}", &mut out);
    d.close(&mut out);
    let s = dir_msgs(&items, S2C);
    assert_eq!(s.len(), 2);
    assert_eq!(s[1].name, "return"); // the request came after: unmatched, at info level
    assert_eq!(note_sev(s[1], "unmatched"), Some(Severity::Info));
    let u = undecoded(&items, S2C);
    assert!(u.iter().any(|u| u.2.contains("cut by a gap")));
    assert!(u
        .iter()
        .any(|u| u.2 == "partial message (after a gap in the capture)"));
}

#[test]
fn oversized_value_is_skipped_and_the_scanner_stays_in_step() {
    let mut big = b"{\"return\": [\"".to_vec();
    big.extend(std::iter::repeat_n(b'}', 300));
    big.extend(b"\", {\"a\": \"]]]\"}]}\r\n{\"return\": {}}\r\n");
    let mut d = Driver::new(
        Box::new(Qmp::new(SessionStart::default(), Options::default())),
        Limits { max_message: 64 },
    );
    let mut items = Vec::new();
    for (k, piece) in big.chunks(16).enumerate() {
        d.data(S2C, (k * 16) as u64, piece, &mut |i| items.push(i));
    }
    d.close(&mut |i| items.push(i));
    let s = dir_msgs(&items, S2C);
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(value(s[0]), "{\"return\": {}}");
    assert_covered(&items, [0, big.len() as u64]);
}

#[test]
fn top_level_scalar_completes_at_end_of_stream() {
    let items = session(&[(C2S, b"true")]);
    let c = dir_msgs(&items, C2S);
    assert_eq!(value(c[1]), "true");
    let items = session(&[(C2S, b"12")]);
    assert_eq!(value(dir_msgs(&items, C2S)[1]), "12");
}

#[test]
fn chunking_does_not_change_the_result() {
    let c2s: &[u8] = b"\xff{'execute':'guest-sync','arguments':{'id':1}}\n{\"execute\":\"query-st\x01atus\",\"id\":11}\n42 {\"execute\":\"x\",\"id\":[1,\"\\u00e9\"]}";
    let s2c: &[u8] = b"{\"return\": 1}\n{\"return\": {}, \"id\": [1, \"\\u00E9\"]}\n";
    let reference = run_schedule(
        Box::new(Qmp::new(SessionStart::default(), Options::default())),
        &[(C2S, c2s), (S2C, s2c)],
        usize::MAX,
    );
    let key = |items: &[Item]| -> Vec<String> {
        msgs(items)
            .iter()
            .map(|m| {
                format!(
                    "{:?}{}{}{:?}{:?}",
                    m.dir,
                    m.offset,
                    value(m),
                    m.reply_to,
                    m.notes
                )
            })
            .collect()
    };
    for chunk in 1..c2s.len() {
        let items = run_schedule(
            Box::new(Qmp::new(SessionStart::default(), Options::default())),
            &[(C2S, c2s), (S2C, s2c)],
            chunk,
        );
        assert_eq!(key(&items), key(&reference), "chunk {chunk}");
        assert_covered(&items, [c2s.len() as u64, s2c.len() as u64]);
    }
}

#[test]
fn never_panics_on_arbitrary_bytes() {
    // A deterministic pseudo-random walk over bytes that matter to the lexer.
    let alphabet =
        b"{}[]:,\"'\\ \t\r\nuaenltr0123456789-+.eE%#\x00\x0c\xff\xfe\xc0\x80\xed\xa0QEMU ";
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for round in 0..200 {
        let mut c = Vec::new();
        let mut s = Vec::new();
        for _ in 0..200 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = alphabet[(x % alphabet.len() as u64) as usize];
            if x & 0x100 == 0 {
                c.push(b);
            } else {
                s.push(b);
            }
        }
        for mid in [false, true] {
            let items = run_schedule(
                Box::new(Qmp::new(
                    SessionStart { mid_stream: mid },
                    Options::default(),
                )),
                &[(C2S, &c), (S2C, &s)],
                1 + round % 7,
            );
            assert_covered(&items, [c.len() as u64, s.len() as u64]);
            for m in msgs(&items) {
                let v: Vec<u8> = value(m).bytes().collect();
                assert!(
                    json::parse(&v, Mat::All).is_ok_and(|p| p.strict),
                    "{}",
                    value(m)
                );
                assert!(!m.summary.chars().any(char::is_control));
            }
        }
    }
}

// --- probe (sections 7.2 and 8) -------------------------------------------

#[test]
fn probe_rules() {
    let start = SessionStart::default();
    let mid = SessionStart { mid_stream: true };
    let m = Verdict::Match { swap: false };
    let sw = Verdict::Match { swap: true };
    // greeting, compact and pretty
    assert_eq!(probe(b"", GREETING, start), m);
    assert_eq!(probe(b"", b"{\r\n    \"QMP\": {", start), m);
    assert_eq!(probe(b"", b"{\"QM", start), Verdict::NeedMore);
    assert_eq!(probe(GREETING, b"", start), sw);
    assert_eq!(probe(GREETING, CAPS, start), sw);
    // telnet before the greeting
    assert_eq!(probe(b"", b"\xff\xfb\x01\xff\xfb\x03{\"QMP\": {", start), m);
    // QGA
    assert_eq!(
        probe(b"\xff{\"execute\":\"guest-sync-delimited\"", b"", start),
        m
    );
    assert_eq!(probe(b"{\"execute\": \"guest-ping\"}\n", b"", start), m);
    assert_eq!(probe(b"\xff{", b"", start), m);
    assert_eq!(
        probe(b"{\"execute\":\"x\"}", b"\xff{\"return\": 1}\n", start),
        m
    );
    assert_eq!(
        probe(b"{\"execute\":\"x\"}", b"{\"return\": {}}\n", start),
        m
    );
    assert_eq!(
        probe(
            b"{\"return\": 1}\n",
            b"{\"execute\": \"guest-info\"}",
            start
        ),
        sw
    );
    // undecided while the server is silent
    assert_eq!(
        probe(b"{\"execute\":\"qmp_capabilities\"}", b"", start),
        Verdict::NeedMore
    );
    assert_eq!(probe(b"info version\r\n", b"", start), Verdict::NeedMore);
    assert_eq!(probe(b"", b"", start), Verdict::NeedMore);
    // HMP
    let hmp = Verdict::NoMatch(Some(HMP_VERDICT));
    assert_eq!(probe(b"", b"QEMU 7.2.22 monitor - type 'help'", start), hmp);
    assert_eq!(
        probe(
            b"",
            b"\xff\xfb\x01\xff\xfb\x03\xff\xfb\x00\xff\xfd\x00QEMU 7.2",
            start
        ),
        hmp
    );
    assert_eq!(probe(b"info status\r\n", b"(qemu) ", start), hmp);
    assert_eq!(probe(b"", b"QEM", start), Verdict::NeedMore);
    // other protocols
    assert_eq!(
        probe(b"", b"SSH-2.0-OpenSSH_9.2\r\n", start),
        Verdict::NoMatch(None)
    );
    assert_eq!(
        probe(b"GET / HTTP/1.1\r\n", b"HTTP/1.1 200 OK\r\n", start),
        Verdict::NoMatch(None)
    );
    assert_eq!(
        probe(b"\x16\x03\x01\x02\x00", b"", start),
        Verdict::NoMatch(None)
    );
    assert_eq!(
        probe(b"\x00\x00\x00\x18", b"\x06", start),
        Verdict::NoMatch(None)
    );
    assert_eq!(
        probe(b"", b"{\"jsonrpc\": \"2.0\"}", start),
        Verdict::NoMatch(None)
    );
    // mid-stream: response lines after a partial one, or a later command
    assert_eq!(
        probe(
            b"",
            b"e\", \"default\": 1}]}\r\n{\"return\": {}, \"id\": 2}\r\n",
            mid
        ),
        m
    );
    assert_eq!(probe(b"ery-status\"}{\"execute\":\"stop\"}", b"", mid), m);
    assert_eq!(
        probe(b"e\", \"x\": 1}\r\n{\"event\": \"STOP\"}\r\n", b"", mid),
        sw
    );
    assert_eq!(probe(b"", b"e\", \"default\": 1}", mid), Verdict::NeedMore);
    let junk = vec![b'x'; PROBE_WINDOW];
    assert_eq!(probe(&junk, &junk, mid), Verdict::NoMatch(None));
    // cheap: only the window is looked at
    let mut long = b"{\"QMP\": {".to_vec();
    long.extend(vec![b' '; 1 << 20]);
    assert_eq!(probe(b"", &long, start), m);
}

#[test]
fn summaries_are_single_lines() {
    assert_eq!(
        one_line("{\r\n    \"a\": 1,\r\n    \"b\": [\r\n    ]\r\n}", 100),
        "{\"a\": 1, \"b\": []}"
    );
    assert_eq!(one_line("a\u{1}b\tc", 100), "a\\u0001b\\tc");
    assert_eq!(one_line("abcdef", 3), "abc...");
    assert_eq!(one_line("abc", 3), "abc");
    assert_eq!(one_line("abcd", 3), "abc...");
    assert_eq!(one_line("", 0), "");
    assert_eq!(one_line("a", 0), "...");
    assert_eq!(one_line("a\u{7f}b", 2), "a\\u007F...");
    assert_eq!(one_line("é€", 2), "é€");
    assert_eq!(token_text(b"\"query-st\x01"), "\"query-st\\u0001");
    assert_eq!(token_text(b"\xff"), "\u{FFFD}");
}

/// The fast paths (the scanner's fast loop, the fast parser, the verifier
/// and the parse that trusts it) agree with the straightforward reference
/// implementations on random and mutated input.
mod fast_paths {
    use std::ops::Range;

    use super::json::{self, Mat};
    use super::scan::{Scan, Scanner};
    use super::{CAPS_OOB, GREETING, RET_EMPTY, SERVER_KEYS};

    /// xorshift64: reproducible without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
        fn pick<'a>(&mut self, v: &[&'a [u8]]) -> &'a [u8] {
            v[self.below(v.len())]
        }
    }

    /// Fragments that exercise the grammar's corners.
    const PIECES: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b":",
        b",",
        b"\"",
        b"'",
        b"\\",
        b"\\u",
        b"\\ud800",
        b"\\udc00",
        b"\\ud83d\\ude00",
        b"\\u0041",
        b"\\uFFFF",
        b"\\'",
        b"\\\"",
        b"\\n",
        b"\\x",
        b"\xC0\x80",
        b"\xC3\xA9",
        b"\xED\xA0\x80",
        b"\xEF\xB7\x90",
        b"\xF0\x9F\x98\x80",
        b"\xC3",
        b"\x80",
        b"\xFF",
        b"\xFE",
        b"\x01",
        b"\t",
        b"\r\n",
        b"\n",
        b" ",
        b"0",
        b"01",
        b"-",
        b"1.5",
        b"1e5",
        b"0e5",
        b"0E5",
        b"-0e+1",
        b"1.",
        b"-0",
        b"true",
        b"false",
        b"null",
        b"nul",
        b"True",
        b"\"a\"",
        b"\"a\":1",
        b"'a'",
        b"\"execute\"",
        b"\"id\"",
        b"\"return\"",
        b"\"error\"",
        b"\"QMP\"",
        b"\"event\"",
        b"\"data\"",
        b"\x7f",
        b"%",
        b"\xEF\xBB\xBF",
    ];

    const KEYS: &[&[u8]] = &[
        b"return",
        b"id",
        b"error",
        b"event",
        b"data",
        b"QMP",
        b"a",
        b"\\u0061",
        b"b",
        b"k1",
        b"k2",
        b"name",
        b"meta-type",
        b"arg-type",
        b"\xC3\xA9",
        b"a\\nb",
    ];

    fn random_value(r: &mut Rng, depth: usize, out: &mut Vec<u8>) {
        match r.below(if depth > 5 { 6 } else { 10 }) {
            0 => out.extend_from_slice(r.pick(&[b"null", b"true", b"false"])),
            1 => out.extend_from_slice(r.pick(&[
                b"0", b"-1", b"42", b"1.5e3", b"-0.25", b"7E2", b"0.5", b"10",
            ])),
            2..=4 => {
                let q = if r.below(10) == 0 { b'\'' } else { b'"' };
                out.push(q);
                for _ in 0..r.below(12) {
                    match r.below(8) {
                        0 => out.extend_from_slice(r.pick(PIECES)),
                        1 => out.extend_from_slice(b"\\u00e9"),
                        2 => out.extend_from_slice("é€😀".as_bytes()),
                        _ => out.push(b'a' + r.below(26) as u8),
                    }
                }
                out.push(q);
            }
            5..=7 => {
                out.push(b'{');
                // Sometimes more keys than the small-object path takes.
                let n = if depth < 3 && r.below(12) == 0 {
                    17 + r.below(12)
                } else {
                    r.below(6 - depth.min(4))
                };
                for k in 0..n {
                    if k > 0 {
                        out.extend_from_slice(r.pick(&[b",", b", ", b",\r\n  "]));
                    }
                    out.push(b'"');
                    if n > 16 {
                        out.extend_from_slice(format!("k{}", r.below(60)).as_bytes());
                    } else {
                        out.extend_from_slice(r.pick(KEYS));
                    }
                    out.extend_from_slice(r.pick(&[b"\":", b"\": ", b"\" : "]));
                    random_value(r, depth + 1, out);
                }
                out.push(b'}');
            }
            _ => {
                out.push(b'[');
                for k in 0..r.below(6 - depth.min(4)) {
                    if k > 0 {
                        out.extend_from_slice(r.pick(&[b",", b", "]));
                    }
                    random_value(r, depth + 1, out);
                }
                out.push(b']');
            }
        }
    }

    fn mutate(r: &mut Rng, base: &[u8]) -> Vec<u8> {
        let mut v = base.to_vec();
        for _ in 0..1 + r.below(4) {
            let at = r.below(v.len() + 1);
            match r.below(3) {
                0 if at < v.len() => {
                    let end = (at + 1 + r.below(6)).min(v.len());
                    v.drain(at..end);
                }
                1 if at < v.len() => v[at] = r.next() as u8,
                _ => {
                    let p = r.pick(PIECES);
                    v.splice(at..at, p.iter().copied());
                }
            }
        }
        v
    }

    /// Server-like values: a reply wrapping a random value, events,
    /// greetings; sometimes mutated.
    fn inputs(seed: u64, n: usize) -> Vec<Vec<u8>> {
        let mut r = Rng(seed);
        let mut out = vec![
            GREETING.to_vec(),
            RET_EMPTY.to_vec(),
            CAPS_OOB.to_vec(),
            b"{\"return\": [{\"name\": \"query-status\", \"ret-type\": \"1\", \"meta-type\": \"command\", \"arg-type\": \"0\"}], \"id\": \"__qmp#00001\"}".to_vec(),
            b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\\\uFFFD'\"}}".to_vec(),
            b"{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 5}, \"event\": \"STOP\"}".to_vec(),
            b"{\r\n    \"return\": {\r\n        \"a\": [\r\n        ]\r\n    }\r\n}\r\n".to_vec(),
        ];
        while out.len() < n {
            let mut v = Vec::new();
            random_value(&mut r, 1, &mut v);
            let mut w = match r.below(4) {
                0 => v,
                1 => [b"{\"event\": \"X\", \"data\": ".as_slice(), &v, b"}"].concat(),
                _ => {
                    let mut extra = Vec::new();
                    random_value(&mut r, 1, &mut extra);
                    [
                        b"{\"return\": ".as_slice(),
                        &v,
                        b", \"id\": ",
                        &extra,
                        b", \"data\": [",
                        &v,
                        b"]}",
                    ]
                    .concat()
                }
            };
            if r.below(2) == 0 {
                w = mutate(&mut r, &w);
            }
            if w.len() <= 4096 {
                out.push(w);
            }
        }
        out
    }

    type Items = Vec<(usize, Scan, Option<Vec<Range<usize>>>)>;

    /// Which of the scanner's paths [`scan`] takes.
    #[derive(Clone, Copy, PartialEq)]
    enum Path {
        All,
        Unwalked,
        Reference,
    }

    /// Scans `data` fed `chunk` bytes at a time (the front stays until an
    /// item is reported, as the driver does).
    fn scan(sc: Scanner, data: &[u8], chunk: usize, reference: bool) -> Items {
        let path = if reference { Path::Reference } else { Path::All };
        scan_by(sc, data, chunk, path)
    }

    fn scan_by(mut sc: Scanner, data: &[u8], chunk: usize, path: Path) -> Items {
        let mut out = Vec::new();
        let (mut front, mut avail) = (0, chunk.min(data.len()));
        while front < data.len() {
            let eos = avail == data.len();
            let buf = &data[front..avail];
            let s = match path {
                Path::All => sc.next(buf, eos),
                Path::Unwalked => sc.next_unwalked(buf, eos),
                Path::Reference => sc.next_reference(buf, eos),
            };
            let len = match &s {
                Scan::NeedMore if eos => break,
                Scan::NeedMore => {
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
            out.push((front, s, sc.take_verified()));
            front += len;
            avail = avail.max(front);
        }
        out
    }

    #[test]
    fn scanner_fast_path_matches_reference() {
        for (k, v) in inputs(0x5eed_0001, 2500).iter().enumerate() {
            for client in [true, false] {
                let chunk = [1, 3, 7, 64, usize::MAX][k % 5].min(v.len().max(1));
                let reference = scan(Scanner::new(client), v, chunk, true);
                let fast = scan(Scanner::new(client), v, chunk, false);
                assert_eq!(fast, reference, "{:?}", String::from_utf8_lossy(v));
                // Verifying changes what is reported about values only.
                let verifying = scan(Scanner::verifying(client), v, chunk, false);
                let strip = |x: Items| -> Vec<(usize, Scan)> {
                    x.into_iter().map(|(o, s, _)| (o, s)).collect()
                };
                assert_eq!(strip(verifying), strip(fast));
            }
        }
    }

    /// The verifier's walk changes nothing the scanner reports, verified
    /// spans included, however the bytes are cut.
    #[test]
    fn walked_values_scan_the_same() {
        let mut inputs = inputs(0x5eed_0004, 4000);
        // Shapes the walk stops at or must get exactly right: duplicate
        // keys, depth at the limit, pretty-printed output, numbers and
        // keywords at a cut, values back to back.
        let deep = |n: usize| -> Vec<u8> {
            let mut v = b"{\"return\": ".to_vec();
            v.extend(std::iter::repeat_n(b'[', n));
            v.extend(std::iter::repeat_n(b']', n));
            v.push(b'}');
            v
        };
        inputs.extend([
            deep(json::MAX_DEPTH - 2),
            deep(json::MAX_DEPTH - 1),
            deep(json::MAX_DEPTH),
            b"{\"a\": 1, \"a\": 2}".to_vec(),
            b"{\"a\": {\"b\": [1, 2, {\"b\": 3, \"b\": 4}]}, \"c\": true}".to_vec(),
            b"{\r\n  \"return\": {\r\n    \"a\": [\r\n 10, 0, false, null\r\n ]\r\n  }\r\n}\r\n"
                .to_vec(),
            b"{\"return\": 12345}{\"return\": 0}{\"x\": truex}{\"y\": nul}".to_vec(),
            b"{\"a\": 01, \"b\": 1.5, \"c\": -1, \"d\": 1e3, \"e\": \"\\n\", \"f\": \"\xc3\xa9\"}"
                .to_vec(),
            b"[1, 2]{\"a\" : [ ] , \"b\" :{ }}  {}".to_vec(),
            b"{\"d\": 1e3, \"e\": [2E5, 10e1], \"f\": 1.5, \"g\": -0, \"h\": 0}".to_vec(),
            b"{\"d\": [0e1]}".to_vec(),
        ]);
        let mut walked = 0;
        for (k, v) in inputs.iter().enumerate() {
            let chunks = [1, 2, 5, 64, 300, usize::MAX];
            for chunk in [chunks[k % 6], usize::MAX] {
                let chunk = chunk.min(v.len().max(1));
                for client in [false, true] {
                    let with = scan_by(Scanner::verifying(client), v, chunk, Path::All);
                    let without = scan_by(Scanner::verifying(client), v, chunk, Path::Unwalked);
                    assert_eq!(with, without, "{chunk} {:?}", String::from_utf8_lossy(v));
                    walked += with.iter().filter(|(_, _, k)| k.is_some()).count();
                }
            }
        }
        assert!(walked > 1000, "{walked} values verified");
    }

    #[test]
    fn fast_parser_matches_exact_parser() {
        let lists: [&[&str]; 3] = [SERVER_KEYS, &["return", "data"], &[]];
        for v in inputs(0x5eed_0002, 5000) {
            let text = v.trim_ascii_end();
            for mat in [
                Mat::All,
                Mat::Top(lists[0]),
                Mat::Top(lists[1]),
                Mat::Top(lists[2]),
            ] {
                assert_eq!(
                    json::parse(text, mat),
                    json::parse_exact(text, mat),
                    "{:?}",
                    String::from_utf8_lossy(text)
                );
            }
        }
    }

    #[test]
    fn verified_values_parse_the_same() {
        let lists: [&[&str]; 3] = [SERVER_KEYS, &["return", "data"], &[]];
        let mut verified = 0;
        for (k, v) in inputs(0x5eed_0003, 5000).iter().enumerate() {
            let chunk = [2, 5, 300, usize::MAX][k % 4].min(v.len().max(1));
            for (front, s, known) in scan(Scanner::verifying(false), v, chunk, false) {
                let (Scan::Value { len, .. }, Some(known)) = (s, known) else {
                    continue;
                };
                verified += 1;
                let text = &v[front..front + len];
                for keys in lists {
                    let exact = json::parse_exact(text, Mat::Top(keys));
                    assert!(exact.as_ref().is_ok_and(|p| p.strict));
                    assert_eq!(
                        json::parse_known(text, Mat::Top(keys), &known),
                        exact,
                        "{:?}",
                        String::from_utf8_lossy(text)
                    );
                }
            }
        }
        assert!(verified > 500, "{verified} values verified");
    }
}

#[test]
fn a_flood_of_unanswered_requests_is_bounded_and_noted_once() {
    let mut flood = Vec::new();
    for i in 0..(MAX_PENDING + 500) {
        flood.extend_from_slice(format!("{{\"execute\":\"query-status\",\"id\":{i}}}").as_bytes());
    }
    let last = MAX_PENDING + 499;
    let first_reply = b"{\"return\": {}, \"id\": 0}\r\n".to_vec();
    let last_reply = format!("{{\"return\": {{}}, \"id\": {last}}}\r\n").into_bytes();
    let items = session(&[(C2S, &flood), (S2C, &first_reply), (S2C, &last_reply)]);
    let notes = session_notes(&items);
    let overflow: Vec<&String> = notes
        .iter()
        .filter(|n| n.contains("requests pending at once"))
        .collect();
    assert_eq!(overflow.len(), 1, "{notes:?}");
    let replies = dir_msgs(&items, S2C);
    let (r0, rlast) = (replies[replies.len() - 2], replies[replies.len() - 1]);
    // id 0 was forgotten (the oldest), the newest still pairs.
    assert_eq!(reply(r0), None);
    assert!(r0.notes.iter().any(|n| n.text.contains("unmatched")));
    assert!(reply(rlast).is_some());
    assert_covered(
        &items,
        [
            flood.len() as u64 + CAPS_OOB.len() as u64,
            (GREETING.len() + RET_EMPTY.len() + first_reply.len() + last_reply.len()) as u64,
        ],
    );
}

#[test]
fn after_a_server_gap_older_in_band_requests_are_closed_by_a_later_reply() {
    let mut d = Driver::new(
        Box::new(Qmp::new(SessionStart::default(), Options::default())),
        Limits::default(),
    );
    let mut items = Vec::new();
    let mut out = |i| items.push(i);
    d.data(S2C, 0, GREETING, &mut out);
    d.data(C2S, 0, CAPS, &mut out);
    d.data(S2C, GREETING.len() as u64, RET_EMPTY, &mut out);
    let mut c = CAPS.len() as u64;
    for i in 1..=10 {
        let cmd = format!("{{\"execute\":\"query-status\",\"id\":{i}}}");
        d.data(C2S, c, cmd.as_bytes(), &mut out);
        c += cmd.len() as u64;
    }
    // The replies to 1..=7 are lost in a gap of the server's stream.
    let s = (GREETING.len() + RET_EMPTY.len()) as u64;
    d.gap(S2C, s, 500, &mut out);
    let mut at = s + 500;
    for i in 8..=10 {
        let r = format!("{{\"return\": {{}}, \"id\": {i}}}\r\n");
        d.data(S2C, at, r.as_bytes(), &mut out);
        at += r.len() as u64;
    }
    d.close(&mut out);
    let replies: Vec<&Message> = dir_msgs(&items, S2C).into_iter().skip(2).collect();
    assert_eq!(replies.len(), 3);
    assert!(
        replies.iter().all(|m| reply(m).is_some()),
        "8, 9 and 10 pair after the gap"
    );
    assert!(has_note(
        replies[0],
        "7 earlier request(s) got no reply in the capture"
    ));
    // Nothing is reported unanswered at close: the lost ones were closed.
    assert!(
        !session_notes(&items)
            .iter()
            .any(|n| n.contains("unanswered")),
        "{:?}",
        session_notes(&items)
    );
}
