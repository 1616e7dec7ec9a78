//! Opening, creating and locking the backing image (shared by both
//! platforms): only symlinks nobody else can change, no overwrite, reserved
//! or sparse, cleanup.
use crate::support::{skip, TempDir};
use mount_md::platform::posix::{holder_pid, open_dir_no_symlinks, open_image, temp_name, CreateMode};
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;

#[test]
fn create_sparse_and_reserved() {
    let t = TempDir::new("image-create");
    let sparse = t.0.join("sparse.img");
    let mut img = open_image(&sparse, Some((64 << 20, CreateMode::Sparse)), false).unwrap();
    assert!(img.created && img.writable);
    // Under its temporary name until it is published (formatted).
    assert!(fs::symlink_metadata(&sparse).is_err());
    let tmp = t.0.join(".sparse.img.mount_md-new");
    assert_eq!(img.current_path(), tmp);
    assert_eq!(fs::metadata(&tmp).unwrap().len(), 64 << 20);
    img.publish().unwrap();
    assert!(fs::symlink_metadata(&tmp).is_err(), "temporary renamed away");
    assert_eq!(img.current_path(), sparse);
    let m = fs::metadata(&sparse).unwrap();
    assert_eq!((m.len(), m.mode() & 0o7777), (64 << 20, 0o600));
    assert!(m.blocks() * 512 < 1 << 20, "sparse: {} blocks", m.blocks());

    let reserved = t.0.join("reserved.img");
    open_image(&reserved, Some((8 << 20, CreateMode::Reserve)), false).unwrap().publish().unwrap();
    let m = fs::metadata(&reserved).unwrap();
    assert_eq!(m.len(), 8 << 20);
    assert!(m.blocks() * 512 >= 8 << 20, "reserved: {} blocks", m.blocks());
}

#[test]
fn never_overwrites_an_existing_image() {
    let t = TempDir::new("image-keep");
    let p = t.0.join("a.img");
    fs::write(&p, b"precious").unwrap();
    let img = open_image(&p, Some((1 << 20, CreateMode::Reserve)), false).unwrap();
    assert!(!img.created);
    img.remove_created().unwrap();
    assert_eq!(fs::read(&p).unwrap(), b"precious");
}

#[test]
fn symlinks_followed_only_when_nobody_else_can_change_them() {
    let t = TempDir::new("image-links");
    let mode = |p: &Path, m: u32| fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
    mode(&t.0, 0o755);
    fs::create_dir(t.0.join("real")).unwrap();
    fs::write(t.0.join("real/a.img"), b"x").unwrap();
    let ino = fs::metadata(t.0.join("real/a.img")).unwrap().ino();
    // The caller's links in the caller's 0755 directory: followed, the
    // last component's too.
    symlink("real", t.0.join("dirlink")).unwrap();
    symlink("real/a.img", t.0.join("filelink")).unwrap();
    assert_eq!(open_image(&t.0.join("dirlink/a.img"), None, false).unwrap().stat.st_ino, ino);
    assert_eq!(open_image(&t.0.join("filelink"), None, false).unwrap().stat.st_ino, ino);
    // The strict walk still refuses every link.
    let e = open_dir_no_symlinks(&t.0.join("dirlink")).unwrap_err();
    assert_eq!(e.to_string(), format!("{} is a symbolic link", t.0.join("dirlink").display()));
    assert!(open_dir_no_symlinks(&t.0.join("real")).is_ok());
    assert!(open_dir_no_symlinks(Path::new("/")).is_ok());

    // In a directory anyone may write (no sticky bit): refused.
    let open = t.0.join("open");
    fs::create_dir(&open).unwrap();
    symlink("../real", open.join("dirlink")).unwrap();
    symlink("../real/a.img", open.join("filelink")).unwrap();
    symlink("/nonexistent-target", open.join("dangling")).unwrap();
    let refused = |p: &Path, how: &str| {
        let e = open_image(p, None, false).unwrap_err();
        let link = if p.ends_with("a.img") { p.parent().unwrap() } else { p };
        assert_eq!(e.to_string(), format!("{} is a symbolic link in a {how} directory, not followed", link.display()));
    };
    for (m, how) in [(0o777, "world-writable"), (0o775, "group-writable"), (0o757, "world-writable")] {
        mode(&open, m);
        refused(&open.join("dirlink/a.img"), how);
        refused(&open.join("filelink"), how);
        // --create does not follow a dangling link either
        let e = open_image(&open.join("dangling"), Some((1 << 20, CreateMode::Sparse)), false).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{} is a symbolic link in a {how} directory, not followed", open.join("dangling").display())
        );
        assert!(fs::symlink_metadata("/nonexistent-target").is_err());
    }
    // The sticky bit: only root, the link's owner and the directory's may
    // remove or replace it, so it is followed (as in /tmp).
    mode(&open, 0o1777);
    assert_eq!(open_image(&open.join("dirlink/a.img"), None, false).unwrap().stat.st_ino, ino);
    assert_eq!(open_image(&open.join("filelink"), None, false).unwrap().stat.st_ino, ino);
    mode(&open, 0o755);
}

