//! /proc/self/mountinfo, read as bytes the way the kernel writes it
//! (fs/proc_namespace.c `show_mountinfo`): fields split on single spaces,
//! space, tab, newline and backslash in paths escaped as `\ooo`. A path is
//! any bytes (not necessarily UTF-8); the table is never guessed at: a
//! table that cannot be read or parsed is an error.
use crate::platform::MountRec;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

pub const PATH: &str = "/proc/self/mountinfo";

/// Undoes the kernel's `\ooo` escapes.
fn unescape(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b.get(i + 1..i + 4).filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0').wrapping_mul(64).wrapping_add((d[1] - b'0') * 8 + (d[2] - b'0')));
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

/// One line: `id parent major:minor root target options [optional...] -
/// fstype source superoptions`. The device number is `major:minor` as
/// `makedev(3)` builds it, comparable with `st_rdev` of a block node.
fn parse_line(line: &[u8]) -> Option<MountRec> {
    let fields: Vec<&[u8]> = line.split(|&c| c == b' ').collect();
    let sep = fields.iter().position(|f| *f == b"-").filter(|&sep| sep >= 6)?;
    let id = std::str::from_utf8(fields[0]).ok()?.parse().ok()?;
    let (major, minor) = std::str::from_utf8(fields[2]).ok()?.split_once(':')?;
    let on = PathBuf::from(OsString::from_vec(unescape(fields[4])));
    let fstype = String::from_utf8_lossy(&unescape(fields.get(sep + 1)?)).into_owned();
    let source = String::from_utf8_lossy(&unescape(fields.get(sep + 2)?)).into_owned();
    let options = String::from_utf8_lossy(fields[5]).split(',').filter(|o| !o.is_empty()).map(str::to_string).collect();
    Some(MountRec { id, dev: libc::makedev(major.parse().ok()?, minor.parse().ok()?), on, source, fstype, options })
}

/// Parses mountinfo bytes; a line that does not parse makes the whole
/// table an error (it would otherwise hide a mount).
pub fn parse(bytes: &[u8]) -> std::result::Result<Vec<MountRec>, usize> {
    bytes
        .split(|&c| c == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(n, l)| parse_line(l).ok_or(n + 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn parses_and_unescapes() {
        let text = b"36 35 7:3 / /mnt/a\\040b rw,noatime master:1 - ext4 /dev/loop3 rw\n\
                     37 35 0:5 / /t\\134x rw - tmpfs tmpfs rw,size=1024k\n\
                     38 35 0:6 / /n\xff\xfe rw shared:2 master:3 - tmpfs /dev/loop3 rw\n";
        let e = parse(text).unwrap();
        assert_eq!(
            e[0],
            MountRec {
                id: 36,
                dev: libc::makedev(7, 3),
                on: "/mnt/a b".into(),
                source: "/dev/loop3".into(),
                fstype: "ext4".into(),
                options: vec!["rw".into(), "noatime".into()]
            }
        );
        assert_eq!(e[1].on, PathBuf::from("/t\\x"));
        assert_eq!(e[1].source, "tmpfs");
        assert_eq!(e[1].options, ["rw"]);
        // Not UTF-8: kept as bytes; the decoy's source is only text.
        assert_eq!(e[2].on.as_os_str().as_bytes(), b"/n\xff\xfe");
        assert_eq!((e[2].dev, e[2].fstype.as_str()), (libc::makedev(0, 6), "tmpfs"));
    }

    #[test]
    fn a_bad_line_is_an_error() {
        assert_eq!(parse(b"36 35 7:3 / /a rw - ext4 /dev/loop3 rw\ngarbage\n"), Err(2));
        assert_eq!(parse(b"36 35 x:3 / /a rw - ext4 /dev/loop3 rw\n"), Err(1));
        assert_eq!(parse(b""), Ok(vec![]));
    }
}
