//! Follow-ups on the FreeBSD backend (#10 items 7 and 9, #13, #14), on the
//! recording syscall layer and on the kernel model
//! (tests/freebsd_support/model.rs).
mod freebsd_support;

use freebsd_support::jail;
use freebsd_support::model::{Host, Model};
use freebsd_support::{run, words};
use mount_md::platform::freebsd::recording::Recorder;
use mount_md::platform::freebsd::FreeBsd;
use mount_md::platform::{Note, Platform};

const IMG: &str = "/images/j1.img";
const MIB: u64 = 1 << 20;

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

    let (code, out, err) = jail::mount_md(&m, &words("mount_md -N -P -F /images/j1.img md /mnt"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("MDIOCATTACH") && out.contains("nmount"), "{out}");
    assert!(m.unit_numbers().is_empty() && m.md_mounts().is_empty(), "-N changed nothing");
}

/// The recording double has no real files: its preflight passes, and the
/// recorded run is what refuses.
#[test]
fn recorder_preflight_passes() {
    let mut fb = FreeBsd::with_sys(Recorder::new());
    let (code, out, err) = run(&words("mount_md -N -P -F /nowhere.img md /mnt"), &mut fb);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("MDIOCATTACH"), "{out}");
}
