//! Every QPS packet type in both directions, with the padding rules and
//! the DECISIONs of qps.md, built by an encoder written from the reference
//! and fed through the real driver.

mod qps_common;

use qps_common::*;
use qscope_dissectors::{Dir, Kind, Message, MsgRef, Options, SessionStart, Severity, Value};
use Dir::{C2S, S2C};

const SID: u16 = 0x1234;

/// A signed-on session (seq 1) followed by `steps`.
fn session(steps: &[(Dir, Vec<u8>)]) -> Vec<qscope_dissectors::Item> {
    let mut all = vec![
        (C2S, signon(1, b"editor", b"secret", false)),
        (S2C, ok(1, &be32(u32::from(SID)))),
    ];
    all.extend_from_slice(steps);
    let items = run(&all);
    for m in msgs(&items) {
        ranges_inside(m);
    }
    items
}

fn reply_of(req: &Message) -> Option<MsgRef> {
    Some(MsgRef {
        dir: C2S,
        offset: req.offset,
    })
}

#[test]
fn signon_redacts_the_password_and_pairs_the_session_id() {
    let items = session(&[]);
    let c = dir_msgs(&items, C2S);
    let s = dir_msgs(&items, S2C);
    assert_eq!(c[0].name, "Signon");
    assert_eq!(c[0].kind, Kind::Request);
    assert_eq!(uint(c[0], "code"), 5);
    assert_eq!(uint(c[0], "seq"), 1);
    assert_eq!(uint(c[0], "session_id"), 0);
    assert_eq!(text(c[0], "user"), "editor");
    assert_eq!(field(c[0], "user").range, Some(18..25));
    assert_eq!(text(c[0], "password"), "<redacted>");
    assert_eq!(field(c[0], "password").range, Some(25..32));
    assert_eq!(uint(c[0], "constant"), 0x100);
    assert!(has_note(c[0], Severity::Warn, "clear-text credentials"));
    assert!(!c[0].summary.contains("secret"));
    assert!(c[0]
        .fields
        .iter()
        .all(|f| f.value != Value::Str("secret".into())));
    assert_eq!(s[0].name, "Signon");
    assert_eq!(s[0].kind, Kind::Response);
    assert_eq!(s[0].reply_to, reply_of(c[0]));
    assert_eq!(uint(s[0], "session_id"), u64::from(SID));
    assert_eq!(uint(s[0], "code"), 0);
    assert_eq!(uint(s[0], "status"), 0);
    assert!(!s[0].is_error);
    assert!(s[0].summary.contains("0x1234"), "{}", s[0].summary);
    assert!(items.iter().any(|i| matches!(i,
        qscope_dissectors::Item::Attr("session_id", v) if v == "0x1234")));
}

#[test]
fn signon_shows_the_password_with_show_secrets() {
    let opts = Options {
        show_secrets: true,
        ..Options::default()
    };
    let items = run_with(
        SessionStart::default(),
        opts,
        &[(C2S, signon(1, b"editor", b"s3cret", false))],
        usize::MAX,
    );
    let c = dir_msgs(&items, C2S);
    assert_eq!(text(c[0], "password"), "s3cret");
    assert!(has_note(c[0], Severity::Warn, "clear-text"));
}

/// The bytes of `msg` (a whole message) that its secret ranges cover.
fn masked<'a>(msg: &'a [u8], m: &Message) -> Vec<&'a [u8]> {
    m.secrets.iter().map(|r| &msg[r.clone()]).collect()
}

#[test]
fn signon_marks_exactly_the_password_bytes_shown_or_not() {
    for show in [false, true] {
        for pad in [false, true] {
            let frame = signon(1, b"editor", b"s3cret", pad);
            let items = run_with(
                SessionStart::default(),
                Options {
                    show_secrets: show,
                    ..Options::default()
                },
                &[(C2S, frame.clone()), (S2C, ok(1, &be32(u32::from(SID))))],
                usize::MAX,
            );
            let c = dir_msgs(&items, C2S);
            assert_eq!(masked(&frame, c[0]), vec![&b"s3cret"[..]], "show {show}");
            assert!(dir_msgs(&items, S2C)[0].secrets.is_empty());
        }
    }
    // A Signon whose password runs past the Data: the undecoded rest,
    // which holds it, is secret.
    let mut frame = signon(1, b"editor", b"s3cret", false);
    let at = frame.len() - 11; // the password's length byte
    frame[at] = 60;
    let items = run(&[(C2S, frame.clone())]);
    let c = dir_msgs(&items, C2S);
    assert_eq!(c[0].secrets, vec![at..frame.len()]);
}

