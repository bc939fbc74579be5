//! The value-boundary scanner (qmp.md 2.4, 2.8): QEMU 7.2's JSON lexer
//! (`qobject/json-lexer.c`) and streamer (`qobject/json-streamer.c`) run
//! over one direction's byte stream, resumable at any byte.
//!
//! The scanner looks at the front of a direction's buffer and says what the
//! first item there is: whitespace, one complete value, malformed bytes
//! (a lexical error with the partial value it cut, bytes skipped by error
//! recovery, a value over QEMU's limits), a QGA delimiter, or "need more".
//! While it needs more it remembers how far it got, so a value arriving in
//! many pieces is scanned once.
//!
//! The common bytes (whitespace, punctuation, strings up to an escape,
//! integers, keywords) take a fast path that keeps the state in locals and
//! skips through strings eight bytes at a time; everything else goes
//! through QEMU's state machine byte by byte. On the server side a
//! verifier follows the tokens (see [`Scanner::take_verified`]).

use std::ops::Range;

use super::json::{digits_go_on, is_ws, run_end, zero_goes_on, Place, Verifier};
use super::swar::{skip_until, swar_eq, swar_lt, swar_outside, LO};

/// QEMU's `MAX_TOKEN_COUNT`.
pub const MAX_TOKEN_COUNT: u64 = 2 << 20;
/// QEMU's `MAX_NESTING` (combined `{` + `[` depth).
pub const MAX_NESTING: i64 = 1 << 10;

/// Lexer states (QEMU's `json_lexer_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lx {
    Start,
    Recovery,
    Dq,
    DqEsc,
    Sq,
    SqEsc,
    Zero,
    Digits,
    Sign,
    Mantissa,
    MantissaDigits,
    ExpE,
    ExpSign,
    ExpDigits,
    Keyword,
}

/// What the front of the buffer holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// Nothing can be said until more bytes arrive.
    NeedMore,
    /// `len` bytes of whitespace outside any value.
    Whitespace(usize),
    /// One complete value of `len` bytes. `crlf`: it contains a CR LF
    /// (pretty-printed server output).
    Value { len: usize, crlf: bool },
    /// `len` malformed bytes: a lexical error. The error token (QEMU's
    /// "stray" text) is `tok_start..len`; bytes before it are the partial
    /// value QEMU discards. Error recovery follows.
    LexError { len: usize, tok_start: usize },
    /// `len` bytes of a partial value cut short by a reset byte (0xFF,
    /// 0xFE or a control character), which follows them.
    Cut { len: usize },
    /// `len` bytes skipped by error recovery.
    Recovery(usize),
    /// `len` bytes of a value that exceeded one of QEMU's limits (client
    /// side only); `what` is QEMU's error text.
    Limit { len: usize, what: &'static str },
    /// A 0xFF byte at top level of the server stream (QGA delimiter).
    Delimiter,
}

/// Resumable scanner for one direction.
#[derive(Debug, Clone)]
pub struct Scanner {
    /// Client→server stream: single-quoted strings, QEMU's limits, 0xFF is a
    /// reset. Server→client: strict JSON tokens, 0xFF is a QGA delimiter.
    client: bool,
    lx: Lx,
    /// Where the scanner is in the current item (`place.i`: the bytes of
    /// it already examined); shared with the verifier's walk.
    place: Place,
    /// Tokens of the current item (counted on the client side only).
    tokens: u64,
    /// Checks server values on the way (see [`Verifier`]).
    verifier: Verifier,
    /// What the verifier found about the value just reported.
    verified: Option<Vec<Range<usize>>>,
}

/// Bytes that end error recovery (QEMU's `IN_RECOVERY` row): structural
/// characters, control characters other than TAB, 0xFE and 0xFF.
pub fn ends_recovery(b: u8) -> bool {
    matches!(b, b'{' | b'}' | b'[' | b']' | b':' | b',' | 0xFE | 0xFF) || (b < 0x20 && b != b'\t')
}

