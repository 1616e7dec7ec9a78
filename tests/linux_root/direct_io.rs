//! Direct I/O on real loop devices, as root: an image on a file
//! system with direct I/O gets a loop device that does direct I/O, as
//! `losetup -l -O DIO` and sysfs show; `--no-direct-io` (also as a
//! mount.md `-o` item) leaves it buffered; an image on tmpfs mounts either
//! way, and one on ramfs (no direct I/O at all) mounts with the buffered
//! fallback, which `-X` names.
use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `losetup -l -n -O DIO <dev>`: "1" or "0".
fn losetup_dio(dev: &str) -> String {
    let out = Command::new("losetup").args(["-l", "-n", "-O", "DIO", dev]).output().expect("losetup");
    assert!(out.status.success(), "losetup -l: {}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

fn sys_dio(dev: &str) -> String {
    let name = dev.trim_start_matches("/dev/");
    std::fs::read_to_string(format!("/sys/block/{name}/loop/dio")).expect("sysfs dio").trim().to_string()
}

/// The file system of `dir` reports a nonzero direct-I/O alignment
/// (statx STATX_DIOALIGN, Linux ≥ 6.1): the kernel will do direct I/O on it.
fn has_direct_io(dir: &Path) -> bool {
    let probe = dir.join(".dio-probe");
    std::fs::write(&probe, b"").unwrap();
    let c = std::ffi::CString::new(probe.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: an all-zero statx is a valid value.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: the path is NUL-terminated and `stx` is valid and writable.
    let r = unsafe { libc::statx(libc::AT_FDCWD, c.as_ptr(), 0, libc::STATX_DIOALIGN, &mut stx) };
    let _ = std::fs::remove_file(&probe);
    r == 0 && stx.stx_mask & libc::STATX_DIOALIGN != 0 && stx.stx_dio_offset_align != 0
}

/// A file system of type `fstype` mounted at `tmp/<name>` (unmounted when
/// `tmp` is dropped).
fn scratch_fs(tmp: &TempDir, fstype: &str, name: &str) -> (PathBuf, MountGuard) {
    let dir = tmp.dir(name);
    let st = Command::new("mount").args(["-t", fstype, "-o", "size=64m", fstype]).arg(&dir).status().unwrap();
    assert!(st.success(), "mount -t {fstype}");
    (dir.clone(), MountGuard(dir))
}

/// Mounts `img` (ext4) at `tmp/mnt` with `extra` arguments and `-X`; checks
/// the mount works (a file written and read back), releases it with
/// `mount_md -u`, and returns (DIO as losetup saw it, as sysfs did, stderr).
fn mount_and_look(tmp: &TempDir, img: &Path, extra: &[&str]) -> (String, String, String) {
    let dir = tmp.dir("mnt");
    let mut loops = LoopGuard::default();
    let mut args: Vec<&std::ffi::OsStr> = extra.iter().map(std::ffi::OsStr::new).collect();
    args.extend(args!["-X", "-P", "-F", img, "md", dir]);
    let out = run(&bin(), &args);
    ok(&out);
    let (guard, m) = mounted(&dir, img, &mut loops);
    let (lo, sys) = (losetup_dio(&m.source), sys_dio(&m.source));
    std::fs::write(dir.join("f"), vec![7u8; 1 << 20]).unwrap();
    assert_eq!(std::fs::read(dir.join("f")).unwrap(), vec![7u8; 1 << 20]);
    ok(&run(&bin(), args!["-u", dir]));
    drop(guard);
    // Not assert_nothing_left: the scratch file system stays mounted.
    assert!(mount_at(&dir).is_none(), "{} still mounted", dir.display());
    assert_eq!(wait_no_loops(tmp.path(), SETTLE), Vec::<String>::new(), "loop device left");
    (lo, sys, text(&out.stderr))
}

#[test]
fn image_on_a_direct_io_file_system_gets_direct_io() {
    require_loop!();
    let tmp = TempDir::new("dio-on");
    if !has_direct_io(tmp.path()) {
        skip_optional(&format!("{} reports no direct-I/O alignment (statx)", tmp.path().display()));
        return;
    }
    let img = tmp.join("ext.img");
    make_image(&img, 32 * MIB, true);
    let (lo, sys, err) = mount_and_look(&tmp, &img, &[]);
    assert_eq!((lo.as_str(), sys.as_str()), ("1", "1"), "stderr: {err}");
    assert!(err.contains(": direct I/O on, logical block size "), "{err}");
}

#[test]
fn no_direct_io_leaves_it_buffered() {
    require_loop!();
    let tmp = TempDir::new("dio-off");
    let img = tmp.join("ext.img");
    make_image(&img, 32 * MIB, true);
    let (lo, sys, err) = mount_and_look(&tmp, &img, &["--no-direct-io"]);
    assert_eq!((lo.as_str(), sys.as_str()), ("0", "0"), "stderr: {err}");
    assert!(err.contains(": buffered I/O (--no-direct-io)"), "{err}");

    // The same as a mount.md -o item (the helper run by its name; -v is -X).
    let helper = flavor(&tmp, "mount.md");
    let dir = tmp.dir("helper");
    let mut loops = LoopGuard::default();
    let o = format!("-P,-F{},--no-direct-io", img.display());
    let out = run(&helper, args!["md", dir, "-v", "-o", o]);
    ok(&out);
    let (guard, m) = mounted(&dir, &img, &mut loops);
    assert_eq!(sys_dio(&m.source), "0", "stderr: {}", text(&out.stderr));
    ok(&run(&bin(), args!["-u", dir]));
    drop(guard);
    assert_nothing_left(&tmp);
}

#[test]
fn image_on_tmpfs_mounts_and_says_which_io() {
    require_loop!();
    let tmp = TempDir::new("dio-tmpfs");
    let (fs, _g) = scratch_fs(&tmp, "tmpfs", "fs");
    let img = fs.join("ext.img");
    make_image(&img, 32 * MIB, true);
    let (lo, sys, err) = mount_and_look(&tmp, &img, &[]);
    assert_eq!(lo, sys);
    // tmpfs takes direct I/O since Linux 6.6 (shmem's FMODE_CAN_ODIRECT);
    // before that, the kernel clears the flag and we say so.
    match sys.as_str() {
        "1" => assert!(err.contains(": direct I/O on"), "{err}"),
        _ => assert!(err.contains("falling back to buffered I/O"), "{err}"),
    }
}

#[test]
fn image_on_ramfs_falls_back_to_buffered() {
    require_loop!();
    let tmp = TempDir::new("dio-ramfs");
    let (fs, _g) = scratch_fs(&tmp, "ramfs", "fs");
    let img = fs.join("ext.img");
    make_image(&img, 32 * MIB, true);
    let (lo, sys, err) = mount_and_look(&tmp, &img, &[]);
    assert_eq!((lo.as_str(), sys.as_str()), ("0", "0"), "stderr: {err}");
    assert!(err.contains("falling back to buffered I/O"), "{err}");
}

#[test]
fn dry_run_shows_the_flag_and_block_size() {
    let tmp = TempDir::new("dio-n");
    let img = tmp.join("ext.img");
    make_image(&img, MIB, true);
    let dir = tmp.dir("mnt");
    let out = run(&bin(), args!["-N", "-X", "-P", "-F", img, "md", dir]);
    ok(&out);
    let plan = text(&out.stdout) + &text(&out.stderr);
    if has_direct_io(tmp.path()) {
        assert!(plan.contains("flags=AUTOCLEAR|DIRECT_IO,") && plan.contains(", block_size="), "{plan}");
    } else {
        assert!(plan.contains("LOOP_CONFIGURE"), "{plan}");
    }
    let out = run(&bin(), args!["-N", "-X", "--no-direct-io", "-P", "-F", img, "md", dir]);
    ok(&out);
    let plan = text(&out.stdout) + &text(&out.stderr);
    assert!(plan.contains("flags=AUTOCLEAR,") && !plan.contains("block_size="), "{plan}");
}