#[test]
fn signon_padding_after_an_even_user_name_is_accepted_d7() {
    let items = run(&[(C2S, signon(1, b"editor", b"pw", true))]);
    let c = dir_msgs(&items, C2S);
    assert_eq!(text(c[0], "user"), "editor");
    assert_eq!(field(c[0], "password").range, Some(26..29));
    assert_eq!(uint(c[0], "constant"), 0x100);
    assert!(has_note(c[0], Severity::Info, "Signon padding"));
    // Without the pad byte: no note.
    let items = run(&[(C2S, signon(1, b"editor", b"pw", false))]);
    assert!(!has_note(
        dir_msgs(&items, C2S)[0],
        Severity::Info,
        "padding"
    ));
    // A pad after an odd-length name fits neither reading: flagged.
    let items = run(&[(
        C2S,
        signon(1, b"edi", b"pw", true)
            .into_iter()
            .chain([9])
            .collect(),
    )]);
    let m = dir_msgs(&items, C2S)[0];
    assert!(
        m.notes
            .iter()
            .any(|n| n.severity >= Severity::Warn && !n.text.contains("clear-text")),
        "{:?}",
        m.notes
    );
}

#[test]
fn failed_signon_is_an_error_and_a_retry_succeeds() {
    let mut steps = Vec::new();
    for seq in 1..=3u16 {
        steps.push((C2S, signon(seq, b"editor", b"wrong", false)));
        steps.push((S2C, resp(1, 0, seq, 0, &be32(0))));
    }
    steps.push((C2S, signon(4, b"editor", b"right", false)));
    steps.push((S2C, ok(4, &be32(0x0d42))));
    steps.push((C2S, req(0x0d42, 0x4A, 5, &[], &[])));
    let items = run(&steps);
    let s = dir_msgs(&items, S2C);
    assert!(s[0].is_error);
    assert_eq!(s[0].name, "Signon");
    assert!(has_note(
        s[0],
        Severity::Warn,
        "Signon failed (result code 1)"
    ));
    assert!(s[0].summary.contains("failed"));
    assert!(has_note(s[2], Severity::Warn, "3 failed signons"));
    assert!(!s[3].is_error);
    // The request after the successful retry carries the new session id: no note.
    let c = dir_msgs(&items, C2S);
    assert!(c[4].notes.is_empty(), "{:?}", c[4].notes);
}

#[test]
fn session_id_is_checked_against_the_signon() {
    // Before any Signon.
    let items = run(&[(C2S, req(0x55, 0x4A, 1, &[], &[]))]);
    assert!(has_note(
        dir_msgs(&items, C2S)[0],
        Severity::Warn,
        "before a successful Signon"
    ));
    // After it, with another id.
    let items = session(&[(C2S, req(0x9999, 0x4A, 2, &[], &[]))]);
    assert!(has_note(
        dir_msgs(&items, C2S)[1],
        Severity::Warn,
        "differs from the session id 0x1234"
    ));
    // Sequence numbers: gap and repeat are info.
    let items = session(&[
        (C2S, req(SID, 0x4A, 5, &[], &[])),
        (C2S, req(SID, 0x40, 5, &[], &[])),
    ]);
    let c = dir_msgs(&items, C2S);
    assert!(has_note(c[1], Severity::Info, "out of order (expected 2)"));
    assert!(has_note(c[2], Severity::Info, "repeated sequence number 5"));
    assert!(has_note(
        c[2],
        Severity::Info,
        "duplicate sequence number 5"
    ));
}

#[test]
fn get_headers_lists_field_definitions() {
    let defs: [(u32, u32, &[u8]); 3] = [
        (0x65, 1, b"Author"),
        (0x66, 3, b"Odd"),
        (0x67, 7, b"Section"),
    ];
    let items = session(&[
        (C2S, req(SID, 0x4A, 2, &[], &[])),
        (S2C, ok(2, &headers_data(&defs))),
    ]);
    let c = dir_msgs(&items, C2S);
    let s = dir_msgs(&items, S2C);
    assert_eq!(c[1].name, "GetHeaders");
    assert_eq!(s[1].name, "GetHeaders");
    assert_eq!(s[1].reply_to, reply_of(c[1]));
    assert_eq!(uint(s[1], "count"), 3);
    assert_eq!(uint(s[1], "items.0.field_id"), 0x65);
    assert_eq!(text(s[1], "items.0.type_name"), "String");
    assert_eq!(text(s[1], "items.0.name"), "Author");
    // Item 0 at 0x1A; its name's length byte at 0x1A + 0x0C.
    assert_eq!(field(s[1], "items.0.name").range, Some(0x26..0x2D));
    assert_eq!(field(s[1], "items.0").range, Some(0x1A..0x4E));
    // Undocumented type 3: the number only.
    assert_eq!(uint(s[1], "items.1.type"), 3);
    assert!(!has_field(s[1], "items.1.type_name"));
    assert!(matches!(val(s[1], "unknown"), Value::Bytes(b) if b.len() == 4));
    assert!(
        s[1].summary.contains("Author, Odd, Section"),
        "{}",
        s[1].summary
    );
}

#[test]
fn get_headers_count_beyond_the_data_is_an_error() {
    let mut d = headers_data(&[(1, 1, b"A")]);
    d[7] = 5; // count 5, one item
    let items = session(&[(C2S, req(SID, 0x4A, 2, &[], &[])), (S2C, ok(2, &d))]);
    let s = dir_msgs(&items, S2C);
    assert!(has_note(s[1], Severity::Error, "exceed the Data"));
    assert_eq!(text(s[1], "items.0.name"), "A");
}

