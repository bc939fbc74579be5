//! Session state as packets pass (session id, sequence numbers) and
//! pairing by sequence number (qps.md section 5).

use super::codes::*;
use super::types::*;
use super::wire::{f_bytes, f_uint};
use super::{request, response};
use crate::toolkit::Cursor;
use crate::{Ctx, Dir, Kind, Message, MsgRef, Note};

impl State {
    pub(super) fn check_seq(&mut self, seq: u16, o: &mut Out) {
        match self.last_seq {
            None if !self.mid && !self.seq_started && seq != 1 => o.notes.push(Note::info(
                format!("first sequence number is {seq} (expected 1)"),
            )),
            Some(last) if seq == last => o
                .notes
                .push(Note::info(format!("repeated sequence number {seq}"))),
            Some(last) => {
                let next = last.wrapping_add(1);
                // D6: after 0xFFFF, 0x0000 or 0x0001.
                if seq != next && !(last == 0xFFFF && seq == 1) {
                    o.notes.push(Note::info(format!(
                        "sequence number {seq} out of order (expected {next})"
                    )));
                }
            }
            None => {}
        }
        self.last_seq = Some(seq);
        self.seq_started = true;
    }

    fn check_session(&mut self, h: &ReqHdr, o: &mut Out) {
        let sid = h.session;
        if h.code == SIGNON {
            if sid != 0 {
                o.notes.push(Note::warn(format!(
                    "Signon with Session ID 0x{sid:04x} (expected 0)"
                )));
            }
            return;
        }
        match self.session {
            // D5: the header carries the low 16 bits.
            Some(s) if u32::from(sid) != s & 0xFFFF => o.notes.push(Note::warn(format!(
                "Session ID 0x{sid:04x} differs from the session id 0x{s:04x} assigned at Signon"
            ))),
            Some(_) => {}
            None if sid == 0 => {}
            // Signon not captured: adopt the client's session id.
            None if self.mid || self.c2s_lost => self.session = Some(u32::from(sid)),
            None => o.notes.push(Note::warn(format!(
                "Session ID 0x{sid:04x} before a successful Signon"
            ))),
        }
    }

    pub(super) fn request(
        &mut self,
        h: &ReqHdr,
        msg: &[u8],
        offset: u64,
        ctx: &mut Ctx,
    ) -> Message {
        let mut o = Out {
            fields: vec![
                f_uint("session_id", 0..2, h.session),
                f_uint("code", 2..4, h.code),
                f_uint("version", 4..8, h.version),
                f_uint("seq", 8..10, h.seq),
                f_uint("subdata_len", 10..14, h.sub_len),
                f_uint("packet_len", 14..18, h.pkt_len),
            ],
            ..Out::default()
        };
        self.check_seq(h.seq, &mut o);
        self.check_session(h, &mut o);
        if self.closed {
            o.notes.push(Note::warn("traffic after Close"));
        }
        let data_end = HDR + h.pkt_len.saturating_sub(h.sub_len) as usize;
        let rctx = request::decode(self, h, msg, data_end, offset, &mut o, ctx);
        let pending = Pending {
            offset,
            code: h.code,
            ctx: rctx,
        };
        let (replaced, forgot) = self.pending.insert(h.seq, pending);
        if let Some(old) = replaced {
            o.notes.push(Note::info(format!(
                "duplicate sequence number {}: replaces the unanswered {} at c2s offset {}",
                h.seq,
                request_name(old.code),
                old.offset
            )));
        }
        if forgot && !self.pending_overflow_noted {
            self.pending_overflow_noted = true;
            o.notes.push(Note::warn(format!(
                "more than {MAX_TABLE} requests pending at once: the oldest are no longer paired \
                 (their responses, if any, show as unsolicited)"
            )));
        }
        if h.code == CLOSE {
            self.closed = true;
        }
        let mut m = Message::new(Dir::C2S, msg.len(), Kind::Request, request_name(h.code));
        m.summary = summary(h.seq, &o.summary);
        m.fields = o.fields;
        m.notes = o.notes;
        m.links = o.links;
        m.is_error = o.is_error;
        m.secrets = o.secrets;
        m
    }

    pub(super) fn response(
        &mut self,
        h: &RespHdr,
        msg: &[u8],
        data_end: usize,
        ctx: &mut Ctx,
    ) -> Message {
        let mut o = Out {
            fields: vec![
                f_uint("version", 0..4, h.version),
                f_uint("code", 4..6, h.code),
                f_uint("status", 6..8, h.status),
                f_uint("seq", 8..10, h.seq),
            ],
            ..Out::default()
        };
        let flags_bytes = msg.get(10..14).unwrap_or(&[]);
        let data = msg.get(HDR..data_end).unwrap_or(&[]);
        let (kind, name, reply_to) = if h.status == 5 && response::is_search_update(data) {
            o.fields.push(f_uint("flags", 10..14, h.flags));
            o.fields.push(f_uint("length", 14..18, h.length));
            response::search_update(self, h, msg, data_end, &mut o);
            (Kind::Push, "SearchUpdate".to_owned(), None)
        } else {
            // D20: Flags of normal responses are undocumented: raw.
            o.fields.push(f_bytes("flags", 10..14, flags_bytes));
            o.fields.push(f_uint("length", 14..18, h.length));
            match self.pending.remove(h.seq) {
                Some(p) => {
                    response::decode(self, &p, h, msg, data_end, &mut o, ctx);
                    let reply = MsgRef {
                        dir: Dir::C2S,
                        offset: p.offset,
                    };
                    (Kind::Response, request_name(p.code), Some(reply))
                }
                None => {
                    if h.status == 5 {
                        o.notes.push(Note::warn(
                            "Status 5 (SearchUpdate) but the Data is not a SearchUpdate",
                        ));
                    }
                    if self.mid || self.c2s_lost {
                        o.notes.push(Note::info(format!(
                            "no pending request with sequence number {} (its request was not captured)",
                            h.seq
                        )));
                    } else {
                        o.notes.push(Note::warn(format!(
                            "unsolicited server message: no pending request with sequence number {}",
                            h.seq
                        )));
                    }
                    let mut c = Cursor::new(msg, HDR, data_end);
                    response::header_only(&mut c, &mut o, false);
                    o.summary = format!("code {}, status {}", h.code, h.status);
                    (Kind::Other, "Response".to_owned(), None)
                }
            }
        };
        let mut m = Message::new(Dir::S2C, msg.len(), kind, name);
        m.summary = summary(h.seq, &o.summary);
        m.fields = o.fields;
        m.notes = o.notes;
        m.links = o.links;
        m.is_error = o.is_error;
        m.reply_to = reply_to;
        m
    }
}

fn summary(seq: u16, body: &str) -> String {
    if body.is_empty() {
        format!("[seq {seq}]")
    } else {
        format!("[seq {seq}] {body}")
    }
}
