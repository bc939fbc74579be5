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
//! * [`registry`]: the one [`Protocol`] description per protocol (names,
//!   ports, probe, constructor, filter fields, display hints) that the
//!   application reads.
//! * one module per protocol ([`qmp`], [`qm`], [`qps`], [`mqserver`]), each
//!   with its content probe and its description (`spec.rs`), declared by
//!   one line of `protocols!` below.

pub mod dissector;
pub mod driver;
pub mod fuzzing;
pub mod model;
pub mod names;
#[macro_use]
pub mod registry;
pub mod toolkit;

// The protocols, one line each: `Proto::Name = folder`. Adding a protocol
// adds its folder and one line here (docs/adding-a-protocol.md).
protocols! {
    Qmp = qmp,
    Qm = qm,
    Qps = qps,
    MqServer = mqserver,
}

use std::fmt;

pub use dissector::{Ctx, Dissector, Options, SessionStart, Step, Verdict};
pub use driver::{Driver, Item, Limits};
pub use model::{Dir, Field, Kind, Message, MsgRef, Note, Proto, Severity, Value};
pub use registry::Protocol;

impl Proto {
    /// The protocol's description in the registry; `None` for `Unknown`.
    pub fn protocol(self) -> Option<&'static Protocol> {
        PROTOCOLS.get(self.index()?).copied()
    }

    /// The name used in exports and on the command line.
    pub fn as_str(self) -> &'static str {
        self.protocol().map_or("unknown", |p| p.name)
    }

    /// The protocol called `s` (its name or an alias, any case);
    /// `unknown` and `none` name [`Proto::Unknown`].
    pub fn from_name(s: &str) -> Option<Proto> {
        let s = s.to_ascii_lowercase();
        if s == "unknown" || s == "none" {
            return Some(Proto::Unknown);
        }
        Proto::KNOWN.iter().copied().find(|p| {
            p.protocol()
                .is_some_and(|d| d.name == s || d.aliases.contains(&s.as_str()))
        })
    }
}

impl fmt::Debug for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.index().and_then(|i| PROTO_CONSTS.get(i));
        f.write_str(name.copied().unwrap_or("Unknown"))
    }
}

/// Probes the first bytes of both directions (as much as has arrived, from
/// the first captured byte) for `proto`.
pub fn probe(proto: Proto, c2s: &[u8], s2c: &[u8], start: SessionStart) -> Verdict {
    match proto.protocol() {
        Some(p) => (p.probe)(c2s, s2c, start),
        None => Verdict::NoMatch(None),
    }
}

/// Creates the dissector for `proto`, or `None` for protocols without one.
pub fn new_dissector(
    proto: Proto,
    start: SessionStart,
    opts: Options,
) -> Option<Box<dyn Dissector>> {
    proto.protocol().map(|p| (p.new)(start, opts))
}

/// Well-known server ports, from the registry (each protocol's `ports`, in
/// registry order): hints, confirmed by content where the protocol allows.
/// They also orient connections picked up mid-stream.
pub fn well_known_ports() -> impl Iterator<Item = (u16, Proto)> {
    Proto::KNOWN.iter().flat_map(|&proto| {
        proto
            .protocol()
            .map_or(&[][..], |p| p.ports)
            .iter()
            .map(move |&port| (port, proto))
    })
}

/// The protocol customarily served on `port`, if any.
pub fn proto_for_port(port: u16) -> Option<Proto> {
    well_known_ports()
        .find(|(p, _)| *p == port)
        .map(|(_, proto)| proto)
}
