//! The command line's definition: the arguments of every command (clap),
//! their value parsers and help texts, the exit statuses and [`Failure`].
//! A leaf of `cli`: the commands (the parent and its other children) read
//! it; it reads none of them.

use std::path::PathBuf;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use qscope_dissectors::Proto;

use crate::capture::relay::Addr;
use crate::human::color::When;
use crate::sink::text::TimeFormat;

pub const COMPLETIONS_AFTER: &str = "Install (each shell reads the file at its next start):
  bash:   qscope completions bash > ~/.local/share/bash-completion/completions/qscope
  zsh:    qscope completions zsh > ~/.zfunc/_qscope
          (with fpath+=~/.zfunc before compinit in ~/.zshrc)
  fish:   qscope completions fish > ~/.config/fish/completions/qscope.fish
  elvish: qscope completions elvish >> ~/.config/elvish/rc.elv
  powershell: qscope completions powershell >> $PROFILE
The manual page: qscope man > ~/.local/share/man/man1/qscope.1";

pub(super) const ABOUT: &str =
    "Dissector and traffic analyzer for QMP (QEMU Machine Protocol and guest agent), \
OpenQM/ScarletDME QMClient, Quark Publishing System 3.5 and MQServer";

pub(super) const AFTER: &str = "Examples:
  qscope print capture.pcap              one line per message
  qscope print -V capture.pcap           ... with every decoded field
  qscope export capture.pcap -o out.jsonl
  qscope print capture.pcap -Y 'qmp.execute == \"query-status\" && latency > 10ms'
  qscope export capture.pcap --format ek > bulk.ndjson   Elasticsearch/OpenSearch bulk
  qscope stats capture.pcap --slowest 5 --expert
  qscope follow capture.pcap s1 --raw --dir c2s > client.bin
  qscope print capture.pcap -Y 'qm.function == Login' -w logins.pcap
  qscope print -i lo                     live, on the loopback interface (feature `live`)
  qscope export -i any -f 'tcp port 4444' --format jsonl | jq .
  qscope export --listen unix:/tmp/tap.sock --connect unix:/run/qmp.sock | jq .
                                         relay a Unix-socket monitor and decode it

Display filter language and every field: qscope help filters.
Shell completions and the manual page: qscope completions SHELL, qscope man.

Exit status: 0 success; 1 the input cannot be opened or read, the output
cannot be written, or live capture failed; 2 a usage error (bad option or
value, invalid display filter); 3 the capture is damaged part-way
(everything decoded before the fault is written, summary included); 130
Ctrl-C stopped the analysis of a file (what was read is written, summary
included; a second Ctrl-C ends qscope at once).";

#[derive(Parser, Debug)]
#[command(name = "qscope", version, about = ABOUT, after_help = AFTER, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// List the interfaces live capture can use, and exit.
    #[arg(short = 'D', long = "list-interfaces")]
    pub list_interfaces: bool,
    /// Without a subcommand: open the terminal UI on CAPTURE or on the
    /// live interface given by -i.
    #[command(flatten)]
    pub ui: Common,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Export decoded sessions as JSON Lines (streamed) or one JSON document.
    Export(ExportArgs),
    /// Print a timeline: one line per message (time, session, direction,
    /// protocol, name, summary, latency).
    Print(PrintArgs),
    /// Statistics per protocol and command: counts, errors, replies
    /// missing, latency percentiles, slowest replies, sessions; with
    /// --expert, expert notes and security findings.
    Stats(StatsArgs),
    /// Print the reassembled byte stream of one session.
    Follow(FollowArgs),
    /// The display filter reference: the language of -Y and every field
    /// with its type and meaning (also: qscope help filters).
    Filters(FiltersArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish,
    /// powershell) to standard output.
    Completions(CompletionsArgs),
    /// Print the manual page (roff) to standard output.
    Man,
}

#[derive(Args, Debug)]
pub struct FiltersArgs {
    /// Only the field names, one per line (for scripts).
    #[arg(long)]
    pub list: bool,
}

#[derive(Args, Debug)]
#[command(after_help = COMPLETIONS_AFTER)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The command line's definition: [`Cli`]'s, with the filter reference as
/// the long help of `qscope filters` (so `qscope help filters` shows it).
/// Parsing, completions and the man page all use this one.
#[must_use]
pub fn command() -> clap::Command {
    Cli::command().mut_subcommand("filters", |c| {
        c.after_long_help(crate::filter::help::reference())
    })
}

/// Parses the process's arguments with [`command`]; exits on a usage
/// error, `--help` or `--version`, as clap does.
#[must_use]
pub fn parse() -> Cli {
    let matches = command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut command()).exit())
}

