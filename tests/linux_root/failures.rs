//! Failures leave nothing behind: one clear line, a non-zero exit (1 for
//! mount_md, 32 for mount.md), and no loop device bound to the test's files.
//! The bad inputs a scratch directory is enough for are rows of
//! doc/bad-inputs.md (bad_inputs.rs runs every row); these need more: an
//! image of a given content or size, a unit in use, a real mkfs failure.
use crate::support::*;
use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

/// Runs a command that must fail; returns its single stderr line.
fn fails(program: &Path, args: &[&OsStr], tmp: &TempDir, status: i32) -> String {
    let out = run(program, args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(status), "stderr: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {err}");
    assert_eq!(wait_no_loops(tmp.path(), Duration::from_secs(10)), Vec::<String>::new(), "loop device left");
    assert!(!mount_points().iter().any(|m| m.starts_with(tmp.path())), "mount left");
    lines[0].to_string()
}

#[test]
fn image_is_a_directory() {
    require_loop!();
    let tmp = TempDir::new("isdir");
    let mnt = tmp.dir("mnt");
    let img = tmp.dir("dir.img");
    let line = fails(&bin(), args!["-F", img, "md", mnt], &tmp, 1);
    assert_eq!(line, format!("mount_md: {}: Is a directory", img.display()));
    let line = fails(&bin(), args!["-o", "ro", "-P", "-F", img, "md", mnt], &tmp, 1);
    assert_eq!(line, format!("mount_md: {}: Is a directory", img.display()));
}

#[test]
fn mount_point_missing_or_not_a_directory() {
    require_loop!();
    let tmp = TempDir::new("mntpt");
    let img = tmp.join("a.img");
    make_image(&img, 16 * MIB, true);
    let missing = tmp.join("nowhere");
    let line = fails(&bin(), args!["-P", "-F", img, "md", missing], &tmp, 1);
    assert_eq!(line, format!("mount_md: {}: No such file or directory", missing.display()));
    let file = tmp.join("file");
    std::fs::write(&file, b"").unwrap();
    let line = fails(&bin(), args!["-F", img, "md", file], &tmp, 1);
    assert_eq!(line, format!("mount_md: {}: Not a directory", file.display()));
    // The image was not formatted on the way to that failure.
    let out = run(&bin(), args!["-N", "-P", "-F", img, "md", tmp.dir("m")]);
    assert!(out.status.success());
}

