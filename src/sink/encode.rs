//! The JSON form of every record: the one place that knows the export
//! contract (`../shared/export-schema.md`). JSONL writes one of these per
//! line; the JSON document groups them by session.
//!
//! Byte strings that are not valid UTF-8 are written as `{"hex": "..."}`
//! (lower-case hex of every byte); valid UTF-8 is written as a JSON string.

use std::io::Write;

use qscope_dissectors::{Field, Note, Value};

use crate::record::{
    MessageRecord, Percentiles, RangeRecord, Record, SessionEnd, SessionInfo, Summary,
};

/// Appends `s` as a JSON string literal.
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail, and a &str always serialises.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn push_key(out: &mut Vec<u8>, first: &mut bool, key: &str) {
    if !*first {
        out.push(b',');
    }
    *first = false;
    push_str(out, key);
    out.push(b':');
}

/// Appends a timestamp as a JSON string (RFC 3339 is plain ASCII: nothing
/// to escape), without an intermediate String.
pub fn push_ts(out: &mut Vec<u8>, ts: &crate::capture::Timestamp) {
    let _ = write!(out, "\"{ts}\"");
}

fn push_u64(out: &mut Vec<u8>, v: u64) {
    let _ = write!(out, "{v}");
}

fn push_i64(out: &mut Vec<u8>, v: i64) {
    let _ = write!(out, "{v}");
}

fn push_opt_i64(out: &mut Vec<u8>, v: Option<i64>) {
    match v {
        Some(v) => push_i64(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends bytes losslessly: a string if UTF-8, else `{"hex": "..."}`.
pub fn push_bytes(out: &mut Vec<u8>, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(s) => push_str(out, s),
        Err(_) => {
            out.extend_from_slice(b"{\"hex\":\"");
            for byte in b {
                let _ = write!(out, "{byte:02x}");
            }
            out.extend_from_slice(b"\"}");
        }
    }
}

/// Appends a JSON text written compact: whitespace between tokens (the
/// newlines and indentation of pretty-printed input) is dropped; everything
/// else (number text, string escapes, key order, duplicate keys) is copied
/// as it is. A raw control byte inside a string (not strict JSON, but it
/// must never break a line) is written as a `\u00XX` escape. So a record
/// holding a JSON value is always one line.
pub fn push_json_compact(out: &mut Vec<u8>, text: &[u8]) {
    out.reserve(text.len());
    let mut in_str = false;
    let mut escaped = false;
    // Start of the run of bytes not yet copied.
    let mut run = 0;
    for (i, &b) in text.iter().enumerate() {
        if in_str {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_str = false;
            } else if b < 0x20 {
                out.extend_from_slice(&text[run..i]);
                let _ = write!(out, "\\u{b:04x}");
                run = i + 1;
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b' ' | b'\t' | b'\n' | b'\r' => {
                out.extend_from_slice(&text[run..i]);
                run = i + 1;
            }
            _ => {}
        }
    }
    out.extend_from_slice(&text[run..]);
}

/// Appends a decoded value as JSON.
pub fn push_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(i) => push_i64(out, *i),
        Value::UInt(u) => push_u64(out, *u),
        Value::Float(f) if f.is_finite() => {
            let _ = write!(out, "{f:?}");
        }
        Value::Float(_) => out.extend_from_slice(b"null"),
        Value::Str(s) => push_str(out, s),
        Value::Bytes(b) => push_bytes(out, b),
        Value::Json(text) => push_json_compact(out, text.as_bytes()),
        Value::Struct(fields) => push_fields(out, fields),
        Value::List(items) => {
            out.push(b'[');
            for (i, f) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_value(out, &f.value);
            }
            out.push(b']');
        }
    }
}

/// Appends named fields as a JSON object.
pub fn push_fields(out: &mut Vec<u8>, fields: &[Field]) {
    out.push(b'{');
    let mut first = true;
    for f in fields {
        push_key(out, &mut first, &f.name);
        push_value(out, &f.value);
    }
    out.push(b'}');
}

