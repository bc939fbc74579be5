//! Unit tests of the MQServer dissector: every form, every message type
//! the reference defines, framing edge cases, pairing and notes. The bytes
//! are built here from the reference's layouts with small test-only
//! encoders (there is no XDR capture).

use super::*;
use crate::driver::{messages as msgs, session_notes, undecoded};
use crate::driver::{run_schedule, Driver, Item, Limits};
use crate::{Field, Kind, Message, Value};

// ---------------------------------------------------------------------------
// Test-only encoders.

#[derive(Clone, Copy)]
enum X<'a> {
    I(i32),
    S(&'a [u8]),
    O(&'a [u8]),
}

fn xdr_item(out: &mut Vec<u8>, x: &X) {
    match x {
        X::I(v) => out.extend_from_slice(&v.to_be_bytes()),
        X::S(b) | X::O(b) => {
            out.extend_from_slice(&(b.len() as u32).to_be_bytes());
            out.extend_from_slice(b);
            out.resize(out.len() + (4 - b.len() % 4) % 4, 0);
        }
    }
}

fn xdr_items(items: &[X]) -> Vec<u8> {
    let mut out = Vec::new();
    for x in items {
        xdr_item(&mut out, x);
    }
    out
}

fn xdr(mid: i32, t: i32, items: &[X]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [mid, t, 1, 9] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend(xdr_items(items));
    out
}

fn b64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

fn xml_elems(items: &[X]) -> String {
    let mut s = String::new();
    for x in items {
        match x {
            X::I(v) => s.push_str(&format!("<int32>{v}</int32>")),
            X::S(b) => {
                s.push_str("<string>");
                for &c in *b {
                    match c {
                        b'<' => s.push_str("&lt;"),
                        b'>' => s.push_str("&gt;"),
                        b'&' => s.push_str("&amp;"),
                        c => s.push(char::from(c)),
                    }
                }
                s.push_str("</string>");
            }
            X::O(b) => s.push_str(&format!("<octetstream>{}</octetstream>", b64(b))),
        }
    }
    s
}

const XML_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\">\n<!DOCTYPE xds SYSTEM \"http://www.ossp.org/pkg/lib/xds/xds-xml.dtd\">\n<xds>\n";

fn xml(mid: i32, t: i32, items: &[X]) -> Vec<u8> {
    let mut all = vec![X::I(mid), X::I(t), X::I(1), X::I(9)];
    all.extend_from_slice(items);
    format!("{XML_HEAD}{}</xds>\n", xml_elems(&all)).into_bytes()
}

fn text_raw(mid: &str, t: &str, flags: &str, data: &[u8], nuls: usize) -> Vec<u8> {
    let mut out = format!("{mid}|{t}|1|{}|{flags}|{}|", data.len(), crc32(data)).into_bytes();
    out.extend_from_slice(data);
    out.resize(out.len() + nuls, 0);
    out
}

fn text(mid: u32, t: &str, data: &[u8]) -> Vec<u8> {
    text_raw(&mid.to_string(), t, "0", data, 1)
}

fn early_raw(mid: u32, t: u16, flags: u32, data: &[u8], crc: Option<u32>, pad: usize) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&mid.to_be_bytes());
    out.extend_from_slice(&t.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&crc.unwrap_or_else(|| crc32(data)).to_be_bytes());
    out.extend_from_slice(data);
    out.push(0);
    out.resize(out.len() + pad, 0);
    out
}

fn early(mid: u32, t: u16, body: &[u8]) -> Vec<u8> {
    early_raw(mid, t, 0, &sqlite::encode(body), None, 0)
}

// ---------------------------------------------------------------------------
// Running the dissector.

fn run_opts(
    sched: &[(Dir, Vec<u8>)],
    chunk: usize,
    start: SessionStart,
    opts: Options,
) -> Vec<Item> {
    let parts: Vec<(Dir, &[u8])> = sched.iter().map(|(d, b)| (*d, b.as_slice())).collect();
    let items = run_schedule(Box::new(MqServer::new(start, opts)), &parts, chunk);
    let mut lens = [0u64; 2];
    for (d, b) in sched {
        lens[d.idx()] += b.len() as u64;
    }
    check_cover(&items, lens);
    items
}

fn run(sched: &[(Dir, Vec<u8>)]) -> Vec<Item> {
    run_opts(sched, 1 << 20, SessionStart::default(), Options::default())
}

fn check_cover(items: &[Item], lens: [u64; 2]) {
    let mut at = [0u64; 2];
    for it in items {
        let (d, o, n) = match it {
            Item::Message(m) => (m.dir, m.offset, m.len as u64),
            Item::Undecoded {
                dir, offset, len, ..
            } => (*dir, *offset, *len),
            Item::Gap { dir, offset, len } => (*dir, *offset, *len),
            _ => continue,
        };
        assert_eq!(o, at[d.idx()], "{d:?}: hole or overlap at {o}");
        at[d.idx()] += n;
    }
    assert_eq!(at, lens, "every byte covered");
}

fn get<'a>(m: &'a Message, name: &str) -> &'a Value {
    &m.field(name)
        .unwrap_or_else(|| panic!("{}: no field {name} in {:?}", m.name, m.fields))
        .value
}

fn path<'a>(m: &'a Message, names: &[&str]) -> &'a Value {
    let mut v = get(m, names[0]);
    for n in &names[1..] {
        v = match v {
            Value::Struct(fs) => &fs.iter().find(|f| f.name == *n).unwrap().value,
            other => panic!("{n}: not a struct: {other:?}"),
        };
    }
    v
}

fn s(v: &str) -> Value {
    Value::Str(v.to_owned())
}

fn has_note(m: &Message, sev: Severity, part: &str) -> bool {
    m.notes
        .iter()
        .any(|n| n.severity == sev && n.text.contains(part))
}

fn assert_clean_summary(m: &Message) {
    assert!(
        !m.summary.chars().any(char::is_control),
        "control characters in summary {:?}",
        m.summary
    );
}

