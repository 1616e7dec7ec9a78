//! loop(4) control ABI (include/uapi/linux/loop.h) and the rules of the
//! attach flow (drivers/block/loop.c `loop_control_get_free`,
//! `loop_configure`): bounded retry with random backoff when another
//! allocator wins the race, which errors mean that, and the direct I/O
//! choice. The calls themselves (`LOOP_CTL_GET_FREE`, `LOOP_CONFIGURE`
//! and the `LOOP_SET_FD` + `LOOP_SET_STATUS64` fallback for kernels
//! before 5.8) are made by [`super::sys::Kernel`].
//!
//! The structures are declared here, with their sizes and offsets checked
//! at compile time, rather than taken from `libc`, so the layout the kernel
//! sees is the one include/uapi/linux/loop.h declares.
#![forbid(unsafe_code)]
use nix::errno::Errno;
use std::mem::{offset_of, size_of};
use std::path::{Path, PathBuf};
use std::time::Duration;

// Ioctl numbers: plain constants, not _IOC-encoded (linux/loop.h).
pub const LOOP_SET_FD: u32 = 0x4C00;
pub const LOOP_CLR_FD: u32 = 0x4C01;
pub const LOOP_SET_STATUS64: u32 = 0x4C04;
pub const LOOP_GET_STATUS64: u32 = 0x4C05;
pub const LOOP_SET_CAPACITY: u32 = 0x4C07;
/// BLKROSET, `_IO(0x12, 93)` (include/uapi/linux/fs.h): a block device's
/// read-only state (`blockdev --setro`); not a loop request.
pub const BLKROSET: u32 = nix::request_code_none!(0x12, 93) as u32;
pub const LOOP_SET_DIRECT_IO: u32 = 0x4C08;
pub const LOOP_SET_BLOCK_SIZE: u32 = 0x4C09;
pub const LOOP_CONFIGURE: u32 = 0x4C0A;
pub const LOOP_CTL_ADD: u32 = 0x4C80;
pub const LOOP_CTL_GET_FREE: u32 = 0x4C82;

pub const LO_FLAGS_READ_ONLY: u32 = 1;
pub const LO_FLAGS_AUTOCLEAR: u32 = 4;
pub const LO_FLAGS_PARTSCAN: u32 = 8;
pub const LO_FLAGS_DIRECT_IO: u32 = 16;

pub const LO_NAME_SIZE: usize = 64;
pub const LO_KEY_SIZE: usize = 32;

pub const LOOP_CONTROL: &str = "/dev/loop-control";

/// `struct loop_info64`: all fixed-width, the same on every architecture.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct LoopInfo64 {
    pub lo_device: u64,
    pub lo_inode: u64,
    pub lo_rdevice: u64,
    pub lo_offset: u64,
    /// Bytes of the backing file the device shows; 0 = all of it.
    pub lo_sizelimit: u64,
    pub lo_number: u32,
    pub lo_encrypt_type: u32,
    pub lo_encrypt_key_size: u32,
    pub lo_flags: u32,
    /// Informational only; the kernel keeps the real path in sysfs.
    pub lo_file_name: [u8; LO_NAME_SIZE],
    pub lo_crypt_name: [u8; LO_NAME_SIZE],
    pub lo_encrypt_key: [u8; LO_KEY_SIZE],
    pub lo_init: [u64; 2],
}

/// `struct loop_config` (LOOP_CONFIGURE, Linux ≥ 5.8).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct LoopConfig {
    pub fd: u32,
    /// 0: the default (512, or the backing device's).
    pub block_size: u32,
    pub info: LoopInfo64,
    /// Must be zero.
    pub reserved: [u64; 8],
}

