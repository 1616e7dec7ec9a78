//! md(4) ABI: what src/platform/freebsd/abi.rs's compile-time asserts (each
//! layout's size and field offsets against sys/sys/mdioctl.h, each request
//! number against its literal value, on every host and for the target)
//! leave out: `md_pad` fills the tail of the struct (a wrong `MDNPAD` could
//! hide in LP64's alignment padding), every request number recomputed here
//! by hand from FreeBSD's `_IOWR` arithmetic (sys/sys/ioccom.h) rather
//! than through abi.rs's own `iowr`, the type and option constants, and
//! DIOCGIDENT's number from `_IOR`.
// c_ulong is 64 bits here but 32 on i386: the conversions are for the latter.
#![allow(clippy::useless_conversion)]
use mount_md::platform::freebsd::abi::{self, MdIoctlI386, MdIoctlLp64};
use std::mem::size_of;

/// 0xC0000000 (IOC_INOUT) + len<<16 + 'm'<<8 + n, written out by hand.
fn by_hand(len: u64, n: u64) -> u64 {
    0xC000_0000 + (len << 16) + (0x6D << 8) + n
}

/// `md_pad` (the last field, index 11) runs to the end of the struct: the
/// size and offsets the compile-time asserts pin would not notice an
/// `MDNPAD` one short on LP64, where alignment pads the tail to 448 anyway.
#[test]
fn lp64_layout() {
    assert_eq!(size_of::<MdIoctlLp64>() - abi::LP64_OFFSETS[11], 4 * abi::MDNPAD);
}

#[test]
fn i386_layout() {
    assert_eq!(size_of::<MdIoctlI386>() - abi::I386_OFFSETS[11], 4 * abi::MDNPAD);
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
fn options_are_named_by_their_bits() {
    assert_eq!(abi::options_names(0x15), "MD_CLUSTER|MD_AUTOUNIT|MD_COMPRESS");
    assert_eq!(abi::options_names(0), "0");
}

#[test]
fn zeroed_struct_is_version_zero_with_null_pointers() {
    let m = abi::MdIoctl::new(0, 0, 0).unwrap();
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
