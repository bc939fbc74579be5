//! Test support: a deliberately tiny, independent pcap reader/writer and
//! TCP segment rewriter (Ethernet/IPv4/TCP only), used to derive lossy,
//! reordered and mid-stream captures from the real ones in captures/;
//! helpers to run the real `qscope` binary; and a tiny terminal ([`sgr`])
//! to check what escape sequences show.
#![allow(dead_code)]

pub mod sgr;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

/// `captures/<rel>`: the captures bundled with the repository.
pub fn bundled(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(rel)
}

/// A scratch directory for this test binary.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[derive(Clone, Debug)]
pub struct Pkt {
    pub ts_us: i64,
    pub frame: Vec<u8>,
}

/// Reads a little-endian microsecond pcap (the shared captures' format).
pub fn read_pcap(path: &Path) -> Vec<Pkt> {
    let d = std::fs::read(path).unwrap();
    assert_eq!(
        &d[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "{} is not a LE µs pcap",
        path.display()
    );
    let mut pos = 24;
    let mut out = Vec::new();
    while pos + 16 <= d.len() {
        let u = |i: usize| u32::from_le_bytes(d[pos + i..pos + i + 4].try_into().unwrap());
        let (sec, usec, incl) = (u(0) as i64, u(4) as i64, u(8) as usize);
        let frame = d[pos + 16..pos + 16 + incl].to_vec();
        out.push(Pkt {
            ts_us: sec * 1_000_000 + usec,
            frame,
        });
        pos += 16 + incl;
    }
    out
}

/// Writes a little-endian microsecond Ethernet pcap.
pub fn write_pcap(path: &Path, pkts: &[Pkt]) {
    let mut d = Vec::new();
    d.extend_from_slice(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]);
    d.extend_from_slice(&[0; 8]);
    d.extend_from_slice(&262144u32.to_le_bytes());
    d.extend_from_slice(&1u32.to_le_bytes());
    for p in pkts {
        d.extend_from_slice(&((p.ts_us / 1_000_000) as u32).to_le_bytes());
        d.extend_from_slice(&((p.ts_us % 1_000_000) as u32).to_le_bytes());
        d.extend_from_slice(&(p.frame.len() as u32).to_le_bytes());
        d.extend_from_slice(&(p.frame.len() as u32).to_le_bytes());
        d.extend_from_slice(&p.frame);
    }
    std::fs::write(path, d).unwrap();
}

/// The TCP facts of an Ethernet/IPv4/TCP frame.
#[derive(Clone, Copy, Debug)]
pub struct Tcp {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub syn: bool,
    pub fin: bool,
    /// Offset of the IPv4 header and of the TCP payload in the frame.
    pub ip_off: usize,
    pub tcp_off: usize,
    pub payload_off: usize,
    pub payload_len: usize,
}

pub fn tcp(frame: &[u8]) -> Tcp {
    assert_eq!(&frame[12..14], &[0x08, 0x00], "not IPv4");
    let ip_off = 14;
    let ihl = (frame[ip_off] & 0x0f) as usize * 4;
    let total = u16::from_be_bytes([frame[ip_off + 2], frame[ip_off + 3]]) as usize;
    assert_eq!(frame[ip_off + 9], 6, "not TCP");
    let tcp_off = ip_off + ihl;
    let t = &frame[tcp_off..];
    let doff = (t[12] >> 4) as usize * 4;
    Tcp {
        sport: u16::from_be_bytes([t[0], t[1]]),
        dport: u16::from_be_bytes([t[2], t[3]]),
        seq: u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
        syn: t[13] & 0x02 != 0,
        fin: t[13] & 0x01 != 0,
        ip_off,
        tcp_off,
        payload_off: tcp_off + doff,
        payload_len: total - ihl - doff,
    }
}

/// The frame with only payload bytes `range` of the original segment (seq
/// and IP length adjusted; checksums left stale, as qscope ignores them).
pub fn slice_segment(frame: &[u8], range: std::ops::Range<usize>) -> Vec<u8> {
    let t = tcp(frame);
    let mut out = frame[..t.payload_off].to_vec();
    out.extend_from_slice(&frame[t.payload_off + range.start..t.payload_off + range.end]);
    let total = (out.len() - t.ip_off) as u16;
    out[t.ip_off + 2..t.ip_off + 4].copy_from_slice(&total.to_be_bytes());
    let seq = t.seq.wrapping_add(range.start as u32);
    out[t.tcp_off + 4..t.tcp_off + 8].copy_from_slice(&seq.to_be_bytes());
    out
}

