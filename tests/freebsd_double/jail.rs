//! jail(8) scenarios on the kernel model (tests/support/freebsd/model.rs):
//! the real policy `FreeBsd<Model>` driven through jail(8)'s and mount(8)'s
//! sequences, on a UFS host and on a ZFS host.
use crate::support::freebsd::jail::{mount8, mount_md, Dialect, Jail};
use crate::support::freebsd::model::{Content, Host, Model};
use crate::support::freebsd::words;
use crate::support::MIB;
use mount_md::platform::freebsd::abi::MD_READONLY;
use mount_md::platform::freebsd::geom::FileId;
use mount_md::platform::freebsd::MdSys;
use std::path::{Path, PathBuf};

const J1: &str = "/var/jails/j1";
const IMG1: &str = "/images/j1.img";
const LINE1: &str = "md /var/jails/j1 ufs rw,-P,-F/images/j1.img,mountprog=/usr/local/sbin/mount_md 0 0";
const RELEASE1: &str = "/usr/local/sbin/mount_md -u /var/jails/j1";

fn host(h: Host) -> Model {
    Model::new(h).dir(J1).image(IMG1, 64 * MIB, Model::clean_ufs(), None)
}

fn jail1() -> Jail<'static> {
    Jail { fstab: vec![LINE1], prepare: None, release: Some(RELEASE1), dialect: Dialect::Modern, start_fails: false }
}

fn log(m: &Model) -> String {
    m.k().log.join("\n")
}

fn cycles(h: Host) {
    let m = host(h);
    let j = jail1();
    for i in 0..100 {
        j.start(&m).unwrap_or_else(|e| panic!("start {i}: {e}\n{}", log(&m)));
        assert_eq!(m.md_mounts(), [(PathBuf::from(J1), PathBuf::from("/dev/md0"))], "cycle {i}");
        m.open_file_on(J1);
        m.k().mounts.last_mut().unwrap().open_files = 0; // the jail's processes are gone at stop
        j.stop(&m).unwrap_or_else(|e| panic!("stop {i}: {e}\n{}", log(&m)));
        assert!(m.unit_numbers().is_empty(), "cycle {i}: units left {:?}\n{}", m.unit_numbers(), log(&m));
        assert!(m.md_mounts().is_empty());
    }
    assert_eq!(m.content(IMG1), Content::Ufs { clean: true, fsmnt: J1.into(), softdep: true });
}

#[test]
fn jail_start_stop_100_times_on_a_ufs_host_leaves_no_unit() {
    cycles(Host::Ufs);
}

#[test]
fn jail_start_stop_100_times_on_a_zfs_host_leaves_no_unit() {
    cycles(Host::Zfs);
}

/// FreeBSD 6.x: rc.d/jail's `mount -a -F fstab` runs `mount_md` with `rw`
/// dropped; its stop unmounts the mount point; mount_md -u DIR then finds
/// the unit by its mark.
#[test]
fn jail_start_stop_100_times_with_6x_mount_leaves_no_unit() {
    let m = host(Host::Zfs);
    let j = Jail {
        fstab: vec!["md /var/jails/j1 md rw,-P,-F/images/j1.img 0 0"],
        release: Some(RELEASE1),
        dialect: Dialect::Old6x,
        prepare: None,
        start_fails: false,
    };
    for i in 0..100 {
        j.start(&m).unwrap_or_else(|e| panic!("start {i}: {e}\n{}", log(&m)));
        assert_eq!(m.md_mounts().len(), 1);
        j.stop(&m).unwrap_or_else(|e| panic!("stop {i}: {e}\n{}", log(&m)));
        assert!(m.unit_numbers().is_empty(), "cycle {i}");
    }
}

#[test]
fn jail_units_carry_the_mark_that_mdconfig_lv_shows() {
    let m = host(Host::Zfs);
    jail1().start(&m).unwrap();
    // The mark names the mount point, and the image by its device and
    // inode whole (md(4)'s ident is cut on ZFS).
    let mark = b"mount_md:dev=12736845312519347813,ino=1001:/var/jails/j1";
    let q = m.clone().query(0).unwrap();
    assert_eq!(q.label.as_deref(), Some(&mark[..]));
    let units = m.clone().list_units().unwrap();
    assert_eq!(units[0].label.as_deref(), Some(&mark[..]));
}

