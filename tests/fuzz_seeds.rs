//! Writes the fuzz seed corpora. For the dissector targets: from the real
//! captures in captures/, each capture's TCP streams, reassembled, in the
//! order the segments were captured, encoded for
//! `qscope_dissectors::fuzzing`. For the application's targets
//! (fuzz/harness/): capture files, frames, segment scenarios and filter
//! expressions, made from the captures and by hand. Run on demand:
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

/// Little- or big-endian byte writer.
struct W {
    be: bool,
    v: Vec<u8>,
}

impl W {
    fn new(be: bool) -> W {
        W { be, v: Vec::new() }
    }
    fn u16(&mut self, x: u16) -> &mut W {
        let b = if self.be {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        };
        self.v.extend_from_slice(&b);
        self
    }
    fn u32(&mut self, x: u32) -> &mut W {
        let b = if self.be {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        };
        self.v.extend_from_slice(&b);
        self
    }
    fn u64(&mut self, x: u64) -> &mut W {
        let b = if self.be {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        };
        self.v.extend_from_slice(&b);
        self
    }
    fn bytes(&mut self, b: &[u8]) -> &mut W {
        self.v.extend_from_slice(b);
        self
    }
    /// `b`, padded to a multiple of 4.
    fn padded(&mut self, b: &[u8]) -> &mut W {
        self.v.extend_from_slice(b);
        while !self.v.len().is_multiple_of(4) {
            self.v.push(0);
        }
        self
    }
}

/// A packet to write: capture time (µs), captured bytes, length on the wire.
#[derive(Clone)]
struct P {
    ts_us: i64,
    data: Vec<u8>,
    orig: u32,
}

/// A classic pcap file.
fn pcap(pkts: &[P], link: u32, be: bool, nano: bool, modified: bool) -> Vec<u8> {
    let magic = match (nano, modified) {
        (_, true) => 0xa1b2_cd34,
        (true, _) => 0xa1b2_3c4d,
        _ => 0xa1b2_c3d4,
    };
    let mut w = W::new(be);
    w.u32(magic)
        .u16(2)
        .u16(4)
        .u32(0)
        .u32(0)
        .u32(262_144)
        .u32(link);
    for p in pkts {
        let secs = p.ts_us.div_euclid(1_000_000) as u32;
        let us = p.ts_us.rem_euclid(1_000_000) as u32;
        w.u32(secs).u32(if nano { us * 1000 } else { us });
        w.u32(p.data.len() as u32).u32(p.orig);
        if modified {
            // ifindex, protocol, packet type, padding
            w.u32(1).u16(0x0800).bytes(&[0, 0]);
        }
        w.bytes(&p.data);
    }
    w.v
}

/// One pcapng block: type, length, body, length.
fn block(w: &mut W, ty: u32, body: &[u8]) {
    let len = 12 + body.len() as u32;
    w.u32(ty).u32(len).bytes(body).u32(len);
}

/// pcapng options: (code, value) then opt_endofopt.
fn options(be: bool, opts: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut o = W::new(be);
    for (code, v) in opts {
        o.u16(*code).u16(v.len() as u16).padded(v);
    }
    o.u16(0).u16(0);
    o.v
}

/// What a pcapng section holds.
enum Ng {
    /// Link type, snap length, if_tsresol, if_tsoffset.
    Iface(u16, u32, Option<u8>, Option<i64>),
    /// Interface, timestamp in its units, packet, with options.
    Epb(u32, u64, P, bool),
    Spb(P),
    Nrb,
    Isb(u32),
    Dsb,
    Custom,
    Unknown(u32),
}

