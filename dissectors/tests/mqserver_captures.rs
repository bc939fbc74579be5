//! The shared MQServer captures (XML from the real server and client
//! library, the EARLY and TEXT simulators), decoded segment by segment
//! through the real driver and compared with their ground truth; then
//! resegmented, cut by gaps and picked up mid-stream: every byte covered,
//! nothing invented.

use qscope_dissectors::driver::messages as msgs;
use qscope_dissectors::mqserver::{probe, MqServer};
use qscope_dissectors::{
    Dir, Driver, Item, Limits, Options, SessionStart, Severity, Value, Verdict,
};
use serde_json::Value as Jv;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../captures/mqserver/");
const NAMES: [&str; 3] = ["mq-xml", "mq-binary", "mq-text"];

fn read(name: &str, ext: &str) -> Vec<u8> {
    let path = format!("{DIR}{name}.{ext}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// TCP payloads of a little-endian Ethernet/IPv4 pcap in capture order,
/// with their direction (the side that sent the SYN is the client).
fn segments(name: &str) -> Vec<(Dir, Vec<u8>)> {
    let d = read(name, "pcap");
    assert_eq!(&d[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
    let be16 = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    let mut off = 24;
    let mut client = None;
    let mut out = Vec::new();
    while off + 16 <= d.len() {
        let incl = u32::from_le_bytes(d[off + 8..off + 12].try_into().unwrap()) as usize;
        let pkt = &d[off + 16..off + 16 + incl];
        off += 16 + incl;
        let ip = &pkt[14..];
        let ihl = (ip[0] & 15) as usize * 4;
        let tcp = &ip[ihl..be16(&ip[2..4]) as usize];
        let sport = be16(&tcp[0..2]);
        if tcp[13] & 0x12 == 0x02 {
            client = Some(sport);
        }
        let payload = &tcp[(tcp[12] >> 4) as usize * 4..];
        if !payload.is_empty() {
            let dir = if Some(sport) == client {
                Dir::C2S
            } else {
                Dir::S2C
            };
            out.push((dir, payload.to_vec()));
        }
    }
    out
}

/// `(mid, msgtype, encoding)` per direction from the ground truth.
fn truth(name: &str, dir: Dir) -> Vec<(i64, i64, String)> {
    String::from_utf8(read(name, "truth.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Jv>(l).unwrap())
        .filter(|r| r["dir"] == dir.as_str())
        .map(|r| {
            let c = &r["check"];
            (
                c["mid"].as_i64().unwrap(),
                c["msgtype"].as_i64().unwrap(),
                c["encoding"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn dissector(mid_stream: bool) -> Box<MqServer> {
    Box::new(MqServer::new(
        SessionStart { mid_stream },
        Options::default(),
    ))
}

/// Feeds `(dir, offset, bytes)` pieces; `None` bytes are gaps of that length.
fn feed(mid_stream: bool, pieces: &[(Dir, u64, Option<&[u8]>, usize)]) -> Vec<Item> {
    let mut d = Driver::new(dissector(mid_stream), Limits::default());
    let mut items = Vec::new();
    for (dir, off, bytes, len) in pieces {
        match bytes {
            Some(b) => d.data(*dir, *off, b, &mut |i| items.push(i)),
            None => d.gap(*dir, *off, *len as u64, &mut |i| items.push(i)),
        }
    }
    d.close(&mut |i| items.push(i));
    items
}

fn in_capture_order(segs: &[(Dir, Vec<u8>)], skip: &[usize]) -> Vec<Item> {
    let mut off = [0u64; 2];
    let mut pieces = Vec::new();
    for (i, (dir, b)) in segs.iter().enumerate() {
        let o = off[dir.idx()];
        if skip.contains(&i) {
            pieces.push((*dir, o, None, b.len()));
        } else {
            pieces.push((*dir, o, Some(b.as_slice()), b.len()));
        }
        off[dir.idx()] += b.len() as u64;
    }
    feed(false, &pieces)
}

fn ids(items: &[Item], dir: Dir) -> Vec<(i64, i64, String)> {
    msgs(items)
        .into_iter()
        .filter(|m| m.dir == dir)
        .map(|m| {
            let f = |k: &str| m.field(k).map(|f| f.value.clone());
            let (Some(Value::Int(mid)), Some(Value::Int(t)), Some(Value::Str(e))) =
                (f("mid"), f("msgtype"), f("encoding"))
            else {
                panic!("required fields missing: {m:?}")
            };
            (mid, t, e)
        })
        .collect()
}

/// Messages, undecoded ranges and gaps tile each direction from 0.
fn covered(items: &[Item]) -> [u64; 2] {
    let mut at = [0u64; 2];
    for (d, _, n) in items.iter().filter_map(Item::span) {
        at[d.idx()] += n;
    }
    let r = qscope_dissectors::driver::check_coverage(items, at);
    assert!(r.is_ok(), "{r:?}");
    at
}

fn totals(segs: &[(Dir, Vec<u8>)]) -> [u64; 2] {
    let mut t = [0u64; 2];
    for (d, b) in segs {
        t[d.idx()] += b.len() as u64;
    }
    t
}

/// `got` is `want` with some elements left out (nothing invented, order kept).
fn is_subsequence(got: &[(i64, i64, String)], want: &[(i64, i64, String)]) -> bool {
    let mut it = want.iter();
    got.iter().all(|g| it.any(|w| w == g))
}

#[test]
fn captures_match_their_ground_truth() {
    for name in NAMES {
        let segs = segments(name);
        let items = in_capture_order(&segs, &[]);
        for dir in [Dir::C2S, Dir::S2C] {
            assert_eq!(ids(&items, dir), truth(name, dir), "{name} {dir:?}");
        }
        assert_eq!(covered(&items), totals(&segs), "{name}");
        // Clean captures: nothing undecoded but separators and padding.
        for it in &items {
            if let Item::Undecoded {
                severity, reason, ..
            } = it
            {
                assert_eq!(*severity, Severity::Info, "{name}: {reason}");
            }
        }
        for m in msgs(&items) {
            assert!(!m.summary.chars().any(char::is_control), "{}", m.summary);
            assert!(!m.summary.is_empty());
        }
    }
}

#[test]
fn replies_are_paired_in_every_capture() {
    for name in NAMES {
        let segs = segments(name);
        let items = in_capture_order(&segs, &[]);
        let ms = msgs(&items);
        for m in &ms {
            if m.name == "ACK" || m.name == "ERROR" || m.name == "QUEUEINFO" || m.name == "CLNTCAP"
            {
                let r = m
                    .reply_to
                    .unwrap_or_else(|| panic!("{name}: {} unpaired", m.summary));
                assert_ne!(r.dir, m.dir, "{name}: {}", m.summary);
                assert!(
                    ms.iter().any(|x| x.msg_ref() == r),
                    "{name}: dangling reply_to"
                );
            }
        }
    }
}

#[test]
fn passwords_are_redacted_everywhere() {
    for name in NAMES {
        let items = in_capture_order(&segments(name), &[]);
        let auth = msgs(&items).into_iter().find(|m| m.name == "AUTH").unwrap();
        let text = format!("{auth:?}");
        for secret in ["haha", "34654e968f97c8033788ef914171107c"] {
            assert!(!text.contains(secret), "{name}: {secret} leaked in {text}");
        }
        assert!(auth.notes.iter().any(|n| n.severity == Severity::Warn));
    }
}

#[test]
fn resegmenting_changes_nothing() {
    for name in NAMES {
        let segs = segments(name);
        let want = in_capture_order(&segs, &[]);
        for chunk in [1usize, 3, 64, 1000] {
            let mut pieces = Vec::new();
            let mut off = [0u64; 2];
            for (dir, b) in &segs {
                for c in b.chunks(chunk) {
                    pieces.push((*dir, off[dir.idx()], Some(c), c.len()));
                    off[dir.idx()] += c.len() as u64;
                }
            }
            let items = feed(false, &pieces);
            for dir in [Dir::C2S, Dir::S2C] {
                assert_eq!(ids(&items, dir), ids(&want, dir), "{name} chunk {chunk}");
            }
            let a: Vec<_> = msgs(&items)
                .iter()
                .map(|m| (m.offset, m.len, m.reply_to))
                .collect();
            let b: Vec<_> = msgs(&want)
                .iter()
                .map(|m| (m.offset, m.len, m.reply_to))
                .collect();
            assert_eq!(a, b, "{name} chunk {chunk}");
        }
    }
}

#[test]
fn a_lost_segment_loses_only_its_messages() {
    for name in NAMES {
        let segs = segments(name);
        for lost in 1..segs.len() {
            let items = in_capture_order(&segs, &[lost]);
            assert_eq!(covered(&items), totals(&segs), "{name} lost {lost}");
            for dir in [Dir::C2S, Dir::S2C] {
                let got = ids(&items, dir);
                let want = truth(name, dir);
                assert!(
                    is_subsequence(&got, &want),
                    "{name} lost segment {lost} {dir:?}: {got:?} not within {want:?}"
                );
                // At most the messages touching the lost segment are gone
                // (text and binary resume at the next message; XML too).
                assert!(
                    got.len() + 3 >= want.len(),
                    "{name} lost {lost} {dir:?}: {} of {}",
                    got.len(),
                    want.len()
                );
            }
        }
    }
}

#[test]
fn mid_stream_pickup_recovers_a_tail() {
    for name in NAMES {
        let segs = segments(name);
        for start in [1usize, 3, 5] {
            // The capture begins inside the conversation: drop the first
            // segments and cut the next one in half in each direction.
            let mut pieces: Vec<(Dir, Vec<u8>)> = Vec::new();
            let mut cut = [false; 2];
            for (dir, b) in segs.iter().skip(start) {
                if !cut[dir.idx()] {
                    cut[dir.idx()] = true;
                    pieces.push((*dir, b[b.len() / 2..].to_vec()));
                } else {
                    pieces.push((*dir, b.clone()));
                }
            }
            let mut off = [0u64; 2];
            let mut feedlist = Vec::new();
            for (d, b) in &pieces {
                feedlist.push((*d, off[d.idx()], Some(b.as_slice()), b.len()));
                off[d.idx()] += b.len() as u64;
            }
            let items = feed(true, &feedlist);
            assert_eq!(covered(&items), off, "{name} start {start}");
            let mut total = 0;
            for dir in [Dir::C2S, Dir::S2C] {
                let got = ids(&items, dir);
                let want = truth(name, dir);
                assert!(
                    got.len() <= want.len() && got == want[want.len() - got.len()..],
                    "{name} start {start} {dir:?}: {got:?} is not a tail of {want:?}"
                );
                total += got.len();
            }
            assert!(total > 0, "{name} start {start}: nothing recovered");
            // The probe recognises the rest of the conversation.
            let (mut c, mut s) = (Vec::new(), Vec::new());
            for (d, b) in &pieces {
                if *d == Dir::C2S {
                    c.extend_from_slice(b)
                } else {
                    s.extend_from_slice(b)
                }
            }
            assert!(
                matches!(
                    probe(&c, &s, SessionStart { mid_stream: true }),
                    Verdict::Match { swap: false }
                ),
                "{name} start {start}"
            );
        }
    }
}

#[test]
fn probe_recognises_every_capture_from_its_first_segments() {
    for name in NAMES {
        let segs = segments(name);
        let (mut c, mut s) = (Vec::new(), Vec::new());
        let mut verdicts = Vec::new();
        for (d, b) in &segs {
            if *d == Dir::C2S {
                c.extend_from_slice(b)
            } else {
                s.extend_from_slice(b)
            }
            verdicts.push(probe(&c, &s, SessionStart::default()));
        }
        assert_eq!(verdicts[0], Verdict::Match { swap: false }, "{name}");
        assert!(
            verdicts
                .iter()
                .all(|v| *v == Verdict::Match { swap: false }),
            "{name}"
        );
        // With the sides exchanged, the probe says so.
        assert_eq!(
            probe(&s, &c, SessionStart::default()),
            Verdict::Match { swap: true },
            "{name}"
        );
    }
}
