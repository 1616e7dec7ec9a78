//! The thin seam under the Linux policy: every loop(4) call, mount(2) and
//! umount2(2), the kernel tables it reads, statx(2), and sleeping, as one
//! trait. [`Kernel`] does them for real, with the ioctl wrappers at the
//! end of this file: all of the Linux backend's `unsafe` is here (and the
//! `no_main` entry, start.rs). `super::recording::Recorder` (feature
//! `test-support`) records them and plays a scripted kernel, so the attach
//! race loop, the binding checks and the lifecycle primitives are tested
//! without root.
use super::loopdev::{
    self, backoff, no_configure, DirectIo, LoopConfig, LoopInfo64, ATTEMPTS, LO_FLAGS_AUTOCLEAR, LO_FLAGS_DIRECT_IO,
    LO_FLAGS_PARTSCAN,
};
use crate::platform::posix;
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

/// What statx(2) says about a path (the fields the lifecycle uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statx {
    pub is_dir: bool,
    /// `makedev(stx_dev_major, stx_dev_minor)`.
    pub dev: u64,
    pub ino: u64,
    /// `STATX_MNT_ID`, when the kernel gave it.
    pub mnt_id: Option<u64>,
    /// `STATX_ATTR_MOUNT_ROOT`, when the kernel knows the attribute.
    pub mount_root: Option<bool>,
    /// `makedev(stx_rdev_major, stx_rdev_minor)` of a block device node.
    pub rdev: Option<u64>,
}

/// The extended attribute that says which attachment's skeleton copy
/// finished ([`LoopSys::skeleton_stamp`]).
const STAMP: &std::ffi::CStr = c"trusted.mount_md.skeleton";

