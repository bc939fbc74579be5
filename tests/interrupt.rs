//! Ctrl-C on the analysis of a capture file: the first SIGINT stops it
//! cleanly (sessions ended, summary written with its `error` naming the
//! interruption, exit status 130), a second one ends qscope at once.
//!
//! The capture comes through standard input, which the test feeds: an
//! eighth of it, then (once output shows that it is being decoded) the signal,
//! then the rest. So the signal always arrives with the file unread, and
//! nothing depends on how fast the machine is.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use common::*;

/// The mixed capture, written once for both tests (which run at once).
fn capture() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| mixed("interrupt", 120))
}

#[allow(unsafe_code)] // a libc call: see its SAFETY comment
fn sigint(child: &Child) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill has no memory preconditions; the child is not reaped yet.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
}

/// `qscope ARGS -`, its standard streams piped.
fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_qscope"))
        .args(args)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Starts `qscope ARGS -` with piped standard input and output; a thread
/// feeds it the first eighth of the capture, then what `more` sends it
/// (and keeps the input open until `more` is dropped, so qscope waits for
/// the rest). Returns once a first line of output was read.
struct Started {
    child: Child,
    more: mpsc::Sender<Vec<u8>>,
    feeder: std::thread::JoinHandle<()>,
    out: BufReader<ChildStdout>,
    first: String,
}

fn started(args: &[&str], capture: &[u8]) -> Started {
    let mut child = spawn(args);
    let mut stdin = child.stdin.take().unwrap();
    let head = capture[..capture.len() / 8].to_vec();
    let (more, rx) = mpsc::channel::<Vec<u8>>();
    let feeder = std::thread::spawn(move || {
        // qscope may stop reading (that is the point): errors are expected.
        let _ = stdin.write_all(&head);
        while let Ok(bytes) = rx.recv() {
            let _ = stdin.write_all(&bytes);
        }
    });
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(!first.is_empty(), "no output from the first part");
    Started {
        child,
        more,
        feeder,
        out,
        first,
    }
}

/// Waits for the child, failing (not hanging) if it does not end.
fn wait(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "qscope did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What the child wrote on standard error.
fn stderr_of(child: &mut Child) -> String {
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    err
}

#[test]
fn ctrl_c_on_a_file_finishes_the_output_and_exits_130() {
    let path = capture();
    let capture = std::fs::read(path).unwrap();
    let total = read_pcap(path).len() as u64;
    for jobs in ["1", "2"] {
        let Started {
            mut child,
            more,
            feeder,
            mut out,
            first,
        } = started(&["export", "-q", "--format", "jsonl", "-j", jobs], &capture);
        sigint(&child);
        // The rest of the file is offered; qscope stops at the next epoch
        // and closes its input.
        more.send(capture[capture.len() / 8..].to_vec()).unwrap();
        drop(more);
        let mut text = first;
        out.read_to_string(&mut text).unwrap();
        let status = wait(&mut child);
        feeder.join().unwrap();
        let err = stderr_of(&mut child);
        assert_eq!(status.code(), Some(130), "-j {jobs}: {err}");
        assert!(
            err.contains("interrupted: - was read up to packet"),
            "-j {jobs}: {err}"
        );
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        let summary = lines.last().unwrap();
        assert_eq!(summary["type"], "summary", "-j {jobs}");
        let packets = summary["packets"].as_u64().unwrap();
        assert!(
            packets > 0 && packets < total,
            "-j {jobs}: {packets} of {total}"
        );
        let error = summary["error"].as_str().unwrap();
        assert!(error.starts_with("interrupted by a signal"), "{error}");
        // Every session that began also ended.
        let begun = of_type(&lines, "session").len();
        assert!(begun > 0);
        assert_eq!(begun, of_type(&lines, "session_end").len(), "-j {jobs}");
    }
}

#[test]
fn a_second_ctrl_c_ends_qscope_at_once() {
    let capture = std::fs::read(capture()).unwrap();
    let Started {
        mut child,
        more,
        feeder,
        out,
        ..
    } = started(&["print", "-q"], &capture);
    // qscope waits for the rest of its input, which never comes: the
    // first signal cannot end the analysis (the engine looks at the stop
    // flag between packets), the second ends the process. (Apart, so
    // that the two are not merged into one pending signal.)
    sigint(&child);
    std::thread::sleep(Duration::from_millis(200));
    sigint(&child);
    let status = wait(&mut child);
    assert_eq!(status.code(), Some(130));
    drop((more, out));
    feeder.join().unwrap();
}

/// A signal that comes once the whole capture was read cuts nothing
/// short: the output is complete, the summary has no error, the exit
/// status is 0. (The capture fits in one epoch, so output begins only
/// once its end was read; it is larger than a pipe holds, so qscope is
/// still writing, blocked on the pipe, when the signal comes.)
#[test]
fn ctrl_c_after_the_last_packet_was_read_interrupts_nothing() {
    let path = bundled("qmp/qmp-basic.pcap");
    let capture = std::fs::read(&path).unwrap();
    for jobs in ["1", "2"] {
        let mut child = spawn(&["export", "-q", "--format", "jsonl", "-j", jobs]);
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&capture).unwrap();
        drop(stdin);
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut text = String::new();
        out.read_line(&mut text).unwrap();
        assert!(!text.is_empty(), "-j {jobs}: no output");
        sigint(&child);
        out.read_to_string(&mut text).unwrap();
        // More than qscope's 64 KiB output buffer, the 64 KiB pipe and
        // this reader's 8 KiB hold: it was still writing when signalled.
        assert!(text.len() > 160 * 1024, "-j {jobs}: {} bytes", text.len());
        let status = wait(&mut child);
        let err = stderr_of(&mut child);
        assert_eq!(status.code(), Some(0), "-j {jobs}: {err}");
        let summary: serde_json::Value =
            serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(summary["type"], "summary");
        assert_eq!(summary["error"], serde_json::Value::Null, "-j {jobs}");
        assert_eq!(
            summary["packets"].as_u64().unwrap(),
            read_pcap(&path).len() as u64
        );
    }
}
