//! The locks runs take in turns: on an image (mounts, `-u`, `-r`), on a
//! directory while an image is created in it, on `/dev/loop-control`.
//! Each wait is bounded ([`LOCK_WAIT`]), says what it waits for and who
//! holds the lock, and ends at once on a stop signal.
//!
//! An image's or a directory's lock is an `flock` of a file of mount_md's
//! own, named by the device and inode of what it locks, in [`LOCK_DIR`], a
//! directory only root can open ([`take`]): `flock` needs no more than a
//! descriptor, so a lock on the image itself could be taken by anyone who
//! can read it, and would stall every mount, `-u` and `-r` of it. A run
//! that cannot make that directory (not root, a read-only or missing /run)
//! locks the file itself.
#![forbid(unsafe_code)]
use super::*;
use crate::error::{Error, Result};
use crate::platform::FileId;
use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstat, Mode};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

/// Where mount_md's lock files are: a directory of root's that no one else
/// can open (mode 0700), made by the first run that needs it. Its files
/// are empty and are never removed while the system runs (removing one
/// could let two runs hold "the" lock at once); the directory is on a
/// file system the system clears at boot.
#[cfg(target_os = "linux")]
pub const LOCK_DIR: &str = "/run/mount_md";
#[cfg(not(target_os = "linux"))]
pub const LOCK_DIR: &str = "/var/run/mount_md";

/// Takes the lock of the file `id` (`what` in messages, `why` after the
/// holder), waiting at most [`LOCK_WAIT`]: an `flock` of `LOCK_DIR/DEV-INO`,
/// or, where this process cannot use [`LOCK_DIR`] (`lock_file_in`: not
/// root, a read-only or missing /run), of what `itself` opens (the file;
/// `None`: nothing to lock, and so is the answer). Returns the descriptor
/// holding the lock, and whether the lock had to be waited for (what the
/// caller read before may be stale).
pub fn take(
    id: FileId,
    itself: impl FnOnce() -> Result<Option<OwnedFd>>,
    what: &str,
    why: &str,
) -> Result<Option<(OwnedFd, bool)>> {
    let lock_file = lock_file_in(std::path::Path::new(LOCK_DIR), id)?;
    let Some(fd) = lock_file.map_or_else(itself, |l| Ok(Some(l)))? else { return Ok(None) };
    let waited = wait_lock(&fd, what, why, Duration::ZERO)?;
    Ok(Some((fd, waited)))
}

/// The lock file of the file `id`: `LOCK_DIR/DEV-INO`.
pub fn lock_path(id: FileId) -> std::path::PathBuf {
    std::path::Path::new(LOCK_DIR).join(lock_name(id))
}

/// The name of the file `id`'s lock file in its directory: `DEV-INO`.
fn lock_name(id: FileId) -> String {
    format!("{}-{}", id.dev, id.ino)
}

/// `dir/DEV-INO` opened (made if missing, 0600), `dir` made 0700 if
/// missing. `None` where this process may not make or open `dir`: not
/// root (EACCES, EPERM), a read-only file system (EROFS), no parent
/// directory (ENOENT, ENOTDIR: a container without /run). A `dir` that is
/// not root's, or that others can write, is refused: names in it could be
/// someone else's files.
fn lock_file_in(dir: &std::path::Path, id: FileId) -> Result<Option<OwnedFd>> {
    let unusable = |e: Errno| matches!(e, Errno::EACCES | Errno::EPERM | Errno::EROFS | Errno::ENOENT | Errno::ENOTDIR);
    let shown = dir.display().to_string();
    match nix::unistd::mkdir(dir, Mode::from_bits_truncate(0o700)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) if unusable(e) => return Ok(None),
        Err(e) => return Err(Error::sys(format!("cannot make {shown}"), e)),
    }
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd_dir = match nix::fcntl::open(dir, flags, Mode::empty()) {
        Ok(d) => d,
        Err(e) if unusable(e) => return Ok(None),
        Err(e) => return Err(Error::sys(shown, e)),
    };
    let st = fstat(&fd_dir).map_err(|e| Error::sys(shown.clone(), e))?;
    #[allow(clippy::useless_conversion)] // mode_t is u16 on FreeBSD
    if st.st_uid != 0 || u32::from(st.st_mode) & 0o022 != 0 {
        return Err(Error::text(
            shown,
            "is not root's alone (owned by someone else, or writable by others); \
             mount_md keeps its locks there: remove it, and the next run makes it again",
        ));
    }
    let name = lock_name(id);
    let path = dir.join(&name);
    let fd = openat(
        &fd_dir,
        name.as_str(),
        OFlag::O_RDONLY | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| Error::sys(path.display().to_string(), e))?;
    Ok(Some(fd))
}

/// How long a run waits for a lock another process holds (the image's, or
/// its directory's while an image is being created there) before it gives
/// up with nothing changed.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// How often a lock wait looks for a stop signal.
const STOP_POLL: Duration = Duration::from_millis(50);

