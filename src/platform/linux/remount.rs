//! `-o remount` on Linux ([`crate::remount`]): `mount(2)` with
//! `MS_REMOUNT` (fs/namespace.c `do_remount`: the file system's flags and,
//! without `MS_BIND`, the mount's own too) and `BLKROSET` on the loop device (block/ioctl.c `blkdev_roset`).
use super::sys::LoopSys;
use super::{loopdev, mount};
use crate::error::{Error, Result};
use crate::platform::{MountRec, UnitInfo};
use nix::fcntl::OFlag;
use nix::mount::MsFlags;

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
