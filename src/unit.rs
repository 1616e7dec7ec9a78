//! What the kernel says about units and mounts, as every system reports
//! it: a disk ([`Device`]), a file's identity ([`FileId`]), whose a unit is
//! ([`Owner`]), one attached unit ([`UnitInfo`]), one mount
//! ([`MountRec`]) and one row of `--list` ([`Listed`]). Types only, below the backends and the core alike.
//!
//! [`UnitInfo`] is the one description of a unit the core works with.
//! The other types about a unit each add or keep something it does not
//! say: [`crate::lifecycle::Existing`] is a `UnitInfo` and how it is used
//! (mounted here, in use), found before attaching; [`crate::grow_ops::Attached`]
//! is a grow target's [`Device`] and where it is mounted; [`Listed`] is
//! what a backend reads of one for `--list` (its file's name as the kernel
//! prints it, sizes, mark text), for display only, and
//! [`crate::list::table::Row`] a `Listed` and what its mount adds. Below the backend, FreeBSD's
//! two kernel reports are kept apart because they answer differently:
//! `geom::MdUnit` is one unit of `kern.geom.confxml` (every unit at once,
//! each field only if the kernel prints it, with its open count), and
//! `geom::UnitQuery` is MDIOCQUERY's answer for one unit by number (with
//! its exact flags and sector size). The recording doubles keep their own
//! kernel's state (`linux::recording::FakeLoop`,
//! `freebsd::recording::RecUnit`).
#![forbid(unsafe_code)]
use std::path::PathBuf;

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
    /// are matched to the unit by this ([`MountRec::belongs_to`]).
    pub rdev: u64,
    /// The backing file, when it is one (vnode/loop units).
    pub backing: Option<FileId>,
    /// `backing` is the kernel's whole word (Linux `lo_device`/`lo_inode`;
    /// FreeBSD our mark or an ident md(4) did not cut). False for a FreeBSD
    /// unit known only through a cut ident and the path md(4) recorded,
    /// which may name a file that replaced the one the unit holds: such a
    /// unit is never taken for an image by `-u IMAGE` or `-r IMAGE`.
    pub backing_exact: bool,
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
    /// The mount's own options (`ro`/`rw` is the mount's, whatever the
    /// disk's): mountinfo's per-mount field on Linux, `f_flags` named on
    /// FreeBSD.
    pub options: Vec<String>,
}

impl MountRec {
    /// Mounted read-only.
    pub fn read_only(&self) -> bool {
        self.options.iter().any(|o| o == "ro")
    }

    /// Mounted from unit `u`: the one rule that ties a mount to a unit, by
    /// the device number of the unit's node, never by the source text.
    pub fn belongs_to(&self, u: &UnitInfo) -> bool {
        self.dev == u.rdev
    }
}

/// What a backend reads about one attached unit for `--list`
/// ([`crate::list::collect`] adds the mount's type and `ro`/`rw` and whose
/// it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub unit: u32,
    /// `/dev/loop3`, `/dev/md3`.
    pub device: PathBuf,
    /// The backing file as the kernel shows it (for display only), or
    /// `None` for a unit with no file (swap, malloc, memfd) or one whose
    /// file could not be read.
    pub image: Option<Vec<u8>>,
    /// The backing file was unlinked: `image` is its last name, without
    /// the ` (deleted)` the kernel shows after it. `None`: not known.
    pub deleted: Option<bool>,
    /// Bytes the disk holds; `None`: could not be read.
    pub size: Option<u64>,
    /// The mounted file system's sizes (statvfs), when mounted and readable.
    pub usage: Option<Usage>,
    /// The disk reads and writes its file with direct I/O; `None`: not
    /// known, or not a thing this system has.
    pub direct_io: Option<bool>,
    /// The unit's whole mark/label text (`mount_md:/var/jails/j1`), if any
    /// was read.
    pub mark: Option<Vec<u8>>,
    /// The crypt layer mount_md opened on it: its type (`luks2`, `geli`)
    /// and device (`/dev/mapper/mount_md-…`, `/dev/md3.eli`).
    pub crypt: Option<(String, PathBuf)>,
}

/// What `statvfs` says about a mounted file system, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub size: u64,
    pub used: u64,
    /// What an unprivileged writer may still use (`f_bavail`).
    pub available: u64,
}

/// A decoded mark ([`crate::mark`] encodes and decodes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// The mount point the unit was attached for (bytes, as the path was
    /// given to the kernel); empty when it was attached for no mount (an
    /// offline grow, say). Only its head when the mark was cut.
    pub mount_point: Vec<u8>,
    /// The field was full: `mount_point` is only a prefix.
    pub truncated: bool,
    /// For a cut mark, the hash of the whole mount point ([`crate::mark::hash`]); `None`
    /// for a whole mark, or a cut one written without it.
    pub hash: Option<u64>,
}