/// `flock(LOCK_EX | LOCK_NB)`: whether it was taken.
pub(super) fn try_lock(fd: &OwnedFd) -> nix::Result<bool> {
    match super::sys::flock(fd.as_fd(), libc::LOCK_EX | libc::LOCK_NB) {
        Ok(()) => Ok(true),
        Err(Errno::EWOULDBLOCK | Errno::EINTR) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Takes the lock on `fd` (`what` in messages), waiting at most
/// [`LOCK_WAIT`]; answers whether it had to wait. A wait is announced
/// once, with who holds the lock where the system says (/proc/locks),
/// after `quiet` (zero: at once; for a lock that cooperating runs take in
/// turns many times a second, `/dev/loop-control`, only a wait that lasts
/// is worth a line); after the bound the run gives up, having changed
/// nothing.
///
/// The wait itself is a blocking `flock(LOCK_EX)` in a helper thread, on a
/// duplicate of `fd` (the same open file description, so the lock it gets
/// is this descriptor's): the kernel queues blocked waiters, where polling
/// with `LOCK_NB` could lose every turn to others under contention. If the
/// bound passes first, the run fails; should the thread get the lock after
/// that, it holds it only until this process exits, moments later. A
/// thread that got the lock is joined before this returns: the run is
/// single-threaded again, as `unshare(CLONE_NEWNS)` needs (a new image
/// grown mounted, [`crate::platform::Platform::grow`]).
pub fn wait_lock(fd: &OwnedFd, what: &str, why: &str, quiet: Duration) -> Result<bool> {
    if try_lock(fd).map_err(|e| Error::sys(what.to_string(), e))? {
        return Ok(false);
    }
    let dup = fd.try_clone().map_err(|e| crate::error::from_io(what.to_string(), &e))?;
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(super::sys::flock(dup.as_fd(), libc::LOCK_EX));
    });
    // Waits up to `d` for the thread, in slices: a stop signal (held, see
    // hold_stop_signals) ends the wait at once, naming the signal.
    let wait = |d: Duration| -> Option<Result<()>> {
        let until = Instant::now() + d;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left.min(STOP_POLL)) {
                Ok(Ok(())) => return Some(Ok(())),
                Ok(Err(e)) => return Some(Err(Error::sys(what.to_string(), e))),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return None,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
            if let Some(signal) = pending_stop() {
                return Some(Err(Error::text(
                    what.to_string(),
                    format!("{signal} while waiting for its lock; nothing changed"),
                )));
            }
            if left.is_zero() {
                return None;
            }
        }
    };
    let mut answer = wait(quiet);
    let mut holder = String::new();
    if answer.is_none() {
        holder = lock_holder(fd).map(|h| format!(", held by {h}")).unwrap_or_default();
        say_now(&format!("{what}: waiting up to {} s for its lock{holder}{why}", LOCK_WAIT.as_secs()));
        answer = wait(LOCK_WAIT.saturating_sub(quiet));
    }
    let Some(r) = answer else {
        return Err(Error::text(
            what.to_string(),
            format!(
                "still locked after {} s{holder}{why}; giving up, nothing changed; run again once {} is done",
                LOCK_WAIT.as_secs(),
                if holder.is_empty() { "its holder" } else { "that process" }
            ),
        ));
    };
    // Not after a stop signal, while the thread still waits in flock.
    if r.is_ok() {
        let _ = waiter.join();
    }
    r.map(|()| true)
}

/// Who holds a `flock` on the file `fd` is: `pid N (comm)` from
/// /proc/locks (read as bytes, by the file's `fstat`, taken only for a
/// wait) and /proc/N/comm. Linux only; `None` where the system does not
/// say.
fn lock_holder(fd: &OwnedFd) -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        let st = fstat(fd).ok()?;
        #[allow(clippy::unnecessary_cast)]
        let (dev, ino) = (st.st_dev as u64, st.st_ino as u64);
        let key = format!("{:02x}:{:02x}:{ino}", libc::major(dev as libc::dev_t), libc::minor(dev as libc::dev_t));
        let table = std::fs::read("/proc/locks").ok()?;
        let pid = holder_pid(&table, &key)?;
        let comm = std::fs::read(format!("/proc/{pid}/comm")).unwrap_or_default();
        let comm = String::from_utf8_lossy(&comm).trim().to_string();
        Some(if comm.is_empty() { format!("pid {pid}") } else { format!("pid {pid} ({comm})") })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = fd;
        None
    }
}

/// The pid of the first `FLOCK` line of /proc/locks for `key`
/// (`maj:min:inode`, as the kernel prints it).
pub fn holder_pid(table: &[u8], key: &str) -> Option<u32> {
    table.split(|b| *b == b'\n').find_map(|line| {
        let line = std::str::from_utf8(line).ok()?;
        let f: Vec<&str> = line.split_whitespace().collect();
        // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; a waiter's
        // line starts with "1: ->" and is skipped.
        let at = f.iter().position(|w| *w == "FLOCK")?;
        if f.get(at.checked_sub(1)?) == Some(&"->") {
            return None;
        }
        (f.get(at + 4) == Some(&key)).then(|| f.get(at + 3)?.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const ID: FileId = FileId { dev: 2049, ino: 77 };

    #[test]
    fn no_lock_directory_where_it_cannot_be_made() {
        let missing = std::path::Path::new("/nonexistent-mount_md-test/locks");
        assert!(lock_file_in(missing, ID).unwrap().is_none());
    }

    /// As root: the directory made 0700, the file `DEV-INO` 0600 in it;
    /// a directory others can write is refused.
    #[test]
    fn the_lock_directory_is_roots_alone() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: the lock directory's rules are root's (run as root)");
            return;
        }
        let base = std::env::temp_dir().join(format!("mount_md-test-lockdir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir(&base).unwrap();
        let dir = base.join("locks");
        lock_file_in(&dir, ID).unwrap().unwrap();
        let file = std::fs::metadata(dir.join("2049-77")).unwrap();
        assert!(file.is_file());
        assert_eq!(file.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = lock_file_in(&dir, ID).unwrap_err().to_string();
        std::fs::remove_dir_all(&base).unwrap();
        assert!(e.ends_with("is not root's alone (owned by someone else, or writable by others); mount_md keeps its locks there: remove it, and the next run makes it again"), "{e}");
    }
}
