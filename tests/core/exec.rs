//! Plans and the executor on the FreeBSD backend over its recording
//! syscall layer: what runs, in what order, and that any failure leaves
//! nothing behind.
use crate::support::freebsd::c;
use crate::support::*;
use mount_md::platform::freebsd::recording::{Asked, SysCall};
use mount_md::platform::freebsd::requests::IoValue;
use nix::errno::Errno;
use std::path::Path;

const ARTICLE_6X: &str = "mount_md -P -F/jails/10.0.0.1/rootfs.volume md /var/jails/10.0.0.1";

/// The kind of a recorded operation, as `Recorder::failing_at` names it.
fn kind(c: &SysCall) -> &'static str {
    match c {
        SysCall::Detach(_) => "detach",
        SysCall::Attach(_) => "attach",
        SysCall::WaitForNode(_) => "wait",
        SysCall::Newfs { .. } => "newfs",
        SysCall::Nmount(_) => "nmount",
        SysCall::ReadOnlyCheck(_) => "statfs",
        SysCall::SetMode(..) => "chmod",
        SysCall::SetOwner(..) => "chown",
        SysCall::CopySkeleton { .. } => "skel",
        SysCall::Unmount(_) => "unmount",
        other => panic!("unexpected {other:?}"),
    }
}

fn kinds(o: &Outcome) -> Vec<&'static str> {
    o.sys.calls.iter().map(kind).collect()
}

/// The value of the nmount's option `name`.
fn nmount_text(o: &Outcome, name: &str) -> Option<IoValue> {
    o.sys.calls.iter().find_map(|c| match c {
        SysCall::Nmount(n) => n.get(name).cloned(),
        _ => None,
    })
}

#[test]
fn article_case_attaches_and_mounts_and_nothing_else() {
    let o = run_line(ARTICLE_6X);
    assert_eq!((o.status, o.stderr.as_str(), o.stdout.as_str()), (0, "", ""));
    // The only changes are the attach and the mount; opening the image
    // (to lock it) and looking for an earlier attachment come first, and
    // only look; waiting for the node and reading whether the mount came
    // out read-only only look too.
    assert_eq!(kinds(&o), ["attach", "wait", "nmount", "statfs"]);
    let first = o.sys.asked.iter().find(|a| !matches!(a, Asked::Mounts | Asked::ListUnits));
    assert_eq!(first, Some(&Asked::OpenImage("/jails/10.0.0.1/rootfs.volume".into())));
    let looked = o.sys.asked.iter().position(|a| matches!(a, Asked::OpenImage(_))).unwrap();
    assert!(o.sys.asked[looked..].contains(&Asked::ListUnits), "the units are scanned under the image's lock");
    let SysCall::Attach(a) = &o.sys.calls[0] else { panic!() };
    assert_eq!(a.file, Some(c("/jails/10.0.0.1/rootfs.volume")));
    assert_eq!(nmount_text(&o, "from"), Some(IoValue::Text(c("/dev/md0"))));
    assert_eq!(nmount_text(&o, "fspath"), Some(IoValue::Text(c("/var/jails/10.0.0.1"))));
    assert_eq!(o.sys.units.keys().copied().collect::<Vec<_>>(), vec![0]);
    assert_eq!(mounted_on(&o.sys), [Path::new("/var/jails/10.0.0.1")]);

    // The same line as modern mount(8) and as util-linux mount(8) hand it
    // over: the same operations, `rw` now passed on.
    let modern = run_line("/usr/local/sbin/mount_md -o rw -P -F/jails/10.0.0.1/rootfs.volume md /var/jails/10.0.0.1");
    assert_eq!(kinds(&modern), kinds(&o));
    assert_eq!(modern.sys.calls[..2], o.sys.calls[..2]);
    assert_eq!(nmount_text(&modern, "rw"), Some(IoValue::Flag));
    let linux = run_line("/sbin/mount.md md /var/jails/10.0.0.1 -o rw,-P,-F/jails/10.0.0.1/rootfs.volume");
    assert_eq!(linux.status, 0);
    assert_eq!(linux.sys.calls, modern.sys.calls);
    assert_eq!(linux.sys.asked, modern.sys.asked);
}

