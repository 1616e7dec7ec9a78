//! FreeBSD: md(4) disks attached with MDIOCATTACH on /dev/mdctl and mounted
//! with nmount(2). The only programs ever started are newfs(8), only
//! without `-P`, and `fsck_ufs -p` ([`fsck`]), only with `-P` on a file
//! system whose superblock says it is not clean.
//!
//! [`FreeBsd`] holds the logic (what to ask, in what words, what to undo)
//! over a small [`MdSys`] trait of system operations (`mdsys.rs`; the `-N`
//! lines are in `describe.rs`), so that the logic
//! compiles and is tested on any host: `sys::Kernel` (FreeBSD only) does
//! the real ioctls and syscalls, `recording::Recorder` (feature `test-support`) records them, and
//! the tests' stateful model of md(4), GEOM and VFS
//! (tests/support/freebsd/model.rs) behaves as the kernel sources say.
//!
//! Identity, by what the kernel holds: which file backs a unit and which
//! unit a mount is of is told in `backing.rs`; that a new unit holds the
//! very image the run holds open is checked in `attach.rs`. Every unit
//! mount_md attaches carries the mark `mount_md:<mount point>` in
//! `md_label` (crate::mark); `-u` touches only marked units, and finds a
//! unit by the mark after jail(8) has already unmounted its directory.
use super::{posix, Detached, Device, Disk, MountRec, Mounted, Note, Opened, Owner, PathKind, Platform, UnitInfo};
use crate::error::{Error, Result};
use crate::mark::{self, Mark};
use crate::plan::{Attach, Defaults, Format, Formats, FsType, Mount, OpenImage, Plan, Step, TmpfsMount};
use crate::platform::{DiskNow, Fit, GrowOf, Head, Helper, MountOf, RootAttr, UnitState, UnmountOf, Which};
use crate::request::Backing;
use nix::errno::Errno;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod abi;
mod attach;
mod backing;
mod crypt;
mod describe;
pub mod eli;
mod mdsys;
pub use mdsys::*;
pub mod fsck;
pub mod geom;
pub mod grow;
#[cfg(any(test, feature = "test-support"))]
pub mod recording;
pub mod requests;
#[cfg(md_backend)]
pub mod sys;

use geom::{FileId, MdUnit, MountEntry, UnitQuery};
use requests::{
    attach_request, describe_detach, device_path, mount_from, newfs_argv, nmount_request, tmpfs_request, AttachRequest,
    BackingFile, NmountRequest,
};

/// The FreeBSD platform over a set of system operations.
#[derive(Default)]
pub struct FreeBsd<S: MdSys> {
    sys: S,
    /// Warnings and debug lines for the executor ([`Platform::take_notes`]).
    notes: Vec<Note>,
    /// The mount point of the plan seen by `check`, for the mark in the
    /// `-N` line of its attach (as Linux keeps it).
    mount_point: Option<PathBuf>,
    /// The plan has a crypt step: format and mount go through
    /// `/dev/mdN.eli` (for `-N`).
    encrypted: bool,
    /// `--encrypt`: the key, opened or asked for once per run.
    key: Option<crate::platform::keyed::Key>,
}

/// What a run holds of the md disk it attached or took over
/// ([`Disk::hold`]). md(4) needs no descriptor kept open (nothing
/// autoclears), so this is only what the later steps need to know.
#[derive(Debug, Clone)]
pub struct MdHold {
    /// `attach` already waited for `/dev/mdN` (to read its ident).
    node_ready: bool,
    /// The image, for messages (`None` for swap and malloc disks).
    image: Option<PathBuf>,
}

#[cfg(md_backend)]
impl FreeBsd<sys::Kernel> {
    /// The real thing.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The mark of a unit from its label field (confxml `<label>` or
/// MDIOCQUERY's `md_label`).
fn mark_of(label: Option<&[u8]>) -> Option<Mark> {
    label.and_then(|l| mark::decode(l, mark::FREEBSD_CAPACITY))
}

impl<S: MdSys> FreeBsd<S> {
    pub fn with_sys(sys: S) -> Self {
        FreeBsd { sys, notes: Vec::new(), mount_point: None, encrypted: false, key: None }
    }
    pub fn sys(&self) -> &S {
        &self.sys
    }
    pub fn into_sys(self) -> S {
        self.sys
    }

