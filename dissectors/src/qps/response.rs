//! Response and push bodies (server → client), qps.md sections 4.1–4.16,
//! decoded with the layout of the request they answer (D3).

use std::borrow::Cow;

use super::body::{c2s, finish, slot_str};
use super::codes::*;
use super::header;
use super::types::*;
use super::wire::{
    disp, f_bool, f_bytes, f_inferred, f_list, f_struct, f_text, f_uint, mac_roman, name_list,
    plural,
};
use crate::toolkit::{be_u16, Cursor};
use crate::{Ctx, Field, Note, Severity, Value};

/// Section 5 rule 1: 8 bytes and a Pascal string ending within one byte of
/// the end of Data.
pub(super) fn is_search_update(data: &[u8]) -> bool {
    match data.get(8) {
        Some(&n) => {
            let end = 9 + usize::from(n);
            end <= data.len() && data.len() - end <= 1
        }
        None => false,
    }
}

/// SearchUpdate push (4.10).
pub(super) fn search_update(st: &State, h: &RespHdr, msg: &[u8], data_end: usize, o: &mut Out) {
    let mut c = Cursor::new(msg, HDR, data_end);
    let added = h.flags & 0x100 != 0;
    o.fields.push(f_bool("added", 10..14, added));
    if let Some((u, r)) = c.take(8) {
        o.fields.push(f_bytes("unknown", r, u));
    }
    let name = match c.pstr() {
        Some((t, r)) => {
            o.fields.push(f_text("file_name", r, t));
            mac_roman(t)
        }
        None => String::new(),
    };
    if let Some((p, r)) = c.take(c.left()) {
        if !p.is_empty() {
            o.fields.push(f_bytes("pad", r, p));
        }
    }
    // The search it belongs to: the Search whose sequence number it carries,
    // else the most recent Search.
    match st.search_reqs.get(&h.seq).copied().or(st.last_search_req) {
        Some(at) => o.links.push(("search", c2s(at))),
        None => o
            .notes
            .push(Note::info("SearchUpdate without a captured Search")),
    }
    o.summary = format!(
        "{} \"{}\"",
        if added { "added" } else { "removed" },
        disp(&name, 60)
    );
}

/// Decodes the Data of the response to `p`.
pub(super) fn decode(
    st: &mut State,
    p: &Pending,
    h: &RespHdr,
    msg: &[u8],
    data_end: usize,
    o: &mut Out,
    ctx: &mut Ctx,
) {
    let mut c = Cursor::new(msg, HDR, data_end);
    let failed = h.code != 0 && p.code != SIGNON && p.code != GET_SEARCH_RESULTS;
    let ok = if failed {
        // D3: a non-zero result code; the Data of a failure is undocumented.
        o.is_error = true;
        o.notes.push(Note::warn(format!(
            "result code {} (non-zero: the request failed; details undocumented)",
            h.code
        )));
        o.summary = format!("failed (code {})", h.code);
        header_only(&mut c, o, false)
    } else {
        match p.code {
            SIGNON => signon(st, p, h, &mut c, o, ctx),
            GET_HEADERS => headers(st, &mut c, o),
            GET_PUBLICATIONS => publications(st, &mut c, o),
            GET_STATUSES => statuses(p, &mut c, o),
            GET_REPOSITORIES => repositories(&mut c, o),
            SEARCH => search(st, p, &mut c, o),
            SEARCH_COUNT => search_count(&mut c, o),
            GET_SEARCH_RESULTS => results(st, h, &mut c, o),
            OPEN_HEADER => open_header(st, p, &mut c, o),
            READ_HEADER => read_header(st, msg, &mut c, o),
            // SaveHeader, SignOff, CloseHeader (D18), Close: header only.
            SAVE_HEADER | SIGN_OFF | CLOSE_HEADER | CLOSE => header_only(&mut c, o, true),
            _ => header_only(&mut c, o, false),
        }
    };
    finish(&c, o, ok.is_some(), "Data", false);
}

