//! Live capture on the loopback interface with real peers (feature `live`;
//! needs root, which CI has): a real QEMU driven by the official Python
//! client qemu.qmp, replays of real QM and QPS conversations over real
//! sockets, and the error cases (bad filter, unknown interface, no
//! permission, privileges given up after opening).
#![allow(unsafe_code)] // libc calls (kill, geteuid, an allocator counting calls): see their SAFETY comments
#![cfg(feature = "live")]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use qscope_dissectors::Dir;
use serde_json::Value;

/// Live tests need root (CAP_NET_RAW). In CI they must run; elsewhere they
/// are skipped with a message when not root.
fn root_or_skip(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: live capture tests need root in CI"
        );
        eprintln!("SKIPPED {test}: live capture needs root");
    }
    root
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `qscope` live capture whose stdout is collected.
struct Capture {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl Drop for Capture {
    fn drop(&mut self) {
        stop_if_running(&mut self.child);
    }
}

impl Capture {
    /// Starts qscope with `args` and waits until it says it is capturing.
    fn start(args: &[&str], env: &[(&str, &str)]) -> Capture {
        let mut child = Command::new(env!("CARGO_BIN_EXE_qscope"))
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (otx, stdout) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = otx.send(line);
            }
        });
        let (etx, stderr) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = etx.send(line);
            }
        });
        let c = Capture {
            child,
            stdout,
            stderr,
        };
        let mut before = Vec::new();
        loop {
            let line = c.stderr.recv_timeout(Duration::from_secs(10));
            let line =
                line.unwrap_or_else(|_| panic!("qscope did not start capturing: {before:?}"));
            if line.contains("capturing on") {
                break;
            }
            before.push(line);
        }
        c
    }

    /// The next stdout line within `timeout`.
    fn line(&self, timeout: Duration) -> Option<String> {
        self.stdout.recv_timeout(timeout).ok()
    }

    /// Sends SIGINT, waits for the exit, returns every remaining stdout
    /// line and the exit status.
    fn stop(mut self) -> (Vec<Value>, std::process::ExitStatus, Vec<String>) {
        std::thread::sleep(Duration::from_millis(300));
        Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "qscope did not stop on SIGINT");
            std::thread::sleep(Duration::from_millis(20));
        };
        // The readers may still be draining the pipes after the exit: read
        // to their end, not just what has arrived so far.
        let drain = |rx: &mpsc::Receiver<String>| -> Vec<String> {
            let mut lines = Vec::new();
            loop {
                match rx.recv_timeout(Duration::from_secs(10)) {
                    Ok(l) => lines.push(l),
                    Err(mpsc::RecvTimeoutError::Disconnected) => break lines,
                    Err(mpsc::RecvTimeoutError::Timeout) => panic!("output not closed after exit"),
                }
            }
        };
        let recs = drain(&self.stdout)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (recs, status, drain(&self.stderr))
    }
}