/// mid, msgtype, encoding of every message, per direction.
fn ids(items: &[Item], dir: Dir) -> Vec<(i64, i64, String)> {
    msgs(items)
        .into_iter()
        .filter(|m| m.dir == dir)
        .map(|m| {
            let Value::Int(mid) = get(m, "mid") else {
                panic!()
            };
            let Value::Int(t) = get(m, "msgtype") else {
                panic!()
            };
            let Value::Str(e) = get(m, "encoding") else {
                panic!()
            };
            (*mid, *t, e.clone())
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The observed final-implementation session (section 10), in XDR and XML.

fn xds_session(enc: fn(i32, i32, &[X]) -> Vec<u8>, inner: &[u8]) -> Vec<(Dir, Vec<u8>)> {
    vec![
        (Dir::S2C, enc(1, 3, &[X::I(2), X::I(3), X::S(b"STD:DBG")])),
        (Dir::C2S, enc(1, 5, &[X::I(2), X::I(3), X::S(b"STD:DBG")])),
        (Dir::S2C, enc(2, 1, &[X::I(1)])),
        (Dir::C2S, enc(2, 4, &[X::S(b"fish"), X::S(b"haha")])),
        (Dir::S2C, enc(3, 1, &[X::I(2)])),
        (
            Dir::C2S,
            enc(3, 10, &[X::S(b"testqueue"), X::I(0), X::S(b"*")]),
        ),
        (
            Dir::S2C,
            enc(4, 13, &[X::S(b"testqueue"), X::I(0), X::S(b"")]),
        ),
        (
            Dir::C2S,
            enc(
                4,
                15,
                &[
                    X::S(b"testqueue"),
                    X::I(inner.len() as i32),
                    X::S(b"Mytopic"),
                    X::O(inner),
                ],
            ),
        ),
        (
            Dir::S2C,
            enc(
                5,
                17,
                &[
                    X::S(b"testqueue"),
                    X::S(b"Mytopic"),
                    X::O(inner),
                    X::I(1),
                    X::I(1_795_310_869),
                    X::S(b"fish"),
                ],
            ),
        ),
    ]
}

fn inner_xdr() -> Vec<u8> {
    xdr_items(&[
        X::S(b"hello world this is my testdata name"),
        X::I(1),
        X::S(b"and this is my static string"),
    ])
}

fn inner_xml() -> Vec<u8> {
    xml_elems(&[
        X::S(b"hello world this is my testdata name"),
        X::I(1),
        X::S(b"and this is my static string"),
    ])
    .into_bytes()
}

fn check_xds_session(items: &[Item], enc: &str) {
    let ms = msgs(items);
    let names: Vec<&str> = ms.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "SRVCAP",
            "CLNTCAP",
            "ACK",
            "AUTH",
            "ACK",
            "JOINQUEUE",
            "QUEUEINFO",
            "SENDTOQUEUE",
            "MSGFROMQUEUE"
        ]
    );
    assert!(undecoded(items).is_empty(), "{:?}", undecoded(items));
    for m in &ms {
        assert_eq!(get(m, "encoding"), &s(enc));
        assert_eq!(path(m, &["flags", "value"]), &Value::UInt(9));
        assert_eq!(path(m, &["flags", "require_ack"]), &Value::Bool(true));
        assert_eq!(path(m, &["flags", "undefined"]), &Value::UInt(8));
        assert!(
            !m.notes.iter().any(|n| n.text.contains("FLAGS")),
            "0x08 is not flagged (D19)"
        );
        assert_clean_summary(m);
    }
    let (srvcap, clntcap, ack1, auth, ack2, join, info, send, recv) = (
        ms[0], ms[1], ms[2], ms[3], ms[4], ms[5], ms[6], ms[7], ms[8],
    );
    assert_eq!(srvcap.kind, Kind::Greeting);
    assert_eq!(get(srvcap, "cap1"), &Value::Int(2));
    assert_eq!(get(srvcap, "capabilities"), &s("STD:DBG"));
    assert_eq!(clntcap.reply_to, Some(srvcap.msg_ref()));
    assert_eq!(ack1.reply_to, Some(clntcap.msg_ref()));
    assert_eq!(get(ack1, "acked_mid"), &Value::Int(1));
    assert_eq!(ack1.kind, Kind::Response);
    assert_eq!(ack2.reply_to, Some(auth.msg_ref()));
    assert_eq!(get(auth, "user"), &s("fish"));
    assert_eq!(get(auth, "password"), &s(body::REDACTED));
    assert!(!auth.summary.contains("haha"));
    assert!(has_note(auth, Severity::Warn, "clear-text password"));
    assert_eq!(info.reply_to, Some(join.msg_ref()));
    assert_eq!(get(join, "filter"), &s("*"));
    assert_eq!(get(info, "queue"), &s("testqueue"));
    assert_eq!(get(send, "payload_len"), &Value::Int(send_len(send)));
    assert_eq!(get(recv, "msg_id"), &Value::Int(1));
    assert_eq!(get(recv, "time"), &s("2026-11-22T01:27:49Z"));
    assert_eq!(recv.kind, Kind::Push);
    assert_eq!(recv.links, vec![("sendtoqueue", send.msg_ref())]);
    // The nested payload: three typed items with ranges inside the payload.
    for m in [send, recv] {
        let items = path(m, &["payload", "items"]);
        let Value::List(list) = items else {
            panic!("{items:?}")
        };
        let pay = m.field("payload").unwrap().range.clone().unwrap();
        assert_eq!(list.len(), 3);
        for f in list {
            let r = f.range.clone().unwrap();
            assert!(r.start >= pay.start && r.end <= pay.end, "{r:?} in {pay:?}");
        }
        assert_eq!(
            list[0].value,
            Value::Struct(vec![Field::new(
                "string",
                list[0].range.clone(),
                s("hello world this is my testdata name")
            )])
        );
        assert_eq!(
            list[1].value,
            Value::Struct(vec![Field::new(
                "int32",
                list[1].range.clone(),
                Value::Int(1)
            )])
        );
    }
}

fn send_len(m: &Message) -> i64 {
    match path(m, &["payload", "length"]) {
        Value::UInt(n) => *n as i64,
        _ => -1,
    }
}

#[test]
fn xdr_observed_session_decodes_and_pairs() {
    let items = run(&xds_session(xdr, &inner_xdr()));
    check_xds_session(&items, "xdr");
    // Exact boundaries: SRVCAP is 36 bytes, ACK 20, AUTH 32 (section 15.1).
    let ms = msgs(&items);
    assert_eq!((ms[0].len, ms[2].len, ms[3].len), (36, 20, 32));
    assert_eq!(
        ids(&items, Dir::S2C)
            .iter()
            .map(|x| x.0)
            .collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
}

#[test]
fn xml_observed_session_decodes_and_pairs() {
    let items = run(&xds_session(xml, &inner_xml()));
    check_xds_session(&items, "xml");
    // The trailing LF belongs to the document.
    let ms = msgs(&items);
    assert_eq!(ms[2].len, 215, "the observed ACK is 215 bytes");
}

#[test]
fn xdr_split_across_segments_at_every_size() {
    let sched = xds_session(xdr, &inner_xdr());
    let whole = run(&sched);
    for chunk in [1, 2, 3, 5, 7, 16, 17, 64] {
        let items = run_opts(&sched, chunk, SessionStart::default(), Options::default());
        let a: Vec<_> = msgs(&items).into_iter().cloned().collect();
        let b: Vec<_> = msgs(&whole).into_iter().cloned().collect();
        assert_eq!(a, b, "chunk {chunk}");
        assert!(undecoded(&items).is_empty());
    }
}

#[test]
fn xml_split_across_segments_and_coalesced() {
    let sched = xds_session(xml, &inner_xml());
    let whole = run(&sched);
    for chunk in [1, 4, 100, 648] {
        let items = run_opts(&sched, chunk, SessionStart::default(), Options::default());
        assert_eq!(
            ids(&items, Dir::S2C),
            ids(&whole, Dir::S2C),
            "chunk {chunk}"
        );
        assert_eq!(
            ids(&items, Dir::C2S),
            ids(&whole, Dir::C2S),
            "chunk {chunk}"
        );
    }
    // Several documents in one segment.
    let mut one = Vec::new();
    for (d, b) in &sched {
        if *d == Dir::S2C {
            one.extend_from_slice(b);
        }
    }
    let items = run(&[(Dir::S2C, one)]);
    assert_eq!(msgs(&items).len(), 5);
}

#[test]
fn show_secrets_keeps_the_password() {
    let sched = xds_session(xdr, &inner_xdr());
    let items = run_opts(
        &sched,
        1 << 20,
        SessionStart::default(),
        Options { show_secrets: true, ..Options::default() },
    );
    let auth = msgs(&items)[3];
    assert_eq!(get(auth, "password"), &s("haha"));
    assert!(auth.summary.contains("haha"));
}

/// The bytes of the stream `c2s` that `m`'s secret ranges cover.
fn secret_bytes<'a>(c2s: &'a [u8], m: &Message) -> Vec<&'a [u8]> {
    m.secret_offsets()
        .map(|r| &c2s[r.start as usize..r.end as usize])
        .collect()
}

/// The client's stream of a schedule.
fn c2s_of(sched: &[(Dir, Vec<u8>)]) -> Vec<u8> {
    sched
        .iter()
        .filter(|(d, _)| *d == Dir::C2S)
        .flat_map(|(_, b)| b.clone())
        .collect()
}

