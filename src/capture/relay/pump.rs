//! The relay's threads: the acceptor, one connection thread per client,
//! and the pumps that copy bytes both ways.

use std::io;
use std::net::{Shutdown, SocketAddrV4};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use qscope_dissectors::Dir;

use crate::capture::synth;

use super::config::{FIRST_CLIENT_PORT, MAX_CLIENTS, READ_BUF, TICK};
use super::net::{remove_socket_file, wait_readable, Listener, Stream, Target};
use super::queue::{now, Shared};

/// Accepts clients until stopped; then closes the listener and removes
/// its socket file at once (even while the analysis is still busy).
pub(super) fn accept_loop(
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
pub(super) fn client_addr(id: u64) -> SocketAddrV4 {
    let span = u64::from(u16::MAX - FIRST_CLIENT_PORT) + 1;
    let port = FIRST_CLIENT_PORT + ((id - 1) % span) as u16;
    SocketAddrV4::new(synth::CLIENT_IP, port)
}

/// Relays one client until both directions are over.
pub(super) fn connection(
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
pub(super) fn pump(shared: &Shared, id: u64, tracked: bool, dir: Dir, from: &Stream, to: &Stream) {
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
