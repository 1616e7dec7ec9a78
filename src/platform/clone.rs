//! Making a new image from a base image (`--create --from=BASE`): the
//! engine that fills the new file with the base's bytes, by the cheapest
//! means the system offers.
//!
//! In order:
//! 1. a **clone** of the whole file: Linux `ioctl(FICLONE)` (btrfs, XFS
//!    with reflink, bcachefs, OCFS2; `fs/remap_range.c`
//!    `vfs_clone_file_range`), which shares every block with the base until
//!    one of them is written and takes the same time whatever the size;
//! 2. `copy_file_range(2)` of each data segment: a copy made by the kernel
//!    (on NFS 4.2 and SMB by the server). On FreeBSD this is also how a
//!    clone is made: ZFS implements it by block cloning when the pool has
//!    `feature@block_cloning` and `vfs.zfs.bclone_enabled` is 1
//!    (`zfs_freebsd_copy_file_range`), and copies otherwise;
//! 3. a plain copy of each data segment with pread/pwrite.
//!
//! Steps 2 and 3 copy only what `lseek(SEEK_DATA)`/`lseek(SEEK_HOLE)` report
//! as data, so the holes of a sparse base stay holes in the new image (the
//! way `-k` keeps a sparse file's holes, here without reading the zeros).
//! `--clone=require` ([`Policy::Require`]) stops after step 1 fails instead
//! of copying.
//!
//! The policy ([`make_from_base`]) is generic over [`CloneSys`], the few
//! system calls it needs: [`Kernel`] makes them for real (the raw ones
//! through `posix::sys`), and this file's tests answer them from memory.
#![forbid(unsafe_code)]
use super::extend::off;
use super::posix::{self, sys};
use nix::errno::Errno;
use std::time::{Duration, Instant};

pub use crate::template::Policy;

/// How the new image got the base's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Shares every block with the base (FICLONE; on FreeBSD a
    /// copy_file_range that ZFS block cloning serves).
    Clone,
    /// copy_file_range(2) of the data segments: a copy made in the kernel
    /// (or by a file server), which may itself clone where the file system
    /// does so on its own.
    KernelCopy,
    /// pread/pwrite of the data segments.
    PlainCopy,
}

/// What [`make_from_base`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Made {
    pub method: Method,
    /// Bytes of data the copy moved (0 for a clone).
    pub copied: u64,
    pub took: Duration,
}

impl Made {
    /// The `-X` line: `made from the base in 0.004 s: a clone sharing …`.
    pub fn line(&self) -> String {
        let secs = self.took.as_secs_f64();
        let copy = match self.method {
            Method::Clone => {
                return format!("made from the base in {secs:.3} s: a clone sharing every block with the base")
            }
            Method::KernelCopy => "a copy by copy_file_range (in the kernel or on the file server)",
            Method::PlainCopy => "a plain copy (read and write)",
        };
        format!("made from the base in {secs:.3} s: {copy}, holes kept ({} bytes of data)", self.copied)
    }
}

