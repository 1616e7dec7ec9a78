//! The model as `MdSys`: each call of the FreeBSD backend, answered from
//! (and changing) the model's kernel state.
use super::*;
use mount_md::platform::Opened;

impl MdSys for Model {
    type Pin = ();
    type Root = RootHandle;

    /// md.c `kern_mdattach_locked`, `mdcreate_malloc`, `mdcreate_vnode`,
    /// `mdcreate_swap`.
    fn attach(&mut self, req: &AttachRequest) -> Result<u32> {
        let mut k = self.k();
        k.log(format!("MDIOCATTACH {}", req.describe()));
        let what = "ioctl(/dev/mdctl, MDIOCATTACH)";
        if !matches!(req.md_type, MD_MALLOC | MD_PRELOAD | MD_VNODE | MD_SWAP | MD_NULL) {
            return Err(err(what, Errno::EINVAL));
        }
        // md_sectorsize 0 → DEV_BSIZE; a medium below one sector is EINVAL.
        let sectorsize = DEV_BSIZE;
        if req.mediasize < u64::from(sectorsize) {
            return Err(err(what, Errno::EINVAL));
        }
        // mdnew: alloc_unr / alloc_unr_specific; a taken unit is EBUSY.
        let unit = if req.options & MD_AUTOUNIT != 0 {
            (0..).find(|u| !k.units.contains_key(u)).expect("a free unit")
        } else if k.units.contains_key(&req.unit) {
            return Err(err(what, Errno::EBUSY));
        } else {
            req.unit
        };
        // copyinstr into `char label[PATH_MAX]`.
        let label = req.label.as_ref().map(|l| l.as_bytes().to_vec()).unwrap_or_default();
        if label.len() >= LABEL_MAX {
            return Err(err(what, Errno::ENAMETOOLONG));
        }
        let (flags, store, file, ident) = match req.md_type {
            MD_MALLOC => {
                // mdcreate_malloc: any option but these three is EINVAL
                // (MD_READONLY included).
                if req.options & !(MD_AUTOUNIT | MD_COMPRESS | MD_RESERVE) != 0 {
                    return Err(err(what, Errno::EINVAL));
                }
                (req.options & (MD_COMPRESS | MD_FORCE), Store::Memory(Content::Empty), Vec::new(), String::new())
            }
            MD_SWAP => {
                if req.mediasize % PAGE != 0 {
                    return Err(err(what, Errno::EDOM));
                }
                if req.options & MD_VERIFY != 0 {
                    return Err(err(what, Errno::EINVAL));
                }
                (req.options & (MD_FORCE | MD_RESERVE), Store::Memory(Content::Empty), Vec::new(), String::new())
            }
            MD_VNODE => {
                let path = req.file.as_ref().map(|f| PathBuf::from(OsString::from_vec(f.as_bytes().to_vec())));
                let path = path.ok_or_else(|| err(what, Errno::EINVAL))?;
                // vn_open(FREAD | (MD_READONLY ? 0 : FWRITE)), FOLLOW.
                let f = k.files.get(&path).ok_or_else(|| err(what, Errno::ENOENT))?;
                if req.options & MD_READONLY == 0 && !f.writable {
                    return Err(err(what, Errno::EACCES));
                }
                let mut ident = format!("MD-DEV{}-INO{}", f.id.dev, f.id.ino);
                ident.truncate(IDENT_LEN - 1);
                let mut flags = req.options & (MD_ASYNC | MD_CACHE | MD_FORCE | MD_VERIFY);
                if req.options & MD_READONLY != 0 {
                    flags |= MD_READONLY;
                }
                (flags, Store::Vnode(f.id), path.as_os_str().as_bytes().to_vec(), ident)
            }
            _ => return Err(err(what, Errno::EOPNOTSUPP)),
        };
        // Prune off any residual fractional sector.
        let mediasize = req.mediasize - req.mediasize % u64::from(sectorsize);
        let now = k.now;
        let (node_delay, uzip_delay) = (k.node_delay, k.uzip_delay);
        let uzip = match &store {
            Store::Vnode(id) => matches!(k.file_by_id(*id).map(|f| &f.content), Some(Content::Uzip(_))),
            Store::Memory(_) => false,
        };
        // A kernel before 12.0 has no `md_label` in its struct and keeps none.
        let label = if k.keeps_label { label } else { Vec::new() };
        k.units.insert(
            unit,
            Unit {
                md_type: req.md_type,
                flags,
                mediasize,
                sectorsize,
                store,
                file,
                label,
                ident,
                node_at: now + node_delay,
                uzip_at: uzip.then_some(now + uzip_delay),
                taste_until: now + node_delay,
                held: 0,
            },
        );
        Ok(unit)
    }

