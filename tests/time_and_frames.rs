//! One time reference and Wireshark's frame numbers, in every output.
//!
//! * Every message names the packet that completed it (`frame`, counted
//!   from 1 as Wireshark and tshark count). The expected number is computed
//!   here independently of qscope, from the pcap records: for each byte of
//!   a direction's stream, the first packet (in capture order) that carried
//!   it; a message is complete at the latest of those packets over its
//!   bytes.
//! * Relative times count from the capture's first packet, whatever the
//!   command, the filter or the view: `print`, `print -Y`, `print -V` and
//!   the terminal UI show the same time for the same message.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::*;

/// Per (client port, server port, direction "c2s"/"s2c"): for every stream
/// offset, the number (from 1) of the first packet that carried that byte.
fn first_carriers(path: &Path) -> HashMap<(u16, u16, &'static str), Vec<u64>> {
    let pkts = read_pcap(path);
    // Stream offset 0 of a direction is the byte after its SYN.
    let mut base: HashMap<(u16, u16), u32> = HashMap::new();
    let mut out: HashMap<(u16, u16, &'static str), Vec<u64>> = HashMap::new();
    for (i, p) in pkts.iter().enumerate() {
        let frame = i as u64 + 1;
        let t = tcp(&p.frame);
        if t.syn {
            base.insert((t.sport, t.dport), t.seq.wrapping_add(1));
            continue;
        }
        if t.payload_len == 0 {
            continue;
        }
        let Some(b) = base.get(&(t.sport, t.dport)) else {
            panic!("{}: data before the SYN", path.display());
        };
        let start = t.seq.wrapping_sub(*b) as usize;
        // The captures' servers listen on the lower, well-known port.
        let (key, dir) = if t.sport > t.dport {
            ((t.sport, t.dport), "c2s")
        } else {
            ((t.dport, t.sport), "s2c")
        };
        let v = out.entry((key.0, key.1, dir)).or_default();
        if v.len() < start + t.payload_len {
            v.resize(start + t.payload_len, 0);
        }
        for slot in &mut v[start..start + t.payload_len] {
            if *slot == 0 {
                *slot = frame;
            }
        }
    }
    out
}

fn port(addr: &str) -> u16 {
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

fn qmp_captures() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["qmp", "qmp-qapi"] {
        for e in std::fs::read_dir(bundled(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "pcap") {
                out.push(p.to_str().unwrap().to_string());
            }
        }
    }
    out.sort();
    assert!(out.len() >= 8, "{out:?}");
    out
}

#[test]
fn message_frames_are_the_packets_that_completed_them() {
    for path in qmp_captures() {
        let carriers = first_carriers(Path::new(&path));
        let (recs, out) = export(Path::new(&path), &["--show-secrets"]);
        assert!(out.status.success(), "{path}");
        let sessions: HashMap<&str, (u16, u16)> = of_type(&recs, "session")
            .iter()
            .map(|s| {
                (
                    s["id"].as_str().unwrap(),
                    (
                        port(s["client"].as_str().unwrap()),
                        port(s["server"].as_str().unwrap()),
                    ),
                )
            })
            .collect();
        let msgs = of_type(&recs, "message");
        assert!(!msgs.is_empty(), "{path}");
        for m in msgs {
            let (c, s) = sessions[m["session"].as_str().unwrap()];
            let dir = if m["dir"] == "c2s" { "c2s" } else { "s2c" };
            let v = &carriers[&(c, s, dir)];
            let off = m["offset"].as_u64().unwrap() as usize;
            let len = m["len"].as_u64().unwrap() as usize;
            let want = v[off..off + len].iter().copied().max().unwrap();
            assert_eq!(
                m["frame"].as_u64(),
                Some(want),
                "{path}: {} #{} ({} bytes at {dir} {off})",
                m["session"],
                m["index"],
                len
            );
        }
    }
}

/// The time column of `print` lines that show a message (not `#` lines,
/// not the verbose tree), with the rest of the line.
fn timeline(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("                "))
        .filter_map(|l| {
            let l = l.trim_start();
            let (t, rest) = l.split_once(' ')?;
            Some((t.to_string(), rest.to_string()))
        })
        .filter(|(_, rest)| rest.contains(" -> ") || rest.contains(" <- "))
        .filter(|(_, rest)| !rest.contains(" bytes at offset "))
        .collect()
}

