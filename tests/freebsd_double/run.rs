//! The 2006 article's fstab line, and the modern one, end to end through
//! `run::run`: the argv FreeBSD's mount(8) (6.x and modern) and jail(8)
//! build for them, then what the FreeBSD backend (over a recording syscall
//! layer) does with it; and every rollback path. (The core's view of the
//! same runs, and its rollbacks: tests/core/exec.rs.)
use crate::support::freebsd::{c, jail_commands, mount_6x_argv, mount_modern_argv, run, words};
use crate::support::{mounted_on, GIB};
use mount_md::error::strerror;
use mount_md::platform::freebsd::abi::{MD_CLUSTER, MD_COMPRESS, MD_READONLY, MD_VNODE};
use mount_md::platform::freebsd::recording::{Recorder, SysCall};
use mount_md::platform::freebsd::requests::{AttachRequest, IoValue, NmountRequest};
use mount_md::platform::freebsd::FreeBsd;
use nix::errno::Errno;
use std::ffi::CString;
use std::path::{Path, PathBuf};

const ARTICLE: &str = "md /var/jails/10.0.0.1 md rw,-P,-F/jails/10.0.0.1/rootfs.volume 0 0";
const MODERN: &str =
    "md /var/jails/10.0.0.1 ufs rw,-P,-F/jails/10.0.0.1/rootfs.volume,mountprog=/usr/local/sbin/mount_md 0 0";
const EQUALS: &str = "md /var/jails/x ufs rw,-P,-F/jails/a=b/rootfs.volume,mountprog=/usr/local/sbin/mount_md 0 0";
const IMG: &str = "/jails/10.0.0.1/rootfs.volume";
const MNT: &str = "/var/jails/10.0.0.1";

fn freebsd() -> FreeBsd<Recorder> {
    FreeBsd::with_sys(Recorder::new().with_file(IMG, IMG, GIB).with_file("/jails/a=b/rootfs.volume", "/img", GIB))
}

fn article_nmount(options: &[&str], mnt: &str) -> NmountRequest {
    let mut iov: Vec<(CString, IoValue)> = options.iter().map(|o| (c(o), IoValue::Flag)).collect();
    iov.push((c("fstype"), IoValue::Text(c("ufs"))));
    iov.push((c("fspath"), IoValue::Text(c(mnt))));
    iov.push((c("from"), IoValue::Text(c("/dev/md0"))));
    iov.push((c("errmsg"), IoValue::Errmsg));
    NmountRequest { iov, flags: 0 }
}

fn article_attach() -> AttachRequest {
    AttachRequest {
        md_type: MD_VNODE,
        options: 0x15,
        unit: 0,
        mediasize: GIB,
        file: Some(c(IMG)),
        label: Some(c("mount_md:dev=90,ino=1000:/var/jails/10.0.0.1")),
    }
}

#[test]
fn argv_from_freebsd_6x_mount() {
    let argv = mount_6x_argv(ARTICLE).unwrap();
    assert_eq!(argv, words("mount_md -P -F/jails/10.0.0.1/rootfs.volume md /var/jails/10.0.0.1"));
}

#[test]
fn argv_from_modern_mount_and_jail() {
    // The 2006 article's line: type md is not in use_mountprog()'s list and has no
    // mountprog=, so modern mount(8) runs no helper at all (nmount fstype=md).
    assert_eq!(mount_modern_argv(ARTICLE), None);
    let argv = mount_modern_argv(MODERN).unwrap();
    assert_eq!(argv, words("/usr/local/sbin/mount_md -o rw -P -F/jails/10.0.0.1/rootfs.volume md /var/jails/10.0.0.1"));
    // jail(8) runs `mount -t ufs -o <opts> md <dir>`, which reaches the same
    // mountfs() with the same option string, and `umount -t ufs <dir>` on stop.
    let (create, remove) = jail_commands(MODERN);
    assert_eq!(
        create[..5],
        ["/sbin/mount", "-t", "ufs", "-o", "rw,-P,-F/jails/10.0.0.1/rootfs.volume,mountprog=/usr/local/sbin/mount_md"]
    );
    assert_eq!(remove, words("/sbin/umount -t ufs /var/jails/10.0.0.1"));
    // A path with `=` is split in two words by mangle().
    assert_eq!(
        mount_modern_argv(EQUALS).unwrap(),
        words("/usr/local/sbin/mount_md -o rw -P -F/jails/a b/rootfs.volume md /var/jails/x")
    );
}

