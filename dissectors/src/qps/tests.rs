//! Unit tests of the QPS helpers; whole conversations are tested in
//! `dissectors/tests/qps_*.rs`.

use super::probe::{candidate, header, plausible_lengths, Cand, Shape, Side};
use super::*;

const SIGNON_REQ: &str = "00000005003f003f0001000000000000001206656469746f720673336372657400000100";
const SIGNON_RESP: &str = "003f003f000000000001000000000000000400002b1c";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn headers_parse_in_both_layouts() {
    let r = req_hdr(&hex(SIGNON_REQ)).unwrap();
    assert_eq!(
        r,
        ReqHdr {
            session: 0,
            code: 5,
            version: VERSION_WORD,
            seq: 1,
            sub_len: 0,
            pkt_len: 18
        }
    );
    let s = resp_hdr(&hex(SIGNON_RESP)).unwrap();
    assert_eq!(
        (s.code, s.status, s.seq, s.flags, s.length),
        (0, 0, 1, 0, 4)
    );
    assert_eq!(req_hdr(&hex(SIGNON_REQ)[..17]), None);
    assert_eq!(resp_hdr(&[]), None);
}

#[test]
fn header_shapes_and_candidates() {
    let req = hex(SIGNON_REQ);
    let resp = hex(SIGNON_RESP);
    assert_eq!(header(Side::Req, &req, false), Shape::Yes(36));
    assert_eq!(header(Side::Resp, &req, false), Shape::No);
    assert_eq!(header(Side::Resp, &resp, false), Shape::Yes(22));
    assert_eq!(header(Side::Req, &req[..6], false), Shape::NeedMore);
    assert_eq!(header(Side::Req, &req[..5], false), Shape::NeedMore);
    assert_eq!(header(Side::Resp, &[0, 0x3f, 1], false), Shape::No);
    // D2 "long" reading: Length 4 is shorter than a header.
    assert_eq!(header(Side::Resp, &resp, true), Shape::No);
    // Complete and at the end; followed by a good or a bad header.
    assert_eq!(candidate(Side::Req, &req, false, false, true), Cand::Yes);
    let mut two = req.clone();
    two.extend_from_slice(&req);
    assert_eq!(candidate(Side::Req, &two, false, false, true), Cand::Yes);
    let mut bad = req.clone();
    bad.extend_from_slice(b"xxxxyyyy");
    assert_eq!(candidate(Side::Req, &bad, false, false, true), Cand::No);
    assert_eq!(
        candidate(Side::Req, &bad[..40], false, false, true),
        Cand::NeedMore
    );
    assert_eq!(
        candidate(Side::Req, &bad[..41], false, false, true),
        Cand::No
    );
    assert_eq!(
        candidate(Side::Req, &two[..40], false, false, true),
        Cand::NeedMore
    );
    assert_eq!(
        candidate(Side::Req, &two[..40], false, true, true),
        Cand::Yes
    );
    // Incomplete message: waits when completeness is required.
    assert_eq!(
        candidate(Side::Req, &req[..30], false, false, true),
        Cand::NeedMore
    );
    assert_eq!(
        candidate(Side::Req, &req[..30], false, false, false),
        Cand::Yes
    );
    assert_eq!(
        candidate(Side::Req, &req[..30], false, true, true),
        Cand::No
    );
}

#[test]
fn request_lengths_per_code() {
    assert!(plausible_lengths(SIGNON, 18, 0));
    assert!(!plausible_lengths(SIGNON, 5, 0));
    assert!(plausible_lengths(GET_HEADERS, 0, 0));
    assert!(!plausible_lengths(GET_HEADERS, 1, 0));
    assert!(plausible_lengths(OPEN_HEADER, 0x10A, 0));
    assert!(plausible_lengths(SEARCH, 4, 0x48));
    assert!(!plausible_lengths(SEARCH, 4, 0x47));
    assert!(plausible_lengths(SEARCH_COUNT, 0x12, 4));
    assert!(plausible_lengths(GET_STATUSES, 0x44, 0));
    assert!(plausible_lengths(GET_STATUSES, 5, 0));
    assert!(plausible_lengths(SAVE_HEADER, 2, 744));
    assert!(!plausible_lengths(0x77, 0, 0));
    for code in [
        5u16, 6, 8, 9, 0xA, 0xE, 0x14, 0x16, 0x2B, 0x40, 0x42, 0x43, 0x4A, 0x66,
    ] {
        assert!(code_name(code).is_some());
    }
    assert_eq!(request_name(0x99), "unknown code 0x99");
}

