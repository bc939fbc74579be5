//! A decoded frame becomes a message: header fields, body, the notes on
//! direction, MIDs and session state, pairing by message type (one handler
//! per answering type: ACK, ERROR, CLNTCAP, QUEUEINFO, MSGFROMQUEUE), the
//! summary, and what later messages will answer.

use std::ops::Range;

use super::body::{self, BodyOut, REDACTED};
use super::common::*;
use super::{
    Auth, MqServer, QueueReq, Sendq, Sent, MAX_NOTES, MAX_OPEN, MAX_SENT, SUMMARY_MAX,
};
use crate::toolkit::clip_chars;
use crate::{Dir, Field, Message, MsgRef, Note, Step, Value};

/// What the handlers of one message share.
struct Building<'a> {
    peer: Dir,
    at: MsgRef,
    t: i64,
    mid: i64,
    design: bool,
    m: &'a mut Message,
    bo: &'a mut BodyOut,
    notes: &'a mut Vec<Note>,
    detail: String,
    data_range: Option<Range<usize>>,
}

impl MqServer {
    /// Builds the message for a frame and updates the session.
    pub(super) fn finish(&mut self, dir: Dir, mut fr: Frame) -> Step {
        let t = fr.msgtype.value;
        let mid = fr.mid.value;
        let name = type_name(t).unwrap_or("?");
        let mut m = Message::new(dir, fr.len, kind(t), name);
        let at = MsgRef {
            dir,
            offset: self.offset,
        };
        let mut notes = std::mem::take(&mut fr.notes);
        let flag_bits = self.header(&mut fr, &mut m, &mut notes);
        let (mut bo, data_range) = self.body(&fr);
        notes.append(&mut bo.notes);
        let design = fr.form.design();
        self.sequence_notes(dir, t, mid, name, design, &mut notes);

        let detail = std::mem::take(&mut bo.detail);
        let mut c = Building {
            peer: dir.flip(),
            at,
            t,
            mid,
            design,
            m: &mut m,
            bo: &mut bo,
            notes: &mut notes,
            detail,
            data_range,
        };
        c.m.reply_to = self.pair(&mut c);
        let detail = std::mem::take(&mut c.detail);
        summarise(&mut m, mid, &detail, &mut bo, notes);
        self.remember(dir, at, mid, t, design, flag_bits, &mut bo);
        Step::Message(m)
    }

    /// The header's fields (MID, type, encoding, version, flags and the
    /// form's own), with AUTH's password fields redacted; the flag bits.
    fn header(&self, fr: &mut Frame, m: &mut Message, notes: &mut Vec<Note>) -> u32 {
        let t = fr.msgtype.value;
        m.fields.push(Field::new(
            "mid",
            Some(fr.mid.range.clone()),
            Value::Int(fr.mid.value),
        ));
        m.fields.push(Field::new(
            "msgtype",
            Some(fr.msgtype.range.clone()),
            Value::Int(t),
        ));
        m.fields.push(Field::new(
            "encoding",
            None,
            Value::Str(fr.form.as_str().to_owned()),
        ));
        if let Some(v) = &fr.version {
            m.fields.push(Field::new(
                "version",
                Some(v.range.clone()),
                Value::Int(v.value),
            ));
            if v.value != 1 && fr.form != Form::Text {
                notes.push(Note::warn(format!(
                    "VERSION {} is not 1 (a final-implementation receiver drops the peer)",
                    v.value
                )));
            }
        }
        let mut flag_bits = 0u32;
        if let Some(f) = &fr.flags {
            flag_bits = f.value as u32;
            m.fields.push(flags_field(flag_bits, f.range.clone()));
            flags_notes(flag_bits, notes);
        }
        for mut f in std::mem::take(&mut fr.extra) {
            if t == AUTH && !self.opts.show_secrets && fr.secret_fields.contains(&&*f.name) {
                let n = match &f.value {
                    Value::Str(s) => s.len(),
                    Value::Bytes(b) => b.len(),
                    _ => 0,
                };
                f.value = Value::Str(format!("{REDACTED} ({n} bytes)"));
            }
            m.fields.push(f);
        }
        flag_bits
    }

