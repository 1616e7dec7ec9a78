//! What Linux and FreeBSD do alike: set up the mounted root through a
//! descriptor of it, copy a skeleton tree, wait for a device node.
//!
//! Everything is done relative to directory descriptors opened with
//! `O_NOFOLLOW`, never by re-resolving a path after the mount, so a jailed
//! root that swaps a directory for a symlink cannot redirect a chmod, chown
//! or copy onto the host (mdmfs's chmod/chown-by-path race).
use crate::error::{Error, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag, AT_FDCWD};
use nix::sys::stat::{fchmod, fstat, fstatat, mkdirat, mknodat, utimensat, FileStat, Mode, SFlag, UtimensatFlags};
use nix::sys::statvfs::{fstatvfs, FsFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, Gid, Uid};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// Opens a directory without following a symlink in its last component.
pub fn open_dir_at(dir: impl AsFd, name: &(impl nix::NixPath + ?Sized)) -> nix::Result<OwnedFd> {
    openat(dir, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
}

/// The root directory of what is mounted at `mount_point`.
pub fn open_root(mount_point: &Path) -> Result<OwnedFd> {
    open_dir_at(AT_FDCWD, mount_point).map_err(|e| Error::sys(mount_point.display().to_string(), e))
}

/// Whether the file system holding `fd` is mounted read-only.
pub fn is_read_only(fd: &OwnedFd) -> Result<bool> {
    let st = fstatvfs(fd).map_err(|e| Error::sys("statvfs", e))?;
    Ok(st.flags().contains(FsFlags::ST_RDONLY))
}

/// chmod of the mounted root, through its descriptor (mdmfs's message).
pub fn set_mode(root: &OwnedFd, mount_point: &Path, mode: u32) -> Result<()> {
    #[allow(clippy::useless_conversion)] // mode_t is u16 on FreeBSD
    let mode = Mode::from_bits_truncate((mode & 0o7777).try_into().unwrap_or_default());
    fchmod(root, mode).map_err(|e| Error::sys(format!("chmod: {}", crate::error::quoted(mount_point)), e))
}

/// chown of the mounted root, through its descriptor.
pub fn set_owner(root: &OwnedFd, mount_point: &Path, uid: u32, gid: u32) -> Result<()> {
    fchown(root, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
        .map_err(|e| Error::sys(format!("chown {} to {uid}:{gid}", crate::error::quoted(mount_point)), e))
}

/// Waits, bounded, for a device node to exist (udev or GEOM may lag).
pub fn wait_for_node(node: &Path, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    loop {
        match std::fs::symlink_metadata(node) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && start.elapsed() < timeout => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(crate::error::from_io(node.display().to_string(), &e)),
        }
    }
}

/// `-k skel`: copies the tree at `from` into the directory `root`,
/// keeping modes, owners, times, symlinks, hard links, fifos and device
/// nodes, as `pax -rw -pe` does for mdmfs, and merging into what the
/// target already holds as pax does (FreeBSD bin/pax/file_subs.c
/// `unlnk_exist`): an existing directory is entered (its mode, owner and
/// times then set from the skeleton), any other existing entry (a file, a
/// symlink, a node) is unlinked and made anew, never written through, and
/// what the skeleton does not name (`lost+found`, the tenant's own files)
/// is left alone. A skeleton file where the target has a non-empty
/// directory is an error (pax warns and exits 1, and mdmfs fails then).
///
/// While the copy runs the target root holds [`UNFINISHED`]: a copy cut
/// short (kill -9, a crash) leaves it there, and the next run of the same
/// line finishes the copy ([`unfinished_copy`]) instead of taking the
/// mount as done.
///
/// A skeleton that contains the mount point (`-k /` onto `/mnt`) is refused
/// before anything is copied: the copy would walk into its own target. The
/// walk is iterative and holds two directory descriptors whatever the
/// depth (it goes back up through `..`, checking it lands where it came
/// from), so no tree can exhaust the stack or the descriptor table; every
/// directory is also compared, by device and inode, with the target root.
pub fn copy_skeleton(from: &Path, root: &OwnedFd, mount_point: &Path) -> Result<()> {
    let mark = || format!("skel copy: {}", mount_point.join(UNFINISHED).display());
    let what = || format!("skel copy from {}", crate::error::quoted(from));
    let src = open_skeleton(from)?;
    let src_st = fstat(&src).map_err(|e| Error::sys(what(), e))?;
    refuse_containing(from, &src_st, root)?;
    mark_unfinished(root).map_err(|e| Error::sys(mark(), e))?;
    let dst = nix::unistd::dup(root).map_err(|e| Error::sys(what(), e))?;
    copy_tree(src, dst, root).map_err(|(path, e)| {
        let shown = if path.as_os_str().is_empty() { from.to_path_buf() } else { from.join(&path) };
        match e {
            CopyFault::Errno(e) => Error::sys(format!("skel copy: {}", shown.display()), e),
            CopyFault::Text(t) => Error::text(format!("skel copy: {}", shown.display()), t),
        }
    })?;
    // The root's own mode, owner and times come from the skeleton's top.
    apply_meta_fd(root, &src_st).map_err(|e| Error::sys(what(), e))?;
    match nix::unistd::unlinkat(root, UNFINISHED, nix::unistd::UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(Error::sys(mark(), e)),
    }
}

/// The name, in the mounted root, that says a skeleton copy into it has
/// not finished: made before the copy starts, removed once it is done.
pub const UNFINISHED: &str = ".mount_md-skeleton-unfinished";

/// Makes [`UNFINISHED`] in `root`, an empty file: one already there (left
/// by a copy cut short, or anything else of that name) is replaced.
fn mark_unfinished(root: &OwnedFd) -> nix::Result<()> {
    match nix::unistd::unlinkat(root, UNFINISHED, nix::unistd::UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(e),
    }
    let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    openat(root, UNFINISHED, flags, Mode::from_bits_truncate(0o600)).map(drop)
}

/// Whether the root `root` holds a skeleton copy that did not finish
/// ([`UNFINISHED`], a regular file).
pub fn unfinished_copy(root: &OwnedFd) -> bool {
    fstatat(root, UNFINISHED, AtFlags::AT_SYMLINK_NOFOLLOW).is_ok_and(|st| kind_of(&st) == SFlag::S_IFREG)
}

/// The refusal of a skeleton (`from`, described by `st`) that is the
/// directory `dir` or one of its ancestors: copied, it would walk into its
/// own target.
fn refuse_containing(from: &Path, st: &FileStat, dir: &OwnedFd) -> Result<()> {
    if is_ancestor(st, dir).map_err(|e| Error::sys(format!("skel copy from {}", crate::error::quoted(from)), e))? {
        return Err(Error::text(
            format!("-k {}", from.display()),
            "the skeleton contains the mount point; refusing to copy it into itself",
        ));
    }
    Ok(())
}

/// Before anything changes (the preflight, `-N` alike): the skeleton
/// `from` opens and does not contain the mount point, so that the run
/// never mounts (and changes the image's superblock) only to refuse the
/// copy. A mount point that cannot be opened is left to the mount step.
pub fn check_skeleton(from: &Path, mount_point: &Path) -> Result<()> {
    let src = open_skeleton(from)?;
    let st = fstat(&src).map_err(|e| Error::sys(format!("skel copy from {}", crate::error::quoted(from)), e))?;
    match open_dir_walked(mount_point) {
        Ok((dir, _)) => refuse_containing(from, &st, &dir),
        Err(_) => Ok(()),
    }
}

/// Opens the skeleton directory `from` as the image is opened: walked a
/// component at a time, a symlink (the last one included, as `chdir` in
/// mdmfs follows it) followed only when nobody but root or the caller can
/// change it.
pub fn open_skeleton(from: &Path) -> Result<OwnedFd> {
    open_dir_walked(from)
        .map(|(dir, _)| dir)
        .map_err(|e| Error { what: format!("skel copy from {}", crate::error::quoted(from)), why: e.why })
}

/// Whether the directory `st` describes is `dir` or one of its ancestors
/// (walking up through `..` to the root, by device and inode).
fn is_ancestor(st: &FileStat, dir: &OwnedFd) -> nix::Result<bool> {
    let mut cur = nix::unistd::dup(dir)?;
    // Deeper than this no real path goes (PATH_MAX / 2).
    for _ in 0..2048 {
        let here = fstat(&cur)?;
        if (here.st_dev, here.st_ino) == (st.st_dev, st.st_ino) {
            return Ok(true);
        }
        let up = open_dir_at(&cur, "..")?;
        let parent = fstat(&up)?;
        if (parent.st_dev, parent.st_ino) == (here.st_dev, here.st_ino) {
            return Ok(false); // the root
        }
        cur = up;
    }
    Ok(false)
}

enum CopyFault {
    Errno(Errno),
    Text(&'static str),
}

impl From<Errno> for CopyFault {
    fn from(e: Errno) -> Self {
        CopyFault::Errno(e)
    }
}

type CopyError = (std::path::PathBuf, CopyFault);

/// One directory being copied: what is left of its entries, and what the
/// walk needs to come back to it.
struct Frame {
    names: std::vec::IntoIter<OsString>,
    /// Relative to the skeleton (and to the target root).
    path: std::path::PathBuf,
    /// Device and inode of the source and target directory, to check that
    /// `..` leads back to them.
    src_id: (u64, u64),
    dst_id: (u64, u64),
    /// The source directory's metadata, applied once it is filled (the
    /// root's is applied by the caller).
    meta: Option<FileStat>,
}

#[allow(clippy::unnecessary_cast)]
fn id(st: &FileStat) -> (u64, u64) {
    (st.st_dev as u64, st.st_ino as u64)
}

fn copy_tree(mut src: OwnedFd, mut dst: OwnedFd, root: &OwnedFd) -> std::result::Result<(), CopyError> {
    let top = |e: Errno| (std::path::PathBuf::new(), CopyFault::Errno(e));
    let root_id = id(&fstat(root).map_err(top)?);
    // Files with more than one link: where the first copy went, relative
    // to the target root.
    let mut links: HashMap<(u64, u64), std::path::PathBuf> = HashMap::new();
    let mut stack = vec![Frame {
        names: read_dir_names(&src).map_err(top)?.into_iter(),
        path: std::path::PathBuf::new(),
        src_id: id(&fstat(&src).map_err(top)?),
        dst_id: root_id,
        meta: None,
    }];
    while let Some(frame) = stack.last_mut() {
        if pending_stop().is_some() {
            return Err((frame.path.clone(), CopyFault::Text("interrupted")));
        }
        let Some(name) = frame.names.next() else {
            let done = stack.pop().expect("a frame");
            let fail = |e: CopyFault| (done.path.clone(), e);
            if let Some(st) = &done.meta {
                apply_meta_fd(&dst, st).map_err(|e| fail(e.into()))?;
            }
            let Some(parent) = stack.last() else { break };
            // Back up one level, checking `..` is where we came from.
            src = open_dir_at(&src, "..").map_err(|e| fail(e.into()))?;
            dst = open_dir_at(&dst, "..").map_err(|e| fail(e.into()))?;
            let back = (id(&fstat(&src).map_err(|e| fail(e.into()))?), id(&fstat(&dst).map_err(|e| fail(e.into()))?));
            if back != (parent.src_id, parent.dst_id) {
                return Err(fail(CopyFault::Text("moved while it was being copied")));
            }
            continue;
        };
        if frame.path.as_os_str().is_empty() && name == UNFINISHED {
            continue; // the target's own mark, never the skeleton's
        }
        let rel = frame.path.join(&name);
        let fail = |e: Errno| (rel.clone(), CopyFault::Errno(e));
        let st = fstatat(&src, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW).map_err(fail)?;
        let kind = kind_of(&st);
        let key = id(&st);
        if kind == SFlag::S_IFDIR && key == root_id {
            return Err((rel, CopyFault::Text("is the mount point: the skeleton contains it")));
        }
        // What the target already has under this name: a directory is
        // entered when a directory is copied, anything else makes way.
        let existing = match fstatat(&dst, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(e) => Some(kind_of(&e)),
            Err(Errno::ENOENT) => None,
            Err(e) => return Err(fail(e)),
        };
        let enter = kind == SFlag::S_IFDIR && existing == Some(SFlag::S_IFDIR);
        match existing {
            Some(SFlag::S_IFDIR) if !enter => {
                nix::unistd::unlinkat(&dst, name.as_os_str(), nix::unistd::UnlinkatFlags::RemoveDir).map_err(|e| {
                    let why = if matches!(e, Errno::ENOTEMPTY | Errno::EEXIST) {
                        CopyFault::Text("is a directory that is not empty in the mounted root; not replacing it")
                    } else {
                        CopyFault::Errno(e)
                    };
                    (rel.clone(), why)
                })?
            }
            Some(_) if !enter => {
                nix::unistd::unlinkat(&dst, name.as_os_str(), nix::unistd::UnlinkatFlags::NoRemoveDir).map_err(fail)?
            }
            _ => {}
        }
        if kind != SFlag::S_IFDIR && st.st_nlink > 1 {
            if let Some(first) = links.get(&key) {
                linkat(root, first.as_os_str(), &dst, name.as_os_str(), AtFlags::empty()).map_err(fail)?;
                continue;
            }
        }
        let perm = Mode::from_bits_truncate(0o700);
        match kind {
            SFlag::S_IFDIR => {
                if !enter {
                    mkdirat(&dst, name.as_os_str(), perm).map_err(fail)?;
                }
                let s = open_dir_at(&src, name.as_os_str()).map_err(fail)?;
                let d = open_dir_at(&dst, name.as_os_str()).map_err(fail)?;
                let names = read_dir_names(&s).map_err(fail)?;
                let dst_id = id(&fstat(&d).map_err(fail)?);
                stack.push(Frame { names: names.into_iter(), path: rel, src_id: key, dst_id, meta: Some(st) });
                (src, dst) = (s, d);
                continue;
            }
            SFlag::S_IFREG => copy_file(&src, &dst, &name).map_err(fail)?,
            SFlag::S_IFLNK => {
                let target = readlinkat(&src, name.as_os_str()).map_err(fail)?;
                symlinkat(target.as_os_str(), &dst, name.as_os_str()).map_err(fail)?;
            }
            _ => {
                #[allow(clippy::useless_conversion)]
                let rdev = st.st_rdev.try_into().map_err(|_| fail(Errno::EOVERFLOW))?;
                mknodat(&dst, name.as_os_str(), kind, perm, rdev).map_err(fail)?;
            }
        }
        apply_meta_at(&dst, &name, &st, kind).map_err(fail)?;
        if kind != SFlag::S_IFDIR && st.st_nlink > 1 {
            links.insert(key, rel);
        }
    }
    Ok(())
}

/// Names in a directory, without `.` and `..`, sorted for a stable order.
fn read_dir_names(dir: &OwnedFd) -> nix::Result<Vec<OsString>> {
    let fd = open_dir_at(dir, ".")?;
    let mut d = nix::dir::Dir::from_fd(fd)?;
    let mut names = Vec::new();
    for entry in d.iter() {
        let name = OsStr::from_bytes(entry?.file_name().to_bytes()).to_os_string();
        if name != "." && name != ".." {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn copy_file(src: &OwnedFd, dst: &OwnedFd, name: &OsStr) -> nix::Result<()> {
    // O_NONBLOCK: a FIFO swapped in after the fstatat cannot make this wait.
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK;
    let from = openat(src, name, flags, Mode::empty())?;
    if kind_of(&fstat(&from)?) != SFlag::S_IFREG {
        return Err(Errno::EINVAL);
    }
    let to = openat(
        dst,
        name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )?;
    copy_sparse(&from, &to)
}

/// Copies `from` into `to` keeping holes, as pax does: a block of zeros is
/// skipped (seeked over) rather than written, and the length set at the
/// end, so a sparse file takes no more room in the copy than in the
/// skeleton.
fn copy_sparse(from: &OwnedFd, to: &OwnedFd) -> nix::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut at: u64 = 0;
    loop {
        let n = match nix::unistd::read(from, &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..n];
        if chunk.iter().any(|&b| b != 0) {
            let mut done = 0;
            while done < n {
                let pos = libc::off_t::try_from(at + done as u64).map_err(|_| Errno::EFBIG)?;
                done += nix::sys::uio::pwrite(to, &chunk[done..], pos)?;
            }
        }
        at += n as u64;
    }
    nix::unistd::ftruncate(to, libc::off_t::try_from(at).map_err(|_| Errno::EFBIG)?)
}

fn times(st: &FileStat) -> (TimeSpec, TimeSpec) {
    // time_t and the nsec fields differ in width between targets (i386).
    #[allow(clippy::unnecessary_cast)]
    let at = TimeSpec::new(st.st_atime as _, st.st_atime_nsec as _);
    #[allow(clippy::unnecessary_cast)]
    let mt = TimeSpec::new(st.st_mtime as _, st.st_mtime_nsec as _);
    (at, mt)
}

/// Owner first (chown clears set-id bits), then mode, then times.
fn apply_meta_fd(fd: &OwnedFd, st: &FileStat) -> nix::Result<()> {
    fchown(fd, Some(Uid::from_raw(st.st_uid)), Some(Gid::from_raw(st.st_gid)))?;
    #[allow(clippy::useless_conversion)]
    fchmod(fd, Mode::from_bits_truncate((st.st_mode & 0o7777).try_into().unwrap_or_default()))?;
    let (a, m) = times(st);
    nix::sys::stat::futimens(fd, &a, &m)
}

fn apply_meta_at(dir: &OwnedFd, name: &OsStr, st: &FileStat, kind: SFlag) -> nix::Result<()> {
    let d = dir;
    fchownat(d, name, Some(Uid::from_raw(st.st_uid)), Some(Gid::from_raw(st.st_gid)), AtFlags::AT_SYMLINK_NOFOLLOW)?;
    if kind != SFlag::S_IFLNK {
        // fchmodat has no portable no-follow flag, but this entry is one we
        // just created ourselves and it is not a symlink.
        #[allow(clippy::useless_conversion)]
        let mode = Mode::from_bits_truncate((st.st_mode & 0o7777).try_into().unwrap_or_default());
        nix::sys::stat::fchmodat(d, name, mode, nix::sys::stat::FchmodatFlags::FollowSymlink)?;
    }
    let (a, m) = times(st);
    utimensat(d, name, &a, &m, UtimensatFlags::NoFollowSymlink)
}

/// At most this many symlinks are followed in one walk; one more is
/// ELOOP. Linux allows 40 (`MAXSYMLINKS`, include/linux/namei.h), FreeBSD
/// 32 (`MAXSYMLINKS`, sys/sys/param.h). One bound for both, the smaller:
/// a path is then accepted or refused alike on either system, and never
/// one the FreeBSD kernel would refuse when nmount(2) or MDIOCATTACH
/// resolves the path again.
pub const MAX_SYMLINKS: u32 = 32;

/// Why a symlink met while walking a path is not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRisk {
    /// The link belongs to this uid, neither root nor the caller.
    LinkOwner(u32),
    /// The directory holding it belongs to this uid, neither root nor the
    /// caller (its owner can always chmod it writable).
    DirOwner(u32),
    /// The directory is group-writable, without the sticky bit.
    DirGroupWritable,
    /// The directory is world-writable, without the sticky bit.
    DirWorldWritable,
}

impl LinkRisk {
    /// The refusal, for the link at `link` (as messages show a path).
    pub fn message(&self, link: &str) -> String {
        match self {
            LinkRisk::LinkOwner(uid) => format!("{link} is a symbolic link owned by uid {uid}, not followed"),
            LinkRisk::DirOwner(uid) => {
                format!("{link} is a symbolic link in a directory owned by uid {uid}, not followed")
            }
            LinkRisk::DirGroupWritable => {
                format!("{link} is a symbolic link in a group-writable directory, not followed")
            }
            LinkRisk::DirWorldWritable => {
                format!("{link} is a symbolic link in a world-writable directory, not followed")
            }
        }
    }
}

/// The rule for following a symlink: `None` (follow it) when nobody but
/// root or `caller` (the effective uid) can change it, else why not.
/// `link_uid` is the link's owner, `dir_uid` and `dir_mode` those of the
/// directory holding it.
///
/// Why this is enough:
/// - A symlink's target cannot be rewritten in place: to make the name
///   lead elsewhere, the entry must be removed or renamed over, and both
///   need write permission on the directory (Linux fs/namei.c
///   `may_delete`; FreeBSD sys/ufs/ufs/ufs_lookup.c `ufs_lookup_ino` asks
///   `VOP_ACCESS(VWRITE)` of the directory for DELETE and RENAME). Who can
///   write the directory: root, its owner (who can chmod it writable if it
///   is not), its group if it is group-writable, anyone if it is
///   world-writable. So the owner must be root or the caller.
/// - The sticky bit narrows removal and rename to root, the entry's owner
///   and the directory's owner (Linux `check_sticky`, which fs/namei.c
///   `may_delete` applies to a rename's target too; FreeBSD
///   sys/ufs/ufs/ufs_lookup.c `ufs_delete_denied`, which `ufs_lookup_ino`
///   applies for DELETE and RENAME; ZFS `zfs_sticky_remove_access`).
///   In a sticky directory others can add names but cannot remove or
///   replace one that root or the caller owns. So a sticky group- or
///   world-writable directory (`/tmp`) is safe for a link owned by root
///   or the caller; without the sticky bit it is not, whoever owns the
///   link.
/// - The link's owner must therefore be root or the caller: in a sticky
///   directory any other owner could replace it. Elsewhere its owner
///   cannot, but it is refused all the same, so that the rule does not
///   hang on the sticky bit (a link another user made is theirs to aim).
/// - The link's own mode bits are never consulted when it is followed
///   (Linux gives every symlink 0777; FreeBSD's lchmod(2) mode does not
///   take part in lookup), so they are not looked at here.
/// - Access control lists: a POSIX.1e ACL granting write to a named user
///   or group shows in the group bits of the mode (the mask), so it is
///   refused as group-writable. An NFSv4 ACL (FreeBSD ZFS, UFS with
///   `nfsv4acls`) can grant write that the mode does not show; it is not
///   read.
/// - The directories above the link were opened one at a time and are
///   held by descriptor: the walk goes on from the directory it holds,
///   whatever happens to their names meanwhile.
pub fn link_risk(link_uid: u32, dir_uid: u32, dir_mode: u32, caller: u32) -> Option<LinkRisk> {
    let trusted = |uid: u32| uid == 0 || uid == caller;
    let sticky = dir_mode & 0o1000 != 0;
    if !trusted(link_uid) {
        Some(LinkRisk::LinkOwner(link_uid))
    } else if !trusted(dir_uid) {
        Some(LinkRisk::DirOwner(dir_uid))
    } else if !sticky && dir_mode & 0o002 != 0 {
        Some(LinkRisk::DirWorldWritable)
    } else if !sticky && dir_mode & 0o020 != 0 {
        Some(LinkRisk::DirGroupWritable)
    } else {
        None
    }
}

/// Where a walk of a path ended.
#[derive(Debug)]
pub struct Walked {
    /// The directory holding the last component.
    pub parent: OwnedFd,
    /// The last component: not a symlink when the walk looked at it, or
    /// missing.
    pub name: OsString,
    /// The path as walked: as given when no symlink was followed, else
    /// with each followed link replaced by its target (what messages
    /// show, and what names the file again by path).
    pub path: std::path::PathBuf,
    /// How many symlinks were followed.
    pub followed: u32,
}

/// One component still to walk.
enum Step {
    Root,
    Up,
    Here,
    Name(OsString),
}

/// Pushes the components of `path` on `todo`, the first one last.
fn push_steps(todo: &mut Vec<Step>, path: &Path) {
    use std::path::Component;
    for c in path.components().rev() {
        todo.push(match c {
            Component::RootDir | Component::Prefix(_) => Step::Root,
            Component::ParentDir => Step::Up,
            Component::CurDir => Step::Here,
            Component::Normal(n) => Step::Name(n.to_os_string()),
        });
    }
}

fn is_link(st: &FileStat) -> bool {
    kind_of(st) == SFlag::S_IFLNK
}

/// Walks `path` a component at a time, opening every directory with
/// `O_NOFOLLOW` relative to the one before (a relative path starts at
/// the working directory). A symlink met on the way — in the path or in
/// a link's target, the last component included — is followed only when
/// [`link_risk`] allows it, [`MAX_SYMLINKS`] at most (then ELOOP); any
/// other is refused: "… is a symbolic link …, not followed". A target is
/// walked from the directory holding the link (relative) or from `/`
/// (absolute), by the same rule. `follow: false` refuses every symlink
/// but the last component's, which is left to the caller (its own
/// `O_NOFOLLOW` open refuses it).
fn walk(path: &Path, follow: bool, dot: bool) -> Result<Walked> {
    let given = || crate::error::quoted(path);
    let caller = nix::unistd::geteuid().as_raw();
    let mut todo = Vec::new();
    push_steps(&mut todo, path);
    let mut dir =
        open_dir_at(AT_FDCWD, if path.is_absolute() { "/" } else { "." }).map_err(|e| Error::sys(given(), e))?;
    let mut shown = std::path::PathBuf::new();
    let mut followed = 0u32;
    // The last link followed, for a target that ends in no file name.
    let mut last_link: Option<std::path::PathBuf> = None;
    loop {
        let name = match todo.pop() {
            // The path ends at a directory (`.`, `..`): with `dot`, the
            // directory itself, as `.` in it.
            None if dot => return Ok(Walked { parent: dir, name: ".".into(), path: shown, followed }),
            None => {
                let what = last_link.as_deref().map_or_else(given, crate::error::quoted);
                return Err(Error::text(what, "not a file name"));
            }
            Some(Step::Root) => {
                dir = open_dir_at(AT_FDCWD, "/").map_err(|e| Error::sys(given(), e))?;
                shown = std::path::PathBuf::from("/");
                continue;
            }
            Some(Step::Here) => {
                shown.push(".");
                continue;
            }
            Some(Step::Up) => {
                shown.push("..");
                dir = open_dir_at(&dir, "..").map_err(|e| Error::sys(crate::error::quoted(&shown), e))?;
                continue;
            }
            Some(Step::Name(name)) => name,
        };
        shown.push(&name);
        let link = |dir: &OwnedFd| fstatat(dir, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW).ok().filter(is_link);
        let found = if todo.is_empty() {
            match link(&dir) {
                Some(st) if follow => Some(st),
                _ => {
                    let path = if followed == 0 { path.to_path_buf() } else { shown };
                    return Ok(Walked { parent: dir, name, path, followed });
                }
            }
        } else {
            match open_dir_at(&dir, name.as_os_str()) {
                Ok(d) => {
                    dir = d;
                    continue;
                }
                // O_NOFOLLOW on a symlink: Linux says ELOOP, FreeBSD EMLINK.
                Err(e) => match link(&dir) {
                    Some(st) if follow => Some(st),
                    Some(_) => {
                        return Err(Error::plain(format!("{} is a symbolic link", crate::error::quoted(&shown))))
                    }
                    None => return Err(Error::sys(crate::error::quoted(&shown), e)),
                },
            }
        };
        let Some(link_st) = found else { continue };
        // The link's owner (above), the directory's owner and mode, and the
        // target are three calls: once the rule holds, only root or the
        // caller could swap the link in between, and they are trusted.
        let here = || crate::error::quoted(&shown);
        let dir_st = fstat(&dir).map_err(|e| Error::sys(here(), e))?;
        #[allow(clippy::useless_conversion)] // mode_t is u16 on FreeBSD
        if let Some(risk) = link_risk(link_st.st_uid, dir_st.st_uid, u32::from(dir_st.st_mode), caller) {
            return Err(Error::plain(risk.message(&here())));
        }
        followed += 1;
        if followed > MAX_SYMLINKS {
            return Err(Error::sys(here(), Errno::ELOOP));
        }
        let target = readlinkat(&dir, name.as_os_str()).map_err(|e| Error::sys(here(), e))?;
        if target.is_empty() {
            // As both kernels answer an empty link.
            return Err(Error::sys(here(), Errno::ENOENT));
        }
        last_link = Some(shown.clone());
        shown.pop();
        push_steps(&mut todo, Path::new(&target));
    }
}

/// Walks `path` to its last component (`walk`), following only the
/// symlinks nobody but root or the caller can change, the last
/// component's included. Returns the directory holding where the path
/// leads and the name there (not a symlink when looked at; the caller
/// opens it with `O_NOFOLLOW`).
pub fn walk_to_parent(path: &Path) -> Result<(OwnedFd, OsString)> {
    walk(path, true, false).map(|w| (w.parent, w.name))
}

/// [`walk_to_parent`], with the path as walked.
pub fn walk_path(path: &Path) -> Result<Walked> {
    walk(path, true, false)
}

/// [`walk_path`] for a path to look at, not to open or create: one that
/// ends at a directory (`/`, `.`, `dir/..`) gives that directory and the
/// name `.`.
pub fn walk_target(path: &Path) -> Result<Walked> {
    walk(path, true, true)
}

/// Turns an `O_NOFOLLOW` failure into "… is a symbolic link" when that is
/// what it was (Linux says ELOOP, FreeBSD EMLINK), else the plain error.
fn refuse_symlink(dir: &OwnedFd, name: &OsStr, walked: &Path, e: Errno) -> Error {
    let is_link = fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW).map(|st| is_link(&st)).unwrap_or(false);
    if is_link {
        Error::plain(format!("{} is a symbolic link", crate::error::quoted(walked)))
    } else {
        Error::sys(crate::error::quoted(walked), e)
    }
}

/// Opens a directory (a mount point) refusing symlinks in every component.
pub fn open_dir_no_symlinks(path: &Path) -> Result<OwnedFd> {
    if path.as_os_str() == "/" {
        return open_root(path);
    }
    let w = walk(path, false, false)?;
    open_dir_at(&w.parent, w.name.as_os_str()).map_err(|e| refuse_symlink(&w.parent, &w.name, path, e))
}

/// A directory (a mount point) reached by `walk`: its descriptor, and
/// the walk (the directory holding it and its name there). `/` has no
/// walk.
pub fn open_dir_walked(path: &Path) -> Result<(OwnedFd, Option<Walked>)> {
    if path.as_os_str() == "/" {
        return Ok((open_root(path)?, None));
    }
    let w = walk(path, true, false)?;
    let dir = open_dir_at(&w.parent, w.name.as_os_str()).map_err(|e| refuse_symlink(&w.parent, &w.name, &w.path, e))?;
    Ok((dir, Some(w)))
}

/// The identity of the file `st` describes.
pub fn file_id(st: &FileStat) -> crate::platform::FileId {
    // st_dev and st_ino differ in width between targets.
    #[allow(clippy::unnecessary_cast)]
    crate::platform::FileId { dev: st.st_dev as u64, ino: st.st_ino as u64 }
}

/// How `--create` makes a missing image.
pub use crate::request::CreateMode;

/// A backing image, opened and locked; the lock lasts as long as this.
#[derive(Debug)]
pub struct Image {
    /// Open read-write when possible, else read-only: what a loop device
    /// is bound to.
    pub fd: OwnedFd,
    /// A second open file description of the same file carrying the
    /// `flock(LOCK_EX)`. flock belongs to the open file description, and a
    /// loop device keeps `fd`'s description for as long as it is bound: a
    /// lock on `fd` would outlive this process and block the next run.
    _lock: OwnedFd,
    pub writable: bool,
    /// This run created the file (`--create`); rollback removes it.
    pub created: bool,
    pub stat: FileStat,
    dir: OwnedFd,
    /// Its name in `dir` now: the temporary name until [`Image::publish`].
    name: OsString,
    /// The path as given.
    given: std::path::PathBuf,
    /// The path as walked (each symlink followed replaced by its target):
    /// where `dir` is, by name.
    walked: std::path::PathBuf,
    /// A created image's final name, until [`Image::publish`] gives it.
    unpublished: Option<OsString>,
}

/// How long a run waits for a lock another process holds (the image's, or
/// its directory's while an image is being created there) before it gives
/// up with nothing changed.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// How often a lock wait looks for a stop signal.
const STOP_POLL: Duration = Duration::from_millis(50);

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

/// What [`temp_name`] appends.
const TEMP_SUFFIX: &str = ".mount_md-new";

/// `-N`: the first `len` bytes of the image at `path`, opened as the run
/// opens it (read-only, locked for the moment); `None` if it does not
/// exist.
pub fn image_start(path: &Path, len: usize) -> Result<Option<Vec<u8>>> {
    match open_image(path, None, true) {
        Ok(img) => {
            read_start(&img.fd, len).map(Some).map_err(|e| crate::error::from_io(crate::error::quoted(path), &e))
        }
        Err(e) if e.errno() == Some(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
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
fn say_now(text: &str) {
    let prog = std::env::args_os()
        .next()
        .map(|a| Path::new(&a).file_name().map(OsStr::to_os_string).unwrap_or(a))
        .unwrap_or_else(|| "mount_md".into());
    eprintln!("{}: {text}", prog.to_string_lossy());
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
    if let Some((size, mode)) = create {
        if let Some(img) = create_image(&w, path, size, mode, read_only)? {
            return Ok(img);
        }
    }
    open_existing(w, path, read_only)
}

const NOFOLLOW: OFlag = OFlag::O_NOFOLLOW.union(OFlag::O_CLOEXEC).union(OFlag::O_NONBLOCK);

fn kind_of(st: &FileStat) -> SFlag {
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
    let fl = nix::fcntl::fcntl(&fd, nix::fcntl::F_GETFL).map_err(|e| Error::sys("fcntl", e))?;
    let fl = OFlag::from_bits_truncate(fl) & !OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(&fd, nix::fcntl::F_SETFL(fl)).map_err(|e| Error::sys("fcntl", e))?;
    Ok((fd, st))
}

fn open_existing(w: Walked, path: &Path, read_only: bool) -> Result<Image> {
    let Walked { parent: dir, name, path: walked, .. } = w;
    let shown = || crate::error::quoted(path);
    let rw = if read_only { OFlag::O_RDONLY } else { OFlag::O_RDWR };
    let ((fd, stat), writable) = match open_regular(&dir, &name, path, rw) {
        Ok(r) => (r, !read_only),
        Err(e) if !read_only && matches!(e.errno(), Some(Errno::EACCES | Errno::EROFS | Errno::EPERM)) => {
            (open_regular(&dir, &name, path, OFlag::O_RDONLY)?, false)
        }
        Err(e) => return Err(e),
    };
    let (lock_fd, locked) = open_regular(&dir, &name, path, OFlag::O_RDONLY)?;
    wait_lock(&lock_fd, &locked, &shown(), "")?;
    // Both descriptions must be of one file (the name could have been
    // swapped between the two opens).
    if (locked.st_dev, locked.st_ino) != (stat.st_dev, stat.st_ino) {
        return Err(Error::plain(format!("{} was replaced while opening it", shown())));
    }
    // Read again now that it is ours: the run that held the lock may have
    // changed its length (a `-r` growing it).
    let stat = fstat(&fd).map_err(|e| Error::sys(shown(), e))?;
    Ok(Image {
        fd,
        _lock: lock_fd,
        writable,
        created: false,
        stat,
        dir,
        name,
        given: path.to_path_buf(),
        walked,
        unpublished: None,
    })
}

/// `--create`: `None` when the image exists (open it as usual).
fn create_image(w: &Walked, path: &Path, size: u64, mode: CreateMode, read_only: bool) -> Result<Option<Image>> {
    let (dir, name) = (&w.parent, w.name.as_os_str());
    let shown = || crate::error::quoted(path);
    let tmp = temp_name(name);
    let d = dir;
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        // Creators take turns per directory: while this is held, a
        // temporary nobody has locked can only be an interrupted run's.
        let dir_lock = open_dir_at(dir, ".").map_err(|e| Error::sys(shown(), e))?;
        let dir_st = fstat(&dir_lock).map_err(|e| Error::sys(shown(), e))?;
        wait_lock(&dir_lock, &dir_st, &shown(), " (another run is creating an image in its directory)")?;
        match openat(d, tmp.as_os_str(), OFlag::O_RDONLY | NOFOLLOW, Mode::empty()) {
            Ok(t) => {
                if try_lock(&t).map_err(|e| Error::sys(shown(), e))? {
                    nix::unistd::unlinkat(d, tmp.as_os_str(), nix::unistd::UnlinkatFlags::NoRemoveDir)
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
                    let st = fstat(&t).map_err(|e| Error::sys(shown(), e))?;
                    wait_lock(&t, &st, &shown(), " (another run is creating it)")?;
                    if Instant::now() > deadline {
                        return Err(Error::text(shown(), "another run keeps creating it; giving up"));
                    }
                    continue;
                }
            }
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(refuse_symlink(dir, &tmp, path, e)),
        }
        match fstatat(d, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(_) => return Ok(None),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(Error::sys(shown(), e)),
        }
        if read_only {
            return Err(Error::text(shown(), NO_READ_ONLY_CREATE));
        }
        let flags = OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_EXCL | NOFOLLOW;
        let lock_fd = openat(d, tmp.as_os_str(), flags, Mode::from_bits_truncate(0o600))
            .map_err(|e| refuse_symlink(dir, &tmp, path, e))?;
        // Locked before the directory lock goes: a temporary is never seen
        // unlocked while its run is alive.
        lock(&lock_fd).map_err(|e| Error::sys(shown(), e))?;
        drop(dir_lock);
        let remove = || {
            let _ = nix::unistd::unlinkat(d, tmp.as_os_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
        };
        if let Err(e) = allocate(&lock_fd, size, mode) {
            remove();
            return Err(Error::sys(format!("{}: cannot create image", shown()), e));
        }
        let opened = open_regular(dir, &tmp, path, OFlag::O_RDWR);
        let (fd, stat) = match opened {
            Ok(r) => r,
            Err(e) => {
                remove();
                return Err(e);
            }
        };
        let dir = nix::unistd::dup(dir).map_err(|e| Error::sys(shown(), e))?;
        return Ok(Some(Image {
            fd,
            _lock: lock_fd,
            writable: true,
            created: true,
            stat,
            dir,
            name: tmp,
            given: path.to_path_buf(),
            walked: w.path.clone(),
            unpublished: Some(name.to_os_string()),
        }));
    }
}

impl Image {
    /// Why someone other than root can change this image's bytes, by
    /// fstat of it and of the directory holding it
    /// ([`crate::trust::untrusted`]); `None` when only root can.
    pub fn untrusted(&self) -> Option<String> {
        #[allow(clippy::useless_conversion)] // mode_t is u16 on FreeBSD
        let (uid, mode) = (self.stat.st_uid, u32::from(self.stat.st_mode));
        // A directory that cannot be looked at counts as someone else's.
        let (dir_uid, dir_mode) = match fstat(&self.dir) {
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
        self.walked.with_file_name(&self.name)
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
        rename_noreplace(&self.dir, &self.name, &target).map_err(|e| match e {
            Errno::EEXIST => Error::text(shown(), "appeared while this run was creating it; left as it is"),
            e => Error::sys(format!("rename {} to {}", Path::new(&self.name).display(), shown()), e),
        })?;
        self.name = target;
        self.unpublished = None;
        nix::unistd::fsync(&self.dir).map_err(|e| Error::sys(format!("fsync directory of {}", shown()), e))
    }

    /// Removes the file this run created (rollback), under whichever name
    /// it has now, if that name still points at the file we made.
    pub fn remove_created(&self) -> Result<()> {
        if !self.created {
            return Ok(());
        }
        let d = &self.dir;
        if let Ok(st) = fstatat(d, self.name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            if (st.st_dev, st.st_ino) == (self.stat.st_dev, self.stat.st_ino) {
                nix::unistd::unlinkat(d, self.name.as_os_str(), nix::unistd::UnlinkatFlags::NoRemoveDir)
                    .map_err(|e| Error::sys(crate::error::quoted(&self.given), e))?;
            }
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
        let len = i64::try_from(size).map_err(|_| Error::sys("image size", Errno::EFBIG))?;
        #[allow(clippy::useless_conversion)]
        nix::unistd::ftruncate(&self.fd, len.try_into().map_err(|_| Error::sys("image size", Errno::EFBIG))?)
            .map_err(|e| Error::sys(format!("extend {}", crate::error::quoted(&self.given)), e))?;
        Ok(true)
    }
}

fn rename_noreplace(dir: &OwnedFd, from: &OsStr, to: &OsStr) -> nix::Result<()> {
    let d = dir;
    #[cfg(target_os = "linux")]
    match nix::fcntl::renameat2(d, from, d, to, nix::fcntl::RenameFlags::RENAME_NOREPLACE) {
        Err(Errno::EINVAL | Errno::ENOSYS) => {}
        other => return other,
    }
    linkat(d, from, d, to, AtFlags::empty())?;
    nix::unistd::unlinkat(d, from, nix::unistd::UnlinkatFlags::NoRemoveDir)
}

fn lock(fd: &OwnedFd) -> nix::Result<()> {
    loop {
        // SAFETY: flock(2) on a descriptor we own; no memory is passed.
        let r = unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX) };
        match Errno::result(r) {
            Err(Errno::EINTR) => continue,
            other => return other.map(drop),
        }
    }
}

/// `flock(LOCK_EX | LOCK_NB)`: whether it was taken.
fn try_lock(fd: &OwnedFd) -> nix::Result<bool> {
    // SAFETY: flock(2) on a descriptor we own; no memory is passed.
    let r = unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    match Errno::result(r) {
        Ok(_) => Ok(true),
        Err(Errno::EWOULDBLOCK | Errno::EINTR) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Takes the lock on `fd` (the file `st` describes, `what` in messages),
/// waiting at most [`LOCK_WAIT`]. The wait is announced once, at once,
/// with who holds the lock where the system says (/proc/locks); after it
/// the run gives up, having changed nothing.
pub fn wait_lock(fd: &OwnedFd, st: &FileStat, what: &str, why: &str) -> Result<()> {
    wait_lock_quietly(fd, st, what, why, Duration::ZERO)
}

/// [`wait_lock`], saying nothing for the first `quiet` of the wait: for a
/// lock that cooperating runs take in turns many times a second
/// (`/dev/loop-control`), only a wait that lasts is worth a line.
///
/// The wait itself is a blocking `flock(LOCK_EX)` in a helper thread, on a
/// duplicate of `fd` (the same open file description, so the lock it gets
/// is this descriptor's): the kernel queues blocked waiters, where polling
/// with `LOCK_NB` could lose every turn to others under contention. If the
/// bound passes first, the run fails; should the thread get the lock after
/// that, it holds it only until this process exits, moments later.
pub fn wait_lock_quietly(fd: &OwnedFd, st: &FileStat, what: &str, why: &str, quiet: Duration) -> Result<()> {
    if try_lock(fd).map_err(|e| Error::sys(what.to_string(), e))? {
        return Ok(());
    }
    let dup = fd.try_clone().map_err(|e| crate::error::from_io(what.to_string(), &e))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = loop {
            // SAFETY: flock(2) on a descriptor this thread owns; no memory
            // is passed.
            let r = unsafe { libc::flock(dup.as_raw_fd(), libc::LOCK_EX) };
            match Errno::result(r) {
                Err(Errno::EINTR) => continue,
                r => break r.map(drop),
            }
        };
        let _ = tx.send(r);
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
    if let Some(r) = wait(quiet) {
        return r;
    }
    let holder = lock_holder(st).map(|h| format!(", held by {h}")).unwrap_or_default();
    say_now(&format!("{what}: waiting up to {} s for its lock{holder}{why}", LOCK_WAIT.as_secs()));
    if let Some(r) = wait(LOCK_WAIT.saturating_sub(quiet)) {
        return r;
    }
    Err(Error::text(
        what.to_string(),
        format!("still locked after {} s{holder}{why}; giving up, nothing changed", LOCK_WAIT.as_secs()),
    ))
}

/// Who holds a `flock` on the file `st` describes: `pid N (comm)` from
/// /proc/locks (read as bytes) and /proc/N/comm. Linux only; `None`
/// where the system does not say.
fn lock_holder(st: &FileStat) -> Option<String> {
    #[cfg(target_os = "linux")]
    {
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
        let _ = st;
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

fn allocate(fd: &OwnedFd, size: u64, mode: CreateMode) -> nix::Result<()> {
    let len = i64::try_from(size).map_err(|_| Errno::EFBIG)?;
    #[allow(clippy::useless_conversion)]
    let len: libc::off_t = len.try_into().map_err(|_| Errno::EFBIG)?;
    match mode {
        CreateMode::Sparse => nix::unistd::ftruncate(fd, len),
        CreateMode::Reserve => match nix::fcntl::posix_fallocate(fd, 0, len) {
            // ZFS (and some others) cannot preallocate: write the zeros, as
            // the 2006 article's dd did, so the space is still really taken.
            Err(Errno::EINVAL | Errno::EOPNOTSUPP) => write_zeros(fd, size),
            other => other,
        },
    }
}

fn write_zeros(fd: &OwnedFd, size: u64) -> nix::Result<()> {
    let chunk = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = usize::try_from(left.min(chunk.len() as u64)).unwrap_or(chunk.len());
        let wrote = nix::unistd::write(fd, &chunk[..n])?;
        left -= wrote as u64;
    }
    nix::unistd::fsync(fd)
}

/// Where helper programs (mkfs, newfs, fsck) look for the programs they
/// run themselves: the system directories, never the caller's `$PATH`.
pub const HELPER_PATH: &str = "/sbin:/usr/sbin:/bin:/usr/bin";

/// At most this many lines of a helper's output go into a message.
pub const OUTPUT_LINES: usize = 40;
/// And at most this many bytes are kept while reading it.
const OUTPUT_BYTES: usize = 64 * 1024;

/// What a helper printed and how it ended.
#[derive(Debug)]
pub struct Captured {
    pub status: std::process::ExitStatus,
    /// Its standard output and standard error, interleaved as written
    /// (one pipe for both), at most 64 KiB of it.
    pub output: String,
}

/// A helper still running after this long is named on standard error,
/// once, so that a boot that seems to hang says what it waits for. The
/// helper is not stopped: a formatter or checker of a large image may need
/// minutes, and killing it half-way would leave the file system worse.
pub const HELPER_NOTICE: Duration = Duration::from_secs(10);

/// Runs `program` with `args` as an argument vector (no shell), with a
/// cleared environment (only `PATH`=[`HELPER_PATH`]), standard input from
/// /dev/null and its output captured (bounded). `loud` lets its output
/// through to ours instead. Still running after [`HELPER_NOTICE`], it is
/// named on standard error (pid, how long), once.
pub fn run_captured(program: &Path, args: &[OsString], loud: bool) -> Result<Captured> {
    run_noticed(program, args, loud, HELPER_NOTICE, |text| say_now(&text))
}

/// [`run_captured`], with the notice after `after` given to `notice`.
pub fn run_noticed(
    program: &Path,
    args: &[OsString],
    loud: bool,
    after: Duration,
    notice: impl FnOnce(String) + Send + 'static,
) -> Result<Captured> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(program);
    cmd.args(args).env_clear().env("PATH", HELPER_PATH).stdin(Stdio::null());
    die_with_parent(&mut cmd);
    let shown = || program.display().to_string();
    let mut reader = None;
    if !loud {
        let (r, w) = nix::unistd::pipe().map_err(|e| Error::sys("pipe", e))?;
        let w2 = w.try_clone().map_err(|e| crate::error::from_io("pipe", &e))?;
        cmd.stdout(Stdio::from(w)).stderr(Stdio::from(w2));
        reader = Some(r);
    }
    let mut child = cmd.spawn().map_err(|e| crate::error::from_io(shown(), &e))?;
    // The write ends now live only in the child (Command dropped ours).
    drop(cmd);
    let (finished, until) = std::sync::mpsc::channel::<()>();
    let text = format!("still waiting for {} (pid {}) after {} s", shown(), child.id(), after.as_secs());
    let watch = std::thread::spawn(move || {
        if until.recv_timeout(after) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
            notice(text);
        }
    });
    let mut kept = Vec::new();
    if let Some(r) = reader {
        let mut pipe = std::fs::File::from(r);
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let room = OUTPUT_BYTES.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }
    let status = child.wait().map_err(|e| crate::error::from_io(shown(), &e));
    drop(finished);
    let _ = watch.join();
    Ok(Captured { status: status?, output: String::from_utf8_lossy(&kept).into_owned() })
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

/// A helper (mkfs, fsck, a grower) dies with mount_md: killed (kill -9,
/// a boot timeout), mount_md's loop descriptor closes and autoclear frees
/// the device, and the next run may be given the same `/dev/loopN`. A
/// formatter left running would open that node by name and write into the
/// next run's image. `PR_SET_PDEATHSIG` (linux/kernel/sys.c `prctl`) sends
/// it SIGKILL when its parent goes; if the parent is already gone by then,
/// the child exits at once.
#[cfg(target_os = "linux")]
pub fn die_with_parent(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    let parent = nix::unistd::getpid();
    // SAFETY: the closure runs in the child between fork and exec and only
    // makes async-signal-safe system calls (prctl, getppid, _exit); it
    // touches no memory shared with the parent and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            hold_in_child();
            if libc::getppid() != parent.as_raw() {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// FreeBSD: `procctl(P_PID, 0, PROC_PDEATHSIG_CTL, SIGKILL)`, the same
/// request (sys/kern/kern_procctl.c `pdeathsig_ctl`, FreeBSD 11.2 and
/// later): newfs, fsck_ufs or growfs left running would keep `/dev/mdN`
/// open, and the next run's detach of the leftover unit would find it busy.
#[cfg(target_os = "freebsd")]
pub fn die_with_parent(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    let parent = nix::unistd::getpid();
    // SAFETY: the closure runs in the child between fork and exec and only
    // makes async-signal-safe system calls (procctl, getppid, _exit) with
    // a pointer to its own stack variable, which outlives the call; it
    // touches no memory shared with the parent and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            let mut signal: libc::c_int = libc::SIGKILL;
            let data: *mut libc::c_int = &mut signal;
            if libc::procctl(libc::P_PID, 0, libc::PROC_PDEATHSIG_CTL, data.cast()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            hold_in_child();
            if libc::getppid() != parent.as_raw() {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// The signals that ask a run to stop: SIGTERM (a service manager's stop,
/// a boot timeout), SIGINT, SIGHUP, SIGQUIT.
const STOP_SIGNALS: [libc::c_int; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT];

/// Why this process has privileges its caller lacks — it was started
/// from a set-user-ID or set-group-ID file (or, on Linux, one with file
/// capabilities) — or `None`. mount_md is not meant to be installed that
/// way: it would let any user attach and mount images on any directory.
/// FreeBSD asks issetugid(2) (sys/kern/kern_prot.c `sys_issetugid`: the
/// process changed credentials at exec); Linux compares the real and
/// effective ids and reads the kernel's `AT_SECURE` (set by
/// security/commoncap.c `cap_bprm_creds_from_file` for such an exec).
pub fn set_id() -> Option<String> {
    use nix::unistd::{getegid, geteuid, getgid, getuid};
    let (uid, euid, gid, egid) = (getuid(), geteuid(), getgid(), getegid());
    #[cfg(target_os = "freebsd")]
    // SAFETY: issetugid(2) takes no arguments and only reads the process's flags.
    let secure = unsafe { libc::issetugid() } != 0;
    #[cfg(target_os = "linux")]
    // SAFETY: getauxval(3) only reads the auxiliary vector the kernel gave.
    let secure = unsafe { libc::getauxval(libc::AT_SECURE) } != 0;
    #[cfg(not(any(target_os = "freebsd", target_os = "linux")))]
    let secure = false;
    (secure || uid != euid || gid != egid).then(|| {
        format!(
            "refusing to run set-user-ID or set-group-ID (real uid {uid}, effective uid {euid}, \
             real gid {gid}, effective gid {egid}): mount_md is not meant to be installed setuid; run it as root"
        )
    })
}

/// Holds (blocks) the stop signals for the rest of the run: one that
/// arrives is noticed between steps ([`pending_stop`]) and the run undoes
/// what it did instead of dying half-way (a mounted disk half-copied, an
/// image grown under a file system that was not). The helpers inherit the
/// hold (see [`die_with_parent`]) and finish their step; SIGKILL still
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
fn hold_in_child() {
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

/// Elsewhere the helper outlives a killed mount_md.
#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
pub fn die_with_parent(_cmd: &mut std::process::Command) {}

/// The non-empty lines of a helper's output, trimmed, with a `prefix` of
/// its own name dropped, at most [`OUTPUT_LINES`] of them (the first and
/// last halves, saying how many were left out between).
pub fn output_lines(output: &str, prefix: &str) -> Vec<String> {
    let lines: Vec<String> = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.strip_prefix(prefix).unwrap_or(l).to_string())
        .collect();
    if lines.len() <= OUTPUT_LINES {
        return lines;
    }
    let half = OUTPUT_LINES / 2;
    let mut out = lines[..half].to_vec();
    out.push(format!("… ({} lines left out)", lines.len() - 2 * half));
    out.extend_from_slice(&lines[lines.len() - half..]);
    out
}

/// How a helper that failed ended, on one line (for messages that go on
/// after it, as a grow's do): its output lines joined by `; `, or, if it
/// printed nothing, its exit status or signal.
pub fn failure_line(c: &Captured) -> String {
    use std::os::unix::process::ExitStatusExt;
    let why = output_lines(&c.output, "").join("; ");
    match (why.is_empty(), c.status.code(), c.status.signal()) {
        (false, ..) => why,
        (true, Some(code), _) => format!("exited with error code {code}"),
        (true, None, Some(s)) => format!("killed by signal {s}"),
        (true, None, None) => "failed".to_string(),
    }
}

/// The error for a helper that failed: `<what>: <how it ended>`, then its
/// output — on the same line if it is one line, else indented below.
pub fn helper_failed(what: String, status: std::process::ExitStatus, lines: &[String]) -> Error {
    use std::os::unix::process::ExitStatusExt;
    let how = match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with error code {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => "failed".to_string(),
    };
    match lines {
        [] => Error::text(what, how),
        [one] => Error::text(what, one.clone()),
        many => Error::text(what, format!("{how}:\n    {}", many.join("\n    "))),
    }
}

#[cfg(test)]
mod tests {
    use super::{failure_line, link_risk, Captured, LinkRisk};

    /// A helper that runs long is named once, and waited for to the end;
    /// one that ends in time is not named.
    #[test]
    fn a_long_helper_is_named_while_it_runs() {
        use std::path::Path;
        use std::time::Duration;
        let (tx, rx) = std::sync::mpsc::channel();
        let slow = [std::ffi::OsString::from("0.3")];
        let tx2 = tx.clone();
        let done = super::run_noticed(Path::new("/bin/sleep"), &slow, false, Duration::from_millis(50), move |t| {
            let _ = tx2.send(t);
        })
        .unwrap();
        assert!(done.status.success());
        let said: Vec<String> = rx.try_iter().collect();
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].starts_with("still waiting for /bin/sleep (pid "), "{}", said[0]);
        let quick = [std::ffi::OsString::from("0")];
        super::run_noticed(Path::new("/bin/sleep"), &quick, false, Duration::from_secs(5), move |t| {
            let _ = tx.send(t);
        })
        .unwrap();
        assert_eq!(rx.try_iter().count(), 0);
    }

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

    #[test]
    fn a_failed_helper_on_one_line() {
        use std::os::unix::process::ExitStatusExt;
        let ended = |raw: i32, output: &str| Captured {
            status: std::process::ExitStatus::from_raw(raw),
            output: output.to_string(),
        };
        assert_eq!(failure_line(&ended(1 << 8, "resize2fs 1.47\n\n  Bad magic  \n")), "resize2fs 1.47; Bad magic");
        assert_eq!(failure_line(&ended(3 << 8, "")), "exited with error code 3");
        assert_eq!(failure_line(&ended(9, "")), "killed by signal 9");
    }

    const ME: u32 = 1000;

    #[test]
    fn links_of_root_or_the_caller_in_their_unshared_directories_are_followed() {
        for link in [0, ME] {
            for dir in [0, ME] {
                for mode in [0o755, 0o700, 0o750, 0o711, 0o555] {
                    assert_eq!(link_risk(link, dir, mode, ME), None, "{link} {dir} {mode:o}");
                }
            }
        }
        // Root is the caller: only root's.
        assert_eq!(link_risk(0, 0, 0o755, 0), None);
        assert_eq!(link_risk(ME, 0, 0o755, 0), Some(LinkRisk::LinkOwner(ME)));
        assert_eq!(link_risk(0, ME, 0o755, 0), Some(LinkRisk::DirOwner(ME)));
    }

    #[test]
    fn another_owner_is_refused_whatever_the_directory() {
        for mode in [0o755, 0o1777, 0o700] {
            assert_eq!(link_risk(65534, 0, mode, ME), Some(LinkRisk::LinkOwner(65534)));
            assert_eq!(link_risk(0, 65534, mode, ME), Some(LinkRisk::DirOwner(65534)));
        }
        // The link's owner is named first.
        assert_eq!(link_risk(7, 8, 0o777, ME), Some(LinkRisk::LinkOwner(7)));
    }

    #[test]
    fn shared_writable_directories_need_the_sticky_bit() {
        assert_eq!(link_risk(0, 0, 0o775, ME), Some(LinkRisk::DirGroupWritable));
        assert_eq!(link_risk(0, 0, 0o770, ME), Some(LinkRisk::DirGroupWritable));
        assert_eq!(link_risk(ME, ME, 0o757, ME), Some(LinkRisk::DirWorldWritable));
        assert_eq!(link_risk(0, 0, 0o777, ME), Some(LinkRisk::DirWorldWritable));
        // Set-id bits on a directory change nothing.
        assert_eq!(link_risk(0, 0, 0o6777, ME), Some(LinkRisk::DirWorldWritable));
        assert_eq!(link_risk(0, 0, 0o2775, ME), Some(LinkRisk::DirGroupWritable));
        // Sticky: others may add names, not remove or replace root's or
        // the caller's (/tmp, a sticky group directory).
        for mode in [0o1777, 0o1775, 0o1770, 0o1757, 0o3777] {
            assert_eq!(link_risk(0, 0, mode, ME), None, "{mode:o}");
            assert_eq!(link_risk(ME, 0, mode, ME), None, "{mode:o}");
            assert_eq!(link_risk(65534, 0, mode, ME), Some(LinkRisk::LinkOwner(65534)), "{mode:o}");
        }
        // The file type bits of st_mode are ignored.
        assert_eq!(link_risk(0, 0, 0o040_755, ME), None);
        assert_eq!(link_risk(0, 0, 0o040_777, ME), Some(LinkRisk::DirWorldWritable));
    }

    #[test]
    fn refusals_read_as_messages() {
        let m = |r: LinkRisk| r.message("/x/l");
        assert_eq!(m(LinkRisk::LinkOwner(65534)), "/x/l is a symbolic link owned by uid 65534, not followed");
        assert_eq!(m(LinkRisk::DirOwner(5)), "/x/l is a symbolic link in a directory owned by uid 5, not followed");
        assert_eq!(
            m(LinkRisk::DirGroupWritable),
            "/x/l is a symbolic link in a group-writable directory, not followed"
        );
        assert_eq!(
            m(LinkRisk::DirWorldWritable),
            "/x/l is a symbolic link in a world-writable directory, not followed"
        );
    }
}
