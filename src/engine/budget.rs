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
//!
//! Far below the trigger the coordinator also *promises* that the next
//! few decisions (at most [`PROMISE`]) will be empty, and keeps the
//! promise: a shard that knows of one starts those epochs without waiting
//! for the merger. The promise is taken from the summed reports alone, so
//! it too is the same for every number of shards. (With only `LAG` to run
//! ahead, each shard of `stats -j 2` waited about a tenth of the time:
//! one shard's share of an epoch is uneven, and the merger takes its
//! turns on the same cores.)

use std::collections::BTreeMap;

/// Epochs between a decision and the epoch it applies to.
pub(crate) const LAG: u64 = 2;
/// Epochs after a decision whose decisions may be promised empty; a
/// shard runs at most `LAG + PROMISE` epochs ahead of the merger.
pub(crate) const PROMISE: u64 = 4;
/// Items of an epoch (summed over the shards) above which nothing is
/// promised. The items of the epochs a shard is ahead wait in memory
/// that the budget does not track, and tiny messages decode to items many
/// times their size: with a slow reader of `export`, running ahead added
/// 170 MB to `benches/bigmix` case d (one session of 47,000 messages per
/// epoch). The 1 GiB mix has some 430 items per epoch.
pub(crate) const PROMISE_ITEMS: u64 = 4096;
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

/// What the coordinator says after an epoch: its decision (`None`: no
/// cut), and that the decisions after every epoch before `quiet_until`
/// are empty (a promise; it only grows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub decision: Option<Decision>,
    pub quiet_until: u64,
}

/// A shard's knowledge of the verdicts, which reach it in epoch order:
/// what applies at the start of each epoch, when it is known yet.
#[derive(Debug, Default)]
pub(crate) struct Verdicts {
    /// Verdicts received: those of epochs `0..next`.
    next: u64,
    /// The latest promise.
    quiet_until: u64,
    /// Decisions received and not yet applied, by the epoch they apply to.
    cuts: BTreeMap<u64, Decision>,
}

impl Verdicts {
    /// The verdict on the next epoch.
    pub fn push(&mut self, v: Verdict) {
        if let Some(d) = v.decision {
            self.cuts.insert(self.next + LAG, d);
        }
        self.next += 1;
        self.quiet_until = self.quiet_until.max(v.quiet_until);
    }

    /// What applies at the start of epoch `n` (`Some(None)`: no cut), or
    /// `None` while that is not known: the verdict on epoch `n - LAG` has
    /// not arrived and no promise covers it.
    pub fn at(&mut self, n: u64) -> Option<Option<Decision>> {
        let Some(after) = n.checked_sub(LAG) else {
            return Some(None);
        };
        if after < self.next {
            Some(self.cuts.remove(&n))
        } else if after < self.quiet_until {
            Some(None)
        } else {
            None
        }
    }
}

