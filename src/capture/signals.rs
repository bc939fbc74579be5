//! Signal handling: live capture and the relay run until stopped; a
//! capture file's analysis stops early on a signal, with its output
//! finished.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Raises `stop` on SIGINT and SIGTERM; a second signal ends the process
/// at once (the terminal is not held hostage by a stuck capture). "Second"
/// counts signals only: `stop` may already be raised by `-c COUNT`, and a
/// Ctrl-C then must still let the output be finished. The flag returned
/// is raised by the signals only (so that a stop can be told from `-c`).
pub fn stop_on_signals(stop: &Arc<AtomicBool>) -> std::io::Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let signalled = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, signalled.clone())?;
        signal_hook::flag::register(sig, signalled.clone())?;
        signal_hook::flag::register(sig, stop.clone())?;
    }
    Ok(signalled)
}
