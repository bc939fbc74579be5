//! A tiny terminal: plays escape sequences (cursor moves, SGR) and
//! records each printed character with its attributes, to check what a
//! terminal would show (reverse, bold, underline) and that no colour is
//! set.

use std::collections::HashMap;

/// The attributes of a cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attrs {
    pub bold: bool,
    pub underline: bool,
    pub reverse: bool,
}

/// What the escape sequences painted.
#[derive(Debug, Default)]
pub struct Screen {
    /// (x, y) from 0 → the character and its attributes.
    pub cells: HashMap<(u16, u16), (char, Attrs)>,
    /// SGR parameters that set a colour (30-37, 38, 40-47, 48, 90-97,
    /// 100-107).
    pub colours: usize,
}

impl Screen {
    /// The text of line `y` from column 0, with the attributes.
    pub fn line(&self, y: u16) -> Vec<(char, Attrs)> {
        let mut out = Vec::new();
        let mut x = 0;
        while let Some(c) = self.cells.get(&(x, y)) {
            out.push(*c);
            x += 1;
        }
        out
    }
}

fn sgr(params: &str, a: &mut Attrs, colours: &mut usize) {
    let ps: Vec<u32> = params.split(';').map(|p| p.parse().unwrap_or(0)).collect();
    let mut i = 0;
    while i < ps.len() {
        match ps[i] {
            0 => *a = Attrs::default(),
            1 => a.bold = true,
            22 => a.bold = false,
            4 => a.underline = true,
            24 => a.underline = false,
            7 => a.reverse = true,
            27 => a.reverse = false,
            38 | 48 => {
                *colours += 1;
                // 38;5;N or 38;2;R;G;B
                i += if ps.get(i + 1) == Some(&5) { 2 } else { 4 };
            }
            30..=37 | 40..=47 | 90..=97 | 100..=107 => *colours += 1,
            _ => {}
        }
        i += 1;
    }
}

/// Plays `bytes` (UTF-8 text and escape sequences; a newline goes to the
/// start of the next line).
pub fn play(bytes: &[u8]) -> Screen {
    let text = String::from_utf8_lossy(bytes);
    let mut s = Screen::default();
    let mut a = Attrs::default();
    let (mut x, mut y) = (0u16, 0u16);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' if chars.peek() == Some(&'[') => {
                chars.next();
                let mut params = String::new();
                let mut end = '\0';
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() || d == '@' || d == '~' {
                        end = d;
                        break;
                    }
                    params.push(d);
                }
                match end {
                    'm' => sgr(&params, &mut a, &mut s.colours),
                    'H' => {
                        let mut it = params.split(';').map(|p| p.parse::<u16>().unwrap_or(1));
                        y = it.next().unwrap_or(1).saturating_sub(1);
                        x = it.next().unwrap_or(1).saturating_sub(1);
                    }
                    _ => {}
                }
            }
            '\x1b' => {
                chars.next();
            }
            '\n' => {
                y += 1;
                x = 0;
            }
            '\r' => x = 0,
            c if c.is_control() => {}
            c => {
                s.cells.insert((x, y), (c, a));
                x += 1;
            }
        }
    }
    s
}
