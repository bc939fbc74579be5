//! Colour for `qscope print --color`: a small palette of SGR codes, and
//! when to use it.
//!
//! Colour codes only ever wrap text that is already safe for a terminal
//! (wire text through [`super::escape`], or qscope's own words): a style is
//! applied to a finished piece of text and the reset follows it, so no
//! colour code is built from wire bytes and none can be cut in half.

use std::borrow::Cow;

/// What a piece of `print` output is, for its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// No colour (a piece that is coloured only in some cases).
    Plain,
    /// `->`, client to server: green.
    C2s,
    /// `<-`, server to client: cyan.
    S2c,
    /// The protocol column, field names of `-V`, byte ranges, the `#N
    /// request offset ...` line, info notes, the summary line: dim.
    Dim,
    /// A message that reports a failure (name and summary), error notes:
    /// red.
    Error,
    /// The `ERROR` mark: bold red.
    ErrorMark,
    /// Warnings: notes and undecoded ranges of severity warn, gaps:
    /// yellow.
    Warn,
    /// A latency above [`SLOW_US`]: bold yellow.
    Slow,
    /// A session's first line (`# s1 qmp ...`): bold.
    Header,
}

/// Latencies above this (microseconds) are highlighted: 100 ms.
pub const SLOW_US: i64 = 100_000;

impl Style {
    /// The SGR parameters of the style.
    #[must_use]
    pub fn sgr(self) -> &'static str {
        match self {
            Style::Plain => "",
            Style::C2s => "32",
            Style::S2c => "36",
            Style::Dim => "2",
            Style::Error => "31",
            Style::ErrorMark => "1;31",
            Style::Warn => "33",
            Style::Slow => "1;33",
            Style::Header => "1",
        }
    }
}

/// Paints text when colour is on, and passes it through unchanged when it
/// is off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Paint {
    pub on: bool,
}

impl Paint {
    /// `text` (already escaped: no control character) in `style`.
    #[must_use]
    pub fn paint<'a>(&self, style: Style, text: &'a str) -> Cow<'a, str> {
        debug_assert!(
            !text.chars().any(char::is_control),
            "unescaped text to paint: {text:?}"
        );
        if !self.on || text.is_empty() || style == Style::Plain {
            return Cow::Borrowed(text);
        }
        Cow::Owned(format!("\x1b[{}m{text}\x1b[0m", style.sgr()))
    }
}

/// `--color`'s choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum When {
    /// When standard output is a terminal, `NO_COLOR` is unset or empty,
    /// and `TERM` is not `dumb`.
    #[default]
    Auto,
    /// Always, even into a pipe and whatever `NO_COLOR` says (an explicit
    /// choice overrides the environment, as no-color.org asks).
    Always,
    /// Never.
    Never,
}

/// Whether to colour: `tty` is whether the output is a terminal,
/// `no_color` and `term` the values of `NO_COLOR` and `TERM`.
#[must_use]
pub fn use_color(when: When, tty: bool, no_color: Option<&str>, term: Option<&str>) -> bool {
    match when {
        When::Always => true,
        When::Never => false,
        When::Auto => tty && no_color.is_none_or(str::is_empty) && term != Some("dumb"),
    }
}

/// `s` without its SGR sequences (`ESC [ ... m`).
#[must_use]
pub fn strip_sgr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("\x1b[") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        match after.find(|c: char| !(c.is_ascii_digit() || c == ';')) {
            Some(end) if after[end..].starts_with('m') => rest = &after[end + 1..],
            _ => {
                out.push_str("\x1b[");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paint_wraps_and_resets() {
        let on = Paint { on: true };
        assert_eq!(on.paint(Style::Error, "x"), "\x1b[31mx\x1b[0m");
        assert_eq!(on.paint(Style::Error, ""), "");
        assert_eq!(Paint { on: false }.paint(Style::Error, "x"), "x");
        assert_eq!(strip_sgr(&on.paint(Style::Slow, "1.20s")), "1.20s");
        assert_eq!(strip_sgr("a\x1b[1;33mb\x1b[0mc"), "abc");
    }

    #[test]
    fn when_to_colour() {
        assert!(use_color(When::Auto, true, None, Some("xterm")));
        assert!(use_color(When::Auto, true, Some(""), None));
        assert!(!use_color(When::Auto, true, Some("1"), None));
        assert!(!use_color(When::Auto, false, None, None));
        assert!(!use_color(When::Auto, true, None, Some("dumb")));
        assert!(use_color(When::Always, false, Some("1"), Some("dumb")));
        assert!(!use_color(When::Never, true, None, None));
    }
}
