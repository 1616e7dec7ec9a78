//! Stop signals (SIGTERM, SIGINT, SIGHUP, SIGQUIT): held for the run and
//! noticed between steps, so a stop undoes the run.

use super::sys::STOP_SIGNALS;

/// Holds (blocks) the stop signals for the rest of the run: one that
/// arrives is noticed between steps ([`pending_stop`]) and the run undoes
/// what it did instead of dying half-way (a mounted disk half-copied, an
/// image grown under a file system that was not). The helpers inherit the
/// hold (see `sys::die_with_parent`) and finish their step; SIGKILL still
/// ends everything, and the helpers with it.
pub fn hold_stop_signals() {
    super::sys::block(&super::sys::stop_set(), false);
}

fn signal_name(s: libc::c_int) -> &'static str {
    match s {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        libc::SIGQUIT => "SIGQUIT",
        _ => "a signal",
    }
}

/// The first stop signal waiting for this process, if any, by name.
pub fn pending_stop() -> Option<&'static str> {
    super::sys::pending(&STOP_SIGNALS).map(signal_name)
}
