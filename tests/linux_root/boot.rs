//! Boot safety on Linux, for real: a dirty ext4 image is checked with
//! `e2fsck -p` before it is mounted (and a failed check leaves nothing
//! behind), an image holding a file system is never formatted again without
//! `--reformat`, `-o ro` without `-P` is refused before attaching.
use crate::support::*;
use std::path::Path;
use std::process::Command;

/// `dumpe2fs -h`'s "Filesystem state:" value.
fn fs_state(img: &Path) -> String {
    let out = Command::new("dumpe2fs").arg("-h").arg(img).output().expect("dumpe2fs");
    text(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Filesystem state:").map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

/// Marks the file system as having errors, as the kernel does when it
/// finds an inconsistency (`tune2fs -E force_fsck` sets `EXT4_ERROR_FS`).
fn mark_errors(img: &Path) {
    let st = Command::new("tune2fs").args(["-E", "force_fsck"]).arg(img).output().expect("tune2fs");
    assert!(st.status.success(), "{}", text(&st.stderr));
    assert_eq!(fs_state(img), "clean with errors");
}

macro_rules! require_e2fsprogs {
    () => {
        require_loop!();
        require_tools!("tune2fs", "dumpe2fs", "debugfs");
    };
}

#[test]
fn dirty_ext4_is_checked_then_mounted() {
    require_e2fsprogs!();
    let tmp = TempDir::new("fsck");
    let mnt = tmp.dir("mnt");
    let img = tmp.join("a.img");
    make_image(&img, 32 * MIB, true);
    mark_errors(&img);
    let mut loops = LoopGuard::default();
    let out = run(&bin(), args!["-X", "-P", "-F", img, "md", mnt]);
    ok(&out);
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "mount_md: {}: ext4 is not clean (errors recorded): checked with e2fsck -p",
            img.display()
        )),
        "{err}"
    );
    assert!(err.contains("DEBUG: e2fsck: "), "e2fsck's summary under -X: {err}");
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    unmount_and_check_no_leak(guard, &tmp);
    assert_eq!(fs_state(&img), "clean");
}

#[test]
fn clean_ext4_starts_no_checker() {
    require_e2fsprogs!();
    let tmp = TempDir::new("fsck-clean");
    let mnt = tmp.dir("mnt");
    let img = tmp.join("a.img");
    make_image(&img, 32 * MIB, true);
    let mut loops = LoopGuard::default();
    let out = run(&bin(), args!["-X", "-P", "-F", img, "md", mnt]);
    ok(&out);
    let err = text(&out.stderr);
    assert!(err.contains(&format!("DEBUG: {}: ext4 is clean", img.display())), "{err}");
    assert!(!err.contains("e2fsck:") && !err.contains("checked with"), "{err}");
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    unmount_and_check_no_leak(guard, &tmp);
}

#[test]
fn failed_check_mounts_nothing_and_shows_e2fsck() {
    require_e2fsprogs!();
    let tmp = TempDir::new("fsck-fail");
    let mnt = tmp.dir("mnt");
    let img = tmp.join("a.img");
    make_image(&img, 32 * MIB, true);
    // A root inode that is gone: more than preen mode will repair.
    let st = Command::new("debugfs").args(["-w", "-R", "clri <2>"]).arg(&img).output().unwrap();
    assert!(st.status.success(), "{}", text(&st.stderr));
    mark_errors(&img);
    let out = run(&bin(), args!["-P", "-F", img, "md", mnt]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines[0], format!("mount_md: e2fsck -p on {}: exited with error code 4:", img.display()));
    assert!(err.contains("UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY"), "{err}");
    assert_nothing_left(&tmp);
    // mount.md: the same, with mount(8)'s exit code.
    let out = run(&flavor(&tmp, "mount.md"), args!["md", mnt, "-o", format!("rw,-P,-F{}", img.display())]);
    assert_eq!(out.status.code(), Some(32), "{}", text(&out.stderr));
    assert_nothing_left(&tmp);
}

