//! At home in the shell: `qscope completions SHELL` and `qscope man`, both
//! generated from the one command-line definition ([`super::args::command`]).
//!
//! `--decode-as` takes `PORT=PROTO`. clap_complete's static scripts
//! complete an option's possible values as whole words, which covers the
//! bare protocol names (`--decode-as qmp`, for the relay) but not the part
//! after `PORT=`; for that, bash, zsh and fish get a few lines of their own
//! below, which complete the protocol after `PORT=` (elvish and PowerShell
//! complete the names alone).

use std::fmt::Write as _;
use std::io::{self, Write};

use clap_complete::Shell;
use roff::{bold, italic, roman, Roff};

use super::args::{self, proto_names};

/// The protocol names, space-separated.
fn names() -> String {
    proto_names().map(|(n, _)| n).collect::<Vec<_>>().join(" ")
}

/// bash splits words at `=` (it is in `COMP_WORDBREAKS`), so after
/// `--decode-as 4445=` the generated function sees neither the option nor
/// the port. This wrapper looks at the line itself: after `--decode-as
/// PORT=` it completes the protocol (keeping whatever part of the word
/// readline replaces), and leaves everything else to `_qscope`.
fn bash_extra() -> String {
    format!(
        r#"
# --decode-as PORT=PROTO: complete the protocol after "PORT=" (bash splits
# words at '=', so the function above does not see it); the rest: _qscope.
__qscope_complete() {{
    local line="${{COMP_LINE:0:COMP_POINT}}"
    if [[ "$line" =~ --decode-as(=|[[:space:]]+)[0-9]*=([A-Za-z]*)$ ]]; then
        local proto="${{BASH_REMATCH[2]}}" word="$2"
        local prefix="${{word%"$proto"}}"
        COMPREPLY=( $(compgen -P "$prefix" -W "{names}" -- "$proto") )
        return 0
    fi
    _qscope "$@"
}}
if [[ "${{BASH_VERSINFO[0]}}" -eq 4 && "${{BASH_VERSINFO[1]}}" -ge 4 || "${{BASH_VERSINFO[0]}}" -gt 4 ]]; then
    complete -F __qscope_complete -o nosort -o bashdefault -o default qscope
else
    complete -F __qscope_complete -o bashdefault -o default qscope
fi
"#,
        names = names()
    )
}

/// zsh: the `--decode-as` action, a function that strips `PORT=` (into
/// the ignored prefix) and offers the protocols.
fn zsh_function() -> String {
    let mut protos = String::new();
    for (n, help) in proto_names() {
        let _ = write!(protos, " '{n}:{help}'");
    }
    format!(
        r#"
(( $+functions[_qscope_command_or_capture] )) ||
_qscope_command_or_capture() {{
    _alternative 'commands:command:_qscope_commands' 'files:capture file:_files'
}}

(( $+functions[_qscope_decode_as] )) ||
_qscope_decode_as() {{
    local -a protos
    protos=({protos} )
    compset -P '*='
    _describe -t protocols 'protocol' protos
}}
"#
    )
}

/// zsh: the top level's first word is a command or a capture file (the
/// terminal UI). clap_complete counts the optional capture as a word of
/// its own before the command (`$line[2]`), so after `qscope print` zsh
/// would offer commands again: the capture's spec goes, the first word
/// completes both, and the command is `$line[1]`.
fn zsh_top_level(script: &str) -> String {
    let mut out = String::with_capacity(script.len());
    let mut capture_done = false;
    for line in script.split_inclusive('\n') {
        if !capture_done && line.starts_with("'::capture -- ") {
            capture_done = true;
            continue;
        }
        if line.starts_with("\":: :_qscope_commands\"") {
            out.push_str(&line.replace("_qscope_commands", "_qscope_command_or_capture"));
            continue;
        }
        out.push_str(&line.replace("$line[2]", "$line[1]"));
    }
    out
}

