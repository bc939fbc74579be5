//! The QMP scanner alone: `cargo bench -p qscope-dissectors --bench qmp_scan`.
//!
//! Scans the server streams of the bundled QMP captures
//! (`captures/qmp/*.s2c.bin`, the exact bytes QEMU sent), fed in pieces of
//! 1,448 bytes as TCP segments arrive, with the verifying scanner the
//! dissector uses, and prints the best of many runs in MB/s. It isolates
//! the part of `stats` that costs most per byte of QMP.

use std::path::Path;
use std::time::Instant;

use qscope_dissectors::qmp::scan::{Scan, Scanner};

/// Bytes handed to the scanner per step, as a TCP segment of a 1500 MTU.
const SEGMENT: usize = 1448;
const RUNS: usize = 200;

/// Scans `data` as the driver feeds it; the number of values.
fn scan(data: &[u8]) -> usize {
    let mut sc = Scanner::verifying(false);
    let (mut front, mut avail, mut values) = (0, 0, 0);
    while front < data.len() {
        avail = avail.max(front);
        let eos = avail == data.len();
        let len = match sc.next(&data[front..avail], eos) {
            Scan::NeedMore if eos => break,
            Scan::NeedMore => {
                avail = (avail + SEGMENT).min(data.len());
                continue;
            }
            Scan::Value { len, .. } => {
                values += 1;
                std::hint::black_box(sc.take_verified());
                len
            }
            Scan::Whitespace(n) | Scan::Recovery(n) => n,
            Scan::LexError { len, .. } | Scan::Cut { len } | Scan::Limit { len, .. } => len,
            Scan::Delimiter => 1,
        };
        front += len;
    }
    values
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../captures/qmp");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".s2c.bin"))
        .collect();
    names.sort();
    let mut data = Vec::new();
    for p in &names {
        data.extend(std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())));
    }
    let mut best = f64::MAX;
    let mut values = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        values = scan(std::hint::black_box(&data));
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "qmp scan: {} server streams, {} bytes, {values} values: best {:.3} ms = {:.0} MB/s",
        names.len(),
        data.len(),
        best * 1e3,
        data.len() as f64 / best / 1e6
    );
}
