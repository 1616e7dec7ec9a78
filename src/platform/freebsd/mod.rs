//! FreeBSD: md(4) disks attached with MDIOCATTACH on /dev/mdctl and mounted
//! with nmount(2). The only programs ever started are newfs(8), only
//! without `-P`, and `fsck_ufs -p` ([`fsck`]), only with `-P` on a file
//! system whose superblock says it is not clean.
//!
//! [`FreeBsd`] holds the logic (what to ask, in what words, what to undo)
//! over a small [`MdSys`] trait of system operations, so that the logic
//! compiles and is tested on any host: [`sys::Kernel`] (FreeBSD only) does
//! the real ioctls and syscalls, [`recording::Recorder`] records them.
//!
//! Lifecycle (one image, one attachment; `mount_md -u`): the image is
//! opened once without following symlinks and locked for the run; after
//! MDIOCATTACH (the kernel opens the file again, by path) the unit's GEOM
//! ident must name the very file we hold, or the unit is detached again;
//! existing units are found in `kern.geom.confxml` and matched by ident,
//! mounts by getfsstat(2).
use super::{
    describe, posix, Detached, Device, Existing, MountRec, Mounted, Note, Owner, PathKind, Platform, UnitInfo,
};
use crate::error::{Error, Result};
use crate::plan::{Attach, Defaults, Format, FsType, Mount, OpenImage, Plan, Step, TmpfsMount};
use crate::request::Backing;
use nix::errno::Errno;
use std::cell::RefCell;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod abi;
pub mod fsck;
pub mod geom;
pub mod grow;
#[cfg(md_backend)]
pub mod grow_sys;
#[cfg(any(test, feature = "test-support"))]
pub mod recording;
pub mod requests;
#[cfg(md_backend)]
pub mod sys;

use geom::{ident_matches, md_unit_of, vnode_ident, FileId, MdUnit, MountEntry, UnitQuery};
use requests::{
    attach_request, describe_detach, device_path, mount_from, newfs_argv, nmount_request, show_argv, tmpfs_request,
    AttachRequest, BackingFile, NmountRequest,
};

/// The `fspath` for nmount(2): the mount point must be a directory reached
/// without a symlink in any component (as jail(8) insists for
/// `mount.fstab`), given to the kernel as an absolute path. nmount takes a
/// path, not a descriptor, so unlike Linux the directory cannot be pinned
/// for the mount itself; refusing symlinks leaves a jailed root no link to
/// plant, and the mounted root is then used through a descriptor.
pub fn resolve_mount_point(mount_point: &Path) -> Result<PathBuf> {
    let what = || mount_point.display().to_string();
    posix::open_dir_no_symlinks(mount_point).map_err(|e| match e.errno() {
        Some(nix::errno::Errno::ENOTDIR) => Error::sys(what(), nix::errno::Errno::ENOTDIR),
        _ => e,
    })?;
    std::fs::canonicalize(mount_point).map_err(|e| crate::error::from_io(what(), &e))
}

/// The backing image this run opened (and, for `--create`, made).
#[derive(Debug)]
pub struct OpenedImage {
    /// As given on the command line.
    pub path: PathBuf,
    pub id: FileId,
    pub size: u64,
    /// Opened read-write; otherwise the disk is attached read-only.
    pub writable: bool,
    /// This run created it: rollback removes it.
    pub created: bool,
    /// The descriptor, holding the flock(2) until the run ends. Test
    /// doubles have none.
    pub handle: Option<posix::Image>,
}

impl OpenedImage {
    /// Wraps what [`posix::open_image`] opened.
    pub fn from_posix(path: &Path, image: posix::Image) -> Self {
        // st_dev/st_ino/st_size widths differ between targets.
        #[allow(clippy::unnecessary_cast)]
        let (dev, ino, size) = (image.stat.st_dev as u64, image.stat.st_ino as u64, image.stat.st_size as u64);
        OpenedImage {
            // A created image has a temporary name until it is published.
            path: if image.created { image.current_path() } else { path.to_path_buf() },
            id: FileId { dev, ino },
            size,
            writable: image.writable,
            created: image.created,
            handle: Some(image),
        }
    }
}

/// How long to wait for `/dev/mdN` after the attach.
pub const NODE_TIMEOUT: Duration = Duration::from_secs(5);

