//! [`FileSource`]: a streaming pcap / pcapng reader with bounded memory.
//!
//! How a packet travels through here:
//!
//! 1. [`FileSource::from_reader`] reads the first bytes itself to tell pcap
//!    from pcapng by their magic number (and to give precise errors for
//!    empty, short or foreign files), then hands those bytes, followed by the
//!    rest of the stream, to a `pcap_parser` streaming reader
//!    ([`LegacyPcapReader`] or [`PcapNGReader`]).
//! 2. Those readers parse from a circular buffer. [`FileSource::next_packet`]
//!    asks for the next block; when the buffer holds only part of a record
//!    (`Incomplete`), it reads more input, growing the buffer only as far as
//!    the record's declared length requires and never past [`MAX_BUFFER`].
//! 3. Header and interface blocks update the per-file state (link type,
//!    timestamp precision of each pcapng interface); a packet block is
//!    returned as a [`Packet`] that borrows its bytes from the buffer
//!    itself: the block is consumed only when the next packet is asked
//!    for, and consumed without moving the buffer's contents (they move
//!    once per refill, not once per half buffer).
//!
//! The whole file is never held in memory: the buffer starts at
//! [`INITIAL_BUFFER`] bytes and only grows for records larger than that.
//!
//! A regular pcap file's plain records are parsed from blocks shared with
//! its other readers instead (`capture/blocks.rs`); at the first record
//! that is not plain, the streaming reader takes over and words the fault.

use std::io::{self, Cursor, Read, Seek};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{
    Block, LegacyPcapReader, PcapBlockOwned, PcapError, PcapHeader, PcapNGReader, EPB_MAGIC,
    IDB_MAGIC, SHB_MAGIC, SPB_MAGIC,
};

use super::blocks::{self, read_u32, word, Blocks, Records};
use super::pcapng::Iface;
use super::source::{CaptureError, CaptureErrorKind as Kind, LinkType, Packet, Source, Timestamp};

/// Initial size of the read buffer.
pub const INITIAL_BUFFER: usize = 64 * 1024;
/// The read buffer never grows beyond this; a single record (pcap record or
/// pcapng block) larger than this is reported as an error.
pub const MAX_BUFFER: usize = 16 * 1024 * 1024;

/// pcap magic numbers, as read little-endian from the first four bytes.
const PCAP_MAGICS: [u32; 5] = [
    0xa1b2_c3d4, // µs, little-endian file
    0xa1b2_3c4d, // ns, little-endian file
    0xd4c3_b2a1, // µs, big-endian file
    0x4d3c_b2a1, // ns, big-endian file
    0xa1b2_cd34, // "modified" (Kuznetsov) pcap, little-endian only
];
const PCAP_HEADER_LEN: usize = 24;
/// pcapng byte-order magic, as written by a little-endian writer.
const NG_BOM_LE: [u8; 4] = [0x4d, 0x3c, 0x2b, 0x1a];
const NG_BOM_BE: [u8; 4] = [0x1a, 0x2b, 0x3c, 0x4d];

/// A pcap or pcapng capture read from a file or any byte stream.
pub struct FileSource {
    /// The `pcap_parser` streaming reader (owns the circular buffer).
    reader: Box<dyn PcapReaderIterator + Send>,
    /// Everything else; kept apart so it can be updated while a block
    /// borrowed from `reader` is alive.
    st: State,
    /// Current capacity of the reader's buffer.
    capacity: usize,
    /// Last I/O error seen by the underlying reader (pcap_parser only
    /// reports "read error" without the cause).
    io_err: Arc<Mutex<Option<io::Error>>>,
    /// Set after the end or an error: later calls return `Ok(None)`.
    done: bool,
    /// The input's size, when it is a regular file (progress). Reading
    /// stops there: a file still being written is read as it was when
    /// opened.
    size: Option<u64>,
    /// The file's path, when it is a regular file (for [`Source::reopen`]).
    path: Option<PathBuf>,
    /// Length of the block of the packet last returned, which borrows from
    /// the buffer: consumed when the next one is asked for.
    held: usize,
    /// A regular pcap file's records, read from blocks shared with the
    /// other readers of the file (see `capture/blocks.rs`); `None`
    /// once anything but the plain case is met, and `reader` goes on.
    fast: Option<(Records, LinkType)>,
    /// Where `reader`'s input is in the file, less the header put back
    /// before it: 0, or more when it took over from the shared blocks.
    base: u64,
}

/// Per-file decoding state.
struct State {
    /// Name used in error messages (the path, or `<stdin>`).
    name: String,
    format: Format,
    /// Packets returned so far (the last frame number).
    frames: u64,
    /// Timestamp of the previous packet (used for pcapng Simple Packet
    /// Blocks, which carry none).
    last_ts: Timestamp,
    /// Copy of the current packet's bytes, reused from packet to packet,
    /// for a packet whose bytes are not found in the reader's buffer.
    pkt_buf: Vec<u8>,
}

/// Where the reader's buffer lies, while a block parsed from it is
/// handled: a packet whose bytes lie inside it is not copied.
#[derive(Clone, Copy)]
struct Window {
    start: usize,
    len: usize,
}

impl Window {
    fn of(buf: &[u8]) -> Window {
        Window {
            start: buf.as_ptr() as usize,
            len: buf.len(),
        }
    }

    /// Where `data` lies in the buffer, if it does.
    fn span(self, data: &[u8]) -> Option<Range<usize>> {
        (data.as_ptr() as usize)
            .checked_sub(self.start)
            .map(|start| start..start + data.len())
            .filter(|span| span.end <= self.len)
    }
}