/// Where packets come from, and how they are decoded.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Capture file (pcap or pcapng), or - for standard input. Without it,
    /// capture live (-i), or relay (--listen/--connect).
    pub capture: Option<PathBuf>,
    /// Capture live on IFACE (`any` for all; feature `live`). Without a
    /// capture file and without -i, libpcap's default interface is used.
    #[arg(
        short = 'i',
        long = "interface",
        value_name = "IFACE",
        conflicts_with = "capture"
    )]
    pub interface: Option<String>,
    // Help: BPF capture filter for live capture [default: the registry's
    // ports, plus the ports of --decode-as].
    #[arg(short = 'f', long = "capture-filter", value_name = "BPF", help = capture_filter_help())]
    pub capture_filter: Option<String>,
    /// Stop after COUNT messages.
    #[arg(short = 'c', long = "count", value_name = "COUNT")]
    pub count: Option<u64>,
    /// Stop live capture after SECS seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Display filter: only messages matching EXPR are output (the language
    /// and every field: qscope help filters), e.g. 'qmp.execute == "quit" ||
    /// error'.
    #[arg(short = 'Y', long = "display-filter", value_name = "EXPR")]
    pub display_filter: Option<String>,
    /// Write packets to FILE (pcap). Live capture: every captured packet.
    /// Capture file: every packet of the sessions that have an output
    /// message (with -Y: a message matching the filter).
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// With -w: start a new file every MB megabytes (FILE, FILE.1, ...).
    #[arg(long = "ring-size", value_name = "MB", requires = "write")]
    pub ring_size: Option<u64>,
    /// With --ring-size: keep the newest N files.
    #[arg(
        long = "ring-files",
        value_name = "N",
        default_value_t = 10,
        requires = "ring_size"
    )]
    pub ring_files: usize,
    // Help: decode sessions on PORT as PROTO (the registry's names and
    // unknown); repeatable; with --listen, a PROTO alone applies to every
    // relayed session.
    #[arg(
        long = "decode-as",
        value_name = "PORT=PROTO",
        help = decode_as_help(),
        value_parser = DecodeAs(parse_decode_as_or_relay),
        hide_possible_values = true
    )]
    pub decode_as: Vec<(u16, Proto)>,
    /// Show passwords and other secrets instead of redacting them.
    #[arg(long)]
    pub show_secrets: bool,
    /// Worker threads for the analysis [default: the number of cores].
    /// The output is the same, byte for byte, for every number.
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// Memory the analysis may hold (reassembly buffers, incomplete
    /// messages, pairing state, per-session state): bytes, or with K, M, G
    /// (powers of 1024). Past it, the largest holders' buffers are dropped
    /// and then the oldest connections closed; the summary says what.
    #[arg(long = "memory-limit", value_name = "SIZE", value_parser = parse_size, default_value = "1G")]
    pub memory_limit: u64,
    /// No progress bar (shown on a terminal for files that take more than
    /// a second).
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Not an option: the command reads no bulk field (`stats` without a
    /// filter), so the dissectors leave them out (`Options::lean`), and
    /// the engine trims each message to what the statistics read
    /// (`stats::trim`).
    #[arg(skip)]
    pub lean: bool,
    /// Relay: accept clients on ADDR (unix:PATH or tcp:HOST:PORT), relay
    /// each to --connect byte for byte, and decode both directions.
    /// Whoever can connect to ADDR controls the target.
    #[arg(
        long,
        value_name = "ADDR",
        value_parser = parse_relay_addr,
        requires = "connect",
        conflicts_with_all = ["capture", "interface"]
    )]
    pub listen: Option<Addr>,
    /// Relay: where each client is relayed to (unix:PATH or tcp:HOST:PORT),
    /// e.g. a QEMU monitor or guest agent socket.
    #[arg(long, value_name = "ADDR", value_parser = parse_relay_addr, requires = "listen")]
    pub connect: Option<Addr>,
    /// Relay: most MB of relayed bytes waiting to be decoded; beyond, bytes
    /// are still relayed but left undecoded (a gap), never held up.
    #[arg(
        long = "relay-queue",
        value_name = "MB",
        default_value_t = 16,
        requires = "listen"
    )]
    pub relay_queue: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line (session, message, gap, undecoded, session_end, summary).
    Jsonl,
    /// One JSON document with the records grouped by session.
    Json,
    /// Elasticsearch/OpenSearch bulk lines: an index action and a document
    /// per message (like tshark -T ek).
    Ek,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StatsFormat {
    /// Aligned tables for terminals.
    Table,
    /// One JSON document.
    Json,
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    #[command(flatten)]
    pub common: Common,
    /// Output format.
    #[arg(long, short = 'F', value_enum, default_value_t = StatsFormat::Table)]
    pub format: StatsFormat,
    /// List the N slowest replies.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub slowest: usize,
    /// List at most N sessions in the table, then one line for the rest
    /// (0: all; the JSON output lists all).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub sessions: usize,
    /// Also list expert notes (grouped by severity and text) and security
    /// findings (clear-text credentials, unauthenticated logins).
    #[arg(long)]
    pub expert: bool,
    /// Write to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DirArg {
    /// Client to server.
    C2s,
    /// Server to client.
    S2c,
}