/// Bytes that reset the parser: 0xFF, 0xFE and control characters other
/// than TAB, CR and LF.
pub fn is_reset_byte(b: u8) -> bool {
    b >= 0xFE || (b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n'))
}

// Byte classes of the fast path outside strings.
const K_OTHER: u8 = 0;
const K_WS: u8 = 1;
const K_LBRACE: u8 = 2;
const K_RBRACE: u8 = 3;
const K_LBRACK: u8 = 4;
const K_RBRACK: u8 = 5;
const K_PUNCT: u8 = 6;
const K_DQ: u8 = 7;
const K_SQ: u8 = 8;
const K_ZERO: u8 = 9;
const K_DIGIT: u8 = 10;
const K_MINUS: u8 = 11;
const K_LOWER: u8 = 12;

/// The class of `b` in the `Start` state.
#[inline(always)]
fn class(b: u8) -> u8 {
    CLASSES.get(usize::from(b)).copied().unwrap_or(K_OTHER)
}

/// [`class_of`] of every byte: one load per token instead of the
/// compare chain the compiler made of the `match`.
static CLASSES: [u8; 256] = {
    let mut t = [K_OTHER; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = class_of(b as u8);
        b += 1;
    }
    t
};

const fn class_of(b: u8) -> u8 {
    match b {
        b' ' | b'\t' | b'\r' | b'\n' => K_WS,
        b'{' => K_LBRACE,
        b'}' => K_RBRACE,
        b'[' => K_LBRACK,
        b']' => K_RBRACK,
        b':' | b',' => K_PUNCT,
        b'"' => K_DQ,
        b'\'' => K_SQ,
        b'0' => K_ZERO,
        b'1'..=b'9' => K_DIGIT,
        b'-' => K_MINUS,
        b'a'..=b'z' => K_LOWER,
        _ => K_OTHER,
    }
}

/// Inside a string quoted by `quote`, from `i`: the position of the first
/// byte that is not ordinary (the quote, a backslash, a control character,
/// 0xFE or 0xFF), or `data.len()`. With `HIGH`, bytes 0x80 to 0xFD stop it
/// too.
#[inline(always)]
fn string_end<const HIGH: bool>(data: &[u8], i: usize, quote: u8) -> usize {
    if HIGH {
        skip_until(
            data,
            i,
            |w| swar_eq(w, quote) | swar_eq(w, b'\\') | swar_outside(w, 0x20),
            |c| c == quote || c == b'\\' || !(0x20..0x80).contains(&c),
        )
    } else {
        skip_until(
            data,
            i,
            |w| swar_eq(w, quote) | swar_eq(w, b'\\') | swar_lt(w, 0x20) | swar_eq(w | LO, 0xFF),
            |c| c == quote || c == b'\\' || !(0x20..=0xFD).contains(&c),
        )
    }
}

/// QEMU's streamer limits after a token of a client value: the error
/// text when the value went over one.
#[inline(always)]
fn over_limit(tokens: u64, brace: i64, bracket: i64) -> Option<&'static str> {
    if tokens > MAX_TOKEN_COUNT {
        Some("JSON token count limit exceeded")
    } else if brace + bracket > MAX_NESTING {
        Some("JSON nesting depth limit exceeded")
    } else {
        None
    }
}

impl Scanner {
    pub fn new(client: bool) -> Scanner {
        Scanner {
            client,
            lx: Lx::Start,
            place: Place::default(),
            tokens: 0,
            verifier: Verifier::new(false),
            verified: None,
        }
    }

    /// A scanner that also verifies the server's values (see
    /// [`Scanner::take_verified`]).
    pub fn verifying(client: bool) -> Scanner {
        Scanner {
            verifier: Verifier::new(!client),
            ..Scanner::new(client)
        }
    }

    /// Forget everything (after a gap).
    pub fn reset(&mut self) {
        let v = Verifier::new(self.verifier.on());
        *self = Scanner {
            verifier: v,
            ..Scanner::new(self.client)
        };
    }

    /// After [`Scan::Value`]: the spans of the members of the value that
    /// are containers, when the verifier found the value to be an object
    /// in strict JSON that [`super::json::parse`] accepts (for
    /// [`super::json::parse_known`]).
    pub fn take_verified(&mut self) -> Option<Vec<Range<usize>>> {
        self.verified.take()
    }

