//! What a disk's first bytes say, read the same way on every system (pure:
//! it only looks at bytes already read):
//!
//! * [`probe`]: which file system it holds — ext2/ext3/ext4 told apart by
//!   feature flags as libblkid does, XFS, btrfs, UFS1/UFS2. Linux uses it
//!   for `-P` without `-T`; both systems use it to refuse formatting over a
//!   file system nobody asked to replace.
//! * [`health`]: whether that file system says it was cleanly unmounted,
//!   the test the system's checker makes in preen mode before doing any
//!   work: ext2/3/4 `s_state` (linux/fs/ext4/ext4.h: `EXT4_VALID_FS`,
//!   `EXT4_ERROR_FS`), UFS `fs_clean` and `fs_flags` (FreeBSD
//!   sys/ufs/ffs/fs.h: `FS_UNCLEAN`, `FS_NEEDSFSCK`, `FS_SUJ`). XFS and
//!   btrfs have no such flag to read: their log is replayed by the kernel.
//! * [`decide`]: what `--fsck` makes of that.
#![forbid(unsafe_code)]
mod growth;
pub use growth::{growth, Backups, Growth, UfsGeometry};

/// Bytes to read from the start of the device: enough for every magic
/// below (UFS2 may sit at 256 KiB).
pub const PROBE_LEN: usize = 262_144 + 2048;

/// Enough for the common cases (ext superblock at 1 KiB, XFS at 0), read
/// first so that a `-P` mount of an ext4 image reads 4 KiB, not 258.
pub const FIRST_LEN: usize = 4096;

/// How much of an image must be zeros for mount_md to format it without
/// `--reformat`: the first MiB, where every partition table, volume header
/// and file system superblock mount_md or libblkid knows of begins
/// (a damaged ext4 still has its group descriptors there; qcow2, LUKS,
/// tar and random data are never all zeros).
pub const EMPTY_LEN: usize = 1 << 20;

