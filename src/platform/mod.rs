//! Where plans meet the system. A [`Platform`] performs one step at a time;
//! the executor decides order and rollback. Implementations:
//! * `linux`   — loop(4) devices, mount(2) (cfg `loop_backend`);
//! * `freebsd` — md(4) ioctls on /dev/mdctl, nmount(2) (cfg `md_backend`);
//!
//! Any other system has no backend and does not compile (see `build.rs`).
use crate::error::Result;
use crate::grow_ops::{Found, GrowOps, Located};
use crate::plan::{Attach, Crypt, Defaults, Format, Mount, OpenImage, Plan, Step, TmpfsMount};
use std::path::{Path, PathBuf};

pub mod clone;
pub mod describe;
pub mod extend;
pub mod freebsd;
pub mod keyed;
#[cfg(loop_backend)]
pub mod linux;
pub mod posix;
pub mod preflight;

pub use crate::unit::{Device, FileId, Listed, MountRec, Owner, UnitInfo};

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
    /// `--from`: how this run made it from its base (a clone or a copy,
    /// and how long it took).
    pub made: Option<clone::Made>,
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
    /// The crypt layer this run opened on it (`--encrypt`): format, check
    /// and mount go through its node, and [`Platform::detach`] closes it
    /// before detaching the unit.
    pub layer: Option<Layer>,
}

impl<H> Disk<H> {
    /// The node a file system is made on, checked and mounted from: the
    /// crypt layer's, else the unit's.
    pub fn top(&self) -> &Path {
        self.layer.as_ref().map_or(&self.device.path, |l| &l.node)
    }
}

/// An open crypt layer: a dm-crypt target (`/dev/mapper/mount_md-…`) or a
/// geli provider (`/dev/md3.eli`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub scheme: crate::crypt::Scheme,
    pub node: PathBuf,
}

/// A file system this run mounted, owned by the executor: what was mounted
/// and its root, opened once right after the mount through the pinned
/// parent of the mount point. Mode, owner and skeleton go through `root`,
/// never the path again; [`Platform::unmount`] consumes it (closing the
/// root first, which would keep the mount busy).
#[derive(Debug)]
pub struct Mounted<R> {
    pub mount_point: PathBuf,
    /// Mounted read-only: mode and owner are then left alone.
    pub read_only: bool,
    pub root: R,
}

/// Which units [`Platform::units`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Every attached unit (is this image attached anywhere?).
    All,
    /// The unit with this number, if attached.
    Unit(u32),
    /// The unit whose node has this device number (a mount's `dev`), if
    /// it is one.
    Device(u64),
}

impl Which {
    /// Whether `u` is one that was asked for.
    pub fn matches(self, u: &UnitInfo) -> bool {
        self.matches_unit(u.device.unit, u.rdev)
    }

