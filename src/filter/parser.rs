//! Recursive-descent parser: tokens to a compiled [`Expr`], with field names
//! resolved to accessors, literals converted and regexes compiled, and
//! type errors reported with their column.
//!
//! ```text
//! expr    = and *( ("||" / "or") and )
//! and     = unary *( ("&&" / "and") unary )
//! unary   = ("!" / "not") unary / primary
//! primary = "(" expr ")" / test
//! test    = FIELD [ relop value / "in" "{" value *( [","] value ) "}" ]
//! relop   = "==" / "!=" / "<" / "<=" / ">" / ">=" / "contains" / "matches" / "~"
//!         / "eq" / "ne" / "lt" / "le" / "gt" / "ge"
//! value   = STRING / WORD
//! ```

use regex::RegexBuilder;

use super::eval::Expr;
use super::fields::{self, Acc, Spec, Ty};
use super::lexer::{Tok, Token};
use super::value::{self, AnyLit, Lit, Op};
use super::FilterError;

/// Deepest nesting of parentheses and negations.
pub(crate) const MAX_DEPTH: usize = 100;
/// Compiled size limit of one regular expression.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "contains", "matches", "eq", "ne", "lt", "le", "gt", "ge",
];

pub(crate) struct Parser {
    toks: Vec<Token>,
    pos: usize,
    /// Column just after the last character.
    end_col: usize,
    depth: usize,
    /// Mistakes that do not stop the filter (each said once).
    warnings: Vec<String>,
}

fn err(column: usize, message: impl Into<String>) -> FilterError {
    FilterError {
        column,
        message: message.into(),
    }
}

/// A field reference resolved at parse time.
struct FieldRef {
    name: String,
    acc: Acc,
    ty: Ty,
    bare_truth: bool,
}

