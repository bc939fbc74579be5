//! The display filter language: every operator and field kind on messages
//! decoded from the real captures in captures/ (each filter checked against
//! an independent oracle written in Rust), hand-built messages for the
//! value kinds the captures lack, the exact text and column of every class
//! of error, and property tests that no input makes the parser or the
//! evaluator panic.
#![allow(unsafe_code)] // libc calls (kill, geteuid, an allocator counting calls): see their SAFETY comments

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use qscope::capture::{FileSource, Timestamp};
use qscope::engine::{analyze, Config};
use qscope::filter::{fields, Filter, FilterError};
use qscope::record::{Collect, Collected, MessageRecord, SessionInfo};
use qscope_dissectors::{Dir, Field, Kind, Message, Note, Proto, Severity, Value};

// ---------------------------------------------------------------------------
// Support.

/// Counts allocations per thread, to check that evaluation does not
/// allocate.
struct Counting;

thread_local! {
    static ALLOCS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { std::alloc::System.realloc(ptr, layout, size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCS.with(|c| c.get())
}

fn bundled(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(rel)
}

/// Every shared capture, decoded.
struct Capture {
    name: String,
    c: Collect,
}

fn decode(rel: &str) -> Capture {
    let mut src = FileSource::open(&bundled(rel)).unwrap();
    let mut c = Collect::default();
    analyze(&mut src, Config::default(), &mut c).unwrap();
    assert!(!c.messages.is_empty(), "{rel}: no message decoded");
    Capture {
        name: rel.to_owned(),
        c,
    }
}

fn all_captures() -> Vec<Capture> {
    let mut out = Vec::new();
    for dir in ["qmp", "qm", "qps", "mqserver"] {
        let mut names: Vec<_> = std::fs::read_dir(bundled(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".pcap"))
            .collect();
        names.sort();
        for n in names {
            out.push(decode(&format!("{dir}/{n}")));
        }
    }
    out
}

fn session<'a>(c: &'a Collect, m: &Collected) -> &'a SessionInfo {
    c.sessions.iter().find(|s| s.id == m.session).unwrap()
}

fn record<'a>(c: &'a Collect, m: &'a Collected) -> MessageRecord<'a> {
    MessageRecord {
        session: session(c, m),
        index: m.index,
        ts: m.ts,
        frame: m.frame,
        msg: &m.msg,
        reply_to: m.reply_to,
        latency_us: m.latency_us,
        links: &m.links,
    }
}

/// The messages of `cap` that `expr` selects, as (session, index).
fn select(expr: &str, cap: &Capture) -> Vec<(String, u64)> {
    let f = Filter::parse(expr).unwrap_or_else(|e| panic!("{}", e.render(expr)));
    cap.c
        .messages
        .iter()
        .filter(|m| f.matches(&record(&cap.c, m)))
        .map(|m| (m.session.clone(), m.index))
        .collect()
}

/// `expr` selects exactly the messages `oracle` accepts, on every capture;
/// and selects some message somewhere (so the test is not vacuous) unless
/// `may_be_empty`.
fn agrees(
    caps: &[Capture],
    expr: &str,
    may_be_empty: bool,
    oracle: impl Fn(&SessionInfo, &Collected) -> bool,
) {
    let mut total = 0;
    for cap in caps {
        let got = select(expr, cap);
        let want: Vec<(String, u64)> = cap
            .c
            .messages
            .iter()
            .filter(|m| oracle(session(&cap.c, m), m))
            .map(|m| (m.session.clone(), m.index))
            .collect();
        assert_eq!(got, want, "{expr} on {}", cap.name);
        total += got.len();
    }
    assert!(may_be_empty || total > 0, "{expr} selects nothing anywhere");
}

fn field<'a>(m: &'a Message, name: &str) -> Option<&'a Value> {
    m.field(name).map(|f| &f.value)
}

fn int_field(m: &Message, name: &str) -> Option<i64> {
    match field(m, name)? {
        Value::Int(i) => Some(*i),
        Value::UInt(u) => i64::try_from(*u).ok(),
        _ => None,
    }
}

fn str_field<'a>(m: &'a Message, name: &str) -> Option<&'a str> {
    match field(m, name)? {
        Value::Str(s) => Some(s),
        _ => None,
    }
}

fn json_field(m: &Message, name: &str) -> Option<serde_json::Value> {
    match field(m, name)? {
        Value::Json(t) => serde_json::from_str(t).ok(),
        _ => None,
    }
}

/// Bytes of a text value.
fn text(v: &Value) -> Option<&[u8]> {
    match v {
        Value::Str(s) => Some(s.as_bytes()),
        Value::Bytes(b) => Some(b),
        _ => None,
    }
}

/// Some value at `path` (through structs, and every element of lists)
/// satisfies `pred`: an oracle for `PROTO.PATH`.
fn deep(fields: &[Field], path: &[&str], pred: &dyn Fn(&Value) -> bool) -> bool {
    fn on(v: &Value, rest: &[&str], pred: &dyn Fn(&Value) -> bool) -> bool {
        match (rest, v) {
            ([], _) => pred(v),
            (_, Value::Struct(k)) => deep(k, rest, pred),
            (_, Value::List(items)) => items.iter().any(|i| on(&i.value, rest, pred)),
            _ => false,
        }
    }
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    fields
        .iter()
        .filter(|f| f.name == *first)
        .any(|f| on(&f.value, rest, pred))
}

fn us(ts: &Timestamp) -> i64 {
    ts.secs * 1_000_000 + i64::from(ts.nanos / 1000)
}

// ---------------------------------------------------------------------------
// Common fields and operators, on every capture.