/// A response without documented Data: any bytes shown raw (`flag`: and
/// flagged).
pub(super) fn header_only(c: &mut Cursor, o: &mut Out, flag: bool) -> Option<()> {
    if c.left() > 0 {
        if flag {
            o.notes.push(Note::info(format!(
                "{} bytes of Data where none is documented",
                c.left()
            )));
        }
        o.fields.push(f_bytes("data", c.pos..c.end, c.rest()));
        c.pos = c.end;
    }
    Some(())
}

/// Signon (4.1): Code 0 and the u32 session id, or a failure.
fn signon(
    st: &mut State,
    p: &Pending,
    h: &RespHdr,
    c: &mut Cursor,
    o: &mut Out,
    ctx: &mut Ctx,
) -> Option<()> {
    let user = match &p.ctx {
        ReqCtx::Signon(u) => u.as_str(),
        _ => "",
    };
    if h.code == 0 {
        let (id, r) = c.u32()?;
        o.fields.push(f_uint("session_id", r, id));
        if id > 0xFFFF {
            o.notes.push(Note::info(format!(
                "session id 0x{id:08x} is wider than the 16-bit Session ID of request headers (D5)"
            )));
        }
        st.session = Some(id);
        ctx.attr("session_id", format!("0x{id:04x}"));
        o.summary = format!("signed on, session 0x{id:04x}");
        return Some(());
    }
    // Failure: decode by Length (a u32 session id when there are 4 bytes).
    if c.left() == 4 {
        let (id, r) = c.u32()?;
        o.fields.push(f_uint("session_id", r, id));
    }
    st.failed_signons += 1;
    o.is_error = true;
    o.notes.push(Note::warn(format!(
        "Signon failed (result code {}) for user \"{}\"",
        h.code,
        disp(user, 40)
    )));
    if st.failed_signons >= 3 {
        o.notes.push(Note::warn(format!(
            "{} failed signons on this connection (password guessing?)",
            st.failed_signons
        )));
    }
    o.summary = format!("signon failed (code {})", h.code);
    Some(())
}

/// A count of fixed-size items: flags a count that does not fit the Data
/// and returns how many to decode.
fn fitting(count: u32, size: usize, c: &Cursor, what: &str, o: &mut Out) -> usize {
    let fit = c.left() / size;
    if count as usize > fit {
        o.notes.push(Note::error(format!(
            "{count} {what} × {size} bytes exceed the Data ({} bytes left)",
            c.left()
        )));
    }
    (count as usize).min(fit)
}

/// Decodes up to `count` variable-size entries with `entry`, stopping (and
/// flagging) when the Data runs out. Returns the list and whether every
/// entry decoded.
fn entries<'a, T>(
    c: &mut Cursor<'a>,
    count: u32,
    what: &str,
    o: &mut Out,
    mut entry: impl FnMut(&mut Cursor<'a>, &mut Vec<Note>) -> Option<(Field, T)>,
) -> (Vec<Field>, Vec<T>, bool) {
    let mut fields = Vec::new();
    let mut extra = Vec::new();
    for i in 0..count {
        if c.left() == 0 {
            o.notes.push(Note::error(format!(
                "count {count} but the Data ends after {i} {what}"
            )));
            return (fields, extra, true);
        }
        let save = c.pos;
        match entry(c, &mut o.notes) {
            Some((f, t)) => {
                fields.push(f);
                extra.push(t);
            }
            None => {
                c.pos = save;
                return (fields, extra, false);
            }
        }
    }
    (fields, extra, true)
}

