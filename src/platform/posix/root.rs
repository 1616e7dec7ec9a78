//! The mounted root, through a descriptor of it (mode, owner, read-only
//! or not), and the wait for a device node to appear.
use crate::error::{Error, Result};
use nix::fcntl::{openat, OFlag, AT_FDCWD};
use nix::sys::stat::{fchmod, Mode};
use nix::sys::statvfs::{fstatvfs, FsFlags};
use nix::unistd::{fchown, Gid, Uid};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

/// What statvfs(2) says of the file system mounted at `on`: its size, the
/// bytes in use (blocks minus free blocks) and what an unprivileged writer
/// may still use (`f_bavail`), in fragment units, as `df` counts them.
pub fn usage(on: &Path) -> Option<crate::unit::Usage> {
    let v = nix::sys::statvfs::statvfs(on).ok()?;
    // The field widths differ between systems and targets.
    #[allow(clippy::unnecessary_cast)]
    let (blocks, free, avail, frag) =
        (v.blocks() as u64, v.blocks_free() as u64, v.blocks_available() as u64, v.fragment_size() as u64);
    Some(crate::unit::Usage { size: blocks * frag, used: blocks.saturating_sub(free) * frag, available: avail * frag })
}

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
