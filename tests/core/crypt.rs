//! `--encrypt` in the core, on the FreeBSD backend over its recording
//! syscall layer (geli): where the crypt step sits, that format and mount
//! go through its layer, that a header is written only on an image this
//! run created, and that every rollback closes the layer before detaching
//! the unit.
use crate::support::freebsd::c;
use crate::support::*;
use mount_md::crypt::Kdf;
use mount_md::platform::freebsd::recording::{Recorder, SysCall};
use mount_md::platform::freebsd::requests::IoValue;
use nix::errno::Errno;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// A key file only its owner can read, and the line that creates /img
/// encrypted with it.
fn key_and_line(tmp: &TempDir) -> (PathBuf, String) {
    let key = tmp.join("k");
    std::fs::write(&key, b"0123456789abcdef").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let line = format!("mount_md -P -s 64m --create --encrypt=geli --key-file={} -F /img md /mnt", key.display());
    (key, line)
}

fn crypt_calls(calls: &[SysCall]) -> Vec<String> {
    calls
        .iter()
        .filter_map(|c| match c {
            SysCall::Attach(_) => Some("attach".to_string()),
            SysCall::Geli(args) => Some(format!("{} {}", args[0], args.last().unwrap())),
            SysCall::Newfs { argv, .. } => Some(format!("newfs {}", argv.last().unwrap())),
            SysCall::Nmount(n) => match n.get("from") {
                Some(IoValue::Text(from)) => Some(format!("nmount {}", from.to_string_lossy())),
                _ => None,
            },
            SysCall::Unmount(p) => Some(format!("unmount {}", p.display())),
            SysCall::Detach(u) => Some(format!("detach {u}")),
            SysCall::RemoveImage(_) => Some("remove".to_string()),
            _ => None,
        })
        .collect()
}

/// A recorder where /img does not exist yet.
fn no_images() -> Recorder {
    Recorder::new()
}

#[test]
fn create_writes_the_header_then_formats_and_mounts_through_the_layer() {
    let tmp = TempDir::new("core-crypt");
    let (_, line) = key_and_line(&tmp);
    let o = run_on(no_images(), &argv(&line));
    assert_eq!(o.status, 0, "{}", o.stderr);
    assert_eq!(
        crypt_calls(&o.sys.calls),
        ["attach", "init md0", "attach md0", "newfs /dev/md0.eli", "nmount /dev/md0.eli"]
    );
}

/// Whatever step fails after the layer is open, the rollback closes it
/// before it detaches the unit, and removes the image it created.
#[test]
fn every_failure_after_open_closes_the_layer_first() {
    let tmp = TempDir::new("core-crypt");
    let (_, line) = key_and_line(&tmp);
    for kind in ["newfs", "nmount", "chmod"] {
        let o =
            run_on(no_images().failing_at(kind, Errno::EIO), &argv(&line.replace("mount_md ", "mount_md -p 0700 ")));
        assert_ne!(o.status, 0, "{kind}");
        let calls = crypt_calls(&o.sys.calls);
        let tail: Vec<&str> = calls.iter().rev().take(3).rev().map(String::as_str).collect();
        assert_eq!(tail, ["detach md0.eli", "detach 0", "remove"], "{kind}: {calls:?}");
        assert!(o.sys.is_clean(), "{kind}");
    }
    // The open itself failing (a wrong key): nothing to close.
    let o = run_on(no_images().failing_at("geli attach", Errno::EPERM), &argv(&line));
    assert_ne!(o.status, 0);
    assert_eq!(crypt_calls(&o.sys.calls), ["attach", "init md0", "attach md0", "detach 0", "remove"]);
}

/// An image that exists gets no new header: it is only opened, and
/// formatted through the layer without -P: what the disk starts with
/// (ciphertext) is no file system to keep; only the layer is looked at.
/// (That geli's own attach refuses
/// an image without metadata, so nothing is formatted over it:
/// freebsd_double's `refusals_before_anything_changes`, on the kernel
/// model; LUKS2's header, looked for by the core: linux_root's
/// `an_image_without_a_luks2_header_is_refused`.)
#[test]
fn an_existing_image_gets_no_new_header() {
    let tmp = TempDir::new("core-crypt");
    let (key, _) = key_and_line(&tmp);
    let line = format!("mount_md -P --encrypt=geli --key-file={} -F /img md /mnt", key.display());
    let o = run_line(&line);
    assert_eq!(o.status, 0, "{}", o.stderr);
    assert_eq!(crypt_calls(&o.sys.calls), ["attach", "attach md0", "nmount /dev/md0.eli"]);
    let mut sys = recorder();
    sys.disk_start = vec![0x5a; 4096];
    let o = run_on(sys, &argv(&line.replace("-P ", "")));
    assert_eq!(o.status, 0, "{}", o.stderr);
    assert_eq!(crypt_calls(&o.sys.calls), ["attach", "attach md0", "newfs /dev/md0.eli", "nmount /dev/md0.eli"]);
    let SysCall::Nmount(n) = o.sys.calls.iter().find(|c| matches!(c, SysCall::Nmount(_))).unwrap() else { panic!() };
    assert_eq!(n.get("fstype"), Some(&IoValue::Text(c("ufs"))));
    // The same bytes on a disk without a layer are not formatted over.
    let mut sys = recorder();
    sys.disk_start = vec![0x5a; 4096];
    let o = run_on(sys, &argv("mount_md -F /img md /mnt"));
    assert_eq!(o.status, 1, "{}", o.stderr);
    assert!(!o.sys.calls.iter().any(|c| matches!(c, SysCall::Newfs { .. })));
}

#[test]
fn option_rules() {
    let refused = |line: &str, why: &str| {
        let o = run_line(line);
        assert_ne!(o.status, 0, "{line}");
        assert!(o.stderr.contains(why), "{line}: {}", o.stderr);
        assert!(o.sys.calls.iter().all(|c| !matches!(c, SysCall::Attach(_))), "{line}");
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
    assert_eq!(e.kdf, Some(Kdf::Argon2 { id: true, memory_kib: 65536, time_ms: 200 }));
}
