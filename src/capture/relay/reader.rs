//! [`RelaySource`]: the queue read as a capture, one synthesised TCP
//! connection per relayed client.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::capture::source::{
    CaptureError, CaptureErrorKind, LinkType, Next, Packet, Source, Timestamp,
};
use crate::capture::synth::{self, TcpConn};
use crate::capture::writer::PcapWriter;

use super::config::TICK;
use super::pump::client_addr;
use super::queue::{Ev, Shared};

/// One relayed client as the analysis sees it.
pub(super) struct Followed {
    tcp: TcpConn,
    /// Bytes of each direction synthesised or skipped so far.
    sent: [u64; 2],
}

/// The relayed bytes as a capture: synthesised TCP/IPv4 packets (link type
/// raw IPv4), one connection per relayed client. Ends when the relay has
/// stopped and everything queued was read, or at once when the stop flag
/// of [`RelayOptions::stop`](super::RelayOptions::stop) is raised.
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

pub(super) enum Popped {
    Ev(Ev),
    Idle,
    Over,
}

impl RelaySource {
    pub(super) fn new(
        shared: Arc<Shared>,
        stop: Arc<AtomicBool>,
        server_port: u16,
        writer: Option<PcapWriter>,
    ) -> RelaySource {
        RelaySource {
            shared,
            stop,
            server_port,
            conns: HashMap::new(),
            out: VecDeque::new(),
            cur: Vec::new(),
            cur_ts: Timestamp::default(),
            num: 0,
            writer,
            ended: false,
        }
    }

    pub(super) fn pop(&self) -> Popped {
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

    pub(super) fn synthesise(&mut self, ev: Ev) {
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

    pub(super) fn flush(&mut self) -> Result<(), CaptureError> {
        match &mut self.writer {
            Some(w) => w
                .flush()
                .map_err(|e| CaptureError::new(CaptureErrorKind::Io, "-w output", e)),
            None => Ok(()),
        }
    }
}

/// What [`RelaySource::fetch`] found.
pub(super) enum Fetched {
    Packet,
    Idle,
    End,
}

impl RelaySource {
    /// Makes the next synthesised packet current ([`Fetched::Packet`]);
    /// with `wait`, gives up after about that long without one.
    pub(super) fn fetch(&mut self, wait: Option<Duration>) -> Result<Fetched, CaptureError> {
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
    pub(super) fn packet(&mut self) -> Result<Packet<'_>, CaptureError> {
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
