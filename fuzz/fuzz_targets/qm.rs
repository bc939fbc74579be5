#![no_main]
//! `cargo fuzz run qm`: the qm dissector behind the real driver.
use libfuzzer_sys::fuzz_target;
use qscope_dissectors::{fuzzing, Proto};

fuzz_target!(|data: &[u8]| {
    fuzzing::run(Proto::Qm, data, false);
    fuzzing::run(Proto::Qm, data, true);
});
