//! mount_md on real loop devices, as root: the command line, flavors,
//! formatting, read-only, mode/owner, the size limit, odd paths, and that
//! autoclear leaves no loop device behind.
use crate::support::*;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

#[test]
fn preserved_image_with_p() {
    require_loop!();
    let tmp = TempDir::new("P");
    let img = tmp.join("web1.img");
    make_image(&img, 32 * MIB, true);
    let mnt = tmp.dir("mnt");
    let before = std::fs::metadata(&img).unwrap().len();
    let mut loops = LoopGuard::default();
    let out = run(&bin(), args!["-P", "-F", img, "md", mnt]);
    ok(&out);
    assert!(out.stderr.is_empty(), "stderr: {}", text(&out.stderr));
    let (guard, m) = mounted(&mnt, &img, &mut loops);
    assert_eq!(m.fstype, "ext4");
    assert!(m.options.split(',').any(|o| o == "rw"));
    assert!(mnt.join("lost+found").is_dir(), "the preserved file system is the one mounted");
    std::fs::write(mnt.join("hello"), b"hi").unwrap();
    unmount_and_check_no_leak(guard, &tmp);
    assert_eq!(std::fs::metadata(&img).unwrap().len(), before, "image size unchanged");
    // Mount again: the file written before is still there (not reformatted).
    let out = run(&bin(), args!["-P", "-F", img, "md", mnt]);
    ok(&out);
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    assert_eq!(std::fs::read(mnt.join("hello")).unwrap(), b"hi");
    unmount_and_check_no_leak(guard, &tmp);
}

#[test]
fn formats_a_blank_image() {
    require_loop!();
    let tmp = TempDir::new("format");
    let img = tmp.join("blank.img");
    make_image(&img, 32 * MIB, false);
    let mnt = tmp.dir("mnt");
    let mut loops = LoopGuard::default();
    let out = run(&bin(), args!["-o", "noatime,nodev", "-F", img, "md", mnt]);
    ok(&out);
    let (guard, m) = mounted(&mnt, &img, &mut loops);
    assert_eq!(m.fstype, "ext4");
    let opts: Vec<&str> = m.options.split(',').collect();
    assert!(opts.contains(&"noatime") && opts.contains(&"nodev"), "{opts:?}");
    unmount_and_check_no_leak(guard, &tmp);
    // It really holds an ext4 now: -P probes it.
    let out = run(&bin(), args!["-X", "-P", "-F", img, "md", mnt]);
    ok(&out);
    assert!(text(&out.stderr).contains("found ext4"), "{}", text(&out.stderr));
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    unmount_and_check_no_leak(guard, &tmp);
}

#[test]
fn read_only() {
    require_loop!();
    let tmp = TempDir::new("ro");
    let img = tmp.join("ro.img");
    make_image(&img, 32 * MIB, true);
    let mnt = tmp.dir("mnt");
    let mut loops = LoopGuard::default();
    let out = run(&bin(), args!["-P", "-o", "ro", "-F", img, "md", mnt]);
    ok(&out);
    let (guard, m) = mounted(&mnt, &img, &mut loops);
    assert!(m.options.split(',').any(|o| o == "ro"), "{}", m.options);
    let dev = m.source.trim_start_matches("/dev/");
    assert_eq!(std::fs::read_to_string(format!("/sys/block/{dev}/ro")).unwrap().trim(), "1", "device is read-only");
    let e = std::fs::write(mnt.join("x"), b"x").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EROFS));
    unmount_and_check_no_leak(guard, &tmp);
}