#[test]
fn article_through_the_freebsd_backend_starts_no_process() {
    let mut fb = freebsd();
    let (code, out, err) = run(&mount_6x_argv(ARTICLE).unwrap(), &mut fb);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    let sys = fb.into_sys();
    assert_eq!(
        sys.calls,
        [
            SysCall::Attach(article_attach()),
            SysCall::WaitForNode("/dev/md0".into()),
            SysCall::Nmount(article_nmount(&[], MNT)),
            SysCall::ReadOnlyCheck(MNT.into()),
        ]
    );
    assert!(!sys.calls.iter().any(|c| matches!(c, SysCall::Newfs { .. })), "-P must not run newfs");
    assert_eq!(sys.units.keys().copied().collect::<Vec<_>>(), [0]);
    assert_eq!(mounted_on(&sys), [Path::new(MNT)]);
}

#[test]
fn modern_line_through_the_freebsd_backend() {
    let mut fb = freebsd();
    let (code, _, err) = run(&mount_modern_argv(MODERN).unwrap(), &mut fb);
    assert_eq!(code, 0, "{err}");
    let calls = &fb.sys().calls;
    assert_eq!(calls[0], SysCall::Attach(article_attach()));
    assert_eq!(calls[2], SysCall::Nmount(article_nmount(&["rw"], MNT)));

    let mut fb = freebsd();
    let (code, _, err) = run(&mount_modern_argv(EQUALS).unwrap(), &mut fb);
    assert_eq!(code, 0, "{err}");
    let SysCall::Attach(a) = &fb.sys().calls[0] else { panic!("{:?}", fb.sys().calls) };
    assert_eq!(a.file, Some(c("/img")), "the `=` split was repaired before the realpath");
}

#[test]
fn read_only_options_attach_read_only_and_mount_ro() {
    let mut fb = freebsd();
    let (code, _, err) = run(&words("mount_md -P -o ro,noatime -F /jails/10.0.0.1/rootfs.volume md /m"), &mut fb);
    assert_eq!(code, 0, "{err}");
    let calls = &fb.sys().calls;
    let SysCall::Attach(a) = &calls[0] else { panic!() };
    assert_eq!(a.options, 0x15 | MD_READONLY);
    let SysCall::Nmount(n) = &calls[2] else { panic!() };
    assert_eq!(n.iov[0].0, c("ro"));
    assert_eq!(n.iov[1].0, c("noatime"));
    assert_eq!(n.flags_arg(), 0x1000_0001);
}

#[test]
fn unwritable_image_warns_and_mounts_read_only() {
    let mut rec = Recorder::new().with_file(IMG, IMG, GIB);
    rec.files.get_mut(&PathBuf::from(IMG)).unwrap().writable = false;
    rec.read_only_fs = true;
    let mut fb = FreeBsd::with_sys(rec);
    let (code, _, err) = run(&words("mount_md -P -p 0755 -F /jails/10.0.0.1/rootfs.volume md /m"), &mut fb);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        err,
        "mount_md: WARNING: opening backing store: /jails/10.0.0.1/rootfs.volume readonly\n\
         mount_md: Not changing mode/owner of /m since it is read-only\n"
    );
    let SysCall::Nmount(n) = &fb.sys().calls[2] else { panic!() };
    assert_eq!(n.iov[0], (c("ro"), IoValue::Flag));
}

#[test]
fn fixed_unit_with_size_is_predetached_then_attached() {
    let mut fb = freebsd();
    let (code, _, err) = run(&words("mount_md -X -P -s 64m -F /jails/10.0.0.1/rootfs.volume md7 /m"), &mut fb);
    assert_eq!(code, 0, "{err}");
    let calls = &fb.sys().calls;
    assert_eq!(calls[0], SysCall::Detach(7));
    let SysCall::Attach(a) = &calls[1] else { panic!() };
    assert_eq!((a.unit, a.options, a.mediasize), (7, MD_CLUSTER | MD_COMPRESS, 64 << 20));
    assert_eq!(calls[2], SysCall::WaitForNode("/dev/md7".into()));
    assert!(err.contains("DEBUG: ioctl(/dev/mdctl, MDIOCDETACH, {unit=7, options=0, mediasize=0}) (errors ignored)\n"));
    assert!(err.contains("DEBUG: detach /dev/md7: No such file or directory (ignored)\n"), "{err}");
    // -D: no pre-detach.
    let mut fb = freebsd();
    run(&words("mount_md -D -P -F /jails/10.0.0.1/rootfs.volume md7 /m"), &mut fb);
    assert!(matches!(fb.sys().calls[0], SysCall::Attach(_)));
}

