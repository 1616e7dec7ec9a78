//! A recording platform for the core's tests: every call is logged
//! with its arguments, the disks and mounts it "made" are tracked, and it
//! can be told to fail at any step.
//!
//! It models units the way the kernel reports them: each attached unit has
//! a backing identity, an owner (the mark mount_md leaves, or another
//! tool's), and a device number that its mounts carry.
use super::{
    describe, Detached, Device, Disk, FileId, MountRec, Mounted, Note, Opened, Owner, PathKind, Platform, UnitInfo,
};
use crate::device::Unit;
use crate::error::{Error, Result};
use crate::mark::Mark;
use crate::plan::{Attach, Defaults, Format, FsType, Mount, OpenImage, Plan, Step, TmpfsMount};
use crate::platform::{Fit, Head, Helper, MountOf, RootAttr, UnitState, UnmountOf, Which};
use crate::request::Backing;
use nix::errno::Errno;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    EnterNamespace(PathBuf),
    OpenImage(OpenImage),
    RemoveImage(PathBuf),
    /// The unit list was read.
    Units,
    Reuse(u32),
    DetachUnit(u32),
    Attach(Attach),
    Detach(u32),
    WaitForNode(PathBuf),
    /// `--encrypt`: a header written, a layer opened or closed, on a unit.
    CryptHeader(u32),
    CryptOpen(u32),
    CryptClose(u32),
    Format {
        device: PathBuf,
        fstype: String,
    },
    Mount {
        fstype: String,
        device: PathBuf,
        mount_point: PathBuf,
        options: Vec<String>,
    },
    MountTmpfs(TmpfsMount),
    Unmount(PathBuf),
    /// `-u -f`: unmount even if busy.
    UnmountForced(PathBuf),
    SetMode(PathBuf, u32),
    SetOwner(PathBuf, u32, u32),
    CopySkeleton(PathBuf, PathBuf),
}

/// An attached unit as the fake kernel knows it: its state, from which
/// [`Platform::units`] answers [`UnitInfo`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUnit {
    pub backing: Option<FileId>,
    pub owner: Owner,
    /// Held open by someone other than a mount.
    pub held: bool,
}

/// The identity the fake gives the file at `path` (stable, distinct).
pub fn file_id(path: &Path) -> FileId {
    // FNV-1a over the path bytes.
    let ino = path
        .as_os_str()
        .as_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
    FileId { dev: 1, ino }
}

/// The mark mount_md leaves for `mount_point`.
pub fn mark_for(mount_point: &Path) -> Owner {
    Owner::Ours(Mark { mount_point: mount_point.as_os_str().as_bytes().to_vec(), truncated: false, hash: None })
}

/// The device number of unit `n` in the fake.
pub fn rdev_of(unit: u32) -> u64 {
    1000 + u64::from(unit)
}

/// The recording platform.
#[derive(Debug)]
pub struct Fake {
    pub calls: Vec<Call>,
    /// Units currently attached.
    pub attached: BTreeSet<u32>,
    /// Mount points currently mounted, in mount order.
    pub mounted: Vec<PathBuf>,
    /// Which unit each mount point was mounted from.
    pub mount_units: BTreeMap<PathBuf, u32>,
    /// Image files that exist (for `--create`); a path not listed is
    /// missing. `None`: every image exists.
    pub images: Option<BTreeSet<PathBuf>>,
    /// Images this fake created and that are still there.
    pub created: BTreeSet<PathBuf>,
    /// What the kernel would say about each attached unit; a unit in
    /// `attached` without an entry is ours, backed by nothing known.
    pub units: BTreeMap<u32, FakeUnit>,
    /// Whether `reuse` takes over a leftover unit.
    pub reuse_ok: bool,
    /// A stop signal "arrives" once this many calls have been made.
    pub interrupt_after: Option<usize>,
    /// Each descriptor the fake hands out (image, disk, root) holds a
    /// clone of this: [`Fake::open_handles`] counts those still open.
    handles: std::rc::Rc<()>,
    /// Fail the first call of this kind (a [`Step::kind`] name, or
    /// `"detach"`/`"unmount"` for rollback) with this errno.
    pub fail: Option<(&'static str, Errno)>,
    /// `fail` fails every call of that kind, not only the first.
    pub fail_always: bool,
    /// Mounts come out read-only (as a read-only image would).
    pub read_only_fs: bool,
    /// Images someone other than root can change, and why.
    pub untrusted: BTreeMap<PathBuf, String>,
    /// Device path prefix, `/dev/md` unless told otherwise.
    pub prefix: String,
    notes: Vec<Note>,
    /// The first bytes of every unit (`--encrypt` looks for a header).
    pub head: Vec<u8>,
}

impl Default for Fake {
    fn default() -> Self {
        Fake {
            calls: Vec::new(),
            attached: BTreeSet::new(),
            mounted: Vec::new(),
            mount_units: BTreeMap::new(),
            images: None,
            created: BTreeSet::new(),
            units: BTreeMap::new(),
            reuse_ok: false,
            interrupt_after: None,
            handles: std::rc::Rc::new(()),
            fail: None,
            fail_always: false,
            read_only_fs: false,
            untrusted: BTreeMap::new(),
            prefix: "/dev/md".into(),
            notes: Vec::new(),
            head: Vec::new(),
        }
    }
}

impl Fake {
    pub fn new() -> Self {
        Self::default()
    }