/// The system operations the FreeBSD backend needs. The required methods
/// are the md(4)/mount syscalls and the newfs exec; the provided ones are
/// plain POSIX (shared with Linux through [`posix`]) and are overridden
/// only by test doubles.
pub trait MdSys {
    /// MDIOCATTACH; returns the unit the kernel used.
    fn attach(&mut self, req: &AttachRequest) -> Result<u32>;
    /// MDIOCDETACH of `unit` (mediasize 0; options 0, or MD_FORCE).
    fn detach(&mut self, unit: u32, force: bool) -> Result<()>;
    /// MDIOCQUERY of `unit`.
    fn query(&mut self, unit: u32) -> Result<UnitQuery>;
    /// DIOCGIDENT on `/dev/mdN`: the unit's GEOM ident.
    fn disk_ident(&mut self, unit: u32) -> Result<String>;
    /// Every md unit (the MD class of `kern.geom.confxml`).
    fn list_units(&mut self) -> Result<Vec<MdUnit>>;
    /// Every mounted file system (getfsstat(2)), in mount order.
    fn mounts(&mut self) -> Result<Vec<MountEntry>>;
    /// nmount(2), with the errmsg text in the error.
    fn nmount(&mut self, req: &NmountRequest) -> Result<()>;
    /// unmount(2) of a mount point; `force` adds MNT_FORCE.
    fn unmount(&mut self, fspath: &Path, force: bool) -> Result<()>;
    /// Runs newfs with `argv` (argv[0] is its absolute path); its output is
    /// shown when `loud`, otherwise captured and shown on failure.
    fn run_newfs(&mut self, argv: &[OsString], loud: bool) -> Result<()>;
    /// The first `len` bytes of the disk `node`, for its superblock.
    fn read_start(&mut self, node: &Path, len: usize) -> Result<Vec<u8>> {
        fsck::read_start(node, len)
    }
    /// Runs `fsck_ufs -p` ([`fsck::fsck_argv`]); returns its output.
    fn run_fsck(&mut self, argv: &[OsString]) -> Result<String> {
        fsck::run(argv)
    }

    /// Opens (or with `--create` makes) and locks the image: no symlink
    /// in any component, created 0600 and never over an existing file.
    fn open_image(&mut self, o: &OpenImage) -> Result<OpenedImage> {
        Ok(OpenedImage::from_posix(&o.path, posix::open_image(&o.path, o.create, o.read_only)?))
    }
    /// Removes the image this run created, if its name still points at it.
    fn remove_image(&mut self, image: &OpenedImage) -> Result<()> {
        image.handle.as_ref().map_or(Ok(()), posix::Image::remove_created)
    }
    /// stat(2): the identity of the file at `path`.
    fn stat_file(&self, path: &Path) -> Result<FileId> {
        let st = nix::sys::stat::stat(path).map_err(|e| Error::sys(path.display().to_string(), e))?;
        #[allow(clippy::unnecessary_cast)]
        Ok(FileId { dev: st.st_dev as u64, ino: st.st_ino as u64 })
    }
    /// realpath(3), as umount(8) resolves its argument.
    fn realpath(&self, path: &Path) -> Result<PathBuf> {
        std::fs::canonicalize(path).map_err(|e| crate::error::from_io(path.display().to_string(), &e))
    }
    fn page_size(&self) -> u64 {
        nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok().flatten().map_or(4096, |p| p as u64)
    }
    fn inspect_backing(&self, file: &Path) -> Result<BackingFile> {
        requests::inspect_backing(file)
    }
    fn wait_for_node(&mut self, node: &Path) -> Result<()> {
        posix::wait_for_node(node, NODE_TIMEOUT)
    }
    /// mount(8)'s checkpath: realpath, and it must be a directory.
    fn resolve_mount_point(&self, mount_point: &Path) -> Result<PathBuf> {
        resolve_mount_point(mount_point)
    }
    fn mounted_read_only(&mut self, fspath: &Path) -> Result<bool> {
        posix::is_read_only(&posix::open_root(fspath)?)
    }
    fn set_mode(&mut self, fspath: &Path, mode: u32) -> Result<()> {
        posix::set_mode(&posix::open_root(fspath)?, fspath, mode)
    }
    fn set_owner(&mut self, fspath: &Path, uid: u32, gid: u32) -> Result<()> {
        posix::set_owner(&posix::open_root(fspath)?, fspath, uid, gid)
    }
    fn copy_skeleton(&mut self, fspath: &Path, from: &Path) -> Result<()> {
        posix::copy_skeleton(from, &posix::open_root(fspath)?)
    }
}

