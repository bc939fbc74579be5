//! One fuzzing harness for every dissector: used by the `cargo fuzz`
//! targets in `fuzz/` and by the test that replays their corpora, so a
//! crash found by the fuzzer stays a regression test.
//!
//! Input format: a sequence of chunks, each `H` then up to 128 bytes:
//! bit 0 of `H` is the direction (0 = c2s, 1 = s2c), `(H >> 1) + 1` is the
//! chunk length; `H == 0xFF` instead declares a gap of `next byte + 1` bytes
//! in the direction of the previous chunk. The chunks go through the real
//! [`Driver`] in order, then the session is closed.

use crate::driver::{check_coverage, Driver, Item, Limits};
use crate::{new_dissector, probe, Dir, Options, Proto, SessionStart};

/// Feeds `data` (in the format above) to `proto`'s dissector; also probes
/// it. Returns the driver's items. Checks the driver's promise that every
/// byte of each direction is covered once, in order, and panics if not
/// (that is what the fuzzer looks for, besides the dissector's own panics).
pub fn run(proto: Proto, data: &[u8], mid_stream: bool) -> Vec<Item> {
    let start = SessionStart { mid_stream };
    let Some(d) = new_dissector(proto, start, Options::default()) else {
        return Vec::new();
    };
    let mut driver = Driver::new(
        d,
        Limits {
            max_message: 1 << 16,
        },
    );
    let mut items = Vec::new();
    let mut next = [0u64; 2];
    let mut prefix: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut dir = Dir::C2S;
    let mut i = 0;
    while i < data.len() {
        let h = data[i];
        i += 1;
        if h == 0xFF {
            let len = u64::from(data.get(i).copied().unwrap_or(0)) + 1;
            i += 1;
            driver.gap(dir, next[dir.idx()], len, &mut |it| items.push(it));
            next[dir.idx()] += len;
            continue;
        }
        dir = if h & 1 == 0 { Dir::C2S } else { Dir::S2C };
        let n = usize::from(h >> 1) + 1;
        let chunk = &data[i..data.len().min(i + n)];
        i += chunk.len();
        if prefix[dir.idx()].len() < 4096 {
            prefix[dir.idx()].extend_from_slice(chunk);
        }
        driver.data(dir, next[dir.idx()], chunk, &mut |it| items.push(it));
        next[dir.idx()] += chunk.len() as u64;
    }
    driver.close(&mut |it| items.push(it));
    let _ = probe(proto, &prefix[0], &prefix[1], start);
    let covered = check_coverage(&items, next);
    assert!(covered.is_ok(), "driver coverage broken: {covered:?}");
    items
}

/// Encodes two streams as one fuzz input: `schedule` lists (direction,
/// bytes) in the order they were sent. Used to make seed corpora from
/// real captures.
pub fn encode(schedule: &[(Dir, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (dir, bytes) in schedule {
        // 127, not 128: a 128-byte s2c chunk would encode as 0xFF, the gap marker.
        for chunk in bytes.chunks(127) {
            let h = ((chunk.len() - 1) as u8) << 1 | u8::from(*dir == Dir::S2C);
            out.push(h);
            out.extend_from_slice(chunk);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_run_covers_both_streams() {
        let input = encode(&[(Dir::S2C, &[b'x'; 300]), (Dir::C2S, b"{}")]);
        // QMP decodes or skips every byte: coverage is checked inside.
        let items = run(Proto::Qmp, &input, false);
        assert!(!items.is_empty());
        // Gap markers are honoured.
        run(Proto::Qmp, &[0x01, b'{', 0xFF, 9, 0x03, b'}', b'\n'], false);
        // A long s2c stream never encodes a gap marker by accident.
        let long = encode(&[(Dir::S2C, &[b' '; 1000])]);
        let items = run(Proto::Qmp, &long, false);
        assert!(!items.iter().any(|i| matches!(i, Item::Gap { .. })));
        // Truncated headers and inputs are fine.
        run(Proto::Qmp, &[0xFF], true);
        run(Proto::Qmp, &[0x7e, 1, 2], true);
    }
}
