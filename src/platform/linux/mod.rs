//! Linux: loop(4) devices and mount(2).
//!
//! * attach — [`loopdev`]: `LOOP_CTL_GET_FREE` + `LOOP_CONFIGURE` under a
//!   `flock` of `/dev/loop-control`, always `LO_FLAGS_AUTOCLEAR`, so the
//!   device goes away by itself when the file system is unmounted. The loop
//!   descriptor is held until the run is over (until mount(2) has returned
//!   at least), or autoclear would tear the device down under mkfs.
//! * swap- and malloc-backed disks (`-M`, or no `-F`) are backed by an
//!   anonymous memfd of the `-s` size: swappable memory that vanishes with
//!   the loop device, leaving nothing in any file system.
//! * format — [`mkfs`]; mount — [`mount`] splits `-o` as util-linux does;
//!   `-P` without `-T` reads the type from the superblock ([`probe`]).
//!
//! Shape (as the FreeBSD backend): [`requests`] builds what the kernel is
//! given (`loop_info64`, the mount call) for both the real call and its
//! `-N` description; [`sys::LoopSys`] is the thin seam holding every loop(4)
//! call (with `-r`'s LOOP_SET_CAPACITY), mount(2) and umount2(2), the
//! kernel-table reads and statx(2) ([`sys::Kernel`] for real,
//! `recording::Recorder` in tests, feature `test-support`); [`Linux`],
//! [`units`] and [`grow`] are the policy, generic over it: the attach race
//! loop, the binding checks, the mount call and the lifecycle primitives
//! run without root against the recorder. The image itself, sysfs's size
//! and read-only attributes and the helper programs are outside the seam
//! (plain files and processes).
use super::{posix, Detached, Device, Disk, MountRec, Mounted, Note, Opened, PathKind, Platform, UnitInfo};
use crate::device::Unit;
use crate::error::{Error, Result};
use crate::plan::{Attach, Defaults, Format, FsType, Mount, OpenImage, Plan, Step, TmpfsMount};
use crate::request::Backing;
use loopdev::{LoopInfo64, LOOP_CONTROL};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod grow;
pub mod kfile;
pub mod loopdev;
pub mod mkfs;
pub mod mount;
pub mod mountinfo;
pub mod probe;
#[cfg(any(test, feature = "test-support"))]
pub mod recording;
pub mod requests;
pub mod sys;
pub mod units;

use requests::{describe_info, loop_info, mount_call, sizing};
use sys::{Kernel, LoopSys};
pub mod start;

/// How long to wait for `/dev/loopN` to appear (devtmpfs makes it at once;
/// a static /dev with udev may lag).
const NODE_WAIT: Duration = Duration::from_secs(5);

/// What a run holds of the loop device it attached ([`Disk::hold`]): its
/// descriptor, open until the executor lets go of the disk at the end of
/// the run (or hands it to [`Platform::detach`]), so that autoclear cannot
/// tear the device down under mkfs or before mount(2) has returned.
pub struct Held<D> {
    fd: D,
    /// The image, for messages (`None` for memfd-backed disks).
    image: Option<PathBuf>,
    /// The image's length before `-s` extended it, with a descriptor of it,
    /// so that a rollback can put it back.
    grown_from: Option<(OwnedFd, u64)>,
}

impl<D> std::fmt::Debug for Held<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held").field("image", &self.image).finish_non_exhaustive()
    }
}

/// The Linux platform: the policy, over the loop(4) operations of `S`
/// ([`Kernel`] for real, `recording::Recorder` in tests).
pub struct Linux<S: LoopSys = Kernel> {
    sys: S,
    notes: Vec<Note>,
    /// The plan's mount point, remembered by `check()` so that `describe()`
    /// can name it in the chmod/chown/copy lines.
    mount_point: Option<PathBuf>,
    /// A fixed unit from the plan, so dry-run lines can name `/dev/loopN`.
    fixed_unit: Option<u32>,
}

impl Linux<Kernel> {
    pub fn new() -> Self {
        Self::with_sys(Kernel::new())
    }
}

