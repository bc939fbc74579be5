//! The spool: every packet the analysis read, appended to an unnamed
//! temporary file, so that background jobs can re-run the engine over
//! exactly the same packets (decode one session on demand, evaluate a
//! display filter, export) whatever the source was (a file, standard
//! input, a live interface).
//!
//! Record layout (little-endian): `data_len u32, orig_len u32, link u32,
//! secs i64, nanos u32, nano u8, num u64`, then `data_len` bytes.
//!
//! The writer flushes before each batch of rows is handed to the UI and
//! publishes the flushed length; readers never read past it. On Unix the
//! file is unlinked as soon as it is open, so it disappears with the
//! process whatever happens.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::capture::{CaptureError, CaptureErrorKind, LinkType, Packet, Source, Timestamp};

const HEADER: usize = 33;

/// What readers share with the writer.
#[derive(Debug)]
pub struct Shared {
    file: File,
    #[cfg_attr(unix, allow(dead_code))]
    path: PathBuf,
    /// Bytes written and flushed: readers stop here.
    flushed: AtomicU64,
    /// The analysis has ended: nothing more will be written.
    done: AtomicBool,
}

impl Shared {
    pub fn flushed(&self) -> u64 {
        self.flushed.load(Ordering::Acquire)
    }
    pub fn done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    #[cfg(unix)]
    fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        self.file.read_at(buf, pos)
    }

    #[cfg(windows)]
    fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize> {
        use std::os::windows::fs::FileExt;
        self.file.seek_read(buf, pos)
    }
}

#[cfg(not(unix))]
impl Drop for Shared {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Appends packets.
pub struct Writer {
    out: BufWriter<File>,
    written: u64,
    shared: Arc<Shared>,
    /// The first write error; the spool stops growing after it.
    pub error: Option<String>,
}

/// Creates a spool in the temporary directory.
pub fn create() -> io::Result<(Writer, Arc<Shared>)> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir();
    let mut last = None;
    for _ in 0..100 {
        let path = dir.join(format!(
            "qscope-spool-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(w) => {
                let r = File::open(&path)?;
                #[cfg(unix)]
                let _ = std::fs::remove_file(&path);
                let shared = Arc::new(Shared {
                    file: r,
                    path,
                    flushed: AtomicU64::new(0),
                    done: AtomicBool::new(false),
                });
                let writer = Writer {
                    out: BufWriter::with_capacity(1 << 18, w),
                    written: 0,
                    shared: shared.clone(),
                    error: None,
                };
                return Ok((writer, shared));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("cannot create a spool file")))
}

impl Writer {
    /// Appends one packet; returns its position.
    pub fn packet(&mut self, p: &Packet<'_>) -> u64 {
        let at = self.written;
        if self.error.is_some() {
            return at;
        }
        let mut h = [0u8; HEADER];
        h[0..4].copy_from_slice(&(p.data.len() as u32).to_le_bytes());
        h[4..8].copy_from_slice(&p.orig_len.to_le_bytes());
        h[8..12].copy_from_slice(&p.link.0.to_le_bytes());
        h[12..20].copy_from_slice(&p.ts.secs.to_le_bytes());
        h[20..24].copy_from_slice(&p.ts.nanos.to_le_bytes());
        h[24] = u8::from(p.ts.nano);
        h[25..33].copy_from_slice(&p.num.to_le_bytes());
        let r = self
            .out
            .write_all(&h)
            .and_then(|_| self.out.write_all(p.data));
        match r {
            Ok(()) => self.written += (HEADER + p.data.len()) as u64,
            Err(e) => self.error = Some(format!("spool: {e}")),
        }
        at
    }

    /// Position of the next packet.
    pub fn position(&self) -> u64 {
        self.written
    }

    /// Flushes and lets readers see everything written so far.
    pub fn flush(&mut self) {
        if self.error.is_none() {
            if let Err(e) = self.out.flush() {
                self.error = Some(format!("spool: {e}"));
                return;
            }
            self.shared.flushed.store(self.written, Ordering::Release);
        }
    }

