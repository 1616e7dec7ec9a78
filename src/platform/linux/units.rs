//! What the kernel says about loop devices and paths, for the lifecycle
//! rules in [`crate::lifecycle`]:
//!
//! * [`list`]: every bound loop device, by `LOOP_GET_STATUS64` on its node:
//!   `lo_device`/`lo_inode` are the backing file's `st_dev`/`st_ino` as the
//!   kernel holds it (linux/drivers/block/loop.c `loop_get_status`), so an
//!   attachment is found whatever path the caller sees the file by (another
//!   mount namespace, a lazily unmounted bind mount, a path longer than
//!   PATH_MAX, where `/sys/block/loopN/loop/backing_file` cannot be
//!   resolved). `lo_file_name` carries mount_md's mark ([`crate::mark`]);
//!   `st_rdev` of the node is what mountinfo's `major:minor` is compared
//!   with.
//! * [`identify`]: statx(2) of a path: its mount id and whether it is a
//!   mount root (`STATX_MNT_ID`, `STATX_ATTR_MOUNT_ROOT`, Linux 5.8), or
//!   the file's identity.
use super::loopdev;
use super::mountinfo;
use crate::error::{Error, Result};
use crate::mark::{self, LINUX_CAPACITY};
use crate::platform::{posix, Device, FileId, Owner, PathKind, UnitInfo};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use std::ffi::CString;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Loop units that may be bound. /proc/partitions lists only block devices
/// with a size, so one read finds the bound loop devices among however many
/// exist; without it, every `loopN` in /sys/block.
fn candidates() -> Result<Vec<u32>> {
    let unit_of = |name: &[u8]| {
        name.strip_prefix(b"loop").and_then(|n| std::str::from_utf8(n).ok()).and_then(|n| n.parse::<u32>().ok())
    };
    if let Ok(bytes) = std::fs::read("/proc/partitions") {
        return Ok(bytes
            .split(|&c| c == b'\n')
            .filter_map(|l| l.split(|c| c.is_ascii_whitespace()).filter(|f| !f.is_empty()).nth(3))
            .filter_map(unit_of)
            .collect());
    }
    let dir = std::fs::read_dir("/sys/block").map_err(|e| crate::error::from_io("/sys/block", &e))?;
    Ok(dir.flatten().filter_map(|e| unit_of(e.file_name().as_bytes())).collect())
}

/// What a status says about its unit.
pub fn info_of(unit: u32, rdev: u64, st: &loopdev::LoopInfo64) -> UnitInfo {
    let owner = match mark::decode(&st.lo_file_name, LINUX_CAPACITY) {
        Some(m) => Owner::Ours(m),
        None => Owner::Foreign,
    };
    UnitInfo {
        device: Device { unit, path: loopdev::node(unit), read_only: st.lo_flags & loopdev::LO_FLAGS_READ_ONLY != 0 },
        rdev,
        backing: Some(FileId { dev: st.lo_device, ino: st.lo_inode }),
        owner,
        autoclear: st.lo_flags & loopdev::LO_FLAGS_AUTOCLEAR != 0,
    }
}

/// One unit, if bound. A node that cannot be opened for a reason other
/// than "not there" (no permission) is an error: its owner cannot be told.
pub fn get(unit: u32) -> Result<Option<UnitInfo>> {
    let node = loopdev::node(unit);
    let fd = match loopdev::open_device(unit, OFlag::O_RDONLY) {
        Ok(fd) => fd,
        Err(Errno::ENOENT | Errno::ENXIO | Errno::ENODEV) => return Ok(None),
        Err(e) => return Err(Error::explained(node.display().to_string(), "cannot check whose it is", e)),
    };
    let st = match loopdev::get_status64(&fd) {
        Ok(st) => st,
        Err(Errno::ENXIO) => return Ok(None),
        Err(e) => return Err(Error::sys(format!("{}: LOOP_GET_STATUS64", node.display()), e)),
    };
    let rdev = nix::sys::stat::fstat(fd.as_raw_fd()).map_err(|e| Error::sys(node.display().to_string(), e))?.st_rdev;
    #[allow(clippy::unnecessary_cast)]
    Ok(Some(info_of(unit, rdev as u64, &st)))
}

/// Every bound loop device.
pub fn list() -> Result<Vec<UnitInfo>> {
    let mut units = candidates()?;
    units.sort_unstable();
    units.dedup();
    let mut out = Vec::new();
    for n in units {
        if let Some(u) = get(n)? {
            out.push(u);
        }
    }
    Ok(out)
}

/// Whether `/dev/loopN` is claimed: mounted (here or in any namespace),
/// opened exclusively, or held by a stacked device.
pub fn held(unit: u32) -> bool {
    loopdev::claimed(unit)
}

fn statx_at(dir: RawFd, name: &[u8], flags: libc::c_int) -> nix::Result<libc::statx> {
    let c = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: an all-zero `struct statx` is a valid value.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    let mask = libc::STATX_TYPE | libc::STATX_INO | libc::STATX_MNT_ID;
    // SAFETY: `c` is NUL-terminated and `stx` is writable; both outlive the call.
    let r = unsafe { libc::statx(dir, c.as_ptr(), flags, mask, &mut stx) };
    Errno::result(r).map(|_| stx)
}

/// statx(2) of `path`, following symlinks as umount(8) does; a path too
/// long for one call is walked a directory at a time.
fn statx_path(path: &Path) -> Result<libc::statx> {
    let shown = || path.display().to_string();
    match statx_at(libc::AT_FDCWD, path.as_os_str().as_bytes(), 0) {
        Err(Errno::ENAMETOOLONG) => {
            let (dir, name) = posix::walk_to_parent(path)?;
            statx_at(dir.as_raw_fd(), name.as_bytes(), 0).map_err(|e| Error::sys(shown(), e))
        }
        r => r.map_err(|e| Error::sys(shown(), e)),
    }
}

/// What `path` is: a mount root (by mount id), another directory, or a file.
pub fn identify(path: &Path) -> Result<PathKind> {
    let stx = statx_path(path)?;
    let is_dir = u32::from(stx.stx_mode) & libc::S_IFMT == libc::S_IFDIR;
    if !is_dir {
        let dev = libc::makedev(stx.stx_dev_major, stx.stx_dev_minor);
        return Ok(PathKind::File(FileId { dev, ino: stx.stx_ino }));
    }
    let root_attr = libc::STATX_ATTR_MOUNT_ROOT as u64;
    if stx.stx_mask & libc::STATX_MNT_ID != 0 && stx.stx_attributes_mask & root_attr != 0 {
        if stx.stx_attributes & root_attr != 0 {
            return Ok(PathKind::MountRoot(stx.stx_mnt_id));
        }
        let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        return Ok(PathKind::Dir(real));
    }
    // A kernel before 5.8: the mount table by the resolved path.
    let real = std::fs::canonicalize(path).map_err(|e| crate::error::from_io(path.display().to_string(), &e))?;
    Ok(match mountinfo::read()?.into_iter().rev().find(|e| e.target == real) {
        Some(e) => PathKind::MountRoot(e.id),
        None => PathKind::Dir(real),
    })
}
