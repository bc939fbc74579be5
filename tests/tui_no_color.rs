//! `NO_COLOR` (https://no-color.org): the terminal UI draws without
//! colours but keeps reverse, bold and underline, so the selection, the
//! selected field's bytes and the focus stay visible. The state's
//! `no_color` is set directly here (the runtime sets it from the
//! environment); the one test that makes crossterm behave as under
//! `NO_COLOR` is the only one in this binary that writes escape
//! sequences.

mod common;

use std::path::Path;

use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

use qscope::tui::{Harness, Pane};

const BASIC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/qmp/qmp-basic.pcap");

/// The error reply selected, the focus on its JSON value in the tree (so
/// the timeline's selection is the unfocused one, the hex dump highlights
/// the value's bytes).
fn on_the_error_value(no_color: bool) -> Harness {
    let mut h = Harness::open(Path::new(BASIC), 120, 40).unwrap();
    h.state.no_color = no_color;
    h.settle();
    h.keys("e Enter j j j j j j");
    assert_eq!(h.state.focus, Pane::Tree);
    h
}

/// The buffer's attributes as text, one character per cell: `#` reverse,
/// `_` underline, `B` bold, `+` several, `.` none.
fn attrs_map(b: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..b.area.height {
        let mut line = String::new();
        for x in 0..b.area.width {
            let m = b[(x, y)].modifier;
            let r = m.contains(Modifier::REVERSED);
            let u = m.contains(Modifier::UNDERLINED);
            let bo = m.contains(Modifier::BOLD);
            line.push(match (r, u, bo) {
                (false, false, false) => '.',
                (true, false, false) => '#',
                (false, true, false) => '_',
                (false, false, true) => 'B',
                _ => '+',
            });
        }
        out.push_str(line.trim_end_matches('.'));
        out.push('\n');
    }
    out
}

/// Cells of the row of the screen that holds `text`, from its start.
fn row_of(b: &Buffer, text: &str, from_x: u16) -> u16 {
    (0..b.area.height)
        .find(|&y| {
            let line: String = (from_x..b.area.width).map(|x| b[(x, y)].symbol()).collect();
            line.contains(text)
        })
        .unwrap_or_else(|| panic!("{text} not on screen"))
}

#[test]
fn no_color_keeps_reverse_bold_and_underline() {
    let h = on_the_error_value(true);
    let b = h.buffer();
    insta::assert_snapshot!("no_color_attrs_120x40", attrs_map(&b));
    // Not one colour.
    for c in b.content.iter() {
        assert_eq!((c.fg, c.bg), (Color::Reset, Color::Reset), "{c:?}");
    }
    let l = h.state.layout();
    // The tree's selected line (the focus): reverse.
    let y = row_of(&b, "▾ value: JSON", l.tree.x);
    for x in l.tree.x..l.tree.x + 20 {
        assert!(
            b[(x, y)].modifier.contains(Modifier::REVERSED),
            "tree ({x}, {y})"
        );
    }
    // The timeline's selected row (no focus): underlined; the error's
    // name bold.
    let y = row_of(&b, ">0.087049", 0);
    for x in 0..l.timeline.width {
        assert!(
            b[(x, y)].modifier.contains(Modifier::UNDERLINED),
            "timeline ({x}, {y})"
        );
    }
    let name = (0..l.timeline.width)
        .find(|&x| b[(x, y)].symbol() == "!")
        .unwrap();
    assert!(b[(name + 1, y)].modifier.contains(Modifier::BOLD));
    // The value's bytes (all 118 of the message) in the hex dump:
    // reverse, the offsets not.
    let first = l.hex.y + 1;
    for y in first..first + 8 {
        let hex = l.hex.x + 8;
        assert!(!b[(l.hex.x, y)].modifier.contains(Modifier::REVERSED));
        assert!(
            b[(hex, y)].modifier.contains(Modifier::REVERSED),
            "hex ({hex}, {y})"
        );
    }
    // With colours, the same cells are told apart by colour.
    let c = on_the_error_value(false).buffer();
    assert!(c.content.iter().any(|c| c.bg == Color::Yellow));
    assert!(c.content.iter().any(|c| c.bg == Color::DarkGray));
}

#[test]
fn escape_sequences_under_no_color_keep_the_attributes() {
    // crossterm as under NO_COLOR: no colour sequences.
    crossterm::style::force_color_output(false);
    let b = on_the_error_value(true).buffer();
    let mut out = Vec::new();
    let cells = b.content.iter().enumerate().map(|(i, c)| {
        let (x, y) = b.pos_of(i);
        (x, y, c)
    });
    CrosstermBackend::new(&mut out).draw(cells).unwrap();
    let screen = common::sgr::play(&out);
    assert_eq!(screen.colours, 0, "no colour is sent");
    // Every cell shows what the buffer says.
    let mut reversed = 0;
    for y in 0..b.area.height {
        for x in 0..b.area.width {
            let cell = &b[(x, y)];
            let Some((_, a)) = screen.cells.get(&(x, y)) else {
                panic!("({x}, {y}) not drawn");
            };
            let m = cell.modifier;
            assert_eq!(
                a.reverse,
                m.contains(Modifier::REVERSED),
                "reverse at ({x}, {y})"
            );
            assert_eq!(a.bold, m.contains(Modifier::BOLD), "bold at ({x}, {y})");
            assert_eq!(
                a.underline,
                m.contains(Modifier::UNDERLINED),
                "underline at ({x}, {y})"
            );
            reversed += usize::from(a.reverse);
        }
    }
    assert!(reversed > 500, "{reversed}");
}
