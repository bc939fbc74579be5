//! A streaming writer of little-endian microsecond pcap files holding
//! Ethernet/IPv4/TCP frames with correct IPv4 and TCP checksums. Frames are
//! written as they are made, so generating a gigabyte needs no gigabyte of
//! memory.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// Largest TCP payload of one frame (IPv4 total length 65535, no options).
pub const MAX_PAYLOAD: usize = 65535 - 40;

/// One Ethernet/IPv4/TCP segment, every header field explicit.
#[derive(Clone, Copy, Debug)]
pub struct Tcp<'a> {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub win: u16,
    pub urg: u16,
    /// TCP options, a multiple of 4 bytes.
    pub opts: &'a [u8],
    pub tos: u8,
    pub ipid: u16,
    pub frag: u16,
    pub ttl: u8,
}

impl Tcp<'static> {
    /// A plain segment: synthetic MACs derived from the addresses, window
    /// 65535, no options, DF set, TTL 64.
    pub fn simple(
        src: ([u8; 4], u16),
        dst: ([u8; 4], u16),
        seq: u32,
        ack: u32,
        flags: u8,
    ) -> Tcp<'static> {
        Tcp {
            src_mac: mac(src.0),
            dst_mac: mac(dst.0),
            src: src.0,
            dst: dst.0,
            sport: src.1,
            dport: dst.1,
            seq,
            ack,
            flags,
            win: 65535,
            urg: 0,
            opts: &[],
            tos: 0,
            ipid: 0,
            frag: 0x4000,
            ttl: 64,
        }
    }
}

/// A locally administered MAC address holding the IPv4 address.
pub fn mac(ip: [u8; 4]) -> [u8; 6] {
    [0x02, 0x00, ip[0], ip[1], ip[2], ip[3]]
}

/// Sum of the big-endian 16-bit words of `b` (odd length: zero padded).
pub fn sum16(b: &[u8]) -> u64 {
    let mut s = 0u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_be_bytes(c.try_into().unwrap());
        s += (v >> 48) + ((v >> 32) & 0xffff) + ((v >> 16) & 0xffff) + (v & 0xffff);
    }
    let mut rest = chunks.remainder().chunks(2);
    for c in &mut rest {
        s += u64::from(c[0]) << 8 | u64::from(c.get(1).copied().unwrap_or(0));
    }
    s
}

/// The one's complement checksum of a word sum.
pub fn fold(mut s: u64) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// A pcap file being written to `PATH.part`; [`PcapOut::finish`] renames it
/// to `PATH`, so an interrupted generation never leaves a file that looks
/// complete.
pub struct PcapOut {
    w: BufWriter<File>,
    part: PathBuf,
    path: PathBuf,
    frame: Vec<u8>,
    pub bytes: u64,
    pub packets: u64,
}

impl PcapOut {
    pub fn create(path: &Path) -> io::Result<PcapOut> {
        let part = path.with_extension("pcap.part");
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&part)?);
        w.write_all(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0])?;
        w.write_all(&[0; 8])?;
        w.write_all(&262144u32.to_le_bytes())?;
        w.write_all(&1u32.to_le_bytes())?;
        Ok(PcapOut {
            w,
            part,
            path: path.to_path_buf(),
            frame: Vec::with_capacity(65536 + 14),
            bytes: 24,
            packets: 0,
        })
    }

    /// Writes one segment at `ts_us` (microseconds since the epoch).
    pub fn tcp(&mut self, ts_us: u64, t: &Tcp<'_>, payload: &[u8]) -> io::Result<()> {
        assert!(t.opts.len().is_multiple_of(4) && t.opts.len() <= 40);
        let tcp_len = 20 + t.opts.len() + payload.len();
        let total = 20 + tcp_len;
        assert!(total <= 65535, "segment too large: {total}");
        let f = &mut self.frame;
        f.clear();
        f.extend_from_slice(&t.dst_mac);
        f.extend_from_slice(&t.src_mac);
        f.extend_from_slice(&[0x08, 0x00]);
        let ip = f.len();
        f.extend_from_slice(&[0x45, t.tos]);
        f.extend_from_slice(&(total as u16).to_be_bytes());
        f.extend_from_slice(&t.ipid.to_be_bytes());
        f.extend_from_slice(&t.frag.to_be_bytes());
        f.extend_from_slice(&[t.ttl, 6, 0, 0]);
        f.extend_from_slice(&t.src);
        f.extend_from_slice(&t.dst);
        let ipck = fold(sum16(&f[ip..ip + 20]));
        f[ip + 10..ip + 12].copy_from_slice(&ipck.to_be_bytes());
        let tcp = f.len();
        f.extend_from_slice(&t.sport.to_be_bytes());
        f.extend_from_slice(&t.dport.to_be_bytes());
        f.extend_from_slice(&t.seq.to_be_bytes());
        f.extend_from_slice(&t.ack.to_be_bytes());
        f.push((((20 + t.opts.len()) / 4) << 4) as u8);
        f.push(t.flags);
        f.extend_from_slice(&t.win.to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(&t.urg.to_be_bytes());
        f.extend_from_slice(t.opts);
        let pseudo = sum16(&t.src) + sum16(&t.dst) + 6 + tcp_len as u64;
        // The payload is summed where it lies; the header has an even length.
        let ck = fold(pseudo + sum16(&f[tcp..]) + sum16(payload));
        f[tcp + 16..tcp + 18].copy_from_slice(&ck.to_be_bytes());
        let caplen = (f.len() + payload.len()) as u32;
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
        rec[4..8].copy_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
        rec[8..12].copy_from_slice(&caplen.to_le_bytes());
        rec[12..16].copy_from_slice(&caplen.to_le_bytes());
        self.w.write_all(&rec)?;
        self.w.write_all(f)?;
        self.w.write_all(payload)?;
        self.bytes += 16 + u64::from(caplen);
        self.packets += 1;
        Ok(())
    }

    /// Flushes and renames the file into place; returns its size.
    pub fn finish(self) -> io::Result<u64> {
        let file = self.w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.part, &self.path)?;
        Ok(self.bytes)
    }
}

