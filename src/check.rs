//! The one check of a plan against the system ([`check`]), and the
//! look-ups and refusals it shares with the executor's Attach and Examine
//! steps: which units hold the image and what the mount point holds
//! (`before_attach`), and what an image's first bytes allow (`judge`).
#![forbid(unsafe_code)]
use crate::error::{Error, Result};
use crate::lifecycle::{self, Decision, Existing, Occupant};
use crate::plan::{Attach, Examine, FsType, Mount, Plan, Step};
use crate::platform::{Device, FileId, Head, PathKind, Platform, UnitState};
use crate::request::Backing;
use crate::superblock::{self, Found};

/// The one check of `plan` against the system, run before the first step
/// by the real run and by `-N` alike, so that a dry run refuses where the
/// run would refuse before changing anything; nothing changes. In the
/// order a user meets them: what the plan itself refuses
/// ([`Plan::refusal`]: `-o ro` without `-P`, `-T tmpfs`) and what this
/// system cannot do at all (the first part of [`Platform::check`]), both
/// a bad invocation ([`Error::as_unsupported`]); what the files say (the
/// rest of [`Platform::check`]); then the lifecycle's look-ups (what the
/// mount point holds, what the image's first bytes hold, and which units
/// hold the image). The last of them, a scan of every unit, the run makes
/// under the image's lock, right after opening the image and before its
/// first change ([`crate::exec`]; again after mdmfs's pre-detach of a
/// fixed unit, which changed the units); a dry run, which takes no lock,
/// makes it here (`dry_run`). The look-ups are skipped for mount.md
/// `-N namespace`, whose tables are another namespace's.
pub fn check<P: Platform + ?Sized>(plan: &Plan, platform: &mut P, dry_run: bool) -> Result<Checked> {
    if let Some(why) = plan.refusal() {
        return Err(Error::plain(why).as_unsupported());
    }
    platform.check(plan)?;
    if plan.steps.iter().any(|s| matches!(s, Step::EnterNamespace(_))) {
        return Ok(Checked::default());
    }
    let Some(a) = plan.attach() else { return Ok(Checked::default()) };
    let image = match &a.backing {
        Backing::Vnode(path) => match platform.identify(path) {
            Ok(PathKind::File(id)) => Some(id),
            Ok(_) => None,
            // Not there yet (`--create`): nothing can be attached to it.
            Err(e) if matches!(e.errno(), Some(nix::errno::Errno::ENOENT)) => None,
            Err(e) => return Err(e),
        },
        Backing::Swap | Backing::Malloc => None,
    };
    before_attach(platform, a, &plan.mount_point, image, fstype_of(plan), dry_run)?;
    Ok(Checked { fs_size: examine_image(plan, platform, a)? })
}

/// What [`check`] read that the run needs again.
#[derive(Debug, Default)]
pub struct Checked {
    /// `-P`: the size of the file system the image holds, by its
    /// superblock (`Some(None)`: none found, or none to find behind a crypt
    /// layer); `None` where the check did not read it (mount.md `-N`, an
    /// image `--create` makes), and the run reads it itself.
    pub fs_size: Option<Option<u64>>,
}

/// What the lifecycle rules say before a disk is attached.
pub(crate) enum Before {
    Attach,
    /// Already done (`mount -a` twice): the device it is mounted from.
    AlreadyMounted(std::path::PathBuf),
    /// A leftover unit of ours nobody uses: take it over or replace it.
    Leftover(Existing),
}

/// The lifecycle's look-ups before attaching `a` for `mount_point` (the
/// image known as `image`); nothing changes. A disk is not mounted over a
/// file system already mounted there ([`lifecycle::occupant`]); one image
/// has one attachment: already mounted here is done, attached and in use
/// elsewhere is refused, another tool's unit is refused, a leftover of ours
/// is reported ([`lifecycle::decide`]), and so are stale units of ours for
/// the mount point holding another file ([`lifecycle::find_attached`]).
/// The units holding the image are looked for only with `holders` (a
/// scan of every unit): by a dry run's [`check`], and by the run once it
/// holds the image's lock.
pub(crate) fn before_attach<P: Platform + ?Sized>(
    p: &mut P,
    a: &Attach,
    mount_point: &std::path::Path,
    image: Option<FileId>,
    fstype: Option<&str>,
    holders: bool,
) -> Result<(Before, Vec<Device>)> {
    match lifecycle::occupant(p, mount_point, image)? {
        Occupant::Free | Occupant::ThisImage => {}
        // `mount -a` again with a memory-disk line: its disk is there (a
        // memory disk of ours for this mount point, of the type asked).
        Occupant::Ours(u, m)
            if matches!(a.backing, Backing::Swap | Backing::Malloc)
                && fstype.is_none_or(|t| t == m.fstype)
                && p.unit_is(&u, UnitState::MemoryBacked)? =>
        {
            return Ok((Before::AlreadyMounted(u.device.path), Vec::new()));
        }
        Occupant::Ours(u, ..) => return Err(over(mount_point, &u.device.path.display().to_string())),
        Occupant::Other(m) => return Err(over(mount_point, &m.source)),
    }
    if let (Backing::Vnode(path), Some(id), true) = (&a.backing, image, holders) {
        let (existing, stale) = lifecycle::find_attached(p, id, mount_point)?;
        let before = match lifecycle::decide(&existing) {
            Decision::Attach => Before::Attach,
            Decision::AlreadyMounted(e) => return Ok((Before::AlreadyMounted(e.unit.device.path), Vec::new())),
            // In use: the next step is where it is used, and whose it is
            // to release (-u refuses another tool's unit).
            Decision::InUse(e) if e.unit.owner.is_foreign() => {
                return Err(Error::plain(format!(
                    "{}: already attached as {} by another tool, and in use (when nothing uses it, {}{} detaches it)",
                    crate::error::quoted(path),
                    e.unit.device.path.display(),
                    P::DETACH_BY_HAND,
                    e.unit.device.unit
                )));
            }
            Decision::InUse(e) => {
                return Err(Error::plain(format!(
                    "{}: already attached as {}, and in use (mount_md --list shows it; mount_md -u {} releases it)",
                    crate::error::quoted(path),
                    e.unit.device.path.display(),
                    e.unit.device.path.display()
                )));
            }
            Decision::Foreign(e) => return Err(lifecycle::foreign::<P>(&crate::error::quoted(path), &e.unit.device)),
            Decision::Leftover(e) => Before::Leftover(e),
        };
        return Ok((before, stale));
    }
    Ok((Before::Attach, Vec::new()))
}