    /// What [`Platform::check`] refuses before looking at any file: what
    /// FreeBSD cannot do at all.
    fn refusal(&mut self, plan: &Plan) -> Result<()> {
        self.encrypted = false;
        for step in &plan.steps {
            match step {
                Step::EnterNamespace(_) => {
                    return Err(Error::plain("mount namespaces (mount.md -N) exist only on Linux"));
                }
                Step::OpenImage(o) if o.from.as_ref().is_some_and(|b| b.size.is_some()) => {
                    return Err(Error::plain(crate::template::NO_GROW_MADE));
                }
                Step::Attach(a) => requests::validate_size(&a.backing, a.size, self.sys.page_size())?,
                Step::Format(f) if f.fstype != "ufs" => {
                    return Err(Error::plain(format!(
                        "-T {}: newfs makes only UFS; use -P with an image that already holds a {} file system",
                        f.fstype, f.fstype
                    )));
                }
                Step::Crypt(c) => {
                    self.check_crypt(c)?;
                    self.encrypted = true;
                }
                Step::Mount(m) => requests::check_disk_fstype(&fstype_of(m))?,
                _ => {}
            }
        }
        Ok(())
    }

    /// `-o ro` becomes MD_READONLY only for a vnode disk that will not be
    /// formatted (always formatted without `-P`; with `-P --create` when
    /// this run created the image): md.c `mdcreate_malloc` answers EINVAL
    /// to MD_READONLY, and newfs cannot write a disk the kernel opened
    /// without FWRITE (`mdcreate_vnode`; `g_md_access` answers EROFS to a
    /// writer). Swap disks are always formatted. The mount itself is
    /// read-only either way.
    fn effective_read_only(a: &Attach, image: Option<&Opened<OpenedImage>>) -> bool {
        let formats = match a.formats {
            Formats::Always => true,
            Formats::IfCreated => image.is_some_and(|i| i.created),
            Formats::Never => false,
        };
        a.read_only && matches!(a.backing, Backing::Vnode(_)) && !formats
    }

