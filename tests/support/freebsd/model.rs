//! A stateful model of the FreeBSD kernel parts mount_md talks to: md(4),
//! GEOM and devfs, the VFS (nmount, unmount, getfsstat) with UFS, and the
//! host file system the images live on. It implements `MdSys`, so the real
//! policy `FreeBsd<Model>` runs against it; every process (each mount_md run)
//! gets its own `FreeBsd` over a clone of the same `Model`.
//!
//! Each behaviour cites the FreeBSD source it follows. Time is virtual: it
//! moves only when the backend sleeps (`MdSys::pause`), so delays (devfs
//! nodes, GEOM tasting) are counted in the backend's own polls.
//!
//! What it does not model (only a FreeBSD machine can confirm): the exact
//! delays, soft updates and journaling, GEOM classes other than MD and UZIP,
//! process credentials, and file contents beyond "empty / UFS clean or not /
//! uzip around UFS".
#![allow(dead_code)]
use super::escape;
use super::geli::{Disks, Geli, OnDisk};
use mount_md::error::{Error, Result};
use mount_md::plan::{OpenImage, Plan, Step};
use mount_md::platform::freebsd::abi::{
    MD_ASYNC, MD_AUTOUNIT, MD_CACHE, MD_COMPRESS, MD_FORCE, MD_MALLOC, MD_NULL, MD_PRELOAD, MD_READONLY, MD_RESERVE,
    MD_SWAP, MD_VERIFY, MD_VNODE,
};
use mount_md::platform::freebsd::geom::{
    md_unit_of, parse_confxml, vnode_ident, FileId, MdUnit, MountEntry, UnitQuery,
};
use mount_md::platform::freebsd::grow::ResizeRequest;
use mount_md::platform::freebsd::requests::{mnt, AttachRequest, BackingFile, IoValue, NmountRequest};
use mount_md::platform::freebsd::{MdSys, OpenedImage};
use mount_md::platform::posix;
use mount_md::request::CreateMode;
use nix::errno::Errno;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

/// What an image (or a memory disk) holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Empty,
    /// A UFS file system. `clean` is the superblock's `fs_clean`;
    /// `fsmnt` its `fs_fsmnt` (the last mount point); `softdep`: soft
    /// updates without a journal (`FS_DOSOFTDEP`, what `newfs -U` makes).
    Ufs {
        clean: bool,
        fsmnt: PathBuf,
        softdep: bool,
    },
    /// A geom_uzip image (mkuzip) around a file system.
    Uzip(Box<Content>),
    /// geli metadata in the last sector, and what `mdN.eli` holds
    /// ([`super::geli`]).
    Geli {
        meta: OnDisk,
        inner: Box<Content>,
    },
}

/// The host file system the images live on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// UFS: `st_dev` is a small number (a devfs cdev's index).
    Ufs,
    /// ZFS: `st_dev` is the dataset's 64-bit fsid, 19–20 decimal digits, so
    /// md.c's 31-character ident keeps 1–2 digits of the inode.
    Zfs,
}

impl Host {
    pub fn dev(self) -> u64 {
        match self {
            Host::Ufs => 0x5a,
            Host::Zfs => 12_736_845_312_519_347_813,
        }
    }
}

#[derive(Debug, Clone)]
pub struct File {
    pub id: FileId,
    pub size: u64,
    pub writable: bool,
    pub content: Content,
    /// Owner uid and mode of the file, then of the directory holding it
    /// (fstat of each, as mount_md's open_image reads them).
    pub owners: [(u32, u32); 2],
}

/// Where a unit's sectors are.
#[derive(Debug, Clone)]
pub enum Store {
    /// The vnode md(4) opened at attach (sys/dev/md/md.c `mdcreate_vnode`
    /// keeps `nd.ni_vp` in `sc->vnode`), by its identity: the file it was
    /// then, whatever its path names later. Renamed, replaced (`mv new.img
    /// j1.img`) or unlinked, the file stays behind the unit ([`Kernel::kept`]
    /// holds it once no path names it) until the unit is destroyed
    /// (`mddestroy` → `vn_close`). `sc->file` is only the path string.
    Vnode(FileId),
    /// Memory (malloc, swap).
    Memory(Content),
}

