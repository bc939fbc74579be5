//! The relay (`--listen ADDR --connect ADDR`): a real QEMU driven through
//! the tap by the official Python client over a Unix socket; real QGA and
//! QM conversations relayed over TCP to fake servers with concurrent
//! clients; ends and half-closes; decoding falling behind while the relay
//! goes on; the listen socket's permissions and clean-up; the errors.
//!
//! The relay needs no root. The QEMU test needs `qemu-system-x86_64` and
//! the Python package `qemu.qmp` (which CI installs): without them it is
//! skipped with a message, except in CI (`CI` set), where it fails.
#![allow(unsafe_code)] // libc calls (kill, geteuid, an allocator counting calls): see their SAFETY comments

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use qscope::capture::relay::Addr;
use qscope_dissectors::Dir;
use serde_json::Value;

/// A running `qscope ... --listen ... --connect ...`.
struct Relay {
    child: Child,
    stdout: Option<mpsc::Receiver<String>>,
    raw_stdout: Option<ChildStdout>,
    stderr: mpsc::Receiver<String>,
    /// What it listens on, as it said (e.g. `tcp:127.0.0.1:40123`).
    listening: String,
    /// Standard error lines read so far.
    errs: Vec<String>,
}

fn lines<R: Read + Send + 'static>(r: R) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

impl Drop for Relay {
    fn drop(&mut self) {
        stop_if_running(&mut self.child);
    }
}

impl Relay {
    /// Starts qscope with `args` and waits until it relays.
    fn start(args: &[&str]) -> Relay {
        Relay::start_with(args, true)
    }

    /// `read_stdout: false` leaves standard output unread (a stalled
    /// consumer) until [`Relay::read_stdout`].
    fn start_with(args: &[&str], read_stdout: bool) -> Relay {
        let mut child = Command::new(env!("CARGO_BIN_EXE_qscope"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (stdout, raw_stdout) = if read_stdout {
            (Some(lines(out)), None)
        } else {
            (None, Some(out))
        };
        let stderr = lines(child.stderr.take().unwrap());
        let mut errs = Vec::new();
        let listening = loop {
            let line = stderr
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("qscope did not start relaying: {errs:?}"));
            if let Some(rest) = line.strip_prefix("qscope: relaying ") {
                break rest.split(" -> ").next().unwrap().to_string();
            }
            errs.push(line);
        };
        Relay {
            child,
            stdout,
            raw_stdout,
            stderr,
            listening,
            errs,
        }
    }

    fn tcp_port(&self) -> u16 {
        self.listening.rsplit(':').next().unwrap().parse().unwrap()
    }

    fn read_stdout(&mut self) {
        if let Some(out) = self.raw_stdout.take() {
            self.stdout = Some(lines(out));
        }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: a signal to our own child.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }

    /// Sends SIGINT and collects everything (see [`Relay::wait`]).
    fn stop(self) -> (Vec<Value>, ExitStatus, Vec<String>) {
        self.signal(libc::SIGINT);
        self.wait(Duration::from_secs(10))
    }

    /// Waits for the exit; returns the JSONL records, the status and the
    /// standard error lines.
    fn wait(mut self, timeout: Duration) -> (Vec<Value>, ExitStatus, Vec<String>) {
        self.read_stdout();
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("qscope did not exit in time");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let drain = |rx: &mpsc::Receiver<String>| -> Vec<String> {
            let mut v = Vec::new();
            loop {
                match rx.recv_timeout(Duration::from_secs(20)) {
                    Ok(l) => v.push(l),
                    Err(mpsc::RecvTimeoutError::Disconnected) => break v,
                    Err(mpsc::RecvTimeoutError::Timeout) => panic!("output not closed"),
                }
            }
        };
        let recs = drain(self.stdout.as_ref().unwrap())
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l}: {e}")))
            .collect();
        let mut errs = std::mem::take(&mut self.errs);
        errs.extend(drain(&self.stderr));
        (recs, status, errs)
    }
}

fn messages(recs: &[Value]) -> Vec<&Value> {
    recs.iter().filter(|r| r["type"] == "message").collect()
}

