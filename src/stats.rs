//! Counters and latency statistics, gathered as a [`Sink`]: the
//! per-protocol part of the export's final `summary` record, and the
//! `qscope stats` report.

use std::collections::{BTreeMap, HashMap};
use std::io;

use qscope_dissectors::{Dir, Kind, Severity, Value};

use crate::capture::Timestamp;
use crate::filter::Filter;
use crate::record::{Flow, MessageRecord, Record, Sink, Summary, NAME_CAP};

/// Builds the per-protocol part of the [`Summary`] from records; with
/// [`Collector::detailed`], also the `qscope stats` report ([`Detail`]).
#[derive(Default)]
pub struct Collector {
    pub summary: Summary,
    /// Per-command statistics, sessions and expert notes (`qscope stats`).
    pub detail: Option<Detail>,
}

impl Collector {
    /// A collector that also builds the [`Detail`] report: only messages
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
                // Look up before inserting: no String allocated per message.
                if !p.by_name.contains_key(name) && p.by_name.len() < NAME_CAP {
                    p.by_name.insert(name.to_owned(), Default::default());
                }
                let n = match p.by_name.get_mut(name) {
                    Some(n) => n,
                    None => {
                        p.folded_names.insert(name);
                        &mut p.folded
                    }
                };
                match m.msg.kind {
                    Kind::Request => n.requests += 1,
                    Kind::Response => n.responses += 1,
                    _ => n.other += 1,
                }
                if m.msg.is_error {
                    n.errors += 1;
                }
                if let Some(l) = m.latency_us {
                    n.latency.add(l);
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
                for n in e.notes {
                    s.notes_by_severity[n.severity as usize] += 1;
                }
            }
        }
        Ok(Flow::Continue)
    }
    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        Ok(())
    }
}

/// A reply later than this is flagged as a transaction timeout (QI-QMP's
/// default for QMP transactions; applied to every protocol).
pub const TIMEOUT_US: i64 = 30_000_000;

/// Statistics of one message name, as `qscope stats` reports them.
///
/// Key: a reply (a message with `reply_to`) counts under the name of the
/// message it answers; any other message under its own name. `requests`
/// counts messages of kind `request`, `replies` the messages with
/// `reply_to`, `errors` those flagged as errors, `missing` the requests no
/// message answered, and `latencies_us` the replies' latencies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NameDetail {
    pub messages: u64,
    pub requests: u64,
    pub replies: u64,
    pub errors: u64,
    pub missing: u64,
    pub latencies_us: Vec<i64>,
}

/// One slow reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Slow {
    pub latency_us: i64,
    pub proto: &'static str,
    pub name: String,
    pub session: String,
    /// Index of the reply; `request` that of the request.
    pub index: u64,
    pub request: u64,
    pub ts: Timestamp,
}

/// What `qscope stats` says about one session.
#[derive(Debug, Clone)]
pub struct SessionDetail {
    pub id: String,
    pub proto: &'static str,
    pub client: String,
    pub server: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// Counted (selected) messages and errors among them.
    pub messages: u64,
    pub errors: u64,
    /// Expert notes of the session (message, session and TCP notes, gaps,
    /// undecoded ranges, unanswered requests, timeouts, error replies).
    pub notes: u64,
    expert: Vec<(Severity, String, String)>,
}

/// A security finding: clear-text credentials, or an unauthenticated login.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub what: String,
    pub proto: &'static str,
    pub session: String,
    pub index: u64,
    pub client: String,
    pub server: String,
    pub user: Option<String>,
    /// As the dissector shows it: redacted unless `--show-secrets`.
    pub password: Option<String>,
}

/// An expert note group: same severity and text.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpertGroup {
    pub severity: Severity,
    pub text: String,
    pub count: u64,
    /// Where, in order: "s1#3" (message), "s1 c2s@120+4" (range), "s1".
    pub at: Vec<String>,
}

#[derive(Debug, Clone)]
struct Known {
    name: String,
    selected: bool,
    request: bool,
    answered: bool,
}