/// On ZFS, `st_dev` leaves 1–2 digits of the inode in md.c's 31-character
/// ident: a.img (inode 1234) and b.img (inode 1299) share one.
#[test]
fn jail_two_jails_on_one_zfs_dataset_each_get_their_own_unit() {
    let m = Model::new(Host::Zfs)
        .dir("/var/jails/a")
        .dir("/var/jails/b")
        .image("/tank/jails/a.img", 64 * MIB, Model::clean_ufs(), Some(1234))
        .image("/tank/jails/b.img", 64 * MIB, Model::clean_ufs(), Some(1299));
    let dev = Host::Zfs.dev();
    let (ia, ib) = (FileId { dev, ino: 1234 }, FileId { dev, ino: 1299 });
    assert_eq!(
        crate::support::freebsd::model::ident(ia),
        crate::support::freebsd::model::ident(ib),
        "the idents collide"
    );
    let a = Jail {
        fstab: vec!["md /var/jails/a ufs rw,-P,-F/tank/jails/a.img,mountprog=/usr/local/sbin/mount_md 0 0"],
        release: None,
        dialect: Dialect::Modern,
        prepare: None,
        start_fails: false,
    };
    let b = Jail {
        fstab: vec!["md /var/jails/b ufs rw,-P,-F/tank/jails/b.img,mountprog=/usr/local/sbin/mount_md 0 0"],
        release: None,
        dialect: Dialect::Modern,
        prepare: None,
        start_fails: false,
    };
    // a starts and stops without exec.release: md0 stays, idle.
    a.start(&m).unwrap();
    a.stop(&m).unwrap();
    assert_eq!(m.unit_numbers(), [0]);
    // b gets its own unit, and b's image is what is mounted on b.
    b.start(&m).unwrap_or_else(|e| panic!("{e}\n{}", log(&m)));
    assert_eq!(m.unit_numbers(), [0, 1]);
    assert_eq!(m.md_mounts(), [(PathBuf::from("/var/jails/b"), PathBuf::from("/dev/md1"))]);
    assert_eq!(m.clone().query(1).unwrap().file, Some(PathBuf::from("/tank/jails/b.img")));
    // -u b.img takes b's unit and leaves a's alone.
    let (code, _, err) = mount_md(&m, &words("mount_md -u /tank/jails/b.img"));
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(m.unit_numbers(), [0]);
    assert_eq!(m.clone().query(0).unwrap().file, Some(PathBuf::from("/tank/jails/a.img")));
    // a starts again on its leftover unit.
    a.start(&m).unwrap();
    assert_eq!(m.md_mounts(), [(PathBuf::from("/var/jails/a"), PathBuf::from("/dev/md0"))]);
}

#[test]
fn jail_exec_release_after_jail_unmounted_detaches_the_unit() {
    let m = host(Host::Ufs);
    let j = Jail { release: None, ..jail1() };
    j.start(&m).unwrap();
    j.stop(&m).unwrap();
    assert!(m.md_mounts().is_empty());
    assert_eq!(m.unit_numbers(), [0], "jail(8) unmounted; the unit is still attached");
    // What exec.release runs: the directory is a plain directory now.
    let (code, _, err) = mount_md(&m, &words("mount_md -u -X /var/jails/j1"));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("DEBUG: detached /dev/md0"), "{err}");
    assert!(m.unit_numbers().is_empty(), "{}", log(&m));
    // Run again: nothing to do, still success.
    let (code, _, _) = mount_md(&m, &words("mount_md -u /var/jails/j1"));
    assert_eq!(code, 0);
}

