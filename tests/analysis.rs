//! The analysis commands on the shared captures: `-Y` on print/export,
//! `stats` (checked against values computed here from the export),
//! `follow` (checked against the `*.c2s.bin`/`*.s2c.bin` bytes), `-w`
//! (re-read with the same filter), expert notes and security findings,
//! and `--format ek`.

mod common;

use std::collections::{BTreeMap, HashMap};

use common::{bundled, export, mixed, of_type, qscope, read_pcap, scratch, write_pcap};
use serde_json::Value;

const ALL: &[&str] = &[
    "qmp/qmp-basic",
    "qmp/qmp-events",
    "qmp/qmp-hmp",
    "qmp/qmp-oob",
    "qmp/qmp-qga",
    "qmp/qmp-pretty",
    "qm/qm-1-fileops-qmclilib",
    "qm/qm-2-prompt-call-qmclilib",
    "qm/qm-4-extra-codes-rawclient",
    "qps/qps-1-happy",
    "qps/qps-2-signon-fail",
    "mqserver/mq-binary",
    "mqserver/mq-text",
    "mqserver/mq-xml",
];

fn pcap(name: &str) -> String {
    bundled(&format!("{name}.pcap"))
        .to_str()
        .unwrap()
        .to_string()
}

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Filtered export: only matching messages, a session record right before
/// the first message of each written session, no session without a match,
/// summary with the whole analysis plus `matched`.
#[test]
fn display_filter_on_export_keeps_matching_messages_only() {
    type Case = (&'static str, &'static str, fn(&Value) -> bool);
    let cases: &[Case] = &[
        // A reply carries its command's name, so both match.
        ("qmp/qmp-basic", r#"qmp.execute == "query-status""#, |m| {
            m["name"] == "query-status"
        }),
        ("qm/qm-1-fileops-qmclilib", "error", |m| m["error"] == true),
        ("qps/qps-1-happy", "dir == s2c && latency > 100us", |m| {
            m["dir"] == "s2c" && m["latency_us"].as_i64().is_some_and(|l| l > 100)
        }),
        ("mqserver/mq-xml", "proto == qm", |_| false),
    ];
    for (name, expr, pred) in cases {
        let (all, _) = export(&bundled(&format!("{name}.pcap")), &[]);
        let (sel, out) = export(&bundled(&format!("{name}.pcap")), &["-Y", expr]);
        assert!(out.status.success(), "{name} {expr}");
        let want: Vec<&Value> = of_type(&all, "message")
            .into_iter()
            .filter(|m| pred(m))
            .collect();
        let got = of_type(&sel, "message");
        assert_eq!(got, want, "{name} -Y {expr}");
        // A session record before the first message of its session, and
        // only for sessions with a message.
        let mut seen = Vec::new();
        for r in &sel {
            match r["type"].as_str().unwrap() {
                "session" => seen.push(r["id"].clone()),
                "message" | "gap" | "undecoded" | "session_end" => {
                    assert!(
                        seen.contains(&r["session"]),
                        "{name}: {r} before its session"
                    )
                }
                _ => {}
            }
        }
        for id in &seen {
            assert!(
                got.iter().any(|m| m["session"] == *id),
                "{name}: {id} has no message"
            );
        }
        let sum_all = all.last().unwrap();
        let sum = sel.last().unwrap();
        assert_eq!(sum["type"], "summary");
        assert_eq!(
            sum["messages"], sum_all["messages"],
            "{name}: whole-run counts"
        );
        assert_eq!(sum["matched"], got.len() as u64, "{name}");
        assert!(sum_all.get("matched").is_none());
    }
}

#[test]
fn display_filter_on_print_and_json() {
    let p = pcap("qmp/qmp-basic");
    let text = stdout(&qscope(&[
        "print",
        &p,
        "-Y",
        r#"qmp.execute == "query-status""#,
    ]));
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("# s1 qmp"), "{text}");
    let msgs: Vec<&&str> = lines.iter().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(msgs.len(), 4, "{text}");
    assert!(msgs.iter().all(|l| l.contains("query-status")), "{text}");
    assert!(
        lines.last().unwrap().ends_with("4 matching the filter"),
        "{text}"
    );

    let doc: Value = serde_json::from_str(&stdout(&qscope(&[
        "export", &p, "--format", "json", "-Y", "error",
    ])))
    .unwrap();
    let sessions = doc["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    let msgs = sessions[0]["messages"].as_array().unwrap();
    assert!(!msgs.is_empty() && msgs.iter().all(|m| m["error"] == true));
    assert_eq!(doc["summary"]["matched"], msgs.len() as u64);

    // No match at all: no session, still a summary.
    let (recs, _) = export(&bundled("qmp/qmp-basic.pcap"), &["-Y", "proto == qps"]);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["matched"], 0);
}

