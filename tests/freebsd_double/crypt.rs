//! `--encrypt=geli` through jail(8)'s sequence on the kernel model, geli
//! itself modelled from its sources (tests/support/freebsd/geli.rs).
use crate::support::freebsd::jail::{mount_md, Dialect, Jail};
use crate::support::freebsd::model::{Content, Host, Model};
use crate::support::freebsd::words;
use crate::support::{TempDir, MIB};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const J1: &str = "/var/jails/j1";
const IMG1: &str = "/images/j1.img";

fn key_file(tmp: &TempDir, name: &str, bytes: &[u8], mode: u32) -> PathBuf {
    let p = tmp.join(name);
    std::fs::write(&p, bytes).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

fn line(key: &Path, extra: &str) -> String {
    format!(
        "md {J1} ufs rw,{extra}--encrypt=geli,--key-file={},-F{IMG1},mountprog=/usr/local/sbin/mount_md 0 0",
        key.display()
    )
}

fn jail(line: &str) -> Jail<'_> {
    Jail {
        fstab: vec![line],
        release: Some("/usr/local/sbin/mount_md -u /var/jails/j1"),
        dialect: Dialect::Modern,
        prepare: None,
        start_fails: false,
    }
}

fn log(m: &Model) -> String {
    m.k().log.join("\n")
}

/// The fstab line creates the image with a geli header, the jail runs on
/// `/dev/md0.eli`; stop leaves no unit and no provider; the next start
/// mounts what the first made.
#[test]
fn encrypted_jail_create_stop_start_stop() {
    let tmp = TempDir::new("geli-jail");
    let key = key_file(&tmp, "j1.key", b"0123456789abcdef0123456789abcdef", 0o600);
    let m = Model::new(Host::Zfs).dir(J1).dir("/images");
    let line = line(&key, "-P,-s64m,--create=sparse,");
    let j = jail(&line);
    for round in 0..3 {
        j.start(&m).unwrap_or_else(|e| panic!("start {round}: {e}\n{}", log(&m)));
        assert_eq!(m.md_mounts(), [(PathBuf::from(J1), PathBuf::from("/dev/md0.eli"))], "{}", log(&m));
        j.stop(&m).unwrap_or_else(|e| panic!("stop {round}: {e}\n{}", log(&m)));
        assert!(m.unit_numbers().is_empty(), "units left\n{}", log(&m));
        assert!(m.k().geli.attached.is_empty(), "providers left\n{}", log(&m));
        match m.content(IMG1) {
            Content::Geli { inner, .. } => assert!(matches!(*inner, Content::Ufs { clean: true, .. }), "{inner:?}"),
            other => panic!("not a geli image: {other:?}"),
        }
    }
    let geli: Vec<String> = m.k().log.iter().filter(|l| l.contains("geli")).cloned().collect();
    assert!(geli.iter().all(|l| !l.contains("0123456789abcdef")), "key on an argument list: {geli:?}");
    assert_eq!(geli.iter().filter(|l| l.contains("\"init\"")).count(), 1, "{geli:?}");
}

/// A wrong key: one line, non-zero, nothing attached, the image as it was.
#[test]
fn a_wrong_key_leaves_nothing_attached() {
    let tmp = TempDir::new("geli-wrong");
    let good = key_file(&tmp, "good.key", b"the right key", 0o600);
    let bad = key_file(&tmp, "bad.key", b"not the key", 0o400);
    let m = Model::new(Host::Ufs).dir(J1).dir("/images");
    jail(&line(&good, "-s64m,--create,")).start(&m).unwrap();
    jail(&line(&good, "")).stop(&m).unwrap();
    let before = m.content(IMG1);
    let argv = words(&format!("mount_md -P --encrypt=geli --key-file={} -F {IMG1} md {J1}", bad.display()));
    let (code, _, err) = mount_md(&m, &argv);
    assert_ne!(code, 0);
    assert_eq!(err, format!("mount_md: geli attach on {IMG1}: Wrong key for md0.\n"), "{}", log(&m));
    assert!(m.unit_numbers().is_empty() && m.k().geli.attached.is_empty() && m.md_mounts().is_empty());
    assert_eq!(m.content(IMG1), before);
}

