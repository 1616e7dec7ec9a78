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
use super::{posix, Device, Existing, Mounted, Note, Platform, Released};
use crate::device::Unit;
use crate::error::{Error, Result};
use crate::plan::{Attach, Defaults, Format, FsType, Mount, OpenImage, Plan, Step, TmpfsMount};
use crate::request::{Backing, ReleaseTarget};
use loopdev::{LoopInfo64, LOOP_CONTROL};
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod kfile;
pub mod loopdev;
pub mod mkfs;
pub mod mount;
pub mod mountinfo;
pub mod probe;
pub mod start;

/// How long to wait for `/dev/loopN` to appear (devtmpfs makes it at once;
/// a static /dev with udev may lag).
const NODE_WAIT: Duration = Duration::from_secs(5);

/// The loop device this run attached, held open until [`Platform::finish`]
/// or a rollback detach.
#[derive(Debug)]
struct Held {
    unit: u32,
    fd: OwnedFd,
    /// The image, for messages (`None` for memfd-backed disks).
    image: Option<PathBuf>,
}

/// The Linux platform.
#[derive(Debug, Default)]
pub struct Linux {
    held: Option<Held>,
    /// The backing image, opened and locked by `open_image` for the run.
    image: Option<posix::Image>,
    /// The image's length before `-s` extended it, so that a failed run
    /// can put it back.
    grown_from: Option<u64>,
    notes: Vec<Note>,
    /// The plan's mount point, remembered by `check()` so that `describe()`
    /// can name it in the chmod/chown/copy lines.
    mount_point: std::cell::RefCell<Option<PathBuf>>,
    /// A fixed unit from the plan, so dry-run lines can name `/dev/loopN`.
    fixed_unit: std::cell::Cell<Option<u32>>,
}

impl Linux {
    pub fn new() -> Self {
        Self::default()
    }

    fn warn(&mut self, text: String) {
        self.notes.push(Note::Warning(text));
    }

    fn debug(&mut self, text: String) {
        self.notes.push(Note::Debug(text));
    }
}

fn own(fd: std::os::fd::RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open and is owned by
    // nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn show(p: &Path) -> String {
    p.display().to_string()
}

/// What the loop device will be bound to.
struct Source {
    file: OwnedFd,
    /// For `lo_file_name` and messages.
    name: PathBuf,
    image: Option<PathBuf>,
    read_only: bool,
    sizelimit: u64,
}

fn is_ufs(t: &str) -> bool {
    matches!(t, "ufs" | "ffs")
}

fn swap_needs_size() -> Error {
    Error::plain("swap- and malloc-backed disks need a size on Linux (-s)")
}

impl Linux {
    /// Opens the image (or makes the memfd) and works out flags and size.
    fn open_backing(&mut self, a: &Attach) -> Result<Source> {
        let path = match &a.backing {
            Backing::Vnode(p) => p,
            Backing::Swap | Backing::Malloc => {
                let size = a.size.filter(|s| *s > 0).ok_or_else(swap_needs_size)?;
                let name = c"mount_md";
                let file = nix::sys::memfd::memfd_create(name, nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC)
                    .map_err(|e| Error::sys("memfd_create", e))?;
                let len = i64::try_from(size).map_err(|_| Error::sys("memfd_create", Errno::EFBIG))?;
                nix::unistd::ftruncate(&file, len).map_err(|e| Error::sys(format!("memfd: ftruncate {size}"), e))?;
                return Ok(Source {
                    file,
                    name: PathBuf::from("memfd:mount_md"),
                    image: None,
                    read_only: a.read_only,
                    sizelimit: 0,
                });
            }
        };
        // The image was opened (without following symlinks) and locked by
        // open_image; the loop device is bound to that very descriptor.
        let img = self.image.as_ref().ok_or_else(|| Error::text(show(path), "not opened"))?;
        let read_only = a.read_only || !img.writable;
        let file = img.fd.try_clone().map_err(|e| crate::error::from_io(show(path), &e))?;
        #[allow(clippy::unnecessary_cast)]
        let len = img.stat.st_size as u64;
        let mut sizelimit = 0;
        match a.size.filter(|s| *s > 0) {
            Some(size) if size < len => sizelimit = size,
            Some(size) if size > len => {
                // As md(4) with -s: the device is that large; the file grows
                // sparsely to match (never shrinks; a failed run shrinks it
                // back, see restore_length).
                if read_only {
                    return Err(Error::text(
                        show(path),
                        format!("is {len} bytes and read-only: cannot extend it to {size} bytes for -s"),
                    ));
                }
                img.extend_to(size)?;
                self.grown_from = Some(len);
                self.debug(format!("{}: extended sparsely from {len} to {size} bytes for -s", path.display()));
            }
            _ => {}
        }
        Ok(Source { file, name: path.clone(), image: Some(path.clone()), read_only, sizelimit })
    }

