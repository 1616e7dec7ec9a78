//! `-k skel`: copying a skeleton tree into the mounted root, relative to
//! directory descriptors opened with `O_NOFOLLOW`, never by path.
use super::*;
use crate::error::{Error, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstat, fstatat, mkdirat, mknodat, utimensat, FileStat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, Gid, Uid};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

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
    super::progress::begin(&format!("copying {}", crate::error::quoted(from)), None);
    let copied = copy_tree(src, dst, root);
    super::progress::end();
    copied.map_err(|(path, e)| {
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

/// Before anything changes (the check, `-N` alike): the skeleton
/// `from` opens and does not contain the mount point, so that the run
/// never mounts (and changes the image's superblock) only to refuse the
/// copy. A mount point that cannot be opened is left to the mount step.
pub fn check_skeleton(from: &Path, mount_point: &Path) -> Result<()> {
    let src = open_skeleton(from)?;
    let st = fstat(&src).map_err(|e| Error::sys(format!("skel copy from {}", crate::error::quoted(from)), e))?;
    open_dir_walked(mount_point).map_or(Ok(()), |(dir, _)| refuse_containing(from, &st, &dir))
}

/// Opens the skeleton directory `from` as the image is opened: walked a
/// component at a time, a symlink (the last one included, as `chdir` in
/// mdmfs follows it) followed only when nobody but root or the caller can
/// change it.
pub fn open_skeleton(from: &Path) -> Result<OwnedFd> {
    open_dir_walked(from)
        .map(|(dir, _)| dir)
        .map_err(|e| Error { what: format!("skel copy from {}", crate::error::quoted(from)), ..e })
}

/// Whether the directory `st` describes is `dir` or one of its ancestors
/// (walking up through `..` to the root, by device and inode).
fn is_ancestor(st: &FileStat, dir: &OwnedFd) -> nix::Result<bool> {
    let mut cur = nix::unistd::dup(dir)?;
    // Deeper than this no real path goes (PATH_MAX / 2).
    for _ in 0..2048 {
        let here = fstat(&cur)?;
        if file_id(&here) == file_id(st) {
            return Ok(true);
        }
        let up = open_dir_at(&cur, "..")?;
        let parent = fstat(&up)?;
        if file_id(&parent) == file_id(&here) {
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

type CopyError = (std::path::PathBuf, CopyFault);

/// One directory being copied: what is left of its entries, and what the
/// walk needs to come back to it.
struct Frame {
    names: std::vec::IntoIter<OsString>,
    /// Relative to the skeleton (and to the target root).
    path: std::path::PathBuf,
    /// Device and inode of the source and target directory, to check that
    /// `..` leads back to them.
    src_id: crate::platform::FileId,
    dst_id: crate::platform::FileId,
    /// The source directory's metadata, applied once it is filled (the
    /// root's is applied by the caller).
    meta: Option<FileStat>,
}

fn copy_tree(mut src: OwnedFd, mut dst: OwnedFd, root: &OwnedFd) -> std::result::Result<(), CopyError> {
    let top = |e: Errno| (std::path::PathBuf::new(), CopyFault::Errno(e));
    let root_id = file_id(&fstat(root).map_err(top)?);
    // Files with more than one link: where the first copy went, relative
    // to the target root.
    let mut links: HashMap<crate::platform::FileId, std::path::PathBuf> = HashMap::new();
    let mut stack = vec![Frame {
        names: read_dir_names(&src).map_err(top)?.into_iter(),
        path: std::path::PathBuf::new(),
        src_id: file_id(&fstat(&src).map_err(top)?),
        dst_id: root_id,
        meta: None,
    }];
    while let Some(frame) = stack.last_mut() {
        if pending_stop().is_some() {
            return Err((frame.path.clone(), CopyFault::Text("interrupted")));
        }
        let Some(name) = frame.names.next() else {
            let done = stack.pop().expect("a frame");
            let fail = |e: Errno| (done.path.clone(), CopyFault::Errno(e));
            if let Some(st) = &done.meta {
                apply_meta_fd(&dst, st).map_err(fail)?;
            }
            let Some(parent) = stack.last() else { break };
            // Back up one level, checking `..` is where we came from.
            src = open_dir_at(&src, "..").map_err(fail)?;
            dst = open_dir_at(&dst, "..").map_err(fail)?;
            let back = (file_id(&fstat(&src).map_err(fail)?), file_id(&fstat(&dst).map_err(fail)?));
            if back != (parent.src_id, parent.dst_id) {
                return Err((done.path.clone(), CopyFault::Text("moved while it was being copied")));
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
        let key = file_id(&st);
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
        let linked = kind != SFlag::S_IFDIR && st.st_nlink > 1;
        if let Some(first) = links.get(&key).filter(|_| linked) {
            linkat(root, first.as_os_str(), &dst, name.as_os_str(), AtFlags::empty()).map_err(fail)?;
            continue;
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
                let dst_id = file_id(&fstat(&d).map_err(fail)?);
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
        if linked {
            links.insert(key, rel);
        }
    }
    Ok(())
}

/// Names in a directory, without `.` and `..`, sorted for a stable order.
fn read_dir_names(dir: &OwnedFd) -> nix::Result<Vec<OsString>> {
    let mut d = nix::dir::Dir::from_fd(open_dir_at(dir, ".")?)?;
    let entries = d.iter().map(|entry| entry.map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string()));
    let mut names: Vec<OsString> = entries.collect::<nix::Result<_>>()?;
    names.retain(|n| n != "." && n != "..");
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
                let pos = crate::platform::extend::off(at + done as u64)?;
                done += nix::sys::uio::pwrite(to, &chunk[done..], pos)?;
            }
        }
        at += n as u64;
        super::progress::add(n as u64);
    }
    nix::unistd::ftruncate(to, crate::platform::extend::off(at)?)
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
    fchmod(fd, Mode::from_bits_truncate(st.st_mode & 0o7777))?;
    let (a, m) = times(st);
    nix::sys::stat::futimens(fd, &a, &m)
}

fn apply_meta_at(dir: &OwnedFd, name: &OsStr, st: &FileStat, kind: SFlag) -> nix::Result<()> {
    fchownat(dir, name, Some(Uid::from_raw(st.st_uid)), Some(Gid::from_raw(st.st_gid)), AtFlags::AT_SYMLINK_NOFOLLOW)?;
    if kind != SFlag::S_IFLNK {
        // fchmodat has no portable no-follow flag, but this entry is one we
        // just created ourselves and it is not a symlink.
        let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
        nix::sys::stat::fchmodat(dir, name, mode, nix::sys::stat::FchmodatFlags::FollowSymlink)?;
    }
    let (a, m) = times(st);
    utimensat(dir, name, &a, &m, UtimensatFlags::NoFollowSymlink)
}
