//! Walking a path a component at a time, from directory descriptors, with
//! the symlink rule: which links are followed and which refused.
use super::*;
use crate::error::{Error, Result};
use nix::errno::Errno;
use nix::fcntl::{readlinkat, AtFlags, AT_FDCWD};
use nix::sys::stat::{fstat, fstatat, FileStat, SFlag};
use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::path::Path;

/// At most this many symlinks are followed in one walk; one more is
/// ELOOP. Linux allows 40 (`MAXSYMLINKS`, include/linux/namei.h), FreeBSD
/// 32 (`MAXSYMLINKS`, sys/sys/param.h). One bound for both, the smaller:
/// a path is then accepted or refused alike on either system, and never
/// one the FreeBSD kernel would refuse when nmount(2) or MDIOCATTACH
/// resolves the path again.
pub const MAX_SYMLINKS: u32 = 32;

/// Why a symlink met while walking a path is not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRisk {
    /// The link belongs to this uid, neither root nor the caller.
    LinkOwner(u32),
    /// The directory holding it belongs to this uid, neither root nor the
    /// caller (its owner can always chmod it writable).
    DirOwner(u32),
    /// The directory is group-writable, without the sticky bit.
    DirGroupWritable,
    /// The directory is world-writable, without the sticky bit.
    DirWorldWritable,
}

impl LinkRisk {
    /// The refusal, for the link at `link` (as messages show a path).
    pub fn message(&self, link: &str) -> String {
        let whose = match self {
            LinkRisk::LinkOwner(uid) => format!("owned by uid {uid}"),
            LinkRisk::DirOwner(uid) => format!("in a directory owned by uid {uid}"),
            LinkRisk::DirGroupWritable => "in a group-writable directory".to_string(),
            LinkRisk::DirWorldWritable => "in a world-writable directory".to_string(),
        };
        format!("{link} is a symbolic link {whose}, not followed")
    }
}

/// The rule for following a symlink: `None` (follow it) when nobody but
/// root or `caller` (the effective uid) can change it, else why not.
/// `link_uid` is the link's owner, `dir_uid` and `dir_mode` those of the
/// directory holding it.
///
/// Why this is enough:
/// - A symlink's target cannot be rewritten in place: to make the name
///   lead elsewhere, the entry must be removed or renamed over, and both
///   need write permission on the directory (Linux fs/namei.c
///   `may_delete`; FreeBSD sys/ufs/ufs/ufs_lookup.c `ufs_lookup_ino` asks
///   `VOP_ACCESS(VWRITE)` of the directory for DELETE and RENAME). Who can
///   write the directory: root, its owner (who can chmod it writable if it
///   is not), its group if it is group-writable, anyone if it is
///   world-writable. So the owner must be root or the caller.
/// - The sticky bit narrows removal and rename to root, the entry's owner
///   and the directory's owner (Linux `check_sticky`, which fs/namei.c
///   `may_delete` applies to a rename's target too; FreeBSD
///   sys/ufs/ufs/ufs_lookup.c `ufs_delete_denied`, which `ufs_lookup_ino`
///   applies for DELETE and RENAME; ZFS `zfs_sticky_remove_access`).
///   In a sticky directory others can add names but cannot remove or
///   replace one that root or the caller owns. So a sticky group- or
///   world-writable directory (`/tmp`) is safe for a link owned by root
///   or the caller; without the sticky bit it is not, whoever owns the
///   link.
/// - The link's owner must therefore be root or the caller: in a sticky
///   directory any other owner could replace it. Elsewhere its owner
///   cannot, but it is refused all the same, so that the rule does not
///   hang on the sticky bit (a link another user made is theirs to aim).
/// - The link's own mode bits are never consulted when it is followed
///   (Linux gives every symlink 0777; FreeBSD's lchmod(2) mode does not
///   take part in lookup), so they are not looked at here.
/// - Access control lists: a POSIX.1e ACL granting write to a named user
///   or group shows in the group bits of the mode (the mask), so it is
///   refused as group-writable. An NFSv4 ACL (FreeBSD ZFS, UFS with
///   `nfsv4acls`) can grant write that the mode does not show; it is not
///   read.
/// - The directories above the link were opened one at a time and are
///   held by descriptor: the walk goes on from the directory it holds,
///   whatever happens to their names meanwhile.
pub fn link_risk(link_uid: u32, dir_uid: u32, dir_mode: u32, caller: u32) -> Option<LinkRisk> {
    let trusted = |uid: u32| uid == 0 || uid == caller;
    let sticky = dir_mode & 0o1000 != 0;
    if !trusted(link_uid) {
        Some(LinkRisk::LinkOwner(link_uid))
    } else if !trusted(dir_uid) {
        Some(LinkRisk::DirOwner(dir_uid))
    } else if !sticky && dir_mode & 0o002 != 0 {
        Some(LinkRisk::DirWorldWritable)
    } else if !sticky && dir_mode & 0o020 != 0 {
        Some(LinkRisk::DirGroupWritable)
    } else {
        None
    }
}

