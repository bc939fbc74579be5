//! The request side (qmp.md section 3): commands and other client values,
//! the request-shape errors QEMU will report, negotiation, OOB and QGA as
//! the client sees them, notable operations and clear-text secrets
//! (section 11).

use std::ops::Range;

use super::json::{self, Node, Parsed, J};
use super::state::{PKind, Pending, Qmp};
use super::text::{esc, one_line, push_id, PREVIEW, QEMU_ONLY, SUMMARY_MAX};
use crate::{Ctx, Dir, Field, Kind, Message, Note, Step, Value};

impl Qmp {
    pub(super) fn client_value(
        &mut self,
        offset: u64,
        text: &[u8],
        mut p: Parsed,
        ctx: &mut Ctx,
    ) -> Step {
        let len = text.len();
        let mut notes = Vec::new();
        if !p.strict {
            notes.push(Note::info(QEMU_ONLY));
        }
        if !matches!(p.root.v, J::Obj(_)) {
            return self.non_object(offset, text, &p, notes, ctx);
        }
        self.after_malformed = false;

        // What the command is.
        let root = &p.root;
        let exec = root.get("execute");
        let exec_oob = root.get("exec-oob");
        let run_oob = root
            .get("control")
            .and_then(|c| c.get("run-oob"))
            .is_some_and(|n| n.v == J::Bool(true));
        let (name, name_field) = match (exec, exec_oob) {
            (Some(n), _) => match n.as_str() {
                Some(s) => (s.to_owned(), Some(("execute", n.span.clone()))),
                None => ("(invalid execute)".to_owned(), None),
            },
            (None, Some(n)) => match n.as_str() {
                Some(s) => (s.to_owned(), Some(("exec-oob", n.span.clone()))),
                None => ("(invalid exec-oob)".to_owned(), None),
            },
            (None, None) => ("(no execute)".to_owned(), None),
        };
        let oob = (exec_oob.is_some() && exec.is_none()) || run_oob;
        let id = root.get("id").cloned();
        let args = root.get("arguments");

        shape_notes(root, name_field.is_some(), &mut notes);
        let caps_oob = self.negotiation_notes(&name, oob, id.is_some(), args, &mut notes, ctx);
        let sync_id = if name == "guest-sync" || name == "guest-sync-delimited" {
            args.and_then(|a| a.get("id")).cloned()
        } else {
            None
        };
        let (secrets, redacted) = self.security_notes(&name, &mut p, &mut notes);
        let root = &p.root;

        // Fields and summary.
        let mut m = Message::new(Dir::C2S, len, Kind::Request, name.clone());
        m.secrets = secrets.into_iter().map(|(_, r)| r).collect();
        if !self.opts.lean {
            let value = json::node_text(root, text, p.strict && !redacted);
            m.fields
                .push(Field::new("value", Some(0..len), Value::Json(value)));
        }
        if let Some((key, span)) = name_field {
            m.fields
                .push(Field::new(key, Some(span), Value::Str(name.clone())));
        }
        let lean = self.opts.lean;
        let mut summary = String::new();
        if let Some(idn) = &id {
            summary.push_str(&push_id(&mut m, idn, text, p.strict, lean));
        }
        if let Some(a) = root.get("arguments").filter(|_| !lean) {
            let mut s = String::new();
            json::write_json(a, text, &mut s, PREVIEW);
            if !summary.is_empty() {
                summary.push(' ');
            }
            summary.push_str(&s);
        }
        if !lean {
            m.summary = one_line(&summary, SUMMARY_MAX);
        }
        m.notes = notes;

        self.push_pending(
            Pending {
                offset,
                name,
                kind: PKind::Command,
                id,
                oob,
                from_malformed: false,
                caps_oob,
                sync_id,
            },
            ctx,
        );
        Step::Message(m)
    }