enum Format {
    Pcap {
        big_endian: bool,
        nano: bool,
        /// Record header length: 16, or 24 for the "modified" format.
        rec_hdr_len: u64,
        link: LinkType,
    },
    PcapNg {
        /// Byte order of the current section.
        big_endian: bool,
        /// Interfaces of the current section, by interface id.
        ifaces: Vec<Iface>,
    },
}

impl Format {
    /// A pcap file's format, from its header.
    fn pcap(h: &PcapHeader) -> Format {
        Format::Pcap {
            big_endian: h.is_bigendian(),
            nano: h.is_nanosecond_precision(),
            rec_hdr_len: if h.is_modified_format() { 24 } else { 16 },
            // Bits 16..31 carry FCS information, not the link type.
            link: LinkType((h.network.0 as u32) & 0xffff),
        }
    }
}

/// What one packet looks like once the borrowed block is gone.
struct Meta {
    ts: Timestamp,
    link: LinkType,
    orig_len: u32,
    /// Where its bytes are in the reader's buffer; `None`: in `pkt_buf`.
    span: Option<Range<usize>>,
}

/// Outcome of one `reader.next()` call, with nothing borrowed.
enum Step {
    Block(usize, Option<Meta>),
    Fail(CaptureError),
    Eof,
    NeedMore,
    Truncated,
    ReadError,
    Unparsable,
}

impl FileSource {
    /// Opens a capture file, or standard input when `path` is `-`.
    /// pcap and pcapng are told apart by their magic number.
    pub fn open(path: &Path) -> Result<FileSource, CaptureError> {
        FileSource::open_in_blocks(path, blocks::BLOCK)
    }

    /// [`FileSource::open`] with shared blocks of `block` bytes (at least
    /// one): for the fuzz harness, whose inputs are smaller than a real
    /// block, to have records straddle blocks.
    #[doc(hidden)]
    pub fn open_in_blocks(path: &Path, block: usize) -> Result<FileSource, CaptureError> {
        if path.as_os_str() == "-" {
            return FileSource::from_reader("<stdin>", Box::new(io::stdin()));
        }
        let name = path.display().to_string();
        let file = std::fs::File::open(path)
            .map_err(|e| CaptureError::new(Kind::Io, &name, format!("cannot open: {e}")))?;
        let size = file
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        let shared = size.and_then(|_| file.try_clone().ok());
        let input: Box<dyn Read + Send> = match size {
            Some(n) => Box::new(file.take(n)),
            None => Box::new(file),
        };
        let mut src = FileSource::from_reader(&name, input)?;
        src.size = size;
        src.path = size.map(|_| path.to_path_buf());
        Ok(src.with_blocks(shared, block))
    }

    /// Reads the records of a regular pcap file in the standard formats
    /// from shared blocks of `block` bytes (`file`: another handle on it).
    fn with_blocks(mut self, file: Option<std::fs::File>, block: usize) -> FileSource {
        let (Some(file), Some(size)) = (file, self.size) else {
            return self;
        };
        let mut header = [0u8; PCAP_HEADER_LEN];
        if file.read_exact_at(&mut header, 0).is_err() {
            return self;
        }
        // The standard formats only (16-byte record headers).
        let Ok((_, h)) = pcap_parser::parse_pcap_header(&header) else {
            return self;
        };
        let Format::Pcap {
            big_endian,
            nano,
            rec_hdr_len: 16,
            link,
        } = Format::pcap(&h)
        else {
            return self;
        };
        let format = blocks::Format {
            big_endian,
            nano,
            limit: MAX_BUFFER,
        };
        let blocks = Blocks::sized(file, size, block);
        let records = Records::new(blocks, format, PCAP_HEADER_LEN);
        self.fast = Some((records, link));
        self
    }

    /// The same file opened again from its start, read up to the same
    /// size: another reader of exactly the same packets. `None` for
    /// anything but a regular file, or when the file can no longer be
    /// opened or has shrunk.
    fn open_again(&self) -> Option<FileSource> {
        let (path, size) = (self.path.as_ref()?, self.size?);
        let file = std::fs::File::open(path).ok()?;
        if file.metadata().ok()?.len() < size {
            return None;
        }
        let shared = file.try_clone().ok();
        let mut src = FileSource::from_reader(&self.st.name, Box::new(file.take(size))).ok()?;
        src.size = Some(size);
        src.path = Some(path.clone());
        // The same blocks as this reader's, while it has read none.
        let records = self
            .fast
            .as_ref()
            .and_then(|(r, link)| Some((r.share()?, *link)));
        Some(match records {
            Some(records) => {
                src.fast = Some(records);
                src
            }
            None => src.with_blocks(shared, blocks::BLOCK),
        })
    }