#[test]
fn common_fields_agree_with_the_records() {
    let caps = all_captures();
    agrees(&caps, "dir == c2s", false, |_, m| m.msg.dir == Dir::C2S);
    agrees(&caps, "dir != c2s", false, |_, m| m.msg.dir == Dir::S2C);
    agrees(&caps, "dir eq s2c", false, |_, m| m.msg.dir == Dir::S2C);
    agrees(&caps, "kind == response", false, |_, m| {
        m.msg.kind == Kind::Response
    });
    agrees(&caps, "kind == RESPONSE", false, |_, m| {
        m.msg.kind == Kind::Response
    });
    agrees(&caps, "kind in {event, push greeting}", false, |_, m| {
        matches!(m.msg.kind, Kind::Event | Kind::Push | Kind::Greeting)
    });
    agrees(&caps, "proto == qm", false, |s, _| s.proto == Proto::Qm);
    agrees(&caps, "qps", false, |s, _| s.proto == Proto::Qps);
    agrees(&caps, "mqserver || qm", false, |s, _| {
        matches!(s.proto, Proto::MqServer | Proto::Qm)
    });
    agrees(&caps, "session == s2", false, |s, _| s.id == "s2");
    agrees(&caps, "name == \"Read\"", false, |_, m| {
        m.msg.name == "Read"
    });
    agrees(&caps, "name contains \"query\"", false, |_, m| {
        m.msg.name.contains("query")
    });
    agrees(&caps, "name matches \"^query-[a-s]\"", false, |_, m| {
        m.msg.name.starts_with("query-")
            && m.msg
                .name
                .as_bytes()
                .get(6)
                .is_some_and(|b| (b'a'..=b's').contains(b))
    });
    agrees(&caps, "name ~ r\"(?i)^GET\"", false, |_, m| {
        m.msg.name.to_ascii_lowercase().starts_with("get")
    });
    agrees(&caps, "name > \"S\" && name < \"T\"", false, |_, m| {
        m.msg.name.as_str() > "S" && m.msg.name.as_str() < "T"
    });
    agrees(&caps, "summary contains \"session\"", false, |_, m| {
        m.msg.summary.contains("session")
    });
    agrees(&caps, "error", false, |_, m| m.msg.is_error);
    agrees(&caps, "!error", false, |_, m| !m.msg.is_error);
    agrees(&caps, "error == false", false, |_, m| !m.msg.is_error);
    agrees(&caps, "error != true", false, |_, m| !m.msg.is_error);
    agrees(&caps, "latency", false, |_, m| m.latency_us.is_some());
    agrees(&caps, "latency > 1ms", false, |_, m| {
        m.latency_us.is_some_and(|l| l > 1000)
    });
    agrees(
        &caps,
        "latency >= 250us && latency < 1.5s",
        false,
        |_, m| m.latency_us.is_some_and(|l| (250..1_500_000).contains(&l)),
    );
    agrees(&caps, "latency <= 0.2ms", false, |_, m| {
        m.latency_us.is_some_and(|l| l <= 200)
    });
    agrees(&caps, "latency > 2s", false, |_, m| {
        m.latency_us.is_some_and(|l| l > 2_000_000)
    });
    agrees(&caps, "latency < 1m", false, |_, m| {
        m.latency_us.is_some_and(|l| l < 60_000_000)
    });
    // Absent fields make every comparison false, `!=` included.
    agrees(&caps, "latency != 1s", false, |_, m| {
        m.latency_us.is_some_and(|l| l != 1_000_000)
    });
    agrees(&caps, "!(latency == 1s)", false, |_, m| {
        m.latency_us != Some(1_000_000)
    });
    agrees(&caps, "index < 3", false, |_, m| m.index < 3);
    agrees(&caps, "index in {0, 0x2 5}", false, |_, m| {
        matches!(m.index, 0 | 2 | 5)
    });
    agrees(&caps, "index ge 10 and index le 11", false, |_, m| {
        (10..=11).contains(&m.index)
    });
    agrees(&caps, "reply_to == 0", false, |_, m| m.reply_to == Some(0));
    agrees(&caps, "not reply_to", false, |_, m| m.reply_to.is_none());
    agrees(&caps, "len > 100", false, |_, m| m.msg.len > 100);
    agrees(&caps, "offset == 0", false, |_, m| m.msg.offset == 0);
    agrees(&caps, "note contains \"clear-text\"", false, |_, m| {
        m.msg.notes.iter().any(|n| n.text.contains("clear-text"))
    });
    agrees(&caps, "note", false, |_, m| !m.msg.notes.is_empty());
    agrees(&caps, "expert >= warn", false, |_, m| {
        m.msg.notes.iter().any(|n| n.severity >= Severity::Warn)
    });
    agrees(&caps, "expert == info", false, |_, m| {
        m.msg.notes.iter().map(|n| n.severity).max() == Some(Severity::Info)
    });
    agrees(&caps, "session.mid_stream", true, |s, _| s.mid_stream);
}

#[test]
fn addresses_and_ports_follow_the_direction() {
    let caps = all_captures();
    agrees(&caps, "ip.addr == 127.0.0.1", false, |_, _| true);
    agrees(&caps, "ip.addr == 127.0.0.0/8", false, |_, _| true);
    agrees(&caps, "ip.src == \"127.0.0.1\"", false, |_, _| true);
    agrees(
        &caps,
        "ip.addr == ::1 || ip.dst == 10.0.0.0/8",
        true,
        |_, _| false,
    );
    agrees(&caps, "ip.addr != 127.0.0.1", true, |_, _| false);
    agrees(&caps, "ip.addr != 192.168.0.0/16", false, |_, _| true);
    agrees(&caps, "tcp.port == 4444", false, |s, _| {
        s.server.port() == 4444 || s.client.port() == 4444
    });
    agrees(&caps, "tcp.srcport == 4444", false, |s, m| {
        let src = match m.msg.dir {
            Dir::C2S => s.client,
            Dir::S2C => s.server,
        };
        src.port() == 4444
    });
    agrees(&caps, "tcp.dstport == 4243", false, |s, m| {
        let dst = match m.msg.dir {
            Dir::C2S => s.server,
            Dir::S2C => s.client,
        };
        dst.port() == 4243
    });
    agrees(&caps, "tcp.dstport > 40000", false, |s, m| {
        let dst = match m.msg.dir {
            Dir::C2S => s.server,
            Dir::S2C => s.client,
        };
        dst.port() > 40000
    });
    agrees(&caps, "tcp.port in {7070 1234}", false, |s, _| {
        [7070, 1234].contains(&s.server.port())
    });
}

#[test]
fn times_compare_with_rfc3339_and_durations() {
    let caps = all_captures();
    let cap = caps
        .iter()
        .find(|c| c.name == "qmp/qmp-events.pcap")
        .unwrap();
    let mid = &cap.c.messages[cap.c.messages.len() / 2];
    let t = Timestamp::from_micros(us(&mid.ts));
    let text = t.rfc3339();
    let expr = format!("frame.time >= \"{text}\"");
    agrees(std::slice::from_ref(cap), &expr, false, |_, m| {
        us(&m.ts) >= us(&mid.ts)
    });
    let secs = format!("frame.time < {}.{:06}", t.secs, t.nanos / 1000);
    agrees(std::slice::from_ref(cap), &secs, false, |_, m| {
        us(&m.ts) < us(&mid.ts)
    });
    agrees(&caps, "session.elapsed > 1s", false, |s, m| {
        m.ts.micros_since(&s.start) > 1_000_000
    });
    agrees(&caps, "frame.time > \"2000-01-01\"", false, |_, _| true);
    agrees(
        &caps,
        "frame.time < \"2000-01-01T00:00:00+01:00\"",
        true,
        |_, _| false,
    );
}

// ---------------------------------------------------------------------------
// Protocol fields.

