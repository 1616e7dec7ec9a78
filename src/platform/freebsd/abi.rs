//! md(4)'s control ABI (sys/sys/mdioctl.h): `struct md_ioctl` with
//! `md_label` and `md_pad[96]`, as FreeBSD 12.0 and later declare it (md.c
//! copies `md_label` in `kern_mdattach_locked`; see doc/freebsd.md for the
//! floor), its constants, and the ioctl requests.
//!
//! [`MdIoctl`] is the struct for the *target* (it is what the syscall layer
//! hands the kernel). [`MdIoctlLp64`], [`MdIoctlI386`] and [`MdIoctlIlp32`]
//! are layout-only twins with the pointers written as integers of the
//! target's width, so that every layout can be pinned on any host. The
//! request numbers are computed from FreeBSD's `_IOWR` encoding
//! (sys/sys/ioccom.h) and the struct size, never copied; the `const`
//! assertions below compare them, the size and every field offset with the
//! numbers sys/sys/mdioctl.h and sys/sys/ioccom.h give, so any build for any target (including each
//! `freebsd-build --check`) re-proves them.
use crate::error::{Error, Result};
use libc::{c_char, c_int, c_uint, c_ulong};
use nix::errno::Errno;
use std::ffi::CStr;
use std::mem::{offset_of, size_of};

/// The only version any FreeBSD kernel accepts (`EINVAL` otherwise).
pub const MDIOVERSION: c_uint = 0;
/// `int md_pad[MDNPAD]` after `md_label` (97 before `md_label` existed).
pub const MDNPAD: usize = 96;
/// The control device.
pub const MDCTL_PATH: &str = "/dev/mdctl";
/// Kernel module file and the module name it registers.
pub const GEOM_MD_FILE: &CStr = c"geom_md";
pub const GEOM_MD_MODULE: &CStr = c"g_md";
/// Buffer size mdconfig gives `md_file`/`md_label` (PATH_MAX).
pub const PATH_MAX: usize = 1024;

/// `enum md_types` (an `int`).
pub const MD_MALLOC: c_uint = 0;
pub const MD_PRELOAD: c_uint = 1;
pub const MD_VNODE: c_uint = 2;
pub const MD_SWAP: c_uint = 3;
pub const MD_NULL: c_uint = 4;

/// `md_options` bits.
pub const MD_CLUSTER: c_uint = 0x01;
pub const MD_RESERVE: c_uint = 0x02;
pub const MD_AUTOUNIT: c_uint = 0x04;
pub const MD_READONLY: c_uint = 0x08;
pub const MD_COMPRESS: c_uint = 0x10;
pub const MD_FORCE: c_uint = 0x20;
pub const MD_ASYNC: c_uint = 0x40;
pub const MD_VERIFY: c_uint = 0x80;
pub const MD_CACHE: c_uint = 0x100;
pub const MD_MUSTDEALLOC: c_uint = 0x200;

/// Names of the `md_options` bits, lowest first (for `describe`).
const MD_OPTION_NAMES: [(c_uint, &str); 10] = [
    (MD_CLUSTER, "MD_CLUSTER"),
    (MD_RESERVE, "MD_RESERVE"),
    (MD_AUTOUNIT, "MD_AUTOUNIT"),
    (MD_READONLY, "MD_READONLY"),
    (MD_COMPRESS, "MD_COMPRESS"),
    (MD_FORCE, "MD_FORCE"),
    (MD_ASYNC, "MD_ASYNC"),
    (MD_VERIFY, "MD_VERIFY"),
    (MD_CACHE, "MD_CACHE"),
    (MD_MUSTDEALLOC, "MD_MUSTDEALLOC"),
];

/// Each `md_types` value, its name, and the word `kern.geom.confxml`
/// gives it (md.c `g_md_dumpconf`).
pub const MD_TYPES: [(c_uint, &str, &str); 5] = [
    (MD_MALLOC, "MD_MALLOC", "malloc"),
    (MD_PRELOAD, "MD_PRELOAD", "preload"),
    (MD_VNODE, "MD_VNODE", "vnode"),
    (MD_SWAP, "MD_SWAP", "swap"),
    (MD_NULL, "MD_NULL", "null"),
];

