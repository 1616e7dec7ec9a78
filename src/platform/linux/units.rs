//! What the kernel says about loop devices, mounts and paths, and the
//! per-unit operations the lifecycle rules ([`crate::lifecycle`]) are built
//! on, all over [`LoopSys`]:
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
//! * [`mounts`]: mountinfo read as bytes; an unreadable table is an error.
//! * [`identify`]: statx(2) of a path: its mount id and whether it is a
//!   mount root (`STATX_MNT_ID`, `STATX_ATTR_MOUNT_ROOT`, Linux 5.8), or
//!   the file's identity.
//! * [`release`] and [`detach_idle`]: the two ways a unit found this way is
//!   detached (after `-u` unmounted it; a leftover nobody uses).
//! * [`row`]: what `--list` shows of a unit (sysfs, and its status where
//!   this process may open it).
use super::loopdev::{self, LoopInfo64};
use super::mountinfo;
use super::sys::{sys_read, LoopSys};
use crate::error::{Error, Result};
use crate::mark::{self, LINUX_CAPACITY};
use crate::platform::posix;
use crate::platform::{Detached, Device, FileId, Listed, MountRec, Owner, PathKind, UnitInfo, Which};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a detach that finds the unit busy (EBUSY: a prober such as
/// udev's blkid still has it open right after an unmount) keeps trying,
/// while no mount uses the unit.
pub const BUSY_RETRY: Duration = Duration::from_secs(1);

/// How long `-u` waits, after LOOP_CLR_FD, for the last opener to let go
/// of the unit (the kernel detaches it then).
pub const RELEASE_WAIT: Duration = Duration::from_secs(5);

pub(super) const STEP: Duration = Duration::from_millis(10);

/// Loop units that may be bound ([`LoopSys::loop_units`]), whatever
/// their size: a unit another tool bound to an image while it was empty
/// exposes the image once its capacity is refreshed, so it counts.
fn candidates<S: LoopSys>(sys: &mut S) -> Result<Vec<u32>> {
    let mut units = sys.loop_units().map_err(|e| crate::error::from_io("/sys/block", &e))?;
    units.sort_unstable();
    units.dedup();
    Ok(units)
}

/// [`get`], with the status the unit was read from.
fn status<S: LoopSys>(sys: &mut S, unit: u32) -> Result<Option<(UnitInfo, LoopInfo64)>> {
    let node = loopdev::node(unit);
    let dev = match sys.open_device(unit, OFlag::O_RDONLY) {
        Ok(d) => d,
        Err(Errno::ENOENT | Errno::ENXIO | Errno::ENODEV) => return Ok(None),
        Err(e) => return Err(Error::explained(node.display().to_string(), "cannot check whose it is", e)),
    };
    let st = match sys.get_status(&dev) {
        Ok(st) => st,
        Err(Errno::ENXIO) => return Ok(None),
        Err(e) => return Err(Error::sys(format!("{}: LOOP_GET_STATUS64", node.display()), e)),
    };
    let rdev = sys.rdev(&dev).map_err(|e| Error::sys(node.display().to_string(), e))?;
    let owner = mark::decode(&st.lo_file_name, LINUX_CAPACITY).map_or(Owner::Foreign, Owner::Ours);
    let u = UnitInfo {
        device: Device { unit, path: node, read_only: st.lo_flags & loopdev::LO_FLAGS_READ_ONLY != 0 },
        rdev,
        backing: Some(st.backing()),
        backing_exact: true,
        owner,
        autoclear: st.lo_flags & loopdev::LO_FLAGS_AUTOCLEAR != 0,
    };
    Ok(Some((u, st)))
}

/// One unit, if bound. A node that cannot be opened for a reason other
/// than "not there" (no permission) is an error: its owner cannot be told.
pub fn get<S: LoopSys>(sys: &mut S, unit: u32) -> Result<Option<UnitInfo>> {
    Ok(status(sys, unit)?.map(|(u, _)| u))
}

/// The bound loop devices `which` asks for: one is read directly (by its
/// number, or for a device number by the unit sysfs names for it), every
/// one only for [`Which::All`].
pub fn some<S: LoopSys>(sys: &mut S, which: Which) -> Result<Vec<UnitInfo>> {
    let unit = match which {
        Which::All => return list(sys),
        Which::Unit(n) => n,
        Which::Device(rdev) => match sys.unit_of_rdev(rdev) {
            Some(n) => n,
            None => return Ok(Vec::new()),
        },
    };
    // The node's own device number must be the one asked for (identity by
    // what the kernel holds, not by the name sysfs gave).
    Ok(get(sys, unit)?.into_iter().filter(|u| which.matches(u)).collect())
}

/// `--list`: every bound loop device, with whether its owner could be
/// read, and its [`row`] (mounted as `mounts` say). A unit this process
/// may not open (a normal user) is described from sysfs and /dev, as
/// `losetup -l` does: bound as [`LoopSys::loop_units`] found it (its
/// `loop/backing_file`), read-only from its `ro`, its device number from
/// stat(2) of the node; its owner and mark unknown.
pub fn list_visible<S: LoopSys>(sys: &mut S, mounts: &[MountRec]) -> Result<Vec<(UnitInfo, bool, Listed)>> {
    let mut out = Vec::new();
    for n in candidates(sys)? {
        let (u, st) = match status(sys, n) {
            Ok(Some((u, st))) => (u, Some(st)),
            Ok(None) => continue,
            Err(e) if matches!(e.errno(), Some(Errno::EACCES | Errno::EPERM)) => {
                let node = loopdev::node(n);
                #[allow(clippy::unnecessary_cast)]
                let Ok(rdev) = nix::sys::stat::stat(&node).map(|st| st.st_rdev as u64) else {
                    continue;
                };
                let device = Device { unit: n, path: node, read_only: sys.disk_read_only(n) };
                let u = UnitInfo {
                    device,
                    rdev,
                    backing: None,
                    owner: Owner::Foreign,
                    autoclear: false,
                    backing_exact: true,
                };
                (u, None)
            }
            Err(e) => return Err(e),
        };
        let listed = row(sys, &u, crate::platform::mount_of(mounts, &u), st.as_ref());
        out.push((u, st.is_some(), listed));
    }
    Ok(out)
}

/// Every bound loop device.
pub fn list<S: LoopSys>(sys: &mut S) -> Result<Vec<UnitInfo>> {
    candidates(sys)?.into_iter().filter_map(|n| get(sys, n).transpose()).collect()
}

/// This namespace's mounts, in mount order, each with the device number
/// it is matched to a unit by (`btrfs_device`).
pub fn mounts<S: LoopSys>(sys: &mut S) -> Result<Vec<MountRec>> {
    let bytes = sys.mountinfo().map_err(|e| crate::error::from_io(mountinfo::PATH, &e))?;
    let mut entries =
        mountinfo::parse(&bytes).map_err(|line| Error::text(mountinfo::PATH, format!("cannot parse line {line}")))?;
    for e in &mut entries {
        e.dev = btrfs_device(sys, e);
    }
    Ok(entries)
}

/// The device number a mount is matched to a unit by: mountinfo's
/// `major:minor`. btrfs alone reports an anonymous device there (0:N, one
/// per subvolume, fs/btrfs/super.c); for it, the block device the kernel
/// names as its source (`/dev/loopN`, the device btrfs opened) is asked for
/// its `st_rdev`. Only a btrfs mount gets this, so a decoy of another type
/// named like a loop device is still matched by its own device number.
fn btrfs_device<S: LoopSys>(sys: &mut S, e: &MountRec) -> u64 {
    if libc::major(e.dev) != 0 || e.fstype != "btrfs" || !e.source.starts_with("/dev/") {
        return e.dev;
    }
    sys.statx(None, e.source.as_bytes()).ok().and_then(|st| st.rdev).unwrap_or(e.dev)
}

/// Whether `/dev/loopN` is claimed: mounted (here or in any namespace),
/// opened exclusively (an `O_EXCL` open of a block device fails with EBUSY
/// then), or held by a stacked device.
pub fn claimed<S: LoopSys>(sys: &mut S, unit: u32) -> bool {
    sys.holders(unit) > 0 || matches!(sys.open_device(unit, OFlag::O_RDONLY | OFlag::O_EXCL), Err(Errno::EBUSY))
}

/// What `path` is: a mount root (by mount id), another directory, or a
/// file. A path too long for one call is walked a directory at a time.
pub fn identify<S: LoopSys>(sys: &mut S, path: &Path) -> Result<PathKind> {
    let shown = || path.display().to_string();
    let st = match sys.statx(None, path.as_os_str().as_bytes()) {
        // A file system that shut down (XFS after an I/O error) answers EIO
        // even to a stat of its root: a mount point is then found in the
        // table by the path it is mounted on.
        Err(e) if e.errno() == Some(Errno::EIO) => {
            let abs = std::path::absolute(path).map_err(|e| crate::error::from_io(shown(), &e))?;
            let found = mounts(sys)?.into_iter().rev().find(|e| e.on == abs);
            return found.map(|e| PathKind::MountRoot(e.id)).ok_or_else(|| Error::sys(shown(), Errno::EIO));
        }
        r => r?,
    };
    if !st.is_dir {
        return Ok(PathKind::File(FileId { dev: st.dev, ino: st.ino }));
    }
    if let (Some(id), Some(root)) = (st.mnt_id, st.mount_root) {
        if root {
            return Ok(PathKind::MountRoot(id));
        }
        return Ok(PathKind::Dir(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())));
    }
    // A kernel before 5.8: the mount table by the resolved path.
    let real = std::fs::canonicalize(path).map_err(|e| crate::error::from_io(shown(), &e))?;
    let found = mounts(sys)?.into_iter().rev().find(|e| e.on == real);
    Ok(found.map_or(PathKind::Dir(real), |e| PathKind::MountRoot(e.id)))
}

