//! The stream view ("follow stream"): the reassembled bytes of one
//! session in arrival order, client and server apart, as text or hex, by
//! the rules of [`crate::human`] (the same as `qscope follow`).

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use qscope_dissectors::{Dir, Proto};

use crate::human;
use crate::tui::decoded::Decodes;
use crate::tui::jobs::DecodedSession;
use crate::tui::layout::inner;
use crate::tui::list::Scroll;
use crate::tui::model::Model;
use crate::tui::render::{pane_block, DIM};

/// Most lines of the stream view.
pub const MAX_STREAM_LINES: usize = 200_000;
/// Width of a hex row of 16 bytes ([`human::push_hex_row`]).
const HEX_ROW_16: usize = 78;

/// The stream view of one session.
#[derive(Debug, Default)]
pub struct StreamView {
    pub session: u32,
    pub hex: bool,
    pub lines: Vec<StreamLine>,
    pub scroll: Scroll,
    pub hscroll: usize,
    pub status: Option<String>,
    stamp: u64,
}

impl StreamView {
    /// The view of `session` (built when its decode is there).
    pub fn new(session: u32, hex: bool) -> StreamView {
        StreamView {
            session,
            hex,
            stamp: u64::MAX,
            ..Default::default()
        }
    }

    /// What the lines depend on: the decode, text or hex, the width.
    fn stamp_for(&self, decodes: &Decodes, width: u16) -> u64 {
        match decodes.get(self.session) {
            Some(_) => (decodes.gen << 17) | (u64::from(self.hex) << 16) | u64::from(width),
            None => 0,
        }
    }

    /// Rebuilds the lines when what they depend on changed, and keeps the
    /// first line shown in range (`rows` lines are visible).
    pub fn update(&mut self, model: &Model, decodes: &Decodes, width: u16, rows: usize) {
        let stamp = self.stamp_for(decodes, width);
        if self.stamp != stamp {
            let (lines, status) = match decodes.get(self.session) {
                Some(d) => {
                    let proto = model
                        .sessions
                        .get(self.session as usize)
                        .map(|s| s.info.proto);
                    let wrap = (width as usize).saturating_sub(3).max(20);
                    (stream_lines(d, proto, self.hex, wrap), None)
                }
                None => (
                    Vec::new(),
                    Some(format!("decoding {}…", model.session_id(self.session))),
                ),
            };
            self.lines = lines;
            self.status = status;
            self.stamp = stamp;
        }
        let n = self.lines.len();
        self.scroll.sel = self.scroll.sel.min(n.saturating_sub(rows));
        self.scroll.offset = self.scroll.sel;
    }

    /// Text ↔ hex.
    pub fn toggle_hex(&mut self) {
        self.hex = !self.hex;
        self.stamp = u64::MAX;
        self.scroll = Scroll::default();
    }

    pub fn move_by(&mut self, delta: isize) {
        self.scroll.move_by(delta, self.lines.len());
    }

    /// Scrolls sideways.
    pub fn left_right(&mut self, right: bool) {
        self.hscroll = if right {
            self.hscroll + 8
        } else {
            self.hscroll.saturating_sub(8)
        };
    }
}

/// What a stream line shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Data(Dir),
    Gap,
    Info,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamLine {
    pub kind: StreamKind,
    /// Escaped.
    pub text: String,
}

fn push_line(out: &mut Vec<StreamLine>, kind: StreamKind, text: String) -> bool {
    if out.len() >= MAX_STREAM_LINES {
        return false;
    }
    out.push(StreamLine { kind, text });
    true
}

