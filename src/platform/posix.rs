//! What Linux and FreeBSD do alike: set up the mounted root through a
//! descriptor of it, copy a skeleton tree, wait for a device node.
//!
//! Everything is done relative to directory descriptors opened with
//! `O_NOFOLLOW`, never by re-resolving a path after the mount, so a jailed
//! root that swaps a directory for a symlink cannot redirect a chmod, chown
//! or copy onto the host (mdmfs's chmod/chown-by-path race).
use crate::error::{Error, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstat, fstatat, mkdirat, mknodat, utimensat, FileStat, Mode, SFlag, UtimensatFlags};
use nix::sys::statvfs::{fstatvfs, FsFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, Gid, Uid};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

fn own(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open/openat and is
    // owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Opens a directory without following a symlink in its last component.
pub fn open_dir_at(dir: Option<RawFd>, name: &(impl nix::NixPath + ?Sized)) -> nix::Result<OwnedFd> {
    openat(dir, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
        .map(own)
}

/// The root directory of what is mounted at `mount_point`.
pub fn open_root(mount_point: &Path) -> Result<OwnedFd> {
    open_dir_at(None, mount_point).map_err(|e| Error::sys(mount_point.display().to_string(), e))
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
    fchmod(root.as_raw_fd(), mode).map_err(|e| Error::sys(format!("chmod: {}", mount_point.display()), e))
}

/// chown of the mounted root, through its descriptor.
pub fn set_owner(root: &OwnedFd, mount_point: &Path, uid: u32, gid: u32) -> Result<()> {
    fchown(root.as_raw_fd(), Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
        .map_err(|e| Error::sys(format!("chown {} to {uid}:{gid}", mount_point.display()), e))
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
/// nodes, as `pax -rw -pe` does for mdmfs. Existing entries in the target
/// are an error (a fresh file system has none but `lost+found`).
pub fn copy_skeleton(from: &Path, root: &OwnedFd) -> Result<()> {
    let what = || format!("skel copy from {}", from.display());
    let src = open_dir_at(None, from).map_err(|e| Error::sys(what(), e))?;
    let mut links = HashMap::new();
    copy_dir(&src, root, &mut links, &mut Vec::new()).map_err(|(path, e)| {
        let shown = if path.is_empty() { from.display().to_string() } else { from.join(&path).display().to_string() };
        Error::sys(format!("skel copy: {shown}"), e)
    })?;
    // The root's own mode, owner and times come from the skeleton's top.
    let st = fstat(src.as_raw_fd()).map_err(|e| Error::sys(what(), e))?;
    apply_meta_fd(root, &st).map_err(|e| Error::sys(what(), e))
}

type CopyError = (OsString, Errno);

fn copy_dir(
    src: &OwnedFd,
    dst: &OwnedFd,
    links: &mut HashMap<(u64, u64), (OwnedFd, OsString)>,
    path: &mut Vec<OsString>,
) -> std::result::Result<(), CopyError> {
    let here = |path: &Vec<OsString>, name: &OsStr| -> OsString {
        let mut p: std::path::PathBuf = path.iter().collect();
        p.push(name);
        p.into_os_string()
    };
    let entries = read_dir_names(src).map_err(|e| (here(path, OsStr::new("")), e))?;
    for name in entries {
        let shown = here(path, &name);
        let fail = |e: Errno| (shown.clone(), e);
        let st = fstatat(Some(src.as_raw_fd()), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW).map_err(fail)?;
        let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
        #[allow(clippy::unnecessary_cast)]
        let key = (st.st_dev as u64, st.st_ino as u64);
        if kind != SFlag::S_IFDIR && st.st_nlink > 1 {
            if let Some((dir, first)) = links.get(&key) {
                linkat(
                    Some(dir.as_raw_fd()),
                    first.as_os_str(),
                    Some(dst.as_raw_fd()),
                    name.as_os_str(),
                    AtFlags::empty(),
                )
                .map_err(fail)?;
                continue;
            }
        }
        let perm = Mode::from_bits_truncate(0o700);
        match kind {
            SFlag::S_IFDIR => {
                mkdirat(Some(dst.as_raw_fd()), name.as_os_str(), perm).map_err(fail)?;
                let s = open_dir_at(Some(src.as_raw_fd()), name.as_os_str()).map_err(fail)?;
                let d = open_dir_at(Some(dst.as_raw_fd()), name.as_os_str()).map_err(fail)?;
                path.push(name.clone());
                copy_dir(&s, &d, links, path)?;
                path.pop();
                apply_meta_fd(&d, &st).map_err(fail)?;
                continue;
            }
            SFlag::S_IFREG => copy_file(src, dst, &name).map_err(fail)?,
            SFlag::S_IFLNK => {
                let target = readlinkat(Some(src.as_raw_fd()), name.as_os_str()).map_err(fail)?;
                symlinkat(target.as_os_str(), Some(dst.as_raw_fd()), name.as_os_str()).map_err(fail)?;
            }
            _ => {
                #[allow(clippy::useless_conversion)]
                let rdev = st.st_rdev.try_into().map_err(|_| fail(Errno::EOVERFLOW))?;
                mknodat(Some(dst.as_raw_fd()), name.as_os_str(), kind, perm, rdev).map_err(fail)?;
            }
        }
        apply_meta_at(dst, &name, &st, kind).map_err(fail)?;
        if kind != SFlag::S_IFDIR && st.st_nlink > 1 {
            let dir = nix::unistd::dup(dst.as_raw_fd()).map(own).map_err(fail)?;
            links.insert(key, (dir, name));
        }
    }
    Ok(())
}

/// Names in a directory, without `.` and `..`, sorted for a stable order.
fn read_dir_names(dir: &OwnedFd) -> nix::Result<Vec<OsString>> {
    let fd = open_dir_at(Some(dir.as_raw_fd()), ".")?;
    let mut d = nix::dir::Dir::from_fd(fd.as_raw_fd())?;
    std::mem::forget(fd); // Dir now owns and will close it
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
    let from =
        openat(Some(src.as_raw_fd()), name, OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
            .map(own)?;
    let to = openat(
        Some(dst.as_raw_fd()),
        name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map(own)?;
    let mut r = std::fs::File::from(from);
    let mut w = std::fs::File::from(to);
    std::io::copy(&mut r, &mut w).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    Ok(())
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
    fchown(fd.as_raw_fd(), Some(Uid::from_raw(st.st_uid)), Some(Gid::from_raw(st.st_gid)))?;
    #[allow(clippy::useless_conversion)]
    fchmod(fd.as_raw_fd(), Mode::from_bits_truncate((st.st_mode & 0o7777).try_into().unwrap_or_default()))?;
    let (a, m) = times(st);
    nix::sys::stat::futimens(fd.as_raw_fd(), &a, &m)
}

fn apply_meta_at(dir: &OwnedFd, name: &OsStr, st: &FileStat, kind: SFlag) -> nix::Result<()> {
    let d = Some(dir.as_raw_fd());
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