    /// True when no item is in progress and the lexer is at top level.
    pub fn at_item_start(&self) -> bool {
        self.place.i == 0 && !self.place.in_value && matches!(self.lx, Lx::Start | Lx::Recovery)
    }

    /// True while a value is open (tokens seen, not complete).
    pub fn in_value(&self) -> bool {
        self.place.in_value || !matches!(self.lx, Lx::Start | Lx::Recovery)
    }

    /// Bytes of the current item examined so far.
    pub fn scanned(&self) -> usize {
        self.place.i
    }

    /// The front of the buffer moved by `n` bytes that were examined but
    /// not reported as an item (oversized values): shift positions.
    pub fn rebase(&mut self, n: usize) {
        self.place.i = self.place.i.saturating_sub(n);
        self.place.tok_start = self.place.tok_start.saturating_sub(n);
        self.verifier.fail();
    }

    /// Leave error recovery (a telnet sequence or a resync point intervened).
    pub fn leave_recovery(&mut self) {
        if self.lx == Lx::Recovery {
            self.lx = Lx::Start;
        }
    }

    fn end_item(&mut self, lx: Lx) {
        self.lx = lx;
        self.place = Place::default();
        self.tokens = 0;
        self.verifier.restart();
    }

    /// What the front of `data` holds. `data` starts at the current item;
    /// between calls answered `NeedMore` it keeps its bytes and may grow.
    /// `eos`: no byte follows `data`.
    pub fn next(&mut self, data: &[u8], eos: bool) -> Scan {
        self.next_impl::<true, true>(data, eos)
    }

    /// [`Scanner::next`] without the fast path: the byte-by-byte state
    /// machine alone (the reference the fast path is tested against).
    #[cfg(test)]
    pub(crate) fn next_reference(&mut self, data: &[u8], eos: bool) -> Scan {
        self.next_impl::<false, false>(data, eos)
    }

    /// [`Scanner::next`] without the verifier's walk (the reference the
    /// walk is tested against).
    #[cfg(test)]
    pub(crate) fn next_unwalked(&mut self, data: &[u8], eos: bool) -> Scan {
        self.next_impl::<true, false>(data, eos)
    }

    fn next_impl<const FAST: bool, const WALK: bool>(&mut self, data: &[u8], eos: bool) -> Scan {
        self.verified = None;
        if self.at_item_start() {
            if self.lx == Lx::Recovery {
                let n = data.iter().take_while(|&&b| !ends_recovery(b)).count();
                if n < data.len() {
                    self.lx = Lx::Start;
                }
                if n > 0 {
                    self.end_item(self.lx);
                    return Scan::Recovery(n);
                }
            }
            let Some(&b) = data.first() else {
                return Scan::NeedMore;
            };
            if is_ws(b) {
                let n = data.iter().take_while(|&&b| is_ws(b)).count();
                return Scan::Whitespace(n);
            }
            if b == 0xFF && !self.client {
                return Scan::Delimiter;
            }
        }
        let mut i = self.place.i;
        loop {
            if WALK && self.lx == Lx::Start && self.verifier.ok() {
                if let Some(s) = self.walk(data, &mut i) {
                    return s;
                }
            }
            if FAST && matches!(self.lx, Lx::Start | Lx::Recovery) {
                if let Some(s) = self.fast(data, &mut i) {
                    return s;
                }
                if matches!(self.lx, Lx::Start | Lx::Recovery) {
                    // Out of bytes.
                    break;
                }
            }
            let Some(&b) = data.get(i) else { break };
            if let Some(s) = self.step(data, b, &mut i) {
                return s;
            }
        }
        self.place.i = i;
        // Out of bytes. A number or keyword that could end here ends at the
        // end of the stream (decision 13).
        if eos
            && matches!(
                self.lx,
                Lx::Zero | Lx::Digits | Lx::MantissaDigits | Lx::ExpDigits | Lx::Keyword
            )
        {
            if let Some(s) = self.terminal(data, data.len()) {
                return s;
            }
        }
        Scan::NeedMore
    }

