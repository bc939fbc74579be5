//! Command-line interface: argument parsing and the subcommands.

mod follow;
mod progress;
mod report;
mod shell;

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use qscope_dissectors::{Options, Proto};

use crate::capture::relay::{self, Addr, Relay, RelayOptions};
use crate::capture::writer::PcapWriter;
use crate::capture::{FileSource, Source};
use crate::engine::{analyze, AnalyzeError, Config};
use crate::filter::Filter;
use crate::human::color::{use_color, Paint, When};
use crate::layers::{self, Decoded};
use crate::record::{Flow, Record, Sink, Summary};
use crate::sink::ek::EkWriter;
use crate::sink::json::{JsonDocWriter, JsonlWriter};
use crate::sink::select::Select;
use crate::sink::text::{TextPrinter, TimeFormat};
use crate::stats::Collector;

const ABOUT: &str =
    "Dissector and traffic analyzer for QMP (QEMU Machine Protocol and guest agent), \
OpenQM/ScarletDME QMClient, Quark Publishing System 3.5 and MQServer";

const AFTER: &str = "Examples:
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
(everything decoded before the fault is written, summary included).";

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
#[command(after_help = shell::COMPLETIONS_AFTER)]
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
fn ports_filter(extra: &[u16]) -> String {
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
const RELAY_PORT: u16 = 0;

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

impl Common {
    fn config(&self, stop: &Arc<AtomicBool>) -> Config {
        let relay_port = self.connect.as_ref().map(Addr::server_port);
        let mut pairs: Vec<(u16, Proto)> = self
            .decode_as
            .iter()
            .filter(|(p, _)| *p != RELAY_PORT)
            .copied()
            .collect();
        // A bare PROTO: the relay's server port, after any PORT=PROTO.
        pairs.extend(
            self.decode_as
                .iter()
                .filter_map(|(p, proto)| (*p == RELAY_PORT).then_some((relay_port?, *proto))),
        );
        let mut cfg = Config::default().with_decode_as(pairs);
        cfg.opts = Options {
            show_secrets: self.show_secrets,
        };
        cfg.stop = Some(stop.clone());
        cfg.jobs = self.jobs.unwrap_or(0);
        cfg.memory_limit = self.memory_limit;
        cfg
    }

    /// The live capture filter: as given, or the registry's well-known
    /// ports and those of `--decode-as`.
    pub fn live_filter(&self) -> String {
        if let Some(f) = &self.capture_filter {
            return f.clone();
        }
        let extra: Vec<u16> = self
            .decode_as
            .iter()
            .map(|(p, _)| *p)
            .filter(|p| *p != RELAY_PORT)
            .collect();
        ports_filter(&extra)
    }

    fn is_live(&self) -> bool {
        self.capture.is_none()
    }

    /// The compiled `-Y` expression; a mistake is reported as the
    /// expression with a caret under it, and its warnings go to standard
    /// error (call it once per command).
    pub fn filter(&self) -> Result<Option<Filter>, Failure> {
        let Some(expr) = &self.display_filter else {
            return Ok(None);
        };
        let f = Filter::parse(expr).map_err(|e| {
            Failure::usage(format!("invalid display filter (-Y):\n{}", e.render(expr)))
        })?;
        for w in f.warnings() {
            eprintln!("qscope: warning: {w}");
        }
        Ok(Some(f))
    }
}

/// An opened input: a file or a live interface.
pub struct Input {
    pub source: Box<dyn Source + Send>,
    pub live: bool,
    /// Raised by signals or the message count to stop reading.
    pub stop: Arc<AtomicBool>,
    /// What the input is, for titles and messages.
    pub name: String,
    /// The relay, for `--listen`/`--connect` (stopped when dropped).
    pub relay: Option<Relay>,
}

/// Opens the capture file, or the live interface (then installs the
/// signal handlers and gives up root rights taken through sudo).
pub fn open_input(common: &Common) -> Result<Input, Failure> {
    let stop = Arc::new(AtomicBool::new(false));
    if common.write.is_some()
        && common
            .capture
            .as_deref()
            .is_some_and(|p| p == Path::new("-"))
    {
        return Err(Failure::usage(
            "-w with a capture file reads the file twice: give a file name, not - (standard input)",
        ));
    }
    if common.decode_as.iter().any(|(p, _)| *p == RELAY_PORT) && common.listen.is_none() {
        return Err(Failure::usage(
            "--decode-as PROTO without a port applies to the relay (--listen/--connect) only; \
             give PORT=PROTO",
        ));
    }
    if common.listen.is_some() {
        if common.capture_filter.is_some() {
            return Err(Failure::usage(
                "-f applies to live capture (-i) only, not to the relay",
            ));
        }
        return open_relay(common, stop);
    }
    if common.ring_size.is_some() && !common.is_live() {
        return Err(Failure::usage(
            "--ring-size applies to live capture only (-i IFACE)",
        ));
    }
    for (what, given) in [
        ("-f", common.capture_filter.is_some()),
        ("--duration", common.duration.is_some()),
    ] {
        if given && !common.is_live() {
            return Err(Failure::usage(format!(
                "{what} applies to live capture only (-i IFACE)"
            )));
        }
    }
    match &common.capture {
        Some(path) => {
            let source = FileSource::open(path).map_err(|e| Failure::fail(e.to_string()))?;
            Ok(Input {
                source: Box::new(source),
                live: false,
                stop,
                name: path.display().to_string(),
                relay: None,
            })
        }
        None => open_live(common, stop),
    }
}

/// `--duration`, checked.
fn duration(common: &Common) -> Result<Option<std::time::Duration>, Failure> {
    match common.duration {
        Some(s) if s.is_finite() && s > 0.0 => Ok(Some(std::time::Duration::from_secs_f64(s))),
        Some(s) => Err(Failure::usage(format!(
            "--duration {s}: expected a positive number of seconds"
        ))),
        None => Ok(None),
    }
}

/// Starts the relay (`--listen`/`--connect`): the signals stop it (its
/// connections are closed, what is queued is still decoded); `stop`
/// (the analysis is over) ends its source at once.
#[allow(unsafe_code)] // a libc call: see its SAFETY comment
fn open_relay(common: &Common, stop: Arc<AtomicBool>) -> Result<Input, Failure> {
    let (Some(listen), Some(connect)) = (&common.listen, &common.connect) else {
        return Err(Failure::usage("--listen and --connect go together"));
    };
    let mut opts = RelayOptions::new(listen.clone(), connect.clone());
    opts.queue_bytes = common.relay_queue.max(1).saturating_mul(1 << 20);
    opts.duration = duration(common)?;
    opts.stop = stop.clone();
    opts.write = common.write.clone();
    opts.ring_bytes = common.ring_size.map(|mb| mb.saturating_mul(1 << 20));
    opts.ring_files = common.ring_files;
    let (relay, source) = Relay::start(opts).map_err(|e| match e {
        relay::StartError::Usage(s) => Failure::usage(s),
        relay::StartError::Fail(s) => Failure::fail(s),
    })?;
    // The relay comes first: this thread (and the engine's threads it
    // starts) decode at a lower priority than the relay's threads, which
    // were started before and keep the normal one (Linux: per thread).
    // SAFETY: nice has no preconditions; failing leaves the priority as is.
    unsafe {
        libc::nice(5);
    }
    crate::capture::signals::stop_on_signals(relay.stop_flag())
        .map_err(|e| Failure::fail(format!("cannot install signal handlers: {e}")))?;
    eprintln!(
        "qscope: relaying {} -> {} (sessions appear as {}:{}+ -> {}:{})",
        relay.listening(),
        relay.target(),
        crate::capture::synth::CLIENT_IP,
        relay::FIRST_CLIENT_PORT,
        crate::capture::synth::SERVER_IP,
        connect.server_port()
    );
    Ok(Input {
        source: Box::new(source),
        live: true,
        stop,
        name: format!("relay {} -> {}", relay.listening(), relay.target()),
        relay: Some(relay),
    })
}

/// After the analysis of a relay: an analysis that ended on its own
/// (`-c`, output closed, an internal error) leaves the open connections
/// relayed to their end; then the relay stops and says what passed.
fn finish_relay(mut relay: Relay, why: Option<String>) {
    if !relay.stopping() {
        let open = relay.stats().open;
        if open > 0 {
            eprintln!(
                "qscope: decoding has ended ({}); relaying the {open} open connection(s) \
                 until they close (Ctrl-C closes them now)",
                why.as_deref().unwrap_or("done")
            );
        }
        relay.drain();
    }
    relay.stop();
    let s = relay.stats();
    let lost = if s.dropped_chunks == 0 {
        "all decoded".to_string()
    } else {
        format!(
            "{} chunk(s), {} bytes relayed but not decoded (decoding fell behind; gaps in the sessions)",
            s.dropped_chunks, s.dropped_bytes
        )
    };
    eprintln!(
        "qscope: relay: {} client(s){}, {} bytes client->target, {} bytes target->client; {lost}",
        s.clients,
        if s.refused > 0 {
            format!(" ({} could not reach the target)", s.refused)
        } else {
            String::new()
        },
        s.bytes[0],
        s.bytes[1]
    );
}

#[cfg(feature = "live")]
fn open_live(common: &Common, stop: Arc<AtomicBool>) -> Result<Input, Failure> {
    use crate::capture::live::{drop_privileges, stop_on_signals, LiveOptions, LiveSource};
    let duration = duration(common)?;
    let opts = LiveOptions {
        interface: common.interface.clone(),
        filter: common.live_filter(),
        duration,
        stop: stop.clone(),
        write: common.write.clone(),
        ring_bytes: common.ring_size.map(|mb| mb.saturating_mul(1 << 20)),
        ring_files: common.ring_files,
    };
    let source = LiveSource::open(&opts).map_err(|e| Failure::fail(e.to_string()))?;
    stop_on_signals(&stop)
        .map_err(|e| Failure::fail(format!("cannot install signal handlers: {e}")))?;
    let name = source.name().to_string();
    match drop_privileges() {
        Ok(Some((uid, gid))) => {
            eprintln!("qscope: capture open; now running as uid {uid}, gid {gid}")
        }
        Ok(None) => {}
        Err(e) => return Err(Failure::fail(format!("cannot give up root rights: {e}"))),
    }
    eprintln!("qscope: capturing on {name} (filter: {})", opts.filter);
    Ok(Input {
        source: Box::new(source),
        live: true,
        stop,
        name,
        relay: None,
    })
}

#[cfg(not(feature = "live"))]
fn open_live(_common: &Common, _stop: Arc<AtomicBool>) -> Result<Input, Failure> {
    Err(Failure::usage(
        "no capture file given, and this qscope was built without live capture \
         (rebuild with `cargo build --release --features live`, which needs libpcap-dev)",
    ))
}

/// Passes records on until `remaining` messages were written, then asks
/// the analysis to stop and drops any later message (`-c COUNT`); the
/// sessions still end and the summary is still written.
struct Limit<'a> {
    inner: &'a mut dyn Sink,
    remaining: Option<u64>,
}