#[test]
fn qmp_fields() {
    let caps: Vec<Capture> = all_captures()
        .into_iter()
        .filter(|c| c.name.starts_with("qmp/"))
        .collect();
    // The command of requests and of the responses that answer them.
    agrees(&caps, "qmp.execute == \"query-status\"", false, |_, m| {
        m.msg.name == "query-status" && (m.msg.kind == Kind::Request || m.reply_to.is_some())
    });
    agrees(
        &caps,
        "qmp.execute == query-status && kind == response",
        false,
        |_, m| m.msg.name == "query-status" && m.msg.kind == Kind::Response,
    );
    agrees(&caps, "qmp.execute", false, |_, m| {
        str_field(&m.msg, "execute").is_some()
            || str_field(&m.msg, "exec-oob").is_some()
            || (m.msg.kind == Kind::Response && m.reply_to.is_some())
    });
    agrees(&caps, "qmp.execute matches \"^guest-\"", false, |_, m| {
        m.msg.name.starts_with("guest-")
    });
    // Falls back to the JSON message when the dissector did not make it a
    // field (a command with both execute and exec-oob).
    agrees(&caps, "qmp.exec-oob", false, |_, m| {
        json_field(&m.msg, "value").is_some_and(|v| v.get("exec-oob").is_some())
    });
    agrees(&caps, "qmp.exec-oob == \"query-status\"", false, |_, m| {
        json_field(&m.msg, "value").is_some_and(|v| v["exec-oob"] == "query-status")
    });
    agrees(&caps, "qmp.event", false, |_, m| m.msg.kind == Kind::Event);
    agrees(&caps, "qmp.event == RESUME", false, |_, m| {
        m.msg.kind == Kind::Event && m.msg.name == "RESUME"
    });
    agrees(
        &caps,
        "qmp.event in {\"STOP\" \"RESUME\"}",
        false,
        |_, m| m.msg.kind == Kind::Event && (m.msg.name == "STOP" || m.msg.name == "RESUME"),
    );
    agrees(&caps, "qmp.error.class == GenericError", false, |_, m| {
        str_field(&m.msg, "class") == Some("GenericError")
    });
    agrees(
        &caps,
        "qmp.error.desc contains \"JSON parse error\"",
        false,
        |_, m| str_field(&m.msg, "desc").is_some_and(|d| d.contains("JSON parse error")),
    );
    agrees(&caps, "qmp.error", false, |_, m| {
        json_field(&m.msg, "value").is_some_and(|v| v.get("error").is_some())
    });
    // ids are JSON: an unquoted number matches numbers and strings.
    agrees(&caps, "qmp.id == \"my-id-1\"", false, |_, m| {
        json_field(&m.msg, "id") == Some(serde_json::json!("my-id-1"))
    });
    agrees(&caps, "qmp.id == 1", false, |_, m| {
        let id = json_field(&m.msg, "id");
        id == Some(serde_json::json!(1)) || id == Some(serde_json::json!("1"))
    });
    agrees(&caps, "qmp.id == \"1\"", true, |_, m| {
        json_field(&m.msg, "id") == Some(serde_json::json!("1"))
    });
    agrees(
        &caps,
        "qmp.id matches \"^__qmp#0000[12]$\"",
        false,
        |_, m| {
            json_field(&m.msg, "id").is_some_and(|v| {
                v == serde_json::json!("__qmp#00001") || v == serde_json::json!("__qmp#00002")
            })
        },
    );
    agrees(&caps, "qmp.id != \"__qmp#00000\"", false, |_, m| {
        json_field(&m.msg, "id").is_some_and(|v| v != serde_json::json!("__qmp#00000"))
    });
    // The whole message as text.
    agrees(
        &caps,
        "qmp.value contains \"prelaunch\"",
        false,
        |_, m| matches!(field(&m.msg, "value"), Some(Value::Json(t)) if t.contains("prelaunch")),
    );
    // Paths into the JSON message.
    agrees(
        &caps,
        "qmp.arguments.command-line == \"info version\"",
        false,
        |_, m| {
            json_field(&m.msg, "value")
                .is_some_and(|v| v["arguments"]["command-line"] == "info version")
        },
    );
    agrees(
        &caps,
        "qmp.arguments.enable contains \"oob\"",
        false,
        |_, m| {
            json_field(&m.msg, "value").is_some_and(|v| {
                v["arguments"]["enable"]
                    .as_array()
                    .is_some_and(|a| a.contains(&serde_json::json!("oob")))
            })
        },
    );
    agrees(&caps, "qmp.return.status == \"running\"", false, |_, m| {
        json_field(&m.msg, "value").is_some_and(|v| v["return"]["status"] == "running")
    });
    agrees(&caps, "qmp.return.running == true", false, |_, m| {
        json_field(&m.msg, "value").is_some_and(|v| v["return"]["running"] == true)
    });
    agrees(&caps, "qmp.return.qemu.major >= 7", false, |_, m| {
        json_field(&m.msg, "value").is_some_and(|v| {
            v["return"]["qemu"]["major"]
                .as_i64()
                .is_some_and(|n| n >= 7)
        })
    });
    agrees(&caps, "qmp.return.0.type == chardev", false, |_, m| {
        json_field(&m.msg, "value").is_some_and(|v| v["return"][0]["type"] == "chardev")
    });
    agrees(&caps, "qmp.return.name == \"device_add\"", false, |_, m| {
        json_field(&m.msg, "value").is_some_and(|v| {
            v["return"]
                .as_array()
                .is_some_and(|a| a.iter().any(|e| e["name"] == "device_add"))
        })
    });
    agrees(&caps, "qmp.data", false, |_, m| {
        json_field(&m.msg, "value").is_some_and(|v| v.get("data").is_some())
    });
    agrees(&caps, "qmp.timestamp.seconds > 0", false, |_, m| {
        json_field(&m.msg, "value").is_some_and(|v| v.get("timestamp").is_some())
    });
    // Greeting fields.
    agrees(&caps, "qmp.capabilities contains \"oob\"", false, |_, m| {
        m.msg.kind == Kind::Greeting
    });
    agrees(&caps, "qmp.capabilities == \"oob\"", false, |_, m| {
        m.msg.kind == Kind::Greeting
    });
    agrees(&caps, "qmp.capabilities contains \"oo\"", true, |_, _| {
        false
    });
    agrees(&caps, "qmp.version == \"7.2.22\"", false, |_, m| {
        m.msg.kind == Kind::Greeting
    });
    agrees(&caps, "qmp.package matches \"Debian\"", false, |_, m| {
        m.msg.kind == Kind::Greeting
    });
    // Other protocols' fields are absent on QMP messages.
    agrees(
        &caps,
        "qm.function || qps.code || mqserver.msgtype",
        true,
        |_, _| false,
    );
}

