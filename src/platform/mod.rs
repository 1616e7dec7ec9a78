//! Where plans meet the system. A [`Platform`] performs one step at a time;
//! the executor decides order and rollback. Implementations:
//! * `linux`   — loop(4) devices, mount(2) (cfg `loop_backend`);
//! * `freebsd` — md(4) ioctls on /dev/mdctl, nmount(2) (cfg `md_backend`);
//! * `fake`  — records every call and can be told to fail, for tests
//!   (feature `test-support`, never in the shipped binary);
//! * [`unsupported`] — elsewhere: plans print, nothing runs.
//!
//! All `unsafe` code and every system call of the crate live below here.
use crate::error::Result;
use crate::mark::Mark;
use crate::plan::{Attach, Defaults, Format, Mount, OpenImage, Plan, Step, TmpfsMount};
use std::path::{Path, PathBuf};

pub mod describe;
pub mod extend;
#[cfg(any(test, feature = "test-support"))]
pub mod fake;
pub mod freebsd;
#[cfg(loop_backend)]
pub mod linux;
pub mod posix;
pub mod preflight;
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

/// The image a run opened: handed to the executor by
/// [`Platform::open_image`] and owned by it until the run ends, when
/// dropping it closes the descriptor and lets go of the lock.
#[derive(Debug)]
pub struct Opened<H> {
    /// As given on the command line (messages use it).
    pub path: PathBuf,
    /// fstat of the descriptor held.
    pub id: FileId,
    /// This run created it (`--create`): rollback removes it.
    pub created: bool,
    /// Why someone other than root can change its bytes
    /// ([`crate::trust::untrusted`]), or `None`: its mount then gets
    /// [`Platform::HARDENING`].
    pub untrusted: Option<String>,
    /// What the backend holds of it (descriptor and lock).
    pub handle: H,
}

/// A disk this run attached or took over, owned by the executor: the
/// device, and what the backend holds of it (on Linux the loop descriptor,
/// which keeps autoclear from tearing the device down under mkfs). Dropping
/// it at the end of the run lets go; [`Platform::detach`] consumes it.
#[derive(Debug)]
pub struct Disk<H> {
    pub device: Device,
    pub hold: H,
}

/// A file system this run mounted, owned by the executor: what was mounted
/// and its root, opened once right after the mount through the pinned
/// parent of the mount point. Mode, owner and skeleton go through `root`,
/// never the path again; [`Platform::unmount`] consumes it (closing the
/// root first, which would keep the mount busy).
#[derive(Debug)]
pub struct Mounted<R> {
    pub mount_point: PathBuf,
    /// The file system type actually mounted (after probing).
    pub fstype: String,
    /// Mounted read-only: mode and owner are then left alone.
    pub read_only: bool,
    pub root: R,
}

/// A file as the kernel knows it: `st_dev` and `st_ino` (on Linux the
/// `lo_device`/`lo_inode` of `LOOP_GET_STATUS64`, which the kernel fills
/// from the same getattr as fstat(2)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

/// Whose a unit is, by the mark in it (see [`crate::mark`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Attached by mount_md: the mark it carries.
    Ours(Mark),
    /// Attached by another tool (losetup, mount -o loop, mdconfig): never
    /// taken over, never torn down.
    Foreign,
}

impl Owner {
    pub fn is_foreign(&self) -> bool {
        matches!(self, Owner::Foreign)
    }
}

/// One attached unit, as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitInfo {
    pub device: Device,
    /// The device number of its node (`st_rdev` of `/dev/loopN`): mounts
    /// are matched to the unit by this, never by their source text.
    pub rdev: u64,
    /// The backing file, when it is one (vnode/loop units).
    pub backing: Option<FileId>,
    pub owner: Owner,
    /// Goes away by itself once its last user closes it (Linux autoclear).
    pub autoclear: bool,
}

/// One mounted file system, from the mount table read as bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountRec {
    /// The kernel's id of the mount (Linux mount id); unique in the table.
    pub id: u64,
    /// Where it is mounted, as the table shows it.
    pub on: PathBuf,
    /// The device number of the mounted file system (mountinfo
    /// `major:minor`; on FreeBSD the `rdev` of `f_mntfromname`).
    pub dev: u64,
    pub fstype: String,
    /// The source text, for messages only.
    pub source: String,
}

/// What a path given to `-u` (or a mount point) is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathKind {
    /// The root of a mount: its id in [`Platform::mounts`].
    MountRoot(u64),
    /// A directory that is not a mount root (resolved, for matching marks).
    Dir(PathBuf),
    /// Anything else: the file's identity (an image).
    File(FileId),
}

/// What releasing a unit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detached {
    /// Detached now (or it had already gone).
    Now,
    /// Forced, and still open elsewhere: the kernel detaches it when its
    /// last user closes it.
    OnLastClose,
}

