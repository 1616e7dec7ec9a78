//! `-N` as a preflight: every check of a plan that changes nothing, made
//! against the real system before the first step runs (also before a real
//! run, so `-N` and the run refuse with the same message).
//!
//! Checked here, alike on every system with real files:
//! * the namespace file (mount.md `-N`) can be opened;
//! * the image opens as the run will open it (no symlink in its path, a
//!   regular file, lockable) — unless `--create` will make it;
//! * an image that is not writable is not going to be formatted;
//! * the disk is not obviously too small for the file system it gets;
//! * the skeleton (`-k`) opens as a directory.
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
use std::os::fd::AsRawFd;

/// The smallest disk each formatter can make a file system on; smaller
/// sizes fail in mkfs anyway, after a device was attached. Deliberately low
/// bounds (mke2fs fails at 96 KiB; mkfs.xfs from 5.19 on wants 300 MiB,
/// older ones 16 MiB; mkfs.btrfs's own minimum is 114294784 bytes).
pub fn minimum_size(fstype: &str) -> Option<u64> {
    match fstype {
        "ext2" | "ext3" | "ext4" => Some(100 << 10),
        "xfs" => Some(16 << 20),
        "btrfs" => Some(114_294_784),
        _ => None,
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
                let to_create = match o.create {
                    Some(_) => {
                        let (dir, name) = posix::walk_to_parent(&o.path)?;
                        matches!(
                            fstatat(Some(dir.as_raw_fd()), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW),
                            Err(Errno::ENOENT)
                        )
                    }
                    None => false,
                };
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
                let formats = !f.only_if_created || image.is_some_and(|(i, _)| i.to_create);
                if !formats {
                    continue;
                }
                if let Some((facts, path)) = image {
                    if !facts.writable {
                        return Err(Error::plain(format!(
                            "{}: not writable, so it cannot be formatted (add -P to mount its file system read-only)",
                            path.display()
                        )));
                    }
                }
                let size = plan.steps.iter().find_map(|s| match s {
                    Step::Attach(a) => Some(match (&a.backing, a.size.filter(|s| *s > 0)) {
                        (_, Some(s)) => Some(s),
                        (Backing::Vnode(_), None) => image.map(|(i, _)| i.len),
                        _ => None,
                    }),
                    _ => None,
                });
                if let (Some(Some(size)), Some(min)) = (size, minimum_size(&f.fstype)) {
                    if size < min {
                        return Err(Error::plain(format!(
                            "a disk of {size} bytes is too small for {} (at least {min} bytes)",
                            f.fstype
                        )));
                    }
                }
            }
            Step::CopySkeleton(from) => {
                // As copy_skeleton opens it.
                posix::open_dir_at(None, from.as_path())
                    .map(drop)
                    .map_err(|e| Error::sys(format!("skel copy from {}", from.display()), e))?;
            }
            _ => {}
        }
    }
    Ok(())
}