#[test]
fn real_qemu_session_is_decoded_live_in_order_with_pairing() {
    if !root_or_skip("real_qemu_session") {
        return;
    }
    let port = free_port();
    let filter = format!("tcp port {port}");
    let cap = Capture::start(
        &["export", "-i", "lo", "-f", &filter, "--format", "jsonl"],
        &[],
    );
    let mut qemu = Command::new("qemu-system-x86_64")
        .args([
            "-machine",
            "none",
            "-nodefaults",
            "-display",
            "none",
            "-qmp",
        ])
        .arg(format!("tcp:127.0.0.1:{port},server=on,wait=off"))
        .stdout(Stdio::null())
        .spawn()
        .expect("qemu-system-x86_64 (installed by .ci/run)");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/live/qmp_session.py");
    let client = Command::new("python3")
        .arg(script)
        .arg(port.to_string())
        .output()
        .unwrap();
    let _ = qemu.kill();
    let _ = qemu.wait();
    assert!(
        client.status.success(),
        "qemu.qmp client: {}",
        String::from_utf8_lossy(&client.stderr)
    );
    let log: Vec<Value> = String::from_utf8(client.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();

    // Output flows while the capture runs: the first record is already there.
    assert!(
        cap.line(Duration::from_secs(5)).is_some(),
        "JSONL arrives before the capture ends"
    );
    let (mut recs, status, stderr) = cap.stop();
    assert!(status.success(), "qscope exit {status:?}: {stderr:?}");
    // (the first line was taken above: it was the session record)
    recs.insert(0, Value::Null);
    let msgs: Vec<&Value> = recs.iter().filter(|r| r["type"] == "message").collect();
    assert!(msgs.iter().all(|m| m["proto"] == "qmp"));

    for dir in ["c2s", "s2c"] {
        let want: Vec<&Value> = log
            .iter()
            .filter(|e| e["dir"] == dir)
            .map(|e| &e["value"])
            .collect();
        let got: Vec<&Value> = msgs
            .iter()
            .filter(|m| m["dir"] == dir)
            .map(|m| &m["fields"]["value"])
            .collect();
        assert_eq!(
            got.len(),
            want.len(),
            "{dir}: every message the client logged, none extra"
        );
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{dir} message {i}");
        }
    }
    // Pairing: every return/error answers the request with its id (or,
    // without ids, the id-less request before it); events answer nothing.
    let by_index = |i: u64| msgs.iter().find(|m| m["index"] == i).unwrap();
    let mut replies = 0;
    for m in msgs.iter().filter(|m| m["dir"] == "s2c") {
        let v = &m["fields"]["value"];
        if v.get("return").is_some() || v.get("error").is_some() {
            let req = by_index(
                m["reply_to"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("unpaired reply {v}")),
            );
            assert_eq!(req["dir"], "c2s");
            assert_eq!(
                req["fields"]["value"].get("id"),
                v.get("id"),
                "paired by id: {v}"
            );
            assert!(m["latency_us"].as_i64().unwrap() >= 0);
            replies += 1;
        } else {
            assert!(
                m["reply_to"].is_null(),
                "greetings and events answer nothing"
            );
        }
    }
    assert_eq!(replies, log.iter().filter(|e| e["dir"] == "c2s").count());
    assert!(msgs.iter().any(|m| m["name"] == "STOP") && msgs.iter().any(|m| m["name"] == "RESUME"));
    let summary = recs
        .iter()
        .find(|r| r["type"] == "summary")
        .expect("summary written on SIGINT");
    assert_eq!(summary["dropped"], 0, "no kernel drops");
}

/// Replays a conversation over a real loopback connection: each side sends
/// its chunks in order, after reading everything the peer sent before.
fn replay(port: u16, conv: &[(Dir, Vec<u8>)]) {
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let side = |mut s: TcpStream, mine: Dir, conv: Vec<(Dir, Vec<u8>)>| {
        for (dir, bytes) in conv {
            if dir == mine {
                s.write_all(&bytes).unwrap();
            } else {
                let mut buf = vec![0; bytes.len()];
                s.read_exact(&mut buf).unwrap();
            }
        }
    };
    let c = conv.to_vec();
    let server = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        side(s, Dir::S2C, c);
    });
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    side(s, Dir::C2S, conv.to_vec());
    server.join().unwrap();
}

/// Replays every connection of a shared capture while capturing live, and
/// checks the live export against the capture's ground truth per session
/// and direction.
fn replay_and_check(name: &str, port: u16) {
    let pcap = bundled(&format!("{name}.pcap"));
    let filter = format!("tcp port {port}");
    let cap = Capture::start(
        &["export", "-i", "lo", "-f", &filter, "--format", "jsonl"],
        &[],
    );
    let convs = conversations(&pcap);
    for conv in &convs {
        replay(port, conv);
        std::thread::sleep(Duration::from_millis(50));
    }
    let (recs, status, stderr) = cap.stop();
    assert!(status.success(), "{stderr:?}");
    // The capture's sessions in order of their first message, and ours.
    let truth: Vec<Value> = std::fs::read_to_string(bundled(&format!("{name}.truth.jsonl")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut truth_sessions: Vec<String> = Vec::new();
    for t in &truth {
        let s = t["session"].as_str().unwrap().to_string();
        if !truth_sessions.contains(&s) {
            truth_sessions.push(s);
        }
    }
    let ours: Vec<&Value> = recs.iter().filter(|r| r["type"] == "session").collect();
    assert_eq!(
        ours.len(),
        convs.len(),
        "one session per replayed connection"
    );
    let mut matched = 0;
    let with_messages: Vec<&&Value> = ours
        .iter()
        .filter(|s| {
            recs.iter()
                .any(|r| r["type"] == "message" && r["session"] == s["id"])
        })
        .collect();
    assert_eq!(with_messages.len(), truth_sessions.len());
    for (tkey, s) in truth_sessions.iter().zip(with_messages) {
        for dir in ["c2s", "s2c"] {
            let want: Vec<&Value> = truth
                .iter()
                .filter(|t| &t["session"] == tkey && t["dir"] == dir)
                .collect();
            let got: Vec<&Value> = recs
                .iter()
                .filter(|r| r["type"] == "message" && r["session"] == s["id"] && r["dir"] == dir)
                .collect();
            assert_eq!(got.len(), want.len(), "{name} {tkey} {dir}: message count");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g["proto"], w["proto"]);
                for (k, v) in w["check"].as_object().unwrap() {
                    assert_eq!(&g["fields"][k], v, "{name} {tkey} {dir}: field {k} of {g}");
                }
                matched += 1;
            }
        }
    }
    assert_eq!(matched, truth.len());
}

