//! What a file system's grower makes of it on a larger disk: [`Growth`].
#![forbid(unsafe_code)]
use super::{be32, fs_size, io_unit, le16, le32, ufs_super, xfs_blocks, Found, EXT_SB};

/// What growfs reads of a UFS superblock (FreeBSD sys/ufs/ffs/fs.h
/// `struct fs`): `fs_fsize` (int32 at 52), `fs_dblkno` (int32 at 20),
/// `fs_fpg` (int32 at 188), and the size in fragments: UFS2 `fs_size`
/// (int64 at 1080), UFS1 `fs_old_size` (int32 at 36).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UfsGeometry {
    pub fsize: u64,
    pub frags: u64,
    pub fpg: u64,
    pub dblkno: u64,
}

pub(super) fn ufs_geometry(buf: &[u8]) -> Option<UfsGeometry> {
    let (at, big, version) = ufs_super(buf)?;
    let read = if big { be32 } else { le32 };
    let i32_at = |o: usize| u64::try_from(read(buf, at + o)? as i32).ok();
    let frags = if version == 2 {
        let b: [u8; 8] = buf.get(at + 1080..at + 1088)?.try_into().ok()?;
        u64::try_from(if big { i64::from_be_bytes(b) } else { i64::from_le_bytes(b) }).ok()?
    } else {
        i32_at(36)?
    };
    let g = UfsGeometry { fsize: i32_at(52)?, frags, fpg: i32_at(188)?, dblkno: i32_at(20)? };
    (g.fsize.is_power_of_two() && g.fsize >= 512 && g.fpg > 0).then_some(g)
}

/// What a file system's grower makes of it on a larger disk, from the
/// superblock fields its rule reads ([`growth`]). A grower does not always
/// fill the disk: it leaves out a last block group or allocation group too
/// small to be worth its bookkeeping, so "the file system is smaller than
/// the disk" does not by itself say a grow was cut short; [`Growth::grown`]
/// says what the grower would make, and a file system smaller than that
/// has a grow to finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Growth {
    /// ext2/3/4 (ext4.h `struct ext4_super_block`).
    Ext {
        block: u64,
        blocks: u64,
        first_data_block: u64,
        blocks_per_group: u64,
        /// Blocks of inode table per group.
        itb_per_group: u64,
        /// Group descriptors per block.
        desc_per_block: u64,
        reserved_gdt: u64,
        /// Which groups hold a superblock backup.
        backups: Backups,
        /// Blocks per cluster (bigalloc), else 1.
        cluster: u64,
        /// No 64bit feature: at most 2^32 - 1 blocks.
        blocks_32: bool,
    },
    /// XFS (xfs_format.h `struct xfs_dsb`).
    Xfs { block: u64, dblocks: u64, agblocks: u64 },
    /// btrfs, one device (ctree.h `struct btrfs_super_block`).
    Btrfs { total_bytes: u64, sectorsize: u64 },
    /// FreeBSD UFS1/UFS2 ([`UfsGeometry`]).
    Ufs(UfsGeometry),
}

/// Which ext block groups hold a superblock and descriptor backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backups {
    /// Every group (no sparse_super).
    All,
    /// Groups 0, 1 and the powers of 3, 5 and 7 (sparse_super).
    Sparse,
    /// Group 0 and the two `s_backup_bgs` (sparse_super2).
    Listed(u64, u64),
}

impl Backups {
    fn has_super(self, group: u64) -> bool {
        let power_of = |mut g: u64, b: u64| {
            while g > 1 && g % b == 0 {
                g /= b;
            }
            g == 1
        };
        match self {
            Backups::All => true,
            Backups::Sparse => group <= 1 || power_of(group, 3) || power_of(group, 5) || power_of(group, 7),
            Backups::Listed(a, b) => group == 0 || group == a || group == b,
        }
    }
}

/// The page size resize2fs rounds a new size down to (main.c: `new_size &=
/// ~(sys_page_size / blocksize - 1)` when blocks are smaller than a page),
/// at its smallest on the systems mount_md runs on.
const PAGE: u64 = 4096;

