//! The relay: a transparent man in the middle for Unix-socket (and TCP)
//! monitors, the QMP that pcap cannot see.
//!
//! `--listen ADDR --connect ADDR` accepts clients on the listen address,
//! opens a connection to the target for each, relays every byte both ways
//! unchanged, and hands a copy to the analysis as a capture [`Source`]
//! ([`RelaySource`]) whose packets are synthesised TCP/IP ([`super::synth`]):
//! one TCP connection per relayed client, between placeholder addresses.
//!
//! # Threads
//!
//! * **acceptor** (`qscope-relay-accept`): waits for clients (poll, 100 ms
//!   ticks to notice a stop), and starts one connection thread per client;
//! * **per client, two pump threads**: the connection thread connects to
//!   the target and then pumps client → target itself, a second thread
//!   pumps target → client. A pump is a blocking `read` into a 64 KiB
//!   buffer, a copy of what was read offered to the decoding queue, and a
//!   blocking `write_all` of the same bytes to the other side: nothing is
//!   held back, reordered or changed, and TCP sockets have Nagle's
//!   algorithm off so no delay is added. The copy is queued *before* the
//!   write, so a reply can never be queued before the request it answers.
//! * **the analysis** reads the queue through [`RelaySource`] on its own
//!   thread (the engine's), never on the relay's path.
//!
//! # The queue, and what happens when decoding falls behind
//!
//! The queue holds at most [`RelayOptions::queue_bytes`] (default 16 MiB;
//! each chunk is charged its length plus [`ITEM_COST`]). A pump never
//! waits for it: when a chunk does not fit, the chunk is relayed all the
//! same and left out of the analysis; the synthesised stream then skips
//! those sequence numbers and the peer acknowledges them, so the engine
//! reports a `gap` of exactly the lost bytes, and [`Source::dropped`]
//! counts the chunks lost (bytes: [`RelayStats::dropped_bytes`]). The
//! events that open and close a connection are always queued while the
//! connection is followed (at most two per connection beyond the bound),
//! so every session still starts and ends properly; a connection whose
//! opening did not fit is not decoded at all.
//!
//! # Ends
//!
//! End of file from one side: that direction ends (FIN in the synthesised
//! stream) and the relay shuts down the other side's writing half (a
//! half-close), so the peer sees the end of file and may go on sending.
//! A read error (reset) on one side, or a failed write to it: RST from that
//! side, and both sockets are shut down. The connection's sockets are
//! closed once both directions are over.
//!
//! Stopping ([`Relay::stop`], on SIGINT/SIGTERM, `--duration`, or when
//! dropped): no new client is accepted, every relayed socket is shut down,
//! the analysis reads what is still queued and the source ends; the listen
//! socket file is removed. [`Relay::drain`] instead stops accepting and lets
//! the open connections run to their natural end without decoding (for an
//! analysis that ended on its own: `-c COUNT`, output closed).
//!
//! # Addresses in the synthesised capture
//!
//! Client `192.0.2.1`, port `40000 + (n - 1) mod 25536` for the n-th
//! client; server `192.0.2.2`, port: the target's port for a TCP target,
//! [`UNIX_SERVER_PORT`] (4444, QMP's customary port: only a hint, the
//! protocol is still found by content) for a Unix socket. Link type: raw
//! IPv4 (101). Timestamps: the wall-clock time the relay read the bytes.
// Indexing is allowed here (denied in the rest of `capture`): the indexes left are a side (0 or 1, from a direction) into
// two-element arrays; the relayed bytes themselves are only sliced with `get`.
#![allow(clippy::indexing_slicing)]

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{
    IpAddr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream, ToSocketAddrs,
};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use qscope_dissectors::Dir;

use super::source::{CaptureError, CaptureErrorKind, LinkType, Next, Packet, Source, Timestamp};
use super::synth::{self, TcpConn};
use super::writer::PcapWriter;

/// Server port of the synthesised connections when the target is a Unix
/// socket.
pub const UNIX_SERVER_PORT: u16 = 4444;
/// First client port of the synthesised connections.
pub const FIRST_CLIENT_PORT: u16 = 40000;
/// Default bound of the decoding queue.
pub const DEFAULT_QUEUE_BYTES: usize = 16 << 20;
/// Bytes each queued item is charged beyond its payload.
pub const ITEM_COST: usize = 64;
/// Clients relayed at once at most; more are refused (closed at once).
pub const MAX_CLIENTS: usize = 1024;
/// Size of a pump's read buffer.
const READ_BUF: usize = 64 << 10;
/// How long connecting to a TCP target may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often waiting threads look at the stop flags.
const TICK: Duration = Duration::from_millis(100);

/// A relay address: `unix:PATH` or `tcp:HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    Unix(PathBuf),
    Tcp { host: String, port: u16 },
}

