//! Link → IP → TCP decoding: turns a captured packet into a [`TcpSegment`].
//!
//! Following a packet through [`decode`]:
//!
//! 1. **Link layer** ([`LinkType`]): Ethernet (with any number, up to 8, of
//!    802.1Q / 802.1ad VLAN tags), Linux cooked capture v1 and v2, raw IP,
//!    and the BSD loopback headers are peeled off by hand, leaving either
//!    an IP packet or something we ignore ([`Decoded::NotTcp`]).
//! 2. **IP** (etherparse's lax slicer, [`LaxIpSlice`]): IPv4 (with its
//!    optional authentication header) or IPv6 with extension headers. The
//!    IP header's own length field decides where the payload ends, so
//!    Ethernet trailer padding is never taken for payload, and a packet
//!    cut short by the capture's snap length still decodes with the bytes
//!    that were captured. Fragments are reported as [`Decoded::Fragment`]
//!    and not reassembled.
//! 3. **TCP** ([`TcpSlice`]): ports, sequence numbers, flags, window and
//!    payload. Checksums are deliberately not verified: loopback captures
//!    carry checksums the kernel never filled in.
//!
//! Nothing here panics on hostile bytes: a header that does not fit is a
//! [`LayerError`], which callers count and skip.
// The no-panic promise for code that reads untrusted bytes, held by the
// compiler (tests may unwrap and index).
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use etherparse::err::ip::LaxHeaderSliceError;
use etherparse::{IpNumber, LaxIpSlice, LenSource, TcpSlice};

use crate::capture::LinkType;

/// The TCP flags qscope cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
}

/// A decoded TCP segment, borrowing its payload from the packet.
#[derive(Debug, Clone)]
pub struct TcpSegment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    /// Acknowledgment number; meaningful only when `flags.ack` is set.
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// Payload bytes present in the capture.
    pub payload: &'a [u8],
    /// Payload length on the wire according to the IP header: at least
    /// `payload.len()`, larger when the snap length cut the packet.
    pub wire_len: u32,
}

/// Result of decoding one packet.
#[derive(Debug, Clone)]
pub enum Decoded<'a> {
    /// A TCP segment.
    Tcp(TcpSegment<'a>),
    /// Anything else (ARP, UDP, ICMP, other ethertypes...): ignored silently.
    NotTcp,
    /// An IP fragment; fragments are not reassembled.
    Fragment,
}

/// A packet that could not be decoded. `Display` is one line, e.g.
/// `malformed IPv4 header: ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerError(pub String);

impl fmt::Display for LayerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LayerError {}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
/// 802.1Q, 802.1ad (QinQ) and the legacy QinQ tag types.
const VLAN_ETHERTYPES: [u16; 4] = [0x8100, 0x88a8, 0x9100, 0x9200];
/// More stacked VLAN tags than this is treated as garbage.
const MAX_VLAN_TAGS: usize = 8;

/// Decodes a captured packet down to TCP.
///
/// `data` is the captured bytes starting with the `link` header; `orig_len`
/// is the packet's length on the wire (used only when the IP header gives no
/// usable length, e.g. TSO captures with an IPv4 total length of 0).
pub fn decode(link: LinkType, data: &[u8], orig_len: u32) -> Result<Decoded<'_>, LayerError> {
    // The common case first: plain IPv4 and TCP right after an Ethernet
    // header without VLAN tags (what the general path would find too).
    if let Some(plain) = Plain::ethernet(link, data) {
        return Ok(Decoded::Tcp(plain.segment()));
    }
    let Some(ip) = link_payload(link, data)? else {
        return Ok(Decoded::NotTcp);
    };
    // Bytes of this packet the snap length cut off.
    let missing = u64::from(orig_len).saturating_sub(data.len() as u64);
    decode_ip(ip, missing)
}