    /// md.c `kern_mddetach_locked`.
    fn detach(&mut self, unit: u32, force: bool) -> Result<()> {
        let mut k = self.k();
        k.log(format!("MDIOCDETACH md{unit}{}", if force { " MD_FORCE" } else { "" }));
        let what = format!("detach /dev/md{unit}");
        let u = k.units.get(&unit).ok_or_else(|| err(&what, Errno::ENOENT))?;
        if k.opencount(unit) != 0 && u.flags & MD_FORCE == 0 && !force {
            return Err(err(what, Errno::EBUSY));
        }
        // mddestroy withers the geom (it lingers in the GEOM tree for
        // `wither_hold`); mounts on it see ENXIO from now on; vn_close lets
        // go of the vnode.
        let u = k.units.remove(&unit).expect("checked above");
        for m in k.mounts.iter_mut().filter(|m| m.unit == Some(unit)) {
            m.unit = None;
        }
        if k.wither_hold > 0 {
            let gone = k.now + k.wither_hold;
            k.withering.push((unit, u.mediasize, u.sectorsize, gone));
        }
        if let Store::Vnode(id) = u.store {
            if !k.held_by_unit(id) {
                k.kept.remove(&id);
            }
        }
        Ok(())
    }

    /// md.c `kern_mdquery_locked`, with both buffers given as the
    /// backend's MdSys does ([`Model::query_raw`]).
    fn query(&mut self, unit: u32) -> Result<UnitQuery> {
        self.query_raw(unit, true, true).map_err(|e| err(format!("query /dev/md{unit}"), e))
    }

    /// DIOCGIDENT on `/dev/mdN`: md.c `g_md_start` answers `GEOM::ident`
    /// with `sc->ident`.
    fn disk_ident(&mut self, unit: u32) -> Result<String> {
        let k = self.0.borrow();
        let node = PathBuf::from(format!("/dev/md{unit}"));
        if k.node(&node).is_none() {
            return Err(err(node.display().to_string(), Errno::ENOENT));
        }
        Ok(k.units[&unit].ident.clone())
    }

    /// `kern.geom.confxml`, rendered and read back with the backend's own
    /// parser.
    /// g_eli.c `g_eli_create`'s providers `mdN.eli`, as confxml lists them.
    fn geli_layers(&mut self) -> Result<Vec<mount_md::platform::freebsd::eli::EliProvider>> {
        let k = self.0.borrow();
        let layers = k.geli.attached.iter().map(|(name, e)| mount_md::platform::freebsd::eli::EliProvider {
            name: format!("{name}.eli"),
            access: Some((e.open, e.open, e.open)),
        });
        Ok(layers.collect())
    }

    fn list_units(&mut self) -> Result<Vec<MdUnit>> {
        Ok(parse_confxml(self.confxml()))
    }

    /// getfsstat(2): `f_mntfromname`, `f_mntonname`, `f_fstypename`,
    /// `f_fsid`, oldest first (the mount list's order), with the host's
    /// root first.
    fn mounts(&mut self) -> Result<Vec<MountEntry>> {
        let k = self.0.borrow();
        let root = match k.host {
            Host::Ufs => MountEntry {
                from: "/dev/ada0p2".into(),
                on: "/".into(),
                fstype: "ufs".into(),
                flags: 0,
                fsid: [1, 0x35],
            },
            Host::Zfs => MountEntry {
                from: "zroot/ROOT/default".into(),
                on: "/".into(),
                fstype: "zfs".into(),
                flags: 0,
                fsid: [2, 0xde],
            },
        };
        let mut out = vec![root];
        out.extend(k.mounts.iter().map(|m| MountEntry {
            from: m.from.clone(),
            on: m.on.clone(),
            fstype: m.fstype.clone(),
            // statfs f_flags (sys/mount.h MNT_RDONLY, MNT_NOSUID).
            flags: if m.read_only { mnt::RDONLY } else { 0 } | if m.nosuid { mnt::NOSUID } else { 0 },
            fsid: m.fsid,
        }));
        Ok(out)
    }

