//! `-k skel`: the tree copy keeps what `pax -rw -pe` keeps. Runs on plain
//! directories (no mount needed); the owner part needs root.
use mount_md::platform::posix::{copy_skeleton, open_root};
use std::fs;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("mount_md-skel-{tag}-{}", std::process::id()));
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
fn copies_modes_owners_times_links_and_special_files() {
    let root = nix::unistd::geteuid().is_root();
    let src = TempDir::new("src");
    let dst = TempDir::new("dst");
    let s = &src.0;
    fs::create_dir(s.join("etc")).unwrap();
    fs::write(s.join("etc/rc.conf"), b"hostname=jail\n").unwrap();
    fs::set_permissions(s.join("etc/rc.conf"), fs::Permissions::from_mode(0o640)).unwrap();
    fs::set_permissions(s.join("etc"), fs::Permissions::from_mode(0o750)).unwrap();
    fs::hard_link(s.join("etc/rc.conf"), s.join("rc.conf.link")).unwrap();
    symlink("etc/rc.conf", s.join("rc.sym")).unwrap();
    nix::unistd::mkfifo(&s.join("fifo"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    fs::create_dir(s.join("tmp")).unwrap();
    fs::set_permissions(s.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::set_permissions(s, fs::Permissions::from_mode(0o755)).unwrap();
    let old = nix::sys::time::TimeSpec::new(1_000_000_000, 0);
    nix::sys::stat::utimensat(
        None,
        &s.join("etc/rc.conf"),
        &old,
        &old,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
    if root {
        nix::unistd::chown(&s.join("etc/rc.conf"), Some(1000.into()), Some(1001.into())).unwrap();
    }

    let fd = open_root(&dst.0).unwrap();
    copy_skeleton(s, &fd).unwrap();

    let d = &dst.0;
    assert_eq!(fs::read(d.join("etc/rc.conf")).unwrap(), b"hostname=jail\n");
    let m = fs::metadata(d.join("etc/rc.conf")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o640);
    assert_eq!(m.mtime(), 1_000_000_000);
    if root {
        assert_eq!((m.uid(), m.gid()), (1000, 1001));
    } else {
        eprintln!("skipped: owner checks need root");
    }
    assert_eq!(fs::metadata(d.join("etc")).unwrap().mode() & 0o7777, 0o750);
    assert_eq!(fs::metadata(d.join("tmp")).unwrap().mode() & 0o7777, 0o1777);
    assert_eq!(fs::metadata(d).unwrap().mode() & 0o7777, 0o755);
    assert_eq!(fs::metadata(d.join("rc.conf.link")).unwrap().ino(), m.ino(), "hard link kept");
    assert_eq!(fs::read_link(d.join("rc.sym")).unwrap(), PathBuf::from("etc/rc.conf"));
    assert!(fs::symlink_metadata(d.join("fifo")).unwrap().file_type().is_fifo());
}

#[test]
fn missing_skeleton_is_a_clear_error() {
    let dst = TempDir::new("dst2");
    let fd = open_root(&dst.0).unwrap();
    let e = copy_skeleton(std::path::Path::new("/nonexistent/skel"), &fd).unwrap_err();
    assert_eq!(e.to_string(), "skel copy from /nonexistent/skel: No such file or directory");
}

#[test]
fn refuses_a_symlinked_root() {
    let dir = TempDir::new("ln");
    symlink("/", dir.0.join("link")).unwrap();
    let e = open_root(&dir.0.join("link")).unwrap_err();
    assert!(
        e.to_string().ends_with("Too many levels of symbolic links") || e.to_string().ends_with("Not a directory"),
        "{e}"
    );
}