    /// Reads a capture from any byte stream; `name` is used in error messages.
    pub fn from_reader(name: &str, r: Box<dyn Read + Send>) -> Result<FileSource, CaptureError> {
        let io_err = Arc::new(Mutex::new(None));
        let mut input = ErrorKeepingReader {
            inner: r,
            last_err: Arc::clone(&io_err),
        };
        let err = |kind, detail: String| CaptureError::new(kind, name, detail);
        let io_fail = |e: io::Error| err(Kind::Io, format!("read error at byte 0: {e}"));

        // Read the magic ourselves: pcap_parser's constructors do a single
        // read() and would fail on a short read from a pipe.
        let mut prefix = Vec::with_capacity(PCAP_HEADER_LEN);
        read_up_to(&mut input, &mut prefix, 4).map_err(io_fail)?;
        if prefix.is_empty() {
            return Err(err(
                Kind::NotCapture,
                "empty file (no capture header)".into(),
            ));
        }
        if prefix.len() < 4 {
            return Err(err(
                Kind::NotCapture,
                format!("not a pcap or pcapng file (only {} bytes)", prefix.len()),
            ));
        }
        let magic = word(&prefix, 0);
        let magic_le = u32::from_le_bytes(magic);

        let (reader, format, capacity): (Box<dyn PcapReaderIterator + Send>, Format, usize) =
            if PCAP_MAGICS.contains(&magic_le) {
                read_up_to(&mut input, &mut prefix, PCAP_HEADER_LEN).map_err(io_fail)?;
                if prefix.len() < PCAP_HEADER_LEN {
                    return Err(err(
                        Kind::Truncated,
                        format!(
                            "truncated pcap file header ({} of {PCAP_HEADER_LEN} bytes)",
                            prefix.len()
                        ),
                    ));
                }
                let stream = Cursor::new(prefix).chain(input);
                let reader = LegacyPcapReader::new(INITIAL_BUFFER, stream)
                    .map_err(|e| err(Kind::Malformed, format!("bad pcap file header ({e})")))?;
                // The real values are set from the header block, which the
                // reader returns first.
                let format = Format::Pcap {
                    big_endian: false,
                    nano: false,
                    rec_hdr_len: 16,
                    link: LinkType::ETHERNET,
                };
                (Box::new(reader), format, INITIAL_BUFFER)
            } else if magic_le == SHB_MAGIC {
                read_up_to(&mut input, &mut prefix, 12).map_err(io_fail)?;
                if prefix.len() < 12 {
                    return Err(err(
                        Kind::Truncated,
                        format!("truncated pcapng section header ({} bytes)", prefix.len()),
                    ));
                }
                let len_bytes = word(&prefix, 4);
                let bom = word(&prefix, 8);
                let big_endian = match bom {
                    NG_BOM_LE => false,
                    NG_BOM_BE => true,
                    _ => {
                        return Err(err(
                            Kind::Malformed,
                            format!(
                                "pcapng section header has a bad byte-order magic 0x{:08x}",
                                u32::from_be_bytes(bom)
                            ),
                        ))
                    }
                };
                let shb_len = u64::from(read_u32(len_bytes, big_endian));
                if shb_len < 28 || !shb_len.is_multiple_of(4) {
                    return Err(err(
                        Kind::Malformed,
                        format!("pcapng section header has a bad length {shb_len}"),
                    ));
                }
                if shb_len > MAX_BUFFER as u64 {
                    return Err(err(
                        Kind::TooLarge,
                        format!(
                            "pcapng section header claims {shb_len} bytes, more than the {} MiB limit",
                            MAX_BUFFER >> 20
                        ),
                    ));
                }
                let shb_len = shb_len as usize;
                read_up_to(&mut input, &mut prefix, shb_len).map_err(io_fail)?;
                if prefix.len() < shb_len {
                    return Err(err(
                        Kind::Truncated,
                        format!(
                            "truncated pcapng section header ({} of {shb_len} bytes)",
                            prefix.len()
                        ),
                    ));
                }
                // The whole header must arrive in the constructor's single read.
                let capacity = shb_len.next_power_of_two().max(INITIAL_BUFFER);
                let stream = Cursor::new(prefix).chain(input);
                let reader = PcapNGReader::new(capacity, stream).map_err(|e| {
                    err(Kind::Malformed, format!("bad pcapng section header ({e})"))
                })?;
                let format = Format::PcapNg {
                    big_endian,
                    ifaces: Vec::new(),
                };
                (Box::new(reader), format, capacity)
            } else {
                return Err(err(
                    Kind::NotCapture,
                    format!(
                        "not a pcap or pcapng file (magic 0x{:08x})",
                        u32::from_be_bytes(magic)
                    ),
                ));
            };

        Ok(FileSource {
            reader,
            st: State {
                name: name.to_string(),
                format,
                frames: 0,
                last_ts: Timestamp::default(),
                pkt_buf: Vec::new(),
            },
            capacity,
            io_err,
            done: false,
            size: None,
            path: None,
            held: 0,
            fast: None,
            base: 0,
        })
    }

    /// The name used in error messages (the path as given, or `<stdin>`).
    pub fn name(&self) -> &str {
        &self.st.name
    }

    /// Number of packets returned so far.
    pub fn frames_read(&self) -> u64 {
        self.st.frames
    }

