//! Live capture with libpcap (cargo feature `live`).
//!
//! [`LiveSource`] opens an interface (or libpcap's default device) with a
//! snap length large enough for whole segments and a generous kernel
//! buffer, applies a BPF filter, and yields packets like a file source.
//! It does not use libpcap's immediate mode: on Linux that mode falls back
//! to a ring of fixed-size slots, which on `lo` (64 KiB MTU) holds only
//! a few hundred packets, and the kernel dropped packets at 50,000
//! messages a second; the block ring used instead hands packets over when
//! a block fills or after [`BLOCK_TIMEOUT_MS`], which bounds the delay. It stops cleanly when the shared stop flag is raised
//! (SIGINT/SIGTERM, `-c COUNT`) or the `--duration` deadline passes, can
//! copy every packet to a pcap file (`-w`), and reports libpcap's drop
//! counters.

/// Longest a captured packet waits in the kernel before it is handed over
/// (libpcap's timeout, the block ring's retire timeout on Linux).
pub const BLOCK_TIMEOUT_MS: i32 = 50;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use super::signals::stop_on_signals;
use super::source::{CaptureError, CaptureErrorKind, LinkType, Next, Packet, Source, Timestamp};
use super::writer::PcapWriter;

/// Snap length: the largest TCP segment with offloads (GRO) plus headers.
pub const SNAPLEN: i32 = 262_144;
/// Kernel buffer: enough to ride out bursts while decoding.
pub const BUFFER_BYTES: i32 = 32 << 20;

/// How to capture.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Interface name (`any` for all); `None` for libpcap's default device.
    pub interface: Option<String>,
    /// BPF capture filter.
    pub filter: String,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Raised to stop the capture (signals, message count).
    pub stop: Arc<AtomicBool>,
    /// Copy captured packets to this pcap file.
    pub write: Option<PathBuf>,
    /// With `write`: rotate files at this size, keeping `ring_files` files.
    pub ring_bytes: Option<u64>,
    pub ring_files: usize,
}

/// Packets from a network interface.
pub struct LiveSource {
    cap: pcap::Capture<pcap::Active>,
    name: String,
    link: LinkType,
    stop: Arc<AtomicBool>,
    deadline: Option<Instant>,
    writer: Option<PcapWriter>,
    num: u64,
    /// The current packet (copied out of libpcap's buffer).
    buf: Vec<u8>,
    ts: Timestamp,
    orig_len: u32,
}

/// Interfaces libpcap can capture on: (name, description).
pub fn list_interfaces() -> Result<Vec<(String, Option<String>)>, String> {
    pcap::Device::list()
        .map(|devs| devs.into_iter().map(|d| (d.name, d.desc)).collect())
        .map_err(|e| format!("cannot list interfaces: {}", pcap_text(&e)))
}

