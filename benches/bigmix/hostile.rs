//! Hostile captures, generated deterministically: traffic built to make an
//! analyzer hold memory (unterminated messages on many connections,
//! overlapping retransmissions with differing bytes, a million distinct
//! names, a million half-open connections, millions of unanswered
//! requests). All QMP, to 172.20.0.10:4444.

use std::io;
use std::path::Path;

use super::pcap::{Conn, PcapOut, Rng, Tcp, ACK, PSH, SYN};

pub struct Case {
    pub key: &'static str,
    pub file: &'static str,
    pub what: &'static str,
    /// Also run `stats --format json`.
    pub stats_json: bool,
}

pub const CASES: [Case; 6] = [
    Case {
        key: "a",
        file: "hostile-a-10k-conns-100k-unterminated.pcap",
        what: "10,000 connections, each an unterminated 100 KiB QMP message",
        stats_json: false,
    },
    Case {
        key: "b",
        file: "hostile-b-100k-conns-8k-unterminated.pcap",
        what: "100,000 connections, each an unterminated 8 KiB QMP message",
        stats_json: false,
    },
    Case {
        key: "c",
        file: "hostile-c-4m-overlapping-retransmissions.pcap",
        what: "one session, 4 M overlapping retransmissions carrying different bytes",
        stats_json: false,
    },
    Case {
        key: "d",
        file: "hostile-d-1m-distinct-names.pcap",
        what: "one session, 1 M distinct QMP command names, each answered",
        stats_json: true,
    },
    Case {
        key: "e",
        file: "hostile-e-1m-syn-only.pcap",
        what: "1 M SYN-only connections",
        stats_json: false,
    },
    Case {
        key: "f",
        file: "hostile-f-4m-unanswered.pcap",
        what: "one session, 4 M unanswered requests",
        stats_json: false,
    },
];

const SERVER: ([u8; 4], u16) = ([172, 20, 0, 10], 4444);
const T0: u64 = 1_800_000_000 * 1_000_000;
const GREETING: &[u8] = b"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 8}, \"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n";
const CAPS: &[u8] = b"{\"execute\":\"qmp_capabilities\"}\n";
const QUERY: &[u8] = b"{\"execute\":\"query-status\"}\n";
const RETURN: &[u8] = b"{\"return\": {}}\r\n";

/// The `i`th client of network 10.`net`.0.0/16: 60,000 ports per address.
fn client(i: u64, net: u8) -> ([u8; 4], u16) {
    let host = i / 60_000;
    (
        [10, net, (host / 250) as u8, 1 + (host % 250) as u8],
        1024 + (i % 60_000) as u16,
    )
}