#[test]
fn get_publications_pads_even_names_only() {
    let items = session(&[
        (C2S, req(SID, 0x66, 2, &[0; 20], &[])),
        (
            S2C,
            ok(
                2,
                &publications_data(&[(b"News", 0x11), (b"Sport", 0x12), (b"", 0x13)]),
            ),
        ),
    ]);
    let c = dir_msgs(&items, C2S);
    let s = dir_msgs(&items, S2C);
    assert_eq!(c[1].name, "GetPublications");
    assert!(matches!(val(c[1], "reserved"), Value::Bytes(b) if b == &[0; 20]));
    assert!(c[1].notes.is_empty(), "{:?}", c[1].notes);
    assert_eq!(uint(s[1], "count"), 3);
    assert_eq!(text(s[1], "publications.0.name"), "News");
    assert_eq!(field(s[1], "publications.0.name").range, Some(0x1E..0x23));
    assert_eq!(uint(s[1], "publications.0.id"), 0x11);
    assert_eq!(field(s[1], "publications.0.id").range, Some(0x24..0x28)); // after the pad
    assert_eq!(text(s[1], "publications.1.name"), "Sport");
    assert_eq!(field(s[1], "publications.1.id").range, Some(0x2E..0x32)); // no pad
    assert_eq!(uint(s[1], "publications.2.id"), 0x13); // empty name: even, padded
    assert!(s[1].notes.is_empty(), "{:?}", s[1].notes);
    // Non-zero reserved bytes in the request are shown and flagged info.
    let items = session(&[(C2S, req(SID, 0x66, 2, &[1; 20], &[]))]);
    assert!(has_note(
        dir_msgs(&items, C2S)[1],
        Severity::Info,
        "non-zero"
    ));
}

#[test]
fn get_statuses_slot_request_and_padded_status_names() {
    let items = session(&[
        (C2S, req(SID, 0x66, 2, &[0; 20], &[])),
        (S2C, ok(2, &publications_data(&[(b"News", 0x11)]))),
        (C2S, get_statuses(SID, 3, b"News")),
        (
            S2C,
            ok(3, &statuses_data(&[(1, b"Draft"), (2, b"Copy"), (3, b"")])),
        ),
    ]);
    let c = dir_msgs(&items, C2S);
    let s = dir_msgs(&items, S2C);
    assert_eq!(c[2].name, "GetStatuses");
    assert_eq!(uint(c[2], "packet_len"), 0x44);
    assert_eq!(text(c[2], "publication"), "News");
    assert_eq!(uint(c[2], "publication_id"), 0x11);
    assert!(c[2].notes.is_empty(), "{:?}", c[2].notes);
    assert_eq!(s[2].name, "GetStatuses");
    assert_eq!(text(s[2], "publication"), "News");
    assert_eq!(text(s[2], "statuses.0.name"), "Draft");
    assert_eq!(uint(s[2], "statuses.1.id"), 2);
    assert_eq!(text(s[2], "statuses.1.name"), "Copy");
    // Entry size 25 + N (+1 if N even): 30, 30, 26.
    assert_eq!(field(s[2], "statuses.0").range, Some(0x1E..0x1E + 30));
    assert_eq!(field(s[2], "statuses.1").range, Some(0x1E + 30..0x1E + 60));
    assert_eq!(field(s[2], "statuses.2").range, Some(0x1E + 60..0x1E + 86));
    assert!(s[2].summary.contains("Draft, Copy"), "{}", s[2].summary);
    // D9: the short form (Data length 1 + N) is accepted and flagged.
    let items = session(&[(C2S, req(SID, 0x2B, 2, &pstr(b"News"), &[]))]);
    let m = dir_msgs(&items, C2S)[1];
    assert_eq!(text(m, "publication"), "News");
    assert!(has_note(m, Severity::Info, "short form"));
    // A length byte larger than the slot is an error.
    let mut d = slot(b"News", 67);
    d[0] = 80;
    let items = session(&[(C2S, req(SID, 0x2B, 2, &d, &[]))]);
    assert!(has_note(
        dir_msgs(&items, C2S)[1],
        Severity::Error,
        "larger than its 67-byte slot"
    ));
}

