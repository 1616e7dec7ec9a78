//! Linux: loop(4) devices and mount(2).
//!
//! * attach — [`loopdev`]: `LOOP_CTL_GET_FREE` + `LOOP_CONFIGURE` under a
//!   `flock` of `/dev/loop-control`, always `LO_FLAGS_AUTOCLEAR`, so the
//!   device goes away by itself when the file system is unmounted
//!   ([`Held`] says why the run holds its descriptor).
//! * swap- and malloc-backed disks (`-M`, or no `-F`) are backed by an
//!   anonymous memfd of the `-s` size: swappable memory that vanishes with
//!   the loop device, leaving nothing in any file system.
//! * format — [`mkfs`]; mount — [`mount`] splits `-o` as util-linux does;
//!   `-P` without `-T` reads the type from the superblock ([`crate::superblock::probe`]).
//!
//! Shape (as the FreeBSD backend): [`requests`] builds what the kernel is
//! given; [`sys::LoopSys`] is the thin seam of system calls; [`Linux`],
//! [`units`] and [`grow`] are the policy, generic over it (the steps that
//! take more than one call are in `steps.rs`, their `-N` lines in
//! `describe.rs`). The image itself, sysfs's size and read-only attributes
//! and the helper programs are outside the seam (plain files and processes).
use super::{posix, Detached, Device, Disk, MountRec, Mounted, Note, Opened, PathKind, Platform, UnitInfo};
use crate::device::Unit;
use crate::error::{Error, Result};
use crate::plan::{Attach, Defaults, FsType, Mount, OpenImage, Plan, Step, TmpfsMount};
use crate::platform::{DiskNow, Fit, GrowOf, Head, Helper, MountOf, RootAttr, UnitState, UnmountOf, Which};
use crate::request::Backing;
use loopdev::{LoopInfo64, LOOP_CONTROL};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod crypt;
mod describe;
pub mod dmcrypt;
pub mod grow;
pub mod loopdev;
pub mod mkfs;
pub mod mount;
pub mod mountinfo;
#[cfg(any(test, feature = "test-support"))]
pub mod recording;
pub mod requests;
mod steps;
use steps::{mark_of, swap_needs_size};
pub mod start;
pub mod sys;
pub mod units;

use requests::{describe_info, loop_info, mount_call, sizing};
use sys::{Kernel, LoopSys};

/// How long to wait for `/dev/loopN` to appear (devtmpfs makes it at once;
/// a static /dev with udev may lag).
const NODE_WAIT: Duration = Duration::from_secs(5);

/// What a run holds of the loop device it attached ([`Disk::hold`]): its
/// descriptor, open until the executor lets go of the disk at the end of
/// the run (or hands it to [`Platform::detach`]), so that autoclear cannot
/// tear the device down under mkfs or before mount(2) has returned.
#[derive(Debug)]
pub struct Held<D> {
    fd: D,
    /// The image, for messages (`None` for memfd-backed disks).
    image: Option<PathBuf>,
    /// The image's length before `-s` extended it, with a descriptor of it,
    /// so that a rollback can put it back.
    grown_from: Option<(OwnedFd, u64)>,
}

/// The Linux platform: the policy, over the loop(4) operations of `S`
/// ([`Kernel`] for real, `recording::Recorder` in tests).
#[derive(Default)]
pub struct Linux<S: LoopSys = Kernel> {
    sys: S,
    notes: Vec<Note>,
    /// The plan's mount point, remembered by `check()` so that `describe()`
    /// can name it in the chmod/chown/copy lines.
    mount_point: Option<PathBuf>,
    /// A fixed unit from the plan, so dry-run lines can name `/dev/loopN`.
    fixed_unit: Option<u32>,
    /// `--encrypt`: the key, opened or asked for once per run.
    key: Option<super::keyed::Key>,
    /// `--encrypt`: the dm node format and mount will use, for `-N`.
    layer_node: Option<PathBuf>,
}