/// The loop(4) and kernel-table operations the Linux backend needs.
pub trait LoopSys {
    /// An open `/dev/loopN`.
    type Dev;
    /// `flock(LOCK_EX)` of `/dev/loop-control` (opened the first time,
    /// then reused), until [`LoopSys::unlock_control`]; waits at most
    /// [`posix::LOCK_WAIT`] for another allocator, then fails saying who
    /// holds it.
    fn lock_control(&mut self) -> crate::error::Result<()>;
    fn unlock_control(&mut self);
    /// LOOP_CTL_GET_FREE: a free index (possibly newly created); not reserved.
    fn get_free(&mut self) -> nix::Result<u32>;
    /// LOOP_CTL_ADD: creates `/dev/loopN` (EEXIST when it exists).
    fn ctl_add(&mut self, unit: u32) -> nix::Result<()>;
    /// open(2) of `/dev/loopN` with `flags` (O_CLOEXEC added): `O_RDWR` to
    /// bind it (the open mode decides whether the kernel lets the device be
    /// writable at all), `O_RDONLY` to read its status, `O_EXCL` to claim it.
    fn open_device(&mut self, unit: u32, flags: OFlag) -> nix::Result<Self::Dev>;
    /// Waits, bounded, for `/dev/loopN` to appear.
    fn wait_for_node(&mut self, unit: u32, timeout: Duration);
    /// LOOP_CONFIGURE with `block_size` (or LOOP_SET_FD + LOOP_SET_STATUS64
    /// before 5.8); see [`Kernel`]'s.
    fn bind(
        &mut self,
        dev: &Self::Dev,
        file: BorrowedFd<'_>,
        info: &LoopInfo64,
        block_size: u32,
        configure: &mut bool,
    ) -> nix::Result<()>;
    /// fdatasync(2) of the backing file.
    fn sync_file(&mut self, file: BorrowedFd<'_>) -> nix::Result<()>;
    /// statx(2) `STATX_DIOALIGN` of the backing file: its direct-I/O offset
    /// alignment, `None` when the kernel does not report one.
    fn dio_align(&mut self, file: BorrowedFd<'_>) -> Option<u32>;
    /// After a bind: whether the device really does direct I/O
    /// (see [`Kernel`]'s).
    fn direct_io_result(&mut self, dev: &Self::Dev, asked: loopdev::DirectIo) -> nix::Result<bool>;
    /// `/sys/block/loopN/queue/logical_block_size`: the logical block size
    /// the kernel gave a bound unit; `None` where sysfs does not say.
    fn logical_block_size(&mut self, unit: u32) -> Option<u32>;
    /// A bound device made buffered with 512-byte logical blocks:
    /// LOOP_SET_DIRECT_IO 0, then LOOP_SET_BLOCK_SIZE 512
    /// (drivers/block/loop.c `loop_set_dio`, `loop_set_block_size`).
    fn make_buffered(&mut self, dev: &Self::Dev) -> nix::Result<()>;
    fn clr_fd(&mut self, dev: &Self::Dev) -> nix::Result<()>;
    /// LOOP_GET_STATUS64 (ENXIO: not bound).
    fn get_status(&mut self, dev: &Self::Dev) -> nix::Result<LoopInfo64>;
    fn set_status(&mut self, dev: &Self::Dev, info: &LoopInfo64) -> nix::Result<()>;
    /// `st_rdev` of the opened node.
    fn rdev(&mut self, dev: &Self::Dev) -> nix::Result<u64>;
    /// Reads from the start of the device (superblock probing).
    fn read_head(&mut self, dev: &Self::Dev, len: usize) -> std::io::Result<Vec<u8>>;
    /// The descriptor of an open device, for a helper to inherit; `None`
    /// for a double's.
    fn raw_fd(&self, dev: &Self::Dev) -> Option<RawFd>;
    /// Entries of `/sys/block/loopN/holders` (stacked devices).
    fn holders(&mut self, unit: u32) -> usize;
    /// Which attachment of which boot the disk `dev` (a device number)
    /// is: `/proc/sys/kernel/random/boot_id` and the disk's
    /// `/sys/dev/block/MAJ:MIN/diskseq` (a number the kernel never gives
    /// twice in one boot, Linux 5.15); `None` where either is missing.
    fn attachment(&mut self, dev: u64) -> Option<Vec<u8>>;
    /// The `trusted.mount_md.skeleton` extended attribute of the directory
    /// `dir` (only a process with CAP_SYS_ADMIN reads or writes `trusted.`
    /// attributes, so a jail cannot forge it): `Ok(None)` when it has none,
    /// ENOTSUP where the file system keeps none.
    fn skeleton_stamp(&mut self, dir: &OwnedFd) -> nix::Result<Option<Vec<u8>>>;
    fn set_skeleton_stamp(&mut self, dir: &OwnedFd, value: &[u8]) -> nix::Result<()>;
    /// `/sys/block/loopN/loop/backing_file`: the path the kernel shows for
    /// the backing file (`/memfd:mount_md (deleted)` for a memory disk).
    fn backing_name(&mut self, unit: u32) -> Option<Vec<u8>>;
    /// The numbers of the bound loop units, whatever their size: each
    /// `loopN` of `/sys/block` that has a `loop/backing_file` (the kernel
    /// shows it only while the unit is bound, linux/drivers/block/loop.c
    /// `loop_attr_is_visible`). Not /proc/partitions, which leaves out a
    /// disk without capacity (block/genhd.c `show_partition`), so a unit
    /// bound to a file while it was empty.
    fn loop_units(&mut self) -> std::io::Result<Vec<u32>>;
    /// `/proc/self/mountinfo`.
    fn mountinfo(&mut self) -> std::io::Result<Vec<u8>>;
    /// The loop unit whose node is block device `rdev`, by the name sysfs
    /// gives `/sys/dev/block/MAJ:MIN` (`…/loopN`); `None` for any other
    /// device. The caller checks the node's own device number.
    fn unit_of_rdev(&mut self, rdev: u64) -> Option<u32>;
    /// statx(2) of `name` relative to `dir`, never following `name`'s
    /// last component. With no `dir`, `name` is a path walked from the
    /// working directory by the symlink rule ([`posix::walk_target`]): a
    /// symlink on the way, the last component's included, is followed
    /// only where nobody but root or the caller could have changed it, so
    /// a link a tenant planted cannot steer `-u` or `-r` elsewhere.
    fn statx(&mut self, dir: Option<RawFd>, name: &[u8]) -> crate::error::Result<Statx>;
    /// umount2(2); `lazy`: MNT_DETACH.
    fn unmount(&mut self, on: &std::path::Path, lazy: bool) -> nix::Result<()>;
    /// mount(2) of `source` on `target` (the pinned `/proc/self/fd/N`).
    fn mount(
        &mut self,
        source: &str,
        target: &std::path::Path,
        fstype: &str,
        flags: nix::mount::MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()>;
    /// LOOP_SET_CAPACITY (`-r`: the device takes its file's new size).
    fn set_capacity(&mut self, dev: &Self::Dev) -> nix::Result<()>;
    /// BLKROSET: the device read-only or writable, as `blockdev
    /// --setro`/`--setrw` do (a remount's `ro`/`rw`: nothing writes to the
    /// image below the file system, block/ioctl.c `blkdev_roset`).
    fn set_read_only(&mut self, dev: &Self::Dev, read_only: bool) -> nix::Result<()>;
    /// Whether the device is read-only now (sysfs `ro`: attached so, or
    /// made so with BLKROSET, which the kernel keeps past a detach).
    fn disk_read_only(&mut self, unit: u32) -> bool;
    fn sleep(&mut self, d: Duration);
}

/// A file of unit `unit`'s in sysfs (`/sys/block/loopN/REL`), without its
/// newline.
pub(super) fn sys_read(unit: u32, rel: &str) -> Option<Vec<u8>> {
    let mut raw = std::fs::read(format!("/sys/block/loop{unit}/{rel}")).ok()?;
    if raw.last() == Some(&b'\n') {
        raw.pop();
    }
    Some(raw)
}

/// The real kernel.
#[derive(Debug, Default)]
pub struct Kernel {
    control: Option<OwnedFd>,
}

impl Kernel {
    fn control(&self) -> nix::Result<&OwnedFd> {
        self.control.as_ref().ok_or(Errno::EBADF)
    }
}

impl LoopSys for Kernel {
    type Dev = OwnedFd;

    fn lock_control(&mut self) -> crate::error::Result<()> {
        let what = |e: Errno| crate::error::Error::sys(loopdev::LOOP_CONTROL, e);
        if self.control.is_none() {
            let flags = OFlag::O_RDWR | OFlag::O_CLOEXEC;
            self.control = Some(open(loopdev::LOOP_CONTROL, flags, Mode::empty()).map_err(what)?);
        }
        let fd = self.control().map_err(what)?;
        let why = " (another program is allocating a loop device)";
        posix::wait_lock(fd, loopdev::LOOP_CONTROL, why, loopdev::CONTROL_QUIET).map(drop)
    }

    fn unlock_control(&mut self) {
        if let Ok(fd) = self.control() {
            let _ = posix::sys::flock(fd.as_fd(), libc::LOCK_UN);
        }
    }

    fn get_free(&mut self) -> nix::Result<u32> {
        // SAFETY: the request takes no argument; the fd is valid.
        let n = unsafe { ioctl::ctl_get_free(self.control()?.as_raw_fd()) }?;
        u32::try_from(n).map_err(|_| Errno::EINVAL)
    }

    fn ctl_add(&mut self, unit: u32) -> nix::Result<()> {
        let n = libc::c_int::try_from(unit).map_err(|_| Errno::EINVAL)?;
        // SAFETY: the argument is an integer passed by value.
        unsafe { ioctl::ctl_add(self.control()?.as_raw_fd(), n) }.map(drop)
    }

    fn open_device(&mut self, unit: u32, flags: OFlag) -> nix::Result<OwnedFd> {
        open(&loopdev::node(unit), flags | OFlag::O_CLOEXEC, Mode::empty())
    }

    fn wait_for_node(&mut self, unit: u32, timeout: Duration) {
        let _ = crate::platform::posix::wait_for_node(&loopdev::node(unit), timeout);
    }

    /// Binds `file` to the opened loop device. LOOP_CONFIGURE does it in one
    /// step, with `block_size` as the device's logical block size (0: the
    /// kernel's default); without it, LOOP_SET_FD then LOOP_SET_STATUS64 (and
    /// if the latter fails, the binding we just made is ours to undo). EBUSY
    /// from either first call means someone else owns the device: it is left
    /// alone.
    ///
    /// A kernel that refuses the direct I/O request or the block size says
    /// EINVAL, the same word by which one before 5.8 says it has no
    /// LOOP_CONFIGURE: so an EINVAL with either asked for is retried once
    /// without them (buffered, default block size) before LOOP_CONFIGURE is
    /// given up for LOOP_SET_FD. [`LoopSys::direct_io_result`] then says
    /// what the kernel really did.
    fn bind(
        &mut self,
        dev: &OwnedFd,
        file: BorrowedFd<'_>,
        info: &LoopInfo64,
        block_size: u32,
        use_configure: &mut bool,
    ) -> nix::Result<()> {
        if *use_configure {
            let fd = u32::try_from(file.as_raw_fd()).map_err(|_| Errno::EBADF)?;
            let mut cfg = LoopConfig { fd, block_size, info: *info, reserved: [0; 8] };
            let mut r = configure(dev, &cfg);
            let asked = block_size != 0 || info.lo_flags & LO_FLAGS_DIRECT_IO != 0;
            if r == Err(Errno::EINVAL) && asked {
                cfg.block_size = 0;
                cfg.info.lo_flags &= !LO_FLAGS_DIRECT_IO;
                r = configure(dev, &cfg);
            }
            match r {
                Err(e) if no_configure(e) => *use_configure = false,
                r => return r,
            }
        }
        // SAFETY: the argument is a descriptor passed by value.
        unsafe { ioctl::set_fd(dev.as_raw_fd(), file.as_raw_fd()) }?;
        // LOOP_SET_FD cannot set read-only by flag: the file's open mode does.
        // Direct I/O, if asked for, is switched on afterwards by
        // direct_io_result (LOOP_SET_DIRECT_IO).
        let status = LoopInfo64 { lo_flags: info.lo_flags & (LO_FLAGS_AUTOCLEAR | LO_FLAGS_PARTSCAN), ..*info };
        let mut last = Errno::EAGAIN;
        for _ in 0..ATTEMPTS {
            match self.set_status(dev, &status) {
                Ok(()) => return Ok(()),
                Err(Errno::EAGAIN) => std::thread::sleep(backoff(1)),
                Err(e) => {
                    last = e;
                    break;
                }
            }
        }
        let _ = self.clr_fd(dev);
        // Not EBUSY: the caller must not think the device is someone else's
        // and retry on it after we cleared it; report what failed.
        Err(if last == Errno::EBUSY { Errno::EIO } else { last })
    }

    fn sync_file(&mut self, file: BorrowedFd<'_>) -> nix::Result<()> {
        nix::unistd::fdatasync(file)
    }

    fn dio_align(&mut self, file: BorrowedFd<'_>) -> Option<u32> {
        statx_dio(file.as_raw_fd(), c"", libc::AT_EMPTY_PATH)
    }

    /// After [`LoopSys::bind`]: whether the device really does direct I/O,
    /// from the flags LOOP_GET_STATUS64 reports (the kernel clears
    /// `LO_FLAGS_DIRECT_IO` when it cannot). Where it was asked for and is off, LOOP_SET_DIRECT_IO
    /// is tried once, for kernels that ignore the flag in LOOP_CONFIGURE or
    /// took the LOOP_SET_FD path; its refusal only means buffered I/O.
    fn direct_io_result(&mut self, dev: &OwnedFd, asked: DirectIo) -> nix::Result<bool> {
        let on = |i: LoopInfo64| i.lo_flags & LO_FLAGS_DIRECT_IO != 0;
        if on(self.get_status(dev)?) {
            return Ok(true);
        }
        if !matches!(asked, DirectIo::Ask { .. }) || set_direct_io(dev, true).is_err() {
            return Ok(false);
        }
        Ok(on(self.get_status(dev)?))
    }

    fn logical_block_size(&mut self, unit: u32) -> Option<u32> {
        std::str::from_utf8(&sys_read(unit, "queue/logical_block_size")?).ok()?.trim().parse().ok()
    }

    fn make_buffered(&mut self, dev: &OwnedFd) -> nix::Result<()> {
        set_direct_io(dev, false)?;
        // SAFETY: the argument is an integer passed by value.
        unsafe { ioctl::set_block_size(dev.as_raw_fd(), 512) }.map(drop)
    }

    fn clr_fd(&mut self, dev: &OwnedFd) -> nix::Result<()> {
        // SAFETY: the request takes no argument; the fd is valid.
        unsafe { ioctl::clr_fd(dev.as_raw_fd()) }.map(drop)
    }

    fn get_status(&mut self, dev: &OwnedFd) -> nix::Result<LoopInfo64> {
        let mut info = LoopInfo64::zeroed();
        // SAFETY: `info` is a valid, writable `struct loop_info64`.
        unsafe { ioctl::get_status64(dev.as_raw_fd(), &mut info) }?;
        Ok(info)
    }

    fn set_status(&mut self, dev: &OwnedFd, info: &LoopInfo64) -> nix::Result<()> {
        // SAFETY: `info` is a valid `struct loop_info64`; the kernel only reads it.
        unsafe { ioctl::set_status64(dev.as_raw_fd(), info) }.map(drop)
    }

    fn rdev(&mut self, dev: &OwnedFd) -> nix::Result<u64> {
        #[allow(clippy::unnecessary_cast)]
        nix::sys::stat::fstat(dev).map(|st| st.st_rdev as u64)
    }

    fn raw_fd(&self, dev: &OwnedFd) -> Option<RawFd> {
        Some(dev.as_raw_fd())
    }

    fn read_head(&mut self, dev: &OwnedFd, len: usize) -> std::io::Result<Vec<u8>> {
        crate::platform::posix::read_start(dev, len)
    }

    fn backing_name(&mut self, unit: u32) -> Option<Vec<u8>> {
        sys_read(unit, "loop/backing_file")
    }

    fn holders(&mut self, unit: u32) -> usize {
        std::fs::read_dir(format!("/sys/block/loop{unit}/holders")).map(|d| d.count()).unwrap_or(0)
    }

    fn attachment(&mut self, dev: u64) -> Option<Vec<u8>> {
        let (major, minor) = (libc::major(dev), libc::minor(dev));
        let seq = std::fs::read(format!("/sys/dev/block/{major}:{minor}/diskseq")).ok()?;
        let boot = std::fs::read("/proc/sys/kernel/random/boot_id").ok()?;
        Some([boot.trim_ascii(), seq.trim_ascii()].join(&b' '))
    }

    fn skeleton_stamp(&mut self, dir: &OwnedFd) -> nix::Result<Option<Vec<u8>>> {
        let mut buf = [0u8; 128];
        // SAFETY: fgetxattr(2) on an open descriptor, the name NUL-terminated,
        // writing at most `buf.len()` bytes into `buf`.
        let n = unsafe { libc::fgetxattr(dir.as_raw_fd(), STAMP.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        match Errno::result(n) {
            Ok(n) => Ok(Some(buf[..n as usize].to_vec())),
            Err(Errno::ENODATA) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn set_skeleton_stamp(&mut self, dir: &OwnedFd, value: &[u8]) -> nix::Result<()> {
        // SAFETY: fsetxattr(2) on an open descriptor, the name NUL-terminated,
        // reading `value.len()` bytes from `value`.
        let r = unsafe { libc::fsetxattr(dir.as_raw_fd(), STAMP.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
        Errno::result(r).map(drop)
    }

    fn loop_units(&mut self) -> std::io::Result<Vec<u32>> {
        // A loop disk has no parent device, so sysfs keeps it under
        // /sys/devices/virtual/block (/sys/block/loopN is a symlink to
        // it). Each unit looked up relative to that directory skips the
        // symlink: under half the time a unit costs, which counts where a
        // host has a thousand loop nodes (BENCHMARKS.md, section 10).
        let path = ["/sys/devices/virtual/block", "/sys/block"]
            .into_iter()
            .find(|p| std::path::Path::new(p).is_dir())
            .unwrap_or("/sys/block");
        let dir = std::fs::File::open(path)?;
        let bound = |n: &u32| {
            let file = format!("loop{n}/loop/backing_file");
            nix::sys::stat::fstatat(&dir, file.as_str(), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).is_ok()
        };
        Ok(std::fs::read_dir(path)?
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.strip_prefix("loop")?.parse::<u32>().ok())
            .filter(bound)
            .collect())
    }

    fn unit_of_rdev(&mut self, rdev: u64) -> Option<u32> {
        let link = std::fs::read_link(format!("/sys/dev/block/{}:{}", libc::major(rdev), libc::minor(rdev))).ok()?;
        link.file_name()?.to_str()?.strip_prefix("loop")?.parse().ok()
    }

    fn mountinfo(&mut self) -> std::io::Result<Vec<u8>> {
        std::fs::read(super::mountinfo::PATH)
    }

    fn statx(&mut self, dir: Option<RawFd>, name: &[u8]) -> crate::error::Result<Statx> {
        let shown = || String::from_utf8_lossy(name).into_owned();
        let walked;
        let (dir, name) = match dir {
            Some(d) => (d, name),
            None => {
                walked = posix::walk_target(std::path::Path::new(std::ffi::OsStr::from_bytes(name)))?;
                (walked.parent.as_raw_fd(), walked.name.as_bytes())
            }
        };
        let c = CString::new(name).map_err(|_| crate::error::Error::sys(shown(), Errno::EINVAL))?;
        // SAFETY: an all-zero `struct statx` is a valid value.
        let mut stx: libc::statx = unsafe { std::mem::zeroed() };
        let mask = libc::STATX_TYPE | libc::STATX_INO | libc::STATX_MNT_ID;
        let flags = libc::AT_SYMLINK_NOFOLLOW;
        // SAFETY: `c` is NUL-terminated and `stx` writable; both outlive the call.
        let r = unsafe { libc::statx(dir, c.as_ptr(), flags, mask, &mut stx) };
        Errno::result(r).map_err(|e| crate::error::Error::sys(shown(), e))?;
        let root_attr = libc::STATX_ATTR_MOUNT_ROOT as u64;
        Ok(Statx {
            is_dir: u32::from(stx.stx_mode) & libc::S_IFMT == libc::S_IFDIR,
            dev: libc::makedev(stx.stx_dev_major, stx.stx_dev_minor),
            ino: stx.stx_ino,
            mnt_id: (stx.stx_mask & libc::STATX_MNT_ID != 0).then_some(stx.stx_mnt_id),
            mount_root: (stx.stx_attributes_mask & root_attr != 0).then_some(stx.stx_attributes & root_attr != 0),
            rdev: (u32::from(stx.stx_mode) & libc::S_IFMT == libc::S_IFBLK)
                .then(|| libc::makedev(stx.stx_rdev_major, stx.stx_rdev_minor)),
        })
    }

    /// A mount point longer than PATH_MAX (ENAMETOOLONG) is reached a
    /// directory at a time, and unmounted as `/proc/self/fd/N/<name>`
    /// through a descriptor of its parent (one of the mount itself would
    /// keep it busy).
    fn unmount(&mut self, on: &std::path::Path, lazy: bool) -> nix::Result<()> {
        use nix::mount::MntFlags;
        let flags = if lazy { MntFlags::MNT_DETACH } else { MntFlags::empty() };
        match nix::mount::umount2(on, flags) {
            Err(Errno::ENAMETOOLONG) => {
                let w = crate::platform::posix::walk_path(on).map_err(|e| e.errno().unwrap_or(Errno::ENAMETOOLONG))?;
                let via = std::path::Path::new(&format!("/proc/self/fd/{}", w.parent.as_raw_fd())).join(w.name);
                nix::mount::umount2(&via, flags)
            }
            r => r,
        }
    }

    fn mount(
        &mut self,
        source: &str,
        target: &std::path::Path,
        fstype: &str,
        flags: nix::mount::MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        nix::mount::mount(Some(source), target, Some(fstype), flags, data)
    }

    fn set_capacity(&mut self, dev: &OwnedFd) -> nix::Result<()> {
        // SAFETY: the request takes no argument; the fd is a valid open loop device.
        unsafe { ioctl::set_capacity(dev.as_raw_fd()) }.map(drop)
    }

    fn set_read_only(&mut self, dev: &OwnedFd, read_only: bool) -> nix::Result<()> {
        let v: libc::c_int = read_only.into();
        // SAFETY: the argument points at a valid int for the call's duration;
        // the fd is a valid open block device.
        unsafe { ioctl::blkroset(dev.as_raw_fd(), &v) }.map(drop)
    }

    fn disk_read_only(&mut self, unit: u32) -> bool {
        sys_read(unit, "ro").is_some_and(|r| r.starts_with(b"1"))
    }

    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// The loop(4) and block ioctls, declared once (nix's macros make
/// `unsafe fn`s; each call says why it is sound).
mod ioctl {
    use super::loopdev::{self as l, LoopConfig, LoopInfo64};
    nix::ioctl_none_bad!(ctl_get_free, l::LOOP_CTL_GET_FREE);
    nix::ioctl_write_int_bad!(ctl_add, l::LOOP_CTL_ADD);
    nix::ioctl_write_ptr_bad!(configure, l::LOOP_CONFIGURE, LoopConfig);
    nix::ioctl_write_int_bad!(set_fd, l::LOOP_SET_FD);
    nix::ioctl_none_bad!(clr_fd, l::LOOP_CLR_FD);
    nix::ioctl_write_ptr_bad!(set_status64, l::LOOP_SET_STATUS64, LoopInfo64);
    nix::ioctl_read_bad!(get_status64, l::LOOP_GET_STATUS64, LoopInfo64);
    nix::ioctl_write_int_bad!(set_direct_io, l::LOOP_SET_DIRECT_IO);
    nix::ioctl_write_int_bad!(set_block_size, l::LOOP_SET_BLOCK_SIZE);
    nix::ioctl_none_bad!(set_capacity, l::LOOP_SET_CAPACITY);
    nix::ioctl_write_ptr_bad!(blkroset, l::BLKROSET, libc::c_int);
}

fn configure(dev: &OwnedFd, cfg: &LoopConfig) -> nix::Result<()> {
    // SAFETY: `cfg` is a valid, fully initialised `struct loop_config`
    // that outlives the call; the kernel only reads it.
    unsafe { ioctl::configure(dev.as_raw_fd(), cfg) }.map(drop)
}

/// LOOP_SET_DIRECT_IO: switch direct I/O on a bound device on (1) or off.
fn set_direct_io(dev: &OwnedFd, on: bool) -> nix::Result<()> {
    // SAFETY: the argument is an integer passed by value.
    unsafe { ioctl::set_direct_io(dev.as_raw_fd(), libc::c_int::from(on)) }.map(drop)
}

/// [`LoopSys::dio_align`] of a path (the `-N` line, before anything is
/// opened).
pub fn dio_offset_align_of(path: &std::path::Path) -> Option<u32> {
    let c = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str())).ok()?;
    statx_dio(libc::AT_FDCWD, &c, 0)
}

/// `stx_dio_offset_align`, or `None` if the kernel does not report
/// `STATX_DIOALIGN` for the file.
fn statx_dio(dirfd: RawFd, path: &std::ffi::CStr, flags: libc::c_int) -> Option<u32> {
    // SAFETY: an all-zero `struct statx` is a valid value.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated, `stx` is valid and writable.
    let r = unsafe { libc::statx(dirfd, path.as_ptr(), flags, libc::STATX_DIOALIGN, &mut stx) };
    (r == 0 && stx.stx_mask & libc::STATX_DIOALIGN != 0).then_some(stx.stx_dio_offset_align)
}