/// The FreeBSD platform over a set of system operations.
pub struct FreeBsd<S: MdSys> {
    sys: S,
    /// `check` takes `&self` but may have something to say.
    notes: RefCell<Vec<Note>>,
    /// The image, open and locked from the OpenImage step to the end.
    image: Option<OpenedImage>,
    /// The unit whose node `attach` already waited for.
    node_ready: Option<u32>,
}

#[cfg(md_backend)]
impl FreeBsd<sys::Kernel> {
    /// The real thing.
    pub fn new() -> Self {
        Self::with_sys(sys::Kernel::new())
    }
}

#[cfg(md_backend)]
impl Default for FreeBsd<sys::Kernel> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: MdSys> FreeBsd<S> {
    pub fn with_sys(sys: S) -> Self {
        FreeBsd { sys, notes: RefCell::new(Vec::new()), image: None, node_ready: None }
    }
    pub fn sys(&self) -> &S {
        &self.sys
    }
    pub fn into_sys(self) -> S {
        self.sys
    }

    fn note(&self, n: Note) {
        self.notes.borrow_mut().push(n);
    }

    /// The image this run opened, if any.
    pub fn image(&self) -> Option<&OpenedImage> {
        self.image.as_ref()
    }

    /// The attach request for `a`. The path handed to the kernel is the
    /// realpath, as mdconfig gives it; size and writability come from the
    /// image we hold open (a dry run, which opens nothing, inspects it).
    fn request_for(&self, a: &Attach) -> Result<(AttachRequest, Vec<Note>)> {
        let backing = match &a.backing {
            Backing::Vnode(p) => Some(match self.image.as_ref().filter(|i| &i.path == p) {
                Some(img) => BackingFile {
                    path: self.sys.realpath(p).map_err(|e| Error {
                        what: format!("could not find full path for {}", p.display()),
                        why: e.why,
                    })?,
                    size: img.size,
                    regular: true,
                    writable: img.writable,
                },
                None => self.sys.inspect_backing(p)?,
            }),
            _ => None,
        };
        attach_request(a, backing.as_ref(), self.sys.page_size())
    }

    /// After MDIOCATTACH of a vnode disk: the kernel opened the file by
    /// path, so make sure that path still led to the file we hold. On a
    /// mismatch (or if it cannot be told) the unit is detached again.
    fn verify_backing(&mut self, dev: &Device, img_path: &Path, id: FileId) -> Result<()> {
        let checked = self.sys.wait_for_node(&dev.path).and_then(|()| {
            self.node_ready = Some(dev.unit);
            match self.sys.disk_ident(dev.unit) {
                Ok(ident) => Ok(ident_matches(&ident, id)),
                // A kernel without idents: the path it recorded, stat'ed.
                Err(e) if matches!(e.errno(), Some(Errno::ENOTTY | Errno::EOPNOTSUPP)) => {
                    let q = self.sys.query(dev.unit)?;
                    Ok(q.file.is_some_and(|f| self.sys.stat_file(&f).ok() == Some(id)))
                }
                Err(e) => Err(e),
            }
        });
        let failure = match checked {
            Ok(true) => return Ok(()),
            Ok(false) => Error::plain(format!(
                "{}: replaced while attaching; detached {}",
                img_path.display(),
                dev.path.display()
            )),
            Err(e) => e,
        };
        if let Err(d) = self.sys.detach(dev.unit, false) {
            self.note(Note::Warning(format!("rollback: {d}")));
        }
        self.node_ready = None;
        Err(failure)
    }

    /// The identity of the file backing `u`, as the lifecycle compares it:
    /// an ident that fits its 31 characters names it exactly; a cut one (or
    /// none) is confirmed through the path the unit was attached with.
    fn backing_of(&self, u: &MdUnit) -> Option<super::FileId> {
        if u.md_type != Some(abi::MD_VNODE) {
            return None;
        }
        let exact = u.ident.as_deref().filter(|i| i.len() < abi::MD_IDENT_LEN - 1).and_then(parse_ident);
        let id = match exact {
            Some(id) => id,
            None => self.sys.stat_file(u.file.as_deref()?).ok()?,
        };
        Some(super::FileId { dev: id.dev, ino: id.ino })
    }

