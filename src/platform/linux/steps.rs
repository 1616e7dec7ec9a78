//! How Linux does the steps that need more than one call: open the
//! backing (image or memfd) and bind a loop device to it (LOOP_CONFIGURE,
//! retried when another allocator takes the unit), read and probe the
//! disk, mount it or a tmpfs through the pinned mount point, run the
//! helpers, set up the root.
use super::*;
use crate::superblock;

pub(super) enum Attempt<D> {
    Bound(u32, D),
    /// Another allocator took or removed the unit: pick again.
    Lost(Errno),
}

pub(super) struct Source {
    pub(super) file: OwnedFd,
    /// For messages.
    pub(super) name: PathBuf,
    pub(super) image: Option<PathBuf>,
    pub(super) read_only: bool,
    pub(super) sizelimit: u64,
    /// The image's length before `-s` extended it.
    pub(super) grown_from: Option<u64>,
}

/// The mark stored in `lo_file_name` for a unit attached for
/// `mount_point`: `mount_md:<path>`, the path resolved if it can be (so
/// that `-u DIR` can match it), else as given.
pub(super) fn mark_of(mount_point: &Path) -> Vec<u8> {
    let real = std::fs::canonicalize(mount_point).unwrap_or_else(|_| mount_point.to_path_buf());
    crate::mark::encode(real.as_os_str().as_bytes(), crate::mark::LINUX_CAPACITY)
}

pub(super) fn swap_needs_size() -> Error {
    Error::plain("swap- and malloc-backed disks need a size on Linux (-s)")
}

/// The unit the file system in `file` reads and writes in, by its
/// superblock ([`superblock::io_unit`]); `None` if it cannot be told.
fn fs_unit(file: &OwnedFd) -> Option<u32> {
    let head = posix::read_start(file, superblock::PROBE_LEN).ok()?;
    superblock::io_unit(&head, superblock::probe(&head))
}

/// mount(2) on a pinned mount point, with the errno turned into words a
/// user can act on. Returns the pinned target, for the new root.
pub(super) fn do_mount<S: LoopSys>(
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
            Errno::ENODEV => format!("the kernel does not know file system type {fstype} (modprobe {fstype} loads it)"),
            Errno::EINVAL => format!(
                "not a valid {fstype} file system, one larger than the disk (-s), or an option {fstype} does not accept"
            ),
            Errno::EBUSY => "already mounted, or the mount point is busy".to_string(),
            Errno::ENOENT => "mount point does not exist (create it first)".to_string(),
            Errno::ENOTDIR => "mount point is not a directory".to_string(),
            Errno::EROFS | Errno::EACCES if !flags.contains(MsFlags::MS_RDONLY) => {
                "device is write-protected; mount with -o ro".to_string()
            }
            _ => return Error::sys(what, e),
        };
        Error::explained(what, text, e)
    })
}