#[test]
fn newfs_runs_without_p_with_its_argv() {
    let mut fb = freebsd();
    let (code, _, err) =
        run(&words("mount_md -b 32768 -O space -S -s 1g -F /jails/10.0.0.1/rootfs.volume md /m"), &mut fb);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        fb.sys().calls[2],
        SysCall::Newfs { argv: words("/sbin/newfs -b 32768 -o space /dev/md0"), loud: false }
    );
    let mut fb = freebsd();
    run(&words("mount_md -L -M -s 8m md /m"), &mut fb);
    assert_eq!(fb.sys().calls[2], SysCall::Newfs { argv: words("/sbin/newfs -U /dev/md0"), loud: true });
}

#[test]
fn swap_without_size_and_bad_sizes_are_refused_before_anything_runs() {
    for (argv, msg) in [
        ("mount_md md /m", "mount_md: must specify -s for swap- or malloc-backed disks (a size above zero)\n"),
        ("mount_md -N md /m", "mount_md: must specify -s for swap- or malloc-backed disks (a size above zero)\n"),
        (
            "mount_md -s 4608b md /m",
            "mount_md: -s 4608B: a swap-backed disk must be a multiple of the page size (4096 bytes)\n",
        ),
        (
            "mount_md -T zfs -F /jails/10.0.0.1/rootfs.volume md /m",
            "mount_md: -T zfs: newfs makes only UFS; use -P with an image that already holds a zfs file system\n",
        ),
    ] {
        let mut fb = freebsd();
        let (code, _, err) = run(&words(argv), &mut fb);
        assert_eq!((code, err.as_str()), (1, msg), "{argv}");
        assert!(fb.sys().calls.is_empty(), "{argv}");
    }
}

#[test]
fn tmpfs_is_an_nmount_with_size() {
    let mut fb = freebsd();
    let (code, _, err) = run(&words("mount_md -s 1m -o noexec tmpfs /t"), &mut fb);
    assert_eq!(code, 0, "{err}");
    let SysCall::Nmount(n) = &fb.sys().calls[0] else { panic!() };
    assert_eq!(
        n.describe(),
        "nmount(noexec, size=1048576, fstype=tmpfs, fspath=/t, from=tmp, errmsg) flags=MNT_NOEXEC"
    );
    assert_eq!(fb.sys().calls.len(), 2);
}

#[test]
fn dry_run_prints_the_exact_calls() {
    let mut fb = freebsd();
    let (code, out, err) =
        run(&words("mount_md -N -X -P -F /jails/10.0.0.1/rootfs.volume md /var/jails/10.0.0.1"), &mut fb);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        "open and lock /jails/10.0.0.1/rootfs.volume\n\
         ioctl(/dev/mdctl, MDIOCATTACH, {type=MD_VNODE, file=/jails/10.0.0.1/rootfs.volume, \
         label=mount_md:/var/jails/10.0.0.1, mediasize=1073741824, \
         options=MD_CLUSTER|MD_AUTOUNIT|MD_COMPRESS})\n\
         wait for /dev/md?\n\
         pread(/dev/md?, 4096, 0); /sbin/fsck_ufs -p /dev/md? only if it is not clean\n\
         nmount(fstype=ufs, fspath=/var/jails/10.0.0.1, from=/dev/md?, errmsg)\n"
    );
    assert!(fb.sys().calls.is_empty());
    let mut fb = freebsd();
    let (_, out, _) = run(&words("mount_md -N -X -s 1g -F /jails/10.0.0.1/rootfs.volume md3 /m"), &mut fb);
    assert!(out.starts_with("open and lock /jails/10.0.0.1/rootfs.volume\nioctl(/dev/mdctl, MDIOCDETACH, {unit=3, options=0, mediasize=0}) (errors ignored)\n"));
    assert!(out.contains("\n/sbin/newfs -U /dev/md?\n"), "{out}");
    // Without -X: the steps in FreeBSD's words.
    let mut fb = freebsd();
    let (_, out, _) = run(&words("mount_md -N -s 1g -F /jails/10.0.0.1/rootfs.volume md3 /m"), &mut fb);
    assert_eq!(
        out,
        "open /jails/10.0.0.1/rootfs.volume read-write and lock it\n\
         detach /dev/md3 if it is attached and not in use (-D keeps it)\n\
         attach /jails/10.0.0.1/rootfs.volume as an md(4) disk of 1.0GiB (1073741824 bytes), /dev/md3\n\
         check that /dev/md3 holds no file system (none is formatted over)\n\
         format /dev/md3 ufs with newfs\n\
         mount /dev/md3 on /m (ufs)\n"
    );
    assert!(fb.sys().calls.is_empty());
}

