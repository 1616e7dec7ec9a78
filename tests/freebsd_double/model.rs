//! The kernel model itself (tests/support/freebsd/model.rs) against what
//! the FreeBSD sources say, and the pure readers the backend uses on what
//! the kernel reports (ident comparison, confxml escapes, mount(8)-only
//! options).
use crate::support::freebsd::escape;
use crate::support::freebsd::model::{Content, Host, Model};
use crate::support::MIB;
use mount_md::platform::freebsd::abi::{
    MD_AUTOUNIT, MD_CLUSTER, MD_COMPRESS, MD_FORCE, MD_MALLOC, MD_READONLY, MD_RESERVE, MD_SWAP, MD_VNODE,
};
use mount_md::platform::freebsd::geom::{parse_confxml, parse_ident, vnode_ident, FileId};
use mount_md::platform::freebsd::requests::{
    check_disk_fstype, mount8_only, nmount_request, AttachRequest, IoValue, NmountRequest,
};
use mount_md::platform::freebsd::MdSys;
use nix::errno::Errno;
use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn req(md_type: u32, options: u32, mediasize: u64, file: Option<&str>) -> AttachRequest {
    AttachRequest {
        md_type,
        options,
        unit: 0,
        mediasize,
        file: file.map(|f| CString::new(f).unwrap()),
        label: Some(CString::new("mount_md:/mnt").unwrap()),
    }
}

fn errno<T: std::fmt::Debug>(r: mount_md::error::Result<T>) -> Option<Errno> {
    r.err().and_then(|e| e.errno())
}

fn model() -> Model {
    Model::new(Host::Ufs).dir("/mnt").image("/img", 64 * MIB, Model::clean_ufs(), None)
}

#[test]
fn attach_is_checked_as_md_c_does() {
    let mut m = model();
    // mdcreate_malloc: MD_READONLY (or MD_CLUSTER) on a malloc disk.
    assert_eq!(errno(m.attach(&req(MD_MALLOC, MD_AUTOUNIT | MD_READONLY, MIB, None))), Some(Errno::EINVAL));
    assert_eq!(errno(m.attach(&req(MD_MALLOC, MD_AUTOUNIT | MD_CLUSTER, MIB, None))), Some(Errno::EINVAL));
    assert_eq!(m.attach(&req(MD_MALLOC, MD_AUTOUNIT | MD_COMPRESS | MD_RESERVE, MIB, None)).unwrap(), 0);
    // kern_mdattach_locked: below one sector; an unknown type.
    assert_eq!(errno(m.attach(&req(MD_VNODE, MD_AUTOUNIT, 511, Some("/img")))), Some(Errno::EINVAL));
    assert_eq!(errno(m.attach(&req(9, MD_AUTOUNIT, MIB, None))), Some(Errno::EINVAL));
    // mdcreate_swap: not a multiple of the page size.
    assert_eq!(errno(m.attach(&req(MD_SWAP, MD_AUTOUNIT, MIB + 512, None))), Some(Errno::EDOM));
    // mdnew: a taken unit.
    assert_eq!(errno(m.attach(&req(MD_SWAP, 0, MIB, None))), Some(Errno::EBUSY));
    // mdcreate_vnode: a missing file; the fractional sector pruned.
    assert_eq!(errno(m.attach(&req(MD_VNODE, MD_AUTOUNIT, MIB, Some("/nope")))), Some(Errno::ENOENT));
    let u = m.attach(&req(MD_VNODE, MD_AUTOUNIT | MD_READONLY, MIB + 100, Some("/img"))).unwrap();
    assert_eq!(u, 1);
    let q = m.query(1).unwrap();
    assert_eq!((q.mediasize, q.options & MD_READONLY, q.sectorsize), (MIB, MD_READONLY, 512));
    assert_eq!(q.label.as_deref(), Some(&b"mount_md:/mnt"[..]));
    // A label that does not fit `char label[PATH_MAX]`.
    let mut long = req(MD_SWAP, MD_AUTOUNIT, MIB, None);
    long.label = Some(CString::new(vec![b'a'; 1024]).unwrap());
    assert_eq!(errno(m.attach(&long)), Some(Errno::ENAMETOOLONG));
}

