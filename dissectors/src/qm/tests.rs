//! Unit tests: every function code's request layout, every outcome, pads,
//! pairing (prompt dialogue, GetError, Quit, long waits), framing errors,
//! greeting handling, mid-stream resynchronisation, gaps and the probe.

use super::*;
use crate::driver::{messages as msgs, session_notes, undecoded};
use crate::driver::{run_schedule, Driver, Item, Limits};
use crate::Verdict;

// -- builders ---------------------------------------------------------------

fn req(code: i16, body: &[u8]) -> Vec<u8> {
    let mut v = ((body.len() + 6) as i32).to_le_bytes().to_vec();
    v.extend_from_slice(&code.to_le_bytes());
    v.extend_from_slice(body);
    v
}

fn resp(outcome: i16, status: i32, data: &[u8]) -> Vec<u8> {
    let mut v = ((data.len() + 10) as i32).to_le_bytes().to_vec();
    v.extend_from_slice(&outcome.to_le_bytes());
    v.extend_from_slice(&status.to_le_bytes());
    v.extend_from_slice(data);
    v
}

fn ok() -> Vec<u8> {
    resp(0, 0, b"")
}

fn i16b(v: i16) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn login_frame(user: &[u8], pw: &[u8], pad: u8) -> Vec<u8> {
    let mut b = i16b(user.len() as i16);
    b.extend_from_slice(user);
    if user.len() % 2 == 1 {
        b.push(pad);
    }
    b.extend(i16b(pw.len() as i16));
    b.extend_from_slice(pw);
    if pw.len() % 2 == 1 {
        b.push(pad);
    }
    req(24, &b)
}

/// A conversation: each entry is fed as one arrival.
struct Conv {
    sched: Vec<(Dir, Vec<u8>)>,
}

impl Conv {
    /// Starts with the greeting and a successful Login.
    fn logged_in() -> Conv {
        Conv { sched: Vec::new() }
            .s(&[6])
            .c(&login_frame(b"qmtest", b"qmpass", 0))
            .s(&ok())
    }
    fn bare() -> Conv {
        Conv { sched: Vec::new() }
    }
    fn c(mut self, b: &[u8]) -> Conv {
        self.sched.push((Dir::C2S, b.to_vec()));
        self
    }
    fn s(mut self, b: &[u8]) -> Conv {
        self.sched.push((Dir::S2C, b.to_vec()));
        self
    }
    fn run_with(&self, mid_stream: bool, opts: Options) -> Vec<Item> {
        let d = Qm::new(SessionStart { mid_stream }, opts);
        let mut driver = Driver::new(Box::new(d), Limits::default());
        let mut items = Vec::new();
        let mut off = [0u64; 2];
        for (dir, b) in &self.sched {
            driver.data(*dir, off[dir.idx()], b, &mut |i| items.push(i));
            off[dir.idx()] += b.len() as u64;
        }
        driver.close(&mut |i| items.push(i));
        items
    }
    fn run(&self) -> Vec<Item> {
        self.run_with(false, Options::default())
    }
}

fn f<'a>(m: &'a Message, name: &str) -> &'a Value {
    &m.field(name)
        .unwrap_or_else(|| panic!("{}: no field {name} in {:#?}", m.name, m.fields))
        .value
}

fn has_note(m: &Message, sev: Severity, text: &str) -> bool {
    m.notes
        .iter()
        .any(|n| n.severity == sev && n.text.contains(text))
}

fn int(v: i64) -> Value {
    Value::Int(v)
}

fn bytes(b: &[u8]) -> Value {
    Value::Bytes(b.to_vec())
}

fn text(s: &str) -> Value {
    Value::Str(s.into())
}

/// Decodes one request after a login and returns it.
fn one_request(frame: Vec<u8>) -> Message {
    let items = Conv::logged_in().c(&frame).run();
    msgs(&items)
        .get(2)
        .map(|m| (*m).clone())
        .unwrap_or_else(|| panic!("no request in {items:#?}"))
}

/// Decodes one request/response pair after a login and Open of CUSTOMERS
/// as fno 1; returns (request, response).
fn exchange(frame: Vec<u8>, answer: Vec<u8>) -> (Message, Message) {
    let items = Conv::logged_in()
        .c(&req(4, b"CUSTOMERS"))
        .s(&resp(0, 0, &i16b(1)))
        .c(&frame)
        .s(&answer)
        .run();
    let m = msgs(&items);
    assert_eq!(m.len(), 6, "{items:#?}");
    (m[4].clone(), m[5].clone())
}

// -- every function code's request layout -------------------------------------

#[test]
fn no_argument_functions() {
    for (code, name) in [
        (1, "Quit"),
        (2, "GetError"),
        (23, "EndCommand"),
        (25, "LocalLogin"),
    ] {
        let m = one_request(req(code, b""));
        assert_eq!(m.name, name);
        assert_eq!(f(&m, "code"), &int(code.into()));
        assert_eq!(f(&m, "length"), &int(6));
        assert_eq!(m.len, 6);
        assert!(m.field("extra").is_none());
        // Extra bytes after a fixed layout are shown and flagged info.
        let m = one_request(req(code, b"zz"));
        assert_eq!(f(&m, "extra"), &bytes(b"zz"));
        assert!(has_note(&m, Severity::Info, "extra bytes"));
    }
}

#[test]
fn text_argument_functions() {
    for (code, name, field, arg) in [
        (3, "Account", "account", &b"TESTACC"[..]),
        (4, "Open", "file", b"DICT CUSTOMERS"),
        (21, "Execute", "command", b"LIST CUSTOMERS"),
        (22, "Respond", "reply", b"21"),
        (27, "EnterPackage", "package", b"PKG"),
        (28, "ExitPackage", "package", b"PKG"),
        (29, "OpenQMNet", "target", b"TESTACC;CUSTOMERS"),
    ] {
        let m = one_request(req(code, arg));
        assert_eq!(m.name, name);
        assert_eq!(f(&m, field), &bytes(arg));
        let r = m.field(field).and_then(|x| x.range.clone());
        assert_eq!(r, Some(6..6 + arg.len()), "{name}");
    }
    let m = one_request(req(29, b"TESTACC;DICT CUSTOMERS"));
    assert_eq!(f(&m, "account"), &bytes(b"TESTACC"));
    assert_eq!(f(&m, "file"), &bytes(b"DICT CUSTOMERS"));
    assert!(has_note(&m, Severity::Info, "QMNet"));
    let m = one_request(req(21, b"LIST VOC"));
    assert!(has_note(&m, Severity::Info, "command execution: LIST VOC"));
    let m = one_request(req(3, b"testacc"));
    assert!(has_note(&m, Severity::Info, "upper-cases"));
}

