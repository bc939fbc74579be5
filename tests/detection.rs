//! Protocol detection: content beats ports, the QEMU human monitor on the
//! QMP port is not decoded as QMP, `--decode-as` overrides, and captures
//! can come from standard input.

mod common;

use common::*;
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};

fn truth_values(name: &str, dir: &str) -> Vec<Value> {
    std::fs::read_to_string(bundled(&format!("{name}.truth.jsonl")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["dir"] == dir)
        .map(|r| r["check"]["value"].clone())
        .collect()
}

fn values(recs: &[Value], dir: &str) -> Vec<Value> {
    of_type(recs, "message")
        .into_iter()
        .filter(|m| m["dir"] == dir)
        .map(|m| m["fields"]["value"].clone())
        .collect()
}

#[test]
fn human_monitor_on_the_qmp_port_is_not_decoded_as_qmp() {
    let mut c = Conv::new(40000, 4444);
    c.s2c(b"QEMU 7.2.22 monitor - type 'help' for more information\r\n(qemu) ")
        .c2s(b"info version\r\n")
        .s2c(b"i\x1b[K\x1b[Din\x1b[K\x1b[D\x1b[Dinfo version\r\n7.2.22\r\n(qemu) ")
        .c2s(b"{\"execute\":\"qmp_capabilities\"}\r\n")
        .s2c(b"unknown command: '{\"execute\":\"qmp_capabilities\"}'\r\n(qemu) ")
        .close();
    let path = scratch("detect").join("hmp.pcap");
    c.write(&path);
    let (recs, out) = export(&path, &[]);
    assert!(out.status.success());
    let session = of_type(&recs, "session")[0];
    assert_eq!(session["proto"], "unknown");
    assert!(
        of_type(&recs, "message").is_empty(),
        "no QMP message invented"
    );
    let end = of_type(&recs, "session_end")[0];
    let notes = end["notes"].to_string();
    assert!(notes.contains("HMP"), "{notes}");
    assert_coverage(&recs);
    // print shows the session and its note, escape-free
    let out = qscope(&["print", path.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("unknown") && text.contains("HMP"), "{text}");
    assert!(!text.contains('\u{1b}'));
}

#[test]
fn qmp_on_any_port_is_found_by_content() {
    // The real qmp-events conversation, moved from port 4444 to 6123.
    let pkts: Vec<Pkt> = read_pcap(&bundled("qmp/qmp-events.pcap"))
        .into_iter()
        .map(|p| Pkt {
            ts_us: p.ts_us,
            frame: with_port(&p.frame, 4444, 6123),
        })
        .collect();
    let path = scratch("detect").join("qmp-6123.pcap");
    write_pcap(&path, &pkts);
    let (recs, out) = export(&path, &[]);
    assert!(out.status.success());
    let session = of_type(&recs, "session")[0];
    assert_eq!(session["proto"], "qmp");
    assert_eq!(session["server"], "127.0.0.1:6123");
    assert_eq!(values(&recs, "c2s"), truth_values("qmp/qmp-events", "c2s"));
    assert_eq!(values(&recs, "s2c"), truth_values("qmp/qmp-events", "s2c"));
}

#[test]
fn decode_as_overrides_detection() {
    let pcap = bundled("qmp/qmp-events.pcap");
    // Force "unknown": nothing decoded, every byte still accounted for.
    let (recs, out) = export(&pcap, &["--decode-as", "4444=unknown"]);
    assert!(out.status.success());
    assert_eq!(of_type(&recs, "session")[0]["proto"], "unknown");
    assert!(of_type(&recs, "message").is_empty());
    let covered = assert_coverage(&recs);
    assert_eq!(
        covered.values().sum::<u64>(),
        716 + 2610,
        "c2s.bin + s2c.bin bytes"
    );
    // A QMP conversation on an odd port decoded as QMP on request, even
    // before any content is seen.
    let mut c = Conv::new(40001, 7777);
    c.c2s(b"{\"execute\": \"query-status\", \"id\": 1}")
        .s2c(b"{\"return\": {\"status\": \"running\"}, \"id\": 1}\r\n")
        .close();
    let path = scratch("detect").join("odd-port.pcap");
    c.write(&path);
    let (recs, _) = export(&path, &["--decode-as", "7777=qmp"]);
    assert_eq!(of_type(&recs, "session")[0]["proto"], "qmp");
    let msgs = of_type(&recs, "message");
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[1]["reply_to"], 0);
    // Bad values are refused with a clear message.
    let out = qscope(&["export", pcap.to_str().unwrap(), "--decode-as", "4444=smtp"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown protocol 'smtp'"));
}

#[test]
fn capture_from_standard_input() {
    let pcap = bundled("qmp/qmp-events.pcap");
    let (from_file, _) = export(&pcap, &[]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_qscope"))
        .args(["export", "-", "--format", "jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&pcap).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let from_stdin: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(from_stdin, from_file);
}