/// Strips the link-layer header. `Some(ip)` when the payload is an IP
/// packet, `None` for other protocols.
fn link_payload(link: LinkType, data: &[u8]) -> Result<Option<&[u8]>, LayerError> {
    match link.0 {
        // Ethernet: dst(6) src(6) ethertype(2), then optional VLAN tags.
        1 => {
            let ethertype = be16(data, 12, "Ethernet header")?;
            ethertype_payload(ethertype, rest(data, 14), "Ethernet")
        }
        // Linux cooked v1: type(2) hatype(2) addrlen(2) addr(8) protocol(2).
        113 => {
            let proto = be16(data, 14, "Linux cooked (SLL) header")?;
            ethertype_payload(proto, rest(data, 16), "SLL")
        }
        // Linux cooked v2: protocol(2) reserved(2) ifindex(4) hatype(2)
        // packet type(1) addrlen(1) addr(8).
        276 => {
            let proto = be16(data, 0, "Linux cooked (SLL2) header")?;
            if data.len() < 20 {
                return Err(truncated("Linux cooked (SLL2) header", data.len(), 20));
            }
            ethertype_payload(proto, rest(data, 20), "SLL2")
        }
        // Raw IP; 12 and 14 are raw IP on some BSDs.
        12 | 14 | 101 | 228 | 229 => Ok(Some(data)),
        // BSD loopback: 4-byte address family in the capturing host's byte
        // order, which we do not know: accept either.
        0 => {
            let fam = *data
                .first_chunk::<4>()
                .ok_or_else(|| truncated("loopback (NULL) header", data.len(), 4))?;
            let (le, be) = (u32::from_le_bytes(fam), u32::from_be_bytes(fam));
            Ok(is_ip_family(le).or(is_ip_family(be)).map(|_| rest(data, 4)))
        }
        // OpenBSD loopback: the same family field, in network byte order.
        108 => {
            let fam = *data
                .first_chunk::<4>()
                .ok_or_else(|| truncated("loopback (LOOP) header", data.len(), 4))?;
            let fam = u32::from_be_bytes(fam);
            Ok(is_ip_family(fam).map(|_| rest(data, 4)))
        }
        n => Err(LayerError(format!("unsupported link type {n}"))),
    }
}

/// `Some(())` for the BSD address families of IPv4 (2) and IPv6 (24, 28, 30
/// depending on the BSD).
fn is_ip_family(fam: u32) -> Option<()> {
    matches!(fam, 2 | 24 | 28 | 30).then_some(())
}

/// Follows VLAN tags from `ethertype`, returning the IP packet if any.
fn ethertype_payload<'a>(
    mut ethertype: u16,
    mut data: &'a [u8],
    what: &str,
) -> Result<Option<&'a [u8]>, LayerError> {
    for _ in 0..=MAX_VLAN_TAGS {
        match ethertype {
            ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => return Ok(Some(data)),
            t if VLAN_ETHERTYPES.contains(&t) => {
                // Tag: TCI(2) then the inner ethertype(2).
                ethertype = be16(data, 2, "VLAN tag")?;
                data = rest(data, 4);
            }
            _ => return Ok(None),
        }
    }
    Err(LayerError(format!(
        "{what} frame with more than {MAX_VLAN_TAGS} VLAN tags"
    )))
}

/// Decodes an IP packet and the TCP segment in it. `missing` is how many
/// bytes of the packet the capture did not keep.
fn decode_ip(data: &[u8], missing: u64) -> Result<Decoded<'_>, LayerError> {
    match Plain::new(data) {
        Some(plain) => Ok(Decoded::Tcp(plain.segment())),
        None => decode_ip_general(data, missing),
    }
}

/// A plain IPv4/TCP packet: whole, unfragmented, with a whole TCP header
/// (what [`decode`] reads directly, without etherparse); its two fixed
/// headers and its payload.
#[derive(Clone, Copy)]
pub struct Plain<'a> {
    ip: &'a [u8; 20],
    tcp: &'a [u8; 20],
    payload: &'a [u8],
}