#[test]
fn fno_only_functions() {
    for (code, name) in [
        (5, "Close"),
        (31, "Clearfile"),
        (33, "Fileunlock"),
        (35, "Indices1"),
        (37, "SelectList"),
    ] {
        let (q, _) = exchange(req(code, &i16b(1)), ok());
        assert_eq!(q.name, name);
        assert_eq!(f(&q, "fno"), &int(1));
        assert_eq!(f(&q, "file_name"), &text("CUSTOMERS"));
        assert_eq!(q.field("fno").and_then(|x| x.range.clone()), Some(6..8));
        assert!(q.summary.starts_with("fno=1 (CUSTOMERS)"), "{}", q.summary);
    }
    let (q, _) = exchange(req(31, &i16b(1)), ok());
    assert!(has_note(&q, Severity::Info, "destructive"));
    assert!(has_note(&q, Severity::Info, "stale file-table index"));
    let m = one_request(req(5, &[1]));
    assert!(m.is_error);
    assert!(has_note(&m, Severity::Warn, "malformed request"));
    assert_eq!(f(&m, "raw"), &bytes(&[1]));
}

#[test]
fn fno_and_id_functions() {
    for (code, name) in [
        (6, "Read"),
        (7, "Readl"),
        (8, "Readlw"),
        (9, "Readu"),
        (10, "Readuw"),
        (18, "Delete"),
        (19, "Deleteu"),
        (34, "Recordlocked"),
    ] {
        let (q, _) = exchange(req(code, &cat(&[&i16b(1), b"C001"])), ok());
        assert_eq!(q.name, name);
        assert_eq!(f(&q, "fno"), &int(1));
        assert_eq!(f(&q, "id"), &bytes(b"C001"));
        assert_eq!(q.field("id").and_then(|x| x.range.clone()), Some(8..12));
        assert_eq!(q.summary, "fno=1 (CUSTOMERS) id=\"C001\"");
        let waits = matches!(code, 8 | 10);
        assert_eq!(has_note(&q, Severity::Info, "waits"), waits, "{name}");
        assert_eq!(
            has_note(&q, Severity::Info, "destructive"),
            matches!(code, 18 | 19)
        );
    }
    let long = vec![b'I'; 120];
    let m = one_request(req(6, &cat(&[&i16b(1), &long])));
    assert!(has_note(&m, Severity::Info, "first 99 bytes"));
    assert!(has_note(&m, Severity::Info, "63-byte limit"));
}

#[test]
fn select_and_list_functions() {
    let m = one_request(req(11, &cat(&[&i16b(1), &i16b(2)])));
    assert_eq!(m.name, "Select");
    assert_eq!(f(&m, "fno"), &int(1));
    assert_eq!(f(&m, "list"), &int(2));
    for (code, name) in [(12, "ReadNext"), (13, "ClearSelect"), (14, "ReadList")] {
        let m = one_request(req(code, &i16b(0)));
        assert_eq!(m.name, name);
        assert_eq!(f(&m, "list"), &int(0));
        assert_eq!(m.summary, "list=0");
    }
    let m = one_request(req(13, &i16b(11)));
    assert!(has_note(&m, Severity::Info, "outside 0–10"));
}

#[test]
fn release_forms() {
    let m = one_request(req(15, &i16b(0)));
    assert_eq!(f(&m, "releases"), &text("all locks of the session"));
    let m = one_request(req(15, &i16b(2)));
    assert_eq!(f(&m, "releases"), &text("all locks of the file"));
    let m = one_request(req(15, &cat(&[&i16b(2), b"C02"])));
    assert_eq!(f(&m, "releases"), &text("the lock on this record"));
    assert_eq!(f(&m, "id"), &bytes(b"C02"));
}

#[test]
fn write_functions_have_no_pad() {
    let rec = b"Alice Smith\xfe12 High St\xfdFlat 3\xfeLondon\xfe100\xfc200\xfd300";
    for (code, name) in [(16, "Write"), (17, "Writeu")] {
        // Odd id length: no pad byte follows (section 4.5).
        let body = cat(&[&i16b(1), &i16b(3), b"C02", rec]);
        let m = one_request(req(code, &body));
        assert_eq!(m.name, name);
        assert_eq!(f(&m, "id_length"), &int(3));
        assert_eq!(f(&m, "id"), &bytes(b"C02"));
        assert_eq!(f(&m, "record"), &bytes(rec));
        assert_eq!(f(&m, "field_count"), &int(4));
        let Value::List(view) = f(&m, "record_fields") else {
            panic!("record view")
        };
        assert_eq!(view[0].value, text("Alice Smith"));
        assert_eq!(view[0].range, Some(13..24));
        assert!(
            m.summary.ends_with("record 4 fields, 48 bytes"),
            "{}",
            m.summary
        );
    }
    // An id length beyond the frame is malformed.
    let m = one_request(req(16, &cat(&[&i16b(1), &i16b(40), b"C02"])));
    assert!(m.is_error);
    let m = one_request(req(16, &cat(&[&i16b(1), &i16b(-1), b"C02"])));
    assert!(m.is_error);
}

#[test]
fn call_request_with_garbage_pads() {
    let body = cat(&[
        &i16b(7),
        b"ADDNUMSo",
        &i16b(4),
        &2i32.to_le_bytes(),
        b"17",
        &3i32.to_le_bytes(),
        b"125u",
        &0i32.to_le_bytes(),
        &1i32.to_le_bytes(),
        b"xn",
    ]);
    let m = one_request(req(20, &body));
    assert_eq!(m.name, "Call");
    assert!(!m.is_error, "{:?}", m.notes);
    assert_eq!(f(&m, "subroutine"), &bytes(b"ADDNUMS"));
    assert_eq!(f(&m, "argc"), &int(4));
    let Value::List(args) = f(&m, "args") else {
        panic!("args")
    };
    let vals: Vec<&Value> = args
        .iter()
        .map(|a| match &a.value {
            Value::Struct(fs) => &fs[1].value,
            v => v,
        })
        .collect();
    assert_eq!(
        vals,
        vec![&bytes(b"17"), &bytes(b"125"), &bytes(b""), &bytes(b"x")]
    );
    assert_eq!(m.summary, "ADDNUMS (4 args)");
    assert!(has_note(&m, Severity::Info, "calls subroutine"));
    // `$` names are pointed out.
    let m = one_request(req(20, &cat(&[&i16b(4), b"$SUB", &i16b(0)])));
    assert!(has_note(&m, Severity::Info, "$ name"));
    // An argument count larger than the arguments present is malformed.
    let m = one_request(req(20, &cat(&[&i16b(2), b"AB", &i16b(3)])));
    assert!(m.is_error);
}