#[test]
fn jail_release_leaves_units_mount_md_did_not_attach() {
    let m = host(Host::Ufs);
    // mdconfig -a -t vnode -f /images/j1.img (no label), mounted by hand.
    let mut k = m.clone();
    let req = mount_md::platform::freebsd::requests::AttachRequest {
        md_type: mount_md::platform::freebsd::abi::MD_VNODE,
        options: 0x15,
        unit: 0,
        mediasize: 64 * MIB,
        file: Some(std::ffi::CString::new(IMG1).unwrap()),
        label: None,
    };
    assert_eq!(k.attach(&req).unwrap(), 0);
    k.pause(std::time::Duration::from_secs(1));
    for argv in ["mount_md -u md0", "mount_md -u /images/j1.img"] {
        let (code, _, err) = mount_md(&m, &words(argv));
        assert_eq!(code, 1, "{argv}");
        assert!(err.contains("/dev/md0 was not attached by mount_md"), "{argv}: {err}");
        assert_eq!(m.unit_numbers(), [0]);
    }
    // Nor is it reused: mount_md refuses rather than mount someone's unit.
    let (code, _, err) = mount_md(&m, &words("mount_md -P -F /images/j1.img md /var/jails/j1"));
    assert_eq!(code, 1);
    assert_eq!(err, "mount_md: /images/j1.img: /dev/md0 was not attached by mount_md; left alone (another tool attached it: when nothing uses it, mdconfig -d -u 0 detaches it)\n");
    assert!(m.md_mounts().is_empty());
    // Nor pre-detached when its unit is asked for: the attach finds it taken.
    let m = m.image("/images/other.img", 64 * MIB, Model::clean_ufs(), None);
    let (code, _, err) = mount_md(&m, &words("mount_md -P -F /images/other.img md0 /var/jails/j1"));
    assert_eq!(code, 1);
    assert_eq!(err, "mount_md: ioctl(/dev/mdctl, MDIOCATTACH): Device or resource busy\n");
    assert_eq!(m.unit_numbers(), [0]);
    assert_eq!(m.clone().query(0).unwrap().file, Some(PathBuf::from(IMG1)));
}

#[test]
fn jail_host_crash_then_start_checks_the_file_system_first() {
    let m = host(Host::Ufs);
    let j = jail1();
    j.start(&m).unwrap();
    m.crash();
    assert_eq!(m.content(IMG1), Content::Ufs { clean: false, fsmnt: J1.into(), softdep: true });
    // With --fsck=never the kernel mounts it as it is: soft updates without
    // a journal (newfs -U) mount read-write unclean, with a console
    // warning (ffs_mountfs). Unmounted, it is clean again; crash again.
    let (code, _, err) = mount_md(&m, &words("mount_md --fsck=never -P -F /images/j1.img md /var/jails/j1"));
    assert_eq!(code, 0, "{err}");
    assert!(log(&m).contains("WARNING: /var/jails/j1 was not properly dismounted"), "{}", log(&m));
    assert_eq!(mount_md(&m, &words("mount_md -u /var/jails/j1")).0, 0);
    j.start(&m).unwrap();
    m.crash();
    // The jail's own start: the superblock says not clean, fsck_ufs -p
    // runs, and the mount succeeds.
    j.start(&m).unwrap();
    assert!(log(&m).contains("fsck_ufs"), "{}", log(&m));
    assert!(matches!(m.content(IMG1), Content::Ufs { .. }));
    j.stop(&m).unwrap();
    assert!(m.unit_numbers().is_empty(), "{}", log(&m));
}

#[test]
fn jail_read_only_with_p_attaches_md_readonly() {
    let m = host(Host::Ufs);
    m.k().files.get_mut(Path::new(IMG1)).unwrap().writable = false;
    let (code, _, err) = mount_md(&m, &words("mount_md -o ro -P -F /images/j1.img md /var/jails/j1"));
    assert_eq!((code, err.as_str()), (0, ""));
    assert_ne!(m.clone().query(0).unwrap().options & MD_READONLY, 0);
    assert!(m.k().mounts[0].read_only);
    let (code, _, err) = mount_md(&m, &words("mount_md -u /var/jails/j1"));
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(m.unit_numbers().is_empty());
}

