//! The geli model (tests/support/freebsd/geli.rs) run with mount_md's own
//! geli argument vectors (`mount_md::crypt`): what each step gets back.
use crate::support::freebsd::geli::{Disks, Geli, OnDisk};
use mount_md::crypt::{geli_attach_argv, geli_detach_argv, geli_init_argv, GeliKey};
use std::collections::BTreeMap;
use std::ffi::OsString;

#[derive(Default)]
struct Units(BTreeMap<String, (u64, Option<OnDisk>)>);
impl Disks for Units {
    fn mediasize(&self, p: &str) -> Option<u64> {
        self.0.get(p).map(|u| u.0)
    }
    fn metadata(&self, p: &str) -> Option<OnDisk> {
        self.0.get(p).and_then(|u| u.1.clone())
    }
    fn store(&mut self, p: &str, md: OnDisk, _fresh: bool) {
        self.0.get_mut(p).unwrap().1 = Some(md);
    }
}

/// `geli resize -s OLDSIZE provider` (geom_eli.c `eli_resize`), which
/// mount_md never runs: `-r` refuses an image with a crypt layer.
fn resize_argv(provider: &str, old_size: u64) -> Vec<OsString> {
    ["resize", "-s", &old_size.to_string(), provider].map(OsString::from).to_vec()
}

/// mount_md's argument vectors through the model: init, attach, a
/// wrong key, detach while mounted and not; and why a grown unit needs
/// `geli resize` before it attaches again.
#[test]
fn mount_md_argvs_through_the_model() {
    let mut u = Units::default();
    u.0.insert("md3".into(), (64 << 20, None));
    let mut g = Geli::default();
    let key = b"0123456789abcdef\n\0binary";
    g.run(&geli_init_argv("md3", GeliKey::File), key, &mut u).unwrap();
    assert!(g.calls.iter().all(|c| !c.contains("0123456789")));
    let e = g.run(&geli_attach_argv("md3", GeliKey::File, false), b"nope", &mut u).unwrap_err();
    assert_eq!(e, "geli: Wrong key for md3.");
    assert!(g.attached.is_empty());
    let e = g.run(&geli_attach_argv("md3", GeliKey::Passphrase, false), key, &mut u).unwrap_err();
    assert_eq!(e, "geli: Missing -p flag.");
    g.run(&geli_attach_argv("md3", GeliKey::File, false), key, &mut u).unwrap();
    assert_eq!(g.attached["md3"].mediasize, (64 << 20) - 4096);
    let e = g.run(&geli_attach_argv("md3", GeliKey::File, false), key, &mut u).unwrap_err();
    assert_eq!(e, "geli: Cannot access md3 (error=1).");
    g.attached.get_mut("md3").unwrap().open = 1;
    assert_eq!(
        g.run(&geli_detach_argv("md3.eli"), b"", &mut u).unwrap_err(),
        "geli: Cannot destroy device md3.eli (error=16)."
    );
    let e = g.run(&resize_argv("md3", 64 << 20), b"", &mut u).unwrap_err();
    assert_eq!(e, "geli: Cannot open md3: Operation not permitted.");
    g.attached.get_mut("md3").unwrap().open = 0;
    g.run(&geli_detach_argv("md3.eli"), b"", &mut u).unwrap();
    assert_eq!(g.run(&geli_detach_argv("md3.eli"), b"", &mut u).unwrap_err(), "geli: No such device: md3.eli.");
    // The unit grows: the metadata is no longer in its last sector.
    u.0.get_mut("md3").unwrap().0 = 128 << 20;
    let e = g.run(&geli_attach_argv("md3", GeliKey::File, false), key, &mut u).unwrap_err();
    assert_eq!(e, "geli: Cannot read metadata from md3: Invalid argument.");
    g.run(&resize_argv("md3", 64 << 20), b"", &mut u).unwrap();
    g.run(&geli_attach_argv("md3", GeliKey::File, true), key, &mut u).unwrap();
    assert_eq!(g.attached["md3"].mediasize, (128 << 20) - 4096);
    assert!(g.attached["md3"].read_only);
}

/// A passphrase comes to its first newline; no key at all and no
/// terminal is an error, not a wait.
#[test]
fn passphrases_and_missing_keys() {
    let mut u = Units::default();
    u.0.insert("md0".into(), (8 << 20, None));
    let mut g = Geli::default();
    g.run(&geli_init_argv("md0", GeliKey::Passphrase), b"hunter2\nignored", &mut u).unwrap();
    g.run(&geli_attach_argv("md0", GeliKey::Passphrase, false), b"hunter2\n", &mut u).unwrap();
    let none: Vec<OsString> = ["init", "-B", "none", "md0"].map(OsString::from).to_vec();
    g.attached.clear();
    assert_eq!(g.run(&none, b"", &mut u).unwrap_err(), "geli: Cannot read passphrase: Inappropriate ioctl for device.");
    let p_only: Vec<OsString> = ["init", "-B", "none", "-P", "md0"].map(OsString::from).to_vec();
    assert_eq!(g.run(&p_only, b"", &mut u).unwrap_err(), "geli: No key components given.");
    let e = g.run(&geli_attach_argv("md9", GeliKey::File, false), b"k", &mut u).unwrap_err();
    assert!(e.starts_with("geli: Cannot get informations about md9"), "{e}");
}
