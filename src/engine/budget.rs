//! The memory budget (`--memory-limit`), enforced the same way for every
//! number of shards.
//!
//! Every connection a shard holds is a *holder* with a charge: what its
//! reassembly buffers, detection prefix, driver buffers (incomplete
//! messages), pairing table, notes and fixed state cost. Part of it is
//! *sheddable*: buffers that can be given up (they become gaps or undecoded
//! ranges with a reason) and the pairing table. At the end of every epoch
//! each shard reports its total and two histograms (sheddable bytes by size
//! class, charge by last activity); the coordinator (the merger) adds them
//! up. Sums of per-connection values do not depend on how connections are
//! spread over shards, so neither does the decision it takes when the total
//! is over the limit:
//!
//! 1. shed every holder whose sheddable part is at least `shed_min`
//!    (largest first: the smallest size class that frees enough);
//! 2. if shedding cannot free enough, also close every connection whose
//!    last activity is older than `close_before` (oldest first);
//! 3. if even that is not enough, forget the closed connections remembered
//!    for their stray packets.
//!
//! A decision taken after epoch `e` is applied by every shard at the start
//! of epoch `e + LAG`, so shards need not wait for the merger; epochs are
//! cut from the packet sequence alone (see `dispatch`), so the point where
//! a decision applies is the same for every number of shards, and so is
//! the output.

use std::collections::BTreeMap;

/// Epochs between a decision and the epoch it applies to.
pub(crate) const LAG: u64 = 2;
/// Epochs per activity bucket of the idle histogram.
pub(crate) const BUCKET: u64 = 8;
/// Size classes (powers of two) of the sheddable histogram.
pub(crate) const CLASSES: usize = 48;

/// Size class of a byte count: its bit length.
pub(crate) fn class(bytes: u64) -> usize {
    ((u64::BITS - bytes.leading_zeros()) as usize).min(CLASSES - 1)
}

/// What one shard holds at the end of an epoch.
#[derive(Debug, Clone, Default)]
pub(crate) struct Report {
    /// Every holder's charge plus the remembered closed connections.
    pub total: u64,
    /// Sheddable bytes by size class of the holder's sheddable part.
    pub shed: Vec<u64>,
    /// Charge by bucket of last activity (epoch / [`BUCKET`]).
    pub idle: BTreeMap<u64, u64>,
    /// Memory of remembered closed connections.
    pub tombs: u64,
}

impl Report {
    pub fn new() -> Report {
        Report {
            shed: vec![0; CLASSES],
            ..Report::default()
        }
    }

    pub fn add(&mut self, other: &Report) {
        self.total += other.total;
        for (a, b) in self.shed.iter_mut().zip(&other.shed) {
            *a += b;
        }
        for (k, v) in &other.idle {
            *self.idle.entry(*k).or_default() += v;
        }
        self.tombs += other.tombs;
    }
}

/// What every shard does at the start of the epoch a decision applies to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Decision {
    /// Shed holders whose sheddable part is at least this many bytes.
    pub shed_min: Option<u64>,
    /// Close connections whose last activity bucket is below this.
    pub close_before: Option<u64>,
    /// Forget remembered closed connections.
    pub forget_closed: bool,
}

impl Decision {
    pub fn is_empty(&self) -> bool {
        *self == Decision::default()
    }
}

pub(crate) use crate::record::MemoryDrops as Dropped;

/// The coordinator: decides from the shards' summed reports.
#[derive(Debug)]
pub(crate) struct Coordinator {
    /// Charge at which cutting starts.
    trigger: u64,
    /// Charge cutting aims for (below the trigger, so that a cut lasts).
    target: u64,
    /// Highest total seen.
    pub peak: u64,
}

impl Coordinator {
    /// `limit`: the user's limit. A quarter of it (at most 128 MiB) is kept
    /// for what the budget does not track per connection (epochs in flight,
    /// statistics, the allocator's slack) and for the growth between a
    /// decision and the epoch it applies to (buffers grow by doubling, so
    /// many connections crossing a power of two at once can add more than
    /// an epoch's bytes).
    pub fn new(limit: u64) -> Coordinator {
        let reserve = (limit / 4).min(128 << 20);
        let trigger = limit.saturating_sub(reserve).max(1);
        Coordinator {
            trigger,
            target: trigger / 4 * 3,
            peak: 0,
        }
    }

    /// The decision after an epoch whose summed report is `r`.
    pub fn decide(&mut self, r: &Report) -> Decision {
        self.peak = self.peak.max(r.total);
        if r.total <= self.trigger {
            return Decision::default();
        }
        let mut excess = r.total - self.target;
        let mut d = Decision::default();
        // 1. Shed the largest sheddable holders first.
        let mut freed = 0u64;
        for c in (0..CLASSES).rev() {
            let Some(&bytes) = r.shed.get(c) else {
                continue;
            };
            if bytes == 0 {
                continue;
            }
            freed += bytes;
            d.shed_min = Some(if c == 0 { 0 } else { 1u64 << (c - 1) });
            if freed >= excess {
                return d;
            }
        }
        excess -= freed;
        // 2. Then close the least recently active connections (their later
        // packets are ignored: a tombstone remembers them).
        let mut closed = 0u64;
        for (&bucket, &bytes) in &r.idle {
            closed += bytes;
            d.close_before = Some(bucket + 1);
            if closed >= excess {
                return d;
            }
        }
        // 3. Last, forget the closed connections remembered for their
        // stray packets (a flood of short connections).
        if r.tombs > 0 {
            d.forget_closed = true;
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_bit_lengths() {
        assert_eq!(class(0), 0);
        assert_eq!(class(1), 1);
        assert_eq!(class(1023), 10);
        assert_eq!(class(1024), 11);
        assert_eq!(class(u64::MAX), CLASSES - 1);
    }

    #[test]
    fn under_the_trigger_nothing_is_cut() {
        let mut c = Coordinator::new(1000);
        let mut r = Report::new();
        r.total = 700;
        assert!(c.decide(&r).is_empty());
    }

    #[test]
    fn largest_sheddable_holders_go_first_then_the_oldest() {
        let mut c = Coordinator::new(1 << 20);
        let mut r = Report::new();
        // Over the trigger (3/4 of the limit) by less than 600 kB.
        r.total = 1_100_000;
        r.shed[class(600_000)] = 600_000;
        r.shed[class(5_000)] = 50_000;
        // Shedding the 600 kB holders frees enough.
        let d = c.decide(&r);
        assert_eq!(d.shed_min, Some(1 << (class(600_000) - 1)));
        assert_eq!(d.close_before, None);
        // Too little to shed: everything is shed, then the oldest close.
        let mut r = Report::new();
        r.total = 4 << 20;
        r.shed[class(5_000)] = 5_000;
        r.idle.insert(3, 1 << 20);
        r.idle.insert(7, 3 << 20);
        r.idle.insert(9, 1 << 20);
        let d = c.decide(&r);
        assert!(d.shed_min.is_some());
        assert_eq!(d.close_before, Some(8));
    }
}
