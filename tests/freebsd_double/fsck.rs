//! FreeBSD, through the recording syscall layer: a kept (`-P`) UFS image
//! that was not cleanly unmounted (a host crash) is checked with
//! `fsck_ufs -p` before nmount; a clean one starts no process; a failed
//! check stops the mount with nothing left attached; a `-F` image holding
//! UFS is not formatted again without `--reformat`; newfs failures name the
//! image.
use crate::support::freebsd::{mount_6x_argv, mount_modern_argv, run, words};
use crate::support::GIB;
use mount_md::platform::freebsd::fsck::fsck_argv;
use mount_md::platform::freebsd::recording::{Recorder, SysCall};
use mount_md::platform::freebsd::FreeBsd;
use nix::errno::Errno;
use std::path::Path;

const IMG: &str = "/jails/j1/rootfs.volume";

/// A UFS2 superblock at 64 KiB (sys/ufs/ffs/fs.h: fs_clean at 209,
/// fs_old_flags at 211, fs_flags at 1312, fs_magic at 1372).
fn ufs2(clean: u8, flags: u32) -> Vec<u8> {
    let at = 65_536;
    let mut b = vec![0u8; at + 2048];
    b[at + 1372..at + 1376].copy_from_slice(&0x1954_0119u32.to_le_bytes());
    b[at + 209] = clean;
    b[at + 211] = 0x80; // FS_FLAGS_UPDATED: the flags live in fs_flags
    b[at + 1312..at + 1316].copy_from_slice(&flags.to_le_bytes());
    b
}

fn freebsd(disk: Vec<u8>) -> FreeBsd<Recorder> {
    let mut r = Recorder::new().with_file(IMG, IMG, GIB);
    r.disk_start = disk;
    FreeBsd::with_sys(r)
}

fn fscks(fb: &FreeBsd<Recorder>) -> Vec<Vec<String>> {
    fb.sys()
        .calls
        .iter()
        .filter_map(|c| match c {
            SysCall::Fsck(argv) => Some(argv.clone()),
            _ => None,
        })
        .collect()
}

fn nmounted(fb: &FreeBsd<Recorder>) -> bool {
    fb.sys().calls.iter().any(|c| matches!(c, SysCall::Nmount(_)))
}

const LINE: &str = "mount_md -o rw -P -F /jails/j1/rootfs.volume md /var/jails/j1";

#[test]
fn argv_is_fsck_ufs_preen_on_the_unit() {
    let argv = |force| -> Vec<String> {
        fsck_argv(Path::new("/dev/md3"), force).iter().map(|a| a.to_string_lossy().into_owned()).collect()
    };
    assert_eq!(argv(false), ["/sbin/fsck_ufs", "-p", "/dev/md3"]);
    // --fsck=always: -f, or fsck_ffs skips a clean file system.
    assert_eq!(argv(true), ["/sbin/fsck_ufs", "-f", "-p", "/dev/md3"]);
}

#[test]
fn clean_ufs_is_mounted_without_a_check() {
    let mut fb = freebsd(ufs2(1, 0x2));
    let (code, _, err) = run(&words(LINE), &mut fb);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(fscks(&fb).is_empty());
    assert!(fb.sys().calls.iter().all(|c| !matches!(c, SysCall::Newfs { .. })));
    assert!(nmounted(&fb));
}

