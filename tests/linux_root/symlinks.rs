//! Symlinks in the image path (`-F`) and the mount point path, on real
//! loop devices, as root: followed only when nobody but root or the caller
//! can change them (owned by root or the caller, in a directory owned by
//! root or the caller that is not group- or world-writable unless sticky),
//! through chains, at most 32 of them; everything else refused with
//! nothing left mounted or attached.
use crate::support::*;
use std::ffi::OsStr;
use std::os::unix::fs::{lchown, symlink, PermissionsExt};
use std::path::{Path, PathBuf};

const ELOOP: &str = "Too many levels of symbolic links";

/// A scratch directory owned by root (the caller), mode 0755, holding a
/// formatted image `real/a.img` and a mount point `real/m`.
struct Scene {
    tmp: TempDir,
    img: PathBuf,
    mnt: PathBuf,
}

fn scene(tag: &str) -> Scene {
    let tmp = TempDir::new(tag);
    set_mode(tmp.path(), 0o755);
    let real = tmp.dir("real");
    let img = real.join("a.img");
    make_image(&img, 16 * MIB, true);
    let mnt = tmp.dir("real/m");
    Scene { tmp, img, mnt }
}

fn set_mode(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Mounts `-P -F image md mount_point`, which must work and put the real
/// image on the real mount point; then unmounts it and checks nothing is
/// left.
fn mounts(s: &Scene, image: &Path, mount_point: &Path) {
    let mut loops = LoopGuard::default();
    ok(&run(&bin(), args!["-P", "-F", image, "md", mount_point]));
    let (guard, _) = mounted(&s.mnt, &s.img, &mut loops);
    unmount_and_check_no_leak(guard, &s.tmp);
}

/// Runs a command that must fail with exit 1 and exactly one stderr line,
/// leaving nothing of the test's mounted or attached.
fn fails(args: &[&OsStr], s: &Scene) -> String {
    let out = run(&bin(), args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {err}");
    assert_nothing_left(&s.tmp);
    assert!(mount_at(&s.mnt).is_none(), "nothing mounted on the real mount point");
    lines[0].to_string()
}

#[test]
fn a_root_owned_symlink_in_a_root_owned_0755_directory_is_followed() {
    require_loop!();
    let s = scene("sym-follow");
    // A directory of the image path, and the image itself (relative and
    // absolute targets).
    symlink("real", s.tmp.join("dirlink")).unwrap();
    symlink(&s.img, s.tmp.join("a-link.img")).unwrap();
    mounts(&s, &s.tmp.join("dirlink/a.img"), &s.mnt);
    mounts(&s, &s.tmp.join("a-link.img"), &s.mnt);
    // The mount point itself, and a directory of its path.
    symlink("real/m", s.tmp.join("mlink")).unwrap();
    mounts(&s, &s.img, &s.tmp.join("mlink"));
    mounts(&s, &s.img, &s.tmp.join("dirlink/m"));
    // Both at once, the mount point with a trailing slash.
    mounts(&s, &s.tmp.join("dirlink/a.img"), &s.tmp.join("mlink/"));
    // A sticky world-writable directory (as /tmp): only root, the link's
    // owner and the directory's owner may replace the link, so it is
    // followed.
    let shared = s.tmp.dir("shared");
    symlink(&s.img, shared.join("a.img")).unwrap();
    symlink(&s.mnt, shared.join("m")).unwrap();
    set_mode(&shared, 0o1777);
    mounts(&s, &shared.join("a.img"), &shared.join("m"));
    // -N checks the same walk and changes nothing.
    ok(&run(&bin(), args!["-N", "-P", "-F", s.tmp.join("dirlink/a.img"), "md", s.tmp.join("mlink")]));
    assert!(mount_at(&s.mnt).is_none());
}

#[test]
fn create_through_a_safe_dangling_symlink_makes_its_target() {
    require_loop!();
    let s = scene("sym-create");
    let target = s.tmp.join("real/new.img");
    symlink("real/new.img", s.tmp.join("new-link.img")).unwrap();
    let mut loops = LoopGuard::default();
    ok(&run(&bin(), args!["--create", "-s", "16m", "-F", s.tmp.join("new-link.img"), "md", s.mnt]));
    let (guard, _) = mounted(&s.mnt, &target, &mut loops);
    unmount_and_check_no_leak(guard, &s.tmp);
    assert!(std::fs::symlink_metadata(s.tmp.join("new-link.img")).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::metadata(&target).unwrap().len(), 16 * MIB);
    assert!(std::fs::symlink_metadata(s.tmp.join("real/.new.img.mount_md-new")).is_err(), "temporary renamed");
}

#[test]
fn a_symlink_owned_by_another_user_is_refused() {
    require_loop!();
    let s = scene("sym-other");
    for (name, target) in [("dirlink", s.tmp.join("real")), ("a-link.img", s.img.clone()), ("mlink", s.mnt.clone())] {
        let link = s.tmp.join(name);
        symlink(&target, &link).unwrap();
        lchown(&link, Some(65534), Some(65534)).unwrap();
    }
    let refused =
        |p: &str| format!("mount_md: {} is a symbolic link owned by uid 65534, not followed", s.tmp.join(p).display());
    let line = fails(args!["-P", "-F", s.tmp.join("dirlink/a.img"), "md", s.mnt], &s);
    assert_eq!(line, refused("dirlink"));
    let line = fails(args!["-P", "-F", s.tmp.join("a-link.img"), "md", s.mnt], &s);
    assert_eq!(line, refused("a-link.img"));
    let line = fails(args!["-P", "-F", s.img, "md", s.tmp.join("mlink")], &s);
    assert_eq!(line, refused("mlink"));
    let line = fails(args!["-P", "-F", s.img, "md", s.tmp.join("dirlink/m")], &s);
    assert_eq!(line, refused("dirlink"));
    // Formatting is refused before anything is written.
    let before = std::fs::read(&s.img).unwrap();
    let line = fails(args!["--reformat", "-F", s.tmp.join("a-link.img"), "md", s.mnt], &s);
    assert_eq!(line, refused("a-link.img"));
    assert!(std::fs::read(&s.img).unwrap() == before, "the image was not touched");
    // Even in a sticky directory (where its owner could replace it).
    let shared = s.tmp.dir("shared");
    set_mode(&shared, 0o1777);
    symlink(&s.img, shared.join("a.img")).unwrap();
    lchown(shared.join("a.img"), Some(65534), Some(65534)).unwrap();
    let line = fails(args!["-P", "-F", shared.join("a.img"), "md", s.mnt], &s);
    assert_eq!(
        line,
        format!("mount_md: {} is a symbolic link owned by uid 65534, not followed", shared.join("a.img").display())
    );
}

#[test]
fn a_root_owned_symlink_in_a_shared_or_foreign_directory_is_refused() {
    require_loop!();
    let s = scene("sym-dir");
    let shared = s.tmp.dir("shared");
    symlink(&s.img, shared.join("a.img")).unwrap();
    symlink(&s.mnt, shared.join("m")).unwrap();
    symlink(s.tmp.join("real"), shared.join("dirlink")).unwrap();
    let shown = |p: &str| shared.join(p).display().to_string();
    for (mode, how) in
        [(0o775, "group-writable"), (0o770, "group-writable"), (0o777, "world-writable"), (0o757, "world-writable")]
    {
        set_mode(&shared, mode);
        let why = format!("is a symbolic link in a {how} directory, not followed");
        let line = fails(args!["-P", "-F", shared.join("a.img"), "md", s.mnt], &s);
        assert_eq!(line, format!("mount_md: {} {why}", shown("a.img")), "mode {mode:o}");
        let line = fails(args!["-P", "-F", shared.join("dirlink/a.img"), "md", s.mnt], &s);
        assert_eq!(line, format!("mount_md: {} {why}", shown("dirlink")), "mode {mode:o}");
        let line = fails(args!["-P", "-F", s.img, "md", shared.join("m")], &s);
        assert_eq!(line, format!("mount_md: {} {why}", shown("m")), "mode {mode:o}");
    }
    // A 0755 directory another user owns: its owner could chmod it.
    set_mode(&shared, 0o755);
    nix::unistd::chown(&shared, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    let why = "is a symbolic link in a directory owned by uid 65534, not followed";
    let line = fails(args!["-P", "-F", shared.join("a.img"), "md", s.mnt], &s);
    assert_eq!(line, format!("mount_md: {} {why}", shown("a.img")));
    let line = fails(args!["-P", "-F", s.img, "md", shared.join("m")], &s);
    assert_eq!(line, format!("mount_md: {} {why}", shown("m")));
    // A real directory in it is walked as before: only links are judged.
    std::fs::create_dir(shared.join("sub")).unwrap();
    std::fs::rename(&s.img, shared.join("sub/a.img")).unwrap();
    let mut loops = LoopGuard::default();
    ok(&run(&bin(), args!["-P", "-F", shared.join("sub/a.img"), "md", s.mnt]));
    let (guard, _) = mounted(&s.mnt, &shared.join("sub/a.img"), &mut loops);
    unmount_and_check_no_leak(guard, &s.tmp);
}

#[test]
fn a_chain_of_symlinks_is_followed_link_by_link() {
    require_loop!();
    let s = scene("sym-chain");
    // c1 -> c2 (relative) -> /abs/.../c3 (absolute) -> hop/m, where hop is
    // itself a link -> real: a link inside a target is judged too.
    symlink("real", s.tmp.join("hop")).unwrap();
    symlink("hop/m", s.tmp.join("c3")).unwrap();
    symlink(s.tmp.join("c3"), s.tmp.join("c2")).unwrap();
    symlink("c2", s.tmp.join("c1")).unwrap();
    // The image through `..` after a link: hop/../real/a.img is real/a.img
    // (`..` of the directory the link led to, as the kernel walks it).
    symlink("hop/../real/a.img", s.tmp.join("i1")).unwrap();
    mounts(&s, &s.tmp.join("i1"), &s.tmp.join("c1"));
    // 32 links in a row are followed, the 33rd is ELOOP.
    let chain = s.tmp.dir("chain");
    symlink(&s.img, chain.join("l0")).unwrap();
    for i in 1..=32 {
        symlink(format!("l{}", i - 1), chain.join(format!("l{i}"))).unwrap();
    }
    mounts(&s, &chain.join("l31"), &s.mnt);
    let line = fails(args!["-P", "-F", chain.join("l32"), "md", s.mnt], &s);
    assert_eq!(line, format!("mount_md: {}: {ELOOP}", chain.join("l0").display()));
    // One unsafe link anywhere in the chain refuses it, named as walked.
    lchown(s.tmp.join("hop"), Some(65534), None).unwrap();
    let line = fails(args!["-P", "-F", s.img, "md", s.tmp.join("c1")], &s);
    assert_eq!(
        line,
        format!("mount_md: {} is a symbolic link owned by uid 65534, not followed", s.tmp.join("hop").display())
    );
}

#[test]
fn a_loop_of_symlinks_is_eloop() {
    require_loop!();
    let s = scene("sym-loop");
    symlink("loop-b", s.tmp.join("loop-a")).unwrap();
    symlink("loop-a", s.tmp.join("loop-b")).unwrap();
    symlink("self", s.tmp.join("self")).unwrap();
    let eloop = |p: &str| format!("mount_md: {}: {ELOOP}", s.tmp.join(p).display());
    // 33 links: loop-a, loop-b, … the 33rd is loop-a again.
    let line = fails(args!["-P", "-F", s.tmp.join("loop-a"), "md", s.mnt], &s);
    assert_eq!(line, eloop("loop-a"));
    let line = fails(args!["-P", "-F", s.tmp.join("self/a.img"), "md", s.mnt], &s);
    assert_eq!(line, eloop("self"));
    let line = fails(args!["-P", "-F", s.img, "md", s.tmp.join("loop-b")], &s);
    assert_eq!(line, eloop("loop-b"));
    let line = fails(args!["--create", "-s", "16m", "-F", s.tmp.join("loop-a"), "md", s.mnt], &s);
    assert_eq!(line, eloop("loop-a"));
    assert!(std::fs::symlink_metadata(s.tmp.join(".loop-a.mount_md-new")).is_err());
}