    /// Advances to the next packet (its bytes stay in the buffer, or in
    /// `st.pkt_buf`; see [`Meta::span`]).
    fn advance(&mut self) -> Result<Option<Meta>, CaptureError> {
        self.reader.consume_noshift(std::mem::take(&mut self.held));
        loop {
            let offset = self.base + self.reader.consumed() as u64;
            if let Some(e) = self.bad_ng_length(offset) {
                return Err(e);
            }
            let window = Window::of(self.reader.data());
            let step = match self.reader.next() {
                Ok((len, block)) => match self.st.on_block(block, offset, window) {
                    Ok(meta) => Step::Block(len, meta),
                    Err(e) => Step::Fail(e),
                },
                Err(PcapError::Eof) => Step::Eof,
                Err(PcapError::Incomplete(_)) | Err(PcapError::BufferTooSmall) => Step::NeedMore,
                Err(PcapError::UnexpectedEof) => Step::Truncated,
                Err(PcapError::ReadError) => Step::ReadError,
                Err(_) => Step::Unparsable,
            };
            match step {
                Step::Block(len, Some(meta)) => {
                    // Its bytes are still needed: consumed on the next call.
                    self.held = len;
                    return Ok(Some(meta));
                }
                Step::Block(len, None) => self.reader.consume_noshift(len),
                Step::Fail(e) => return Err(e),
                Step::Eof => return Ok(None),
                Step::NeedMore => self.fill(offset)?,
                Step::Truncated => {
                    if self.reader.data().is_empty() {
                        return Ok(None);
                    }
                    return Err(self.truncated(offset));
                }
                Step::ReadError => return Err(self.read_error(offset)),
                Step::Unparsable => {
                    let data = self.reader.data();
                    let declared = self.st.declared_len(data);
                    // Its length is not buffered yet (a pipe, a slow
                    // reader): read on, as when it is.
                    if declared.is_none()
                        && self.st.ng_block_type(data).is_some()
                        && !self.reader.reader_exhausted()
                    {
                        self.fill(offset)?;
                        continue;
                    }
                    // Unparsable pcapng blocks that carry no packets and
                    // no decoding state are skipped when their length is sane.
                    if let Some(len) = declared {
                        if self.st.skippable_ng(data) && len >= 12 {
                            if len <= data.len() as u64 {
                                self.reader.consume_noshift(len as usize);
                                continue;
                            }
                            // Not all of it is buffered yet (a pipe, a
                            // slow reader): read on, as when it is.
                            if self.reader.reader_exhausted() {
                                return Err(self.truncated(offset));
                            }
                            self.fill(offset)?;
                            continue;
                        }
                    }
                    let what = self.st.what(data);
                    return Err(self.st.error(
                        Kind::Malformed,
                        format!("malformed {what} at byte {offset}{}", self.st.at()),
                    ));
                }
            }
        }
    }

    /// The error for a record the file ends inside of.
    fn truncated(&self, offset: u64) -> CaptureError {
        let data = self.reader.data();
        let what = self.st.what(data);
        let have = data.len();
        let detail = match self.st.declared_len(data) {
            Some(len) => format!("file ends after {have} of its {len} bytes"),
            None => format!("file ends after {have} bytes"),
        };
        self.st.error(
            Kind::Truncated,
            format!(
                "truncated {what} at byte {offset}{}: {detail}",
                self.st.at()
            ),
        )
    }

    /// A pcapng block whose total length is under the 12 bytes of its own
    /// type and two length fields, or not a multiple of 4, is malformed,
    /// and no later block can be found after it. Caught before
    /// `pcap_parser` sees it: some of its block parsers subtract 12 from
    /// the length unchecked, and a length between multiples of 4 made it
    /// skip or refuse the block depending on how much of the file was
    /// buffered.
    fn bad_ng_length(&self, offset: u64) -> Option<CaptureError> {
        let data = self.reader.data();
        self.st.ng_block_type(data)?;
        let len = self.st.declared_len(data)?;
        let why = if len < 12 {
            format!("its length {len} is under the 12-byte minimum")
        } else if len % 4 != 0 {
            format!("its length {len} is not a multiple of 4")
        } else {
            return None;
        };
        let what = self.st.what(data);
        Some(self.st.error(
            Kind::Malformed,
            format!("malformed {what} at byte {offset}{}: {why}", self.st.at()),
        ))
    }

    /// Makes more input available after an `Incomplete` parse of the record
    /// at `offset`, growing the buffer within [`MAX_BUFFER`] when the record
    /// needs it.
    fn fill(&mut self, offset: u64) -> Result<(), CaptureError> {
        let data = self.reader.data();
        let have = data.len();
        if let Some(len) = self.st.declared_len(data) {
            let what = self.st.what(data);
            if len > MAX_BUFFER as u64 {
                return Err(self.st.error(
                    Kind::TooLarge,
                    format!(
                        "{what} at byte {offset}{} claims {len} bytes, more than the {} MiB limit",
                        self.st.at(),
                        MAX_BUFFER >> 20
                    ),
                ));
            }
            if have as u64 >= len {
                // Complete, yet the parser wants more. A block that carries
                // no packets and no decoding state is skipped, as when the
                // parser refuses it outright (which it does or not
                // depending on how much follows it in the buffer).
                if len >= 12 && self.st.skippable_ng(data) {
                    self.reader.consume_noshift(len as usize);
                    return Ok(());
                }
                // Otherwise its contents overrun its own length (e.g. an
                // EPB whose capture length exceeds the block).
                return Err(self.st.error(
                    Kind::Malformed,
                    format!(
                        "malformed {what} at byte {offset}{}: contents overrun its {len}-byte length",
                        self.st.at()
                    ),
                ));
            }
            let len = len as usize;
            if len > self.capacity {
                let new = len
                    .next_power_of_two()
                    .max(self.capacity.saturating_mul(2))
                    .min(MAX_BUFFER);
                self.grow(new, offset)?;
            }
        }
        if self.reader.refill().is_err() {
            return Err(self.read_error(offset));
        }
        if self.reader.data().len() == have && !self.reader.reader_exhausted() {
            // The buffer is full and the parser still wants more. Not
            // expected once the declared length fits, but never loop.
            if self.capacity >= MAX_BUFFER {
                let what = self.st.what(self.reader.data());
                return Err(self.st.error(
                    Kind::TooLarge,
                    format!(
                        "{what} at byte {offset}{} does not fit in {} MiB",
                        self.st.at(),
                        MAX_BUFFER >> 20
                    ),
                ));
            }
            let new = self.capacity.saturating_mul(2).min(MAX_BUFFER);
            self.grow(new, offset)?;
        }
        Ok(())
    }