#[test]
fn detach_is_checked_as_md_c_does() {
    let mut m = model();
    assert_eq!(errno(m.detach(3, false)), Some(Errno::ENOENT));
    let u = m.attach(&req(MD_VNODE, MD_AUTOUNIT, MIB, Some("/img"))).unwrap();
    // GEOM tastes the new provider: open for a moment.
    assert_eq!(errno(m.detach(u, false)), Some(Errno::EBUSY));
    m.pause(Duration::from_millis(200));
    m.detach(u, false).unwrap();
    let u = m.attach(&req(MD_VNODE, MD_AUTOUNIT, MIB, Some("/img"))).unwrap();
    m.detach(u, true).unwrap();
    assert!(m.unit_numbers().is_empty());
    let _ = MD_FORCE;
}

#[test]
fn resize_is_checked_as_md_c_does() {
    let mut m = model();
    let u = m.attach(&req(MD_VNODE, MD_AUTOUNIT, 2 * MIB, Some("/img"))).unwrap();
    assert_eq!(m.resize(u, MIB, 0), Err(Errno::EBUSY));
    assert_eq!(m.resize(u, MIB, MD_READONLY), Err(Errno::EINVAL));
    assert_eq!(m.resize(u, 100, MD_FORCE), Err(Errno::EINVAL));
    m.resize(u, 4 * MIB, 0).unwrap();
    assert_eq!(m.query(u).unwrap().mediasize, 4 * MIB);
    let s = m.attach(&req(MD_SWAP, MD_AUTOUNIT, MIB, None)).unwrap();
    assert_eq!(m.resize(s, MIB + 512, 0), Err(Errno::EDOM));
    let k = m.attach(&req(MD_MALLOC, MD_AUTOUNIT, MIB, None)).unwrap();
    assert_eq!(m.resize(k, 2 * MIB, 0), Err(Errno::EOPNOTSUPP));
    assert_eq!(m.resize(42, MIB, 0), Err(Errno::ENOENT));
}

fn nmount(opts: &[&str], from: &str) -> NmountRequest {
    let opts: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
    nmount_request("ufs", &opts, Path::new("/mnt"), OsStr::new(from), false).unwrap()
}

#[test]
fn nmount_is_checked_as_vfs_mount_c_and_ffs_vfsops_c_do() {
    let mut m = model();
    let u = m.attach(&req(MD_VNODE, MD_AUTOUNIT | MD_READONLY, MIB, Some("/img"))).unwrap();
    // No node yet: devfs shows it some polls after the attach.
    assert_eq!(errno(m.nmount(&nmount(&["ro"], "/dev/md0"))), Some(Errno::ENOENT));
    m.pause(Duration::from_millis(200));
    // vfs_filteropt.
    let mut bad = nmount(&["ro"], "/dev/md0");
    bad.iov.insert(0, (CString::new("late").unwrap(), IoValue::Flag));
    let e = m.nmount(&bad).unwrap_err();
    assert_eq!(e.to_string(), "/dev/md0: mount option <late> is unknown: Invalid argument");
    // A read-write mount of a read-only unit: g_md_access says EROFS.
    assert_eq!(errno(m.nmount(&nmount(&["rw"], "/dev/md0"))), Some(Errno::EROFS));
    m.nmount(&nmount(&["ro", "noatime", "nosuid"], "/dev/md0")).unwrap();
    let root = m.open_mounted_root((), Path::new("/mnt")).unwrap();
    assert!(m.mounted_read_only(&root, Path::new("/mnt")).unwrap());
    drop(root);
    m.open_file_on("/mnt");
    assert_eq!(errno(m.unmount(Path::new("/mnt"), false)), Some(Errno::EBUSY));
    m.unmount(Path::new("/mnt"), true).unwrap();
    m.detach(u, false).unwrap();
}

/// ffs_mountfs: one mount per device; a second mount of /dev/md0 (on the
/// same or another directory) is EBUSY.
#[test]
fn a_device_is_mounted_once() {
    let mut m = Model::new(Host::Ufs).dir("/mnt").image("/img", 64 * MIB, Model::clean_ufs(), None);
    m.attach(&req(MD_VNODE, MD_AUTOUNIT, MIB, Some("/img"))).unwrap();
    m.pause(Duration::from_millis(200));
    m.nmount(&nmount(&["rw"], "/dev/md0")).unwrap();
    assert_eq!(errno(m.nmount(&nmount(&["ro"], "/dev/md0"))), Some(Errno::EBUSY));
}

