//! The shared QPS captures (an independent simulator written from the QPS
//! 3.5 description), decoded through the driver and compared with their
//! ground truth: in capture order, in small chunks, and picked up
//! mid-stream at every position.

mod qps_common;

use qps_common::*;
use qscope_dissectors::driver::{Driver, Item, Limits};
use qscope_dissectors::qps::{probe, Qps};
use qscope_dissectors::{Dir, Kind, Message, Options, SessionStart, Verdict};
use serde_json::Value as Jv;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../captures/qps/");
const NAMES: [&str; 2] = ["qps-1-happy", "qps-2-signon-fail"];

fn read(name: &str, ext: &str) -> Vec<u8> {
    let path = format!("{DIR}{name}.{ext}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// TCP payloads of a little-endian Ethernet/IPv4 pcap in capture order.
fn segments(name: &str) -> Vec<(Dir, Vec<u8>)> {
    let d = read(name, "pcap");
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
        if tcp[13] & 0x12 == 0x02 {
            client = Some(be16(&tcp[0..2]));
        }
        let payload = &tcp[(tcp[12] >> 4) as usize * 4..];
        if !payload.is_empty() {
            let dir = if Some(be16(&tcp[0..2])) == client {
                Dir::C2S
            } else {
                Dir::S2C
            };
            out.push((dir, payload.to_vec()));
        }
    }
    out
}

/// The truth `check` objects per direction.
fn truth(name: &str) -> [Vec<Jv>; 2] {
    let text = String::from_utf8(read(name, "truth.jsonl")).unwrap();
    let mut out = [Vec::new(), Vec::new()];
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Jv = serde_json::from_str(line).unwrap();
        out[if v["dir"] == "c2s" { 0 } else { 1 }].push(v["check"].clone());
    }
    out
}

/// The checked keys of a message, as the truth writes them.
fn checked(m: &Message, keys: &Jv) -> Jv {
    let mut o = serde_json::Map::new();
    for k in keys.as_object().unwrap().keys() {
        o.insert(k.clone(), Jv::from(uint(m, k)));
    }
    Jv::Object(o)
}

fn compare(name: &str, items: &[Item]) {
    let t = truth(name);
    for dir in [Dir::C2S, Dir::S2C] {
        let got = dir_msgs(items, dir);
        let want = &t[dir.idx()];
        assert_eq!(got.len(), want.len(), "{name} {dir:?}");
        for (m, w) in got.iter().zip(want) {
            assert_eq!(&checked(m, w), w, "{name} {dir:?} {}", m.name);
            ranges_inside(m);
        }
    }
    assert!(
        undecoded(items).is_empty(),
        "{name}: {:?}",
        undecoded(items)
    );
}

fn feed(segs: &[(Dir, Vec<u8>)], start: SessionStart, chunk: usize) -> Vec<Item> {
    let mut d = Driver::new(
        Box::new(Qps::new(start, Options::default())),
        Limits::default(),
    );
    let mut items = Vec::new();
    let mut offs = [0u64; 2];
    for (dir, bytes) in segs {
        for piece in bytes.chunks(chunk) {
            d.data(*dir, offs[dir.idx()], piece, &mut |i| items.push(i));
            offs[dir.idx()] += piece.len() as u64;
        }
    }
    d.close(&mut |i| items.push(i));
    items
}

#[test]
fn captures_match_their_ground_truth() {
    for name in NAMES {
        let segs = segments(name);
        compare(name, &feed(&segs, SessionStart::default(), usize::MAX));
        for chunk in [1, 5, 18, 100] {
            compare(name, &feed(&segs, SessionStart::default(), chunk));
        }
    }
}

#[test]
fn captures_are_detected_by_content() {
    for name in NAMES {
        let segs = segments(name);
        let cat = |d: Dir| -> Vec<u8> {
            segs.iter()
                .filter(|(x, _)| *x == d)
                .flat_map(|(_, b)| b.clone())
                .collect()
        };
        let (c, s) = (cat(Dir::C2S), cat(Dir::S2C));
        assert_eq!(
            probe(&c, &s, SessionStart::default()),
            Verdict::Match { swap: false }
        );
        assert_eq!(
            probe(&c[..18], &[], SessionStart::default()),
            Verdict::Match { swap: false }
        );
        assert_eq!(
            probe(&s, &c, SessionStart::default()),
            Verdict::Match { swap: true }
        );
        assert_eq!(
            probe(&c[7..], &s[3..], SessionStart { mid_stream: true }),
            Verdict::Match { swap: false }
        );
    }
}

