//! Verification while scanning: the [`Verifier`] follows a server value's
//! tokens as the scanner cuts them, so that large replies are read once.

use std::ops::Range;

use super::fast::{keyword, plain_end, string_token, Keys, StrTok};
use super::text::{digits_go_on, is_ws, lex_number, run_end, zero_goes_on};
use super::tree::MAX_DEPTH;

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

/// Where the scanner is in the item it is cutting: the state its paths
/// and the verifier's walk ([`Verifier::walk`]) carry on, each from where
/// the other stopped.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Place {
    /// Bytes of the item examined: whitespace or the start of a token
    /// follows.
    pub(crate) i: usize,
    /// Open `{` and `[` (QEMU's streamer counts them apart).
    pub(crate) brace: i64,
    pub(crate) bracket: i64,
    /// The item holds a CR LF (pretty-printed server output).
    pub(crate) crlf: bool,
    /// The byte before is a CR.
    pub(crate) prev_cr: bool,
    /// Start of the last token.
    pub(crate) tok_start: usize,
    /// A token of the item was started (a value is open).
    pub(crate) in_value: bool,
}

impl Place {
    /// Skips whitespace (noting a CR LF); the byte after it, not taken.
    #[inline(always)]
    fn ws(&mut self, s: &[u8]) -> Option<u8> {
        loop {
            let &b = s.get(self.i)?;
            // Every byte that starts a token is above the space.
            if b > b' ' || !is_ws(b) {
                return Some(b);
            }
            if b == b'\n' && self.prev_cr {
                self.crlf = true;
            }
            self.prev_cr = b == b'\r';
            self.i += 1;
        }
    }

    /// The token that started at `at` ended at `end`.
    #[inline(always)]
    fn token(&mut self, at: usize, end: usize) {
        self.prev_cr = false;
        self.tok_start = at;
        self.in_value = true;
        self.i = end;
    }
}

impl Verifier {
    /// Walks a server value that is strict JSON so far, from `w.i`, doing
    /// for each token what the scanner and the verifier would do. Where
    /// it is in the grammar is kept in the program (a value is wanted, or
    /// what follows one), not looked up per token, so the processor can
    /// foresee the branches. Returns true when the value is complete at
    /// `w.i`.
    ///
    /// It takes only the plain tokens: strings of printable ASCII without
    /// escapes, integers, `true`, `false`, `null` and punctuation in their
    /// places. At anything else (an escape, a byte above 0x7F, a fraction,
    /// a token out of place, a duplicate key, a token the bytes end in) it
    /// stops before that token, with nothing of it done, and the scanner
    /// goes on from there: the scanner's results are the same either way.
    #[inline(always)]
    pub(crate) fn walk(&mut self, s: &[u8], w: &mut Place) -> bool {
        if !self.ok {
            return false;
        }
        let (done, want) = self.walk_from(s, w);
        self.want = want;
        done
    }

    /// [`Verifier::walk`]: whether the value is complete, and what is
    /// wanted next.
    #[inline(always)]
    fn walk_from(&mut self, s: &[u8], w: &mut Place) -> (bool, Want) {
        let mut want = self.want;
        // Where to start: wanting a value, or after one.
        let mut after = false;
        match want {
            Want::Root | Want::Value | Want::ValueOrClose => {}
            Want::CommaOrClose => after = true,
            Want::Done => return (false, want),
            Want::Key | Want::Colon => {
                if let Err(stop) = self.walk_key(s, w, want) {
                    return (false, stop);
                }
                want = Want::Value;
            }
            Want::KeyOrClose => {
                let Some(b) = w.ws(s) else {
                    return (false, want);
                };
                if b == b'}' {
                    let at = w.i;
                    if !self.walk_close(s, true, at, w) {
                        return (false, want);
                    }
                    if self.stack.is_empty() {
                        return (true, Want::Done);
                    }
                    after = true;
                } else {
                    if let Err(stop) = self.walk_key(s, w, want) {
                        return (false, stop);
                    }
                    want = Want::Value;
                }
            }
        }
        loop {
            if !after {
                if let Some(end) = self.walk_value(s, w, &mut want) {
                    return end;
                }
            }
            after = false;
            // After a value: `,` or a close (CommaOrClose).
            loop {
                let Some(b) = w.ws(s) else {
                    return (false, Want::CommaOrClose);
                };
                let at = w.i;
                match b {
                    b',' => {
                        w.token(at, at + 1);
                        // Within a value, the space that usually follows.
                        if s.get(w.i) == Some(&b' ') {
                            w.i += 1;
                        }
                        if let Some(Open::Obj(_)) = self.stack.last() {
                            if let Err(stop) = self.walk_key(s, w, Want::Key) {
                                return (false, stop);
                            }
                        }
                        want = Want::Value;
                        break;
                    }
                    b'}' | b']' => {
                        if !self.walk_close(s, b == b'}', at, w) {
                            return (false, Want::CommaOrClose);
                        }
                        if self.stack.is_empty() {
                            return (true, Want::Done);
                        }
                    }
                    _ => return (false, Want::CommaOrClose),
                }
            }
        }
    }

