//! The fast parser: one pass over the text, no tokens, nothing built that
//! is only validated. It accepts only what the exact parser accepts, with
//! the same result, and gives up ([`Bail`]) on anything else (every
//! error, and rare shapes it does not handle), leaving the value and the
//! exact error to the exact parser.

use std::ops::Range;

use super::exact::decode_token;
use super::text::{hex4, is_ws, lex_number, mod_utf8, valid_cp};
use super::tree::{Mat, Member, Mode, Node, Parsed, J, MAX_DEPTH};
use crate::qmp::swar::{skip_until, swar_eq, swar_outside};

/// The fast parser gave up: the exact parser decides.
#[derive(Debug)]
pub(super) struct Bail;

pub(super) type Fr<T> = Result<T, Bail>;

/// From `i` inside a string quoted by `q`: where the printable ASCII
/// other than `q` and backslash ends.
#[inline(always)]
pub(super) fn plain_end(s: &[u8], i: usize, q: u8) -> usize {
    skip_until(
        s,
        i,
        |w| swar_eq(w, q) | swar_eq(w, b'\\') | swar_outside(w, 0x20),
        |c| c == q || c == b'\\' || !(0x20..0x80).contains(&c),
    )
}

/// A string token that the exact parser's `string` accepts.
#[derive(Debug, Clone, Copy)]
pub(super) struct StrTok {
    /// Just after the closing quote.
    pub(super) end: usize,
    /// Its bytes are its decoded text (no escape, no `C0 80`).
    pub(super) simple: bool,
    /// No QEMU-only syntax (single quotes, `\'`, `C0 80`).
    pub(super) strict: bool,
}

/// Validates the string token whose opening quote is at `i`.
#[inline(always)]
pub(super) fn string_token(s: &[u8], i: usize) -> Fr<StrTok> {
    let q = s.get(i).copied().ok_or(Bail)?;
    let j = plain_end(s, i + 1, q);
    if s.get(j) == Some(&q) {
        return Ok(StrTok {
            end: j + 1,
            simple: true,
            strict: q != b'\'',
        });
    }
    string_rest(s, q, j)
}

/// [`string_token`] from `i`, where a byte other than printable ASCII is.
#[inline(never)]
fn string_rest(s: &[u8], q: u8, mut i: usize) -> Fr<StrTok> {
    let mut t = StrTok {
        end: 0,
        simple: true,
        strict: q != b'\'',
    };
    loop {
        let c = s.get(i).copied().ok_or(Bail)?;
        if c == q {
            t.end = i + 1;
            return Ok(t);
        }
        match c {
            b'"' | b'\'' => i += 1,
            b'\\' => {
                t.simple = false;
                i = escape(s, i, &mut t.strict)?;
            }
            0xC0 => {
                // Only C0 80 (U+0000) is valid.
                if s.get(i + 1) != Some(&0x80) {
                    return Err(Bail);
                }
                t.simple = false;
                t.strict = false;
                i += 2;
            }
            0x80.. => match mod_utf8(s, i, s.len()) {
                Some((_, n, false)) => i += n,
                _ => return Err(Bail),
            },
            _ => return Err(Bail),
        }
        i = plain_end(s, i, q);
    }
}

/// Validates the escape at `i` (a backslash) like the exact parser's
/// `string`; returns where it ends. Bounds are the text's end rather than
/// the closing quote's: a quote is never a hex digit, so the outcome is
/// the same.
fn escape(s: &[u8], i: usize, strict: &mut bool) -> Fr<usize> {
    match s.get(i + 1) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 2),
        Some(b'\'') => {
            *strict = false;
            Ok(i + 2)
        }
        Some(b'u') => {
            let mut j = i + 2;
            let mut cp = hex4(s, j, s.len());
            j += 4;
            if (0xD800..=0xDBFF).contains(&cp)
                && s.get(j) == Some(&b'\\')
                && s.get(j + 1) == Some(&b'u')
            {
                let trailing = hex4(s, j + 2, s.len());
                if !(0xDC00..=0xDFFF).contains(&trailing) {
                    return Err(Bail);
                }
                cp = 0x10000 + ((cp & 0x3FF) << 10) + (trailing & 0x3FF);
                j += 6;
            }
            valid_cp(cp).ok_or(Bail)?;
            Ok(j)
        }
        _ => Err(Bail),
    }
}