#[derive(Args, Debug)]
pub struct FollowArgs {
    /// Capture file (pcap or pcapng; not standard input: it is read twice).
    pub capture: PathBuf,
    /// The session: its id in print/export ("s1"), or CLIENT-SERVER
    /// addresses ("127.0.0.1:45828-127.0.0.1:4444", either order).
    pub session: String,
    /// Hex dump with stream offsets.
    #[arg(long, conflicts_with = "raw")]
    pub hex: bool,
    /// The exact bytes of one direction (needs --dir), no markers.
    #[arg(long, requires = "dir")]
    pub raw: bool,
    /// Only this direction.
    #[arg(long, value_enum)]
    pub dir: Option<DirArg>,
    /// With --raw: write the bytes around gaps instead of refusing.
    #[arg(long, requires = "raw")]
    pub allow_gaps: bool,
    /// Show the bytes of passwords and other secrets instead of masking
    /// them (`*`); --raw needs it for a direction that carries a credential.
    #[arg(long)]
    pub show_secrets: bool,
    /// Decode sessions on PORT as PROTO (as for print/export; it changes
    /// the session numbering the same way).
    #[arg(
        long = "decode-as",
        value_name = "PORT=PROTO",
        value_parser = DecodeAs(parse_decode_as),
        hide_possible_values = true
    )]
    pub decode_as: Vec<(u16, Proto)>,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub common: Common,
    /// Output format.
    #[arg(long, short = 'F', value_enum, default_value_t = Format::Jsonl)]
    pub format: Format,
    /// Write to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct PrintArgs {
    #[command(flatten)]
    pub common: Common,
    /// Also print every message's decoded fields.
    #[arg(short = 'V', long)]
    pub verbose: bool,
    /// Time column: r = seconds since the capture's first packet, a = UTC
    /// time of day, ad = UTC date and time, d = seconds since the previous
    /// line, e = seconds since the Unix epoch (as tshark's -t).
    #[arg(short = 't', long = "time-format", value_enum, default_value_t = TimeArg::R)]
    pub time_format: TimeArg,
    /// Colour directions, protocols, errors, warnings and slow replies:
    /// auto = only when standard output is a terminal and NO_COLOR is
    /// unset or empty (as tshark's --color).
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
}

/// `print --color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    /// When standard output is a terminal, NO_COLOR is unset or empty and
    /// TERM is not dumb.
    Auto,
    /// Always, even into a pipe or a file, whatever NO_COLOR says.
    Always,
    /// Never.
    Never,
}

impl From<ColorArg> for When {
    fn from(c: ColorArg) -> When {
        match c {
            ColorArg::Auto => When::Auto,
            ColorArg::Always => When::Always,
            ColorArg::Never => When::Never,
        }
    }
}

/// `print -t`: the time column's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TimeArg {
    /// Relative: seconds since the capture's first packet.
    R,
    /// Absolute: UTC time of day.
    A,
    /// Absolute with date: UTC date and time (RFC 3339).
    Ad,
    /// Delta: seconds since the previous line.
    D,
    /// Epoch: seconds since 1970-01-01T00:00:00Z.
    E,
}

impl From<TimeArg> for TimeFormat {
    fn from(t: TimeArg) -> TimeFormat {
        match t {
            TimeArg::R => TimeFormat::Relative,
            TimeArg::A => TimeFormat::Absolute,
            TimeArg::Ad => TimeFormat::AbsoluteDate,
            TimeArg::D => TimeFormat::Delta,
            TimeArg::E => TimeFormat::Epoch,
        }
    }
}

/// A size in bytes: `4096`, `512K`, `256M`, `1G`, `1GiB` (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size (e.g. 512M, 1G)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("'{s}': unknown unit (use K, M or G)")),
    };
    let v = n
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("'{s}' is too large"))?;
    if v < (1 << 20) {
        return Err(format!("'{s}': the memory limit must be at least 1M"));
    }
    Ok(v)
}

fn parse_relay_addr(s: &str) -> Result<Addr, String> {
    Addr::parse(s)
}