#[test]
fn auth_marks_exactly_the_password_bytes_in_every_form() {
    // EARLY: the password's bytes as SQLite-encoded on the wire (offset 1:
    // "haha" is sent as "g`g`").
    let early_auth = early_raw(
        2,
        4,
        0,
        &[0x01, 0x65, 0x68, 0x72, 0x67, 0x1f, 0x67, 0x60, 0x67, 0x60],
        None,
        0,
    );
    type Case<'a> = (&'a str, Vec<(Dir, Vec<u8>)>, &'a [u8]);
    let cases: Vec<Case> = vec![
        ("xdr", xds_session(xdr, &inner_xdr()), b"haha"),
        ("xml", xds_session(xml, &inner_xml()), b"haha"),
        (
            "xml entities",
            vec![(Dir::C2S, xml(2, 4, &[X::S(b"fish"), X::S(b"a<b&c")]))],
            b"a&lt;b&amp;c",
        ),
        (
            "text",
            vec![(Dir::C2S, text(2, "AUTH", b"fish my pass word"))],
            b"my pass word",
        ),
        ("early", vec![(Dir::C2S, early_auth)], b"g`g`"),
    ];
    for (form, sched, want) in cases {
        let c2s = c2s_of(&sched);
        for show in [false, true] {
            let items = run_opts(
                &sched,
                1 << 20,
                SessionStart::default(),
                Options { show_secrets: show, ..Options::default() },
            );
            let ms = msgs(&items);
            let auth: Vec<&&Message> = ms.iter().filter(|m| m.name == "AUTH").collect();
            assert_eq!(auth.len(), 1, "{form}");
            assert_eq!(
                secret_bytes(&c2s, auth[0]),
                vec![want],
                "{form} show {show}"
            );
            assert_eq!(
                ms.iter().filter(|m| !m.secrets.is_empty()).count(),
                1,
                "{form}: only AUTH has secrets"
            );
        }
    }
}

#[test]
fn auth_password_of_the_wrong_type_is_still_secret() {
    let c2s = xml(2, 4, &[X::S(b"fish"), X::I(1234)]);
    let items = run(&[(Dir::C2S, c2s.clone())]);
    let a = msgs(&items)[0];
    assert_eq!(secret_bytes(&c2s, a), vec![&b"1234"[..]]);
    assert_eq!(get(a, "password"), &s(body::REDACTED));
    assert!(!a.summary.contains("1234"), "{}", a.summary);
}

// ---------------------------------------------------------------------------
// XDR framing edge cases.

#[test]
fn xdr_unimplemented_type_stops_the_direction() {
    let mut c = xdr(1, 5, &[X::I(2), X::I(3), X::S(b"STD")]);
    let appid_at = c.len();
    c.extend(xdr(2, 6, &[X::I(1001)]));
    // Whatever follows must not become messages.
    c.extend(xdr(3, 4, &[X::S(b"fish"), X::S(b"haha")]));
    let items = run(&[
        (Dir::S2C, xdr(1, 3, &[X::I(2), X::I(3), X::S(b"STD")])),
        (Dir::C2S, c.clone()),
    ]);
    let client: Vec<_> = msgs(&items)
        .into_iter()
        .filter(|m| m.dir == Dir::C2S)
        .collect();
    assert_eq!(client.len(), 2);
    assert_eq!(client[1].name, "APPID");
    assert_eq!(client[1].len, 16, "header only");
    assert!(has_note(client[1], Severity::Error, "undecodable"));
    let u = undecoded(&items);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].1, appid_at as u64 + 16);
    assert_eq!(u[0].4, Severity::Error);
    assert!(u[0].3.contains("XDR"), "{}", u[0].3);
    assert!(session_notes(&items)
        .iter()
        .any(|n| n.text.contains("undecodable")));
}

#[test]
fn xdr_type_outside_range_is_not_a_message() {
    let mut c = xdr(1, 5, &[X::I(2), X::I(3), X::S(b"STD")]);
    c.extend(xdr(2, 77, &[]));
    c.extend(xdr(3, 1, &[X::I(1)]));
    let items = run(&[(Dir::C2S, c)]);
    assert_eq!(msgs(&items).len(), 1);
    let u = undecoded(&items);
    assert_eq!(u.len(), 1);
    assert!(u[0].3.contains("outside 1-19"));
}

#[test]
fn xdr_truncated_oversize_and_padding() {
    // Truncated at the end of the stream.
    let mut c = xdr(1, 5, &[X::I(2), X::I(3), X::S(b"STD")]);
    let full = xdr(2, 4, &[X::S(b"fish"), X::S(b"haha")]);
    c.extend_from_slice(&full[..full.len() - 3]);
    let items = run(&[(Dir::C2S, c)]);
    assert_eq!(msgs(&items).len(), 1);
    let u = undecoded(&items);
    assert!(u[0].3.contains("truncated"), "{u:?}");
    assert_eq!(u[0].4, Severity::Error);
    // A length over the limit stops the direction at once.
    let mut c = xdr(1, 2, &[]);
    c.extend_from_slice(&(xdr::MAX_ITEM as u32 + 1).to_be_bytes());
    c.extend_from_slice(b"abcd");
    let items = run(&[(Dir::C2S, c)]);
    assert!(msgs(&items).is_empty());
    assert!(undecoded(&items)[0].3.contains("limit"));
    // Non-zero padding is info.
    let mut m = xdr(1, 2, &[X::S(b"abc")]);
    *m.last_mut().unwrap() = 7;
    let items = run(&[(Dir::S2C, m)]);
    assert!(has_note(msgs(&items)[0], Severity::Info, "padding"));
}

#[test]
fn xdr_junk_strings_and_zeroed_payload_server_bugs() {
    let inner = inner_xdr();
    let zeros = vec![0u8; inner.len()];
    let sched = vec![
        (
            Dir::C2S,
            xdr(
                4,
                15,
                &[
                    X::S(b"testqueue"),
                    X::I(inner.len() as i32),
                    X::S(b"Mytopic"),
                    X::O(&inner),
                ],
            ),
        ),
        (
            Dir::S2C,
            xdr(
                5,
                17,
                &[
                    X::S(b"testqueue"),
                    X::S(b"Mytopic"),
                    X::O(&zeros),
                    X::I(1),
                    X::I(1_795_310_869),
                    X::S(b"fish\xb5\x55"),
                ],
            ),
        ),
    ];
    let items = run(&sched);
    let ms = msgs(&items);
    let (send, recv) = (ms[0], ms[1]);
    // XDR payload item types are guessed: string, int32, string.
    let Value::List(list) = path(send, &["payload", "items"]) else {
        panic!()
    };
    let types: Vec<&str> = list
        .iter()
        .map(|f| match &f.value {
            Value::Struct(k) => k[0].name.as_ref(),
            _ => "?",
        })
        .collect();
    assert_eq!(types, ["string", "int32", "string"]);
    assert_eq!(
        list[0].range,
        Some(16 + 16 + 4 + 12 + 4..16 + 16 + 4 + 12 + 4 + 40)
    );
    assert!(has_note(recv, Severity::Info, "zero bytes"));
    assert!(has_note(recv, Severity::Info, "non-printable"));
    assert_eq!(get(recv, "sender"), &Value::Bytes(b"fish\xb5\x55".to_vec()));
    assert!(recv.summary.contains("fish\\xB5U"));
    assert_clean_summary(recv);
    // The echo is linked even though the server zeroed the payload.
    assert_eq!(recv.links, vec![("sendtoqueue", send.msg_ref())]);
    // A string with a NUL inside: junk after its logical end.
    let items = run(&[(Dir::S2C, xdr(1, 2, &[X::S(b"oops\0\x01\x02")]))]);
    assert!(has_note(
        msgs(&items)[0],
        Severity::Info,
        "after its logical end"
    ));
}

#[test]
fn xdr_gap_stops_decoding_with_a_reason() {
    let mut d = Driver::new(
        Box::new(MqServer::new(SessionStart::default(), Options::default())),
        Limits::default(),
    );
    let mut items = Vec::new();
    let a = xdr(1, 3, &[X::I(2), X::I(3), X::S(b"STD")]);
    let b = xdr(2, 1, &[X::I(1)]);
    d.data(Dir::S2C, 0, &a, &mut |i| items.push(i));
    d.gap(Dir::S2C, a.len() as u64, 10, &mut |i| items.push(i));
    d.data(Dir::S2C, a.len() as u64 + 10, &b, &mut |i| items.push(i));
    d.close(&mut |i| items.push(i));
    assert_eq!(msgs(&items).len(), 1, "nothing invented after the gap");
    let u = undecoded(&items);
    assert_eq!(u.len(), 1);
    assert!(u[0].3.contains("cannot be resynchronised"));
    assert!(session_notes(&items)
        .iter()
        .any(|n| n.text.contains("cannot be resynchronised")));
}