    /// stat(2) of a devfs node and devname(3) of its `st_rdev`.
    fn device_name(&mut self, node: &Path) -> Result<Option<String>> {
        let k = self.0.borrow();
        if node == Path::new("/dev/ada0p2") {
            return Ok(Some("ada0p2".into()));
        }
        Ok(k.node(node).map(|(unit, uzip)| if uzip { format!("md{unit}.uzip") } else { format!("md{unit}") }))
    }

    /// nmount(2): sys/kern/vfs_mount.c `vfs_donmount` with
    /// sys/ufs/ffs/ffs_vfsops.c `ffs_mount`/`ffs_mountfs`, and tmpfs.
    fn nmount(&mut self, req: &NmountRequest) -> Result<()> {
        let mut k = self.k();
        k.log(req.describe());
        let text = |name: &str| match req.get(name) {
            Some(IoValue::Text(t)) => Some(PathBuf::from(OsString::from_vec(t.as_bytes().to_vec()))),
            _ => None,
        };
        let from = text("from").unwrap_or_default();
        let what = from.display().to_string();
        let fstype = text("fstype").map(|t| t.display().to_string()).unwrap_or_default();
        let fspath = text("fspath").ok_or_else(|| err(&what, Errno::EINVAL))?;
        if !k.is_dir(&fspath) {
            return Err(err(&what, Errno::ENOENT));
        }
        // vfs_mount.c `vfs_donmount` renames the positive forms of a few
        // flag options to a double negative (`suid` → `nonosuid`), which
        // vfs_filteropt then takes for the known `nosuid` negated.
        let names: Vec<String> = req
            .iov
            .iter()
            .map(|(n, _)| n.to_string_lossy().into_owned())
            .map(|n| match n.as_str() {
                "clusterr" | "clusterw" | "exec" | "suid" | "symfollow" => format!("nono{n}"),
                _ => n,
            })
            .collect();
        let read_only = req.flags & mnt::RDONLY != 0 || names.iter().any(|n| n == "ro" || n == "rdonly");
        let nosuid = req.flags & mnt::NOSUID != 0 || names.iter().any(|n| n == "nosuid");
        match fstype.as_str() {
            // Not on a disk: tmpfs, and nullfs (whose `from`/`target` is a
            // directory; sys/fs/nullfs/null_vfsops.c `nullfs_mount`).
            "tmpfs" | "nullfs" => {
                k.push_mount(Mnt::new(fspath, from, fstype, read_only, nosuid, None));
                return Ok(());
            }
            "ufs" => {}
            _ => return Err(Error::explained(&what, "Invalid fstype", Errno::EINVAL)),
        }
        // vfs_filteropt(mp->mnt_optnew, ffs_opts).
        if let Some(bad) = names.iter().find(|n| unknown_option(n, &FFS_OPTS)) {
            return Err(Error::explained(&what, format!("mount option <{bad}> is unknown"), Errno::EINVAL));
        }
        // ffs_mount: namei(from) must be a disk device.
        let (unit, uzip) = k.node(&from).ok_or_else(|| err(&what, Errno::ENOENT))?;
        if req.flags & mnt::UPDATE != 0 {
            // vfs_domount_update: fspath must be a mount's root; ffs_mount's
            // ro→rw upgrade opens the device for writing (g_access: EROFS
            // on a read-only md unit), rw→ro marks the file system clean.
            let unit_ro = k.units[&unit].flags & MD_READONLY != 0;
            let i = k.mounts.iter().rposition(|m| m.on == fspath).ok_or_else(|| err(&what, Errno::EINVAL))?;
            if !read_only && k.mounts[i].read_only && (unit_ro || uzip) {
                return Err(err(&what, Errno::EROFS));
            }
            let was_ro = k.mounts[i].read_only;
            k.mounts[i].read_only = read_only;
            k.mounts[i].nosuid = nosuid;
            if let Some(Content::Ufs { clean, .. }) = k.content_of(unit) {
                if read_only && !was_ro {
                    *clean = true;
                } else if !read_only {
                    *clean = false;
                }
            }
            return Ok(());
        }
        // g_vfs_open → g_access(cp, 1, rw, rw): md.c `g_md_access` answers
        // EROFS to a writer of a read-only unit; uzip's provider is
        // read-only (sys/geom/uzip/g_uzip.c).
        let unit_ro = k.units[&unit].flags & MD_READONLY != 0;
        let uzip_node = from.as_os_str().as_bytes().ends_with(b".uzip");
        if !read_only && (unit_ro || uzip_node) {
            return Err(err(&what, Errno::EROFS));
        }
        // ffs_mountfs: one mount per device (`dev->si_mountpt` already
        // set: EBUSY).
        if k.mounts.iter().any(|m| m.unit == Some(unit) && m.from == from) {
            return Err(err(&what, Errno::EBUSY));
        }
        let content = k.content_of(unit).ok_or_else(|| err(&what, Errno::ENXIO))?;
        let Some(content) = layer(content, uzip) else { return Err(err(&what, Errno::EINVAL)) };
        let mut warning = None;
        match content {
            // ffs_mountfs: ffs_sbget finds no superblock (geli's sectors
            // read as noise through the unit itself).
            Content::Empty | Content::Uzip(_) | Content::Geli { .. } => return Err(err(&what, Errno::EINVAL)),
            Content::Ufs { clean, fsmnt, softdep } => {
                let forced = req.flags & MNT_FORCE != 0 || req.get("force").is_some();
                if !*clean && !read_only && !forced && !*softdep {
                    // ffs_mountfs: vfs_mount_error(mp, "R/W mount of %s
                    // denied. %s.%s", fs->fs_fsmnt, "Filesystem is not clean
                    // - run fsck", "") and EPERM (MNT_FORCE, "force" by name
                    // in vfs_donmount, would allow it).
                    let msg = format!("R/W mount of {} denied. Filesystem is not clean - run fsck.", fsmnt.display());
                    return Err(Error::explained(&what, msg, Errno::EPERM));
                }
                if !*clean && !read_only {
                    // ffs_mountfs: soft updates without a journal (or a
                    // forced mount) go on, with a console warning.
                    warning = Some(format!("WARNING: {} was not properly dismounted", fsmnt.display()));
                }
                if !read_only {
                    *clean = false;
                    *fsmnt = fspath.clone();
                }
            }
        }
        if let Some(w) = warning {
            k.log.push(w);
        }
        k.push_mount(Mnt::new(fspath, from, fstype, read_only, nosuid, Some(unit)));
        Ok(())
    }

