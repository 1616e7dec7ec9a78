//! `-o remount` on Linux ([`crate::remount`]): the mount's own options from
//! mountinfo, the loop device's read-only state and size from sysfs,
//! `mount(2)` with `MS_REMOUNT` (fs/namespace.c `do_remount`: the file
//! system's flags and, without `MS_BIND`, the mount's own too) and
//! `BLKROSET` on the loop device (block/ioctl.c `blkdev_roset`).
use super::grow::disk_size;
use super::sys::LoopSys;
use super::{loopdev, mount, mountinfo, units};
use crate::error::{Error, Result};
use crate::platform::{MountRec, UnitInfo};
use nix::fcntl::OFlag;
use nix::mount::MsFlags;

/// The mount's options and read-only state (mountinfo's per-mount
/// options), the disk's read-only state and size (sysfs `ro`, `size`).
pub fn facts<S: LoopSys>(sys: &mut S, u: &UnitInfo, m: &MountRec) -> Result<crate::remount::Facts> {
    let unit = u.device.unit;
    let entries = units::mounts(sys)?;
    let e: &mountinfo::Entry = entries
        .iter()
        .find(|e| e.id == m.id)
        .ok_or_else(|| Error::text(crate::error::quoted(&m.on), "mount vanished from the mount table"))?;
    let options: Vec<String> = e.options.split(',').filter(|o| !o.is_empty()).map(str::to_string).collect();
    let read_only = options.iter().any(|o| o == "ro");
    let disk_read_only = sys.disk_read_only(unit);
    let disk_size = disk_size(unit)
        .ok_or_else(|| Error::text(u.device.path.display().to_string(), "cannot read its size from /sys/block"))?;
    Ok(crate::remount::Facts { options, read_only, disk_read_only, disk_size })
}

/// mount(2) with `MS_REMOUNT` on the mount point the table shows, through
/// the same pinned, symlink-checked path a mount takes.
pub fn remount<S: LoopSys>(sys: &mut S, u: &UnitInfo, m: &MountRec, options: &[String]) -> Result<()> {
    let split = mount::split(options);
    super::steps::do_mount(
        sys,
        &u.device.path.display().to_string(),
        &m.on,
        &m.fstype,
        split.flags | MsFlags::MS_REMOUNT,
        &split.data_string(),
    )
    .map(drop)
}

/// BLKROSET on `/dev/loopN`.
pub fn set_read_only<S: LoopSys>(sys: &mut S, u: &UnitInfo, read_only: bool) -> Result<()> {
    let node = loopdev::node(u.device.unit);
    let what = || format!("{}: BLKROSET", node.display());
    let dev = sys.open_device(u.device.unit, OFlag::O_RDONLY).map_err(|e| Error::sys(what(), e))?;
    sys.set_read_only(&dev, read_only).map_err(|e| Error::sys(what(), e))
}