/// Where a walk of a path ended.
#[derive(Debug)]
pub struct Walked {
    /// The directory holding the last component.
    pub parent: OwnedFd,
    /// The last component: not a symlink when the walk looked at it, or
    /// missing.
    pub name: OsString,
    /// The path as walked: as given when no symlink was followed, else
    /// with each followed link replaced by its target (what messages
    /// show, and what names the file again by path).
    pub path: std::path::PathBuf,
}

/// One component still to walk.
enum Step {
    Root,
    Up,
    Here,
    Name(OsString),
}

/// Pushes the components of `path` on `todo`, the first one last.
fn push_steps(todo: &mut Vec<Step>, path: &Path) {
    use std::path::Component;
    todo.extend(path.components().rev().map(|c| match c {
        Component::RootDir | Component::Prefix(_) => Step::Root,
        Component::ParentDir => Step::Up,
        Component::CurDir => Step::Here,
        Component::Normal(n) => Step::Name(n.to_os_string()),
    }));
}

fn is_link(st: &FileStat) -> bool {
    kind_of(st) == SFlag::S_IFLNK
}

/// Walks `path` a component at a time, opening every directory with
/// `O_NOFOLLOW` relative to the one before (a relative path starts at
/// the working directory). A symlink met on the way — in the path or in
/// a link's target, the last component included — is followed only when
/// [`link_risk`] allows it, [`MAX_SYMLINKS`] at most (then ELOOP); any
/// other is refused: "… is a symbolic link …, not followed". A target is
/// walked from the directory holding the link (relative) or from `/`
/// (absolute), by the same rule. `follow: false` refuses every symlink
/// but the last component's, which is left to the caller (its own
/// `O_NOFOLLOW` open refuses it).
fn walk(path: &Path, follow: bool, dot: bool) -> Result<Walked> {
    let given = || crate::error::quoted(path);
    let caller = nix::unistd::geteuid().as_raw();
    let mut todo = Vec::new();
    push_steps(&mut todo, path);
    let mut dir =
        open_dir_at(AT_FDCWD, if path.is_absolute() { "/" } else { "." }).map_err(|e| Error::sys(given(), e))?;
    let mut shown = std::path::PathBuf::new();
    let mut followed = 0u32;
    // The last link followed, for a target that ends in no file name.
    let mut last_link: Option<std::path::PathBuf> = None;
    loop {
        let name = match todo.pop() {
            // The path ends at a directory (`.`, `..`): with `dot`, the
            // directory itself, as `.` in it.
            None if dot => return Ok(Walked { parent: dir, name: ".".into(), path: shown }),
            None => {
                let what = last_link.as_deref().map_or_else(given, crate::error::quoted);
                return Err(Error::text(what, "not a file name"));
            }
            Some(Step::Root) => {
                // A path's own root is where the walk started; a link's is not.
                if followed > 0 {
                    dir = open_dir_at(AT_FDCWD, "/").map_err(|e| Error::sys(given(), e))?;
                }
                shown = std::path::PathBuf::from("/");
                continue;
            }
            Some(Step::Here) => {
                shown.push(".");
                continue;
            }
            Some(Step::Up) => {
                shown.push("..");
                dir = open_dir_at(&dir, "..").map_err(|e| Error::sys(crate::error::quoted(&shown), e))?;
                continue;
            }
            Some(Step::Name(name)) => name,
        };
        shown.push(&name);
        let link = |dir: &OwnedFd| fstatat(dir, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW).ok().filter(is_link);
        let link_st = if todo.is_empty() {
            match link(&dir) {
                Some(st) if follow => st,
                _ => {
                    let path = if followed == 0 { path.to_path_buf() } else { shown };
                    return Ok(Walked { parent: dir, name, path });
                }
            }
        } else {
            match open_dir_at(&dir, name.as_os_str()) {
                Ok(d) => {
                    dir = d;
                    continue;
                }
                Err(e) => match link(&dir) {
                    Some(st) if follow => st,
                    _ => return Err(refuse_symlink(&dir, name.as_os_str(), &shown, e)),
                },
            }
        };
        // The link's owner (above), the directory's owner and mode, and the
        // target are three calls: once the rule holds, only root or the
        // caller could swap the link in between, and they are trusted.
        let here = || crate::error::quoted(&shown);
        let dir_st = fstat(&dir).map_err(|e| Error::sys(here(), e))?;
        #[allow(clippy::useless_conversion)] // mode_t is u16 on FreeBSD
        if let Some(risk) = link_risk(link_st.st_uid, dir_st.st_uid, u32::from(dir_st.st_mode), caller) {
            return Err(Error::plain(risk.message(&here())));
        }
        followed += 1;
        if followed > MAX_SYMLINKS {
            return Err(Error::sys(here(), Errno::ELOOP));
        }
        let target = readlinkat(&dir, name.as_os_str()).map_err(|e| Error::sys(here(), e))?;
        if target.is_empty() {
            // As both kernels answer an empty link.
            return Err(Error::sys(here(), Errno::ENOENT));
        }
        last_link = Some(shown.clone());
        shown.pop();
        push_steps(&mut todo, Path::new(&target));
    }
}

