//! # qscope-dissectors
//!
//! Pure, incremental dissectors for the application protocols qscope
//! decodes: QMP (and QGA), QM (QMClient), QPS and MQServer. Bytes in,
//! [`Message`]s out; no I/O, no printing, no panics on hostile input.
//!
//! * [`model`]: the one model of a decoded message (fields with byte ranges,
//!   expert notes, reply references).
//! * [`dissector`]: the one [`Dissector`] trait every protocol implements.
//! * [`driver`]: the one [`Driver`] that owns buffering, limits and
//!   resynchronisation for every protocol.
//! * one module per protocol ([`qmp`], [`qm`], [`qps`], [`mqserver`]), each
//!   with its content probe.

pub mod dissector;
pub mod driver;
pub mod fuzzing;
pub mod model;
pub mod mqserver;
pub mod names;
pub mod qm;
pub mod qmp;
pub mod qps;
pub mod toolkit;

pub use dissector::{Ctx, Dissector, SessionStart, Step};
pub use driver::{Driver, Item, Limits};
pub use model::{Dir, Field, Kind, Message, MsgRef, Note, Proto, Severity, Value};

/// Options that change what dissectors put in their output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Keep passwords and other secrets instead of redacting them.
    pub show_secrets: bool,
}

/// Result of probing the first bytes of a session for a protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The bytes are this protocol. `swap` says the session's sides are the
    /// other way round (the side called client is really the server).
    Match { swap: bool },
    /// The bytes are not this protocol; the reason is shown to the user when
    /// it is worth knowing (e.g. "QEMU human monitor (HMP), not QMP").
    NoMatch(Option<&'static str>),
    /// Not enough bytes yet.
    NeedMore,
}

/// Probes the first bytes of both directions (as much as has arrived, from
/// the first captured byte) for `proto`.
pub fn probe(proto: Proto, c2s: &[u8], s2c: &[u8], start: SessionStart) -> Verdict {
    match proto {
        Proto::Qmp => qmp::probe(c2s, s2c, start),
        Proto::Qm => qm::probe(c2s, s2c, start),
        Proto::Qps => qps::probe(c2s, s2c, start),
        Proto::MqServer => mqserver::probe(c2s, s2c, start),
        Proto::Unknown => Verdict::NoMatch(None),
    }
}

/// Creates the dissector for `proto`, or `None` for protocols without one.
pub fn new_dissector(
    proto: Proto,
    start: SessionStart,
    opts: Options,
) -> Option<Box<dyn Dissector>> {
    match proto {
        Proto::Qmp => Some(Box::new(qmp::Qmp::new(start, opts))),
        Proto::Qm => Some(Box::new(qm::Qm::new(start, opts))),
        Proto::Qps => Some(Box::new(qps::Qps::new(start, opts))),
        Proto::MqServer => Some(Box::new(mqserver::MqServer::new(start, opts))),
        Proto::Unknown => None,
    }
}

/// Well-known server ports: hints, confirmed by content where the protocol
/// allows. They also orient connections picked up mid-stream.
pub const WELL_KNOWN_PORTS: &[(u16, Proto)] = &[
    (4444, Proto::Qmp),
    (4243, Proto::Qm),
    (8888, Proto::MqServer),
    (8889, Proto::MqServer),
    (1234, Proto::MqServer),
];

/// The protocol customarily served on `port`, if any.
pub fn proto_for_port(port: u16) -> Option<Proto> {
    WELL_KNOWN_PORTS
        .iter()
        .find(|(p, _)| *p == port)
        .map(|(_, proto)| *proto)
}
