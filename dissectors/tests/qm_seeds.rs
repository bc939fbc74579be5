//! Edge-case seeds for the qm fuzz target (`fuzz/corpus/qm/edge-*`),
//! built with `qscope_dissectors::fuzzing::encode`. The corpus replay test
//! (`fuzz_corpus.rs`) runs them; this file keeps them in step with their
//! definition. Regenerate with
//! `cargo test -p qscope-dissectors --test qm_seeds -- --ignored`.

use std::path::PathBuf;

use qscope_dissectors::{fuzzing, Dir, Item, Proto};

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

fn enc(parts: &[(Dir, Vec<u8>)]) -> Vec<u8> {
    let p: Vec<(Dir, &[u8])> = parts.iter().map(|(d, b)| (*d, b.as_slice())).collect();
    fuzzing::encode(&p)
}

fn c(b: Vec<u8>) -> (Dir, Vec<u8>) {
    (Dir::C2S, b)
}

fn s(b: Vec<u8>) -> (Dir, Vec<u8>) {
    (Dir::S2C, b)
}

fn login_odd() -> Vec<u8> {
    req(24, b"\x05\x00qmodd\x6f\x07\x00secret1\x75")
}

/// The seeds: (file name, fuzz input).
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let call = [
        &b"\x07\x00ADDNUMSo\x04\x00"[..],
        b"\x02\x00\x00\x0017",
        b"\x03\x00\x00\x00125u",
        b"\x00\x00\x00\x00",
        b"\x01\x00\x00\x00xn",
    ]
    .concat();
    let call_answer = [
        &b"\x03\x00\x03\x00\x00\x00142 "[..],
        b"\x04\x00\x18\x00\x00\x00Sum of 17 and 125 is 142",
    ]
    .concat();
    let mut every_code = vec![s(vec![6]), c(req(25, b"")), s(ok())];
    for code in 1i16..=46 {
        every_code.push(c(req(code, b"\x01\x00\x00\x00")));
        every_code.push(s(resp(code % 6, i32::from(code), b"\x01\x00")));
    }
    let mut gap = enc(&[
        s(vec![6]),
        c(login_odd()),
        s(ok()),
        c(req(16, &[&b"\x01\x00\x04\x00C001"[..], &[b'x'; 60]].concat())[..20].to_vec()),
    ]);
    // 30 bytes of the Write lost, then its rest and the next exchange.
    gap.extend_from_slice(&[0xFF, 29]);
    let write = req(16, &[&b"\x01\x00\x04\x00C001"[..], &[b'x'; 60]].concat());
    gap.extend(enc(&[c(write[50..].to_vec()), s(ok()), c(req(1, b""))]));
    vec![
        (
            "edge-odd-pads",
            enc(&[
                s(vec![6]),
                c(login_odd()),
                s(ok()),
                c(req(20, &call)),
                s(resp(0, 1004, &call_answer)),
                c(req(26, b"\x01\x00\x02\x00\x03\x00CIT\x99\x03\x00Lon\xaa")),
                s(ok()),
            ]),
        ),
        (
            "edge-malformed-length",
            enc(&[
                s(vec![6]),
                c(login_odd()),
                s(ok()),
                c(vec![3, 0, 0, 0, 1, 0]),
                c(req(1, b"")),
                s(vec![5, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            ]),
        ),
        (
            "edge-oversized",
            enc(&[
                s(vec![6]),
                c(vec![0xff, 0xff, 0xff, 0x7f, 0x10, 0x00, 1, 2, 3]),
                s(vec![0xff, 0xff, 0x0f, 0x00, 0, 0, 0, 0, 0, 0, 1, 2]),
            ]),
        ),
        (
            "edge-truncated",
            enc(&[
                s(vec![6]),
                c(login_odd()),
                s(ok()),
                c(req(21, b"LIST CUSTOMERS")[..12].to_vec()),
            ]),
        ),
        (
            "edge-prompt",
            enc(&[
                s(vec![6]),
                c(login_odd()),
                s(ok()),
                c(req(21, b"RUN BP MULTI")),
                s(resp(5, 0, b"line one\nline two\nEnter a number")),
                c(req(22, b"21")),
                s(resp(5, 0, b"twice is 42\n")),
                c(req(4, b"CUSTOMERS")),
                s(resp(
                    1,
                    0,
                    b"000000D4: Incorrect message type from client (4)",
                )),
                c(req(22, b"late")),
                s(resp(3, 0, b"")),
                c(req(2, b"")),
                s(resp(
                    0,
                    0,
                    b"Response to prompt sent when no prompt outstanding",
                )),
                c(req(23, b"")),
                s(resp(3, 0, b"")),
            ]),
        ),
        (
            "edge-pre-greeting",
            enc(&[
                s(b"junk".to_vec()),
                s(vec![6]),
                c(req(4, b"CUSTOMERS")),
                s(resp(1, 0, b"Not logged in")),
            ]),
        ),
        (
            "edge-startup-error",
            enc(&[s(b"ScarletDME has not been started\n".to_vec())]),
        ),
        (
            "edge-mid-stream",
            enc(&[
                c(b"ABCDEFGHI\xfdKLMNOPQRS\xfe".repeat(8)),
                s(b"UVWXYZ\xfc".repeat(5)),
                s(ok()),
                c(req(6, b"\x02\x00BIG")),
                s(resp(0, 0, b"rec\xfeord")),
                c(req(18, b"\x02\x00BIG")),
                s(ok()),
                c(req(1, b"")),
            ]),
        ),
        (
            "edge-illegal-codes",
            enc(&[
                s(vec![6]),
                c(login_odd()),
                s(ok()),
                c(req(0, b"")),
                s(resp(3, 0, b"")),
                c(req(-1, b"zz")),
                s(resp(3, 0, b"")),
                c(req(47, b"")),
                s(resp(7, -1, b"??")),
                c(req(1000, b"")),
                s(ok()),
                s(ok()),
            ]),
        ),
        ("edge-every-code", enc(&every_code)),
        ("edge-gap-in-frame", gap),
    ]
}

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/qm")
}

#[test]
#[ignore = "writes fuzz/corpus/qm/edge-*; run on demand"]
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

#[test]
fn edge_seeds_decode_as_intended() {
    let all = seeds();
    let get = |n: &str| all.iter().find(|(k, _)| *k == n).unwrap().1.clone();
    let messages = |items: &[Item]| {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Message(m) => Some(m.name.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let items = fuzzing::run(Proto::Qm, &get("edge-every-code"), false);
    assert_eq!(messages(&items).len(), 2 + 46 * 2);
    let items = fuzzing::run(Proto::Qm, &get("edge-gap-in-frame"), false);
    assert_eq!(
        messages(&items),
        vec!["Login", "Login", "Write", "Quit"],
        "{items:#?}"
    );
    let items = fuzzing::run(Proto::Qm, &get("edge-mid-stream"), true);
    assert_eq!(
        messages(&items),
        vec!["Read", "Delete", "Quit", "response", "Read", "Delete"]
    );
    let items = fuzzing::run(Proto::Qm, &get("edge-odd-pads"), false);
    assert!(items.iter().all(|i| match i {
        Item::Message(m) => !m.is_error,
        _ => true,
    }));
}