    /// The body's fields and facts, and the range of a TEXT/EARLY DATA.
    fn body(&self, fr: &Frame) -> (BodyOut, Option<Range<usize>>) {
        let show_secrets = self.opts.show_secrets;
        let t = fr.msgtype.value;
        match &fr.body {
            Body::Text { bytes, map } => (
                body::split_text(t, bytes, map, show_secrets),
                Some(map.range(0..bytes.len())),
            ),
            Body::Items(items) => (
                body::interpret_items(fr.form, t, items, show_secrets),
                None,
            ),
            Body::None => (BodyOut::default(), None),
        }
    }

    /// Notes on the direction (section 14, D13), the MIDs per sender
    /// (section 9.3) and the session state (section 14).
    fn sequence_notes(
        &mut self,
        dir: Dir,
        t: i64,
        mid: i64,
        name: &str,
        design: bool,
        notes: &mut Vec<Note>,
    ) {
        match (origin(t), dir) {
            (Origin::Server, Dir::C2S) if t == PRESENCE => notes.push(Note::info(
                "PRESENCE from the client (a server-to-client notice, D13)",
            )),
            (Origin::Server, Dir::C2S) => notes.push(Note::warn(format!(
                "{name} from the client (a server message)"
            ))),
            (Origin::Client, Dir::S2C) => notes.push(Note::warn(format!(
                "{name} from the server (a client message)"
            ))),
            _ => {}
        }

        // In TEXT/EARLY an ACK or ERROR carries the peer's MID.
        if !(design && (t == ACK || t == ERROR)) {
            let st = &mut self.dirs[dir.idx()];
            if let Some(last) = st.last_mid {
                if mid <= last {
                    notes.push(Note::info(format!(
                        "MID {mid} {} (previous {last})",
                        if mid == last {
                            "repeated"
                        } else {
                            "goes backwards"
                        }
                    )));
                }
            }
            st.last_mid = Some(mid);
        }

        if !self.relaxed {
            if t == AUTH && self.srvcap.is_none() {
                notes.push(Note::warn("AUTH before SRVCAP"));
            }
            // D14: APPID is fine anywhere after the CLNTCAP acknowledgement.
            let appid_ok = t == APPID && self.clntcap_acked;
            if !matches!(t, ACK | ERROR | SRVCAP | AUTH | CLNTCAP)
                && !appid_ok
                && matches!(self.auth, Auth::None | Auth::Failed)
            {
                notes.push(Note::warn(format!("{name} before a successful AUTH")));
            }
        }
    }

    /// The session state a message changes, and the message it answers.
    fn pair(&mut self, c: &mut Building<'_>) -> Option<MsgRef> {
        match c.t {
            SRVCAP => {
                self.srvcap = Some(c.at);
                None
            }
            AUTH => {
                self.auth = Auth::Pending(c.at);
                c.notes.push(Note::warn(if c.design {
                    "credential on the wire (the design's salted hash cannot be verified)"
                } else {
                    "clear-text password in AUTH"
                }));
                None
            }
            ACK => self.on_ack(c),
            ERROR => self.on_error(c),
            CLNTCAP => self.srvcap.filter(|r| r.dir == c.peer),
            QUEUEINFO => self.on_queueinfo(c),
            MSGFROMQUEUE => {
                self.on_msgfromqueue(c);
                None
            }
            _ => None,
        }
    }

