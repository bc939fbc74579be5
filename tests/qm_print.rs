//! `qscope print` on real QM traffic. The `-V` output for qm-2 (prompt
//! dialogue, Call arguments, the 200 kB record, the failed login's error
//! text) is pinned by a golden file: regenerate it with
//! `UPDATE_GOLDEN=1 cargo test --test qm_print` and review the diff by eye.

mod common;

use std::path::PathBuf;

use common::*;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn print(args: &[&str]) -> String {
    let out = qscope(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("print output is UTF-8")
}

#[test]
fn qm_2_verbose_print_matches_golden() {
    let pcap = bundled("qm/qm-2-prompt-call-qmclilib.pcap");
    let got = print(&["print", "-V", pcap.to_str().unwrap()]);
    let path = golden("qm-2-prompt-call.txt");
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 creates it)", path.display()));
    if got != want {
        let (g, w): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
        let i = (0..g.len().min(w.len()))
            .find(|&i| g[i] != w[i])
            .unwrap_or(g.len().min(w.len()));
        let cut = |s: Option<&&str>| s.map(|s| s.chars().take(300).collect::<String>());
        panic!(
            "print -V differs from {} at line {}:\n got  {:?}\n want {:?}\n(UPDATE_GOLDEN=1 regenerates it; review the diff)",
            path.display(),
            i + 1,
            cut(g.get(i)),
            cut(w.get(i))
        );
    }
}

#[test]
fn qm_2_verbose_print_shows_what_matters() {
    let pcap = bundled("qm/qm-2-prompt-call-qmclilib.pcap");
    let out = print(&["print", "-V", pcap.to_str().unwrap()]);
    for want in [
        // The failed login, with its error text.
        "<- qm Login ERROR  ON_ERROR status=0 \"Invalid username or password\"  (3.00s)",
        "message: \"Invalid username or password\"",
        // The prompt dialogue, one exchange.
        "<- qm Execute  PROMPT status=0 \"What is your name\" (prompt 1 of \"RUN BP ASKNAME\")",
        "-> qm Respond  \"Alice\" (prompt 1 of \"RUN BP ASKNAME\")",
        "prompt of #16",
        "info: final response of \"RUN BP ASKNAME\" after 2 prompts",
        // The Call arguments, sent and returned.
        "-> qm Call  ADDNUMS (4 args)",
        "value: \"125\"  [28..31]",
        "value: \"Sum of 17 and 125 is 142\"  [26..50]",
        // SV_ERROR explained by GetError.
        "<- qm GetError  OK status=0 \"Unable to change to directory /usr/qmsys\" (error of Account)",
        "error of #28",
        // The 200 kB record: structured, abbreviated on screen.
        "<- qm Read  OK status=0 record 2001 fields, 200000 bytes",
        "<1,2>: \"KLMNOPQRS\"",
        "… (256002 more bytes)",
        // Secrets stay hidden.
        "password: \"<redacted>\"",
    ] {
        assert!(out.contains(want), "missing {want:?}");
    }
    // Nothing from the wire reaches the terminal unescaped.
    assert!(
        !out.chars().any(|c| c.is_control() && c != '\n'),
        "control character in the output"
    );
}

#[test]
fn qm_4_timeline_flags_the_risky_sessions() {
    let pcap = bundled("qm/qm-4-extra-codes-rawclient.pcap");
    let out = print(&["print", pcap.to_str().unwrap()]);
    for want in [
        "warn: request before login",
        "warn: LocalLogin over TCP",
        "warn: clear-text password on the wire (user \"qmtest\", password 6 bytes)",
        "-> qm unknown function 47",
        "warn: illegal function code 47",
        "warn: Respond sent when no prompt is outstanding",
        "\"Response to prompt sent when no prompt outstanding\" (error of Respond)",
        "<- qm Fileinfo  OK status=0 FL$PATH=\"/srv/qmdata/TESTACC/CUSTOMERS\"",
        "<- qm Indices2  OK status=0 description 6 fields, 22 bytes: \"D<VM><VM><VM>1<VM>0<VM>L<VM><FM>3<FM><FM>City<FM>L<FM>S\"",
        "# s2 warn: LocalLogin accepted over TCP",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
}
