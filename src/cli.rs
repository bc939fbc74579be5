//! Command-line interface: argument parsing and the subcommands.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use qscope_dissectors::{Options, Proto};

use crate::capture::FileSource;
use crate::engine::{analyze, AnalyzeError, Config};
use crate::sink::json::{JsonDocWriter, JsonlWriter};
use crate::sink::text::TextPrinter;
use crate::sink::Sink;

const ABOUT: &str =
    "Dissector and traffic analyzer for QMP (QEMU Machine Protocol and guest agent), \
OpenQM/ScarletDME QMClient, Quark Publishing System 3.5 and MQServer";

#[derive(Parser, Debug)]
#[command(name = "qscope", version, about = ABOUT)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Export decoded sessions as JSON Lines (streamed) or one JSON document.
    Export(ExportArgs),
    /// Print a timeline: one line per message (time, session, direction,
    /// protocol, name, summary, latency).
    Print(PrintArgs),
}

#[derive(Args, Debug)]
pub struct Common {
    /// Capture file (pcap or pcapng), or - for standard input.
    pub capture: PathBuf,
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

/// A failure with its one-line reason; `code` is the exit status.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub reason: String,
}

impl Common {
    fn config(&self) -> Config {
        let mut cfg = Config::default().with_decode_as(self.decode_as.clone());
        cfg.opts = Options {
            show_secrets: self.show_secrets,
        };
        cfg
    }
}

fn open_output(path: &Option<PathBuf>) -> Result<Box<dyn Write>, Failure> {
    Ok(match path {
        Some(p) => Box::new(BufWriter::new(File::create(p).map_err(|e| Failure {
            code: 1,
            reason: format!("cannot create {}: {e}", p.display()),
        })?)),
        None => Box::new(BufWriter::with_capacity(1 << 16, io::stdout().lock())),
    })
}

fn run_analysis(common: &Common, sink: &mut dyn Sink) -> Result<(), Failure> {
    let mut source = FileSource::open(&common.capture).map_err(|e| Failure {
        code: 1,
        reason: e.to_string(),
    })?;
    match analyze(&mut source, common.config(), sink) {
        Ok(summary) => {
            if let Some(first) = summary.malformed_examples.first() {
                // Not fatal: say so once, on stderr, away from the output.
                eprintln!(
                    "qscope: warning: skipped {} malformed packet(s), first: {}",
                    summary.malformed_packets,
                    crate::sink::text::escape(first)
                );
            }
            Ok(())
        }
        Err(AnalyzeError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e @ AnalyzeError::Output(_)) => Err(Failure {
            code: 1,
            reason: e.to_string(),
        }),
        Err(e @ AnalyzeError::Capture(_)) => Err(Failure {
            code: 2,
            reason: e.to_string(),
        }),
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Export(a) => {
            let out = open_output(&a.output)?;
            match a.format {
                Format::Jsonl => run_analysis(&a.common, &mut JsonlWriter::new(out)),
                Format::Json => run_analysis(&a.common, &mut JsonDocWriter::new(out)),
            }
        }
        Command::Print(a) => {
            let out = open_output(&None)?;
            run_analysis(&a.common, &mut TextPrinter::new(out, a.verbose))
        }
    }
}