#[test]
fn qm_fields() {
    let caps: Vec<Capture> = all_captures()
        .into_iter()
        .filter(|c| c.name.starts_with("qm/"))
        .collect();
    let function = |m: &Collected| -> bool { m.msg.dir == Dir::C2S || m.reply_to.is_some() };
    for expr in [
        "qm.function == Read",
        "qm.function == read",
        "qm.function == 6",
    ] {
        agrees(&caps, expr, false, |_, m| {
            m.msg.name == "Read" && function(m)
        });
    }
    agrees(&caps, "qm.function in {Login LocalLogin}", false, |_, m| {
        (m.msg.name == "Login" || m.msg.name == "LocalLogin") && function(m)
    });
    agrees(
        &caps,
        "qm.function == Execute && dir == s2c",
        false,
        |_, m| m.msg.name == "Execute" && m.msg.dir == Dir::S2C && m.reply_to.is_some(),
    );
    agrees(&caps, "qm.function contains \"read\"", false, |_, m| {
        m.msg.name.to_lowercase().contains("read") && function(m)
    });
    agrees(&caps, "qm.function matches \"^Read[lu]\"", false, |_, m| {
        (m.msg.name.starts_with("Readl") || m.msg.name.starts_with("Readu")) && function(m)
    });
    agrees(&caps, "qm.function > 40", false, |_, m| {
        m.msg.dir == Dir::C2S && int_field(&m.msg, "code").is_some_and(|c| c > 40)
            || m.msg.dir == Dir::S2C
                && m.reply_to.is_some()
                && (m.msg.name.starts_with("unknown function")
                    || [
                        "Readv",
                        "SetLeft",
                        "SetRight",
                        "SelectLeft",
                        "SelectRight",
                        "MarkMapping",
                    ]
                    .contains(&m.msg.name.as_str()))
    });
    agrees(&caps, "qm.code == 24", false, |_, m| {
        int_field(&m.msg, "code") == Some(24)
    });
    for expr in [
        "qm.outcome != SV_OK",
        "qm.outcome != ok",
        "qm.outcome > 0",
        "!(qm.outcome == 0) && qm.outcome",
    ] {
        agrees(&caps, expr, false, |_, m| {
            int_field(&m.msg, "outcome").is_some_and(|o| o != 0)
        });
    }
    agrees(&caps, "qm.outcome == SV_ON_ERROR", false, |_, m| {
        int_field(&m.msg, "outcome") == Some(1)
    });
    agrees(&caps, "qm.outcome == \"SV$ELSE\"", false, |_, m| {
        int_field(&m.msg, "outcome") == Some(2)
    });
    agrees(&caps, "qm.outcome == prompt", false, |_, m| {
        int_field(&m.msg, "outcome") == Some(5)
    });
    agrees(&caps, "qm.status == 3006", false, |_, m| {
        int_field(&m.msg, "status") == Some(3006)
    });
    agrees(&caps, "qm.status_meaning", false, |_, m| {
        m.msg.field("status_meaning").is_some()
    });
    agrees(&caps, "qm.user == \"qmtest\"", false, |_, m| {
        deep(&m.msg.fields, &["user"], &|v| {
            text(v) == Some(b"qmtest".as_slice())
        })
    });
    // Lists of structs: each element in turn, or one by index.
    agrees(
        &caps,
        "qm.args.value",
        false,
        |_, m| matches!(field(&m.msg, "args"), Some(Value::List(l)) if l.iter().any(|a| matches!(&a.value, Value::Struct(k) if k.iter().any(|f| f.name == "value")))),
    );
    agrees(
        &caps,
        "qm.args.0",
        false,
        |_, m| matches!(field(&m.msg, "args"), Some(Value::List(l)) if !l.is_empty()),
    );
}

#[test]
fn qps_fields() {
    let caps: Vec<Capture> = all_captures()
        .into_iter()
        .filter(|c| c.name.starts_with("qps/"))
        .collect();
    agrees(&caps, "qps.code == 5 && dir == c2s", false, |_, m| {
        m.msg.name == "Signon" && m.msg.dir == Dir::C2S
    });
    agrees(&caps, "qps.code != 0 && dir == s2c", false, |_, m| {
        m.msg.dir == Dir::S2C && int_field(&m.msg, "code").is_some_and(|c| c != 0)
    });
    for expr in [
        "qps.request == Signon",
        "qps.request == 5",
        "qps.request == signon",
    ] {
        agrees(&caps, expr, false, |_, m| {
            m.msg.name == "Signon" && (m.msg.dir == Dir::C2S || m.reply_to.is_some())
        });
    }
    agrees(&caps, "qps.status == 5", false, |_, m| {
        int_field(&m.msg, "status") == Some(5)
    });
    agrees(&caps, "qps.seq == 3", false, |_, m| {
        int_field(&m.msg, "seq") == Some(3)
    });
    agrees(&caps, "qps.session_id > 0", false, |_, m| {
        int_field(&m.msg, "session_id").is_some_and(|s| s > 0)
    });
    // Deep paths through lists of structs.
    agrees(&caps, "qps.items.name == \"Slug\"", false, |_, m| {
        m.msg.name == "GetHeaders" && m.msg.dir == Dir::S2C
    });
    agrees(&caps, "qps.items.field_name == \"Slug\"", false, |_, m| {
        deep(&m.msg.fields, &["items", "field_name"], &|v| {
            text(v) == Some(b"Slug".as_slice())
        })
    });
    agrees(
        &caps,
        "qps.header.items.type_name == \"Float\"",
        false,
        |_, m| {
            deep(&m.msg.fields, &["header", "items", "type_name"], &|v| {
                text(v) == Some(b"Float".as_slice())
            })
        },
    );
    agrees(
        &caps,
        "qps.publications.name contains \"Herald\"",
        false,
        |_, m| {
            deep(&m.msg.fields, &["publications", "name"], &|v| {
                text(v).is_some_and(|t| t.windows(6).any(|w| w == b"Herald"))
            })
        },
    );
    agrees(&caps, "qps.added", false, |_, m| {
        m.msg.field("added").is_some()
    });
    agrees(&caps, "qps.added == true", true, |_, m| {
        field(&m.msg, "added") == Some(&Value::Bool(true))
    });
}

#[test]
fn mqserver_fields() {
    let caps: Vec<Capture> = all_captures()
        .into_iter()
        .filter(|c| c.name.starts_with("mqserver/"))
        .collect();
    for expr in [
        "mqserver.msgtype == ACK",
        "mqserver.msgtype == ack",
        "mqserver.msgtype == 1",
    ] {
        agrees(&caps, expr, false, |_, m| m.msg.name == "ACK");
    }
    agrees(
        &caps,
        "mqserver.msgtype in {MSGFRCLNT SENDTOQUEUE}",
        false,
        |_, m| m.msg.name == "MSGFROMCLNT" || m.msg.name == "SENDTOQUEUE",
    );
    agrees(&caps, "mqserver.msgtype >= 15", false, |_, m| {
        int_field(&m.msg, "msgtype").is_some_and(|t| t >= 15)
    });
    agrees(
        &caps,
        "mqserver.msgtype matches \"QUEUE$\"",
        false,
        |_, m| m.msg.name.ends_with("QUEUE"),
    );
    agrees(&caps, "mqserver.mid == 2", false, |_, m| {
        int_field(&m.msg, "mid") == Some(2)
    });
    agrees(&caps, "mqserver.encoding == xml", false, |_, m| {
        str_field(&m.msg, "encoding") == Some("xml")
    });
    agrees(
        &caps,
        "mqserver.flags.require_ack == true",
        true,
        |_, m| matches!(field(&m.msg, "flags"), Some(Value::Struct(k)) if k.iter().any(|f| f.name == "require_ack" && f.value == Value::Bool(true))),
    );
    agrees(
        &caps,
        "mqserver.flags.value",
        false,
        |_, m| matches!(field(&m.msg, "flags"), Some(Value::Struct(k)) if k.iter().any(|f| f.name == "value")),
    );
    agrees(&caps, "mqserver.user == fish", false, |_, m| {
        deep(&m.msg.fields, &["user"], &|v| {
            text(v) == Some(b"fish".as_slice())
        })
    });
    agrees(
        &caps,
        "mqserver.users.user contains \"li\"",
        true,
        |_, m| {
            deep(&m.msg.fields, &["users", "user"], &|v| {
                text(v).is_some_and(|t| t.windows(2).any(|w| w == b"li"))
            })
        },
    );
}