fn pcapng_section(w: &mut W, items: &[Ng]) {
    let be = w.be;
    let mut b = W::new(be);
    b.u32(0x1A2B_3C4D).u16(1).u16(0).u64(u64::MAX);
    b.bytes(&options(be, &[(4, b"qscope seeds".to_vec())]));
    block(w, 0x0A0D_0D0A, &b.v);
    for it in items {
        let mut b = W::new(be);
        let ty = match it {
            Ng::Iface(link, snap, res, off) => {
                b.u16(*link).u16(0).u32(*snap);
                let mut o = vec![(2u16, b"eth0".to_vec())];
                if let Some(r) = res {
                    o.push((9, vec![*r]));
                }
                if let Some(x) = off {
                    let mut v = W::new(be);
                    v.u64(*x as u64);
                    o.push((14, v.v));
                }
                b.bytes(&options(be, &o));
                1
            }
            Ng::Epb(iface, ts, p, with_opts) => {
                b.u32(*iface).u32((ts >> 32) as u32).u32(*ts as u32);
                b.u32(p.data.len() as u32).u32(p.orig).padded(&p.data);
                if *with_opts {
                    let mut f = W::new(be);
                    f.u32(1);
                    b.bytes(&options(be, &[(2, f.v), (1, b"comment".to_vec())]));
                }
                6
            }
            Ng::Spb(p) => {
                b.u32(p.orig).padded(&p.data);
                3
            }
            Ng::Nrb => {
                b.u16(1).u16(13).padded(b"\x0a\x00\x00\x01host\0\0\0\0\0");
                b.u16(0).u16(0);
                4
            }
            Ng::Isb(iface) => {
                b.u32(*iface).u32(0).u32(5);
                let mut c = W::new(be);
                c.u64(42);
                b.bytes(&options(be, &[(4, c.v)]));
                5
            }
            Ng::Dsb => {
                b.u32(0x544c_534b).u32(5).padded(b"CLIEN");
                10
            }
            Ng::Custom => {
                b.u32(32473).padded(b"custom data");
                0x0000_0BAD
            }
            Ng::Unknown(t) => {
                b.padded(b"????");
                *t
            }
        };
        block(w, ty, &b.v);
    }
}

