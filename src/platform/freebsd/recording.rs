//! A recording [`MdSys`] for tests: logs every system operation the
//! FreeBSD backend asks for, with its exact arguments, tracks which units
//! are attached (with what the kernel would say about them) and what is
//! mounted from where, and can fail any operation once.
//!
//! Operations go to [`Recorder::calls`] (those that change something:
//! [`Recorder::changes`]); questions to [`Recorder::asked`].
use super::abi::{MD_READONLY, MD_VNODE};
use super::geom::{md_unit_of, vnode_ident, FileId, MdUnit, MountEntry, UnitQuery};
use super::grow::ResizeRequest;
use super::requests::{AttachRequest, BackingFile, IoValue, NmountRequest};
use super::{posix, MdSys, Opened, OpenedImage};
use crate::error::{Error, Result};
use crate::plan::{on_a_disk, OpenImage};
use nix::errno::Errno;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One recorded operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SysCall {
    /// `--create` made the image (named as given; it is made under its
    /// temporary name).
    CreateImage(PathBuf),
    /// The created image got its final name.
    PublishImage(PathBuf),
    RemoveImage(PathBuf),
    Attach(AttachRequest),
    Detach(u32),
    /// MDIOCDETACH with MD_FORCE.
    DetachForced(u32),
    WaitForNode(PathBuf),
    /// A bounded wait's sleep.
    Pause(std::time::Duration),
    Newfs {
        argv: Vec<String>,
        loud: bool,
    },
    /// fsck_ufs, with its argv.
    Fsck(Vec<String>),
    Nmount(NmountRequest),
    Unmount(PathBuf),
    /// unmount(2) with MNT_FORCE.
    UnmountForced(PathBuf),
    ReadOnlyCheck(PathBuf),
    SetMode(PathBuf, u32),
    SetOwner(PathBuf, u32, u32),
    CopySkeleton {
        fspath: PathBuf,
        from: PathBuf,
    },
    /// `-r`: the image's new tail allocated, `from..to`.
    Extend(u64, u64),
    /// `-r` rollback: the image cut back to this length.
    Truncate(u64),
    Resize(ResizeRequest),
    Growfs(Vec<String>),
    /// geli(8), with its arguments.
    Geli(Vec<String>),
}

/// One recorded question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    OpenImage(PathBuf),
    Query(u32),
    Ident(u32),
    /// `list_units`: a read of `kern.geom.confxml`.
    ListUnits,
    /// `geli_layers`: another read of `kern.geom.confxml`.
    Geli,
    Mounts,
    /// stat(2) and devname(3) of a mount's `from` node.
    DeviceName(PathBuf),
}

/// What the double's kernel knows about an attached unit: its state, from
/// which it answers `list_units` ([`MdUnit`]) and `query` ([`UnitQuery`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecUnit {
    pub md_type: libc::c_uint,
    pub mediasize: u64,
    pub read_only: bool,
    /// The backing file's realpath and identity (vnode units).
    pub file: Option<(PathBuf, FileId)>,
    /// Opens other than mounts (a process holding `/dev/mdN`).
    pub held: bool,
    /// `md_label` as attached.
    pub label: Vec<u8>,
}

