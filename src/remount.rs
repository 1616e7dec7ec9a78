//! `-o remount,…`: change the flags of a file system mount_md mounted,
//! as util-linux does for its own helpers (`mount -o remount,ro /j` on a
//! mount.md line calls `mount.md md /j -o <fstab options>,remount,ro`),
//! and FreeBSD's `mount -u` (which passes `-o update,…` to the mount
//! program). [`plan`] is pure: the new option list, what cannot change
//! and the steps in their order; [`run`] carries them out.
//!
//! What a remount changes: the mount's flags (`ro`/`rw`, `nosuid`,
//! `noexec`, `noatime`, …) and file-system options the kernel lets change
//! (`MS_REMOUNT` on Linux; `nmount` with `MNT_UPDATE` on FreeBSD); going
//! read-only also makes the disk read-only (Linux: `BLKROSET`; FreeBSD's
//! md(4) has no way to change that of an attached unit, so it stays as
//! attached). What it cannot change is refused with the way to change it:
//! the image (`-F`), the disk's size (`-s`: `mount_md -r` grows), the file
//! system type (`-T`), and read-write on a disk attached read-only.
//! The other mount_md options of the fstab line (`-P`, `--create`, `-p`,
//! `-w`, newfs options, …) describe how the line is first mounted and are
//! ignored.
#![forbid(unsafe_code)]
use crate::error::{Error, Result};
use crate::lifecycle::{self, Located};
use crate::output::Output;
use crate::platform::{PathKind, Platform};
use crate::request::{RemountRequest, Target};
use std::path::PathBuf;

/// What the system says about the mount and its disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mounted {
    /// The mount's own option words now (mountinfo's per-mount options on
    /// Linux, `statfs` `f_flags` named on FreeBSD).
    pub options: Vec<String>,
    pub read_only: bool,
    pub fstype: String,
    /// `/dev/loop3`, for messages.
    pub device: PathBuf,
    /// The disk was attached read-only (`-o ro`, or an image that was not
    /// writable): it cannot become writable without attaching it again.
    pub attached_read_only: bool,
    /// The disk is read-only now (attached so, or made so by a remount).
    pub disk_read_only: bool,
    /// Bytes the disk holds.
    pub disk_size: u64,
    /// `-F` names the image attached there (by device and inode), when
    /// `-F` was given.
    pub same_image: Option<bool>,
}

/// One step of a remount, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Make the disk writable (`BLKROSET 0`) before the file system goes
    /// read-write.
    DiskWritable,
    /// `MS_REMOUNT` / `nmount(MNT_UPDATE)` with these options: the
    /// mount's options now, then those asked for (later ones win).
    Remount(Vec<String>),
    /// Make the disk read-only (`BLKROSET 1`) once the file system is.
    DiskReadOnly,
}

/// The steps, or why the remount cannot be done. `disk_ro_settable`: the
/// system can change an attached disk's read-only state (Linux).
pub fn plan(req: &RemountRequest, m: &Mounted, disk_ro_settable: bool) -> std::result::Result<Vec<Step>, String> {
    let mp = crate::error::quoted(&req.mount_point);
    if m.same_image == Some(false) {
        return Err(format!(
            "{mp}: -F names another image than the one mounted there; a remount changes only the mount's flags \
             (unmount it with mount_md -u, then mount the other image)"
        ));
    }
    if let Some(size) = req.size.filter(|&s| s != m.disk_size) {
        return Err(format!(
            "{mp}: the disk holds {} bytes, -s asks for {size}: a remount does not change the size \
             (mount_md -r -s SIZE {mp} grows it)",
            m.disk_size
        ));
    }
    if let Some(t) = req.fstype.as_deref().filter(|t| *t != m.fstype) {
        return Err(format!("{mp}: holds {}, not {t}: a remount does not change the file system type", m.fstype));
    }
    let ro = req.read_only(m.read_only);
    if !ro && m.attached_read_only {
        return Err(format!(
            "{mp}: {} is attached read-only (-o ro, or the image is not writable), so the file system cannot be \
             read-write; unmount it with mount_md -u and mount it again without ro",
            m.device.display()
        ));
    }
    // The trust rule is applied once, when a line is mounted (see
    // crate::trust): a remount does not lift what it set.
    for (lift, kept) in [("suid", "nosuid"), ("dev", "nodev")] {
        if m.options.iter().any(|o| o == kept) && req.options.iter().any(|o| o == lift) {
            return Err(format!(
                "{mp}: is mounted {kept}, and a remount does not lift it (-o {lift}); unmount it with mount_md -u \
                 and mount it again with -o {lift}"
            ));
        }
    }
    let options = [m.options.as_slice(), &req.options].concat();
    let mut steps = Vec::new();
    if !ro && m.disk_read_only && disk_ro_settable {
        steps.push(Step::DiskWritable);
    }
    steps.push(Step::Remount(options));
    if ro && !m.disk_read_only && disk_ro_settable {
        steps.push(Step::DiskReadOnly);
    }
    Ok(steps)
}