fn binding<S: LoopSys>(sys: &mut S, unit: u32) -> Option<FileId> {
    let dev = sys.open_device(unit, OFlag::O_RDONLY).ok()?;
    sys.get_status(&dev).ok().map(|i| i.backing())
}

/// Makes sure `/dev/loopN`, bound to `bound` (read before its file systems
/// were unmounted), is detached: LOOP_CLR_FD if it is still bound to that
/// same file (autoclear off, or not run yet), then waits, bounded, for it
/// to be free. Once autoclear has freed the unit, another run may take the
/// number at once: a unit bound to anything else is not ours and is left
/// alone. With `force`, a device still in use (a lazily unmounted file
/// system, a process holding the node) is left to autoclear, which
/// detaches it when its last user closes it, instead of being an error.
pub fn release<S: LoopSys>(sys: &mut S, unit: u32, bound: FileId, force: bool) -> nix::Result<Detached> {
    let dev = match sys.open_device(unit, OFlag::O_RDONLY) {
        Ok(d) => d,
        Err(Errno::ENOENT | Errno::ENXIO) => return Ok(Detached::Now),
        Err(e) => return Err(e),
    };
    // While this descriptor is open the binding cannot change under us:
    // autoclear waits for the last close, and a LOOP_CLR_FD by anyone
    // else only sets autoclear.
    match sys.get_status(&dev) {
        Err(Errno::ENXIO) => return Ok(Detached::Now),
        Err(e) => return Err(e),
        Ok(i) if i.backing() != bound => return Ok(Detached::Now),
        // A remount to ro made the device read-only (BLKROSET), which the
        // kernel keeps past the detach: the next user of the unit would
        // find it read-only. Attached writable, it leaves writable.
        Ok(i) if i.lo_flags & loopdev::LO_FLAGS_READ_ONLY == 0 && sys.disk_read_only(unit) => {
            sys.set_read_only(&dev, false)?
        }
        Ok(_) => {}
    }
    match sys.clr_fd(&dev) {
        // ENXIO: autoclear got there first.
        Ok(()) | Err(Errno::ENXIO) => {}
        Err(e) => return Err(e),
    }
    drop(dev);
    let mut waited = Duration::ZERO;
    while binding(sys, unit) == Some(bound) {
        // A lazily unmounted file system still claims the device, for as
        // long as anything inside it is open: no use waiting for that.
        if force && claimed(sys, unit) {
            return Ok(Detached::OnLastClose);
        }
        if waited >= RELEASE_WAIT {
            return if force { Ok(Detached::OnLastClose) } else { Err(Errno::EBUSY) };
        }
        sys.sleep(STEP);
        waited += STEP;
    }
    Ok(Detached::Now)
}

