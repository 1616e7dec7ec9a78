//! The validated request: everything the command line asked for, typed and
//! checked, in one value that does not say which dialect it came from.
#![forbid(unsafe_code)]
use crate::device::DeviceArg;
use std::path::PathBuf;

/// What backs the disk (mdconfig's `-t`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backing {
    /// Default: swap-backed md(4).
    Swap,
    /// `-M`: malloc-backed, reserved.
    Malloc,
    /// `-F file`: vnode-backed by an image file.
    Vnode(PathBuf),
}

/// One newfs option, in command-line order. `letter` is the mdmfs letter
/// (what the user typed, used in messages); the FreeBSD request builder's
/// `newfs_argv` says what newfs sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewfsOpt {
    pub letter: char,
    pub value: Option<String>,
}

/// `--create`: how to make a missing image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateMode {
    /// Every block allocated up front (fallocate on Linux, posix_fallocate on
    /// FreeBSD, or zeros written), as `dd if=/dev/zero` gave the 2006
    /// article: the space the image promises is there where blocks, once
    /// allocated, stay the file's. Refused on ZFS, where no reservation
    /// inside a file holds (`posix::NO_RESERVE_ON_ZFS`).
    Reserve,
    /// A sparse file: instant, but the host may run out under the image.
    Sparse,
}

pub use crate::superblock::FsckPolicy;

/// `-p` (or compat mode's implied 01777).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModeSetting {
    pub mode: u32,
    /// Given with `-p`, not implied: a read-only mount then warns.
    pub explicit: bool,
}

/// A request ready to be planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub device: DeviceArg,
    pub mount_point: PathBuf,
    pub backing: Backing,
    /// `-s`, in bytes.
    pub size: Option<u64>,
    /// What a bare `-s` number means in bytes, said once with `--create`
    /// ([`crate::size::sectors_note`]).
    pub size_note: Option<String>,
    /// false with `-P`.
    pub newfs: bool,
    pub newfs_options: Vec<NewfsOpt>,
    /// `-U` (default) / `-S`.
    pub soft_updates: bool,
    /// `-l`: multilabel; also keeps `auto` off tmpfs.
    pub multilabel: bool,
    /// `-o`, split at commas, in order.
    pub mount_options: Vec<String>,
    /// `-T`.
    pub fstype: Option<String>,
    pub mode: Option<ModeSetting>,
    /// `-w`, as (uid, gid).
    pub owner: Option<(u32, u32)>,
    /// `-k`.
    pub skel: Option<PathBuf>,
    /// false with `-D`: do not detach a fixed unit first.
    pub predetach: bool,
    /// `-E`: accepted for compatibility; mount_md never runs mdconfig.
    pub mdconfig_path: Option<PathBuf>,
    /// `-L`: show helpers' (mkfs/newfs) normal output too.
    pub loud: bool,
    /// `-N` / mount.md `-f`: change nothing.
    pub dry_run: bool,
    /// `-N`: print the plan.
    pub show_plan: bool,
    /// `-X` / mount.md `-v`.
    pub debug: bool,
    /// mount.md `-s`: ignore mount options the platform does not know.
    pub sloppy: bool,
    /// mount.md `-N ns`: the mount namespace to mount in.
    pub namespace: Option<PathBuf>,
    /// `--create`: make the `-F` image of `-s` bytes if it does not exist.
    pub create: Option<CreateMode>,
    /// `--from=BASE` (with `--clone=`): a missing image is made from BASE.
    pub from: Option<crate::template::Base>,
    /// `--fsck=auto|always|never`.
    pub fsck: FsckPolicy,
    /// `--reformat`: format even an image that holds a file system.
    pub reformat: bool,
    /// false with `--no-direct-io`: attach the loop device buffered (Linux;
    /// md(4) vnode disks bypass the cache by themselves).
    pub direct_io: bool,
    /// `--encrypt`: a crypt layer between the disk and the file system.
    pub encrypt: Option<crate::crypt::Encrypt>,
}

