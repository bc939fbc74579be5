//! QEMU's JSON grammar (`qobject/json-parser.c`, QEMU 7.2) for one complete
//! value found by the boundary scanner.
//!
//! The parser accepts QEMU's input extensions (single-quoted strings, the
//! `\'` escape, modified UTF-8 `C0 80` for U+0000) and rejects what QEMU
//! rejects (invalid keywords, duplicate keys, invalid escapes, lone
//! surrogates, noncharacters, invalid UTF-8, ...), reporting the first error
//! in QEMU's words. It builds a small tree of [`Node`]s with byte spans, and
//! only as much of it as the caller asks for ([`Mat`]): large server replies
//! are validated without being copied.
//!
//! Three ways through one grammar, one behaviour:
//!
//! * `exact`: the exact parser, QEMU's parser token by token. It is the
//!   reference: it decides every error and every shape the others do not
//!   handle, and the tests compare the others against it.
//! * `fast`: one pass, no tokens, nothing built that is only validated. It
//!   handles what it can and gives up on anything else, errors included,
//!   which the exact parser then decides.
//! * `verify`: the `Verifier` follows a server value's tokens while the
//!   scanner cuts it, so that [`parse_known`] need not validate its big
//!   members a second time.
//!
//! The fast parser and the verifier exist for speed only: QMP replies can
//! be megabytes of JSON, and reading them once, without tokens or copies,
//! is what keeps the dissector fast. Their behaviour is the exact parser's:
//! the tests in `qmp/tests.rs` (module `fast_paths`:
//! `fast_parser_matches_exact_parser` and `verified_values_parse_the_same`
//! compare the fast parser and [`parse_known`] with `parse_exact` on
//! random and mutated values, results and errors alike) and the captures'
//! byte-identical output are the evidence.
//!
//! The other parts: `tree` (the [`Node`] tree and the parsers' results),
//! `text` (escapes, code points, modified UTF-8, numbers) and `value` (id
//! equality, strict re-serialisation).

mod exact;
mod fast;
mod text;
mod tree;
mod value;
mod verify;

use std::ops::Range;

pub(crate) use exact::parse_exact;
use fast::{Bail, Fast};
#[cfg(test)]
pub(crate) use text::lex_number;
pub(crate) use text::{digits_go_on, is_ws, run_end, zero_goes_on};
pub use tree::{Mat, Member, Node, ParseError, Parsed, J, MAX_DEPTH};
pub use value::{json_eq, node_text, preview, write_json, write_str, NumVal};
pub(crate) use verify::{Place, Verifier};

/// Parses one complete value (as cut by the scanner). Leading and trailing
/// JSON whitespace is allowed.
///
/// A fast parser tries first; it accepts only what the exact parser
/// accepts, with the same result, and gives up on anything else (any
/// error, and rare shapes it does not handle), leaving the value and the
/// exact error to the exact parser.
pub fn parse(text: &[u8], mat: Mat<'_>) -> Result<Parsed, ParseError> {
    match Fast::new(text, &[]).parse(mat) {
        Ok(p) => Ok(p),
        Err(Bail) => parse_exact(text, mat),
    }
}

/// [`parse`] for a value the scanner's verifier accepted: `known` are
/// the spans it returned, containers that need no second validation.
pub fn parse_known(
    text: &[u8],
    mat: Mat<'_>,
    known: &[Range<usize>],
) -> Result<Parsed, ParseError> {
    match Fast::new(text, known).parse(mat) {
        Ok(p) => Ok(p),
        Err(Bail) => parse_exact(text, mat),
    }
}

#[cfg(test)]
mod tests;
