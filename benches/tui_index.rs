//! TUI index benchmark: `cargo bench --bench tui_index`.
//!
//! Generates a QMP capture of at least a million messages (1000 sessions
//! of ~1000 pipelined query-status requests and replies; set
//! QSCOPE_BENCH_SESSIONS to change the size), then measures:
//!
//! * time to first screen: from opening the capture until the UI state
//!   holds its first screenful of rows, rendered once to a TestBackend
//!   (must be within 1 s);
//! * per-message index memory once everything is read: the real
//!   allocation of the index (rows, text arena, names) and of the
//!   timeline's row list and filter bit set, divided by the number of
//!   messages (must be at most 64 bytes);
//! * and, for information: the whole analysis, paging at the end of the
//!   index, decoding one message on demand, and a filter over everything.

use std::path::Path;
use std::time::{Duration, Instant};

use qscope::tui::Harness;
use qscope::tui::{Action, State};

const SCREEN: (u16, u16) = (120, 40);

struct Count(u64);

impl qscope::record::Sink for Count {
    fn record(&mut self, _: &qscope::record::Record<'_>) -> std::io::Result<qscope::record::Flow> {
        self.0 += 1;
        Ok(qscope::record::Flow::Continue)
    }
    fn finish(&mut self, _: &qscope::record::Summary) -> std::io::Result<()> {
        Ok(())
    }
}

type Endpoint = ([u8; 4], u16);

/// One Ethernet/IPv4/TCP frame from `ends.0` to `ends.1`, as a pcap record.
fn frame(
    out: &mut Vec<u8>,
    ts_us: i64,
    ends: (Endpoint, Endpoint),
    (seq, ack): (u32, u32),
    flags: u8,
    payload: &[u8],
) {
    let (src, dst) = ends;
    let mut f = Vec::with_capacity(54 + payload.len());
    f.extend_from_slice(&[0u8; 12]);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (40 + payload.len()) as u16;
    f.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0x40,
        0,
        64,
        6,
        0,
        0,
    ]);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.1.to_be_bytes());
    f.extend_from_slice(&dst.1.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    out.extend_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
    out.extend_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
    out.extend_from_slice(&(f.len() as u32).to_le_bytes());
    out.extend_from_slice(&(f.len() as u32).to_le_bytes());
    out.extend_from_slice(&f);
}

/// Writes the capture; returns the number of messages in it.
fn build(path: &Path, sessions: u32, pairs: u32) -> u64 {
    let mut out = Vec::with_capacity(160 << 20);
    out.extend_from_slice(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]);
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&262144u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    let mut ts = 1_700_000_000_000_000i64;
    let mut messages = 0u64;
    let greeting = b"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 8}, \"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n";
    for s in 0..sessions {
        let c = (
            [10, 0, (s >> 8) as u8, s as u8],
            20_000 + (s % 40_000) as u16,
        );
        let sv = ([10, 1, 0, 1], 4444u16);
        let (mut cs, mut ss) = (1000u32, 5000u32);
        frame(&mut out, ts, (c, sv), (cs, 0), 0x02, b"");
        frame(&mut out, ts + 10, (sv, c), (ss, cs + 1), 0x12, b"");
        cs += 1;
        ss += 1;
        frame(&mut out, ts + 20, (c, sv), (cs, ss), 0x10, b"");
        ts += 100;
        let send = |out: &mut Vec<u8>,
                    ts: &mut i64,
                    client: bool,
                    p: &[u8],
                    cs: &mut u32,
                    ss: &mut u32| {
            *ts += 50;
            if client {
                frame(out, *ts, (c, sv), (*cs, *ss), 0x18, p);
                *cs = cs.wrapping_add(p.len() as u32);
            } else {
                frame(out, *ts, (sv, c), (*ss, *cs), 0x18, p);
                *ss = ss.wrapping_add(p.len() as u32);
            }
        };
        send(&mut out, &mut ts, false, greeting, &mut cs, &mut ss);
        send(
            &mut out,
            &mut ts,
            true,
            b"{\"execute\": \"qmp_capabilities\"}\r\n",
            &mut cs,
            &mut ss,
        );
        send(
            &mut out,
            &mut ts,
            false,
            b"{\"return\": {}}\r\n",
            &mut cs,
            &mut ss,
        );
        messages += 3;
        let mut id = 0u32;
        while id < pairs {
            let n = 8.min(pairs - id);
            let mut req = Vec::new();
            let mut rsp = Vec::new();
            for k in id..id + n {
                req.extend_from_slice(
                    format!("{{\"execute\": \"query-status\", \"id\": {k}}}\r\n").as_bytes(),
                );
                if k % 97 == 5 {
                    rsp.extend_from_slice(format!("{{\"id\": {k}, \"error\": {{\"class\": \"GenericError\", \"desc\": \"not now\"}}}}\r\n").as_bytes());
                } else {
                    rsp.extend_from_slice(format!("{{\"return\": {{\"status\": \"running\", \"singlestep\": false, \"running\": true}}, \"id\": {k}}}\r\n").as_bytes());
                }
            }
            send(&mut out, &mut ts, true, &req, &mut cs, &mut ss);
            send(&mut out, &mut ts, false, &rsp, &mut cs, &mut ss);
            messages += 2 * u64::from(n);
            id += n;
        }
        frame(&mut out, ts + 10, (c, sv), (cs, ss), 0x11, b"");
        frame(&mut out, ts + 20, (sv, c), (ss, cs + 1), 0x11, b"");
        frame(&mut out, ts + 30, (c, sv), (cs + 1, ss + 1), 0x10, b"");
        ts += 1000;
    }
    std::fs::write(path, &out).expect("write the capture");
    messages
}