    /// The fast path of the `Start` state: whitespace, punctuation, strings
    /// up to their first escape, integers and keywords, with the state in
    /// locals. Returns when an item is complete, when the bytes run out
    /// (state `Start` kept), or at a byte the general state machine must
    /// handle (the state it is in is set; `pos` is at that byte).
    #[inline(always)]
    fn fast(&mut self, data: &[u8], pos: &mut usize) -> Option<Scan> {
        let client = self.client;
        let mut i = *pos;
        let mut brace = self.place.brace;
        let mut bracket = self.place.bracket;
        let mut tokens = self.tokens;
        let mut crlf = self.place.crlf;
        let mut prev_cr = self.place.prev_cr;
        let mut tok_start = self.place.tok_start;
        let mut in_value = self.place.in_value;
        let mut lx = self.lx;
        // Whether the value stays open after a token that is not a bracket.
        let mut open = (brace > 0 || bracket > 0) && brace >= 0 && bracket >= 0;
        let done = loop {
            let Some(&b) = data.get(i) else { break None };
            let k = class(b);
            if k == K_WS {
                if b == b'\n' && prev_cr {
                    crlf = true;
                }
                prev_cr = b == b'\r';
                i += 1;
                continue;
            }
            prev_cr = false;
            tok_start = i;
            in_value = true;
            match k {
                K_LBRACE | K_RBRACE | K_LBRACK | K_RBRACK => {
                    match k {
                        K_LBRACE => brace += 1,
                        K_RBRACE => brace -= 1,
                        K_LBRACK => bracket += 1,
                        _ => bracket -= 1,
                    }
                    open = (brace > 0 || bracket > 0) && brace >= 0 && bracket >= 0;
                    i += 1;
                    match k {
                        K_LBRACE => self.verifier.open(true, tok_start),
                        K_LBRACK => self.verifier.open(false, tok_start),
                        _ => self.verifier.close(data, k == K_RBRACE, i),
                    }
                }
                K_PUNCT => {
                    i += 1;
                    self.verifier.punct(b == b':');
                    // Within a value, the space that usually follows
                    // (`": "`, `", "`): skipped here rather than by another
                    // turn of the loop.
                    if open && data.get(i) == Some(&b' ') {
                        i += 1;
                    }
                }
                K_DQ => match self.dq_string(data, i) {
                    Ok(end) => i = end,
                    Err(at) => {
                        i = at;
                        lx = Lx::Dq;
                        break None;
                    }
                },
                K_SQ if client => {
                    i = string_end::<false>(data, i + 1, b'\'');
                    if data.get(i) != Some(&b'\'') {
                        lx = Lx::Sq;
                        break None;
                    }
                    i += 1;
                }
                K_DIGIT => {
                    i = run_end(data, i + 1, u8::is_ascii_digit);
                    if digits_go_on(data, i) {
                        lx = Lx::Digits;
                        break None;
                    }
                    self.verifier.scalar(data, tok_start, i);
                }
                K_ZERO => {
                    i += 1;
                    if zero_goes_on(data, i) {
                        lx = Lx::Zero;
                        break None;
                    }
                    self.verifier.scalar(data, tok_start, i);
                }
                K_LOWER => {
                    i = run_end(data, i + 1, u8::is_ascii_lowercase);
                    if i >= data.len() {
                        lx = Lx::Keyword;
                        break None;
                    }
                    self.verifier.scalar(data, tok_start, i);
                }
                K_MINUS => {
                    i += 1;
                    lx = Lx::Sign;
                    break None;
                }
                _ => break Some(self.error(data, i)),
            }
            // A token ended at `i` (QEMU's streamer; only the client side has
            // limits, and only it counts tokens here).
            if client {
                tokens += 1;
                if let Some(what) = over_limit(tokens, brace, bracket) {
                    self.end_item(Lx::Start);
                    break Some(Scan::Limit { len: i, what });
                }
            }
            if open {
                continue;
            }
            self.verified = self.verifier.finish();
            self.end_item(Lx::Start);
            break Some(Scan::Value { len: i, crlf });
        };
        if done.is_none() {
            self.lx = lx;
            self.place.brace = brace;
            self.place.bracket = bracket;
            self.tokens = tokens;
            self.place.crlf = crlf;
            self.place.prev_cr = prev_cr;
            self.place.tok_start = tok_start;
            self.place.in_value = in_value;
            *pos = i;
        }
        done
    }

