#![no_main]
//! `cargo fuzz run qmp`: the QMP dissector behind the real driver.
use libfuzzer_sys::fuzz_target;
use qscope_dissectors::{fuzzing, Proto};

fuzz_target!(|data: &[u8]| {
    fuzzing::run(Proto::Qmp, data, false);
    fuzzing::run(Proto::Qmp, data, true);
});
