//! The real system operations on FreeBSD: md(4) ioctls on /dev/mdctl,
//! nmount(2), unmount(2), and the exec of /sbin/newfs. The `unsafe` blocks
//! of the FreeBSD backend are here (MDIOCRESIZE for `-r` too); the POSIX
//! calls both systems share are in `platform::posix`.
use super::abi::{self, MdIoctl};
use super::geom::{parse_confxml, MdUnit, MountEntry, UnitQuery};
use super::requests::{device_path, AttachRequest, IoValue, NmountRequest, ERRMSG_LEN};
use super::MdSys;
use crate::error::{from_io, Error, Result};
use crate::platform::posix::{self, sys::c_chars};
use libc::{c_char, c_int, c_uint, c_void};
use nix::errno::Errno;
use std::ffi::{CStr, CString, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

extern "C" {
    // FreeBSD system calls (libc), not bound by the libc crate.
    fn modfind(modname: *const c_char) -> c_int;
    fn kldload(file: *const c_char) -> c_int;
}

/// The kernel, through /dev/mdctl and the mount syscalls.
#[derive(Debug, Default)]
pub struct Kernel {
    ctl: Option<File>,
}

impl Kernel {
    /// /dev/mdctl, opened read-write once; if it is missing, geom_md is
    /// loaded first, as mdconfig(8) does.
    fn ctl(&mut self) -> Result<&File> {
        if self.ctl.is_none() {
            let open = || {
                std::fs::OpenOptions::new().read(true).write(true).custom_flags(libc::O_CLOEXEC).open(abi::MDCTL_PATH)
            };
            let f = match open() {
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    load_geom_md()?;
                    open()
                }
                other => other,
            }
            .map_err(|e| from_io(abi::MDCTL_PATH, &e))?;
            self.ctl = Some(f);
        }
        Ok(self.ctl.as_ref().expect("opened above"))
    }

    pub(super) fn ioctl(&mut self, request: libc::c_ulong, name: &str, mdio: &mut MdIoctl) -> Result<()> {
        let fd = self.ctl()?.as_raw_fd();
        // SAFETY: `mdio` is a live, properly laid out struct md_ioctl (its
        // size is encoded in `request` and asserted in abi.rs); the pointers
        // it holds point to buffers the caller keeps alive for this call.
        let r = unsafe { libc::ioctl(fd, request, mdio as *mut MdIoctl) };
        Errno::result(r).map(drop).map_err(|e| Error::sys(format!("ioctl({}, {name})", abi::MDCTL_PATH), e))
    }
}

/// `fsid_t`'s two ints (`val[2]` in sys/sys/types.h; libc keeps the field
/// private).
fn fsid_val(f: &libc::fsid_t) -> [i32; 2] {
    const _: () = assert!(std::mem::size_of::<libc::fsid_t>() == std::mem::size_of::<[i32; 2]>());
    // SAFETY: fsid_t is `int32_t val[2]` (asserted to be that size above);
    // reading it as that array reads exactly its bytes.
    unsafe { std::ptr::read_unaligned((f as *const libc::fsid_t).cast::<[i32; 2]>()) }
}

/// A string-valued sysctl, read whole as bytes (asking again if it grew
/// meanwhile).
fn sysctl_bytes(name: &str) -> Result<Vec<u8>> {
    let cname = CString::new(name).expect("no NUL");
    loop {
        let mut len: libc::size_t = 0;
        // SAFETY: a size query: no buffer, `len` receives the size.
        let r = unsafe { libc::sysctlbyname(cname.as_ptr(), std::ptr::null_mut(), &mut len, std::ptr::null(), 0) };
        Errno::result(r).map_err(|e| Error::sys(format!("sysctl {name}"), e))?;
        let mut buf = vec![0u8; len + len / 4 + 4096];
        let mut got = buf.len();
        // SAFETY: `buf` is `got` bytes long and outlives the call; the
        // kernel writes at most `got` bytes and stores the count in `got`.
        let r = unsafe {
            libc::sysctlbyname(cname.as_ptr(), buf.as_mut_ptr().cast::<c_void>(), &mut got, std::ptr::null(), 0)
        };
        match Errno::result(r) {
            Ok(_) => {}
            Err(Errno::ENOMEM) => continue,
            Err(e) => return Err(Error::sys(format!("sysctl {name}"), e)),
        }
        buf.truncate(got);
        if buf.last() == Some(&0) {
            buf.pop();
        }
        return Ok(buf);
    }
}