#[test]
fn read_only_image_falls_back_with_a_warning() {
    require_loop!();
    let tmp = TempDir::new("immutable");
    let img = tmp.join("ro.img");
    make_image(&img, 32 * MIB, true);
    // Root ignores mode bits; a read-only bind of the directory makes
    // O_RDWR fail with EROFS, as a read-only image store would.
    let store = tmp.dir("store");
    std::fs::rename(&img, store.join("ro.img")).unwrap();
    let img = store.join("ro.img");
    let st = std::process::Command::new("mount").args(["--bind", "-o", "ro"]).arg(&store).arg(&store).status().unwrap();
    assert!(st.success());
    let _store_guard = MountGuard(store.clone());
    let mnt = tmp.dir("mnt");
    let mut loops = LoopGuard::default();
    let out = run(&bin(), args!["-P", "-p", "0700", "-F", img, "md", mnt]);
    ok(&out);
    let err = text(&out.stderr);
    assert!(err.contains("not writable; attaching it read-only and mounting read-only"), "{err}");
    assert!(err.contains("since it is read-only"), "{err}");
    let (guard, m) = mounted(&mnt, &img, &mut loops);
    assert!(m.options.split(',').any(|o| o == "ro"));
    unmount_and_check_no_leak(guard, &tmp);
}

#[test]
fn mode_and_owner_of_the_mounted_root() {
    require_loop!();
    let tmp = TempDir::new("pw");
    let img = tmp.join("pw.img");
    make_image(&img, 32 * MIB, false);
    let mnt = tmp.dir("mnt");
    let mut loops = LoopGuard::default();
    let out = run(&bin(), args!["-p", "0750", "-w", "1000:1000", "-F", img, "md", mnt]);
    ok(&out);
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    let md = std::fs::metadata(&mnt).unwrap();
    assert_eq!(md.mode() & 0o7777, 0o750);
    assert_eq!((md.uid(), md.gid()), (1000, 1000));
    unmount_and_check_no_leak(guard, &tmp);
}

#[test]
fn compat_flavor_makes_the_root_world_writable() {
    require_loop!();
    let tmp = TempDir::new("mfs");
    let img = tmp.join("mfs.img");
    make_image(&img, 32 * MIB, false);
    let mnt = tmp.dir("mnt");
    let mut loops = LoopGuard::default();
    let out = run(&flavor(&tmp, "mount_mfs"), args!["-F", img, "md", mnt]);
    ok(&out);
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    assert_eq!(std::fs::metadata(&mnt).unwrap().mode() & 0o7777, 0o1777);
    unmount_and_check_no_leak(guard, &tmp);
}

#[test]
fn the_limit_holds() {
    require_loop!();
    let tmp = TempDir::new("limit");
    let img = tmp.join("small.img");
    let size = 16 * MIB;
    make_image(&img, size, false);
    let mnt = tmp.dir("mnt");
    let mut loops = LoopGuard::default();
    let out = run(&bin(), args!["-F", img, "md", mnt]);
    ok(&out);
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    let mut f = std::fs::File::create(mnt.join("fill")).unwrap();
    let chunk = vec![0xA5u8; 256 * 1024];
    let mut written: u64 = 0;
    let err = loop {
        match f.write(&chunk) {
            Ok(n) => written += n as u64,
            Err(e) => break e,
        }
        assert!(written <= size, "wrote {written} bytes into a {size}-byte image");
    };
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
    drop(f);
    assert!(written > size / 2 && written <= size, "wrote {written}");
    unmount_and_check_no_leak(guard, &tmp);
    let md = std::fs::metadata(&img).unwrap();
    assert_eq!(md.len(), size, "the image did not grow");
    assert!(md.blocks() * 512 <= size, "allocated {} bytes", md.blocks() * 512);
}

