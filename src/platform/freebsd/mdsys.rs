//! The FreeBSD seam: [`MdSys`], the system operations the backend needs
//! (md(4) ioctls, nmount(2), the newfs/growfs/fsck execs, and the plain
//! POSIX calls shared with Linux), the one place doubled in tests; with
//! the image as it opens it ([`OpenedImage`]) and the bounds of its waits.
use super::*;
use crate::platform::keyed;

/// geli's absolute path (FreeBSD base).
pub const GELI: &str = "/sbin/geli";

/// The `fspath` for nmount(2): the mount point must be a directory
/// reached by [`posix::walk_path`] (a symlink is followed only when nobody
/// but root or the caller can change it: FreeBSD's `/home -> usr/home`),
/// given to the kernel as its absolute path without symlinks. nmount
/// takes a path, not a descriptor, so unlike Linux the directory cannot be
/// pinned for the mount itself: the path handed over is the realpath of
/// the walked one, checked to reach, with no symlink in any component, the
/// very directory the walk opened (device and inode). A jailed root has
/// no link to plant, and the mounted root is then used through a
/// descriptor.
pub fn resolve_mount_point(mount_point: &Path) -> Result<PathBuf> {
    let what = || mount_point.display().to_string();
    let not_dir = |e: Error| match e.errno() {
        Some(nix::errno::Errno::ENOTDIR) => Error::sys(what(), nix::errno::Errno::ENOTDIR),
        _ => e,
    };
    let (dir, walked) = posix::open_dir_walked(mount_point).map_err(not_dir)?;
    let walked = walked.map_or_else(|| mount_point.to_path_buf(), |w| w.path);
    let real = std::fs::canonicalize(&walked).map_err(|e| crate::error::from_io(what(), &e))?;
    let check = posix::open_dir_no_symlinks(&real).map_err(not_dir)?;
    let id = |fd: &std::os::fd::OwnedFd| {
        nix::sys::stat::fstat(fd).map(|st| (st.st_dev, st.st_ino)).map_err(|e| Error::sys(what(), e))
    };
    if id(&dir)? != id(&check)? {
        return Err(Error::plain(format!("{} changed while it was being resolved", what())));
    }
    Ok(real)
}

/// What the FreeBSD backend holds of the image this run opened (and, for
/// `--create`, made): the handle of an [`Opened`], which says what it is
/// (its identity, whether this run created it, whose it is).
#[derive(Debug)]
pub struct OpenedImage {
    /// Where the image is now, and what MDIOCATTACH is given (resolved):
    /// as given on the command line, or for an image this run is creating,
    /// its temporary name ([`posix::temp_name`]) until it is published.
    pub path: PathBuf,
    pub size: u64,
    /// Opened read-write; otherwise the disk is attached read-only.
    pub writable: bool,
    /// The descriptor, holding the flock(2) until the run ends. Test
    /// doubles have none.
    pub handle: Option<posix::Image>,
}

/// Runs `argv` (`argv[0]` its absolute path) as mkfs is run on Linux
/// ([`posix::run_captured`]: argument vector, cleared environment, output
/// captured, bounded); a program that cannot be started is named.
pub(super) fn exec(argv: &[OsString], loud: bool) -> Result<posix::Captured> {
    let (prog, args) = argv.split_first().ok_or_else(|| Error::plain("empty argv"))?;
    posix::run_captured(Path::new(prog), args, loud)
        .map_err(|e| Error { what: format!("exec: {}", prog.to_string_lossy()), ..e })
}

/// How long to wait for `/dev/mdN` after the attach, and for a GEOM
/// provider stacked on it (`/dev/md0.uzip`) before nmount.
pub const NODE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often to look for it meanwhile.
pub const NODE_POLL: Duration = Duration::from_millis(10);
/// MDIOCDETACH answers EBUSY while anything has the provider open
/// (sys/dev/md/md.c `kern_mddetach_locked`: `sc->opencount != 0`). Right
/// after the last writer closes it, GEOM re-tastes the provider
/// (sys/geom/geom_subr.c `g_access` posts `g_new_provider_event` when the
/// write count drops to 0) and the tasters hold it open for a moment. When no
/// mount uses the unit, the detach is retried every [`DETACH_POLL`] for
/// [`DETACH_TRIES`] tries (about a second) before it is reported.
pub const DETACH_POLL: Duration = Duration::from_millis(50);
pub const DETACH_TRIES: u32 = 20;