/// GetHeaders (4.2): unknown u32, count, 52-byte field definitions.
fn headers(st: &mut State, c: &mut Cursor, o: &mut Out) -> Option<()> {
    let (u, r) = c.take(4)?;
    o.fields.push(f_bytes("unknown", r, u));
    let (n, r) = c.u32()?;
    o.fields.push(f_uint("count", r, n));
    let fit = fitting(n, 0x34, c, "header items", o);
    let start = c.pos;
    let mut items = Vec::new();
    let mut names = Vec::new();
    for _ in 0..fit {
        let s = c.pos;
        let mut f = Vec::new();
        let (id, ir) = c.u32()?;
        f.push(f_uint("field_id", ir, id));
        let (ty, tr) = c.u32()?;
        f.push(f_uint("type", tr, ty));
        if let Some(t) = type_name(ty) {
            f.push(f_inferred("type_name", Value::Str(t.into())));
        }
        let (res, rr) = c.take(4)?;
        f.push(f_bytes("reserved", rr, res));
        let name = slot_str(c, 39, "name", &mut f, &mut o.notes)?;
        remember(
            &mut st.fields,
            id,
            FieldDef {
                name: name.clone(),
                data_type: ty,
            },
        );
        names.push(Cow::Owned(name));
        items.push(f_struct("item", Some(s..c.pos), f));
    }
    o.fields.push(f_list("items", Some(start..c.pos), items));
    o.summary = format!("{} fields: {}", names.len(), name_list(names, 60));
    Some(())
}

/// GetPublications (4.3): 8 unknown, count, publications (pad after an
/// even-length name).
fn publications(st: &mut State, c: &mut Cursor, o: &mut Out) -> Option<()> {
    let (u, r) = c.take(8)?;
    o.fields.push(f_bytes("unknown", r, u));
    let (n, r) = c.u32()?;
    o.fields.push(f_uint("count", r, n));
    let start = c.pos;
    let (items, names, ok) = entries(c, n, "publications", o, |c, _| {
        let s = c.pos;
        let (t, tr) = c.pstr()?;
        if t.len() % 2 == 0 {
            c.take(1)?;
        }
        let (id, ir) = c.u32()?;
        let name = mac_roman(t);
        let f = vec![f_text("name", tr, t), f_uint("id", ir, id)];
        Some((f_struct("publication", Some(s..c.pos), f), (id, name)))
    });
    o.fields
        .push(f_list("publications", Some(start..c.pos), items));
    for (id, name) in &names {
        remember(&mut st.pubs, *id, name.clone());
    }
    o.summary = format!(
        "{} publications: {}",
        names.len(),
        name_list(names.into_iter().map(|(_, n)| Cow::Owned(n)), 60)
    );
    ok.then_some(())
}

/// GetStatuses (4.4): 8 unknown, count, status entries.
fn statuses(p: &Pending, c: &mut Cursor, o: &mut Out) -> Option<()> {
    let publication = match &p.ctx {
        ReqCtx::Statuses(n) => n.clone(),
        _ => String::new(),
    };
    o.fields
        .push(f_inferred("publication", Value::Str(publication.clone())));
    let (u, r) = c.take(8)?;
    o.fields.push(f_bytes("unknown", r, u));
    let (n, r) = c.u32()?;
    o.fields.push(f_uint("count", r, n));
    let start = c.pos;
    let (items, names, ok) = entries(c, n, "statuses", o, |c, _| {
        let s = c.pos;
        let mut f = Vec::new();
        let (u1, r1) = c.take(4)?;
        f.push(f_bytes("unknown1", r1, u1));
        let (id, ir) = c.u32()?;
        f.push(f_uint("id", ir, id));
        let (u2, r2) = c.take(14)?;
        f.push(f_bytes("unknown2", r2, u2));
        let (t, tr) = c.pstr()?;
        f.push(f_text("name", tr, t));
        if t.len() % 2 == 0 {
            c.take(1)?;
        }
        let (u3, r3) = c.take(2)?;
        f.push(f_bytes("unknown3", r3, u3));
        Some((f_struct("status", Some(s..c.pos), f), mac_roman(t)))
    });
    o.fields.push(f_list("statuses", Some(start..c.pos), items));
    o.summary = format!(
        "\"{}\": {} statuses: {}",
        disp(&publication, 30),
        names.len(),
        name_list(names.into_iter().map(Cow::Owned), 60)
    );
    ok.then_some(())
}

