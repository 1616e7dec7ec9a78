//! The real system calls behind [`super::grow::GrowSys`] (FreeBSD only):
//! MDIOCRESIZE and MDIOCQUERY on /dev/mdctl, the growfs exec, statvfs.
use super::abi;
use super::grow::{GrowSys, ResizeRequest};
use super::OpenedImage;
use crate::error::{Error, Result};
use crate::platform::{extend, posix};
use std::ffi::OsString;
use std::path::Path;

/// The grow operations over the backend's own /dev/mdctl handle
/// ([`super::sys::Kernel`]): one descriptor, one ioctl wrapper.
#[derive(Debug, Default)]
pub struct KernelGrow {
    kernel: super::sys::Kernel,
}

impl KernelGrow {
    pub fn new() -> Self {
        Self::default()
    }
}

impl GrowSys for KernelGrow {
    fn resize(&mut self, req: &ResizeRequest) -> Result<()> {
        let mut mdio = super::grow::resize_mdio(req)?;
        self.kernel
            .ioctl(abi::MDIOCRESIZE, "MDIOCRESIZE", &mut mdio)
            .map_err(|e| Error { what: format!("resize /dev/md{}", req.unit), why: e.why })
    }

    /// MDIOCQUERY's `md_label`, through the backend's own query.
    fn label(&mut self, unit: u32) -> Result<Vec<u8>> {
        use super::MdSys;
        Ok(self.kernel.query(unit)?.label.unwrap_or_default())
    }

    /// As newfs is run ([`posix::run_captured`]: argument vector, cleared
    /// environment, dies with mount_md); its output, on one line, becomes
    /// the error.
    fn run_program(&mut self, argv: &[OsString]) -> Result<()> {
        let (prog, args) = argv.split_first().ok_or_else(|| Error::plain("empty argv"))?;
        let done = posix::run_captured(Path::new(prog), args, false)
            .map_err(|e| Error { what: format!("exec: {}", prog.to_string_lossy()), ..e })?;
        if done.status.success() {
            return Ok(());
        }
        Err(Error::text(super::requests::show_argv(argv), posix::failure_line(&done)))
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
