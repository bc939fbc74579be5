#![no_main]
//! `cargo fuzz run layers`: link/IP/TCP decoding with every link type (see fuzz/harness/layers.rs).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| qscope_fuzz::layers::run(data));