#[test]
fn bad_display_filter_is_a_two_line_caret_error() {
    let p = pcap("qmp/qmp-basic");
    for cmd in ["print", "export", "stats"] {
        let out = qscope(&[cmd, &p, "-Y", "qmp.execute =="]);
        assert_eq!(out.status.code(), Some(2), "{cmd}: a usage error");
        assert!(out.stdout.is_empty(), "{cmd}: nothing written");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            err,
            "qscope: invalid display filter (-Y):\nqmp.execute ==\n              ^ expected a value after '=='\n",
            "{cmd}"
        );
    }
    let out = qscope(&["export", &p, "-Y", "nosuch.field == 1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\n^ "));
}

/// Nearest rank, as documented: the value at rank ceil(p/100 * n).
fn nearest_rank(v: &mut [i64], p: f64) -> i64 {
    v.sort_unstable();
    let r = (p / 100.0 * v.len() as f64).ceil() as usize;
    v[r.clamp(1, v.len()) - 1]
}

#[derive(Default, Debug)]
struct Expect {
    messages: u64,
    requests: u64,
    replies: u64,
    errors: u64,
    missing: u64,
    lat: Vec<i64>,
}

/// Per (proto, name) from the export, independently of qscope's stats:
/// a reply counts under the name its request counts under.
fn expected_stats(recs: &[Value]) -> BTreeMap<(String, String), Expect> {
    let msgs = of_type(recs, "message");
    let mut key_of: HashMap<(String, u64), String> = HashMap::new();
    let mut answered: HashMap<(String, u64), bool> = HashMap::new();
    let mut out: BTreeMap<(String, String), Expect> = BTreeMap::new();
    for m in &msgs {
        let s = m["session"].as_str().unwrap().to_string();
        let i = m["index"].as_u64().unwrap();
        let key = match m["reply_to"].as_u64() {
            Some(r) => {
                answered.insert((s.clone(), r), true);
                key_of[&(s.clone(), r)].clone()
            }
            None => m["name"].as_str().unwrap().to_string(),
        };
        key_of.insert((s.clone(), i), key.clone());
        let e = out
            .entry((m["proto"].as_str().unwrap().to_string(), key))
            .or_default();
        e.messages += 1;
        if m["kind"] == "request" {
            e.requests += 1;
        }
        if !m["reply_to"].is_null() {
            e.replies += 1;
            e.lat.push(m["latency_us"].as_i64().unwrap());
        }
        if m["error"] == true {
            e.errors += 1;
        }
    }
    for m in &msgs {
        let s = m["session"].as_str().unwrap().to_string();
        let i = m["index"].as_u64().unwrap();
        if m["kind"] == "request" && !answered.contains_key(&(s.clone(), i)) {
            let key = key_of[&(s, i)].clone();
            out.get_mut(&(m["proto"].as_str().unwrap().to_string(), key))
                .unwrap()
                .missing += 1;
        }
    }
    out
}

