//! The lifecycle rules, written once for every system: which existing
//! unit backs the image, whether it may be reused, and what `mount_md -u`
//! may tear down. They work over the small primitives each backend gives
//! ([`Platform::units`], [`Platform::mounts`], [`Platform::identify`],
//! [`Platform::unmount`], [`Platform::release_unit`]):
//!
//! * a unit is known by the device and inode of its backing file as the
//!   kernel reports them, never by a path resolved from our view;
//! * a mount belongs to a unit when its device number is the unit's, never
//!   by its source text ([`MountRec::belongs_to`]);
//! * mount_md touches only units that carry its mark ([`crate::mark`]):
//!   for anything another tool attached, `-u` says so and changes nothing,
//!   and a leftover is reused or replaced only if it is ours;
//! * what cannot be checked (no permission, an unreadable table) is an
//!   error, never "nothing to do".
#![forbid(unsafe_code)]
use crate::error::{Error, Result};
pub use crate::grow_ops::Located;
use crate::platform::{
    Detached, Device, FileId, MountRec, Note, Owner, PathKind, Platform, Released, UnitInfo, UnitState, UnmountOf,
    Which,
};
use crate::request::Target;
use nix::errno::Errno;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

/// How long to give a unit that was just unmounted (autoclear runs
/// asynchronously) to go away before it counts as a leftover.
const SETTLE: Duration = Duration::from_secs(1);
/// How often it is looked at meanwhile.
const SETTLE_STEP: Duration = Duration::from_millis(10);

/// The units backed by the image `image`, each with whether it is mounted
/// at `mount_point`, in use at all, and whose it is; and the stale units of
/// ours for `mount_point`: marked for exactly that directory, holding
/// another file than the image, used by nothing. Those are leftovers of an
/// earlier start (jail(8) undoes a failed start without `exec.release`)
/// whose image was replaced or removed since (a restore's `mv restored.img
/// j1.img`); the unit's file is known by the kernel's identity (Linux
/// `lo_device`/`lo_inode`, FreeBSD the ident or the mark), so the image
/// itself is never among them. The run detaches them before attaching.
pub fn find_attached<P: Platform + ?Sized>(
    p: &mut P,
    image: FileId,
    mount_point: &Path,
) -> Result<(Vec<Existing>, Vec<Device>)> {
    let mp = mount_point.as_os_str().as_bytes();
    let mut waited = Duration::ZERO;
    loop {
        let (units, others): (Vec<UnitInfo>, Vec<UnitInfo>) =
            p.units(Which::All)?.into_iter().partition(|u| u.backing == Some(image));
        let stale: Vec<UnitInfo> = others
            .into_iter()
            .filter(|u| u.backing.is_some())
            .filter(|u| matches!(&u.owner, Owner::Ours(m) if m.is_exact() && m.names(mp)))
            .collect();
        if units.is_empty() && stale.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let mounts = p.mounts()?;
        let mut unused = Vec::new();
        for u in stale {
            if !mounts.iter().any(|m| m.belongs_to(&u)) && !p.unit_is(&u, UnitState::Held)? {
                unused.push(u.device);
            }
        }
        // Where the mount point is, by the kernel's mount id (a path that
        // cannot be looked at is simply not "here").
        let here = match p.identify(mount_point) {
            Ok(PathKind::MountRoot(id)) => mounts.iter().find(|m| m.id == id),
            _ => None,
        };
        let mut found = Vec::new();
        let mut settling = false;
        for u in units {
            let in_use = mounts.iter().any(|m| m.belongs_to(&u)) || p.unit_is(&u, UnitState::Held)?;
            // Unused with autoclear: going away (whoever attached it).
            settling |= !in_use && u.autoclear;
            found.push(Existing { mounted_here: here.is_some_and(|m| m.belongs_to(&u)), in_use, unit: u });
        }
        if !settling || waited >= SETTLE {
            return Ok((found, unused));
        }
        // The platform's pause: the doubles count it instead of sleeping.
        let _ = p.pause(SETTLE_STEP);
        waited += SETTLE_STEP;
    }
}

