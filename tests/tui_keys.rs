//! Behaviour of the terminal UI beyond what a snapshot shows: export,
//! mouse, search, jumps, statistics computed by the summary's code, and a
//! live source (tail, pause, drops, a filter following new traffic).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};

use qscope::capture::{CaptureError, FileSource, Packet, Source};
use qscope::engine::{analyze, Config};
use qscope::filter::Filter;
use qscope::record::Percentiles;
use qscope::stats::{Collector, NameDetail};
use qscope::tui::view::stats::StatRow;
use qscope::tui::Action;
use qscope::tui::Harness;

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/");

fn capture(rel: &str) -> PathBuf {
    PathBuf::from(format!("{SHARED}{rel}"))
}

fn open(rel: &str, w: u16, h: u16) -> Harness {
    let mut h = Harness::open(&capture(rel), w, h).expect("open capture");
    h.settle();
    h
}

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("tui_keys")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn count(recs: &[serde_json::Value], ty: &str) -> usize {
    recs.iter().filter(|r| r["type"] == ty).count()
}

fn exported(h: &Harness) -> PathBuf {
    let (text, err) = h.state.out.status.clone().expect("a status after export");
    assert!(!err, "{text}");
    let path = text.rsplit(" to ").next().unwrap();
    PathBuf::from(path)
}

#[test]
fn export_the_view_a_session_and_the_filtered_view() {
    let dir = scratch("export");
    let mut h = open("qmp/qmp-basic.pcap", 120, 40);
    h.state.export_dir = dir.clone();
    h.keys("w");
    let all = exported(&h);
    assert!(all.starts_with(&dir) && all.exists(), "{}", all.display());
    let recs = jsonl(&all);
    assert_eq!(count(&recs, "message"), 24);
    assert_eq!(count(&recs, "session"), 1);
    assert_eq!(
        count(&recs, "summary"),
        1,
        "a whole export ends with the summary"
    );

    h.keys("W");
    let one = exported(&h);
    assert!(one.to_string_lossy().contains("-s1"), "{}", one.display());
    let recs = jsonl(&one);
    assert_eq!(count(&recs, "message"), 24);
    assert_eq!(count(&recs, "session_end"), 1);

    h.keys("f");
    h.type_text("error");
    h.keys("Enter w");
    let filtered = exported(&h);
    let recs = jsonl(&filtered);
    assert_eq!(count(&recs, "message"), 4);
    assert!(recs
        .iter()
        .filter(|r| r["type"] == "message")
        .all(|r| r["error"] == true));
    assert_eq!(count(&recs, "session"), 1);
    assert_eq!(count(&recs, "summary"), 0);
}

#[test]
fn mouse_selects_and_scrolls() {
    let mut h = open("qmp/qmp-basic.pcap", 120, 40);
    let l = h.state.layout();
    // Rows start two lines below the timeline pane's top (title, header).
    h.apply(Action::Click {
        x: 10,
        y: l.timeline.y + 2 + 5,
    });
    h.settle();
    assert_eq!(h.state.selected_row(), Some(5));
    assert_eq!(h.state.focus, qscope::tui::Pane::Timeline);
    h.apply(Action::Wheel {
        x: 10,
        y: l.timeline.y + 3,
        down: true,
    });
    h.settle();
    assert_eq!(h.state.selected_row(), Some(8));
    // A click in the sessions pane focuses it.
    h.apply(Action::Click {
        x: 3,
        y: l.sessions.y + 2,
    });
    assert_eq!(h.state.focus, qscope::tui::Pane::Sessions);
    // A click on the selected tree line toggles it.
    h.apply(Action::Click {
        x: 10,
        y: l.timeline.y + 2 + 3,
    });
    h.settle();
    let tree = h.state.layout().tree;
    let value = h
        .state
        .detail
        .lines
        .iter()
        .position(|l| l.path.is_some())
        .expect("an expandable line");
    let before = h.state.detail.lines.len();
    for _ in 0..2 {
        h.apply(Action::Click {
            x: tree.x + 4,
            y: tree.y + 1 + value as u16,
        });
    }
    h.settle();
    assert!(h.state.detail.lines.len() < before, "the node collapsed");
}

