//! The shared QM captures, decoded by the qm dissector behind the real
//! driver and compared with their ground truth (function codes, outcomes
//! and statuses), segment by segment in capture order (so pairing is
//! checked too), re-chunked, as connections picked up "mid-stream" at
//! their very start, and through the probe.

use std::collections::BTreeMap;

use qscope_dissectors::driver::messages;
use qscope_dissectors::driver::run_schedule;
use qscope_dissectors::{
    new_dissector, probe, Dir, Item, Kind, Message, Options, Proto, SessionStart, Severity, Value,
    Verdict,
};
use serde_json::Value as Jv;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../captures/qm/");
const NAMES: [&str; 3] = [
    "qm-1-fileops-qmclilib",
    "qm-2-prompt-call-qmclilib",
    "qm-4-extra-codes-rawclient",
];

fn read(name: &str, ext: &str) -> Vec<u8> {
    let path = format!("{DIR}{name}.{ext}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The TCP payloads of each connection of a little-endian Ethernet/IPv4
/// pcap, in capture order, keyed "CLIENT-SERVER" as in the truth files.
fn sessions(name: &str) -> BTreeMap<String, Vec<(Dir, Vec<u8>)>> {
    let d = read(name, "pcap");
    assert_eq!(&d[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "little-endian pcap");
    let u16be = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    let mut off = 24;
    let mut out: BTreeMap<String, Vec<(Dir, Vec<u8>)>> = BTreeMap::new();
    while off + 16 <= d.len() {
        let incl = u32::from_le_bytes(d[off + 8..off + 12].try_into().unwrap()) as usize;
        let pkt = &d[off + 16..off + 16 + incl];
        off += 16 + incl;
        assert_eq!(u16be(&pkt[12..14]), 0x0800);
        let ip = &pkt[14..];
        let ihl = (ip[0] & 15) as usize * 4;
        let total = u16be(&ip[2..4]) as usize;
        let ip_addr = |b: &[u8]| format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]);
        let (src, dst) = (ip_addr(&ip[12..16]), ip_addr(&ip[16..20]));
        let tcp = &ip[ihl..total];
        let (sport, dport) = (u16be(&tcp[0..2]), u16be(&tcp[2..4]));
        let doff = (tcp[12] >> 4) as usize * 4;
        let payload = &tcp[doff..];
        let (dir, key) = if dport == 4243 {
            (Dir::C2S, format!("{src}:{sport}-{dst}:{dport}"))
        } else {
            (Dir::S2C, format!("{dst}:{dport}-{src}:{sport}"))
        };
        let entry = out.entry(key).or_default();
        if !payload.is_empty() {
            entry.push((dir, payload.to_vec()));
        }
    }
    out
}

/// Ground truth per session and direction: the `check` objects in order.
fn truth(name: &str) -> BTreeMap<(String, &'static str), Vec<Jv>> {
    let text = String::from_utf8(read(name, "truth.jsonl")).unwrap();
    let mut out: BTreeMap<(String, &'static str), Vec<Jv>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Jv = serde_json::from_str(line).unwrap();
        let dir = if v["dir"] == "c2s" { "c2s" } else { "s2c" };
        out.entry((v["session"].as_str().unwrap().to_owned(), dir))
            .or_default()
            .push(v["check"].clone());
    }
    out
}

fn decode(sched: &[(Dir, Vec<u8>)], chunk: usize, mid_stream: bool) -> Vec<Item> {
    let d = new_dissector(Proto::Qm, SessionStart { mid_stream }, Options::default()).unwrap();
    let parts: Vec<(Dir, &[u8])> = sched.iter().map(|(d, b)| (*d, b.as_slice())).collect();
    run_schedule(d, &parts, chunk)
}

fn int(m: &Message, name: &str) -> i64 {
    match m.field(name).map(|f| &f.value) {
        Some(Value::Int(v)) => *v,
        other => panic!("{}: field {name} is {other:?}", m.name),
    }
}

/// What the truth files check, from the decoded messages.
fn checks(items: &[Item], dir: Dir) -> Vec<Jv> {
    messages(items)
        .into_iter()
        .filter(|m| m.dir == dir)
        .map(|m| match dir {
            Dir::C2S => serde_json::json!({"code": int(m, "code")}),
            Dir::S2C => {
                serde_json::json!({"outcome": int(m, "outcome"), "status": int(m, "status")})
            }
        })
        .collect()
}

fn shape(items: &[Item]) -> Vec<(Dir, u64, usize, String, String, Option<u64>)> {
    messages(items)
        .into_iter()
        .map(|m| {
            (
                m.dir,
                m.offset,
                m.len,
                m.name.clone(),
                m.summary.clone(),
                m.reply_to.map(|r| r.offset),
            )
        })
        .collect()
}

#[test]
fn captures_match_their_ground_truth() {
    for name in NAMES {
        let want = truth(name);
        let sess = sessions(name);
        assert_eq!(sess.len() * 2, want.len(), "{name}: sessions");
        for (key, sched) in &sess {
            let items = decode(sched, usize::MAX, false);
            for (dir, d) in [(Dir::C2S, "c2s"), (Dir::S2C, "s2c")] {
                let w = &want[&(key.clone(), d)];
                assert_eq!(&checks(&items, dir), w, "{name} {key} {d}");
            }
            // Every response answers a captured request; requests and
            // responses are well-formed; the only undecoded byte is the
            // greeting.
            for m in messages(&items) {
                match m.dir {
                    Dir::C2S => assert_eq!(m.kind, Kind::Request),
                    Dir::S2C => {
                        assert_eq!(m.kind, Kind::Response);
                        assert!(m.reply_to.is_some(), "{name} {key}: {m:?}");
                    }
                }
                assert!(
                    m.notes.iter().all(|n| n.severity != Severity::Error),
                    "{name} {key}: {:?}",
                    m.notes
                );
                assert!(!m.summary.chars().any(char::is_control), "{}", m.summary);
            }
            let undecoded: Vec<_> = items
                .iter()
                .filter_map(|i| match i {
                    Item::Undecoded {
                        dir,
                        offset,
                        len,
                        reason,
                        ..
                    } => Some((*dir, *offset, *len, reason.to_string())),
                    _ => None,
                })
                .collect();
            assert_eq!(
                undecoded,
                vec![(Dir::S2C, 0, 1, "QM greeting (0x06)".to_owned())],
                "{name} {key}"
            );
        }
    }
}

#[test]
fn chunking_does_not_change_the_decode() {
    for name in NAMES {
        for (key, sched) in sessions(name) {
            let base = shape(&decode(&sched, usize::MAX, false));
            for chunk in [1, 3, 10, 1460] {
                assert_eq!(
                    shape(&decode(&sched, chunk, false)),
                    base,
                    "{name} {key} chunk {chunk}"
                );
            }
        }
    }
}

#[test]
fn picked_up_at_the_connection_start_without_syn() {
    // Decoded as mid-stream, the same connections give the same messages:
    // the greeting is recognised, every direction resyncs at its first
    // byte, and responses held while the client side is undecided still
    // pair with the right requests.
    for name in NAMES {
        for (key, sched) in sessions(name) {
            let normal = decode(&sched, usize::MAX, false);
            let mid = decode(&sched, usize::MAX, true);
            let mut a = shape(&normal);
            let mut b = shape(&mid);
            // Emission order may differ across directions: compare per direction.
            a.sort();
            b.sort();
            assert_eq!(a, b, "{name} {key}");
        }
    }
}

#[test]
fn probe_recognises_every_connection() {
    for name in NAMES {
        for (key, sched) in sessions(name) {
            let mut c2s = Vec::new();
            let mut s2c = Vec::new();
            for (dir, b) in &sched {
                match dir {
                    Dir::C2S => c2s.extend_from_slice(b),
                    Dir::S2C => s2c.extend_from_slice(b),
                }
            }
            let start = SessionStart::default();
            assert_eq!(
                probe(Proto::Qm, &c2s, &s2c, start),
                Verdict::Match { swap: false },
                "{name} {key}"
            );
            assert_eq!(
                probe(Proto::Qm, &s2c, &c2s, start),
                Verdict::Match { swap: true },
                "{name} {key} swapped"
            );
            // As soon as the greeting and the first request are there.
            let l = u32::from_le_bytes(c2s[..4].try_into().unwrap()) as usize;
            assert_eq!(
                probe(Proto::Qm, &c2s[..l], &[6], start),
                Verdict::Match { swap: false },
                "{name} {key}"
            );
            assert_eq!(
                probe(Proto::Qm, &c2s[..5], &[6], start),
                Verdict::NeedMore,
                "{name} {key}"
            );
        }
    }
}

#[test]
fn other_protocols_are_not_qm() {
    let qmp = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../captures/qmp/qmp-basic.c2s.bin"
    ))
    .unwrap();
    let qmp_s = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../captures/qmp/qmp-basic.s2c.bin"
    ))
    .unwrap();
    assert_eq!(
        probe(Proto::Qm, &qmp, &qmp_s, SessionStart::default()),
        Verdict::NoMatch(None)
    );
    assert_eq!(
        probe(Proto::Qm, &qmp[..10], &qmp_s[..10], SessionStart::default()),
        Verdict::NoMatch(None)
    );
}
