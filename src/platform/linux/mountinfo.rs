//! /proc/self/mountinfo, read the way the kernel writes it: fields split on
//! spaces, with space, tab, newline and backslash in paths escaped as octal.
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// One mounted file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Where it is mounted.
    pub target: PathBuf,
    /// The mount source (`/dev/loop3`, `tmpfs`).
    pub source: String,
    pub fstype: String,
}

/// Undoes the kernel's `\ooo` escapes.
fn unescape(field: &str) -> Vec<u8> {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b.get(i + 1..i + 4).filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Parses mountinfo text.
pub fn parse(text: &str) -> Vec<Entry> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let target = left.split(' ').nth(4)?;
            let mut right = right.split(' ');
            let fstype = right.next()?.to_string();
            let source = String::from_utf8_lossy(&unescape(right.next()?)).into_owned();
            Some(Entry { target: PathBuf::from(OsString::from_vec(unescape(target))), source, fstype })
        })
        .collect()
}

/// This process's mounts, in mount order.
pub fn mounts() -> Vec<Entry> {
    super::kfile::read_string("/proc/self/mountinfo").map(|t| parse(&t)).unwrap_or_default()
}

/// Mount points of `/dev/loopN`.
pub fn targets_of(unit: u32) -> Vec<PathBuf> {
    let source = format!("/dev/loop{unit}");
    mounts().into_iter().filter(|e| e.source == source).map(|e| e.target).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_unescapes() {
        let text = "36 35 98:0 / /mnt/a\\040b rw,noatime master:1 - ext4 /dev/loop3 rw\n\
                    37 35 0:5 / /t\\134x rw - tmpfs tmpfs rw,size=1024k\n";
        let e = parse(text);
        assert_eq!(e[0], Entry { target: "/mnt/a b".into(), source: "/dev/loop3".into(), fstype: "ext4".into() });
        assert_eq!(e[1].target, PathBuf::from("/t\\x"));
        assert_eq!(e[1].source, "tmpfs");
    }
}