    /// An ACK answers the peer's message with the MID it names (the
    /// design's forms: its own MID; TEXT/EARLY: ACKMID).
    fn on_ack(&mut self, c: &mut Building<'_>) -> Option<MsgRef> {
        let target = if c.design {
            Some(c.mid)
        } else {
            c.bo.facts.acked_mid
        };
        let found = target
            .and_then(|tm| self.find_mid(c.peer, tm))
            .and_then(|i| self.settle(c.peer, i));
        let (r, acked_t) = match (found, target) {
            (Some(f), _) => f,
            (None, Some(tm)) => {
                c.notes
                    .push(Note::info(format!("ACK for unknown MID {tm}")));
                return None;
            }
            (None, None) => return None,
        };
        if acked_t == CLNTCAP {
            self.clntcap_acked = true;
        }
        let acked = type_name(acked_t).unwrap_or("?");
        if c.design {
            if let (Some(am), Some(range)) = (c.bo.facts.ackmess.clone(), c.data_range.clone()) {
                body::ack_meaning(acked_t, &am, c.bo, range);
                if acked_t == AUTH {
                    c.detail = std::mem::take(&mut c.bo.detail);
                    if am == b"1" {
                        self.auth = Auth::Ok;
                    } else {
                        self.auth = Auth::Failed;
                        c.m.is_error = true;
                        c.notes.push(Note::warn(format!(
                            "AUTH failure (ACKMESS '{}')",
                            show(&am, 60)
                        )));
                    }
                }
            }
            if c.detail.is_empty() {
                c.detail = format!("of {acked}");
            } else if acked_t != AUTH {
                c.detail = format!("of {acked}: {}", c.detail);
            }
        } else {
            if acked_t == AUTH {
                self.auth = Auth::Ok;
            }
            c.detail = format!("{} ({acked})", c.detail);
        }
        c.m.fields
            .push(Field::new("acked_type", None, Value::Str(acked.to_owned())));
        Some(r)
    }

    /// An ERROR answers the peer's message with its MID (the design's
    /// forms) or the peer's last answerable message; ENOQUEUE closes the
    /// queue requests it names.
    fn on_error(&mut self, c: &mut Building<'_>) -> Option<MsgRef> {
        c.m.is_error = true;
        let text = match (&c.bo.facts.errid, &c.bo.facts.errmsg) {
            (Some(id), Some(msg)) if !msg.is_empty() => {
                format!("{}: {}", show(id, 40), show(msg, 80))
            }
            (Some(id), _) => show(id, 40),
            (None, Some(msg)) => show(msg, 100),
            (None, None) => String::new(),
        };
        c.notes.push(Note::warn(format!("ERROR {text}")));
        let i = if c.design {
            self.find_mid(c.peer, c.mid)
                .or_else(|| self.last_of(c.peer))
        } else {
            self.last_of(c.peer)
        };
        let mut reply_to = None;
        if let Some((r, cause_t)) = i.and_then(|i| self.settle(c.peer, i)) {
            reply_to = Some(r);
            c.m.fields.push(Field::new(
                "error_of",
                None,
                Value::Str(type_name(cause_t).unwrap_or("?").to_owned()),
            ));
            if cause_t == AUTH {
                self.auth = Auth::Failed;
                c.notes
                    .push(Note::warn("AUTH failure (ERROR after AUTH)"));
            }
        }
        if c.bo.facts.errid.as_deref() == Some(b"ENOQUEUE") {
            let named: Vec<Vec<u8>> = c
                .bo
                .facts
                .errmsg
                .as_deref()
                .unwrap_or(&[])
                .split(|&b| b == b' ')
                .filter(|s| !s.is_empty())
                .map(<[u8]>::to_vec)
                .collect();
            for q in self.queue_reqs.iter_mut() {
                for (n, answered) in q.names.iter_mut() {
                    if named.contains(n) {
                        *answered = true;
                    }
                }
            }
            self.queue_reqs.retain(|q| q.names.iter().any(|(_, a)| !a));
        }
        reply_to
    }

    /// A QUEUEINFO answers the peer's open FINDQUEUE or JOINQUEUE naming
    /// its queue.
    fn on_queueinfo(&mut self, c: &mut Building<'_>) -> Option<MsgRef> {
        let q = c.bo.facts.queue.as_ref()?;
        let peer = c.peer;
        let hit = self
            .queue_reqs
            .iter_mut()
            .find(|r| r.at.dir == peer && r.names.iter().any(|(n, a)| !a && n == q));
        let mut reply_to = None;
        match hit {
            Some(r) => {
                reply_to = Some(r.at);
                for (n, a) in r.names.iter_mut() {
                    if n == q && !*a {
                        *a = true;
                        break;
                    }
                }
            }
            None => c.notes.push(Note::info(
                "QUEUEINFO unsolicited (no open FINDQUEUE or JOINQUEUE for this queue)",
            )),
        }
        self.queue_reqs.retain(|q| q.names.iter().any(|(_, a)| !a));
        reply_to
    }

