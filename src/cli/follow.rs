//! `qscope follow CAPTURE SESSION`: the reassembled byte stream of one
//! session, in one pass of the engine, which reports every session's bytes
//! ([`Config::keep_bytes`]); the sink keeps those of the session asked
//! for (by its id, as print/export give it, or by its addresses), with its
//! gaps and the secret ranges its messages mark. So standard input works
//! too.
//!
//! Output: text (default; `->` client to server, `<-` server to client,
//! bytes other than printable ASCII as `\xNN`), `--hex` (hex dump with
//! stream offsets), or `--raw --dir c2s|s2c` (the exact bytes). Missing
//! bytes are shown as `[gap: N bytes at offset O]`; `--raw` refuses a
//! direction with a gap unless `--allow-gaps` (then the bytes around the
//! gap are written, the gap left out).
//!
//! Text and hex follow the rules of [`crate::human`]: the bytes the
//! dissectors mark as secret are masked (`*`, `**`) unless
//! `--show-secrets`, and text lines break at 0x0a only in text protocols.
//! `--raw` cannot mask (its point is the exact bytes): it refuses a
//! direction that carries a credential unless `--show-secrets`.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::SocketAddr;

use qscope_dissectors::Dir;

use super::args::{exit, DirArg, Failure, FollowArgs};
use crate::capture::FileSource;
use crate::engine::{analyze, AnalyzeError, Config};
use crate::human::{self, Layout, Secrets};
use crate::record::{Flow, Record, SessionInfo, Sink, Summary};

enum Chunk {
    Data(Dir, u64, Vec<u8>),
    Gap(Dir, u64, u64),
}

/// Which session to follow.
enum Want {
    Id(String),
    /// Either order.
    Addrs(SocketAddr, SocketAddr),
}

/// Keeps the bytes, gaps and secret ranges of the session asked for.
struct Follow {
    want: Want,
    /// Sessions announced.
    sessions: u64,
    target: Option<SessionInfo>,
    /// Other sessions between the same addresses.
    also: u64,
    chunks: Vec<Chunk>,
    /// Secret byte ranges by direction, as stream offsets.
    secrets: [Secrets; 2],
    /// The wire encoding the first message reported (MQServer).
    encoding: Option<String>,
}

impl Follow {
    fn is_target(&self, s: &SessionInfo) -> bool {
        self.target.as_ref().is_some_and(|t| t.id == s.id)
    }
}

impl Sink for Follow {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
        match rec {
            Record::Session(s) => {
                self.sessions += 1;
                let hit = match &self.want {
                    Want::Id(id) => s.id == *id,
                    Want::Addrs(a, b) => {
                        (s.client, s.server) == (*a, *b) || (s.client, s.server) == (*b, *a)
                    }
                };
                if hit {
                    match self.target {
                        None => self.target = Some((*s).clone()),
                        Some(_) => self.also += 1,
                    }
                }
            }
            Record::Bytes(b) if self.is_target(b.session) => match self.chunks.last_mut() {
                Some(Chunk::Data(d, o, v)) if *d == b.dir && *o + v.len() as u64 == b.offset => {
                    v.extend_from_slice(b.data)
                }
                _ => self
                    .chunks
                    .push(Chunk::Data(b.dir, b.offset, b.data.to_vec())),
            },
            Record::Gap(r) if self.is_target(r.session) => {
                self.chunks.push(Chunk::Gap(r.dir, r.offset, r.len));
            }
            Record::Message(m) if self.is_target(m.session) => {
                if !m.msg.secrets.is_empty() {
                    self.secrets[m.msg.dir.idx()].extend(m.msg.secret_offsets());
                }
                if self.encoding.is_none() {
                    self.encoding = human::encoding(m.msg).map(str::to_owned);
                }
            }
            // Asked for by id: nothing more to learn after its end.
            Record::SessionEnd(e) if self.is_target(e.session) => {
                if matches!(self.want, Want::Id(_)) {
                    return Ok(Flow::Stop);
                }
            }
            _ => {}
        }
        Ok(Flow::Continue)
    }
    fn finish(&mut self, _: &Summary) -> io::Result<()> {
        Ok(())
    }
}

fn fail(reason: impl Into<String>) -> Failure {
    Failure::fail(reason)
}

/// What the SESSION argument asks for.
fn want(arg: &str) -> Want {
    let addrs = arg.split_once('-').and_then(|(a, b)| {
        Some((
            a.trim().parse::<SocketAddr>().ok()?,
            b.trim().parse::<SocketAddr>().ok()?,
        ))
    });
    match addrs {
        Some((a, b)) => Want::Addrs(a, b),
        None => Want::Id(arg.trim().to_string()),
    }
}

