//! Pure request builders for the Linux calls: what `LOOP_CONFIGURE` gets
//! (`struct loop_info64`) and what mount(2) gets, built once and used both
//! by the real call and by its `-N`/`-X` description, so the two cannot
//! disagree.
use super::loopdev::{self, LoopInfo64};
use super::mount;
use crate::plan::TmpfsMount;
use nix::mount::MsFlags;

/// The image's size handling for `-s`: `(grow the file to, lo_sizelimit)`.
/// With `-s` the device is exactly that large (the file grown sparsely
/// first if it is shorter); without, the whole file (sizelimit 0). `len`
/// is `None` when the image cannot be looked at (a dry run of a missing
/// one).
pub fn sizing(size: Option<u64>, len: Option<u64>) -> (Option<u64>, u64) {
    match (size.filter(|s| *s > 0), len) {
        (Some(s), Some(l)) if s > l => (Some(s), s),
        (Some(s), _) => (None, s),
        (None, _) => (None, 0),
    }
}

/// `struct loop_info64` for LOOP_CONFIGURE: always autoclear, read-only
/// if asked, `extra` flags (`LO_FLAGS_DIRECT_IO`), the size limit, and the
/// mark in `lo_file_name`.
pub fn loop_info(read_only: bool, sizelimit: u64, mark: &[u8], extra: u32) -> LoopInfo64 {
    let ro = if read_only { loopdev::LO_FLAGS_READ_ONLY } else { 0 };
    LoopInfo64::new(loopdev::LO_FLAGS_AUTOCLEAR | ro | extra, sizelimit, mark)
}

/// `flags=AUTOCLEAR|READ_ONLY[, sizelimit=N], lo_file_name="…"`.
pub fn describe_info(info: &LoopInfo64) -> String {
    let names = [
        (loopdev::LO_FLAGS_AUTOCLEAR, "AUTOCLEAR"),
        (loopdev::LO_FLAGS_READ_ONLY, "READ_ONLY"),
        (loopdev::LO_FLAGS_DIRECT_IO, "DIRECT_IO"),
    ];
    let flags: Vec<&str> = names.iter().filter(|(f, _)| info.lo_flags & f != 0).map(|(_, n)| *n).collect();
    let limit = if info.lo_sizelimit > 0 { format!(", sizelimit={}", info.lo_sizelimit) } else { String::new() };
    let name = String::from_utf8_lossy(info.lo_file_name.split(|&c| c == 0).next().unwrap_or_default());
    format!("flags={}{limit}, lo_file_name={}", flags.join("|"), mount::quoted(&name))
}

/// What mount(2) gets for a tmpfs: its `-o`, with `size=` from `-s`.
pub fn tmpfs_call(t: &TmpfsMount) -> mount::Split {
    let mut s = mount::split(&t.options);
    s.data.extend(t.size.map(|size| format!("size={size}")));
    s
}

/// What mount(2) gets for `-o` on a device that may be read-only, and
/// whether MS_RDONLY was added because the device is read-only.
pub fn mount_call(options: &[String], device_read_only: bool) -> (mount::Split, bool) {
    let mut s = mount::split(options);
    let forced_ro = device_read_only && !s.flags.contains(MsFlags::MS_RDONLY);
    if forced_ro {
        s.flags |= MsFlags::MS_RDONLY;
    }
    (s, forced_ro)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(sizing(None, Some(10)), (None, 0));
        assert_eq!(sizing(Some(0), Some(10)), (None, 0));
        assert_eq!(sizing(Some(10), Some(10)), (None, 10));
        assert_eq!(sizing(Some(5), Some(10)), (None, 5));
        assert_eq!(sizing(Some(20), Some(10)), (Some(20), 20));
        assert_eq!(sizing(Some(20), None), (None, 20));
    }

    #[test]
    fn mount_calls() {
        let (c, forced_ro) = mount_call(&["noatime".into(), "errors=remount-ro".into(), "nofail".into()], true);
        assert_eq!(c.flags, MsFlags::MS_NOATIME | MsFlags::MS_RDONLY);
        assert_eq!((c.data_string().as_str(), c.dropped.len(), forced_ro), ("errors=remount-ro", 1, true));
        assert!(!mount_call(&["ro".into()], true).1);
    }
}
