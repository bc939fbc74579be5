//! Counters and latency statistics, gathered as a [`Sink`]: the
//! per-protocol part of the export's final `summary` record, and the
//! `qscope stats` report.
//!
//! Every structure here is bounded, whatever the capture:
//!
//! * latencies are a [`Latency`](crate::record::Latency) (exact up to 2,048 samples, then a
//!   histogram within 1/128 relative error);
//! * at most [`NAME_CAP`] distinct names per protocol, further names
//!   count together ("folded", the `(other)` row);
//! * the report keeps at most [`SESSION_CAP`] session rows (further
//!   sessions are only counted; fewer when [`Detail::keep_rows`] says the
//!   table lists fewer), [`FINDINGS_CAP`] security findings,
//!   [`NOTE_TEXT_CAP`] distinct expert note texts with at most
//!   [`NOTE_AT_CAP`] locations each;
//! * pairing state (to name a reply after its request and to count the
//!   requests never answered): per open session, the unanswered requests
//!   (at most [`OPEN_PER_SESSION`], [`OPEN_OVERALL`] over all sessions)
//!   and the last [`RECENT_PER_SESSION`] other messages, names interned.
//!
//! Besides, each open session has its row and counters until it ends (the
//! engine keeps more per open session).

use std::collections::{BTreeMap, VecDeque};
use std::io;

use crate::FastMap;

use qscope_dissectors::{Dir, Kind, Message, Severity, Value};

mod detail;

pub use detail::*;

use crate::filter::Filter;
use crate::record::{Flow, MessageRecord, Record, SessionInfo, Sink, Summary, NAME_CAP};

/// Builds the per-protocol part of the [`Summary`] from records; with
/// [`Collector::detailed`], the `qscope stats` report ([`Detail`]) instead.
#[derive(Default)]
pub struct Collector {
    /// Counters of the summary (left empty by a detailed collector: the
    /// engine builds the run's summary itself).
    pub summary: Summary,
    /// Per-command statistics, sessions and expert notes (`qscope stats`).
    pub detail: Option<Detail>,
}

impl Collector {
    /// A collector that builds the [`Detail`] report: only messages
    /// `filter` selects are counted (and replies to selected requests),
    /// `slowest` replies are kept.
    #[must_use]
    pub fn detailed(filter: Option<Filter>, slowest: usize) -> Collector {
        Collector {
            summary: Summary::default(),
            detail: Some(Detail::new(filter, slowest)),
        }
    }
}

impl Sink for Collector {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
        if let Some(d) = &mut self.detail {
            d.record(rec);
            return Ok(Flow::Continue);
        }
        let s = &mut self.summary;
        match rec {
            Record::Session(info) => {
                s.sessions += 1;
                s.protos.entry(info.proto.as_str()).or_default().sessions += 1;
            }
            Record::Message(m) => {
                s.messages += 1;
                for n in &m.msg.notes {
                    s.notes_by_severity[n.severity as usize] += 1;
                }
                let p = s.protos.entry(m.session.proto.as_str()).or_default();
                p.messages += 1;
                match m.msg.dir {
                    Dir::C2S => p.c2s += 1,
                    Dir::S2C => p.s2c += 1,
                }
                if m.msg.is_error {
                    p.errors += 1;
                }
                let name = m.msg.name.as_str();
                // One lookup for a name already seen; no String allocated
                // per message.
                if let Some(n) = p.by_name.get_mut(name) {
                    n.count(m);
                } else if p.by_name.len() < NAME_CAP {
                    p.by_name.entry(name.to_owned()).or_default().count(m);
                } else {
                    p.folded_names.insert(name);
                    p.folded.count(m);
                }
            }
            Record::Gap(r) => {
                s.gaps += 1;
                s.gap_bytes += r.len;
            }
            Record::Undecoded(r) => {
                s.undecoded_ranges += 1;
                s.undecoded_bytes += r.len;
            }
            Record::SessionEnd(e) => {
                for (n, count) in e.notes {
                    s.notes_by_severity[n.severity as usize] += count;
                }
            }
            Record::Bytes(_) | Record::Attr(_) => {}
        }
        Ok(Flow::Continue)
    }
    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        Ok(())
    }
}