/// Why [`make_from_base`] failed: nothing it wrote is to be kept (the
/// caller removes the new file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failed {
    /// `--clone=require` and no clone can be made: why, in the system's
    /// words (the clone call's errno).
    NoClone(Errno),
    /// A system call failed: which, and why.
    Io(&'static str, Errno),
    /// A stop signal arrived during the copy (by name).
    Stopped(&'static str),
}

impl Failed {
    /// The message after `<image>: `.
    pub fn text(&self) -> String {
        match self {
            Failed::NoClone(e) => format!(
                "cannot be made a clone of its base ({}), and --clone=require forbids a copy (--clone=auto copies it)",
                crate::error::strerror(*e)
            ),
            Failed::Io(what, e) => format!("making it from its base: {what}: {}", crate::error::strerror(*e)),
            Failed::Stopped(sig) => format!("stopped by {sig} while making it from its base"),
        }
    }
}

/// The system calls [`make_from_base`] makes, on files of type `F`.
pub trait CloneSys {
    type F;
    /// Makes `to` (empty) a clone of all of `from`: Linux `FICLONE`. Where
    /// the system has no such call, `EOPNOTSUPP`.
    fn clone_file(&mut self, from: &Self::F, to: &Self::F) -> Result<(), Errno>;
    /// Whether a copy_file_range from `from` to `to` is served by cloning
    /// blocks (FreeBSD: both on one ZFS pool with block cloning on).
    fn copy_clones(&mut self, _from: &Self::F, _to: &Self::F) -> bool {
        false
    }
    /// copy_file_range(2) of `len` bytes at offset `at` of `from` to the
    /// same offset of `to`: how many bytes it copied (0 at end of file).
    fn copy_range(&mut self, from: &Self::F, to: &Self::F, at: u64, len: u64) -> Result<u64, Errno>;
    /// `lseek(SEEK_DATA)` from `at`: the next data offset, `None` past the
    /// last data (`ENXIO`).
    fn next_data(&mut self, f: &Self::F, at: u64) -> Result<Option<u64>, Errno>;
    /// `lseek(SEEK_HOLE)` from `at` (the end of the file counts as a hole).
    fn next_hole(&mut self, f: &Self::F, at: u64) -> Result<u64, Errno>;
    fn read_at(&mut self, f: &Self::F, buf: &mut [u8], at: u64) -> Result<usize, Errno>;
    fn write_at(&mut self, f: &Self::F, buf: &[u8], at: u64) -> Result<usize, Errno>;
    /// The file's length (fstat).
    fn len(&mut self, f: &Self::F) -> Result<u64, Errno>;
    /// ftruncate(2).
    fn set_len(&mut self, f: &Self::F, len: u64) -> Result<(), Errno>;
    /// A stop signal that arrived meanwhile, by name (looked at between
    /// chunks of a copy).
    fn stop(&mut self) -> Option<&'static str>;
}

/// What a copy moves per call: bounded, so that a stop signal is noticed
/// within a moment even during a long copy.
pub const CHUNK: u64 = 8 << 20;

/// Errors of the clone call that mean "no clone here" (the file system
/// cannot, the two files are on different file systems, the kernel or the
/// file type has no such call), never "it went wrong".
fn no_clone_here(e: Errno) -> bool {
    matches!(e, Errno::EOPNOTSUPP | Errno::ENOTTY | Errno::EXDEV | Errno::EINVAL | Errno::ENOSYS | Errno::EBADF)
}

/// Errors of copy_file_range that mean "use read and write instead" (no
/// such call, not between these files), as coreutils' copy does.
fn no_kernel_copy(e: Errno) -> bool {
    matches!(e, Errno::EOPNOTSUPP | Errno::ENOSYS | Errno::EXDEV | Errno::EINVAL | Errno::EBADF | Errno::ETXTBSY)
}

/// Fills `to`, a new empty file, with `from`'s bytes: a clone where the
/// system can make one, else (with [`Policy::Auto`]) a copy of the data
/// segments that keeps holes, ending at `from`'s length. On failure `to`
/// holds part of it: the caller removes it.
pub fn make_from_base<S: CloneSys>(sys: &mut S, from: &S::F, to: &S::F, policy: Policy) -> Result<Made, Failed> {
    let started = Instant::now();
    let why = match sys.clone_file(from, to) {
        Ok(()) => return Ok(Made { method: Method::Clone, copied: 0, took: started.elapsed() }),
        Err(e) if no_clone_here(e) => e,
        Err(e) => return Err(Failed::Io("clone", e)),
    };
    let clones = sys.copy_clones(from, to);
    if policy == Policy::Require && !clones {
        return Err(Failed::NoClone(why));
    }
    // A copy that clones never falls back to read and write (`plain_ok`
    // is false), and `--clone=require` without one stopped above.
    let len = sys.len(from).map_err(|e| Failed::Io("fstat", e))?;
    let (copied, kernel) = copy_data(sys, from, to, len, !clones)?;
    let (method, copied) = match (clones, kernel) {
        (true, _) => (Method::Clone, 0),
        (false, true) => (Method::KernelCopy, copied),
        (false, false) => (Method::PlainCopy, copied),
    };
    Ok(Made { method, copied, took: started.elapsed() })
}

/// Copies each data segment of `from` (up to `len`) to the same offset of
/// `to` by copy_file_range, falling back to pread/pwrite when the kernel
/// will not (`plain_ok`; otherwise such a refusal is an error), then sets
/// `to`'s length. Returns the bytes copied and whether copy_file_range did
/// all of it.
fn copy_data<S: CloneSys>(
    sys: &mut S,
    from: &S::F,
    to: &S::F,
    len: u64,
    plain_ok: bool,
) -> Result<(u64, bool), Failed> {
    let mut kernel = true;
    let mut copied = 0u64;
    let mut buf = Vec::new();
    let mut at = 0u64;
    while at < len {
        let data = match sys.next_data(from, at) {
            Ok(Some(d)) => d.min(len),
            Ok(None) => break,
            // No SEEK_DATA here: all of it is data.
            Err(Errno::EINVAL) => at,
            Err(e) => return Err(Failed::Io("lseek SEEK_DATA", e)),
        };
        let end = match sys.next_hole(from, data) {
            Ok(h) => h.min(len),
            Err(Errno::EINVAL) => len,
            Err(e) => return Err(Failed::Io("lseek SEEK_HOLE", e)),
        };
        let mut pos = data;
        while pos < end {
            if let Some(sig) = sys.stop() {
                return Err(Failed::Stopped(sig));
            }
            let want = (end - pos).min(CHUNK);
            let n = if kernel {
                match sys.copy_range(from, to, pos, want) {
                    Ok(n) => n,
                    Err(e) if plain_ok && copied == 0 && no_kernel_copy(e) => {
                        kernel = false;
                        continue;
                    }
                    Err(e) => return Err(Failed::Io("copy_file_range", e)),
                }
            } else {
                plain_chunk(sys, from, to, pos, want, &mut buf)?
            };
            if n == 0 {
                // The base got shorter meanwhile: it is in use.
                return Err(Failed::Io("copy", Errno::EIO));
            }
            pos += n;
            copied += n;
        }
        at = end;
    }
    sys.set_len(to, len).map_err(|e| Failed::Io("ftruncate", e))?;
    Ok((copied, kernel))
}

fn plain_chunk<S: CloneSys>(
    sys: &mut S,
    from: &S::F,
    to: &S::F,
    pos: u64,
    want: u64,
    buf: &mut Vec<u8>,
) -> Result<u64, Failed> {
    let want = usize::try_from(want).unwrap_or(usize::MAX).min(1 << 20);
    buf.resize(want, 0);
    let n = loop {
        match sys.read_at(from, &mut buf[..want], pos) {
            Err(Errno::EINTR) => continue,
            r => break r.map_err(|e| Failed::Io("read", e))?,
        }
    };
    let mut done = 0;
    while done < n {
        match sys.write_at(to, &buf[done..n], pos + done as u64) {
            Ok(0) => return Err(Failed::Io("write", Errno::EIO)),
            Ok(w) => done += w,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(Failed::Io("write", e)),
        }
    }
    Ok(n as u64)
}

/// Gives the file system on `device` (whose first bytes are `start`) an
/// identity of its own ([`crate::template::new_identity`]), by the
/// program `find` locates (absolute path, cleared environment, output
/// captured). Returns the program's name, or `None` when nothing was to
/// be done. `image` names the image in messages.
pub fn give_new_identity(
    device: &std::path::Path,
    start: &[u8],
    find: impl Fn(&str) -> crate::error::Result<std::path::PathBuf>,
    image: &str,
) -> crate::error::Result<Option<&'static str>> {
    use crate::template::{new_identity, Identity};
    let Identity::Run { program, args } = new_identity(start) else { return Ok(None) };
    let path = find(program)?;
    let argv: Vec<std::ffi::OsString> = args.iter().map(Into::into).chain([device.into()]).collect();
    posix::run_fed(&path, &argv, std::process::Stdio::null(), format!("{program} on {image}"))?;
    Ok(Some(program))
}