/// What the mount point already is, before a disk is attached for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Occupant {
    /// Not a mount point (or not one that can be looked at: later steps
    /// say why).
    Free,
    /// Mounted from a unit backed by this run's image:
    /// [`find_attached`] decides.
    ThisImage,
    /// Mounted from a unit of ours whose mark names this mount point (an
    /// earlier run of the same line, or another line for this mount
    /// point): the unit and the mount.
    Ours(UnitInfo, MountRec),
    /// Mounted from anything else.
    Other(MountRec),
}

/// Whether `mount_point` is already the root of a mount, and of what.
/// Mounting a disk over it would hide that file system (and, run twice by
/// `mount -a`, stack a second disk on the first), so the executor mounts
/// over nothing.
pub fn occupant<P: Platform + ?Sized>(p: &mut P, mount_point: &Path, image: Option<FileId>) -> Result<Occupant> {
    let id = match p.identify(mount_point) {
        Ok(PathKind::MountRoot(id)) => id,
        // Missing or not a directory: the mount says so, in its words.
        Ok(_) => return Ok(Occupant::Free),
        Err(e) if matches!(e.errno(), Some(Errno::ENOENT | Errno::ENOTDIR)) => return Ok(Occupant::Free),
        Err(e) => return Err(e),
    };
    let Some(m) = p.mounts()?.into_iter().find(|m| m.id == id) else { return Ok(Occupant::Free) };
    let unit = p.units(Which::Device(m.dev))?.into_iter().next();
    Ok(match unit {
        Some(u) if image.is_some() && u.backing == image => Occupant::ThisImage,
        Some(u) if matches!(&u.owner, Owner::Ours(k) if k.names(m.on.as_os_str().as_bytes())) => Occupant::Ours(u, m),
        _ => Occupant::Other(m),
    })
}

/// A unit that already has the image attached, as [`Platform::units`]
/// reported it, and how it is used ([`find_attached`], before attaching).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub unit: UnitInfo,
    /// Mounted at the mount point this run was asked to mount on.
    pub mounted_here: bool,
    /// Mounted anywhere, or held open by anyone.
    pub in_use: bool,
}

/// What to do about the units already backed by the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// None: attach.
    Attach,
    /// Already mounted where asked (`mount -a` twice): done.
    AlreadyMounted(Existing),
    /// Mounted or open elsewhere: refuse (one image, one writer).
    InUse(Existing),
    /// Attached by another tool and idle: refuse, it is not ours to replace.
    Foreign(Existing),
    /// A leftover of ours nobody uses: reuse it, or detach it and attach.
    Leftover(Existing),
}

/// The rule, pure: mounted here wins, then in use, then foreign, then ours.
pub fn decide(existing: &[Existing]) -> Decision {
    let first = |test: fn(&Existing) -> bool| existing.iter().find(|e| test(e)).cloned();
    first(|e| e.mounted_here)
        .map(Decision::AlreadyMounted)
        .or_else(|| first(|e| e.in_use).map(Decision::InUse))
        .or_else(|| first(|e| e.unit.owner.is_foreign()).map(Decision::Foreign))
        .or_else(|| existing.first().cloned().map(Decision::Leftover))
        .unwrap_or(Decision::Attach)
}

/// The error for a unit another tool attached: `-u` refuses it, so the
/// next step named is that tool's own detach.
pub fn foreign<P: Platform + ?Sized>(what: &str, dev: &Device) -> Error {
    Error::plain(format!("{what}: {}", foreign_unit::<P>(dev)))
}

/// `/dev/loop3 was not attached by mount_md; left alone (…)`.
fn foreign_unit<P: Platform + ?Sized>(dev: &Device) -> String {
    format!(
        "{} was not attached by mount_md; left alone (another tool attached it: when nothing uses it, {}{} detaches it)",
        dev.path.display(),
        P::DETACH_BY_HAND,
        dev.unit
    )
}

/// mdmfs's pre-detach of a fixed unit, never of a unit another tool
/// attached: `Ok(false)` (with the reason in `notes`) when it is left
/// alone. The caller ignores errors, as mdmfs does.
pub fn predetach<P: Platform + ?Sized>(p: &mut P, unit: u32, notes: &mut Vec<Note>) -> Result<bool> {
    if let Some(u) = p.units(Which::Unit(unit))?.into_iter().find(|u| u.owner.is_foreign()) {
        notes.push(Note::Debug(format!("{} was not attached by mount_md; left alone", u.device.path.display())));
        return Ok(false);
    }
    p.reuse(&Device { unit, path: crate::platform::node::<P>(unit), read_only: false }, None)?;
    Ok(true)
}