#[test]
fn xdr_every_implemented_body() {
    type Case<'a> = (i32, Vec<X<'a>>, Vec<(&'static str, Value)>);
    let cases: Vec<Case> = vec![
        (1, vec![X::I(7)], vec![("acked_mid", Value::Int(7))]),
        (
            2,
            vec![X::S(b"Invalid Username/Password")],
            vec![("errmsg", s("Invalid Username/Password"))],
        ),
        (
            3,
            vec![X::I(2), X::I(3), X::S(b"STD")],
            vec![("cap2", Value::Int(3)), ("capabilities", s("STD"))],
        ),
        (
            4,
            vec![X::S(b"u"), X::S(b"p")],
            vec![("user", s("u")), ("password", s("<redacted>"))],
        ),
        (
            5,
            vec![X::I(2), X::I(3), X::S(b"STD:DBG")],
            vec![("cap1", Value::Int(2))],
        ),
        (
            10,
            vec![X::S(b"q"), X::I(0), X::S(b"*")],
            vec![("queue_flags", Value::Int(0)), ("filter", s("*"))],
        ),
        (
            13,
            vec![X::S(b"q"), X::I(-1), X::S(b"")],
            vec![("queue_flags", Value::Int(-1)), ("info", s(""))],
        ),
        (
            15,
            vec![X::S(b"q"), X::I(0), X::S(b"t"), X::O(b"")],
            vec![("topic", s("t")), ("payload_len", Value::Int(0))],
        ),
        (
            17,
            vec![
                X::S(b"q"),
                X::S(b"t"),
                X::O(b""),
                X::I(3),
                X::I(0),
                X::S(b"me"),
            ],
            vec![
                ("msg_id", Value::Int(3)),
                ("timestamp", Value::Int(0)),
                ("time", s("1970-01-01T00:00:00Z")),
                ("sender", s("me")),
            ],
        ),
    ];
    for (t, body, want) in cases {
        for (enc, name) in [(xdr as fn(i32, i32, &[X]) -> Vec<u8>, "xdr"), (xml, "xml")] {
            let items = run(&[(Dir::S2C, enc(9, t, &body))]);
            let ms = msgs(&items);
            assert_eq!(ms.len(), 1, "{name} type {t}: {:?}", undecoded(&items));
            assert_eq!(ms[0].name, type_name(i64::from(t)).unwrap());
            for (k, v) in &want {
                assert_eq!(get(ms[0], k), v, "{name} type {t} field {k}");
            }
            assert_eq!(ms[0].is_error, t == 2);
        }
    }
}

// ---------------------------------------------------------------------------
// XML specifics.

#[test]
fn xml_lenient_decoding_reports_errors() {
    let doc = format!(
        "{XML_HEAD}<int32>1</int32><int32>2</int32><int32>1</int32><int32>9</int32><string>a&amp;b&lt;c &quot; caf\u{e9} \u{20ac}</string></xds>\n"
    );
    let items = run(&[(Dir::S2C, doc.into_bytes())]);
    let m = msgs(&items)[0];
    assert_eq!(m.name, "ERROR");
    assert!(has_note(m, Severity::Warn, "bad entity"));
    assert!(has_note(m, Severity::Warn, "above 255"));
    // Latin-1 byte E9 for U+00E9; the rest kept raw.
    let Value::Bytes(b) = get(m, "errmsg") else {
        panic!("{:?}", get(m, "errmsg"))
    };
    assert!(b.starts_with(b"a&b<c &quot; caf\xe9 "));
    // Unknown element, bad int, bad base64, out-of-range int32.
    let doc = format!(
        "{XML_HEAD}<int32>1</int32><int32>15</int32><int32>1</int32><int32>9</int32><string>q</string><int32>99999999999</int32><foo>x</foo><octetstream>!!</octetstream></xds>\n"
    );
    let items = run(&[(Dir::C2S, doc.into_bytes())]);
    let m = msgs(&items)[0];
    assert!(has_note(m, Severity::Warn, "out of range"));
    assert!(has_note(m, Severity::Warn, "unknown element"));
    assert!(has_note(m, Severity::Warn, "invalid base64"));
}

#[test]
fn xml_unimplemented_types_show_items_generically() {
    let items = run(&[(Dir::C2S, xml(3, 6, &[X::I(1001), X::S(b"x")]))]);
    let m = msgs(&items)[0];
    assert_eq!(m.name, "APPID");
    let Value::List(l) = get(m, "items") else {
        panic!()
    };
    assert_eq!(l.len(), 2);
}

#[test]
fn xml_truncated_and_cut_documents() {
    // No </xds> before close.
    let mut d = xml(1, 2, &[X::S(b"boom")]);
    d.truncate(d.len() - 8);
    let items = run(&[(Dir::S2C, d)]);
    let m = msgs(&items)[0];
    assert!(has_note(m, Severity::Warn, "truncated"));
    // A new document before </xds>: the first is cut there.
    let mut d = xml(1, 2, &[X::S(b"boom")]);
    d.truncate(d.len() - 8);
    let cut = d.len();
    d.extend(xml(2, 1, &[X::I(1)]));
    let items = run(&[(Dir::S2C, d)]);
    let ms = msgs(&items);
    assert_eq!(ms.len(), 2);
    assert_eq!(ms[0].len, cut);
    assert!(has_note(ms[0], Severity::Warn, "cut short"));
    // Whitespace between documents and a document without prolog.
    let mut d = b"\r\n".to_vec();
    d.extend(xml(1, 1, &[X::I(1)]));
    d.extend(b"  <xds><int32>2</int32><int32>1</int32><int32>1</int32><int32>9</int32><int32>1</int32></xds>");
    let items = run(&[(Dir::S2C, d)]);
    assert_eq!(msgs(&items).len(), 2);
    assert!(undecoded(&items).iter().all(|u| u.4 == Severity::Info));
}

#[test]
fn xml_resynchronises_after_a_gap_at_the_next_document() {
    let a = xml(1, 3, &[X::I(2), X::I(3), X::S(b"STD")]);
    let b = xml(2, 1, &[X::I(1)]);
    let c = xml(3, 1, &[X::I(2)]);
    let mut d = Driver::new(
        Box::new(MqServer::new(SessionStart::default(), Options::default())),
        Limits::default(),
    );
    let mut items = Vec::new();
    d.data(Dir::S2C, 0, &a, &mut |i| items.push(i));
    // Lose the start of b.
    let lost = 30u64;
    d.data(
        Dir::S2C,
        a.len() as u64 + lost,
        &b[lost as usize..],
        &mut |i| items.push(i),
    );
    d.data(Dir::S2C, (a.len() + b.len()) as u64, &c, &mut |i| {
        items.push(i)
    });
    d.close(&mut |i| items.push(i));
    // Resumes at the <xds> of the damaged document (its prolog was lost).
    let got: Vec<i64> = ids(&items, Dir::S2C).iter().map(|x| x.0).collect();
    assert_eq!(got, [1, 2, 3]);
    let u = undecoded(&items);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].1, a.len() as u64 + lost);
    let xds_at = b.windows(5).position(|w| w == b"<xds>").unwrap() as u64;
    assert_eq!(u[0].2, xds_at - lost);
}

// ---------------------------------------------------------------------------
// TEXT.

