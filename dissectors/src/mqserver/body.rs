//! Bodies: TEXT/EARLY DATA split per type (mqserver.md section 4.3) and
//! XDR/XML typed items interpreted with the final implementation's
//! layouts (section 6.3), payloads included.

use std::ops::Range;

use super::common::*;
use super::xml;
use crate::{Field, Note, Value};

/// Facts about a body that pairing and the summary need.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    /// XDR/XML ACK: the MID acknowledged.
    pub acked_mid: Option<i64>,
    /// TEXT/EARLY ACK: ACKMESS.
    pub ackmess: Option<Vec<u8>>,
    pub errid: Option<Vec<u8>>,
    pub errmsg: Option<Vec<u8>>,
    /// JOINQUEUE, QUEUEINFO, SENDTOQUEUE, MSGFROMQUEUE.
    pub queue: Option<Vec<u8>>,
    /// FINDQUEUE.
    pub queues: Vec<Vec<u8>>,
    pub topic: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    pub user: Option<Vec<u8>>,
    pub password: Option<Vec<u8>>,
}

/// An interpreted body.
#[derive(Debug, Default)]
pub struct BodyOut {
    pub fields: Vec<Field>,
    pub notes: Vec<Note>,
    pub facts: Facts,
    /// What the summary shows after the type name.
    pub detail: String,
    /// Message ranges holding secrets (the AUTH password), whether or not
    /// they are shown.
    pub secrets: Vec<Range<usize>>,
}

pub const REDACTED: &str = "<redacted>";
const SHOW: usize = 60;

fn secret(b: &[u8], show_secrets: bool) -> Value {
    if show_secrets {
        bval(b)
    } else {
        Value::Str(REDACTED.to_owned())
    }
}

fn shown_secret(b: &[u8], show_secrets: bool) -> String {
    if show_secrets {
        show(b, SHOW)
    } else {
        REDACTED.to_owned()
    }
}

// ---------------------------------------------------------------------------
// TEXT / EARLY (section 4.3).

/// Space-separated tokens (empty ones dropped).
fn tokens(b: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0usize;
    for (i, &c) in b.iter().enumerate() {
        if c == b' ' {
            if i > start {
                out.push(start..i);
            }
            start = i + 1;
        }
    }
    if b.len() > start {
        out.push(start..b.len());
    }
    out
}

/// The first `n - 1` fields separated by single spaces and the rest as the
/// last field; fewer when DATA has fewer spaces.
fn split_rest(b: &[u8], n: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0usize;
    while out.len() + 1 < n {
        match b
            .get(start..)
            .and_then(|r| r.iter().position(|&c| c == b' '))
        {
            Some(p) => {
                out.push(start..start + p);
                start += p + 1;
            }
            None => break,
        }
    }
    out.push(start..b.len());
    out
}

struct Txt<'a> {
    b: &'a [u8],
    map: &'a PosMap,
}

impl Txt<'_> {
    fn get(&self, r: &Range<usize>) -> &[u8] {
        self.b.get(r.clone()).unwrap_or(&[])
    }
    fn field(&self, name: &'static str, r: &Range<usize>) -> Field {
        Field::new(name, Some(self.map.range(r.clone())), bval(self.get(r)))
    }
    fn list(&self, name: &'static str, item: &'static str, rs: &[Range<usize>]) -> Field {
        let all = match (rs.first(), rs.last()) {
            (Some(a), Some(z)) => Some(self.map.range(a.start..z.end)),
            _ => None,
        };
        Field::new(
            name,
            all,
            Value::List(rs.iter().map(|r| self.field(item, r)).collect()),
        )
    }
}

