//! Command-line interface: argument parsing and the subcommands.

mod args;
mod follow;
mod progress;
mod report;
mod shell;

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use qscope_dissectors::{Options, Proto};

use crate::capture::relay::{self, Addr, Relay, RelayOptions};
use crate::capture::writer::PcapWriter;
use crate::capture::{CaptureError, FileSource, Next, Packet, Source};
use crate::engine::{analyze, AnalyzeError, Config};
use crate::filter::Filter;
use crate::human::color::{use_color, Paint};
use crate::layers::{self, Decoded};
use crate::record::{Flow, Record, Sink, Summary};
use crate::sink::ek::EkWriter;
use crate::sink::json::{JsonDocWriter, JsonlWriter};
use crate::sink::select::Select;
use crate::sink::text::TextPrinter;
use crate::stats::Collector;

pub use args::{
    command, exit, parse, parse_size, proto_names, Cli, ColorArg, Command, Common, CompletionsArgs,
    DirArg, ExportArgs, Failure, FiltersArgs, FollowArgs, Format, PrintArgs, StatsArgs,
    StatsFormat, TimeArg,
};
use args::{ports_filter, RELAY_PORT};

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
            lean: self.lean,
        };
        if self.lean {
            cfg.trim = Some(crate::stats::trim);
        }
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
    /// A capture file: raised by SIGINT/SIGTERM, which stop its analysis
    /// early (the output is still finished, and the summary says so).
    pub interrupted: Option<Arc<AtomicBool>>,
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
            // Ctrl-C ends the analysis of a file as `-c` does: sessions end,
            // the summary is written (a second Ctrl-C ends it at once).
            let interrupted = crate::capture::signals::stop_on_signals(&stop)
                .map_err(|e| Failure::fail(format!("cannot install signal handlers: {e}")))?;
            Ok(Input {
                source: Box::new(source),
                live: false,
                stop,
                name: path.display().to_string(),
                relay: None,
                interrupted: Some(interrupted),
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
        interrupted: None,
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
        interrupted: None,
    })
}

#[cfg(not(feature = "live"))]
fn open_live(_common: &Common, _stop: Arc<AtomicBool>) -> Result<Input, Failure> {
    Err(Failure::usage(
        "no capture file given, and this qscope was built without live capture \
         (rebuild with `cargo build --release --features live`, which needs libpcap-dev)",
    ))
}

fn is_raised(flag: &Option<Arc<AtomicBool>>) -> bool {
    flag.as_ref().is_some_and(|f| f.load(Ordering::Relaxed))
}

/// Whether a signal cut the analysis of a capture file short: it was
/// raised, and the file was not read to its end (a signal that comes
/// once the last packet was read changes nothing).
#[derive(Clone)]
struct CutShort {
    signal: Option<Arc<AtomicBool>>,
    /// Raised by [`ReadToEnd`] when the source said it has no more.
    ended: Arc<AtomicBool>,
}

impl CutShort {
    fn now(&self) -> bool {
        is_raised(&self.signal) && !self.ended.load(Ordering::Relaxed)
    }
}

/// A source that notes when it reaches its end.
struct ReadToEnd {
    inner: Box<dyn Source + Send>,
    ended: Arc<AtomicBool>,
}

impl Source for ReadToEnd {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        let r = self.inner.next_packet();
        if matches!(r, Ok(None)) {
            self.ended.store(true, Ordering::Relaxed);
        }
        r
    }
    fn dropped(&mut self) -> Option<u64> {
        self.inner.dropped()
    }
    fn live(&self) -> bool {
        self.inner.live()
    }
    fn next_or_idle(&mut self, wait: std::time::Duration) -> Result<Next<'_>, CaptureError> {
        let r = self.inner.next_or_idle(wait);
        if matches!(r, Ok(Next::End)) {
            self.ended.store(true, Ordering::Relaxed);
        }
        r
    }
    fn progress(&self) -> Option<(u64, Option<u64>)> {
        self.inner.progress()
    }
    fn reopen(&self) -> Option<Box<dyn Source + Send>> {
        self.inner.reopen()
    }
}

/// Names a signal's interruption in the summary's `error`: the capture
/// file was not read to its end.
struct MarkInterrupted<'a> {
    inner: &'a mut dyn Sink,
    cut: CutShort,
}

impl Sink for MarkInterrupted<'_> {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
        self.inner.record(rec)
    }
    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        if !self.cut.now() || summary.error.is_some() {
            return self.inner.finish(summary);
        }
        let mut s = summary.clone();
        s.error = Some(format!(
            "interrupted by a signal after {} packets: the capture was not read to its end",
            s.packets
        ));
        self.inner.finish(&s)
    }
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
/// another connection in the same file is written too). `upto`: an
/// interrupted analysis read that many packets; none after them is written.
fn write_sessions(
    capture: &Path,
    out: &Path,
    sessions: &HashSet<(SocketAddr, SocketAddr)>,
    upto: Option<u64>,
) -> Result<(), Failure> {
    let mut source = FileSource::open(capture).map_err(|e| Failure::fail(e.to_string()))?;
    let mut writer: Option<PcapWriter> = None;
    let mut other_links = 0u64;
    let werr = |e: io::Error| Failure::fail(format!("cannot write {}: {e}", out.display()));
    loop {
        let pkt = match source.next_packet() {
            Ok(Some(p)) if upto.is_none_or(|n| p.num <= n) => p,
            Ok(_) => break,
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
        interrupted,
        name,
    } = input;
    let cut = CutShort {
        signal: interrupted,
        ended: Arc::new(AtomicBool::new(false)),
    };
    let source: Box<dyn Source + Send> = Box::new(ReadToEnd {
        inner: source,
        ended: cut.ended.clone(),
    });
    let mut marked = MarkInterrupted {
        inner: sink,
        cut: cut.clone(),
    };
    let sink: &mut dyn Sink = &mut marked;
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
        let upto = match &result {
            Ok(s) if cut.now() => Some(s.packets),
            _ => None,
        };
        write_sessions(capture, out, &track.sessions, upto)?;
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
            if cut.now() {
                return Err(Failure {
                    code: exit::INTERRUPTED,
                    reason: format!(
                        "interrupted: {} was read up to packet {} only; the output covers \
                         those packets (sessions ended, summary written)",
                        crate::human::escape(&name),
                        summary.packets
                    ),
                });
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
    if let (Some(d), StatsFormat::Table, 1..) = (&mut collector.detail, a.format, a.sessions) {
        // The table lists the first rows only: keep no more.
        d.keep_rows(a.sessions);
    }
    // The collector applies -Y itself: run without a Select wrapper. It
    // reads no bulk field but through a filter.
    let common = Common {
        display_filter: None,
        lean: a.common.display_filter.is_none(),
        ..a.common.clone()
    };
    // A capture damaged part-way still gets the tables of what came before
    // the fault; the fault is reported after them, as print and export do.
    let analysis = run_analysis(&common, input, &mut collector);
    if analysis
        .as_ref()
        .is_err_and(|f| f.code != exit::DAMAGED && f.code != exit::INTERRUPTED)
    {
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
