//! What qscope reports for imperfect captures, derived from real QEMU
//! traffic (qmp-basic) by rewriting its segments: reordered, duplicated and
//! re-segmented retransmissions (nothing lost: same messages as the
//! original), a missing segment (a gap with its exact offset and length,
//! decoding resumes after it), and a capture picked up mid-stream.

mod common;

use common::*;
use serde_json::Value;

fn truth_values(name: &str, dir: &str) -> Vec<Value> {
    std::fs::read_to_string(bundled(&format!("qmp/{name}.truth.jsonl")))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["dir"] == dir)
        .map(|r| r["check"]["value"].clone())
        .collect()
}

/// Asserts two message lists are equal, showing only the first difference.
#[track_caller]
fn same(got: &[Value], want: &[Value], what: &str) {
    let short = |v: &Value| v.to_string().chars().take(200).collect::<String>();
    if let Some(i) = (0..got.len().min(want.len())).find(|&i| got[i] != want[i]) {
        panic!(
            "{what}: message {i} differs:\n got  {}\n want {}",
            short(&got[i]),
            short(&want[i])
        );
    }
    assert_eq!(got.len(), want.len(), "{what}: message count");
}

fn values(recs: &[Value], dir: &str) -> Vec<Value> {
    of_type(recs, "message")
        .into_iter()
        .filter(|m| m["dir"] == dir)
        .map(|m| m["fields"]["value"].clone())
        .collect()
}

/// Data-carrying packets of the server (port 4444) direction, by index.
fn server_data(pkts: &[Pkt]) -> Vec<usize> {
    (0..pkts.len())
        .filter(|&i| {
            let t = tcp(&pkts[i].frame);
            t.sport == 4444 && t.payload_len > 0
        })
        .collect()
}

#[test]
fn reordered_duplicated_and_resegmented_segments_change_nothing() {
    let mut pkts = read_pcap(&bundled("qmp/qmp-basic.pcap"));
    let data = server_data(&pkts);
    // The schema reply spans dozens of server segments in a row: play with them.
    let a = data[data.len() / 2];
    let b = data[data.len() / 2 + 1];
    assert!(tcp(&pkts[a].frame).payload_len > 100);
    // 1. two consecutive segments arrive the other way round (b before a);
    //    the client's ACK of a alone goes (it would ACK both once b came).
    assert!(
        (a + 1..b).all(|i| tcp(&pkts[i].frame).payload_len == 0),
        "only ACKs between"
    );
    pkts.drain(a + 1..b);
    pkts.swap(a, a + 1);
    let data = server_data(&pkts);
    let c = data[data.len() / 2 + 3];
    // 2. an exact duplicate of c right after it
    let dup = pkts[c].clone();
    pkts.insert(c + 1, dup);
    // 3. a retransmission of c re-segmented into two overlapping halves, later
    let f = pkts[c].frame.clone();
    let n = tcp(&f).payload_len;
    let ts = pkts[c + 2].ts_us;
    pkts.insert(
        c + 2,
        Pkt {
            ts_us: ts,
            frame: slice_segment(&f, 0..n / 2 + 10),
        },
    );
    pkts.insert(
        c + 3,
        Pkt {
            ts_us: ts,
            frame: slice_segment(&f, n / 2..n),
        },
    );
    // 4. a client segment delivered twice
    let first_client = (0..pkts.len())
        .find(|&i| tcp(&pkts[i].frame).dport == 4444 && tcp(&pkts[i].frame).payload_len > 0)
        .unwrap();
    let dup = pkts[first_client].clone();
    pkts.insert(first_client + 1, dup);

    let path = scratch("lossy").join("reordered.pcap");
    write_pcap(&path, &pkts);
    let (recs, out) = export(&path, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    same(
        &values(&recs, "s2c"),
        &truth_values("qmp-basic", "s2c"),
        "s2c",
    );
    same(
        &values(&recs, "c2s"),
        &truth_values("qmp-basic", "c2s"),
        "c2s",
    );
    assert!(of_type(&recs, "gap").is_empty());
    assert_coverage(&recs);
    let summary = of_type(&recs, "summary")[0];
    assert!(
        summary["tcp"]["retransmissions"].as_u64().unwrap() >= 3,
        "{summary}"
    );
    assert!(
        summary["tcp"]["out_of_order"].as_u64().unwrap() >= 1,
        "{summary}"
    );
}

#[test]
fn missing_segment_is_a_gap_with_offset_and_length_and_decoding_resumes() {
    let mut pkts = read_pcap(&bundled("qmp/qmp-basic.pcap"));
    let syn_ack = pkts
        .iter()
        .map(|p| tcp(&p.frame))
        .find(|t| t.syn && t.sport == 4444)
        .unwrap();
    let data = server_data(&pkts);
    // Drop a segment in the middle of the 207 kB query-qmp-schema reply.
    let victim = data[data.len() / 2];
    let t = tcp(&pkts[victim].frame);
    let want_offset = t.seq.wrapping_sub(syn_ack.seq).wrapping_sub(1) as u64;
    let want_len = t.payload_len as u64;
    pkts.remove(victim);

    let path = scratch("lossy").join("missing.pcap");
    write_pcap(&path, &pkts);
    let (recs, out) = export(&path, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gaps = of_type(&recs, "gap");
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0]["dir"], "s2c");
    assert_eq!(gaps[0]["offset"].as_u64(), Some(want_offset));
    assert_eq!(gaps[0]["len"].as_u64(), Some(want_len));
    assert_coverage(&recs);

    // Everything but the message the gap cut is still decoded, in order:
    // the schema reply is lost (its pieces are undecoded), the rest is there.
    let truth = truth_values("qmp-basic", "s2c");
    let got = values(&recs, "s2c");
    let lost: Vec<&Value> = truth.iter().filter(|v| !got.contains(v)).collect();
    assert_eq!(lost.len(), 1, "exactly one server message lost");
    assert_eq!(
        lost[0]["id"], "__qmp#00002",
        "the lost one is the query-qmp-schema reply"
    );
    assert_eq!(got.len(), truth.len() - 1);
    same(
        &values(&recs, "c2s"),
        &truth_values("qmp-basic", "c2s"),
        "c2s",
    );
    // The remains of the cut message, before and after the gap, are reported
    // as undecoded ranges (one before the gap, one after it), not lost.
    let remains: Vec<_> = of_type(&recs, "undecoded")
        .into_iter()
        .filter(|u| u["dir"] == "s2c" && u["reason"] != "whitespace")
        .collect();
    assert_eq!(remains.len(), 2, "{remains:?}");
    assert_eq!(remains[0]["severity"], "warn", "the message cut by the gap");
    let end = |u: &Value| u["offset"].as_u64().unwrap() + u["len"].as_u64().unwrap();
    assert_eq!(end(remains[0]), want_offset);
    assert_eq!(remains[1]["offset"].as_u64(), Some(want_offset + want_len));
    let total: u64 = remains
        .iter()
        .map(|u| u["len"].as_u64().unwrap())
        .sum::<u64>()
        + want_len;
    assert!(
        total > 200_000,
        "the lost schema reply is about 207 kB ({total})"
    );
}

