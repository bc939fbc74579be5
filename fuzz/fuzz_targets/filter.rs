#![no_main]
//! `cargo fuzz run filter`: the display-filter parser and evaluator (see fuzz/harness/filter.rs).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| qscope_fuzz::filter::run(data));
