//! `--format ek`: Elasticsearch/OpenSearch bulk lines, like tshark's
//! `-T ek`. For every message two lines: the action
//! `{"index":{"_index":"qscope-YYYY.MM.DD"}}` (the message's UTC day) and
//! the document: the message record of the export (`record.rs`) with
//! `@timestamp` and the session's `client`, `server`, `session_start` and
//! `mid_stream` flattened into it. Other records (session, gap, undecoded,
//! session_end, summary) are not written: a bulk file holds documents only.

use std::io::{self, Write};

use super::encode::{push_record, push_str, push_ts};
use crate::record::{Flow, Record, Sink, Summary};

/// Writes bulk action/document line pairs, one pair per message.
pub struct EkWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    rec: Vec<u8>,
    /// Flush after every message (live capture).
    pub flush_each: bool,
}

impl<W: Write> EkWriter<W> {
    pub fn new(out: W) -> Self {
        EkWriter {
            out,
            buf: Vec::with_capacity(4096),
            rec: Vec::with_capacity(4096),
            flush_each: false,
        }
    }
}

impl<W: Write> Sink for EkWriter<W> {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
        let Record::Message(m) = rec else {
            return Ok(Flow::Continue);
        };
        let ts = m.ts.rfc3339();
        let day = ts.get(..10).unwrap_or("1970-01-01").replace('-', ".");
        self.buf.clear();
        self.buf.extend_from_slice(b"{\"index\":{\"_index\":");
        push_str(&mut self.buf, &format!("qscope-{day}"));
        self.buf.extend_from_slice(b"}}\n{\"@timestamp\":");
        push_str(&mut self.buf, &ts);
        self.buf.extend_from_slice(b",\"client\":");
        push_str(&mut self.buf, &m.session.client.to_string());
        self.buf.extend_from_slice(b",\"server\":");
        push_str(&mut self.buf, &m.session.server.to_string());
        self.buf.extend_from_slice(b",\"session_start\":");
        push_ts(&mut self.buf, &m.session.start);
        let _ = write!(self.buf, ",\"mid_stream\":{},", m.session.mid_stream);
        self.rec.clear();
        push_record(&mut self.rec, rec);
        // The message object without its opening brace.
        self.buf
            .extend_from_slice(self.rec.get(1..).unwrap_or(b"}"));
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)?;
        if self.flush_each {
            self.out.flush()?;
        }
        Ok(Flow::Continue)
    }

    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        self.out.flush()
    }
}
