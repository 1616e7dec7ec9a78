//! The FreeBSD backend's mounted root by descriptor, `-N` as a preflight,
//! and grow and list knowing units as the lifecycle does, on the
//! recording syscall layer and on the kernel model
//! (tests/support/freebsd/model.rs).
use crate::support::freebsd::jail::{self, Dialect, Jail};
use crate::support::freebsd::model::{Host, Model};
use crate::support::freebsd::{run, words};
use crate::support::MIB;
use mount_md::error::Error;
use mount_md::exec::Output;
use mount_md::plan::TmpfsMount;
use mount_md::platform::freebsd::grow::{self, GrowSys, ResizeRequest};
use mount_md::platform::freebsd::recording::{Recorder, SysCall};
use mount_md::platform::freebsd::FreeBsd;
use mount_md::platform::freebsd::{MdSys, OpenedImage};
use mount_md::platform::{Note, Platform};
use mount_md::request::{GrowRequest, ReleaseTarget};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

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
    let mounted = fb.mount_tmpfs(&t).unwrap();
    assert_eq!(m.k().mounts.iter().map(|x| x.open_files).collect::<Vec<_>>(), [1], "held for mode, owner, skeleton");
    fb.unmount(mounted).unwrap();
    assert!(m.k().mounts.is_empty());
    assert_eq!(m.k().roots_opened, 2);
}

/// What only grow and list need, over the model: MDIOCRESIZE is the
/// model's, the label comes from its MDIOCQUERY, growfs only logs.
struct ModelGrow(Model);

impl GrowSys for ModelGrow {
    fn resize(&mut self, req: &ResizeRequest) -> mount_md::error::Result<()> {
        self.0.resize(req.unit, req.mediasize, req.options).map_err(|e| Error::sys("MDIOCRESIZE", e))
    }
    fn label(&mut self, unit: u32) -> mount_md::error::Result<Vec<u8>> {
        Ok(self.0.clone().query(unit)?.label.unwrap_or_default())
    }
    fn run_program(&mut self, argv: &[OsString]) -> mount_md::error::Result<()> {
        self.0.k().log.push(format!("run {argv:?}"));
        Ok(())
    }
    fn extend(&mut self, image: &OpenedImage, _: u64, to: u64) -> mount_md::error::Result<()> {
        self.0.k().files.get_mut(&image.path).expect("the image").size = to;
        Ok(())
    }
    fn truncate(&mut self, image: &OpenedImage, len: u64) -> mount_md::error::Result<()> {
        self.0.k().files.get_mut(&image.path).expect("the image").size = len;
        Ok(())
    }
    fn used(&mut self, _: &Path) -> Option<u64> {
        Some(4096)
    }
}

const J1: &str = "/var/jails/j1";
const LINE1: &str = "md /var/jails/j1 ufs rw,-P,-F/images/j1.img,mountprog=/usr/local/sbin/mount_md 0 0";

fn started(host: Host) -> Model {
    let m = Model::new(host).dir(J1).image(IMG, 64 * MIB, Model::clean_ufs(), None);
    let j = Jail {
        fstab: vec![LINE1],
        release: Some("/usr/local/sbin/mount_md -u /var/jails/j1"),
        dialect: Dialect::Modern,
        prepare: None,
        start_fails: false,
    };
    j.start(&m).unwrap();
    m
}

fn grow_to(m: &Model, target: ReleaseTarget, size: u64) -> std::result::Result<(), String> {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut io = Output { prog: "mount_md", out: &mut out, err: &mut err };
    let req = GrowRequest { target, size, dry_run: false, debug: false };
    grow::grow(&mut FreeBsd::with_sys(m.clone()), &mut ModelGrow(m.clone()), &req, &mut io).map_err(|e| e.to_string())
}

/// #14 on FreeBSD: grow finds the unit as the lifecycle does. On a ZFS
/// host the ident is cut (31 characters) and confirmed through the unit's
/// file; the unit of a mount is found by `st_rdev`.
#[test]
fn grow_finds_the_unit_of_a_cut_ident_and_of_a_mount() {
    for host in [Host::Ufs, Host::Zfs] {
        for (target, size) in
            [(ReleaseTarget::Path(IMG.into()), 128 * MIB), (ReleaseTarget::Path(J1.into()), 256 * MIB)]
        {
            let m = started(host);
            if host == Host::Zfs {
                let k = m.k();
                assert_eq!(k.units[&0].ident.len(), 31, "the model cuts ZFS idents");
            }
            grow_to(&m, target.clone(), size).unwrap_or_else(|e| panic!("{host:?} {target:?}: {e}"));
            assert_eq!(m.k().units[&0].mediasize, size, "{host:?} {target:?}");
            assert_eq!(m.unit_numbers(), [0], "grown in place, no second unit");
        }
    }
}

/// `--list` on FreeBSD reads the mark from `md_label` and the mount by
/// `st_rdev`; after a jail start the unit is listed as mount_md's.
#[test]
fn list_after_a_jail_start() {
    let m = started(Host::Zfs);
    let units = grow::list(&mut FreeBsd::with_sys(m.clone()), &mut ModelGrow(m.clone())).unwrap();
    let units = mount_md::list::select(units, false);
    assert_eq!(units.len(), 1);
    assert_eq!(
        String::from_utf8(mount_md::list::line(&units[0])).unwrap(),
        "/dev/md0 /images/j1.img /var/jails/j1 67108864 4096 rw mount_md:/var/jails/j1"
    );
    assert_eq!(
        mount_md::list::json(&units),
        "[\n  {\"device\": \"/dev/md0\", \"unit\": 0, \"image\": \"/images/j1.img\", \"deleted\": null, \"mountpoint\": \"/var/jails/j1\", \
         \"size\": 67108864, \"used\": 4096, \"readonly\": false, \"mark\": \"mount_md:/var/jails/j1\", \
         \"foreign\": false}\n]\n"
    );
}

/// md(4) keeps the path an image was attached by (md.c `mdcreate_vnode`):
/// for one `--create` made, the temporary name it was published from. -r
/// finds the file under its published name, by identity.
#[test]
fn grow_of_a_created_image_after_its_rename() {
    for host in [Host::Ufs, Host::Zfs] {
        let m = Model::new(host).dir("/var/jails/j1").dir("/images");
        let line = words("mount_md -P --create -s 64m -F /images/j1.img md /var/jails/j1");
        let (code, _, err) = jail::mount_md(&m, &line);
        assert_eq!(code, 0, "{host:?}: {err}");
        grow_to(&m, ReleaseTarget::Path("/var/jails/j1".into()), 128 * MIB).unwrap_or_else(|e| panic!("{host:?}: {e}"));
        assert_eq!(m.k().units[&0].mediasize, 128 * MIB, "{host:?}");
    }
}
