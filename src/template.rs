//! Template images (`--create --from=BASE`), the pure rules: when a base
//! may be copied ([`in_use`]) and how a copy gets a file system identity
//! of its own ([`new_identity`]). The copying itself is
//! [`crate::platform::clone`].
use crate::unit::{FileId, MountRec, UnitInfo};
use std::path::PathBuf;

/// `--clone=`: what to do when the new image cannot be a clone of its base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Clone where possible, else copy (keeping holes).
    #[default]
    Auto,
    /// Clone or fail: never spend the time and the space of a copy.
    Require,
}

/// `--from=BASE`: the image a missing `-F` image is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    pub path: PathBuf,
    pub clone: Policy,
    /// `-s`: the size the new image is grown to when that is more than
    /// its base's (by `-r`'s grow, [`crate::grow`], before the image is
    /// published); less is refused before anything is made
    /// ([`smaller_than_base`]), the same is nothing to do.
    pub size: Option<u64>,
}

/// Where the backend cannot grow an image it made from a base
/// ([`crate::platform::Platform::grow`]): `-s` with `--from` is
/// refused before anything is made.
pub const NO_GROW_MADE: &str = "--from with -s: this system does not grow a new image made from a base; \
     make it without -s, then grow it with -r";

/// The refusal of `-s size` smaller than the base's `base_len` bytes,
/// from the base's path as given; `None` when the size is fine.
pub fn smaller_than_base(base: &std::path::Path, base_len: u64, size: Option<u64>) -> Option<crate::error::Error> {
    let size = size.filter(|s| *s < base_len)?;
    Some(crate::error::Error::text(
        crate::error::quoted(base),
        format!(
            "is {base_len} bytes, more than -s {size}: an image made from a base is never smaller; \
             give -s {base_len}B or more, or no -s; nothing made"
        ),
    ))
}

/// Why `base` may not be copied now (the message after `<base>: `), or
/// `None`: the first unit (as the kernel reports them) that has the file
/// attached read-write, by mount_md or any other tool, and where it is
/// mounted ([`MountRec::belongs_to`]; not mounted, it can still be written
/// through the device). A base attached read-only is fine: nothing can
/// change it while it is copied.
pub fn in_use(base: FileId, units: &[UnitInfo], mounts: &[MountRec]) -> Option<String> {
    let u = units.iter().find(|u| u.backing == Some(base) && !u.device.read_only)?;
    let on: Vec<String> = mounts.iter().filter(|m| m.belongs_to(u)).map(|m| crate::error::quoted(&m.on)).collect();
    let where_ = if on.is_empty() { "not mounted".to_string() } else { format!("mounted on {}", on.join(", ")) };
    Some(format!(
        "is attached read-write as {} ({where_}): a copy of it could be torn; detach it or attach it read-only first",
        u.device.path.display()
    ))
}

