//! Writes the fuzz seed corpora from the real captures in captures/: each
//! capture's TCP streams, reassembled, in the order the segments were
//! captured, encoded for `qscope_dissectors::fuzzing`. Run on demand:
//! `cargo test --test fuzz_seeds -- --ignored`.

mod common;

use std::path::Path;

use qscope_dissectors::{fuzzing, Dir};

#[test]
#[ignore = "writes fuzz/corpus; run on demand"]
fn write_seed_corpora() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bundled = root.join("captures");
    for (proto_dir, proto) in [
        ("qmp", "qmp"),
        ("qm", "qm"),
        ("qps", "qps"),
        ("mqserver", "mqserver"),
    ] {
        let out = root.join("fuzz/corpus").join(proto);
        std::fs::create_dir_all(&out).unwrap();
        for e in std::fs::read_dir(bundled.join(proto_dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_none_or(|x| x != "pcap") {
                continue;
            }
            for (c, sched) in common::conversations(&p).iter().enumerate() {
                // Keep seeds small: the first 16 KiB of the conversation.
                let mut budget = 16 << 10;
                let mut parts: Vec<(Dir, &[u8])> = Vec::new();
                for (d, b) in sched {
                    if budget == 0 {
                        break;
                    }
                    let n = b.len().min(budget);
                    parts.push((*d, &b[..n]));
                    budget -= n;
                }
                let name = p.file_stem().unwrap().to_string_lossy().into_owned();
                std::fs::write(
                    out.join(format!("seed-{name}-{c}")),
                    fuzzing::encode(&parts),
                )
                .unwrap();
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Seeds for the application's fuzz targets (fuzz/harness/): written by
// `cargo test --test fuzz_seeds -- --ignored` too.

#[path = "../fuzz/harness/mod.rs"]
mod harness;

use harness::reassembly::Op;

/// Writes `bytes` into the target's seed corpus as `name`.
fn seed(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

#[test]
#[ignore = "writes fuzz/corpus/{reassembly}; run on demand"]
fn write_app_seed_corpora() {
    reassembly_seeds();
}

fn reassembly_seeds() {
    use harness::reassembly::encode;
    let d = |tuple: u8, server: bool, rel: i16, len: u8| Op::Data {
        tuple,
        server,
        rel,
        len,
        variant: 0,
        extra: None,
        ack: None,
        fin: false,
        psh: true,
    };
    let with = |op: Op, f: &dyn Fn(&mut Op)| {
        let mut op = op;
        f(&mut op);
        op
    };
    let acked = |tuple, server, rel, len, ack| {
        with(d(tuple, server, rel, len), &|o| {
            if let Op::Data { ack: a, .. } = o {
                *a = Some(ack);
            }
        })
    };
    let variant = |tuple, server, rel, len, v| {
        with(d(tuple, server, rel, len), &|o| {
            if let Op::Data { variant: x, .. } = o {
                *x = v;
            }
        })
    };
    let cut = |tuple, server, rel, len, extra| {
        with(d(tuple, server, rel, len), &|o| {
            if let Op::Data { extra: x, .. } = o {
                *x = Some(extra);
            }
        })
    };
    let fin = |tuple, server, rel, len, ack| {
        with(acked(tuple, server, rel, len, ack), &|o| {
            if let Op::Data { fin: f, .. } = o {
                *f = true;
            }
        })
    };
    let wrap = (u32::MAX - 100, u32::MAX - 3);
    // Quiet: exact streams.
    seed(
        "reassembly",
        "quiet-in-order",
        &encode(
            1,
            1,
            &[wrap],
            &[
                d(0, false, 0, 200),
                d(0, true, 0, 255),
                d(0, false, 200, 100),
            ],
        ),
    );
    seed(
        "reassembly",
        "quiet-reorder-overlap-cut",
        &encode(
            1,
            2,
            &[wrap, (7, 0x7fff_ff00)],
            &[
                d(0, false, 300, 100),
                variant(0, false, 250, 100, 1),
                cut(0, false, 0, 100, 10),
                d(0, false, 0, 255),
                variant(1, true, 10, 20, 2),
                d(1, true, 0, 40),
                d(1, false, -10, 30),
            ],
        ),
    );
    // A whole conversation: data both ways, ACKs, FINs both ways.
    let mut conv = Vec::new();
    let (mut c, mut s) = (0i16, 0i16);
    for i in 0..6u8 {
        conv.push(acked(0, false, c, 40 + i, s));
        c += 40 + i16::from(i);
        conv.push(acked(0, true, s, 90 + i, c));
        s += 90 + i16::from(i);
    }
    conv.push(fin(0, false, c, 0, s));
    conv.push(fin(0, true, s, 0, c + 1));
    conv.push(Op::Ack {
        tuple: 0,
        server: false,
        ack: s + 1,
    });
    seed(
        "reassembly",
        "conversation",
        &encode(0, 1, &[(1000, 5000)], &conv),
    );
    // Lost segment, then the peer acknowledges past it (rule a).
    seed(
        "reassembly",
        "ack-declares-gap",
        &encode(
            0,
            1,
            &[(1, 2)],
            &[
                d(0, false, 0, 50),
                d(0, false, 100, 50),
                acked(0, true, 0, 10, 150),
            ],
        ),
    );
    // Timeouts: a hole waits past the gap timeout; then the idle timeout.
    seed(
        "reassembly",
        "timeouts",
        &encode(
            0x18,
            2,
            &[(1, 2), (3, 4)],
            &[
                d(0, false, 50, 50),
                Op::Time {
                    tens_of_ms: 80,
                    back: false,
                    expire: true,
                },
                d(1, false, 0, 10),
                Op::Time {
                    tens_of_ms: 250,
                    back: false,
                    expire: true,
                },
                d(0, false, 100, 10),
                Op::Time {
                    tens_of_ms: 5,
                    back: true,
                    expire: true,
                },
            ],
        ),
    );
    // Tiny buffers: out-of-order segments overflow at once.
    let ooo: Vec<Op> = (1..20).rev().map(|i| d(0, false, i * 30, 20)).collect();
    seed("reassembly", "tiny-limits", &encode(4, 1, &[(9, 9)], &ooo));
    seed("reassembly", "small-limits", &encode(2, 1, &[(9, 9)], &ooo));
    // RST, then the same and another handshake on the tuple (tombstone).
    seed(
        "reassembly",
        "rst-and-reuse",
        &encode(
            0,
            1,
            &[(100, 200)],
            &[
                d(0, false, 0, 10),
                d(0, false, 20, 10),
                Op::Rst {
                    tuple: 0,
                    server: true,
                    rel: 0,
                    ack: Some(10),
                },
                d(0, false, 30, 10),
                Op::Handshake {
                    tuple: 0,
                    ic: 100,
                    is: 200,
                },
                Op::Handshake {
                    tuple: 0,
                    ic: 7000,
                    is: 9000,
                },
                d(0, true, 0, 10),
            ],
        ),
    );
    // Mid-stream pickup (no handshake), with and without the port hint.
    let mid = [
        d(0, true, 0, 30),
        d(0, false, 0, 20),
        d(1, false, 5, 5),
        d(1, true, 0, 5),
    ];
    seed("reassembly", "mid-stream", &encode(0x40, 2, &[], &mid));
    seed(
        "reassembly",
        "mid-stream-port-hint",
        &encode(0xc0, 2, &[], &mid),
    );
    // SYNs in odd places.
    seed(
        "reassembly",
        "odd-syns",
        &encode(
            0,
            2,
            &[(50, 60), (70, 80)],
            &[
                d(0, false, 0, 10),
                Op::Syn {
                    tuple: 0,
                    server: false,
                    seq: 50,
                },
                Op::Syn {
                    tuple: 0,
                    server: true,
                    seq: 61,
                },
                Op::SynAck {
                    tuple: 1,
                    server: false,
                    seq: 80,
                    ack: 0,
                },
                Op::SynAck {
                    tuple: 1,
                    server: true,
                    seq: 1234,
                    ack: 0,
                },
                d(1, false, 0, 10),
            ],
        ),
    );
    // One connection at most: three tuples evict each other.
    let evict: Vec<Op> = (0..9)
        .map(|i| d(i % 3, false, i16::from(i) * 10, 10))
        .collect();
    seed(
        "reassembly",
        "eviction",
        &encode(0x20, 3, &[(1, 2), (3, 4), (5, 6)], &evict),
    );
    // A host talking to itself; FIN beyond a hole; bytes after the FIN;
    // keep-alives.
    seed(
        "reassembly",
        "self-fin-keepalive",
        &encode(
            0,
            4,
            &[(1, 2), (3, 4), (5, 6), (7, 8)],
            &[
                d(3, false, 0, 10),
                d(3, true, 0, 10),
                fin(0, false, 50, 10, 0),
                d(0, false, 70, 10),
                d(0, false, 0, 50),
                d(0, false, 59, 1),
                d(1, false, 0, 10),
                d(1, false, 9, 1),
                d(1, false, 10, 0),
                Op::Fin {
                    tuple: 1,
                    server: true,
                    rel: 0,
                    ack: Some(10),
                },
                Op::Literal {
                    tuple: 2,
                    server: false,
                    rel: 0,
                    bytes: b"{\"execute\":\"qmp_capabilities\"}".to_vec(),
                },
            ],
        ),
    );
    // The segments of a real conversation (structure only: the payloads
    // are the harness's pattern).
    let mut ops = Vec::new();
    let mut isn = None;
    for p in common::read_pcap(&common::bundled("qmp/qmp-events.pcap")) {
        let t = common::tcp(&p.frame);
        let f = &p.frame[t.tcp_off..];
        let ack = u32::from_be_bytes([f[8], f[9], f[10], f[11]]);
        let flags = f[13];
        let server = t.sport == 4444;
        if t.syn {
            let (ic, is) = isn.get_or_insert((0u32, 0u32));
            if server {
                *is = t.seq;
            } else {
                *ic = t.seq;
            }
            continue;
        }
        let Some((ic, is)) = isn else { continue };
        let (own, peer) = if server { (is, ic) } else { (ic, is) };
        let rel = t.seq.wrapping_sub(own.wrapping_add(1)) as i16;
        let ackrel = (flags & 0x10 != 0).then(|| ack.wrapping_sub(peer.wrapping_add(1)) as i16);
        let mut off = 0usize;
        loop {
            let len = (t.payload_len - off).min(255) as u8;
            ops.push(Op::Data {
                tuple: 0,
                server,
                rel: rel.wrapping_add(off as i16),
                len,
                variant: 0,
                extra: None,
                ack: ackrel,
                fin: t.fin && off + usize::from(len) == t.payload_len,
                psh: true,
            });
            off += usize::from(len);
            if off >= t.payload_len {
                break;
            }
        }
    }
    let (ic, is) = isn.unwrap();
    seed(
        "reassembly",
        "seed-qmp-events",
        &encode(0, 1, &[(ic, is)], &ops),
    );
}
