//! No byte from a packet reaches the terminal unescaped, in any view: a
//! client command of a real capture is replaced by one full of terminal
//! escape sequences (CSI, OSC, BEL, C1, bidi override, DEL, NUL), and
//! every screen is drawn on a TestBackend and searched for control
//! characters.

mod common;

use common::*;
use qscope::tui::harness::buffer_text;
use qscope::tui::Harness;

/// Panics when any cell of the screen holds a control character or a
/// bidirectional override.
fn assert_clean(h: &Harness, what: &str) {
    let buf = h.buffer();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            for c in buf[(x, y)].symbol().chars() {
                let bad = c.is_control()
                    || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200b}'..='\u{200f}');
                assert!(
                    !bad,
                    "{what}: raw {c:?} at ({x}, {y}):\n{}",
                    buffer_text(&buf)
                );
            }
        }
    }
}

/// The client's `n`-th data segment, replaced by `payload` (same length:
/// padded with spaces).
fn replace_client_segment(pkts: &mut [Pkt], n: usize, payload: &[u8]) {
    let i = pkts
        .iter()
        .enumerate()
        .filter(|(_, p)| tcp(&p.frame).dport == 4444 && tcp(&p.frame).payload_len > 0)
        .nth(n)
        .unwrap()
        .0;
    let len = tcp(&pkts[i].frame).payload_len;
    assert!(payload.len() <= len, "{} > {len}", payload.len());
    let mut payload = payload.to_vec();
    payload.resize(len, b' ');
    pkts[i].frame = with_payload(&pkts[i].frame, &payload);
}

#[test]
fn escape_sequences_in_packets_are_shown_escaped() {
    let mut pkts = read_pcap(&bundled("qmp/qmp-events.pcap"));
    // Raw control bytes (not valid JSON): they reach the stream and hex views.
    let mut raw =
        b"{\"execute\":\"x\x1b[2J\x1b]0;pwned\x07\", \"id\":\"\xc2\x9b31m\xe2\x80\xae\"}".to_vec();
    raw.extend_from_slice(&[0x1b, b'[', b'H', 0x7f, 0x00]);
    replace_client_segment(&mut pkts, 0, &raw);
    // Control characters as JSON escapes: they reach names, summaries and
    // the decoded tree.
    replace_client_segment(
        &mut pkts,
        1,
        b"{\"execute\":\"x\\u001b[2J\\u009b\\u202eowned\"}",
    );
    let path = scratch("tui_safety").join("hostile.pcap");
    write_pcap(&path, &pkts);

    for (w, hh) in [(80, 24), (120, 40)] {
        let mut h = Harness::open(&path, w, hh).unwrap();
        h.settle();
        assert_clean(&h, "timeline");
        // The command with the escaped name: its row, tree and bytes.
        h.keys("/");
        h.type_text("owned");
        h.keys("Enter");
        let screen = h.screen();
        assert!(
            screen.contains("x\\x1b[2J\\u{9b}\\u{202e}owned"),
            "the name is shown escaped:\n{screen}"
        );
        assert_clean(&h, "selected hostile message");
        h.keys("Tab");
        for _ in 0..12 {
            h.keys("j");
            assert_clean(&h, "tree");
        }
        h.keys("x");
        assert_clean(&h, "hex");
        h.keys("x Esc F");
        let screen = h.screen();
        assert!(
            screen.contains("\\x1b[2J\\x1b]0;pwned\\x07"),
            "raw bytes are shown escaped in the stream:\n{screen}"
        );
        assert_clean(&h, "stream");
        for keys in ["x", "L", "S", "X", "?"] {
            h.keys(keys);
            assert_clean(&h, keys);
        }
        h.keys("Esc 1 f");
        h.type_text("qmp.execute contains \"\u{1b}[2J\u{9b}\"");
        assert_clean(&h, "filter input");
    }
}

#[test]
fn hostile_names_are_escaped_in_the_index() {
    let mut pkts = read_pcap(&bundled("qmp/qmp-events.pcap"));
    replace_client_segment(&mut pkts, 1, b"{\"execute\":\"\\u202e\\u001b[31mred\"}");
    let path = scratch("tui_safety").join("hostile-name.pcap");
    write_pcap(&path, &pkts);
    let mut h = Harness::open(&path, 120, 40).unwrap();
    h.settle();
    let names: Vec<&str> = h.state.model.index.names.iter().map(|n| &**n).collect();
    assert!(
        names.contains(&"\\u{202e}\\x1b[31mred"),
        "names are stored escaped: {names:?}"
    );
    for key in ["S", "L"] {
        h.keys(&format!("Esc 1 g {key}"));
        assert_clean(&h, key);
    }
}