    /// The attach proper: bind a loop device to the backing file, with
    /// the allocation race handled as util-linux and systemd do.
    fn attach_loop(&mut self, a: &Attach) -> Result<Device> {
        let b = self.open_backing(a)?;
        let control = loopdev::open_control().map_err(|e| Error::sys(LOOP_CONTROL, e))?;
        let dio = loopdev::direct_io_for(a.direct_io, loopdev::dio_offset_align(&b.file));
        let mut flags = loopdev::LO_FLAGS_AUTOCLEAR | dio.flag();
        if b.read_only {
            flags |= loopdev::LO_FLAGS_READ_ONLY;
        }
        let info = LoopInfo64::new(flags, b.sizelimit, &b.name);
        let mut use_configure = true;
        let mut last = Errno::EBUSY;
        for attempt in 0..loopdev::ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(loopdev::backoff(attempt));
            }
            let lock = loopdev::ControlLock::take(&control).map_err(|e| Error::sys(LOOP_CONTROL, e))?;
            let unit = match a.unit {
                Unit::Auto => loopdev::get_free(&control)
                    .map_err(|e| Error::explained(LOOP_CONTROL, "cannot find an unused loop device", e))?,
                Unit::Fixed(n) => match loopdev::ctl_add(&control, n) {
                    Ok(()) | Err(Errno::EEXIST) => n,
                    Err(e) => return Err(Error::sys(format!("{LOOP_CONTROL}: LOOP_CTL_ADD {n}"), e)),
                },
            };
            let node = loopdev::node(unit);
            let fixed = matches!(a.unit, Unit::Fixed(_));
            // Another allocator took (EBUSY) or removed (ENXIO, ENODEV) the
            // device: try again. Nothing of ours is bound to it.
            let retry = |e: Errno| loopdev::lost_race(e) && !(fixed && e == Errno::EBUSY);
            let dev = match Self::open_loop(unit) {
                Ok(d) => d,
                Err(e) if retry(e) => {
                    last = e;
                    continue;
                }
                Err(e) => return Err(Error::sys(show(&node), e)),
            };
            match loopdev::bind(&dev, &b.file, &info, dio.block_size(), &mut use_configure) {
                Ok(()) => {
                    drop(lock);
                    if !use_configure {
                        self.debug("LOOP_CONFIGURE unsupported; used LOOP_SET_FD + LOOP_SET_STATUS64".into());
                    }
                    let on = loopdev::direct_io_result(&dev, dio);
                    self.debug(loopdev::direct_io_note(&node, &b.name, dio, on));
                    if attempt > 0 {
                        self.debug(format!("{}: attached after {attempt} lost race(s)", node.display()));
                    }
                    self.held = Some(Held { unit, fd: dev, image: b.image.clone() });
                    return Ok(Device { unit, path: node, read_only: b.read_only });
                }
                Err(e) if retry(e) => last = e,
                Err(Errno::EBUSY) => {
                    return Err(Error::explained(show(&node), "already attached to another file", Errno::EBUSY));
                }
                Err(e) => {
                    return Err(Error::explained(
                        show(&node),
                        format!("failed to set up loop device for {}", b.name.display()),
                        e,
                    ))
                }
            }
        }
        Err(Error::explained(
            LOOP_CONTROL,
            format!("cannot find an unused loop device after {} attempts", loopdev::ATTEMPTS),
            last,
        ))
    }

    /// Puts the image back to the length it had before `-s` grew it.
    fn restore_length(&mut self) {
        let (Some(len), Some(img)) = (self.grown_from.take(), &self.image) else { return };
        let shrunk = i64::try_from(len).ok().and_then(|l| nix::unistd::ftruncate(&img.fd, l).ok());
        if shrunk.is_none() {
            self.warn(format!("could not give the image back its length of {len} bytes"));
        }
    }

    /// Opens `/dev/loopN`, waiting (bounded) for the node to appear.
    fn open_loop(unit: u32) -> nix::Result<OwnedFd> {
        match loopdev::open_device(unit, OFlag::O_RDWR) {
            Err(Errno::ENOENT) => {
                let _ = posix::wait_for_node(&loopdev::node(unit), NODE_WAIT);
                loopdev::open_device(unit, OFlag::O_RDWR)
            }
            r => r,
        }
    }

    /// The held loop fd if it is `dev`'s, else a fresh read-only one.
    fn read_head(&self, dev: &Device, len: usize) -> Result<Vec<u8>> {
        let fresh;
        let fd = match &self.held {
            Some(h) if h.unit == dev.unit => &h.fd,
            _ => {
                fresh = loopdev::open_device(dev.unit, OFlag::O_RDONLY).map_err(|e| Error::sys(show(&dev.path), e))?;
                &fresh
            }
        };
        let file = std::fs::File::from(fd.try_clone().map_err(|e| crate::error::from_io(show(&dev.path), &e))?);
        let mut buf = vec![0u8; len];
        let mut got = 0;
        while got < buf.len() {
            match file.read_at(&mut buf[got..], got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(crate::error::from_io(format!("{}: read superblock", dev.path.display()), &e)),
            }
        }
        buf.truncate(got);
        Ok(buf)
    }

    fn probe(&self, dev: &Device) -> Result<String> {
        let what = match &self.held {
            Some(Held { unit, image: Some(img), .. }) if *unit == dev.unit => show(img),
            _ => show(&dev.path),
        };
        // ext2/3/4 and XFS are told by the first 4 KiB; only when those do
        // not match is the rest (btrfs at 64 KiB, UFS up to 256 KiB) read.
        let mut found = probe::probe(&self.read_head(dev, probe::FIRST_LEN)?);
        if found == probe::Found::Unknown {
            found = probe::probe(&self.read_head(dev, probe::PROBE_LEN)?);
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
            probe::Found::Unknown => Err(Error::text(what, "no recognised file system (use -T to name one)")),
        }
    }
}

