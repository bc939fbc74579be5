#![no_main]
//! `cargo fuzz run mqserver`: the mqserver dissector behind the real driver.
use libfuzzer_sys::fuzz_target;
use qscope_dissectors::{fuzzing, Proto};

fuzz_target!(|data: &[u8]| {
    fuzzing::run(Proto::MqServer, data, false);
    fuzzing::run(Proto::MqServer, data, true);
});