#[test]
fn get_repositories_with_cifs_and_afp_mounts() {
    let e1 = repository(
        b"Editorial",
        &[
            kv(0x09, &cifs_mount(b"//fs1/editorial")),
            kv(0x12, b"/Volumes/Ed/Stories"),
            kv(0x13, b"/Volumes/Ed"),
        ],
        0,
        false,
    );
    let e2 = repository(
        b"Photo Lab",
        &[
            kv(0x09, &afpm_mount(b"10.0.0.5", b"Photos")),
            kv(0x77, b"xyz"),
        ],
        0,
        false,
    );
    let items = session(&[
        (C2S, req(SID, 0x40, 2, &[], &[])),
        (S2C, ok(2, &repositories_data(&[e1, e2]))),
    ]);
    let s = dir_msgs(&items, S2C);
    let m = s[1];
    assert_eq!(m.name, "GetRepositories");
    assert_eq!(uint(m, "count"), 2);
    assert_eq!(text(m, "repositories.0.name"), "Editorial");
    assert_eq!(text(m, "repositories.0.items.0.key_name"), "mount info");
    assert_eq!(text(m, "repositories.0.items.0.value.type"), "cifs");
    assert_eq!(
        text(m, "repositories.0.items.0.value.share"),
        "//fs1/editorial"
    );
    // An odd-length value (19 bytes) is followed by a pad byte.
    assert_eq!(
        text(m, "repositories.0.items.1.value"),
        "/Volumes/Ed/Stories"
    );
    assert_eq!(text(m, "repositories.0.items.2.key_name"), "mount point");
    assert_eq!(text(m, "repositories.0.items.3.key_name"), "end");
    assert_eq!(text(m, "repositories.1.items.0.value.type"), "afpm");
    assert_eq!(text(m, "repositories.1.items.0.value.server"), "10.0.0.5");
    assert_eq!(text(m, "repositories.1.items.0.value.share"), "Photos");
    // Undocumented keys: raw.
    assert!(matches!(val(m, "repositories.1.items.1.value"), Value::Bytes(b) if b == b"xyz"));
    assert!(has_note(m, Severity::Info, "disclosed"));
    assert!(
        m.summary.contains("Editorial (cifs //fs1/editorial)"),
        "{}",
        m.summary
    );
    assert!(
        m.summary.contains("Photo Lab (afpm 10.0.0.5 Photos)"),
        "{}",
        m.summary
    );
    assert!(
        !m.notes.iter().any(|n| n.severity >= Severity::Warn),
        "{:?}",
        m.notes
    );
}

#[test]
fn repository_length_and_name_padding_decisions_d10_d11_d12() {
    // L excludes itself (D11), a pad after the even-length name (D10), and a
    // CIFS share written as a Pascal string (D12).
    let mut share = pstr(b"//srv/x");
    share.push(0);
    let e1 = repository(b"Even", &[kv(0x09, &cifs_mount(&share))], 4, true);
    let e2 = repository(b"Odd", &[kv(0x12, b"/p")], 0, false);
    let items = session(&[
        (C2S, req(SID, 0x40, 2, &[], &[])),
        (S2C, ok(2, &repositories_data(&[e1, e2]))),
    ]);
    let m = dir_msgs(&items, S2C)[1];
    assert_eq!(text(m, "repositories.0.name"), "Even");
    assert_eq!(text(m, "repositories.0.items.0.value.share"), "//srv/x");
    assert_eq!(text(m, "repositories.1.name"), "Odd");
    assert_eq!(text(m, "repositories.1.items.0.value"), "/p");
    assert!(has_note(m, Severity::Info, "excludes its own 4 bytes"));
    assert!(has_note(m, Severity::Info, "repository name padding"));
    // An inconsistent length: decoding continues at the walked end.
    let mut e1 = repository(b"A", &[kv(0x12, b"/a")], 0, false);
    e1[3] = 0x10;
    let e2 = repository(b"B", &[kv(0x12, b"/b")], 0, false);
    let items = session(&[
        (C2S, req(SID, 0x40, 2, &[], &[])),
        (S2C, ok(2, &repositories_data(&[e1, e2]))),
    ]);
    let m = dir_msgs(&items, S2C)[1];
    assert!(has_note(
        m,
        Severity::Warn,
        "inconsistent repository length"
    ));
    assert_eq!(text(m, "repositories.1.name"), "B");
    // No end marker: error, rest shown raw.
    let mut e = repository(b"C", &[kv(0x12, b"/c")], 0, false);
    let n = e.len();
    e[n - 2] = 0;
    let items = session(&[
        (C2S, req(SID, 0x40, 2, &[], &[])),
        (S2C, ok(2, &repositories_data(&[e]))),
    ]);
    let m = dir_msgs(&items, S2C)[1];
    assert!(has_note(m, Severity::Error, "without its 0xFFFF end"));
    assert!(has_field(m, "undecoded"));
}

fn named_session(extra: &[(Dir, Vec<u8>)]) -> Vec<qscope_dissectors::Item> {
    let mut steps = vec![
        (C2S, req(SID, 0x4A, 2, &[], &[])),
        (
            S2C,
            ok(
                2,
                &headers_data(&[(0x69, 6, b"Rush"), (0x6A, 7, b"Section")]),
            ),
        ),
        (C2S, req(SID, 0x66, 3, &[0; 20], &[])),
        (
            S2C,
            ok(3, &publications_data(&[(b"Daily", 0x11), (b"Web", 0x12)])),
        ),
    ];
    steps.extend_from_slice(extra);
    session(&steps)
}