/// `-o ro` without `-P` would format a disk and mount the new, empty file
/// system read-only: refused before anything reaches the kernel, for an
/// image and for a malloc disk alike (so no MD_READONLY ever reaches a
/// malloc disk, which md.c `mdcreate_malloc` would refuse with EINVAL).
#[test]
fn jail_read_only_without_p_is_refused_before_the_kernel() {
    for line in ["mount_md -o ro -F /images/new.img md /mnt", "mount_md -M -s 16m -o ro md /mnt"] {
        let m = Model::new(Host::Ufs).dir("/mnt").image("/images/new.img", 64 * MIB, Content::Empty, None);
        let (code, _, err) = mount_md(&m, &words(line));
        assert_eq!(code, 1, "{line}");
        assert!(err.starts_with("mount_md: -o ro without -P: the new file system would be empty"), "{err}");
        assert!(!log(&m).contains("MDIOCATTACH"), "{}", log(&m));
        assert_eq!(m.content("/images/new.img"), Content::Empty);
    }
}

#[test]
fn jail_uzip_image_waits_for_the_uzip_provider() {
    let inner = Box::new(Model::clean_ufs());
    let m = Model::new(Host::Ufs).dir("/mnt").image("/images/base.uzip", 32 * MIB, Content::Uzip(inner), None);
    let (code, _, err) = mount_md(&m, &words("mount_md -P -o ro -F /images/base.uzip md.uzip /mnt"));
    assert_eq!((code, err.as_str()), (0, ""), "{}", log(&m));
    assert_eq!(m.md_mounts(), [(PathBuf::from("/mnt"), PathBuf::from("/dev/md0.uzip"))]);
    let (code, _, err) = mount_md(&m, &words("mount_md -u /mnt"));
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(m.unit_numbers().is_empty() && m.md_mounts().is_empty());
}

#[test]
fn jail_detach_during_a_retaste_is_retried() {
    // newfs closes the disk, GEOM re-tastes it; the mount then fails and
    // the rollback's detach meets the re-taste.
    let m = Model::new(Host::Ufs).dir("/mnt");
    let (code, _, err) = mount_md(&m, &words("mount_md -M -s 16m -o nosuchopt md /mnt"));
    assert_eq!(code, 1);
    assert_eq!(err, "mount_md: /dev/md0: mount option <nosuchopt> is unknown: Invalid argument\n");
    assert!(m.unit_numbers().is_empty(), "{}", log(&m));
    // The same for -u right after an unmount by hand.
    let j = jail1();
    let m = host(Host::Ufs);
    j.start(&m).unwrap();
    let mut k = m.clone();
    k.unmount(Path::new(J1), false).unwrap();
    let (code, _, err) = mount_md(&m, &words("mount_md -u /var/jails/j1"));
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(m.unit_numbers().is_empty());
}

#[test]
fn jail_busy_jail_is_not_detached_and_says_so() {
    let m = host(Host::Ufs);
    jail1().start(&m).unwrap();
    m.open_file_on(J1);
    let (code, _, err) = mount_md(&m, &words("mount_md -u /var/jails/j1"));
    assert_eq!(code, 1);
    assert!(err.contains("in use, nothing detached (-f forces)"), "{err}");
    assert_eq!(m.unit_numbers(), [0]);
}

#[test]
fn jail_mount_a_twice_is_one_unit_one_mount() {
    for (line, dialect) in
        [(LINE1, Dialect::Modern), ("md /var/jails/j1 md rw,-P,-F/images/j1.img 0 0", Dialect::Old6x)]
    {
        let m = host(Host::Zfs);
        mount8(&m, line, dialect).unwrap();
        mount8(&m, line, dialect).unwrap_or_else(|e| panic!("{dialect:?}: {e}\n{}", log(&m)));
        assert_eq!(m.unit_numbers(), [0]);
        assert_eq!(m.md_mounts().len(), 1);
    }
}

#[test]
fn jail_options_only_mount8_knows_are_not_sent_to_nmount() {
    let m = host(Host::Ufs);
    let (code, _, err) = mount_md(
        &m,
        &words("mount_md -o rw,late,failok,noauto,userquota,mountprog=/x -P -F /images/j1.img md /var/jails/j1"),
    );
    assert_eq!((code, err.as_str()), (0, ""), "{}", log(&m));
}