/// A unit that already has the image attached (found before attaching).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub device: Device,
    /// Mounted at the mount point this run was asked to mount on.
    pub mounted_here: bool,
    /// Mounted anywhere, or held open by anyone.
    pub in_use: bool,
    /// Who attached it.
    pub owner: Owner,
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
///
/// Each method does one thing and is all-or-nothing: when it fails it has
/// undone its own partial work (or says in its error what it could not
/// undo); undoing earlier *successful* steps is the executor's job
/// ([`crate::exec`]). What a run holds between steps (the opened image,
/// the attached disk, the mounted root) is not kept in the platform: each
/// step that makes one returns it as a handle ([`Opened`], [`Disk`],
/// [`Mounted`]), the executor owns it and hands it back to the steps that
/// use it, and the undo steps consume it. The rules of the lifecycle (which
/// unit is whose, what `-u` may touch) live once in [`crate::lifecycle`],
/// over the primitives [`Platform::units`], [`Platform::mounts`],
/// [`Platform::identify`], [`Platform::unmount_at`] and
/// [`Platform::release_unit`].
pub trait Platform {
    /// What the backend holds of an opened image ([`Opened::handle`]).
    type Image;
    /// What the backend holds of an attached disk ([`Disk::hold`]).
    type Hold;
    /// A mounted root ([`Mounted::root`]).
    type Root;
    /// The mount options an image someone else can change is mounted with
    /// ([`crate::trust::harden`]): `nosuid`, and `nodev` where the system
    /// has such an option.
    const HARDENING: &'static [&'static str];

    /// Values the plan uses where the command line is silent.
    fn defaults(&self) -> Defaults;
    /// Refuses a plan this platform cannot carry out, before anything runs
    /// (also under `-N`, so a dry run says what a real run would refuse).
    /// It may remember what [`Platform::describe`] needs from the plan.
    fn check(&mut self, plan: &Plan) -> Result<()>;
    /// One line saying exactly what the step will do: the syscall or
    /// program and its arguments. `dev` is the attached device and `image`
    /// the opened image, or `None` before they exist and in a dry run.
    fn describe(&self, step: &Step, dev: Option<&Device>, image: Option<&Opened<Self::Image>>) -> String;

    /// mount.md `-N`: enter that mount namespace (Linux only).
    fn enter_namespace(&mut self, _ns: &Path) -> Result<()> {
        Err(crate::error::Error::plain("mount namespaces (mount.md -N) exist only on Linux"))
    }
    /// Opens the backing image once (creating it for `--create`), refusing
    /// symlinks in its path, locked for as long as the handle lives.
    fn open_image(&mut self, o: &OpenImage) -> Result<Opened<Self::Image>>;
    /// Removes the image this run created (rollback), consuming its handle.
    fn remove_image(&mut self, image: Opened<Self::Image>) -> Result<()>;
    /// Gives the image this run created (under a temporary name) its final
    /// name, once it has been formatted: fsync, rename without replacing.
    /// The default has nothing to rename.
    fn publish_image(&mut self, _image: &mut Opened<Self::Image>) -> Result<()> {
        Ok(())
    }
    /// Every attached unit, with what the kernel says backs it and the mark
    /// it carries. A unit that cannot be read (no permission) is an error,
    /// never left out.
    fn units(&mut self) -> Result<Vec<UnitInfo>>;
    /// Every mount of this mount namespace, in mount order. A table that
    /// cannot be read is an error, never an empty list.
    fn mounts(&mut self) -> Result<Vec<MountRec>>;
    /// Whether a unit is held open by anyone (a mount, here or in another
    /// namespace; a process; a stacked device).
    fn held(&mut self, u: &UnitInfo) -> Result<bool>;
    /// A stop signal (SIGTERM, SIGINT…) that arrived during the run, by
    /// name: the executor then undoes what the run did
    /// ([`posix::hold_stop_signals`]). The default: none ever arrives.
    fn interrupted(&mut self) -> Option<&'static str> {
        None
    }
    /// `-N`: the first `len` bytes of the image at `path` as the run would
    /// open it (for its superblock); `None` when it does not exist yet
    /// (`--create`) or this platform reads no files.
    fn image_start(&mut self, _path: &Path, _len: usize) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }
    /// Whether `u` is a memory disk (swap- or malloc-backed), not an image.
    /// The default: a unit with no backing file is one (FreeBSD's md).
    fn memory_backed(&mut self, u: &UnitInfo) -> bool {
        u.backing.is_none()
    }
    /// What `path` is (following symlinks, as umount(8) does).
    fn identify(&mut self, path: &Path) -> Result<PathKind>;
    /// unmount(2) of a mount point for `-u`; `force`: even if busy.
    fn unmount_at(&mut self, on: &Path, force: bool) -> Result<()>;
    /// Detaches `u` (found by [`Platform::units`]) if it is still bound to
    /// the same backing; EBUSY is retried for a bounded time first.
    fn release_unit(&mut self, u: &UnitInfo, force: bool) -> Result<Detached>;
    /// Waits `d` between two tries of something the kernel refused for the
    /// moment (the recording doubles and the FreeBSD model advance their
    /// own clock instead).
    fn pause(&mut self, d: std::time::Duration) {
        std::thread::sleep(d);
    }
    /// What a unit is called in messages, with its article: "a loop
    /// device", "an md(4) disk".
    fn disk_name(&self) -> &'static str;
    /// The node of unit `unit`: `/dev/loop3`, `/dev/md3`.
    fn node(&self, unit: u32) -> PathBuf;
    /// Takes over a leftover unit of ours nothing uses, if it fits `a`
    /// (backed by `image`) and its mark names `mount_point`; `None` (the
    /// default) means the caller should detach it
    /// ([`Platform::detach_leftover`]) and attach afresh.
    fn reuse(
        &mut self,
        _e: &Existing,
        _a: &Attach,
        _image: Option<&Opened<Self::Image>>,
        _mount_point: &Path,
    ) -> Result<Option<Disk<Self::Hold>>> {
        Ok(None)
    }
    /// Detaches a leftover unit of ours that nothing uses, found by
    /// [`crate::lifecycle::find_attached`], before attaching afresh.
    fn detach_leftover(&mut self, dev: &Device) -> Result<()>;
    /// Detach a fixed unit (mdmfs's pre-detach); the core calls it only
    /// for a unit that is ours. Errors are ignored by the caller.
    fn detach_unit(&mut self, unit: u32) -> Result<()>;
    /// Attaches a disk backed by `image` (the one [`Platform::open_image`]
    /// opened; `None` for swap and malloc disks), marked as mount_md's for
    /// `mount_point` (see [`crate::mark`]).
    fn attach(
        &mut self,
        a: &Attach,
        image: Option<&Opened<Self::Image>>,
        mount_point: &Path,
    ) -> Result<Disk<Self::Hold>>;
    /// Undo [`Platform::attach`] (rollback), consuming the handle.
    fn detach(&mut self, disk: Disk<Self::Hold>) -> Result<()>;
    fn wait_for_node(&mut self, disk: &Disk<Self::Hold>) -> Result<()>;
    fn format(&mut self, disk: &Disk<Self::Hold>, f: &Format) -> Result<()>;
    /// The first `len` bytes of the attached disk (fewer if it is smaller),
    /// for its superblock. The default reads nothing, so a platform that
    /// cannot read its disks sees no file system on them.
    fn read_start(&mut self, _disk: &Disk<Self::Hold>, _len: usize) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }
    /// Runs the system's checker in preen mode on `disk`, which holds `fs`
    /// (`ext4`, `ufs`): argv vector, cleared environment. `force`
    /// (`--fsck=always`) checks a file system that says it is clean too
    /// (the checker's `-f`: preen mode alone skips a clean one). Returns
    /// what ran (`e2fsck -f -p`), or `None` when this system has no checker
    /// for `fs`. A failed check's error carries the checker's own output.
    fn fsck(&mut self, _disk: &Disk<Self::Hold>, _fs: &str, _force: bool) -> Result<Option<String>> {
        Ok(None)
    }
    /// Mounts the disk and opens the new root (undoing the mount if the
    /// root cannot be opened).
    fn mount(&mut self, disk: &Disk<Self::Hold>, m: &Mount) -> Result<Mounted<Self::Root>>;
    fn mount_tmpfs(&mut self, t: &TmpfsMount) -> Result<Mounted<Self::Root>>;
    /// Undo a mount (rollback): closes its root, then unmounts.
    fn unmount(&mut self, m: Mounted<Self::Root>) -> Result<()>;
    /// chmod of the mounted root, through its descriptor.
    fn set_mode(&mut self, m: &Mounted<Self::Root>, mode: u32) -> Result<()>;
    /// chown of the mounted root, through its descriptor.
    fn set_owner(&mut self, m: &Mounted<Self::Root>, uid: u32, gid: u32) -> Result<()>;
    fn copy_skeleton(&mut self, m: &Mounted<Self::Root>, from: &Path) -> Result<()>;
    /// Warnings and debug lines gathered since the last call.
    fn take_notes(&mut self) -> Vec<Note>;

    /// `mount_md -r`: grow an image and its file system ([`crate::grow`]).
    fn grow(&mut self, req: &crate::request::GrowRequest, io: &mut crate::exec::Output<'_>) -> Result<()> {
        let _ = (req, io);
        Err(crate::error::Error::plain("growing an image (-r) is not supported on this system"))
    }
    /// `mount_md --list`: every attached unit, mount_md's own and (marked
    /// foreign) the others ([`crate::list`]).
    fn list(&mut self) -> Result<Vec<crate::list::Listed>> {
        Err(crate::error::Error::plain("--list is not supported on this system"))
    }

    /// Every check of `plan` against the real system that changes nothing
    /// ([`preflight::check`]), run before the first step and under `-N`.
    /// Platforms that touch no real files (the recording doubles) skip it.
    fn preflight(&self, _plan: &Plan) -> Result<()> {
        Ok(())
    }
}

/// The platform of the machine we run on: one cfg-gated alias per
/// backend; exactly one is compiled in.
#[cfg(loop_backend)]
pub type Native = linux::Linux;
#[cfg(md_backend)]
pub type Native = freebsd::FreeBsd<freebsd::sys::Kernel>;
#[cfg(no_backend)]
pub type Native = unsupported::Unsupported;

/// The platform of the machine we run on.
pub fn native() -> Native {
    Native::new()
}