impl Linux<Kernel> {
    pub fn new() -> Self {
        Self::with_sys(Kernel::default())
    }
}

impl<S: LoopSys> Linux<S> {
    pub fn with_sys(sys: S) -> Self {
        Linux { sys, notes: Vec::new(), mount_point: None, fixed_unit: None, key: None, layer_node: None }
    }

    pub fn sys(&self) -> &S {
        &self.sys
    }

    pub fn into_sys(self) -> S {
        self.sys
    }

    fn warn(&mut self, text: String) {
        self.notes.push(Note::Warning(text));
    }

    fn debug(&mut self, text: String) {
        self.notes.push(Note::Debug(text));
    }

    /// What [`Platform::check`] refuses before looking at any file: what
    /// Linux cannot do at all, and a mount point that is not a directory.
    pub(super) fn refusal(&mut self, plan: &Plan) -> Result<()> {
        self.mount_point = Some(plan.mount_point.clone());
        self.fixed_unit = plan.attach().and_then(|a| if let Unit::Fixed(n) = a.unit { Some(n) } else { None });
        let in_other_ns = plan.steps.iter().any(|s| matches!(s, Step::EnterNamespace(_)));
        for step in &plan.steps {
            match step {
                Step::Attach(a) if matches!(a.backing, Backing::Swap | Backing::Malloc) && a.size.unwrap_or(0) == 0 => {
                    return Err(swap_needs_size());
                }
                Step::Crypt(c) => {
                    crypt::check(c)?;
                    let name = crate::crypt::dm_name(plan.mount_point.as_os_str().as_bytes());
                    self.layer_node = Some(Path::new("/dev/mapper").join(name));
                }
                Step::Format(f) => {
                    if is_ufs(&f.fstype) {
                        return Err(Error::plain(
                            "Linux cannot make UFS file systems (make the image on FreeBSD and use -P)",
                        ));
                    }
                    if !mkfs::valid_type(&f.fstype) {
                        return Err(Error::text(format!("-T {}", f.fstype), "not a file system type"));
                    }
                    mkfs::argv(f, "/dev/loop?")?;
                    // A run that always formats needs its mkfs: said before
                    // anything is created or attached (and under -N).
                    if !f.only_if_created {
                        posix::program(&format!("mkfs.{}", f.fstype))?;
                    }
                }
                Step::Mount(m) => {
                    if !m.suffix.is_empty() {
                        return Err(Error::plain(format!(
                            "device suffix {} has no meaning on Linux (loop devices have no .uzip or partitions)",
                            m.suffix
                        )));
                    }
                    if let FsType::Named(t) = &m.fstype {
                        if !mkfs::valid_type(t) {
                            return Err(Error::text(format!("-T {t}"), "not a file system type"));
                        }
                        if crate::plan::on_a_disk(t).is_none() && kernel_says_nodev(t) {
                            return Err(Error::text(
                                format!("-T {t}"),
                                "not a file system on a disk (/proc/filesystems: nodev)",
                            ));
                        }
                        if is_ufs(t) && !mount::split(&m.options).flags.contains(MsFlags::MS_RDONLY) {
                            return Err(Error::plain("Linux cannot mount UFS read-write (add -o ro,ufstype=ufs2)"));
                        }
                    }
                    check_options(&m.options)?;
                }
                Step::MountTmpfs(t) => check_options(&t.options)?,
                _ => {}
            }
        }
        if !in_other_ns && plan.steps.iter().any(|s| matches!(s, Step::Mount(_) | Step::MountTmpfs(_))) {
            let mp = &plan.mount_point;
            match std::fs::metadata(mp) {
                Ok(md) if md.is_dir() => {}
                Ok(_) => return Err(Error::sys(crate::error::quoted(mp), Errno::ENOTDIR)),
                // Longer than PATH_MAX: the mount walks it a directory at a
                // time and says what it finds.
                Err(e) if e.raw_os_error() == Some(libc::ENAMETOOLONG) => {}
                Err(e) => return Err(crate::error::from_io(crate::error::quoted(mp), &e)),
            }
        }
        Ok(())
    }
}

