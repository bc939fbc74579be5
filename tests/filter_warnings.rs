//! A `qmp.` path that names no top-level QMP key is valid but matches
//! nothing: print, export and stats say so once on standard error, with
//! the nearest key, and still run the filter; real paths are not warned
//! about.

mod common;

use common::*;

const WARNING: &str = "qscope: warning: 'qmp.exec' names no top-level QMP key, so it matches \
nothing; did you mean 'qmp.execute'?\n";

fn run(cmd: &str, filter: &str) -> (String, String) {
    let cap = bundled("qmp/qmp-basic.pcap");
    let out = qscope(&[cmd, cap.to_str().unwrap(), "-Y", filter]);
    assert!(
        out.status.success(),
        "{cmd} -Y {filter}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn a_path_no_qmp_message_has_is_warned_about_once() {
    // Twice in the expression, said once.
    let filter = r#"qmp.exec == "quit" || qmp.exec == "stop""#;
    for cmd in ["print", "export", "stats"] {
        let (out, err) = run(cmd, filter);
        assert_eq!(err, WARNING, "{cmd}");
        // The filter ran (and matched nothing).
        match cmd {
            "print" => assert!(out.contains(", 0 matching the filter"), "{out}"),
            "export" => assert!(out.contains("\"matched\":0"), "{out}"),
            _ => assert!(!out.is_empty()),
        }
    }
    // Deeper paths get the corrected path.
    let (_, err) = run("print", r#"qmp.argument.device == "ide0""#);
    assert!(
        err.contains("did you mean 'qmp.arguments.device'?"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
    // Nothing close: the keys are listed.
    let (_, err) = run("export", "qmp.zzzzzz");
    assert!(
        err.contains(
            "(execute, exec-oob, arguments, id, return, error, event, data, timestamp, QMP)"
        ),
        "{err}"
    );
}

#[test]
fn real_paths_are_not_warned_about() {
    for filter in [
        r#"qmp.arguments.device == "ide0""#,
        r#"qmp.execute == "quit""#,
        r#"qmp.return.status == "running""#,
        "qmp.error",
        "qmp.error.class == GenericError",
        "qmp.data.reason",
        "qmp.timestamp.seconds > 0",
        "qmp.QMP.version.qemu.major == 7",
        "qmp.id == 5",
        "qmp.event",
        "qm.exec",
    ] {
        for cmd in ["print", "export", "stats"] {
            let (_, err) = run(cmd, filter);
            assert_eq!(err, "", "{cmd} -Y {filter}");
        }
    }
    // The warning does not change what a path matches.
    let (warned, _) = run("export", "qmp.exec || qmp.execute == \"query-status\"");
    let (plain, _) = run("export", "qmp.execute == \"query-status\"");
    assert_eq!(warned, plain);
}