    /// After a successful nmount: read the mount's flags; if even that
    /// fails, unmount again (the executor only undoes mounts it was told
    /// about) and report the first error.
    fn finish_mount(&mut self, fspath: PathBuf, fstype: String) -> Result<Mounted> {
        match self.sys.mounted_read_only(&fspath) {
            Ok(read_only) => Ok(Mounted { mount_point: fspath, fstype, read_only }),
            Err(e) => {
                if let Err(u) = self.sys.unmount(&fspath, false) {
                    self.note(Note::Warning(format!("rollback: {u}")));
                }
                Err(e)
            }
        }
    }
}

/// `MD-DEV<dev>-INO<ino>` (an ident that was not cut) → the file's id.
fn parse_ident(ident: &str) -> Option<FileId> {
    let (dev, ino) = ident.strip_prefix("MD-DEV")?.split_once("-INO")?;
    Some(FileId { dev: dev.parse().ok()?, ino: ino.parse().ok()? })
}

/// The key mounts and units are matched by. Until this backend compares
/// the `rdev` of `f_mntfromname` with the unit's node, it is derived from
/// the unit number [`md_unit_of`] reads in the mount's `from`.
fn unit_key(unit: u32) -> u64 {
    (1 << 32) | u64::from(unit)
}

fn fstype_of(m: &Mount) -> String {
    match &m.fstype {
        FsType::Named(t) => t.clone(),
        // FreeBSD's defaults never ask for probing; mdmfs assumes UFS.
        FsType::Probe => "ufs".into(),
    }
}

impl<S: MdSys> Platform for FreeBsd<S> {
    fn defaults(&self) -> Defaults {
        // tmpfs is in GENERIC or autoloaded by nmount(2) (vfs_byname_kld).
        Defaults { fstype: "ufs", probe_preserved: false, tmpfs_available: true }
    }

    fn check(&mut self, plan: &Plan) -> Result<()> {
        for step in &plan.steps {
            match step {
                Step::EnterNamespace(_) => {
                    return Err(Error::plain("mount namespaces (mount.md -N) exist only on Linux"));
                }
                Step::Attach(a) => requests::validate_size(&a.backing, a.size, self.sys.page_size())?,
                Step::Format(f) if f.fstype != "ufs" => {
                    return Err(Error::plain(format!(
                        "-T {}: newfs makes only UFS; use -P with an image that already holds a {} file system",
                        f.fstype, f.fstype
                    )));
                }
                _ => {}
            }
        }
        if let Some(mdconfig) = &plan.mdconfig_path {
            self.note(Note::Debug(format!(
                "-E {}: ignored; mount_md attaches with MDIOCATTACH itself and runs no mdconfig",
                mdconfig.display()
            )));
        }
        Ok(())
    }

    fn describe(&self, step: &Step, dev: Option<&Device>) -> String {
        let name = describe::device_name("/dev/md", dev);
        match step {
            Step::PreDetach(u) => {
                format!("ioctl({}, MDIOCDETACH, {}) (errors ignored)", abi::MDCTL_PATH, describe_detach(*u))
            }
            Step::Attach(a) => {
                let what = match self.request_for(a) {
                    Ok((req, _)) => req.describe(),
                    // Under -N the image may not be there yet: say why.
                    Err(e) => format!("{{{}: {e}}}", describe::generic(step, "/dev/md", dev)),
                };
                format!("ioctl({}, MDIOCATTACH, {what})", abi::MDCTL_PATH)
            }
            Step::WaitForNode => format!("wait for {name}"),
            Step::Examine(e) => describe::examine(e, &name, &format!("{} -p", fsck::FSCK_UFS)),
            Step::Format(f) => show_argv(&newfs_argv(f, Path::new(&name))),
            Step::Mount(m) => {
                let from = mount_from(Path::new(&name), &m.suffix);
                let ro = dev.is_some_and(|d| d.read_only);
                match nmount_request(&fstype_of(m), &m.options, &m.mount_point, &from, ro) {
                    Ok(r) => r.describe(),
                    Err(e) => format!("nmount: {e}"),
                }
            }
            Step::MountTmpfs(t) => match tmpfs_request(t, &t.mount_point) {
                Ok(r) => r.describe(),
                Err(e) => format!("nmount: {e}"),
            },
            _ => describe::generic(step, "/dev/md", dev),
        }
    }

    fn enter_namespace(&mut self, _: &Path) -> Result<()> {
        Err(Error::plain("mount namespaces (mount.md -N) exist only on Linux"))
    }

