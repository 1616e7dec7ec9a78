//! The FreeBSD request builders, as plain functions: what MDIOCATTACH,
//! nmount(2) and newfs(8) would be given.
use crate::support::freebsd::c;
use crate::support::GIB;
use mount_md::device::Unit;
use mount_md::grow_ops::show_argv;
use mount_md::plan::{Attach, Format, Formats, TmpfsMount};
use mount_md::platform::freebsd::abi::*;
use mount_md::platform::freebsd::requests::*;
use mount_md::platform::Note;
use mount_md::request::{Backing, NewfsOpt};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

const IMG: &str = "/jails/10.0.0.1/rootfs.volume";

fn vnode(unit: Unit, size: Option<u64>, read_only: bool) -> Attach {
    Attach { unit, backing: Backing::Vnode(IMG.into()), size, read_only, direct_io: true, formats: Formats::Never }
}

fn file(size: u64, writable: bool) -> BackingFile {
    BackingFile { path: PathBuf::from("/real/rootfs.volume"), size, regular: true, writable }
}

fn text(s: &str) -> IoValue {
    IoValue::Text(c(s))
}

/// The nmount list as (name, Some(value) | None for a flag | Some("<errmsg>")).
fn pairs(r: &NmountRequest) -> Vec<(String, Option<String>)> {
    r.iov
        .iter()
        .map(|(n, v)| {
            let v = match v {
                IoValue::Flag => None,
                IoValue::Text(t) => Some(t.to_str().unwrap().to_string()),
                IoValue::Errmsg => Some("<errmsg>".to_string()),
            };
            (n.to_str().unwrap().to_string(), v)
        })
        .collect()
}

fn p(name: &str, v: Option<&str>) -> (String, Option<String>) {
    (name.to_string(), v.map(str::to_string))
}

#[test]
fn article_attach_is_vnode_realpath_filesize_0x15_autounit() {
    let (req, notes) = attach_request(&vnode(Unit::Auto, None, false), Some(&file(GIB, true)), 4096).unwrap();
    assert_eq!(
        req,
        AttachRequest {
            md_type: MD_VNODE,
            options: 0x15,
            unit: 0,
            mediasize: GIB,
            file: Some(c("/real/rootfs.volume")),
            label: None,
        }
    );
    assert!(req.autounit() && !req.read_only());
    assert!(notes.is_empty());
    assert_eq!(
        req.describe(),
        "{type=MD_VNODE, file=/real/rootfs.volume, mediasize=1073741824, options=MD_CLUSTER|MD_AUTOUNIT|MD_COMPRESS}"
    );
}

#[test]
fn article_nmount_is_fstype_fspath_from_errmsg() {
    let r = nmount_request("ufs", &[], Path::new("/var/jails/10.0.0.1"), OsStr::new("/dev/md0"), false).unwrap();
    assert_eq!(
        pairs(&r),
        [
            p("fstype", Some("ufs")),
            p("fspath", Some("/var/jails/10.0.0.1")),
            p("from", Some("/dev/md0")),
            p("errmsg", Some("<errmsg>"))
        ]
    );
    assert_eq!(r.flags, 0);
    assert_eq!(r.get("errmsg"), Some(&IoValue::Errmsg));
    assert_eq!(r.describe(), "nmount(fstype=ufs, fspath=/var/jails/10.0.0.1, from=/dev/md0, errmsg)");
    // Modern mount(8) passes `-o rw`: it travels as a flag-style pair first.
    let rw = nmount_request("ufs", &["rw".into()], Path::new("/x"), OsStr::new("/dev/md0"), false).unwrap();
    assert_eq!(pairs(&rw)[0], p("rw", None));
    assert_eq!(rw.flags, 0);
}