#[test]
fn fsck_policies() {
    require_e2fsprogs!();
    let tmp = TempDir::new("fsck-policy");
    let mnt = tmp.dir("mnt");
    let img = tmp.join("a.img");
    make_image(&img, 32 * MIB, true);
    mark_errors(&img);
    let mut loops = LoopGuard::default();
    // never: mounted as it is, with a warning; still dirty afterwards.
    let out = run(&bin(), args!["--fsck=never", "-P", "-F", img, "md", mnt]);
    ok(&out);
    assert_eq!(
        text(&out.stderr).trim(),
        format!("mount_md: {}: ext4 is not clean (errors recorded); not checked (--fsck=never)", img.display())
    );
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    unmount_and_check_no_leak(guard, &tmp);
    assert_eq!(fs_state(&img), "clean with errors");
    // -o ro: cannot repair, so not checked; said so.
    let out = run(&bin(), args!["-o", "ro", "-P", "-F", img, "md", mnt]);
    ok(&out);
    assert!(text(&out.stderr).contains("attached read-only, so not checked"), "{}", text(&out.stderr));
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    unmount_and_check_no_leak(guard, &tmp);
    // always, through mount.md's option list: checked although clean.
    let out = run(&bin(), args!["-P", "-F", img, "md", mnt]);
    ok(&out);
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    unmount_and_check_no_leak(guard, &tmp);
    assert_eq!(fs_state(&img), "clean");
    let out =
        run(&flavor(&tmp, "mount.md"), args!["md", mnt, "-o", format!("rw,-P,--fsck=always,-F{}", img.display())]);
    ok(&out);
    assert!(text(&out.stderr).contains("ext4: --fsck=always: checked with e2fsck -f -p"), "{}", text(&out.stderr));
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    unmount_and_check_no_leak(guard, &tmp);
    // always really checks a clean ext4: e2fsck -p alone would only say
    // "clean, N/M files" (-X shows e2fsck's summary line).
    let out = run(&bin(), args!["-X", "--fsck=always", "-P", "-F", img, "md", mnt]);
    ok(&out);
    let err = text(&out.stderr);
    let summary: Vec<&str> = err.lines().filter(|l| l.contains("e2fsck: ") && l.contains(" files")).collect();
    assert_eq!(summary.len(), 1, "{err}");
    assert!(!summary[0].contains("clean,") && summary[0].contains("non-contiguous"), "{err}");
    assert!(err.contains("checked with e2fsck -f -p"), "{err}");
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    unmount_and_check_no_leak(guard, &tmp);
}

#[test]
fn an_image_with_a_file_system_is_not_formatted_again() {
    require_e2fsprogs!();
    let tmp = TempDir::new("reformat");
    let mnt = tmp.dir("mnt");
    let img = tmp.join("a.img");
    make_image(&img, 32 * MIB, true);
    let mut loops = LoopGuard::default();
    // Put a file in it, to see whether it survives.
    ok(&run(&bin(), args!["-P", "-F", img, "md", mnt]));
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    std::fs::write(mnt.join("precious"), b"data").unwrap();
    unmount_and_check_no_leak(guard, &tmp);
    // The missing -P: refused, both ways on named, nothing attached; -N
    // says so too (it reads the image's superblock).
    let dry = run(&bin(), args!["-N", "-F", img, "md", mnt]);
    assert_eq!(dry.status.code(), Some(1), "{}", text(&dry.stderr));
    assert!(text(&dry.stderr).contains("already holds a file system (ext4)"), "{}", text(&dry.stderr));
    let out = run(&bin(), args!["-F", img, "md", mnt]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        format!(
            "mount_md: {}: already holds a file system (ext4); not formatting it \
             (-P mounts it as it is, --reformat replaces it)",
            img.display()
        )
    );
    assert_nothing_left(&tmp);
    ok(&run(&bin(), args!["-P", "-F", img, "md", mnt]));
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    assert_eq!(std::fs::read(mnt.join("precious")).unwrap(), b"data");
    unmount_and_check_no_leak(guard, &tmp);
    // xfs-looking bytes count too (no mkfs.xfs needed to recognise them).
    let fake_xfs = tmp.join("x.img");
    let mut bytes = vec![0u8; 16 * MIB as usize];
    bytes[..4].copy_from_slice(b"XFSB");
    std::fs::write(&fake_xfs, bytes).unwrap();
    let out = run(&bin(), args!["-F", fake_xfs, "md", mnt]);
    assert!(text(&out.stderr).contains("already holds a file system (xfs)"), "{}", text(&out.stderr));
    assert_nothing_left(&tmp);
    // Swap space (or LUKS, vfat, a partition table…) is not formatted
    // over either.
    let swap = tmp.join("swap.img");
    let mut bytes = vec![0u8; 16 * MIB as usize];
    bytes[4086..4096].copy_from_slice(b"SWAPSPACE2");
    std::fs::write(&swap, bytes).unwrap();
    let out = run(&bin(), args!["-F", swap, "md", mnt]);
    assert!(text(&out.stderr).contains("already holds a file system (swap)"), "{}", text(&out.stderr));
    assert_nothing_left(&tmp);
    std::fs::remove_file(&swap).unwrap();
    // A path with a space is named whole, in single quotes.
    let spaced = tmp.join("x y.img");
    std::fs::rename(&fake_xfs, &spaced).unwrap();
    let out = run(&bin(), args!["-F", spaced, "md", mnt]);
    let err = text(&out.stderr);
    assert!(err.starts_with(&format!("mount_md: '{}': already holds", spaced.display())), "{err}");
    assert_nothing_left(&tmp);
    // --reformat replaces it (mount.md's option list reaches it too).
    let out = run(&flavor(&tmp, "mount.md"), args!["md", mnt, "-o", format!("rw,--reformat,-F{}", img.display())]);
    ok(&out);
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    assert!(!mnt.join("precious").exists());
    unmount_and_check_no_leak(guard, &tmp);
}