#[test]
fn full_plan_order() {
    // Unit 5 left attached by an earlier run of ours.
    let sys = recorder().with_leftover(5, "/old", GIB, false).with_label(5, b"mount_md:/mnt");
    let o = run_on(sys, &argv("mount_md -s 64m -o noatime -p 0750 -w www:staff -k /skel md5 /mnt"));
    assert_eq!(o.status, 0, "{}", o.stderr);
    assert_eq!(o.sys.asked[..2], [Asked::Mounts, Asked::ListUnits], "the units are scanned first");
    assert_eq!(kinds(&o), ["detach", "attach", "wait", "newfs", "nmount", "statfs", "chmod", "chown", "skel"]);
    assert!(o.sys.calls.contains(&SysCall::SetMode("/mnt".into(), 0o750)));
    assert!(o.sys.calls.contains(&SysCall::SetOwner("/mnt".into(), 80, 20)));
    // -D: no pre-detach
    let o = run_line("mount_md -D -s 64m md5 /mnt");
    assert!(!o.sys.calls.iter().any(|c| matches!(c, SysCall::Detach(_))));
}

/// A failure at any step: the injected error is what the user sees, exit 1,
/// and nothing stays attached or mounted.
#[test]
fn failure_at_each_step_rolls_back_everything() {
    let line = "mount_md -F /img -s 64m -p 0750 -w www:staff -k /skel md /mnt";
    for step in ["open", "attach", "wait", "newfs", "nmount", "statfs", "chmod", "chown", "skel"] {
        let o = run_on(recorder().failing_at(step, Errno::EIO), &argv(line));
        assert_eq!(o.status, 1, "{step}");
        assert!(o.sys.is_clean(), "{step}: left {:?} / {:?}", o.sys.units.keys(), o.sys.mounted);
        let lines: Vec<&str> = o.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{step}: {}", o.stderr);
        assert!(
            lines[0].starts_with("mount_md: ") && lines[0].ends_with(": Input/output error"),
            "{step}: {}",
            o.stderr
        );
        // rollback order: unmount before detach
        let undo: Vec<&SysCall> =
            o.sys.calls.iter().filter(|c| matches!(c, SysCall::Unmount(_) | SysCall::Detach(_))).collect();
        let expect_unmount = !matches!(step, "open" | "attach" | "wait" | "newfs" | "nmount");
        let expect_detach = !matches!(step, "open" | "attach");
        let mut want = Vec::new();
        if expect_unmount {
            want.push(SysCall::Unmount("/mnt".into()));
        }
        if expect_detach {
            want.push(SysCall::Detach(0));
        }
        assert_eq!(undo, want.iter().collect::<Vec<_>>(), "{step}");
    }
    // mount.md reports a mount failure as mount(8) does: 32
    let o = run_on(recorder().failing_at("nmount", Errno::EINVAL), &argv("mount.md md /m -o -P,-F/i"));
    assert_eq!(o.status, 32);
    assert_eq!(o.stderr, "mount.md: /dev/md0: Invalid argument\n");
    assert!(o.sys.is_clean());
}

/// A failed chmod of a tmpfs or chown of a disk's root is undone and is the
/// one line the user sees; a run that succeeds unmounts nothing. (A
/// rollback that fails too: freebsd_double's
/// `a_failed_rollback_is_reported_after_the_first_error`.)
#[test]
fn a_failed_chmod_or_chown_is_undone_and_the_only_message() {
    let o = run_on(recorder().failing_at("chmod", Errno::EPERM), &argv("mount_md -p 0700 -s 16m tmpfs /t"));
    assert_eq!(o.status, 1);
    assert!(o.sys.is_clean());
    let o = run_on(recorder().failing_at("unmount", Errno::EBUSY), &argv("mount_md -P -F /i -w 0:0 md /m"));
    assert_eq!(o.status, 0, "unmount is not called on success");
    let o = run_on(recorder().failing_at("chown", Errno::EPERM), &argv("mount_md -P -F /i -w 0:0 md /m"));
    assert_eq!(o.stderr, "mount_md: chown /m to 0:0: Operation not permitted\n");
    assert_eq!(o.status, 1);
    assert!(o.sys.is_clean());
}