fn show(p: &Path) -> String {
    p.display().to_string()
}

fn is_ufs(t: &str) -> bool {
    matches!(t, "ufs" | "ffs")
}

fn opened(path: &Path, img: posix::Image) -> Opened<posix::Image> {
    let untrusted = img.untrusted();
    let (id, made) = (posix::file_id(&img.stat), img.made);
    Opened { path: path.to_path_buf(), id, created: img.created, untrusted, made, handle: img }
}

/// Whether the backing name sysfs shows is a memory disk's memfd
/// (`/memfd:mount_md (deleted)`), not an image file.
fn memory_name(name: &[u8]) -> bool {
    name.starts_with(b"/memfd:")
}

/// The image behind a disk for messages, else the device itself.
fn shown_image<D>(disk: &Disk<Held<D>>) -> String {
    crate::error::quoted(disk.hold.image.as_ref().unwrap_or(&disk.device.path))
}

/// The mount point, opened by [`posix::walk_path`] (a symlink is followed
/// only when nobody but root or the caller can change it) and pinned: mount(2) is pointed at `/proc/self/fd/N`, so nothing can
/// swap a directory of the path for a symlink between the check and the
/// mount. Its parent stays open too: right after the mount, the new root
/// is opened through it (`openat(parent, name, O_DIRECTORY|O_NOFOLLOW)`),
/// once. Without /proc (rare) the checked path is used as it is.
struct Target {
    /// Held open: `pinned` names it.
    _dir: OwnedFd,
    /// The parent and the last component (`None` for `/`).
    parent: Option<(OwnedFd, std::ffi::OsString)>,
    pinned: PathBuf,
}

impl Target {
    fn open(mount_point: &Path) -> Result<Target> {
        // One walk: the directory and the parent it is opened from are
        // the ones mounted on and reopened after, whatever symlink (one
        // only root or the caller can change) led there.
        let (dir, walked) = posix::open_dir_walked(mount_point)?;
        let parent = walked.map(|w| (w.parent, w.name));
        let proc_path = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
        let pinned = if proc_path.exists() { proc_path } else { mount_point.to_path_buf() };
        Ok(Target { _dir: dir, parent, pinned })
    }

    fn mounted_root(&self, mount_point: &Path) -> Result<OwnedFd> {
        match &self.parent {
            Some((parent, name)) => posix::open_dir_at(parent, name.as_os_str())
                .map_err(|e| Error::sys(crate::error::quoted(mount_point), e)),
            None => posix::open_root(mount_point),
        }
    }
}