fn push_notes(out: &mut Vec<u8>, notes: &[Note]) {
    out.push(b'[');
    for (i, n) in notes.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"severity\":");
        push_str(out, n.severity.as_str());
        out.extend_from_slice(b",\"text\":");
        push_str(out, &n.text);
        out.push(b'}');
    }
    out.push(b']');
}

/// Appends notes that carry how often each was made: `"count"` is written
/// when a note was made more than once.
fn push_counted_notes(out: &mut Vec<u8>, notes: &[(Note, u64)]) {
    out.push(b'[');
    for (i, (n, count)) in notes.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"severity\":");
        push_str(out, n.severity.as_str());
        out.extend_from_slice(b",\"text\":");
        push_str(out, &n.text);
        if *count > 1 {
            let _ = write!(out, ",\"count\":{count}");
        }
        out.push(b'}');
    }
    out.push(b']');
}

/// Appends the JSON object for one record (no trailing newline).
pub fn push_record(out: &mut Vec<u8>, rec: &Record<'_>) {
    match rec {
        Record::Session(s) => push_session(out, s),
        Record::Message(m) => push_message(out, m),
        Record::Gap(r) => push_range(out, "gap", r),
        Record::Undecoded(r) => push_range(out, "undecoded", r),
        Record::SessionEnd(e) => push_session_end(out, e),
        Record::Bytes(b) => {
            out.extend_from_slice(b"{\"type\":\"bytes\",\"session\":");
            push_str(out, &b.session.id);
            out.extend_from_slice(b",\"dir\":");
            push_str(out, b.dir.as_str());
            let _ = write!(out, ",\"offset\":{},\"data\":", b.offset);
            push_bytes(out, b.data);
            out.push(b'}');
        }
    }
}

fn push_session(out: &mut Vec<u8>, s: &SessionInfo) {
    out.extend_from_slice(b"{\"type\":\"session\",\"id\":");
    push_str(out, &s.id);
    out.extend_from_slice(b",\"proto\":");
    push_str(out, s.proto.as_str());
    out.extend_from_slice(b",\"client\":");
    push_str(out, &s.client.to_string());
    out.extend_from_slice(b",\"server\":");
    push_str(out, &s.server.to_string());
    out.extend_from_slice(b",\"start\":");
    push_ts(out, &s.start);
    let _ = write!(out, ",\"mid_stream\":{}}}", s.mid_stream);
}

fn push_message(out: &mut Vec<u8>, m: &MessageRecord<'_>) {
    let msg = m.msg;
    out.extend_from_slice(b"{\"type\":\"message\",\"session\":");
    push_str(out, &m.session.id);
    let _ = write!(out, ",\"index\":{},\"proto\":", m.index);
    push_str(out, m.session.proto.as_str());
    out.extend_from_slice(b",\"dir\":");
    push_str(out, msg.dir.as_str());
    out.extend_from_slice(b",\"ts\":");
    push_ts(out, &m.ts);
    let _ = write!(
        out,
        ",\"frame\":{},\"offset\":{},\"len\":{},\"kind\":",
        m.frame, msg.offset, msg.len
    );
    push_str(out, msg.kind.as_str());
    out.extend_from_slice(b",\"name\":");
    push_str(out, &msg.name);
    out.extend_from_slice(b",\"summary\":");
    push_str(out, &msg.summary);
    let _ = write!(out, ",\"error\":{},\"fields\":", msg.is_error);
    push_fields(out, &msg.fields);
    out.extend_from_slice(b",\"field_ranges\":{");
    let mut first = true;
    for f in &msg.fields {
        if let Some(r) = &f.range {
            push_key(out, &mut first, &f.name);
            let _ = write!(out, "[{},{}]", r.start, r.end - r.start.min(r.end));
        }
    }
    out.extend_from_slice(b"},\"reply_to\":");
    push_opt_i64(out, m.reply_to.map(|i| i as i64));
    out.extend_from_slice(b",\"latency_us\":");
    push_opt_i64(out, m.latency_us);
    out.extend_from_slice(b",\"links\":{");
    let mut first = true;
    for (role, index) in m.links {
        push_key(out, &mut first, role);
        push_u64(out, *index);
    }
    out.extend_from_slice(b"},\"notes\":");
    push_notes(out, &msg.notes);
    out.push(b'}');
}