#[test]
fn text_reference_examples() {
    // Section 15.4, byte for byte.
    let srvcap = b"0|SRVCAP|1|10|0|492018002|x7Qz 3 STD\0".to_vec();
    let auth = b"1|4|1|9|0|3726962959|fish haha\0\0".to_vec();
    let ack = b"1|ACK|1|17|0|4015397000|-1|account locked\0".to_vec();
    let items = run(&[
        (Dir::S2C, srvcap.clone()),
        (Dir::C2S, auth.clone()),
        (Dir::S2C, ack.clone()),
    ]);
    assert!(undecoded(&items).is_empty(), "{:?}", undecoded(&items));
    let ms = msgs(&items);
    assert_eq!(ms.len(), 3);
    let (sc, au, ak) = (ms[0], ms[1], ms[2]);
    assert_eq!(sc.len, srvcap.len());
    assert_eq!(get(sc, "mid"), &Value::Int(0));
    assert_eq!(get(sc, "pwhash"), &s("x7Qz"));
    assert_eq!(get(sc, "capflags"), &s("3"));
    assert_eq!(get(sc, "capdetails"), &s("STD"));
    assert_eq!(get(sc, "crc_ok"), &Value::Bool(true));
    assert_eq!(au.len, auth.len(), "two NULs belong to the message");
    assert_eq!(get(au, "user"), &s("fish"));
    assert_eq!(get(au, "password"), &s(body::REDACTED));
    assert!(matches!(get(au, "data"), Value::Str(v) if v.starts_with("<redacted>")));
    assert!(!au.summary.contains("haha"));
    assert!(has_note(au, Severity::Warn, "credential on the wire"));
    // The ACK's DATA holds a '|' and is delimited by LEN; its header MID is
    // the AUTH's.
    assert_eq!(ak.len, ack.len());
    assert_eq!(ak.reply_to, Some(au.msg_ref()));
    assert_eq!(get(ak, "ackmess"), &s("-1|account locked"));
    assert_eq!(get(ak, "auth_result"), &s("account error"));
    assert_eq!(get(ak, "account_message"), &s("account locked"));
    assert!(ak.is_error);
    assert!(has_note(ak, Severity::Warn, "AUTH failure"));
    for m in &ms {
        assert_eq!(get(m, "encoding"), &s("text"));
        assert_clean_summary(m);
    }
    assert!(session_notes(&items)
        .iter()
        .any(|n| n.text.contains("TEXT form in use")));
}

/// One message of every type in a form, with the body of section 4.3.
fn design_bodies() -> Vec<(u16, &'static [u8])> {
    vec![
        (3, b"salt 3 STD extra" as &[u8]),
        (5, b"3 STD"),
        (4, b"fish 0123abcd"),
        (6, b"1001 1002"),
        (7, b"+alice -bob"),
        (7, b""),
        (8, b"news sport"),
        (9, b"+alice 1001 1002 +bob"),
        (10, b"news DEAF"),
        (11, b"news"),
        (12, b"newq"),
        (13, b"news 0 3 members"),
        (14, b"news 1"),
        (15, b"news topic payload"),
        (16, b"news 1"),
        (17, b"news topic 1 fish payload"),
        (18, b"alice 1001 hi"),
        (19, b"alice 1001 hi"),
        (1, b"1"),
        (2, b"ENOQUEUE sport"),
    ]
}

fn check_design_types(items: &[Item]) {
    let ms = msgs(items);
    assert_eq!(ms.len(), design_bodies().len(), "{:?}", undecoded(items));
    let f = |i: usize, k: &str| get(ms[i], k).clone();
    assert_eq!(f(0, "capdetails"), s("STD extra"));
    assert_eq!(f(1, "text"), s("3 STD"));
    assert_eq!(f(2, "user"), s("fish"));
    assert_eq!(
        f(3, "appids"),
        Value::List(vec![
            Field::new(
                "appid",
                ms[3].field("appids").unwrap().value_range(0),
                s("1001")
            ),
            Field::new(
                "appid",
                ms[3].field("appids").unwrap().value_range(1),
                s("1002")
            ),
        ])
    );
    assert_eq!(f(4, "list_request"), Value::Bool(false));
    assert_eq!(f(5, "list_request"), Value::Bool(true));
    let Value::List(q) = f(6, "queues") else {
        panic!()
    };
    assert_eq!(q.len(), 2);
    let Value::List(users) = f(7, "users") else {
        panic!()
    };
    assert_eq!(users.len(), 2);
    assert_eq!(f(8, "queue_flags"), s("DEAF"));
    assert_eq!(f(9, "text"), s("news"));
    assert_eq!(f(11, "info"), s("0 3 members"));
    assert_eq!(f(13, "text"), s("news topic payload"));
    assert_eq!(f(16, "text"), s("alice 1001 hi"));
    assert_eq!(f(18, "ackmess"), s("1"));
    assert_eq!(f(19, "errid"), s("ENOQUEUE"));
    assert_eq!(f(19, "errmsg"), s("sport"));
    let kinds: Vec<Kind> = ms.iter().map(|m| m.kind).collect();
    assert_eq!(kinds[0], Kind::Greeting);
    assert_eq!(kinds[18], Kind::Response);
    assert_eq!(kinds[19], Kind::Response);
    assert!(ms[19].is_error);
    // Every one of the 19 names appears.
    for &(_, n) in TYPES.entries {
        assert!(ms.iter().any(|m| m.name == n), "{n}");
    }
    for m in &ms {
        assert_clean_summary(m);
    }
}

trait ValueRange {
    fn value_range(&self, i: usize) -> Option<std::ops::Range<usize>>;
}

impl ValueRange for Field {
    fn value_range(&self, i: usize) -> Option<std::ops::Range<usize>> {
        match &self.value {
            Value::List(l) => l[i].range.clone(),
            _ => None,
        }
    }
}

#[test]
fn text_every_message_type() {
    let mut c = Vec::new();
    for (i, (t, b)) in design_bodies().into_iter().enumerate() {
        // Alternate names and numbers for MSGTYPE.
        let tn = if i % 2 == 0 {
            type_name(i64::from(t)).unwrap().to_ascii_lowercase()
        } else {
            t.to_string()
        };
        c.extend(text_raw(&(i + 1).to_string(), &tn, "0", b, 1));
    }
    let items = run(&[(Dir::C2S, c)]);
    check_design_types(&items);
}

#[test]
fn text_header_variants() {
    // Flags by name and in hex, V1, trimmed spaces, negative CRC, aliases.
    let data = b"alice 1001 yo";
    assert!(crc32(data) >= 1 << 31);
    let neg = crc32(data) as i32;
    let m1 = format!(
        " 5 | MSGFRCLNT |V1|{}|REQUIREACK+REQUIREACPPROCESS|{neg}|",
        data.len()
    );
    let mut c = m1.into_bytes();
    c.extend_from_slice(data);
    c.push(0);
    c.extend(text_raw("6", "SENTTOCLNT", "0x11", data, 1));
    let items = run(&[(Dir::S2C, c)]);
    let ms = msgs(&items);
    assert_eq!(ms.len(), 2, "{:?}", undecoded(&items));
    assert_eq!(ms[0].name, "MSGFROMCLNT");
    assert_eq!(get(ms[0], "msgtype"), &Value::Int(19));
    assert_eq!(path(ms[0], &["flags", "value"]), &Value::UInt(3));
    assert_eq!(
        path(ms[0], &["flags", "require_ack_process"]),
        &Value::Bool(true)
    );
    assert!(has_note(ms[0], Severity::Info, "trimmed"));
    assert!(has_note(ms[0], Severity::Info, "negative"));
    assert_eq!(get(ms[0], "crc_ok"), &Value::Bool(true));
    assert_eq!(ms[1].name, "SENDTOCLNT");
    assert!(has_note(ms[1], Severity::Info, "undefined FLAGS bits 0x10"));
    assert!(has_note(ms[1], Severity::Warn, "from the server"));
    // VERSION other than 1: decoded, flagged.
    let items = run(&[(
        Dir::S2C,
        text_raw("0", "3", "0", b"a b c", 1)
            .iter()
            .map(|&b| if b == b'1' { b'2' } else { b })
            .collect(),
    )]);
    let m = msgs(&items)[0];
    assert!(has_note(m, Severity::Warn, "VERSION"));
}