/// The stream view: the conversation in arrival order, client and
/// server bytes apart, gaps marked. Bytes are shown by the rules of
/// [`crate::human`], as `qscope follow` shows them: the same escaping, the
/// same line breaks, secrets masked unless shown. Text lines longer than
/// `wrap` characters are wrapped (never inside an escape); hex rows have 16
/// bytes when `wrap` leaves room for them, else 8.
pub fn stream_lines(
    d: &DecodedSession,
    proto: Option<Proto>,
    hex: bool,
    wrap: usize,
) -> Vec<StreamLine> {
    let layout = human::Layout::of(proto.unwrap_or(Proto::Unknown), d.encoding.as_deref());
    // `wrap` is what the pane shows of a line after its 3-column prefix.
    let per = if wrap >= HEX_ROW_16 { 16 } else { 8 };
    let mut out = Vec::new();
    let kept = [d.streams[0].kept(), d.streams[1].kept()];
    push_line(
        &mut out,
        StreamKind::Info,
        format!(
            "{} bytes client -> server, {} bytes server -> client{}",
            kept[0],
            kept[1],
            if d.complete { "" } else { " (so far)" }
        ),
    );
    for (i, s) in d.streams.iter().enumerate() {
        if s.trimmed_to > 0 {
            push_line(
                &mut out,
                StreamKind::Info,
                format!(
                    "({} bytes before offset {} not kept: memory limit)",
                    if i == 0 { "c2s" } else { "s2c" },
                    s.trimmed_to
                ),
            );
        }
    }
    for c in &d.chunks {
        if c.gap {
            if !push_line(
                &mut out,
                StreamKind::Gap,
                format!(
                    "[... {} bytes missing from the capture ({} at offset {}) ...]",
                    c.len,
                    c.dir.as_str(),
                    c.offset
                ),
            ) {
                break;
            }
            continue;
        }
        let s = &d.streams[c.dir.idx()];
        let b = s.get_partial(c.offset, c.len as usize);
        if b.is_empty() {
            continue;
        }
        let kind = StreamKind::Data(c.dir);
        let shown = human::shown(b, c.offset, &d.secrets[c.dir.idx()], d.show_secrets);
        let lines = if hex {
            human::hex_rows(shown, c.offset, per, layout.marks)
        } else {
            human::text_lines(shown, layout.line_breaks)
                .iter()
                .flat_map(|l| human::wrap(l, wrap).into_iter().map(str::to_owned))
                .collect()
        };
        if !lines.into_iter().all(|l| push_line(&mut out, kind, l)) {
            break;
        }
    }
    if out.len() >= MAX_STREAM_LINES || d.chunks_dropped {
        out.push(StreamLine {
            kind: StreamKind::Info,
            text: "(more not shown: export the session for everything)".into(),
        });
    }
    out
}

/// Draws the view.
pub fn draw(f: &mut Frame<'_>, v: &StreamView, model: &Model, r: Rect) {
    let title = format!(
        "Stream {}  {} (x)  client->server red, server->client blue",
        model.session_title(v.session),
        if v.hex { "hex" } else { "text" }
    );
    f.render_widget(pane_block(title, true), r);
    let body = inner(r, 1);
    if let Some(s) = &v.status {
        f.render_widget(Paragraph::new(Span::styled(s.clone(), DIM)), body);
        return;
    }
    let n = body.height as usize;
    let off = v.scroll.sel.min(v.lines.len().saturating_sub(n));
    let mut lines = Vec::new();
    for l in v.lines.iter().skip(off).take(n) {
        let (prefix, style) = match l.kind {
            StreamKind::Data(Dir::C2S) => ("-> ", Style::new().fg(Color::Red)),
            StreamKind::Data(Dir::S2C) => ("<- ", Style::new().fg(Color::Blue)),
            StreamKind::Gap => ("!! ", Style::new().fg(Color::Black).bg(Color::Yellow)),
            StreamKind::Info => ("   ", DIM),
        };
        let text: String = l.text.chars().skip(v.hscroll).collect();
        lines.push(Line::from(vec![
            Span::styled(prefix, style.add_modifier(Modifier::BOLD)),
            Span::styled(text, style),
        ]));
    }
    f.render_widget(Paragraph::new(lines), body);
}
