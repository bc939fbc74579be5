//! Request bodies (client → server), qps.md sections 4.1–4.16.

use std::borrow::Cow;

use super::body::{c2s, constant, finish, slot_str, zeros};
use super::codes::*;
use super::header;
use super::types::*;
use super::wire::{
    disp, disp_bytes, f_bytes, f_inferred, f_list, f_str, f_struct, f_text, f_uint, mac_roman,
    name_list,
};
use crate::toolkit::{be_u32, Cursor};
use crate::{Ctx, Field, Note, Value};

/// Decodes the Data and Sub-Data of a request into `o`; returns what its
/// response will need.
pub(super) fn decode(
    st: &mut State,
    h: &ReqHdr,
    msg: &[u8],
    data_end: usize,
    offset: u64,
    o: &mut Out,
    ctx: &mut Ctx,
) -> ReqCtx {
    let total = msg.len();
    let mut c = Cursor::new(msg, HDR, data_end);
    let sub = Cursor::new(msg, data_end, total);
    let mut rctx = ReqCtx::None;
    let ok = match h.code {
        SIGNON => signon(st, &mut c, o, ctx, &mut rctx),
        CLOSE | GET_REPOSITORIES | GET_HEADERS => Some(()),
        GET_SEARCH_RESULTS => {
            if let Some((id, at)) = st.current_search {
                // D15: the most recent successful Search of the session.
                o.fields
                    .push(f_inferred("search_id", Value::UInt(u64::from(id))));
                o.links.push(("search", c2s(at)));
                o.summary = format!("search id {id} (inferred)");
            }
            Some(())
        }
        OPEN_HEADER => open_header(&mut c, o, &mut rctx),
        READ_HEADER => handle(st, &mut c, o).map(|_| ()),
        CLOSE_HEADER => handle(st, &mut c, o).map(|hd| {
            st.handles.remove(&hd);
        }),
        SAVE_HEADER => {
            let r = handle(st, &mut c, o).map(|_| ());
            save_header(st, msg, sub, o);
            r
        }
        SEARCH => {
            let r = constant(&mut c, "constant", 8, &mut o.fields, &mut o.notes).map(|_| ());
            remember(&mut st.search_reqs, h.seq, offset);
            st.last_search_req = Some(offset);
            criteria(st, msg, sub, o);
            r
        }
        SIGN_OFF => sign_off(st, h, &mut c, o),
        GET_STATUSES => statuses(st, &mut c, o, &mut rctx),
        SEARCH_COUNT => search_count(st, &mut c, sub, o),
        GET_PUBLICATIONS => zeros(&mut c, 20, "reserved", &mut o.fields, &mut o.notes),
        _ => {
            o.notes
                .push(Note::warn(format!("unknown request code 0x{:02x}", h.code)));
            if c.left() > 0 {
                o.fields.push(f_bytes("data", c.pos..c.end, c.rest()));
            }
            c.pos = c.end;
            Some(())
        }
    };
    // What a Signon leaves undecoded may hold the password: secret too.
    let credential = h.code == SIGNON;
    if credential && c.left() > 0 {
        o.secrets.push(c.pos..c.end);
    }
    finish(
        &c,
        o,
        ok.is_some(),
        "Data",
        credential && !st.opts.show_secrets,
    );
    let has_sub = matches!(h.code, SEARCH | SEARCH_COUNT | SAVE_HEADER);
    if !has_sub && data_end < total {
        o.fields.push(f_bytes(
            "subdata",
            data_end..total,
            msg.get(data_end..).unwrap_or(&[]),
        ));
        if code_name(h.code).is_some() {
            o.notes.push(Note::warn(format!(
                "unexpected Sub-Data ({} bytes)",
                total - data_end
            )));
        }
    }
    rctx
}

