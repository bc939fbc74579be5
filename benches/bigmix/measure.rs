//! Running a child process and measuring its wall time and peak RSS.
//!
//! Peak RSS is the child's `ru_maxrss` as `wait4(2)` reports it. The child
//! is started with fork+exec (a `pre_exec` hook makes std use fork instead
//! of posix_spawn's vfork): after a vfork-style spawn, Linux charges the
//! child with the *parent's* high-water mark at exec, which would make
//! every child look as large as this benchmark ever was. After a fork it
//! starts from this process's current RSS, kept small (see [`trim`]); the
//! benchmark prints that floor, measured on `true`.

use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub enum Status {
    Exited(i32),
    Signaled(i32),
    /// Killed by the benchmark: over the RSS cap or the time limit.
    Killed(String),
}

#[derive(Clone, Debug)]
pub struct Outcome {
    pub status: Status,
    pub secs: f64,
    pub maxrss_bytes: u64,
    /// The start of standard error.
    pub stderr: String,
}

impl Outcome {
    pub fn code(&self) -> Option<i32> {
        match self.status {
            Status::Exited(c) => Some(c),
            _ => None,
        }
    }
    pub fn status_text(&self) -> String {
        match &self.status {
            Status::Exited(c) => c.to_string(),
            Status::Signaled(s) => format!("signal {s}"),
            Status::Killed(why) => format!("killed ({why})"),
        }
    }
    /// The first line of standard error that says something.
    pub fn stderr_line(&self) -> &str {
        self.stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
    }
}

/// Limits of a watched run.
#[derive(Clone, Copy)]
pub struct Watch {
    pub rss_cap_bytes: u64,
    pub timeout: Duration,
}

/// Gives freed heap memory back to the system, so that the next child
/// starts from a small RSS.
pub fn trim() {
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::malloc_trim(0);
    }
}

/// This process's resident set, in bytes.
pub fn self_rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page_size())
}

fn page_size() -> u64 {
    (unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).max(4096) as u64
}

fn spawn(prog: &OsStr, args: &[&OsStr], stdout: Stdio) -> io::Result<Child> {
    trim();
    let own = self_rss();
    if own > 64_000_000 {
        eprintln!(
            "bigmix: warning: this process holds {:.0} MB; the next child's peak RSS is at least that",
            own as f64 / 1e6
        );
    }
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped());
    // SAFETY: the hook does nothing; it only makes std fork (see the module
    // documentation).
    unsafe {
        cmd.pre_exec(|| Ok(()));
    }
    cmd.spawn()
}

/// Reaps `pid`; with `nohang`, `None` while it still runs.
fn wait4(pid: libc::pid_t, nohang: bool) -> io::Result<Option<(i32, libc::rusage)>> {
    loop {
        let mut status = 0;
        // SAFETY: plain system call on our own child with valid pointers.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        let flags = if nohang { libc::WNOHANG } else { 0 };
        let r = unsafe { libc::wait4(pid, &mut status, flags, &mut ru) };
        if r == pid {
            return Ok(Some((status, ru)));
        }
        if r == 0 {
            return Ok(None);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

fn vm_rss(pid: libc::pid_t) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            l.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

fn decode(status: i32, ru: &libc::rusage, killed: Option<String>) -> (Status, u64) {
    // Linux reports ru_maxrss in KiB.
    let rss = ru.ru_maxrss.max(0) as u64 * 1024;
    let st = if let Some(why) = killed {
        Status::Killed(why)
    } else if libc::WIFEXITED(status) {
        Status::Exited(libc::WEXITSTATUS(status))
    } else {
        Status::Signaled(libc::WTERMSIG(status))
    };
    (st, rss)
}

fn read_stderr(mut e: impl Read) -> String {
    let mut keep = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = e.read(&mut buf) {
        if n == 0 {
            break;
        }
        if keep.len() < 4096 {
            keep.extend_from_slice(&buf[..n.min(4096 - keep.len())]);
        }
    }
    String::from_utf8_lossy(&keep).into_owned()
}

/// Runs `prog args` with standard output to /dev/null and waits for it
/// (blocking `wait4`: no polling in the measured time).
pub fn run_null(prog: &OsStr, args: &[&OsStr]) -> io::Result<Outcome> {
    let devnull = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
    let t = Instant::now();
    let mut child = spawn(prog, args, Stdio::from(devnull))?;
    let err = child.stderr.take().unwrap();
    let pid = child.id() as libc::pid_t;
    std::thread::scope(|s| {
        let h = s.spawn(move || read_stderr(err));
        let (status, ru) = wait4(pid, false)?.expect("blocking wait4");
        let secs = t.elapsed().as_secs_f64();
        let (status, maxrss_bytes) = decode(status, &ru, None);
        Ok(Outcome {
            status,
            secs,
            maxrss_bytes,
            stderr: h.join().unwrap(),
        })
    })
}

/// Runs `prog args` with standard output given to `consume` (on a thread
/// of its own), polling the child: over `watch`'s RSS cap or time limit it
/// is killed. Returns the outcome and what `consume` returned.
pub fn run_piped<T: Send>(
    prog: &OsStr,
    args: &[&OsStr],
    watch: Watch,
    consume: impl FnOnce(ChildStdout) -> T + Send,
) -> io::Result<(Outcome, T)> {
    let t = Instant::now();
    let mut child = spawn(prog, args, Stdio::piped())?;
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let pid = child.id() as libc::pid_t;
    std::thread::scope(|s| {
        let he = s.spawn(move || read_stderr(err));
        let ho = s.spawn(move || consume(out));
        let mut killed = None;
        let (status, ru) = loop {
            if let Some(r) = wait4(pid, true)? {
                break r;
            }
            // Not reaped yet, so `pid` is still our child.
            if killed.is_none() {
                let rss = vm_rss(pid);
                let why = if rss > watch.rss_cap_bytes {
                    Some(format!("RSS {:.0} MB over the cap", rss as f64 / 1e6))
                } else if t.elapsed() > watch.timeout {
                    Some(format!("over {} s", watch.timeout.as_secs()))
                } else {
                    None
                };
                if let Some(why) = why {
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    killed = Some(why);
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let secs = t.elapsed().as_secs_f64();
        let (status, maxrss_bytes) = decode(status, &ru, killed);
        let consumed = ho.join().unwrap();
        Ok((
            Outcome {
                status,
                secs,
                maxrss_bytes,
                stderr: he.join().unwrap(),
            },
            consumed,
        ))
    })
}