/// The name of an `md_types` value.
pub fn type_name(t: c_uint) -> &'static str {
    MD_TYPES.iter().find(|(v, ..)| *v == t).map_or("?", |(_, name, _)| name)
}

/// `MD_CLUSTER|MD_AUTOUNIT|MD_COMPRESS`, or `0` when empty.
pub fn options_names(options: c_uint) -> String {
    bit_names(options.into(), &MD_OPTION_NAMES.map(|(bit, name)| (u64::from(bit), name)))
}

/// The names in `table` of the bits set in `bits`, as a flag set
/// ([`crate::platform::describe::flag_set`]).
pub fn bit_names(bits: u64, table: &[(u64, &str)]) -> String {
    crate::platform::describe::flag_set(table.iter().filter(|(bit, _)| bits & bit != 0).map(|(_, n)| *n))
}

/// `struct md_ioctl` for the target this crate is compiled for.
#[repr(C)]
#[derive(Debug)]
pub struct MdIoctl {
    pub md_version: c_uint,
    pub md_unit: c_uint,
    pub md_type: c_uint,
    pub md_file: *mut c_char,
    /// `off_t`, 64-bit signed on every FreeBSD target.
    pub md_mediasize: i64,
    pub md_sectorsize: c_uint,
    pub md_options: c_uint,
    pub md_base: u64,
    pub md_fwheads: c_int,
    pub md_fwsectors: c_int,
    pub md_label: *mut c_char,
    pub md_pad: [c_int; MDNPAD],
}

impl MdIoctl {
    /// All zeros (null pointers) as mdconfig starts from, but the unit,
    /// options and size.
    pub fn new(unit: u32, options: c_uint, mediasize: u64) -> Result<Self> {
        let md_mediasize = i64::try_from(mediasize).map_err(|_| Error::sys("md_mediasize", Errno::EOVERFLOW))?;
        Ok(MdIoctl {
            md_version: MDIOVERSION,
            md_unit: unit,
            md_type: 0,
            md_file: std::ptr::null_mut(),
            md_mediasize,
            md_sectorsize: 0,
            md_options: options,
            md_base: 0,
            md_fwheads: 0,
            md_fwsectors: 0,
            md_label: std::ptr::null_mut(),
            md_pad: [0; MDNPAD],
        })
    }
}

/// Layout twin: amd64, arm64 and every other LP64 target (448 bytes).
/// Padding is explicit, so the layout is the same on a 32-bit host.
#[repr(C, align(8))]
pub struct MdIoctlLp64 {
    pub md_version: u32,
    pub md_unit: u32,
    pub md_type: u32,
    pub _pad0: u32,
    pub md_file: u64,
    pub md_mediasize: i64,
    pub md_sectorsize: u32,
    pub md_options: u32,
    pub md_base: u64,
    pub md_fwheads: i32,
    pub md_fwsectors: i32,
    pub md_label: u64,
    pub md_pad: [i32; MDNPAD],
}

/// Layout twin: i386 (and amd64's 32-bit compat struct): 4-byte pointers,
/// 64-bit fields aligned to 4 (436 bytes).
#[repr(C, packed(4))]
pub struct MdIoctlI386 {
    pub md_version: u32,
    pub md_unit: u32,
    pub md_type: u32,
    pub md_file: u32,
    pub md_mediasize: i64,
    pub md_sectorsize: u32,
    pub md_options: u32,
    pub md_base: u64,
    pub md_fwheads: i32,
    pub md_fwsectors: i32,
    pub md_label: u32,
    pub md_pad: [i32; MDNPAD],
}