impl Parser {
    pub fn new(toks: Vec<Token>, end_col: usize) -> Parser {
        Parser {
            toks,
            pos: 0,
            end_col,
            depth: 0,
            warnings: Vec::new(),
        }
    }

    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }

    fn peek_col(&self) -> usize {
        self.peek().map_or(self.end_col, |t| t.col)
    }

    fn bump(&mut self) -> Option<Token> {
        let t = self.toks.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Word(x), .. }) if x == w)
    }

    /// The compiled expression, and warnings about parts of it that are
    /// valid but surely mistaken (see [`json_key_warning`]).
    pub fn parse(mut self) -> Result<(Expr, Vec<String>), FilterError> {
        if self.toks.is_empty() {
            return Err(err(1, "empty filter expression"));
        }
        let e = self.or("at the start")?;
        match self.peek() {
            None => Ok((e, self.warnings)),
            Some(t) if t.tok == Tok::RParen => Err(err(t.col, "unexpected ')' (no matching '(')")),
            Some(t) => Err(trailing(t)),
        }
    }

    fn or(&mut self, ctx: &str) -> Result<Expr, FilterError> {
        let mut items = vec![self.and(ctx)?];
        loop {
            let op = match self.peek() {
                Some(Token { tok: Tok::OrOr, .. }) => "'||'",
                _ if self.is_word("or") => "'or'",
                _ => break,
            };
            self.bump();
            items.push(self.and(&format!("after {op}"))?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::Or(Vec::new()))
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self, ctx: &str) -> Result<Expr, FilterError> {
        let mut items = vec![self.unary(ctx)?];
        loop {
            let op = match self.peek() {
                Some(Token {
                    tok: Tok::AndAnd, ..
                }) => "'&&'",
                _ if self.is_word("and") => "'and'",
                _ => break,
            };
            self.bump();
            items.push(self.unary(&format!("after {op}"))?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::And(Vec::new()))
        } else {
            Expr::And(items)
        })
    }

    fn deeper(&mut self, col: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(
                col,
                format!("expression nested too deeply (more than {MAX_DEPTH} levels)"),
            ));
        }
        Ok(())
    }

    fn unary(&mut self, ctx: &str) -> Result<Expr, FilterError> {
        let Some(t) = self.peek().cloned() else {
            return Err(err(self.end_col, missing_operand(ctx)));
        };
        match &t.tok {
            Tok::Bang => {
                self.bump();
                self.deeper(t.col)?;
                let e = self.unary("after '!'")?;
                self.depth -= 1;
                Ok(Expr::Not(Box::new(e)))
            }
            Tok::Word(w) if w == "not" => {
                self.bump();
                self.deeper(t.col)?;
                let e = self.unary("after 'not'")?;
                self.depth -= 1;
                Ok(Expr::Not(Box::new(e)))
            }
            Tok::LParen => {
                self.bump();
                self.deeper(t.col)?;
                if let Some(Token {
                    tok: Tok::RParen,
                    col,
                    ..
                }) = self.peek()
                {
                    return Err(err(*col, "empty parentheses: expected a test inside"));
                }
                let e = self.or("after '('")?;
                self.depth -= 1;
                match self.peek() {
                    Some(Token {
                        tok: Tok::RParen, ..
                    }) => {
                        self.bump();
                        Ok(e)
                    }
                    None => Err(err(t.col, "unclosed '(' (missing ')')")),
                    Some(other) => Err(trailing(other)),
                }
            }
            Tok::Word(w) if !KEYWORDS.contains(&w.as_str()) => self.test(),
            _ => Err(err(t.col, unexpected_operand(&t, ctx))),
        }
    }

    fn test(&mut self) -> Result<Expr, FilterError> {
        let t = self
            .bump()
            .ok_or_else(|| err(self.end_col, "expected a field"))?;
        let Tok::Word(name) = t.tok else {
            return Err(err(t.col, "expected a field"));
        };
        let f = resolve(&name, t.col)?;
        if let Some(w) = json_key_warning(&name) {
            if !self.warnings.contains(&w) {
                self.warnings.push(w);
            }
        }
        let Some(op_tok) = self.peek().cloned() else {
            return Ok(bare(f));
        };
        let op = match &op_tok.tok {
            Tok::Eq => Op::Eq,
            Tok::Ne => Op::Ne,
            Tok::Lt => Op::Lt,
            Tok::Le => Op::Le,
            Tok::Gt => Op::Gt,
            Tok::Ge => Op::Ge,
            Tok::Tilde => Op::Matches,
            Tok::Word(w) => match w.as_str() {
                "eq" => Op::Eq,
                "ne" => Op::Ne,
                "lt" => Op::Lt,
                "le" => Op::Le,
                "gt" => Op::Gt,
                "ge" => Op::Ge,
                "contains" => Op::Contains,
                "matches" => Op::Matches,
                "in" => {
                    self.bump();
                    return self.set(f, &op_tok);
                }
                _ => return Ok(bare(f)),
            },
            Tok::Str(_) => {
                return Err(err(
                    op_tok.col,
                    format!(
                        "expected an operator (==, !=, <, >, contains, matches, in ...) between '{}' and {}",
                        f.name,
                        shown(&op_tok)
                    ),
                ))
            }
            _ => return Ok(bare(f)),
        };
        self.bump();
        check_op(&f, op, &op_tok)?;
        let (text, quoted, col) = self.value(&op_tok)?;
        let lit = if op == Op::Matches {
            compile_regex(&text, col)?
        } else {
            literal(&f, op, &text, quoted, col)?
        };
        Ok(Expr::Cmp(f.acc, op, lit))
    }

    /// The value after an operator.
    fn value(&mut self, op_tok: &Token) -> Result<(String, bool, usize), FilterError> {
        let what = format!("expected a value after '{}'", op_tok.text);
        match self.peek().cloned() {
            Some(Token {
                tok: Tok::Str(s),
                col,
                ..
            }) => {
                self.bump();
                Ok((s, true, col))
            }
            Some(Token {
                tok: Tok::Word(w),
                col,
                ..
            }) if !KEYWORDS.contains(&w.as_str()) => {
                self.bump();
                Ok((w, false, col))
            }
            Some(t) => Err(err(t.col, what)),
            None => Err(err(self.end_col, what)),
        }
    }

    /// `in { v1, v2 ... }` (the `in` already consumed).
    fn set(&mut self, f: FieldRef, in_tok: &Token) -> Result<Expr, FilterError> {
        check_op(&f, Op::Eq, in_tok)?;
        match self.peek() {
            Some(Token {
                tok: Tok::LBrace, ..
            }) => {
                self.bump();
            }
            _ => {
                return Err(err(
                    self.peek_col(),
                    "expected '{' after 'in' (e.g. tcp.port in {4444 4445})",
                ))
            }
        }
        let open_col = self.toks.get(self.pos.wrapping_sub(1)).map_or(1, |t| t.col);
        let mut lits = Vec::new();
        loop {
            match self.peek().cloned() {
                Some(Token {
                    tok: Tok::RBrace,
                    col,
                    ..
                }) => {
                    self.bump();
                    if lits.is_empty() {
                        return Err(err(col, "empty set: expected values between '{' and '}'"));
                    }
                    return Ok(Expr::In(f.acc, lits));
                }
                Some(Token {
                    tok: Tok::Comma, ..
                }) if !lits.is_empty() => {
                    self.bump();
                }
                None => return Err(err(open_col, "unclosed '{' (missing '}')")),
                Some(_) => {
                    let brace = Token {
                        tok: Tok::LBrace,
                        col: open_col,
                        text: "{".into(),
                    };
                    let (text, quoted, col) = self.value(&brace)?;
                    lits.push(literal(&f, Op::Eq, &text, quoted, col)?);
                }
            }
        }
    }
}

