//! The parsed tree ([`Node`]), how much of it to build ([`Mat`]) and the
//! parsers' results.

use std::ops::Range;

/// Deepest nesting the parser follows (QEMU's limit for client input).
pub const MAX_DEPTH: usize = 1024;

/// A parsed value with the bytes it came from (relative to the parsed text).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Range<usize>,
    pub v: J,
}

/// One member of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The decoded key.
    pub key: String,
    pub key_span: Range<usize>,
    pub val: Node,
}

/// The value of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum J {
    Null,
    Bool(bool),
    /// A number, with its text exactly as written (always valid JSON).
    Num(Box<str>),
    /// A decoded string (U+0000 allowed).
    Str(String),
    Arr(Vec<Node>),
    Obj(Vec<Member>),
    /// A container that was validated but not materialised; its text is
    /// the span of the parsed input.
    Raw,
}

impl Node {
    /// The member `key` of an object node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.v {
            J::Obj(ms) => ms.iter().find(|m| m.key == key).map(|m| &m.val),
            _ => None,
        }
    }
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.v {
            J::Obj(ms) => ms.iter_mut().find(|m| m.key == key).map(|m| &mut m.val),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match &self.v {
            J::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn members(&self) -> &[Member] {
        match &self.v {
            J::Obj(ms) => ms,
            _ => &[],
        }
    }
}

/// How much of the tree to build.
#[derive(Debug, Clone, Copy)]
pub enum Mat<'k> {
    /// Everything.
    All,
    /// The top-level value; for a top-level object, members named in the
    /// list completely and other members' scalars (their containers stay
    /// [`J::Raw`]).
    Top(&'k [&'k str]),
}

/// A successfully parsed value.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub root: Node,
    /// The text is strict JSON (RFC 8259): no single quotes, no `\'`, no
    /// `C0 80`.
    pub strict: bool,
}

/// Why a value was rejected, in QEMU's words (without the
/// "JSON parse error, " prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub msg: String,
    /// Byte offset of the token where the error was found.
    pub at: usize,
}

/// How much of one value to build (the parsers' view of [`Mat`]).
#[derive(Clone, Copy)]
pub(super) enum Mode<'k> {
    /// Build everything.
    Full,
    /// Build this object's members per the key list (top level only).
    Top(&'k [&'k str]),
    /// Build scalars; containers become `Raw`.
    Shallow,
    /// Validate only.
    Check,
}