#[test]
fn garbage_image_with_p() {
    require_loop!();
    let tmp = TempDir::new("garbage");
    let mnt = tmp.dir("mnt");
    let img = tmp.join("garbage.img");
    let noise: Vec<u8> = (0..4 * MIB as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    std::fs::write(&img, noise).unwrap();
    let line = fails(&bin(), args!["-P", "-F", img, "md", mnt], &tmp, 1);
    assert_eq!(line, format!("mount_md: {}: no recognised file system (use -T to name one)", img.display()));
    // Naming a type gets the mount(2) error instead, still rolled back.
    let line =
        fails(&flavor(&tmp, "mount.md"), args!["md", mnt, "-o", format!("-P,-Text4,-F{}", img.display())], &tmp, 32);
    assert!(line.starts_with("mount.md: /dev/loop") && line.contains("not a valid ext4 file system"), "{line}");
}

#[test]
fn mkfs_failure() {
    require_loop!();
    let tmp = TempDir::new("mkfs");
    let mnt = tmp.dir("mnt");
    let img = tmp.join("a.img");
    make_image(&img, 16 * MIB, false);
    let line = fails(&bin(), args!["-b", "999", "-F", img, "md", mnt], &tmp, 1);
    assert_eq!(line, format!("mount_md: mkfs.ext4 on {}: invalid block size - 999", img.display()));
    // Too small for ext4 at all: refused before anything is attached.
    let tiny = tmp.join("tiny.img");
    make_image(&tiny, 4096, false);
    let line = fails(&bin(), args!["-F", tiny, "md", mnt], &tmp, 1);
    assert_eq!(line, "mount_md: a disk of 4096 bytes is too small for ext4 (at least 102400 bytes)");
}

/// An image of exactly the preflight's ext4 floor (100 KiB): mke2fs fails
/// and explains itself over several lines; every one is shown, and the
/// first ("Filesystem too small for a journal") is the one that explains.
#[test]
fn mkfs_failure_shows_every_line() {
    require_loop!();
    let tmp = TempDir::new("mkfs-lines");
    let mnt = tmp.dir("mnt");
    let img = tmp.join("small.img");
    make_image(&img, 102400, false);
    let out = run(&bin(), args!["-F", img, "md", mnt]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines[0], format!("mount_md: mkfs.ext4 on {}: exited with error code 1:", img.display()));
    assert!(lines.len() > 2, "{err}");
    assert!(lines[1].starts_with("    Filesystem too small for a journal"), "{err}");
    assert!(lines[1..].iter().all(|l| l.starts_with("    ")), "{err}");
    assert_nothing_left(&tmp);
}

#[test]
fn refusals_before_anything_runs() {
    require_loop!();
    let tmp = TempDir::new("refuse");
    let mnt = tmp.dir("mnt");
    let img = tmp.join("a.img");
    make_image(&img, 16 * MIB, false);
    let line = fails(&bin(), args!["-O", "2", "-F", img, "md", mnt], &tmp, 1);
    assert_eq!(line, "mount_md: option -O has no meaning for ext4 on Linux (drop it)");
    let line = fails(&bin(), args!["-F", img, "md.uzip", mnt], &tmp, 1);
    assert!(line.contains("suffix .uzip"), "{line}");
    let line = fails(&bin(), args!["md", mnt], &tmp, 1);
    assert!(line.contains("need a size"), "{line}");
    // Untouched: still blank (no mkfs ran).
    assert!(std::fs::read(&img).unwrap().iter().all(|b| *b == 0));
}

#[test]
fn busy_fixed_unit_is_not_stolen() {
    // A named unit: no other test of this harness may take that number
    // between the pre-detach and the attach.
    require_loop!(alone);
    let tmp = TempDir::new("fixed");
    let a = tmp.join("a.img");
    let b = tmp.join("b.img");
    make_image(&a, 16 * MIB, true);
    make_image(&b, 16 * MIB, true);
    let ma = tmp.dir("ma");
    let mb = tmp.dir("mb");
    let mut loops = LoopGuard::default();
    ok(&run(&bin(), args!["-P", "-F", a, "md", ma]));
    let (_ga, m) = mounted(&ma, &a, &mut loops);
    let unit = m.source.trim_start_matches("/dev/loop").to_string();
    // Asking for that very unit: the pre-detach leaves a mounted device
    // alone, and the attach says it is taken.
    let out = run(&bin(), args!["-P", "-F", b, format!("md{unit}"), mb]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim(),
        format!("mount_md: /dev/loop{unit}: already attached to another file: Device or resource busy")
    );
    assert_eq!(backing_file(&format!("loop{unit}")).as_deref(), Some(a.as_path()), "still a's");
    assert!(mount_at(&ma).is_some());
    assert!(mount_at(&mb).is_none());
}

#[test]
fn fixed_unit_left_bound_is_pre_detached() {
    // A named unit: no other test of this harness may take that number
    // between the pre-detach and the attach.
    require_loop!(alone);
    let tmp = TempDir::new("predetach");
    let old = tmp.join("old.img");
    let new = tmp.join("new.img");
    make_image(&old, 16 * MIB, true);
    make_image(&new, 16 * MIB, true);
    let mnt = tmp.dir("mnt");
    let mut loops = LoopGuard::default();
    // A device left bound (not mounted, not open) by another tool: not
    // mount_md's, so the pre-detach leaves it and the attach is refused.
    // (The core's tests cover the pre-detach of a unit of ours.)
    let out = std::process::Command::new("losetup").args(["-f", "--show"]).arg(&old).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dev = text(&out.stdout).trim().to_string();
    loops.record(&dev, &old);
    let unit = dev.trim_start_matches("/dev/loop").to_string();
    let out = run(&bin(), args!["-X", "-P", "-F", new, format!("md{unit}"), mnt]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("{dev} was not attached by mount_md; left alone")), "{err}");
    assert_eq!(backing_file(dev.trim_start_matches("/dev/")).as_deref(), Some(old.as_path()));
    assert!(mount_at(&mnt).is_none());
    // With -D there is no pre-detach; the image is another tool's: refused.
    let other = tmp.dir("other");
    let out = run(&bin(), args!["-D", "-P", "-F", old, format!("md{unit}"), other]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not attached by mount_md"), "{}", text(&out.stderr));
}

#[test]
fn second_attach_of_a_mounted_image_is_refused() {
    require_loop!();
    let tmp = TempDir::new("twice");
    let img = tmp.join("a.img");
    make_image(&img, 16 * MIB, true);
    let first = tmp.dir("first");
    let second = tmp.dir("second");
    let mut loops = LoopGuard::default();
    ok(&run(&bin(), args!["-P", "-F", img, "md", first]));
    let (_g, m) = mounted(&first, &img, &mut loops);
    // Mounting it again where it is mounted (a second `mount -a`): done
    // already, exit 0, nothing new attached or mounted.
    // Only the test's own mounts: other mounts on the host may come and go.
    let ours = || -> Vec<(std::path::PathBuf, String)> {
        mounts()
            .into_iter()
            .filter(|m| m.mount_point.starts_with(tmp.path()))
            .map(|m| (m.mount_point, m.source))
            .collect()
    };
    let before = ours();
    let out = run(&flavor(&tmp, "mount.md"), args!["md", first, "-v", "-o", format!("rw,-P,-F{}", img.display())]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("already mounted"), "{}", text(&out.stderr));
    assert_eq!(ours(), before);
    // Elsewhere: refused, nothing new attached.
    let out = run(&flavor(&tmp, "mount.md"), args!["md", second, "-o", format!("rw,-P,-F{}", img.display())]);
    assert_eq!(out.status.code(), Some(32));
    let err = text(&out.stderr);
    assert_eq!(
        err.trim(),
        format!(
            "mount.md: {}: already attached as {1}, and in use (mount_md --list shows it; mount_md -u {1} releases it)",
            img.display(),
            m.source
        )
    );
    assert_eq!(loops_backed_by(&img), vec![m.source.trim_start_matches("/dev/").to_string()]);
    assert!(mount_at(&second).is_none());
    // Read-only next to read-write is refused too.
    let out = run(&bin(), args!["-P", "-o", "ro", "-F", img, "md", second]);
    assert_eq!(out.status.code(), Some(1));
}