#[test]
fn text_framing_errors() {
    // CRC mismatch: error note, message still shown.
    let bad_crc = format!("1|CLNTCAP|1|5|0|{}|3 STD\0", crc32(b"3 STD") ^ 1);
    let mut c = bad_crc.into_bytes();
    // MSGTYPE outside 1-19: skipped with framing kept.
    c.extend(text_raw("3", "42", "0", b"x", 1));
    // Garbage, then a good message after a NUL.
    c.extend_from_slice(b"hello there\0");
    c.extend(text(4, "APPID", b"1"));
    // DATA complete but no terminator at the end of the stream.
    let mut last = text(5, "APPID", b"2");
    last.pop();
    c.extend(last);
    let items = run(&[(Dir::C2S, c)]);
    let ms = msgs(&items);
    let names: Vec<&str> = ms.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["CLNTCAP", "APPID", "APPID"],
        "{:?}",
        undecoded(&items)
    );
    assert!(has_note(ms[0], Severity::Error, "CRC mismatch"));
    assert_eq!(get(ms[0], "crc_ok"), &Value::Bool(false));
    assert!(has_note(ms[2], Severity::Error, "missing terminator"));
    let u = undecoded(&items);
    assert!(u
        .iter()
        .any(|x| x.3.contains("outside 1-19") && x.4 == Severity::Error));
    assert!(u
        .iter()
        .any(|x| x.3.contains("malformed TEXT") && x.4 == Severity::Error));
    // LEN mismatch: declared 99, DATA ends at the NUL.
    let items = run(&[(Dir::C2S, b"2|AUTH|1|99|0|0|fish haha\0".to_vec())]);
    let m = msgs(&items)[0];
    assert!(has_note(
        m,
        Severity::Error,
        "LEN mismatch (declared 99, actual 9)"
    ));
    assert_eq!(get(m, "user"), &s("fish"));
    // LEN too small: the NUL is found further on.
    let mut c = b"2|AUTH|1|3|0|0|fish haha\0".to_vec();
    c.extend(text(3, "APPID", b"7"));
    let items = run(&[(Dir::C2S, c)]);
    let ms = msgs(&items);
    assert_eq!(ms.len(), 2);
    assert!(has_note(
        ms[0],
        Severity::Error,
        "LEN mismatch (declared 3, actual 9)"
    ));
    // Truncated DATA at the end of the stream is not a message.
    let items = run(&[(Dir::C2S, b"2|AUTH|1|20|0|0|fish".to_vec())]);
    assert!(msgs(&items).is_empty());
    assert!(undecoded(&items)[0].3.contains("truncated"));
}

#[test]
fn text_resynchronises_after_a_gap_and_mid_stream() {
    let a = text(1, "CLNTCAP", b"3 STD");
    let b = text(2, "AUTH", b"fish haha");
    let c = text(3, "APPID", b"1001");
    // Mid-stream: the first bytes are the tail of a message.
    let mut stream = a[4..].to_vec();
    stream.extend_from_slice(&b);
    stream.extend_from_slice(&c);
    let items = run_opts(
        &[(Dir::C2S, stream)],
        7,
        SessionStart { mid_stream: true },
        Options::default(),
    );
    let got: Vec<i64> = ids(&items, Dir::C2S).iter().map(|x| x.0).collect();
    assert_eq!(got, [2, 3]);
    let u = undecoded(&items);
    assert_eq!(u[0].1, 0);
    assert!(u.iter().all(|x| x.1 < (a.len() - 4) as u64));
    // No state warnings mid-stream (AUTH before SRVCAP is unknowable).
    assert!(!msgs(&items)
        .iter()
        .any(|m| m.notes.iter().any(|n| n.text.contains("before"))));
    // After a gap.
    let mut d = Driver::new(
        Box::new(MqServer::new(SessionStart::default(), Options::default())),
        Limits::default(),
    );
    let mut items = Vec::new();
    d.data(Dir::C2S, 0, &a, &mut |i| items.push(i));
    d.data(Dir::C2S, a.len() as u64 + 3, &b[3..], &mut |i| {
        items.push(i)
    });
    d.data(Dir::C2S, (a.len() + b.len()) as u64, &c, &mut |i| {
        items.push(i)
    });
    d.close(&mut |i| items.push(i));
    let got: Vec<i64> = ids(&items, Dir::C2S).iter().map(|x| x.0).collect();
    assert_eq!(got, [1, 3]);
}

// ---------------------------------------------------------------------------
// EARLY.

#[test]
fn early_reference_test_client_with_fixed_padding() {
    // Section 15.3: raw text DATA, CRC 2099544737, NUL + 63 zero bytes,
    // the same message six times.
    let one = early_raw(21311, 2, 0, b"This is my data string", None, 63);
    assert_eq!(one.len(), 106);
    assert_eq!(&one[16..20], &[0x7d, 0x24, 0x82, 0xa1]);
    let stream: Vec<u8> = one.repeat(6);
    let items = run(&[(Dir::C2S, stream)]);
    let ms = msgs(&items);
    assert_eq!(ms.len(), 6);
    for m in &ms {
        assert_eq!(m.name, "ERROR");
        assert_eq!(m.len, 43);
        assert_eq!(get(m, "body_view"), &s("raw text"));
        assert_eq!(get(m, "errid"), &s("This"));
        assert_eq!(get(m, "crc_ok"), &Value::Bool(true));
        assert_eq!(get(m, "mid"), &Value::Int(21311));
    }
    let u = undecoded(&items);
    assert_eq!(u.len(), 6);
    for x in &u {
        assert_eq!(x.2, 63);
        assert_eq!(x.4, Severity::Info);
        assert!(
            x.3.contains("fixed-size padding") || x.3.contains("end of the stream"),
            "{}",
            x.3
        );
    }
    assert!(session_notes(&items)
        .iter()
        .any(|n| n.text.contains("fixed 63-byte padding after 5")));
}

#[test]
fn early_reference_encoded_auth() {
    let m = early_raw(
        2,
        4,
        0,
        &[0x01, 0x65, 0x68, 0x72, 0x67, 0x1f, 0x67, 0x60, 0x67, 0x60],
        None,
        0,
    );
    assert_eq!(&m[16..20], &472_652_476u32.to_be_bytes());
    let items = run(&[(Dir::C2S, m)]);
    let a = msgs(&items)[0];
    assert_eq!(a.name, "AUTH");
    assert_eq!(get(a, "body_view"), &s("sqlite"));
    assert_eq!(get(a, "user"), &s("fish"));
    // Ranges point into the encoded DATA: "fish" is bytes 21..25.
    assert_eq!(a.field("user").unwrap().range, Some(21..25));
    assert_eq!(get(a, "password"), &s(body::REDACTED));
    assert!(matches!(get(a, "body"), Value::Str(v) if v.starts_with("<redacted>")));
}

#[test]
fn early_every_message_type() {
    let mut c = Vec::new();
    for (i, (t, b)) in design_bodies().into_iter().enumerate() {
        c.extend(early_raw(
            i as u32 + 1,
            t,
            0,
            &sqlite::encode(b),
            None,
            i % 7,
        ));
    }
    let items = run(&[(Dir::C2S, c)]);
    check_design_types(&items);
    for m in msgs(&items) {
        assert_eq!(get(m, "encoding"), &s("binary"));
    }
}

#[test]
fn early_padding_of_any_length_before_any_mid() {
    // The header search of 5.2 must land on the header whatever the amount
    // of padding and the number of leading zero bytes of the next MID.
    for pad in [0usize, 1, 2, 3, 4, 5, 6, 58, 59, 60, 62, 63, 64, 100] {
        for mid in [0u32, 1, 2, 19, 255, 256, 70000, 0x0100_0000] {
            for t in [1u16, 3, 19] {
                let mut st = early_raw(7, 5, 0, b"x", None, pad);
                st.extend(early_raw(mid, t, 0, &sqlite::encode(b"a b"), None, 0));
                let items = run(&[(Dir::C2S, st)]);
                let got = ids(&items, Dir::C2S);
                assert_eq!(
                    got,
                    [
                        (7, 5, "binary".to_owned()),
                        (i64::from(mid), i64::from(t), "binary".to_owned())
                    ],
                    "pad {pad} mid {mid} type {t}: {:?}",
                    undecoded(&items)
                );
            }
        }
    }
}

