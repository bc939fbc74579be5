//! `qscope stats` output: the [`Detail`] report as aligned tables or as
//! one JSON document. Computation is in `crate::stats`; this only formats.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::human::{self, escape};
use crate::record::Percentiles;
use crate::stats::{Detail, NameDetail};

fn percentiles(v: &[i64]) -> Option<Percentiles> {
    Percentiles::of(&mut v.to_vec())
}

fn pct_json(v: &[i64]) -> Value {
    match percentiles(v) {
        Some(p) => json!({"count": p.count, "min": p.min, "p50": p.p50, "p95": p.p95,
                          "p99": p.p99, "max": p.max}),
        None => Value::Null,
    }
}

/// Per protocol: totals over its names.
fn protocols(d: &Detail) -> BTreeMap<&'static str, NameDetail> {
    let mut out: BTreeMap<&'static str, NameDetail> = BTreeMap::new();
    for ((proto, _), n) in &d.names {
        let t = out.entry(proto).or_default();
        t.messages += n.messages;
        t.requests += n.requests;
        t.replies += n.replies;
        t.errors += n.errors;
        t.missing += n.missing;
        t.latencies_us.extend_from_slice(&n.latencies_us);
    }
    out
}

/// The report as JSON: `protocols` (totals and `by_name`), `slowest`,
/// `sessions`, `expert` and `security`. Latencies in microseconds,
/// nearest-rank percentiles.
pub fn json(d: &Detail, filter: Option<&str>) -> Value {
    let mut protos = serde_json::Map::new();
    for (proto, t) in protocols(d) {
        let mut by_name = serde_json::Map::new();
        for ((p, name), n) in &d.names {
            if *p != proto {
                continue;
            }
            by_name.insert(
                name.clone(),
                json!({"messages": n.messages, "requests": n.requests, "replies": n.replies,
                       "errors": n.errors, "missing": n.missing,
                       "latency_us": pct_json(&n.latencies_us)}),
            );
        }
        let sessions = d.reported_sessions().filter(|s| s.proto == proto).count();
        protos.insert(
            proto.to_string(),
            json!({"sessions": sessions, "messages": t.messages, "requests": t.requests,
                   "replies": t.replies, "errors": t.errors, "missing": t.missing,
                   "latency_us": pct_json(&t.latencies_us), "by_name": by_name}),
        );
    }
    let slowest: Vec<Value> = d
        .slowest
        .iter()
        .map(|s| {
            json!({"proto": s.proto, "name": s.name, "session": s.session, "index": s.index,
                   "request": s.request, "ts": s.ts.rfc3339(), "latency_us": s.latency_us})
        })
        .collect();
    let sessions: Vec<Value> = d
        .reported_sessions()
        .map(|s| {
            json!({"id": s.id, "proto": s.proto, "client": s.client, "server": s.server,
                   "start": s.start.rfc3339(), "end": s.end.rfc3339(),
                   "duration_us": s.end.micros_since(&s.start), "messages": s.messages,
                   "errors": s.errors, "notes": s.notes})
        })
        .collect();
    let expert: Vec<Value> = d
        .expert()
        .iter()
        .map(|g| json!({"severity": g.severity.as_str(), "text": g.text, "count": g.count, "at": g.at}))
        .collect();
    let security: Vec<Value> = d
        .findings
        .iter()
        .map(|f| {
            json!({"finding": f.what, "proto": f.proto, "session": f.session, "index": f.index,
                   "client": f.client, "server": f.server, "user": f.user, "password": f.password})
        })
        .collect();
    json!({"type": "stats", "filter": filter, "protocols": protos, "slowest": slowest,
           "sessions": sessions, "expert": expert, "security": security})
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
    match percentiles(&n.latencies_us) {
        Some(p) => row.extend([p.min, p.p50, p.p95, p.p99, p.max].map(human::latency)),
        None => row.extend(std::iter::repeat_n("-".to_string(), 5)),
    }
    row
}

/// The report as tables for a terminal.
pub fn table(d: &Detail, expert: bool) -> String {
    let mut out = String::new();
    let mut rows = Vec::new();
    for (proto, t) in protocols(d) {
        for ((p, name), n) in &d.names {
            if *p == proto {
                rows.push(name_row(proto, name, n));
            }
        }
        rows.push(name_row(proto, "(all)", &t));
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
    if !d.slowest.is_empty() {
        out.push_str("\n# Slowest replies\n");
        let rows: Vec<Vec<String>> = d
            .slowest
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
    let rows: Vec<Vec<String>> = d
        .reported_sessions()
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
    if expert {
        out.push_str("\n# Expert notes (by severity and text)\n");
        let groups = d.expert();
        if groups.is_empty() {
            out.push_str("(none)\n");
        }
        for g in groups {
            let mut at = g.at.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
            if g.at.len() > 5 {
                let _ = write!(at, ", ... ({} more)", g.at.len() - 5);
            }
            let _ = writeln!(
                out,
                "{:<5} {:>5}x  {}\n             at {}",
                g.severity.as_str(),
                g.count,
                escape(&g.text),
                escape(&at)
            );
        }
        out.push_str("\n# Security findings\n");
        if d.findings.is_empty() {
            out.push_str("(none)\n");
        }
        for f in &d.findings {
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
