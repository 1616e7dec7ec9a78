//! `-r` and `--list` on the kernel model (tests/support/freebsd/model.rs),
//! after a jail(8) start: the unit found as the lifecycle finds it.
use crate::support::freebsd::jail::{self, Dialect, Jail};
use crate::support::freebsd::model::{Host, Model};
use crate::support::freebsd::words;
use crate::support::MIB;
use mount_md::exec::Output;
use mount_md::platform::freebsd::FreeBsd;
use mount_md::request::{GrowRequest, ReleaseTarget};

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

fn grow_to(m: &Model, target: ReleaseTarget, size: u64) -> std::result::Result<(), String> {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut io = Output { prog: "mount_md", out: &mut out, err: &mut err };
    let req = GrowRequest { target, size, dry_run: false, debug: false };
    mount_md::grow::run(&mut FreeBsd::with_sys(m.clone()), &req, &mut io).map_err(|e| e.to_string())
}

/// #14 on FreeBSD: grow finds the unit as the lifecycle does. On a ZFS
/// host the ident is cut (31 characters) and confirmed through the unit's
/// file; the unit of a mount is found by `st_rdev`.
#[test]
fn grow_finds_the_unit_of_a_cut_ident_and_of_a_mount() {
    for host in [Host::Ufs, Host::Zfs] {
        for (target, size) in
            [(ReleaseTarget::Path(IMG.into()), 128 * MIB), (ReleaseTarget::Path(J1.into()), 256 * MIB)]
        {
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
    let units = mount_md::list::select(units, false);
    assert_eq!(units.len(), 1);
    assert_eq!(
        String::from_utf8(mount_md::list::line(&units[0])).unwrap(),
        "/dev/md0 /images/j1.img /var/jails/j1 67108864 4096 rw mount_md:dev=12736845312519347813,ino=1001:/var/jails/j1"
    );
    assert_eq!(
        mount_md::list::json(&units),
        "[\n  {\"device\": \"/dev/md0\", \"unit\": 0, \"image\": \"/images/j1.img\", \"deleted\": null, \"mountpoint\": \"/var/jails/j1\", \
         \"size\": 67108864, \"used\": 4096, \"readonly\": false, \"mark\": \"mount_md:dev=12736845312519347813,ino=1001:/var/jails/j1\", \
         \"foreign\": false}\n]\n"
    );
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
        grow_to(&m, ReleaseTarget::Path("/var/jails/j1".into()), 128 * MIB).unwrap_or_else(|e| panic!("{host:?}: {e}"));
        assert_eq!(m.k().units[&0].mediasize, 128 * MIB, "{host:?}");
    }
}
