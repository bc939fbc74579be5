//! MultiValue data (section 5): Latin-1 text with the mark characters made
//! visible (DECISION 14), and structured views of dynamic arrays (fields →
//! values → subvalues), lists and output lines. The raw bytes are always
//! kept as one `Value::Bytes` field (lossless); the views are capped so a
//! huge record never becomes a huge tree.

use std::borrow::Cow;
use std::ops::Range;

use crate::toolkit::{self, one_line_str, Ctl, Line, Piece, NAMED_NRT};
use crate::{Field, Note, Value};

pub const IM: u8 = 0xFF;
pub const FM: u8 = 0xFE;
pub const VM: u8 = 0xFD;
pub const SM: u8 = 0xFC;
pub const TM: u8 = 0xFB;

/// Most fields (or list elements, or lines) shown in a structured view.
pub const MAX_ITEMS: usize = 20;
/// Most values per field and subvalues per value shown.
pub const MAX_VALUES: usize = 20;
/// Most characters of one leaf shown in a structured view.
pub const MAX_LEAF: usize = 200;
/// Most leaves (texts) in one structured view, all levels together.
pub const MAX_LEAVES: usize = 60;

/// The visible form of a mark character.
fn mark_name(b: u8) -> Option<&'static str> {
    Some(match b {
        IM => "<IM>",
        FM => "<FM>",
        VM => "<VM>",
        SM => "<SM>",
        TM => "<TM>",
        _ => return None,
    })
}

/// Bytes as Latin-1 text with marks shown as `<FM>`, `<VM>`, `<SM>`,
/// `<TM>`, `<IM>`. Control characters are kept (printers escape them).
/// At most `max` characters; `...` marks a cut.
pub fn display_max(b: &[u8], max: usize) -> (String, bool) {
    let mut out = String::with_capacity(b.len().min(max) + 8);
    for (n, &c) in b.iter().enumerate() {
        if n >= max {
            out.push_str("...");
            return (out, true);
        }
        match mark_name(c) {
            Some(m) => out.push_str(m),
            None => out.push(char::from(c)),
        }
    }
    (out, false)
}

/// One summary-safe line: marks visible, control characters escaped
/// (`\n`, `\r`, `\t`, `\xNN`), at most `max` characters.
pub fn one_line(b: &[u8], max: usize) -> String {
    let pieces = b.iter().map(|&c| match mark_name(c) {
        Some(m) => Piece::Token(m),
        None => Piece::Char(char::from(c)),
    });
    toolkit::one_line(pieces, &Line::new(max, Ctl::LowerHex).named(NAMED_NRT))
}

/// `"text"` for summaries (see [`one_line`]).
pub fn quoted(b: &[u8], max: usize) -> String {
    format!("\"{}\"", one_line(b, max))
}

/// A string that came from elsewhere, made summary-safe (`\n`, `\r`,
/// `\t`, other control characters as `\u{1b}`).
pub fn clean(s: &str, max: usize) -> String {
    one_line_str(s, &Line::new(max, Ctl::Braced).named(NAMED_NRT))
}

/// The bytes `b` at `range`, a message's bulk content, as the field
/// `name`; left out when `lean` (see [`crate::Options::lean`]).
pub fn bulk(out: &mut Vec<Field>, lean: bool, name: &'static str, range: Range<usize>, b: &[u8]) {
    if !lean {
        out.push(Field::new(name, Some(range), Value::Bytes(b.to_vec())));
    }
}

/// A raw byte string as a field, plus a `NAME_text` companion (Latin-1,
/// marks visible) when the bytes are not valid UTF-8, so printers show
/// text rather than hex.
pub fn bytes_fields(out: &mut Vec<Field>, name: &'static str, range: Range<usize>, b: &[u8]) {
    out.push(Field::new(
        name,
        Some(range.clone()),
        Value::Bytes(b.to_vec()),
    ));
    if std::str::from_utf8(b).is_err() {
        let (text, _) = display_max(b, MAX_LEAF * 20);
        out.push(Field::new(
            Cow::Owned(format!("{name}_text")),
            Some(range),
            Value::Str(text),
        ));
    }
}

/// Pieces of `b` between `mark` bytes, with their start positions.
pub fn split(b: &[u8], mark: u8) -> impl Iterator<Item = (usize, &[u8])> + '_ {
    let mut start = 0usize;
    b.split(move |&c| c == mark).map(move |piece| {
        let at = start;
        start += piece.len() + 1;
        (at, piece)
    })
}

/// Number of elements of a `mark`-delimited string (0 for an empty one,
/// as DCOUNT counts).
pub fn count(b: &[u8], mark: u8) -> usize {
    if b.is_empty() {
        return 0;
    }
    // Per chunk of at most 255 bytes a byte-wide sum cannot overflow, and
    // the compiler turns it into vector compares and adds.
    b.chunks(255)
        .map(|chunk| {
            usize::from(
                chunk
                    .iter()
                    .fold(0u8, |n, &c| n.wrapping_add(u8::from(c == mark))),
            )
        })
        .sum::<usize>()
        + 1
}