#[test]
fn stats_match_values_computed_from_the_export() {
    for name in ALL {
        let (recs, _) = export(&bundled(&format!("{name}.pcap")), &[]);
        let want = expected_stats(&recs);
        let st: Value = serde_json::from_str(&stdout(&qscope(&[
            "stats",
            &pcap(name),
            "--format",
            "json",
        ])))
        .unwrap();
        let mut seen = 0;
        for ((proto, n), mut e) in want {
            let got = &st["protocols"][&proto]["by_name"][&n];
            assert!(got.is_object(), "{name}: {proto} {n} missing in {st}");
            seen += 1;
            for (k, v) in [
                ("messages", e.messages),
                ("requests", e.requests),
                ("replies", e.replies),
                ("errors", e.errors),
                ("missing", e.missing),
            ] {
                assert_eq!(got[k], v, "{name}: {proto} {n} {k}");
            }
            let l = &got["latency_us"];
            if e.lat.is_empty() {
                assert!(l.is_null(), "{name}: {n}");
                continue;
            }
            assert_eq!(l["count"], e.lat.len() as u64, "{name}: {n}");
            assert_eq!(l["min"], *e.lat.iter().min().unwrap(), "{name}: {n}");
            assert_eq!(l["max"], *e.lat.iter().max().unwrap(), "{name}: {n}");
            for (k, p) in [("p50", 50.0), ("p95", 95.0), ("p99", 99.0)] {
                assert_eq!(l[k], nearest_rank(&mut e.lat, p), "{name}: {n} {k}");
            }
        }
        let total: usize = st["protocols"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p["by_name"].as_object().unwrap().len())
            .sum();
        assert_eq!(total, seen, "{name}: no extra names");
        // Sessions: one per exported session, message counts agree.
        let sessions = st["sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), of_type(&recs, "session").len(), "{name}");
        for s in sessions {
            let n = of_type(&recs, "message")
                .iter()
                .filter(|m| m["session"] == s["id"])
                .count();
            assert_eq!(s["messages"], n as u64, "{name}: {}", s["id"]);
        }
        // The slowest replies are the largest latencies, slowest first.
        let mut lats: Vec<i64> = of_type(&recs, "message")
            .iter()
            .filter_map(|m| m["latency_us"].as_i64())
            .collect();
        lats.sort_unstable_by(|a, b| b.cmp(a));
        lats.truncate(10);
        let slow: Vec<i64> = st["slowest"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["latency_us"].as_i64().unwrap())
            .collect();
        assert_eq!(slow, lats, "{name}");
    }
}

#[test]
fn stats_table_and_filter() {
    let p = pcap("qm/qm-1-fileops-qmclilib");
    let t = stdout(&qscope(&["stats", &p, "--slowest", "2"]));
    assert!(t.contains("PROTO  NAME"), "{t}");
    assert!(t.lines().any(|l| l.starts_with("qm     Login ")), "{t}");
    assert!(
        t.contains("# Slowest replies") && t.contains("# Sessions"),
        "{t}"
    );
    assert!(!t.contains("# Expert notes"), "{t}");
    // With -Y, replies to selected requests are counted with them.
    let st: Value = serde_json::from_str(&stdout(&qscope(&[
        "stats",
        &p,
        "-Y",
        "qm.function == Read && dir == c2s",
        "--format",
        "json",
    ])))
    .unwrap();
    let by_name = st["protocols"]["qm"]["by_name"].as_object().unwrap();
    assert_eq!(by_name.keys().collect::<Vec<_>>(), ["Read"]);
    assert_eq!(by_name["Read"]["requests"], 4);
    assert_eq!(by_name["Read"]["replies"], 4);
    assert_eq!(by_name["Read"]["missing"], 0);
    assert_eq!(st["filter"], "qm.function == Read && dir == c2s");
}

fn qmp_captures() -> Vec<&'static str> {
    ALL.iter()
        .copied()
        .filter(|n| n.starts_with("qmp/"))
        .collect()
}

#[test]
fn follow_raw_equals_the_stream_files() {
    for name in qmp_captures() {
        for dir in ["c2s", "s2c"] {
            let out = qscope(&["follow", &pcap(name), "s1", "--raw", "--dir", dir]);
            assert!(out.status.success(), "{name}");
            let want = std::fs::read(bundled(&format!("{name}.{dir}.bin"))).unwrap();
            assert!(out.stdout == want, "{name} {dir}: follow --raw differs");
        }
    }
}