#[test]
fn predetach_failure_is_ignored_and_only_shown_under_x() {
    let ours = || recorder().with_leftover(4, "/old", GIB, false).with_label(4, b"mount_md:/m");
    let o = run_on(ours(), &argv("mount_md -P -F /i md4 /m"));
    assert_eq!((o.status, o.stderr.as_str()), (0, ""));
    assert_eq!(kinds(&o)[..2], ["detach", "attach"], "{:?}", o.sys.calls);
    // Busy (and still busy after the bounded retries of a GEOM re-taste).
    let mut sys = ours();
    sys.busy_detaches = u32::MAX;
    let o = run_on(sys, &argv("mount_md -X -P -F /i md4 /m"));
    assert!(o.stderr.contains("DEBUG: detach /dev/md4: Device or resource busy (ignored)\n"), "{}", o.stderr);
    // Nothing there: the detach fails, ignored.
    let o = run_line("mount_md -X -P -F /i md4 /m");
    assert!(o.stderr.contains("DEBUG: detach /dev/md4: No such file or directory (ignored)\n"), "{}", o.stderr);
    // Another tool's unit is never pre-detached; the attach then fails.
    let sys = recorder().with_leftover(4, "/old", GIB, false).with_label(4, b"");
    let o = run_on(sys, &argv("mount_md -X -P -F /i md4 /m"));
    assert!(o.stderr.contains("DEBUG: /dev/md4 was not attached by mount_md; left alone\n"), "{}", o.stderr);
    assert!(!o.sys.calls.iter().any(|c| matches!(c, SysCall::Detach(_))));
    assert_eq!(o.status, 1);
    assert!(o.sys.units.contains_key(&4));
}

#[test]
fn read_only_mounts_skip_mode_and_owner_like_mdmfs() {
    let mut sys = recorder();
    sys.read_only_fs = true;
    let o = run_on(sys, &argv("mount_md -P -F /i -p 0755 -w 0:0 md /m"));
    assert_eq!(o.status, 0);
    assert_eq!(o.stderr, "mount_md: Not changing mode/owner of /m since it is read-only\n");
    assert!(!o.sys.calls.iter().any(|c| matches!(c, SysCall::SetMode(..) | SysCall::SetOwner(..))));
    // compat mode's implied 01777 only says so under -X
    let mut sys = recorder();
    sys.read_only_fs = true;
    let o = run_on(sys, &argv("mount_mfs -s 8m md /m"));
    assert_eq!((o.status, o.stderr.as_str()), (0, ""));
}

#[test]
fn tmpfs_and_auto() {
    let o = run_line("mount_md -s 32m -o nosuid tmpfs /t");
    assert_eq!(kinds(&o), ["nmount", "statfs"]);
    let SysCall::Nmount(n) = &o.sys.calls[0] else { panic!() };
    assert_eq!(
        n.describe(),
        "nmount(nosuid, size=33554432, fstype=tmpfs, fspath=/t, from=tmp, errmsg) flags=MNT_NOSUID"
    );
    let o = run_line("mount_md -s 32m auto /t");
    assert_eq!(nmount_text(&o, "fstype"), Some(IoValue::Text(c("tmpfs"))));
    assert!(o.sys.units.is_empty());
    // -l (multilabel) keeps `auto` on md
    let o = run_line("mount_md -l -s 32m auto /t");
    assert!(matches!(o.sys.calls[0], SysCall::Attach(_)));
}

