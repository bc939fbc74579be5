//! The raw story header (qps.md 4.12, D16, D17): the Data of a ReadHeader
//! response and the Sub-Data of a SaveHeader request.

use std::borrow::Cow;

use super::codes::type_name;
use super::types::*;
use super::wire::{
    disp, f_bool, f_bytes, f_inferred, f_list, f_str, f_struct, f_text, f_uint, mac_roman,
    mac_time, name_list,
};
use crate::toolkit::Cursor;
use crate::{Field, Note, Value};

/// D16: referenced data at item offset + 0x118 + Value.
const REF_BASE: u64 = 0x118;

/// A raw story header at buf[start..end], laid out like ReadHeader response
/// Data (`start` ↔ ReadHeader offset 0x12): 288 unknown bytes, a count,
/// 20-byte items, referenced data. `strict` (SaveHeader, D17): `None` when
/// the item count does not fit. Returns the fields and a summary.
pub(super) fn raw_header(
    st: &State,
    buf: &[u8],
    start: usize,
    end: usize,
    strict: bool,
    notes: &mut Vec<Note>,
) -> Option<(Vec<Field>, String)> {
    let mut c = Cursor::new(buf, start, end);
    let mut fields = Vec::new();
    let (u, ur) = c.take(0x120)?;
    fields.push(f_bytes("unknown", ur, u));
    let (n, nr) = c.u32()?;
    let fit = c.left() / 20;
    if strict && n as usize > fit {
        return None;
    }
    fields.push(f_uint("count", nr, n));
    if n as usize > fit {
        notes.push(Note::error(format!(
            "{n} header items × 20 bytes exceed the Data ({} bytes left)",
            c.left()
        )));
    }
    let list_start = c.pos;
    let mut items = Vec::new();
    let mut texts = Vec::new();
    for i in 0..(n as usize).min(fit) {
        let at = c.pos;
        let (item, text) = header_item(st, buf, &mut c, start, end, i, notes)?;
        items.push(f_struct("item", Some(at..c.pos), item));
        texts.push(Cow::Owned(text));
    }
    fields.push(f_list("items", Some(list_start..c.pos), items));
    let summary = format!("{} items: {}", texts.len(), name_list(texts, 70));
    Some((fields, summary))
}

/// A Pascal string at `at` that fits before `end`.
fn pascal_at(
    buf: &[u8],
    at: u64,
    start: usize,
    end: usize,
) -> Option<(&[u8], std::ops::Range<usize>)> {
    let at = usize::try_from(at).ok()?;
    if at < start || at >= end {
        return None;
    }
    let mut c = Cursor::new(buf, at, end);
    c.pstr()
}

/// One 20-byte header item (4.12, D16).
fn header_item(
    st: &State,
    buf: &[u8],
    c: &mut Cursor,
    start: usize,
    end: usize,
    i: usize,
    notes: &mut Vec<Note>,
) -> Option<(Vec<Field>, String)> {
    let at = c.pos;
    let mut f = Vec::new();
    let (id, ir) = c.u32()?;
    f.push(f_uint("field_id", ir, id));
    let label = match st.fields.get(&id) {
        Some(d) => {
            f.push(f_inferred("field_name", Value::Str(d.name.clone())));
            disp(&d.name, 30)
        }
        None => format!("field 0x{id:x}"),
    };
    let (ty, tr) = c.u32()?;
    f.push(f_uint("type", tr, ty));
    if let Some(t) = type_name(ty) {
        f.push(f_inferred("type_name", Value::Str(t.into())));
    }
    if let Some(d) = st.fields.get(&id).filter(|d| d.data_type != ty) {
        notes.push(Note::info(format!(
            "header item {i} ({label}): type {ty} differs from its GetHeaders definition (type {})",
            d.data_type
        )));
    }
    let (res, rr) = c.take(4)?;
    f.push(f_bytes("reserved", rr, res));
    let (flags, fr) = c.u32()?;
    f.push(f_uint("flags", fr.clone(), flags));
    let blank = flags & 0x0100_0000 != 0;
    if blank {
        // D16: "blank" first.
        f.push(f_bool("blank", fr, true));
    }
    let (v, vr) = c.u32()?;
    let reference = at as u64 + REF_BASE + u64::from(v);
    let referenced = pascal_at(buf, reference, start, end);
    let shown = match ty {
        1 => {
            f.push(f_uint("reference", vr, v));
            f.push(f_inferred("value_offset", Value::UInt(reference)));
            match &referenced {
                Some((t, r)) => {
                    f.push(f_text("value", r.clone(), t));
                    format!("\"{}\"", disp(&mac_roman(t), 30))
                }
                None => {
                    notes.push(Note::info(format!(
                        "header item {i} ({label}): reference {reference} outside the header"
                    )));
                    "?".to_owned()
                }
            }
        }
        2 => {
            f.push(f_uint("value", vr.clone(), v));
            let t = mac_time(v);
            f.push(f_str("time", Some(vr), t.clone()));
            t
        }
        4 => {
            let n = v as i32;
            f.push(Field::new("value", Some(vr), Value::Int(i64::from(n))));
            n.to_string()
        }
        5 => {
            let x = f32::from_bits(v);
            f.push(Field::new("value", Some(vr), Value::Float(f64::from(x))));
            x.to_string()
        }
        6 if v <= 1 => {
            f.push(Field::new("value", Some(vr), Value::Bool(v == 1)));
            if v == 1 { "checked" } else { "unchecked" }.to_owned()
        }
        7 => {
            f.push(f_uint("value", vr, v));
            format!("item {v}")
        }
        _ => {
            f.push(f_uint("value", vr, v));
            v.to_string()
        }
    };
    if ty != 1 {
        // D16: also offer a Pascal string at the computed reference.
        if let Some((t, r)) = referenced.filter(|(t, _)| !t.is_empty()) {
            f.push(f_text("at_reference", r, t));
        }
    }
    let text = if blank {
        format!("{label}=blank")
    } else {
        format!("{label}={shown}")
    };
    Some((f, text))
}