/// The decoded text of the valid string token `start..end`.
fn decode(s: &[u8], start: usize, end: usize, simple: bool) -> Fr<String> {
    if simple {
        let raw = s.get(start + 1..end.saturating_sub(1)).ok_or(Bail)?;
        return std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| Bail);
    }
    decode_token(s, start, end).map_err(|_| Bail)
}

/// A key of an object being validated: its bytes in the text (no escapes,
/// no `C0 80`: the bytes are the decoded key) or, decoded, in the arena.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeyRef {
    /// [`fingerprint`] of the key.
    fp: u64,
    in_arena: bool,
    start: usize,
    end: usize,
}

/// The length and first bytes of the key `s[start..end]`: keys that
/// differ here differ.
#[inline(always)]
fn fingerprint(s: &[u8], start: usize, end: usize) -> u64 {
    let len = end.saturating_sub(start);
    // Eight bytes from the text when it has them (the key is followed by
    // its closing quote at least), masked to the key.
    let head = match s.get(start..).and_then(<[u8]>::first_chunk::<8>) {
        Some(c) if len >= 8 => u64::from_le_bytes(*c),
        Some(c) => u64::from_le_bytes(*c) & ((1u64 << (8 * len)) - 1),
        None => s
            .get(start..end)
            .unwrap_or(&[])
            .iter()
            .rev()
            .fold(0u64, |a, &c| (a << 8) | u64::from(c)),
    };
    head ^ (len as u64).rotate_right(8)
}

/// Objects with more keys than this are checked for duplicates by sorting.
const FEW_KEYS: usize = 16;

/// The keys of the objects being validated (innermost last), for
/// duplicate-key detection without copying keys that have no escapes.
#[derive(Debug, Clone, Default)]
pub(super) struct Keys {
    pub(super) keys: Vec<KeyRef>,
    /// Decoded keys that had escapes or `C0 80`.
    pub(super) arena: Vec<u8>,
}

impl Keys {
    /// Where the keys of an object that opens now will start.
    pub(super) fn base(&self) -> usize {
        self.keys.len()
    }

    /// Adds the key whose valid string token is `t` at `start` in `s`.
    #[inline(always)]
    pub(super) fn push(&mut self, s: &[u8], start: usize, t: StrTok) -> Fr<()> {
        let key = if t.simple {
            let (start, end) = (start + 1, t.end.saturating_sub(1));
            KeyRef {
                fp: fingerprint(s, start, end),
                in_arena: false,
                start,
                end,
            }
        } else {
            let k = decode(s, start, t.end, false)?;
            let at = self.arena.len();
            self.arena.extend_from_slice(k.as_bytes());
            KeyRef {
                fp: fingerprint(&self.arena, at, self.arena.len()),
                in_arena: true,
                start: at,
                end: self.arena.len(),
            }
        };
        self.keys.push(key);
        Ok(())
    }

    /// The object whose keys start at `base` closed: fails on a duplicate
    /// key, forgets its keys.
    #[inline(always)]
    pub(super) fn close(&mut self, s: &[u8], base: usize) -> Fr<()> {
        let keys = self.keys.get(base..).unwrap_or(&[]);
        // The common case: a few keys, all with distinct fingerprints.
        if keys.len() <= FEW_KEYS
            && !keys
                .iter()
                .enumerate()
                .any(|(n, a)| keys.iter().take(n).any(|b| a.fp == b.fp))
        {
            self.keys.truncate(base);
            if self.keys.is_empty() {
                self.arena.clear();
            }
            return Ok(());
        }
        self.close_slow(s, base)
    }

    #[inline(never)]
    fn close_slow(&mut self, s: &[u8], base: usize) -> Fr<()> {
        let keys = self.keys.get(base..).unwrap_or(&[]);
        let arena = &self.arena;
        let bytes = |k: &KeyRef| -> &[u8] {
            let src = if k.in_arena { arena.as_slice() } else { s };
            src.get(k.start..k.end).unwrap_or(&[])
        };
        let dup = if keys.len() <= FEW_KEYS {
            let mut dup = false;
            for (n, a) in keys.iter().enumerate() {
                for b in keys.iter().take(n) {
                    if a.fp == b.fp && bytes(a) == bytes(b) {
                        dup = true;
                    }
                }
            }
            dup
        } else {
            has_duplicate(keys, bytes)
        };
        if dup {
            return Err(Bail);
        }
        self.keys.truncate(base);
        if self.keys.is_empty() {
            self.arena.clear();
        }
        Ok(())
    }
}