impl Default for Linux<Kernel> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: LoopSys> Linux<S> {
    pub fn with_sys(sys: S) -> Self {
        Linux { sys, notes: Vec::new(), mount_point: None, fixed_unit: None }
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
}

fn show(p: &Path) -> String {
    p.display().to_string()
}

/// How one attempt at binding a unit ended.
enum Attempt<D> {
    Bound(u32, D),
    /// Another allocator took or removed the unit: pick again.
    Lost(Errno),
}

/// What the loop device will be bound to.
struct Source {
    file: OwnedFd,
    /// For messages.
    name: PathBuf,
    image: Option<PathBuf>,
    read_only: bool,
    sizelimit: u64,
    /// The image's length before `-s` extended it.
    grown_from: Option<u64>,
}

/// The mark stored in `lo_file_name` for a unit attached for
/// `mount_point`: the path resolved if it can be (so that `-u DIR` can
/// match it), else as given.
fn mark_of(mount_point: &Path) -> Vec<u8> {
    let real = std::fs::canonicalize(mount_point).unwrap_or_else(|_| mount_point.to_path_buf());
    requests::mark_for(&real)
}

fn is_ufs(t: &str) -> bool {
    matches!(t, "ufs" | "ffs")
}

fn swap_needs_size() -> Error {
    Error::plain("swap- and malloc-backed disks need a size on Linux (-s)")
}

impl<S: LoopSys> Linux<S> {
    /// Opens the image (or makes the memfd) and works out flags and size.
    fn open_backing(&mut self, a: &Attach, image: Option<&Opened<posix::Image>>) -> Result<Source> {
        let path = match &a.backing {
            Backing::Vnode(p) => p,
            Backing::Swap | Backing::Malloc => {
                let size = a.size.filter(|s| *s > 0).ok_or_else(swap_needs_size)?;
                let name = c"mount_md";
                let file = nix::sys::memfd::memfd_create(name, nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
                    .map_err(|e| Error::sys("memfd_create", e))?;
                let len = i64::try_from(size).map_err(|_| Error::sys("memfd_create", Errno::EFBIG))?;
                nix::unistd::ftruncate(&file, len).map_err(|e| Error::sys(format!("memfd: ftruncate {size}"), e))?;
                return Ok(Source {
                    file,
                    name: PathBuf::from("memfd:mount_md"),
                    image: None,
                    read_only: a.read_only,
                    sizelimit: 0,
                    grown_from: None,
                });
            }
        };
        // The image was opened (without following symlinks) and locked by
        // open_image; the loop device is bound to that very descriptor.
        let img = &image.ok_or_else(|| Error::text(crate::error::quoted(path), "not opened"))?.handle;
        let read_only = a.read_only || !img.writable;
        let file = img.fd.try_clone().map_err(|e| crate::error::from_io(crate::error::quoted(path), &e))?;
        #[allow(clippy::unnecessary_cast)]
        let len = img.stat.st_size as u64;
        let (grow, sizelimit) = sizing(a.size, Some(len));
        let mut grown_from = None;
        if let Some(size) = grow {
            {
                // As md(4) with -s: the device is that large; the file grows
                // sparsely to match (never shrinks; a failed run shrinks it
                // back, see restore_length).
                if read_only {
                    return Err(Error::text(
                        crate::error::quoted(path),
                        format!("is {len} bytes and read-only: cannot extend it to {size} bytes for -s"),
                    ));
                }
                img.extend_to(size)?;
                grown_from = Some(len);
                self.debug(format!("{}: extended sparsely from {len} to {size} bytes for -s", path.display()));
            }
        }
        Ok(Source { file, name: path.clone(), image: Some(path.clone()), read_only, sizelimit, grown_from })
    }

    /// The attach proper: bind a loop device to the backing file, with
    /// the allocation race handled as util-linux and systemd do. Returns
    /// the unit and its open descriptor.
    fn attach_loop(&mut self, a: &Attach, b: &Source, mount_point: &Path) -> Result<(u32, S::Dev)> {
        self.sys.open_control().map_err(|e| Error::sys(LOOP_CONTROL, e))?;
        let dio = loopdev::direct_io_for(a.direct_io, self.sys.dio_align(b.file.as_fd()));
        if dio.flag() != 0 {
            // Switching a loop device to direct I/O writes the backing
            // file's dirty pages back first (drivers/block/loop.c
            // `loop_update_dio`, `vfs_fsync`). Do that here, before the
            // loop-control lock, so that the lock is never held for a
            // write-back (a freshly made image can have megabytes dirty).
            if let Err(e) = self.sys.sync_file(b.file.as_fd()) {
                self.debug(format!("{}: fdatasync before attaching: {}", b.name.display(), e.desc()));
            }
        }
        let info = loop_info(b.read_only, b.sizelimit, &mark_of(mount_point), dio.flag());
        let mut use_configure = true;
        let mut last = Errno::EBUSY;
        for attempt in 0..loopdev::ATTEMPTS {
            if attempt > 0 {
                self.sys.sleep(loopdev::backoff(attempt));
            }
            self.sys.lock_control()?;
            // Every way out of this attempt lets go of the lock.
            let r = self.attempt(a, b, &info, dio.block_size(), &mut use_configure);
            self.sys.unlock_control();
            match r? {
                Attempt::Bound(unit, dev) => {
                    let node = loopdev::node(unit);
                    if !use_configure {
                        self.debug("LOOP_CONFIGURE unsupported; used LOOP_SET_FD + LOOP_SET_STATUS64".into());
                    }
                    let on = self.sys.direct_io_result(&dev, dio);
                    self.debug(loopdev::direct_io_note(&node, &b.name, dio, on));
                    if attempt > 0 {
                        self.debug(format!("{}: attached after {attempt} lost race(s)", node.display()));
                    }
                    return Ok((unit, dev));
                }
                Attempt::Lost(e) => last = e,
            }
        }
        Err(Error::explained(
            LOOP_CONTROL,
            format!("cannot find an unused loop device after {} attempts", loopdev::ATTEMPTS),
            last,
        ))
    }

    /// One attempt, under the loop-control lock: pick a unit, open it,
    /// bind it. Losing the race to another allocator is not an error.
    fn attempt(
        &mut self,
        a: &Attach,
        b: &Source,
        info: &LoopInfo64,
        block_size: u32,
        use_configure: &mut bool,
    ) -> Result<Attempt<S::Dev>> {
        {
            let unit = match a.unit {
                Unit::Auto => self
                    .sys
                    .get_free()
                    .map_err(|e| Error::explained(LOOP_CONTROL, "cannot find an unused loop device", e))?,
                Unit::Fixed(n) => match self.sys.ctl_add(n) {
                    Ok(()) | Err(Errno::EEXIST) => n,
                    Err(e) => return Err(Error::sys(format!("{LOOP_CONTROL}: LOOP_CTL_ADD {n}"), e)),
                },
            };
            let node = loopdev::node(unit);
            let fixed = matches!(a.unit, Unit::Fixed(_));
            // Another allocator took (EBUSY) or removed (ENXIO, ENODEV) the
            // device: try again. Nothing of ours is bound to it.
            let retry = |e: Errno| loopdev::lost_race(e) && !(fixed && e == Errno::EBUSY);
            let dev = match self.open_loop(unit) {
                Ok(d) => d,
                Err(e) if retry(e) => return Ok(Attempt::Lost(e)),
                Err(e) => return Err(Error::sys(show(&node), e)),
            };
            match self.sys.bind(&dev, b.file.as_fd(), info, block_size, use_configure) {
                Ok(()) => Ok(Attempt::Bound(unit, dev)),
                Err(e) if retry(e) => Ok(Attempt::Lost(e)),
                Err(Errno::EBUSY) => {
                    Err(Error::explained(show(&node), "already attached to another file", Errno::EBUSY))
                }
                Err(e) => Err(Error::explained(
                    show(&node),
                    format!("failed to set up loop device for {}", b.name.display()),
                    e,
                )),
            }
        }
    }

    /// Opens the root just mounted on `pin` for chmod, chown and the
    /// skeleton; if it cannot be opened, the mount is undone (the executor
    /// only undoes mounts it was handed).
    fn open_root(&mut self, pin: &Target, mount_point: &Path) -> Result<OwnedFd> {
        pin.mounted_root(mount_point).inspect_err(|_| {
            if let Err(u) = self.sys.unmount(&pin.pinned, true) {
                self.warn(format!("rollback: unmount {}: {}", crate::error::quoted(mount_point), u.desc()));
            }
        })
    }

    /// Puts the image back to the length `len` it had before `-s` grew it.
    fn restore_length(&mut self, file: &OwnedFd, len: u64) {
        let shrunk = i64::try_from(len).ok().and_then(|l| nix::unistd::ftruncate(file, l).ok());
        if shrunk.is_none() {
            self.warn(format!("could not give the image back its length of {len} bytes"));
        }
    }

    /// Opens `/dev/loopN`, waiting (bounded) for the node to appear.
    fn open_loop(&mut self, unit: u32) -> nix::Result<S::Dev> {
        match self.sys.open_device(unit, OFlag::O_RDWR) {
            Err(Errno::ENOENT) => {
                self.sys.wait_for_node(unit, NODE_WAIT);
                self.sys.open_device(unit, OFlag::O_RDWR)
            }
            r => r,
        }
    }

    /// The start of the disk, through the loop descriptor held.
    fn read_head(&mut self, disk: &Disk<Held<S::Dev>>, len: usize) -> Result<Vec<u8>> {
        let what = || format!("{}: read superblock", disk.device.path.display());
        self.sys.read_head(&disk.hold.fd, len).map_err(|e| crate::error::from_io(what(), &e))
    }

    fn probe(&mut self, disk: &Disk<Held<S::Dev>>) -> Result<String> {
        let what = shown_image(disk);
        // ext2/3/4 and XFS are told by the first 4 KiB; only when those do
        // not match is the rest (btrfs at 64 KiB, UFS up to 256 KiB) read.
        let mut found = probe::probe(&self.read_head(disk, probe::FIRST_LEN)?);
        if found == probe::Found::Unknown {
            found = probe::probe(&self.read_head(disk, probe::PROBE_LEN)?);
        }
        match found {
            probe::Found::Mountable(t) => Ok(t.to_string()),
            probe::Found::Ufs(n) => Err(Error::text(
                what,
                format!(
                    "UFS{n} file system: Linux cannot mount UFS read-write (use FreeBSD, or -T ufs -o ro,ufstype=ufs2)"
                ),
            )),
            probe::Found::JournalDevice => Err(Error::text(what, "an external ext3/ext4 journal, not a file system")),
            probe::Found::Other(t) => {
                Err(Error::text(what, format!("holds {t}, not a file system mount_md mounts (use -T to name one)")))
            }
            probe::Found::Unknown => Err(Error::text(what, "no recognised file system (use -T to name one)")),
        }
    }
}

/// The handle of an image opened as `path`.
fn opened(path: &Path, img: posix::Image) -> Opened<posix::Image> {
    let untrusted = img.untrusted();
    Opened { path: path.to_path_buf(), id: posix::file_id(&img.stat), created: img.created, untrusted, handle: img }
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

    /// The root of what is now mounted on the target.
    fn mounted_root(&self, mount_point: &Path) -> Result<OwnedFd> {
        match &self.parent {
            Some((parent, name)) => posix::open_dir_at(parent, name.as_os_str())
                .map_err(|e| Error::sys(crate::error::quoted(mount_point), e)),
            None => posix::open_root(mount_point),
        }
    }
}

/// mount(2) on a pinned mount point, with the errno turned into words a
/// user can act on. Returns the pinned target, for the new root.
fn do_mount<S: LoopSys>(
    sys: &mut S,
    source: &str,
    target: &Path,
    fstype: &str,
    flags: MsFlags,
    data: &str,
) -> Result<Target> {
    let pin = Target::open(target)?;
    let data = if data.is_empty() { None } else { Some(data) };
    let result = sys.mount(source, &pin.pinned, fstype, flags, data);
    result.map(|()| pin).map_err(|e| {
        let what = format!("{source} on {}", crate::error::quoted(target));
        let text = match e {
            Errno::ENODEV => format!("the kernel does not know file system type {fstype}"),
            Errno::EINVAL => format!(
                "not a valid {fstype} file system, one larger than the disk (-s), or an option {fstype} does not accept"
            ),
            Errno::EBUSY => "already mounted, or the mount point is busy".to_string(),
            Errno::ENOENT => "mount point does not exist".to_string(),
            Errno::ENOTDIR => "mount point is not a directory".to_string(),
            Errno::EROFS | Errno::EACCES if !flags.contains(MsFlags::MS_RDONLY) => {
                "device is write-protected; mount with -o ro".to_string()
            }
            _ => return Error::sys(what, e),
        };
        Error::explained(what, text, e)
    })
}

/// How the mounted root is opened right after the mount.
fn describe_root(mount_point: &Path) -> String {
    match (mount_point.parent(), mount_point.file_name()) {
        (Some(parent), Some(name)) => format!(
            "openat(<{}>, {}, O_DIRECTORY|O_NOFOLLOW)",
            parent.display(),
            mount::quoted(&name.to_string_lossy())
        ),
        _ => format!("open({}, O_DIRECTORY|O_NOFOLLOW)", mount::quoted(&show(mount_point))),
    }
}

fn describe_attach(a: &Attach, mount_point: &Path) -> String {
    let dio = loopdev::direct_io_for(
        a.direct_io,
        match &a.backing {
            Backing::Vnode(p) => loopdev::dio_offset_align_of(p),
            Backing::Swap | Backing::Malloc => None,
        },
    );
    let (open_part, fd_name, sizelimit) = match &a.backing {
        Backing::Vnode(p) => {
            let len = std::fs::metadata(p).map(|m| m.len()).ok();
            let (grow, limit) = sizing(a.size, len);
            let grow = grow.map(|s| format!("ftruncate({}, {s})", mount::quoted(&show(p)))).unwrap_or_default();
            (grow, "<img>", limit)
        }
        Backing::Swap | Backing::Malloc => {
            let size = a.size.map(|s| s.to_string()).unwrap_or_else(|| "<-s missing>".into());
            (format!("memfd_create(\"mount_md\", MFD_CLOEXEC); ftruncate(<memfd>, {size})"), "<memfd>", 0)
        }
    };
    let info = loop_info(a.read_only, sizelimit, &mark_of(mount_point), dio.flag());
    let (find, node) = match a.unit {
        Unit::Auto => ("ioctl(/dev/loop-control, LOOP_CTL_GET_FREE)".to_string(), "/dev/loop?".to_string()),
        Unit::Fixed(n) => (format!("ioctl(/dev/loop-control, LOOP_CTL_ADD, {n})"), format!("/dev/loop{n}")),
    };
    let block_size = match dio.block_size() {
        0 => String::new(),
        n => format!(", block_size={n}"),
    };
    format!(
        "{open_part}{}flock(/dev/loop-control, LOCK_EX); {find}; ioctl({node}, LOOP_CONFIGURE, fd={fd_name}, {}{block_size})",
        if open_part.is_empty() { "" } else { "; " },
        describe_info(&info)
    )
}

impl<S: LoopSys> Platform for Linux<S> {
    type Image = posix::Image;
    type Hold = Held<S::Dev>;
    type Root = OwnedFd;
    /// MS_NOSUID and MS_NODEV.
    const HARDENING: &'static [&'static str] = &["nosuid", "nodev"];

