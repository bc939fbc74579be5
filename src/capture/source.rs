//! What every capture source hands out: [`Packet`]s with their [`Timestamp`]
//! and [`LinkType`], through the [`Source`] trait, or a [`CaptureError`].
//! The sources themselves are the sibling modules; they import from here,
//! never from their parent.

use std::fmt;

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Capture timestamp: seconds since the Unix epoch (UTC) plus nanoseconds.
///
/// `nanos` is always `< 1_000_000_000`. `nano` records whether the capture
/// itself has nanosecond precision (otherwise it has microsecond precision,
/// and `nanos` is a multiple of 1000); it only affects formatting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
    pub nano: bool,
}

impl Timestamp {
    /// RFC 3339 in UTC with the capture's precision:
    /// `2026-11-22T02:26:09.123456Z` (6 fraction digits), or 9 digits when
    /// [`Timestamp::nano`] is set.
    ///
    /// Never panics: years outside 0000..=9999 (absurd or negative seconds)
    /// are written with an explicit sign, e.g. `-0001-12-31T23:59:59.000000Z`.
    ///
    /// The `Display` form is the same text, written without allocating.
    pub fn rfc3339(&self) -> String {
        self.to_string()
    }

    /// Microseconds from `earlier` to `self`: negative when `self` is
    /// earlier, saturating at the `i64` bounds. Sub-microsecond parts are
    /// truncated toward zero.
    pub fn micros_since(&self, earlier: &Timestamp) -> i64 {
        let a = i128::from(self.secs) * i128::from(NANOS_PER_SEC) + i128::from(self.nanos);
        let b = i128::from(earlier.secs) * i128::from(NANOS_PER_SEC) + i128::from(earlier.nanos);
        let us = (a - b) / 1000;
        i64::try_from(us).unwrap_or(if us < 0 { i64::MIN } else { i64::MAX })
    }

    /// Timestamp of a pcap record; `frac` is µs, or ns for nanosecond files.
    /// Out-of-range fractions (hostile files) carry into the seconds.
    pub fn legacy(secs: u32, frac: u32, nano: bool) -> Timestamp {
        let per_sec: u32 = if nano { 1_000_000_000 } else { 1_000_000 };
        // Dividing only when needed: this runs for every packet.
        let (secs, frac) = if frac < per_sec {
            (i64::from(secs), frac)
        } else {
            (i64::from(secs) + i64::from(frac / per_sec), frac % per_sec)
        };
        Timestamp {
            secs,
            nanos: if nano { frac } else { frac * 1000 },
            nano,
        }
    }

    /// A microsecond-precision timestamp `us` microseconds after the epoch
    /// (negative values are before it). Mostly handy in tests.
    pub fn from_micros(us: i64) -> Timestamp {
        Timestamp {
            secs: us.div_euclid(1_000_000),
            // rem_euclid is in 0..1_000_000, so the product fits in u32.
            nanos: (us.rem_euclid(1_000_000) * 1000) as u32,
            nano: false,
        }
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339, as [`Timestamp::rfc3339`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.secs.div_euclid(86_400);
        let sod = self.secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let (h, m, s) = (sod / 3600, (sod / 60) % 60, sod % 60);
        if (0..=9999).contains(&year) {
            write!(f, "{year:04}")?;
        } else {
            write!(f, "{year:+05}")?;
        }
        write!(f, "-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.")?;
        // Clamp defensively: a hand-built Timestamp may break the invariant.
        let nanos = self.nanos.min(999_999_999);
        if self.nano {
            write!(f, "{nanos:09}Z")
        } else {
            write!(f, "{:06}Z", nanos / 1000)
        }
    }
}

/// Converts days since 1970-01-01 to a (year, month, day) civil date in the
/// proleptic Gregorian calendar (Howard Hinnant's `civil_from_days`).
/// Valid for every `i64` input that `secs.div_euclid(86400)` can produce.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based month
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Link-layer type of a packet, as the pcap `LINKTYPE_` number.
///
/// Common values: 1 = Ethernet, 113 = Linux cooked (SLL), 276 = SLL2,
/// 101 = raw IP, 228/229 = raw IPv4/IPv6, 0 = BSD loopback (NULL),
/// 108 = OpenBSD loopback (LOOP).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const RAW: LinkType = LinkType(101);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            0 => "NULL",
            1 => "ETHERNET",
            12 | 14 | 101 => "RAW",
            108 => "LOOP",
            113 => "LINUX_SLL",
            228 => "IPV4",
            229 => "IPV6",
            276 => "LINUX_SLL2",
            n => return write!(f, "linktype {n}"),
        };
        write!(f, "{name} ({})", self.0)
    }
}

/// One captured packet, as read from a [`Source`].
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// 1-based frame number in the source (the number Wireshark shows).
    pub num: u64,
    /// When the packet was captured.
    pub ts: Timestamp,
    /// How to interpret `data`.
    pub link: LinkType,
    /// The captured bytes, starting with the link-layer header.
    pub data: &'a [u8],
    /// Length of the packet on the wire; larger than `data.len()` when the
    /// capture's snap length cut the packet. Never smaller than `data.len()`.
    pub orig_len: u32,
}

/// What [`Source::next_or_idle`] found.
#[derive(Debug)]
pub enum Next<'a> {
    Packet(Packet<'a>),
    /// No packet within the wait (live sources only).
    Idle,
    /// The normal end.
    End,
}

/// A source of packets.
///
/// Lending: the returned packet borrows the source until the next call.
/// `Ok(None)` is the normal end. After an `Err`, later calls return
/// `Ok(None)`; packets before the fault were returned by earlier calls.
pub trait Source {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError>;