#[test]
fn dirty_ufs_is_checked_before_nmount() {
    for (clean, flags, why) in [
        (0, 0x2, "fs_clean is 0"),
        (1, 0x4, "FS_NEEDSFSCK"),
        (1, 0x1, "FS_UNCLEAN"),
        (0, 0x2 | 0x8, "fs_clean is 0, soft updates journal to replay"),
    ] {
        let mut fb = freebsd(ufs2(clean, flags));
        let (code, _, err) = run(&words(LINE), &mut fb);
        assert_eq!(code, 0, "{err}");
        assert_eq!(err, format!("mount_md: {IMG}: ufs is not clean ({why}): checked with fsck_ufs -p\n"));
        assert_eq!(fscks(&fb), [["/sbin/fsck_ufs", "-p", "/dev/md0"]]);
        // The check comes after the attach and before the mount.
        let kinds: Vec<&str> = fb
            .sys()
            .changes()
            .iter()
            .map(|c| match c {
                SysCall::Attach(_) => "attach",
                SysCall::Fsck(_) => "fsck",
                SysCall::Nmount(_) => "nmount",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["attach", "fsck", "nmount"]);
    }
}

#[test]
fn failed_check_stops_the_mount_and_detaches() {
    let mut fb = freebsd(ufs2(0, 0x2));
    fb = FreeBsd::with_sys(fb.into_sys().failing_at("fsck", Errno::EIO));
    let (code, _, err) = run(&words(LINE), &mut fb);
    assert_eq!(code, 1);
    assert!(err.starts_with(&format!("mount_md: fsck_ufs -p on {IMG}: ")), "{err}");
    assert!(!nmounted(&fb));
    assert!(fb.sys().is_clean(), "left attached: {:?}", fb.sys().calls);
    assert!(fb.sys().calls.contains(&SysCall::Detach(0)));
}

#[test]
fn fsck_policies() {
    // never: a warning, no check, mounted as it is.
    let mut fb = freebsd(ufs2(0, 0x2));
    let (code, _, err) = run(&words(&LINE.replace("-P", "-P --fsck=never")), &mut fb);
    assert_eq!(code, 0);
    assert_eq!(err, format!("mount_md: {IMG}: ufs is not clean (fs_clean is 0); not checked (--fsck=never)\n"));
    assert!(fscks(&fb).is_empty() && nmounted(&fb));
    // always: checked even when clean, with -f (which fsck_ufs needs for
    // that), and the message says so.
    let mut fb = freebsd(ufs2(1, 0x2));
    let (code, _, err) = run(&words(&LINE.replace("-P", "-P --fsck=always")), &mut fb);
    assert_eq!(code, 0);
    assert_eq!(fscks(&fb), [["/sbin/fsck_ufs", "-f", "-p", "/dev/md0"]]);
    assert_eq!(err, format!("mount_md: {IMG}: ufs: --fsck=always: checked with fsck_ufs -f -p\n"));
    // not clean: preen mode as it is (a soft-updates journal is replayed).
    let mut fb = freebsd(ufs2(0, 0x2));
    run(&words(LINE), &mut fb);
    assert_eq!(fscks(&fb), [["/sbin/fsck_ufs", "-p", "/dev/md0"]]);
    // read-only: a dirty image is not checked (nothing could be repaired);
    // the kernel mounts UFS read-only even when not clean.
    let mut fb = freebsd(ufs2(0, 0x2));
    let (code, _, err) = run(&words(&LINE.replace("-o rw", "-o ro")), &mut fb);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("attached read-only, so not checked"), "{err}");
    assert!(fscks(&fb).is_empty());
}

#[test]
fn ufs_image_is_not_formatted_again() {
    let line = "mount_md -F /jails/j1/rootfs.volume md /var/jails/j1";
    let mut fb = freebsd(ufs2(1, 0x2));
    let (code, _, err) = run(&words(line), &mut fb);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "mount_md: {IMG}: already holds a file system (ufs); not formatting it \
             (-P mounts it as it is, --reformat replaces it)\n"
        )
    );
    assert!(fb.sys().is_clean());
    assert!(!fb.sys().calls.iter().any(|c| matches!(c, SysCall::Newfs { .. })));
    // --reformat: formatted, no look at the superblock needed.
    let mut fb = freebsd(ufs2(1, 0x2));
    let (code, _, err) = run(&words(&line.replace("-F", "--reformat -F")), &mut fb);
    assert_eq!(code, 0, "{err}");
    assert!(fb.sys().calls.iter().any(|c| matches!(c, SysCall::Newfs { .. })));
    // A blank image is formatted as before.
    let mut fb = freebsd(vec![0u8; 4096]);
    let (code, _, err) = run(&words(line), &mut fb);
    assert_eq!(code, 0, "{err}");
}

/// From fstab: FreeBSD's mount(8) splits `--fsck=always` at the `=` into
/// two words (6.x and modern alike); they are joined again.
#[test]
fn fsck_option_from_fstab() {
    for argv in [
        mount_modern_argv(
            "md /var/jails/j1 ufs rw,-P,--fsck=always,-F/jails/j1/rootfs.volume,mountprog=/usr/local/sbin/mount_md 0 0",
        )
        .unwrap(),
        mount_6x_argv("md /var/jails/j1 md rw,-P,--fsck=always,-F/jails/j1/rootfs.volume 0 0").unwrap(),
    ] {
        assert!(argv.contains(&"always".to_string()), "split as mount(8) does: {argv:?}");
        let mut fb = freebsd(ufs2(1, 0x2));
        let (code, _, err) = run(&argv, &mut fb);
        assert_eq!(code, 0, "{argv:?}: {err}");
        assert_eq!(fscks(&fb).len(), 1, "{argv:?}");
    }
    let mut fb = freebsd(ufs2(1, 0x2));
    let (code, _, err) = run(&words("mount_md --fsck -P -F /jails/j1/rootfs.volume md /var/jails/j1"), &mut fb);
    assert_eq!(code, 1);
    assert!(err.starts_with("mount_md: option '--fsck' requires an argument\nusage: "), "{err}");
}

/// A newfs failure names the image, and leaves nothing attached.
#[test]
fn newfs_failure_names_the_image() {
    let mut fb = FreeBsd::with_sys(freebsd(vec![0u8; 4096]).into_sys().failing_at("newfs", Errno::EIO));
    let (code, _, err) = run(&words("mount_md -F /jails/j1/rootfs.volume md /var/jails/j1"), &mut fb);
    assert_eq!((code, err.as_str()), (1, "mount_md: newfs on /jails/j1/rootfs.volume: Input/output error\n"));
    assert!(fb.sys().is_clean());
}