/// zsh: replaces the generated action of every `--decode-as` (the names
/// as a list) by `_qscope_decode_as`, and defines it; see also
/// [`zsh_top_level`].
fn zsh_patch(script: &str) -> String {
    let script = zsh_top_level(script);
    let script = script.as_str();
    let mut out = String::with_capacity(script.len() + 512);
    let mut rest = script;
    while let Some(at) = rest.find("--decode-as=[") {
        let (head, tail) = rest.split_at(at);
        out.push_str(head);
        // The action follows the value name: `:PORT=PROTO:((...))'` (names
        // with help) or `:PORT=PROTO:(...)'`, up to the closing quote.
        let marker = ":PORT=PROTO:";
        let Some(m) = tail.find(marker).map(|m| m + marker.len()) else {
            out.push_str(tail);
            rest = "";
            break;
        };
        let Some(end) = tail[m..].find(")'").map(|e| m + e + 1) else {
            out.push_str(tail);
            rest = "";
            break;
        };
        out.push_str(&tail[..m]);
        out.push_str("_qscope_decode_as");
        rest = &tail[end..];
    }
    out.push_str(rest);
    // Defined before the generated dispatch at the end of the script.
    let dispatch = "if [ \"$funcstack[1]\" = \"_qscope\" ]; then";
    match out.find(dispatch) {
        Some(at) => {
            let mut s = out[..at].to_string();
            s.push_str(&zsh_function());
            s.push('\n');
            s.push_str(&out[at..]);
            s
        }
        None => out + &zsh_function(),
    }
}

/// fish: a word `PORT=...` after `--decode-as` completes to `PORT=PROTO`
/// (added to the generated names).
fn fish_extra() -> String {
    let mut lines = String::new();
    for (n, help) in proto_names() {
        let _ = write!(lines, "\n        printf '%s=%s\\t%s\\n' $port {n} '{help}'");
    }
    format!(
        r#"
# --decode-as PORT=PROTO: complete the protocol after "PORT=".
function __qscope_decode_as
    set -l tok (commandline -ct)
    if string match -qr '^[0-9]*=' -- $tok
        set -l port (string replace -r '=.*' '' -- $tok){lines}
    end
end
complete -c qscope -n "not __fish_seen_subcommand_from filters completions man help" -l decode-as -r -f -a '(__qscope_decode_as)'
"#
    )
}

/// The completion script for `shell`.
pub fn completions(shell: Shell, out: &mut Vec<u8>) {
    let mut cmd = args::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "qscope", &mut script);
    let script = String::from_utf8_lossy(&script).into_owned();
    let script = match shell {
        Shell::Bash => script + &bash_extra(),
        Shell::Zsh => zsh_patch(&script),
        Shell::Fish => script + &fish_extra(),
        _ => script,
    };
    out.extend_from_slice(script.as_bytes());
}

/// Preformatted text (no filling) as roff.
fn preformatted(roff: &mut Roff, text: &str) {
    roff.control("nf", []);
    for line in text.lines() {
        roff.text([roman(line)]);
    }
    roff.control("fi", []);
}

/// Renders the man page: the top-level page (name, synopsis, description,
/// options, commands), then a section per command with its own synopsis,
/// description and options, then the filter reference, exit status,
/// environment and examples.
pub fn man(w: &mut dyn Write) -> io::Result<()> {
    let mut page = Vec::new();
    man_sections(&mut page)?;
    // Each rendered section repeats the preamble that defines \*(Aq: once
    // is enough.
    let page = String::from_utf8_lossy(&page);
    let preamble = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";
    let mut text = String::with_capacity(page.len());
    let mut seen = false;
    for (i, part) in page.split(preamble).enumerate() {
        if i > 0 && !seen {
            text.push_str(preamble);
            seen = true;
        }
        text.push_str(part);
    }
    w.write_all(text.as_bytes())
}

