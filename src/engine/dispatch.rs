//! Packets into epochs: the first stage of the engine.
//!
//! The dispatcher decodes each packet's link, IP and TCP headers
//! ([`layers::decode`]), counts what is not TCP, and copies each TCP
//! segment into the batch of the shard its connection belongs to: a
//! symmetric hash of the addresses and ports, so both directions of a
//! connection go to the same shard. Batches are cut into *epochs* by packet
//! count and payload bytes, from the packet sequence alone; so an epoch
//! holds the same packets whatever the number of shards, which keeps the
//! merged output and the memory budget's decisions the same.

use std::net::SocketAddr;

use crate::capture::{Packet, Timestamp};
use crate::layers::{self, Decoded, TcpFlags, TcpSegment};

/// Packets per epoch at most.
pub(crate) const EPOCH_PACKETS: usize = 4096;
/// Payload bytes per epoch at most (an epoch closes after the packet that
/// reaches it). The decoded items of an epoch are not charged to the
/// memory budget, and tiny messages decode to items some 20 times their
/// size, with a few epochs in flight per shard: 1 MiB keeps that within
/// the budget's allowance (2 MiB did not, with 4 M small messages in one
/// session, `benches/bigmix` cases d and f) at no cost in speed.
pub(crate) const EPOCH_BYTES: usize = 1 << 20;

/// A TCP segment copied out of its packet; the payload is in the batch's
/// arena.
#[derive(Debug, Clone)]
pub(crate) struct Seg {
    pub frame: u64,
    pub ts: Timestamp,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub wire_len: u32,
    pub start: usize,
    pub len: usize,
}

/// The segments of one epoch for one shard.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub segs: Vec<Seg>,
    pub arena: Vec<u8>,
}

/// Batches done with go back to the dispatcher through this channel, so
/// that their buffers are reused: a fresh 1 MiB buffer per epoch would be
/// mapped, faulted in and zeroed by the kernel every time.
pub(crate) type Recycle = std::sync::mpsc::Sender<Batch>;

impl Batch {
    /// The segment as the reassembler takes it.
    pub fn segment(&self, s: &Seg) -> TcpSegment<'_> {
        TcpSegment {
            src: s.src,
            dst: s.dst,
            seq: s.seq,
            ack: s.ack,
            flags: s.flags,
            window: s.window,
            payload: self.arena.get(s.start..s.start + s.len).unwrap_or(&[]),
            wire_len: s.wire_len,
        }
    }
}

/// Packet counters of the summary (per epoch, added up in order).
#[derive(Debug, Clone, Default)]
pub(crate) struct Counters {
    pub packets: u64,
    pub tcp_segments: u64,
    pub non_tcp_packets: u64,
    pub ip_fragments: u64,
    pub malformed_packets: u64,
    pub cut_packets: u64,
    /// The first few malformed packets, as "frame N: reason".
    pub malformed_examples: Vec<String>,
}

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        self.packets += o.packets;
        self.tcp_segments += o.tcp_segments;
        self.non_tcp_packets += o.non_tcp_packets;
        self.ip_fragments += o.ip_fragments;
        self.malformed_packets += o.malformed_packets;
        self.cut_packets += o.cut_packets;
        for e in &o.malformed_examples {
            if self.malformed_examples.len() < MAX_EXAMPLES {
                self.malformed_examples.push(e.clone());
            }
        }
    }
}

const MAX_EXAMPLES: usize = 10;

/// One epoch: a batch per shard and what else happened in it.
#[derive(Debug)]
pub(crate) struct Epoch {
    /// 0, 1, 2, ... in packet order.
    pub number: u64,
    /// Frame number of the first packet of the epoch (of the first packet
    /// after the previous epoch when the epoch has none).
    pub first_frame: u64,
    /// Frame number of the epoch's last packet (or the previous epoch's).
    pub last_frame: u64,
    /// Capture time of the epoch's first packet (the latest time seen
    /// before it when the epoch has none).
    pub first_ts: Timestamp,
    pub batches: Vec<Batch>,
    pub counters: Counters,
    /// Live capture gone quiet: close what has waited too long, as of this
    /// time (wall clock).
    pub expire: Option<Timestamp>,
    /// The latest capture time of all packets up to the epoch's end (the
    /// clock of tombstones, the same for every shard).
    pub clock: Timestamp,
    /// Where the batches go when the epoch is dropped.
    recycle: Option<Recycle>,
}

impl Drop for Epoch {
    fn drop(&mut self) {
        if let Some(tx) = self.recycle.take() {
            for mut b in self.batches.drain(..) {
                b.segs.clear();
                b.arena.clear();
                if tx.send(b).is_err() {
                    return;
                }
            }
        }
    }
}

/// Cuts packets into epochs.
#[derive(Debug)]
pub(crate) struct Dispatcher {
    shards: usize,
    cur: Epoch,
    bytes: usize,
    /// Timestamp of the first packet seen: the time reference.
    pub t0: Option<Timestamp>,
    /// Latest capture time seen.
    pub last_ts: Timestamp,
    /// Frame number of the last packet seen.
    pub last_frame: u64,
    examples: usize,
    /// Batches of dropped epochs, for reuse.
    spare: std::sync::mpsc::Receiver<Batch>,
    recycle: Recycle,
}