/// GetRepositories (4.5): count, repository entries.
fn repositories(c: &mut Cursor, o: &mut Out) -> Option<()> {
    let (n, r) = c.u32()?;
    o.fields.push(f_uint("count", r, n));
    let start = c.pos;
    let (items, texts, ok) = entries(c, n, "repositories", o, repository);
    o.fields
        .push(f_list("repositories", Some(start..c.pos), items));
    let places: Vec<String> = texts
        .iter()
        .filter(|t| !t.places.is_empty())
        .take(MAX_DISCLOSED)
        .map(|t| {
            let p: Vec<String> = t.places.iter().map(|p| disp(p, 100)).collect();
            format!("{}: {}", disp(&t.name, 40), p.join(", "))
        })
        .collect();
    if !places.is_empty() {
        o.notes.push(Note::info(format!(
            "share paths, server addresses and mount points disclosed: {}",
            places.join("; ")
        )));
    }
    let names = texts.iter().map(|t| match &t.mount {
        Some(m) => Cow::Owned(format!("{} ({m})", t.name)),
        None => Cow::Borrowed(t.name.as_str()),
    });
    o.summary = format!(
        "{}: {}",
        plural(texts.len(), "repository", "repositories"),
        name_list(names, 90)
    );
    ok.then_some(())
}

/// Most repositories named in the disclosure note.
const MAX_DISCLOSED: usize = 20;

/// What a repository entry tells, for the summary and notes.
struct RepoText {
    name: String,
    /// Mount type and share ("cifs //server/share").
    mount: Option<String>,
    /// Every disclosed location.
    places: Vec<String>,
}

/// The key/value list of a repository, walked to its 0xFFFF key.
struct Walk {
    /// Position after the 0xFFFF key.
    end: usize,
    items: Vec<Field>,
    mount: Option<String>,
    places: Vec<String>,
}

/// Walks a key/value list from `start` to the end of the Data (D10).
fn walk_kv(buf: &[u8], start: usize, data_end: usize, notes: &mut Vec<Note>) -> Option<Walk> {
    let mut c = Cursor::new(buf, start, data_end);
    let mut items = Vec::new();
    let mut mount_text = None;
    let mut places = Vec::new();
    loop {
        let s = c.pos;
        let (key, kr) = c.u16()?;
        if key == 0xFFFF {
            items.push(f_struct(
                "item",
                Some(s..c.pos),
                vec![
                    f_uint("key", kr, key),
                    f_inferred("key_name", Value::Str("end".into())),
                ],
            ));
            return Some(Walk {
                end: c.pos,
                items,
                mount: mount_text,
                places,
            });
        }
        let (v, vr) = c.u16()?;
        let (val, valr) = c.take(usize::from(v))?;
        if v % 2 == 1 {
            c.take(1)?;
        }
        let mut f = vec![f_uint("key", kr, key)];
        let (key_name, value) = match key {
            0x09 => {
                let (mf, text) = mount(buf, valr.clone(), notes);
                places.push(text.clone());
                mount_text.get_or_insert(text);
                ("mount info", f_struct("value", Some(valr), mf))
            }
            0x12 | 0x13 => {
                places.push(mac_roman(val));
                let n = if key == 0x12 {
                    "pathname"
                } else {
                    "mount point"
                };
                (n, f_text("value", valr, val))
            }
            _ => ("", f_bytes("value", valr, val)),
        };
        if !key_name.is_empty() {
            f.push(f_inferred("key_name", Value::Str(key_name.into())));
        }
        f.push(f_uint("length", vr, v));
        f.push(value);
        items.push(f_struct("item", Some(s..c.pos), f));
    }
}

/// D11: where the next repository entry starts given the entry length `l`
/// and the walked end `e`; with a note when `l` does not count itself or
/// fits neither reading.
fn next_entry(s: usize, l: u32, e: usize, data_end: usize) -> (usize, Option<Note>) {
    let fits = |n: Option<usize>| n.filter(|&n| n >= e && n - e <= 3 && n <= data_end);
    if let Some(n) = fits(s.checked_add(l as usize)) {
        return (n, None);
    }
    if let Some(n) = fits(s.checked_add(4).and_then(|x| x.checked_add(l as usize))) {
        return (
            n,
            Some(Note::info(
                "repository entry length excludes its own 4 bytes (D11)",
            )),
        );
    }
    (
        e,
        Some(Note::warn(format!(
            "inconsistent repository length {l} (entry walked to {} bytes, D11)",
            e - s
        ))),
    )
}

