//! Plans and the executor on the recording platform: what runs, in what
//! order, and that any failure leaves nothing behind.
use crate::support::*;
use mount_md::device::Unit;
use mount_md::plan::{Attach, Formats, OpenImage, TmpfsMount};
use mount_md::platform::fake::{mark_for, Call, Fake};
use mount_md::platform::Owner;
use mount_md::request::Backing;
use nix::errno::Errno;
use std::path::Path;
use std::path::PathBuf;

const ARTICLE_6X: &str = "mount_md -P -F/jails/10.0.0.1/rootfs.volume md /var/jails/10.0.0.1";

fn article_attach() -> Call {
    Call::Attach(Attach {
        unit: Unit::Auto,
        backing: Backing::Vnode("/jails/10.0.0.1/rootfs.volume".into()),
        size: None,
        read_only: false,
        direct_io: true,
        formats: Formats::Never,
    })
}

fn article_open() -> Call {
    Call::OpenImage(OpenImage {
        path: "/jails/10.0.0.1/rootfs.volume".into(),
        create: None,
        read_only: false,
        from: None,
    })
}

fn article_find() -> Call {
    Call::Units
}

fn article_mount(options: &[&str]) -> Call {
    Call::Mount {
        fstype: "ufs".into(),
        device: "/dev/md0".into(),
        mount_point: "/var/jails/10.0.0.1".into(),
        options: options.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn article_case_attaches_and_mounts_and_nothing_else() {
    let o = run_line(ARTICLE_6X);
    assert_eq!((o.status, o.stderr.as_str(), o.stdout.as_str()), (0, "", ""));
    // The only changes are the attach and the mount; opening the image
    // (to lock it), looking for an earlier attachment and waiting for the
    // node only look.
    assert_eq!(
        o.fake.calls,
        vec![
            article_open(),
            article_find(),
            article_attach(),
            Call::WaitForNode("/dev/md0".into()),
            article_mount(&[])
        ]
    );
    assert_eq!(o.fake.attached.iter().copied().collect::<Vec<_>>(), vec![0]);
    assert_eq!(o.fake.mounted, vec![PathBuf::from("/var/jails/10.0.0.1")]);

    let modern = run_line("/usr/local/sbin/mount_md -o rw -P -F/jails/10.0.0.1/rootfs.volume md /var/jails/10.0.0.1");
    assert_eq!(
        modern.fake.calls,
        vec![
            article_open(),
            article_find(),
            article_attach(),
            Call::WaitForNode("/dev/md0".into()),
            article_mount(&["rw"])
        ]
    );
    let linux = run_line("/sbin/mount.md md /var/jails/10.0.0.1 -o rw,-P,-F/jails/10.0.0.1/rootfs.volume");
    assert_eq!(linux.status, 0);
    assert_eq!(linux.fake.calls, modern.fake.calls);
}

#[test]
fn full_plan_order() {
    // Unit 5 left attached by an earlier run of ours.
    let fake = Fake::new().with_unit(5, Path::new("/old"), mark_for(Path::new("/mnt")), false);
    let o = run_on(fake, &argv("mount_md -s 64m -o noatime -p 0750 -w www:staff -k /skel md5 /mnt"));
    assert_eq!(o.status, 0, "{}", o.stderr);
    let kinds: Vec<&str> = o
        .fake
        .calls
        .iter()
        .map(|c| match c {
            Call::Units => "units",
            Call::DetachUnit(_) => "predetach",
            Call::Attach(_) => "attach",
            Call::WaitForNode(_) => "wait",
            Call::Format { .. } => "format",
            Call::Mount { .. } => "mount",
            Call::SetMode(..) => "chmod",
            Call::SetOwner(..) => "chown",
            Call::CopySkeleton(..) => "skel",
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["units", "predetach", "attach", "wait", "format", "mount", "chmod", "chown", "skel"]);
    assert!(o.fake.calls.contains(&Call::SetMode("/mnt".into(), 0o750)));
    assert!(o.fake.calls.contains(&Call::SetOwner("/mnt".into(), 80, 20)));
    // -D: no pre-detach
    let o = run_line("mount_md -D -s 64m md5 /mnt");
    assert!(!o.fake.calls.iter().any(|c| matches!(c, Call::DetachUnit(_))));
}

/// A failure at any step: the injected error is what the user sees, exit 1,
/// and nothing stays attached or mounted.
#[test]
fn failure_at_each_step_rolls_back_everything() {
    let line = "mount_md -F /img -s 64m -p 0750 -w www:staff -k /skel md /mnt";
    for step in ["open", "attach", "wait", "format", "mount", "chmod", "chown", "skel"] {
        let o = run_on(Fake::failing_at(step, Errno::EIO), &argv(line));
        assert_eq!(o.status, 1, "{step}");
        assert!(o.fake.is_clean(), "{step}: left {:?} / {:?}", o.fake.attached, o.fake.mounted);
        let lines: Vec<&str> = o.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{step}: {}", o.stderr);
        assert!(
            lines[0].starts_with("mount_md: ") && lines[0].ends_with(": Input/output error"),
            "{step}: {}",
            o.stderr
        );
        // rollback order: unmount before detach
        let undo: Vec<&Call> =
            o.fake.calls.iter().filter(|c| matches!(c, Call::Unmount(_) | Call::Detach(_))).collect();
        let expect_unmount = !matches!(step, "open" | "attach" | "wait" | "format" | "mount");
        let expect_detach = !matches!(step, "open" | "attach");
        let mut want = Vec::new();
        if expect_unmount {
            want.push(Call::Unmount("/mnt".into()));
        }
        if expect_detach {
            want.push(Call::Detach(0));
        }
        assert_eq!(undo, want.iter().collect::<Vec<_>>(), "{step}");
    }
    // mount.md reports a mount failure as mount(8) does: 32
    let o = run_on(Fake::failing_at("mount", Errno::EINVAL), &argv("mount.md md /m -o -P,-F/i"));
    assert_eq!(o.status, 32);
    assert_eq!(o.stderr, "mount.md: /dev/md0: Invalid argument\n");
    assert!(o.fake.is_clean());
}

/// A failed chmod of a tmpfs or chown of a disk's root is undone and is the
/// one line the user sees; a run that succeeds unmounts nothing. (A
/// rollback that fails too: freebsd_double's
/// `a_failed_rollback_is_reported_after_the_first_error`.)
#[test]
fn a_failed_chmod_or_chown_is_undone_and_the_only_message() {
    let o = run_on(Fake::failing_at("chmod", Errno::EPERM), &argv("mount_md -p 0700 -s 16m tmpfs /t"));
    assert_eq!(o.status, 1);
    assert!(o.fake.is_clean());
    let o = run_on(Fake::failing_at("unmount", Errno::EBUSY), &argv("mount_md -P -F /i -w 0:0 md /m"));
    assert_eq!(o.status, 0, "unmount is not called on success");
    let mut fake = Fake::failing_at("chown", Errno::EPERM);
    fake.read_only_fs = false;
    let o = run_on(fake, &argv("mount_md -P -F /i -w 0:0 md /m"));
    assert_eq!(o.stderr, "mount_md: chown /m to 0:0: Operation not permitted\n");
    assert_eq!(o.status, 1);
    assert!(o.fake.is_clean());
}

#[test]
fn predetach_failure_is_ignored_and_only_shown_under_x() {
    let ours = || Fake::new().with_unit(4, Path::new("/old"), mark_for(Path::new("/m")), false);
    let o = run_on(ours(), &argv("mount_md -P -F /i md4 /m"));
    assert_eq!((o.status, o.stderr.as_str()), (0, ""));
    assert_eq!(o.fake.calls[1..4], [Call::Units, Call::Units, Call::DetachUnit(4)], "{:?}", o.fake.calls);
    let mut fake = ours();
    fake.fail = Some(("predetach", Errno::EBUSY));
    let o = run_on(fake, &argv("mount_md -X -P -F /i md4 /m"));
    assert!(o.stderr.contains("DEBUG: /dev/md4: Device or resource busy (ignored)\n"), "{}", o.stderr);
    // Nothing there: the detach fails, ignored.
    let o = run_line("mount_md -X -P -F /i md4 /m");
    assert!(o.stderr.contains("DEBUG: /dev/md4: No such file or directory (ignored)\n"), "{}", o.stderr);
    // Another tool's unit is never pre-detached; the attach then fails.
    let fake = Fake::new().with_unit(4, Path::new("/old"), Owner::Foreign, false);
    let o = run_on(fake, &argv("mount_md -X -P -F /i md4 /m"));
    assert!(o.stderr.contains("DEBUG: /dev/md4 was not attached by mount_md; left alone\n"), "{}", o.stderr);
    assert!(!o.fake.calls.iter().any(|c| matches!(c, Call::DetachUnit(_))));
    assert_eq!(o.status, 1);
    assert!(o.fake.attached.contains(&4));
}

#[test]
fn read_only_mounts_skip_mode_and_owner_like_mdmfs() {
    let mut fake = Fake::new();
    fake.read_only_fs = true;
    let o = run_on(fake, &argv("mount_md -P -F /i -p 0755 -w 0:0 md /m"));
    assert_eq!(o.status, 0);
    assert_eq!(o.stderr, "mount_md: Not changing mode/owner of /m since it is read-only\n");
    assert!(!o.fake.calls.iter().any(|c| matches!(c, Call::SetMode(..) | Call::SetOwner(..))));
    // compat mode's implied 01777 only says so under -X
    let mut fake = Fake::new();
    fake.read_only_fs = true;
    let o = run_on(fake, &argv("mount_mfs -s 8m md /m"));
    assert_eq!((o.status, o.stderr.as_str()), (0, ""));
}

#[test]
fn tmpfs_and_auto() {
    let o = run_line("mount_md -s 32m -o nosuid tmpfs /t");
    assert_eq!(
        o.fake.calls,
        vec![Call::MountTmpfs(TmpfsMount {
            size: Some(32 << 20),
            options: vec!["nosuid".into()],
            mount_point: "/t".into(),
            sloppy: false
        })]
    );
    let o = run_line("mount_md -s 32m auto /t");
    assert!(matches!(o.fake.calls[..], [Call::MountTmpfs(_)]));
    // -l (multilabel) keeps `auto` on md
    let o = run_line("mount_md -l -s 32m auto /t");
    assert!(matches!(o.fake.calls[0], Call::Attach(_)));
}

#[test]
fn dry_run_changes_nothing_and_prints_the_plan() {
    // -N: the steps in words; -N -X: the exact calls.
    let o = run_line(&format!("{} ", ARTICLE_6X.replace("-P", "-N -P")));
    assert_eq!(o.status, 0);
    assert!(o.fake.calls.is_empty());
    assert_eq!(o.stdout, include_str!("../golden/article_words.txt"));
    let o = run_line(&format!("{} ", ARTICLE_6X.replace("-P", "-N -X -P")));
    assert_eq!((o.status, o.fake.calls.len()), (0, 0));
    let golden = include_str!("../golden/article_plan.txt");
    assert_eq!(o.stdout, golden);
    // mount.md -f is silent, -fv (v is -X) prints the exact plan
    let o = run_line("mount.md md /var/jails/10.0.0.1 -f -o -P,-F/jails/10.0.0.1/rootfs.volume");
    assert_eq!((o.stdout.as_str(), o.fake.calls.len()), ("", 0));
    let o = run_line("mount.md md /var/jails/10.0.0.1 -fv -o -P,-F/jails/10.0.0.1/rootfs.volume");
    assert_eq!(o.stdout, golden);
}

#[test]
fn debug_lines_name_each_step_as_it_runs() {
    let o = run_line(&ARTICLE_6X.replace("-P", "-X -P"));
    assert_eq!(o.status, 0);
    assert_eq!(
        o.stderr,
        "DEBUG: open and lock /jails/10.0.0.1/rootfs.volume\n\
         DEBUG: attach vnode /jails/10.0.0.1/rootfs.volume unit=auto\n\
         DEBUG: wait for /dev/md0\n\
         DEBUG: pread(/dev/md0, 4096, 0); fsck -p /dev/md0 only if it is not clean\n\
         DEBUG: /jails/10.0.0.1/rootfs.volume: no recognised file system: no clean flag to read; left to the kernel\n\
         DEBUG: mount -t ufs /dev/md0 /var/jails/10.0.0.1\n"
    );
}

/// A stop signal (SIGTERM from a service manager, a boot timeout) that
/// arrives during a run is noticed before the next step, and everything
/// the run did is undone.
#[test]
fn a_stop_signal_undoes_the_run() {
    let line = "mount_md -F /img -s 64m -p 0750 -k /skel md /mnt";
    let mut fake = Fake::new();
    // Stops once attach, format and mount are done.
    let calls_until_mounted =
        run_on(Fake::new(), &argv(line)).fake.calls.iter().position(|c| matches!(c, Call::Mount { .. })).unwrap() + 1;
    fake.interrupt_after = Some(calls_until_mounted);
    let o = run_on(fake, &argv(line));
    assert_eq!(o.status, 1);
    assert_eq!(o.stderr, "mount_md: stopped by SIGTERM; what this run did is undone\n");
    assert!(o.fake.is_clean(), "{:?}", o.fake.calls);
    assert!(!o.fake.calls.iter().any(|c| matches!(c, Call::SetMode(..) | Call::CopySkeleton(..))));
}