    /// The attach request for `a`. The path handed to the kernel is the
    /// realpath of the image we hold open (its temporary name, for one this
    /// run is creating), as mdconfig gives it; size and writability come
    /// from that image (a dry run, which opens nothing, inspects `a`'s).
    /// The mark names `mount_point` as nmount will be given it (realpath;
    /// as written when it cannot be resolved yet, a dry run), and the image
    /// by its device and inode (whole: md(4)'s own ident is cut on ZFS).
    fn request_for(
        &self,
        a: &Attach,
        image: Option<&Opened<OpenedImage>>,
        mount_point: &Path,
    ) -> Result<(AttachRequest, Vec<Note>)> {
        let backing = match &a.backing {
            Backing::Vnode(p) => Some(match image.map(|i| &i.handle) {
                Some(img) => BackingFile {
                    path: self
                        .sys
                        .realpath(&img.path)
                        .map_err(|e| Error { what: format!("could not find full path for {}", p.display()), ..e })?,
                    size: img.size,
                    regular: true,
                    writable: img.writable,
                },
                None => self.sys.inspect_backing(p)?,
            }),
            _ => None,
        };
        let a = Attach { read_only: Self::effective_read_only(a, image), ..a.clone() };
        let (mut req, notes) = attach_request(&a, backing.as_ref(), self.sys.page_size())?;
        let real = self.sys.resolve_mount_point(mount_point).unwrap_or_else(|_| mount_point.to_path_buf());
        let real = real.as_os_str().as_bytes();
        let m = match image.filter(|_| matches!(a.backing, Backing::Vnode(_))) {
            Some(i) => mark::encode_with_file(real, i.id, mark::FREEBSD_CAPACITY),
            None => mark::encode(real, mark::FREEBSD_CAPACITY),
        };
        req.label = Some(std::ffi::CString::new(m).map_err(|_| Error::plain("mount point: contains a NUL byte"))?);
        Ok((req, notes))
    }
}

/// The key mounts and units are matched by in the core lifecycle: derived
/// from the unit number, which [`FreeBsd::mount_unit`] finds for a mount.
fn unit_key(unit: u32) -> u64 {
    (1 << 32) | u64::from(unit)
}

/// A mount's id in the core's tables: its `f_fsid` (both halves); a mount
/// getfsstat shows with a zero fsid (to a caller that is not root) gets
/// its place in the table, flagged, and is unmounted by path.
fn mount_id(fsid: [i32; 2], index: usize) -> u64 {
    if fsid == [0, 0] {
        return (1 << 63) | index as u64;
    }
    (u64::from(fsid[0] as u32) << 32) | u64::from(fsid[1] as u32)
}

/// The `f_fsid` a [`mount_id`] was made from.
fn fsid_of(id: u64) -> Option<[i32; 2]> {
    (id >> 63 == 0).then_some([(id >> 32) as u32 as i32, id as u32 as i32])
}

fn fstype_of(m: &Mount) -> String {
    match &m.fstype {
        FsType::Named(t) => t.clone(),
        // FreeBSD's defaults never ask for probing; mdmfs assumes UFS.
        FsType::Probe => "ufs".into(),
    }
}

/// The image behind a disk for messages, quoted, else the device itself.
fn shown_image(disk: &Disk<MdHold>) -> String {
    crate::error::quoted(disk.hold.image.as_deref().unwrap_or(&disk.device.path))
}

/// `e`, naming the image it was for (`shown`).
fn named(mut e: Error, shown: &str) -> Error {
    e.what = format!("{} on {shown}", e.what);
    e
}

impl<S: MdSys> Platform for FreeBsd<S> {
    // tmpfs is in GENERIC or autoloaded by nmount(2) (vfs_byname_kld).
    const DEFAULTS: Defaults = Defaults { fstype: "ufs", probe_preserved: false, tmpfs_available: true };
    const DISK_NAME: &'static str = "an md(4) disk";
    const DETACH_BY_HAND: &'static str = "mdconfig -d -u ";
    const NODE_PREFIX: &'static str = "/dev/md";
    /// A removed jail's prison keeps `pr_root` referenced until its last
    /// reference goes (sys/kern/kern_jail.c `prison_deref`), sockets in
    /// TIME_WAIT among them: 2×MSL, 60 s by default (`net.inet.tcp.msl`
    /// 30000 ms). Its root's unmount is EBUSY meanwhile: `-u` waits that
    /// and some margin.
    const BUSY_ROOT: Option<(Duration, &'static str)> =
        Some((Duration::from_secs(70), "a dying jail's last references to its root (sockets in TIME_WAIT)"));
    type Image = OpenedImage;
    type Hold = MdHold;
    type Root = S::Root;
    /// MNT_NOSUID. mount(8)'s standard options have no `dev`/`nodev`
    /// (sbin/mount/mntopts.h `MOPT_STDOPTS`), and ffs_mount refuses an
    /// option it does not know, so none is added for device nodes.
    const HARDENING: &'static [&'static str] = &["nosuid"];
    const WORDS: crate::plan::words::Vocabulary = crate::plan::words::FREEBSD;

    fn check(&mut self, plan: &Plan) -> Result<()> {
        self.refusal(plan).map_err(Error::as_unsupported)?;
        self.mount_point = Some(plan.mount_point.clone());
        if let Some(mdconfig) = &plan.mdconfig_path {
            self.notes.push(Note::Debug(format!(
                "-E {}: ignored; mount_md attaches with MDIOCATTACH itself and runs no mdconfig",
                mdconfig.display()
            )));
        }
        self.sys.preflight(plan)
    }

    /// Under `-o ro` the image is opened read-only, and a missing one is
    /// not created (it would have to be formatted), as on Linux: `-o ro`
    /// without `-P` is refused before this, so only `-P --create -o ro`
    /// gets here, and it mounts an image that exists, read-only.
    fn open_image(&mut self, o: &OpenImage) -> Result<Opened<OpenedImage>> {
        if let Some(b) = &o.from {
            // A base attached read-write is refused before anything is
            // made (looked at only when the image is still to be made).
            if self.sys.stat_file(&o.path).is_err() {
                let id = self.sys.stat_file(&b.path)?;
                super::clone::refuse_in_use(&mut *self, &b.path, id)?;
            }
        }
        let img = self.sys.open_image(o)?;
        self.notes.push(Note::Debug(format!(
            "opened {} (dev {}, inode {}, {}){}",
            o.path.display(),
            img.id.dev,
            img.id.ino,
            if img.handle.writable { "read-write" } else { "read-only" },
            if img.created { ", created" } else { "" }
        )));
        Ok(img)
    }

