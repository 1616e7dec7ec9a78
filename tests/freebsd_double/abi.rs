//! md(4) ABI pinned at run time as well (abi.rs asserts the same at compile
//! time): both layouts' sizes and every field offset, and every request
//! number recomputed here from FreeBSD's `_IOWR` arithmetic (sys/sys/ioccom.h, sys/sys/mdioctl.h)
//! and compared with the literal values mdconfig's header gives.
// c_ulong is 64 bits here but 32 on i386: the conversions are for the latter.
#![allow(clippy::useless_conversion)]
use mount_md::platform::freebsd::abi::{self, expected, MdIoctlI386, MdIoctlIlp32, MdIoctlLp64};
use std::mem::size_of;

/// 0xC0000000 (IOC_INOUT) + len<<16 + 'm'<<8 + n, written out by hand.
fn by_hand(len: u64, n: u64) -> u64 {
    0xC000_0000 + (len << 16) + (0x6D << 8) + n
}

#[test]
fn lp64_layout() {
    assert_eq!(size_of::<MdIoctlLp64>(), 448);
    // version, unit, type, file, mediasize, sectorsize, options, base,
    // fwheads, fwsectors, label, pad
    assert_eq!(abi::LP64_OFFSETS, [0, 4, 8, 16, 24, 32, 36, 40, 48, 52, 56, 64]);
    assert_eq!(abi::LP64_OFFSETS, expected::LP64_OFFSETS);
    assert_eq!(448 - abi::LP64_OFFSETS[11], 4 * abi::MDNPAD);
}

#[test]
fn i386_layout() {
    assert_eq!(size_of::<MdIoctlI386>(), 436);
    assert_eq!(abi::I386_OFFSETS, [0, 4, 8, 12, 16, 24, 28, 32, 40, 44, 48, 52]);
    assert_eq!(abi::I386_OFFSETS, expected::I386_OFFSETS);
    assert_eq!(436 - abi::I386_OFFSETS[11], 4 * abi::MDNPAD);
}

#[test]
fn ilp32_layout() {
    assert_eq!(size_of::<MdIoctlIlp32>(), 440);
    assert_eq!(abi::ILP32_OFFSETS, expected::ILP32_OFFSETS);
}

#[test]
fn request_numbers() {
    let lp64 = [abi::LP64.attach, abi::LP64.detach, abi::LP64.query, abi::LP64.resize];
    let i386 = [abi::I386.attach, abi::I386.detach, abi::I386.query, abi::I386.resize];
    let ilp32 = [abi::ILP32.attach, abi::ILP32.detach, abi::ILP32.query, abi::ILP32.resize];
    for (i, n) in [0u64, 1, 2, 4].into_iter().enumerate() {
        assert_eq!(u64::from(lp64[i]), by_hand(448, n));
        assert_eq!(u64::from(i386[i]), by_hand(436, n));
        assert_eq!(u64::from(ilp32[i]), by_hand(440, n));
    }
    assert_eq!(lp64, [0xC1C0_6D00, 0xC1C0_6D01, 0xC1C0_6D02, 0xC1C0_6D04]);
    assert_eq!(i386, [0xC1B4_6D00, 0xC1B4_6D01, 0xC1B4_6D02, 0xC1B4_6D04]);
    assert_eq!(ilp32, [0xC1B8_6D00, 0xC1B8_6D01, 0xC1B8_6D02, 0xC1B8_6D04]);
    assert_eq!(u64::from(abi::iowr(b'm', 3, 448)), 0xC1C0_6D03); // MDIOCLIST, gone in 14
}

#[test]
fn requests_are_unsigned_long_never_sign_extended() {
    // On an LP64 host c_ulong is 64 bits: the value must not be 0xFFFFFFFFC1C06D00.
    assert_eq!(u64::from(abi::LP64.attach) >> 32, 0);
    assert!(u64::from(abi::MDIOCATTACH) > i32::MAX as u64);
}

#[cfg(target_pointer_width = "64")]
#[test]
fn native_struct_on_this_host_is_lp64() {
    assert_eq!(size_of::<abi::MdIoctl>(), 448);
    assert_eq!(abi::NATIVE_OFFSETS, expected::LP64_OFFSETS);
    assert_eq!(u64::from(abi::MDIOCATTACH), 0xC1C0_6D00);
    assert_eq!(u64::from(abi::MDIOCDETACH), 0xC1C0_6D01);
    assert_eq!(u64::from(abi::MDIOCQUERY), 0xC1C0_6D02);
    assert_eq!(u64::from(abi::MDIOCRESIZE), 0xC1C0_6D04);
}

#[test]
fn constants() {
    assert_eq!(abi::MDIOVERSION, 0);
    assert_eq!([abi::MD_MALLOC, abi::MD_PRELOAD, abi::MD_VNODE, abi::MD_SWAP, abi::MD_NULL], [0, 1, 2, 3, 4]);
    let opts = [
        abi::MD_CLUSTER,
        abi::MD_RESERVE,
        abi::MD_AUTOUNIT,
        abi::MD_READONLY,
        abi::MD_COMPRESS,
        abi::MD_FORCE,
        abi::MD_ASYNC,
        abi::MD_VERIFY,
        abi::MD_CACHE,
        abi::MD_MUSTDEALLOC,
    ];
    assert_eq!(opts, [0x1, 0x2, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80, 0x100, 0x200]);
    assert_eq!(abi::MD_CLUSTER | abi::MD_AUTOUNIT | abi::MD_COMPRESS, 0x15);
    assert_eq!(abi::options_names(0x15), "MD_CLUSTER|MD_AUTOUNIT|MD_COMPRESS");
    assert_eq!(abi::options_names(0), "0");
}

#[test]
fn zeroed_struct_is_version_zero_with_null_pointers() {
    let m = abi::MdIoctl::zeroed();
    assert_eq!(m.md_version, 0);
    assert!(m.md_file.is_null() && m.md_label.is_null());
    assert!(m.md_pad.iter().all(|p| *p == 0));
}

#[test]
fn diocgident_number() {
    // _IOR('d', 137, char[DISK_IDENT_SIZE]) from sys/sys/disk.h, by hand:
    // IOC_OUT 0x40000000 + 256<<16 + 'd'<<8 + 137.
    assert_eq!(abi::DISK_IDENT_SIZE, 256);
    assert_eq!(u64::from(abi::DIOCGIDENT), 0x4000_0000 + (256 << 16) + (0x64 << 8) + 137);
    assert_eq!(u64::from(abi::DIOCGIDENT), 0x4100_6489);
    assert_eq!(u64::from(abi::ior(b'd', 137, 256)), 0x4100_6489);
    // md.c's `char ident[32]`.
    assert_eq!(abi::MD_IDENT_LEN, 32);
}