    fn grow(&mut self, new: usize, offset: u64) -> Result<(), CaptureError> {
        if new > self.capacity {
            if !self.reader.grow(new) {
                return Err(self.st.error(
                    Kind::TooLarge,
                    format!("cannot grow the read buffer to {new} bytes at byte {offset}"),
                ));
            }
            self.capacity = new;
        }
        Ok(())
    }

    fn read_error(&self, offset: u64) -> CaptureError {
        let cause = match self.io_err.lock() {
            Ok(mut g) => g.take().map(|e| e.to_string()),
            Err(_) => None,
        }
        .unwrap_or_else(|| "unknown I/O error".to_string());
        self.st.error(
            Kind::Io,
            format!("read error at byte {offset}{}: {cause}", self.st.at()),
        )
    }

    /// Leaves the shared blocks for the streaming reader. It goes on from
    /// where they stopped; failing that, the one that has read nothing yet
    /// skips the packets already returned. `Err(None)`: its input ended
    /// before them (the file changed); `Err(Some)`: it failed before them.
    fn fall_back(&mut self) -> Result<(), Option<CaptureError>> {
        if let Some((r, _)) = self.fast.take() {
            if self.resume_at(r.resume_at()).is_some() {
                return Ok(());
            }
        }
        let returned = std::mem::take(&mut self.st.frames);
        while self.st.frames < returned {
            match self.advance() {
                Ok(Some(_)) => {}
                Ok(None) => return Err(None),
                Err(e) => return Err(Some(e)),
            }
        }
        Ok(())
    }

    /// Replaces the streaming reader, which has read nothing, by one that
    /// reads the file's header and then the file from byte `at`, a
    /// record's start.
    fn resume_at(&mut self, at: u64) -> Option<()> {
        let (path, size) = (self.path.as_ref()?, self.size?);
        let mut file = std::fs::File::open(path).ok()?;
        let mut header = [0u8; PCAP_HEADER_LEN];
        file.read_exact_at(&mut header, 0).ok()?;
        let base = at.checked_sub(PCAP_HEADER_LEN as u64)?;
        file.seek(io::SeekFrom::Start(at)).ok()?;
        let rest = Cursor::new(header).chain(file.take(size.checked_sub(at)?));
        let src = FileSource::from_reader(&self.st.name, Box::new(rest)).ok()?;
        self.reader = src.reader;
        self.capacity = src.capacity;
        self.io_err = src.io_err;
        self.base = base;
        self.held = 0;
        Some(())
    }
}

impl Source for FileSource {
    fn progress(&self) -> Option<(u64, Option<u64>)> {
        if let Some((r, _)) = &self.fast {
            return Some((r.consumed(), self.size));
        }
        Some((self.base + self.reader.consumed() as u64, self.size))
    }

    fn reopen(&self) -> Option<Box<dyn Source + Send>> {
        self.open_again()
            .map(|s| Box::new(s) as Box<dyn Source + Send>)
    }

    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        match self.fast.as_mut().map(|(r, _)| r.next()) {
            Some(blocks::Step::Packet(ts, orig_len)) => {
                self.st.frames += 1;
                let (data, link) = match &self.fast {
                    Some((r, link)) => (r.data(), *link),
                    None => (&[][..], LinkType::ETHERNET),
                };
                return Ok(Some(Packet {
                    num: self.st.frames,
                    ts,
                    link,
                    data,
                    orig_len,
                }));
            }
            Some(blocks::Step::End) => {
                self.done = true;
                return Ok(None);
            }
            Some(blocks::Step::Fallback) => {
                if let Err(e) = self.fall_back() {
                    self.done = true;
                    return e.map_or(Ok(None), Err);
                }
            }
            None => {}
        }
        match self.advance() {
            Ok(Some(meta)) => Ok(Some(Packet {
                num: self.st.frames,
                ts: meta.ts,
                link: meta.link,
                data: match meta.span {
                    Some(span) => self.reader.data().get(span).unwrap_or_default(),
                    None => &self.st.pkt_buf,
                },
                orig_len: meta.orig_len,
            })),
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }
}

impl State {
    fn error(&self, kind: Kind, detail: String) -> CaptureError {
        CaptureError::new(kind, &self.name, detail)
    }

    /// Where we are, for messages: " (frame N)" for the next frame.
    fn at(&self) -> String {
        format!(" (frame {})", self.frames + 1)
    }

    /// Handles one parsed block. Returns the packet's metadata (where its
    /// bytes are: [`State::packet`]) for packet blocks, `None` for the
    /// others.
    fn on_block(
        &mut self,
        block: PcapBlockOwned<'_>,
        offset: u64,
        window: Window,
    ) -> Result<Option<Meta>, CaptureError> {
        match block {
            PcapBlockOwned::LegacyHeader(h) => {
                self.format = Format::pcap(&h);
                Ok(None)
            }
            PcapBlockOwned::Legacy(b) => {
                let (nano, link) = match self.format {
                    Format::Pcap { nano, link, .. } => (nano, link),
                    Format::PcapNg { .. } => (false, LinkType::ETHERNET),
                };
                let ts = Timestamp::legacy(b.ts_sec, b.ts_usec, nano);
                Ok(Some(self.packet(ts, link, b.data, b.origlen, window)))
            }
            PcapBlockOwned::NG(block) => self.on_ng_block(block, offset, window),
        }
    }

