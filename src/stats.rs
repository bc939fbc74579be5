//! Counters and latency statistics, gathered as a [`Sink`] and reported in
//! the export's final `summary` record.

use std::collections::BTreeMap;
use std::io;

use qscope_dissectors::{Dir, Kind};

use crate::reassembly;
use crate::sink::{Record, Sink};

/// Latency percentiles in microseconds.
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

/// Per message name (QMP command, QM function, ...).
#[derive(Debug, Clone, Default)]
pub struct NameStats {
    pub requests: u64,
    pub responses: u64,
    pub errors: u64,
    pub other: u64,
    pub latencies_us: Vec<i64>,
}

/// Per protocol.
#[derive(Debug, Clone, Default)]
pub struct ProtoStats {
    pub sessions: u64,
    pub messages: u64,
    pub c2s: u64,
    pub s2c: u64,
    pub errors: u64,
    pub by_name: BTreeMap<String, NameStats>,
}

/// Totals for one run, written as the `summary` record.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub packets: u64,
    pub tcp_segments: u64,
    pub non_tcp_packets: u64,
    pub ip_fragments: u64,
    pub malformed_packets: u64,
    pub cut_packets: u64,
    pub sessions: u64,
    pub messages: u64,
    pub undecoded_ranges: u64,
    pub undecoded_bytes: u64,
    pub gaps: u64,
    pub gap_bytes: u64,
    pub notes_by_severity: [u64; 3],
    pub tcp: reassembly::Stats,
    pub protos: BTreeMap<&'static str, ProtoStats>,
    /// The first few malformed packets, as "frame N: reason".
    pub malformed_examples: Vec<String>,
    /// Kernel/libpcap drop counters for live capture.
    pub dropped: Option<u64>,
    /// Why the analysis stopped early, if it did.
    pub error: Option<String>,
}

/// Builds the per-protocol part of the [`Summary`] from records.
#[derive(Default)]
pub struct Collector {
    pub summary: Summary,
}

impl Sink for Collector {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<()> {
        let s = &mut self.summary;
        match rec {
            Record::Session(info) => {
                s.sessions += 1;
                s.protos.entry(info.proto.as_str()).or_default().sessions += 1;
            }
            Record::Message(m) => {
                s.messages += 1;
                for n in &m.msg.notes {
                    s.notes_by_severity[n.severity as usize] += 1;
                }
                let p = s.protos.entry(m.session.proto.as_str()).or_default();
                p.messages += 1;
                match m.msg.dir {
                    Dir::C2S => p.c2s += 1,
                    Dir::S2C => p.s2c += 1,
                }
                if m.msg.is_error {
                    p.errors += 1;
                }
                let n = p.by_name.entry(m.msg.name.clone()).or_default();
                match m.msg.kind {
                    Kind::Request => n.requests += 1,
                    Kind::Response => n.responses += 1,
                    _ => n.other += 1,
                }
                if m.msg.is_error {
                    n.errors += 1;
                }
                if let Some(l) = m.latency_us {
                    n.latencies_us.push(l);
                }
            }
            Record::Gap(r) => {
                s.gaps += 1;
                s.gap_bytes += r.len;
            }
            Record::Undecoded(r) => {
                s.undecoded_ranges += 1;
                s.undecoded_bytes += r.len;
            }
            Record::SessionEnd(e) => {
                for n in e.notes {
                    s.notes_by_severity[n.severity as usize] += 1;
                }
            }
        }
        Ok(())
    }
    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