fn push_range(out: &mut Vec<u8>, ty: &str, r: &RangeRecord<'_>) {
    out.extend_from_slice(b"{\"type\":");
    push_str(out, ty);
    out.extend_from_slice(b",\"session\":");
    push_str(out, &r.session.id);
    out.extend_from_slice(b",\"dir\":");
    push_str(out, r.dir.as_str());
    let _ = write!(out, ",\"offset\":{},\"len\":{},\"ts\":", r.offset, r.len);
    push_ts(out, &r.ts);
    let _ = write!(out, ",\"frame\":{}", r.frame);
    if let Some(reason) = r.reason {
        out.extend_from_slice(b",\"reason\":");
        push_str(out, reason);
        out.extend_from_slice(b",\"severity\":");
        push_str(out, r.severity.as_str());
    }
    out.push(b'}');
}

fn push_session_end(out: &mut Vec<u8>, e: &SessionEnd<'_>) {
    out.extend_from_slice(b"{\"type\":\"session_end\",\"session\":");
    push_str(out, &e.session.id);
    out.extend_from_slice(b",\"end\":");
    push_ts(out, &e.end);
    let _ = write!(out, ",\"messages\":{},\"attrs\":{{", e.messages);
    let mut first = true;
    for (k, v) in e.attrs {
        push_key(out, &mut first, k);
        push_str(out, v);
    }
    out.extend_from_slice(b"},\"notes\":");
    push_counted_notes(out, e.notes);
    out.push(b'}');
}

fn push_percentiles(out: &mut Vec<u8>, p: &Percentiles) {
    let _ = write!(
        out,
        "{{\"count\":{},\"min\":{},\"p50\":{},\"p95\":{},\"p99\":{},\"max\":{}}}",
        p.count, p.min, p.p50, p.p95, p.p99, p.max
    );
}

