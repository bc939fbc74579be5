//! The fields the language knows: their names, types, documentation, and
//! how each is read from a [`MessageRecord`], resolved once at parse time.

use std::sync::OnceLock;

// The protocols' fields and code → name tables are the registry's.
use qscope_dissectors::names::CodeNames as Names;
use qscope_dissectors::registry::{FieldRead, FieldType, JsonPaths, Protocol};
use qscope_dissectors::{Dir, Field, Message, Proto, Severity, Value};
use serde_json::Value as Json;

use super::value::V;
use super::FieldDoc;
use crate::record::MessageRecord;

/// The type of a field, which decides how literals are read and which
/// operators apply.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ty {
    Str,
    /// A string with a fixed set of values (checked at parse time).
    Choice(&'static [&'static str]),
    Int,
    Dur,
    Addr,
    Bool,
    Sev,
    Time,
    /// A code with names: literals are names or numbers.
    Named(&'static Names),
    /// Decided per message (decoded fields, JSON).
    Any,
    /// A bare protocol name.
    Proto,
}

impl Ty {
    pub fn describe(self) -> &'static str {
        match self {
            Ty::Str | Ty::Choice(_) => "a string",
            Ty::Int => "an integer",
            Ty::Dur => "a duration",
            Ty::Addr => "an address",
            Ty::Bool => "a boolean",
            Ty::Sev => "a severity",
            Ty::Time => "a time",
            Ty::Named(_) => "a code",
            Ty::Any => "a decoded field",
            Ty::Proto => "a protocol",
        }
    }
}

/// How a field is read from a message.
#[derive(Debug, Clone)]
pub(crate) enum Acc {
    Proto,
    IsProto(Proto),
    Dir,
    Session,
    Kind,
    Name,
    Summary,
    Error,
    Latency,
    Index,
    ReplyTo,
    Len,
    Offset,
    IpAddr,
    IpSrc,
    IpDst,
    TcpPort,
    TcpSrcPort,
    TcpDstPort,
    FrameTime,
    FrameNumber,
    FrameRelative,
    Elapsed,
    MidStream,
    Note,
    Expert,
    /// A string the protocol computes from the message (QMP's command of
    /// a request, or of the request a response answers).
    Text {
        proto: Proto,
        read: fn(&Message) -> Option<&str>,
    },
    /// A code read from the top-level field `field`. With `requests`, the
    /// field is read on c2s messages only, and s2c messages that answer a
    /// request give the code through their name (the request's name).
    Named {
        proto: Proto,
        field: &'static str,
        names: &'static Names,
        requests: bool,
    },
    /// The decoded field at `path` (protocol checked). With `json`, a
    /// path whose first step is not a top-level field continues inside
    /// the top-level JSON field `json.root` (QMP's `value`).
    Path {
        proto: Proto,
        path: Vec<String>,
        json: Option<&'static JsonPaths>,
    },
}

/// How a documented field is built at parse time.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Base {
    Acc(fn() -> Acc),
    /// The bare protocol name.
    IsProto(Proto),
    /// A field of a protocol, as the registry describes it.
    Proto(Proto, &'static FieldRead),
}

#[derive(Clone, Copy)]
pub(crate) struct Spec {
    pub name: &'static str,
    pub kind: &'static str,
    pub ty: Ty,
    pub doc: &'static str,
    pub base: Base,
    /// Bare use tests truth rather than presence.
    pub bare_truth: bool,
}

const KINDS: &[&str] = &["request", "response", "event", "greeting", "push", "other"];
const DIRS: &[&str] = &["c2s", "s2c"];

macro_rules! spec {
    ($name:expr, $kind:expr, $ty:expr, $base:expr, $doc:expr) => {
        Spec {
            name: $name,
            kind: $kind,
            ty: $ty,
            doc: $doc,
            base: $base,
            bare_truth: false,
        }
    };
}

/// The `proto` field: its values are the registry's names and `unknown`.
fn proto_spec() -> Spec {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    static DOC: OnceLock<String> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        Proto::KNOWN
            .iter()
            .chain([&Proto::Unknown])
            .map(|p| p.as_str())
            .collect()
    });
    let doc = DOC.get_or_init(|| {
        let known: Vec<&str> = Proto::KNOWN.iter().map(|p| p.as_str()).collect();
        format!("Protocol of the session: {}.", known.join(", "))
    });
    spec!(
        "proto",
        "string",
        Ty::Choice(names),
        Base::Acc(|| Acc::Proto),
        doc
    )
}