#[test]
fn search_wraps_and_jumps_go_back() {
    let mut h = open("qmp/qmp-basic.pcap", 120, 40);
    h.keys("/");
    h.type_text("QUERY-STATUS");
    h.keys("Enter");
    let first = h.state.selected_row().unwrap();
    assert_eq!(
        h.state.model.index.name(&h.state.model.index.row(first)),
        "query-status"
    );
    let mut wrapped = false;
    for _ in 0..10 {
        h.keys("n");
        let row = h.state.model.index.row(h.state.selected_row().unwrap());
        let text = format!(
            "{} {}",
            h.state.model.index.name(&row),
            h.state.model.index.text(&row)
        );
        assert!(text.to_lowercase().contains("query-status"), "{text}");
        if h.state
            .out
            .status
            .as_ref()
            .is_some_and(|s| s.0.contains("BOTTOM"))
        {
            wrapped = true;
            break;
        }
    }
    assert!(wrapped);
    assert_eq!(
        h.state.selected_row(),
        Some(first),
        "the matches, then the first again"
    );
    h.keys("G e");
    assert!(
        h.state.out.status.as_ref().unwrap().0.contains("wrapped"),
        "e from the end wraps"
    );
    let err = h.state.selected_row().unwrap();
    h.keys("r");
    let req = h.state.selected_row().unwrap();
    assert!(req < err);
    h.keys("b");
    assert_eq!(h.state.selected_row(), Some(err));
    h.keys("E");
    assert!(
        h.state.selected_row().unwrap() > err,
        "E goes back round to the last error"
    );
}

/// The statistics view has the numbers of `qscope stats` (with `-Y` for
/// a filtered view): per name messages, requests, replies, errors,
/// missing (requests never answered) and the latency percentiles.
#[test]
fn statistics_are_the_numbers_of_qscope_stats() {
    let cases = [
        ("qmp/qmp-oob.pcap", None),
        ("mqserver/mq-binary.pcap", None),
        ("qps/qps-1-happy.pcap", None),
        ("qm/qm-1-fileops-qmclilib.pcap", None),
        // Replies are not listed but count under their requests.
        ("qmp/qmp-basic.pcap", Some("dir == c2s")),
        // Error replies are listed; their requests are not.
        ("qm/qm-1-fileops-qmclilib.pcap", Some("error")),
    ];
    for (rel, filter) in cases {
        let path = capture(rel);
        let mut src = FileSource::open(&path).unwrap();
        let parsed = filter.map(|f| Filter::parse(f).unwrap());
        let mut c = Collector::detailed(parsed, 0);
        analyze(&mut src, Config::default(), &mut c).unwrap();
        let mut d = c.detail.take().unwrap();
        d.finish();
        type Numbers = (String, u64, u64, u64, u64, u64, Option<Percentiles>);
        let of = |name: &str, n: &NameDetail| -> Numbers {
            let l = n.latency.percentiles();
            (
                name.to_string(),
                n.messages,
                n.requests,
                n.replies,
                n.errors,
                n.missing,
                l,
            )
        };
        let mut want: Vec<Numbers> = Vec::new();
        let mut all = NameDetail::default();
        for (_, p) in d.protos() {
            want.extend(p.names().into_iter().map(|(name, n)| of(name, n)));
            all.merge(&p.total());
        }
        want.sort_by(|a, b| a.0.cmp(&b.0));

        let mut h = Harness::open(&path, 120, 40).unwrap();
        h.settle();
        if let Some(f) = filter {
            h.keys("f");
            h.type_text(f);
            h.keys("Enter");
        }
        h.keys("S");
        let stats = h.state.stats.as_ref().unwrap();
        let row = |r: &StatRow| -> Numbers {
            (
                r.name.clone(),
                r.messages,
                r.requests,
                r.replies,
                r.errors,
                r.missing,
                r.latency.clone(),
            )
        };
        let mut got: Vec<Numbers> = stats.rows.iter().map(row).collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, want, "{rel} {filter:?}");
        let total = row(stats.total.as_ref().unwrap());
        assert_eq!(total, of("(all)", &all), "{rel} {filter:?}");
    }
    // Some of them have requests never answered.
    let path = capture("mqserver/mq-binary.pcap");
    let mut h = Harness::open(&path, 120, 40).unwrap();
    h.settle();
    h.keys("S");
    let total = h.state.stats.as_ref().unwrap().total.clone().unwrap();
    assert_eq!(total.missing, 3);
}

