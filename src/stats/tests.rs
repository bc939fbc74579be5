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
