//! `mount_md -r -s size target`: grow an image and the file system on it,
//! mounted (online) or not (offline). This module is the pure part: what
//! the platform found becomes an ordered list of [`GrowStep`]s, and
//! [`execute`] runs them on a [`GrowOps`] with the rollback rules below.
//!
//! Order, and what a failure at each step leaves:
//!
//! 1. **ExtendImage** — `fallocate` (Linux) or `posix_fallocate` (FreeBSD)
//!    of the new tail (every block allocated, as `--create` does; zeros are
//!    written, with a progress line on a terminal, where the file system
//!    cannot preallocate). Failure (ENOSPC, say): the image is cut
//!    back to its old length; nothing changed.
//! 2. **Attach** (offline only) — the image is attached as a new unit,
//!    carrying the ownership mark with no mount point. Failure: the image
//!    is cut back; nothing changed.
//! 3. **SetCapacity** — the kernel is told the disk's new size (Linux
//!    `LOOP_SET_CAPACITY`, FreeBSD `MDIOCRESIZE`). Failure: the image is
//!    cut back (the disk never showed the new blocks); nothing changed.
//! 4. **CheckFs** (ext2/3/4 not mounted: `e2fsck -f -p`, which resize2fs
//!    demands before an offline resize). Failure, or a stop signal before
//!    step 5: the unit is detached, the disk given its old size back if
//!    step 3 ran (Linux: the old limit, or the image cut back and its length
//!    read again; FreeBSD does not shrink an md disk, and the image then
//!    stays larger as below) and the image cut back: the file system never
//!    used the new blocks; nothing changed.
//! 5. **GrowFs** (`resize2fs`, `xfs_growfs`, `btrfs filesystem resize max`,
//!    `growfs -y`). From its start on the image stays larger: a grower
//!    that failed may have begun to use the new space. The
//!    growers change the file system so that an interruption leaves it
//!    consistent at the old or the new size; the message says the image
//!    stays larger and gives the command that finishes the grow; the same
//!    `mount_md -r` run again finishes it too ([`plan`] compares the file
//!    system's size with the target). Offline ext2/3/4 growers run to
//!    their end whatever happens to mount_md (see the backend).
//! 6. **Detach** (offline only) — the unit attached in step 2 goes again,
//!    on failure as on success, and after a stop signal (the grow is then
//!    finished, not undone, and said so). If the detach itself fails, the grow is
//!    done: nothing is undone (cutting the image back would cut the grown
//!    file system), and the message says the image and its file system
//!    were grown and the unit is still attached.
//!
//! Shrinking is refused before anything is done; asking for the current
//! size is success with nothing done.
#![forbid(unsafe_code)]
use crate::error::{Error, Result};
pub use crate::grow_ops::{show_argv, Attached, Found, GrowOps, GrowStep, Tool, SECTOR};
use crate::lifecycle;
use crate::output::Output;
use crate::platform::{GrowOf, Platform};
use crate::request::{GrowRequest, Target};

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
    let named = if let Target::Path(path) = &req.target { Some(path.as_path()) } else { None };
    let (found, mut ops) = p.grow(GrowOf::Target { target: &located, named, size: req.size })?;
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
    // The disk already that size (a run stopped after extending it, by
    // SIGTERM or kill -9) with a file system smaller than its grower would
    // make it: the grower runs again. A grower may leave a last block or
    // allocation group out, so the file system is compared with what the
    // grower makes on this disk ([`crate::superblock::Growth::grown`]), not
    // with the disk: a grow of any size resumes, and one that finished is
    // not run again. A stale superblock only makes it look smaller, and
    // running a grower on a file system already grown does nothing.
    let mounted = found.attached.as_ref().is_some_and(|a| a.mount_point.is_some());
    let fs_short = match (found.fs_size, found.growth) {
        (Some(fs), Some(g)) => fs < g.grown(size, mounted),
        (Some(fs), None) => fs.saturating_add(GROWER_SLACK) < size,
        (None, _) => false,
    };
    if size == found.disk_size && !fs_short {
        return Ok(Outcome::Nothing { size });
    }
    if found.attached.as_ref().is_some_and(|a| a.device.read_only) {
        return Err(Error::plain(format!("{shown}: attached read-only; nothing changed")));
    }
    let (check, grow) = tools(&found.fstype, mounted)?;
    if let Some(why) = &found.refusal {
        return Err(Error::plain(why.clone()));
    }
    let offline = found.attached.is_none();
    let steps = [
        (size > found.image_len).then_some(GrowStep::ExtendImage { from: found.image_len, to: size }),
        offline.then_some(GrowStep::Attach),
        (!offline && size > found.disk_size).then_some(GrowStep::SetCapacity { from: found.disk_size, to: size }),
        check.map(GrowStep::CheckFs),
        Some(GrowStep::GrowFs(grow)),
        offline.then_some(GrowStep::Detach),
    ];
    Ok(Outcome::Steps(steps.into_iter().flatten().collect()))
}