#[test]
fn size_option_limits_or_extends_the_device() {
    require_loop!();
    let tmp = TempDir::new("size");
    let mnt = tmp.dir("mnt");
    let mut loops = LoopGuard::default();
    // Larger than the file: the file grows sparsely.
    let img = tmp.join("grow.img");
    make_image(&img, 8 * MIB, false);
    let out = run(&bin(), args!["-X", "-s", "24m", "-F", img, "md", mnt]);
    ok(&out);
    assert!(text(&out.stderr).contains("extended sparsely"), "{}", text(&out.stderr));
    let (guard, m) = mounted(&mnt, &img, &mut loops);
    let dev = m.source.trim_start_matches("/dev/").to_string();
    let sectors: u64 = std::fs::read_to_string(format!("/sys/block/{dev}/size")).unwrap().trim().parse().unwrap();
    assert_eq!(sectors * 512, 24 * MIB);
    assert_eq!(std::fs::metadata(&img).unwrap().len(), 24 * MIB);
    unmount_and_check_no_leak(guard, &tmp);
    // Smaller than the file: a size limit; the file keeps its length.
    let img = tmp.join("limit.img");
    make_image(&img, 32 * MIB, false);
    let out = run(&bin(), args!["-s", "12m", "-F", img, "md", mnt]);
    ok(&out);
    let (guard, m) = mounted(&mnt, &img, &mut loops);
    let dev = m.source.trim_start_matches("/dev/").to_string();
    let sectors: u64 = std::fs::read_to_string(format!("/sys/block/{dev}/size")).unwrap().trim().parse().unwrap();
    assert_eq!(sectors * 512, 12 * MIB);
    unmount_and_check_no_leak(guard, &tmp);
    assert_eq!(std::fs::metadata(&img).unwrap().len(), 32 * MIB);
}

