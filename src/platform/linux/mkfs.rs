//! Formatting: `mkfs.<type>` found by absolute path, run with an argv
//! vector (never a shell string) and a cleaned environment, with mdmfs's
//! newfs options translated where the target file system has an
//! equivalent and refused where it has none.
use crate::error::{Error, Result};
use crate::plan::Format;
use crate::platform::posix;
use std::path::Path;

/// A file system type that can safely become part of a program name.
pub fn valid_type(t: &str) -> bool {
    !t.is_empty() && t.len() <= 32 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub(super) fn is_ext(t: &str) -> bool {
    matches!(t, "ext2" | "ext3" | "ext4")
}

/// The mkfs argv (without the program) for `f` on `device`, or the
/// refusal of the first newfs option that has no meaning for this type.
///
/// * ext2/3/4: `-b` block size → `-b`, `-i` bytes per inode → `-i`,
///   `-m` reserved percentage → `-m`;
/// * xfs: `-b` → `-b size=`;
/// * every type: `-n` (no `.snap` directory) is satisfied already, and
///   `-U`/`-S` (soft updates) are not newfs options here at all;
/// * anything else is refused.
///
/// Discard is always off (`-E nodiscard`, `-K`): on a loop device a discard
/// punches holes in the image file, which would undo `--create=reserve`
/// and any space the admin preallocated. newfs(8) does not discard either.
pub fn argv(f: &Format, device: &str) -> Result<Vec<String>> {
    let t = f.fstype.as_str();
    let forced: &[&str] = match t {
        t if is_ext(t) => &["-F", "-E", "nodiscard"],
        "xfs" | "btrfs" => &["-f", "-K"],
        _ => &[],
    };
    let quiet = (!f.loud && !forced.is_empty()).then_some("-q");
    let mut args: Vec<String> = quiet.iter().chain(forced).map(|a| a.to_string()).collect();
    for o in &f.options {
        let v = o.value.clone().unwrap_or_default();
        match (o.letter, t) {
            ('n', _) => {}
            ('b' | 'i' | 'm', t) if is_ext(t) => args.extend([format!("-{}", o.letter), v]),
            ('b', "xfs") => args.extend(["-b".to_string(), format!("size={v}")]),
            (c, _) => return Err(Error::plain(format!("option -{c} has no meaning for {t} on Linux (drop it)"))),
        }
    }
    args.push(device.to_string());
    Ok(args)
}

/// Runs mkfs on `device`; `image` names what is behind it in messages. On
/// failure the error names the image and carries mkfs's output (bounded).
pub fn run(f: &Format, device: &Path, image: &str) -> Result<()> {
    let name = format!("mkfs.{}", f.fstype);
    let args: Vec<std::ffi::OsString> = argv(f, &device.display().to_string())?.into_iter().map(Into::into).collect();
    let program = posix::program(&name)?;
    let done = posix::run_captured(&program, &args, f.loud)?;
    posix::succeeded(done, &name, format!("{name} on {image}")).map(drop)
}

/// `e2fsck [-f] -p <device>` (`-p`: repair what is safe without asking,
/// stop on anything else), found as mkfs is and run the same way.
/// Success is exit 0, 1 (errors corrected) or 2 (corrected, reboot advised
/// — for the root file system only); anything else stops the mount with
/// e2fsck's own output. Returns what ran (`e2fsck -f -p`) and that output
/// (its summary line) on success.
pub fn e2fsck(device: &Path, image: &str, force: bool) -> Result<(String, String)> {
    let program = posix::program("e2fsck")?;
    let flags = crate::platform::describe::checker_flags(force);
    let args: Vec<std::ffi::OsString> = flags.iter().map(Into::into).chain([device.as_os_str().into()]).collect();
    let shown = format!("e2fsck {}", flags.join(" "));
    let done = posix::run_captured(&program, &args, false)?;
    if done.status.code().is_some_and(|c| c & !3 == 0) {
        return Ok((shown, done.output));
    }
    let lines = posix::output_lines(&done.output, "");
    Err(posix::helper_failed(format!("{shown} on {image}"), done.status, &lines))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::NewfsOpt;

    fn fmt(t: &str, opts: &[(char, Option<&str>)], loud: bool) -> Format {
        Format {
            fstype: t.into(),
            options: opts.iter().map(|(l, v)| NewfsOpt { letter: *l, value: v.map(str::to_string) }).collect(),
            soft_updates: true,
            loud,
            only_if_created: false,
        }
    }

    #[test]
    fn ext4_mapping() {
        let f = fmt("ext4", &[('b', Some("4096")), ('i', Some("8192")), ('m', Some("0")), ('n', None)], false);
        assert_eq!(
            argv(&f, "/dev/loop3").unwrap(),
            ["-q", "-F", "-E", "nodiscard", "-b", "4096", "-i", "8192", "-m", "0", "/dev/loop3"]
        );
        assert_eq!(argv(&fmt("ext2", &[], true), "/dev/loop0").unwrap(), ["-F", "-E", "nodiscard", "/dev/loop0"]);
    }

    #[test]
    fn other_types() {
        assert_eq!(
            argv(&fmt("xfs", &[('b', Some("4096"))], false), "/d").unwrap(),
            ["-q", "-f", "-K", "-b", "size=4096", "/d"]
        );
        assert_eq!(argv(&fmt("btrfs", &[], false), "/d").unwrap(), ["-q", "-f", "-K", "/d"]);
        assert_eq!(argv(&fmt("vfat", &[], false), "/d").unwrap(), ["/d"]);
        let e = argv(&fmt("xfs", &[('i', Some("1"))], false), "/d").unwrap_err();
        assert_eq!(e.to_string(), "option -i has no meaning for xfs on Linux (drop it)");
    }

    #[test]
    fn refusals() {
        for c in ['a', 'c', 'd', 'e', 'f', 'l', 'O', 'v', 't'] {
            let value = if matches!(c, 'l' | 't') { None } else { Some("1") };
            let e = argv(&fmt("ext4", &[(c, value)], false), "/d").unwrap_err();
            assert_eq!(e.to_string(), format!("option -{c} has no meaning for ext4 on Linux (drop it)"));
        }
    }

    #[test]
    fn names() {
        assert!(valid_type("ext4") && valid_type("fuse-x") && valid_type("ntfs3"));
        assert!(!valid_type("") && !valid_type("../x") && !valid_type("a b") && !valid_type("e/x"));
    }
}