/// One md unit (sys/dev/md/md.c `struct md_s`).
#[derive(Debug, Clone)]
pub struct Unit {
    pub md_type: u32,
    /// `sc->flags`, as the create function kept them.
    pub flags: u32,
    pub mediasize: u64,
    pub sectorsize: u32,
    pub store: Store,
    /// `sc->file` (vnode units).
    pub file: Vec<u8>,
    /// `sc->label`.
    pub label: Vec<u8>,
    /// `sc->ident`: `MD-DEV%ju-INO%ju` in `char ident[32]`.
    pub ident: String,
    /// When devfs shows `/dev/mdN` (ms).
    pub node_at: u64,
    /// When geom_uzip's provider `mdN.uzip` appears (uzip images).
    pub uzip_at: Option<u64>,
    /// A GEOM re-taste holds the provider open until then (ms).
    pub taste_until: u64,
    /// Opens by processes outside the model's mounts (`held`).
    pub held: u32,
}

/// One mount (sys/kern/vfs_mount.c `struct mount`, as getfsstat shows it).
#[derive(Debug, Clone)]
pub struct Mnt {
    pub on: PathBuf,
    pub from: PathBuf,
    pub fstype: String,
    pub read_only: bool,
    /// MNT_NOSUID: set-user-ID bits do not take effect (vfs_mount.c
    /// `vfs_donmount` turns the global option `nosuid` into the flag;
    /// kern_exec.c `do_execve` ignores the bits under it).
    pub nosuid: bool,
    /// The md unit whose provider (or a provider on it) it holds open.
    pub unit: Option<u32>,
    /// Files open on it (unmount answers EBUSY).
    pub open_files: u32,
    /// `f_fsid` as getfsstat reports it (vfs_mount.c `vfs_getnewfsid` gives
    /// each mount its own; umount(8) unmounts by it).
    pub fsid: [i32; 2],
    /// A dying jail's root (sys/kern/kern_jail.c `prison_deref`: the
    /// prison keeps `pr_root` referenced until its last reference goes,
    /// e.g. a socket in TIME_WAIT): unmount answers EBUSY until then (ms).
    pub busy_until: u64,
}

impl Mnt {
    fn new(on: PathBuf, from: PathBuf, fstype: String, read_only: bool, nosuid: bool, unit: Option<u32>) -> Self {
        Mnt { on, from, fstype, read_only, nosuid, unit, open_files: 0, fsid: [0, 0], busy_until: 0 }
    }
}

/// The kernel's state.
#[derive(Debug)]
pub struct Kernel {
    pub now: u64,
    pub host: Host,
    pub files: BTreeMap<PathBuf, File>,
    pub dirs: Vec<PathBuf>,
    pub units: BTreeMap<u32, Unit>,
    /// Files no path names any more that a unit still holds open (see
    /// [`Store::Vnode`]).
    pub kept: BTreeMap<FileId, File>,
    /// Units being destroyed: `mddestroy` has withered their geom
    /// (sys/geom/geom_subr.c `g_wither_geom`), which stays in the GEOM tree
    /// until its last consumer is gone, shown with `<wither/>` and no
    /// `<config>` (sys/geom/geom_dump.c `g_conf_geom`, `g_conf_provider`).
    /// (unit, mediasize, sectorsize, gone at ms).
    pub withering: Vec<(u32, u64, u32, u64)>,
    /// How long a withered geom stays in the tree after a detach (ms).
    pub wither_hold: u64,
    /// The kernel keeps `md_label` (12.0 and later). An older md(4) reads
    /// the same struct up to `md_fwsectors` and never looks at `md_label`:
    /// the unit has no label, and MDIOCQUERY copies none out.
    pub keeps_label: bool,
    pub mounts: Vec<Mnt>,
    pub next_fsid: i32,
    pub next_ino: u64,
    /// devfs creates `/dev/mdN` this long after the attach (ms).
    pub node_delay: u64,
    /// geom_uzip's provider appears this long after the unit (ms).
    pub uzip_delay: u64,
    /// A re-taste holds a provider open this long (ms).
    pub taste_hold: u64,
    /// Everything the backend did, one line each (for failure messages).
    pub log: Vec<String>,
    /// How many mounted roots were opened (right after nmount).
    pub roots_opened: u32,
    /// ZFS block cloning on (`vfs.zfs.bclone_enabled` 1 and the pool's
    /// `feature@block_cloning`): copy_file_range between two files of the
    /// pool shares their blocks (`zfs_freebsd_copy_file_range` in
    /// sys/contrib/openzfs/module/os/freebsd/zfs/zfs_vnops_os.c);
    /// otherwise it falls back to `vn_generic_copy_file_range`
    /// (sys/kern/vfs_vnops.c), a copy.
    pub bclone: bool,
    /// The ELI class: attached `.eli` providers.
    pub geli: Geli,
    /// How many times fsck_ufs really checked a file system.
    pub fsck_checks: u32,
    /// The size in bytes of the UFS file system in a file (set by
    /// [`Model::image`], newfs and growfs, or by a test for an image grown
    /// elsewhere); a file not listed holds one as large as itself.
    pub ufs_bytes: BTreeMap<FileId, u64>,
    /// Mount points whose root holds a skeleton copy's
    /// `.mount_md-skeleton-unfinished` (a run killed during `-k`:
    /// [`Model::cut_copy_short`]).
    pub unfinished: Vec<PathBuf>,
}