/// `kld_isloaded("g_md") || kld_load("geom_md")`.
fn load_geom_md() -> Result<()> {
    // SAFETY: both are valid NUL-terminated static strings.
    if unsafe { modfind(abi::GEOM_MD_MODULE.as_ptr()) } != -1 {
        return Ok(());
    }
    // SAFETY: as above.
    match Errno::result(unsafe { kldload(abi::GEOM_MD_FILE.as_ptr()) }) {
        Err(e) if e != Errno::EEXIST => Err(Error::sys("failed to load geom_md module", e)),
        _ => Ok(()),
    }
}

impl MdSys for Kernel {
    type Pin = Option<(OwnedFd, OsString)>;
    type Root = OwnedFd;

    /// The parent of the realpath, walked with no symlink in any component
    /// (`None` for `/`).
    fn pin_mount_point(&mut self, fspath: &Path) -> Result<Self::Pin> {
        match (fspath.parent(), fspath.file_name()) {
            (Some(parent), Some(name)) => Ok(Some((posix::open_dir_no_symlinks(parent)?, name.to_os_string()))),
            _ => Ok(None),
        }
    }

    fn open_mounted_root(&mut self, pin: Self::Pin, fspath: &Path) -> Result<OwnedFd> {
        match &pin {
            Some((parent, name)) => {
                posix::open_dir_at(parent, name.as_os_str()).map_err(|e| Error::sys(fspath.display().to_string(), e))
            }
            None => posix::open_root(fspath),
        }
    }

    fn mounted_read_only(&mut self, root: &OwnedFd, _fspath: &Path) -> Result<bool> {
        posix::is_read_only(root)
    }

    fn set_mode(&mut self, root: &OwnedFd, fspath: &Path, mode: u32) -> Result<()> {
        posix::set_mode(root, fspath, mode)
    }

    fn set_owner(&mut self, root: &OwnedFd, fspath: &Path, uid: u32, gid: u32) -> Result<()> {
        posix::set_owner(root, fspath, uid, gid)
    }

    fn copy_skeleton(&mut self, root: &OwnedFd, fspath: &Path, from: &Path) -> Result<()> {
        posix::copy_skeleton(from, root, fspath)
    }

    fn lock_image(&mut self, path: &Path, id: crate::platform::FileId) -> Result<Option<crate::platform::ImageLock>> {
        Ok(posix::lock_existing(path, id)?
            .map(|(fd, waited)| crate::platform::ImageLock { waited, guard: Box::new(fd) }))
    }

    fn unfinished_copy(&mut self, fspath: &Path) -> Result<Option<OwnedFd>> {
        let root = posix::open_root(fspath)?;
        Ok(posix::unfinished_copy(&root).then_some(root))
    }

    fn attach(&mut self, req: &AttachRequest) -> Result<u32> {
        let mut file: Option<Vec<u8>> = req.file.as_ref().map(|f| f.as_bytes_with_nul().to_vec());
        // mdconfig hands the kernel a zeroed PATH_MAX label buffer.
        let mut label = req.label.as_ref().map_or_else(|| vec![0; abi::PATH_MAX], |l| l.as_bytes_with_nul().to_vec());
        let mut mdio = MdIoctl {
            md_type: req.md_type,
            md_file: file.as_mut().map_or(std::ptr::null_mut(), |f| f.as_mut_ptr().cast::<c_char>()),
            md_label: label.as_mut_ptr().cast::<c_char>(),
            ..MdIoctl::new(req.unit, req.options, req.mediasize)?
        };
        self.ioctl(abi::MDIOCATTACH, "MDIOCATTACH", &mut mdio)?;
        Ok(mdio.md_unit)
    }

    fn detach(&mut self, unit: u32, force: bool) -> Result<()> {
        let mut mdio = MdIoctl::new(unit, if force { abi::MD_FORCE } else { 0 }, 0)?;
        self.ioctl(abi::MDIOCDETACH, "MDIOCDETACH", &mut mdio)
            .map_err(|e| Error { what: format!("detach /dev/md{unit}"), ..e })
    }