/// Layout twin: other 32-bit targets (armv7, powerpc): 4-byte pointers,
/// 64-bit fields aligned to 8 (440 bytes).
#[repr(C, align(8))]
pub struct MdIoctlIlp32 {
    pub md_version: u32,
    pub md_unit: u32,
    pub md_type: u32,
    pub md_file: u32,
    pub md_mediasize: i64,
    pub md_sectorsize: u32,
    pub md_options: u32,
    pub md_base: u64,
    pub md_fwheads: i32,
    pub md_fwsectors: i32,
    pub md_label: u32,
    pub md_pad: [i32; MDNPAD],
}

// sys/sys/ioccom.h
const IOCPARM_SHIFT: u32 = 13;
const IOCPARM_MASK: u32 = (1 << IOCPARM_SHIFT) - 1;
const IOC_OUT: u32 = 0x4000_0000;
const IOC_IN: u32 = 0x8000_0000;
const IOC_INOUT: u32 = IOC_IN | IOC_OUT;

/// `_IOWR(group, num, <len bytes>)`, as an unsigned long so it is never
/// sign-extended on its way to the kernel.
pub const fn iowr(group: u8, num: u8, len: usize) -> c_ulong {
    assert!(len <= IOCPARM_MASK as usize, "ioctl parameter too large for the encoding");
    (IOC_INOUT | ((len as u32 & IOCPARM_MASK) << 16) | ((group as u32) << 8) | num as u32) as c_ulong
}

/// `_IOR(group, num, <len bytes>)`: the kernel copies `len` bytes out.
pub const fn ior(group: u8, num: u8, len: usize) -> c_ulong {
    assert!(len <= IOCPARM_MASK as usize, "ioctl parameter too large for the encoding");
    (IOC_OUT | ((len as u32 & IOCPARM_MASK) << 16) | ((group as u32) << 8) | num as u32) as c_ulong
}

/// sys/sys/disk.h: the buffer DIOCGIDENT fills (a NUL-terminated string).
pub const DISK_IDENT_SIZE: usize = 256;
/// `DIOCGIDENT = _IOR('d', 137, char[DISK_IDENT_SIZE])`: a GEOM provider's
/// ident, asked of `/dev/mdN`. Its size does not depend on the target, so
/// the number is the same everywhere: 0x41006489.
pub const DIOCGIDENT: c_ulong = ior(b'd', 137, DISK_IDENT_SIZE);
/// `char ident[32]` in md.c's softc: a vnode unit's ident,
/// `MD-DEV<va_fsid>-INO<va_fileid>` (both `%ju`), is cut to 31 bytes.
pub const MD_IDENT_LEN: usize = 32;

/// md(4)'s ioctl group, `'m'`.
pub const MD_GROUP: u8 = b'm';

/// The four md requests for a struct of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requests {
    pub attach: c_ulong,
    pub detach: c_ulong,
    pub query: c_ulong,
    pub resize: c_ulong,
}

impl Requests {
    pub const fn for_len(len: usize) -> Self {
        Requests {
            attach: iowr(MD_GROUP, 0, len),
            detach: iowr(MD_GROUP, 1, len),
            query: iowr(MD_GROUP, 2, len),
            resize: iowr(MD_GROUP, 4, len),
        }
    }
}

/// Requests for the target's struct.
pub const NATIVE: Requests = Requests::for_len(size_of::<MdIoctl>());
pub const MDIOCATTACH: c_ulong = NATIVE.attach;
pub const MDIOCDETACH: c_ulong = NATIVE.detach;
pub const MDIOCQUERY: c_ulong = NATIVE.query;
pub const MDIOCRESIZE: c_ulong = NATIVE.resize;

/// Requests for each layout twin.
pub const LP64: Requests = Requests::for_len(size_of::<MdIoctlLp64>());
pub const I386: Requests = Requests::for_len(size_of::<MdIoctlI386>());
pub const ILP32: Requests = Requests::for_len(size_of::<MdIoctlIlp32>());

/// Field offsets in declaration order: version, unit, type, file,
/// mediasize, sectorsize, options, base, fwheads, fwsectors, label, pad.
pub type Offsets = [usize; 12];