#[test]
fn search_shows_publications_and_queries_by_name() {
    let q = [query(0x69, 6, 1), query(0x6A, 7, 3)];
    let items = named_session(&[
        (C2S, search(SID, 4, &[0x11, 0x12], &q)),
        (S2C, ok(4, &7u16.to_be_bytes())),
    ]);
    let c = dir_msgs(&items, C2S);
    let s = dir_msgs(&items, S2C);
    let m = c[3];
    assert_eq!(m.name, "Search");
    assert_eq!(uint(m, "constant"), 8);
    assert_eq!(uint(m, "criteria.length"), uint(m, "subdata_len"));
    assert_eq!(uint(m, "criteria.queries_offset"), 0x58);
    assert_eq!(uint(m, "publications.0.id"), 0x11);
    assert_eq!(text(m, "publications.0.name"), "Daily");
    assert_eq!(text(m, "publications.1.name"), "Web");
    assert_eq!(text(m, "queries.0.field_name"), "Rush");
    assert_eq!(text(m, "queries.0.type_name"), "Checkbox");
    assert_eq!(val(m, "queries.0.checked"), &Value::Bool(true));
    // Sub-Data at 0x16; queries at 0x16 + 0x58; the value word at +0x2C.
    assert_eq!(
        field(m, "queries.0.checked").range,
        Some(0x16 + 0x58 + 0x28..0x16 + 0x58 + 0x2C)
    );
    assert_eq!(text(m, "queries.1.field_name"), "Section");
    assert_eq!(uint(m, "queries.1.item_id"), 3);
    assert!(m.notes.is_empty(), "{:?}", m.notes);
    assert!(m.summary.contains("Daily, Web"), "{}", m.summary);
    assert!(
        m.summary.contains("Rush = checked, Section = item 3"),
        "{}",
        m.summary
    );
    assert_eq!(s[3].name, "Search");
    assert_eq!(uint(s[3], "search_id"), 7);
}

#[test]
fn search_query_length_and_offset_decisions_d13_d14() {
    // Q excluding its own 4 bytes (44): accepted, flagged info.
    let mut q = query(0x69, 6, 0);
    q[3] = 44;
    let items = named_session(&[(C2S, search(SID, 4, &[0x11], &[q.clone(), q.clone()]))]);
    let m = dir_msgs(&items, C2S)[3];
    assert!(has_note(m, Severity::Info, "exclude their own 4 bytes"));
    assert_eq!(val(m, "queries.1.checked"), &Value::Bool(false));
    // Q that adds up to nothing: flagged, the list stops.
    let mut bad = query(0x69, 6, 1);
    bad[3] = 40;
    let items = named_session(&[(C2S, search(SID, 4, &[0x11], &[bad]))]);
    let m = dir_msgs(&items, C2S)[3];
    assert!(has_note(m, Severity::Warn, "do not add up"));
    // Other constants are shown and flagged info.
    let mut odd = query(0x69, 6, 1);
    odd[0x0C + 3] = 9;
    let items = named_session(&[(C2S, search(SID, 4, &[0x11], &[odd]))]);
    assert!(has_note(
        dir_msgs(&items, C2S)[3],
        Severity::Info,
        "word 0 is 0x9"
    ));
    // Offsets outside the Sub-Data, and an inner length that differs.
    let mut sub = criteria(&[0x11], &[query(0x69, 6, 1)]);
    sub[3] = 0x99;
    sub[0x44 + 3] = 0xF0;
    let items = named_session(&[(C2S, req(SID, 0x14, 4, &be32(8), &sub))]);
    let m = dir_msgs(&items, C2S)[3];
    assert!(has_note(m, Severity::Warn, "inner Sub-Data length 153"));
    assert!(has_note(m, Severity::Warn, "query list (offset 240"));
    // Undocumented query types: value raw.
    let mut raw_q = be32(20).to_vec();
    raw_q.extend_from_slice(&be32(0x65));
    raw_q.extend_from_slice(&be32(1));
    raw_q.extend_from_slice(b"abcd");
    raw_q.extend_from_slice(&be32(20)[..4]);
    raw_q.truncate(20);
    let items = named_session(&[(C2S, search(SID, 4, &[], &[raw_q]))]);
    let m = dir_msgs(&items, C2S)[3];
    assert!(matches!(val(m, "queries.0.value"), Value::Bytes(b) if b.len() == 8));
}

#[test]
fn search_count_links_to_its_search() {
    let items = named_session(&[
        (C2S, search(SID, 4, &[0x11], &[])),
        (S2C, ok(4, &7u16.to_be_bytes())),
        (C2S, search_count(SID, 5, 7)),
        (S2C, ok(5, &be32(42))),
    ]);
    let c = dir_msgs(&items, C2S);
    let s = dir_msgs(&items, S2C);
    assert_eq!(c[4].name, "SearchCount");
    assert_eq!(uint(c[4], "search_id"), 7);
    assert_eq!(uint(c[4], "const_1"), 1);
    assert_eq!(uint(c[4], "subdata_const"), 1);
    assert_eq!(field(c[4], "subdata_const").range, Some(0x24..0x28));
    assert_eq!(
        c[4].links,
        vec![(
            "search",
            MsgRef {
                dir: C2S,
                offset: c[3].offset
            }
        )]
    );
    assert!(c[4].notes.is_empty(), "{:?}", c[4].notes);
    assert_eq!(s[4].name, "SearchCount");
    assert_eq!(uint(s[4], "stories"), 42);
    assert_eq!(s[4].summary, "[seq 5] 42 stories");
}