/// Whether `buf`, the first bytes of a disk, holds nothing at all.
pub fn empty(buf: &[u8]) -> bool {
    buf.iter().all(|&b| b == 0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// A type Linux mounts (`ext2`, `ext3`, `ext4`, `xfs`, `btrfs`).
    Mountable(&'static str),
    /// FreeBSD's UFS1 or UFS2.
    Ufs(u8),
    /// An external ext3/4 journal device: not a file system.
    JournalDevice,
    /// Something else worth keeping that mount_md does not mount: swap,
    /// an encrypted or LVM volume, another system's file system, a
    /// partition table (the names are libblkid's).
    Other(&'static str),
    Unknown,
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
pub(crate) fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

// ext2/3/4 (superblock at 1024).
const EXT_SB: usize = 1024;
const EXT_MAGIC: u16 = 0xEF53;
const COMPAT_HAS_JOURNAL: u32 = 0x0004;
const INCOMPAT_JOURNAL_DEV: u32 = 0x0008;
/// What the ext2 and ext3 drivers understood (libblkid's *_SUPP masks).
const EXT2_INCOMPAT: u32 = 0x0002 | 0x0010; // FILETYPE | META_BG
const EXT3_INCOMPAT: u32 = EXT2_INCOMPAT | 0x0004; // + RECOVER
const EXT23_RO_COMPAT: u32 = 0x0001 | 0x0002 | 0x0004; // SPARSE_SUPER | LARGE_FILE | BTREE_DIR

// ext4.h: s_state, and its bits.
const EXT_STATE: usize = 0x3A;
const EXT4_VALID_FS: u16 = 0x0001;
const EXT4_ERROR_FS: u16 = 0x0002;

// UFS: struct fs at 8 KiB (UFS1, or UFS2 on small media), 64 KiB (UFS2)
// or 256 KiB (piggy); fs_magic at offset 1372 within it.
const UFS_SBLOCKS: [usize; 3] = [8192, 65_536, 262_144];
const UFS_MAGIC_OFF: usize = 1372;
const FS_UFS1_MAGIC: u32 = 0x0001_1954;
const FS_UFS2_MAGIC: u32 = 0x1954_0119;
// fs.h, struct fs: int8_t fs_clean at 209, int8_t fs_old_flags at 211,
// int32_t fs_flags at 1312 (sizeof(struct fs) is 1376, fs_magic last).
const UFS_CLEAN_OFF: usize = 209;
const UFS_OLD_FLAGS_OFF: usize = 211;
const UFS_FLAGS_OFF: usize = 1312;
const FS_UNCLEAN: u32 = 0x01;
const FS_NEEDSFSCK: u32 = 0x04;
const FS_SUJ: u32 = 0x08;
/// Set in fs_old_flags once the flags live in fs_flags (ffs_vfsops.c,
/// ffs_oldfscompat_read); before that fs_old_flags holds them.
const FS_FLAGS_UPDATED: u32 = 0x80;

/// A UFS superblock found in `buf`: its offset, byte order and version.
fn ufs_super(buf: &[u8]) -> Option<(usize, bool, u8)> {
    UFS_SBLOCKS.into_iter().flat_map(|at| [(at, false), (at, true)]).find_map(|(at, big)| {
        let read = if big { be32 } else { le32 };
        match read(buf, at + UFS_MAGIC_OFF)? {
            FS_UFS1_MAGIC => Some((at, big, 1)),
            FS_UFS2_MAGIC => Some((at, big, 2)),
            _ => None,
        }
    })
}

/// Looks at the first bytes of a device (as read; a short read is fine).
pub fn probe(buf: &[u8]) -> Found {
    if le16(buf, EXT_SB + 0x38) == Some(EXT_MAGIC) {
        let compat = le32(buf, EXT_SB + 0x5C).unwrap_or(0);
        let incompat = le32(buf, EXT_SB + 0x60).unwrap_or(0);
        let ro_compat = le32(buf, EXT_SB + 0x64).unwrap_or(0);
        if incompat & INCOMPAT_JOURNAL_DEV != 0 {
            return Found::JournalDevice;
        }
        let old_ro = ro_compat & !EXT23_RO_COMPAT == 0;
        let journal = compat & COMPAT_HAS_JOURNAL != 0;
        let understood = if journal { EXT3_INCOMPAT } else { EXT2_INCOMPAT };
        return Found::Mountable(match (incompat & !understood == 0 && old_ro, journal) {
            (true, true) => "ext3",
            (true, false) => "ext2",
            (false, _) => "ext4",
        });
    }
    if be32(buf, 0) == Some(0x5846_5342) {
        return Found::Mountable("xfs"); // "XFSB"
    }
    if buf.get(0x10040..0x10048) == Some(b"_BHRfS_M") {
        return Found::Mountable("btrfs");
    }
    if let Some((_, _, version)) = ufs_super(buf) {
        return Found::Ufs(version);
    }
    other(buf).map_or(Found::Unknown, Found::Other)
}

/// The smallest unit the file system in `buf` reads and writes, which a
/// device holding it must have as its logical block size or less: ext2/3/4
/// its block size (`1024 << s_log_block_size`, ext4.h), XFS its sector
/// size (`sb_sectsize`, a big-endian u16 at 102, xfs_format.h), btrfs its
/// `sectorsize` (le32 at 0x90 of the superblock at 64 KiB, ctree.h).
/// `None` for anything else, or a value that is not a power of two.
pub fn io_unit(buf: &[u8], found: Found) -> Option<u32> {
    let unit = match found {
        Found::Mountable("ext2" | "ext3" | "ext4") => 1024u32.checked_shl(le32(buf, EXT_SB + 0x18)?)?,
        Found::Mountable("xfs") => u32::from(u16::from_be_bytes(buf.get(102..104)?.try_into().ok()?)),
        Found::Mountable("btrfs") => le32(buf, 0x10000 + 0x90)?,
        _ => return None,
    };
    (unit.is_power_of_two() && unit >= 512).then_some(unit)
}

/// The size in bytes of the file system in `buf`, as its superblock says:
/// ext2/3/4 `s_blocks_count` (with `s_blocks_count_hi` under the 64bit
/// feature) times the block size (ext4.h), XFS `sb_dblocks` times
/// `sb_blocksize` (xfs_format.h, big-endian), btrfs `total_bytes` (le64 at
/// 0x70 of the superblock at 64 KiB, ctree.h). `None` for anything else.
pub fn fs_size(buf: &[u8], found: Found) -> Option<u64> {
    match found {
        Found::Mountable("ext2" | "ext3" | "ext4") => {
            let block = u64::from(io_unit(buf, found)?);
            let lo = u64::from(le32(buf, EXT_SB + 0x04)?);
            let incompat = le32(buf, EXT_SB + 0x60)?;
            let hi = if incompat & 0x80 != 0 { u64::from(le32(buf, EXT_SB + 0x150)?) } else { 0 };
            (hi << 32 | lo).checked_mul(block)
        }
        Found::Mountable("xfs") => xfs_blocks(buf).and_then(|(block, blocks)| blocks.checked_mul(block)),
        Found::Mountable("btrfs") => Some(u64::from_le_bytes(buf.get(0x10070..0x10078)?.try_into().ok()?)),
        Found::Ufs(_) => {
            let u = growth::ufs_geometry(buf)?;
            u.frags.checked_mul(u.fsize)
        }
        _ => None,
    }
}

/// XFS `sb_blocksize` and `sb_dblocks` (xfs_format.h `struct xfs_dsb`,
/// big-endian u32 at 4 and u64 at 8): its block size and size in blocks.
fn xfs_blocks(buf: &[u8]) -> Option<(u64, u64)> {
    Some((u64::from(be32(buf, 4)?), u64::from_be_bytes(buf.get(8..16)?.try_into().ok()?)))
}

/// The signatures of what is not a file system mount_md mounts, but must
/// not be formatted over without `--reformat` either (as libblkid knows
/// them: the magic and where it sits).
fn other(buf: &[u8]) -> Option<&'static str> {
    let at = |off: usize, magic: &[u8]| buf.get(off..off + magic.len()) == Some(magic);
    // mkswap: "SWAPSPACE2" in the last 10 bytes of the first page.
    if [4096, 8192, 16_384, 65_536].iter().any(|p| at(p - 10, b"SWAPSPACE2") || at(p - 10, b"SWAP-SPACE")) {
        return Some("swap");
    }
    let found = [
        (0, &b"LUKS\xba\xbe"[..], "crypto_LUKS"),
        (0, b"hsqs", "squashfs"),
        (3, b"NTFS    ", "ntfs"),
        (3, b"EXFAT   ", "exfat"),
        (54, b"FAT12   ", "vfat"),
        (54, b"FAT16   ", "vfat"),
        (82, b"FAT32   ", "vfat"),
        (512 + 24, b"LVM2 001", "LVM2_member"),
        (512, b"EFI PART", "gpt partition table"),
        (32_769, b"CD001", "iso9660"),
        (1024, b"\x10\x20\xf5\xf2", "f2fs"), // F2FS_SUPER_MAGIC 0xF2F52010, little-endian
    ];
    if let Some((_, _, name)) = found.iter().find(|(off, magic, _)| at(*off, magic)) {
        return Some(name);
    }
    // A boot sector's signature with none of the above: a disk image with
    // a DOS partition table.
    at(510, &[0x55, 0xAA]).then_some("dos partition table")
}

impl Found {
    /// The name used in messages and for `-T` (`ext4`, `ufs`).
    pub fn name(self) -> Option<&'static str> {
        match self {
            Found::Mountable(t) | Found::Other(t) => Some(t),
            Found::Ufs(_) => Some("ufs"),
            Found::JournalDevice => Some("ext3/ext4 external journal"),
            Found::Unknown => None,
        }
    }
}

/// Whether the file system in `buf` (as [`probe`] found it) was cleanly
/// unmounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Clean,
    /// Not clean, and why, in the words of the flags that say so.
    NotClean(String),
    /// No clean flag to read here (XFS, btrfs, nothing recognised).
    Unknown,
}

/// Reads the clean flags of the file system [`probe`] found in `buf`.
///
/// * ext2/3/4: not clean when `s_state` lacks `EXT4_VALID_FS` (set at a
///   clean unmount, cleared while mounted without a journal) or has
///   `EXT4_ERROR_FS` (the kernel found an inconsistency). A journal that
///   only needs replaying is left to the kernel, which replays it at mount.
/// * UFS: not clean when `fs_clean` is 0 (a read-write mount that was never
///   unmounted) or `fs_flags` has `FS_UNCLEAN` or `FS_NEEDSFSCK` — the
///   tests ffs_mountfs makes before it refuses a read-write mount. With
///   soft-updates journaling (`FS_SUJ`) the check is a fast journal replay.
pub fn health(buf: &[u8], found: Found) -> Health {
    match found {
        Found::Mountable("ext2" | "ext3" | "ext4") => {
            let Some(state) = le16(buf, EXT_SB + EXT_STATE) else { return Health::Unknown };
            verdict(&[
                (state & EXT4_VALID_FS == 0, "not cleanly unmounted"),
                (state & EXT4_ERROR_FS != 0, "errors recorded"),
            ])
        }
        Found::Ufs(_) => {
            let Some((at, big, _)) = ufs_super(buf) else { return Health::Unknown };
            let (Some(&clean), Some(&old)) = (buf.get(at + UFS_CLEAN_OFF), buf.get(at + UFS_OLD_FLAGS_OFF)) else {
                return Health::Unknown;
            };
            let read = if big { be32 } else { le32 };
            let old = u32::from(old);
            let flags = if old & FS_FLAGS_UPDATED != 0 { read(buf, at + UFS_FLAGS_OFF) } else { Some(old) };
            let Some(flags) = flags else { return Health::Unknown };
            let unclean = clean == 0 || flags & (FS_UNCLEAN | FS_NEEDSFSCK) != 0;
            verdict(&[
                (clean == 0, "fs_clean is 0"),
                (flags & FS_UNCLEAN != 0, "FS_UNCLEAN"),
                (flags & FS_NEEDSFSCK != 0, "FS_NEEDSFSCK"),
                (unclean && flags & FS_SUJ != 0, "soft updates journal to replay"),
            ])
        }
        _ => Health::Unknown,
    }
}

/// Clean when no flag said why not; else the words of those that did.
fn verdict(flags: &[(bool, &str)]) -> Health {
    let why: Vec<&str> = flags.iter().filter(|(set, _)| *set).map(|(_, words)| *words).collect();
    if why.is_empty() {
        Health::Clean
    } else {
        Health::NotClean(why.join(", "))
    }
}

/// `--fsck`: when to run the system's checker (`e2fsck -p`, `fsck_ufs -p`;
/// `-f -p` for `Always`) on a kept (`-P`) file system before mounting it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FsckPolicy {
    /// Only when the superblock says it is not clean (the default).
    #[default]
    Auto,
    /// Every time, clean or not.
    Always,
    /// Never; mount as it is.
    Never,
}