/// A key file others can read, and luks2 on FreeBSD, are refused before
/// anything is created or attached; an image without geli metadata is
/// never formatted over.
#[test]
fn refusals_before_anything_changes() {
    let tmp = TempDir::new("geli-refuse");
    let open = key_file(&tmp, "open.key", b"k", 0o644);
    let ok = key_file(&tmp, "ok.key", b"k", 0o600);
    let m = Model::new(Host::Ufs).dir(J1).dir("/images").image("/images/plain.img", 64 * MIB, Model::clean_ufs(), None);
    let run = |line: &str| mount_md(&m, &words(line));
    let (code, _, err) =
        run(&format!("mount_md -s 64m --create --encrypt=geli --key-file={} -F {IMG1} md {J1}", open.display()));
    assert_ne!(code, 0);
    assert_eq!(
        err,
        format!(
            "mount_md: key file {} has mode 0644: group and others must have no access (chmod 600)\n",
            open.display()
        )
    );
    assert!(!m.k().files.contains_key(Path::new(IMG1)), "image created");
    let (code, _, err) = run(&format!("mount_md -P --encrypt=luks2 --key-file={} -F {IMG1} md {J1}", ok.display()));
    assert_ne!(code, 0);
    assert_eq!(err, "mount_md: --encrypt=luks2 is Linux's; on FreeBSD use --encrypt=geli\n");
    let (code, _, err) =
        run(&format!("mount_md --encrypt=geli --key-file={} -F /images/plain.img md {J1}", ok.display()));
    assert_ne!(code, 0);
    assert_eq!(err, "mount_md: geli attach on /images/plain.img: Cannot read metadata from md0: Invalid argument.\n");
    assert_eq!(m.content("/images/plain.img"), Model::clean_ufs());
    assert!(m.unit_numbers().is_empty());
}

/// -N names the geli steps, the key's file and no key.
#[test]
fn dry_run_shows_the_geli_steps() {
    let tmp = TempDir::new("geli-n");
    let ok = key_file(&tmp, "ok.key", b"secret", 0o600);
    let m = Model::new(Host::Ufs).dir(J1).dir("/images");
    let (code, out, err) = mount_md(
        &m,
        &words(&format!("mount_md -N -X -s 64m --create --encrypt=geli --key-file={} -F {IMG1} md {J1}", ok.display())),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("geli init -B none -e AES-XTS -l 256 -s 4096 -P -K - md?"), "{out}");
    assert!(out.contains("/sbin/newfs -U /dev/md?.eli"), "{out}");
    assert!(out.contains("geli attach -p -k - "), "{out}");
    assert!(!out.contains("secret"));
    assert!(m.unit_numbers().is_empty());
}

/// `--list` shows the geli layer; `-u` on the mounted jail root unmounts
/// `/dev/md0.eli`, detaches the provider, then the unit; `mount(8)` of the
/// same line twice mounts once.
#[test]
fn release_while_mounted_and_mount_twice() {
    let tmp = TempDir::new("geli-u");
    let key = key_file(&tmp, "j1.key", b"0123456789abcdef", 0o600);
    let m = Model::new(Host::Zfs).dir(J1).dir("/images");
    let line = line(&key, "-P,-s64m,--create=sparse,");
    let j = jail(&line);
    j.start(&m).unwrap();
    j.start(&m).unwrap_or_else(|e| panic!("second mount: {e}\n{}", log(&m)));
    assert_eq!(m.md_mounts().len(), 1, "{}", log(&m));
    let (code, out, err) = mount_md(&m, &words("mount_md --list"));
    assert_eq!(code, 0, "{err}");
    assert!(out.trim_end().ends_with(" rw   -   mount_md geli:/dev/md0.eli"), "{out}");
    let (_, json, _) = mount_md(&m, &words("mount_md --list --json"));
    assert!(json.contains(r#""crypt": {"type": "geli", "device": "/dev/md0.eli"}"#), "{json}");
    let (code, _, err) = mount_md(&m, &words(&format!("mount_md -r -s 128m {J1}")));
    assert_ne!(code, 0);
    assert_eq!(err, "mount_md: /var/jails/j1: mounted from /dev/md0.eli, not a whole md(4) disk; nothing changed\n");
    let (code, _, err) = mount_md(&m, &words(&format!("mount_md -u {J1}")));
    assert_eq!(code, 0, "{err}\n{}", log(&m));
    assert!(m.md_mounts().is_empty() && m.unit_numbers().is_empty() && m.k().geli.attached.is_empty(), "{}", log(&m));
}

/// Killed after `geli attach` (the unit and its provider left, nothing
/// mounted): the next run of the same line takes over, not refuses.
#[test]
fn a_run_killed_after_the_attach_is_recovered() {
    let tmp = TempDir::new("geli-kill");
    let key = key_file(&tmp, "j1.key", b"0123456789abcdef", 0o600);
    let m = Model::new(Host::Zfs).dir(J1).dir("/images");
    let line = line(&key, "-P,-s64m,--create=sparse,");
    let j = jail(&line);
    j.start(&m).unwrap();
    // What a kill -9 between the attach and the mount leaves.
    m.k().mounts.clear();
    assert_eq!(m.unit_numbers(), [0]);
    j.start(&m).unwrap_or_else(|e| panic!("rerun: {e}\n{}", log(&m)));
    assert_eq!(m.md_mounts().len(), 1, "{}", log(&m));
    j.stop(&m).unwrap();
    assert!(m.unit_numbers().is_empty() && m.k().geli.attached.is_empty(), "{}", log(&m));
}
