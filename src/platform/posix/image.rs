//! The backing image: opened once (created for `--create`), locked (see
//! [`super::lock`]) for as long as a run holds it, allocated, published,
//! read.
#![forbid(unsafe_code)]
use super::*;
use crate::error::{Error, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstat, fstatat, FileStat, Mode, SFlag};
use nix::unistd::linkat;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

pub use crate::request::CreateMode;

/// A backing image, opened and locked; the lock lasts as long as this.
#[derive(Debug)]
pub struct Image {
    /// Open read-write when possible, else read-only: what a loop device
    /// is bound to.
    pub fd: OwnedFd,
    /// The image's lock ([`super::take`]): its lock file, or where there
    /// is none a second open file description of the image. Never `fd`:
    /// flock belongs to the open file description, and a loop device
    /// keeps `fd`'s for as long as it is bound, so a lock on it would
    /// outlive this process and block the next run.
    _lock: OwnedFd,
    /// `--create`: the `flock` of the temporary itself until it is
    /// published, which tells a later run that its creator is alive.
    _creating: Option<OwnedFd>,
    pub writable: bool,
    /// This run created the file (`--create`); rollback removes it.
    pub created: bool,
    pub stat: FileStat,
    /// Where the walk of its path ended: the directory holding it, its name
    /// there now (the temporary name until [`Image::publish`]), and the
    /// path as walked (each symlink followed replaced by its target).
    at: Walked,
    given: std::path::PathBuf,
    /// A created image's final name, until [`Image::publish`] gives it.
    unpublished: Option<OsString>,
    /// `--from`: how this run made it from its base.
    pub made: Option<crate::platform::clone::Made>,
}

/// The temporary name `--create` makes an image under, in the same
/// directory: `.<name>.mount_md-new`. Fixed, so that a run can find and
/// remove what an interrupted one left.
pub fn temp_name(name: &OsStr) -> OsString {
    let mut t = OsString::from(".");
    t.push(name);
    t.push(TEMP_SUFFIX);
    t
}

/// Why `--create` under `-o ro` makes nothing.
pub const NO_READ_ONLY_CREATE: &str =
    "does not exist, and --create cannot make it for a read-only mount (-o ro): a new image must be formatted";

/// Why `--create=reserve` makes nothing on ZFS: a reservation inside a file
/// does not hold there. Copy-on-write allocates new blocks at every
/// overwrite, whatever was allocated before, and with compression on (the
/// default of FreeBSD's installer's zroot) blocks of zeros are stored as
/// holes, so neither posix_fallocate nor writing zeros keeps the space.
pub const NO_RESERVE_ON_ZFS: &str = "is on ZFS, where --create=reserve cannot reserve the space (copy-on-write \
     allocates anew at every write, and compression stores zeros as holes); use --create=sparse and reserve \
     it on the dataset (zfs set refreservation=<size>), or put the image on a zvol";

/// The file system holding `fd` is ZFS (f_fstypename on FreeBSD, the
/// statfs magic on Linux).
pub fn on_zfs(fd: &OwnedFd) -> bool {
    let Ok(st) = nix::sys::statfs::fstatfs(fd) else { return false };
    #[cfg(target_os = "freebsd")]
    return st.filesystem_type_name() == "zfs";
    #[cfg(not(target_os = "freebsd"))]
    #[allow(clippy::unnecessary_cast)]
    return st.filesystem_type().0 as i64 == ZFS_SUPER_MAGIC;
}

/// OpenZFS's statfs `f_type` on Linux (module/os/linux/zfs/zfs_vfsops.c).
#[cfg(not(target_os = "freebsd"))]
const ZFS_SUPER_MAGIC: i64 = 0x2fc1_2fc1;

/// What [`temp_name`] appends.
const TEMP_SUFFIX: &str = ".mount_md-new";

/// `-N`: the first `len` bytes of the image at `path`, opened as the run
/// opens it (read-only, locked for the moment); `None` if it does not
/// exist.
pub fn image_start(path: &Path, len: usize) -> Result<Option<Vec<u8>>> {
    match open_image(path, None, true) {
        Err(e) if e.errno() == Some(Errno::ENOENT) => Ok(None),
        img => read_start(&img?.fd, len).map(Some).map_err(|e| crate::error::from_io(crate::error::quoted(path), &e)),
    }
}