fn pcap_text(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Turns libpcap's open errors into advice.
fn open_error(iface: &str, e: &pcap::Error) -> CaptureError {
    let text = pcap_text(e);
    let lower = text.to_lowercase();
    let detail = if lower.contains("permission") || lower.contains("not permitted") {
        format!(
            "no permission to capture ({text}); run as root, or grant the capabilities once: \
             sudo setcap cap_net_raw,cap_net_admin=eip $(command -v qscope)"
        )
    } else if lower.contains("no such device")
        || lower.contains("doesn't exist")
        || lower.contains("not found")
    {
        format!("unknown interface ({text}); `qscope -D` lists the interfaces")
    } else {
        text
    };
    CaptureError::new(CaptureErrorKind::Io, iface, detail)
}

impl LiveSource {
    /// Opens the interface and applies the filter.
    pub fn open(opts: &LiveOptions) -> Result<LiveSource, CaptureError> {
        let device = match &opts.interface {
            Some(name) => pcap::Device::from(name.as_str()),
            None => match pcap::Device::lookup() {
                Ok(Some(d)) => d,
                Ok(None) => return Err(CaptureError::new(
                    CaptureErrorKind::Io,
                    "live capture",
                    "libpcap found no default interface; name one with -i (qscope -D lists them)",
                )),
                Err(e) => return Err(open_error("live capture", &e)),
            },
        };
        let name = device.name.clone();
        let inactive = pcap::Capture::from_device(device).map_err(|e| open_error(&name, &e))?;
        let mut cap = inactive
            .snaplen(SNAPLEN)
            .immediate_mode(false)
            .buffer_size(BUFFER_BYTES)
            .timeout(BLOCK_TIMEOUT_MS)
            .promisc(false)
            .open()
            .map_err(|e| open_error(&name, &e))?;
        cap.filter(&opts.filter, true).map_err(|e| {
            CaptureError::new(
                CaptureErrorKind::Io,
                &name,
                format!("bad capture filter '{}': {}", opts.filter, pcap_text(&e)),
            )
        })?;
        // Non-blocking reads plus our own poll() with a timeout: libpcap
        // retries its poll() after a signal, so a blocking read would never
        // see Ctrl-C.
        let cap = cap.setnonblock().map_err(|e| open_error(&name, &e))?;
        let link = LinkType(u32::try_from(cap.get_datalink().0).unwrap_or(u32::MAX));
        let writer = match &opts.write {
            Some(path) => {
                let w = PcapWriter::create(path, link, false).map_err(|e| {
                    CaptureError::new(CaptureErrorKind::Io, &path.display().to_string(), e)
                })?;
                Some(match opts.ring_bytes {
                    Some(b) => w.ring(b, opts.ring_files),
                    None => w,
                })
            }
            None => None,
        };
        Ok(LiveSource {
            cap,
            name,
            link,
            stop: opts.stop.clone(),
            deadline: opts.duration.map(|d| Instant::now() + d),
            writer,
            num: 0,
            buf: Vec::with_capacity(SNAPLEN as usize),
            ts: Timestamp::default(),
            orig_len: 0,
        })
    }

    /// The interface being captured.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits until libpcap has something to read, a signal arrives, or
    /// `ms` milliseconds pass.
    #[allow(unsafe_code)] // a libc call: see its SAFETY comment
    fn wait_readable(&self, ms: i32) {
        use std::os::fd::AsRawFd;
        let mut fd = libc::pollfd {
            fd: self.cap.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd; the result only decides whether to read.
        unsafe {
            libc::poll(&mut fd, 1, ms);
        }
    }
}

impl LiveSource {
    /// Reads the next packet into `buf` ([`Fetched::Packet`]); stops at the
    /// end (stop flag, deadline) or, with `wait`, when none came within it.
    fn fetch(&mut self, wait: Option<Duration>) -> Result<Fetched, CaptureError> {
        let since = Instant::now();
        loop {
            if self.stop.load(Ordering::Relaxed)
                || self.deadline.is_some_and(|d| Instant::now() >= d)
            {
                if let Some(w) = &mut self.writer {
                    w.flush()
                        .map_err(|e| CaptureError::new(CaptureErrorKind::Io, "-w output", e))?;
                }
                return Ok(Fetched::End);
            }
            if wait.is_some_and(|w| since.elapsed() >= w) {
                return Ok(Fetched::Idle);
            }
            match self.cap.next_packet() {
                Ok(p) => {
                    self.buf.clear();
                    self.buf.extend_from_slice(p.data);
                    let tv = p.header.ts;
                    self.ts = Timestamp {
                        secs: tv.tv_sec,
                        nanos: u32::try_from(tv.tv_usec).unwrap_or(0).min(999_999) * 1000,
                        nano: false,
                    };
                    self.orig_len = p.header.len;
                    break;
                }
                Err(pcap::Error::TimeoutExpired) => {
                    let ms = wait.map_or(100, |w| {
                        w.saturating_sub(since.elapsed()).as_millis().clamp(1, 100) as i32
                    });
                    self.wait_readable(ms)
                }
                Err(e) => {
                    return Err(CaptureError::new(
                        CaptureErrorKind::Io,
                        &self.name,
                        format!("capture stopped: {}", pcap_text(&e)),
                    ))
                }
            }
        }
        Ok(Fetched::Packet)
    }

    /// The packet `fetch` read, counted and written to `-w`.
    fn packet(&mut self) -> Result<Packet<'_>, CaptureError> {
        self.num += 1;
        let pkt = Packet {
            num: self.num,
            ts: self.ts,
            link: self.link,
            data: &self.buf,
            orig_len: self.orig_len.max(self.buf.len() as u32),
        };
        if let Some(w) = &mut self.writer {
            w.write(&pkt)
                .map_err(|e| CaptureError::new(CaptureErrorKind::Io, "-w output", e))?;
        }
        Ok(pkt)
    }
}

/// What [`LiveSource::fetch`] found.
enum Fetched {
    Packet,
    Idle,
    End,
}

impl Source for LiveSource {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        match self.fetch(None)? {
            Fetched::Packet => self.packet().map(Some),
            Fetched::Idle | Fetched::End => Ok(None),
        }
    }

    fn next_or_idle(&mut self, wait: Duration) -> Result<Next<'_>, CaptureError> {
        match self.fetch(Some(wait))? {
            Fetched::Packet => self.packet().map(Next::Packet),
            Fetched::Idle => Ok(Next::Idle),
            Fetched::End => Ok(Next::End),
        }
    }

    fn live(&self) -> bool {
        true
    }

    fn dropped(&mut self) -> Option<u64> {
        self.cap
            .stats()
            .ok()
            .map(|s| u64::from(s.dropped) + u64::from(s.if_dropped))
    }
}

/// When run as root through sudo, gives up root for the invoking user
/// (SUDO_UID/SUDO_GID) once the capture handle is open, so no hostile
/// packet is decoded with root rights. Returns the uid and gid taken on.
#[allow(unsafe_code)] // a libc call: see its SAFETY comment
pub fn drop_privileges() -> Result<Option<(u32, u32)>, String> {
    // SAFETY: getuid/geteuid have no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let parse = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
    let (Some(uid), Some(gid)) = (parse("SUDO_UID"), parse("SUDO_GID")) else {
        return Ok(None);
    };
    if uid == 0 {
        return Ok(None);
    }
    // SAFETY: plain system calls with valid arguments; order matters
    // (groups and gid while still root, uid last).
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(format!("setgroups: {}", std::io::Error::last_os_error()));
        }
        if libc::setgid(gid) != 0 {
            return Err(format!(
                "setgid({gid}): {}",
                std::io::Error::last_os_error()
            ));
        }
        if libc::setuid(uid) != 0 {
            return Err(format!(
                "setuid({uid}): {}",
                std::io::Error::last_os_error()
            ));
        }
        if libc::setuid(0) == 0 {
            return Err("could not give up root: setuid(0) still works".into());
        }
    }
    Ok(Some((uid, gid)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `-c COUNT` raises the stop flag itself; one Ctrl-C after that must
    /// only stop (so the output is finished), not end the process. (Were
    /// the signal counted as the second one, this test binary would exit
    /// with status 130 here.)
    #[test]
    #[allow(unsafe_code)] // a libc call: see its SAFETY comment
    fn one_signal_after_the_count_stopped_the_capture_does_not_exit() {
        let stop = Arc::new(AtomicBool::new(true));
        stop_on_signals(&stop).unwrap();
        // SAFETY: raising a signal whose handler was just installed.
        assert_eq!(unsafe { libc::raise(libc::SIGINT) }, 0);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(stop.load(Ordering::Relaxed));
    }
}