/// An expert note group while it is built: exact count, the first
/// locations by (session order, order within the session).
#[derive(Debug, Clone, Default)]
struct Group {
    count: u64,
    at: Vec<((u64, u64), String)>,
}

impl Group {
    fn add(&mut self, key: (u64, u64), at: impl FnOnce() -> String) {
        self.count += 1;
        if self.at.len() >= NOTE_AT_CAP && self.at.last().is_some_and(|(k, _)| *k < key) {
            return;
        }
        let i = self.at.partition_point(|(k, _)| *k < key);
        self.at.insert(i, (key, at()));
        self.at.truncate(NOTE_AT_CAP);
    }

    fn absorb(&mut self, o: Group) {
        let count = self.count + o.count;
        for (key, at) in o.at {
            self.add(key, || at);
        }
        self.count = count;
    }
}

/// Expert notes grouped by (severity, text), at most `cap` texts.
#[derive(Debug, Default)]
struct Notes {
    by_text: FastMap<Box<str>, [Option<Group>; 3]>,
    groups: usize,
}

impl Notes {
    /// The group of (`sev`, `text`), or the folded one when `cap` groups
    /// exist already.
    fn group(&mut self, cap: usize, sev: Severity, text: &str) -> Option<&mut Group> {
        let s = sev as usize;
        let exists = self
            .by_text
            .get(text)
            .is_some_and(|g| g.get(s).is_some_and(Option::is_some));
        let text = if exists || self.groups < cap {
            text
        } else {
            FOLDED_NOTES
        };
        if !self.by_text.contains_key(text) {
            self.by_text.insert(text.into(), Default::default());
        }
        let slot = self.by_text.get_mut(text)?.get_mut(s)?;
        if slot.is_none() {
            if text != FOLDED_NOTES {
                self.groups += 1;
            }
            *slot = Some(Group::default());
        }
        slot.as_mut()
    }

    /// Adds `o`'s groups, in the order of their first locations (so that
    /// which texts the cap folds depends on the notes, not on the map).
    fn absorb(&mut self, cap: usize, o: Notes) {
        let first = |groups: &[Option<Group>; 3]| {
            groups
                .iter()
                .flatten()
                .filter_map(|g| g.at.first().map(|(k, _)| *k))
                .min()
        };
        let mut texts: Vec<_> = o.by_text.into_iter().collect();
        texts.sort_by_cached_key(|(text, groups)| (first(groups), text.clone()));
        for (text, groups) in texts {
            for (s, g) in groups.into_iter().enumerate() {
                let Some(g) = g else { continue };
                let sev = [Severity::Info, Severity::Warn, Severity::Error][s];
                if let Some(mine) = self.group(cap, sev, &text) {
                    mine.absorb(g);
                }
            }
        }
    }
}

/// What later replies need to know of a message.
#[derive(Debug, Clone)]
struct Entry {
    name: NameRef,
    selected: bool,
}

/// A session between its announcement and its end.
#[derive(Debug)]
struct Live {
    detail: SessionDetail,
    /// Holds one of the [`SESSION_CAP`] rows.
    slot: bool,
    /// Has a counted message (always, without a filter).
    reported: bool,
    /// Notes so far (orders the locations).
    seq: u64,
    /// Notes while not yet reported.
    pending: Notes,
    /// Unanswered requests, by index.
    open: BTreeMap<u64, Entry>,
    /// Other recent messages (and answered requests), oldest first.
    recent: VecDeque<(u64, Entry)>,
}

impl Live {
    fn remember(&mut self, index: u64, e: Entry) {
        if self.recent.len() >= RECENT_PER_SESSION {
            self.recent.pop_front();
        }
        self.recent.push_back((index, e));
    }
}

/// The `qscope stats` report, built from records (see [`NameDetail`] for
/// the definitions).
#[derive(Debug)]
pub struct Detail {
    live: FastMap<String, Live>,
    core: Core,
}