fn bare(f: FieldRef) -> Expr {
    if f.bare_truth {
        Expr::Truth(f.acc)
    } else {
        Expr::Exists(f.acc)
    }
}

/// A token as written, shortened, control characters escaped (messages
/// stay one line).
fn shown(t: &Token) -> String {
    let mut s = String::new();
    for c in t.text.chars().take(40) {
        if c.is_control() {
            s.extend(c.escape_default());
        } else {
            s.push(c);
        }
    }
    if t.text.chars().count() > 40 {
        s.push_str("...");
    }
    s
}

fn trailing(t: &Token) -> FilterError {
    match t.tok {
        Tok::Eq | Tok::Ne | Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge | Tok::Tilde => err(
            t.col,
            format!(
                "unexpected '{}': a comparison needs a field on its left",
                t.text
            ),
        ),
        _ => err(
            t.col,
            format!(
                "unexpected '{}' after a complete expression (missing '&&' or '||'?)",
                shown(t)
            ),
        ),
    }
}

fn missing_operand(ctx: &str) -> String {
    if ctx == "at the start" {
        "expected a field, '!' or '('".to_owned()
    } else {
        format!("expected a field, '!' or '(' {ctx}")
    }
}

fn unexpected_operand(t: &Token, ctx: &str) -> String {
    match &t.tok {
        Tok::AndAnd | Tok::OrOr => format!("missing operand before '{}'", t.text),
        Tok::Word(w) if w == "and" || w == "or" => format!("missing operand before '{w}'"),
        Tok::RParen => {
            if ctx.starts_with("after") {
                format!("expected a field, '!' or '(' {ctx}, found ')'")
            } else {
                "unexpected ')' (no matching '(')".to_owned()
            }
        }
        Tok::Eq | Tok::Ne | Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge | Tok::Tilde => {
            format!("missing field before '{}'", t.text)
        }
        Tok::Word(w) if KEYWORDS.contains(&w.as_str()) => {
            format!("missing field before '{w}'")
        }
        Tok::Str(_) => format!(
            "a value cannot stand alone: expected a field {ctx} (e.g. name == {})",
            shown(t)
        ),
        _ => format!("unexpected '{}': expected a field, '!' or '('", shown(t)),
    }
}

// ---------------------------------------------------------------------------
// Fields.

fn resolve(name: &str, col: usize) -> Result<FieldRef, FilterError> {
    let found = |s: &'static Spec| FieldRef {
        name: name.to_owned(),
        acc: s.base.build(),
        ty: s.ty,
        bare_truth: s.bare_truth,
    };
    if let Some(s) = fields::spec(name) {
        return Ok(found(s));
    }
    if let Some((proto, rest)) = fields::proto_prefix(name) {
        let segs: Vec<&str> = rest.split('.').collect();
        if segs.iter().any(|s| s.is_empty()) {
            return Err(err(
                col,
                format!("invalid field name '{name}' (empty path step)"),
            ));
        }
        if let Some(close) = near_miss(name) {
            return Err(err(
                col,
                format!("unknown field '{name}' (did you mean '{close}'?)"),
            ));
        }
        return Ok(FieldRef {
            name: name.to_owned(),
            acc: Acc::Path {
                proto,
                path: segs.into_iter().map(str::to_owned).collect(),
                json: fields::json_paths(proto),
            },
            ty: Ty::Any,
            bare_truth: false,
        });
    }
    let msg = match suggest(name) {
        Some(s) => format!("unknown field '{name}' (did you mean '{s}'?)"),
        None if name.starts_with(|c: char| c.is_ascii_digit() || c == '-') => {
            format!(
                "expected a field, found the value '{name}' (fields come first: index == {name})"
            )
        }
        None => format!("unknown field '{name}' (qscope help filters lists every field)"),
    };
    Err(err(col, msg))
}

