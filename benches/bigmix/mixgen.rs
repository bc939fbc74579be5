//! The repository's own large mixed capture generator, used when
//! `../shared/tools/gen-bigmix.py` is absent. It follows that script's
//! recipe: the TCP sessions of the bundled captures (three QMP, two QM, one
//! MQServer XML, one QPS) are replicated, each copy of a scenario with its
//! own client IP (10.x.y.z), client ports, fresh ISNs (sequence and
//! acknowledgement numbers rewritten relative to them), a per-protocol
//! server IP (the original server port kept), synthetic MACs and a start
//! time; copies are interleaved by timestamp so that about 200 connections
//! are open at once. Payload, flags, window, options and intra-session
//! timing are kept; checksums are recomputed. Full rounds of all
//! scenarios, then further copies round-robin while they fit under the
//! size. Deterministic for a seed (its own generator, so not byte-equal to
//! the script's files).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::path::Path;

use super::pcap::{PcapOut, Rng, Tcp};

/// Scenario, capture under `captures/`, server IP.
pub const SCENARIOS: [(&str, &str, [u8; 4]); 7] = [
    ("qmp-basic", "qmp/qmp-basic.pcap", [172, 20, 0, 10]),
    ("qmp-events", "qmp/qmp-events.pcap", [172, 20, 0, 10]),
    ("qmp-hmp", "qmp/qmp-hmp.pcap", [172, 20, 0, 10]),
    (
        "qm-1-fileops",
        "qm/qm-1-fileops-qmclilib.pcap",
        [172, 20, 0, 20],
    ),
    (
        "qm-2-prompt-call",
        "qm/qm-2-prompt-call-qmclilib.pcap",
        [172, 20, 0, 20],
    ),
    ("mq-xml", "mqserver/mq-xml.pcap", [172, 20, 0, 30]),
    ("qps-1-happy", "qps/qps-1-happy.pcap", [172, 20, 0, 40]),
];

const CONCURRENCY: u64 = 200;
const BASE_US: u64 = 1_800_000_000 * 1_000_000;

struct TPkt {
    t: u64,
    conn: usize,
    c2s: bool,
    tos: u8,
    ipid: u16,
    frag: u16,
    ttl: u8,
    flags: u8,
    rseq: u32,
    rack: Option<u32>,
    win: u16,
    urg: u16,
    opts: Vec<u8>,
    payload: Vec<u8>,
}

struct Template {
    server_ip: [u8; 4],
    pkts: Vec<TPkt>,
    server_ports: Vec<u16>,
    /// Per connection: first to last packet, in µs.
    duration: Vec<u64>,
    bytes: u64,
}

fn read_pcap(path: &Path) -> io::Result<Vec<(u64, Vec<u8>)>> {
    let d = std::fs::read(path)?;
    let bad = |what: &str| io::Error::other(format!("{}: {what}", path.display()));
    let scale = match d.get(..4) {
        Some([0xd4, 0xc3, 0xb2, 0xa1]) => 1,
        Some([0x4d, 0x3c, 0xb2, 0xa1]) => 1000,
        _ => return Err(bad("need a little-endian classic pcap")),
    };
    if d[20..24] != 1u32.to_le_bytes() {
        return Err(bad("need Ethernet"));
    }
    let mut pos = 24;
    let mut out = Vec::new();
    while pos + 16 <= d.len() {
        let u = |i: usize| {
            u64::from(u32::from_le_bytes(
                d[pos + i..pos + i + 4].try_into().unwrap(),
            ))
        };
        let incl = u(8) as usize;
        out.push((
            u(0) * 1_000_000 + u(4) / scale,
            d[pos + 16..pos + 16 + incl].to_vec(),
        ));
        pos += 16 + incl;
    }
    Ok(out)
}

