//! The output is the same, byte for byte, for every number of worker
//! threads (`-j`): for every bundled capture and every output, for a
//! generated mixed capture with many connections open at once, and when
//! the memory budget has to cut. Both threaded engines are compared with
//! one job: a file is read by every worker itself, standard input by one
//! reader thread that hands packets to the workers.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;

/// Every capture bundled with the repository.
fn captures() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in std::fs::read_dir(bundled("")).unwrap() {
        let d = d.unwrap().path();
        if !d.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&d).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|x| x == "pcap") {
                out.push(f);
            }
        }
    }
    out.sort();
    assert!(out.len() >= 17, "{out:?}");
    out
}

/// The outputs compared.
const OUTPUTS: &[&[&str]] = &[
    &["export", "--format", "jsonl"],
    &["export", "--format", "json"],
    &["export", "--format", "ek"],
    &["print"],
    &["print", "-V"],
    &["stats", "--expert"],
    &["stats", "--format", "json"],
];

fn run(path: &Path, out: &[&str], jobs: &str, extra: &[&str]) -> Vec<u8> {
    let mut args: Vec<&str> = out.to_vec();
    args.push(path.to_str().unwrap());
    args.extend_from_slice(&["-j", jobs]);
    args.extend_from_slice(extra);
    let o = qscope(&args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// As [`run`], the capture read from standard input (`-`).
fn run_stdin(path: &Path, out: &[&str], jobs: &str, extra: &[&str]) -> Vec<u8> {
    let mut args: Vec<&str> = out.to_vec();
    args.extend_from_slice(&["-", "-j", jobs]);
    args.extend_from_slice(extra);
    let o = Command::new(env!("CARGO_BIN_EXE_qscope"))
        .args(&args)
        .stdin(Stdio::from(File::open(path).unwrap()))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?} < {}: {}",
        path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// The outputs compared for standard input too.
const STDIN_OUTPUTS: &[&[&str]] = &[
    &["export", "--format", "jsonl"],
    &["stats", "--format", "json"],
];

fn same_for_every_job_count(path: &Path, extra: &[&str]) {
    for out in STDIN_OUTPUTS {
        let one = run_stdin(path, out, "1", extra);
        assert!(!one.is_empty());
        for jobs in ["2", "3"] {
            let many = run_stdin(path, out, jobs, extra);
            assert!(
                one == many,
                "{} (stdin) {out:?} {extra:?}: -j 1 and -j {jobs} differ",
                path.display()
            );
        }
    }
    for out in OUTPUTS {
        let one = run(path, out, "1", extra);
        assert!(!one.is_empty());
        for jobs in ["2", "3"] {
            let many = run(path, out, jobs, extra);
            assert!(
                one == many,
                "{} {out:?} {extra:?}: -j 1 and -j {jobs} differ",
                path.display()
            );
        }
    }
}

#[test]
fn every_bundled_capture_every_output() {
    for c in captures() {
        same_for_every_job_count(&c, &[]);
    }
}

#[test]
fn generated_mixed_capture() {
    same_for_every_job_count(&mixed("jobs_identical", 12), &[]);
}

#[test]
fn memory_budget_cuts_the_same_way_for_every_job_count() {
    // (Not the file of the other test: tests run in parallel.)
    let path = mixed("jobs_identical", 11);
    // A budget far below what the capture holds at its peak.
    let extra = ["--memory-limit", "1M"];
    same_for_every_job_count(&path, &extra);
    let (recs, out) = export(&path, &extra);
    assert!(out.status.success());
    let summary = recs.last().unwrap();
    assert_eq!(summary["type"], "summary");
    let m = &summary["memory"];
    assert_eq!(m["limit"], 1 << 20);
    assert!(m["cuts"].as_u64().unwrap() > 0, "{m}");
    // What was cut is reported, and nothing is lost silently: the
    // messages, undecoded ranges and gaps still tile every stream.
    assert_coverage(&recs);
    let undecoded: Vec<_> = of_type(&recs, "undecoded")
        .into_iter()
        .filter(|r| {
            r["reason"]
                .as_str()
                .is_some_and(|t| t.contains("memory limit"))
        })
        .collect();
    let gaps = of_type(&recs, "gap");
    assert!(
        !undecoded.is_empty() || !gaps.is_empty(),
        "a cut leaves gaps or undecoded ranges with a reason"
    );
}

#[test]
fn memory_budget_forgets_closed_connections_the_same_way_for_every_job_count() {
    // 30,000 SYN-only connections under a 1 MiB budget: the budget closes
    // connections, then forgets the closed ones it remembers (each shard
    // its own). What it reports must not depend on the number of shards.
    let mut pkts = Vec::new();
    for i in 0..30_000u32 {
        let mut c = Conv::new(1024 + (i % 60_000) as u16, 4444);
        let mut syn = c.pkts.swap_remove(0);
        // A client address of its own (10.1.x.y).
        syn.frame[26..30].copy_from_slice(&[10, 1, (i >> 8) as u8, i as u8]);
        syn.ts_us += i64::from(i) * 10;
        pkts.push(syn);
    }
    let path = scratch("jobs_identical_syn").join("syn-flood.pcap");
    write_pcap(&path, &pkts);
    let extra = ["--memory-limit", "1M"];
    // (No messages: `print` has nothing to say.)
    for out in [
        &["export", "--format", "jsonl"][..],
        &["stats", "--format", "json"],
    ] {
        let one = run(&path, out, "1", &extra);
        for jobs in ["2", "3"] {
            assert!(
                one == run(&path, out, jobs, &extra),
                "{out:?}: -j 1 and -j {jobs} differ"
            );
        }
    }
    let (recs, out) = export(&path, &extra);
    assert!(out.status.success());
    let dropped = &recs.last().unwrap()["memory"]["dropped"];
    let forgotten = dropped["forgotten_closed"].as_u64().unwrap();
    let closed = dropped["connections"].as_u64().unwrap();
    // Counted in connections (at most those closed), not in shards.
    assert!(forgotten > 100, "{dropped}");
    assert!(forgotten <= closed, "{dropped}");
}

/// A sink that raises the stop flag (as Ctrl-C does) after `after`
/// messages and counts what it is given.
struct StopAfter {
    flag: std::sync::Arc<std::sync::atomic::AtomicBool>,
    after: u64,
    messages: u64,
    finished: bool,
}

impl qscope::record::Sink for StopAfter {
    fn record(
        &mut self,
        rec: &qscope::record::Record<'_>,
    ) -> std::io::Result<qscope::record::Flow> {
        if let qscope::record::Record::Message(_) = rec {
            self.messages += 1;
            if self.messages == self.after {
                self.flag.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        Ok(qscope::record::Flow::Continue)
    }
    fn finish(&mut self, _: &qscope::record::Summary) -> std::io::Result<()> {
        self.finished = true;
        Ok(())
    }
}

#[test]
fn a_stop_mid_way_ends_every_engine_cleanly() {
    use qscope::capture::FileSource;
    use qscope::engine::{analyze, Config};
    let path = mixed("jobs_identical", 120);
    let total = read_pcap(&path).len() as u64;
    // Many epochs (4,096 packets at most each), so that the stop comes
    // with most of the file unread.
    assert!(total > 60_000, "{total}");
    for (jobs, stdin) in [(1, false), (2, false), (3, false), (2, true)] {
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let cfg = Config {
            jobs,
            stop: Some(flag.clone()),
            ..Config::default()
        };
        let mut sink = StopAfter {
            flag,
            after: 100,
            messages: 0,
            finished: false,
        };
        // A file is read by every worker; a stream by one reader thread.
        let mut source = if stdin {
            FileSource::from_reader("<stdin>", Box::new(File::open(&path).unwrap())).unwrap()
        } else {
            FileSource::open(&path).unwrap()
        };
        let summary = analyze(&mut source, cfg, &mut sink).unwrap();
        assert!(sink.finished);
        assert!(sink.messages >= 100, "-j {jobs}: {}", sink.messages);
        assert!(
            summary.packets > 0 && summary.packets < total / 2,
            "-j {jobs} stdin {stdin}: stopped after {} of {total} packets",
            summary.packets
        );
        assert_eq!(summary.messages, sink.messages, "-j {jobs} stdin {stdin}");
    }
}