/// A `PROTO.` path of a JSON protocol (not a documented field) whose first
/// step is no key a message can have at its top level, nor a field the
/// dissector decodes: it can match nothing (`qmp.exec == "quit"`). Valid,
/// so not an error, but said, with the nearest key when one is close.
pub(crate) fn json_key_warning(name: &str) -> Option<String> {
    if fields::spec(name).is_some() {
        return None;
    }
    let (proto, rest) = fields::proto_prefix(name)?;
    let json = fields::json_paths(proto)?;
    let (first, tail) = match rest.split_once('.') {
        Some((f, t)) => (f, Some(t)),
        None => (rest, None),
    };
    // What the first step can name: a top-level member of the message, or
    // a field the dissector decodes.
    let mut keys = json.keys.to_vec();
    keys.extend(json.decoded.iter().filter(|k| !json.keys.contains(k)));
    if first.is_empty() || keys.contains(&first) {
        return None;
    }
    let close = keys
        .iter()
        .filter_map(|k| {
            let prefix = first.len() >= 2 && k.to_lowercase().starts_with(&first.to_lowercase());
            let d = distance(first, k);
            (prefix || d <= tolerance(first).max(1)).then_some((!prefix, d, *k))
        })
        .min_by_key(|(not_prefix, d, _)| (*not_prefix, *d));
    let what = json.what;
    Some(match close {
        Some((_, _, k)) => {
            let fix = match tail {
                Some(t) => format!("{proto}.{k}.{t}"),
                None => format!("{proto}.{k}"),
            };
            format!(
                "'{name}' names no top-level {what} key, so it matches nothing; did you mean '{fix}'?"
            )
        }
        None => format!(
            "'{name}' names no top-level {what} key ({}), so it matches nothing",
            json.keys.join(", ")
        ),
    })
}

/// Edit distance on characters (insertions, deletions, substitutions and
/// swaps of neighbours), case-insensitive; 4 for anything above 3.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().flat_map(char::to_lowercase).collect();
    let b: Vec<char> = b.chars().flat_map(char::to_lowercase).collect();
    if a.len().abs_diff(b.len()) > 3 || a.len() > 200 || b.len() > 200 {
        return 4;
    }
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    let at = |i: usize, j: usize| i * w + j;
    for i in 0..=a.len() {
        d[at(i, 0)] = i;
    }
    for j in 0..=b.len() {
        d[at(0, j)] = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[at(i - 1, j)] + 1)
                .min(d[at(i, j - 1)] + 1)
                .min(d[at(i - 1, j - 1)] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[at(i - 2, j - 2)] + 1);
            }
            d[at(i, j)] = v;
        }
    }
    d[at(a.len(), b.len())].min(4)
}

/// How many edits a name of this length may be off and still be a typo.
fn tolerance(name: &str) -> usize {
    match name.chars().count() {
        0..=2 => 0,
        3..=5 => 1,
        _ => 2,
    }
}

/// The closest known name, if close enough.
fn suggest(name: &str) -> Option<&'static str> {
    fields::all_names()
        .map(|n| (distance(name, n), n))
        .filter(|(d, _)| *d <= tolerance(name).max(usize::from(name.len() > 1)))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// A `PROTO.PATH` that is a typo of a documented field: same number of
