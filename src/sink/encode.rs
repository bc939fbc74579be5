//! The JSON form of every record: the one place that knows the export
//! contract (`docs/export.md`). JSONL writes one of these per
//! line; the JSON document groups them by session.
//!
//! Byte strings that are not valid UTF-8 are written as `{"hex": "..."}`
//! (lower-case hex of every byte); valid UTF-8 is written as a JSON string.

use std::io::Write;

use qscope_dissectors::{Field, Note, Value};

use crate::record::{
    MessageRecord, Percentiles, RangeRecord, Record, SessionEnd, SessionInfo, Summary,
};

/// Appends `s` as a JSON string literal, escaped as `serde_json` escapes
/// it: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other control characters
/// as `\u00xx`; everything else as it is. Runs of bytes that need no escape
/// are found eight bytes at a time.
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut run = 0;
    let mut i = 0;
    loop {
        while let Some(chunk) = b.get(i..).and_then(<[u8]>::first_chunk::<8>) {
            let x = u64::from_le_bytes(*chunk);
            let m = swar_lt(x, 0x20) | swar_eq(x, b'"') | swar_eq(x, b'\\');
            if m != 0 {
                i += (m.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        while b
            .get(i)
            .is_some_and(|&c| c >= 0x20 && c != b'"' && c != b'\\')
        {
            i += 1;
        }
        let Some(&c) = b.get(i) else { break };
        out.extend_from_slice(b.get(run..i).unwrap_or(&[]));
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0C => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                out.extend_from_slice(b"\\u00");
                push_hex(out, &[c]);
            }
        }
        i += 1;
        run = i;
    }
    out.extend_from_slice(b.get(run..).unwrap_or(&[]));
    out.push(b'"');
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
///
/// Records of one stretch of a capture share their second: the text up to
/// the fraction (`2026-11-22T01:27:08.`) is kept per thread for the last
/// second seen, written by `Display` when the second changes, and only the
/// fraction is formatted here.
pub fn push_ts(out: &mut Vec<u8>, ts: &crate::capture::Timestamp) {
    thread_local! {
        static SECOND: std::cell::RefCell<(i64, Vec<u8>)> =
            const { std::cell::RefCell::new((0, Vec::new())) };
    }
    out.push(b'"');
    let cached = SECOND.with(|c| {
        let Ok(mut c) = c.try_borrow_mut() else {
            return false;
        };
        let (secs, prefix) = &mut *c;
        if prefix.is_empty() || *secs != ts.secs {
            prefix.clear();
            let _ = write!(prefix, "{ts}");
            // Keep the text up to and with the '.' before the fraction.
            match prefix.iter().rposition(|&b| b == b'.') {
                Some(dot) => prefix.truncate(dot + 1),
                None => {
                    prefix.clear();
                    return false;
                }
            }
            *secs = ts.secs;
        }
        out.extend_from_slice(prefix);
        true
    });
    if !cached {
        let _ = write!(out, "{ts}\"");
        return;
    }
    // As `Display`: nanoseconds clamped, 9 digits or microseconds in 6.
    let nanos = ts.nanos.min(999_999_999);
    if ts.nano {
        push_digits(out, u64::from(nanos), 9);
    } else {
        push_digits(out, u64::from(nanos / 1000), 6);
    }
    out.extend_from_slice(b"Z\"");
}

/// The decimal digits of every number below 100, two by two.
const DIGIT_PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// Appends `v` in decimal, left-padded with zeros to at least `width`
/// digits (at most 20).
fn push_digits(out: &mut Vec<u8>, mut v: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        if let (Some(d), Some(p)) = (buf.get_mut(i..i + 2), DIGIT_PAIRS.get(pair..pair + 2)) {
            d.copy_from_slice(p);
        }
    }
    if v >= 10 {
        let pair = v as usize * 2;
        i -= 2;
        if let (Some(d), Some(p)) = (buf.get_mut(i..i + 2), DIGIT_PAIRS.get(pair..pair + 2)) {
            d.copy_from_slice(p);
        }
    } else {
        i -= 1;
        if let Some(d) = buf.get_mut(i) {
            *d = b'0' + v as u8;
        }
    }
    let from = i.min(buf.len().saturating_sub(width));
    out.extend_from_slice(buf.get(from..).unwrap_or(&[]));
}

fn push_u64(out: &mut Vec<u8>, v: u64) {
    push_digits(out, v, 1);
}

fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_digits(out, v.unsigned_abs(), 1);
}