impl Addr {
    /// Parses `unix:PATH` or `tcp:HOST:PORT` (`tcp:[::1]:4444` for IPv6).
    pub fn parse(s: &str) -> Result<Addr, String> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(format!(
                    "'{s}': unix: needs a socket path, e.g. unix:/run/qmp.sock"
                ));
            }
            if path.starts_with('@') {
                return Err(format!(
                    "'{s}': abstract Unix sockets are not supported; give a path"
                ));
            }
            // sun_path holds 108 bytes with the terminating NUL.
            if path.len() > 107 {
                return Err(format!(
                    "'{s}': a Unix socket path is at most 107 bytes long"
                ));
            }
            return Ok(Addr::Unix(PathBuf::from(path)));
        }
        if let Some(rest) = s.strip_prefix("tcp:") {
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| format!("'{s}': expected tcp:HOST:PORT"))?;
            let host = match host.strip_prefix('[') {
                Some(h) => h
                    .strip_suffix(']')
                    .ok_or_else(|| format!("'{s}': unclosed '[' in the host"))?,
                None if host.contains(':') && host.parse::<Ipv6Addr>().is_err() => {
                    return Err(format!(
                        "'{s}': write an IPv6 host in brackets, e.g. tcp:[::1]:4444"
                    ))
                }
                None => host,
            };
            if host.is_empty() {
                return Err(format!(
                    "'{s}': expected tcp:HOST:PORT, e.g. tcp:127.0.0.1:4444"
                ));
            }
            let port: u16 = port
                .parse()
                .map_err(|_| format!("'{s}': '{port}' is not a TCP port number"))?;
            return Ok(Addr::Tcp {
                host: host.to_string(),
                port,
            });
        }
        Err(format!(
            "'{s}': expected unix:PATH or tcp:HOST:PORT (e.g. unix:/tmp/qmp-tap.sock, tcp:127.0.0.1:4444)"
        ))
    }

    /// The server port of the synthesised connections to this target.
    pub fn server_port(&self) -> u16 {
        match self {
            Addr::Unix(_) => UNIX_SERVER_PORT,
            Addr::Tcp { port, .. } => *port,
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Unix(p) => write!(f, "unix:{}", p.display()),
            Addr::Tcp { host, port } if host.contains(':') => write!(f, "tcp:[{host}]:{port}"),
            Addr::Tcp { host, port } => write!(f, "tcp:{host}:{port}"),
        }
    }
}

/// How to relay.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// Where clients connect.
    pub listen: Addr,
    /// Where each client is relayed to.
    pub connect: Addr,
    /// Bound of the decoding queue, in bytes.
    pub queue_bytes: usize,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Raised when the analysis is over (the terminal UI quit): the source
    /// ends at once.
    pub stop: Arc<AtomicBool>,
    /// Write every synthesised packet to this pcap file.
    pub write: Option<PathBuf>,
    /// With `write`: rotate files at this size, keeping `ring_files` files.
    pub ring_bytes: Option<u64>,
    pub ring_files: usize,
    /// Say on standard error what happens to clients (off under the
    /// terminal UI).
    pub log: bool,
}

impl RelayOptions {
    /// Options with the defaults: no duration, no `-w`, logging on.
    pub fn new(listen: Addr, connect: Addr) -> RelayOptions {
        RelayOptions {
            listen,
            connect,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            duration: None,
            stop: Arc::new(AtomicBool::new(false)),
            write: None,
            ring_bytes: None,
            ring_files: 0,
            log: true,
        }
    }
}

/// Why the relay could not start.
#[derive(Debug)]
pub enum StartError {
    /// The addresses given are wrong (a usage error).
    Usage(String),
    /// Anything else: the target is not there, the listen path is taken,
    /// binding failed.
    Fail(String),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Usage(s) | StartError::Fail(s) => f.write_str(s),
        }
    }
}

/// Counters of a relay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Clients accepted.
    pub clients: u64,
    /// Clients whose connection to the target failed.
    pub refused: u64,
    /// Bytes relayed client → target and target → client.
    pub bytes: [u64; 2],
    /// Chunks (reads) relayed but not decoded.
    pub dropped_chunks: u64,
    /// Their bytes.
    pub dropped_bytes: u64,
    /// Clients relayed right now.
    pub open: usize,
}

// ---------------------------------------------------------------- sockets

enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
        })
    }
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.shutdown(how),
            Stream::Tcp(s) => s.shutdown(how),
        }
    }
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => (&*s).read(buf),
            Stream::Tcp(s) => (&*s).read(buf),
        }
    }
    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        match self {
            Stream::Unix(s) => (&*s).write_all(buf),
            Stream::Tcp(s) => (&*s).write_all(buf),
        }
    }
    fn set_blocking(&self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_nonblocking(false),
            Stream::Tcp(s) => {
                s.set_nodelay(true)?;
                s.set_nonblocking(false)
            }
        }
    }
}

enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

impl Listener {
    /// A client and a description of it for messages.
    fn accept(&self) -> io::Result<(Stream, String)> {
        match self {
            Listener::Unix(l) => {
                let (s, _) = l.accept()?;
                let who = peer_cred(s.as_raw_fd())
                    .map(|(pid, uid)| format!("pid {pid}, uid {uid}"))
                    .unwrap_or_else(|| "unknown peer".into());
                Ok((Stream::Unix(s), who))
            }
            Listener::Tcp(l) => {
                let (s, peer) = l.accept()?;
                Ok((Stream::Tcp(s), peer.to_string()))
            }
        }
    }
    fn fd(&self) -> RawFd {
        match self {
            Listener::Unix(l) => l.as_raw_fd(),
            Listener::Tcp(l) => l.as_raw_fd(),
        }
    }
}

/// The process id and user id of a Unix socket's peer.
#[allow(unsafe_code)] // a libc call: see its SAFETY comment
fn peer_cred(fd: RawFd) -> Option<(i32, u32)> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: a valid socket and a buffer of the size given.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (r == 0).then_some((cred.pid, cred.uid))
}

/// Waits until `fd` is readable or `timeout` passes.
#[allow(unsafe_code)] // a libc call: see its SAFETY comment
fn wait_readable(fd: RawFd, timeout: Duration) {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe {
        libc::poll(&mut p, 1, timeout.as_millis() as libc::c_int);
    }
}

enum Target {
    Unix(PathBuf),
    Tcp(Vec<SocketAddr>),
}

