//! `qscope print -V` on a QPS capture: publications, statuses,
//! repositories, search queries and results by name, pinned by a golden
//! file (`tests/golden/qps-1-happy.txt`; regenerate with UPDATE_GOLDEN=1
//! and review the file by eye before keeping it).

mod common;

use std::path::PathBuf;

use common::*;

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.txt"))
}

fn print_verbose(capture: &str) -> String {
    let path = bundled(capture);
    let out = qscope(&["print", "-V", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn verbose_print_matches_the_golden_file() {
    let got = print_verbose("qps/qps-1-happy.pcap");
    let path = golden_path("qps-1-happy");
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    if got != want {
        let line = got
            .lines()
            .zip(want.lines())
            .position(|(g, w)| g != w)
            .unwrap_or(got.lines().count().min(want.lines().count()));
        panic!(
            "print -V differs from {} at line {}:\n got  {:?}\n want {:?}\n(UPDATE_GOLDEN=1 regenerates it)",
            path.display(),
            line + 1,
            got.lines().nth(line),
            want.lines().nth(line)
        );
    }
}

#[test]
fn verbose_print_names_what_the_server_lists() {
    let text = print_verbose("qps/qps-1-happy.pcap");
    for want in [
        // publications, statuses, header fields
        "4 publications: Daily Herald, Sunday, Weekly Review, Web",
        "\"Daily Herald\": 6 statuses: Draft, Copy Edit, Layout, Approved, Final, On Hold",
        "name: \"Column Inches\"",
        // repositories with their mounts
        "Editorial (cifs //fs1.herald.lan/editorial)",
        "Photo Lab (afpm 192.168.10.25 PhotoLab)",
        "share: \"//fs1.herald.lan/editorial\"",
        "server: \"192.168.10.25\"",
        // the search: publications and queries by name
        "2 publications (Daily Herald, Weekly Review), 2 queries (Rush = checked, Section = item 3)",
        "field_name: \"Section\"",
        // results, pushes and the story header
        "part 1: 3 stories: City budget.qxd, Council vote.qxd (checked out), Harbour fire.qxd",
        "done: no more results",
        "SearchUpdate  [seq 6] added \"Late edition.qxd\"",
        "SearchUpdate  [seq 6] removed \"Council vote.qxd\"",
        "value: \"CITY-BUDGET\"",
        "blank: true",
        "time: \"2007-03-01 08:00:00 UTC\"",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(!text.contains("s3cret"));
    assert!(text.contains("password: \"<redacted>\""));
    // Every line is free of raw control characters.
    assert!(!text.chars().any(|c| c.is_control() && c != '\n'));
}

#[test]
fn plain_print_shows_the_failed_signon() {
    let path = bundled("qps/qps-2-signon-fail.pcap");
    let out = qscope(&["print", path.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Signon ERROR  [seq 1] signon failed (code 1)"),
        "{text}"
    );
    assert!(
        text.contains("warn: Signon failed (result code 1) for user \"editor\""),
        "{text}"
    );
    assert!(text.contains("signed on, session 0x0d42"), "{text}");
}
