//! A request becomes a plan: the ordered steps that will run, each with
//! every argument it needs. Building it is pure; [`crate::exec`] runs it.
#![forbid(unsafe_code)]
pub mod words;

use crate::device::{DeviceArg, Unit};
use crate::request::{Backing, CreateMode, FsckPolicy, ModeSetting, NewfsOpt, Request};
use std::path::PathBuf;

/// What a platform fills in where the command line is silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defaults {
    /// The file system newfs/mkfs makes and mount uses (`ufs`, `ext4`).
    pub fstype: &'static str,
    /// With `-P` and no `-T`, read the type from the image instead of
    /// assuming `fstype` (Linux can mount many; FreeBSD's mdmfs assumes UFS).
    pub probe_preserved: bool,
    /// Whether `auto` may become a tmpfs here.
    pub tmpfs_available: bool,
}

/// Open (and with `--create`, make) the backing image and lock it for the
/// rest of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenImage {
    pub path: PathBuf,
    /// `--create`: size in bytes and how to allocate it.
    pub create: Option<(u64, CreateMode)>,
    /// `-o ro`: open read-only even if writable.
    pub read_only: bool,
    /// `--create --from=BASE`: a missing image is made from BASE (a clone
    /// or a copy, [`crate::platform::clone`]) instead of being allocated.
    pub from: Option<crate::template::Base>,
}

/// Attach a disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attach {
    pub unit: Unit,
    pub backing: Backing,
    /// `-s` in bytes; for a vnode disk it overrides the file's length.
    pub size: Option<u64>,
    /// `-o ro`: attach read-only as well.
    pub read_only: bool,
    /// Ask for direct I/O on the backing file (`--no-direct-io` clears it).
    pub direct_io: bool,
    /// Whether a [`Format`] step follows (FreeBSD cannot attach read-only
    /// a disk newfs is to write).
    pub formats: Formats,
}

/// Whether the disk an [`Attach`] makes is formatted later in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Formats {
    Never,
    /// Without `-P`.
    Always,
    /// `-P --create`: only when this run created the image.
    IfCreated,
}

/// Open the crypt layer on the attached disk (`--encrypt`): write its
/// header first when this run created the image (`--create`), else find
/// one there or refuse; format, check and mount then go through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypt {
    pub encrypt: crate::crypt::Encrypt,
    /// `-o ro`: open it read-only.
    pub read_only: bool,
}

/// Make a file system on the attached disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    pub fstype: String,
    pub options: Vec<NewfsOpt>,
    pub soft_updates: bool,
    /// `-L`: let the formatter's normal output through.
    pub loud: bool,
    /// `-P --create`: format only an image this run has just created.
    pub only_if_created: bool,
}

/// Read the attached disk's superblock (no process is started for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Examine {
    /// Before formatting a `-F` image: refuse if it holds a recognised file
    /// system, unless this run created the image (`--reformat` leaves this
    /// step out).
    BeforeFormat,
    /// Before mounting a kept (`-P`) file system: run the system's checker
    /// as the policy says (nothing to do for an image this run created).
    BeforeMount(FsckPolicy),
}

/// Which file system type to mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsType {
    Named(String),
    /// Read it from the image's superblock (Linux, `-P` without `-T`).
    Probe,
}

/// Mount the attached disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub fstype: FsType,
    pub options: Vec<String>,
    /// Appended to the device path (`.uzip` → `/dev/md0.uzip`).
    pub suffix: String,
    pub mount_point: PathBuf,
    /// Ignore mount options the platform does not know (mount.md `-s`).
    pub sloppy: bool,
}