/// One repository entry (4.5, D10, D11).
fn repository(c: &mut Cursor, notes: &mut Vec<Note>) -> Option<(Field, RepoText)> {
    let buf_c = *c;
    let data_end = c.end;
    let s = c.pos;
    let mut f = Vec::new();
    let (l, lr) = c.u32()?;
    f.push(f_uint("length", lr, l));
    let (u1, r1) = c.take(50)?;
    f.push(f_bytes("unknown1", r1, u1));
    let (name, nr) = c.pstr()?;
    f.push(f_text("name", nr, name));
    let after_name = c.pos;
    // The list starts after 154 unknown bytes (and maybe a pad byte, D10).
    let try_walk = |pad: usize, notes: &mut Vec<Note>| -> Option<Walk> {
        let mut t = buf_c;
        t.pos = after_name + pad;
        t.take(154)?;
        walk_kv(buf_c.whole(), t.pos, t.end, notes)
    };
    let mut scratch = Vec::new();
    let plain = try_walk(0, &mut scratch);
    let fits = |w: &Walk| {
        next_entry(s, l, w.end, data_end)
            .1
            .is_none_or(|n| n.severity == Severity::Info)
    };
    let mut pad = 0;
    let walk = match plain {
        Some(w) if fits(&w) => {
            notes.append(&mut scratch);
            w
        }
        other => {
            let mut scratch2 = Vec::new();
            let padded = if name.len() % 2 == 0 {
                try_walk(1, &mut scratch2).filter(|w| fits(w))
            } else {
                None
            };
            match (padded, other) {
                (Some(w), _) => {
                    pad = 1;
                    notes.push(Note::info(
                        "repository name padding: one pad byte after the even-length name (D10)",
                    ));
                    notes.append(&mut scratch2);
                    w
                }
                (None, Some(w)) => {
                    notes.append(&mut scratch);
                    w
                }
                (None, None) => {
                    notes.push(Note::error(format!(
                        "repository \"{}\": key/value list without its 0xFFFF end within the Data",
                        disp(&mac_roman(name), 40)
                    )));
                    return None;
                }
            }
        }
    };
    c.pos = after_name + pad;
    let (u2, r2) = c.take(154)?;
    f.push(f_bytes("unknown2", r2, u2));
    let list_start = c.pos;
    f.push(f_list("items", Some(list_start..walk.end), walk.items));
    let (next, note) = next_entry(s, l, walk.end, data_end);
    notes.extend(note);
    c.pos = walk.end;
    if next > walk.end {
        let (t, tr) = c.take(next - walk.end)?;
        f.push(f_bytes("tail", tr, t));
    }
    let text = RepoText {
        name: mac_roman(name),
        mount: walk.mount,
        places: walk.places,
    };
    Some((f_struct("repository", Some(s..c.pos), f), text))
}

