//! Opening, creating and locking the backing image (shared by both
//! platforms): no symlinks, no overwrite, reserved or sparse, cleanup.
use mount_md::platform::posix::{open_dir_no_symlinks, open_image, CreateMode};
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("mount_md-image-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn create_sparse_and_reserved() {
    let t = TempDir::new("create");
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
    let t = TempDir::new("keep");
    let p = t.0.join("a.img");
    fs::write(&p, b"precious").unwrap();
    let img = open_image(&p, Some((1 << 20, CreateMode::Reserve)), false).unwrap();
    assert!(!img.created);
    img.remove_created().unwrap();
    assert_eq!(fs::read(&p).unwrap(), b"precious");
}

#[test]
fn symlinks_anywhere_in_the_path_are_refused() {
    let t = TempDir::new("links");
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
    let t = TempDir::new("kinds");
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
    let t = TempDir::new("full");
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
