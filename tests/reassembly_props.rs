//! Property tests of `qscope::reassembly` against a deliberately simple
//! model: a byte map (stream offset → byte, or "never delivered").
//!
//! Every property feeds one client-to-server stream: a SYN with a random ISN
//! (often near `u32::MAX`, so sequence numbers wrap), then pieces of the
//! stream in a random order, all at the same capture time, without ACKs,
//! with generous limits; then `finish`. The events of the direction are
//! folded into a byte map (checking on the way that Data/Gap offsets are
//! contiguous from 0), which must equal the model's.

use std::net::SocketAddr;

use proptest::prelude::*;
use proptest::sample::Index;
use qscope::capture::Timestamp;
use qscope::layers::{TcpFlags, TcpSegment};
use qscope::reassembly::*;
use qscope_dissectors::{Dir, Severity};

fn client() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 50000))
}
fn server() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 2], 4444))
}

/// Owned copy of an event (timestamps dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Open(ConnId, bool),
    Data(ConnId, Dir, u64, Vec<u8>),
    Gap(ConnId, Dir, u64, u64),
    End(ConnId, Dir, EndReason),
    Close(ConnId, EndReason),
    Note(ConnId, Severity, String),
}

fn own(e: Event<'_>) -> Ev {
    match e {
        Event::Open {
            conn, mid_stream, ..
        } => Ev::Open(conn, mid_stream),
        Event::Data {
            conn,
            dir,
            offset,
            bytes,
            ..
        } => Ev::Data(conn, dir, offset, bytes.to_vec()),
        Event::Gap {
            conn,
            dir,
            offset,
            len,
            ..
        } => Ev::Gap(conn, dir, offset, len),
        Event::End {
            conn, dir, reason, ..
        } => Ev::End(conn, dir, reason),
        Event::Close { conn, reason, .. } => Ev::Close(conn, reason),
        Event::Note {
            conn,
            severity,
            text,
            ..
        } => Ev::Note(conn, severity, text),
    }
}

fn generous() -> Config {
    Config {
        max_buffered_per_stream: 64 << 20,
        max_buffered_total: 64 << 20,
        gap_timeout_us: i64::MAX,
        idle_timeout_us: None,
        server_ports: vec![],
        max_connections: 10,
        tomb_ttl_us: 60_000_000,
    }
}

/// Feeds a SYN with `isn`, then `pieces` (stream offset, bytes) in order,
/// then finishes. Returns the events and the final stats.
fn run(isn: u32, pieces: &[(u64, Vec<u8>)]) -> (Vec<Ev>, Stats) {
    let mut r = Reassembler::new(generous());
    let mut evs = Vec::new();
    let ts = Timestamp::from_micros(1_000_000);
    let syn = TcpSegment {
        src: client(),
        dst: server(),
        seq: isn,
        ack: 0,
        flags: TcpFlags {
            syn: true,
            ..TcpFlags::default()
        },
        window: 1000,
        payload: &[],
        wire_len: 0,
    };
    r.segment(ts, &syn, &mut |e| evs.push(own(e)));
    for (off, bytes) in pieces {
        let seg = TcpSegment {
            seq: isn.wrapping_add(1).wrapping_add(*off as u32),
            flags: TcpFlags {
                psh: true,
                ..TcpFlags::default()
            },
            payload: bytes,
            wire_len: bytes.len() as u32,
            ..syn.clone()
        };
        r.segment(ts, &seg, &mut |e| evs.push(own(e)));
    }
    r.finish(ts, &mut |e| evs.push(own(e)));
    assert_eq!(r.held_bytes(), 0);
    assert_eq!(r.live_connections(), 0);
    (evs, r.stats().clone())
}

