#![no_main]
//! `cargo fuzz run qps`: the qps dissector behind the real driver.
use libfuzzer_sys::fuzz_target;
use qscope_dissectors::{fuzzing, Proto};

fuzz_target!(|data: &[u8]| {
    fuzzing::run(Proto::Qps, data, false);
    fuzzing::run(Proto::Qps, data, true);
});
