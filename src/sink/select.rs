//! `-Y EXPR`: a [`Sink`] wrapper that passes on only the messages a display
//! filter selects, for every output (JSONL, JSON, EK, text, statistics,
//! `-w`).
//!
//! * A `session` record is held back and written just before the first
//!   selected message of its session; sessions without a selected message
//!   are not written at all.
//! * `gap`, `undecoded` and `session_end` records of a session are kept
//!   once the session has been written (that is, after its first selected
//!   message), and dropped before that: they give the context of the
//!   selected messages without writing sessions nobody asked for.
//! * The final summary is that of the whole analysis, plus `matched`: the
//!   number of messages the filter selected.

use std::collections::{HashMap, HashSet};
use std::io;

use crate::filter::Filter;
use crate::record::{Flow, Record, SessionInfo, Sink, Summary};

/// Passes on the records of the messages `filter` selects (see the module
/// documentation for the other records).
pub struct Select<'a> {
    inner: &'a mut dyn Sink,
    filter: Filter,
    /// Sessions announced by the engine but not yet written.
    held: HashMap<String, SessionInfo>,
    /// Sessions written (they had a selected message).
    written: HashSet<String>,
    /// Messages selected so far.
    pub matched: u64,
}

impl<'a> Select<'a> {
    pub fn new(inner: &'a mut dyn Sink, filter: Filter) -> Select<'a> {
        Select {
            inner,
            filter,
            held: HashMap::new(),
            written: HashSet::new(),
            matched: 0,
        }
    }
}

impl Sink for Select<'_> {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
        match rec {
            Record::Session(s) => {
                self.held.insert(s.id.clone(), (*s).clone());
                Ok(Flow::Continue)
            }
            Record::Message(m) => {
                if !self.filter.matches(m) {
                    return Ok(Flow::Continue);
                }
                self.matched += 1;
                if let Some(info) = self.held.remove(&m.session.id) {
                    self.written.insert(info.id.clone());
                    if self.inner.record(&Record::Session(&info))?.is_stop() {
                        return Ok(Flow::Stop);
                    }
                }
                self.inner.record(rec)
            }
            Record::Gap(_) | Record::Undecoded(_) | Record::Bytes(_) | Record::Attr(_) => {
                if self.written.contains(&rec.session().id) {
                    return self.inner.record(rec);
                }
                Ok(Flow::Continue)
            }
            Record::SessionEnd(e) => {
                self.held.remove(&e.session.id);
                if self.written.remove(&e.session.id) {
                    return self.inner.record(rec);
                }
                Ok(Flow::Continue)
            }
        }
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        let mut s = summary.clone();
        s.matched = Some(self.matched);
        self.inner.finish(&s)
    }
}