#[derive(Debug)]
struct Core {
    filter: Option<Filter>,
    slowest_n: usize,
    protos: BTreeMap<&'static str, ProtoDetail>,
    slowest: Vec<Slow>,
    sessions: Vec<SessionDetail>,
    findings: Vec<Finding>,
    limits: Limits,
    notes: Notes,
    next_ordinal: u64,
    /// Rows held by listed and open sessions.
    slots: usize,
    /// Rows kept at most: [`SESSION_CAP`], or fewer when the report shows
    /// fewer (see [`Detail::keep_rows`]).
    row_cap: usize,
    /// Reported sessions within [`SESSION_CAP`] but beyond `row_cap`.
    rows_unkept: u64,
    /// Unanswered requests held over all open sessions.
    open_total: usize,
}

/// The only fields of a message the statistics read: those a security
/// finding shows.
const FINDING_FIELDS: [&str; 2] = ["user", "password"];

/// A message cut down to what the statistics read without a filter: its
/// name, kind, error flag, notes and pairing, and of its fields only
/// those a security finding shows (`user`, `password`). The engine's
/// [`Config::trim`](crate::engine::Config::trim) for `qscope stats`.
pub fn trim(m: &mut Message) {
    m.fields.retain(|f| FINDING_FIELDS.contains(&&*f.name));
    if m.fields.is_empty() {
        m.fields = Vec::new();
    }
    m.summary = String::new();
    m.secrets = Vec::new();
}