/// A live-like source: the first `free` packets at once, the rest after
/// the gate opens; reports drops.
struct Gated {
    inner: FileSource,
    free: usize,
    gate: Receiver<()>,
}

impl Source for Gated {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        if self.free == 0 {
            let _ = self.gate.recv();
            self.free = usize::MAX;
        }
        self.free -= 1;
        self.inner.next_packet()
    }
    fn dropped(&mut self) -> Option<u64> {
        Some(7)
    }
}

#[test]
fn live_source_tail_pause_and_a_following_filter() {
    let (tx, rx) = mpsc::channel();
    let src = Gated {
        inner: FileSource::open(&capture("qmp/qmp-basic.pcap")).unwrap(),
        free: 40,
        gate: rx,
    };
    let mut h = Harness::new(Box::new(src), Config::default(), "lo".into(), true, 120, 40);
    h.pump_until(|st| st.model.progress.packets >= 40 && st.timeline.list.len() >= 8);
    assert!(h.state.model.done.is_none());
    assert!(h.state.timeline.tail);
    assert_eq!(
        h.state.timeline.scroll.sel + 1,
        h.state.timeline.list.len(),
        "tail follows the last row"
    );
    let screen = h.screen();
    assert!(
        screen.contains("LIVE") && screen.contains("TAIL"),
        "{screen}"
    );
    // A filter set now follows the traffic still to come.
    h.apply(Action::StartFilter);
    h.type_text("error");
    h.apply(Action::InputSubmit);
    h.press("p");
    let shown = h.state.timeline.list.len();
    assert!(h.screen().contains("PAUSED"));
    tx.send(()).unwrap();
    h.settle();
    assert_eq!(
        h.state.timeline.list.len(),
        shown,
        "paused: nothing new is shown"
    );
    assert_eq!(
        h.state.timeline.filter.as_ref().unwrap().matches,
        4,
        "the filter saw it all"
    );
    h.keys("p");
    assert_eq!(h.state.timeline.list.len(), 4);
    let screen = h.screen();
    assert!(screen.contains("7 dropped"), "{screen}");
    h.keys("f C-u Enter G");
    assert_eq!(h.state.timeline.scroll.sel + 1, h.state.timeline.list.len());
}

/// The sessions pane's state column comes from the dissector (the QMP
/// `state` attribute, reported as it changes) and from pairing.
#[test]
fn session_state_comes_from_the_dissector_as_it_changes() {
    // qmp-basic: the greeting is frame 4, qmp_capabilities 6, its reply 8
    // (rows: the session's opening, then one per message).
    for (free, rows, want) in [(5, 2, "negotiating"), (6, 3, "negotiating"), (8, 4, "idle")] {
        let (_tx, rx) = mpsc::channel();
        let src = Gated {
            inner: FileSource::open(&capture("qmp/qmp-basic.pcap")).unwrap(),
            free,
            gate: rx,
        };
        let mut h = Harness::new(Box::new(src), Config::default(), "lo".into(), true, 120, 40);
        h.pump_until(|st| {
            st.model.progress.packets >= free as u64 && st.timeline.list.len() >= rows
        });
        let s = &h.state.model.sessions[0];
        assert_eq!(s.state_label(), want, "after {free} packets");
        let screen = h.screen();
        let line = screen.lines().find(|l| l.contains(">s1")).unwrap();
        assert!(line.trim_end().ends_with(want), "{screen}");
    }
}
