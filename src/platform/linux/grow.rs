//! Linux side of `mount_md -r`: what the backend answers ([`target`],
//! [`made`]); the core drives it. (`--list`'s row of a unit is
//! [`super::units::row`].)
//!
//! * The unit is found by [`crate::lifecycle::locate`], the rules `-u` uses
//!   (only a unit carrying mount_md's mark is grown).
//! * The image is opened through the path sysfs shows and accepted only if
//!   its device and inode are the ones `LOOP_GET_STATUS64` reports for the
//!   unit; it is locked (`flock`) as a mount locks it.
//! * Growing: `fallocate` of the tail, `LOOP_SET_CAPACITY`, then the
//!   file system's own grower, run as mkfs is (absolute path from a fixed
//!   list of directories, argv vector, cleared environment).
//! * Not attached: attach (marked `mount_md:` with no mount point,
//!   autoclear), `e2fsck -f -p` + `resize2fs`, detach.
use super::sys::LoopSys;
use super::units::{disk_size, usage_of};
use super::{loopdev, memory_name, mkfs, opened, show, units, Held, Linux};
use crate::device::Unit;
use crate::error::{Error, Result};
use crate::grow_ops::{self as grow, Attached, Found, GrowOps, GrowStep, Located, Tool};
use crate::plan::{Attach, Formats};
use crate::platform::{extend, posix, FileId, MountRec, UnitInfo};
use crate::platform::{Disk, Opened, Platform};
use crate::request::Backing;
use crate::superblock;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Reads the start of the image to tell its file system type and size.
fn probe_image(img: &posix::Image, shown: &str) -> Result<(String, Option<u64>, Option<superblock::Growth>)> {
    let buf = posix::read_start(&img.fd, superblock::PROBE_LEN)
        .map_err(|e| crate::error::from_io(format!("{shown}: read superblock"), &e))?;
    let found = superblock::probe(&buf);
    match found {
        superblock::Found::Mountable(t) => {
            Ok((t.to_string(), superblock::fs_size(&buf, found), superblock::growth(&buf, found)))
        }
        superblock::Found::Ufs(_) => Err(Error::text(shown, "a UFS file system: grow it on FreeBSD; nothing changed")),
        _ => Err(Error::text(shown, "no file system mount_md knows how to grow; nothing changed")),
    }
}

/// The grow of one image, as it runs, over the backend's system calls.
struct LinuxGrow<'a, S: LoopSys> {
    linux: &'a mut Linux<S>,
    image: Opened<posix::Image>,
    shown: String,
    unit: Option<u32>,
    /// The loop device, held open.
    dev: Option<Dev<S::Dev>>,
    mount_point: Option<PathBuf>,
    /// The image was not attached: this run attaches it for the grow.
    offline: bool,
    /// The unit was attached with a size limit (`-s`) equal to the image's
    /// length: the new size is given as a new limit, not re-read.
    limited: bool,
}

enum Dev<D> {
    /// The unit the image was found attached as.
    Found(D),
    /// Attached by this run for an offline grow, as the mount path attaches.
    Attached(Disk<Held<D>>),
}

impl<D> Dev<D> {
    fn fd(&self) -> &D {
        match self {
            Dev::Found(fd) => fd,
            Dev::Attached(disk) => &disk.hold.fd,
        }
    }
}

