//! Unit tests: one or more per rule of the module docs.

use super::*;
use crate::layers::{TcpFlags, TcpSegment};

const C: &str = "10.0.0.1:40000";
const S: &str = "10.0.0.2:4444";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

/// An owned copy of an [`Event`], without timestamps.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Open(ConnId, SocketAddr, SocketAddr, bool),
    Data(ConnId, Dir, u64, Vec<u8>),
    Gap(ConnId, Dir, u64, u64),
    End(ConnId, Dir, EndReason),
    Close(ConnId, EndReason),
    Note(ConnId, Option<Dir>, Severity, String),
}

fn own(e: Event<'_>) -> Ev {
    match e {
        Event::Open {
            conn,
            client,
            server,
            mid_stream,
            ..
        } => Ev::Open(conn, client, server, mid_stream),
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
            dir,
            severity,
            text,
            ..
        } => Ev::Note(conn, dir, severity, text),
    }
}

fn flags(f: &str) -> TcpFlags {
    TcpFlags {
        syn: f.contains('S'),
        ack: f.contains('A'),
        fin: f.contains('F'),
        rst: f.contains('R'),
        psh: f.contains('P'),
    }
}

struct H {
    r: Reassembler,
}

impl H {
    fn new() -> H {
        H::with(Config::default())
    }
    fn with(cfg: Config) -> H {
        H {
            r: Reassembler::new(cfg),
        }
    }
    /// Feeds a segment at `t_us` µs; `ack` given means the ACK flag.
    #[allow(clippy::too_many_arguments)]
    fn seg_full(
        &mut self,
        t_us: i64,
        src: &str,
        dst: &str,
        seq: u32,
        ack: u32,
        f: &str,
        payload: &[u8],
        wire_len: u32,
    ) -> Vec<Ev> {
        let seg = TcpSegment {
            src: addr(src),
            dst: addr(dst),
            seq,
            ack,
            flags: flags(f),
            window: 1000,
            payload,
            wire_len,
        };
        let mut v = Vec::new();
        self.r
            .segment(Timestamp::from_micros(t_us), &seg, &mut |e| v.push(own(e)));
        v
    }
    fn seg(
        &mut self,
        src: &str,
        dst: &str,
        seq: u32,
        ack: u32,
        f: &str,
        payload: &[u8],
    ) -> Vec<Ev> {
        self.seg_full(0, src, dst, seq, ack, f, payload, payload.len() as u32)
    }
    #[allow(clippy::too_many_arguments)]
    fn at(
        &mut self,
        t_us: i64,
        src: &str,
        dst: &str,
        seq: u32,
        ack: u32,
        f: &str,
        payload: &[u8],
    ) -> Vec<Ev> {
        self.seg_full(t_us, src, dst, seq, ack, f, payload, payload.len() as u32)
    }
    fn finish(&mut self) -> Vec<Ev> {
        let mut v = Vec::new();
        self.r
            .finish(Timestamp::from_micros(100_000_000), &mut |e| v.push(own(e)));
        v
    }
    fn expire(&mut self, t_us: i64) -> Vec<Ev> {
        let mut v = Vec::new();
        self.r
            .expire(Timestamp::from_micros(t_us), &mut |e| v.push(own(e)));
        v
    }
    /// SYN (client ISN `ci`), SYN-ACK (server ISN `si`), ACK.
    fn handshake(&mut self, ci: u32, si: u32) -> Vec<Ev> {
        let mut v = self.seg(C, S, ci, 0, "S", b"");
        v.extend(self.seg(S, C, si, ci.wrapping_add(1), "SA", b""));
        v.extend(self.seg(C, S, ci.wrapping_add(1), si.wrapping_add(1), "A", b""));
        v
    }
}

fn data(dir: Dir, off: u64, b: &[u8]) -> Ev {
    Ev::Data(0, dir, off, b.to_vec())
}

