//! Pairing (qmp.md section 4.3): which request a response answers, by id
//! or by order, QGA's guest-sync, and the pending list.

use super::json::{self, Node};
use super::state::{PKind, Pending, Qmp};
use crate::{Ctx, Dir, MsgRef, Note};

/// Most requests kept pending for pairing (see `Qmp::push_pending`).
pub(super) const MAX_PENDING: usize = 1024;

/// The outcome of matching one response.
pub(super) struct Pairing {
    pub(super) reply_to: Option<MsgRef>,
    pub(super) name: Option<String>,
    pub(super) notes: Vec<Note>,
}

impl Qmp {
    /// Adds a request to the pending list, which is bounded: real clients
    /// have a handful in flight (QEMU queues at most 8 with OOB), so beyond
    /// [`MAX_PENDING`] the oldest is forgotten (noted once) rather than
    /// letting a flood of unanswered requests make every reply scan them.
    pub(super) fn push_pending(&mut self, p: Pending, ctx: &mut Ctx) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
            if !self.pending_overflow_noted {
                self.pending_overflow_noted = true;
                ctx.note(Note::warn(format!(
                    "more than {MAX_PENDING} requests pending at once: the oldest are no longer paired \
                     (their replies, if any, show as unmatched)"
                )));
            }
        }
        self.pending.push_back(p);
    }

    fn take(&mut self, i: usize) -> Option<Pending> {
        let p = self.pending.remove(i)?;
        // Older non-object items from malformed input are closed silently
        // ("not answered (version-dependent)").
        let mut k = 0;
        self.pending.retain(|q| {
            let keep = !(k < i && q.kind == PKind::NonObject && q.from_malformed);
            k += 1;
            keep
        });
        Some(p)
    }

    fn unmatched(&self, what: &str) -> Note {
        if self.relaxed {
            Note::info(format!(
                "unmatched response (mid-stream or after a gap): {what}"
            ))
        } else {
            Note::warn(format!("unmatched response: {what}"))
        }
    }

    fn attach_to_malformed(&self, notes: &mut Vec<Note>) {
        match self.last_malformed {
            Some(off) => notes.push(Note::info(format!(
                "answers malformed input at offset {off}"
            ))),
            None => notes.push(Note::info(
                "answers malformed input not seen in the capture",
            )),
        }
    }

    /// Which pending request a response answers (section 4.3), and what
    /// pairing learnt: negotiation done, OOB on, guest-sync answered.
    pub(super) fn pair(
        &mut self,
        id: Option<&Node>,
        is_error: bool,
        parse_error: bool,
        desc: &str,
        ret: Option<&Node>,
    ) -> Pairing {
        let mut out = Pairing {
            reply_to: None,
            name: None,
            notes: Vec::new(),
        };
        let mut uncertain = false;
        let matched = if let Some(id) = id {
            self.pair_by_id(id, &mut out.notes)
        } else if parse_error {
            // Step 3: parse errors belong to malformed input.
            self.attach_to_malformed(&mut out.notes);
            None
        } else if is_error && desc == "QMP input must be a JSON object" {
            match self.pending.iter().position(|p| p.kind == PKind::NonObject) {
                Some(i) => self.take(i),
                None => {
                    self.attach_to_malformed(&mut out.notes);
                    None
                }
            }
        } else {
            self.pair_by_order(is_error, ret, &mut uncertain, &mut out.notes)
        };
        if let Some(p) = matched {
            if uncertain {
                out.notes.push(Note::info(
                    "uncertain match: id-less exec-oob paired by order only",
                ));
            }
            if p.name == "qmp_capabilities" && !p.oob {
                if !is_error {
                    if !self.negotiated {
                        self.negotiated = true;
                        self.oob = p.caps_oob && self.greeting.is_none_or(|g| g.oob);
                    }
                } else if desc.contains("already complete") {
                    out.notes.push(Note::info("second qmp_capabilities"));
                }
            }
            if p.id.is_some() && id.is_some() && p.sync_id.is_some() && !is_error {
                match (&p.sync_id, ret) {
                    (Some(w), Some(r)) if json::json_eq(w, r) => self.qga_synced = true,
                    _ => out.notes.push(Note::info(
                        "stale output: guest-sync returned a different id than sent",
                    )),
                }
            }
            out.reply_to = Some(MsgRef {
                dir: Dir::C2S,
                offset: p.offset,
            });
            out.name = Some(p.name);
        }
        out
    }

    /// Step 2: a response with an id answers the oldest pending command
    /// with an equal id.
    fn pair_by_id(&mut self, id: &Node, notes: &mut Vec<Note>) -> Option<Pending> {
        let found = self.pending.iter().position(|p| {
            p.kind == PKind::Command && p.id.as_ref().is_some_and(|pid| json::json_eq(pid, id))
        });
        match found {
            Some(i) => {
                let inband = self.pending.get(i).is_some_and(|p| !p.oob);
                let older_inband = self.pending.iter().take(i).any(|q| match q.kind {
                    PKind::Command => !q.oob,
                    PKind::NonObject => !q.from_malformed,
                });
                if inband && older_inband && !self.relaxed {
                    notes.push(Note::warn(
                        "response out of order: an older in-band request is still unanswered",
                    ));
                }
                if inband && older_inband && self.relaxed {
                    // In-band replies come in order: after a gap (or a
                    // mid-stream start), older in-band requests still
                    // pending lost their replies in the capture.
                    let before = self.pending.len();
                    let mut k = 0;
                    self.pending.retain(|q| {
                        let lost = k < i && q.kind == PKind::Command && !q.oob;
                        k += 1;
                        !lost
                    });
                    let lost = before - self.pending.len();
                    notes.push(Note::info(format!(
                        "{lost} earlier request(s) got no reply in the capture (lost in a gap)"
                    )));
                    // The matched request is now the first in-band one.
                    let j = self.pending.iter().position(|p| {
                        p.kind == PKind::Command
                            && p.id.as_ref().is_some_and(|pid| json::json_eq(pid, id))
                    });
                    j.and_then(|j| self.take(j))
                } else {
                    self.take(i)
                }
            }
            None => {
                notes.push(self.unmatched("no pending request with this id"));
                None
            }
        }
    }

    /// A response without id answers the oldest pending command without
    /// id (QGA: once the guest-sync is answered); `uncertain` when that is
    /// an exec-oob.
    fn pair_by_order(
        &mut self,
        is_error: bool,
        ret: Option<&Node>,
        uncertain: &mut bool,
        notes: &mut Vec<Note>,
    ) -> Option<Pending> {
        let oldest = self
            .pending
            .iter()
            .position(|p| p.kind == PKind::Command && p.id.is_none());
        let sync_pending = self.pending.iter().any(|p| p.sync_id.is_some());
        match oldest {
            Some(i)
                if self.qga
                    && !self.qga_synced
                    && self.pending.get(i).is_some_and(|p| p.sync_id.is_some()) =>
            {
                // The answer to our sync, or stale output before it.
                let want = self.pending.get(i).and_then(|p| p.sync_id.as_ref());
                let ok =
                    !is_error && matches!((want, ret), (Some(w), Some(r)) if json::json_eq(w, r));
                if ok {
                    self.qga_synced = true;
                    self.take(i)
                } else {
                    notes.push(Note::info(
                        "possibly stale output from an earlier client (does not answer the pending guest-sync)",
                    ));
                    None
                }
            }
            Some(_) if self.qga && !self.qga_synced && sync_pending => {
                notes.push(Note::info(
                    "possibly stale output from an earlier client (arrived before the guest-sync completed)",
                ));
                None
            }
            Some(i) => {
                *uncertain = self.pending.get(i).is_some_and(|p| p.oob);
                let p = self.take(i);
                if let Some(p) = &p {
                    if let (Some(want), false) = (&p.sync_id, is_error) {
                        if ret.is_some_and(|r| json::json_eq(want, r)) {
                            self.qga_synced = true;
                        } else {
                            notes.push(Note::info(
                                "stale output: guest-sync returned a different id than sent",
                            ));
                        }
                    }
                }
                p
            }
            None if self.qga && !self.qga_synced => {
                notes.push(Note::info(
                    "possibly stale output from an earlier client (nothing pending)",
                ));
                None
            }
            None => {
                notes.push(self.unmatched("no pending request without id"));
                None
            }
        }
    }
}
