//! QEMU's JSON grammar (`qobject/json-parser.c`, QEMU 7.2) for one complete
//! value found by the boundary scanner.
//!
//! The parser accepts QEMU's input extensions (single-quoted strings, the
//! `\'` escape, modified UTF-8 `C0 80` for U+0000) and rejects what QEMU
//! rejects (invalid keywords, duplicate keys, invalid escapes, lone
//! surrogates, noncharacters, invalid UTF-8, ...), reporting the first error
//! in QEMU's words. It builds a small tree of [`Node`]s with byte spans, and
//! only as much of it as the caller asks for ([`Mat`]): large server replies
//! are validated without being copied.
//!
//! Three ways through, one behaviour: a fast parser (one pass, no tokens,
//! nothing built that is only validated) handles what it can and gives up
//! on anything else, errors included, which the exact parser then decides;
//! and the verifier follows a server value's tokens while the scanner
//! cuts it, so that [`parse_known`] need not validate its big members a
//! second time.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;

use super::scan::{skip_until, swar_eq, swar_outside};

/// Deepest nesting the parser follows (QEMU's limit for client input).
pub const MAX_DEPTH: usize = 1024;

/// A parsed value with the bytes it came from (relative to the parsed text).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Range<usize>,
    pub v: J,
}

/// One member of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The decoded key.
    pub key: String,
    pub key_span: Range<usize>,
    pub val: Node,
}

/// The value of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum J {
    Null,
    Bool(bool),
    /// A number, with its text exactly as written (always valid JSON).
    Num(Box<str>),
    /// A decoded string (U+0000 allowed).
    Str(String),
    Arr(Vec<Node>),
    Obj(Vec<Member>),
    /// A container that was validated but not materialised; its text is
    /// the span of the parsed input.
    Raw,
}

impl Node {
    /// The member `key` of an object node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.v {
            J::Obj(ms) => ms.iter().find(|m| m.key == key).map(|m| &m.val),
            _ => None,
        }
    }
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.v {
            J::Obj(ms) => ms.iter_mut().find(|m| m.key == key).map(|m| &mut m.val),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match &self.v {
            J::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn members(&self) -> &[Member] {
        match &self.v {
            J::Obj(ms) => ms,
            _ => &[],
        }
    }
}

/// How much of the tree to build.
#[derive(Debug, Clone, Copy)]
pub enum Mat<'k> {
    /// Everything.
    All,
    /// The top-level value; for a top-level object, members named in the
    /// list completely and other members' scalars (their containers stay
    /// [`J::Raw`]).
    Top(&'k [&'k str]),
}

/// A successfully parsed value.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub root: Node,
    /// The text is strict JSON (RFC 8259): no single quotes, no `\'`, no
    /// `C0 80`.
    pub strict: bool,
}

/// Why a value was rejected, in QEMU's words (without the
/// "JSON parse error, " prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub msg: String,
    /// Byte offset of the token where the error was found.
    pub at: usize,
}

/// Parses one complete value (as cut by the scanner). Leading and trailing
/// JSON whitespace is allowed.
///
/// A fast parser tries first; it accepts only what the exact parser
/// accepts, with the same result, and gives up on anything else (any
/// error, and rare shapes it does not handle), leaving the value and the
/// exact error to the exact parser.
pub fn parse(text: &[u8], mat: Mat<'_>) -> Result<Parsed, ParseError> {
    match Fast::new(text, &[]).parse(mat) {
        Ok(p) => Ok(p),
        Err(Bail) => parse_exact(text, mat),
    }
}

/// The exact parser alone (QEMU's grammar token by token, with QEMU's
/// error messages).
pub(crate) fn parse_exact(text: &[u8], mat: Mat<'_>) -> Result<Parsed, ParseError> {
    let mut p = Parser {
        s: text,
        i: 0,
        strict: true,
    };
    let (all, keys): (bool, &[&str]) = match mat {
        Mat::All => (true, &[]),
        Mat::Top(keys) => (false, keys),
    };
    let root = p.value(0, if all { Mode::Full } else { Mode::Top(keys) })?;
    let at = p.i;
    let t = p.tok();
    if t.t != T::End {
        // Cannot happen for values cut by the scanner; reported like QEMU's
        // streamer would see the extra token: as a value of its own.
        return Err(ParseError {
            msg: "unexpected extra token".into(),
            at,
        });
    }
    Ok(Parsed {
        root,
        strict: p.strict,
    })
}

#[derive(Clone, Copy)]
enum Mode<'k> {
    /// Build everything.
    Full,
    /// Build this object's members per the key list (top level only).
    Top(&'k [&'k str]),
    /// Build scalars; containers become `Raw`.
    Shallow,
    /// Validate only.
    Check,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum T {
    LCurly,
    RCurly,
    LSquare,
    RSquare,
    Colon,
    Comma,
    Str,
    Num,
    Kw,
    Bad,
    End,
}

