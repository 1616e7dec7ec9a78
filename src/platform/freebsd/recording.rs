//! A recording [`MdSys`] for tests: logs every system operation the
//! FreeBSD backend asks for, with its exact arguments, tracks which units
//! are attached and what is mounted, and can fail any operation once.
use super::requests::{AttachRequest, BackingFile, NmountRequest};
use super::MdSys;
use crate::error::{Error, Result};
use nix::errno::Errno;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// One recorded operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SysCall {
    Attach(AttachRequest),
    Detach(u32),
    WaitForNode(PathBuf),
    Newfs { argv: Vec<String>, loud: bool },
    Nmount(NmountRequest),
    Unmount(PathBuf),
    ReadOnlyCheck(PathBuf),
    SetMode(PathBuf, u32),
    SetOwner(PathBuf, u32, u32),
    CopySkeleton { fspath: PathBuf, from: PathBuf },
}

/// The recording double.
#[derive(Debug)]
pub struct Recorder {
    pub calls: Vec<SysCall>,
    /// What `inspect_backing` reports, by the path as given.
    pub files: BTreeMap<PathBuf, BackingFile>,
    pub attached: BTreeSet<u32>,
    pub mounted: Vec<PathBuf>,
    /// Fail the first operation of each listed kind, once: `attach`,
    /// `detach`, `wait`, `newfs`, `nmount`, `unmount`, `statfs`, `chmod`,
    /// `chown`, `skel`.
    pub fail: Vec<(&'static str, Errno)>,
    /// The kernel's errmsg when `nmount` fails.
    pub errmsg: String,
    /// Mounts come out read-only.
    pub read_only_fs: bool,
    pub page_size: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            calls: Vec::new(),
            files: BTreeMap::new(),
            attached: BTreeSet::new(),
            mounted: Vec::new(),
            fail: Vec::new(),
            errmsg: String::new(),
            read_only_fs: false,
            page_size: 4096,
        }
    }
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Knows `given` as a regular, writable file of `size` bytes whose
    /// realpath is `real`.
    pub fn with_file(mut self, given: &str, real: &str, size: u64) -> Self {
        self.files.insert(
            PathBuf::from(given),
            BackingFile { path: PathBuf::from(real), size, regular: true, writable: true },
        );
        self
    }

    pub fn failing_at(mut self, kind: &'static str, errno: Errno) -> Self {
        self.fail.push((kind, errno));
        self
    }

    /// Nothing attached, nothing mounted.
    pub fn is_clean(&self) -> bool {
        self.attached.is_empty() && self.mounted.is_empty()
    }

    fn maybe_fail(&mut self, kind: &str, what: impl Into<String>) -> Result<()> {
        match self.fail.iter().position(|(k, _)| *k == kind) {
            Some(i) => {
                let (_, errno) = self.fail.remove(i);
                if kind == "nmount" && !self.errmsg.is_empty() {
                    return Err(Error::explained(what, self.errmsg.clone(), errno));
                }
                Err(Error::sys(what, errno))
            }
            None => Ok(()),
        }
    }
}

impl MdSys for Recorder {
    fn attach(&mut self, req: &AttachRequest) -> Result<u32> {
        self.calls.push(SysCall::Attach(req.clone()));
        self.maybe_fail("attach", "ioctl(/dev/mdctl, MDIOCATTACH)")?;
        let unit = if req.autounit() {
            (0..).find(|u| !self.attached.contains(u)).unwrap_or(0)
        } else if self.attached.contains(&req.unit) {
            return Err(Error::sys("ioctl(/dev/mdctl, MDIOCATTACH)", Errno::EBUSY));
        } else {
            req.unit
        };
        self.attached.insert(unit);
        Ok(unit)
    }

    fn detach(&mut self, unit: u32) -> Result<()> {
        self.calls.push(SysCall::Detach(unit));
        self.maybe_fail("detach", format!("/dev/md{unit}"))?;
        if self.attached.remove(&unit) {
            Ok(())
        } else {
            Err(Error::sys(format!("/dev/md{unit}"), Errno::ENOENT))
        }
    }

    fn nmount(&mut self, req: &NmountRequest) -> Result<()> {
        self.calls.push(SysCall::Nmount(req.clone()));
        self.maybe_fail("nmount", req.from())?;
        if let Some(super::requests::IoValue::Text(p)) = req.get("fspath") {
            self.mounted.push(PathBuf::from(p.to_string_lossy().into_owned()));
        }
        Ok(())
    }

    fn unmount(&mut self, fspath: &Path) -> Result<()> {
        self.calls.push(SysCall::Unmount(fspath.to_path_buf()));
        self.maybe_fail("unmount", fspath.display().to_string())?;
        self.mounted.retain(|p| p != fspath);
        Ok(())
    }

    fn run_newfs(&mut self, argv: &[OsString], loud: bool) -> Result<()> {
        let argv = argv.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        self.calls.push(SysCall::Newfs { argv, loud });
        self.maybe_fail("newfs", "newfs exited with error code 1")
    }

    fn page_size(&self) -> u64 {
        self.page_size
    }

    fn inspect_backing(&self, file: &Path) -> Result<BackingFile> {
        self.files
            .get(file)
            .cloned()
            .ok_or_else(|| Error::sys(format!("could not find full path for {}", file.display()), Errno::ENOENT))
    }

    fn wait_for_node(&mut self, node: &Path) -> Result<()> {
        self.calls.push(SysCall::WaitForNode(node.to_path_buf()));
        self.maybe_fail("wait", node.display().to_string())
    }

    fn resolve_mount_point(&self, mount_point: &Path) -> Result<PathBuf> {
        Ok(mount_point.to_path_buf())
    }

    fn mounted_read_only(&mut self, fspath: &Path) -> Result<bool> {
        self.calls.push(SysCall::ReadOnlyCheck(fspath.to_path_buf()));
        self.maybe_fail("statfs", "statvfs")?;
        Ok(self.read_only_fs)
    }

    fn set_mode(&mut self, fspath: &Path, mode: u32) -> Result<()> {
        self.calls.push(SysCall::SetMode(fspath.to_path_buf(), mode));
        self.maybe_fail("chmod", format!("chmod: {}", fspath.display()))
    }

    fn set_owner(&mut self, fspath: &Path, uid: u32, gid: u32) -> Result<()> {
        self.calls.push(SysCall::SetOwner(fspath.to_path_buf(), uid, gid));
        self.maybe_fail("chown", format!("chown {} to {uid}:{gid}", fspath.display()))
    }

    fn copy_skeleton(&mut self, fspath: &Path, from: &Path) -> Result<()> {
        self.calls.push(SysCall::CopySkeleton { fspath: fspath.to_path_buf(), from: from.to_path_buf() });
        self.maybe_fail("skel", format!("skel copy from {}", from.display()))
    }
}