/// Walks `path` to its last component (`walk`, the last component's
/// symlink followed too): the directory holding where the path leads, the
/// name there (not a symlink when looked at; the caller opens it with
/// `O_NOFOLLOW`), and the path as walked.
pub fn walk_path(path: &Path) -> Result<Walked> {
    walk(path, true, false)
}

/// [`walk_path`] for a path to look at, not to open or create: one that
/// ends at a directory (`/`, `.`, `dir/..`) gives that directory and the
/// name `.`.
pub fn walk_target(path: &Path) -> Result<Walked> {
    walk(path, true, true)
}

/// Turns an `O_NOFOLLOW` failure into "… is a symbolic link" when that is
/// what it was (Linux says ELOOP, FreeBSD EMLINK), else the plain error.
pub(super) fn refuse_symlink(dir: &OwnedFd, name: &OsStr, walked: &Path, e: Errno) -> Error {
    if fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW).is_ok_and(|st| is_link(&st)) {
        Error::plain(format!("{} is a symbolic link", crate::error::quoted(walked)))
    } else {
        Error::sys(crate::error::quoted(walked), e)
    }
}

/// Opens a directory (a mount point) refusing symlinks in every component.
pub fn open_dir_no_symlinks(path: &Path) -> Result<OwnedFd> {
    open_dir(path, false).map(|(dir, _)| dir)
}

/// A directory (a mount point) reached by `walk`: its descriptor, and
/// the walk (the directory holding it and its name there). `/` has no
/// walk.
pub fn open_dir_walked(path: &Path) -> Result<(OwnedFd, Option<Walked>)> {
    open_dir(path, true)
}

fn open_dir(path: &Path, follow: bool) -> Result<(OwnedFd, Option<Walked>)> {
    if path.as_os_str() == "/" {
        return Ok((open_root(path)?, None));
    }
    let w = walk(path, follow, false)?;
    let dir = open_dir_at(&w.parent, w.name.as_os_str()).map_err(|e| refuse_symlink(&w.parent, &w.name, &w.path, e))?;
    Ok((dir, Some(w)))
}

