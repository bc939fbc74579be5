//! Live capture under load:
//! `sudo -E cargo bench --bench live_load --features live` (capturing needs
//! root or the capture capabilities; see the README's performance notes).
//!
//! For each rate (default 10 000, 50 000 and 100 000 messages per second,
//! `QSCOPE_LOAD_RATES=10000,50000`), for `QSCOPE_LOAD_SECS` seconds (default
//! 3): a fake QMP server and a client on loopback TCP (Nagle off, one
//! message per write) exchange a greeting, `qmp_capabilities`, then
//! `{"execute":"query-status","id":N}` requests at the rate, each answered
//! `{"return": {...}, "id": N}`; meanwhile
//! `qscope stats -i lo -f 'tcp port P' --format json` captures. After the
//! client has its last reply and both sides closed, and once qscope is idle
//! (it has read everything the kernel kept), qscope is stopped with SIGINT,
//! and its report (messages decoded) and standard error (packets captured,
//! kernel drops: libpcap's counters) are read. One table row per rate:
//! achieved rate, messages sent (both directions) and decoded, packets
//! captured and dropped, qscope's CPU time, the traffic's duration and how
//! long qscope kept working after it.
//!
//! Timing is not a test: this is a benchmark, never run by `cargo test`.
#![allow(unsafe_code)] // libc calls (sysconf, kill): see their SAFETY comments

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

const GREETING: &[u8] = b"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 8}, \"package\": \"live_load\"}, \"capabilities\": [\"oob\"]}}\r\n";

/// One rate's results.
struct Row {
    rate: u64,
    achieved: f64,
    sent: u64,
    decoded: u64,
    packets: Option<u64>,
    dropped: Option<u64>,
    cpu_secs: f64,
    wall_secs: f64,
    /// Time qscope kept working after the traffic ended.
    drain_secs: f64,
}

/// The fake QMP server: greets, answers `qmp_capabilities` and every
/// request with its id, one write per message; counts messages sent.
fn serve(listener: TcpListener, sent: Arc<AtomicU64>) {
    let (stream, _) = listener.accept().expect("accept");
    stream.set_nodelay(true).expect("nodelay");
    let mut w = stream.try_clone().expect("clone");
    w.write_all(GREETING).expect("greeting");
    sent.fetch_add(1, Ordering::Relaxed);
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { break };
        let reply = if line.contains("qmp_capabilities") {
            "{\"return\": {}}\r\n".to_string()
        } else {
            let id = line
                .split("\"id\":")
                .nth(1)
                .map(|s| s.trim_end_matches('}').trim())
                .unwrap_or("null");
            format!(
                "{{\"return\": {{\"status\": \"running\", \"singlestep\": false, \"running\": true}}, \"id\": {id}}}\r\n"
            )
        };
        if w.write_all(reply.as_bytes()).is_err() {
            break;
        }
        sent.fetch_add(1, Ordering::Relaxed);
    }
    let _ = w.shutdown(Shutdown::Write);
}

/// Starts `qscope stats` on the loopback interface and waits until it
/// captures. Returns the child and its standard error lines.
fn start_qscope(port: u16) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_qscope"))
        .args(["stats", "-i", "lo", "-f", &format!("tcp port {port}")])
        .args(["--format", "json", "--slowest", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start qscope");
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().expect("stderr");
    thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    loop {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(l) if l.contains("capturing on") => break,
            Ok(l) => eprintln!("qscope: {l}"),
            Err(_) => {
                panic!("qscope did not start capturing (root or capture capabilities needed)")
            }
        }
    }
    (child, rx)
}

/// CPU seconds (user + system) the process used so far, from /proc.
fn cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may contain spaces).
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    ticks / hz
}