    /// The fastest path, for a server value that is strict JSON so far:
    /// the verifier walks its plain tokens (see [`Verifier::walk`]) from
    /// `*pos`. Returns the value when the walk completed it; otherwise the
    /// state is as the other paths would have left it at the token the
    /// walk stopped before, and `*pos` is there.
    #[inline(always)]
    fn walk(&mut self, data: &[u8], pos: &mut usize) -> Option<Scan> {
        self.place.i = *pos;
        let done = self.verifier.walk(data, &mut self.place);
        *pos = self.place.i;
        if !done {
            return None;
        }
        let crlf = self.place.crlf;
        self.verified = self.verifier.finish();
        self.end_item(Lx::Start);
        Some(Scan::Value { len: *pos, crlf })
    }

    /// The fast path of a double-quoted string whose quote is at `at`: where
    /// it ends (after the closing quote), or `Err` with the position of a
    /// byte the state machine must handle. Server strings are checked for
    /// bytes above 0x7F on the way, for the verifier.
    #[inline(always)]
    fn dq_string(&mut self, data: &[u8], at: usize) -> Result<usize, usize> {
        let verify = self.verifier.ok();
        let mut plain = true;
        let mut i;
        if verify {
            i = string_end::<true>(data, at + 1, b'"');
            while data.get(i).is_some_and(|c| (0x80..=0xFD).contains(c)) {
                plain = false;
                i = string_end::<true>(data, i + 1, b'"');
            }
        } else {
            i = string_end::<false>(data, at + 1, b'"');
        }
        if data.get(i) != Some(&b'"') {
            return Err(i);
        }
        i += 1;
        if verify {
            self.verifier.string(data, at, i, plain);
        }
        Ok(i)
    }