/// Every field the dissectors produce on the shared captures can be named
/// with `PROTO.PATH` (none is taken for a typo of a documented field).
#[test]
fn every_decoded_field_can_be_named() {
    fn paths(prefix: &str, fields: &[Field], out: &mut Vec<String>) {
        for f in fields {
            let p = format!("{prefix}.{}", f.name);
            match &f.value {
                Value::Struct(k) => paths(&p, k, out),
                Value::List(items) => {
                    for i in items {
                        if let Value::Struct(k) = &i.value {
                            paths(&p, k, out);
                        }
                    }
                }
                _ => {}
            }
            out.push(p);
        }
    }
    let mut n = 0;
    for cap in all_captures() {
        for m in &cap.c.messages {
            let s = session(&cap.c, m);
            let mut ps = Vec::new();
            paths(s.proto.as_str(), &m.msg.fields, &mut ps);
            for p in ps {
                if p.contains(|c: char| !(c.is_alphanumeric() || "_.-".contains(c))) {
                    continue;
                }
                let f = Filter::parse(&p).unwrap_or_else(|e| panic!("{}", e.render(&p)));
                assert!(f.matches(&record(&cap.c, m)), "{p} on {}", cap.name);
                n += 1;
            }
        }
    }
    assert!(n > 1000);
}

// ---------------------------------------------------------------------------
// Hand-built messages: value kinds the captures do not have.

fn info(proto: Proto) -> SessionInfo {
    SessionInfo {
        id: "s7".into(),
        proto,
        client: "[2001:db8::5]:50000".parse::<SocketAddr>().unwrap(),
        server: "[::ffff:10.1.2.3]:4444".parse::<SocketAddr>().unwrap(),
        start: Timestamp::from_micros(1_000_000),
        t0: Timestamp::from_micros(500_000),
        mid_stream: true,
    }
}

fn f(name: &'static str, value: Value) -> Field {
    Field::new(name, None, value)
}