#[test]
fn capture_picked_up_mid_stream_recovers_following_messages() {
    let pkts = read_pcap(&bundled("qmp/qmp-basic.pcap"));
    let data = server_data(&pkts);
    // Start the capture in the middle of the schema reply: no handshake, both
    // directions start inside the conversation.
    let cut = data[data.len() / 2];
    let path = scratch("lossy").join("midstream.pcap");
    write_pcap(&path, &pkts[cut..]);
    let (recs, out) = export(&path, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sessions = of_type(&recs, "session");
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["proto"], "qmp");
    assert_eq!(sessions[0]["mid_stream"], true);
    assert_eq!(sessions[0]["server"], "127.0.0.1:4444");
    assert_coverage(&recs);

    // No invented message: what is decoded is exactly a tail of the truth.
    for dir in ["s2c", "c2s"] {
        let truth = truth_values("qmp-basic", dir);
        let got = values(&recs, dir);
        assert!(!got.is_empty() || dir == "c2s", "{dir}: nothing recovered");
        assert!(got.len() <= truth.len(), "{dir}: more messages than sent");
        same(&got, &truth[truth.len() - got.len()..], dir);
    }
    // The server messages after the schema reply are all recovered.
    let truth = truth_values("qmp-basic", "s2c");
    // (query-qmp-schema was sent with id "__qmp#00002")
    let schema = truth.iter().position(|v| v["id"] == "__qmp#00002").unwrap();
    assert_eq!(values(&recs, "s2c").len(), truth.len() - schema - 1);
    // The partial message before the start point is reported, not lost.
    let first = of_type(&recs, "undecoded")
        .into_iter()
        .find(|u| u["dir"] == "s2c")
        .unwrap();
    assert_eq!(first["offset"], 0);
}