/// Folds the client-to-server Data/Gap events into a byte map (`None` for
/// gap bytes), checking contiguity and the connection's life cycle.
fn byte_map(evs: &[Ev]) -> Result<Vec<Option<u8>>, TestCaseError> {
    prop_assert_eq!(evs.first(), Some(&Ev::Open(0, false)));
    prop_assert_eq!(evs.last(), Some(&Ev::Close(0, EndReason::CaptureEnd)));
    let mut map = Vec::new();
    for e in evs {
        match e {
            Ev::Data(0, Dir::C2S, off, b) => {
                prop_assert_eq!(*off, map.len() as u64, "Data not contiguous");
                prop_assert!(!b.is_empty());
                map.extend(b.iter().map(|&x| Some(x)));
            }
            Ev::Gap(0, Dir::C2S, off, len) => {
                prop_assert_eq!(*off, map.len() as u64, "Gap not contiguous");
                prop_assert!(*len > 0);
                map.extend(std::iter::repeat_n(None, *len as usize));
            }
            Ev::Data(..) | Ev::Gap(..) => prop_assert!(false, "unexpected {:?}", e),
            _ => {}
        }
    }
    let ends: Vec<&Ev> = evs.iter().filter(|e| matches!(e, Ev::End(..))).collect();
    prop_assert_eq!(
        ends,
        vec![
            &Ev::End(0, Dir::C2S, EndReason::CaptureEnd),
            &Ev::End(0, Dir::S2C, EndReason::CaptureEnd)
        ]
    );
    Ok(map)
}

/// Number of maximal runs of `None` in `map`.
fn runs_of_none(map: &[Option<u8>]) -> usize {
    map.iter()
        .enumerate()
        .filter(|&(i, b)| b.is_none() && (i == 0 || map[i - 1].is_some()))
        .count()
}

/// Deterministic Fisher–Yates shuffle driven by `seed` (SplitMix64).
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        v.swap(i, (z % (i as u64 + 1)) as usize);
    }
}

fn isn() -> impl Strategy<Value = u32> {
    prop_oneof![any::<u32>(), (u32::MAX - 4000)..=u32::MAX, 0u32..4000]
}

/// A stream, its cut into segments (as `(start, end)`), extra overlapping
/// re-segmentations and duplicates of the segments.
#[derive(Debug, Clone)]
struct Plan {
    isn: u32,
    data: Vec<u8>,
    segs: Vec<(usize, usize)>,
    extra: Vec<(usize, usize)>,
    dups: Vec<usize>,
    seed: u64,
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        isn(),
        prop::collection::vec(any::<u8>(), 1..3000),
        prop::collection::vec(any::<Index>(), 0..30),
        prop::collection::vec((any::<Index>(), any::<Index>()), 0..8),
        prop::collection::vec(any::<Index>(), 0..8),
        any::<u64>(),
    )
        .prop_map(|(isn, data, cuts, extra, dups, seed)| {
            let n = data.len();
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(n)).collect();
            points.push(0);
            points.push(n);
            points.sort_unstable();
            points.dedup();
            let segs: Vec<(usize, usize)> = points.windows(2).map(|w| (w[0], w[1])).collect();
            let extra = extra
                .iter()
                .map(|(a, b)| {
                    let (a, b) = (a.index(n), b.index(n));
                    (a.min(b), a.max(b) + 1)
                })
                .collect();
            let dups = dups.iter().map(|i| i.index(segs.len())).collect();
            Plan {
                isn,
                data,
                segs,
                extra,
                dups,
                seed,
            }
        })
}

