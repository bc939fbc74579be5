//! Replays every file of the application's fuzz corpora
//! (`fuzz/corpus/{reassembly,capture,layers,filter,pipeline}/`: seeds and
//! every input that ever crashed a target) through the same harnesses the
//! `cargo fuzz` targets use (`fuzz/harness/`), so a crash once found stays
//! fixed. The dissector corpora are replayed by
//! `dissectors/tests/fuzz_corpus.rs`.

#[path = "../fuzz/harness/mod.rs"]
mod harness;

use std::path::Path;

/// Runs `run` on every file of `fuzz/corpus/<target>/`; returns how many.
fn replay(target: &str, run: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let mut failed = Vec::new();
    for path in &paths {
        let data = std::fs::read(path).unwrap();
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(failed.is_empty(), "{target}: inputs that fail: {failed:#?}");
    paths.len()
}

#[test]
fn reassembly_corpus_replays_cleanly() {
    assert!(replay("reassembly", harness::reassembly::run) > 0);
}

#[test]
fn capture_corpus_replays_cleanly() {
    assert!(replay("capture", harness::capture::run) > 0);
}

#[test]
fn layers_corpus_replays_cleanly() {
    assert!(replay("layers", harness::layers::run) > 0);
}

#[test]
fn filter_corpus_replays_cleanly() {
    assert!(replay("filter", harness::filter::run) > 0);
}

#[test]
fn pipeline_corpus_replays_cleanly() {
    assert!(replay("pipeline", harness::pipeline::run) > 0);
}
