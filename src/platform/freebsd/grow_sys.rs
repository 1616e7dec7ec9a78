//! The real system calls behind [`super::grow::GrowSys`] (FreeBSD only):
//! MDIOCRESIZE and MDIOCQUERY on /dev/mdctl, the growfs exec, statvfs.
use super::abi::{self, MdIoctl};
use super::grow::{GrowSys, ResizeRequest};
use super::OpenedImage;
use crate::error::{from_io, Error, Result};
use crate::platform::extend;
use nix::errno::Errno;
use std::ffi::OsString;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// Where growfs may look for what it runs; nothing from the caller.
const PATH: &str = "/sbin:/bin:/usr/sbin:/usr/bin";

#[derive(Debug, Default)]
pub struct KernelGrow {
    ctl: Option<File>,
}

impl KernelGrow {
    pub fn new() -> Self {
        KernelGrow { ctl: None }
    }

    fn ioctl(&mut self, request: libc::c_ulong, name: &str, mdio: &mut MdIoctl) -> Result<()> {
        if self.ctl.is_none() {
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_CLOEXEC)
                .open(abi::MDCTL_PATH)
                .map_err(|e| from_io(abi::MDCTL_PATH, &e))?;
            self.ctl = Some(f);
        }
        let fd = self.ctl.as_ref().expect("opened above").as_raw_fd();
        // SAFETY: `mdio` is a live struct md_ioctl of the size encoded in
        // `request` (asserted in abi.rs); its pointers are null or point to
        // buffers the caller keeps alive for the call.
        let r = unsafe { libc::ioctl(fd, request, mdio as *mut MdIoctl) };
        if r == -1 {
            return Err(Error::sys(format!("ioctl({}, {name})", abi::MDCTL_PATH), Errno::last()));
        }
        Ok(())
    }
}

impl GrowSys for KernelGrow {
    fn resize(&mut self, req: &ResizeRequest) -> Result<()> {
        let mut mdio = super::grow::resize_mdio(req)?;
        self.ioctl(abi::MDIOCRESIZE, "MDIOCRESIZE", &mut mdio)
            .map_err(|e| Error { what: format!("resize /dev/md{}", req.unit), why: e.why })
    }

    /// MDIOCQUERY's `md_label`, through the backend's own query.
    fn label(&mut self, unit: u32) -> Result<Vec<u8>> {
        use super::MdSys;
        Ok(super::sys::Kernel::new().query(unit)?.label.unwrap_or_default())
    }

    fn run_program(&mut self, argv: &[OsString]) -> Result<()> {
        let shown = super::requests::show_argv(argv);
        let (prog, args) = argv.split_first().ok_or_else(|| Error::plain("empty argv"))?;
        let out = Command::new(prog)
            .args(args)
            .env_clear()
            .env("PATH", PATH)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| from_io(format!("exec: {}", prog.to_string_lossy()), &e))?;
        if out.status.success() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let text = if text.is_empty() { format!("exited with status {:?}", out.status.code()) } else { text };
        Err(Error::text(shown, text))
    }

    fn extend(&mut self, image: &OpenedImage, from: u64, to: u64) -> Result<()> {
        let h = image.handle.as_ref().ok_or_else(|| Error::plain("internal error: image not open"))?;
        extend::allocate_range(&h.fd, from, to, &image.path.display().to_string())
    }

    fn truncate(&mut self, image: &OpenedImage, len: u64) -> Result<()> {
        let h = image.handle.as_ref().ok_or_else(|| Error::plain("internal error: image not open"))?;
        extend::truncate(&h.fd, len, &image.path.display().to_string())
    }

    fn used(&mut self, on: &Path) -> Option<u64> {
        let v = nix::sys::statvfs::statvfs(on).ok()?;
        #[allow(clippy::unnecessary_cast)]
        Some((v.blocks() as u64).saturating_sub(v.blocks_free() as u64) * v.fragment_size() as u64)
    }
}