impl Template {
    fn load(path: &Path, server_ip: [u8; 4]) -> io::Result<Template> {
        let raw = read_pcap(path)?;
        let bad = |what: &str| io::Error::other(format!("{}: {what}", path.display()));
        let t0 = raw.first().ok_or_else(|| bad("empty"))?.0;
        type Key = ([u8; 4], u16);
        // Per connection: client, server, ISNs, first and last packet.
        let mut conns: Vec<(Key, Key, u32, u32, u64, u64)> = Vec::new();
        let find =
            |conns: &[(Key, Key, u32, u32, u64, u64)], k: Key| conns.iter().position(|c| c.0 == k);
        let fields = |p: &[u8]| -> io::Result<(Key, Key, u32, u32, u8, usize, usize)> {
            if p.len() < 54 || p[12..14] != [0x08, 0x00] || p[23] != 6 || p[14] != 0x45 {
                return Err(bad("need IPv4 (no options) / TCP"));
            }
            let ip = &p[14..];
            let tot = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            let tcp = &ip[20..];
            let doff = usize::from(tcp[12] >> 4) * 4;
            Ok((
                (
                    ip[12..16].try_into().unwrap(),
                    u16::from_be_bytes([tcp[0], tcp[1]]),
                ),
                (
                    ip[16..20].try_into().unwrap(),
                    u16::from_be_bytes([tcp[2], tcp[3]]),
                ),
                u32::from_be_bytes(tcp[4..8].try_into().unwrap()),
                u32::from_be_bytes(tcp[8..12].try_into().unwrap()),
                tcp[13],
                doff,
                tot,
            ))
        };
        for (t, p) in &raw {
            let (src, dst, seq, _, fl, _, _) = fields(p)?;
            if fl & 0x12 == 0x02 && find(&conns, src).is_none() {
                conns.push((src, dst, seq, 0, *t, *t));
            } else if fl & 0x12 == 0x12 {
                let i = find(&conns, dst).ok_or_else(|| bad("SYN-ACK without SYN"))?;
                conns[i].3 = seq;
            }
        }
        let mut pkts = Vec::new();
        let mut bytes = 0;
        for (t, p) in &raw {
            let (src, dst, seq, ack, fl, doff, tot) = fields(p)?;
            let (ci, c2s) = match (find(&conns, src), find(&conns, dst)) {
                (Some(i), _) => (i, true),
                (None, Some(i)) => (i, false),
                _ => return Err(bad("a packet of a connection without SYN")),
            };
            conns[ci].5 = *t;
            let (own, other) = if c2s {
                (conns[ci].2, conns[ci].3)
            } else {
                (conns[ci].3, conns[ci].2)
            };
            let ip = &p[14..];
            let opts = ip[40..20 + doff].to_vec();
            let mut i = 0;
            while i < opts.len() {
                match opts[i] {
                    0 => break,
                    1 => i += 1,
                    5 => return Err(bad("SACK blocks would need rewriting")),
                    _ => i += usize::from(opts[i + 1]).max(2),
                }
            }
            bytes += 16 + 14 + tot as u64;
            pkts.push(TPkt {
                t: t - t0,
                conn: ci,
                c2s,
                tos: ip[1],
                ipid: u16::from_be_bytes([ip[4], ip[5]]),
                frag: u16::from_be_bytes([ip[6], ip[7]]),
                ttl: ip[8],
                flags: fl,
                rseq: seq.wrapping_sub(own),
                rack: (fl & 0x10 != 0).then(|| ack.wrapping_sub(other)),
                win: u16::from_be_bytes([ip[34], ip[35]]),
                urg: u16::from_be_bytes([ip[38], ip[39]]),
                opts,
                payload: ip[20 + doff..tot].to_vec(),
            });
        }
        Ok(Template {
            server_ip,
            pkts,
            server_ports: conns.iter().map(|c| c.1 .1).collect(),
            duration: conns.iter().map(|c| c.5 - c.4).collect(),
            bytes,
        })
    }
}

fn ip_for_copy(mut k: u64) -> [u8; 4] {
    let z = 1 + k % 254;
    k /= 254;
    let y = k % 256;
    k /= 256;
    [10, (k % 256) as u8, y as u8, z as u8]
}

