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
use std::process::{Child, Command, Stdio};
use std::time::Instant;

#[derive(Clone, Debug)]
pub enum Status {
    Exited(i32),
    Signaled(i32),
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

fn decode(status: i32, ru: &libc::rusage) -> (Status, u64) {
    // Linux reports ru_maxrss in KiB.
    let rss = ru.ru_maxrss.max(0) as u64 * 1024;
    let st = if libc::WIFEXITED(status) {
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
        let (status, maxrss_bytes) = decode(status, &ru);
        Ok(Outcome {
            status,
            secs,
            maxrss_bytes,
            stderr: h.join().unwrap(),
        })
    })
}