/// The system operations the FreeBSD backend needs. The provided methods
/// (most of them plain POSIX, shared with Linux through [`posix`]) are
/// overridden only by test doubles, but for [`MdSys::unmount_fsid`].
pub trait MdSys {
    /// MDIOCATTACH; returns the unit the kernel used.
    fn attach(&mut self, req: &AttachRequest) -> Result<u32>;
    /// MDIOCDETACH of `unit` (mediasize 0; options 0, or MD_FORCE).
    fn detach(&mut self, unit: u32, force: bool) -> Result<()>;
    /// MDIOCQUERY of `unit`, with buffers for `md_file` and `md_label`.
    fn query(&mut self, unit: u32) -> Result<UnitQuery>;
    /// DIOCGIDENT on `/dev/mdN`: the unit's GEOM ident.
    fn disk_ident(&mut self, unit: u32) -> Result<String>;
    /// Every md unit (the MD class of `kern.geom.confxml`).
    fn list_units(&mut self) -> Result<Vec<MdUnit>>;
    /// Every geli provider on an md unit, from one read of
    /// `kern.geom.confxml` (its ELI class, [`super::eli::eli_providers`]).
    fn geli_layers(&mut self) -> Result<Vec<super::eli::EliProvider>>;
    /// The geli provider attached on md unit `unit`, if any.
    fn geli_on(&mut self, unit: u32) -> Result<Option<super::eli::EliProvider>> {
        Ok(super::eli::on_unit(&self.geli_layers()?, unit).cloned())
    }
    /// Every mounted file system (getfsstat(2)), in mount order.
    fn mounts(&mut self) -> Result<Vec<MountEntry>>;
    /// The kernel's name for the character device at `node` (stat(2), then
    /// devname(3) of its `st_rdev`): `md3`, `md3.uzip`. `None` when `node`
    /// is missing or not a character device.
    fn device_name(&mut self, node: &Path) -> Result<Option<String>>;
    /// nmount(2), with the errmsg text in the error.
    fn nmount(&mut self, req: &NmountRequest) -> Result<()>;
    /// unmount(2) of a mount point; `force` adds MNT_FORCE.
    fn unmount(&mut self, fspath: &Path, force: bool) -> Result<()>;
    /// unmount(2) with `MNT_BYFSID` of the mount whose `f_fsid` is `fsid`
    /// (the path argument `FSID:<val0>:<val1>`, as umount(8) `umountfs`
    /// builds it); ENOENT when no mount has it. The default unmounts the
    /// path `on`, for test doubles that keep no fsids.
    fn unmount_fsid(&mut self, fsid: [i32; 2], on: &Path, force: bool) -> Result<()> {
        let _ = fsid;
        self.unmount(on, force)
    }
    /// Runs newfs with `argv` (`argv[0]` is its absolute path); its output is
    /// shown when `loud`, otherwise captured and shown on failure.
    fn run_newfs(&mut self, argv: &[OsString], loud: bool) -> Result<()>;
    /// MDIOCRESIZE (`-r`).
    fn resize(&mut self, req: &grow::ResizeRequest) -> Result<()>;
    /// Runs growfs (`argv[0]` its absolute path) as newfs is run
    /// ([`posix::run_captured`]); its output, on one line, becomes the error.
    fn run_growfs(&mut self, argv: &[OsString]) -> Result<()> {
        let done = exec(argv, false)?;
        if done.status.success() {
            return Ok(());
        }
        Err(Error::text(crate::grow_ops::show_argv(argv), posix::failure_line(&done)))
    }
    /// Allocates the image's bytes `from..to` ([`crate::platform::extend`]).
    fn extend(&mut self, image: &OpenedImage, from: u64, to: u64) -> Result<()> {
        let h = image.handle.as_ref().ok_or_else(|| Error::plain("internal error: image not open"))?;
        crate::platform::extend::allocate_range(&h.fd, from, to, &image.path.display().to_string())
    }
    /// Cuts the image back to `len` bytes.
    fn truncate(&mut self, image: &OpenedImage, len: u64) -> Result<()> {
        let h = image.handle.as_ref().ok_or_else(|| Error::plain("internal error: image not open"))?;
        crate::platform::extend::truncate(&h.fd, len, &image.path.display().to_string())
    }
    /// The file system mounted at `on` (statvfs): its size, the bytes in
    /// use and what an unprivileged writer may still use (`f_bavail`).
    fn usage(&mut self, on: &Path) -> Option<crate::unit::Usage> {
        crate::platform::posix::usage(on)
    }
    /// The first `len` bytes of the disk `node` (fewer if it is smaller),
    /// for its superblock; `len` is a multiple of 512, as reads from a
    /// FreeBSD disk must be.
    fn read_start(&mut self, node: &Path, len: usize) -> Result<Vec<u8>> {
        let what = || format!("{}: read superblock", node.display());
        let file = std::fs::File::open(node).map_err(|e| crate::error::from_io(what(), &e))?;
        posix::read_start(&file.into(), len).map_err(|e| crate::error::from_io(what(), &e))
    }
    /// `-N`: the start of the image at `path` ([`posix::image_start`]).
    fn image_start(&mut self, path: &Path, len: usize) -> Result<Option<Vec<u8>>> {
        posix::image_start(path, len)
    }
    /// Runs `fsck_ufs [-f] -p` ([`fsck::fsck_argv`]); returns its output.
    fn run_fsck(&mut self, argv: &[OsString]) -> Result<String> {
        fsck::run(argv)
    }
    /// Runs geli with `args` (not its name), the key on its standard input
    /// ([`keyed::run_checked`]: absolute path, cleared environment).
    fn run_geli(&mut self, args: &[OsString], key: Option<&keyed::Key>) -> Result<()> {
        let verb = args.first().map(|a| a.to_string_lossy().into_owned()).unwrap_or_default();
        keyed::run_checked(Path::new(GELI), args, key, format!("geli {verb}")).map(drop)
    }
    /// Opens and checks a key file ([`keyed::open_key_file`]).
    fn open_key(&mut self, path: &Path) -> Result<keyed::Key> {
        keyed::open_key_file(path)
    }

