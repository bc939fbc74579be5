//! Edge-case seeds for the mqserver fuzz target (`fuzz/corpus/mqserver/
//! edge-*`), built with `qscope_dissectors::fuzzing::encode`, in all four
//! forms (XDR included: there is no XDR capture). The corpus replay test
//! (`fuzz_corpus.rs`) runs them; this file keeps them in step with their
//! definition. Regenerate with
//! `cargo test -p qscope-dissectors --test mqserver_seeds -- --ignored`.

use std::path::PathBuf;

use qscope_dissectors::mqserver::{crc32, sqlite};
use qscope_dissectors::{fuzzing, Dir, Item, Proto, Value};

#[derive(Clone, Copy)]
enum X<'a> {
    I(i32),
    S(&'a [u8]),
    O(&'a [u8]),
}

fn xdr_items(items: &[X]) -> Vec<u8> {
    let mut out = Vec::new();
    for x in items {
        match x {
            X::I(v) => out.extend_from_slice(&v.to_be_bytes()),
            X::S(b) | X::O(b) => {
                out.extend_from_slice(&(b.len() as u32).to_be_bytes());
                out.extend_from_slice(b);
                out.resize(out.len() + (4 - b.len() % 4) % 4, 0);
            }
        }
    }
    out
}

fn xdr(mid: i32, t: i32, items: &[X]) -> Vec<u8> {
    let mut out = xdr_items(&[X::I(mid), X::I(t), X::I(1), X::I(9)]);
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
            s.push(if i <= c.len() {
                A[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
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
                let t: String = b.iter().map(|&c| char::from(c)).collect();
                let t = t
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;");
                s.push_str(&format!("<string>{t}</string>"));
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

fn text(mid: &str, t: &str, flags: &str, data: &[u8], nuls: usize) -> Vec<u8> {
    let mut out = format!("{mid}|{t}|1|{}|{flags}|{}|", data.len(), crc32(data)).into_bytes();
    out.extend_from_slice(data);
    out.resize(out.len() + nuls, 0);
    out
}

fn early_raw(mid: u32, t: u16, data: &[u8], crc: Option<u32>, pad: usize) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&mid.to_be_bytes());
    out.extend_from_slice(&t.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&crc.unwrap_or_else(|| crc32(data)).to_be_bytes());
    out.extend_from_slice(data);
    out.push(0);
    out.resize(out.len() + pad, 0);
    out
}

fn early(mid: u32, t: u16, body: &[u8], pad: usize) -> Vec<u8> {
    early_raw(mid, t, &sqlite::encode(body), None, pad)
}

/// `fuzzing::encode`, with parts cut to at most 127 bytes first: a full
/// 128-byte s2c chunk would get the header byte 0xFF, which the harness
/// reads as a gap marker.
fn enc(parts: &[(Dir, Vec<u8>)]) -> Vec<u8> {
    let p: Vec<(Dir, &[u8])> = parts
        .iter()
        .flat_map(|(d, b)| b.chunks(127).map(move |c| (*d, c)))
        .collect();
    fuzzing::encode(&p)
}

/// `bytes` of `dir` fed in pieces of `n` (separate fuzz chunks).
fn pieces(dir: Dir, bytes: &[u8], n: usize) -> Vec<(Dir, Vec<u8>)> {
    bytes.chunks(n).map(|c| (dir, c.to_vec())).collect()
}

fn c(b: Vec<u8>) -> (Dir, Vec<u8>) {
    (Dir::C2S, b)
}

fn s(b: Vec<u8>) -> (Dir, Vec<u8>) {
    (Dir::S2C, b)
}

/// A gap of `n` (1..=256) bytes in the direction of the previous chunk.
fn gap(n: usize) -> Vec<u8> {
    vec![0xFF, (n - 1) as u8]
}

fn xds_session(enc: fn(i32, i32, &[X]) -> Vec<u8>, inner: &[u8]) -> Vec<(Dir, Vec<u8>)> {
    let zeros = vec![0u8; inner.len()];
    vec![
        s(enc(1, 3, &[X::I(2), X::I(3), X::S(b"STD:DBG")])),
        c(enc(1, 5, &[X::I(2), X::I(3), X::S(b"STD:DBG")])),
        s(enc(2, 1, &[X::I(1)])),
        c(enc(2, 4, &[X::S(b"fish"), X::S(b"haha")])),
        s(enc(3, 1, &[X::I(2)])),
        c(enc(3, 10, &[X::S(b"testqueue"), X::I(0), X::S(b"*")])),
        s(enc(4, 13, &[X::S(b"testqueue"), X::I(0), X::S(b"")])),
        c(enc(
            4,
            15,
            &[
                X::S(b"testqueue"),
                X::I(inner.len() as i32),
                X::S(b"Mytopic"),
                X::O(inner),
            ],
        )),
        s(enc(
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
        )),
        s(enc(6, 2, &[X::S(b"Invalid Username/Password")])),
    ]
}

fn inner_xdr() -> Vec<u8> {
    xdr_items(&[
        X::S(b"hello world this is my testdata name"),
        X::I(1),
        X::S(b"and this is my static string"),
    ])
}

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();

    // XDR: the observed session, whole and split into small pieces.
    let sess = xds_session(xdr, &inner_xdr());
    out.push(("edge-xdr-session", enc(&sess)));
    let mut split = Vec::new();
    for (i, (d, b)) in sess.iter().enumerate() {
        split.extend(pieces(*d, b, 1 + i % 7));
    }
    out.push(("edge-xdr-split", enc(&split)));

    // XDR: an unimplemented type stops the direction; out-of-range type;
    // oversize length; truncation; non-zero padding.
    let mut v = enc(&[
        s(xdr(1, 3, &[X::I(2), X::I(3), X::S(b"STD")])),
        c(xdr(1, 5, &[X::I(2), X::I(3), X::S(b"STD")])),
        c(xdr(2, 6, &[X::I(1001)])),
        c(xdr(3, 4, &[X::S(b"u"), X::S(b"p")])),
        s(xdr(2, 77, &[])),
        s(xdr(3, 1, &[X::I(1)])),
    ]);
    let mut big = xdr(1, 2, &[]);
    big.extend_from_slice(&u32::MAX.to_be_bytes());
    big.extend_from_slice(b"abcd");
    v.extend(enc(&[c(big)]));
    out.push(("edge-xdr-stops", v));
    let mut pad = xdr(1, 2, &[X::S(b"abc")]);
    if let Some(last) = pad.last_mut() {
        *last = 7;
    }
    let auth = xdr(2, 4, &[X::S(b"fish"), X::S(b"haha")]);
    out.push((
        "edge-xdr-truncated",
        enc(&[s(pad), c(auth[..auth.len() - 3].to_vec())]),
    ));

    // XDR: a gap in each direction.
    let mut v = enc(&[
        s(xdr(1, 3, &[X::I(2), X::I(3), X::S(b"STD")])),
        c(xdr(1, 5, &[X::I(2), X::I(3), X::S(b"STD")])),
    ]);
    v.extend(gap(9));
    v.extend(enc(&[c(xdr(2, 4, &[X::S(b"u"), X::S(b"p")]))]));
    v.extend(enc(&[s(xdr(2, 1, &[X::I(1)]))]));
    v.extend(gap(20));
    v.extend(enc(&[s(xdr(3, 1, &[X::I(2)]))]));
    out.push(("edge-xdr-gap", v));

    // XML: the session, lenient decoding errors, cut and truncated documents.
    let inner = xml_elems(&[X::S(b"a<b>&c"), X::I(1), X::S(b"")]).into_bytes();
    out.push(("edge-xml-session", enc(&xds_session(xml, &inner))));
    let bad = format!(
        "{XML_HEAD}<int32>1</int32><int32>15</int32><int32>1</int32><int32>9</int32><string>q&quot;\u{20ac}\u{e9}</string><int32>99999999999</int32><foo>x</foo><octetstream>!!</octetstream></xds>\n"
    );
    let mut cut = xml(2, 2, &[X::S(b"boom")]);
    cut.truncate(cut.len() - 8);
    let mut v = vec![c(b"\r\n".to_vec()), c(bad.into_bytes()), c(cut.clone())];
    v.push(c(xml(3, 6, &[X::I(1001), X::S(b"x")])));
    v.push(c(
        b"  <xds><int32>4</int32><int32>1</int32><int32>1</int32><int32>9</int32><int32>1</int32></xds>"
            .to_vec(),
    ));
    v.push(c(cut));
    out.push(("edge-xml-lenient", enc(&v)));
    let mut v = enc(&[s(xml(1, 3, &[X::I(2), X::I(3), X::S(b"STD")]))]);
    let b2 = xml(2, 1, &[X::I(1)]);
    v.extend(enc(&[s(b2[..40].to_vec())]));
    v.extend(gap(30));
    v.extend(enc(&[s(b2[70..].to_vec()), s(xml(3, 1, &[X::I(2)]))]));
    out.push(("edge-xml-gap", v));

    // TEXT: header variants, framing errors, resynchronisation.
    let mut t = text("0", "SRVCAP", "0", b"x7Qz 3 STD", 1);
    t.extend(b"1|4|1|9|0|3726962959|fish haha\0\0");
    t.extend(b" 5 | MSGFRCLNT |V1|13|REQUIREACK+REQUIREACPPROCESS|-135814340|alice 1001 yo\0");
    t.extend(text("6", "SENTTOCLNT", "0x11", b"a b", 1));
    t.extend(format!("7|CLNTCAP|1|5|0|{}|3 STD\0", crc32(b"3 STD") ^ 1).into_bytes());
    t.extend(b"8|AUTH|1|3|0|0|fish haha\0");
    t.extend(text("9", "42", "0", b"x", 1));
    t.extend(text("10", "2", "v2", b"ENOQUEUE a", 1));
    t.extend(b"hello there\0\r\n");
    t.extend(text("11", "APPID", "0", b"1", 1));
    t.extend(b"12|AUTH|1|99|0|0|fish");
    let mut v = enc(&[
        s(b"1|ACK|1|17|0|4015397000|-1|account locked\0".to_vec()),
        c(t.clone()),
    ]);
    v.extend(gap(5));
    let mut after = b"ha\0".to_vec();
    after.extend(text("13", "APPID", "0", b"2", 1));
    v.extend(enc(&[c(after)]));
    out.push(("edge-text-variants", v));
    out.push(("edge-text-split", enc(&pieces(Dir::C2S, &t, 3))));

    // EARLY: padding of every awkward length, MID 0, SQLite escapes,
    // garbage, wrong LEN and CRC, the test client's raw text.
    let mut e = Vec::new();
    for (i, padding) in [0usize, 1, 2, 3, 5, 58, 62, 63, 64].iter().enumerate() {
        let mid = [0u32, 1, 2, 19, 256, 70_000][i % 6];
        e.extend(early(mid, [1u16, 3, 19][i % 3], b"a b", *padding));
    }
    e.extend(early_raw(21311, 2, b"This is my data string", None, 63));
    e.extend(early_raw(3, 2, &[0x01, 0x44, 0x01, 0x28], None, 0));
    e.extend(early_raw(4, 2, &[0x01, 0x44, 0x01, 0x09], None, 0));
    e.extend(early_raw(5, 2, &[0x05, 0x40, 0x40, 0x09], None, 0));
    e.extend(early_raw(6, 6, &sqlite::encode(b"1"), Some(5), 0));
    let all: Vec<u8> = (0..=255u8).collect();
    e.extend(early(7, 15, &all, 0));
    let mut wrong_len = early(8, 6, b"1001", 0);
    wrong_len[11] = 200;
    e.extend(wrong_len);
    e.extend(b"\x00\x00\xff\xfe garbage \xff");
    e.extend(early(9, 6, b"2", 0));
    out.push((
        "edge-early-padding",
        enc(&[s(early(0, 3, b"salt 3 STD", 63)), c(e.clone())]),
    ));
    let mut v = enc(&[c(e[..100].to_vec())]);
    v.extend(gap(17));
    v.extend(enc(&[c(e[117..].to_vec())]));
    out.push(("edge-early-gap", v));

    // Forms differing between directions; the forms mixed in one direction.
    out.push((
        "edge-mixed-forms",
        enc(&[
            s(xml(1, 3, &[X::I(2), X::I(3), X::S(b"STD")])),
            c(xdr(1, 5, &[X::I(2), X::I(3), X::S(b"STD")])),
            s(text("2", "ACK", "0", b"", 1)),
            c(early(2, 4, b"fish haha", 0)),
        ]),
    ));
    out
}

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/mqserver")
}

#[test]
#[ignore = "writes fuzz/corpus/mqserver/edge-*; run on demand"]
fn write_edge_seeds() {
    std::fs::create_dir_all(corpus()).unwrap();
    for (name, data) in seeds() {
        std::fs::write(corpus().join(name), data).unwrap();
    }
}

#[test]
fn edge_seeds_are_in_the_corpus_and_current() {
    for (name, data) in seeds() {
        let path = corpus().join(name);
        let on_disk = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run the ignored writer)", path.display()));
        assert_eq!(on_disk, data, "{name} differs from its definition");
    }
}