impl Dispatcher {
    pub fn new(shards: usize) -> Dispatcher {
        let shards = shards.max(1);
        let (recycle, spare) = std::sync::mpsc::channel();
        let mut d = Dispatcher {
            shards,
            cur: Epoch {
                number: 0,
                first_frame: 1,
                last_frame: 0,
                first_ts: Timestamp::default(),
                batches: Vec::new(),
                counters: Counters::default(),
                expire: None,
                clock: Timestamp::default(),
                recycle: None,
            },
            bytes: 0,
            t0: None,
            last_ts: Timestamp::default(),
            last_frame: 0,
            examples: 0,
            spare,
            recycle,
        };
        d.cur = d.empty(0, 1, 0);
        d
    }

    fn empty(&self, number: u64, first_frame: u64, last_frame: u64) -> Epoch {
        Epoch {
            number,
            first_frame,
            last_frame,
            first_ts: Timestamp::default(),
            batches: (0..self.shards)
                .map(|_| self.spare.try_recv().unwrap_or_default())
                .collect(),
            counters: Counters::default(),
            expire: None,
            clock: Timestamp::default(),
            recycle: Some(self.recycle.clone()),
        }
    }

    /// Packets in the current (unfinished) epoch.
    pub fn pending(&self) -> u64 {
        self.cur.counters.packets
    }

    /// Adds one packet, copying its TCP segment into the batch of its
    /// shard; returns the epoch it completed, if any.
    pub fn packet(&mut self, pkt: &Packet<'_>) -> Option<Epoch> {
        if let Some(seg) = self.count(pkt) {
            let shard = shard_of(seg.src, seg.dst, self.shards);
            if let Some(b) = self.cur.batches.get_mut(shard) {
                let start = b.arena.len();
                b.arena.extend_from_slice(seg.payload);
                b.segs.push(Seg {
                    frame: pkt.num,
                    ts: pkt.ts,
                    src: seg.src,
                    dst: seg.dst,
                    seq: seg.seq,
                    ack: seg.ack,
                    flags: seg.flags,
                    window: seg.window,
                    wire_len: seg.wire_len,
                    start,
                    len: seg.payload.len(),
                });
            }
        }
        self.full().then(|| self.take(None))
    }

    /// Counts one packet into the current epoch and decodes it: its TCP
    /// segment, if it is one, for the caller to handle (one shard on this
    /// thread: no copy). Check [`Dispatcher::full`] afterwards.
    pub fn count<'a>(&mut self, pkt: &Packet<'a>) -> Option<TcpSegment<'a>> {
        self.note(pkt);
        let c = &mut self.cur.counters;
        match layers::decode(pkt.link, pkt.data, pkt.orig_len) {
            Ok(Decoded::Tcp(seg)) => {
                c.tcp_segments += 1;
                self.bytes += seg.payload.len();
                Some(seg)
            }
            Ok(Decoded::NotTcp) => {
                c.non_tcp_packets += 1;
                None
            }
            Ok(Decoded::Fragment) => {
                c.ip_fragments += 1;
                None
            }
            Err(e) => {
                c.malformed_packets += 1;
                if self.examples < MAX_EXAMPLES {
                    self.examples += 1;
                    c.malformed_examples.push(format!("frame {}: {e}", pkt.num));
                }
                None
            }
        }
    }

    /// Counts one packet into the current epoch that
    /// [`Plain::ethernet`](layers::Plain::ethernet) found plain, without
    /// decoding it: what [`Dispatcher::count`] counts for it.
    pub fn count_plain(&mut self, pkt: &Packet<'_>, plain: &layers::Plain<'_>) {
        self.note(pkt);
        self.cur.counters.tcp_segments += 1;
        self.bytes += plain.payload_len();
    }

    /// What is counted of every packet.
    fn note(&mut self, pkt: &Packet<'_>) {
        let c = &mut self.cur.counters;
        if c.packets == 0 {
            self.cur.first_frame = pkt.num;
            self.cur.first_ts = pkt.ts;
        }
        c.packets += 1;
        self.cur.last_frame = pkt.num;
        self.last_frame = pkt.num;
        self.t0.get_or_insert(pkt.ts);
        self.last_ts = self.last_ts.max(pkt.ts);
        if (pkt.data.len() as u64) < u64::from(pkt.orig_len) {
            c.cut_packets += 1;
        }
    }

    /// The current epoch is complete (by packets or bytes).
    pub fn full(&self) -> bool {
        self.cur.counters.packets as usize >= EPOCH_PACKETS || self.bytes >= EPOCH_BYTES
    }

    /// The current epoch: its number, first packet, and whether it has one.
    pub fn current(&self) -> (u64, Timestamp, u64) {
        (self.cur.number, self.cur.first_ts, self.cur.first_frame)
    }

    /// Ends the current epoch now (end of input, or a quiet live capture:
    /// `expire`), even if it holds no packet.
    pub fn take(&mut self, expire: Option<Timestamp>) -> Epoch {
        let next = self.empty(self.cur.number + 1, self.last_frame + 1, self.last_frame);
        let mut e = std::mem::replace(&mut self.cur, next);
        if e.counters.packets == 0 {
            e.first_ts = self.last_ts;
        }
        e.expire = expire;
        e.clock = self.last_ts;
        self.bytes = 0;
        e
    }
}

