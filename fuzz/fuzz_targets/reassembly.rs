#![no_main]
//! `cargo fuzz run reassembly`: TCP reassembly against a simple model (see fuzz/harness/reassembly.rs).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| qscope_fuzz::reassembly::run(data));