/// Generates case `key` into `out`; returns its size in bytes.
pub fn generate(key: &str, out: &Path) -> io::Result<u64> {
    let mut w = PcapOut::create(out)?;
    let mut rng = Rng::new(u64::from(key.as_bytes()[0]));
    let mut ts = T0;
    let mut tick = |d: u64| {
        ts += d;
        ts
    };
    match key {
        "a" | "b" => {
            let (n, len, net) = if key == "a" {
                (10_000, 100 * 1024, 1)
            } else {
                (100_000, 8 * 1024, 2)
            };
            let mut msg =
                b"{\"execute\":\"guest-file-write\",\"arguments\":{\"handle\":1,\"buf-b64\":\""
                    .to_vec();
            msg.resize(len, b'A');
            let mut conns: Vec<Conn> = (0..n)
                .map(|i| Conn::new(client(i, net), SERVER, [rng.next_u32(), rng.next_u32()]))
                .collect();
            // Every connection opens, is greeted, and sends its message in
            // two halves; none is ever finished or closed.
            for c in &mut conns {
                c.syn(&mut w, tick(10))?;
            }
            for c in &mut conns {
                c.syn_ack(&mut w, tick(10))?;
            }
            for c in &mut conns {
                c.data(&mut w, tick(10), false, GREETING)?;
            }
            for half in [&msg[..len / 2], &msg[len / 2..]] {
                for c in &mut conns {
                    c.data(&mut w, tick(10), true, half)?;
                }
            }
        }
        "c" => {
            let mut c = Conn::new(client(0, 3), SERVER, [rng.next_u32(), rng.next_u32()]);
            c.syn(&mut w, tick(10))?;
            c.syn_ack(&mut w, tick(10))?;
            c.data(&mut w, tick(10), false, GREETING)?;
            // The client stream: qmp_capabilities, then query-status
            // requests. Segment i carries stream bytes [8i, 8i+16); its
            // first 8 bytes, already sent by segment i-1, differ ("XXXXXXXX").
            let byte = |p: u64| {
                if p < CAPS.len() as u64 {
                    CAPS[p as usize]
                } else {
                    QUERY[((p - CAPS.len() as u64) % QUERY.len() as u64) as usize]
                }
            };
            let complete = |end: u64| {
                if end < CAPS.len() as u64 {
                    0
                } else {
                    1 + (end - CAPS.len() as u64) / QUERY.len() as u64
                }
            };
            const N: u64 = 4_000_000;
            let base = c.seq[0];
            let mut answered = 0;
            let mut payload = [0u8; 16];
            for i in 0..=N {
                for (k, b) in payload.iter_mut().enumerate() {
                    *b = byte(8 * i + k as u64);
                }
                if i > 0 {
                    payload[..8].copy_from_slice(b"XXXXXXXX");
                }
                let seq = base.wrapping_add((8 * i) as u32);
                let t = Tcp::simple(c.client, c.server, seq, c.seq[1], ACK | PSH);
                w.tcp(tick(1), &t, &payload)?;
                let done = complete(8 * i + 16);
                if done - answered >= 2048 || (i == N && done > answered) {
                    let replies = RETURN.repeat((done - answered) as usize);
                    c.seq[0] = base.wrapping_add((8 * i + 16) as u32);
                    c.data(&mut w, tick(10), false, &replies)?;
                    answered = done;
                }
            }
            c.seq[0] = base.wrapping_add((8 * N + 16) as u32);
            c.close(&mut w, tick(10))?;
        }
        "d" => {
            let mut c = Conn::new(client(0, 4), SERVER, [rng.next_u32(), rng.next_u32()]);
            c.syn(&mut w, tick(10))?;
            c.syn_ack(&mut w, tick(10))?;
            c.data(&mut w, tick(10), false, GREETING)?;
            c.data(&mut w, tick(10), true, CAPS)?;
            c.data(&mut w, tick(10), false, RETURN)?;
            const N: u64 = 1_000_000;
            const BATCH: u64 = 2048;
            let mut i = 0;
            let mut reqs = Vec::new();
            while i < N {
                let n = BATCH.min(N - i);
                reqs.clear();
                for k in i..i + n {
                    reqs.extend_from_slice(
                        format!("{{\"execute\":\"x-cmd-{k:07}\"}}\n").as_bytes(),
                    );
                }
                c.data(&mut w, tick(100), true, &reqs)?;
                c.data(&mut w, tick(100), false, &RETURN.repeat(n as usize))?;
                i += n;
            }
            c.close(&mut w, tick(10))?;
        }
        "e" => {
            for i in 0..1_000_000 {
                let t = Tcp::simple(client(i, 5), SERVER, rng.next_u32(), 0, SYN);
                w.tcp(tick(1), &t, &[])?;
            }
        }
        "f" => {
            let mut c = Conn::new(client(0, 6), SERVER, [rng.next_u32(), rng.next_u32()]);
            c.syn(&mut w, tick(10))?;
            c.syn_ack(&mut w, tick(10))?;
            c.data(&mut w, tick(10), false, GREETING)?;
            c.data(&mut w, tick(10), true, CAPS)?;
            c.data(&mut w, tick(10), false, RETURN)?;
            const N: usize = 4_000_000;
            let per = 65_000 / QUERY.len();
            let full = QUERY.repeat(per);
            let mut left = N;
            while left > 0 {
                let n = per.min(left);
                c.data(&mut w, tick(10), true, &full[..n * QUERY.len()])?;
                left -= n;
            }
            c.close(&mut w, tick(10))?;
        }
        _ => unreachable!("no hostile case {key}"),
    }
    w.finish()
}
