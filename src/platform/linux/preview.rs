//! `mount_md -N -u TARGET` on Linux: the look-ups `-u` makes before it
//! changes anything (which unit the target names, what is mounted from
//! it), the same refusals with the same messages, and the steps it would
//! take, one line each. Nothing is unmounted or detached.
//!
//! This mirrors the resolution half of `Linux::release`; when that changes
//! (ownership marks), this must change with it.
use super::{loopdev, mountinfo};
use crate::error::{Error, Result};
use crate::request::ReleaseTarget;
use nix::sys::stat::SFlag;

/// The lines `-u` would carry out for `target`, or the error it would stop
/// with before changing anything.
pub fn release(target: &ReleaseTarget, force: bool) -> Result<Vec<String>> {
    let units: Vec<u32> = match target {
        ReleaseTarget::Unit(n) => vec![*n],
        ReleaseTarget::Path(p) => {
            let show = || p.display().to_string();
            let st = nix::sys::stat::stat(p.as_path()).map_err(|e| Error::sys(show(), e))?;
            if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFDIR {
                let real = std::fs::canonicalize(p).map_err(|e| crate::error::from_io(show(), &e))?;
                match mountinfo::mounts().into_iter().rev().find(|e| e.target == real) {
                    None => Vec::new(),
                    Some(e) => match e.source.strip_prefix("/dev/loop").and_then(|n| n.parse().ok()) {
                        Some(n) => vec![n],
                        None => {
                            return Err(Error::plain(format!(
                                "{}: mounted from {}, not a loop device",
                                p.display(),
                                e.source
                            )))
                        }
                    },
                }
            } else {
                #[allow(clippy::unnecessary_cast)]
                let id = (st.st_dev as u64, st.st_ino as u64);
                loopdev::bound_to(id).into_iter().map(|b| b.unit).collect()
            }
        }
    };
    let mut lines = Vec::new();
    for unit in units {
        if loopdev::binding(unit).is_none() {
            continue;
        }
        for m in mountinfo::targets_of(unit).into_iter().rev() {
            let shown = crate::error::quoted(&m);
            lines.push(if force {
                format!("umount2({shown}, MNT_DETACH)")
            } else {
                format!("umount2({shown}, 0) (refused if it is busy; -f detaches it lazily)")
            });
        }
        let node = loopdev::node(unit);
        lines.push(format!(
            "ioctl({}, LOOP_CLR_FD) if still bound to the same file; wait for it to be free (at most 5 s{})",
            node.display(),
            if force { "; if still in use, autoclear detaches it at its last close" } else { "" }
        ));
    }
    if lines.is_empty() {
        let what = match target {
            ReleaseTarget::Unit(n) => format!("{}", loopdev::node(*n).display()),
            ReleaseTarget::Path(p) => crate::error::quoted(p),
        };
        lines.push(format!("{what}: not mounted, not attached: nothing to do"));
    }
    Ok(lines)
}