/// What the Examine step `e` makes of a disk's first bytes `head` (as
/// [`superblock::probe`] found them, `found`), the one rule for [`check`]
/// on the image file and for the run on the attached disk; `what` names
/// the image.
///
/// * Before a format: a file system or other signature it recognises is
///   refused, and so is any byte that is not zero in its first
///   [`superblock::EMPTY_LEN`] bytes (mdmfs formats whatever it is given;
///   mount_md asks for `--reformat`).
/// * Before mounting a kept (`-P`) file system: nothing at all is refused
///   (an image made with dd or truncate and never formatted), unless the
///   file system lives in a layer above the disk (`layered`). A file
///   system larger than the disk `-s` makes is not a refusal: the disk is
///   made its size (`Run::fit_to_fs` in [`crate::exec`]). Then `--fsck` decides
///   (`read_only`: the disk is attached read-only).
pub(crate) fn judge(
    e: &Examine,
    head: &[u8],
    found: Found,
    what: &str,
    layered: bool,
    read_only: bool,
) -> Result<Option<superblock::Decision>> {
    let Examine::BeforeMount(policy) = *e else {
        return match found.name() {
            Some(fs) => Err(Error::text(
                what,
                format!(
                    "already holds a file system ({fs}); not formatting it (-P mounts it as it is, --reformat replaces it)"
                ),
            )),
            None if !superblock::empty(head) => Err(Error::text(
                what,
                "is not empty (its first MiB holds data mount_md does not recognise); \
                 not formatting it (--reformat formats it anyway)",
            )),
            None => Ok(None),
        };
    };
    // Nothing read is not "empty": a platform that cannot read its disks
    // sees nothing.
    if found == Found::Unknown && !head.is_empty() && superblock::empty(head) && !layered {
        return Err(Error::text(
            what,
            "is empty (all zeros where a file system begins): there is nothing to mount; \
             drop -P to format it, or use --create to make and format a missing image",
        ));
    }
    Ok(Some(superblock::decide(policy, found, &superblock::health(head, found), read_only)))
}

/// [`check`]: what the superblock of an image that exists would make the run
/// refuse (formatting over a file system; `--fsck=always` on one it cannot
/// check; a disk read-only under `always`). Read from the image file: the
/// disk starts where the image does. Answers, for `-P`, the size of the
/// file system it holds ([`Checked::fs_size`]).
fn examine_image<P: Platform + ?Sized>(plan: &Plan, platform: &mut P, a: &Attach) -> Result<Option<Option<u64>>> {
    let Backing::Vnode(path) = &a.backing else { return Ok(None) };
    // Behind a crypt layer the image holds ciphertext: what the file
    // system is, is read at the Examine step, through the opened layer,
    // and no size can be read from the image (nor by the run).
    if plan.steps.iter().any(|s| matches!(s, Step::Crypt(_))) {
        return Ok(Some(None));
    }
    let Some(Step::Examine(e)) = plan.steps.iter().find(|s| matches!(s, Step::Examine(_))) else { return Ok(None) };
    let len = match e {
        Examine::BeforeFormat => superblock::EMPTY_LEN,
        Examine::BeforeMount(_) => superblock::PROBE_LEN,
    };
    let Some(head) = platform.read_start(Head::Image(path), len)? else { return Ok(None) };
    let what = crate::error::quoted(path);
    let found = superblock::probe(&head);
    match judge(e, &head, found, &what, layered(plan), a.read_only)? {
        Some(superblock::Decision::Refuse(why)) => Err(Error::text(what, why)),
        _ => Ok(matches!(e, Examine::BeforeMount(_)).then(|| superblock::fs_size(&head, found))),
    }
}

/// The plan mounts a layer above the disk (a suffix such as `.uzip`).
pub(crate) fn layered(plan: &Plan) -> bool {
    plan.steps.iter().any(|s| matches!(s, Step::Mount(m) if !m.suffix.is_empty()))
}

/// The type the plan mounts, when it names one.
pub(crate) fn fstype_of(plan: &Plan) -> Option<&str> {
    plan.steps.iter().find_map(|s| match s {
        Step::Mount(Mount { fstype: FsType::Named(t), .. }) => Some(t.as_str()),
        _ => None,
    })
}

/// The refusal to mount a disk over a file system already mounted there.
fn over(mount_point: &std::path::Path, source: &str) -> Error {
    Error::plain(format!(
        "{}: already a mount point (of {source}); not mounting over it (unmount it first)",
        crate::error::quoted(mount_point)
    ))
}
