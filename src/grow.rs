//! `mount_md -r -s size target`: grow an image and the file system on it,
//! mounted (online) or not (offline). This module is the pure part: what
//! the platform found becomes an ordered list of [`GrowStep`]s, and
//! [`execute`] runs them on a [`GrowOps`] with the rollback rules below.
//!
//! Order, and what a failure at each step leaves:
//!
//! 1. **ExtendImage** — `posix_fallocate` of the new tail (every block
//!    allocated, as `--create` does; zeros are written where the file
//!    system cannot preallocate). Failure (ENOSPC, say): the image is cut
//!    back to its old length; nothing changed.
//! 2. **Attach** (offline only) — the image is attached as a new unit,
//!    carrying the ownership mark with no mount point. Failure: the image
//!    is cut back; nothing changed.
//! 3. **SetCapacity** — the kernel is told the disk's new size (Linux
//!    `LOOP_SET_CAPACITY`, FreeBSD `MDIOCRESIZE`). Failure: the image is
//!    cut back (the disk never showed the new blocks); nothing changed.
//! 4. **CheckFs** (offline ext2/3/4 only: `e2fsck -f -p`, which resize2fs
//!    demands before an offline resize). Failure: the unit is detached and
//!    the image cut back (the check never writes past the old end), unless
//!    step 3 ran, in which case the image stays larger as below.
//! 5. **GrowFs** (`resize2fs`, `xfs_growfs`, `btrfs filesystem resize max`,
//!    `growfs -y`). From its start on the image stays larger: a grower
//!    that failed may have begun to use the new space. The
//!    growers change the file system so that an interruption leaves it
//!    consistent at the old or the new size; the message says the image
//!    stays larger and gives the command that finishes the grow (a second
//!    `mount_md -r` to the same size would find the disk already that size
//!    and do nothing).
//! 6. **Detach** (offline only) — the unit attached in step 2 goes again,
//!    on failure as on success. If the detach itself fails, the grow is
//!    done: nothing is undone (cutting the image back would cut the grown
//!    file system), and the message says the image and its file system
//!    were grown and the unit is still attached.
//!
//! Shrinking is refused before anything is done; asking for the current
//! size is success with nothing done.
#![forbid(unsafe_code)]
use crate::error::{Error, Result};
use crate::exec::Output;
pub use crate::grow_ops::{show_argv, Attached, Found, GrowOps, GrowStep, Tool, SECTOR};
use crate::lifecycle;
use crate::platform::Platform;
use crate::request::{GrowRequest, ReleaseTarget};

/// What [`plan`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Already that size.
    Nothing {
        size: u64,
    },
    Steps(Vec<GrowStep>),
}

/// `mount_md -r`: the target located by the rules `-u` uses
/// ([`lifecycle::locate`]: only a unit of ours, or an image nothing has
/// attached), what the backend finds there and its operations, the plan,
/// and its run.
pub fn run<P: Platform + ?Sized>(p: &mut P, req: &GrowRequest, io: &mut Output<'_>) -> Result<()> {
    let located = lifecycle::locate(p, &req.target)?;
    let named = match &req.target {
        ReleaseTarget::Path(path) => Some(path.as_path()),
        ReleaseTarget::Unit(_) => None,
    };
    let (found, mut ops) = p.grow_target(&located, named, req.size)?;
    let outcome = plan(&found, req.size)?;
    execute(&found, &outcome, ops.as_mut(), Options { dry_run: req.dry_run, debug: req.debug, scratch: false }, io)
}

/// The checker (if any) and grower for `fstype`, mounted or not.
pub fn tools(fstype: &str, mounted: bool) -> Result<(Option<Tool>, Tool)> {
    match fstype {
        "ext2" | "ext3" | "ext4" if mounted => Ok((None, Tool::Resize2fs)),
        "ext2" | "ext3" | "ext4" => Ok((Some(Tool::E2fsck), Tool::Resize2fs)),
        "xfs" | "btrfs" if !mounted => Err(Error::plain(format!(
            "{fstype} grows only while mounted: mount it, then run mount_md -r on the mount point (nothing changed)"
        ))),
        "xfs" => Ok((None, Tool::XfsGrowfs)),
        "btrfs" => Ok((None, Tool::BtrfsResize)),
        "ufs" | "ffs" => Ok((None, Tool::Growfs)),
        t => Err(Error::plain(format!("mount_md cannot grow a {t} file system (nothing changed)"))),
    }
}

