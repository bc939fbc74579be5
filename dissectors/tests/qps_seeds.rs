//! Writes the edge-case seeds of the QPS fuzz corpus (`fuzz/corpus/qps/`),
//! built with the test encoder and `fuzzing::encode`. Run on demand:
//! `cargo test -p qscope-dissectors --test qps_seeds -- --ignored`.
//! The seeds replay under `cargo test` through `tests/fuzz_corpus.rs`.

mod qps_common;

use std::path::Path;

use qps_common::*;
use qscope_dissectors::{fuzzing, Dir, Proto};
use Dir::{C2S, S2C};

const SID: u16 = 0x2b1c;

/// Encodes a schedule; pieces stay under 128 bytes because a 128-byte s2c
/// chunk header would read as the gap marker 0xFF.
fn encode(steps: &[(Dir, Vec<u8>)]) -> Vec<u8> {
    let mut parts: Vec<(Dir, &[u8])> = Vec::new();
    for (d, b) in steps {
        for piece in b.chunks(127) {
            parts.push((*d, piece));
        }
    }
    fuzzing::encode(&parts)
}

fn signed_on(rest: Vec<(Dir, Vec<u8>)>) -> Vec<(Dir, Vec<u8>)> {
    let mut v = vec![
        (C2S, signon(1, b"editor", b"pw", false)),
        (S2C, ok(1, &be32(u32::from(SID)))),
    ];
    v.extend(rest);
    v
}

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    // Padding: Signon D7, even/odd publication and status names.
    out.push((
        "edge-padding",
        encode(&[
            (C2S, signon(1, b"ab", b"pw", true)),
            (S2C, ok(1, &be32(u32::from(SID)))),
            (C2S, req(SID, 0x66, 2, &[0; 20], &[])),
            (
                S2C,
                ok(2, &publications_data(&[(b"", 1), (b"A", 2), (b"AB", 3)])),
            ),
            (C2S, get_statuses(SID, 3, b"AB")),
            (
                S2C,
                ok(3, &statuses_data(&[(1, b""), (2, b"X"), (3, b"XY")])),
            ),
            (C2S, req(SID, 0x2B, 4, &pstr(b"AB"), &[])),
        ]),
    ));
    // Repositories: L excluding itself, a pad after the name, a Pascal CIFS share.
    let mut share = pstr(b"//s/x");
    share.push(0);
    out.push((
        "edge-repositories",
        encode(&signed_on(vec![
            (C2S, req(SID, 0x40, 2, &[], &[])),
            (
                S2C,
                ok(
                    2,
                    &repositories_data(&[
                        repository(
                            b"Ev",
                            &[kv(9, &cifs_mount(&share)), kv(0x12, b"/odd")],
                            4,
                            true,
                        ),
                        repository(
                            b"P",
                            &[kv(9, &afpm_mount(b"10.1.1.1", b"S")), kv(0x13, b"/m")],
                            0,
                            false,
                        ),
                    ]),
                ),
            ),
        ])),
    ));
    // Search with queries whose length excludes itself, then results in
    // several parts (one with lengths including themselves), pushes
    // interleaved, and "done".
    let mut q = query(0x69, 6, 1);
    q[3] = 44;
    out.push((
        "edge-search-results",
        encode(&signed_on(vec![
            (C2S, search(SID, 2, &[1, 2], &[q.clone(), q])),
            (S2C, search_update(2, b"early.qxd", true)),
            (S2C, ok(2, &7u16.to_be_bytes())),
            (C2S, search_count(SID, 3, 7)),
            (S2C, ok(3, &be32(3))),
            (C2S, req(SID, 0x43, 4, &[], &[])),
            (
                S2C,
                ok(
                    4,
                    &cat(&[
                        &result_entry(0x80, b"a", false),
                        &result_entry(0, b"bb", false),
                    ]),
                ),
            ),
            (C2S, req(SID, 0x43, 5, &[], &[])),
            (S2C, search_update(5, b"gone", false)),
            (S2C, ok(5, &result_entry(0x81, b"c", true))),
            (C2S, req(SID, 0x43, 6, &[], &[])),
            (S2C, resp(1, 0, 6, 0, &[])),
        ])),
    ));
    // Story header: references in and out of range, blank, every type.
    let items = [
        (0x65u32, 1u32, 0u32, 2u32),
        (0x66, 1, 0x0100_0000, 0xFFFF_FFFF),
        (0x67, 2, 0, 0xc20c_3880),
        (0x68, 4, 0, 0xFFFF_FFFE),
        (0x69, 5, 0, 0x7FC0_0000),
        (0x6a, 6, 0, 7),
        (0x6b, 7, 0, 3),
        (0x6c, 3, 0, 1),
    ];
    let tail = cat(&[&vec![0u8; 0x118], &pstr(b"hello")]);
    let hdr = raw_header(&items, &tail);
    out.push((
        "edge-story-header",
        encode(&signed_on(vec![
            (C2S, open_header(SID, 2, b"s.qxd", 2)),
            (S2C, ok(2, &0x31u16.to_be_bytes())),
            (C2S, req(SID, 9, 3, &0x31u16.to_be_bytes(), &[])),
            (S2C, ok(3, &hdr)),
            (C2S, req(SID, 0xA, 4, &0x31u16.to_be_bytes(), &hdr)),
            (S2C, ok(4, &[])),
            (C2S, req(SID, 0xE, 5, &0x31u16.to_be_bytes(), &[])),
            (C2S, req(SID, 0x16, 6, &SID.to_be_bytes(), &[])),
            (S2C, ok(6, &[])),
            (C2S, req(SID, 6, 7, &[], &[])),
        ])),
    ));
    // Response Length counting the header (D2).
    let long = |seq: u16, data: &[u8]| {
        let mut r = ok(seq, data);
        let l = (data.len() + 18) as u32;
        r[14..18].copy_from_slice(&l.to_be_bytes());
        r
    };
    out.push((
        "edge-long-length",
        encode(&[
            (C2S, signon(1, b"e", b"p", false)),
            (C2S, req(SID, 0x16, 2, &SID.to_be_bytes(), &[])),
            (C2S, req(SID, 0x66, 3, &[0; 20], &[])),
            (S2C, long(1, &be32(u32::from(SID)))),
            (S2C, long(2, &[0, 0])),
            (S2C, long(3, &publications_data(&[(b"N", 1)]))),
        ]),
    ));
    // Untrusted framing, unknown code, unsolicited reply, truncated end.
    let mut bad = req(SID, 0x4A, 2, &[], &[]);
    bad[13] = 9;
    let search_msg = search(SID, 5, &[1], &[]);
    out.push((
        "edge-framing",
        encode(&signed_on(vec![
            (C2S, cat(&[&bad, b"junk", &req(SID, 0x77, 3, b"xyz", b"q")])),
            (
                S2C,
                cat(&[
                    b"\x00\x3f\x00\x3f\x00\x00\x00\x00\x00\x63\x00\x00\x00\x00\x7f\x00\x00\x00",
                    &ok(3, b"r"),
                ]),
            ),
            (C2S, req(0x9999, 0x4A, 4, &[], &[])),
            (S2C, ok(77, &[1, 2])),
            (C2S, search_msg[..search_msg.len() - 5].to_vec()),
        ])),
    ));
    // Gaps: a client gap inside a Search, a server gap inside a reply.
    let mut gap = encode(&signed_on(vec![(
        C2S,
        search(SID, 2, &[1], &[query(1, 7, 2)]),
    )]));
    gap.extend_from_slice(&[0xFF, 40]);
    gap.extend(encode(&[
        (C2S, req(SID, 0x43, 3, &[], &[])),
        (S2C, ok(2, &7u16.to_be_bytes())),
        (
            S2C,
            ok(3, &result_entry(0, b"abcdef", false))[..30].to_vec(),
        ),
    ]));
    gap.extend_from_slice(&[0xFF, 9]);
    gap.extend(encode(&[(S2C, ok(4, &[]))]));
    out.push(("edge-gaps", gap));
    out
}

#[test]
#[ignore = "writes fuzz/corpus/qps; run on demand"]
fn write_edge_case_seeds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/qps");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, data) in seeds() {
        std::fs::write(dir.join(name), data).unwrap();
    }
}

#[test]
fn edge_case_seeds_run_cleanly() {
    for (name, data) in seeds() {
        for mid in [false, true] {
            let items = fuzzing::run(Proto::Qps, &data, mid);
            assert!(!items.is_empty(), "{name}");
        }
    }
}