    /// A fake told to fail at `kind` with `errno`.
    pub fn failing_at(kind: &'static str, errno: Errno) -> Self {
        Fake { fail: Some((kind, errno)), ..Self::default() }
    }

    /// How many descriptors the fake handed out are still open: 0 once a
    /// run is over, whether it succeeded or was rolled back.
    pub fn open_handles(&self) -> usize {
        std::rc::Rc::strong_count(&self.handles) - 1
    }

    /// Nothing attached, nothing mounted, no image created.
    pub fn is_clean(&self) -> bool {
        self.attached.is_empty() && self.mounted.is_empty() && self.created.is_empty()
    }

    /// A unit attached before this run, backed by `image`.
    pub fn with_unit(mut self, unit: u32, image: &Path, owner: Owner, held: bool) -> Self {
        self.attached.insert(unit);
        self.units.insert(unit, FakeUnit { backing: Some(file_id(image)), owner, held });
        self
    }

    /// A mount of `unit` at `at`, made before this run.
    pub fn with_mount(mut self, unit: u32, at: &str) -> Self {
        self.mounted.push(at.into());
        self.mount_units.insert(at.into(), unit);
        self
    }

    fn device(&self, unit: u32) -> Device {
        Device { unit, path: PathBuf::from(format!("{}{unit}", self.prefix)), read_only: false }
    }

    fn mount_id(p: &Path) -> u64 {
        file_id(p).ino
    }

    fn maybe_fail(&mut self, kind: &str, what: impl Into<String>) -> Result<()> {
        match self.fail {
            Some((k, errno)) if k == kind => {
                if !self.fail_always {
                    self.fail = None;
                }
                Err(Error::sys(what, errno))
            }
            _ => Ok(()),
        }
    }
}

/// A descriptor the fake handed out: counted by [`Fake::open_handles`]
/// until it is dropped.
#[derive(Debug)]
pub struct Handle {
    _open: std::rc::Rc<()>,
    /// What it is a descriptor of (the image, the device, the root).
    pub of: PathBuf,
}

impl Handle {
    fn new(handles: &std::rc::Rc<()>, of: &Path) -> Self {
        Handle { _open: handles.clone(), of: of.to_path_buf() }
    }
}

impl Fake {
    fn detach_leftover(&mut self, dev: &Device) -> Result<()> {
        self.calls.push(Call::Detach(dev.unit));
        self.maybe_fail("detach", dev.path.display().to_string())?;
        self.attached.remove(&dev.unit);
        self.units.remove(&dev.unit);
        Ok(())
    }
}

impl Platform for Fake {
    const DEFAULTS: Defaults = Defaults { fstype: "ufs", probe_preserved: false, tmpfs_available: true };
    const DISK_NAME: &'static str = "an md(4) disk";
    const DETACH_BY_HAND: &'static str = "mdconfig -d -u ";
    const NODE_PREFIX: &'static str = "/dev/md";
    type Image = Handle;
    type Hold = Handle;
    type Root = Handle;
    const HARDENING: &'static [&'static str] = &["nosuid", "nodev"];
    const WORDS: crate::plan::words::Vocabulary = crate::plan::words::LINUX;

    fn check(&mut self, _plan: &Plan) -> Result<()> {
        Ok(())
    }

    fn enter_namespace(&mut self, ns: &Path) -> Result<()> {
        self.calls.push(Call::EnterNamespace(ns.to_path_buf()));
        self.maybe_fail("namespace", ns.display().to_string())
    }