#[test]
fn read_only_without_p_is_refused_before_attaching() {
    require_loop!();
    let tmp = TempDir::new("ro-nop");
    let mnt = tmp.dir("mnt");
    let img = tmp.join("blank.img");
    make_image(&img, 16 * MIB, false);
    for args in [args!["-o", "ro", "-F", img, "md", mnt], args!["-o", "ro", "-s", "16m", "md", mnt]] {
        let out = run(&bin(), args);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            text(&out.stderr).trim(),
            "mount_md: -o ro without -P: the new file system would be empty and read-only \
             (add -P to mount the file system the image holds)"
        );
        assert_nothing_left(&tmp);
    }
    // Even a dry run says so.
    let out = run(&bin(), args!["-N", "-o", "ro", "-F", img, "md", mnt]);
    assert_eq!(out.status.code(), Some(1));
    assert!(std::fs::read(&img).unwrap().iter().all(|b| *b == 0), "untouched");
}

/// A FIFO named as the image: refused at once, also read-only (where a
/// plain open would wait for a writer forever).
#[test]
fn a_fifo_as_image_never_blocks() {
    require_loop!();
    let tmp = TempDir::new("fifo");
    let mnt = tmp.dir("mnt");
    let fifo = tmp.join("fifo.img");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let lines: [&[&std::ffi::OsStr]; 3] = [
        args!["-o", "ro", "-P", "-F", fifo, "md", mnt],
        args!["-P", "-F", fifo, "md", mnt],
        args!["-P", "--create", "-s", "16m", "-F", fifo, "md", mnt],
    ];
    for args in lines {
        let mut child = Command::new(bin()).args(args).stderr(std::process::Stdio::piped()).spawn().unwrap();
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if start.elapsed() > std::time::Duration::from_secs(5) {
                let _ = child.kill();
                panic!("mount_md blocked on a FIFO");
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(1));
        assert_eq!(err.trim(), format!("mount_md: {} is not a regular file", fifo.display()));
        assert_nothing_left(&tmp);
    }
}

/// flock(1) holding `path`'s lock for `secs` seconds, returned once
/// /proc/locks shows it held (at most 5 s).
/// In a process group of its own, which the caller kills whole: flock(1)
/// and its `sleep` (which, with `-o`, does not hold the lock).
fn hold_lock(path: &Path, secs: u32) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    let holder = Command::new("flock")
        .args(["-o", "-x"])
        .arg(path)
        .arg("sleep")
        .arg(secs.to_string())
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = holder.id();
    let start = std::time::Instant::now();
    while !std::fs::read_to_string("/proc/locks").unwrap().contains(&format!(" {pid} "))
        && start.elapsed() < std::time::Duration::from_secs(5)
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    holder
}

/// A lock held by another process: mount_md says once what it waits for
/// and who holds it, gives up after 10 s, and has changed nothing.
#[test]
fn a_held_lock_is_a_bounded_wait() {
    require_loop!();
    require_tools!("flock");
    let tmp = TempDir::new("held");
    let mnt = tmp.dir("mnt");
    let img = tmp.join("a.img");
    make_image(&img, 16 * MIB, true);
    let mut holder = hold_lock(&lock_of(&img), 60);
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            // SAFETY: kill(2) of the process group this test started.
            unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
            let _ = self.0.wait();
        }
    }
    let pid = holder.id();
    let _kill = Kill(&mut holder);
    let start = std::time::Instant::now();
    let out = run(&bin(), args!["-P", "-F", img, "md", mnt]);
    let waited = start.elapsed();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(waited >= std::time::Duration::from_secs(10) && waited < std::time::Duration::from_secs(20), "{waited:?}");
    let shown = img.display();
    assert_eq!(
        err,
        format!(
            "mount_md: {shown}: waiting up to 10 s for its lock, held by pid {pid} (flock)\n\
             mount_md: {shown}: still locked after 10 s, held by pid {pid} (flock); giving up, nothing changed; run again once that process is done\n"
        )
    );
    assert_nothing_left(&tmp);
}

