//! The raw system calls the shared code makes, each wrapped once with
//! why it is sound: flock(2), the signal mask, the child's set-up between
//! fork and exec, whether this process was started set-id, and the
//! clone or copy of a base image (`platform::clone`). With the
//! backends' syscall traits (`LoopSys`, `MdSys`) and the `no_main` entry,
//! the only `unsafe` in the crate.
use std::os::fd::{AsRawFd, BorrowedFd};

/// flock(2) with `op` (`LOCK_EX`, `LOCK_EX | LOCK_NB`), retried when a
/// signal interrupts a blocking one.
pub fn flock(fd: BorrowedFd<'_>, op: libc::c_int) -> nix::Result<()> {
    loop {
        // SAFETY: flock(2) on an open descriptor; no memory is passed.
        let r = unsafe { libc::flock(fd.as_raw_fd(), op) };
        match nix::errno::Errno::result(r) {
            Err(nix::errno::Errno::EINTR) if op & libc::LOCK_NB == 0 => continue,
            other => return other.map(drop),
        }
    }
}

/// The signals that ask a run to stop: SIGTERM (a service manager's stop,
/// a boot timeout), SIGINT, SIGHUP, SIGQUIT.
pub(super) const STOP_SIGNALS: [libc::c_int; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT];

/// The set of the stop signals ([`STOP_SIGNALS`]). Only async-signal-safe calls: used between
/// fork and exec too.
pub fn stop_set() -> libc::sigset_t {
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

/// Blocks the signals of `set`: in this thread (pthread_sigmask), or,
/// `in_child`, in a child between fork and exec, where std reset the
/// mask (sigprocmask, async-signal-safe).
pub fn block(set: &libc::sigset_t, in_child: bool) {
    // SAFETY: both read the initialised set; no old mask is wanted.
    unsafe {
        if in_child {
            libc::sigprocmask(libc::SIG_BLOCK, set, std::ptr::null_mut());
        } else {
            libc::pthread_sigmask(libc::SIG_BLOCK, set, std::ptr::null_mut());
        }
    }
}

/// The first of `signals` waiting for this process, if any.
pub fn pending(signals: &[libc::c_int]) -> Option<libc::c_int> {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set, sigpending fills it; both
    // write only into `set`, which lives across the calls.
    let ok = unsafe { libc::sigemptyset(set.as_mut_ptr()) == 0 && libc::sigpending(set.as_mut_ptr()) == 0 };
    if !ok {
        return None;
    }
    // SAFETY: initialised above.
    let set = unsafe { set.assume_init() };
    // SAFETY: sigismember reads the initialised set.
    signals.iter().copied().find(|&s| unsafe { libc::sigismember(&set, s) } == 1)
}

/// Whether the kernel says this process was started set-user-ID or
/// set-group-ID (see `set_id`): FreeBSD's issetugid(2), Linux's
/// `AT_SECURE`.
pub fn secure_exec() -> bool {
    #[cfg(target_os = "freebsd")]
    // SAFETY: issetugid(2) takes no arguments and only reads the process's flags.
    let secure = unsafe { libc::issetugid() } != 0;
    #[cfg(target_os = "linux")]
    // SAFETY: getauxval(3) only reads the auxiliary vector the kernel gave.
    let secure = unsafe { libc::getauxval(libc::AT_SECURE) } != 0;
    #[cfg(not(any(target_os = "freebsd", target_os = "linux")))]
    let secure = false;
    secure
}

/// A helper that must finish whatever happens to mount_md (see
/// `run_to_its_end` in spawn.rs): a session of its own, SIGPIPE ignored, the
/// stop signals held, and `keep` left open across exec.
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
pub fn outlive_parent(cmd: &mut std::process::Command, keep: Vec<std::os::fd::RawFd>) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec and only
    // makes async-signal-safe system calls (setsid, signal, sigprocmask,
    // fcntl) on its own descriptors; `keep` was allocated before the fork
    // and is only read.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
            block(&stop_set(), true);
            for &fd in &keep {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Elsewhere helpers outlive mount_md anyway.
#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
pub fn outlive_parent(_cmd: &mut std::process::Command, _keep: Vec<std::os::fd::RawFd>) {}

/// A helper (mkfs, fsck, a grower) dies with mount_md: killed (kill -9,
/// a boot timeout), mount_md's loop descriptor closes and autoclear frees
/// the device, and the next run may be given the same `/dev/loopN`. A
/// formatter left running would open that node by name and write into the
/// next run's image; on FreeBSD, newfs, fsck_ufs or growfs left running
/// would keep `/dev/mdN` open, and the next run's detach of the leftover
/// unit would find it busy. The child asks for SIGKILL when its parent
/// goes (`pdeathsig_kill`); if the parent is already gone by then, it
/// exits at once.
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
pub fn die_with_parent(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    let parent = nix::unistd::getpid();
    // SAFETY: the closure runs in the child between fork and exec and only
    // makes async-signal-safe calls (prctl or procctl, sigemptyset,
    // sigaddset, sigprocmask, getppid, _exit); it touches no memory shared
    // with the parent and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if pdeathsig_kill() != 0 {
                return Err(std::io::Error::last_os_error());
            }
            block(&stop_set(), true);
            if libc::getppid() != parent.as_raw() {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// `PR_SET_PDEATHSIG` SIGKILL (linux/kernel/sys.c `prctl`).
#[cfg(target_os = "linux")]
fn pdeathsig_kill() -> libc::c_int {
    // SAFETY: prctl(2) with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) }
}

/// `procctl(P_PID, 0, PROC_PDEATHSIG_CTL, SIGKILL)`, the same request
/// (sys/kern/kern_procctl.c `pdeathsig_ctl`, FreeBSD 11.2 and later).
#[cfg(target_os = "freebsd")]
fn pdeathsig_kill() -> libc::c_int {
    let mut signal: libc::c_int = libc::SIGKILL;
    let data: *mut libc::c_int = &mut signal;
    // SAFETY: procctl(2) with a pointer to its own stack variable, which
    // outlives the call.
    unsafe { libc::procctl(libc::P_PID, 0, libc::PROC_PDEATHSIG_CTL, data.cast()) }
}

/// Elsewhere the helper outlives a killed mount_md.
#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
pub fn die_with_parent(_cmd: &mut std::process::Command) {}

/// ioctl(2) FICLONE: `to` shares all of `from`'s blocks.
#[cfg(target_os = "linux")]
pub fn ficlone(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> nix::Result<()> {
    // SAFETY: ioctl(2) FICLONE takes the source descriptor as its integer
    // argument (linux/fs.h `_IOW(0x94, 9, int)`); both descriptors are
    // open for the duration of the call and no memory is passed.
    let r = unsafe { libc::ioctl(to.as_raw_fd(), libc::FICLONE, from.as_raw_fd()) };
    nix::errno::Errno::result(r).map(drop)
}

/// copy_file_range(2) of up to `len` bytes at offset `at` of both files,
/// leaving the files' own offsets alone.
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
pub fn copy_file_range(from: BorrowedFd<'_>, to: BorrowedFd<'_>, at: libc::off_t, len: usize) -> nix::Result<usize> {
    let (mut a, mut b) = (at, at);
    // SAFETY: two open descriptors, offsets that are local variables alive
    // across the call, no flags.
    let r = unsafe { libc::copy_file_range(from.as_raw_fd(), &mut a, to.as_raw_fd(), &mut b, len, 0) };
    nix::errno::Errno::result(r).map(|n| n as usize)
}

/// fstatfs(2) of `fd`: its file system's type name (`f_fstypename`) and
/// source (`f_mntfromname`).
#[cfg(target_os = "freebsd")]
pub fn fstatfs_names(fd: BorrowedFd<'_>) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut st = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: fstatfs(2) fills the statfs buffer it is given, which is
    // valid and large enough; the descriptor is open.
    if unsafe { libc::fstatfs(fd.as_raw_fd(), st.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: fstatfs returned 0, so it filled the buffer (zeroed before).
    let st = unsafe { st.assume_init() };
    Some((c_chars(&st.f_fstypename), c_chars(&st.f_mntfromname)))
}

/// The bytes of a fixed C char array up to its first NUL.
#[cfg(target_os = "freebsd")]
#[allow(clippy::unnecessary_cast)] // c_char is i8 on amd64 and i386, u8 on arm64
pub fn c_chars(a: &[libc::c_char]) -> Vec<u8> {
    a.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect()
}

/// An integer sysctl by name (sysctlbyname(3)).
#[cfg(target_os = "freebsd")]
pub fn sysctl_int(name: &std::ffi::CStr) -> Option<i32> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>();
    // SAFETY: sysctlbyname(3) with a NUL-terminated name, an out buffer of
    // `len` bytes that lives across the call, no new value.
    let r = unsafe {
        libc::sysctlbyname(name.as_ptr(), (&mut v as *mut libc::c_int).cast(), &mut len, std::ptr::null(), 0)
    };
    (r == 0 && len == std::mem::size_of::<libc::c_int>()).then_some(v)
}
