//! The report's parts and the limits of the statistics: what `qscope
//! stats` shows (per protocol, per name, per session, the slowest replies,
//! expert groups, security findings) and the caps that bound it. A leaf of
//! `stats`.

use std::net::SocketAddr;

use crate::capture::Timestamp;
use crate::record::{Distinct, Latency, NAME_CAP};
use crate::FastMap;
use qscope_dissectors::Severity;

/// A reply later than this is flagged as a transaction timeout (QI-QMP's
/// default for QMP transactions; applied to every protocol).
pub const TIMEOUT_US: i64 = 30_000_000;

/// The expert note of a request no message answered (`name`: the
/// request's).
#[must_use]
pub fn never_answered_text(name: &str) -> String {
    format!("request never answered: {name}")
}

/// The expert note of a reply later than [`TIMEOUT_US`] (`name`: the
/// request's).
#[must_use]
pub fn late_reply_text(name: &str) -> String {
    format!("reply after more than 30 s (transaction timeout, QI-QMP's default): {name}")
}

/// Session rows the report keeps (the first ones, in order of appearance);
/// further sessions are counted only ([`Limits::sessions_not_listed`]).
pub const SESSION_CAP: usize = 100_000;
/// Unanswered requests kept per session for pairing; beyond, the oldest
/// one is dropped and counted as missing ([`Limits::requests_untracked`]).
pub const OPEN_PER_SESSION: usize = 4096;
/// Unanswered requests kept over all open sessions; beyond, the session
/// that adds one drops its oldest (as above).
pub const OPEN_OVERALL: usize = 1_000_000;
/// Messages other than unanswered requests kept per session, most recent
/// first, for the replies that answer them (an MQServer ACK of a CLNTCAP,
/// a second QUEUEINFO for one FINDQUEUE).
pub const RECENT_PER_SESSION: usize = 64;
/// Distinct (severity, text) expert note groups; further texts count
/// under [`FOLDED_NOTES`].
pub const NOTE_TEXT_CAP: usize = 1000;
/// Locations kept per expert note group (the first ones, in session
/// order); `count` stays exact.
pub const NOTE_AT_CAP: usize = 10;
/// Security findings listed (about one per session with a login: as
/// generous as [`SESSION_CAP`]); further ones are counted only.
pub const FINDINGS_CAP: usize = 100_000;
/// Distinct note texts kept per session while it is not known whether
/// the session is reported (with `-Y`, before its first selected message).
pub(crate) const PENDING_TEXT_CAP: usize = 16;
/// The text of the expert note group of texts beyond [`NOTE_TEXT_CAP`].
pub const FOLDED_NOTES: &str = "(other notes: more distinct texts than the statistics keep)";

/// Statistics of one message name, as `qscope stats` reports them.
///
/// Key: a reply (a message with `reply_to`) counts under the name of the
/// message it answers; any other message under its own name. `requests`
/// counts messages of kind `request`, `replies` the messages with
/// `reply_to`, `errors` those flagged as errors, `missing` the requests no
/// message answered, and `latency` the replies' latencies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NameDetail {
    pub messages: u64,
    pub requests: u64,
    pub replies: u64,
    pub errors: u64,
    pub missing: u64,
    pub latency: Latency,
}

impl NameDetail {
    /// Adds the counts of `o`.
    pub fn merge(&mut self, o: &NameDetail) {
        self.messages += o.messages;
        self.requests += o.requests;
        self.replies += o.replies;
        self.errors += o.errors;
        self.missing += o.missing;
        self.latency.merge(&o.latency);
    }
}

/// A message name as the pairing state keeps it: interned, or (beyond
/// [`NAME_CAP`]) the name itself.
#[derive(Debug, Clone)]
pub(crate) enum NameRef {
    Id(u32),
    Folded(Box<str>),
}

/// The names of one protocol.
#[derive(Debug, Default)]
pub struct ProtoDetail {
    ids: FastMap<String, u32>,
    names: Vec<(String, NameDetail)>,
    /// Messages counted under names beyond the first [`NAME_CAP`].
    pub folded: NameDetail,
    /// How many distinct names were folded.
    pub folded_names: Distinct,
    /// Reported sessions (listed or not).
    pub sessions: u64,
}

impl ProtoDetail {
    pub(crate) fn intern(&mut self, name: &str) -> NameRef {
        if let Some(&i) = self.ids.get(name) {
            return NameRef::Id(i);
        }
        if self.names.len() < NAME_CAP {
            let i = self.names.len() as u32;
            self.ids.insert(name.to_owned(), i);
            self.names.push((name.to_owned(), NameDetail::default()));
            return NameRef::Id(i);
        }
        NameRef::Folded(name.into())
    }

    /// Where a message counting under `r` counts.
    pub(crate) fn stats(&mut self, r: &NameRef) -> &mut NameDetail {
        let i = match r {
            NameRef::Id(i) => *i as usize,
            NameRef::Folded(s) => {
                self.folded_names.insert(s);
                usize::MAX
            }
        };
        match self.names.get_mut(i) {
            Some((_, n)) => n,
            None => &mut self.folded,
        }
    }

    pub(crate) fn name_of<'a>(&'a self, r: &'a NameRef) -> &'a str {
        match r {
            NameRef::Id(i) => self.names.get(*i as usize).map_or("?", |(n, _)| n),
            NameRef::Folded(s) => s,
        }
    }

    /// The kept names with a counted message, by name.
    pub fn names(&self) -> Vec<(&str, &NameDetail)> {
        let mut v: Vec<(&str, &NameDetail)> = self
            .names
            .iter()
            .filter(|(_, n)| n.messages > 0)
            .map(|(s, n)| (s.as_str(), n))
            .collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        v
    }

    /// True when the protocol has a counted message.
    pub fn counted(&self) -> bool {
        self.folded.messages > 0 || self.names.iter().any(|(_, n)| n.messages > 0)
    }

    /// Totals over every name, folded ones included.
    pub fn total(&self) -> NameDetail {
        let mut t = NameDetail::default();
        for (_, n) in &self.names {
            t.merge(n);
        }
        t.merge(&self.folded);
        t
    }
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
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub start: Timestamp,
    pub end: Timestamp,
    /// Counted (selected) messages and errors among them.
    pub messages: u64,
    pub errors: u64,
    /// Expert notes of the session (message, session and TCP notes, gaps,
    /// undecoded ranges, unanswered requests, timeouts, error replies).
    pub notes: u64,
    /// Order of appearance.
    pub(crate) ordinal: u64,
}

/// A security finding: clear-text credentials, or an unauthenticated login.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub what: &'static str,
    pub proto: &'static str,
    pub session: String,
    pub index: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
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
    /// Where, in order, the first [`NOTE_AT_CAP`]: "s1#3" (message),
    /// "s1 c2s@120+4" (range), "s1".
    pub at: Vec<String>,
}

/// What the report counted without keeping (zero on ordinary captures).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    /// Reported sessions beyond [`SESSION_CAP`]: counted in the protocols'
    /// `sessions`, not listed.
    pub sessions_not_listed: u64,
    /// Requests dropped unanswered from the pairing state before their
    /// session ended (beyond [`OPEN_PER_SESSION`] or [`OPEN_OVERALL`]),
    /// counted as missing then: an approximation if a reply still came.
    pub requests_untracked: u64,
    /// Security findings beyond [`FINDINGS_CAP`].
    pub findings_not_listed: u64,
}

impl Limits {
    pub fn any(&self) -> bool {
        *self != Limits::default()
    }
}