    fn query(&mut self, unit: u32) -> Result<UnitQuery> {
        // The kernel copies a vnode unit's path and the label out
        // (md.c `kern_mdquery_locked`): PATH_MAX buffers, as mdconfig's.
        let mut file = vec![0u8; abi::PATH_MAX];
        let mut label = vec![0u8; abi::PATH_MAX];
        let mut mdio = MdIoctl {
            md_file: file.as_mut_ptr().cast::<c_char>(),
            md_label: label.as_mut_ptr().cast::<c_char>(),
            ..MdIoctl::new(unit, 0, 0)?
        };
        self.ioctl(abi::MDIOCQUERY, "MDIOCQUERY", &mut mdio)
            .map_err(|e| Error { what: format!("query /dev/md{unit}"), ..e })?;
        let path = CStr::from_bytes_until_nul(&file).map(|c| c.to_bytes().to_vec()).unwrap_or_default();
        Ok(UnitQuery {
            md_type: mdio.md_type,
            options: mdio.md_options,
            mediasize: u64::try_from(mdio.md_mediasize).unwrap_or(0),
            sectorsize: mdio.md_sectorsize,
            file: (!path.is_empty()).then(|| PathBuf::from(OsString::from_vec(path))),
            label: CStr::from_bytes_until_nul(&label).ok().map(|c| c.to_bytes().to_vec()),
        })
    }

    fn disk_ident(&mut self, unit: u32) -> Result<String> {
        let node = device_path(unit);
        let what = || format!("ioctl({}, DIOCGIDENT)", node.display());
        let dev = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(&node)
            .map_err(|e| from_io(node.display().to_string(), &e))?;
        let mut ident = [0u8; abi::DISK_IDENT_SIZE];
        // SAFETY: DIOCGIDENT writes at most DISK_IDENT_SIZE bytes (encoded in
        // the request) into `ident`, which outlives the call.
        let r = unsafe { libc::ioctl(dev.as_raw_fd(), abi::DIOCGIDENT, ident.as_mut_ptr()) };
        Errno::result(r).map_err(|e| Error::sys(what(), e))?;
        let text = CStr::from_bytes_until_nul(&ident).map_err(|_| Error::text(what(), "ident not terminated"))?;
        Ok(text.to_string_lossy().into_owned())
    }

    fn list_units(&mut self) -> Result<Vec<MdUnit>> {
        Ok(parse_confxml(sysctl_bytes("kern.geom.confxml")?))
    }

    fn geli_layers(&mut self) -> Result<Vec<super::eli::EliProvider>> {
        Ok(super::eli::eli_providers(sysctl_bytes("kern.geom.confxml")?))
    }

    fn mounts(&mut self) -> Result<Vec<MountEntry>> {
        let mut cap = 32usize;
        loop {
            // SAFETY: struct statfs is plain data; all zeros is a valid value.
            let mut buf: Vec<libc::statfs> = (0..cap).map(|_| unsafe { std::mem::zeroed() }).collect();
            let bytes = (cap * std::mem::size_of::<libc::statfs>()) as libc::c_long;
            // SAFETY: `buf` holds `cap` structs, exactly `bytes` long; the
            // kernel writes at most that many.
            let n = unsafe { libc::getfsstat(buf.as_mut_ptr(), bytes, libc::MNT_NOWAIT) };
            let n = Errno::result(n).map_err(|e| Error::sys("getfsstat", e))? as usize;
            if n >= cap {
                cap = n * 2;
                continue; // mounts were added meanwhile: ask again
            }
            return Ok(buf[..n]
                .iter()
                .map(|f| MountEntry {
                    from: PathBuf::from(OsString::from_vec(c_chars(&f.f_mntfromname))),
                    on: PathBuf::from(OsString::from_vec(c_chars(&f.f_mntonname))),
                    fstype: String::from_utf8_lossy(&c_chars(&f.f_fstypename)).into_owned(),
                    #[allow(clippy::unnecessary_cast)]
                    flags: f.f_flags as u64,
                    fsid: fsid_val(&f.f_fsid),
                })
                .collect());
        }
    }