#[test]
fn login_pads_and_redaction() {
    // Even lengths, no pad.
    let m = one_request(login_frame(b"qmtest", b"qmpass", 0));
    assert_eq!(f(&m, "user"), &bytes(b"qmtest"));
    assert_eq!(f(&m, "password"), &text("<redacted>"));
    // Odd lengths with garbage pad values: ignored (DECISION 4).
    for pad in [0u8, 0x20, 0x6f, 0xff] {
        let m = one_request(login_frame(b"qmodd", b"secret1", pad));
        assert!(!m.is_error, "pad {pad:#x}");
        assert_eq!(f(&m, "user"), &bytes(b"qmodd"));
        assert_eq!(m.len, 24);
        assert!(!m.summary.contains("secret1"));
        assert!(m.notes.iter().all(|n| !n.text.contains("secret1")));
        assert!(has_note(&m, Severity::Warn, "clear-text password"));
    }
    let items = Conv::bare()
        .s(&[6])
        .c(&login_frame(b"qmodd", b"secret1", 0x41))
        .run_with(false, Options { show_secrets: true, ..Options::default() });
    let m = msgs(&items)[0];
    assert_eq!(f(m, "password"), &bytes(b"secret1"));
    assert!(m.summary.contains("secret1"));
}

#[test]
fn select_index_with_odd_pads() {
    let body = cat(&[
        &i16b(1),
        &i16b(2),
        &i16b(3),
        b"CIT\x99",
        &i16b(3),
        b"Lon\xaa",
    ]);
    let m = one_request(req(26, &body));
    assert_eq!(m.name, "SelectIndex");
    assert!(!m.is_error, "{:?}", m.notes);
    assert_eq!(f(&m, "list"), &int(2));
    assert_eq!(f(&m, "index"), &bytes(b"CIT"));
    assert_eq!(f(&m, "value"), &bytes(b"Lon"));
    // Even lengths: no pad.
    let body = cat(&[&i16b(1), &i16b(2), &i16b(4), b"CITY", &i16b(6), b"London"]);
    let m = one_request(req(26, &body));
    assert_eq!(f(&m, "value"), &bytes(b"London"));
    assert!(m.field("extra").is_none());
}

#[test]
fn lock_functions() {
    let m = one_request(req(30, &cat(&[&i16b(2), &i16b(3), b"C001"])));
    assert_eq!(m.name, "LockRecord");
    assert_eq!(f(&m, "flags"), &int(3));
    assert_eq!(f(&m, "lock"), &text("update"));
    assert_eq!(f(&m, "no_wait"), &Value::Bool(true));
    assert!(!has_note(&m, Severity::Info, "waits"));
    let m = one_request(req(30, &cat(&[&i16b(2), &i16b(0), b"C02"])));
    assert_eq!(f(&m, "lock"), &text("shared"));
    assert!(has_note(&m, Severity::Info, "waits"));
    let m = one_request(req(32, &cat(&[&i16b(2), &i16b(1)])));
    assert_eq!(m.name, "Filelock");
    assert_eq!(f(&m, "wait"), &int(1));
    assert!(has_note(&m, Severity::Info, "waits"));
    assert!(has_note(&m, Severity::Info, "stale file-table index"));
    let m = one_request(req(32, &cat(&[&i16b(2), &i16b(0)])));
    assert!(!has_note(&m, Severity::Info, "waits"));
}

#[test]
fn index_functions() {
    for (code, name) in [
        (36, "Indices2"),
        (38, "SelectIndexv"),
        (42, "SetLeft"),
        (43, "SetRight"),
    ] {
        let m = one_request(req(code, &cat(&[&i16b(1), b"CITY"])));
        assert_eq!(m.name, name);
        assert_eq!(f(&m, "index"), &bytes(b"CITY"));
    }
    // SelectIndexk: no pad after an odd name.
    let m = one_request(req(39, &cat(&[&i16b(1), &i16b(3), b"CITLondon"])));
    assert_eq!(m.name, "SelectIndexk");
    assert_eq!(f(&m, "index"), &bytes(b"CIT"));
    assert_eq!(f(&m, "value"), &bytes(b"London"));
    for (code, name) in [(44, "SelectLeft"), (45, "SelectRight")] {
        let m = one_request(req(code, &cat(&[&i16b(1), &i16b(3), b"CITY"])));
        assert_eq!(m.name, name);
        assert_eq!(f(&m, "list"), &int(3));
        assert_eq!(f(&m, "index"), &bytes(b"CITY"));
        assert_eq!(has_note(&m, Severity::Info, "falls through"), code == 45);
    }
}

#[test]
fn fileinfo_readv_markmapping() {
    let m = one_request(req(40, &cat(&[&i16b(1), &2i32.to_le_bytes()])));
    assert_eq!(m.name, "Fileinfo");
    assert_eq!(f(&m, "key"), &int(2));
    assert_eq!(f(&m, "key_name"), &text("FL$PATH"));
    let m = one_request(req(
        41,
        &cat(&[&i16b(1), &i16b(5), &3i32.to_le_bytes(), b"C004"]),
    ));
    assert_eq!(m.name, "Readv");
    assert_eq!(f(&m, "flags"), &int(5));
    assert_eq!(f(&m, "field"), &int(3));
    assert_eq!(f(&m, "lock"), &text("update lock"));
    assert_eq!(f(&m, "no_wait"), &Value::Bool(true));
    assert_eq!(f(&m, "id"), &bytes(b"C004"));
    let m = one_request(req(
        41,
        &cat(&[&i16b(1), &i16b(3), &3i32.to_le_bytes(), b"C004"]),
    ));
    assert!(has_note(&m, Severity::Info, "not one of the values"));
    let m = one_request(req(46, &cat(&[&i16b(3), &i16b(0)])));
    assert_eq!(m.name, "MarkMapping");
    assert_eq!(f(&m, "mark_mapping"), &text("off"));
}

