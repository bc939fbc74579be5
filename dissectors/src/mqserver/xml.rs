//! Form (d): OSSP-XDS XML, one document per message (mqserver.md section
//! 7). The encoder's documents are not well-formed XML (the declaration
//! lacks its `?`), so this is a small tokenizer of its own, lenient as
//! DECISION 7.2/7.3 asks: errors become notes, the raw text is kept.

use super::common::*;
use crate::{Note, Value};

/// Outcome of looking at the front of an XML direction.
#[derive(Debug)]
pub enum XStep {
    NeedMore,
    /// Not a document start here (the caller resynchronises).
    NotXml,
    /// A document that is not an MQServer message: skip `len` bytes.
    Bad {
        len: usize,
        reason: String,
    },
    Frame(Box<Frame>),
}

/// The front starts a document (`<?xml`, or `<xds>` / `<xds ` without a
/// declaration): yes, undecided (too few bytes), no.
pub fn starts_doc(data: &[u8]) -> Option<bool> {
    match prefix_ci(data, b"<?xml") {
        Some(true) => return Some(true),
        None => return None,
        Some(false) => {}
    }
    match prefix_ci(data, b"<xds") {
        Some(true) => data
            .get(4)
            .map(|c| matches!(c, b'>' | b' ' | b'\t' | b'\r' | b'\n')),
        other => other,
    }
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn skip_ws(b: &[u8], mut p: usize) -> usize {
    while b.get(p).is_some_and(|&c| is_ws(c)) {
        p += 1;
    }
    p
}

/// Parses the document at the front of `data` (which starts a document).
/// `hint`: how far an earlier call already searched for `</xds>`.
pub fn parse_front(data: &[u8], eos: bool, hint: &mut usize) -> XStep {
    match starts_doc(data) {
        Some(true) => {}
        Some(false) => return XStep::NotXml,
        None if eos => return XStep::NotXml,
        None => return XStep::NeedMore,
    }
    let from = (*hint).max(1);
    let close = find_ci(data, b"</xds>", from);
    // A new declaration before the end: this document is cut short.
    let next = find_ci(data, b"<?xml", from).filter(|&n| close.is_none_or(|c| n < c));
    let (doc_end, truncated) = match (next, close) {
        (Some(n), _) => (n, true),
        (None, Some(c)) => (c + 6, false),
        (None, None) if eos => (data.len(), true),
        (None, None) => {
            *hint = data.len().saturating_sub(6);
            return XStep::NeedMore;
        }
    };
    // The encoder writes `</xds>` LF: the line end belongs to the message.
    // Wait for the byte after `</xds>` so that segmentation cannot change
    // the message's length (the end of the stream completes it anyway).
    let mut len = doc_end;
    if !truncated {
        match (data.get(len), data.get(len + 1)) {
            (Some(b'\n'), _) => len += 1,
            (Some(b'\r'), Some(b'\n')) => len += 2,
            (None, _) | (Some(b'\r'), None) if !eos => {
                *hint = doc_end.saturating_sub(6);
                return XStep::NeedMore;
            }
            _ => {}
        }
    }
    let doc = data.get(..doc_end).unwrap_or(data);
    let mut notes = Vec::new();
    let items = match document_items(doc, &mut notes) {
        Ok(items) => items,
        Err(reason) => return XStep::Bad { len, reason },
    };
    if truncated {
        notes.push(Note::warn(if next.is_some() {
            "XML document cut short: a new document starts before </xds>"
        } else {
            "XML document truncated: no </xds> before the connection closed"
        }));
    }
    frame(items, len, notes)
}

/// The four header items and the body.
fn frame(items: Vec<Item>, len: usize, mut notes: Vec<Note>) -> XStep {
    let int = |i: usize| match items.get(i) {
        Some(Item {
            val: IVal::Int(v),
            range,
            ..
        }) => Some(Hv {
            value: *v,
            range: range.clone(),
        }),
        _ => None,
    };
    let (Some(mid), Some(msgtype)) = (int(0), int(1)) else {
        return XStep::Bad {
            len,
            reason: "XML document without the MQServer header (int32 MID and MSGTYPE)".into(),
        };
    };
    if type_name(msgtype.value).is_none() {
        return XStep::Bad {
            len,
            reason: format!("XML message with MSGTYPE {} outside 1-19", msgtype.value),
        };
    }
    let version = int(2);
    let flags = int(3);
    if version.is_none() || flags.is_none() {
        notes.push(Note::warn(
            "XML header incomplete: VERSION or FLAGS missing",
        ));
    }
    let body = items.get(4..).unwrap_or(&[]).to_vec();
    XStep::Frame(Box::new(Frame {
        form: Form::Xml,
        len,
        mid,
        msgtype,
        version,
        flags,
        extra: Vec::new(),
        body: Body::Items(body),
        notes,
        secret_fields: Vec::new(),
    }))
}

/// Declaration, optional DOCTYPE, `<xds>`, elements, `</xds>`.
fn document_items(doc: &[u8], notes: &mut Vec<Note>) -> Result<Vec<Item>, String> {
    let mut p = 0usize;
    if prefix_ci(doc, b"<?xml") == Some(true) {
        p = match doc.iter().position(|&c| c == b'>') {
            Some(e) => e + 1,
            None => return Err("XML declaration not closed".into()),
        };
    }
    p = skip_ws(doc, p);
    if prefix_ci(doc.get(p..).unwrap_or(&[]), b"<!DOCTYPE") == Some(true) {
        p = match doc.get(p..).and_then(|r| r.iter().position(|&c| c == b'>')) {
            Some(e) => p + e + 1,
            None => return Err("DOCTYPE not closed".into()),
        };
    }
    p = skip_ws(doc, p);
    let rest = doc.get(p..).unwrap_or(&[]);
    if prefix_ci(rest, b"<xds") != Some(true)
        || !matches!(rest.get(4), Some(b'>' | b' ' | b'\t' | b'\r' | b'\n'))
    {
        return Err("XML document without an <xds> element".into());
    }
    p = match rest.iter().position(|&c| c == b'>') {
        Some(e) => p + e + 1,
        None => return Err("<xds> tag not closed".into()),
    };
    let mut items = Vec::new();
    loop {
        p = skip_ws(doc, p);
        let rest = doc.get(p..).unwrap_or(&[]);
        if rest.is_empty() {
            break;
        }
        if prefix_ci(rest, b"</xds>") == Some(true) {
            p += 6;
            let tail = skip_ws(doc, p);
            if tail < doc.len() {
                notes.push(Note::warn("bytes after </xds> in the document"));
            }
            break;
        }
        if rest.first() != Some(&b'<') {
            let n = rest.iter().position(|&c| c == b'<').unwrap_or(rest.len());
            notes.push(Note::warn(format!(
                "text outside elements: '{}'",
                show(rest.get(..n).unwrap_or(&[]), 40)
            )));
            p += n;
            continue;
        }
        match element(doc, p, notes) {
            Some((item, next)) => {
                items.push(item);
                p = next;
            }
            None => {
                notes.push(Note::warn(format!(
                    "element at byte {p} not closed: '{}'",
                    show(rest, 40)
                )));
                break;
            }
        }
    }
    Ok(items)
}

/// Reads the element starting at `b[p] == '<'`. `None` when it is not
/// closed.
fn element(b: &[u8], p: usize, notes: &mut Vec<Note>) -> Option<(Item, usize)> {
    let gt = p + b.get(p..)?.iter().position(|&c| c == b'>')?;
    let inner = b.get(p + 1..gt)?;
    let self_closing = inner.last() == Some(&b'/');
    let name_end = inner
        .iter()
        .position(|&c| is_ws(c) || c == b'/')
        .unwrap_or(inner.len());
    let tag = String::from_utf8_lossy(inner.get(..name_end)?).to_ascii_lowercase();
    let (content, end) = if self_closing {
        (gt + 1..gt + 1, gt + 1)
    } else {
        let close = find_ci(b, b"</", gt + 1)?;
        let cgt = close + b.get(close..)?.iter().position(|&c| c == b'>')?;
        let cname = String::from_utf8_lossy(b.get(close + 2..cgt)?)
            .trim()
            .to_ascii_lowercase();
        if cname != tag {
            notes.push(Note::warn(format!(
                "element <{}> closed by </{}>",
                show(tag.as_bytes(), 20),
                show(cname.as_bytes(), 20)
            )));
        }
        (gt + 1..close, cgt + 1)
    };
    let text = b.get(content.clone())?;
    let (val, oct) = match tag.as_str() {
        "int32" => (int32(text, notes), None),
        "string" => (IVal::Str(string(text, notes)), None),
        "octetstream" => {
            let map = OctMap::Base64 {
                base: content.start,
                chars: content.len(),
            };
            match base64(text) {
                Some(bytes) => (IVal::Oct(bytes), Some(map)),
                None => {
                    notes.push(Note::warn(format!(
                        "invalid base64 in <octetstream>: '{}'",
                        show(text, 40)
                    )));
                    (IVal::Oct(text.to_vec()), Some(OctMap::Raw(content.start)))
                }
            }
        }
        _ => {
            notes.push(Note::warn(format!(
                "unknown element <{}>",
                show(tag.as_bytes(), 20)
            )));
            (
                IVal::Other {
                    tag: tag.clone(),
                    text: text.to_vec(),
                },
                None,
            )
        }
    };
    Some((
        Item {
            val,
            range: p..end,
            content,
            oct,
        },
        end,
    ))
}

fn int32(text: &[u8], notes: &mut Vec<Note>) -> IVal {
    let s = String::from_utf8_lossy(text);
    let t = s.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    let ok = !digits.is_empty() && digits.len() <= 11 && digits.bytes().all(|c| c.is_ascii_digit());
    match t.parse::<i64>() {
        Ok(v) if ok => {
            if i32::try_from(v).is_err() {
                notes.push(Note::warn(format!("int32 {v} out of range")));
            }
            IVal::Int(v)
        }
        _ => {
            notes.push(Note::warn(format!(
                "int32 '{}' is not a number",
                show(text, 30)
            )));
            IVal::Other {
                tag: "int32".into(),
                text: text.to_vec(),
            }
        }
    }
}

/// String content: the three entities, UTF-8 code points up to U+00FF as
/// bytes (section 7.2). Errors are noted and the raw bytes kept.
pub fn string(text: &[u8], notes: &mut Vec<Note>) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0usize;
    while let Some(&c) = text.get(i) {
        if c == b'&' {
            let semi = text
                .get(i..)
                .and_then(|r| r.iter().take(12).position(|&x| x == b';'));
            let ent = semi.and_then(|s| text.get(i + 1..i + s));
            let byte = match ent {
                Some(b"lt") => Some(b'<'),
                Some(b"gt") => Some(b'>'),
                Some(b"amp") => Some(b'&'),
                _ => None,
            };
            match (byte, semi) {
                (Some(b), Some(s)) => {
                    out.push(b);
                    i += s + 1;
                }
                _ => {
                    let shown = text.get(i..i + semi.map_or(1, |s| s + 1)).unwrap_or(&[]);
                    notes.push(Note::warn(format!(
                        "bad entity '{}' in <string>",
                        show(shown, 20)
                    )));
                    out.push(c);
                    i += 1;
                }
            }
            continue;
        }
        if c < 0x80 {
            out.push(c);
            i += 1;
            continue;
        }
        let n = match c {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => 0,
        };
        let seq = text.get(i..i + n.max(1)).unwrap_or(&[]);
        match std::str::from_utf8(seq).ok().and_then(|s| s.chars().next()) {
            Some(ch) if n > 0 => {
                let cp = ch as u32;
                match u8::try_from(cp) {
                    Ok(b) => out.push(b),
                    Err(_) => {
                        notes.push(Note::warn(format!(
                            "code point U+{cp:04X} above 255 in <string>"
                        )));
                        out.extend_from_slice(seq);
                    }
                }
                i += n;
            }
            _ => {
                notes.push(Note::warn(format!(
                    "invalid UTF-8 byte 0x{c:02X} in <string>"
                )));
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Standard base64 (whitespace ignored, `=` padding). `None` if invalid.
pub fn base64(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 3);
    let mut acc = 0u32;
    let mut bits = 0u32;
    let mut pad = 0usize;
    for &c in text {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                pad += 1;
                continue;
            }
            c if is_ws(c) => continue,
            _ => return None,
        };
        if pad > 0 {
            return None;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero padding of a whole quantum.
    let chars = text.iter().filter(|&&c| !is_ws(c)).count();
    if pad > 2 || chars % 4 != 0 || acc != 0 {
        return None;
    }
    Some(out)
}

/// A sequence of XDS elements without declaration or wrapper (a queue
/// payload in the XML encoding): `(type, range, value)` per element, or
/// `None` if the bytes are anything else.
pub fn elements(b: &[u8]) -> Option<Vec<PayloadItem>> {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    let mut p = skip_ws(b, 0);
    while p < b.len() {
        if b.get(p) != Some(&b'<') || out.len() >= MAX_PAYLOAD_ITEMS {
            return None;
        }
        let (item, next) = element(b, p, &mut notes)?;
        let (name, value) = match item.val {
            IVal::Int(v) => ("int32", Value::Int(v)),
            IVal::Str(s) => ("string", bval(&s)),
            IVal::Oct(o) => ("octetstream", bval(&o)),
            IVal::Other { .. } => return None,
        };
        out.push((name, item.range, value));
        p = skip_ws(b, next);
    }
    if out.is_empty() {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        assert_eq!(base64(b"PHN0cmluZz4="), Some(b"<string>".to_vec()));
        assert_eq!(base64(b""), Some(Vec::new()));
        assert_eq!(base64(b"Zm9v\nYmFy"), Some(b"foobar".to_vec()));
        assert_eq!(base64(b"Zm9"), None);
        assert_eq!(base64(b"Zm9v!"), None);
        assert_eq!(base64(b"Zg=="), Some(b"f".to_vec()));
        assert_eq!(base64(b"Zh=="), None, "non-zero leftover bits");
    }

    #[test]
    fn strings_decode_entities_and_latin1() {
        let mut notes = Vec::new();
        assert_eq!(string(b"a&lt;b&gt;&amp;", &mut notes), b"a<b>&");
        assert_eq!(string("caf\u{e9}".as_bytes(), &mut notes), b"caf\xe9");
        assert!(notes.is_empty());
        assert_eq!(string(b"&quot;", &mut notes), b"&quot;");
        assert_eq!(notes.len(), 1);
        assert_eq!(
            string("\u{20ac}".as_bytes(), &mut notes),
            "\u{20ac}".as_bytes()
        );
        assert_eq!(notes.len(), 2);
    }

    #[test]
    fn payload_elements() {
        let b = b"<string>hi</string><int32>1</int32><string></string>";
        let e = elements(b).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[1], ("int32", 19..35, Value::Int(1)));
        assert!(elements(b"hello").is_none());
        assert!(elements(b"<string>x").is_none());
    }
}
