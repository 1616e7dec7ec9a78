//! FreeBSD side of `mount_md -r` and `mount_md --list`.
//!
//! * Growing a unit: `MDIOCRESIZE` on /dev/mdctl with the new
//!   `md_mediasize` (sys/dev/md/md.c `kern_mdresize_locked`: options may
//!   only hold MD_FORCE and MD_RESERVE, a smaller size without MD_FORCE is
//!   EBUSY; `mdresize` takes a vnode unit's new size as given, so the file
//!   is extended first, and the size must be whole sectors because resize,
//!   unlike attach, does not cut a partial sector off), then `growfs -y
//!   /dev/mdN` (growfs(8) grows a mounted UFS as well).
//! * Not attached: the image is extended, attached (`MDIOCATTACH`,
//!   `md_label` = `mount_md:`), grown with growfs, detached.
//! * The unit is found by [`crate::lifecycle::locate`], the rules `-u`
//!   uses, over the backend's identity primitives (the module [`super`]
//!   says which); the file system is taken to be UFS, as mdmfs assumes for
//!   md disks.
use super::eli::EliProvider;
use super::requests::{attach_request, device_path, AttachRequest, BackingFile};
use super::{FreeBsd, MdSys, Opened, OpenedImage};
use crate::device::Unit;
use crate::error::{Error, Result};
use crate::grow_ops::{self as grow, Attached, Found, GrowOps, GrowStep, Located, Tool};
use crate::mark;
use crate::plan::{Attach, Formats, OpenImage};
use crate::platform::{MountRec, UnitInfo};
use crate::request::Backing;
use crate::unit::Listed;
use libc::c_uint;
use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// growfs(8), always by absolute path.
pub const GROWFS: &str = "/sbin/growfs";

/// The fields an MDIOCRESIZE sets; everything else is zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResizeRequest {
    pub unit: u32,
    /// Bytes, whole 512-byte sectors.
    pub mediasize: u64,
    /// 0: never MD_FORCE (which would let a shrink through) and never
    /// MD_RESERVE (meaningful for swap units only).
    pub options: c_uint,
}

impl ResizeRequest {
    pub fn describe(&self) -> String {
        format!(
            "ioctl(/dev/mdctl, MDIOCRESIZE, {{unit={}, mediasize={}, options={}}})",
            self.unit,
            self.mediasize,
            super::abi::options_names(self.options)
        )
    }
}

/// The resize request for growing `unit` to `mediasize` bytes.
pub fn resize_request(unit: u32, mediasize: u64) -> Result<ResizeRequest> {
    if mediasize == 0 || mediasize % grow::SECTOR != 0 || i64::try_from(mediasize).is_err() {
        return Err(Error::plain(format!("-s {mediasize}B: not a whole number of 512-byte sectors")));
    }
    Ok(ResizeRequest { unit, mediasize, options: 0 })
}

/// `/sbin/growfs -y /dev/mdN`: `-y` answers growfs's question itself
/// (there is nobody to ask).
pub fn growfs_argv(device: &Path) -> Vec<OsString> {
    vec![GROWFS.into(), "-y".into(), device.as_os_str().to_os_string()]
}

/// The grow of one image, as it runs, and its steps.
struct Ops<'a, S: MdSys> {
    fb: &'a mut FreeBsd<S>,
    image: Opened<OpenedImage>,
    realpath: PathBuf,
    unit: Option<u32>,
    /// The image was not attached: this run attaches it for the grow.
    offline: bool,
    /// The size the disk is to have (what an offline attach asks for).
    to: u64,
}

impl<S: MdSys> Ops<'_, S> {
    fn device(&self) -> PathBuf {
        self.unit.map(device_path).unwrap_or_else(|| PathBuf::from("/dev/md?"))
    }

    fn attach_request(&self) -> Result<AttachRequest> {
        let a = Attach {
            unit: Unit::Auto,
            backing: Backing::Vnode(self.image.path.clone()),
            size: Some(self.to),
            read_only: false,
            direct_io: true,
            formats: Formats::Never,
        };
        let b = BackingFile { path: self.realpath.clone(), size: self.to, regular: true, writable: true };
        let (mut req, _) = attach_request(&a, Some(&b), self.fb.sys.page_size())?;
        let label = mark::encode(b"", mark::FREEBSD_CAPACITY);
        req.label = Some(CString::new(label).map_err(|_| Error::plain("mark holds a NUL"))?);
        Ok(req)
    }
}