/// The geometry the model's UFS superblocks have (sys/ufs/ffs/fs.h
/// `struct fs`): 4 KiB fragments (`fs_fsize`), cylinder groups of 16384
/// fragments (`fs_fpg`, 64 MiB), the first data fragment of a group at
/// 1024 (`fs_dblkno`).
pub const UFS_FSIZE: u64 = 4096;
pub const UFS_FPG: u64 = 16_384;
pub const UFS_DBLKNO: u64 = 1024;

/// growfs(8) on a disk of `disk` bytes (sbin/growfs/growfs.c `main`): the
/// disk in fragments, less a last cylinder group with no room for a data
/// block (`fs_size <= cgdmin(fs_ncg - 1)`: "no room to allocate last
/// cylinder group"); `None` when that is not larger than `now` ("not
/// enough new space", exit 1).
pub fn growfs_size(now: u64, disk: u64) -> Option<u64> {
    let mut n = disk / UFS_FSIZE;
    let ncg = n.div_ceil(UFS_FPG);
    if n % UFS_FPG != 0 && n <= (ncg - 1) * UFS_FPG + UFS_DBLKNO {
        n = (ncg - 1) * UFS_FPG;
    }
    (n * UFS_FSIZE > now).then_some(n * UFS_FSIZE)
}

/// A handle on the kernel; clones share it.
#[derive(Debug, Clone)]
pub struct Model(pub Rc<RefCell<Kernel>>);

const PAGE: u64 = 4096;
/// A root-owned 0600 image in a root-owned 0755 directory.
pub const ROOTS: [(u32, u32); 2] = [(0, 0o100600), (0, 0o40755)];
/// sys/sys/mount.h MNT_FORCE.
const MNT_FORCE: u64 = 0x8_0000;
/// sys/sys/param.h DEV_BSIZE: md's sector size when none is asked.
const DEV_BSIZE: u32 = 512;
/// `char label[PATH_MAX]` in md.c's softc.
const LABEL_MAX: usize = 1024;
/// sys/geom/geom_subr.c: `g_access` is where the re-taste is posted.
const IDENT_LEN: usize = 32;

/// sys/kern/vfs_mount.c `global_opts`.
const GLOBAL_OPTS: [&str; 7] = ["errmsg", "fstype", "fspath", "ro", "rw", "nosuid", "noexec"];
/// sys/ufs/ffs/ffs_vfsops.c `ffs_opts`.
const FFS_OPTS: [&str; 21] = [
    "acls",
    "async",
    "noatime",
    "noclusterr",
    "noclusterw",
    "noexec",
    "export",
    "force",
    "from",
    "groupquota",
    "multilabel",
    "nfsv4acls",
    "fsckpid",
    "snapshot",
    "nosuid",
    "suiddir",
    "nosymfollow",
    "sync",
    "union",
    "userquota",
    "untrusted",
];

fn err(what: impl Into<String>, e: Errno) -> Error {
    Error::sys(what, e)
}

impl Model {
    pub fn new(host: Host) -> Self {
        Model(Rc::new(RefCell::new(Kernel {
            now: 0,
            host,
            files: BTreeMap::new(),
            dirs: vec![PathBuf::from("/")],
            units: BTreeMap::new(),
            kept: BTreeMap::new(),
            withering: Vec::new(),
            wither_hold: 0,
            keeps_label: true,
            mounts: Vec::new(),
            next_fsid: 0x1000,
            next_ino: 1000,
            node_delay: 30,
            uzip_delay: 80,
            taste_hold: 120,
            roots_opened: 0,
            bclone: false,
            geli: Geli::default(),
            fsck_checks: 0,
            log: Vec::new(),
            ufs_bytes: BTreeMap::new(),
            unfinished: Vec::new(),
        })))
    }