/// The steps that grow `found` to `size` bytes, or why not.
pub fn plan(found: &Found, size: u64) -> Result<Outcome> {
    let shown = found.image.display();
    if size == 0 || size % SECTOR != 0 {
        return Err(Error::plain(format!("-s {size}B: a size to grow to must be a whole number of 512-byte sectors")));
    }
    if size < found.disk_size {
        return Err(Error::plain(format!(
            "{shown}: is {} bytes; -r does not shrink (asked for {size}); nothing changed",
            found.disk_size
        )));
    }
    if size == found.disk_size {
        return Ok(Outcome::Nothing { size });
    }
    if found.attached.as_ref().is_some_and(|a| a.read_only) {
        return Err(Error::plain(format!("{shown}: attached read-only; nothing changed")));
    }
    let mounted = found.attached.as_ref().is_some_and(|a| a.mount_point.is_some());
    let (check, grow) = tools(&found.fstype, mounted)?;
    let mut steps = Vec::new();
    if size > found.image_len {
        steps.push(GrowStep::ExtendImage { from: found.image_len, to: size });
    }
    match &found.attached {
        Some(_) => steps.push(GrowStep::SetCapacity { from: found.disk_size, to: size }),
        None => steps.push(GrowStep::Attach),
    }
    steps.extend(check.map(GrowStep::CheckFs));
    steps.push(GrowStep::GrowFs(grow));
    if found.attached.is_none() {
        steps.push(GrowStep::Detach);
    }
    Ok(Outcome::Steps(steps))
}

/// How to run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// `-N`: print the steps on standard output, do nothing.
    pub dry_run: bool,
    /// `-X`: a `DEBUG:` line per step as it runs.
    pub debug: bool,
    /// The image is a new one its run removes on failure (`--from` with
    /// `-s`): a failure says so instead of what stays.
    pub scratch: bool,
}

/// Runs `outcome` (see the module text for the rollback rules).
pub fn execute(
    found: &Found,
    outcome: &Outcome,
    ops: &mut dyn GrowOps,
    opts: Options,
    io: &mut Output<'_>,
) -> Result<()> {
    let steps = match outcome {
        Outcome::Nothing { size } => {
            if opts.debug || opts.dry_run {
                let _ = writeln!(io.err, "DEBUG: {} is already {size} bytes: nothing to do", found.image.display());
            }
            return Ok(());
        }
        Outcome::Steps(s) => s,
    };
    if opts.dry_run {
        for s in steps {
            let _ = writeln!(io.out, "{}", ops.describe(s));
        }
        return Ok(());
    }
    let mut done: Vec<&GrowStep> = Vec::new();
    let mut told_kernel = false;
    for step in steps {
        if opts.debug {
            let _ = writeln!(io.err, "DEBUG: {}", ops.describe(step));
        }
        // A stop signal between steps fails the next one, with the same
        // rules for what is undone.
        let ran = match ops.interrupted() {
            Some(signal) => Err(Error::plain(format!("stopped by {signal} before: {}", ops.describe(step)))),
            None => ops.run(step),
        };
        match ran {
            Ok(()) => {
                told_kernel |= matches!(step, GrowStep::SetCapacity { .. });
                done.push(step);
            }
            Err(e) if done.iter().any(|d| matches!(d, GrowStep::GrowFs(_))) => {
                // Only the detach is left: the grow is done and stays.
                let to = steps.iter().find_map(|s| match s {
                    GrowStep::ExtendImage { to, .. } => Some(*to),
                    _ => None,
                });
                let tail = format!(
                    "the image and its file system were grown to {} bytes; the unit is still attached",
                    to.unwrap_or_default()
                );
                return Err(Error { what: e.what, why: append(e.why, &tail) });
            }
            Err(e) => {
                // A grower that failed may have begun to use the new space.
                told_kernel |= matches!(step, GrowStep::GrowFs(_));
                let hint = steps.iter().find(|s| matches!(s, GrowStep::GrowFs(_))).map(|s| ops.finish_hint(s));
                for d in done.iter().rev() {
                    let undo = match d {
                        GrowStep::Attach => true,
                        GrowStep::ExtendImage { .. } => !told_kernel,
                        _ => false,
                    };
                    if undo {
                        if let Err(u) = ops.undo(d) {
                            let _ = writeln!(io.err, "{}: rollback: {u}", io.prog);
                        }
                    }
                }
                if opts.scratch {
                    return Err(Error { what: e.what, why: append(e.why, "the new image is removed") });
                }
                return Err(explain(e, found, steps, told_kernel, hint));
            }
        }
    }
    Ok(())
}

/// Adds to a failure what it left behind.
fn explain(e: Error, found: &Found, steps: &[GrowStep], told_kernel: bool, hint: Option<String>) -> Error {
    let to = steps.iter().find_map(|s| match s {
        GrowStep::ExtendImage { to, .. } | GrowStep::SetCapacity { to, .. } => Some(*to),
        _ => None,
    });
    let tail = match (told_kernel, to) {
        (true, Some(to)) => format!(
            "the image stays {to} bytes (was {}), its file system intact at its old size; \
             once the cause is fixed, finish with: {}",
            found.disk_size,
            hint.unwrap_or_default()
        ),
        _ => "nothing changed".to_string(),
    };
    Error { what: e.what, why: append(e.why, &tail) }
}

fn append(why: crate::error::Why, tail: &str) -> crate::error::Why {
    use crate::error::{strerror, Why};
    match why {
        Why::Errno(n) => Why::Text(format!("{} ({tail})", strerror(n))),
        Why::Explained(t, n) => Why::Text(format!("{t}: {} ({tail})", strerror(n))),
        Why::Text(t) => Why::Text(format!("{t} ({tail})")),
        Why::Nothing => Why::Text(tail.to_string()),
    }
}
