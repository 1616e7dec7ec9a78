//! Allocating an image's bytes, the same for `--create=reserve` and for
//! `-r`'s new tail on Linux and FreeBSD ([`reserve`]), so the space the
//! bigger image promises is there where zeros are stored as data. On ZFS
//! it is not (copy-on-write allocates anew at every write, and compression
//! stores zeros as holes; `--create=reserve` is refused there, see
//! `posix::NO_RESERVE_ON_ZFS`): the grown tail is written, not held.
use crate::error::{Error, Result};
use nix::errno::Errno;
use std::os::fd::OwnedFd;

/// A file offset or length as `off_t`: EFBIG past what it holds.
pub fn off(n: u64) -> std::result::Result<libc::off_t, Errno> {
    libc::off_t::try_from(n).map_err(|_| Errno::EFBIG)
}

/// Allocates bytes `from..to` of the file (which is `from` bytes long),
/// making it `to` bytes long. All or nothing: when it fails part-way (no
/// space left), the file is cut back to `from` bytes, giving back what was
/// allocated, before the error is returned.
pub fn allocate_range(fd: &OwnedFd, from: u64, to: u64, what: &str) -> Result<()> {
    if to <= from {
        return Ok(());
    }
    let Err(e) = reserve(fd, from, to, what) else { return Ok(()) };
    let e = Error::sys(format!("{what}: allocate {} bytes", to - from), e);
    match truncate(fd, from, what) {
        Ok(()) => Err(e),
        Err(cut) => Err(Error::text(what.to_string(), format!("{e}; and then: {cut}"))),
    }
}

/// Allocates bytes `from..to` of the file, making it at least `to` bytes
/// long: `fallocate` (Linux) or `posix_fallocate` (FreeBSD), or, on a
/// file system that cannot (ext2, vfat; FreeBSD's ZFS), the zeros written,
/// as the 2006 article's dd did, with a progress line (`zero-filling
/// WHAT`) on a terminal. The blocks are
/// then taken where the file system stores zeros as it stores data (not
/// one that compresses or deduplicates them).
pub fn reserve(fd: &OwnedFd, from: u64, to: u64, what: &str) -> std::result::Result<(), Errno> {
    match preallocate(fd, off(from)?, off(to - from)?) {
        Err(Errno::EINVAL | Errno::EOPNOTSUPP) => {
            super::posix::progress::begin(&format!("zero-filling {what}"), Some(to - from));
            let r = write_zeros(fd, from, to);
            super::posix::progress::end();
            r
        }
        other => other,
    }
}

/// Reserves `len` bytes at `at`: fallocate(2) on Linux, where glibc's
/// posix_fallocate would otherwise write the zeros itself, silently, on a
/// file system that cannot (ext2, vfat); posix_fallocate(2) on FreeBSD,
/// a system call that answers EINVAL where it cannot (ZFS).
fn preallocate(fd: &OwnedFd, at: libc::off_t, len: libc::off_t) -> std::result::Result<(), Errno> {
    #[cfg(target_os = "linux")]
    {
        nix::fcntl::fallocate(fd, nix::fcntl::FallocateFlags::empty(), at, len)
    }
    #[cfg(not(target_os = "linux"))]
    {
        nix::fcntl::posix_fallocate(fd, at, len)
    }
}

/// What [`reserve`] does on Linux, as `-N -X` shows it (FreeBSD's grow
/// shows its `posix_fallocate` itself).
pub fn describe_linux(what: &str, from: u64, to: u64) -> String {
    format!("fallocate({what}, 0, {from}, {}) (zeros written where the file system cannot)", to - from)
}

fn write_zeros(fd: &OwnedFd, from: u64, to: u64) -> std::result::Result<(), Errno> {
    let chunk = vec![0u8; 1 << 20];
    let mut at = from;
    while at < to {
        let n = usize::try_from((to - at).min(chunk.len() as u64)).unwrap_or(chunk.len());
        let wrote = nix::sys::uio::pwrite(fd, &chunk[..n], off(at)?)?;
        at += wrote as u64;
        super::posix::progress::add(wrote as u64);
    }
    nix::unistd::fsync(fd)
}

/// Cuts the file back to `len` bytes (rollback of [`allocate_range`]).
pub fn truncate(fd: &OwnedFd, len: u64, what: &str) -> Result<()> {
    let n = off(len).map_err(|e| Error::sys("image size", e))?;
    nix::unistd::ftruncate(fd, n).map_err(|e| Error::sys(format!("{what}: cut back to {len} bytes"), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn grows_allocated_and_cuts_back() {
        let dir = std::env::temp_dir().join(format!("mount_md-extend-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("img");
        std::fs::write(&path, vec![7u8; 4096]).unwrap();
        let fd: OwnedFd = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap().into();
        allocate_range(&fd, 4096, 1 << 20, "img").unwrap();
        let md = std::fs::metadata(&path).unwrap();
        assert_eq!(md.len(), 1 << 20);
        // Every block is allocated (tmpfs and ext4 both preallocate).
        assert!(md.blocks() * 512 >= 1 << 20, "{} blocks", md.blocks());
        assert_eq!(std::fs::read(&path).unwrap()[..4096], [7u8; 4096]);
        truncate(&fd, 4096, "img").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 4096);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