    pub fn k(&self) -> std::cell::RefMut<'_, Kernel> {
        self.0.borrow_mut()
    }

    /// A directory (a mount point).
    pub fn dir(self, path: &str) -> Self {
        self.k().dirs.push(PathBuf::from(path));
        self
    }

    /// An image file of `size` bytes holding `content`; inode `ino`, or the
    /// next free one.
    pub fn image(self, path: impl AsRef<Path>, size: u64, content: Content, ino: Option<u64>) -> Self {
        {
            let mut k = self.k();
            let ino = ino.unwrap_or_else(|| {
                k.next_ino += 1;
                k.next_ino
            });
            let dev = k.host.dev();
            // A UFS made on the whole image (newfs on an md disk of its size).
            if matches!(content, Content::Ufs { .. }) {
                k.ufs_bytes.insert(FileId { dev, ino }, size / UFS_FSIZE * UFS_FSIZE);
            }
            k.files.insert(
                path.as_ref().to_path_buf(),
                File { id: FileId { dev, ino }, size, writable: true, content, owners: ROOTS },
            );
        }
        self
    }

    /// What a run killed (kill -9) during its `-k` copy into the mount on
    /// `on` leaves: the mount, its root holding the unfinished-copy file.
    pub fn cut_copy_short(&self, on: &str) {
        self.k().unfinished.push(PathBuf::from(on));
    }

    /// unlink(2) of `path`. A unit holding the file keeps it (its vnode
    /// stays referenced until the unit is destroyed).
    pub fn unlink(&self, path: impl AsRef<Path>) {
        let mut k = self.k();
        if let Some(f) = k.files.remove(path.as_ref()) {
            k.keep_if_held(f);
        }
    }

    /// rename(2) of `from` over `to` (`mv restored.img j1.img`): `to` now
    /// names `from`'s file; the file `to` named before is unlinked (kept
    /// only by a unit that holds it).
    pub fn rename(&self, from: impl AsRef<Path>, to: impl AsRef<Path>) {
        let mut k = self.k();
        let f = k.files.remove(from.as_ref()).expect("rename: no such file");
        if let Some(old) = k.files.insert(to.as_ref().to_path_buf(), f) {
            k.keep_if_held(old);
        }
    }

    /// What the unit's vnode holds, wherever (or whether) a path names it.
    pub fn unit_content(&self, unit: u32) -> Option<Content> {
        self.k().content_of(unit).cloned()
    }

    /// jail(8) removed the jail whose root is mounted at `on` while
    /// something still references the prison: its `pr_root` keeps the root
    /// busy for `ms` more (sys/kern/kern_jail.c `prison_deref` releases it
    /// with the last reference). The jail's processes are gone.
    pub fn dying_jail_root(&self, on: &str, ms: u64) {
        let mut k = self.k();
        let until = k.now + ms;
        if let Some(m) = k.mounts.iter_mut().rev().find(|m| m.on == Path::new(on)) {
            m.open_files = 0;
            m.busy_until = until;
        }
    }

    /// MDIOCQUERY as md.c `kern_mdquery_locked` answers it, with or without
    /// the caller's buffers: the label is copied out only where a buffer
    /// is given; a vnode unit's file is copied out whatever `md_file` is,
    /// so a NULL `md_file` is EFAULT (copyout to address 0).
    pub fn query_raw(&self, unit: u32, file_buf: bool, label_buf: bool) -> std::result::Result<UnitQuery, Errno> {
        let k = self.0.borrow();
        let u = k.units.get(&unit).ok_or(Errno::ENOENT)?;
        if u.md_type == MD_VNODE && !file_buf {
            return Err(Errno::EFAULT);
        }
        Ok(UnitQuery {
            md_type: u.md_type,
            options: u.flags,
            mediasize: u.mediasize,
            sectorsize: u.sectorsize,
            file: (u.md_type == MD_VNODE).then(|| PathBuf::from(OsString::from_vec(u.file.clone()))),
            // An md(4) without `md_label` leaves the caller's buffer as it
            // was (zeroed: an empty label).
            label: label_buf.then(|| if k.keeps_label { u.label.clone() } else { Vec::new() }),
        })
    }

    /// unmount(2) with `MNT_BYFSID` (sys/kern/vfs_mount.c `sys_unmount`):
    /// the path is `FSID:<val0>:<val1>`, the mount the one with that
    /// `f_fsid` (ENOENT if none; EINVAL for a string that is not of that
    /// form), then `dounmount` as for a path.
    pub fn unmount_by_fsid(&self, fsid: &str, force: bool) -> Result<()> {
        let mut k = self.k();
        k.log(format!("unmount {fsid} MNT_BYFSID{}", if force { " MNT_FORCE" } else { "" }));
        let what = format!("unmount of {fsid}");
        let ids: Option<Vec<i32>> =
            fsid.strip_prefix("FSID:").map(|r| r.split(':').map_while(|n| n.parse().ok()).collect());
        let Some([a, b]) = ids.as_deref().and_then(|v| <[i32; 2]>::try_from(v).ok()) else {
            return Err(err(what, Errno::EINVAL));
        };
        let i = k.mounts.iter().rposition(|m| m.fsid == [a, b]).ok_or_else(|| err(&what, Errno::ENOENT))?;
        k.dounmount(i, force, &what)
    }

    pub fn clean_ufs() -> Content {
        Content::Ufs { clean: true, fsmnt: PathBuf::new(), softdep: true }
    }

    pub fn content(&self, path: &str) -> Content {
        self.k().files[Path::new(path)].content.clone()
    }

    /// md units attached now.
    pub fn unit_numbers(&self) -> Vec<u32> {
        self.k().units.keys().copied().collect()
    }

    /// Mounts of md providers now: (on, from).
    pub fn md_mounts(&self) -> Vec<(PathBuf, PathBuf)> {
        self.k().mounts.iter().filter(|m| m.unit.is_some()).map(|m| (m.on.clone(), m.from.clone())).collect()
    }

    /// The host goes down: md units and mounts are gone; a UFS that was
    /// mounted read-write stays not clean (ffs_mountfs clears `fs_clean` for
    /// a read-write mount; only ffs_unmount sets it again).
    pub fn crash(&self) {
        let mut k = self.k();
        k.units.clear();
        k.mounts.clear();
        k.log.push("-- crash --".into());
    }

    /// A process keeps a file open on the mount at `on`.
    pub fn open_file_on(&self, on: &str) {
        if let Some(m) = self.k().mounts.iter_mut().rev().find(|m| m.on == Path::new(on)) {
            m.open_files += 1;
        }
    }

    /// MDIOCRESIZE (md.c `kern_mdresize_locked`, `mdresize`): options
    /// other than MD_FORCE and MD_RESERVE are EINVAL, a size below one
    /// sector EINVAL, shrinking without MD_FORCE EBUSY; vnode and null units
    /// take any size, swap units a multiple of the page size (EDOM), others
    /// EOPNOTSUPP.
    pub fn resize(&self, unit: u32, mediasize: u64, options: u32) -> std::result::Result<(), Errno> {
        let mut k = self.k();
        if options & !(MD_FORCE | MD_RESERVE) != 0 {
            return Err(Errno::EINVAL);
        }
        let u = k.units.get_mut(&unit).ok_or(Errno::ENOENT)?;
        if mediasize < u64::from(u.sectorsize) {
            return Err(Errno::EINVAL);
        }
        if mediasize < u.mediasize && u.flags & MD_FORCE == 0 && options & MD_FORCE == 0 {
            return Err(Errno::EBUSY);
        }
        match u.md_type {
            MD_VNODE | MD_NULL => {}
            MD_SWAP if mediasize % PAGE != 0 => return Err(Errno::EDOM),
            MD_SWAP => {}
            _ => return Err(Errno::EOPNOTSUPP),
        }
        u.mediasize = mediasize;
        Ok(())
    }

    /// The `kern.geom.confxml` document as sys/geom/geom_dump.c renders it:
    /// the MD class with one geom and provider per unit, `g_md_dumpconf`'s
    /// config (sys/dev/md/md.c), text escaped by `g_conf_printf_escaped`.
    pub fn confxml(&self) -> String {
        let k = self.0.borrow();
        let mut x = String::from("<mesh>\n  <class id=\"0xffffffff81e2a000\">\n    <name>MD</name>\n");
        for (n, u) in &k.units {
            let (r, w, e) = k.access(*n);
            let ty = match u.md_type {
                MD_MALLOC => "malloc",
                MD_PRELOAD => "preload",
                MD_VNODE => "vnode",
                MD_SWAP => "swap",
                MD_NULL => "null",
                _ => "unknown",
            };
            x.push_str(&format!(
                "    <geom id=\"0x{n:x}00\">\n      <name>md{n}</name>\n      <provider id=\"0x{n:x}01\">\n        \
                 <name>md{n}</name>\n        <mode>r{r}w{w}e{e}</mode>\n        <mediasize>{}</mediasize>\n        \
                 <sectorsize>{}</sectorsize>\n        <config>\n          <unit>{n}</unit>\n",
                u.mediasize, u.sectorsize
            ));
            if !u.ident.is_empty() {
                x.push_str(&format!("          <ident>{}</ident>\n", escape(u.ident.as_bytes())));
            }
            x.push_str(&format!("          <length>{}</length>\n", u.mediasize));
            let access = if u.flags & MD_READONLY == 0 { "read-write" } else { "read-only" };
            x.push_str(&format!("          <access>{access}</access>\n          <type>{ty}</type>\n"));
            if u.md_type == MD_VNODE {
                x.push_str(&format!("          <file>{}</file>\n", escape(&u.file)));
            }
            // g_md_dumpconf prints the label only where md(4) has one.
            if k.keeps_label {
                x.push_str(&format!("          <label>{}</label>\n", escape(&u.label)));
            }
            x.push_str("        </config>\n      </provider>\n    </geom>\n");
        }
        // g_conf_geom: a withering geom says `<wither/>` where its config
        // would be; g_conf_provider prints no `<config>` for its provider.
        for (n, mediasize, sectorsize, gone) in &k.withering {
            if k.now >= *gone {
                continue;
            }
            x.push_str(&format!(
                "    <geom id=\"0x{n:x}00\">\n      <name>md{n}</name>\n      <wither/>\n      <provider id=\"0x{n:x}01\">\n        \
                 <name>md{n}</name>\n        <mode>r0w0e0</mode>\n        <mediasize>{mediasize}</mediasize>\n        \
                 <sectorsize>{sectorsize}</sectorsize>\n      </provider>\n    </geom>\n"
            ));
        }
        x.push_str("  </class>\n</mesh>\n");
        x
    }
}