#[test]
fn jail_non_ascii_image_name_reads_back_exactly() {
    let name = PathBuf::from(std::ffi::OsString::from(String::from("/images/caf\u{e9} <&>.img")));
    let m = Model::new(Host::Zfs).dir(J1).image(&name, 64 * MIB, Model::clean_ufs(), None);
    let argv =
        vec!["mount_md".to_string(), "-P".into(), "-F".into(), name.display().to_string(), "md".into(), J1.into()];
    let (code, _, err) = mount_md(&m, &argv);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(m.confxml().contains("caf&#xC3;&#xA9; &#x3C;&#x26;&#x3E;.img"), "{}", m.confxml());
    assert_eq!(m.clone().list_units().unwrap()[0].file.as_deref(), Some(name.as_path()));
    let (code, _, err) = mount_md(&m, &[String::from("mount_md"), "-u".into(), name.display().to_string()]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(m.unit_numbers().is_empty());
}

#[test]
fn jail_other_type_with_a_disk_is_refused_before_anything_runs() {
    let m = host(Host::Ufs);
    for t in ["msdosfs", "cd9660", "tmpfs"] {
        let (code, _, err) = mount_md(&m, &words(&format!("mount_md -P -T {t} -F /images/j1.img md /var/jails/j1")));
        assert_eq!(code, 1);
        // tmpfs is refused by the core rule for both systems (not a file
        // system on a disk), the others by the FreeBSD backend.
        let why = if t == "tmpfs" { "not a file system on a disk" } else { "mount_md mounts md disks only as ufs" };
        assert!(err.starts_with(&format!("mount_md: -T {t}: {why}")), "{err}");
        assert!(m.unit_numbers().is_empty());
    }
}

/// mount(8) passes an fstab line's dash options in their place, so
/// `-F/usr/jails/j.img` can come first (FreeBSD 6.x drops `rw`, so there
/// it always does).
#[test]
fn jail_fstab_line_with_dash_f_first() {
    for (line, dialect) in [
        ("md /var/jails/j1 ufs -F/usr/jails/j.img,-P,rw,mountprog=/usr/local/sbin/mount_md 0 0", Dialect::Modern),
        ("md /var/jails/j1 md rw,-F/usr/jails/j.img,-P 0 0", Dialect::Old6x),
    ] {
        let m = Model::new(Host::Ufs).dir(J1).image("/usr/jails/j.img", 64 * MIB, Model::clean_ufs(), None);
        mount8(&m, line, dialect).unwrap_or_else(|e| panic!("{dialect:?}: {e}\n{}", log(&m)));
        assert_eq!(m.md_mounts(), [(PathBuf::from(J1), PathBuf::from("/dev/md0"))]);
    }
}

/// `--create` makes the image under its temporary name, which MDIOCATTACH
/// is given (md(4) opens by path), and renames it once newfs is done; the
/// unit keeps the old name as its `md_file`. On ZFS the cut ident is
/// confirmed through that file, so the published name stands in for the
/// one that is gone: a second mount finds the unit, `-u IMAGE` detaches it.
#[test]
fn jail_a_created_image_is_found_after_its_rename_on_zfs() {
    let m = Model::new(Host::Zfs).dir(J1).dir("/images");
    // sparse: --create=reserve is refused on ZFS (issue22.rs).
    let line = "mount_md -P --create=sparse -s 64m -F /images/j1.img md /var/jails/j1";
    let (code, _, err) = mount_md(&m, &words(line));
    assert_eq!(code, 0, "{err}\n{}", log(&m));
    assert!(m.k().files.contains_key(Path::new(IMG1)), "published under its name");
    assert_eq!(m.k().files.len(), 1, "no temporary left");
    let q = m.clone().query(0).unwrap();
    assert_eq!(q.file.as_deref(), Some(Path::new("/images/.j1.img.mount_md-new")), "md_file keeps the old name");
    assert_eq!(m.content(IMG1), Content::Ufs { clean: false, fsmnt: J1.into(), softdep: true }, "formatted, mounted");

    // The same line again (mount -a twice): already mounted, nothing new.
    let (code, _, err) = mount_md(&m, &words(line));
    assert_eq!(code, 0, "{err}");
    assert_eq!(m.unit_numbers(), [0]);
    // Unmounted by hand; -u IMAGE still finds the unit by the image.
    m.clone().unmount(Path::new(J1), false).unwrap();
    let (code, _, err) = mount_md(&m, &words("mount_md -u /images/j1.img"));
    assert_eq!(code, 0, "{err}");
    assert!(m.unit_numbers().is_empty(), "{}", log(&m));
}

/// A jail image someone other than root can write (here owned by the
/// jail's admin, uid 1001) is mounted with MNT_NOSUID through jail(8)'s
/// mount.fstab, so a set-user-ID file planted in it gives nothing; root's
/// own 0600 image in a root-owned directory is mounted as the line says;
/// `suid` named on the line is kept, with a warning.
#[test]
fn a_jail_image_someone_else_can_write_is_mounted_nosuid() {
    let m = host(Host::Zfs);
    let j = jail1();
    j.start(&m).unwrap();
    assert!(!m.k().mounts.last().unwrap().nosuid, "root's image: as the line says\n{}", log(&m));
    j.stop(&m).unwrap();
    m.k().files.get_mut(Path::new(IMG1)).unwrap().owners[0] = (1001, 0o100600);
    j.start(&m).unwrap();
    assert!(m.k().mounts.last().unwrap().nosuid, "a tenant's image: nosuid\n{}", log(&m));
    j.stop(&m).unwrap();
    m.k().files.get_mut(Path::new(IMG1)).unwrap().owners = [(0, 0o100600), (1001, 0o40755)];
    let (code, _, err) = mount_md(&m, &words("mount_md -P -X -F /images/j1.img md /var/jails/j1"));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("is in a directory owned by uid 1001: mounting it nosuid"), "{err}");
    assert!(m.k().mounts.last().unwrap().nosuid);
    assert_eq!(mount_md(&m, &words("mount_md -u /var/jails/j1")).0, 0);
    let (code, _, err) = mount_md(&m, &words("mount_md -P -o suid -F /images/j1.img md /var/jails/j1"));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("-o suid: its set-user-ID and set-group-ID files take effect"), "{err}");
    assert!(!m.k().mounts.last().unwrap().nosuid);
    assert_eq!(mount_md(&m, &words("mount_md -u /var/jails/j1")).0, 0);
    assert!(m.unit_numbers().is_empty());
}

