//! Where everything goes: the views, the panes of the timeline view and
//! the screen's [`Layout`], computed from the screen size and a few facts
//! about the state ([`Shape`]). Drawing, paging and the mouse all use it.

use ratatui::layout::Rect;

/// Smallest usable screen.
pub const MIN_W: u16 = 40;
pub const MIN_H: u16 = 10;

/// What fills the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Sessions, timeline and the selected message.
    Timeline,
    /// Follow stream: the reassembled bytes of one session.
    Stream,
    /// Sequence diagram of one session.
    Ladder,
    /// Per-name statistics and the latency chart.
    Stats,
    /// Expert notes.
    Expert,
}

/// The panes of the timeline view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Sessions,
    Timeline,
    Tree,
    Hex,
}

/// What the layout depends on besides the screen size.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub view: View,
    /// Sessions known (the sessions pane shows up to a few).
    pub sessions: usize,
    /// Lines of the footer (2 when the input line shows a parse error).
    pub footer: u16,
    /// Narrow screens: the hex dump instead of the tree.
    pub show_hex: bool,
}

/// Where everything goes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Layout {
    pub area: Rect,
    pub header: Rect,
    pub footer: Rect,
    pub body: Rect,
    /// Timeline view panes (whole blocks; the first line is the title).
    pub sessions: Rect,
    pub timeline: Rect,
    pub tree: Rect,
    pub hex: Rect,
    /// The column between the tree and the hex dump side by side.
    pub sep: Rect,
    pub too_small: bool,
}

/// `r` without its first `skip` lines.
pub fn inner(r: Rect, skip: u16) -> Rect {
    Rect {
        y: r.y + skip.min(r.height),
        height: r.height.saturating_sub(skip),
        ..r
    }
}

impl Layout {
    /// Lines of rows in the sessions pane (title and column header excluded).
    pub fn sessions_rows(&self) -> usize {
        self.sessions.height.saturating_sub(2) as usize
    }
    pub fn timeline_rows(&self) -> usize {
        self.timeline.height.saturating_sub(2) as usize
    }
    pub fn tree_rows(&self) -> usize {
        self.tree.height.saturating_sub(1) as usize
    }
    pub fn hex_rows(&self) -> usize {
        self.hex.height.saturating_sub(1) as usize
    }
    pub fn hex_visible(&self) -> bool {
        self.hex.height > 1 && self.hex.width > 0
    }
    /// Bytes per hex line.
    pub fn hex_width(&self) -> usize {
        if self.hex.width >= 76 {
            16
        } else {
            8
        }
    }
    /// Lines of the body below its title line.
    pub fn body_rows(&self) -> usize {
        self.body.height.saturating_sub(1) as usize
    }
    pub fn stats_chart_height(&self) -> u16 {
        if self.body.height >= 20 {
            8
        } else if self.body.height >= 12 {
            4
        } else {
            0
        }
    }
    pub fn stats_first_line(&self) -> u16 {
        self.body.y + 2
    }
    pub fn stats_rows(&self) -> usize {
        self.body
            .height
            .saturating_sub(2 + self.stats_chart_height()) as usize
    }
    /// Line of the body under `y` (0 = its title line).
    pub fn body_line(&self, y: u16) -> Option<usize> {
        (y >= self.body.y && y < self.body.y + self.body.height).then(|| (y - self.body.y) as usize)
    }

    /// The pane under (x, y) and the row of its list there (`None` on
    /// its title or column header).
    pub fn hit(&self, x: u16, y: u16) -> Option<(Pane, Option<usize>)> {
        let inside = |r: Rect| x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;
        for (pane, r, skip) in [
            (Pane::Sessions, self.sessions, 2),
            (Pane::Timeline, self.timeline, 2),
            (Pane::Tree, self.tree, 1),
            (Pane::Hex, self.hex, 1),
        ] {
            if r.height > 0 && inside(r) {
                let line = (y - r.y).checked_sub(skip).map(usize::from);
                return Some((pane, line));
            }
        }
        None
    }

    /// The layout of a screen `area` showing `shape`.
    pub fn compute(area: Rect, shape: Shape) -> Layout {
        let mut l = Layout {
            area,
            ..Default::default()
        };
        if area.width < MIN_W || area.height < MIN_H {
            l.too_small = true;
            return l;
        }
        let footer_h = shape.footer;
        l.header = Rect::new(area.x, area.y, area.width, 1);
        l.footer = Rect::new(
            area.x,
            area.y + area.height - footer_h,
            area.width,
            footer_h,
        );
        l.body = Rect::new(area.x, area.y + 1, area.width, area.height - 1 - footer_h);
        if shape.view != View::Timeline {
            return l;
        }
        let b = l.body;
        let mut y = b.y;
        let mut h = b.height;
        // Sessions: title + column header + a few rows.
        if h >= 16 {
            let want = if h >= 36 {
                6
            } else if h >= 26 {
                4
            } else {
                3
            };
            let rows = (shape.sessions as u16).clamp(1, want);
            let sh = 2 + rows;
            l.sessions = Rect::new(b.x, y, b.width, sh);
            y += sh;
            h -= sh;
        }
        // Detail: about 45 % of what is left, when there is room.
        let dh = if h >= 14 { h * 45 / 100 } else { 0 };
        l.timeline = Rect::new(b.x, y, b.width, h - dh);
        if dh > 0 {
            let dy = y + h - dh;
            if b.width >= 110 {
                // The tree, a separator column, the hex dump.
                let hw = (b.width / 2).clamp(60, 78);
                l.tree = Rect::new(b.x, dy, b.width - hw - 1, dh);
                l.sep = Rect::new(b.x + b.width - hw - 1, dy, 1, dh);
                l.hex = Rect::new(b.x + b.width - hw, dy, hw, dh);
            } else if shape.show_hex {
                l.hex = Rect::new(b.x, dy, b.width, dh);
            } else {
                l.tree = Rect::new(b.x, dy, b.width, dh);
            }
        }
        l
    }
}