    /// unmount(2) by path: sys/kern/vfs_mount.c `sys_unmount` scans the
    /// mount list newest first for `f_mntonname`, so of mounts stacked on
    /// one directory the topmost is taken (EINVAL if none), then
    /// `dounmount` ([`Kernel::dounmount`]).
    fn unmount(&mut self, fspath: &Path, force: bool) -> Result<()> {
        let mut k = self.k();
        k.log(format!("unmount {}{}", fspath.display(), if force { " MNT_FORCE" } else { "" }));
        let what = format!("unmount of {}", fspath.display());
        let i = k.mounts.iter().rposition(|m| m.on == fspath).ok_or_else(|| err(&what, Errno::EINVAL))?;
        k.dounmount(i, force, &what)
    }

    /// unmount(2) with `MNT_BYFSID` ([`Model::unmount_by_fsid`]).
    fn unmount_fsid(&mut self, fsid: [i32; 2], _on: &Path, force: bool) -> Result<()> {
        self.unmount_by_fsid(&format!("FSID:{}:{}", fsid[0], fsid[1]), force)
    }

    /// newfs(8) on `/dev/mdN`: opens the disk for writing (EROFS on a
    /// read-only unit, md.c `g_md_access`), writes a clean UFS, closes it
    /// (GEOM re-tastes it).
    /// md.c `kern_mdresize_locked` ([`Model::resize`]).
    fn resize(&mut self, req: &ResizeRequest) -> Result<()> {
        Model::resize(self, req.unit, req.mediasize, req.options).map_err(|e| Error::sys("MDIOCRESIZE", e))
    }

    /// growfs(8) `-y /dev/mdN`: the UFS in the unit's file grows to what
    /// [`growfs_size`] says of the unit's `mediasize`, or growfs fails as
    /// growfs.c does when that adds nothing.
    fn run_growfs(&mut self, argv: &[OsString]) -> Result<()> {
        let mut k = self.k();
        k.log.push(format!("run {argv:?}"));
        let dev = PathBuf::from(argv.last().cloned().unwrap_or_default());
        let Some((unit, false)) = k.node(&dev) else {
            return Err(Error::text(
                "growfs exited with error code 1",
                format!("growfs: {}: no such disk", dev.display()),
            ));
        };
        let (mediasize, store) = (k.units[&unit].mediasize, k.units[&unit].store.clone());
        let Store::Vnode(id) = store else { return Ok(()) };
        let now = k.ufs_size_of(id);
        match growfs_size(now, mediasize) {
            Some(to) => {
                k.ufs_bytes.insert(id, to);
                Ok(())
            }
            None => Err(Error::text("growfs exited with error code 1", "growfs: not enough new space")),
        }
    }