/// The mount point, opened without following a symlink in any component
/// and pinned: mount(2) is pointed at `/proc/self/fd/N`, so nothing can
/// swap a directory of the path for a symlink between the check and the
/// mount. Without /proc (rare) the checked path is used as it is.
struct Target {
    dir: OwnedFd,
    pinned: PathBuf,
}

impl Target {
    fn open(mount_point: &Path) -> Result<Target> {
        let dir = posix::open_dir_no_symlinks(mount_point)?;
        let proc_path = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
        let pinned = if proc_path.exists() { proc_path } else { mount_point.to_path_buf() };
        Ok(Target { dir, pinned })
    }
}

/// mount(2) on a pinned mount point, with the errno turned into words a
/// user can act on.
fn do_mount(source: &str, target: &Path, fstype: &str, flags: MsFlags, data: &str) -> Result<()> {
    let pin = Target::open(target)?;
    let data = if data.is_empty() { None } else { Some(data) };
    let result = nix::mount::mount(Some(source), &pin.pinned, Some(fstype), flags, data);
    drop(pin.dir);
    result.map_err(|e| {
        let what = format!("{source} on {}", target.display());
        let text = match e {
            Errno::ENODEV => format!("the kernel does not know file system type {fstype}"),
            Errno::EINVAL => format!("not a valid {fstype} file system, or an option {fstype} does not accept"),
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

fn describe_attach(a: &Attach) -> String {
    let mut flags = vec!["AUTOCLEAR"];
    if a.read_only {
        flags.push("READ_ONLY");
    }
    let dio = loopdev::direct_io_for(
        a.direct_io,
        match &a.backing {
            Backing::Vnode(p) => loopdev::dio_offset_align_of(p),
            Backing::Swap | Backing::Malloc => None,
        },
    );
    if dio.flag() != 0 {
        flags.push("DIRECT_IO");
    }
    let (open_part, fd_name, sizelimit) = match &a.backing {
        Backing::Vnode(p) => {
            let len = std::fs::metadata(p).map(|m| m.len()).ok();
            let (grow, limit) = match (a.size, len) {
                (Some(s), Some(l)) if s > l => (format!("; ftruncate({}, {s})", mount::quoted(&show(p))), None),
                (Some(s), _) if s > 0 => (String::new(), Some(s)),
                _ => (String::new(), None),
            };
            (grow.trim_start_matches("; ").to_string(), "<img>", limit)
        }
        Backing::Swap | Backing::Malloc => {
            let size = a.size.map(|s| s.to_string()).unwrap_or_else(|| "<-s missing>".into());
            (format!("memfd_create(\"mount_md\", MFD_CLOEXEC); ftruncate(<memfd>, {size})"), "<memfd>", None)
        }
    };
    let (find, node) = match a.unit {
        Unit::Auto => ("ioctl(/dev/loop-control, LOOP_CTL_GET_FREE)".to_string(), "/dev/loop?".to_string()),
        Unit::Fixed(n) => (format!("ioctl(/dev/loop-control, LOOP_CTL_ADD, {n})"), format!("/dev/loop{n}")),
    };
    let mut limit = sizelimit.map(|s| format!(", sizelimit={s}")).unwrap_or_default();
    if dio.block_size() != 0 {
        limit.push_str(&format!(", block_size={}", dio.block_size()));
    }
    format!(
        "{open_part}{}flock(/dev/loop-control, LOCK_EX); {find}; ioctl({node}, LOOP_CONFIGURE, fd={fd_name}, flags={}{limit})",
        if open_part.is_empty() { "" } else { "; " },
        flags.join("|")
    )
}

impl Platform for Linux {
    fn defaults(&self) -> Defaults {
        Defaults { fstype: "ext4", probe_preserved: true, tmpfs_available: true }
    }

    fn check(&self, plan: &Plan) -> Result<()> {
        *self.mount_point.borrow_mut() = Some(plan.mount_point.clone());
        self.fixed_unit.set(plan.steps.iter().find_map(|s| match s {
            Step::Attach(Attach { unit: Unit::Fixed(n), .. }) => Some(*n),
            _ => None,
        }));
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
                Ok(_) => return Err(Error::sys(show(mp), Errno::ENOTDIR)),
                Err(e) => return Err(crate::error::from_io(show(mp), &e)),
            }
        }
        Ok(())
    }

    fn describe(&self, step: &Step, dev: Option<&Device>) -> String {
        let node = match (dev, self.fixed_unit.get()) {
            (None, Some(n)) => show(&loopdev::node(n)),
            _ => super::describe::device_name("/dev/loop", dev),
        };
        let mp = self.mount_point.borrow().clone().unwrap_or_else(|| PathBuf::from("<mount point>"));
        let root = format!("open({}, O_DIRECTORY|O_NOFOLLOW)", mount::quoted(&show(&mp)));
        match step {
            Step::EnterNamespace(ns) => format!("setns(open({}), CLONE_NEWNS)", mount::quoted(&show(ns))),
            Step::OpenImage(o) => {
                let mode = if o.read_only { "O_RDONLY" } else { "O_RDWR" };
                let create = match o.create {
                    Some((size, crate::request::CreateMode::Reserve)) => {
                        format!("openat(O_CREAT|O_EXCL, 0600); posix_fallocate(<img>, 0, {size}); ")
                    }
                    Some((size, crate::request::CreateMode::Sparse)) => {
                        format!("openat(O_CREAT|O_EXCL, 0600); ftruncate(<img>, {size}); ")
                    }
                    None => String::new(),
                };
                format!(
                    "{create}openat({}, {mode}|O_NOFOLLOW) (no symlink in any component); flock(<img>, LOCK_EX)",
                    mount::quoted(&show(&o.path))
                )
            }
            Step::PreDetach(n) => format!("ioctl(/dev/loop{n}, LOOP_CLR_FD) if bound and not in use"),
            Step::Attach(a) => describe_attach(a),
            Step::WaitForNode => format!("wait for {node} (at most {} s)", NODE_WAIT.as_secs()),
            Step::Format(f) => match mkfs::argv(f, &node) {
                Ok(args) => format!("mkfs.{} {}", f.fstype, args.join(" ")),
                Err(c) => format!("mkfs.{}: option -{c} has no meaning", f.fstype),
            },
            Step::Mount(m) => {
                let t = match &m.fstype {
                    FsType::Named(t) => t.clone(),
                    FsType::Probe => "<probed>".to_string(),
                };
                let s = mount::split(&m.options);
                let mut flags = s.flags;
                if dev.is_some_and(|d| d.read_only) {
                    flags |= MsFlags::MS_RDONLY;
                }
                format!(
                    "mount({}, {}, {}, {}, {})",
                    mount::quoted(&format!("{node}{}", m.suffix)),
                    mount::quoted(&show(&m.mount_point)),
                    mount::quoted(&t),
                    mount::flag_names(flags),
                    mount::quoted(&s.data_string())
                )
            }
            Step::MountTmpfs(t) => {
                let mut s = mount::split(&t.options);
                if let Some(size) = t.size {
                    s.data.push(format!("size={size}"));
                }
                format!(
                    "mount(\"tmpfs\", {}, \"tmpfs\", {}, {})",
                    mount::quoted(&show(&t.mount_point)),
                    mount::flag_names(s.flags),
                    mount::quoted(&s.data_string())
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
        let fd = open(ns, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
            .map(own)
            .map_err(|e| Error::sys(show(ns), e))?;
        nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWNS)
            .map_err(|e| Error::sys(format!("setns {}", ns.display()), e))
    }

    fn open_image(&mut self, o: &OpenImage) -> Result<bool> {
        let img = posix::open_image(&o.path, o.create, o.read_only)?;
        if !img.writable && !o.read_only {
            self.warn(format!("{}: not writable; attaching it read-only and mounting read-only", o.path.display()));
        }
        let created = img.created;
        self.image = Some(img);
        Ok(created)
    }

    fn remove_image(&mut self) -> Result<()> {
        match self.image.take() {
            Some(img) => img.remove_created(),
            None => Ok(()),
        }
    }

    fn find_attached(&mut self, mount_point: &Path) -> Result<Vec<Existing>> {
        let Some(img) = &self.image else { return Ok(Vec::new()) };
        #[allow(clippy::unnecessary_cast)]
        let id = (img.stat.st_dev as u64, img.stat.st_ino as u64);
        let here = std::fs::canonicalize(mount_point).ok();
        // A device of ours that was just unmounted is still bound until
        // autoclear has run (asynchronously): give it a moment to go.
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        loop {
            let found: Vec<Existing> = loopdev::bound_to(id)
                .into_iter()
                .map(|b| {
                    let targets = mountinfo::targets_of(b.unit);
                    let mounted_here = here.as_ref().is_some_and(|h| targets.contains(h));
                    let in_use = !targets.is_empty() || loopdev::claimed(b.unit);
                    let path = loopdev::node(b.unit);
                    Existing { device: Device { unit: b.unit, path, read_only: b.read_only }, mounted_here, in_use }
                })
                .collect();
            let settling = found.iter().any(|e| !e.in_use && loopdev::autoclear(e.device.unit));
            if !settling || std::time::Instant::now() >= deadline {
                return Ok(found);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A leftover loop device (attached without autoclear, say by
    /// `losetup`) is not taken over: the executor detaches it and attaches
    /// afresh, so the new device has autoclear and our size and flags.
    fn reuse(&mut self, _e: &Existing, _a: &Attach) -> Result<Option<Device>> {
        Ok(None)
    }

    fn release(&mut self, target: &ReleaseTarget, force: bool) -> Result<Released> {
        let units: Vec<u32> = match target {
            ReleaseTarget::Unit(n) => vec![*n],
            ReleaseTarget::Path(p) => {
                let st = nix::sys::stat::stat(p.as_path()).map_err(|e| Error::sys(show(p), e))?;
                if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFDIR {
                    let real = std::fs::canonicalize(p).map_err(|e| crate::error::from_io(show(p), &e))?;
                    match mountinfo::mounts().into_iter().rev().find(|e| e.target == real) {
                        None => return Ok(Released::default()),
                        Some(e) => match e.source.strip_prefix("/dev/loop").and_then(|n| n.parse().ok()) {
                            Some(n) => vec![n],
                            None => {
                                return Err(Error::plain(format!(
                                    "{}: mounted from {}, not a loop device",
                                    p.display(),
                                    e.source
                                )))
                            }
                        },
                    }
                } else {
                    #[allow(clippy::unnecessary_cast)]
                    let id = (st.st_dev as u64, st.st_ino as u64);
                    loopdev::bound_to(id).into_iter().map(|b| b.unit).collect()
                }
            }
        };
        let mut done = Released::default();
        for unit in units {
            // What it is bound to now: once unmounted, autoclear may free it
            // and another run take the number; that one is not ours.
            let Some(bound) = loopdev::binding(unit) else { continue };
            // Newest mount first, so stacked mounts come off in order.
            for m in mountinfo::targets_of(unit).into_iter().rev() {
                let flags = if force { MntFlags::MNT_DETACH } else { MntFlags::empty() };
                nix::mount::umount2(&m, flags).map_err(|e| Error::sys(format!("unmount {}", m.display()), e))?;
                done.unmounted.push(m);
            }
            let node = loopdev::node(unit);
            match loopdev::release(unit, bound, force).map_err(|e| Error::sys(show(&node), e))? {
                loopdev::Release::Detached => done.detached.push(Device { unit, path: node, read_only: false }),
                loopdev::Release::OnLastClose => {
                    self.warn(format!("{}: still in use; detached when its last user closes it", node.display()))
                }
                loopdev::Release::NotAttached => {}
            }
        }
        Ok(done)
    }

    fn detach_unit(&mut self, unit: u32) -> Result<()> {
        let node = loopdev::node(unit);
        // O_EXCL on a block device fails with EBUSY while it is mounted or
        // otherwise claimed (mkfs, device mapper): those are left alone.
        let fd = loopdev::open_device(unit, OFlag::O_RDONLY | OFlag::O_EXCL).map_err(|e| Error::sys(show(&node), e))?;
        let before = loopdev::get_status64(&fd).map_err(|e| match e {
            Errno::ENXIO => Error::text(show(&node), "not attached"),
            e => Error::sys(show(&node), e),
        })?;
        let holders = std::fs::read_dir(format!("/sys/block/loop{unit}/holders")).map(|d| d.count()).unwrap_or(0);
        if holders > 0 {
            return Err(Error::explained(show(&node), "held by another device", Errno::EBUSY));
        }
        loopdev::clr_fd(&fd).map_err(|e| Error::sys(format!("{}: LOOP_CLR_FD", node.display()), e))?;
        // Someone else has it open: the kernel only set autoclear. Put the
        // flags back as they were; the device is theirs.
        if loopdev::get_status64(&fd).is_ok() {
            if before.lo_flags & loopdev::LO_FLAGS_AUTOCLEAR == 0 {
                let _ = loopdev::set_status64(&fd, &before);
            }
            return Err(Error::explained(show(&node), "open elsewhere, left attached", Errno::EBUSY));
        }
        self.debug(format!("{}: detached", node.display()));
        Ok(())
    }

    fn attach(&mut self, a: &Attach) -> Result<Device> {
        let r = self.attach_loop(a);
        if r.is_err() {
            self.restore_length();
        }
        r
    }

    fn detach(&mut self, dev: &Device) -> Result<()> {
        match self.held.take() {
            Some(h) if h.unit == dev.unit => {
                loopdev::clr_fd(&h.fd).map_err(|e| Error::sys(format!("{}: LOOP_CLR_FD", dev.path.display()), e))?;
                drop(h);
                self.restore_length();
                Ok(())
            }
            other => {
                // A leftover found by find_attached: detached only if nobody
                // has it open (detach_unit's exclusive open).
                self.held = other;
                self.detach_unit(dev.unit)
            }
        }
    }

    fn wait_for_node(&mut self, dev: &Device) -> Result<()> {
        posix::wait_for_node(&dev.path, NODE_WAIT)
    }

    fn format(&mut self, dev: &Device, f: &Format) -> Result<()> {
        mkfs::run(f, &dev.path)
    }

    fn mount(&mut self, dev: &Device, m: &Mount) -> Result<Mounted> {
        let fstype = match &m.fstype {
            FsType::Named(t) => t.clone(),
            FsType::Probe => {
                let t = self.probe(dev)?;
                self.debug(format!("{}: found {t}", dev.path.display()));
                t
            }
        };
        let mut s = mount::split(&m.options);
        if !s.dropped.is_empty() {
            self.debug(format!("ignored userspace-only options: {}", s.dropped.join(",")));
        }
        if dev.read_only && !s.flags.contains(MsFlags::MS_RDONLY) {
            s.flags |= MsFlags::MS_RDONLY;
            self.debug(format!("{} is read-only: mounting with MS_RDONLY", dev.path.display()));
        }
        let source = format!("{}{}", dev.path.display(), m.suffix);
        let data = s.data_string();
        match do_mount(&source, &m.mount_point, &fstype, s.flags, &data) {
            Err(e) if m.sloppy && e.errno() == Some(Errno::EINVAL) && !data.is_empty() => {
                self.warn(format!("sloppy: {fstype} refused options {data}; mounting without them"));
                do_mount(&source, &m.mount_point, &fstype, s.flags, "")?;
            }
            r => r?,
        }
        let read_only = s.flags.contains(MsFlags::MS_RDONLY)
            || posix::open_root(&m.mount_point).and_then(|fd| posix::is_read_only(&fd)).unwrap_or(false);
        Ok(Mounted { mount_point: m.mount_point.clone(), fstype, read_only })
    }

    fn mount_tmpfs(&mut self, t: &TmpfsMount) -> Result<Mounted> {
        let mut s = mount::split(&t.options);
        if let Some(size) = t.size {
            s.data.push(format!("size={size}"));
        }
        do_mount("tmpfs", &t.mount_point, "tmpfs", s.flags, &s.data_string())?;
        let read_only = s.flags.contains(MsFlags::MS_RDONLY);
        Ok(Mounted { mount_point: t.mount_point.clone(), fstype: "tmpfs".into(), read_only })
    }

    fn unmount(&mut self, m: &Mounted) -> Result<()> {
        let what = || format!("unmount {}", m.mount_point.display());
        match nix::mount::umount2(&m.mount_point, MntFlags::empty()) {
            Err(Errno::EBUSY) => {
                self.warn(format!("{} is busy; detaching it lazily", m.mount_point.display()));
                nix::mount::umount2(&m.mount_point, MntFlags::MNT_DETACH).map_err(|e| Error::sys(what(), e))
            }
            r => r.map_err(|e| Error::sys(what(), e)),
        }
    }

    fn set_mode(&mut self, m: &Mounted, mode: u32) -> Result<()> {
        let root = posix::open_root(&m.mount_point)?;
        posix::set_mode(&root, &m.mount_point, mode)
    }

    fn set_owner(&mut self, m: &Mounted, uid: u32, gid: u32) -> Result<()> {
        let root = posix::open_root(&m.mount_point)?;
        posix::set_owner(&root, &m.mount_point, uid, gid)
    }

    fn copy_skeleton(&mut self, m: &Mounted, from: &Path) -> Result<()> {
        let root = posix::open_root(&m.mount_point)?;
        posix::copy_skeleton(from, &root)
    }

    fn finish(&mut self) {
        self.held = None;
        self.image = None;
        self.grown_from = None;
    }

    fn take_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }
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
    use crate::platform::host::SystemHost;
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
        assert!(e(&["mount_md", "-F", "/i", "md", "/nonexistent/x"]).ends_with("No such file or directory"));
        assert!(e(&["mount_md", "-F", "/i", "md", "/proc/self/status"]).ends_with("Not a directory"));
        // In another mount namespace the mount point is not ours to look at.
        assert_eq!(check(&["mount.md", "md", "/nonexistent/x", "-N", "/proc/1/ns/mnt", "-o", "-P,-F/i"]), Ok(()));
    }

    #[test]
    fn describes_exact_calls() {
        let l = Linux::new();
        let p = plan(&["mount_md", "-o", "noatime,nodev,errors=remount-ro", "-p", "0750", "-F", "/i m/g", "md", "/"]);
        l.check(&p).unwrap();
        let lines: Vec<String> = p.steps.iter().map(|s| l.describe(s, None)).collect();
        assert_eq!(
            lines,
            [
                "openat(\"/i m/g\", O_RDWR|O_NOFOLLOW) (no symlink in any component); flock(<img>, LOCK_EX)",
                "flock(/dev/loop-control, LOCK_EX); ioctl(/dev/loop-control, LOOP_CTL_GET_FREE); \
                 ioctl(/dev/loop?, LOOP_CONFIGURE, fd=<img>, flags=AUTOCLEAR|DIRECT_IO)",
                "wait for /dev/loop? (at most 5 s)",
                "mkfs.ext4 -q -F -E nodiscard /dev/loop?",
                "mount(\"/dev/loop?\", \"/\", \"ext4\", MS_NODEV|MS_NOATIME, \"errors=remount-ro\")",
                "fchmod(open(\"/\", O_DIRECTORY|O_NOFOLLOW), 0750)",
            ]
        );
        let dev = Device { unit: 7, path: "/dev/loop7".into(), read_only: true };
        let p = plan(&["mount_md", "-P", "-F", "/i", "md", "/"]);
        assert_eq!(l.describe(&p.steps[3], Some(&dev)), "mount(\"/dev/loop7\", \"/\", \"<probed>\", MS_RDONLY, \"\")");
        let p = plan(&["mount_md", "-o", "ro", "-s", "1m", "-F", "/nonexistent", "md4", "/"]);
        assert_eq!(
            l.describe(&p.steps[0], None),
            "openat(\"/nonexistent\", O_RDONLY|O_NOFOLLOW) (no symlink in any component); flock(<img>, LOCK_EX)"
        );
        assert_eq!(p.steps[1].kind(), "predetach");
        assert_eq!(l.describe(&p.steps[1], None), "ioctl(/dev/loop4, LOOP_CLR_FD) if bound and not in use");
        assert_eq!(
            l.describe(&p.steps[2], None),
            "flock(/dev/loop-control, LOCK_EX); ioctl(/dev/loop-control, LOOP_CTL_ADD, 4); \
             ioctl(/dev/loop4, LOOP_CONFIGURE, fd=<img>, flags=AUTOCLEAR|READ_ONLY|DIRECT_IO, sizelimit=1048576)"
        );
        let p = plan(&["mount_md", "--create=sparse", "-s", "1m", "-F", "/n", "md", "/"]);
        assert_eq!(
            l.describe(&p.steps[0], None),
            "openat(O_CREAT|O_EXCL, 0600); ftruncate(<img>, 1048576); \
             openat(\"/n\", O_RDWR|O_NOFOLLOW) (no symlink in any component); flock(<img>, LOCK_EX)"
        );
        let p = plan(&["mount_md", "-s", "1m", "tmpfs", "/"]);
        assert_eq!(l.describe(&p.steps[0], None), "mount(\"tmpfs\", \"/\", \"tmpfs\", 0, \"size=1048576\")");
    }

    #[test]
    fn no_direct_io_option() {
        let l = Linux::new();
        let attach = |args: &[&str]| {
            let p = plan(args);
            let a = p.steps.iter().find(|s| s.kind() == "attach").expect("attach step").clone();
            l.describe(&a, None)
        };
        let flags = |line: String| line.rsplit_once("flags=").map(|(_, f)| f.to_string()).unwrap();
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