#[test]
fn illegal_and_unknown_codes() {
    for (code, name) in [
        (0i16, "illegal function 0"),
        (-1, "illegal function -1"),
        (47, "unknown function 47"),
        (1000, "unknown function 1000"),
    ] {
        let m = one_request(req(code, b"ab"));
        assert_eq!(m.name, name);
        assert_eq!(f(&m, "code"), &int(code.into()));
        assert_eq!(f(&m, "body"), &bytes(b"ab"));
        assert!(has_note(&m, Severity::Warn, "illegal function code"));
    }
    // An unknown function the server accepts is not malformed (DECISION 20).
    let (_, r) = exchange(req(47, b""), resp(0, 0, b"x"));
    assert_eq!(r.name, "unknown function 47");
    assert!(has_note(&r, Severity::Info, "accepted unknown function"));
    assert!(!r.is_error);
}

#[test]
fn every_code_round_trips_through_the_driver() {
    // Every code 1..=46 with a minimal body: one message each, with `code`.
    for code in 1i16..=46 {
        let body: Vec<u8> = match code {
            20 => cat(&[&i16b(1), b"S\x00", &i16b(0)]),
            24 => cat(&[&i16b(1), b"u\x00", &i16b(0)]),
            26 => cat(&[&i16b(1), &i16b(0), &i16b(0), &i16b(0)]),
            40 => cat(&[&i16b(1), &0i32.to_le_bytes()]),
            41 => cat(&[&i16b(1), &i16b(0), &1i32.to_le_bytes(), b"X"]),
            16 | 17 | 39 => cat(&[&i16b(1), &i16b(1), b"XY"]),
            _ => cat(&[&i16b(1), &i16b(0)]),
        };
        let frame = req(code, &body);
        let items = Conv::logged_in().c(&frame).s(&ok()).run();
        let m = msgs(&items);
        assert_eq!(m.len(), 4, "code {code}: {items:#?}");
        assert_eq!(f(m[2], "code"), &int(code.into()));
        assert_eq!(m[2].len, frame.len());
        assert!(!m[2].is_error, "code {code}: {:?}", m[2].notes);
        assert_eq!(m[3].name, m[2].name);
        assert_eq!(
            m[3].reply_to,
            Some(MsgRef {
                dir: Dir::C2S,
                offset: m[2].offset
            })
        );
    }
}

// -- every outcome --------------------------------------------------------------

#[test]
fn outcome_ok_layouts() {
    // Open → fno, remembered for later requests.
    let items = Conv::logged_in()
        .c(&req(4, b"CUSTOMERS"))
        .s(&resp(0, 0, &i16b(7)))
        .c(&req(6, &cat(&[&i16b(7), b"C001"])))
        .s(&resp(0, 0, b"Alice\xfeLondon"))
        .c(&req(5, &i16b(7)))
        .s(&ok())
        .c(&req(6, &cat(&[&i16b(7), b"C001"])))
        .run();
    let m = msgs(&items);
    assert_eq!(f(m[3], "outcome"), &int(0));
    assert_eq!(f(m[3], "outcome_name"), &text("SV_OK"));
    assert_eq!(f(m[3], "fno"), &int(7));
    assert_eq!(f(m[3], "file_name"), &text("CUSTOMERS"));
    assert_eq!(f(m[4], "file_name"), &text("CUSTOMERS"));
    assert_eq!(f(m[5], "record"), &bytes(b"Alice\xfeLondon"));
    assert_eq!(f(m[5], "field_count"), &int(2));
    assert_eq!(
        m[5].summary,
        "OK status=0 record 2 fields, 12 bytes: \"Alice<FM>London\""
    );
    // After Close the name is forgotten.
    assert!(m[8].field("file_name").is_none());

    let (_, r) = exchange(req(12, &i16b(0)), resp(0, 0, b"C001"));
    assert_eq!(f(&r, "id"), &bytes(b"C001"));
    let (_, r) = exchange(req(14, &i16b(1)), resp(0, 0, b"C001\xfeC02\xfeC0003"));
    assert_eq!(f(&r, "count"), &int(3));
    let Value::List(items) = f(&r, "items") else {
        panic!("items")
    };
    assert_eq!(items[2].value, text("C0003"));
    let (_, r) = exchange(req(14, &i16b(1)), ok());
    assert_eq!(f(&r, "count"), &int(0));
    let (_, r) = exchange(
        req(21, b"LIST"),
        resp(0, 3, b"line one\xfeline\rtwo\xfe3 records listed"),
    );
    assert_eq!(f(&r, "status"), &int(3));
    assert_eq!(f(&r, "status_meaning"), &text("return code"));
    let Value::List(lines) = f(&r, "lines") else {
        panic!("lines")
    };
    assert_eq!(lines[1].value, text("line\rtwo"));
    assert!(!r.summary.contains('\r'));
    let (_, r) = exchange(
        req(34, &cat(&[&i16b(1), b"C001"])),
        resp(0, 0, &(-2i32).to_le_bytes()),
    );
    assert_eq!(f(&r, "recordlocked"), &int(-2));
    let (_, r) = exchange(
        req(40, &cat(&[&i16b(1), &2i32.to_le_bytes()])),
        resp(0, 0, b"/srv/x"),
    );
    assert_eq!(r.summary, "OK status=0 FL$PATH=\"/srv/x\"");
    let (_, r) = exchange(
        req(41, &cat(&[&i16b(1), &i16b(0), &2i32.to_le_bytes(), b"C1"])),
        resp(0, 0, b"a\xfdb"),
    );
    assert_eq!(f(&r, "value"), &bytes(b"a\xfdb"));
    let (_, r) = exchange(
        req(44, &cat(&[&i16b(1), &i16b(0), b"CITY"])),
        resp(0, 0, b"Leeds"),
    );
    assert_eq!(f(&r, "key"), &bytes(b"Leeds"));
    // An Open answer of the wrong size is flagged.
    let (_, r) = exchange(req(4, b"X"), resp(0, 0, b"\x01"));
    assert!(has_note(&r, Severity::Warn, "malformed response"));
}

