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
//! The format is `mount_md:` followed by the mount point's bytes, cut to
//! what the field holds. A path that other tools store there (losetup puts
//! the backing file's absolute path, beginning with `/`) can never begin
//! with `mount_md:`.
//!
//! A cut mark still says "ours"; the mount point it names is then only a
//! prefix, and callers must not treat it as exact (see [`Mark::truncated`]).
#![forbid(unsafe_code)]

/// What every mark begins with.
pub const PREFIX: &[u8] = b"mount_md:";

/// Bytes of `lo_file_name` (linux/include/uapi/linux/loop.h `LO_NAME_SIZE`),
/// the NUL included.
pub const LINUX_CAPACITY: usize = 64;

/// Bytes mount_md gives `md_label` (PATH_MAX, as mdconfig's buffer), the
/// NUL included.
pub const FREEBSD_CAPACITY: usize = 1024;

/// A decoded mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// The mount point the unit was attached for (bytes, as the path was
    /// given to the kernel); empty when it was attached for no mount (an
    /// offline grow, say).
    pub mount_point: Vec<u8>,
    /// The field was full: `mount_point` may be only a prefix.
    pub truncated: bool,
}

/// The bytes to store for `mount_point` in a field of `capacity` bytes
/// (NUL included): the result is at most `capacity - 1` bytes and holds no
/// NUL (a mount point never does).
pub fn encode(mount_point: &[u8], capacity: usize) -> Vec<u8> {
    let mut out = PREFIX.to_vec();
    out.extend_from_slice(mount_point);
    out.truncate(capacity.saturating_sub(1).max(PREFIX.len()));
    out
}

/// Reads a field back: the bytes up to the first NUL (or all of them).
/// `None` when the unit was not marked by mount_md.
pub fn decode(field: &[u8], capacity: usize) -> Option<Mark> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    let text = &field[..end];
    let rest = text.strip_prefix(PREFIX)?;
    Some(Mark { mount_point: rest.to_vec(), truncated: end >= capacity.saturating_sub(1) })
}

impl Mark {
    /// Whether this mark can name `mount_point`: equal, or (when cut) a
    /// prefix of it.
    pub fn names(&self, mount_point: &[u8]) -> bool {
        if self.truncated {
            mount_point.starts_with(&self.mount_point)
        } else {
            mount_point == self.mount_point.as_slice()
        }
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
        assert_eq!(m, Mark { mount_point: b"/var/jails/j1".to_vec(), truncated: false });
        assert!(m.names(b"/var/jails/j1"));
        assert!(!m.names(b"/var/jails/j10"));
    }

    #[test]
    fn cut_to_the_field() {
        let long = vec![b'a'; 100];
        let field = encode(&long, LINUX_CAPACITY);
        assert_eq!(field.len(), LINUX_CAPACITY - 1);
        let mut raw = field.clone();
        raw.push(0);
        let m = decode(&raw, LINUX_CAPACITY).unwrap();
        assert!(m.truncated);
        assert!(m.names(&long));
        assert!(!m.names(b"b"));
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