#[test]
fn follow_text_hex_and_addresses() {
    let p = pcap("qmp/qmp-basic");
    let (recs, _) = export(&bundled("qmp/qmp-basic.pcap"), &[]);
    let s = of_type(&recs, "session")[0];
    let by_addr = format!(
        "{}-{}",
        s["server"].as_str().unwrap(),
        s["client"].as_str().unwrap()
    );
    let text = stdout(&qscope(&["follow", &p, &by_addr]));
    assert_eq!(text, stdout(&qscope(&["follow", &p, "s1"])));
    assert!(text.starts_with("# s1 qmp "), "{text}");
    assert!(text
        .lines()
        .skip(1)
        .all(|l| l.starts_with("-> ") || l.starts_with("<- ")));
    assert!(
        text.contains("-> {\"execute\":\"qmp_capabilities\""),
        "{text}"
    );
    assert!(text.contains("<- {\"QMP\": {"), "{text}");
    let hex = stdout(&qscope(&["follow", &p, "s1", "--hex", "--dir", "c2s"]));
    let c2s = std::fs::read(bundled("qmp/qmp-basic.c2s.bin")).unwrap();
    // The dump's bytes, in order, are the direction's bytes.
    let mut dumped = Vec::new();
    for l in hex.lines().skip(1) {
        assert!(l.starts_with("-> "), "{l}");
        let hexpart = &l[13..l.find(" |").unwrap()];
        dumped.extend(
            hexpart
                .split_whitespace()
                .map(|h| u8::from_str_radix(h, 16).unwrap()),
        );
    }
    assert!(dumped == c2s, "hex dump differs from the c2s bytes");
    assert!(hex.contains("-> 00000000  7b 22 65 78"), "{hex}");
    let bad = qscope(&["follow", &p, "s9"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no session 's9'"));
}

#[test]
fn follow_shows_gaps_and_raw_refuses_them() {
    // Drop the client's second data segment.
    let mut pkts = read_pcap(&bundled("qmp/qmp-basic.pcap"));
    let (recs, _) = export(&bundled("qmp/qmp-basic.pcap"), &[]);
    let server_port: u16 = of_type(&recs, "session")[0]["server"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let data: Vec<usize> = pkts
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            let t = common::tcp(&p.frame);
            t.dport == server_port && t.payload_len > 0
        })
        .map(|(i, _)| i)
        .collect();
    let dropped = common::tcp(&pkts[data[1]].frame).payload_len;
    pkts.remove(data[1]);
    let path = scratch("analysis").join("gap.pcap");
    write_pcap(&path, &pkts);
    let p = path.to_str().unwrap();
    let text = stdout(&qscope(&["follow", p, "s1", "--dir", "c2s"]));
    assert!(
        text.contains(&format!("-> [gap: {dropped} bytes at offset ")),
        "{text}"
    );
    let out = qscope(&["follow", p, "s1", "--raw", "--dir", "c2s"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-gaps"));
    let out = qscope(&["follow", p, "s1", "--raw", "--dir", "c2s", "--allow-gaps"]);
    let full = std::fs::read(bundled("qmp/qmp-basic.c2s.bin")).unwrap();
    assert_eq!(stdout(&out).len(), full.len() - dropped);
}

/// Text lines break at 0x0a only in text protocols: QM's binary frames
/// (whose length fields hold 0x0a bytes) stay one line per chunk, while
/// QMP and MQServer's XML form keep one line per line of text.
#[test]
fn follow_breaks_lines_only_in_text_protocols() {
    let qm = stdout(&qscope(&[
        "follow",
        &pcap("qm/qm-1-fileops-qmclilib"),
        "s1",
    ]));
    assert!(qm.contains("\\n"), "the capture has 0x0a bytes");
    // Every QM line is whole frames: its first four bytes are a length
    // that, frame after frame, ends exactly at the line's end.
    let unescape = |t: &str| -> Vec<u8> {
        let b = t.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\' {
                match b[i + 1] {
                    b'x' => {
                        out.push(u8::from_str_radix(&t[i + 2..i + 4], 16).unwrap());
                        i += 4;
                        continue;
                    }
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    c => out.push(c),
                }
                i += 2;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        out
    };
    let mut frames = 0;
    for l in qm.lines().skip(1) {
        let bytes = unescape(&l[3..]);
        if bytes == [6] {
            continue; // the server's unframed greeting byte
        }
        let mut at = 0;
        while at < bytes.len() {
            let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            assert!(len >= 6 && at + len <= bytes.len(), "{l}");
            at += len;
            frames += 1;
        }
    }
    let (recs, _) = export(&bundled("qm/qm-1-fileops-qmclilib.pcap"), &[]);
    assert_eq!(frames, of_type(&recs, "message").len());
    // QMP: a line per line of the stream, each ending in \n.
    let qmp = stdout(&qscope(&["follow", &pcap("qmp/qmp-qga"), "s1"]));
    assert!(qmp.lines().skip(1).filter(|l| l.ends_with("\\n")).count() > 20);
    // MQServer XML: the declaration is a line of its own.
    let xml = stdout(&qscope(&["follow", &pcap("mqserver/mq-xml"), "s1"]));
    assert!(
        xml.lines()
            .any(|l| l.starts_with("<- <?xml ") && l.ends_with("standalone=\"no\">\\n")),
        "{xml}"
    );
}

#[test]
fn follow_reads_standard_input() {
    // One pass of the engine: a capture piped in is followed like a file.
    let path = bundled("qmp/qmp-basic.pcap");
    let capture = std::fs::read(&path).unwrap();
    for args in [
        &["follow", "-", "s1"][..],
        &["follow", "-", "s1", "--hex"],
        &["follow", "-", "s1", "--raw", "--dir", "s2c"],
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_qscope"))
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let capture = capture.clone();
        let writer = std::thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut stdin, &capture);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        assert!(out.status.success(), "{args:?}");
        let mut from_file: Vec<&str> = args.to_vec();
        from_file[1] = path.to_str().unwrap();
        assert_eq!(out.stdout, qscope(&from_file).stdout, "{args:?}");
    }
    let s2c = std::fs::read(bundled("qmp/qmp-basic.s2c.bin")).unwrap();
    assert_eq!(
        qscope(&[
            "follow",
            path.to_str().unwrap(),
            "s1",
            "--raw",
            "--dir",
            "s2c"
        ])
        .stdout,
        s2c
    );
}

fn messages_of(recs: &[Value]) -> Vec<Value> {
    of_type(recs, "message").into_iter().cloned().collect()
}

#[test]
fn write_out_rereads_to_the_filtered_messages() {
    let dir = scratch("analysis");
    let cases = [
        ("qm/qm-1-fileops-qmclilib", "qm.function == Read"),
        ("qmp/qmp-basic", "error"),
        ("qps/qps-1-happy", "name == Signon"),
        ("mqserver/mq-xml", "dir == s2c"),
        ("qmp/qmp-events", "proto == qm"),
    ];
    for (i, (name, expr)) in cases.iter().enumerate() {
        let out = dir.join(format!("w{i}.pcap"));
        let o = out.to_str().unwrap();
        let (first, st) = export(&bundled(&format!("{name}.pcap")), &["-Y", expr, "-w", o]);
        assert!(
            st.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        // A valid pcap (magic, version 2.4), read back by qscope.
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(&bytes[..8], &[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0], "{name}");
        let (again, st) = export(&out, &["-Y", expr]);
        assert!(st.status.success(), "{name}");
        assert_eq!(messages_of(&again), messages_of(&first), "{name} -Y {expr}");
        // Fewer packets than the input unless everything was selected.
        if messages_of(&first).is_empty() {
            assert_eq!(bytes.len(), 24, "{name}: empty pcap");
        }
    }
    // -w on standard input is refused (a usage error).
    let out = qscope(&["export", "-", "-w", "/dev/null"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn expert_notes_and_security_findings() {
    let st = |name: &str, extra: &[&str]| -> Value {
        let p = pcap(name);
        let mut args = vec!["stats", p.as_str(), "--format", "json", "--expert"];
        args.extend_from_slice(extra);
        serde_json::from_str(&stdout(&qscope(&args))).unwrap()
    };
    let qm = st("qm/qm-1-fileops-qmclilib", &[]);
    let f = &qm["security"].as_array().unwrap()[0];
    assert_eq!(f["finding"], "clear-text credentials (QM Login)");
    assert_eq!(
        (f["user"].as_str(), f["session"].as_str()),
        (Some("qmtest"), Some("s1"))
    );
    assert_eq!(f["index"], 0);
    assert_eq!(f["password"], "<redacted>");
    let shown = st("qm/qm-1-fileops-qmclilib", &["--show-secrets"]);
    assert_ne!(shown["security"][0]["password"], "<redacted>");
    assert!(shown["security"][0]["password"].is_string());
    let expert = qm["expert"].as_array().unwrap();
    let texts: Vec<&str> = expert.iter().map(|g| g["text"].as_str().unwrap()).collect();
    assert!(texts.contains(&"request never answered: Quit"), "{texts:?}");
    assert!(texts.contains(&"error reply to Read"), "{texts:?}");
    // Grouped: errors, then warnings, then info.
    let sev: Vec<&str> = expert
        .iter()
        .map(|g| g["severity"].as_str().unwrap())
        .collect();
    let rank = |s: &str| {
        ["error", "warn", "info"]
            .iter()
            .position(|x| *x == s)
            .unwrap()
    };
    assert!(sev.windows(2).all(|w| rank(w[0]) <= rank(w[1])), "{sev:?}");
    for g in expert {
        assert_eq!(g["count"], g["at"].as_array().unwrap().len() as u64);
    }

    let qps = st("qps/qps-1-happy", &[]);
    let f = &qps["security"][0];
    assert_eq!(f["finding"], "clear-text credentials (QPS Signon)");
    assert_eq!(f["user"], "editor");
    assert_ne!(f["password"], Value::Null);
    assert!(f["password"].as_str().unwrap().contains("redacted"));

    let mq = st("mqserver/mq-xml", &[]);
    let f = &mq["security"][0];
    assert_eq!(f["finding"], "clear-text credentials (MQServer AUTH)");
    assert!(f["user"].is_string());
    assert_eq!(f["index"], 3);

    let t = stdout(&qscope(&[
        "stats",
        &pcap("qm/qm-1-fileops-qmclilib"),
        "--expert",
    ]));
    assert!(
        t.contains("# Expert notes") && t.contains("# Security findings"),
        "{t}"
    );
    assert!(t.contains("user=\"qmtest\" password=\"<redacted>\""), "{t}");
}

#[test]
fn unauthenticated_local_login_and_timeouts() {
    // A QM LocalLogin over TCP, answered after 31 s.
    let mut c = common::Conv::new(40000, 4243);
    let mut req = Vec::new();
    req.extend_from_slice(&6u32.to_le_bytes());
    req.extend_from_slice(&25u16.to_le_bytes());
    c.s2c(&[0x06]).c2s(&req);
    let ts = c.pkts.last().unwrap().ts_us;
    let mut resp = Vec::new();
    resp.extend_from_slice(&10u32.to_le_bytes());
    resp.extend_from_slice(&0u16.to_le_bytes());
    resp.extend_from_slice(&0i32.to_le_bytes());
    c.s2c(&resp).close();
    let n = c.pkts.len();
    for p in &mut c.pkts[n - 5..] {
        p.ts_us += 31_000_000;
    }
    assert!(c.pkts[n - 5].ts_us > ts);
    let path = scratch("analysis").join("locallogin.pcap");
    c.write(&path);
    let p = path.to_str().unwrap();
    let st: Value = serde_json::from_str(&stdout(&qscope(&[
        "stats", p, "--format", "json", "--expert",
    ])))
    .unwrap();
    let f = &st["security"].as_array().unwrap();
    assert!(
        f.iter().any(|f| f["finding"]
            .as_str()
            .unwrap()
            .starts_with("unauthenticated QM LocalLogin over TCP")),
        "{st}"
    );
    let texts: Vec<&str> = st["expert"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["text"].as_str().unwrap())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("reply after more than 30 s")),
        "{texts:?}"
    );
}

#[test]
fn ek_bulk_lines_alternate_and_parse() {
    for name in [
        "qmp/qmp-basic",
        "qm/qm-1-fileops-qmclilib",
        "mqserver/mq-xml",
    ] {
        let (recs, _) = export(&bundled(&format!("{name}.pcap")), &[]);
        let msgs = of_type(&recs, "message");
        let text = stdout(&qscope(&["export", &pcap(name), "--format", "ek"]));
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
            .collect();
        assert_eq!(lines.len(), 2 * msgs.len(), "{name}");
        for (pair, m) in lines.chunks(2).zip(&msgs) {
            let index = pair[0]["index"]["_index"].as_str().unwrap();
            let day = m["ts"].as_str().unwrap()[..10].replace('-', ".");
            assert_eq!(index, format!("qscope-{day}"));
            assert_eq!(pair[0].as_object().unwrap().len(), 1);
            let doc = &pair[1];
            assert_eq!(doc["@timestamp"], m["ts"]);
            assert_eq!(doc["client"], of_type(&recs, "session")[0]["client"]);
            for (k, v) in m.as_object().unwrap() {
                assert_eq!(&doc[k], v, "{name}: {k}");
            }
        }
    }
    // With -Y: only the selected messages.
    let text = stdout(&qscope(&[
        "export",
        &pcap("qmp/qmp-basic"),
        "--format",
        "ek",
        "-Y",
        "error",
    ]));
    assert!(text.lines().count() >= 2);
    for l in text.lines().skip(1).step_by(2) {
        assert!(l.contains("\"error\":true"));
    }
}

/// A QMP session (greeting, qmp_capabilities) on port 4444 from `cport`,
/// then `names` distinct commands `cmd-NNNNN`, each answered unless
/// `answer` is false; timestamps start `t0_s` seconds after the Conv's.
fn qmp_conv(cport: u16, names: usize, answer: bool, t0_s: i64) -> common::Conv {
    let mut c = common::Conv::new(cport, 4444);
    c.s2c(b"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, \"package\": \"\"}, \"capabilities\": []}}\r\n")
        .c2s(b"{\"execute\": \"qmp_capabilities\"}\r\n")
        .s2c(b"{\"return\": {}}\r\n");
    for i in 0..names {
        c.c2s(format!("{{\"execute\": \"cmd-{i:05}\", \"id\": {i}}}\r\n").as_bytes());
        if answer {
            c.s2c(format!("{{\"return\": {{}}, \"id\": {i}}}\r\n").as_bytes());
        }
    }
    c.close();
    for p in &mut c.pkts {
        p.ts_us += t0_s * 1_000_000;
    }
    c
}

/// Beyond the first 1,000 distinct names of a protocol, messages count
/// together under `(other)` (`folded` in JSON, with the number of names),
/// in the report and in the export's summary; nothing is lost.
#[test]
fn names_beyond_the_cap_are_folded() {
    let path = scratch("analysis").join("names5000.pcap");
    qmp_conv(40000, 5000, true, 0).write(&path);
    let p = path.to_str().unwrap();
    let st: Value =
        serde_json::from_str(&stdout(&qscope(&["stats", p, "--format", "json"]))).unwrap();
    let qmp = &st["protocols"]["qmp"];
    let by_name = qmp["by_name"].as_object().unwrap();
    // greeting and qmp_capabilities came first: 998 commands kept.
    assert_eq!(by_name.len(), 1000, "{qmp}");
    assert!(by_name.contains_key("qmp_capabilities") && by_name.contains_key("cmd-00997"));
    assert!(!by_name.contains_key("cmd-00998"));
    let folded = &qmp["folded"];
    assert_eq!(folded["names"], 4002, "{folded}");
    assert_eq!(folded["messages"], 2 * 4002);
    assert_eq!(folded["requests"], 4002);
    assert_eq!(folded["replies"], 4002);
    assert_eq!(folded["missing"], 0);
    assert_eq!(folded["latency_us"]["count"], 4002);
    let sum = |k: &str| -> u64 {
        by_name
            .values()
            .map(|n| n[k].as_u64().unwrap())
            .sum::<u64>()
            + folded[k].as_u64().unwrap()
    };
    for k in ["messages", "requests", "replies", "missing"] {
        assert_eq!(qmp[k], sum(k), "{k}: the totals include the folded names");
    }
    assert_eq!(qmp["messages"], 1 + 2 + 2 * 5000);
    assert!(st.get("limits").is_none(), "no other cap reached");
    // The table has the row, --expert says how many names were folded.
    let t = stdout(&qscope(&["stats", p, "--expert"]));
    assert!(
        t.lines()
            .any(|l| l.starts_with("qmp    (other)") && l.contains(" 8004 ")),
        "{t}"
    );
    assert!(
        t.contains("qmp: 4,002 distinct names beyond the first 1,000 counted under (other)"),
        "{t}"
    );
    // The export's summary folds the same way.
    let (recs, _) = export(&path, &[]);
    let sum = recs.last().unwrap();
    let qmp = &sum["protocols"]["qmp"];
    assert_eq!(qmp["by_name"].as_object().unwrap().len(), 1000);
    assert_eq!(qmp["folded"]["names"], 4002, "{}", qmp["folded"]);
    assert_eq!(qmp["folded"]["requests"], 4002);
    assert_eq!(qmp["folded"]["responses"], 4002);
    assert_eq!(sum["latency_us"]["count"], 5001);
}

/// `--sessions N`: at most N session rows in the table and one line for
/// the rest; the JSON lists every session.
#[test]
fn stats_sessions_option_caps_the_table() {
    let mut pkts = Vec::new();
    for k in 0..25u16 {
        pkts.extend(qmp_conv(41000 + k, 2, true, i64::from(k)).pkts);
    }
    let path = scratch("analysis").join("sessions25.pcap");
    write_pcap(&path, &pkts);
    let p = path.to_str().unwrap();
    let rows = |t: &str| -> Vec<String> {
        let s = t.split("# Sessions\n").nth(1).unwrap();
        s.lines()
            .skip(1)
            .take_while(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let t = stdout(&qscope(&["stats", p]));
    let r = rows(&t);
    assert_eq!(r.len(), 21, "{t}");
    assert!(r[0].starts_with("s1 ") && r[19].starts_with("s20 "), "{t}");
    assert_eq!(
        r[20],
        "... and 5 more sessions; --sessions 0 lists them all"
    );
    let t = stdout(&qscope(&["stats", p, "--sessions", "3"]));
    let r = rows(&t);
    assert_eq!(r.len(), 4, "{t}");
    assert_eq!(
        r[3],
        "... and 22 more sessions; --sessions 0 lists them all"
    );
    for n in ["0", "25", "100"] {
        let t = stdout(&qscope(&["stats", p, "--sessions", n]));
        let r = rows(&t);
        assert_eq!(r.len(), 25, "--sessions {n}: {t}");
        assert!(r[24].starts_with("s25 "), "{t}");
    }
    let st: Value =
        serde_json::from_str(&stdout(&qscope(&["stats", p, "--format", "json"]))).unwrap();
    let ids: Vec<&str> = st["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 25);
    assert_eq!(ids[..3], ["s1", "s2", "s3"], "order of appearance");
    assert_eq!(st["protocols"]["qmp"]["sessions"], 25);
}

/// More unanswered requests in a session than the pairing state keeps:
/// the oldest are dropped and counted as missing then, so MISSING is
/// still exact when no reply comes; the report says so.
#[test]
fn unanswered_requests_beyond_the_pairing_cap_count_as_missing() {
    let path = scratch("analysis").join("unanswered5000.pcap");
    qmp_conv(40000, 5000, false, 0).write(&path);
    let p = path.to_str().unwrap();
    let st: Value = serde_json::from_str(&stdout(&qscope(&[
        "stats", p, "--format", "json", "--expert",
    ])))
    .unwrap();
    let qmp = &st["protocols"]["qmp"];
    assert_eq!(qmp["requests"], 5001);
    assert_eq!(qmp["missing"], 5000, "{qmp}");
    assert_eq!(qmp["replies"], 1);
    // 5,000 open requests, 4,096 kept.
    assert_eq!(
        st["limits"]["requests_untracked"],
        5000 - 4096,
        "{}",
        st["limits"]
    );
    // One note each; beyond 1,000 distinct texts they count together.
    let count = |pred: &dyn Fn(&str) -> bool| -> u64 {
        st["expert"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| pred(g["text"].as_str().unwrap()))
            .map(|g| g["count"].as_u64().unwrap())
            .sum()
    };
    let never = count(&|t| t.starts_with("request never answered: cmd-"));
    let folded = count(&|t| t.starts_with("(other notes"));
    assert!(never >= 900, "{never}");
    assert_eq!(never + folded, 5000);
    let groups = st["expert"].as_array().unwrap().len();
    assert!(groups <= 1000 + 3 + 1, "{groups} groups");
}

/// The table of `stats` lists the first `--sessions N` rows: the report
/// keeps no more (memory does not grow with the sessions) and says the
/// same as when it keeps them all.
#[test]
fn a_report_that_keeps_only_the_rows_it_shows_says_the_same() {
    let path = mixed("analysis", 4);
    let detail = |rows: Option<usize>| {
        let mut src = qscope::capture::FileSource::open(&path).unwrap();
        let mut c = qscope::stats::Collector::detailed(None, 10);
        if let (Some(n), Some(d)) = (rows, c.detail.as_mut()) {
            d.keep_rows(n);
        }
        qscope::engine::analyze(&mut src, Default::default(), &mut c).unwrap();
        let mut d = c.detail.take().unwrap();
        d.finish();
        d
    };
    let all = detail(None);
    let few = detail(Some(3));
    let ids = |d: &qscope::stats::Detail| -> Vec<(String, u64)> {
        d.sessions()
            .iter()
            .map(|s| (s.id.clone(), s.messages))
            .collect()
    };
    assert!(all.sessions().len() > 10, "{}", all.sessions().len());
    assert_eq!(ids(&few), ids(&all)[..3]);
    assert_eq!(all.rows_unkept(), 0);
    assert_eq!(few.rows_unkept(), all.sessions().len() as u64 - 3);
    assert_eq!(few.limits(), all.limits());
    assert_eq!(few.expert(), all.expert());
    assert_eq!(few.slowest(), all.slowest());
    let protos = |d: &qscope::stats::Detail| {
        let p: Vec<_> = d
            .protos()
            .map(|(k, p)| (k, format!("{:?}", p.names()), p.sessions))
            .collect();
        p
    };
    assert_eq!(protos(&few), protos(&all));
    // The table as printed: the same rows and the same line for the rest.
    let p = path.to_str().unwrap();
    let t = String::from_utf8(qscope(&["stats", p, "--sessions", "3"]).stdout).unwrap();
    let more = all.sessions().len() - 3;
    assert!(
        t.contains(&format!(
            "... and {more} more sessions; --sessions 0 lists them all"
        )),
        "{t}"
    );
}

#[test]
fn follow_with_its_arguments_swapped_says_which_comes_first() {
    let cap = pcap("qmp/qmp-basic");
    let out = qscope(&["follow", "s1", &cap]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "(the capture comes first: qscope follow {cap} s1)"
        )),
        "{err}"
    );
    // A capture that is simply missing gets no such hint.
    let out = qscope(&["follow", "no-such-capture.pcap", "s1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot open") && !err.contains("comes first"),
        "{err}"
    );
}

/// `qscope stats` without a filter has the engine trim every message to
/// what the statistics read (`stats::trim`): the report is the same as
/// from whole messages, on every bundled capture, secrets shown or not.
#[test]
fn statistics_from_trimmed_messages_are_the_same() {
    let mut paths: Vec<std::path::PathBuf> = Vec::new();
    for dir in ["qmp", "qmp-qapi", "qm", "qps", "mqserver"] {
        for e in std::fs::read_dir(bundled(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
                paths.push(p);
            }
        }
    }
    paths.sort();
    paths.push(mixed("analysis-trim", 2));
    let mut passwords = 0;
    for path in &paths {
        for secrets in [false, true] {
            let report = |trim: bool| {
                let mut cfg = qscope::engine::Config::default();
                cfg.opts.show_secrets = secrets;
                if trim {
                    cfg.opts.lean = true;
                    cfg.trim = Some(qscope::stats::trim);
                }
                let mut src = qscope::capture::FileSource::open(path).unwrap();
                let mut c = qscope::stats::Collector::detailed(None, 10);
                // A damaged capture still has a report of what came before.
                let _ = qscope::engine::analyze(&mut src, cfg, &mut c);
                let mut d = c.detail.take().unwrap();
                d.finish();
                let protos: Vec<_> = d
                    .protos()
                    .map(|(p, x)| (p, format!("{:?} {:?}", x.names(), x.total())))
                    .collect();
                let passwords = d.findings().iter().filter(|f| f.password.is_some()).count();
                let text = format!(
                    "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{protos:?}",
                    d.findings(),
                    d.expert(),
                    d.slowest(),
                    d.sessions(),
                    d.limits(),
                );
                (text, passwords)
            };
            let (whole, n) = report(false);
            assert_eq!(whole, report(true).0, "{}", path.display());
            passwords += n;
        }
    }
    // The fields trimming keeps are read: findings with a password.
    assert!(passwords > 0);
}