/// The final name of an image whose temporary name ([`temp_name`]) is
/// `path`; `None` when `path` is not such a name.
pub fn published_name(path: &Path) -> Option<std::path::PathBuf> {
    let name = path.file_name()?.as_bytes();
    let inner = name.strip_prefix(b".")?.strip_suffix(TEMP_SUFFIX.as_bytes())?;
    (!inner.is_empty()).then(|| path.with_file_name(OsStr::from_bytes(inner)))
}

/// Writes a line on standard error at once, as err(3) would: used for what
/// must be seen while it happens (a wait), not after the step.
pub(super) fn say_now(text: &str) {
    eprintln!("{}: {text}", crate::flavor::progname(std::env::args_os().next().as_deref()));
}

/// Opens the image at `path`, following a symlink in the path (the last
/// component's included) only when nobody but root or the caller can
/// change it (`walk`, [`link_risk`]), and takes an exclusive lock on it (waiting at most [`LOCK_WAIT`]
/// for another process to let go), so that concurrent mount_md runs on the
/// same image go one at a time. `read_only` opens it read-only even if
/// writable. Nothing in the path can make this block: every open is
/// `O_NONBLOCK` and the type is checked before anything else (a FIFO is
/// refused, never waited on).
///
/// With `create`, a missing image is made crash-safely: under a
/// [`temp_name`] in the same directory (mode 0600, `O_EXCL`), allocated,
/// and given its final name by [`Image::publish`] once it has been
/// formatted, without replacing anything. A temporary left by an
/// interrupted run (nobody holds its lock) is removed first. Creation is
/// serialised per directory by a `flock` of the directory.
pub fn open_image(path: &Path, create: Option<(u64, CreateMode)>, read_only: bool) -> Result<Image> {
    let w = walk_path(path)?;
    match create {
        Some((size, mode)) => create_image(w, path, Fill::Allocate(size, mode), read_only),
        None => open_existing(w, path, read_only),
    }
}

/// Takes the lock [`open_image`] takes on the file `id` (the one a unit
/// holds, at `path`), waiting for it as [`open_image`] does (at most
/// [`LOCK_WAIT`], saying for what): `-u` holds it while it releases the
/// unit, so that it never runs beside a mount or a `-r` of the same image.
/// `None` only where there is no lock file ([`super::take`]) and `path`
/// cannot be opened by the symlink rule or names another file now. The
/// flag says whether the lock had to be waited for (what the caller read
/// before may be stale).
pub fn lock_existing(path: &Path, id: crate::platform::FileId) -> Result<Option<(OwnedFd, bool)>> {
    // Without a lock file, the file itself, if `path` still names it.
    let itself = || {
        let Ok(w) = walk_path(path) else { return Ok(None) };
        let Ok((fd, st)) = open_regular(&w.parent, &w.name, path, OFlag::O_RDONLY) else { return Ok(None) };
        Ok((super::file_id(&st) == id).then_some(fd))
    };
    take(id, itself, &crate::error::quoted(path), " (another mount_md run is working on it)")
}

/// [`open_image`] for `--create --from=BASE`: a missing image is made as
/// `--create` makes one (temporary name, published by
/// [`Image::publish`]), filled from `base` by
/// [`crate::platform::clone::make_from_base`] instead of allocated. The
/// base is opened as an image is (the symlink rule, a regular file),
/// read-only, and locked for the copy; `check` is given its identity
/// first and may refuse it (a base attached read-write,
/// [`crate::platform::clone::refuse_in_use`]), before anything is created.
pub fn open_image_from(
    path: &Path,
    base: &crate::template::Base,
    read_only: bool,
    check: &mut dyn FnMut(crate::platform::FileId) -> Result<()>,
) -> Result<Image> {
    create_image(walk_path(path)?, path, Fill::Base(base, check), read_only)
}

/// What a created image is filled with.
enum Fill<'a> {
    /// `-s` bytes, allocated as `--create=` says.
    Allocate(u64, CreateMode),
    /// A copy of a base image, once `check` accepts it.
    Base(&'a crate::template::Base, &'a mut dyn FnMut(crate::platform::FileId) -> Result<()>),
}

const NOFOLLOW: OFlag = OFlag::O_NOFOLLOW.union(OFlag::O_CLOEXEC).union(OFlag::O_NONBLOCK);

