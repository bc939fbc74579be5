//! Test support for the QPS dissector tests: a small encoder written from
//! qps.md (section 4 layouts), a runner over the real driver and field
//! lookups. Independent of the dissector's own code.
#![allow(dead_code)]

#[allow(unused_imports)] // each test binary uses a different subset
pub use qscope_dissectors::driver::{messages as msgs, session_notes, undecoded};
use qscope_dissectors::driver::{Driver, Item, Limits};
use qscope_dissectors::qps::Qps;
use qscope_dissectors::{Dir, Field, Message, Options, SessionStart, Severity, Value};

pub const V: [u8; 4] = [0x00, 0x3F, 0x00, 0x3F];

/// A request: 18-byte client header, Data, Sub-Data.
pub fn req(session: u16, code: u16, seq: u16, data: &[u8], sub: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&session.to_be_bytes());
    m.extend_from_slice(&code.to_be_bytes());
    m.extend_from_slice(&V);
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(&(sub.len() as u32).to_be_bytes());
    m.extend_from_slice(&((data.len() + sub.len()) as u32).to_be_bytes());
    m.extend_from_slice(data);
    m.extend_from_slice(sub);
    m
}

/// A response or push: 18-byte server header and Data.
pub fn resp(code: u16, status: u16, seq: u16, flags: u32, data: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&V);
    m.extend_from_slice(&code.to_be_bytes());
    m.extend_from_slice(&status.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&(data.len() as u32).to_be_bytes());
    m.extend_from_slice(data);
    m
}

/// A successful response (Code 0, Status 0, Flags 0).
pub fn ok(seq: u16, data: &[u8]) -> Vec<u8> {
    resp(0, 0, seq, 0, data)
}

pub fn pstr(s: &[u8]) -> Vec<u8> {
    let mut v = vec![s.len() as u8];
    v.extend_from_slice(s);
    v
}

/// A Pascal string in a fixed slot of `slot` bytes after the length byte.
pub fn slot(s: &[u8], slot: usize) -> Vec<u8> {
    let mut v = pstr(s);
    v.resize(1 + slot, 0);
    v
}

