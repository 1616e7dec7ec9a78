//! Formatting: `mkfs.<type>` found by absolute path, run with an argv
//! vector (never a shell string) and a cleaned environment, with mdmfs's
//! newfs options translated where the target file system has an
//! equivalent and refused where it has none.
use crate::error::{Error, Result};
use crate::plan::Format;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where mkfs programs are looked for, in order. Never `$PATH`: what runs
/// as root must not depend on the caller's environment.
pub const SEARCH: [&str; 4] = ["/sbin", "/usr/sbin", "/bin", "/usr/bin"];

/// A file system type that can safely become part of a program name.
pub fn valid_type(t: &str) -> bool {
    !t.is_empty() && t.len() <= 32 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn is_ext(t: &str) -> bool {
    matches!(t, "ext2" | "ext3" | "ext4")
}

/// The mkfs argv (without the program) for `f` on `device`, or the first
/// newfs option that has no meaning for this type.
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
pub fn argv(f: &Format, device: &str) -> std::result::Result<Vec<String>, char> {
    let t = f.fstype.as_str();
    let mut args: Vec<String> = Vec::new();
    if is_ext(t) {
        if !f.loud {
            args.push("-q".into());
        }
        args.extend(["-F".into(), "-E".into(), "nodiscard".into()]);
    } else if matches!(t, "xfs" | "btrfs") {
        if !f.loud {
            args.push("-q".into());
        }
        args.extend(["-f".into(), "-K".into()]);
    }
    for o in &f.options {
        let v = o.value.clone().unwrap_or_default();
        match (o.letter, t) {
            ('n', _) => {}
            ('b' | 'i' | 'm', t) if is_ext(t) => args.extend([format!("-{}", o.letter), v]),
            ('b', "xfs") => args.extend(["-b".to_string(), format!("size={v}")]),
            (c, _) => return Err(c),
        }
    }
    args.push(device.to_string());
    Ok(args)
}

/// `/usr/sbin/mkfs.ext4`, from [`SEARCH`].
pub fn find(fstype: &str) -> Result<PathBuf> {
    let name = format!("mkfs.{fstype}");
    SEARCH
        .iter()
        .map(|d| Path::new(d).join(&name))
        .find(|p| p.is_file())
        .ok_or_else(|| Error::text(name, format!("not found in {}", SEARCH.join(":"))))
}

/// The last non-empty lines of a helper's stderr, joined for one message.
pub fn last_lines(stderr: &str, n: usize) -> String {
    let lines: Vec<&str> = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("; ")
}

/// Runs mkfs; on failure its stderr becomes the error text.
pub fn run(f: &Format, device: &Path) -> Result<()> {
    let name = format!("mkfs.{}", f.fstype);
    let args = argv(f, &device.display().to_string())
        .map_err(|c| Error::plain(format!("option -{c} has no meaning for {} on Linux", f.fstype)))?;
    let program = find(&f.fstype)?;
    let mut cmd = Command::new(&program);
    cmd.args(&args).env_clear().env("PATH", SEARCH.join(":")).stdin(Stdio::null());
    if f.loud {
        cmd.stdout(Stdio::inherit()).stderr(Stdio::inherit());
    } else {
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    }
    let mut child = cmd.spawn().map_err(|e| crate::error::from_io(program.display().to_string(), &e))?;
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let mut raw = Vec::new();
        let _ = pipe.read_to_end(&mut raw);
        stderr = String::from_utf8_lossy(&raw).into_owned();
    }
    let status = child.wait().map_err(|e| crate::error::from_io(name.clone(), &e))?;
    if status.success() {
        return Ok(());
    }
    let why = last_lines(&stderr, 2);
    // mke2fs prefixes its messages with its own name; ours already says it.
    let why = why.strip_prefix(&format!("{name}: ")).map(str::to_string).unwrap_or(why);
    let why = if !why.is_empty() {
        why
    } else if let Some(code) = status.code() {
        format!("exited with error code {code}")
    } else {
        use std::os::unix::process::ExitStatusExt;
        format!("killed by signal {}", status.signal().unwrap_or(0))
    };
    Err(Error::text(name, why))
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
        assert_eq!(argv(&fmt("xfs", &[('i', Some("1"))], false), "/d"), Err('i'));
    }

    #[test]
    fn refusals() {
        for c in ['a', 'c', 'd', 'e', 'f', 'l', 'O', 'v', 't'] {
            let value = if matches!(c, 'l' | 't') { None } else { Some("1") };
            assert_eq!(argv(&fmt("ext4", &[(c, value)], false), "/d"), Err(c), "-{c}");
        }
    }

    #[test]
    fn names() {
        assert!(valid_type("ext4") && valid_type("fuse-x") && valid_type("ntfs3"));
        assert!(!valid_type("") && !valid_type("../x") && !valid_type("a b") && !valid_type("e/x"));
        assert_eq!(last_lines("a\n\nb\n  c  \n\n", 2), "b; c");
        assert_eq!(last_lines("", 2), "");
    }
}
