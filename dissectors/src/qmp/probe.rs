//! The content probe (qmp.md sections 7.2 and 8): is this session QMP,
//! QGA, or the human monitor? Also the byte shapes the rest of the
//! dissector shares with it (telnet, HMP prefixes, the BOM).

use crate::{SessionStart, Verdict};

pub(super) const BOM: &[u8] = b"\xEF\xBB\xBF";
pub(super) const HMP_VERDICT: &str = "QEMU human monitor (HMP), not QMP";

pub(super) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// How many bytes of each direction the probe looks at.
pub(super) const PROBE_WINDOW: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Srv {
    /// Nothing decisive yet.
    Unknown,
    /// `{"QMP"` (compact or pretty).
    Greeting,
    /// A response or event object (or QGA's `FF {"return"`).
    Reply,
    /// The human monitor's banner or prompt.
    Hmp,
    /// Clearly not a QMP server.
    No,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cli {
    Unknown,
    /// An `execute`/`exec-oob` shaped object.
    Command,
    /// QGA shapes: a `guest-*` command, or 0xFF followed by `{`.
    Guest,
    /// Printable text lines (probably HMP).
    Text,
    No,
}

/// Skips whitespace and telnet IAC sequences at the front.
fn skip_iac_ws(mut b: &[u8]) -> &[u8] {
    loop {
        let n = b.iter().take_while(|&&c| is_ws(c)).count();
        b = b.get(n..).unwrap_or(&[]);
        match (b.first(), b.get(1)) {
            (Some(0xFF), Some(0xFB..=0xFE)) if b.len() >= 3 => b = b.get(3..).unwrap_or(&[]),
            (Some(0xFF), Some(0xFA)) => match b.windows(2).position(|w| w == [0xFF, 0xF0]) {
                Some(p) => b = b.get(p + 2..).unwrap_or(&[]),
                None => return &[],
            },
            (Some(0xFF), Some(0xF1..=0xF9)) => b = b.get(2..).unwrap_or(&[]),
            _ => return b,
        }
    }
}

pub(super) enum Prefix {
    Yes,
    Partial,
    No,
}

pub(super) fn prefix_of(data: &[u8], pat: &[u8]) -> Prefix {
    if data.starts_with(pat) {
        Prefix::Yes
    } else if data.len() < pat.len() && pat.starts_with(data) {
        Prefix::Partial
    } else {
        Prefix::No
    }
}

/// HMP banner (`QEMU `) or prompt (`(qemu) `) at the front.
pub(super) fn hmp_prefix(data: &[u8]) -> Prefix {
    match (prefix_of(data, b"QEMU "), prefix_of(data, b"(qemu) ")) {
        (Prefix::Yes, _) | (_, Prefix::Yes) => Prefix::Yes,
        (Prefix::Partial, _) | (_, Prefix::Partial) => Prefix::Partial,
        _ => Prefix::No,
    }
}

/// The first object key at `b` (which starts just after `{`).
fn first_key(b: &[u8], single_quotes: bool) -> Result<&[u8], bool> {
    let n = b.iter().take_while(|&&c| is_ws(c)).count();
    let b = b.get(n..).unwrap_or(&[]);
    let Some(&q) = b.first() else {
        return Err(true);
    };
    if q != b'"' && !(single_quotes && q == b'\'') {
        return Err(false);
    }
    let body = b.get(1..).unwrap_or(&[]);
    match body.iter().take(40).position(|&c| c == q) {
        Some(p) => Ok(body.get(..p).unwrap_or(&[])),
        None => Err(body.len() < 40),
    }
}

fn server_shape(s: &[u8]) -> Srv {
    let (s, ff) = match s.first() {
        Some(0xFF) => (s.get(1..).unwrap_or(&[]), true),
        _ => (s, false),
    };
    match s.first() {
        None => Srv::Unknown,
        Some(b'{') => match first_key(s.get(1..).unwrap_or(&[]), false) {
            Ok(b"QMP") if !ff => Srv::Greeting,
            Ok(b"return" | b"error" | b"id" | b"event" | b"timestamp") => Srv::Reply,
            Ok(_) => Srv::No,
            Err(true) => Srv::Unknown,
            Err(false) => Srv::No,
        },
        Some(_) => Srv::No,
    }
}

fn classify_server(b: &[u8], mid: bool) -> Srv {
    let win = b.get(..b.len().min(PROBE_WINDOW)).unwrap_or(b);
    let s = skip_iac_ws(win);
    if s.is_empty() {
        return Srv::Unknown;
    }
    match hmp_prefix(s) {
        Prefix::Yes => return Srv::Hmp,
        Prefix::Partial => return Srv::Unknown,
        Prefix::No => {}
    }
    let first = server_shape(s);
    if !mid || matches!(first, Srv::Greeting | Srv::Reply) {
        return first;
    }
    // Mid-stream: the first bytes are usually inside a message. Look at
    // the lines that follow.
    if win.windows(7).any(|w| w == b"(qemu) ") {
        return Srv::Hmp;
    }
    for (i, _) in win.iter().enumerate().filter(|(_, &c)| c == b'\n') {
        let line = win.get(i + 1..).unwrap_or(&[]);
        if let Srv::Greeting | Srv::Reply = server_shape(line) {
            return Srv::Reply;
        }
    }
    // Possibly inside one long reply: undecided.
    Srv::Unknown
}

fn command_shape(s: &[u8]) -> Cli {
    match first_key(s.get(1..).unwrap_or(&[]), true) {
        Ok(b"execute" | b"exec-oob" | b"arguments" | b"id" | b"control") => {
            let head = s.get(..s.len().min(512)).unwrap_or(s);
            if head.windows(7).any(|w| w == b"\"guest-" || w == b"'guest-") {
                Cli::Guest
            } else {
                Cli::Command
            }
        }
        Ok(_) => Cli::No,
        Err(true) => Cli::Unknown,
        Err(false) => Cli::No,
    }
}

fn classify_client(b: &[u8], mid: bool) -> Cli {
    let win = b.get(..b.len().min(PROBE_WINDOW)).unwrap_or(b);
    let mut s = skip_iac_ws(win);
    let mut reset = false;
    while let Some(0xFF) = s.first() {
        reset = true;
        s = skip_iac_ws(s.get(1..).unwrap_or(&[]));
    }
    if s.starts_with(BOM) {
        s = skip_iac_ws(s.get(3..).unwrap_or(&[]));
    }
    let Some(&first) = s.first() else {
        return Cli::Unknown;
    };
    if first == b'{' {
        return match command_shape(s) {
            Cli::Command | Cli::Unknown if reset => Cli::Guest,
            other => other,
        };
    }
    if mid {
        // Find a command that starts later (after the end of a partial one).
        for (i, _) in win.iter().enumerate().filter(|(_, &c)| c == b'{') {
            let prev = i.checked_sub(1).and_then(|p| win.get(p)).copied();
            if matches!(prev, Some(b'}' | b'\n' | b'\r' | b' ' | 0xFF)) {
                let c = command_shape(win.get(i..).unwrap_or(&[]));
                if matches!(c, Cli::Command | Cli::Guest) {
                    return c;
                }
            }
        }
        return if win.len() >= PROBE_WINDOW {
            Cli::No
        } else {
            Cli::Unknown
        };
    }
    if first.is_ascii_alphabetic() && !reset {
        return Cli::Text;
    }
    if first == 0xEF && s.len() < 3 && BOM.starts_with(s) {
        return Cli::Unknown;
    }
    Cli::No
}

/// Decides whether the first bytes of a session are QMP or QGA (qmp.md 7.2
/// and 8). Looks at most at the first `PROBE_WINDOW` bytes of each side.
pub fn probe(c2s: &[u8], s2c: &[u8], start: SessionStart) -> Verdict {
    let mid = start.mid_stream;
    let sv = classify_server(s2c, mid);
    let cv = classify_client(c2s, mid);
    // The same questions with the sides swapped.
    let sw_s = classify_server(c2s, mid);
    let sw_c = classify_client(s2c, mid);
    if sv == Srv::Hmp || (sw_s == Srv::Hmp && sv == Srv::Unknown) {
        return Verdict::NoMatch(Some(HMP_VERDICT));
    }
    if sv == Srv::Greeting {
        return Verdict::Match { swap: false };
    }
    if sw_s == Srv::Greeting {
        return Verdict::Match { swap: true };
    }
    if sv == Srv::Reply && cv != Cli::No && cv != Cli::Text {
        return Verdict::Match { swap: false };
    }
    if sw_s == Srv::Reply && sw_c != Cli::No && sw_c != Cli::Text {
        return Verdict::Match { swap: true };
    }
    if cv == Cli::Guest && sv != Srv::No {
        return Verdict::Match { swap: false };
    }
    if sw_c == Cli::Guest && sw_s != Srv::No {
        return Verdict::Match { swap: true };
    }
    if mid && cv == Cli::Command && sv != Srv::No {
        return Verdict::Match { swap: false };
    }
    if mid && sw_c == Cli::Command && sw_s != Srv::No {
        return Verdict::Match { swap: true };
    }
    let window = |b: &'_ [u8]| b.len().min(PROBE_WINDOW);
    let server_spoke = !skip_iac_ws(s2c.get(..window(s2c)).unwrap_or(&[])).is_empty();
    let client_spoke = !skip_iac_ws(c2s.get(..window(c2s)).unwrap_or(&[])).is_empty();
    if !mid {
        // Only with the connection start captured: the first server bytes
        // must be '{', 0xFF, whitespace or telnet.
        if sv == Srv::No && sw_s != Srv::Greeting {
            return Verdict::NoMatch(None);
        }
        if cv == Cli::No && !server_spoke {
            return Verdict::NoMatch(None);
        }
        if cv == Cli::Text && server_spoke && sv != Srv::Unknown {
            return Verdict::NoMatch(None);
        }
    } else {
        // Mid-stream, the first kilobytes may all be inside one long reply:
        // give up only when both sides showed nothing QMP-like.
        let full = |b: &[u8]| b.len() >= PROBE_WINDOW;
        let s_none = full(s2c) || sv == Srv::No;
        let c_none = full(c2s) || cv == Cli::No;
        if s_none && c_none && (full(s2c) || full(c2s) || (server_spoke && client_spoke)) {
            return Verdict::NoMatch(None);
        }
    }
    Verdict::NeedMore
}
