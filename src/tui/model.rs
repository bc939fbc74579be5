//! What the analysis taught: the [`Model`] every view reads (the index of
//! rows, the sessions, the expert notes, progress), fed by the analysis
//! thread's batches ([`Model::ingest`]).

use qscope_dissectors::{Kind, Note, Severity};

use super::feed::{micros, Batch, Done, NoteEntry, Progress};
use super::index::{Index, Row, RowKind};
use super::jobs::SessionKey;
use crate::record::{SessionInfo, STATE_ATTR};

/// A session and what the timeline taught about it.
#[derive(Debug, Clone)]
pub struct SessionEntry {
    pub info: SessionInfo,
    /// Row id of its `Open` row: no row of the session comes before.
    pub first_row: usize,
    /// Row id of its `End` row (`usize::MAX` while it is open).
    pub end_row: usize,
    pub messages: u64,
    pub requests: u64,
    pub errors: u64,
    pub warnings: u64,
    pub first_us: i64,
    pub last_us: i64,
    pub end_us: Option<i64>,
    /// Requests not answered yet.
    pub pending: u64,
    /// The dissector's attributes (escaped), as they changed; at the end,
    /// those of the session's end.
    pub attrs: Vec<(&'static str, String)>,
    pub notes: Vec<Note>,
}

impl SessionEntry {
    fn new(info: SessionInfo) -> SessionEntry {
        let us = micros(info.start);
        SessionEntry {
            info,
            first_row: usize::MAX,
            end_row: usize::MAX,
            messages: 0,
            requests: 0,
            errors: 0,
            warnings: 0,
            first_us: us,
            last_us: us,
            end_us: None,
            pending: 0,
            attrs: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn duration_us(&self) -> i64 {
        self.end_us.unwrap_or(self.last_us) - self.first_us
    }

    pub fn attr(&self, k: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.as_str())
    }

    fn set_attr(&mut self, key: &'static str, value: String) {
        match self.attrs.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.attrs.push((key, value)),
        }
    }

    /// A short, honest description of where the session is: closed, the
    /// state its dissector reports ("negotiating"), requests awaiting a
    /// reply, or idle; then who is logged in.
    pub fn state_label(&self) -> String {
        let mut s = if self.end_us.is_some() {
            "closed".to_string()
        } else if let Some(st) = self.attr(STATE_ATTR).filter(|v| !v.is_empty()) {
            st.to_string()
        } else if self.pending > 0 {
            format!("awaiting {}", self.pending)
        } else {
            "idle".to_string()
        };
        if self.attr("login") == Some("failed") {
            s.push_str(", login failed");
        } else if let Some(a) = self.attr("account") {
            s.push_str(&format!(", account {a}"));
        } else if let Some(u) = self.attr("user") {
            s.push_str(&format!(", user {u}"));
        }
        if let Some(v) = self.attr("variant") {
            s.push_str(&format!(", {v}"));
        }
        s
    }

    pub fn key(&self, ordinal: u32) -> SessionKey {
        SessionKey {
            ordinal,
            id: self.info.id.clone(),
            client: self.info.client,
            server: self.info.server,
            start: self.info.start,
        }
    }

    /// Counts a row of the session.
    fn note_row(&mut self, row: &Row) {
        let s = self;
        s.last_us = s.last_us.max(row.ts_us);
        if row.kind() != RowKind::Message {
            return;
        }
        s.messages += 1;
        if row.is_error() {
            s.errors += 1;
        }
        if row.severity() >= Some(Severity::Warn) {
            s.warnings += 1;
        }
        match row.msg_kind() {
            Kind::Request => {
                s.requests += 1;
                s.pending += 1;
            }
            Kind::Response if row.reply_to().is_some() => {
                s.pending = s.pending.saturating_sub(1);
            }
            _ => {}
        }
    }
}

/// Everything the analysis reported, as the views read it.
#[derive(Debug)]
pub struct Model {
    pub title: String,
    pub live: bool,
    pub index: Index,
    pub sessions: Vec<SessionEntry>,
    pub notes: Vec<NoteEntry>,
    pub notes_dropped: u64,
    pub checkpoints: Vec<(i64, u64)>,
    pub progress: Progress,
    pub done: Option<Done>,
    /// Timestamp (µs) that relative times count from.
    pub t0: Option<i64>,
}

impl Model {
    pub fn new(title: String, live: bool) -> Model {
        Model {
            title,
            live,
            index: Index::default(),
            sessions: Vec::new(),
            notes: Vec::new(),
            notes_dropped: 0,
            checkpoints: Vec::new(),
            progress: Progress::default(),
            done: None,
            t0: None,
        }
    }

    /// The id ("s3") of session `s`, or "".
    pub fn session_id(&self, s: u32) -> &str {
        self.sessions
            .get(s as usize)
            .map_or("", |e| e.info.id.as_str())
    }

    /// "s1 qmp 127.0.0.1:50508 <-> 127.0.0.1:4444", or "".
    pub fn session_title(&self, s: u32) -> String {
        self.sessions.get(s as usize).map_or(String::new(), |e| {
            format!(
                "{} {} {} <-> {}",
                e.info.id, e.info.proto, e.info.client, e.info.server
            )
        })
    }

    /// Adds a batch of the analysis thread; true when it announced
    /// sessions.
    pub fn ingest(&mut self, b: Batch) -> bool {
        for n in &b.names {
            self.index.names.push(n.clone());
        }
        let new_sessions = !b.sessions.is_empty();
        for info in b.sessions.iter() {
            // Relative times count from the capture's first packet, as in
            // every other output.
            self.t0.get_or_insert(micros(info.t0));
            self.sessions.push(SessionEntry::new(info.clone()));
        }
        for (i, row) in b.rows.iter().enumerate() {
            let id = self.index.len();
            if self.t0.is_none() {
                self.t0 = Some(row.ts_us);
            }
            if let Some(s) = self.sessions.get_mut(row.session as usize) {
                s.note_row(row);
                match row.kind() {
                    RowKind::Open => s.first_row = id,
                    RowKind::End => s.end_row = id,
                    _ => {}
                }
            }
            self.index.push(*row, b.text(i));
        }
        for a in b.attrs {
            if let Some(s) = self.sessions.get_mut(a.session as usize) {
                s.set_attr(a.key, a.value);
            }
        }
        for e in &b.ends {
            if let Some(s) = self.sessions.get_mut(e.session as usize) {
                s.end_us = Some(e.end_us);
                s.attrs = e.attrs.clone();
                s.notes = e.notes.clone();
                s.pending = 0;
            }
        }
        self.notes.extend(b.notes);
        self.notes_dropped += b.notes_dropped;
        self.checkpoints.extend(b.checkpoints);
        self.progress = b.progress;
        if b.done.is_some() {
            self.done = b.done;
        }
        new_sessions
    }
}
