//! `-r` and `--list` on the kernel model (tests/support/freebsd/model.rs),
//! after a jail(8) start: the unit found as the lifecycle finds it.
use crate::support::freebsd::jail::{self, Dialect, Jail};
use crate::support::freebsd::model::{Host, Model};
use crate::support::freebsd::words;
use crate::support::MIB;
use mount_md::output::Output;
use mount_md::platform::freebsd::FreeBsd;
use mount_md::request::{GrowRequest, Target};

const IMG: &str = "/images/j1.img";
const J1: &str = "/var/jails/j1";
const LINE1: &str = "md /var/jails/j1 ufs rw,-P,-F/images/j1.img,mountprog=/usr/local/sbin/mount_md 0 0";

fn started(host: Host) -> Model {
    let m = Model::new(host).dir(J1).image(IMG, 64 * MIB, Model::clean_ufs(), None);
    let j = Jail {
        fstab: vec![LINE1],
        release: Some("/usr/local/sbin/mount_md -u /var/jails/j1"),
        dialect: Dialect::Modern,
        prepare: None,
        start_fails: false,
    };
    j.start(&m).unwrap();
    m
}

fn grow_to(m: &Model, target: Target, size: u64) -> std::result::Result<(), String> {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut io = Output { prog: "mount_md", out: &mut out, err: &mut err };
    let req = GrowRequest { target, size, size_note: None, dry_run: false, debug: false };
    mount_md::grow::run(&mut FreeBsd::with_sys(m.clone()), &req, &mut io).map_err(|e| e.to_string())
}

/// #14 on FreeBSD: grow finds the unit as the lifecycle does. On a ZFS
/// host the ident is cut (31 characters) and confirmed through the unit's
/// file; the unit of a mount is found by `st_rdev`.
#[test]
fn grow_finds_the_unit_of_a_cut_ident_and_of_a_mount() {
    for host in [Host::Ufs, Host::Zfs] {
        for (target, size) in [(Target::Path(IMG.into()), 128 * MIB), (Target::Path(J1.into()), 256 * MIB)] {
            let m = started(host);
            if host == Host::Zfs {
                let k = m.k();
                assert_eq!(k.units[&0].ident.len(), 31, "the model cuts ZFS idents");
            }
            grow_to(&m, target.clone(), size).unwrap_or_else(|e| panic!("{host:?} {target:?}: {e}"));
            assert_eq!(m.k().units[&0].mediasize, size, "{host:?} {target:?}");
            assert_eq!(m.unit_numbers(), [0], "grown in place, no second unit");
        }
    }
}

/// `--list` on FreeBSD reads the mark from `md_label` and the mount by
/// `st_rdev`; after a jail start the unit is listed as mount_md's.
#[test]
fn list_after_a_jail_start() {
    let m = started(Host::Zfs);
    let units = mount_md::list::collect(&mut FreeBsd::with_sys(m.clone())).unwrap();
    let units = mount_md::list::table::select(units, false);
    assert_eq!(units.len(), 1);
    assert_eq!(
        String::from_utf8(mount_md::list::table::text(&units, true)).unwrap(),
        "DEVICE   IMAGE          MOUNTPOINT    TYPE SIZE     FSSIZE     USED AVAIL      MODE DIO OWNER    CRYPT\n\
         /dev/md0 /images/j1.img /var/jails/j1 ufs  67108864 1073741824 4096 1073737728 rw   -   mount_md -\n"
    );
    assert_eq!(
        mount_md::list::table::json(&units),
        "{\"mount_md\": [\n  {\"device\": \"/dev/md0\", \"unit\": 0, \"image\": \"/images/j1.img\", \"deleted\": null, \
         \"mountpoint\": \"/var/jails/j1\", \"type\": \"ufs\", \"size\": 67108864, \"fs_size\": 1073741824, \"used\": 4096, \
         \"available\": 1073737728, \"readonly\": false, \"direct_io\": null, \"owner\": \"mount_md\", \
         \"mark\": \"mount_md:dev=12736845312519347813,ino=1001:/var/jails/j1\", \"crypt\": null}\n]}\n"
    );
    // The JSON validates against the schema the Linux output does.
    let v: serde_json::Value = serde_json::from_str(&mount_md::list::table::json(&units)).unwrap();
    assert_eq!(crate::support::schema::violations(&crate::support::schema::load("list"), &v), Vec::<String>::new());
    // A remount to ro (nmount with MNT_RDONLY in the model's table) shows as the mount's ro.
    let ro = {
        let mut k = m.k();
        k.mounts.iter_mut().for_each(|x| x.read_only = true);
        drop(k);
        mount_md::list::collect(&mut FreeBsd::with_sys(m.clone())).unwrap()
    };
    assert_eq!(ro.iter().find(|r| r.listed.unit == 0).unwrap().read_only, Some(true));
}

/// md(4) keeps the path an image was attached by (md.c `mdcreate_vnode`):
/// for one `--create` made, the temporary name it was published from. -r
/// finds the file under its published name, by identity.
#[test]
fn grow_of_a_created_image_after_its_rename() {
    for host in [Host::Ufs, Host::Zfs] {
        let m = Model::new(host).dir("/var/jails/j1").dir("/images");
        let line = words("mount_md -P --create=sparse -s 64m -F /images/j1.img md /var/jails/j1");
        let (code, _, err) = jail::mount_md(&m, &line);
        assert_eq!(code, 0, "{host:?}: {err}");
        grow_to(&m, Target::Path("/var/jails/j1".into()), 128 * MIB).unwrap_or_else(|e| panic!("{host:?}: {e}"));
        assert_eq!(m.k().units[&0].mediasize, 128 * MIB, "{host:?}");
    }
}

/// `-o update,ro` (what FreeBSD's `mount -u -o ro` passes a mount
/// program) remounts through nmount(2) with MNT_UPDATE on the model
/// (vfs_domount_update): the mount turns read-only and back; the md unit
/// stays as attached (md(4) has no way to change that); another size is
/// refused before the kernel.
#[test]
fn remount_through_nmount_update() {
    let m = started(Host::Ufs);
    let ro = |m: &Model| m.k().mounts.iter().find(|x| x.on == std::path::Path::new(J1)).map(|x| x.read_only);
    assert_eq!(ro(&m), Some(false));
    let (code, out, err) = jail::mount_md(&m, &words("mount_md -o update,ro md /var/jails/j1"));
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    assert_eq!(ro(&m), Some(true));
    assert!(
        m.k()
            .log
            .iter()
            .any(|l| l.contains("nmount(ro, fstype=ufs, fspath=/var/jails/j1, from=/dev/md0")
                && l.contains("MNT_UPDATE")),
        "{:?}",
        m.k().log
    );
    // --list shows the mount's ro.
    let rows = mount_md::list::collect(&mut FreeBsd::with_sys(m.clone())).unwrap();
    assert_eq!(rows.iter().find(|r| r.listed.unit == 0).unwrap().read_only, Some(true));
    let (code, _, err) = jail::mount_md(&m, &words("mount_md -o update,rw /var/jails/j1"));
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(ro(&m), Some(false));
    let (code, _, err) = jail::mount_md(&m, &words("mount_md -o update,ro -s 128m md /var/jails/j1"));
    assert_eq!(code, 1);
    assert!(err.contains("a remount does not change the size"), "{err}");
    assert_eq!(ro(&m), Some(false), "nothing changed");
}