    fn remove_image(&mut self, image: Opened<OpenedImage>) -> Result<()> {
        self.sys.remove_image(&image)
    }

    /// Every md unit: its backing file as [`FreeBsd::backing_id`] settles
    /// it, and its owner by the mark in `md_label`.
    fn units(&mut self, which: Which) -> Result<Vec<UnitInfo>> {
        let units = self.sys.list_units()?.into_iter().filter(|u| which.matches_unit(u.unit, unit_key(u.unit)));
        Ok(units
            .map(|u| UnitInfo {
                device: Device { unit: u.unit, path: device_path(u.unit), read_only: u.read_only.unwrap_or(false) },
                rdev: unit_key(u.unit),
                backing: self.backing_id(&u),
                backing_exact: backing::exact_id(&u).is_some(),
                owner: mark_of(u.label.as_deref()).map_or(Owner::Foreign, Owner::Ours),
                autoclear: false,
            })
            .collect())
    }

    /// getfsstat(2), each mount keyed to its unit ([`FreeBsd::mount_unit`];
    /// 0 for none); its id is its `f_fsid` (`mount_id`).
    fn mounts(&mut self) -> Result<Vec<MountRec>> {
        Ok(self
            .mounts_with_units()?
            .into_iter()
            .enumerate()
            .map(|(i, (m, unit))| MountRec {
                id: mount_id(m.fsid, i),
                dev: unit.map_or(0, unit_key),
                on: m.on,
                fstype: m.fstype,
                source: m.from.display().to_string(),
                options: requests::mnt_option_words(m.flags),
            })
            .collect())
    }

    /// A mount root; else a directory some unit's mark names (jail(8)
    /// unmounted it before exec.release); else the file (an image).
    fn identify(&mut self, path: &Path) -> Result<PathKind> {
        let real = self.sys.realpath(path)?;
        // Only the mount's id is wanted, not the unit it is of (which
        // `mounts` finds with a stat and a devname per disk mount).
        if let Some((i, m)) = self.sys.mounts()?.into_iter().enumerate().rev().find(|(_, m)| m.on == real) {
            return Ok(PathKind::MountRoot(mount_id(m.fsid, i)));
        }
        let bytes = real.as_os_str().as_bytes();
        if self.sys.list_units()?.iter().any(|u| mark_of(u.label.as_deref()).is_some_and(|m| m.names(bytes))) {
            return Ok(PathKind::Dir(real));
        }
        self.sys.stat_file(&real).map(PathKind::File)
    }

    /// A mount this run made: its root closed first, then by path. One
    /// found: by the mount's `f_fsid` with `MNT_BYFSID`, as umount(8)
    /// `umountfs` does: by path, sys/kern/vfs_mount.c `sys_unmount` takes
    /// the newest mount on that directory, a nullfs stacked on the jail
    /// root, say. ENOENT while getfsstat still lists the mount means a
    /// kernel without `MNT_BYFSID`: then by path, as umount(8) retries.
    fn unmount(&mut self, what: UnmountOf<'_, S::Root>) -> Result<()> {
        let (m, force) = match what {
            UnmountOf::Made(Mounted { mount_point, root, .. }) => {
                drop(root);
                return self.sys.unmount(&mount_point, false);
            }
            UnmountOf::Found(m, force) => (m, force),
        };
        let Some(fsid) = fsid_of(m.id) else { return self.sys.unmount(&m.on, force) };
        match self.sys.unmount_fsid(fsid, &m.on, force) {
            Err(e) if e.errno() == Some(Errno::ENOENT) && Platform::mounts(self)?.iter().any(|x| x.id == m.id) => {
                self.sys.unmount(&m.on, force)
            }
            r => r,
        }
    }

    /// MDIOCDETACH, with EBUSY retried while no mount uses the unit
    /// ([`FreeBsd::detach_settled`]); a unit already gone is fine.
    fn release_unit(&mut self, u: &UnitInfo, force: bool) -> Result<Detached> {
        // The unit is ours (its mark): so is the geli provider on it.
        self.close_geli_on(u.device.unit)?;
        match self.detach_settled(u.device.unit, force) {
            Err(e) if e.errno() != Some(Errno::ENOENT) => Err(e),
            _ => Ok(Detached::Now),
        }
    }

    fn pause(&mut self, d: std::time::Duration) -> Option<&'static str> {
        if !d.is_zero() {
            self.sys.pause(d);
        }
        posix::pending_stop()
    }

