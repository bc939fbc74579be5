//! Request bodies (section 4): the arguments of every function code,
//! decoded into named fields with their byte ranges (absolute frame
//! offsets), plus what the session needs to interpret the response.

use std::collections::BTreeMap;
use std::ops::Range;

use super::codes::{self, function_name};
use super::mv::{self, bytes_fields, quoted};
use crate::toolkit::Cursor;
use crate::{Field, Note, Options, Value};

/// Open files of a session: fno → file name (from Open/OpenQMNet).
pub type Files = BTreeMap<i16, Vec<u8>>;

/// What the session keeps of a request to interpret its response.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReqInfo {
    pub fno: Option<i16>,
    pub listno: Option<i16>,
    /// Record id (read, write, delete and lock functions).
    pub id: Option<Vec<u8>>,
    /// The main text argument: file name (Open, OpenQMNet), account name,
    /// command line (Execute), reply (Respond), subroutine name (Call).
    pub text: Option<Vec<u8>>,
    /// Login user name.
    pub user: Option<Vec<u8>>,
    /// Call: argument count.
    pub argc: Option<i16>,
    /// Fileinfo key or Readv field number.
    pub key: Option<i32>,
    /// The request may wait for a lock (section 7, rule 8).
    pub waits: bool,
}

/// A decoded request body.
#[derive(Debug, Clone, Default)]
pub struct Req {
    pub fields: Vec<Field>,
    /// Summary parts, joined by spaces.
    pub summary: Vec<String>,
    pub notes: Vec<Note>,
    pub info: ReqInfo,
    /// The body does not fit the function's layout (DECISION 7).
    pub malformed: bool,
    /// Frame ranges holding secrets (the Login password), whether or not
    /// they are shown.
    pub secrets: Vec<Range<usize>>,
    /// Leave out bulk content and the summary (see
    /// [`crate::Options::lean`]).
    pub lean: bool,
}

impl Req {
    /// Adds a summary part, made only when the summary is wanted.
    fn sum(&mut self, part: impl FnOnce() -> String) {
        if !self.lean {
            self.summary.push(part());
        }
    }
}

/// Longest text shown in a summary part.
const SUM: usize = 60;

fn int(name: &'static str, r: Range<usize>, v: impl Into<i64>) -> Field {
    Field::new(name, Some(r), Value::Int(v.into()))
}

/// Decodes the body of a request frame (`frame` is the whole frame, header
/// included; `code` the function code from its header).
pub fn decode(code: i16, frame: &[u8], files: &Files, opts: Options) -> Req {
    let show_secrets = opts.show_secrets;
    let mut q = Req {
        lean: opts.lean,
        ..Req::default()
    };
    let mut rd = Cursor::from(frame, 6);
    let ok = layout(code, &mut rd, &mut q, files, show_secrets);
    if ok.is_none() {
        q.malformed = true;
        let body = frame.get(6..).unwrap_or(&[]);
        q.notes.push(Note::warn(format!(
            "malformed request: the {}-byte body does not fit the layout of {}",
            body.len(),
            function_name(code)
        )));
        if code == codes::LOGIN {
            // Where the password sits is unknown: the whole body is secret.
            q.secrets.push(6..frame.len());
        }
        if code == codes::LOGIN && !show_secrets {
            q.fields.push(Field::new(
                "raw",
                Some(6..frame.len()),
                Value::Str("<redacted>".into()),
            ));
            q.sum(|| "(malformed, body redacted)".into());
        } else {
            q.fields.push(Field::new(
                "raw",
                Some(6..frame.len()),
                Value::Bytes(body.to_vec()),
            ));
            q.sum(|| format!("(malformed) {}", quoted(body, 40)));
        }
    } else if rd.left() > 0 {
        let (b, r) = rd.take_rest();
        q.fields
            .push(Field::new("extra", Some(r), Value::Bytes(b.to_vec())));
        q.notes.push(Note::info(format!(
            "{} extra bytes after the fixed fields of {}",
            b.len(),
            function_name(code)
        )));
    }
    q
}

