use super::*;

#[test]
fn thousands_separators() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1000), "1,000");
    assert_eq!(thousands(12_357), "12,357");
    assert_eq!(thousands(1_000_000), "1,000,000");
}

#[test]
fn note_groups_keep_the_first_locations_in_session_order() {
    let mut g = Group::default();
    for k in (0..30u64).rev() {
        g.add((k % 3, k), || format!("{k}"));
    }
    assert_eq!(g.count, 30);
    let keys: Vec<(u64, u64)> = g.at.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys,
        [
            (0, 0),
            (0, 3),
            (0, 6),
            (0, 9),
            (0, 12),
            (0, 15),
            (0, 18),
            (0, 21),
            (0, 24),
            (0, 27)
        ]
    );
    let mut n = Notes::default();
    for i in 0..NOTE_TEXT_CAP + 5 {
        let g = n
            .group(NOTE_TEXT_CAP, Severity::Warn, &format!("t{i}"))
            .unwrap();
        g.add((0, i as u64), || "s1".into());
    }
    assert_eq!(n.groups, NOTE_TEXT_CAP);
    let folded = n.by_text[FOLDED_NOTES][Severity::Warn as usize]
        .as_ref()
        .unwrap();
    assert_eq!(folded.count, 5);
    // An existing text still has its own group.
    n.group(NOTE_TEXT_CAP, Severity::Warn, "t3")
        .unwrap()
        .add((1, 0), || "s2".into());
    assert_eq!(n.by_text["t3"][1].as_ref().unwrap().count, 2);
}

#[test]
fn absorbed_notes_take_the_free_groups_in_the_order_they_occurred() {
    // A session's notes wait until it is reported, then join the report's
    // groups: where only some fit, the first to occur get them, whatever
    // the map's order.
    let mut pending = Notes::default();
    let texts: Vec<String> = (0..12).map(|i| format!("note {i:02}")).collect();
    for (i, t) in texts.iter().enumerate().rev() {
        let g = pending.group(PENDING_TEXT_CAP, Severity::Warn, t).unwrap();
        g.add((7, i as u64), || format!("s7#{i}"));
    }
    let mut report = Notes::default();
    for i in 0..NOTE_TEXT_CAP - 3 {
        let g = report
            .group(NOTE_TEXT_CAP, Severity::Info, &format!("old {i}"))
            .unwrap();
        g.add((0, i as u64), || "s0".into());
    }
    report.absorb(NOTE_TEXT_CAP, pending);
    let kept: Vec<&str> = texts
        .iter()
        .map(String::as_str)
        .filter(|t| report.by_text.contains_key(*t))
        .collect();
    assert_eq!(kept, ["note 00", "note 01", "note 02"]);
    let folded = report.by_text[FOLDED_NOTES][Severity::Warn as usize]
        .as_ref()
        .unwrap();
    assert_eq!(folded.count, 9);
}