fn summary(recs: &[Value]) -> &Value {
    recs.iter()
        .find(|r| r["type"] == "summary")
        .expect("a summary record")
}

fn wait_for_path(p: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !p.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", p.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A fresh directory for one test's sockets (short: socket paths are
/// limited to 107 bytes), removed when the test is done with it.
fn sock_dir(name: &str) -> SockDir {
    let dir = std::env::temp_dir().join(format!("qscope-relay-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    SockDir(dir)
}

/// See [`sock_dir`].
struct SockDir(PathBuf);

impl std::ops::Deref for SockDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for SockDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unix(p: &Path) -> String {
    format!("unix:{}", p.display())
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

// ------------------------------------------------------------ real QEMU

/// QEMU and qemu.qmp are there; skipped (with a message) when they are
/// not, except in CI, where that is a failure.
fn qemu_or_skip(test: &str) -> bool {
    let qemu = Command::new("qemu-system-x86_64")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let client = Command::new("python3")
        .args(["-c", "import qemu.qmp"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !(qemu && client) {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: qemu-system-x86_64 and the Python package qemu.qmp are needed in CI"
        );
        eprintln!("SKIPPED {test}: needs qemu-system-x86_64 and python3 -m pip install qemu.qmp");
    }
    qemu && client
}

#[test]
fn real_qemu_through_a_unix_socket_tap_is_relayed_exactly_and_decoded() {
    if !qemu_or_skip("real_qemu_through_a_unix_socket_tap") {
        return;
    }
    let dir = sock_dir("qemu");
    let (qmp, tap, pcap) = (
        dir.join("qmp.sock"),
        dir.join("tap.sock"),
        dir.join("relay.pcap"),
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
        .arg(format!("unix:{},server=on,wait=off", qmp.display()))
        .stdout(Stdio::null())
        .spawn()
        .expect("qemu-system-x86_64");
    wait_for_path(&qmp);
    let relay = Relay::start(&[
        "export",
        "--listen",
        &unix(&tap),
        "--connect",
        &unix(&qmp),
        "--format",
        "jsonl",
        "-w",
        pcap.to_str().unwrap(),
    ]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/live/qmp_session.py");
    let client = Command::new("python3")
        .arg(script)
        .arg(&tap)
        .arg("--quit")
        .output()
        .unwrap();
    assert!(
        client.status.success(),
        "qemu.qmp client: {}",
        String::from_utf8_lossy(&client.stderr)
    );
    // `quit`: QEMU exits by itself.
    let deadline = Instant::now() + Duration::from_secs(10);
    while qemu.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "QEMU did not quit");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (recs, status, errs) = relay.stop();
    assert!(status.success(), "qscope: {status:?} {errs:?}");
    assert!(!tap.exists(), "the listen socket is removed on exit");
    let log: Vec<Value> = String::from_utf8(client.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();

    // (a) The client received exactly the bytes QEMU sent, and QEMU the
    // bytes the client sent: the -w capture holds what the relay read from
    // each side.
    for (dir, arg) in [("s2c", "s2c"), ("c2s", "c2s")] {
        let client_side: Vec<u8> = log
            .iter()
            .filter(|e| e["dir"] == dir)
            .flat_map(|e| hex(e["raw"].as_str().unwrap()))
            .collect();
        let out = qscope(&[
            "follow",
            pcap.to_str().unwrap(),
            "s1",
            "--raw",
            "--dir",
            arg,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(client_side.len() > 100_000 || dir == "c2s");
        assert!(
            out.stdout == client_side,
            "{dir}: the relay's stream ({} bytes) differs from the client's ({} bytes)",
            out.stdout.len(),
            client_side.len()
        );
    }

    // (b) Every message, in order, decoded and paired.
    let sessions: Vec<&Value> = recs.iter().filter(|r| r["type"] == "session").collect();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["proto"], "qmp");
    assert_eq!(sessions[0]["client"], "192.0.2.1:40000");
    assert_eq!(sessions[0]["server"], "192.0.2.2:4444");
    let msgs = messages(&recs);
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
            got, want,
            "{dir}: every message the client logged, in order"
        );
    }
    let mut replies = 0;
    for m in msgs.iter().filter(|m| m["dir"] == "s2c") {
        let v = &m["fields"]["value"];
        if v.get("return").is_some() || v.get("error").is_some() {
            let req = msgs
                .iter()
                .find(|r| r["index"] == m["reply_to"])
                .unwrap_or_else(|| panic!("unpaired reply {v}"));
            assert_eq!(req["dir"], "c2s");
            assert_eq!(req["fields"]["value"].get("id"), v.get("id"), "{v}");
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
    for ev in ["STOP", "RESUME", "SHUTDOWN"] {
        assert!(msgs.iter().any(|m| m["name"] == ev), "event {ev}");
    }
    assert!(msgs.iter().any(|m| m["error"] == true), "an error reply");
    assert!(msgs.iter().any(|m| m["name"] == "query-qmp-schema"));
    let sum = summary(&recs);
    assert_eq!(sum["dropped"], 0);
    assert_eq!(sum["gaps"]["count"], 0);
    let end = recs.iter().find(|r| r["type"] == "session_end").unwrap();
    assert_eq!(end["messages"].as_u64().unwrap() as usize, msgs.len());

    // (c) The -w capture, read again, gives the same messages.
    let (again, out) = export(&pcap, &[]);
    assert!(out.status.success());
    let again = messages(&again);
    assert_eq!(again.len(), msgs.len());
    for (a, b) in again.iter().zip(&msgs) {
        assert_eq!(a, b, "the same record from the -w file");
    }
}

// ------------------------------------------- conversations over TCP

/// Plays one side of a conversation on `s`: writes its own chunks, and
/// reads the peer's, which must be exactly the expected bytes. Then ends
/// its writing and expects the peer's end of file.
fn play(mut s: TcpStream, mine: Dir, conv: &[(Dir, Vec<u8>)]) {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    for (dir, bytes) in conv {
        if *dir == mine {
            s.write_all(bytes).unwrap();
        } else {
            let mut buf = vec![0; bytes.len()];
            s.read_exact(&mut buf).unwrap();
            assert!(&buf == bytes, "{mine:?} side received other bytes");
        }
    }
    s.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "nothing after the conversation");
}

/// Relays `clients` concurrent replays of the first conversation of
/// `captures/NAME.pcap` to a fake server over TCP and checks each session
/// of the export against the capture's ground truth.
fn relay_conversation(name: &str, clients: usize, extra: &[&str]) -> Vec<Value> {
    let conv = conversations(&bundled(&format!("{name}.pcap"))).remove(0);
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let c = conv.clone();
    let fake = std::thread::spawn(move || {
        let mut served = Vec::new();
        for _ in 0..clients {
            let (s, _) = server.accept().unwrap();
            let c = c.clone();
            served.push(std::thread::spawn(move || play(s, Dir::S2C, &c)));
        }
        for t in served {
            t.join().unwrap();
        }
    });
    let target = format!("tcp:127.0.0.1:{port}");
    let mut args = vec![
        "export",
        "--listen",
        "tcp:127.0.0.1:0",
        "--connect",
        &target,
        "--format",
        "jsonl",
    ];
    args.extend_from_slice(extra);
    let relay = Relay::start(&args);
    let tap = relay.tcp_port();
    // The clients start together and overlap.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(clients));
    let players: Vec<_> = (0..clients)
        .map(|_| {
            let (b, c) = (barrier.clone(), conv.clone());
            std::thread::spawn(move || {
                b.wait();
                play(
                    TcpStream::connect(("127.0.0.1", tap)).unwrap(),
                    Dir::C2S,
                    &c,
                )
            })
        })
        .collect();
    for p in players {
        p.join().unwrap();
    }
    fake.join().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let (recs, status, errs) = relay.stop();
    assert!(status.success(), "{errs:?}");

    let truth: Vec<Value> = std::fs::read_to_string(bundled(&format!("{name}.truth.jsonl")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let first = truth[0]["session"].clone();
    let sessions: Vec<&Value> = recs.iter().filter(|r| r["type"] == "session").collect();
    assert_eq!(sessions.len(), clients, "one session per client");
    let mut clients_seen = Vec::new();
    for s in &sessions {
        assert_eq!(s["server"], format!("192.0.2.2:{port}"));
        clients_seen.push(s["client"].as_str().unwrap().to_string());
        for dir in ["c2s", "s2c"] {
            let want: Vec<&Value> = truth
                .iter()
                .filter(|t| t["session"] == first && t["dir"] == dir)
                .collect();
            let got: Vec<&Value> = recs
                .iter()
                .filter(|r| r["type"] == "message" && r["session"] == s["id"] && r["dir"] == dir)
                .collect();
            assert_eq!(
                got.len(),
                want.len(),
                "{name} {} {dir}: message count",
                s["id"]
            );
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g["proto"], w["proto"]);
                for (k, v) in w["check"].as_object().unwrap() {
                    assert_eq!(&g["fields"][k], v, "{name} {dir}: field {k} of {g}");
                }
            }
        }
        let end = recs
            .iter()
            .find(|r| r["type"] == "session_end" && r["session"] == s["id"])
            .unwrap();
        assert!(end["messages"].as_u64().unwrap() > 0);
    }
    clients_seen.sort();
    clients_seen.dedup();
    assert_eq!(clients_seen.len(), clients, "each client its own address");
    assert_eq!(summary(&recs)["dropped"], 0);
    assert_eq!(summary(&recs)["gaps"]["count"], 0);
    recs
}

#[test]
fn guest_agent_conversation_over_tcp_with_two_concurrent_clients() {
    // --decode-as without a port: every relayed session is QMP (QGA).
    let recs = relay_conversation("qmp/qmp-qga", 2, &["--decode-as", "qmp"]);
    let ends: Vec<&Value> = recs.iter().filter(|r| r["type"] == "session_end").collect();
    assert!(ends.iter().all(|e| e["notes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["text"].as_str().unwrap().contains("--decode-as"))));
}

#[test]
fn qm_conversation_over_tcp_with_two_concurrent_clients_is_found_by_content() {
    let recs = relay_conversation("qm/qm-1-fileops-qmclilib", 2, &[]);
    assert!(messages(&recs).iter().all(|m| m["proto"] == "qm"));
}

// ------------------------------------------------- ends and half-closes

#[test]
fn half_close_passes_through_and_either_side_closing_closes_the_other() {
    let dir = sock_dir("ends");
    let (target, tap) = (dir.join("t.sock"), dir.join("tap.sock"));
    let server = UnixListener::bind(&target).unwrap();
    let relay = Relay::start(&[
        "export",
        "--listen",
        &unix(&tap),
        "--connect",
        &unix(&target),
    ]);

    // 1. The client half-closes; the server reads to the end of file and
    // still answers; the answer reaches the client, then its end of file.
    let mut c = UnixStream::connect(&tap).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let (mut s, _) = server.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"{\"execute\":\"guest-ping\"}").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"{\"execute\":\"guest-ping\"}");
    s.write_all(b"{\"return\": {}}\n").unwrap();
    drop(s);
    let mut answer = Vec::new();
    c.read_to_end(&mut answer).unwrap();
    assert_eq!(answer, b"{\"return\": {}}\n");

    // 2. The server closes: the client sees the end of file.
    let mut c = UnixStream::connect(&tap).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let (s, _) = server.accept().unwrap();
    drop(s);
    let mut buf = [0u8; 16];
    assert_eq!(c.read(&mut buf).unwrap(), 0, "server closed -> client EOF");

    // 3. The client closes: the server sees the end of file.
    let c = UnixStream::connect(&tap).unwrap();
    let (mut s, _) = server.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    drop(c);
    assert_eq!(s.read(&mut buf).unwrap(), 0, "client closed -> server EOF");
    drop(s);

    std::thread::sleep(Duration::from_millis(200));
    let (recs, status, errs) = relay.stop();
    assert!(status.success(), "{errs:?}");
    let ends: Vec<&Value> = recs.iter().filter(|r| r["type"] == "session_end").collect();
    assert_eq!(ends.len(), 3, "one session per client");
    let msgs = messages(&recs);
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[1]["reply_to"], msgs[0]["index"]);
    assert!(
        errs.iter()
            .any(|l| l.contains("3 client(s)") && l.contains("all decoded")),
        "{errs:?}"
    );
    assert!(!tap.exists());
}

#[test]
fn the_target_going_away_resets_and_an_unreachable_target_closes_the_client() {
    let dir = sock_dir("gone");
    let (target, tap) = (dir.join("t.sock"), dir.join("tap.sock"));
    let server = UnixListener::bind(&target).unwrap();
    let relay = Relay::start(&[
        "export",
        "--listen",
        &unix(&tap),
        "--connect",
        &unix(&target),
    ]);
    let mut c = UnixStream::connect(&tap).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let (s, _) = server.accept().unwrap();
    // The target closes without reading what the client sent.
    c.write_all(b"{\"execute\":\"query-status\"}\n").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    drop(s);
    let mut buf = [0u8; 16];
    assert_eq!(c.read(&mut buf).unwrap_or(0), 0);
    drop(c);
    // The target is gone altogether: a client is accepted and closed.
    drop(server);
    std::fs::remove_file(&target).unwrap();
    let mut c = UnixStream::connect(&tap).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(c.read(&mut buf).unwrap_or(0), 0);
    std::thread::sleep(Duration::from_millis(200));
    let (recs, status, errs) = relay.stop();
    assert!(status.success(), "{errs:?}");
    assert!(
        errs.iter()
            .any(|l| l.contains("cannot connect to the target")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|l| l.contains("1 could not reach the target")),
        "{errs:?}"
    );
    assert_eq!(messages(&recs).len(), 1);
}

// ------------------------------------------- decoding falls behind

#[test]
fn a_stalled_output_never_holds_up_the_relay_and_the_loss_is_a_gap() {
    let dir = sock_dir("behind");
    let (target, tap) = (dir.join("t.sock"), dir.join("tap.sock"));
    let server = UnixListener::bind(&target).unwrap();
    // An echo server.
    let echo = std::thread::spawn(move || {
        let (mut s, _) = server.accept().unwrap();
        let mut r = s.try_clone().unwrap();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            s.write_all(&buf[..n]).unwrap();
        }
    });
    // Standard output is not read: the export stalls at once, and the
    // queue (1 MB) soon overflows.
    let mut relay = Relay::start_with(
        &[
            "export",
            "--listen",
            &unix(&tap),
            "--connect",
            &unix(&target),
            "--relay-queue",
            "1",
        ],
        false,
    );
    let c = UnixStream::connect(&tap).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let line = format!(
        "{{\"execute\":\"x\",\"arguments\":{{\"pad\":\"{}\"}}}}\n",
        "a".repeat(1000)
    );
    let total = 8 << 20;
    let count = total / line.len();
    let sent: Vec<u8> = line.repeat(count).into_bytes();
    let started = Instant::now();
    let mut w = c.try_clone().unwrap();
    let to_send = sent.clone();
    let writer = std::thread::spawn(move || {
        w.write_all(&to_send).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    let mut back = Vec::new();
    (&c).read_to_end(&mut back).unwrap();
    writer.join().unwrap();
    echo.join().unwrap();
    let took = started.elapsed();
    assert!(
        back == sent,
        "every byte relayed, unchanged ({} of {})",
        back.len(),
        sent.len()
    );
    assert!(
        took < Duration::from_secs(30),
        "the relay was held up: {took:?}"
    );

    relay.read_stdout();
    std::thread::sleep(Duration::from_millis(300));
    let (recs, status, errs) = relay.stop();
    assert!(status.success(), "{errs:?}");
    let sum = summary(&recs);
    assert!(sum["dropped"].as_u64().unwrap() > 0, "{sum}");
    let gaps = sum["gaps"]["bytes"].as_u64().unwrap();
    assert!(gaps > 0);
    // The gaps are exactly the bytes left out of decoding.
    let line = errs
        .iter()
        .find(|l| l.contains("relayed but not decoded"))
        .unwrap_or_else(|| panic!("{errs:?}"));
    let lost: u64 = line
        .split(", ")
        .find_map(|p| {
            p.strip_suffix(
                " bytes relayed but not decoded (decoding fell behind; gaps in the sessions)",
            )
        })
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(gaps, lost, "{line}");
    assert!(errs.iter().any(|l| l.contains("decoding fell behind")));
    assert!(recs.iter().any(|r| r["type"] == "gap"));
    // What was decoded before the loss is exact: every message is a line sent.
    for dir in ["c2s", "s2c"] {
        let first_gap = recs
            .iter()
            .filter(|r| r["type"] == "gap" && r["dir"] == dir)
            .filter_map(|r| r["offset"].as_u64())
            .min()
            .unwrap_or(u64::MAX);
        let before: Vec<&Value> = messages(&recs)
            .into_iter()
            .filter(|m| m["dir"] == dir && m["offset"].as_u64().unwrap() < first_gap)
            .collect();
        assert!(!before.is_empty());
        for m in before {
            assert_eq!(m["len"].as_u64().unwrap() as usize, line_len(&sent));
        }
    }
}

fn line_len(sent: &[u8]) -> usize {
    sent.iter().position(|&b| b == b'\n').unwrap()
}

#[test]
fn count_reached_stops_decoding_but_not_the_open_connection() {
    let dir = sock_dir("count");
    let (target, tap) = (dir.join("t.sock"), dir.join("tap.sock"));
    let server = UnixListener::bind(&target).unwrap();
    let relay = Relay::start(&[
        "export",
        "--listen",
        &unix(&tap),
        "--connect",
        &unix(&target),
        "-c",
        "2",
        "--decode-as",
        "qmp",
    ]);
    let mut c = UnixStream::connect(&tap).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let (mut s, _) = server.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 64];
    for i in 0..5 {
        let req = format!("{{\"execute\":\"query-status\",\"id\":{i}}}\n");
        c.write_all(req.as_bytes()).unwrap();
        let n = s.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], req.as_bytes());
        let rep = format!("{{\"return\":{{}},\"id\":{i}}}\n");
        s.write_all(rep.as_bytes()).unwrap();
        let n = c.read(&mut buf).unwrap();
        assert_eq!(
            &buf[..n],
            rep.as_bytes(),
            "still relayed after -c was reached"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // qscope is still there, for this connection only: the listen socket is
    // gone already.
    assert!(!tap.exists(), "no new client once decoding has ended");
    drop(c);
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    drop(s);
    // ... and exits by itself once the connection has ended.
    let (recs, status, errs) = relay.wait(Duration::from_secs(10));
    assert!(status.success(), "{errs:?}");
    assert_eq!(messages(&recs).len(), 2);
    assert!(
        errs.iter()
            .any(|l| l.contains("relaying the 1 open connection")),
        "{errs:?}"
    );
}

// ------------------------------------------- the listen socket, errors

#[test]
fn the_listen_socket_is_no_wider_than_the_target_and_is_removed_on_exit() {
    let dir = sock_dir("perm");
    let (target, tap) = (dir.join("t.sock"), dir.join("tap.sock"));
    let _server = UnixListener::bind(&target).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    // A stale socket (nobody listening) at the tap path is replaced.
    drop(UnixListener::bind(&tap).unwrap());
    assert!(tap.exists());
    let relay = Relay::start(&[
        "export",
        "--listen",
        &unix(&tap),
        "--connect",
        &unix(&target),
    ]);
    let meta = std::fs::symlink_metadata(&tap).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    // SIGTERM ends it as cleanly as SIGINT.
    relay.signal(libc::SIGTERM);
    let (_, status, errs) = relay.wait(Duration::from_secs(10));
    assert!(status.success(), "{errs:?}");
    assert!(!tap.exists(), "the listen socket is removed");
    assert!(target.exists(), "the target is left alone");

    // With a TCP target: owner only.
    let port = TcpListener::bind("127.0.0.1:0").unwrap();
    let t = format!("tcp:{}", port.local_addr().unwrap());
    let relay = Relay::start(&["export", "--listen", &unix(&tap), "--connect", &t]);
    let mode = std::fs::metadata(&tap).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let (_, status, _) = relay.stop();
    assert!(status.success());
}

fn fails(args: &[&str]) -> (i32, String) {
    let out = qscope(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    (out.status.code().unwrap(), err)
}

#[test]
fn bad_addresses_and_taken_paths_are_refused_clearly() {
    let dir = sock_dir("errors");
    let target = dir.join("t.sock");
    let _server = UnixListener::bind(&target).unwrap();
    let t = unix(&target);
    let tap = unix(&dir.join("tap.sock"));
    // Usage errors: status 2.
    for (args, says) in [
        (
            vec!["print", "--listen", "foo:/x", "--connect", &t],
            "expected unix:PATH or tcp:HOST:PORT",
        ),
        (
            vec!["print", "--listen", "tcp:127.0.0.1", "--connect", &t],
            "expected tcp:HOST:PORT",
        ),
        (
            vec!["print", "--listen", "tcp:127.0.0.1:99999", "--connect", &t],
            "not a TCP port",
        ),
        (
            vec!["print", "--listen", "unix:", "--connect", &t],
            "needs a socket path",
        ),
        (
            vec!["print", "--listen", &tap, "--connect", "tcp:127.0.0.1:0"],
            "port 0",
        ),
        (vec!["print", "--listen", &tap], "--connect"),
        (
            vec!["print", "--listen", &t, "--connect", &t],
            "same socket",
        ),
        (
            vec!["print", "--listen", &tap, "--connect", &t, "-f", "tcp"],
            "-f applies",
        ),
        (
            vec![
                "print",
                "--listen",
                &tap,
                "--connect",
                &t,
                "--duration",
                "0",
            ],
            "--duration",
        ),
        (
            vec![
                "print",
                &bundled("qmp/qmp-basic.pcap").to_string_lossy(),
                "--decode-as",
                "qmp",
            ],
            "without a port",
        ),
        (
            vec![
                "print",
                &bundled("qmp/qmp-basic.pcap").to_string_lossy(),
                "--listen",
                &tap,
                "--connect",
                &t,
            ],
            "cannot be used with",
        ),
    ] {
        let (code, err) = fails(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // Refusals: status 1.
    let file = dir.join("file");
    std::fs::write(&file, b"keep me").unwrap();
    let (code, err) = fails(&["print", "--listen", &unix(&file), "--connect", &t]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("exists and is not a socket"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me", "left alone");
    let (code, err) = fails(&[
        "print",
        "--listen",
        &unix(&dir.join("other.sock")),
        "--connect",
        &unix(&dir.join("none.sock")),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no such socket"), "{err}");
    let (code, err) = fails(&[
        "print",
        "--listen",
        &unix(&dir.join("other.sock")),
        "--connect",
        &unix(&file),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a socket"), "{err}");
    // Somebody listens at the tap path already.
    let busy = dir.join("busy.sock");
    let _busy = UnixListener::bind(&busy).unwrap();
    let (code, err) = fails(&["print", "--listen", &unix(&busy), "--connect", &t]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("listening on this socket already"), "{err}");
    assert!(busy.exists());
}

// ------------------------------------------------------- latency

/// Request/response round trips of a QMP-sized exchange against a small
/// server, directly and through the relay (decoded as QMP, and not decoded
/// at all: the relay's own cost), over Unix sockets and TCP: prints the
/// median and 99th percentile of each and what the relay adds. The three
/// paths take turns in blocks of 500 round trips, so that they share
/// whatever else the machine is doing. Run with
/// `cargo test --release --test relay -- --ignored --nocapture latency`.
#[test]
#[ignore = "a measurement: prints figures, run by hand (see the README)"]
fn latency() {
    const BLOCK: usize = 500;
    const BLOCKS: usize = 40;
    let request = b"{\"execute\":\"query-status\",\"id\":\"__qmp#00001\"}\n".to_vec();
    let reply =
        b"{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}, \"id\": \"__qmp#00001\"}\r\n"
            .to_vec();
    let dir = sock_dir("latency");
    let serve = |mut s: Box<dyn ReadWrite>, req: usize, rep: Vec<u8>| {
        std::thread::spawn(move || {
            let mut buf = vec![0u8; req];
            while s.read_exact(&mut buf).is_ok() {
                if s.write_all(&rep).is_err() {
                    break;
                }
            }
        })
    };
    let fig = |t: &mut Vec<f64>| {
        t.sort_by(|a, b| a.partial_cmp(b).unwrap());
        (t[t.len() / 2], t[t.len() * 99 / 100])
    };
    let mut rows = Vec::new();
    for kind in ["unix", "tcp"] {
        let target = if kind == "unix" {
            let p = dir.join("target.sock");
            let _ = std::fs::remove_file(&p);
            let l = UnixListener::bind(&p).unwrap();
            let (rl, rr) = (request.len(), reply.clone());
            std::thread::spawn(move || {
                for s in l.incoming() {
                    serve(Box::new(s.unwrap()), rl, rr.clone());
                }
            });
            unix(&p)
        } else {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let a = l.local_addr().unwrap();
            let (rl, rr) = (request.len(), reply.clone());
            std::thread::spawn(move || {
                for s in l.incoming() {
                    let s = s.unwrap();
                    s.set_nodelay(true).unwrap();
                    serve(Box::new(s), rl, rr.clone());
                }
            });
            format!("tcp:{a}")
        };
        let connect = |addr: &str| -> Box<dyn ReadWrite> {
            match Addr::parse(addr).unwrap() {
                Addr::Unix(p) => Box::new(UnixStream::connect(p).unwrap()),
                Addr::Tcp { host, port } => {
                    let s = TcpStream::connect((host.as_str(), port)).unwrap();
                    s.set_nodelay(true).unwrap();
                    Box::new(s)
                }
            }
        };
        let mut relays = Vec::new();
        let mut conns = vec![connect(&target)];
        for (i, proto) in ["qmp", "unknown"].iter().enumerate() {
            let listen = if kind == "unix" {
                unix(&dir.join(format!("tap{i}.sock")))
            } else {
                "tcp:127.0.0.1:0".to_string()
            };
            let relay = Relay::start(&[
                "export",
                "--listen",
                &listen,
                "--connect",
                &target,
                "-o",
                "/dev/null",
                "--decode-as",
                proto,
            ]);
            conns.push(connect(&relay.listening));
            relays.push(relay);
        }
        let mut times = vec![Vec::new(); conns.len()];
        let mut buf = vec![0u8; reply.len()];
        for block in 0..BLOCKS + 2 {
            for (c, t) in conns.iter_mut().zip(&mut times) {
                for _ in 0..BLOCK {
                    let start = Instant::now();
                    c.write_all(&request).unwrap();
                    c.read_exact(&mut buf).unwrap();
                    // The first two blocks warm up.
                    if block >= 2 {
                        t.push(start.elapsed().as_secs_f64() * 1e6);
                    }
                }
            }
        }
        drop(conns);
        for r in relays {
            let (_, status, errs) = r.stop();
            assert!(status.success(), "{errs:?}");
        }
        let (dm, dp) = fig(&mut times[0]);
        let (rm, rp) = fig(&mut times[1]);
        let (um, up) = fig(&mut times[2]);
        rows.push(format!(
            "| {kind} | {dm:.1} / {dp:.1} | {rm:.1} / {rp:.1} | +{:.1} / +{:.1} | {um:.1} / {up:.1} | +{:.1} / +{:.1} |",
            rm - dm,
            rp - dp,
            um - dm,
            up - dp
        ));
    }
    println!(
        "{} round trips per path, median / p99 in microseconds:",
        BLOCK * BLOCKS
    );
    println!("| socket | direct | relayed, decoded | added | relayed, not decoded | added |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}

trait ReadWrite: Read + Write + Send {}
impl<T: Read + Write + Send> ReadWrite for T {}
