//! Link/IP/TCP decoding: [`decode`] with every link type.
//!
//! Input: `sel`, `olen` (2 bytes), then `body`.
//!
//! 1. `body` is decoded as a frame of the link type `sel` picks (or, for
//!    `sel >= 0xf0`, the 16-bit link type `olen`), with `orig_len` from
//!    `olen`. A TCP segment's payload must lie inside the frame, its wire
//!    length be at least its captured length, both addresses of one IP
//!    version; an error must be one non-empty line.
//! 2. `body` as an IP packet, wrapped in every link header qscope knows
//!    (Ethernet, 1 to 8 VLAN tags, SLL, SLL2, NULL in both byte orders,
//!    LOOP, raw IP), must decode exactly as it does raw.
//! 3. The same packet cut by a snap length (`orig_len` keeping the
//!    original size) must, when it still decodes to TCP, give the same
//!    segment with a prefix of the payload and the same wire length.

use qscope::capture::LinkType;
use qscope::layers::{decode, Decoded, LayerError, TcpSegment};

/// The link types qscope decodes, plus one it does not.
const LINKS: [u32; 12] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147, 9999];

/// Encodes an input for link type `LINKS[sel % 12]`.
pub fn encode(sel: u8, olen: u16, body: &[u8]) -> Vec<u8> {
    let mut v = vec![sel];
    v.extend_from_slice(&olen.to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// Everything a decode result says, owned.
#[derive(Debug, PartialEq, Eq)]
enum Shape {
    Tcp(String, u32, u32, String, u16, Vec<u8>, u32),
    NotTcp,
    Fragment,
    Err(String),
}

fn shape(r: &Result<Decoded<'_>, LayerError>) -> Shape {
    match r {
        Ok(Decoded::Tcp(t)) => Shape::Tcp(
            format!("{} > {}", t.src, t.dst),
            t.seq,
            t.ack,
            format!("{:?}", t.flags),
            t.window,
            t.payload.to_vec(),
            t.wire_len,
        ),
        Ok(Decoded::NotTcp) => Shape::NotTcp,
        Ok(Decoded::Fragment) => Shape::Fragment,
        Err(e) => Shape::Err(e.to_string()),
    }
}

/// The promises of one decode of `frame`.
fn check(r: &Result<Decoded<'_>, LayerError>, frame: &[u8]) {
    match r {
        Ok(Decoded::Tcp(t)) => check_segment(t, frame),
        Ok(_) => {}
        Err(e) => {
            let s = e.to_string();
            assert!(!s.is_empty() && !s.contains(['\n', '\r']), "error {s:?}");
        }
    }
}

fn check_segment(t: &TcpSegment<'_>, frame: &[u8]) {
    let (f0, f1) = (
        frame.as_ptr() as usize,
        frame.as_ptr() as usize + frame.len(),
    );
    let p0 = t.payload.as_ptr() as usize;
    assert!(
        t.payload.is_empty() || (f0 <= p0 && p0 + t.payload.len() <= f1),
        "payload outside the frame"
    );
    assert!(
        t.wire_len as usize >= t.payload.len(),
        "wire_len {} < payload {}",
        t.wire_len,
        t.payload.len()
    );
    assert_eq!(t.src.is_ipv4(), t.dst.is_ipv4(), "mixed IP versions");
}

/// `ip` behind each link header qscope knows: (link type, frame).
fn wrapped(ip: &[u8]) -> Vec<(LinkType, Vec<u8>)> {
    let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
    let ethertype: [u8; 2] = if v6 { [0x86, 0xdd] } else { [0x08, 0x00] };
    let cat = |head: &[u8]| {
        let mut f = head.to_vec();
        f.extend_from_slice(ip);
        f
    };
    let mut out = Vec::new();
    let eth = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    out.push((LinkType::ETHERNET, cat(&[&eth[..], &ethertype].concat())));
    for (tags, tpid) in [(1, [0x81, 0x00]), (2, [0x88, 0xa8]), (8, [0x91, 0x00])] {
        let mut h = eth.clone();
        for _ in 0..tags {
            h.extend_from_slice(&tpid);
            h.extend_from_slice(&[0x00, 0x2a]);
        }
        h.extend_from_slice(&ethertype);
        out.push((LinkType::ETHERNET, cat(&h)));
    }
    // SLL: type, ARPHRD, address length, address (8), protocol.
    let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
    sll.extend_from_slice(&ethertype);
    out.push((LinkType::LINUX_SLL, cat(&sll)));
    // SLL2: protocol, reserved, ifindex, ARPHRD, packet type, address length, address (8).
    let mut sll2 = ethertype.to_vec();
    sll2.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
    out.push((LinkType::LINUX_SLL2, cat(&sll2)));
    let fam: u32 = if v6 { 30 } else { 2 };
    out.push((LinkType::NULL, cat(&fam.to_le_bytes())));
    out.push((LinkType::NULL, cat(&fam.to_be_bytes())));
    out.push((LinkType::LOOP, cat(&fam.to_be_bytes())));
    for raw in [12, 14, 101, 228, 229] {
        out.push((LinkType(raw), ip.to_vec()));
    }
    out
}

/// Runs one fuzz input.
pub fn run(data: &[u8]) {
    if data.len() < 3 {
        return;
    }
    let sel = data[0];
    let olen = u16::from_be_bytes([data[1], data[2]]);
    let body = &data[3..];

    // 1. Any frame, any link type.
    let link = if sel >= 0xf0 {
        LinkType(u32::from(olen))
    } else {
        LinkType(LINKS[usize::from(sel) % LINKS.len()])
    };
    let orig_len = if olen & 0x8000 != 0 {
        u32::from(olen & 0x7fff)
    } else {
        (body.len() as u32).saturating_add(u32::from(olen))
    };
    let r = decode(link, body, orig_len);
    check(&r, body);

    // 2. The body as an IP packet behind every link header.
    let extra = orig_len.saturating_sub(body.len() as u32);
    let raw = decode(LinkType::RAW, body, body.len() as u32 + extra);
    let want = shape(&raw);
    for (link, frame) in wrapped(body) {
        let hdr = (frame.len() - body.len()) as u32;
        let got = decode(link, &frame, body.len() as u32 + hdr + extra);
        check(&got, &frame);
        assert_eq!(shape(&got), want, "{link} differs from raw IP");
    }

    // 3. Cut by a snap length.
    if let Ok(Decoded::Tcp(full)) = decode(LinkType::RAW, body, body.len() as u32) {
        let k = usize::from(olen) % (body.len() + 1);
        if let Ok(Decoded::Tcp(cut)) = decode(LinkType::RAW, &body[..k], body.len() as u32) {
            check_segment(&cut, &body[..k]);
            assert_eq!(
                (cut.src, cut.dst, cut.seq, cut.ack, cut.flags, cut.window),
                (
                    full.src,
                    full.dst,
                    full.seq,
                    full.ack,
                    full.flags,
                    full.window
                ),
                "cut at {k}: header fields differ"
            );
            assert!(
                full.payload.starts_with(cut.payload),
                "cut at {k}: payload is not a prefix"
            );
            assert_eq!(
                cut.wire_len, full.wire_len,
                "cut at {k}: wire length differs"
            );
        }
    }
}
