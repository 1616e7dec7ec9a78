//! The ownership mark: the text mount_md stores in every unit it attaches,
//! so that later runs (`-u`, reuse of a leftover, `--list`) can tell its
//! units from those other tools made, and which mount point each serves.
//!
//! Where it lives:
//! * Linux: `lo_file_name` of `struct loop_info64` (64 bytes with the NUL;
//!   linux/drivers/block/loop.c `loop_set_status_from_info` copies it, and
//!   `LOOP_GET_STATUS64` returns it). util-linux's `losetup -l` shows the
//!   backing file from sysfs, not this field, so nothing a user reads changes.
//! * FreeBSD: `md_label` of `struct md_ioctl` (sys/dev/md/md.c
//!   `kern_mdattach_locked` copies it into the unit; `mdconfig -lv` prints it
//!   in its last column).
//!
//! The format is `mount_md:` followed by the mount point's bytes. A path
//! that other tools store there (losetup puts the backing file's absolute
//! path, beginning with `/`) can never begin with `mount_md:`.
//!
//! On FreeBSD the mark also names the image exactly:
//! `mount_md:dev=<st_dev>,ino=<st_ino>:<mount point>` ([`encode_with_file`],
//! [`file()`]). md(4)'s own ident (`MD-DEV…-INO…`) is cut to 31 characters,
//! which on ZFS leaves a digit or two of the inode, and the path md(4)
//! keeps may name another file by now; the mark holds the device and inode
//! of the file the unit was attached with, whole. (A mount point is an
//! absolute path, so it never begins with `dev=`.) Linux needs no such
//! part: `LOOP_GET_STATUS64` reports `lo_device` and `lo_inode` whole.
//!
//! A mount point too long for the field (on Linux, more than 53 bytes) is
//! cut, and the mark then ends in `#` and 16 hex digits: the 64-bit FNV-1a
//! hash of the whole mount point, so that a cut mark still names exactly
//! one directory ([`Mark::names`]). A cut mark without the hash (written
//! before it was added) names every directory it is a prefix of; the
//! lifecycle refuses to choose between several of those.
#![forbid(unsafe_code)]
use crate::unit::FileId;

/// What every mark begins with.
pub const PREFIX: &[u8] = b"mount_md:";

/// Bytes of `lo_file_name` (linux/include/uapi/linux/loop.h `LO_NAME_SIZE`),
/// the NUL included.
pub const LINUX_CAPACITY: usize = 64;

/// Bytes mount_md gives `md_label` (PATH_MAX, as mdconfig's buffer), the
/// NUL included.
pub const FREEBSD_CAPACITY: usize = 1024;

pub use crate::unit::Mark;

/// `#` and 16 hex digits.
const HASH_LEN: usize = 17;

/// The 64-bit FNV-1a hash of a mount point, as cut marks carry it. Not a
/// defence against anyone (only root writes marks): it tells apart long
/// mount points that share their first bytes.
pub fn hash(mount_point: &[u8]) -> u64 {
    mount_point.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// The bytes to store for `mount_point` in a field of `capacity` bytes
/// (NUL included): the result is at most `capacity - 1` bytes and holds no
/// NUL (a mount point never does). A mark that would fill the field is cut
/// and ends in the hash of the whole mount point.
pub fn encode(mount_point: &[u8], capacity: usize) -> Vec<u8> {
    let room = capacity.saturating_sub(1);
    let mut out = [PREFIX, mount_point].concat();
    if out.len() < room {
        return out;
    }
    let head = room.saturating_sub(PREFIX.len() + HASH_LEN).min(mount_point.len());
    out.truncate(PREFIX.len() + head);
    out.extend_from_slice(format!("#{:016x}", hash(mount_point)).as_bytes());
    out.truncate(room.max(PREFIX.len()));
    out
}

/// [`encode`], with the identity of the image the unit is attached with
/// after the prefix (`dev=<st_dev>,ino=<st_ino>:`); a mount point too long
/// for what is left is cut as [`encode`] cuts it.
pub fn encode_with_file(mount_point: &[u8], file: FileId, capacity: usize) -> Vec<u8> {
    let id = file_part(file);
    let mut out = encode(mount_point, capacity.saturating_sub(id.len()));
    out.splice(PREFIX.len()..PREFIX.len(), id);
    out
}

fn file_part(file: FileId) -> Vec<u8> {
    format!("dev={},ino={}:", file.dev, file.ino).into_bytes()
}

/// The identity part of a mark after its prefix, and what follows it.
fn split_file(rest: &[u8]) -> (Option<FileId>, &[u8]) {
    let parsed = (|| {
        let colon = rest.iter().position(|&b| b == b':')?;
        let text = std::str::from_utf8(&rest[..colon]).ok()?;
        let (dev, ino) = text.strip_prefix("dev=")?.split_once(",ino=")?;
        let file = FileId { dev: dev.parse().ok()?, ino: ino.parse().ok()? };
        (file_part(file) == rest[..=colon]).then_some((file, &rest[colon + 1..]))
    })();
    parsed.map_or((None, rest), |(file, tail)| (Some(file), tail))
}

/// The image a marked unit was attached with, as the mark names it
/// ([`encode_with_file`]); `None` for a mark without it (Linux, or written
/// before it was added) or no mark.
pub fn file(field: &[u8]) -> Option<FileId> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    split_file(field[..end].strip_prefix(PREFIX)?).0
}