    fn defaults(&self) -> Defaults {
        Defaults { fstype: "ext4", probe_preserved: true, tmpfs_available: true }
    }

    fn check(&mut self, plan: &Plan) -> Result<()> {
        if let Some(mdconfig) = &plan.mdconfig_path {
            self.debug(format!(
                "-E {}: ignored; mount_md attaches loop devices itself and runs no mdconfig",
                mdconfig.display()
            ));
        }
        self.mount_point = Some(plan.mount_point.clone());
        self.fixed_unit = plan.steps.iter().find_map(|s| match s {
            Step::Attach(Attach { unit: Unit::Fixed(n), .. }) => Some(*n),
            _ => None,
        });
        let in_other_ns = plan.steps.iter().any(|s| matches!(s, Step::EnterNamespace(_)));
        for step in &plan.steps {
            match step {
                Step::Attach(a) if matches!(a.backing, Backing::Swap | Backing::Malloc) && a.size.unwrap_or(0) == 0 => {
                    return Err(swap_needs_size());
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
                    mkfs::argv(f, "/dev/loop?")
                        .map_err(|c| Error::plain(format!("option -{c} has no meaning for {} on Linux", f.fstype)))?;
                    // A run that always formats needs its mkfs: said before
                    // anything is created or attached (and under -N).
                    if !f.only_if_created {
                        mkfs::find(&f.fstype)?;
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
                        if kernel_says_nodev(t) {
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

    fn describe(&self, step: &Step, dev: Option<&Device>, _image: Option<&Opened<posix::Image>>) -> String {
        let node = match (dev, self.fixed_unit) {
            (None, Some(n)) => show(&loopdev::node(n)),
            _ => super::describe::device_name("/dev/loop", dev),
        };
        let mp = self.mount_point.clone().unwrap_or_else(|| PathBuf::from("<mount point>"));
        // The root as mount() opened it, once, through the pinned parent.
        let root = format!("<root of {}>", mount::quoted(&show(&mp)));
        match step {
            Step::EnterNamespace(ns) => format!("setns(open({}), CLONE_NEWNS)", mount::quoted(&show(ns))),
            Step::OpenImage(o) => {
                let mode = if o.read_only { "O_RDONLY" } else { "O_RDWR" };
                let tmp = o.path.file_name().map(|n| show(Path::new(&posix::temp_name(n)))).unwrap_or_default();
                let create = match o.create {
                    Some((size, crate::request::CreateMode::Reserve)) => format!(
                        "if missing: flock(<dir>, LOCK_EX); openat({}, O_CREAT|O_EXCL, 0600); \
                         posix_fallocate(<img>, 0, {size}); renameat2(RENAME_NOREPLACE) once formatted; ",
                        mount::quoted(&tmp)
                    ),
                    Some((size, crate::request::CreateMode::Sparse)) => format!(
                        "if missing: flock(<dir>, LOCK_EX); openat({}, O_CREAT|O_EXCL, 0600); \
                         ftruncate(<img>, {size}); renameat2(RENAME_NOREPLACE) once formatted; ",
                        mount::quoted(&tmp)
                    ),
                    None => String::new(),
                };
                format!(
                    "{create}openat({}, {mode}|O_NOFOLLOW|O_NONBLOCK) (a symlink only if nobody else can change it); \
                     flock(<img>, LOCK_EX) (at most {} s)",
                    mount::quoted(&show(&o.path)),
                    posix::LOCK_WAIT.as_secs()
                )
            }
            Step::PreDetach(n) => format!("ioctl(/dev/loop{n}, LOOP_CLR_FD) if bound and not in use"),
            Step::Attach(a) => describe_attach(a, &mp),
            Step::WaitForNode => format!("wait for {node} (at most {} s)", NODE_WAIT.as_secs()),
            Step::Examine(e) => super::describe::examine(e, &node, "e2fsck"),
            Step::Format(f) => match mkfs::argv(f, &node) {
                Ok(args) => format!("mkfs.{} {}", f.fstype, args.join(" ")),
                Err(c) => format!("mkfs.{}: option -{c} has no meaning", f.fstype),
            },
            Step::Mount(m) => {
                let t = match &m.fstype {
                    FsType::Named(t) => t.clone(),
                    FsType::Probe => "<probed>".to_string(),
                };
                let c = mount_call(&m.options, dev.is_some_and(|d| d.read_only));
                format!(
                    "mount({}, {}, {}, {}, {}); {}",
                    mount::quoted(&format!("{node}{}", m.suffix)),
                    mount::quoted(&show(&m.mount_point)),
                    mount::quoted(&t),
                    mount::flag_names(c.flags),
                    mount::quoted(&c.data),
                    describe_root(&m.mount_point)
                )
            }
            Step::MountTmpfs(t) => {
                let mut s = mount::split(&t.options);
                if let Some(size) = t.size {
                    s.data.push(format!("size={size}"));
                }
                format!(
                    "mount(\"tmpfs\", {}, \"tmpfs\", {}, {}); {}",
                    mount::quoted(&show(&t.mount_point)),
                    mount::flag_names(s.flags),
                    mount::quoted(&s.data_string()),
                    describe_root(&t.mount_point)
                )
            }
            Step::SetMode { mode, .. } => format!("fchmod({root}, {mode:04o})"),
            Step::SetOwner { uid, gid } => format!("fchown({root}, {uid}, {gid})"),
            Step::CopySkeleton(p) => {
                format!("copy {} into {root}", mount::quoted(&show(p)))
            }
        }
    }

    fn enter_namespace(&mut self, ns: &Path) -> Result<()> {
        let fd = std::fs::File::open(ns).map_err(|e| crate::error::from_io(crate::error::quoted(ns), &e))?;
        nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWNS)
            .map_err(|e| Error::sys(format!("setns {}", ns.display()), e))
    }

    fn open_image(&mut self, o: &OpenImage) -> Result<Opened<posix::Image>> {
        let img = posix::open_image(&o.path, o.create, o.read_only)?;
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

    fn units(&mut self) -> Result<Vec<UnitInfo>> {
        units::list(&mut self.sys)
    }

    fn mounts(&mut self) -> Result<Vec<MountRec>> {
        Ok(units::mounts(&mut self.sys)?
            .into_iter()
            .map(|e| MountRec { id: e.id, dev: e.dev, on: e.target, fstype: e.fstype, source: e.source })
            .collect())
    }

    fn held(&mut self, u: &UnitInfo) -> Result<bool> {
        Ok(units::claimed(&mut self.sys, u.device.unit))
    }

    fn interrupted(&mut self) -> Option<&'static str> {
        posix::pending_stop()
    }

    fn image_start(&mut self, path: &Path, len: usize) -> Result<Option<Vec<u8>>> {
        posix::image_start(path, len)
    }

    /// Memory disks are backed by mount_md's memfd.
    fn memory_backed(&mut self, u: &UnitInfo) -> bool {
        self.sys.backing_name(u.device.unit).is_some_and(|n| memory_name(&n))
    }

    fn identify(&mut self, path: &Path) -> Result<PathKind> {
        units::identify(&mut self.sys, path)
    }

    fn unmount_at(&mut self, on: &Path, force: bool) -> Result<()> {
        self.sys.unmount(on, force).map_err(|e| Error::sys(format!("unmount {}", crate::error::quoted(on)), e))
    }

    fn release_unit(&mut self, u: &UnitInfo, force: bool) -> Result<Detached> {
        let unit = u.device.unit;
        let Some(bound) = u.backing.map(|b| (b.dev, b.ino)) else { return Ok(Detached::Now) };
        match units::release(&mut self.sys, unit, bound, force).map_err(|e| Error::sys(show(&u.device.path), e))? {
            units::Release::Detached => Ok(Detached::Now),
            units::Release::OnLastClose => Ok(Detached::OnLastClose),
        }
    }

    fn pause(&mut self, d: std::time::Duration) {
        self.sys.sleep(d);
    }

    fn disk_name(&self) -> &'static str {
        "a loop device"
    }

    fn node(&self, unit: u32) -> PathBuf {
        loopdev::node(unit)
    }

    // reuse: the default. A leftover of ours (its autoclear lost, say) is
    // not taken over: the executor detaches it and attaches afresh, so the
    // new device has autoclear and this run's size and flags.

    fn detach_unit(&mut self, unit: u32) -> Result<()> {
        units::detach_idle(&mut self.sys, unit)?;
        self.debug(format!("{}: detached", loopdev::node(unit).display()));
        Ok(())
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
            }),
            Err(e) => {
                if let Some(len) = b.grown_from {
                    self.restore_length(&b.file, len);
                }
                Err(e)
            }
        }
    }

    /// A leftover found by find_attached: detached only if nobody has it
    /// open (detach_unit's exclusive open).
    fn detach_leftover(&mut self, dev: &Device) -> Result<()> {
        self.detach_unit(dev.unit)
    }

    fn detach(&mut self, disk: Disk<Held<S::Dev>>) -> Result<()> {
        let Disk { device, hold } = disk;
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

    fn format(&mut self, disk: &Disk<Held<S::Dev>>, f: &Format) -> Result<()> {
        mkfs::run(f, &disk.device.path, &shown_image(disk))
    }

    fn publish_image(&mut self, image: &mut Opened<posix::Image>) -> Result<()> {
        image.handle.publish()
    }

    fn read_start(&mut self, disk: &Disk<Held<S::Dev>>, len: usize) -> Result<Vec<u8>> {
        self.read_head(disk, len)
    }

    /// ext2/3/4 only: `e2fsck -p` (`-f -p` with `force`). Its summary
    /// goes to `-X`.
    fn fsck(&mut self, disk: &Disk<Held<S::Dev>>, fs: &str, force: bool) -> Result<Option<String>> {
        if !matches!(fs, "ext2" | "ext3" | "ext4") {
            return Ok(None);
        }
        let (ran, output) = mkfs::e2fsck(&disk.device.path, &shown_image(disk), force)?;
        for line in output.lines().filter(|l| !l.trim().is_empty()) {
            self.debug(format!("e2fsck: {line}"));
        }
        Ok(Some(ran))
    }

    fn mount(&mut self, disk: &Disk<Held<S::Dev>>, m: &Mount) -> Result<Mounted<OwnedFd>> {
        let dev = &disk.device;
        let fstype = match &m.fstype {
            FsType::Named(t) => t.clone(),
            FsType::Probe => {
                let t = self.probe(disk)?;
                self.debug(format!("{}: found {t}", dev.path.display()));
                t
            }
        };
        let c = mount_call(&m.options, dev.read_only);
        if !c.dropped.is_empty() {
            self.debug(format!("ignored userspace-only options: {}", c.dropped.join(",")));
        }
        if c.forced_ro {
            self.debug(format!("{} is read-only: mounting with MS_RDONLY", dev.path.display()));
        }
        let source = format!("{}{}", dev.path.display(), m.suffix);
        let data = c.data;
        let pin = match do_mount(&mut self.sys, &source, &m.mount_point, &fstype, c.flags, &data) {
            Err(e) if m.sloppy && e.errno() == Some(Errno::EINVAL) && !data.is_empty() => {
                self.warn(format!("sloppy: {fstype} refused options {data}; mounting without them"));
                do_mount(&mut self.sys, &source, &m.mount_point, &fstype, c.flags, "")?
            }
            r => r?,
        };
        let root = self.open_root(&pin, &m.mount_point)?;
        let read_only = c.flags.contains(MsFlags::MS_RDONLY) || posix::is_read_only(&root).unwrap_or(false);
        Ok(Mounted { mount_point: m.mount_point.clone(), fstype, read_only, root })
    }

    fn mount_tmpfs(&mut self, t: &TmpfsMount) -> Result<Mounted<OwnedFd>> {
        let mut s = mount::split(&t.options);
        if let Some(size) = t.size {
            s.data.push(format!("size={size}"));
        }
        let pin = do_mount(&mut self.sys, "tmpfs", &t.mount_point, "tmpfs", s.flags, &s.data_string())?;
        let read_only = s.flags.contains(MsFlags::MS_RDONLY);
        let root = self.open_root(&pin, &t.mount_point)?;
        Ok(Mounted { mount_point: t.mount_point.clone(), fstype: "tmpfs".into(), read_only, root })
    }

    /// Closes the root first: a descriptor on it keeps the mount busy.
    fn unmount(&mut self, m: Mounted<OwnedFd>) -> Result<()> {
        let Mounted { mount_point: on, root, .. } = m;
        drop(root);
        let what = || format!("unmount {}", crate::error::quoted(&on));
        match self.sys.unmount(&on, false) {
            Err(Errno::EBUSY) => {
                self.warn(format!("{} is busy; detaching it lazily", crate::error::quoted(&on)));
                self.sys.unmount(&on, true).map_err(|e| Error::sys(what(), e))
            }
            r => r.map_err(|e| Error::sys(what(), e)),
        }
    }

    fn set_mode(&mut self, m: &Mounted<OwnedFd>, mode: u32) -> Result<()> {
        posix::set_mode(&m.root, &m.mount_point, mode)
    }

    fn set_owner(&mut self, m: &Mounted<OwnedFd>, uid: u32, gid: u32) -> Result<()> {
        posix::set_owner(&m.root, &m.mount_point, uid, gid)
    }

    fn copy_skeleton(&mut self, m: &Mounted<OwnedFd>, from: &Path) -> Result<()> {
        posix::copy_skeleton(from, &m.root)
    }

    fn take_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }

    fn grow(&mut self, req: &crate::request::GrowRequest, io: &mut crate::exec::Output<'_>) -> Result<()> {
        grow::grow(self, req, io)
    }

    fn list(&mut self) -> Result<Vec<crate::list::Listed>> {
        grow::list(&mut self.sys)
    }

    fn preflight(&self, plan: &Plan) -> Result<()> {
        super::preflight::check(plan)
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
    match options.iter().find(|o| mount::refused(o)) {
        Some(o) => Err(Error::plain(format!("mount option {o} has no meaning for mount_md"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::SystemHost;
    use std::ffi::OsString;

    fn plan(args: &[&str]) -> Plan {
        let argv: Vec<OsString> = args.iter().map(OsString::from).collect();
        let flavor = crate::flavor::Flavor::from_name(args[0]);
        let crate::request::Command::Mount(req) = crate::cli::parse(flavor, &argv, &SystemHost).expect("command line")
        else {
            panic!("not a mount command")
        };
        crate::plan::build(&req, Linux::new().defaults())
    }

    fn check(args: &[&str]) -> std::result::Result<(), String> {
        Linux::new().check(&plan(args)).map_err(|e| e.to_string())
    }

    #[test]
    fn check_accepts() {
        assert_eq!(check(&["mount_md", "-F", "/img", "md", "/"]), Ok(()));
        assert_eq!(check(&["mount_md", "-P", "-F", "/img", "-o", "ro,noatime", "md", "/"]), Ok(()));
        assert_eq!(
            check(&["mount_md", "-b", "4096", "-i", "8192", "-m", "0", "-n", "-S", "-F", "/i", "md", "/"]),
            Ok(())
        );
        assert_eq!(check(&["mount_md", "-s", "64m", "md", "/"]), Ok(()));
        assert_eq!(check(&["mount_md", "-M", "-s", "64m", "md3", "/"]), Ok(()));
        assert_eq!(check(&["mount_md", "-s", "64m", "tmpfs", "/"]), Ok(()));
        assert_eq!(check(&["mount_md", "-P", "-T", "ufs", "-o", "ro,ufstype=ufs2", "-F", "/i", "md", "/"]), Ok(()));
        assert_eq!(check(&["mount.md", "md", "/", "-o", "rw,noatime,-P,-F/i"]), Ok(()));
    }

    /// `-E mdconfig` has nothing to name on Linux either; `-X` says so.
    #[test]
    fn mdconfig_path_is_ignored_and_said() {
        let mut l = Linux::new();
        l.check(&plan(&["mount_md", "-E", "/sbin/mdconfig", "-s", "64m", "md", "/"])).unwrap();
        assert_eq!(
            l.take_notes(),
            [Note::Debug(
                "-E /sbin/mdconfig: ignored; mount_md attaches loop devices itself and runs no mdconfig".into()
            )]
        );
    }

    #[test]
    fn check_refuses() {
        let e = |args: &[&str]| check(args).unwrap_err();
        assert_eq!(e(&["mount_md", "-O", "2", "-F", "/i", "md", "/"]), "option -O has no meaning for ext4 on Linux");
        assert_eq!(e(&["mount_md", "-l", "-F", "/i", "md", "/"]), "option -l has no meaning for ext4 on Linux");
        assert_eq!(
            e(&["mount_md", "-i", "1", "-T", "xfs", "-F", "/i", "md", "/"]),
            "option -i has no meaning for xfs on Linux"
        );
        assert!(e(&["mount_md", "-T", "ufs", "-F", "/i", "md", "/"]).contains("cannot make UFS"));
        assert!(e(&["mount_md", "-P", "-T", "ufs", "-F", "/i", "md", "/"]).contains("cannot mount UFS read-write"));
        assert!(e(&["mount_md", "-F", "/i", "md.uzip", "/"]).starts_with("device suffix .uzip has no meaning"));
        assert!(e(&["mount_md", "md", "/"]).contains("need a size"));
        assert!(e(&["mount_md", "-M", "md", "/"]).contains("need a size"));
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
        assert!(e(&["mount_md", "-F", "/i", "md", "/proc/self/status"]).ends_with("Not a directory"));
        // In another mount namespace the mount point is not ours to look at.
        assert_eq!(check(&["mount.md", "md", "/nonexistent/x", "-N", "/proc/1/ns/mnt", "-o", "-P,-F/i"]), Ok(()));
    }

    #[test]
    fn describes_exact_calls() {
        let mut l = Linux::new();
        let p = plan(&["mount_md", "-o", "noatime,nodev,errors=remount-ro", "-p", "0750", "-F", "/i m/g", "md", "/"]);
        l.check(&p).unwrap();
        let lines: Vec<String> = p.steps.iter().map(|s| l.describe(s, None, None)).collect();
        assert_eq!(
            lines,
            [
                "openat(\"/i m/g\", O_RDWR|O_NOFOLLOW|O_NONBLOCK) (a symlink only if nobody else can change it); \
                 flock(<img>, LOCK_EX) (at most 10 s)",
                "flock(/dev/loop-control, LOCK_EX); ioctl(/dev/loop-control, LOOP_CTL_GET_FREE); \
                 ioctl(/dev/loop?, LOOP_CONFIGURE, fd=<img>, flags=AUTOCLEAR|DIRECT_IO, lo_file_name=\"mount_md:/\")",
                "wait for /dev/loop? (at most 5 s)",
                "pread(/dev/loop?, 4096, 0): refuse to format over a file system",
                "mkfs.ext4 -q -F -E nodiscard /dev/loop?",
                "mount(\"/dev/loop?\", \"/\", \"ext4\", MS_NODEV|MS_NOATIME, \"errors=remount-ro\"); \
                 open(\"/\", O_DIRECTORY|O_NOFOLLOW)",
                "fchmod(<root of \"/\">, 0750)",
            ]
        );
        let dev = Device { unit: 7, path: "/dev/loop7".into(), read_only: true };
        let p = plan(&["mount_md", "-P", "-F", "/i", "md", "/"]);
        assert_eq!(
            l.describe(&p.steps[3], Some(&dev), None),
            "pread(/dev/loop7, 4096, 0); e2fsck -p /dev/loop7 only if it is not clean"
        );
        assert_eq!(
            l.describe(&p.steps[4], Some(&dev), None),
            "mount(\"/dev/loop7\", \"/\", \"<probed>\", MS_RDONLY, \"\"); open(\"/\", O_DIRECTORY|O_NOFOLLOW)"
        );
        let p = plan(&["mount_md", "-o", "ro", "-s", "1m", "-F", "/nonexistent", "md4", "/"]);
        assert_eq!(
            l.describe(&p.steps[0], None, None),
            "openat(\"/nonexistent\", O_RDONLY|O_NOFOLLOW|O_NONBLOCK) (a symlink only if nobody else can change it); \
             flock(<img>, LOCK_EX) (at most 10 s)"
        );
        assert_eq!(p.steps[1].kind(), "predetach");
        assert_eq!(l.describe(&p.steps[1], None, None), "ioctl(/dev/loop4, LOOP_CLR_FD) if bound and not in use");
        assert_eq!(
            l.describe(&p.steps[2], None, None),
            "flock(/dev/loop-control, LOCK_EX); ioctl(/dev/loop-control, LOOP_CTL_ADD, 4); \
             ioctl(/dev/loop4, LOOP_CONFIGURE, fd=<img>, flags=AUTOCLEAR|READ_ONLY|DIRECT_IO, sizelimit=1048576, \
             lo_file_name=\"mount_md:/\")"
        );
        let p = plan(&["mount_md", "--create=sparse", "-s", "1m", "-F", "/n", "md", "/"]);
        assert_eq!(
            l.describe(&p.steps[0], None, None),
            "if missing: flock(<dir>, LOCK_EX); openat(\".n.mount_md-new\", O_CREAT|O_EXCL, 0600); \
             ftruncate(<img>, 1048576); renameat2(RENAME_NOREPLACE) once formatted; \
             openat(\"/n\", O_RDWR|O_NOFOLLOW|O_NONBLOCK) (a symlink only if nobody else can change it); \
             flock(<img>, LOCK_EX) (at most 10 s)"
        );
        let p = plan(&["mount_md", "-s", "1m", "tmpfs", "/"]);
        assert_eq!(
            l.describe(&p.steps[0], None, None),
            "mount(\"tmpfs\", \"/\", \"tmpfs\", 0, \"size=1048576\"); open(\"/\", O_DIRECTORY|O_NOFOLLOW)"
        );
    }

    #[test]
    fn no_direct_io_option() {
        let l = Linux::new();
        let attach = |args: &[&str]| {
            let p = plan(args);
            let a = p.steps.iter().find(|s| s.kind() == "attach").expect("attach step").clone();
            l.describe(&a, None, None)
        };
        let flags = |line: String| {
            let f = line.rsplit_once("flags=").map(|(_, f)| f.to_string()).unwrap();
            f.replace(", lo_file_name=\"mount_md:<mount point>\"", "")
        };
        assert_eq!(flags(attach(&["mount_md", "-F", "/nonexistent", "md", "/"])), "AUTOCLEAR|DIRECT_IO)");
        assert_eq!(flags(attach(&["mount_md", "--no-direct-io", "-F", "/nonexistent", "md", "/"])), "AUTOCLEAR)");
        assert_eq!(flags(attach(&["mount.md", "md", "/", "-o", "-F/nonexistent,--no-direct-io"])), "AUTOCLEAR)");
        assert_eq!(flags(attach(&["mount_md", "-s", "1m", "md", "/"])), "AUTOCLEAR|DIRECT_IO)");
        // The block size is the image's file system's direct-I/O alignment.
        let exe = std::env::current_exe().unwrap();
        let line = attach(&["mount_md", "-F", exe.to_str().unwrap(), "md", "/"]);
        match loopdev::dio_offset_align_of(&exe) {
            Some(a) if a > 0 => assert!(line.ends_with(&format!(", block_size={})", a.max(512))), "{line}"),
            _ => assert!(!line.contains("block_size"), "{line}"),
        }
    }

    #[test]
    fn defaults() {
        assert_eq!(Linux::new().defaults(), Defaults { fstype: "ext4", probe_preserved: true, tmpfs_available: true });
    }
}