const _: () = {
    assert!(size_of::<LoopInfo64>() == 232);
    assert!(offset_of!(LoopInfo64, lo_device) == 0);
    assert!(offset_of!(LoopInfo64, lo_inode) == 8);
    assert!(offset_of!(LoopInfo64, lo_rdevice) == 16);
    assert!(offset_of!(LoopInfo64, lo_offset) == 24);
    assert!(offset_of!(LoopInfo64, lo_sizelimit) == 32);
    assert!(offset_of!(LoopInfo64, lo_number) == 40);
    assert!(offset_of!(LoopInfo64, lo_encrypt_type) == 44);
    assert!(offset_of!(LoopInfo64, lo_encrypt_key_size) == 48);
    assert!(offset_of!(LoopInfo64, lo_flags) == 52);
    assert!(offset_of!(LoopInfo64, lo_file_name) == 56);
    assert!(offset_of!(LoopInfo64, lo_crypt_name) == 120);
    assert!(offset_of!(LoopInfo64, lo_encrypt_key) == 184);
    assert!(offset_of!(LoopInfo64, lo_init) == 216);
    assert!(size_of::<LoopConfig>() == 304);
    assert!(offset_of!(LoopConfig, fd) == 0);
    assert!(offset_of!(LoopConfig, block_size) == 4);
    assert!(offset_of!(LoopConfig, info) == 8);
    assert!(offset_of!(LoopConfig, reserved) == 240);
};

impl LoopInfo64 {
    pub fn zeroed() -> Self {
        LoopInfo64 {
            lo_device: 0,
            lo_inode: 0,
            lo_rdevice: 0,
            lo_offset: 0,
            lo_sizelimit: 0,
            lo_number: 0,
            lo_encrypt_type: 0,
            lo_encrypt_key_size: 0,
            lo_flags: 0,
            lo_file_name: [0; LO_NAME_SIZE],
            lo_crypt_name: [0; LO_NAME_SIZE],
            lo_encrypt_key: [0; LO_KEY_SIZE],
            lo_init: [0; 2],
        }
    }

    /// The backing file's device and inode, as the kernel holds it
    /// (drivers/block/loop.c `loop_get_status`).
    pub fn backing(&self) -> crate::platform::FileId {
        crate::platform::FileId { dev: self.lo_device, ino: self.lo_inode }
    }

    /// Flags, size limit and the (truncated) file name for the kernel.
    pub fn new(flags: u32, sizelimit: u64, name: &[u8]) -> Self {
        let mut info = LoopInfo64 { lo_flags: flags, lo_sizelimit: sizelimit, ..LoopInfo64::zeroed() };
        let n = name.len().min(LO_NAME_SIZE - 1);
        info.lo_file_name[..n].copy_from_slice(&name[..n]);
        info
    }
}

/// `/dev/loopN`.
pub fn node(unit: u32) -> PathBuf {
    PathBuf::from(format!("/dev/loop{unit}"))
}

/// How long a wait for `/dev/loop-control`'s lock stays silent: runs take
/// it in turns many times a second; only a holder that keeps it is named.
pub const CONTROL_QUIET: Duration = Duration::from_secs(5);

/// A random number below `n` (n > 0): std's random hash keys (seeded from
/// the system once per thread, different for each `RandomState`), with
/// nothing hashed.
fn random_below(n: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new().build_hasher().finish() % n.max(1)
}

/// How many times a lost race is retried (systemd and losetup use 64).
pub const ATTEMPTS: u32 = 64;

/// systemd's backoff: 10 ms plus a random part growing with the attempt,
/// up to 250 ms.
pub fn backoff(attempt: u32) -> Duration {
    let span = 240_000 * u64::from(attempt.min(ATTEMPTS)) / u64::from(ATTEMPTS) + 1;
    Duration::from_micros(10_000 + random_below(span))
}

/// Errors that mean "another allocator took or removed this device; pick
/// again": the device is not ours and must not be detached.
pub fn lost_race(e: Errno) -> bool {
    matches!(e, Errno::EBUSY | Errno::ENXIO | Errno::ENODEV | Errno::EAGAIN)
}

/// Errors by which a kernel before 5.8 says it has no LOOP_CONFIGURE.
pub fn no_configure(e: Errno) -> bool {
    matches!(e, Errno::EINVAL | Errno::ENOTTY | Errno::ENOSYS)
}

