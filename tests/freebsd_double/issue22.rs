//! Issue 22's scenarios through the kernel model: each failed on the code
//! before the fix.
use crate::support::freebsd::jail::{mount_md, Dialect, Jail};
use crate::support::freebsd::model::{ident, Content, Host, Model, Store};
use crate::support::freebsd::words;
use crate::support::MIB;
use mount_md::platform::freebsd::requests::nmount_request;
use mount_md::platform::freebsd::MdSys;
use std::ffi::OsStr;
use std::path::Path;

const J1: &str = "/var/jails/j1";
const IMG1: &str = "/images/j1.img";

fn log(m: &Model) -> String {
    m.k().log.join("\n")
}

fn run(m: &Model, line: &str) -> (i32, String) {
    let (code, _, err) = mount_md(m, &words(line));
    (code, err)
}

/// A marked unit left holding IMG1's inode (mounted, then unmounted with
/// umount(8) alone), then `mv restored.img j1.img` with other data whose
/// cut ident on ZFS is the same.
fn leftover_then_replaced() -> (Model, u32) {
    let m = Model::new(Host::Zfs).dir(J1).image(IMG1, 64 * MIB, Model::clean_ufs(), None);
    let (code, err) = run(&m, &format!("mount_md -P -F {IMG1} md {J1}"));
    assert_eq!(code, 0, "{err}");
    m.clone().unmount(Path::new(J1), false).unwrap();
    let old = m.unit_numbers()[0];
    let restored = Content::Ufs { clean: true, fsmnt: "/restored".into(), softdep: true };
    let m = m.image("/images/restored.img", 64 * MIB, restored, None);
    let a = m.k().files[Path::new(IMG1)].id;
    let b = m.k().files[Path::new("/images/restored.img")].id;
    assert_eq!(ident(a), ident(b), "one dataset, one cut ident");
    m.rename("/images/restored.img", IMG1);
    (m, old)
}

/// Item 1: the leftover unit still holds the old, unlinked inode; the next
/// mount uses the new file, not the leftover (whose data would be lost).
#[test]
fn a_replaced_image_under_a_leftover_unit_on_zfs_is_not_reused() {
    let (m, _) = leftover_then_replaced();
    let (code, err) = run(&m, &format!("mount_md -P -F {IMG1} md {J1}"));
    assert_eq!(code, 0, "{err}\n{}", log(&m));
    let new = m.k().files[Path::new(IMG1)].id;
    let k = m.k();
    let mounted = k.mounts.iter().find(|x| x.on == Path::new(J1)).and_then(|x| x.unit).expect("mounted");
    assert!(matches!(k.units[&mounted].store, Store::Vnode(id) if id == new), "the new file is mounted\n{:?}", k.log);
    assert_eq!(k.units.len(), 1, "the leftover was detached");
    assert!(k.kept.is_empty(), "nothing holds the replaced file any more");
}