/// steps, one step a little off. Deliberately strict (longer names only,
/// fewer edits) so that real decoded fields are not mistaken for typos.
fn near_miss(name: &str) -> Option<&'static str> {
    let steps: Vec<&str> = name.split('.').collect();
    fields::all_names()
        .filter(|n| *n != name)
        .filter_map(|n| {
            let other: Vec<&str> = n.split('.').collect();
            if other.len() != steps.len() {
                return None;
            }
            let diff: Vec<(&&str, &&str)> =
                steps.iter().zip(&other).filter(|(a, b)| a != b).collect();
            let [(a, b)] = diff.as_slice() else {
                return None;
            };
            let allowed = match b.chars().count() {
                0..=4 => 0,
                5..=8 => 1,
                _ => 2,
            };
            let d = distance(a, b);
            (d > 0 && d <= allowed).then_some((d, n))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

// ---------------------------------------------------------------------------
// Operators and literals.

fn check_op(f: &FieldRef, op: Op, op_tok: &Token) -> Result<(), FilterError> {
    let name = &f.name;
    let ok = match f.ty {
        Ty::Proto => {
            return Err(err(
                op_tok.col,
                format!(
                    "'{name}' is a protocol: it cannot be compared, only tested alone (e.g. {name} && ...)"
                ),
            ))
        }
        Ty::Str | Ty::Choice(_) | Ty::Any | Ty::Named(_) => true,
        Ty::Int | Ty::Dur | Ty::Sev | Ty::Time => !matches!(op, Op::Contains | Op::Matches),
        Ty::Addr | Ty::Bool => matches!(op, Op::Eq | Op::Ne),
    };
    if ok {
        Ok(())
    } else {
        Err(err(
            op_tok.col,
            format!(
                "'{}' cannot be used with '{name}', which is {}",
                op_tok.text,
                f.ty.describe()
            ),
        ))
    }
}

fn compile_regex(text: &str, col: usize) -> Result<Lit, FilterError> {
    match RegexBuilder::new(text)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .nest_limit(100)
        .build()
    {
        Ok(re) => Ok(Lit::Regex(Box::new(re))),
        Err(regex::Error::Syntax(s)) => {
            // The crate's message repeats the pattern with a caret; keep
            // the explanation.
            let why = s
                .lines()
                .rev()
                .find_map(|l| l.trim().strip_prefix("error: "))
                .unwrap_or_else(|| s.lines().last().unwrap_or("syntax error"));
            Err(err(col, format!("invalid regular expression: {why}")))
        }
        Err(e) => Err(err(col, format!("invalid regular expression: {e}"))),
    }
}

fn show_value(text: &str, quoted: bool) -> String {
    let short: String = text.chars().take(40).collect();
    let short = if text.chars().count() > 40 {
        format!("{short}...")
    } else {
        short
    };
    let esc: String = short
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if quoted {
        format!("\"{esc}\"")
    } else {
        format!("'{esc}'")
    }
}

fn literal(f: &FieldRef, op: Op, text: &str, quoted: bool, col: usize) -> Result<Lit, FilterError> {
    let name = &f.name;
    let found = show_value(text, quoted);
    let bad = |what: &str| err(col, format!("'{name}' is {what}, found {found}"));
    match f.ty {
        Ty::Str | Ty::Proto => Ok(Lit::Str(text.to_owned())),
        Ty::Choice(values) => {
            if op == Op::Contains || values.contains(&text) {
                return Ok(Lit::Str(text.to_owned()));
            }
            if let Some(v) = values.iter().find(|v| v.eq_ignore_ascii_case(text)) {
                return Ok(Lit::Str((*v).to_owned()));
            }
            let close = values
                .iter()
                .map(|v| (distance(text, v), *v))
                .filter(|(d, _)| *d <= 2)
                .min_by_key(|(d, _)| *d);
            let list = values.join(", ");
            Err(err(
                col,
                match close {
                    Some((_, v)) => format!(
                        "'{name}' is one of {list}, found {found} (did you mean '{v}'?)"
                    ),
                    None => format!("'{name}' is one of {list}, found {found}"),
                },
            ))
        }
        Ty::Int => match value::parse_int(text) {
            Some(i) => Ok(Lit::Int(i)),
            None => Err(bad("an integer (e.g. 42 or 0x2a)")),
        },
        Ty::Dur => match value::parse_duration(text) {
            Some(d) => Ok(Lit::Dur(d)),
            None if value::parse_float(text).is_some() => Err(err(
                col,
                format!("'{name}' is a duration: give a unit, e.g. {text}ms or {text}s"),
            )),
            None => Err(bad("a duration (e.g. 10ms, 1.5s, 250us, 2m)")),
        },
        Ty::Addr => match value::parse_net(text) {
            Some((ip, bits)) => Ok(Lit::Net(ip, bits)),
            None => Err(bad("an IP address (e.g. 127.0.0.1, ::1 or 10.0.0.0/8)")),
        },
        Ty::Bool => match text {
            "true" | "1" => Ok(Lit::Bool(true)),
            "false" | "0" => Ok(Lit::Bool(false)),
            _ => Err(bad("a boolean (true or false)")),
        },
        Ty::Sev => match text.to_ascii_lowercase().as_str() {
            "info" => Ok(Lit::Sev(0)),
            "warn" | "warning" => Ok(Lit::Sev(1)),
            "error" => Ok(Lit::Sev(2)),
            _ => Err(bad("a severity (info, warn or error)")),
        },
        Ty::Time => match value::parse_time(text) {
            Some(t) => Ok(Lit::Time(t)),
            None => Err(bad(
                "a time (e.g. \"2026-11-22T02:26:09Z\", \"2026-11-22 02:26:09.5+01:00\" or Unix seconds)",
            )),
        },
        Ty::Named(names) => {
            if op == Op::Contains {
                return Ok(Lit::Str(text.to_owned()));
            }
            if let Some(i) = value::parse_int(text) {
                return Ok(Lit::Int(i));
            }
            if let Some(c) = names.code_of(text) {
                return Ok(Lit::Int(i128::from(c)));
            }
            let close = names
                .entries
                .iter()
                .map(|(_, n)| (distance(text, n), *n))
                .filter(|(d, _)| *d <= tolerance(text).max(1))
                .min_by_key(|(d, _)| *d);
            Err(err(
                col,
                match close {
                    Some((_, n)) => format!(
                        "unknown {} {found} for '{name}' (did you mean '{n}'?)",
                        names.what
                    ),
                    None => format!(
                        "unknown {} {found} for '{name}' (qscope help filters lists the names; or give the number)",
                        names.what
                    ),
                },
            ))
        }
        Ty::Any => Ok(Lit::Any(AnyLit::new(text, quoted))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("latency", "latency"), 0);
        assert_eq!(distance("latncy", "latency"), 1);
        assert_eq!(distance("Name", "name"), 0);
        assert_eq!(distance("abc", "xyz"), 3);
        assert_eq!(distance("a", "abcdefgh"), 4);
        assert_eq!(distance("exectue", "execute"), 1);
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("latncy"), Some("latency"));
        assert_eq!(suggest("qmp.exeute"), Some("qmp.execute"));
        assert_eq!(suggest("qmpp.execute"), Some("qmp.execute"));
        assert_eq!(suggest("zzzzzzzz"), None);
        assert_eq!(near_miss("qmp.exeute"), Some("qmp.execute"));
        assert_eq!(near_miss("qmp.error.clas"), Some("qmp.error.class"));
        assert_eq!(near_miss("qmp.arguments.device"), None);
        assert_eq!(near_miss("qm.length"), None);
        // Real decoded fields close to documented ones stay usable.
        assert_eq!(near_miss("qm.state"), None);
        assert_eq!(near_miss("qps.mode"), None);
    }

    #[test]
    fn qmp_keys() {
        let w = |n: &str| json_key_warning(n);
        assert_eq!(
            w("qmp.exec").as_deref(),
            Some("'qmp.exec' names no top-level QMP key, so it matches nothing; did you mean 'qmp.execute'?")
        );
        assert!(w("qmp.argument.device")
            .unwrap()
            .contains("'qmp.arguments.device'"));
        assert!(w("qmp.Execute").unwrap().contains("'qmp.execute'"));
        assert!(w("qmp.qmp.version").unwrap().contains("'qmp.QMP.version'"));
        assert!(w("qmp.zzzzzz").unwrap().ends_with("(execute, exec-oob, arguments, id, return, error, event, data, timestamp, QMP), so it matches nothing"));
        for ok in [
            "qmp.arguments.device",
            "qmp.execute",
            "qmp.exec-oob",
            "qmp.return.status",
            "qmp.return.0.name",
            "qmp.error",
            "qmp.error.class",
            "qmp.data.reason",
            "qmp.timestamp.seconds",
            "qmp.QMP.version.qemu.major",
            "qmp.value",
            "qmp.id",
            "qmp.class",
            "qmp.capabilities",
            "qmp",
            "qm.exec",
            "name",
        ] {
            assert_eq!(w(ok), None, "{ok}");
        }
    }
}