/// The recording double.
#[derive(Debug, Default)]
pub struct Recorder {
    pub calls: Vec<SysCall>,
    pub asked: Vec<Asked>,
    /// What `inspect_backing` reports, by the path as given.
    pub files: BTreeMap<PathBuf, BackingFile>,
    /// Each file's identity, by realpath.
    pub ids: BTreeMap<PathBuf, FileId>,
    /// Files (by realpath) that the kernel, opening them by path at
    /// MDIOCATTACH, finds replaced by another file.
    pub replaced: BTreeSet<PathBuf>,
    /// Each attached unit, by number, with what the kernel knows about it.
    pub units: BTreeMap<u32, RecUnit>,
    /// Mounts in mount order: mount point, `from` and type (`ufs` when
    /// nmount names none).
    pub mounted: Vec<(PathBuf, String, String)>,
    /// The next this many non-forced detaches answer EBUSY (a GEOM
    /// re-taste holding the provider).
    pub busy_detaches: u32,
    /// Answer DIOCGIDENT with ENOTTY (a kernel without md idents).
    pub no_idents: bool,
    /// Fail the first operation of each listed kind, once: `open`,
    /// `publish`, `remove`, `attach`, `detach`, `ident`, `list`, `mounts`,
    /// `wait`, `newfs`, `fsck`, `nmount`, `unmount`, `statfs`, `chmod`,
    /// `chown`, `extend`, `resize`, `growfs`, `skel`, and `geli init`,
    /// `geli attach`, `geli detach`.
    pub fail: Vec<(&'static str, Errno)>,
    /// Called as the first operation of this kind (a `fail` kind) starts:
    /// a test that holds the stop signals sends itself one there.
    pub during: Option<(&'static str, fn())>,
    /// The kernel's errmsg when `nmount` fails.
    pub errmsg: String,
    /// Mounts come out read-only.
    pub read_only_fs: bool,
    /// The first bytes of every disk (a superblock, or a geli image's
    /// ciphertext); empty: none.
    pub disk_start: Vec<u8>,
    /// Every mounted root opened (right after nmount), by mount point.
    pub roots: Vec<PathBuf>,
    /// Each root handed out holds a clone: [`Recorder::open_roots`].
    open: Arc<()>,
}

/// A mounted root the recorder handed out: counted by
/// [`Recorder::open_roots`] until it is dropped.
#[derive(Debug)]
pub struct Root {
    /// The mount point it was opened for (recorded calls name it).
    pub of: PathBuf,
    _open: Arc<()>,
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Knows `given` as a regular, writable file of `size` bytes whose
    /// realpath is `real`.
    pub fn with_file(mut self, given: &str, real: &str, size: u64) -> Self {
        self.files.insert(
            PathBuf::from(given),
            BackingFile { path: PathBuf::from(real), size, regular: true, writable: true },
        );
        self.id_of(Path::new(real));
        self
    }

    /// The identity of the file at realpath `real` (made up on first use:
    /// device 90, inodes from 1000 on).
    pub fn id_of(&mut self, real: &Path) -> FileId {
        let next = FileId { dev: 90, ino: 1000 + self.ids.len() as u64 };
        *self.ids.entry(real.to_path_buf()).or_insert(next)
    }

    /// A vnode unit left attached (by an earlier run) on the file known as
    /// `given`, of `mediasize` bytes.
    pub fn with_leftover(mut self, unit: u32, given: &str, mediasize: u64, read_only: bool) -> Self {
        let real = self.files[Path::new(given)].path.clone();
        let id = self.id_of(&real);
        let label = crate::mark::encode(b"", crate::mark::FREEBSD_CAPACITY);
        self.units.insert(
            unit,
            RecUnit { md_type: MD_VNODE, mediasize, read_only, file: Some((real, id)), held: false, label },
        );
        self
    }

    /// Sets the label of an attached unit (an empty one: another tool's).
    pub fn with_label(mut self, unit: u32, label: &[u8]) -> Self {
        self.units.get_mut(&unit).expect("with_label of an attached unit").label = label.to_vec();
        self
    }

    /// Something is mounted on `on` from `from`: UFS from a `/dev/` node,
    /// a ZFS dataset otherwise.
    pub fn with_mount(mut self, from: &str, on: &str) -> Self {
        let fstype = if from.starts_with("/dev/") { "ufs" } else { "zfs" };
        self.mounted.push((PathBuf::from(on), from.to_string(), fstype.into()));
        self
    }

    pub fn failing_at(mut self, kind: &'static str, errno: Errno) -> Self {
        self.fail.push((kind, errno));
        self
    }

    /// Nothing attached, nothing mounted.
    pub fn is_clean(&self) -> bool {
        self.units.is_empty() && self.mounted.is_empty()
    }

    /// How many mounted roots are still open: 0 once a run is over,
    /// whether it succeeded or was rolled back.
    pub fn open_roots(&self) -> usize {
        Arc::strong_count(&self.open) - 1
    }

    /// Operations of the kinds that change something, in order.
    pub fn changes(&self) -> Vec<&SysCall> {
        self.calls
            .iter()
            .filter(|c| !matches!(c, SysCall::WaitForNode(_) | SysCall::ReadOnlyCheck(_) | SysCall::Pause(_)))
            .collect()
    }

    /// How many mounts hold `unit` open: those of a disk type whose
    /// `from` names it (a tmpfs mounted with any source text holds nothing).
    fn mounts_of(&self, unit: u32) -> usize {
        self.mounted
            .iter()
            .filter(|(_, from, ty)| on_a_disk(ty) == Some(true) && md_unit_of(from) == Some(unit))
            .count()
    }

    /// Records `call`, then fails if a failure of `kind` is due.
    fn record(&mut self, call: SysCall, kind: &str, what: impl Into<String>) -> Result<()> {
        self.calls.push(call);
        self.maybe_fail(kind, what)
    }

    fn maybe_fail(&mut self, kind: &str, what: impl Into<String>) -> Result<()> {
        if let Some((_, f)) = self.during.take_if(|(k, _)| *k == kind) {
            f();
        }
        let Some(i) = self.fail.iter().position(|(k, _)| *k == kind) else { return Ok(()) };
        let (_, errno) = self.fail.remove(i);
        if kind == "nmount" && !self.errmsg.is_empty() {
            return Err(Error::explained(what, self.errmsg.clone(), errno));
        }
        Err(Error::sys(what, errno))
    }
}

impl MdSys for Recorder {
    type Pin = ();
    type Root = Root;

    /// No real files to look at: the recorded run is the check.
    fn preflight(&self, _plan: &crate::plan::Plan) -> Result<()> {
        Ok(())
    }

    fn resize(&mut self, req: &ResizeRequest) -> Result<()> {
        self.record(SysCall::Resize(req.clone()), "resize", "resize")?;
        if let Some(u) = self.units.get_mut(&req.unit) {
            u.mediasize = req.mediasize;
        }
        Ok(())
    }

    fn run_growfs(&mut self, argv: &[OsString]) -> Result<()> {
        self.record(SysCall::Growfs(strings(argv)), "growfs", "growfs")
    }

    fn extend(&mut self, _: &OpenedImage, from: u64, to: u64) -> Result<()> {
        self.record(SysCall::Extend(from, to), "extend", "extend")
    }

    fn truncate(&mut self, _: &OpenedImage, len: u64) -> Result<()> {
        self.calls.push(SysCall::Truncate(len));
        Ok(())
    }

    fn usage(&mut self, _: &Path) -> Option<crate::unit::Usage> {
        Some(crate::unit::Usage { size: 1 << 30, used: 4096, available: (1 << 30) - 4096 })
    }

    fn attach(&mut self, req: &AttachRequest) -> Result<u32> {
        self.record(SysCall::Attach(req.clone()), "attach", "ioctl(/dev/mdctl, MDIOCATTACH)")?;
        let unit = if req.autounit() {
            (0..).find(|u| !self.units.contains_key(u)).unwrap_or(0)
        } else if self.units.contains_key(&req.unit) {
            return Err(Error::sys("ioctl(/dev/mdctl, MDIOCATTACH)", Errno::EBUSY));
        } else {
            req.unit
        };
        let file = req.file.as_ref().map(|f| {
            let real = PathBuf::from(f.to_string_lossy().into_owned());
            let mut id = self.id_of(&real);
            if self.replaced.contains(&real) {
                id.ino += 1_000_000;
            }
            (real, id)
        });
        self.units.insert(
            unit,
            RecUnit {
                md_type: req.md_type,
                mediasize: req.mediasize - req.mediasize % 512,
                read_only: req.read_only(),
                file,
                held: false,
                label: req.label.as_ref().map(|l| l.as_bytes().to_vec()).unwrap_or_default(),
            },
        );
        Ok(unit)
    }

    fn detach(&mut self, unit: u32, force: bool) -> Result<()> {
        let call = if force { SysCall::DetachForced(unit) } else { SysCall::Detach(unit) };
        let what = format!("detach /dev/md{unit}");
        self.record(call, "detach", what.clone())?;
        let Some(&RecUnit { held, .. }) = self.units.get(&unit) else { return Err(Error::sys(what, Errno::ENOENT)) };
        if !force && (self.busy_detaches > 0 || self.mounts_of(unit) > 0 || held) {
            // A settling re-taste answers EBUSY once per count.
            self.busy_detaches = self.busy_detaches.saturating_sub(1);
            return Err(Error::sys(what, Errno::EBUSY));
        }
        self.units.remove(&unit);
        Ok(())
    }

    fn query(&mut self, unit: u32) -> Result<UnitQuery> {
        self.asked.push(Asked::Query(unit));
        let what = format!("ioctl(/dev/mdctl, MDIOCQUERY) of md{unit}");
        let u = self.units.get(&unit).ok_or_else(|| Error::sys(what, Errno::ENOENT))?;
        Ok(UnitQuery {
            md_type: u.md_type,
            options: if u.read_only { MD_READONLY } else { 0 },
            mediasize: u.mediasize,
            sectorsize: 512,
            file: u.file.as_ref().map(|(p, _)| p.clone()),
            label: Some(u.label.clone()),
        })
    }

    fn disk_ident(&mut self, unit: u32) -> Result<String> {
        self.asked.push(Asked::Ident(unit));
        let what = format!("ioctl(/dev/md{unit}, DIOCGIDENT)");
        self.maybe_fail("ident", what.clone())?;
        if self.no_idents {
            return Err(Error::sys(what, Errno::ENOTTY));
        }
        match self.units.get(&unit) {
            Some(RecUnit { file: Some((_, id)), .. }) => Ok(vnode_ident(*id)),
            Some(_) => Err(Error::sys(what, Errno::EOPNOTSUPP)),
            None => Err(Error::sys(format!("/dev/md{unit}"), Errno::ENOENT)),
        }
    }

    /// The recording double has no geli.
    fn geli_layers(&mut self) -> Result<Vec<super::eli::EliProvider>> {
        self.asked.push(Asked::Geli);
        Ok(Vec::new())
    }

    fn list_units(&mut self) -> Result<Vec<MdUnit>> {
        self.asked.push(Asked::ListUnits);
        self.maybe_fail("list", "sysctl kern.geom.confxml")?;
        let units = self.units.iter().map(|(&unit, u)| {
            let opens = self.mounts_of(unit) as u32 + u32::from(u.held);
            MdUnit {
                unit,
                md_type: Some(u.md_type),
                read_only: Some(u.read_only),
                ident: if self.no_idents { None } else { u.file.as_ref().map(|(_, id)| vnode_ident(*id)) },
                file: u.file.as_ref().map(|(p, _)| p.clone()),
                label: Some(u.label.clone()),
                access: Some((opens, opens, opens)),
            }
        });
        Ok(units.collect())
    }

    fn mounts(&mut self) -> Result<Vec<MountEntry>> {
        self.asked.push(Asked::Mounts);
        self.maybe_fail("mounts", "getfsstat")?;
        Ok(self
            .mounted
            .iter()
            .enumerate()
            .map(|(i, (on, from, fstype))| MountEntry {
                from: PathBuf::from(from),
                on: on.clone(),
                fstype: fstype.clone(),
                flags: 0,
                fsid: [0x100 + i as i32, 0x35],
            })
            .collect())
    }

    /// `/dev/mdN` (and `/dev/mdN.suffix`) of an attached unit is `mdN…`.
    fn device_name(&mut self, node: &Path) -> Result<Option<String>> {
        self.asked.push(Asked::DeviceName(node.to_path_buf()));
        let name = node.to_string_lossy();
        let Some(rest) = name.strip_prefix("/dev/") else { return Ok(None) };
        Ok(md_unit_of(rest).filter(|u| self.units.contains_key(u)).map(|_| rest.to_string()))
    }

    fn nmount(&mut self, req: &NmountRequest) -> Result<()> {
        self.record(SysCall::Nmount(req.clone()), "nmount", req.from())?;
        let Some(IoValue::Text(p)) = req.get("fspath") else { return Ok(()) };
        let fstype = match req.get("fstype") {
            Some(IoValue::Text(t)) => t.to_string_lossy().into_owned(),
            _ => "ufs".into(),
        };
        self.mounted.push((PathBuf::from(p.to_string_lossy().into_owned()), req.from(), fstype));
        Ok(())
    }

    fn unmount(&mut self, fspath: &Path, force: bool) -> Result<()> {
        let p = fspath.to_path_buf();
        let call = if force { SysCall::UnmountForced(p) } else { SysCall::Unmount(p) };
        self.record(call, "unmount", format!("unmount of {}", fspath.display()))?;
        self.mounted.retain(|(on, _, _)| on != fspath);
        Ok(())
    }

    fn open_image(&mut self, o: &OpenImage) -> Result<Opened<OpenedImage>> {
        self.asked.push(Asked::OpenImage(o.path.clone()));
        self.maybe_fail("open", o.path.display().to_string())?;
        // As posix::open_image does, a new image is made under its
        // temporary name and keeps it until it is published.
        let create = o.create.or(o.from.as_ref().map(|_| (0, crate::request::CreateMode::Sparse)));
        let (created, at) = match (self.files.get(&o.path), create) {
            (Some(_), _) => (false, o.path.clone()),
            (None, Some(_)) if o.read_only => {
                return Err(Error::text(o.path.display().to_string(), posix::NO_READ_ONLY_CREATE));
            }
            (None, Some((size, _))) => {
                self.calls.push(SysCall::CreateImage(o.path.clone()));
                let tmp = o.path.with_file_name(posix::temp_name(o.path.file_name().unwrap_or_default()));
                self.files.insert(tmp.clone(), BackingFile { path: tmp.clone(), size, regular: true, writable: true });
                (true, tmp)
            }
            (None, None) => return Err(Error::sys(o.path.display().to_string(), Errno::ENOENT)),
        };
        let b = self.files[&at].clone();
        let id = self.id_of(&b.path);
        Ok(Opened {
            path: o.path.clone(),
            id,
            created,
            untrusted: None,
            made: None,
            handle: OpenedImage { path: at, size: b.size, writable: b.writable && !o.read_only, handle: None },
        })
    }

    /// Renames the created image, keeping its identity.
    fn publish_image(&mut self, image: &mut Opened<OpenedImage>) -> Result<()> {
        if !image.created {
            return Ok(());
        }
        let image = &mut image.handle;
        let to = &posix::published_name(&image.path).unwrap_or_else(|| image.path.clone());
        self.record(SysCall::PublishImage(to.to_path_buf()), "publish", to.display().to_string())?;
        if let Some(b) = self.files.remove(&image.path) {
            if let Some(id) = self.ids.remove(&b.path) {
                self.ids.insert(to.to_path_buf(), id);
            }
            self.files.insert(to.to_path_buf(), BackingFile { path: to.to_path_buf(), ..b });
        }
        image.path = to.to_path_buf();
        Ok(())
    }

    fn remove_image(&mut self, image: &Opened<OpenedImage>) -> Result<()> {
        if !image.created {
            return Ok(());
        }
        let image = &image.handle;
        self.record(SysCall::RemoveImage(image.path.clone()), "remove", image.path.display().to_string())?;
        if let Some(b) = self.files.remove(&image.path) {
            self.ids.remove(&b.path);
        }
        Ok(())
    }

    /// Known images by their realpath; any other path is a directory of
    /// its own (a mount point).
    fn stat_file(&self, path: &Path) -> Result<FileId> {
        let known = self.ids.get(path).or_else(|| self.files.get(path).and_then(|b| self.ids.get(&b.path)));
        Ok(known.copied().unwrap_or(FileId { dev: 1, ino: path.as_os_str().len() as u64 }))
    }

    /// Known images resolve as [`Recorder::files`] says; other paths are
    /// taken as real already.
    fn realpath(&self, path: &Path) -> Result<PathBuf> {
        Ok(self.files.get(path).map_or_else(|| path.to_path_buf(), |b| b.path.clone()))
    }

    fn run_newfs(&mut self, argv: &[OsString], loud: bool) -> Result<()> {
        self.record(SysCall::Newfs { argv: strings(argv), loud }, "newfs", "newfs")
    }

    /// A geli provider (`/dev/mdN.eli`) reads as nothing yet.
    fn read_start(&mut self, node: &Path, len: usize) -> Result<Vec<u8>> {
        if node.extension().is_some_and(|e| e == "eli") {
            return Ok(Vec::new());
        }
        Ok(self.disk_start.iter().copied().take(len).collect())
    }

    /// Records geli's arguments; the provider is not modelled (`geli_on`
    /// finds none).
    fn run_geli(&mut self, args: &[OsString], _key: Option<&crate::platform::keyed::Key>) -> Result<()> {
        let args = strings(args);
        let verb = format!("geli {}", args.first().map_or("", String::as_str));
        self.record(SysCall::Geli(args), &verb, verb.clone())
    }

    fn run_fsck(&mut self, argv: &[OsString]) -> Result<String> {
        self.record(SysCall::Fsck(strings(argv)), "fsck", "fsck_ufs -p")?;
        Ok("** /dev/md0\n** Phase 1 - Check Blocks and Sizes\n".into())
    }

    fn page_size(&self) -> u64 {
        4096
    }

    fn inspect_backing(&self, file: &Path) -> Result<BackingFile> {
        self.files
            .get(file)
            .cloned()
            .ok_or_else(|| Error::sys(format!("could not find full path for {}", file.display()), Errno::ENOENT))
    }

    fn wait_for_node(&mut self, node: &Path) -> Result<()> {
        self.record(SysCall::WaitForNode(node.to_path_buf()), "wait", node.display().to_string())
    }

    fn pause(&mut self, d: std::time::Duration) {
        self.calls.push(SysCall::Pause(d));
    }

    fn resolve_mount_point(&self, mount_point: &Path) -> Result<PathBuf> {
        Ok(mount_point.to_path_buf())
    }

    fn pin_mount_point(&mut self, _fspath: &Path) -> Result<()> {
        Ok(())
    }

    /// Counts the open in [`Recorder::roots`].
    fn open_mounted_root(&mut self, _pin: (), fspath: &Path) -> Result<Root> {
        self.roots.push(fspath.to_path_buf());
        Ok(Root { of: fspath.to_path_buf(), _open: self.open.clone() })
    }

    fn mounted_read_only(&mut self, root: &Root, _fspath: &Path) -> Result<bool> {
        self.record(SysCall::ReadOnlyCheck(root.of.clone()), "statfs", "statvfs")?;
        Ok(self.read_only_fs)
    }

    fn set_mode(&mut self, root: &Root, fspath: &Path, mode: u32) -> Result<()> {
        self.record(SysCall::SetMode(root.of.clone(), mode), "chmod", format!("chmod: {}", fspath.display()))
    }

    fn set_owner(&mut self, root: &Root, fspath: &Path, uid: u32, gid: u32) -> Result<()> {
        let what = format!("chown {} to {uid}:{gid}", fspath.display());
        self.record(SysCall::SetOwner(root.of.clone(), uid, gid), "chown", what)
    }

    fn copy_skeleton(&mut self, root: &Root, _fspath: &Path, from: &Path) -> Result<()> {
        let call = SysCall::CopySkeleton { fspath: root.of.clone(), from: from.to_path_buf() };
        self.record(call, "skel", format!("skel copy from {}", from.display()))
    }

    /// The recorder takes no locks.
    fn lock_image(&mut self, _path: &Path, _id: FileId) -> Result<Option<crate::platform::ImageLock>> {
        Ok(None)
    }

    /// The recorder's copies always finish.
    fn unfinished_copy(&mut self, _fspath: &Path) -> Result<Option<Root>> {
        Ok(None)
    }
}

/// An argv as the recorded call keeps it.
fn strings(argv: &[OsString]) -> Vec<String> {
    argv.iter().map(|a| a.to_string_lossy().into_owned()).collect()
}