/// The per-function layouts; `None` when the body is too short or a
/// length inside it does not fit.
fn layout(code: i16, rd: &mut Cursor<'_>, q: &mut Req, files: &Files, secrets: bool) -> Option<()> {
    match code {
        // No arguments.
        1 | 2 | 23 | 25 => {}
        3 => {
            let (b, r) = rd.take_rest();
            text_arg(q, "account", r, b);
            if b.iter().any(u8::is_ascii_lowercase) {
                q.notes.push(Note::info(format!(
                    "the server upper-cases account names: looked up as {}",
                    quoted(&b.to_ascii_uppercase(), SUM)
                )));
            }
            if b.contains(&b'/') {
                q.notes.push(Note::info(
                    "path-style account name: the server upper-cases it too, so it usually fails on Linux",
                ));
            }
        }
        4 => {
            let (b, r) = rd.take_rest();
            text_arg(q, "file", r, b);
        }
        5 | 31 | 33 | 35 | 37 => {
            fno(rd, q, files)?;
            match code {
                31 => {
                    q.notes.push(Note::info(
                        "destructive: Clearfile deletes every record of the file",
                    ));
                    stale_index_note(q);
                }
                33 => stale_index_note(q),
                _ => {}
            }
        }
        6..=10 | 18 | 19 | 34 => {
            fno(rd, q, files)?;
            let (b, r) = rd.take_rest();
            id_arg(q, code, r, b);
            if matches!(code, 18 | 19) {
                q.notes.push(Note::info(format!(
                    "destructive: deletes record {}",
                    quoted(b, SUM)
                )));
            }
            if codes::always_waits(code) {
                q.info.waits = true;
                q.notes.push(Note::info(
                    "waits until the lock is free: the answer may come much later",
                ));
            }
        }
        11 => {
            fno(rd, q, files)?;
            listno(rd, q)?;
        }
        12..=14 => {
            listno(rd, q)?;
        }
        15 => {
            let f = fno(rd, q, files)?;
            let (b, r) = rd.take_rest();
            let scope = if !b.is_empty() {
                id_arg(q, code, r, b);
                "the lock on this record"
            } else if f == 0 {
                "all locks of the session"
            } else {
                "all locks of the file"
            };
            if b.is_empty() {
                q.sum(|| format!("({scope})"));
            }
            q.fields
                .push(Field::new("releases", None, Value::Str(scope.into())));
        }
        16 | 17 => {
            fno(rd, q, files)?;
            let (k, kr) = rd.le_i16()?;
            q.fields.push(int("id_length", kr, k));
            let (id, ir) = rd.take_len(i64::from(k))?;
            id_arg(q, code, ir, id);
            let (rec, rr) = rd.take_rest();
            record_fields(q, "record", rr, rec);
        }
        20 => call(rd, q)?,
        21 => {
            let (b, r) = rd.take_rest();
            text_arg(q, "command", r, b);
            q.notes.push(Note::info(format!(
                "command execution: {}",
                mv::one_line(b, 120)
            )));
        }
        22 => {
            let (b, r) = rd.take_rest();
            text_arg(q, "reply", r, b);
        }
        24 => login(rd, q, secrets)?,
        26 => {
            fno(rd, q, files)?;
            listno(rd, q)?;
            let (n, nr) = rd.le_i16()?;
            q.fields.push(int("index_length", nr, n));
            let (name, r) = rd.take_len(i64::from(n))?;
            bytes_fields(&mut q.fields, "index", r, name);
            rd.pad(name.len(), 2)?;
            let (v, vr) = rd.le_i16()?;
            q.fields.push(int("value_length", vr, v));
            let (val, r) = rd.take_len(i64::from(v))?;
            bytes_fields(&mut q.fields, "value", r, val);
            rd.pad(val.len(), 2)?;
            q.sum(|| format!(
                "index={} value={}",
                quoted(name, SUM),
                quoted(val, SUM)
            ));
        }
        27 | 28 => {
            let (b, r) = rd.take_rest();
            text_arg(q, "package", r, b);
            if b.len() > 15 {
                q.notes.push(Note::info(
                    "package name longer than 15 bytes (the server's limit)",
                ));
            }
        }
        29 => {
            let (b, r) = rd.take_rest();
            text_arg(q, "target", r.clone(), b);
            if let Some(p) = b.iter().position(|&c| c == b';') {
                let (acc, file) = (b.get(..p).unwrap_or(&[]), b.get(p + 1..).unwrap_or(&[]));
                bytes_fields(&mut q.fields, "account", r.start..r.start + p, acc);
                bytes_fields(&mut q.fields, "file", r.start + p + 1..r.end, file);
            } else {
                q.notes.push(Note::info(
                    "OpenQMNet target without the account;file separator",
                ));
            }
            q.notes
                .push(Note::info("remote file access (QMNet) requested"));
        }
        30 => {
            fno(rd, q, files)?;
            let (fl, r) = rd.le_i16()?;
            q.fields.push(int("flags", r, fl));
            let update = fl & 1 != 0;
            let no_wait = fl & 2 != 0;
            q.fields.push(Field::new(
                "lock",
                None,
                Value::Str(if update { "update" } else { "shared" }.into()),
            ));
            q.fields
                .push(Field::new("no_wait", None, Value::Bool(no_wait)));
            let (b, r) = rd.take_rest();
            id_arg(q, code, r, b);
            q.sum(|| format!(
                "{}{}",
                if update { "update" } else { "shared" },
                if no_wait { " no-wait" } else { " wait" }
            ));
            if !no_wait {
                q.info.waits = true;
                q.notes.push(Note::info(
                    "waits until the lock is free: the answer may come much later",
                ));
            }
        }
        32 => {
            fno(rd, q, files)?;
            let (w, r) = rd.le_i16()?;
            q.fields.push(int("wait", r, w));
            q.sum(|| if w != 0 { "wait" } else { "no-wait" }.to_owned());
            if w != 0 {
                q.info.waits = true;
                q.notes.push(Note::info(
                    "waits until the file lock is free: the answer may come much later",
                ));
            }
            stale_index_note(q);
        }
        36 | 38 | 42 | 43 => {
            fno(rd, q, files)?;
            let (b, r) = rd.take_rest();
            index_arg(q, r, b);
        }
        39 => {
            fno(rd, q, files)?;
            let (k, kr) = rd.le_i16()?;
            q.fields.push(int("index_length", kr, k));
            let (name, r) = rd.take_len(i64::from(k))?;
            index_arg(q, r, name);
            let (val, r) = rd.take_rest();
            bytes_fields(&mut q.fields, "value", r, val);
            q.sum(|| format!("value={}", quoted(val, SUM)));
        }
        40 => {
            fno(rd, q, files)?;
            let (k, r) = rd.le_i32()?;
            q.fields.push(int("key", r, k));
            q.info.key = Some(k);
            match codes::fileinfo_key(k) {
                Some(n) => {
                    q.fields
                        .push(Field::new("key_name", None, Value::Str(n.into())));
                    q.sum(|| format!("key={k} ({n})"));
                }
                None => q.sum(|| format!("key={k}")),
            }
        }
        41 => {
            fno(rd, q, files)?;
            let (fl, r) = rd.le_i16()?;
            q.fields.push(int("flags", r, fl));
            let (n, r) = rd.le_i32()?;
            q.fields.push(int("field", r, n));
            q.info.key = Some(n);
            let lock = match fl & 3 {
                1 => "update lock",
                2 => "shared lock",
                0 => "no lock",
                _ => "update and shared lock",
            };
            q.fields
                .push(Field::new("lock", None, Value::Str(lock.into())));
            q.fields
                .push(Field::new("no_wait", None, Value::Bool(fl & 4 != 0)));
            if !matches!(fl, 0 | 1 | 2 | 5 | 6) {
                q.notes.push(Note::info(format!(
                    "Readv flags {fl} are not one of the values the server handles (0, 1, 2, 5, 6)"
                )));
            }
            let (b, r) = rd.take_rest();
            id_arg(q, code, r, b);
            q.sum(|| format!("field {n}"));
        }
        44 | 45 => {
            fno(rd, q, files)?;
            listno(rd, q)?;
            let (b, r) = rd.take_rest();
            index_arg(q, r, b);
            if code == 45 {
                q.notes.push(Note::info(
                    "ScarletDME bug: SelectRight falls through into the mark-mapping code (the list number is used as mapping state)",
                ));
            }
        }
        46 => {
            fno(rd, q, files)?;
            let (s, r) = rd.le_i16()?;
            q.fields.push(int("state", r, s));
            let on = if s != 0 { "on" } else { "off" };
            q.fields
                .push(Field::new("mark_mapping", None, Value::Str(on.into())));
            q.sum(|| format!("mark mapping {on}"));
        }
        _ => {
            let (b, r) = rd.take_rest();
            if !b.is_empty() {
                mv::bulk(&mut q.fields, q.lean, "body", r, b);
                q.sum(|| format!("{} bytes", b.len()));
            }
        }
    }
    Some(())
}