impl<S: LoopSys> LinuxGrow<'_, S> {
    fn node(&self) -> String {
        self.unit.map(|u| show(&loopdev::node(u))).unwrap_or_else(|| "/dev/loop?".into())
    }

    fn argv(&self, tool: Tool) -> Vec<OsString> {
        tool.argv(&self.node(), self.mount_point.as_deref())
    }

    /// Attach the image with the mount path's own attach
    /// ([`Platform::attach`]: flock on loop-control, bounded;
    /// LOOP_CTL_GET_FREE; LOOP_CONFIGURE; retry on a lost race), marked with
    /// no mount point, autoclear, buffered I/O.
    fn attach(&mut self) -> Result<()> {
        let a = Attach {
            unit: Unit::Auto,
            backing: Backing::Vnode(self.image.path.clone()),
            size: None,
            read_only: false,
            direct_io: false,
            formats: Formats::Never,
        };
        let disk = self.linux.attach(&a, Some(&self.image), Path::new(""))?;
        self.unit = Some(disk.device.unit);
        self.dev = Some(Dev::Attached(disk));
        Ok(())
    }

    fn detach(&mut self) -> Result<()> {
        match self.dev.take_if(|d| matches!(d, Dev::Attached(_))) {
            Some(Dev::Attached(disk)) => self.linux.detach(disk),
            _ => Ok(()),
        }
    }

    /// Gives the disk its old size back (before the file system grew):
    /// the old limit, or the image cut back and its length read again.
    fn shrink_back(&mut self, from: u64) -> Result<()> {
        if !self.limited {
            extend::truncate(&self.image.handle.fd, from, &self.shown)?;
        }
        self.set_capacity(from)
    }

    fn set_capacity(&mut self, to: u64) -> Result<()> {
        let (Some(unit), Some(fd)) = (self.unit, self.dev.as_ref().map(Dev::fd)) else {
            return Err(Error::plain("internal error: no loop device to resize"));
        };
        resize_unit(&mut self.linux.sys, fd, unit, to, self.limited)
    }
}

/// Makes loop unit `unit` (open as `fd`) `to` bytes: LOOP_SET_CAPACITY to
/// its file's length, or, for a unit with a size limit (`limited`), that
/// limit set to `to`, since LOOP_SET_CAPACITY would keep it
/// (linux/drivers/block/loop.c `loop_set_status` resizes when
/// lo_sizelimit changes); then checked against the size sysfs reports.
fn resize_unit<S: LoopSys>(sys: &mut S, fd: &S::Dev, unit: u32, to: u64, limited: bool) -> Result<()> {
    let node = show(&loopdev::node(unit));
    if limited {
        let mut info = sys.get_status(fd).map_err(|e| Error::sys(format!("{node}: LOOP_GET_STATUS64"), e))?;
        info.lo_sizelimit = to;
        sys.set_status(fd, &info).map_err(|e| Error::sys(format!("{node}: LOOP_SET_STATUS64"), e))?;
    } else {
        sys.set_capacity(fd).map_err(|e| Error::sys(format!("{node}: LOOP_SET_CAPACITY"), e))?;
    }
    match disk_size(unit) {
        Some(n) if n == to => Ok(()),
        n => Err(Error::plain(format!(
            "{node}: LOOP_SET_CAPACITY left the disk {} bytes, not {to}",
            n.map_or("?".to_string(), |n| n.to_string())
        ))),
    }
}

/// Runs a file system tool as mkfs is run ([`posix::run_captured`]:
/// argument vector, cleared environment, dies with mount_md), or, with
/// `keep`, to its end whatever happens to mount_md, holding those
/// descriptors ([`posix::run_to_its_end`]); its output, on one line,
/// becomes the error.
fn run_tool(tool: Tool, argv: &[OsString], keep: Option<&[std::os::fd::RawFd]>) -> Result<()> {
    let (name, args) = argv.split_first().ok_or_else(|| Error::plain("internal error: empty argv"))?;
    let program = posix::program(&name.to_string_lossy())?;
    let done = match keep {
        None => posix::run_captured(&program, args, false)?,
        Some(keep) => posix::run_to_its_end(&program, args, keep)?,
    };
    if done.status.code().is_some_and(|c| tool.succeeded(c)) {
        return Ok(());
    }
    Err(Error::text(grow::show_argv(argv), posix::failure_line(&done)))
}

