//! `qscope stats` output: the [`Detail`] report as aligned tables or as
//! one JSON document. Computation is in `crate::stats`; this only formats.

use std::fmt::Write as _;
use std::io::{self, Write};

use serde_json::{json, Value};

use crate::human::{self, escape};
use crate::record::Latency;
use crate::stats::{thousands, Detail, NameDetail, SESSION_CAP};

fn pct_json(l: &Latency) -> Value {
    match l.percentiles() {
        Some(p) => json!({"count": p.count, "min": p.min, "p50": p.p50, "p95": p.p95,
                          "p99": p.p99, "max": p.max}),
        None => Value::Null,
    }
}

fn name_json(n: &NameDetail) -> Value {
    json!({"messages": n.messages, "requests": n.requests, "replies": n.replies,
           "errors": n.errors, "missing": n.missing, "latency_us": pct_json(&n.latency)})
}

/// The report as one JSON document, then a newline: `expert`, `filter`,
/// `limits` (when a cap was reached), `protocols` (totals, `by_name` and,
/// when names were folded, `folded`), `security`, `sessions`, `slowest`
/// and `type` (keys sorted, as serde_json writes them). Latencies in
/// microseconds, nearest-rank percentiles. Written part by part: the
/// session list (up to the report's cap) is never one JSON tree.
pub fn json(d: &Detail, filter: Option<&str>, out: &mut dyn Write) -> io::Result<()> {
    let mut protos = serde_json::Map::new();
    for (proto, p) in d.protos() {
        let t = p.total();
        let mut by_name = serde_json::Map::new();
        for (name, n) in p.names() {
            by_name.insert(name.to_owned(), name_json(n));
        }
        let mut v = json!({"sessions": p.sessions, "messages": t.messages, "requests": t.requests,
               "replies": t.replies, "errors": t.errors, "missing": t.missing,
               "latency_us": pct_json(&t.latency), "by_name": by_name});
        if p.folded.messages > 0 {
            let mut f = name_json(&p.folded);
            f["names"] = json!(p.folded_names.count());
            v["folded"] = f;
        }
        protos.insert(proto.to_string(), v);
    }
    let slowest: Vec<Value> = d
        .slowest()
        .iter()
        .map(|s| {
            json!({"proto": s.proto, "name": s.name, "session": s.session, "index": s.index,
                   "request": s.request, "ts": s.ts.rfc3339(), "latency_us": s.latency_us})
        })
        .collect();
    let expert: Vec<Value> = d
        .expert()
        .iter()
        .map(|g| json!({"severity": g.severity.as_str(), "text": g.text, "count": g.count, "at": g.at}))
        .collect();
    let security: Vec<Value> = d
        .findings()
        .iter()
        .map(|f| {
            json!({"finding": f.what, "proto": f.proto, "session": f.session, "index": f.index,
                   "client": f.client.to_string(), "server": f.server.to_string(),
                   "user": f.user, "password": f.password})
        })
        .collect();
    let part = |out: &mut dyn Write, key: &str, v: &Value| -> io::Result<()> {
        write!(out, "\"{key}\":")?;
        serde_json::to_writer(&mut *out, v)?;
        out.write_all(b",")
    };
    out.write_all(b"{")?;
    part(out, "expert", &Value::Array(expert))?;
    part(out, "filter", &json!(filter))?;
    let l = d.limits();
    if l.any() {
        let v = json!({"sessions_not_listed": l.sessions_not_listed,
                       "requests_untracked": l.requests_untracked,
                       "findings_not_listed": l.findings_not_listed});
        part(out, "limits", &v)?;
    }
    part(out, "protocols", &Value::Object(protos))?;
    part(out, "security", &Value::Array(security))?;
    out.write_all(b"\"sessions\":[")?;
    for (i, s) in d.sessions().iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        let v = json!({"id": s.id, "proto": s.proto, "client": s.client.to_string(),
               "server": s.server.to_string(),
               "start": s.start.rfc3339(), "end": s.end.rfc3339(),
               "duration_us": s.end.micros_since(&s.start), "messages": s.messages,
               "errors": s.errors, "notes": s.notes});
        serde_json::to_writer(&mut *out, &v)?;
    }
    out.write_all(b"],")?;
    part(out, "slowest", &Value::Array(slowest))?;
    out.write_all(b"\"type\":\"stats\"}\n")
}