fn pcapng(sections: &[(bool, Vec<Ng>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (be, items) in sections {
        let mut w = W::new(*be);
        pcapng_section(&mut w, items);
        out.extend_from_slice(&w.v);
    }
    out
}

/// Packets of a bundled capture, within `budget` bytes, big frames cut to
/// `snap` bytes (their wire length kept).
fn packets(rel: &str, budget: usize, snap: usize) -> Vec<P> {
    let mut out = Vec::new();
    let mut used = 0;
    for p in common::read_pcap(&common::bundled(rel)) {
        let orig = p.frame.len() as u32;
        let data = p.frame[..p.frame.len().min(snap)].to_vec();
        if used + data.len() + 16 > budget && !out.is_empty() {
            break;
        }
        used += data.len() + 16;
        out.push(P {
            ts_us: p.ts_us,
            data,
            orig,
        });
    }
    out
}

/// An Ethernet frame's IP packet (the frame without its 14-byte header).
fn ip_of(p: &P) -> P {
    P {
        ts_us: p.ts_us,
        data: p.data[14..].to_vec(),
        orig: p.orig - 14,
    }
}

/// The same packet behind another link header.
fn relinked(p: &P, head: &[u8]) -> P {
    let ip = ip_of(p);
    let mut data = head.to_vec();
    data.extend_from_slice(&ip.data);
    P {
        ts_us: p.ts_us,
        data,
        orig: ip.orig + head.len() as u32,
    }
}

const SLL_V4: [u8; 16] = [0, 0, 3, 4, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00];

#[test]
#[ignore = "writes fuzz/corpus/{pipeline,capture,layers,reassembly,filter} and fuzz/dict/filter.dict; run on demand"]
fn write_app_seed_corpora() {
    pipeline_seeds();
    capture_seeds();
    layers_seeds();
    reassembly_seeds();
    filter_seeds();
}

fn pipeline_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut rels = Vec::new();
    for dir in ["qmp", "qm", "qps", "mqserver", "qmp-qapi"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".pcap") {
                rels.push(format!("{dir}/{name}"));
            }
        }
    }
    rels.sort();
    for rel in &rels {
        let stem = rel.rsplit('/').next().unwrap().trim_end_matches(".pcap");
        let pkts = packets(rel, 8 << 10, 2048);
        seed(
            "pipeline",
            &format!("seed-{stem}"),
            &pcap(&pkts, 1, false, false, false),
        );
    }
    // Other formats and link types of small conversations.
    let events = packets("qmp/qmp-events.pcap", 6 << 10, 2048);
    let signon = packets("qps/qps-2-signon-fail.pcap", 4 << 10, 2048);
    let text = packets("mqserver/mq-text.pcap", 4 << 10, 2048);
    seed(
        "pipeline",
        "fmt-be-nano",
        &pcap(&signon, 1, true, true, false),
    );
    seed(
        "pipeline",
        "fmt-modified",
        &pcap(&signon, 1, false, false, true),
    );
    let raw: Vec<P> = text.iter().map(ip_of).collect();
    seed(
        "pipeline",
        "link-raw",
        &pcap(&raw, 101, false, false, false),
    );
    let sll: Vec<P> = text.iter().map(|p| relinked(p, &SLL_V4)).collect();
    seed("pipeline", "link-sll", &pcap(&sll, 113, true, false, false));
    let null: Vec<P> = signon
        .iter()
        .map(|p| relinked(p, &2u32.to_le_bytes()))
        .collect();
    seed(
        "pipeline",
        "link-null",
        &pcap(&null, 0, false, false, false),
    );
    // pcapng: two interfaces (Ethernet in µs, raw IP in ns), alternating.
    let mut items = vec![
        Ng::Iface(1, 262_144, None, None),
        Ng::Iface(101, 262_144, Some(9), Some(-3600)),
        Ng::Nrb,
    ];
    for (i, p) in signon.iter().enumerate() {
        items.push(if i % 2 == 0 {
            Ng::Epb(0, p.ts_us as u64, p.clone(), i == 0)
        } else {
            Ng::Epb(1, p.ts_us as u64 * 1000, ip_of(p), false)
        });
    }
    items.push(Ng::Isb(0));
    seed(
        "pipeline",
        "fmt-pcapng-two-ifaces",
        &pcapng(&[(false, items)]),
    );
    let items: Vec<Ng> = std::iter::once(Ng::Iface(1, 0, Some(6), None))
        .chain(
            events
                .iter()
                .map(|p| Ng::Epb(0, p.ts_us as u64, p.clone(), false)),
        )
        .collect();
    seed("pipeline", "fmt-pcapng-be", &pcapng(&[(true, items)]));
    // Reordered, duplicated, picked up mid-stream.
    let mut shuffled = events.clone();
    for i in (5..shuffled.len() - 1).step_by(4) {
        shuffled.swap(i, i + 1);
    }
    let dup = shuffled[8].clone();
    shuffled.insert(12, dup);
    seed(
        "pipeline",
        "tcp-reordered",
        &pcap(&shuffled, 1, false, false, false),
    );
    seed(
        "pipeline",
        "tcp-mid-stream",
        &pcap(&events[3..], 1, false, false, false),
    );
    let lossy: Vec<P> = events
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 7 != 5)
        .map(|(_, p)| p.clone())
        .collect();
    seed(
        "pipeline",
        "tcp-lossy",
        &pcap(&lossy, 1, false, false, false),
    );
}

fn capture_seeds() {
    let pkts = packets("qps/qps-2-signon-fail.pcap", 900, 2048);
    let mut cut = pkts.clone();
    cut[1].data.truncate(20);
    for (name, be, nano, modified) in [
        ("pcap-le-us", false, false, false),
        ("pcap-be-us", true, false, false),
        ("pcap-le-ns", false, true, false),
        ("pcap-be-ns", true, true, false),
        ("pcap-modified", false, false, true),
    ] {
        seed("capture", name, &pcap(&cut, 1, be, nano, modified));
    }
    seed(
        "capture",
        "pcap-header-only",
        &pcap(&[], 113, false, false, false),
    );
    let mut trunc = pcap(&pkts, 1, false, false, false);
    trunc.truncate(trunc.len() - 7);
    seed("capture", "pcap-truncated", &trunc);
    let p = &pkts[0];
    let ip = ip_of(p);
    let short = P {
        data: p.data[..30].to_vec(),
        ..p.clone()
    };
    for be in [false, true] {
        let tag = if be { "be" } else { "le" };
        let items = vec![
            Ng::Iface(1, 64, None, None),
            Ng::Iface(101, 0, Some(9), Some(1 << 40)),
            Ng::Iface(113, 65535, Some(0x8a), Some(-5)),
            Ng::Epb(0, 1_700_000_000_000_000, p.clone(), true),
            Ng::Epb(1, 1_700_000_000_000_000_123, ip.clone(), false),
            Ng::Spb(p.clone()),
            Ng::Epb(0, 0, short.clone(), false),
            Ng::Nrb,
            Ng::Isb(1),
            Ng::Dsb,
            Ng::Custom,
            Ng::Unknown(0x1234_5678),
            Ng::Epb(2, u64::MAX, relinked(p, &SLL_V4), false),
        ];
        seed(
            "capture",
            &format!("pcapng-{tag}-blocks"),
            &pcapng(&[(be, items)]),
        );
    }
    // Two sections of different byte orders; the second renumbers interfaces.
    let sections = vec![
        (
            false,
            vec![Ng::Iface(1, 0, None, None), Ng::Epb(0, 1, p.clone(), false)],
        ),
        (
            true,
            vec![
                Ng::Iface(228, 0, Some(3), None),
                Ng::Epb(0, 2, ip.clone(), false),
                Ng::Spb(ip.clone()),
            ],
        ),
    ];
    seed("capture", "pcapng-two-sections", &pcapng(&sections));
    let only_shb = pcapng(&[(false, vec![])]);
    seed("capture", "pcapng-header-only", &only_shb);
}

