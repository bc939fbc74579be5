//! QPS's entry in the protocol registry (`crate::registry`).

use crate::registry::{Display, FieldRead, FieldType, Filter, FilterField, LineBreaks, Protocol};
use crate::{Dissector, Options, SessionStart};

use super::REQUESTS;

/// Quark Publishing System 3.5 (no well-known port: found by content).
pub static PROTOCOL: Protocol = Protocol {
    name: "qps",
    aliases: &[],
    description: "Quark Publishing System",
    short: "qps",
    ports: &[],
    probe: super::probe,
    new,
    findings: &[("Signon", "clear-text credentials (QPS Signon)")],
    filter: Filter {
        title: "QPS fields (Quark Publishing System)",
        doc: "QPS (Quark Publishing System) messages.",
        fields: FIELDS,
        json: None,
    },
    display: Display {
        line_breaks: LineBreaks::Never,
        marks: false,
    },
};

fn new(start: SessionStart, opts: Options) -> Box<dyn Dissector> {
    Box::new(super::Qps::new(start, opts))
}

static FIELDS: &[FilterField] = &[
    FilterField {
        name: "qps.request",
        kind: "name or integer",
        read: FieldRead::Code {
            field: "code",
            names: &REQUESTS,
            requests: true,
        },
        doc: "Request type of a request, and of the request a response answers: Signon, Search, GetHeaders, ... or the code (Signon = 5).",
    },
    FilterField {
        name: "qps.code",
        kind: "integer",
        read: FieldRead::Path(&["code"], FieldType::Int),
        doc: "Header code as on the wire: the request type in requests, the result code (0 = success) in responses.",
    },
    FilterField {
        name: "qps.status",
        kind: "integer",
        read: FieldRead::Path(&["status"], FieldType::Int),
        doc: "Status of a server message (5 marks a SearchUpdate push).",
    },
    FilterField {
        name: "qps.seq",
        kind: "integer",
        read: FieldRead::Path(&["seq"], FieldType::Int),
        doc: "Sequence number (a response echoes its request's).",
    },
    FilterField {
        name: "qps.session_id",
        kind: "integer",
        read: FieldRead::Path(&["session_id"], FieldType::Int),
        doc: "Session id of a request (0 before Signon succeeds).",
    },
];