pub(super) fn kind_of(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// Refuses anything but a regular file, by what `fstat` says.
fn regular(st: &FileStat, path: &Path) -> Result<()> {
    match kind_of(st) {
        SFlag::S_IFREG => Ok(()),
        SFlag::S_IFDIR => Err(Error::sys(crate::error::quoted(path), Errno::EISDIR)),
        _ => Err(Error::plain(format!("{} is not a regular file", crate::error::quoted(path)))),
    }
}

/// Opens `name` in `dir` without blocking and without following a symlink,
/// then takes `O_NONBLOCK` off again once it is known to be a regular file.
fn open_regular(dir: &OwnedFd, name: &OsStr, path: &Path, flags: OFlag) -> Result<(OwnedFd, FileStat)> {
    let fd = openat(dir, name, flags | NOFOLLOW, Mode::empty()).map_err(|e| refuse_symlink(dir, name, path, e))?;
    let st = fstat(&fd).map_err(|e| Error::sys(path.display().to_string(), e))?;
    regular(&st, path)?;
    // O_NONBLOCK is its one status flag `flags` lacks, and F_SETFL sets only
    // status flags (Linux fs/fcntl.c `setfl`, FreeBSD kern_descrip.c `kern_fcntl`).
    nix::fcntl::fcntl(&fd, nix::fcntl::F_SETFL(flags)).map_err(|e| Error::sys("fcntl", e))?;
    Ok((fd, st))
}

fn open_existing(w: Walked, path: &Path, read_only: bool) -> Result<Image> {
    let (dir, name) = (&w.parent, &w.name);
    let shown = || crate::error::quoted(path);
    let rw = if read_only { OFlag::O_RDONLY } else { OFlag::O_RDWR };
    let ((fd, stat), writable) = match open_regular(dir, name, path, rw) {
        Err(e) if !read_only && matches!(e.errno(), Some(Errno::EACCES | Errno::EROFS | Errno::EPERM)) => {
            (open_regular(dir, name, path, OFlag::O_RDONLY)?, false)
        }
        opened => (opened?, !read_only),
    };
    let itself = || {
        let (fd, locked) = open_regular(dir, name, path, OFlag::O_RDONLY)?;
        // Both descriptions must be of one file (the name could have been
        // swapped between the two opens).
        if file_id(&locked) != file_id(&stat) {
            return Err(Error::plain(format!("{} was replaced while opening it", shown())));
        }
        Ok(Some(fd))
    };
    let (lock_fd, _) =
        take(file_id(&stat), itself, &shown(), "")?.ok_or_else(|| Error::plain("internal error: no lock"))?;
    // Read again now that it is ours: the run that held the lock may have
    // changed its length (a `-r` growing it).
    let stat = fstat(&fd).map_err(|e| Error::sys(shown(), e))?;
    Ok(Image {
        fd,
        _lock: lock_fd,
        _creating: None,
        writable,
        created: false,
        stat,
        at: w,
        given: path.to_path_buf(),
        unpublished: None,
        made: None,
    })
}

/// `--create`: an image that exists is opened as usual.
fn create_image(w: Walked, path: &Path, mut fill: Fill<'_>, read_only: bool) -> Result<Image> {
    let (dir, name) = (&w.parent, w.name.as_os_str());
    let shown = || crate::error::quoted(path);
    let tmp = temp_name(name);
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        // Creators take turns per directory: while this is held, a
        // temporary nobody has locked can only be an interrupted run's.
        let dir_st = fstat(dir).map_err(|e| Error::sys(shown(), e))?;
        let itself = || Ok(Some(open_dir_at(dir, ".").map_err(|e| Error::sys(shown(), e))?));
        let why = " (another run is creating an image in its directory)";
        let dir_lock = take(file_id(&dir_st), itself, &shown(), why)?;
        match openat(dir, tmp.as_os_str(), OFlag::O_RDONLY | NOFOLLOW, Mode::empty()) {
            Ok(t) => {
                if try_lock(&t).map_err(|e| Error::sys(shown(), e))? {
                    nix::unistd::unlinkat(dir, tmp.as_os_str(), nix::unistd::UnlinkatFlags::NoRemoveDir)
                        .map_err(|e| Error::sys(format!("remove {}", Path::new(&tmp).display()), e))?;
                    say_now(&format!(
                        "{}: removed {}, left by an interrupted --create",
                        shown(),
                        Path::new(&tmp).display()
                    ));
                } else {
                    // Another run is making this very image: wait for it
                    // (bounded), then look again.
                    drop(dir_lock);
                    wait_lock(&t, &shown(), " (another run is creating it)", Duration::ZERO)?;
                    if Instant::now() > deadline {
                        return Err(Error::text(shown(), "another run keeps creating it; giving up"));
                    }
                    continue;
                }
            }
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(refuse_symlink(dir, &tmp, path, e)),
        }
        match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(_) => {
                // Opened as usual, without holding up the directory's
                // other creators while it waits for the image's lock.
                drop(dir_lock);
                return open_existing(w, path, read_only);
            }
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(Error::sys(shown(), e)),
        }
        if read_only {
            return Err(Error::text(shown(), NO_READ_ONLY_CREATE));
        }
        if matches!(fill, Fill::Allocate(_, CreateMode::Reserve)) && on_zfs(dir) {
            return Err(Error::text(shown(), NO_RESERVE_ON_ZFS));
        }
        // The base, opened, locked and accepted before anything is made.
        let base = match &mut fill {
            Fill::Allocate(..) => None,
            Fill::Base(b, check) => {
                let img = open_existing(walk_path(&b.path)?, &b.path, true)?;
                check(file_id(&img.stat))?;
                #[allow(clippy::unnecessary_cast)]
                if let Some(e) = crate::template::smaller_than_base(&b.path, img.stat.st_size as u64, b.size) {
                    return Err(e);
                }
                Some((img, b.clone))
            }
        };
        let flags = OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_EXCL | NOFOLLOW;
        let lock_fd = openat(dir, tmp.as_os_str(), flags, Mode::from_bits_truncate(0o600))
            .map_err(|e| refuse_symlink(dir, &tmp, path, e))?;
        // Locked before the directory lock goes: a temporary is never seen
        // unlocked while its run is alive.
        super::sys::flock(lock_fd.as_fd(), libc::LOCK_EX).map_err(|e| Error::sys(shown(), e))?;
        // The new image's own lock, as a run that opens it takes it; where
        // there is no lock file, the temporary's flock is that lock too.
        let st = fstat(&lock_fd).map_err(|e| Error::sys(shown(), e))?;
        let image_lock = take(file_id(&st), || Ok(None), &shown(), "")?.map(|(l, _)| l);
        drop(dir_lock);
        let filled = || -> Result<_> {
            let made = match (&fill, &base) {
                (Fill::Allocate(size, mode), _) => {
                    allocate(&lock_fd, *size, *mode, &shown())
                        .map_err(|e| Error::sys(format!("{}: cannot create image", shown()), e))?;
                    None
                }
                (Fill::Base(..), Some((base, policy))) => {
                    let mut k = crate::platform::clone::Kernel;
                    let made = crate::platform::clone::make_from_base(&mut k, &base.fd, &lock_fd, *policy)
                        .map_err(|f| Error::text(shown(), f.text()))?;
                    Some(made)
                }
                (Fill::Base(..), None) => unreachable!("the base is opened above"),
            };
            Ok((open_regular(dir, &tmp, path, OFlag::O_RDWR)?, made))
        };
        let ((fd, stat), made) = filled().inspect_err(|_| {
            let _ = nix::unistd::unlinkat(dir, tmp.as_os_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
        })?;
        let (lock, creating) = match image_lock {
            Some(l) => (l, Some(lock_fd)),
            None => (lock_fd, None),
        };
        return Ok(Image {
            fd,
            _lock: lock,
            _creating: creating,
            writable: true,
            created: true,
            stat,
            unpublished: Some(name.to_os_string()),
            at: Walked { name: tmp, ..w },
            given: path.to_path_buf(),
            made,
        });
    }
}

