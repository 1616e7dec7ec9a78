//! `-k skel`: the tree copy keeps what `pax -rw -pe` keeps. Runs on plain
//! directories (no mount needed); the owner part needs root.
use crate::support::{skip, TempDir};
use mount_md::platform::posix::{copy_skeleton, open_root};
use std::fs;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;

#[test]
fn copies_modes_owners_times_links_and_special_files() {
    let root = nix::unistd::geteuid().is_root();
    let src = TempDir::new("skel-src");
    let dst = TempDir::new("skel-dst");
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
        nix::fcntl::AT_FDCWD,
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
    copy_skeleton(s, &fd, &dst.0).unwrap();

    let d = &dst.0;
    assert_eq!(fs::read(d.join("etc/rc.conf")).unwrap(), b"hostname=jail\n");
    let m = fs::metadata(d.join("etc/rc.conf")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o640);
    assert_eq!(m.mtime(), 1_000_000_000);
    if root {
        assert_eq!((m.uid(), m.gid()), (1000, 1001));
    } else {
        skip("owner checks need root");
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
    let dst = TempDir::new("skel-dst2");
    let fd = open_root(&dst.0).unwrap();
    let e = copy_skeleton(std::path::Path::new("/nonexistent/skel"), &fd, &dst.0).unwrap_err();
    assert_eq!(e.to_string(), "skel copy from /nonexistent/skel: No such file or directory");
}

#[test]
fn refuses_a_symlinked_root() {
    let dir = TempDir::new("skel-ln");
    symlink("/", dir.0.join("link")).unwrap();
    let e = open_root(&dir.0.join("link")).unwrap_err();
    assert!(
        e.to_string().ends_with("Too many levels of symbolic links") || e.to_string().ends_with("Not a directory"),
        "{e}"
    );
}

/// A skeleton that contains the target (`-k /` onto `/mnt`) is refused
/// before anything is copied, instead of copying itself into itself.
#[test]
fn a_skeleton_containing_the_target_is_refused() {
    let src = TempDir::new("skel-self");
    fs::create_dir_all(src.0.join("a/mnt")).unwrap();
    fs::write(src.0.join("a/file"), b"x").unwrap();
    for skel in [src.0.clone(), src.0.join("a"), src.0.join("a/mnt")] {
        let fd = open_root(&src.0.join("a/mnt")).unwrap();
        let e = copy_skeleton(&skel, &fd, &src.0.join("a/mnt")).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("-k {}: the skeleton contains the mount point; refusing to copy it into itself", skel.display())
        );
        assert_eq!(fs::read_dir(src.0.join("a/mnt")).unwrap().count(), 0, "nothing copied");
    }
}

/// The walk holds a fixed number of descriptors however deep the tree:
/// with the descriptor limit at 64, a tree 400 directories deep (which a
/// walk holding two per level could not open) is copied, modes and all.
#[test]
fn deep_trees_need_no_recursion_and_few_descriptors() {
    let src = TempDir::new("skel-deep-src");
    let dst = TempDir::new("skel-deep-dst");
    let depth = 400;
    let mut p = src.0.clone();
    for i in 0..depth {
        p.push("d");
        fs::create_dir(&p).unwrap();
        if i == depth / 2 {
            fs::write(p.join("middle"), b"m").unwrap();
            fs::hard_link(p.join("middle"), src.0.join("top-link")).unwrap();
        }
    }
    fs::write(p.join("bottom"), b"b").unwrap();
    // A read-only directory deep down: filled first, mode applied after.
    fs::set_permissions(&p, fs::Permissions::from_mode(0o555)).unwrap();
    let fd = open_root(&dst.0).unwrap();
    let mut old = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut old) };
    let low = libc::rlimit { rlim_cur: 64, rlim_max: old.rlim_max };
    // SAFETY: as above.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &low) };
    let r = copy_skeleton(&src.0, &fd, &dst.0);
    // SAFETY: as above.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &old) };
    r.unwrap();
    let mut q = dst.0.clone();
    for _ in 0..depth {
        q.push("d");
    }
    assert_eq!(fs::read(q.join("bottom")).unwrap(), b"b");
    assert_eq!(fs::metadata(&q).unwrap().mode() & 0o7777, 0o555);
    let mid = dst.0.join(["d"; 201].join("/")).join("middle");
    assert_eq!(fs::metadata(&mid).unwrap().ino(), fs::metadata(dst.0.join("top-link")).unwrap().ino());
    // Deep trees are removed with rm(1), which walks them without limits.
    for t in [&src.0, &dst.0] {
        let _ = std::process::Command::new("chmod").args(["-R", "u+w"]).arg(t).status();
        let _ = std::process::Command::new("rm").arg("-rf").arg(t).status();
    }
}
