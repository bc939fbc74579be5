//! Fuzz harnesses for the parts of the application crate that read
//! untrusted bytes: TCP reassembly, the capture-file reader, link/IP/TCP
//! decoding, the display-filter language, and the whole pipeline from a
//! capture file's bytes to JSONL and text output.
//!
//! Each module has a `run(&[u8])` that panics when an invariant breaks.
//! The `cargo fuzz` targets in `fuzz/fuzz_targets/` call them, and
//! `tests/fuzz_replay.rs` (plain `cargo test`, stable) replays every file of
//! `fuzz/corpus/<target>/` through them, so a crash once found stays fixed.
//! This file is the root of the fuzz crate's library and is included by
//! that test with `#[path]`, so it only uses `qscope` and
//! `qscope_dissectors`.
#![allow(dead_code)]

pub mod capture;
pub mod filter;
pub mod json;
pub mod layers;
pub mod pipeline;
pub mod reassembly;

/// A fuzz input as a file of its own in the temporary directory (removed
/// on drop), for the readers that open files.
pub struct TempFile(pub std::path::PathBuf);

impl TempFile {
    pub fn new(data: &[u8]) -> TempFile {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "qscope-fuzz-{}-{}.pcap",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, data).expect("writing the input to a temporary file");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Reads the fuzz input as a stream of small numbers; past the end it
/// yields zeros, so every input decodes to something.
pub struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Bytes<'a> {
        Bytes { data, pos: 0 }
    }
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }
    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    pub fn i16(&mut self) -> i16 {
        self.u16() as i16
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    /// Up to `n` bytes (fewer at the end of the input).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = start.saturating_add(n).min(self.data.len());
        self.pos = self.pos.saturating_add(n);
        &self.data[start..end]
    }
    pub fn rest(&mut self) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        self.pos = self.data.len();
        &self.data[start..]
    }
}
