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

#[cfg(test)]
mod tests {

    /// A held stop signal waits, and is seen by name.
    #[test]
    fn a_held_stop_signal_is_seen() {
        // On a thread of its own: the hold and the signal are the thread's.
        std::thread::spawn(|| {
            super::hold_stop_signals();
            assert_eq!(super::pending_stop(), None);
            // SAFETY: raise(3) to this thread; the signal is held, so it
            // only waits (and goes with the thread).
            unsafe { libc::raise(libc::SIGTERM) };
            assert_eq!(super::pending_stop(), Some("SIGTERM"));
        })
        .join()
        .unwrap();
    }
}
