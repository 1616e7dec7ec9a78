//! Which file system an image holds, from its superblock (`-P` without
//! `-T`): ext2/ext3/ext4 told apart by feature flags as libblkid does, XFS,
//! btrfs; UFS1/UFS2 recognised so that the refusal can say what it is.

/// Bytes to read from the start of the device: enough for every magic
/// below (UFS2 may sit at 256 KiB).
pub const PROBE_LEN: usize = 262_144 + 2048;

/// Enough for the common cases (ext superblock at 1 KiB, XFS at 0), read
/// first so that a `-P` mount of an ext4 image reads 4 KiB, not 258.
pub const FIRST_LEN: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// A type Linux mounts (`ext2`, `ext3`, `ext4`, `xfs`, `btrfs`).
    Mountable(&'static str),
    /// FreeBSD's UFS1 or UFS2.
    Ufs(u8),
    /// An external ext3/4 journal device: not a file system.
    JournalDevice,
    Unknown,
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn le32(b: &[u8], at: usize) -> Option<u32> {
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

// UFS: struct fs at 8 KiB (UFS1, or UFS2 on small media), 64 KiB (UFS2)
// or 256 KiB (piggy); fs_magic at offset 1372 within it.
const UFS_SBLOCKS: [usize; 3] = [8192, 65_536, 262_144];
const UFS_MAGIC_OFF: usize = 1372;
const FS_UFS1_MAGIC: u32 = 0x0001_1954;
const FS_UFS2_MAGIC: u32 = 0x1954_0119;

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
        return Found::Mountable(if compat & COMPAT_HAS_JOURNAL != 0 {
            if incompat & !EXT3_INCOMPAT == 0 && old_ro {
                "ext3"
            } else {
                "ext4"
            }
        } else if incompat & !EXT2_INCOMPAT == 0 && old_ro {
            "ext2"
        } else {
            "ext4"
        });
    }
    if be32(buf, 0) == Some(0x5846_5342) {
        return Found::Mountable("xfs"); // "XFSB"
    }
    if buf.get(0x10040..0x10048) == Some(b"_BHRfS_M") {
        return Found::Mountable("btrfs");
    }
    for at in UFS_SBLOCKS {
        let at = at + UFS_MAGIC_OFF;
        for m in [le32(buf, at), be32(buf, at)].into_iter().flatten() {
            match m {
                FS_UFS1_MAGIC => return Found::Ufs(1),
                FS_UFS2_MAGIC => return Found::Ufs(2),
                _ => {}
            }
        }
    }
    Found::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(compat: u32, incompat: u32, ro_compat: u32) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        b[EXT_SB + 0x38..EXT_SB + 0x3A].copy_from_slice(&EXT_MAGIC.to_le_bytes());
        b[EXT_SB + 0x5C..EXT_SB + 0x60].copy_from_slice(&compat.to_le_bytes());
        b[EXT_SB + 0x60..EXT_SB + 0x64].copy_from_slice(&incompat.to_le_bytes());
        b[EXT_SB + 0x64..EXT_SB + 0x68].copy_from_slice(&ro_compat.to_le_bytes());
        b
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

    #[test]
    fn xfs_and_btrfs() {
        let mut b = vec![0u8; 4096];
        b[..4].copy_from_slice(b"XFSB");
        assert_eq!(probe(&b), Found::Mountable("xfs"));
        let mut b = vec![0u8; 0x11000];
        b[0x10040..0x10048].copy_from_slice(b"_BHRfS_M");
        assert_eq!(probe(&b), Found::Mountable("btrfs"));
    }

    #[test]
    fn ufs() {
        let mut b = vec![0u8; PROBE_LEN];
        b[8192 + 1372..8192 + 1376].copy_from_slice(&FS_UFS1_MAGIC.to_le_bytes());
        assert_eq!(probe(&b), Found::Ufs(1));
        let mut b = vec![0u8; PROBE_LEN];
        b[65_536 + 1372..65_536 + 1376].copy_from_slice(&FS_UFS2_MAGIC.to_le_bytes());
        assert_eq!(probe(&b), Found::Ufs(2));
        let mut b = vec![0u8; PROBE_LEN];
        b[262_144 + 1372..262_144 + 1376].copy_from_slice(&FS_UFS2_MAGIC.to_be_bytes());
        assert_eq!(probe(&b), Found::Ufs(2));
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
}