fn main() {
    let sessions: u32 = std::env::var("QSCOPE_BENCH_SESSIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tui_index_bench.pcap");
    let t = Instant::now();
    let expected = build(&path, sessions, 500);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "capture: {} messages in {} sessions, {:.1} MB (built in {:.2} s)",
        expected,
        sessions,
        size as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    // Baseline: the engine alone, into a sink that only counts.
    let t = Instant::now();
    let mut src = qscope::capture::FileSource::open(&path).expect("open");
    let mut count = Count(0);
    let _ = qscope::engine::analyze(&mut src, qscope::engine::Config::default(), &mut count);
    println!(
        "engine alone (counting sink): {:.2} s, {} records",
        t.elapsed().as_secs_f64(),
        count.0
    );

    // Time to first screen.
    let t = Instant::now();
    let mut h = Harness::open(&path, SCREEN.0, SCREEN.1).expect("open the capture");
    let want = SCREEN.1 as usize;
    h.pump_until(|st: &State| st.timeline.list.len() >= want);
    let buf = h.buffer();
    let first = t.elapsed();
    assert!(buf.area.width == SCREEN.0);
    let ok = |b: bool| if b { "OK" } else { "OVER BUDGET" };
    println!(
        "time to first screen: {:.1} ms ({} rows on screen) [{}]",
        first.as_secs_f64() * 1e3,
        h.state.timeline.list.len().min(want),
        ok(first <= Duration::from_secs(1))
    );

    // Everything.
    h.settle();
    let all = t.elapsed();
    let messages: u64 = h.state.model.sessions.iter().map(|s| s.messages).sum();
    assert_eq!(messages, expected, "every message is indexed");
    let rows = h.state.model.index.len();
    println!(
        "analysis: {:.2} s for {} messages ({} rows), {:.0} messages/s",
        all.as_secs_f64(),
        messages,
        rows,
        messages as f64 / all.as_secs_f64()
    );

    // Memory: all sessions.
    let mem = h.state.index_memory();
    let per = mem as f64 / messages as f64;
    println!(
        "index memory: {:.1} MB = {:.1} bytes per message (rows {:.1} MB, text {:.1} MB) [{}]",
        mem as f64 / 1e6,
        per,
        h.state.model.index.rows.memory() as f64 / 1e6,
        h.state.model.index.text.memory() as f64 / 1e6,
        ok(per <= 64.0)
    );

    // Paging at the end: per-frame work must not grow with the index.
    let t = Instant::now();
    h.apply(Action::Bottom);
    let n = 200;
    for _ in 0..n {
        h.apply(Action::PageUp);
        let _ = h.buffer();
    }
    println!(
        "paging: {:.2} ms per page up + frame at 1M rows",
        t.elapsed().as_secs_f64() * 1e3 / n as f64
    );

    // Decode on demand: a message in the middle.
    let mid = rows / 2 + 5;
    h.apply(Action::Top);
    h.apply(Action::Down(mid));
    let t = Instant::now();
    h.settle();
    println!(
        "decode on demand (row {mid}): {:.1} ms, detail: {}",
        t.elapsed().as_secs_f64() * 1e3,
        h.state
            .detail
            .lines
            .first()
            .map(|l| format!("{} {}", l.name, l.value))
            .unwrap_or_default()
    );

    // Statistics of the whole view, by the summary's code.
    let t = Instant::now();
    h.apply(Action::Show(qscope::tui::View::Stats));
    println!(
        "statistics view over {} rows: {:.0} ms",
        rows,
        t.elapsed().as_secs_f64() * 1e3
    );
    h.apply(Action::Show(qscope::tui::View::Timeline));

    // A filter over everything, with the filter's memory counted too.
    let t = Instant::now();
    h.apply(Action::StartFilter);
    h.type_text("error");
    h.apply(Action::InputSubmit);
    h.settle();
    let matches = h.state.timeline.filter.as_ref().map_or(0, |f| f.matches);
    let mem = h.state.index_memory();
    println!(
        "filter `error`: {} matches in {:.2} s; index memory with the filter {:.1} bytes per message [{}]",
        matches,
        t.elapsed().as_secs_f64(),
        mem as f64 / messages as f64,
        ok(mem as f64 / messages as f64 <= 64.0)
    );
    // One session only: the row list holds 4 bytes per listed row.
    h.apply(Action::ToggleScope);
    let mem = h.state.index_memory();
    println!(
        "one session + filter: {:.1} bytes per message",
        mem as f64 / messages as f64
    );
    let _ = std::fs::remove_file(&path);
}