/// `--create` that finds, after waiting for another creator's temporary,
/// the image made meanwhile, waits for that image's lock without holding
/// the directory's creation lock: another `--create` in the same
/// directory goes ahead meanwhile.
#[test]
fn a_wait_for_an_image_made_meanwhile_holds_up_no_other_creator() {
    require_loop!();
    require_tools!("flock");
    use std::io::BufRead;
    let tmp = TempDir::new("create-wait");
    let (mnt_a, mnt_b) = (tmp.dir("a"), tmp.dir("b"));
    let (img_a, img_b) = (tmp.join("a.img"), tmp.join("b.img"));
    let temp = tmp.join(mount_md::platform::posix::temp_name(std::ffi::OsStr::new("a.img")));
    std::fs::write(&temp, b"").unwrap();
    struct Kill(std::process::Child, bool);
    impl Drop for Kill {
        fn drop(&mut self) {
            // SAFETY: kill(2) of a process (or, for flock(1), the process
            // group) this test started.
            unsafe { libc::kill(if self.1 { -(self.0.id() as i32) } else { self.0.id() as i32 }, libc::SIGKILL) };
            let _ = self.0.wait();
        }
    }
    // "Another run" making a.img: its temporary, locked.
    let maker = Kill(hold_lock(&temp, 60), true);
    let mut waiter = Kill(
        Command::new(bin())
            .args(args!["--create", "-s", "16m", "-F", img_a, "md", mnt_a])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
        false,
    );
    let mut err = std::io::BufReader::new(waiter.0.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("(another run is creating it)"), "{line}");
    // It published a.img and still holds a.img's lock (it goes on to
    // attach and mount); its temporary is let go.
    make_image(&img_a, 16 * MIB, true);
    let _holder = Kill(hold_lock(&lock_of(&img_a), 60), true);
    drop(maker);
    line.clear();
    while !line.contains("waiting up to 10 s for its lock") {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "the first creator ended");
    }
    let out = run(&bin(), args!["--create", "-s", "16m", "-F", img_b, "md", mnt_b]);
    ok(&out);
    assert_eq!(text(&out.stderr), "");
    assert!(waiter.0.try_wait().unwrap().is_none(), "the second creator waited until the first gave up");
    ok(&run(&bin(), args!["-u", mnt_b]));
    drop(waiter);
    assert_nothing_left(&tmp);
}

/// Allocators that cooperate hold `/dev/loop-control`'s lock in turns, for
/// moments: a wait for it says nothing for its first five seconds. (The
/// real lock is held here for a second, so this test runs alone.)
#[test]
fn a_short_wait_for_the_loop_control_lock_says_nothing() {
    require_loop!(alone);
    require_tools!("flock");
    let tmp = TempDir::new("control-quiet");
    let mnt = tmp.dir("mnt");
    let img = tmp.join("a.img");
    make_image(&img, 16 * MIB, true);
    let mut holder = hold_lock(Path::new("/dev/loop-control"), 1);
    let out = run(&bin(), args!["-P", "-F", img, "md", mnt]);
    let _ = holder.wait();
    let err = text(&out.stderr);
    assert_eq!((out.status.code(), err.as_str()), (Some(0), ""));
    run(&bin(), args!["-u", mnt]);
    assert_nothing_left(&tmp);
}

/// The bounded wait for `/dev/loop-control`'s lock (`wait_lock`,
/// which the Linux backend takes it with), on a file of the test's own:
/// holding the real loop-control lock would stall every other attach on
/// the machine. A holder that lets go within the bound is waited for.
#[test]
fn a_held_lock_that_lets_go_is_waited_for() {
    require_tools!("flock");
    let tmp = TempDir::new("held-quiet");
    let file = tmp.join("lock");
    std::fs::write(&file, b"").unwrap();
    let mut holder = hold_lock(&file, 6);
    let fd: std::os::fd::OwnedFd = std::fs::File::open(&file).unwrap().into();
    let start = std::time::Instant::now();
    let quiet = mount_md::platform::linux::loopdev::CONTROL_QUIET;
    assert!(mount_md::platform::posix::wait_lock(&fd, "lock", "", quiet).unwrap());
    let waited = start.elapsed();
    let _ = holder.wait();
    assert!(waited >= std::time::Duration::from_millis(5500), "{waited:?}");
    assert!(waited < std::time::Duration::from_secs(10), "{waited:?}");
}