impl<S: LoopSys> GrowOps for LinuxGrow<'_, S> {
    fn interrupted(&mut self) -> Option<&'static str> {
        posix::pending_stop()
    }

    fn describe(&self, step: &GrowStep) -> String {
        match step {
            GrowStep::ExtendImage { from, to } => extend::describe_linux(&self.shown, *from, *to),
            GrowStep::Attach => format!(
                "flock(/dev/loop-control, LOCK_EX); ioctl(/dev/loop-control, LOOP_CTL_GET_FREE); \
                 ioctl(/dev/loop?, LOOP_CONFIGURE, fd=<{}>, flags=AUTOCLEAR, name=\"mount_md:\")",
                self.shown
            ),
            GrowStep::SetCapacity { to, .. } if self.limited => {
                format!("ioctl({}, LOOP_SET_STATUS64, lo_sizelimit={to})", self.node())
            }
            GrowStep::SetCapacity { to, .. } => format!("ioctl({}, LOOP_SET_CAPACITY) (to {to} bytes)", self.node()),
            GrowStep::CheckFs(t) | GrowStep::GrowFs(t) => grow::show_argv(&self.argv(*t)),
            GrowStep::Detach => format!("ioctl({}, LOOP_CLR_FD)", self.node()),
        }
    }

    fn run(&mut self, step: &GrowStep) -> Result<()> {
        match step {
            GrowStep::ExtendImage { from, to } => {
                extend::allocate_range(&self.image.handle.fd, *from, *to, &self.shown)
            }
            GrowStep::Attach => self.attach(),
            GrowStep::SetCapacity { to, .. } => self.set_capacity(*to),
            // Offline, e2fsck and resize2fs change the file system in
            // steps no journal covers: killed half-way, they could leave
            // it inconsistent, so they run to their end, holding the unit
            // and the image's lock (the next run waits for them).
            GrowStep::CheckFs(t) | GrowStep::GrowFs(t) if self.offline => {
                let dev = self.dev.as_ref().and_then(|d| self.linux.sys.raw_fd(d.fd()));
                let keep: Vec<std::os::fd::RawFd> = dev.into_iter().chain([self.image.handle.lock_fd()]).collect();
                run_tool(*t, &self.argv(*t), Some(&keep))
            }
            GrowStep::CheckFs(t) | GrowStep::GrowFs(t) => run_tool(*t, &self.argv(*t), None),
            GrowStep::Detach => self.detach(),
        }
    }

    fn fs_bytes(&mut self, mounted_on: Option<&Path>) -> Option<u64> {
        match mounted_on {
            Some(on) => usage_of(on, None).map(|u| u.size),
            None => probe_image(&self.image.handle, &self.shown).ok()?.1,
        }
    }

    fn undo(&mut self, step: &GrowStep) -> Result<()> {
        match step {
            GrowStep::ExtendImage { from, .. } => extend::truncate(&self.image.handle.fd, *from, &self.shown),
            GrowStep::Attach => self.detach(),
            GrowStep::SetCapacity { from, .. } => self.shrink_back(*from),
            _ => Ok(()),
        }
    }

    /// Offline, e2fsprogs work on the image file itself.
    fn finish_hint(&self, step: &GrowStep) -> String {
        match step {
            GrowStep::GrowFs(Tool::Resize2fs) if self.offline => {
                format!("e2fsck -f -p {0} && resize2fs {0}", self.shown)
            }
            s => self.describe(s),
        }
    }
}

/// linux/capability.h.
const CAP_SYS_RESOURCE: u32 = 24;

/// Whether this process holds CAP_SYS_RESOURCE (bit 24 of `CapEff` in
/// /proc/self/status); where that cannot be read, it is taken as held and
/// resize2fs says otherwise.
fn has_cap_sys_resource() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return true };
    let eff = status.lines().find_map(|l| l.strip_prefix("CapEff:")).map(str::trim);
    eff.and_then(|e| u64::from_str_radix(e, 16).ok()).is_none_or(|caps| caps & (1 << CAP_SYS_RESOURCE) != 0)
}

/// How long `-r` waits for a unit no mount here uses to be let go by a
/// file system still shutting down (its mount just went away) before it
/// takes the unit for mounted elsewhere.
const CLAIM_WAIT: Duration = Duration::from_secs(2);