fn notes(v: &[Ev]) -> Vec<&str> {
    v.iter()
        .filter_map(|e| match e {
            Ev::Note(_, _, _, t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

fn no_notes(v: &[Ev]) -> Vec<Ev> {
    v.iter()
        .filter(|e| !matches!(e, Ev::Note(..)))
        .cloned()
        .collect()
}

#[test]
fn handshake_data_and_fins() {
    let mut h = H::new();
    let v = h.handshake(1000, 5000);
    assert_eq!(v, vec![Ev::Open(0, addr(C), addr(S), false)]);
    assert_eq!(
        h.seg(C, S, 1001, 5001, "PA", b"hello"),
        vec![data(Dir::C2S, 0, b"hello")]
    );
    assert_eq!(
        h.seg(S, C, 5001, 1006, "PA", b"world!"),
        vec![data(Dir::S2C, 0, b"world!")]
    );
    assert_eq!(
        h.seg(C, S, 1006, 5007, "FA", b""),
        vec![Ev::End(0, Dir::C2S, EndReason::Fin)]
    );
    assert_eq!(
        h.seg(S, C, 5007, 1007, "FA", b"!"),
        vec![
            data(Dir::S2C, 6, b"!"),
            Ev::End(0, Dir::S2C, EndReason::Fin),
            Ev::Close(0, EndReason::Fin)
        ]
    );
    // The last ACK and a retransmitted FIN open no ghost connection.
    assert_eq!(h.seg(C, S, 1007, 5009, "A", b""), vec![]);
    assert_eq!(h.seg(S, C, 5007, 1007, "FA", b"!"), vec![]);
    assert_eq!(h.finish(), vec![]);
    let st = h.r.stats();
    assert_eq!((st.connections, st.bytes, st.gaps), (1, 12, 0));
    assert_eq!(h.r.live_connections(), 0);
}

#[test]
fn in_order_data_is_zero_copy() {
    let mut r = Reassembler::new(Config::default());
    let payload = b"zero copy".to_vec();
    let seg = TcpSegment {
        src: addr(C),
        dst: addr(S),
        seq: 7,
        ack: 0,
        flags: flags("S"),
        window: 0,
        payload: &[],
        wire_len: 0,
    };
    r.segment(Timestamp::default(), &seg, &mut |_| {});
    let seg = TcpSegment {
        seq: 8,
        flags: flags("P"),
        payload: &payload,
        wire_len: payload.len() as u32,
        ..seg
    };
    let mut ptr = None;
    r.segment(Timestamp::default(), &seg, &mut |e| {
        if let Event::Data { bytes, .. } = e {
            ptr = Some(bytes.as_ptr());
        }
    });
    assert_eq!(ptr, Some(payload.as_ptr()));
}

#[test]
fn wrap_around_near_u32_max() {
    let mut h = H::new();
    let isn = u32::MAX - 3; // first data byte at u32::MAX - 2
    h.handshake(isn, 77);
    let s0 = isn.wrapping_add(1);
    // Out of order across the wrap: bytes 6..10 (seq 3..7) first.
    let v = h.seg(C, S, s0.wrapping_add(6), 78, "A", b"ghij");
    assert_eq!(v, vec![]);
    let v = h.seg(C, S, s0, 78, "A", b"abc");
    assert_eq!(v, vec![data(Dir::C2S, 0, b"abc")]);
    let v = h.seg(C, S, s0.wrapping_add(3), 78, "A", b"def");
    assert_eq!(
        v,
        vec![data(Dir::C2S, 3, b"def"), data(Dir::C2S, 6, b"ghij")]
    );
    // ACK across the wrap acknowledging everything: no gap.
    assert_eq!(h.seg(S, C, 78, s0.wrapping_add(10), "A", b""), vec![]);
    assert_eq!(h.r.stats().gaps, 0);
}

#[test]
fn offsets_keep_growing_past_4_gib() {
    let mut h = H::new();
    h.handshake(0, 0);
    // Big snaplen-cut segments (1 byte captured) cover 5 GiB quickly.
    const WIRE: u32 = 3_600_000;
    let n = (5u64 << 32) / u64::from(WIRE);
    let mut seq = 1u32;
    let mut last = Vec::new();
    for _ in 0..n {
        last = h.seg_full(0, C, S, seq, 0, "A", b"x", WIRE);
        seq = seq.wrapping_add(WIRE);
    }
    let start = (n - 1) * u64::from(WIRE);
    assert_eq!(
        last,
        vec![
            data(Dir::C2S, start, b"x"),
            Ev::Gap(0, Dir::C2S, start + 1, u64::from(WIRE) - 1)
        ]
    );
}

#[test]
fn out_of_order_held_then_delivered() {
    let mut h = H::new();
    h.handshake(100, 200);
    assert_eq!(h.seg(C, S, 111, 201, "A", b"world"), vec![]);
    assert_eq!(h.seg(C, S, 106, 201, "A", b"     "), vec![]);
    assert_eq!(
        h.seg(C, S, 101, 201, "A", b"hello"),
        vec![
            data(Dir::C2S, 0, b"hello"),
            data(Dir::C2S, 5, b"     "),
            data(Dir::C2S, 10, b"world")
        ]
    );
    assert_eq!(h.r.stats().out_of_order, 2);
    assert_eq!(h.r.held_bytes(), 0);
}

#[test]
fn duplicates_and_retransmissions_dropped() {
    let mut h = H::new();
    h.handshake(100, 200);
    assert_eq!(h.seg(C, S, 101, 201, "A", b"abcdef").len(), 1);
    assert_eq!(h.seg(C, S, 101, 201, "A", b"abcdef"), vec![]);
    assert_eq!(h.seg(C, S, 103, 201, "A", b"cd"), vec![]);
    // Partial overlap: only the new bytes come out.
    assert_eq!(
        h.seg(C, S, 105, 201, "A", b"efgh"),
        vec![data(Dir::C2S, 6, b"gh")]
    );
    // Duplicate of held data.
    assert_eq!(h.seg(C, S, 120, 201, "A", b"xyz"), vec![]);
    assert_eq!(h.seg(C, S, 120, 201, "A", b"xyz"), vec![]);
    assert_eq!(h.r.stats().retransmissions, 3);
    assert_eq!(h.r.stats().overlaps_differing, 0);
}

#[test]
fn overlap_with_different_bytes_first_wins_with_note() {
    let mut h = H::new();
    h.handshake(100, 200);
    h.seg(C, S, 101, 201, "A", b"AAAAAAAAAA");
    let v = h.seg(C, S, 106, 201, "A", b"BBBBBCCCCC");
    assert_eq!(no_notes(&v), vec![data(Dir::C2S, 10, b"CCCCC")]);
    assert_eq!(notes(&v).len(), 1);
    assert!(notes(&v)[0].contains("differ"), "{v:?}");
    assert!(matches!(
        v[1],
        Ev::Note(0, Some(Dir::C2S), Severity::Warn, _)
    ));
    // Against held bytes: counted, not noted again in this direction.
    h.seg(C, S, 131, 201, "A", b"0123456789");
    let v = h.seg(C, S, 136, 201, "A", b"XXXXX");
    assert_eq!(notes(&v).len(), 0);
    assert_eq!(h.r.stats().overlaps_differing, 2);
    let v = h.seg(C, S, 116, 201, "A", &[b'-'; 15]);
    assert_eq!(
        no_notes(&v),
        vec![
            data(Dir::C2S, 15, &[b'-'; 15]),
            data(Dir::C2S, 30, b"0123456789")
        ]
    );
    assert_eq!(h.r.stats().overlaps_differing, 2);
}

#[test]
fn syn_with_new_isn_replaces_the_connection() {
    let mut h = H::new();
    h.handshake(100, 200);
    h.seg(C, S, 101, 201, "A", b"old");
    // A retransmitted SYN is ignored.
    assert_eq!(h.seg(C, S, 100, 0, "S", b""), vec![]);
    let v = h.seg(C, S, 9000, 0, "S", b"");
    assert_eq!(
        v,
        vec![
            Ev::End(0, Dir::C2S, EndReason::Replaced),
            Ev::End(0, Dir::S2C, EndReason::Replaced),
            Ev::Close(0, EndReason::Replaced),
            Ev::Open(1, addr(C), addr(S), false),
        ]
    );
    h.seg(S, C, 7000, 9001, "SA", b"");
    assert_eq!(
        h.seg(C, S, 9001, 7001, "A", b"new"),
        vec![Ev::Data(1, Dir::C2S, 0, b"new".to_vec())]
    );
}

#[test]
fn syn_ack_first_makes_its_destination_the_client() {
    let mut h = H::new();
    let v = h.seg(S, C, 500, 101, "SA", b"");
    assert_eq!(v, vec![Ev::Open(0, addr(C), addr(S), false)]);
    assert_eq!(
        h.seg(C, S, 101, 501, "A", b"hi"),
        vec![data(Dir::C2S, 0, b"hi")]
    );
    assert_eq!(
        h.seg(S, C, 501, 103, "A", b"yo"),
        vec![data(Dir::S2C, 0, b"yo")]
    );
}

#[test]
fn mid_stream_orientation() {
    // Lower port is the server.
    let mut h = H::new();
    let v = h.seg(S, C, 1_000_000, 2_000_000, "A", b"reply");
    assert_eq!(
        v,
        vec![
            Ev::Open(0, addr(C), addr(S), true),
            data(Dir::S2C, 0, b"reply")
        ]
    );
    assert_eq!(
        h.seg(C, S, 2_000_000, 1_000_005, "A", b"q"),
        vec![data(Dir::C2S, 0, b"q")]
    );
    // A known server port beats the lower port.
    let mut h = H::with(Config {
        server_ports: vec![50000],
        ..Config::default()
    });
    let v = h.seg("10.0.0.1:40000", "10.0.0.2:50000", 1, 0, "", b"x");
    assert_eq!(
        v[0],
        Ev::Open(0, addr("10.0.0.1:40000"), addr("10.0.0.2:50000"), true)
    );
    // Same ports: the destination of the first packet is the server.
    let mut h = H::new();
    let v = h.seg("10.0.0.9:7000", "10.0.0.3:7000", 1, 0, "", b"x");
    assert_eq!(
        v[0],
        Ev::Open(0, addr("10.0.0.9:7000"), addr("10.0.0.3:7000"), true)
    );
}

#[test]
fn mid_stream_bytes_before_the_first_are_dropped_with_a_note() {
    let mut h = H::new();
    h.seg(C, S, 1000, 0, "", b"later");
    let v = h.seg(C, S, 995, 0, "", b"early");
    assert_eq!(v.len(), 1);
    assert!(notes(&v)[0].contains("before the first byte"));
    // Straddling: only the part from offset 0 on counts (here: old bytes).
    let v = h.seg(C, S, 998, 0, "", b"xxlatermore");
    assert_eq!(no_notes(&v), vec![data(Dir::C2S, 5, b"more")]);
}

#[test]
fn pure_acks_open_nothing_and_create_no_holes() {
    let mut h = H::new();
    assert_eq!(h.seg(C, S, 5, 9, "A", b""), vec![]);
    assert_eq!(h.r.live_connections(), 0);
    h.handshake(100, 200);
    // Zero-length segment far ahead: no hole.
    assert_eq!(h.seg(C, S, 5000, 201, "A", b""), vec![]);
    h.seg(C, S, 101, 201, "A", b"ok");
    let v = h.finish();
    assert_eq!(h.r.stats().gaps, 0, "{v:?}");
}

#[test]
fn keep_alives_are_not_data() {
    let mut h = H::new();
    h.handshake(100, 200);
    h.seg(C, S, 101, 201, "A", b"abc");
    assert_eq!(h.seg(C, S, 103, 201, "A", b"\0"), vec![]);
    assert_eq!(h.seg(C, S, 103, 201, "A", b""), vec![]);
    assert_eq!(h.r.stats().retransmissions, 0);
    // Mid-stream: a keep-alive seen before any data must not become offset 0.
    let mut h = H::new();
    h.seg(S, C, 50, 1000, "A", b"greeting");
    assert_eq!(h.seg(C, S, 999, 58, "A", b"\0"), vec![]);
    let v = h.seg(C, S, 1000, 58, "A", b"data");
    assert_eq!(v, vec![data(Dir::C2S, 0, b"data")]);
}

#[test]
fn ack_beyond_hole_declares_exact_gap() {
    let mut h = H::new();
    h.handshake(100, 200);
    h.seg(C, S, 101, 201, "A", b"0123456789"); // 0..10
    h.seg(C, S, 121, 201, "A", b"KLMNOPQRST"); // 20..30, held
    h.seg(C, S, 141, 201, "A", b"abcde"); // 40..45, held
                                          // Server acknowledges up to offset 25: hole 10..20 is a gap.
    let v = h.seg(S, C, 201, 126, "A", b"");
    assert_eq!(
        v,
        vec![
            Ev::Gap(0, Dir::C2S, 10, 10),
            data(Dir::C2S, 20, b"KLMNOPQRST")
        ]
    );
    // Acknowledging beyond everything: gap 30..40, data, gap 45..50.
    let v = h.seg(S, C, 201, 151, "A", b"");
    assert_eq!(
        v,
        vec![
            Ev::Gap(0, Dir::C2S, 30, 10),
            data(Dir::C2S, 40, b"abcde"),
            Ev::Gap(0, Dir::C2S, 45, 5)
        ]
    );
    let st = h.r.stats();
    assert_eq!((st.gaps, st.gap_bytes), (3, 25));
    // An old ACK does nothing.
    assert_eq!(h.seg(S, C, 201, 111, "A", b""), vec![]);
}

#[test]
fn hole_older_than_timeout_becomes_gap() {
    let mut h = H::new();
    h.handshake(100, 200);
    h.at(0, C, S, 101, 201, "A", b"0123456789");
    h.at(100_000, C, S, 121, 201, "A", b"KLMNOPQRST");
    // 0.9 s later: still waiting.
    assert_eq!(h.at(1_000_000, S, C, 201, 0, "", b""), vec![]);
    // Any packet of the connection more than 1 s after the hole appeared.
    let v = h.at(1_100_001, C, S, 141, 201, "A", b"x");
    assert_eq!(
        v,
        vec![
            Ev::Gap(0, Dir::C2S, 10, 10),
            data(Dir::C2S, 20, b"KLMNOPQRST")
        ]
    );
    // The byte at 40 is held since 1.1 s: expire declares it.
    assert_eq!(h.expire(1_500_000), vec![]);
    assert_eq!(
        h.expire(2_200_000),
        vec![Ev::Gap(0, Dir::C2S, 30, 10), data(Dir::C2S, 40, b"x")]
    );
}

#[test]
fn per_stream_limit_declares_gap_with_note() {
    let mut h = H::with(Config {
        max_buffered_per_stream: 100,
        ..Config::default()
    });
    h.handshake(100, 200);
    h.seg(C, S, 101, 201, "A", b"0123456789");
    assert_eq!(h.seg(C, S, 121, 201, "A", b"held"), vec![]); // 4 + 64 <= 100
    let v = h.seg(C, S, 131, 201, "A", &[b'z'; 40]);
    assert_eq!(notes(&v).len(), 1);
    assert!(notes(&v)[0].starts_with("limit"), "{v:?}");
    assert_eq!(
        no_notes(&v),
        vec![
            Ev::Gap(0, Dir::C2S, 10, 10),
            data(Dir::C2S, 20, b"held"),
            Ev::Gap(0, Dir::C2S, 24, 6),
            data(Dir::C2S, 30, &[b'z'; 40]),
        ]
    );
    assert_eq!(h.r.stats().limit_hits, 1);
    assert_eq!(h.r.held_bytes(), 0);
}

#[test]
fn global_limit_declares_gap_on_the_growing_stream() {
    let mut h = H::with(Config {
        max_buffered_total: 200,
        ..Config::default()
    });
    h.seg(C, S, 1, 0, "", b"a");
    h.seg(C, S, 20, 0, "", &[1; 50]); // 114 held
                                      // Port 1 < port 2: this one flows server to client.
    h.seg("10.0.0.7:1", "10.0.0.8:2", 1, 0, "", b"b");
    let v = h.seg("10.0.0.7:1", "10.0.0.8:2", 20, 0, "", &[2; 50]);
    assert!(notes(&v)[0].contains("global limit"), "{v:?}");
    assert_eq!(
        no_notes(&v),
        vec![
            Ev::Gap(1, Dir::S2C, 1, 18),
            Ev::Data(1, Dir::S2C, 19, vec![2; 50])
        ]
    );
    assert_eq!(h.r.held_bytes(), 114);
}

#[test]
fn snaplen_cut_segment_ends_in_gap() {
    let mut h = H::new();
    h.handshake(100, 200);
    let v = h.seg_full(0, C, S, 101, 201, "A", b"captured", 100);
    assert_eq!(notes(&v).len(), 1);
    assert_eq!(
        no_notes(&v),
        vec![data(Dir::C2S, 0, b"captured"), Ev::Gap(0, Dir::C2S, 8, 92)]
    );
    // Cut while out of order: held as a missing range.
    let v = h.seg_full(0, C, S, 301, 201, "A", b"ab", 10);
    assert_eq!(no_notes(&v), vec![]);
    let v = h.seg(C, S, 201, 201, "A", &[b'.'; 100]);
    assert_eq!(
        v,
        vec![
            data(Dir::C2S, 100, &[b'.'; 100]),
            data(Dir::C2S, 200, b"ab"),
            Ev::Gap(0, Dir::C2S, 202, 8)
        ]
    );
    assert_eq!(
        h.seg(C, S, 311, 201, "A", b"z"),
        vec![data(Dir::C2S, 210, b"z")]
    );
}

#[test]
fn fin_after_hole_waits_for_the_gap_rules() {
    let mut h = H::new();
    h.handshake(100, 200);
    h.seg(C, S, 101, 201, "A", b"0123456789");
    // FIN carried by a segment after a hole (10..20 missing).
    assert_eq!(h.seg(C, S, 121, 201, "FA", b"tail"), vec![]);
    // The server ACKs the FIN: the hole is a gap, the direction ends.
    let v = h.seg(S, C, 201, 126, "A", b"");
    assert_eq!(
        v,
        vec![
            Ev::Gap(0, Dir::C2S, 10, 10),
            data(Dir::C2S, 20, b"tail"),
            Ev::End(0, Dir::C2S, EndReason::Fin)
        ]
    );
    // Bytes after the FIN are dropped.
    let v = h.seg(C, S, 125, 201, "A", b"more");
    assert!(notes(&v)[0].contains("after the FIN"), "{v:?}");
    assert_eq!(no_notes(&v), vec![]);
}

#[test]
fn fin_after_hole_at_capture_end() {
    let mut h = H::new();
    h.handshake(100, 200);
    h.seg(C, S, 101, 201, "A", b"01");
    h.seg(C, S, 110, 201, "FA", b"");
    assert_eq!(
        h.finish(),
        vec![
            Ev::Gap(0, Dir::C2S, 2, 7),
            Ev::End(0, Dir::C2S, EndReason::Fin),
            Ev::End(0, Dir::S2C, EndReason::CaptureEnd),
            Ev::Close(0, EndReason::CaptureEnd)
        ]
    );
}

#[test]
fn fin_after_hole_times_out() {
    let mut h = H::new();
    h.handshake(100, 200);
    h.at(0, C, S, 101, 201, "A", b"01");
    h.at(0, C, S, 110, 201, "FA", b"");
    assert_eq!(
        h.expire(1_000_001),
        vec![
            Ev::Gap(0, Dir::C2S, 2, 7),
            Ev::End(0, Dir::C2S, EndReason::Fin)
        ]
    );
}

#[test]
fn rst_flushes_and_closes() {
    let mut h = H::new();
    h.handshake(100, 200);
    h.seg(C, S, 101, 201, "A", b"ab");
    h.seg(C, S, 110, 201, "A", b"cd");
    let v = h.seg(S, C, 201, 0, "R", b"");
    assert_eq!(
        v,
        vec![
            Ev::Gap(0, Dir::C2S, 2, 7),
            data(Dir::C2S, 9, b"cd"),
            Ev::End(0, Dir::C2S, EndReason::Rst),
            Ev::End(0, Dir::S2C, EndReason::Rst),
            Ev::Close(0, EndReason::Rst)
        ]
    );
    // Stray data after the RST opens no connection; a new SYN does.
    assert_eq!(h.seg(C, S, 112, 201, "A", b"late"), vec![]);
    assert_eq!(h.seg(C, S, 100, 0, "S", b""), vec![]); // the old SYN again
    assert_eq!(
        h.seg(C, S, 7, 0, "S", b""),
        vec![Ev::Open(1, addr(C), addr(S), false)]
    );
}

/// A tombstone holds for its time to live as judged by the packets of its
/// own address pair: another connection's later packet (which, with the
/// connections spread over shards, another reassembler may see instead)
/// does not end it early. Sweeping frees what is past its time.
#[test]
fn a_tombstone_lasts_by_the_time_of_its_own_packets() {
    let mut h = H::new();
    let ttl = Config::default().tomb_ttl_us;
    h.handshake(100, 200);
    h.seg(S, C, 201, 0, "R", b"");
    assert_eq!(h.r.tomb_memory(), TOMB_COST_V4);
    // Another pair, later than the time to live (the capture is not in
    // time order): the tombstone still holds for a packet at 1 s.
    let other = h.at(ttl + 5_000_000, "10.0.0.9:1", S, 5, 0, "S", b"");
    assert_eq!(other, vec![Ev::Open(1, addr("10.0.0.9:1"), addr(S), false)]);
    assert_eq!(h.at(1_000_000, C, S, 101, 201, "A", b"late"), vec![]);
    // Sweeping as of a time within it keeps it.
    h.r.sweep_tombs(Timestamp::from_micros(ttl));
    assert_eq!(h.r.tomb_memory(), TOMB_COST_V4);
    // Its own packet past the time opens a connection (mid-stream).
    let v = h.at(ttl + 1, C, S, 105, 201, "A", b"later");
    assert!(matches!(v.first(), Some(Ev::Open(2, ..))), "{v:?}");
    assert_eq!(h.r.tomb_memory(), 0);
    // A second tombstone, swept once past its time.
    h.seg(S, C, 201, 0, "R", b"");
    assert_eq!(h.r.tomb_memory(), TOMB_COST_V4);
    h.r.sweep_tombs(Timestamp::from_micros(2 * ttl + 1));
    assert_eq!(h.r.tomb_memory(), 0);
}

#[test]
fn finish_delivers_everything_held() {
    let mut h = H::new();
    h.handshake(100, 200);
    h.seg(C, S, 105, 201, "A", b"x");
    h.seg(S, C, 210, 101, "A", b"y");
    assert_eq!(
        h.finish(),
        vec![
            Ev::Gap(0, Dir::C2S, 0, 4),
            data(Dir::C2S, 4, b"x"),
            Ev::End(0, Dir::C2S, EndReason::CaptureEnd),
            Ev::Gap(0, Dir::S2C, 0, 9),
            data(Dir::S2C, 9, b"y"),
            Ev::End(0, Dir::S2C, EndReason::CaptureEnd),
            Ev::Close(0, EndReason::CaptureEnd)
        ]
    );
    assert_eq!(h.r.held_bytes(), 0);
}

#[test]
fn idle_connections_expire() {
    let mut h = H::with(Config {
        idle_timeout_us: Some(10_000_000),
        ..Config::default()
    });
    h.at(0, C, S, 1, 0, "", b"a");
    h.at(5_000_000, "10.0.0.7:1", "10.0.0.8:2", 1, 0, "", b"b");
    assert_eq!(h.expire(10_000_000), vec![]);
    assert_eq!(
        h.expire(10_000_001),
        vec![
            Ev::End(0, Dir::C2S, EndReason::Idle),
            Ev::End(0, Dir::S2C, EndReason::Idle),
            Ev::Close(0, EndReason::Idle)
        ]
    );
    assert_eq!(h.r.live_connections(), 1);
    // The 4-tuple is free again: new packets pick it up mid-stream.
    assert_eq!(
        h.at(20_000_000, C, S, 2, 0, "", b"c")[0],
        Ev::Open(2, addr(C), addr(S), true)
    );
}

#[test]
fn connection_limit_closes_least_recently_active() {
    let mut h = H::with(Config {
        max_connections: 2,
        ..Config::default()
    });
    h.at(0, "10.0.0.1:1", "10.0.0.2:9", 1, 0, "", b"a");
    h.at(1, "10.0.0.1:2", "10.0.0.2:9", 1, 0, "", b"a");
    h.at(2, "10.0.0.1:1", "10.0.0.2:9", 2, 0, "", b"b"); // conn 0 active again
    let v = h.at(3, "10.0.0.1:3", "10.0.0.2:9", 1, 0, "", b"a");
    assert!(matches!(&v[0], Ev::Note(1, None, Severity::Warn, t) if t.starts_with("limit")));
    assert_eq!(v[3], Ev::Close(1, EndReason::Idle));
    assert!(matches!(v[4], Ev::Open(2, ..)));
    assert_eq!(h.r.live_connections(), 2);
    assert_eq!(h.r.stats().limit_hits, 1);
}

#[test]
fn bogus_far_ahead_segment_ignored() {
    let mut h = H::new();
    h.handshake(100, 200);
    let v = h.seg(C, S, 101 + (MAX_AHEAD as u32) + 10, 201, "A", b"junk");
    assert!(notes(&v)[0].contains("beyond"));
    assert_eq!(h.r.held_bytes(), 0);
}

#[test]
fn hostile_inputs_do_not_panic() {
    let mut h = H::with(Config {
        max_buffered_per_stream: 10,
        max_buffered_total: 20,
        gap_timeout_us: 0,
        idle_timeout_us: Some(0),
        server_ports: vec![0],
        max_connections: 0,
        tomb_ttl_us: 0,
    });
    let all = ["", "S", "SA", "A", "F", "FA", "R", "SR", "SF", "SFRA"];
    let seqs = [0u32, 1, u32::MAX, u32::MAX - 1, 1 << 31, (1 << 31) + 1];
    let mut t = i64::MAX - 10;
    for f in all {
        for &seq in &seqs {
            for &ack in &seqs {
                for (src, dst) in [(C, S), (S, C), (C, C)] {
                    h.seg_full(t, src, dst, seq, ack, f, b"xyz", u32::MAX);
                    h.seg_full(-t, src, dst, seq, ack, f, b"", 0);
                    t = t.wrapping_add(7);
                }
            }
        }
        h.expire(0);
    }
    h.finish();
    assert_eq!(h.r.live_connections(), 0);
    assert_eq!(h.r.held_bytes(), 0);
}

#[test]
fn differing_retransmission_beyond_the_kept_tail_is_just_dropped() {
    let mut h = H::new();
    h.handshake(100, 200);
    h.seg(C, S, 101, 201, "A", &[b'a'; 10]);
    h.seg(C, S, 111, 201, "A", &vec![b'b'; stream::TAIL_KEEP]);
    // Offsets 0..10 are no longer in the tail: nothing to compare with.
    assert_eq!(h.seg(C, S, 101, 201, "A", &[b'X'; 10]), vec![]);
    // Offsets at the end of the tail still are.
    let v = h.seg(C, S, 101 + stream::TAIL_KEEP as u32, 201, "A", b"XX");
    assert_eq!(notes(&v).len(), 1);
    assert_eq!(h.r.stats().retransmissions, 2);
}

#[test]
fn retransmitted_syn_ack_is_ignored() {
    let mut h = H::new();
    h.handshake(100, 200);
    assert_eq!(h.seg(S, C, 200, 101, "SA", b""), vec![]);
    assert_eq!(h.r.stats().retransmissions, 1);
    // A SYN-ACK with another ISN is a new connection whose SYN was missed.
    let v = h.seg(S, C, 900, 101, "SA", b"");
    assert_eq!(v[2], Ev::Close(0, EndReason::Replaced));
    assert_eq!(v[3], Ev::Open(1, addr(C), addr(S), false));
}

/// After a connection closed, a late copy of its SYN or SYN-ACK opens
/// nothing, while a SYN with another ISN opens a new connection: whichever
/// of the two addresses sorts first, for IPv4 pairs (kept packed) and IPv6.
#[test]
fn a_closed_connection_ignores_its_own_late_syns_only() {
    let pairs = [
        ("10.0.0.1:40000", "10.0.0.2:4444"),
        ("10.0.0.9:40000", "10.0.0.2:4444"),
        ("[2001:db8::1]:40000", "[2001:db8::2]:4444"),
        ("[2001:db8::9]:40000", "[2001:db8::2]:4444"),
    ];
    for (c, s) in pairs {
        let mut h = H::new();
        assert_eq!(h.seg(c, s, 100, 0, "S", b"").len(), 1, "{c}");
        h.seg(s, c, 200, 101, "SA", b"");
        h.seg(c, s, 101, 201, "R", b"");
        assert_eq!(h.r.live_connections(), 0, "{c}");
        assert_eq!(h.seg(c, s, 100, 0, "S", b""), vec![], "{c}");
        assert_eq!(h.seg(s, c, 200, 101, "SA", b""), vec![], "{c}");
        let v = h.seg(c, s, 7000, 0, "S", b"");
        assert_eq!(v, vec![Ev::Open(1, addr(c), addr(s), false)], "{c}");
    }
}