/// `-k` with a skeleton that contains the mount point is refused (the old
/// recursive copy walked into its own target until the stack overflowed,
/// leaving the mount behind); a copy that fails half-way (the skeleton
/// does not fit) rolls the mount back.
#[test]
fn skeleton_failures_roll_the_mount_back() {
    require_loop!();
    let tmp = TempDir::new("skel-roll");
    let skel = tmp.dir("skel");
    let mnt = tmp.dir("skel/jail");
    std::fs::write(skel.join("etc"), b"x").unwrap();
    let out = run(&bin(), args!["-s", "16m", "-k", skel, "md", mnt]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        format!(
            "mount_md: -k {}: the skeleton contains the mount point; refusing to copy it into itself",
            skel.display()
        )
    );
    assert_nothing_left(&tmp);
    // Too big for the disk: ENOSPC half-way, and nothing stays mounted.
    let big = tmp.dir("big");
    std::fs::write(big.join("small"), b"s").unwrap();
    std::fs::write(big.join("z-large"), vec![1u8; 24 * MIB as usize]).unwrap();
    let other = tmp.dir("other");
    let out = run(&bin(), args!["-s", "16m", "-k", big, "md", other]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        format!("mount_md: skel copy: {}: No space left on device", big.join("z-large").display())
    );
    assert_nothing_left(&tmp);
}

/// What a host crash leaves: an ext2 image copied while it was mounted
/// read-write (ext2 clears `EXT4_VALID_FS` while mounted) is checked
/// before it is mounted again.
#[test]
fn an_image_left_mounted_by_a_crash_is_checked() {
    require_e2fsprogs!();
    let tmp = TempDir::new("crash-ext2");
    let mnt = tmp.dir("mnt");
    let img = tmp.join("live.img");
    make_image(&img, 16 * MIB, false);
    let st = Command::new("mkfs.ext2").args(["-q", "-F"]).arg(&img).status().unwrap();
    assert!(st.success());
    let mut loops = LoopGuard::default();
    ok(&run(&bin(), args!["-P", "-F", img, "md", mnt]));
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    std::fs::write(mnt.join("file"), b"data").unwrap();
    nix::unistd::sync();
    let crashed = tmp.join("crashed.img");
    std::fs::copy(&img, &crashed).unwrap();
    unmount_and_check_no_leak(guard, &tmp);
    assert_eq!(fs_state(&crashed), "not clean");
    let out = run(&bin(), args!["-P", "-F", crashed, "md", mnt]);
    ok(&out);
    assert_eq!(
        text(&out.stderr).trim(),
        format!("mount_md: {}: ext2 is not clean (not cleanly unmounted): checked with e2fsck -p", crashed.display())
    );
    let (guard, _) = mounted(&mnt, &crashed, &mut loops);
    unmount_and_check_no_leak(guard, &tmp);
    assert_eq!(fs_state(&crashed), "clean");
}

/// `-k` as mdmfs's `cd skel; pax -rw -pe . mtpt` does it: the skeleton
/// may be named through a symlink nobody else can change, and a sparse
/// file keeps its holes (here a 64 MiB sparse file onto a 32 MiB disk).
#[test]
fn a_skeleton_through_a_symlink_with_a_sparse_file() {
    require_loop!();
    let tmp = TempDir::new("skel-sparse");
    let skel = tmp.dir("skel");
    std::fs::write(skel.join("motd"), b"hello\n").unwrap();
    let sparse = std::fs::File::create(skel.join("sparse")).unwrap();
    sparse.set_len(64 * MIB).unwrap();
    std::os::unix::fs::FileExt::write_at(&sparse, b"end", 64 * MIB - 3).unwrap();
    drop(sparse);
    let link = tmp.join("sklink");
    std::os::unix::fs::symlink(&skel, &link).unwrap();
    let mp = tmp.dir("mp");
    let guard = MountGuard(mp.clone());
    ok(&run(&bin(), args!["-M", "-s", "32m", "-k", &link, "md", &mp]));
    assert_eq!(std::fs::read(mp.join("motd")).unwrap(), b"hello\n");
    let md = std::fs::metadata(mp.join("sparse")).unwrap();
    assert_eq!(md.len(), 64 * MIB);
    assert!(std::os::unix::fs::MetadataExt::blocks(&md) * 512 < MIB, "holes kept");
    let mut tail = [0u8; 3];
    std::os::unix::fs::FileExt::read_at(&std::fs::File::open(mp.join("sparse")).unwrap(), &mut tail, 64 * MIB - 3)
        .unwrap();
    assert_eq!(&tail, b"end");
    ok(&run(&bin(), args!["-u", &mp]));
    drop(guard);
    assert_nothing_left(&tmp);
}
