//! What a backend answers for `mount_md -r` ([`crate::grow`]): the target
//! the lifecycle located, what the backend found there ([`Found`]), the
//! steps and tools of a grow, and the backend's way of doing each step
//! ([`GrowOps`]). Types only, below the backends and the core alike.
#![forbid(unsafe_code)]
use crate::error::Result;
use crate::unit::{Device, MountRec, UnitInfo};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// What `mount_md -r target` grows ([`crate::lifecycle::locate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// A unit of ours, with the mounts on it in mount order (none when it
    /// is attached but not mounted).
    Unit(UnitInfo, Vec<MountRec>),
    /// An image file no unit has attached: grown offline.
    Image(PathBuf),
}

/// A program that grows (or, first, checks) a file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `e2fsck -f -p device`: resize2fs refuses an offline resize of a
    /// file system not checked since it was last mounted.
    E2fsck,
    /// `resize2fs device`: online when mounted, offline otherwise.
    Resize2fs,
    /// `xfs_growfs mount-point`: XFS grows only while mounted.
    XfsGrowfs,
    /// `btrfs filesystem resize max mount-point`: likewise.
    BtrfsResize,
    /// `growfs -y device`: FreeBSD UFS, mounted or not.
    Growfs,
}

impl Tool {
    /// The argv, program name first (the platform finds its absolute path).
    pub fn argv(self, device: &str, mount_point: Option<&Path>) -> Vec<OsString> {
        let mp = || mount_point.map(|p| p.as_os_str().to_os_string()).unwrap_or_else(|| "<mount point>".into());
        match self {
            Tool::E2fsck => words(&["e2fsck", "-f", "-p", device]),
            Tool::Resize2fs => words(&["resize2fs", device]),
            Tool::XfsGrowfs => [words(&["xfs_growfs"]), vec![mp()]].concat(),
            Tool::BtrfsResize => [words(&["btrfs", "filesystem", "resize", "max"]), vec![mp()]].concat(),
            Tool::Growfs => words(&["growfs", "-y", device]),
        }
    }

    /// Exit codes that mean success: e2fsck's 1 is "errors corrected".
    pub fn succeeded(self, code: i32) -> bool {
        code == 0 || (self == Tool::E2fsck && code == 1)
    }
}

/// One step of a grow, in the order [`crate::grow::plan`] gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrowStep {
    /// Allocate the image's new tail, `from`..`to` bytes.
    ExtendImage { from: u64, to: u64 },
    /// Offline: attach the image as a new unit (marked, no mount point).
    Attach,
    /// Tell the kernel the disk is now `to` bytes (it was `from`).
    SetCapacity { from: u64, to: u64 },
    /// Check the file system before an offline resize.
    CheckFs(Tool),
    /// Grow the file system into the whole disk.
    GrowFs(Tool),
    /// Offline: detach the unit attached by [`GrowStep::Attach`].
    Detach,
}

/// What the platform found about the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The image, for messages.
    pub image: PathBuf,
    /// The image file's length.
    pub image_len: u64,
    /// The disk the file system sees now: the unit's size if attached,
    /// else the image's length.
    pub disk_size: u64,
    /// The unit the image is attached as, if it is.
    pub attached: Option<Attached>,
    /// The file system type (from the mount table, or read from the image).
    pub fstype: String,
    /// The file system's own size, from its superblock (read from the
    /// image, or from the disk when attached: it may lag behind a grow
    /// the kernel has not written back yet, never run ahead of it);
    /// `None` where no superblock it knows could be read.
    pub fs_size: Option<u64>,
    /// What the grower would make of the file system on a disk of a given
    /// size, from the same superblock ([`crate::superblock::growth`]);
    /// `None` where the backend cannot tell.
    pub growth: Option<crate::superblock::Growth>,
    /// Why the grower could not run here, found before anything changes
    /// (a mounted ext4 without CAP_SYS_RESOURCE): a grow that needs it is
    /// refused with this.
    pub refusal: Option<String>,
}

/// The unit a grow target is attached as: its [`Device`] (node and
/// read-only state, as the kernel reports them) and where it is mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    pub device: Device,
    /// Where it is mounted, if anywhere.
    pub mount_point: Option<PathBuf>,
}

/// Sizes must be whole 512-byte sectors: md(4) and loop(4) both count in
/// them, and a disk cut short of the asked size would be a lie.
pub const SECTOR: u64 = 512;

/// A platform's way of doing each step.
pub trait GrowOps {
    /// One line: the exact syscall or program.
    fn describe(&self, step: &GrowStep) -> String;
    fn run(&mut self, step: &GrowStep) -> Result<()>;
    /// Undo a done ExtendImage (cut the image back) or Attach (detach).
    fn undo(&mut self, step: &GrowStep) -> Result<()>;
    /// A stop signal that arrived (checked between steps).
    fn interrupted(&mut self) -> Option<&'static str>;
    /// The command that finishes `step` (a GrowFs) by hand after it failed
    /// and the image stayed larger. Called before any rollback.
    fn finish_hint(&self, step: &GrowStep) -> String {
        self.describe(step)
    }
    /// The file system's size in bytes, for the report: as `df` has it
    /// when mounted on `mounted_on` (statvfs), else as its superblock says;
    /// `None` when it cannot be told.
    fn fs_bytes(&mut self, _mounted_on: Option<&std::path::Path>) -> Option<u64> {
        None
    }
}

/// An argv from words.
pub fn words(w: &[&str]) -> Vec<OsString> {
    w.iter().map(OsString::from).collect()
}

/// `resize2fs /dev/loop3`, for describe lines and messages.
pub fn show_argv(argv: &[OsString]) -> String {
    argv.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ")
}