/// Where the backend gives no [`crate::superblock::Growth`] for a file
/// system whose size it read: how much of a disk a grower may leave
/// unused (a last ext4 block group too small for its inode table and
/// bitmaps, about 2 MiB with 4 KiB blocks; a last XFS allocation group
/// under 64 blocks). Every file system mount_md grows (ext2/3/4, XFS,
/// btrfs, UFS) has a `Growth` where its superblock reads whole; this bound
/// is only the fallback.
const GROWER_SLACK: u64 = 4 << 20;

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
    let mounted_on = found.attached.as_ref().and_then(|a| a.mount_point.clone());
    let fs_before = ops.fs_bytes(mounted_on.as_deref());
    let mut done: Vec<&GrowStep> = Vec::new();
    let mut stopped_after: Option<&str> = None;
    for step in steps {
        if opts.debug {
            let _ = writeln!(io.err, "DEBUG: {}", ops.describe(step));
        }
        // A stop signal between steps fails the next one, with the same
        // rules for what is undone; once the file system has grown, what
        // is left (the detach) is finished instead, and said.
        let grown = done.iter().any(|d| matches!(d, GrowStep::GrowFs(_)));
        let (ran, attempted) = match ops.interrupted() {
            Some(signal) if grown => {
                stopped_after.get_or_insert(signal);
                (ops.run(step), true)
            }
            Some(signal) => (Err(Error::plain(format!("stopped by {signal} before: {}", ops.describe(step)))), false),
            None => (ops.run(step), true),
        };
        match ran {
            Ok(()) => done.push(step),
            Err(e) if grown => {
                let tail = format!(
                    "the image and its file system were grown to {} bytes; the unit is still attached",
                    new_size(steps).unwrap_or_default()
                );
                return Err(append(e, &tail));
            }
            Err(e) => {
                // The module text's rules; a disk whose old size cannot be
                // given back leaves the image larger too.
                let mut larger = attempted && matches!(step, GrowStep::GrowFs(_));
                let hint = steps.iter().find(|s| matches!(s, GrowStep::GrowFs(_))).map(|s| ops.finish_hint(s));
                for d in done.iter().rev() {
                    let undone = match d {
                        GrowStep::Attach => ops.undo(d),
                        GrowStep::SetCapacity { .. } | GrowStep::ExtendImage { .. } if !larger => ops.undo(d),
                        _ => Ok(()),
                    };
                    if let Err(u) = undone {
                        let _ = writeln!(io.err, "{}: rollback: {u}", io.prog);
                        larger |= matches!(d, GrowStep::SetCapacity { .. });
                    }
                }
                if opts.scratch {
                    return Err(append(e, "the new image is removed"));
                }
                return Err(explain(e, found, steps, larger, hint));
            }
        }
    }
    let shown = found.image.display();
    if let Some(signal) = stopped_after {
        let _ = writeln!(io.err, "{}: {shown}: {signal} after the file system grew: finished the grow", io.prog);
    }
    // The disk is now `size` bytes: a line that mounts it with a smaller
    // -s would cut it (with -P it is mounted at its size, with a warning).
    let size = new_size(steps).unwrap_or(found.disk_size);
    let fs_after = ops.fs_bytes(mounted_on.as_deref());
    let _ = writeln!(io.out, "{}", report(found, size, fs_before, fs_after));
    let _ = writeln!(
        io.err,
        "{}: {shown}: grown to {size} bytes; a line that mounts it with -s: \
         update -s to {} in the options (fourth field) of its fstab line",
        io.prog,
        crate::size::as_s(size)
    );
    Ok(())
}

/// `-r`'s one line: the old and new size of the image and of its file
/// system.
pub fn report(found: &Found, to: u64, fs_before: Option<u64>, fs_after: Option<u64>) -> String {
    let h = crate::size::human;
    let from = found.disk_size;
    let fs = match (fs_before, fs_after) {
        (Some(a), Some(b)) => format!("from {a} to {b} bytes ({} to {})", h(a), h(b)),
        (None, Some(b)) => format!("grown to {b} bytes ({})", h(b)),
        _ => "grown to fill it".to_string(),
    };
    format!(
        "{}: grown from {from} to {to} bytes ({} to {}); its {} file system {fs}",
        crate::error::quoted(&found.image),
        h(from),
        h(to),
        found.fstype
    )
}

/// Adds to a failure what it left behind.
fn explain(e: Error, found: &Found, steps: &[GrowStep], larger: bool, hint: Option<String>) -> Error {
    let tail = match (larger, new_size(steps)) {
        (true, Some(to)) => format!(
            "the image stays {to} bytes (was {}), its file system intact at its old size; \
             once the cause is fixed, finish with: {}",
            found.disk_size,
            hint.unwrap_or_default()
        ),
        _ => "nothing changed".to_string(),
    };
    append(e, &tail)
}

/// The size the steps make the image and disk (ExtendImage and
/// SetCapacity both grow to the size asked for); `None` when neither
/// grows (a resumed grow of a disk already that size).
fn new_size(steps: &[GrowStep]) -> Option<u64> {
    steps.iter().find_map(|s| match s {
        GrowStep::ExtendImage { to, .. } | GrowStep::SetCapacity { to, .. } => Some(*to),
        _ => None,
    })
}

/// `e` with what its failure left behind said after its cause.
fn append(e: Error, tail: &str) -> Error {
    use crate::error::{strerror, Why};
    let why = match e.why {
        Why::Errno(n) => Why::Text(format!("{} ({tail})", strerror(n))),
        Why::Explained(t, n) => Why::Text(format!("{t}: {} ({tail})", strerror(n))),
        Why::Text(t) => Why::Text(format!("{t} ({tail})")),
        Why::Nothing => Why::Text(tail.to_string()),
    };
    Error { why, ..e }
}
