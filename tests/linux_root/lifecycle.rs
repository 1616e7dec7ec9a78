//! The lifecycle on real loop devices, as root:
//! `mount_md -u` on every kind of target, busy and forced; `mount -a`
//! twice; a leftover `losetup` attachment; `--create`; symlinks swapped in
//! between runs; a hostile environment; and real failures at every step,
//! each leaving nothing mounted, nothing attached and no half-made image.
use crate::support::*;
use std::ffi::OsStr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A prepared 16 MiB ext4 image mounted with `-P` at `dir`.
fn mount_prepared(tmp: &TempDir, name: &str, loops: &mut LoopGuard) -> (PathBuf, PathBuf, MountGuard, MountInfo) {
    let img = tmp.join(format!("{name}.img"));
    make_image(&img, 16 * MIB, true);
    let dir = tmp.dir(name);
    ok(&run(&bin(), args!["-P", "-F", img, "md", dir]));
    let (guard, m) = mounted(&dir, &img, loops);
    (img, dir, guard, m)
}

/// Runs a command that must fail with exit 1 and exactly one stderr line;
/// afterwards nothing of the test's is mounted or attached.
fn fails(args: &[&OsStr], tmp: &TempDir) -> String {
    let out = run(&bin(), args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {err}");
    assert_nothing_left(tmp);
    lines[0].to_string()
}

fn unit_of(m: &MountInfo) -> String {
    m.source.trim_start_matches("/dev/").to_string()
}

fn autoclear(name: &str) -> bool {
    std::fs::read_to_string(format!("/sys/block/{name}/loop/autoclear")).is_ok_and(|s| s.trim() == "1")
}

/// A child process killed (and reaped) on drop.
/// A process whose working directory is `dir` (keeps a mount busy).
fn hold_cwd(dir: &Path) -> Holder {
    let child = Command::new("sleep").arg("600").current_dir(dir).stdin(Stdio::null()).spawn().expect("sleep");
    // The working directory is set before exec: once /proc shows it, it holds.
    let cwd = format!("/proc/{}/cwd", child.id());
    let h = Holder(child);
    for _ in 0..500 {
        if std::fs::read_link(&cwd).is_ok_and(|p| p == dir) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    h
}

// ---------------------------------------------------------------- -u

#[test]
fn release_by_mount_point_image_and_device() {
    require_loop!();
    let tmp = TempDir::new("u-targets");
    let mut loops = LoopGuard::default();
    for how in ["mount point", "image", "device"] {
        let (img, dir, _guard, m) = mount_prepared(&tmp, "a", &mut loops);
        std::fs::write(dir.join("f"), b"data").unwrap();
        let target: PathBuf = match how {
            "mount point" => dir.clone(),
            "image" => img.clone(),
            _ => PathBuf::from(&m.source),
        };
        let out = run(&bin(), args!["-u", target]);
        ok(&out);
        assert_eq!(text(&out.stdout), "", "{how}");
        assert_eq!(text(&out.stderr), "", "{how}");
        assert!(mount_at(&dir).is_none(), "{how}: still mounted");
        assert_nothing_left(&tmp);
        // Again: nothing to do, exit 0, silent.
        let out = run(&bin(), args!["-u", target]);
        ok(&out);
        assert_eq!((text(&out.stdout), text(&out.stderr)), (String::new(), String::new()), "{how}, twice");
        // The data was written back: it is there on the next mount.
        ok(&run(&bin(), args!["-P", "-F", img, "md", dir]));
        let (g, _) = mounted(&dir, &img, &mut loops);
        assert_eq!(std::fs::read(dir.join("f")).unwrap(), b"data");
        unmount_and_check_no_leak(g, &tmp);
        std::fs::remove_file(&img).unwrap();
    }
}

#[test]
fn release_says_what_it_did_under_x() {
    require_loop!();
    let tmp = TempDir::new("u-debug");
    let mut loops = LoopGuard::default();
    let (img, dir, _guard, m) = mount_prepared(&tmp, "a", &mut loops);
    let out = run(&bin(), args!["-u", "-X", dir]);
    ok(&out);
    assert_eq!(text(&out.stderr), format!("DEBUG: unmounted {}\nDEBUG: detached {}\n", dir.display(), m.source));
    let _ = img;
    assert_nothing_left(&tmp);
}

#[test]
fn release_of_nothing_says_so_under_x() {
    require_loop!();
    let tmp = TempDir::new("u-nothing");
    let dir = tmp.dir("empty");
    let img = tmp.join("idle.img");
    make_image(&img, MIB, false);
    for target in [dir.clone(), img.clone()] {
        let out = run(&bin(), args!["-u", "-X", target]);
        ok(&out);
        assert_eq!(
            text(&out.stderr),
            format!("DEBUG: {}: not mounted, not attached: nothing to do\n", target.display())
        );
    }
    // A unit that is not attached: nothing to do either.
    let out = run(&bin(), args!["-u", "-X", "/dev/loop999999"]);
    ok(&out);
    assert_eq!(text(&out.stderr), "DEBUG: unit 999999: not mounted, not attached: nothing to do\n");
    assert_nothing_left(&tmp);
}

#[test]
fn release_of_a_busy_mount_is_refused_then_forced() {
    require_loop!();
    let tmp = TempDir::new("u-busy");
    let mut loops = LoopGuard::default();
    let (img, dir, _guard, m) = mount_prepared(&tmp, "busy", &mut loops);
    std::fs::create_dir(dir.join("sub")).unwrap();
    let name = unit_of(&m);
    // Busy through an open file, then through a working directory.
    for holder in ["open file", "cwd"] {
        let file = (holder == "open file").then(|| std::fs::File::create(dir.join("open")).unwrap());
        let cwd = (holder == "cwd").then(|| hold_cwd(&dir.join("sub")));
        let out = run(&bin(), args!["-u", dir]);
        assert_eq!(out.status.code(), Some(1), "{holder}: {}", text(&out.stderr));
        assert_eq!(
            text(&out.stderr),
            format!(
                "mount_md: unmount of {}: in use, nothing detached (-f forces): Device or resource busy\n",
                dir.display()
            ),
            "{holder}"
        );
        assert!(mount_at(&dir).is_some_and(|x| x.source == m.source), "{holder}: still mounted");
        assert_eq!(backing_file(&name).as_deref(), Some(img.as_path()), "{holder}: still attached");
        drop((file, cwd));
    }
    // -f: lazily unmounted at once; the device goes when the holder lets go.
    let holder = hold_cwd(&dir.join("sub"));
    let out = run(&bin(), args!["-u", "-f", dir]);
    ok(&out);
    assert_eq!(
        text(&out.stderr),
        format!("mount_md: {}: still in use; detached when its last user closes it\n", m.source)
    );
    assert!(mount_at(&dir).is_none(), "lazily unmounted");
    assert_eq!(backing_file(&name).as_deref(), Some(img.as_path()), "the holder still uses the device");
    assert!(autoclear(&name), "the device goes by itself once the holder closes it");
    drop(holder);
    assert_nothing_left(&tmp);
}

/// jail(8) unmounted the directory, but a process still holds the loop
/// device: `-u DIR` finds the unit by its mark and says it is still open
/// (never "nothing to do"); `-f` leaves it to autoclear.
#[test]
fn release_of_an_unmounted_directory_whose_unit_is_held() {
    require_loop!();
    let tmp = TempDir::new("u-held");
    let mut loops = LoopGuard::default();
    let (img, dir, guard, m) = mount_prepared(&tmp, "held", &mut loops);
    let name = unit_of(&m);
    let held = std::fs::File::open(&m.source).unwrap();
    nix::mount::umount(&dir).unwrap();
    drop(guard);
    assert_eq!(backing_file(&name).as_deref(), Some(img.as_path()), "held: still attached");
    let out = run(&bin(), args!["-u", dir]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!("mount_md: detach {}: still open (-f forces): Device or resource busy\n", m.source)
    );
    let out = run(&bin(), args!["-u", "-f", dir]);
    ok(&out);
    assert_eq!(
        text(&out.stderr),
        format!("mount_md: {}: still in use; detached when its last user closes it\n", m.source)
    );
    drop(held);
    assert_nothing_left(&tmp);
}

/// `-u -f` unmounts lazily, and a lazy unmount would take every mount
/// below too: with another file system mounted inside (a jail's tmpfs),
/// it is refused, under -N as well, and nothing changes.
#[test]
fn forced_release_leaves_mounts_inside_alone() {
    require_loop!();
    let tmp = TempDir::new("u-nested");
    let mut loops = LoopGuard::default();
    let (img, dir, guard, m) = mount_prepared(&tmp, "outer", &mut loops);
    let sub = dir.join("sub");
    std::fs::create_dir(&sub).unwrap();
    nix::mount::mount(Some("tmpfs"), &sub, Some("tmpfs"), nix::mount::MsFlags::empty(), None::<&str>).unwrap();
    let inner = MountGuard(sub.clone());
    let want = format!(
        "mount_md: {}: {} is mounted inside it, and -f would unmount it too; unmount it first\n",
        dir.display(),
        sub.display()
    );
    for dry in ["-f", "-N"] {
        let out = run(&bin(), args!["-u", "-f", dry, &dir]);
        assert_eq!((out.status.code(), text(&out.stderr)), (Some(1), want.clone()));
        assert!(mount_at(&sub).is_some(), "the inner mount stays");
        assert!(mount_at(&dir).is_some_and(|x| x.source == m.source), "the outer one too");
    }
    drop(inner);
    ok(&run(&bin(), args!["-u", "-f", &dir]));
    drop(guard);
    let _ = wait_no_loops(&img, std::time::Duration::from_secs(5));
    assert_nothing_left(&tmp);
}

/// SIGTERM (a service manager's stop, a boot timeout) during the skeleton
/// copy: the copy stops, the mount is undone and the disk detached: no
/// half-copied root is left mounted for the next run to take as done.
#[test]
fn a_stop_signal_during_the_copy_undoes_the_mount() {
    require_loop!();
    let tmp = TempDir::new("sigterm-skel");
    let skel = tmp.dir("skel");
    for d in 0..40 {
        let sub = skel.join(format!("d{d}"));
        std::fs::create_dir(&sub).unwrap();
        for f in 0..250 {
            std::fs::write(sub.join(format!("f{f}")), b"x").unwrap();
        }
    }
    let mp = tmp.dir("mp");
    let guard = MountGuard(mp.clone());
    let child = Command::new(bin())
        .args(["-M", "-s", "256m", "-k"])
        .arg(&skel)
        .arg("md")
        .arg(&mp)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while mount_at(&mp).is_none() && start.elapsed() < std::time::Duration::from_secs(20) {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    // SAFETY: kill(2) takes no pointers; the child is ours and not yet reaped.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) }, 0, "kill -TERM");
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("interrupted") || err.contains("stopped by SIGTERM"), "{err}");
    assert!(mount_at(&mp).is_none(), "the mount is undone");
    drop(guard);
    assert_nothing_left(&tmp);
}

/// A file system that shut down (XFS after an I/O error) answers EIO even
/// to a stat of its mount point: `-u` by that mount point (what the
/// jail.conf recipe names) still finds and releases it, by the mount
/// table. In a mount namespace of its own.
#[test]
fn release_of_a_shut_down_file_system() {
    require_loop!(alone); // it makes a mount namespace
    require_tools!("mkfs.xfs", "xfs_io");
    let tmp = TempDir::new("u-shutdown");
    let mp = tmp.dir("m");
    let img = tmp.join("x.img");
    let script = r#"
        "$1" -T xfs -s 320m --create=sparse -F "$2" md "$3" || exit 9
        xfs_io -x -c shutdown "$3"
        stat "$3" >/dev/null 2>&1 && echo "stat works"
        "$1" -u "$3"; echo "rc=$?"
    "#;
    let out = in_own_namespace(script, &[bin().as_os_str(), img.as_os_str(), mp.as_os_str()]);
    assert_eq!(text(&out.stdout).trim(), "rc=0", "{}", text(&out.stderr));
    assert!(wait_no_loops(&img, std::time::Duration::from_secs(5)).is_empty());
    assert_nothing_left(&tmp);
}

/// Two `-u` of one target at once (a jail stop beside a service stop):
/// whichever comes second finds the work done, and both succeed.
#[test]
fn two_releases_at_once_both_succeed() {
    require_loop!();
    let tmp = TempDir::new("u-twice");
    let mut loops = LoopGuard::default();
    for round in 0..12 {
        let (img, dir, guard, m) = mount_prepared(&tmp, "twice", &mut loops);
        // Half the rounds by mount point twice, half by mount point and image.
        let second = if round % 2 == 0 { dir.clone() } else { img.clone() };
        let a = Command::new(bin()).arg("-u").arg(&dir).stderr(Stdio::piped()).spawn().unwrap();
        let b = Command::new(bin()).arg("-u").arg(&second).stderr(Stdio::piped()).spawn().unwrap();
        for (which, child) in [("first", a), ("second", b)] {
            let out = child.wait_with_output().unwrap();
            assert_eq!(out.status.code(), Some(0), "round {round}, {which}: {}", text(&out.stderr));
        }
        assert!(mount_at(&dir).is_none(), "round {round}: unmounted");
        let _ = wait_no_loops(&img, std::time::Duration::from_secs(5));
        assert!(loops_backed_by(&img).is_empty(), "round {round}: {} detached", m.source);
        drop(guard);
        std::fs::remove_file(&img).unwrap();
    }
    assert_nothing_left(&tmp);
}

#[test]
fn release_refuses_a_mount_that_is_not_a_loop_device() {
    require_loop!();
    let tmp = TempDir::new("u-tmpfs");
    let dir = tmp.dir("t");
    let st = Command::new("mount").args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"]).arg(&dir).status().unwrap();
    assert!(st.success());
    let _g = MountGuard(dir.clone());
    for force in [false, true] {
        let out = if force { run(&bin(), args!["-u", "-f", dir]) } else { run(&bin(), args!["-u", dir]) };
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(text(&out.stderr), format!("mount_md: {}: mounted from tmpfs, not a loop device\n", dir.display()));
        assert_eq!(mount_at(&dir).map(|m| m.fstype).as_deref(), Some("tmpfs"), "tmpfs still mounted");
    }
}

// ---------------------------------------------------------------- mount -a twice

#[test]
fn mount_a_twice_mounts_once() {
    require_loop!(alone); // it makes a mount namespace
    let tmp = require_helper!("mount-a-twice");
    let img = tmp.join("web.img");
    make_image(&img, 16 * MIB, true);
    let ct = tmp.dir("ct");
    let fstab = tmp.join("fstab");
    std::fs::write(&fstab, format!("md {} md rw,noatime,-P,-F{} 0 0\n", ct.display(), img.display())).unwrap();
    let mut loops = LoopGuard::default();
    let guard = MountGuard(ct.clone());
    let mount_md = flavor(&tmp, "mount.md");
    let mount_a = || tmp.mount(args!["-a", "-T", fstab]);
    let first = mount_a();
    ok(&first);
    let m = mount_at(&ct).expect("mounted");
    loops.record(&m.source, &img);
    let before: Vec<String> =
        mounts().into_iter().filter(|x| x.mount_point.starts_with(tmp.path())).map(|x| x.source).collect();
    assert_eq!(before, vec![m.source.clone()]);
    let second = mount_a();
    ok(&second);
    let after: Vec<String> =
        mounts().into_iter().filter(|x| x.mount_point.starts_with(tmp.path())).map(|x| x.source).collect();
    assert_eq!(after, before, "no stacked mount");
    assert_eq!(loops_backed_by(&img), vec![unit_of(&m)], "no new device");
    // The helper itself, twice more, says why it did nothing.
    let out = run(&mount_md, args!["md", ct, "-v", "-o", format!("rw,noatime,-P,-F{}", img.display())]);
    ok(&out);
    assert!(text(&out.stderr).contains("already mounted"), "{}", text(&out.stderr));
    unmount_and_check_no_leak(guard, &tmp);
}

/// `-N` makes the lifecycle's look-ups too, so it fails where the run
/// would: the image in use elsewhere, a mount point already mounted, a
/// unit another tool attached; and changes nothing.
#[test]
fn a_dry_run_fails_where_the_run_would() {
    require_loop!();
    require_tools!("mkfs.xfs");
    let tmp = TempDir::new("dry-lifecycle");
    let mut loops = LoopGuard::default();
    let (img, dir, guard, m) = mount_prepared(&tmp, "a", &mut loops);
    let other = tmp.dir("other");
    let refused = |out: std::process::Output, want: String| {
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains(&want), "{}", text(&out.stderr));
    };
    refused(
        run(&bin(), args!["-N", "-P", "-F", &img, "md", &other]),
        format!("{}: already attached as {}", img.display(), m.source),
    );
    refused(
        run(&bin(), args!["-N", "-M", "-s", "300m", "-T", "xfs", "md", &dir]),
        format!("{}: already a mount point (of {})", dir.display(), m.source),
    );
    ok(&run(&bin(), args!["-u", &dir]));
    drop(guard);
    let plain = tmp.join("plain.img");
    make_image(&plain, 16 * MIB, true);
    let dev = losetup(&plain, &mut loops);
    let out = run(&bin(), args!["-N", "-P", "-F", &plain, "md", &other]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("was not attached by mount_md"), "{}", text(&out.stderr));
    assert_eq!(loops_backed_by(&plain), vec![dev.trim_start_matches("/dev/").to_string()]);
}

/// A memory-disk line run again finds its disk there (exit 0, nothing
/// stacked); another image is not mounted over it; -u still works.
#[test]
fn no_disk_is_stacked_on_a_mount_point() {
    require_loop!();
    let tmp = TempDir::new("no-stack");
    let mp = tmp.dir("mp");
    let guard = MountGuard(mp.clone());
    for _ in 0..3 {
        ok(&run(&bin(), args!["-M", "-s", "16m", "md", &mp]));
    }
    let here: Vec<MountInfo> = mounts().into_iter().filter(|x| x.mount_point == mp).collect();
    assert_eq!(here.len(), 1, "one disk, not three stacked");
    let img = tmp.join("other.img");
    make_image(&img, 16 * MIB, true);
    let out = run(&bin(), args!["-P", "-F", &img, "md", &mp]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!(
            "mount_md: {}: already a mount point (of {}); not mounting over it (unmount it first)\n",
            mp.display(),
            here[0].source
        )
    );
    assert!(loops_backed_by(&img).is_empty(), "nothing attached for it");
    ok(&run(&bin(), args!["-u", &mp]));
    drop(guard);
    assert_nothing_left(&tmp);
}

// ---------------------------------------------------------------- leftovers

#[test]
fn a_leftover_losetup_attachment_is_refused_not_replaced() {
    require_loop!();
    let tmp = TempDir::new("leftover");
    let img = tmp.join("a.img");
    make_image(&img, 16 * MIB, true);
    let dir = tmp.dir("m");
    let mut loops = LoopGuard::default();
    let old = losetup(&img, &mut loops);
    let old_name = old.trim_start_matches("/dev/").to_string();
    assert!(!autoclear(&old_name), "losetup's device has no autoclear");
    // Not ours: never detached to make room, whatever state it is in.
    let out = run(&bin(), args!["-P", "-F", img, "md", dir]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!("mount_md: {}: {old} was not attached by mount_md; left alone (another tool attached it: when nothing uses it, losetup -d {old} detaches it)\n", img.display())
    );
    assert_eq!(loops_backed_by(&img), vec![old_name.clone()], "losetup's device is still there");
    assert!(mount_at(&dir).is_none());
}

// ---------------------------------------------------------------- --create

#[test]
fn create_formats_mounts_and_keeps_data() {
    require_loop!();
    let tmp = TempDir::new("create");
    let img = tmp.join("new.img");
    let dir = tmp.dir("m");
    let mut loops = LoopGuard::default();
    let out = run(&bin(), args!["--create", "-s", "32m", "-F", img, "md", dir]);
    ok(&out);
    let md = std::fs::metadata(&img).unwrap();
    assert_eq!(md.mode() & 0o7777, 0o600);
    assert_eq!(md.len(), 32 * MIB);
    let (guard, m) = mounted(&dir, &img, &mut loops);
    assert_eq!(m.fstype, "ext4");
    std::fs::write(dir.join("keep"), b"kept").unwrap();
    unmount_and_check_no_leak(guard, &tmp);
    // The fstab form: -P --create on the now existing image keeps it.
    let out = run(&bin(), args!["-X", "-P", "--create", "-s", "32m", "-F", img, "md", dir]);
    ok(&out);
    let err = text(&out.stderr);
    assert!(!err.contains("DEBUG: created"), "{err}");
    assert!(err.contains("-P: keeping the image's file system"), "{err}");
    let (guard, _) = mounted(&dir, &img, &mut loops);
    assert_eq!(std::fs::read(dir.join("keep")).unwrap(), b"kept");
    unmount_and_check_no_leak(guard, &tmp);
}

/// `--create` reserves every block, `--create=sparse` none. Measured where
/// mkfs cannot interfere: on a file system too small for the reservation.
#[test]
fn create_reserves_or_not() {
    require_loop!();
    let home = TempDir::new("create-alloc-fs");
    let small = home.dir("small");
    let st = Command::new("mount").args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"]).arg(&small).status().unwrap();
    assert!(st.success());
    let _g = MountGuard(small.clone());
    let tmp = TempDir::new("create-alloc");
    let dir = tmp.dir("m");
    let img = small.join("big.img");
    // Reserve: 32 MiB do not fit in 4 MiB, so nothing is even attached.
    let line = fails(args!["--create", "-s", "32m", "-F", img, "md", dir], &tmp);
    assert_eq!(line, format!("mount_md: {}: cannot create image: No space left on device", img.display()));
    assert!(img.symlink_metadata().is_err(), "half-made image removed");
    // Sparse: created at once, and fails only when mkfs writes (on a
    // bigger file system it would succeed); removed again.
    let out = run(&bin(), args!["-X", "--create=sparse", "-s", "32m", "-F", img, "md", dir]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("DEBUG: created {}", img.display())), "{err}");
    assert!(err.contains("DEBUG: mkfs.ext4"), "it got as far as mkfs: {err}");
    assert!(img.symlink_metadata().is_err(), "half-made image removed");
    assert_nothing_left(&tmp);
    assert_eq!(wait_no_loops(&small, SETTLE), Vec::<String>::new());
}

