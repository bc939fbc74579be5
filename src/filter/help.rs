//! The built-in filter reference (`qscope help filters`, `qscope filters`,
//! the man page): the language in short, kept here and only here, and
//! every field with its type and meaning, read from the same table the
//! parser resolves names with ([`super::fields`]), so that it cannot drift.
//! `docs/filters.md` is the long version for the repository.

use std::fmt::Write as _;

use qscope_dissectors::Proto;

use super::fields;
use super::FieldDoc;

/// The language, in short. Plain text for a terminal; the man page shows
/// it as it is (no filling).
pub const LANGUAGE: &str = r#"A display filter (-Y EXPR, in print, export, stats and the terminal UI)
selects messages, like tshark's -Y. It is checked completely before
anything is read; a mistake is shown with a caret under its column.

Syntax
  FIELD                   the field is present (error, session.mid_stream:
                          the field is true)
  FIELD OP VALUE          a comparison
  FIELD in {V1 V2 ...}    equal to one of the values (commas optional)
  ! X   not X             negation
  X && Y   X and Y        both
  X || Y   X or Y         either
  ( X )                   grouping; ! binds tightest, then &&, then ||
  Keywords are lower case; field names are case-sensitive; code names
  (qm.function == read) and fixed values (kind == REQUEST) are not.

Operators
  == !=  (eq ne)          everything; addresses also match networks
  < <= > >=  (lt le gt ge)
                          strings, integers, numbers, durations, times,
                          severities, codes
  contains                substring; an element of a list; a code's name
  matches  ~              regular expression, unanchored, case-sensitive
                          ((?i) ignores case)

Values
  "text"  'text'          strings; escapes \" \' \\ \n \r \t \0 \xHH \u{HEX},
                          any other backslash is kept ("\d+" needs no doubling)
  r"text"                 a raw string: no escapes
  query-status  Read      a bare word is a string where the field wants one
  42  -3  0x2a  2.5       integers (decimal, hexadecimal), numbers
  10ms 1.5s 250us 2m 1h   durations; units ns us µs ms s m min h (required,
                          except for 0)
  127.0.0.1 ::1 10.0.0.0/8
                          addresses and networks
  true false              booleans (1 and 0 for boolean fields)
  "2026-11-22T02:26:09Z"  times: RFC 3339 (UTC unless an offset is given), a
                          date alone (midnight UTC), or Unix seconds
  info warn error         severities, ordered info < warn < error
  null                    JSON null
  A value is read as the type of its field: one that does not fit is an
  error (latency > "abc"). For JSON and PROTO.PATH fields a bare word is
  also tried as a number, boolean or null: qmp.id == 5 matches 5 and "5",
  qmp.id == "5" only the string.

Missing and repeated fields
  A comparison on a missing field is false, whatever the operator:
  latency != 1ms does not select requests; !(latency == 1ms) does.
  Fields with several values (ip.addr, tcp.port, note, paths through
  lists): true if one value matches; != is true when the field is present
  and no value is equal.

Any decoded field: PROTO.PATH
  qmp.X, qm.X, qps.X, mqserver.X reach every field a dissector decodes (the
  tree of print -V, the "fields" of the export): mqserver.flags.require_ack,
  qps.items.field_name (a step through a list tries every element),
  qm.args.0.value (a number picks one). A qmp. path that is not a field
  below continues inside the JSON message: qmp.arguments.device,
  qmp.return.status, qmp.data.reason, qmp.error, qmp.timestamp.seconds.

Examples
  qmp.execute == "query-status"                 the command and its responses
  qmp.execute matches "^(migrate|x-)"           risky commands
  qmp.event in {STOP RESUME SHUTDOWN}
  qmp.arguments.device == "virtio-disk0"
  kind == response && latency > 100ms           slow answers
  error || expert >= warn                       anything wrong
  qm.function == Read && qm.outcome == SV_ELSE  records not found
  qm.function in {Login LocalLogin} && error    failed logins
  qps.request == Signon && error
  mqserver.msgtype == AUTH
  ip.src == 192.168.1.0/24 && tcp.dstport == 4444
  frame.time >= "2026-11-22T02:00:00Z" && session.elapsed < 5s
  note contains "clear-text"
"#;

/// A group of fields: its title and members, in table order.
pub struct FieldGroup {
    pub title: &'static str,
    pub fields: Vec<FieldDoc>,
}