/// Signon (4.1): user name, password, constant 0x100; D7 padding retry.
fn signon(
    st: &mut State,
    c: &mut Cursor,
    o: &mut Out,
    ctx: &mut Ctx,
    rctx: &mut ReqCtx,
) -> Option<()> {
    let fits = |pad: bool| {
        let mut t = *c;
        let layout = |t: &mut Cursor| -> Option<bool> {
            let (user, _) = t.pstr()?;
            if pad {
                if user.len() % 2 != 0 {
                    return Some(false);
                }
                t.take(1)?;
            }
            t.pstr()?;
            t.u32()?;
            Some(t.left() == 0)
        };
        layout(&mut t).unwrap_or(false)
    };
    let pad = !fits(false) && fits(true);
    let (user, ur) = c.pstr()?;
    let user = mac_roman(user);
    o.fields.push(f_str("user", Some(ur), user.clone()));
    ctx.attr("user", disp(&user, 100));
    o.summary = format!("user \"{}\"", disp(&user, 40));
    o.notes.push(Note::warn(format!(
        "clear-text credentials: the password of user \"{}\" is sent in clear text",
        disp(&user, 40)
    )));
    *rctx = ReqCtx::Signon(user);
    if pad {
        c.take(1)?;
        o.notes.push(Note::info(
            "Signon padding: one pad byte after the even-length user name (D7)",
        ));
    }
    let (pw, pr) = c.pstr()?;
    // The password's bytes, after its length byte.
    o.secrets.push(pr.start + 1..pr.end);
    if st.opts.show_secrets {
        o.fields.push(f_text("password", pr, pw));
        o.summary
            .push_str(&format!(" password \"{}\"", disp_bytes(pw, 40)));
    } else {
        o.fields.push(f_str("password", Some(pr), "<redacted>"));
        o.summary.push_str(" (password redacted)");
    }
    constant(c, "constant", 0x100, &mut o.fields, &mut o.notes)?;
    Some(())
}

/// OpenHeader (4.11): 8 zero bytes, file name in a 256-byte slot, mode.
fn open_header(c: &mut Cursor, o: &mut Out, rctx: &mut ReqCtx) -> Option<()> {
    zeros(c, 8, "reserved", &mut o.fields, &mut o.notes)?;
    let name = slot_str(c, 256, "file_name", &mut o.fields, &mut o.notes)?;
    let (mode, mr) = c.u8()?;
    o.fields.push(f_uint("mode", mr, mode));
    o.summary = format!("\"{}\"", disp(&name, 60));
    if mode == 2 {
        o.fields
            .push(f_inferred("mode_name", Value::Str("write".into())));
        o.notes.push(Note::info(format!(
            "story header \"{}\" opened for writing",
            disp(&name, 60)
        )));
        o.summary.push_str(" for writing");
    } else {
        o.summary.push_str(&format!(" mode {mode}"));
    }
    *rctx = ReqCtx::Open(name);
    Some(())
}

/// A u16 header handle (ReadHeader, SaveHeader, CloseHeader), linked to the
/// OpenHeader that returned it.
fn handle(st: &State, c: &mut Cursor, o: &mut Out) -> Option<u16> {
    let (hd, r) = c.u16()?;
    o.fields.push(f_uint("handle", r, hd));
    match st.handles.get(&hd) {
        Some((at, file)) => {
            o.links.push(("open", c2s(*at)));
            o.fields
                .push(f_inferred("file_name", Value::Str(file.clone())));
            o.summary = format!("handle 0x{hd:04x} \"{}\"", disp(file, 60));
        }
        None => o.summary = format!("handle 0x{hd:04x}"),
    }
    Some(hd)
}

/// SaveHeader Sub-Data (D17): the raw header, laid out like ReadHeader.
fn save_header(st: &State, msg: &[u8], sub: Cursor, o: &mut Out) {
    o.notes
        .push(Note::info("story metadata modified (SaveHeader)"));
    if sub.left() == 0 {
        return;
    }
    let mut notes = Vec::new();
    match header::raw_header(st, msg, sub.pos, sub.end, true, &mut notes) {
        Some((fields, items)) => {
            o.fields
                .push(f_struct("header", Some(sub.pos..sub.end), fields));
            o.summary.push_str(&format!(", {items}"));
            o.notes.append(&mut notes);
        }
        None => {
            o.notes.push(Note::info(
                "saved header does not have the ReadHeader layout: shown raw",
            ));
            o.fields
                .push(f_bytes("header_raw", sub.pos..sub.end, sub.rest()));
        }
    }
}