impl Target {
    fn connect(&self) -> io::Result<Stream> {
        match self {
            Target::Unix(p) => Ok(Stream::Unix(UnixStream::connect(p)?)),
            Target::Tcp(addrs) => {
                let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
                for a in addrs {
                    match TcpStream::connect_timeout(a, CONNECT_TIMEOUT) {
                        Ok(s) => return Ok(Stream::Tcp(s)),
                        Err(e) => last = e,
                    }
                }
                Err(last)
            }
        }
    }
}

// ------------------------------------------------------------ the queue

/// What the relay tells the analysis.
enum Ev {
    /// Client `id` connected (at `accepted`) and was connected to the
    /// target (at `ts`).
    Open {
        id: u64,
        accepted: Timestamp,
        ts: Timestamp,
    },
    /// Client `id` connected, and the target could not be reached.
    Refused {
        id: u64,
        accepted: Timestamp,
        ts: Timestamp,
    },
    /// Bytes read in `dir`, at stream offset `offset`.
    Data {
        id: u64,
        dir: Dir,
        offset: u64,
        bytes: Vec<u8>,
        ts: Timestamp,
    },
    /// The sender in `dir` closed (`reset`: reset or went away) after
    /// `offset` bytes.
    End {
        id: u64,
        dir: Dir,
        offset: u64,
        reset: bool,
        ts: Timestamp,
    },
}

impl Ev {
    fn cost(&self) -> usize {
        match self {
            Ev::Data { bytes, .. } => bytes.len() + ITEM_COST,
            _ => ITEM_COST,
        }
    }
}

struct Inner {
    queue: VecDeque<Ev>,
    /// Cost of what is queued.
    queued: usize,
    /// Sockets of each relayed client (client, target), to shut them down
    /// on stop.
    socks: HashMap<u64, [Stream; 2]>,
    /// Pumps still running (each queues an `End` before it exits).
    pumps: usize,
    /// Stopping: every socket was shut down; no new client is relayed.
    closing: bool,
    /// Last timestamp handed out (timestamps never go back in the queue).
    last_ts: Timestamp,
}

struct Shared {
    inner: Mutex<Inner>,
    ready: Condvar,
    cap: usize,
    /// Raised to stop: by signals, `--duration`, [`Relay::stop`].
    shutdown: Arc<AtomicBool>,
    /// Raised to stop accepting clients ([`Relay::drain`]).
    no_accept: AtomicBool,
    /// Raised when nobody reads the queue any more.
    decoding_off: AtomicBool,
    /// Connection threads alive (connecting or relaying).
    clients_open: AtomicUsize,
    clients: AtomicU64,
    refused: AtomicU64,
    bytes: [AtomicU64; 2],
    dropped_chunks: AtomicU64,
    dropped_bytes: AtomicU64,
    warned: AtomicBool,
    /// Messages on standard error.
    log: AtomicBool,
}

fn now() -> SystemTime {
    SystemTime::now()
}

