//! A small TCP/IPv4 packet synthesiser: turns one byte-stream conversation
//! into the packets a capture of it as a TCP connection would hold.
//!
//! The relay ([`super::relay`]) sees bytes, not packets (a Unix socket has
//! no packets at all); to feed them to the same engine, `-w` writer and
//! outputs as a capture, each relayed client becomes one [`TcpConn`]:
//!
//! * a three-way handshake when the client connects (SYN from the client,
//!   SYN-ACK, ACK), or SYN and RST-ACK when the target refused it;
//! * each chunk of relayed bytes as PSH-ACK data segments from its sender
//!   (split at [`MAX_PAYLOAD`] bytes), each acknowledging everything the
//!   peer sent so far;
//! * bytes that were relayed but not decoded ([`TcpConn::skip`]): the
//!   sequence numbers advance over them and the peer acknowledges them in a
//!   pure ACK, which is how a capture that lost packets looks (Wireshark:
//!   "ACKed unseen segment"); qscope's reassembler reports them as a gap;
//! * a FIN-ACK from the side that closed (and the peer's ACK of it), or a
//!   RST-ACK from the side that reset or went away.
//!
//! Packets are raw IPv4 (pcap link type [`LinkType::RAW`], 101), from
//! [`CLIENT_IP`] to [`SERVER_IP`] (192.0.2.1 and 192.0.2.2, TEST-NET-1 of
//! RFC 5737: documentation addresses that never route), with correct IPv4
//! header and TCP checksums, no TCP options, window 65535, TTL 64, DF set.
//! Nothing here sends anything anywhere: the packets exist only in the
//! analysis and in `-w` files.
//!
//! [`LinkType::RAW`]: super::LinkType::RAW
// Indexing is allowed here (denied in the rest of `capture`): the indexes are a side (0 or 1, from a direction) into two-element arrays and
// fixed offsets into the headers this module has just written; nothing here
// indexes bytes from the wire.
#![allow(clippy::indexing_slicing)]

use std::net::{Ipv4Addr, SocketAddrV4};

use qscope_dissectors::Dir;

/// Placeholder address of every relayed client (RFC 5737 TEST-NET-1).
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// Placeholder address of the relay's target (RFC 5737 TEST-NET-1).
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// Largest TCP payload of one synthesised segment: an IPv4 packet is at
/// most 65535 bytes, less 20 for the IP and 20 for the TCP header.
pub const MAX_PAYLOAD: usize = 65_535 - 20 - 20;
/// The advertised window of every segment.
pub const WINDOW: u16 = 65_535;
/// Largest step of one acknowledgement over skipped bytes: far below the
/// half of the 32-bit sequence space (and below the 1 GiB a reassembler
/// accepts as plausible ahead of its delivery point).
pub const MAX_ACK_STEP: u64 = 1 << 28;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// One synthesised TCP connection: the sequence numbers of both sides.
#[derive(Debug, Clone)]
pub struct TcpConn {
    /// Client and server.
    ends: [SocketAddrV4; 2],
    /// Next sequence number each side sends (client, server).
    next: [u32; 2],
    /// The side sent its FIN.
    fin: [bool; 2],
    /// RST sent, or both FINs: nothing more is synthesised.
    closed: bool,
}

impl TcpConn {
    /// A connection from `client` to `server` whose sides start with the
    /// initial sequence numbers `isn` (client, server).
    pub fn new(client: SocketAddrV4, server: SocketAddrV4, isn: [u32; 2]) -> TcpConn {
        TcpConn {
            ends: [client, server],
            next: isn,
            fin: [false; 2],
            closed: false,
        }
    }

    /// The client's and the server's address.
    pub fn ends(&self) -> (SocketAddrV4, SocketAddrV4) {
        (self.ends[0], self.ends[1])
    }

    /// No packet will be synthesised any more (RST, or FIN both ways).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The three-way handshake: SYN, SYN-ACK, ACK.
    pub fn handshake(&mut self) -> [Vec<u8>; 3] {
        let syn = self.packet(0, SYN, &[]);
        self.next[0] = self.next[0].wrapping_add(1);
        let syn_ack = self.packet(1, SYN | ACK, &[]);
        self.next[1] = self.next[1].wrapping_add(1);
        let ack = self.packet(0, ACK, &[]);
        [syn, syn_ack, ack]
    }

    /// A connection attempt the target refused: SYN, then RST-ACK from the
    /// server. The connection is closed afterwards.
    pub fn refused(&mut self) -> [Vec<u8>; 2] {
        let syn = self.packet(0, SYN, &[]);
        self.next[0] = self.next[0].wrapping_add(1);
        let rst = self.packet(1, RST | ACK, &[]);
        self.closed = true;
        [syn, rst]
    }