/// `-P` on an image that was never formatted: said to be empty, with the
/// way forward, and nothing stays attached.
#[test]
fn jail_empty_image_with_p_is_called_empty() {
    let m = Model::new(Host::Ufs).dir("/mnt").image("/images/e.img", 64 * MIB, Content::Empty, None);
    let (code, _, err) = mount_md(&m, &words("mount_md -P -F /images/e.img md /mnt"));
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err,
        "mount_md: /images/e.img: is empty (all zeros where a file system begins): there is nothing to mount; \
         drop -P to format it, or use --create to make and format a missing image\n"
    );
    assert!(m.unit_numbers().is_empty() && m.md_mounts().is_empty());
}

/// jail(8) (command.c `next_command`, `create_failed`): a start that fails
/// after mount.fstab unmounts the fstab lines again, but exec.release is
/// not among the commands it walks back through: the unit stays attached.
#[test]
fn jail_a_failed_start_is_undone_without_exec_release() {
    let m = host(Host::Ufs);
    let j = Jail { start_fails: true, ..jail1() };
    let e = j.start(&m).unwrap_err();
    assert!(e.contains("exec.start"), "{e}");
    assert!(m.md_mounts().is_empty(), "umount -t ufs on the way back");
    assert_eq!(m.unit_numbers(), [0], "no exec.release: the unit is left\n{}", log(&m));
    // exec.prepare, by contrast, is run again on the way back.
    let m = host(Host::Ufs);
    let j = Jail { start_fails: true, prepare: Some(RELEASE1), ..jail1() };
    j.start(&m).unwrap_err();
    let runs = m.k().log.iter().filter(|l| l.starts_with("[\"/usr/local/sbin/mount_md\", \"-u\"")).count();
    assert_eq!(runs, 2, "before mount.fstab and after its undoing\n{}", log(&m));
}

