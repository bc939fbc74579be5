//! The one model of a decoded message, shared by every dissector, the engine
//! and every sink.
//!
//! A [`Message`] is what a dissector produces for one application message:
//! where it sits in its direction's stream (`offset`, `len`), what it is
//! (`kind`, `name`), its decoded [`Field`]s (each with the byte range it was
//! decoded from, relative to the message's first byte), expert [`Note`]s, and
//! the request it answers (`reply_to`), expressed as a [`MsgRef`] that the
//! engine turns into a message index.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

/// Direction of a byte stream within a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dir {
    /// From the side that opened the connection (client) to the server.
    C2S,
    /// From the server to the client.
    S2C,
}

impl Dir {
    pub fn as_str(self) -> &'static str {
        match self {
            Dir::C2S => "c2s",
            Dir::S2C => "s2c",
        }
    }
    pub fn flip(self) -> Dir {
        match self {
            Dir::C2S => Dir::S2C,
            Dir::S2C => Dir::C2S,
        }
    }
    /// 0 for c2s, 1 for s2c: handy for per-direction arrays.
    pub fn idx(self) -> usize {
        match self {
            Dir::C2S => 0,
            Dir::S2C => 1,
        }
    }
}

/// Application protocols qscope knows: an index into the registry
/// ([`PROTOCOLS`](crate::PROTOCOLS)), or [`Proto::Unknown`]. The constants
/// of the known protocols (`Proto::Qmp`, ...) and the methods that read
/// the registry (`as_str`, `from_name`, `protocol`) are in `lib.rs`, made
/// by its one line per protocol; they are ordered as registered, and
/// `Unknown` comes last.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Proto(u8);

#[allow(non_upper_case_globals)]
impl Proto {
    /// No protocol recognised (or `--decode-as PORT=unknown`).
    pub const Unknown: Proto = Proto(u8::MAX);

    pub(crate) const fn from_index(i: u8) -> Proto {
        Proto(i)
    }

    /// The protocol's position in the registry; `None` for `Unknown`.
    pub(crate) fn index(self) -> Option<usize> {
        (self != Proto::Unknown).then_some(usize::from(self.0))
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Severity of an expert note, as in Wireshark's expert info.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warn,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Error => "error",
        }
    }
}

/// An expert note attached to a message, a byte range or a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub severity: Severity,
    pub text: Cow<'static, str>,
}

impl Note {
    pub fn new(severity: Severity, text: impl Into<Cow<'static, str>>) -> Note {
        Note {
            severity,
            text: text.into(),
        }
    }
    pub fn info(text: impl Into<Cow<'static, str>>) -> Note {
        Note::new(Severity::Info, text)
    }
    pub fn warn(text: impl Into<Cow<'static, str>>) -> Note {
        Note::new(Severity::Warn, text)
    }
    pub fn error(text: impl Into<Cow<'static, str>>) -> Note {
        Note::new(Severity::Error, text)
    }
}

/// What role a message plays in its conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Client asks for something and (usually) expects a reply.
    Request,
    /// Reply to a request.
    Response,
    /// Asynchronous notification from the server (QMP events).
    Event,
    /// First message of the server (QMP greeting).
    Greeting,
    /// Unsolicited server message tied to an earlier request (QPS search updates).
    Push,
    /// A message of the protocol that fits none of the above.
    Other,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Request => "request",
            Kind::Response => "response",
            Kind::Event => "event",
            Kind::Greeting => "greeting",
            Kind::Push => "push",
            Kind::Other => "other",
        }
    }
}

/// Identifies a message by where it starts: direction and stream offset.
/// Dissectors use it to say which request a reply answers; the engine maps
/// it to the request's message index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MsgRef {
    pub dir: Dir,
    pub offset: u64,
}

/// A decoded value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    /// Text (always valid UTF-8).
    Str(String),
    /// Raw bytes; exported as a string when they are valid UTF-8, else as
    /// `{"hex": "..."}` (lossless either way).
    Bytes(Vec<u8>),
    /// A JSON text, already serialised (exported verbatim, not re-encoded).
    /// Must be one valid, strict JSON value.
    Json(String),
    /// Named children (exported as a JSON object).
    Struct(Vec<Field>),
    /// Unnamed children (exported as a JSON array; the names are ignored).
    List(Vec<Field>),
}

/// One decoded field: a name, the bytes it came from and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: Cow<'static, str>,
    /// Byte range relative to the start of the message, when known.
    pub range: Option<Range<usize>>,
    pub value: Value,
}

impl Field {
    pub fn new(
        name: impl Into<Cow<'static, str>>,
        range: Option<Range<usize>>,
        value: Value,
    ) -> Field {
        Field {
            name: name.into(),
            range,
            value,
        }
    }
}

/// One decoded application message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub dir: Dir,
    /// Offset of the message's first byte in its direction's stream (set by the driver).
    pub offset: u64,
    /// Length in bytes on the wire.
    pub len: usize,
    pub kind: Kind,
    /// Human name: QMP command or event, QM function, QPS packet, MQServer message type.
    pub name: String,
    /// One-line summary for timelines (already free of control characters).
    pub summary: String,
    /// True when the message reports a failure (error reply, failed login...).
    pub is_error: bool,
    pub fields: Vec<Field>,
    pub notes: Vec<Note>,
    /// The request this message answers.
    pub reply_to: Option<MsgRef>,
    /// Other earlier messages this one relates to, by role: e.g. a QM
    /// GetError reply names the failing request as `("error_of", ...)`.
    /// Exported as `"links": {"error_of": INDEX}`.
    pub links: Vec<(&'static str, MsgRef)>,
    /// Byte ranges holding secrets (passwords and other credentials),
    /// relative to the start of the message like field ranges. Always
    /// filled, whether or not secrets are shown: `Options::show_secrets`
    /// only changes the decoded values, while every view of the raw bytes
    /// masks these ranges unless asked not to. The driver keeps them
    /// sorted, disjoint, non-empty and within `0..len`.
    pub secrets: Vec<Range<usize>>,
}

impl Message {
    pub fn new(dir: Dir, len: usize, kind: Kind, name: impl Into<String>) -> Message {
        Message {
            dir,
            offset: 0,
            len,
            kind,
            name: name.into(),
            summary: String::new(),
            is_error: false,
            fields: Vec::new(),
            notes: Vec::new(),
            reply_to: None,
            links: Vec::new(),
            secrets: Vec::new(),
        }
    }

    /// Marks `range` (relative to the message) as holding a secret.
    pub fn secret(&mut self, range: Range<usize>) {
        self.secrets.push(range);
    }

    /// The secret ranges as stream offsets (`offset` + range).
    pub fn secret_offsets(&self) -> impl Iterator<Item = Range<u64>> + '_ {
        self.secrets
            .iter()
            .map(|r| self.offset + r.start as u64..self.offset + r.end as u64)
    }

    /// The top-level field called `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Where this message starts, for `reply_to` of later messages.
    pub fn msg_ref(&self) -> MsgRef {
        MsgRef {
            dir: self.dir,
            offset: self.offset,
        }
    }
}
