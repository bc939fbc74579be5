#![no_main]
//! `cargo fuzz run capture`: the pcap/pcapng reader on arbitrary bytes (see fuzz/harness/capture.rs).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| qscope_fuzz::capture::run(data));
