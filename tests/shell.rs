//! At home in the shell: completion scripts driven in the shells
//! themselves (bash always; zsh and fish when installed), the man page
//! (its roff, and `man -l` when man is installed), and the built-in filter
//! reference against the parser's own field table.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::qscope;

const SUBCOMMANDS: &[&str] = &[
    "export",
    "print",
    "stats",
    "follow",
    "filters",
    "completions",
    "man",
];

fn stdout(args: &[&str]) -> String {
    let out = qscope(args);
    assert!(
        out.status.success(),
        "qscope {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Completes `line` (the cursor at its end) with the bash script: sources
/// it, sets the variables bash sets (words split as bash does, at blanks
/// and at `=`), calls the function `complete -p qscope` names, and
/// returns COMPREPLY. `breaks_at_equals`: whether `=` is in
/// COMP_WORDBREAKS (it is by default).
fn bash_complete(script: &str, line: &str, breaks_at_equals: bool) -> Vec<String> {
    // Words as bash's completion splits them.
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in line.chars() {
        match c {
            ' ' => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            '=' if breaks_at_equals => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                words.push("=".into());
            }
            c => cur.push(c),
        }
    }
    // The word being completed: what follows the last break ("" after
    // a blank or '=').
    let current = cur.clone();
    words.push(cur);
    let cword = words.len() - 1;
    let prev = words[cword - 1].clone();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        r#"source "$SCRIPT"
func=$(complete -p qscope | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
[ -n "$func" ] || {{ echo "no completion function registered" >&2; exit 1; }}
COMP_WORDS=({words})
COMP_CWORD={cword}
COMP_LINE='{line}'
COMP_POINT=${{#COMP_LINE}}
{wordbreaks}
"$func" qscope '{current}' '{prev}'
printf '%s\n' "${{COMPREPLY[@]}}"
"#,
        words = quoted.join(" "),
        wordbreaks = if breaks_at_equals {
            ""
        } else {
            "COMP_WORDBREAKS=\"${COMP_WORDBREAKS//=/}\""
        },
    );
    // A directory per call (tests run in parallel), removed after it.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("qscope-bash-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("qscope.bash");
    std::fs::write(&path, script).unwrap();
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .env("SCRIPT", &path)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_subcommands_flags_and_values() {
    let script = stdout(&["completions", "bash"]);
    let c = |line: &str| bash_complete(&script, line, true);
    assert_eq!(c("qscope exp"), ["export"]);
    assert_eq!(c("qscope fil"), ["filters"]);
    assert_eq!(c("qscope comp"), ["completions"]);
    let top = c("qscope ");
    for sub in SUBCOMMANDS.iter().chain(&["help"]) {
        assert!(top.contains(&sub.to_string()), "{sub} missing: {top:?}");
    }
    assert_eq!(c("qscope print --dec"), ["--decode-as"]);
    assert_eq!(c("qscope print x.pcap --col"), ["--color"]);
    assert_eq!(c("qscope filters --l"), ["--list"]);
    assert_eq!(c("qscope export --format "), ["jsonl", "json", "ek"]);
    assert_eq!(c("qscope stats --format "), ["table", "json"]);
    assert_eq!(c("qscope print --color "), ["auto", "always", "never"]);
    assert_eq!(
        c("qscope completions "),
        [
            "-h",
            "--help",
            "bash",
            "elvish",
            "fish",
            "powershell",
            "zsh"
        ]
    );
    assert_eq!(c("qscope help fi"), ["filters"]);
    // --decode-as: the protocol names alone, and after PORT=.
    let protos = ["qmp", "qm", "qps", "mqserver", "unknown"];
    assert_eq!(c("qscope print x.pcap --decode-as "), protos);
    assert_eq!(c("qscope export --decode-as q"), ["qmp", "qm", "qps"]);
    assert_eq!(c("qscope print x.pcap --decode-as 4445="), protos);
    assert_eq!(c("qscope stats --decode-as 4445=mq"), ["mqserver"]);
    assert_eq!(c("qscope print --decode-as=4445=u"), ["unknown"]);
    assert_eq!(c("qscope follow x.pcap s1 --decode-as 1=qp"), ["qps"]);
    // The top level (the terminal UI) takes it too.
    assert_eq!(c("qscope x.pcap --decode-as 4444=qm"), ["qmp", "qm"]);
    // Without '=' in COMP_WORDBREAKS the word is "4445=q": so are the
    // candidates.
    assert_eq!(
        bash_complete(&script, "qscope print --decode-as 4445=q", false),
        ["4445=qmp", "4445=qm", "4445=qps"]
    );
}

#[test]
fn zsh_completes_decode_as_and_commands() {
    let script = stdout(&["completions", "zsh"]);
    assert!(script.starts_with("#compdef qscope"));
    // Every --decode-as goes through the function that strips PORT=.
    assert!(!script.contains(":PORT=PROTO:(("));
    assert!(script.matches(":PORT=PROTO:_qscope_decode_as'").count() >= 5);
    assert!(script.contains("_qscope_decode_as() {"));
    // The command is the first word (the capture file of the UI is an
    // alternative to it, not a word before it).
    assert!(!script.contains("$line[2]"));
    assert!(script.contains("\":: :_qscope_command_or_capture\""));
    if !have("zsh") {
        eprintln!("zsh is not installed: the script's syntax is not checked");
        return;
    }
    let dir = std::env::temp_dir().join(format!("qscope-zsh-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("_qscope"), &script).unwrap();
    let out = Command::new("zsh")
        .args(["-f", "-n", dir.join("_qscope").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "zsh -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn fish_completes_decode_as() {
    let script = stdout(&["completions", "fish"]);
    assert!(script.contains("function __qscope_decode_as"));
    if !have("fish") {
        eprintln!("fish is not installed: completions not driven in fish");
        return;
    }
    let dir = std::env::temp_dir().join(format!("qscope-fish-{}", std::process::id()));
    let completions = dir.join("fish/completions");
    std::fs::create_dir_all(&completions).unwrap();
    std::fs::write(completions.join("qscope.fish"), &script).unwrap();
    let complete = |line: &str| -> Vec<String> {
        let out = Command::new("fish")
            .args(["--no-config", "-c"])
            .arg(format!(
                "source {}; complete -C '{line}'",
                completions.join("qscope.fish").display()
            ))
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.split('\t').next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        complete("qscope print x.pcap --decode-as 4445=q"),
        ["4445=qm", "4445=qmp", "4445=qps"]
    );
    assert_eq!(complete("qscope export --format j"), ["json", "jsonl"]);
    assert_eq!(complete("qscope exp"), ["export"]);
}

#[test]
fn every_shell_has_a_script() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let s = stdout(&["completions", shell]);
        assert!(s.contains("decode-as"), "{shell}");
        // The protocol names are offered in every shell.
        assert!(s.contains("mqserver"), "{shell}");
        for sub in SUBCOMMANDS {
            assert!(s.contains(sub), "{shell}: {sub}");
        }
    }
    let out = qscope(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_page_has_every_command_and_renders() {
    let page = stdout(&["man"]);
    let th = page.lines().find(|l| l.starts_with(".TH ")).unwrap();
    assert!(th.starts_with(".TH QSCOPE 1 "), "{th}");
    for sub in SUBCOMMANDS {
        assert!(
            page.contains(&format!(".SH \"QSCOPE {}\"", sub.to_uppercase()))
                || page.contains(&format!(".SH QSCOPE {}", sub.to_uppercase())),
            "no section for {sub}"
        );
        assert!(page.contains(&format!("qscope {sub}")), "{sub}");
    }
    for section in ["NAME", "SYNOPSIS", "OPTIONS", "COMMANDS", "EXIT STATUS"] {
        assert!(
            page.contains(&format!(".SH {section}"))
                || page.contains(&format!(".SH \"{section}\"")),
            "{section}"
        );
    }
    // Every filter field is in the page.
    for f in qscope::filter::fields() {
        assert!(
            page.contains(&f.name.replace('-', "\\-")) || page.contains(f.name),
            "{}",
            f.name
        );
    }
    if !have("man") {
        eprintln!("man is not installed: `man -l -` not run");
        return;
    }
    let mut child = Command::new("man")
        .args(["-l", "-"])
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "100")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "man -l: {errors}");
    assert!(errors.trim().is_empty(), "man -l warned: {errors}");
    // Rendered (no roff requests left), with its sections.
    assert!(!text.contains(".SH"), "{text}");
    for s in [
        "NAME",
        "SYNOPSIS",
        "QSCOPE PRINT",
        "DISPLAY FILTERS",
        "EXIT STATUS",
    ] {
        assert!(text.lines().any(|l| l.trim() == s), "{s} not rendered");
    }
    assert!(text.contains("qmp.execute"));
}

/// The field names `qscope help filters` shows: each field line is two
/// spaces, the name, two spaces and the type in parentheses.
fn listed_fields(reference: &str) -> Vec<String> {
    let types: Vec<String> = qscope::filter::fields()
        .iter()
        .map(|f| format!("({})", f.kind))
        .collect();
    reference
        .lines()
        .filter_map(|l| {
            let (name, ty) = l.strip_prefix("  ")?.split_once("  ")?;
            (!name.contains(' ') && types.iter().any(|t| t == ty)).then(|| name.to_owned())
        })
        .collect()
}

#[test]
fn help_filters_lists_every_field_of_the_parser() {
    let fields: Vec<String> = qscope::filter::fields()
        .iter()
        .map(|f| f.name.to_owned())
        .collect();
    assert!(fields.len() > 50);
    let help = stdout(&["help", "filters"]);
    assert!(help.contains("Usage: qscope filters"));
    let reference = stdout(&["filters"]);
    assert!(
        help.contains(reference.trim_end()),
        "help filters lacks the reference"
    );
    assert_eq!(stdout(&["filters", "--help"]), help);
    for text in [&help, &reference] {
        let mut listed = listed_fields(text);
        let mut want = fields.clone();
        listed.sort();
        want.sort();
        assert_eq!(listed, want);
    }
    // Types and meanings, from the table.
    for f in qscope::filter::fields() {
        assert!(
            reference.contains(&format!("  {}  ({})\n", f.name, f.kind)),
            "{}",
            f.name
        );
        let first_words: Vec<&str> = f.doc.split_whitespace().take(4).collect();
        assert!(reference.contains(&first_words.join(" ")), "{}", f.name);
    }
    // The language: operators, values and units, examples.
    for s in [
        "==",
        "contains",
        "matches",
        "in {",
        "&&",
        "||",
        "10ms",
        "0x2a",
        "10.0.0.0/8",
        "Examples",
        "PROTO.PATH",
        "Login (24)",
    ] {
        assert!(reference.contains(s), "{s}");
    }
    // One name per line for scripts, exactly the parser's.
    let list = stdout(&["filters", "--list"]);
    assert_eq!(list.lines().collect::<Vec<_>>(), fields);
    // Every listed name parses as a filter.
    for name in list.lines() {
        qscope::filter::Filter::parse(name).unwrap();
    }
}

#[test]
fn help_points_to_the_built_in_reference() {
    let help = stdout(&["--help"]);
    assert!(help.contains("qscope help filters"));
    assert!(!help.contains("docs/filters.md"));
    let print = stdout(&["print", "--help"]);
    assert!(print.contains("qscope help filters"));
    let cap = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/qmp/qmp-basic.pcap");
    let out = qscope(&["print", cap, "-Y", "http.host == 1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("qscope help filters"), "{err}");
}

#[test]
fn the_tui_positional_still_works_beside_the_new_commands() {
    // A capture file at the top level is still the UI's (which needs a
    // terminal: status 2 and its message, not a parse error).
    let cap = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/qmp/qmp-basic.pcap");
    let out = qscope(&[cap]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a terminal"));
    // A subcommand's name is the subcommand.
    assert!(qscope(&["man"]).status.success());
}