/// The real system calls, on open files; stop signals are looked at
/// between chunks ([`crate::platform::posix::pending_stop`]).
#[derive(Debug)]
pub struct Kernel;

impl CloneSys for Kernel {
    type F = std::os::fd::OwnedFd;

    #[cfg(target_os = "linux")]
    fn clone_file(&mut self, from: &Self::F, to: &Self::F) -> Result<(), Errno> {
        use std::os::fd::AsFd;
        sys::ficlone(from.as_fd(), to.as_fd())
    }

    #[cfg(not(target_os = "linux"))]
    fn clone_file(&mut self, _from: &Self::F, _to: &Self::F) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    #[cfg(target_os = "freebsd")]
    fn copy_clones(&mut self, from: &Self::F, to: &Self::F) -> bool {
        freebsd_zfs_clones(from, to)
    }

    fn copy_range(&mut self, from: &Self::F, to: &Self::F, at: u64, len: u64) -> Result<u64, Errno> {
        #[cfg(any(target_os = "linux", target_os = "freebsd"))]
        {
            use std::os::fd::AsFd;
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            loop {
                match sys::copy_file_range(from.as_fd(), to.as_fd(), off(at)?, len) {
                    Err(Errno::EINTR) => continue,
                    r => return r.map(|n| n as u64),
                }
            }
        }
        #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
        {
            let _ = (from, to, at, len);
            Err(Errno::ENOSYS)
        }
    }

