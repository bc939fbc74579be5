//! Sockets: one type for Unix and TCP streams and listeners, the target,
//! and setting up the listen address (socket file ownership, permissions).

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::config::{Addr, StartError, CONNECT_TIMEOUT};

pub(super) enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    pub(super) fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
        })
    }
    pub(super) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.shutdown(how),
            Stream::Tcp(s) => s.shutdown(how),
        }
    }
    pub(super) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => (&*s).read(buf),
            Stream::Tcp(s) => (&*s).read(buf),
        }
    }
    pub(super) fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        match self {
            Stream::Unix(s) => (&*s).write_all(buf),
            Stream::Tcp(s) => (&*s).write_all(buf),
        }
    }
    pub(super) fn set_blocking(&self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_nonblocking(false),
            Stream::Tcp(s) => {
                s.set_nodelay(true)?;
                s.set_nonblocking(false)
            }
        }
    }
}

pub(super) enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

impl Listener {
    /// A client and a description of it for messages.
    pub(super) fn accept(&self) -> io::Result<(Stream, String)> {
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
    pub(super) fn fd(&self) -> RawFd {
        match self {
            Listener::Unix(l) => l.as_raw_fd(),
            Listener::Tcp(l) => l.as_raw_fd(),
        }
    }
}

/// The process id and user id of a Unix socket's peer.
#[allow(unsafe_code)] // a libc call: see its SAFETY comment
pub(super) fn peer_cred(fd: RawFd) -> Option<(i32, u32)> {
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
pub(super) fn wait_readable(fd: RawFd, timeout: Duration) {
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

pub(super) enum Target {
    Unix(PathBuf),
    Tcp(Vec<SocketAddr>),
}

impl Target {
    pub(super) fn connect(&self) -> io::Result<Stream> {
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

pub(super) fn listener_nonblocking(l: &Listener) -> io::Result<()> {
    match l {
        Listener::Unix(l) => l.set_nonblocking(true),
        Listener::Tcp(l) => l.set_nonblocking(true),
    }
}

pub(super) fn remove_socket_file(f: &Option<(PathBuf, u64, u64)>) {
    if let Some((path, dev, ino)) = f {
        if let Ok(m) = std::fs::symlink_metadata(path) {
            if m.dev() == *dev && m.ino() == *ino {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// Two socket paths naming the same file (their directories resolved).
pub(super) fn same_path(a: &Path, b: &Path) -> bool {
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

pub(super) fn open_target(addr: &Addr) -> Result<Target, StartError> {
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

pub(super) type Listening = (Listener, Option<(PathBuf, u64, u64)>, String);

pub(super) fn listen(
    addr: &Addr,
    connect: &Addr,
    target: &Target,
) -> Result<Listening, StartError> {
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
pub(super) fn listen_unix(
    addr: &Addr,
    path: &Path,
    connect: &Addr,
) -> Result<Listening, StartError> {
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
pub(super) fn restrict(path: &Path, connect: &Addr) -> io::Result<()> {
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
