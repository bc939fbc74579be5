//! A deliberately small, independent JSON checker (RFC 8259 grammar) for
//! judging qscope's output: validates a text without recursion (nesting
//! depth cannot overflow the stack) and without interpreting numbers (any
//! number the grammar allows is valid, whatever its magnitude), and reads
//! the members of an object as raw slices.

/// Skips whitespace.
fn ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

fn err<T>(what: &str, i: usize) -> Result<T, String> {
    Err(format!("{what} at byte {i}"))
}

/// Skips a string starting at `b[i] == '"'`; returns the index after it.
/// `b` must be valid UTF-8 (checked by the callers).
fn string(b: &[u8], mut i: usize) -> Result<usize, String> {
    if b.get(i) != Some(&b'"') {
        return err("expected a string", i);
    }
    i += 1;
    loop {
        match b.get(i) {
            None => return err("unterminated string", i),
            Some(b'"') => return Ok(i + 1),
            Some(&c) if c < 0x20 => return err("control character in a string", i),
            Some(b'\\') => match b.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => {
                    let hex = b.get(i + 2..i + 6).unwrap_or(&[]);
                    if hex.len() != 4 || !hex.iter().all(u8::is_ascii_hexdigit) {
                        return err("bad \\u escape", i);
                    }
                    i += 6;
                }
                _ => return err("bad escape", i),
            },
            Some(_) => i += 1,
        }
    }
}

fn digits(b: &[u8], mut i: usize) -> Result<usize, String> {
    let start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if i == start {
        return err("expected a digit", i);
    }
    Ok(i)
}

fn number(b: &[u8], mut i: usize) -> Result<usize, String> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(b, i)?,
        _ => return err("bad number", i),
    }
    if b.get(i) == Some(&b'.') {
        i = digits(b, i + 1)?;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits(b, i)?;
    }
    Ok(i)
}

fn literal(b: &[u8], i: usize, lit: &[u8]) -> Result<usize, String> {
    if b.get(i..i + lit.len()) == Some(lit) {
        Ok(i + lit.len())
    } else {
        err("bad literal", i)
    }
}

/// Reads `"key" :` at `i` (after whitespace); returns the index after ':'.
fn key_colon(b: &[u8], i: usize) -> Result<usize, String> {
    let i = string(b, ws(b, i))?;
    let i = ws(b, i);
    if b.get(i) != Some(&b':') {
        return err("expected ':'", i);
    }
    Ok(i + 1)
}

/// Skips one JSON value starting at `i` (leading whitespace allowed);
/// returns the index after it. Iterative: any depth.
pub fn skip_value(b: &[u8], mut i: usize) -> Result<usize, String> {
    let mut stack: Vec<u8> = Vec::new();
    loop {
        i = ws(b, i);
        match b.get(i) {
            Some(b'{') => {
                i = ws(b, i + 1);
                if b.get(i) == Some(&b'}') {
                    i += 1;
                } else {
                    stack.push(b'{');
                    i = key_colon(b, i)?;
                    continue;
                }
            }
            Some(b'[') => {
                i = ws(b, i + 1);
                if b.get(i) == Some(&b']') {
                    i += 1;
                } else {
                    stack.push(b'[');
                    continue;
                }
            }
            Some(b'"') => i = string(b, i)?,
            Some(b't') => i = literal(b, i, b"true")?,
            Some(b'f') => i = literal(b, i, b"false")?,
            Some(b'n') => i = literal(b, i, b"null")?,
            Some(b'-' | b'0'..=b'9') => i = number(b, i)?,
            _ => return err("expected a value", i),
        }
        // After a value: close containers, or go on after a comma.
        loop {
            let Some(&top) = stack.last() else {
                return Ok(i);
            };
            i = ws(b, i);
            match (top, b.get(i)) {
                (b'{', Some(b',')) => {
                    i = key_colon(b, i + 1)?;
                    break;
                }
                (_, Some(b',')) => {
                    i += 1;
                    break;
                }
                (b'{', Some(b'}')) | (b'[', Some(b']')) => {
                    stack.pop();
                    i += 1;
                }
                _ => return err("expected ',' or a closing bracket", i),
            }
        }
    }
}

