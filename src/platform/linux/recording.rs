//! A recording double under [`LoopSys`]: a small scripted loop(4) kernel
//! (units bound or free, claimed, open elsewhere, stolen by another
//! allocator), a mount table given as bytes, and statx answers, with every
//! state-changing call logged. Sleeping only adds up the time asked for.
use super::loopdev::{self, LoopInfo64};
use super::sys::{LoopSys, Statx};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use std::collections::BTreeMap;
use std::os::fd::{BorrowedFd, RawFd};
use std::time::Duration;

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoopCall {
    GetFree,
    CtlAdd(u32),
    /// LOOP_CONFIGURE (or its fallback) on a unit: flags, sizelimit and
    /// `lo_file_name` up to its NUL.
    Bind {
        unit: u32,
        flags: u32,
        sizelimit: u64,
        name: Vec<u8>,
    },
    ClrFd(u32),
    SetStatus(u32),
    Unmount(std::path::PathBuf, bool),
    /// mount(2): source, type, flags and data as given.
    Mount {
        source: String,
        fstype: String,
        flags: nix::mount::MsFlags,
        data: Option<String>,
    },
    SetCapacity(u32),
    /// LOOP_SET_DIRECT_IO 0 and LOOP_SET_BLOCK_SIZE 512 on a unit.
    MakeBuffered(u32),
    /// BLKROSET on a unit.
    SetReadOnly(u32, bool),
}

/// One loop device of the double.
#[derive(Debug, Clone, Default)]
pub struct FakeLoop {
    /// Bound (Some) or free.
    pub info: Option<LoopInfo64>,
    /// Mounted or opened exclusively: an `O_EXCL` open fails with EBUSY.
    pub claimed: bool,
    /// Open by someone else: LOOP_CLR_FD only sets autoclear.
    pub open_elsewhere: bool,
    /// Made read-only with BLKROSET.
    pub read_only: bool,
}

/// The double.
#[derive(Debug, Default)]
pub struct Recorder {
    pub calls: Vec<LoopCall>,
    pub loops: BTreeMap<u32, FakeLoop>,
    /// Units another allocator binds between our pick and our bind (each
    /// once): our bind then fails with EBUSY.
    pub stolen: Vec<u32>,
    /// `/proc/self/mountinfo`; `None`: unreadable (EACCES).
    pub mountinfo: Option<Vec<u8>>,
    /// Opening a loop node fails with EACCES (an unprivileged user).
    pub deny: bool,
    /// The next this many `O_EXCL` opens fail with EBUSY (a prober).
    pub busy_excl: u32,
    /// statx answers by path.
    pub paths: BTreeMap<Vec<u8>, Statx>,
    /// unmount fails with this (EBUSY: a busy file system).
    pub unmount_error: Option<Errno>,
    /// mount(2) with file-system data fails with EINVAL (options the file
    /// system does not take).
    pub refuse_mount_data: bool,
    /// Total time the policy slept.
    pub slept: Duration,
    /// The loop-control lock is held.
    pub locked: bool,
    /// How many times a loop node was opened (what a scan costs).
    pub opens: usize,
}

/// A `loop_info64` bound to the file `(dev, ino)`, with `flags` and the
/// `lo_file_name` `name`.
pub fn bound(dev: u64, ino: u64, flags: u32, name: &[u8]) -> LoopInfo64 {
    LoopInfo64 { lo_device: dev, lo_inode: ino, ..LoopInfo64::new(flags, 0, name) }
}

/// The device number the double gives `/dev/loopN`.
pub fn rdev_of(unit: u32) -> u64 {
    libc::makedev(7, unit)
}

impl Recorder {
    pub fn new() -> Self {
        Recorder { mountinfo: Some(Vec::new()), ..Default::default() }
    }

    /// `/dev/loopN` bound to `info`.
    pub fn with_unit(mut self, unit: u32, info: LoopInfo64) -> Self {
        self.loops.insert(unit, FakeLoop { info: Some(info), ..Default::default() });
        self
    }

    /// A mountinfo line: `dir` mounted from `/dev/loopN` (ext4).
    pub fn with_mount(mut self, id: u64, unit: u32, dir: &str) -> Self {
        let line = format!("{id} 1 7:{unit} / {dir} rw - ext4 /dev/loop{unit} rw\n");
        self.mountinfo.get_or_insert_with(Vec::new).extend_from_slice(line.as_bytes());
        self
    }