#[test]
fn call_answer_with_space_pads() {
    let data = cat(&[
        &i16b(3),
        &3i32.to_le_bytes(),
        b"142 ",
        &i16b(4),
        &24i32.to_le_bytes(),
        b"Sum of 17 and 125 is 142",
    ]);
    let (_, r) = exchange(
        req(20, &cat(&[&i16b(2), b"AB", &i16b(0)])),
        resp(0, 1004, &data),
    );
    assert_eq!(f(&r, "changed"), &int(2));
    assert_eq!(f(&r, "status_meaning"), &text("left by the subroutine"));
    let Value::List(args) = f(&r, "args") else {
        panic!("args")
    };
    assert_eq!(args[0].name, "3");
    let Value::Struct(a) = &args[0].value else {
        panic!("arg")
    };
    assert_eq!(a[2].value, bytes(b"142"));
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    // Garbage after the arguments is flagged.
    let (_, r) = exchange(
        req(20, &cat(&[&i16b(2), b"AB", &i16b(0)])),
        resp(0, 0, &cat(&[&data, b"\x01"])),
    );
    assert!(has_note(&r, Severity::Warn, "malformed Call answer"));
}

#[test]
fn outcome_on_error_else_error_locked() {
    let (_, r) = exchange(
        req(27, b"PKG"),
        resp(1, 0, b"00001172: Illegal opcode xCF8B in $VBSRVR"),
    );
    assert_eq!(f(&r, "outcome_name"), &text("SV_ON_ERROR"));
    assert!(r.is_error);
    assert!(has_note(&r, Severity::Warn, "SV_ON_ERROR: 00001172"));
    assert!(has_note(&r, Severity::Info, "known ScarletDME server bug"));
    assert_eq!(
        f(&r, "message"),
        &bytes(b"00001172: Illegal opcode xCF8B in $VBSRVR")
    );
    let (_, r) = exchange(req(6, &cat(&[&i16b(1), b"NOPE"])), resp(2, 3006, b""));
    assert_eq!(f(&r, "outcome_name"), &text("SV_ELSE"));
    assert_eq!(f(&r, "status_meaning"), &text("record not found"));
    assert!(!r.is_error);
    let (_, r) = exchange(req(6, &cat(&[&i16b(99), b"C001"])), resp(3, 0, b""));
    assert_eq!(f(&r, "outcome_name"), &text("SV_ERROR"));
    assert!(r.is_error);
    let (_, r) = exchange(req(9, &cat(&[&i16b(1), b"C001"])), resp(4, 9, b""));
    assert_eq!(f(&r, "outcome_name"), &text("SV_LOCKED"));
    assert_eq!(f(&r, "lock_holder"), &int(9));
    assert!(has_note(&r, Severity::Info, "locked by user 9"));
    // Negative status (FF FF FF FF).
    let (_, r) = exchange(req(21, b"NOSUCHVERB"), resp(0, -1, b"x"));
    assert_eq!(f(&r, "status"), &int(-1));
    // Unexpected data with ELSE.
    let (_, r) = exchange(req(6, &cat(&[&i16b(1), b"X"])), resp(2, 3006, b"zz"));
    assert_eq!(f(&r, "data"), &bytes(b"zz"));
}

#[test]
fn outcome_prompt_and_unknown() {
    let (_, r) = exchange(
        req(21, b"RUN BP MULTI"),
        resp(5, 0, b"line one\nline two\nEnter a number"),
    );
    assert_eq!(f(&r, "outcome_name"), &text("SV_PROMPT"));
    let Value::List(lines) = f(&r, "prompt_lines") else {
        panic!("lines")
    };
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2].value, text("Enter a number"));
    assert_eq!(f(&r, "prompt_round"), &int(1));
    let (_, r) = exchange(req(1, b""), resp(6, 0, b"??"));
    assert!(r.is_error);
    assert!(r.field("outcome_name").is_none());
    assert!(has_note(&r, Severity::Warn, "undefined outcome code 6"));
    assert_eq!(f(&r, "data"), &bytes(b"??"));
}

// -- pairing --------------------------------------------------------------------

fn refs(m: &Message) -> MsgRef {
    MsgRef {
        dir: m.dir,
        offset: m.offset,
    }
}

#[test]
fn prompt_dialogue_is_one_exchange() {
    let items = Conv::logged_in()
        .c(&req(21, b"RUN BP ASKNAME"))
        .s(&resp(5, 0, b"What is your name"))
        .c(&req(22, b"Alice"))
        .s(&resp(5, 0, b"Favourite colour"))
        .c(&req(22, b"Blue"))
        .s(&resp(0, 0, b"Hello Alice, who likes Blue"))
        .c(&req(21, b"RUN BP ASKNAME"))
        .s(&resp(5, 0, b"What is your name"))
        .c(&req(23, b""))
        .s(&ok())
        .run();
    let m = msgs(&items);
    assert_eq!(m.len(), 12);
    let exec = refs(m[2]);
    assert_eq!(m[3].links, vec![("prompt_of", exec)]);
    assert_eq!(m[4].links, vec![("execute", exec), ("prompt", refs(m[3]))]);
    assert_eq!(f(m[4], "prompt_round"), &int(1));
    assert_eq!(m[5].links, vec![("prompt_of", exec)]);
    assert_eq!(f(m[5], "prompt_round"), &int(2));
    assert_eq!(m[6].links, vec![("execute", exec), ("prompt", refs(m[5]))]);
    assert_eq!(m[7].links, vec![("execute", exec)]);
    assert_eq!(m[7].reply_to, Some(refs(m[6])));
    assert_eq!(f(m[7], "output"), &bytes(b"Hello Alice, who likes Blue"));
    assert!(has_note(m[7], Severity::Info, "after 2 prompts"));
    let exec2 = refs(m[8]);
    assert_eq!(m[10].name, "EndCommand");
    assert_eq!(
        m[10].links,
        vec![("execute", exec2), ("prompt", refs(m[9]))]
    );
    assert_eq!(m[11].links, vec![("execute", exec2)]);
    assert!(m.iter().all(|x| x
        .notes
        .iter()
        .all(|n| n.severity == Severity::Info || n.text.contains("clear-text"))));
}

#[test]
fn request_during_prompt_is_rejected() {
    let items = Conv::logged_in()
        .c(&req(21, b"RUN BP MULTI"))
        .s(&resp(5, 0, b"Enter a number"))
        .c(&req(4, b"CUSTOMERS"))
        .s(&resp(
            1,
            0,
            b"000000D4: Incorrect message type from client (4) at line 5",
        ))
        .c(&req(22, b"late"))
        .run();
    let m = msgs(&items);
    assert_eq!(m[4].name, "Open");
    assert!(has_note(m[4], Severity::Warn, "rejected by the server"));
    assert_eq!(m[4].links, vec![("execute", refs(m[2]))]);
    assert_eq!(m[5].name, "Open");
    assert_eq!(m[5].links, vec![("execute", refs(m[2]))]);
    assert!(has_note(m[5], Severity::Warn, "aborted"));
    // The Open answer did not register a file.
    assert!(m[5].field("fno").is_none());
    // The prompt is over: a Respond now has no prompt.
    assert!(has_note(m[6], Severity::Warn, "no prompt is outstanding"));
}