/// Checks that `text` is exactly one JSON value (surrounding whitespace
/// allowed).
pub fn validate(text: &str) -> Result<(), String> {
    let b = text.as_bytes();
    let end = ws(b, skip_value(b, 0)?);
    if end != b.len() {
        return err("trailing characters", end);
    }
    Ok(())
}

/// The members of the JSON object `text` as (key, raw value text), in
/// order. `text` must be exactly one object (surrounding whitespace
/// allowed): this validates it too.
pub fn members(text: &str) -> Result<Vec<(String, &str)>, String> {
    let b = text.as_bytes();
    let mut i = ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return err("expected an object", i);
    }
    let mut out = Vec::new();
    i = ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        let end = ws(b, i + 1);
        if end != b.len() {
            return err("trailing characters", end);
        }
        return Ok(out);
    }
    loop {
        let k0 = ws(b, i);
        let k1 = string(b, k0)?;
        let key = unescape(&text[k0..k1]);
        let mut v0 = ws(b, k1);
        if b.get(v0) != Some(&b':') {
            return err("expected ':'", v0);
        }
        v0 = ws(b, v0 + 1);
        let v1 = skip_value(b, v0)?;
        out.push((key, &text[v0..v1]));
        i = ws(b, v1);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => {
                let end = ws(b, i + 1);
                if end != b.len() {
                    return err("trailing characters", end);
                }
                return Ok(out);
            }
            _ => return err("expected ',' or '}'", i),
        }
    }
}

/// The text of a JSON string literal (quotes included in `raw`), escapes
/// resolved; lone surrogates become U+FFFD.
pub fn unescape(raw: &str) -> String {
    let inner = raw
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(raw);
    if !inner.contains('\\') {
        return inner.to_owned();
    }
    let mut out = String::with_capacity(inner.len());
    let mut units: Vec<u16> = Vec::new();
    let mut chars = inner.chars();
    let flush = |units: &mut Vec<u16>, out: &mut String| {
        out.extend(char::decode_utf16(units.drain(..)).map(|r| r.unwrap_or('\u{fffd}')));
    };
    while let Some(c) = chars.next() {
        if c != '\\' {
            flush(&mut units, &mut out);
            out.push(c);
            continue;
        }
        let e = chars.next().unwrap_or('\\');
        if e == 'u' {
            let hex: String = chars.by_ref().take(4).collect();
            units.push(u16::from_str_radix(&hex, 16).unwrap_or(0xfffd));
            continue;
        }
        flush(&mut units, &mut out);
        out.push(match e {
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            other => other,
        });
    }
    flush(&mut units, &mut out);
    out
}

/// A member's raw value as a string (`None` if it is not a string).
pub fn as_str(raw: &str) -> Option<String> {
    raw.starts_with('"').then(|| unescape(raw))
}

/// A member's raw value as an unsigned integer.
pub fn as_u64(raw: &str) -> Option<u64> {
    raw.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        for ok in [
            "{}",
            "[]",
            " {\"a\" : [1, -0.5e+10, true, false, null, \"\\u00e9\\n\"], \"b\":{}} ",
            "1e99999",
            "\"\"",
        ] {
            assert!(validate(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\"}",
            "01",
            "1.",
            "-",
            "\"\u{1}\"",
            "\"\\x\"",
            "{} {}",
            "[1 2]",
            "{\"a\":1,}",
            "tru",
        ] {
            assert!(validate(bad).is_err(), "{bad}");
        }
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert!(validate(&deep).is_ok());
        let m = members("{\"a\":\"x\\\"y\",\"b\":{\"c\":[1]},\"n\":12}").unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(as_str(m[0].1).unwrap(), "x\"y");
        assert_eq!(m[1].1, "{\"c\":[1]}");
        assert_eq!(as_u64(m[2].1), Some(12));
        assert_eq!(unescape("\"\\ud83d\\ude00\""), "\u{1f600}");
        assert!(members("{} x").is_err() && members("{\"a\":1} {}").is_err());
        assert!(members(" {} ").unwrap().is_empty());
    }
}