#[test]
fn wrong_kinds_of_file() {
    let t = TempDir::new("image-kinds");
    let e = open_image(&t.0, None, false).unwrap_err();
    assert_eq!(e.to_string(), format!("{}: Is a directory", t.0.display()));
    let e = open_image(&t.0.join("missing.img"), None, false).unwrap_err();
    assert_eq!(e.to_string(), format!("{}: No such file or directory", t.0.join("missing.img").display()));
    let e = open_image(Path::new("/dev/null"), None, true).unwrap_err();
    assert_eq!(e.to_string(), "/dev/null is not a regular file");
}

#[cfg(target_os = "linux")]
#[test]
fn full_disk_removes_the_half_made_image() {
    if !nix::unistd::geteuid().is_root() {
        skip("mounting a small tmpfs needs root");
        return;
    }
    let t = TempDir::new("image-full");
    nix::mount::mount(Some("tmpfs"), &t.0, Some("tmpfs"), nix::mount::MsFlags::empty(), Some("size=1m")).unwrap();
    let _guard = crate::support::MountGuard(t.0.clone());
    let p = t.0.join("big.img");
    let e = open_image(&p, Some((16 << 20, CreateMode::Reserve)), false).unwrap_err();
    assert_eq!(e.to_string(), format!("{}: cannot create image: No space left on device", p.display()));
    assert!(fs::symlink_metadata(&p).is_err(), "half-made image removed");
    assert!(fs::symlink_metadata(t.0.join(".big.img.mount_md-new")).is_err(), "temporary removed");
}

/// A loop device keeps the bound descriptor's open file description: the
/// run's lock must not live on it, or the next run would wait forever.
#[test]
fn the_lock_ends_with_the_run_even_if_the_descriptor_lives_on() {
    let t = TempDir::new("image-lock");
    let p = t.0.join("a.img");
    fs::write(&p, vec![0u8; 4096]).unwrap();
    let img = open_image(&p, None, false).unwrap();
    let bound = img.fd.try_clone().unwrap(); // same description, like LOOP_CONFIGURE's reference
    drop(img);
    let (tx, rx) = std::sync::mpsc::channel();
    let p2 = p.clone();
    std::thread::spawn(move || {
        let _ = tx.send(open_image(&p2, None, false).map(|_| ()));
    });
    let got = rx.recv_timeout(std::time::Duration::from_secs(5)).expect("second open blocked on the lock");
    assert!(got.is_ok());
    drop(bound);
}

/// Two runs on one image take turns: the second waits for the first.
#[test]
fn concurrent_opens_take_turns() {
    let t = TempDir::new("image-turns");
    let p = t.0.join("a.img");
    fs::write(&p, vec![0u8; 4096]).unwrap();
    let first = open_image(&p, None, false).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let p2 = p.clone();
    std::thread::spawn(move || {
        let _ = tx.send(open_image(&p2, None, false).map(|_| ()));
    });
    assert!(rx.recv_timeout(std::time::Duration::from_millis(200)).is_err(), "second run must wait");
    drop(first);
    assert!(rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap().is_ok());
}