/// The frame with its payload replaced by `payload` (same length or not).
pub fn with_payload(frame: &[u8], payload: &[u8]) -> Vec<u8> {
    let t = tcp(frame);
    let mut out = frame[..t.payload_off].to_vec();
    out.extend_from_slice(payload);
    let total = (out.len() - t.ip_off) as u16;
    out[t.ip_off + 2..t.ip_off + 4].copy_from_slice(&total.to_be_bytes());
    out
}

/// Kills and reaps `child` if it still runs: for the `Drop` of a test's
/// long-running qscope (a live capture or a relay runs until told to
/// stop), so that a test failing before it stops the process does not
/// leave it running.
pub fn stop_if_running(child: &mut Child) {
    if matches!(child.try_wait(), Ok(None)) {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Runs the qscope binary.
pub fn qscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qscope"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs `qscope export PATH --format jsonl` and parses every line.
pub fn export(path: &Path, extra: &[&str]) -> (Vec<serde_json::Value>, Output) {
    let p = path.to_str().unwrap();
    let mut args = vec!["export", p, "--format", "jsonl"];
    args.extend_from_slice(extra);
    let out = qscope(&args);
    let recs = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSONL line {l}: {e}")))
        .collect();
    (recs, out)
}

/// Records of one type.
pub fn of_type<'a>(recs: &'a [serde_json::Value], ty: &str) -> Vec<&'a serde_json::Value> {
    recs.iter().filter(|r| r["type"] == ty).collect()
}

/// Checks the export contract's coverage rule: per session and direction,
/// messages, undecoded and gap ranges tile the stream from its first
/// reported offset with no hole and no overlap. Returns the covered length
/// per (session, dir).
pub fn assert_coverage(
    recs: &[serde_json::Value],
) -> std::collections::BTreeMap<(String, String), u64> {
    use std::collections::BTreeMap;
    type Ranges = Vec<(u64, u64, String)>;
    let mut ranges: BTreeMap<(String, String), Ranges> = BTreeMap::new();
    for r in recs {
        let ty = r["type"].as_str().unwrap();
        if matches!(ty, "message" | "gap" | "undecoded") {
            let key = (
                r["session"].as_str().unwrap().to_string(),
                r["dir"].as_str().unwrap().to_string(),
            );
            ranges.entry(key).or_default().push((
                r["offset"].as_u64().unwrap(),
                r["len"].as_u64().unwrap(),
                ty.to_string(),
            ));
        }
    }
    let mut covered = BTreeMap::new();
    for (key, mut v) in ranges {
        v.sort();
        let mut next = v[0].0;
        for (o, l, ty) in &v {
            assert_eq!(
                *o, next,
                "{key:?}: {ty} at {o} but the previous range ended at {next}"
            );
            assert!(*l > 0, "{key:?}: empty {ty} at {o}");
            next = o + l;
        }
        covered.insert(key, next - v[0].0);
    }
    covered
}

/// Scores the export of `captures/NAME.pcap` (NAME like "qmp/qmp-basic")
/// against its ground truth `captures/NAME.truth.jsonl` by the rules of the
/// project's reference checker (`check-export.py`, kept beside the shared
/// captures): per session and direction, each truth line's `check` keys
/// (projected onto the union of the keys expected in that direction, an
/// absent key standing for itself) must equal the message's `fields`, with
/// integral floats compared as integers. Asserts 100 % matched and 0 extra,
/// which is the same as the two projected sequences being equal.
pub fn check_export(name: &str) {
    check_export_with(name, &[]);
}