fn text_arg(q: &mut Req, name: &'static str, r: Range<usize>, b: &[u8]) {
    bytes_fields(&mut q.fields, name, r, b);
    q.sum(|| quoted(b, SUM));
    q.info.text = Some(b.to_vec());
}

fn index_arg(q: &mut Req, r: Range<usize>, b: &[u8]) {
    bytes_fields(&mut q.fields, "index", r, b);
    q.sum(|| format!("index={}", quoted(b, SUM)));
}

fn stale_index_note(q: &mut Req) {
    q.notes.push(Note::info(
        "ScarletDME acts on a stale file-table index for this function: the file affected may differ from the fno sent",
    ));
}

fn fno(rd: &mut Cursor<'_>, q: &mut Req, files: &Files) -> Option<i16> {
    let (f, r) = rd.le_i16()?;
    q.fields.push(int("fno", r, f));
    q.info.fno = Some(f);
    match files.get(&f) {
        Some(name) => {
            q.fields.push(Field::new(
                "file_name",
                None,
                Value::Str(mv::display_max(name, mv::MAX_LEAF).0),
            ));
            q.sum(|| format!("fno={f} ({})", mv::one_line(name, SUM)));
        }
        None => q.sum(|| format!("fno={f}")),
    }
    Some(f)
}