impl Request {
    /// Does `-o` ask for a read-only mount?
    pub fn read_only(&self) -> bool {
        read_only_after(&self.mount_options, false)
    }
}

/// Whether `options` leave a mount read-only that is `now` so: the last of
/// `ro`/`rdonly` and `rw`/`noro` wins, as in mount(8).
fn read_only_after(options: &[String], now: bool) -> bool {
    options.iter().fold(now, |ro, o| match o.as_str() {
        "ro" | "rdonly" => true,
        "rw" | "noro" => false,
        _ => ro,
    })
}

/// What `mount_md -u` and `-r` name: a unit, or a path (a mount point or
/// an image file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `mdN`, `/dev/mdN`, `loopN`, `/dev/loopN`.
    Unit(u32),
    /// A mount point or an image file.
    Path(PathBuf),
}

/// `mount_md -u [-fNX] target`: unmount and detach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRequest {
    pub target: Target,
    /// `-f`: unmount even if busy, detach even if open.
    pub force: bool,
    pub dry_run: bool,
    pub debug: bool,
}

/// `mount_md -r -s size [-NX] target`: grow an image (and its file
/// system) to `size` bytes, mounted or not (see [`crate::grow`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrowRequest {
    pub target: Target,
    /// `-s`, in bytes.
    pub size: u64,
    /// What a bare `-s` number means in bytes, said once
    /// ([`crate::size::sectors_note`]).
    pub size_note: Option<String>,
    /// `-N`: print the steps, change nothing.
    pub dry_run: bool,
    /// `-X`: trace the steps as they run.
    pub debug: bool,
}

/// `mount_md --list [--json] [--all] [--bytes]` (see [`crate::list`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListRequest {
    pub json: bool,
    /// Also units mount_md did not attach, marked foreign.
    pub all: bool,
    /// `--bytes`: sizes in bytes, not `1.5G`.
    pub bytes: bool,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Mount(Box<Request>),
    Release(ReleaseRequest),
    Grow(GrowRequest),
    List(ListRequest),
    /// `-o remount,…` (or `update,…`): change a mounted file system's flags.
    Remount(Box<RemountRequest>),
}

/// The option words that ask for a remount: util-linux's `remount` and
/// FreeBSD mount(8)'s `update` (its `-u`).
pub fn is_remount_word(w: &str) -> bool {
    w == "remount" || w == "update"
}

/// `-o remount,…` on a mounted file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemountRequest {
    pub mount_point: PathBuf,
    /// The mount options given, in order, without `remount`/`update`.
    pub options: Vec<String>,
    /// `-F`: must be the image attached there.
    pub image: Option<PathBuf>,
    /// `-s`: must be the disk's size now.
    pub size: Option<u64>,
    /// `-T` (or mount.md's `-t md.TYPE`): must be the mounted type.
    pub fstype: Option<String>,
    pub dry_run: bool,
    pub show_plan: bool,
    pub debug: bool,
    /// mount.md `-N ns`: the mount namespace the mount is in.
    pub namespace: Option<PathBuf>,
}

impl RemountRequest {
    /// A mount request whose `-o` holds `remount` or `update`, or `None`.
    pub fn from_request(req: &Request) -> Option<RemountRequest> {
        if !req.mount_options.iter().any(|o| is_remount_word(o)) {
            return None;
        }
        Some(RemountRequest {
            mount_point: req.mount_point.clone(),
            options: req.mount_options.iter().filter(|o| !is_remount_word(o)).cloned().collect(),
            image: match &req.backing {
                Backing::Vnode(p) => Some(p.clone()),
                Backing::Swap | Backing::Malloc => None,
            },
            size: req.size,
            fstype: req.fstype.clone(),
            dry_run: req.dry_run,
            show_plan: req.show_plan,
            debug: req.debug,
            namespace: req.namespace.clone(),
        })
    }

    /// Read-only after the remount, from read-only `now`.
    pub fn read_only(&self, now: bool) -> bool {
        read_only_after(&self.options, now)
    }
}
