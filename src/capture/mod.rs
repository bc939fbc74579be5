//! Capture sources: where packets come from.
//!
//! A [`Source`] hands out one link-layer [`Packet`] at a time: its frame
//! number, capture [`Timestamp`], [`LinkType`], the captured bytes and the
//! length it had on the wire. The next stage ([`crate::layers::decode`])
//! turns those bytes into a TCP segment.
//!
//! [`FileSource`] reads pcap and pcapng files (or standard input) in a
//! streaming fashion with bounded memory; see [`file`](mod@file) for the details.
//!
//! Errors are [`CaptureError`]s whose `Display` is one human-readable line
//! naming the input and the position of the fault, e.g.
//! `captures/x.pcap: truncated packet record at byte 123456 (frame 17)`.
// The no-panic promise for code that reads untrusted bytes, held by the
// compiler (tests may unwrap and index).
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod blocks;
pub mod file;
#[cfg(feature = "live")]
pub mod live;
mod pcapng;
pub mod relay;
pub mod signals;
mod source;
pub mod synth;
pub mod writer;

pub use file::FileSource;
pub use source::{CaptureError, CaptureErrorKind, LinkType, Next, Packet, Source, Timestamp};