/// The shard of a connection: the same for both directions.
///
/// Every packet of the capture is hashed by every worker (each reads the
/// whole file), so this is a few multiplications over the addresses and
/// ports, not a byte-wise hash of the socket addresses. The same in every
/// process, which keeps runs reproducible.
pub(crate) fn shard_of(a: SocketAddr, b: SocketAddr, shards: usize) -> usize {
    if shards <= 1 {
        return 0;
    }
    shard_of_keys(endpoint_key(&a), endpoint_key(&b), shards)
}

/// [`shard_of`] for two IPv4 endpoints (address, port), read from a
/// packet that was not decoded further.
pub(crate) fn shard_of_v4(a: (u32, u16), b: (u32, u16), shards: usize) -> usize {
    if shards <= 1 {
        return 0;
    }
    shard_of_keys(v4_key(a.0, a.1), v4_key(b.0, b.1), shards)
}

fn shard_of_keys(ka: u64, kb: u64, shards: usize) -> usize {
    let (lo, hi) = if ka <= kb { (ka, kb) } else { (kb, ka) };
    let h = (lo.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ hi).wrapping_mul(0xd6e8_feb8_6659_fd93);
    // The high half is the well mixed one: the shard is taken from it by
    // a multiply-shift, not from the low bits by a modulo.
    (((h >> 32) * shards as u64) >> 32) as usize
}

fn v4_key(ip: u32, port: u16) -> u64 {
    (u64::from(ip) << 16) | u64::from(port)
}

/// An endpoint as 64 bits: its address and port.
fn endpoint_key(a: &SocketAddr) -> u64 {
    match a {
        SocketAddr::V4(v) => v4_key(u32::from(*v.ip()), v.port()),
        SocketAddr::V6(v) => {
            let ip = u128::from(*v.ip());
            let folded = (ip as u64) ^ ((ip >> 64) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            folded.rotate_left(16) ^ u64::from(v.port())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_go_to_one_shard() {
        let a: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:4444".parse().unwrap();
        for n in 1..8 {
            assert_eq!(shard_of(a, b, n), shard_of(b, a, n));
            assert!(shard_of(a, b, n) < n);
        }
        // Connections spread over the shards.
        let mut seen = [false; 4];
        for port in 40000..40100 {
            let c: SocketAddr = format!("10.0.0.1:{port}").parse().unwrap();
            seen[shard_of(c, b, 4)] = true;
        }
        assert!(seen.iter().all(|s| *s));
        // IPv6 too.
        let a6: SocketAddr = "[fd00::1]:40000".parse().unwrap();
        let b6: SocketAddr = "[fd00::2]:4243".parse().unwrap();
        let mut seen = [false; 4];
        for n in 1..8 {
            assert_eq!(shard_of(a6, b6, n), shard_of(b6, a6, n));
            assert!(shard_of(a6, b6, n) < n);
        }
        for port in 40000..40100 {
            let c: SocketAddr = format!("[fd00::1]:{port}").parse().unwrap();
            seen[shard_of(c, b6, 4)] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn the_plain_path_finds_the_same_shard() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..10_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let (a, b) = (
                (seed as u32, (seed >> 32) as u16),
                ((seed >> 16) as u32, (seed >> 48) as u16),
            );
            let sa = SocketAddr::from((std::net::Ipv4Addr::from(a.0), a.1));
            let sb = SocketAddr::from((std::net::Ipv4Addr::from(b.0), b.1));
            for n in 1..5 {
                assert_eq!(shard_of_v4(a, b, n), shard_of(sa, sb, n));
                assert_eq!(shard_of_v4(b, a, n), shard_of(sa, sb, n));
            }
        }
    }

    #[test]
    fn two_shards_split_connections_whose_bytes_share_a_parity() {
        // A hash whose low bit were the parity of the bytes hashed would
        // put every connection below (even octets, even ports) on the same
        // one of two shards.
        let server: SocketAddr = "172.20.0.10:4444".parse().unwrap();
        let mut counts = [0usize; 2];
        for host in (2..=200u16).step_by(2) {
            for port in (40000..40020u16).step_by(2) {
                let c: SocketAddr = format!("10.0.{}.{host}:{port}", host % 8 * 2)
                    .parse()
                    .unwrap();
                counts[shard_of(c, server, 2)] += 1;
            }
        }
        let total = counts[0] + counts[1];
        assert!(
            counts.iter().all(|&c| c * 10 >= total * 4),
            "unbalanced: {counts:?}"
        );
    }
}
