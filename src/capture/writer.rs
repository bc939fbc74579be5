//! Writing packets to classic pcap files (`-w FILE`), optionally as a ring
//! of files capped by size, the form tcpdump, tshark and Wireshark read.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::source::{LinkType, Packet};

/// Writes packets of one link type to a pcap file (microsecond or
/// nanosecond timestamps, little-endian, snap length 262144).
pub struct PcapWriter {
    out: BufWriter<File>,
    base: PathBuf,
    link: LinkType,
    nano: bool,
    /// Rotate to a new file once the current one reaches this many bytes.
    ring_bytes: Option<u64>,
    /// Keep at most this many files in the ring (oldest removed).
    ring_files: usize,
    written: u64,
    /// Number of the current file in the ring (0 = `base` itself).
    seq: usize,
}

impl PcapWriter {
    /// Creates `path` (truncating it).
    pub fn create(path: &Path, link: LinkType, nano: bool) -> io::Result<PcapWriter> {
        let mut w = PcapWriter {
            out: BufWriter::new(File::create(path)?),
            base: path.to_path_buf(),
            link,
            nano,
            ring_bytes: None,
            ring_files: 0,
            written: 0,
            seq: 0,
        };
        w.header()?;
        Ok(w)
    }

    /// Turns the writer into a ring: `FILE`, then `FILE.1`, `FILE.2`, ...
    /// each at most `bytes` long (one packet may exceed it), keeping the
    /// newest `files` files.
    pub fn ring(mut self, bytes: u64, files: usize) -> PcapWriter {
        self.ring_bytes = Some(bytes.max(1024));
        self.ring_files = files.max(1);
        self
    }

    fn path_of(&self, seq: usize) -> PathBuf {
        if seq == 0 {
            self.base.clone()
        } else {
            let mut s = self.base.clone().into_os_string();
            s.push(format!(".{seq}"));
            PathBuf::from(s)
        }
    }

    fn header(&mut self) -> io::Result<()> {
        let magic: u32 = if self.nano { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&magic.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&262_144u32.to_le_bytes());
        h.extend_from_slice(&self.link.0.to_le_bytes());
        self.out.write_all(&h)?;
        self.written = 24;
        Ok(())
    }

    /// Appends one packet. A packet of another link type than the file's is
    /// refused (pcap files have one link type).
    pub fn write(&mut self, pkt: &Packet<'_>) -> io::Result<()> {
        if pkt.link != self.link {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "packet of link type {} in a file of link type {}",
                    pkt.link, self.link
                ),
            ));
        }
        if let Some(limit) = self.ring_bytes {
            if self.written >= limit {
                self.rotate()?;
            }
        }
        let frac = if self.nano {
            pkt.ts.nanos
        } else {
            pkt.ts.nanos / 1000
        };
        let secs = u32::try_from(pkt.ts.secs.max(0)).unwrap_or(u32::MAX);
        let incl = u32::try_from(pkt.data.len()).unwrap_or(u32::MAX);
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&frac.to_le_bytes());
        h[8..12].copy_from_slice(&incl.to_le_bytes());
        h[12..16].copy_from_slice(&pkt.orig_len.max(incl).to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(pkt.data)?;
        self.written += 16 + pkt.data.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.seq += 1;
        if self.seq >= self.ring_files {
            let old = self.path_of(self.seq - self.ring_files);
            match std::fs::remove_file(&old) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        self.out = BufWriter::new(File::create(self.path_of(self.seq))?);
        self.header()
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{FileSource, Source, Timestamp};

    fn pkt(data: &[u8], us: i64) -> Packet<'_> {
        Packet {
            num: 0,
            ts: Timestamp::from_micros(us),
            link: LinkType(1),
            data,
            orig_len: data.len() as u32 + 4,
        }
    }

    #[test]
    fn written_file_reads_back() {
        let dir = std::env::temp_dir().join(format!("qscope-writer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.pcap");
        let mut w = PcapWriter::create(&path, LinkType(1), false).unwrap();
        w.write(&pkt(b"abcdef", 1_500_000)).unwrap();
        w.write(&pkt(b"xyz", 2_000_001)).unwrap();
        assert!(w
            .write(&Packet {
                link: LinkType(101),
                ..pkt(b"a", 0)
            })
            .is_err());
        w.flush().unwrap();
        let mut src = FileSource::open(&path).unwrap();
        let p = src.next_packet().unwrap().unwrap();
        assert_eq!(
            (p.data, p.orig_len, p.ts.micros_since(&Timestamp::default())),
            (&b"abcdef"[..], 10, 1_500_000)
        );
        let p = src.next_packet().unwrap().unwrap();
        assert_eq!(p.data, b"xyz");
        assert!(src.next_packet().unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ring_rotates_and_keeps_the_newest_files() {
        let dir = std::env::temp_dir().join(format!("qscope-ring-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ring.pcap");
        let mut w = PcapWriter::create(&path, LinkType(1), true)
            .unwrap()
            .ring(1024, 2);
        let data = [7u8; 600];
        for i in 0..6 {
            w.write(&pkt(&data, i)).unwrap();
        }
        w.flush().unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        // Two 616-byte records fit before each 1 KiB rotation: six packets
        // make files 0, 1 and 2, of which the newest two are kept.
        assert_eq!(names, ["ring.pcap.1", "ring.pcap.2"]);
        let mut src = FileSource::open(&dir.join("ring.pcap.2")).unwrap();
        assert_eq!(src.next_packet().unwrap().unwrap().data.len(), 600);
        assert_eq!(src.next_packet().unwrap().unwrap().data.len(), 600);
        assert!(src.next_packet().unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