/// Splits a TEXT/EARLY body of type `t` (section 4.3).
pub fn split_text(t: i64, b: &[u8], map: &PosMap, show_secrets: bool) -> BodyOut {
    let x = Txt { b, map };
    let mut out = BodyOut::default();
    let whole = 0..b.len();
    let want = |n: usize, out: &mut BodyOut, parts: &[Range<usize>], names: &str| {
        if parts.len() < n {
            out.notes.push(Note::warn(format!(
                "{} body has {} of its {n} fields ({names})",
                type_name(t).unwrap_or("?"),
                parts.len()
            )));
        }
    };
    match t {
        ACK => {
            out.fields.push(x.field("ackmess", &whole));
            out.facts.ackmess = Some(b.to_vec());
            out.detail = if b.is_empty() {
                String::new()
            } else {
                show(b, SHOW)
            };
        }
        ERROR => {
            let p = split_rest(b, 2);
            if let Some(r) = p.first() {
                out.fields.push(x.field("errid", r));
                out.facts.errid = Some(x.get(r).to_vec());
            }
            if let Some(r) = p.get(1) {
                out.fields.push(x.field("errmsg", r));
                out.facts.errmsg = Some(x.get(r).to_vec());
            }
            out.detail = show(b, SHOW);
        }
        SRVCAP => {
            let p = split_rest(b, 3);
            want(3, &mut out, &p, "PWHASH CAPFLAGS CAPDETAILS");
            for (r, name) in p.iter().zip(["pwhash", "capflags", "capdetails"]) {
                out.fields.push(x.field(name, r));
            }
            out.detail = show(b, SHOW);
        }
        AUTH => {
            let p = split_rest(b, 2);
            want(2, &mut out, &p, "UNAME PASS");
            if let Some(r) = p.first() {
                out.fields.push(x.field("user", r));
                out.facts.user = Some(x.get(r).to_vec());
                out.detail = format!("user={}", show(x.get(r), SHOW));
            }
            if let Some(r) = p.get(1) {
                out.secrets.push(map.range(r.clone()));
                out.fields.push(Field::new(
                    "password",
                    Some(map.range(r.clone())),
                    secret(x.get(r), show_secrets),
                ));
                out.facts.password = Some(x.get(r).to_vec());
                out.detail.push_str(&format!(
                    " password={}",
                    shown_secret(x.get(r), show_secrets)
                ));
            }
        }
        APPID => {
            let toks = tokens(b);
            for r in &toks {
                if !x.get(r).iter().all(u8::is_ascii_digit) {
                    out.notes.push(Note::info(format!(
                        "APPID '{}' is not numeric",
                        show(x.get(r), SHOW)
                    )));
                }
            }
            out.fields.push(x.list("appids", "appid", &toks));
            out.detail = show(b, SHOW);
        }
        NOTIFY => {
            let toks = tokens(b);
            out.fields.push(Field::new(
                "list_request",
                None,
                Value::Bool(toks.is_empty()),
            ));
            let mut changes = Vec::new();
            for r in &toks {
                let tok = x.get(r);
                let (op, user) = match tok.split_first() {
                    Some((b'+', u)) => ("+", u),
                    Some((b'-', u)) => ("-", u),
                    _ => {
                        out.notes.push(Note::warn(format!(
                            "NOTIFY entry '{}' does not begin with + or -",
                            show(tok, SHOW)
                        )));
                        ("", tok)
                    }
                };
                let rr = map.range(r.clone());
                changes.push(Field::new(
                    "change",
                    Some(rr.clone()),
                    Value::Struct(vec![
                        Field::new(
                            "op",
                            Some(rr.start..rr.start + op.len()),
                            bval(op.as_bytes()),
                        ),
                        Field::new("user", Some(rr.start + op.len()..rr.end), bval(user)),
                    ]),
                ));
            }
            out.fields
                .push(Field::new("changes", None, Value::List(changes)));
            out.detail = if toks.is_empty() {
                "list request".to_owned()
            } else {
                show(b, SHOW)
            };
        }
        FINDQUEUE => {
            let toks = tokens(b);
            out.facts.queues = toks.iter().map(|r| x.get(r).to_vec()).collect();
            out.fields.push(x.list("queues", "queue", &toks));
            out.detail = show(b, SHOW);
        }
        PRESENCE => {
            let mut users: Vec<Field> = Vec::new();
            for r in tokens(b) {
                let tok = x.get(&r);
                if let Some((b'+', u)) = tok.split_first() {
                    let rr = map.range(r.clone());
                    users.push(Field::new(
                        "presence",
                        Some(rr.clone()),
                        Value::Struct(vec![
                            Field::new("user", Some(rr.start + 1..rr.end), bval(u)),
                            Field::new("appids", None, Value::List(Vec::new())),
                        ]),
                    ));
                } else if let Some(Field {
                    value: Value::Struct(kids),
                    range,
                    ..
                }) = users.last_mut()
                {
                    let rr = map.range(r.clone());
                    if let Some(rg) = range {
                        rg.end = rr.end;
                    }
                    if let Some(Field {
                        value: Value::List(ids),
                        range: ids_range,
                        ..
                    }) = kids.get_mut(1)
                    {
                        let start = ids_range.as_ref().map_or(rr.start, |g| g.start);
                        *ids_range = Some(start..rr.end);
                        ids.push(Field::new("appid", Some(rr), bval(tok)));
                    }
                } else {
                    out.notes.push(Note::warn(format!(
                        "PRESENCE token '{}' before the first +USER",
                        show(tok, SHOW)
                    )));
                }
            }
            out.fields
                .push(Field::new("users", None, Value::List(users)));
            out.detail = show(b, SHOW);
        }
        JOINQUEUE | QUEUEINFO => {
            let p = split_rest(b, 2);
            if let Some(r) = p.first() {
                out.fields.push(x.field("queue", r));
                out.facts.queue = Some(x.get(r).to_vec());
            }
            if let Some(r) = p.get(1) {
                let name = if t == JOINQUEUE {
                    "queue_flags"
                } else {
                    "info"
                };
                out.fields.push(x.field(name, r));
            }
            out.detail = show(b, SHOW);
        }
        _ => {
            out.fields.push(x.field("text", &whole));
            out.detail = show(b, SHOW);
        }
    }
    out
}