    /// The walk where a value is wanted (`want`: Root, Value or
    /// ValueOrClose, and what is wanted as it goes on): `None` when a
    /// value was taken, or what [`Verifier::walk_from`] returns.
    #[inline(always)]
    fn walk_value(
        &mut self,
        s: &[u8],
        w: &mut Place,
        want: &mut Want,
    ) -> Option<(bool, Want)> {
        loop {
            let Some(b) = w.ws(s) else {
                return Some((false, *want));
            };
            let at = w.i;
            match b {
                b'{' | b'[' => {
                    if (*want == Want::Root && b != b'{') || self.stack.len() >= MAX_DEPTH {
                        return Some((false, *want));
                    }
                    if self.stack.len() == 1 {
                        self.member = at;
                    }
                    w.token(at, at + 1);
                    let close = if b == b'{' {
                        self.stack.push(Open::Obj(self.keys.base()));
                        w.brace += 1;
                        *want = Want::KeyOrClose;
                        b'}'
                    } else {
                        self.stack.push(Open::Arr);
                        w.bracket += 1;
                        *want = Want::ValueOrClose;
                        b']'
                    };
                    let Some(n) = w.ws(s) else {
                        return Some((false, *want));
                    };
                    if n == close {
                        // Empty.
                        let at = w.i;
                        if !self.walk_close(s, b == b'{', at, w) {
                            return Some((false, *want));
                        }
                        if self.stack.is_empty() {
                            return Some((true, Want::Done));
                        }
                        return None;
                    }
                    if b == b'{' {
                        if let Err(stop) = self.walk_key(s, w, *want) {
                            return Some((false, stop));
                        }
                        *want = Want::Value;
                    }
                    continue;
                }
                _ if *want == Want::Root => return Some((false, *want)),
                b'"' => {
                    let end = plain_end(s, at + 1, b'"');
                    if s.get(end) != Some(&b'"') {
                        return Some((false, *want));
                    }
                    w.token(at, end + 1);
                }
                b'1'..=b'9' => {
                    let i = run_end(s, at + 1, u8::is_ascii_digit);
                    if digits_go_on(s, i) {
                        return Some((false, *want));
                    }
                    w.token(at, i);
                }
                b'0' => {
                    if zero_goes_on(s, at + 1) {
                        return Some((false, *want));
                    }
                    w.token(at, at + 1);
                }
                b'a'..=b'z' => {
                    let i = run_end(s, at + 1, u8::is_ascii_lowercase);
                    if i >= s.len() || keyword(s.get(at..i).unwrap_or(&[])).is_err() {
                        return Some((false, *want));
                    }
                    w.token(at, i);
                }
                b']' if *want == Want::ValueOrClose => {
                    if !self.walk_close(s, false, at, w) {
                        return Some((false, *want));
                    }
                    if self.stack.is_empty() {
                        return Some((true, Want::Done));
                    }
                }
                _ => return Some((false, *want)),
            }
            return None;
        }
    }

    /// The walk's key and colon of an object member (`from`: Key or
    /// KeyOrClose, or Colon when the key was taken). `Err`: what is
    /// wanted where it stopped.
    #[inline(always)]
    fn walk_key(&mut self, s: &[u8], w: &mut Place, from: Want) -> Result<(), Want> {
        if from != Want::Colon {
            if w.ws(s) != Some(b'"') {
                return Err(from);
            }
            let at = w.i;
            let end = plain_end(s, at + 1, b'"');
            if s.get(end) != Some(&b'"') {
                return Err(from);
            }
            let t = StrTok {
                end: end + 1,
                simple: true,
                strict: true,
            };
            if self.keys.push(s, at, t).is_err() {
                return Err(from);
            }
            w.token(at, end + 1);
        }
        if w.ws(s) != Some(b':') {
            return Err(Want::Colon);
        }
        let at = w.i;
        w.token(at, at + 1);
        if s.get(w.i) == Some(&b' ') {
            w.i += 1;
        }
        Ok(())
    }

    /// The walk's `}` (`obj`) or `]` at `at`, when it is the plain case
    /// (false: nothing done). Sets the depth in `w`; the caller sets
    /// `want`.
    #[inline(always)]
    fn walk_close(&mut self, s: &[u8], obj: bool, at: usize, w: &mut Place) -> bool {
        match self.stack.last().copied() {
            Some(Open::Obj(base)) if obj => {
                if self.keys.close(s, base).is_err() {
                    return false;
                }
            }
            Some(Open::Arr) if !obj => {}
            _ => return false,
        }
        self.stack.pop();
        if obj {
            w.brace -= 1;
        } else {
            w.bracket -= 1;
        }
        let end = at + 1;
        w.token(at, end);
        if self.stack.len() == 1 {
            self.spans.push(self.member..end);
        }
        true
    }
}