/// Appends the final `summary` record.
pub fn push_summary(out: &mut Vec<u8>, s: &Summary) {
    let _ = write!(
        out,
        "{{\"type\":\"summary\",\"packets\":{},\"tcp_segments\":{},\"non_tcp_packets\":{},\
         \"ip_fragments\":{},\"malformed_packets\":{},\"cut_packets\":{},\"sessions\":{},\
         \"messages\":{},\"undecoded\":{{\"ranges\":{},\"bytes\":{}}},\"gaps\":{{\"count\":{},\"bytes\":{}}},\
         \"notes\":{{\"info\":{},\"warn\":{},\"error\":{}}}",
        s.packets,
        s.tcp_segments,
        s.non_tcp_packets,
        s.ip_fragments,
        s.malformed_packets,
        s.cut_packets,
        s.sessions,
        s.messages,
        s.undecoded_ranges,
        s.undecoded_bytes,
        s.gaps,
        s.gap_bytes,
        s.notes_by_severity[0],
        s.notes_by_severity[1],
        s.notes_by_severity[2],
    );
    let t = &s.tcp;
    let _ = write!(
        out,
        ",\"tcp\":{{\"connections\":{},\"segments\":{},\"bytes\":{},\"retransmissions\":{},\
         \"out_of_order\":{},\"gaps\":{},\"gap_bytes\":{},\"overlaps_differing\":{},\"limit_hits\":{}}}",
        t.connections,
        t.segments,
        t.bytes,
        t.retransmissions,
        t.out_of_order,
        t.gaps,
        t.gap_bytes,
        t.overlaps_differing,
        t.limit_hits
    );
    out.extend_from_slice(b",\"protocols\":{");
    let mut first = true;
    let mut all_latencies = crate::record::Latency::default();
    let push_latency = |out: &mut Vec<u8>, l: &crate::record::Latency| match l.percentiles() {
        Some(p) => push_percentiles(out, &p),
        None => out.extend_from_slice(b"null"),
    };
    for (proto, p) in &s.protos {
        push_key(out, &mut first, proto);
        let _ = write!(
            out,
            "{{\"sessions\":{},\"messages\":{},\"c2s\":{},\"s2c\":{},\"errors\":{},\"by_name\":{{",
            p.sessions, p.messages, p.c2s, p.s2c, p.errors
        );
        let mut first_name = true;
        for (name, n) in &p.by_name {
            push_key(out, &mut first_name, name);
            let _ = write!(
                out,
                "{{\"requests\":{},\"responses\":{},\"other\":{},\"errors\":{},\"latency_us\":",
                n.requests, n.responses, n.other, n.errors
            );
            all_latencies.merge(&n.latency);
            push_latency(out, &n.latency);
            out.push(b'}');
        }
        out.push(b'}');
        // Names beyond the first NAME_CAP, together (only when there are).
        let f = &p.folded;
        if f.messages() > 0 {
            let _ = write!(
                out,
                ",\"folded\":{{\"names\":{},\"requests\":{},\"responses\":{},\"other\":{},\"errors\":{},\"latency_us\":",
                p.folded_names.count(),
                f.requests,
                f.responses,
                f.other,
                f.errors
            );
            all_latencies.merge(&f.latency);
            push_latency(out, &f.latency);
            out.push(b'}');
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"},\"latency_us\":");
    push_latency(out, &all_latencies);
    out.extend_from_slice(b",\"malformed_examples\":[");
    for (i, e) in s.malformed_examples.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_str(out, e);
    }
    out.extend_from_slice(b"],\"dropped\":");
    push_opt_i64(out, s.dropped.map(|d| d as i64));
    out.extend_from_slice(b",\"error\":");
    match &s.error {
        Some(e) => push_str(out, e),
        None => out.extend_from_slice(b"null"),
    }
    if let Some(m) = s.matched {
        let _ = write!(out, ",\"matched\":{m}");
    }
    let m = &s.memory;
    let d = &m.dropped;
    let _ = write!(
        out,
        ",\"memory\":{{\"limit\":{},\"peak\":{},\"cuts\":{},\"dropped\":{{\
         \"reassembly_bytes\":{},\"message_bytes\":{},\"detection_bytes\":{},\
         \"pairing_entries\":{},\"connections\":{},\"forgotten_closed\":{}}}}}",
        m.limit,
        m.peak,
        d.cuts,
        d.reassembly_bytes,
        d.message_bytes,
        d.detection_bytes,
        d.pairing_entries,
        d.connections,
        d.forgotten_closed
    );
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_lossless() {
        let mut out = Vec::new();
        push_bytes(&mut out, b"ok\xfe\x00");
        assert_eq!(out, br#"{"hex":"6f6bfe00"}"#);
        out.clear();
        push_bytes(&mut out, "é\u{1b}".as_bytes());
        assert_eq!(out, b"\"\xc3\xa9\\u001b\"");
    }

    #[test]
    fn nested_values_serialise() {
        let v = Value::Struct(vec![
            Field::new(
                "a",
                None,
                Value::List(vec![Field::new("", None, Value::Int(-1))]),
            ),
            Field::new("j", None, Value::Json("{\"x\": [1, 2]}".into())),
            Field::new("f", None, Value::Float(f64::NAN)),
        ]);
        let mut out = Vec::new();
        push_value(&mut out, &v);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":[-1],"j":{"x":[1,2]},"f":null}"#
        );
    }

    #[test]
    fn json_values_are_written_compact() {
        let mut out = Vec::new();
        let pretty = "{\r\n\t\"a\" :\n [ 1.50 ,\t-0e+1 ],\n \"s\": \" x\\\" \\n{ \", \"a\": {} }\n";
        push_json_compact(&mut out, pretty.as_bytes());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":[1.50,-0e+1],"s":" x\" \n{ ","a":{}}"#
        );
        let mut out = Vec::new();
        push_json_compact(&mut out, b"[\"a\nb\"]");
        assert_eq!(out, br#"["a\u000ab"]"#);
    }
}