    /// One byte `b` at `*i` through the state machine (QEMU's lexer).
    fn step(&mut self, data: &[u8], b: u8, i: &mut usize) -> Option<Scan> {
        match self.lx {
            Lx::Start | Lx::Recovery => {
                if is_ws(b) {
                    if b == b'\n' && self.place.prev_cr {
                        self.place.crlf = true;
                    }
                    self.place.prev_cr = b == b'\r';
                    *i += 1;
                    return None;
                }
                self.place.prev_cr = false;
                self.place.tok_start = *i;
                self.place.in_value = true;
                match b {
                    b'{' | b'}' | b'[' | b']' | b':' | b',' => {
                        match b {
                            b'{' => self.place.brace += 1,
                            b'}' => self.place.brace -= 1,
                            b'[' => self.place.bracket += 1,
                            b']' => self.place.bracket -= 1,
                            _ => {}
                        }
                        *i += 1;
                        return self.token_done(data, *i);
                    }
                    b'"' => self.lx = Lx::Dq,
                    b'\'' if self.client => self.lx = Lx::Sq,
                    b'0' => self.lx = Lx::Zero,
                    b'1'..=b'9' => self.lx = Lx::Digits,
                    b'-' => self.lx = Lx::Sign,
                    b'a'..=b'z' => self.lx = Lx::Keyword,
                    _ => return Some(self.error(data, *i)),
                }
                *i += 1;
            }
            Lx::Dq | Lx::Sq => {
                let quote = if self.lx == Lx::Dq { b'"' } else { b'\'' };
                *i = string_end::<false>(data, *i, quote);
                let &c = data.get(*i)?;
                if c == quote {
                    *i += 1;
                    self.lx = Lx::Start;
                    return self.token_done(data, *i);
                } else if c == b'\\' {
                    self.lx = if self.lx == Lx::Dq {
                        Lx::DqEsc
                    } else {
                        Lx::SqEsc
                    };
                    *i += 1;
                } else {
                    return Some(self.error(data, *i));
                }
            }
            Lx::DqEsc | Lx::SqEsc => {
                if !(0x20..=0xFD).contains(&b) {
                    return Some(self.error(data, *i));
                }
                self.lx = if self.lx == Lx::DqEsc { Lx::Dq } else { Lx::Sq };
                *i += 1;
            }
            Lx::Zero => match b {
                b'0'..=b'9' => return Some(self.error(data, *i)),
                b'.' => {
                    self.lx = Lx::Mantissa;
                    *i += 1;
                }
                _ => return self.terminal(data, *i),
            },
            Lx::Digits => match b {
                b'0'..=b'9' => *i += 1,
                b'e' | b'E' => {
                    self.lx = Lx::ExpE;
                    *i += 1;
                }
                b'.' => {
                    self.lx = Lx::Mantissa;
                    *i += 1;
                }
                _ => return self.terminal(data, *i),
            },
            Lx::Sign => match b {
                b'0' => {
                    self.lx = Lx::Zero;
                    *i += 1;
                }
                b'1'..=b'9' => {
                    self.lx = Lx::Digits;
                    *i += 1;
                }
                _ => return Some(self.error(data, *i)),
            },
            Lx::Mantissa => match b {
                b'0'..=b'9' => {
                    self.lx = Lx::MantissaDigits;
                    *i += 1;
                }
                _ => return Some(self.error(data, *i)),
            },
            Lx::MantissaDigits => match b {
                b'0'..=b'9' => *i += 1,
                b'e' | b'E' => {
                    self.lx = Lx::ExpE;
                    *i += 1;
                }
                _ => return self.terminal(data, *i),
            },
            Lx::ExpE => match b {
                b'+' | b'-' => {
                    self.lx = Lx::ExpSign;
                    *i += 1;
                }
                b'0'..=b'9' => {
                    self.lx = Lx::ExpDigits;
                    *i += 1;
                }
                _ => return Some(self.error(data, *i)),
            },
            Lx::ExpSign => match b {
                b'0'..=b'9' => {
                    self.lx = Lx::ExpDigits;
                    *i += 1;
                }
                _ => return Some(self.error(data, *i)),
            },
            Lx::ExpDigits => match b {
                b'0'..=b'9' => *i += 1,
                _ => return self.terminal(data, *i),
            },
            Lx::Keyword => match b {
                b'a'..=b'z' => *i += 1,
                _ => return self.terminal(data, *i),
            },
        }
        None
    }

    /// A number or keyword ended before `end` (lookahead, not consumed).
    fn terminal(&mut self, data: &[u8], end: usize) -> Option<Scan> {
        self.lx = Lx::Start;
        self.token_done(data, end)
    }

    /// A token ended at `end`: apply the streamer's limits and completion
    /// rule. `Some` when the item is complete.
    fn token_done(&mut self, data: &[u8], end: usize) -> Option<Scan> {
        if self.verifier.ok() {
            self.verifier.token(data, self.place.tok_start, end);
        }
        if self.client {
            self.tokens += 1;
            if let Some(what) = over_limit(self.tokens, self.place.brace, self.place.bracket) {
                self.end_item(Lx::Start);
                return Some(Scan::Limit { len: end, what });
            }
        }
        let open = (self.place.brace > 0 || self.place.bracket > 0) && self.place.brace >= 0 && self.place.bracket >= 0;
        if open {
            self.place.i = end;
            return None;
        }
        let crlf = self.place.crlf;
        self.verified = self.verifier.finish();
        self.end_item(Lx::Start);
        Some(Scan::Value { len: end, crlf })
    }

    /// Byte `i` is not allowed in the current lexer state.
    fn error(&mut self, data: &[u8], i: usize) -> Scan {
        let b = data.get(i).copied().unwrap_or(0);
        if is_reset_byte(b) && i > 0 {
            // Report the partial value first; the reset byte follows as an
            // item of its own.
            self.end_item(Lx::Start);
            return Scan::Cut { len: i };
        }
        let tok_start = if self.lx == Lx::Start || self.lx == Lx::Recovery {
            i
        } else {
            self.place.tok_start
        };
        self.end_item(Lx::Recovery);
        Scan::LexError {
            len: i + 1,
            tok_start,
        }
    }
}

#[cfg(test)]
mod tests;
