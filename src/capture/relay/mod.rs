//! The relay: a transparent man in the middle for Unix-socket (and TCP)
//! monitors, the QMP that pcap cannot see.
//!
//! `--listen ADDR --connect ADDR` accepts clients on the listen address,
//! opens a connection to the target for each, relays every byte both ways
//! unchanged, and hands a copy to the analysis as a capture [`Source`](crate::capture::Source)
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
//! reports a `gap` of exactly the lost bytes, and [`Source::dropped`](crate::capture::Source::dropped)
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

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::source::LinkType;
use super::writer::PcapWriter;

mod config;
mod net;
mod pump;
mod queue;
mod reader;
#[cfg(test)]
mod tests;

pub use config::{
    Addr, RelayOptions, RelayStats, StartError, DEFAULT_QUEUE_BYTES, FIRST_CLIENT_PORT, ITEM_COST,
    MAX_CLIENTS, UNIX_SERVER_PORT,
};
pub use reader::RelaySource;

use net::{listen, listener_nonblocking, open_target, remove_socket_file, same_path};
use pump::accept_loop;
use queue::Shared;

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
        let shared = Arc::new(Shared::new(opts.queue_bytes, opts.log));
        let deadline = opts.duration.map(|d| Instant::now() + d);
        let (sh, tg, file) = (shared.clone(), Arc::new(target), socket_file.clone());
        let acceptor = std::thread::Builder::new()
            .name("qscope-relay-accept".into())
            .spawn(move || accept_loop(sh, listener, file, tg, deadline))
            .map_err(|e| {
                remove_socket_file(&socket_file);
                StartError::Fail(format!("cannot start the relay: {e}"))
            })?;
        let source = RelaySource::new(
            shared.clone(),
            opts.stop.clone(),
            opts.connect.server_port(),
            writer,
        );
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