/// `--decode-as` of print, export, stats and the UI: `PORT=PROTO`, or a
/// bare `PROTO` for the relay's sessions (kept as port [`RELAY_PORT`]).
fn parse_decode_as_or_relay(s: &str) -> Result<(u16, Proto), String> {
    if !s.contains('=') {
        if let Some(proto) = Proto::from_name(s.trim()) {
            return Ok((RELAY_PORT, proto));
        }
    }
    parse_decode_as(s)
}

/// The value parser of `--decode-as`: `parse` checks a value; the
/// protocol names are its possible values, hidden from `--help` (a value is
/// `PORT=PROTO`, not a name alone) but offered by the shell completions.
#[derive(Clone, Copy)]
struct DecodeAs(fn(&str) -> Result<(u16, Proto), String>);

impl TypedValueParser for DecodeAs {
    type Value = (u16, Proto);

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        self.0.parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            proto_names().map(|(name, help)| PossibleValue::new(name).help(help)),
        ))
    }
}

/// The protocol names `--decode-as` takes, with a few words on each (the
/// registry's, then `unknown`).
pub fn proto_names() -> impl Iterator<Item = (&'static str, &'static str)> {
    Proto::KNOWN
        .iter()
        .copied()
        .chain([Proto::Unknown])
        .map(|p| {
            (
                p.as_str(),
                p.protocol().map_or("no decoding", |d| d.description),
            )
        })
}

/// The help of `--decode-as`, naming the protocols.
fn decode_as_help() -> String {
    let names: Vec<&str> = proto_names().map(|(name, _)| name).collect();
    format!(
        "Decode sessions on PORT as PROTO ({}); repeatable. With --listen, a PROTO alone applies to every relayed session",
        names.join(", ")
    )
}

/// The help of `-f`, showing the default filter.
fn capture_filter_help() -> String {
    format!(
        "BPF capture filter for live capture [default: {}, plus the ports of --decode-as]",
        ports_filter(&[])
    )
}

/// `tcp port P or ...` for the registry's well-known ports and `extra`,
/// each once.
pub(super) fn ports_filter(extra: &[u16]) -> String {
    let mut ports: Vec<u16> = Vec::new();
    for p in qscope_dissectors::well_known_ports()
        .map(|(p, _)| p)
        .chain(extra.iter().copied())
    {
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    ports
        .iter()
        .map(|p| format!("tcp port {p}"))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Stands for "the relay's sessions" in [`Common::decode_as`] (no session
/// has TCP port 0).
pub(super) const RELAY_PORT: u16 = 0;

fn parse_decode_as(s: &str) -> Result<(u16, Proto), String> {
    let (port, proto) = s
        .split_once('=')
        .ok_or_else(|| format!("expected PORT=PROTO, got '{s}'"))?;
    let port: u16 = port
        .trim()
        .parse()
        .map_err(|_| format!("'{port}' is not a TCP port number"))?;
    let proto = Proto::from_name(proto.trim()).ok_or_else(|| {
        let known: Vec<&str> = Proto::KNOWN.iter().map(|p| p.as_str()).collect();
        format!(
            "unknown protocol '{proto}' (expected {} or unknown)",
            known.join(", ")
        )
    })?;
    Ok((port, proto))
}

/// Exit statuses, distinct so that a script can tell them apart (listed in
/// the README and in `--help`).
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// The input cannot be opened or read at all, the output cannot be
    /// written, live capture failed, or a command refused to run.
    pub const FAILURE: i32 = 1;
    /// The command line is wrong: an unknown option, a bad value, an
    /// invalid display filter (clap's own status for usage errors).
    pub const USAGE: i32 = 2;
    /// The capture is damaged part-way: everything decoded before the
    /// fault was written (summary included) and standard error says what
    /// and where.
    pub const DAMAGED: i32 = 3;
    /// A capture file's analysis was stopped by SIGINT or SIGTERM: what
    /// was read is written (summary included, its `error` says so), the
    /// rest of the file was not read (the shell's 128 + SIGINT).
    pub const INTERRUPTED: i32 = 130;
}

/// A failure with its one-line reason; `code` is the exit status.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub reason: String,
}

impl Failure {
    /// A mistake on the command line ([`exit::USAGE`]).
    pub fn usage(reason: impl Into<String>) -> Failure {
        Failure {
            code: exit::USAGE,
            reason: reason.into(),
        }
    }
    /// Anything else that stops a command ([`exit::FAILURE`]).
    pub fn fail(reason: impl Into<String>) -> Failure {
        Failure {
            code: exit::FAILURE,
            reason: reason.into(),
        }
    }
}