impl Kernel {
    fn log(&mut self, line: String) {
        self.log.push(format!("[{} ms] {line}", self.now));
    }

    /// The provider's access counts (sys/geom/geom_subr.c `g_access` keeps
    /// `acr/acw/ace`): mounts of it or of a provider stacked on it (uzip's
    /// consumer passes its opens down: `g_std_access`), a re-taste in
    /// progress (r1), and opens by other processes.
    pub fn access(&self, unit: u32) -> (u32, u32, u32) {
        let mut a = (0, 0, 0);
        for m in self.mounts.iter().filter(|m| m.unit == Some(unit)) {
            a.0 += 1;
            if !m.read_only {
                a.1 += 1;
                a.2 += 1;
            }
        }
        // g_eli.c `g_eli_create`: the unit under an attached provider is
        // held `g_access(cp, 1, 1, 1)` (read-only: `1, 0, 1`).
        if let Some(e) = self.geli.attached.get(&format!("md{unit}")) {
            a.0 += 1;
            a.1 += u32::from(!e.read_only);
            a.2 += 1;
        }
        if let Some(u) = self.units.get(&unit) {
            if self.now < u.taste_until {
                a.0 += 1;
            }
            a.0 += u.held;
        }
        a
    }

    /// md.c `g_md_access`: `opencount` is 1 while any access is held.
    fn opencount(&self, unit: u32) -> u32 {
        let (r, w, e) = self.access(unit);
        u32::from(r + w + e > 0)
    }