/// TEXT/EARLY ACK, once the acknowledged message is known (D10, 9.1).
pub fn ack_meaning(acked_type: i64, ackmess: &[u8], out: &mut BodyOut, range: Range<usize>) {
    match acked_type {
        AUTH => {
            let (result, msg) = match ackmess {
                b"1" => ("success", None),
                b"0" => ("failure", None),
                m if m.starts_with(b"-1|") => ("account error", m.get(3..)),
                _ => ("unknown", None),
            };
            out.fields.push(Field::new(
                "auth_result",
                Some(range.clone()),
                Value::Str(result.to_owned()),
            ));
            if let Some(m) = msg {
                out.fields.push(Field::new(
                    "account_message",
                    Some(range.start + 3..range.end),
                    bval(m),
                ));
            }
            out.detail = match msg {
                Some(m) => format!("AUTH {result}: {}", show(m, SHOW)),
                None => format!("AUTH {result}"),
            };
        }
        NOTIFY if !ackmess.is_empty() => {
            let toks = tokens(ackmess);
            let users = toks
                .iter()
                .map(|r| {
                    Field::new(
                        "user",
                        Some(range.start + r.start..range.start + r.end),
                        bval(ackmess.get(r.clone()).unwrap_or(&[])),
                    )
                })
                .collect();
            out.fields
                .push(Field::new("users", Some(range), Value::List(users)));
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// XDR / XML (section 6.3).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Int,
    Str,
    Oct,
}

/// The final implementation's body layout of type `t`.
pub fn layout(t: i64) -> Option<&'static [(Ty, &'static str)]> {
    use Ty::*;
    Some(match t {
        ACK => &[(Int, "acked_mid")],
        ERROR => &[(Str, "errmsg")],
        SRVCAP | CLNTCAP => &[(Int, "cap1"), (Int, "cap2"), (Str, "capabilities")],
        AUTH => &[(Str, "user"), (Str, "password")],
        JOINQUEUE => &[(Str, "queue"), (Int, "queue_flags"), (Str, "filter")],
        QUEUEINFO => &[(Str, "queue"), (Int, "queue_flags"), (Str, "info")],
        SENDTOQUEUE => &[
            (Str, "queue"),
            (Int, "payload_len"),
            (Str, "topic"),
            (Oct, "payload"),
        ],
        MSGFROMQUEUE => &[
            (Str, "queue"),
            (Str, "topic"),
            (Oct, "payload"),
            (Int, "msg_id"),
            (Int, "timestamp"),
            (Str, "sender"),
        ],
        _ => return None,
    })
}

fn ty_matches(ty: Ty, v: &IVal) -> bool {
    matches!(
        (ty, v),
        (Ty::Int, IVal::Int(_)) | (Ty::Str, IVal::Str(_)) | (Ty::Oct, IVal::Oct(_))
    )
}

/// An item of a list, exported as `{"TYPE": value}` so that the XDS type
/// stays visible.
fn typed(ty: &'static str, range: Option<Range<usize>>, value: Value) -> Field {
    Field::new(
        "item",
        range.clone(),
        Value::Struct(vec![Field::new(ty, range, value)]),
    )
}

/// An item of a generic list (type kept).
fn list_item(it: &Item) -> Field {
    let f = item_field("item", it);
    typed(it.val.type_name(), f.range, f.value)
}

/// One item as a generic field.
pub fn item_field(name: &'static str, it: &Item) -> Field {
    let value = match &it.val {
        IVal::Int(v) => Value::Int(*v),
        IVal::Str(b) | IVal::Oct(b) => bval(b),
        IVal::Other { tag, text } => Value::Struct(vec![
            Field::new("element", None, Value::Str(tag.clone())),
            Field::new("text", None, bval(text)),
        ]),
    };
    Field::new(name, Some(it.range.clone()), value)
}