impl<'a> Plain<'a> {
    /// The plain case of an Ethernet frame: the IPv4 ethertype right
    /// after the addresses (no VLAN tag), then a plain packet. `None`:
    /// anything else, for [`decode`] to tell.
    pub fn ethernet(link: LinkType, data: &'a [u8]) -> Option<Plain<'a>> {
        if link == LinkType::ETHERNET && data.get(12..14) == Some(&[0x08, 0x00]) {
            Plain::new(rest(data, 14))
        } else {
            None
        }
    }

    /// The common case, read directly: a whole, unfragmented IPv4
    /// packet (`total length` within the captured bytes) carrying a whole
    /// TCP header. Its segment is exactly what [`decode_ip_general`]
    /// gives for such a packet (a property test holds the two together);
    /// `None` for anything else, which the general path then decodes.
    /// Every worker of a parallel run reads every packet to find its
    /// connection's shard, so this path's cost counts several times over.
    fn new(ip: &'a [u8]) -> Option<Plain<'a>> {
        let h: &[u8; 20] = ip.first_chunk()?;
        let header = usize::from(h[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
        // Version 4, a header of at least 20 bytes, more-fragments clear
        // and offset 0, protocol TCP, and the packet captured whole.
        if h[0] >> 4 != 4
            || header < 20
            || u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0
            || h[9] != 6
            || total > ip.len()
        {
            return None;
        }
        let tcp = ip.get(header..total)?;
        let t: &[u8; 20] = tcp.first_chunk()?;
        if t[12] >> 4 < 5 {
            return None;
        }
        let payload = tcp.get(usize::from(t[12] >> 4) * 4..)?;
        Some(Plain {
            ip: h,
            tcp: t,
            payload,
        })
    }

    /// Both endpoints, each as its IPv4 address and port.
    pub fn endpoints(&self) -> ((u32, u16), (u32, u16)) {
        let (h, t) = (self.ip, self.tcp);
        (
            (
                u32::from_be_bytes([h[12], h[13], h[14], h[15]]),
                u16::from_be_bytes([t[0], t[1]]),
            ),
            (
                u32::from_be_bytes([h[16], h[17], h[18], h[19]]),
                u16::from_be_bytes([t[2], t[3]]),
            ),
        )
    }

    /// Payload bytes (all captured).
    pub fn payload_len(&self) -> usize {
        self.payload.len()
    }

    /// The segment, as [`decode`] gives it.
    pub fn segment(&self) -> TcpSegment<'a> {
        let t = self.tcp;
        let ((src, sport), (dst, dport)) = self.endpoints();
        let be32 = |b: [u8; 4]| u32::from_be_bytes(b);
        TcpSegment {
            src: SocketAddr::new(IpAddr::V4(src.into()), sport),
            dst: SocketAddr::new(IpAddr::V4(dst.into()), dport),
            seq: be32([t[4], t[5], t[6], t[7]]),
            ack: be32([t[8], t[9], t[10], t[11]]),
            flags: TcpFlags {
                syn: t[13] & 0x02 != 0,
                ack: t[13] & 0x10 != 0,
                fin: t[13] & 0x01 != 0,
                rst: t[13] & 0x04 != 0,
                psh: t[13] & 0x08 != 0,
            },
            window: u16::from_be_bytes([t[14], t[15]]),
            payload: self.payload,
            wire_len: u32::try_from(self.payload.len()).unwrap_or(u32::MAX),
        }
    }
}

/// [`decode_ip`] for every case: IPv4 and IPv6, extension headers,
/// fragments, packets cut short by the snap length.
fn decode_ip_general(data: &[u8], missing: u64) -> Result<Decoded<'_>, LayerError> {
    let version = match data.first().map(|b| b >> 4) {
        Some(4) => "IPv4",
        Some(6) => "IPv6",
        _ => "IP",
    };
    let (ip, _ext_err) = LaxIpSlice::from_slice(data).map_err(|e| {
        let how = match e {
            LaxHeaderSliceError::Len(_) => "truncated",
            LaxHeaderSliceError::Content(_) => "malformed",
        };
        LayerError(format!("{how} {version} header: {e}"))
    })?;
    let pl = ip.payload();
    if pl.fragmented {
        return Ok(Decoded::Fragment);
    }
    // An extension header that could not be parsed leaves its own number
    // here, so that case falls into NotTcp as well.
    if pl.ip_number != IpNumber::TCP {
        return Ok(Decoded::NotTcp);
    }

    // IP payload length on the wire, from the IP header when it has a
    // usable length (not when IPv4 total length < header length, as TSO
    // captures show, nor for IPv6 jumbograms with payload length 0).
    let ip_wire_len: u64 = match &ip {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            let hdr =
                h.slice().len() as u64 + v4.extensions().auth.map_or(0, |a| a.slice().len() as u64);
            let total = u64::from(h.total_len());
            if pl.len_source == LenSource::Slice && !pl.incomplete {
                pl.payload.len() as u64 + missing
            } else {
                total.saturating_sub(hdr)
            }
        }
        LaxIpSlice::Ipv6(v6) => {
            let hdr = 40 + v6.extensions().slice().len() as u64;
            let total = 40 + u64::from(v6.header().payload_length());
            if pl.len_source == LenSource::Slice && !pl.incomplete {
                pl.payload.len() as u64 + missing
            } else {
                total.saturating_sub(hdr)
            }
        }
    };

    let tcp = TcpSlice::from_slice(pl.payload).map_err(|e| {
        LayerError(format!(
            "{} TCP header: {e}",
            if pl.incomplete {
                "truncated"
            } else {
                "malformed"
            }
        ))
    })?;
    let payload = tcp.payload();
    let wire_len = ip_wire_len
        .saturating_sub(tcp.header_slice().len() as u64)
        .max(payload.len() as u64);

    let (src, dst): (IpAddr, IpAddr) = (ip.source_addr(), ip.destination_addr());
    Ok(Decoded::Tcp(TcpSegment {
        src: SocketAddr::new(src, tcp.source_port()),
        dst: SocketAddr::new(dst, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: TcpFlags {
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
            psh: tcp.psh(),
        },
        window: tcp.window_size(),
        payload,
        wire_len: u32::try_from(wire_len).unwrap_or(u32::MAX),
    }))
}

/// Big-endian u16 at `at`, or a "truncated `what`" error.
fn be16(data: &[u8], at: usize, what: &str) -> Result<u16, LayerError> {
    match data.get(at..).and_then(|r| r.first_chunk::<2>()) {
        Some(b) => Ok(u16::from_be_bytes(*b)),
        None => Err(truncated(what, data.len(), at + 2)),
    }
}

/// `data[from..]`, or empty when `data` is shorter.
fn rest(data: &[u8], from: usize) -> &[u8] {
    data.get(from..).unwrap_or(&[])
}

fn truncated(what: &str, have: usize, need: usize) -> LayerError {
    LayerError(format!(
        "truncated {what}: {have} bytes captured, {need} needed"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IPv4 + TCP (no options) with `payload`, total length as given.
    fn ipv4_tcp(payload: &[u8], flags: u8) -> Vec<u8> {
        let total = (20 + 20 + payload.len()) as u16;
        let mut v = vec![
            0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        v[2..4].copy_from_slice(&total.to_be_bytes());
        v.extend_from_slice(&1234u16.to_be_bytes());
        v.extend_from_slice(&80u16.to_be_bytes());
        v.extend_from_slice(&100u32.to_be_bytes());
        v.extend_from_slice(&200u32.to_be_bytes());
        v.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        v.extend_from_slice(payload);
        v
    }

    fn tcp(d: Decoded<'_>) -> TcpSegment<'_> {
        match d {
            Decoded::Tcp(t) => t,
            other => panic!("expected TCP, got {other:?}"),
        }
    }

    #[test]
    fn raw_ipv4_segment() {
        let p = ipv4_tcp(b"hello", 0x18);
        let t = tcp(decode(LinkType::RAW, &p, p.len() as u32).unwrap());
        assert_eq!(t.src.to_string(), "10.0.0.1:1234");
        assert_eq!(t.dst.to_string(), "10.0.0.2:80");
        assert_eq!((t.seq, t.ack, t.window), (100, 200, 0xffff));
        assert!(t.flags.psh && t.flags.ack && !t.flags.syn);
        assert_eq!(t.payload, b"hello");
        assert_eq!(t.wire_len, 5);
    }

    #[test]
    fn tso_zero_total_length_uses_orig_len() {
        let mut p = ipv4_tcp(b"hello", 0x18);
        p[2] = 0;
        p[3] = 0;
        let t = tcp(decode(LinkType::RAW, &p[..42], p.len() as u32).unwrap());
        assert_eq!(t.payload, b"he");
        assert_eq!(t.wire_len, 5);
    }

    #[test]
    fn fragments_and_other_protocols() {
        let mut p = ipv4_tcp(b"x", 0);
        p[6] = 0x20; // MF
        assert!(matches!(
            decode(LinkType::RAW, &p, 0).unwrap(),
            Decoded::Fragment
        ));
        let mut p = ipv4_tcp(b"x", 0);
        p[9] = 17; // UDP
        assert!(matches!(
            decode(LinkType::RAW, &p, 0).unwrap(),
            Decoded::NotTcp
        ));
        // ARP over Ethernet.
        let mut e = vec![0u8; 12];
        e.extend_from_slice(&[0x08, 0x06]);
        e.extend_from_slice(&[0; 28]);
        assert!(matches!(
            decode(LinkType::ETHERNET, &e, 0).unwrap(),
            Decoded::NotTcp
        ));
    }

    #[test]
    fn errors_are_one_line() {
        let e = decode(LinkType(9999), b"abc", 3).unwrap_err();
        assert_eq!(e.to_string(), "unsupported link type 9999");
        let e = decode(LinkType::ETHERNET, &[0; 5], 5).unwrap_err();
        assert!(e.0.starts_with("truncated Ethernet header"), "{e}");
        let e = decode(LinkType::RAW, &[0x45, 0, 0], 3).unwrap_err();
        assert!(e.0.starts_with("truncated IPv4 header"), "{e}");
        let e = decode(LinkType::RAW, &[0x43; 40], 40).unwrap_err();
        assert!(e.0.starts_with("malformed IPv4 header"), "{e}");
        let e = decode(LinkType::RAW, &[0x20; 40], 40).unwrap_err();
        assert!(e.0.starts_with("malformed IP header"), "{e}");
        assert!(!e.0.contains('\n'));
        let p = ipv4_tcp(b"", 0x02);
        let e = decode(LinkType::RAW, &p[..30], 40).unwrap_err();
        assert!(e.0.starts_with("truncated TCP header"), "{e}");
    }

    #[test]
    fn too_many_vlan_tags() {
        let mut e = vec![0u8; 12];
        for _ in 0..10 {
            e.extend_from_slice(&[0x81, 0x00, 0, 1]);
        }
        e.extend_from_slice(&[0x08, 0x00]);
        assert!(decode(LinkType::ETHERNET, &e, 0).is_err());
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let links = [0, 1, 12, 101, 108, 113, 228, 229, 276, 7];
        for i in 0..20_000usize {
            let len = (next() % 120) as usize;
            let mut d: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Bias toward plausible headers so deeper layers get exercised.
            if i.is_multiple_of(2) && d.len() > 20 {
                d[0] = if i.is_multiple_of(4) { 0x45 } else { 0x60 };
            }
            let link = LinkType(links[i % links.len()]);
            let _ = decode(link, &d, (next() % 4000) as u32);
        }
    }

    /// An IPv4 packet built from chosen header fields, for holding the
    /// plain path to the general one: version/IHL byte, total length,
    /// flags and fragment offset, protocol, TCP data offset byte, then the
    /// TCP payload, trailing bytes (padding) and how much of it all is
    /// captured.
    #[allow(clippy::too_many_arguments)]
    fn built(
        vihl: u8,
        total: Option<u16>,
        frag: u16,
        proto: u8,
        doff: u8,
        payload: &[u8],
        trailer: usize,
        keep: usize,
    ) -> Vec<u8> {
        let mut v = ipv4_tcp(payload, 0x18);
        let options = usize::from(vihl & 0x0f).saturating_sub(5) * 4;
        v.splice(20..20, std::iter::repeat_n(1u8, options));
        v[0] = vihl;
        let total = total.unwrap_or(v.len() as u16);
        v[2..4].copy_from_slice(&total.to_be_bytes());
        v[6..8].copy_from_slice(&frag.to_be_bytes());
        v[9] = proto;
        v[20 + options + 12] = doff;
        v.extend(std::iter::repeat_n(0xee, trailer));
        v.truncate(keep);
        v
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        #[test]
        fn plain_ipv4_path_agrees_with_the_general_one(
            vihl in proptest::prop_oneof![proptest::prelude::Just(0x45u8), 0x40u8..0x50, proptest::prelude::any::<u8>()],
            total in proptest::option::of(0u16..120),
            frag in proptest::prop_oneof![proptest::prelude::Just(0u16), proptest::prelude::Just(0x4000), proptest::prelude::Just(0x2000), proptest::prelude::any::<u16>()],
            proto in proptest::prop_oneof![proptest::prelude::Just(6u8), proptest::prelude::Just(51), proptest::prelude::any::<u8>()],
            doff in proptest::prop_oneof![proptest::prelude::Just(0x50u8), proptest::prelude::any::<u8>()],
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            trailer in 0usize..8,
            keep in 0usize..200,
            missing in 0u64..3,
        ) {
            let d = built(vihl, total, frag, proto, doff, &payload, trailer, keep);
            if let Some(fast) = Plain::new(&d).map(|p| p.segment()) {
                let general = decode_ip_general(&d, missing);
                proptest::prop_assert!(matches!(&general, Ok(Decoded::Tcp(_))), "{general:?}");
                proptest::prop_assert_eq!(format!("{:?}", Decoded::Tcp(fast)), format!("{:?}", general.unwrap()));
            }
        }
    }

    #[test]
    fn the_plain_path_takes_ordinary_packets() {
        // With options, Ethernet padding, DF set: still the plain case.
        let d = built(0x46, None, 0x4000, 6, 0x60, b"hello", 0, 200);
        let mut padded = d.clone();
        padded.extend_from_slice(&[0; 6]);
        for p in [&d, &padded] {
            let seg = Plain::new(p).expect("the plain case").segment();
            assert_eq!((seg.payload.len(), seg.wire_len), (1, 1));
        }
        let plain = ipv4_tcp(b"hello", 0x18);
        let seg = Plain::new(&plain).expect("the plain case").segment();
        assert_eq!((seg.payload, seg.wire_len), (&b"hello"[..], 5));
        // Cut short by the snap length, fragmented, or not TCP: not it.
        let cut = built(0x45, None, 0, 6, 0x50, b"hello", 0, 42);
        let frag = built(0x45, None, 0x2000, 6, 0x50, b"hello", 0, 200);
        let udp = built(0x45, None, 0, 17, 0x50, b"hello", 0, 200);
        for p in [&cut, &frag, &udp] {
            assert!(Plain::new(p).is_none());
        }
    }
}
