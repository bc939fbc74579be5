//! Verification while scanning: the [`Verifier`] follows a server value's
//! tokens as the scanner cuts them, so that large replies are read once.

use std::ops::Range;

use super::fast::{keyword, string_token, Keys, StrTok};
use super::text::lex_number;
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