/// What to do before mounting a kept file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Mount as it is; the text says why, for `-X`.
    Mount(String),
    /// Run the checker in preen mode first; the text says why.
    Check(String),
    /// Do not check, but say so to the user (a warning), then mount.
    Warn(String),
    /// Refuse (`--fsck=always` where no check can run).
    Refuse(String),
}

/// Pure: what `policy` makes of what the superblock says. `read_only`: the
/// disk is attached read-only, so a checker could not repair anything.
pub fn decide(policy: FsckPolicy, found: Found, health: &Health, read_only: bool) -> Decision {
    let name = found.name().unwrap_or("no recognised file system");
    match (policy, health) {
        (FsckPolicy::Never, Health::NotClean(why)) => {
            Decision::Warn(format!("{name} is not clean ({why}); not checked (--fsck=never)"))
        }
        (FsckPolicy::Never, _) => Decision::Mount("--fsck=never: not checked".into()),
        (FsckPolicy::Auto, Health::Clean) => Decision::Mount(format!("{name} is clean")),
        (FsckPolicy::Auto, Health::Unknown) => {
            Decision::Mount(format!("{name}: no clean flag to read; left to the kernel"))
        }
        (FsckPolicy::Always, Health::Unknown) => Decision::Refuse(format!(
            "{name}: --fsck=always, but there is no checker for it (--fsck=auto mounts it unchecked)"
        )),
        (_, health) => {
            let why = match health {
                Health::NotClean(why) => format!("{name} is not clean ({why})"),
                _ => format!("{name}: --fsck=always"),
            };
            if !read_only {
                Decision::Check(why)
            } else if policy == FsckPolicy::Always {
                Decision::Refuse(format!(
                    "{why}: attached read-only, so it cannot be checked (--fsck=auto mounts it unchecked)"
                ))
            } else {
                Decision::Warn(format!("{why}; attached read-only, so not checked"))
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An ext2/3/4 superblock with these feature words.
    pub(crate) fn ext(compat: u32, incompat: u32, ro_compat: u32) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        b[EXT_SB + 0x38..EXT_SB + 0x3A].copy_from_slice(&EXT_MAGIC.to_le_bytes());
        b[EXT_SB + 0x5C..EXT_SB + 0x60].copy_from_slice(&compat.to_le_bytes());
        b[EXT_SB + 0x60..EXT_SB + 0x64].copy_from_slice(&incompat.to_le_bytes());
        b[EXT_SB + 0x64..EXT_SB + 0x68].copy_from_slice(&ro_compat.to_le_bytes());
        b
    }

    #[test]
    fn sizes_and_io_units() {
        let mut e = ext(0x3C, 0x2C2, 0x46B);
        e[EXT_SB + 0x04..EXT_SB + 0x08].copy_from_slice(&65536u32.to_le_bytes());
        assert_eq!((fs_size(&e, probe(&e)), io_unit(&e, probe(&e))), (Some(64 << 20), Some(1024)));
        e[EXT_SB + 0x150..EXT_SB + 0x154].copy_from_slice(&1u32.to_le_bytes());
        assert_eq!(fs_size(&e, probe(&e)), Some(((1u64 << 32) + 65536) * 1024), "64bit");
        e[EXT_SB + 0x18] = 2;
        assert_eq!(io_unit(&e, probe(&e)), Some(4096));
        e[EXT_SB + 0x18] = 40; // nonsense: not taken
        assert_eq!(io_unit(&e, probe(&e)), None);
        let mut x = vec![0u8; 4096];
        x[..4].copy_from_slice(b"XFSB");
        x[4..8].copy_from_slice(&4096u32.to_be_bytes());
        x[8..16].copy_from_slice(&81920u64.to_be_bytes());
        x[102..104].copy_from_slice(&512u16.to_be_bytes());
        assert_eq!((fs_size(&x, probe(&x)), io_unit(&x, probe(&x))), (Some(320 << 20), Some(512)));
        assert_eq!(growth(&x, probe(&x)), Some(Growth::Xfs { block: 4096, dblocks: 81920, agblocks: 0 }));
        let mut b = vec![0u8; 0x10100];
        b[0x10040..0x10048].copy_from_slice(b"_BHRfS_M");
        b[0x10070..0x10078].copy_from_slice(&(256u64 << 20).to_le_bytes());
        b[0x10090..0x10094].copy_from_slice(&4096u32.to_le_bytes());
        assert_eq!((fs_size(&b, probe(&b)), io_unit(&b, probe(&b))), (Some(256 << 20), Some(4096)));
        assert_eq!((fs_size(&[0u8; 4096], Found::Unknown), io_unit(&[0u8; 4096], Found::Unknown)), (None, None));
    }

    #[test]
    fn ext_family() {
        // mke2fs -t ext2 defaults: ext_attr, resize_inode, dir_index; filetype; sparse_super, large_file.
        assert_eq!(probe(&ext(0x38, 0x2, 0x3)), Found::Mountable("ext2"));
        // ext3: + has_journal.
        assert_eq!(probe(&ext(0x3C, 0x2, 0x3)), Found::Mountable("ext3"));
        // ext3 with a journal to recover is still ext3.
        assert_eq!(probe(&ext(0x3C, 0x6, 0x3)), Found::Mountable("ext3"));
        // ext4 defaults: extents, 64bit, flex_bg; huge_file, dir_nlink, extra_isize, metadata_csum.
        assert_eq!(probe(&ext(0x3C, 0x2C2, 0x46B)), Found::Mountable("ext4"));
        // extents without a journal is ext4 too.
        assert_eq!(probe(&ext(0x38, 0x42, 0x3)), Found::Mountable("ext4"));
        // ext3 features plus metadata_csum (ro_compat) is ext4.
        assert_eq!(probe(&ext(0x3C, 0x2, 0x403)), Found::Mountable("ext4"));
        assert_eq!(probe(&ext(0x0, 0x8, 0x0)), Found::JournalDevice);
    }

    /// What probe finds in zeroes with `magic` at `off`.
    fn with(off: usize, magic: &[u8]) -> Found {
        let mut b = vec![0u8; PROBE_LEN];
        b[off..off + magic.len()].copy_from_slice(magic);
        probe(&b)
    }

    #[test]
    fn other_signatures_are_found() {
        assert_eq!(with(4086, b"SWAPSPACE2"), Found::Other("swap"));
        assert_eq!(with(65_526, b"SWAPSPACE2"), Found::Other("swap"));
        assert_eq!(with(0, b"LUKS\xba\xbe"), Found::Other("crypto_LUKS"));
        assert_eq!(with(82, b"FAT32   "), Found::Other("vfat"));
        assert_eq!(with(3, b"NTFS    "), Found::Other("ntfs"));
        assert_eq!(with(536, b"LVM2 001"), Found::Other("LVM2_member"));
        assert_eq!(with(512, b"EFI PART"), Found::Other("gpt partition table"));
        assert_eq!(with(32_769, b"CD001"), Found::Other("iso9660"));
        assert_eq!(with(1024, &0xF2F5_2010u32.to_le_bytes()), Found::Other("f2fs"));
        assert_eq!(with(510, &[0x55, 0xAA]), Found::Other("dos partition table"));
        assert_eq!(with(0, b""), Found::Unknown);
        // A file system's own magic wins over a boot signature it carries.
        let mut b = ext(0x3C, 0x2C2, 0x46B);
        b[510] = 0x55;
        b[511] = 0xAA;
        assert_eq!(probe(&b), Found::Mountable("ext4"));
    }

    #[test]
    fn ufs() {
        assert_eq!(with(8192 + 1372, &FS_UFS1_MAGIC.to_le_bytes()), Found::Ufs(1));
        assert_eq!(with(262_144 + 1372, &FS_UFS2_MAGIC.to_be_bytes()), Found::Ufs(2));
    }

    fn ext_state(state: u16) -> Vec<u8> {
        let mut b = ext(0x3C, 0x2C2, 0x46B);
        b[EXT_SB + EXT_STATE..EXT_SB + EXT_STATE + 2].copy_from_slice(&state.to_le_bytes());
        b
    }

    #[test]
    fn ext_health() {
        let f = Found::Mountable("ext4");
        assert_eq!(health(&ext_state(1), f), Health::Clean);
        assert_eq!(health(&ext_state(0), f), Health::NotClean("not cleanly unmounted".into()));
        assert_eq!(health(&ext_state(3), f), Health::NotClean("errors recorded".into()));
        assert_eq!(health(&ext_state(2), f), Health::NotClean("not cleanly unmounted, errors recorded".into()));
        assert_eq!(health(&ext_state(1)[..EXT_SB + EXT_STATE + 1], f), Health::Unknown);
        assert_eq!(health(&ext_state(0), Found::Mountable("xfs")), Health::Unknown);
    }

    /// A UFS2 superblock at 64 KiB with these fields, little- or big-endian.
    pub(crate) fn ufs2(clean: u8, old_flags: u8, flags: u32, big: bool) -> Vec<u8> {
        let at = 65_536;
        let mut b = vec![0u8; PROBE_LEN];
        let put = |v: u32| if big { v.to_be_bytes() } else { v.to_le_bytes() };
        b[at + UFS_MAGIC_OFF..at + UFS_MAGIC_OFF + 4].copy_from_slice(&put(FS_UFS2_MAGIC));
        b[at + UFS_CLEAN_OFF] = clean;
        b[at + UFS_OLD_FLAGS_OFF] = old_flags;
        b[at + UFS_FLAGS_OFF..at + UFS_FLAGS_OFF + 4].copy_from_slice(&put(flags));
        b
    }

    #[test]
    fn ufs_health() {
        let f = Found::Ufs(2);
        // newfs -U: FS_DOSOFTDEP, flags moved to fs_flags.
        assert_eq!(health(&ufs2(1, 0x80, 0x2, true), f), Health::Clean);
        assert_eq!(health(&ufs2(1, 0x80, 0x4, true), f), Health::NotClean("FS_NEEDSFSCK".into()));
        // Flags not yet moved: fs_old_flags holds them, fs_flags is ignored.
        assert_eq!(health(&ufs2(1, 0x04, 0x0, false), f), Health::NotClean("FS_NEEDSFSCK".into()));
        assert_eq!(health(&ufs2(1, 0x00, 0x4, false), f), Health::Clean);
        assert_eq!(probe(&ufs2(1, 0x80, 0, true)), Found::Ufs(2));
    }

    #[test]
    fn decisions() {
        use FsckPolicy::*;
        let e = Found::Mountable("ext4");
        assert!(matches!(decide(Auto, e, &Health::Clean, false), Decision::Mount(_)));
        assert!(matches!(decide(Never, e, &Health::Clean, false), Decision::Mount(_)));
        assert!(matches!(decide(Always, e, &Health::Clean, true), Decision::Refuse(_)));
        let x = Found::Mountable("xfs");
        assert!(matches!(decide(Auto, x, &Health::Unknown, false), Decision::Mount(_)));
        assert!(matches!(decide(Always, x, &Health::Unknown, false), Decision::Refuse(_)));
    }

    #[test]
    fn garbage() {
        assert_eq!(probe(&[]), Found::Unknown);
        assert_eq!(probe(&[0u8; 100]), Found::Unknown);
        let noise: Vec<u8> = (0..PROBE_LEN as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        assert_eq!(probe(&noise), Found::Unknown);
        // A magic with the feature words cut off reads them as zero (no panic).
        let mut b = vec![0u8; EXT_SB + 0x3A];
        b[EXT_SB + 0x38..].copy_from_slice(&EXT_MAGIC.to_le_bytes());
        assert_eq!(probe(&b), Found::Mountable("ext2"));
    }

    /// UFS2 as FreeBSD lays it out (sys/ufs/ffs/fs.h `struct fs` at 64
    /// KiB): the size is `fs_size` fragments of `fs_fsize` bytes, and
    /// growfs leaves out a last cylinder group with no room for a data
    /// block (sbin/growfs/growfs.c `main`).
    #[test]
    fn ufs_sizes_and_growth() {
        let mut b = ufs2(1, 0x80, 0, false);
        let at = 65_536;
        b[at + 52..at + 56].copy_from_slice(&4096i32.to_le_bytes());
        b[at + 20..at + 24].copy_from_slice(&1024i32.to_le_bytes());
        b[at + 188..at + 192].copy_from_slice(&16384i32.to_le_bytes());
        b[at + 1080..at + 1088].copy_from_slice(&16384i64.to_le_bytes());
        let found = probe(&b);
        assert_eq!(fs_size(&b, found), Some(64 << 20));
        let g = growth(&b, found).unwrap();
        assert_eq!(g.grown(128 << 20, true), 128 << 20);
        assert_eq!(g.grown(65 << 20, false), 64 << 20, "a group of 256 fragments is left out");
        assert_eq!(g.grown(72 << 20, false), 72 << 20);
    }
}