fn push_bool(out: &mut Vec<u8>, v: bool) {
    out.extend_from_slice(if v { b"true" } else { b"false" });
}

fn push_opt_i64(out: &mut Vec<u8>, v: Option<i64>) {
    match v {
        Some(v) => push_i64(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

/// Two lower-case hex digits for every byte value.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [DIGITS[i >> 4], DIGITS[i & 15]];
        i += 1;
    }
    t
};

/// Appends two lower-case hex digits per byte of `b`.
fn push_hex(out: &mut Vec<u8>, b: &[u8]) {
    let start = out.len();
    out.resize(start + 2 * b.len(), 0);
    if let Some(dst) = out.get_mut(start..) {
        for (pair, &byte) in dst.chunks_exact_mut(2).zip(b) {
            pair.copy_from_slice(&HEX_PAIRS[usize::from(byte)]);
        }
    }
}

/// Appends bytes losslessly: a string if UTF-8, else `{"hex": "..."}`.
pub fn push_bytes(out: &mut Vec<u8>, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(s) => push_str(out, s),
        Err(_) => {
            out.extend_from_slice(b"{\"hex\":\"");
            push_hex(out, b);
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
///
/// Eight bytes at a time (see `compact_words`). Until a control byte in
/// a string needs escaping the output is never longer than the input, so it
/// is written into room reserved up front; from such a byte on,
/// `compact_bytewise` finishes.
pub fn push_json_compact(out: &mut Vec<u8>, text: &[u8]) {
    let start = out.len();
    out.resize(start + text.len(), 0);
    let (written, rest) = match out.get_mut(start..) {
        Some(dst) => compact_words(dst, text),
        None => (0, Some(0)),
    };
    out.truncate(start + written);
    if let Some(at) = rest {
        compact_bytewise(out, text.get(at..).unwrap_or(&[]), true);
    }
}

// Eight bytes at a time (SWAR): a mask has the high bit of each selected
// byte set, and no other bit.
const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Bytes of `w` equal to `b` (exact: no carry between bytes).
#[inline(always)]
fn swar_eq(w: u64, b: u8) -> u64 {
    let x = w ^ (LO * u64::from(b));
    !((x & !HI).wrapping_add(!HI) | x) & HI
}

/// Bytes of `w` below `n` (`n` at most 0x80; exact).
#[inline(always)]
fn swar_lt(w: u64, n: u8) -> u64 {
    !((w & !HI).wrapping_add(LO * u64::from(0x80 - n)) | w) & HI
}

/// Where [`compact_words`] is in the text: inside a string, right after a
/// backslash in one.
#[derive(Clone, Copy, Default)]
struct InJson {
    in_str: bool,
    escaped: bool,
}

/// One byte of [`compact_words`] the slow way: writes `b` at `dst[*w]`
/// unless it is whitespace between tokens. False at a control byte inside
/// a string (written by neither).
#[inline(always)]
fn compact_byte(dst: &mut [u8], w: &mut usize, b: u8, st: &mut InJson) -> bool {
    if st.in_str {
        if st.escaped {
            st.escaped = false;
        } else if b == b'\\' {
            st.escaped = true;
        } else if b == b'"' {
            st.in_str = false;
        } else if b < 0x20 {
            return false;
        }
    } else {
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => return true,
            b'"' => st.in_str = true,
            _ => {}
        }
    }
    if let Some(d) = dst.get_mut(*w) {
        *d = b;
    }
    *w += 1;
    true
}

/// The compact form of `text` into `dst` (as long as `text`): how many
/// bytes were written, and where in `text` a control byte inside a string
/// stopped it, if one did.
///
/// Per eight-byte word: the quotes give, by a prefix XOR, which bytes are
/// inside a string; the whitespace outside strings is squeezed out of the
/// word, which is then stored whole where the output stands (the output
/// never overtakes the input, so the store stays within `dst`; the bytes
/// past the kept ones are overwritten next). Words with a backslash (or
/// right after one), or with a control byte inside a string, go a byte at a
/// time.
fn compact_words(dst: &mut [u8], text: &[u8]) -> (usize, Option<usize>) {
    let (mut r, mut w) = (0usize, 0usize);
    let mut st = InJson::default();
    while let Some(chunk) = text.get(r..).and_then(<[u8]>::first_chunk::<8>) {
        let x = u64::from_le_bytes(*chunk);
        let quote = swar_eq(x, b'"');
        let ctl = swar_lt(x, 0x20);
        let sp = swar_eq(x, b' ');
        if !st.escaped && swar_eq(x, b'\\') == 0 {
            // Inside a string: from an opening quote (included) to the
            // closing one (excluded).
            let mut inside = quote;
            inside ^= inside << 8;
            inside ^= inside << 16;
            inside ^= inside << 32;
            if st.in_str {
                inside ^= HI;
            }
            if ctl & inside == 0 {
                let ws = if ctl == 0 {
                    sp
                } else {
                    sp | swar_eq(x, b'\t') | swar_eq(x, b'\n') | swar_eq(x, b'\r')
                };
                let mut drop = ws & !inside;
                let mut y = x;
                let mut kept = 8;
                // Squeeze dropped bytes out, highest first.
                while drop != 0 {
                    let bit = 63 - drop.leading_zeros();
                    let low = (1u64 << (bit - 7)) - 1;
                    y = (y & low) | ((y >> 8) & !low);
                    drop ^= 1u64 << bit;
                    kept -= 1;
                }
                if let Some(to) = dst.get_mut(w..).and_then(<[u8]>::first_chunk_mut::<8>) {
                    *to = y.to_le_bytes();
                }
                w += kept;
                r += 8;
                st.in_str = inside >> 63 != 0;
                continue;
            }
        }
        for (k, &b) in chunk.iter().enumerate() {
            if !compact_byte(dst, &mut w, b, &mut st) {
                return (w, Some(r + k));
            }
        }
        r += 8;
    }
    for (k, &b) in text.get(r..).unwrap_or(&[]).iter().enumerate() {
        if !compact_byte(dst, &mut w, b, &mut st) {
            return (w, Some(r + k));
        }
    }
    (w, None)
}

/// [`push_json_compact`] a byte at a time, from a point inside a string
/// (`in_str`) or between tokens.
fn compact_bytewise(out: &mut Vec<u8>, text: &[u8], mut in_str: bool) {
    out.reserve(text.len());
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
                out.extend_from_slice(text.get(run..i).unwrap_or(&[]));
                let _ = write!(out, "\\u{b:04x}");
                run = i + 1;
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b' ' | b'\t' | b'\n' | b'\r' => {
                out.extend_from_slice(text.get(run..i).unwrap_or(&[]));
                run = i + 1;
            }
            _ => {}
        }
    }
    out.extend_from_slice(text.get(run..).unwrap_or(&[]));
}

