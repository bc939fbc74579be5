//! Byte-exact reassembly: the reassembled streams of every shared QMP
//! capture equal the bytes each side really sent (`*.c2s.bin`, `*.s2c.bin`,
//! recorded by the peers themselves).

use std::collections::HashMap;
use std::path::Path;

use qscope::capture::{FileSource, Source};
use qscope::layers::{decode, Decoded};
use qscope::reassembly::{Config, Event, Reassembler};
use qscope_dissectors::Dir;

fn reassemble(path: &Path) -> HashMap<u64, [Vec<u8>; 2]> {
    let mut src = FileSource::open(path).unwrap();
    let mut r = Reassembler::new(Config::default());
    let mut streams: HashMap<u64, [Vec<u8>; 2]> = HashMap::new();
    let mut last = Default::default();
    let mut on_event = |ev: Event<'_>| match ev {
        Event::Data {
            conn,
            dir,
            offset,
            bytes,
            ..
        } => {
            let s = &mut streams.entry(conn).or_default()[dir.idx()];
            assert_eq!(offset, s.len() as u64, "contiguous offsets");
            s.extend_from_slice(bytes);
        }
        Event::Gap {
            conn,
            dir,
            offset,
            len,
            ..
        } => panic!("gap in {conn} {dir:?} at {offset}+{len}"),
        _ => {}
    };
    while let Some(pkt) = src.next_packet().unwrap() {
        last = pkt.ts;
        if let Decoded::Tcp(seg) = decode(pkt.link, pkt.data, pkt.orig_len).unwrap() {
            r.segment(pkt.ts, &seg, &mut on_event);
        }
    }
    r.finish(last, &mut on_event);
    streams
}

#[test]
fn qmp_streams_equal_what_each_side_sent() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/qmp");
    for name in [
        "qmp-basic",
        "qmp-events",
        "qmp-oob",
        "qmp-hmp",
        "qmp-qga",
        "qmp-pretty",
    ] {
        let streams = reassemble(&dir.join(format!("{name}.pcap")));
        assert_eq!(streams.len(), 1, "{name}: one connection");
        let s = streams.values().next().unwrap();
        for (d, file) in [(Dir::C2S, "c2s"), (Dir::S2C, "s2c")] {
            let want = std::fs::read(dir.join(format!("{name}.{file}.bin"))).unwrap();
            let got = &s[d.idx()];
            assert_eq!(got.len(), want.len(), "{name} {file}: length");
            assert!(got == &want, "{name} {file}: bytes differ");
        }
    }
}