impl Sink for Limit<'_> {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
        if let Record::Message(_) = rec {
            match &mut self.remaining {
                Some(0) => return Ok(Flow::Stop),
                Some(n) => {
                    *n -= 1;
                    let last = *n == 0;
                    let flow = self.inner.record(rec)?;
                    return Ok(if last { Flow::Stop } else { flow });
                }
                None => {}
            }
        }
        self.inner.record(rec)
    }
    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        self.inner.finish(summary)
    }
}

fn open_output(path: &Option<PathBuf>) -> Result<Box<dyn Write>, Failure> {
    Ok(match path {
        Some(p) => Box::new(BufWriter::new(File::create(p).map_err(|e| {
            Failure::fail(format!("cannot create {}: {e}", p.display()))
        })?)),
        None => Box::new(BufWriter::with_capacity(1 << 16, io::stdout().lock())),
    })
}

/// Passes every record on, and remembers the sessions (client, server,
/// start) that had a message passed on, for `-w` on a capture file.
struct Track<'a> {
    inner: &'a mut dyn Sink,
    sessions: HashSet<(SocketAddr, SocketAddr)>,
}

impl Sink for Track<'_> {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
        if let Record::Message(m) = rec {
            if !self
                .sessions
                .contains(&(m.session.client, m.session.server))
            {
                self.sessions.insert((m.session.client, m.session.server));
            }
        }
        self.inner.record(rec)
    }
    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        self.inner.finish(summary)
    }
}

