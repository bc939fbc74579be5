//! Writes the fuzz seed corpora from the real captures in captures/: each
//! capture's TCP streams, reassembled, in the order the segments were
//! captured, encoded for `qscope_dissectors::fuzzing`. Run on demand:
//! `cargo test --test fuzz_seeds -- --ignored`.

mod common;

use std::path::Path;

use qscope_dissectors::{fuzzing, Dir};

#[test]
#[ignore = "writes fuzz/corpus; run on demand"]
fn write_seed_corpora() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bundled = root.join("captures");
    for (proto_dir, proto) in [
        ("qmp", "qmp"),
        ("qm", "qm"),
        ("qps", "qps"),
        ("mqserver", "mqserver"),
    ] {
        let out = root.join("fuzz/corpus").join(proto);
        std::fs::create_dir_all(&out).unwrap();
        for e in std::fs::read_dir(bundled.join(proto_dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_none_or(|x| x != "pcap") {
                continue;
            }
            for (c, sched) in common::conversations(&p).iter().enumerate() {
                // Keep seeds small: the first 16 KiB of the conversation.
                let mut budget = 16 << 10;
                let mut parts: Vec<(Dir, &[u8])> = Vec::new();
                for (d, b) in sched {
                    if budget == 0 {
                        break;
                    }
                    let n = b.len().min(budget);
                    parts.push((*d, &b[..n]));
                    budget -= n;
                }
                let name = p.file_stem().unwrap().to_string_lossy().into_owned();
                std::fs::write(
                    out.join(format!("seed-{name}-{c}")),
                    fuzzing::encode(&parts),
                )
                .unwrap();
            }
        }
    }
}