    /// Takes over a marked leftover unit nothing uses if it fits and its
    /// mark names this mount point; detaches it otherwise. Without a fit:
    /// mdmfs's pre-detach of a fixed unit, and a stale leftover of ours
    /// before an attach (the lifecycle asks only about a unit of ours,
    /// [`crate::lifecycle::predetach`]). An unused unit may be in a GEOM
    /// re-taste: EBUSY retried as for any detach.
    fn reuse(&mut self, dev: &Device, fit: Option<Fit<'_, OpenedImage>>) -> Result<Option<Disk<MdHold>>> {
        let unit = dev.unit;
        // A geli provider a killed run left on it goes first; the crypt
        // step attaches it again, with the key.
        self.close_geli_on(unit)?;
        let Some(Fit { attach: a, image, mount_point }) = fit else {
            self.detach_settled(unit, false)?;
            return Ok(None);
        };
        let q = self.sys.query(unit)?;
        let (req, _) = self.request_for(a, image, mount_point)?;
        // We ask for 512-byte sectors; the kernel cuts a partial last one off.
        let want = req.mediasize - req.mediasize % 512;
        let q_ro = q.options & abi::MD_READONLY != 0;
        let misfit = if q.md_type != abi::MD_VNODE {
            Some(format!("type {}", abi::type_name(q.md_type)))
        } else if mark_of(q.label.as_deref()).is_none() {
            Some("not attached by mount_md".to_string())
        } else if q.label.as_deref() != req.label.as_ref().map(|l| l.as_bytes()) {
            Some(format!("marked {}", String::from_utf8_lossy(q.label.as_deref().unwrap_or_default())))
        } else if q.sectorsize != 512 {
            Some(format!("sectorsize {}, want 512", q.sectorsize))
        } else if q.mediasize != want {
            Some(format!("mediasize {}, want {want}", q.mediasize))
        } else if q_ro != req.read_only() {
            Some(format!("read-only {q_ro}, want {}", req.read_only()))
        } else if !req.autounit() && req.unit != unit {
            Some(format!("unit {unit}, want {}", req.unit))
        } else {
            None
        };
        match misfit {
            Some(why) => {
                self.notes.push(Note::Debug(format!("{} does not fit: {why}", dev.path.display())));
                self.detach_settled(unit, false)?;
                Ok(None)
            }
            None => Ok(Some(Disk {
                device: Device { unit, path: device_path(unit), read_only: q_ro },
                hold: MdHold { node_ready: false, image: image.map(|i| i.path.clone()) },
                layer: None,
            })),
        }
    }

    fn attach(&mut self, a: &Attach, image: Option<&Opened<OpenedImage>>, mount_point: &Path) -> Result<Disk<MdHold>> {
        let (req, notes) = self.request_for(a, image, mount_point)?;
        self.notes.extend(notes);
        let vnode = match (&a.backing, image) {
            (Backing::Vnode(given), Some(img)) => Some((given.as_path(), img.id)),
            _ => None,
        };
        let device = self.attach_checked(&req, vnode)?;
        let hold = MdHold { node_ready: vnode.is_some(), image: vnode.and(image).map(|i| i.path.clone()) };
        Ok(Disk { device, hold, layer: None })
    }

    fn detach(&mut self, disk: Disk<MdHold>) -> Result<()> {
        if let Some(layer) = &disk.layer {
            self.close_layer(&layer.node)?;
        }
        self.detach_settled(disk.device.unit, false)
    }

    fn wait_for_node(&mut self, disk: &Disk<MdHold>) -> Result<()> {
        if disk.hold.node_ready {
            return Ok(());
        }
        self.sys.wait_for_node(&disk.device.path)
    }

    fn publish_image(&mut self, image: &mut Opened<OpenedImage>) -> Result<()> {
        self.sys.publish_image(image)
    }

    fn copy_skeleton(&mut self, m: &Mounted<S::Root>, from: &Path) -> Result<()> {
        self.sys.copy_skeleton(&m.root, &m.mount_point, from)
    }