/// `-w OUT` for a capture file: reads it again and writes every TCP packet
/// between the endpoints of a selected session (a 4-tuple reused by
/// another connection in the same file is written too).
fn write_sessions(
    capture: &Path,
    out: &Path,
    sessions: &HashSet<(SocketAddr, SocketAddr)>,
) -> Result<(), Failure> {
    let mut source = FileSource::open(capture).map_err(|e| Failure::fail(e.to_string()))?;
    let mut writer: Option<PcapWriter> = None;
    let mut other_links = 0u64;
    let werr = |e: io::Error| Failure::fail(format!("cannot write {}: {e}", out.display()));
    loop {
        let pkt = match source.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // Already reported by the analysis; write what was read.
            Err(_) => break,
        };
        let Ok(Decoded::Tcp(seg)) = layers::decode(pkt.link, pkt.data, pkt.orig_len) else {
            continue;
        };
        if !sessions.contains(&(seg.src, seg.dst)) && !sessions.contains(&(seg.dst, seg.src)) {
            continue;
        }
        let w = match &mut writer {
            Some(w) => w,
            None => writer.insert(PcapWriter::create(out, pkt.link, pkt.ts.nano).map_err(werr)?),
        };
        match w.write(&pkt) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => other_links += 1,
            Err(e) => return Err(werr(e)),
        }
    }
    match &mut writer {
        Some(w) => w.flush().map_err(werr)?,
        // Nothing selected: still a valid (empty) pcap.
        None => {
            PcapWriter::create(out, crate::capture::LinkType::ETHERNET, false)
                .and_then(|mut w| w.flush())
                .map_err(werr)?;
        }
    }
    if other_links > 0 {
        eprintln!(
            "qscope: warning: the capture mixes link types; {other_links} packet(s) of another \
             link type than the first written one were left out of {} (a pcap file has one link type)",
            out.display()
        );
    }
    Ok(())
}