    fn on_ng_block(
        &mut self,
        block: Block<'_>,
        offset: u64,
        window: Window,
    ) -> Result<Option<Meta>, CaptureError> {
        let Format::PcapNg { big_endian, ifaces } = &mut self.format else {
            return Ok(None);
        };
        match block {
            Block::SectionHeader(shb) => {
                // A new section: interfaces are numbered afresh.
                *big_endian = shb.big_endian();
                ifaces.clear();
                Ok(None)
            }
            Block::InterfaceDescription(idb) => {
                let iface = Iface::from_idb(&idb, *big_endian).ok_or_else(|| {
                    CaptureError::new(
                        Kind::Malformed,
                        &self.name,
                        format!(
                            "interface description block at byte {offset} has an unsupported if_tsresol 0x{:02x}",
                            idb.if_tsresol
                        ),
                    )
                })?;
                ifaces.push(iface);
                Ok(None)
            }
            Block::EnhancedPacket(epb) => {
                let n = ifaces.len();
                let Some(iface) = ifaces.get(epb.if_id as usize) else {
                    return Err(self.error(
                        Kind::Malformed,
                        format!(
                            "enhanced packet block at byte {offset}{} names interface {} but the section defines {n}",
                            self.at(),
                            epb.if_id
                        ),
                    ));
                };
                let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let ts = iface.timestamp(raw);
                let link = iface.link;
                Ok(Some(self.packet(
                    ts,
                    link,
                    epb.packet_data(),
                    epb.origlen,
                    window,
                )))
            }
            Block::SimplePacket(spb) => {
                let Some(iface) = ifaces.first() else {
                    return Err(self.error(
                        Kind::Malformed,
                        format!(
                            "simple packet block at byte {offset}{} but the section defines no interface",
                            self.at()
                        ),
                    ));
                };
                // Captured length = min(original length, snap length, block data).
                let mut data = spb.packet_data();
                if iface.snaplen > 0 {
                    data = data.get(..iface.snaplen as usize).unwrap_or(data);
                }
                let link = iface.link;
                let precise = iface.units_per_sec > 1_000_000;
                // SPBs carry no timestamp: reuse the previous packet's.
                let ts = Timestamp {
                    nano: precise,
                    ..self.last_ts
                };
                Ok(Some(self.packet(ts, link, data, spb.origlen, window)))
            }
            // Name resolution, statistics, secrets, custom and unknown
            // blocks carry nothing we need.
            _ => Ok(None),
        }
    }

    /// Counts a packet and says where its bytes are: in the reader's
    /// buffer (`window`), as every block parser returns them, else (should
    /// one ever return a copy) copied into the reused buffer.
    fn packet(
        &mut self,
        ts: Timestamp,
        link: LinkType,
        data: &[u8],
        orig_len: u32,
        window: Window,
    ) -> Meta {
        self.frames += 1;
        self.last_ts = ts;
        let span = window.span(data);
        if span.is_none() {
            self.pkt_buf.clear();
            self.pkt_buf.extend_from_slice(data);
        }
        let caplen = u32::try_from(data.len()).unwrap_or(u32::MAX);
        Meta {
            ts,
            link,
            orig_len: orig_len.max(caplen),
            span,
        }
    }

    /// Total length (header included) that the record starting at `data`
    /// declares, or `None` if its length field is not buffered yet.
    fn declared_len(&self, data: &[u8]) -> Option<u64> {
        match &self.format {
            Format::Pcap {
                big_endian,
                rec_hdr_len,
                ..
            } => {
                let caplen = *data.get(8..)?.first_chunk::<4>()?;
                if (data.len() as u64) < *rec_hdr_len {
                    return None;
                }
                let caplen = read_u32(caplen, *big_endian);
                Some(rec_hdr_len + u64::from(caplen))
            }
            Format::PcapNg { big_endian, .. } => {
                let ty = self.ng_block_type(data)?;
                let l = *data.get(4..)?.first_chunk::<4>()?;
                let big_endian = if ty == SHB_MAGIC {
                    // A new section may switch byte order: ask its BOM.
                    match data.get(8..12)? {
                        b if b == NG_BOM_BE => true,
                        b if b == NG_BOM_LE => false,
                        _ => *big_endian,
                    }
                } else {
                    *big_endian
                };
                Some(u64::from(read_u32(l, big_endian)))
            }
        }
    }

    /// Block type of the pcapng block starting at `data`, in native terms.
    fn ng_block_type(&self, data: &[u8]) -> Option<u32> {
        let Format::PcapNg { big_endian, .. } = self.format else {
            return None;
        };
        Some(read_u32(*data.first_chunk::<4>()?, big_endian))
    }

    /// Whether the record starting at `data` is a pcapng block that
    /// carries no packets and no decoding state (anything but a section
    /// header, interface description, enhanced or simple packet block).
    fn skippable_ng(&self, data: &[u8]) -> bool {
        self.ng_block_type(data)
            .is_some_and(|ty| ![SHB_MAGIC, IDB_MAGIC, EPB_MAGIC, SPB_MAGIC].contains(&ty))
    }