impl Growth {
    /// The file system's size in bytes after its grower ran on a disk of
    /// `disk` bytes: online (the kernel's rule) or not (resize2fs's). Never
    /// less than its size now (growers do not shrink).
    pub fn grown(self, disk: u64, online: bool) -> u64 {
        match self {
            Growth::Ext {
                block,
                blocks,
                first_data_block,
                blocks_per_group: bpg,
                itb_per_group,
                desc_per_block,
                reserved_gdt,
                backups,
                cluster,
                blocks_32,
            } => {
                // resize2fs main.c: the device's size in blocks, rounded
                // down to whole pages and whole clusters; 2^32 - 1 at most
                // without 64bit.
                let mut n = disk / block;
                if block < PAGE {
                    n &= !(PAGE / block - 1);
                }
                n &= !(cluster.max(1) - 1);
                if blocks_32 {
                    n = n.min((1 << 32) - 1);
                }
                if n <= blocks || bpg == 0 || n <= first_data_block {
                    return blocks * block;
                }
                let groups = (n - first_data_block).div_ceil(bpg);
                let last = groups - 1;
                let desc_blocks = groups.div_ceil(desc_per_block.max(1));
                let backup = |g: u64| if backups.has_super(g) { 1 + desc_blocks + reserved_gdt } else { 0 };
                let rem = (n - first_data_block) % bpg;
                if online {
                    // linux/fs/ext4/resize.c ext4_resize_fs: a last group
                    // that cannot hold its bookkeeping is left out.
                    let first = first_data_block + last * bpg;
                    if last > 0 && first + backup(last) + 2 + itb_per_group + cluster >= n {
                        n = first;
                    }
                } else if groups > 1 && rem != 0 && rem < 2 + itb_per_group + backup(last) + 50 {
                    // resize2fs.c adjust_fs_info: the same, with 50 blocks
                    // more to spare.
                    n -= rem;
                }
                n.max(blocks) * block
            }
            Growth::Xfs { block, dblocks, agblocks } => {
                // linux/fs/xfs/xfs_fsops.c xfs_growfs_data_private: a last
                // allocation group under XFS_MIN_AG_BLOCKS (64) is left out.
                let mut n = disk / block;
                let rem = if agblocks == 0 { 0 } else { n % agblocks };
                if rem != 0 && rem < 64 {
                    n -= rem;
                }
                n.max(dblocks) * block
            }
            Growth::Ufs(UfsGeometry { fsize, frags, fpg, dblkno }) => {
                // FreeBSD sbin/growfs/growfs.c main: the disk in fragments;
                // a last cylinder group with no room for a data block
                // (`fs_size <= cgdmin(fs_ncg - 1)`) is left out. The same
                // online and offline.
                let mut n = disk / fsize;
                let ncg = n.div_ceil(fpg);
                if n % fpg != 0 && ncg > 0 && n <= (ncg - 1) * fpg + dblkno {
                    n = (ncg - 1) * fpg;
                }
                n.max(frags) * fsize
            }
            Growth::Btrfs { total_bytes, sectorsize } => {
                // linux/fs/btrfs/volumes.c btrfs_grow_device via ioctl.c
                // btrfs_ioctl_resize: "max" is the device's size, rounded
                // down to the sector size.
                let n = disk - disk % sectorsize.max(1);
                n.max(total_bytes)
            }
        }
    }
}

/// The fields of `buf`'s superblock a grower's rule reads ([`Growth`]);
/// `None` for a file system mount_md does not grow, or fields that make no
/// sense.
pub fn growth(buf: &[u8], found: Found) -> Option<Growth> {
    match found {
        Found::Mountable("ext2" | "ext3" | "ext4") => {
            let at = |o: usize| le32(buf, EXT_SB + o).map(u64::from);
            let block = u64::from(io_unit(buf, found)?);
            let compat = at(0x5C)?;
            let incompat = at(0x60)?;
            let ro_compat = at(0x64)?;
            let is_64 = incompat & 0x80 != 0;
            let inode_size = if at(0x4C)? == 0 { 128 } else { u64::from(le16(buf, EXT_SB + 0x58)?) };
            let desc_size = if is_64 { u64::from(le16(buf, EXT_SB + 0xFE)?).max(32) } else { 32 };
            let backups = if compat & 0x200 != 0 {
                Backups::Listed(at(0x24C)?, at(0x250)?)
            } else if ro_compat & 0x1 != 0 {
                Backups::Sparse
            } else {
                Backups::All
            };
            let cluster =
                if ro_compat & 0x200 != 0 { 1u64.checked_shl(at(0x1C)?.checked_sub(at(0x18)?)? as u32)? } else { 1 };
            Some(Growth::Ext {
                block,
                blocks: fs_size(buf, found)? / block,
                first_data_block: at(0x14)?,
                blocks_per_group: at(0x20)?,
                itb_per_group: (at(0x28)? * inode_size).div_ceil(block),
                desc_per_block: block / desc_size,
                reserved_gdt: u64::from(le16(buf, EXT_SB + 0xCE)?),
                backups,
                cluster,
                blocks_32: !is_64,
            })
        }
        Found::Mountable("xfs") => match xfs_blocks(buf)? {
            (0, _) => None,
            (block, dblocks) => Some(Growth::Xfs { block, dblocks, agblocks: u64::from(be32(buf, 84)?) }),
        },
        Found::Mountable("btrfs") => {
            Some(Growth::Btrfs { total_bytes: fs_size(buf, found)?, sectorsize: u64::from(le32(buf, 0x10000 + 0x90)?) })
        }
        Found::Ufs(_) => ufs_geometry(buf).map(Growth::Ufs),
        _ => None,
    }
}
