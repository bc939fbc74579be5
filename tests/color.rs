//! `qscope print --color`: colour codes wrap the text and nothing else
//! (stripped, the output is the uncoloured one byte for byte), `never`,
//! `NO_COLOR` and `auto` into a pipe give none, `auto` on a terminal gives
//! colour unless `NO_COLOR` is set, and `always` overrides `NO_COLOR`.

mod common;

use std::process::Command;

use common::*;
use qscope::human::color::strip_sgr;

const SGR: &str = "\x1b[";

fn print(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_qscope"));
    cmd.arg("print").args(args).env_remove("NO_COLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every capture of the repository's demo set, one per protocol at least.
fn captures() -> Vec<String> {
    [
        "qmp/qmp-basic.pcap",
        "qmp/qmp-events.pcap",
        "qmp/qmp-hmp.pcap",
        "qm/qm-1-fileops-qmclilib.pcap",
        "qm/qm-4-extra-codes-rawclient.pcap",
        "qps/qps-1-happy.pcap",
        "qps/qps-2-signon-fail.pcap",
        "mqserver/mq-binary.pcap",
        "mqserver/mq-text.pcap",
        "mqserver/mq-xml.pcap",
    ]
    .iter()
    .map(|c| bundled(c))
    .filter(|p| p.exists())
    .map(|p| p.to_str().unwrap().to_owned())
    .collect()
}

#[test]
fn always_colours_and_stripped_equals_plain() {
    let caps = captures();
    assert!(caps.len() >= 6, "{caps:?}");
    let mut styles = std::collections::BTreeSet::new();
    for cap in &caps {
        for verbose in [false, true] {
            let mut args = vec![cap.as_str()];
            if verbose {
                args.push("-V");
            }
            let plain = print(&[&args[..], &["--color", "never"]].concat(), &[]);
            let colour = print(&[&args[..], &["--color", "always"]].concat(), &[]);
            assert!(!plain.contains('\x1b'), "{cap}: --color never has codes");
            assert!(colour.contains(SGR), "{cap}: --color always has none");
            assert_eq!(strip_sgr(&colour), plain, "{cap} -V={verbose}");
            for part in colour.split(SGR).skip(1) {
                styles.insert(part.split('m').next().unwrap().to_owned());
            }
        }
    }
    // The palette shows: both directions, the protocol, errors, warnings,
    // slow replies, the header, -V's dim field names.
    for s in ["32", "36", "2", "31", "1;31", "33", "1;33", "1", "0"] {
        assert!(styles.contains(s), "style {s} never used: {styles:?}");
    }
}

#[test]
fn errors_and_slow_latency_stand_out() {
    let cap = bundled("qmp/qmp-basic.pcap");
    let colour = print(&[cap.to_str().unwrap(), "--color", "always"], &[]);
    let line = colour
        .lines()
        .find(|l| l.contains("no-such-command") && l.contains("ERROR"))
        .unwrap();
    assert!(line.contains("\x1b[1;31mERROR\x1b[0m"), "{line:?}");
    assert!(line.contains("\x1b[31mno-such-command\x1b[0m"), "{line:?}");
    assert!(line.contains("\x1b[32m->\x1b[0m") || line.contains("\x1b[36m<-\x1b[0m"));
    // A reply slower than 100 ms is bold yellow; faster ones are plain.
    let mut slow_seen = 0;
    for cap in ["qmp/qmp-events.pcap", "mqserver/mq-xml.pcap"] {
        let cap = bundled(cap);
        let colour = print(&[cap.to_str().unwrap(), "--color", "always"], &[]);
        for l in colour
            .lines()
            .filter(|l| l.ends_with(')') && l.contains("  ("))
        {
            let stripped = strip_sgr(l);
            let lat = stripped.rsplit("  (").next().unwrap().trim_end_matches(')');
            let slow = lat.ends_with('s') && !lat.ends_with("ms") && !lat.ends_with("µs")
                || lat
                    .strip_suffix("ms")
                    .is_some_and(|n| n.parse::<f64>().unwrap() > 100.0);
            assert_eq!(l.contains("\x1b[1;33m"), slow, "{l:?}");
            slow_seen += usize::from(slow);
        }
    }
    assert!(slow_seen > 0);
}

#[test]
fn never_no_color_and_pipes_give_none() {
    let cap = bundled("qmp/qmp-basic.pcap");
    let cap = cap.to_str().unwrap();
    let plain = print(&[cap, "--color", "never"], &[]);
    // auto (the default) into a pipe
    assert_eq!(print(&[cap], &[]), plain);
    assert_eq!(print(&[cap, "--color", "auto"], &[]), plain);
    // NO_COLOR
    assert_eq!(print(&[cap], &[("NO_COLOR", "1")]), plain);
    // an explicit --color always overrides NO_COLOR
    assert!(print(&[cap, "--color", "always"], &[("NO_COLOR", "1")]).contains(SGR));
}

/// Runs `qscope print ...` on a pseudo-terminal (util-linux `script`), so
/// that `auto` sees a terminal; None when `script` is not there.
fn print_on_terminal(cap: &str, env: &[(&str, &str)]) -> Option<String> {
    let have = Command::new("sh")
        .args(["-c", "command -v script"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        return None;
    }
    let mut cmd = Command::new("script");
    cmd.args(["-qec"])
        .arg(format!("{} print -q {cap}", env!("CARGO_BIN_EXE_qscope")))
        .arg("/dev/null")
        .env_remove("NO_COLOR")
        .env("TERM", "xterm");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success());
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn auto_on_a_terminal_colours_unless_no_color() {
    let cap = bundled("qmp/qmp-basic.pcap");
    let cap = cap.to_str().unwrap();
    let Some(tty) = print_on_terminal(cap, &[]) else {
        eprintln!("`script` is not installed: auto on a terminal not checked");
        return;
    };
    assert!(tty.contains(SGR), "{tty}");
    let no_color = print_on_terminal(cap, &[("NO_COLOR", "1")]).unwrap();
    assert!(!no_color.contains(SGR), "{no_color}");
    // An empty NO_COLOR is as good as unset (no-color.org).
    let empty = print_on_terminal(cap, &[("NO_COLOR", "")]).unwrap();
    assert!(empty.contains(SGR));
    let dumb = print_on_terminal(cap, &[("TERM", "dumb")]).unwrap();
    assert!(!dumb.contains(SGR));
}
