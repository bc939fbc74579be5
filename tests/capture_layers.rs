//! Integration tests for `qscope::capture` (pcap/pcapng reading) and
//! `qscope::layers` (link → IP → TCP decoding).
//!
//! The shared reference captures are read end to end; everything else is
//! synthesized here with a tiny pcap/pcapng writer.

use std::io::{self, Cursor, Read};
use std::net::SocketAddr;

use qscope::capture::{CaptureErrorKind, FileSource, LinkType, Source, Timestamp};
use qscope::layers::{decode, Decoded, TcpSegment};

// ---------------------------------------------------------------------------
// Test-only writers
// ---------------------------------------------------------------------------

/// Endianness-aware byte writer.
struct W {
    v: Vec<u8>,
    be: bool,
}

impl W {
    fn new(be: bool) -> W {
        W { v: Vec::new(), be }
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
    fn bytes(&mut self, b: &[u8]) -> &mut W {
        self.v.extend_from_slice(b);
        self
    }
}

/// One record for the pcap writer: (seconds, µs or ns fraction, data, orig_len).
type Rec<'a> = (u32, u32, &'a [u8], u32);

/// A classic pcap file.
fn pcap(be: bool, nano: bool, link: u32, recs: &[Rec<'_>]) -> Vec<u8> {
    let mut w = W::new(be);
    w.u32(if nano { 0xa1b2_3c4d } else { 0xa1b2_c3d4 })
        .u16(2)
        .u16(4)
        .u32(0)
        .u32(0)
        .u32(65535)
        .u32(link);
    for &(s, f, data, orig) in recs {
        w.u32(s).u32(f).u32(data.len() as u32).u32(orig).bytes(data);
    }
    w.v
}

/// A pcapng writer: blocks are appended in order.
struct Ng {
    w: W,
}

impl Ng {
    fn new() -> Ng {
        Ng { w: W::new(false) }
    }
    /// Appends a generic block: type, total length, body (padded), length.
    fn block(&mut self, ty: u32, body: &[u8]) -> &mut Ng {
        let pad = (4 - body.len() % 4) % 4;
        let total = (12 + body.len() + pad) as u32;
        self.w
            .u32(ty)
            .u32(total)
            .bytes(body)
            .bytes(&vec![0; pad])
            .u32(total);
        self
    }
    /// Starts a section; `be` selects the section's byte order.
    fn shb(&mut self, be: bool) -> &mut Ng {
        self.w.be = be;
        let mut b = W::new(be);
        b.u32(0x1a2b_3c4d)
            .u16(1)
            .u16(0)
            .u32(0xffff_ffff)
            .u32(0xffff_ffff);
        self.block(0x0a0d_0d0a, &b.v)
    }
    /// Interface with an optional `if_tsresol`.
    fn idb(&mut self, link: u16, snaplen: u32, tsresol: Option<u8>) -> &mut Ng {
        let mut b = W::new(self.w.be);
        b.u16(link).u16(0).u32(snaplen);
        if let Some(r) = tsresol {
            b.u16(9).u16(1).bytes(&[r, 0, 0, 0]);
            b.u16(0).u16(0); // opt_endofopt
        }
        let v = b.v;
        self.block(1, &v)
    }
    fn epb(&mut self, if_id: u32, ts: u64, data: &[u8], orig: u32) -> &mut Ng {
        let mut b = W::new(self.w.be);
        b.u32(if_id)
            .u32((ts >> 32) as u32)
            .u32(ts as u32)
            .u32(data.len() as u32)
            .u32(orig)
            .bytes(data);
        b.bytes(&vec![0; (4 - data.len() % 4) % 4]);
        let v = b.v;
        self.block(6, &v)
    }
    fn spb(&mut self, data: &[u8]) -> &mut Ng {
        let mut b = W::new(self.w.be);
        b.u32(data.len() as u32).bytes(data);
        let v = b.v;
        self.block(3, &v)
    }
    fn done(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.w.v)
    }
}

/// TCP flag bits.
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// A TCP header (20 bytes, no options) followed by `payload`.
fn tcp_bytes(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ack.to_be_bytes());
    // Bad checksum on purpose: it must not matter.
    v.extend_from_slice(&[0x50, flags, 0x01, 0x00, 0xde, 0xad, 0, 0]);
    v.extend_from_slice(payload);
    v
}

/// IPv4 + TCP.
fn ipv4_tcp(
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let t = tcp_bytes(sport, dport, 1000, 2000, flags, payload);
    let total = (20 + t.len()) as u16;
    let mut v = vec![0x45, 0];
    v.extend_from_slice(&total.to_be_bytes());
    v.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, 64, 6, 0, 0]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(&t);
    v
}