    /// Names the record starting at `data`, for messages.
    fn what(&self, data: &[u8]) -> String {
        match self.ng_block_type(data) {
            None => "packet record".to_string(),
            Some(SHB_MAGIC) => "pcapng section header block".to_string(),
            Some(IDB_MAGIC) => "pcapng interface description block".to_string(),
            Some(EPB_MAGIC) => "pcapng enhanced packet block".to_string(),
            Some(SPB_MAGIC) => "pcapng simple packet block".to_string(),
            Some(t) => format!("pcapng block of type 0x{t:08x}"),
        }
    }
}

/// Reads until `buf` holds `want` bytes or the input ends.
fn read_up_to(r: &mut impl Read, buf: &mut Vec<u8>, want: usize) -> io::Result<()> {
    if buf.len() >= want {
        return Ok(());
    }
    let need = (want - buf.len()) as u64;
    r.by_ref().take(need).read_to_end(buf)?;
    Ok(())
}

/// Retries interrupted reads and remembers the last I/O error, which
/// `pcap_parser` would otherwise reduce to "read error".
struct ErrorKeepingReader {
    inner: Box<dyn Read + Send>,
    last_err: Arc<Mutex<Option<io::Error>>>,
}

impl Read for ErrorKeepingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let copy = io::Error::new(e.kind(), e.to_string());
                    if let Ok(mut g) = self.last_err.lock() {
                        *g = Some(copy);
                    }
                    return Err(e);
                }
                ok => return ok,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(bytes: Vec<u8>) -> Result<FileSource, CaptureError> {
        FileSource::from_reader("t.pcap", Box::new(Cursor::new(bytes)))
    }

    fn pcap_header(magic: u32, big_endian: bool, link: u32) -> Vec<u8> {
        let mut v = Vec::new();
        let put32 = |v: &mut Vec<u8>, x: u32| {
            v.extend_from_slice(&if big_endian {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            })
        };
        put32(&mut v, magic);
        v.extend_from_slice(&if big_endian {
            [0, 2, 0, 4]
        } else {
            [2, 0, 4, 0]
        });
        put32(&mut v, 0);
        put32(&mut v, 0);
        put32(&mut v, 65535);
        put32(&mut v, link);
        v
    }

    fn record(v: &mut Vec<u8>, secs: u32, frac: u32, data: &[u8]) {
        for x in [secs, frac, data.len() as u32, data.len() as u32] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.extend_from_slice(data);
    }

    /// Every packet a source gives, then its end or fault, as lines.
    fn lines(s: &mut dyn Source) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            match s.next_packet() {
                Ok(Some(p)) => {
                    // The bytes by length and FNV-1a hash: a failure
                    // stays readable.
                    let hash = p.data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
                        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                    });
                    out.push(format!(
                        "{} {} {} {} {} bytes {hash:016x}",
                        p.num,
                        p.ts,
                        p.link,
                        p.orig_len,
                        p.data.len()
                    ))
                }
                Ok(None) => break,
                Err(e) => {
                    out.push(e.to_string());
                    break;
                }
            }
        }
        // Nothing after the end or the fault.
        assert!(matches!(s.next_packet(), Ok(None)));
        out
    }

    #[test]
    fn shared_blocks_read_what_the_stream_reads() {
        // Over 256 KiB blocks, in both byte orders and precisions: records
        // straddle blocks.
        for (magic, big_endian) in [(0xa1b2_c3d4, false), (0xa1b2_3c4d, true)] {
            let mut bytes = pcap_header(magic, big_endian, 1);
            let mut i = 0u32;
            while bytes.len() < 700_000 {
                let data = vec![i as u8; (i * 7919 % 1500) as usize];
                let mut r = Vec::new();
                record(&mut r, i, i % 1_000_000, &data);
                if big_endian {
                    for w in r.get_mut(..16).unwrap().chunks_mut(4) {
                        w.reverse();
                    }
                }
                bytes.extend_from_slice(&r);
                i += 1;
            }
            let n = bytes.len();
            let mut cuts = vec![n, 24, 25, 40, n - 1, n - 17, n - 16];
            for b in [1usize << 18, 2 << 18] {
                cuts.extend([b - 17, b - 16, b - 3, b, b + 1, b + 9, b + 15, b + 16]);
            }
            cuts.extend((1..40).map(|k| k * 17_389));
            for cut in cuts {
                let bytes = bytes.get(..cut).unwrap();
                let t = super::super::blocks::TempFile::new(bytes);
                let name = t.0.display().to_string();
                let mut classic =
                    FileSource::from_reader(&name, Box::new(Cursor::new(bytes.to_vec()))).unwrap();
                let want = lines(&mut classic);
                let mut fast = FileSource::open(&t.0).unwrap();
                assert!(fast.fast.is_some());
                let mut shared = fast.reopen().unwrap();
                assert_eq!(lines(&mut fast), want, "cut {cut}");
                assert_eq!(lines(&mut *shared), want, "cut {cut} (shared)");
            }
        }
    }

    #[test]
    fn shared_blocks_leave_faults_to_the_stream() {
        // A record over the limit, after one packet.
        let mut bytes = pcap_header(0xa1b2_c3d4, false, 1);
        record(&mut bytes, 1, 0, &[1, 2, 3]);
        for x in [2u32, 0, MAX_BUFFER as u32, MAX_BUFFER as u32] {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
        bytes.resize(bytes.len() + MAX_BUFFER, 0);
        let t = super::super::blocks::TempFile::new(&bytes);
        let name = t.0.display().to_string();
        let mut classic = FileSource::from_reader(&name, Box::new(Cursor::new(bytes))).unwrap();
        let want = lines(&mut classic);
        assert_eq!(want.len(), 2);
        assert!(want[1].contains("more than the 16 MiB limit"), "{want:?}");
        assert_eq!(lines(&mut FileSource::open(&t.0).unwrap()), want);

        // The file ends in a record whose header straddles the first
        // block's end: the stream goes on at that record's start.
        let mut bytes = pcap_header(0xa1b2_c3d4, false, 1);
        let first = (1 << 18) - 5 - PCAP_HEADER_LEN - 16;
        record(&mut bytes, 1, 0, &vec![7; first]);
        record(&mut bytes, 2, 0, &[9; 100]);
        bytes.truncate((1 << 18) + 20);
        let t = super::super::blocks::TempFile::new(&bytes);
        let name = t.0.display().to_string();
        let mut classic = FileSource::from_reader(&name, Box::new(Cursor::new(bytes))).unwrap();
        let want = lines(&mut classic);
        assert!(want[1].contains("at byte 262139 (frame 2)"), "{want:?}");
        assert_eq!(lines(&mut FileSource::open(&t.0).unwrap()), want);
    }

    #[test]
    fn legacy_ts_normalises_fraction() {
        let t = Timestamp::legacy(10, 2_500_000, false);
        assert_eq!((t.secs, t.nanos, t.nano), (12, 500_000_000, false));
        let t = Timestamp::legacy(u32::MAX, u32::MAX, true);
        assert_eq!(t.secs, i64::from(u32::MAX) + 4);
        assert!(t.nanos < 1_000_000_000);
    }

    #[test]
    fn iface_resolutions() {
        let mk = |units_per_sec| Iface {
            link: LinkType::ETHERNET,
            snaplen: 0,
            units_per_sec,
            offset_secs: 5,
        };
        let t = mk(1_000_000).timestamp(3_000_042);
        assert_eq!((t.secs, t.nanos, t.nano), (8, 42_000, false));
        let t = mk(1_000_000_000).timestamp(3_000_000_042);
        assert_eq!((t.secs, t.nanos, t.nano), (8, 42, true));
        let t = mk(1 << 10).timestamp(3 * 1024 + 512);
        assert_eq!((t.secs, t.nanos, t.nano), (8, 500_000_000, false));
        let t = mk(1).timestamp(u64::MAX);
        assert_eq!(t.secs, i64::MAX);
    }

    #[test]
    fn header_only_file_is_empty_capture() {
        let mut s = src(pcap_header(0xa1b2_c3d4, false, 1)).unwrap();
        assert!(s.next_packet().unwrap().is_none());
        assert!(s.next_packet().unwrap().is_none());
    }

    #[test]
    fn big_record_grows_buffer() {
        let mut f = pcap_header(0xa1b2_c3d4, false, 1);
        let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        record(&mut f, 1, 2, b"abc");
        record(&mut f, 3, 4, &big);
        record(&mut f, 5, 6, b"xyz");
        let mut s = src(f).unwrap();
        assert_eq!(s.next_packet().unwrap().unwrap().data, b"abc");
        let p = s.next_packet().unwrap().unwrap();
        assert_eq!(p.data, &big[..]);
        assert_eq!(p.num, 2);
        assert_eq!(s.next_packet().unwrap().unwrap().data, b"xyz");
        assert!(s.next_packet().unwrap().is_none());
        assert!(s.capacity <= 512 * 1024);
    }

    #[test]
    fn random_tails_never_panic() {
        // A cheap deterministic fuzz: valid headers followed by noise.
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..300u32 {
            let mut f = if round.is_multiple_of(2) {
                pcap_header(0xa1b2_c3d4, false, 1)
            } else {
                let mut v = vec![0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0];
                v.extend_from_slice(&NG_BOM_LE);
                v.extend_from_slice(&[1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
                v.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 28, 0, 0, 0]);
                v
            };
            let n = (next() % 400) as usize;
            f.extend((0..n).map(|_| (next() % 7) as u8 * 40));
            let mut s = src(f).unwrap();
            for _ in 0..1000 {
                match s.next_packet() {
                    Ok(Some(p)) => assert!(p.orig_len as usize >= p.data.len()),
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }

    #[test]
    fn a_pcapng_block_shorter_than_its_header_is_malformed() {
        // Found by the `capture` fuzz target: a Process Information Block
        // declaring 11 bytes made pcap_parser subtract past zero.
        let bytes = include_bytes!("../../fuzz/corpus/capture/crash-pcapng-pib-short-length");
        let mut s = src(bytes.to_vec()).unwrap();
        let e = loop {
            match s.next_packet() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("the short block was not reported"),
                Err(e) => break e,
            }
        };
        let text = e.to_string();
        assert!(
            text.contains("pcapng block of type 0x80000001 at byte 48")
                && text.contains("its length 11 is under the 12-byte minimum"),
            "{text}"
        );
    }

    #[test]
    fn a_pcapng_block_length_between_multiples_of_4_is_malformed() {
        // Found by the `capture` fuzz target: a block declaring 17 bytes
        // was skipped when the whole file was buffered and refused when
        // read in small pieces.
        let bytes =
            include_bytes!("../../fuzz/corpus/capture/crash-pcapng-unparsable-block-trickled");
        let mut s = src(bytes.to_vec()).unwrap();
        let Err(e) = s.next_packet() else {
            panic!("the block was not reported");
        };
        let text = e.to_string();
        assert!(
            text.contains("pcapng block of type 0x0000000a at byte 48")
                && text.contains("its length 17 is not a multiple of 4"),
            "{text}"
        );
    }
}