/// The fields of one protocol: its bare name, then its documented fields.
fn protocol_specs(proto: Proto, p: &'static Protocol) -> impl Iterator<Item = Spec> {
    let bare = spec!(
        p.name,
        "protocol",
        Ty::Proto,
        Base::IsProto(proto),
        p.filter.doc
    );
    let fields = p.filter.fields.iter().map(move |f| {
        let ty = match &f.read {
            FieldRead::Path(_, FieldType::Str) | FieldRead::Text(_) => Ty::Str,
            FieldRead::Path(_, FieldType::Int) => Ty::Int,
            FieldRead::Path(_, FieldType::Choice(values)) => Ty::Choice(values),
            FieldRead::Path(_, FieldType::Json) => Ty::Any,
            FieldRead::Code { names, .. } => Ty::Named(names),
        };
        spec!(f.name, f.kind, ty, Base::Proto(proto, &f.read), f.doc)
    });
    std::iter::once(bare).chain(fields)
}

/// Every documented field, in documentation order: the common fields,
/// then each protocol's, in registry order.
pub(crate) fn specs() -> &'static [Spec] {
    static SPECS: OnceLock<Vec<Spec>> = OnceLock::new();
    SPECS.get_or_init(|| {
        let mut all = vec![proto_spec()];
        all.extend(COMMON.iter().copied());
        for &proto in Proto::KNOWN {
            if let Some(p) = proto.protocol() {
                all.extend(protocol_specs(proto, p));
            }
        }
        all
    })
}

/// The common fields after `proto`, in documentation order.
static COMMON: &[Spec] = &[
    spec!("dir", "string", Ty::Choice(DIRS), Base::Acc(|| Acc::Dir),
        "Direction: c2s (client to server) or s2c."),
    spec!("session", "string", Ty::Str, Base::Acc(|| Acc::Session),
        "Session id as in exports: s1, s2, ..."),
    spec!("kind", "string", Ty::Choice(KINDS), Base::Acc(|| Acc::Kind),
        "Role of the message: request, response, event, greeting, push or other."),
    spec!("name", "string", Ty::Str, Base::Acc(|| Acc::Name),
        "Human name: QMP command or event, QM function, QPS packet, MQServer message type."),
    spec!("summary", "string", Ty::Str, Base::Acc(|| Acc::Summary),
        "The one-line summary shown in timelines."),
    Spec {
        name: "error",
        kind: "boolean",
        ty: Ty::Bool,
        doc: "The message reports a failure (error reply, failed login...). Alone, `error` means `error == true`.",
        base: Base::Acc(|| Acc::Error),
        bare_truth: true,
    },
    spec!("latency", "duration", Ty::Dur, Base::Acc(|| Acc::Latency),
        "Time from the request to this reply; absent unless the message answers a captured request."),
    spec!("index", "integer", Ty::Int, Base::Acc(|| Acc::Index),
        "0-based position of the message in its session (both directions, time order)."),
    spec!("reply_to", "integer", Ty::Int, Base::Acc(|| Acc::ReplyTo),
        "Index of the request this message answers; absent otherwise."),
    spec!("len", "integer", Ty::Int, Base::Acc(|| Acc::Len),
        "Length of the message on the wire, in bytes."),
    spec!("offset", "integer", Ty::Int, Base::Acc(|| Acc::Offset),
        "Offset of the message's first byte in its direction's stream."),
    spec!("ip.addr", "address", Ty::Addr, Base::Acc(|| Acc::IpAddr),
        "Either address of the connection (true if one of them matches)."),
    spec!("ip.src", "address", Ty::Addr, Base::Acc(|| Acc::IpSrc),
        "Sender's address: the client for c2s messages, the server for s2c."),
    spec!("ip.dst", "address", Ty::Addr, Base::Acc(|| Acc::IpDst),
        "Receiver's address."),
    spec!("tcp.port", "integer", Ty::Int, Base::Acc(|| Acc::TcpPort),
        "Either TCP port of the connection (true if one of them matches)."),
    spec!("tcp.srcport", "integer", Ty::Int, Base::Acc(|| Acc::TcpSrcPort),
        "Sender's TCP port."),
    spec!("tcp.dstport", "integer", Ty::Int, Base::Acc(|| Acc::TcpDstPort),
        "Receiver's TCP port."),
    spec!("frame.time", "time", Ty::Time, Base::Acc(|| Acc::FrameTime),
        "Capture time of the packet that completed the message; compare with an RFC 3339 time (\"2026-11-22T02:26:09Z\", UTC unless an offset is given) or Unix seconds."),
    spec!("frame.number", "integer", Ty::Int, Base::Acc(|| Acc::FrameNumber),
        "Number of the packet that completed the message in the capture, from 1 (as Wireshark and tshark number frames)."),
    spec!("frame.time_relative", "duration", Ty::Dur, Base::Acc(|| Acc::FrameRelative),
        "Time of the packet that completed the message since the capture's first packet (the time print shows)."),
    spec!("session.elapsed", "duration", Ty::Dur, Base::Acc(|| Acc::Elapsed),
        "Time since the first packet of the message's session."),
    Spec {
        name: "session.mid_stream",
        kind: "boolean",
        ty: Ty::Bool,
        doc: "The session's start was not captured. Alone, it means `session.mid_stream == true`.",
        base: Base::Acc(|| Acc::MidStream),
        bare_truth: true,
    },
    spec!("note", "string", Ty::Str, Base::Acc(|| Acc::Note),
        "Text of the message's expert notes (true if one of them matches)."),
    spec!("expert", "severity", Ty::Sev, Base::Acc(|| Acc::Expert),
        "Highest severity of the message's expert notes: info < warn < error; absent without notes."),
];