/// A process in another mount namespace that has the file system on
/// device `rdev` mounted (`major:minor`, the third field of
/// `/proc/PID/mountinfo`), one process per namespace looked at; `None`
/// when none has (or /proc cannot tell). Read only to word a refusal.
fn mounted_elsewhere(rdev: u64) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let own = std::fs::metadata("/proc/self/ns/mnt").ok().map(|m| m.ino());
    let mut seen = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(ns) = std::fs::metadata(format!("/proc/{pid}/ns/mnt")).map(|m| m.ino()) else { continue };
        if Some(ns) == own || seen.contains(&ns) {
            continue;
        }
        seen.push(ns);
        let Ok(table) = std::fs::read(format!("/proc/{pid}/mountinfo")) else { continue };
        if super::mountinfo::parse(&table).is_ok_and(|mounts| mounts.iter().any(|m| m.dev == rdev)) {
            return Some(pid);
        }
    }
    None
}

/// Whether the file at `p` is the one the kernel says backs a unit.
fn same_file(p: &Path, backing: Option<FileId>) -> bool {
    nix::sys::stat::stat(p).is_ok_and(|st| Some(posix::file_id(&st)) == backing)
}

/// Unit `u` of ours under its image's lock, opened and read again: the
/// image, the unit's descriptor and status.
struct Locked<D> {
    image: Opened<posix::Image>,
    dev: D,
    info: super::loopdev::LoopInfo64,
}

/// Takes the image's lock of unit `u` of ours and opens the unit then
/// ([`Locked`]); `Err` with the image, opened and locked, when the unit
/// was let go while the lock was waited for.
#[allow(clippy::type_complexity)]
fn lock_unit<S: LoopSys>(
    linux: &mut Linux<S>,
    u: &UnitInfo,
    named: Option<&Path>,
) -> Result<std::result::Result<Locked<S::Dev>, Opened<posix::Image>>> {
    let unit = u.device.unit;
    let node = show(&loopdev::node(unit));
    // The image by the path sysfs shows, or, where it shows none (a path
    // longer than a page), by the path the target named; either way it
    // must be the very file the unit holds (below).
    let path = match (linux.sys.backing_name(unit), named) {
        (Some(raw), _) if memory_name(&raw) => {
            return Err(Error::plain(format!("{node}: a memory disk, with no image file to grow; nothing changed")))
        }
        // The name it was attached by is gone: the file itself may live on
        // under another name, found by identity (units::image_path).
        (Some(raw), named) if raw.ends_with(b" (deleted)") => {
            let found = u.backing.and_then(|id| super::units::image_path(&raw, id, named).ok());
            found.ok_or_else(|| Error::plain(format!("{node}: its image file was deleted; nothing changed")))?
        }
        (Some(raw), _) => PathBuf::from(OsStr::from_bytes(&raw)),
        (None, Some(p)) if p.is_file() => p.to_path_buf(),
        (None, _) => {
            return Err(Error::plain(format!(
                "{node}: the kernel does not show its backing file's path; name the image itself; nothing changed"
            )))
        }
    };
    // The image's lock first, as a mount and `-u` take it (`-u` holds it
    // while it unmounts and detaches), and the unit opened only then: a
    // descriptor on it held while waiting would keep a `-u`'s detach from
    // finishing. What was found before the wait is read again after it.
    let image = opened(&path, posix::open_image(&path, None, false)?);
    let opened = linux.sys.open_device(unit, OFlag::O_RDONLY);
    let (dev, info) = match opened.and_then(|dev| linux.sys.get_status(&dev).map(|info| (dev, info))) {
        Ok(r) => r,
        Err(Errno::ENOENT | Errno::ENXIO) => return Ok(Err(image)),
        Err(e) => return Err(Error::sys(node, e)),
    };
    if u.backing.is_some_and(|b| b != info.backing()) {
        return Ok(Err(image));
    }
    Ok(Ok(Locked { image, dev, info }))
}