/// Rows as aligned columns (`align`: one `l` or `r` per column; missing
/// ones are `r`), cells escaped.
fn grid(out: &mut String, head: &[&str], rows: &[Vec<String>], align: &str) {
    let rows: Vec<Vec<String>> = std::iter::once(head.iter().map(|h| h.to_string()).collect())
        .chain(
            rows.iter()
                .map(|r| r.iter().map(|c| escape(c).into_owned()).collect()),
        )
        .collect();
    let mut w = vec![0; head.len()];
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    for r in &rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            if align.as_bytes().get(i) == Some(&b'l') {
                let _ = write!(line, "{c:<0$}", w[i]);
            } else {
                let _ = write!(line, "{c:>0$}", w[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

fn name_row(proto: &str, name: &str, n: &NameDetail) -> Vec<String> {
    let mut row = vec![
        proto.to_string(),
        name.to_string(),
        n.messages.to_string(),
        n.requests.to_string(),
        n.replies.to_string(),
        n.errors.to_string(),
        n.missing.to_string(),
    ];
    match n.latency.percentiles() {
        Some(p) => row.extend([p.min, p.p50, p.p95, p.p99, p.max].map(human::latency)),
        None => row.extend(std::iter::repeat_n("-".to_string(), 5)),
    }
    row
}

/// The report as tables for a terminal: at most `sessions` session rows
/// (0: all the report kept).
pub fn table(d: &Detail, expert: bool, sessions: usize) -> String {
    let mut out = String::new();
    let mut rows = Vec::new();
    for (proto, p) in d.protos() {
        for (name, n) in p.names() {
            rows.push(name_row(proto, name, n));
        }
        if p.folded.messages > 0 {
            rows.push(name_row(proto, "(other)", &p.folded));
        }
        rows.push(name_row(proto, "(all)", &p.total()));
    }
    out.push_str("# Per protocol and name (replies count under the request's name)\n");
    grid(
        &mut out,
        &[
            "PROTO", "NAME", "MSGS", "REQS", "REPLIES", "ERRORS", "MISSING", "MIN", "P50", "P95",
            "P99", "MAX",
        ],
        &rows,
        "ll",
    );
    if !d.slowest().is_empty() {
        out.push_str("\n# Slowest replies\n");
        let rows: Vec<Vec<String>> = d
            .slowest()
            .iter()
            .map(|s| {
                vec![
                    human::latency(s.latency_us),
                    s.proto.to_string(),
                    s.name.clone(),
                    format!("{}#{}", s.session, s.request),
                    format!("{}#{}", s.session, s.index),
                    s.ts.rfc3339(),
                ]
            })
            .collect();
        grid(
            &mut out,
            &["LATENCY", "PROTO", "NAME", "REQUEST", "REPLY", "TIME"],
            &rows,
            "rllllll",
        );
    }
    out.push_str("\n# Sessions\n");
    let listed = d.sessions();
    let shown = if sessions == 0 {
        listed.len()
    } else {
        sessions.min(listed.len())
    };
    let rows: Vec<Vec<String>> = listed[..shown]
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                s.proto.to_string(),
                format!("{} -> {}", s.client, s.server),
                s.messages.to_string(),
                s.errors.to_string(),
                human::latency(s.end.micros_since(&s.start)),
                s.notes.to_string(),
            ]
        })
        .collect();
    grid(
        &mut out,
        &[
            "SESSION",
            "PROTO",
            "CLIENT -> SERVER",
            "MSGS",
            "ERRORS",
            "DURATION",
            "NOTES",
        ],
        &rows,
        "lll",
    );
    let hidden = (listed.len() - shown) as u64 + d.rows_unkept();
    let unlisted = d.limits().sessions_not_listed;
    let cap = thousands(SESSION_CAP as u64);
    match (hidden, unlisted) {
        (0, 0) => {}
        (h, 0) => {
            let _ = writeln!(
                out,
                "... and {} more sessions; --sessions 0 lists them all",
                thousands(h)
            );
        }
        (0, u) => {
            let _ = writeln!(
                out,
                "... and {} more sessions, counted but not listed (the statistics keep the first {cap})",
                thousands(u)
            );
        }
        (h, u) => {
            let _ = writeln!(
                out,
                "... and {} more sessions; --sessions 0 lists the first {cap} (the statistics keep no more)",
                thousands(h + u)
            );
        }
    }
    if expert {
        out.push_str("\n# Expert notes (by severity and text)\n");
        let groups = d.expert();
        if groups.is_empty() {
            out.push_str("(none)\n");
        }
        for g in groups {
            let _ = writeln!(
                out,
                "{:<5} {:>5}x  {}",
                g.severity.as_str(),
                g.count,
                escape(&g.text),
            );
            if g.at.is_empty() {
                continue;
            }
            let mut at = g.at.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
            if g.count > 5 {
                let _ = write!(at, ", ... ({} more)", g.count - 5);
            }
            let _ = writeln!(out, "             at {}", escape(&at));
        }
        out.push_str("\n# Security findings\n");
        if d.findings().is_empty() {
            out.push_str("(none)\n");
        }
        for f in d.findings() {
            let mut line = format!(
                "{}: {}#{} {} -> {}",
                f.what, f.session, f.index, f.client, f.server
            );
            if let Some(u) = &f.user {
                let _ = write!(line, " user={u:?}");
            }
            if let Some(p) = &f.password {
                let _ = write!(line, " password={p:?}");
            }
            out.push_str(&escape(&line));
            out.push('\n');
        }
    }
    out
}