/// [`leaf`] when `build`; else only whether it would be cut (as
/// [`display_max`] cuts it: past [`MAX_LEAF`] bytes).
fn leaf_if(
    build: bool,
    name: impl FnOnce() -> String,
    range: Range<usize>,
    b: &[u8],
    cut: &mut bool,
) -> Option<Field> {
    if build {
        Some(leaf(name(), range, b, cut))
    } else {
        *cut |= b.len() > MAX_LEAF;
        None
    }
}

fn leaf(name: String, range: Range<usize>, b: &[u8], cut: &mut bool) -> Field {
    let (text, c) = display_max(b, MAX_LEAF);
    *cut |= c;
    Field::new(name, Some(range), Value::Str(text))
}

/// Capped structured view of a dynamic array at message offset `base`:
/// fields `<n>` → values `<n,m>` → subvalues `<n,m,s>`. A level with a
/// single element is shown as its content. Returns the view, the number
/// of fields shown (the last one possibly in part) and whether anything
/// was left out. Without `build` no field is made (the view comes back
/// empty); the fields shown and whether anything was left out are the
/// same.
pub fn record_view(b: &[u8], base: usize, build: bool) -> (Vec<Field>, usize, bool) {
    let mut cut = false;
    let mut fields = Vec::new();
    let mut shown = 0;
    let mut leaves = 0usize;
    for (i, (at, f)) in split(b, FM).enumerate() {
        if i >= MAX_ITEMS || leaves >= MAX_LEAVES {
            cut = true;
            break;
        }
        shown += 1;
        let n = i + 1;
        let frange = base + at..base + at + f.len();
        if !f.contains(&VM) && !f.contains(&SM) {
            fields.extend(leaf_if(build, || format!("<{n}>"), frange, f, &mut cut));
            leaves += 1;
            continue;
        }
        let mut values = Vec::new();
        for (j, (vat, v)) in split(f, VM).enumerate() {
            if j >= MAX_VALUES || leaves >= MAX_LEAVES {
                cut = true;
                break;
            }
            let m = j + 1;
            let vstart = base + at + vat;
            let vrange = vstart..vstart + v.len();
            if !v.contains(&SM) {
                values.extend(leaf_if(build, || format!("<{n},{m}>"), vrange, v, &mut cut));
                leaves += 1;
                continue;
            }
            let mut subs = Vec::new();
            for (k, (sat, sub)) in split(v, SM).enumerate() {
                if k >= MAX_VALUES || leaves >= MAX_LEAVES {
                    cut = true;
                    break;
                }
                leaves += 1;
                let sstart = vstart + sat;
                let srange = sstart..sstart + sub.len();
                subs.extend(leaf_if(build, || format!("<{n},{m},{}>", k + 1), srange, sub, &mut cut));
            }
            if build {
                values.push(Field::new(
                    format!("<{n},{m}>"),
                    Some(vrange),
                    Value::List(subs),
                ));
            }
        }
        if build {
            fields.push(Field::new(
                format!("<{n}>"),
                Some(frange),
                Value::List(values),
            ));
        }
    }
    (fields, shown, cut)
}

/// The structured view of the record `b` at `range` (see
/// [`record_view`]) as the field `{name}_fields`, and the note when it
/// leaves something out; `total` is the record's field count. When `lean`
/// the view is not built (it is a tree of small strings that statistics
/// never read), but the note is the same.
pub fn view(
    fields: &mut Vec<Field>,
    notes: &mut Vec<Note>,
    lean: bool,
    name: &'static str,
    range: Range<usize>,
    b: &[u8],
    total: usize,
) {
    let (view, shown, cut) = record_view(b, range.start, !lean);
    if !view.is_empty() {
        fields.push(Field::new(
            format!("{name}_fields"),
            Some(range),
            Value::List(view),
        ));
    }
    if cut {
        notes.push(Note::info(view_note(name, shown, total, b.len())));
    }
}

/// The note for an abbreviated structured view.
pub fn view_note(name: &str, shown: usize, total: usize, len: usize) -> String {
    format!(
        "structured view abbreviated ({shown} of {total} fields shown, at most {MAX_VALUES} values and {MAX_LEAF} characters each); `{name}` keeps all {len} bytes"
    )
}

