//! Content detection (section 9, DECISION 1).
//!
//! With the connection start captured: the server's first byte is the lone
//! 0x06 greeting (or a start-up error text) and the client's first frame is
//! a request whose layout fits exactly (Login or LocalLogin: high
//! confidence). Anything else in the first bytes is not QM, and the answer
//! comes at once. Picked up mid-stream: each direction must chain as frames
//! from some start (three headers, section 2.6); both readings of the sides
//! are tried.

use super::codes::{LOCAL_LOGIN, LOGIN};
use super::frame::{chain, plausible, Chain, Plaus, Side, GREETING};
use super::request::{self, Files};
use crate::toolkit::le_i16;
use crate::{Options, SessionStart, Verdict};

/// Most start positions tried per direction when picked up mid-stream.
const SCAN: usize = 16 << 10;
/// Largest first Login frame: two 32-byte strings with pads.
const MAX_LOGIN: usize = 6 + 2 + 33 + 2 + 33;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Srv {
    Empty,
    /// The lone 0x06, followed by nothing yet or a plausible response.
    Greeting,
    /// `... has not been started` text.
    Startup,
    Undecided,
    No,
}

fn server_start(b: &[u8]) -> Srv {
    match b.first() {
        None => Srv::Empty,
        Some(&GREETING) => match plausible(b.get(1..).unwrap_or(&[]), Side::Resp) {
            Plaus::No => Srv::No,
            _ => Srv::Greeting,
        },
        Some(_) => startup_text(b),
    }
}

/// `ScarletDME has not been started` (or similar) instead of the greeting.
fn startup_text(b: &[u8]) -> Srv {
    let end = b.iter().position(|&c| c == b'\n').unwrap_or(b.len());
    let line = b.get(..end).unwrap_or(b);
    let printable = line
        .iter()
        .all(|&c| (0x20..0x7F).contains(&c) || c == b'\r' || c == b'\t');
    if !printable || !b.first().is_some_and(u8::is_ascii_alphabetic) {
        return Srv::No;
    }
    if line.windows(20).any(|w| w == b"has not been started") {
        Srv::Startup
    } else if end == b.len() && b.len() < 80 {
        Srv::Undecided
    } else {
        Srv::No
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cli {
    Empty,
    /// Login with 1 ≤ N ≤ 32 fitting exactly, or LocalLogin.
    Login,
    /// Another request whose layout fits ("request before login").
    Valid,
    Undecided,
    No,
}

fn client_start(b: &[u8]) -> Cli {
    if b.is_empty() {
        return Cli::Empty;
    }
    let l = match plausible(b, Side::Req) {
        Plaus::No => return Cli::No,
        Plaus::Partial => return Cli::Undecided,
        Plaus::Yes(l) => l,
    };
    let code = i16::from(b.get(4).copied().unwrap_or(0));
    if code == LOCAL_LOGIN {
        return if l == 6 { Cli::Login } else { Cli::No };
    }
    let name_len = || le_i16(b, 6);
    if code == LOGIN {
        if l > MAX_LOGIN {
            return Cli::No;
        }
        if name_len().is_some_and(|n| !(1..=32).contains(&n)) {
            return Cli::No;
        }
    }
    match b.get(..l) {
        None => Cli::Undecided,
        Some(f) => {
            // Only whether it fits its layout counts: no bulk fields.
            let opts = Options {
                lean: true,
                ..Options::default()
            };
            let q = request::decode(code, f, &Files::new(), opts);
            match (q.malformed, code == LOGIN) {
                (true, _) => Cli::No,
                (false, true) => Cli::Login,
                (false, false) => Cli::Valid,
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Reading {
    No,
    Maybe,
    Yes,
}

fn reading(s: Srv, c: Cli) -> Reading {
    match (s, c) {
        (Srv::No, _) | (_, Cli::No) => Reading::No,
        (Srv::Greeting, Cli::Login | Cli::Valid) | (Srv::Startup, _) | (Srv::Empty, Cli::Login) => {
            Reading::Yes
        }
        _ => Reading::Maybe,
    }
}

/// Evidence that a direction picked up mid-stream is a stream of frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    None,
    /// Frames from some start end exactly at the end of the data.
    Weak,
    /// Three headers chain from some start.
    Strong,
}

fn evidence(b: &[u8], side: Side) -> Ev {
    if side == Side::Resp && b.first() == Some(&GREETING) {
        if let Chain::Accept(_) = chain(b.get(1..).unwrap_or(&[]), side, false) {
            return Ev::Strong;
        }
    }
    let mut best = Ev::None;
    for p in 0..b.len().min(SCAN) {
        let rest = b.get(p..).unwrap_or(&[]);
        // Cheap first test: most positions fail on their first header.
        if plausible(rest, side) == Plaus::No {
            continue;
        }
        match chain(rest, side, false) {
            Chain::Accept(_) => return Ev::Strong,
            _ => {
                if best == Ev::None && matches!(chain(rest, side, true), Chain::Accept(_)) {
                    best = Ev::Weak;
                }
            }
        }
    }
    best
}

fn both(s: Ev, c: Ev) -> u8 {
    match (s, c) {
        (Ev::Strong, Ev::Strong) => 3,
        (Ev::Strong, Ev::Weak) | (Ev::Weak, Ev::Strong) => 2,
        _ => 0,
    }
}

/// Decides whether the first bytes of a session are QMClient.
pub fn probe(c2s: &[u8], s2c: &[u8], start: SessionStart) -> Verdict {
    if !start.mid_stream {
        let normal = reading(server_start(s2c), client_start(c2s));
        if normal == Reading::Yes {
            return Verdict::Match { swap: false };
        }
        let swapped = reading(server_start(c2s), client_start(s2c));
        if swapped == Reading::Yes {
            return Verdict::Match { swap: true };
        }
        if normal == Reading::No && swapped == Reading::No {
            return Verdict::NoMatch(None);
        }
        return Verdict::NeedMore;
    }
    // Mid-stream: a frame may be megabytes long, so a window without any
    // frame start proves nothing; only a match is decided here.
    let normal = both(evidence(s2c, Side::Resp), evidence(c2s, Side::Req));
    let swapped = both(evidence(c2s, Side::Resp), evidence(s2c, Side::Req));
    if normal > 0 && normal >= swapped {
        Verdict::Match { swap: false }
    } else if swapped > 0 {
        Verdict::Match { swap: true }
    } else {
        Verdict::NeedMore
    }
}