fn run_one(rate: u64, secs: f64) -> Row {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (mut qscope, stderr) = start_qscope(port);
    let server_sent = Arc::new(AtomicU64::new(0));
    let server = {
        let sent = server_sent.clone();
        thread::spawn(move || serve(listener, sent))
    };

    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut w = stream.try_clone().expect("clone");
    let mut lines = BufReader::new(stream).lines();
    lines.next().expect("greeting").expect("greeting");
    w.write_all(b"{\"execute\":\"qmp_capabilities\"}\n")
        .expect("qmp_capabilities");
    lines.next().expect("capabilities reply").expect("reply");
    let received = Arc::new(AtomicU64::new(0));
    let reader = {
        let received = received.clone();
        thread::spawn(move || {
            for l in lines {
                if l.is_err() {
                    break;
                }
                received.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    // Requests at the rate: request n is due at start + n / rate.
    let total = (rate as f64 * secs) as u64;
    let start = Instant::now();
    for n in 0..total {
        let due = start + Duration::from_secs_f64(n as f64 / rate as f64);
        loop {
            let now = Instant::now();
            if now >= due {
                break;
            }
            if due - now > Duration::from_micros(300) {
                thread::sleep(due - now - Duration::from_micros(200));
            } else {
                thread::yield_now();
            }
        }
        let req = format!("{{\"execute\":\"query-status\",\"id\":{n}}}\n");
        w.write_all(req.as_bytes()).expect("request");
    }
    let elapsed = start.elapsed().as_secs_f64();
    // Every reply back, then both sides close.
    let deadline = Instant::now() + Duration::from_secs(10);
    while received.load(Ordering::Relaxed) < total && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    let _ = w.shutdown(Shutdown::Write);
    server.join().expect("server");
    reader.join().expect("reader");
    let wall = start.elapsed().as_secs_f64();

    // Let qscope drain the kernel buffer: wait until it is idle (less
    // than 5 ms of CPU in 500 ms, at most 30 s), then stop it.
    let drained = Instant::now();
    let mut cpu = cpu_secs(qscope.id());
    loop {
        thread::sleep(Duration::from_millis(500));
        let now = cpu_secs(qscope.id());
        let busy = now - cpu > 0.005;
        cpu = now;
        if !busy || drained.elapsed() > Duration::from_secs(30) {
            break;
        }
    }
    let drain_secs = drained.elapsed().as_secs_f64() - 0.5;
    // SAFETY: sending SIGINT to our own child.
    unsafe {
        libc::kill(qscope.id() as libc::pid_t, libc::SIGINT);
    }
    let out = {
        let mut s = String::new();
        if let Some(mut o) = qscope.stdout.take() {
            use std::io::Read;
            let _ = o.read_to_string(&mut s);
        }
        s
    };
    let status = qscope.wait().expect("wait");
    let err: Vec<String> = stderr.try_iter().collect();
    if !status.success() {
        eprintln!("qscope exited with {status}: {err:?}");
    }
    let report: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| {
        panic!("qscope stats output is not JSON ({e}): {out}");
    });
    let decoded = report["protocols"]["qmp"]["messages"].as_u64().unwrap_or(0);
    // "qscope: N packets captured, D dropped by the kernel or interface"
    let (mut packets, mut dropped) = (None, None);
    for l in &err {
        if let Some(rest) = l.strip_prefix("qscope: ") {
            let words: Vec<&str> = rest.split_whitespace().collect();
            if words.get(1) == Some(&"packets") && words.get(2) == Some(&"captured,") {
                packets = words[0].parse().ok();
                dropped = words.get(3).and_then(|d| d.parse().ok());
            }
        }
    }
    // Client: qmp_capabilities + requests; server: greeting + replies.
    let sent = 1 + total + server_sent.load(Ordering::Relaxed);
    Row {
        rate,
        achieved: total as f64 / elapsed,
        sent,
        decoded,
        packets,
        dropped,
        cpu_secs: cpu,
        wall_secs: wall,
        drain_secs,
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --benches` runs bench targets without --bench.
        println!(
            "live_load: a benchmark; run `cargo bench --bench live_load --features live` as root"
        );
        return;
    }
    let rates: Vec<u64> = std::env::var("QSCOPE_LOAD_RATES")
        .unwrap_or_else(|_| "10000,50000,100000".into())
        .split(',')
        .map(|r| r.trim().parse().expect("QSCOPE_LOAD_RATES: numbers"))
        .collect();
    let secs: f64 = std::env::var("QSCOPE_LOAD_SECS")
        .ok()
        .map(|s| s.parse().expect("QSCOPE_LOAD_SECS: a number"))
        .unwrap_or(3.0);
    let mut rows = Vec::new();
    for &rate in &rates {
        eprintln!("live_load: {rate} messages/s for {secs}s ...");
        rows.push(run_one(rate, secs));
    }
    let opt = |x: Option<u64>| x.map_or("-".to_string(), |v| v.to_string());
    println!(
        "{:>8} {:>10} {:>9} {:>9} {:>8} {:>9} {:>8} {:>8} {:>7} {:>7}",
        "RATE/s",
        "ACHIEVED/s",
        "SENT",
        "DECODED",
        "DECODED%",
        "PACKETS",
        "DROPPED",
        "CPU",
        "WALL",
        "DRAIN"
    );
    for r in &rows {
        println!(
            "{:>8} {:>10.0} {:>9} {:>9} {:>8.2} {:>9} {:>8} {:>7.2}s {:>6.2}s {:>6.2}s",
            r.rate,
            r.achieved,
            r.sent,
            r.decoded,
            100.0 * r.decoded as f64 / r.sent.max(1) as f64,
            opt(r.packets),
            opt(r.dropped),
            r.cpu_secs,
            r.wall_secs,
            r.drain_secs
        );
    }
    if let Some(r) = rows.iter().find(|r| r.rate == 50_000) {
        let ok = r.dropped == Some(0) && r.decoded == r.sent;
        println!(
            "target (no drops, every message decoded at 50 k/s): {}",
            if ok { "met" } else { "NOT met" }
        );
    }
}
