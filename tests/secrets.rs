//! Every output keeps every secret: on each capture in `captures/` that
//! carries a credential, every output qscope has — `print`, `print -V`,
//! `export` (jsonl, json, ek), `stats --expert` (table and json),
//! `follow` (text, `--hex`, `--raw`, both directions) and the terminal UI's
//! detail view (field tree), hex pane and stream view (text and hex, drawn
//! on ratatui's `TestBackend`) — shows no known password without
//! `--show-secrets`, and shows each with it.
//!
//! Hex dumps are also read back into bytes (a masked `**` cell becomes a
//! byte no password contains), and `follow`'s text and the stream view are
//! unescaped, so a password split over hex rows, wrapped lines or cells is
//! still found.

mod common;

use std::path::Path;

use common::{bundled, qscope};
use qscope::capture::FileSource;
use qscope::engine::Config;
use qscope::tui::Action;
use qscope::tui::Harness;
use qscope_dissectors::Options;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use regex::bytes::Regex;

/// Which outputs show a credential in this form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// As decoded (print, export, stats, the TUI's tree) and on the wire
    /// (follow, the TUI's hex pane and stream view): the same bytes.
    Both,
    /// Only as decoded: the wire carries it encoded.
    Decoded,
    /// Only as sent: an encoding of a decoded password.
    Wire,
}

/// A known credential: a pattern over an output's bytes.
struct Needle {
    /// A regular expression (over bytes) that matches the credential in an
    /// output and nothing else there.
    pattern: &'static str,
    form: Form,
    /// `stats --expert` lists it among its security findings (clear-text
    /// credentials of QM Login, QPS Signon and MQServer AUTH; QMP
    /// `set_password` is an expert note, not a finding).
    finding: bool,
}

const fn plain(pattern: &'static str) -> Needle {
    Needle {
        pattern,
        form: Form::Both,
        finding: true,
    }
}

/// Every capture that carries a credential, and the credentials it
/// carries. Where each comes from:
///
/// * QM: `captures/README.md` ("Logins: `qmtest`/`qmpass` and
///   `qmodd`/`secret1` (a wrong password in qm-2)"); the wrong password of
///   qm-2 is in the capture's first Login frame:
///   `18 00 00 00 18 00 06 00 'qmtest' 07 00 'wrongpw' 00`. qm-4 logs in
///   with `qmtest`/`qmpass` in its third session.
/// * QPS: `captures/README.md` ("`editor` with `s3cret` (and
///   `wrong-password` in qps-2)").
/// * MQServer: `captures/README.md` for mq-xml's `haha`
///   (`<string>fish</string><string>haha</string>` in its AUTH). The
///   simulator's mq-text and mq-binary AUTH carry user `fish` and the
///   design's salted hash as password: mq-text's AUTH frame is
///   `2|AUTH|1|37|0|949855649|fish 34654e968f97c8033788ef914171107c`;
///   mq-binary sends the same DATA SQLite-encoded (offset byte 0x01, each
///   byte less one), so on the wire the hash reads
///   `23543d857e86b7/22677de8030600/6b`.
/// * QMP: QEMU's documentation example of `set_password`
///   (`captures/qmp-qapi/examples.jsonl`, qapi/ui.json line 86) sends
///   `"password": "secret"`. The word "secret" is everywhere else too
///   (`sev-inject-launch-secret`, the notes qscope writes about secrets),
///   so the pattern is the password with its member name, in JSON as sent
///   (any spacing, compact or laid out) and as embedded in a JSON string
///   (`\"`).
const CASES: &[(&str, &[Needle])] = &[
    ("qm/qm-1-fileops-qmclilib", &[plain("qmpass")]),
    (
        "qm/qm-2-prompt-call-qmclilib",
        &[plain("wrongpw"), plain("secret1")],
    ),
    ("qm/qm-4-extra-codes-rawclient", &[plain("qmpass")]),
    ("qps/qps-1-happy", &[plain("s3cret")]),
    (
        "qps/qps-2-signon-fail",
        &[plain("wrong-password"), plain("s3cret")],
    ),
    ("mqserver/mq-xml", &[plain("haha")]),
    (
        "mqserver/mq-text",
        &[plain("34654e968f97c8033788ef914171107c")],
    ),
    (
        "mqserver/mq-binary",
        &[
            Needle {
                pattern: "34654e968f97c8033788ef914171107c",
                form: Form::Decoded,
                finding: true,
            },
            Needle {
                pattern: "23543d857e86b7/22677de8030600/6b",
                form: Form::Wire,
                finding: false,
            },
        ],
    ),
    ("qmp-qapi/qapi-compact", &[SET_PASSWORD]),
    ("qmp-qapi/qapi-asdoc", &[SET_PASSWORD]),
    ("qmp-qapi/qapi-pipelined", &[SET_PASSWORD]),
];