/// Checks unit `u` of ours, [`Locked`], for a grow.
fn found_unit<'a, S: LoopSys>(
    linux: &'a mut Linux<S>,
    u: &UnitInfo,
    locked: Locked<S::Dev>,
) -> Result<(Found, LinuxGrow<'a, S>)> {
    let Locked { image, dev, info } = locked;
    let unit = u.device.unit;
    let node = show(&loopdev::node(unit));
    let shown = show(&image.path);
    // Still the file the unit was found by (which the unit still holds:
    // lock_unit read its status again).
    if Some(image.id) != u.backing {
        return Err(Error::plain(format!("{shown}: not the file {node} is bound to; nothing changed")));
    }
    let mounts: Vec<MountRec> =
        crate::platform::Platform::mounts(linux)?.into_iter().filter(|m| m.belongs_to(u)).collect();
    // Not mounted in this namespace but claimed: mounted in another mount
    // namespace (a container's), or a mount going away (unmounted lazily,
    // or by someone not taking the lock, its file system still shutting
    // down): the offline path would run e2fsck and resize2fs on a mounted
    // file system. A claim that goes within a moment was the latter;
    // otherwise refused before anything changes, saying which it is.
    let mut waited = Duration::ZERO;
    while mounts.is_empty() && units::claimed(&mut linux.sys, unit) {
        if waited >= CLAIM_WAIT {
            return Err(Error::plain(match mounted_elsewhere(u.rdev) {
                Some(pid) => format!(
                    "{node}: mounted in another mount namespace (process {pid}'s), not here; \
                     grow it from where it is mounted; nothing changed"
                ),
                None => format!(
                    "{node}: in use but mounted in no mount namespace (unmounted lazily and still busy, \
                     or held by another device); nothing changed; try again once it is let go"
                ),
            }));
        }
        linux.sys.sleep(units::STEP);
        waited += units::STEP;
    }
    if info.lo_offset != 0 {
        return Err(Error::plain(format!("{node}: attached at an offset into its file; nothing changed")));
    }
    if !image.handle.writable {
        return Err(Error::plain(format!("{shown}: not writable; nothing changed")));
    }
    let image_len = image.handle.stat.st_size as u64;
    // A limit equal to the file (`-s` at attach, as `--create -s` leaves
    // it) is grown with the file; one smaller than the file is a disk the
    // admin meant to be smaller than its image.
    let limited = info.lo_sizelimit != 0;
    if limited && info.lo_sizelimit < image_len {
        return Err(Error::plain(format!(
            "{node}: attached with a size limit of {} bytes, smaller than its {image_len}-byte image (-s); \
             unmount it and mount it with the size wanted; nothing changed",
            info.lo_sizelimit
        )));
    }
    let fstype = match mounts.first() {
        Some(m) => m.fstype.clone(),
        None => probe_image(&image.handle, &shown)?.0,
    };
    // The file system's size as the disk's superblock has it.
    let head = linux.sys.read_head(&dev, superblock::PROBE_LEN).unwrap_or_default();
    let probed = superblock::probe(&head);
    // ext4 grows online through EXT4_IOC_RESIZE_FS, which needs
    // CAP_SYS_RESOURCE (fs/ext4/ioctl.c `ext4_ioctl_group_add` and
    // `EXT4_IOC_RESIZE_FS`: `capable(CAP_SYS_RESOURCE)`): without it,
    // refused before the image is extended, -N alike.
    let refusal = (!mounts.is_empty() && mkfs::is_ext(&fstype) && !has_cap_sys_resource()).then(|| {
        format!(
            "{shown}: growing a mounted {fstype} needs CAP_SYS_RESOURCE, which this process lacks \
                 (a container drops it); unmount it and grow it offline; nothing changed"
        )
    });
    let mount_point = mounts.first().map(|m| m.on.clone());
    let found = Found {
        image: image.path.clone(),
        image_len,
        disk_size: disk_size(unit).unwrap_or(image_len),
        attached: Some(Attached { device: u.device.clone(), mount_point: mount_point.clone() }),
        fstype,
        fs_size: superblock::fs_size(&head, probed),
        growth: superblock::growth(&head, probed),
        refusal,
    };
    let ops = LinuxGrow {
        linux,
        image,
        shown,
        unit: Some(unit),
        dev: Some(Dev::Found(dev)),
        mount_point,
        offline: false,
        limited,
    };
    Ok((found, ops))
}

