//! Opening, creating and locking the backing image (shared by both
//! platforms): no symlinks, no overwrite, reserved or sparse, cleanup.
use mount_md::platform::posix::{open_dir_no_symlinks, open_image, CreateMode};
mod core_support;
use core_support::TempDir;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::Path;

#[test]
fn create_sparse_and_reserved() {
    let t = TempDir::new("image-create");
    let sparse = t.0.join("sparse.img");
    let img = open_image(&sparse, Some((64 << 20, CreateMode::Sparse)), false).unwrap();
    assert!(img.created && img.writable);
    let m = fs::metadata(&sparse).unwrap();
    assert_eq!((m.len(), m.mode() & 0o7777), (64 << 20, 0o600));
    assert!(m.blocks() * 512 < 1 << 20, "sparse: {} blocks", m.blocks());

    let reserved = t.0.join("reserved.img");
    open_image(&reserved, Some((8 << 20, CreateMode::Reserve)), false).unwrap();
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
fn symlinks_anywhere_in_the_path_are_refused() {
    let t = TempDir::new("image-links");
    fs::create_dir(t.0.join("real")).unwrap();
    fs::write(t.0.join("real/a.img"), b"x").unwrap();
    symlink("real", t.0.join("dirlink")).unwrap();
    symlink("real/a.img", t.0.join("filelink")).unwrap();
    let e = open_image(&t.0.join("dirlink/a.img"), None, false).unwrap_err();
    assert_eq!(e.to_string(), format!("{} is a symbolic link", t.0.join("dirlink").display()));
    let e = open_image(&t.0.join("filelink"), None, false).unwrap_err();
    assert_eq!(e.to_string(), format!("{} is a symbolic link", t.0.join("filelink").display()));
    // --create does not follow a dangling link either
    symlink("/nonexistent-target", t.0.join("dangling")).unwrap();
    let e = open_image(&t.0.join("dangling"), Some((1 << 20, CreateMode::Sparse)), false).unwrap_err();
    assert_eq!(e.to_string(), format!("{} is a symbolic link", t.0.join("dangling").display()));
    assert!(fs::symlink_metadata("/nonexistent-target").is_err());
    // mount points too
    let e = open_dir_no_symlinks(&t.0.join("dirlink")).unwrap_err();
    assert_eq!(e.to_string(), format!("{} is a symbolic link", t.0.join("dirlink").display()));
    assert!(open_dir_no_symlinks(&t.0.join("real")).is_ok());
    assert!(open_dir_no_symlinks(Path::new("/")).is_ok());
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
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let t = TempDir::new("image-full");
    nix::mount::mount(Some("tmpfs"), &t.0, Some("tmpfs"), nix::mount::MsFlags::empty(), Some("size=1m")).unwrap();
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = nix::mount::umount2(self.0, nix::mount::MntFlags::MNT_DETACH);
        }
    }
    let _guard = Unmount(&t.0);
    let p = t.0.join("big.img");
    let e = open_image(&p, Some((16 << 20, CreateMode::Reserve)), false).unwrap_err();
    assert_eq!(e.to_string(), format!("{}: cannot create image: No space left on device", p.display()));
    assert!(fs::symlink_metadata(&p).is_err(), "half-made image removed");
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
/// a symlink anywhere in the mount point's path is refused.
#[test]
fn freebsd_fspath_refuses_symlinks() {
    use mount_md::platform::freebsd::resolve_mount_point;
    let t = TempDir::new("image-fspath");
    fs::create_dir(t.0.join("jail")).unwrap();
    symlink(t.0.join("jail"), t.0.join("link")).unwrap();
    fs::create_dir(t.0.join("jail/usr")).unwrap();
    fs::write(t.0.join("file"), b"").unwrap();
    assert_eq!(resolve_mount_point(&t.0.join("jail/usr")).unwrap(), fs::canonicalize(t.0.join("jail/usr")).unwrap());
    let e = resolve_mount_point(&t.0.join("link")).unwrap_err();
    assert_eq!(e.to_string(), format!("{} is a symbolic link", t.0.join("link").display()));
    let e = resolve_mount_point(&t.0.join("link/usr")).unwrap_err();
    assert_eq!(e.to_string(), format!("{} is a symbolic link", t.0.join("link").display()));
    let e = resolve_mount_point(&t.0.join("file")).unwrap_err();
    assert_eq!(e.to_string(), format!("{}: Not a directory", t.0.join("file").display()));
}