#[test]
fn mdconfig_path_is_accepted_and_noted_under_debug() {
    let mut fb = freebsd();
    let (code, _, err) =
        run(&words("mount_md -X -E /sbin/mdconfig -P -F /jails/10.0.0.1/rootfs.volume md /m"), &mut fb);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("DEBUG: -E /sbin/mdconfig: ignored; mount_md attaches with MDIOCATTACH itself"), "{err}");
}

#[test]
fn nmount_failure_shows_the_kernels_errmsg_and_detaches() {
    let mut rec = Recorder::new().with_file(IMG, IMG, GIB).failing_at("nmount", Errno::EPERM);
    rec.errmsg = "R/W mount of /m denied. Filesystem is not clean - run fsck.".into();
    let mut fb = FreeBsd::with_sys(rec);
    let (code, _, err) = run(&words("mount_md -P -F /jails/10.0.0.1/rootfs.volume md /m"), &mut fb);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "mount_md: /dev/md0: R/W mount of /m denied. Filesystem is not clean - run fsck.: Operation not permitted\n"
    );
    assert_eq!(fb.sys().calls.last(), Some(&SysCall::Detach(0)));
    assert!(fb.sys().is_clean());
}

/// Every step that can fail, on a plan that has them all: the run fails
/// with status 1 and leaves no unit attached and nothing mounted.
#[test]
fn every_failure_rolls_back_completely() {
    let argv = words("mount_md -s 1g -p 0755 -w 0:0 -k /skel -F /jails/10.0.0.1/rootfs.volume md3 /m");
    for kind in ["attach", "wait", "newfs", "nmount", "statfs", "chmod", "chown", "skel"] {
        let mut fb = FreeBsd::with_sys(Recorder::new().with_file(IMG, IMG, GIB).failing_at(kind, Errno::EIO));
        let (code, _, err) = run(&argv, &mut fb);
        assert_eq!(code, 1, "{kind}");
        assert!(err.ends_with(&format!("{}\n", strerror(Errno::EIO))), "{kind}: {err}");
        let sys = fb.sys();
        assert!(sys.is_clean(), "{kind}: attached {:?} mounted {:?}", sys.units.keys(), sys.mounted);
        let attached = sys.calls.iter().any(|c| matches!(c, SysCall::Attach(_)));
        let detached_last = sys.calls.last() == Some(&SysCall::Detach(3));
        assert_eq!(detached_last, kind != "attach", "{kind}: {:?}", sys.calls);
        assert!(attached);
    }
    // A failed statfs after a good nmount is undone by the backend itself.
    let mut fb = FreeBsd::with_sys(Recorder::new().with_file(IMG, IMG, GIB).failing_at("statfs", Errno::EIO));
    run(&argv, &mut fb);
    let tail: Vec<_> = fb.sys().calls.iter().rev().take(3).cloned().collect();
    assert_eq!(tail, [SysCall::Detach(3), SysCall::Unmount("/m".into()), SysCall::ReadOnlyCheck("/m".into())]);
}

#[test]
fn a_failed_rollback_is_reported_after_the_first_error() {
    let rec = Recorder::new()
        .with_file(IMG, IMG, GIB)
        .failing_at("chmod", Errno::EPERM)
        .failing_at("unmount", Errno::EBUSY)
        .failing_at("detach", Errno::EBUSY);
    let mut fb = FreeBsd::with_sys(rec);
    let (code, _, err) = run(&words("mount_md -D -P -p 0755 -F /jails/10.0.0.1/rootfs.volume md /m"), &mut fb);
    assert_eq!(code, 1);
    let (busy, perm) = (Errno::EBUSY.desc(), Errno::EPERM.desc());
    assert_eq!(
        err,
        format!(
            "mount_md: rollback: unmount of /m: {busy}\nmount_md: rollback: detach /dev/md0: {busy}\n\
             mount_md: chmod: /m: {perm}\n"
        )
    );
}

/// The plan mounts FreeBSD's default type, ufs, unless `-T` names another
/// (which the FreeBSD check then refuses on an md disk).
#[test]
fn plan_fstype_is_ufs_unless_t() {
    use mount_md::plan::{build, FsType, Step};
    use mount_md::platform::Platform;
    for (t, fstype) in [("", "ufs"), ("-T msdosfs ", "msdosfs")] {
        let req = crate::support::parse_line(&format!("mount_md -P {t}-F /img md /m")).unwrap();
        let plan = build(&req, <FreeBsd<Recorder> as Platform>::DEFAULTS);
        let Some(Step::Mount(m)) = plan.steps.iter().find(|s| matches!(s, Step::Mount(_))) else { panic!("{plan:?}") };
        assert_eq!(m.fstype, FsType::Named(fstype.into()), "{t}");
    }
}
