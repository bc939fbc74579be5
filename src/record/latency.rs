//! A bounded latency distribution: exact up to [`EXACT_SAMPLES`] samples,
//! then a log-linear histogram with a stated relative error.
//!
//! Why our own type rather than the `hdrhistogram` crate: we need the exact
//! nearest-rank percentiles of small samples (every bundled capture has
//! only a few hundred replies, and their output must not change), signed
//! values (a capture whose timestamps go backwards gives negative
//! latencies), exact min and max, and a histogram whose storage only spans
//! the buckets actually used (a few kB for latencies from 100 µs to 10 s).
//! hdrhistogram covers a fixed, configured range, has no exact mode, and
//! only takes unsigned values; what we need is about 150 lines.
//!
//! The histogram: values below [`SUB_BUCKETS`] (64) have a bucket each;
//! above, each power of two `[2^e, 2^(e+1))` is split into 64 buckets of
//! width `2^(e-6)`. A percentile is the midpoint of its bucket (clipped to
//! the exact min and max), so it is off by at most half a bucket width:
//! at most `2^(e-7)` for a value of at least `2^e`, i.e. a relative error
//! of at most 1/128 (0.79 %), see [`MAX_RELATIVE_ERROR`]. 7,425 buckets
//! cover every `i64`; storage is one `u64` count per bucket between the
//! lowest and the highest bucket used (at most 58 kB, in practice 1-10 kB).

/// Up to this many samples, percentiles are exact (nearest rank over the
/// kept samples); beyond, they come from the histogram.
pub const EXACT_SAMPLES: usize = 2048;

/// log2 of the number of buckets per power of two.
const PRECISION_BITS: u32 = 6;

/// Buckets per power of two (and values below this are exact).
pub const SUB_BUCKETS: u64 = 1 << PRECISION_BITS;

/// The largest relative error of a histogram percentile (p50, p95, p99):
/// `|reported - exact| <= MAX_RELATIVE_ERROR * |exact|`.
pub const MAX_RELATIVE_ERROR: f64 = 1.0 / 128.0;

/// A latency distribution in microseconds with exact `count`, `min` and
/// `max`, exact nearest-rank percentiles up to [`EXACT_SAMPLES`] samples,
/// and percentiles within [`MAX_RELATIVE_ERROR`] beyond; bounded memory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Latency {
    count: u64,
    min: i64,
    max: i64,
    repr: Repr,
}

#[derive(Debug, Clone, PartialEq)]
enum Repr {
    /// Every sample, unsorted (at most [`EXACT_SAMPLES`]).
    Exact(Vec<i64>),
    /// Counts of the buckets `lo, lo + 1, ...` (see [`key`]).
    Hist { lo: i32, counts: Vec<u64> },
}

impl Default for Repr {
    fn default() -> Repr {
        Repr::Exact(Vec::new())
    }
}

/// Bucket index of a magnitude: itself below [`SUB_BUCKETS`], else 64
/// buckets per power of two.
fn index(m: u64) -> u32 {
    if m < SUB_BUCKETS {
        return m as u32;
    }
    let e = 63 - m.leading_zeros();
    let shift = e - PRECISION_BITS;
    let mantissa = (m >> shift) as u32 - SUB_BUCKETS as u32;
    SUB_BUCKETS as u32 * (shift + 1) + mantissa
}

/// The magnitudes of bucket `i`: `[lo, hi]`.
fn bounds(i: u32) -> (u64, u64) {
    let sub = SUB_BUCKETS as u32;
    if i < sub {
        return (u64::from(i), u64::from(i));
    }
    let shift = i / sub - 1;
    let lo = (SUB_BUCKETS + u64::from(i % sub)) << shift;
    (lo, lo + ((1u64 << shift) - 1))
}

/// Bucket key of a value, monotonic: negative values mirror positive ones.
fn key(v: i64) -> i32 {
    let i = index(v.unsigned_abs()) as i32;
    if v < 0 {
        -i - 1
    } else {
        i
    }
}

