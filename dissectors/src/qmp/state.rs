//! The session's state: the dissector ([`Qmp`]), each direction's scanner
//! and resynchronisation, the requests waiting for a reply, negotiation,
//! OOB, QGA, pretty mode, HMP and telnet.

use std::collections::VecDeque;

use super::json::Node;
use super::scan::Scanner;
use crate::{Ctx, Dir, Note, Options, SessionStart};

pub(super) const HMP_REASON: &str = "HMP text (not QMP)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PKind {
    /// An object (command).
    Command,
    /// A top-level array, string, number or keyword.
    NonObject,
}

/// A client item waiting for its reply (section 4.3).
#[derive(Debug, Clone)]
pub(super) struct Pending {
    /// Stream offset of the request message (c2s).
    pub(super) offset: u64,
    pub(super) name: String,
    pub(super) kind: PKind,
    pub(super) id: Option<Node>,
    /// Sent with `exec-oob` (or 2.12's `control.run-oob`).
    pub(super) oob: bool,
    /// A non-object value found in the remains of malformed input.
    pub(super) from_malformed: bool,
    /// `qmp_capabilities` whose `arguments.enable` contains "oob".
    pub(super) caps_oob: bool,
    /// `guest-sync`/`guest-sync-delimited`: the `arguments.id` sent.
    pub(super) sync_id: Option<Node>,
}

/// Looking for a start point (capture started mid-stream, or after a gap).
#[derive(Debug, Clone)]
pub(super) struct Resync {
    pub(super) reason: &'static str,
    /// Position 0 of the buffer may start a message (first captured byte,
    /// after a gap, after skipped bytes that ended at a line or segment).
    pub(super) boundary0: bool,
    /// Next position to examine.
    pub(super) next: usize,
    /// The candidate being checked, at position 0.
    pub(super) cand: Option<Candidate>,
    /// Client: positions where a TCP segment began (data lengths seen at
    /// earlier calls).
    pub(super) segs: Vec<usize>,
    pub(super) last_len: usize,
    /// Server: how far the buffer was searched for an HMP prompt.
    pub(super) hmp_checked: usize,
}

#[derive(Debug, Clone)]
pub(super) struct Candidate {
    /// Where the JSON value starts (after an optional 0xFF or BOM).
    pub(super) value_at: usize,
    pub(super) scan: Scanner,
    /// Length of the scanned value, once complete.
    pub(super) done: Option<usize>,
}

impl Resync {
    pub(super) fn new(reason: &'static str) -> Resync {
        Resync {
            reason,
            boundary0: true,
            next: 0,
            cand: None,
            segs: Vec::new(),
            last_len: 0,
            hmp_checked: 0,
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct DirState {
    pub(super) scan: Scanner,
    pub(super) resync: Option<Resync>,
    /// Skipping the rest of a value the driver gave up on (over its limit).
    pub(super) discard: bool,
    /// Where the last malformed item ended (client), to group runs.
    pub(super) malformed_end: Option<u64>,
    /// A significant byte was seen (not whitespace, not telnet).
    pub(super) started: bool,
    /// The last item was a value (for the server's line-end check).
    pub(super) after_value: bool,
}

impl DirState {
    fn new(client: bool, mid_stream: bool) -> DirState {
        DirState {
            scan: Scanner::verifying(client),
            resync: mid_stream.then(|| Resync::new("partial message (capture started mid-stream)")),
            discard: false,
            malformed_end: None,
            started: false,
            after_value: false,
        }
    }
}

/// What the greeting said.
#[derive(Debug, Clone, Copy)]
pub(super) struct Greeting {
    pub(super) oob: bool,
}

/// The QMP/QGA dissector for one session.
pub struct Qmp {
    pub(super) opts: Options,
    pub(super) mid_stream: bool,
    /// Pairing and negotiation state are uncertain (mid-stream start or a
    /// gap): unmatched replies are info, no ordering/negotiation flags.
    pub(super) relaxed: bool,
    /// The pending list overflowed once (noted).
    pub(super) pending_overflow_noted: bool,
    pub(super) dirs: [DirState; 2],
    pub(super) hmp: bool,
    pub(super) telnet: bool,
    pub(super) greeting: Option<Greeting>,
    pub(super) greetings: u32,
    pub(super) caps_sent: u32,
    pub(super) negotiated: bool,
    pub(super) oob: bool,
    pub(super) qga: bool,
    pub(super) qga_synced: bool,
    pub(super) pretty: bool,
    /// Requests awaiting a reply, oldest first (a deque: beyond
    /// `MAX_PENDING` the oldest goes, once per request).
    pub(super) pending: VecDeque<Pending>,
    /// Start offset of the most recent malformed client item.
    pub(super) last_malformed: Option<u64>,
    /// A malformed item came after the last parsed client object.
    pub(super) after_malformed: bool,
    /// The latest malformed record is just a parser reset byte.
    pub(super) last_malformed_reset: bool,
}

impl Qmp {
    pub fn new(start: SessionStart, opts: Options) -> Qmp {
        Qmp {
            opts,
            mid_stream: start.mid_stream,
            relaxed: start.mid_stream,
            pending_overflow_noted: false,
            dirs: [
                DirState::new(true, start.mid_stream),
                DirState::new(false, start.mid_stream),
            ],
            hmp: false,
            telnet: false,
            greeting: None,
            greetings: 0,
            caps_sent: 0,
            negotiated: false,
            oob: false,
            qga: false,
            qga_synced: false,
            pretty: false,
            pending: VecDeque::new(),
            last_malformed: None,
            after_malformed: false,
            last_malformed_reset: false,
        }
    }

    pub(super) fn set_qga(&mut self, ctx: &mut Ctx) {
        if !self.qga {
            self.qga = true;
            ctx.attr("variant", "qga");
        }
    }

    pub(super) fn enter_hmp(&mut self, ctx: &mut Ctx) {
        if !self.hmp {
            self.hmp = true;
            ctx.note(Note::info(
                "QEMU human monitor (HMP) on a QMP port: connection not decoded as JSON",
            ));
            ctx.attr("variant", "hmp");
        }
    }

    /// Records a malformed client item at `offset` (section 4.3: parse
    /// errors attach to the latest one; contiguous pieces form one record).
    pub(super) fn malformed(&mut self, dir: Dir, offset: u64, len: usize) {
        self.malformed_item(dir, offset, len, false);
    }

    pub(super) fn malformed_item(&mut self, dir: Dir, offset: u64, len: usize, reset: bool) {
        if dir != Dir::C2S {
            return;
        }
        let st = &mut self.dirs[0];
        // A reset byte is an item of its own (the client sends it on
        // purpose, usually in a write of its own).
        if reset || st.malformed_end != Some(offset) || self.last_malformed.is_none() {
            self.last_malformed = Some(offset);
            self.last_malformed_reset = reset;
        } else {
            self.last_malformed_reset &= reset;
        }
        st.malformed_end = Some(offset + len as u64);
        self.after_malformed = true;
    }
}