    /// Packets the source lost before qscope could read them (libpcap's
    /// kernel and interface drop counters for live capture); `None` when
    /// the source cannot lose packets (files).
    fn dropped(&mut self) -> Option<u64> {
        None
    }

    /// True for sources whose packets arrive over time (live capture, the
    /// relay): the engine then hands work on promptly instead of waiting
    /// for full batches.
    fn live(&self) -> bool {
        false
    }

    /// Like [`Source::next_packet`], but a live source returns
    /// [`Next::Idle`] when no packet came within about `wait`. Files never
    /// idle.
    fn next_or_idle(&mut self, wait: std::time::Duration) -> Result<Next<'_>, CaptureError> {
        let _ = wait;
        Ok(match self.next_packet()? {
            Some(p) => Next::Packet(p),
            None => Next::End,
        })
    }

    /// How far reading has got: bytes consumed, and the input's size when
    /// known (a regular file). For progress bars.
    fn progress(&self) -> Option<(u64, Option<u64>)> {
        None
    }

    /// Another source that will give exactly the same packets from the
    /// start (a regular file opened again), so that several threads can
    /// each read the input themselves; `None` when the input cannot be
    /// read twice (standard input, live capture).
    fn reopen(&self) -> Option<Box<dyn Source + Send>> {
        None
    }
}

impl<S: Source + ?Sized> Source for Box<S> {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        (**self).next_packet()
    }
    fn dropped(&mut self) -> Option<u64> {
        (**self).dropped()
    }
    fn live(&self) -> bool {
        (**self).live()
    }
    fn next_or_idle(&mut self, wait: std::time::Duration) -> Result<Next<'_>, CaptureError> {
        (**self).next_or_idle(wait)
    }
    fn progress(&self) -> Option<(u64, Option<u64>)> {
        (**self).progress()
    }
    fn reopen(&self) -> Option<Box<dyn Source + Send>> {
        (**self).reopen()
    }
}

/// What kind of fault a [`CaptureError`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureErrorKind {
    /// The file could not be opened or read.
    Io,
    /// The input is empty or not a pcap/pcapng file at all.
    NotCapture,
    /// The input ends in the middle of a header or record.
    Truncated,
    /// A header or record is inconsistent.
    Malformed,
    /// A record claims a size beyond the reader's memory limit.
    TooLarge,
}

/// A capture input fault. `Display` is one line: the input's name, what went
/// wrong and where (byte offset and frame number when known).
#[derive(Debug, Clone)]
pub struct CaptureError {
    kind: CaptureErrorKind,
    msg: String,
}

impl CaptureError {
    /// Builds an error for input `name`; `detail` says what and where.
    /// Line breaks are flattened so the message stays on one line.
    pub fn new(kind: CaptureErrorKind, name: &str, detail: impl fmt::Display) -> CaptureError {
        let msg = format!("{name}: {detail}").replace(['\n', '\r'], " ");
        CaptureError { kind, msg }
    }

    pub fn kind(&self) -> CaptureErrorKind {
        self.kind
    }
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for CaptureError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_micro_and_nano() {
        let t = Timestamp {
            secs: 1_795_314_369,
            nanos: 123_456_789,
            nano: false,
        };
        assert_eq!(t.rfc3339(), "2026-11-22T02:26:09.123456Z");
        let t = Timestamp { nano: true, ..t };
        assert_eq!(t.rfc3339(), "2026-11-22T02:26:09.123456789Z");
        assert_eq!(
            Timestamp::default().rfc3339(),
            "1970-01-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn rfc3339_calendar_edges() {
        // 2000-02-29 (leap day of a century leap year) and 2100-03-01.
        assert_eq!(
            Timestamp::from_micros(951_782_400_000_000).rfc3339(),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(
            Timestamp::from_micros(4_107_542_400_000_000).rfc3339(),
            "2100-03-01T00:00:00.000000Z"
        );
        assert_eq!(
            Timestamp::from_micros(-1).rfc3339(),
            "1969-12-31T23:59:59.999999Z"
        );
    }

    #[test]
    fn rfc3339_extremes_do_not_panic() {
        for secs in [i64::MIN, i64::MIN + 1, -62_167_219_201, i64::MAX] {
            let s = Timestamp {
                secs,
                nanos: 999_999_999,
                nano: true,
            }
            .rfc3339();
            assert!(s.ends_with(".999999999Z"), "{s}");
        }
        let s = Timestamp {
            secs: -62_167_219_201, // one second before 0000-01-01
            nanos: 0,
            nano: false,
        }
        .rfc3339();
        assert_eq!(s, "-0001-12-31T23:59:59.000000Z");
    }

    #[test]
    fn micros_since_and_from_micros() {
        let a = Timestamp::from_micros(1_500_000);
        let b = Timestamp::from_micros(-2_250_000);
        assert_eq!(a.micros_since(&b), 3_750_000);
        assert_eq!(b.micros_since(&a), -3_750_000);
        assert_eq!(b.secs, -3);
        assert_eq!(b.nanos, 750_000_000);
        let max = Timestamp {
            secs: i64::MAX,
            nanos: 0,
            nano: false,
        };
        let min = Timestamp {
            secs: i64::MIN,
            nanos: 0,
            nano: false,
        };
        assert_eq!(max.micros_since(&min), i64::MAX);
        assert_eq!(min.micros_since(&max), i64::MIN);
    }

    #[test]
    fn error_display_is_one_line() {
        let e = CaptureError::new(CaptureErrorKind::Io, "a\nb.pcap", "read error:\nboom");
        assert_eq!(e.to_string(), "a b.pcap: read error: boom");
        assert_eq!(e.kind(), CaptureErrorKind::Io);
    }
}