/// `mount_md -u`: unmounts what is mounted from the target's unit(s) of
/// ours, newest first, and detaches them. Everything is checked before
/// anything changes: a unit another tool attached is refused whole.
pub fn release<P: Platform + ?Sized>(
    p: &mut P,
    target: &Target,
    force: bool,
    notes: &mut Vec<Note>,
) -> Result<Released> {
    let mut table = None;
    let mut locks = Vec::new();
    let chosen = lock_chosen(p, target, &mut table, &mut locks)?;
    let mut out = Released::default();
    if chosen.is_empty() {
        return Ok(out);
    }
    let mounts = mount_table(p, &mut table)?;
    for u in &chosen {
        release_one(p, u, mounts, force, notes, &mut out)?;
    }
    drop(locks);
    Ok(out)
}

/// [`choose`], then the lock of each chosen unit's image, which a mount and
/// `-r` hold while they work on it: `-u` waits for them (bounded, saying
/// for what) and holds the locks, in `locks`, until it is done, so that
/// neither sees the unit half released, nor `-u` a grow half done. A lock
/// that had to be waited for means the units and mounts read before may
/// have changed meanwhile (a mount finished, a `-r` detached its unit):
/// they are read again.
fn lock_chosen<P: Platform + ?Sized>(
    p: &mut P,
    target: &Target,
    table: &mut Option<Vec<MountRec>>,
    locks: &mut Vec<(FileId, crate::platform::ImageLock)>,
) -> Result<Vec<UnitInfo>> {
    let mut looks = 0;
    loop {
        let chosen = choose(p, target, table)?;
        let mut waited = false;
        for u in &chosen {
            let Some(file) = u.backing else { continue };
            if locks.iter().any(|(f, _)| *f == file) {
                continue;
            }
            if let Some(lock) = p.lock_image_of(u)? {
                waited |= lock.waited;
                locks.push((file, lock));
            }
        }
        looks += 1;
        if !waited || looks >= 3 {
            return Ok(chosen);
        }
        *table = None;
    }
}

/// `mount_md -N -u`: the same look-ups and refusals as [`release`], then
/// one line per unmount and detach it would do, changing nothing.
pub fn preview<P: Platform + ?Sized>(p: &mut P, target: &Target, force: bool) -> Result<Vec<String>> {
    let mut table = None;
    let chosen = choose(p, target, &mut table)?;
    let mounts = if chosen.is_empty() { &[][..] } else { mount_table(p, &mut table)? };
    let (unmount, detach) = if force {
        ("forced", "if still in use, when its last user closes it")
    } else {
        ("refused if it is busy; -f forces", "refused while it is open; -f forces")
    };
    let mut lines = Vec::new();
    for u in &chosen {
        for m in mounts.iter().rev().filter(|m| m.belongs_to(u)) {
            if force {
                refuse_nested(m, u, mounts)?;
            }
            lines.push(format!("unmount {} ({unmount})", crate::error::quoted(&m.on)));
        }
        lines.push(format!("detach {} ({detach})", u.device.path.display()));
    }
    if lines.is_empty() {
        lines.push(format!("{}: not mounted, not attached: nothing to do", shown(target)));
    }
    Ok(lines)
}

/// The mount table, read at most once per `-u` ([`release`], [`preview`]
/// and [`choose`] share `table`).
fn mount_table<'t, P: Platform + ?Sized>(p: &mut P, table: &'t mut Option<Vec<MountRec>>) -> Result<&'t [MountRec]> {
    if table.is_none() {
        *table = Some(p.mounts()?);
    }
    Ok(table.as_deref().unwrap_or_default())
}

/// The units `-u target` acts on, after every check and before anything
/// changes; a unit another tool attached is refused. The mount table it
/// reads is left in `table` for the caller.
fn choose<P: Platform + ?Sized>(
    p: &mut P,
    target: &Target,
    table: &mut Option<Vec<MountRec>>,
) -> Result<Vec<UnitInfo>> {
    let (chosen, _) = resolve(p, target, table)?;
    if let Some(u) = chosen.iter().find(|u| u.owner.is_foreign()) {
        return Err(match target {
            Target::Unit(_) => Error::plain(foreign_unit::<P>(&u.device)),
            Target::Path(_) => foreign::<P>(&shown(target), &u.device),
        });
    }
    Ok(chosen)
}