#[test]
fn memory_backed_disk_leaves_nothing() {
    require_loop!();
    let tmp = TempDir::new("memfd");
    let mnt = tmp.dir("mnt");
    let out = run(&bin(), args!["-s", "16m", "md", mnt]);
    ok(&out);
    let guard = MountGuard(mnt.clone());
    let m = mount_at(&mnt).expect("mounted");
    let dev = m.source.trim_start_matches("/dev/").to_string();
    let backing = backing_file(&dev).expect("bound");
    assert!(backing.to_string_lossy().contains("memfd:mount_md"), "{}", backing.display());
    std::fs::write(mnt.join("x"), b"x").unwrap();
    let st = std::process::Command::new("umount").arg(&mnt).status().unwrap();
    assert!(st.success());
    drop(guard);
    let start = std::time::Instant::now();
    while backing_file(&dev).is_some_and(|b| b == backing) && start.elapsed() < SETTLE {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(backing_file(&dev).is_none_or(|b| b != backing), "{dev} still bound to the memfd");
}

#[test]
fn paths_with_spaces_and_equals() {
    require_loop!();
    let tmp = TempDir::new("odd");
    let store = tmp.dir("image store=1");
    let img = store.join("web 1=a.img");
    make_image(&img, 32 * MIB, true);
    let mnt = tmp.dir("mount point=2");
    let mut loops = LoopGuard::default();
    let out = run(&bin(), args!["-P", "-F", img, "md", mnt]);
    ok(&out);
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    unmount_and_check_no_leak(guard, &tmp);
    // mount.md's fstab spelling -F=/path, with '=' and spaces in the path.
    let opt = format!("rw,noatime,-P,-F={}", img.display());
    let out = run(&flavor(&tmp, "mount.md"), args!["md", mnt, "-o", opt]);
    ok(&out);
    let (guard, m) = mounted(&mnt, &img, &mut loops);
    assert!(m.options.split(',').any(|o| o == "noatime"));
    unmount_and_check_no_leak(guard, &tmp);
}

#[test]
fn tmpfs_and_auto() {
    require_loop!();
    let tmp = TempDir::new("tmpfs");
    for device in ["tmpfs", "auto"] {
        let mnt = tmp.dir(device);
        let out = run(&bin(), args!["-s", "8m", "-o", "nodev", "-p", "0700", device, mnt]);
        ok(&out);
        let guard = MountGuard(mnt.clone());
        let m = mount_at(&mnt).expect("mounted");
        assert_eq!(m.fstype, "tmpfs");
        assert!(m.options.split(',').any(|o| o == "nodev"));
        let st = nix::sys::statvfs::statvfs(&mnt).unwrap();
        #[allow(clippy::unnecessary_cast)]
        let bytes = st.blocks() as u64 * st.fragment_size() as u64;
        assert_eq!(bytes, 8 * MIB);
        assert_eq!(std::fs::metadata(&mnt).unwrap().mode() & 0o7777, 0o700);
        drop(guard);
    }
}

#[test]
fn sloppy_drops_refused_options() {
    require_loop!();
    let tmp = TempDir::new("sloppy");
    let img = tmp.join("s.img");
    make_image(&img, 16 * MIB, true);
    let mnt = tmp.dir("mnt");
    let helper = flavor(&tmp, "mount.md");
    let opts = format!("noatime,no_such_option=1,-P,-F{}", img.display());
    // Without -s the kernel's refusal is the error, rolled back.
    let out = run(&helper, args!["md", mnt, "-o", opts]);
    assert_eq!(out.status.code(), Some(32));
    assert!(text(&out.stderr).contains("an option ext4 does not accept"), "{}", text(&out.stderr));
    assert_eq!(wait_no_loops(tmp.path(), SETTLE), Vec::<String>::new());
    // With -s (sloppy) it mounts without them, and says so.
    let mut loops = LoopGuard::default();
    let out = run(&helper, args!["md", mnt, "-s", "-o", opts]);
    ok(&out);
    assert!(text(&out.stderr).contains("sloppy: ext4 refused options no_such_option=1"), "{}", text(&out.stderr));
    let (guard, m) = mounted(&mnt, &img, &mut loops);
    assert!(m.options.split(',').any(|o| o == "noatime"));
    unmount_and_check_no_leak(guard, &tmp);
}

/// mount(8)'s contract with its helpers, through the real util-linux
/// mount: 0 mounted, 1 bad invocation (also under -f), 2 system error, 32
/// the mount failed.
#[test]
fn mount_md_exit_statuses_through_util_linux_mount() {
    require_loop!(alone); // it makes a mount namespace
    let tmp = require_helper!("exit");
    let img = tmp.join("ok.img");
    make_image(&img, 16 * MIB, true);
    let mnt = tmp.dir("mnt");
    let status = |o: &std::process::Output| (o.status.code(), text(&o.stderr));
    // 0
    let mut loops = LoopGuard::default();
    let out = tmp.mount(args!["-t", "md", "-o", format!("-P,-F{}", img.display()), "md", mnt]);
    assert_eq!(status(&out), (Some(0), String::new()));
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    unmount_and_check_no_leak(guard, &tmp);
    // 1: a bad option
    let out = tmp.mount(args!["-t", "md", "-o", format!("-P,-q,-F{}", img.display()), "md", mnt]);
    let (code, err) = status(&out);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("mount.md: illegal option -- q"), "{err}");
    // 1: an option this system cannot carry out, with and without -f
    for fake in [false, true] {
        let mut a: Vec<&std::ffi::OsStr> = Vec::new();
        if fake {
            a.push("-f".as_ref());
        }
        let opts = format!("-Ospace,-F{}", img.display());
        a.extend(args!["-t", "md", "-o", opts, "md", mnt]);
        let (code, err) = status(&tmp.mount(&a));
        assert_eq!(code, Some(1), "fake={fake}: {err}");
        assert!(err.contains("option -O has no meaning for ext4 on Linux"), "{err}");
    }
    // 32: a missing image, with and without -f
    for fake in [false, true] {
        let mut a: Vec<&std::ffi::OsStr> = Vec::new();
        if fake {
            a.push("-f".as_ref());
        }
        let opts = format!("-P,-F{}", tmp.join("missing.img").display());
        a.extend(args!["-t", "md", "-o", opts, "md", mnt]);
        let (code, err) = status(&tmp.mount(&a));
        assert_eq!(code, Some(32), "fake={fake}: {err}");
        assert!(err.contains("missing.img: No such file or directory"), "{err}");
    }
    // 2: the host file system is full (--create into a 4 MiB tmpfs)
    let small = tmp.dir("small");
    let st = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"]).arg(&small).status();
    assert!(st.unwrap().success());
    let small_guard = MountGuard(small.clone());
    let opts = format!("-F{},-s64m,--create", small.join("new.img").display());
    let (code, err) = status(&tmp.mount(args!["-t", "md", "-o", opts, "md", mnt]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(!small.join("new.img").exists(), "the new image is removed again");
    drop(small_guard);
    assert_nothing_left(&tmp);
}

/// libmount keeps a double-quoted fstab value whole: an image path with a
/// comma works from /etc/fstab.
#[test]
fn comma_in_an_fstab_image_path() {
    require_loop!(alone); // it makes a mount namespace
    let tmp = require_helper!("comma");
    let img = tmp.join("a,b.img");
    make_image(&img, 16 * MIB, true);
    let mnt = tmp.dir("ct");
    let fstab = tmp.join("fstab");
    std::fs::write(&fstab, format!("md {} md rw,noatime,-P,-F=\"{}\" 0 0\n", mnt.display(), img.display())).unwrap();
    let mut loops = LoopGuard::default();
    let out = tmp.mount(args!["-a", "-T", fstab]);
    assert!(out.status.success(), "mount -a: {}", text(&out.stderr));
    let (guard, m) = mounted(&mnt, &img, &mut loops);
    assert!(m.options.split(',').any(|o| o == "noatime"), "{}", m.options);
    unmount_and_check_no_leak(guard, &tmp);
}

/// Not root: the loop control device refuses, and the message says why.
#[test]
fn not_root_is_told_it_needs_root() {
    use std::os::unix::process::CommandExt;
    require_loop!();
    let tmp = TempDir::new("nonroot");
    std::fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let img = tmp.join("u.img");
    make_image(&img, 16 * MIB, true);
    let mnt = tmp.dir("mnt");
    let helper = flavor(&tmp, "mount.md");
    for (prog, args, code) in [
        (
            bin(),
            vec!["-P".to_string(), "-F".into(), img.display().to_string(), "md".into(), mnt.display().to_string()],
            1,
        ),
        (helper, vec!["md".into(), mnt.display().to_string(), "-o".into(), format!("-P,-F{}", img.display())], 1),
    ] {
        let out = std::process::Command::new(&prog).args(&args).uid(65534).gid(65534).output().unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{err}");
        // The first privileged step refuses: /dev/loop-control, or (while
        // other tests have loop devices attached) reading whose a bound
        // /dev/loopN is.
        assert!(
            err.contains("/dev/loop-control: Permission denied (mount_md needs root")
                || (err.contains("cannot check whose it is: Permission denied (mount_md needs root")),
            "{err}"
        );
    }
    assert_nothing_left(&tmp);
}

/// -N makes the real run's checks and fails with its message and status;
/// the real run fails the same way, before attaching anything.
#[test]
fn dry_run_fails_as_the_real_run_does() {
    require_loop!();
    let tmp = TempDir::new("preflight");
    let img = tmp.join("p.img");
    make_image(&img, 16 * MIB, false);
    let mnt = tmp.dir("mnt");
    // A read-only image store: the image cannot be formatted.
    let store_dir = TempDir::new("preflight-store");
    let store = store_dir.dir("store");
    let ro_img = store.join("ro.img");
    make_image(&ro_img, 16 * MIB, false);
    let st = std::process::Command::new("mount").args(["--bind", "-o", "ro"]).arg(&store).arg(&store).status();
    assert!(st.unwrap().success());
    let _store_guard = MountGuard(store.clone());
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["-F".into(), ro_img.display().to_string(), "md".into(), mnt.display().to_string()],
            format!(
                "mount_md: {}: not writable, so it cannot be formatted (add -P to mount its file system read-only)",
                ro_img.display()
            ),
        ),
        (
            vec![
                "-s".into(),
                "64k".into(),
                "-F".into(),
                img.display().to_string(),
                "md".into(),
                mnt.display().to_string(),
            ],
            "mount_md: a disk of 65536 bytes is too small for ext4 (at least 102400 bytes)".into(),
        ),
        (
            vec![
                "-k".into(),
                tmp.join("noskel").display().to_string(),
                "-F".into(),
                img.display().to_string(),
                "md".into(),
                mnt.display().to_string(),
            ],
            format!("mount_md: skel copy from {}: No such file or directory", tmp.join("noskel").display()),
        ),
        (
            vec!["-u".into(), "/".into()],
            String::new(), // compared with the real run below
        ),
    ];
    for (args, message) in cases {
        let real = std::process::Command::new(bin()).args(&args).output().unwrap();
        let mut dry_args = vec!["-N".to_string()];
        dry_args.extend(args.iter().cloned());
        let dry = std::process::Command::new(bin()).args(&dry_args).output().unwrap();
        assert_eq!(dry.status.code(), Some(1), "{args:?}: {}", text(&dry.stderr));
        assert_eq!((real.status.code(), text(&real.stderr)), (dry.status.code(), text(&dry.stderr)), "{args:?}");
        assert!(dry.stdout.is_empty(), "{args:?}: no plan after a failed check");
        if !message.is_empty() {
            assert_eq!(text(&dry.stderr), format!("{message}\n"), "{args:?}");
        }
        assert_nothing_left(&tmp);
    }
    // A plan that passes every check: printed, nothing changed.
    let out = run(&bin(), args!["-N", "-F", img, "md", mnt]);
    ok(&out);
    assert!(text(&out.stdout).contains("mkfs.ext4"), "{}", text(&out.stdout));
    assert_nothing_left(&tmp);
}

