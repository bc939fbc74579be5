#![no_main]
//! `cargo fuzz run pipeline`: a capture file through the engine to JSONL and
//! text (see fuzz/harness/pipeline.rs).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| qscope_fuzz::pipeline::run(data));