fn listno(rd: &mut Cursor<'_>, q: &mut Req) -> Option<i16> {
    let (l, r) = rd.le_i16()?;
    q.fields.push(int("list", r, l));
    q.info.listno = Some(l);
    q.sum(|| format!("list={l}"));
    if !(0..=10).contains(&l) {
        q.notes.push(Note::info(format!(
            "select list number {l} outside 0–10: expect SV_ERROR \"Invalid select list number\""
        )));
    }
    Some(l)
}

/// A record id, with the limits of section 2.4 as notes.
fn id_arg(q: &mut Req, code: i16, r: Range<usize>, b: &[u8]) {
    bytes_fields(&mut q.fields, "id", r, b);
    q.sum(|| format!("id={}", quoted(b, SUM)));
    q.info.id = Some(b.get(..b.len().min(256)).unwrap_or(b).to_vec());
    if b.is_empty() {
        if code != 15 {
            q.notes
                .push(Note::info("empty record id (clients refuse it)"));
        }
    } else if b.len() > 255 {
        q.notes.push(Note::info(format!(
            "record id of {} bytes: clients refuse ids over 255 bytes",
            b.len()
        )));
    } else if b.len() > 63 {
        q.notes.push(Note::info(format!(
            "record id of {} bytes: over the server's default 63-byte limit (expect status 3000)",
            b.len()
        )));
    }
    if codes::is_read(code) && b.len() > 99 {
        q.notes.push(Note::info(
            "the server uses only the first 99 bytes of a read-type id",
        ));
    }
}