proptest! {
    /// Nothing missing: the Data events rebuild the stream exactly, whatever
    /// the order, duplication and re-segmentation; no gaps, no warnings.
    #[test]
    fn reorder_duplicate_resegment_rebuilds_stream(p in plan()) {
        let mut ranges: Vec<(usize, usize)> = p.segs.clone();
        ranges.extend(&p.extra);
        ranges.extend(p.dups.iter().map(|&i| p.segs[i]));
        shuffle(&mut ranges, p.seed);
        let pieces: Vec<(u64, Vec<u8>)> =
            ranges.iter().map(|&(a, b)| (a as u64, p.data[a..b].to_vec())).collect();
        let (evs, stats) = run(p.isn, &pieces);
        let map = byte_map(&evs)?;
        let expected: Vec<Option<u8>> = p.data.iter().map(|&b| Some(b)).collect();
        prop_assert_eq!(map, expected);
        prop_assert_eq!(stats.gaps, 0);
        prop_assert_eq!(stats.overlaps_differing, 0);
        prop_assert!(!evs.iter().any(|e| matches!(e, Ev::Note(..))), "{:?}", evs);
    }

    /// Some segments dropped: every byte up to the end of the last delivered
    /// byte is covered exactly once, Data equals the stream, and the gaps are
    /// exactly the bytes no delivered piece covered.
    #[test]
    fn dropped_segments_become_exact_gaps(
        p in plan(),
        keep in prop::collection::vec(any::<bool>(), 30),
    ) {
        let mut ranges: Vec<(usize, usize)> = p
            .segs
            .iter()
            .enumerate()
            .filter(|&(i, _)| keep[i % keep.len()])
            .map(|(_, &r)| r)
            .collect();
        ranges.extend(&p.extra);
        ranges.extend(p.dups.iter().filter(|&&i| keep[i % keep.len()]).map(|&i| p.segs[i]));
        shuffle(&mut ranges, p.seed);
        let mut covered = vec![false; p.data.len()];
        for &(a, b) in &ranges {
            covered[a..b].iter_mut().for_each(|c| *c = true);
        }
        let end = ranges.iter().map(|&(_, b)| b).max().unwrap_or(0);
        let expected: Vec<Option<u8>> =
            (0..end).map(|i| covered[i].then_some(p.data[i])).collect();
        let pieces: Vec<(u64, Vec<u8>)> =
            ranges.iter().map(|&(a, b)| (a as u64, p.data[a..b].to_vec())).collect();
        let (evs, stats) = run(p.isn, &pieces);
        let map = byte_map(&evs)?;
        prop_assert_eq!(&map, &expected);
        prop_assert_eq!(stats.gaps as usize, runs_of_none(&expected), "one Gap per missing run");
        prop_assert_eq!(stats.gap_bytes as usize, expected.iter().filter(|b| b.is_none()).count());
    }

    /// Overlapping pieces with different bytes: the first copy of every byte
    /// wins; bytes nobody sent are gaps.
    #[test]
    fn overlaps_first_copy_wins(
        isn in isn(),
        pieces in prop::collection::vec(
            (0u64..2000, prop::collection::vec(any::<u8>(), 1..300)),
            1..25,
        ),
    ) {
        let end = pieces.iter().map(|(a, b)| *a as usize + b.len()).max().unwrap_or(0);
        let mut model: Vec<Option<u8>> = vec![None; end];
        for (a, bytes) in &pieces {
            for (i, &b) in bytes.iter().enumerate() {
                let slot = &mut model[*a as usize + i];
                if slot.is_none() {
                    *slot = Some(b);
                }
            }
        }
        let (evs, stats) = run(isn, &pieces);
        let map = byte_map(&evs)?;
        prop_assert_eq!(&map, &model);
        prop_assert_eq!(stats.gaps as usize, runs_of_none(&model));
        // The first differing overlap is noted (once per direction); the
        // TCP statistics count every one.
        let warned = evs.iter().filter(|e| matches!(e, Ev::Note(_, Severity::Warn, _))).count();
        prop_assert_eq!(warned as u64, stats.overlaps_differing.min(1));
    }

    /// Hostile mixes of flags, sequence numbers, addresses, timestamps and
    /// tiny limits: no panic, and the event stream stays well-formed
    /// (Open first, contiguous offsets, at most one End per direction, no
    /// event after Close, everything closed and released after `finish`).
    #[test]
    fn arbitrary_segments_keep_events_well_formed(
        segs in prop::collection::vec(
            (
                0usize..4,            // address pair
                any::<bool>(),        // reversed
                0u8..32,              // flags: syn ack fin rst psh
                0usize..3,            // sequence base
                0u32..600,            // seq delta
                0u32..600,            // ack delta
                prop::collection::vec(any::<u8>(), 0..120),
                0u32..200,            // extra wire length (snaplen cut)
                0i64..400_000,        // time step
            ),
            1..80,
        ),
        small_limits in any::<bool>(),
    ) {
        let cfg = Config {
            max_buffered_per_stream: if small_limits { 300 } else { 1 << 20 },
            max_buffered_total: if small_limits { 500 } else { 1 << 20 },
            gap_timeout_us: 500_000,
            idle_timeout_us: Some(2_000_000),
            server_ports: vec![4444],
            max_connections: 3,
            tomb_ttl_us: 60_000_000,
        };
        let bases = [0u32, u32::MAX - 300, 1 << 31];
        let hosts = [
            (client(), server()),
            (SocketAddr::from(([192, 0, 2, 1], 50001)), server()),
            (SocketAddr::from(([192, 0, 2, 3], 7)), SocketAddr::from(([192, 0, 2, 4], 7))),
            (client(), client()),
        ];
        let mut r = Reassembler::new(cfg);
        let mut evs = Vec::new();
        let mut t = 0i64;
        for (pair, rev, f, base, sd, ad, payload, extra, step) in &segs {
            let (mut src, mut dst) = hosts[*pair];
            if *rev {
                std::mem::swap(&mut src, &mut dst);
            }
            t += step;
            let seg = TcpSegment {
                src,
                dst,
                seq: bases[*base].wrapping_add(*sd),
                ack: bases[(*base + 1) % 3].wrapping_add(*ad),
                flags: TcpFlags {
                    syn: f & 1 != 0,
                    ack: f & 2 != 0,
                    fin: f & 4 != 0,
                    rst: f & 8 != 0,
                    psh: f & 16 != 0,
                },
                window: 0,
                payload,
                wire_len: payload.len() as u32 + extra,
            };
            r.segment(Timestamp::from_micros(t), &seg, &mut |e| evs.push(own(e)));
            if step % 7 == 0 {
                r.expire(Timestamp::from_micros(t), &mut |e| evs.push(own(e)));
            }
        }
        r.finish(Timestamp::from_micros(t), &mut |e| evs.push(own(e)));
        prop_assert_eq!(r.held_bytes(), 0);
        prop_assert_eq!(r.live_connections(), 0);

        use std::collections::HashMap;
        #[derive(Default)]
        struct Life { next: [u64; 2], ended: [bool; 2], closed: bool }
        let mut lives: HashMap<ConnId, Life> = HashMap::new();
        for e in &evs {
            let conn = match e {
                Ev::Open(c, _) => {
                    prop_assert!(!lives.contains_key(c), "reopened {}", c);
                    lives.insert(*c, Life::default());
                    continue;
                }
                Ev::Data(c, ..) | Ev::Gap(c, ..) | Ev::End(c, ..) | Ev::Close(c, _) | Ev::Note(c, ..) => *c,
            };
            let life = lives.get_mut(&conn);
            prop_assert!(life.is_some(), "event before Open: {:?}", e);
            let Some(life) = life else { continue };
            prop_assert!(!life.closed, "event after Close: {:?}", e);
            match e {
                Ev::Data(_, d, off, b) => {
                    prop_assert!(!life.ended[d.idx()] && !b.is_empty());
                    prop_assert_eq!(*off, life.next[d.idx()]);
                    life.next[d.idx()] += b.len() as u64;
                }
                Ev::Gap(_, d, off, len) => {
                    prop_assert!(!life.ended[d.idx()] && *len > 0);
                    prop_assert_eq!(*off, life.next[d.idx()]);
                    life.next[d.idx()] += len;
                }
                Ev::End(_, d, _) => {
                    prop_assert!(!life.ended[d.idx()], "second End");
                    life.ended[d.idx()] = true;
                }
                Ev::Close(..) => {
                    prop_assert!(life.ended[0] && life.ended[1], "Close before End");
                    life.closed = true;
                }
                _ => {}
            }
        }
        prop_assert!(lives.values().all(|l| l.closed));
        prop_assert_eq!(lives.len() as u64, r.stats().connections);
    }
}
