//! The tombstones of closed connections (see the rules above), by address
//! pair and by the time each connection closed. They live for the
//! configured time to live (`tomb_ttl_us`) of capture time, so a long
//! capture holds a minute's worth of closed connections: an IPv4 pair
//! (nearly all of them) is kept as one 128-bit number rather than two
//! socket addresses, which halves what a tombstone costs.

use std::collections::BTreeSet;
use std::hash::Hash;
use std::net::SocketAddr;

use crate::capture::Timestamp;
use crate::FastMap;

/// Unordered address pair identifying a 4-tuple (the reassembler's key).
pub(super) type Key = (SocketAddr, SocketAddr);

/// Memory charged per remembered closed connection whose addresses are not
/// both IPv4: its map entry (two addresses as the key, the tombstone) with
/// the map's slack, and its place in the expiry queue (measured as the
/// growth of the resident set over a million: about 360 bytes). An IPv4
/// pair costs less: [`TOMB_COST_V4`].
pub const TOMB_COST: usize = 368;

/// Memory charged per tombstone of an IPv4 address pair: its map entry
/// (the pair packed in 16 bytes, the tombstone) with the map's slack, and
/// its place in the expiry queue (measured as the growth of the resident
/// set over a million: about 200 bytes).
pub const TOMB_COST_V4: usize = 208;

/// What remains of a connection closed by FIN, RST or the memory budget.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tomb {
    /// The client is the first address of the pair's key.
    pub client_first: bool,
    pub isn: [Option<u32>; 2],
    /// When the connection closed.
    pub closed: Timestamp,
}

/// The tombstones of one kind of key.
#[derive(Debug)]
struct Graves<K> {
    map: FastMap<K, Tomb>,
    /// Oldest first whatever the order of the capture.
    order: BTreeSet<(Timestamp, K)>,
}

impl<K> Default for Graves<K> {
    fn default() -> Self {
        Graves {
            map: FastMap::default(),
            order: BTreeSet::new(),
        }
    }
}

impl<K: Copy + Eq + Hash + Ord> Graves<K> {
    fn insert(&mut self, k: K, t: Tomb) {
        self.remove(k);
        self.order.insert((t.closed, k));
        self.map.insert(k, t);
    }

    fn remove(&mut self, k: K) {
        if let Some(t) = self.map.remove(&k) {
            self.order.remove(&(t.closed, k));
        }
    }

    fn sweep(&mut self, now: Timestamp, ttl_us: i64) {
        while let Some(&(t, k)) = self.order.first() {
            if now.micros_since(&t) <= ttl_us {
                break;
            }
            self.order.pop_first();
            self.map.remove(&k);
        }
    }
}

/// An address pair: packed when both are IPv4.
enum Packed {
    V4(u128),
    Other(Key),
}

fn pack(k: &Key) -> Packed {
    match k {
        (SocketAddr::V4(a), SocketAddr::V4(b)) => {
            let half = |s: &std::net::SocketAddrV4| {
                (u128::from(u32::from(*s.ip())) << 16) | u128::from(s.port())
            };
            Packed::V4((half(a) << 48) | half(b))
        }
        _ => Packed::Other(*k),
    }
}

/// Every tombstone of a reassembler.
#[derive(Debug, Default)]
pub(super) struct Tombs {
    v4: Graves<u128>,
    other: Graves<Key>,
}

impl Tombs {
    pub fn get(&self, k: &Key) -> Option<&Tomb> {
        match pack(k) {
            Packed::V4(p) => self.v4.map.get(&p),
            Packed::Other(k) => self.other.map.get(&k),
        }
    }

    /// Remembers the connection of `k` (replacing an older tombstone).
    pub fn insert(&mut self, k: &Key, t: Tomb) {
        match pack(k) {
            Packed::V4(p) => self.v4.insert(p, t),
            Packed::Other(k) => self.other.insert(k, t),
        }
    }

    pub fn remove(&mut self, k: &Key) {
        match pack(k) {
            Packed::V4(p) => self.v4.remove(p),
            Packed::Other(k) => self.other.remove(k),
        }
    }

    /// Forgets the tombstones older than `ttl_us` as of `now`.
    pub fn sweep(&mut self, now: Timestamp, ttl_us: i64) {
        self.v4.sweep(now, ttl_us);
        self.other.sweep(now, ttl_us);
    }

    /// The memory charged for them.
    pub fn memory(&self) -> usize {
        self.v4.map.len() * TOMB_COST_V4 + self.other.map.len() * TOMB_COST
    }

    /// Forgets every tombstone; returns how many there were.
    pub fn clear(&mut self) -> u64 {
        let n = self.v4.map.len() + self.other.map.len();
        *self = Tombs::default();
        n as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(a: &str, b: &str) -> Key {
        (a.parse().unwrap(), b.parse().unwrap())
    }

    fn tomb(us: i64) -> Tomb {
        Tomb {
            client_first: true,
            isn: [Some(1), None],
            closed: Timestamp::from_micros(us),
        }
    }

    /// Packing keeps every pair apart: addresses and ports in both
    /// places, and IPv6 pairs beside IPv4 ones.
    #[test]
    fn pairs_stay_apart_and_are_swept_oldest_first() {
        let keys = [
            k("10.0.0.1:1000", "10.0.0.2:4444"),
            k("10.0.0.1:1001", "10.0.0.2:4444"),
            k("10.0.0.2:1000", "10.0.0.1:4444"),
            k("10.0.0.1:4444", "10.0.0.2:1000"),
            k("255.255.255.255:65535", "255.255.255.255:65535"),
            k("0.0.0.0:0", "0.0.0.0:0"),
            k("[::1]:1000", "[::2]:4444"),
            k("[::ffff:10.0.0.1]:1000", "[::ffff:10.0.0.2]:4444"),
        ];
        let mut t = Tombs::default();
        for (i, key) in keys.iter().enumerate() {
            t.insert(key, tomb(i as i64));
        }
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(
                t.get(key).map(|x| x.closed),
                Some(Timestamp::from_micros(i as i64))
            );
        }
        assert_eq!(t.memory(), 6 * TOMB_COST_V4 + 2 * TOMB_COST);
        // Replacing keeps one; removing forgets it.
        t.insert(&keys[0], tomb(100));
        t.remove(&keys[1]);
        assert!(t.get(&keys[1]).is_none());
        assert_eq!(t.memory(), 5 * TOMB_COST_V4 + 2 * TOMB_COST);
        // As of 107 with a time to live of 100: those closed before 7 go.
        t.sweep(Timestamp::from_micros(106), 100);
        let left: Vec<usize> = (0..keys.len())
            .filter(|&i| t.get(&keys[i]).is_some())
            .collect();
        assert_eq!(left, vec![0, 6, 7]);
        t.clear();
        assert_eq!(t.memory(), 0);
    }
}
