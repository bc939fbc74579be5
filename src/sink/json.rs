//! The JSON exporters: JSON Lines (streamed, one record per line) and one
//! JSON document grouped by session (held in memory until the end).

use std::collections::HashMap;
use std::io::{self, Write};

use super::encode::{push_record, push_summary};
use crate::record::{Flow, Record, Sink, Summary};

/// Room kept for serialising records (a huge record's is given back).
pub(crate) const CHUNK: usize = 1 << 16;

/// Writes one JSON object per line, as the analysis learns of it.
pub struct JsonlWriter<W: Write> {
    out: W,
    /// The record being written.
    buf: Vec<u8>,
    /// Flush after every message (live capture piped into `jq`).
    pub flush_each: bool,
}

impl<W: Write> JsonlWriter<W> {
    pub fn new(out: W) -> Self {
        JsonlWriter {
            out,
            buf: Vec::with_capacity(CHUNK),
            flush_each: false,
        }
    }

    /// Hands the serialised record to `out`.
    fn drain(&mut self) -> io::Result<()> {
        let r = self.out.write_all(&self.buf);
        self.buf.clear();
        // A huge record's room is not kept.
        if self.buf.capacity() > 4 * CHUNK {
            self.buf = Vec::with_capacity(CHUNK);
        }
        r
    }
}

impl<W: Write> Sink for JsonlWriter<W> {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
        if let Record::Attr(_) = rec {
            // Not exported: `session_end` lists the attributes.
            return Ok(Flow::Continue);
        }
        push_record(&mut self.buf, rec);
        self.buf.push(b'\n');
        self.drain()?;
        if self.flush_each {
            self.out.flush()?;
        }
        Ok(Flow::Continue)
    }
    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        push_summary(&mut self.buf, summary);
        self.buf.push(b'\n');
        self.drain()?;
        self.out.flush()
    }
}

#[derive(Default)]
struct Group {
    session: Vec<u8>,
    messages: Vec<u8>,
    gaps: Vec<u8>,
    undecoded: Vec<u8>,
    end: Vec<u8>,
}

/// An open JSON array: the collected items, or `[` when there are none.
fn list(v: &[u8]) -> &[u8] {
    if v.is_empty() {
        b"["
    } else {
        v
    }
}

fn append(list: &mut Vec<u8>, rec: &Record<'_>) {
    list.push(if list.is_empty() { b'[' } else { b',' });
    push_record(list, rec);
}

/// Writes one JSON document at the end:
/// `{"format":"qscope","version":1,"sessions":[{"session":{..},"messages":[..],
/// "gaps":[..],"undecoded":[..],"end":{..}}],"summary":{..}}`.
pub struct JsonDocWriter<W: Write> {
    out: W,
    order: Vec<String>,
    groups: HashMap<String, Group>,
}

impl<W: Write> JsonDocWriter<W> {
    pub fn new(out: W) -> Self {
        JsonDocWriter {
            out,
            order: Vec::new(),
            groups: HashMap::new(),
        }
    }
}

impl<W: Write> Sink for JsonDocWriter<W> {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
        if let Record::Bytes(_) | Record::Attr(_) = rec {
            // Not part of the document.
            return Ok(Flow::Continue);
        }
        let id = &rec.session().id;
        if !self.groups.contains_key(id) {
            self.order.push(id.clone());
        }
        let g = self.groups.entry(id.clone()).or_default();
        match rec {
            Record::Session(_) => push_record(&mut g.session, rec),
            Record::Message(_) => append(&mut g.messages, rec),
            Record::Gap(_) => append(&mut g.gaps, rec),
            Record::Undecoded(_) => append(&mut g.undecoded, rec),
            Record::SessionEnd(_) => push_record(&mut g.end, rec),
            Record::Bytes(_) | Record::Attr(_) => {}
        }
        Ok(Flow::Continue)
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        let w = &mut self.out;
        w.write_all(b"{\"format\":\"qscope\",\"version\":1,\"sessions\":[")?;
        for (i, id) in self.order.iter().enumerate() {
            let Some(g) = self.groups.get(id) else {
                continue;
            };
            if i > 0 {
                w.write_all(b",")?;
            }
            w.write_all(b"\n{\"session\":")?;
            w.write_all(if g.session.is_empty() {
                b"null"
            } else {
                &g.session
            })?;
            w.write_all(b",\"messages\":")?;
            w.write_all(list(&g.messages))?;
            w.write_all(b"],\"gaps\":")?;
            w.write_all(list(&g.gaps))?;
            w.write_all(b"],\"undecoded\":")?;
            w.write_all(list(&g.undecoded))?;
            w.write_all(b"],\"end\":")?;
            w.write_all(if g.end.is_empty() { b"null" } else { &g.end })?;
            w.write_all(b"}")?;
        }
        let mut buf = Vec::new();
        push_summary(&mut buf, summary);
        w.write_all(b"],\n\"summary\":")?;
        w.write_all(&buf)?;
        w.write_all(b"}\n")?;
        w.flush()
    }
}