/// A target as messages name it: `unit 3`, or its path.
pub(crate) fn shown(target: &Target) -> String {
    match target {
        Target::Unit(n) => format!("unit {n}"),
        Target::Path(path) => crate::error::quoted(path),
    }
}

/// The units a target names, whoever attached them, and what a path
/// target turned out to be: a unit by number; the unit a mount root is
/// mounted from (by device number); for a directory that is not mounted
/// (jail(8) unmounts before exec.release), the units of ours whose mark
/// names it (one mounted elsewhere is an error, one held open is left to
/// the detach to refuse); for a file, the units backed by it.
fn resolve<P: Platform + ?Sized>(
    p: &mut P,
    target: &Target,
    table: &mut Option<Vec<MountRec>>,
) -> Result<(Vec<UnitInfo>, Option<PathKind>)> {
    let path = match target {
        Target::Unit(n) => return Ok((p.units(Which::Unit(*n))?, None)),
        Target::Path(path) => path,
    };
    // A mount root whose mount is not in the table was unmounted between
    // the two looks (another `-u`, a jail stop): look again, a few times.
    let mut looks = 0;
    let kind = loop {
        let kind = p.identify(path)?;
        let PathKind::MountRoot(id) = &kind else { break kind };
        if mount_table(p, table)?.iter().any(|m| m.id == *id) {
            break kind;
        }
        looks += 1;
        if looks >= 3 {
            return Err(Error::text(shown(target), "mount vanished from the mount table"));
        }
        *table = None;
    };
    let chosen = match &kind {
        PathKind::MountRoot(id) => {
            let m = mount_table(p, table)?.iter().find(|m| m.id == *id).expect("found above");
            // The mount's device number names its unit: one unit read,
            // whatever the number attached.
            match p.units(Which::Device(m.dev))?.into_iter().next() {
                Some(u) => vec![u],
                None => {
                    return Err(Error::text(shown(target), format!("mounted from {}, not {}", m.source, P::DISK_NAME)))
                }
            }
        }
        PathKind::Dir(real) => {
            let mounts = mount_table(p, table)?;
            let bytes = real.as_os_str().as_bytes();
            let mut v = Vec::new();
            for u in p.units(Which::All)?.into_iter().filter(|u| matches!(&u.owner, Owner::Ours(m) if m.names(bytes))) {
                // Marked for this directory but mounted somewhere else: it
                // serves that mount now, and says so rather than vanish.
                if let Some(m) = mounts.iter().find(|m| m.belongs_to(&u)) {
                    return Err(Error::plain(format!(
                        "{}: {} is mounted on {}; left alone (mount_md -u {} releases it there)",
                        shown(target),
                        u.device.path.display(),
                        crate::error::quoted(&m.on),
                        crate::error::quoted(&m.on)
                    )));
                }
                // Held open (a process, a mount in another namespace): the
                // detach says so, and -f forces it.
                v.push(u);
            }
            // A cut mark without its hash names every directory it begins:
            // with more than one unit to choose from, choose none.
            if v.len() > 1 && v.iter().any(|u| matches!(&u.owner, Owner::Ours(m) if !m.is_exact())) {
                let names: Vec<String> = v.iter().map(|u| u.device.path.display().to_string()).collect();
                return Err(Error::plain(format!(
                    "{}: the cut marks of {} all fit it; name the unit or the image; nothing done",
                    shown(target),
                    names.join(", ")
                )));
            }
            v
        }
        PathKind::File(id) => {
            let v: Vec<UnitInfo> = p.units(Which::All)?.into_iter().filter(|u| u.backing == Some(*id)).collect();
            if let Some(u) = v.iter().find(|u| !u.backing_exact) {
                return Err(Error::plain(format!(
                    "{}: {} may hold it or a file that replaced it (its ident is cut and the path it recorded \
                     names this file now); ambiguous, nothing changed: name the unit or its mount point",
                    shown(target),
                    u.device.path.display()
                )));
            }
            v
        }
    };
    Ok((chosen, Some(kind)))
}