#[test]
fn multi_part_search_results_until_done() {
    let part1 = cat(&[
        &result_entry(0x01, b"a.qxd", false),
        &result_entry(0x82, b"b.qxd", false),
    ]);
    let part2 = result_entry(0x00, b"c.qxd", false);
    let items = named_session(&[
        (C2S, search(SID, 4, &[0x11], &[])),
        (S2C, ok(4, &7u16.to_be_bytes())),
        (C2S, req(SID, 0x43, 5, &[], &[])),
        (S2C, ok(5, &part1)),
        (C2S, req(SID, 0x43, 6, &[], &[])),
        (S2C, ok(6, &part2)),
        (C2S, req(SID, 0x43, 7, &[], &[])),
        (S2C, resp(1, 0, 7, 0, &[])),
    ]);
    let c = dir_msgs(&items, C2S);
    let s = dir_msgs(&items, S2C);
    let search_ref = (
        "search",
        MsgRef {
            dir: C2S,
            offset: c[3].offset,
        },
    );
    for i in 4..=6 {
        assert_eq!(c[i].name, "GetSearchResults");
        assert_eq!(uint(c[i], "search_id"), 7); // D15, inferred
        assert_eq!(field(c[i], "search_id").range, None);
        assert_eq!(s[i].name, "GetSearchResults");
        assert_eq!(s[i].reply_to, reply_of(c[i]));
        assert_eq!(s[i].links, vec![search_ref]);
        assert!(!s[i].is_error);
        assert_eq!(uint(s[i], "part"), (i - 3) as u64);
    }
    let p1 = s[4];
    assert_eq!(text(p1, "entries.0.file_name"), "a.qxd");
    assert_eq!(val(p1, "entries.0.checked_out"), &Value::Bool(false));
    assert_eq!(val(p1, "entries.1.checked_out"), &Value::Bool(true));
    assert_eq!(uint(p1, "entries.1.file_status"), 0x82);
    assert_eq!(
        field(p1, "entries.1.file_status").range,
        Some(0x12 + 62 + 0x12..0x12 + 62 + 0x13)
    );
    assert!(has_note(p1, Severity::Info, "checked out: b.qxd"));
    assert_eq!(text(s[5], "entries.0.file_name"), "c.qxd");
    assert_eq!(val(s[6], "done"), &Value::Bool(true));
    assert!(s[6].summary.contains("done"));
    assert!(
        session_notes(&items).is_empty(),
        "{:?}",
        session_notes(&items)
    );
}

#[test]
fn search_result_length_decision_d24() {
    // Lengths that include their own 2 bytes: accepted, flagged info.
    let part = cat(&[
        &result_entry(0, b"a", true),
        &result_entry(0x80, b"bb", true),
    ]);
    let items = named_session(&[(C2S, req(SID, 0x43, 4, &[], &[])), (S2C, ok(4, &part))]);
    let m = dir_msgs(&items, S2C)[3];
    assert!(has_note(m, Severity::Info, "include their own 2 bytes"));
    assert_eq!(text(m, "entries.1.file_name"), "bb");
    // Neither reading fits: the entries that do are shown, the rest raw.
    let part = cat(&[&result_entry(0, b"a", false), &[0, 3, 1, 2, 3]]);
    let items = named_session(&[(C2S, req(SID, 0x43, 4, &[], &[])), (S2C, ok(4, &part))]);
    let m = dir_msgs(&items, S2C)[3];
    assert!(has_note(m, Severity::Error, "do not fill the Data"));
    assert_eq!(text(m, "entries.0.file_name"), "a");
    assert!(matches!(val(m, "undecoded"), Value::Bytes(b) if b.len() == 5));
    // Extra bytes after the file name stay inside the entry.
    let mut e = result_entry(0, b"x", false);
    e.extend_from_slice(&[7, 7]);
    e[1] += 2;
    let items = named_session(&[(C2S, req(SID, 0x43, 4, &[], &[])), (S2C, ok(4, &e))]);
    let m = dir_msgs(&items, S2C)[3];
    assert!(matches!(val(m, "entries.0.rest"), Value::Bytes(b) if b == &[7, 7]));
}