/// The `qscope stats` report, built from records (see [`NameDetail`] for
/// the definitions).
#[derive(Debug)]
pub struct Detail {
    filter: Option<Filter>,
    slowest_n: usize,
    /// (proto, name) → statistics.
    pub names: BTreeMap<(&'static str, String), NameDetail>,
    /// The slowest replies, slowest first.
    pub slowest: Vec<Slow>,
    /// Sessions in the order they were announced.
    pub sessions: Vec<SessionDetail>,
    pub findings: Vec<Finding>,
    by_id: HashMap<String, usize>,
    /// Per session: message index → what later replies need to know.
    known: HashMap<String, BTreeMap<u64, Known>>,
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

impl Detail {
    fn new(filter: Option<Filter>, slowest_n: usize) -> Detail {
        Detail {
            filter,
            slowest_n,
            names: BTreeMap::new(),
            slowest: Vec::new(),
            sessions: Vec::new(),
            findings: Vec::new(),
            by_id: HashMap::new(),
            known: HashMap::new(),
        }
    }

    fn session(&mut self, id: &str) -> Option<&mut SessionDetail> {
        let i = *self.by_id.get(id)?;
        self.sessions.get_mut(i)
    }

    fn record(&mut self, rec: &Record<'_>) {
        match rec {
            Record::Session(info) => {
                self.by_id.insert(info.id.clone(), self.sessions.len());
                self.sessions.push(SessionDetail {
                    id: info.id.clone(),
                    proto: info.proto.as_str(),
                    client: info.client.to_string(),
                    server: info.server.to_string(),
                    start: info.start,
                    end: info.start,
                    messages: 0,
                    errors: 0,
                    notes: 0,
                    expert: Vec::new(),
                });
            }
            Record::Message(m) => self.message(m),
            Record::Gap(r) => {
                let at = format!("{} {}@{}+{}", r.session.id, r.dir.as_str(), r.offset, r.len);
                if let Some(s) = self.session(&r.session.id) {
                    s.expert.push((
                        Severity::Warn,
                        "gap: bytes missing from the capture".into(),
                        at,
                    ));
                }
            }
            Record::Undecoded(r) => {
                if r.severity == Severity::Info {
                    return;
                }
                let at = format!("{} {}@{}+{}", r.session.id, r.dir.as_str(), r.offset, r.len);
                let text = format!("undecoded: {}", r.reason.unwrap_or("?"));
                if let Some(s) = self.session(&r.session.id) {
                    s.expert.push((r.severity, text, at));
                }
            }
            Record::SessionEnd(e) => {
                let id = e.session.id.clone();
                if let Some(s) = self.session(&id) {
                    s.end = s.end.max(e.end);
                    for n in e.notes {
                        s.expert.push((n.severity, n.text.to_string(), id.clone()));
                    }
                }
                self.close(&id, e.session.proto.as_str());
            }
        }
    }

    /// Counts the session's unanswered selected requests as missing.
    fn close(&mut self, id: &str, proto: &'static str) {
        let Some(known) = self.known.remove(id) else {
            return;
        };
        for (i, k) in known {
            if !(k.request && k.selected && !k.answered) {
                continue;
            }
            self.names
                .entry((proto, k.name.clone()))
                .or_default()
                .missing += 1;
            if let Some(s) = self.session(id) {
                s.expert.push((
                    Severity::Warn,
                    format!("request never answered: {}", k.name),
                    format!("{id}#{i}"),
                ));
            }
        }
    }

    fn message(&mut self, m: &MessageRecord<'_>) {
        let own = self.filter.as_ref().is_none_or(|f| f.matches(m));
        let sid = m.session.id.clone();
        let proto = m.session.proto.as_str();
        let known = self.known.entry(sid.clone()).or_default();
        let req = m.reply_to.and_then(|i| known.get_mut(&i));
        let (name, selected) = match req {
            Some(k) => {
                k.answered = true;
                (k.name.clone(), own || k.selected)
            }
            None => (m.msg.name.clone(), own),
        };
        known.insert(
            m.index,
            Known {
                name: name.clone(),
                selected,
                request: m.msg.kind == Kind::Request,
                answered: false,
            },
        );
        if !selected {
            return;
        }
        let at = format!("{sid}#{}", m.index);
        let n = self.names.entry((proto, name.clone())).or_default();
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
        let mut expert: Vec<(Severity, String, String)> = m
            .msg
            .notes
            .iter()
            .map(|n| (n.severity, n.text.to_string(), at.clone()))
            .collect();
        if m.msg.is_error && m.reply_to.is_some() {
            expert.push((Severity::Warn, format!("error reply to {name}"), at.clone()));
        }
        if let (Some(l), Some(r)) = (m.latency_us, m.reply_to) {
            n.latencies_us.push(l);
            if l > TIMEOUT_US {
                expert.push((
                    Severity::Warn,
                    format!("reply after more than 30 s (transaction timeout, QI-QMP's default): {name}"),
                    at.clone(),
                ));
            }
            if self.slowest_n > 0 {
                self.slowest.push(Slow {
                    latency_us: l,
                    proto,
                    name: name.clone(),
                    session: sid.clone(),
                    index: m.index,
                    request: r,
                    ts: m.ts,
                });
                // Slowest first; ties in arrival order.
                self.slowest
                    .sort_by_key(|s| std::cmp::Reverse(s.latency_us));
                self.slowest.truncate(self.slowest_n);
            }
        }
        if m.msg.kind == Kind::Request {
            let what = match (proto, m.msg.name.as_str()) {
                ("qm", "Login") => Some("clear-text credentials (QM Login)"),
                ("qps", "Signon") => Some("clear-text credentials (QPS Signon)"),
                ("mqserver", "AUTH") => Some("clear-text credentials (MQServer AUTH)"),
                ("qm", "LocalLogin") => {
                    Some("unauthenticated QM LocalLogin over TCP (runs as the server's OS user)")
                }
                _ => None,
            };
            if let Some(what) = what {
                self.findings.push(Finding {
                    what: what.into(),
                    proto,
                    session: sid.clone(),
                    index: m.index,
                    client: m.session.client.to_string(),
                    server: m.session.server.to_string(),
                    user: field_text(m, "user"),
                    password: field_text(m, "password"),
                });
            }
        }
        if let Some(s) = self.session(&sid) {
            s.messages += 1;
            if m.msg.is_error {
                s.errors += 1;
            }
            s.end = s.end.max(m.ts);
            s.expert.extend(expert);
        }
    }

    /// Ends the report: requests of sessions still open count as missing.
    pub fn finish(&mut self) {
        let open: Vec<(String, &'static str)> = self
            .sessions
            .iter()
            .filter(|s| self.known.contains_key(&s.id))
            .map(|s| (s.id.clone(), s.proto))
            .collect();
        for (id, proto) in open {
            self.close(&id, proto);
        }
        for s in &mut self.sessions {
            s.notes = s.expert.len() as u64;
        }
    }

    /// Sessions the report covers: all without a filter, else those with
    /// a selected message.
    pub fn reported_sessions(&self) -> impl Iterator<Item = &SessionDetail> {
        let all = self.filter.is_none();
        self.sessions.iter().filter(move |s| all || s.messages > 0)
    }

    /// Expert notes of the reported sessions grouped by severity (errors
    /// first) and text.
    #[must_use]
    pub fn expert(&self) -> Vec<ExpertGroup> {
        let mut groups: BTreeMap<(std::cmp::Reverse<Severity>, String), Vec<String>> =
            BTreeMap::new();
        for s in self.reported_sessions() {
            for (sev, text, at) in &s.expert {
                groups
                    .entry((std::cmp::Reverse(*sev), text.clone()))
                    .or_default()
                    .push(at.clone());
            }
        }
        groups
            .into_iter()
            .map(|((sev, text), at)| ExpertGroup {
                severity: sev.0,
                text,
                count: at.len() as u64,
                at,
            })
            .collect()
    }
}
