//! QMP (QEMU Machine Protocol) and QGA (QEMU Guest Agent) dissector, with
//! recognition of the human monitor (HMP) on QMP ports, as specified in
//! `docs/qmp.md`.
//!
//! * [`scan`]: the resumable value-boundary scanner (QEMU's lexer and
//!   streamer, error recovery and limits included).
//! * [`json`]: QEMU's JSON grammar for each complete value (extensions,
//!   rejections, id equality, strict re-serialisation).
//! * `probe`: the content probe (sections 7.2, 8).
//! * `state`: the session state ([`Qmp`]: negotiation, OOB, QGA, pretty
//!   mode, HMP, telnet, the pending requests).
//! * `framing`: the scanner's items as the driver's steps.
//! * `resync`: mid-stream resynchronisation.
//! * `request` / `reply`: the client's and the server's messages, with
//!   their expert notes (section 11).
//! * `pairing`: which request a response answers (section 4.3).
//! * `text`: summaries and escaped text.
//! * `swar`: byte searches eight bytes at a time (scanner and parser).
//! * this module: the [`Dissector`] entry points.

mod framing;
pub mod json;
mod pairing;
mod probe;
mod reply;
mod request;
mod resync;
pub mod scan;
pub mod spec;
mod state;
mod swar;
mod text;

pub use probe::probe;
pub use state::Qmp;
use state::{PKind, Pending, Resync, HMP_REASON};
use text::esc;

use crate::{Ctx, Dir, Dissector, Note, Severity, Step};

/// Most "unanswered at close" notes reported one by one.
const MAX_UNANSWERED_NOTES: usize = 20;

impl Dissector for Qmp {
    fn parse(&mut self, dir: Dir, offset: u64, data: &[u8], ctx: &mut Ctx) -> Step {
        if data.is_empty() {
            return Step::NeedMore;
        }
        if self.hmp {
            return Step::skip(data.len(), HMP_REASON, Severity::Info);
        }
        let d = dir.idx();
        if self.dirs[d].discard {
            return self.discard(dir, data, ctx.eos);
        }
        if self.dirs[d].resync.is_some() {
            if let Some(step) = self.resync(dir, data, ctx) {
                return step;
            }
            // A start point at the front: the scanner starts afresh.
            self.dirs[d].scan.reset();
        }
        self.step(dir, offset, data, ctx)
    }

    fn gap(&mut self, dir: Dir, _offset: u64, len: u64, _ctx: &mut Ctx) {
        let st = &mut self.dirs[dir.idx()];
        if len == 0 {
            // The driver dropped an oversized incomplete value: skip its
            // rest, keeping the scanner in step (decision 14).
            if let Some(r) = &mut st.resync {
                *r = Resync::new(r.reason);
            } else if st.scan.in_value() {
                st.discard = true;
                let n = st.scan.scanned();
                st.scan.rebase(n);
            } else {
                st.scan.reset();
            }
            return;
        }
        st.scan.reset();
        st.discard = false;
        st.after_value = false;
        st.malformed_end = None;
        st.resync = Some(Resync::new("partial message (after a gap in the capture)"));
        self.relaxed = true;
        if dir == Dir::C2S {
            self.after_malformed = false;
        }
    }

    fn close(&mut self, ctx: &mut Ctx) {
        let open: Vec<&Pending> = self
            .pending
            .iter()
            .filter(|p| !(p.kind == PKind::NonObject && p.from_malformed))
            .collect();
        for p in open.iter().take(MAX_UNANSWERED_NOTES) {
            ctx.note(Note::info(format!(
                "request '{}' (c2s offset {}) unanswered at close",
                esc(&p.name, 60),
                p.offset
            )));
        }
        if open.len() > MAX_UNANSWERED_NOTES {
            ctx.note(Note::info(format!(
                "{} more requests unanswered at close",
                open.len() - MAX_UNANSWERED_NOTES
            )));
        }
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests;