/// A record (dynamic array): a capped structured view, then the raw bytes.
fn record_fields(q: &mut Req, name: &'static str, r: Range<usize>, b: &[u8]) {
    let n = mv::count(b, mv::FM);
    q.fields
        .push(Field::new("field_count", None, Value::Int(n as i64)));
    mv::view(&mut q.fields, &mut q.notes, q.lean, name, r.clone(), b, n);
    mv::bulk(&mut q.fields, q.lean, name, r, b);
    q.sum(|| format!("{name} {n} field{}, {} bytes", plural(n), b.len()));
}

pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Most Call arguments decoded one by one.
const MAX_ARGS: usize = 1000;

fn call(rd: &mut Cursor<'_>, q: &mut Req) -> Option<()> {
    let (n, nr) = rd.le_i16()?;
    q.fields.push(int("name_length", nr, n));
    let (name, r) = rd.take_len(i64::from(n))?;
    bytes_fields(&mut q.fields, "subroutine", r, name);
    q.info.text = Some(name.to_vec());
    rd.pad(name.len(), 2)?;
    let (argc, ar) = rd.le_i16()?;
    q.fields.push(int("argc", ar, argc));
    q.info.argc = Some(argc);
    if argc < 0 {
        return None;
    }
    let mut args = Vec::new();
    let start = rd.pos;
    for i in 0..argc {
        let at = rd.pos;
        let (l, lr) = rd.le_i32()?;
        let (v, vr) = rd.take_len(i64::from(l))?;
        rd.pad(v.len(), 2)?;
        if args.len() < MAX_ARGS {
            let mut f = vec![int("length", lr, l)];
            bytes_fields(&mut f, "value", vr, v);
            args.push(Field::new(
                (i + 1).to_string(),
                Some(at..rd.pos),
                Value::Struct(f),
            ));
        }
    }
    if argc > 0 {
        q.fields
            .push(Field::new("args", Some(start..rd.pos), Value::List(args)));
    }
    q.sum(|| format!(
        "{} ({argc} arg{})",
        mv::one_line(name, SUM),
        plural(argc.unsigned_abs().into())
    ));
    let mut text = format!(
        "calls subroutine {} with {argc} argument{}",
        quoted(name, SUM),
        plural(argc.unsigned_abs().into())
    );
    if name.first() == Some(&b'$') {
        text.push_str(" (a $ name: a system subroutine, allowed only if flagged callable)");
    }
    q.notes.push(Note::info(text));
    Some(())
}