    /// Whether the unit numbered `unit`, whose node is `rdev`, is one that
    /// was asked for.
    pub fn matches_unit(self, unit: u32, rdev: u64) -> bool {
        match self {
            Which::All => true,
            Which::Unit(n) => unit == n,
            Which::Device(d) => rdev == d,
        }
    }
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

/// The image lock `-u` holds while it releases a unit
/// ([`Platform::lock_image_of`]); dropping it lets go.
pub struct ImageLock {
    /// The lock had to be waited for: what was read before may be stale.
    pub waited: bool,
    /// What holds the lock (a descriptor; the FreeBSD model's handle).
    pub guard: Box<dyn std::any::Any>,
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

/// What [`Platform::unit_is`] is asked about a unit: a question, not a
/// description of one (that is [`UnitInfo`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitState {
    /// Held open by anyone (a mount anywhere, a process, a stacked device).
    Held,
    /// A memory disk (swap- or malloc-backed, or Linux's memfd), not an
    /// image.
    MemoryBacked,
}

/// Where [`Platform::read_start`] reads.
#[derive(Debug)]
pub enum Head<'a, H> {
    /// The attached disk.
    Disk(&'a Disk<H>),
    /// `-N`: the image at this path, as the run would open it.
    Image(&'a Path),
}

/// What [`Platform::unmount`] unmounts.
#[derive(Debug)]
pub enum UnmountOf<'a, R> {
    /// A mount this run made: rollback.
    Made(Mounted<R>),
    /// A mount found by [`Platform::mounts`] (`-u`); `true`: even if busy.
    Found(&'a MountRec, bool),
}

/// What a leftover unit must fit to be taken over by [`Platform::reuse`]:
/// the attach this run would make, backed by `image`, its mark naming
/// `mount_point`.
#[derive(Debug, Clone, Copy)]
pub struct Fit<'a, I> {
    pub attach: &'a Attach,
    pub image: Option<&'a Opened<I>>,
    pub mount_point: &'a Path,
}

/// What [`Platform::grow`] looks at.
#[derive(Debug)]
pub enum GrowOf<'a, H, I> {
    /// `mount_md -r`: the target the lifecycle located
    /// ([`crate::lifecycle::locate`]), the path the command line named if
    /// it named one, and the size asked for.
    Target { target: &'a Located, named: Option<&'a Path>, size: u64 },
    /// `--create --from=BASE -s size`: the image this run made from its
    /// base (not yet published), attached by this run as `disk` and not
    /// mounted; `mount_point` is the run's, for a file system that grows
    /// only while mounted (mounted where nobody else sees it, for the grow
    /// only).
    Made { disk: &'a Disk<H>, image: &'a Opened<I>, mount_point: &'a Path },
}

/// What [`Platform::disk`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskNow {
    /// Read-only now (a remount's `ro` may have made it so since the
    /// attach).
    pub read_only: bool,
    /// Its size in bytes; `None`: could not be read.
    pub size: Option<u64>,
}

/// The mount of unit `u` that `--list` shows: the first in `mounts` that
/// [belongs to](MountRec::belongs_to) it.
pub fn mount_of<'m>(mounts: &'m [MountRec], u: &UnitInfo) -> Option<&'m MountRec> {
    mounts.iter().find(|m| m.belongs_to(u))
}

/// What [`Platform::mount`] mounts.
#[derive(Debug)]
pub enum MountOf<'a, H> {
    Disk(&'a Disk<H>, &'a Mount),
    Tmpfs(&'a TmpfsMount),
}

