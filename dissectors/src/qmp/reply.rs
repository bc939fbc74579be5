//! The reply side (qmp.md section 3): the greeting, responses (with the
//! notes their errors deserve) and events; other server values.

use super::json::{self, Mat, Node, Parsed, J};
use super::state::{Greeting, Qmp};
use super::text::{esc, one_line, push_id, PREVIEW, QEMU_ONLY, SUMMARY_MAX};
use crate::{Ctx, Dir, Field, Kind, Message, Note, Step, Value};

/// Top-level members of server objects that are decoded completely; the
/// others (`return`, `data`) are validated and kept as text.
pub(super) const SERVER_KEYS: &[&str] = &["QMP", "error", "id", "event", "timestamp"];

impl Qmp {
    pub(super) fn server_value(&mut self, text: &[u8], p: Parsed, ctx: &mut Ctx) -> Step {
        let len = text.len();
        let mut notes = Vec::new();
        // Server output is strict JSON; anything else is re-serialised from
        // a complete tree.
        let p = if p.strict {
            p
        } else {
            notes.push(Note::info(QEMU_ONLY));
            match json::parse(text, Mat::All) {
                Ok(full) => full,
                Err(_) => p,
            }
        };
        let root = &p.root;
        let mut m = Message::new(Dir::S2C, len, Kind::Other, "unknown");
        if !self.opts.lean {
            m.fields.push(Field::new(
                "value",
                Some(0..len),
                Value::Json(json::node_text(root, text, p.strict)),
            ));
        }
        if !matches!(root.v, J::Obj(_)) {
            m.name = "non-object".into();
            if !self.opts.lean {
                m.summary = one_line(&json::preview(root, text, p.strict, PREVIEW), SUMMARY_MAX);
            }
            notes.push(Note::warn("server sent a value that is not a JSON object"));
            m.notes = notes;
            return Step::Message(m);
        }
        let has = |k: &str| root.get(k).is_some();
        let only_qmp = has("QMP") && root.members().len() == 1;
        if only_qmp {
            self.greeting_msg(&mut m, root, text, &mut notes, ctx);
        } else if has("event") && !has("return") && !has("error") {
            m.kind = Kind::Event;
            let ev = root.get("event");
            m.name = ev
                .and_then(Node::as_str)
                .map_or_else(|| "(invalid event)".to_owned(), str::to_owned);
            if let Some(ev) = ev.filter(|e| e.as_str().is_some()) {
                m.fields.push(Field::new(
                    "event",
                    Some(ev.span.clone()),
                    Value::Str(m.name.clone()),
                ));
            }
            m.summary = match root.get("data").filter(|_| !self.opts.lean) {
                Some(d) => one_line(&json::preview(d, text, p.strict, PREVIEW), SUMMARY_MAX),
                None => String::new(),
            };
        } else if has("return") != has("error") {
            let negotiating = !self.negotiated;
            self.response_msg(&mut m, root, text, p.strict, &mut notes);
            if negotiating && self.negotiated {
                // Capabilities negotiation is over: commands are accepted.
                ctx.attr("state", "");
            }
        } else {
            notes.push(Note::warn(
                "unknown server message (none of greeting, return, error, event)",
            ));
            if !self.opts.lean {
                m.summary = one_line(&json::preview(root, text, p.strict, PREVIEW), SUMMARY_MAX);
            }
        }
        m.notes.extend(notes);
        Step::Message(m)
    }