/// The fixed part of the search criteria (Sub-Data 0x00–0x47).
struct Fixed {
    pubs_len: u32,
    pubs_off: u32,
    queries_len: u32,
    queries_off: u32,
}

fn fixed_part(
    c: &mut Cursor,
    sub_len: usize,
    fx: &mut Vec<Field>,
    notes: &mut Vec<Note>,
) -> Option<Fixed> {
    let (len, r) = c.u32()?;
    fx.push(f_uint("length", r, len));
    if len as usize != sub_len {
        notes.push(Note::warn(format!(
            "Search: inner Sub-Data length {len} differs from the header's Sub-Data length {sub_len}"
        )));
    }
    constant(c, "const_00060006", 0x0006_0006, fx, notes)?;
    constant(c, "const_b46dd345", 0xB46D_D345, fx, notes)?;
    zeros(c, 32, "zeros", fx, notes)?;
    constant(c, "const_2", 2, fx, notes)?;
    constant(c, "const_af7fffff", 0xAF7F_FFFF, fx, notes)?;
    constant(c, "fixed_len", 0x48, fx, notes)?;
    let mut word = |name: &'static str| -> Option<u32> {
        let (v, r) = c.u32()?;
        fx.push(f_uint(name, r, v));
        Some(v)
    };
    Some(Fixed {
        pubs_len: word("publications_len")?,
        pubs_off: word("publications_offset")?,
        queries_len: word("queries_len")?,
        queries_off: word("queries_offset")?,
    })
}

/// A region of the Sub-Data given by an offset and a length (D14), as
/// message offsets; `None` (flagged) when it lies outside the Sub-Data.
fn region(
    sub: &Cursor,
    off: u32,
    len: u32,
    what: &str,
    notes: &mut Vec<Note>,
) -> Option<(usize, usize)> {
    let start = sub.pos.checked_add(off as usize)?;
    let end = start.checked_add(len as usize);
    match end {
        Some(end) if end <= sub.end => Some((start, end)),
        _ => {
            notes.push(Note::warn(format!(
                "Search: {what} (offset {off}, length {len}) lies outside the Sub-Data ({} bytes)",
                sub.left()
            )));
            None
        }
    }
}

/// Search Sub-Data (4.7, D13, D14): fixed part, publication list, queries.
fn criteria(st: &State, msg: &[u8], sub: Cursor, o: &mut Out) {
    let mut c = sub;
    let mut fx = Vec::new();
    let fixed = fixed_part(&mut c, sub.left(), &mut fx, &mut o.notes);
    o.fields
        .push(f_struct("criteria", Some(sub.pos..c.pos), fx));
    let Some(fixed) = fixed else {
        o.notes.push(Note::error(
            "Search Sub-Data shorter than its 72-byte fixed part",
        ));
        if sub.left() > 0 {
            o.fields.push(f_bytes("undecoded", c.pos..c.end, c.rest()));
        }
        return;
    };
    let mut pub_names = Vec::new();
    if let Some((start, end)) = region(
        &sub,
        fixed.pubs_off,
        fixed.pubs_len,
        "publication list",
        &mut o.notes,
    ) {
        if fixed.pubs_len % 8 != 0 {
            o.notes.push(Note::warn(format!(
                "Search: publication list length {} is not a multiple of 8",
                fixed.pubs_len
            )));
        }
        let mut p = Cursor::new(msg, start, end);
        let mut items = Vec::new();
        while p.left() >= 8 {
            let s = p.pos;
            let (Some((id, ir)), Some((z, zr))) = (p.u32(), p.u32()) else {
                break;
            };
            let mut f = vec![f_uint("id", ir, id)];
            if let Some(name) = st.pubs.get(&id) {
                f.push(f_inferred("name", Value::Str(name.clone())));
                pub_names.push(Cow::Owned(name.clone()));
            } else {
                pub_names.push(Cow::Owned(format!("0x{id:x}")));
            }
            f.push(f_uint("reserved", zr, z));
            if z != 0 {
                o.notes.push(Note::info(format!(
                    "publication 0x{id:x}: second word is {z} (expected 0)"
                )));
            }
            items.push(f_struct("publication", Some(s..p.pos), f));
        }
        o.fields
            .push(f_list("publications", Some(start..end), items));
    }
    let mut query_names = Vec::new();
    if let Some((start, end)) = region(
        &sub,
        fixed.queries_off,
        fixed.queries_len,
        "query list",
        &mut o.notes,
    ) {
        // D13: Q includes its own 4 bytes; else Q + 4; else inconsistent.
        let (mut steps, stop) = walk_queries(msg, start, end, 0);
        if stop != end {
            let (excl, stop4) = walk_queries(msg, start, end, 4);
            if stop4 == end {
                o.notes.push(Note::info(
                    "Search: query lengths exclude their own 4 bytes (D13)",
                ));
                steps = excl;
            } else {
                o.notes.push(Note::warn(
                    "Search: query lengths do not add up to the queries length; list inconsistent (D13)",
                ));
            }
        }
        let mut items = Vec::new();
        let mut last = start;
        for (qs, qe) in steps {
            let (f, text) = query(st, msg, qs, qe, &mut o.notes);
            items.push(f);
            query_names.push(Cow::Owned(text));
            last = qe;
        }
        if last < end {
            items.push(f_bytes(
                "undecoded",
                last..end,
                msg.get(last..end).unwrap_or(&[]),
            ));
        }
        o.fields.push(f_list("queries", Some(start..end), items));
    }
    o.summary = format!(
        "{} publication{} ({}), {} quer{} ({})",
        pub_names.len(),
        if pub_names.len() == 1 { "" } else { "s" },
        name_list(pub_names, 40),
        query_names.len(),
        if query_names.len() == 1 { "y" } else { "ies" },
        name_list(query_names, 50)
    );
}