/// An IPv6 packet carrying the TCP segment of an IPv4 packet, optionally
/// after a hop-by-hop options header.
fn ipv6_of(ip4: &[u8], hop_by_hop: bool) -> Vec<u8> {
    let ihl = usize::from(ip4[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip4[2], ip4[3]]));
    let tcp = &ip4[ihl..total.min(ip4.len())];
    let ext: &[u8] = if hop_by_hop {
        &[6, 0, 1, 4, 0, 0, 0, 0]
    } else {
        &[]
    };
    let mut v = vec![0x60, 0, 0, 0];
    v.extend_from_slice(&((tcp.len() + ext.len()) as u16).to_be_bytes());
    v.push(if hop_by_hop { 0 } else { 6 });
    v.push(64);
    v.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    v.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    v.extend_from_slice(ext);
    v.extend_from_slice(tcp);
    v
}

fn layers_seeds() {
    use harness::layers::encode;
    // LINKS in fuzz/harness/layers.rs: 0 NULL, 1 Ethernet, 4 RAW, 5 LOOP,
    // 6 SLL, 7 IPV4, 8 IPV6, 9 SLL2.
    let pkts = packets("qmp/qmp-basic.pcap", 4 << 10, 2048);
    let syn = &pkts[0];
    let data = pkts
        .iter()
        .find(|p| p.data.len() > 80)
        .expect("a data segment");
    let ip = ip_of(data).data;
    seed("layers", "eth-syn", &encode(1, 0, &syn.data));
    seed("layers", "eth-data", &encode(1, 0, &data.data));
    seed("layers", "eth-data-cut", &encode(1, 40, &data.data[..60]));
    seed("layers", "raw-v4", &encode(4, 0, &ip));
    seed("layers", "raw-v4-tso", &{
        let mut p = ip.clone();
        p[2] = 0;
        p[3] = 0;
        encode(7, 0x8000 | 600, &p)
    });
    seed("layers", "raw-v4-options", &{
        let mut p = vec![0x46];
        p.extend_from_slice(&ip[1..20]);
        p.extend_from_slice(&[1, 1, 1, 0]);
        p.extend_from_slice(&ip[20..]);
        let total = p.len() as u16;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        encode(4, 0, &p)
    });
    seed("layers", "raw-v4-fragment", &{
        let mut p = ip.clone();
        p[6] = 0x20;
        encode(4, 0, &p)
    });
    seed("layers", "raw-v4-udp", &{
        let mut p = ip.clone();
        p[9] = 17;
        encode(4, 0, &p)
    });
    seed("layers", "raw-v6", &encode(8, 0, &ipv6_of(&ip, false)));
    seed(
        "layers",
        "raw-v6-hop-by-hop",
        &encode(4, 0, &ipv6_of(&ip, true)),
    );
    seed(
        "layers",
        "null",
        &encode(0, 0, &relinked(data, &2u32.to_le_bytes()).data),
    );
    seed("layers", "loop-v6", &{
        let mut f = 30u32.to_be_bytes().to_vec();
        f.extend_from_slice(&ipv6_of(&ip, false));
        encode(5, 0, &f)
    });
    seed(
        "layers",
        "sll",
        &encode(6, 0, &relinked(data, &SLL_V4).data),
    );
    seed("layers", "sll2", &{
        let mut h = vec![0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6];
        h.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0, 0]);
        encode(9, 0, &relinked(data, &h).data)
    });
    seed("layers", "eth-qinq", &{
        let mut f = data.data[..12].to_vec();
        f.extend_from_slice(&[0x88, 0xa8, 0, 1, 0x81, 0x00, 0, 2, 0x08, 0x00]);
        f.extend_from_slice(&ip);
        encode(1, 0, &f)
    });
    seed("layers", "link-by-number", &encode(0xf0, 276, &data.data));
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

