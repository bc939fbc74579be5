//! The exact parser: QEMU's `json-parser.c` token by token, with QEMU's
//! error messages. It decides every value the fast parser gives up on,
//! and it is the oracle the fast parser and the verifier are tested
//! against.

use std::borrow::Cow;
use std::collections::HashSet;

use super::text::{hex4, is_ws, lex_number, mod_utf8, valid_cp};
use super::tree::{Mat, Member, Mode, Node, ParseError, Parsed, J, MAX_DEPTH};
use crate::qmp::swar::{skip_until, swar_eq, swar_outside};

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

/// Decodes the string token `start..end` (valid for the exact parser) the
/// way the exact parser does.
pub(super) fn decode_token(s: &[u8], start: usize, end: usize) -> Result<String, ParseError> {
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
    p.string(t, Some(&mut out))?;
    Ok(out)
}