/// The public documentation list.
pub(crate) fn docs() -> &'static [FieldDoc] {
    static DOCS: OnceLock<Vec<FieldDoc>> = OnceLock::new();
    DOCS.get_or_init(|| {
        specs()
            .iter()
            .map(|s| FieldDoc {
                name: s.name,
                kind: s.kind,
                doc: s.doc,
            })
            .collect()
    })
}

/// The fields whose values are named codes, with their name tables (for
/// the built-in reference).
pub(crate) fn code_tables() -> impl Iterator<Item = (&'static str, &'static Names)> {
    specs().iter().filter_map(|s| match s.ty {
        Ty::Named(names) => Some((s.name, names)),
        _ => None,
    })
}

pub(crate) fn spec(name: &str) -> Option<&'static Spec> {
    specs().iter().find(|s| s.name == name)
}

/// The protocol a `PROTO.` prefix names (canonical names only).
pub(crate) fn proto_prefix(name: &str) -> Option<(Proto, &str)> {
    let (p, rest) = name.split_once('.')?;
    let proto = Proto::KNOWN.iter().copied().find(|k| k.as_str() == p)?;
    Some((proto, rest))
}

impl Base {
    pub fn build(self) -> Acc {
        match self {
            Base::Acc(f) => f(),
            Base::IsProto(proto) => Acc::IsProto(proto),
            Base::Proto(proto, FieldRead::Path(p, _)) => Acc::Path {
                proto,
                path: p.iter().map(|s| (*s).to_owned()).collect(),
                json: json_paths(proto),
            },
            Base::Proto(
                proto,
                FieldRead::Code {
                    field,
                    names,
                    requests,
                },
            ) => Acc::Named {
                proto,
                field,
                names,
                requests: *requests,
            },
            Base::Proto(proto, FieldRead::Text(read)) => Acc::Text { proto, read: *read },
        }
    }
}

/// Where the protocol's `PROTO.PATH` paths continue inside JSON (QMP's
/// `value`), if they do.
pub(crate) fn json_paths(proto: Proto) -> Option<&'static JsonPaths> {
    proto.protocol()?.filter.json.as_ref()
}

// ---------------------------------------------------------------------------
// Reading values.