    fn open_image(&mut self, o: &OpenImage) -> Result<Opened<Handle>> {
        self.calls.push(Call::OpenImage(o.clone()));
        self.maybe_fail("open", o.path.display().to_string())?;
        let exists = self.images.as_ref().is_none_or(|set| set.contains(&o.path));
        let created = match (exists, o.create.map(drop).or(o.from.as_ref().map(drop))) {
            (true, _) => false,
            (false, Some(_)) => {
                self.created.insert(o.path.clone());
                if let Some(set) = self.images.as_mut() {
                    set.insert(o.path.clone());
                }
                true
            }
            (false, None) => return Err(Error::sys(o.path.display().to_string(), Errno::ENOENT)),
        };
        let handle = Handle::new(&self.handles, &o.path);
        let untrusted = self.untrusted.get(&o.path).cloned();
        let made = (created && o.from.is_some()).then_some(crate::platform::clone::Made {
            method: crate::platform::clone::Method::Clone,
            copied: 0,
            len: 0,
            took: std::time::Duration::ZERO,
        });
        Ok(Opened { path: o.path.clone(), id: file_id(&o.path), created, untrusted, made, handle })
    }

    fn remove_image(&mut self, image: Opened<Handle>) -> Result<()> {
        let path = image.handle.of.clone();
        self.calls.push(Call::RemoveImage(path.clone()));
        self.created.remove(&path);
        if let Some(set) = self.images.as_mut() {
            set.remove(&path);
        }
        Ok(())
    }

    fn units(&mut self, which: Which) -> Result<Vec<UnitInfo>> {
        self.calls.push(Call::Units);
        self.maybe_fail("units", "units")?;
        Ok(self
            .attached
            .iter()
            .map(|&n| {
                let u = self.units.get(&n);
                UnitInfo {
                    device: self.device(n),
                    rdev: rdev_of(n),
                    backing: u.and_then(|u| u.backing),
                    backing_exact: true,
                    owner: u.map_or(Owner::Ours(Mark { mount_point: Vec::new(), truncated: false, hash: None }), |u| {
                        u.owner.clone()
                    }),
                    autoclear: false,
                }
            })
            .filter(|u| which.matches(u))
            .collect())
    }

    fn mounts(&mut self) -> Result<Vec<MountRec>> {
        self.maybe_fail("mounts", "mounts")?;
        Ok(self
            .mounted
            .iter()
            .map(|p| {
                let unit = self.mount_units.get(p).copied();
                MountRec {
                    id: Self::mount_id(p),
                    on: p.clone(),
                    dev: unit.map_or(1, rdev_of),
                    fstype: if unit.is_some() { Self::DEFAULTS.fstype.into() } else { "tmpfs".into() },
                    source: unit.map_or("tmpfs".into(), |n| format!("{}{n}", self.prefix)),
                    options: vec!["rw".into()],
                }
            })
            .collect())
    }

    fn identify(&mut self, path: &Path) -> Result<PathKind> {
        if self.mounted.iter().any(|m| m == path) {
            return Ok(PathKind::MountRoot(Self::mount_id(path)));
        }
        let id = file_id(path);
        let image = self.images.as_ref().is_some_and(|s| s.contains(path))
            || self.units.values().any(|u| u.backing == Some(id));
        Ok(if image { PathKind::File(id) } else { PathKind::Dir(path.to_path_buf()) })
    }