    fn entry(&mut self, unit: u32) -> nix::Result<&mut FakeLoop> {
        self.loops.get_mut(&unit).ok_or(Errno::ENOENT)
    }
}

impl LoopSys for Recorder {
    type Dev = u32;

    fn lock_control(&mut self) -> crate::error::Result<()> {
        assert!(!self.locked, "loop-control locked twice");
        self.locked = true;
        Ok(())
    }

    fn unlock_control(&mut self) {
        self.locked = false;
    }

    fn get_free(&mut self) -> nix::Result<u32> {
        self.calls.push(LoopCall::GetFree);
        let n = (0..).find(|n| self.loops.get(n).is_none_or(|l| l.info.is_none())).unwrap_or(0);
        self.loops.entry(n).or_default();
        Ok(n)
    }

    fn ctl_add(&mut self, unit: u32) -> nix::Result<()> {
        self.calls.push(LoopCall::CtlAdd(unit));
        if self.loops.contains_key(&unit) {
            return Err(Errno::EEXIST);
        }
        self.loops.insert(unit, FakeLoop::default());
        Ok(())
    }

    fn open_device(&mut self, unit: u32, flags: OFlag) -> nix::Result<u32> {
        self.opens += 1;
        if self.deny {
            return Err(Errno::EACCES);
        }
        let excl = flags.contains(OFlag::O_EXCL);
        if excl && self.busy_excl > 0 && self.loops.contains_key(&unit) {
            self.busy_excl -= 1;
            return Err(Errno::EBUSY);
        }
        let l = self.entry(unit)?;
        if excl && l.claimed {
            return Err(Errno::EBUSY);
        }
        Ok(unit)
    }

    fn wait_for_node(&mut self, _unit: u32, _timeout: Duration) {}

    fn bind(
        &mut self,
        dev: &u32,
        _file: BorrowedFd<'_>,
        info: &LoopInfo64,
        _block_size: u32,
        _configure: &mut bool,
    ) -> nix::Result<()> {
        let unit = *dev;
        assert!(self.locked, "bind outside the loop-control lock");
        self.calls.push(LoopCall::Bind {
            unit,
            flags: info.lo_flags,
            sizelimit: info.lo_sizelimit,
            name: info.lo_file_name.split(|&c| c == 0).next().unwrap_or_default().to_vec(),
        });
        if let Some(i) = self.stolen.iter().position(|&u| u == unit) {
            self.stolen.remove(i);
            self.entry(unit)?.info = Some(bound(99, 99, 0, b"/someone/else.img"));
            return Err(Errno::EBUSY);
        }
        let l = self.entry(unit)?;
        if l.info.is_some() {
            return Err(Errno::EBUSY);
        }
        l.info = Some(*info);
        Ok(())
    }

    fn sync_file(&mut self, _file: BorrowedFd<'_>) -> nix::Result<()> {
        Ok(())
    }

    /// The double's backing files report no alignment: the kernel would
    /// pick the block size.
    fn dio_align(&mut self, _file: BorrowedFd<'_>) -> Option<u32> {
        None
    }

    /// What was asked is what the double's kernel did.
    fn direct_io_result(&mut self, dev: &u32, _asked: loopdev::DirectIo) -> nix::Result<bool> {
        Ok(self.get_status(dev)?.lo_flags & loopdev::LO_FLAGS_DIRECT_IO != 0)
    }

    /// Every unit of the double has 512-byte logical blocks.
    fn logical_block_size(&mut self, unit: u32) -> Option<u32> {
        self.loops.contains_key(&unit).then_some(512)
    }

    fn make_buffered(&mut self, dev: &u32) -> nix::Result<()> {
        self.calls.push(LoopCall::MakeBuffered(*dev));
        let info = self.entry(*dev)?.info.as_mut().ok_or(Errno::ENXIO)?;
        info.lo_flags &= !loopdev::LO_FLAGS_DIRECT_IO;
        Ok(())
    }

    fn clr_fd(&mut self, dev: &u32) -> nix::Result<()> {
        self.calls.push(LoopCall::ClrFd(*dev));
        let l = self.entry(*dev)?;
        let info = l.info.as_mut().ok_or(Errno::ENXIO)?;
        if l.open_elsewhere {
            info.lo_flags |= loopdev::LO_FLAGS_AUTOCLEAR;
        } else {
            l.info = None;
        }
        Ok(())
    }