/// FreeBSD's fspath for nmount(2) (plain code, checked here on Linux):
/// the realpath of a mount point reached through symlinks only root or
/// the caller can change; any other link is refused.
#[test]
fn freebsd_fspath_follows_only_safe_symlinks() {
    use mount_md::platform::freebsd::resolve_mount_point;
    let t = TempDir::new("image-fspath");
    fs::set_permissions(&t.0, fs::Permissions::from_mode(0o755)).unwrap();
    fs::create_dir(t.0.join("jail")).unwrap();
    symlink(t.0.join("jail"), t.0.join("link")).unwrap();
    fs::create_dir(t.0.join("jail/usr")).unwrap();
    fs::write(t.0.join("file"), b"").unwrap();
    let real = fs::canonicalize(t.0.join("jail/usr")).unwrap();
    assert_eq!(resolve_mount_point(&t.0.join("jail/usr")).unwrap(), real);
    assert_eq!(resolve_mount_point(&t.0.join("link/usr")).unwrap(), real);
    assert_eq!(resolve_mount_point(&t.0.join("link")).unwrap(), fs::canonicalize(t.0.join("jail")).unwrap());
    let open = t.0.join("open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    symlink(t.0.join("jail"), open.join("link")).unwrap();
    let e = resolve_mount_point(&open.join("link/usr")).unwrap_err();
    let shown = open.join("link").display().to_string();
    assert_eq!(e.to_string(), format!("{shown} is a symbolic link in a world-writable directory, not followed"));
    let e = resolve_mount_point(&t.0.join("file")).unwrap_err();
    assert_eq!(e.to_string(), format!("{}: Not a directory", t.0.join("file").display()));
}

#[test]
fn temp_names() {
    use mount_md::platform::posix::published_name;
    assert_eq!(temp_name(std::ffi::OsStr::new("a.img")), ".a.img.mount_md-new");
    // And back, for a unit md(4) attached under the temporary name.
    let back = |p: &str| published_name(Path::new(p)).map(|p| p.display().to_string());
    assert_eq!(back("/images/.a.img.mount_md-new").as_deref(), Some("/images/a.img"));
    assert_eq!(back(".a.img.mount_md-new").as_deref(), Some("a.img"));
    for not_temp in ["/images/a.img", "/images/..mount_md-new", "/images/a.img.mount_md-new", "/"] {
        assert_eq!(back(not_temp), None, "{not_temp}");
    }
}

/// A temporary left by an interrupted `--create` (nobody holds its lock)
/// is removed, and the image is made afresh.
#[test]
fn a_leftover_temporary_is_removed() {
    let t = TempDir::new("image-leftover");
    let p = t.0.join("a.img");
    let tmp = t.0.join(".a.img.mount_md-new");
    fs::write(&tmp, b"half made").unwrap();
    let mut img = open_image(&p, Some((1 << 20, CreateMode::Sparse)), false).unwrap();
    assert!(img.created);
    assert_eq!(fs::metadata(&tmp).unwrap().len(), 1 << 20, "a fresh temporary");
    img.publish().unwrap();
    assert_eq!(fs::metadata(&p).unwrap().len(), 1 << 20);
    assert!(fs::symlink_metadata(&tmp).is_err());
    // With the image in place, a stray temporary (a crash between link
    // and unlink) is removed too, and the image is opened, not created.
    fs::hard_link(&p, &tmp).unwrap();
    drop(img);
    let img = open_image(&p, Some((1 << 20, CreateMode::Sparse)), false).unwrap();
    assert!(!img.created);
    assert!(fs::symlink_metadata(&tmp).is_err());
}

/// Publishing never replaces a file that appeared under the final name.
#[test]
fn publish_never_replaces() {
    let t = TempDir::new("image-noreplace");
    let p = t.0.join("a.img");
    let mut img = open_image(&p, Some((1 << 20, CreateMode::Sparse)), false).unwrap();
    fs::write(&p, b"someone else's").unwrap();
    let e = img.publish().unwrap_err();
    assert_eq!(e.to_string(), format!("{}: appeared while this run was creating it; left as it is", p.display()));
    assert_eq!(fs::read(&p).unwrap(), b"someone else's");
    img.remove_created().unwrap();
    assert!(fs::symlink_metadata(t.0.join(".a.img.mount_md-new")).is_err(), "rollback removes the temporary");
    assert_eq!(fs::read(&p).unwrap(), b"someone else's");
}

/// `-o ro --create` cannot make a new image (it must be formatted), and
/// says so before creating anything; an existing one opens read-only.
#[test]
fn read_only_create() {
    let t = TempDir::new("image-ro-create");
    let p = t.0.join("a.img");
    let e = open_image(&p, Some((1 << 20, CreateMode::Sparse)), true).unwrap_err();
    assert!(e.to_string().contains("cannot make it for a read-only mount (-o ro)"), "{e}");
    assert_eq!(fs::read_dir(&t.0).unwrap().count(), 0, "nothing created");
    fs::write(&p, b"x").unwrap();
    let img = open_image(&p, Some((1 << 20, CreateMode::Sparse)), true).unwrap();
    assert!(!img.created && !img.writable);
}

/// A FIFO where the image should be: refused at once, read-only or not
/// (a read-only open of a FIFO would wait for a writer forever).
#[test]
fn a_fifo_is_refused_without_blocking() {
    let t = TempDir::new("image-fifo");
    let p = t.0.join("fifo.img");
    nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    for read_only in [true, false] {
        let (tx, rx) = std::sync::mpsc::channel();
        let p2 = p.clone();
        std::thread::spawn(move || {
            let _ = tx.send(open_image(&p2, None, read_only).map(|_| ()).map_err(|e| e.to_string()));
        });
        let got = rx.recv_timeout(std::time::Duration::from_secs(5)).expect("open_image blocked on a FIFO");
        assert_eq!(got, Err(format!("{} is not a regular file", p.display())));
    }
}

/// A lock held elsewhere: a bounded wait (10 s), then a failure that names
/// the holder, with nothing changed.
#[test]
fn a_held_lock_is_waited_for_a_bounded_time() {
    let t = TempDir::new("image-held");
    let p = t.0.join("a.img");
    fs::write(&p, vec![0u8; 4096]).unwrap();
    let holder = fs::File::open(crate::support::lock_of(&p)).unwrap();
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&holder), libc::LOCK_EX) }, 0);
    let start = std::time::Instant::now();
    let e = open_image(&p, None, false).unwrap_err().to_string();
    let waited = start.elapsed();
    assert!(waited >= std::time::Duration::from_secs(10), "gave up after {waited:?}");
    assert!(e.starts_with(&format!("{}: still locked after 10 s", p.display())), "{e}");
    assert!(e.contains("giving up, nothing changed; run again once ") && e.ends_with(" is done"), "{e}");
    if cfg!(target_os = "linux") {
        assert!(e.contains(&format!("held by pid {}", std::process::id())), "{e}");
        assert!(e.ends_with("once that process is done"), "{e}");
    }
    assert_eq!(fs::read(&p).unwrap(), vec![0u8; 4096]);
}

