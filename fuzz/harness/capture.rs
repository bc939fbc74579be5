//! The capture-file reader: [`FileSource::from_reader`] on arbitrary bytes.
//!
//! The input is read twice: from a reader that hands everything over at
//! once, and from one that trickles it in small pieces with interrupted
//! reads in between (as a pipe does). Both must give the same packets and
//! the same outcome. A third read goes through the input as a file, with
//! two readers sharing its blocks (each on a thread of its own, as the
//! engine's workers do) and blocks of a few bytes, so that records
//! straddle them: both must again give the same packets and outcome.
//! Every packet must keep the reader's promises: frame
//! numbers count from 1, `data.len() <= orig_len`, no record beyond the
//! buffer limit, a link type of 16 bits, a timestamp with `nanos` below one
//! second that formats without panicking. An error must be one line naming
//! the input, and after the end or an error the source stays finished.

use std::io::{self, Cursor, Read};

use qscope::capture::file::MAX_BUFFER;
use qscope::capture::{CaptureError, CaptureErrorKind, FileSource, Source};

use super::TempFile;

/// Hands the input over `chunk` bytes at a time, failing every third read
/// with `Interrupted` (which must be retried, not reported).
struct Trickle {
    data: Vec<u8>,
    pos: usize,
    chunk: usize,
    calls: u32,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(3) {
            return Err(io::Error::from(io::ErrorKind::Interrupted));
        }
        let n = self.chunk.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// One packet, as far as the comparison goes.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    num: u64,
    ts: (i64, u32, bool),
    link: u32,
    orig_len: u32,
    data: Vec<u8>,
}

/// How a read ended. Errors are compared by kind and by where they are
/// (the message up to its `(frame N)`): the detail after it may say more
/// when more of the input happened to be buffered.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Open(CaptureErrorKind, String),
    Done,
    Fault(CaptureErrorKind, String),
}

fn place(text: &str) -> String {
    match text.find("): ") {
        Some(i) => text[..=i].to_string(),
        None => text.to_string(),
    }
}

const NAME: &str = "fuzz.pcap";

/// Reads everything `r` yields, checking each packet.
fn read_all(r: Box<dyn Read + Send>) -> (Vec<Seen>, End) {
    let mut src = match FileSource::from_reader(NAME, r) {
        Ok(s) => s,
        Err(e) => return (Vec::new(), open_failed(&e, NAME)),
    };
    let (seen, end) = read_source(&mut src, NAME);
    assert_eq!(src.frames_read(), seen.len() as u64, "frames_read");
    (seen, end)
}

/// The outcome of a source that did not open; `name` is what its errors
/// call the input.
fn open_failed(e: &CaptureError, name: &str) -> End {
    let text = e.to_string().replace(name, NAME);
    check_error(&text);
    assert_ne!(e.kind(), CaptureErrorKind::Io, "no I/O error here: {e}");
    End::Open(e.kind(), place(&text))
}

/// Reads `src` to its end, checking each packet; `name` is what its
/// errors call the input.
fn read_source(src: &mut dyn Source, name: &str) -> (Vec<Seen>, End) {
    let mut seen = Vec::new();
    let end = loop {
        match src.next_packet() {
            Ok(Some(p)) => {
                assert_eq!(p.num, seen.len() as u64 + 1, "frame numbers count from 1");
                assert!(
                    p.data.len() as u64 <= u64::from(p.orig_len),
                    "frame {}: {} bytes captured but orig_len {}",
                    p.num,
                    p.data.len(),
                    p.orig_len
                );
                assert!(
                    p.data.len() <= MAX_BUFFER,
                    "frame {} beyond the buffer limit",
                    p.num
                );
                assert!(
                    p.link.0 <= 0xffff,
                    "link type {} has more than 16 bits",
                    p.link.0
                );
                assert!(
                    p.ts.nanos < 1_000_000_000,
                    "frame {}: nanos {}",
                    p.num,
                    p.ts.nanos
                );
                let text = p.ts.rfc3339();
                assert!(text.ends_with('Z') && !text.contains('\n'), "{text}");
                // Keep memory bounded for big inputs: compare a digest.
                let data = if p.data.len() > 4096 {
                    digest(p.data)
                } else {
                    p.data.to_vec()
                };
                seen.push(Seen {
                    num: p.num,
                    ts: (p.ts.secs, p.ts.nanos, p.ts.nano),
                    link: p.link.0,
                    orig_len: p.orig_len,
                    data,
                });
            }
            Ok(None) => break End::Done,
            Err(e) => {
                let text = e.to_string().replace(name, NAME);
                check_error(&text);
                assert_ne!(e.kind(), CaptureErrorKind::Io, "no I/O error here: {e}");
                break End::Fault(e.kind(), place(&text));
            }
        }
    };
    for _ in 0..2 {
        assert!(
            matches!(src.next_packet(), Ok(None)),
            "a finished source must stay finished"
        );
    }
    (seen, end)
}

fn check_error(text: &str) {
    assert!(
        text.starts_with(&format!("{NAME}: ")),
        "error must name the input: {text}"
    );
    assert!(
        !text.contains(['\n', '\r']),
        "error on more than one line: {text:?}"
    );
}

fn digest(b: &[u8]) -> Vec<u8> {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &x in b {
        h = (h ^ u64::from(x)).wrapping_mul(0x100_0000_01b3);
    }
    let mut v = h.to_le_bytes().to_vec();
    v.extend_from_slice(&(b.len() as u64).to_le_bytes());
    v
}

/// Runs one fuzz input.
pub fn run(data: &[u8]) {
    let whole = read_all(Box::new(Cursor::new(data.to_vec())));
    let chunk = 1 + usize::from(data.last().copied().unwrap_or(0) % 61);
    let trickled = read_all(Box::new(Trickle {
        data: data.to_vec(),
        pos: 0,
        chunk,
        calls: 0,
    }));
    assert_eq!(
        whole, trickled,
        "reading at once and in {chunk}-byte pieces differ"
    );
    let block = 1 + usize::from(data.first().copied().unwrap_or(0) % 97);
    let shared = read_shared(data, block);
    for (i, got) in shared.iter().enumerate() {
        assert_eq!(
            &whole, got,
            "reading a stream and reader {i} of a file's shared {block}-byte blocks differ"
        );
    }
}

/// Reads `data` as a file with two readers sharing its `block`-byte
/// blocks, each on a thread of its own (a reader may wait for the other
/// to catch up).
fn read_shared(data: &[u8], block: usize) -> Vec<(Vec<Seen>, End)> {
    let file = TempFile::new(data);
    let name = file.0.display().to_string();
    let mut first = match FileSource::open_in_blocks(&file.0, block) {
        Ok(s) => s,
        Err(e) => return vec![(Vec::new(), open_failed(&e, &name))],
    };
    let Some(mut second) = first.reopen() else {
        panic!("a regular file opens again");
    };
    std::thread::scope(|s| {
        let other = s.spawn(|| read_source(&mut *second, &name));
        let one = read_source(&mut first, &name);
        assert_eq!(first.frames_read(), one.0.len() as u64, "frames_read");
        let two = other
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        vec![one, two]
    })
}
