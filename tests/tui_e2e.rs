//! End to end: the real `qscope CAPTURE` in a pseudo-terminal (tmux):
//! open a capture, go to the error reply, open the ladder view, quit, and
//! check that the terminal came back (the shell behind it prints the exit
//! status on the normal screen).
//!
//! Needs tmux; without it the test says so on stderr and returns.
//! `QSCOPE_E2E_BIN` runs another build of the binary instead.

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

const CAPTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/qmp/qmp-basic.pcap");

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "e2e"]).stdout).into_owned()
    }

    /// The screen with its attributes and colours, as escape sequences.
    fn screen_escaped(&self) -> Vec<u8> {
        self.run(&["capture-pane", "-e", "-p", "-t", "e2e"]).stdout
    }

    /// Waits until the screen satisfies `pred` (15 s at most).
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn keys(&self, keys: &str) {
        let out = self.run(&["send-keys", "-t", "e2e", keys]);
        assert!(out.status.success(), "send-keys {keys}: {out:?}");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// The selected line of the timeline or ladder (it starts with `>`).
fn selected(screen: &str) -> Vec<&str> {
    screen.lines().filter(|l| l.starts_with('>')).collect()
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// qscope on the capture in a tmux session `name` (120x40), `env`
/// before it; `None` without tmux.
fn start(name: &str, env: &str) -> Option<Tmux> {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED tui_e2e: tmux is not installed (apt-get install tmux)");
        return None;
    }
    let bin = std::env::var("QSCOPE_E2E_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_qscope").to_string());
    let t = Tmux {
        socket: format!("qscope-e2e-{name}-{}", std::process::id()),
    };
    let cmd = format!(
        "{env}{} {}; echo \"qscope exited with status $?\"; sleep 60",
        shell_quote(&bin),
        shell_quote(CAPTURE)
    );
    let out = t.run(&[
        "new-session",
        "-d",
        "-x",
        "120",
        "-y",
        "40",
        "-s",
        "e2e",
        "sh",
        "-c",
        &cmd,
    ]);
    assert!(out.status.success(), "tmux new-session: {out:?}");
    Some(t)
}

#[test]
fn open_find_the_error_open_the_ladder_and_quit() {
    let Some(t) = start("ladder", "") else { return };
    // Each wait is for the whole expected screen: tmux may show a frame
    // half drawn.
    t.wait_for("the timeline of the whole capture", |s| {
        s.contains("qmp-basic.pcap")
            && s.contains("Timeline 26")
            && s.contains("188 pkts")
            && s.contains("127.0.0.1:45828 -> 127.0.0.1:4444")
    });

    // The first failing command: its reply, decoded.
    t.keys("e");
    t.wait_for("the error reply selected and decoded", |s| {
        selected(s)
            .iter()
            .any(|l| l.contains("no-such-command") && l.contains("ERROR"))
            && s.contains("#14 response: no-such-command  ERROR")
            && s.contains("CommandNotFound")
    });

    // The ladder of its session, the error's arrow selected.
    t.keys("L");
    t.wait_for("the ladder with the error reply selected", |s| {
        s.contains("Ladder s1")
            && s.contains("client 127.0.0.1:45828")
            && s.contains("server 127.0.0.1:4444")
            && selected(s).iter().any(|l| {
                l.contains("<-") && l.contains("no-such-command ERROR") && l.contains("2.8ms")
            })
    });

    t.keys("q");
    let s = t.wait_for("qscope to exit", |s| {
        s.contains("qscope exited with status")
    });
    assert!(s.contains("qscope exited with status 0"), "{s}");
    assert!(
        !s.contains("Ladder s1"),
        "the alternate screen was left on exit:\n{s}"
    );
}

/// Under NO_COLOR the terminal gets no colour, and the selected row is
/// still shown in reverse video from end to end (crossterm alone turned
/// each colour change into an attribute reset).
#[test]
fn no_color_keeps_the_selection_in_reverse() {
    let Some(t) = start("nocolor", "NO_COLOR=1 ") else {
        return;
    };
    t.wait_for("the timeline", |s| {
        s.contains("Timeline 26") && s.contains("188 pkts")
    });
    t.keys("e");
    t.wait_for("the error reply selected and decoded", |s| {
        s.contains("#14 response: no-such-command  ERROR") && s.contains("CommandNotFound")
    });
    let screen = common::sgr::play(&t.screen_escaped());
    assert_eq!(screen.colours, 0, "no colour under NO_COLOR");
    let text = |l: &[(char, common::sgr::Attrs)]| l.iter().map(|(c, _)| c).collect::<String>();
    let row = (0..40)
        .map(|y| screen.line(y))
        .find(|l| text(l).starts_with('>') && text(l).contains("no-such-command"))
        .expect("the selected row");
    let text = text(&row);
    let last = text.trim_end().chars().count();
    let reverse: String = row[..last]
        .iter()
        .map(|(_, a)| if a.reverse { '#' } else { '.' })
        .collect();
    assert!(
        !reverse.contains('.'),
        "the selected row is reverse from end to end:\n{text}\n{reverse}"
    );
    t.keys("q");
    t.wait_for("qscope to exit", |s| {
        s.contains("qscope exited with status 0")
    });
}
