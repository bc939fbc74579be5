//! The display-filter language: [`Filter::parse`] on arbitrary text, and
//! every filter that parses evaluated on a set of messages.
//!
//! * An error must render as exactly two lines (the expression, then the
//!   caret and the message), with its column within the expression (or one
//!   past its end), and display as one line.
//! * A filter keeps its source; evaluation is deterministic; `!( EXPR )`
//!   parses whenever `EXPR` does (unless that passes the nesting limit) and
//!   selects exactly the messages `EXPR` does not.
//!
//! The messages: real ones, decoded by the dissectors from seeds of the
//! fuzz corpora, and hand-made ones with every value kind and extreme
//! numbers and times, in IPv4 and IPv6 sessions.

use std::net::SocketAddr;
use std::sync::OnceLock;

use qscope::capture::Timestamp;
use qscope::filter::Filter;
use qscope::record::{MessageRecord, SessionInfo};
use qscope_dissectors::{fuzzing, Dir, Field, Kind, Message, Note, Proto, Value};

struct Rec {
    session: usize,
    index: u64,
    ts: Timestamp,
    frame: u64,
    msg: Message,
    reply_to: Option<u64>,
    latency_us: Option<i64>,
    links: Vec<(&'static str, u64)>,
}

struct Set {
    sessions: Vec<SessionInfo>,
    recs: Vec<Rec>,
}

fn ts(secs: i64, nanos: u32) -> Timestamp {
    Timestamp {
        secs,
        nanos,
        nano: true,
    }
}

fn session(id: &str, proto: Proto, client: &str, server: &str, start: Timestamp) -> SessionInfo {
    SessionInfo {
        id: id.to_owned(),
        proto,
        client: client.parse::<SocketAddr>().expect("address"),
        server: server.parse::<SocketAddr>().expect("address"),
        start,
        t0: ts(start.secs.saturating_sub(1), 0),
        mid_stream: id.ends_with('m'),
    }
}

/// Messages of every value kind, with extreme numbers.
fn odd_messages() -> Vec<Message> {
    let f = |name: &'static str, v: Value| Field::new(name, Some(0..1), v);
    let mut a = Message::new(Dir::C2S, 7, Kind::Request, "query-status");
    a.fields = vec![
        f("execute", Value::Str("query-status".into())),
        f(
            "value",
            Value::Json(r#"{"execute":"x","arguments":{"a":[1,{"b":null}],"n":1e999,"s":"\u0000é"},"id":5}"#.into()),
        ),
        f("arguments", Value::Json(r#"{"a":[1,{"b":null}],"n":-0,"d":"virtio-disk0"}"#.into())),
        f("id", Value::Int(5)),
    ];
    a.summary = "odd".into();
    let mut b = Message::new(Dir::S2C, 0, Kind::Response, "\u{202e}é\u{0}");
    b.is_error = true;
    b.fields = vec![
        f("null", Value::Null),
        f("bool", Value::Bool(true)),
        f("min", Value::Int(i64::MIN)),
        f("max", Value::UInt(u64::MAX)),
        f("nan", Value::Float(f64::NAN)),
        f("inf", Value::Float(f64::NEG_INFINITY)),
        f("zero", Value::Float(-0.0)),
        f("text", Value::Str("a\u{1b}[31mb\n".into())),
        f("bytes", Value::Bytes(vec![0xff, 0x00, b'a'])),
        f(
            "nested",
            Value::Struct(vec![
                f(
                    "list",
                    Value::List(vec![f("", Value::Int(-1)), f("", Value::Str("x".into()))]),
                ),
                f("deep", Value::Struct(vec![f("x", Value::UInt(3))])),
            ]),
        ),
        f(
            "error",
            Value::Json(r#"{"class":"GenericError","desc":"no"}"#.into()),
        ),
        f("function", Value::Str("Read".into())),
        f("status", Value::UInt(3006)),
    ];
    b.notes = vec![Note::warn("clear-text password"), Note::error("")];
    let mut c = Message::new(Dir::S2C, u32::MAX as usize, Kind::Event, "");
    c.fields = vec![f("event", Value::Str("STOP".into()))];
    let d = Message::new(Dir::C2S, 1, Kind::Push, "x");
    let e = Message::new(Dir::S2C, 1, Kind::Greeting, "QMP");
    let g = Message::new(Dir::C2S, 1, Kind::Other, "other");
    vec![a, b, c, d, e, g]
}

fn set() -> &'static Set {
    static SET: OnceLock<Set> = OnceLock::new();
    SET.get_or_init(|| {
        let t = ts(1_795_314_369, 123_456_789);
        let sessions = vec![
            session("s1", Proto::Qmp, "127.0.0.1:50508", "127.0.0.1:4444", t),
            session("s2", Proto::Qm, "10.1.2.3:36224", "10.1.2.4:4243", t),
            session("s3", Proto::Qps, "[fd00::1]:40436", "[fd00::2]:7070", t),
            session(
                "s4m",
                Proto::MqServer,
                "192.168.1.9:60992",
                "192.168.1.1:8889",
                t,
            ),
            session(
                "s5m",
                Proto::Unknown,
                "[::1]:1",
                "[::ffff:10.0.0.1]:65535",
                ts(i64::MIN, 0),
            ),
            session(
                "s6",
                Proto::Qmp,
                "0.0.0.0:0",
                "255.255.255.255:4444",
                ts(i64::MAX, 999_999_999),
            ),
        ];
        let seeds: [(usize, Proto, &[u8]); 4] = [
            (
                0,
                Proto::Qmp,
                include_bytes!("../corpus/qmp/seed-qmp-events-0"),
            ),
            (
                1,
                Proto::Qm,
                include_bytes!("../corpus/qm/seed-qm-1-fileops-qmclilib-0"),
            ),
            (
                2,
                Proto::Qps,
                include_bytes!("../corpus/qps/seed-qps-1-happy-0"),
            ),
            (
                3,
                Proto::MqServer,
                include_bytes!("../corpus/mqserver/seed-mq-xml-0"),
            ),
        ];
        let mut recs = Vec::new();
        for (s, proto, seed) in seeds {
            let items = fuzzing::run(proto, seed, false);
            for (i, m) in items
                .iter()
                .filter_map(|it| it.as_message())
                .take(12)
                .enumerate()
            {
                let i = i as u64;
                recs.push(Rec {
                    session: s,
                    index: i,
                    ts: ts(t.secs + i as i64, 0),
                    frame: i + 1,
                    msg: m.clone(),
                    reply_to: (m.reply_to.is_some() && i > 0).then(|| i - 1),
                    latency_us: m.reply_to.map(|_| 1500 * i as i64),
                    links: Vec::new(),
                });
            }
        }
        for (i, m) in odd_messages().into_iter().enumerate() {
            for s in [0, 4, 5] {
                recs.push(Rec {
                    session: s,
                    index: (1 << 40) + i as u64,
                    ts: sessions[s].start,
                    frame: 1 << 40,
                    reply_to: Some(0),
                    latency_us: Some(if i % 2 == 0 { i64::MAX } else { i64::MIN }),
                    links: vec![("error_of", 0)],
                    msg: m.clone(),
                });
            }
        }
        Set { sessions, recs }
    })
}

fn records() -> Vec<MessageRecord<'static>> {
    let s = set();
    s.recs
        .iter()
        .map(|r| MessageRecord {
            session: &s.sessions[r.session],
            index: r.index,
            ts: r.ts,
            frame: r.frame,
            msg: &r.msg,
            reply_to: r.reply_to,
            latency_us: r.latency_us,
            links: &r.links,
        })
        .collect()
}

/// Runs one fuzz input (as text; invalid UTF-8 is replaced).
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text: &str = &text;
    let f = match Filter::parse(text) {
        Ok(f) => f,
        Err(e) => {
            let chars = text.chars().count();
            assert!(
                (1..=chars + 1).contains(&e.column),
                "column {} outside 1..={} for {text:?}",
                e.column,
                chars + 1
            );
            let shown = e.render(text);
            assert_eq!(
                shown.matches('\n').count(),
                1,
                "the rendered error is not two lines: {shown:?}"
            );
            assert!(!shown.contains('\r'), "carriage return in {shown:?}");
            assert!(!e.to_string().contains(['\n', '\r']), "{e}");
            return;
        }
    };
    assert_eq!(f.source(), text);
    let neg_text = format!("!( {text} )");
    let neg = match Filter::parse(&neg_text) {
        Ok(n) => Some(n),
        Err(e) if e.message.contains("nested too deeply") => None,
        Err(e) => panic!(
            "{text:?} parses but its negation does not:\n{}",
            e.render(&neg_text)
        ),
    };
    for r in records() {
        let m = f.matches(&r);
        assert_eq!(m, f.matches(&r), "evaluation is not deterministic");
        if let Some(n) = &neg {
            assert_eq!(
                n.matches(&r),
                !m,
                "{text:?} and its negation agree on {} #{}",
                r.session.id,
                r.index
            );
        }
    }
}