/// -N -u says what -u would unmount and detach, and changes nothing.
#[test]
fn dry_run_release_names_its_steps() {
    require_loop!();
    let tmp = TempDir::new("dryu");
    let img = tmp.join("u.img");
    make_image(&img, 16 * MIB, true);
    let mnt = tmp.dir("mnt");
    let mut loops = LoopGuard::default();
    ok(&run(&bin(), args!["-P", "-F", img, "md", mnt]));
    let (guard, m) = mounted(&mnt, &img, &mut loops);
    let runs: [&[&std::ffi::OsStr]; 3] = [args!["-N", "-u", mnt], args!["-X", "-N", "-u", img], args!["-u", "-N", mnt]];
    for args in runs {
        let out = run(&bin(), args);
        ok(&out);
        let plan = text(&out.stdout);
        assert!(plan.contains(&format!("unmount {} (refused if it is busy; -f forces)", mnt.display())), "{plan}");
        assert!(plan.contains(&format!("detach {} (refused while it is open", m.source)), "{plan}");
        assert_eq!(mount_at(&mnt).map(|n| n.source), Some(m.source.clone()), "still mounted");
    }
    let out = run(&bin(), args!["-N", "-f", "-u", mnt]);
    assert!(text(&out.stdout).contains("(forced)"), "{}", text(&out.stdout));
    unmount_and_check_no_leak(guard, &tmp);
    let out = run(&bin(), args!["-N", "-u", mnt]);
    ok(&out);
    assert!(text(&out.stdout).contains("not mounted, not attached: nothing to do"), "{}", text(&out.stdout));
}

/// Messages name the image by its whole path, quoted when it has a space.
#[test]
fn messages_name_the_whole_path() {
    require_loop!();
    let tmp = TempDir::new("whole");
    let store = tmp.dir("image store");
    let img = store.join("g.img");
    make_image(&img, MIB, false);
    let mnt = tmp.dir("mnt");
    // A mount point with a space, named whole and quoted.
    let missing = tmp.join("no such dir");
    let out = run(&bin(), args!["-P", "-F", img, "md", missing]);
    assert_eq!(text(&out.stderr), format!("mount_md: '{}': No such file or directory\n", missing.display()));
    assert_eq!(out.status.code(), Some(1));
    // Larger than any file the temporary file system allows.
    let out = run(&bin(), args!["-P", "-T", "ext4", "-s", "8000000t", "-F", img, "md", mnt]);
    let err = text(&out.stderr);
    if !err.contains("File too large") {
        skip_optional(&format!("this temporary file system allows an 8000000 TiB file: {err}"));
        return;
    }
    assert_eq!(err, format!("mount_md: extend '{}': File too large\n", img.display()));
    assert_eq!(out.status.code(), Some(1));
    assert_nothing_left(&tmp);
}
