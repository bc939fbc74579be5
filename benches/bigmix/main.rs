//! Large-capture benchmark: `cargo bench --bench bigmix`.
//!
//! Runs the release binary (`target/release/qscope`, which `cargo bench`
//! builds along with this benchmark; `QSCOPE_BENCH_BIN` names another) on
//! the two mixed captures the performance targets are stated for, 1 GiB
//! (seed 1024) and 200 MiB (seed 200), and prints one table: seconds, rate
//! of input, ratios and peak RSS of `qscope stats` and `qscope export
//! --format jsonl` (with `-j 1` and with the default number of workers),
//! `tcpdump -r F -w /dev/null` (the floor for reading the file) and, on
//! the 200 MiB file, tshark's JSON decode, the commands taking turns (a
//! round of one run each, best of the rounds); then each target with PASS
//! or FAIL. Then hostile captures, each through `stats` and `export` with the
//! default memory limit and with `--memory-limit 256M`: peak RSS, exit
//! status, whether every output line is JSON, and what the summary says
//! was dropped.
//!
//! Captures are made by `../shared/tools/gen-bigmix.py` when it is present
//! (else by `mixgen.rs`, the same recipe in Rust) and cached in
//! `target/bigmix/` with a stamp naming the generator and a hash of it and
//! of its inputs; a changed generator makes them again.
//!
//! Environment: QSCOPE_BENCH_SIZES (MiB, comma-separated, default
//! "200,1024"; the seed is the size; 0 for none), QSCOPE_BENCH_RUNS (best
//! of N after a warm-up run, default 3), QSCOPE_BENCH_BIN,
//! QSCOPE_BENCH_TSHARK=0, QSCOPE_BENCH_HOSTILE (0 for none, or case
//! letters like "a,d"), QSCOPE_BENCH_GEN=rust (use mixgen.rs even when the
//! script is there), QSCOPE_BENCH_RSS_CAP_MB (default 8000) and
//! QSCOPE_BENCH_TIMEOUT (s, default 900): a hostile run over either is
//! killed and reported.
#![allow(unsafe_code)] // libc calls in measure.rs (fork hooks, wait4, sysconf): see their SAFETY comments

mod hostile;
mod jsonscan;
mod measure;
mod mixgen;
mod pcap;

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use measure::{Outcome, Watch};

const SCRIPT: &str = "../shared/tools/gen-bigmix.py";
const MIB: u64 = 1024 * 1024;
/// The hostile cases' memory limit, and the allowance above a limit.
const LIMIT: (&str, u64) = ("256M", 256 * MIB);
const SLACK: u64 = 64 * MIB;