#[test]
fn search_update_shape_rule() {
    let mut d = vec![0u8; 8];
    d.extend_from_slice(b"\x03abc");
    assert!(response::is_search_update(&d));
    d.push(0);
    assert!(response::is_search_update(&d), "one pad byte allowed");
    d.push(0);
    assert!(!response::is_search_update(&d));
    assert!(!response::is_search_update(&[0; 8]));
    assert!(!response::is_search_update(&[
        0, 0, 0, 0, 0, 0, 0, 0, 9, b'x'
    ]));
}

#[test]
fn sequence_numbers_wrap_after_ffff() {
    let mut st = State::default();
    let mut o = Out::default();
    st.check_seq(1, &mut o);
    st.check_seq(2, &mut o);
    assert!(o.notes.is_empty());
    st.last_seq = Some(0xFFFF);
    st.check_seq(0, &mut o);
    st.last_seq = Some(0xFFFF);
    st.check_seq(1, &mut o);
    assert!(o.notes.is_empty(), "{:?}", o.notes);
    st.check_seq(5, &mut o);
    assert_eq!(o.notes.len(), 1);
    let mut fresh = State::default();
    fresh.check_seq(7, &mut o);
    assert!(o
        .notes
        .iter()
        .any(|n| n.text.contains("first sequence number is 7")));
}

#[test]
fn close_reports_unanswered_requests_except_close_and_close_header() {
    let mut q = Qps::new(SessionStart::default(), Options::default());
    for (seq, code) in [(1u16, CLOSE), (2, CLOSE_HEADER), (3, GET_HEADERS)] {
        q.st.pending.insert(
            seq,
            Pending {
                offset: u64::from(seq) * 18,
                code,
                ctx: ReqCtx::None,
            },
        );
    }
    let mut ctx = Ctx::default();
    q.close(&mut ctx);
    assert_eq!(ctx.notes.len(), 1);
    assert!(ctx.notes[0]
        .text
        .contains("GetHeaders (seq 3, c2s offset 54)"));
}

#[test]
fn never_more_than_the_table_limit_pending() {
    let mut q = Qps::new(SessionStart::default(), Options::default());
    let mut ctx = Ctx::default();
    let mut off = 0u64;
    let mut overflow = Vec::new();
    for seq in 0..(MAX_TABLE as u32 + 10) {
        let h = ReqHdr {
            session: 0,
            code: GET_HEADERS,
            version: VERSION_WORD,
            seq: seq as u16,
            sub_len: 0,
            pkt_len: 0,
        };
        let msg = [0u8; HDR];
        let m = q.st.request(&h, &msg, off, &mut ctx);
        if m.notes.iter().any(|n| n.text.contains("requests pending at once")) {
            overflow.push(seq);
        }
        off += 18;
    }
    assert!(q.st.pending.len() <= MAX_TABLE);
    // Said once, by the request that first made the table forget one.
    assert_eq!(overflow, [MAX_TABLE as u32]);
}

/// The table forgets the request with the lowest offset, as a scan of the
/// whole table would find it, through answers and repeated sequence
/// numbers (a model with a plain map, over random operations).
#[test]
fn the_oldest_pending_request_is_the_one_forgotten() {
    let mut t = Pendings::default();
    let mut model: std::collections::BTreeMap<u16, u64> = Default::default();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut forgotten = 0;
    for offset in 0..100_000u64 {
        let r = next();
        // Sequence numbers from a range a little larger than the table, so
        // that it overflows, repeats happen, and answers hit and miss.
        let seq = (r % (MAX_TABLE as u64 + 600)) as u16;
        // One in sixteen operations an answer: the table stays full.
        if r >> 60 == 0 {
            assert_eq!(
                t.remove(seq).map(|p| p.offset),
                model.remove(&seq),
                "answer to seq {seq}"
            );
            continue;
        }
        let p = Pending {
            offset,
            code: GET_HEADERS,
            ctx: ReqCtx::None,
        };
        assert_eq!(t.insert(seq, p).0.map(|p| p.offset), model.insert(seq, offset));
        if model.len() > MAX_TABLE {
            let oldest = model.iter().min_by_key(|(_, o)| **o).map(|(s, _)| *s);
            if let Some(s) = oldest {
                model.remove(&s);
                forgotten += 1;
            }
        }
        assert_eq!(t.len(), model.len());
    }
    assert!(forgotten > 5_000, "the table overflowed {forgotten} times");
    let got: Vec<(u16, u64)> = t.iter().map(|(s, p)| (*s, p.offset)).collect();
    let want: Vec<(u16, u64)> = model.into_iter().collect();
    assert_eq!(got, want);
}