/// Mount info (key 0x09): unknown u16, 4-character type, mount data (cifs:
/// share, D12; afpm: server address and share at given offsets).
fn mount(buf: &[u8], r: std::ops::Range<usize>, notes: &mut Vec<Note>) -> (Vec<Field>, String) {
    let mut c = Cursor::new(buf, r.start, r.end);
    let mut f = Vec::new();
    let Some((u, ur)) = c.take(2) else {
        f.push(f_bytes("data", r.clone(), buf.get(r).unwrap_or(&[])));
        return (f, String::new());
    };
    f.push(f_bytes("unknown", ur, u));
    let Some((ty, tr)) = c.take(4) else {
        f.push(f_bytes("data", c.pos..c.end, c.rest()));
        return (f, String::new());
    };
    f.push(f_text("type", tr, ty));
    let md = c.pos;
    let mut text = mac_roman(ty);
    match ty {
        b"cifs" => match c.take(10) {
            Some((u, ur)) => {
                f.push(f_bytes("unknown2", ur, u));
                let (share, sr) = (c.rest(), c.pos..c.end);
                // D12: a Pascal string when its first byte fits, else text.
                let n = share.first().map(|&n| usize::from(n));
                let pascal = match n {
                    Some(n) if n + 1 == share.len() => share.get(1..),
                    Some(n) if n + 2 == share.len() && share.last() == Some(&0) => {
                        share.get(1..share.len() - 1)
                    }
                    _ => None,
                };
                let t = pascal.unwrap_or_else(|| {
                    let keep = share.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                    share.get(..keep).unwrap_or(&[])
                });
                f.push(f_text("share", sr, t));
                text = format!("cifs {}", mac_roman(t));
            }
            None => f.push(f_bytes("data", c.pos..c.end, c.rest())),
        },
        b"afpm" => {
            let offsets = c.take(12).and_then(|(u, ur)| {
                f.push(f_bytes("unknown2", ur, u));
                let (ip, ipr) = c.u16()?;
                let (sh, shr) = c.u16()?;
                f.push(f_uint("server_offset", ipr, ip));
                f.push(f_uint("share_offset", shr, sh));
                Some((ip, sh))
            });
            match offsets {
                Some((ip, sh)) => {
                    // Pascal strings at offsets from the start of the mount data.
                    let mut at = |name: &'static str, off: u16| {
                        let mut p = Cursor::new(buf, md + usize::from(off), r.end);
                        match p.pstr() {
                            Some((t, tr)) => {
                                f.push(f_text(name, tr, t));
                                mac_roman(t)
                            }
                            None => {
                                notes.push(Note::error(format!(
                                    "afpm mount info: {name} at offset {off} outside the value"
                                )));
                                String::new()
                            }
                        }
                    };
                    let server = at("server", ip);
                    let share = at("share", sh);
                    text = format!("afpm {server} {share}");
                }
                None => f.push(f_bytes("data", c.pos..c.end, c.rest())),
            }
        }
        _ => {
            if c.left() > 0 {
                f.push(f_bytes("data", c.pos..c.end, c.rest()));
            }
        }
    }
    (f, text)
}

/// Search (4.7): the search id.
fn search(st: &mut State, p: &Pending, c: &mut Cursor, o: &mut Out) -> Option<()> {
    let (id, r) = c.u16()?;
    o.fields.push(f_uint("search_id", r, id));
    st.current_search = Some((id, p.offset));
    remember(&mut st.search_ids, id, p.offset);
    st.results_parts = 0;
    o.summary = format!("search id {id}");
    Some(())
}

/// SearchCount (4.8): the number of matching stories.
fn search_count(c: &mut Cursor, o: &mut Out) -> Option<()> {
    let (n, r) = c.u32()?;
    o.fields.push(f_uint("stories", r, n));
    o.summary = plural(n as usize, "story", "stories");
    Some(())
}

/// Entry extents of GetSearchResults Data: `incl` = L counts its own 2
/// bytes (D24). Stops at the first entry that does not validate; returns
/// the extents (length field start, entry start, entry end) and where it
/// stopped.
fn walk_entries(
    buf: &[u8],
    start: usize,
    end: usize,
    incl: bool,
) -> (Vec<(usize, usize, usize)>, usize) {
    let mut out = Vec::new();
    let mut p = start;
    while p < end {
        let Some(l) = be_u16(buf, p) else { break };
        let es = p + 2;
        let ee = if incl {
            if l < 2 {
                break;
            }
            p + usize::from(l)
        } else {
            es + usize::from(l)
        };
        if ee > end || ee < es + 0x37 {
            break;
        }
        let Some(&n) = buf.get(es + 0x36) else { break };
        if es + 0x37 + usize::from(n) > ee {
            break;
        }
        out.push((p, es, ee));
        p = ee;
    }
    (out, p)
}