#[derive(Debug, Clone, Copy)]
struct Tok {
    t: T,
    start: usize,
    end: usize,
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    strict: bool,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl<'a> Parser<'a> {
    fn err<X>(&self, at: usize, msg: impl Into<String>) -> Result<X, ParseError> {
        Err(ParseError {
            msg: msg.into(),
            at,
        })
    }

    fn byte(&self, i: usize) -> Option<u8> {
        self.s.get(i).copied()
    }

    /// Next token (QEMU's lexer, for text the scanner already accepted).
    fn tok(&mut self) -> Tok {
        while self.byte(self.i).is_some_and(is_ws) {
            self.i += 1;
        }
        let start = self.i;
        let Some(b) = self.byte(start) else {
            return Tok {
                t: T::End,
                start,
                end: start,
            };
        };
        let one = |t| Tok {
            t,
            start,
            end: start + 1,
        };
        let tok = match b {
            b'{' => one(T::LCurly),
            b'}' => one(T::RCurly),
            b'[' => one(T::LSquare),
            b']' => one(T::RSquare),
            b':' => one(T::Colon),
            b',' => one(T::Comma),
            b'"' | b'\'' => {
                let mut j = start + 1;
                let mut t = T::Bad;
                while let Some(c) = self.byte(j) {
                    if c == b'\\' {
                        j += 2;
                        continue;
                    }
                    j += 1;
                    if c == b {
                        t = T::Str;
                        break;
                    }
                }
                Tok {
                    t,
                    start,
                    end: j.min(self.s.len()),
                }
            }
            b'-' | b'0'..=b'9' => {
                let (end, ok) = lex_number(self.s, start);
                Tok {
                    t: if ok { T::Num } else { T::Bad },
                    start,
                    end,
                }
            }
            b'a'..=b'z' => {
                let mut j = start;
                while self.byte(j).is_some_and(|c| c.is_ascii_lowercase()) {
                    j += 1;
                }
                Tok {
                    t: T::Kw,
                    start,
                    end: j,
                }
            }
            _ => one(T::Bad),
        };
        self.i = tok.end;
        tok
    }

    fn peek(&mut self) -> Tok {
        let save = self.i;
        let t = self.tok();
        self.i = save;
        t
    }

    fn stray(&self, t: Tok) -> ParseError {
        let text = String::from_utf8_lossy(self.s.get(t.start..t.end).unwrap_or(&[]));
        ParseError {
            msg: format!("stray '{text}'"),
            at: t.start,
        }
    }

    fn value(&mut self, depth: usize, mode: Mode<'_>) -> Result<Node, ParseError> {
        let t = self.tok();
        let span = t.start..t.end;
        match t.t {
            T::LCurly => self.object(t.start, depth + 1, mode),
            T::LSquare => self.array(t.start, depth + 1, mode),
            T::Str => {
                let build = !matches!(mode, Mode::Check);
                let mut out = String::new();
                self.string(t, if build { Some(&mut out) } else { None })?;
                Ok(Node {
                    span,
                    v: if build { J::Str(out) } else { J::Raw },
                })
            }
            T::Num => {
                let v = if matches!(mode, Mode::Check) {
                    J::Raw
                } else {
                    let text =
                        std::str::from_utf8(self.s.get(span.clone()).unwrap_or(&[])).unwrap_or("0");
                    J::Num(text.into())
                };
                Ok(Node { span, v })
            }
            T::Kw => {
                let word = self.s.get(span.clone()).unwrap_or(&[]);
                let v = match word {
                    b"true" => J::Bool(true),
                    b"false" => J::Bool(false),
                    b"null" => J::Null,
                    _ => {
                        return self.err(
                            t.start,
                            format!("invalid keyword '{}'", String::from_utf8_lossy(word)),
                        )
                    }
                };
                Ok(Node { span, v })
            }
            T::End => self.err(t.start, "premature EOI"),
            T::Bad => Err(self.stray(t)),
            T::RCurly | T::RSquare | T::Colon | T::Comma => self.err(t.start, "expecting value"),
        }
    }

    fn object(&mut self, start: usize, depth: usize, mode: Mode<'_>) -> Result<Node, ParseError> {
        if depth > MAX_DEPTH {
            return self.err(start, "JSON nesting depth limit exceeded");
        }
        let build = matches!(mode, Mode::Full | Mode::Top(_));
        let mut members: Vec<Member> = Vec::new();
        let mut keys = KeySet::default();
        let peek = self.peek();
        if peek.t == T::End {
            return self.err(peek.start, "premature EOI");
        }
        if peek.t == T::RCurly {
            let t = self.tok();
            return Ok(Node {
                span: start..t.end,
                v: if build { J::Obj(members) } else { J::Raw },
            });
        }
        loop {
            // parse_pair
            let kt = self.peek();
            if kt.t == T::End {
                return self.err(kt.start, "premature EOI");
            }
            if kt.t != T::Str {
                // QEMU parses any value here, then complains it is no string.
                self.value(depth, Mode::Check)?;
                return self.err(kt.start, "key is not a string in object");
            }
            self.tok();
            // Keys without escapes or C0 80 are compared as written (no
            // copy when validating only); others as decoded.
            let raw = self
                .s
                .get(kt.start + 1..kt.end.saturating_sub(1))
                .unwrap_or(&[]);
            let simple = !raw.iter().any(|&b| b == b'\\' || b == 0xC0);
            let key = if build || !simple {
                let mut k = String::new();
                self.string(kt, Some(&mut k))?;
                Some(k)
            } else {
                self.string(kt, None)?;
                None
            };
            let colon = self.tok();
            match colon.t {
                T::End => return self.err(colon.start, "premature EOI"),
                T::Colon => {}
                _ => return self.err(colon.start, "missing : in object pair"),
            }
            let child = match mode {
                Mode::Full => Mode::Full,
                Mode::Top(list) => {
                    if list.contains(&key.as_deref().unwrap_or("")) {
                        Mode::Full
                    } else {
                        Mode::Shallow
                    }
                }
                Mode::Shallow | Mode::Check => Mode::Check,
            };
            let val = self.value(depth, child)?;
            let fresh = match &key {
                Some(k) => keys.insert(Cow::Owned(k.as_bytes().to_vec())),
                None => keys.insert(Cow::Borrowed(raw)),
            };
            if !fresh {
                return self.err(colon.start, "duplicate key");
            }
            if let (true, Some(key)) = (build, key) {
                members.push(Member {
                    key,
                    key_span: kt.start..kt.end,
                    val,
                });
            }
            let sep = self.tok();
            match sep.t {
                T::End => return self.err(sep.start, "premature EOI"),
                T::RCurly => {
                    return Ok(Node {
                        span: start..sep.end,
                        v: if build { J::Obj(members) } else { J::Raw },
                    })
                }
                T::Comma => {}
                _ => return self.err(sep.start, "expected separator in dict"),
            }
        }
    }

    fn array(&mut self, start: usize, depth: usize, mode: Mode<'_>) -> Result<Node, ParseError> {
        if depth > MAX_DEPTH {
            return self.err(start, "JSON nesting depth limit exceeded");
        }
        let build = matches!(mode, Mode::Full | Mode::Top(_));
        let child = if build { Mode::Full } else { Mode::Check };
        let mut items = Vec::new();
        let peek = self.peek();
        if peek.t == T::End {
            return self.err(peek.start, "premature EOI");
        }
        if peek.t == T::RSquare {
            let t = self.tok();
            return Ok(Node {
                span: start..t.end,
                v: if build { J::Arr(items) } else { J::Raw },
            });
        }
        loop {
            let v = self.value(depth, child)?;
            if build {
                items.push(v);
            }
            let sep = self.tok();
            match sep.t {
                T::End => return self.err(sep.start, "premature EOI"),
                T::RSquare => {
                    return Ok(Node {
                        span: start..sep.end,
                        v: if build { J::Arr(items) } else { J::Raw },
                    })
                }
                T::Comma => {}
                _ => return self.err(sep.start, "expected separator in list"),
            }
        }
    }

    /// Decodes a string token like QEMU's `parse_string`.
    fn string(&mut self, t: Tok, mut out: Option<&mut String>) -> Result<(), ParseError> {
        let s = self.s;
        let q = s.get(t.start).copied().unwrap_or(b'"');
        if q == b'\'' {
            self.strict = false;
        }
        let end = t.end.saturating_sub(1).max(t.start + 1);
        let mut i = t.start + 1;
        while i < end {
            let b = s.get(i).copied().unwrap_or(0);
            if b == b'\\' {
                let beg = i;
                let e = s.get(i + 1).copied().unwrap_or(0);
                i += 2;
                let c = match e {
                    b'"' => '"',
                    b'\'' => {
                        self.strict = false;
                        '\''
                    }
                    b'\\' => '\\',
                    b'/' => '/',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    b'u' => {
                        let mut cp = hex4(s, i, end);
                        i += 4;
                        if (0xD800..=0xDBFF).contains(&cp)
                            && s.get(i) == Some(&b'\\')
                            && s.get(i + 1) == Some(&b'u')
                        {
                            let trailing = hex4(s, i + 2, end);
                            if (0xDC00..=0xDFFF).contains(&trailing) {
                                cp = 0x10000 + ((cp & 0x3FF) << 10) + (trailing & 0x3FF);
                                i += 6;
                            } else {
                                cp = -1;
                            }
                        }
                        match valid_cp(cp) {
                            Some(c) => c,
                            None => {
                                let text = s.get(beg..i.min(s.len())).unwrap_or(&[]);
                                return self.err(
                                    t.start,
                                    format!(
                                        "{} is not a valid Unicode character",
                                        String::from_utf8_lossy(text)
                                    ),
                                );
                            }
                        }
                    }
                    _ => return self.err(t.start, "invalid escape sequence in string"),
                };
                if let Some(o) = out.as_deref_mut() {
                    o.push(c);
                }
                continue;
            }
            if b < 0x80 {
                if b < 0x20 {
                    // The lexer never lets these through.
                    return self.err(t.start, "invalid UTF-8 sequence in string");
                }
                // The run of printable ASCII other than backslash from here
                // (a quote inside the token is the other kind: plain too).
                let run_end = skip_until(
                    s,
                    i + 1,
                    |w| swar_eq(w, b'\\') | swar_outside(w, 0x20),
                    |c| c == b'\\' || !(0x20..0x80).contains(&c),
                )
                .min(end);
                if let Some(o) = out.as_deref_mut() {
                    let run = s.get(i..run_end).unwrap_or(&[]);
                    o.push_str(std::str::from_utf8(run).unwrap_or_default());
                }
                i = run_end.max(i + 1);
                continue;
            }
            match mod_utf8(s, i, end) {
                Some((c, n, overlong_nul)) => {
                    if overlong_nul {
                        self.strict = false;
                    }
                    if let Some(o) = out.as_deref_mut() {
                        o.push(c);
                    }
                    i += n;
                }
                None => return self.err(t.start, "invalid UTF-8 sequence in string"),
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The fast parser.

/// The fast parser gave up: the exact parser decides.
#[derive(Debug)]
struct Bail;

type Fr<T> = Result<T, Bail>;

/// From `i` inside a string quoted by `q`: where the printable ASCII
/// other than `q` and backslash ends.
#[inline(always)]
fn plain_end(s: &[u8], i: usize, q: u8) -> usize {
    skip_until(
        s,
        i,
        |w| swar_eq(w, q) | swar_eq(w, b'\\') | swar_outside(w, 0x20),
        |c| c == q || c == b'\\' || !(0x20..0x80).contains(&c),
    )
}

/// A string token that the exact parser's `string` accepts.
#[derive(Debug, Clone, Copy)]
struct StrTok {
    /// Just after the closing quote.
    end: usize,
    /// Its bytes are its decoded text (no escape, no `C0 80`).
    simple: bool,
    /// No QEMU-only syntax (single quotes, `\'`, `C0 80`).
    strict: bool,
}

/// Validates the string token whose opening quote is at `i`.
#[inline(always)]
fn string_token(s: &[u8], i: usize) -> Fr<StrTok> {
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
    let mut p = Parser {
        s,
        i: end,
        strict: true,
    };
    let mut out = String::with_capacity(end.saturating_sub(start));
    let t = Tok {
        t: T::Str,
        start,
        end,
    };
    p.string(t, Some(&mut out)).map_err(|_| Bail)?;
    Ok(out)
}

/// A key of an object being validated: its bytes in the text (no escapes,
/// no `C0 80`: the bytes are the decoded key) or, decoded, in the arena.
#[derive(Debug, Clone, Copy)]
struct KeyRef {
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
struct Keys {
    keys: Vec<KeyRef>,
    /// Decoded keys that had escapes or `C0 80`.
    arena: Vec<u8>,
}

impl Keys {
    /// Where the keys of an object that opens now will start.
    fn base(&self) -> usize {
        self.keys.len()
    }

    /// Adds the key whose valid string token is `t` at `start` in `s`.
    #[inline(always)]
    fn push(&mut self, s: &[u8], start: usize, t: StrTok) -> Fr<()> {
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
    fn close(&mut self, s: &[u8], base: usize) -> Fr<()> {
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
struct Fast<'a, 'v> {
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
    fn new(s: &'a [u8], known: &'v [Range<usize>]) -> Fast<'a, 'v> {
        Fast {
            s,
            i: 0,
            strict: true,
            keys: Keys::default(),
            known,
            used: 0,
        }
    }

    fn parse(mut self, mat: Mat<'_>) -> Fr<Parsed> {
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
fn keyword(word: &[u8]) -> Fr<J> {
    match word {
        b"true" => Ok(J::Bool(true)),
        b"false" => Ok(J::Bool(false)),
        b"null" => Ok(J::Null),
        _ => Err(Bail),
    }
}

// ---------------------------------------------------------------------------
// Verification while scanning.

/// What the [`Verifier`] expects next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Want {
    /// The value's first token (an object).
    #[default]
    Root,
    Value,
    /// After `[`.
    ValueOrClose,
    /// After `,` in an object.
    Key,
    /// After `{`.
    KeyOrClose,
    Colon,
    CommaOrClose,
    /// The value is complete.
    Done,
}

/// An open container: an object with where its keys start, or an array.
#[derive(Debug, Clone, Copy)]
enum Open {
    Obj(usize),
    Arr,
}

/// Follows the tokens of a value as the scanner cuts them and checks that
/// the value is an object in strict JSON that the parser accepts. When it
/// is, the spans of the containers that are its members let
/// [`parse_known`] skip validating them again: large server replies are
/// read once.
#[derive(Debug, Clone, Default)]
pub(crate) struct Verifier {
    /// Verification is wanted (server side).
    on: bool,
    /// Nothing seen so far contradicts it.
    ok: bool,
    want: Want,
    stack: Vec<Open>,
    keys: Keys,
    /// Spans of the containers that are members of the root object.
    spans: Vec<Range<usize>>,
    /// Start of the member container being verified.
    member: usize,
}

impl Verifier {
    pub(crate) fn new(on: bool) -> Verifier {
        Verifier {
            on,
            ok: on,
            ..Verifier::default()
        }
    }

    /// Verification is wanted at all.
    pub(crate) fn on(&self) -> bool {
        self.on
    }

    /// Still verifying the current value.
    #[inline(always)]
    pub(crate) fn ok(&self) -> bool {
        self.ok
    }

    /// A new value starts.
    pub(crate) fn restart(&mut self) {
        self.ok = self.on;
        self.want = Want::Root;
        self.stack.clear();
        self.keys.keys.clear();
        self.keys.arena.clear();
        self.spans.clear();
        // Memory a huge value needed is not kept for the next ones.
        if self.keys.keys.capacity() > 1 << 12 || self.keys.arena.capacity() > 1 << 16 {
            self.keys = Keys::default();
        }
        if self.spans.capacity() > 1 << 12 {
            self.spans = Vec::new();
        }
    }

    /// Give up on the current value.
    pub(crate) fn fail(&mut self) {
        self.ok = false;
    }

    /// The value is complete: the member spans if it was verified.
    pub(crate) fn finish(&mut self) -> Option<Vec<Range<usize>>> {
        (self.ok && self.want == Want::Done).then(|| std::mem::take(&mut self.spans))
    }

    #[inline(always)]
    fn after_value(&mut self) {
        self.want = if self.stack.is_empty() {
            Want::Done
        } else {
            Want::CommaOrClose
        };
    }

    /// `{` (`obj`) or `[` at `at`.
    #[inline(always)]
    pub(crate) fn open(&mut self, obj: bool, at: usize) {
        if !self.ok {
            return;
        }
        match self.want {
            Want::Root if obj => {}
            Want::Value | Want::ValueOrClose => {}
            _ => return self.fail(),
        }
        if self.stack.len() == 1 {
            self.member = at;
        }
        self.stack.push(if obj {
            Open::Obj(self.keys.base())
        } else {
            Open::Arr
        });
        if self.stack.len() > MAX_DEPTH {
            return self.fail();
        }
        self.want = if obj {
            Want::KeyOrClose
        } else {
            Want::ValueOrClose
        };
    }

    /// `}` (`obj`) or `]` ending at `end`.
    #[inline(always)]
    pub(crate) fn close(&mut self, s: &[u8], obj: bool, end: usize) {
        if !self.ok {
            return;
        }
        match (self.want, self.stack.last().copied()) {
            (Want::KeyOrClose | Want::CommaOrClose, Some(Open::Obj(base))) if obj => {
                if self.keys.close(s, base).is_err() {
                    return self.fail();
                }
            }
            (Want::ValueOrClose | Want::CommaOrClose, Some(Open::Arr)) if !obj => {}
            _ => return self.fail(),
        }
        self.stack.pop();
        if self.stack.len() == 1 {
            self.spans.push(self.member..end);
        }
        self.after_value();
    }

    /// `:` (`colon`) or `,`.
    #[inline(always)]
    pub(crate) fn punct(&mut self, colon: bool) {
        if !self.ok {
            return;
        }
        self.want = match (self.want, colon, self.stack.last()) {
            (Want::Colon, true, _) => Want::Value,
            (Want::CommaOrClose, false, Some(Open::Obj(_))) => Want::Key,
            (Want::CommaOrClose, false, Some(Open::Arr)) => Want::Value,
            _ => return self.fail(),
        };
    }

    /// The string token `start..end`; `plain`: only printable ASCII
    /// without backslash between its double quotes.
    #[inline(always)]
    pub(crate) fn string(&mut self, s: &[u8], start: usize, end: usize, plain: bool) {
        if !self.ok {
            return;
        }
        let t = if plain {
            StrTok {
                end,
                simple: true,
                strict: true,
            }
        } else {
            match string_token(s, start) {
                Ok(t) if t.end == end && t.strict => t,
                _ => return self.fail(),
            }
        };
        match self.want {
            Want::Key | Want::KeyOrClose => {
                if self.keys.push(s, start, t).is_err() {
                    return self.fail();
                }
                self.want = Want::Colon;
            }
            Want::Value | Want::ValueOrClose => self.after_value(),
            _ => self.fail(),
        }
    }

    /// The number or keyword token `start..end`.
    #[inline(always)]
    pub(crate) fn scalar(&mut self, s: &[u8], start: usize, end: usize) {
        if !self.ok {
            return;
        }
        let valid = match s.get(start) {
            Some(b'a'..=b'z') => keyword(s.get(start..end).unwrap_or(&[])).is_ok(),
            _ => lex_number(s, start) == (end, true),
        };
        if !valid || !matches!(self.want, Want::Value | Want::ValueOrClose) {
            return self.fail();
        }
        self.after_value();
    }

    /// Any token `start..end` (the scanner's general path).
    pub(crate) fn token(&mut self, s: &[u8], start: usize, end: usize) {
        match s.get(start) {
            Some(b'{') => self.open(true, start),
            Some(b'[') => self.open(false, start),
            Some(b'}') => self.close(s, true, end),
            Some(b']') => self.close(s, false, end),
            Some(b':') => self.punct(true),
            Some(b',') => self.punct(false),
            Some(b'"') => self.string(s, start, end, false),
            Some(b'-' | b'0'..=b'9' | b'a'..=b'z') => self.scalar(s, start, end),
            _ => self.fail(),
        }
    }
}

/// [`parse`] for a value the scanner's verifier accepted: `known` are
/// the spans it returned, containers that need no second validation.
pub fn parse_known(
    text: &[u8],
    mat: Mat<'_>,
    known: &[Range<usize>],
) -> Result<Parsed, ParseError> {
    match Fast::new(text, known).parse(mat) {
        Ok(p) => Ok(p),
        Err(Bail) => parse_exact(text, mat),
    }
}

/// Duplicate-key detection: a short list, or a hash set for large objects.
#[derive(Default)]
struct KeySet<'a> {
    small: Vec<Cow<'a, [u8]>>,
    big: Option<HashSet<Cow<'a, [u8]>>>,
}

impl<'a> KeySet<'a> {
    /// False when `k` was already present.
    fn insert(&mut self, k: Cow<'a, [u8]>) -> bool {
        if let Some(big) = &mut self.big {
            return big.insert(k);
        }
        if self.small.contains(&k) {
            return false;
        }
        self.small.push(k);
        if self.small.len() > 16 {
            self.big = Some(self.small.drain(..).collect());
        }
        true
    }
}

/// QEMU's `cvt4hex`: four hex digits at `i` (before `end`), else -1.
fn hex4(s: &[u8], i: usize, end: usize) -> i64 {
    let mut cp = 0i64;
    for k in 0..4 {
        let j = i + k;
        if j >= end {
            return -1;
        }
        let d = match s.get(j).copied().unwrap_or(0) {
            c @ b'0'..=b'9' => c - b'0',
            c @ b'a'..=b'f' => c - b'a' + 10,
            c @ b'A'..=b'F' => c - b'A' + 10,
            _ => return -1,
        };
        cp = (cp << 4) | i64::from(d);
    }
    cp
}

/// QEMU's `is_valid_codepoint`: in range, no surrogate, no noncharacter.
fn valid_cp(cp: i64) -> Option<char> {
    if !(0..=0x10FFFF).contains(&cp) {
        return None;
    }
    if (0xFDD0..=0xFDEF).contains(&cp) || (cp & 0xFFFE) == 0xFFFE {
        return None;
    }
    char::from_u32(u32::try_from(cp).ok()?)
}

/// QEMU's `mod_utf8_codepoint` for a multi-byte sequence at `i`: the
/// character, its length, and whether it was the overlong `C0 80`.
fn mod_utf8(s: &[u8], i: usize, end: usize) -> Option<(char, usize, bool)> {
    const MIN_CP: [i64; 5] = [0x80, 0x800, 0x10000, 0x200000, 0x4000000];
    let b = *s.get(i)?;
    if b >= 0xFE || b & 0x40 == 0 {
        return None;
    }
    let len = (b.leading_ones() as usize).clamp(2, 6);
    let mut cp = i64::from(b & (0x7F >> len));
    for k in 1..len {
        let j = i + k;
        if j >= end {
            return None;
        }
        let c = *s.get(j)?;
        if c & 0xC0 != 0x80 {
            return None;
        }
        cp = (cp << 6) | i64::from(c & 0x3F);
    }
    let nul = cp == 0 && len == 2;
    if cp < MIN_CP[len - 2] && !nul {
        return None;
    }
    Some((valid_cp(cp)?, len, nul))
}

/// QEMU's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
/// Returns the end of the longest match and whether it is a number.
pub(crate) fn lex_number(s: &[u8], start: usize) -> (usize, bool) {
    let digit = |i: usize| s.get(i).is_some_and(u8::is_ascii_digit);
    let mut i = start;
    if s.get(i) == Some(&b'-') {
        i += 1;
    }
    match s.get(i) {
        Some(b'0') => {
            i += 1;
            if digit(i) {
                return (i + 1, false);
            }
        }
        Some(b'1'..=b'9') => {
            while digit(i) {
                i += 1;
            }
        }
        _ => return ((i + 1).min(s.len()), false),
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        if !digit(i) {
            return ((i + 1).min(s.len()), false);
        }
        while digit(i) {
            i += 1;
        }
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digit(i) {
            return ((i + 1).min(s.len()), false);
        }
        while digit(i) {
            i += 1;
        }
    }
    (i, true)
}

// ---------------------------------------------------------------------------
// Values: equality and serialisation.

/// A number as QEMU holds it: an integer in the i64/u64 range, or a double.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NumVal {
    Int(i128),
    Float(f64),
}

impl NumVal {
    pub fn of(text: &str) -> NumVal {
        if !text.contains(['.', 'e', 'E']) {
            if let Ok(v) = text.parse::<i64>() {
                return NumVal::Int(i128::from(v));
            }
            if let Ok(v) = text.parse::<u64>() {
                return NumVal::Int(i128::from(v));
            }
        }
        NumVal::Float(text.parse::<f64>().unwrap_or(f64::NAN))
    }
    pub fn as_f64(self) -> f64 {
        match self {
            NumVal::Int(v) => v as f64,
            NumVal::Float(f) => f,
        }
    }
}

/// JSON value equality for ids (qmp.md 4.3 step 4): strings after decoding,
/// objects as unordered sets, arrays element-wise, numbers equal as
/// integers when both are i64/u64 integers, else as doubles.
pub fn json_eq(a: &Node, b: &Node) -> bool {
    match (&a.v, &b.v) {
        (J::Null, J::Null) => true,
        (J::Bool(x), J::Bool(y)) => x == y,
        (J::Str(x), J::Str(y)) => x == y,
        (J::Num(x), J::Num(y)) => match (NumVal::of(x), NumVal::of(y)) {
            (NumVal::Int(p), NumVal::Int(q)) => p == q,
            (p, q) => p.as_f64() == q.as_f64(),
        },
        (J::Arr(x), J::Arr(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q)),
        (J::Obj(x), J::Obj(y)) => {
            x.len() == y.len()
                && x.iter().all(|m| {
                    y.iter()
                        .find(|n| n.key == m.key)
                        .is_some_and(|n| json_eq(&m.val, &n.val))
                })
        }
        _ => false,
    }
}

/// Writes `s` as a strict JSON string literal.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Serialises `n` as compact strict JSON into `out`, stopping once `out`
/// holds more than `limit` bytes (returns false then). `src` is the text
/// the node was parsed from (for [`J::Raw`] nodes, copied verbatim).
pub fn write_json(n: &Node, src: &[u8], out: &mut String, limit: usize) -> bool {
    if out.len() > limit {
        return false;
    }
    match &n.v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Num(t) => out.push_str(t),
        J::Str(s) => write_str(out, s),
        J::Raw => {
            let raw = src.get(n.span.clone()).unwrap_or(&[]);
            out.push_str(&String::from_utf8_lossy(raw));
        }
        J::Arr(items) => {
            out.push('[');
            for (k, it) in items.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                if !write_json(it, src, out, limit) {
                    return false;
                }
            }
            out.push(']');
        }
        J::Obj(ms) => {
            out.push('{');
            for (k, m) in ms.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                write_str(out, &m.key);
                out.push(':');
                if !write_json(&m.val, src, out, limit) {
                    return false;
                }
            }
            out.push('}');
        }
    }
    out.len() <= limit
}

/// The node as a strict JSON text: the original bytes when the value was
/// strict (and valid UTF-8), else re-serialised.
pub fn node_text(n: &Node, src: &[u8], strict: bool) -> String {
    if strict {
        if let Some(Ok(s)) = src.get(n.span.clone()).map(std::str::from_utf8) {
            return s.to_owned();
        }
    }
    let mut out = String::new();
    write_json(n, src, &mut out, usize::MAX);
    out
}

/// About the first `max` bytes of the node's strict JSON text, for
/// summaries (large values are not copied whole).
pub fn preview(n: &Node, src: &[u8], strict: bool, max: usize) -> String {
    if strict {
        let end = n.span.end.min(n.span.start.saturating_add(max));
        if let Some(raw) = src.get(n.span.start..end) {
            return String::from_utf8_lossy(raw).into_owned();
        }
    }
    let mut out = String::new();
    write_json(n, src, &mut out, max);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Parsed, ParseError> {
        parse(s.as_bytes(), Mat::All)
    }
    fn pb(s: &[u8]) -> Result<Parsed, ParseError> {
        parse(s, Mat::All)
    }
    fn err(s: &[u8]) -> String {
        match pb(s) {
            Err(e) => e.msg,
            Ok(v) => panic!("{:?} parsed: {v:?}", String::from_utf8_lossy(s)),
        }
    }
    fn text(s: &[u8]) -> String {
        let v = pb(s).unwrap();
        node_text(&v.root, s, v.strict)
    }

    #[test]
    fn accepts_strict_json() {
        for s in [
            r#"{"execute":"query-status","id":1}"#,
            r#"[1, -0, 0.5, -1.5e3, 1E2, 1e+5, 1e-5, true, false, null, "x"]"#,
            r#"{}"#,
            r#"[]"#,
            "\"\\u00e9\\ud83d\\ude00\\/\\b\\f\\n\\r\\t\\\\\\\"\"",
            "{ \"a\" :\r\n\t[ ] }",
            "18446744073709551615",
        ] {
            let v = p(s).unwrap_or_else(|e| panic!("{s}: {e:?}"));
            assert!(v.strict, "{s}");
            assert_eq!(text(s.as_bytes()), s);
        }
    }

    #[test]
    fn qemu_extensions_are_accepted_and_reserialised() {
        let s = br#"{'execute':'query-status','id':'it\'s "q"'}"#;
        let v = pb(s).unwrap();
        assert!(!v.strict);
        assert_eq!(text(s), r#"{"execute":"query-status","id":"it's \"q\""}"#);
        // \' inside a double-quoted string
        let s = br#"{"id":"a\'b"}"#;
        assert!(!pb(s).unwrap().strict);
        assert_eq!(text(s), r#"{"id":"a'b"}"#);
        // C0 80 is U+0000
        let s = b"{\"id\":\"a\xC0\x80b\"}";
        let v = pb(s).unwrap();
        assert!(!v.strict);
        assert_eq!(v.root.get("id").unwrap().as_str(), Some("a\0b"));
        assert_eq!(text(s), r#"{"id":"a\u0000b"}"#);
        // numbers keep their text
        assert_eq!(text(b"{'n':1E2}"), r#"{"n":1E2}"#);
    }

    #[test]
    fn rejections_use_qemu_words() {
        assert_eq!(err(br#"{"execute": }"#), "expecting value");
        assert_eq!(err(br#"{"id":nul}"#), "invalid keyword 'nul'");
        assert_eq!(err(br#"{"a":1,"a":2}"#), "duplicate key");
        assert_eq!(err(br#"{"a":"\x"}"#), "invalid escape sequence in string");
        assert_eq!(
            err(br#"{"a":"\ud800"}"#),
            "\\ud800 is not a valid Unicode character"
        );
        assert_eq!(
            err(br#"["\udc00"]"#),
            "\\udc00 is not a valid Unicode character"
        );
        assert_eq!(
            err(br#"["\ud800\u0041"]"#),
            "\\ud800 is not a valid Unicode character"
        );
        assert_eq!(
            err(br#"["\uFFFF"]"#),
            "\\uFFFF is not a valid Unicode character"
        );
        assert_eq!(
            err(b"[\"\xED\xA0\x80\"]"),
            "invalid UTF-8 sequence in string"
        );
        assert_eq!(err(b"[\"\xC3\"]"), "invalid UTF-8 sequence in string");
        assert_eq!(err(b"[\"\xC1\xBF\"]"), "invalid UTF-8 sequence in string");
        assert_eq!(
            err(b"[\"\xEF\xB7\x90\"]"),
            "invalid UTF-8 sequence in string"
        );
        assert_eq!(
            err(b"[\"\xF5\x80\x80\x80\"]"),
            "invalid UTF-8 sequence in string"
        );
        assert_eq!(err(b"}"), "expecting value");
        assert_eq!(err(b","), "expecting value");
        assert_eq!(err(b"{]"), "expecting value");
        assert_eq!(err(br#"{"a":1,}"#), "expecting value");
        assert_eq!(err(b"[1,]"), "expecting value");
        assert_eq!(err(b"[1 2]"), "expected separator in list");
        assert_eq!(err(br#"{"a":1 "b":2}"#), "expected separator in dict");
        assert_eq!(err(br#"{"a" 1}"#), "missing : in object pair");
        assert_eq!(err(br#"{1:2}"#), "key is not a string in object");
        assert_eq!(err(br#"{"a":1"#), "premature EOI");
        // first error wins: the value error comes before the duplicate
        assert_eq!(err(br#"{"a":1,"a":x}"#), "invalid keyword 'x'");
        // duplicate keys compare decoded strings
        assert_eq!(err(br#"{"a":1,'a':2}"#), "duplicate key");
        assert_eq!(err(br#"{"a":1,"\u0061":2}"#), "duplicate key");
    }

    #[test]
    fn valid_unicode_is_decoded() {
        let v = pb("[\"é\u{1F600}\", \"\\u0000\"]".as_bytes()).unwrap();
        let J::Arr(items) = &v.root.v else { panic!() };
        assert_eq!(items[0].as_str(), Some("é\u{1F600}"));
        assert_eq!(items[1].as_str(), Some("\0"));
        assert!(v.strict);
    }

    #[test]
    fn depth_limit() {
        let deep = format!("{}{}", "[".repeat(1024), "]".repeat(1024));
        assert!(pb(deep.as_bytes()).is_ok());
        let deeper = format!("{}{}", "[".repeat(1025), "]".repeat(1025));
        assert_eq!(err(deeper.as_bytes()), "JSON nesting depth limit exceeded");
    }

    #[test]
    fn partial_materialisation() {
        let s = br#"{"return": [{"a": 1}], "id": {"x": [1]}, "n": 5}"#;
        let v = parse(s, Mat::Top(&["id"])).unwrap();
        assert!(matches!(v.root.get("return").unwrap().v, J::Raw));
        assert!(matches!(v.root.get("id").unwrap().v, J::Obj(_)));
        assert!(matches!(v.root.get("n").unwrap().v, J::Num(_)));
        // still validated below the surface
        assert_eq!(
            parse(br#"{"return": [{"a": 1, "a": 2}]}"#, Mat::Top(&[]))
                .unwrap_err()
                .msg,
            "duplicate key"
        );
        // validated keys compare decoded, escapes or not
        assert_eq!(
            parse(br#"{"return": [{"a": 1, "\u0061": 2}]}"#, Mat::Top(&[]))
                .unwrap_err()
                .msg,
            "duplicate key"
        );
        assert!(parse(br#"{"return": [{"a": 1, "\u0062": 2}]}"#, Mat::Top(&[])).is_ok());
        // large objects use the hash set
        let mut big = String::from("{");
        for k in 0..40 {
            big.push_str(&format!("\"k{k}\":{k},"));
        }
        big.push_str("\"k7\":0}");
        assert_eq!(err(big.as_bytes()), "duplicate key");
    }

    #[test]
    fn id_equality_numeric_rule() {
        let n = |s: &str| p(s).unwrap().root;
        let eq = |a: &str, b: &str| json_eq(&n(a), &n(b));
        assert!(eq("-1.5e3", "-1500"));
        assert!(eq("0.1", "0.10000000000000001"));
        assert!(eq("-0.0", "-0"));
        assert!(eq("1E2", "100"));
        assert!(eq("3.0", "3"));
        assert!(eq("12345678901234567890123", "1.2345678901234568e+22"));
        assert!(eq("-9223372036854775809", "-9.2233720368547758e+18"));
        assert!(eq("18446744073709551615", "18446744073709551615"));
        assert!(!eq("9007199254740993", "9007199254740992"));
        assert!(eq("9007199254740993", "9007199254740992.0"));
        assert!(!eq("1", "\"1\""));
        assert!(!eq("true", "1"));
        assert!(eq("null", "null"));
        assert!(eq(r#""é""#, r#""\u00e9""#));
        assert!(eq(r#"'it\'s'"#, r#""it's""#));
        assert!(eq(
            r#"{"a":1,"b":[1,2.5,true,null]}"#,
            r#"{"b":[1,2.5,true,null],"a":1.0}"#
        ));
        assert!(!eq("[1,2]", "[2,1]"));
        assert!(!eq(r#"{"a":1}"#, r#"{"a":1,"b":2}"#));
    }

    #[test]
    fn number_lexing() {
        assert_eq!(lex_number(b"123,", 0), (3, true));
        assert_eq!(lex_number(b"-0.5e-3]", 0), (7, true));
        assert_eq!(lex_number(b"01", 0), (2, false));
        assert_eq!(lex_number(b"1.", 0), (2, false));
        assert_eq!(lex_number(b"1.x", 0), (3, false));
        assert_eq!(lex_number(b"-x", 0), (2, false));
        assert_eq!(lex_number(b"1e", 0), (2, false));
    }
}
