//! Template images on FreeBSD, through the kernel model: `--create
//! --from=BASE` from a jail's fstab line, copy_file_range with ZFS block
//! cloning on (a clone) or off (a copy), `--clone=require`, and a base
//! attached read-write refused.
use crate::support::freebsd::jail::{mount_md, Dialect, Jail};
use crate::support::freebsd::model::{Content, Host, Model};
use crate::support::freebsd::words;
use crate::support::MIB;
use std::path::Path;

const J1: &str = "/var/jails/j1";
const BASE: &str = "/images/base.img";
const IMG1: &str = "/images/j1.img";
const LINE1: &str =
    "md /var/jails/j1 ufs rw,--create,--from=/images/base.img,-F/images/j1.img,mountprog=/usr/local/sbin/mount_md 0 0";
const RELEASE1: &str = "/usr/local/sbin/mount_md -u /var/jails/j1";

fn host(h: Host, bclone: bool) -> Model {
    let m = Model::new(h).dir(J1).dir("/images").image(BASE, 256 * MIB, Model::clean_ufs(), None);
    m.k().bclone = bclone;
    m
}

fn log(m: &Model) -> String {
    m.k().log.join("\n")
}

/// The recipe's jail: its first start makes j1.img from the base (a clone
/// on ZFS with block cloning), mounts it; stop and start again mount the
/// same image; the base is never changed or attached.
#[test]
fn a_jail_from_a_template_on_zfs_with_block_cloning() {
    let m = host(Host::Zfs, true);
    let j = Jail {
        fstab: vec![LINE1],
        release: Some(RELEASE1),
        dialect: Dialect::Modern,
        prepare: None,
        start_fails: false,
    };
    j.start(&m).unwrap_or_else(|e| panic!("{e}\n{}", log(&m)));
    assert!(log(&m).contains("copy_file_range /images/base.img -> /images/j1.img (Clone)"), "{}", log(&m));
    assert_eq!(m.k().files.len(), 2, "base and j1, no temporary left");
    assert_eq!(m.k().files[Path::new(IMG1)].size, 256 * MIB);
    assert_eq!(m.md_mounts().len(), 1);
    j.stop(&m).unwrap();
    j.start(&m).unwrap();
    assert_eq!(log(&m).matches("-> /images/j1.img (Clone)").count(), 1, "made once");
    j.stop(&m).unwrap();
    assert!(m.unit_numbers().is_empty());
    assert_eq!(m.content(BASE), Model::clean_ufs(), "the base is untouched");
}

/// -X says how it was made; without block cloning (UFS, or ZFS with it
/// off) it is a copy, and --clone=require refuses it, leaving nothing.
#[test]
fn a_copy_without_block_cloning_and_require_refusing_it() {
    for (h, bclone, how) in [
        (Host::Zfs, true, "a clone sharing every block with the base"),
        (Host::Zfs, false, "a copy by copy_file_range"),
        (Host::Ufs, true, "a copy by copy_file_range"),
    ] {
        let m = host(h, bclone);
        let line = "mount_md -X --create --from=/images/base.img -F /images/j1.img md /var/jails/j1";
        let (code, _, err) = mount_md(&m, &words(line));
        assert_eq!(code, 0, "{h:?} {bclone}: {err}\n{}", log(&m));
        assert!(err.contains(&format!("DEBUG: {IMG1}: made from the base in ")), "{err}");
        assert!(err.contains(how), "{h:?} {bclone}: {err}");
        assert_eq!(mount_md(&m, &words("mount_md -u /var/jails/j1")).0, 0);

        let m = host(h, bclone);
        let line = "mount_md --create --from=/images/base.img --clone=require -F /images/j1.img md /var/jails/j1";
        let (code, _, err) = mount_md(&m, &words(line));
        if h == Host::Zfs && bclone {
            assert_eq!(code, 0, "{err}");
            continue;
        }
        assert_eq!(code, 1);
        assert_eq!(
            err,
            "mount_md: /images/j1.img: cannot be made a clone of its base (Operation not supported), \
             and --clone=require forbids a copy (--clone=auto copies it)\n"
        );
        assert_eq!(m.k().files.len(), 1, "nothing made: {:?}", m.k().files.keys().collect::<Vec<_>>());
        assert!(m.unit_numbers().is_empty());
    }
}

/// A base attached read-write (here mounted by mount_md) is refused with
/// its unit and mount point, nothing made; attached read-only, it is fine.
#[test]
fn a_base_attached_read_write_is_refused() {
    let m = host(Host::Zfs, true).dir("/mnt/base");
    assert_eq!(mount_md(&m, &words("mount_md -P -F /images/base.img md /mnt/base")).0, 0);
    let line = "mount_md --create --from=/images/base.img -F /images/j1.img md /var/jails/j1";
    let (code, _, err) = mount_md(&m, &words(line));
    assert_eq!(code, 1, "{}", log(&m));
    assert_eq!(
        err,
        "mount_md: /images/base.img: is attached read-write as /dev/md0 (mounted on /mnt/base): \
         a copy of it could be torn; detach it or attach it read-only first\n"
    );
    assert!(!m.k().files.contains_key(Path::new(IMG1)));
    assert_eq!(mount_md(&m, &words("mount_md -u /mnt/base")).0, 0);
    assert_eq!(mount_md(&m, &words("mount_md -P -o ro -F /images/base.img md /mnt/base")).0, 0);
    let (code, _, err) = mount_md(&m, &words(line));
    assert_eq!(code, 0, "{err}\n{}", log(&m));
    assert_eq!(m.content(IMG1), Content::Ufs { clean: false, fsmnt: J1.into(), softdep: true });
}

/// `-s` with `--from` is refused on FreeBSD before anything is made (the
/// grow at creation is Linux's; growfs there is `-r`'s, afterwards).
#[test]
fn s_with_from_is_refused_before_anything_is_made() {
    let m = host(Host::Zfs, true);
    let line = "mount_md --create --from=/images/base.img -s 512m -F /images/j1.img md /var/jails/j1";
    let (code, _, err) = mount_md(&m, &words(line));
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err,
        "mount_md: --from with -s: this system does not grow a new image made from a base; \
         make it without -s, then grow it with -r\n"
    );
    assert_eq!(m.k().files.len(), 1, "nothing made: {:?}", m.k().files.keys().collect::<Vec<_>>());
    assert!(m.unit_numbers().is_empty());
}
