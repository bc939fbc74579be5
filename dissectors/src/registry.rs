//! The protocol registry: one [`Protocol`] description per protocol, which
//! everything else (detection, the command line, the display filters, the
//! statistics, the byte views, the terminal UI) reads.
//!
//! Each protocol's folder defines its description as `pub static PROTOCOL`
//! (in its `spec.rs`); the one line of `protocols!` in `lib.rs` declares
//! the folder's module, gives the protocol its [`Proto`](crate::Proto)
//! constant and puts the description in [`PROTOCOLS`](crate::PROTOCOLS).
//! `docs/adding-a-protocol.md` is the checklist.

use crate::dissector::{Dissector, Options, SessionStart, Verdict};
use crate::model::Message;
use crate::names::CodeNames;

/// Everything the application knows about one protocol.
#[derive(Debug)]
pub struct Protocol {
    /// The name used in exports, on the command line and as the prefix of
    /// its display-filter fields: `qmp`.
    pub name: &'static str,
    /// Other names `--decode-as` accepts (any case): `qga`.
    pub aliases: &'static [&'static str],
    /// A few words for the command line's help: "QEMU Machine Protocol,
    /// guest agent".
    pub description: &'static str,
    /// The name of the terminal UI's narrow protocol column (at most 3
    /// characters): `mq`.
    pub short: &'static str,
    /// Well-known server ports: hints for detection, confirmed by content
    /// where the protocol allows; they also orient connections picked up
    /// mid-stream, and make the default live capture filter.
    pub ports: &'static [u16],
    /// The content probe: the first bytes of both directions (as much as
    /// has arrived, from the first captured byte).
    pub probe: fn(c2s: &[u8], s2c: &[u8], start: SessionStart) -> Verdict,
    /// Creates the protocol's dissector for one session.
    pub new: fn(start: SessionStart, opts: Options) -> Box<dyn Dissector>,
    /// Requests that are security findings (`qscope stats --expert`), by
    /// message name, with what the finding says: `("Login", "clear-text
    /// credentials (QM Login)")`.
    pub findings: &'static [(&'static str, &'static str)],
    /// The display-filter fields of the protocol.
    pub filter: Filter,
    /// How the protocol's bytes and values are shown.
    pub display: Display,
}

/// A protocol's part of the display-filter language.
#[derive(Debug)]
pub struct Filter {
    /// Title of the protocol's group in the filter reference: "QMP fields
    /// (QEMU Machine Protocol and guest agent)".
    pub title: &'static str,
    /// Meaning of the bare protocol name as a filter (`qmp`): "QMP or QGA
    /// messages."
    pub doc: &'static str,
    /// The documented fields, in documentation order; each name starts
    /// with the protocol's name and a dot.
    pub fields: &'static [FilterField],
    /// For protocols whose messages are JSON texts: where `PROTO.PATH`
    /// paths continue when their first step is no decoded field.
    pub json: Option<JsonPaths>,
}

/// One documented display-filter field.
#[derive(Debug)]
pub struct FilterField {
    /// `qm.function`.
    pub name: &'static str,
    /// The type as the reference shows it: "string", "name or integer".
    pub kind: &'static str,
    /// How the field is read from a message.
    pub read: FieldRead,
    /// Its meaning, for the reference.
    pub doc: &'static str,
}

/// How a filter field is read from a message of its protocol.
#[derive(Debug)]
pub enum FieldRead {
    /// The decoded field at this path (top-level field, then members).
    Path(&'static [&'static str], FieldType),
    /// A named code read from the top-level field `field`; literals are
    /// names of `names` or numbers. With `requests`, the field is read on
    /// c2s messages only, and s2c messages that answer a request give the
    /// code through their name (the request's name).
    Code {
        field: &'static str,
        names: &'static CodeNames,
        requests: bool,
    },
    /// A string the protocol computes from the message (QMP's command of
    /// a request and of the response that answers it).
    Text(fn(&Message) -> Option<&str>),
}

/// The type of a [`FieldRead::Path`] field.
#[derive(Debug, Clone, Copy)]
pub enum FieldType {
    Str,
    Int,
    /// A string with a fixed set of values.
    Choice(&'static [&'static str]),
    /// Any decoded value or JSON.
    Json,
}

/// Where `PROTO.PATH` looks inside a JSON message.
#[derive(Debug)]
pub struct JsonPaths {
    /// The top-level field holding the whole message as JSON: `value`.
    pub root: &'static str,
    /// Top-level fields the dissector decodes whenever the message has
    /// them (or that are no JSON members): never looked up inside `root`.
    pub decoded: &'static [&'static str],
    /// The members a message can have at its top level, in the protocol's
    /// order (a path starting with anything else is warned about).
    pub keys: &'static [&'static str],
    /// What a key is called in that warning: "QMP" ("names no top-level
    /// QMP key").
    pub what: &'static str,
}

/// How a protocol's bytes and values are shown to a person.
#[derive(Debug)]
pub struct Display {
    /// When the text views break lines after each 0x0a.
    pub line_breaks: LineBreaks,
    /// Bytes carry QM's MultiValue marks (0xFB to 0xFF), shown as marks in
    /// the hex views and in byte values.
    pub marks: bool,
}

/// When the text views of a session break lines.
#[derive(Debug)]
pub enum LineBreaks {
    Never,
    Always,
    /// When the session's messages report one of these wire encodings (the
    /// `encoding` field).
    Encodings(&'static [&'static str]),
}

/// Declares the protocols (in `lib.rs`), one line each: `Name = folder`. For each, the
/// folder's module (`pub mod folder;`), the [`Proto`](crate::Proto)
/// constant `Proto::Name` (the protocols are numbered in this order, which
/// is the order of detection and of every list), and its description
/// `folder::spec::PROTOCOL` in [`PROTOCOLS`](crate::PROTOCOLS).
macro_rules! protocols {
    ($($konst:ident = $module:ident),+ $(,)?) => {
        $(pub mod $module;)+

        #[allow(non_camel_case_types, dead_code)]
        #[repr(u8)]
        enum ProtoIndex {
            $($konst,)+
        }

        #[allow(non_upper_case_globals)]
        impl $crate::model::Proto {
            $(
                #[doc = concat!("The protocol of [`", stringify!($module), "`].")]
                pub const $konst: $crate::model::Proto =
                    $crate::model::Proto::from_index(ProtoIndex::$konst as u8);
            )+
            /// Every protocol with a dissector, in registry order.
            pub const KNOWN: &'static [$crate::model::Proto] = &[$($crate::model::Proto::$konst),+];
        }

        /// Every protocol's description, in registry order (the order of
        /// [`Proto::KNOWN`](crate::Proto::KNOWN)).
        pub static PROTOCOLS: &[&$crate::registry::Protocol] = &[$(&$module::spec::PROTOCOL),+];

        /// The constants' names, for `Debug`.
        pub(crate) const PROTO_CONSTS: &[&str] = &[$(stringify!($konst)),+];
    };
}