/// Direct I/O for a new loop device: whether to ask the kernel for it,
/// and with which logical block size.
///
/// With direct I/O the loop device reads and writes the backing file
/// around the page cache (`IOCB_DIRECT`, drivers/block/loop.c
/// `lo_rw_aio`), so a block the mounted file system caches is not cached
/// a second time as a page of the image. The kernel only does so when the
/// loop device's logical block size is at least the backing file's
/// direct-I/O alignment (loop.c `lo_can_use_dio`); otherwise it clears
/// the flag and stays buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectIo {
    /// `--no-direct-io`.
    Off,
    /// statx(2) says the backing file system has no direct I/O
    /// (`STATX_DIOALIGN` reported with a zero offset alignment).
    Unsupported,
    /// Ask for it: `LO_FLAGS_DIRECT_IO` with this `block_size` (the file
    /// system's direct-I/O offset alignment, at least 512; 0 where statx
    /// does not report one, which lets the kernel pick: tmpfs, or a kernel
    /// before 6.1).
    Ask { block_size: u32 },
    /// Buffered: the image's file system reads and writes units of
    /// `unit` bytes (its block size, or XFS's sector size), smaller than
    /// the `align` bytes a direct-I/O loop device would have as its
    /// logical block size, and the kernel refuses to mount a file system
    /// on a device whose logical blocks are larger than its own.
    TooFine { unit: u32, align: u32 },
}

impl DirectIo {
    /// The flag to add to `lo_flags`.
    pub fn flag(self) -> u32 {
        let DirectIo::Ask { .. } = self else { return 0 };
        LO_FLAGS_DIRECT_IO
    }

    /// The `block_size` of `struct loop_config`.
    pub fn block_size(self) -> u32 {
        let DirectIo::Ask { block_size } = self else { return 0 };
        block_size
    }
}

/// Largest logical block size asked for: the kernel takes powers of two
/// from 512 up to (at least) the page size, and 4096 is the smallest page
/// size of the architectures we build for, so it is valid everywhere.
const MAX_BLOCK_SIZE: u32 = 4096;

/// What to ask for, given statx's `STATX_DIOALIGN` answer for the backing
/// file: `None` when the kernel did not report it, else the offset
/// alignment (0: no direct I/O on this file).
pub fn direct_io_for(wanted: bool, dio_offset_align: Option<u32>) -> DirectIo {
    match (wanted, dio_offset_align) {
        (false, _) => DirectIo::Off,
        (true, None) => DirectIo::Ask { block_size: 0 },
        (true, Some(0)) => DirectIo::Unsupported,
        (true, Some(a)) if a.is_power_of_two() && a <= MAX_BLOCK_SIZE => DirectIo::Ask { block_size: a.max(512) },
        // An alignment no loop device can have: the kernel would refuse
        // direct I/O anyway.
        (true, Some(_)) => DirectIo::Unsupported,
    }
}

/// [`DirectIo::TooFine`] when the file system the image holds works in
/// units (`unit`, from its superblock: [`crate::superblock::io_unit`])
/// smaller than the logical block size direct I/O would give the device;
/// else `asked` unchanged.
pub fn fit_to_fs(asked: DirectIo, unit: Option<u32>) -> DirectIo {
    match (asked, unit) {
        (DirectIo::Ask { block_size }, Some(unit)) if unit < block_size => {
            DirectIo::TooFine { unit, align: block_size }
        }
        _ => asked,
    }
}