/// Whether two of `items` have the same key.
fn has_duplicate<'k, X>(items: &'k [X], key: impl Fn(&'k X) -> &'k [u8]) -> bool {
    let mut all: Vec<&[u8]> = items.iter().map(key).collect();
    all.sort_unstable();
    all.windows(2).any(|w| w.first() == w.get(1))
}

/// One pass over the text, no token structs, no copies of what is only
/// validated; builds the same [`Node`]s as the exact parser.
pub(super) struct Fast<'a, 'v> {
    s: &'a [u8],
    i: usize,
    strict: bool,
    keys: Keys,
    /// Containers known to be valid (see [`Verifier`]): their spans, in
    /// order, and how many were passed.
    known: &'v [Range<usize>],
    used: usize,
}

impl<'a, 'v> Fast<'a, 'v> {
    pub(super) fn new(s: &'a [u8], known: &'v [Range<usize>]) -> Fast<'a, 'v> {
        Fast {
            s,
            i: 0,
            strict: true,
            keys: Keys::default(),
            known,
            used: 0,
        }
    }

    pub(super) fn parse(mut self, mat: Mat<'_>) -> Fr<Parsed> {
        let mode = match mat {
            Mat::All => Mode::Full,
            Mat::Top(keys) => Mode::Top(keys),
        };
        let root = self.value(0, mode)?;
        self.ws();
        if self.i != self.s.len() {
            return Err(Bail);
        }
        Ok(Parsed {
            root,
            strict: self.strict,
        })
    }