#[test]
fn a_ufs_not_cleanly_unmounted_refuses_read_write() {
    let mut m = Model::new(Host::Ufs).dir("/mnt").image(
        "/img",
        64 * MIB,
        Content::Ufs { clean: false, fsmnt: "/var/jails/j1".into(), softdep: false },
        None,
    );
    m.attach(&req(MD_VNODE, MD_AUTOUNIT, MIB, Some("/img"))).unwrap();
    m.pause(Duration::from_millis(200));
    let e = m.nmount(&nmount(&["rw"], "/dev/md0")).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::EPERM));
    assert_eq!(
        e.to_string(),
        "/dev/md0: R/W mount of /var/jails/j1 denied. Filesystem is not clean - run fsck.: Operation not permitted"
    );
    m.nmount(&nmount(&["ro"], "/dev/md0")).unwrap();
}

#[test]
fn newfs_on_a_read_only_unit_fails_with_erofs() {
    let mut m = model();
    m.attach(&req(MD_VNODE, MD_AUTOUNIT | MD_READONLY, MIB, Some("/img"))).unwrap();
    m.pause(Duration::from_millis(200));
    let e = m.run_newfs(&[OsString::from("/sbin/newfs"), OsString::from("/dev/md0")], false).unwrap_err();
    assert_eq!(e.to_string(), "newfs exited with error code 1: newfs: /dev/md0: Read-only file system");
}

#[test]
fn confxml_is_rendered_as_geom_dump_c_escapes_and_read_back_exactly() {
    // Bytes above 0x7e and the five markup characters become &#xNN;, one
    // byte each; other control bytes but \t \n \r become '?'.
    assert_eq!(escape(b"a&b<c>'\"\xc3\xa9\x01\t"), "a&#x26;b&#x3C;c&#x3E;&#x27;&#x22;&#xC3;&#xA9;?\t");
    let raw = b"/images/\xff\xfe not utf8.img".to_vec();
    let name = PathBuf::from(OsString::from_vec(raw.clone()));
    let mut m = Model::new(Host::Ufs).image(&name, 64 * MIB, Model::clean_ufs(), None);
    let mut r = req(MD_VNODE, MD_AUTOUNIT, MIB, None);
    r.file = Some(CString::new(raw.clone()).unwrap());
    r.label = Some(CString::new(b"mount_md:/j\xe9".to_vec()).unwrap());
    m.attach(&r).unwrap();
    let units = parse_confxml(m.confxml());
    assert_eq!(units[0].file.as_deref(), Some(name.as_path()));
    assert_eq!(units[0].label.as_deref(), Some(&b"mount_md:/j\xe9"[..]));
    assert_eq!(units[0].access, Some((1, 0, 0)), "the taste after the attach");
}

#[test]
fn an_ident_under_31_characters_names_its_file_a_cut_one_none() {
    let ufs = FileId { dev: 90, ino: 1234 };
    assert_eq!(parse_ident(&vnode_ident(ufs)), Some(ufs));
    let dev = Host::Zfs.dev();
    let (a, b) = (FileId { dev, ino: 1234 }, FileId { dev, ino: 1299 });
    let cut = crate::support::freebsd::model::ident(a);
    assert_eq!((cut.len(), parse_ident(&cut)), (31, None));
    assert_eq!(cut, vnode_ident(a));
    assert_eq!(cut, vnode_ident(b), "one dataset, one ident");
}

#[test]
fn options_only_mount8_knows_never_reach_nmount() {
    for o in ["late", "failok", "noauto", "userquota", "groupquota=staff", "mountprog=/usr/local/sbin/mount_md"] {
        assert!(mount8_only(o), "{o}");
    }
    for o in ["rw", "ro", "noatime", "auto", "latex"] {
        assert!(!mount8_only(o), "{o}");
    }
    let r = nmount(&["rw", "late", "mountprog=/x", "noatime"], "/dev/md0");
    let names: Vec<&[u8]> = r.iov.iter().map(|(n, _)| n.as_bytes()).collect();
    assert_eq!(names, [&b"rw"[..], b"noatime", b"fstype", b"fspath", b"from", b"errmsg"]);
    assert!(check_disk_fstype("ufs").is_ok());
    assert!(check_disk_fstype("msdosfs").is_err());
}

#[test]
fn the_backing_file_of_a_unit_by_its_ident_or_its_file() {
    use mount_md::platform::freebsd::FreeBsd;
    assert_eq!(parse_ident("MD-DEV90-INO12"), Some(FileId { dev: 90, ino: 12 }));
    assert_eq!(parse_ident("MD-DEV18446744073709551615-INO1"), None, "cut");
    assert_eq!(parse_ident("MD-DEV090-INO12"), None);
    for h in [Host::Ufs, Host::Zfs] {
        let mut m = Model::new(h).image("/a.img", 64 * MIB, Model::clean_ufs(), Some(1234));
        m.attach(&req(MD_VNODE, MD_AUTOUNIT, MIB, Some("/a.img"))).unwrap();
        let units = m.list_units().unwrap();
        let mut fb = FreeBsd::with_sys(m.clone());
        assert_eq!(fb.backing_id(&units[0]), Some(FileId { dev: h.dev(), ino: 1234 }), "{h:?}");
    }
}