/// Writes the capture of about `size_mib` MiB for `seed` to `out`, reading
/// the scenarios from `captures`. Returns the size written.
pub fn generate(captures: &Path, size_mib: u64, seed: u64, out: &Path) -> io::Result<u64> {
    let tmpls = SCENARIOS
        .iter()
        .map(|(_, rel, ip)| Template::load(&captures.join(rel), *ip))
        .collect::<io::Result<Vec<_>>>()?;
    let mut rng = Rng::new(seed);
    let budget = size_mib * 1024 * 1024 - 24;
    let round: u64 = tmpls.iter().map(|t| t.bytes).sum();
    let rounds = budget / round;
    let mut plan: Vec<usize> = (0..rounds).flat_map(|_| 0..tmpls.len()).collect();
    let mut left = budget - rounds * round;
    let mut progress = true;
    while progress {
        progress = false;
        for (i, t) in tmpls.iter().enumerate() {
            if t.bytes <= left {
                plan.push(i);
                left -= t.bytes;
                progress = true;
            }
        }
    }
    let open_us: u64 = plan
        .iter()
        .map(|&i| tmpls[i].duration.iter().sum::<u64>())
        .sum();
    let span = (open_us / CONCURRENCY).max(1);
    for i in (1..plan.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        plan.swap(i, j);
    }
    let starts: Vec<u64> = plan.iter().map(|_| rng.below(span)).collect();
    // Per copy and connection: client port, server port, client ISN, server ISN.
    let copies: Vec<Vec<(u16, u16, u32, u32)>> = plan
        .iter()
        .map(|&ti| {
            let mut used = Vec::new();
            tmpls[ti]
                .server_ports
                .iter()
                .map(|&sport| {
                    let cport = loop {
                        let p = 32768 + rng.below(61000 - 32768) as u16;
                        if !used.contains(&p) {
                            used.push(p);
                            break p;
                        }
                    };
                    (cport, sport, rng.next_u32(), rng.next_u32())
                })
                .collect()
        })
        .collect();
    let mut heap: BinaryHeap<Reverse<(u64, usize, usize)>> = plan
        .iter()
        .enumerate()
        .map(|(k, &ti)| Reverse((BASE_US + starts[k] + tmpls[ti].pkts[0].t, k, 0)))
        .collect();
    let mut w = PcapOut::create(out)?;
    while let Some(Reverse((ts, k, idx))) = heap.pop() {
        let t = &tmpls[plan[k]];
        let p = &t.pkts[idx];
        let (cport, sport, isn_c, isn_s) = copies[k][p.conn];
        let cip = ip_for_copy(k as u64);
        let (own, other) = if p.c2s {
            (isn_c, isn_s)
        } else {
            (isn_s, isn_c)
        };
        let (src, dst) = if p.c2s {
            ((cip, cport), (t.server_ip, sport))
        } else {
            ((t.server_ip, sport), (cip, cport))
        };
        let mac = |ip: [u8; 4], server: bool| [0x02, u8::from(server), ip[0], ip[1], ip[2], ip[3]];
        let seg = Tcp {
            src_mac: mac(src.0, !p.c2s),
            dst_mac: mac(dst.0, p.c2s),
            src: src.0,
            dst: dst.0,
            sport: src.1,
            dport: dst.1,
            seq: own.wrapping_add(p.rseq),
            ack: p.rack.map_or(0, |a| other.wrapping_add(a)),
            flags: p.flags,
            win: p.win,
            urg: p.urg,
            opts: &p.opts,
            tos: p.tos,
            ipid: p.ipid,
            frag: p.frag,
            ttl: p.ttl,
        };
        w.tcp(ts, &seg, &p.payload)?;
        if idx + 1 < t.pkts.len() {
            heap.push(Reverse((
                BASE_US + starts[k] + t.pkts[idx + 1].t,
                k,
                idx + 1,
            )));
        }
    }
    w.finish()
}