/// A dying jail's root stays busy: jail(8)'s umount fails, so does the
/// stop, and exec.release never runs.
#[test]
fn jail_stop_of_a_dying_jail_fails_at_the_umount() {
    let m = host(Host::Ufs);
    let j = jail1();
    j.start(&m).unwrap();
    m.dying_jail_root(J1, 5000);
    let e = j.stop(&m).unwrap_err();
    assert!(e.contains("umount") && e.contains("busy"), "{e}");
    assert_eq!(m.md_mounts().len(), 1);
    assert_eq!(m.unit_numbers(), [0]);
}

/// `--fsck=always` on a clean UFS: fsck_ufs really checks it (with -f;
/// without it fsck_ffs says "FILE SYSTEM CLEAN; SKIPPING CHECKS"), and the
/// message names what ran.
#[test]
fn fsck_always_on_a_clean_image_really_checks_it() {
    let m = host(Host::Ufs);
    let argv = words(&format!("mount_md --fsck=always -P -F {IMG1} md {J1}"));
    let (code, _, err) = mount_md(&m, &argv);
    assert_eq!(code, 0, "{err}");
    assert_eq!(m.k().fsck_checks, 1, "checked, not skipped\n{}", log(&m));
    assert_eq!(err, format!("mount_md: {IMG1}: ufs: --fsck=always: checked with fsck_ufs -f -p\n"));
}

/// The jail.conf block and fstab line of doc/recipes.md's "FreeBSD 12 and
/// later" recipe: (fstab line, exec.prepare, exec.release).
fn recipe() -> (String, Option<String>, Option<String>) {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("doc/recipes.md")).unwrap();
    let part = doc.split("\n## ").find(|s| s.starts_with("FreeBSD 12 and later")).expect("the recipe");
    let fstab = part.lines().find(|l| l.starts_with("    md ") && l.contains("mountprog=")).unwrap().trim().to_string();
    let param = |name: &str| {
        part.lines()
            .filter_map(|l| l.trim().strip_prefix(&format!("{name} = \"")))
            .map(|v| v.trim_end_matches("\";").to_string())
            .next()
    };
    (fstab, param("exec.prepare"), param("exec.release"))
}

/// Issue 22, item 4: a start that fails after mount.fstab, with the
/// documented recipe, leaves no mount and no unit (jail(8)'s walk back runs
/// exec.prepare again, not exec.release).
#[test]
fn jail_a_failed_start_with_the_recipe_leaves_no_unit() {
    let (line, prepare, release) = recipe();
    assert_eq!(line, LINE1, "the recipe's fstab line is the one these tests use");
    for h in [Host::Ufs, Host::Zfs] {
        let m = host(h);
        let j = Jail {
            fstab: vec![&line],
            prepare: prepare.as_deref(),
            release: release.as_deref(),
            dialect: Dialect::Modern,
            start_fails: true,
        };
        j.start(&m).unwrap_err();
        assert!(m.md_mounts().is_empty(), "{h:?}");
        assert!(m.unit_numbers().is_empty(), "{h:?}: a unit left after the failed start\n{}", log(&m));
        // And the jail starts and stops cleanly afterwards.
        let j = Jail { start_fails: false, ..j };
        j.start(&m).unwrap_or_else(|e| panic!("{e}\n{}", log(&m)));
        j.stop(&m).unwrap_or_else(|e| panic!("{e}\n{}", log(&m)));
        assert!(m.unit_numbers().is_empty() && m.md_mounts().is_empty(), "{h:?}");
    }
}

/// Issue 22, item 5: a unit being destroyed (its geom withering, shown
/// with `<wither/>` and no config in kern.geom.confxml) is not taken for
/// another tool's unit: `-u /dev/md0` run meanwhile finds nothing there.
#[test]
fn jail_a_withering_unit_is_not_foreign() {
    let m = host(Host::Ufs);
    m.k().wither_hold = 500;
    let j = jail1();
    j.start(&m).unwrap();
    j.stop(&m).unwrap();
    assert!(m.unit_numbers().is_empty());
    assert!(m.confxml().contains("<wither/>"), "md0 withers");
    let (code, _, err) = mount_md(&m, &words("mount_md -u /dev/md0"));
    assert_eq!((code, err.as_str()), (0, ""), "{}", log(&m));
    // And the jail starts again meanwhile.
    j.start(&m).unwrap_or_else(|e| panic!("{e}\n{}", log(&m)));
}
