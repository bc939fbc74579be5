//! Properties of the qm dissector behind the real driver: any input is
//! covered byte for byte without a panic (fresh or mid-stream); and a
//! conversation of well-formed frames decodes to the same messages however
//! its bytes are cut into arrivals.

use proptest::prelude::*;
use qscope_dissectors::{
    fuzzing, new_dissector, Dir, Driver, Item, Limits, Options, Proto, SessionStart, Value,
};

fn req(code: i16, body: &[u8]) -> Vec<u8> {
    let mut v = ((body.len() + 6) as i32).to_le_bytes().to_vec();
    v.extend_from_slice(&code.to_le_bytes());
    v.extend_from_slice(body);
    v
}

fn resp(outcome: i16, status: i32, data: &[u8]) -> Vec<u8> {
    let mut v = ((data.len() + 10) as i32).to_le_bytes().to_vec();
    v.extend_from_slice(&outcome.to_le_bytes());
    v.extend_from_slice(&status.to_le_bytes());
    v.extend_from_slice(data);
    v
}

/// Feeds `(dir, bytes)` arrivals, each cut into pieces at `cuts`.
fn run(arrivals: &[(Dir, Vec<u8>)], cuts: &[usize], mid_stream: bool) -> Vec<Item> {
    let d = new_dissector(Proto::Qm, SessionStart { mid_stream }, Options::default()).unwrap();
    let mut driver = Driver::new(d, Limits::default());
    let mut items = Vec::new();
    let mut off = [0u64; 2];
    let mut k = 0usize;
    for (dir, bytes) in arrivals {
        let mut rest = bytes.as_slice();
        while !rest.is_empty() {
            let n = cuts
                .get(k % cuts.len().max(1))
                .copied()
                .unwrap_or(rest.len())
                .clamp(1, rest.len());
            k += 1;
            driver.data(*dir, off[dir.idx()], &rest[..n], &mut |i| items.push(i));
            off[dir.idx()] += n as u64;
            rest = &rest[n..];
        }
    }
    driver.close(&mut |i| items.push(i));
    items
}

/// (dir, offset, len, name, reply_to offset, fields as text) per message.
type Shape = (Dir, u64, usize, String, Option<u64>, Vec<(String, String)>);

fn summary(items: &[Item]) -> Vec<Shape> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Message(m) => Some((
                m.dir,
                m.offset,
                m.len,
                m.name.clone(),
                m.reply_to.map(|r| r.offset),
                m.fields
                    .iter()
                    .map(|f| (f.name.to_string(), format!("{:?}", f.value)))
                    .collect(),
            )),
            _ => None,
        })
        .collect()
}

/// A request frame of any code with a body that fits its layout or not.
fn any_request() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![1i16..=46, Just(0i16), Just(47i16), Just(-1i16)],
        proptest::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(code, body)| req(code, &body))
}

fn any_response() -> impl Strategy<Value = Vec<u8>> {
    (
        0i16..=6,
        any::<i32>(),
        proptest::collection::vec(prop_oneof![any::<u8>(), Just(0xFEu8), Just(0xFDu8)], 0..60),
    )
        .prop_map(|(o, s, d)| resp(o, s, &d))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_input_is_covered(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
        fuzzing::run(Proto::Qm, &data, false);
        fuzzing::run(Proto::Qm, &data, true);
    }

    #[test]
    fn frames_decode_the_same_however_cut(
        exchanges in proptest::collection::vec((any_request(), any_response()), 1..12),
        cuts in proptest::collection::vec(1usize..40, 1..8),
    ) {
        let mut arrivals = vec![(Dir::S2C, vec![6u8])];
        for (q, r) in &exchanges {
            arrivals.push((Dir::C2S, q.clone()));
            arrivals.push((Dir::S2C, r.clone()));
        }
        let whole = run(&arrivals, &[usize::MAX], false);
        let cut = run(&arrivals, &cuts, false);
        prop_assert_eq!(summary(&whole), summary(&cut));
        // One message per frame, each with its code or outcome.
        let msgs = summary(&whole);
        prop_assert_eq!(msgs.len(), exchanges.len() * 2);
        for (i, m) in msgs.iter().enumerate() {
            let key = if i % 2 == 0 { "code" } else { "outcome" };
            prop_assert!(m.5.iter().any(|(n, _)| n == key));
            if i % 2 == 1 {
                // Lock-step: each response answers the request before it.
                prop_assert_eq!(m.4, Some(msgs[i - 1].1));
            }
        }
    }

    #[test]
    fn secrets_never_leak(user in "[a-z]{1,8}", pw in "[A-Z][A-Z0-9]{5,11}") {
        let mut body = (user.len() as i16).to_le_bytes().to_vec();
        body.extend_from_slice(user.as_bytes());
        if user.len() % 2 == 1 { body.push(b'?'); }
        body.extend_from_slice(&(pw.len() as i16).to_le_bytes());
        body.extend_from_slice(pw.as_bytes());
        if pw.len() % 2 == 1 { body.push(b'!'); }
        let items = run(&[(Dir::S2C, vec![6]), (Dir::C2S, req(24, &body))], &[usize::MAX], false);
        let text = format!("{items:?}");
        prop_assert!(!text.contains(&pw), "{}", text);
        let shown = items.iter().any(|i| matches!(i, Item::Message(m)
            if m.field("user").map(|f| &f.value) == Some(&Value::Bytes(user.as_bytes().to_vec()))));
        prop_assert!(shown);
    }
}