#[test]
fn prompt_outside_execute() {
    let (_, r) = exchange(
        req(20, &cat(&[&i16b(2), b"AB", &i16b(0)])),
        resp(5, 0, b"Value?"),
    );
    assert!(has_note(&r, Severity::Info, "prompt outside Execute"));
}

#[test]
fn get_error_explains_the_failing_request() {
    let items = Conv::logged_in()
        .c(&req(6, &cat(&[&i16b(99), b"C001"])))
        .s(&resp(3, 0, b""))
        .c(&req(2, b""))
        .s(&resp(0, 0, b"Invalid file number"))
        .c(&req(2, b""))
        .s(&resp(0, 0, b"Invalid file number"))
        .run();
    let m = msgs(&items);
    assert!(has_note(m[2], Severity::Info, "fno 99 was not opened"));
    let failing = refs(m[2]);
    assert_eq!(m[4].links, vec![("error_of", failing)]);
    assert_eq!(f(m[4], "error_of"), &text("Read"));
    assert_eq!(m[5].links, vec![("error_of", failing)]);
    assert_eq!(f(m[5], "error_text"), &bytes(b"Invalid file number"));
    assert_eq!(f(m[5], "error_of"), &text("Read"));
    assert!(m[5]
        .summary
        .contains("\"Invalid file number\" (error of Read)"));
    // A second GetError has no fresh error to explain.
    assert!(m[7].links.is_empty());
    assert!(has_note(
        m[7],
        Severity::Info,
        "repeats its most recent error"
    ));
}

#[test]
fn quit_with_and_without_reply() {
    let items = Conv::logged_in().c(&req(1, b"")).run();
    let m = msgs(&items);
    assert_eq!(m.len(), 3);
    assert!(session_notes(&items).is_empty(), "{items:#?}");
    let items = Conv::logged_in().c(&req(1, b"")).s(&ok()).run();
    let m = msgs(&items);
    assert_eq!(m[3].name, "Quit");
    assert_eq!(m[3].reply_to, Some(refs(m[2])));
    assert!(m[3].notes.is_empty());
}

#[test]
fn long_waits_pair_and_unanswered_requests_are_noted() {
    let items = Conv::logged_in()
        .c(&req(10, &cat(&[&i16b(1), b"C001"])))
        .s(&resp(0, 0, b"rec"))
        .c(&req(8, &cat(&[&i16b(1), b"C002"])))
        .run();
    let m = msgs(&items);
    assert_eq!(m[3].name, "Readuw");
    assert_eq!(m[3].reply_to, Some(refs(m[2])));
    let notes = session_notes(&items);
    assert!(notes
        .iter()
        .any(|n| n.text.contains("Readlw") && n.text.contains("waiting for a lock")));
}

#[test]
fn pipelined_and_unmatched() {
    let items = Conv::logged_in()
        .c(&req(12, &i16b(0)))
        .c(&req(12, &i16b(0)))
        .s(&resp(0, 0, b"A"))
        .s(&resp(0, 0, b"B"))
        .s(&ok())
        .run();
    let m = msgs(&items);
    assert!(has_note(m[3], Severity::Info, "pipelined"));
    assert_eq!(m[4].reply_to, Some(refs(m[2])));
    assert_eq!(m[5].reply_to, Some(refs(m[3])));
    assert_eq!(m[6].name, "response");
    assert!(has_note(m[6], Severity::Warn, "unmatched response"));
}

#[test]
fn login_state_notes() {
    let items = Conv::bare()
        .s(&[6])
        .c(&req(4, b"CUSTOMERS"))
        .s(&resp(1, 0, b"Not logged in"))
        .run();
    let m = msgs(&items);
    assert!(has_note(m[0], Severity::Warn, "request before login"));
    assert!(has_note(m[1], Severity::Warn, "not logged in"));
    let items = Conv::bare().s(&[6]).c(&req(25, b"")).s(&ok()).run();
    let m = msgs(&items);
    assert!(has_note(m[0], Severity::Warn, "LocalLogin over TCP"));
    assert!(session_notes(&items)
        .iter()
        .any(|n| n.severity == Severity::Warn && n.text.contains("LocalLogin accepted")));
    let items = Conv::bare()
        .s(&[6])
        .c(&login_frame(b"qmtest", b"wrongpw", 0))
        .s(&resp(1, 0, b"Invalid username or password"))
        .run();
    let m = msgs(&items);
    assert!(m[1].is_error);
    assert!(has_note(m[1], Severity::Warn, "login failed"));
    assert!(items
        .iter()
        .any(|i| matches!(i, Item::Attr("login", v) if v == "failed")));
}

// -- framing --------------------------------------------------------------------

#[test]
fn greeting_is_skipped_not_a_message() {
    let items = Conv::logged_in().run();
    let u = undecoded(&items);
    assert_eq!(
        u,
        vec![(Dir::S2C, 0, 1, GREETING_REASON.to_string(), Severity::Info)]
    );
    assert_eq!(msgs(&items)[1].offset, 1);
}

#[test]
fn pre_greeting_bytes_and_startup_error() {
    let items = Conv::bare()
        .s(b"junk")
        .s(&[6])
        .c(&login_frame(b"u1", b"p1", 0))
        .s(&ok())
        .run();
    let u = undecoded(&items);
    assert_eq!(u[0].3, "pre-greeting bytes");
    assert_eq!(u[0].2, 4);
    assert_eq!(msgs(&items).len(), 2);
    let items = Conv::bare().s(b"ScarletDME has not been started\n").run();
    let u = undecoded(&items);
    assert_eq!(u.len(), 1);
    assert!(u[0].3.contains("start-up error"));
    assert!(session_notes(&items)
        .iter()
        .any(|n| n.severity == Severity::Warn && n.text.contains("has not been started")));
}