    /// A client value that is not an object (QEMU answers it with an
    /// error, so it waits for a reply too).
    fn non_object(
        &mut self,
        offset: u64,
        text: &[u8],
        p: &Parsed,
        mut notes: Vec<Note>,
        ctx: &mut Ctx,
    ) -> Step {
        let len = text.len();
        let from_malformed = self.after_malformed;
        self.push_pending(
            Pending {
                offset,
                name: "non-object".into(),
                kind: PKind::NonObject,
                id: None,
                oob: false,
                from_malformed,
                caps_oob: false,
                sync_id: None,
            },
            ctx,
        );
        notes.push(Note::warn(
            "not a JSON object: QEMU answers \"QMP input must be a JSON object\"",
        ));
        if from_malformed {
            notes.push(Note::info("from malformed input"));
        }
        let mut m = Message::new(Dir::C2S, len, Kind::Request, "non-object");
        if !self.opts.lean {
            let value = json::node_text(&p.root, text, p.strict);
            m.summary = one_line(&value, SUMMARY_MAX);
            m.fields
                .push(Field::new("value", Some(0..len), Value::Json(value)));
        }
        m.notes = notes;
        Step::Message(m)
    }

    /// Negotiation, OOB and QGA as a command shows them; returns whether it
    /// is a `qmp_capabilities` that enables OOB.
    fn negotiation_notes(
        &mut self,
        name: &str,
        oob: bool,
        has_id: bool,
        args: Option<&Node>,
        notes: &mut Vec<Note>,
        ctx: &mut Ctx,
    ) -> bool {
        let mut caps_oob = false;
        if oob {
            if !self.oob && !self.relaxed && !self.qga {
                notes.push(Note::warn(
                    "exec-oob without OOB enabled: QEMU answers \"QMP input member 'exec-oob' is unexpected\"",
                ));
            }
            if !has_id {
                notes.push(Note::warn(
                    "exec-oob without id: its reply can only be matched by guess",
                ));
            }
        }
        if name == "qmp_capabilities" {
            if self.caps_sent > 0 || self.negotiated {
                notes.push(Note::info("second qmp_capabilities"));
            }
            self.caps_sent += 1;
            caps_oob = args
                .and_then(|a| a.get("enable"))
                .is_some_and(|e| match &e.v {
                    J::Arr(items) => items.iter().any(|i| i.as_str() == Some("oob")),
                    _ => false,
                });
        } else if self.greeting.is_some()
            && !self.negotiated
            && self.caps_sent == 0
            && !self.relaxed
            && !self.qga
        {
            notes.push(Note::warn(
                "command sent before capabilities negotiation (QEMU answers CommandNotFound)",
            ));
        }
        if name.starts_with("guest-") && self.greeting.is_none() {
            self.set_qga(ctx);
        }
        caps_oob
    }