    #[inline(always)]
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|&b| is_ws(b)) {
            self.i += 1;
        }
    }

    /// The next significant byte (after whitespace).
    #[inline(always)]
    fn peek(&mut self) -> Fr<u8> {
        self.ws();
        self.s.get(self.i).copied().ok_or(Bail)
    }

    /// Expects the byte `b` next.
    #[inline(always)]
    fn eat(&mut self, b: u8) -> Fr<()> {
        if self.peek()? != b {
            return Err(Bail);
        }
        self.i += 1;
        Ok(())
    }

    /// The string token at `self.i`, validated; `self.i` moves past it.
    #[inline(always)]
    fn string(&mut self) -> Fr<StrTok> {
        let t = string_token(self.s, self.i)?;
        self.strict &= t.strict;
        self.i = t.end;
        Ok(t)
    }

    /// A keyword token at `self.i`.
    #[inline(always)]
    fn keyword(&mut self) -> Fr<J> {
        let s = self.s;
        let start = self.i;
        let mut j = start;
        while s.get(j).is_some_and(u8::is_ascii_lowercase) {
            j += 1;
        }
        self.i = j;
        keyword(s.get(start..j).unwrap_or(&[]))
    }

    /// A number token at `self.i`.
    #[inline(always)]
    fn number(&mut self) -> Fr<()> {
        let (end, ok) = lex_number(self.s, self.i);
        if !ok {
            return Err(Bail);
        }
        self.i = end;
        Ok(())
    }

    /// One value, built per `mode` (never [`Mode::Check`]: see
    /// [`Fast::check`]).
    fn value(&mut self, depth: usize, mode: Mode<'_>) -> Fr<Node> {
        let b = self.peek()?;
        let start = self.i;
        let v = match b {
            b'{' => return self.object(depth + 1, mode),
            b'[' => return self.array(depth + 1),
            b'"' | b'\'' => {
                let t = self.string()?;
                J::Str(decode(self.s, start, t.end, t.simple)?)
            }
            b'-' | b'0'..=b'9' => {
                self.number()?;
                let text = self.s.get(start..self.i).ok_or(Bail)?;
                J::Num(std::str::from_utf8(text).map_err(|_| Bail)?.into())
            }
            b'a'..=b'z' => self.keyword()?,
            _ => return Err(Bail),
        };
        Ok(Node {
            span: start..self.i,
            v,
        })
    }

    /// A container that is validated only (`Mode::Shallow`): a `Raw` node.
    fn raw(&mut self, depth: usize) -> Fr<Node> {
        let start = self.i;
        while self.known.get(self.used).is_some_and(|k| k.start < start) {
            self.used += 1;
        }
        match self.known.get(self.used) {
            Some(k) if k.start == start => {
                self.used += 1;
                self.i = k.end;
            }
            _ => self.check(depth)?,
        }
        Ok(Node {
            span: start..self.i,
            v: J::Raw,
        })
    }

    fn object(&mut self, depth: usize, mode: Mode<'_>) -> Fr<Node> {
        if depth > MAX_DEPTH {
            return Err(Bail);
        }
        let start = self.i;
        self.i += 1;
        let mut members: Vec<Member> = Vec::new();
        if self.peek()? == b'}' {
            self.i += 1;
            return Ok(Node {
                span: start..self.i,
                v: J::Obj(members),
            });
        }
        loop {
            let q = self.peek()?;
            if q != b'"' && q != b'\'' {
                return Err(Bail);
            }
            let kstart = self.i;
            let t = self.string()?;
            let key = decode(self.s, kstart, t.end, t.simple)?;
            let key_span = kstart..self.i;
            self.eat(b':')?;
            let full = match mode {
                Mode::Top(list) => list.contains(&key.as_str()),
                _ => true,
            };
            let val = if full {
                self.value(depth, Mode::Full)?
            } else {
                self.shallow(depth)?
            };
            members.push(Member { key, key_span, val });
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    break;
                }
                _ => return Err(Bail),
            }
        }
        if members.len() <= FEW_KEYS {
            for (n, a) in members.iter().enumerate() {
                if members.iter().take(n).any(|b| a.key == b.key) {
                    return Err(Bail);
                }
            }
        } else if has_duplicate(&members, |m| m.key.as_bytes()) {
            return Err(Bail);
        }
        Ok(Node {
            span: start..self.i,
            v: J::Obj(members),
        })
    }

    fn array(&mut self, depth: usize) -> Fr<Node> {
        if depth > MAX_DEPTH {
            return Err(Bail);
        }
        let start = self.i;
        self.i += 1;
        let mut items = Vec::new();
        if self.peek()? == b']' {
            self.i += 1;
            return Ok(Node {
                span: start..self.i,
                v: J::Arr(items),
            });
        }
        loop {
            items.push(self.value(depth, Mode::Full)?);
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    break;
                }
                _ => return Err(Bail),
            }
        }
        Ok(Node {
            span: start..self.i,
            v: J::Arr(items),
        })
    }

    /// A value in `Mode::Shallow`: scalars built, containers validated.
    fn shallow(&mut self, depth: usize) -> Fr<Node> {
        match self.peek()? {
            b'{' | b'[' => self.raw(depth),
            _ => self.value(depth, Mode::Shallow),
        }
    }

    /// Validates one value (`Mode::Check`), building nothing.
    fn check(&mut self, depth: usize) -> Fr<()> {
        match self.peek()? {
            b'{' => self.check_object(depth + 1),
            b'[' => self.check_array(depth + 1),
            b'"' | b'\'' => self.string().map(|_| ()),
            b'-' | b'0'..=b'9' => self.number(),
            b'a'..=b'z' => self.keyword().map(|_| ()),
            _ => Err(Bail),
        }
    }

    fn check_object(&mut self, depth: usize) -> Fr<()> {
        if depth > MAX_DEPTH {
            return Err(Bail);
        }
        self.i += 1;
        if self.peek()? == b'}' {
            self.i += 1;
            return Ok(());
        }
        let base = self.keys.base();
        loop {
            let q = self.peek()?;
            if q != b'"' && q != b'\'' {
                return Err(Bail);
            }
            let kstart = self.i;
            let t = self.string()?;
            self.keys.push(self.s, kstart, t)?;
            self.eat(b':')?;
            // Strings inline: the commonest member value.
            if matches!(self.peek()?, b'"' | b'\'') {
                self.string()?;
            } else {
                self.check(depth)?;
            }
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    break;
                }
                _ => return Err(Bail),
            }
        }
        self.keys.close(self.s, base)
    }

    fn check_array(&mut self, depth: usize) -> Fr<()> {
        if depth > MAX_DEPTH {
            return Err(Bail);
        }
        self.i += 1;
        if self.peek()? == b']' {
            self.i += 1;
            return Ok(());
        }
        loop {
            if matches!(self.peek()?, b'"' | b'\'') {
                self.string()?;
            } else {
                self.check(depth)?;
            }
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(Bail),
            }
        }
    }
}

/// The keywords the exact parser accepts.
#[inline(always)]
pub(super) fn keyword(word: &[u8]) -> Fr<J> {
    match word {
        b"true" => Ok(J::Bool(true)),
        b"false" => Ok(J::Bool(false)),
        b"null" => Ok(J::Null),
        _ => Err(Bail),
    }
}