/// Checks an image attached nowhere, opened and locked, for an offline grow.
fn found_image<S: LoopSys>(linux: &mut Linux<S>, image: Opened<posix::Image>) -> Result<(Found, LinuxGrow<'_, S>)> {
    let shown = show(&image.path);
    if !image.handle.writable {
        return Err(Error::plain(format!("{shown}: not writable; nothing changed")));
    }
    // Attached meanwhile (the lock is ours now, so not any more after this);
    // by the backing file the kernel reports (`lo_device`/`lo_inode`).
    if units::list(&mut linux.sys)?.iter().any(|u| u.backing == Some(image.id)) {
        return Err(Error::plain(format!("{shown}: attached while looking at it; try again")));
    }
    let (fstype, fs_size, growth) = probe_image(&image.handle, &shown)?;
    let image_len = image.handle.stat.st_size as u64;
    let found = Found {
        image: image.path.clone(),
        image_len,
        disk_size: image_len,
        attached: None,
        fstype,
        fs_size,
        growth,
        refusal: None,
    };
    let ops =
        LinuxGrow { linux, image, shown, unit: None, dev: None, mount_point: None, offline: true, limited: false };
    Ok((found, ops))
}

/// What `-r` finds at the target the lifecycle located
/// ([`crate::lifecycle::locate`]), and the operations that grow it.
pub fn target<'a, S: LoopSys>(
    linux: &'a mut Linux<S>,
    target: &Located,
    named: Option<&Path>,
) -> Result<(Found, Box<dyn GrowOps + 'a>)> {
    let (found, ops) = match target {
        Located::Unit(u, _) if super::crypt::layer_of(u).is_some() => {
            return Err(Error::plain(format!(
                "{}: has a crypt layer, which -r does not grow yet; nothing changed",
                show(&u.device.path)
            )))
        }
        // The mounts the lifecycle saw are read again under the lock.
        Located::Unit(u, seen) => match lock_unit(linux, u, named)? {
            Ok(locked) => found_unit(linux, u, locked)?,
            // Let go while the lock was waited for. Attached but not
            // mounted, and the target the image itself: a unit an
            // offline grow attached, whose run was killed and whose
            // grower, left to finish, held the lock; the image, attached
            // nowhere now, is grown offline (or found grown), still locked.
            Err(image) if seen.is_empty() && named.is_some_and(|p| same_file(p, u.backing)) => {
                found_image(linux, image)?
            }
            Err(image) => {
                return Err(Error::plain(format!(
                    "{}: released while waiting for its image's lock (by mount_md -u, or an unmount); \
                     nothing changed; to grow the image offline: mount_md -r -s SIZE {}",
                    show(&u.device.path),
                    image.path.display()
                )))
            }
        },
        Located::Image(p) => found_image(linux, opened(p, posix::open_image(p, None, false)?))?,
    };
    Ok((found, Box::new(ops)))
}

/// The grow of an image `--create --from` made ([`Platform::grow`]):
/// attached by the run as `dev`, not mounted, not published. `-r`'s steps
/// on the run's own unit: extend the file, `LOOP_SET_CAPACITY`, then the
/// grower, offline for ext2/3/4 (`e2fsck -f -p` first), and for XFS and
/// btrfs, which grow only while mounted, mounted in a mount namespace of
/// this run's own ([`MadeGrow::in_private_mount`]).
struct MadeGrow<'a, S: LoopSys> {
    linux: &'a mut Linux<S>,
    dev: &'a S::Dev,
    unit: u32,
    image: &'a std::os::fd::OwnedFd,
    shown: String,
    fstype: String,
    mount_point: PathBuf,
}