impl<S: MdSys> GrowOps for Ops<'_, S> {
    fn fs_bytes(&mut self, mounted_on: Option<&Path>) -> Option<u64> {
        self.fb.sys.usage(mounted_on?).map(|u| u.size)
    }

    fn interrupted(&mut self) -> Option<&'static str> {
        crate::platform::Platform::pause(&mut *self.fb, std::time::Duration::ZERO)
    }

    fn describe(&self, step: &GrowStep) -> String {
        let dev = self.device();
        match step {
            GrowStep::ExtendImage { from, to } => {
                format!("posix_fallocate({}, {from}, {})", self.image.path.display(), to - from)
            }
            GrowStep::Attach => match self.attach_request() {
                Ok(r) => format!("ioctl(/dev/mdctl, MDIOCATTACH, {}) label=\"mount_md:\"", r.describe()),
                Err(e) => format!("MDIOCATTACH: {e}"),
            },
            GrowStep::SetCapacity { to, .. } => match resize_request(self.unit.unwrap_or(0), *to) {
                Ok(r) => r.describe(),
                Err(e) => format!("MDIOCRESIZE: {e}"),
            },
            GrowStep::CheckFs(t) | GrowStep::GrowFs(t) => match t {
                Tool::Growfs => grow::show_argv(&growfs_argv(&dev)),
                t => grow::show_argv(&t.argv(&dev.display().to_string(), None)),
            },
            GrowStep::Detach => {
                format!("ioctl(/dev/mdctl, MDIOCDETACH, {})", super::requests::describe_detach(self.unit.unwrap_or(0)))
            }
        }
    }

    fn run(&mut self, step: &GrowStep) -> Result<()> {
        match step {
            GrowStep::ExtendImage { from, to } => self.fb.sys.extend(&self.image.handle, *from, *to),
            GrowStep::Attach => {
                let req = self.attach_request()?;
                let dev = self.fb.attach_checked(&req, Some((&self.image.handle.path, self.image.id)))?;
                self.unit = Some(dev.unit);
                Ok(())
            }
            GrowStep::SetCapacity { to, .. } => {
                let req = resize_request(self.unit.ok_or_else(|| Error::plain("internal error: no unit"))?, *to)?;
                self.fb.sys.resize(&req)
            }
            GrowStep::CheckFs(t) | GrowStep::GrowFs(t) => match t {
                Tool::Growfs => self.fb.sys.run_growfs(&growfs_argv(&self.device())),
                t => Err(Error::plain(format!("{t:?}: not a FreeBSD program"))),
            },
            GrowStep::Detach => self.unit.take().map_or(Ok(()), |u| self.fb.detach_settled(u, false)),
        }
    }

    /// Offline the unit is gone again: say how to attach it by hand.
    fn finish_hint(&self, step: &GrowStep) -> String {
        if !self.offline {
            return self.describe(step);
        }
        format!("md=$(mdconfig -a -t vnode -f {}) && growfs -y /dev/$md; mdconfig -d -u $md", self.image.path.display())
    }

    fn undo(&mut self, step: &GrowStep) -> Result<()> {
        match step {
            GrowStep::ExtendImage { from, .. } => self.fb.sys.truncate(&self.image.handle, *from),
            GrowStep::Attach => self.unit.take().map_or(Ok(()), |u| self.fb.detach_settled(u, false)),
            GrowStep::SetCapacity { .. } => Err(Error::plain("the md disk is not shrunk back on FreeBSD")),
            _ => Ok(()),
        }
    }
}

/// The mount point of the first mount of the unit `-r` is about (found by
/// the rules `-u` uses, [`crate::lifecycle::locate`]). A mount on a
/// provider stacked on the unit (`md3.uzip`, by the kernel's name of the
/// node its `f_mntfromname` names) is not a disk growfs can grow.
fn mount_point_of<S: MdSys>(fb: &mut FreeBsd<S>, u: &UnitInfo, mounts: &[MountRec]) -> Result<Option<PathBuf>> {
    let whole = format!("md{}", u.device.unit);
    for m in mounts {
        if fb.sys.device_name(Path::new(&m.source))?.as_deref() != Some(whole.as_str()) {
            return Err(Error::plain(format!(
                "{}: mounted from {}, not a whole md(4) disk; nothing changed",
                m.on.display(),
                m.source
            )));
        }
    }
    Ok(mounts.first().map(|m| m.on.clone()))
}

