//! MQServer's entry in the protocol registry (`crate::registry`).

use crate::registry::{Display, FieldRead, FieldType, Filter, FilterField, LineBreaks, Protocol};
use crate::{Dissector, Options, SessionStart};

use super::common::TYPES;

/// MQServer in its four wire forms.
pub static PROTOCOL: Protocol = Protocol {
    name: "mqserver",
    aliases: &["mq"],
    description: "MQServer client protocol",
    short: "mq",
    ports: &[8888, 8889, 1234],
    probe: super::probe,
    new,
    findings: &[("AUTH", "clear-text credentials (MQServer AUTH)")],
    filter: Filter {
        title: "MQServer fields",
        doc: "MQServer messages.",
        fields: FIELDS,
        json: None,
    },
    display: Display {
        // TEXT and XML are lines of text; EARLY binary and XDR are not.
        line_breaks: LineBreaks::Encodings(&["text", "xml"]),
        marks: false,
    },
};

fn new(start: SessionStart, opts: Options) -> Box<dyn Dissector> {
    Box::new(super::MqServer::new(start, opts))
}

static FIELDS: &[FilterField] = &[
    FilterField {
        name: "mqserver.msgtype",
        kind: "name or integer",
        read: FieldRead::Code {
            field: "msgtype",
            names: &TYPES,
            requests: false,
        },
        doc: "Message type: ACK, ERROR, SRVCAP, AUTH, ... MSGFROMCLNT (any case) or its number 1-19.",
    },
    FilterField {
        name: "mqserver.mid",
        kind: "integer",
        read: FieldRead::Path(&["mid"], FieldType::Int),
        doc: "Message id.",
    },
    FilterField {
        name: "mqserver.encoding",
        kind: "string",
        read: FieldRead::Path(&["encoding"], FieldType::Choice(&["text", "binary", "xdr", "xml"])),
        doc: "Wire form: text, binary, xdr or xml.",
    },
];
