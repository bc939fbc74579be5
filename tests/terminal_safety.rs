//! No byte from a packet reaches the terminal unescaped: a client segment
//! of a real capture is replaced by one full of terminal escape sequences
//! (CSI, BEL, C1 controls, bidi override), and `print` / `print -V` output
//! must contain no control character but the line feed.

mod common;

use common::*;

fn assert_clean(out: &[u8], what: &str) {
    let text = std::str::from_utf8(out).unwrap_or_else(|e| panic!("{what}: not UTF-8: {e}"));
    for (i, c) in text.char_indices() {
        let bad = (c.is_control() && c != '\n')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        assert!(
            !bad,
            "{what}: raw {:?} at byte {i}: ...{}...",
            c,
            &text[i.saturating_sub(40)..i]
        );
    }
}

#[test]
fn escape_sequences_in_packets_are_shown_escaped() {
    let mut pkts = read_pcap(&bundled("qmp/qmp-events.pcap"));
    // The client's first command (qmp_capabilities) becomes hostile, same length.
    let i = pkts
        .iter()
        .position(|p| tcp(&p.frame).dport == 4444 && tcp(&p.frame).payload_len > 0)
        .unwrap();
    let len = tcp(&pkts[i].frame).payload_len;
    let mut payload =
        b"{\"execute\":\"x\x1b[2J\x1b]0;pwned\x07\", \"id\":\"\xc2\x9b31m\xe2\x80\xae\"}".to_vec();
    payload.extend_from_slice(&[0x1b, b'[', b'H', 0x7f, 0x00]);
    assert!(payload.len() <= len);
    payload.resize(len, b' ');
    pkts[i].frame = with_payload(&pkts[i].frame, &payload);
    let path = scratch("terminal").join("hostile.pcap");
    write_pcap(&path, &pkts);

    for args in [vec!["print"], vec!["print", "-V"]] {
        let mut a = args.clone();
        a.push(path.to_str().unwrap());
        let out = qscope(&a);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_clean(&out.stdout, &args.join(" "));
        assert_clean(&out.stderr, &args.join(" "));
        // The hostile bytes are there, but visible.
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("\\x1b") || text.contains("\\u001b") || text.contains("malformed"),
            "{text}"
        );
    }
}

/// With colour, the only escape sequences are the palette's SGR codes,
/// each piece opened by a style and closed by a reset: the hostile bytes
/// are escaped before any colour wraps them.
#[test]
fn colour_codes_wrap_escaped_text_only() {
    let mut pkts = read_pcap(&bundled("qmp/qmp-basic.pcap"));
    let i = pkts
        .iter()
        .position(|p| tcp(&p.frame).dport == 4444 && tcp(&p.frame).payload_len > 0)
        .unwrap();
    let len = tcp(&pkts[i].frame).payload_len;
    // An SGR sequence of its own and a reset, to look like qscope's (JSON
    // escapes, so that the message decodes and its name carries them).
    let mut payload = br#"{"execute":"x\u001b[31mred\u001b[0m\u009b2J"}"#.to_vec();
    assert!(payload.len() <= len);
    payload.resize(len, b' ');
    pkts[i].frame = with_payload(&pkts[i].frame, &payload);
    let path = scratch("terminal-colour").join("hostile.pcap");
    write_pcap(&path, &pkts);
    let palette = ["32", "36", "2", "31", "1;31", "33", "1;33", "1"];
    for verbose in [false, true] {
        let mut args = vec!["print", "--color", "always", path.to_str().unwrap()];
        if verbose {
            args.push("-V");
        }
        let out = qscope(&args);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let mut open = false;
        for (n, part) in text.split('\x1b').enumerate().skip(1) {
            let code = part
                .strip_prefix('[')
                .and_then(|p| p.split_once('m'))
                .map(|(c, _)| c)
                .unwrap_or_else(|| panic!("escape #{n} is not SGR: {part:?}"));
            if open {
                assert_eq!(code, "0", "escape #{n}: a style inside a style");
            } else {
                assert!(palette.contains(&code), "escape #{n}: {code:?} is not ours");
            }
            open = !open;
        }
        assert!(!open, "a style left open");
        assert_clean(
            qscope::human::color::strip_sgr(&text).as_bytes(),
            "print --color always",
        );
        assert!(text.contains("x\\x1b[31mred\\x1b[0m"), "{text}");
    }
}