    /// The fake's time does not pass.
    fn pause(&mut self, _d: std::time::Duration) -> Option<&'static str> {
        self.interrupt_after.filter(|n| self.calls.len() >= *n).map(|_| "SIGTERM")
    }

    fn release_unit(&mut self, u: &UnitInfo, force: bool) -> Result<Detached> {
        let n = u.device.unit;
        self.calls.push(Call::Detach(n));
        self.maybe_fail("detach", format!("detach {}", u.device.path.display()))?;
        if self.units.get(&n).is_some_and(|f| f.held) {
            if force {
                return Ok(Detached::OnLastClose);
            }
            return Err(Error::sys(format!("detach {}", u.device.path.display()), Errno::EBUSY));
        }
        self.attached.remove(&n);
        self.units.remove(&n);
        Ok(Detached::Now)
    }

    /// With a fit: taken over when told to (`reuse_ok`); without one, the
    /// pre-detach (`DetachUnit`).
    fn reuse(&mut self, dev: &Device, fit: Option<Fit<'_, Handle>>) -> Result<Option<Disk<Handle>>> {
        let unit = dev.unit;
        if fit.is_none() {
            self.calls.push(Call::DetachUnit(unit));
            self.maybe_fail("predetach", format!("{}{unit}", self.prefix))?;
            if !self.attached.remove(&unit) {
                return Err(Error::sys(format!("{}{unit}", self.prefix), Errno::ENOENT));
            }
            self.units.remove(&unit);
            return Ok(None);
        }
        self.calls.push(Call::Reuse(unit));
        if self.reuse_ok {
            return Ok(Some(Disk { device: dev.clone(), hold: Handle::new(&self.handles, &dev.path), layer: None }));
        }
        self.detach_leftover(dev)?;
        Ok(None)
    }

    fn attach(&mut self, a: &Attach, _image: Option<&Opened<Handle>>, mount_point: &Path) -> Result<Disk<Handle>> {
        self.calls.push(Call::Attach(a.clone()));
        self.maybe_fail("attach", "attach")?;
        let unit = match a.unit {
            Unit::Fixed(n) if self.attached.contains(&n) => {
                return Err(Error::sys(format!("{}{n}", self.prefix), Errno::EBUSY));
            }
            Unit::Fixed(n) => n,
            Unit::Auto => (0..).find(|u| !self.attached.contains(u)).unwrap_or(0),
        };
        self.attached.insert(unit);
        let backing = match &a.backing {
            Backing::Vnode(p) => Some(file_id(p)),
            _ => None,
        };
        self.units.insert(unit, FakeUnit { backing, owner: mark_for(mount_point), held: false });
        let path = PathBuf::from(format!("{}{unit}", self.prefix));
        let hold = Handle::new(&self.handles, &path);
        Ok(Disk { device: Device { unit, path, read_only: a.read_only }, hold, layer: None })
    }

    fn detach(&mut self, disk: Disk<Handle>) -> Result<()> {
        if disk.layer.is_some() {
            self.calls.push(Call::CryptClose(disk.device.unit));
            self.maybe_fail("crypt-close", format!("crypt close on {}", disk.device.path.display()))?;
        }
        self.detach_leftover(&disk.device)
    }

    fn wait_for_node(&mut self, disk: &Disk<Handle>) -> Result<()> {
        self.calls.push(Call::WaitForNode(disk.hold.of.clone()));
        self.maybe_fail("wait", disk.device.path.display().to_string())
    }

    /// Closes the root first, as a real backend must (an open root keeps
    /// the mount busy).
    fn unmount(&mut self, what: UnmountOf<'_, Handle>) -> Result<()> {
        let (on, call, what) = match what {
            UnmountOf::Made(Mounted { mount_point, root, .. }) => {
                drop(root);
                (mount_point.clone(), Call::Unmount(mount_point.clone()), mount_point.display().to_string())
            }
            UnmountOf::Found(m, force) => (
                m.on.clone(),
                if force { Call::UnmountForced(m.on.clone()) } else { Call::Unmount(m.on.clone()) },
                format!("unmount of {}", m.on.display()),
            ),
        };
        self.calls.push(call);
        self.maybe_fail("unmount", what)?;
        self.mounted.retain(|p| p != &on);
        self.mount_units.remove(&on);
        Ok(())
    }

    fn copy_skeleton(&mut self, m: &Mounted<Handle>, from: &Path) -> Result<()> {
        self.calls.push(Call::CopySkeleton(from.to_path_buf(), m.root.of.clone()));
        self.maybe_fail("skel", format!("skel copy from {}", from.display()))
    }

    fn take_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }

    fn unit_is(&mut self, u: &UnitInfo, what: UnitState) -> Result<bool> {
        match what {
            UnitState::Held => self.held(u),
            UnitState::MemoryBacked => Ok(u.backing.is_none()),
        }
    }

    fn read_start(&mut self, from: Head<'_, Handle>, _len: usize) -> Result<Option<Vec<u8>>> {
        match from {
            // What the image, and so the unit, starts with
            // ([`Fake::head`]); through a crypt layer, nothing yet.
            Head::Disk(d) if d.layer.is_none() => Ok(Some(self.head.clone())),
            Head::Disk(_) => Ok(Some(Vec::new())),
            Head::Image(_) => Ok(Some(self.head.clone())),
        }
    }

    fn mount(&mut self, what: MountOf<'_, Handle>) -> Result<Mounted<Handle>> {
        match what {
            MountOf::Disk(disk, m) => self.mount_disk(disk, m),
            MountOf::Tmpfs(t) => self.mount_tmpfs(t),
        }
    }

    fn helper(&mut self, disk: &Disk<Handle>, job: Helper<'_>) -> Result<Option<String>> {
        match job {
            Helper::Format(f) => self.format(disk, f).map(|()| None),
            Helper::Fsck(fs, _) => {
                let _ = fs;
                Ok(None)
            }
            Helper::NewIdentity(_) => Ok(None),
            Helper::CryptHeader(_) => {
                self.calls.push(Call::CryptHeader(disk.device.unit));
                self.maybe_fail("crypt-header", format!("crypt header on {}", disk.device.path.display()))?;
                Ok(None)
            }
            Helper::CryptOpen(c) => {
                self.calls.push(Call::CryptOpen(disk.device.unit));
                self.maybe_fail("crypt-open", format!("crypt open on {}", disk.device.path.display()))?;
                Ok(Some(format!("/dev/mapper/fake-{}-{}", c.encrypt.scheme.name(), disk.device.unit)))
            }
        }
    }

    fn set_root(&mut self, m: &Mounted<Handle>, attr: RootAttr) -> Result<()> {
        match attr {
            RootAttr::Mode(mode) => self.set_mode(m, mode),
            RootAttr::Owner(uid, gid) => self.set_owner(m, uid, gid),
        }
    }
}