fn man_sections(out: &mut dyn Write) -> io::Result<()> {
    let mut cmd = args::command();
    cmd.build();
    let page = clap_mangen::Man::new(cmd.clone());
    // By hand: clap_mangen writes an empty date as nothing, which shifts
    // the arguments after it.
    writeln!(
        out,
        ".TH QSCOPE 1 \"\" \"qscope {}\" \"User Commands\"",
        env!("CARGO_PKG_VERSION")
    )?;
    page.render_name_section(out)?;
    page.render_synopsis_section(out)?;
    page.render_description_section(out)?;
    page.render_options_section(out)?;
    // Each command is a section of this page (not a page of its own, as
    // clap_mangen's list would say).
    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS"]);
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        roff.control("TP", []);
        roff.text([bold(format!("qscope {}", sub.get_name()))]);
        let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
        roff.text([roman(format!(
            "{about} (section QSCOPE {} below).",
            sub.get_name().to_uppercase()
        ))]);
    }
    roff.control("TP", []);
    roff.text([
        bold("qscope help"),
        roman(" ["),
        italic("COMMAND"),
        roman("]"),
    ]);
    roff.text([roman(
        "The help of qscope or of a command; qscope help filters shows the filter reference.",
    )]);
    roff.to_writer(out)?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let mut roff = Roff::new();
        roff.control(
            "SH",
            [format!("QSCOPE {}", sub.get_name().to_uppercase()).as_str()],
        );
        roff.to_writer(out)?;
        let sub_page = clap_mangen::Man::new(sub.clone());
        let mut body = Vec::new();
        sub_page.render_synopsis_section(&mut body)?;
        sub_page.render_description_section(&mut body)?;
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            sub_page.render_options_section(&mut body)?;
        }
        // Sections of the command's page become subsections here.
        let body = String::from_utf8_lossy(&body).replace("\n.SH ", "\n.SS ");
        let body = body
            .strip_prefix(".SH ")
            .map_or(body.clone(), |b| format!(".SS {b}"));
        out.write_all(body.as_bytes())?;
        if let Some(after) = sub.get_after_help() {
            let mut roff = Roff::new();
            roff.control("PP", []);
            preformatted(&mut roff, &after.to_string());
            roff.to_writer(out)?;
        }
    }
    let mut roff = Roff::new();
    filters_section(&mut roff);
    roff.control("SH", ["EXIT STATUS"]);
    for (code, text) in [
        (args::exit::OK, "Success."),
        (
            args::exit::FAILURE,
            "The input cannot be opened or read at all, the output cannot be written, \
             live capture failed, or a command refused (follow --raw on a direction with a gap).",
        ),
        (
            args::exit::USAGE,
            "Usage error: unknown option, bad value, invalid display filter.",
        ),
        (
            args::exit::DAMAGED,
            "The capture is damaged part-way: everything decoded before the fault is \
             still written, and one line on standard error says what and where.",
        ),
    ] {
        roff.control("TP", []);
        roff.text([bold(code.to_string())]);
        roff.text([roman(text)]);
    }
    roff.control("SH", ["ENVIRONMENT"]);
    roff.control("TP", []);
    roff.text([bold("NO_COLOR")]);
    roff.text([roman(
        "When set to a non-empty value, print does not colour its output unless \
         --color always is given (https://no-color.org).",
    )]);
    roff.control("SH", ["EXAMPLES"]);
    // The examples of --help (its first paragraph, without its title).
    let examples = args::AFTER.split("\n\n").next().unwrap_or_default();
    preformatted(
        &mut roff,
        examples.split_once('\n').map_or(examples, |(_, rest)| rest),
    );
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman("tshark(1), tcpdump(8), wireshark-filter(4)")]);
    roff.to_writer(out)
}

/// The filter reference as a man page section: the language as written,
/// then every field as a tagged paragraph.
fn filters_section(roff: &mut Roff) {
    use crate::filter::help;
    roff.control("SH", ["DISPLAY FILTERS"]);
    preformatted(roff, help::LANGUAGE);
    for g in help::field_groups() {
        roff.control("SS", [g.title]);
        for f in &g.fields {
            roff.control("TP", []);
            roff.text([bold(f.name), roman(format!(" ({})", f.kind))]);
            roff.text([roman(f.doc)]);
        }
    }
    for t in help::code_names() {
        roff.control("SS", [format!("Names of {}", t.field).as_str()]);
        let list: Vec<String> = t
            .entries
            .iter()
            .map(|(c, n)| format!("{n} ({c})"))
            .collect();
        roff.text([roman(format!(
            "{}s, in any case, or the number: {}.",
            t.what,
            list.join(", ")
        ))]);
    }
}
