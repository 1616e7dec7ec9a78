//! The files' part of the check of a plan ([`crate::check::check`]):
//! what the real files say, looked at before the first step runs, by the
//! real run and by `-N` alike, so both refuse with the same message.
//!
//! Checked here, alike on every system with real files:
//! * the namespace file (mount.md `-N`) can be opened;
//! * the image opens as the run will open it (no symlink in its path but
//!   those nobody but root or the caller can change, a regular file,
//!   lockable) — unless `--create` will make it;
//! * an image that is not writable is not going to be formatted;
//! * the disk is not obviously too small for the file system it gets;
//! * the skeleton (`-k`) opens as a directory and does not contain the
//!   mount point.
//!
//! Paths are looked at from this mount namespace: after mount.md `-N` the
//! run resolves them in another one, so only the namespace file is checked.
use super::posix;
use crate::error::{Error, Result};
use crate::plan::{Plan, Step};
use crate::request::Backing;
use nix::errno::Errno;
use nix::fcntl::{open, AtFlags, OFlag};
use nix::sys::stat::{fstatat, Mode};

/// The smallest disk each formatter installed here can make a file system
/// on; smaller sizes fail in mkfs anyway, after a device was attached.
/// Deliberately low bounds (mke2fs fails at 96 KiB; mkfs.btrfs's own
/// minimum is 114294784 bytes) but for xfs, whose floor depends on the
/// version installed ([`xfs_minimum`]): `mkfs.xfs -V` is asked (by absolute
/// path, cleared environment); without one, the older floor.
fn minimum_size(fstype: &str) -> Option<u64> {
    match fstype {
        "ext2" | "ext3" | "ext4" => Some(100 << 10),
        "xfs" => {
            let prog = posix::program("mkfs.xfs").ok();
            let version = prog.and_then(|p| posix::run_captured(&p, &["-V".into()], false).ok());
            Some(version.map_or(16 << 20, |out| xfs_minimum(&out.output)))
        }
        "btrfs" => Some(114_294_784),
        _ => None,
    }
}

/// The smallest xfs that the mkfs.xfs printing `version` (its `-V`
/// output) makes: 300 MiB from xfsprogs 5.19 on (mkfs/xfs_mkfs.c
/// `validate_dblocks`: "Filesystem must be larger than 300MB"), 16 MiB
/// before, and when the version cannot be read.
pub fn xfs_minimum(version: &str) -> u64 {
    let v = version.split_whitespace().find(|w| w.starts_with(|c: char| c.is_ascii_digit())).unwrap_or_default();
    let mut parts = v.split('.').map(|n| n.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) if (major, minor) >= (5, 19) => 300 << 20,
        _ => 16 << 20,
    }
}

/// What the image check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ImageFacts {
    /// `--create` will make it (it does not exist yet).
    to_create: bool,
    writable: bool,
    len: u64,
}