/// The one unit (or unattached image) `-r target` is about, by the rules
/// `-u` uses (`resolve`). A unit another tool attached, a target that
/// names nothing growable, and an image attached twice are errors, with
/// nothing changed.
pub fn locate<P: Platform + ?Sized>(p: &mut P, target: &Target) -> Result<Located> {
    let mut table = None;
    let (mut chosen, kind) = resolve(p, target, &mut table)?;
    let u = match (chosen.len(), &kind, target) {
        (1, _, _) => chosen.remove(0),
        (0, _, Target::Unit(n)) => {
            return Err(Error::plain(format!("{}: not attached", crate::platform::node::<P>(*n).display())));
        }
        (0, Some(PathKind::File(_)), Target::Path(path)) => return Ok(Located::Image(path.clone())),
        (0, _, _) => {
            return Err(Error::text(shown(target), "not a mount point, an image file or a unit; nothing changed"))
        }
        (n, _, _) => {
            let names: Vec<String> = chosen.iter().map(|u| u.device.path.display().to_string()).collect();
            return Err(Error::text(
                shown(target),
                format!("attached as {n} units ({}); nothing changed", names.join(", ")),
            ));
        }
    };
    if u.owner.is_foreign() {
        return Err(Error::plain(format!(
            "{}: not attached by mount_md (it carries no mount_md mark); nothing changed",
            u.device.path.display()
        )));
    }
    let mounts = mount_table(p, &mut table)?.iter().filter(|m| m.belongs_to(&u)).cloned().collect();
    Ok(Located::Unit(u, mounts))
}

/// How often, and how far apart, an unmount refused as busy is tried
/// again: a holder that is already going away (a process exiting, a child
/// between fork and exec that inherited a descriptor for a moment) lets go
/// within that second; one that stays makes `-u` fail, changing nothing.
const UNMOUNT_TRIES: u32 = 10;
const UNMOUNT_PAUSE: Duration = Duration::from_millis(100);

/// A forced unmount is lazy on Linux (MNT_DETACH), and a lazy unmount
/// takes every mount below it too: refused while another file system is
/// mounted inside `m` (a jail's devfs, a tmpfs on a subdirectory), whose
/// owner `-u` must not touch. Unmount those first.
fn refuse_nested(m: &MountRec, u: &UnitInfo, mounts: &[MountRec]) -> Result<()> {
    match mounts.iter().find(|x| !x.belongs_to(u) && x.on != m.on && x.on.starts_with(&m.on)) {
        Some(inner) => Err(Error::plain(format!(
            "{}: {} is mounted inside it, and -f would unmount it too; unmount it first",
            crate::error::quoted(&m.on),
            crate::error::quoted(&inner.on)
        ))),
        None => Ok(()),
    }
}

/// After an unmount that said "not mounted" (EINVAL, ENOENT): whether `m`
/// is gone from the table, looking again for up to [`SETTLE`] while it is
/// still listed (another `-u` unmounting it at the same moment can make
/// ours fail before the table shows its own unmount finished).
fn gone_soon<P: Platform + ?Sized>(p: &mut P, m: &MountRec) -> Result<bool> {
    let mut waited = Duration::ZERO;
    while p.mounts()?.iter().any(|x| x.id == m.id) {
        if waited >= SETTLE {
            return Ok(false);
        }
        let _ = p.pause(SETTLE_STEP);
        waited += SETTLE_STEP;
    }
    Ok(true)
}

/// unmount(2) of the mount `m`, EBUSY retried for about a second unless
/// forced; then, where the platform names something that lets go of a
/// busy root by itself ([`Platform::BUSY_ROOT`]: FreeBSD's dying jail),
/// for as long as it says, saying so once.
fn unmount_settled<P: Platform + ?Sized>(p: &mut P, m: &MountRec, force: bool, notes: &mut Vec<Note>) -> Result<()> {
    let mut tries = 1;
    let mut waited = Duration::ZERO;
    loop {
        match p.unmount(UnmountOf::Found(m, force)) {
            Err(e) if e.errno() == Some(Errno::EBUSY) && !force && tries < UNMOUNT_TRIES => {
                tries += 1;
                let _ = p.pause(UNMOUNT_PAUSE);
            }
            Err(e) if e.errno() == Some(Errno::EBUSY) && !force => match P::BUSY_ROOT {
                Some((limit, what)) if waited < limit => {
                    if waited.is_zero() {
                        notes.push(Note::Warning(format!(
                            "unmount of {}: busy; waiting up to {} s for {what}",
                            crate::error::quoted(&m.on),
                            limit.as_secs()
                        )));
                    }
                    let _ = p.pause(BUSY_ROOT_PAUSE);
                    waited += BUSY_ROOT_PAUSE;
                }
                _ => return Err(e),
            },
            r => return r,
        }
    }
}