#[test]
fn early_data_views_and_errors() {
    // Empty body is DATA "x"; "y" is raw text.
    let items = run(&[
        (Dir::S2C, early_raw(1, 1, 0, b"x", None, 0)),
        (Dir::C2S, early_raw(1, 1, 0, b"y", None, 0)),
    ]);
    let ms = msgs(&items);
    let x = ms.iter().find(|m| m.dir == Dir::S2C).unwrap();
    let y = ms.iter().find(|m| m.dir == Dir::C2S).unwrap();
    assert_eq!(get(x, "ackmess"), &s(""));
    assert_eq!(get(y, "ackmess"), &s("y"));
    // 01 28 (later SQLite) decodes, flagged info.
    let items = run(&[(
        Dir::S2C,
        early_raw(1, 2, 0, &[0x01, 0x44, 0x01, 0x28], None, 0),
    )]);
    let m = msgs(&items)[0];
    assert_eq!(get(m, "errid"), &s("E("));
    assert!(has_note(m, Severity::Info, "01 28"));
    // Bad escape: raw bytes, warning.
    let items = run(&[(
        Dir::S2C,
        early_raw(1, 2, 0, &[0x01, 0x44, 0x01, 0x09], None, 0),
    )]);
    assert!(has_note(
        msgs(&items)[0],
        Severity::Warn,
        "SQLite decode error"
    ));
    // Non-canonical offset: decoded, info.
    let items = run(&[(
        Dir::S2C,
        early_raw(1, 2, 0, &[0x05, 0x40, 0x40, 0x09], None, 0),
    )]);
    let m = msgs(&items)[0];
    assert_eq!(get(m, "body_view"), &s("sqlite (non-canonical)"));
    assert!(has_note(m, Severity::Info, "non-canonical"));
    // CRC mismatch is an error; the message is still shown.
    let items = run(&[(
        Dir::C2S,
        early_raw(3, 6, 0, &sqlite::encode(b"1"), Some(5), 0),
    )]);
    let m = msgs(&items)[0];
    assert!(has_note(m, Severity::Error, "CRC mismatch"));
    assert_eq!(
        get(m, "appids"),
        &Value::List(vec![Field::new("appid", Some(21..22), s("1"))])
    );
    // LEN too large: the first NUL ends DATA.
    let mut bad = early(4, 6, b"1001");
    bad[11] = 200;
    bad.extend(early(5, 6, b"1002"));
    let items = run(&[(Dir::C2S, bad)]);
    let ms = msgs(&items);
    assert_eq!(ms.len(), 2, "{:?}", undecoded(&items));
    assert!(has_note(ms[0], Severity::Error, "LEN mismatch"));
    // Garbage between messages.
    let mut st = early(1, 6, b"1");
    st.extend_from_slice(b"\x00\x00\xff\xfe garbage \xff");
    st.extend(early(2, 6, b"2"));
    let items = run(&[(Dir::C2S, st)]);
    assert_eq!(msgs(&items).len(), 2);
    assert!(undecoded(&items)
        .iter()
        .any(|u| u.3.contains("garbage") && u.4 == Severity::Warn));
}

#[test]
fn early_resynchronises_on_header_and_crc() {
    let a = early_raw(1, 5, 0, &sqlite::encode(b"3 STD"), None, 63);
    let b = early_raw(2, 4, 0, &sqlite::encode(b"fish haha"), None, 63);
    let c = early_raw(3, 6, 0, &sqlite::encode(b"1001"), None, 63);
    let mut stream = a[9..].to_vec();
    stream.extend_from_slice(&b);
    stream.extend_from_slice(&c);
    for chunk in [1, 13, 1 << 20] {
        let items = run_opts(
            &[(Dir::C2S, stream.clone())],
            chunk,
            SessionStart { mid_stream: true },
            Options::default(),
        );
        let got: Vec<i64> = ids(&items, Dir::C2S).iter().map(|x| x.0).collect();
        assert_eq!(got, [2, 3], "chunk {chunk}");
    }
}

// ---------------------------------------------------------------------------
// Session behaviour.

#[test]
fn pairing_and_state_notes_in_design_forms() {
    let sched = vec![
        // AUTH before SRVCAP.
        (Dir::C2S, text(1, "AUTH", b"fish pw")),
        (Dir::S2C, text(0, "SRVCAP", b"s 3 STD")),
        (Dir::S2C, text(1, "ACK", b"0")),
        // APPID after a failed AUTH.
        (Dir::C2S, text(2, "APPID", b"1")),
        // Flags ask for an ACK that never comes; MID goes backwards.
        (Dir::C2S, text_raw("1", "FINDQUEUE", "1", b"q1 q2", 1)),
        (Dir::S2C, text(1, "QUEUEINFO", b"q2 x")),
        (Dir::S2C, text(9, "ERROR", b"ENOQUEUE q1")),
        // An ACK for nothing; a server message from the client.
        (Dir::S2C, text(77, "ACK", b"")),
        (Dir::C2S, text(3, "MSGFROMQUEUE", b"q t 1 me x")),
        (Dir::C2S, text(4, "PRESENCE", b"+me 1")),
        (Dir::S2C, text(2, "CLNTCAP", b"3 STD")),
    ];
    let items = run(&sched);
    let ms = msgs(&items);
    let by = |n: &str, k: usize| *ms.iter().filter(|m| m.name == n).nth(k).unwrap();
    assert!(has_note(
        by("AUTH", 0),
        Severity::Warn,
        "AUTH before SRVCAP"
    ));
    let ack = by("ACK", 0);
    assert_eq!(ack.reply_to, Some(by("AUTH", 0).msg_ref()));
    assert_eq!(get(ack, "auth_result"), &s("failure"));
    assert!(ack.is_error);
    assert!(has_note(
        by("APPID", 0),
        Severity::Warn,
        "before a successful AUTH"
    ));
    let fq = by("FINDQUEUE", 0);
    assert!(has_note(fq, Severity::Info, "goes backwards"));
    assert_eq!(by("QUEUEINFO", 0).reply_to, Some(fq.msg_ref()));
    // The ERROR's header MID (9) matches nothing: the peer's latest.
    assert_eq!(by("ERROR", 0).reply_to, Some(fq.msg_ref()));
    assert!(has_note(by("ACK", 1), Severity::Info, "unknown MID 77"));
    assert!(has_note(
        by("MSGFROMQUEUE", 0),
        Severity::Warn,
        "from the client"
    ));
    assert!(has_note(by("PRESENCE", 0), Severity::Info, "D13"));
    assert!(has_note(
        by("CLNTCAP", 0),
        Severity::Warn,
        "from the server"
    ));
    // FINDQUEUE asked for an ACK; the ENOQUEUE ERROR settled it.
    assert!(!session_notes(&items)
        .iter()
        .any(|n| n.text.contains("ACK missing")));
}

#[test]
fn appid_after_the_clntcap_ack_is_not_flagged() {
    // D14: anywhere after the CLNTCAP acknowledgement, even before AUTH.
    let items = run(&[
        (Dir::S2C, text(0, "SRVCAP", b"s 3 STD")),
        (Dir::C2S, text(1, "CLNTCAP", b"3 STD")),
        (Dir::S2C, text(1, "ACK", b"")),
        (Dir::C2S, text(2, "APPID", b"1001")),
        (Dir::C2S, text(3, "JOINQUEUE", b"news")),
    ]);
    let ms = msgs(&items);
    assert!(ms[3].notes.is_empty(), "{:?}", ms[3].notes);
    assert!(has_note(ms[4], Severity::Warn, "before a successful AUTH"));
}

#[test]
fn ack_missing_at_close_only_in_design_forms() {
    let items = run(&[(
        Dir::C2S,
        text_raw("1", "PARTQUEUE", "REQUIREACK", b"news", 1),
    )]);
    assert!(session_notes(&items)
        .iter()
        .any(|n| n.text.contains("ACK missing at close: PARTQUEUE MID 1")));
    // The final implementation sets 0x01 everywhere and never ACKs it.
    let items = run(&[(Dir::C2S, xdr(1, 10, &[X::S(b"q"), X::I(0), X::S(b"*")]))]);
    assert!(!session_notes(&items)
        .iter()
        .any(|n| n.text.contains("ACK missing")));
}

