//! What the relay is told: the addresses ([`Addr`]), the options
//! ([`RelayOptions`]), why it could not start ([`StartError`]), and what it
//! reports ([`RelayStats`]).

use std::fmt;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

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
pub(super) const READ_BUF: usize = 64 << 10;
/// How long connecting to a TCP target may take.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often waiting threads look at the stop flags.
pub(super) const TICK: Duration = Duration::from_millis(100);

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