/// The `-X` line saying how the device does its I/O, and why.
pub fn direct_io_note(node: &Path, backing: &Path, asked: DirectIo, on: nix::Result<bool>) -> String {
    let (node, backing) = (node.display(), backing.display());
    match (asked, on) {
        (_, Err(e)) => format!("{node}: direct I/O state unknown (LOOP_GET_STATUS64: {})", e.desc()),
        (_, Ok(true)) => {
            let bs = match asked.block_size() {
                0 => String::new(),
                n => format!(", logical block size {n}"),
            };
            format!("{node}: direct I/O on{bs}: the image's blocks bypass the page cache")
        }
        (DirectIo::Off, Ok(false)) => format!("{node}: buffered I/O (--no-direct-io)"),
        (DirectIo::TooFine { unit, align }, Ok(false)) => format!(
            "{node}: buffered I/O: the file system in {backing} works in {unit}-byte units, and direct I/O \
             on its host needs {align}-byte logical blocks, which it could not be mounted on"
        ),
        (DirectIo::Unsupported, Ok(false)) => format!(
            "{node}: the file system of {backing} has no direct I/O; falling back to buffered I/O \
             (its pages are cached twice)"
        ),
        (DirectIo::Ask { .. }, Ok(false)) => format!(
            "{node}: the kernel refused direct I/O on {backing}; falling back to buffered I/O \
             (its pages are cached twice)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_name_is_truncated_and_terminated() {
        let long = "x".repeat(100);
        let info = LoopInfo64::new(LO_FLAGS_AUTOCLEAR, 4096, long.as_bytes());
        assert_eq!(info.lo_flags, LO_FLAGS_AUTOCLEAR);
        assert_eq!(info.lo_sizelimit, 4096);
        assert_eq!(info.lo_file_name[62], b'x');
        assert_eq!(info.lo_file_name[63], 0);
    }

    #[test]
    fn backoff_is_bounded() {
        for attempt in 0..=ATTEMPTS + 3 {
            let d = backoff(attempt);
            assert!(d >= Duration::from_millis(10) && d <= Duration::from_millis(250), "{d:?}");
        }
    }

    #[test]
    fn direct_io_choice() {
        assert_eq!(direct_io_for(false, Some(512)), DirectIo::Off);
        assert_eq!(direct_io_for(true, Some(512)), DirectIo::Ask { block_size: 512 });
        assert_eq!(direct_io_for(true, Some(4096)), DirectIo::Ask { block_size: 4096 });
        // Byte-aligned direct I/O (some network file systems): the loop
        // device still needs 512.
        assert_eq!(direct_io_for(true, Some(1)), DirectIo::Ask { block_size: 512 });
        assert_eq!(direct_io_for(true, Some(0)), DirectIo::Unsupported);
        assert_eq!(direct_io_for(true, Some(65536)), DirectIo::Unsupported);
        assert_eq!(direct_io_for(true, Some(3000)), DirectIo::Unsupported);
        assert_eq!(direct_io_for(true, None), DirectIo::Ask { block_size: 0 });
        assert_eq!(DirectIo::Ask { block_size: 512 }.flag(), LO_FLAGS_DIRECT_IO);
        assert_eq!(DirectIo::Unsupported.flag() | DirectIo::Off.flag(), 0);
        assert_eq!(DirectIo::Off.block_size(), 0);
    }

    #[test]
    fn direct_io_notes() {
        let n = |asked, on| direct_io_note(Path::new("/dev/loop3"), Path::new("/i"), asked, on);
        assert_eq!(
            n(DirectIo::Ask { block_size: 512 }, Ok(true)),
            "/dev/loop3: direct I/O on, logical block size 512: the image's blocks bypass the page cache"
        );
        assert!(n(DirectIo::Ask { block_size: 0 }, Ok(true)).starts_with("/dev/loop3: direct I/O on: "));
        assert!(n(DirectIo::Ask { block_size: 0 }, Ok(false)).contains("kernel refused direct I/O on /i; falling back"));
        assert!(n(DirectIo::Unsupported, Ok(false)).contains("of /i has no direct I/O; falling back to buffered"));
        assert_eq!(n(DirectIo::Off, Ok(false)), "/dev/loop3: buffered I/O (--no-direct-io)");
        assert!(n(DirectIo::TooFine { unit: 1024, align: 4096 }, Ok(false)).contains("works in 1024-byte units"));
        let ask = DirectIo::Ask { block_size: 4096 };
        assert_eq!(fit_to_fs(ask, Some(1024)), DirectIo::TooFine { unit: 1024, align: 4096 });
        assert_eq!(fit_to_fs(ask, Some(4096)), ask);
        assert_eq!(fit_to_fs(ask, None), ask);
        assert_eq!(fit_to_fs(DirectIo::Off, Some(512)), DirectIo::Off);
        assert!(n(DirectIo::Off, Err(Errno::EIO)).contains("unknown"));
    }
}