/// Detaches a unit nobody uses (mdmfs's pre-detach; a leftover being
/// replaced). The exclusive open fails with EBUSY while it is mounted or
/// otherwise claimed; while no mount in this namespace uses it, that is
/// retried for [`BUSY_RETRY`] (a prober that opened it right after an
/// unmount lets go soon), then reported. If someone else still has it
/// open, LOOP_CLR_FD only sets autoclear: the flags are put back and the
/// unit is left to them.
pub fn detach_idle<S: LoopSys>(sys: &mut S, unit: u32) -> Result<()> {
    let node = loopdev::node(unit);
    let shown = || node.display().to_string();
    let mut waited = Duration::ZERO;
    let dev = loop {
        match sys.open_device(unit, OFlag::O_RDONLY | OFlag::O_EXCL) {
            Err(Errno::EBUSY) if waited < BUSY_RETRY && !mounted_here(sys, unit)? => {
                sys.sleep(STEP);
                waited += STEP;
            }
            r => break r.map_err(|e| Error::sys(shown(), e))?,
        }
    };
    let before = sys.get_status(&dev).map_err(|e| match e {
        Errno::ENXIO => Error::text(shown(), "not attached"),
        e => Error::sys(shown(), e),
    })?;
    if sys.holders(unit) > 0 {
        return Err(Error::explained(shown(), "held by another device", Errno::EBUSY));
    }
    sys.clr_fd(&dev).map_err(|e| Error::sys(format!("{}: LOOP_CLR_FD", node.display()), e))?;
    if sys.get_status(&dev).is_ok() {
        if before.lo_flags & loopdev::LO_FLAGS_AUTOCLEAR == 0 {
            let _ = sys.set_status(&dev, &before);
        }
        return Err(Error::explained(shown(), "open elsewhere, left attached", Errno::EBUSY));
    }
    Ok(())
}

