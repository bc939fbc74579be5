//! Bad capture files: a clear one-line reason, a non-zero exit, never a
//! panic, and every message decoded before the fault is still written.

mod common;

use common::*;

fn one_line_reason(out: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line on stderr, got: {err:?}"
    );
    assert!(err.starts_with("qscope: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn truncated_capture_keeps_messages_decoded_before_the_fault() {
    let full_path = bundled("qmp/qmp-events.pcap");
    let (full, out) = export(&full_path, &[]);
    assert!(out.status.success());
    let bytes = std::fs::read(&full_path).unwrap();
    let pkts = read_pcap(&full_path);

    // Cut in the middle of the record of packet 50 (header + part of its data).
    let mut pos = 24;
    for p in &pkts[..50] {
        pos += 16 + p.frame.len();
    }
    let cut_ts = pkts[50].ts_us;
    let path = scratch("bad").join("truncated.pcap");
    std::fs::write(&path, &bytes[..pos + 16 + 10]).unwrap();

    let (recs, out) = export(&path, &[]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "a damaged capture has its own status"
    );
    let err = one_line_reason(&out);
    assert!(err.to_lowercase().contains("truncat"), "{err}");

    let msgs = of_type(&recs, "message");
    let full_msgs = of_type(&full, "message");
    // Everything completed by a packet before the cut is there, identical.
    let before: Vec<_> = full_msgs
        .iter()
        .filter(|m| {
            let ts = m["ts"].as_str().unwrap();
            ts < rfc3339_us(cut_ts).as_str()
        })
        .collect();
    assert!(before.len() > 10, "the cut leaves messages before it");
    assert!(
        msgs.len() >= before.len(),
        "{} < {}",
        msgs.len(),
        before.len()
    );
    for (a, b) in msgs.iter().zip(full_msgs.iter()) {
        assert_eq!(a["fields"], b["fields"]);
    }
    // The summary still closes the export and names the fault.
    let summary = recs.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert!(summary["error"].as_str().unwrap().contains("truncat"));
}

/// A capture cut part-way: `stats` prints the tables (and the JSON
/// document) of what came before the fault, then reports it with the
/// damaged-capture status, as print and export do; a usage error has a
/// status of its own.
#[test]
fn stats_on_a_damaged_capture_reports_what_came_before() {
    let full_path = bundled("qm/qm-2-prompt-call-qmclilib.pcap");
    let bytes = std::fs::read(&full_path).unwrap();
    let path = scratch("bad").join("stats-truncated.pcap");
    std::fs::write(&path, &bytes[..207_630]).unwrap();
    let p = path.to_str().unwrap();

    let out = qscope(&["stats", p]);
    assert_eq!(out.status.code(), Some(3));
    let err = one_line_reason(&out);
    assert!(err.contains("truncated packet record"), "{err}");
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.starts_with("# Per protocol and name"), "{table}");
    assert!(table.contains("\nqm     Login "), "{table}");
    assert!(table.contains("# Sessions"), "{table}");

    let out = qscope(&["stats", p, "--format", "json"]);
    assert_eq!(out.status.code(), Some(3));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let login = &doc["protocols"]["qm"]["by_name"]["Login"];
    assert!(login["requests"].as_u64().unwrap() >= 1, "{doc}");

    // A usage error is told apart from a damaged capture.
    let out = qscope(&["stats", p, "--no-such-option"]);
    assert_eq!(out.status.code(), Some(2));
    let out = qscope(&["stats", "/nonexistent/capture.pcap"]);
    assert_eq!(out.status.code(), Some(1));
}

/// RFC 3339 of a µs timestamp, in the export's form (for ordering only).
fn rfc3339_us(us: i64) -> String {
    qscope::capture::Timestamp::from_micros(us).rfc3339()
}

#[test]
fn garbage_file_is_refused_with_a_reason() {
    let path = scratch("bad").join("garbage.pcap");
    std::fs::write(
        &path,
        b"this is not a capture file at all, just text\n".repeat(10),
    )
    .unwrap();
    let out = qscope(&["export", path.to_str().unwrap(), "--format", "jsonl"]);
    assert!(!out.status.success());
    one_line_reason(&out);
}

#[test]
fn empty_and_missing_files_are_refused_with_a_reason() {
    let path = scratch("bad").join("empty.pcap");
    std::fs::write(&path, b"").unwrap();
    for p in [path.to_str().unwrap(), "/nonexistent/capture.pcap"] {
        let out = qscope(&["print", p]);
        assert!(!out.status.success(), "{p}");
        one_line_reason(&out);
    }
}

#[test]
fn garbage_after_valid_packets_keeps_the_packets() {
    let full_path = bundled("qmp/qmp-hmp.pcap");
    let mut bytes = std::fs::read(&full_path).unwrap();
    // A record header claiming a 3 GB packet after the real ones.
    bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0xc0]);
    bytes.extend_from_slice(&[0x55; 64]);
    let path = scratch("bad").join("hostile-length.pcap");
    std::fs::write(&path, &bytes).unwrap();
    let (recs, out) = export(&path, &[]);
    assert!(!out.status.success());
    one_line_reason(&out);
    let (full, _) = export(&full_path, &[]);
    assert_eq!(
        of_type(&recs, "message").len(),
        of_type(&full, "message").len()
    );
}