macro_rules! offsets_of {
    ($t:ty) => {
        [
            offset_of!($t, md_version),
            offset_of!($t, md_unit),
            offset_of!($t, md_type),
            offset_of!($t, md_file),
            offset_of!($t, md_mediasize),
            offset_of!($t, md_sectorsize),
            offset_of!($t, md_options),
            offset_of!($t, md_base),
            offset_of!($t, md_fwheads),
            offset_of!($t, md_fwsectors),
            offset_of!($t, md_label),
            offset_of!($t, md_pad),
        ]
    };
}

pub const LP64_OFFSETS: Offsets = offsets_of!(MdIoctlLp64);
pub const I386_OFFSETS: Offsets = offsets_of!(MdIoctlI386);
pub const ILP32_OFFSETS: Offsets = offsets_of!(MdIoctlIlp32);

/// The sizes, offsets and request numbers the headers give (sys/sys/mdioctl.h, sys/sys/ioccom.h).
pub mod expected {
    use super::{c_ulong, Offsets};
    pub const LP64_SIZE: usize = 448;
    pub const LP64_OFFSETS: Offsets = [0, 4, 8, 16, 24, 32, 36, 40, 48, 52, 56, 64];
    pub const LP64_REQUESTS: [c_ulong; 4] = [0xC1C0_6D00, 0xC1C0_6D01, 0xC1C0_6D02, 0xC1C0_6D04];
    pub const I386_SIZE: usize = 436;
    pub const I386_OFFSETS: Offsets = [0, 4, 8, 12, 16, 24, 28, 32, 40, 44, 48, 52];
    pub const I386_REQUESTS: [c_ulong; 4] = [0xC1B4_6D00, 0xC1B4_6D01, 0xC1B4_6D02, 0xC1B4_6D04];
    pub const ILP32_SIZE: usize = 440;
    pub const ILP32_OFFSETS: Offsets = [0, 4, 8, 12, 16, 24, 28, 32, 40, 44, 48, 52];
    pub const ILP32_REQUESTS: [c_ulong; 4] = [0xC1B8_6D00, 0xC1B8_6D01, 0xC1B8_6D02, 0xC1B8_6D04];
}

/// Whether two offset tables agree (usable in `const` assertions).
pub const fn same_offsets(a: &Offsets, b: &Offsets) -> bool {
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether `r` holds exactly `want` (attach, detach, query, resize).
pub const fn same_requests(r: &Requests, want: &[c_ulong; 4]) -> bool {
    r.attach == want[0] && r.detach == want[1] && r.query == want[2] && r.resize == want[3]
}

// The twins, checked on every host and every target.
const _: () = assert!(size_of::<MdIoctlLp64>() == expected::LP64_SIZE);
const _: () = assert!(same_offsets(&LP64_OFFSETS, &expected::LP64_OFFSETS));
const _: () = assert!(same_requests(&LP64, &expected::LP64_REQUESTS));
const _: () = assert!(size_of::<MdIoctlI386>() == expected::I386_SIZE);
const _: () = assert!(same_offsets(&I386_OFFSETS, &expected::I386_OFFSETS));
const _: () = assert!(same_requests(&I386, &expected::I386_REQUESTS));
const _: () = assert!(size_of::<MdIoctlIlp32>() == expected::ILP32_SIZE);
const _: () = assert!(same_offsets(&ILP32_OFFSETS, &expected::ILP32_OFFSETS));
const _: () = assert!(same_requests(&ILP32, &expected::ILP32_REQUESTS));

// The struct actually handed to the kernel has the layout of its target's
// twin, checked above; its request numbers follow from its size.
#[cfg(md_abi = "lp64")]
type Twin = MdIoctlLp64;
#[cfg(md_abi = "i386")]
type Twin = MdIoctlI386;
#[cfg(md_abi = "ilp32")]
type Twin = MdIoctlIlp32;
const _: () = assert!(size_of::<MdIoctl>() == size_of::<Twin>());
const _: () = assert!(same_offsets(&offsets_of!(MdIoctl), &offsets_of!(Twin)));