/// Known bug, left for the lead: mkfs.ext4 discards the loop device by
/// default, and a loop device turns discard into hole punching in the
/// backing file, so the blocks `--create` reserved are given back by the
/// format that follows (allocated ends up as with `--create=sparse`).
#[test]
fn create_fills_its_blocks() {
    require_loop!();
    let tmp = TempDir::new("create-blocks");
    let dir = tmp.dir("m");
    let mut loops = LoopGuard::default();
    for (mode, reserved) in [("--create=sparse", false), ("--create", true)] {
        let img = tmp.join(format!("{}.img", reserved));
        ok(&run(&bin(), args![mode, "-s", "32m", "-F", img, "md", dir]));
        let (guard, _) = mounted(&dir, &img, &mut loops);
        unmount_and_check_no_leak(guard, &tmp);
        let allocated = std::fs::metadata(&img).unwrap().blocks() * 512;
        if reserved {
            assert!(allocated >= 32 * MIB, "{mode}: {allocated} bytes allocated");
        } else {
            assert!(allocated < 16 * MIB, "{mode}: {allocated} bytes allocated");
        }
    }
}

#[test]
fn create_never_overwrites_an_existing_file() {
    require_loop!();
    let tmp = TempDir::new("create-existing");
    let dir = tmp.dir("m");
    let img = tmp.join("notes.txt");
    // Exactly the -s size: a larger -s would grow the file (see below).
    let mut content = b"not an image, and it stays that way\n".repeat(MIB as usize / 36 + 1);
    content.truncate(MIB as usize);
    std::fs::write(&img, &content).unwrap();
    std::fs::set_permissions(&img, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = std::fs::metadata(&img).unwrap();
    // -P --create: not created by this run, so not formatted; the probe
    // finds no file system; the file is neither changed nor removed.
    let line = fails(args!["-P", "--create", "-s", "1m", "-F", img, "md", dir], &tmp);
    assert_eq!(line, format!("mount_md: {}: no recognised file system (use -T to name one)", img.display()));
    let after = std::fs::metadata(&img).unwrap();
    assert!(std::fs::read(&img).unwrap() == content, "the file's content changed");
    assert_eq!((after.ino(), after.mode(), after.len()), (before.ino(), before.mode(), before.len()));
}

// ---------------------------------------------------------------- symlinks
// (Symlinks that only root or the caller can change are followed:
// tests/linux_symlinks.rs.)

const NOT_FOLLOWED: &str = "is a symbolic link owned by uid 65534, not followed";

/// A symlink as another user (uid 65534) would plant it.
fn attackers_symlink(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
    std::os::unix::fs::lchown(link, Some(65534), Some(65534)).unwrap();
}

#[test]
fn image_replaced_by_a_symlink_between_runs() {
    require_loop!();
    let tmp = TempDir::new("sym-image");
    let mut loops = LoopGuard::default();
    let (img, dir, guard, _) = mount_prepared(&tmp, "a", &mut loops);
    unmount_and_check_no_leak(guard, &tmp);
    let real = tmp.join("moved.img");
    std::fs::rename(&img, &real).unwrap();
    // Planted by another user (uid 65534): not followed.
    attackers_symlink(&real, &img);
    let line = fails(args!["-P", "-F", img, "md", dir], &tmp);
    assert_eq!(line, format!("mount_md: {} {NOT_FOLLOWED}", img.display()));
    // Not with --create either (O_EXCL on a symlink is EEXIST, then refused).
    let line = fails(args!["-P", "--create", "-s", "16m", "-F", img, "md", dir], &tmp);
    assert_eq!(line, format!("mount_md: {} {NOT_FOLLOWED}", img.display()));
    // A dangling one is not followed to create its target.
    let dangling = tmp.join("dangling.img");
    let target = tmp.join("target-of-dangling.img");
    attackers_symlink(&target, &dangling);
    let line = fails(args!["--create", "-s", "16m", "-F", dangling, "md", dir], &tmp);
    assert_eq!(line, format!("mount_md: {} {NOT_FOLLOWED}", dangling.display()));
    assert!(target.symlink_metadata().is_err(), "the link's target was not created");
}

#[test]
fn symlinked_directory_in_the_image_path() {
    require_loop!();
    let tmp = TempDir::new("sym-dir");
    let real = tmp.dir("images");
    let img = real.join("a.img");
    make_image(&img, 16 * MIB, true);
    let link = tmp.join("link");
    attackers_symlink(&real, &link);
    let dir = tmp.dir("m");
    let line = fails(args!["-P", "-F", link.join("a.img"), "md", dir], &tmp);
    assert_eq!(line, format!("mount_md: {} {NOT_FOLLOWED}", link.display()));
    let line = fails(args!["--create", "-s", "16m", "-F", link.join("new.img"), "md", dir], &tmp);
    assert_eq!(line, format!("mount_md: {} {NOT_FOLLOWED}", link.display()));
    assert!(real.join("new.img").symlink_metadata().is_err());
}

#[test]
fn symlinked_mount_point_or_parent() {
    require_loop!();
    let tmp = TempDir::new("sym-mnt");
    let img = tmp.join("a.img");
    make_image(&img, 16 * MIB, true);
    let real = tmp.dir("real/sub");
    std::fs::write(real.join("marker"), b"untouched").unwrap();
    let link = tmp.join("link");
    attackers_symlink(&real, &link);
    let parent_link = tmp.join("plink");
    attackers_symlink(&tmp.join("real"), &parent_link);
    for (mp, shown) in [(link.clone(), link.clone()), (parent_link.join("sub"), parent_link.clone())] {
        // Formatting and -P alike: refused before anything is changed.
        for p in [true, false] {
            let line = if p {
                fails(args!["-P", "-F", img, "md", mp], &tmp)
            } else {
                fails(args!["--reformat", "-F", img, "md", mp], &tmp)
            };
            assert_eq!(line, format!("mount_md: {} {NOT_FOLLOWED}", shown.display()));
        }
        assert_eq!(std::fs::read(real.join("marker")).unwrap(), b"untouched");
        assert_eq!(std::fs::read_dir(&real).unwrap().count(), 1, "nothing added to the target");
        assert!(mount_at(&real).is_none());
    }
}

// ---------------------------------------------------------------- environment

#[test]
fn a_hostile_environment_changes_nothing() {
    require_loop!();
    let tmp = TempDir::new("env");
    let fake = tmp.dir("fakebin");
    let marker = tmp.join("fake-mkfs-ran");
    for prog in ["mkfs.ext4", "mkfs", "mke2fs", "mount", "losetup", "umount"] {
        let p = fake.join(prog);
        std::fs::write(&p, format!("#!/bin/sh\ntouch {}\nexit 0\n", marker.display())).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let img = tmp.join("a.img");
    make_image(&img, 16 * MIB, false);
    let dir = tmp.dir("m");
    let mut loops = LoopGuard::default();
    for path in [fake.as_os_str(), OsStr::new(""), OsStr::new("/nonexistent")] {
        let out = Command::new(bin())
            // --reformat: from the second round on the image holds ext4.
            .args([OsStr::new("--reformat"), OsStr::new("-F"), img.as_os_str(), OsStr::new("md"), dir.as_os_str()])
            .env_clear()
            .env("PATH", path)
            .env("LD_LIBRARY_PATH", &fake)
            .env("IFS", "/")
            .env("MKE2FS_CONFIG", fake.join("mke2fs.conf"))
            .env("HOME", &fake)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        ok(&out);
        assert!(!marker.exists(), "PATH={path:?}: a program from PATH ran");
        let (guard, m) = mounted(&dir, &img, &mut loops);
        assert_eq!(m.fstype, "ext4", "the real mkfs.ext4 made it");
        unmount_and_check_no_leak(guard, &tmp);
    }
}

// ---------------------------------------------------------------- failures

#[test]
fn every_failure_rolls_back_and_removes_a_created_image() {
    require_loop!();
    let tmp = TempDir::new("faults");
    let dir = tmp.dir("m");
    let new = tmp.join("new.img");
    // mkfs fails.
    let line = fails(args!["--create", "-s", "16m", "-b", "999", "-F", new, "md", dir], &tmp);
    assert_eq!(line, format!("mount_md: mkfs.ext4 on {}: invalid block size - 999", new.display()));
    assert!(new.symlink_metadata().is_err(), "mkfs: created image removed");
    // mount(2) fails: an option ext4 refuses.
    let line = fails(args!["--create", "-s", "16m", "-o", "data=bogus", "-F", new, "md", dir], &tmp);
    assert!(
        line.contains("not a valid ext4 file system, one larger than the disk (-s), or an option ext4 does not accept"),
        "{line}"
    );
    assert!(new.symlink_metadata().is_err(), "mount: created image removed");
    // mount(2) fails: garbage under -P -T ext4.
    let garbage = tmp.join("garbage.img");
    let noise: Vec<u8> = (0..4 * MIB as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    std::fs::write(&garbage, &noise).unwrap();
    let line = fails(args!["-P", "-T", "ext4", "-F", garbage, "md", dir], &tmp);
    assert!(line.starts_with("mount_md: /dev/loop") && line.contains("not a valid ext4 file system"), "{line}");
    assert!(std::fs::read(&garbage).unwrap() == noise, "-P: the image is untouched");
    // Skeleton copy fails: a missing tree.
    let line = fails(args!["--create", "-s", "16m", "-k", tmp.join("no-skel"), "-F", new, "md", dir], &tmp);
    assert_eq!(line, format!("mount_md: skel copy from {}: No such file or directory", tmp.join("no-skel").display()));
    assert!(new.symlink_metadata().is_err(), "skel: created image removed");
    // Skeleton copy fails: a tree larger than the file system.
    let skel = tmp.dir("skel");
    std::fs::create_dir(skel.join("etc")).unwrap();
    std::fs::write(skel.join("etc/big"), vec![0x5au8; 24 * MIB as usize]).unwrap();
    let line = fails(args!["--create", "-s", "16m", "-k", skel, "-F", new, "md", dir], &tmp);
    assert_eq!(line, format!("mount_md: skel copy: {}: No space left on device", skel.join("etc/big").display()));
    assert!(new.symlink_metadata().is_err(), "skel ENOSPC: created image removed");
}

/// chmod and chown of the mounted root fail for real when the root
/// directory of a prepared image is immutable (chattr +i).
#[test]
fn chmod_chown_and_copy_into_an_immutable_root_fail_cleanly() {
    require_loop!();
    require_tools!("chattr");
    let tmp = TempDir::new("immutable");
    let mut loops = LoopGuard::default();
    let (img, dir, guard, _) = mount_prepared(&tmp, "i", &mut loops);
    let st = Command::new("chattr").arg("+i").arg(&dir).status().unwrap();
    assert!(st.success(), "chattr +i");
    unmount_and_check_no_leak(guard, &tmp);
    let line = fails(args!["-P", "-p", "0755", "-F", img, "md", dir], &tmp);
    assert_eq!(line, format!("mount_md: chmod: {}: Operation not permitted", dir.display()));
    let line = fails(args!["-P", "-w", "1:1", "-F", img, "md", dir], &tmp);
    assert_eq!(line, format!("mount_md: chown {} to 1:1: Operation not permitted", dir.display()));
    let skel = tmp.dir("skel");
    std::fs::write(skel.join("f"), b"x").unwrap();
    let line = fails(args!["-P", "-k", skel, "-F", img, "md", dir], &tmp);
    let mark = dir.join(".mount_md-skeleton-unfinished");
    assert_eq!(line, format!("mount_md: skel copy: {}: Operation not permitted", mark.display()));
    // Read-only: chmod is skipped with a warning instead of failing.
    let out = run(&bin(), args!["-P", "-o", "ro", "-p", "0755", "-F", img, "md", dir]);
    ok(&out);
    assert_eq!(
        text(&out.stderr),
        format!("mount_md: Not changing mode/owner of {} since it is read-only\n", dir.display())
    );
    let (guard, _) = mounted(&dir, &img, &mut loops);
    unmount_and_check_no_leak(guard, &tmp);
}

/// Known bug, left for the lead: `-s` larger than an existing file grows it
/// (sparsely) before anything can fail, and a failed run does not shrink
/// it back; with `--create` ("an existing file is never touched") too.
#[test]
fn a_failed_run_leaves_an_existing_file_as_it_was() {
    require_loop!();
    let tmp = TempDir::new("grown");
    let dir = tmp.dir("m");
    let img = tmp.join("notes.txt");
    std::fs::write(&img, b"short text file\n").unwrap();
    let line = fails(args!["-P", "--create", "-s", "1m", "-F", img, "md", dir], &tmp);
    assert!(line.ends_with("no recognised file system (use -T to name one)"), "{line}");
    let len = std::fs::metadata(&img).unwrap().len();
    assert_eq!(len, 16, "the file was grown and left grown");
}