fn run_analysis(common: &Common, input: Input, sink: &mut dyn Sink) -> Result<(), Failure> {
    let filter = common.filter()?;
    let Input {
        source,
        stop,
        live,
        relay,
        ..
    } = input;
    let mut source: Box<dyn Source + Send> =
        match progress::WithProgress::wrap(source, common.quiet) {
            Ok(w) => Box::new(w),
            Err(s) => s,
        };
    let cfg = common.config(&stop);
    let write_out = common
        .write
        .as_ref()
        .filter(|_| !live)
        .zip(common.capture.as_ref());
    let mut track = Track {
        inner: sink,
        sessions: HashSet::new(),
    };
    let tracked: &mut dyn Sink = if write_out.is_some() {
        &mut track
    } else {
        track.inner
    };
    let mut limited = Limit {
        inner: tracked,
        remaining: common.count,
    };
    let mut selected;
    let top: &mut dyn Sink = match filter {
        Some(f) => {
            selected = Select::new(&mut limited, f);
            &mut selected
        }
        None => &mut limited,
    };
    let result = match &relay {
        // The relay must outlive a decoding bug: catch it, relay on.
        Some(_) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            analyze(&mut source, cfg, top)
        })),
        None => Ok(analyze(&mut source, cfg, top)),
    };
    drop(source);
    if let Some(relay) = relay {
        let why = match &result {
            Err(_) => Some("internal error".to_string()),
            Ok(Err(e)) => Some(e.to_string()),
            Ok(Ok(_)) => common.count.map(|n| format!("-c {n} reached")),
        };
        finish_relay(relay, why);
    }
    let Ok(result) = result else {
        return Err(Failure::fail(
            "internal error while decoding (the relay went on until its connections ended)",
        ));
    };
    if let (Some((out, capture)), Ok(_)) = (write_out, &result) {
        write_sessions(capture, out, &track.sessions)?;
    }
    match result {
        Ok(summary) => {
            if let Some(first) = summary.malformed_examples.first() {
                // Not fatal: say so once, on stderr, away from the output.
                eprintln!(
                    "qscope: warning: skipped {} malformed packet(s), first: {}",
                    summary.malformed_packets,
                    crate::human::escape(first)
                );
            }
            if let Some(d) = summary.dropped.filter(|_| common.listen.is_none()) {
                eprintln!(
                    "qscope: {} packets captured, {d} dropped by the kernel or interface",
                    summary.packets
                );
            }
            Ok(())
        }
        Err(AnalyzeError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e @ AnalyzeError::Output(_)) => Err(Failure::fail(e.to_string())),
        Err(e @ AnalyzeError::Capture(_)) => Err(Failure {
            code: exit::DAMAGED,
            reason: e.to_string(),
        }),
    }
}

#[cfg(feature = "live")]
fn list_interfaces() -> Result<(), Failure> {
    let list = crate::capture::live::list_interfaces().map_err(Failure::fail)?;
    for (i, (name, desc)) in list.iter().enumerate() {
        match desc {
            Some(d) => println!("{}. {name} ({})", i + 1, crate::human::escape(d)),
            None => println!("{}. {name}", i + 1),
        }
    }
    Ok(())
}