/// md.c `mdcreate_vnode` keeps the vnode it opened: a file renamed over
/// the image's path, or the image unlinked, leaves the unit on the file it
/// opened; `sc->file` (what MDIOCQUERY copies out) stays the path string,
/// which now names another file or none.
#[test]
fn a_vnode_unit_keeps_the_file_it_opened() {
    for h in [Host::Ufs, Host::Zfs] {
        let mut m = model_on(h).image("/restored.img", 64 * MIB, Content::Empty, None);
        let old = m.stat_file(Path::new("/img")).unwrap();
        let u = m.attach(&req(MD_VNODE, MD_AUTOUNIT, MIB, Some("/img"))).unwrap();
        m.rename("/restored.img", "/img");
        assert_eq!(m.unit_content(u), Some(Model::clean_ufs()), "{h:?}: still the old file's data");
        assert_eq!(m.query(u).unwrap().file.as_deref(), Some(Path::new("/img")), "the path string");
        assert_ne!(m.stat_file(Path::new("/img")).unwrap(), old, "the path names the new file");
        assert_eq!(m.k().kept.keys().copied().collect::<Vec<_>>(), [old], "the replaced file stays behind the unit");
        m.unlink("/img");
        assert_eq!(m.unit_content(u), Some(Model::clean_ufs()));
        m.detach(u, true).unwrap();
        assert!(m.k().kept.is_empty(), "vn_close: let go with the unit");
    }
}

fn model_on(h: Host) -> Model {
    Model::new(h).dir("/mnt").dir("/mnt/dev").image("/img", 64 * MIB, Model::clean_ufs(), None)
}

fn mounted_md(h: Host) -> Model {
    let mut m = model_on(h);
    m.attach(&req(MD_VNODE, MD_AUTOUNIT, MIB, Some("/img"))).unwrap();
    m.pause(Duration::from_millis(200));
    m.nmount(&nmount(&["rw"], "/dev/md0")).unwrap();
    m
}

fn other(fstype: &str, on: &str) -> NmountRequest {
    nmount_request(fstype, &[], Path::new(on), OsStr::new(on), false).unwrap()
}

fn fsid_of(m: &mut Model, fstype: &str) -> String {
    let e = m.mounts().unwrap().into_iter().rev().find(|e| e.fstype == fstype).unwrap();
    format!("FSID:{}:{}", e.fsid[0], e.fsid[1])
}

/// vfs_mount.c `sys_unmount`: by path the newest mount on that directory
/// (a nullfs stacked on the md file system goes, not the md file system);
/// with MNT_BYFSID the mount with that `f_fsid`, ENOENT if none. A file
/// system with another one on it or inside it is busy (EBUSY).
#[test]
fn unmount_by_path_takes_the_topmost_by_fsid_the_named_one() {
    let mut m = mounted_md(Host::Ufs);
    m.nmount(&other("nullfs", "/mnt")).unwrap();
    let md = fsid_of(&mut m, "ufs");
    let entries = m.mounts().unwrap();
    let ids: std::collections::BTreeSet<[i32; 2]> = entries.iter().map(|e| e.fsid).collect();
    assert_eq!(ids.len(), entries.len(), "getfsstat: every mount its own f_fsid");
    // By fsid: the md file system, covered by the nullfs: busy.
    assert_eq!(errno(m.unmount_by_fsid(&md, false)), Some(Errno::EBUSY));
    assert_eq!(errno(m.unmount_by_fsid(&md, true)), Some(Errno::EBUSY));
    assert_eq!(errno(m.unmount_by_fsid("FSID:7:7", false)), Some(Errno::ENOENT));
    assert_eq!(errno(m.unmount_by_fsid("/mnt", false)), Some(Errno::EINVAL));
    // By path: the topmost, the nullfs.
    m.unmount(Path::new("/mnt"), false).unwrap();
    assert_eq!(m.md_mounts().len(), 1, "the md file system stays");
    // A mount inside it makes it busy too.
    m.nmount(&other("tmpfs", "/mnt/dev")).unwrap();
    assert_eq!(errno(m.unmount(Path::new("/mnt"), false)), Some(Errno::EBUSY));
    m.unmount(Path::new("/mnt/dev"), false).unwrap();
    m.unmount_by_fsid(&md, false).unwrap();
    assert!(m.md_mounts().is_empty());
}