/// `-o remount,…`: finds the mount by the rules `-u` uses (a unit of
/// mount_md's, mounted on that directory), refuses what cannot change,
/// then runs the steps; making the disk writable is undone if the remount
/// then fails. `-N` prints the steps instead.
pub fn run<P: Platform + ?Sized>(p: &mut P, req: &RemountRequest, io: &mut Output<'_>) -> Result<()> {
    // mount.md -N: the mount is in that namespace (entering it changes
    // nothing but this process, so a dry run enters it too).
    if let Some(ns) = &req.namespace {
        p.enter_namespace(ns)?;
    }
    let mp = crate::error::quoted(&req.mount_point);
    let not_mounted = || Error::plain(format!("{mp}: not a mount point; nothing to remount"));
    let PathKind::MountRoot(id) = p.identify(&req.mount_point)? else {
        return Err(not_mounted());
    };
    let Located::Unit(u, mounts) = lifecycle::locate(p, &Target::Path(req.mount_point.clone()))? else {
        return Err(not_mounted());
    };
    let m = mounts.into_iter().find(|m| m.id == id).ok_or_else(not_mounted)?;
    let same_image = match &req.image {
        Some(img) => Some(matches!(p.identify(img)?, PathKind::File(f) if u.backing == Some(f))),
        None => None,
    };
    let disk = p.disk(&u, None)?;
    let mounted = Mounted {
        options: m.options.clone(),
        read_only: m.read_only(),
        fstype: m.fstype.clone(),
        device: u.device.path.clone(),
        attached_read_only: u.device.read_only,
        disk_read_only: disk.read_only,
        disk_size: disk.size.ok_or_else(|| Error::text(u.device.path.display().to_string(), "cannot read its size"))?,
        same_image,
    };
    let steps = plan(req, &mounted, P::DISK_RO_SETTABLE).map_err(Error::plain)?;
    let dev = u.device.path.display().to_string();
    let said = |s: &Step| match s {
        Step::DiskWritable => format!("make {dev} writable"),
        Step::Remount(o) => format!("remount {mp} with {}", o.join(",")),
        Step::DiskReadOnly => format!("make {dev} read-only"),
    };
    if req.dry_run {
        if req.show_plan {
            for s in &steps {
                let _ = writeln!(io.out, "{}", said(s));
            }
        }
        return Ok(());
    }
    let mut made_writable = false;
    for s in &steps {
        if req.debug {
            let _ = writeln!(io.err, "DEBUG: {}", said(s));
        }
        let done = match s {
            Step::DiskWritable => p.disk(&u, Some(false)).map(|_| made_writable = true),
            Step::Remount(options) => p.remount(&u, &m, options),
            Step::DiskReadOnly => p.disk(&u, Some(true)).map(drop).map_err(|e| {
                Error::plain(format!(
                    "{mp}: the file system is read-only now, but {dev} stays writable (blockdev --setro {dev} sets it): {e}"
                ))
            }),
        };
        if let Err(e) = done {
            if made_writable {
                if let Err(undo) = p.disk(&u, Some(true)) {
                    let _ = writeln!(io.err, "{}: rollback: {undo}", io.prog);
                }
            }
            return Err(e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(options: &[&str]) -> RemountRequest {
        RemountRequest {
            mount_point: "/var/jails/j1".into(),
            options: options.iter().map(|s| s.to_string()).collect(),
            image: Some("/srv/j1.img".into()),
            size: None,
            fstype: None,
            dry_run: false,
            show_plan: false,
            debug: false,
            namespace: None,
        }
    }

    fn mounted() -> Mounted {
        Mounted {
            options: vec!["rw".into(), "nosuid".into(), "nodev".into(), "relatime".into()],
            read_only: false,
            fstype: "ext4".into(),
            device: "/dev/loop3".into(),
            attached_read_only: false,
            disk_read_only: false,
            disk_size: 1 << 30,
            same_image: Some(true),
        }
    }

    fn words(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn read_only_then_the_disk() {
        let steps = plan(&req(&["rw", "-P", "ro"]), &mounted(), true).unwrap();
        assert_eq!(
            steps,
            [Step::Remount(words(&["rw", "nosuid", "nodev", "relatime", "rw", "-P", "ro"])), Step::DiskReadOnly]
        );
        // FreeBSD: the md unit stays as attached.
        assert_eq!(plan(&req(&["ro"]), &mounted(), false).unwrap().len(), 1);
    }

    #[test]
    fn read_write_makes_the_disk_writable_first() {
        let m = Mounted { read_only: true, disk_read_only: true, ..mounted() };
        assert_eq!(plan(&req(&["rw"]), &m, true).unwrap()[0], Step::DiskWritable);
        // Flags only: the disk is left as it is.
        let steps = plan(&req(&["noexec"]), &m, true).unwrap();
        assert_eq!(steps.len(), 1);
    }

    #[test]
    fn what_cannot_change_is_refused_with_the_way_to_change_it() {
        let m = Mounted { read_only: true, attached_read_only: true, disk_read_only: true, ..mounted() };
        let e = plan(&req(&["rw"]), &m, true).unwrap_err();
        assert!(e.contains("attached read-only") && e.contains("mount_md -u"), "{e}");
        let mut r = req(&["ro"]);
        r.size = Some(2 << 30);
        let e = plan(&r, &mounted(), true).unwrap_err();
        assert!(e.contains("1073741824") && e.contains("2147483648") && e.contains("mount_md -r -s SIZE"), "{e}");
        r.size = Some(1 << 30);
        assert!(plan(&r, &mounted(), true).is_ok(), "the size it has is no change");
        let e = plan(&req(&["ro"]), &Mounted { same_image: Some(false), ..mounted() }, true).unwrap_err();
        assert!(e.contains("another image"), "{e}");
        let mut r = req(&["ro"]);
        r.fstype = Some("xfs".into());
        assert!(plan(&r, &mounted(), true).unwrap_err().contains("holds ext4, not xfs"));
    }
}