#[test]
fn happy_capture_pairs_every_reply_and_links_pushes() {
    let items = feed(
        &segments("qps-1-happy"),
        SessionStart::default(),
        usize::MAX,
    );
    let all = msgs(&items);
    let c = dir_msgs(&items, Dir::C2S);
    let pushes: Vec<&&Message> = all.iter().filter(|m| m.kind == Kind::Push).collect();
    assert_eq!(pushes.len(), 2);
    let search = c.iter().find(|m| m.name == "Search").unwrap();
    for p in &pushes {
        assert_eq!(p.name, "SearchUpdate");
        assert_eq!(p.links, vec![("search", search.msg_ref())]);
    }
    assert_eq!(uint(pushes[0], "flags"), 0x100);
    for m in all.iter().filter(|m| m.kind == Kind::Response) {
        let r = m.reply_to.expect("every response answers a request");
        let req = c.iter().find(|q| q.offset == r.offset).unwrap();
        assert_eq!(req.name, m.name);
        assert_eq!(uint(req, "seq"), uint(m, "seq"));
    }
    let results: Vec<&&Message> = all
        .iter()
        .filter(|m| m.kind == Kind::Response && m.name == "GetSearchResults")
        .collect();
    assert_eq!(results.len(), 4, "three parts, then done");
    assert_eq!(
        val(results[3], "done"),
        &qscope_dissectors::Value::Bool(true)
    );
    // CloseHeader and Close have no reply and are not reported.
    assert!(
        session_notes(&items).is_empty(),
        "{:?}",
        session_notes(&items)
    );
    // Nothing above info on a clean capture except the clear-text password.
    for m in &all {
        for n in &m.notes {
            assert!(
                n.severity == qscope_dissectors::Severity::Info || n.text.contains("clear-text"),
                "{}: {n:?}",
                m.name
            );
        }
    }
}

/// Picked up mid-stream at any byte of each direction: bytes before the
/// first recognised header are skipped, and every message decoded is one of
/// the truth's, in order, ending with the truth's last messages.
#[test]
fn mid_stream_pickup_at_every_position_finds_the_truth_suffix() {
    for name in NAMES {
        let segs = segments(name);
        let t = truth(name);
        let total: [usize; 2] = [Dir::C2S, Dir::S2C].map(|d| {
            segs.iter()
                .filter(|(x, _)| *x == d)
                .map(|(_, b)| b.len())
                .sum()
        });
        let full = feed(&segs, SessionStart::default(), usize::MAX);
        for cut in (0..total[0].max(total[1])).step_by(3) {
            // Drop the first `cut` bytes of both directions.
            let mut left = [cut, cut];
            let mut cut_segs = Vec::new();
            for (d, b) in &segs {
                let k = left[d.idx()].min(b.len());
                left[d.idx()] -= k;
                if k < b.len() {
                    cut_segs.push((*d, b[k..].to_vec()));
                }
            }
            let items = feed(&cut_segs, SessionStart { mid_stream: true }, usize::MAX);
            for dir in [Dir::C2S, Dir::S2C] {
                let got: Vec<Jv> = dir_msgs(&items, dir)
                    .iter()
                    .map(|m| checked(m, &t[dir.idx()][0]))
                    .collect();
                let want = &t[dir.idx()];
                assert!(got.len() <= want.len(), "{name} cut {cut} {dir:?}");
                // Every message that starts at or after the cut is found.
                let after = dir_msgs(&full, dir)
                    .iter()
                    .filter(|m| m.offset >= cut as u64)
                    .count();
                assert!(
                    got.len() >= after,
                    "{name} cut {cut} {dir:?}: {} < {after}",
                    got.len()
                );
                assert_eq!(
                    &got[..],
                    &want[want.len() - got.len()..],
                    "{name} cut {cut} {dir:?}"
                );
            }
        }
    }
}
