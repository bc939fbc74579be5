//! Replays every file of the fuzz corpora (`fuzz/corpus/<proto>/`, seeds
//! and any crash the fuzzer ever found) through the real driver, both as a
//! fresh connection and as one picked up mid-stream: no panic, every byte
//! covered exactly once.

use std::path::Path;

use qscope_dissectors::{fuzzing, Proto};

fn replay(proto: Proto) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(proto.as_str());
    let mut n = 0;
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        for mid_stream in [false, true] {
            let r = std::panic::catch_unwind(|| fuzzing::run(proto, &data, mid_stream));
            assert!(
                r.is_ok(),
                "{} (mid_stream {mid_stream}) panics",
                path.display()
            );
        }
        n += 1;
    }
    n
}

#[test]
fn qmp_corpus_replays_cleanly() {
    assert!(replay(Proto::Qmp) > 0, "the QMP corpus has seeds");
}

#[test]
fn qm_corpus_replays_cleanly() {
    assert!(replay(Proto::Qm) > 0, "the qm corpus has seeds");
}

#[test]
fn qps_corpus_replays_cleanly() {
    assert!(replay(Proto::Qps) > 0, "the qps corpus has seeds");
}

#[test]
fn mqserver_corpus_replays_cleanly() {
    assert!(replay(Proto::MqServer) > 0, "the mqserver corpus has seeds");
}
