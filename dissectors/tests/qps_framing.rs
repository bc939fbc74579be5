//! QPS framing: content detection, chunking, mid-stream pickup, gaps,
//! untrusted lengths, truncation and the response Length decision (D2);
//! and robustness on arbitrary bytes.

mod qps_common;

use proptest::prelude::*;
use qps_common::*;
use qscope_dissectors::driver::{Driver, Item, Limits};
use qscope_dissectors::qps::{probe, Qps};
use qscope_dissectors::{fuzzing, Dir, Options, Proto, SessionStart, Severity, Verdict};
use Dir::{C2S, S2C};

const SID: u16 = 0x2b1c;

/// A small but complete conversation.
fn conversation() -> Vec<(Dir, Vec<u8>)> {
    vec![
        (C2S, signon(1, b"editor", b"s3cret", false)),
        (S2C, ok(1, &be32(u32::from(SID)))),
        (C2S, req(SID, 0x66, 2, &[0; 20], &[])),
        (
            S2C,
            ok(
                2,
                &publications_data(&[(b"Daily Herald", 0x1001), (b"Web", 0x1004)]),
            ),
        ),
        (C2S, search(SID, 3, &[0x1001], &[query(0x69, 6, 1)])),
        (S2C, ok(3, &7u16.to_be_bytes())),
        (C2S, req(SID, 0x43, 4, &[], &[])),
        (S2C, search_update(3, b"late.qxd", true)),
        (S2C, ok(4, &result_entry(0x80, b"a.qxd", false))),
        (C2S, req(SID, 0x16, 5, &SID.to_be_bytes(), &[])),
        (S2C, ok(5, &[])),
        (C2S, req(SID, 0x06, 6, &[], &[])),
    ]
}

fn stream(conv: &[(Dir, Vec<u8>)], dir: Dir) -> Vec<u8> {
    conv.iter()
        .filter(|(d, _)| *d == dir)
        .flat_map(|(_, b)| b.clone())
        .collect()
}

fn shape(items: &[Item]) -> Vec<(Dir, u64, usize, String, String)> {
    msgs(items)
        .iter()
        .map(|m| (m.dir, m.offset, m.len, m.name.clone(), m.summary.clone()))
        .collect()
}

#[test]
fn probe_recognises_both_header_layouts() {
    let conv = conversation();
    let c = stream(&conv, C2S);
    let s = stream(&conv, S2C);
    let fresh = SessionStart::default();
    let mid = SessionStart { mid_stream: true };
    assert_eq!(probe(&c, &s, fresh), Verdict::Match { swap: false });
    assert_eq!(probe(&c[..36], &[], fresh), Verdict::Match { swap: false });
    // The side that opened the connection speaks like a server.
    assert_eq!(probe(&s, &c, fresh), Verdict::Match { swap: true });
    assert_eq!(probe(&[], &c[..36], fresh), Verdict::Match { swap: true });
    // Undecided while the first header is incomplete but consistent.
    assert_eq!(probe(&[], &[], fresh), Verdict::NeedMore);
    assert_eq!(probe(&c[..5], &[], fresh), Verdict::NeedMore);
    assert_eq!(probe(&c[..17], &[], fresh), Verdict::NeedMore);
    // Quick refusals: other protocols' first bytes.
    assert_eq!(
        probe(b"{\"execute\": \"qmp_capabilities\"}", &[], fresh),
        Verdict::NoMatch(None)
    );
    assert_eq!(
        probe(b"GET / HTTP/1.1\r\n", &[], fresh),
        Verdict::NoMatch(None)
    );
    assert_eq!(
        probe(&[0, 0, 0, 0x10, 0, 0x18], &[], fresh),
        Verdict::NoMatch(None)
    );
    assert_eq!(probe(&[], b"{\"QMP\": {}}", fresh), Verdict::NoMatch(None));
    // A plausible version word but an unknown request code or impossible lengths.
    assert_eq!(
        probe(&req(0, 0x77, 1, b"abc", &[]), &[], fresh),
        Verdict::NoMatch(None)
    );
    let mut bad = signon(1, b"editor", b"x", false);
    bad[13] = 0x40; // Sub-Data length > Packet length
    assert_eq!(probe(&bad, &[], fresh), Verdict::NoMatch(None));
    // The request is followed by something that is not a request.
    let mut junk = c[..36].to_vec();
    junk.extend_from_slice(b"HELLO WORLD");
    assert_eq!(probe(&junk, &[], fresh), Verdict::NoMatch(None));
    // Mid-stream: found after the first bytes, confirmed by the next header.
    assert_eq!(
        probe(&c[10..], &s[7..], mid),
        Verdict::Match { swap: false }
    );
    assert_eq!(probe(&s[7..], &c[10..], mid), Verdict::Match { swap: true });
    assert_eq!(probe(&c[10..30], &[], mid), Verdict::NeedMore);
    assert_eq!(
        probe(&[0x41; 5000], &[0x42; 5000], mid),
        Verdict::NoMatch(None)
    );
}