/// Calls `f` with each value of the field in `r` until it returns true;
/// returns whether it did. A field absent from the message calls `f`
/// never.
impl Acc {
    pub fn visit(&self, r: &MessageRecord<'_>, f: &mut dyn FnMut(&V<'_>) -> bool) -> bool {
        let m = r.msg;
        let s = r.session;
        let src_dst = || match m.dir {
            Dir::C2S => (s.client, s.server),
            Dir::S2C => (s.server, s.client),
        };
        match self {
            Acc::Proto => f(&V::Str(s.proto.as_str())),
            Acc::IsProto(p) => s.proto == *p && f(&V::Bool(true)),
            Acc::Dir => f(&V::Str(m.dir.as_str())),
            Acc::Session => f(&V::Str(&s.id)),
            Acc::Kind => f(&V::Str(m.kind.as_str())),
            Acc::Name => f(&V::Str(&m.name)),
            Acc::Summary => f(&V::Str(&m.summary)),
            Acc::Error => f(&V::Bool(m.is_error)),
            Acc::Latency => match r.latency_us {
                Some(us) => f(&V::Dur(i128::from(us) * 1000)),
                None => false,
            },
            Acc::Index => f(&V::Int(i128::from(r.index))),
            Acc::ReplyTo => match r.reply_to {
                Some(i) => f(&V::Int(i128::from(i))),
                None => false,
            },
            Acc::Len => f(&V::Int(m.len as i128)),
            Acc::Offset => f(&V::Int(i128::from(m.offset))),
            Acc::IpAddr => f(&V::Addr(s.client.ip())) || f(&V::Addr(s.server.ip())),
            Acc::IpSrc => f(&V::Addr(src_dst().0.ip())),
            Acc::IpDst => f(&V::Addr(src_dst().1.ip())),
            Acc::TcpPort => {
                f(&V::Int(i128::from(s.client.port()))) || f(&V::Int(i128::from(s.server.port())))
            }
            Acc::TcpSrcPort => f(&V::Int(i128::from(src_dst().0.port()))),
            Acc::TcpDstPort => f(&V::Int(i128::from(src_dst().1.port()))),
            Acc::FrameTime => f(&V::Time(time_ns(r.ts.secs, r.ts.nanos))),
            Acc::FrameNumber => f(&V::Int(i128::from(r.frame))),
            Acc::FrameRelative => f(&V::Dur(
                time_ns(r.ts.secs, r.ts.nanos) - time_ns(s.t0.secs, s.t0.nanos),
            )),
            Acc::Elapsed => f(&V::Dur(
                time_ns(r.ts.secs, r.ts.nanos) - time_ns(s.start.secs, s.start.nanos),
            )),
            Acc::MidStream => f(&V::Bool(s.mid_stream)),
            Acc::Note => m.notes.iter().any(|n| f(&V::Str(&n.text))),
            Acc::Expert => match m.notes.iter().map(|n| n.severity).max() {
                Some(sev) => f(&V::Sev(sev_rank(sev))),
                None => false,
            },
            Acc::Text { proto, read } => {
                s.proto == *proto && read(m).is_some_and(|n| f(&V::Str(n)))
            }
            Acc::Named {
                proto,
                field,
                names,
                requests,
            } => {
                if s.proto != *proto {
                    return false;
                }
                if !*requests || m.dir == Dir::C2S {
                    return match m.field(field).and_then(|fl| code_of(&fl.value, names)) {
                        Some(c) => f(&V::Named(Some(c), name_or_empty(names, c))),
                        None => false,
                    };
                }
                if m.reply_to.is_none() {
                    return false;
                }
                if let Some((c, n)) = names.exact(&m.name) {
                    return f(&V::Named(Some(i128::from(c)), n));
                }
                // "unknown function 99", "unknown code 0x07", ...
                let code = m.name.rsplit(' ').next().and_then(super::value::parse_int);
                f(&V::Named(code, &m.name))
            }
            Acc::Path { proto, path, json } => {
                if s.proto != *proto {
                    return false;
                }
                let Some((first, rest)) = path.split_first() else {
                    return false;
                };
                let mut found = false;
                for fl in m.fields.iter().filter(|fl| fl.name == first.as_str()) {
                    found = true;
                    if walk_value(&fl.value, rest, f) {
                        return true;
                    }
                }
                let Some(json) = json else {
                    return false;
                };
                if found || json.decoded.contains(&first.as_str()) {
                    return false;
                }
                match m.field(json.root) {
                    Some(Field {
                        value: Value::Json(text),
                        ..
                    }) if may_have_key(text, first) => match serde_json::from_str::<Json>(text) {
                        Ok(j) => walk_json(&j, path, f),
                        Err(_) => false,
                    },
                    _ => false,
                }
            }
        }
    }
}

/// Whether JSON `text` may have a member called `key`: a cheap test that
/// spares parsing the text when the quoted key does not occur in it (and
/// the text has no escapes that could spell it differently).
fn may_have_key(text: &str, key: &str) -> bool {
    if text.contains('\\') {
        return true;
    }
    let (t, k) = (text.as_bytes(), key.as_bytes());
    t.windows(k.len() + 2).any(|w| {
        w.first() == Some(&b'"') && w.last() == Some(&b'"') && w.get(1..=k.len()) == Some(k)
    })
}

