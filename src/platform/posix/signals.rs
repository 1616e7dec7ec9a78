//! Stop signals (SIGTERM, SIGINT, SIGHUP, SIGQUIT): held for the run and
//! noticed between steps, so a stop undoes the run.

/// The signals that ask a run to stop: SIGTERM (a service manager's stop,
/// a boot timeout), SIGINT, SIGHUP, SIGQUIT.
const STOP_SIGNALS: [libc::c_int; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT];

/// Holds (blocks) the stop signals for the rest of the run: one that
/// arrives is noticed between steps ([`pending_stop`]) and the run undoes
/// what it did instead of dying half-way (a mounted disk half-copied, an
/// image grown under a file system that was not). The helpers inherit the
/// hold (see [`super::die_with_parent`]) and finish their step; SIGKILL still
/// ends everything, and the helpers with it.
pub fn hold_stop_signals() {
    let set = stop_set();
    // SAFETY: pthread_sigmask reads the initialised set; no old mask wanted.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

/// The set of [`STOP_SIGNALS`]. Only async-signal-safe calls: used between
/// fork and exec too.
fn stop_set() -> libc::sigset_t {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises `set`, a local; sigaddset writes into
    // it; it is read only once initialised.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        for s in STOP_SIGNALS {
            libc::sigaddset(set.as_mut_ptr(), s);
        }
        set.assume_init()
    }
}

/// The name of a stop signal.
fn signal_name(s: libc::c_int) -> &'static str {
    match s {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        libc::SIGQUIT => "SIGQUIT",
        _ => "a signal",
    }
}

/// [`hold_stop_signals`] in a child between fork and exec (std resets
/// the signal mask there): a helper finishes its step, and the run decides
/// what a stop means. Only async-signal-safe calls.
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
pub(super) fn hold_in_child() {
    let set = stop_set();
    // SAFETY: sigprocmask is async-signal-safe and reads the initialised set.
    unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

/// The first stop signal waiting for this process, if any, by name.
pub fn pending_stop() -> Option<&'static str> {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set, sigpending fills it; both
    // write only into `set`, which lives across the calls.
    let ok = unsafe { libc::sigemptyset(set.as_mut_ptr()) == 0 && libc::sigpending(set.as_mut_ptr()) == 0 };
    if !ok {
        return None;
    }
    // SAFETY: initialised above.
    let set = unsafe { set.assume_init() };
    STOP_SIGNALS.into_iter().find_map(|s| {
        // SAFETY: reads the initialised set.
        let member = unsafe { libc::sigismember(&set, s) } == 1;
        member.then(|| signal_name(s))
    })
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