#[test]
fn chunking_does_not_change_the_messages() {
    let conv = conversation();
    let whole = shape(&run(&conv));
    assert_eq!(whole.len(), 12);
    for chunk in [1, 2, 3, 7, 17, 18, 19, 64] {
        let items = run_with(SessionStart::default(), Options::default(), &conv, chunk);
        assert_eq!(shape(&items), whole, "chunk {chunk}");
        assert!(undecoded(&items).is_empty(), "chunk {chunk}");
    }
}

#[test]
fn every_message_of_the_conversation_is_paired() {
    let items = run(&conversation());
    let s = dir_msgs(&items, S2C);
    let c = dir_msgs(&items, C2S);
    let names: Vec<&str> = s.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Signon",
            "GetPublications",
            "Search",
            "SearchUpdate",
            "GetSearchResults",
            "SignOff"
        ]
    );
    assert_eq!(s[4].reply_to.map(|r| r.offset), Some(c[3].offset));
    assert!(session_notes(&items).is_empty());
}

#[test]
fn mid_stream_pickup_skips_to_the_first_header() {
    let conv = conversation();
    let c = stream(&conv, C2S);
    let s = stream(&conv, S2C);
    let mid = SessionStart { mid_stream: true };
    // Start inside the Signon request and inside the Signon response.
    let items = run_with(
        mid,
        Options::default(),
        &[(C2S, c[10..].to_vec()), (S2C, s[7..].to_vec())],
        usize::MAX,
    );
    let u = undecoded(&items);
    assert_eq!(u.len(), 2, "{u:?}");
    for (dir, off, len, reason, sev) in &u {
        assert_eq!(*off, 0);
        assert_eq!(*len, if *dir == C2S { 26 } else { 15 });
        assert_eq!(reason, "partial message (capture started mid-stream)");
        assert_eq!(*sev, Severity::Info);
    }
    let first_c = dir_msgs(&items, C2S)[0];
    assert_eq!(first_c.name, "GetPublications");
    assert_eq!(first_c.offset, 26);
    // No "before Signon" warnings mid-stream; responses to unseen requests are info.
    assert!(
        !first_c.notes.iter().any(|n| n.severity >= Severity::Warn),
        "{:?}",
        first_c.notes
    );
    // Mid-stream from a message boundary: nothing skipped.
    let items = run_with(
        mid,
        Options::default(),
        &[(C2S, c[36..].to_vec()), (S2C, s[22..].to_vec())],
        5,
    );
    assert!(undecoded(&items).is_empty(), "{:?}", undecoded(&items));
    assert_eq!(msgs(&items).len(), 10);
}

#[test]
fn a_gap_resynchronises_on_the_next_header() {
    let conv = conversation();
    let c = stream(&conv, C2S);
    let mut d = Driver::new(
        Box::new(Qps::new(SessionStart::default(), Options::default())),
        Limits::default(),
    );
    let mut items = Vec::new();
    // The Signon, then 40 bytes lost (into the Search), then the rest.
    d.data(C2S, 0, &c[..36], &mut |i| items.push(i));
    d.gap(C2S, 36, 40, &mut |i| items.push(i));
    d.data(C2S, 76, &c[76..], &mut |i| items.push(i));
    d.close(&mut |i| items.push(i));
    let u = undecoded(&items);
    assert_eq!(u.len(), 1, "{u:?}");
    assert_eq!(u[0].3, "partial message (after a gap in the capture)");
    let names: Vec<String> = dir_msgs(&items, C2S)
        .iter()
        .map(|m| m.name.clone())
        .collect();
    assert_eq!(names, ["Signon", "GetSearchResults", "SignOff", "Close"]);
    // After the gap no sequence-number note (the numbers in between were lost).
    assert!(dir_msgs(&items, C2S)[1].notes.is_empty());
}