/// Notes for a string item (D18, section 13).
fn string_notes(name: &str, b: &[u8], notes: &mut Vec<Note>) {
    if let Some(p) = b.iter().position(|&c| c == 0) {
        notes.push(Note::info(format!(
            "string {name} carries {} bytes after its logical end (NUL at byte {p}): '{}'",
            b.len() - p,
            show(b, SHOW)
        )));
    } else if !clean_text(b) {
        notes.push(Note::info(format!(
            "string {name} contains non-printable bytes: '{}'",
            show(b, SHOW)
        )));
    }
}

/// A queue payload decoded as XDS values in the connection's encoding
/// (section 3 notes): a struct with the bytes and the items found.
fn payload_field(form: Form, it: &Item, bytes: &[u8], notes: &mut Vec<Note>) -> Field {
    let map = it.oct.clone().unwrap_or(OctMap::Raw(it.range.start));
    let mut kids = vec![
        Field::new(
            "length",
            Some(it.range.clone()),
            Value::UInt(bytes.len() as u64),
        ),
        Field::new("data", Some(map.range(0..bytes.len())), bval(bytes)),
    ];
    if !bytes.is_empty() && bytes.iter().all(|&b| b == 0) {
        notes.push(Note::info(format!(
            "payload is {} zero bytes (the server copies payloads as C strings)",
            bytes.len()
        )));
    } else if !bytes.is_empty() {
        let items = match form {
            Form::Xml => xml::elements(bytes),
            _ => xdr_guess(bytes),
        };
        match items {
            Some(items) => {
                let fields = items
                    .iter()
                    .map(|(name, r, v)| typed(name, Some(map.range(r.clone())), v.clone()))
                    .collect();
                kids.push(Field::new("items", None, Value::List(fields)));
                let (what, guessed) = match form {
                    Form::Xml => ("xml", false),
                    _ => ("xdr", true),
                };
                kids.push(Field::new(
                    "format",
                    None,
                    Value::Str(if guessed {
                        format!("{what} (item types guessed)")
                    } else {
                        what.to_owned()
                    }),
                ));
            }
            None => notes.push(Note::info(
                "payload is not a sequence of XDS values in this encoding (shown as bytes)",
            )),
        }
    }
    Field::new("payload", Some(it.range.clone()), Value::Struct(kids))
}

/// Guesses the items of an XDR payload (XDR carries no types): a length
/// word followed by that many text bytes and zero padding is a string,
/// anything else an int32. `None` when the bytes are not whole words or
/// would make more than [`MAX_PAYLOAD_ITEMS`] items.
pub fn xdr_guess(b: &[u8]) -> Option<Vec<PayloadItem>> {
    if !b.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < b.len() {
        if out.len() >= MAX_PAYLOAD_ITEMS {
            return None;
        }
        let w = be_u32(b, at)?;
        let n = usize::try_from(w).ok();
        let as_string = n.and_then(|n| {
            let pad = (4 - n % 4) % 4;
            let end = at.checked_add(4)?.checked_add(n)?;
            let text = b.get(at + 4..end)?;
            let padding = b.get(end..end.checked_add(pad)?)?;
            (n > 0 && clean_text(text) && padding.iter().all(|&p| p == 0))
                .then(|| (end + pad, text))
        });
        match as_string {
            Some((next, text)) => {
                out.push(("string", at..next, bval(text)));
                at = next;
            }
            None => {
                out.push(("int32", at..at + 4, Value::Int(i64::from(w as i32))));
                at += 4;
            }
        }
    }
    Some(out)
}