/// What [`Platform::helper`] runs.
#[derive(Debug, Clone, Copy)]
pub enum Helper<'a> {
    Format(&'a Format),
    /// The checker for this file system type; forced (`--fsck=always`):
    /// also when the file system says it is clean (the checker's `-f`,
    /// without which preen mode skips a clean one).
    Fsck(&'a str, bool),
    /// The tool that gives a copy of a base image's file system an
    /// identity of its own ([`crate::template::new_identity`]), for the
    /// file system whose first bytes these are.
    NewIdentity(&'a [u8]),
    /// `--encrypt --create` on an image this run created: write the crypt
    /// header on the unit (cryptsetup luksFormat, geli init).
    CryptHeader(&'a Crypt),
    /// Open the crypt layer on the unit; answers the layer's node.
    CryptOpen(&'a Crypt),
}

/// What [`Platform::set_root`] changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootAttr {
    Mode(u32),
    Owner(u32, u32),
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
/// [`Platform::identify`], [`Platform::unmount`] and
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
    /// How `-N` names this system's disks, formatters and checkers
    /// ([`crate::plan::words`]).
    const WORDS: crate::plan::words::Vocabulary;

    /// Values the plan uses where the command line is silent.
    const DEFAULTS: Defaults;
    /// What a unit is called in messages, with its article: "a loop
    /// device", "an md(4) disk".
    const DISK_NAME: &'static str;
    /// The command that detaches unit N by hand, without N: `losetup -d
    /// /dev/loop`, `mdconfig -d -u ` (said for another tool's unit).
    const DETACH_BY_HAND: &'static str;
    /// The node of unit N is this followed by N: `/dev/loop`, `/dev/md`.
    const NODE_PREFIX: &'static str;

    /// Refuses a plan this platform cannot carry out, before anything runs
    /// (the same under `-N`, as part of [`crate::check::check`]): first
    /// what this system cannot do at all, known from the plan alone
    /// (marked [`crate::error::Error::as_unsupported`]), then what its
    /// files say ([`preflight::check`] where they are real; the recording
    /// doubles skip it). It may remember what [`Describe::describe`] needs
    /// from the plan.
    fn check(&mut self, plan: &Plan) -> Result<()>;

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
    fn publish_image(&mut self, image: &mut Opened<Self::Image>) -> Result<()>;
    /// The attached units `which` asks for (every one, or the one a number
    /// or device number names), each with what the kernel says backs it
    /// and the mark it carries. A unit that cannot be read (no permission)
    /// is an error, never left out. Asking for one unit costs what one
    /// unit costs where the kernel can name it directly.
    fn units(&mut self, which: Which) -> Result<Vec<UnitInfo>>;
    /// Every mount of this mount namespace, in mount order. A table that
    /// cannot be read is an error, never an empty list.
    fn mounts(&mut self) -> Result<Vec<MountRec>>;
    /// What `path` is (following symlinks, as umount(8) does).
    fn identify(&mut self, path: &Path) -> Result<PathKind>;
    /// Takes the lock a mount and `-r` take on the image `u` holds, for as
    /// long as the answer lives, waiting for it as they do (bounded, saying
    /// for what): `-u` holds it while it unmounts and detaches, so that a
    /// mount or a `-r` of the same image never runs beside it. `None` where
    /// the unit's file has no name to open it by (a memory disk, a deleted
    /// or replaced image): nothing else can lock it by a name either.
    fn lock_image_of(&mut self, u: &UnitInfo) -> Result<Option<ImageLock>>;
    /// What lets go of a busy root by itself, and how long `-u` waits for
    /// it after the second of retries every busy unmount gets: FreeBSD's
    /// dying jail. `None`: a busy root stays busy.
    const BUSY_ROOT: Option<(std::time::Duration, &'static str)> = None;
    /// Detaches `u` (found by [`Platform::units`]) if it is still bound to
    /// the same backing; EBUSY is retried for a bounded time first.
    fn release_unit(&mut self, u: &UnitInfo, force: bool) -> Result<Detached>;
    /// Waits `d` (not at all when it is zero) between two tries of
    /// something the kernel refused for the moment, and answers a stop
    /// signal (SIGTERM, SIGINT…) that arrived during the run, by name: the
    /// executor then undoes what the run did
    /// ([`posix::hold_stop_signals`]). The recording doubles and the
    /// FreeBSD model advance their own clock instead of sleeping.
    fn pause(&mut self, d: std::time::Duration) -> Option<&'static str>;
    /// An idle unit of ours (the core asks only about one whose mark is
    /// mount_md's and that nothing uses): taken over if `fit` is given
    /// and it fits ([`Fit`]), or else detached (`None`), so that the
    /// caller attaches afresh. Without `fit`: mdmfs's pre-detach of a
    /// fixed unit, or a stale leftover holding another file.
    fn reuse(&mut self, unit: &Device, fit: Option<Fit<'_, Self::Image>>) -> Result<Option<Disk<Self::Hold>>>;
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
    /// What the backend sees of unit `u` beyond the enumeration, asked
    /// one question at a time (each costs system calls of its own).
    fn unit_is(&mut self, u: &UnitInfo, what: UnitState) -> Result<bool>;
    /// The first `len` bytes (fewer if it is smaller) of the attached disk,
    /// or under `-N` of the image at a path as the run would open it, for
    /// its superblock; `None` when the image does not exist yet
    /// (`--create`).
    fn read_start(&mut self, from: Head<'_, Self::Hold>, len: usize) -> Result<Option<Vec<u8>>>;
    /// Runs a helper on `disk` (argv vector, cleared environment): the
    /// formatter, or the system's checker in preen mode for the file system
    /// it holds (`ext4`, `ufs`), with `-f` when forced, which returns what
    /// ran (`e2fsck -f -p`), or `None` when this system has none for it. A
    /// failed helper's error carries its own output.
    fn helper(&mut self, disk: &Disk<Self::Hold>, job: Helper<'_>) -> Result<Option<String>>;
    /// Mounts the disk (or a tmpfs) and opens the new root (undoing the
    /// mount if the root cannot be opened).
    fn mount(&mut self, what: MountOf<'_, Self::Hold>) -> Result<Mounted<Self::Root>>;
    /// unmount(2): a mount this run made (rollback; its root is closed
    /// first), or one [`Platform::mounts`] found (`-u`).
    fn unmount(&mut self, what: UnmountOf<'_, Self::Root>) -> Result<()>;
    /// chmod or chown of the mounted root, through its descriptor.
    fn set_root(&mut self, m: &Mounted<Self::Root>, attr: RootAttr) -> Result<()>;
    fn copy_skeleton(&mut self, m: &Mounted<Self::Root>, from: &Path) -> Result<()>;
    /// The file system mounted at `mount_point` (one the lifecycle found
    /// already mounted from this image), if a skeleton copy into it did not
    /// finish (`posix::UNFINISHED` in its root): the next run finishes it.
    fn unfinished_copy(&mut self, mount_point: &Path) -> Result<Option<Mounted<Self::Root>>>;
    /// Warnings and debug lines gathered since the last call.
    fn take_notes(&mut self) -> Vec<Note>;

    /// What this system finds at a target to grow and its way of doing
    /// each step of the grow ([`crate::grow`]): `mount_md -r`'s target, or
    /// an image this run made from its base ([`GrowOf`]).
    fn grow<'a>(&'a mut self, of: GrowOf<'a, Self::Hold, Self::Image>) -> Result<(Found, Box<dyn GrowOps + 'a>)>;
    /// The system can make an attached disk read-only and writable again
    /// (a remount's `ro` then covers the disk too).
    const DISK_RO_SETTABLE: bool = false;
    /// The disk of unit `u` now ([`DiskNow`]), made read-only (`true`) or
    /// writable (`false`) first when `set` says so
    /// ([`Platform::DISK_RO_SETTABLE`]): `-o remount` reads and sets it,
    /// and `-u` leaves a disk attached writable writable again.
    fn disk(&mut self, u: &UnitInfo, set: Option<bool>) -> Result<DiskNow>;
    /// `-o remount`: the mount `m` of unit `u` takes `options` (the
    /// mount's own, then those asked for; later ones win).
    fn remount(&mut self, u: &UnitInfo, m: &MountRec, options: &[String]) -> Result<()>;
    /// `mount_md --list`: every attached unit (as a normal user, also
    /// those it can only see, whose owner is then unknown: `false`), each
    /// with what the backend reads of it given `mounts` ([`Platform::mounts`];
    /// the unit's is the first of its device, [`mount_of`]). A unit that
    /// went away meanwhile is left out ([`crate::list::collect`]).
    fn list(&mut self, mounts: &[MountRec]) -> Result<Vec<(UnitInfo, bool, Listed)>>;
}

/// How a platform says what a step will do, for `-N` and `-X`: kept apart
/// from [`Platform`], which does the steps.
pub trait Describe: Platform {
    /// One line saying exactly what the step will do: the syscall or
    /// program and its arguments. `dev` is the attached device and `image`
    /// the opened image, or `None` before they exist and in a dry run.
    fn describe(&self, step: &Step, dev: Option<&Device>, image: Option<&Opened<Self::Image>>) -> String;
}

/// The node of unit `unit` on platform `P`: `/dev/loop3`, `/dev/md3`.
pub fn node<P: Platform + ?Sized>(unit: u32) -> PathBuf {
    PathBuf::from(format!("{}{unit}", P::NODE_PREFIX))
}
