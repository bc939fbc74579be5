//! `--format ek`: Elasticsearch/OpenSearch bulk lines, like tshark's
//! `-T ek`. For every message two lines: the action
//! `{"index":{"_index":"qscope-YYYY.MM.DD"}}` (the message's UTC day) and
//! the document: the message record of the export (`record.rs`) with
//! `@timestamp` and the session's `client`, `server`, `session_start` and
//! `mid_stream` flattened into it. Other records (session, gap, undecoded,
//! session_end, summary) are not written: a bulk file holds documents only.

use std::io::{self, Write};

use super::encode::{push_message_members, push_str, push_ts};
use super::json::CHUNK;
use crate::record::{Flow, Record, Sink, Summary};

/// Writes bulk action/document line pairs, one pair per message.
pub struct EkWriter<W: Write> {
    out: W,
    /// The two lines being written (the record is serialised straight
    /// into it, after the action and the added members).
    buf: Vec<u8>,
    /// The message's timestamp as a JSON string.
    ts: Vec<u8>,
    /// A socket address as text.
    addr: Vec<u8>,
    /// Flush after every message (live capture).
    pub flush_each: bool,
}

impl<W: Write> EkWriter<W> {
    pub fn new(out: W) -> Self {
        EkWriter {
            out,
            buf: Vec::with_capacity(CHUNK),
            ts: Vec::new(),
            addr: Vec::new(),
            flush_each: false,
        }
    }

    /// Hands the serialised lines to `out`.
    fn drain(&mut self) -> io::Result<()> {
        let r = self.out.write_all(&self.buf);
        self.buf.clear();
        if self.buf.capacity() > 4 * CHUNK {
            self.buf = Vec::with_capacity(CHUNK);
        }
        r
    }

    /// Appends `addr` as a JSON string.
    fn push_addr(&mut self, addr: &std::net::SocketAddr) {
        self.addr.clear();
        let _ = write!(self.addr, "{addr}");
        push_str(
            &mut self.buf,
            std::str::from_utf8(&self.addr).unwrap_or_default(),
        );
    }
}

impl<W: Write> Sink for EkWriter<W> {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
        let Record::Message(m) = rec else {
            return Ok(Flow::Continue);
        };
        // The index is named after the UTC day: the timestamp's first ten
        // characters with '.' for '-'.
        self.ts.clear();
        push_ts(&mut self.ts, &m.ts);
        let text = self.ts.get(1..self.ts.len().saturating_sub(1));
        let day = text.and_then(|t| t.get(..10)).unwrap_or(b"1970-01-01");
        self.buf
            .extend_from_slice(b"{\"index\":{\"_index\":\"qscope-");
        self.buf
            .extend(day.iter().map(|&c| if c == b'-' { b'.' } else { c }));
        self.buf.extend_from_slice(b"\"}}\n{\"@timestamp\":");
        self.buf.extend_from_slice(&self.ts);
        self.buf.extend_from_slice(b",\"client\":");
        self.push_addr(&m.session.client);
        self.buf.extend_from_slice(b",\"server\":");
        self.push_addr(&m.session.server);
        self.buf.extend_from_slice(b",\"session_start\":");
        push_ts(&mut self.buf, &m.session.start);
        self.buf.extend_from_slice(if m.session.mid_stream {
            b",\"mid_stream\":true,"
        } else {
            b",\"mid_stream\":false,"
        });
        push_message_members(&mut self.buf, m);
        self.buf.push(b'\n');
        self.drain()?;
        if self.flush_each {
            self.out.flush()?;
        }
        Ok(Flow::Continue)
    }

    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        self.out.flush()
    }
}