fn field_text(m: &MessageRecord<'_>, name: &str) -> Option<String> {
    let f = m.msg.fields.iter().find(|f| f.name == name)?;
    Some(match &f.value {
        Value::Str(s) => s.clone(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        v => {
            let mut out = Vec::new();
            crate::sink::encode::push_value(&mut out, v);
            String::from_utf8_lossy(&out).into_owned()
        }
    })
}

/// `n` with thousands separators: 12,357.
#[must_use]
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Core {
    fn note(&mut self, l: &mut Live, sev: Severity, text: &str, at: impl FnOnce() -> String) {
        l.detail.notes += 1;
        let key = (l.detail.ordinal, l.seq);
        l.seq += 1;
        let g = if l.reported {
            self.notes.group(NOTE_TEXT_CAP, sev, text)
        } else {
            l.pending.group(PENDING_TEXT_CAP, sev, text)
        };
        if let Some(g) = g {
            g.add(key, at);
        }
    }

    /// The session has a counted message: its notes so far count.
    fn report(&mut self, l: &mut Live) {
        l.reported = true;
        let pending = std::mem::take(&mut l.pending);
        self.notes.absorb(NOTE_TEXT_CAP, pending);
    }

    /// Request `i` leaves the pairing state unanswered.
    fn unanswered(&mut self, l: &mut Live, proto: &'static str, i: u64, e: &Entry) {
        if !e.selected {
            return;
        }
        let p = self.protos.entry(proto).or_default();
        p.stats(&e.name).missing += 1;
        let text = never_answered_text(p.name_of(&e.name));
        let id = &l.detail.id.clone();
        self.note(l, Severity::Warn, &text, || format!("{id}#{i}"));
    }

    /// A message; `own`: it is selected itself (by the filter, or by the
    /// caller of [`Detail::message_selected`]).
    fn message(&mut self, l: &mut Live, m: &MessageRecord<'_>, own: bool) {
        let proto = m.session.proto.as_str();
        let target = match m.reply_to {
            Some(r) => match l.open.remove(&r) {
                Some(e) => {
                    self.open_total -= 1;
                    l.remember(r, e.clone());
                    Some(e)
                }
                None => l
                    .recent
                    .iter()
                    .rev()
                    .find(|(i, _)| *i == r)
                    .map(|(_, e)| e.clone()),
            },
            None => None,
        };
        let p = self.protos.entry(proto).or_default();
        let (name, selected) = match target {
            Some(e) => (e.name, own || e.selected),
            None => (p.intern(&m.msg.name), own),
        };
        let entry = Entry {
            name: name.clone(),
            selected,
        };
        if m.msg.kind == Kind::Request {
            l.open.insert(m.index, entry);
            self.open_total += 1;
            while l.open.len() > OPEN_PER_SESSION || self.open_total > OPEN_OVERALL {
                let Some((i, e)) = l.open.pop_first() else {
                    break;
                };
                self.open_total -= 1;
                self.limits.requests_untracked += 1;
                self.unanswered(l, proto, i, &e);
            }
        } else {
            l.remember(m.index, entry);
        }
        if !selected {
            return;
        }
        if !l.reported {
            self.report(l);
        }
        let sid = m.session.id.as_str();
        let at = || format!("{sid}#{}", m.index);
        let p = self.protos.entry(proto).or_default();
        let n = p.stats(&name);
        n.messages += 1;
        if m.msg.kind == Kind::Request {
            n.requests += 1;
        }
        if m.reply_to.is_some() {
            n.replies += 1;
        }
        if m.msg.is_error {
            n.errors += 1;
        }
        if let (Some(lat), Some(_)) = (m.latency_us, m.reply_to) {
            n.latency.add(lat);
        }
        let name_text = |core: &Core| {
            core.protos
                .get(proto)
                .map_or_else(String::new, |p| p.name_of(&name).to_owned())
        };
        for note in &m.msg.notes {
            self.note(l, note.severity, &note.text, at);
        }
        if m.msg.is_error && m.reply_to.is_some() {
            let text = format!("error reply to {}", name_text(self));
            self.note(l, Severity::Warn, &text, at);
        }
        if let (Some(lat), Some(r)) = (m.latency_us, m.reply_to) {
            if lat > TIMEOUT_US {
                let text = late_reply_text(&name_text(self));
                self.note(l, Severity::Warn, &text, at);
            }
            // Slowest first; ties in arrival order.
            let pos = self.slowest.partition_point(|s| s.latency_us >= lat);
            if pos < self.slowest_n {
                let slow = Slow {
                    latency_us: lat,
                    proto,
                    name: name_text(self),
                    session: sid.to_owned(),
                    index: m.index,
                    request: r,
                    ts: m.ts,
                };
                self.slowest.insert(pos, slow);
                self.slowest.truncate(self.slowest_n);
            }
        }
        if m.msg.kind == Kind::Request {
            // The protocol's security findings are the registry's.
            let what = m.session.proto.protocol().and_then(|p| {
                p.findings
                    .iter()
                    .find(|(request, _)| *request == m.msg.name)
                    .map(|(_, what)| *what)
            });
            if let Some(what) = what {
                if self.findings.len() < FINDINGS_CAP {
                    self.findings.push(Finding {
                        what,
                        proto,
                        session: sid.to_owned(),
                        index: m.index,
                        client: m.session.client,
                        server: m.session.server,
                        user: field_text(m, FINDING_FIELDS[0]),
                        password: field_text(m, FINDING_FIELDS[1]),
                    });
                } else {
                    self.limits.findings_not_listed += 1;
                }
            }
        }
        l.detail.messages += 1;
        if m.msg.is_error {
            l.detail.errors += 1;
        }
        l.detail.end = l.detail.end.max(m.ts);
    }

    /// The session ended (or the analysis did): its unanswered requests
    /// count as missing, its row is kept if it is reported and has one.
    fn end(&mut self, mut l: Live) {
        let proto = l.detail.proto;
        let open = std::mem::take(&mut l.open);
        self.open_total -= open.len();
        for (i, e) in &open {
            self.unanswered(&mut l, proto, *i, e);
        }
        if l.reported {
            self.protos.entry(proto).or_default().sessions += 1;
            if l.slot {
                self.sessions.push(l.detail);
            } else if self.row_cap < SESSION_CAP && l.detail.ordinal < SESSION_CAP as u64 {
                // Without a filter every session is reported and holds its
                // row to the end: the ordinal is the row it would have had.
                self.rows_unkept += 1;
            } else {
                self.limits.sessions_not_listed += 1;
            }
        } else if l.slot {
            self.slots -= 1;
        }
    }
}

impl Detail {
    fn new(filter: Option<Filter>, slowest_n: usize) -> Detail {
        Detail {
            live: FastMap::default(),
            core: Core {
                filter,
                slowest_n,
                protos: BTreeMap::new(),
                slowest: Vec::new(),
                sessions: Vec::new(),
                findings: Vec::new(),
                limits: Limits::default(),
                notes: Notes::default(),
                next_ordinal: 0,
                slots: 0,
                row_cap: SESSION_CAP,
                rows_unkept: 0,
                open_total: 0,
            },
        }
    }

    fn announce(&mut self, info: &SessionInfo) {
        let c = &mut self.core;
        if !self.live.contains_key(&info.id) {
            let slot = c.slots < c.row_cap;
            if slot {
                c.slots += 1;
            }
            let ordinal = c.next_ordinal;
            c.next_ordinal += 1;
            self.live.insert(
                info.id.clone(),
                Live {
                    detail: SessionDetail {
                        id: info.id.clone(),
                        proto: info.proto.as_str(),
                        client: info.client,
                        server: info.server,
                        start: info.start,
                        end: info.start,
                        messages: 0,
                        errors: 0,
                        notes: 0,
                        ordinal,
                    },
                    slot,
                    reported: c.filter.is_none(),
                    seq: 0,
                    pending: Notes::default(),
                    open: BTreeMap::new(),
                    recent: VecDeque::new(),
                },
            );
        }
    }

    fn record(&mut self, rec: &Record<'_>) {
        match rec {
            Record::Bytes(_) | Record::Attr(_) => {}
            Record::Session(info) => {
                self.announce(info);
            }
            Record::Message(m) => {
                let own = self.core.filter.as_ref().is_none_or(|f| f.matches(m));
                self.message_selected(m, own);
            }
            Record::Gap(r) => {
                if let Some(l) = self.live.get_mut(&r.session.id) {
                    self.core.note(
                        l,
                        Severity::Warn,
                        "gap: bytes missing from the capture",
                        || format!("{} {}@{}+{}", r.session.id, r.dir.as_str(), r.offset, r.len),
                    );
                }
            }
            Record::Undecoded(r) => {
                if r.severity == Severity::Info {
                    return;
                }
                let text = format!("undecoded: {}", r.reason.unwrap_or("?"));
                if let Some(l) = self.live.get_mut(&r.session.id) {
                    self.core.note(l, r.severity, &text, || {
                        format!("{} {}@{}+{}", r.session.id, r.dir.as_str(), r.offset, r.len)
                    });
                }
            }
            Record::SessionEnd(e) => {
                let id = e.session.id.as_str();
                if let Some(l) = self.live.get_mut(id) {
                    l.detail.end = l.detail.end.max(e.end);
                    // A note made several times counts once here: its
                    // session is the one place it was made.
                    for (n, _) in e.notes {
                        self.core.note(l, n.severity, &n.text, || id.to_owned());
                    }
                }
                if let Some(l) = self.live.remove(id) {
                    self.core.end(l);
                }
            }
        }
    }

    /// Counts message `m` as if the filter had decided `own` (whether it
    /// is selected itself; a reply to a selected request counts anyway):
    /// for a caller that knows the selection already (the terminal UI's
    /// display filter). The collector's own filter is not consulted.
    pub fn message_selected(&mut self, m: &MessageRecord<'_>, own: bool) {
        if let Some(l) = self.live.get_mut(&m.session.id) {
            self.core.message(l, m, own);
            return;
        }
        // Not announced (a test's records, the terminal UI's rows):
        // announce it now.
        self.announce(m.session);
        if let Some(l) = self.live.get_mut(&m.session.id) {
            self.core.message(l, m, own);
        }
    }

    /// Ends the report: requests of sessions still open count as missing;
    /// sessions in order of appearance.
    pub fn finish(&mut self) {
        let mut open: Vec<Live> = self.live.drain().map(|(_, l)| l).collect();
        open.sort_by_key(|l| l.detail.ordinal);
        for l in open {
            self.core.end(l);
        }
        self.core.sessions.sort_by_key(|s| s.ordinal);
    }

    /// Per protocol: its names, folded names and sessions.
    pub fn protos(&self) -> impl Iterator<Item = (&'static str, &ProtoDetail)> {
        self.core
            .protos
            .iter()
            .filter(|(_, p)| p.counted())
            .map(|(k, p)| (*k, p))
    }

    /// Keeps the rows of the first `n` sessions only (at least one, at most
    /// [`SESSION_CAP`]), for a report that lists no more: the rest are
    /// counted in [`Detail::rows_unkept`], and memory no longer grows with
    /// the number of sessions. Only without a filter, where every session
    /// is reported; call it before the first record.
    pub fn keep_rows(&mut self, n: usize) {
        if self.core.filter.is_none() {
            self.core.row_cap = n.clamp(1, SESSION_CAP);
        }
    }

    /// Sessions that [`Detail::keep_rows`] left without a row (and that
    /// [`SESSION_CAP`] would have kept).
    pub fn rows_unkept(&self) -> u64 {
        self.core.rows_unkept
    }

    /// The slowest replies, slowest first.
    pub fn slowest(&self) -> &[Slow] {
        &self.core.slowest
    }

    /// The listed sessions (with a filter, those with a counted message),
    /// in order of appearance, at most [`SESSION_CAP`]; complete after
    /// [`Detail::finish`].
    pub fn sessions(&self) -> &[SessionDetail] {
        &self.core.sessions
    }

    /// Security findings, at most [`FINDINGS_CAP`].
    pub fn findings(&self) -> &[Finding] {
        &self.core.findings
    }

    /// What was counted without being kept.
    pub fn limits(&self) -> &Limits {
        &self.core.limits
    }

    /// Expert notes of the reported sessions grouped by severity (errors
    /// first) and text; then, as info notes, what the caps left out.
    #[must_use]
    pub fn expert(&self) -> Vec<ExpertGroup> {
        let mut out: Vec<ExpertGroup> = Vec::new();
        for (text, groups) in &self.core.notes.by_text {
            for (s, g) in groups.iter().enumerate() {
                let Some(g) = g else { continue };
                out.push(ExpertGroup {
                    severity: [Severity::Info, Severity::Warn, Severity::Error][s],
                    text: text.to_string(),
                    count: g.count,
                    at: g.at.iter().map(|(_, a)| a.clone()).collect(),
                });
            }
        }
        let mut limit = |count: u64, text: String| {
            if count > 0 {
                out.push(ExpertGroup {
                    severity: Severity::Info,
                    text,
                    count,
                    at: Vec::new(),
                });
            }
        };
        for (proto, p) in self.protos() {
            let n = p.folded_names.count();
            limit(
                p.folded.messages,
                format!(
                    "{proto}: {}{} distinct names beyond the first {} counted under (other)",
                    if p.folded_names.is_exact() {
                        ""
                    } else {
                        "about "
                    },
                    thousands(n),
                    thousands(NAME_CAP as u64),
                ),
            );
        }
        let lim = &self.core.limits;
        limit(
            lim.sessions_not_listed,
            format!(
                "sessions beyond the first {} counted but not listed",
                thousands(SESSION_CAP as u64)
            ),
        );
        limit(
            lim.requests_untracked,
            format!(
                "requests dropped unanswered from the pairing state (more than {} open in a session or {} in all), counted as missing then",
                thousands(OPEN_PER_SESSION as u64),
                thousands(OPEN_OVERALL as u64)
            ),
        );
        limit(
            lim.findings_not_listed,
            format!(
                "security findings beyond the first {} not listed",
                thousands(FINDINGS_CAP as u64)
            ),
        );
        out.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.text.cmp(&b.text))
        });
        out
    }
}

#[cfg(test)]
mod tests;