/// Item 1: `-u IMAGE` does not take the leftover (it holds another file)
/// for the image's unit.
#[test]
fn u_image_does_not_release_a_leftover_of_a_replaced_image() {
    let (m, old) = leftover_then_replaced();
    let (code, err) = run(&m, &format!("mount_md -u {IMG1}"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(m.unit_numbers(), [old], "not the image's unit: left for -u DIR\n{}", log(&m));
    let (code, err) = run(&m, &format!("mount_md -u {J1}"));
    assert_eq!(code, 0, "{err}");
    assert!(m.unit_numbers().is_empty());
}

/// Item 5: a kernel that drops md_label: the attach fails clearly and no
/// unit is left.
#[test]
fn a_kernel_that_drops_the_label_fails_the_attach() {
    let m = Model::new(Host::Ufs).dir(J1).image(IMG1, 64 * MIB, Model::clean_ufs(), None);
    m.k().keeps_label = false;
    let (code, err) = run(&m, &format!("mount_md -P -F {IMG1} md {J1}"));
    assert_eq!(code, 1);
    assert!(err.contains("md_label"), "{err}");
    assert!(m.unit_numbers().is_empty() && m.md_mounts().is_empty(), "{}", log(&m));
}

/// Item 2: `-u IMAGE` / `-u DIR` with a nullfs stacked on the md file
/// system: the nullfs stays; the md file system is unmounted by its fsid,
/// which the kernel refuses while the nullfs covers it.
#[test]
fn u_with_a_nullfs_on_top_leaves_the_nullfs() {
    for target in [IMG1, J1] {
        let m = Model::new(Host::Ufs).dir(J1).image(IMG1, 64 * MIB, Model::clean_ufs(), None);
        let (code, err) = run(&m, &format!("mount_md -P -F {IMG1} md {J1}"));
        assert_eq!(code, 0, "{err}");
        let req = nmount_request("nullfs", &[], Path::new(J1), OsStr::new("/srv/shared"), false).unwrap();
        m.clone().nmount(&req).unwrap();
        let (code, err) = run(&m, &format!("mount_md -u {target}"));
        let nullfs = m.k().mounts.iter().any(|x| x.fstype == "nullfs");
        assert!(nullfs, "{target}: the nullfs was unmounted\n{err}\n{}", log(&m));
        if code == 0 {
            assert!(m.unit_numbers().is_empty() && m.md_mounts().is_empty(), "{target}");
        } else {
            // -u IMAGE: the md file system's unmount by fsid is EBUSY; -u
            // DIR: the topmost mount there is the nullfs, not ours.
            assert!(err.contains("busy") || err.contains("not an md(4) disk"), "{target}: {err}");
            assert_eq!(m.md_mounts().len(), 1, "{target}");
            assert_eq!(m.unit_numbers().len(), 1, "{target}");
        }
    }
}

/// Item 4: `-u DIR` on a dying jail's root waits for its last references,
/// says what it waits for, then unmounts and detaches.
#[test]
fn u_dir_waits_for_a_dying_jail() {
    let m = Model::new(Host::Ufs).dir(J1).image(IMG1, 64 * MIB, Model::clean_ufs(), None);
    let line = "md /var/jails/j1 ufs rw,-P,-F/images/j1.img,mountprog=/usr/local/sbin/mount_md 0 0";
    let release = "/usr/local/sbin/mount_md -u /var/jails/j1";
    let j =
        Jail { fstab: vec![line], prepare: None, release: Some(release), dialect: Dialect::Modern, start_fails: false };
    j.start(&m).unwrap();
    m.dying_jail_root(J1, 20_000);
    j.stop(&m).unwrap_err();
    let (code, err) = run(&m, &format!("mount_md -u {J1}"));
    assert_eq!(code, 0, "{err}\n{}", log(&m));
    assert!(err.contains("dying jail"), "says what it waits for: {err}");
    assert!(m.unit_numbers().is_empty() && m.md_mounts().is_empty());
}

/// Item 6: `--create=reserve` on ZFS is refused with what does hold; no
/// image is made.
#[test]
fn create_reserve_on_zfs_is_refused() {
    let m = Model::new(Host::Zfs).dir(J1).dir("/tank");
    let (code, err) = run(&m, &format!("mount_md --create=reserve -s 64m -F /tank/j.img md {J1}"));
    assert_eq!(code, 1);
    assert!(err.contains("refreservation") && err.contains("zvol"), "{err}");
    assert!(m.k().files.is_empty() && m.unit_numbers().is_empty());
}

/// Item 1: a unit whose file is known only through a cut ident and the
/// path md(4) recorded (an older mark without the image's identity, on
/// ZFS) is never taken for the image: `-u IMAGE` and `-r IMAGE` say it is
/// ambiguous and change nothing.
#[test]
fn u_and_r_image_with_only_a_cut_ident_candidate_are_ambiguous() {
    use mount_md::platform::freebsd::abi::{MD_AUTOUNIT, MD_VNODE};
    use mount_md::platform::freebsd::requests::AttachRequest;
    use std::ffi::CString;
    let m = Model::new(Host::Zfs).dir(J1).image(IMG1, 64 * MIB, Model::clean_ufs(), None);
    let req = AttachRequest {
        md_type: MD_VNODE,
        options: MD_AUTOUNIT,
        unit: 0,
        mediasize: 64 * MIB,
        file: Some(CString::new(IMG1).unwrap()),
        label: Some(CString::new("mount_md:/var/jails/j1").unwrap()),
    };
    let u = m.clone().attach(&req).unwrap();
    m.clone().pause(std::time::Duration::from_millis(200));
    for line in [format!("mount_md -u {IMG1}"), format!("mount_md -r -s 128m {IMG1}")] {
        let (code, err) = run(&m, &line);
        assert_eq!(code, 1, "{line}: {err}");
        assert!(err.contains("ambiguous, nothing changed"), "{line}: {err}");
        assert_eq!(m.unit_numbers(), [u], "{line}");
    }
    // By its mount point's mark it is released.
    let (code, err) = run(&m, &format!("mount_md -u {J1}"));
    assert_eq!(code, 0, "{err}");
    assert!(m.unit_numbers().is_empty());
}