    fn extend(&mut self, image: &OpenedImage, _: u64, to: u64) -> Result<()> {
        self.k().files.get_mut(&image.path).expect("the image").size = to;
        Ok(())
    }

    fn truncate(&mut self, image: &OpenedImage, len: u64) -> Result<()> {
        self.k().files.get_mut(&image.path).expect("the image").size = len;
        Ok(())
    }

    fn usage(&mut self, _: &Path) -> Option<mount_md::list::table::Usage> {
        Some(mount_md::list::table::Usage { size: 1 << 30, used: 4096, available: (1 << 30) - 4096 })
    }

    fn run_newfs(&mut self, argv: &[OsString], _loud: bool) -> Result<()> {
        let mut k = self.k();
        k.log(format!("exec {:?}", argv));
        let softdep = argv.iter().any(|a| a == "-U");
        let dev = PathBuf::from(argv.last().cloned().unwrap_or_default());
        let eli = dev.as_os_str().as_bytes().ends_with(b".eli");
        let Some((unit, layered)) = k.node(&dev).filter(|(_, l)| !l || eli) else {
            return Err(Error::text(
                "newfs exited with error code 1",
                format!("newfs: {}: No such file or directory", dev.display()),
            ));
        };
        if k.units[&unit].flags & MD_READONLY != 0 {
            return Err(Error::text(
                "newfs exited with error code 1",
                format!("newfs: {}: Read-only file system", dev.display()),
            ));
        }
        if let Some(c) = k.content_of(unit).and_then(|c| layer(c, layered)) {
            *c = Content::Ufs { clean: true, fsmnt: PathBuf::new(), softdep };
        }
        // newfs makes the file system the disk's size, in whole fragments.
        if let (Store::Vnode(id), false) = (k.units[&unit].store.clone(), layered) {
            let size = k.units[&unit].mediasize / UFS_FSIZE * UFS_FSIZE;
            k.ufs_bytes.insert(id, size);
        }
        k.retaste(unit);
        Ok(())
    }

    /// The start of a disk as ffs lays it out: a UFS2 superblock at 64 KiB
    /// (sys/ufs/ffs/fs.h `SBLOCK_UFS2`, `FS_UFS2_MAGIC` at `fs_magic`,
    /// `fs_clean`, `FS_FLAGS_UPDATED` in `fs_old_flags`), clean or not as
    /// the content is; zeros for a disk that holds no UFS.
    fn read_start(&mut self, node: &Path, len: usize) -> Result<Vec<u8>> {
        let mut k = self.k();
        let Some((unit, uzip)) = k.node(node) else {
            return Err(err(node.display().to_string(), Errno::ENOENT));
        };
        let mut b = vec![0u8; len];
        let ufs = match k.content_of(unit).and_then(|c| layer(c, uzip)) {
            Some(Content::Ufs { clean, .. }) => Some(*clean),
            _ => None,
        };
        let size = match k.units[&unit].store {
            Store::Vnode(id) if !uzip => k.ufs_size_of(id),
            _ => k.units[&unit].mediasize,
        };
        if let Some(clean) = ufs {
            ufs_superblock(&mut b, clean, size);
        }
        Ok(b)
    }

    /// The start of an image file as read before it is attached (the
    /// superblock of the UFS in it, as on a disk).
    fn image_start(&mut self, path: &Path, len: usize) -> Result<Option<Vec<u8>>> {
        let mut k = self.k();
        k.log.push(format!("read the start of {}", path.display()));
        let Some(f) = k.files.get(path).cloned() else { return Ok(None) };
        let mut b = vec![0u8; len];
        if let Content::Ufs { clean, .. } = f.content {
            ufs_superblock(&mut b, clean, k.ufs_size_of(f.id));
        }
        Ok(Some(b))
    }