/// Whether a mount in this namespace uses `/dev/loopN` (by device number).
fn mounted_here<S: LoopSys>(sys: &mut S, unit: u32) -> Result<bool> {
    let Some(u) = get(sys, unit)? else { return Ok(false) };
    Ok(mounts(sys)?.iter().any(|e| e.belongs_to(&u)))
}

/// The loop device's size in bytes, as the kernel has it now.
pub(super) fn disk_size(unit: u32) -> Option<u64> {
    let sectors: u64 = std::str::from_utf8(&sys_read(unit, "size")?).ok()?.trim().parse().ok()?;
    Some(sectors * 512)
}

/// `mount_md --list`: the row of bound unit `u`, mounted as `mount` says.
/// Its mark is read from `status`, the status `u` was read from; `None`
/// where this process may not open the unit (`losetup -l` reads sysfs
/// only): the mark and the backing file's identity are then unknown, the
/// rest comes from sysfs. The backing file's path may not be readable in
/// sysfs (longer than a page: ENAMETOOLONG): the unit is listed all the
/// same, its image unknown.
pub fn row<S: LoopSys>(sys: &mut S, u: &UnitInfo, mount: Option<&MountRec>, status: Option<&LoopInfo64>) -> Listed {
    let unit = u.device.unit;
    let mark = status.map(|i| i.lo_file_name.split(|&b| b == 0).next().unwrap_or_default().to_vec());
    // btrfs gives its mounts an anonymous device of their own (the table
    // was matched through its source): no device to check there.
    let usage = mount.and_then(|m| usage_of(&m.on, Some(u.rdev).filter(|_| m.fstype != "btrfs")));
    let (image, deleted) = match (sys.backing_name(unit), u.backing) {
        (Some(shown), Some(id)) => match image_path(&shown, id, None) {
            Ok(path) => (Some(path.into_os_string().into_vec()), Some(false)),
            Err(stem) => (Some(stem.into_os_string().into_vec()), Some(true)),
        },
        (shown, _) => (shown, None),
    };
    Listed {
        unit,
        device: loopdev::node(unit),
        image,
        deleted,
        size: disk_size(unit),
        usage,
        direct_io: sys_read(unit, "loop/dio").map(|d| d == b"1"),
        mark: mark.filter(|t| !t.is_empty()),
        crypt: super::crypt::layer_of(u).map(|node| ("luks2".to_string(), node)),
    }
}

/// The path of the image a unit holds (the file `id`), from the name sysfs
/// shows for it (`shown`). The kernel appends ` (deleted)` to an unlinked
/// backing file's last path (fs/d_path.c `d_path`), which a file could
/// also be named: such a name is taken only while it is the unit's file,
/// else the first of `named` (a path the caller was given), the name
/// without the suffix and its `--create` published name (link and unlink
/// where renameat2 is missing, as on FUSE) that is, by stat(2)'s device
/// and inode. `Err` with the name without the suffix: none of them is.
pub fn image_path(shown: &[u8], id: FileId, named: Option<&Path>) -> std::result::Result<PathBuf, PathBuf> {
    let as_shown = PathBuf::from(OsStr::from_bytes(shown));
    let Some(stem) = shown.strip_suffix(b" (deleted)") else { return Ok(as_shown) };
    let stem = PathBuf::from(OsStr::from_bytes(stem));
    let candidates = [Some(as_shown), named.map(Path::to_path_buf), Some(stem.clone()), posix::published_name(&stem)];
    let is_it = |p: &PathBuf| nix::sys::stat::stat(p.as_path()).is_ok_and(|st| posix::file_id(&st) == id);
    candidates.into_iter().flatten().find(is_it).ok_or(stem)
}

/// What statvfs says of the file system mounted at `mp`, if it is still
/// the one on device `rdev` when that can be told ([`posix::usage`]).
pub(super) fn usage_of(mp: &Path, rdev: Option<u64>) -> Option<crate::unit::Usage> {
    let st = nix::sys::stat::stat(mp).ok()?;
    #[allow(clippy::unnecessary_cast)]
    if rdev.is_some_and(|rdev| st.st_dev as u64 != rdev) {
        return None;
    }
    crate::platform::posix::usage(mp)
}
