//! qscope: the application. Follow a packet through:
//!
//! 1. [`capture`]: a [`capture::Source`] yields link-layer packets (pcap,
//!    pcapng, live).
//! 2. [`layers`]: link/IP/TCP decoding turns a packet into a TCP segment.
//! 3. [`reassembly`]: per-connection, per-direction TCP reassembly emits
//!    `Open`/`Data`/`Gap`/`End`/`Close` events.
//! 4. [`engine`]: detects each session's protocol, drives its dissector
//!    (`qscope_dissectors::Driver`), pairs replies with requests, and pushes
//!    records to a [`record::Sink`].
//! 5. [`sink`]: JSONL/JSON export, the text printer, statistics.
//!
//! [`human`] holds the rules every view of raw bytes follows (escaping, hex
//! rows, masking of secrets): `qscope follow` and the [`tui`].

/// A hash map with a fast, fixed-seed hasher, for the per-packet lookups
/// of reassembly and the engine (the standard SipHash showed in profiles;
/// nothing here is keyed by data an attacker could choose to collide
/// cheaply beyond what a hash table tolerates).
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

pub mod capture;
pub mod cli;
pub mod engine;
pub mod filter;
pub mod human;
pub mod layers;
pub mod reassembly;
pub mod record;
pub mod sink;
pub mod stats;
pub mod tui;