#[test]
fn read_only_noatime() {
    let (req, notes) = attach_request(&vnode(Unit::Auto, None, true), Some(&file(GIB, true)), 4096).unwrap();
    assert_eq!(req.options, MD_CLUSTER | MD_AUTOUNIT | MD_COMPRESS | MD_READONLY);
    assert!(req.read_only() && notes.is_empty());
    let opts = vec!["ro".to_string(), "noatime".to_string()];
    let r = nmount_request("ufs", &opts, Path::new("/mnt"), OsStr::new("/dev/md1"), true).unwrap();
    assert_eq!(pairs(&r)[..2], [p("ro", None), p("noatime", None)]);
    assert_eq!(r.iov.len(), 6, "ro is not added twice");
    assert_eq!(r.flags, mnt::RDONLY | mnt::NOATIME);
    assert_eq!(r.flags_arg(), 0x1000_0001);
    // noclusterw (bit 31) goes by name only: a negative int would be
    // widened with the sign by sys_nmount, setting unrelated MNT_ bits.
    let n = nmount_request("ufs", &["noclusterw".into()], Path::new("/mnt"), std::ffi::OsStr::new("/dev/md0"), false)
        .unwrap();
    assert_eq!(n.flags & 0x8000_0000, 0x8000_0000);
    assert!(n.flags_arg() >= 0);
    assert!(n.iov.iter().any(|(k, _)| k.as_bytes() == b"noclusterw"));
    assert_eq!(
        r.describe(),
        "nmount(ro, noatime, fstype=ufs, fspath=/mnt, from=/dev/md1, errmsg) flags=MNT_RDONLY|MNT_NOATIME"
    );
}

#[test]
fn unwritable_image_falls_back_to_read_only_with_mdconfigs_warning() {
    let (req, notes) = attach_request(&vnode(Unit::Auto, None, false), Some(&file(GIB, false)), 4096).unwrap();
    assert!(req.read_only());
    assert_eq!(notes, [Note::Warning("WARNING: opening backing store: /real/rootfs.volume readonly".into())]);
    // ... and the mount is made read-only too, after the user's options.
    let r = nmount_request("ufs", &["rw".into()], Path::new("/mnt"), OsStr::new("/dev/md0"), true).unwrap();
    assert_eq!(pairs(&r)[..2], [p("rw", None), p("ro", None)]);
    assert_eq!(r.flags, mnt::RDONLY);
}

#[test]
fn fixed_unit_clears_autounit() {
    let (req, _) = attach_request(&vnode(Unit::Fixed(10), None, false), Some(&file(GIB, true)), 4096).unwrap();
    assert_eq!(req.options, MD_CLUSTER | MD_COMPRESS);
    assert_eq!(req.unit, 10);
    assert!(!req.autounit());
    assert!(req.describe().contains(", unit=10,"));
    assert_eq!(describe_detach(10), "{unit=10, options=0, mediasize=0}");
}

#[test]
fn size_with_file_overrides_the_file_length() {
    let (req, _) = attach_request(&vnode(Unit::Auto, Some(64 << 20), false), Some(&file(GIB, true)), 4096).unwrap();
    assert_eq!(req.mediasize, 64 << 20);
    let e = attach_request(&vnode(Unit::Auto, Some(100), false), Some(&file(GIB, true)), 4096).unwrap_err();
    assert!(e.to_string().contains("at least one 512-byte sector"), "{e}");
}

#[test]
fn empty_or_irregular_images_are_refused_before_the_kernel_sees_them() {
    let e = attach_request(&vnode(Unit::Auto, None, false), Some(&file(0, true)), 4096).unwrap_err();
    assert!(e.to_string().contains("smaller than one 512-byte sector"), "{e}");
    let mut dir = file(4096, true);
    dir.regular = false;
    let e = attach_request(&vnode(Unit::Auto, None, false), Some(&dir), 4096).unwrap_err();
    assert_eq!(e.to_string(), "/real/rootfs.volume is not a regular file");
}

#[test]
fn swap_disk() {
    let a = Attach {
        unit: Unit::Auto,
        backing: Backing::Swap,
        size: Some(64 << 20),
        read_only: false,
        direct_io: true,
        formats: Formats::Never,
    };
    let (req, _) = attach_request(&a, None, 4096).unwrap();
    assert_eq!(
        req,
        AttachRequest { md_type: MD_SWAP, options: 0x15, unit: 0, mediasize: 64 << 20, file: None, label: None }
    );
    // Not a page multiple: the kernel would say EDOM.
    let odd = Attach { size: Some(4096 + 512), ..a.clone() };
    let e = attach_request(&odd, None, 4096).unwrap_err();
    assert_eq!(e.to_string(), "-s 4608B: a swap-backed disk must be a multiple of the page size (4096 bytes)");
    assert!(validate_size(&Backing::Swap, Some(16384), 16384).is_ok());
    for size in [None, Some(0)] {
        let e = attach_request(&Attach { size, ..a.clone() }, None, 4096).unwrap_err();
        assert!(e.to_string().starts_with("must specify -s for swap- or malloc-backed disks"), "{e}");
    }
}

