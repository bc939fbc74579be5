//! End to end on the MQServer captures (XML from the real server and
//! client library, the EARLY binary and TEXT forms from simulators): every
//! capture exported by the real binary scores 100 % with no extra message
//! against its ground truth (by the rules of check-export.py); every byte
//! is accounted for; replies carry their request's index; passwords stay
//! redacted; lossy and mid-stream variants recover without inventing
//! messages.

mod common;

use common::*;
use serde_json::Value;

const CAPTURES: [(&str, &str); 3] = [
    ("mq-xml", "xml"),
    ("mq-binary", "binary"),
    ("mq-text", "text"),
];

#[test]
fn mq_xml_scores_100_percent() {
    check_export("mqserver/mq-xml");
}

#[test]
fn mq_binary_scores_100_percent() {
    check_export("mqserver/mq-binary");
}

#[test]
fn mq_text_scores_100_percent() {
    check_export("mqserver/mq-text");
}

/// `(mid, msgtype)` of the ground truth, per direction.
fn truth(name: &str, dir: &str) -> Vec<(i64, i64)> {
    std::fs::read_to_string(bundled(&format!("mqserver/{name}.truth.jsonl")))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["dir"] == dir)
        .map(|r| {
            (
                r["check"]["mid"].as_i64().unwrap(),
                r["check"]["msgtype"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn got(recs: &[Value], dir: &str) -> Vec<(i64, i64)> {
    of_type(recs, "message")
        .into_iter()
        .filter(|m| m["dir"] == dir)
        .map(|m| {
            (
                m["fields"]["mid"].as_i64().unwrap(),
                m["fields"]["msgtype"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn export_ok(path: &std::path::Path, extra: &[&str]) -> Vec<Value> {
    let (recs, out) = export(path, extra);
    assert!(
        out.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    recs
}

#[test]
fn every_stream_byte_is_accounted_for() {
    for (name, encoding) in CAPTURES {
        let pcap = bundled(&format!("mqserver/{name}.pcap"));
        let recs = export_ok(&pcap, &[]);
        let covered = assert_coverage(&recs);
        // The tiles add up to every payload byte of the capture.
        let pkts = read_pcap(&pcap);
        let total: u64 = pkts.iter().map(|p| tcp(&p.frame).payload_len as u64).sum();
        assert_eq!(covered.values().sum::<u64>(), total, "{name}");
        assert!(of_type(&recs, "gap").is_empty(), "{name}");
        let sessions = of_type(&recs, "session");
        assert_eq!(sessions.len(), 1, "{name}");
        assert_eq!(sessions[0]["proto"], "mqserver");
        assert_eq!(sessions[0]["mid_stream"], false);
        for m in of_type(&recs, "message") {
            assert_eq!(m["proto"], "mqserver");
            assert_eq!(m["fields"]["encoding"], encoding, "{name}");
            let t = m["fields"]["msgtype"].as_i64().unwrap();
            assert!((1..=19).contains(&t));
            let summary = m["summary"].as_str().unwrap_or("");
            assert!(!summary.chars().any(char::is_control), "{summary:?}");
        }
        // Clean captures: only separators or padding are undecoded.
        for u in of_type(&recs, "undecoded") {
            assert_eq!(u["severity"], "info", "{name}: {u}");
        }
    }
}

#[test]
fn replies_carry_their_request_index_and_latency() {
    for (name, _) in CAPTURES {
        let recs = export_ok(&bundled(&format!("mqserver/{name}.pcap")), &[]);
        let msgs = of_type(&recs, "message");
        for (i, m) in msgs.iter().enumerate() {
            assert_eq!(m["index"], i as u64);
        }
        let mut paired = 0;
        for m in &msgs {
            if matches!(
                m["name"].as_str(),
                Some("ACK" | "ERROR" | "QUEUEINFO" | "CLNTCAP")
            ) {
                let req = m["reply_to"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{name}: {m}"));
                let req = &msgs[req as usize];
                assert_ne!(req["dir"], m["dir"], "{name}: {m}");
                assert!(m["latency_us"].as_i64().unwrap() >= 0);
                paired += 1;
            }
        }
        assert!(paired >= 4, "{name}: {paired}");
    }
    // The observed XML session: ACK bodies name the CLNTCAP and the AUTH.
    let recs = export_ok(&bundled("mqserver/mq-xml.pcap"), &[]);
    let msgs = of_type(&recs, "message");
    let acks: Vec<&&Value> = msgs.iter().filter(|m| m["name"] == "ACK").collect();
    let targets: Vec<&str> = acks
        .iter()
        .map(|a| {
            msgs[a["reply_to"].as_u64().unwrap() as usize]["name"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(targets, ["CLNTCAP", "AUTH"]);
    // MSGFROMQUEUE echoes are linked to the SENDTOQUEUE they repeat, and
    // their nested payload is decoded.
    for m in msgs.iter().filter(|m| m["name"] == "MSGFROMQUEUE") {
        let sent = m["links"]["sendtoqueue"].as_u64().unwrap();
        assert_eq!(msgs[sent as usize]["name"], "SENDTOQUEUE");
        assert_eq!(
            m["fields"]["payload"]["items"][1],
            serde_json::json!({"int32": 1})
        );
    }
}

#[test]
fn passwords_are_redacted_unless_asked() {
    for (name, _) in CAPTURES {
        let pcap = bundled(&format!("mqserver/{name}.pcap"));
        let secret = if name == "mq-xml" {
            "haha"
        } else {
            "34654e968f97c8033788ef914171107c"
        };
        for cmd in [&["export", "--format", "jsonl"][..], &["print", "-V"][..]] {
            let mut args = vec![cmd[0], pcap.to_str().unwrap()];
            args.extend_from_slice(&cmd[1..]);
            let out = qscope(&args);
            assert!(out.status.success());
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(!text.contains(secret), "{name} {cmd:?}: password shown");
            assert!(text.contains("<redacted>"), "{name} {cmd:?}");
            args.push("--show-secrets");
            let out = qscope(&args);
            assert!(
                String::from_utf8_lossy(&out.stdout).contains(secret),
                "{name}"
            );
        }
    }
}

#[test]
fn picked_up_mid_stream_recovers_a_tail_of_the_conversation() {
    for (name, _) in CAPTURES {
        let pkts = read_pcap(&bundled(&format!("mqserver/{name}.pcap")));
        // Drop the handshake and the first data segments.
        let first_data: Vec<usize> = (0..pkts.len())
            .filter(|&i| tcp(&pkts[i].frame).payload_len > 0)
            .collect();
        let cut = first_data[3];
        let path = scratch("mq-mid").join(format!("{name}.pcap"));
        write_pcap(&path, &pkts[cut..]);
        let recs = export_ok(&path, &[]);
        let sessions = of_type(&recs, "session");
        assert_eq!(sessions.len(), 1, "{name}");
        assert_eq!(sessions[0]["proto"], "mqserver", "{name}");
        assert_eq!(sessions[0]["mid_stream"], true);
        assert_coverage(&recs);
        let mut total = 0;
        for dir in ["c2s", "s2c"] {
            let want = truth(name, dir);
            let g = got(&recs, dir);
            assert!(g.len() <= want.len(), "{name} {dir}");
            assert_eq!(g, want[want.len() - g.len()..], "{name} {dir}: not a tail");
            total += g.len();
        }
        assert!(total > 0, "{name}: nothing recovered");
    }
}

#[test]
fn a_missing_segment_is_a_gap_and_decoding_resumes() {
    for (name, _) in CAPTURES {
        let mut pkts = read_pcap(&bundled(&format!("mqserver/{name}.pcap")));
        let data: Vec<usize> = (0..pkts.len())
            .filter(|&i| tcp(&pkts[i].frame).payload_len > 0)
            .collect();
        let lost = data[data.len() / 2];
        let lost_len = tcp(&pkts[lost].frame).payload_len as u64;
        pkts.remove(lost);
        let path = scratch("mq-gap").join(format!("{name}.pcap"));
        write_pcap(&path, &pkts);
        let recs = export_ok(&path, &[]);
        assert_coverage(&recs);
        let gaps = of_type(&recs, "gap");
        assert_eq!(gaps.len(), 1, "{name}");
        assert_eq!(gaps[0]["len"], lost_len, "{name}");
        let gap_dir = gaps[0]["dir"].as_str().unwrap();
        for dir in ["c2s", "s2c"] {
            let want = truth(name, dir);
            let g = got(&recs, dir);
            // Nothing invented: the messages are the truth minus a few.
            let mut it = want.iter();
            assert!(g.iter().all(|x| it.any(|w| w == x)), "{name} {dir}: {g:?}");
            if dir == gap_dir {
                assert!(g.len() < want.len() && g.len() + 3 >= want.len(), "{name}");
                // Decoding resumed: the last message is decoded.
                assert_eq!(g.last(), want.last(), "{name}");
            } else {
                assert_eq!(g, want, "{name} {dir}");
            }
        }
    }
}

/// `print` shows each message's name once (the summary does not repeat
/// it, and an ERROR message is not marked "ERROR" twice).
#[test]
fn print_shows_the_name_once() {
    for name in ["mq-xml", "mq-binary", "mq-text"] {
        let path = bundled(&format!("mqserver/{name}.pcap"));
        let out = qscope(&["print", path.to_str().unwrap()]);
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = 0;
        for l in text.lines().filter(|l| l.contains(" mqserver ")) {
            let after = l.split(" mqserver ").nth(1).unwrap();
            let words: Vec<&str> = after.split_whitespace().collect();
            assert_ne!(words.first(), words.get(1), "{name}: {l}");
            lines += 1;
        }
        assert!(lines > 5, "{name}: {text}");
    }
}