#[test]
fn dry_run_changes_nothing_and_prints_the_plan() {
    // -N: the steps in words; -N -X: the exact calls.
    let o = run_line(&format!("{} ", ARTICLE_6X.replace("-P", "-N -P")));
    assert_eq!(o.status, 0);
    assert!(o.sys.calls.is_empty());
    assert_eq!(o.stdout, include_str!("../golden/article_words.txt"));
    let o = run_line(&format!("{} ", ARTICLE_6X.replace("-P", "-N -X -P")));
    assert_eq!((o.status, o.sys.calls.len()), (0, 0));
    let golden = include_str!("../golden/article_plan.txt");
    assert_eq!(o.stdout, golden);
    // mount.md -f is silent, -fv (v is -X) prints the exact plan
    let o = run_line("mount.md md /var/jails/10.0.0.1 -f -o -P,-F/jails/10.0.0.1/rootfs.volume");
    assert_eq!((o.stdout.as_str(), o.sys.calls.len()), ("", 0));
    let o = run_line("mount.md md /var/jails/10.0.0.1 -fv -o -P,-F/jails/10.0.0.1/rootfs.volume");
    assert_eq!(o.stdout, golden);
}

#[test]
fn debug_lines_name_each_step_as_it_runs() {
    let o = run_line(&ARTICLE_6X.replace("-P", "-X -P"));
    assert_eq!(o.status, 0);
    let label = "mount_md:dev=90,ino=1000:/var/jails/10.0.0.1";
    let attach =
        format!("{{type=MD_VNODE, file=/jails/10.0.0.1/rootfs.volume, label={label}, mediasize=1073741824, options=MD_CLUSTER|MD_AUTOUNIT|MD_COMPRESS}}");
    assert_eq!(
        o.stderr,
        format!(
            "DEBUG: open and lock /jails/10.0.0.1/rootfs.volume\n\
             DEBUG: opened /jails/10.0.0.1/rootfs.volume (dev 90, inode 1000, read-write)\n\
             DEBUG: ioctl(/dev/mdctl, MDIOCATTACH, {attach})\n\
             DEBUG: attached /dev/md0 {attach}\n\
             DEBUG: /dev/md0 is backed by /jails/10.0.0.1/rootfs.volume (MD-DEV90-INO1000)\n\
             DEBUG: wait for /dev/md0\n\
             DEBUG: pread(/dev/md0, 4096, 0); /sbin/fsck_ufs -p /dev/md0 only if it is not clean\n\
             DEBUG: /jails/10.0.0.1/rootfs.volume: no recognised file system: no clean flag to read; left to the kernel\n\
             DEBUG: nmount(fstype=ufs, fspath=/var/jails/10.0.0.1, from=/dev/md0, errmsg)\n"
        )
    );
}

/// A stop signal (SIGTERM from a service manager, a boot timeout) that
/// arrives during a run is noticed before the next step, and everything
/// the run did is undone.
#[test]
fn a_stop_signal_undoes_the_run() {
    /// Sends SIGTERM to this thread.
    fn sigterm() {
        // SAFETY: raise(3) takes no pointers; the signal is held on this
        // thread, so it only waits to be seen.
        assert_eq!(unsafe { libc::raise(libc::SIGTERM) }, 0);
    }
    let line = "mount_md -F /img -s 64m -p 0750 -k /skel md /mnt";
    // Arrives during the mount, once attach and format are done. On a
    // thread of its own, which holds the stop signals as main() does, so
    // that the signal only waits, and goes with the thread.
    let mut sys = recorder();
    sys.during = Some(("nmount", sigterm));
    let o = std::thread::spawn(move || {
        mount_md::platform::posix::hold_stop_signals();
        run_on(sys, &argv(line))
    })
    .join()
    .unwrap();
    assert_eq!(o.status, 1);
    assert_eq!(o.stderr, "mount_md: stopped by SIGTERM; what this run did is undone\n");
    assert!(o.sys.is_clean(), "{:?}", o.sys.calls);
    assert!(kinds(&o).starts_with(&["attach", "wait", "newfs", "nmount"]), "{:?}", o.sys.calls);
    assert!(!o.sys.calls.iter().any(|c| matches!(c, SysCall::SetMode(..) | SysCall::CopySkeleton { .. })));
}