/// The coordinator: decides from the shards' summed reports.
#[derive(Debug)]
pub(crate) struct Coordinator {
    /// Charge at which cutting starts.
    trigger: u64,
    /// Charge cutting aims for (below the trigger, so that a cut lasts).
    target: u64,
    /// Highest total seen.
    pub peak: u64,
    /// Epochs decided on so far.
    epochs: u64,
    /// The promise given: no cut after any epoch before this one.
    quiet_until: u64,
    /// The previous epoch's total, and the largest rise from one epoch's
    /// total to the next seen so far.
    last_total: u64,
    rise: u64,
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
            epochs: 0,
            quiet_until: 0,
            last_total: 0,
            rise: 0,
        }
    }

    /// The verdict after the next epoch, whose summed report is `r` and
    /// which gave `items` items: a cut when the total is over the trigger
    /// (unless a promise covers the epoch), and when it is not, a promise
    /// of empty decisions for as many epochs as the total could not reach
    /// the trigger in if it rose every epoch by twice its largest rise so
    /// far (by a sixteenth of the trigger at least), up to [`PROMISE`];
    /// none after an epoch of more than [`PROMISE_ITEMS`] items.
    pub fn decide(&mut self, r: &Report, items: u64) -> Verdict {
        let number = self.epochs;
        self.epochs += 1;
        self.peak = self.peak.max(r.total);
        self.rise = self.rise.max(r.total.saturating_sub(self.last_total));
        self.last_total = r.total;
        let d = if number < self.quiet_until {
            Decision::default()
        } else {
            self.cut(r)
        };
        if d.is_empty() {
            let step = (self.trigger / 16).max(self.rise.saturating_mul(2)).max(1);
            let room = (self.trigger.saturating_sub(r.total) / step).min(PROMISE);
            let k = if items > PROMISE_ITEMS { 0 } else { room };
            self.quiet_until = self.quiet_until.max(number + 1 + k);
        }
        Verdict {
            decision: (!d.is_empty()).then_some(d),
            quiet_until: self.quiet_until,
        }
    }

    /// The decision on a summed report `r`.
    fn cut(&self, r: &Report) -> Decision {
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
        assert_eq!(c.decide(&r, 0).decision, None);
    }

    fn report(total: u64) -> Report {
        let mut r = Report::new();
        r.total = total;
        r.idle.insert(0, total);
        r
    }

    #[test]
    fn far_below_the_trigger_quiet_epochs_are_promised_and_kept() {
        // Trigger 768 KiB; a sixteenth of it is 48 KiB.
        let mut c = Coordinator::new(1 << 20);
        // Epoch 0: 10 kB, a rise of 10 kB: a step of 48 KiB, and room for
        // 15 of them: the most, PROMISE epochs after this one.
        let v = c.decide(&report(10_000), 0);
        assert_eq!(v.decision, None);
        assert_eq!(v.quiet_until, 1 + PROMISE);
        // Epoch 1: a rise of 400 kB: steps of 800 kB, none left: no new
        // promise, and the old one stands.
        let v = c.decide(&report(410_000), 0);
        assert_eq!(v.quiet_until, 1 + PROMISE);
        // Epochs 2 to PROMISE: over the trigger, but promised: no cut.
        for _ in 2..=PROMISE {
            let v = c.decide(&report(900_000), 0);
            assert_eq!(v.decision, None);
        }
        // The first epoch past the promise is cut, and nothing is promised.
        let v = c.decide(&report(900_000), 0);
        assert!(v.decision.is_some());
        assert_eq!(v.quiet_until, 1 + PROMISE);
        assert_eq!(c.peak, 900_000);
    }

    #[test]
    fn near_the_trigger_nothing_is_promised() {
        let mut c = Coordinator::new(1 << 20);
        // Under the trigger by less than twice the rise: no cut, and no
        // promise past this epoch.
        let v = c.decide(&report(700_000), 0);
        assert_eq!(v.decision, None);
        assert_eq!(v.quiet_until, 1);
        let v = c.decide(&report(0), 0);
        assert_eq!(v.quiet_until, 2);
    }

    #[test]
    fn nothing_is_promised_after_an_epoch_of_many_items() {
        let mut c = Coordinator::new(1 << 30);
        let v = c.decide(&report(10_000), PROMISE_ITEMS + 1);
        assert_eq!(v.quiet_until, 1);
        // Few items again: the promise comes back.
        let v = c.decide(&report(10_000), PROMISE_ITEMS);
        assert_eq!(v.quiet_until, 2 + PROMISE);
    }

    #[test]
    fn a_shard_knows_a_decision_from_its_verdict_or_a_promise() {
        let cut = Decision {
            forget_closed: true,
            ..Decision::default()
        };
        let mut k = Verdicts::default();
        // The first LAG epochs never wait.
        for n in 0..LAG {
            assert_eq!(k.at(n), Some(None));
        }
        // Epoch LAG needs the verdict on epoch 0.
        assert_eq!(k.at(LAG), None);
        k.push(Verdict {
            decision: Some(cut),
            quiet_until: 0,
        });
        assert_eq!(k.at(LAG), Some(Some(cut)));
        // Taken once.
        assert_eq!(k.at(LAG), Some(None));
        assert_eq!(k.at(LAG + 1), None);
        // A promise covers epochs 1 to 3 before their verdicts arrive.
        k.push(Verdict {
            decision: None,
            quiet_until: 4,
        });
        assert_eq!(k.at(LAG + 2), Some(None));
        assert_eq!(k.at(LAG + 3), Some(None));
        assert_eq!(k.at(LAG + 4), None);
        // A later verdict with a smaller promise does not take it back.
        k.push(Verdict::default());
        assert_eq!(k.at(LAG + 3), Some(None));
    }

    #[test]
    fn largest_sheddable_holders_go_first_then_the_oldest() {
        let c = Coordinator::new(1 << 20);
        let mut r = Report::new();
        // Over the trigger (3/4 of the limit) by less than 600 kB.
        r.total = 1_100_000;
        r.shed[class(600_000)] = 600_000;
        r.shed[class(5_000)] = 50_000;
        // Shedding the 600 kB holders frees enough.
        let d = c.cut(&r);
        assert_eq!(d.shed_min, Some(1 << (class(600_000) - 1)));
        assert_eq!(d.close_before, None);
        // Too little to shed: everything is shed, then the oldest close.
        let mut r = Report::new();
        r.total = 4 << 20;
        r.shed[class(5_000)] = 5_000;
        r.idle.insert(3, 1 << 20);
        r.idle.insert(7, 3 << 20);
        r.idle.insert(9, 1 << 20);
        let d = c.cut(&r);
        assert!(d.shed_min.is_some());
        assert_eq!(d.close_before, Some(8));
    }
}