impl<S: LoopSys> Platform for Linux<S> {
    const DEFAULTS: Defaults = Defaults { fstype: "ext4", probe_preserved: true, tmpfs_available: true };
    const DISK_NAME: &'static str = "a loop device";
    const DETACH_BY_HAND: &'static str = "losetup -d /dev/loop";
    const NODE_PREFIX: &'static str = "/dev/loop";
    type Image = posix::Image;
    type Hold = Held<S::Dev>;
    type Root = OwnedFd;
    const HARDENING: &'static [&'static str] = &["nosuid", "nodev"];
    const WORDS: crate::plan::words::Vocabulary = crate::plan::words::LINUX;

    fn check(&mut self, plan: &Plan) -> Result<()> {
        self.refusal(plan).map_err(Error::as_unsupported)?;
        if let Some(mdconfig) = &plan.mdconfig_path {
            self.debug(format!(
                "-E {}: ignored; mount_md attaches loop devices itself and runs no mdconfig",
                mdconfig.display()
            ));
        }
        super::preflight::check(plan)
    }

    fn enter_namespace(&mut self, ns: &Path) -> Result<()> {
        let fd = std::fs::File::open(ns).map_err(|e| crate::error::from_io(crate::error::quoted(ns), &e))?;
        nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWNS)
            .map_err(|e| Error::sys(format!("setns {}", ns.display()), e))
    }

    fn open_image(&mut self, o: &OpenImage) -> Result<Opened<posix::Image>> {
        let img = match &o.from {
            Some(b) => posix::open_image_from(&o.path, b, o.read_only, &mut |id| {
                super::clone::refuse_in_use(&mut *self, &b.path, id)
            })?,
            None => posix::open_image(&o.path, o.create, o.read_only)?,
        };
        if !img.writable && !o.read_only {
            self.warn(format!(
                "{}: not writable; attaching it read-only and mounting read-only",
                crate::error::quoted(&o.path)
            ));
        }
        Ok(opened(&o.path, img))
    }

    fn remove_image(&mut self, image: Opened<posix::Image>) -> Result<()> {
        image.handle.remove_created()
    }

    fn units(&mut self, which: Which) -> Result<Vec<UnitInfo>> {
        units::some(&mut self.sys, which)
    }

    fn mounts(&mut self) -> Result<Vec<MountRec>> {
        let mut mounts = units::mounts(&mut self.sys)?;
        for m in &mut mounts {
            // On mount_md's crypt layer: the unit under it.
            m.dev = dmcrypt::unit_under(Path::new("/sys"), m.dev).unwrap_or(m.dev);
        }
        Ok(mounts)
    }

    fn identify(&mut self, path: &Path) -> Result<PathKind> {
        units::identify(&mut self.sys, path)
    }

    const DISK_RO_SETTABLE: bool = true;

    /// The loop device's read-only state and size from sysfs (`ro`,
    /// `size`), after `BLKROSET` when asked to set it.
    fn disk(&mut self, u: &UnitInfo, set: Option<bool>) -> Result<DiskNow> {
        let unit = u.device.unit;
        if let Some(read_only) = set {
            let what = || format!("{}: BLKROSET", loopdev::node(unit).display());
            let dev = self.sys.open_device(unit, OFlag::O_RDONLY).map_err(|e| Error::sys(what(), e))?;
            self.sys.set_read_only(&dev, read_only).map_err(|e| Error::sys(what(), e))?;
        }
        Ok(DiskNow { read_only: self.sys.disk_read_only(unit), size: units::disk_size(unit) })
    }

    /// `-o remount`: mount(2) with `MS_REMOUNT` (fs/namespace.c
    /// `do_remount`: the file system's flags and, without `MS_BIND`, the
    /// mount's own too) on the mount point the table shows, through the same
    /// pinned, symlink-checked path a mount takes.
    fn remount(&mut self, u: &UnitInfo, m: &MountRec, options: &[String]) -> Result<()> {
        let s = mount::split(options);
        let source = u.device.path.display().to_string();
        steps::do_mount(&mut self.sys, &source, &m.on, &m.fstype, s.flags | MsFlags::MS_REMOUNT, &s.data_string())
            .map(drop)
    }

    /// The image by the path [`units::image_path`] finds, else by the name
    /// sysfs shows: a file with no name left is still locked, by its
    /// identity, where there are lock files ([`posix::lock_existing`]).
    fn lock_image_of(&mut self, u: &UnitInfo) -> Result<Option<super::ImageLock>> {
        let Some(file) = u.backing else { return Ok(None) };
        let Some(raw) = self.sys.backing_name(u.device.unit) else { return Ok(None) };
        if memory_name(&raw) {
            return Ok(None);
        }
        let path =
            units::image_path(&raw, file, None).unwrap_or_else(|_| PathBuf::from(std::ffi::OsStr::from_bytes(&raw)));
        let lock = posix::lock_existing(&path, file)?;
        Ok(lock.map(|(fd, waited)| super::ImageLock { waited, guard: Box::new(fd) }))
    }

    fn release_unit(&mut self, u: &UnitInfo, force: bool) -> Result<Detached> {
        crypt::close_ours(u)?;
        let Some(bound) = u.backing else { return Ok(Detached::Now) };
        units::release(&mut self.sys, u.device.unit, bound, force).map_err(|e| Error::sys(show(&u.device.path), e))
    }

    fn pause(&mut self, d: std::time::Duration) -> Option<&'static str> {
        if !d.is_zero() {
            self.sys.sleep(d);
        }
        posix::pending_stop()
    }

    /// A leftover of ours (its autoclear lost, say) is never taken over:
    /// it is detached and the executor attaches afresh, so the new device
    /// has autoclear and this run's size and flags.
    fn reuse(&mut self, unit: &Device, _: Option<Fit<'_, posix::Image>>) -> Result<Option<Disk<Held<S::Dev>>>> {
        let unit = unit.unit;
        crypt::close_ours_on(unit)?;
        units::detach_idle(&mut self.sys, unit)?;
        self.debug(format!("{}: detached", loopdev::node(unit).display()));
        Ok(None)
    }

    fn attach(
        &mut self,
        a: &Attach,
        image: Option<&Opened<posix::Image>>,
        mount_point: &Path,
    ) -> Result<Disk<Held<S::Dev>>> {
        let b = self.open_backing(a, image)?;
        match self.attach_loop(a, &b, mount_point) {
            Ok((unit, fd)) => Ok(Disk {
                device: Device { unit, path: loopdev::node(unit), read_only: b.read_only },
                hold: Held { fd, image: b.image, grown_from: b.grown_from.map(|len| (b.file, len)) },
                layer: None,
            }),
            Err(e) => {
                if let Some(len) = b.grown_from {
                    self.restore_length(&b.file, len);
                }
                Err(e)
            }
        }
    }

    fn detach(&mut self, disk: Disk<Held<S::Dev>>) -> Result<()> {
        let Disk { device, hold, layer } = disk;
        if let Some(l) = &layer {
            crypt::close_layer(&l.node)?;
        }
        self.sys.clr_fd(&hold.fd).map_err(|e| Error::sys(format!("{}: LOOP_CLR_FD", device.path.display()), e))?;
        let Held { fd, grown_from, .. } = hold;
        drop(fd);
        if let Some((file, len)) = grown_from {
            self.restore_length(&file, len);
        }
        Ok(())
    }

    fn wait_for_node(&mut self, disk: &Disk<Held<S::Dev>>) -> Result<()> {
        posix::wait_for_node(&disk.device.path, NODE_WAIT)
    }

    fn publish_image(&mut self, image: &mut Opened<posix::Image>) -> Result<()> {
        image.handle.publish()
    }

    /// A mount this run made: its root closed first (a descriptor on it
    /// keeps the mount busy), and a busy one detached lazily.
    fn unmount(&mut self, what: UnmountOf<'_, OwnedFd>) -> Result<()> {
        let (on, made, lazy) = match what {
            UnmountOf::Made(Mounted { mount_point, root, .. }) => {
                drop(root);
                (mount_point, true, false)
            }
            UnmountOf::Found(m, force) => (m.on.clone(), false, force),
        };
        let what = || format!("unmount {}", crate::error::quoted(&on));
        match self.sys.unmount(&on, lazy) {
            Err(Errno::EBUSY) if made => {
                self.warn(format!("{} is busy; detaching it lazily", crate::error::quoted(&on)));
                self.sys.unmount(&on, true).map_err(|e| Error::sys(what(), e))
            }
            r => r.map_err(|e| Error::sys(what(), e)),
        }
    }

    /// The copy, then the stamp that says this attachment's copy finished
    /// (see [`Linux::unfinished_copy`]); a file system that keeps no
    /// `trusted.` attributes relies on the marker file alone.
    fn copy_skeleton(&mut self, m: &Mounted<OwnedFd>, from: &Path) -> Result<()> {
        posix::copy_skeleton(from, &m.root, &m.mount_point)?;
        let st = nix::sys::stat::fstat(&m.root).map_err(|e| Error::sys(m.mount_point.display().to_string(), e))?;
        #[allow(clippy::unnecessary_cast)]
        if let Some(stamp) = self.sys.attachment(st.st_dev as u64) {
            match self.sys.set_skeleton_stamp(&m.root, &stamp) {
                Ok(()) | Err(Errno::ENOTSUP) => {}
                Err(e) => return Err(Error::sys(format!("skel copy: {}", m.mount_point.display()), e)),
            }
        }
        Ok(())
    }

    /// A copy did not finish when the root holds the marker file
    /// (`posix::UNFINISHED`), or, where the kernel and the file system say
    /// which attachment this is and keep `trusted.` attributes, when the
    /// root's stamp is not this attachment's: a run killed during mount(2)
    /// or before the marker was made leaves the file system mounted with
    /// neither, and this tells it from a copy that finished.
    fn unfinished_copy(&mut self, mount_point: &Path) -> Result<Option<Mounted<OwnedFd>>> {
        let root = posix::open_root(mount_point)?;
        let st = nix::sys::stat::fstat(&root).map_err(|e| Error::sys(mount_point.display().to_string(), e))?;
        #[allow(clippy::unnecessary_cast)]
        let dev = st.st_dev as u64;
        let mut stale = || -> bool {
            let Some(now) = self.sys.attachment(dev) else { return false };
            self.sys.skeleton_stamp(&root).is_ok_and(|stamp| stamp.as_deref() != Some(now.as_slice()))
        };
        if !posix::unfinished_copy(&root) && !stale() {
            return Ok(None);
        }
        let read_only = posix::is_read_only(&root)?;
        Ok(Some(Mounted { mount_point: mount_point.to_path_buf(), read_only, root }))
    }

    fn take_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }

    fn grow<'a>(
        &'a mut self,
        of: GrowOf<'a, Held<S::Dev>, posix::Image>,
    ) -> Result<(crate::grow_ops::Found, Box<dyn crate::grow_ops::GrowOps + 'a>)> {
        match of {
            GrowOf::Target { target, named, .. } => grow::target(self, target, named),
            GrowOf::Made { disk, image, mount_point } => grow::made(self, disk, image, mount_point),
        }
    }

    fn list(&mut self, mounts: &[MountRec]) -> Result<Vec<(UnitInfo, bool, crate::unit::Listed)>> {
        units::list_visible(&mut self.sys, mounts)
    }

    fn unit_is(&mut self, u: &UnitInfo, what: UnitState) -> Result<bool> {
        match what {
            UnitState::Held => self.held(u),
            UnitState::MemoryBacked => Ok(self.sys.backing_name(u.device.unit).is_some_and(|n| memory_name(&n))),
        }
    }

    fn read_start(&mut self, from: Head<'_, Held<S::Dev>>, len: usize) -> Result<Option<Vec<u8>>> {
        match from {
            Head::Disk(disk) => Ok(Some(self.read_head(disk, len)?)),
            Head::Image(path) => posix::image_start(path, len),
        }
    }

    fn mount(&mut self, what: MountOf<'_, Held<S::Dev>>) -> Result<Mounted<OwnedFd>> {
        match what {
            MountOf::Disk(disk, m) => self.mount_disk(disk, m),
            MountOf::Tmpfs(t) => self.mount_tmpfs(t),
        }
    }

    fn helper(&mut self, disk: &Disk<Held<S::Dev>>, job: Helper<'_>) -> Result<Option<String>> {
        match job {
            Helper::Format(f) => mkfs::run(f, disk.top(), &shown_image(disk)).map(|()| None),
            Helper::Fsck(fs, force) => self.fsck(disk, fs, force),
            Helper::NewIdentity(head) => {
                let ran = crate::platform::clone::give_new_identity(
                    &disk.device.path,
                    head,
                    posix::program,
                    &shown_image(disk),
                )?;
                Ok(ran.map(str::to_string))
            }
            Helper::CryptHeader(c) => self.crypt_header(&disk.device.path, &shown_image(disk), c).map(|()| None),
            Helper::CryptOpen(c) => {
                let mount_point = self.mount_point.clone().unwrap_or_default();
                let node = self.crypt_open(&disk.device.path, &shown_image(disk), c, &mount_point)?;
                Ok(Some(node.display().to_string()))
            }
        }
    }

    fn set_root(&mut self, m: &Mounted<OwnedFd>, attr: RootAttr) -> Result<()> {
        match attr {
            RootAttr::Mode(mode) => posix::set_mode(&m.root, &m.mount_point, mode),
            RootAttr::Owner(uid, gid) => posix::set_owner(&m.root, &m.mount_point, uid, gid),
        }
    }
}