impl Image {
    /// The descriptor carrying the image's lock, for a helper that must
    /// hold it to its end ([`super::run_to_its_end`]).
    pub fn lock_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self._lock)
    }

    /// Why someone other than root can change this image's bytes, by
    /// fstat of it and of the directory holding it
    /// ([`crate::trust::untrusted`]); `None` when only root can.
    pub fn untrusted(&self) -> Option<String> {
        #[allow(clippy::useless_conversion)] // mode_t is u16 on FreeBSD
        let (uid, mode) = (self.stat.st_uid, u32::from(self.stat.st_mode));
        // A directory that cannot be looked at counts as someone else's.
        let (dir_uid, dir_mode) = match fstat(&self.at.parent) {
            #[allow(clippy::useless_conversion)]
            Ok(d) => (d.st_uid, u32::from(d.st_mode)),
            Err(_) => (u32::MAX, 0o40777),
        };
        crate::trust::untrusted(uid, mode, dir_uid, dir_mode)
    }

    /// The path the image has now: the temporary one for a created image
    /// that is not published yet (what FreeBSD's md(4) must open), in the
    /// directory the walk reached (through any symlink it followed).
    pub fn current_path(&self) -> std::path::PathBuf {
        self.at.path.with_file_name(&self.at.name)
    }

    /// Gives a created image its final name, once it holds its file
    /// system: fsync, then rename without replacing anything
    /// (`renameat2(RENAME_NOREPLACE)` on Linux; elsewhere, or where the
    /// file system lacks it, `link` then `unlink`, which never replaces
    /// either), then fsync the directory. Nothing to do for an image that
    /// existed.
    pub fn publish(&mut self) -> Result<()> {
        let Some(target) = self.unpublished.clone() else { return Ok(()) };
        let shown = || self.given.display().to_string();
        nix::unistd::fsync(&self.fd).map_err(|e| Error::sys(format!("fsync {}", shown()), e))?;
        rename_noreplace(&self.at.parent, &self.at.name, &target).map_err(|e| match e {
            Errno::EEXIST => Error::text(shown(), "appeared while this run was creating it; left as it is"),
            e => Error::sys(format!("rename {} to {}", Path::new(&self.at.name).display(), shown()), e),
        })?;
        self.at.name = target;
        self.unpublished = None;
        nix::unistd::fsync(&self.at.parent).map_err(|e| Error::sys(format!("fsync directory of {}", shown()), e))
    }

    /// Removes the file this run created (rollback), under whichever name
    /// it has now, if that name still points at the file we made.
    pub fn remove_created(&self) -> Result<()> {
        if !self.created {
            return Ok(());
        }
        let at = fstatat(&self.at.parent, self.at.name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW);
        if at.is_ok_and(|st| file_id(&st) == file_id(&self.stat)) {
            nix::unistd::unlinkat(&self.at.parent, self.at.name.as_os_str(), nix::unistd::UnlinkatFlags::NoRemoveDir)
                .map_err(|e| Error::sys(crate::error::quoted(&self.given), e))?;
        }
        Ok(())
    }

    /// Grows the file (never shrinks it) to `size` bytes, sparsely.
    /// Returns whether it grew.
    pub fn extend_to(&self, size: u64) -> Result<bool> {
        #[allow(clippy::unnecessary_cast)]
        let current = self.stat.st_size as u64;
        if size <= current {
            return Ok(false);
        }
        let len = crate::platform::extend::off(size).map_err(|e| Error::sys("image size", e))?;
        nix::unistd::ftruncate(&self.fd, len)
            .map_err(|e| Error::sys(format!("extend {}", crate::error::quoted(&self.given)), e))?;
        Ok(true)
    }
}

fn rename_noreplace(dir: &OwnedFd, from: &OsStr, to: &OsStr) -> nix::Result<()> {
    #[cfg(target_os = "linux")]
    match nix::fcntl::renameat2(dir, from, dir, to, nix::fcntl::RenameFlags::RENAME_NOREPLACE) {
        Err(Errno::EINVAL | Errno::ENOSYS) => {}
        other => return other,
    }
    linkat(dir, from, dir, to, AtFlags::empty())?;
    nix::unistd::unlinkat(dir, from, nix::unistd::UnlinkatFlags::NoRemoveDir)
}

fn allocate(fd: &OwnedFd, size: u64, mode: CreateMode, what: &str) -> nix::Result<()> {
    match mode {
        CreateMode::Sparse => nix::unistd::ftruncate(fd, crate::platform::extend::off(size)?),
        // ZFS is refused before this (see NO_RESERVE_ON_ZFS).
        CreateMode::Reserve => crate::platform::extend::reserve(fd, 0, size, what),
    }
}

/// The first `len` bytes of the file or disk `fd` (fewer if it is
/// smaller), read with pread(2) from offset 0: superblocks.
pub fn read_start(fd: &OwnedFd, len: usize) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::from(fd.try_clone()?);
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(buf)
}