#[test]
fn search_updates_are_pushes_linked_to_the_search() {
    let items = named_session(&[
        (C2S, search(SID, 4, &[0x11], &[])),
        (S2C, ok(4, &7u16.to_be_bytes())),
        (C2S, req(SID, 0x43, 5, &[], &[])),
        // A push carrying the pending request's sequence number arrives
        // first: it must not consume it (section 5 rule 1).
        (S2C, search_update(5, b"new.qxd", true)),
        (S2C, search_update(4, b"gone.qxd", false)),
        (S2C, resp(1, 0, 5, 0, &[])),
    ]);
    let c = dir_msgs(&items, C2S);
    let s = dir_msgs(&items, S2C);
    let search_ref = (
        "search",
        MsgRef {
            dir: C2S,
            offset: c[3].offset,
        },
    );
    let (add, del, done) = (s[4], s[5], s[6]);
    assert_eq!(add.kind, Kind::Push);
    assert_eq!(add.name, "SearchUpdate");
    assert_eq!(uint(add, "status"), 5);
    assert_eq!(val(add, "added"), &Value::Bool(true));
    assert_eq!(text(add, "file_name"), "new.qxd");
    assert_eq!(add.reply_to, None);
    assert_eq!(add.links, vec![search_ref]);
    assert_eq!(add.summary, "[seq 5] added \"new.qxd\"");
    assert_eq!(val(del, "added"), &Value::Bool(false));
    assert_eq!(del.links, vec![search_ref]);
    assert_eq!(done.name, "GetSearchResults");
    assert_eq!(done.reply_to, reply_of(c[4]));
    // Status 5 with Data that is not a SearchUpdate: decoded by seq.
    let items = named_session(&[
        (C2S, req(SID, 0x4A, 4, &[], &[])),
        (S2C, resp(0, 5, 4, 0, &[0; 3])),
    ]);
    let m = dir_msgs(&items, S2C)[3];
    assert_eq!(m.kind, Kind::Response);
}

#[test]
fn story_header_open_read_save_close() {
    // ReadHeader response: 3 items. Item i sits at message offset
    // 0x136 + 20 i; string references point to 0x136 + 20 i + 0x118 + v.
    let items4 = [
        (0x69u32, 6u32, 0u32, 1u32),
        (0x70, 1, 0x0100_0000, 0),
        (0x71, 5, 0, 0x4148_0000),
        (0x72, 1, 0, 0xFFFF),
        (0x73, 2, 0, 0xc20c_3880),
    ];
    let n = items4.len();
    let end_of_items = 0x136 + 20 * n; // message offset of the tail
                                       // Item 1 (at 0x136 + 20) references "hello" at 0x136 + 20 + 0x118 + 2.
    let at = 0x136 + 20 + 0x118 + 2;
    let mut tail = vec![0u8; at - end_of_items];
    tail.extend_from_slice(&pstr(b"hello"));
    let mut fixed = items4;
    fixed[1].3 = 2;
    let data = raw_header(&fixed, &tail);
    let items = named_session(&[
        (C2S, open_header(SID, 4, b"story.qxd", 2)),
        (S2C, ok(4, &0x31u16.to_be_bytes())),
        (C2S, req(SID, 0x09, 5, &0x31u16.to_be_bytes(), &[])),
        (S2C, ok(5, &data)),
        (C2S, req(SID, 0x0A, 6, &0x31u16.to_be_bytes(), &data)),
        (S2C, ok(6, &[])),
        (C2S, req(SID, 0x0E, 7, &0x31u16.to_be_bytes(), &[])),
        (C2S, req(SID, 0x16, 8, &SID.to_be_bytes(), &[])),
        (S2C, ok(8, &[])),
        (C2S, req(SID, 0x06, 9, &[], &[])),
    ]);
    let c = dir_msgs(&items, C2S);
    let s = dir_msgs(&items, S2C);
    let open = c[3];
    assert_eq!(open.name, "OpenHeader");
    assert_eq!(uint(open, "packet_len"), 0x10A);
    assert_eq!(text(open, "file_name"), "story.qxd");
    assert_eq!(field(open, "file_name").range, Some(0x1A..0x24));
    assert_eq!(uint(open, "mode"), 2);
    assert!(has_note(open, Severity::Info, "opened for writing"));
    assert_eq!(uint(s[3], "handle"), 0x31);
    let open_ref = (
        "open",
        MsgRef {
            dir: C2S,
            offset: open.offset,
        },
    );
    let read = c[4];
    assert_eq!(read.name, "ReadHeader");
    assert_eq!(read.links, vec![open_ref]);
    assert_eq!(text(read, "file_name"), "story.qxd");
    let r = s[4];
    assert_eq!(r.name, "ReadHeader");
    assert_eq!(uint(r, "count"), n as u64);
    assert_eq!(field(r, "count").range, Some(0x132..0x136));
    assert_eq!(val(r, "items.0.value"), &Value::Bool(true));
    // Blank shown first, then the referenced value.
    let blank_at = field(r, "items.1").value.clone();
    let Value::Struct(kids) = blank_at else {
        panic!()
    };
    let names: Vec<&str> = kids.iter().map(|f| f.name.as_ref()).collect();
    let b = names.iter().position(|n| *n == "blank").unwrap();
    let v = names.iter().position(|n| *n == "value").unwrap();
    assert!(b < v, "{names:?}");
    assert_eq!(text(r, "items.1.value"), "hello");
    assert_eq!(field(r, "items.1.value").range, Some(at..at + 6));
    assert_eq!(val(r, "items.2.value"), &Value::Float(12.5));
    assert_eq!(text(r, "items.4.time"), "2007-03-01 08:00:00 UTC");
    assert!(has_note(r, Severity::Info, "outside the header"));
    assert!(r.summary.contains("Rush=checked"), "{}", r.summary);
    assert!(r.summary.contains("=blank"), "{}", r.summary);
    let save = c[5];
    assert_eq!(save.name, "SaveHeader");
    assert_eq!(save.links, vec![open_ref]);
    assert!(has_note(save, Severity::Info, "story metadata modified"));
    // Same layout in the Sub-Data (D17): offsets shifted by the Data (2 bytes).
    assert_eq!(text(save, "header.items.1.value"), "hello");
    assert_eq!(
        field(save, "header.items.1.value").range,
        Some(at + 2..at + 8)
    );
    assert_eq!(s[5].name, "SaveHeader");
    assert_eq!(c[6].name, "CloseHeader");
    assert_eq!(c[7].name, "SignOff");
    assert_eq!(uint(c[7], "signoff_session_id"), u64::from(SID));
    assert_eq!(s[6].name, "SignOff");
    assert_eq!(s[6].reply_to, reply_of(c[7]));
    assert_eq!(c[8].name, "Close");
    // No reply to CloseHeader or Close: not reported as unanswered (D18).
    assert!(
        session_notes(&items).is_empty(),
        "{:?}",
        session_notes(&items)
    );
}