/// Mount a tmpfs (`tmpfs`/`auto` md-device).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmpfsMount {
    /// `-s`, in bytes; `None` or 0 leaves the kernel's default.
    pub size: Option<u64>,
    pub options: Vec<String>,
    pub mount_point: PathBuf,
    pub sloppy: bool,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// mount.md `-N`: switch to that mount namespace first.
    EnterNamespace(PathBuf),
    OpenImage(OpenImage),
    /// Detach a fixed unit left from an earlier run; failure is ignored
    /// (mdmfs's pre-detach, skipped with `-D`).
    PreDetach(u32),
    Attach(Attach),
    /// Wait, bounded, for the device node to appear.
    WaitForNode,
    Crypt(Crypt),
    Examine(Examine),
    Format(Format),
    Mount(Mount),
    MountTmpfs(TmpfsMount),
    /// chmod of the mounted root (`-p`, or compat mode's implied 01777).
    SetMode(ModeSetting),
    /// chown of the mounted root (`-w`).
    SetOwner {
        uid: u32,
        gid: u32,
    },
    /// `-k`: copy a skeleton tree into the new file system.
    CopySkeleton(PathBuf),
    /// `--from`: give the file system of an image this run made from a
    /// base an identity of its own ([`crate::template::new_identity`]),
    /// then, with `grow_to` (`-s` larger than the base), grow the image and
    /// its file system to that many bytes as `-r` does ([`crate::grow`]),
    /// then publish the image (nothing for an image that existed).
    NewIdentity {
        grow_to: Option<u64>,
    },
}

/// The steps, in order, plus what the executor needs to report on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub mount_point: PathBuf,
    /// `-E`: accepted for compatibility; platforms that never run mdconfig
    /// may say so under `-X`.
    pub mdconfig_path: Option<PathBuf>,
}

impl Plan {
    /// The plan's Attach step (none for tmpfs).
    pub fn attach(&self) -> Option<&Attach> {
        self.steps.iter().find_map(|s| if let Step::Attach(a) = s { Some(a) } else { None })
    }

    /// Why the plan cannot work, known before anything runs: formatting a
    /// disk that is attached read-only (`-o ro` without `-P`) would only
    /// fail late, in the formatter; a skeleton cannot go into a read-only
    /// mount; `-T` names a file system that does not live on a disk
    /// ([`on_a_disk`]; tmpfs is the md-device `tmpfs`, not `-T`).
    pub fn refusal(&self) -> Option<String> {
        let read_only = self.steps.iter().any(|s| matches!(s, Step::Attach(a) if a.read_only));
        let formats = self.steps.iter().any(|s| matches!(s, Step::Format(f) if !f.only_if_created));
        if read_only && formats {
            return Some(
                "-o ro without -P: the new file system would be empty and read-only \
                 (add -P to mount the file system the image holds)"
                    .to_string(),
            );
        }
        let copies = self.steps.iter().any(|s| matches!(s, Step::CopySkeleton(_)));
        if read_only && copies {
            return Some("-k with -o ro: the skeleton cannot be copied into a read-only mount".to_string());
        }
        self.steps.iter().find_map(|step| {
            let t = match step {
                Step::Mount(Mount { fstype: FsType::Named(t), .. }) => t,
                Step::Format(f) => &f.fstype,
                _ => return None,
            };
            (on_a_disk(t) == Some(false))
                .then(|| format!("-T {t}: not a file system on a disk (for a tmpfs, use tmpfs as the md-device)"))
        })
    }
}

/// The plan of a mount command line (`args[0]` names the dialect), for
/// in-file tests.
#[cfg(test)]
pub(crate) fn of_line(args: &[&str], defaults: Defaults) -> Plan {
    let argv: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    let flavor = crate::flavor::Flavor::from_name(args[0]);
    match crate::cli::parse(flavor, &argv, &crate::host::SystemHost).expect("command line") {
        crate::request::Command::Mount(req) => build(&req, defaults),
        _ => panic!("not a mount command"),
    }
}

/// Whether a file system of type `fstype` lives on a disk, by its name:
/// the one answer mount, `-u`, `-r` and `--list` use.
/// * `Some(true)`: a type whose mount names the disk it is on (FreeBSD's
///   ufs, msdosfs, cd9660, ext2fs and udf: sys/ufs/ffs/ffs_vfsops.c
///   `ffs_mount` calls `vfs_mountedfrom` with the device path, and the
///   others do the same), so a mount of it is matched to a unit;
/// * `Some(false)`: one that never does (memory, kernel, network and
///   stacked file systems): mounting one "from" an md or loop device would
///   only name the device as its source, and any text may stand there;
/// * `None`: a name not known here (Linux then asks /proc/filesystems).
pub fn on_a_disk(fstype: &str) -> Option<bool> {
    match fstype {
        "ufs" | "msdosfs" | "cd9660" | "ext2fs" | "udf" => Some(true),
        "tmpfs" | "ramfs" | "proc" | "procfs" | "linprocfs" | "sysfs" | "linsysfs" | "devpts" | "devtmpfs"
        | "devfs" | "fdescfs" | "cgroup" | "cgroup2" | "mqueue" | "mqueuefs" | "debugfs" | "tracefs" | "securityfs"
        | "configfs" | "bpf" | "pstore" | "hugetlbfs" | "autofs" | "fusectl" | "binfmt_misc" | "efivarfs" | "nsfs"
        | "overlay" | "nullfs" | "unionfs" | "nfs" | "nfs4" | "smbfs" | "cifs" | "fuse" | "rpc_pipefs" => Some(false),
        _ => None,
    }
}