/// Whether /proc/filesystems lists `fstype` as `nodev` (it needs no block
/// device: a pseudo file system). Unreadable or unlisted: no.
fn kernel_says_nodev(fstype: &str) -> bool {
    let Ok(bytes) = std::fs::read("/proc/filesystems") else { return false };
    bytes.split(|&c| c == b'\n').any(|l| {
        let mut f = l.split(|&c| c == b'\t');
        f.next() == Some(b"nodev") && f.next() == Some(fstype.as_bytes())
    })
}

fn check_options(options: &[String]) -> Result<()> {
    let refused = options.iter().find(|o| mount::refused(o));
    refused.map_or(Ok(()), |o| Err(Error::plain(format!("mount option {o} has no meaning for mount_md"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn plan(args: &[&str]) -> Plan {
        crate::plan::of_line(args, <Linux>::DEFAULTS)
    }

    fn refusal(args: &[&str]) -> std::result::Result<(), String> {
        Linux::new().refusal(&plan(args)).map_err(|e| e.to_string())
    }

    #[test]
    fn refusal_accepts() {
        assert_eq!(refusal(&["mount_md", "-F", "/img", "md", "/"]), Ok(()));
        assert_eq!(refusal(&["mount_md", "-P", "-F", "/img", "-o", "ro,noatime", "md", "/"]), Ok(()));
        assert_eq!(
            refusal(&["mount_md", "-b", "4096", "-i", "8192", "-m", "0", "-n", "-S", "-F", "/i", "md", "/"]),
            Ok(())
        );
        assert_eq!(refusal(&["mount_md", "-s", "64m", "md", "/"]), Ok(()));
        assert_eq!(refusal(&["mount_md", "-M", "-s", "64m", "md3", "/"]), Ok(()));
        assert_eq!(refusal(&["mount_md", "-s", "64m", "tmpfs", "/"]), Ok(()));
        assert_eq!(refusal(&["mount_md", "-P", "-T", "ufs", "-o", "ro,ufstype=ufs2", "-F", "/i", "md", "/"]), Ok(()));
        assert_eq!(refusal(&["mount.md", "md", "/", "-o", "rw,noatime,-P,-F/i"]), Ok(()));
    }

    #[test]
    fn refusal_refuses() {
        let e = |args: &[&str]| refusal(args).unwrap_err();
        assert!(e(&["mount_md", "-T", "ufs", "-F", "/i", "md", "/"]).contains("cannot make UFS"));
        assert!(e(&["mount_md", "-T", "../x", "-F", "/i", "md", "/"]).contains("not a file system type"));
        assert_eq!(
            e(&["mount_md", "-o", "bind", "-F", "/i", "md", "/"]),
            "mount option bind has no meaning for mount_md"
        );
        // mount(8)'s loop options would mount part of the image.
        assert_eq!(
            e(&["mount_md", "-P", "-o", "offset=1048576", "-F", "/i", "md", "/"]),
            "mount option offset=1048576 has no meaning for mount_md"
        );
        assert!(e(&["mount_md", "-F", "/i", "md", "/nonexistent/x"]).ends_with("No such file or directory"));
        // In another mount namespace the mount point is not ours to look at.
        assert_eq!(refusal(&["mount.md", "md", "/nonexistent/x", "-N", "/proc/1/ns/mnt", "-o", "-P,-F/i"]), Ok(()));
    }
}
