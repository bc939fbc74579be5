//! Snapshot tests of the terminal UI: every view, on real captures, at
//! 80×24 and 120×40, and key sequences (move, filter, follow, expand,
//! help). The UI runs headless ([`Harness`]): the analysis and the
//! decode/filter jobs run on their threads, `settle` waits for them, and
//! the frame is drawn on ratatui's `TestBackend`. Times on screen are
//! relative to the capture or in UTC, so nothing depends on the local
//! timezone or the wall clock.

mod common;

use std::path::Path;

use qscope::tui::Harness;

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/");

fn open(rel: &str, w: u16, h: u16) -> Harness {
    let path = format!("{SHARED}{rel}");
    let mut h = Harness::open(Path::new(&path), w, h).expect("open capture");
    h.settle();
    h
}

fn snap(name: &str, h: &Harness) {
    insta::assert_snapshot!(name, h.screen());
}

const BASIC: &str = "qmp/qmp-basic.pcap";

#[test]
fn timeline_opens_on_the_first_rows() {
    for (w, hh) in [(80, 24), (120, 40)] {
        let h = open(BASIC, w, hh);
        snap(&format!("timeline_qmp_basic_{w}x{hh}"), &h);
    }
}

#[test]
fn moving_selects_a_reply_and_decodes_it() {
    let mut h = open(BASIC, 80, 24);
    h.keys("j j j");
    snap("move_jjj_80x24", &h);
    h.keys("G");
    snap("move_G_80x24", &h);
    h.keys("PgUp k g");
    snap("move_back_to_top_80x24", &h);
}

#[test]
fn next_error_then_request_and_back() {
    for (w, hh) in [(80, 24), (120, 40)] {
        let mut h = open(BASIC, w, hh);
        h.keys("e");
        snap(&format!("error_reply_{w}x{hh}"), &h);
        h.keys("r");
        snap(&format!("error_request_{w}x{hh}"), &h);
        h.keys("b");
        let sel = h.state.selected_row().unwrap();
        h.keys("r r");
        assert_eq!(
            h.state.selected_row(),
            Some(sel),
            "r on the request goes to its reply"
        );
    }
}

#[test]
fn expand_and_collapse_the_tree() {
    let mut h = open(BASIC, 120, 40);
    // The JSON value of the error reply: the whole message highlighted
    // (past the header, bytes, time, frame, reply-to and summary lines).
    h.keys("e Enter j j j j j j");
    snap("tree_json_selected_120x40", &h);
    let expanded = h.state.detail.lines.len();
    h.keys("Space");
    snap("tree_json_collapsed_120x40", &h);
    assert_eq!(h.state.detail.lines.len(), expanded - 7);
    // The next field, `id`, and its bytes.
    h.keys("j");
    snap("tree_field_id_selected_120x40", &h);
    h.keys("k Enter");
    assert_eq!(h.state.detail.lines.len(), expanded);
}

#[test]
fn hex_replaces_the_tree_on_narrow_screens() {
    let mut h = open(BASIC, 80, 24);
    h.keys("e x");
    snap("hex_toggle_80x24", &h);
}

#[test]
fn display_filter_and_its_errors() {
    let mut h = open(BASIC, 80, 24);
    h.keys("f");
    h.type_text("error");
    h.keys("Enter");
    snap("filter_error_80x24", &h);
    h.keys("f C-u");
    h.type_text("qmp.execute ==");
    snap("filter_parse_error_80x24", &h);
    h.keys("Enter");
    assert!(h.state.input.is_some(), "a bad filter keeps the input open");
    h.keys("Esc f C-u Enter");
    assert!(
        h.state.timeline.filter.is_none(),
        "an empty filter clears it"
    );
    assert_eq!(h.state.timeline.list.len(), h.state.model.index.len());
}

#[test]
fn filter_on_latency_at_120x40() {
    let mut h = open(BASIC, 120, 40);
    h.keys("f");
    h.type_text("latency > 1ms");
    h.keys("Enter");
    snap("filter_latency_120x40", &h);
}

#[test]
fn follow_stream() {
    for (w, hh) in [(80, 24), (120, 40)] {
        let mut h = open("qmp/qmp-events.pcap", w, hh);
        h.keys("F");
        snap(&format!("stream_qmp_events_{w}x{hh}"), &h);
        h.keys("x");
        snap(&format!("stream_qmp_events_hex_{w}x{hh}"), &h);
    }
}

#[test]
fn ladder() {
    for (w, hh) in [(80, 24), (120, 40)] {
        let mut h = open(BASIC, w, hh);
        h.keys("e L");
        snap(&format!("ladder_qmp_basic_{w}x{hh}"), &h);
    }
}

