//! Command-line interface: argument parsing and the subcommands.

mod follow;
mod report;

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use qscope_dissectors::{Options, Proto};

use crate::capture::writer::PcapWriter;
use crate::capture::{FileSource, Source};
use crate::engine::{analyze, AnalyzeError, Config};
use crate::filter::Filter;
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

Display filter fields and operators: docs/filters.md.

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
}

/// Where packets come from, and how they are decoded.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Capture file (pcap or pcapng), or - for standard input. Without it,
    /// capture live (-i).
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
    /// BPF capture filter for live capture [default: tcp port 4243 or tcp
    /// port 4444, plus the ports of --decode-as].
    #[arg(short = 'f', long = "capture-filter", value_name = "BPF")]
    pub capture_filter: Option<String>,
    /// Stop after COUNT messages.
    #[arg(short = 'c', long = "count", value_name = "COUNT")]
    pub count: Option<u64>,
    /// Stop live capture after SECS seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Display filter: only messages matching EXPR are output (see
    /// docs/filters.md), e.g. 'qmp.execute == "quit" || error'.
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
    /// Decode sessions on PORT as PROTO (qmp, qm, qps, mqserver, unknown); repeatable.
    #[arg(long = "decode-as", value_name = "PORT=PROTO", value_parser = parse_decode_as)]
    pub decode_as: Vec<(u16, Proto)>,
    /// Show passwords and other secrets instead of redacting them.
    #[arg(long)]
    pub show_secrets: bool,
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
    /// Capture file (pcap or pcapng).
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
    /// Decode sessions on PORT as PROTO (as for print/export; it changes
    /// the session numbering the same way).
    #[arg(long = "decode-as", value_name = "PORT=PROTO", value_parser = parse_decode_as)]
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

fn parse_decode_as(s: &str) -> Result<(u16, Proto), String> {
    let (port, proto) = s
        .split_once('=')
        .ok_or_else(|| format!("expected PORT=PROTO, got '{s}'"))?;
    let port: u16 = port
        .trim()
        .parse()
        .map_err(|_| format!("'{port}' is not a TCP port number"))?;
    let proto = Proto::from_name(proto.trim()).ok_or_else(|| {
        format!("unknown protocol '{proto}' (expected qmp, qm, qps, mqserver or unknown)")
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
        let mut cfg = Config::default().with_decode_as(self.decode_as.clone());
        cfg.opts = Options {
            show_secrets: self.show_secrets,
        };
        cfg.stop = Some(stop.clone());
        cfg
    }

    /// The live capture filter: as given, or the protocols' ports.
    pub fn live_filter(&self) -> String {
        if let Some(f) = &self.capture_filter {
            return f.clone();
        }
        let mut ports: Vec<u16> = vec![4243, 4444];
        ports.extend(self.decode_as.iter().map(|(p, _)| *p));
        ports.dedup();
        ports
            .iter()
            .map(|p| format!("tcp port {p}"))
            .collect::<Vec<_>>()
            .join(" or ")
    }

    fn is_live(&self) -> bool {
        self.capture.is_none()
    }

    /// The compiled `-Y` expression; a mistake is reported as the
    /// expression with a caret under it.
    pub fn filter(&self) -> Result<Option<Filter>, Failure> {
        let Some(expr) = &self.display_filter else {
            return Ok(None);
        };
        Filter::parse(expr).map(Some).map_err(|e| {
            Failure::usage(format!("invalid display filter (-Y):\n{}", e.render(expr)))
        })
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
            })
        }
        None => open_live(common, stop),
    }
}

#[cfg(feature = "live")]
fn open_live(common: &Common, stop: Arc<AtomicBool>) -> Result<Input, Failure> {
    use crate::capture::live::{drop_privileges, stop_on_signals, LiveOptions, LiveSource};
    let duration = match common.duration {
        Some(s) if s.is_finite() && s > 0.0 => Some(std::time::Duration::from_secs_f64(s)),
        Some(s) => {
            return Err(Failure::usage(format!(
                "--duration {s}: expected a positive number of seconds"
            )))
        }
        None => None,
    };
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
        mut source,
        stop,
        live,
        ..
    } = input;
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
    let result = analyze(&mut source, cfg, top);
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
                    crate::sink::text::escape(first)
                );
            }
            if let Some(d) = summary.dropped {
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
            Some(d) => println!("{}. {name} ({})", i + 1, crate::sink::text::escape(d)),
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
        if cli.ui.capture.is_none() && cli.ui.interface.is_none() {
            let _ = Cli::command().print_help();
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
            p.flush_each = input.live || io::stdout().is_terminal();
            run_analysis(&a.common, input, &mut p)
        }
        Command::Stats(a) => run_stats(&a),
        Command::Follow(a) => follow::run(&a),
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
    };
    crate::tui::run_with(input.source, cfg, input.name, opts)
        .map_err(|e| Failure::fail(format!("terminal UI: {e}")))
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