/// Appends a decoded value as JSON.
pub fn push_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => push_bool(out, *b),
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
/// Attribute changes are not part of the export: nothing is appended for
/// them (the writers skip them; `session_end` has the attributes).
pub fn push_record(out: &mut Vec<u8>, rec: &Record<'_>) {
    match rec {
        Record::Attr(_) => {}
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
    out.extend_from_slice(b",\"mid_stream\":");
    push_bool(out, s.mid_stream);
    out.push(b'}');
}

fn push_message(out: &mut Vec<u8>, m: &MessageRecord<'_>) {
    out.push(b'{');
    push_message_members(out, m);
}

/// The members of a message record and its closing brace: the record
/// without its opening brace (`--format ek` puts members of its own
/// first).
pub fn push_message_members(out: &mut Vec<u8>, m: &MessageRecord<'_>) {
    let msg = m.msg;
    out.extend_from_slice(b"\"type\":\"message\",\"session\":");
    push_str(out, &m.session.id);
    out.extend_from_slice(b",\"index\":");
    push_u64(out, m.index);
    out.extend_from_slice(b",\"proto\":");
    push_str(out, m.session.proto.as_str());
    out.extend_from_slice(b",\"dir\":");
    push_str(out, msg.dir.as_str());
    out.extend_from_slice(b",\"ts\":");
    push_ts(out, &m.ts);
    out.extend_from_slice(b",\"frame\":");
    push_u64(out, m.frame);
    out.extend_from_slice(b",\"offset\":");
    push_u64(out, msg.offset);
    out.extend_from_slice(b",\"len\":");
    push_u64(out, msg.len as u64);
    out.extend_from_slice(b",\"kind\":");
    push_str(out, msg.kind.as_str());
    out.extend_from_slice(b",\"name\":");
    push_str(out, &msg.name);
    out.extend_from_slice(b",\"summary\":");
    push_str(out, &msg.summary);
    out.extend_from_slice(b",\"error\":");
    push_bool(out, msg.is_error);
    out.extend_from_slice(b",\"fields\":");
    push_fields(out, &msg.fields);
    out.extend_from_slice(b",\"field_ranges\":{");
    let mut first = true;
    for f in &msg.fields {
        if let Some(r) = &f.range {
            push_key(out, &mut first, &f.name);
            out.push(b'[');
            push_u64(out, r.start as u64);
            out.push(b',');
            push_u64(out, (r.end - r.start.min(r.end)) as u64);
            out.push(b']');
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
    out.extend_from_slice(b",\"offset\":");
    push_u64(out, r.offset);
    out.extend_from_slice(b",\"len\":");
    push_u64(out, r.len);
    out.extend_from_slice(b",\"ts\":");
    push_ts(out, &r.ts);
    out.extend_from_slice(b",\"frame\":");
    push_u64(out, r.frame);
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
    out.extend_from_slice(b",\"messages\":");
    push_u64(out, e.messages);
    out.extend_from_slice(b",\"attrs\":{");
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
    fn hex_is_two_lower_case_digits_per_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let mut out = Vec::new();
        push_hex(&mut out, &all);
        let expected: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(out, expected.as_bytes());
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut texts: Vec<String> = (0..=0x7fu8).map(|b| char::from(b).to_string()).collect();
        texts.extend(
            [
                "",
                "plain ascii text that is long enough for words",
                "é\u{1b}x\"y\\z\u{7f}\u{2028}\u{fffd}",
                "0123456\"0123456\\01234567\n",
            ]
            .map(String::from),
        );
        let all: String = (0..0x80u8).map(char::from).collect();
        texts.push(all.repeat(3));
        for t in &texts {
            let mut out = Vec::new();
            push_str(&mut out, t);
            assert_eq!(out, serde_json::to_vec(t).unwrap(), "{t:?}");
        }
    }

    #[test]
    fn numbers_are_written_as_display_writes_them() {
        let mut values = vec![
            0u64,
            1,
            9,
            10,
            99,
            100,
            101,
            999,
            1000,
            u64::MAX,
            u64::MAX - 1,
        ];
        values.extend((0..64).map(|k| 1u64 << k));
        values.extend((0..20).map(|k| 10u64.pow(k)));
        values.extend((1..20).map(|k| 10u64.pow(k) - 1));
        for v in values {
            let mut out = Vec::new();
            push_u64(&mut out, v);
            assert_eq!(out, v.to_string().as_bytes());
            for w in [6, 9] {
                let mut out = Vec::new();
                push_digits(&mut out, v, w);
                assert_eq!(out, format!("{v:0w$}").as_bytes());
            }
        }
        for v in [0i64, -1, 1, -10, 42, i64::MIN, i64::MAX, i64::MIN + 1] {
            let mut out = Vec::new();
            push_i64(&mut out, v);
            assert_eq!(out, v.to_string().as_bytes());
        }
    }

    #[test]
    fn timestamps_are_written_as_display_writes_them() {
        use crate::capture::Timestamp;
        let mut stamps = Vec::new();
        for secs in [
            0,
            1_795_314_369,
            1_795_314_370,
            -1,
            -62_167_219_201,
            253_402_300_800,
        ] {
            for nanos in [0, 1, 999, 1000, 123_456_789, 999_999_999, 1_500_000_000] {
                for nano in [false, true] {
                    stamps.push(Timestamp { secs, nanos, nano });
                }
            }
        }
        // Twice, so that the cached second is used and replaced.
        for ts in stamps.iter().chain(&stamps) {
            let mut out = Vec::new();
            push_ts(&mut out, ts);
            assert_eq!(out, format!("\"{ts}\"").as_bytes());
        }
    }

    #[test]
    fn compact_by_words_is_compact_bytewise() {
        // Texts made of the bytes that matter, around and across the
        // eight-byte boundaries.
        let alphabets: [&[u8]; 3] = [
            b"  \t\n\r\"\"\\\\ab{}[]:,\x01\x1f\x7f\xc3\xa9\xfe",
            b"   \"\"\"abcdefghij{}:,",
            b"  \n\"\"abcdefghijklmnopqrstuvwxyz\\\x1f",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for (len, alphabet) in (0..300).flat_map(|n| alphabets.map(|a| (n, a))) {
            for _ in 0..40 {
                let text: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        alphabet[(seed % alphabet.len() as u64) as usize]
                    })
                    .collect();
                let mut fast = b"x".to_vec();
                push_json_compact(&mut fast, &text);
                let mut slow = b"x".to_vec();
                compact_bytewise(&mut slow, &text, false);
                assert_eq!(fast, slow, "{:?}", String::from_utf8_lossy(&text));
            }
        }
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
