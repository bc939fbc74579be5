//! The display filter language (`-Y EXPR`), tshark-like:
//!
//! ```text
//! qmp.execute == "query-status" && latency > 10ms
//! qm.function == Read && qm.outcome != SV_OK
//! ip.addr == 10.0.0.0/8 and not error
//! ```
//!
//! [`Filter::parse`] compiles an expression once: field names are resolved
//! to accessors, literals converted to the field's type, regular
//! expressions compiled; mistakes are reported with the 1-based character
//! column. [`Filter::matches`] then evaluates it on each
//! [`crate::record::MessageRecord`] without allocating, except
//! for paths that reach inside JSON text (QMP arguments and the like),
//! which parse that text.
//!
//! The language and every field are documented in `docs/filters.md`;
//! [`fields`] lists the fields for help screens, and [`help`] builds the
//! reference the binary prints (`qscope help filters`) from the same table.
//!
//! * `lexer`: characters to tokens.
//! * `parser`: tokens to an expression, with type checks.
//! * `fields`: the field table and how each field is read.
//! * `value`: literals, message values, comparisons.
//! * `eval`: the compiled expression.

mod eval;
mod fields;
pub mod help;
mod lexer;
mod parser;
mod value;

use std::fmt;

use crate::record::MessageRecord;

/// A compiled filter expression.
#[derive(Debug, Clone)]
pub struct Filter {
    source: String,
    expr: eval::Expr,
    warnings: Vec<String>,
}

impl Filter {
    /// Parses EXPR. Errors carry the 1-based character column of the mistake.
    ///
    /// # Errors
    ///
    /// A [`FilterError`] for any mistake: unknown field, bad literal for
    /// the field's type, operator the field does not support, invalid
    /// regular expression, unterminated string, unbalanced parentheses,
    /// missing operand, trailing input; an empty expression is an error
    /// too.
    pub fn parse(expr: &str) -> Result<Filter, FilterError> {
        let toks = lexer::lex(expr)?;
        let end_col = expr.chars().count() + 1;
        let (compiled, warnings) = parser::Parser::new(toks, end_col).parse()?;
        Ok(Filter {
            source: expr.to_owned(),
            expr: compiled,
            warnings,
        })
    }

    /// Parts of the expression that are valid but surely mistaken, one
    /// line each, e.g. a `qmp.` path that names no top-level QMP key
    /// (`qmp.exec`, which matches nothing; did you mean `qmp.execute`?).
    /// The filter runs as written.
    #[must_use]
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Does this message match?
    #[must_use]
    pub fn matches(&self, m: &MessageRecord<'_>) -> bool {
        self.expr.eval(m)
    }

    /// The expression as given (for display).
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// Why an expression does not parse, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterError {
    /// 1-based character column of the mistake (one past the end when
    /// something is missing at the end).
    pub column: usize,
    pub message: String,
}

impl FilterError {
    /// Two lines: the expression, and a caret under the column, e.g.
    ///
    /// ```text
    /// qmp.execute ==
    ///               ^ expected a value after '=='
    /// ```
    ///
    /// Control characters of the expression (line breaks included) are
    /// shown as spaces so that the result stays two lines; tabs are kept
    /// in the padding so that the caret lines up.
    #[must_use]
    pub fn render(&self, expr: &str) -> String {
        let line: String = expr
            .chars()
            .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
            .collect();
        let pad: String = expr
            .chars()
            .chain(std::iter::repeat(' '))
            .take(self.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!("{line}\n{pad}^ {}", self.message)
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for FilterError {}

/// One field of the language, for docs, `--help` and the UI's help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDoc {
    pub name: &'static str,
    /// "string", "integer", "duration", "address", "boolean", "severity",
    /// "time", "json", "protocol", "name or integer", "list of strings".
    pub kind: &'static str,
    pub doc: &'static str,
}

/// Every field the language knows, for docs, `--help` and the UI's help.
/// Besides these, `PROTO.PATH` reaches any decoded field (see
/// `docs/filters.md`, or `qscope help filters`).
#[must_use]
pub fn fields() -> &'static [FieldDoc] {
    fields::docs()
}

#[cfg(test)]
mod tests;