/// Builds the plan for a request (mdmfs's order of operations: sbin/mdmfs/mdmfs.c `main`).
pub fn build(req: &Request, defaults: Defaults) -> Plan {
    let mut steps = Vec::new();
    steps.extend(req.namespace.clone().map(Step::EnterNamespace));
    let use_tmpfs = match req.device {
        DeviceArg::Tmpfs => true,
        DeviceArg::Auto => defaults.tmpfs_available && !req.multilabel,
        DeviceArg::Md { .. } => false,
    };
    if use_tmpfs {
        steps.push(Step::MountTmpfs(TmpfsMount {
            size: req.size.filter(|s| *s != 0),
            options: req.mount_options.clone(),
            mount_point: req.mount_point.clone(),
            sloppy: req.sloppy,
        }));
    } else {
        let (unit, suffix) = match &req.device {
            DeviceArg::Md { unit, suffix } => (*unit, suffix.clone()),
            _ => (Unit::Auto, String::new()),
        };
        if let Backing::Vnode(path) = &req.backing {
            steps.push(Step::OpenImage(OpenImage {
                path: path.clone(),
                create: req.create.zip(req.size).map(|(mode, size)| (size, mode)),
                read_only: req.read_only(),
                from: req.from.clone(),
            }));
        }
        if let (Unit::Fixed(n), true) = (unit, req.predetach) {
            steps.push(Step::PreDetach(n));
        }
        steps.push(Step::Attach(Attach {
            unit,
            backing: req.backing.clone(),
            size: req.size,
            read_only: req.read_only(),
            direct_io: req.direct_io,
            formats: match (req.newfs, req.create.is_some()) {
                (true, _) => Formats::Always,
                (false, true) => Formats::IfCreated,
                (false, false) => Formats::Never,
            },
        }));
        steps.push(Step::WaitForNode);
        if let Some(e) = &req.encrypt {
            steps.push(Step::Crypt(Crypt { encrypt: e.clone(), read_only: req.read_only() }));
        }
        let fstype = req.fstype.clone().unwrap_or_else(|| defaults.fstype.to_string());
        // -P keeps the image's file system; with --create a brand-new
        // image has none yet, so that one is formatted all the same.
        if req.newfs && matches!(req.backing, Backing::Vnode(_)) && !req.reformat {
            // Never format over a file system nobody asked to replace.
            steps.push(Step::Examine(Examine::BeforeFormat));
        }
        if let Some(base) = &req.from {
            steps.push(Step::NewIdentity { grow_to: base.size });
        } else if req.newfs || req.create.is_some() {
            steps.push(Step::Format(Format {
                fstype: fstype.clone(),
                options: req.newfs_options.clone(),
                soft_updates: req.soft_updates,
                loud: req.loud,
                only_if_created: !req.newfs,
            }));
        }
        if !req.newfs {
            steps.push(Step::Examine(Examine::BeforeMount(req.fsck)));
        }
        let fstype = match (&req.fstype, req.newfs, defaults.probe_preserved) {
            (None, false, true) => FsType::Probe,
            _ => FsType::Named(fstype),
        };
        steps.push(Step::Mount(Mount {
            fstype,
            options: req.mount_options.clone(),
            suffix,
            mount_point: req.mount_point.clone(),
            sloppy: req.sloppy,
        }));
    }
    steps.extend(req.mode.map(Step::SetMode));
    steps.extend(req.owner.map(|(uid, gid)| Step::SetOwner { uid, gid }));
    steps.extend(req.skel.clone().map(Step::CopySkeleton));
    Plan { steps, mount_point: req.mount_point.clone(), mdconfig_path: req.mdconfig_path.clone() }
}
