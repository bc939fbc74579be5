//! Tokens of the filter language, each with the 1-based character column
//! where it starts.

use super::FilterError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A run of word characters: a field name, keyword, number, duration,
    /// address or unquoted string.
    Word(String),
    /// A quoted string (escapes already processed).
    Str(String),
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `~`, the same as `matches`.
    Tilde,
    AndAnd,
    OrOr,
    Bang,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    /// 1-based character column of the first character.
    pub col: usize,
    /// How the token was written (for messages).
    pub text: String,
}

/// Characters that make up words: names, numbers, durations, addresses
/// (IPv4, IPv6, CIDR), RFC 3339 times.
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | ':' | '-' | '/' | '+')
}

fn err(col: usize, message: impl Into<String>) -> FilterError {
    FilterError {
        column: col,
        message: message.into(),
    }
}

/// Splits `src` into tokens.
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0usize;
    while let Some(&c) = chars.get(i) {
        let col = i + 1;
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let simple = |tok: Tok, n: usize, text: &str| {
            (
                Token {
                    tok,
                    col,
                    text: text.to_owned(),
                },
                n,
            )
        };
        let (token, used) = match (c, next) {
            ('(', _) => simple(Tok::LParen, 1, "("),
            (')', _) => simple(Tok::RParen, 1, ")"),
            ('{', _) => simple(Tok::LBrace, 1, "{"),
            ('}', _) => simple(Tok::RBrace, 1, "}"),
            (',', _) => simple(Tok::Comma, 1, ","),
            ('~', _) => simple(Tok::Tilde, 1, "~"),
            ('=', Some('=')) => simple(Tok::Eq, 2, "=="),
            ('=', _) => return Err(err(col, "unexpected '=' (use '==' to compare)")),
            ('!', Some('=')) => simple(Tok::Ne, 2, "!="),
            ('!', _) => simple(Tok::Bang, 1, "!"),
            ('<', Some('=')) => simple(Tok::Le, 2, "<="),
            ('<', _) => simple(Tok::Lt, 1, "<"),
            ('>', Some('=')) => simple(Tok::Ge, 2, ">="),
            ('>', _) => simple(Tok::Gt, 1, ">"),
            ('&', Some('&')) => simple(Tok::AndAnd, 2, "&&"),
            ('&', _) => return Err(err(col, "unexpected '&' (use '&&' or 'and')")),
            ('|', Some('|')) => simple(Tok::OrOr, 2, "||"),
            ('|', _) => return Err(err(col, "unexpected '|' (use '||' or 'or')")),
            ('"' | '\'', _) => {
                let (s, n) = string(&chars, i, false)?;
                (
                    Token {
                        tok: Tok::Str(s),
                        col,
                        text: chars.get(i..i + n).unwrap_or(&[]).iter().collect(),
                    },
                    n,
                )
            }
            ('r', Some('"' | '\'')) => {
                let (s, n) = string(&chars, i + 1, true)?;
                (
                    Token {
                        tok: Tok::Str(s),
                        col,
                        text: chars.get(i..i + 1 + n).unwrap_or(&[]).iter().collect(),
                    },
                    n + 1,
                )
            }
            (c, _) if is_word_char(c) => {
                let n = chars
                    .get(i..)
                    .unwrap_or(&[])
                    .iter()
                    .take_while(|&&c| is_word_char(c))
                    .count();
                let w: String = chars.get(i..i + n).unwrap_or(&[]).iter().collect();
                (
                    Token {
                        tok: Tok::Word(w.clone()),
                        col,
                        text: w,
                    },
                    n,
                )
            }
            (c, _) => return Err(err(col, format!("unexpected character {}", quote_char(c)))),
        };
        out.push(token);
        i += used.max(1);
    }
    Ok(out)
}

/// A character for a message: printable ones in quotes, others as U+XXXX.
pub(crate) fn quote_char(c: char) -> String {
    if c.is_control() || c.is_whitespace() {
        format!("U+{:04X}", c as u32)
    } else {
        format!("'{c}'")
    }
}

/// Reads the quoted string whose opening quote is at `start`. Returns the
/// value and the number of characters used (quotes included).
fn string(chars: &[char], start: usize, raw: bool) -> Result<(String, usize), FilterError> {
    let quote = chars.get(start).copied().unwrap_or('"');
    let open_col = if raw { start } else { start + 1 };
    let mut s = String::new();
    let mut i = start + 1;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(err(
                open_col,
                format!("unterminated string (missing closing {quote})"),
            ));
        };
        if c == quote {
            return Ok((s, i + 1 - start));
        }
        if c != '\\' || raw {
            s.push(c);
            i += 1;
            continue;
        }
        // An escape.
        let esc_col = i + 1;
        let Some(&e) = chars.get(i + 1) else {
            return Err(err(
                open_col,
                format!("unterminated string (missing closing {quote})"),
            ));
        };
        i += 2;
        match e {
            '\\' => s.push('\\'),
            '"' => s.push('"'),
            '\'' => s.push('\''),
            'n' => s.push('\n'),
            'r' => s.push('\r'),
            't' => s.push('\t'),
            '0' => s.push('\0'),
            'x' => {
                let h: String = chars.get(i..i + 2).unwrap_or(&[]).iter().collect();
                match u8::from_str_radix(&h, 16) {
                    Ok(b)
                        if h.len() == 2 && b < 0x80 && h.chars().all(|c| c.is_ascii_hexdigit()) =>
                    {
                        s.push(char::from(b));
                        i += 2;
                    }
                    _ => {
                        return Err(err(
                            esc_col,
                            "invalid escape: \\x needs two hex digits 00-7F (use \\u{...} above)",
                        ))
                    }
                }
            }
            'u' => {
                let close = chars
                    .get(i..)
                    .unwrap_or(&[])
                    .iter()
                    .take(10)
                    .position(|&c| c == '}');
                let body: Option<String> = match (chars.get(i), close) {
                    (Some('{'), Some(p)) => {
                        Some(chars.get(i + 1..i + p).unwrap_or(&[]).iter().collect())
                    }
                    _ => None,
                };
                let ch = body
                    .as_deref()
                    .filter(|b| !b.is_empty() && b.len() <= 6)
                    .and_then(|b| u32::from_str_radix(b, 16).ok())
                    .and_then(char::from_u32);
                match (ch, close) {
                    (Some(ch), Some(p)) => {
                        s.push(ch);
                        i += p + 1;
                    }
                    _ => {
                        return Err(err(
                            esc_col,
                            "invalid escape: expected \\u{HEX} with a Unicode scalar value",
                        ))
                    }
                }
            }
            // Anything else is kept as written, so that regular expressions
            // such as "\d+" or "\." need no doubling.
            other => {
                s.push('\\');
                s.push(other);
            }
        }
    }
}