    fn next_data(&mut self, f: &Self::F, at: u64) -> Result<Option<u64>, Errno> {
        match nix::unistd::lseek(f, off(at)?, nix::unistd::Whence::SeekData) {
            Ok(p) => Ok(Some(p as u64)),
            Err(Errno::ENXIO) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn next_hole(&mut self, f: &Self::F, at: u64) -> Result<u64, Errno> {
        nix::unistd::lseek(f, off(at)?, nix::unistd::Whence::SeekHole).map(|p| p as u64)
    }

    fn read_at(&mut self, f: &Self::F, buf: &mut [u8], at: u64) -> Result<usize, Errno> {
        nix::sys::uio::pread(f, buf, off(at)?)
    }

    fn write_at(&mut self, f: &Self::F, buf: &[u8], at: u64) -> Result<usize, Errno> {
        nix::sys::uio::pwrite(f, buf, off(at)?)
    }

    fn len(&mut self, f: &Self::F) -> Result<u64, Errno> {
        #[allow(clippy::unnecessary_cast)]
        nix::sys::stat::fstat(f).map(|st| st.st_size as u64)
    }

    fn set_len(&mut self, f: &Self::F, len: u64) -> Result<(), Errno> {
        nix::unistd::ftruncate(f, off(len)?)
    }

    fn stop(&mut self) -> Option<&'static str> {
        posix::pending_stop()
    }
}

/// FreeBSD: whether copy_file_range between these two files is served by
/// ZFS block cloning: both on one ZFS pool (`zfs_pool`), and
/// `vfs.zfs.bclone_enabled` is 1 (`zfs_freebsd_copy_file_range` in
/// `sys/contrib/openzfs/module/os/freebsd/zfs/zfs_vnops_os.c` clones only
/// then). The pool's `feature@block_cloning` cannot be read without
/// libzfs: where it is off ZFS copies instead, and says nothing.
#[cfg(target_os = "freebsd")]
fn freebsd_zfs_clones(from: &std::os::fd::OwnedFd, to: &std::os::fd::OwnedFd) -> bool {
    let same_pool = matches!((zfs_pool(from), zfs_pool(to)), (Some(a), Some(b)) if a == b);
    same_pool && sys::sysctl_int(c"vfs.zfs.bclone_enabled") == Some(1)
}

/// The ZFS pool the file `fd` is on (fstatfs(2): `f_fstypename` "zfs",
/// the pool is `f_mntfromname` up to its first `/`), or `None`.
#[cfg(target_os = "freebsd")]
fn zfs_pool(fd: &std::os::fd::OwnedFd) -> Option<Vec<u8>> {
    use std::os::fd::AsFd;
    let (fstype, from) = sys::fstatfs_names(fd.as_fd())?;
    (fstype == b"zfs").then(|| from.split(|&b| b == b'/').next().unwrap_or_default().to_vec())
}

/// Refuses `base` (opened, its identity `id`) when a unit has it attached
/// read-write ([`crate::template::in_use`]), from the units and mounts `p` reports.
pub fn refuse_in_use<P: super::Platform + ?Sized>(
    p: &mut P,
    base: &std::path::Path,
    id: crate::unit::FileId,
) -> crate::error::Result<()> {
    let units = p.units(super::Which::All)?;
    let mounts = if units.iter().any(|u| u.backing == Some(id)) { p.mounts()? } else { Vec::new() };
    crate::template::in_use(id, &units, &mounts)
        .map_or(Ok(()), |why| Err(crate::error::Error::text(crate::error::quoted(base), why)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A file: its length and its data extents (offset → bytes).
    #[derive(Default, Clone, Debug)]
    struct MemFile {
        len: u64,
        data: BTreeMap<u64, Vec<u8>>,
    }

    impl MemFile {
        fn byte(&self, at: u64) -> u8 {
            let last = self.data.range(..=at).next_back();
            last.and_then(|(o, d)| d.get((at - o) as usize)).copied().unwrap_or(0)
        }
    }

    /// Files by number; what each call does is counted.
    #[derive(Default)]
    struct Mem {
        files: Vec<MemFile>,
        clone: Option<Errno>,
        range: Option<Errno>,
        clones_on_copy: bool,
        calls: Vec<&'static str>,
        stop_after: Option<usize>,
    }

    impl CloneSys for Mem {
        type F = usize;
        fn clone_file(&mut self, from: &usize, to: &usize) -> Result<(), Errno> {
            self.calls.push("clone");
            if let Some(e) = self.clone {
                return Err(e);
            }
            self.files[*to] = self.files[*from].clone();
            Ok(())
        }
        fn copy_clones(&mut self, _: &usize, _: &usize) -> bool {
            self.clones_on_copy
        }
        fn copy_range(&mut self, from: &usize, to: &usize, at: u64, len: u64) -> Result<u64, Errno> {
            self.calls.push("copy_range");
            if let Some(e) = self.range {
                return Err(e);
            }
            let bytes: Vec<u8> = (at..at + len).map(|i| self.files[*from].byte(i)).collect();
            self.files[*to].data.insert(at, bytes);
            Ok(len)
        }
        fn next_data(&mut self, f: &usize, at: u64) -> Result<Option<u64>, Errno> {
            let file = &self.files[*f];
            Ok(file.data.iter().find(|(o, d)| *o + d.len() as u64 > at).map(|(o, _)| (*o).max(at)))
        }
        fn next_hole(&mut self, f: &usize, at: u64) -> Result<u64, Errno> {
            let file = &self.files[*f];
            let mut end = at;
            for (o, d) in &file.data {
                if *o <= end && o + d.len() as u64 > end {
                    end = o + d.len() as u64;
                }
            }
            Ok(end.min(file.len))
        }
        fn read_at(&mut self, f: &usize, buf: &mut [u8], at: u64) -> Result<usize, Errno> {
            self.calls.push("read");
            for (i, b) in buf.iter_mut().enumerate() {
                *b = self.files[*f].byte(at + i as u64);
            }
            Ok(buf.len())
        }
        fn write_at(&mut self, f: &usize, buf: &[u8], at: u64) -> Result<usize, Errno> {
            self.files[*f].data.insert(at, buf.to_vec());
            Ok(buf.len())
        }
        fn len(&mut self, f: &usize) -> Result<u64, Errno> {
            Ok(self.files[*f].len)
        }
        fn set_len(&mut self, f: &usize, len: u64) -> Result<(), Errno> {
            self.files[*f].len = len;
            Ok(())
        }
        fn stop(&mut self) -> Option<&'static str> {
            let n = self.calls.len();
            self.stop_after.filter(|s| n >= *s).map(|_| "SIGTERM")
        }
    }

    /// A 64 MiB base with two data extents, and an empty new file.
    fn mem() -> Mem {
        let mut base = MemFile { len: 64 << 20, ..Default::default() };
        base.data.insert(4096, vec![7; 4096]);
        base.data.insert(32 << 20, vec![9; 3 * 4096]);
        Mem { files: vec![base, MemFile::default()], ..Default::default() }
    }

    fn make(m: &mut Mem, policy: Policy) -> Result<Made, Failed> {
        make_from_base(m, &0, &1, policy)
    }

    fn same(m: &Mem) {
        let (a, b) = (&m.files[0], &m.files[1]);
        assert_eq!(a.len, b.len);
        for at in [0, 4095, 4096, 8191, 8192, 32 << 20, (32 << 20) + 3 * 4096 - 1, (32 << 20) + 3 * 4096] {
            assert_eq!(a.byte(at), b.byte(at), "byte {at}");
        }
    }

    #[test]
    fn a_clone_first() {
        let mut m = mem();
        let made = make(&mut m, Policy::Require).unwrap();
        assert_eq!((made.method, made.copied, m.files[1].len), (Method::Clone, 0, 64 << 20));
        assert_eq!(m.calls, ["clone"]);
        same(&m);
    }

    #[test]
    fn else_a_kernel_copy_of_the_data_only() {
        let mut m = Mem { clone: Some(Errno::EOPNOTSUPP), ..mem() };
        let made = make(&mut m, Policy::Auto).unwrap();
        assert_eq!((made.method, made.copied), (Method::KernelCopy, 4 * 4096));
        assert_eq!(m.calls, ["clone", "copy_range", "copy_range"]);
        same(&m);
        // Holes stay holes: only the two extents were written.
        assert_eq!(m.files[1].data.len(), 2);
    }

    #[test]
    fn else_a_plain_copy_of_the_data_only() {
        let mut m = Mem { clone: Some(Errno::EXDEV), range: Some(Errno::EXDEV), ..mem() };
        let made = make(&mut m, Policy::Auto).unwrap();
        assert_eq!((made.method, made.copied), (Method::PlainCopy, 4 * 4096));
        assert_eq!(m.calls, ["clone", "copy_range", "read", "read"]);
        same(&m);
        assert!(made.line().ends_with("holes kept (16384 bytes of data)"), "{}", made.line());
    }

    #[test]
    fn require_refuses_to_copy() {
        let mut m = Mem { clone: Some(Errno::EOPNOTSUPP), ..mem() };
        let e = make(&mut m, Policy::Require).unwrap_err();
        assert_eq!(e, Failed::NoClone(Errno::EOPNOTSUPP));
        assert_eq!(m.calls, ["clone"], "nothing copied");
    }

    #[test]
    fn a_copy_the_file_system_serves_by_cloning_is_a_clone() {
        // FreeBSD on ZFS with block cloning: copy_file_range clones.
        let mut m = Mem { clone: Some(Errno::EOPNOTSUPP), clones_on_copy: true, ..mem() };
        let made = make(&mut m, Policy::Require).unwrap();
        assert_eq!((made.method, made.copied), (Method::Clone, 0));
        same(&m);
        // ... but one that falls back to read and write is not.
        let mut m = Mem { clone: Some(Errno::EOPNOTSUPP), range: Some(Errno::EXDEV), clones_on_copy: true, ..mem() };
        assert_eq!(make(&mut m, Policy::Require).unwrap_err(), Failed::Io("copy_file_range", Errno::EXDEV));
    }

    #[test]
    fn real_errors_stop_it() {
        let mut m = Mem { clone: Some(Errno::EIO), ..mem() };
        assert_eq!(make(&mut m, Policy::Auto).unwrap_err(), Failed::Io("clone", Errno::EIO));
        let mut m = Mem { clone: Some(Errno::EOPNOTSUPP), range: Some(Errno::ENOSPC), ..mem() };
        assert_eq!(make(&mut m, Policy::Auto).unwrap_err(), Failed::Io("copy_file_range", Errno::ENOSPC));
    }

    #[test]
    fn a_stop_signal_ends_the_copy() {
        let mut m = Mem { clone: Some(Errno::EOPNOTSUPP), stop_after: Some(2), ..mem() };
        let e = make(&mut m, Policy::Auto).unwrap_err();
        assert_eq!(e, Failed::Stopped("SIGTERM"));
        assert_eq!(e.text(), "stopped by SIGTERM while making it from its base");
    }

    #[test]
    fn an_empty_or_all_hole_base() {
        let mut m = Mem { clone: Some(Errno::EOPNOTSUPP), ..mem() };
        m.files[0].data.clear();
        let made = make(&mut m, Policy::Auto).unwrap();
        assert_eq!((made.copied, m.files[1].len), (0, 64 << 20));
    }
}