pub fn be32(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

// --- Requests -------------------------------------------------------------

pub fn signon(seq: u16, user: &[u8], pw: &[u8], pad: bool) -> Vec<u8> {
    let mut d = pstr(user);
    if pad {
        d.push(0);
    }
    d.extend_from_slice(&pstr(pw));
    d.extend_from_slice(&be32(0x100));
    req(0, 5, seq, &d, &[])
}

pub fn open_header(session: u16, seq: u16, file: &[u8], mode: u8) -> Vec<u8> {
    let mut d = vec![0u8; 8];
    d.extend_from_slice(&slot(file, 256));
    d.push(mode);
    req(session, 8, seq, &d, &[])
}

pub fn get_statuses(session: u16, seq: u16, publication: &[u8]) -> Vec<u8> {
    req(session, 0x2B, seq, &slot(publication, 67), &[])
}

/// A checkbox (type 6) or dropdown (type 7) query, Q including itself.
pub fn query(field: u32, ty: u32, value: u32) -> Vec<u8> {
    let first = if ty == 6 { 2 } else { 0 };
    let words = [first, 0x10000, 1, 0x18, 1, 1, 1, value, 0];
    let mut q = Vec::new();
    q.extend_from_slice(&be32(48));
    q.extend_from_slice(&be32(field));
    q.extend_from_slice(&be32(ty));
    for w in words {
        q.extend_from_slice(&be32(w));
    }
    q
}

/// Search Sub-Data (4.7) for these publication ids and queries.
pub fn criteria(pubs: &[u32], queries: &[Vec<u8>]) -> Vec<u8> {
    let pl = 8 * pubs.len() as u32;
    let ql: u32 = queries.iter().map(|q| q.len() as u32).sum();
    let total = 0x48 + pl + ql;
    let mut s = Vec::new();
    for w in [total, 0x0006_0006, 0xB46D_D345] {
        s.extend_from_slice(&be32(w));
    }
    s.extend_from_slice(&[0; 32]);
    for w in [2, 0xAF7F_FFFF, 0x48, pl, 0x48, ql, 0x48 + pl] {
        s.extend_from_slice(&be32(w));
    }
    for p in pubs {
        s.extend_from_slice(&be32(*p));
        s.extend_from_slice(&be32(0));
    }
    for q in queries {
        s.extend_from_slice(q);
    }
    s
}

pub fn search(session: u16, seq: u16, pubs: &[u32], queries: &[Vec<u8>]) -> Vec<u8> {
    req(session, 0x14, seq, &be32(8), &criteria(pubs, queries))
}

pub fn search_count(session: u16, seq: u16, id: u16) -> Vec<u8> {
    let mut d = id.to_be_bytes().to_vec();
    d.extend_from_slice(&[0; 14]);
    d.extend_from_slice(&[1, 0]);
    req(session, 0x42, seq, &d, &be32(1))
}

// --- Responses ------------------------------------------------------------

/// GetHeaders response Data: (field id, type, name).
pub fn headers_data(items: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let mut d = be32(0).to_vec();
    d.extend_from_slice(&be32(items.len() as u32));
    for (id, ty, name) in items {
        d.extend_from_slice(&be32(*id));
        d.extend_from_slice(&be32(*ty));
        d.extend_from_slice(&be32(0));
        d.extend_from_slice(&slot(name, 39));
    }
    d
}

/// GetPublications response Data (pad after an even-length name).
pub fn publications_data(pubs: &[(&[u8], u32)]) -> Vec<u8> {
    let mut d = vec![0u8; 8];
    d.extend_from_slice(&be32(pubs.len() as u32));
    for (name, id) in pubs {
        d.extend_from_slice(&pstr(name));
        if name.len() % 2 == 0 {
            d.push(0);
        }
        d.extend_from_slice(&be32(*id));
    }
    d
}

/// GetStatuses response Data: (status id, name).
pub fn statuses_data(statuses: &[(u32, &[u8])]) -> Vec<u8> {
    let mut d = vec![0u8; 8];
    d.extend_from_slice(&be32(statuses.len() as u32));
    for (id, name) in statuses {
        d.extend_from_slice(&[0; 4]);
        d.extend_from_slice(&be32(*id));
        d.extend_from_slice(&[0; 14]);
        d.extend_from_slice(&pstr(name));
        if name.len() % 2 == 0 {
            d.push(0);
        }
        d.extend_from_slice(&[0; 2]);
    }
    d
}

/// A key/value item (pad after an odd-length value).
pub fn kv(key: u16, value: &[u8]) -> Vec<u8> {
    let mut v = key.to_be_bytes().to_vec();
    v.extend_from_slice(&(value.len() as u16).to_be_bytes());
    v.extend_from_slice(value);
    if value.len() % 2 == 1 {
        v.push(0);
    }
    v
}

pub fn cifs_mount(share: &[u8]) -> Vec<u8> {
    cat(&[&[0, 0], b"cifs", &[0; 10], share])
}

pub fn afpm_mount(ip: &[u8], share: &[u8]) -> Vec<u8> {
    let ip_off = 0x10u16;
    let share_off = ip_off + 1 + ip.len() as u16;
    cat(&[
        &[0, 0],
        b"afpm",
        &[0; 12],
        &ip_off.to_be_bytes(),
        &share_off.to_be_bytes(),
        &pstr(ip),
        &pstr(share),
    ])
}

/// A repository entry; `len_mode`: 0 = L counts the whole entry, 4 = L
/// excludes its own 4 bytes; `name_pad`: a pad byte after the name.
pub fn repository(name: &[u8], kvs: &[Vec<u8>], len_mode: u32, name_pad: bool) -> Vec<u8> {
    let mut body = vec![0u8; 50];
    body.extend_from_slice(&pstr(name));
    if name_pad {
        body.push(0);
    }
    body.extend_from_slice(&[0; 154]);
    for k in kvs {
        body.extend_from_slice(k);
    }
    body.extend_from_slice(&[0xFF, 0xFF]);
    let l = body.len() as u32 + 4 - len_mode;
    cat(&[&be32(l), &body])
}

pub fn repositories_data(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut d = be32(entries.len() as u32).to_vec();
    for e in entries {
        d.extend_from_slice(e);
    }
    d
}

/// A GetSearchResults entry; `incl`: the length counts its own 2 bytes.
pub fn result_entry(status: u8, name: &[u8], incl: bool) -> Vec<u8> {
    let mut e = vec![0u8; 16];
    e.push(status);
    e.extend_from_slice(&[0; 37]);
    e.extend_from_slice(&pstr(name));
    let l = e.len() as u16 + if incl { 2 } else { 0 };
    cat(&[&l.to_be_bytes(), &e])
}

pub fn search_update(seq: u16, name: &[u8], added: bool) -> Vec<u8> {
    let d = cat(&[&[0; 8], &pstr(name)]);
    resp(0, 5, seq, if added { 0x100 } else { 0 }, &d)
}

/// One ReadHeader item: (field id, type, flags, value).
pub type Item4 = (u32, u32, u32, u32);

/// ReadHeader response Data (also SaveHeader Sub-Data): 288 unknown bytes,
/// count, items, then `tail` (referenced data). References are computed by
/// the caller: data offset of item i = 0x124 + 20·i (message offset + 0x12).
pub fn raw_header(items: &[Item4], tail: &[u8]) -> Vec<u8> {
    let mut d = vec![0u8; 0x120];
    d.extend_from_slice(&be32(items.len() as u32));
    for (id, ty, flags, value) in items {
        for w in [*id, *ty, 0, *flags, *value] {
            d.extend_from_slice(&be32(w));
        }
    }
    d.extend_from_slice(tail);
    d
}

// --- Running --------------------------------------------------------------

pub fn run_with(
    start: SessionStart,
    opts: Options,
    steps: &[(Dir, Vec<u8>)],
    chunk: usize,
) -> Vec<Item> {
    let mut d = Driver::new(Box::new(Qps::new(start, opts)), Limits::default());
    let mut items = Vec::new();
    let mut offs = [0u64; 2];
    for (dir, bytes) in steps {
        for piece in bytes.chunks(chunk.max(1)) {
            d.data(*dir, offs[dir.idx()], piece, &mut |i| items.push(i));
            offs[dir.idx()] += piece.len() as u64;
        }
    }
    d.close(&mut |i| items.push(i));
    items
}

pub fn run(steps: &[(Dir, Vec<u8>)]) -> Vec<Item> {
    run_with(
        SessionStart::default(),
        Options::default(),
        steps,
        usize::MAX,
    )
}

pub fn dir_msgs(items: &[Item], dir: Dir) -> Vec<&Message> {
    msgs(items).into_iter().filter(|m| m.dir == dir).collect()
}

/// A field by path: names separated by '.', a number picks the n-th child
/// of a list or struct.
pub fn find<'a>(m: &'a Message, path: &str) -> Option<&'a Field> {
    let mut fields: &[Field] = &m.fields;
    let mut found: Option<&Field> = None;
    for part in path.split('.') {
        let f = match part.parse::<usize>() {
            Ok(i) => fields.get(i),
            Err(_) => fields.iter().find(|f| f.name == part),
        }?;
        fields = match &f.value {
            Value::Struct(c) | Value::List(c) => c,
            _ => &[],
        };
        found = Some(f);
    }
    found
}