    /// geli(8) on the model ([`super::geli`]), the key read from what
    /// mount_md gives its standard input. geom(8) prints `geli: MESSAGE`
    /// and exits 1; mount_md's error then reads `geli VERB: MESSAGE`.
    fn run_geli(&mut self, args: &[OsString], key: Option<&mount_md::platform::keyed::Key>) -> Result<()> {
        use mount_md::platform::keyed::Key;
        use std::os::unix::fs::FileExt;
        let stdin = match key {
            Some(Key::File { fd, .. }) => {
                let f = std::fs::File::from(fd.try_clone().unwrap());
                let mut buf = vec![0u8; f.metadata().unwrap().len() as usize];
                f.read_exact_at(&mut buf, 0).unwrap();
                buf
            }
            Some(Key::Passphrase(p)) => p.bytes().to_vec(),
            None => Vec::new(),
        };
        let mut guard = self.0.borrow_mut();
        let k = &mut *guard;
        k.log(format!("exec geli {:?}", args));
        let mut geli = std::mem::take(&mut k.geli);
        let r = geli.run(args, &stdin, k);
        k.geli = geli;
        let verb = args.first().map(|a| a.to_string_lossy().into_owned()).unwrap_or_default();
        match r {
            Ok(_) => Ok(()),
            Err(msg) => Err(Error::text(format!("geli {verb}"), msg.trim_start_matches("geli: ").to_string())),
        }
    }

    /// A key file as mount_md opens it, judged by the same rules with the
    /// owner the model's files have (root).
    fn open_key(&mut self, path: &Path) -> Result<mount_md::platform::keyed::Key> {
        use std::os::unix::fs::MetadataExt;
        let shown = mount_md::error::quoted(path);
        let f = std::fs::File::open(path).map_err(|e| mount_md::error::from_io(format!("key file {shown}"), &e))?;
        let md = f.metadata().unwrap();
        let st =
            mount_md::crypt::KeyFileStat { regular: md.is_file(), uid: 0, mode: md.mode() & 0o7777, size: md.len() };
        if let Some(why) = mount_md::crypt::key_file_problem(&st) {
            return Err(Error::plain(format!("key file {shown} {why}")));
        }
        Ok(mount_md::platform::keyed::Key::File { fd: f.into(), shown })
    }

    /// `fsck_ufs -p [-f] /dev/mdN` (sbin/fsck_ffs): preen mode repairs
    /// what a crash leaves and marks the superblock clean; the disk is
    /// opened for writing and closed again (GEOM re-tastes it). Without
    /// `-f` a clean file system is not checked at all: main.c keeps
    /// `skipclean` set unless `-f` is given, and setup.c `setup` then
    /// answers "FILE SYSTEM CLEAN; SKIPPING CHECKS" (main.c `checkfilesys`
    /// reports it clean, exit 0). `checks` counts the checks really made.
    fn run_fsck(&mut self, argv: &[OsString]) -> Result<String> {
        let mut k = self.k();
        k.log(format!("exec {:?}", argv));
        let dev = PathBuf::from(argv.last().cloned().unwrap_or_default());
        let eli = dev.as_os_str().as_bytes().ends_with(b".eli");
        let Some((unit, layered)) = k.node(&dev).filter(|(_, l)| !l || eli) else {
            return Err(Error::text(
                "fsck_ufs exited with error code 8",
                format!("fsck_ufs: {}: No such file or directory", dev.display()),
            ));
        };
        let force = argv.iter().any(|a| a == "-f");
        if let Some(Content::Ufs { clean: true, .. }) = k.content_of(unit).and_then(|c| layer(c, layered)) {
            if !force {
                let d = dev.display();
                return Ok(format!("{d}: FILE SYSTEM CLEAN; SKIPPING CHECKS\n{d}: clean, 15000 free (8 frags, 1874 blocks, 0.0% fragmentation)\n"));
            }
        }
        if let Some(Content::Ufs { clean, .. }) = k.content_of(unit).and_then(|c| layer(c, layered)) {
            *clean = true;
        }
        k.fsck_checks += 1;
        k.retaste(unit);
        Ok(format!("** {}\n** Phase 1 - Check Blocks and Sizes\n***** FILE SYSTEM MARKED CLEAN *****\n", dev.display()))
    }