impl<S: LoopSys> Linux<S> {
    /// Opens the image (or makes the memfd) and works out flags and size.
    pub(super) fn open_backing(&mut self, a: &Attach, image: Option<&Opened<posix::Image>>) -> Result<Source> {
        let path = match &a.backing {
            Backing::Vnode(p) => p,
            Backing::Swap | Backing::Malloc => {
                let size = a.size.filter(|s| *s > 0).ok_or_else(swap_needs_size)?;
                let file = nix::sys::memfd::memfd_create(c"mount_md", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
                    .map_err(|e| Error::sys("memfd_create", e))?;
                let len = crate::platform::extend::off(size).map_err(|e| Error::sys("memfd_create", e))?;
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
        let len = img.stat.st_size as u64;
        let (grow, sizelimit) = sizing(a.size, Some(len));
        let mut grown_from = None;
        if let Some(size) = grow {
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
        Ok(Source { file, name: path.clone(), image: Some(path.clone()), read_only, sizelimit, grown_from })
    }

    /// The attach proper: bind a loop device to the backing file, with
    /// the allocation race handled as util-linux and systemd do. Returns
    /// the unit and its open descriptor.
    pub(super) fn attach_loop(&mut self, a: &Attach, b: &Source, mount_point: &Path) -> Result<(u32, S::Dev)> {
        let mut dio = loopdev::direct_io_for(a.direct_io, self.sys.dio_align(b.file.as_fd()));
        if matches!(dio, loopdev::DirectIo::Ask { block_size } if block_size > 512) {
            // A host whose direct I/O needs more than 512-byte units: the
            // file system the image already holds may need smaller ones.
            dio = loopdev::fit_to_fs(dio, fs_unit(&b.file));
        }
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
                    // A read-only flag a remount set (BLKROSET) outlives the
                    // detach; a unit attached writable is made writable.
                    if !b.read_only && self.sys.disk_read_only(unit) {
                        self.sys
                            .set_read_only(&dev, false)
                            .map_err(|e| Error::sys(format!("{}: BLKROSET", node.display()), e))?;
                        self.debug(format!("{}: cleared the read-only flag a remount had left", node.display()));
                    }
                    if !use_configure {
                        self.debug("LOOP_CONFIGURE unsupported; used LOOP_SET_FD + LOOP_SET_STATUS64".into());
                    }
                    let mut on = self.sys.direct_io_result(&dev, dio);
                    if let Some(fine) = self.too_fine_for(unit, dio, &on, b) {
                        // The kernel picked a logical block size the image's
                        // file system cannot be mounted on: buffered, with
                        // 512-byte blocks, before anything mounts it.
                        match self.sys.make_buffered(&dev) {
                            Ok(()) => {
                                dio = fine;
                                on = self.sys.direct_io_result(&dev, dio);
                            }
                            Err(e) => self.debug(format!(
                                "{}: LOOP_SET_DIRECT_IO 0 + LOOP_SET_BLOCK_SIZE 512: {}",
                                node.display(),
                                e.desc()
                            )),
                        }
                    }
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

    /// Where the kernel picked the logical block size of a direct-I/O unit
    /// itself (statx reported no alignment for the image, so none was
    /// asked: [`loopdev::DirectIo::Ask`] with 0), what it picked, read back
    /// from sysfs: above 512 bytes (recent kernels take the host disk's, for a
    /// host file system that does direct I/O without reporting its
    /// alignment, such as a FUSE block device), the image's superblock is
    /// read, and a file system working in smaller units gives
    /// [`loopdev::DirectIo::TooFine`]: the unit is made buffered.
    fn too_fine_for(
        &mut self,
        unit: u32,
        dio: loopdev::DirectIo,
        on: &nix::Result<bool>,
        b: &Source,
    ) -> Option<loopdev::DirectIo> {
        if dio != (loopdev::DirectIo::Ask { block_size: 0 }) || !matches!(on, Ok(true)) {
            return None;
        }
        let picked = self.sys.logical_block_size(unit).filter(|n| *n > 512)?;
        let fine = loopdev::fit_to_fs(loopdev::DirectIo::Ask { block_size: picked }, fs_unit(&b.file));
        Some(fine).filter(|f| matches!(f, loopdev::DirectIo::TooFine { .. }))
    }

    /// One attempt, under the loop-control lock: pick a unit, open it,
    /// bind it. Losing the race to another allocator is not an error.
    pub(super) fn attempt(
        &mut self,
        a: &Attach,
        b: &Source,
        info: &LoopInfo64,
        block_size: u32,
        use_configure: &mut bool,
    ) -> Result<Attempt<S::Dev>> {
        let unit = match a.unit {
            Unit::Auto => self.sys.get_free().map_err(|e| {
                Error::explained(
                    LOOP_CONTROL,
                    "cannot find an unused loop device (losetup -l lists them; the loop module's max_loop \
                     limits how many there are)",
                    e,
                )
            })?,
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
            Err(Errno::EBUSY) => Err(Error::explained(show(&node), "already attached to another file", Errno::EBUSY)),
            Err(e) => {
                Err(Error::explained(show(&node), format!("failed to set up loop device for {}", b.name.display()), e))
            }
        }
    }

    /// Opens the root just mounted on `pin` for chmod, chown and the
    /// skeleton; if it cannot be opened, the mount is undone (the executor
    /// only undoes mounts it was handed).
    pub(super) fn open_root(&mut self, pin: &Target, mount_point: &Path) -> Result<OwnedFd> {
        pin.mounted_root(mount_point).inspect_err(|_| {
            if let Err(u) = self.sys.unmount(&pin.pinned, true) {
                self.warn(format!("rollback: unmount {}: {}", crate::error::quoted(mount_point), u.desc()));
            }
        })
    }

    /// Puts the image back to the length `len` it had before `-s` grew it.
    pub(super) fn restore_length(&mut self, file: &OwnedFd, len: u64) {
        let shrunk = crate::platform::extend::off(len).ok().and_then(|l| nix::unistd::ftruncate(file, l).ok());
        if shrunk.is_none() {
            self.warn(format!(
                "could not give the image back its length of {len} bytes (truncate -s {len} on it does)"
            ));
        }
    }

    /// Opens `/dev/loopN`, waiting (bounded) for the node to appear.
    pub(super) fn open_loop(&mut self, unit: u32) -> nix::Result<S::Dev> {
        match self.sys.open_device(unit, OFlag::O_RDWR) {
            Err(Errno::ENOENT) => {
                self.sys.wait_for_node(unit, NODE_WAIT);
                self.sys.open_device(unit, OFlag::O_RDWR)
            }
            r => r,
        }
    }

    /// The start of the disk ([`Disk::top`]): through the crypt layer's
    /// node, else through the loop descriptor held.
    pub(super) fn read_head(&mut self, disk: &Disk<Held<S::Dev>>, len: usize) -> Result<Vec<u8>> {
        let what = || format!("{}: read superblock", disk.top().display());
        if let Some(layer) = &disk.layer {
            let fd = nix::fcntl::open(&layer.node, OFlag::O_RDONLY | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
                .map_err(|e| Error::sys(what(), e))?;
            return posix::read_start(&fd, len).map_err(|e| crate::error::from_io(what(), &e));
        }
        self.sys.read_head(&disk.hold.fd, len).map_err(|e| crate::error::from_io(what(), &e))
    }

    pub(super) fn probe(&mut self, disk: &Disk<Held<S::Dev>>) -> Result<String> {
        let what = shown_image(disk);
        let mut found = superblock::probe(&self.read_head(disk, superblock::FIRST_LEN)?);
        if found == superblock::Found::Unknown {
            found = superblock::probe(&self.read_head(disk, superblock::PROBE_LEN)?);
        }
        match found {
            superblock::Found::Mountable(t) => Ok(t.to_string()),
            superblock::Found::Ufs(n) => Err(Error::text(
                what,
                format!(
                    "UFS{n} file system: Linux cannot mount UFS read-write (use FreeBSD, or -T ufs -o ro,ufstype=ufs2)"
                ),
            )),
            superblock::Found::JournalDevice => {
                Err(Error::text(what, "an external ext3/ext4 journal, not a file system"))
            }
            superblock::Found::Other(t) => {
                Err(Error::text(what, format!("holds {t}, not a file system mount_md mounts (use -T to name one)")))
            }
            superblock::Found::Unknown => Err(Error::text(what, "no recognised file system (use -T to name one)")),
        }
    }

    pub(super) fn held(&mut self, u: &UnitInfo) -> Result<bool> {
        // A dm-crypt target of ours on it that nobody has open (nothing
        // mounted on it) is what a run killed between its open and its
        // mount leaves: it does not make the unit used (the unit's
        // detach closes it first, [`super::crypt::close_ours_on`]).
        if super::crypt::idle_layer(u) {
            return Ok(self.sys.holders(u.device.unit) > 1);
        }
        Ok(units::claimed(&mut self.sys, u.device.unit))
    }
    pub(super) fn mount_disk(&mut self, disk: &Disk<Held<S::Dev>>, m: &Mount) -> Result<Mounted<OwnedFd>> {
        let dev = &disk.device;
        let fstype = match &m.fstype {
            FsType::Named(t) => t.clone(),
            FsType::Probe => {
                let t = self.probe(disk)?;
                self.debug(format!("{}: found {t}", dev.path.display()));
                t
            }
        };
        let (c, forced_ro) = mount_call(&m.options, dev.read_only);
        if !c.dropped.is_empty() {
            self.debug(format!("ignored userspace-only options: {}", c.dropped.join(",")));
        }
        if forced_ro {
            self.debug(format!("{} is read-only: mounting with MS_RDONLY", dev.path.display()));
        }
        let source = format!("{}{}", disk.top().display(), m.suffix);
        let data = c.data_string();
        let pin = match do_mount(&mut self.sys, &source, &m.mount_point, &fstype, c.flags, &data) {
            Err(e) if m.sloppy && e.errno() == Some(Errno::EINVAL) && !data.is_empty() => {
                self.warn(format!("sloppy: {fstype} refused options {data}; mounting without them"));
                do_mount(&mut self.sys, &source, &m.mount_point, &fstype, c.flags, "")?
            }
            r => r?,
        };
        let root = self.open_root(&pin, &m.mount_point)?;
        let read_only = c.flags.contains(MsFlags::MS_RDONLY) || posix::is_read_only(&root).unwrap_or(false);
        Ok(Mounted { mount_point: m.mount_point.clone(), read_only, root })
    }
    pub(super) fn mount_tmpfs(&mut self, t: &TmpfsMount) -> Result<Mounted<OwnedFd>> {
        let s = requests::tmpfs_call(t);
        let pin = do_mount(&mut self.sys, "tmpfs", &t.mount_point, "tmpfs", s.flags, &s.data_string())?;
        let read_only = s.flags.contains(MsFlags::MS_RDONLY);
        let root = self.open_root(&pin, &t.mount_point)?;
        Ok(Mounted { mount_point: t.mount_point.clone(), read_only, root })
    }
    /// ext2/3/4 only: `e2fsck -p` (`-f -p` with `force`). Its summary
    /// goes to `-X`.
    pub(super) fn fsck(&mut self, disk: &Disk<Held<S::Dev>>, fs: &str, force: bool) -> Result<Option<String>> {
        if !mkfs::is_ext(fs) {
            return Ok(None);
        }
        let (ran, output) = mkfs::e2fsck(disk.top(), &shown_image(disk), force)?;
        for line in output.lines().filter(|l| !l.trim().is_empty()) {
            self.debug(format!("e2fsck: {line}"));
        }
        Ok(Some(ran))
    }
}