pub fn run(args: &FollowArgs) -> Result<(), Failure> {
    let mut cfg = Config::default().with_decode_as(args.decode_as.clone());
    cfg.keep_bytes = true;
    let mut source = FileSource::open(&args.capture).map_err(|e| {
        // `qscope follow s1 capture.pcap`: the arguments the other way round.
        let swapped = !args.capture.exists() && std::path::Path::new(&args.session).is_file();
        if swapped {
            fail(format!(
                "{e} (the capture comes first: qscope follow {} {})",
                crate::human::escape(&args.session),
                crate::human::escape(&args.capture.to_string_lossy())
            ))
        } else {
            fail(e.to_string())
        }
    })?;
    let mut f = Follow {
        want: want(&args.session),
        sessions: 0,
        target: None,
        also: 0,
        chunks: Vec::new(),
        secrets: [Secrets::default(), Secrets::default()],
        encoding: None,
    };
    // A capture damaged part-way still leaves what came before the fault:
    // it is followed, and the fault reported after it.
    let fault = match analyze(&mut source, cfg, &mut f) {
        Ok(_) => None,
        Err(AnalyzeError::Capture(e)) => Some(e.to_string()),
        Err(e @ AnalyzeError::Output(_)) => return Err(fail(e.to_string())),
    };
    let Some(info) = f.target.take() else {
        let msg = match &f.want {
            Want::Id(id) => format!(
                "no session '{id}': give an id such as s1 (see qscope print) or CLIENT-SERVER addresses such as 127.0.0.1:40000-127.0.0.1:4444 ({} session(s) in the capture)",
                f.sessions
            ),
            Want::Addrs(a, b) => format!("no session between {a} and {b}"),
        };
        return Err(match fault {
            Some(e) => Failure {
                code: exit::DAMAGED,
                reason: format!("{msg}; {e}"),
            },
            None => fail(msg),
        });
    };
    if f.also > 0 {
        eprintln!(
            "qscope: {} sessions between {} and {}; following the first, {} (use an id for another)",
            f.also + 1,
            info.client,
            info.server,
            info.id
        );
    }
    let seen_secrets = std::mem::take(&mut f.secrets);
    let layout = Layout::of(info.proto, f.encoding.as_deref());
    let show = args.show_secrets;
    let chunks = std::mem::take(&mut f.chunks);
    let want = args.dir.map(|d| match d {
        DirArg::C2s => Dir::C2S,
        DirArg::S2c => Dir::S2C,
    });
    let keep = |d: Dir| want.is_none_or(|w| w == d);
    let mut stdout = io::stdout().lock();
    let result = if args.raw {
        if !show {
            let first = want
                .map(|d| &seen_secrets[d.idx()])
                .and_then(|s| s.ranges().first());
            if let Some(r) = first {
                return Err(fail(format!(
                    "{} {}: carries a credential (secret bytes at offset {}); --raw writes the exact bytes, so it needs --show-secrets",
                    info.id,
                    want.map_or("", Dir::as_str),
                    r.start
                )));
            }
        }
        if !args.allow_gaps {
            let gaps: Vec<(u64, u64)> = chunks
                .iter()
                .filter_map(|c| match c {
                    Chunk::Gap(d, o, l) if keep(*d) => Some((*o, *l)),
                    _ => None,
                })
                .collect();
            if let Some((o, l)) = gaps.first() {
                return Err(fail(format!(
                    "{} {}: {} gap(s) in the capture, the first of {l} bytes at offset {o}; --raw would not be the stream (--allow-gaps writes the bytes around them)",
                    info.id,
                    want.map_or("", Dir::as_str),
                    gaps.len()
                )));
            }
        }
        chunks.iter().try_for_each(|c| match c {
            Chunk::Data(d, _, b) if keep(*d) => stdout.write_all(b),
            _ => Ok(()),
        })
    } else {
        let masked = !show && seen_secrets.iter().any(|s| !s.is_empty());
        let mut out = format!(
            "# {} {} {} -> {} (-> client to server, <- server to client{})\n",
            info.id,
            info.proto.as_str(),
            info.client,
            info.server,
            if masked {
                "; secrets masked as *, --show-secrets shows them"
            } else {
                ""
            }
        );
        for c in &chunks {
            match c {
                Chunk::Gap(d, o, l) if keep(*d) => {
                    let m = human::arrow(*d);
                    let _ = writeln!(out, "{m} [gap: {l} bytes at offset {o}]");
                }
                Chunk::Data(d, o, b) if keep(*d) => {
                    let m = human::arrow(*d);
                    let bytes = human::shown(b, *o, &seen_secrets[d.idx()], show);
                    let lines = if args.hex {
                        human::hex_rows(bytes, *o, 16, layout.marks)
                    } else {
                        human::text_lines(bytes, layout.line_breaks)
                    };
                    for line in lines {
                        let _ = writeln!(out, "{m} {line}");
                    }
                }
                _ => {}
            }
        }
        stdout.write_all(out.as_bytes())
    };
    match result.and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(fail(format!("cannot write output: {e}")))
        }
        _ => match fault {
            Some(e) => Err(Failure {
                code: exit::DAMAGED,
                reason: e,
            }),
            None => Ok(()),
        },
    }
}
