//! The shape of the source, checked on every test run, in both crates
//! (`src/` and `dissectors/src/`):
//!
//! * no import cycles between modules: module A uses module B (a `use`
//!   declaration or a path in the code through `crate::`, `super::` or
//!   `self::`, or a child module by name) and B, directly or through
//!   others, uses A. Each file is one module; comments, string literals
//!   and `#[cfg(test)]` items are ignored;
//! * no source file has more than 1,000 lines of non-test code;
//! * no function of the terminal UI (`src/tui/`) or of the dissectors is
//!   longer than 150 lines.
//!
//! The checker is a small tokenizer, not a Rust parser; `checker_sees_*`
//! keep it honest on the constructs it has to understand.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
const DISSECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/dissectors/src");

/// Most lines of non-test code in a source file of either crate.
const MAX_FILE_LINES: usize = 1000;
/// Most lines of a function in `src/tui/` and `dissectors/src/`.
const MAX_FN_LINES: usize = 150;

// ------------------------------------------------------------ tokens

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Punct(char),
    /// `::`
    Path,
    /// A literal (string, char, number): its content does not matter.
    Lit,
}

/// A token and the line (from 1) it starts on.
type Toks = Vec<(Tok, usize)>;

/// Splits Rust source into tokens, dropping comments and the contents of
/// literals.
fn tokenize(src: &str) -> Toks {
    let b: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    let count_lines = |from: usize, to: usize, b: &[char]| -> usize {
        b[from..to.min(b.len())]
            .iter()
            .filter(|c| **c == '\n')
            .count()
    };
    while i < b.len() {
        let c = b[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && b.get(i + 1) == Some(&'/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && b.get(i + 1) == Some(&'*') {
            let start = i;
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            line += count_lines(start, i, &b);
        } else if let Some(end) = raw_string_end(&b, i) {
            out.push((Tok::Lit, line));
            line += count_lines(i, end, &b);
            i = end;
        } else if c == '"' || (c == 'b' && b.get(i + 1) == Some(&'"')) {
            let start = i;
            out.push((Tok::Lit, line));
            i += if c == 'b' { 2 } else { 1 };
            while i < b.len() && b[i] != '"' {
                i += if b[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            line += count_lines(start, i, &b);
        } else if c == '\'' || (c == 'b' && b.get(i + 1) == Some(&'\'')) {
            // A char literal ('a', '\n', '\u{1F600}', b'x') or a lifetime.
            let q = if c == 'b' { i + 1 } else { i };
            let close = if b.get(q + 1) == Some(&'\\') {
                (q + 2..b.len().min(q + 14)).find(|&k| b[k] == '\'')
            } else if b.get(q + 2) == Some(&'\'') {
                Some(q + 2)
            } else {
                None
            };
            match close {
                Some(k) => {
                    out.push((Tok::Lit, line));
                    i = k + 1;
                }
                None => {
                    // A lifetime or a label: skip the quote and the name.
                    i = q + 1;
                    while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                        i += 1;
                    }
                }
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            let word: String = b[start..i].iter().collect();
            // r#ident
            if word == "r" && b.get(i) == Some(&'#') {
                i += 1;
                continue;
            }
            out.push((Tok::Ident(word), line));
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_' || b[i] == '.') {
                // `0..n`: stop before a range.
                if b[i] == '.' && b.get(i + 1) == Some(&'.') {
                    break;
                }
                i += 1;
            }
            out.push((Tok::Lit, line));
        } else if c == ':' && b.get(i + 1) == Some(&':') {
            out.push((Tok::Path, line));
            i += 2;
        } else {
            out.push((Tok::Punct(c), line));
            i += 1;
        }
    }
    out
}

/// The end of a raw string (`r"…"`, `r#"…"#`, `br#"…"#`) starting at `i`.
fn raw_string_end(b: &[char], i: usize) -> Option<usize> {
    let mut k = i;
    if b.get(k) == Some(&'b') {
        k += 1;
    }
    if b.get(k) != Some(&'r') {
        return None;
    }
    // Not the end of an identifier such as `bar"`.
    if i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_') {
        return None;
    }
    k += 1;
    let mut hashes = 0;
    while b.get(k) == Some(&'#') {
        hashes += 1;
        k += 1;
    }
    if b.get(k) != Some(&'"') {
        return None;
    }
    k += 1;
    while k < b.len() {
        if b[k] == '"' && (0..hashes).all(|h| b.get(k + 1 + h) == Some(&'#')) {
            return Some(k + 1 + hashes);
        }
        k += 1;
    }
    Some(b.len())
}

/// Index of the token that closes the bracket opened at `open`.
fn matching(t: &Toks, open: usize) -> usize {
    let (o, c) = match t[open].0 {
        Tok::Punct('{') => ('{', '}'),
        Tok::Punct('(') => ('(', ')'),
        Tok::Punct('[') => ('[', ']'),
        _ => return open,
    };
    let mut depth = 0;
    for (k, (tok, _)) in t.iter().enumerate().skip(open) {
        if *tok == Tok::Punct(o) {
            depth += 1;
        } else if *tok == Tok::Punct(c) {
            depth -= 1;
            if depth == 0 {
                return k;
            }
        }
    }
    t.len() - 1
}

fn is_ident(t: &Tok, s: &str) -> bool {
    matches!(t, Tok::Ident(w) if w == s)
}

/// Removes `#[cfg(test)]` items (a `mod tests { … }`, a `use`, a function)
/// and returns the rest, with the lines the removed items spanned.
fn strip_test_items(t: Toks) -> (Toks, usize) {
    let mut out = Vec::with_capacity(t.len());
    let mut removed_lines = 0;
    let mut i = 0;
    while i < t.len() {
        let cfg_test = t[i].0 == Tok::Punct('#')
            && t.get(i + 1).map(|x| &x.0) == Some(&Tok::Punct('['))
            && t.get(i + 2).is_some_and(|x| is_ident(&x.0, "cfg"))
            && t.get(i + 3).map(|x| &x.0) == Some(&Tok::Punct('('))
            && t.get(i + 4).is_some_and(|x| is_ident(&x.0, "test"))
            && t.get(i + 5).map(|x| &x.0) == Some(&Tok::Punct(')'));
        if !cfg_test {
            out.push(t[i].clone());
            i += 1;
            continue;
        }
        // The item: up to its `;` or the end of its first `{ … }` block.
        let first_line = t[i].1;
        let mut k = matching(&t, i + 1) + 1;
        while k < t.len() {
            match t[k].0 {
                Tok::Punct(';') => break,
                Tok::Punct('{') => {
                    k = matching(&t, k);
                    break;
                }
                Tok::Punct('(') | Tok::Punct('[') => k = matching(&t, k) + 1,
                _ => k += 1,
            }
        }
        let k = k.min(t.len() - 1);
        removed_lines += t[k].1 + 1 - first_line;
        i = k + 1;
    }
    (out, removed_lines)
}

// ------------------------------------------------------------ modules

struct Module {
    path: PathBuf,
    /// Module path within the crate (`["tui", "state"]`; `[]` is the root).
    name: Vec<String>,
    toks: Toks,
    /// Lines of `#[cfg(test)]` items.
    test_lines: usize,
    lines: usize,
    /// Children declared with `mod x;` or `mod x { … }`.
    children: BTreeSet<String>,
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every module of the library crate (`src/main.rs`, a crate of its own
/// that only calls the library, is left out), keyed by its module path.
fn modules(src: &Path) -> BTreeMap<Vec<String>, Module> {
    let mut files = Vec::new();
    rs_files(src, &mut files);
    let mut out = BTreeMap::new();
    for path in files {
        let rel = path.strip_prefix(src).unwrap();
        let mut name: Vec<String> = rel
            .with_extension("")
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        match name.last().map(String::as_str) {
            Some("main") if name.len() == 1 => continue,
            Some("lib") if name.len() == 1 => name.clear(),
            Some("mod") => {
                name.pop();
            }
            _ => {}
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let (toks, test_lines) = strip_test_items(tokenize(&text));
        let mut children = BTreeSet::new();
        // `protocols! { Qmp = qmp, ... }` (dissectors/src/lib.rs) declares
        // `pub mod qmp;` for each line: the name after each `=`.
        for (i, w) in toks.windows(3).enumerate() {
            if is_ident(&w[0].0, "protocols")
                && w[1].0 == Tok::Punct('!')
                && w[2].0 == Tok::Punct('{')
            {
                let close = matching(&toks, i + 2);
                for k in i + 3..close {
                    if let (Tok::Punct('='), Some(Tok::Ident(n))) =
                        (&toks[k].0, toks.get(k + 1).map(|x| &x.0))
                    {
                        children.insert(n.clone());
                    }
                }
            }
        }
        for w in toks.windows(3) {
            if is_ident(&w[0].0, "mod") {
                if let Tok::Ident(n) = &w[1].0 {
                    if matches!(w[2].0, Tok::Punct(';') | Tok::Punct('{')) {
                        children.insert(n.clone());
                    }
                }
            }
        }
        out.insert(
            name.clone(),
            Module {
                path,
                name,
                toks,
                test_lines,
                lines: text.lines().count(),
                children,
            },
        );
    }
    // Files of test modules (`#[cfg(test)] mod tests;`) are not modules
    // of the built crate: drop the files no parent declares any more.
    let declared: BTreeSet<Vec<String>> = out
        .values()
        .flat_map(|m| {
            m.children.iter().map(|c| {
                let mut n = m.name.clone();
                n.push(c.clone());
                n
            })
        })
        .collect();
    out.retain(|name, _| name.is_empty() || declared.contains(name));
    out
}

/// Expands the tree of a `use` declaration starting at `t[i]` (just after
/// `use`) into full paths; returns them and the index after the `;`.
fn use_paths(t: &Toks, i: usize) -> (Vec<Vec<String>>, usize) {
    fn tree(t: &Toks, mut i: usize, prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
        let mut path = prefix.to_vec();
        loop {
            match &t[i].0 {
                Tok::Path => i += 1,
                Tok::Ident(w) if w == "as" => {
                    i += 2;
                }
                Tok::Ident(w) => {
                    if w != "self" || path.is_empty() {
                        path.push(w.clone());
                    }
                    i += 1;
                }
                Tok::Punct('*') => i += 1,
                Tok::Punct('{') => {
                    i += 1;
                    while t[i].0 != Tok::Punct('}') {
                        i = tree(t, i, &path, out);
                        if t[i].0 == Tok::Punct(',') {
                            i += 1;
                        }
                    }
                    return i + 1;
                }
                _ => {
                    if !path.is_empty() {
                        out.push(path);
                    }
                    return i;
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut k = tree(t, i, &[], &mut out);
    while k < t.len() && t[k].0 != Tok::Punct(';') {
        k += 1;
    }
    (out, k + 1)
}

/// Every path a module refers to: its `use` declarations and the
/// `crate::`/`super::`/`self::` paths in its code.
fn referenced_paths(m: &Module) -> Vec<Vec<String>> {
    let t = &m.toks;
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        if is_ident(&t[i].0, "use") {
            let (paths, next) = use_paths(t, i + 1);
            out.extend(paths);
            i = next;
            continue;
        }
        let starts = matches!(&t[i].0, Tok::Ident(w) if w == "crate" || w == "super" || w == "self")
            && t.get(i + 1).map(|x| &x.0) == Some(&Tok::Path)
            // not a continuation (`a::super::b` does not occur) or `pub(in crate::x)`
            && (i == 0 || (t[i - 1].0 != Tok::Path && !is_ident(&t[i - 1].0, "in")));
        if starts {
            let mut path = Vec::new();
            let mut k = i;
            while let Some(Tok::Ident(w)) = t.get(k).map(|x| &x.0) {
                path.push(w.clone());
                if t.get(k + 1).map(|x| &x.0) != Some(&Tok::Path) {
                    break;
                }
                k += 2;
            }
            out.push(path);
            i = k + 1;
            continue;
        }
        i += 1;
    }
    out
}

/// The module a path from module `from` lands in (the longest prefix that
/// is a module), or `None` for another crate.
fn resolve(
    from: &Module,
    path: &[String],
    mods: &BTreeMap<Vec<String>, Module>,
) -> Option<Vec<String>> {
    let mut cur: Vec<String>;
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => {
            cur = Vec::new();
            rest = &path[1..];
        }
        Some("super") | Some("self") => {
            cur = from.name.clone();
            while let Some(s) = rest.first() {
                match s.as_str() {
                    "super" => {
                        cur.pop();
                    }
                    "self" => {}
                    _ => break,
                }
                rest = &rest[1..];
            }
        }
        Some(first) if from.children.contains(first) => cur = from.name.clone(),
        _ => return None,
    }
    for seg in rest {
        let mut next = cur.clone();
        next.push(seg.clone());
        if mods.contains_key(&next) {
            cur = next;
        } else {
            break;
        }
    }
    Some(cur)
}

type Graph = BTreeMap<Vec<String>, BTreeSet<Vec<String>>>;

fn graph(mods: &BTreeMap<Vec<String>, Module>) -> Graph {
    let mut g = Graph::new();
    for m in mods.values() {
        let edges = g.entry(m.name.clone()).or_default();
        for p in referenced_paths(m) {
            if let Some(to) = resolve(m, &p, mods) {
                if to != m.name {
                    edges.insert(to);
                }
            }
        }
    }
    g
}

fn show(name: &[String]) -> String {
    if name.is_empty() {
        "crate".into()
    } else {
        name.join("::")
    }
}

/// The strongly connected components of more than one module (Tarjan).
fn cycles(g: &Graph) -> Vec<Vec<Vec<String>>> {
    struct T<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on: BTreeSet<&'a Vec<String>>,
        out: Vec<Vec<Vec<String>>>,
    }
    impl<'a> T<'a> {
        fn visit(&mut self, v: &'a Vec<String>) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on.insert(v);
            for w in self.g.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if self.on.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut scc = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on.remove(w);
                    scc.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if scc.len() > 1 {
                    scc.sort();
                    self.out.push(scc);
                }
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    t.out
}

/// One cycle through the modules of `scc`, for the message.
fn one_cycle(g: &Graph, scc: &[Vec<String>]) -> String {
    let inside: BTreeSet<&Vec<String>> = scc.iter().collect();
    let start = &scc[0];
    // Breadth-first from start's successors back to start.
    let mut prev: BTreeMap<&Vec<String>, &Vec<String>> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for w in g.get(v).into_iter().flatten() {
            if !inside.contains(w) || prev.contains_key(w) {
                continue;
            }
            prev.insert(w, v);
            if w == start {
                let mut path = vec![show(start)];
                let mut cur = prev[start];
                while cur != start {
                    path.push(show(cur));
                    cur = prev[cur];
                }
                path.push(show(start));
                path.reverse();
                return path.join(" -> ");
            }
            queue.push_back(w);
        }
    }
    scc.iter().map(|m| show(m)).collect::<Vec<_>>().join(", ")
}

fn name(s: &str) -> Vec<String> {
    if s == "crate" {
        return Vec::new();
    }
    s.split("::").map(str::to_string).collect()
}

// ------------------------------------------------------------ tests

/// The two crates whose shape is checked: the application and the
/// dissector library.
fn crates() -> [(&'static str, PathBuf); 2] {
    [
        ("src", PathBuf::from(SRC)),
        ("dissectors/src", PathBuf::from(DISSECTORS)),
    ]
}

#[test]
fn no_import_cycles_in_either_crate() {
    let mut problems = Vec::new();
    for (label, dir) in crates() {
        let g = graph(&modules(&dir));
        for scc in cycles(&g) {
            problems.push(format!(
                "{label}: {}  (the circle: {})",
                one_cycle(&g, &scc),
                scc.iter().map(|m| show(m)).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "modules that import each other (directly or in a circle):\n  {}",
        problems.join("\n  ")
    );
}

/// The functions of `m` longer than `max` lines: (name, first line, lines).
fn long_functions(m: &Module, max: usize) -> Vec<(String, usize, usize)> {
    let t = &m.toks;
    let mut out = Vec::new();
    for i in 0..t.len() {
        if !is_ident(&t[i].0, "fn") {
            continue;
        }
        let Some(Tok::Ident(f)) = t.get(i + 1).map(|x| &x.0) else {
            continue;
        };
        // The body: the first `{` before any `;` (a declaration has none).
        let Some(open) = (i..t.len())
            .take_while(|&k| t[k].0 != Tok::Punct(';'))
            .find(|&k| t[k].0 == Tok::Punct('{'))
        else {
            continue;
        };
        let close = matching(t, open);
        let lines = t[close].1 + 1 - t[i].1;
        if lines > max {
            out.push((f.clone(), t[i].1, lines));
        }
    }
    out
}

#[test]
fn no_source_file_over_the_line_limit() {
    let mut problems = Vec::new();
    for (_, dir) in crates() {
        for m in modules(&dir).values() {
            let code = m.lines - m.test_lines;
            if code > MAX_FILE_LINES {
                problems.push(format!(
                    "{}: {code} lines of non-test code (at most {MAX_FILE_LINES})",
                    m.path.display()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Functions of the dissectors over the limit when the limit was set,
/// as `file:fn` (the list may only shrink: the test fails when one of them
/// is short enough, to keep it current).
const KNOWN_LONG: &[&str] = &[
    "mqserver/body.rs:split_text",
    "mqserver/early.rs:message",
    "mqserver/text.rs:parse_front",
    "qm/mod.rs:request",
    "qm/request.rs:layout",
];

#[test]
fn tui_and_dissector_functions_stay_short() {
    let mut problems = Vec::new();
    let mut known = Vec::new();
    for (label, dir) in crates() {
        for m in modules(&dir).values() {
            // The terminal UI and the dissectors; the rest of `src/` is
            // not held to it (yet).
            let held = label == "dissectors/src" || m.name.first().is_some_and(|n| n == "tui");
            if !held {
                continue;
            }
            for (f, line, lines) in long_functions(m, MAX_FN_LINES) {
                let rel = m.path.strip_prefix(&dir).unwrap().display().to_string();
                if KNOWN_LONG.contains(&format!("{rel}:{f}").as_str()) {
                    known.push(format!("{rel}:{f}"));
                    continue;
                }
                problems.push(format!(
                    "{}:{line}: fn {f} has {lines} lines (at most {MAX_FN_LINES})",
                    m.path.display()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for k in KNOWN_LONG {
        assert!(
            known.iter().any(|x| x == k),
            "{k} is within the limit now (or gone): update KNOWN_LONG"
        );
    }
}

#[test]
fn checker_sees_uses_paths_and_cycles() {
    let src = r##"
        //! use crate::a; (a comment)
        use super::{b::{self, X}, c as d};
        use crate::e::*;
        use std::io;
        mod child;
        fn f() -> &'static str {
            let _ = crate::g::h();
            let _ = '"';
            let _ = "use crate::nope;";
            let _ = r#"crate::nope2::x"#;
            super::super::i::j()
        }
        pub(in crate::k) fn vis() {}
        #[cfg(test)]
        mod tests {
            use crate::testonly;
        }
        /* use crate::block; */
    "##;
    let (toks, test_lines) = strip_test_items(tokenize(src));
    assert_eq!(test_lines, 4);
    let m = Module {
        path: PathBuf::from("x.rs"),
        name: name("p::q::r"),
        toks,
        test_lines,
        lines: 0,
        children: ["child".to_string()].into(),
    };
    let mut paths: Vec<String> = referenced_paths(&m).iter().map(|p| p.join("::")).collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "crate::e",
            "crate::g::h",
            "std::io",
            "super::b",
            "super::b::X",
            "super::c",
            "super::super::i::j"
        ]
    );
    let mut mods = BTreeMap::new();
    for n in ["p::q", "p::q::b", "p::q::c", "e", "g", "p::i"] {
        mods.insert(
            name(n),
            Module {
                path: PathBuf::new(),
                name: name(n),
                toks: Vec::new(),
                test_lines: 0,
                lines: 0,
                children: BTreeSet::new(),
            },
        );
    }
    let targets: BTreeSet<String> = referenced_paths(&m)
        .iter()
        .filter_map(|p| resolve(&m, p, &mods))
        .map(|n| show(&n))
        .collect();
    assert_eq!(
        targets,
        ["e", "g", "p::i", "p::q::b", "p::q::c"]
            .map(String::from)
            .into()
    );

    let mut g = Graph::new();
    let edge = |g: &mut Graph, a: &str, b: &str| {
        g.entry(name(a)).or_default().insert(name(b));
        g.entry(name(b)).or_default();
    };
    edge(&mut g, "a", "b");
    edge(&mut g, "b", "c");
    edge(&mut g, "c", "a");
    edge(&mut g, "c", "d");
    let c = cycles(&g);
    assert_eq!(c.len(), 1);
    assert_eq!(one_cycle(&g, &c[0]), "a -> b -> c -> a");
}

#[test]
fn checker_reads_the_real_source() {
    let mods = modules(Path::new(SRC));
    let g = graph(&mods);
    let has = |a: &str, b: &str| g.get(&name(a)).is_some_and(|e| e.contains(&name(b)));
    // A sample of edges known to exist, so that an empty graph fails.
    assert!(has("engine::merge", "engine::item"));
    assert!(has("tui::feed", "tui::index"));
    assert!(has("sink::json", "record"));
    // The protocols are declared by `protocols!`, the specs by their folder.
    let d = graph(&modules(Path::new(DISSECTORS)));
    assert!(d
        .get(&name("qmp::spec"))
        .is_some_and(|e| e.contains(&name("qmp"))));
    assert!(d
        .get(&name("qm"))
        .is_some_and(|e| e.contains(&name("toolkit"))));
    assert!(
        !mods.contains_key(&name("filter::tests")),
        "test files are not modules"
    );
}
