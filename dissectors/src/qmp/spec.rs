//! QMP's entry in the protocol registry (`crate::registry`).

use crate::registry::{
    Display, FieldRead, FieldType, Filter, FilterField, JsonPaths, LineBreaks, Protocol,
};
use crate::{Dir, Dissector, Field, Kind, Message, Options, SessionStart, Value};

/// QMP and QGA (the guest agent speaks the same JSON).
pub static PROTOCOL: Protocol = Protocol {
    name: "qmp",
    aliases: &["qga"],
    description: "QEMU Machine Protocol, guest agent",
    short: "qmp",
    ports: &[4444],
    probe: super::probe,
    new,
    findings: &[],
    filter: Filter {
        title: "QMP fields (QEMU Machine Protocol and guest agent)",
        doc: "QMP or QGA messages.",
        fields: FIELDS,
        json: Some(JsonPaths {
            root: "value",
            decoded: DECODED,
            keys: JSON_KEYS,
            what: "QMP",
        }),
    },
    display: Display {
        line_breaks: LineBreaks::Always,
        marks: false,
    },
};

fn new(start: SessionStart, opts: Options) -> Box<dyn Dissector> {
    Box::new(super::Qmp::new(start, opts))
}

const fn path(p: &'static [&'static str], ty: FieldType) -> FieldRead {
    FieldRead::Path(p, ty)
}

static FIELDS: &[FilterField] = &[
    FilterField {
        name: "qmp.execute",
        kind: "string",
        read: FieldRead::Text(execute),
        doc: "Command name of a request (execute or exec-oob), and of the request a response answers.",
    },
    FilterField {
        name: "qmp.exec-oob",
        kind: "string",
        read: path(&["exec-oob"], FieldType::Str),
        doc: "Command name of an out-of-band request.",
    },
    FilterField {
        name: "qmp.event",
        kind: "string",
        read: path(&["event"], FieldType::Str),
        doc: "Event name.",
    },
    FilterField {
        name: "qmp.error.class",
        kind: "string",
        read: path(&["class"], FieldType::Str),
        doc: "Error class of an error response (GenericError, CommandNotFound, ...).",
    },
    FilterField {
        name: "qmp.error.desc",
        kind: "string",
        read: path(&["desc"], FieldType::Str),
        doc: "Error description of an error response.",
    },
    FilterField {
        name: "qmp.id",
        kind: "json",
        read: path(&["id"], FieldType::Json),
        doc: "The id of a command or response (any JSON value: `qmp.id == 5` matches the number 5 and the string \"5\"; `qmp.id == \"5\"` only the string).",
    },
    FilterField {
        name: "qmp.value",
        kind: "json",
        read: path(&["value"], FieldType::Json),
        doc: "The whole message as JSON text (`qmp.value contains \"node-name\"`).",
    },
    FilterField {
        name: "qmp.arguments",
        kind: "json",
        read: path(&["arguments"], FieldType::Json),
        doc: "Arguments of a command; reach members with a path: `qmp.arguments.device == \"ide0\"`.",
    },
    FilterField {
        name: "qmp.return",
        kind: "json",
        read: path(&["return"], FieldType::Json),
        doc: "Return value of a successful response; members by path: `qmp.return.status == \"running\"`.",
    },
    FilterField {
        name: "qmp.data",
        kind: "json",
        read: path(&["data"], FieldType::Json),
        doc: "Data of an event; members by path: `qmp.data.reason == \"host-qmp-quit\"`.",
    },
    FilterField {
        name: "qmp.version",
        kind: "string",
        read: path(&["version"], FieldType::Str),
        doc: "QEMU version of a greeting, e.g. \"8.2.2\".",
    },
    FilterField {
        name: "qmp.package",
        kind: "string",
        read: path(&["package"], FieldType::Str),
        doc: "Package string of a greeting.",
    },
    FilterField {
        name: "qmp.capabilities",
        kind: "list of strings",
        read: path(&["capabilities"], FieldType::Str),
        doc: "Capabilities of a greeting: `qmp.capabilities contains \"oob\"`.",
    },
];

/// Top-level fields of the QMP dissector that are never looked up inside
/// `value` when absent: they are decoded whenever the message has them (or
/// are not JSON members at all: `class`, `version`, ...). Sparing the
/// lookup keeps `qmp.event == X` from parsing every command's JSON.
/// (`exec-oob` is not among them: a command with both `execute` and
/// `exec-oob` has only the first as a field.)
const DECODED: &[&str] = &[
    "value",
    "execute",
    "id",
    "event",
    "class",
    "desc",
    "version",
    "package",
    "capabilities",
];

/// The members a QMP message can have at its top level (commands,
/// responses, events, the greeting), in the QMP specification's order.
const JSON_KEYS: &[&str] = &[
    "execute",
    "exec-oob",
    "arguments",
    "id",
    "return",
    "error",
    "event",
    "data",
    "timestamp",
    "QMP",
];

/// The command a QMP request runs, or that a paired response answers.
fn execute(m: &Message) -> Option<&str> {
    if m.dir == Dir::C2S {
        for key in ["execute", "exec-oob"] {
            if let Some(Field {
                value: Value::Str(s),
                ..
            }) = m.field(key)
            {
                return Some(s);
            }
        }
        return None;
    }
    // Responses carry the paired request's name; unpaired ones are named
    // "return" or "error", and requests without a usable name "(...)" or
    // "non-object".
    let paired = m.reply_to.is_some() && m.kind == Kind::Response;
    (paired && !m.name.starts_with('(') && m.name != "non-object").then_some(m.name.as_str())
}