impl<S: LoopSys> MadeGrow<'_, S> {
    fn node(&self) -> String {
        show(&loopdev::node(self.unit))
    }

    /// Runs `tool` with the disk mounted on the run's mount point in a
    /// mount namespace made for it (`unshare(CLONE_NEWNS)`, every mount in
    /// it private), so that no other process sees the mount, and it dies
    /// with this process if it is killed meanwhile; then unmounts and goes
    /// back to the namespace (and working directory) it came from.
    fn in_private_mount(&mut self, tool: Tool) -> Result<()> {
        use nix::sched::{setns, unshare, CloneFlags};
        let home = std::fs::File::open("/proc/self/ns/mnt")
            .map_err(|e| crate::error::from_io("/proc/self/ns/mnt".to_string(), &e))?;
        let cwd =
            nix::fcntl::open(".", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
                .map_err(|e| Error::sys("open .", e))?;
        unshare(CloneFlags::CLONE_NEWNS).map_err(|e| Error::sys("unshare(CLONE_NEWNS)", e))?;
        let ran = self.mounted_run(tool);
        setns(&home, CloneFlags::CLONE_NEWNS).map_err(|e| Error::sys("setns back to the mount namespace", e))?;
        nix::unistd::fchdir(&cwd).map_err(|e| Error::sys("fchdir back", e))?;
        ran
    }

    fn mounted_run(&mut self, tool: Tool) -> Result<()> {
        use nix::mount::MsFlags;
        let private = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
        self.linux
            .sys
            .mount("none", Path::new("/"), "", private, None)
            .map_err(|e| Error::sys("mount --make-rprivate /", e))?;
        let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        let node = self.node();
        let pin = super::steps::do_mount(&mut self.linux.sys, &node, &self.mount_point, &self.fstype, flags, "")?;
        let ran = run_tool(tool, &tool.argv(&node, Some(&self.mount_point)), None);
        drop(pin);
        let what = || format!("unmount {} (mounted for the grow)", crate::error::quoted(&self.mount_point));
        self.linux.sys.unmount(&self.mount_point, false).map_err(|e| Error::sys(what(), e))?;
        ran
    }
}

impl<S: LoopSys> GrowOps for MadeGrow<'_, S> {
    fn interrupted(&mut self) -> Option<&'static str> {
        posix::pending_stop()
    }

    fn describe(&self, step: &GrowStep) -> String {
        match step {
            GrowStep::ExtendImage { from, to } => extend::describe_linux(&self.shown, *from, *to),
            GrowStep::SetCapacity { to, .. } => format!("ioctl({}, LOOP_SET_CAPACITY) (to {to} bytes)", self.node()),
            GrowStep::CheckFs(t) | GrowStep::GrowFs(t @ (Tool::E2fsck | Tool::Resize2fs | Tool::Growfs)) => {
                grow::show_argv(&t.argv(&self.node(), None))
            }
            GrowStep::GrowFs(t) => format!(
                "unshare(CLONE_NEWNS); mount({}, {}, {}); {}; umount({})",
                self.node(),
                self.mount_point.display(),
                self.fstype,
                grow::show_argv(&t.argv(&self.node(), Some(&self.mount_point))),
                self.mount_point.display()
            ),
            GrowStep::Attach | GrowStep::Detach => "internal error: the new image is attached by its run".into(),
        }
    }

    fn run(&mut self, step: &GrowStep) -> Result<()> {
        match step {
            GrowStep::ExtendImage { from, to } => extend::allocate_range(self.image, *from, *to, &self.shown),
            GrowStep::SetCapacity { to, .. } => resize_unit(&mut self.linux.sys, self.dev, self.unit, *to, false),
            GrowStep::CheckFs(t) | GrowStep::GrowFs(t @ (Tool::E2fsck | Tool::Resize2fs | Tool::Growfs)) => {
                // A new image under its temporary name: a cut-short grow of
                // it is removed by the next run, so its tools die with
                // mount_md.
                run_tool(*t, &t.argv(&self.node(), None), None)
            }
            GrowStep::GrowFs(t) => self.in_private_mount(*t),
            GrowStep::Attach | GrowStep::Detach => Err(Error::plain(self.describe(step))),
        }
    }

    fn undo(&mut self, step: &GrowStep) -> Result<()> {
        match step {
            GrowStep::ExtendImage { from, .. } => extend::truncate(self.image, *from, &self.shown),
            _ => Ok(()),
        }
    }
}