/// The values of the bucket with key `k`: `[lo, hi]`.
fn range(k: i32) -> (i128, i128) {
    if k >= 0 {
        let (lo, hi) = bounds(k as u32);
        (i128::from(lo), i128::from(hi))
    } else {
        let (lo, hi) = bounds((-(k + 1)) as u32);
        (-i128::from(hi), -i128::from(lo))
    }
}

/// Nearest rank of percentile `p` among `n` values (1-based), as
/// [`Percentiles::of`] computes it.
fn rank(p: f64, n: u64) -> u64 {
    ((p / 100.0 * n as f64).ceil() as u64).clamp(1, n)
}

impl Latency {
    /// Adds one sample.
    pub fn add(&mut self, v: i64) {
        if self.count == 0 {
            (self.min, self.max) = (v, v);
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.count += 1;
        if let Repr::Exact(s) = &mut self.repr {
            if s.len() < EXACT_SAMPLES {
                s.push(v);
                return;
            }
            self.make_hist();
        }
        self.bump(key(v), 1);
    }

    /// Adds every sample of `other` (the result is the same as adding them
    /// one by one).
    pub fn merge(&mut self, other: &Latency) {
        if other.count == 0 {
            return;
        }
        if let (Repr::Exact(a), Repr::Exact(b)) = (&mut self.repr, &other.repr) {
            if a.len() + b.len() <= EXACT_SAMPLES {
                a.extend_from_slice(b);
                if self.count == 0 {
                    (self.min, self.max) = (other.min, other.max);
                } else {
                    self.min = self.min.min(other.min);
                    self.max = self.max.max(other.max);
                }
                self.count += other.count;
                return;
            }
        }
        if self.count == 0 {
            (self.min, self.max) = (other.min, other.max);
        } else {
            self.min = self.min.min(other.min);
            self.max = self.max.max(other.max);
        }
        self.count += other.count;
        self.make_hist();
        match &other.repr {
            Repr::Exact(s) => {
                for &v in s {
                    self.bump(key(v), 1);
                }
            }
            Repr::Hist { lo, counts } => {
                for (i, &c) in counts.iter().enumerate() {
                    if c > 0 {
                        self.bump(lo + i as i32, c);
                    }
                }
            }
        }
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// True while percentiles are exact (at most [`EXACT_SAMPLES`] samples).
    pub fn is_exact(&self) -> bool {
        matches!(self.repr, Repr::Exact(_))
    }

    /// Nearest-rank percentiles: exact up to [`EXACT_SAMPLES`] samples,
    /// beyond within [`MAX_RELATIVE_ERROR`]; `count`, `min` and `max`
    /// always exact. `None` without samples.
    pub fn percentiles(&self) -> Option<Percentiles> {
        if self.count == 0 {
            return None;
        }
        let (lo, counts) = match &self.repr {
            Repr::Exact(s) => return Percentiles::of(&mut s.clone()),
            Repr::Hist { lo, counts } => (*lo, counts),
        };
        let at = |p: f64| -> i64 {
            let r = rank(p, self.count);
            let mut seen = 0u64;
            for (i, &c) in counts.iter().enumerate() {
                seen += c;
                if seen >= r {
                    // The midpoint of the bucket's values that can occur.
                    let (a, b) = range(lo + i as i32);
                    let a = a.max(i128::from(self.min));
                    let b = b.min(i128::from(self.max));
                    return ((a + b).div_euclid(2)) as i64;
                }
            }
            self.max
        };
        Some(Percentiles {
            count: self.count,
            min: self.min,
            p50: at(50.0),
            p95: at(95.0),
            p99: at(99.0),
            max: self.max,
        })
    }

    /// Bytes of heap this distribution holds.
    pub fn heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::Exact(s) => s.capacity() * 8,
            Repr::Hist { counts, .. } => counts.capacity() * 8,
        }
    }

