//! Keys and mouse events to [`Action`]s. [`KEYS`] is the help screen: it
//! lists every key [`key_action`] knows.

use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use super::action::Action;
use super::layout::View;
use super::state::State;

/// Every key, for the help overlay.
pub const KEYS: &[(&str, &str)] = &[
    ("j k ↓ ↑", "move down / up"),
    ("PgDn PgUp", "page down / up (C-f C-b)"),
    ("C-d C-u", "half page down / up"),
    ("g G", "first / last (Home End)"),
    ("Tab S-Tab", "next / previous pane"),
    ("h l ← →", "collapse / expand; scroll"),
    ("Enter", "open session/detail/note"),
    ("Space", "expand / collapse tree node"),
    ("f", "filter (empty clears it)"),
    ("/", "search names and summaries"),
    ("n N", "next / previous match"),
    ("e E", "next / previous error"),
    ("r", "request <-> its reply"),
    ("b Bksp", "jump back (after r e n)"),
    ("a", "selected session only / all"),
    ("s", "sort sessions (cycle)"),
    ("x", "tree/hex, stream text/hex"),
    ("1 Esc", "timeline view"),
    ("2 F", "follow stream of the session"),
    ("3 L", "ladder diagram of a session"),
    ("4 S", "statistics per name"),
    ("5 X", "expert notes"),
    ("w", "export the view to JSONL"),
    ("W", "export the session to JSONL"),
    ("t", "follow new messages (tail)"),
    ("p", "pause / resume the display"),
    ("mouse", "click selects, wheel scrolls"),
    ("C-u", "clear the line being typed"),
    ("?", "this help"),
    ("q C-c", "quit"),
];

/// The action for a key press, given what is on screen.
pub fn key_action(st: &State, k: KeyEvent) -> Option<Action> {
    if k.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(k.code, KeyCode::Char('c')) {
        return Some(Action::Quit);
    }
    if st.input.is_some() {
        return match k.code {
            KeyCode::Enter => Some(Action::InputSubmit),
            KeyCode::Esc => Some(Action::InputCancel),
            KeyCode::Backspace => Some(Action::InputBackspace),
            KeyCode::Char('u') if ctrl => Some(Action::InputClear),
            KeyCode::Char(c) if !ctrl => Some(Action::Input(c)),
            _ => None,
        };
    }
    if st.help {
        return match k.code {
            KeyCode::Char('q') | KeyCode::Char('?') | KeyCode::Esc | KeyCode::Enter => {
                Some(Action::Help)
            }
            _ => None,
        };
    }
    Some(match k.code {
        KeyCode::Char('f') if ctrl => Action::PageDown,
        KeyCode::Char('b') if ctrl => Action::PageUp,
        KeyCode::Char('d') if ctrl => Action::HalfDown,
        KeyCode::Char('u') if ctrl => Action::HalfUp,
        _ if ctrl => return None,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('?') => Action::Help,
        KeyCode::Char('j') | KeyCode::Down => Action::Down(1),
        KeyCode::Char('k') | KeyCode::Up => Action::Up(1),
        KeyCode::PageDown => Action::PageDown,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::Char('g') | KeyCode::Home => Action::Top,
        KeyCode::Char('G') | KeyCode::End => Action::Bottom,
        KeyCode::Char('h') | KeyCode::Left => Action::Left,
        KeyCode::Char('l') | KeyCode::Right => Action::Right,
        KeyCode::Tab => Action::FocusNext,
        KeyCode::BackTab => Action::FocusPrev,
        KeyCode::Enter => Action::Enter,
        KeyCode::Char(' ') => Action::Toggle,
        KeyCode::Esc | KeyCode::Char('1') => {
            if st.view == View::Timeline && k.code == KeyCode::Esc {
                Action::Back
            } else {
                Action::Show(View::Timeline)
            }
        }
        KeyCode::Char('2') | KeyCode::Char('F') => Action::Show(View::Stream),
        KeyCode::Char('3') | KeyCode::Char('L') => Action::Show(View::Ladder),
        KeyCode::Char('4') | KeyCode::Char('S') => Action::Show(View::Stats),
        KeyCode::Char('5') | KeyCode::Char('X') => Action::Show(View::Expert),
        KeyCode::Char('f') => Action::StartFilter,
        KeyCode::Char('/') => Action::StartSearch,
        KeyCode::Char('n') => Action::SearchNext,
        KeyCode::Char('N') => Action::SearchPrev,
        KeyCode::Char('e') => Action::NextError,
        KeyCode::Char('E') => Action::PrevError,
        KeyCode::Char('r') => Action::JumpPair,
        KeyCode::Char('b') | KeyCode::Backspace => Action::JumpBack,
        KeyCode::Char('a') => Action::ToggleScope,
        KeyCode::Char('s') => Action::CycleSort,
        KeyCode::Char('x') => Action::ToggleHex,
        KeyCode::Char('w') => Action::ExportView,
        KeyCode::Char('W') => Action::ExportSession,
        KeyCode::Char('t') => Action::ToggleTail,
        KeyCode::Char('p') => Action::TogglePause,
        _ => return None,
    })
}

/// The action for a mouse event.
pub fn mouse_action(m: MouseEvent) -> Option<Action> {
    match m.kind {
        MouseEventKind::Down(MouseButton::Left) => Some(Action::Click {
            x: m.column,
            y: m.row,
        }),
        MouseEventKind::ScrollDown => Some(Action::Wheel {
            x: m.column,
            y: m.row,
            down: true,
        }),
        MouseEventKind::ScrollUp => Some(Action::Wheel {
            x: m.column,
            y: m.row,
            down: false,
        }),
        _ => None,
    }
}

/// A key event from a short name, for tests: "j", "G", "Enter", "C-d",
/// "Tab", "Esc", "PgDn", "Up"...
pub fn parse_key(s: &str) -> Option<KeyEvent> {
    let (mods, name) = match s.strip_prefix("C-") {
        Some(rest) => (KeyModifiers::CONTROL, rest),
        None => (KeyModifiers::NONE, s),
    };
    let code = match name {
        "Enter" => KeyCode::Enter,
        "Esc" => KeyCode::Esc,
        "Tab" => KeyCode::Tab,
        "BackTab" => KeyCode::BackTab,
        "Backspace" => KeyCode::Backspace,
        "Up" => KeyCode::Up,
        "Down" => KeyCode::Down,
        "Left" => KeyCode::Left,
        "Right" => KeyCode::Right,
        "PgUp" => KeyCode::PageUp,
        "PgDn" => KeyCode::PageDown,
        "Home" => KeyCode::Home,
        "End" => KeyCode::End,
        "Space" => KeyCode::Char(' '),
        n if n.chars().count() == 1 => KeyCode::Char(n.chars().next()?),
        _ => return None,
    };
    Some(KeyEvent::new(code, mods))
}