    fn open_image(&mut self, o: &OpenImage) -> Result<bool> {
        let img = self.sys.open_image(o)?;
        let created = img.created;
        self.note(Note::Debug(format!(
            "opened {} (dev {}, inode {}, {}){}",
            o.path.display(),
            img.id.dev,
            img.id.ino,
            if img.writable { "read-write" } else { "read-only" },
            if created { ", created" } else { "" }
        )));
        self.image = Some(img);
        Ok(created)
    }

    fn remove_image(&mut self) -> Result<()> {
        match &self.image {
            Some(img) => self.sys.remove_image(img),
            None => Ok(()),
        }
    }

    fn image_id(&self) -> Option<super::FileId> {
        self.image.as_ref().map(|i| super::FileId { dev: i.id.dev, ino: i.id.ino })
    }

    fn units(&mut self) -> Result<Vec<UnitInfo>> {
        let units = self.sys.list_units()?;
        Ok(units
            .iter()
            .map(|u| UnitInfo {
                device: Device { unit: u.unit, path: device_path(u.unit), read_only: u.read_only.unwrap_or(false) },
                rdev: unit_key(u.unit),
                backing: self.backing_of(u),
                // md_label is not read back yet.
                owner: Owner::Unchecked,
                autoclear: false,
            })
            .collect())
    }

    fn mounts(&mut self) -> Result<Vec<MountRec>> {
        Ok(self
            .sys
            .mounts()?
            .into_iter()
            .enumerate()
            .map(|(i, m)| MountRec {
                id: i as u64 + 1,
                dev: md_unit_of(&m.from).map_or(0, unit_key),
                on: m.on,
                fstype: String::new(),
                source: m.from,
            })
            .collect())
    }

    fn held(&mut self, u: &UnitInfo) -> Result<bool> {
        Ok(self.sys.list_units()?.iter().any(|m| m.unit == u.device.unit && m.held_open()))
    }

    fn identify(&mut self, path: &Path) -> Result<PathKind> {
        let real = self.sys.realpath(path)?;
        if let Some(m) = self.mounts()?.into_iter().rev().find(|m| m.on == real) {
            return Ok(PathKind::MountRoot(m.id));
        }
        // Not a mount point: the image, if any unit is backed by it.
        let id = self.sys.stat_file(&real)?;
        Ok(PathKind::File(super::FileId { dev: id.dev, ino: id.ino }))
    }

    fn unmount_at(&mut self, on: &Path, force: bool) -> Result<()> {
        self.sys.unmount(on, force)
    }

    fn release_unit(&mut self, u: &UnitInfo, force: bool) -> Result<Detached> {
        match self.sys.detach(u.device.unit, force) {
            Ok(()) => Ok(Detached::Now),
            Err(e) if e.errno() == Some(Errno::ENOENT) => Ok(Detached::Now),
            Err(e) => Err(e),
        }
    }