/// What `-r` finds at the target the lifecycle located
/// ([`crate::lifecycle::locate`]), and the operations that grow it to
/// `size` bytes.
pub fn target<'a, S: MdSys>(
    fb: &'a mut FreeBsd<S>,
    located: &Located,
    size: u64,
) -> Result<(Found, Box<dyn GrowOps + 'a>)> {
    let (image, realpath, attached, disk_size, head) = match located {
        Located::Unit(u, mounts) => {
            let mount_point = mount_point_of(fb, u, mounts)?;
            let (unit, dev) = (u.device.unit, u.device.path.clone());
            if fb.sys.geli_on(unit)?.is_some() {
                return Err(Error::plain(format!(
                    "{}: has a crypt layer, which -r does not grow yet; nothing changed",
                    dev.display()
                )));
            }
            let q = fb.sys.query(unit)?;
            let file = q.file.filter(|_| q.md_type == super::abi::MD_VNODE).ok_or_else(|| {
                Error::plain(format!("{}: not backed by an image file; nothing changed", dev.display()))
            })?;
            // md(4) keeps the path it was attached by: for an image
            // `--create` made, the temporary name it was published from
            // (FreeBsd::unit_file; its identity is checked below).
            let file = fb.unit_file(&file).map_or(file, |(now, _)| now);
            let image =
                fb.sys.open_image(&OpenImage { path: file.clone(), create: None, read_only: false, from: None })?;
            if u.backing != Some(image.id) {
                return Err(Error::plain(format!(
                    "{}: not the file {} is backed by; nothing changed",
                    file.display(),
                    dev.display()
                )));
            }
            if !image.handle.writable {
                return Err(Error::plain(format!("{}: not writable; nothing changed", file.display())));
            }
            // The file system's size and growfs's rule from the unit's
            // superblock, so that a rerun after a grow cut short between
            // MDIOCRESIZE and growfs runs growfs again.
            let head = fb.sys.read_start(&dev, crate::superblock::PROBE_LEN).unwrap_or_default();
            let read_only = q.options & super::abi::MD_READONLY != 0;
            let device = crate::unit::Device { unit, path: dev, read_only };
            (image, file, Some(Attached { device, mount_point }), q.mediasize, head)
        }
        Located::Image(p) => {
            let image =
                fb.sys.open_image(&OpenImage { path: p.clone(), create: None, read_only: false, from: None })?;
            if !image.handle.writable {
                return Err(Error::plain(format!("{}: not writable; nothing changed", p.display())));
            }
            let realpath = fb.sys.realpath(p)?;
            let head = fb.sys.image_start(p, crate::superblock::PROBE_LEN)?.unwrap_or_default();
            let disk_size = image.handle.size;
            (image, realpath, None, disk_size, head)
        }
    };
    let probed = crate::superblock::probe(&head);
    let found = Found {
        image: image.path.clone(),
        image_len: image.handle.size,
        disk_size,
        fstype: "ufs".into(),
        fs_size: crate::superblock::fs_size(&head, probed),
        growth: crate::superblock::growth(&head, probed),
        refusal: None,
        attached,
    };
    let unit = found.attached.as_ref().map(|a| a.device.unit);
    Ok((found, Box::new(Ops { fb, image, realpath, unit, offline: unit.is_none(), to: size })))
}

/// `mount_md --list` on FreeBSD: the row of unit `u`, mounted as `mount`
/// says, from its MDIOCQUERY; its geli layer, if any, among `layers`.
pub fn row<S: MdSys>(
    fb: &mut FreeBsd<S>,
    u: &UnitInfo,
    mount: Option<&MountRec>,
    layers: &[EliProvider],
) -> Result<Option<Listed>> {
    let unit = u.device.unit;
    let q = match fb.sys.query(unit) {
        Ok(q) => q,
        Err(e) if e.errno() == Some(nix::errno::Errno::ENOENT) => return Ok(None), // detached meanwhile
        Err(e) => return Err(e),
    };
    Ok(Some(Listed {
        unit,
        device: device_path(unit),
        image: q.file.as_ref().map(|f| f.as_os_str().as_bytes().to_vec()),
        // md(4) keeps the path it was given (`sc->file`), not whether
        // it still names the file.
        deleted: None,
        size: Some(q.mediasize),
        usage: mount.and_then(|m| fb.sys.usage(&m.on)),
        direct_io: None,
        mark: q.label.filter(|l| !l.is_empty()),
        crypt: super::eli::on_unit(layers, unit).map(|e| ("geli".to_string(), Path::new("/dev").join(&e.name))),
    }))
}
