//! Resynchronisation (qmp.md section 2.9): finding where a message starts
//! when the capture began mid-stream or after a gap.

use super::json::{self, Mat, J};
use super::probe::{hmp_prefix, prefix_of, Prefix, BOM};
use super::reply::SERVER_KEYS;
use super::scan::{Scan, Scanner};
use super::state::{Candidate, Qmp, Resync, HMP_REASON};
use crate::{Ctx, Dir, Severity, Step};

impl Qmp {
    /// Looks for a start point. `None`: found at position 0, decode
    /// normally from there.
    pub(super) fn resync(&mut self, dir: Dir, data: &[u8], ctx: &mut Ctx) -> Option<Step> {
        let client = dir == Dir::C2S;
        let eos = ctx.eos;
        let mut hmp = false;
        let step = {
            let r = self.dirs[dir.idx()].resync.as_mut()?;
            if data.len() > r.last_len {
                if r.last_len > 0 {
                    r.segs.push(r.last_len);
                }
                r.last_len = data.len();
            }
            if !client {
                let from = r.hmp_checked.saturating_sub(6);
                let upto = data.len().min(1 << 16);
                if upto > from {
                    hmp = data
                        .get(from..upto)
                        .is_some_and(|w| w.windows(7).any(|w| w == b"(qemu) "))
                        || matches!(hmp_prefix(data), Prefix::Yes) && r.boundary0;
                    r.hmp_checked = upto;
                }
            }
            if hmp {
                None
            } else {
                Some(resync_step(r, client, data, eos))
            }
        };
        if hmp {
            self.enter_hmp(ctx);
            return Some(Step::skip(data.len(), HMP_REASON, Severity::Info));
        }
        match step {
            Some(Some(step)) => Some(step),
            Some(None) | None => {
                self.dirs[dir.idx()].resync = None;
                None
            }
        }
    }
}

/// Whether position `p` may start a message while resynchronising.
fn is_boundary(r: &Resync, client: bool, data: &[u8], p: usize) -> bool {
    if p == 0 {
        return r.boundary0;
    }
    let prev = data.get(p - 1).copied().unwrap_or(0);
    prev == b'\n' || (client && (prev == b'}' || r.segs.binary_search(&p).is_ok()))
}

enum CandStart {
    No,
    NeedMore,
    Yes(usize),
}

/// A candidate start at `p`: `{`, optionally after 0xFF (or, client side,
/// a BOM). Returns where the value starts.
fn cand_start(client: bool, data: &[u8], p: usize, eos: bool) -> CandStart {
    let rest = data.get(p..).unwrap_or(&[]);
    let skip = match rest.first() {
        Some(0xFF) => 1,
        Some(0xEF) if client => match prefix_of(rest, BOM) {
            Prefix::Yes => 3,
            Prefix::Partial if !eos => return CandStart::NeedMore,
            _ => return CandStart::No,
        },
        _ => 0,
    };
    match rest.get(skip) {
        Some(b'{') => CandStart::Yes(p + skip),
        None if skip > 0 && !eos => CandStart::NeedMore,
        _ => CandStart::No,
    }
}

/// One resynchronisation step: `Some(step)` to answer, `None` when a start
/// point was confirmed at position 0.
fn resync_step(r: &mut Resync, client: bool, data: &[u8], eos: bool) -> Option<Step> {
    let reason = r.reason;
    loop {
        if r.cand.is_none() {
            let mut found = None;
            let mut p = r.next;
            while p < data.len() {
                if is_boundary(r, client, data, p) {
                    match cand_start(client, data, p, eos) {
                        CandStart::Yes(v) => {
                            found = Some((p, v));
                            break;
                        }
                        CandStart::NeedMore => {
                            r.next = p;
                            return Some(Step::NeedMore);
                        }
                        CandStart::No => {}
                    }
                }
                p += 1;
            }
            match found {
                None => {
                    // Nothing here can start a message: report it all. The
                    // next bytes begin a new segment (client) or, after a
                    // line end, a new line (server).
                    r.boundary0 = client || data.last() == Some(&b'\n');
                    r.next = 0;
                    r.segs.clear();
                    r.last_len = 0;
                    return Some(Step::skip(data.len(), reason, Severity::Info));
                }
                Some((p, _)) if p > 0 => {
                    r.boundary0 = true;
                    r.next = 0;
                    r.segs.retain(|&s| s > p);
                    for s in r.segs.iter_mut() {
                        *s -= p;
                    }
                    r.last_len = r.last_len.saturating_sub(p);
                    return Some(Step::skip(p, reason, Severity::Info));
                }
                Some((_, v)) => {
                    r.cand = Some(Candidate {
                        value_at: v,
                        scan: Scanner::new(client),
                        done: None,
                    });
                }
            }
        }
        let Some(c) = r.cand.as_mut() else {
            continue;
        };
        let v = c.value_at;
        let body = data.get(v..).unwrap_or(&[]);
        if c.done.is_none() {
            match c.scan.next(body, eos) {
                Scan::NeedMore if !eos => return Some(Step::NeedMore),
                Scan::Value { len, .. } => c.done = Some(len),
                _ => {}
            }
        }
        let ok = match c.done {
            None => false,
            Some(len) => {
                let end = v + len;
                let line_end = match (data.get(end), data.get(end + 1)) {
                    (Some(b'\n'), _) | (Some(b'\r'), Some(b'\n')) => Some(true),
                    (None, _) | (Some(b'\r'), None) if !eos => None,
                    (None, _) => Some(true),
                    _ => Some(false),
                };
                match line_end {
                    None if !client => return Some(Step::NeedMore),
                    Some(false) if !client => false,
                    _ => data.get(v..end).is_some_and(|t| start_shape_ok(client, t)),
                }
            }
        };
        r.cand = None;
        if ok {
            return None;
        }
        r.next = 1;
    }
}

/// The value at a candidate start has the shape that confirms it: a
/// command (client) or a greeting, response or event (server).
fn start_shape_ok(client: bool, text: &[u8]) -> bool {
    let mat = if client {
        Mat::All
    } else {
        Mat::Top(SERVER_KEYS)
    };
    let Ok(p) = json::parse(text, mat) else {
        return false;
    };
    let J::Obj(ms) = &p.root.v else {
        return false;
    };
    let has = |k: &str| ms.iter().any(|m| m.key == k);
    if client {
        return has("execute") || has("exec-oob");
    }
    let only = |allowed: &[&str]| ms.iter().all(|m| allowed.contains(&m.key.as_str()));
    (has("QMP") && ms.len() == 1)
        || ((has("return") != has("error")) && only(&["return", "error", "id"]))
        || (has("event") && only(&["event", "timestamp", "data"]))
}