    /// A MSGFROMQUEUE links to the peer's SENDTOQUEUE of the same queue,
    /// topic and payload (or a payload of zeros of the same length).
    fn on_msgfromqueue(&mut self, c: &mut Building<'_>) {
        let (Some(q), Some(tp), Some(p)) =
            (&c.bo.facts.queue, &c.bo.facts.topic, &c.bo.facts.payload)
        else {
            return;
        };
        let zeroed = !p.is_empty() && p.iter().all(|&b| b == 0);
        let peer = c.peer;
        if let Some(s) = self.sendqs.iter_mut().find(|s| {
            !s.linked
                && s.at.dir == peer
                && &s.queue == q
                && &s.topic == tp
                && (&s.payload == p || (zeroed && s.payload.len() == p.len()))
        }) {
            s.linked = true;
            c.m.links.push(("sendtoqueue", s.at));
        }
        self.sendqs.retain(|s| !s.linked);
    }

    /// Remembers the message for what answers it: every message for ACK
    /// and ERROR, queue requests for QUEUEINFO, SENDTOQUEUE for
    /// MSGFROMQUEUE.
    #[allow(clippy::too_many_arguments)]
    fn remember(
        &mut self,
        dir: Dir,
        at: MsgRef,
        mid: i64,
        t: i64,
        design: bool,
        flag_bits: u32,
        bo: &mut BodyOut,
    ) {
        let expects_ack = design
            && t != ACK
            && t != ERROR
            && (flag_bits & (FLG_REQUIREACK | FLG_REQUIREACKPROCESS) != 0
                || t == AUTH
                || t == NOTIFY);
        let sent = &mut self.dirs[dir.idx()].sent;
        if sent.len() >= MAX_SENT {
            sent.pop_front();
        }
        sent.push_back(Sent {
            at,
            mid,
            t,
            expects_ack,
            settled: false,
        });
        let names: Vec<Vec<u8>> = match t {
            JOINQUEUE => bo.facts.queue.take().into_iter().collect(),
            FINDQUEUE => std::mem::take(&mut bo.facts.queues),
            _ => Vec::new(),
        };
        if !names.is_empty() {
            if self.queue_reqs.len() >= MAX_OPEN {
                self.queue_reqs.pop_front();
            }
            self.queue_reqs.push_back(QueueReq {
                at,
                names: names.into_iter().map(|n| (n, false)).collect(),
            });
        }
        if t == SENDTOQUEUE {
            if let (Some(queue), Some(topic), Some(payload)) = (
                bo.facts.queue.take(),
                bo.facts.topic.take(),
                bo.facts.payload.take(),
            ) {
                if self.sendqs.len() >= MAX_OPEN {
                    self.sendqs.pop_front();
                }
                self.sendqs.push_back(Sendq {
                    at,
                    queue,
                    topic,
                    payload,
                    linked: false,
                });
            }
        }
    }
}

/// The summary (the name is shown beside it everywhere: not repeated),
/// the body's fields and secrets, and the notes, capped.
fn summarise(m: &mut Message, mid: i64, detail: &str, bo: &mut BodyOut, mut notes: Vec<Note>) {
    let detail = detail.trim();
    let summary = if detail.is_empty() {
        format!("mid={mid}")
    } else {
        format!("mid={mid} {detail}")
    };
    m.summary = clip_chars(&summary, SUMMARY_MAX);
    m.fields.append(&mut bo.fields);
    m.secrets.append(&mut bo.secrets);
    if notes.len() > MAX_NOTES {
        let more = notes.len() - MAX_NOTES;
        notes.truncate(MAX_NOTES);
        notes.push(Note::info(format!("{more} more notes not shown")));
    }
    m.notes = notes;
}