fn synthetic() -> Message {
    let mut m = Message::new(Dir::S2C, 42, Kind::Other, "thing");
    m.fields = vec![
        f("bytes", Value::Bytes(b"\x00ab\xffcd".to_vec())),
        f("text", Value::Bytes(b"hello world".to_vec())),
        f("float", Value::Float(2.5)),
        f("neg", Value::Int(-3)),
        f("big", Value::UInt(u64::MAX)),
        f("null", Value::Null),
        f("flag", Value::Bool(false)),
        f(
            "s",
            Value::Struct(vec![
                f("a", Value::Int(1)),
                f("b", Value::Struct(vec![f("c", Value::Str("deep".into()))])),
            ]),
        ),
        f(
            "l",
            Value::List(vec![
                f("x", Value::Str("one".into())),
                f("x", Value::Str("two".into())),
            ]),
        ),
        f(
            "j",
            Value::Json(r#"{"k": [1, "2", {"z": null}], "t": true}"#.into()),
        ),
        f("jarr", Value::Json(r#"["a", "b"]"#.into())),
        f("jnum", Value::Json("12.5".into())),
        f("dup", Value::Int(1)),
        f("dup", Value::Int(2)),
        f("ünï", Value::Str("cödé".into())),
    ];
    m.notes = vec![Note::info("first note"), Note::error("bad thing")];
    m.is_error = true;
    m
}

fn eval(expr: &str, proto: Proto, m: &Message) -> bool {
    let s = info(proto);
    let rec = MessageRecord {
        session: &s,
        index: 9,
        ts: Timestamp::from_micros(3_500_000),
        frame: 31,
        msg: m,
        reply_to: Some(4),
        latency_us: Some(1500),
        links: &[],
    };
    let f = Filter::parse(expr).unwrap_or_else(|e| panic!("{}", e.render(expr)));
    f.matches(&rec)
}

#[test]
fn value_kinds_on_a_synthetic_message() {
    let m = synthetic();
    let t = |e: &str| assert!(eval(e, Proto::Qps, &m), "should match: {e}");
    let n = |e: &str| assert!(!eval(e, Proto::Qps, &m), "should not match: {e}");
    // bytes
    t("qps.bytes contains \"ab\"");
    t("qps.text == \"hello world\"");
    t("qps.text matches \"^hel+o\"");
    t("qps.bytes contains \"\\x00a\"");
    n("qps.bytes contains \"zz\"");
    // numbers
    t("qps.float > 2");
    t("qps.float == 2.5");
    t("qps.float < 2.6");
    n("qps.float == 2");
    t("qps.neg < 0");
    t("qps.neg == -3");
    t("qps.big == 18446744073709551615");
    t("qps.big > 0xffff");
    n("qps.neg == \"-3\"");
    // null and booleans: a bare field tests presence
    t("qps.null == null");
    t("qps.null");
    t("qps.flag");
    t("qps.flag == false");
    n("qps.flag == true");
    t("qps.flag != true");
    // structs and lists
    t("qps.s.a == 1");
    t("qps.s.b.c == deep");
    n("qps.s == 1");
    n("qps.s.b.d");
    t("qps.l == two");
    t("qps.l contains \"one\"");
    n("qps.l contains \"on\"");
    t("qps.l.1 == two");
    n("qps.l.2");
    t("qps.l in {three two}");
    // JSON: paths, arrays, objects as text
    t("qps.j.t == true");
    t("qps.j.k contains 1");
    t("qps.j.k contains \"2\"");
    t("qps.j.k == 2");
    n("qps.j.k contains \"1\"");
    t("qps.j.k.2.z == null");
    t("qps.j.k.z");
    t("qps.j contains \"\\\"z\\\"\"");
    t("qps.jarr contains b");
    t("qps.jnum > 12");
    t("qps.jnum < 13");
    // several fields with one name: any of them
    t("qps.dup == 2");
    t("qps.dup == 1");
    n("qps.dup != 1");
    t("qps.dup != 3");
    t("qps.ünï == \"cödé\"");
    // the protocol is checked
    n("qmp.dup");
    n("qm.dup");
    // common fields
    t("error");
    t("kind == other");
    t("latency == 1.5ms");
    t("latency == 1500us");
    t("reply_to == 4");
    t("index == 9");
    t("session.elapsed == 2.5s");
    t("session.mid_stream");
    t("expert == error");
    t("note == \"first note\"");
    t("note matches \"^bad\"");
    t("ip.src == 10.1.2.3");
    t("ip.src == ::ffff:10.1.2.3");
    t("ip.dst == 2001:db8::/32");
    t("ip.addr == 2001:db8::5");
    n("ip.src == 2001:db8::/32");
    t("tcp.srcport == 4444");
    t("tcp.dstport == 50000");
    t("frame.time == 3.5");
    t("frame.time == \"1970-01-01T00:00:03.5Z\"");
}

#[test]
fn qmp_execute_is_the_command_of_requests_and_paired_responses() {
    let mut req = Message::new(Dir::C2S, 10, Kind::Request, "stop");
    req.fields = vec![
        f(
            "value",
            Value::Json(r#"{"execute":"stop","arguments":{"x":1}}"#.into()),
        ),
        f("execute", Value::Str("stop".into())),
    ];
    assert!(eval("qmp.execute == stop", Proto::Qmp, &req));
    assert!(eval("qmp.arguments.x == 1", Proto::Qmp, &req));
    let mut resp = Message::new(Dir::S2C, 10, Kind::Response, "stop");
    resp.reply_to = Some(qscope_dissectors::MsgRef {
        dir: Dir::C2S,
        offset: 0,
    });
    assert!(eval("qmp.execute == stop", Proto::Qmp, &resp));
    let unpaired = Message::new(Dir::S2C, 10, Kind::Response, "return");
    assert!(!eval("qmp.execute", Proto::Qmp, &unpaired));
    let mut bad = Message::new(Dir::C2S, 10, Kind::Request, "(no execute)");
    bad.fields = vec![f("value", Value::Json("{}".into()))];
    assert!(!eval("qmp.execute", Proto::Qmp, &bad));
    assert!(!eval("qmp.execute == stop", Proto::Qm, &req));
}

// ---------------------------------------------------------------------------
// Errors: exact text and column.

fn error(expr: &str) -> FilterError {
    match Filter::parse(expr) {
        Ok(_) => panic!("{expr:?} should not parse"),
        Err(e) => e,
    }
}

#[track_caller]
fn fails(expr: &str, column: usize, message: &str) {
    let e = error(expr);
    assert_eq!(
        (e.column, e.message.as_str()),
        (column, message),
        "{}",
        e.render(expr)
    );
}

#[test]
fn error_messages_and_columns() {
    // unknown fields, with the closest name
    fails(
        "qmp.exeute == \"x\"",
        1,
        "unknown field 'qmp.exeute' (did you mean 'qmp.execute'?)",
    );
    fails(
        "dir == c2s && latncy > 1ms",
        15,
        "unknown field 'latncy' (did you mean 'latency'?)",
    );
    fails(
        "qmpp.execute",
        1,
        "unknown field 'qmpp.execute' (did you mean 'qmp.execute'?)",
    );
    fails(
        "qmp.error.clas == x",
        1,
        "unknown field 'qmp.error.clas' (did you mean 'qmp.error.class'?)",
    );
    fails(
        "http.host == x",
        1,
        "unknown field 'http.host' (qscope help filters lists every field)",
    );
    fails(
        "5 == index",
        1,
        "expected a field, found the value '5' (fields come first: index == 5)",
    );
    fails(
        "qm..code",
        1,
        "invalid field name 'qm..code' (empty path step)",
    );
    // strings
    fails(
        "name == \"abc",
        9,
        "unterminated string (missing closing \")",
    );
    fails("name == 'abc", 9, "unterminated string (missing closing ')");
    fails(
        "name == r\"abc",
        9,
        "unterminated string (missing closing \")",
    );
    fails(
        "name == \"\\x4\"",
        10,
        "invalid escape: \\x needs two hex digits 00-7F (use \\u{...} above)",
    );
    fails(
        "name == \"\\u{110000}\"",
        10,
        "invalid escape: expected \\u{HEX} with a Unicode scalar value",
    );
    // regular expressions
    fails(
        "name matches \"(abc\"",
        14,
        "invalid regular expression: unclosed group",
    );
    fails(
        "name ~ \"a{99999}{99999}\"",
        8,
        "invalid regular expression: Compiled regex exceeds size limit of 1048576 bytes.",
    );
    // parentheses
    fails("(name == x", 1, "unclosed '(' (missing ')')");
    fails("((name == x)", 1, "unclosed '(' (missing ')')");
    fails("name == x)", 10, "unexpected ')' (no matching '(')");
    fails(")", 1, "unexpected ')' (no matching '(')");
    fails("()", 2, "empty parentheses: expected a test inside");
    fails(
        "(qmp &&)",
        8,
        "expected a field, '!' or '(' after '&&', found ')'",
    );
    // missing operands and operators
    fails("qmp.execute ==", 15, "expected a value after '=='");
    fails("qmp.execute == ", 16, "expected a value after '=='");
    fails("index == && qmp", 10, "expected a value after '=='");
    fails("name contains", 14, "expected a value after 'contains'");
    fails("qmp &&", 7, "expected a field, '!' or '(' after '&&'");
    fails("qmp or", 7, "expected a field, '!' or '(' after 'or'");
    fails("!", 2, "expected a field, '!' or '(' after '!'");
    fails("not", 4, "expected a field, '!' or '(' after 'not'");
    fails("&& qmp", 1, "missing operand before '&&'");
    fails("qmp && || qm", 8, "missing operand before '||'");
    fails("== 5", 1, "missing field before '=='");
    fails("contains \"x\"", 1, "missing field before 'contains'");
    fails(
        "\"query-status\"",
        1,
        "a value cannot stand alone: expected a field at the start (e.g. name == \"query-status\")",
    );
    fails(
        "name \"x\"",
        6,
        "expected an operator (==, !=, <, >, contains, matches, in ...) between 'name' and \"x\"",
    );
    fails("", 1, "empty filter expression");
    fails("   ", 1, "empty filter expression");
    // trailing input
    fails(
        "qmp foo",
        5,
        "unexpected 'foo' after a complete expression (missing '&&' or '||'?)",
    );
    fails(
        "index == 1 2",
        12,
        "unexpected '2' after a complete expression (missing '&&' or '||'?)",
    );
    fails(
        "index == 1 == 2",
        12,
        "unexpected '==': a comparison needs a field on its left",
    );
    // characters
    fails("name = x", 6, "unexpected '=' (use '==' to compare)");
    fails("qmp & qm", 5, "unexpected '&' (use '&&' or 'and')");
    fails("qmp | qm", 5, "unexpected '|' (use '||' or 'or')");
    fails("name == #", 9, "unexpected character '#'");
    fails("name == \u{7}", 9, "unexpected character U+0007");
    // types, caught at parse time
    fails(
        "latency > \"abc\"",
        11,
        "'latency' is a duration (e.g. 10ms, 1.5s, 250us, 2m), found \"abc\"",
    );
    fails(
        "latency > 10",
        11,
        "'latency' is a duration: give a unit, e.g. 10ms or 10s",
    );
    fails(
        "index == abc",
        10,
        "'index' is an integer (e.g. 42 or 0x2a), found 'abc'",
    );
    fails(
        "ip.addr == 300.1.1.1",
        12,
        "'ip.addr' is an IP address (e.g. 127.0.0.1, ::1 or 10.0.0.0/8), found '300.1.1.1'",
    );
    fails(
        "error == maybe",
        10,
        "'error' is a boolean (true or false), found 'maybe'",
    );
    fails(
        "expert > fatal",
        10,
        "'expert' is a severity (info, warn or error), found 'fatal'",
    );
    fails(
        "frame.time > yesterday",
        14,
        "'frame.time' is a time (e.g. \"2026-11-22T02:26:09Z\", \"2026-11-22 02:26:09.5+01:00\" or Unix seconds), found 'yesterday'",
    );
    fails(
        "kind == requset",
        9,
        "'kind' is one of request, response, event, greeting, push, other, found 'requset' (did you mean 'request'?)",
    );
    fails("dir == up", 8, "'dir' is one of c2s, s2c, found 'up'");
    fails(
        "qm.function == Reed",
        16,
        "unknown QM function 'Reed' for 'qm.function' (did you mean 'Read'?)",
    );
    fails(
        "mqserver.msgtype == HELLO",
        21,
        "unknown MQServer message type 'HELLO' for 'mqserver.msgtype' (qscope help filters lists the names; or give the number)",
    );
    fails(
        "qm.outcome == fine",
        15,
        "unknown QM outcome 'fine' for 'qm.outcome' (qscope help filters lists the names; or give the number)",
    );
    fails(
        "index contains 5",
        7,
        "'contains' cannot be used with 'index', which is an integer",
    );
    fails(
        "latency matches \"1\"",
        9,
        "'matches' cannot be used with 'latency', which is a duration",
    );
    fails(
        "ip.addr > 1.2.3.4",
        9,
        "'>' cannot be used with 'ip.addr', which is an address",
    );
    fails(
        "error < true",
        7,
        "'<' cannot be used with 'error', which is a boolean",
    );
    fails(
        "qmp == 1",
        5,
        "'qmp' is a protocol: it cannot be compared, only tested alone (e.g. qmp && ...)",
    );
    // sets
    fails(
        "tcp.port in 4444",
        13,
        "expected '{' after 'in' (e.g. tcp.port in {4444 4445})",
    );
    fails(
        "tcp.port in {}",
        14,
        "empty set: expected values between '{' and '}'",
    );
    fails("tcp.port in {1 2", 13, "unclosed '{' (missing '}')");
    fails(
        "tcp.port in {1, x}",
        17,
        "'tcp.port' is an integer (e.g. 42 or 0x2a), found 'x'",
    );
    // nesting
    let deep = format!("{}qmp{}", "(".repeat(101), ")".repeat(101));
    fails(
        &deep,
        101,
        "expression nested too deeply (more than 100 levels)",
    );
    let nots = format!("{}qmp", "!".repeat(101));
    fails(
        &nots,
        101,
        "expression nested too deeply (more than 100 levels)",
    );
    assert!(Filter::parse(&format!("{}qmp{}", "(".repeat(100), ")".repeat(100))).is_ok());
    // columns count characters, not bytes
    fails(
        "name == \"é\" && latncy",
        16,
        "unknown field 'latncy' (did you mean 'latency'?)",
    );
}

#[test]
fn errors_render_with_a_caret_and_display_the_column() {
    let expr = "qmp.execute == ";
    let e = error(expr);
    assert_eq!(
        e.render(expr),
        "qmp.execute == \n               ^ expected a value after '=='"
    );
    assert_eq!(e.to_string(), "column 16: expected a value after '=='");
    let expr = "qmp.execute ==";
    assert_eq!(
        error(expr).to_string(),
        "column 15: expected a value after '=='"
    );
    // Tabs keep the caret aligned; line breaks do not add lines.
    let expr = "qmp\t&&\nfoo";
    let e = error(expr);
    assert_eq!(e.column, 8);
    assert_eq!(
        e.render(expr),
        "qmp\t&& foo\n   \t   ^ unknown field 'foo' (qscope help filters lists every field)"
    );
    let e: Box<dyn std::error::Error> = Box::new(error("qmp &&"));
    assert!(e.to_string().starts_with("column 7: "));
}

#[test]
fn long_and_flat_expressions_are_fine() {
    // Flat chains build flat trees: no deep recursion to parse, evaluate
    // or drop.
    let expr = vec!["index == 1"; 20_000].join(" || ");
    let m = synthetic();
    let f = Filter::parse(&expr).unwrap();
    assert_eq!(f.source(), expr);
    let s = info(Proto::Qps);
    let rec = MessageRecord {
        session: &s,
        index: 1,
        ts: Timestamp::default(),
        frame: 1,
        msg: &m,
        reply_to: None,
        latency_us: None,
        links: &[],
    };
    assert!(f.matches(&rec));
    let expr = vec!["index == 1"; 20_000].join(" and ");
    assert!(Filter::parse(&expr).unwrap().matches(&rec));
}

#[test]
fn keywords_and_symbols_are_interchangeable() {
    let m = synthetic();
    for (a, b) in [
        ("error && index == 9", "error and index eq 9"),
        ("error || index != 9", "error or index ne 9"),
        ("!error", "not error"),
        ("index < 10 && index <= 9", "index lt 10 and index le 9"),
        ("index > 8 && index >= 9", "index gt 8 and index ge 9"),
        ("name matches \"^th\"", "name ~ \"^th\""),
        ("(error)", "error"),
    ] {
        assert_eq!(
            eval(a, Proto::Qps, &m),
            eval(b, Proto::Qps, &m),
            "{a} / {b}"
        );
    }
    // precedence: && binds tighter than ||; ! tighter than both
    assert!(eval("index == 1 && error || index == 9", Proto::Qps, &m));
    assert!(!eval("index == 1 && (error || index == 9)", Proto::Qps, &m));
    assert!(!eval("!error || index == 1", Proto::Qps, &m));
    assert!(eval("!(error && index == 1)", Proto::Qps, &m));
    // escapes in strings
    let mut e = Message::new(Dir::C2S, 1, Kind::Request, "a\"b\\c\td\u{e9}'");
    e.fields = vec![];
    assert!(eval(r#"name == "a\"b\\c\td\u{e9}'""#, Proto::Qps, &e));
    assert!(eval(r#"name == 'a"b\\c\td\u{E9}\''"#, Proto::Qps, &e));
    assert!(eval(r#"name == "a\x22b\x5cc\x09dé'""#, Proto::Qps, &e));
    assert!(eval(r#"name matches r"\\c\t""#, Proto::Qps, &e));
    // unknown escapes are kept, so regexes need no doubling
    assert!(eval(r#"name matches "b\\\\c\sd""#, Proto::Qps, &e));
}

// ---------------------------------------------------------------------------
// The field list.

#[test]
fn the_field_list_is_complete_and_documented() {
    let list = fields();
    let names: Vec<&str> = list.iter().map(|f| f.name).collect();
    for required in [
        "proto",
        "dir",
        "session",
        "kind",
        "name",
        "error",
        "latency",
        "index",
        "ip.addr",
        "ip.src",
        "ip.dst",
        "tcp.port",
        "tcp.srcport",
        "tcp.dstport",
        "frame.time",
        "qmp",
        "qmp.execute",
        "qmp.event",
        "qmp.error.class",
        "qmp.error.desc",
        "qmp.id",
        "qm",
        "qm.function",
        "qm.outcome",
        "qps",
        "qps.code",
        "qps.status",
        "mqserver",
        "mqserver.msgtype",
    ] {
        assert!(names.contains(&required), "{required} missing");
    }
    let docs = docs();
    for f in list {
        assert!(!f.doc.is_empty() && !f.kind.is_empty(), "{}", f.name);
        // every field parses alone, and is in the reference
        Filter::parse(f.name).unwrap();
        assert!(
            docs.contains(&format!("| `{}` | {} |", f.name, f.kind)),
            "docs/filters.md lacks the row of {}",
            f.name
        );
    }
}

/// Evaluation allocates nothing, except for paths into JSON.
#[test]
fn evaluation_does_not_allocate() {
    let caps = all_captures();
    let expr = "(qmp.execute == \"query-status\" && latency > 1ms) || ip.addr == 10.0.0.0/8 \
        || qm.function == Read || qm.outcome in {SV_ELSE SV_ERROR} || qmp.id == \"my-id-1\" \
        || qmp.id == 5 || name matches \"^guest-\" || note contains \"clear\" \
        || qps.request == Signon || mqserver.msgtype == ACK || qps.items.name == Slug \
        || mqserver.flags.require_ack || frame.time > \"2030-01-01\" || expert >= warn \
        || qmp.capabilities contains oob || qm.status != 0 || tcp.dstport == 4444";
    let f = Filter::parse(expr).unwrap();
    let mut records = Vec::new();
    for cap in &caps {
        for m in &cap.c.messages {
            records.push(record(&cap.c, m));
        }
    }
    // (warm up: the regex engine keeps a scratch cache per thread)
    let warm = records.iter().filter(|r| f.matches(r)).count();
    let before = allocations();
    let hits = records.iter().filter(|r| f.matches(r)).count();
    assert_eq!(allocations(), before, "evaluation allocated");
    assert_eq!(hits, warm);
    assert!(
        hits > 50 && hits < records.len(),
        "{hits} of {}",
        records.len()
    );
}

fn docs() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/filters.md")).unwrap()
}

/// The examples of docs/filters.md parse, and its table of errors is what
/// the parser says.
#[test]
fn the_documented_examples_and_errors_are_true() {
    let docs = docs();
    let examples = docs
        .split("## Examples")
        .nth(1)
        .and_then(|s| s.split("```text").nth(1))
        .and_then(|s| s.split("```").next())
        .unwrap();
    let mut n = 0;
    for line in examples.lines().filter(|l| !l.trim().is_empty()) {
        let expr = line.split("  ").next().unwrap().trim();
        Filter::parse(expr).unwrap_or_else(|e| panic!("{}", e.render(expr)));
        n += 1;
    }
    assert!(n >= 15);
    let errors = docs
        .split("## Errors")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap();
    let mut n = 0;
    for row in errors.lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = row.split(" | ").collect();
        let (Some(example), Some(result)) = (cells.get(1), cells.get(2)) else {
            continue;
        };
        let Some(expr) = example.strip_prefix('`').and_then(|e| e.strip_suffix('`')) else {
            continue;
        };
        let (message, column) = result.trim_end_matches(" |").rsplit_once(" (").unwrap();
        let message = message
            .strip_prefix('`')
            .and_then(|m| m.strip_suffix('`'))
            .unwrap();
        let column: usize = column.trim_end_matches(')').parse().unwrap();
        let e = error(expr);
        assert_eq!((e.column, e.message.as_str()), (column, message), "{expr}");
        n += 1;
    }
    assert!(n >= 15, "{n} error rows checked");
}

// ---------------------------------------------------------------------------
// No panic, whatever the input.

fn fuzz_messages() -> Vec<(SessionInfo, Message)> {
    let mut out = vec![(info(Proto::Qps), synthetic())];
    for proto in [Proto::Qmp, Proto::Qm, Proto::MqServer] {
        out.push((info(proto), synthetic()));
    }
    let mut q = Message::new(Dir::C2S, 3, Kind::Request, "x");
    q.fields = vec![
        f("value", Value::Json("not json at all".into())),
        f("code", Value::Str("Read".into())),
        f("msgtype", Value::Str("99999999999999999999999".into())),
    ];
    for proto in [Proto::Qmp, Proto::Qm, Proto::MqServer] {
        out.push((info(proto), q.clone()));
    }
    out
}

fn check_no_panic(expr: &str, msgs: &[(SessionInfo, Message)]) {
    match Filter::parse(expr) {
        Ok(f) => {
            assert_eq!(f.source(), expr);
            for (s, m) in msgs {
                let rec = MessageRecord {
                    session: s,
                    index: 0,
                    ts: Timestamp::default(),
                    frame: 1,
                    msg: m,
                    reply_to: Some(0),
                    latency_us: Some(-5),
                    links: &[],
                };
                let _ = f.matches(&rec);
            }
        }
        Err(e) => {
            let len = expr.chars().count();
            assert!(
                (1..=len + 1).contains(&e.column),
                "column {} out of 1..={} for {expr:?}",
                e.column,
                len + 1
            );
            assert!(!e.message.is_empty());
            assert_eq!(e.render(expr).lines().count(), 2, "{expr:?}");
        }
    }
}

/// Pieces of the language, glued at random.
fn piece() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        "qmp",
        "qmp.execute",
        "qmp.id",
        "qmp.value",
        "qmp.arguments.x",
        "qm.function",
        "qm.outcome",
        "qps.code",
        "qps.s.b.c",
        "qps.l.0",
        "qps.j.k",
        "mqserver.msgtype",
        "latency",
        "index",
        "ip.addr",
        "tcp.port",
        "frame.time",
        "error",
        "name",
        "note",
        "expert",
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "contains",
        "matches",
        "~",
        "in",
        "{",
        "}",
        ",",
        "&&",
        "||",
        "!",
        "and",
        "or",
        "not",
        "(",
        ")",
        "\"",
        "'",
        "r\"",
        "\\",
        "\"a\"",
        "10ms",
        "1.5s",
        "0x1f",
        "-3",
        "127.0.0.1",
        "::1",
        "10.0.0.0/8",
        "true",
        "null",
        "Read",
        "SV_OK",
        "ACK",
        "\"(\"",
        "\"[\"",
        "\"\\u{\"",
        "\"\\x\"",
        "é",
        "\t",
        "\n",
        " ",
        "\"2026-11-22T02:26:09Z\"",
        "1e999",
        "99999999999999999999999999999999999999999",
    ]);
    prop::collection::vec(words, 0..12).prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn random_strings_never_panic(s in "\\PC{0,40}") {
        check_no_panic(&s, &fuzz_messages());
    }

    #[test]
    fn random_bytes_as_text_never_panic(b in prop::collection::vec(any::<u8>(), 0..60)) {
        let s = String::from_utf8_lossy(&b);
        check_no_panic(&s, &fuzz_messages());
    }

    #[test]
    fn random_language_pieces_never_panic(s in piece()) {
        check_no_panic(&s, &fuzz_messages());
    }

    #[test]
    fn random_glued_pieces_never_panic(a in piece(), b in piece()) {
        check_no_panic(&format!("{a}{b}"), &fuzz_messages());
        check_no_panic(&a.replace(' ', ""), &fuzz_messages());
    }
}