    /// Section 11: notable operations and clear-text secrets (replaced by
    /// "<redacted>" in the tree unless secrets are shown). Returns the
    /// secrets and whether they were redacted.
    fn security_notes(
        &self,
        name: &str,
        p: &mut Parsed,
        notes: &mut Vec<Note>,
    ) -> (Vec<(&'static str, Range<usize>)>, bool) {
        let args = p.root.get("arguments");
        if name == "human-monitor-command" {
            let line = args
                .and_then(|a| a.get("command-line"))
                .and_then(Node::as_str)
                .unwrap_or("");
            notes.push(Note::info(format!(
                "HMP command line (any monitor command): {}",
                esc(line, 80)
            )));
        } else if notable(name) {
            notes.push(Note::info(format!("notable operation: {name}")));
        }
        let show = self.opts.show_secrets;
        let secrets = match p.root.get_mut("arguments") {
            Some(a) => redact(a, name, !show),
            None => Vec::new(),
        };
        let redacted = !secrets.is_empty() && !show;
        if !secrets.is_empty() {
            let names: Vec<&str> = secrets.iter().map(|(n, _)| *n).collect();
            notes.push(Note::warn(format!(
                "clear-text credential in arguments ({}) on an unencrypted connection",
                names.join(", ")
            )));
            if redacted {
                notes.push(Note::info(
                    "secret replaced by \"<redacted>\" in value and summary (show-secrets keeps it)",
                ));
            }
        }
        (secrets, redacted)
    }
}

/// Predicted request-shape errors (qmp.md 3.5); `has_name`: `execute` or
/// `exec-oob` is a string.
fn shape_notes(root: &Node, has_name: bool, notes: &mut Vec<Note>) {
    let exec = root.get("execute");
    let exec_oob = root.get("exec-oob");
    let args = root.get("arguments");
    match (exec, exec_oob) {
        (Some(_), Some(_)) => notes.push(Note::warn(
            "QMP input member 'execute' clashes with 'exec-oob' (QEMU rejects it)",
        )),
        (None, None) => notes.push(Note::warn(
            "QMP input lacks member 'execute' (QEMU rejects it)",
        )),
        _ => {}
    }
    if !has_name && (exec.is_some() || exec_oob.is_some()) {
        notes.push(Note::warn(
            "QMP input member 'execute' must be a string (QEMU rejects it)",
        ));
    }
    if args.is_some_and(|a| !matches!(a.v, J::Obj(_))) {
        notes.push(Note::warn(
            "QMP input member 'arguments' must be an object (QEMU rejects it)",
        ));
    }
    for m in root.members() {
        if !matches!(
            m.key.as_str(),
            "execute" | "exec-oob" | "arguments" | "id" | "control"
        ) {
            notes.push(Note::warn(format!(
                "QMP input member '{}' is unexpected (QEMU rejects it)",
                esc(&m.key, 40)
            )));
        }
    }
}

/// Security-relevant commands (section 11).
fn notable(name: &str) -> bool {
    matches!(
        name,
        "quit"
            | "system_reset"
            | "system_powerdown"
            | "stop"
            | "device_add"
            | "device_del"
            | "blockdev-add"
            | "blockdev-create"
            | "getfd"
            | "add-fd"
            | "qom-set"
            | "object-add"
            | "guest-exec"
            | "guest-set-user-password"
            | "guest-shutdown"
    ) || name.starts_with("migrate")
        || name.starts_with("x-")
        || name.starts_with("guest-file-")
}

/// Finds clear-text secrets in a command's arguments (and replaces them by
/// "<redacted>" when `apply`); returns their member names and where their
/// text sits in the message (inside the quotes, escapes as written).
fn redact(args: &mut Node, command: &str, apply: bool) -> Vec<(&'static str, Range<usize>)> {
    let secret_object =
        command == "object-add" && args.get("qom-type").and_then(Node::as_str) == Some("secret");
    let mut found = Vec::new();
    let J::Obj(members) = &mut args.v else {
        return found;
    };
    for m in members.iter_mut() {
        let hit: Option<&'static str> = match m.key.as_str() {
            "password" => Some("password"),
            "data" if secret_object => Some("data"),
            _ => None,
        };
        if let Some(name) = hit {
            if let J::Str(s) = &mut m.val.v {
                found.push((name, string_text(&m.val.span)));
                if apply {
                    *s = "<redacted>".to_owned();
                }
            }
        }
        if secret_object && m.key == "props" {
            if let J::Obj(props) = &mut m.val.v {
                for pm in props.iter_mut().filter(|pm| pm.key == "data") {
                    if let J::Str(s) = &mut pm.val.v {
                        found.push(("props.data", string_text(&pm.val.span)));
                        if apply {
                            *s = "<redacted>".to_owned();
                        }
                    }
                }
            }
        }
    }
    found
}

/// The text of a string token without its quotes.
fn string_text(span: &Range<usize>) -> Range<usize> {
    let start = (span.start + 1).min(span.end);
    start..span.end.saturating_sub(1).max(start)
}