/// What [`Platform::grow`] answers on Linux (`MadeGrow`).
pub fn made<'a, S: LoopSys>(
    linux: &'a mut Linux<S>,
    disk: &'a Disk<Held<S::Dev>>,
    image: &'a Opened<posix::Image>,
    mount_point: &Path,
) -> Result<(Found, Box<dyn GrowOps + 'a>)> {
    let shown = show(&image.path);
    if disk.layer.is_some() {
        return Err(Error::text(shown, "has a crypt layer, which -s does not grow yet with --from"));
    }
    let unit = disk.device.unit;
    let head = linux.read_head(disk, superblock::PROBE_LEN)?;
    let probed = superblock::probe(&head);
    let fstype = match probed {
        superblock::Found::Mountable(t) => t.to_string(),
        _ => return Err(Error::text(shown, "no file system mount_md knows how to grow (-s with --from)")),
    };
    let st = nix::sys::stat::fstat(&image.handle.fd).map_err(|e| Error::sys(shown.clone(), e))?;
    let image_len = st.st_size as u64;
    let online = matches!(fstype.as_str(), "xfs" | "btrfs");
    let found = Found {
        image: image.path.clone(),
        image_len,
        disk_size: disk_size(unit).unwrap_or(image_len),
        attached: Some(Attached {
            device: disk.device.clone(),
            mount_point: online.then(|| mount_point.to_path_buf()),
        }),
        fstype: fstype.clone(),
        fs_size: superblock::fs_size(&head, probed),
        growth: superblock::growth(&head, probed),
        refusal: None,
    };
    let ops = MadeGrow {
        linux,
        dev: &disk.hold.fd,
        unit,
        image: &image.handle.fd,
        shown,
        fstype,
        mount_point: mount_point.to_path_buf(),
    };
    Ok((found, Box::new(ops)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes() {
        let path = std::env::temp_dir().join(format!("mount_md-grow-describe-{}", std::process::id()));
        std::fs::write(&path, b"x").unwrap();
        let image = opened(&path, posix::open_image(&path, None, false).unwrap());
        let mut linux = Linux::new();
        let ops = LinuxGrow {
            linux: &mut linux,
            image,
            shown: "/i".into(),
            unit: Some(3),
            dev: None,
            mount_point: Some("/j".into()),
            offline: false,
            limited: false,
        };
        assert_eq!(
            ops.describe(&GrowStep::ExtendImage { from: 10, to: 30 }),
            "fallocate(/i, 0, 10, 20) (zeros written where the file system cannot)"
        );
        assert_eq!(
            ops.describe(&GrowStep::SetCapacity { from: 10, to: 30 }),
            "ioctl(/dev/loop3, LOOP_SET_CAPACITY) (to 30 bytes)"
        );
        assert_eq!(ops.describe(&GrowStep::GrowFs(Tool::Resize2fs)), "resize2fs /dev/loop3");
        assert_eq!(ops.describe(&GrowStep::GrowFs(Tool::XfsGrowfs)), "xfs_growfs /j");
        assert_eq!(ops.describe(&GrowStep::GrowFs(Tool::BtrfsResize)), "btrfs filesystem resize max /j");
        assert_eq!(ops.describe(&GrowStep::CheckFs(Tool::E2fsck)), "e2fsck -f -p /dev/loop3");
        std::fs::remove_file(&path).unwrap();
    }
}