    fn get_status(&mut self, dev: &u32) -> nix::Result<LoopInfo64> {
        self.entry(*dev)?.info.ok_or(Errno::ENXIO)
    }

    fn set_status(&mut self, dev: &u32, info: &LoopInfo64) -> nix::Result<()> {
        self.calls.push(LoopCall::SetStatus(*dev));
        self.entry(*dev)?.info = Some(*info);
        Ok(())
    }

    fn rdev(&mut self, dev: &u32) -> nix::Result<u64> {
        Ok(rdev_of(*dev))
    }

    fn read_head(&mut self, _dev: &u32, len: usize) -> std::io::Result<Vec<u8>> {
        Ok(vec![0; len])
    }

    fn backing_name(&mut self, _unit: u32) -> Option<Vec<u8>> {
        None
    }

    fn raw_fd(&self, _dev: &u32) -> Option<std::os::fd::RawFd> {
        None
    }

    fn holders(&mut self, _unit: u32) -> usize {
        0
    }

    fn unit_of_rdev(&mut self, rdev: u64) -> Option<u32> {
        self.loops.keys().copied().find(|&n| rdev_of(n) == rdev && self.loops[&n].info.is_some())
    }

    fn attachment(&mut self, _dev: u64) -> Option<Vec<u8>> {
        None
    }

    fn skeleton_stamp(&mut self, _dir: &std::os::fd::OwnedFd) -> nix::Result<Option<Vec<u8>>> {
        Err(Errno::ENOTSUP)
    }

    fn set_skeleton_stamp(&mut self, _dir: &std::os::fd::OwnedFd, _value: &[u8]) -> nix::Result<()> {
        Err(Errno::ENOTSUP)
    }

    fn loop_units(&mut self) -> std::io::Result<Vec<u32>> {
        Ok(self.loops.iter().filter(|(_, l)| l.info.is_some()).map(|(n, _)| *n).collect())
    }

    fn mountinfo(&mut self) -> std::io::Result<Vec<u8>> {
        self.mountinfo.clone().ok_or_else(|| std::io::Error::from_raw_os_error(libc::EACCES))
    }

    fn statx(&mut self, _dir: Option<RawFd>, name: &[u8]) -> crate::error::Result<Statx> {
        let missing = || crate::error::Error::sys(String::from_utf8_lossy(name).into_owned(), Errno::ENOENT);
        self.paths.get(name).copied().ok_or_else(missing)
    }

    fn unmount(&mut self, on: &std::path::Path, lazy: bool) -> nix::Result<()> {
        self.calls.push(LoopCall::Unmount(on.to_path_buf(), lazy));
        if let Some(e) = self.unmount_error.filter(|_| !lazy) {
            return Err(e);
        }
        let needle = format!(" {} ", on.display());
        let table = self.mountinfo.take().unwrap_or_default();
        let kept: Vec<&[u8]> =
            table.split_inclusive(|&c| c == b'\n').filter(|l| !String::from_utf8_lossy(l).contains(&needle)).collect();
        self.mountinfo = Some(kept.concat());
        Ok(())
    }

    fn mount(
        &mut self,
        source: &str,
        _target: &std::path::Path,
        fstype: &str,
        flags: nix::mount::MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        self.calls.push(LoopCall::Mount {
            source: source.to_string(),
            fstype: fstype.to_string(),
            flags,
            data: data.map(str::to_string),
        });
        if self.refuse_mount_data && data.is_some() {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    fn set_capacity(&mut self, dev: &u32) -> nix::Result<()> {
        self.calls.push(LoopCall::SetCapacity(*dev));
        self.get_status(dev).map(drop)
    }

    fn disk_read_only(&mut self, unit: u32) -> bool {
        self.loops.get(&unit).is_some_and(|l| l.read_only)
    }

    fn set_read_only(&mut self, dev: &u32, read_only: bool) -> nix::Result<()> {
        self.calls.push(LoopCall::SetReadOnly(*dev, read_only));
        self.entry(*dev)?.read_only = read_only;
        Ok(())
    }

    fn sleep(&mut self, d: Duration) {
        self.slept += d;
    }
}