    fn disk_name(&self) -> &'static str {
        "an md(4) disk"
    }

    fn reuse(&mut self, e: &Existing, a: &Attach) -> Result<Option<Device>> {
        let unit = e.device.unit;
        let q = self.sys.query(unit)?;
        let (req, _) = self.request_for(a)?;
        // We ask for 512-byte sectors; the kernel cuts a partial last one off.
        let want = req.mediasize - req.mediasize % 512;
        let q_ro = q.options & abi::MD_READONLY != 0;
        let misfit = if q.md_type != abi::MD_VNODE {
            Some(format!("type {}", abi::type_name(q.md_type)))
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
                self.note(Note::Debug(format!("{} does not fit: {why}", e.device.path.display())));
                Ok(None)
            }
            None => Ok(Some(Device { unit, path: device_path(unit), read_only: q_ro })),
        }
    }

    fn detach_unit(&mut self, unit: u32) -> Result<()> {
        self.sys.detach(unit, false)
    }

    fn attach(&mut self, a: &Attach, _mount_point: &Path) -> Result<Device> {
        let (req, notes) = self.request_for(a)?;
        self.notes.borrow_mut().extend(notes);
        let unit = self.sys.attach(&req)?;
        let path = device_path(unit);
        self.note(Note::Debug(format!("attached {} {}", path.display(), req.describe())));
        let dev = Device { unit, path, read_only: req.read_only() };
        if let Backing::Vnode(given) = &a.backing {
            if let Some(id) = self.image.as_ref().map(|i| i.id) {
                self.verify_backing(&dev, given, id)?;
                self.note(Note::Debug(format!(
                    "{} is backed by {} ({})",
                    dev.path.display(),
                    given.display(),
                    vnode_ident(id)
                )));
            }
        }
        Ok(dev)
    }

    fn detach(&mut self, dev: &Device) -> Result<()> {
        if self.node_ready == Some(dev.unit) {
            self.node_ready = None;
        }
        self.sys.detach(dev.unit, false)
    }

    fn wait_for_node(&mut self, dev: &Device) -> Result<()> {
        if self.node_ready == Some(dev.unit) {
            return Ok(());
        }
        self.sys.wait_for_node(&dev.path)
    }

    fn format(&mut self, dev: &Device, f: &Format) -> Result<()> {
        // The error names the image, not only the unit.
        let image = self.image.as_ref().map_or_else(|| dev.path.clone(), |i| i.path.clone());
        self.sys.run_newfs(&newfs_argv(f, &dev.path), f.loud).map_err(|mut e| {
            e.what = format!("{} on {}", e.what, image.display());
            e
        })
    }

    fn publish_image(&mut self) -> Result<()> {
        if let Some(OpenedImage { handle: Some(h), path, .. }) = &mut self.image {
            h.publish()?;
            *path = h.current_path();
        }
        Ok(())
    }

    fn read_start(&mut self, dev: &Device, len: usize) -> Result<Vec<u8>> {
        self.sys.read_start(&dev.path, len)
    }

    /// UFS only (base has no other checker): `fsck_ufs -p /dev/mdN`.
    fn fsck(&mut self, dev: &Device, fs: &str) -> Result<Option<String>> {
        if fs != "ufs" {
            return Ok(None);
        }
        let image = self.image.as_ref().map_or_else(|| dev.path.clone(), |i| i.path.clone());
        let output = self.sys.run_fsck(&fsck::fsck_argv(&dev.path)).map_err(|mut e| {
            e.what = format!("{} on {}", e.what, image.display());
            e
        })?;
        for line in output.lines().filter(|l| !l.trim().is_empty()) {
            self.note(Note::Debug(format!("fsck_ufs: {line}")));
        }
        Ok(Some("fsck_ufs -p".into()))
    }

    fn mount(&mut self, dev: &Device, m: &Mount) -> Result<Mounted> {
        let fstype = fstype_of(m);
        let fspath = self.sys.resolve_mount_point(&m.mount_point)?;
        let from = mount_from(&dev.path, &m.suffix);
        let req = nmount_request(&fstype, &m.options, &fspath, &from, dev.read_only)?;
        self.sys.nmount(&req)?;
        self.finish_mount(fspath, fstype)
    }

    fn mount_tmpfs(&mut self, t: &TmpfsMount) -> Result<Mounted> {
        let fspath = self.sys.resolve_mount_point(&t.mount_point)?;
        let req = tmpfs_request(t, &fspath)?;
        self.sys.nmount(&req)?;
        self.finish_mount(fspath, "tmpfs".into())
    }

    fn unmount(&mut self, m: &Mounted) -> Result<()> {
        self.sys.unmount(&m.mount_point, false)
    }

    fn set_mode(&mut self, m: &Mounted, mode: u32) -> Result<()> {
        self.sys.set_mode(&m.mount_point, mode)
    }

    fn set_owner(&mut self, m: &Mounted, uid: u32, gid: u32) -> Result<()> {
        self.sys.set_owner(&m.mount_point, uid, gid)
    }

    fn copy_skeleton(&mut self, m: &Mounted, from: &Path) -> Result<()> {
        self.sys.copy_skeleton(&m.mount_point, from)
    }

    fn take_notes(&mut self) -> Vec<Note> {
        self.notes.take()
    }

    // grow/list (src/platform/freebsd/grow.rs); elsewhere the defaults
    // say the system cannot.
    #[cfg(md_backend)]
    fn grow(&mut self, req: &crate::request::GrowRequest, io: &mut crate::exec::Output<'_>) -> Result<()> {
        grow::grow(&mut self.sys, &mut grow_sys::KernelGrow::new(), req, io)
    }

    #[cfg(md_backend)]
    fn list(&mut self) -> Result<Vec<crate::list::Listed>> {
        grow::list(&mut self.sys, &mut grow_sys::KernelGrow::new())
    }
}