    /// The last writer closed `unit`'s provider: sys/geom/geom_subr.c
    /// `g_access` posts `g_new_provider_event`, and every class tastes the
    /// provider again, holding it open meanwhile.
    fn retaste(&mut self, unit: u32) {
        let until = self.now + self.taste_hold;
        if let Some(u) = self.units.get_mut(&unit) {
            u.taste_until = until;
        }
    }

    /// devfs: the provider `name` (`md3`, `md3.uzip`) if its node exists now
    /// (sys/geom/geom_dev.c creates it when it tastes the provider).
    fn node(&self, path: &Path) -> Option<(u32, bool)> {
        let name = path.as_os_str().as_bytes().strip_prefix(b"/dev/")?;
        let name = std::str::from_utf8(name).ok()?;
        let unit = md_unit_of(name)?;
        let u = self.units.get(&unit)?;
        if name == format!("md{unit}") {
            return (self.now >= u.node_at).then_some((unit, false));
        }
        if name == format!("md{unit}.uzip") {
            return u.uzip_at.filter(|t| self.now >= *t).map(|_| (unit, true));
        }
        // g_eli.c `g_eli_create`: `mdN.eli` while geli is attached.
        if name == format!("md{unit}.eli") {
            return self.geli.attached.contains_key(&format!("md{unit}")).then_some((unit, true));
        }
        None
    }

