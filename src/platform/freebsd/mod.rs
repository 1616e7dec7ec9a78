//! FreeBSD: md(4) disks attached with MDIOCATTACH on /dev/mdctl and mounted
//! with nmount(2); newfs(8) is the only program ever started, and only
//! without `-P`.
//!
//! [`FreeBsd`] holds the logic (what to ask, in what words, what to undo)
//! over a small [`MdSys`] trait of system operations, so that the logic
//! compiles and is tested on any host: [`sys::Kernel`] (FreeBSD only) does
//! the real ioctls and syscalls, [`recording::Recorder`] records them.
use super::{describe, posix, Device, Mounted, Note, Platform};
use crate::error::{Error, Result};
use crate::plan::{Attach, Defaults, Format, FsType, Mount, Plan, Step, TmpfsMount};
use crate::request::Backing;
use std::cell::RefCell;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod abi;
pub mod recording;
pub mod requests;
#[cfg(md_backend)]
pub mod sys;

use requests::{
    attach_request, describe_detach, device_path, mount_from, newfs_argv, nmount_request, show_argv, tmpfs_request,
    AttachRequest, BackingFile, NmountRequest,
};

/// How long to wait for `/dev/mdN` after the attach.
pub const NODE_TIMEOUT: Duration = Duration::from_secs(5);

/// The system operations the FreeBSD backend needs. The required methods
/// are the md(4)/mount syscalls and the newfs exec; the provided ones are
/// plain POSIX (shared with Linux through [`posix`]) and are overridden
/// only by test doubles.
pub trait MdSys {
    /// MDIOCATTACH; returns the unit the kernel used.
    fn attach(&mut self, req: &AttachRequest) -> Result<u32>;
    /// MDIOCDETACH of `unit` (options 0, mediasize 0).
    fn detach(&mut self, unit: u32) -> Result<()>;
    /// nmount(2), with the errmsg text in the error.
    fn nmount(&mut self, req: &NmountRequest) -> Result<()>;
    /// unmount(2) of a mount point.
    fn unmount(&mut self, fspath: &Path) -> Result<()>;
    /// Runs newfs with `argv` (argv[0] is its absolute path); its output is
    /// shown when `loud`, otherwise captured and shown on failure.
    fn run_newfs(&mut self, argv: &[OsString], loud: bool) -> Result<()>;

    fn page_size(&self) -> u64 {
        nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok().flatten().map_or(4096, |p| p as u64)
    }
    fn inspect_backing(&self, file: &Path) -> Result<BackingFile> {
        requests::inspect_backing(file)
    }
    fn wait_for_node(&mut self, node: &Path) -> Result<()> {
        posix::wait_for_node(node, NODE_TIMEOUT)
    }
    /// mount(8)'s checkpath: realpath, and it must be a directory.
    fn resolve_mount_point(&self, mount_point: &Path) -> Result<PathBuf> {
        let what = || mount_point.display().to_string();
        let p = std::fs::canonicalize(mount_point).map_err(|e| crate::error::from_io(what(), &e))?;
        if !p.is_dir() {
            return Err(Error::sys(what(), nix::errno::Errno::ENOTDIR));
        }
        Ok(p)
    }
    fn mounted_read_only(&mut self, fspath: &Path) -> Result<bool> {
        posix::is_read_only(&posix::open_root(fspath)?)
    }
    fn set_mode(&mut self, fspath: &Path, mode: u32) -> Result<()> {
        posix::set_mode(&posix::open_root(fspath)?, fspath, mode)
    }
    fn set_owner(&mut self, fspath: &Path, uid: u32, gid: u32) -> Result<()> {
        posix::set_owner(&posix::open_root(fspath)?, fspath, uid, gid)
    }
    fn copy_skeleton(&mut self, fspath: &Path, from: &Path) -> Result<()> {
        posix::copy_skeleton(from, &posix::open_root(fspath)?)
    }
}

/// The FreeBSD platform over a set of system operations.
pub struct FreeBsd<S: MdSys> {
    sys: S,
    /// `check` takes `&self` but may have something to say.
    notes: RefCell<Vec<Note>>,
}

#[cfg(md_backend)]
impl FreeBsd<sys::Kernel> {
    /// The real thing.
    pub fn new() -> Self {
        Self::with_sys(sys::Kernel::new())
    }
}

#[cfg(md_backend)]
impl Default for FreeBsd<sys::Kernel> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: MdSys> FreeBsd<S> {
    pub fn with_sys(sys: S) -> Self {
        FreeBsd { sys, notes: RefCell::new(Vec::new()) }
    }
    pub fn sys(&self) -> &S {
        &self.sys
    }
    pub fn sys_mut(&mut self) -> &mut S {
        &mut self.sys
    }
    pub fn into_sys(self) -> S {
        self.sys
    }

    fn note(&self, n: Note) {
        self.notes.borrow_mut().push(n);
    }

    /// The attach request for `a`, inspecting the backing file.
    fn request_for(&self, a: &Attach) -> Result<(AttachRequest, Vec<Note>)> {
        let backing = match &a.backing {
            Backing::Vnode(p) => Some(self.sys.inspect_backing(p)?),
            _ => None,
        };
        attach_request(a, backing.as_ref(), self.sys.page_size())
    }

    /// After a successful nmount: read the mount's flags; if even that
    /// fails, unmount again (the executor only undoes mounts it was told
    /// about) and report the first error.
    fn finish_mount(&mut self, fspath: PathBuf, fstype: String) -> Result<Mounted> {
        match self.sys.mounted_read_only(&fspath) {
            Ok(read_only) => Ok(Mounted { mount_point: fspath, fstype, read_only }),
            Err(e) => {
                if let Err(u) = self.sys.unmount(&fspath) {
                    self.note(Note::Warning(format!("rollback: {u}")));
                }
                Err(e)
            }
        }
    }
}