#[test]
fn save_header_that_does_not_fit_is_shown_raw() {
    let items = session(&[(C2S, req(SID, 0x0A, 2, &0x31u16.to_be_bytes(), &[1, 2, 3]))]);
    let m = dir_msgs(&items, C2S)[1];
    assert!(matches!(val(m, "header_raw"), Value::Bytes(b) if b == &[1, 2, 3]));
}

#[test]
fn unknown_codes_unanswered_requests_and_unsolicited_responses() {
    let items = session(&[
        (C2S, req(SID, 0x77, 2, b"abc", b"zz")),
        (S2C, ok(2, b"reply")),
        (S2C, ok(99, b"??")),
        (C2S, req(SID, 0x4A, 3, &[], &[])),
        (C2S, req(SID, 0x06, 4, &[], &[])),
        (C2S, req(SID, 0x40, 5, &[], &[])),
    ]);
    let c = dir_msgs(&items, C2S);
    let s = dir_msgs(&items, S2C);
    assert_eq!(c[1].name, "unknown code 0x77");
    assert!(has_note(c[1], Severity::Warn, "unknown request code 0x77"));
    assert!(matches!(val(c[1], "data"), Value::Bytes(b) if b == b"abc"));
    assert!(matches!(val(c[1], "subdata"), Value::Bytes(b) if b == b"zz"));
    assert_eq!(s[1].name, "unknown code 0x77");
    assert_eq!(s[1].reply_to, reply_of(c[1]));
    assert!(matches!(val(s[1], "data"), Value::Bytes(b) if b == b"reply"));
    assert_eq!(s[2].kind, Kind::Other);
    assert!(has_note(s[2], Severity::Warn, "unsolicited server message"));
    assert!(has_note(c[4], Severity::Warn, "traffic after Close"));
    let notes = session_notes(&items);
    assert!(
        notes.iter().any(|n| n.text.contains("GetHeaders (seq 3")),
        "{notes:?}"
    );
    assert!(
        !notes.iter().any(|n| n.text.contains("Close (")),
        "{notes:?}"
    );
}

#[test]
fn non_zero_result_codes_mark_failures() {
    let items = session(&[
        (C2S, search(SID, 2, &[], &[])),
        (S2C, resp(3, 0, 2, 0, &[])),
    ]);
    let m = dir_msgs(&items, S2C)[1];
    assert!(m.is_error);
    assert!(has_note(m, Severity::Warn, "result code 3"));
    assert!(m.summary.contains("failed (code 3)"));
}

#[test]
fn truncated_bodies_keep_their_bytes() {
    // GetPublications response whose second entry runs past the Data.
    let mut d = publications_data(&[(b"News", 1), (b"Sport", 2)]);
    d.truncate(d.len() - 2);
    let items = session(&[(C2S, req(SID, 0x66, 2, &[0; 20], &[])), (S2C, ok(2, &d))]);
    let m = dir_msgs(&items, S2C)[1];
    assert!(
        has_note(m, Severity::Error, "runs past its end"),
        "{:?}",
        m.notes
    );
    assert_eq!(text(m, "publications.0.name"), "News");
    assert!(matches!(val(m, "undecoded"), Value::Bytes(b) if b.len() == 8));
    // A Signon cut inside the password: the bytes are not shown.
    let mut d = pstr(b"editor");
    d.extend_from_slice(&[9, b's', b'e', b'c']);
    let items = run(&[(C2S, req(0, 5, 1, &d, &[]))]);
    let m = dir_msgs(&items, C2S)[0];
    assert!(matches!(val(m, "undecoded"), Value::Str(s) if s.starts_with("<redacted")));
}