fn filter_seeds() {
    let exprs = [
        r#"qmp.execute == "query-status" && latency > 10ms"#,
        "qm.function == Read && qm.outcome != SV_OK",
        "ip.addr == 10.0.0.0/8 and not error",
        r#"qmp.execute matches "^(migrate|x-)""#,
        "qmp.event in {STOP RESUME SHUTDOWN}",
        "qmp.error.class == CommandNotFound",
        r#"qmp.arguments.device == "virtio-disk0""#,
        "qmp.id == 5",
        "kind == response && latency > 100ms",
        "error || expert >= warn",
        "qm.function in {Login LocalLogin} && error",
        "qm.status == 3006",
        "qps.request == Signon && error",
        "mqserver.encoding == xml && mqserver.payload.format == \"binary\"",
        "ip.src == 192.168.1.0/24 && tcp.dstport == 4444",
        r#"frame.time >= "2026-11-22T02:00:00Z" && session.elapsed < 5s"#,
        r#"note contains "clear-text""#,
        "!(proto == qmp || dir eq s2c) && index ge 0x10 && len < 1e3",
        r"summary ~ r'\d+' or name contains 'é' or session != s1",
        "ip.addr == ::1 || ip.dst == fd00::/8 || tcp.port in {4243, 4444}",
        "reply_to >= 0 && session.mid_stream && offset <= 1500",
        "qmp.return.status == running || qmp.arguments.a.0 == 1",
        // Mistakes: each class of error.
        "qmp.execute ==",
        r#"qmp.execute == "stop" && latncy > 1ms"#,
        "(((a)",
        "latency > tenms",
        "name ~ \"(\"",
        "a = b",
        "x & y | z",
        "\"unterminated",
        "",
    ];
    for (i, e) in exprs.iter().enumerate() {
        seed("filter", &format!("expr-{i:02}"), e.as_bytes());
    }
    // The dictionary: every field name, keyword, operator and some values.
    let mut dict = String::from("# Generated by tests/fuzz_seeds.rs (write_app_seed_corpora).\n");
    let mut add = |s: &str| {
        dict.push('"');
        for c in s.chars() {
            match c {
                '"' | '\\' => {
                    dict.push('\\');
                    dict.push(c);
                }
                c => dict.push(c),
            }
        }
        dict.push_str("\"\n");
    };
    for f in qscope::filter::fields() {
        add(f.name);
    }
    for w in [
        "and",
        "or",
        "not",
        "in",
        "contains",
        "matches",
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "==",
        "!=",
        "<=",
        ">=",
        "&&",
        "||",
        "~",
        "!",
        "{",
        "}",
        "(",
        ")",
        "r\"",
        "r'",
        "\\x",
        "\\u",
        "10ms",
        "1.5s",
        "2us",
        "5m",
        "1h",
        "0x1f",
        "-1",
        "1e3",
        "10.0.0.0/8",
        "::1",
        "fd00::/8",
        "2026-11-22T02:00:00Z",
        "request",
        "response",
        "event",
        "greeting",
        "push",
        "other",
        "info",
        "warn",
        "error",
        "c2s",
        "s2c",
        "qmp",
        "qm",
        "qps",
        "mqserver",
        "true",
        "false",
        "arguments.",
        "return.",
        "payload.",
    ] {
        add(w);
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/dict/filter.dict");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, dict).unwrap();
}