#[test]
fn one_time_reference_in_print_print_y_print_v_and_the_tui() {
    for rel in [
        "qmp/qmp-basic.pcap",
        "qm/qm-2-prompt-call-qmclilib.pcap",
        "qmp-qapi/qapi-compact.pcap",
    ] {
        let path = bundled(rel);
        let p = path.to_str().unwrap();
        let (recs, _) = export(&path, &[]);
        let msgs = of_type(&recs, "message");
        // The capture's first packet, read independently.
        let t0 = read_pcap(&path)[0].ts_us;
        let plain = timeline(&String::from_utf8(qscope(&["print", p]).stdout).unwrap());
        let verbose = timeline(&String::from_utf8(qscope(&["print", "-V", p]).stdout).unwrap());
        assert_eq!(plain.len(), msgs.len(), "{rel}: one line per message");
        assert_eq!(plain, verbose, "{rel}: print -V shows the same lines");
        for (m, (t, _)) in msgs.iter().zip(&plain) {
            let ts = qscope_ts_us(m["ts"].as_str().unwrap());
            assert_eq!(t, &format!("{:.6}", (ts - t0) as f64 / 1e6), "{rel}: {m}");
        }
        // A filter selecting one message does not move the reference.
        for m in msgs.iter().step_by(7) {
            let expr = format!(
                "frame.number == {} && index == {} && session == {}",
                m["frame"], m["index"], m["session"]
            );
            let out = String::from_utf8(qscope(&["print", p, "-Y", &expr]).stdout).unwrap();
            let sel = timeline(&out);
            assert_eq!(sel.len(), 1, "{rel}: {expr}\n{out}");
            let at = msgs
                .iter()
                .position(|x| x["index"] == m["index"] && x["session"] == m["session"])
                .unwrap();
            assert_eq!(sel[0], plain[at], "{rel}: {expr}");
        }
    }

    // The terminal UI's timeline shows the same times as print.
    let path = bundled("qmp/qmp-basic.pcap");
    let plain =
        timeline(&String::from_utf8(qscope(&["print", path.to_str().unwrap()]).stdout).unwrap());
    let mut h = qscope::tui::Harness::open(&path, 200, 60).unwrap();
    h.settle();
    let screen = h.screen();
    let mut found = 0;
    for (t, rest) in &plain {
        // Lines of the timeline hold the time and the message name.
        let name = rest.split_whitespace().nth(3).unwrap();
        if screen
            .lines()
            .any(|l| l.contains(&format!(" {t} ")) && l.contains(name))
        {
            found += 1;
        }
    }
    assert!(
        found >= 10,
        "the TUI timeline shows print's times ({found} found):\n{screen}"
    );
}

/// Microseconds since the epoch of an export timestamp
/// (`2026-11-22T01:27:01.723629Z`), parsed here without qscope's code.
fn qscope_ts_us(s: &str) -> i64 {
    let (date, time) = s.trim_end_matches('Z').split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let (hms, frac) = time.split_once('.').unwrap();
    let t: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    // Days from the civil date (proleptic Gregorian), Howard Hinnant's algorithm.
    let (y, m, day) = (if d[1] <= 2 { d[0] - 1 } else { d[0] }, d[1], d[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let us: i64 = format!("{frac:0<6}")[..6].parse().unwrap();
    ((days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]) * 1_000_000) + us
}

#[test]
fn gap_records_name_the_packet_where_the_gap_became_known() {
    // Drop one data segment of the client: the gap is known at the latest
    // when the capture ends, so its frame is a packet of the capture.
    let src = bundled("qmp/qmp-basic.pcap");
    let mut pkts = read_pcap(&src);
    let drop_at = pkts
        .iter()
        .position(|p| {
            let t = tcp(&p.frame);
            t.dport == 4444 && t.payload_len > 20
        })
        .unwrap()
        + 2;
    let drop_at = (drop_at..pkts.len())
        .find(|&i| {
            let t = tcp(&pkts[i].frame);
            t.dport == 4444 && t.payload_len > 0
        })
        .unwrap();
    pkts.remove(drop_at);
    let path = scratch("time_and_frames").join("gap.pcap");
    write_pcap(&path, &pkts);
    let (recs, _) = export(&path, &[]);
    let gaps = of_type(&recs, "gap");
    assert_eq!(gaps.len(), 1, "{recs:?}");
    let f = gaps[0]["frame"].as_u64().unwrap();
    assert!(f as usize > drop_at && f as usize <= pkts.len(), "{f}");
    assert!(gaps[0].get("ts").is_some());
}