/// GetSearchResults (4.9, D15, D24).
fn results(st: &mut State, h: &RespHdr, c: &mut Cursor, o: &mut Out) -> Option<()> {
    st.results_parts += 1;
    if let Some((id, at)) = st.current_search {
        o.fields
            .push(f_inferred("search_id", Value::UInt(u64::from(id))));
        o.links.push(("search", c2s(at)));
    }
    o.fields
        .push(f_inferred("part", Value::UInt(u64::from(st.results_parts))));
    if h.code != 0 {
        o.fields.push(f_inferred("done", Value::Bool(true)));
        o.summary = format!("done: no more results (code {})", h.code);
        return header_only(c, o, false);
    }
    let buf = c.whole();
    let (start, end) = (c.pos, c.end);
    let (mut list, mut stop) = walk_entries(buf, start, end, false);
    if stop != end {
        let (l2, s2) = walk_entries(buf, start, end, true);
        if s2 == end {
            o.notes.push(Note::info(
                "search result lengths include their own 2 bytes (D24)",
            ));
            (list, stop) = (l2, s2);
        }
    }
    let mut items = Vec::new();
    let mut names = Vec::new();
    let mut out_names = Vec::new();
    for (p, es, ee) in list {
        let mut e = Cursor::new(buf, es, ee);
        let mut f = vec![f_uint("length", p..es, be_u16(buf, p).unwrap_or(0))];
        let (u1, r1) = e.take(16)?;
        f.push(f_bytes("unknown1", r1, u1));
        let (st_byte, sr) = e.u8()?;
        f.push(f_uint("file_status", sr.clone(), st_byte));
        let out = st_byte & 0x80 != 0;
        f.push(f_bool("checked_out", sr, out));
        let (u2, r2) = e.take(37)?;
        f.push(f_bytes("unknown2", r2, u2));
        let (t, tr) = e.pstr()?;
        f.push(f_text("file_name", tr, t));
        if e.left() > 0 {
            f.push(f_bytes("rest", e.pos..e.end, e.rest()));
        }
        let name = mac_roman(t);
        if out {
            out_names.push(Cow::Owned(name.clone()));
            names.push(Cow::Owned(format!("{name} (checked out)")));
        } else {
            names.push(Cow::Owned(name));
        }
        items.push(f_struct("entry", Some(p..ee), f));
    }
    o.fields.push(f_list("entries", Some(start..stop), items));
    c.pos = stop;
    if stop != end {
        o.notes.push(Note::error(format!(
            "search result entries do not fill the Data (D24): {} bytes shown raw",
            end - stop
        )));
        o.fields.push(f_bytes("undecoded", stop..end, c.rest()));
        c.pos = end;
    }
    if !out_names.is_empty() {
        o.notes.push(Note::info(format!(
            "stories checked out: {}",
            name_list(out_names, 200)
        )));
    }
    o.summary = format!(
        "part {}: {}: {}",
        st.results_parts,
        plural(names.len(), "story", "stories"),
        name_list(names, 80)
    );
    Some(())
}

/// OpenHeader (4.11): the header handle.
fn open_header(st: &mut State, p: &Pending, c: &mut Cursor, o: &mut Out) -> Option<()> {
    let (hd, r) = c.u16()?;
    o.fields.push(f_uint("handle", r, hd));
    let file = match &p.ctx {
        ReqCtx::Open(f) => f.clone(),
        _ => String::new(),
    };
    o.summary = format!("handle 0x{hd:04x} \"{}\"", disp(&file, 60));
    remember(&mut st.handles, hd, (p.offset, file));
    Some(())
}

/// ReadHeader (4.12, D16).
fn read_header(st: &State, msg: &[u8], c: &mut Cursor, o: &mut Out) -> Option<()> {
    let (mut fields, summary) = header::raw_header(st, msg, c.pos, c.end, false, &mut o.notes)?;
    o.fields.append(&mut fields);
    o.summary = summary;
    c.pos = c.end;
    Some(())
}