/// Interprets the body items of an XDR/XML message of type `t`.
pub fn interpret_items(form: Form, t: i64, items: &[Item], show_secrets: bool) -> BodyOut {
    let mut out = BodyOut::default();
    let Some(lay) = layout(t) else {
        // D16: no layout; XML shows items generically.
        let fields = items.iter().map(list_item).collect();
        out.fields
            .push(Field::new("items", None, Value::List(fields)));
        out.detail = format!("{} items", items.len());
        if form == Form::Xml {
            out.notes.push(Note::info(format!(
                "{} is not implemented by the final implementation (its decoder drops the peer); items shown generically",
                type_name(t).unwrap_or("type")
            )));
        }
        return out;
    };
    let mut ok = true;
    for (i, (ty, name)) in lay.iter().enumerate() {
        let Some(it) = items.get(i) else {
            out.notes.push(Note::warn(format!(
                "{}: item {name} missing",
                type_name(t).unwrap_or("?")
            )));
            ok = false;
            continue;
        };
        if !ty_matches(*ty, &it.val) {
            out.notes.push(Note::warn(format!(
                "{}: item {name} should be {}, found {}",
                type_name(t).unwrap_or("?"),
                match ty {
                    Ty::Int => "int32",
                    Ty::Str => "string",
                    Ty::Oct => "octetstream",
                },
                it.val.type_name()
            )));
            if *name == "password" {
                // Whatever its type, it is where the password goes.
                out.secrets.push(it.content.clone());
                out.fields.push(if show_secrets {
                    item_field(name, it)
                } else {
                    Field::new(
                        "password",
                        Some(it.range.clone()),
                        Value::Str(REDACTED.to_owned()),
                    )
                });
            } else {
                out.fields.push(item_field(name, it));
            }
            ok = false;
            continue;
        }
        match (&it.val, *name) {
            (IVal::Str(b), "password") => {
                out.secrets.push(it.content.clone());
                out.fields.push(Field::new(
                    "password",
                    Some(it.range.clone()),
                    secret(b, show_secrets),
                ));
                out.facts.password = Some(b.clone());
            }
            (IVal::Oct(b), "payload") => {
                out.fields.push(payload_field(form, it, b, &mut out.notes));
                out.facts.payload = Some(b.clone());
            }
            (IVal::Int(v), "timestamp") => {
                out.fields.push(item_field(name, it));
                out.fields.push(Field::new(
                    "time",
                    Some(it.range.clone()),
                    Value::Str(unix_time(*v)),
                ));
            }
            (IVal::Str(b), _) => {
                if *name != "password" {
                    string_notes(name, b, &mut out.notes);
                }
                out.fields.push(item_field(name, it));
                match *name {
                    "queue" => out.facts.queue = Some(b.clone()),
                    "topic" => out.facts.topic = Some(b.clone()),
                    "user" => out.facts.user = Some(b.clone()),
                    "errmsg" => out.facts.errmsg = Some(b.clone()),
                    _ => {}
                }
            }
            (IVal::Int(v), "acked_mid") => {
                out.facts.acked_mid = Some(*v);
                out.fields.push(item_field(name, it));
            }
            _ => out.fields.push(item_field(name, it)),
        }
    }
    if items.len() > lay.len() {
        let extra: Vec<Field> = items
            .get(lay.len()..)
            .unwrap_or(&[])
            .iter()
            .map(list_item)
            .collect();
        out.notes.push(Note::warn(format!(
            "{} unexpected items after the {} body",
            extra.len(),
            type_name(t).unwrap_or("?")
        )));
        out.fields
            .push(Field::new("extra_items", None, Value::List(extra)));
    }
    if t == SENDTOQUEUE {
        if let (Some(IVal::Int(n)), Some(IVal::Oct(p))) =
            (items.get(1).map(|i| &i.val), items.get(3).map(|i| &i.val))
        {
            if usize::try_from(*n).ok() != Some(p.len()) {
                out.notes.push(Note::warn(format!(
                    "SENDTOQUEUE payload length {n} differs from the payload's {} bytes",
                    p.len()
                )));
            }
        }
    }
    out.detail = items_detail(t, items, show_secrets, ok);
    out
}

fn items_detail(t: i64, items: &[Item], show_secrets: bool, ok: bool) -> String {
    let s = |i: usize| match items.get(i).map(|x| &x.val) {
        Some(IVal::Str(b)) => show(b, SHOW),
        Some(IVal::Int(v)) => v.to_string(),
        Some(IVal::Oct(b)) => format!("{} bytes", b.len()),
        _ => "?".to_owned(),
    };
    if !ok {
        return format!("{} items", items.len());
    }
    match t {
        ACK => format!("of MID {}", s(0)),
        ERROR => s(0),
        SRVCAP | CLNTCAP => format!("{} {} {}", s(0), s(1), s(2)),
        AUTH => {
            let pw = match items.get(1).map(|x| &x.val) {
                Some(IVal::Str(b)) => shown_secret(b, show_secrets),
                _ => "?".to_owned(),
            };
            format!("user={} password={pw}", s(0))
        }
        JOINQUEUE => format!("{} flags={} filter={}", s(0), s(1), s(2)),
        QUEUEINFO => format!("{} flags={} info={}", s(0), s(1), s(2)),
        SENDTOQUEUE => format!("{} topic={} payload {}", s(0), s(2), s(3)),
        MSGFROMQUEUE => format!("{} topic={} #{} from {}", s(0), s(1), s(3), s(5)),
        _ => format!("{} items", items.len()),
    }
}
