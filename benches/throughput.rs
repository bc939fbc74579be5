//! Throughput benchmark: `cargo bench --bench throughput`.
//!
//! Builds a capture of many QMP sessions from real QEMU traffic (the
//! shared qmp-basic capture, repeated with distinct client ports), then
//! measures the pipeline stage by stage: reading + layers + reassembly
//! only (`--decode-as 4444=unknown`), full QMP decoding into a counting
//! sink, and full decoding written as JSONL. Prints MB/s and messages/s
//! (best of several runs). Set QSCOPE_BENCH_COPIES to change the size.

use std::io;
use std::path::Path;
use std::time::Instant;

use qscope::capture::FileSource;
use qscope::engine::{analyze, Config};
use qscope::record::{Flow, Record, Sink, Summary};
use qscope::sink::json::JsonlWriter;
use qscope_dissectors::Proto;

/// Counts records; the cheapest possible sink.
#[derive(Default)]
struct Count(u64);

impl Sink for Count {
    fn record(&mut self, _: &Record<'_>) -> io::Result<Flow> {
        self.0 += 1;
        Ok(Flow::Continue)
    }
    fn finish(&mut self, _: &Summary) -> io::Result<()> {
        Ok(())
    }
}

fn build_capture(copies: u32, out: &Path) -> usize {
    let src =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/qmp/qmp-basic.pcap"))
            .expect("captures/qmp/qmp-basic.pcap");
    let mut recs = Vec::new();
    let mut pos = 24;
    while pos + 16 <= src.len() {
        let incl = u32::from_le_bytes(src[pos + 8..pos + 12].try_into().unwrap()) as usize;
        recs.push((pos, incl));
        pos += 16 + incl;
    }
    let mut buf = src[..24].to_vec();
    for k in 0..copies {
        for &(p, incl) in &recs {
            let mut hdr = src[p..p + 16].to_vec();
            let secs = u32::from_le_bytes(hdr[0..4].try_into().unwrap()) + k;
            hdr[0..4].copy_from_slice(&secs.to_le_bytes());
            let mut frame = src[p + 16..p + 16 + incl].to_vec();
            let tcp = 14 + usize::from(frame[14] & 0x0f) * 4;
            let port = (10_000 + k % 50_000) as u16;
            for at in [tcp, tcp + 2] {
                if frame[at..at + 2] == 45828u16.to_be_bytes() {
                    frame[at..at + 2].copy_from_slice(&port.to_be_bytes());
                }
            }
            buf.extend_from_slice(&hdr);
            buf.extend_from_slice(&frame);
        }
    }
    std::fs::write(out, &buf).unwrap();
    buf.len()
}

fn best_of(runs: usize, mut f: impl FnMut() -> u64) -> (f64, u64) {
    let mut best = f64::MAX;
    let mut n = 0;
    for _ in 0..runs {
        let t = Instant::now();
        n = f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, n)
}

fn main() {
    let copies: u32 = std::env::var("QSCOPE_BENCH_COPIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let path = std::env::temp_dir().join(format!("qscope-bench-{copies}.pcap"));
    let bytes = build_capture(copies, &path) as f64;
    println!("capture: {copies} QMP sessions, {:.1} MB", bytes / 1e6);

    let run = |cfg: Config, sink: &mut dyn Sink| {
        let mut src = FileSource::open(&path).unwrap();
        analyze(&mut src, cfg, sink).unwrap()
    };
    let (t, _) = best_of(5, || {
        let cfg = Config::default().with_decode_as(vec![(4444, Proto::Unknown)]);
        run(cfg, &mut Count::default()).packets
    });
    println!("read + layers + reassembly: {:>8.0} MB/s", bytes / t / 1e6);
    let (t, msgs) = best_of(5, || run(Config::default(), &mut Count::default()).messages);
    println!(
        "decode (QMP), counting sink: {:>8.0} MB/s, {:>9.0} messages/s ({msgs} messages)",
        bytes / t / 1e6,
        msgs as f64 / t
    );
    let (t, msgs) = best_of(5, || {
        run(Config::default(), &mut JsonlWriter::new(io::sink())).messages
    });
    println!(
        "decode (QMP) + JSONL export: {:>8.0} MB/s, {:>9.0} messages/s",
        bytes / t / 1e6,
        msgs as f64 / t
    );
    let _ = std::fs::remove_file(&path);
}