fn stamp(t: SystemTime) -> Timestamp {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    Timestamp {
        secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: d.subsec_micros() * 1000,
        nano: false,
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A timestamp for an event being queued now: never before the last.
    fn next_ts(g: &mut Inner, t: SystemTime) -> Timestamp {
        let ts = stamp(t).max(g.last_ts);
        g.last_ts = ts;
        ts
    }

    fn log(&self, msg: impl fmt::Display) {
        if self.log.load(Ordering::Relaxed) {
            eprintln!("qscope: relay: {msg}");
        }
    }

    /// Queues an event regardless of the bound (opening and closing). The
    /// caller wakes the analysis once the lock is released.
    fn push_always(g: &mut Inner, ev: Ev) {
        g.queued += ev.cost();
        g.queue.push_back(ev);
    }

    /// Registers a connected client for relaying and tells the analysis.
    /// `None` when stopping (the client is not relayed); else whether the
    /// connection is decoded (its opening fitted in the queue).
    fn register(&self, id: u64, socks: [Stream; 2], accepted: SystemTime) -> Option<bool> {
        let mut g = self.lock();
        if g.closing {
            return None;
        }
        g.socks.insert(id, socks);
        g.pumps += 2;
        let tracked = !self.decoding_off.load(Ordering::Relaxed) && g.queued < self.cap;
        if tracked {
            let accepted = Self::next_ts(&mut g, accepted);
            let ts = Self::next_ts(&mut g, now());
            Self::push_always(&mut g, Ev::Open { id, accepted, ts });
        }
        drop(g);
        self.ready.notify_one();
        Some(tracked)
    }

    fn refused(&self, id: u64, accepted: SystemTime) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        let mut g = self.lock();
        if g.closing || self.decoding_off.load(Ordering::Relaxed) || g.queued >= self.cap {
            return;
        }
        let accepted = Self::next_ts(&mut g, accepted);
        let ts = Self::next_ts(&mut g, now());
        Self::push_always(&mut g, Ev::Refused { id, accepted, ts });
        drop(g);
        self.ready.notify_one();
    }

    /// Offers a copy of relayed bytes to the analysis; never waits. True
    /// when queued: the caller wakes the analysis ([`Shared::wake`]) after
    /// it has passed the bytes on, so the wake-up costs the relay nothing.
    fn data(&self, id: u64, dir: Dir, offset: u64, bytes: &[u8]) -> bool {
        if self.decoding_off.load(Ordering::Relaxed) {
            return false;
        }
        let copy = bytes.to_vec();
        let mut g = self.lock();
        if g.queued + copy.len() + ITEM_COST > self.cap {
            drop(g);
            self.dropped(bytes.len());
            return false;
        }
        let ts = Self::next_ts(&mut g, now());
        Self::push_always(
            &mut g,
            Ev::Data {
                id,
                dir,
                offset,
                bytes: copy,
                ts,
            },
        );
        true
    }

    fn wake(&self) {
        self.ready.notify_one();
    }

    /// Relayed bytes left out of the analysis while it runs.
    fn dropped(&self, bytes: usize) {
        if self.decoding_off.load(Ordering::Relaxed) {
            return;
        }
        self.dropped_chunks.fetch_add(1, Ordering::Relaxed);
        self.dropped_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
        if !self.warned.swap(true, Ordering::Relaxed) {
            self.log(
                "warning: decoding fell behind; relayed bytes are left undecoded \
                 (a gap in the session), the relay itself goes on",
            );
        }
    }

    /// A pump's last act: the end of its direction, and one pump fewer.
    fn end(&self, id: u64, tracked: bool, dir: Dir, offset: u64, reset: bool) {
        let mut g = self.lock();
        if tracked && !self.decoding_off.load(Ordering::Relaxed) {
            let ts = Self::next_ts(&mut g, now());
            Self::push_always(
                &mut g,
                Ev::End {
                    id,
                    dir,
                    offset,
                    reset,
                    ts,
                },
            );
        }
        g.pumps -= 1;
        drop(g);
        self.ready.notify_all();
    }

    fn unregister(&self, id: u64) {
        self.lock().socks.remove(&id);
    }

    /// Shuts every relayed socket down and relays no new client.
    fn close_all(&self) {
        self.shutdown.store(true, Ordering::Relaxed);
        let mut g = self.lock();
        if g.closing {
            return;
        }
        g.closing = true;
        for socks in g.socks.values() {
            for s in socks {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
        drop(g);
        self.ready.notify_all();
    }
}

// ------------------------------------------------------------- threads

/// Accepts clients until stopped; then closes the listener and removes
/// its socket file at once (even while the analysis is still busy).
fn accept_loop(
    shared: Arc<Shared>,
    listener: Listener,
    socket_file: Option<(PathBuf, u64, u64)>,
    target: Arc<Target>,
    deadline: Option<Instant>,
) {
    let mut next_id = 0u64;
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            shared.shutdown.store(true, Ordering::Relaxed);
        }
        if shared.shutdown.load(Ordering::Relaxed) {
            shared.close_all();
        }
        if shared.shutdown.load(Ordering::Relaxed) || shared.no_accept.load(Ordering::Relaxed) {
            drop(listener);
            remove_socket_file(&socket_file);
            return;
        }
        wait_readable(listener.fd(), TICK);
        let (client, who) = match listener.accept() {
            Ok(c) => c,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => {
                // Out of descriptors and the like: say so, and go on.
                shared.log(format!("cannot accept a client: {e}"));
                std::thread::sleep(TICK);
                continue;
            }
        };
        let accepted = now();
        if shared.clients_open.load(Ordering::Relaxed) >= MAX_CLIENTS {
            shared.log(format!(
                "client ({who}) refused: already relaying {MAX_CLIENTS} clients"
            ));
            continue;
        }
        next_id += 1;
        let id = next_id;
        shared.clients.fetch_add(1, Ordering::Relaxed);
        shared.clients_open.fetch_add(1, Ordering::Relaxed);
        let (sh, tg) = (shared.clone(), target.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("qscope-relay-{id}"))
            .stack_size(256 << 10)
            .spawn(move || {
                connection(&sh, &tg, id, client, &who, accepted);
                sh.clients_open.fetch_sub(1, Ordering::Relaxed);
            });
        if let Err(e) = spawned {
            shared.clients_open.fetch_sub(1, Ordering::Relaxed);
            shared.log(format!("cannot start a thread for client {id}: {e}"));
        }
    }
}

/// The synthesised client address of client `id`.
fn client_addr(id: u64) -> SocketAddrV4 {
    let span = u64::from(u16::MAX - FIRST_CLIENT_PORT) + 1;
    let port = FIRST_CLIENT_PORT + ((id - 1) % span) as u16;
    SocketAddrV4::new(synth::CLIENT_IP, port)
}

/// Relays one client until both directions are over.
fn connection(
    shared: &Arc<Shared>,
    target: &Target,
    id: u64,
    client: Stream,
    who: &str,
    accepted: SystemTime,
) {
    let _ = client.set_blocking();
    let server = match target.connect() {
        Ok(s) => s,
        Err(e) => {
            shared.log(format!(
                "client {id} ({who}): cannot connect to the target: {e}; client closed"
            ));
            shared.refused(id, accepted);
            return;
        }
    };
    let _ = server.set_blocking();
    let clone = |s: &Stream| s.try_clone();
    let (client2, server2, socks) = match (|| {
        Ok::<_, io::Error>((
            clone(&client)?,
            clone(&server)?,
            [clone(&client)?, clone(&server)?],
        ))
    })() {
        Ok(c) => c,
        Err(e) => {
            shared.log(format!("client {id} ({who}): {e}; client closed"));
            return;
        }
    };
    let Some(tracked) = shared.register(id, socks, accepted) else {
        return;
    };
    shared.log(format_args!(
        "client {id} ({who}) is {} in the decoded sessions",
        client_addr(id)
    ));
    let sh = shared.clone();
    let back = std::thread::Builder::new()
        .name(format!("qscope-relay-{id}-back"))
        .stack_size(256 << 10)
        .spawn(move || pump(&sh, id, tracked, Dir::S2C, &server2, &client2));
    match back {
        Ok(back) => {
            pump(shared, id, tracked, Dir::C2S, &client, &server);
            let _ = back.join();
        }
        Err(e) => {
            shared.log(format!("cannot start a thread for client {id}: {e}"));
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
            shared.end(id, tracked, Dir::C2S, 0, true);
            shared.end(id, tracked, Dir::S2C, 0, true);
        }
    }
    shared.unregister(id);
}