/// How a copy of a base gets its own file system identity, so that base
/// and copies can be mounted side by side (XFS refuses to mount a second
/// file system with a UUID already mounted; btrfs ties devices to
/// file systems by it; ext4 and `mount UUID=` tell them apart by it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// Run `program` with `args` then the device, on the attached copy
    /// before its first mount.
    Run { program: &'static str, args: &'static [&'static str] },
    /// Nothing to do (why: [`new_identity`]).
    Kept,
}

/// ext4's `metadata_csum` (`EXT4_FEATURE_RO_COMPAT_METADATA_CSUM`, in
/// `s_feature_ro_compat` at 0x64 of the superblock at 1024).
const EXT4_METADATA_CSUM: u32 = 0x400;

/// For the file system whose first bytes are `start`:
///
/// * ext2/3/4: `tune2fs -U random`; with `metadata_csum`,
///   `tune2fs -O metadata_csum_seed -U random`, since without a checksum
///   seed tune2fs rewrites every checksum and wants a fresh `e2fsck -f`
///   first (it refuses a file system mounted since its last check:
///   "This operation requires a freshly checked filesystem"); with the
///   seed the change is one superblock write (Linux 4.4 and later mount
///   it);
/// * XFS: `xfs_admin -U generate` (on a v5 file system it sets the
///   `meta_uuid` feature, so only the superblocks are written; Linux 4.3);
/// * btrfs: `btrfstune -m` (a new fsid, the old one kept as
///   `metadata_uuid`, so only the superblocks are written; Linux 5.0),
///   rather than `-u`, which rewrites every metadata block;
/// * UFS: nothing can and nothing need be done: tunefs(8) has no option
///   for `fs_id`, and `ffs_mountfs` (sys/ufs/ffs/ffs_vfsops.c) gives a
///   file system whose `fs_id` is already mounted a new fsid
///   (`vfs_getnewfsid`), so copies mount side by side (only GEOM's
///   `/dev/ufsid/` names, taken from `fs_id`, are shared);
/// * anything else: kept as it is.
pub fn new_identity(start: &[u8]) -> Identity {
    use crate::superblock::{le32, probe, Found};
    match probe(start) {
        Found::Mountable("ext2" | "ext3" | "ext4") => {
            let ro_compat = le32(start, 1024 + 0x64).unwrap_or(0);
            let args: &'static [&'static str] = if ro_compat & EXT4_METADATA_CSUM != 0 {
                &["-O", "metadata_csum_seed", "-U", "random"]
            } else {
                &["-U", "random"]
            };
            Identity::Run { program: "tune2fs", args }
        }
        Found::Mountable("xfs") => Identity::Run { program: "xfs_admin", args: &["-U", "generate"] },
        Found::Mountable("btrfs") => Identity::Run { program: "btrfstune", args: &["-m"] },
        // UFS (a copy gets a fsid of its own) and anything else.
        _ => Identity::Kept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mark::Mark;
    use crate::unit::{Device, Owner};

    fn unit(n: u32, backing: u64, ro: bool, owner: Owner) -> UnitInfo {
        UnitInfo {
            device: Device { unit: n, path: format!("/dev/loop{n}").into(), read_only: ro },
            rdev: 0x700 + u64::from(n),
            backing: Some(FileId { dev: 1, ino: backing }),
            owner,
            autoclear: true,
            backing_exact: true,
        }
    }

    fn mount(dev: u64, on: &str) -> MountRec {
        MountRec { id: dev, on: on.into(), dev, fstype: "ext4".into(), source: String::new(), options: Vec::new() }
    }

    #[test]
    fn a_base_attached_read_write_anywhere_is_refused() {
        let base = FileId { dev: 1, ino: 42 };
        let ours = Owner::Ours(Mark { mount_point: b"/j/base".to_vec(), truncated: false, hash: None });
        let units = [unit(0, 7, false, Owner::Foreign), unit(3, 42, false, ours), unit(4, 42, true, Owner::Foreign)];
        let mounts = [mount(0x703, "/j/base"), mount(0x700, "/elsewhere")];
        let w = in_use(base, &units, &mounts).unwrap();
        // Its message whole is tests/freebsd_double/template.rs's.
        assert!(w.contains(" /dev/loop3 (mounted on /j/base):"), "{w}");
        // Another tool's unit counts the same, mounted or not.
        let units = [unit(5, 42, false, Owner::Foreign)];
        let w = in_use(base, &units, &[]).unwrap();
        assert!(w.contains("/dev/loop5 (not mounted)"), "{w}");
    }

    #[test]
    fn read_only_or_other_files_are_fine() {
        let base = FileId { dev: 1, ino: 42 };
        let units = [unit(4, 42, true, Owner::Foreign), unit(5, 43, false, Owner::Foreign)];
        assert_eq!(in_use(base, &units, &[mount(0x704, "/ro")]), None);
        assert_eq!(in_use(base, &[], &[]), None);
    }

    #[test]
    fn each_file_system_its_tool() {
        // has_journal; extents, 64bit, flex_bg; with and without metadata_csum.
        let ext = |ro_compat| crate::superblock::tests::ext(4, 0x2C2, ro_compat);
        assert_eq!(
            new_identity(&ext(0x400 | 0x3)),
            Identity::Run { program: "tune2fs", args: &["-O", "metadata_csum_seed", "-U", "random"] }
        );
        assert_eq!(new_identity(&ext(0x3)), Identity::Run { program: "tune2fs", args: &["-U", "random"] });
        let mut xfs = vec![0u8; 4096];
        xfs[..4].copy_from_slice(b"XFSB");
        assert_eq!(new_identity(&xfs), Identity::Run { program: "xfs_admin", args: &["-U", "generate"] });
        let mut btrfs = vec![0u8; 0x10048];
        btrfs[0x10040..].copy_from_slice(b"_BHRfS_M");
        assert_eq!(new_identity(&btrfs), Identity::Run { program: "btrfstune", args: &["-m"] });
        let ufs = crate::superblock::tests::ufs2(1, 0x80, 0, false);
        assert!(matches!(new_identity(&ufs), Identity::Kept));
        assert!(matches!(new_identity(&[0u8; 4096]), Identity::Kept));
    }
}