#[test]
fn malformed_lengths_stop_the_direction() {
    for len in [0i32, 4, 5, -1] {
        let mut bad = len.to_le_bytes().to_vec();
        bad.extend_from_slice(&[24, 0, 1, 2, 3]);
        let items = Conv::logged_in().c(&bad).c(&req(1, b"")).run();
        let u: Vec<_> = undecoded(&items)
            .into_iter()
            .filter(|u| u.0 == Dir::C2S)
            .collect();
        assert!(!u.is_empty(), "{len}");
        assert!(u.iter().all(|x| x.4 == Severity::Error), "{u:?}");
        assert!(u[0].3.contains("malformed frame"), "{u:?}");
        // Nothing after it is decoded.
        assert_eq!(msgs(&items).len(), 2);
    }
    let mut bad = 9i32.to_le_bytes().to_vec();
    bad.extend_from_slice(&[0; 6]);
    let items = Conv::logged_in().s(&bad).run();
    assert!(undecoded(&items)
        .iter()
        .any(|u| u.3.contains("smaller than the 10-byte response header")));
}

#[test]
fn oversized_and_truncated_frames() {
    let mut big = (FRAME_MAX as i32 + 1).to_le_bytes().to_vec();
    big.extend_from_slice(&[16, 0]);
    let items = Conv::logged_in().c(&big).run();
    assert!(undecoded(&items)
        .iter()
        .any(|u| u.3.contains("oversized frame") && u.4 == Severity::Error));
    // Truncated at end of stream: an error range, never a message.
    let frame = req(21, b"LIST CUSTOMERS");
    let items = Conv::logged_in().c(&frame[..10]).run();
    let u = undecoded(&items);
    assert!(u
        .iter()
        .any(|u| u.3.contains("truncated frame") && u.4 == Severity::Error && u.2 == 10));
    let items = Conv::logged_in().c(&frame[..3]).run();
    assert!(undecoded(&items)
        .iter()
        .any(|u| u.3.contains("truncated frame header")));
}

#[test]
fn byte_by_byte_feeding_changes_nothing() {
    let c2s = cat(&[
        &login_frame(b"qmodd", b"secret1", 0),
        &req(4, b"CUSTOMERS"),
        &req(6, &cat(&[&i16b(1), b"C001"])),
        &req(1, b""),
    ]);
    let s2c = cat(&[&[6], &ok(), &resp(0, 0, &i16b(1)), &resp(0, 0, b"a\xfeb")]);
    let shape = |items: &[Item]| {
        msgs(items)
            .iter()
            .map(|m| (m.dir, m.offset, m.len, m.name.clone(), m.summary.clone()))
            .collect::<Vec<_>>()
    };
    // Whole streams, requests first (every response then finds its request).
    let base = run_schedule(
        Box::new(Qm::new(SessionStart::default(), Options::default())),
        &[(Dir::C2S, &c2s), (Dir::S2C, &s2c)],
        1 << 20,
    );
    assert_eq!(msgs(&base).len(), 7);
    for chunk in [1, 2, 3, 5, 7, 11] {
        let items = run_schedule(
            Box::new(Qm::new(SessionStart::default(), Options::default())),
            &[(Dir::C2S, &c2s), (Dir::S2C, &s2c)],
            chunk,
        );
        assert_eq!(shape(&items), shape(&base), "chunk {chunk}");
    }
}

// -- mid-stream and gaps ------------------------------------------------------------

#[test]
fn mid_stream_resync_at_segment_starts() {
    // The client stream begins with the tail of a big Write; the server's
    // with the tail of a Read answer. Each direction resyncs at the next
    // segment start; requests and responses pair in capture-time order.
    let rec_tail: Vec<u8> = b"ABCDEFGHI\xfd".repeat(50);
    let items = Conv::bare()
        .c(&rec_tail)
        .s(&rec_tail[..77])
        .s(&ok()) // answers the Write (sent before the capture began)
        .c(&req(6, &cat(&[&i16b(2), b"BIG"])))
        .s(&resp(0, 0, b"rec"))
        .c(&req(18, &cat(&[&i16b(2), b"BIG"])))
        .s(&ok())
        .c(&req(1, b""))
        .run_with(true, Options::default());
    let m = msgs(&items);
    let names: Vec<(Dir, &str)> = m.iter().map(|x| (x.dir, x.name.as_str())).collect();
    assert_eq!(
        names,
        vec![
            (Dir::C2S, "Read"),
            (Dir::C2S, "Delete"),
            (Dir::C2S, "Quit"),
            (Dir::S2C, "response"),
            (Dir::S2C, "Read"),
            (Dir::S2C, "Delete"),
        ]
    );
    assert!(has_note(m[3], Severity::Info, "mid-stream"));
    assert_eq!(m[4].reply_to, Some(refs(m[0])));
    assert_eq!(m[5].reply_to, Some(refs(m[1])));
    let u = undecoded(&items);
    assert!(u.contains(&(Dir::C2S, 0, 500, MID_STREAM.to_string(), Severity::Info)));
    assert!(u.contains(&(Dir::S2C, 0, 77, MID_STREAM.to_string(), Severity::Info)));
    assert!(u.iter().all(|x| x.4 == Severity::Info), "{u:?}");
}

#[test]
fn mid_stream_capture_from_the_connection_start() {
    // No SYN, but the streams begin at the connection start: the 0x06 is
    // recognised as the greeting (DECISION 2).
    let items = Conv::logged_in()
        .c(&req(3, b"TESTACC"))
        .s(&ok())
        .c(&req(1, b""))
        .run_with(true, Options::default());
    let m = msgs(&items);
    assert_eq!(m.len(), 5);
    assert_eq!(undecoded(&items)[0].3, GREETING_REASON);
    assert_eq!(m[3].reply_to, Some(refs(m[0])), "{m:#?}");
}

#[test]
fn gap_inside_a_frame_keeps_framing() {
    let frame = req(16, &cat(&[&i16b(1), &i16b(4), b"C001", &[b'x'; 100]]));
    let mut d = Driver::new(
        Box::new(Qm::new(SessionStart::default(), Options::default())),
        Limits::default(),
    );
    let mut items = Vec::new();
    let mut out = |i| items.push(i);
    d.data(Dir::S2C, 0, &[6], &mut out);
    let login = login_frame(b"u1", b"p1", 0);
    d.data(Dir::C2S, 0, &login, &mut out);
    d.data(Dir::S2C, 1, &ok(), &mut out);
    let base = login.len() as u64;
    d.data(Dir::C2S, base, &frame[..20], &mut out);
    // 30 bytes lost inside the Write.
    d.data(Dir::C2S, base + 50, &frame[50..], &mut out);
    d.data(Dir::S2C, 11, &ok(), &mut out);
    d.data(Dir::C2S, base + frame.len() as u64, &req(1, b""), &mut out);
    d.close(&mut out);
    let m = msgs(&items);
    let names: Vec<&str> = m.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, vec!["Login", "Login", "Write", "Quit"]);
    assert!(has_note(m[2], Severity::Info, "cut by a gap"));
    let u = undecoded(&items);
    assert!(u.iter().any(|x| x.3 == CUT_REST));
}