fn names(items: &[Item], dir: Dir) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Message(m) if m.dir == dir => Some(m.name.clone()),
            _ => None,
        })
        .collect()
}

fn encodings(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Message(m) => match m.field("encoding").map(|f| &f.value) {
                Some(Value::Str(e)) => Some(e.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[test]
fn edge_seeds_decode_as_intended() {
    let all = seeds();
    let get = |n: &str| all.iter().find(|(k, _)| *k == n).unwrap().1.clone();
    // Coverage is checked inside fuzzing::run.
    let items = fuzzing::run(Proto::MqServer, &get("edge-xdr-session"), false);
    assert_eq!(
        names(&items, Dir::S2C),
        ["SRVCAP", "ACK", "ACK", "QUEUEINFO", "MSGFROMQUEUE", "ERROR"]
    );
    assert_eq!(
        names(&items, Dir::C2S),
        ["CLNTCAP", "AUTH", "JOINQUEUE", "SENDTOQUEUE"]
    );
    assert!(encodings(&items).iter().all(|e| e == "xdr"));
    let split = fuzzing::run(Proto::MqServer, &get("edge-xdr-split"), false);
    assert_eq!(names(&split, Dir::C2S), names(&items, Dir::C2S));
    assert_eq!(names(&split, Dir::S2C), names(&items, Dir::S2C));
    let stops = fuzzing::run(Proto::MqServer, &get("edge-xdr-stops"), false);
    assert_eq!(names(&stops, Dir::C2S), ["CLNTCAP", "APPID"]);
    assert_eq!(names(&stops, Dir::S2C), ["SRVCAP"]);
    let xml = fuzzing::run(Proto::MqServer, &get("edge-xml-session"), false);
    assert_eq!(names(&xml, Dir::S2C), names(&items, Dir::S2C));
    assert!(encodings(&xml).iter().all(|e| e == "xml"));
    let gap = fuzzing::run(Proto::MqServer, &get("edge-xml-gap"), false);
    assert_eq!(names(&gap, Dir::S2C), ["SRVCAP", "ACK", "ACK"]);
    let t = fuzzing::run(Proto::MqServer, &get("edge-text-variants"), false);
    assert_eq!(
        names(&t, Dir::C2S),
        [
            "SRVCAP",
            "AUTH",
            "MSGFROMCLNT",
            "SENDTOCLNT",
            "CLNTCAP",
            "AUTH",
            "ERROR",
            "APPID",
            "APPID"
        ]
    );
    let e = fuzzing::run(Proto::MqServer, &get("edge-early-padding"), false);
    assert_eq!(names(&e, Dir::C2S).len(), 9 + 7 + 1);
    // Each direction keeps the form it started with.
    let m = fuzzing::run(Proto::MqServer, &get("edge-mixed-forms"), false);
    assert_eq!(encodings(&m), ["xml", "xdr"]);
    for (_, data) in &all {
        fuzzing::run(Proto::MqServer, data, true);
    }
}
