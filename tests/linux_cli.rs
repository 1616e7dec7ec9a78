//! mount_md on real loop devices, as root: the command line, flavors,
//! formatting, read-only, mode/owner, the size limit, odd paths, and that
//! autoclear leaves no loop device behind.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

const MIB: u64 = 1 << 20;
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
