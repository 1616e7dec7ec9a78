//! `-P -k` on its second boot, for real (issue 23): the skeleton copy
//! merges into what the image already holds, as `pax -rw` does (existing
//! directories entered, existing files replaced, a symlink in the mounted
//! tree replaced rather than followed, `lost+found` and the tenant's own
//! files left alone), and a copy that kill -9 cut short is finished by the
//! next run instead of being taken as "already mounted".
use crate::support::*;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn mdmfs(args: &[&std::ffi::OsStr]) -> std::process::Output {
    run(&bin(), args)
}

/// Every entry below `dir` (relative paths, sorted) with what it holds:
/// a file's bytes, a symlink's target, `dir` for a directory.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        let mut names: Vec<_> = fs::read_dir(dir.join(&rel)).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        for n in names {
            let r = rel.join(&n);
            let p = dir.join(&r);
            let m = fs::symlink_metadata(&p).unwrap();
            if m.file_type().is_symlink() {
                out.push((r, fs::read_link(&p).unwrap().into_os_string().into_encoded_bytes()));
            } else if m.is_dir() {
                out.push((r.clone(), b"dir".to_vec()));
                todo.push(r);
            } else {
                out.push((r, fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// `e2fsck -fn`: the file system is consistent.
fn assert_fsck_clean(image: &Path) {
    let out = Command::new("e2fsck").args(["-f", "-n"]).arg(image).output().expect("e2fsck");
    assert!(out.status.success(), "e2fsck -fn: {}{}", text(&out.stdout), text(&out.stderr));
}

#[test]
fn a_p_k_line_mounts_again_with_the_skeleton_changed() {
    require_loop!();
    let tmp = TempDir::new("skel-again");
    let img = tmp.join("j.img");
    let mnt = tmp.dir("mnt");
    let skel = tmp.dir("skel");
    let outside = tmp.dir("outside");
    fs::write(outside.join("secret"), b"host\n").unwrap();
    make_image(&img, 32 * MIB, true);
    // A copy of an ext4 root holds lost+found; the image's own has it too.
    fs::create_dir(skel.join("lost+found")).unwrap();
    fs::create_dir_all(skel.join("etc")).unwrap();
    fs::create_dir_all(skel.join("var/log")).unwrap();
    fs::write(skel.join("etc/rc.conf"), b"one\n").unwrap();
    fs::write(skel.join("etc/hosts"), b"hosts\n").unwrap();
    fs::write(skel.join("var/log/messages"), b"").unwrap();
    let line = args!["-P", "-k", skel, "-F", img, "md", mnt];

    let mut loops = LoopGuard::default();
    let out = mdmfs(line);
    ok(&out);
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    assert_eq!(fs::read(mnt.join("etc/rc.conf")).unwrap(), b"one\n");
    // The tenant's own files, and a tenant's traps: a skeleton file and a
    // skeleton directory made symlinks to the host.
    fs::write(mnt.join("lost+found/kept"), b"fsck found this\n").unwrap();
    fs::write(mnt.join("etc/tenant.conf"), b"mine\n").unwrap();
    fs::remove_file(mnt.join("etc/hosts")).unwrap();
    symlink(outside.join("secret"), mnt.join("etc/hosts")).unwrap();
    fs::remove_dir_all(mnt.join("var/log")).unwrap();
    symlink(&outside, mnt.join("var/log")).unwrap();
    ok(&mdmfs(args!["-u", mnt]));
    drop(guard);
    assert_nothing_left(&tmp);

    // The skeleton changes between boots.
    fs::write(skel.join("etc/rc.conf"), b"two\n").unwrap();
    fs::set_permissions(skel.join("etc/rc.conf"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(skel.join("etc/new"), b"new\n").unwrap();
    fs::create_dir(skel.join("home")).unwrap();
    fs::write(skel.join("home/readme"), b"hi\n").unwrap();

    let out = mdmfs(line);
    ok(&out);
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    assert_eq!(fs::read(mnt.join("etc/rc.conf")).unwrap(), b"two\n", "replaced");
    assert_eq!(fs::metadata(mnt.join("etc/rc.conf")).unwrap().mode() & 0o7777, 0o600);
    assert_eq!(fs::read(mnt.join("etc/new")).unwrap(), b"new\n", "added");
    assert_eq!(fs::read(mnt.join("home/readme")).unwrap(), b"hi\n", "added");
    assert_eq!(fs::read(mnt.join("etc/tenant.conf")).unwrap(), b"mine\n", "the tenant's file is left alone");
    assert_eq!(fs::read(mnt.join("lost+found/kept")).unwrap(), b"fsck found this\n", "lost+found kept");
    // The symlinks were replaced, not followed.
    assert!(fs::symlink_metadata(mnt.join("etc/hosts")).unwrap().is_file());
    assert_eq!(fs::read(mnt.join("etc/hosts")).unwrap(), b"hosts\n");
    assert!(fs::symlink_metadata(mnt.join("var/log")).unwrap().is_dir());
    assert_eq!(fs::read(mnt.join("var/log/messages")).unwrap(), b"");
    assert_eq!(fs::read(outside.join("secret")).unwrap(), b"host\n", "the host file is untouched");
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 1, "nothing written through the symlink");
    ok(&mdmfs(args!["-u", mnt]));
    drop(guard);
    assert_nothing_left(&tmp);
    assert_fsck_clean(&img);
}

/// One run of `line`, killed with SIGKILL `after` its start (or left to
/// finish if it does so first); whether it was killed.
pub fn run_killed(line: &[&std::ffi::OsStr], after: Duration) -> bool {
    let mut child = Command::new(bin())
        .args(line)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < after {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    true
}

/// A small xorshift: the kill points, reproducible from the printed seed.
pub fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// kill -9 at random points of `-P -k` runs; after each, the same line
/// run again succeeds and leaves the whole skeleton in place, the file
/// system checks clean once released.
pub fn killed_skeleton_copies(runs: u32) {
    let tmp = TempDir::new("skel-kill");
    let img = tmp.join("j.img");
    let mnt = tmp.dir("mnt");
    let skel = tmp.dir("skel");
    make_image(&img, 64 * MIB, true);
    for d in 0..20 {
        let dir = skel.join(format!("d{d:02}"));
        fs::create_dir(&dir).unwrap();
        for f in 0..100 {
            fs::write(dir.join(format!("f{f:03}")), format!("{d}/{f}\n").repeat(40)).unwrap();
        }
    }
    let want = tree(&skel);
    let line = args!["-P", "-k", skel, "-F", img, "md", mnt];
    // How long a whole run takes, to kill within it.
    let start = Instant::now();
    ok(&mdmfs(line));
    let whole = start.elapsed().max(Duration::from_millis(20));
    let mut loops = LoopGuard::default();
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    ok(&mdmfs(args!["-u", mnt]));
    drop(guard);
    let mut seed = u64::from(std::process::id()) | 1 << 40;
    eprintln!("seed {seed}, a whole run {whole:?}");
    for i in 0..runs {
        // Fresh: the skeleton's files are gone before each run.
        ok(&mdmfs(args!["-P", "-F", img, "md", mnt]));
        let (guard, m) = mounted(&mnt, &img, &mut loops);
        for d in 0..20 {
            fs::remove_dir_all(mnt.join(format!("d{d:02}"))).unwrap();
        }
        ok(&mdmfs(args!["-u", mnt]));
        drop(guard);
        let _ = m;
        let at = Duration::from_micros(next(&mut seed) % (whole.as_micros() as u64 * 12 / 10));
        let killed = run_killed(line, at);
        let out = mdmfs(line);
        assert!(out.status.success(), "run {i} (killed {killed} at {at:?}): rerun: {}", text(&out.stderr));
        let (guard, _) = mounted(&mnt, &img, &mut loops);
        let got: Vec<_> = tree(&mnt).into_iter().filter(|(p, _)| !p.starts_with("lost+found")).collect();
        assert!(
            got == want,
            "run {i} (killed {killed} at {at:?}): {} of {} entries after the rerun",
            got.len(),
            want.len()
        );
        ok(&mdmfs(args!["-u", mnt]));
        drop(guard);
        assert_nothing_left(&tmp);
        assert_fsck_clean(&img);
    }
}

#[test]
fn a_skeleton_copy_killed_is_finished_by_the_next_run() {
    require_loop!();
    killed_skeleton_copies(6);
}

/// `dumpe2fs -h`'s "Mount count:".
fn mount_count(image: &Path) -> String {
    let out = Command::new("dumpe2fs").arg("-h").arg(image).output().expect("dumpe2fs");
    text(&out.stdout).lines().find_map(|l| l.strip_prefix("Mount count:").map(|v| v.trim().to_string())).unwrap()
}

/// A skeleton that contains the mount point is refused before anything is
/// attached or mounted (the image's superblock is not touched), `-N` alike.
#[test]
fn a_skeleton_containing_the_mount_point_is_refused_first() {
    require_loop!();
    let tmp = TempDir::new("skel-contains");
    let image = tmp.join("img");
    let skel = tmp.dir("skel");
    let dir = tmp.dir("skel/jail/mnt");
    make_image(&image, 32 * MIB, true);
    let count = mount_count(&image);
    for dry in [true, false] {
        let mut a: Vec<&std::ffi::OsStr> = args!["-P", "-k", skel, "-F", image, "md", dir].to_vec();
        if dry {
            a.insert(0, "-N".as_ref());
        }
        let out = run(&bin(), &a);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert_eq!(
            text(&out.stderr),
            format!(
                "mount_md: -k {}: the skeleton contains the mount point; refusing to copy it into itself\n",
                skel.display()
            )
        );
        assert_eq!(mount_count(&image), count, "the image was mounted");
    }
    assert_nothing_left(&tmp);
}