/// The identity of the file `st` describes.
pub fn file_id(st: &FileStat) -> crate::platform::FileId {
    // st_dev and st_ino differ in width between targets.
    #[allow(clippy::unnecessary_cast)]
    crate::platform::FileId { dev: st.st_dev as u64, ino: st.st_ino as u64 }
}

#[cfg(test)]
mod tests {
    use super::{link_risk, LinkRisk};

    const ME: u32 = 1000;

    #[test]
    fn links_of_root_or_the_caller_in_their_unshared_directories_are_followed() {
        for link in [0, ME] {
            for dir in [0, ME] {
                for mode in [0o755, 0o700, 0o750, 0o711, 0o555] {
                    assert_eq!(link_risk(link, dir, mode, ME), None, "{link} {dir} {mode:o}");
                }
            }
        }
        // Root is the caller: only root's.
        assert_eq!(link_risk(0, 0, 0o755, 0), None);
        assert_eq!(link_risk(ME, 0, 0o755, 0), Some(LinkRisk::LinkOwner(ME)));
        assert_eq!(link_risk(0, ME, 0o755, 0), Some(LinkRisk::DirOwner(ME)));
    }

    #[test]
    fn another_owner_is_refused_whatever_the_directory() {
        for mode in [0o755, 0o1777, 0o700] {
            assert_eq!(link_risk(65534, 0, mode, ME), Some(LinkRisk::LinkOwner(65534)));
            assert_eq!(link_risk(0, 65534, mode, ME), Some(LinkRisk::DirOwner(65534)));
        }
        // The link's owner is named first.
        assert_eq!(link_risk(7, 8, 0o777, ME), Some(LinkRisk::LinkOwner(7)));
    }

    #[test]
    fn shared_writable_directories_need_the_sticky_bit() {
        assert_eq!(link_risk(0, 0, 0o775, ME), Some(LinkRisk::DirGroupWritable));
        assert_eq!(link_risk(0, 0, 0o770, ME), Some(LinkRisk::DirGroupWritable));
        assert_eq!(link_risk(ME, ME, 0o757, ME), Some(LinkRisk::DirWorldWritable));
        assert_eq!(link_risk(0, 0, 0o777, ME), Some(LinkRisk::DirWorldWritable));
        // Set-id bits on a directory change nothing.
        assert_eq!(link_risk(0, 0, 0o6777, ME), Some(LinkRisk::DirWorldWritable));
        assert_eq!(link_risk(0, 0, 0o2775, ME), Some(LinkRisk::DirGroupWritable));
        // Sticky: others may add names, not remove or replace root's or
        // the caller's (/tmp, a sticky group directory).
        for mode in [0o1777, 0o1775, 0o1770, 0o1757, 0o3777] {
            assert_eq!(link_risk(0, 0, mode, ME), None, "{mode:o}");
            assert_eq!(link_risk(ME, 0, mode, ME), None, "{mode:o}");
            assert_eq!(link_risk(65534, 0, mode, ME), Some(LinkRisk::LinkOwner(65534)), "{mode:o}");
        }
        // The file type bits of st_mode are ignored.
        assert_eq!(link_risk(0, 0, 0o040_755, ME), None);
        assert_eq!(link_risk(0, 0, 0o040_777, ME), Some(LinkRisk::DirWorldWritable));
    }

    #[test]
    fn refusals_read_as_messages() {
        for (risk, text) in [
            (LinkRisk::LinkOwner(65534), "/x/l is a symbolic link owned by uid 65534, not followed"),
            (LinkRisk::DirOwner(5), "/x/l is a symbolic link in a directory owned by uid 5, not followed"),
            (LinkRisk::DirGroupWritable, "/x/l is a symbolic link in a group-writable directory, not followed"),
            (LinkRisk::DirWorldWritable, "/x/l is a symbolic link in a world-writable directory, not followed"),
        ] {
            assert_eq!(risk.message("/x/l"), text, "{risk:?}");
        }
    }
}
