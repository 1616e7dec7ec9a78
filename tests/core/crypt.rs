//! `--encrypt` in the core, on the recording platform: where the crypt
//! step sits, that format and mount go through its layer, that a header is
//! written only on an image this run created, and that every rollback
//! closes the layer before detaching the unit.
use crate::support::*;
use mount_md::platform::fake::{Call, Fake};
use nix::errno::Errno;
use std::collections::BTreeSet;
use std::path::PathBuf;

const CREATE: &str = "mount_md -P -s 64m --create --encrypt=luks2 --key-file=/etc/k -F /img md /mnt";

fn crypt_calls(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .filter_map(|c| match c {
            Call::Attach(_) => Some("attach".to_string()),
            Call::CryptHeader(u) => Some(format!("header {u}")),
            Call::CryptOpen(u) => Some(format!("open {u}")),
            Call::CryptClose(u) => Some(format!("close {u}")),
            Call::Format { device, .. } => Some(format!("format {}", device.display())),
            Call::Mount { device, .. } => Some(format!("mount {}", device.display())),
            Call::Unmount(p) => Some(format!("unmount {}", p.display())),
            Call::Detach(u) => Some(format!("detach {u}")),
            Call::RemoveImage(p) => Some(format!("remove {}", p.display())),
            _ => None,
        })
        .collect()
}

fn no_images() -> Fake {
    let mut f = Fake::new();
    f.images = Some(BTreeSet::new());
    f
}

#[test]
fn create_writes_the_header_then_formats_and_mounts_through_the_layer() {
    let o = run_on(no_images(), &argv(CREATE));
    assert_eq!(o.status, 0, "{}", o.stderr);
    assert_eq!(
        crypt_calls(&o.fake.calls),
        ["attach", "header 0", "open 0", "format /dev/mapper/fake-luks2-0", "mount /dev/mapper/fake-luks2-0"]
    );
}

/// Whatever step fails after the layer is open, the rollback closes it
/// before it detaches the unit, and removes the image it created.
#[test]
fn every_failure_after_open_closes_the_layer_first() {
    for kind in ["format", "mount", "chmod"] {
        let mut fake = no_images();
        fake.fail = Some((kind, Errno::EIO));
        let o = run_on(fake, &argv(&CREATE.replace("mount_md ", "mount_md -p 0700 ")));
        assert_ne!(o.status, 0, "{kind}");
        let calls = crypt_calls(&o.fake.calls);
        let tail: Vec<&str> = calls.iter().rev().take(3).rev().map(String::as_str).collect();
        assert_eq!(tail, ["close 0", "detach 0", "remove /img"], "{kind}: {calls:?}");
        assert!(o.fake.is_clean(), "{kind}");
    }
    // The open itself failing (a wrong key): nothing to close.
    let mut fake = no_images();
    fake.fail = Some(("crypt-open", Errno::EPERM));
    let o = run_on(fake, &argv(CREATE));
    assert_ne!(o.status, 0);
    assert_eq!(crypt_calls(&o.fake.calls), ["attach", "header 0", "open 0", "detach 0", "remove /img"]);
}

/// An image that exists is opened only over a LUKS2 header that is
/// there; one without is refused, never formatted over.
#[test]
fn an_existing_image_needs_its_header() {
    let o = run_line("mount_md --encrypt=luks2 --key-file=/etc/k -F /img md /mnt");
    assert_ne!(o.status, 0);
    assert_eq!(
        o.stderr,
        "mount_md: /img: holds no LUKS2 header: not opened and not formatted (--create --encrypt=luks2 makes one on a new image)\n"
    );
    assert_eq!(crypt_calls(&o.fake.calls), ["attach", "detach 0"]);
    let mut luks = b"LUKS\xba\xbe\x00\x02".to_vec();
    luks.resize(4096, 0);
    let mut fake = Fake::new();
    fake.head = luks;
    let o = run_on(fake, &argv("mount_md -P --encrypt=luks2 --key-file=/etc/k -F /img md /mnt"));
    assert_eq!(o.status, 0, "{}", o.stderr);
    assert_eq!(crypt_calls(&o.fake.calls), ["attach", "open 0", "mount /dev/mapper/fake-luks2-0"]);
    // Without -P the file system is made through the layer, which is
    // empty: the header at the image's start is no file system to keep.
    let mut fake = Fake::new();
    fake.head = o.fake.head.clone();
    let o = run_on(fake, &argv("mount_md --encrypt=luks2 --key-file=/etc/k -F /img md /mnt"));
    assert_eq!(o.status, 0, "{}", o.stderr);
    assert_eq!(
        crypt_calls(&o.fake.calls),
        ["attach", "open 0", "format /dev/mapper/fake-luks2-0", "mount /dev/mapper/fake-luks2-0"]
    );
}

#[test]
fn option_rules() {
    let refused = |line: &str, why: &str| {
        let o = run_line(line);
        assert_ne!(o.status, 0, "{line}");
        assert!(o.stderr.contains(why), "{line}: {}", o.stderr);
        assert!(o.fake.calls.iter().all(|c| !matches!(c, Call::Attach(_))), "{line}");
    };
    refused("mount_md --key-file=/k -F /img md /mnt", "--key-file requires --encrypt");
    refused("mount_md --kdf=pbkdf2:10 -F /img md /mnt", "--kdf requires --encrypt");
    refused("mount_md --encrypt=luks2 --kdf=pbkdf2:10 -F /img md /mnt", "--kdf requires --create");
    refused("mount_md -s 64m --encrypt=luks2 md /mnt", "--encrypt requires -F file");
    refused("mount_md --encrypt=luks3 -F /img md /mnt", "--encrypt=luks3: expected luks2 (Linux) or geli (FreeBSD)");
    refused(
        "mount_md -s 1g --create --encrypt=geli --kdf=pbkdf2:10 -F /img md /mnt",
        "--kdf applies to --encrypt=luks2 only",
    );
    refused("mount_md -s 1g --create --encrypt=luks2 --kdf=argon2id:1k:10 -F /img md /mnt", "out of range");
    let r = parse_line(
        "mount_md -P -s 1g --create --encrypt=luks2 --kdf=argon2id:64m:200 --key-file=/etc/k -F /img md /mnt",
    )
    .unwrap();
    let e = r.encrypt.unwrap();
    assert_eq!(e.key_file, Some(PathBuf::from("/etc/k")));
    assert_eq!(e.kdf.unwrap().shown(), "argon2id:65536k:200");
}