/// Runs every check of `plan` that changes nothing; the first failure is
/// the error the run itself would stop with.
pub fn check(plan: &Plan) -> Result<()> {
    let mut image: Option<(ImageFacts, &std::path::Path)> = None;
    for step in &plan.steps {
        match step {
            Step::EnterNamespace(ns) => {
                // As enter_namespace opens it.
                open(ns.as_path(), OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
                    .map(drop)
                    .map_err(|e| Error::sys(ns.display().to_string(), e))?;
                return Ok(());
            }
            Step::OpenImage(o) => {
                let to_create = (o.create.is_some() || o.from.is_some()) && {
                    let w = posix::walk_path(&o.path)?;
                    matches!(fstatat(&w.parent, w.name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW), Err(Errno::ENOENT))
                };
                if let (true, Some(b)) = (to_create, &o.from) {
                    // The base opens as the run will open it.
                    posix::open_image(&b.path, None, true)?;
                }
                let facts = if to_create {
                    ImageFacts { to_create, writable: true, len: o.create.map(|(size, _)| size).unwrap_or(0) }
                } else {
                    let img = posix::open_image(&o.path, None, o.read_only)?;
                    #[allow(clippy::unnecessary_cast)]
                    let len = img.stat.st_size as u64;
                    ImageFacts { to_create, writable: img.writable || o.read_only, len }
                };
                image = Some((facts, &o.path));
            }
            Step::Format(f) => {
                if f.only_if_created && !image.is_some_and(|(i, _)| i.to_create) {
                    continue;
                }
                if let Some((_, path)) = image.filter(|(i, _)| !i.writable) {
                    return Err(Error::plain(format!(
                        "{}: not writable, so it cannot be formatted (add -P to mount its file system read-only)",
                        crate::error::quoted(path)
                    )));
                }
                let size = plan.attach().and_then(|a| match (&a.backing, a.size.filter(|s| *s > 0)) {
                    (_, Some(s)) => Some(s),
                    (Backing::Vnode(_), None) => image.map(|(i, _)| i.len),
                    _ => None,
                });
                if let Some((size, min)) = size.zip(minimum_size(&f.fstype)).filter(|(size, min)| size < min) {
                    return Err(Error::plain(format!(
                        "a disk of {size} bytes is too small for {} (at least {min} bytes)",
                        f.fstype
                    )));
                }
            }
            Step::CopySkeleton(from) => {
                // As copy_skeleton opens it; and not around the mount point.
                posix::check_skeleton(from, &plan.mount_point)?;
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    struct Scratch(PathBuf);
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn check_line(args: &[&str]) -> std::result::Result<(), String> {
        let defaults = crate::plan::Defaults { fstype: "ext4", probe_preserved: true, tmpfs_available: true };
        check(&crate::plan::of_line(args, defaults)).map_err(|e| e.to_string())
    }

    #[test]
    fn checks_what_the_run_will_find() {
        let t = Scratch(std::env::temp_dir().join(format!("mount_md-preflight-{}", std::process::id())));
        std::fs::create_dir_all(t.0.join("skel")).unwrap();
        let img = t.0.join("i.img");
        std::fs::File::create(&img).unwrap().set_len(1 << 20).unwrap();
        let p = |name: &str| t.0.join(name).display().to_string();
        let (img_s, skel, missing) = (p("i.img"), p("skel"), p("missing.img"));
        assert_eq!(check_line(&["mount_md", "-F", &img_s, "-k", &skel, "md", "/"]), Ok(()));
        assert_eq!(
            check_line(&["mount_md", "-P", "-F", &missing, "md", "/"]),
            Err(format!("{missing}: No such file or directory"))
        );
        // --create makes a missing image: nothing to refuse, its size is -s.
        assert_eq!(check_line(&["mount_md", "--create", "-s", "1m", "-F", &missing, "md", "/"]), Ok(()));
        assert_eq!(
            check_line(&["mount_md", "--create", "-s", "64k", "-F", &missing, "md", "/"]),
            Err("a disk of 65536 bytes is too small for ext4 (at least 102400 bytes)".into())
        );
        // -P keeps the file system: no size rule.
        assert_eq!(check_line(&["mount_md", "-P", "-s", "64k", "-F", &img_s, "md", "/"]), Ok(()));
        assert_eq!(
            check_line(&["mount_md", "-T", "btrfs", "-F", &img_s, "md", "/"]),
            Err("a disk of 1048576 bytes is too small for btrfs (at least 114294784 bytes)".into())
        );
        assert_eq!(check_line(&["mount_md", "-s", "300m", "-T", "xfs", "-F", &img_s, "md", "/"]), Ok(()));
        assert_eq!(
            check_line(&["mount_md", "-F", &img_s, "-k", &img_s, "md", "/"]),
            Err(format!("skel copy from {img_s}: Not a directory"))
        );
        assert_eq!(
            check_line(&["mount_md", "-s", "8m", "-k", &missing, "tmpfs", "/"]),
            Err(format!("skel copy from {missing}: No such file or directory"))
        );
        // mount.md -N: only the namespace file is ours to look at.
        let ns = p("ns");
        assert_eq!(
            check_line(&["mount.md", "md", "/", "-N", &ns, "-o", "-P,-F/nonexistent"]),
            Err(format!("{ns}: No such file or directory"))
        );
        assert_eq!(check_line(&["mount.md", "md", "/", "-N", "/proc/self/ns/mnt", "-o", "-P,-F/nonexistent"]), Ok(()));
    }

    #[test]
    fn the_xfs_floor_follows_the_installed_version() {
        assert_eq!(xfs_minimum("mkfs.xfs version 6.1.0\n"), 300 << 20);
        assert_eq!(xfs_minimum("mkfs.xfs version 5.19.0"), 300 << 20);
        assert_eq!(xfs_minimum("mkfs.xfs version 5.18.0"), 16 << 20);
        assert_eq!(xfs_minimum("mkfs.xfs version 4.9.0"), 16 << 20);
        assert_eq!(xfs_minimum("garbage"), 16 << 20);
    }
}