    /// platform::preflight::check against the model's own files (the files'
    /// part of the check): the
    /// image opens as `open_image` opens it (missing without `--create` is
    /// ENOENT), and one that is not writable is not to be formatted.
    fn preflight(&self, plan: &Plan) -> Result<()> {
        let k = self.0.borrow();
        let mut image: Option<(&Path, bool, bool)> = None; // (path, to create, writable)
        for step in &plan.steps {
            match step {
                Step::OpenImage(o) => match (k.files.get(&o.path), o.create.map(drop).or(o.from.as_ref().map(drop))) {
                    (Some(f), _) => image = Some((&o.path, false, f.writable || o.read_only)),
                    (None, Some(())) => image = Some((&o.path, true, true)),
                    (None, None) => return Err(err(o.path.display().to_string(), Errno::ENOENT)),
                },
                Step::Format(f) if !f.only_if_created || image.is_some_and(|(_, c, _)| c) => {
                    if let Some((path, _, false)) = image {
                        return Err(Error::plain(format!(
                            "{}: not writable, so it cannot be formatted (add -P to mount its file system read-only)",
                            mount_md::error::quoted(path)
                        )));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// As mount_md's own `posix::open_image`: a new image is made under
    /// its temporary name, which MDIOCATTACH is then given, until it is
    /// published.
    fn open_image(&mut self, o: &OpenImage) -> Result<Opened<OpenedImage>> {
        let mut k = self.k();
        let mut made = None;
        if let (false, Some(b)) = (k.files.contains_key(&o.path), &o.from) {
            if o.read_only {
                return Err(Error::text(o.path.display().to_string(), posix::NO_READ_ONLY_CREATE));
            }
            let base = k.files.get(&b.path).cloned().ok_or_else(|| err(b.path.display().to_string(), Errno::ENOENT))?;
            // FreeBSD has no FICLONE: copy_file_range, which clones only
            // on ZFS with block cloning on.
            let clones = k.host == Host::Zfs && k.bclone;
            if b.clone == mount_md::template::Policy::Require && !clones {
                let f = mount_md::platform::clone::Failed::NoClone(Errno::EOPNOTSUPP);
                return Err(Error::text(o.path.display().to_string(), f.text()));
            }
            use mount_md::platform::clone::{Made, Method};
            let method = if clones { Method::Clone } else { Method::KernelCopy };
            let copied = if clones { 0 } else { base.size };
            made = Some(Made { method, copied, took: std::time::Duration::from_millis(1) });
            k.next_ino += 1;
            let id = FileId { dev: k.host.dev(), ino: k.next_ino };
            let tmp = o.path.with_file_name(posix::temp_name(o.path.file_name().unwrap_or_default()));
            let file = File { id, size: base.size, writable: true, content: base.content.clone(), owners: ROOTS };
            k.files.insert(tmp, file);
            k.log(format!("copy_file_range {} -> {} ({method:?})", b.path.display(), o.path.display()));
        }
        let (created, at) = match (k.files.contains_key(&o.path), o.create) {
            _ if made.is_some() => {
                (true, o.path.with_file_name(posix::temp_name(o.path.file_name().unwrap_or_default())))
            }
            (true, _) => (false, o.path.clone()),
            (false, Some(_)) if o.read_only => {
                return Err(Error::text(o.path.display().to_string(), posix::NO_READ_ONLY_CREATE));
            }
            // posix::open_image: the directory's f_fstypename is zfs.
            (false, Some((_, CreateMode::Reserve))) if k.host == Host::Zfs => {
                return Err(Error::text(o.path.display().to_string(), posix::NO_RESERVE_ON_ZFS));
            }
            (false, Some((size, _))) => {
                k.next_ino += 1;
                let id = FileId { dev: k.host.dev(), ino: k.next_ino };
                let tmp = o.path.with_file_name(posix::temp_name(o.path.file_name().unwrap_or_default()));
                k.files.insert(tmp.clone(), File { id, size, writable: true, content: Content::Empty, owners: ROOTS });
                (true, tmp)
            }
            (false, None) => return Err(err(o.path.display().to_string(), Errno::ENOENT)),
        };
        let f = &k.files[&at];
        let [(uid, mode), (dir_uid, dir_mode)] = f.owners;
        Ok(Opened {
            path: o.path.clone(),
            id: f.id,
            created,
            untrusted: mount_md::trust::untrusted(uid, mode, dir_uid, dir_mode),
            made,
            handle: OpenedImage { path: at.clone(), size: f.size, writable: f.writable && !o.read_only, handle: None },
        })
    }

    fn remove_image(&mut self, image: &Opened<OpenedImage>) -> Result<()> {
        if image.created {
            self.unlink(&image.handle.path);
        }
        Ok(())
    }

    /// rename(2): the same file (inode) under its final name. A unit
    /// attached under the temporary name keeps that name as its `md_file`
    /// (sys/dev/md/md.c `mdcreate_vnode` copies the path it was given).
    fn publish_image(&mut self, image: &mut Opened<OpenedImage>) -> Result<()> {
        if image.created {
            let image = &mut image.handle;
            let to = posix::published_name(&image.path).unwrap_or_else(|| image.path.clone());
            // The unit holds the vnode, which the rename does not change.
            self.rename(&image.path, &to);
            image.path = to;
        }
        Ok(())
    }

    fn stat_file(&self, path: &Path) -> Result<FileId> {
        let k = self.0.borrow();
        if let Some(f) = k.files.get(path) {
            return Ok(f.id);
        }
        if let Some(i) = k.dirs.iter().position(|d| d == path) {
            return Ok(FileId { dev: k.host.dev(), ino: 2 + i as u64 });
        }
        Err(err(path.display().to_string(), Errno::ENOENT))
    }

    fn realpath(&self, path: &Path) -> Result<PathBuf> {
        self.stat_file(path).map(|_| path.to_path_buf())
    }

    fn page_size(&self) -> u64 {
        PAGE
    }

    fn inspect_backing(&self, file: &Path) -> Result<BackingFile> {
        let k = self.0.borrow();
        let f = k
            .files
            .get(file)
            .ok_or_else(|| err(format!("could not find full path for {}", file.display()), Errno::ENOENT))?;
        Ok(BackingFile { path: file.to_path_buf(), size: f.size, regular: true, writable: f.writable })
    }

    fn node_exists(&mut self, node: &Path) -> bool {
        self.0.borrow().node(node).is_some()
    }

    fn pause(&mut self, d: Duration) {
        self.k().now += d.as_millis() as u64;
    }

    fn resolve_mount_point(&self, mount_point: &Path) -> Result<PathBuf> {
        let k = self.0.borrow();
        if k.is_dir(mount_point) {
            Ok(mount_point.to_path_buf())
        } else if k.files.contains_key(mount_point) {
            Err(err(mount_point.display().to_string(), Errno::ENOTDIR))
        } else {
            Err(err(mount_point.display().to_string(), Errno::ENOENT))
        }
    }

    fn pin_mount_point(&mut self, fspath: &Path) -> Result<()> {
        self.k().log(format!("pin parent of {}", fspath.display()));
        Ok(())
    }

    /// The root is a file open on the mount (unmount answers EBUSY while it
    /// is held) until the handle is dropped.
    fn open_mounted_root(&mut self, _pin: (), fspath: &Path) -> Result<RootHandle> {
        let mut k = self.k();
        k.log(format!("openat root of {}", fspath.display()));
        let m = k.mounts.iter_mut().rev().find(|m| m.on == fspath);
        let m = m.ok_or_else(|| err(fspath.display().to_string(), Errno::ENOENT))?;
        m.open_files += 1;
        k.roots_opened += 1;
        Ok(RootHandle { model: self.clone(), on: fspath.to_path_buf() })
    }

    fn mounted_read_only(&mut self, root: &RootHandle, fspath: &Path) -> Result<bool> {
        let k = self.0.borrow();
        k.mounts
            .iter()
            .rev()
            .find(|m| m.on == root.on)
            .map(|m| m.read_only)
            .ok_or_else(|| err(fspath.display().to_string(), Errno::ENOENT))
    }

    fn set_mode(&mut self, root: &RootHandle, _: &Path, mode: u32) -> Result<()> {
        self.k().log(format!("fchmod root of {} {mode:o}", root.on.display()));
        Ok(())
    }

    fn set_owner(&mut self, root: &RootHandle, _: &Path, uid: u32, gid: u32) -> Result<()> {
        self.k().log(format!("fchown root of {} {uid}:{gid}", root.on.display()));
        Ok(())
    }

    /// The copy is a log line; the root holds `posix::UNFINISHED` while it
    /// runs ([`Kernel::unfinished`]), gone when it returns.
    fn copy_skeleton(&mut self, root: &RootHandle, _: &Path, from: &Path) -> Result<()> {
        let mut k = self.k();
        k.log(format!("copy {} into root of {}", from.display(), root.on.display()));
        k.unfinished.retain(|on| *on != root.on);
        Ok(())
    }

    /// flock(2) of the image, logged; the model runs one process, so it
    /// is never held by another.
    fn lock_image(&mut self, path: &Path, _id: FileId) -> Result<Option<mount_md::platform::ImageLock>> {
        self.k().log(format!("flock {}", path.display()));
        Ok(Some(mount_md::platform::ImageLock { waited: false, guard: Box::new(()) }))
    }

    fn unfinished_copy(&mut self, fspath: &Path) -> Result<Option<RootHandle>> {
        if !self.k().unfinished.iter().any(|on| on == fspath) {
            return Ok(None);
        }
        self.open_mounted_root((), fspath).map(Some)
    }
}