/// Capped view of a list whose elements are separated by `mark` (FM for
/// lists and Execute output, LF for prompt text): elements named 1, 2, ...
pub fn list_view(b: &[u8], base: usize, mark: u8) -> (Vec<Field>, bool) {
    let mut cut = false;
    let mut items = Vec::new();
    if b.is_empty() {
        return (items, false);
    }
    for (i, (at, piece)) in split(b, mark).enumerate() {
        if i >= MAX_ITEMS * 5 {
            cut = true;
            break;
        }
        items.push(leaf(
            (i + 1).to_string(),
            base + at..base + at + piece.len(),
            piece,
            &mut cut,
        ));
    }
    (items, cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lean walk finds the view's extent, however the marks fall: many
    /// records of random lengths and mark densities, around every cap.
    #[test]
    fn a_view_not_built_has_the_extent_of_the_built_one() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut cuts = 0;
        for _ in 0..3000 {
            let len = (next() % 3000) as usize;
            // One byte in `sparse` a mark, biased to FM, VM or SM.
            let sparse = 1 + next() % 120;
            let rec: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % sparse == 0 {
                        [FM, VM, SM, FM, VM][(r / sparse % 5) as usize]
                    } else {
                        b'a' + (r % 26) as u8
                    }
                })
                .collect();
            let (view, shown, cut) = record_view(&rec, 7, true);
            assert_eq!(shown, view.len(), "{rec:?}");
            let (none, lean_shown, lean_cut) = record_view(&rec, 7, false);
            assert!(none.is_empty());
            assert_eq!((lean_shown, lean_cut), (shown, cut), "{rec:?}");
            cuts += usize::from(cut);
        }
        assert!(cuts > 300 && cuts < 2700, "{cuts} of 3000 cut");
    }

    #[test]
    fn marks_are_visible_and_latin1_decoded() {
        assert_eq!(
            display_max(b"a\xfeb\xfdc\xfcd\xfbe\xffg\xe9", 99).0,
            "a<FM>b<VM>c<SM>d<TM>e<IM>g\u{e9}"
        );
        assert_eq!(one_line(b"x\ny\r\x1b\xfe", 10), "x\\ny\\r\\x1b<FM>");
        assert_eq!(one_line(b"abcdef", 3), "abc...");
        assert_eq!(quoted(b"C001", 10), "\"C001\"");
    }

    #[test]
    fn record_view_nests_fields_values_subvalues() {
        let rec = b"Alice Smith\xfe12 High St\xfdFlat 3\xfeLondon\xfe100\xfc200\xfd300";
        let (v, shown, cut) = record_view(rec, 10, true);
        assert_eq!(shown, 4);
        assert!(!cut);
        assert_eq!(v.len(), 4);
        assert_eq!(v[0].value, Value::Str("Alice Smith".into()));
        assert_eq!(v[0].range, Some(10..21));
        let Value::List(vals) = &v[1].value else {
            panic!("field 2 has values")
        };
        assert_eq!(vals[1].name, "<2,2>");
        assert_eq!(vals[1].value, Value::Str("Flat 3".into()));
        let Value::List(vals) = &v[3].value else {
            panic!("field 4 has values")
        };
        let Value::List(subs) = &vals[0].value else {
            panic!("value 4.1 has subvalues")
        };
        assert_eq!(subs[1].name, "<4,1,2>");
        assert_eq!(subs[1].value, Value::Str("200".into()));
        let at = subs[1].range.clone().unwrap();
        assert_eq!(&rec[at.start - 10..at.end - 10], b"200");
        assert_eq!(count(rec, FM), 4);
        assert_eq!(count(b"", FM), 0);
        for len in [1, 254, 255, 256, 1000] {
            assert_eq!(count(&vec![FM; len], FM), len + 1);
            assert_eq!(count(&vec![VM; len], FM), 1);
        }
    }

    #[test]
    fn views_are_capped() {
        let big: Vec<u8> = (0..1000).flat_map(|_| b"abc\xfe".iter().copied()).collect();
        let (v, _, cut) = record_view(&big, 0, true);
        assert!(cut);
        assert_eq!(v.len(), MAX_ITEMS);
        let values: Vec<u8> = (0..1000).flat_map(|_| b"abc\xfd".iter().copied()).collect();
        let (v, shown, cut) = record_view(&values, 0, true);
        assert!(cut);
        assert_eq!(shown, 1);
        let Value::List(vals) = &v[0].value else {
            panic!("values")
        };
        assert_eq!(vals.len(), MAX_VALUES);
        let long = vec![b'x'; 1000];
        let (v, _, cut) = record_view(&long, 0, true);
        assert!(cut);
        let Value::Str(s) = &v[0].value else {
            panic!("leaf")
        };
        assert_eq!(s.len(), MAX_LEAF + 3);
    }

    #[test]
    fn bytes_fields_add_text_only_when_needed() {
        let mut f = Vec::new();
        bytes_fields(&mut f, "id", 0..4, b"C001");
        assert_eq!(f.len(), 1);
        bytes_fields(&mut f, "record", 0..3, b"a\xfeb");
        assert_eq!(f.len(), 3);
        assert_eq!(f[2].name, "record_text");
        assert_eq!(f[2].value, Value::Str("a<FM>b".into()));
    }
}
