//! Where plans meet the system. A [`Platform`] performs one step at a time;
//! the executor decides order and rollback. Implementations:
//! * `linux`   — loop(4) devices, mount(2) (cfg `loop_backend`);
//! * `freebsd` — md(4) ioctls on /dev/mdctl, nmount(2) (cfg `md_backend`);
//! * [`fake`]  — records every call and can be told to fail, for tests;
//! * [`unsupported`] — elsewhere: plans print, nothing runs.
//!
//! All `unsafe` code and every system call of the crate live below here.
use crate::error::Result;
use crate::plan::{Attach, Defaults, Format, Mount, OpenImage, Plan, Step, TmpfsMount};
use crate::request::ReleaseTarget;
use std::path::{Path, PathBuf};

pub mod describe;
pub mod fake;
pub mod freebsd;
pub mod host;
#[cfg(loop_backend)]
pub mod linux;
pub mod posix;
pub mod unsupported;

/// An attached disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// md or loop unit number.
    pub unit: u32,
    /// `/dev/md3`, `/dev/loop7`.
    pub path: PathBuf,
    /// Attached read-only (asked for, or the image was not writable).
    pub read_only: bool,
}

/// A mounted file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mounted {
    pub mount_point: PathBuf,
    /// The file system type actually mounted (after probing).
    pub fstype: String,
    /// Mounted read-only: mode and owner are then left alone.
    pub read_only: bool,
}

/// A unit that already has the image attached (found before attaching).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub device: Device,
    /// Mounted at the mount point this run was asked to mount on.
    pub mounted_here: bool,
    /// Mounted anywhere, or held open by anyone.
    pub in_use: bool,
}

/// What `mount_md -u` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Released {
    pub unmounted: Vec<PathBuf>,
    pub detached: Vec<Device>,
}

/// Something a platform wants the user to know, printed by the executor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// Always printed: `<prog>: <text>`.
    Warning(String),
    /// Printed under `-X`: `DEBUG: <text>`.
    Debug(String),
}

/// One operating system's way of doing each step.
pub trait Platform {
    /// Values the plan uses where the command line is silent.
    fn defaults(&self) -> Defaults;
    /// Refuses a plan this platform cannot carry out, before anything runs
    /// (also under `-N`, so a dry run says what a real run would refuse).
    fn check(&self, plan: &Plan) -> Result<()>;
    /// One line saying exactly what the step will do: the syscall or
    /// program and its arguments. `dev` is the attached device, or `None`
    /// before attach and in a dry run.
    fn describe(&self, step: &Step, dev: Option<&Device>) -> String;

    fn enter_namespace(&mut self, ns: &Path) -> Result<()>;
    /// Opens the backing image once (creating it for `--create`), refusing
    /// symlinks in its path, and holds it locked until the run ends.
    /// Returns whether this run created it.
    fn open_image(&mut self, o: &OpenImage) -> Result<bool>;
    /// Removes the image this run created (rollback).
    fn remove_image(&mut self) -> Result<()>;
    /// Gives the image this run created (under a temporary name) its final
    /// name, once it has been formatted: fsync, rename without replacing.
    /// The default has nothing to rename.
    fn publish_image(&mut self) -> Result<()> {
        Ok(())
    }
    /// Units already backed by the opened image (same device and inode).
    fn find_attached(&mut self, mount_point: &Path) -> Result<Vec<Existing>>;
    /// Takes over a leftover unit nothing uses, if it fits `a`; `None`
    /// means the caller should detach it and attach afresh.
    fn reuse(&mut self, e: &Existing, a: &Attach) -> Result<Option<Device>>;
    /// `mount_md -u`: unmount what is mounted from our unit, detach it.
    fn release(&mut self, target: &ReleaseTarget, force: bool) -> Result<Released>;
    /// Detach a fixed unit (mdmfs's pre-detach). Errors are ignored by the
    /// caller.
    fn detach_unit(&mut self, unit: u32) -> Result<()>;
    fn attach(&mut self, a: &Attach) -> Result<Device>;
    /// Undo [`Platform::attach`] (rollback).
    fn detach(&mut self, dev: &Device) -> Result<()>;
    fn wait_for_node(&mut self, dev: &Device) -> Result<()>;
    fn format(&mut self, dev: &Device, f: &Format) -> Result<()>;
    /// The first `len` bytes of the attached disk (fewer if it is smaller),
    /// for its superblock. The default reads nothing, so a platform that
    /// cannot read its disks sees no file system on them.
    fn read_start(&mut self, _dev: &Device, _len: usize) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }
    /// Runs the system's checker in preen mode on `dev`, which holds `fs`
    /// (`ext4`, `ufs`): argv vector, cleared environment. Returns the
    /// checker's name, or `None` when this system has no checker for `fs`.
    /// A failed check's error carries the checker's own output.
    fn fsck(&mut self, _dev: &Device, _fs: &str) -> Result<Option<String>> {
        Ok(None)
    }
    fn mount(&mut self, dev: &Device, m: &Mount) -> Result<Mounted>;
    fn mount_tmpfs(&mut self, t: &TmpfsMount) -> Result<Mounted>;
    /// Undo a mount (rollback).
    fn unmount(&mut self, m: &Mounted) -> Result<()>;
    /// chmod of the mounted root, through a descriptor of it.
    fn set_mode(&mut self, m: &Mounted, mode: u32) -> Result<()>;
    /// chown of the mounted root, through a descriptor of it.
    fn set_owner(&mut self, m: &Mounted, uid: u32, gid: u32) -> Result<()>;
    fn copy_skeleton(&mut self, m: &Mounted, from: &Path) -> Result<()>;
    /// Called once after every step succeeded: release what was held only
    /// for the duration of the run (the Linux loop fd).
    fn finish(&mut self) {}
    /// Warnings and debug lines gathered since the last call.
    fn take_notes(&mut self) -> Vec<Note>;
}

/// The platform of the machine we run on.
///
/// One cfg-gated arm per backend; exactly one is compiled in.
pub fn native() -> Box<dyn Platform> {
    #[cfg(loop_backend)]
    return Box::new(linux::Linux::new());
    #[cfg(md_backend)]
    return Box::new(freebsd::FreeBsd::new());
    #[cfg(no_backend)]
    return Box::new(unsupported::Unsupported::new());
}