    /// The file md(4) recorded for the unit, where it still is (its
    /// published name for an image `--create` made), if it is the file the
    /// unit holds ([`MdSys::lock_image`]).
    fn lock_image_of(&mut self, u: &UnitInfo) -> Result<Option<crate::platform::ImageLock>> {
        let Some(id) = u.backing.filter(|_| u.backing_exact) else { return Ok(None) };
        let Some((path, _)) = self.queried_file(u.device.unit, None).filter(|(_, now)| *now == id) else {
            return Ok(None);
        };
        self.sys.lock_image(&path, id)
    }

    /// The mount on `mount_point` (found mounted from this image by the
    /// lifecycle) if its root holds [`posix::UNFINISHED`]: a `-k` copy cut
    /// short (kill -9, a crash), which this run finishes.
    fn unfinished_copy(&mut self, mount_point: &Path) -> Result<Option<Mounted<S::Root>>> {
        let fspath = self.sys.resolve_mount_point(mount_point)?;
        let Some(root) = self.sys.unfinished_copy(&fspath)? else { return Ok(None) };
        let read_only = self.sys.mounted_read_only(&root, &fspath)?;
        Ok(Some(Mounted { mount_point: fspath, read_only, root }))
    }

    fn take_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }

    /// `-r` only: a new image grown from its base is refused by
    /// [`Platform::check`].
    fn grow<'a>(
        &'a mut self,
        of: GrowOf<'a, MdHold, OpenedImage>,
    ) -> Result<(crate::grow_ops::Found, Box<dyn crate::grow_ops::GrowOps + 'a>)> {
        match of {
            GrowOf::Target { target, size, .. } => grow::target(self, target, size),
            GrowOf::Made { .. } => Err(Error::plain(crate::template::NO_GROW_MADE)),
        }
    }

    /// md(4) cannot change an attached unit's read-only state: it stays
    /// as attached; its size from MDIOCQUERY.
    fn disk(&mut self, u: &UnitInfo, set: Option<bool>) -> Result<DiskNow> {
        if set.is_some() {
            return Err(Error::plain("this system cannot change an attached disk's read-only state"));
        }
        Ok(DiskNow { read_only: u.device.read_only, size: Some(self.sys.query(u.device.unit)?.mediasize) })
    }

    /// nmount(2) with MNT_UPDATE (sys/kern/vfs_mount.c
    /// `vfs_domount_update`), as `mount -u` does: the options named, each
    /// flag pair down to its last word.
    fn remount(&mut self, u: &UnitInfo, m: &MountRec, options: &[String]) -> Result<()> {
        let options = requests::last_of_pairs(options);
        let from = std::ffi::OsString::from(&m.source);
        let mut req = nmount_request(&m.fstype, &options, &m.on, &from, u.device.read_only)?;
        req.flags |= requests::mnt::UPDATE;
        self.sys.nmount(&req)
    }

    fn list(&mut self, mounts: &[MountRec]) -> Result<Vec<(UnitInfo, bool, crate::unit::Listed)>> {
        // Each unit with what grow::row reads of it; one that went away
        // meanwhile (None) is left out. The geli layers are read once for
        // all units: each read of kern.geom.confxml lists every unit.
        let units = Platform::units(self, Which::All)?;
        let layers = self.sys.geli_layers()?;
        let mut out = Vec::new();
        for u in units {
            if let Some(l) = grow::row(self, &u, super::mount_of(mounts, &u), &layers)? {
                out.push((u, true, l));
            }
        }
        Ok(out)
    }

    fn unit_is(&mut self, u: &UnitInfo, what: UnitState) -> Result<bool> {
        match what {
            UnitState::Held => self.held(u),
            UnitState::MemoryBacked => Ok(u.backing.is_none()),
        }
    }

    fn read_start(&mut self, from: Head<'_, MdHold>, len: usize) -> Result<Option<Vec<u8>>> {
        match from {
            Head::Disk(disk) => Ok(Some(self.sys.read_start(disk.top(), len)?)),
            Head::Image(path) => self.sys.image_start(path, len),
        }
    }

    fn mount(&mut self, what: MountOf<'_, MdHold>) -> Result<Mounted<S::Root>> {
        match what {
            MountOf::Disk(disk, m) => self.mount_disk(disk, m),
            MountOf::Tmpfs(t) => self.mount_tmpfs(t),
        }
    }

    fn helper(&mut self, disk: &Disk<MdHold>, job: Helper<'_>) -> Result<Option<String>> {
        match job {
            Helper::Format(f) => self.format(disk, f).map(|()| None),
            Helper::Fsck(fs, force) => self.fsck(disk, fs, force),
            // UFS needs nothing (ffs_mountfs gives a duplicate fs_id a new
            // fsid); no other file system is made or mounted here.
            Helper::NewIdentity(head) => match crate::template::new_identity(head) {
                crate::template::Identity::Kept => Ok(None),
                crate::template::Identity::Run { program, .. } => {
                    Err(Error::plain(format!("{program} is not run on FreeBSD: only UFS copies are mounted here")))
                }
            },
            Helper::CryptHeader(c) => self.crypt_header(&disk.device.path, &shown_image(disk), c).map(|()| None),
            Helper::CryptOpen(c) => {
                Ok(Some(self.crypt_open(&disk.device.path, &shown_image(disk), c)?.display().to_string()))
            }
        }
    }

    fn set_root(&mut self, m: &Mounted<S::Root>, attr: RootAttr) -> Result<()> {
        match attr {
            RootAttr::Mode(mode) => self.sys.set_mode(&m.root, &m.mount_point, mode),
            RootAttr::Owner(uid, gid) => self.sys.set_owner(&m.root, &m.mount_point, uid, gid),
        }
    }
}