    /// Opens (or with `--create` makes) and locks the image: a symlink in
    /// its path is followed only when nobody but root or the caller can
    /// change it; created 0600 and never over an existing file.
    fn open_image(&mut self, o: &OpenImage) -> Result<Opened<OpenedImage>> {
        let image = match &o.from {
            // The base was looked at by the caller (FreeBsd::open_image).
            Some(b) => posix::open_image_from(&o.path, b, o.read_only, &mut |_| Ok(()))?,
            None => posix::open_image(&o.path, o.create, o.read_only)?,
        };
        #[allow(clippy::unnecessary_cast)] // st_size's width differs between targets
        let size = image.stat.st_size as u64;
        Ok(Opened {
            path: o.path.clone(),
            id: posix::file_id(&image.stat),
            created: image.created,
            untrusted: image.untrusted(),
            made: image.made,
            handle: OpenedImage {
                path: if image.created { image.current_path() } else { o.path.clone() },
                size,
                writable: image.writable,
                handle: Some(image),
            },
        })
    }
    /// Removes the image this run created, if its name still points at it.
    fn remove_image(&mut self, image: &Opened<OpenedImage>) -> Result<()> {
        image.handle.handle.as_ref().map_or(Ok(()), posix::Image::remove_created)
    }
    /// Gives the image this run created its final name, the one given on
    /// the command line ([`posix::Image::publish`] knows it); `image.path`
    /// follows it.
    fn publish_image(&mut self, image: &mut Opened<OpenedImage>) -> Result<()> {
        let image = &mut image.handle;
        if let Some(h) = &mut image.handle {
            h.publish()?;
            image.path = h.current_path();
        }
        Ok(())
    }
    /// stat(2): the identity of the file at `path`.
    fn stat_file(&self, path: &Path) -> Result<FileId> {
        nix::sys::stat::stat(path).map(|st| posix::file_id(&st)).map_err(|e| Error::sys(path.display().to_string(), e))
    }
    /// realpath(3), as umount(8) resolves its argument, of the path the
    /// symlink rule reaches ([`posix::walk_target`]): a symlink someone
    /// other than root or the caller could have changed is refused, not
    /// followed, so a link a tenant planted cannot steer `-u` or `-r`.
    fn realpath(&self, path: &Path) -> Result<PathBuf> {
        let walked = posix::walk_target(path)?;
        std::fs::canonicalize(&walked.path).map_err(|e| crate::error::from_io(path.display().to_string(), &e))
    }
    fn page_size(&self) -> u64 {
        nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok().flatten().map_or(4096, |p| p as u64)
    }
    fn inspect_backing(&self, file: &Path) -> Result<BackingFile> {
        requests::inspect_backing(file)
    }
    /// Whether `node` exists (lstat(2)).
    fn node_exists(&mut self, node: &Path) -> bool {
        std::fs::symlink_metadata(node).is_ok()
    }
    /// Sleeps. Every wait of the backend is a bounded count of these.
    fn pause(&mut self, d: Duration) {
        std::thread::sleep(d)
    }
    /// Waits, bounded by [`NODE_TIMEOUT`], for devfs to show `node`.
    fn wait_for_node(&mut self, node: &Path) -> Result<()> {
        let polls = (NODE_TIMEOUT.as_millis() / NODE_POLL.as_millis()) as u32;
        for _ in 0..polls {
            if self.node_exists(node) {
                return Ok(());
            }
            self.pause(NODE_POLL);
        }
        if self.node_exists(node) {
            return Ok(());
        }
        Err(Error::explained(
            node.display().to_string(),
            format!("did not appear within {} s", NODE_TIMEOUT.as_secs()),
            Errno::ETIMEDOUT,
        ))
    }
    /// The part of [`crate::platform::Platform::check`] that looks at
    /// files ([`crate::platform::preflight::check`]: the image opens as the run
    /// will open it, an image that is not writable is not to be formatted,
    /// the skeleton is a directory). Its formatter floors name Linux file
    /// systems only: no size floor is checked for UFS (newfs(8) itself
    /// refuses a disk too small for it, after the attach, and the rollback
    /// detaches the unit). Test doubles with no real files override it.
    fn preflight(&self, plan: &Plan) -> Result<()> {
        crate::platform::preflight::check(plan)
    }
    /// mount(8)'s checkpath: realpath, and it must be a directory.
    fn resolve_mount_point(&self, mount_point: &Path) -> Result<PathBuf> {
        resolve_mount_point(mount_point)
    }
    /// The mount point's parent directory, opened (no symlink in its path)
    /// before nmount: the mounted root is opened through it afterwards.
    /// `sys::Kernel`: the parent's descriptor and the last component.
    type Pin;
    /// The root of the file system just mounted, opened once right after
    /// nmount; mode, owner and skeleton go through it. `sys::Kernel`: an
    /// `O_DIRECTORY|O_NOFOLLOW` descriptor.
    type Root;
    /// Opens the parent of `fspath` (a realpath from
    /// [`MdSys::resolve_mount_point`]) before the mount.
    fn pin_mount_point(&mut self, fspath: &Path) -> Result<Self::Pin>;
    /// After nmount: `openat(parent, name, O_DIRECTORY|O_NOFOLLOW)`, i.e.
    /// the root of what is now mounted on the pinned directory.
    fn open_mounted_root(&mut self, pin: Self::Pin, fspath: &Path) -> Result<Self::Root>;
    /// fstatvfs of the mounted root: mounted read-only?
    fn mounted_read_only(&mut self, root: &Self::Root, fspath: &Path) -> Result<bool>;
    /// fchmod of the mounted root (`fspath` for messages only).
    fn set_mode(&mut self, root: &Self::Root, fspath: &Path, mode: u32) -> Result<()>;
    /// fchown of the mounted root (`fspath` for messages only).
    fn set_owner(&mut self, root: &Self::Root, fspath: &Path, uid: u32, gid: u32) -> Result<()>;
    /// Copies the skeleton `from` into the mounted root.
    fn copy_skeleton(&mut self, root: &Self::Root, fspath: &Path, from: &Path) -> Result<()>;
    /// The root of the file system mounted on `fspath`, opened, if a
    /// skeleton copy into it did not finish (it holds
    /// [`posix::UNFINISHED`]); `None` otherwise. `sys::Kernel`:
    /// [`posix::open_root`] and [`posix::unfinished_copy`].
    fn unfinished_copy(&mut self, fspath: &Path) -> Result<Option<Self::Root>>;
    /// The image lock `-u` holds while it releases a unit
    /// ([`posix::lock_existing`]: the file at `path` if it is still `id`).
    fn lock_image(&mut self, path: &Path, id: FileId) -> Result<Option<crate::platform::ImageLock>>;
}