/// The two ends and next sequence numbers of a synthetic TCP connection.
pub struct Conn {
    pub client: ([u8; 4], u16),
    pub server: ([u8; 4], u16),
    /// Next sequence number of the client and of the server.
    pub seq: [u32; 2],
}

impl Conn {
    pub fn new(client: ([u8; 4], u16), server: ([u8; 4], u16), isn: [u32; 2]) -> Conn {
        Conn {
            client,
            server,
            seq: isn,
        }
    }

    /// The client's SYN.
    pub fn syn(&mut self, out: &mut PcapOut, ts: u64) -> io::Result<()> {
        let t = Tcp::simple(self.client, self.server, self.seq[0], 0, SYN);
        self.seq[0] = self.seq[0].wrapping_add(1);
        out.tcp(ts, &t, &[])
    }

    /// The server's SYN-ACK.
    pub fn syn_ack(&mut self, out: &mut PcapOut, ts: u64) -> io::Result<()> {
        let t = Tcp::simple(
            self.server,
            self.client,
            self.seq[1],
            self.seq[0],
            SYN | ACK,
        );
        self.seq[1] = self.seq[1].wrapping_add(1);
        out.tcp(ts, &t, &[])
    }

    /// A data segment (with ACK and PSH) from the client (`c2s`) or the
    /// server, acknowledging everything the other side sent.
    pub fn data(&mut self, out: &mut PcapOut, ts: u64, c2s: bool, bytes: &[u8]) -> io::Result<()> {
        for chunk in bytes.chunks(MAX_PAYLOAD) {
            let (s, from, to) = if c2s {
                (0, self.client, self.server)
            } else {
                (1, self.server, self.client)
            };
            let t = Tcp::simple(from, to, self.seq[s], self.seq[1 - s], ACK | PSH);
            self.seq[s] = self.seq[s].wrapping_add(chunk.len() as u32);
            out.tcp(ts, &t, chunk)?;
        }
        Ok(())
    }

    /// Both sides close (FIN, FIN, ACK).
    pub fn close(&mut self, out: &mut PcapOut, ts: u64) -> io::Result<()> {
        let t = Tcp::simple(
            self.client,
            self.server,
            self.seq[0],
            self.seq[1],
            FIN | ACK,
        );
        self.seq[0] = self.seq[0].wrapping_add(1);
        out.tcp(ts, &t, &[])?;
        let t = Tcp::simple(
            self.server,
            self.client,
            self.seq[1],
            self.seq[0],
            FIN | ACK,
        );
        self.seq[1] = self.seq[1].wrapping_add(1);
        out.tcp(ts + 1, &t, &[])?;
        let t = Tcp::simple(self.client, self.server, self.seq[0], self.seq[1], ACK);
        out.tcp(ts + 2, &t, &[])
    }
}

/// A deterministic pseudo-random generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5153_434f_5045_2d42)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
}

/// FNV-1a 64 over several byte strings (the cache's notion of "the same
/// generator and the same inputs").
pub fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for p in parts {
        for &b in p.iter().chain(&(p.len() as u64).to_le_bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}