impl<S: MdSys> FreeBsd<S> {
    /// Held: something writes to the unit or holds it exclusively (a
    /// mount, a uzip or partition consumer). A GEOM taster reading it after
    /// the last writer closed (geom_subr.c `g_access` re-taste) holds it
    /// for a moment with `r1w0e0` only: that does not count, the detach's
    /// EBUSY retry outlasts it.
    fn held(&mut self, u: &UnitInfo) -> Result<bool> {
        let access = self.sys.list_units()?.into_iter().find(|m| m.unit == u.device.unit).and_then(|m| m.access);
        let Some((_, w, e)) = access.filter(|(_, w, e)| w + e > 0) else { return Ok(false) };
        // A geli provider of ours on it that nothing holds open is what a
        // run killed between its attach and its mount leaves: its hold on
        // the unit (g_eli.c `g_eli_create`: r1w1e1) does not make the unit
        // used; [`Platform::reuse`] closes it. Only a unit something holds
        // can have one, so only then is confxml read a second time.
        let idle_eli = matches!(u.owner, Owner::Ours(_))
            && self.sys.geli_on(u.device.unit)?.is_some_and(|eli| eli.access == Some((0, 0, 0)));
        let own = u32::from(idle_eli);
        Ok(w.saturating_sub(own) + e.saturating_sub(own) > 0)
    }
    fn mount_disk(&mut self, disk: &Disk<MdHold>, m: &Mount) -> Result<Mounted<S::Root>> {
        let fstype = fstype_of(m);
        let fspath = self.sys.resolve_mount_point(&m.mount_point)?;
        let from = mount_from(disk.top(), &m.suffix);
        if !m.suffix.is_empty() {
            // A provider GEOM stacks on the unit (geom_uzip's md0.uzip)
            // appears only after it tasted the new unit.
            self.sys.wait_for_node(Path::new(&from))?;
        }
        self.nmount(&nmount_request(&fstype, &m.options, &fspath, &from, disk.device.read_only)?, fspath)
    }
    fn mount_tmpfs(&mut self, t: &TmpfsMount) -> Result<Mounted<S::Root>> {
        let fspath = self.sys.resolve_mount_point(&t.mount_point)?;
        self.nmount(&tmpfs_request(t, &fspath)?, fspath)
    }
    fn format(&mut self, disk: &Disk<MdHold>, f: &Format) -> Result<()> {
        self.sys.run_newfs(&newfs_argv(f, disk.top()), f.loud).map_err(|e| named(e, &shown_image(disk)))
    }
    /// UFS only (base has no other checker): `fsck_ufs -p /dev/mdN`
    /// (`-f -p` with `force`).
    fn fsck(&mut self, disk: &Disk<MdHold>, fs: &str, force: bool) -> Result<Option<String>> {
        if fs != "ufs" {
            return Ok(None);
        }
        let argv = fsck::fsck_argv(disk.top(), force);
        let output = self.sys.run_fsck(&argv).map_err(|e| named(e, &shown_image(disk)))?;
        for line in output.lines().filter(|l| !l.trim().is_empty()) {
            self.notes.push(Note::Debug(format!("fsck_ufs: {line}")));
        }
        Ok(Some(fsck::shown(&argv)))
    }
}
