//! Small boot-safety points of issue 23, for real: a bare `-s` number
//! with `--create` or `-r` is said once in bytes (it counts 512-byte
//! sectors, as in mdmfs); the smallest xfs is what the installed mkfs.xfs
//! accepts; a stop signal during a lock wait ends the wait at once.
use crate::support::*;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn mdmfs(args: &[&std::ffi::OsStr]) -> std::process::Output {
    run(&bin(), args)
}

#[test]
fn a_bare_size_is_said_once_in_bytes() {
    require_loop!();
    let tmp = TempDir::new("bare-size");
    let img = tmp.join("j.img");
    let mnt = tmp.dir("mnt");
    let mut loops = LoopGuard::default();
    let out = mdmfs(args!["-X", "--create", "-s", "65536", "-F", img, "md", mnt]);
    ok(&out);
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    let note = "mount_md: -s 65536 counts 512-byte sectors: 33554432 bytes (32 MiB)\n";
    assert_eq!(text(&out.stderr).matches(note).count(), 1, "{}", text(&out.stderr));
    assert_eq!(std::fs::metadata(&img).unwrap().len(), 32 * MIB);
    ok(&mdmfs(args!["-u", mnt]));
    drop(guard);
    assert_nothing_left(&tmp);
    // -r says it too, -N or not; a suffix needs no word.
    let out = mdmfs(args!["-N", "-r", "-s", "131072", img]);
    ok(&out);
    assert_eq!(text(&out.stderr), "mount_md: -s 131072 counts 512-byte sectors: 67108864 bytes (64 MiB)\n");
    let out = mdmfs(args!["-N", "-r", "-s", "64m", img]);
    ok(&out);
    assert_eq!(text(&out.stderr), "");
    // A plain mount's -s is mdmfs's, and says nothing.
    let out = mdmfs(args!["-N", "-P", "-s", "65536", "-F", img, "md", mnt]);
    ok(&out);
    assert_eq!(text(&out.stderr), "");
}

/// `mkfs.xfs -V`'s version, as (major, minor).
fn xfsprogs_version() -> Option<(u32, u32)> {
    let out = Command::new("mkfs.xfs").arg("-V").output().ok()?;
    let t = text(&out.stdout);
    let v = t.split_whitespace().last()?;
    let mut it = v.split('.').map(|n| n.parse::<u32>().ok());
    Some((it.next()??, it.next()??))
}

#[test]
fn the_smallest_xfs_is_what_mkfs_xfs_accepts() {
    require_loop!();
    require_tools!("mkfs.xfs");
    let version = xfsprogs_version().expect("mkfs.xfs -V names its version");
    let tmp = TempDir::new("xfs-min");
    let img = tmp.join("x.img");
    let mnt = tmp.dir("mnt");
    let min: u64 = if version >= (5, 19) { 300 * MIB } else { 16 * MIB };
    let small = min - MIB;
    // Refused before anything is attached, -N alike.
    for dry in [true, false] {
        let size = format!("{small}b");
        let mut a: Vec<&std::ffi::OsStr> = args!["-T", "xfs", "--create", "-s", size, "-F", img, "md", mnt].to_vec();
        if dry {
            a.insert(0, "-N".as_ref());
        }
        let out = mdmfs(&a);
        assert!(!out.status.success());
        assert_eq!(
            text(&out.stderr),
            format!("mount_md: a disk of {small} bytes is too small for xfs (at least {min} bytes)\n")
        );
        assert!(!img.exists());
    }
    // The smallest it accepts is made.
    let mut loops = LoopGuard::default();
    let out = mdmfs(args!["-T", "xfs", "--create", "-s", format!("{min}b"), "-F", img, "md", mnt]);
    ok(&out);
    let (guard, m) = mounted(&mnt, &img, &mut loops);
    assert_eq!(m.fstype, "xfs");
    ok(&mdmfs(args!["-u", mnt]));
    drop(guard);
    assert_nothing_left(&tmp);
}

/// Holds an exclusive flock on `path` until dropped.
fn hold_lock(path: &Path) -> nix::fcntl::Flock<std::fs::File> {
    let f = std::fs::File::open(path).unwrap();
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| e).unwrap()
}

#[test]
fn a_stop_signal_ends_a_lock_wait_at_once() {
    require_loop!();
    let tmp = TempDir::new("lock-stop");
    let img = tmp.join("j.img");
    let mnt = tmp.dir("mnt");
    make_image(&img, 32 * MIB, true);
    let lock = hold_lock(&lock_of(&img));
    let mut child = Command::new(bin())
        .args(["-P", "-F"])
        .arg(&img)
        .arg("md")
        .arg(&mnt)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = child.stderr.take().unwrap();
    // The wait is announced at once; then SIGTERM.
    let mut said = Vec::new();
    let mut buf = [0u8; 256];
    while !text(&said).contains("waiting up to") {
        let n = err.read(&mut buf).unwrap();
        assert!(n > 0, "no wait announced: {}", text(&said));
        said.extend_from_slice(&buf[..n]);
    }
    let sent = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        // The lock is still held: only the signal can end the wait.
        assert!(sent.elapsed() < Duration::from_secs(8), "SIGTERM did not end the wait");
        std::thread::sleep(Duration::from_millis(10));
    };
    err.read_to_end(&mut said).unwrap();
    drop(lock);
    assert!(!status.success());
    let said = text(&said);
    let last = said.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        format!("mount_md: {}: SIGTERM while waiting for its lock; nothing changed", img.display()),
        "{said}"
    );
    assert!(mount_at(&mnt).is_none());
    assert_nothing_left(&tmp);
}