#[test]
fn proc_locks_lines() {
    let table = b"1: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF\n\
                  1: -> FLOCK  ADVISORY  WRITE 4343 08:01:1234 0 EOF\n\
                  2: POSIX  ADVISORY  WRITE 77 08:01:99 0 EOF\n\
                  3: FLOCK  ADVISORY  WRITE 88 00:2d:99 0 EOF\n";
    assert_eq!(holder_pid(table, "08:01:1234"), Some(4242));
    assert_eq!(holder_pid(table, "00:2d:99"), Some(88));
    assert_eq!(holder_pid(table, "08:01:99"), None, "POSIX locks are not ours");
    assert_eq!(holder_pid(b"", "08:01:1"), None);
}

/// Helper output in messages: every line, trimmed, the program's own name
/// dropped, at most 40 (first and last 20, with a count between).
#[test]
fn helper_output_is_shown_in_full_but_bounded() {
    use mount_md::platform::posix::{helper_failed, output_lines, run_captured};
    assert_eq!(output_lines("mkfs.ext4: a\n\n  b  \n", "mkfs.ext4: "), ["a", "b"]);
    let many: String = (0..100).map(|i| format!("line {i}\n")).collect();
    let lines = output_lines(&many, "");
    assert_eq!(lines.len(), 41);
    assert_eq!((lines[0].as_str(), lines[19].as_str()), ("line 0", "line 19"));
    assert_eq!(lines[20], "… (60 lines left out)");
    assert_eq!(lines[40], "line 99");
    // A real program: its environment is empty but for PATH, and both of
    // its output streams are captured, in order.
    let done = run_captured(Path::new("/bin/sh"), &["-c".into(), "echo out; echo err >&2; env; exit 3".into()], false)
        .unwrap();
    assert_eq!(done.status.code(), Some(3));
    let got: Vec<&str> = done
        .output
        .lines()
        .filter(|l| !l.starts_with("PWD=") && !l.starts_with("SHLVL=") && !l.starts_with("_="))
        .collect();
    assert_eq!(got, ["out", "err", "PATH=/sbin:/usr/sbin:/bin:/usr/bin"]);
    let e = helper_failed("prog on /img".into(), done.status, &output_lines(&done.output, "")[..2]);
    assert_eq!(e.to_string(), "prog on /img: exited with error code 3:\n    out\n    err");
    let e = helper_failed("prog on /img".into(), done.status, &[]);
    assert_eq!(e.to_string(), "prog on /img: exited with error code 3");
}
