//! Helpers every body decoder uses (requests and responses alike).

use super::types::*;
use super::wire::{f_bytes, f_text, f_uint, mac_roman};
use crate::toolkit::Cursor;
use crate::{Dir, Field, MsgRef, Note, Value};

pub(super) fn c2s(offset: u64) -> MsgRef {
    MsgRef {
        dir: Dir::C2S,
        offset,
    }
}

/// Reports what a decoder left: bytes after the last field (`ok`), or the
/// bytes from where a field ran past the end (`!ok`). `secret`: the bytes
/// may hold a password and are not shown.
pub(super) fn finish(c: &Cursor, o: &mut Out, ok: bool, what: &str, secret: bool) {
    if ok && c.left() == 0 {
        return;
    }
    let r = c.pos..c.end;
    let value = if secret {
        Value::Str(format!("<redacted: {} bytes>", c.left()))
    } else {
        raw(c.rest())
    };
    if ok {
        o.notes.push(Note::warn(format!(
            "{} unexpected bytes at the end of the {what}",
            c.left()
        )));
        o.fields.push(Field::new("trailing", Some(r), value));
    } else {
        o.notes.push(Note::error(format!(
            "{what} inconsistent with its length: a field runs past its end (at byte {})",
            c.pos
        )));
        if c.left() > 0 {
            o.fields.push(Field::new("undecoded", Some(r), value));
        }
    }
}

/// `n` bytes expected to be zero (D19: shown; other values flagged info).
pub(super) fn zeros(
    c: &mut Cursor,
    n: usize,
    name: &'static str,
    fields: &mut Vec<Field>,
    notes: &mut Vec<Note>,
) -> Option<()> {
    let (b, r) = c.take(n)?;
    if b.iter().any(|&x| x != 0) {
        notes.push(Note::info(format!(
            "{name}: non-zero bytes where zeros are expected"
        )));
    }
    fields.push(f_bytes(name, r, b));
    Some(())
}

/// A u32 constant (D19: shown; another value flagged info).
pub(super) fn constant(
    c: &mut Cursor,
    name: &'static str,
    want: u32,
    fields: &mut Vec<Field>,
    notes: &mut Vec<Note>,
) -> Option<u32> {
    let (v, r) = c.u32()?;
    if v != want {
        notes.push(Note::info(format!(
            "{name} is 0x{v:08x} (expected 0x{want:08x})"
        )));
    }
    fields.push(f_uint(name, r, v));
    Some(v)
}

/// A Pascal string in a fixed-size slot (length byte, then `slot` bytes of
/// which the first N are valid). The field's range covers the length byte
/// and the valid characters; non-zero filler is shown and flagged.
pub(super) fn slot_str(
    c: &mut Cursor,
    slot: usize,
    name: &'static str,
    fields: &mut Vec<Field>,
    notes: &mut Vec<Note>,
) -> Option<String> {
    let start = c.pos;
    let (n, _) = c.u8()?;
    let Some((s, sr)) = c.take(slot) else {
        c.pos = start;
        return None;
    };
    let n = usize::from(n);
    if n > slot {
        notes.push(Note::error(format!(
            "{name}: Pascal length {n} larger than its {slot}-byte slot"
        )));
    }
    let valid = n.min(slot);
    let text = s.get(..valid).unwrap_or(&[]);
    fields.push(f_text(name, start..sr.start + valid, text));
    let filler = s.get(valid..).unwrap_or(&[]);
    if filler.iter().any(|&b| b != 0) {
        notes.push(Note::info(format!(
            "{name}: non-zero filler after the valid characters"
        )));
        fields.push(f_bytes("filler", sr.start + valid..sr.end, filler));
    }
    Some(mac_roman(text))
}