#[test]
fn xds_error_refers_to_the_previous_message_and_fails_auth() {
    let items = run(&[
        (Dir::S2C, xml(1, 3, &[X::I(2), X::I(3), X::S(b"STD")])),
        (Dir::C2S, xml(1, 4, &[X::S(b"fish"), X::S(b"bad")])),
        (Dir::S2C, xml(2, 2, &[X::S(b"Invalid Username/Password")])),
    ]);
    let ms = msgs(&items);
    assert_eq!(ms[2].reply_to, Some(ms[1].msg_ref()));
    assert!(ms[2].is_error);
    assert!(has_note(ms[2], Severity::Warn, "AUTH failure"));
    assert!(has_note(ms[2], Severity::Warn, "Invalid Username/Password"));
}

#[test]
fn forms_differing_between_directions_are_flagged() {
    let items = run(&[
        (Dir::S2C, xml(1, 3, &[X::I(2), X::I(3), X::S(b"STD")])),
        (Dir::C2S, xdr(1, 5, &[X::I(2), X::I(3), X::S(b"STD")])),
    ]);
    assert_eq!(msgs(&items).len(), 2);
    assert!(session_notes(&items)
        .iter()
        .any(|n| n.severity == Severity::Warn && n.text.contains("forms differ")));
}

#[test]
fn version_and_mid_notes() {
    let mut m = xdr(1, 2, &[X::S(b"x")]);
    let mut second = xdr(1, 2, &[X::S(b"y")]);
    second[11] = 2;
    m.extend(second);
    let items = run(&[(Dir::S2C, m)]);
    let ms = msgs(&items);
    assert_eq!(ms.len(), 2);
    assert!(has_note(ms[1], Severity::Warn, "VERSION 2"));
    assert!(has_note(ms[1], Severity::Info, "MID 1 repeated"));
    assert_eq!(get(ms[1], "version"), &Value::Int(2));
}

#[test]
fn garbage_never_becomes_a_message() {
    for junk in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"{\"QMP\": {\"version\": {}}}\r\n",
        &[0u8; 300],
    ] {
        let items = run(&[(Dir::C2S, junk.to_vec()), (Dir::S2C, junk.to_vec())]);
        assert!(msgs(&items).is_empty(), "{junk:?}");
    }
}

// ---------------------------------------------------------------------------
// Probe.

#[test]
fn probe_by_form_and_direction() {
    let fresh = SessionStart::default();
    let srv_xdr = xdr(1, 3, &[X::I(2), X::I(3), X::S(b"STD")]);
    let cli_xdr = xdr(1, 5, &[X::I(2), X::I(3), X::S(b"STD")]);
    assert_eq!(probe(&[], &srv_xdr, fresh), Verdict::Match { swap: false });
    assert_eq!(probe(&srv_xdr, &[], fresh), Verdict::Match { swap: true });
    assert_eq!(probe(&cli_xdr, &[], fresh), Verdict::Match { swap: false });
    let srv_xml = xml(1, 3, &[X::I(2), X::I(3), X::S(b"STD")]);
    assert_eq!(probe(&[], &srv_xml, fresh), Verdict::Match { swap: false });
    assert_eq!(probe(&[], &srv_xml[..40], fresh), Verdict::NeedMore);
    let srv_text = text(0, "SRVCAP", b"s 3 STD");
    assert_eq!(probe(&[], &srv_text, fresh), Verdict::Match { swap: false });
    assert_eq!(probe(&[], b"0|SRV", fresh), Verdict::NeedMore);
    let srv_early = early(0, 3, b"s 3 STD");
    assert_eq!(
        probe(&[], &srv_early, fresh),
        Verdict::Match { swap: false }
    );
    assert_eq!(probe(&[], &srv_early[..6], fresh), Verdict::NeedMore);
    let cli_early = early(1, 5, b"3 STD");
    assert_eq!(
        probe(&cli_early, &[], fresh),
        Verdict::Match { swap: false }
    );
    // A server-only type first on the client side: the sides are swapped.
    let push = early(1, 17, b"q t 1 me x");
    assert_eq!(probe(&push, &[], fresh), Verdict::Match { swap: true });
    assert_eq!(probe(&[], &[], fresh), Verdict::NeedMore);
    // Other protocols are rejected quickly.
    assert_eq!(
        probe(&[], b"{\"QMP\": {\"version\"", fresh),
        Verdict::NoMatch(None)
    );
    assert_eq!(
        probe(b"GET / HTTP/1.1\r\n", &[], fresh),
        Verdict::NoMatch(None)
    );
    assert_eq!(
        probe(&[], b"SSH-2.0-OpenSSH_9.6\r\n", fresh),
        Verdict::NoMatch(None)
    );
    assert_eq!(probe(&[], &[0x06], fresh), Verdict::NeedMore);
    assert_eq!(
        probe(&[], &[0x06, 0, 0, 0, 1], fresh),
        Verdict::NoMatch(None)
    );
    assert_eq!(
        probe(&[], b"<?xml version=\"1.0\"?><stream:stream>", fresh),
        Verdict::NoMatch(None)
    );
    assert_eq!(
        probe(&[], b"Welcome to the MQServer console\r\n> ", fresh),
        Verdict::NoMatch(None)
    );
}

#[test]
fn probe_mid_stream() {
    let mid = SessionStart { mid_stream: true };
    let mut s2c = b"e>\n".to_vec();
    s2c.extend(xml(4, 13, &[X::S(b"q"), X::I(0), X::S(b"")]));
    assert_eq!(probe(&[], &s2c, mid), Verdict::Match { swap: false });
    assert_eq!(probe(&s2c, &[], mid), Verdict::Match { swap: true });
    let mut c2s = b"ha\0".to_vec();
    c2s.extend(text(3, "APPID", b"1"));
    assert_eq!(probe(&c2s, &[], mid), Verdict::Match { swap: false });
    assert_eq!(probe(&[0x55; 100], &[0x66; 100], mid), Verdict::NeedMore);
    assert_eq!(
        probe(&[0x55; 5000], &[0x66; 5000], mid),
        Verdict::NoMatch(None)
    );
}

#[test]
fn long_messages_in_small_segments_decode_in_linear_time() {
    // 900 kB bodies in 1460-byte segments: rescanning the buffer at every
    // segment would take minutes here.
    let big: Vec<u8> = (0..900_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut early_body = b"news topic ".to_vec();
    early_body.extend_from_slice(&big);
    let xdr_msg = xdr(
        2,
        15,
        &[X::S(b"q"), X::I(big.len() as i32), X::S(b"t"), X::O(&big)],
    );
    let xml_msg = xml(
        2,
        15,
        &[X::S(b"q"), X::I(big.len() as i32), X::S(b"t"), X::O(&big)],
    );
    let start = std::time::Instant::now();
    for (sched, form) in [
        (vec![(Dir::C2S, early(1, 15, &early_body))], "binary"),
        (
            vec![(Dir::C2S, text(1, "SENDTOQUEUE", &early_body))],
            "text",
        ),
        (vec![(Dir::C2S, xdr_msg.clone())], "xdr"),
        (vec![(Dir::C2S, xml_msg.clone())], "xml"),
    ] {
        let items = run_opts(&sched, 1460, SessionStart::default(), Options::default());
        let ms = msgs(&items);
        assert_eq!(ms.len(), 1, "{form}: {:?}", undecoded(&items));
        assert_eq!(get(ms[0], "encoding"), &s(form));
    }
    assert!(
        start.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
}

proptest::proptest! {
    /// `find_ci` finds what a window-by-window comparison finds, for
    /// patterns with and without a letter first.
    #[test]
    fn find_ci_is_a_case_insensitive_search(
        hay in proptest::collection::vec(proptest::sample::select(b"<?/xXmMlLdDsS> a".to_vec()), 0..200),
        from in 0usize..220,
    ) {
        for pat in [&b"</xds>"[..], b"<?xml", b"</", b"xds", b"<", b""] {
            let naive = if pat.is_empty() {
                Some(from)
            } else {
                hay.get(from..).and_then(|t| {
                    t.windows(pat.len())
                        .position(|w| w.eq_ignore_ascii_case(pat))
                        .map(|p| p + from)
                })
            };
            proptest::prop_assert_eq!(common::find_ci(&hay, pat, from), naive, "{:?}", pat);
        }
    }
}