impl Fake {
    fn held(&mut self, u: &UnitInfo) -> Result<bool> {
        Ok(self.units.get(&u.device.unit).is_some_and(|f| f.held))
    }
    fn mount_disk(&mut self, disk: &Disk<Handle>, m: &Mount) -> Result<Mounted<Handle>> {
        let dev = &disk.device;
        let fstype = match &m.fstype {
            FsType::Named(t) => t.clone(),
            FsType::Probe => Self::DEFAULTS.fstype.to_string(),
        };
        let mut device = disk.top().to_path_buf().into_os_string();
        device.push(&m.suffix);
        self.calls.push(Call::Mount {
            fstype: fstype.clone(),
            device: device.into(),
            mount_point: m.mount_point.clone(),
            options: m.options.clone(),
        });
        self.maybe_fail("mount", dev.path.display().to_string())?;
        self.mounted.push(m.mount_point.clone());
        self.mount_units.insert(m.mount_point.clone(), dev.unit);
        let read_only = self.read_only_fs || dev.read_only;
        let root = Handle::new(&self.handles, &m.mount_point);
        Ok(Mounted { mount_point: m.mount_point.clone(), fstype, read_only, root })
    }
    fn mount_tmpfs(&mut self, t: &TmpfsMount) -> Result<Mounted<Handle>> {
        self.calls.push(Call::MountTmpfs(t.clone()));
        self.maybe_fail("tmpfs", "tmpfs")?;
        self.mounted.push(t.mount_point.clone());
        let root = Handle::new(&self.handles, &t.mount_point);
        Ok(Mounted { mount_point: t.mount_point.clone(), fstype: "tmpfs".into(), read_only: self.read_only_fs, root })
    }
    fn format(&mut self, disk: &Disk<Handle>, f: &Format) -> Result<()> {
        let device = disk.layer.as_ref().map_or_else(|| disk.hold.of.clone(), |l| l.node.clone());
        self.calls.push(Call::Format { device, fstype: f.fstype.clone() });
        self.maybe_fail("format", "newfs")
    }
    fn set_mode(&mut self, m: &Mounted<Handle>, mode: u32) -> Result<()> {
        self.calls.push(Call::SetMode(m.root.of.clone(), mode));
        self.maybe_fail("chmod", format!("chmod: {}", m.mount_point.display()))
    }
    fn set_owner(&mut self, m: &Mounted<Handle>, uid: u32, gid: u32) -> Result<()> {
        self.calls.push(Call::SetOwner(m.root.of.clone(), uid, gid));
        self.maybe_fail("chown", format!("chown {} to {uid}:{gid}", m.mount_point.display()))
    }
}

impl super::Describe for Fake {
    fn describe(&self, step: &Step, dev: Option<&Device>, _image: Option<&Opened<Handle>>) -> String {
        describe::generic(step, &self.prefix, dev)
    }
}