#[test]
fn untrusted_framing_is_skipped_with_an_error() {
    let mut bad = req(SID, 0x4A, 1, &[], &[]);
    bad[13] = 9; // Sub-Data length 9 > Packet length 0
    let good = req(SID, 0x40, 2, &[], &[]);
    let items = run(&[(C2S, cat(&[&bad, b"junk", &good]))]);
    let u = undecoded(&items);
    assert_eq!(u.len(), 1, "{u:?}");
    assert_eq!((u[0].1, u[0].2), (0, 22));
    assert_eq!(u[0].4, Severity::Error);
    assert!(
        u[0].3.contains("Sub-Data length 9 exceeds Packet length 0"),
        "{}",
        u[0].3
    );
    assert_eq!(dir_msgs(&items, C2S)[0].name, "GetRepositories");
    // A response header where a request is expected.
    let items = run(&[(C2S, cat(&[&ok(1, &[]), &good]))]);
    let u = undecoded(&items);
    assert!(
        u[0].3
            .contains("server (response) header layout in the c2s direction"),
        "{u:?}"
    );
    assert_eq!(dir_msgs(&items, C2S).len(), 1);
    // Another QPS version (equal halves): not decoded, a warning.
    let mut v2 = req(SID, 0x4A, 1, &[], &[]);
    v2[4..8].copy_from_slice(&[0, 0x40, 0, 0x40]);
    let items = run(&[(C2S, cat(&[&v2, &good]))]);
    let u = undecoded(&items);
    assert_eq!((u[0].2, u[0].4), (18, Severity::Warn), "{u:?}");
    assert!(u[0].3.contains("QPS version 0x0040"), "{u:?}");
    assert_eq!(dir_msgs(&items, C2S)[0].name, "GetRepositories");
    // Lengths beyond the 16 MiB limit.
    let mut huge = ok(1, &[]);
    huge[14] = 0x7F;
    let items = run(&[(S2C, huge)]);
    let u = undecoded(&items);
    assert!(u[0].3.contains("beyond the 16 MiB limit"), "{u:?}");
    assert_eq!(u[0].4, Severity::Error);
}

#[test]
fn truncated_message_at_end_of_stream_is_an_error() {
    let m = search(SID, 1, &[1], &[]);
    let items = run(&[(C2S, m[..m.len() - 3].to_vec())]);
    let u = undecoded(&items);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].2 as usize, m.len() - 3);
    assert_eq!(u[0].4, Severity::Error);
    assert!(u[0].3.contains("truncated"));
}

#[test]
fn response_length_including_the_header_is_detected_d2() {
    // Two responses whose Length counts the 18-byte header.
    let mut r1 = ok(1, &be32(u32::from(SID)));
    r1[17] += 18;
    let mut r2 = ok(2, &[0, 0]);
    r2[17] += 18;
    let mut r3 = ok(3, &[]);
    r3[17] += 18;
    let items = run(&[
        (C2S, signon(1, b"editor", b"pw", false)),
        (C2S, req(SID, 0x16, 2, &SID.to_be_bytes(), &[])),
        (C2S, req(SID, 0x06, 3, &[], &[])),
        (S2C, cat(&[&r1, &r2, &r3])),
    ]);
    let s = dir_msgs(&items, S2C);
    assert_eq!(s.len(), 3, "{:?}", undecoded(&items));
    assert_eq!(s[0].len, 22);
    assert_eq!(uint(s[0], "session_id"), u64::from(SID));
    assert!(has_note(
        s[0],
        Severity::Warn,
        "Length includes the 18-byte header"
    ));
    assert_eq!(s[1].name, "SignOff");
    assert_eq!(s[1].len, 20);
    assert!(session_notes(&items)
        .iter()
        .any(|n| n.text.contains("(D2)")));
    // A response at the end of the data is taken as it is.
    let items = run(&[(C2S, signon(1, b"e", b"p", false)), (S2C, r1)]);
    assert!(dir_msgs(&items, S2C).is_empty() || dir_msgs(&items, S2C)[0].len == 40);
}

#[test]
fn corpus_style_inputs_are_covered_and_never_panic() {
    let conv = conversation();
    let sched: Vec<(Dir, &[u8])> = conv.iter().map(|(d, b)| (*d, b.as_slice())).collect();
    let input = fuzzing::encode(&sched);
    for mid in [false, true] {
        let items = fuzzing::run(Proto::Qps, &input, mid);
        assert!(!items.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048), mid in any::<bool>()) {
        fuzzing::run(Proto::Qps, &data, mid);
    }

    #[test]
    fn mutated_conversations_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), mid in any::<bool>(), chunk in 1usize..64) {
        let conv = conversation();
        let mut c = stream(&conv, C2S);
        let mut s = stream(&conv, S2C);
        for (i, (at, v)) in flips.iter().enumerate() {
            let buf = if i % 2 == 0 { &mut c } else { &mut s };
            let n = buf.len();
            buf[at % n] = *v;
        }
        let steps = [(C2S, c), (S2C, s)];
        let items = run_with(SessionStart { mid_stream: mid }, Options::default(), &steps, chunk);
        // Every byte accounted for, in order.
        let mut at = [0u64; 2];
        for it in &items {
            let (dir, off, len) = match it {
                Item::Message(m) => (m.dir, m.offset, m.len as u64),
                Item::Undecoded { dir, offset, len, .. } => (*dir, *offset, *len),
                Item::Gap { dir, offset, len } => (*dir, *offset, *len),
                _ => continue,
            };
            prop_assert_eq!(off, at[dir.idx()]);
            at[dir.idx()] += len;
        }
        for m in msgs(&items) {
            ranges_inside(m);
            prop_assert!(!m.summary.chars().any(char::is_control));
        }
    }
}