/// [`check_export`] with extra `qscope export` arguments.
pub fn check_export_with(name: &str, extra: &[&str]) {
    use serde_json::Value;
    use std::collections::{BTreeMap, BTreeSet};

    fn norm(v: &Value) -> Value {
        match v {
            Value::Number(n) => match n.as_f64() {
                Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.2e18 => {
                    Value::from(f as i64)
                }
                _ => v.clone(),
            },
            Value::Array(a) => Value::Array(a.iter().map(norm).collect()),
            Value::Object(o) => {
                Value::Object(o.iter().map(|(k, x)| (k.clone(), norm(x))).collect())
            }
            _ => v.clone(),
        }
    }

    let pcap = bundled(&format!("{name}.pcap"));
    let truth_path = bundled(&format!("{name}.truth.jsonl"));
    let truth: Vec<Value> = std::fs::read_to_string(&truth_path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (recs, out) = export(&pcap, extra);
    assert!(
        out.status.success(),
        "{name}: export exited {:?}",
        out.status
    );
    let mut key_of = BTreeMap::new();
    for r in of_type(&recs, "session") {
        key_of.insert(
            r["id"].as_str().unwrap().to_string(),
            format!(
                "{}-{}",
                r["client"].as_str().unwrap(),
                r["server"].as_str().unwrap()
            ),
        );
    }
    let mut want: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
    for e in &truth {
        let k = (
            e["session"].as_str().unwrap().to_string(),
            e["dir"].as_str().unwrap().to_string(),
        );
        want.entry(k).or_default().push(e);
    }
    let mut got: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
    for r in of_type(&recs, "message") {
        let sid = r["session"].as_str().unwrap();
        let k = key_of
            .get(sid)
            .cloned()
            .unwrap_or_else(|| format!("?{sid}"));
        got.entry((k, r["dir"].as_str().unwrap().to_string()))
            .or_default()
            .push(r);
    }
    let absent = Value::from("<absent>");
    let mut problems = Vec::new();
    for (key, wl) in &want {
        let keys: BTreeSet<&str> = wl
            .iter()
            .flat_map(|e| e["check"].as_object().unwrap().keys().map(String::as_str))
            .collect();
        let project = |proto: &Value, fields: Option<&serde_json::Map<String, Value>>| {
            let m: serde_json::Map<String, Value> = keys
                .iter()
                .map(|k| {
                    let v = fields.and_then(|f| f.get(*k)).unwrap_or(&absent);
                    (k.to_string(), norm(v))
                })
                .collect();
            (proto.clone(), Value::Object(m))
        };
        let wt: Vec<_> = wl
            .iter()
            .map(|e| project(&e["proto"], e["check"].as_object()))
            .collect();
        let gl = got.get(key).map(Vec::as_slice).unwrap_or(&[]);
        let gt: Vec<_> = gl
            .iter()
            .map(|r| project(&r["proto"], r["fields"].as_object()))
            .collect();
        if wt != gt {
            let at = wt
                .iter()
                .zip(&gt)
                .position(|(a, b)| a != b)
                .unwrap_or(wt.len().min(gt.len()));
            problems.push(format!(
                "{} {}: {} expected, {} exported; first difference at #{at}:\n    want {:?}\n    got  {:?}",
                key.0,
                key.1,
                wt.len(),
                gt.len(),
                wt.get(at),
                gt.get(at)
            ));
        }
    }
    for (key, gl) in &got {
        if !want.contains_key(key) {
            problems.push(format!(
                "{} {}: {} messages not in the ground truth",
                key.0,
                key.1,
                gl.len()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{name}: export differs from its ground truth:\n{}",
        problems.join("\n")
    );
}

/// The frame with every occurrence of TCP port `from` (source or
/// destination) replaced by `to`.
pub fn with_port(frame: &[u8], from: u16, to: u16) -> Vec<u8> {
    let t = tcp(frame);
    let mut out = frame.to_vec();
    for at in [t.tcp_off, t.tcp_off + 2] {
        if u16::from_be_bytes([out[at], out[at + 1]]) == from {
            out[at..at + 2].copy_from_slice(&to.to_be_bytes());
        }
    }
    out
}

/// Builds a TCP conversation over Ethernet/IPv4 between 10.0.0.1 (client)
/// and 10.0.0.2 (server), with correct sequence and acknowledgement
/// numbers: handshake, data in either direction (each write acknowledged
/// by the peer), FIN from both sides.
pub struct Conv {
    pub pkts: Vec<Pkt>,
    cport: u16,
    sport: u16,
    seq: [u32; 2],
    ts: i64,
}

impl Conv {
    pub fn new(cport: u16, sport: u16) -> Conv {
        let mut c = Conv {
            pkts: Vec::new(),
            cport,
            sport,
            seq: [1000, 5000],
            ts: 1_700_000_000_000_000,
        };
        c.segment(0, 0x02, b""); // SYN
        c.seq[0] += 1;
        c.segment(1, 0x12, b""); // SYN-ACK
        c.seq[1] += 1;
        c.segment(0, 0x10, b""); // ACK
        c
    }

    fn segment(&mut self, side: usize, flags: u8, payload: &[u8]) {
        self.ts += 1000;
        let (src, dst, sp, dp) = if side == 0 {
            ([10, 0, 0, 1], [10, 0, 0, 2], self.cport, self.sport)
        } else {
            ([10, 0, 0, 2], [10, 0, 0, 1], self.sport, self.cport)
        };
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let total = (20 + 20 + payload.len()) as u16;
        f.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&sp.to_be_bytes());
        f.extend_from_slice(&dp.to_be_bytes());
        f.extend_from_slice(&self.seq[side].to_be_bytes());
        let ack = if flags & 0x10 != 0 {
            self.seq[1 - side]
        } else {
            0
        };
        f.extend_from_slice(&ack.to_be_bytes());
        f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(payload);
        self.pkts.push(Pkt {
            ts_us: self.ts,
            frame: f,
        });
    }

    /// The client sends `bytes` (one segment), the server acknowledges.
    pub fn c2s(&mut self, bytes: &[u8]) -> &mut Conv {
        self.segment(0, 0x18, bytes);
        self.seq[0] = self.seq[0].wrapping_add(bytes.len() as u32);
        self.segment(1, 0x10, b"");
        self
    }

    /// The server sends `bytes` (one segment), the client acknowledges.
    pub fn s2c(&mut self, bytes: &[u8]) -> &mut Conv {
        self.segment(1, 0x18, bytes);
        self.seq[1] = self.seq[1].wrapping_add(bytes.len() as u32);
        self.segment(0, 0x10, b"");
        self
    }

    /// Both sides close.
    pub fn close(&mut self) -> &mut Conv {
        self.segment(0, 0x11, b"");
        self.seq[0] += 1;
        self.segment(1, 0x11, b"");
        self.seq[1] += 1;
        self.segment(0, 0x10, b"");
        self
    }

    pub fn write(&self, path: &Path) {
        write_pcap(path, &self.pkts);
    }
}

/// The TCP conversations of a capture, reassembled by qscope itself: per
/// connection (in order of appearance), each delivered chunk with its
/// direction, in capture order. For replaying real conversations and
/// making fuzz seeds (not for judging reassembly: see reassembly_exact).
pub fn conversations(path: &Path) -> Vec<Vec<(qscope_dissectors::Dir, Vec<u8>)>> {
    use qscope::capture::{FileSource, Source};
    use qscope::layers::{decode, Decoded};
    use qscope::reassembly::{Config, Event, Reassembler};
    let mut src = FileSource::open(path).unwrap();
    let mut r = Reassembler::new(Config::default());
    let mut out: Vec<Vec<(qscope_dissectors::Dir, Vec<u8>)>> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let mut on = |ev: Event<'_>| {
        if let Event::Data {
            conn, dir, bytes, ..
        } = ev
        {
            let n = index.len();
            let i = *index.entry(conn).or_insert(n);
            if i == out.len() {
                out.push(Vec::new());
            }
            out[i].push((dir, bytes.to_vec()));
        }
    };
    let mut last = Default::default();
    while let Some(p) = src.next_packet().unwrap() {
        last = p.ts;
        if let Ok(Decoded::Tcp(seg)) = decode(p.link, p.data, p.orig_len) {
            r.segment(p.ts, &seg, &mut on);
        }
    }
    r.finish(last, &mut on);
    out
}

/// Copies of real sessions, each with its own client port and start time,
/// interleaved so that dozens of connections are open at once (the recipe
/// of the benchmarks' mixed captures, small), written to `scratch(dir)`.
pub fn mixed(dir: &str, copies: usize) -> PathBuf {
    let sources: &[(&str, u16)] = &[
        ("qmp/qmp-basic.pcap", 4444),
        ("qmp/qmp-events.pcap", 4444),
        ("qm/qm-1-fileops-qmclilib.pcap", 4243),
        ("qm/qm-2-prompt-call-qmclilib.pcap", 4243),
        ("mqserver/mq-xml.pcap", 8889),
        ("qps/qps-1-happy.pcap", 7070),
    ];
    let mut all: Vec<Pkt> = Vec::new();
    let mut port = 20_000u16;
    for k in 0..copies {
        for (i, (rel, server)) in sources.iter().enumerate() {
            let pkts = read_pcap(&bundled(rel));
            let t0 = pkts[0].ts_us;
            let shift = (k * sources.len() + i) as i64 * 7_000;
            // Every client port of the capture gets a port of its own.
            let mut map: Vec<(u16, u16)> = Vec::new();
            for p in &pkts {
                let t = tcp(&p.frame);
                let client = if t.sport == *server { t.dport } else { t.sport };
                let to = match map.iter().find(|(from, _)| *from == client) {
                    Some((_, to)) => *to,
                    None => {
                        port += 1;
                        map.push((client, port));
                        port
                    }
                };
                all.push(Pkt {
                    ts_us: 1_800_000_000_000_000 + (p.ts_us - t0) + shift,
                    frame: with_port(&p.frame, client, to),
                });
            }
        }
    }
    all.sort_by_key(|p| p.ts_us);
    let path = scratch(dir).join(format!("mixed-{copies}.pcap"));
    write_pcap(&path, &all);
    path
}