fn login(rd: &mut Cursor<'_>, q: &mut Req, secrets: bool) -> Option<()> {
    let (n, nr) = rd.le_i16()?;
    let (user, ur) = rd.take_len(i64::from(n))?;
    rd.pad(user.len(), 2)?;
    let (p, pr) = rd.le_i16()?;
    let (pw, pwr) = rd.take_len(i64::from(p))?;
    rd.pad(pw.len(), 2)?;
    q.fields.push(int("user_length", nr, n));
    bytes_fields(&mut q.fields, "user", ur, user);
    q.fields.push(int("password_length", pr, p));
    q.secrets.push(pwr.clone());
    if secrets {
        bytes_fields(&mut q.fields, "password", pwr, pw);
        q.sum(|| format!(
            "user={} password={}",
            quoted(user, SUM),
            quoted(pw, SUM)
        ));
    } else {
        q.fields.push(Field::new(
            "password",
            Some(pwr),
            Value::Str("<redacted>".into()),
        ));
        q.sum(|| format!("user={} password=<redacted>", quoted(user, SUM)));
    }
    q.info.user = Some(user.to_vec());
    q.notes.push(Note::warn(format!(
        "clear-text password on the wire (user {}, password {} bytes){}",
        quoted(user, SUM),
        pw.len(),
        if secrets {
            ""
        } else {
            "; redacted here (--show-secrets shows it)"
        }
    )));
    if user.is_empty() || user.len() > 32 || user.first() == Some(&b'$') {
        q.notes.push(Note::info(
            "the server rejects empty user names, names over 32 bytes and names starting with $",
        ));
    }
    if pw.len() > 32 {
        q.notes.push(Note::info(
            "the server looks only at the first 32 bytes of the password",
        ));
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(show_secrets: bool) -> Options {
        Options {
            show_secrets,
            ..Options::default()
        }
    }

    fn frame(code: i16, body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 6) as i32).to_le_bytes().to_vec();
        v.extend_from_slice(&code.to_le_bytes());
        v.extend_from_slice(body);
        v
    }

    fn get<'a>(q: &'a Req, name: &str) -> &'a Value {
        &q.fields
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no field {name} in {:?}", q.fields))
            .value
    }

    #[test]
    fn login_with_odd_lengths_and_garbage_pads() {
        let f = frame(24, b"\x05\x00qmodd\x99\x07\x00secret1\x42");
        let q = decode(24, &f, &Files::new(), secrets(false));
        assert!(!q.malformed);
        assert_eq!(get(&q, "user"), &Value::Bytes(b"qmodd".to_vec()));
        assert_eq!(get(&q, "password"), &Value::Str("<redacted>".into()));
        assert!(!q.summary.join(" ").contains("secret1"));
        let q = decode(24, &f, &Files::new(), secrets(true));
        assert_eq!(get(&q, "password"), &Value::Bytes(b"secret1".to_vec()));
        // A missing pad byte is malformed; the raw body stays redacted.
        let f = frame(24, b"\x05\x00qmodd\x07\x00secret1");
        let q = decode(24, &f, &Files::new(), secrets(false));
        assert!(q.malformed);
        assert_eq!(get(&q, "raw"), &Value::Str("<redacted>".into()));
    }

    #[test]
    fn login_password_bytes_are_marked_secret_whether_shown_or_not() {
        let f = frame(24, b"\x05\x00qmodd\x99\x07\x00secret1\x42");
        for show in [false, true] {
            let q = decode(24, &f, &Files::new(), secrets(show));
            let masked: Vec<&[u8]> = q.secrets.iter().map(|r| &f[r.clone()]).collect();
            assert_eq!(masked, vec![&b"secret1"[..]], "show {show}");
        }
        // Malformed: the password's place is unknown, the whole body is secret.
        let f = frame(24, b"\x05\x00qmodd\x07\x00secret1");
        let q = decode(24, &f, &Files::new(), secrets(true));
        assert_eq!(q.secrets, vec![6..f.len()]);
        // Other functions carry none; LocalLogin has no body.
        assert!(decode(25, &frame(25, b""), &Files::new(), secrets(false))
            .secrets
            .is_empty());
        assert!(decode(21, &frame(21, b"LIST VOC"), &Files::new(), secrets(false))
            .secrets
            .is_empty());
    }

    #[test]
    fn file_names_are_shown_with_fno() {
        let mut files = Files::new();
        files.insert(1, b"CUSTOMERS".to_vec());
        let q = decode(6, &frame(6, b"\x01\x00C001"), &files, secrets(false));
        assert_eq!(get(&q, "file_name"), &Value::Str("CUSTOMERS".into()));
        assert_eq!(q.summary.join(" "), "fno=1 (CUSTOMERS) id=\"C001\"");
    }
}