#[test]
fn statistics() {
    for (w, hh) in [(80, 24), (120, 40)] {
        let mut h = open(BASIC, w, hh);
        h.keys("S");
        snap(&format!("stats_qmp_basic_{w}x{hh}"), &h);
    }
    // An event has no replies: the chart says so (not "peak 0µs" over
    // nothing).
    let mut h = open(BASIC, 120, 40);
    h.keys("S");
    while h.state.stats.as_ref().unwrap().rows[h.state.stats.as_ref().unwrap().scroll.sel].name
        != "SHUTDOWN"
    {
        h.keys("j");
    }
    snap("stats_event_no_replies_120x40", &h);
    assert!(h.screen().contains("SHUTDOWN  (no replies, no latency)"));
    assert!(!h.screen().contains("peak 0µs"));
    // Narrow: latency columns go before the name does.
    let mut h = open("qm/qm-4-extra-codes-rawclient.pcap", 60, 20);
    h.keys("S");
    snap("stats_qm_60x20", &h);
    // Requests never answered: the missing column of `qscope stats`.
    let mut h = open("mqserver/mq-binary.pcap", 120, 40);
    h.keys("S");
    snap("stats_mq_binary_120x40", &h);
}

#[test]
fn expert_notes_jump_to_their_message() {
    for (w, hh) in [(80, 24), (120, 40)] {
        let mut h = open("qmp/qmp-oob.pcap", w, hh);
        h.keys("X");
        snap(&format!("expert_qmp_oob_{w}x{hh}"), &h);
    }
    let mut h = open("qmp/qmp-oob.pcap", 120, 40);
    h.keys("X j Enter");
    snap("expert_jump_qmp_oob_120x40", &h);
}

#[test]
fn help_lists_every_key() {
    for (w, hh) in [(80, 24), (120, 40)] {
        let mut h = open(BASIC, w, hh);
        h.keys("?");
        snap(&format!("help_{w}x{hh}"), &h);
        // The legend of the marks in the rows, complete.
        let screen = h.screen();
        for (mark, what) in qscope::tui::view::help::MARKERS {
            assert!(
                screen.contains(&format!("{mark:<10}{what}")),
                "{mark} {what}\n{screen}"
            );
        }
        h.keys("Esc");
        assert!(!h.state.help);
    }
}

#[test]
fn sessions_pane_scope_and_sort() {
    let mut h = open("qm/qm-4-extra-codes-rawclient.pcap", 120, 40);
    snap("sessions_qm_120x40", &h);
    h.keys("BackTab j j Enter");
    snap("sessions_scope_s3_120x40", &h);
    assert_eq!(h.state.timeline.list.session, Some(2));
    h.keys("BackTab s s s");
    snap("sessions_sorted_by_errors_120x40", &h);
    h.keys("a");
    assert!(h.state.timeline.list.session.is_none());
}

#[test]
fn qm_records_show_their_marks() {
    let mut h = open("qm/qm-1-fileops-qmclilib.pcap", 120, 40);
    h.keys("/");
    h.type_text("record");
    h.keys("Enter Tab G");
    snap("qm_record_marks_120x40", &h);
    let last = h.state.detail.lines.last().unwrap();
    assert!(last.value.contains("<FM>"), "{last:?}");
}

#[test]
fn qps_failed_signon() {
    let mut h = open("qps/qps-2-signon-fail.pcap", 80, 24);
    h.keys("e");
    snap("qps_signon_error_80x24", &h);
}

#[test]
fn degrades_when_narrow() {
    let mut h = open(BASIC, 60, 20);
    h.keys("e");
    snap("narrow_60x20", &h);
    let h = open(BASIC, 30, 8);
    snap("too_small_30x8", &h);
}

#[test]
fn every_view_draws_at_every_size() {
    let mut h = open("qm/qm-1-fileops-qmclilib.pcap", 80, 24);
    h.keys("e Tab j j");
    for keys in ["Esc 1", "F", "x", "L", "S", "X", "1 ?", "Esc f"] {
        h.keys(keys);
        if keys == "Esc f" {
            h.type_text("qm.function ==");
        }
        for w in [1, 20, 39, 40, 41, 60, 79, 100, 150] {
            for hh in [1, 5, 9, 10, 11, 14, 16, 24, 40] {
                h.apply(qscope::tui::Action::Resize(w, hh));
                // Moving at every size keeps every cursor valid.
                h.apply(qscope::tui::Action::PageDown);
                let _ = h.buffer();
            }
        }
        h.apply(qscope::tui::Action::Resize(80, 24));
    }
}

/// The tree's text stops one column before the hex dump: a separator
/// column keeps them apart at every width that shows both.
#[test]
fn detail_text_stops_before_the_hex_column() {
    let mut h = open(BASIC, 160, 45);
    h.keys("e");
    snap("detail_beside_hex_160x45", &h);
    for w in [110, 120, 135, 160, 200] {
        h.apply(qscope::tui::Action::Resize(w, 45));
        let l = h.state.layout();
        assert_eq!(l.sep.x + 1, l.hex.x, "at {w}");
        assert_eq!(l.tree.x + l.tree.width, l.sep.x, "at {w}");
        let buf = h.buffer();
        for y in l.sep.y..l.sep.y + l.sep.height {
            let want = if y == l.sep.y { "┬" } else { "│" };
            assert_eq!(buf[(l.sep.x, y)].symbol(), want, "at {w}, line {y}");
        }
    }
}