/// How often a busy root is tried again while [`Platform::BUSY_ROOT`]
/// waits.
const BUSY_ROOT_PAUSE: Duration = Duration::from_millis(500);

/// Unmounts every mount of `u` (newest first; the first that fails stops
/// everything), then detaches it.
fn release_one<P: Platform + ?Sized>(
    p: &mut P,
    u: &UnitInfo,
    mounts: &[MountRec],
    force: bool,
    notes: &mut Vec<Note>,
    out: &mut Released,
) -> Result<()> {
    if force {
        for m in mounts.iter().filter(|m| m.belongs_to(u)) {
            refuse_nested(m, u, mounts)?;
        }
    }
    // While it is still ours: the unit may go away with its last unmount.
    // A remount to ro made its disk read-only, which the system would
    // keep for the unit's next user: attached writable, it leaves writable.
    if P::DISK_RO_SETTABLE && !u.device.read_only && p.disk(u, None)?.read_only {
        p.disk(u, Some(false))?;
    }
    for m in mounts.iter().rev().filter(|m| m.belongs_to(u)) {
        match unmount_settled(p, m, force, notes) {
            Ok(()) => out.unmounted.push(m.on.clone()),
            // Not mounted any more: someone else (another `-u`, a jail
            // stop) unmounted it meanwhile. Done, not by us.
            Err(e) if matches!(e.errno(), Some(Errno::EINVAL | Errno::ENOENT)) && gone_soon(p, m)? => {}
            Err(e) if e.errno() == Some(Errno::EBUSY) && !force => {
                return Err(Error::explained(
                    format!("unmount of {}", crate::error::quoted(&m.on)),
                    "in use, nothing detached (-f forces)",
                    Errno::EBUSY,
                ))
            }
            Err(e) => return Err(e),
        }
    }
    match p.release_unit(u, force) {
        Ok(Detached::Now) => out.detached.push(u.device.clone()),
        Ok(Detached::OnLastClose) => notes.push(Note::Warning(format!(
            "{}: still in use; detached when its last user closes it",
            u.device.path.display()
        ))),
        Err(e) if e.errno() == Some(Errno::EBUSY) && !force => {
            return Err(Error::explained(
                format!("detach {}", u.device.path.display()),
                "still open (-f forces)",
                Errno::EBUSY,
            ))
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mark::Mark;

    fn e(unit: u32, mounted_here: bool, in_use: bool, owner: Owner) -> Existing {
        let device = Device { unit, path: format!("/dev/md{unit}").into(), read_only: false };
        let unit = UnitInfo { device, rdev: 0, backing: None, backing_exact: true, owner, autoclear: false };
        Existing { unit, mounted_here, in_use }
    }

    #[test]
    fn decisions() {
        let ours = Owner::Ours(Mark { mount_point: b"/j".to_vec(), truncated: false, hash: None });
        assert_eq!(decide(&[]), Decision::Attach);
        let here = e(1, true, true, Owner::Foreign);
        assert_eq!(decide(&[e(2, false, true, ours.clone()), here.clone()]), Decision::AlreadyMounted(here));
        let busy = e(2, false, true, ours.clone());
        assert_eq!(decide(&[e(3, false, false, Owner::Foreign), busy.clone()]), Decision::InUse(busy));
        let theirs = e(3, false, false, Owner::Foreign);
        assert_eq!(decide(&[e(4, false, false, ours.clone()), theirs.clone()]), Decision::Foreign(theirs));
        let left = e(4, false, false, ours);
        assert_eq!(decide(std::slice::from_ref(&left)), Decision::Leftover(left));
    }
}