/// Reads a field back: the bytes up to the first NUL (or all of them).
/// `None` when the unit was not marked by mount_md. The image's identity,
/// if the mark has one, is read by [`file()`].
pub fn decode(field: &[u8], capacity: usize) -> Option<Mark> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    let rest = split_file(field[..end].strip_prefix(PREFIX)?).1;
    if end < capacity.saturating_sub(1) {
        return Some(Mark { mount_point: rest.to_vec(), truncated: false, hash: None });
    }
    let hashed = rest.len().checked_sub(HASH_LEN).and_then(|at| {
        let (head, tail) = rest.split_at(at);
        let hex = tail.strip_prefix(b"#")?;
        let h = u64::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
        (hex.iter().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())).then_some((head, h))
    });
    let (head, h) = hashed.map_or((rest, None), |(head, h)| (head, Some(h)));
    Some(Mark { mount_point: head.to_vec(), truncated: true, hash: h })
}

impl Mark {
    /// Whether this mark names `mount_point`: equal; for a cut mark, a
    /// prefix of it with the same hash; for a cut mark without a hash, any
    /// directory it is a prefix of.
    pub fn names(&self, mount_point: &[u8]) -> bool {
        match (self.truncated, self.hash) {
            (false, _) => mount_point == self.mount_point.as_slice(),
            (true, Some(h)) => mount_point.starts_with(&self.mount_point) && hash(mount_point) == h,
            (true, None) => mount_point.starts_with(&self.mount_point),
        }
    }

    /// Names one directory only (a whole mark, or a cut one with its hash).
    pub fn is_exact(&self) -> bool {
        !self.truncated || self.hash.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let field = encode(b"/var/jails/j1", LINUX_CAPACITY);
        assert_eq!(field, b"mount_md:/var/jails/j1");
        let m = decode(&field, LINUX_CAPACITY).unwrap();
        assert_eq!(m, Mark { mount_point: b"/var/jails/j1".to_vec(), truncated: false, hash: None });
        assert!(m.names(b"/var/jails/j1"));
        assert!(!m.names(b"/var/jails/j10"));
    }

    #[test]
    fn cut_to_the_field_with_the_hash_of_the_whole() {
        let long = vec![b'a'; 100];
        let field = encode(&long, LINUX_CAPACITY);
        assert_eq!(field.len(), LINUX_CAPACITY - 1);
        assert!(field.ends_with(format!("#{:016x}", hash(&long)).as_bytes()));
        let mut raw = field.clone();
        raw.push(0);
        let m = decode(&raw, LINUX_CAPACITY).unwrap();
        assert!(m.truncated && m.is_exact());
        assert_eq!(m.mount_point.len(), LINUX_CAPACITY - 1 - PREFIX.len() - HASH_LEN);
        assert!(m.names(&long));
        assert!(!m.names(b"b"));
        // Two long mount points with the same head are told apart.
        let mut other = long.clone();
        other[99] = b'b';
        assert!(!m.names(&other));
        assert!(decode(&encode(&other, LINUX_CAPACITY), LINUX_CAPACITY).unwrap().names(&other));
        // A mark that would fill the field exactly is cut too, so a whole
        // mark is always shorter than the field.
        let exact = vec![b'c'; LINUX_CAPACITY - 1 - PREFIX.len()];
        let m = decode(&encode(&exact, LINUX_CAPACITY), LINUX_CAPACITY).unwrap();
        assert!(m.truncated && m.names(&exact));
        let fits = vec![b'c'; LINUX_CAPACITY - 2 - PREFIX.len()];
        assert_eq!(decode(&encode(&fits, LINUX_CAPACITY), LINUX_CAPACITY).unwrap().mount_point, fits);
    }

    #[test]
    fn a_freebsd_mark_names_the_image_exactly() {
        let id = FileId { dev: 12_736_845_312_519_347_813, ino: 1234 };
        let field = encode_with_file(b"/var/jails/j1", id, FREEBSD_CAPACITY);
        assert_eq!(field, b"mount_md:dev=12736845312519347813,ino=1234:/var/jails/j1");
        assert_eq!(file(&field), Some(id));
        let m = decode(&field, FREEBSD_CAPACITY).unwrap();
        assert_eq!(m, Mark { mount_point: b"/var/jails/j1".to_vec(), truncated: false, hash: None });
        // No mount point (an offline grow's unit).
        let field = encode_with_file(b"", id, FREEBSD_CAPACITY);
        assert_eq!(file(&field), Some(id));
        assert_eq!(decode(&field, FREEBSD_CAPACITY).unwrap().mount_point, b"");
        // Older marks have no identity; a mount point is never taken for one.
        assert_eq!(file(b"mount_md:/var/jails/j1"), None);
        assert_eq!(file(b"mount_md:dev=1,ino=x:/j"), None);
        assert_eq!(file(b"/images/j1.img"), None);
        // Cut to the field: the identity stays whole, the mount point is cut
        // with its hash.
        let long = vec![b'a'; 2000];
        let field = encode_with_file(&long, id, FREEBSD_CAPACITY);
        assert_eq!(field.len(), FREEBSD_CAPACITY - 1);
        assert_eq!(file(&field), Some(id));
        let m = decode(&field, FREEBSD_CAPACITY).unwrap();
        assert!(m.truncated && m.is_exact() && m.names(&long));
    }

    #[test]
    fn others_are_not_ours() {
        assert_eq!(decode(b"/srv/img\0\0\0", LINUX_CAPACITY), None);
        assert_eq!(decode(b"", LINUX_CAPACITY), None);
        assert_eq!(decode(b"mount_md", LINUX_CAPACITY), None);
        let empty = decode(b"mount_md:\0", FREEBSD_CAPACITY).unwrap();
        assert_eq!(empty.mount_point, b"");
    }
}