/// The protocol a field belongs to (`qmp`, `qmp.execute`), if any.
fn proto_of(name: &str) -> Option<Proto> {
    let head = name.split('.').next().unwrap_or(name);
    Proto::KNOWN.iter().copied().find(|p| p.as_str() == head)
}

fn title(p: Option<Proto>) -> &'static str {
    match p {
        None => "Common fields",
        Some(p) => p.protocol().map_or("Other fields", |d| d.filter.title),
    }
}

/// Every field the parser knows, grouped (common fields first, then one
/// group per protocol), each group in table order.
#[must_use]
pub fn field_groups() -> Vec<FieldGroup> {
    let mut groups: Vec<(Option<Proto>, FieldGroup)> = Vec::new();
    for f in super::fields() {
        let p = proto_of(f.name);
        match groups.iter_mut().find(|(q, _)| *q == p) {
            Some((_, g)) => g.fields.push(*f),
            None => groups.push((
                p,
                FieldGroup {
                    title: title(p),
                    fields: vec![*f],
                },
            )),
        }
    }
    groups.sort_by_key(|(p, _)| p.is_some());
    groups.into_iter().map(|(_, g)| g).collect()
}

/// The names a field of the "name or integer" type accepts.
pub struct CodeTable {
    /// The field: `qm.function`.
    pub field: &'static str,
    /// What one name stands for: "QM function".
    pub what: &'static str,
    /// (code, name), in code order.
    pub entries: &'static [(i64, &'static str)],
}

/// The name tables of every coded field, in table order.
#[must_use]
pub fn code_names() -> Vec<CodeTable> {
    fields::code_tables()
        .map(|(field, names)| CodeTable {
            field,
            what: names.what,
            entries: names.entries,
        })
        .collect()
}

/// Words of `text` filled into lines of at most `width` characters (a
/// longer word stands alone), each line starting with `indent`.
fn fill(out: &mut String, text: &str, indent: &str, width: usize) {
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty()
            && indent.len() + line.chars().count() + 1 + word.chars().count() > width
        {
            let _ = writeln!(out, "{indent}{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{indent}{line}");
    }
}

/// The whole reference as text for a terminal: the language, every field
/// (name, type, meaning) and the names of coded fields.
#[must_use]
pub fn reference() -> String {
    let mut out = String::from("DISPLAY FILTERS\n\n");
    out.push_str(LANGUAGE);
    for g in field_groups() {
        let _ = writeln!(out, "\n{}", g.title);
        for f in &g.fields {
            let _ = writeln!(out, "  {}  ({})", f.name, f.kind);
            fill(&mut out, f.doc, "      ", 78);
        }
    }
    for t in code_names() {
        let _ = writeln!(
            out,
            "\nNames of {} ({}s; any case, or the number)",
            t.field, t.what
        );
        let list: Vec<String> = t
            .entries
            .iter()
            .map(|(c, n)| format!("{n} ({c})"))
            .collect();
        fill(&mut out, &list.join(", "), "  ", 78);
    }
    out
}

/// Every field name, one per line (`qscope filters --list`).
#[must_use]
pub fn field_list() -> String {
    super::fields()
        .iter()
        .map(|f| format!("{}\n", f.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Filter;

    #[test]
    fn the_examples_parse() {
        let examples = LANGUAGE.split("\nExamples\n").nth(1).unwrap();
        let mut n = 0;
        for line in examples.lines().filter(|l| !l.trim().is_empty()) {
            let expr = line.trim().split("  ").next().unwrap();
            Filter::parse(expr).unwrap_or_else(|e| panic!("{}", e.render(expr)));
            n += 1;
        }
        assert!(n >= 10);
    }

    #[test]
    fn every_field_is_in_one_group() {
        let grouped: Vec<&str> = field_groups()
            .iter()
            .flat_map(|g| g.fields.iter().map(|f| f.name))
            .collect();
        let mut all: Vec<&str> = crate::filter::fields().iter().map(|f| f.name).collect();
        let mut g = grouped.clone();
        all.sort_unstable();
        g.sort_unstable();
        assert_eq!(g, all);
        assert_eq!(field_groups()[0].title, "Common fields");
    }

    #[test]
    fn filled_lines_fit() {
        for l in reference().lines() {
            assert!(l.chars().count() <= 80, "{l}");
        }
    }
}
