//! `qscope follow CAPTURE SESSION`: the reassembled byte stream of one
//! session. The session is found by a first analysis (so its id is the one
//! print/export give it); a second pass reassembles only that connection.
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
//! The first pass collects the marked ranges (as stream offsets) of every
//! session's messages, so masking is a function of the second pass's
//! chunks, those ranges and the flag. `--raw` cannot mask (its point is
//! the exact bytes): it refuses a direction that carries a credential
//! unless `--show-secrets`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::SocketAddr;

use qscope_dissectors::Dir;

use super::{DirArg, Failure, FollowArgs};
use crate::capture::{FileSource, Source, Timestamp};
use crate::engine::{analyze, Config};
use crate::human::{self, Layout, Secrets};
use crate::layers::{self, Decoded};
use crate::reassembly::{Event, Reassembler};
use crate::record::Summary;
use crate::record::{Flow, Record, SessionInfo, Sink};

/// What the first pass keeps of a session's messages.
#[derive(Default)]
struct Seen {
    /// Secret byte ranges by direction, as stream offsets.
    secrets: [Secrets; 2],
    /// The wire encoding the first message reported (MQServer).
    encoding: Option<String>,
}

/// Keeps every session announced, and what [`Seen`] holds of each.
#[derive(Default)]
struct Sessions {
    list: Vec<SessionInfo>,
    seen: HashMap<String, Seen>,
}

impl Sink for Sessions {
    fn record(&mut self, rec: &Record<'_>) -> io::Result<Flow> {
        match rec {
            Record::Session(s) => self.list.push((*s).clone()),
            Record::Message(m) => {
                let seen = self.seen.entry(m.session.id.clone()).or_default();
                if !m.msg.secrets.is_empty() {
                    seen.secrets[m.msg.dir.idx()].extend(m.msg.secret_offsets());
                }
                if seen.encoding.is_none() {
                    seen.encoding = human::encoding(m.msg).map(str::to_owned);
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

enum Chunk {
    Data(Dir, u64, Vec<u8>),
    Gap(Dir, u64, u64),
}

fn fail(reason: impl Into<String>) -> Failure {
    Failure::fail(reason)
}

fn find(sessions: &[SessionInfo], want: &str) -> Result<SessionInfo, Failure> {
    if let Some(s) = sessions.iter().find(|s| s.id == want) {
        return Ok(s.clone());
    }
    let addrs = want.split_once('-').and_then(|(a, b)| {
        Some((
            a.trim().parse::<SocketAddr>().ok()?,
            b.trim().parse::<SocketAddr>().ok()?,
        ))
    });
    let Some((a, b)) = addrs else {
        return Err(fail(format!(
            "no session '{want}': give an id such as s1 (see qscope print) or CLIENT-SERVER addresses such as 127.0.0.1:40000-127.0.0.1:4444 ({} session(s) in the capture)",
            sessions.len()
        )));
    };
    let hits: Vec<&SessionInfo> = sessions
        .iter()
        .filter(|s| (s.client, s.server) == (a, b) || (s.client, s.server) == (b, a))
        .collect();
    match hits.as_slice() {
        [] => Err(fail(format!("no session between {a} and {b}"))),
        [one] => Ok((*one).clone()),
        [first, ..] => {
            eprintln!(
                "qscope: {} sessions between {a} and {b}; following the first, {} (use an id for another)",
                hits.len(),
                first.id
            );
            Ok((*first).clone())
        }
    }
}

/// Reassembles the connection of `info` alone: its data and gaps in order,
/// directions as the session has them.
fn reassemble(args: &FollowArgs, cfg: &Config, info: &SessionInfo) -> Result<Vec<Chunk>, Failure> {
    let mut source = FileSource::open(&args.capture).map_err(|e| fail(e.to_string()))?;
    let mut reasm = Reassembler::new(cfg.reassembly.clone());
    let mut chunks = Vec::new();
    // The reassembler's connection for the session, and whether its
    // orientation is the other way round from the session's.
    let mut conn: Option<(u64, bool)> = None;
    let mut last = Timestamp::default();
    let ends = [info.client, info.server];
    let mut on_event = |ev: Event<'_>| match ev {
        Event::Open {
            conn: c,
            client,
            ts,
            ..
        } if conn.is_none() && ts == info.start => {
            conn = Some((c, client != info.client));
        }
        Event::Data {
            conn: c,
            dir,
            offset,
            bytes,
            ..
        } => {
            if let Some((want, flip)) = conn {
                if c == want {
                    let dir = if flip { dir.flip() } else { dir };
                    match chunks.last_mut() {
                        Some(Chunk::Data(d, o, b))
                            if *d == dir && *o + b.len() as u64 == offset =>
                        {
                            b.extend_from_slice(bytes)
                        }
                        _ => chunks.push(Chunk::Data(dir, offset, bytes.to_vec())),
                    }
                }
            }
        }
        Event::Gap {
            conn: c,
            dir,
            offset,
            len,
            ..
        } => {
            if let Some((want, flip)) = conn {
                if c == want {
                    chunks.push(Chunk::Gap(if flip { dir.flip() } else { dir }, offset, len));
                }
            }
        }
        _ => {}
    };
    loop {
        let pkt = match source.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => {
                eprintln!("qscope: {e}");
                break;
            }
        };
        last = last.max(pkt.ts);
        if let Ok(Decoded::Tcp(seg)) = layers::decode(pkt.link, pkt.data, pkt.orig_len) {
            if ends.contains(&seg.src) && ends.contains(&seg.dst) {
                reasm.segment(pkt.ts, &seg, &mut on_event);
            }
        }
    }
    reasm.finish(last, &mut on_event);
    Ok(chunks)
}

pub fn run(args: &FollowArgs) -> Result<(), Failure> {
    if args.capture.as_os_str() == "-" {
        return Err(fail(
            "follow reads the capture twice (to find the session, then its bytes): give a capture file, not standard input",
        ));
    }
    let cfg = Config::default().with_decode_as(args.decode_as.clone());
    let mut source = FileSource::open(&args.capture).map_err(|e| fail(e.to_string()))?;
    let mut sessions = Sessions::default();
    // A capture error after some packets still leaves the sessions before it.
    let _ = analyze(&mut source, cfg.clone(), &mut sessions);
    let info = find(&sessions.list, &args.session)?;
    let seen = sessions.seen.remove(&info.id).unwrap_or_default();
    let layout = Layout::of(info.proto, seen.encoding.as_deref());
    let show = args.show_secrets;
    let chunks = reassemble(args, &cfg, &info)?;
    let want = args.dir.map(|d| match d {
        DirArg::C2s => Dir::C2S,
        DirArg::S2c => Dir::S2C,
    });
    let keep = |d: Dir| want.is_none_or(|w| w == d);
    let mut stdout = io::stdout().lock();
    let result = if args.raw {
        if !show {
            let first = want
                .map(|d| &seen.secrets[d.idx()])
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
        let masked = !show && seen.secrets.iter().any(|s| !s.is_empty());
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
                    let m = if *d == Dir::C2S { "->" } else { "<-" };
                    let _ = writeln!(out, "{m} [gap: {l} bytes at offset {o}]");
                }
                Chunk::Data(d, o, b) if keep(*d) => {
                    let m = if *d == Dir::C2S { "->" } else { "<-" };
                    let bytes = human::shown(b, *o, &seen.secrets[d.idx()], show);
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
        _ => Ok(()),
    }
}