    /// Flushes and marks the spool complete.
    pub fn finish(&mut self) {
        self.flush();
        self.shared.done.store(true, Ordering::Release);
    }
}

/// Reads packets back, as a [`Source`], from `from` up to the flushed end
/// (or `until`).
pub struct Reader {
    shared: Arc<Shared>,
    pos: u64,
    until: Option<u64>,
    buf: Vec<u8>,
    /// Window of the file held in `buf`: starts at `buf_pos`.
    buf_pos: u64,
    cur: std::ops::Range<usize>,
    cur_ts: Timestamp,
    cur_link: LinkType,
    cur_orig: u32,
    cur_num: u64,
}

impl Reader {
    pub fn new(shared: Arc<Shared>, from: u64, until: Option<u64>) -> Reader {
        Reader {
            shared,
            pos: from,
            until,
            buf: Vec::new(),
            buf_pos: from,
            cur: 0..0,
            cur_ts: Timestamp::default(),
            cur_link: LinkType::ETHERNET,
            cur_orig: 0,
            cur_num: 0,
        }
    }

    /// Position of the next packet.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// True when everything that will ever be written has been read.
    pub fn at_final_end(&self) -> bool {
        self.shared.done() && self.pos >= self.shared.flushed()
    }

    /// Makes `buf` hold `[pos, pos+n)`; false when not yet flushed.
    fn ensure(&mut self, n: usize) -> io::Result<bool> {
        let end = self.pos + n as u64;
        if end > self.shared.flushed() {
            return Ok(false);
        }
        let have = self.buf_pos <= self.pos && end <= self.buf_pos + self.buf.len() as u64;
        if have {
            return Ok(true);
        }
        let want = n.max(1 << 20) as u64;
        let len = want.min(self.shared.flushed() - self.pos) as usize;
        self.buf.resize(len, 0);
        let mut got = 0;
        while got < len {
            let k = self
                .shared
                .read_at(&mut self.buf[got..], self.pos + got as u64)?;
            if k == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "spool shorter than written",
                ));
            }
            got += k;
        }
        self.buf_pos = self.pos;
        Ok(true)
    }

    /// The next packet, or `None` at the flushed end (more may come later
    /// unless [`Reader::at_final_end`]).
    pub fn read_packet(&mut self) -> io::Result<Option<Packet<'_>>> {
        if self.until.is_some_and(|u| self.pos >= u) {
            return Ok(None);
        }
        if !self.ensure(HEADER)? {
            return Ok(None);
        }
        let o = (self.pos - self.buf_pos) as usize;
        let h = &self.buf[o..o + HEADER];
        let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let data_len = u32_at(0) as usize;
        let orig_len = u32_at(4);
        let link = LinkType(u32_at(8));
        let mut s8 = [0u8; 8];
        s8.copy_from_slice(&h[12..20]);
        let secs = i64::from_le_bytes(s8);
        let nanos = u32_at(20);
        let nano = h[24] != 0;
        s8.copy_from_slice(&h[25..33]);
        let num = u64::from_le_bytes(s8);
        if !self.ensure(HEADER + data_len)? {
            return Ok(None);
        }
        let o = (self.pos - self.buf_pos) as usize + HEADER;
        self.cur = o..o + data_len;
        self.cur_ts = Timestamp { secs, nanos, nano };
        self.cur_link = link;
        self.cur_orig = orig_len;
        self.cur_num = num;
        self.pos += (HEADER + data_len) as u64;
        Ok(Some(Packet {
            num,
            ts: self.cur_ts,
            link,
            data: &self.buf[self.cur.clone()],
            orig_len,
        }))
    }
}

impl Source for Reader {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        self.read_packet()
            .map_err(|e| CaptureError::new(CaptureErrorKind::Io, "spool", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let (mut w, shared) = create().unwrap();
        let data: Vec<Vec<u8>> = (0..3000u32)
            .map(|i| vec![i as u8; (i % 700) as usize])
            .collect();
        let mut positions = Vec::new();
        for (i, d) in data.iter().enumerate() {
            positions.push(w.packet(&Packet {
                num: i as u64 + 1,
                ts: Timestamp::from_micros(i as i64 * 10),
                link: LinkType::ETHERNET,
                data: d,
                orig_len: d.len() as u32 + 1,
            }));
            if i == 100 {
                w.flush();
            }
        }
        let mut r = Reader::new(shared.clone(), 0, None);
        let mut n = 0;
        while r.read_packet().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 101, "only flushed packets are visible");
        assert!(!r.at_final_end());
        w.finish();
        let mut r = Reader::new(shared, positions[2000], None);
        let p = r.read_packet().unwrap().unwrap();
        assert_eq!(
            (p.num, p.data.len(), p.orig_len),
            (2001, 2000 % 700, 2000 % 700 + 1)
        );
        assert_eq!(p.ts, Timestamp::from_micros(20_000));
        let mut n = 1;
        while r.read_packet().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 1000);
        assert!(r.at_final_end());
    }
}
