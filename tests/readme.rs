//! The README's examples are true: every `$ qscope ...` command shown in a
//! code block is run (with the freshly built binary first on `PATH`), and
//! every output line shown must appear in the real output, in order. A
//! line ending in `…` is a cut: the real line must start with what comes
//! before it; a line `...` stands for lines left out. Commands that pipe
//! into a tool that is not installed (`jq`) are skipped with a message.

use std::path::Path;
use std::process::Command;

struct Example {
    line: usize,
    commands: Vec<String>,
    shown: Vec<String>,
}

fn examples(readme: &str) -> Vec<Example> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].starts_with("$ qscope") {
            i += 1;
            continue;
        }
        let line = i + 1;
        let mut commands = Vec::new();
        while i < lines.len() && lines[i].starts_with("$ ") {
            commands.push(lines[i][2..].to_string());
            i += 1;
        }
        let mut shown = Vec::new();
        while i < lines.len() && !lines[i].starts_with("```") && !lines[i].starts_with("$ ") {
            shown.push(lines[i].to_string());
            i += 1;
        }
        out.push(Example {
            line,
            commands,
            shown,
        });
    }
    out
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn every_example_shows_real_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_qscope")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("readme");
    std::fs::create_dir_all(&scratch).unwrap();
    let all = examples(&readme);
    assert!(all.len() >= 10, "found only {} examples", all.len());
    let mut checked = 0;
    for ex in &all {
        let script = ex.commands.join(" && ");
        if script.contains("| jq") && !have("jq") {
            eprintln!("SKIPPED README line {}: jq is not installed", ex.line);
            continue;
        }
        // Captures are named relative to the repository; files written
        // (-w) go to the scratch directory.
        let script = script.replace("captures/", &format!("{}/captures/", root.display()));
        let out = Command::new("bash")
            .args(["-c", &format!("{script} 2>&1")])
            .current_dir(&scratch)
            .env("PATH", &path)
            .env_remove("NO_COLOR")
            .output()
            .unwrap();
        let text =
            String::from_utf8_lossy(&out.stdout).replace(&format!("{}/", root.display()), "");
        let real: Vec<&str> = text.lines().collect();
        let mut at = 0;
        for want in &ex.shown {
            let want = want.trim_end();
            if want == "..." || want == "…" || want.is_empty() {
                continue;
            }
            let (prefix, cut) = match want.strip_suffix('…') {
                Some(p) => (p.trim_end(), true),
                None => (want, false),
            };
            let found = real[at..].iter().position(|l| {
                if cut {
                    l.starts_with(prefix)
                } else {
                    *l == want
                }
            });
            match found {
                Some(k) => at += k + 1,
                None => panic!(
                    "README line {} (`{}`): this line is not in the output (in order):\n{want}\n\nthe output:\n{text}",
                    ex.line,
                    ex.commands.join(" && ")
                ),
            }
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} examples checked");
}