#[test]
fn qm_conversation_replayed_over_loopback_is_decoded_live() {
    if root_or_skip("qm_replay") {
        replay_and_check("qm/qm-1-fileops-qmclilib", free_port());
    }
}

#[test]
fn qps_conversation_replayed_over_loopback_is_decoded_live() {
    if root_or_skip("qps_replay") {
        replay_and_check("qps/qps-1-happy", free_port());
    }
}

fn live_error(args: &[&str], setpriv: bool) -> String {
    let mut cmd = if setpriv {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ]);
        c.arg(env!("CARGO_BIN_EXE_qscope"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_qscope"))
    };
    let out = cmd.args(args).output().unwrap();
    assert!(!out.status.success(), "{args:?} must fail");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"));
    err
}

#[test]
fn live_capture_errors_are_clear() {
    if !root_or_skip("live_errors") {
        return;
    }
    let err = live_error(&["export", "-i", "lo", "-f", "tcp port"], false);
    assert!(err.contains("bad capture filter 'tcp port'"), "{err}");
    let err = live_error(&["print", "-i", "nosuchif0"], false);
    assert!(
        err.contains("unknown interface") && err.contains("qscope -D"),
        "{err}"
    );
    // The same binary without root rights: how to grant them.
    let err = live_error(&["print", "-i", "lo"], true);
    assert!(
        err.contains("no permission") && err.contains("cap_net_raw"),
        "{err}"
    );
    // Options that only make sense live are refused for files.
    let pcap = bundled("qmp/qmp-events.pcap");
    let err = live_error(&["print", pcap.to_str().unwrap(), "-f", "tcp"], false);
    assert!(err.contains("live capture only"), "{err}");
    // -D lists interfaces, loopback among them.
    let out = Command::new(env!("CARGO_BIN_EXE_qscope"))
        .arg("-D")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.contains(". lo")));
}

#[test]
fn root_rights_are_given_up_after_opening_the_capture() {
    if !root_or_skip("privilege_drop") {
        return;
    }
    let port = free_port().to_string();
    let filter = format!("tcp port {port}");
    let mut cap = Capture::start(
        &["print", "-i", "lo", "-f", &filter],
        &[("SUDO_UID", "65534"), ("SUDO_GID", "65534")],
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", cap.child.id())).unwrap();
    let uid_line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap()
        .to_string();
    assert!(
        uid_line.split_whitespace().skip(1).all(|u| u == "65534"),
        "{uid_line}"
    );
    // Still capturing and decoding as nobody; -c and --duration stop it.
    let _ = cap.child.kill();
    let out = Command::new(env!("CARGO_BIN_EXE_qscope"))
        .args(["print", "-i", "lo", "-f", &filter, "--duration", "0.5"])
        .env("SUDO_UID", "65534")
        .env("SUDO_GID", "65534")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("now running as uid 65534"));
}

#[test]
fn write_option_saves_what_was_captured() {
    if !root_or_skip("write") {
        return;
    }
    let port = free_port();
    let dir = scratch("live");
    let file = dir.join("live.pcap");
    let filter = format!("tcp port {port}");
    let cap = Capture::start(
        &[
            "export",
            "-i",
            "lo",
            "-f",
            &filter,
            "-w",
            file.to_str().unwrap(),
            "--format",
            "jsonl",
        ],
        &[],
    );
    let conv = &conversations(&bundled("qps/qps-2-signon-fail.pcap"))[0];
    replay(port, conv);
    let (live, status, _) = cap.stop();
    assert!(status.success());
    // The written file decodes to the same messages as the live run.
    let (again, out) = export(&file, &[]);
    assert!(out.status.success());
    let fields = |recs: &[Value]| -> Vec<Value> {
        recs.iter()
            .filter(|r| r["type"] == "message")
            .map(|r| r["fields"].clone())
            .collect()
    };
    assert!(!fields(&live).is_empty());
    assert_eq!(fields(&live), fields(&again));
}