/// Query extents when every query advances by Q + `extra` (at least its
/// 12-byte head, within `end`); stops at the first that does not fit.
/// Returns the extents and where the walk stopped.
fn walk_queries(
    msg: &[u8],
    start: usize,
    end: usize,
    extra: usize,
) -> (Vec<(usize, usize)>, usize) {
    let mut out = Vec::new();
    let mut p = start;
    while let Some(q) = be_u32(msg, p).filter(|_| p < end) {
        match (q as usize)
            .checked_add(extra)
            .and_then(|n| p.checked_add(n))
        {
            Some(next) if next >= p + 12 && next <= end => {
                out.push((p, next));
                p = next;
            }
            _ => break,
        }
    }
    (out, p)
}

const CHECKBOX_WORDS: [u32; 9] = [2, 0x10000, 1, 0x18, 1, 1, 1, 0, 0];
const DROPDOWN_WORDS: [u32; 9] = [0, 0x10000, 1, 0x18, 1, 1, 1, 0, 0];

/// One query (4.6) at msg[start..end]; returns its field and a short text.
fn query(
    st: &State,
    msg: &[u8],
    start: usize,
    end: usize,
    notes: &mut Vec<Note>,
) -> (Field, String) {
    let mut c = Cursor::new(msg, start, end);
    let mut f = Vec::new();
    let mut text = String::from("?");
    let mut body = || -> Option<()> {
        let (q, qr) = c.u32()?;
        f.push(f_uint("length", qr, q));
        let (key, kr) = c.u32()?;
        f.push(f_uint("field_id", kr, key));
        let fname = st.fields.get(&key).map(|d| d.name.clone());
        if let Some(n) = &fname {
            f.push(f_inferred("field_name", Value::Str(n.clone())));
        }
        let label = fname.map_or_else(|| format!("field 0x{key:x}"), |n| disp(&n, 30));
        let (ty, tr) = c.u32()?;
        f.push(f_uint("type", tr, ty));
        if let Some(n) = type_name(ty) {
            f.push(f_inferred("type_name", Value::Str(n.into())));
        }
        text = format!("{label} (type {ty})");
        let want = match ty {
            6 => Some(&CHECKBOX_WORDS),
            7 => Some(&DROPDOWN_WORDS),
            _ => None,
        };
        match want {
            Some(want) if c.left() == 36 => {
                let vstart = c.pos;
                let mut words = Vec::new();
                let mut value = (0u32, vstart..vstart);
                for (i, w) in want.iter().enumerate() {
                    let (v, r) = c.u32()?;
                    if i == 7 {
                        value = (v, r);
                        continue;
                    }
                    if v != *w {
                        notes.push(Note::info(format!(
                            "query on {label}: word {i} is 0x{v:x} (expected 0x{w:x}; may be an operator or option)"
                        )));
                    }
                    words.push(f_uint("word", r, v));
                }
                f.push(f_list("constants", Some(vstart..c.end), words));
                let (v, r) = value;
                if ty == 6 {
                    match v {
                        0 | 1 => f.push(Field::new("checked", Some(r), Value::Bool(v == 1))),
                        _ => {
                            notes.push(Note::info(format!(
                                "query on {label}: checkbox value {v} (expected 0 or 1)"
                            )));
                            f.push(f_uint("checked", r, v));
                        }
                    }
                    text = format!("{label} = {}", if v == 1 { "checked" } else { "unchecked" });
                } else {
                    f.push(f_uint("item_id", r, v));
                    text = format!("{label} = item {v}");
                }
            }
            _ => {
                if want.is_some() {
                    notes.push(Note::warn(format!(
                        "query on {label}: value is {} bytes (expected 36)",
                        c.left()
                    )));
                }
                if c.left() > 0 {
                    f.push(f_bytes("value", c.pos..c.end, c.rest()));
                }
                c.pos = c.end;
            }
        }
        Some(())
    };
    if body().is_none() {
        f.push(f_bytes("undecoded", c.pos..c.end, c.rest()));
    }
    (f_struct("query", Some(start..end), f), text)
}