#[test]
fn gap_between_frames_resyncs() {
    let mut d = Driver::new(
        Box::new(Qm::new(SessionStart::default(), Options::default())),
        Limits::default(),
    );
    let mut items = Vec::new();
    let mut out = |i| items.push(i);
    d.data(Dir::S2C, 0, &[6], &mut out);
    let login = login_frame(b"u1", b"p1", 0);
    d.data(Dir::C2S, 0, &login, &mut out);
    d.data(Dir::S2C, 1, &ok(), &mut out);
    // A lost request (and its answer), then the stream continues mid-frame.
    let base = login.len() as u64 + 30;
    let tail = b"garbage!";
    d.data(Dir::C2S, base, tail, &mut out);
    d.data(Dir::S2C, 21, &ok(), &mut out);
    let next = req(3, b"TESTACC");
    d.data(Dir::C2S, base + tail.len() as u64, &next, &mut out);
    d.data(Dir::S2C, 31, &ok(), &mut out);
    d.close(&mut out);
    let m = msgs(&items);
    let names: Vec<(Dir, &str)> = m.iter().map(|x| (x.dir, x.name.as_str())).collect();
    assert_eq!(
        names,
        vec![
            (Dir::C2S, "Login"),
            (Dir::S2C, "Login"),
            (Dir::C2S, "Account"),
            (Dir::S2C, "response"),
            (Dir::S2C, "Account"),
        ],
        "{items:#?}"
    );
    // The answer to the lost request is unmatched (info), the next pairs.
    assert!(has_note(m[3], Severity::Info, "unmatched response"));
    assert_eq!(m[4].reply_to, Some(refs(m[2])));
    assert!(undecoded(&items).iter().any(|x| x.3 == AFTER_GAP));
}

#[test]
fn size_limit_discards_the_rest_of_the_frame() {
    let frame = req(16, &cat(&[&i16b(1), &i16b(4), b"C001", &[b'x'; 3000]]));
    let mut d = Driver::new(
        Box::new(Qm::new(SessionStart::default(), Options::default())),
        Limits { max_message: 1000 },
    );
    let mut items = Vec::new();
    let mut out = |i| items.push(i);
    d.data(Dir::S2C, 0, &[6], &mut out);
    let mut off = 0u64;
    for piece in frame.chunks(500) {
        d.data(Dir::C2S, off, piece, &mut out);
        off += piece.len() as u64;
    }
    d.data(Dir::C2S, off, &req(1, b""), &mut out);
    d.close(&mut out);
    let m = msgs(&items);
    assert_eq!(m.len(), 1, "{items:#?}");
    assert_eq!(m[0].name, "Quit");
    assert_eq!(m[0].offset, frame.len() as u64);
}

// -- probe ----------------------------------------------------------------------

#[test]
fn probe_connection_start() {
    let start = SessionStart::default();
    let login = login_frame(b"qmtest", b"qmpass", 0);
    let m = Verdict::Match { swap: false };
    assert_eq!(probe(&login, &[6], start), m);
    assert_eq!(probe(&login, &[], start), m);
    assert_eq!(probe(&req(25, b""), &[6], start), m);
    assert_eq!(probe(&req(4, b"CUSTOMERS"), &[6], start), m);
    assert_eq!(probe(&[], &[6], start), Verdict::NeedMore);
    assert_eq!(probe(&login[..6], &[6], start), Verdict::NeedMore);
    assert_eq!(probe(&[], b"ScarletDME has not been started\n", start), m);
    assert_eq!(probe(&[6], &login, start), Verdict::Match { swap: true });
    // Not QM: answered at once.
    assert_eq!(
        probe(b"{\"execute\":\"qmp_capabilities\"}", b"{\"QMP\": {", start),
        Verdict::NoMatch(None)
    );
    assert_eq!(
        probe(b"1|2|1|5|0|0|hello", &[], start),
        Verdict::NoMatch(None)
    );
    assert_eq!(probe(&login, &[7, 0], start), Verdict::NoMatch(None));
    // A Login whose name length is out of range is not a QM login.
    let bad = req(24, &cat(&[&i16b(40), &[b'a'; 40], &i16b(0)]));
    assert_eq!(probe(&bad, &[6], start), Verdict::NoMatch(None));
}

#[test]
fn probe_mid_stream() {
    let mid = SessionStart { mid_stream: true };
    let c2s = cat(&[
        b"tail of something",
        &req(6, &cat(&[&i16b(1), b"C001"])),
        &req(5, &i16b(1)),
        &req(1, b""),
    ]);
    let s2c = cat(&[b"xyz", &resp(0, 0, b"rec"), &ok(), &ok()]);
    assert_eq!(probe(&c2s, &s2c, mid), Verdict::Match { swap: false });
    assert_eq!(probe(&s2c, &c2s, mid), Verdict::Match { swap: true });
    assert_eq!(probe(&c2s, &[], mid), Verdict::NeedMore);
    assert_eq!(probe(&[b'A'; 5000], &[b'B'; 5000], mid), Verdict::NeedMore);
}

// -- secrets ------------------------------------------------------------------

/// The bytes of `stream` that `m`'s secret ranges cover.
fn secret_bytes<'a>(stream: &'a [u8], m: &Message) -> Vec<&'a [u8]> {
    m.secret_offsets()
        .map(|r| &stream[r.start as usize..r.end as usize])
        .collect()
}

#[test]
fn login_marks_exactly_the_password_bytes_shown_or_not() {
    let c2s = cat(&[
        &login_frame(b"qmodd", b"secret1", 0x99),
        &req(21, b"LIST VOC"),
    ]);
    for show in [false, true] {
        let items = Conv::bare()
            .s(&[6])
            .c(&c2s)
            .s(&ok())
            .run_with(false, Options { show_secrets: show, ..Options::default() });
        let m = msgs(&items);
        let login = m.iter().find(|m| m.name == "Login").expect("login");
        assert_eq!(secret_bytes(&c2s, login), vec![&b"secret1"[..]]);
        // Nothing else carries a secret.
        assert_eq!(m.iter().filter(|m| !m.secrets.is_empty()).count(), 1);
    }
}