    fn content_of(&mut self, unit: u32) -> Option<&mut Content> {
        if let Store::Vnode(id) = self.units.get(&unit)?.store {
            return self.file_by_id(id).map(|f| &mut f.content);
        }
        match &mut self.units.get_mut(&unit)?.store {
            Store::Memory(c) => Some(c),
            Store::Vnode(_) => None,
        }
    }

    /// The size of the UFS in file `id` ([`Kernel::ufs_bytes`]; else the
    /// file's size).
    pub fn ufs_size_of(&mut self, id: FileId) -> u64 {
        match self.ufs_bytes.get(&id) {
            Some(n) => *n,
            None => self.file_by_id(id).map_or(0, |f| f.size / UFS_FSIZE * UFS_FSIZE),
        }
    }

    /// The file `id`: named by a path, or kept by a unit only.
    fn file_by_id(&mut self, id: FileId) -> Option<&mut File> {
        if self.files.values().any(|f| f.id == id) {
            return self.files.values_mut().find(|f| f.id == id);
        }
        self.kept.get_mut(&id)
    }

    fn held_by_unit(&self, id: FileId) -> bool {
        self.units.values().any(|u| matches!(u.store, Store::Vnode(v) if v == id))
    }

    /// A file no path names any more stays while a unit holds it.
    fn keep_if_held(&mut self, f: File) {
        if self.held_by_unit(f.id) && !self.files.values().any(|g| g.id == f.id) {
            self.kept.insert(f.id, f);
        }
    }

    /// sys/kern/vfs_mount.c `dounmount` of mount `i`, and what ffs_unmount
    /// then does: a mount with another one on it or inside it is busy (the
    /// other's `mnt_vnodecovered` is a vnode of this one, which vflush in
    /// sys/kern/vfs_subr.c finds in use: EBUSY; the model refuses a forced
    /// unmount of it too); open files or a dying jail's root make it EBUSY
    /// unless forced. ffs_unmount marks the superblock clean again after a
    /// read-write mount, and closing the device for writing makes GEOM
    /// re-taste it.
    fn dounmount(&mut self, i: usize, force: bool, what: &str) -> Result<()> {
        let on = self.mounts[i].on.clone();
        let covered = self.mounts[i + 1..].iter().any(|m| m.on.starts_with(&on));
        if covered {
            return Err(err(what, Errno::EBUSY));
        }
        let m = &self.mounts[i];
        if (m.open_files > 0 || self.now < m.busy_until) && !force {
            return Err(err(what, Errno::EBUSY));
        }
        let m = self.mounts.remove(i);
        if let (Some(unit), false) = (m.unit, m.read_only) {
            if m.fstype == "ufs" {
                let from = m.from.as_os_str().as_bytes();
                let layered = from.ends_with(b".uzip") || from.ends_with(b".eli");
                if let Some(Content::Ufs { clean, .. }) = self.content_of(unit).and_then(|c| layer(c, layered)) {
                    *clean = true;
                }
            }
            let writers = self.access(unit).1;
            if writers == 0 {
                self.retaste(unit);
            }
        }
        Ok(())
    }

    /// A new mount at the end of the mount list, with its own `f_fsid`
    /// (sys/kern/vfs_mount.c `vfs_getnewfsid`: unique among the mounts;
    /// val[0] here a counter, val[1] the file system type's number).
    fn push_mount(&mut self, mut m: Mnt) {
        self.next_fsid += 1;
        m.fsid = [self.next_fsid, 0x35];
        self.mounts.push(m);
    }