    /// `bytes` sent in direction `dir`: PSH-ACK segments of at most
    /// [`MAX_PAYLOAD`] bytes, appended to `out`. Nothing after the side's
    /// FIN or after the close.
    pub fn data(&mut self, dir: Dir, bytes: &[u8], out: &mut Vec<Vec<u8>>) {
        let s = dir.idx();
        if self.closed || self.fin[s] {
            return;
        }
        for chunk in bytes.chunks(MAX_PAYLOAD) {
            out.push(self.packet(s, PSH | ACK, chunk));
            self.next[s] = self.next[s].wrapping_add(chunk.len() as u32);
        }
    }

    /// `n` bytes sent in direction `dir` that are not in the capture: the
    /// sender's sequence number moves past them and the peer acknowledges
    /// them (one pure ACK per [`MAX_ACK_STEP`] bytes), so a reassembler
    /// reports them as a gap at once.
    pub fn skip(&mut self, dir: Dir, mut n: u64, out: &mut Vec<Vec<u8>>) {
        let s = dir.idx();
        if self.closed || self.fin[s] {
            return;
        }
        while n > 0 {
            let step = n.min(MAX_ACK_STEP);
            self.next[s] = self.next[s].wrapping_add(step as u32);
            out.push(self.packet(1 - s, ACK, &[]));
            n -= step;
        }
    }

    /// The side sending in `dir` closed its direction: FIN-ACK from it and
    /// the peer's ACK of the FIN.
    pub fn fin(&mut self, dir: Dir, out: &mut Vec<Vec<u8>>) {
        let s = dir.idx();
        if self.closed || self.fin[s] {
            return;
        }
        out.push(self.packet(s, FIN | ACK, &[]));
        self.next[s] = self.next[s].wrapping_add(1);
        self.fin[s] = true;
        out.push(self.packet(1 - s, ACK, &[]));
        self.closed = self.fin[0] && self.fin[1];
    }

    /// The side sending in `dir` reset the connection (or went away): a
    /// RST-ACK from it. The connection is closed afterwards.
    pub fn rst(&mut self, dir: Dir, out: &mut Vec<Vec<u8>>) {
        if self.closed {
            return;
        }
        out.push(self.packet(dir.idx(), RST | ACK, &[]));
        self.closed = true;
    }

    /// An IPv4/TCP packet from side `s` (0 client, 1 server) with the
    /// current sequence numbers.
    fn packet(&self, s: usize, flags: u8, payload: &[u8]) -> Vec<u8> {
        let ack = if flags & ACK != 0 {
            self.next[1 - s]
        } else {
            0
        };
        ipv4_tcp(
            self.ends[s],
            self.ends[1 - s],
            self.next[s],
            ack,
            flags,
            payload,
        )
    }
}

/// One raw IPv4 packet carrying a TCP segment (no options), checksums
/// computed. `payload` must be at most [`MAX_PAYLOAD`] bytes.
pub fn ipv4_tcp(
    src: SocketAddrV4,
    dst: SocketAddrV4,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    assert!(payload.len() <= MAX_PAYLOAD, "segment payload too large");
    let total = 40 + payload.len();
    let mut p = Vec::with_capacity(total);
    // IPv4 header: version 4, IHL 5; total length; id 0, DF; TTL 64, TCP.
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
    p.extend_from_slice(&src.ip().octets());
    p.extend_from_slice(&dst.ip().octets());
    let ip_sum = checksum(0, &p[..20]);
    p[10..12].copy_from_slice(&ip_sum.to_be_bytes());
    // TCP header: ports, seq, ack, data offset 5, flags, window, checksum, urgent.
    p.extend_from_slice(&src.port().to_be_bytes());
    p.extend_from_slice(&dst.port().to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ack.to_be_bytes());
    p.extend_from_slice(&[0x50, flags]);
    p.extend_from_slice(&WINDOW.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0]);
    p.extend_from_slice(payload);
    // The pseudo-header: addresses, protocol, TCP length.
    let tcp_len = (20 + payload.len()) as u32;
    let mut pseudo = u32::from_be_bytes(src.ip().octets()) >> 16;
    pseudo += u32::from_be_bytes(src.ip().octets()) & 0xffff;
    pseudo += u32::from_be_bytes(dst.ip().octets()) >> 16;
    pseudo += u32::from_be_bytes(dst.ip().octets()) & 0xffff;
    pseudo += 6 + tcp_len;
    let tcp_sum = checksum(pseudo, &p[20..]);
    p[36..38].copy_from_slice(&tcp_sum.to_be_bytes());
    p
}

