//! Follow-ups on the FreeBSD backend (#10 items 7 and 9, #13, #14), on the
//! recording syscall layer and on the kernel model
//! (tests/freebsd_support/model.rs).
mod freebsd_support;

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