    fn is_dir(&self, p: &Path) -> bool {
        self.dirs.iter().any(|d| d == p)
    }
}

/// vfs_mount.c `vfs_filteropt`: an option is known when its name, or its
/// name without a leading "no", is in the global or the file system's list.
fn unknown_option(name: &str, legal: &[&str]) -> bool {
    let q = name.strip_prefix("no");
    let known = |t: &&str| *t == name || q == Some(*t);
    !(GLOBAL_OPTS.iter().any(known) || legal.iter().any(known))
}

// `impl MdSys for Model`: each backend call answered from the state above.
mod sys;

/// A UFS2 superblock at 64 KiB of `b` (sys/ufs/ffs/fs.h `SBLOCK_UFS2`,
/// `struct fs`): `fs_magic` (1372), `fs_clean` (209), `FS_FLAGS_UPDATED`
/// in `fs_old_flags` (211), `fs_fsize` (52), `fs_dblkno` (20), `fs_fpg`
/// (188) and `fs_size` in fragments (int64 at 1080), for a file system of
/// `size` bytes. A buffer too short for it stays zeros.
fn ufs_superblock(b: &mut [u8], clean: bool, size: u64) {
    let at = 65_536;
    if b.len() < at + 1376 {
        return;
    }
    b[at + 1372..at + 1376].copy_from_slice(&0x1954_0119u32.to_le_bytes());
    b[at + 209] = u8::from(clean);
    b[at + 211] = 0x80;
    b[at + 52..at + 56].copy_from_slice(&(UFS_FSIZE as i32).to_le_bytes());
    b[at + 20..at + 24].copy_from_slice(&(UFS_DBLKNO as i32).to_le_bytes());
    b[at + 188..at + 192].copy_from_slice(&(UFS_FPG as i32).to_le_bytes());
    b[at + 1080..at + 1088].copy_from_slice(&((size / UFS_FSIZE) as i64).to_le_bytes());
}

/// The model's mounted root: an open file on the mount it was opened on,
/// closed when dropped.
pub struct RootHandle {
    model: Model,
    pub on: PathBuf,
}

impl Drop for RootHandle {
    fn drop(&mut self) {
        let mut k = self.model.k();
        if let Some(m) = k.mounts.iter_mut().rev().find(|m| m.on == self.on && m.open_files > 0) {
            m.open_files -= 1;
        }
    }
}

/// The ident md.c gives `id` (re-exported for tests).
pub fn ident(id: FileId) -> String {
    vnode_ident(id)
}

/// What a node shows of a unit's content: the unit's own, or through a
/// provider stacked on it (`mdN.uzip`, `mdN.eli`) what that one holds.
fn layer(c: &mut Content, layered: bool) -> Option<&mut Content> {
    match (c, layered) {
        (Content::Uzip(inner), true) | (Content::Geli { inner, .. }, true) => Some(inner.as_mut()),
        (c, false) => Some(c),
        (_, true) => None,
    }
}

/// The model's disks as geli sees them: `mdN` is the unit, its metadata
/// is in the image the unit is backed by.
impl Disks for Kernel {
    fn mediasize(&self, provider: &str) -> Option<u64> {
        let unit = md_unit_of(provider)?;
        (provider == format!("md{unit}")).then(|| self.units.get(&unit).map(|u| u.mediasize)).flatten()
    }
    fn metadata(&self, provider: &str) -> Option<OnDisk> {
        let unit = md_unit_of(provider)?;
        let c = match &self.units.get(&unit)?.store {
            Store::Memory(c) => c,
            Store::Vnode(id) => &self.files.values().find(|f| f.id == *id).or_else(|| self.kept.get(id))?.content,
        };
        match c {
            Content::Geli { meta, .. } => Some(meta.clone()),
            _ => None,
        }
    }
    fn store(&mut self, provider: &str, md: OnDisk, fresh: bool) {
        let Some(c) = md_unit_of(provider).and_then(|u| self.content_of(u)) else { return };
        match c {
            Content::Geli { meta, .. } if !fresh => *meta = md,
            c => *c = Content::Geli { meta: md, inner: Box::new(Content::Empty) },
        }
    }
}