/// The Internet checksum (RFC 1071) of `data`, starting from `sum`.
fn checksum(mut sum: u32, data: &[u8]) -> u16 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        if sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{LinkType, Timestamp};
    use crate::layers::{decode, Decoded, TcpSegment};
    use crate::reassembly::{self, EndReason, Event, Reassembler};
    use std::net::SocketAddr;

    fn conn(isn: [u32; 2]) -> TcpConn {
        TcpConn::new(
            SocketAddrV4::new(CLIENT_IP, 40001),
            SocketAddrV4::new(SERVER_IP, 4444),
            isn,
        )
    }

    fn seg(p: &[u8]) -> TcpSegment<'_> {
        match decode(LinkType::RAW, p, p.len() as u32).unwrap() {
            Decoded::Tcp(s) => s,
            other => panic!("not TCP: {other:?}"),
        }
    }

    /// What a reassembler reports for `packets`, simplified.
    #[derive(Debug, PartialEq, Eq)]
    enum Ev {
        Open(SocketAddr, SocketAddr),
        Data(Dir, u64, Vec<u8>),
        Gap(Dir, u64, u64),
        End(Dir, EndReason),
        Close(EndReason),
    }

    fn reassemble(packets: &[Vec<u8>]) -> Vec<Ev> {
        let mut r = Reassembler::new(reassembly::Config::default());
        let mut evs = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            let ts = Timestamp::from_micros(1_000_000 + i as i64);
            r.segment(ts, &seg(p), &mut |e| match e {
                Event::Open { client, server, .. } => evs.push(Ev::Open(client, server)),
                Event::Data {
                    dir, offset, bytes, ..
                } => evs.push(Ev::Data(dir, offset, bytes.to_vec())),
                Event::Gap {
                    dir, offset, len, ..
                } => evs.push(Ev::Gap(dir, offset, len)),
                Event::End { dir, reason, .. } => evs.push(Ev::End(dir, reason)),
                Event::Close { reason, .. } => evs.push(Ev::Close(reason)),
                Event::Note { text, .. } => panic!("unexpected note: {text}"),
            });
        }
        evs
    }

    fn addrs() -> (SocketAddr, SocketAddr) {
        (
            SocketAddr::from(SocketAddrV4::new(CLIENT_IP, 40001)),
            SocketAddr::from(SocketAddrV4::new(SERVER_IP, 4444)),
        )
    }

    #[test]
    fn handshake_has_the_sequence_numbers_of_a_real_one() {
        let mut c = conn([1000, 5000]);
        let [syn, syn_ack, ack] = c.handshake();
        let (a, b, d) = (seg(&syn), seg(&syn_ack), seg(&ack));
        let (client, server) = addrs();
        assert_eq!((a.src, a.dst), (client, server));
        assert!(a.flags.syn && !a.flags.ack);
        assert_eq!(a.seq, 1000);
        assert_eq!((b.src, b.dst), (server, client));
        assert!(b.flags.syn && b.flags.ack);
        assert_eq!((b.seq, b.ack), (5000, 1001));
        assert!(!d.flags.syn && d.flags.ack);
        assert_eq!((d.seq, d.ack), (1001, 5001));
        assert!(d.payload.is_empty());
    }

    #[test]
    fn data_segments_carry_sequence_and_acknowledgement_numbers() {
        let mut c = conn([1000, 5000]);
        let mut out: Vec<Vec<u8>> = c.handshake().into();
        c.data(Dir::C2S, b"hello", &mut out);
        c.data(Dir::S2C, b"world!", &mut out);
        c.data(Dir::C2S, b"x", &mut out);
        let s: Vec<TcpSegment<'_>> = out[3..].iter().map(|p| seg(p)).collect();
        assert_eq!(
            (s[0].seq, s[0].ack, s[0].payload),
            (1001, 5001, &b"hello"[..])
        );
        assert_eq!(
            (s[1].seq, s[1].ack, s[1].payload),
            (5001, 1006, &b"world!"[..])
        );
        assert_eq!((s[2].seq, s[2].ack, s[2].payload), (1006, 5007, &b"x"[..]));
        assert!(s
            .iter()
            .all(|s| s.flags.psh && s.flags.ack && s.window == WINDOW));
    }

    #[test]
    fn a_conversation_reassembles_to_the_bytes_sent_and_fin_closes_it() {
        let mut c = conn([0xffff_fff0, 7]); // the client's numbers wrap
        let mut out: Vec<Vec<u8>> = c.handshake().into();
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        c.data(Dir::C2S, b"{\"execute\":\"x\"}", &mut out);
        c.data(Dir::S2C, &big, &mut out);
        c.fin(Dir::C2S, &mut out);
        assert!(!c.is_closed());
        c.data(Dir::S2C, b"tail", &mut out);
        c.fin(Dir::S2C, &mut out);
        assert!(c.is_closed());
        // Segments are split at the IPv4 limit.
        assert!(out.iter().all(|p| p.len() <= 65_535));
        let evs = reassemble(&out);
        let (client, server) = addrs();
        assert_eq!(evs[0], Ev::Open(client, server));
        let mut streams = [Vec::new(), Vec::new()];
        let mut ends = Vec::new();
        for e in &evs[1..] {
            match e {
                Ev::Data(d, off, b) => {
                    let s = &mut streams[d.idx()];
                    assert_eq!(*off, s.len() as u64);
                    s.extend_from_slice(b);
                }
                Ev::End(d, r) => ends.push((*d, *r)),
                Ev::Close(r) => assert_eq!(*r, EndReason::Fin),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(streams[0], b"{\"execute\":\"x\"}");
        let mut want = big.clone();
        want.extend_from_slice(b"tail");
        assert_eq!(streams[1], want);
        assert_eq!(
            ends,
            [(Dir::C2S, EndReason::Fin), (Dir::S2C, EndReason::Fin)]
        );
        assert_eq!(evs.last(), Some(&Ev::Close(EndReason::Fin)));
    }

    #[test]
    fn fin_is_acknowledged_and_nothing_follows_it() {
        let mut c = conn([10, 20]);
        let mut out = Vec::new();
        c.handshake();
        c.data(Dir::C2S, b"abc", &mut out);
        c.fin(Dir::C2S, &mut out);
        let (f, a) = (seg(&out[1]), seg(&out[2]));
        assert!(f.flags.fin && f.flags.ack);
        assert_eq!(f.seq, 14);
        assert!(a.flags.ack && !a.flags.fin);
        assert_eq!(a.ack, 15, "the FIN takes one sequence number");
        let n = out.len();
        c.data(Dir::C2S, b"late", &mut out);
        c.fin(Dir::C2S, &mut out);
        assert_eq!(out.len(), n, "nothing after the side's FIN");
    }

    #[test]
    fn skipped_bytes_are_a_gap_at_once_and_decoding_goes_on_after_it() {
        let mut c = conn([100, 200]);
        let mut out: Vec<Vec<u8>> = c.handshake().into();
        c.data(Dir::C2S, b"before", &mut out);
        c.skip(Dir::C2S, 1000, &mut out);
        c.data(Dir::C2S, b"after", &mut out);
        // A skip larger than one acknowledgement step.
        c.skip(Dir::S2C, 3 * MAX_ACK_STEP + 5, &mut out);
        c.data(Dir::S2C, b"reply", &mut out);
        c.rst(Dir::S2C, &mut out);
        assert!(c.is_closed());
        let evs = reassemble(&out);
        assert_eq!(
            &evs[1..],
            &[
                Ev::Data(Dir::C2S, 0, b"before".to_vec()),
                Ev::Gap(Dir::C2S, 6, 1000),
                Ev::Data(Dir::C2S, 1006, b"after".to_vec()),
                Ev::Gap(Dir::S2C, 0, MAX_ACK_STEP),
                Ev::Gap(Dir::S2C, MAX_ACK_STEP, MAX_ACK_STEP),
                Ev::Gap(Dir::S2C, 2 * MAX_ACK_STEP, MAX_ACK_STEP),
                Ev::Gap(Dir::S2C, 3 * MAX_ACK_STEP, 5),
                Ev::Data(Dir::S2C, 3 * MAX_ACK_STEP + 5, b"reply".to_vec()),
                Ev::End(Dir::C2S, EndReason::Rst),
                Ev::End(Dir::S2C, EndReason::Rst),
                Ev::Close(EndReason::Rst),
            ]
        );
    }

    #[test]
    fn refused_is_syn_then_reset() {
        let mut c = conn([1, 2]);
        let [syn, rst] = c.refused();
        let (s, r) = (seg(&syn), seg(&rst));
        assert!(s.flags.syn);
        assert!(r.flags.rst && r.flags.ack);
        assert_eq!(r.ack, 2);
        assert!(c.is_closed());
        let mut out = Vec::new();
        c.data(Dir::C2S, b"x", &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn checksums_verify() {
        let mut c = conn([5, 6]);
        let mut out = Vec::new();
        c.data(Dir::C2S, b"odd length", &mut out);
        let p = &out[0];
        // The IPv4 header sums to 0xffff with its checksum in place.
        assert_eq!(checksum(0, &p[..20]), 0);
        // So does the TCP segment with the pseudo-header.
        let mut pseudo = 0u32;
        for ip in [&p[12..16], &p[16..20]] {
            pseudo += u32::from(u16::from_be_bytes([ip[0], ip[1]]));
            pseudo += u32::from(u16::from_be_bytes([ip[2], ip[3]]));
        }
        pseudo += 6 + (p.len() as u32 - 20);
        assert_eq!(checksum(pseudo, &p[20..]), 0);
    }
}