/// IPv6 + (optionally a hop-by-hop extension header) + TCP.
fn ipv6_tcp(sport: u16, dport: u16, flags: u8, payload: &[u8], hop_by_hop: bool) -> Vec<u8> {
    let t = tcp_bytes(sport, dport, 7, 9, flags, payload);
    let ext: Vec<u8> = if hop_by_hop {
        vec![6, 0, 1, 4, 0, 0, 0, 0] // next = TCP, len 0 (8 bytes), PadN
    } else {
        vec![]
    };
    let mut v = vec![0x60, 0, 0, 0];
    v.extend_from_slice(&((ext.len() + t.len()) as u16).to_be_bytes());
    v.push(if hop_by_hop { 0 } else { 6 });
    v.push(64);
    let mut src = [0u8; 16];
    src[15] = 1; // ::1
    let mut dst = [0u8; 16];
    dst[0] = 0xfe;
    dst[1] = 0x80;
    dst[15] = 2; // fe80::2
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(&ext);
    v.extend_from_slice(&t);
    v
}

fn ether(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// Ethernet with VLAN tags (outer first) then `ethertype`.
fn ether_tagged(tags: &[u16], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
    for (i, tpid) in tags.iter().enumerate() {
        v.extend_from_slice(&tpid.to_be_bytes());
        v.extend_from_slice(&(100 + i as u16).to_be_bytes()); // TCI
    }
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn sll(proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
    v.extend_from_slice(&proto.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn sll2(proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = proto.to_be_bytes().to_vec();
    v.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
    v.extend_from_slice(payload);
    v
}

fn with_family(fam: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut v = fam.to_vec();
    v.extend_from_slice(payload);
    v
}

// ---------------------------------------------------------------------------
// Helpers for reading
// ---------------------------------------------------------------------------

fn open_bytes(bytes: Vec<u8>) -> FileSource {
    FileSource::from_reader("test.pcap", Box::new(Cursor::new(bytes))).expect("open")
}

/// An owned copy of a packet, for comparing.
#[derive(Debug)]
struct Owned {
    num: u64,
    ts: Timestamp,
    link: LinkType,
    data: Vec<u8>,
    orig_len: u32,
}

/// Reads all packets, then the terminating result (Ok(()) or the error text).
fn read_all(src: &mut dyn Source) -> (Vec<Owned>, Result<(), String>) {
    let mut out = Vec::new();
    loop {
        match src.next_packet() {
            Ok(Some(p)) => out.push(Owned {
                num: p.num,
                ts: p.ts,
                link: p.link,
                data: p.data.to_vec(),
                orig_len: p.orig_len,
            }),
            Ok(None) => return (out, Ok(())),
            Err(e) => {
                // After an error the source is finished.
                assert!(matches!(src.next_packet(), Ok(None)));
                return (out, Err(e.to_string()));
            }
        }
    }
}

fn seg(p: &Owned) -> TcpSegment<'_> {
    match decode(p.link, &p.data, p.orig_len) {
        Ok(Decoded::Tcp(t)) => t,
        other => panic!("frame {}: expected TCP, got {other:?}", p.num),
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

// ---------------------------------------------------------------------------
// Shared captures
// ---------------------------------------------------------------------------

macro_rules! capture {
    ($p:literal) => {
        concat!(env!("CARGO_MANIFEST_DIR"), "/captures/", $p)
    };
}

/// Every shared capture with its packet count (counted independently by
/// walking the record headers).
const SHARED: &[(&str, usize)] = &[
    (capture!("qmp/qmp-basic.pcap"), 188),
    (capture!("qmp/qmp-events.pcap"), 76),
    (capture!("qmp/qmp-hmp.pcap"), 37),
    (capture!("qmp/qmp-oob.pcap"), 47),
    (capture!("qmp/qmp-qga.pcap"), 44),
    (capture!("qm/qm-1-fileops-qmclilib.pcap"), 136),
    (capture!("qm/qm-2-prompt-call-qmclilib.pcap"), 167),
    (capture!("qm/qm-4-extra-codes-rawclient.pcap"), 111),
    (capture!("qps/qps-1-happy.pcap"), 47),
    (capture!("qps/qps-2-signon-fail.pcap"), 18),
    (capture!("mqserver/mq-binary.pcap"), 42),
    (capture!("mqserver/mq-text.pcap"), 40),
    (capture!("mqserver/mq-xml.pcap"), 26),
];

#[test]
fn shared_captures_read_to_the_end_and_are_all_tcp() {
    for &(path, count) in SHARED {
        let mut src = FileSource::open(path.as_ref()).expect(path);
        let (pkts, end) = read_all(&mut src);
        assert_eq!(end, Ok(()), "{path}");
        assert_eq!(pkts.len(), count, "{path}");
        assert_eq!(src.frames_read(), count as u64);
        let mut prev = None;
        let mut segments = 0;
        for (i, p) in pkts.iter().enumerate() {
            assert_eq!(p.num, i as u64 + 1);
            assert_eq!(p.link, LinkType::ETHERNET, "{path}");
            assert!(!p.ts.nano);
            if let Some(prev) = prev {
                assert!(p.ts.micros_since(&prev) >= 0, "{path}: time goes back");
            }
            prev = Some(p.ts);
            // Every packet is a TCP segment over loopback, none cut short.
            let t = seg(p);
            assert!(t.src.ip().is_loopback() && t.dst.ip().is_loopback());
            assert_eq!(t.wire_len as usize, t.payload.len(), "{path}: no snap cut");
            segments += 1;
        }
        assert_eq!(segments, count, "{path}");
    }
}

/// Sums the TCP payload bytes sent to `port` and from it.
fn payload_per_direction(path: &str, port: u16) -> (usize, usize) {
    let mut src = FileSource::open(path.as_ref()).unwrap();
    let (mut c2s, mut s2c) = (0, 0);
    while let Some(p) = src.next_packet().unwrap() {
        if let Decoded::Tcp(t) = decode(p.link, p.data, p.orig_len).unwrap() {
            if t.dst.port() == port {
                c2s += t.payload.len();
            } else if t.src.port() == port {
                s2c += t.payload.len();
            }
        }
    }
    (c2s, s2c)
}

#[test]
fn qmp_basic_known_facts() {
    let path = capture!("qmp/qmp-basic.pcap");
    let mut src = FileSource::open(path.as_ref()).unwrap();
    let (pkts, end) = read_all(&mut src);
    assert_eq!(end, Ok(()));

    // The first packet is the client's SYN to the QMP port 4444.
    let first = seg(&pkts[0]);
    assert!(first.flags.syn && !first.flags.ack);
    assert_eq!(first.dst.port(), 4444);
    assert!(first.payload.is_empty());
    assert!(pkts[0].data.len() >= 14 + 20 + 20);
    assert!(
        pkts[0].ts.rfc3339().starts_with("2026-"),
        "{}",
        pkts[0].ts.rfc3339()
    );
    let second = seg(&pkts[1]);
    assert!(second.flags.syn && second.flags.ack);
    assert_eq!(second.src, first.dst);
    assert_eq!(second.ack, first.seq.wrapping_add(1));

    // Some FINs at the end, and payload sums match the per-direction bytes
    // the client and server really sent (no retransmissions on loopback).
    assert!(pkts.iter().any(|p| seg(p).flags.fin));
    let (c2s, s2c) = payload_per_direction(path, 4444);
    let bin = |f: &str| std::fs::metadata(f).unwrap().len() as usize;
    assert_eq!(c2s, bin(capture!("qmp/qmp-basic.c2s.bin")));
    assert_eq!(s2c, bin(capture!("qmp/qmp-basic.s2c.bin")));
}

#[test]
fn shared_capture_through_stdin_path_matches_file() {
    let path = capture!("qmp/qmp-events.pcap");
    let (from_file, _) = read_all(&mut FileSource::open(path.as_ref()).unwrap());
    // from_reader is what `open("-")` uses for standard input; feed it in
    // small uneven chunks, as a pipe would.
    let bytes = std::fs::read(path).unwrap();
    let mut src = FileSource::from_reader("<stdin>", Box::new(Trickle::new(bytes, 7))).unwrap();
    assert_eq!(src.name(), "<stdin>");
    let (from_pipe, end) = read_all(&mut src);
    assert_eq!(end, Ok(()));
    assert_eq!(from_file.len(), from_pipe.len());
    for (a, b) in from_file.iter().zip(&from_pipe) {
        assert_eq!(
            (a.num, a.ts, a.orig_len, &a.data),
            (b.num, b.ts, b.orig_len, &b.data)
        );
    }
}

/// A reader that returns at most `chunk` bytes per call, and is interrupted
/// every third call.
struct Trickle {
    data: Cursor<Vec<u8>>,
    chunk: usize,
    calls: u32,
}

impl Trickle {
    fn new(data: Vec<u8>, chunk: usize) -> Trickle {
        Trickle {
            data: Cursor::new(data),
            chunk,
            calls: 0,
        }
    }
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(3) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "signal"));
        }
        let n = buf.len().min(self.chunk);
        self.data.read(&mut buf[..n])
    }
}

// ---------------------------------------------------------------------------
// Synthesized pcap
// ---------------------------------------------------------------------------

#[test]
fn pcap_big_endian_microseconds() {
    let p1 = ether(
        0x0800,
        &ipv4_tcp([10, 0, 0, 1], [10, 0, 0, 2], 40000, 80, SYN, b""),
    );
    let p2 = ether(
        0x0800,
        &ipv4_tcp([10, 0, 0, 2], [10, 0, 0, 1], 80, 40000, SYN | ACK, b""),
    );
    let f = pcap(
        true,
        false,
        1,
        &[
            (1_795_314_369, 123_456, &p1, p1.len() as u32),
            (1_795_314_370, 5, &p2, p2.len() as u32),
        ],
    );
    let (pkts, end) = read_all(&mut open_bytes(f));
    assert_eq!(end, Ok(()));
    assert_eq!(pkts.len(), 2);
    assert_eq!(pkts[0].ts.rfc3339(), "2026-11-22T02:26:09.123456Z");
    assert_eq!(pkts[1].ts.micros_since(&pkts[0].ts), 1_000_000 - 123_451);
    let t = seg(&pkts[0]);
    assert_eq!(
        (t.src, t.dst),
        (addr("10.0.0.1:40000"), addr("10.0.0.2:80"))
    );
    assert!(t.flags.syn && !t.flags.ack);
    assert_eq!((t.seq, t.ack, t.window), (1000, 2000, 256));
    assert!(seg(&pkts[1]).flags.ack);
}

#[test]
fn pcap_nanoseconds_keep_ns() {
    let p = ipv4_tcp([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, ACK | PSH, b"data");
    for be in [false, true] {
        let f = pcap(
            be,
            true,
            228,
            &[(1_795_314_369, 123_456_789, &p, p.len() as u32)],
        );
        let (pkts, end) = read_all(&mut open_bytes(f));
        assert_eq!(end, Ok(()));
        let ts = pkts[0].ts;
        assert!(ts.nano);
        assert_eq!(ts.nanos, 123_456_789);
        assert_eq!(ts.rfc3339(), "2026-11-22T02:26:09.123456789Z");
        assert_eq!(seg(&pkts[0]).payload, b"data");
    }
}

#[test]
fn snap_length_cut_keeps_wire_len() {
    let payload = vec![b'x'; 1000];
    let full = ether(
        0x0800,
        &ipv4_tcp([10, 0, 0, 1], [10, 0, 0, 2], 5000, 6000, ACK, &payload),
    );
    let cut = &full[..14 + 40 + 100];
    let f = pcap(false, false, 1, &[(1, 0, cut, full.len() as u32)]);
    let (pkts, end) = read_all(&mut open_bytes(f));
    assert_eq!(end, Ok(()));
    assert_eq!(pkts[0].orig_len as usize, full.len());
    assert_eq!(pkts[0].data.len(), cut.len());
    let t = seg(&pkts[0]);
    assert_eq!(t.payload.len(), 100);
    assert_eq!(t.wire_len, 1000);
}

#[test]
fn ethernet_trailer_padding_is_not_payload() {
    // A bare ACK is 54 bytes; Ethernet pads it to 60.
    let mut frame = ether(
        0x0800,
        &ipv4_tcp([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, ACK, b""),
    );
    frame.extend_from_slice(&[0xee; 6]);
    assert_eq!(frame.len(), 60);
    let t = match decode(LinkType::ETHERNET, &frame, 60).unwrap() {
        Decoded::Tcp(t) => t,
        other => panic!("{other:?}"),
    };
    assert!(t.payload.is_empty());
    assert_eq!(t.wire_len, 0);
    // Same with 2 bytes of payload.
    let mut frame = ether(
        0x0800,
        &ipv4_tcp([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, ACK | PSH, b"hi"),
    );
    frame.extend_from_slice(&[0xee; 4]);
    let Ok(Decoded::Tcp(t)) = decode(LinkType::ETHERNET, &frame, 60) else {
        panic!()
    };
    assert_eq!((t.payload, t.wire_len), (&b"hi"[..], 2));
}

// ---------------------------------------------------------------------------
// Link types and IP versions
// ---------------------------------------------------------------------------

/// Decodes `data` as `link` and checks it is the expected TCP segment.
fn expect_tcp(link: u32, data: &[u8], src: &str, dst: &str, payload: &[u8]) {
    // Through a file, so the link type travels the whole path.
    let f = pcap(false, false, link, &[(1, 0, data, data.len() as u32)]);
    let (pkts, end) = read_all(&mut open_bytes(f));
    assert_eq!(end, Ok(()));
    assert_eq!(pkts[0].link, LinkType(link));
    let t = seg(&pkts[0]);
    assert_eq!((t.src, t.dst), (addr(src), addr(dst)), "link {link}");
    assert_eq!(t.payload, payload, "link {link}");
    assert_eq!(t.wire_len as usize, payload.len());
}

#[test]
fn vlan_and_qinq_ethernet() {
    let ip = ipv4_tcp(
        [192, 168, 0, 1],
        [192, 168, 0, 2],
        1111,
        2222,
        ACK | PSH,
        b"tagged",
    );
    let (s, d) = ("192.168.0.1:1111", "192.168.0.2:2222");
    expect_tcp(1, &ether_tagged(&[0x8100], 0x0800, &ip), s, d, b"tagged");
    expect_tcp(
        1,
        &ether_tagged(&[0x88a8, 0x8100], 0x0800, &ip),
        s,
        d,
        b"tagged",
    );
    expect_tcp(
        1,
        &ether_tagged(&[0x9100, 0x8100], 0x0800, &ip),
        s,
        d,
        b"tagged",
    );
    // A tagged ARP frame is simply not TCP.
    let arp = ether_tagged(&[0x8100], 0x0806, &[0; 28]);
    assert!(matches!(
        decode(LinkType::ETHERNET, &arp, 46),
        Ok(Decoded::NotTcp)
    ));
    // A tag cut in half is an error, not a panic.
    let cut = &ether_tagged(&[0x8100], 0x0800, &ip)[..16];
    assert!(decode(LinkType::ETHERNET, cut, 100).is_err());
}

#[test]
fn linux_cooked_v1_and_v2() {
    let ip = ipv4_tcp(
        [127, 0, 0, 1],
        [127, 0, 0, 1],
        4444,
        50000,
        ACK | PSH,
        b"{}",
    );
    let (s, d) = ("127.0.0.1:4444", "127.0.0.1:50000");
    expect_tcp(113, &sll(0x0800, &ip), s, d, b"{}");
    expect_tcp(276, &sll2(0x0800, &ip), s, d, b"{}");
    let ip6 = ipv6_tcp(4444, 50001, ACK, b"v6", false);
    expect_tcp(
        113,
        &sll(0x86dd, &ip6),
        "[::1]:4444",
        "[fe80::2]:50001",
        b"v6",
    );
    expect_tcp(
        276,
        &sll2(0x86dd, &ip6),
        "[::1]:4444",
        "[fe80::2]:50001",
        b"v6",
    );
    assert!(decode(LinkType::LINUX_SLL2, &[0x08, 0x00, 0, 0], 4).is_err());
}

#[test]
fn raw_null_and_loop() {
    let ip = ipv4_tcp([127, 0, 0, 1], [127, 0, 0, 2], 1, 2, ACK | PSH, b"raw");
    let ip6 = ipv6_tcp(3, 4, ACK | PSH, b"raw6", true);
    let (s, d) = ("127.0.0.1:1", "127.0.0.2:2");
    let (s6, d6) = ("[::1]:3", "[fe80::2]:4");
    for link in [101, 228, 12, 14] {
        expect_tcp(link, &ip, s, d, b"raw");
    }
    for link in [101, 229] {
        expect_tcp(link, &ip6, s6, d6, b"raw6");
    }
    // NULL: family in host byte order, either way round.
    expect_tcp(0, &with_family([2, 0, 0, 0], &ip), s, d, b"raw");
    expect_tcp(0, &with_family([0, 0, 0, 2], &ip), s, d, b"raw");
    for fam in [24u32, 28, 30] {
        expect_tcp(0, &with_family(fam.to_le_bytes(), &ip6), s6, d6, b"raw6");
        expect_tcp(0, &with_family(fam.to_be_bytes(), &ip6), s6, d6, b"raw6");
    }
    // LOOP: network byte order.
    expect_tcp(108, &with_family([0, 0, 0, 2], &ip), s, d, b"raw");
    expect_tcp(108, &with_family([0, 0, 0, 30], &ip6), s6, d6, b"raw6");
    // Another family: ignored.
    let other = with_family([0, 0, 0, 7], &ip);
    assert!(matches!(
        decode(LinkType::LOOP, &other, 0),
        Ok(Decoded::NotTcp)
    ));
}

#[test]
fn ipv6_snap_cut_and_fragment() {
    let ip6 = ipv6_tcp(3, 4, ACK, &[7; 300], true);
    let Ok(Decoded::Tcp(t)) = decode(LinkType::RAW, &ip6[..40 + 8 + 20 + 10], ip6.len() as u32)
    else {
        panic!()
    };
    assert_eq!((t.payload.len(), t.wire_len), (10, 300));

    // IPv6 with a fragment header (more fragments) is a fragment.
    let t6 = tcp_bytes(1, 2, 0, 0, ACK, b"abc");
    let mut frag = vec![0x60, 0, 0, 0];
    frag.extend_from_slice(&((8 + t6.len()) as u16).to_be_bytes());
    frag.extend_from_slice(&[44, 64]);
    frag.extend_from_slice(&[0; 32]);
    frag.extend_from_slice(&[6, 0, 0, 1, 0, 0, 0, 1]); // offset 0, M=1
    frag.extend_from_slice(&t6);
    assert!(matches!(
        decode(LinkType::RAW, &frag, 0),
        Ok(Decoded::Fragment)
    ));

    // IPv4: MF set, and a non-zero offset.
    let mut v4 = ipv4_tcp([1, 0, 0, 1], [1, 0, 0, 2], 1, 2, 0, b"x");
    v4[6] = 0x20;
    assert!(matches!(
        decode(LinkType::RAW, &v4, 0),
        Ok(Decoded::Fragment)
    ));
    v4[6] = 0x00;
    v4[7] = 0x10;
    assert!(matches!(
        decode(LinkType::RAW, &v4, 0),
        Ok(Decoded::Fragment)
    ));
}

#[test]
fn fin_and_flags() {
    let ip = ipv4_tcp([1, 0, 0, 1], [1, 0, 0, 2], 1, 2, FIN | ACK, b"");
    let Ok(Decoded::Tcp(t)) = decode(LinkType::RAW, &ip, ip.len() as u32) else {
        panic!()
    };
    assert!(t.flags.fin && t.flags.ack && !t.flags.rst && !t.flags.syn && !t.flags.psh);
    let ip = ipv4_tcp([1, 0, 0, 1], [1, 0, 0, 2], 1, 2, 0x04, b"");
    let Ok(Decoded::Tcp(t)) = decode(LinkType::RAW, &ip, ip.len() as u32) else {
        panic!()
    };
    assert!(t.flags.rst && !t.flags.ack);
}

#[test]
fn unknown_link_type_is_an_error_not_a_stop() {
    let f = pcap(false, false, 147, &[(1, 0, b"abcd", 4), (2, 0, b"efgh", 4)]);
    let (pkts, end) = read_all(&mut open_bytes(f));
    assert_eq!(end, Ok(()));
    assert_eq!(pkts.len(), 2);
    let e = decode(pkts[0].link, &pkts[0].data, 4).unwrap_err();
    assert_eq!(e.to_string(), "unsupported link type 147");
}

// ---------------------------------------------------------------------------
// pcapng
// ---------------------------------------------------------------------------

#[test]
fn pcapng_interfaces_resolutions_and_sections() {
    let eth = ether(
        0x0800,
        &ipv4_tcp([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, ACK | PSH, b"eth"),
    );
    let raw = ipv4_tcp([10, 0, 0, 3], [10, 0, 0, 4], 3, 4, ACK | PSH, b"raw4");
    let lo = with_family([0, 0, 0, 2], &raw);
    let base: u64 = 1_795_314_369;
    let f = Ng::new()
        .shb(false)
        .idb(1, 65535, None) // interface 0: Ethernet, default µs
        .idb(228, 65535, Some(9)) // interface 1: raw IPv4, ns
        .block(0x0000_0bad, &[0, 0, 0, 0, 1, 2, 3, 4]) // custom block: skipped
        .block(0x4242_4242, &[9; 10]) // unknown block: skipped
        .block(5, &[0; 4]) // interface statistics block too short to parse: skipped
        .epb(0, base * 1_000_000 + 123_456, &eth, eth.len() as u32)
        .epb(
            1,
            base * 1_000_000_000 + 123_456_789,
            &raw,
            raw.len() as u32,
        )
        .spb(&eth) // interface 0, no timestamp
        .shb(true) // a big-endian section; interfaces start again
        .idb(108, 0, Some(0x80 | 10)) // LOOP, 2^-10 s
        .epb(0, (base << 10) + 512, &lo, lo.len() as u32 + 5)
        .done();
    let (pkts, end) = read_all(&mut open_bytes(f));
    assert_eq!(end, Ok(()));
    assert_eq!(pkts.len(), 4);

    assert_eq!(pkts[0].link, LinkType::ETHERNET);
    assert_eq!(pkts[0].ts.rfc3339(), "2026-11-22T02:26:09.123456Z");
    assert_eq!(seg(&pkts[0]).payload, b"eth");

    assert_eq!(pkts[1].link, LinkType::IPV4);
    assert_eq!(pkts[1].ts.rfc3339(), "2026-11-22T02:26:09.123456789Z");
    assert_eq!(seg(&pkts[1]).payload, b"raw4");

    assert_eq!(pkts[2].link, LinkType::ETHERNET);
    assert_eq!(pkts[2].data, eth);
    assert_eq!(pkts[2].ts.secs, pkts[1].ts.secs);

    assert_eq!(pkts[3].link, LinkType::LOOP);
    assert_eq!(
        (pkts[3].ts.secs, pkts[3].ts.nanos),
        (base as i64, 500_000_000)
    );
    assert!(!pkts[3].ts.nano);
    assert_eq!(pkts[3].orig_len as usize, lo.len() + 5);
    assert_eq!(seg(&pkts[3]).payload, b"raw4");
    assert_eq!(pkts.iter().map(|p| p.num).collect::<Vec<_>>(), [1, 2, 3, 4]);
}

#[test]
fn pcapng_packet_for_undefined_interface_is_an_error() {
    let f = Ng::new()
        .shb(false)
        .idb(1, 0, None)
        .epb(3, 0, b"abc", 3)
        .done();
    let (pkts, end) = read_all(&mut open_bytes(f));
    assert!(pkts.is_empty());
    let e = end.unwrap_err();
    assert!(e.contains("interface 3") && e.contains("(frame 1)"), "{e}");
}

#[test]
fn pcapng_truncated_block() {
    let mut f = Ng::new()
        .shb(false)
        .idb(101, 0, None)
        .epb(0, 1, b"first", 5)
        .epb(0, 2, b"second packet", 13)
        .done();
    f.truncate(f.len() - 10);
    let (pkts, end) = read_all(&mut open_bytes(f));
    assert_eq!(pkts.len(), 1);
    let e = end.unwrap_err();
    assert!(
        e.starts_with("test.pcap: truncated pcapng enhanced packet block at byte "),
        "{e}"
    );
    assert!(e.contains("(frame 2)"), "{e}");
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

fn open_err(bytes: Vec<u8>) -> (CaptureErrorKind, String) {
    match FileSource::from_reader("bad.bin", Box::new(Cursor::new(bytes))) {
        Ok(_) => panic!("opened"),
        Err(e) => (e.kind(), e.to_string()),
    }
}

#[test]
fn empty_and_garbage_inputs() {
    let (k, e) = open_err(vec![]);
    assert_eq!(k, CaptureErrorKind::NotCapture);
    assert_eq!(e, "bad.bin: empty file (no capture header)");

    let (k, e) = open_err(b"\x12\x34\x56\x78 hello, this is not a capture".to_vec());
    assert_eq!(k, CaptureErrorKind::NotCapture);
    assert_eq!(e, "bad.bin: not a pcap or pcapng file (magic 0x12345678)");

    let (k, e) = open_err(vec![0xd4, 0xc3]);
    assert_eq!(k, CaptureErrorKind::NotCapture);
    assert!(e.contains("not a pcap or pcapng file"), "{e}");

    let (k, e) = open_err(vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]);
    assert_eq!(k, CaptureErrorKind::Truncated);
    assert_eq!(e, "bad.bin: truncated pcap file header (8 of 24 bytes)");

    // pcapng with a bad byte-order magic.
    let mut ng = Ng::new().shb(false).done();
    ng[8] = 0;
    let (k, e) = open_err(ng);
    assert_eq!(k, CaptureErrorKind::Malformed);
    assert!(e.contains("byte-order magic"), "{e}");

    let missing = FileSource::open("/nonexistent/x.pcap".as_ref())
        .err()
        .unwrap();
    assert_eq!(missing.kind(), CaptureErrorKind::Io);
    assert!(missing
        .to_string()
        .starts_with("/nonexistent/x.pcap: cannot open: "));
    assert!(!missing.to_string().contains('\n'));
}

#[test]
fn truncated_mid_record_returns_earlier_packets_first() {
    let a = ipv4_tcp([1, 0, 0, 1], [1, 0, 0, 2], 1, 2, ACK, b"one");
    let b = ipv4_tcp([1, 0, 0, 1], [1, 0, 0, 2], 1, 2, ACK, b"two");
    let c = ipv4_tcp([1, 0, 0, 1], [1, 0, 0, 2], 1, 2, ACK, b"three");
    let f = pcap(
        false,
        false,
        101,
        &[
            (1, 0, &a, a.len() as u32),
            (2, 0, &b, b.len() as u32),
            (3, 0, &c, c.len() as u32),
        ],
    );
    let third = 24 + 2 * (16 + a.len());
    // Cut inside the third record's data, then inside its header.
    for cut in [f.len() - 3, third + 5] {
        let (pkts, end) = read_all(&mut open_bytes(f[..cut].to_vec()));
        assert_eq!(pkts.len(), 2, "cut at {cut}");
        assert_eq!(seg(&pkts[1]).payload, b"two");
        let e = end.unwrap_err();
        assert!(
            e.starts_with(&format!(
                "test.pcap: truncated packet record at byte {third} (frame 3)"
            )),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }
}

#[test]
fn huge_record_length_is_an_error_without_allocation() {
    let mut f = pcap(false, false, 1, &[(1, 0, b"ok", 2)]);
    let mut w = W::new(false);
    w.u32(2)
        .u32(0)
        .u32(0xffff_fff0)
        .u32(0xffff_fff0)
        .bytes(&[0; 64]);
    f.extend_from_slice(&w.v);
    let mut src = open_bytes(f);
    assert_eq!(src.next_packet().unwrap().unwrap().data, b"ok");
    let e = src.next_packet().unwrap_err();
    assert_eq!(e.kind(), CaptureErrorKind::TooLarge);
    assert_eq!(
        e.to_string(),
        "test.pcap: packet record at byte 42 (frame 2) claims 4294967296 bytes, more than the 16 MiB limit"
    );
    assert!(src.next_packet().unwrap().is_none());

    // Same in pcapng, for an EPB.
    let mut f = Ng::new().shb(false).idb(1, 0, None).done();
    let mut w = W::new(false);
    w.u32(6).u32(0x8000_0000).bytes(&[0; 40]);
    f.extend_from_slice(&w.v);
    let (_, end) = read_all(&mut open_bytes(f));
    assert!(end.unwrap_err().contains("claims 2147483648 bytes"));
}

#[test]
fn record_just_below_the_limit_is_read() {
    // 3 MiB record: the buffer grows, within the cap.
    let big = vec![0xab; 3 << 20];
    let f = pcap(
        false,
        false,
        1,
        &[(1, 0, &big, big.len() as u32), (2, 0, b"after", 5)],
    );
    let (pkts, end) = read_all(&mut open_bytes(f));
    assert_eq!(end, Ok(()));
    assert_eq!(pkts[0].data.len(), 3 << 20);
    assert_eq!(pkts[1].data, b"after");
}

#[test]
fn malformed_pcapng_block_is_reported() {
    // An EPB whose capture length exceeds its own block length.
    let mut f = Ng::new().shb(false).idb(1, 0, None).done();
    let mut w = W::new(false);
    w.u32(6)
        .u32(48)
        .u32(0)
        .u32(0)
        .u32(0)
        .u32(500)
        .u32(500)
        .bytes(&[0; 16])
        .u32(48);
    f.extend_from_slice(&w.v);
    let (pkts, end) = read_all(&mut open_bytes(f));
    assert!(pkts.is_empty());
    let e = end.unwrap_err();
    assert!(
        e.starts_with("test.pcap: malformed pcapng enhanced packet block at byte "),
        "{e}"
    );
}

#[test]
fn read_errors_are_reported_with_their_cause() {
    struct Failing(Cursor<Vec<u8>>);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(io::Error::other("disk on fire")),
                n => Ok(n),
            }
        }
    }
    let f = pcap(false, false, 1, &[(1, 0, b"ok", 2)]);
    let mut src = FileSource::from_reader("f.pcap", Box::new(Failing(Cursor::new(f)))).unwrap();
    assert!(src.next_packet().unwrap().is_some());
    let e = src.next_packet().unwrap_err();
    assert_eq!(e.kind(), CaptureErrorKind::Io);
    assert!(e.to_string().contains("disk on fire"), "{e}");
}

#[test]
fn timestamps_format() {
    let us = Timestamp {
        secs: 1_795_314_369,
        nanos: 123_456_000,
        nano: false,
    };
    assert_eq!(us.rfc3339(), "2026-11-22T02:26:09.123456Z");
    let ns = Timestamp {
        secs: 1_795_314_369,
        nanos: 5,
        nano: true,
    };
    assert_eq!(ns.rfc3339(), "2026-11-22T02:26:09.000000005Z");
    assert_eq!(
        Timestamp::from_micros(-1).rfc3339(),
        "1969-12-31T23:59:59.999999Z"
    );
    // Truncated toward zero: -123455.995 µs.
    assert_eq!(ns.micros_since(&us), -123_455);
}