    fn device_name(&mut self, node: &Path) -> Result<Option<String>> {
        let st = match nix::sys::stat::stat(node) {
            Ok(st) => st,
            Err(Errno::ENOENT | Errno::ENOTDIR) => return Ok(None),
            Err(e) => return Err(Error::sys(node.display().to_string(), e)),
        };
        if st.st_mode & libc::S_IFMT != libc::S_IFCHR {
            return Ok(None);
        }
        let mut buf = [0 as c_char; 64];
        // SAFETY: `buf` is 64 bytes and outlives the call; devname_r writes
        // at most that many, NUL included, and returns `buf` or NULL.
        let p = unsafe { libc::devname_r(st.st_rdev, libc::S_IFCHR, buf.as_mut_ptr(), buf.len() as c_int) };
        if p.is_null() {
            return Ok(None);
        }
        Ok(Some(String::from_utf8_lossy(&c_chars(&buf)).into_owned()))
    }

    fn nmount(&mut self, req: &NmountRequest) -> Result<()> {
        let mut errmsg = [0u8; ERRMSG_LEN];
        let mut iov: Vec<libc::iovec> = Vec::with_capacity(req.iov.len() * 2);
        let text = |t: &CStr| libc::iovec { iov_base: t.as_ptr() as *mut c_void, iov_len: t.to_bytes_with_nul().len() };
        for (name, value) in &req.iov {
            iov.push(text(name));
            iov.push(match value {
                IoValue::Flag => libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 },
                IoValue::Text(t) => text(t),
                IoValue::Errmsg => {
                    libc::iovec { iov_base: errmsg.as_mut_ptr().cast::<c_void>(), iov_len: errmsg.len() }
                }
            });
        }
        // SAFETY: every iovec points into `req` or `errmsg`, both alive
        // until the call returns; only errmsg is written, within its length.
        let r = unsafe { libc::nmount(iov.as_mut_ptr(), iov.len() as c_uint, req.flags_arg()) };
        Errno::result(r).map(drop).map_err(|errno| match CStr::from_bytes_until_nul(&errmsg) {
            Ok(text) if !text.is_empty() => Error::explained(req.from(), text.to_string_lossy(), errno),
            _ => Error::sys(req.from(), errno),
        })
    }

    fn unmount(&mut self, fspath: &Path, force: bool) -> Result<()> {
        let p = CString::new(fspath.as_os_str().as_bytes())
            .map_err(|_| Error::text(format!("unmount of {}", crate::error::quoted(fspath)), "contains a NUL byte"))?;
        unmount(&p, 0, force, fspath)
    }

    fn unmount_fsid(&mut self, fsid: [i32; 2], on: &Path, force: bool) -> Result<()> {
        let p = CString::new(format!("FSID:{}:{}", fsid[0], fsid[1])).expect("no NUL");
        unmount(&p, libc::MNT_BYFSID, force, on)
    }

    fn resize(&mut self, req: &super::grow::ResizeRequest) -> Result<()> {
        // Every pointer null: resize reads no file or label.
        let mut mdio = MdIoctl::new(req.unit, req.options, req.mediasize)?;
        self.ioctl(abi::MDIOCRESIZE, "MDIOCRESIZE", &mut mdio)
            .map_err(|e| Error { what: format!("resize /dev/md{}", req.unit), ..e })
    }

    fn run_newfs(&mut self, argv: &[OsString], loud: bool) -> Result<()> {
        posix::succeeded(super::mdsys::exec(argv, loud)?, "newfs", "newfs".into()).map(drop)
    }
}

/// unmount(2) of `target`: a path, or with `MNT_BYFSID` in `flags` an
/// `FSID:` string; `on` names the mount in messages.
fn unmount(target: &CStr, flags: c_int, force: bool, on: &Path) -> Result<()> {
    let flags = flags | if force { libc::MNT_FORCE } else { 0 };
    // SAFETY: `target` is a valid NUL-terminated string.
    let r = unsafe { libc::unmount(target.as_ptr(), flags) };
    Errno::result(r).map(drop).map_err(|e| Error::sys(format!("unmount of {}", crate::error::quoted(on)), e))
}
