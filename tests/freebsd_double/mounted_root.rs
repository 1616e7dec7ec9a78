//! The FreeBSD backend's mounted root, opened once by descriptor and
//! closed before a rollback, and `-N` as a preflight, on the recording
//! syscall layer and on the kernel model (tests/support/freebsd/model.rs).
use crate::support::freebsd::jail::{self};
use crate::support::freebsd::model::{Host, Model};
use crate::support::freebsd::{run, words};
use crate::support::MIB;
use mount_md::plan::TmpfsMount;
use mount_md::platform::freebsd::recording::{Recorder, SysCall};
use mount_md::platform::freebsd::FreeBsd;
use mount_md::platform::{Note, Platform, UnmountOf};
use std::path::PathBuf;

const IMG: &str = "/images/j1.img";

/// What `check` has to say (here: `-E` is ignored) reaches the executor
/// through `take_notes`, once: the backend keeps its notes in a plain
/// field now that `check` takes `&mut self`.
#[test]
fn notes_from_check_are_taken_once() {
    let mut fb = FreeBsd::with_sys(Recorder::new().with_file(IMG, IMG, 64 * MIB));
    let (code, out, err) = run(&words("mount_md -N -X -E /sbin/mdconfig -P -F /images/j1.img md /mnt"), &mut fb);
    assert_eq!(code, 0, "{err}");
    let line = "-E /sbin/mdconfig: ignored; mount_md attaches with MDIOCATTACH itself and runs no mdconfig";
    assert_eq!(format!("{out}{err}").matches(line).count(), 1, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(fb.take_notes(), Vec::<Note>::new());
}

/// #13 on FreeBSD: `-N` runs the preflight through `MdSys::preflight`; on
/// the model a missing image is refused as the real run refuses it, and a
/// good line prints its plan.
#[test]
fn dry_run_is_a_preflight_on_the_model() {
    let m = Model::new(Host::Ufs).dir("/mnt").image(IMG, 64 * MIB, Model::clean_ufs(), None);
    let (code, out, err) = jail::mount_md(&m, &words("mount_md -N -P -F /missing.img md /mnt"));
    let (run_code, run_out, run_err) = jail::mount_md(&m, &words("mount_md -P -F /missing.img md /mnt"));
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert_eq!(err, "mount_md: /missing.img: No such file or directory\n");
    assert_eq!((run_code, run_out.as_str(), run_err.as_str()), (code, "", err.as_str()));
    assert!(m.unit_numbers().is_empty() && m.md_mounts().is_empty());

    let (code, out, err) = jail::mount_md(&m, &words("mount_md -N -X -P -F /images/j1.img md /mnt"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("MDIOCATTACH") && out.contains("nmount"), "{out}");
    assert!(m.unit_numbers().is_empty() && m.md_mounts().is_empty(), "-N changed nothing");
}

/// #10 item 7 on FreeBSD: the mounted root is opened once, right after
/// nmount, and mode, owner and skeleton all go through that one handle.
#[test]
fn mounted_root_is_opened_once_and_used_for_every_later_step() {
    let mut fb = FreeBsd::with_sys(Recorder::new().with_file(IMG, IMG, 64 * MIB));
    let (code, _, err) = run(&words("mount_md -P -p 0750 -w 0:0 -k /skel -F /images/j1.img md /mnt"), &mut fb);
    assert_eq!(code, 0, "{err}");
    let sys = fb.into_sys();
    assert_eq!(sys.roots, [PathBuf::from("/mnt")]);
    let after_mount: Vec<&SysCall> =
        sys.calls.iter().skip_while(|c| !matches!(c, SysCall::Nmount(_))).skip(1).collect();
    assert_eq!(
        after_mount,
        [
            &SysCall::ReadOnlyCheck("/mnt".into()),
            &SysCall::SetMode("/mnt".into(), 0o750),
            &SysCall::SetOwner("/mnt".into(), 0, 0),
            &SysCall::CopySkeleton { fspath: "/mnt".into(), from: "/skel".into() },
        ]
    );
}

/// On the model the root is a file open on the mount: held through the
/// run, closed when it finishes (so the mount is not left busy) and
/// before a rollback unmounts (which would otherwise be refused, EBUSY).
#[test]
fn mounted_root_is_closed_at_the_end_and_before_a_rollback() {
    let m = Model::new(Host::Ufs).dir("/mnt").image(IMG, 64 * MIB, Model::clean_ufs(), None);
    let mut fb = FreeBsd::with_sys(m.clone());
    let (code, _, err) = run(&words("mount_md -P -p 0750 -F /images/j1.img md /mnt"), &mut fb);
    assert_eq!(code, 0, "{err}");
    assert_eq!(m.k().roots_opened, 1);
    assert_eq!(m.k().mounts.iter().map(|x| x.open_files).collect::<Vec<_>>(), [0], "closed when the run ends");
    let (code, _, err) = jail::mount_md(&m, &words("mount_md -u /mnt"));
    assert_eq!(code, 0, "{err}");
    assert!(m.unit_numbers().is_empty() && m.md_mounts().is_empty());

    // The root is open when the executor undoes the mount: unmount closes
    // it first, or the model's unmount(2) would answer EBUSY.
    let mut fb = FreeBsd::with_sys(m.clone());
    let t = TmpfsMount { size: Some(MIB), options: vec![], mount_point: "/mnt".into(), sloppy: false };
    let mounted = fb.mount(mount_md::platform::MountOf::Tmpfs(&t)).unwrap();
    assert_eq!(m.k().mounts.iter().map(|x| x.open_files).collect::<Vec<_>>(), [1], "held for mode, owner, skeleton");
    fb.unmount(UnmountOf::Made(mounted)).unwrap();
    assert!(m.k().mounts.is_empty());
    assert_eq!(m.k().roots_opened, 2);
}