/// The ladder's column labels shorten, then go, as the screen narrows;
/// they never run into each other.
#[test]
fn ladder_labels_never_overlap() {
    let mut h = open(BASIC, 40, 20);
    h.keys("e L");
    snap("ladder_qmp_basic_40x20", &h);
    h.apply(qscope::tui::Action::Resize(48, 20));
    snap("ladder_qmp_basic_48x20", &h);
    let forms = [
        ("client 127.0.0.1:45828", "server 127.0.0.1:4444"),
        ("127.0.0.1:45828", "127.0.0.1:4444"),
        ("client :45828", "server :4444"),
        ("client", "server"),
    ];
    for w in 40..=200 {
        h.apply(qscope::tui::Action::Resize(w, 20));
        let screen = h.screen();
        // The line below the title: two labels apart by 2 spaces or more.
        let line = screen.lines().nth(2).unwrap();
        let parts: Vec<&str> = line
            .split("  ")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        assert!(
            forms.iter().any(|(c, s)| parts == [*c, *s]),
            "at {w} columns: {line:?}"
        );
    }
}

/// The sessions pane's cursor follows the selected message: a message of
/// s3 selected in the timeline puts it on s3. Moving the pane's own
/// cursor is left alone until the timeline's selection changes.
#[test]
fn sessions_cursor_follows_the_selected_message() {
    let mut h = open("qm/qm-4-extra-codes-rawclient.pcap", 120, 40);
    assert_eq!(h.state.sess.selected(), Some(0));
    // The opening row of s3 (search finds a session by its id), then its
    // first message.
    h.keys("/");
    h.type_text("s3");
    h.keys("Enter j");
    let row = h.state.model.index.row(h.state.selected_row().unwrap());
    assert_eq!(row.session, 2, "a row of s3");
    assert_eq!(h.state.sess.selected(), Some(2));
    snap("sessions_follow_s3_120x40", &h);
    // In the pane, its own cursor moves; back in the timeline, it stays
    // until another row is selected.
    h.keys("BackTab k Tab");
    assert_eq!(h.state.sess.selected(), Some(1));
    h.keys("k");
    let s = h
        .state
        .model
        .index
        .row(h.state.selected_row().unwrap())
        .session;
    assert_eq!(h.state.sess.selected(), Some(s));
}

/// The notes `qscope stats --expert` derives from pairing are in the
/// notes view too, at their message: requests never answered, replies
/// after more than 30 s; the same ones as `qscope stats` finds.
#[test]
fn notes_derived_from_pairing() {
    let mut h = open("qps/qps-1-happy.pcap", 120, 30);
    h.keys("X");
    snap("expert_derived_qps_happy_120x30", &h);

    // A QMP session: a command answered after 31 s, one never answered.
    let path = common::scratch("tui_views").join("late-and-lost.pcap");
    let mut c = common::Conv::new(40001, 4444);
    c.s2c(b"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, \"package\": \"\"}, \"capabilities\": []}}\r\n")
        .c2s(b"{\"execute\": \"qmp_capabilities\"}\r\n")
        .s2c(b"{\"return\": {}}\r\n")
        .c2s(b"{\"execute\": \"query-block\", \"id\": 1}\r\n");
    let late = c.pkts.len();
    c.s2c(b"{\"return\": [], \"id\": 1}\r\n")
        .c2s(b"{\"execute\": \"cont\", \"id\": 2}\r\n")
        .close();
    for p in &mut c.pkts[late..] {
        p.ts_us += 31_000_000;
    }
    c.write(&path);
    let mut h = Harness::open(&path, 120, 30).unwrap();
    h.settle();
    h.keys("X");
    snap("expert_late_and_lost_120x30", &h);

    // The same notes as `qscope stats --expert`, at the same messages.
    for path in [
        path.clone(),
        Path::new(&format!("{SHARED}qps/qps-1-happy.pcap")).to_path_buf(),
    ] {
        let mut src = qscope::capture::FileSource::open(&path).unwrap();
        let mut c = qscope::stats::Collector::detailed(None, 0);
        qscope::engine::analyze(&mut src, Default::default(), &mut c).unwrap();
        let mut d = c.detail.take().unwrap();
        d.finish();
        let derived = |t: &str| {
            t.starts_with("request never answered") || t.starts_with("reply after more than 30 s")
        };
        let mut want: Vec<(String, String)> = d
            .expert()
            .into_iter()
            .filter(|g| derived(&g.text))
            .flat_map(|g| g.at.into_iter().map(move |a| (g.text.clone(), a)))
            .collect();
        want.sort();
        let mut h = Harness::open(&path, 120, 30).unwrap();
        h.settle();
        h.keys("X");
        let st = &h.state;
        let mut got: Vec<(String, String)> = st
            .notes
            .derived
            .iter()
            .map(|n| {
                let row = st.model.index.row(n.row as usize);
                let at = format!("{}#{}", st.model.session_id(n.session), row.index);
                (n.text.to_string(), at)
            })
            .collect();
        got.sort();
        assert!(!got.is_empty());
        assert_eq!(got, want, "{}", path.display());
    }
}