/// Relays `from` → `to` (direction `dir`) until the end of file or an
/// error, offering a copy of every chunk to the analysis first.
fn pump(shared: &Shared, id: u64, tracked: bool, dir: Dir, from: &Stream, to: &Stream) {
    let mut buf = vec![0u8; READ_BUF];
    let mut offset = 0u64;
    // (the side that ended, reset?)
    let (who, reset) = loop {
        match from.read(&mut buf) {
            Ok(0) => break (dir, false),
            Ok(n) => {
                let got = buf.get(..n).unwrap_or(&buf);
                // Queued before it is passed on: a reply can never be
                // queued before the request it answers.
                let queued = if tracked {
                    shared.data(id, dir, offset, got)
                } else {
                    shared.dropped(n);
                    false
                };
                offset += n as u64;
                shared.bytes[dir.idx()].fetch_add(n as u64, Ordering::Relaxed);
                let sent = to.write_all(got);
                if queued {
                    shared.wake();
                }
                if sent.is_err() {
                    // The receiver went away.
                    break (dir.flip(), true);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break (dir, true),
        }
    };
    if reset {
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    } else {
        // Half-close: the peer sees the end of file and may go on sending.
        let _ = to.shutdown(Shutdown::Write);
    }
    let offset = if who == dir { offset } else { 0 };
    shared.end(id, tracked, who, offset, reset);
}

// --------------------------------------------------------------- setup

/// A running relay. Dropping it stops it ([`Relay::stop`]).
pub struct Relay {
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
    /// The listen socket file to remove, with its device and inode (only
    /// that very file is removed).
    socket_file: Option<(PathBuf, u64, u64)>,
    listening: String,
    target: String,
}

impl Relay {
    /// Checks the addresses, listens, and starts accepting clients.
    pub fn start(opts: RelayOptions) -> Result<(Relay, RelaySource), StartError> {
        let target = open_target(&opts.connect)?;
        if let (Addr::Unix(l), Addr::Unix(c)) = (&opts.listen, &opts.connect) {
            if same_path(l, c) {
                return Err(StartError::Usage(format!(
                    "--listen and --connect are the same socket ({}): the relay would connect to itself",
                    l.display()
                )));
            }
        }
        let (listener, socket_file, listening) = listen(&opts.listen, &opts.connect, &target)?;
        listener_nonblocking(&listener)
            .map_err(|e| StartError::Fail(format!("{}: {e}", opts.listen)))?;
        let writer = match &opts.write {
            Some(path) => {
                let w = PcapWriter::create(path, LinkType::RAW, false).map_err(|e| {
                    StartError::Fail(format!("cannot create {}: {e}", path.display()))
                });
                let w = match w {
                    Ok(w) => w,
                    Err(e) => {
                        remove_socket_file(&socket_file);
                        return Err(e);
                    }
                };
                Some(match opts.ring_bytes {
                    Some(b) => w.ring(b, opts.ring_files),
                    None => w,
                })
            }
            None => None,
        };
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                queue: VecDeque::new(),
                queued: 0,
                socks: HashMap::new(),
                pumps: 0,
                closing: false,
                last_ts: Timestamp::default(),
            }),
            ready: Condvar::new(),
            cap: opts.queue_bytes.max(ITEM_COST * 4),
            shutdown: Arc::new(AtomicBool::new(false)),
            no_accept: AtomicBool::new(false),
            decoding_off: AtomicBool::new(false),
            clients_open: AtomicUsize::new(0),
            clients: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            bytes: [AtomicU64::new(0), AtomicU64::new(0)],
            dropped_chunks: AtomicU64::new(0),
            dropped_bytes: AtomicU64::new(0),
            warned: AtomicBool::new(false),
            log: AtomicBool::new(opts.log),
        });
        let deadline = opts.duration.map(|d| Instant::now() + d);
        let (sh, tg, file) = (shared.clone(), Arc::new(target), socket_file.clone());
        let acceptor = std::thread::Builder::new()
            .name("qscope-relay-accept".into())
            .spawn(move || accept_loop(sh, listener, file, tg, deadline))
            .map_err(|e| {
                remove_socket_file(&socket_file);
                StartError::Fail(format!("cannot start the relay: {e}"))
            })?;
        let source = RelaySource {
            shared: shared.clone(),
            stop: opts.stop.clone(),
            server_port: opts.connect.server_port(),
            conns: HashMap::new(),
            out: VecDeque::new(),
            cur: Vec::new(),
            cur_ts: Timestamp::default(),
            num: 0,
            writer,
            ended: false,
        };
        let relay = Relay {
            shared,
            acceptor: Some(acceptor),
            socket_file,
            listening,
            target: opts.connect.to_string(),
        };
        Ok((relay, source))
    }

    /// Raising this flag stops the relay (for signal handlers).
    pub fn stop_flag(&self) -> &Arc<AtomicBool> {
        &self.shared.shutdown
    }

    /// The stop flag was raised (signal, `--duration`, [`Relay::stop`]).
    pub fn stopping(&self) -> bool {
        self.shared.shutdown.load(Ordering::Relaxed)
    }

    /// No more messages on standard error (the terminal UI took over).
    pub fn quiet(&self) {
        self.shared.log.store(false, Ordering::Relaxed);
    }

    /// The address clients connect to (with the port the system chose for
    /// `tcp:HOST:0`).
    pub fn listening(&self) -> &str {
        &self.listening
    }

    /// The target, as given.
    pub fn target(&self) -> &str {
        &self.target
    }

    pub fn stats(&self) -> RelayStats {
        let s = &self.shared;
        RelayStats {
            clients: s.clients.load(Ordering::Relaxed),
            refused: s.refused.load(Ordering::Relaxed),
            bytes: [
                s.bytes[0].load(Ordering::Relaxed),
                s.bytes[1].load(Ordering::Relaxed),
            ],
            dropped_chunks: s.dropped_chunks.load(Ordering::Relaxed),
            dropped_bytes: s.dropped_bytes.load(Ordering::Relaxed),
            open: s.clients_open.load(Ordering::Relaxed),
        }
    }

    fn stop_accepting(&mut self) {
        self.shared.no_accept.store(true, Ordering::Relaxed);
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        remove_socket_file(&self.socket_file);
        self.socket_file = None;
    }

    /// For an analysis that ended on its own (`-c`, output closed): stops
    /// accepting clients and decoding, and relays the open connections
    /// until they end or the stop flag is raised (then closes them).
    pub fn drain(&mut self) {
        self.shared.decoding_off.store(true, Ordering::Relaxed);
        self.stop_accepting();
        while !self.stopping() && self.shared.clients_open.load(Ordering::Relaxed) > 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop();
    }

    /// Stops: no new client, every relayed socket shut down, the listen
    /// socket file removed. Idempotent.
    pub fn stop(&mut self) {
        self.shared.close_all();
        self.stop_accepting();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

fn listener_nonblocking(l: &Listener) -> io::Result<()> {
    match l {
        Listener::Unix(l) => l.set_nonblocking(true),
        Listener::Tcp(l) => l.set_nonblocking(true),
    }
}

fn remove_socket_file(f: &Option<(PathBuf, u64, u64)>) {
    if let Some((path, dev, ino)) = f {
        if let Ok(m) = std::fs::symlink_metadata(path) {
            if m.dev() == *dev && m.ino() == *ino {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// Two socket paths naming the same file (their directories resolved).
fn same_path(a: &Path, b: &Path) -> bool {
    let norm = |p: &Path| -> PathBuf {
        match (p.parent(), p.file_name()) {
            (Some(dir), Some(name)) => {
                let dir = if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                };
                dir.canonicalize()
                    .map(|d| d.join(name))
                    .unwrap_or_else(|_| p.to_path_buf())
            }
            _ => p.to_path_buf(),
        }
    };
    norm(a) == norm(b)
}

fn open_target(addr: &Addr) -> Result<Target, StartError> {
    match addr {
        Addr::Unix(path) => {
            let m = std::fs::metadata(path).map_err(|e| {
                StartError::Fail(match e.kind() {
                    io::ErrorKind::NotFound => format!(
                        "--connect {addr}: no such socket (is QEMU running, and is this the path of its monitor or agent socket?)"
                    ),
                    _ => format!("--connect {addr}: {e}"),
                })
            })?;
            if !m.file_type().is_socket() {
                return Err(StartError::Fail(format!("--connect {addr}: not a socket")));
            }
            Ok(Target::Unix(path.clone()))
        }
        Addr::Tcp { host, port } => {
            if *port == 0 {
                return Err(StartError::Usage(format!(
                    "--connect {addr}: port 0 cannot be connected to"
                )));
            }
            let addrs: Vec<SocketAddr> = (host.as_str(), *port)
                .to_socket_addrs()
                .map_err(|e| {
                    StartError::Usage(format!("--connect {addr}: cannot resolve {host}: {e}"))
                })?
                .collect();
            if addrs.is_empty() {
                return Err(StartError::Usage(format!(
                    "--connect {addr}: {host} has no address"
                )));
            }
            Ok(Target::Tcp(addrs))
        }
    }
}

type Listening = (Listener, Option<(PathBuf, u64, u64)>, String);

fn listen(addr: &Addr, connect: &Addr, target: &Target) -> Result<Listening, StartError> {
    match addr {
        Addr::Unix(path) => listen_unix(addr, path, connect),
        Addr::Tcp { host, port } => {
            let addrs: Vec<SocketAddr> = (host.as_str(), *port)
                .to_socket_addrs()
                .map_err(|e| {
                    StartError::Usage(format!("--listen {addr}: cannot resolve {host}: {e}"))
                })?
                .collect();
            if let Target::Tcp(t) = target {
                if *port != 0 && addrs.iter().any(|a| t.contains(a)) {
                    return Err(StartError::Usage(format!(
                        "--listen and --connect are the same address ({addr}): the relay would connect to itself"
                    )));
                }
            }
            let l = TcpListener::bind(&addrs[..])
                .map_err(|e| StartError::Fail(format!("--listen {addr}: {e}")))?;
            let local = l
                .local_addr()
                .map_err(|e| StartError::Fail(format!("--listen {addr}: {e}")))?;
            if !local.ip().is_loopback() {
                eprintln!(
                    "qscope: warning: the relay listens on {local}, beyond this machine: \
                     whoever can connect to it controls the target"
                );
            }
            let shown = match local.ip() {
                IpAddr::V6(_) => format!("tcp:[{}]:{}", local.ip(), local.port()),
                IpAddr::V4(_) => format!("tcp:{local}"),
            };
            Ok((Listener::Tcp(l), None, shown))
        }
    }
}

#[allow(unsafe_code)] // a libc call: see its SAFETY comment
fn listen_unix(addr: &Addr, path: &Path, connect: &Addr) -> Result<Listening, StartError> {
    let fail = |what: String| StartError::Fail(format!("--listen {addr}: {what}"));
    // An existing file: a stale socket (nobody listening) is replaced;
    // anything else is refused.
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => match UnixStream::connect(path) {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                std::fs::remove_file(path)
                    .map_err(|e| fail(format!("cannot remove the stale socket: {e}")))?;
            }
            Ok(_) => {
                return Err(fail(
                    "a process is listening on this socket already; choose another path".into(),
                ))
            }
            Err(e) => {
                return Err(fail(format!(
                    "a socket exists there and cannot be checked ({e}); remove it or choose another path"
                )))
            }
        },
        Ok(_) => {
            return Err(fail(
                "the path exists and is not a socket; refusing to replace it".into(),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(e.to_string())),
    }
    // Created owner-only, then given the target's permissions (never
    // wider) before the first client is accepted.
    // SAFETY: umask has no preconditions; no other thread creates files yet.
    let old = unsafe { libc::umask(0o177) };
    let bound = UnixListener::bind(path);
    // SAFETY: as above.
    unsafe {
        libc::umask(old);
    }
    let listener = bound.map_err(|e| fail(e.to_string()))?;
    let meta = std::fs::symlink_metadata(path).map_err(|e| fail(e.to_string()))?;
    let file = Some((path.to_path_buf(), meta.dev(), meta.ino()));
    if let Err(e) = restrict(path, connect) {
        remove_socket_file(&file);
        return Err(fail(format!("cannot set the socket's permissions: {e}")));
    }
    Ok((Listener::Unix(listener), file, addr.to_string()))
}

/// Gives the listen socket the permissions of a Unix target socket, never
/// wider: as root, the target's owner, group and mode; otherwise the
/// target's group and other bits (group bits only when the socket could
/// be given the target's group) with read-write for its owner, qscope's
/// user, who reaches the target anyway. A TCP target: owner only (0600).
#[allow(unsafe_code)] // a libc call: see its SAFETY comment
fn restrict(path: &Path, connect: &Addr) -> io::Result<()> {
    let Addr::Unix(target) = connect else {
        return std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    };
    let t = std::fs::metadata(target)?;
    let tmode = t.mode() & 0o777;
    // SAFETY: geteuid has no preconditions.
    let mode = if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::chown(path, Some(t.uid()), Some(t.gid()))?;
        tmode
    } else {
        let mut mode = (tmode & 0o077) | 0o600;
        if std::os::unix::fs::chown(path, None, Some(t.gid())).is_err() {
            mode &= !0o070;
        }
        mode
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

// -------------------------------------------------------------- source

/// One relayed client as the analysis sees it.
struct Followed {
    tcp: TcpConn,
    /// Bytes of each direction synthesised or skipped so far.
    sent: [u64; 2],
}

/// The relayed bytes as a capture: synthesised TCP/IPv4 packets (link type
/// raw IPv4), one connection per relayed client. Ends when the relay has
/// stopped and everything queued was read, or at once when the stop flag
/// of [`RelayOptions::stop`] is raised.
pub struct RelaySource {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    server_port: u16,
    conns: HashMap<u64, Followed>,
    /// Packets synthesised and not yet returned.
    out: VecDeque<(Timestamp, Vec<u8>)>,
    cur: Vec<u8>,
    cur_ts: Timestamp,
    num: u64,
    writer: Option<PcapWriter>,
    ended: bool,
}

enum Popped {
    Ev(Ev),
    Idle,
    Over,
}

impl RelaySource {
    fn pop(&self) -> Popped {
        let sh = &self.shared;
        if sh.shutdown.load(Ordering::Relaxed) {
            sh.close_all();
        }
        let mut g = sh.lock();
        let mut waited = false;
        loop {
            if let Some(ev) = g.queue.pop_front() {
                g.queued -= ev.cost();
                return Popped::Ev(ev);
            }
            if g.closing && g.pumps == 0 {
                return Popped::Over;
            }
            if waited {
                return Popped::Idle;
            }
            g = sh
                .ready
                .wait_timeout(g, TICK)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            waited = true;
        }
    }

    fn synthesise(&mut self, ev: Ev) {
        let server = SocketAddrV4::new(synth::SERVER_IP, self.server_port);
        let new_conn = |id: u64| {
            // Initial sequence numbers: arbitrary but fixed per client.
            let isn_c = (id as u32).wrapping_mul(0x9e37_79b9) ^ 0x6a09_e667;
            let isn_s = isn_c.rotate_left(13) ^ 0xbb67_ae85;
            Followed {
                tcp: TcpConn::new(client_addr(id), server, [isn_c, isn_s]),
                sent: [0, 0],
            }
        };
        let mut pkts = Vec::new();
        match ev {
            Ev::Open { id, accepted, ts } => {
                let mut f = new_conn(id);
                let [syn, syn_ack, ack] = f.tcp.handshake();
                self.out.push_back((accepted, syn));
                self.out.push_back((ts, syn_ack));
                self.out.push_back((ts, ack));
                self.conns.insert(id, f);
            }
            Ev::Refused { id, accepted, ts } => {
                let [syn, rst] = new_conn(id).tcp.refused();
                self.out.push_back((accepted, syn));
                self.out.push_back((ts, rst));
            }
            Ev::Data {
                id,
                dir,
                offset,
                bytes,
                ts,
            } => {
                let Some(f) = self.conns.get_mut(&id) else {
                    return;
                };
                let d = dir.idx();
                if offset > f.sent[d] {
                    f.tcp.skip(dir, offset - f.sent[d], &mut pkts);
                }
                f.tcp.data(dir, &bytes, &mut pkts);
                f.sent[d] = offset + bytes.len() as u64;
                self.out.extend(pkts.into_iter().map(|p| (ts, p)));
            }
            Ev::End {
                id,
                dir,
                offset,
                reset,
                ts,
            } => {
                let Some(f) = self.conns.get_mut(&id) else {
                    return;
                };
                let d = dir.idx();
                if offset > f.sent[d] {
                    f.tcp.skip(dir, offset - f.sent[d], &mut pkts);
                    f.sent[d] = offset;
                }
                if reset {
                    f.tcp.rst(dir, &mut pkts);
                } else {
                    f.tcp.fin(dir, &mut pkts);
                }
                if f.tcp.is_closed() {
                    self.conns.remove(&id);
                }
                self.out.extend(pkts.into_iter().map(|p| (ts, p)));
            }
        }
    }

    fn flush(&mut self) -> Result<(), CaptureError> {
        match &mut self.writer {
            Some(w) => w
                .flush()
                .map_err(|e| CaptureError::new(CaptureErrorKind::Io, "-w output", e)),
            None => Ok(()),
        }
    }
}

/// What [`RelaySource::fetch`] found.
enum Fetched {
    Packet,
    Idle,
    End,
}

impl RelaySource {
    /// Makes the next synthesised packet current ([`Fetched::Packet`]);
    /// with `wait`, gives up after about that long without one.
    fn fetch(&mut self, wait: Option<Duration>) -> Result<Fetched, CaptureError> {
        if self.ended {
            return Ok(Fetched::End);
        }
        let since = Instant::now();
        loop {
            if let Some((ts, data)) = self.out.pop_front() {
                self.cur = data;
                self.cur_ts = ts;
                return Ok(Fetched::Packet);
            }
            if self.stop.load(Ordering::Relaxed) {
                self.ended = true;
                self.flush()?;
                return Ok(Fetched::End);
            }
            match self.pop() {
                Popped::Ev(ev) => self.synthesise(ev),
                Popped::Idle => {
                    self.flush()?;
                    if wait.is_some_and(|w| since.elapsed() >= w) {
                        return Ok(Fetched::Idle);
                    }
                }
                Popped::Over => {
                    self.ended = true;
                    self.flush()?;
                    return Ok(Fetched::End);
                }
            }
        }
    }

    /// The current packet, counted and written to `-w`.
    fn packet(&mut self) -> Result<Packet<'_>, CaptureError> {
        self.num += 1;
        let pkt = Packet {
            num: self.num,
            ts: self.cur_ts,
            link: LinkType::RAW,
            data: &self.cur,
            orig_len: self.cur.len() as u32,
        };
        if let Some(w) = &mut self.writer {
            w.write(&pkt)
                .map_err(|e| CaptureError::new(CaptureErrorKind::Io, "-w output", e))?;
        }
        Ok(pkt)
    }
}

impl Source for RelaySource {
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

    /// Chunks relayed but not decoded (decoding fell behind).
    fn dropped(&mut self) -> Option<u64> {
        Some(self.shared.dropped_chunks.load(Ordering::Relaxed))
    }
}

impl Drop for RelaySource {
    fn drop(&mut self) {
        // Nobody reads the queue any more: stop filling it.
        self.shared.decoding_off.store(true, Ordering::Relaxed);
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_print_back() {
        for (text, want) in [
            (
                "unix:/run/qmp.sock",
                Addr::Unix(PathBuf::from("/run/qmp.sock")),
            ),
            ("unix:rel.sock", Addr::Unix(PathBuf::from("rel.sock"))),
            (
                "tcp:127.0.0.1:4444",
                Addr::Tcp {
                    host: "127.0.0.1".into(),
                    port: 4444,
                },
            ),
            (
                "tcp:[::1]:0",
                Addr::Tcp {
                    host: "::1".into(),
                    port: 0,
                },
            ),
            (
                "tcp:localhost:4243",
                Addr::Tcp {
                    host: "localhost".into(),
                    port: 4243,
                },
            ),
        ] {
            let a = Addr::parse(text).unwrap();
            assert_eq!(a, want);
            assert_eq!(a.to_string(), text);
        }
        for bad in [
            "",
            "/run/qmp.sock",
            "unix:",
            "unix:@abstract",
            "tcp:",
            "tcp:host",
            "tcp::4444",
            "tcp:host:port",
            "tcp:host:70000",
            "tcp:[::1:4444",
            "tcp:fe80::x:1",
            "udp:127.0.0.1:4444",
        ] {
            assert!(Addr::parse(bad).is_err(), "{bad}");
        }
        let long = format!("unix:/{}", "a".repeat(107));
        assert!(Addr::parse(&long).is_err());
        assert_eq!(
            Addr::parse("unix:/x").unwrap().server_port(),
            UNIX_SERVER_PORT
        );
        assert_eq!(Addr::parse("tcp:h:99").unwrap().server_port(), 99);
    }

    #[test]
    fn client_addresses_wrap_within_the_port_range() {
        assert_eq!(client_addr(1).port(), FIRST_CLIENT_PORT);
        assert_eq!(client_addr(2).port(), FIRST_CLIENT_PORT + 1);
        assert_eq!(client_addr(25_536).port(), u16::MAX);
        assert_eq!(client_addr(25_537).port(), FIRST_CLIENT_PORT);
        assert_eq!(*client_addr(7).ip(), synth::CLIENT_IP);
    }

    #[test]
    fn same_path_resolves_directories() {
        let dir = std::env::temp_dir();
        let a = dir.join("qscope-same-path.sock");
        let b = dir.join(".").join("qscope-same-path.sock");
        assert!(same_path(&a, &b));
        assert!(!same_path(&a, &dir.join("other.sock")));
    }
}