fn time_ns(secs: i64, nanos: u32) -> i128 {
    i128::from(secs) * 1_000_000_000 + i128::from(nanos)
}

pub(crate) fn sev_rank(s: Severity) -> u8 {
    match s {
        Severity::Info => 0,
        Severity::Warn => 1,
        Severity::Error => 2,
    }
}

fn code_of(v: &Value, names: &Names) -> Option<i128> {
    match v {
        Value::Int(i) => Some(i128::from(*i)),
        Value::UInt(u) => Some(i128::from(*u)),
        Value::Str(s) => {
            super::value::parse_int(s.trim()).or_else(|| names.code_of(s.trim()).map(i128::from))
        }
        _ => None,
    }
}

fn name_or_empty(names: &Names, code: i128) -> &'static str {
    i64::try_from(code)
        .ok()
        .and_then(|c| names.name_of(c))
        .unwrap_or("")
}

/// A list segment: an element index.
fn list_index(seg: &str) -> Option<usize> {
    if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
        seg.parse().ok()
    } else {
        None
    }
}

fn walk_value(v: &Value, rest: &[String], f: &mut dyn FnMut(&V<'_>) -> bool) -> bool {
    let Some((seg, tail)) = rest.split_first() else {
        return f(&V::from_value(v));
    };
    match v {
        Value::Struct(kids) => kids
            .iter()
            .filter(|k| k.name == seg.as_str())
            .any(|k| walk_value(&k.value, tail, f)),
        Value::List(items) => match list_index(seg) {
            Some(i) => items.get(i).is_some_and(|k| walk_value(&k.value, tail, f)),
            // Paths go through lists: each element in turn.
            None => items.iter().any(|k| walk_value(&k.value, rest, f)),
        },
        Value::Json(text) => match serde_json::from_str::<Json>(text) {
            Ok(j) => walk_json(&j, rest, f),
            Err(_) => false,
        },
        _ => false,
    }
}

fn walk_json(j: &Json, rest: &[String], f: &mut dyn FnMut(&V<'_>) -> bool) -> bool {
    let Some((seg, tail)) = rest.split_first() else {
        return f(&V::Js(j));
    };
    match j {
        Json::Object(map) => map.get(seg.as_str()).is_some_and(|c| walk_json(c, tail, f)),
        Json::Array(items) => match list_index(seg) {
            Some(i) => items.get(i).is_some_and(|c| walk_json(c, tail, f)),
            None => items.iter().any(|c| walk_json(c, rest, f)),
        },
        _ => false,
    }
}

/// Whether any documented field or protocol is called `name`.
pub(crate) fn all_names() -> impl Iterator<Item = &'static str> {
    specs().iter().map(|s| s.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    use qscope_dissectors::mqserver::common::TYPES as MQ_TYPES;
    use qscope_dissectors::qm::{FUNCTIONS as QM_FUNCTIONS, OUTCOMES as QM_OUTCOMES};
    use qscope_dissectors::qps::REQUESTS as QPS_REQUESTS;

    #[test]
    fn names_resolve_case_insensitively_with_optional_prefix() {
        assert_eq!(QM_FUNCTIONS.code_of("read"), Some(6));
        assert_eq!(QM_FUNCTIONS.code_of("Read"), Some(6));
        assert_eq!(QM_FUNCTIONS.code_of("ReadNext"), Some(12));
        assert_eq!(QM_OUTCOMES.code_of("SV_ELSE"), Some(2));
        assert_eq!(QM_OUTCOMES.code_of("else"), Some(2));
        assert_eq!(QM_OUTCOMES.code_of("sv_prompt"), Some(5));
        assert_eq!(QM_OUTCOMES.code_of("SV$ON.ERROR"), Some(1));
        assert_eq!(MQ_TYPES.code_of("msgfrclnt"), Some(19));
        assert_eq!(QPS_REQUESTS.code_of("signon"), Some(5));
        assert_eq!(QM_FUNCTIONS.code_of("Reed"), None);
        assert_eq!(QM_FUNCTIONS.name_of(24), Some("Login"));
    }

    #[test]
    fn every_spec_name_is_unique() {
        let mut seen = std::collections::HashSet::new();
        for s in specs() {
            assert!(seen.insert(s.name), "{}", s.name);
        }
    }
}