const SET_PASSWORD: Needle = Needle {
    pattern: r#"password\\?"\s*:\s*\\?"secret\\?""#,
    form: Form::Both,
    finding: false,
};

/// What an output is: decoded values, or the bytes as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Decoded,
    /// Decoded values in `stats`: only security findings show passwords.
    Stats,
    Wire,
}

/// One output of one run, and what to search in it (its text, plus the
/// bytes read back from hex dumps and escaped text).
struct Output {
    /// The command or view; with --show-secrets, each password must show
    /// in some output of each family (a session's follow shows only its
    /// own credential).
    family: &'static str,
    /// The family, and the session when there are several.
    name: String,
    kind: Kind,
    bytes: Vec<u8>,
}

/// Stands for a masked byte when a view is read back into bytes.
const MASKED: u8 = 0;

fn run_ok(args: &[&str]) -> Vec<u8> {
    let out = qscope(args);
    assert!(
        out.status.success(),
        "qscope {args:?}: exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The escapes of `qscope follow` and the stream view, undone.
fn unescape(t: &str) -> Vec<u8> {
    let b = t.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1)) {
            (b'\\', Some(b'x')) => {
                let hex = t.get(i + 2..i + 4).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 4;
            }
            (b'\\', Some(&c)) => {
                out.push(match c {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    c => c,
                });
                i += 2;
            }
            (b'*', _) => {
                out.push(MASKED);
                i += 1;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Hex cells (`7b`, `**`, blanks) read back into bytes.
fn hex_cells(cells: &str) -> Vec<u8> {
    cells
        .split_whitespace()
        .map(|c| {
            if c == "**" {
                MASKED
            } else {
                u8::from_str_radix(c, 16).unwrap_or_else(|_| panic!("hex cell {c:?}"))
            }
        })
        .collect()
}

/// Per direction (`->`, `<-`), the bytes of prefixed lines, in order.
#[derive(Default)]
struct Streams {
    c2s: Vec<u8>,
    s2c: Vec<u8>,
    lines: usize,
}

impl Streams {
    fn push(&mut self, marker: &str, bytes: Vec<u8>) {
        self.lines += 1;
        match marker {
            "->" => self.c2s.extend(bytes),
            "<-" => self.s2c.extend(bytes),
            other => panic!("marker {other:?}"),
        }
    }
    /// The output's text, then each direction's bytes.
    fn with_text(self, text: &[u8]) -> Vec<u8> {
        [text, b"\n", &self.c2s, b"\n", &self.s2c].concat()
    }
}

/// `qscope follow` text: `-> ` / `<- ` lines of escaped bytes.
fn follow_text(out: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(out.to_vec()).expect("follow text is UTF-8");
    let mut s = Streams::default();
    for l in text.lines().skip(1) {
        let (marker, rest) = l.split_at(2);
        if !rest.starts_with(" [gap:") {
            s.push(marker, unescape(&rest[1..]));
        }
    }
    assert!(s.lines > 0, "no data lines in {text}");
    s.with_text(out)
}

/// `qscope follow --hex`: `-> OFFSET  cells  |ascii|` rows.
fn follow_hex(out: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(out.to_vec()).expect("follow --hex is UTF-8");
    let mut s = Streams::default();
    for l in text.lines().skip(1) {
        let (marker, rest) = l.split_at(2);
        if rest.starts_with(" [gap:") {
            continue;
        }
        let end = rest.find(" |").unwrap_or_else(|| panic!("row {l:?}"));
        s.push(marker, hex_cells(&rest[11..end]));
    }
    assert!(s.lines > 0, "no rows in {text}");
    s.with_text(out)
}

/// The outputs of the commands (everything but the TUI) on `pcap`.
fn command_outputs(pcap: &str, sessions: &[String], show: bool) -> Vec<Output> {
    let mut outs = Vec::new();
    let flag: &[&str] = if show { &["--show-secrets"] } else { &[] };
    let mut add = |family: &'static str, session: &str, kind: Kind, bytes: Vec<u8>| {
        outs.push(Output {
            family,
            name: format!("{family} {session}"),
            kind,
            bytes,
        })
    };
    let cmd = |args: &[&str]| run_ok(&[args, flag].concat());
    add("print", "", Kind::Decoded, cmd(&["print", pcap]));
    add("print -V", "", Kind::Decoded, cmd(&["print", "-V", pcap]));
    for (family, f) in [
        ("export --format jsonl", "jsonl"),
        ("export --format json", "json"),
        ("export --format ek", "ek"),
    ] {
        let out = cmd(&["export", pcap, "--format", f]);
        add(family, "", Kind::Decoded, out);
    }
    let out = cmd(&["stats", pcap, "--expert"]);
    add("stats --expert", "", Kind::Stats, out);
    let out = cmd(&["stats", pcap, "--expert", "--format", "json"]);
    add("stats --expert --format json", "", Kind::Stats, out);
    for s in sessions {
        let text = cmd(&["follow", pcap, s]);
        add("follow", s, Kind::Wire, follow_text(&text));
        let hex = cmd(&["follow", pcap, s, "--hex"]);
        add("follow --hex", s, Kind::Wire, follow_hex(&hex));
        // --raw cannot mask: without --show-secrets it refuses a direction
        // that carries a credential, and writes nothing.
        let mut raw = Vec::new();
        for dir in ["c2s", "s2c"] {
            let out = qscope(&[&["follow", pcap, s, "--raw", "--dir", dir], flag].concat());
            if out.status.success() {
                raw.extend(out.stdout);
            } else {
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(
                    !show
                        && out.status.code() == Some(1)
                        && out.stdout.is_empty()
                        && err.lines().count() == 1
                        && err.contains("credential")
                        && err.contains("--show-secrets"),
                    "follow {pcap} {s} --raw --dir {dir}: {:?} {err}",
                    out.status
                );
                // What it refused holds a credential: it is c2s.
                assert_eq!(dir, "c2s", "{pcap} {s}");
            }
        }
        add("follow --raw", s, Kind::Wire, raw);
    }
    outs
}

/// The text of `r` on `buf`, one string per row.
fn rows(buf: &Buffer, r: Rect) -> Vec<String> {
    (r.y..r.y + r.height)
        .map(|y| (r.x..r.x + r.width).map(|x| buf[(x, y)].symbol()).collect())
        .collect()
}

/// The hex pane (its rows `OFFSET  cells ascii`) read back into bytes.
fn hex_pane(h: &Harness) -> Option<Vec<u8>> {
    let r = h.state.layout().hex;
    if r.height < 2 {
        return None;
    }
    let per = if r.width >= 76 { 16 } else { 8 };
    let mut bytes = Vec::new();
    for row in rows(&h.buffer(), r).iter().skip(1) {
        if row.trim().is_empty() {
            break;
        }
        if !row.get(..6)?.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        bytes.extend(hex_cells(row.get(8..8 + per * 3 + 1)?));
    }
    (!bytes.is_empty()).then_some(bytes)
}

/// The data lines of one page of the stream view read back into bytes:
/// text lines unescaped, hex rows decoded; with their direction marker.
fn stream_page(buf: &Buffer, body: Rect, hex: bool) -> Vec<(String, Vec<u8>)> {
    let mut lines = Vec::new();
    for row in rows(buf, body).iter().skip(1) {
        let marker = row.get(..2).unwrap_or("");
        if marker != "->" && marker != "<-" {
            continue;
        }
        let rest = row.get(3..).unwrap_or("").trim_end();
        let bytes = if hex {
            hex_cells(rest.get(10..10 + 16 * 3 + 1).unwrap_or(""))
        } else {
            unescape(rest)
        };
        lines.push((marker.to_string(), bytes));
    }
    lines
}

/// Lines of the previous page read again with each page, so that what a
/// page boundary splits is whole somewhere (a password spans 3 lines at
/// most).
const OVERLAP: usize = 8;

/// Reads the stream view page by page (hex: 16-byte rows, the screen is
/// wide enough for them).
fn stream_view(h: &mut Harness, hex: bool, out: &mut Vec<u8>) {
    let mut last = String::new();
    let mut tail: Vec<(String, Vec<u8>)> = Vec::new();
    for _ in 0..100_000 {
        let buf = h.buffer();
        let screen = qscope::tui::harness::buffer_text(&buf);
        if screen == last {
            return;
        }
        let page = stream_page(&buf, h.state.layout().body, hex);
        assert!(!page.is_empty(), "no stream lines on\n{screen}");
        let mut s = Streams::default();
        for (m, b) in tail.iter().chain(&page) {
            s.push(m, b.clone());
        }
        out.extend(s.with_text(screen.as_bytes()));
        tail = page[page.len().saturating_sub(OVERLAP)..].to_vec();
        last = screen;
        h.keys("PgDn");
    }
    panic!("the stream view never ended");
}

/// The terminal UI's outputs: for each session, the stream view (text
/// and hex); for each message whose export (with --show-secrets) shows a
/// credential, the screen (timeline, field tree) and the hex pane.
fn tui_outputs(
    pcap: &str,
    sessions: &[String],
    carriers: &[(String, u64)],
    show: bool,
) -> Vec<Output> {
    let cfg = Config {
        opts: Options {
            show_secrets: show,
            ..Options::default()
        },
        ..Config::default()
    };
    let src = FileSource::open(Path::new(pcap)).expect("open capture");
    let mut h = Harness::new(Box::new(src), cfg, "secrets".into(), false, 200, 80);
    h.settle();
    let filter = |h: &mut Harness, expr: &str| {
        h.keys("f C-u");
        h.type_text(expr);
        h.keys("Enter g");
    };
    let (mut stream_text, mut stream_hex) = (Vec::new(), Vec::new());
    for s in sessions {
        filter(&mut h, &format!("session == \"{s}\""));
        // Narrow and tall: fewer cells to draw for big sessions; 16-byte
        // hex rows still fit.
        h.apply(Action::Resize(84, 300));
        h.keys("F");
        let screen = h.screen();
        assert!(screen.contains(&format!("Stream {s} ")), "{screen}");
        stream_view(&mut h, false, &mut stream_text);
        h.keys("x g");
        stream_view(&mut h, true, &mut stream_hex);
        h.keys("x 1");
        h.apply(Action::Resize(200, 80));
    }
    let expr: Vec<String> = carriers
        .iter()
        .map(|(s, i)| format!("(session == \"{s}\" && index == {i})"))
        .collect();
    filter(&mut h, &expr.join(" || "));
    let (mut screens, mut hex) = (Vec::new(), Vec::new());
    let mut seen = 0;
    let mut last = None;
    while h.state.selected_row() != last {
        last = h.state.selected_row();
        let screen = h.screen();
        let bytes = hex_pane(&h).unwrap_or_else(|| panic!("no hex pane on\n{screen}"));
        hex.extend(bytes);
        hex.extend(b"\n");
        hex.extend(screen.as_bytes());
        screens.extend(screen.as_bytes());
        seen += 1;
        h.keys("j");
    }
    assert_eq!(
        seen,
        carriers.len(),
        "{pcap}: rows of the filtered timeline"
    );
    vec![
        Output {
            family: "tui detail",
            name: "tui detail".into(),
            kind: Kind::Decoded,
            bytes: screens,
        },
        Output {
            family: "tui hex pane",
            name: "tui hex pane".into(),
            kind: Kind::Wire,
            bytes: hex,
        },
        Output {
            family: "tui stream text",
            name: "tui stream text".into(),
            kind: Kind::Wire,
            bytes: stream_text,
        },
        Output {
            family: "tui stream hex",
            name: "tui stream hex".into(),
            kind: Kind::Wire,
            bytes: stream_hex,
        },
    ]
}

/// Session ids and the messages that carry a credential, from the export
/// with --show-secrets (decoding, not masking, decides them). The JSON
/// document, not JSON Lines: a QMP value laid out over several lines is
/// exported verbatim, line ends included.
fn sessions_and_carriers(
    pcap: &str,
    needles: &[(Regex, &Needle)],
) -> (Vec<String>, Vec<(String, u64)>) {
    let out = run_ok(&["export", pcap, "--format", "json", "--show-secrets"]);
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let mut sessions = Vec::new();
    let mut carriers = Vec::new();
    for s in doc["sessions"].as_array().unwrap() {
        let id = s["session"]["id"].as_str().unwrap().to_string();
        for m in s["messages"].as_array().unwrap() {
            let text = m.to_string();
            if needles.iter().any(|(re, _)| re.is_match(text.as_bytes())) {
                carriers.push((id.clone(), m["index"].as_u64().unwrap()));
            }
        }
        sessions.push(id);
    }
    assert!(
        !carriers.is_empty(),
        "{pcap}: no message carries a credential"
    );
    (sessions, carriers)
}

fn expected(kind: Kind, n: &Needle) -> bool {
    match kind {
        Kind::Decoded => n.form != Form::Wire,
        Kind::Stats => n.form != Form::Wire && n.finding,
        Kind::Wire => n.form != Form::Decoded,
    }
}

/// Checks every output of every capture of `cases`: without
/// --show-secrets first (and stops there when something shows), then with.
fn check(cases: &[(&str, &[Needle])]) {
    for (capture, needles) in cases {
        let pcap = bundled(&format!("{capture}.pcap"));
        let pcap = pcap.to_str().unwrap();
        let needles: Vec<(Regex, &Needle)> = needles
            .iter()
            .map(|n| (Regex::new(n.pattern).unwrap(), n))
            .collect();
        let (sessions, carriers) = sessions_and_carriers(pcap, &needles);
        for show in [false, true] {
            let mut outs = command_outputs(pcap, &sessions, show);
            outs.extend(tui_outputs(pcap, &sessions, &carriers, show));
            let mut failures = Vec::new();
            for (re, n) in &needles {
                if !show {
                    for o in outs.iter().filter(|o| re.is_match(&o.bytes)) {
                        failures.push(format!("{capture}: {} shows {}", o.name, n.pattern));
                    }
                    continue;
                }
                let mut families: Vec<(&str, Kind)> = Vec::new();
                for o in &outs {
                    if !families.contains(&(o.family, o.kind)) {
                        families.push((o.family, o.kind));
                    }
                }
                for (family, kind) in families {
                    let shown = outs
                        .iter()
                        .filter(|o| o.family == family)
                        .any(|o| re.is_match(&o.bytes));
                    if !shown && expected(kind, n) {
                        failures.push(format!(
                            "{capture}: {family} --show-secrets does not show {}",
                            n.pattern
                        ));
                    }
                }
            }
            assert!(failures.is_empty(), "{}", failures.join("\n"));
        }
    }
}

fn cases(dir: &str) -> Vec<(&'static str, &'static [Needle])> {
    let v: Vec<_> = CASES
        .iter()
        .copied()
        .filter(|(c, _)| c.starts_with(dir))
        .collect();
    assert!(!v.is_empty(), "no capture in {dir}");
    v
}

#[test]
fn qm_passwords_show_nowhere_unless_asked() {
    check(&cases("qm/"));
}

#[test]
fn qps_passwords_show_nowhere_unless_asked() {
    check(&cases("qps/"));
}

#[test]
fn mqserver_passwords_show_nowhere_unless_asked() {
    check(&cases("mqserver/"));
}

#[test]
fn qmp_passwords_show_nowhere_unless_asked() {
    check(&cases("qmp-qapi/"));
}

/// Every capture with a credential is in [`CASES`]: a capture whose
/// export (with --show-secrets) reports a clear-text credential note must
/// be listed.
#[test]
fn every_capture_with_a_credential_is_checked() {
    let mut found = Vec::new();
    for dir in ["qm", "qps", "mqserver", "qmp", "qmp-qapi"] {
        for e in std::fs::read_dir(bundled(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "pcap") {
                let out = run_ok(&["stats", p.to_str().unwrap(), "--expert"]);
                let text = String::from_utf8_lossy(&out);
                if text.contains("clear-text credential") || text.contains("clear-text password") {
                    let name = p.with_extension("");
                    let rel = name.strip_prefix(bundled("")).unwrap();
                    found.push(rel.to_str().unwrap().to_string());
                }
            }
        }
    }
    found.sort();
    let mut listed: Vec<String> = CASES.iter().map(|(c, _)| c.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed);
}
