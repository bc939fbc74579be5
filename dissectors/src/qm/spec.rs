//! QM's entry in the protocol registry (`crate::registry`).

use crate::registry::{Display, FieldRead, FieldType, Filter, FilterField, LineBreaks, Protocol};
use crate::{Dissector, Options, SessionStart};

use super::codes::{FUNCTIONS, OUTCOMES};

/// OpenQM / ScarletDME QMClient.
pub static PROTOCOL: Protocol = Protocol {
    name: "qm",
    aliases: &["qmclient"],
    description: "OpenQM/ScarletDME QMClient",
    short: "qm",
    ports: &[4243],
    probe: super::probe,
    new,
    findings: &[
        ("Login", "clear-text credentials (QM Login)"),
        (
            "LocalLogin",
            "unauthenticated QM LocalLogin over TCP (runs as the server's OS user)",
        ),
    ],
    filter: Filter {
        title: "QM fields (QMClient: OpenQM, ScarletDME)",
        doc: "QMClient (OpenQM / ScarletDME) messages.",
        fields: FIELDS,
        json: None,
    },
    display: Display {
        line_breaks: LineBreaks::Never,
        marks: true,
    },
};

fn new(start: SessionStart, opts: Options) -> Box<dyn Dissector> {
    Box::new(super::Qm::new(start, opts))
}

static FIELDS: &[FilterField] = &[
    FilterField {
        name: "qm.function",
        kind: "name or integer",
        read: FieldRead::Code {
            field: "code",
            names: &FUNCTIONS,
            requests: true,
        },
        doc: "Function of a request, and of the request a response answers: a name as in qm.md (Login, Read, Write, Execute, ...; any case) or the code (Read = 6).",
    },
    FilterField {
        name: "qm.code",
        kind: "integer",
        read: FieldRead::Path(&["code"], FieldType::Int),
        doc: "Function code of a request, as on the wire.",
    },
    FilterField {
        name: "qm.outcome",
        kind: "name or integer",
        read: FieldRead::Code {
            field: "outcome",
            names: &OUTCOMES,
            requests: false,
        },
        doc: "Outcome of a response: SV_OK (0), SV_ON_ERROR (1), SV_ELSE (2), SV_ERROR (3), SV_LOCKED (4), SV_PROMPT (5); the SV_ prefix may be left out.",
    },
    FilterField {
        name: "qm.status",
        kind: "integer",
        read: FieldRead::Path(&["status"], FieldType::Int),
        doc: "Status of a response (signed 32 bits): an error or reason code, a lock holder, a return code.",
    },
];