/// SignOff (4.15): the session id in Data.
fn sign_off(st: &State, h: &ReqHdr, c: &mut Cursor, o: &mut Out) -> Option<()> {
    let (s, r) = c.u16()?;
    o.fields.push(f_uint("signoff_session_id", r, s));
    let want = st.session.map_or(h.session, |v| (v & 0xFFFF) as u16);
    if s != want {
        o.notes.push(Note::info(format!(
            "SignOff names session 0x{s:04x}, the session is 0x{want:04x}"
        )));
    }
    o.summary = format!("session 0x{s:04x}");
    Some(())
}

/// GetStatuses (4.4, D9): publication name in a 67-byte slot (or short).
fn statuses(st: &State, c: &mut Cursor, o: &mut Out, rctx: &mut ReqCtx) -> Option<()> {
    let short = c.left() != 0x44 && c.rest().first().map(|&n| usize::from(n) + 1) == Some(c.left());
    let name = if short {
        o.notes.push(Note::info(
            "GetStatuses: publication name without its 67-byte slot (short form, D9)",
        ));
        let (t, r) = c.pstr()?;
        o.fields.push(f_text("publication", r, t));
        mac_roman(t)
    } else {
        slot_str(c, 67, "publication", &mut o.fields, &mut o.notes)?
    };
    if let Some(id) = st.pubs.iter().find(|(_, n)| **n == name).map(|(id, _)| *id) {
        o.fields
            .push(f_inferred("publication_id", Value::UInt(u64::from(id))));
    }
    o.summary = format!("\"{}\"", disp(&name, 60));
    *rctx = ReqCtx::Statuses(name);
    Some(())
}

/// SearchCount (4.8): search id, 14 zero bytes, 1, 0; Sub-Data u32 1.
fn search_count(st: &State, c: &mut Cursor, sub: Cursor, o: &mut Out) -> Option<()> {
    let mut s = sub;
    let (id, r) = c.u16()?;
    o.fields.push(f_uint("search_id", r, id));
    o.summary = format!("search id {id}");
    if let Some(at) = st.search_ids.get(&id) {
        o.links.push(("search", c2s(*at)));
    }
    zeros(c, 14, "reserved", &mut o.fields, &mut o.notes)?;
    for (name, want) in [("const_1", 1u8), ("const_0", 0u8)] {
        let (v, r) = c.u8()?;
        if v != want {
            o.notes
                .push(Note::info(format!("{name} is {v} (expected {want})")));
        }
        o.fields.push(f_uint(name, r, v));
    }
    let ok = constant(&mut s, "subdata_const", 1, &mut o.fields, &mut o.notes).is_some();
    finish(&s, o, ok, "Sub-Data", false);
    Some(())
}