#[test]
fn malloc_disk_is_reserved_and_needs_only_whole_sectors() {
    let a = Attach {
        unit: Unit::Fixed(2),
        backing: Backing::Malloc,
        size: Some(512),
        read_only: false,
        direct_io: true,
        formats: Formats::Never,
    };
    let (req, _) = attach_request(&a, None, 4096).unwrap();
    assert_eq!(req.md_type, MD_MALLOC);
    assert_eq!(req.options, MD_COMPRESS | MD_RESERVE);
    assert_eq!(req.mediasize, 512);
    let auto = Attach { unit: Unit::Auto, ..a.clone() };
    assert_eq!(attach_request(&auto, None, 4096).unwrap().0.options, 0x16);
    let e = attach_request(&Attach { size: Some(100), ..a.clone() }, None, 4096).unwrap_err();
    assert!(e.to_string().contains("at least one 512-byte sector"), "{e}");
    assert!(attach_request(&Attach { size: None, ..a }, None, 4096).is_err());
}

#[test]
fn newfs_argv_in_order_with_soft_updates_last() {
    let opt = |letter, value: Option<&str>| NewfsOpt { letter, value: value.map(str::to_string) };
    let mut f = Format {
        fstype: "ufs".into(),
        options: vec![
            opt('b', Some("32768")),
            opt('f', Some("4096")),
            opt('O', Some("space")),
            opt('v', Some("2")),
            opt('n', None),
            opt('m', Some("5")),
        ],
        soft_updates: true,
        only_if_created: false,
        loud: false,
    };
    let argv = newfs_argv(&f, Path::new("/dev/md4"));
    assert_eq!(show_argv(&argv), "/sbin/newfs -b 32768 -f 4096 -o space -O 2 -n -m 5 -U /dev/md4");
    f.soft_updates = false;
    assert_eq!(
        show_argv(&newfs_argv(&f, Path::new("/dev/md4"))),
        "/sbin/newfs -b 32768 -f 4096 -o space -O 2 -n -m 5 /dev/md4"
    );
    f.options.clear();
    f.soft_updates = true;
    assert_eq!(show_argv(&newfs_argv(&f, Path::new("/dev/md0"))), "/sbin/newfs -U /dev/md0");
}

#[test]
fn tmpfs_with_size() {
    let t =
        TmpfsMount { size: Some(1 << 20), options: vec!["noexec".into()], mount_point: "/tmp/x".into(), sloppy: false };
    let r = tmpfs_request(&t, Path::new("/tmp/x")).unwrap();
    assert_eq!(
        pairs(&r),
        [
            p("noexec", None),
            p("size", Some("1048576")),
            p("fstype", Some("tmpfs")),
            p("fspath", Some("/tmp/x")),
            p("from", Some("tmp")),
            p("errmsg", Some("<errmsg>"))
        ]
    );
    assert_eq!(r.flags, mnt::NOEXEC);
    let none = TmpfsMount { size: Some(0), options: vec![], ..t };
    assert_eq!(tmpfs_request(&none, Path::new("/tmp/x")).unwrap().get("size"), None);
}

#[test]
fn values_split_at_the_first_equals_and_from_loses_extra_slashes() {
    let opts = vec!["label=a=b".to_string()];
    let r = nmount_request("ufs", &opts, Path::new("/m"), OsStr::new("//dev//md0.uzip/"), false).unwrap();
    assert_eq!(r.get("label"), Some(&text("a=b")));
    assert_eq!(r.from(), "/dev/md0.uzip");
    assert_eq!(mount_from(Path::new("/dev/md0"), ".uzip"), "/dev/md0.uzip");
}

#[test]
fn inspect_backing_like_mdconfig() {
    let tmp = crate::support::TempDir::new("fb-inspect");
    let dir = tmp.path();
    let img = dir.join("rootfs.volume");
    std::fs::write(&img, vec![0u8; 8192]).unwrap();
    let link = dir.join("link.volume");
    std::os::unix::fs::symlink(&img, &link).unwrap();
    let b = inspect_backing(&link).unwrap();
    assert_eq!(b.path, std::fs::canonicalize(&img).unwrap());
    assert_eq!(b.size, 8192);
    assert!(b.regular);
    let d = inspect_backing(dir).unwrap();
    assert!(!d.regular);
    let e = inspect_backing(&dir.join("missing")).unwrap_err();
    assert!(e.to_string().starts_with("could not find full path for "), "{e}");
}
