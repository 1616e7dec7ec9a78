//! Process start-up without the Rust runtime's (src/main.rs is `no_main`
//! on Linux with glibc): of what std's `rt::init` does before `main`, only
//! what mount_md relies on is done here, in 1–2 system calls instead of
//! ~20 and the parse of /proc/self/maps (std locates the main thread's
//! stack guard with glibc's `pthread_getattr_np`, which scans that file
//! with sscanf: 13 % of a `-u` run's instructions).
//!
//! Kept: descriptors 0, 1 and 2 are made to exist (on /dev/null) when the
//! caller closed them, so that the image or a loop device opened later can
//! never become "stderr" and receive an error message; SIGPIPE is ignored,
//! so a closed pipe on stdout is an EPIPE error, not a silent death.
//! Dropped: the stack-overflow handler (a main-thread overflow still stops
//! at the kernel's guard gap, with SIGSEGV instead of a message) and the
//! main thread's name.
use nix::errno::Errno;

/// Call first thing in `main`.
pub fn init() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd { fd, events: 0, revents: 0 });
    loop {
        // SAFETY: `fds` is a valid array of 3 pollfd for the kernel to fill.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) };
        match Errno::result(r) {
            Err(Errno::EINTR) => continue,
            Ok(_) => break,
            // Where poll cannot tell (EINVAL, ENOMEM…), ask each one.
            Err(_) => {
                for f in &mut fds {
                    // SAFETY: F_GETFD on any integer is harmless.
                    let bad = unsafe { libc::fcntl(f.fd, libc::F_GETFD) } == -1 && Errno::last() == Errno::EBADF;
                    f.revents = if bad { libc::POLLNVAL } else { 0 };
                }
                break;
            }
        }
    }
    for f in &fds {
        if f.revents & libc::POLLNVAL != 0 {
            // open(2) takes the lowest free number: this one, since the
            // lower ones are open by now. Cannot open /dev/null: stop, as
            // std does, rather than run with a hole at 0–2.
            // SAFETY: a NUL-terminated path; no pointer kept.
            let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
            if fd != f.fd {
                // SAFETY: plain abort.
                unsafe { libc::abort() };
            }
        }
    }
    // SAFETY: installing SIG_IGN for SIGPIPE has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}