/// kern_jail.c `prison_deref`: a removed jail's prison keeps `pr_root`
/// until its last reference goes; its root's unmount is EBUSY meanwhile.
#[test]
fn a_dying_jail_keeps_its_root_busy_for_a_while() {
    let mut m = mounted_md(Host::Ufs);
    m.dying_jail_root("/mnt", 3000);
    assert_eq!(errno(m.unmount(Path::new("/mnt"), false)), Some(Errno::EBUSY));
    m.pause(Duration::from_millis(2900));
    assert_eq!(errno(m.unmount(Path::new("/mnt"), false)), Some(Errno::EBUSY));
    m.pause(Duration::from_millis(100));
    m.unmount(Path::new("/mnt"), false).unwrap();
}

/// fsck_ffs: without -f, `skipclean` stays set and setup.c `setup` skips a
/// clean file system ("FILE SYSTEM CLEAN; SKIPPING CHECKS"); -f checks it.
#[test]
fn fsck_skips_a_clean_file_system_without_f() {
    let mut m = model_on(Host::Ufs);
    m.attach(&req(MD_VNODE, MD_AUTOUNIT, MIB, Some("/img"))).unwrap();
    m.pause(Duration::from_millis(200));
    let argv = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
    let out = m.run_fsck(&argv(&["/sbin/fsck_ufs", "-p", "/dev/md0"])).unwrap();
    assert!(out.contains("/dev/md0: FILE SYSTEM CLEAN; SKIPPING CHECKS"), "{out}");
    assert_eq!(m.k().fsck_checks, 0);
    let out = m.run_fsck(&argv(&["/sbin/fsck_ufs", "-f", "-p", "/dev/md0"])).unwrap();
    assert!(out.contains("Phase 1"), "{out}");
    assert_eq!(m.k().fsck_checks, 1);
}

/// md.c `kern_mdquery_locked` copies a vnode unit's file out whatever
/// `md_file` is: NULL is EFAULT. The label only where a buffer is given.
#[test]
fn mdiocquery_with_a_null_md_file_for_a_vnode_unit_is_efault() {
    let mut m = model_on(Host::Ufs);
    let v = m.attach(&req(MD_VNODE, MD_AUTOUNIT, MIB, Some("/img"))).unwrap();
    let s = m.attach(&req(MD_SWAP, MD_AUTOUNIT, MIB, None)).unwrap();
    assert_eq!(m.query_raw(v, false, true), Err(Errno::EFAULT));
    assert_eq!(m.query_raw(s, false, false).unwrap().label, None);
    assert_eq!(m.query_raw(v, true, true).unwrap().label.as_deref(), Some(&b"mount_md:/mnt"[..]));
}

/// An md(4) before 12.0 has no `md_label`: the attach succeeds, the unit
/// has no label, MDIOCQUERY leaves the buffer empty, confxml shows none.
#[test]
fn a_kernel_without_md_label_drops_the_label() {
    let mut m = model_on(Host::Ufs);
    m.k().keeps_label = false;
    let u = m.attach(&req(MD_VNODE, MD_AUTOUNIT, MIB, Some("/img"))).unwrap();
    assert_eq!(m.query(u).unwrap().label.as_deref(), Some(&b""[..]));
    assert_eq!(parse_confxml(m.confxml())[0].label, None);
}

/// geom_dump.c `g_conf_geom`: a geom being withered (md.c `mddestroy` →
/// `g_wither_geom`) shows `<wither/>` and its provider no `<config>`, until
/// it leaves the tree.
#[test]
fn confxml_shows_wither_for_a_unit_being_destroyed() {
    let mut m = model_on(Host::Ufs);
    m.k().wither_hold = 50;
    let u = m.attach(&req(MD_VNODE, MD_AUTOUNIT, MIB, Some("/img"))).unwrap();
    m.detach(u, true).unwrap();
    let x = m.confxml();
    assert!(x.contains("<name>md0</name>\n      <wither/>"), "{x}");
    assert!(!x.contains("<config>"), "{x}");
    assert_eq!(errno(m.query(u)), Some(Errno::ENOENT), "md(4) has let go of the unit");
    m.pause(Duration::from_millis(50));
    assert!(!m.confxml().contains("md0"));
}