struct Settings {
    sizes: Vec<u64>,
    runs: usize,
    tshark: bool,
    hostile: Vec<&'static hostile::Case>,
    own_gen: bool,
    watch: Watch,
    bin: PathBuf,
    bin_from: &'static str,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Settings {
    fn from_env() -> Settings {
        let num = |name: &str, default: u64| {
            env(name).map_or(default, |v| {
                v.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}: not a number: {v}"))
            })
        };
        let sizes = env("QSCOPE_BENCH_SIZES")
            .unwrap_or_else(|| "200,1024".into())
            .split(',')
            .filter(|s| !s.trim().is_empty() && s.trim() != "0")
            .map(|s| {
                s.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("QSCOPE_BENCH_SIZES: not a size in MiB: {s}"))
            })
            .collect();
        let hostile = match env("QSCOPE_BENCH_HOSTILE").as_deref() {
            Some("0") => Vec::new(),
            None | Some("1") => hostile::CASES.iter().collect(),
            Some(list) => {
                let keys: Vec<&str> = list.split(',').map(str::trim).collect();
                hostile::CASES
                    .iter()
                    .filter(|c| keys.contains(&c.key))
                    .collect()
            }
        };
        let (bin, bin_from) = match env("QSCOPE_BENCH_BIN") {
            Some(b) => (PathBuf::from(b), "QSCOPE_BENCH_BIN"),
            None => (
                PathBuf::from(env!("CARGO_BIN_EXE_qscope")),
                "built by cargo bench",
            ),
        };
        Settings {
            sizes,
            runs: num("QSCOPE_BENCH_RUNS", 3).max(1) as usize,
            tshark: env("QSCOPE_BENCH_TSHARK").as_deref() != Some("0"),
            hostile,
            own_gen: env("QSCOPE_BENCH_GEN").as_deref() == Some("rust"),
            watch: Watch {
                rss_cap_bytes: num("QSCOPE_BENCH_RSS_CAP_MB", 8000) * 1_000_000,
                timeout: Duration::from_secs(num("QSCOPE_BENCH_TIMEOUT", 900)),
            },
            bin,
            bin_from,
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/bigmix`: beside the `deps` directory this benchmark runs from.
fn cache_dir() -> PathBuf {
    let target = std::env::current_exe()
        .ok()
        .and_then(|exe| {
            let deps = exe.parent()?;
            (deps.file_name()? == "deps").then(|| deps.parent()?.parent().map(Path::to_path_buf))?
        })
        .unwrap_or_else(|| root().join("target"));
    target.join("bigmix")
}

// ---------------------------------------------------------------- inputs

struct Input {
    size_mib: u64,
    path: PathBuf,
    bytes: u64,
    how: String,
}

fn size_label(mib: u64) -> String {
    if mib.is_multiple_of(1024) {
        format!("{} GiB", mib / 1024)
    } else {
        format!("{mib} MiB")
    }
}

fn read_or_empty(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_default()
}

/// The generator's identity: its source and every capture it reads.
fn identity(script: bool) -> String {
    let mut parts: Vec<Vec<u8>> = Vec::new();
    let (name, caps) = if script {
        let s = root().join(SCRIPT);
        parts.push(read_or_empty(&s));
        ("gen-bigmix.py", s.parent().unwrap().join("../captures"))
    } else {
        parts.push(include_str!("mixgen.rs").into());
        parts.push(include_str!("pcap.rs").into());
        ("benches/bigmix/mixgen.rs", root().join("captures"))
    };
    for (_, rel, _) in mixgen::SCENARIOS {
        let p = caps.join(rel);
        parts.push(read_or_empty(&p));
        parts.push(read_or_empty(&p.with_extension("truth.jsonl")));
    }
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    format!("{name} {:016x}", pcap::fnv(&refs))
}

/// Returns the file if `stamp` says it was made by `id`.
fn cached(path: &Path, id: &str) -> Option<u64> {
    let stamp = std::fs::read_to_string(path.with_extension("stamp")).ok()?;
    (stamp.trim() == id)
        .then(|| std::fs::metadata(path).ok().map(|m| m.len()))
        .flatten()
}

fn stamp(path: &Path, id: &str) -> io::Result<()> {
    std::fs::write(path.with_extension("stamp"), format!("{id}\n"))
}

fn run_script(size: u64, seed: u64, out: &Path) -> Result<(), String> {
    let part = out.with_extension("pcap.part");
    let o = Command::new("python3")
        .arg(root().join(SCRIPT))
        .arg("--out")
        .arg(&part)
        .args(["--size-mb", &size.to_string(), "--seed", &seed.to_string()])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "gen-bigmix.py: {}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    std::fs::rename(&part, out).map_err(|e| e.to_string())
}

fn bigmix(cache: &Path, size: u64, own: bool) -> io::Result<Input> {
    let seed = size;
    let path = cache.join(format!("bigmix-{size}m-s{seed}.pcap"));
    let script = !own && root().join(SCRIPT).is_file();
    let mut id = identity(script);
    let gen_name = |id: &str| id.split(' ').next().unwrap_or("").to_string();
    if let Some(bytes) = cached(&path, &id) {
        let how = format!("{}, cached", gen_name(&id));
        return Ok(Input {
            size_mib: size,
            path,
            bytes,
            how,
        });
    }
    eprintln!("bigmix: generating {} (seed {seed}) ...", size_label(size));
    let _ = std::fs::remove_file(path.with_extension("stamp"));
    let t = Instant::now();
    let mut made = false;
    if script {
        match run_script(size, seed, &path) {
            Ok(()) => made = true,
            Err(e) => eprintln!("bigmix: {e}; using the Rust generator instead"),
        }
    }
    if !made {
        id = identity(false);
        mixgen::generate(&root().join("captures"), size, seed, &path)?;
    }
    stamp(&path, &id)?;
    Ok(Input {
        size_mib: size,
        bytes: std::fs::metadata(&path)?.len(),
        path,
        how: format!(
            "{}, generated in {:.1} s",
            gen_name(&id),
            t.elapsed().as_secs_f64()
        ),
    })
}

// ----------------------------------------------------------- measurements

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tool {
    Tcpdump,
    Stats1,
    Stats,
    Export1,
    Export,
    Tshark,
}

const TOOLS: [Tool; 6] = [
    Tool::Tcpdump,
    Tool::Stats1,
    Tool::Stats,
    Tool::Export1,
    Tool::Export,
    Tool::Tshark,
];

impl Tool {
    fn label(self) -> &'static str {
        match self {
            Tool::Tcpdump => "tcpdump -r F -w /dev/null",
            Tool::Stats1 => "qscope stats F -j 1",
            Tool::Stats => "qscope stats F",
            Tool::Export1 => "qscope export F --format jsonl -j 1",
            Tool::Export => "qscope export F --format jsonl",
            Tool::Tshark => "tshark -r F -d tcp.port==4444,json -T json",
        }
    }
    fn is_qscope(self) -> bool {
        !matches!(self, Tool::Tcpdump | Tool::Tshark)
    }
    fn argv(self, bin: &Path, file: &Path) -> (OsString, Vec<OsString>) {
        let f = file.as_os_str().to_owned();
        let s = |x: &str| OsString::from(x);
        match self {
            Tool::Tcpdump => (s("tcpdump"), vec![s("-r"), f, s("-w"), s("/dev/null")]),
            Tool::Tshark => (
                s("tshark"),
                vec![
                    s("-r"),
                    f,
                    s("-d"),
                    s("tcp.port==4444,json"),
                    s("-T"),
                    s("json"),
                ],
            ),
            _ => {
                let mut a = match self {
                    Tool::Stats1 | Tool::Stats => vec![s("stats"), f],
                    _ => vec![s("export"), f, s("--format"), s("jsonl")],
                };
                if matches!(self, Tool::Stats1 | Tool::Export1) {
                    a.extend([s("-j"), s("1")]);
                }
                (bin.as_os_str().to_owned(), a)
            }
        }
    }
}

#[derive(Clone, Debug)]
enum Res {
    /// Best time of the runs, peak RSS over all of them.
    Ok {
        secs: f64,
        rss: u64,
    },
    /// qscope refused the options (exit status 2).
    Na(String),
    Fail(String),
    Skip(String),
}

impl Res {
    fn ok(&self) -> Option<(f64, u64)> {
        match *self {
            Res::Ok { secs, rss } => Some((secs, rss)),
            _ => None,
        }
    }
}

fn os(v: &[OsString]) -> Vec<&OsStr> {
    v.iter().map(OsString::as_os_str).collect()
}

/// One run of `tool`: its time and peak RSS, or why there is none.
fn run_once(tool: Tool, bin: &Path, file: &Path) -> Result<(f64, u64), Res> {
    let (prog, args) = tool.argv(bin, file);
    let o = match measure::run_null(&prog, &os(&args)) {
        Ok(o) => o,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Res::Skip(format!(
                "{} not installed",
                prog.to_string_lossy()
            )))
        }
        Err(e) => return Err(Res::Fail(e.to_string())),
    };
    match o.code() {
        Some(0) => Ok((o.secs, o.maxrss_bytes)),
        Some(2) if tool.is_qscope() => Err(Res::Na(format!("exit 2: {}", o.stderr_line()))),
        _ => Err(Res::Fail(format!(
            "exit {}: {}",
            o.status_text(),
            o.stderr_line()
        ))),
    }
}

/// Measures `tools` on `file` in turns: a warm-up run of each (page
/// cache, binary; its time is not counted), then `runs` rounds of one run
/// of each. The machine's speed drifts from minute to minute; taking
/// turns lets every command meet the same drift, so the ratios between
/// them (scaling, tcpdump) compare like with like. Every run starts with
/// the file in the page cache ([`warm`]). Best time and peak RSS per
/// tool; a tool that fails or is refused stops there.
fn measure_row(tools: &[Tool], bin: &Path, file: &Path, runs: usize) -> Vec<Res> {
    let mut out: Vec<Res> = tools
        .iter()
        .map(|_| Res::Ok {
            secs: f64::MAX,
            rss: 0,
        })
        .collect();
    for run in 0..=runs {
        for (tool, res) in tools.iter().zip(out.iter_mut()) {
            let Res::Ok { secs, rss } = res else {
                continue;
            };
            warm(file);
            match run_once(*tool, bin, file) {
                Ok((t, r)) => {
                    *rss = (*rss).max(r);
                    if run > 0 {
                        *secs = secs.min(t);
                    }
                }
                Err(e) => *res = e,
            }
        }
    }
    out
}

/// Reads `file` through, so that a run finds it in the page cache: the
/// targets are stated for a warm cache, and the project's machine gives
/// back page cache it finds idle (DAMON reclaim): it evicted parts of the
/// captures between runs, and all of both within minutes of a run (runs
/// then wait for the disk). Errors are left to the run itself.
fn warm(file: &Path) {
    if let Ok(mut f) = std::fs::File::open(file) {
        let _ = io::copy(&mut f, &mut io::sink());
    }
}

// ----------------------------------------------------------------- output

fn rate(bytes: u64, secs: f64) -> String {
    let r = bytes as f64 / secs;
    if r >= 1e9 {
        format!("{:.2} GB/s", r / 1e9)
    } else {
        format!("{:.0} MB/s", r / 1e6)
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// An output's size: bytes below a megabyte.
fn size(bytes: u64) -> String {
    if bytes < 1_000_000 {
        format!("{bytes} bytes")
    } else {
        mb(bytes)
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn clip(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(w - 1).collect();
        t.push('…');
        t
    }
}

const CMD_W: usize = 43;
const CELL_W: usize = 9 + 12 + 10 + 10;

fn cell(res: &Res, input: &Input, floor: Option<f64>) -> String {
    match res {
        Res::Ok { secs, rss } => {
            let x = floor.map_or("-".to_string(), |f| format!("{:.2}x", secs / f));
            format!(
                "{:>9.3}{:>12}{:>10}{:>10}",
                secs,
                rate(input.bytes, *secs),
                x,
                mb(*rss)
            )
        }
        Res::Na(_) => format!(
            "  {:<w$}",
            "n/a (usage error, exit 2: see note)",
            w = CELL_W - 2
        ),
        Res::Fail(why) => format!(
            "  {:<w$}",
            clip(&format!("FAILED ({why})"), CELL_W - 2),
            w = CELL_W - 2
        ),
        Res::Skip(why) => format!(
            "  {:<w$}",
            clip(&format!("skipped ({why})"), CELL_W - 2),
            w = CELL_W - 2
        ),
    }
}

struct Table<'a> {
    inputs: &'a [Input],
    /// results[input][tool]
    results: Vec<Vec<Res>>,
}

impl Table<'_> {
    fn get(&self, size: u64, tool: Tool) -> Option<(f64, u64)> {
        let i = self.inputs.iter().position(|x| x.size_mib == size)?;
        let t = TOOLS.iter().position(|&x| x == tool)?;
        self.results[i][t].ok()
    }
    fn input(&self, size: u64) -> Option<&Input> {
        self.inputs.iter().find(|x| x.size_mib == size)
    }

    fn print(&self) {
        let mut head1 = format!("{:<CMD_W$}", "");
        let mut head2 = format!("{:<CMD_W$}", "command (F = the capture)");
        for inp in self.inputs {
            let h = format!("{} (seed {})", size_label(inp.size_mib), inp.size_mib);
            head1.push_str(&format!(" | {h:^CELL_W$}"));
            head2.push_str(&format!(
                " | {:>9}{:>12}{:>10}{:>10}",
                "seconds", "rate", "x tcpdump", "peak RSS"
            ));
        }
        println!("{head1}");
        println!("{head2}");
        println!("{}", "-".repeat(head2.chars().count()));
        for (t, tool) in TOOLS.iter().enumerate() {
            let mut line = format!("{:<CMD_W$}", tool.label());
            for (i, inp) in self.inputs.iter().enumerate() {
                let floor = self.get(inp.size_mib, Tool::Tcpdump).map(|x| x.0);
                line.push_str(&format!(" | {}", cell(&self.results[i][t], inp, floor)));
            }
            println!("{line}");
        }
        for (i, inp) in self.inputs.iter().enumerate() {
            for (t, tool) in TOOLS.iter().enumerate() {
                let why = match &self.results[i][t] {
                    Res::Na(why) | Res::Fail(why) => why,
                    Res::Skip(why) if why.contains("installed") => why,
                    _ => continue,
                };
                {
                    println!(
                        "  note: {}, {}: {}",
                        size_label(inp.size_mib),
                        tool.label(),
                        why
                    );
                }
            }
        }

        println!();
        println!("Ratios");
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
            _ => "n/a".into(),
        };
        let secs = |size, tool| self.get(size, tool).map(|x| x.0);
        let rss = |size, tool| self.get(size, tool).map(|x| x.1 as f64);
        for inp in self.inputs {
            let s = inp.size_mib;
            let l = size_label(s);
            println!(
                "  {l:<8} stats scaling (time -j 1 / time default):      {}",
                ratio(secs(s, Tool::Stats1), secs(s, Tool::Stats))
            );
            println!(
                "  {l:<8} export scaling (time -j 1 / time default):     {}",
                ratio(secs(s, Tool::Export1), secs(s, Tool::Export))
            );
            println!(
                "  {l:<8} stats time / tcpdump time:                     {}",
                ratio(secs(s, Tool::Stats), secs(s, Tool::Tcpdump))
            );
            if self
                .results_for(s, Tool::Tshark)
                .is_some_and(|r| !matches!(r, Res::Skip(_)))
            {
                println!(
                    "  {l:<8} export speed-up over tshark -T json:           {}",
                    ratio(secs(s, Tool::Tshark), secs(s, Tool::Export))
                );
            }
        }
        println!(
            "  stats peak RSS, 1 GiB / 200 MiB:                        {}",
            ratio(rss(1024, Tool::Stats), rss(200, Tool::Stats))
        );
        println!(
            "  export peak RSS, 1 GiB / 200 MiB:                       {}",
            ratio(rss(1024, Tool::Export), rss(200, Tool::Export))
        );
    }

    fn results_for(&self, size: u64, tool: Tool) -> Option<&Res> {
        let i = self.inputs.iter().position(|x| x.size_mib == size)?;
        let t = TOOLS.iter().position(|&x| x == tool)?;
        Some(&self.results[i][t])
    }

    fn targets(&self) {
        println!();
        println!("Targets");
        let g = |size, tool| self.get(size, tool);
        let gbps = |size: u64, tool| {
            let b = self.input(size)?.bytes as f64;
            g(size, tool).map(|(s, _)| b / s / 1e9)
        };
        let row = |what: &str, target: &str, got: Option<String>, pass: Option<bool>| {
            println!(
                "  {:<50} {:<14} {:>12}   {}",
                what,
                target,
                got.unwrap_or_else(|| "n/a".into()),
                match pass {
                    Some(true) => "PASS",
                    Some(false) => "FAIL",
                    None => "n/a",
                }
            );
        };
        let at_least = |what: &str, target: &str, v: Option<f64>, min: f64, unit: &str| {
            row(
                what,
                target,
                v.map(|v| format!("{v:.2}{unit}")),
                v.map(|v| v >= min),
            );
        };
        let at_most = |what: &str, target: &str, v: Option<f64>, max: f64, unit: &str| {
            row(
                what,
                target,
                v.map(|v| format!("{v:.2}{unit}")),
                v.map(|v| v <= max),
            );
        };
        let div = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
        let secs = |size, tool| g(size, tool).map(|x| x.0);
        let rss_mb = |size, tool| g(size, tool).map(|x| x.1 as f64 / 1e6);
        at_least(
            "stats 1 GiB, default workers",
            ">= 1.0 GB/s",
            gbps(1024, Tool::Stats),
            1.0,
            " GB/s",
        );
        at_least(
            "stats 1 GiB, -j 1",
            ">= 0.6 GB/s",
            gbps(1024, Tool::Stats1),
            0.6,
            " GB/s",
        );
        at_least(
            "stats 1 GiB scaling, default over -j 1",
            ">= 1.8x",
            div(secs(1024, Tool::Stats1), secs(1024, Tool::Stats)),
            1.8,
            "x",
        );
        for s in [1024, 200] {
            at_most(
                &format!("stats {} time / tcpdump time", size_label(s)),
                "<= 3x",
                div(secs(s, Tool::Stats), secs(s, Tool::Tcpdump)),
                3.0,
                "x",
            );
        }
        at_least(
            "export --format jsonl 1 GiB, default workers",
            ">= 300 MB/s",
            gbps(1024, Tool::Export).map(|x| x * 1000.0),
            300.0,
            " MB/s",
        );
        at_least(
            "export 200 MiB speed-up over tshark -T json",
            ">= 40x",
            div(secs(200, Tool::Tshark), secs(200, Tool::Export)),
            40.0,
            "x",
        );
        for s in [1024, 200] {
            at_most(
                &format!("stats {} peak RSS", size_label(s)),
                "<= 100 MB",
                rss_mb(s, Tool::Stats),
                100.0,
                " MB",
            );
        }
        at_most(
            "stats peak RSS ratio 1 GiB / 200 MiB",
            "<= 1.3",
            div(rss_mb(1024, Tool::Stats), rss_mb(200, Tool::Stats)),
            1.3,
            "",
        );
        at_most(
            "export 1 GiB peak RSS",
            "<= 100 MB",
            rss_mb(1024, Tool::Export),
            100.0,
            " MB",
        );
    }
}

// ---------------------------------------------------------------- hostile

enum Consumed {
    Text(u64, u64),
    Lines(jsonscan::Lines),
    Doc(jsonscan::Doc),
}

#[derive(Clone, Copy, PartialEq)]
enum HCmd {
    Stats,
    StatsJson,
    Export,
}

impl HCmd {
    fn label(self) -> &'static str {
        match self {
            HCmd::Stats => "stats",
            HCmd::StatsJson => "stats --format json",
            HCmd::Export => "export --format jsonl",
        }
    }
}

struct HRow {
    case: &'static str,
    cmd: HCmd,
    limit: Option<&'static str>,
    outcome: Result<(Outcome, Consumed), String>,
}

fn hostile_file(cache: &Path, case: &hostile::Case) -> io::Result<(PathBuf, u64, String)> {
    let path = cache.join(case.file);
    let id = format!(
        "hostile {} {:016x}",
        case.key,
        pcap::fnv(&[
            include_str!("hostile.rs").as_bytes(),
            include_str!("pcap.rs").as_bytes(),
            case.key.as_bytes()
        ])
    );
    if let Some(bytes) = cached(&path, &id) {
        return Ok((path, bytes, "cached".into()));
    }
    eprintln!(
        "bigmix: generating hostile case {} ({}) ...",
        case.key, case.what
    );
    let _ = std::fs::remove_file(path.with_extension("stamp"));
    let t = Instant::now();
    let bytes = hostile::generate(case.key, &path)?;
    stamp(&path, &id)?;
    Ok((
        path,
        bytes,
        format!("generated in {:.1} s", t.elapsed().as_secs_f64()),
    ))
}

fn run_hostile(
    set: &Settings,
    file: &Path,
    cmd: HCmd,
    limit: Option<&str>,
) -> Result<(Outcome, Consumed), String> {
    let mut args: Vec<OsString> = match cmd {
        HCmd::Stats => vec!["stats".into(), file.into()],
        HCmd::StatsJson => vec![
            "stats".into(),
            file.into(),
            "--format".into(),
            "json".into(),
        ],
        HCmd::Export => vec![
            "export".into(),
            file.into(),
            "--format".into(),
            "jsonl".into(),
        ],
    };
    if let Some(l) = limit {
        args.extend(["--memory-limit".into(), l.into()]);
    }
    let r = measure::run_piped(
        set.bin.as_os_str(),
        &os(&args),
        set.watch,
        |out| match cmd {
            HCmd::Stats => {
                let (b, l) = jsonscan::text(out);
                Consumed::Text(b, l)
            }
            HCmd::StatsJson => Consumed::Doc(jsonscan::document(out)),
            HCmd::Export => Consumed::Lines(jsonscan::jsonl(out)),
        },
    );
    r.map_err(|e| e.to_string())
}

fn print_hostile(rows: &[HRow]) {
    println!(
        "{:<4} {:<21} {:<8} {:>5} {:>8} {:>10} {:<16} {:<34} summary: drop/memory/limit keys",
        "case", "command", "limit", "exit", "seconds", "peak RSS", "<= limit+64MiB", "output"
    );
    for r in rows {
        let limit = r.limit.unwrap_or("default");
        let (o, c) = match &r.outcome {
            Ok(x) => x,
            Err(e) => {
                println!(
                    "{:<4} {:<21} {:<8} could not run: {e}",
                    r.case,
                    r.cmd.label(),
                    limit
                );
                continue;
            }
        };
        if o.code() == Some(2) {
            println!(
                "{:<4} {:<21} {:<8} {:>5} n/a ({})",
                r.case,
                r.cmd.label(),
                limit,
                2,
                clip(o.stderr_line(), 90)
            );
            continue;
        }
        let (output, found) = match c {
            Consumed::Text(b, l) => (format!("{} lines, {}", thousands(*l), size(*b)), None),
            Consumed::Lines(v) => (
                if v.invalid == 0 {
                    format!("{} lines, all JSON", thousands(v.lines))
                } else {
                    format!(
                        "{} lines, {} NOT JSON",
                        thousands(v.lines),
                        thousands(v.invalid)
                    )
                },
                Some(
                    v.summary
                        .as_ref()
                        .map_or("(no summary record)".to_string(), |f| f.keys_text()),
                ),
            ),
            Consumed::Doc(d) => match &d.result {
                Ok(f) => (
                    format!("1 JSON document, {}", mb(d.bytes)),
                    Some(f.keys_text()),
                ),
                Err(e) => (format!("NOT JSON: {}", clip(e, 24)), None),
            },
        };
        let found_limit = match c {
            Consumed::Lines(v) => v.summary.as_ref().and_then(|f| f.memory_limit()),
            Consumed::Doc(d) => d.result.as_ref().ok().and_then(|f| f.memory_limit()),
            Consumed::Text(..) => None,
        };
        // Without --memory-limit: the limit the summary states, else (the
        // text of `stats` states none) qscope's documented default.
        let limit_bytes = if r.limit.is_some() {
            Some(LIMIT.1)
        } else {
            found_limit.or(Some(qscope::engine::DEFAULT_MEMORY_LIMIT))
        };
        let accept = match limit_bytes {
            Some(l) if o.maxrss_bytes <= l + SLACK => "yes".to_string(),
            Some(_) => "NO".to_string(),
            None => "- (no limit known)".to_string(),
        };
        println!(
            "{:<4} {:<21} {:<8} {:>5} {:>8.2} {:>10} {:<16} {:<34} {}",
            r.case,
            r.cmd.label(),
            limit,
            o.status_text(),
            o.secs,
            mb(o.maxrss_bytes),
            accept,
            output,
            found.unwrap_or_else(|| "-".into())
        );
        if !matches!(o.code(), Some(0)) && !o.stderr_line().is_empty() {
            println!("       stderr: {}", clip(o.stderr_line(), 120));
        }
        if let Consumed::Lines(jsonscan::Lines {
            first_error: Some(e),
            ..
        }) = c
        {
            println!("       first bad line: {}", clip(e, 120));
        }
    }
}

// ------------------------------------------------------------------- main

fn main() {
    let set = Settings::from_env();
    let cache = cache_dir();
    std::fs::create_dir_all(&cache).expect("create target/bigmix");
    if !set.bin.is_file() {
        eprintln!("bigmix: no qscope binary at {}", set.bin.display());
        std::process::exit(1);
    }
    let version = Command::new(&set.bin)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let floor = measure::run_null(OsStr::new("true"), &[]).ok();

    let mut inputs = Vec::new();
    for &s in &set.sizes {
        inputs.push(bigmix(&cache, s, set.own_gen).expect("generate the capture"));
    }
    let mut results = Vec::new();
    for inp in &inputs {
        let skip = |tool: Tool| {
            (tool == Tool::Tshark && (!set.tshark || inp.size_mib != 200)).then(|| {
                Res::Skip(if set.tshark {
                    "200 MiB file only".into()
                } else {
                    "QSCOPE_BENCH_TSHARK=0".into()
                })
            })
        };
        let tools: Vec<Tool> = TOOLS.into_iter().filter(|&t| skip(t).is_none()).collect();
        eprintln!(
            "bigmix: {} on {}, in turns ...",
            tools
                .iter()
                .map(|t| t.label())
                .collect::<Vec<_>>()
                .join(", "),
            size_label(inp.size_mib)
        );
        let mut measured = measure_row(&tools, &set.bin, &inp.path, set.runs).into_iter();
        let row = TOOLS
            .into_iter()
            .map(|t| {
                skip(t)
                    .or_else(|| measured.next())
                    .unwrap_or(Res::Skip(String::new()))
            })
            .collect();
        results.push(row);
    }

    let mut hrows = Vec::new();
    let mut hfiles = Vec::new();
    for case in &set.hostile {
        let (path, bytes, how) = hostile_file(&cache, case).expect("generate a hostile capture");
        hfiles.push((case, path.clone(), bytes, how));
        let mut cmds = vec![HCmd::Stats];
        if case.stats_json {
            cmds.push(HCmd::StatsJson);
        }
        cmds.push(HCmd::Export);
        for cmd in cmds {
            for limit in [None, Some(LIMIT.0)] {
                eprintln!(
                    "bigmix: hostile {}: {} {} ...",
                    case.key,
                    cmd.label(),
                    limit.map_or(String::new(), |l| format!("--memory-limit {l}"))
                );
                hrows.push(HRow {
                    case: case.key,
                    cmd,
                    limit,
                    outcome: run_hostile(&set, &path, cmd, limit),
                });
            }
        }
    }

    println!();
    println!("qscope bigmix benchmark");
    println!(
        "  binary: {} ({}), {version}",
        set.bin.display(),
        set.bin_from
    );
    println!(
        "  {cpus} CPUs available; time: best of {} runs after a warm-up run, the commands taking turns; rates in decimal units of input bytes",
        set.runs
    );
    println!(
        "  peak RSS: each child's ru_maxrss from wait4(2), fork+exec (floor: `true` measures {})",
        floor.map_or("?".into(), |o| mb(o.maxrss_bytes))
    );
    println!("Inputs");
    for inp in &inputs {
        println!(
            "  {:<8} {}  {} bytes  ({})",
            size_label(inp.size_mib),
            inp.path.display(),
            thousands(inp.bytes),
            inp.how
        );
    }
    println!();
    if inputs.is_empty() {
        println!("No mixed capture measured (QSCOPE_BENCH_SIZES=0).");
    } else {
        let table = Table {
            inputs: &inputs,
            results,
        };
        table.print();
        table.targets();
    }

    if !set.hostile.is_empty() {
        println!();
        println!(
            "Hostile cases (one run each, default memory limit and --memory-limit {}; acceptance: peak RSS <= limit + 64 MiB)",
            LIMIT.0
        );
        for (case, path, bytes, how) in &hfiles {
            println!(
                "  {}  {:<68} {:>15} bytes  {} ({how})",
                case.key,
                case.what,
                thousands(*bytes),
                path.file_name().unwrap().to_string_lossy()
            );
        }
        println!();
        print_hostile(&hrows);
    } else {
        println!();
        println!("Hostile cases skipped (QSCOPE_BENCH_HOSTILE=0).");
    }
}