pub fn field<'a>(m: &'a Message, path: &str) -> &'a Field {
    find(m, path).unwrap_or_else(|| panic!("{}: no field {path} in {:#?}", m.name, m.fields))
}

pub fn has_field(m: &Message, path: &str) -> bool {
    find(m, path).is_some()
}

pub fn val<'a>(m: &'a Message, path: &str) -> &'a Value {
    &field(m, path).value
}

pub fn uint(m: &Message, path: &str) -> u64 {
    match val(m, path) {
        Value::UInt(u) => *u,
        v => panic!("{path}: not an unsigned integer: {v:?}"),
    }
}

pub fn text(m: &Message, path: &str) -> String {
    match val(m, path) {
        Value::Str(s) => s.clone(),
        v => panic!("{path}: not text: {v:?}"),
    }
}

pub fn has_note(m: &Message, sev: Severity, part: &str) -> bool {
    m.notes
        .iter()
        .any(|n| n.severity == sev && n.text.contains(part))
}

/// Checks that every field range lies inside the message.
pub fn ranges_inside(m: &Message) {
    fn walk(fields: &[Field], len: usize, name: &str) {
        for f in fields {
            if let Some(r) = &f.range {
                assert!(
                    r.start <= r.end && r.end <= len,
                    "{name}: {} range {r:?} outside {len}",
                    f.name
                );
            }
            if let Value::Struct(c) | Value::List(c) = &f.value {
                walk(c, len, name);
            }
        }
    }
    walk(&m.fields, m.len, &m.name);
}