    fn greeting_msg(
        &mut self,
        m: &mut Message,
        root: &Node,
        text: &[u8],
        notes: &mut Vec<Note>,
        ctx: &mut Ctx,
    ) {
        m.kind = Kind::Greeting;
        m.name = "greeting".into();
        let q = root.get("QMP");
        let ver = q.and_then(|q| q.get("version"));
        let qemu = ver.and_then(|v| v.get("qemu"));
        let version = match qemu.map(|n| &n.v) {
            Some(J::Obj(_)) => {
                let part = |k: &str| match qemu.and_then(|n| n.get(k)).map(|n| &n.v) {
                    Some(J::Num(t)) => t.to_string(),
                    _ => "?".to_owned(),
                };
                Some(format!(
                    "{}.{}.{}",
                    part("major"),
                    part("minor"),
                    part("micro")
                ))
            }
            Some(J::Str(s)) => {
                notes.push(Note::info(
                    "old-version greeting (version.qemu is a string: QEMU 0.12)",
                ));
                Some(s.clone())
            }
            _ => None,
        };
        if let (Some(v), Some(qn)) = (&version, qemu) {
            m.fields.push(Field::new(
                "version",
                Some(qn.span.clone()),
                Value::Str(v.clone()),
            ));
        }
        let package = ver
            .and_then(|v| v.get("package"))
            .and_then(|p| p.as_str().map(|s| (s.to_owned(), p.span.clone())));
        if let Some((pkg, span)) = &package {
            m.fields.push(Field::new(
                "package",
                Some(span.clone()),
                Value::Str(pkg.clone()),
            ));
        }
        let caps_node = q.and_then(|q| q.get("capabilities"));
        let caps: Vec<String> = match caps_node.map(|n| &n.v) {
            Some(J::Arr(items)) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        if let Some(cn) = caps_node {
            m.fields.push(Field::new(
                "capabilities",
                Some(cn.span.clone()),
                Value::List(
                    caps.iter()
                        .map(|c| Field::new("capability", None, Value::Str(c.clone())))
                        .collect(),
                ),
            ));
        }
        let oob = caps.iter().any(|c| c == "oob");
        if !oob {
            notes.push(Note::info(
                "greeting without the oob capability (QEMU before 3.0, or no monitor I/O thread)",
            ));
        }
        if self.greetings > 0 {
            notes.push(Note::warn("second greeting on the connection"));
        } else {
            self.greeting = Some(Greeting { oob });
            if !self.negotiated {
                // Capabilities negotiation mode: only qmp_capabilities.
                ctx.attr("state", "negotiating");
            }
            ctx.note(Note::info(
                "QMP on plain TCP: no TLS, and QMP has no authentication (whoever connects controls the VM)",
            ));
        }
        self.greetings += 1;
        let caps_text = caps_node
            .map(|c| json::node_text(c, text, true))
            .unwrap_or_default();
        let mut s = format!("QEMU {}", version.as_deref().unwrap_or("?"));
        if let Some((pkg, _)) = package.filter(|(p, _)| !p.is_empty()) {
            s.push_str(&format!(" ({})", esc(&pkg, 50)));
        }
        s.push_str(&format!(" capabilities: {caps_text}"));
        if !self.opts.lean {
            m.summary = one_line(&s, SUMMARY_MAX);
        }
    }

    fn response_msg(
        &mut self,
        m: &mut Message,
        root: &Node,
        text: &[u8],
        strict: bool,
        notes: &mut Vec<Note>,
    ) {
        m.kind = Kind::Response;
        let id = root.get("id");
        let err = root.get("error");
        let ret = root.get("return");
        let class = err.and_then(|e| e.get("class"));
        let desc = err.and_then(|e| e.get("desc"));
        let class_s = class.and_then(Node::as_str);
        let desc_s = desc.and_then(Node::as_str);
        m.is_error = err.is_some();
        let lean = self.opts.lean;
        let mut summary = String::new();
        if let Some(idn) = id {
            summary.push_str(&push_id(m, idn, text, strict, lean));
            summary.push(' ');
        }
        if let (Some(c), Some(s)) = (class, class_s) {
            m.fields.push(Field::new(
                "class",
                Some(c.span.clone()),
                Value::Str(s.to_owned()),
            ));
        }
        if let (Some(d), Some(s)) = (desc, desc_s) {
            m.fields.push(Field::new(
                "desc",
                Some(d.span.clone()),
                Value::Str(s.to_owned()),
            ));
        }
        match (err, ret) {
            (Some(e), _) => {
                match (class_s, desc) {
                    _ if lean => {}
                    // The desc as written on the wire (server output is ASCII
                    // with escapes), e.g. `stray '\uFFFD'`.
                    (Some(c), Some(d)) => {
                        let raw = json::node_text(d, text, strict);
                        let inner = raw
                            .strip_prefix('"')
                            .and_then(|r| r.strip_suffix('"'))
                            .unwrap_or(&raw);
                        summary.push_str(&format!("{}: {inner}", esc(c, 40)));
                    }
                    _ => summary.push_str(&json::node_text(e, text, strict)),
                }
                if class_s.is_none() || desc_s.is_none() {
                    notes.push(Note::warn("error object without class or desc"));
                }
            }
            (None, Some(r)) if !lean => {
                summary.push_str(&json::preview(r, text, strict, PREVIEW));
            }
            (None, _) => {}
        }
        if !lean {
            m.summary = one_line(&summary, SUMMARY_MAX);
        }

        // Notes about the error itself (section 11).
        let d = desc_s.unwrap_or("");
        let parse_error = err.is_some()
            && (d.starts_with("JSON parse error")
                || d == "Invalid JSON syntax"
                || class_s == Some("JSONParsing"));
        if parse_error {
            if self.last_malformed_reset {
                notes.push(Note::info(
                    "parse error reply: the expected answer to the client's parser reset",
                ));
            } else {
                notes.push(Note::warn(
                    "parse error reply: the client sent malformed JSON",
                ));
            }
        } else if d.starts_with("QMP input")
            || d.starts_with("JSON token")
            || d.starts_with("JSON nesting")
        {
            notes.push(Note::warn(format!("request rejected: {}", esc(d, 80))));
        }
        if class_s == Some("CommandNotFound") {
            if d.contains("Expecting capabilities negotiation") {
                notes.push(Note::warn(
                    "command sent before capabilities negotiation completed",
                ));
            } else if d.contains("has been disabled") {
                notes.push(Note::info("guest agent command disabled"));
            }
        }

        let pairing = self.pair(id, err.is_some(), parse_error, d, ret);
        m.reply_to = pairing.reply_to;
        m.name = pairing
            .name
            .unwrap_or_else(|| if err.is_some() { "error" } else { "return" }.to_owned());
        notes.extend(pairing.notes);
    }
}