    /// Switches to the histogram (no-op when already there).
    fn make_hist(&mut self) {
        let Repr::Exact(s) = &mut self.repr else {
            return;
        };
        let samples = std::mem::take(s);
        self.repr = Repr::Hist {
            lo: 0,
            counts: Vec::new(),
        };
        for v in samples {
            self.bump(key(v), 1);
        }
    }

    fn bump(&mut self, k: i32, n: u64) {
        let Repr::Hist { lo, counts } = &mut self.repr else {
            return;
        };
        if counts.is_empty() {
            *lo = k;
            counts.push(n);
            return;
        }
        if k < *lo {
            let grow = (*lo - k) as usize;
            counts.splice(0..0, std::iter::repeat_n(0, grow));
            *lo = k;
        }
        let i = (k - *lo) as usize;
        if i >= counts.len() {
            counts.resize(i + 1, 0);
        }
        counts[i] += n;
    }
}

/// Latency percentiles in microseconds (of a [`Latency`], or exact of a
/// slice with [`Percentiles::of`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub min: i64,
    pub p50: i64,
    pub p95: i64,
    pub p99: i64,
    pub max: i64,
}

impl Percentiles {
    /// Nearest-rank percentiles of `v` (sorted in place).
    pub fn of(v: &mut [i64]) -> Option<Percentiles> {
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        let rank = |p: f64| {
            let r = (p / 100.0 * v.len() as f64).ceil() as usize;
            v[r.clamp(1, v.len()) - 1]
        };
        Some(Percentiles {
            count: v.len() as u64,
            min: v[0],
            p50: rank(50.0),
            p95: rank(95.0),
            p99: rank(99.0),
            max: v[v.len() - 1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift64*).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    fn exact(v: &[i64]) -> Percentiles {
        Percentiles::of(&mut v.to_vec()).unwrap()
    }

    #[test]
    fn buckets_tile_every_value_in_order() {
        let mut prev = None;
        for i in 0..=index(1 << 63) {
            let (lo, hi) = bounds(i);
            assert!(lo <= hi);
            assert_eq!((index(lo), index(hi)), (i, i), "bucket {i}");
            if let Some(p) = prev {
                assert_eq!(lo, p + 1, "bucket {i} follows the previous one");
            }
            prev = Some(hi);
            // Half a bucket is within the stated relative error.
            let half = (hi - lo).div_ceil(2);
            assert!(half as f64 <= MAX_RELATIVE_ERROR * lo as f64, "bucket {i}");
        }
        // The last bucket holds |i64::MIN|.
        assert_eq!(bounds(index(1 << 63)).0, 1 << 63);
        assert_eq!(key(i64::MIN), -(index(1 << 63) as i32) - 1);
        assert_eq!(key(i64::MAX) - key(i64::MIN) + 1, 7425, "keys of every i64");
        assert_eq!(index(u64::MAX >> 1), index((1 << 63) - 1));
        for v in [
            i64::MIN,
            -1_000_000,
            -65,
            -64,
            -1,
            0,
            1,
            63,
            64,
            1_000_000,
            i64::MAX,
        ] {
            let (a, b) = range(key(v));
            assert!(a <= i128::from(v) && i128::from(v) <= b, "{v}");
        }
        assert!(key(-1) < key(0) && key(-2) < key(-1) && key(i64::MIN) < key(-1 << 40));
    }

    #[test]
    fn exact_up_to_the_threshold() {
        let mut rng = Rng(7);
        for n in [1, 2, 3, 10, 99, 100, 1000, EXACT_SAMPLES] {
            let v: Vec<i64> = (0..n)
                .map(|_| (rng.next() % 10_000_000) as i64 - 1000)
                .collect();
            let mut l = Latency::default();
            for &x in &v {
                l.add(x);
            }
            assert!(l.is_exact(), "{n}");
            assert_eq!(l.percentiles(), Some(exact(&v)), "{n} samples");
        }
        assert_eq!(Latency::default().percentiles(), None);
    }

    #[test]
    fn histogram_within_the_error_bound_on_random_data() {
        let mut rng = Rng(42);
        for (case, n) in [
            (0, EXACT_SAMPLES + 1),
            (1, 10_000),
            (2, 100_000),
            (3, 50_000),
        ] {
            let v: Vec<i64> = (0..n)
                .map(|_| {
                    let r = rng.next();
                    match case {
                        // Uniform over a wide range.
                        0 | 1 => (r % 30_000_000) as i64,
                        // Log-uniform from 1 us to about 10^12 us.
                        2 => (10f64.powf((r % 1_000_000) as f64 / 1e6 * 12.0)) as i64,
                        // Signed, heavy-tailed.
                        _ => {
                            let m = (r >> 20) % (1 << ((r % 40) + 1));
                            if r & 1 == 0 {
                                m as i64
                            } else {
                                -(m as i64)
                            }
                        }
                    }
                })
                .collect();
            let mut l = Latency::default();
            for &x in &v {
                l.add(x);
            }
            assert!(!l.is_exact());
            let got = l.percentiles().unwrap();
            let want = exact(&v);
            assert_eq!(
                (got.count, got.min, got.max),
                (want.count, want.min, want.max),
                "case {case}: count, min and max exact"
            );
            for (g, w) in [
                (got.p50, want.p50),
                (got.p95, want.p95),
                (got.p99, want.p99),
            ] {
                let err = (g - w).unsigned_abs() as f64;
                assert!(
                    err <= MAX_RELATIVE_ERROR * w.unsigned_abs() as f64,
                    "case {case}: {g} vs exact {w}"
                );
            }
            assert!(l.heap_bytes() <= 7425 * 8 * 2, "case {case}: bounded");
        }
    }

    #[test]
    fn merging_is_adding_one_by_one() {
        let mut rng = Rng(3);
        for (a, b) in [
            (10, 20),
            (1000, 1048),
            (1000, 1049),
            (3000, 5),
            (5, 3000),
            (5000, 7000),
        ] {
            let va: Vec<i64> = (0..a).map(|_| (rng.next() % 1_000_000) as i64).collect();
            let vb: Vec<i64> = (0..b).map(|_| (rng.next() % 5_000) as i64 - 100).collect();
            let (mut la, mut lb, mut all) =
                (Latency::default(), Latency::default(), Latency::default());
            va.iter().for_each(|&x| la.add(x));
            vb.iter().for_each(|&x| lb.add(x));
            va.iter().chain(&vb).for_each(|&x| all.add(x));
            la.merge(&lb);
            assert_eq!(la.percentiles(), all.percentiles(), "{a} + {b}");
            assert_eq!(la.is_exact(), all.is_exact(), "{a} + {b}");
            let mut empty = Latency::default();
            empty.merge(&lb);
            assert_eq!(empty.percentiles(), lb.percentiles());
        }
    }

    #[test]
    fn one_repeated_value_is_exact_in_the_histogram() {
        let mut l = Latency::default();
        for _ in 0..5000 {
            l.add(123_456);
        }
        let p = l.percentiles().unwrap();
        assert_eq!(
            (p.min, p.p50, p.p95, p.p99, p.max),
            (123_456, 123_456, 123_456, 123_456, 123_456)
        );
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<i64> = (1..=100).rev().collect();
        let p = Percentiles::of(&mut v).unwrap();
        assert_eq!((p.min, p.p50, p.p95, p.p99, p.max), (1, 50, 95, 99, 100));
        assert_eq!(Percentiles::of(&mut []), None);
        let p = Percentiles::of(&mut [7]).unwrap();
        assert_eq!((p.p50, p.p99), (7, 7));
    }
}