fn fstype_of(m: &Mount) -> String {
    match &m.fstype {
        FsType::Named(t) => t.clone(),
        // FreeBSD's defaults never ask for probing; mdmfs assumes UFS.
        FsType::Probe => "ufs".into(),
    }
}

impl<S: MdSys> Platform for FreeBsd<S> {
    fn defaults(&self) -> Defaults {
        // tmpfs is in GENERIC or autoloaded by nmount(2) (vfs_byname_kld).
        Defaults { fstype: "ufs", probe_preserved: false, tmpfs_available: true }
    }

    fn check(&self, plan: &Plan) -> Result<()> {
        for step in &plan.steps {
            match step {
                Step::EnterNamespace(_) => {
                    return Err(Error::plain("mount namespaces (mount.md -N) exist only on Linux"));
                }
                Step::Attach(a) => requests::validate_size(&a.backing, a.size, self.sys.page_size())?,
                Step::Format(f) if f.fstype != "ufs" => {
                    return Err(Error::plain(format!(
                        "-T {}: newfs makes only UFS; use -P with an image that already holds a {} file system",
                        f.fstype, f.fstype
                    )));
                }
                _ => {}
            }
        }
        if let Some(mdconfig) = &plan.mdconfig_path {
            self.note(Note::Debug(format!(
                "-E {}: ignored; mount_md attaches with MDIOCATTACH itself and runs no mdconfig",
                mdconfig.display()
            )));
        }
        Ok(())
    }

    fn describe(&self, step: &Step, dev: Option<&Device>) -> String {
        let name = describe::device_name("/dev/md", dev);
        match step {
            Step::PreDetach(u) => {
                format!("ioctl({}, MDIOCDETACH, {}) (errors ignored)", abi::MDCTL_PATH, describe_detach(*u))
            }
            Step::Attach(a) => {
                let what = match self.request_for(a) {
                    Ok((req, _)) => req.describe(),
                    // Under -N the image may not be there yet: say why.
                    Err(e) => format!("{{{}: {e}}}", describe::generic(step, "/dev/md", dev)),
                };
                format!("ioctl({}, MDIOCATTACH, {what})", abi::MDCTL_PATH)
            }
            Step::WaitForNode => format!("wait for {name}"),
            Step::Format(f) => show_argv(&newfs_argv(f, Path::new(&name))),
            Step::Mount(m) => {
                let from = mount_from(Path::new(&name), &m.suffix);
                let ro = dev.is_some_and(|d| d.read_only);
                match nmount_request(&fstype_of(m), &m.options, &m.mount_point, &from, ro) {
                    Ok(r) => r.describe(),
                    Err(e) => format!("nmount: {e}"),
                }
            }
            Step::MountTmpfs(t) => match tmpfs_request(t, &t.mount_point) {
                Ok(r) => r.describe(),
                Err(e) => format!("nmount: {e}"),
            },
            _ => describe::generic(step, "/dev/md", dev),
        }
    }

    fn enter_namespace(&mut self, _: &Path) -> Result<()> {
        Err(Error::plain("mount namespaces (mount.md -N) exist only on Linux"))
    }

    fn detach_unit(&mut self, unit: u32) -> Result<()> {
        self.sys.detach(unit)
    }

    fn attach(&mut self, a: &Attach) -> Result<Device> {
        let (req, notes) = self.request_for(a)?;
        self.notes.borrow_mut().extend(notes);
        let unit = self.sys.attach(&req)?;
        let path = device_path(unit);
        self.note(Note::Debug(format!("attached {} {}", path.display(), req.describe())));
        Ok(Device { unit, path, read_only: req.read_only() })
    }

    fn detach(&mut self, dev: &Device) -> Result<()> {
        self.sys.detach(dev.unit)
    }

    fn wait_for_node(&mut self, dev: &Device) -> Result<()> {
        self.sys.wait_for_node(&dev.path)
    }

    fn format(&mut self, dev: &Device, f: &Format) -> Result<()> {
        self.sys.run_newfs(&newfs_argv(f, &dev.path), f.loud)
    }

    fn mount(&mut self, dev: &Device, m: &Mount) -> Result<Mounted> {
        let fstype = fstype_of(m);
        let fspath = self.sys.resolve_mount_point(&m.mount_point)?;
        let from = mount_from(&dev.path, &m.suffix);
        let req = nmount_request(&fstype, &m.options, &fspath, &from, dev.read_only)?;
        self.sys.nmount(&req)?;
        self.finish_mount(fspath, fstype)
    }

    fn mount_tmpfs(&mut self, t: &TmpfsMount) -> Result<Mounted> {
        let fspath = self.sys.resolve_mount_point(&t.mount_point)?;
        let req = tmpfs_request(t, &fspath)?;
        self.sys.nmount(&req)?;
        self.finish_mount(fspath, "tmpfs".into())
    }

    fn unmount(&mut self, m: &Mounted) -> Result<()> {
        self.sys.unmount(&m.mount_point)
    }

    fn set_mode(&mut self, m: &Mounted, mode: u32) -> Result<()> {
        self.sys.set_mode(&m.mount_point, mode)
    }

    fn set_owner(&mut self, m: &Mounted, uid: u32, gid: u32) -> Result<()> {
        self.sys.set_owner(&m.mount_point, uid, gid)
    }

    fn copy_skeleton(&mut self, m: &Mounted, from: &Path) -> Result<()> {
        self.sys.copy_skeleton(&m.mount_point, from)
    }

    fn take_notes(&mut self) -> Vec<Note> {
        self.notes.take()
    }
}
