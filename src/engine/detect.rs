//! Detection: which protocol a new session speaks, from `--decode-as`,
//! then the registry's content probes (in registry order, the protocol of
//! a registered port first), the port as a fallback.

use qscope_dissectors::{probe, proto_for_port, Proto, SessionStart, Verdict};

/// The `--decode-as` pair for the session's ports (server port first),
/// if any: the port and its protocol.
pub(super) fn forced(decode_as: &[(u16, Proto)], server: u16, client: u16) -> Option<(u16, Proto)> {
    [server, client].iter().find_map(|p| {
        decode_as
            .iter()
            .find(|(port, _)| port == p)
            .map(|(_, proto)| (*p, *proto))
    })
}

/// Probes the first bytes of both directions for every protocol. `None`:
/// undecided, wait for more bytes (unless `force`). Else the protocol,
/// whether the sides are swapped, and why nothing matched.
pub(super) fn probe_all(
    c2s: &[u8],
    s2c: &[u8],
    ports: [u16; 2],
    start: SessionStart,
    force: bool,
) -> Option<(Proto, bool, Option<&'static str>)> {
    let hint = ports.iter().find_map(|p| proto_for_port(*p));
    let mut order: Vec<Proto> = hint.into_iter().collect();
    order.extend(Proto::KNOWN.iter().copied().filter(|p| Some(*p) != hint));
    let mut waiting = false;
    let mut hint_undecided = false;
    let mut found = None;
    let mut reason = None;
    for proto in order {
        match probe(proto, c2s, s2c, start) {
            Verdict::Match { swap } => {
                found = Some((proto, swap, None));
                break;
            }
            Verdict::NeedMore => {
                waiting = true;
                hint_undecided |= Some(proto) == hint;
            }
            Verdict::NoMatch(r) => reason = reason.or(r),
        }
    }
    match (found, hint) {
        (Some(f), _) => Some(f),
        _ if waiting && !force => None,
        // Out of bytes or time: the port's protocol, unless its own probe
        // ruled it out.
        (None, Some(h)) if hint_undecided => Some((h, false, None)),
        (None, _) => Some((
            Proto::Unknown,
            false,
            Some(reason.unwrap_or("protocol not recognised")),
        )),
    }
}