#[cfg(not(feature = "live"))]
fn list_interfaces() -> Result<(), Failure> {
    Err(Failure::fail(
        "this qscope was built without live capture (rebuild with --features live)",
    ))
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<(), Failure> {
    if cli.list_interfaces {
        return list_interfaces();
    }
    let Some(command) = cli.command else {
        if cli.ui.capture.is_none() && cli.ui.interface.is_none() && cli.ui.listen.is_none() {
            let _ = command().print_help();
            return Ok(());
        }
        return run_ui(&cli.ui);
    };
    match command {
        Command::Export(a) => {
            let input = open_input(&a.common)?;
            let live = input.live;
            let out = open_output(&a.output)?;
            match a.format {
                Format::Jsonl => {
                    let mut w = JsonlWriter::new(out);
                    w.flush_each = live;
                    run_analysis(&a.common, input, &mut w)
                }
                Format::Json => run_analysis(&a.common, input, &mut JsonDocWriter::new(out)),
                Format::Ek => {
                    let mut w = EkWriter::new(out);
                    w.flush_each = live;
                    run_analysis(&a.common, input, &mut w)
                }
            }
        }
        Command::Print(a) => {
            let input = open_input(&a.common)?;
            let mut p = TextPrinter::new(open_output(&None)?, a.verbose);
            p.time_format = a.time_format.into();
            let env = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
            p.paint = Paint {
                on: use_color(
                    a.color.into(),
                    io::stdout().is_terminal(),
                    env("NO_COLOR").as_deref(),
                    env("TERM").as_deref(),
                ),
            };
            p.flush_each = input.live || io::stdout().is_terminal();
            run_analysis(&a.common, input, &mut p)
        }
        Command::Stats(a) => run_stats(&a),
        Command::Follow(a) => follow::run(&a),
        Command::Filters(a) => {
            let text = if a.list {
                crate::filter::help::field_list()
            } else {
                crate::filter::help::reference()
            };
            write_stdout(text.as_bytes())
        }
        Command::Completions(a) => {
            let mut out = Vec::new();
            shell::completions(a.shell, &mut out);
            write_stdout(&out)
        }
        Command::Man => {
            let mut out = Vec::new();
            shell::man(&mut out)
                .map_err(|e| Failure::fail(format!("cannot render the manual page: {e}")))?;
            write_stdout(&out)
        }
    }
}

/// Writes `bytes` to standard output; a closed pipe (`| head`) is not an
/// error.
fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(Failure::fail(format!("cannot write output: {e}")))
        }
        _ => Ok(()),
    }
}

/// `qscope CAPTURE` / `qscope -i IFACE`: the terminal UI.
fn run_ui(common: &Common) -> Result<(), Failure> {
    if !io::stdout().is_terminal() {
        return Err(Failure::usage(
            "the terminal UI needs a terminal; use `qscope print` or `qscope export` for pipes and files",
        ));
    }
    let input = open_input(common)?;
    let cfg = common.config(&input.stop);
    let opts = crate::tui::Options {
        live: input.live,
        export_dir: None,
        // NO_COLOR in the environment is honoured by the UI itself.
        no_color: false,
    };
    if let Some(r) = &input.relay {
        r.quiet();
    }
    let result = crate::tui::run_with(input.source, cfg, input.name, opts)
        .map_err(|e| Failure::fail(format!("terminal UI: {e}")));
    // Quitting the UI stops the relay (its connections are closed).
    drop(input.relay);
    result
}

/// `qscope stats`: one analysis into a detailed [`Collector`]; the filter
/// is applied by the collector itself so that replies to selected requests
/// are counted with them.
fn run_stats(a: &StatsArgs) -> Result<(), Failure> {
    // Checked before opening the input (a mistake must not start a capture).
    let filter = a.common.filter()?;
    let input = open_input(&a.common)?;
    let mut out = open_output(&a.output)?;
    let mut collector = Collector::detailed(filter, a.slowest);
    // The collector applies -Y itself: run without a Select wrapper.
    let common = Common {
        display_filter: None,
        ..a.common.clone()
    };
    // A capture damaged part-way still gets the tables of what came before
    // the fault; the fault is reported after them, as print and export do.
    let analysis = run_analysis(&common, input, &mut collector);
    if analysis.as_ref().is_err_and(|f| f.code != exit::DAMAGED) {
        return analysis;
    }
    let Some(mut detail) = collector.detail.take() else {
        return analysis;
    };
    detail.finish();
    let written = match a.format {
        StatsFormat::Json => report::json(&detail, a.common.display_filter.as_deref(), &mut out),
        StatsFormat::Table => {
            out.write_all(report::table(&detail, a.expert, a.sessions).as_bytes())
        }
    };
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(Failure::fail(format!("cannot write output: {e}")))
        }
        _ => analysis,
    }
}
