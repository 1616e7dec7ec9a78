//! `--encrypt=luks2` for real: cryptsetup, dm-crypt, loop devices. What
//! needs device-mapper skips (saying so) on a kernel without it: no tool
//! can add it; the refusals that come before anything is created,
//! device-mapper's absence among them, run everywhere.
use crate::support::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const MARKER: &[u8] = b"mount_md-crypt-marker-6b1e0c9a";

fn key_file(tmp: &TempDir, name: &str, bytes: &[u8], mode: u32) -> PathBuf {
    let p = tmp.join(name);
    std::fs::write(&p, bytes).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

fn mount_md(args: &[&str]) -> Output {
    Command::new(bin()).args(args).stdin(Stdio::null()).output().unwrap()
}

fn dm_missing() -> Option<String> {
    mount_md::platform::linux::dmcrypt::missing_device_mapper()
}

fn dm_node(mount_point: &Path) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    Path::new("/dev/mapper").join(mount_md::crypt::dm_name(mount_point.as_os_str().as_bytes()))
}

/// `mount_md -P -s 64m --create --encrypt=luks2 EXTRA -F TMP/c.img md TMP/mnt`,
/// and the image's path.
fn create(tmp: &TempDir, extra: &[&str]) -> (Output, PathBuf) {
    let (img, mnt) = (tmp.join("c.img"), tmp.dir("mnt"));
    let mut args = vec!["-P", "-s", "64m", "--create", "--encrypt=luks2"];
    args.extend_from_slice(extra);
    args.extend(["-F", img.to_str().unwrap(), "md", mnt.to_str().unwrap()]);
    (mount_md(&args), img)
}

/// One line, non-zero, and neither an image nor a loop device left.
fn refused(out: &Output, tmp: &TempDir, img: &Path, want: &str) {
    assert_ne!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with(want), "{err}");
    assert!(!img.exists(), "{} created", img.display());
    assert_eq!(loops_backed_by(tmp.path()), Vec::<String>::new());
}

#[test]
fn a_key_file_others_can_read_is_refused_before_anything() {
    require_loop!();
    let tmp = TempDir::new("crypt-keymode");
    let key = key_file(&tmp, "k", b"0123456789abcdef", 0o644);
    let (out, img) = create(&tmp, &[&format!("--key-file={}", key.display())]);
    let want =
        format!("mount_md: key file {} has mode 0644: group and others must have no access (chmod 600)", key.display());
    refused(&out, &tmp, &img, &want);
}

#[test]
fn no_key_file_and_no_terminal_is_an_error_not_a_wait() {
    require_loop!();
    let tmp = TempDir::new("crypt-nokey");
    let (out, img) = create(&tmp, &[]);
    refused(
        &out,
        &tmp,
        &img,
        "mount_md: no --key-file given, and standard input is not a terminal to ask for a passphrase \
         (add --key-file=PATH, or run it at a terminal)\n",
    );
}

/// Without device-mapper the refusal comes first, in one line. A kernel
/// that has it is made to look as one without: the run sees an empty
/// tmpfs over /dev/mapper, in a mount namespace of its own, so its
/// control node is missing (ENOENT).
#[test]
fn without_device_mapper_nothing_is_created_or_attached() {
    require_loop!(alone);
    let tmp = TempDir::new("crypt-nodm");
    let key = key_file(&tmp, "k", b"0123456789abcdef", 0o600);
    let (img, mnt) = (tmp.join("c.img"), tmp.dir("mnt"));
    let script = r#"if [ -d /dev/mapper ]; then mount -t tmpfs none /dev/mapper || exit 99; fi
exec "$0" -P -s 64m --create --encrypt=luks2 "--key-file=$1" -F "$2" md "$3" </dev/null"#;
    let out = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script])
        .arg(bin())
        .args([key.as_os_str(), img.as_os_str(), mnt.as_os_str()])
        .output()
        .expect("unshare");
    refused(
        &out,
        &tmp,
        &img,
        "mount_md: this kernel has no device-mapper (/dev/mapper/control: No such file or directory): \
         --encrypt=luks2 needs dm-crypt (CONFIG_BLK_DEV_DM, CONFIG_DM_CRYPT)",
    );
}

/// An image that exists but holds no LUKS2 header is neither opened nor
/// formatted, with or without -P: one line, no loop device left, the
/// image's bytes as they were.
#[test]
fn an_image_without_a_luks2_header_is_refused() {
    require_loop!();
    if let Some(why) = dm_missing() {
        skip_optional(&why);
        return;
    }
    let tmp = TempDir::new("crypt-noheader");
    let (img, mnt) = (tmp.join("plain.img"), tmp.dir("mnt"));
    let bytes = MARKER.repeat(4096);
    std::fs::write(&img, &bytes).unwrap();
    let key = key_file(&tmp, "k", b"0123456789abcdef", 0o600);
    let k = format!("--key-file={}", key.display());
    let (i, m) = (img.to_str().unwrap(), mnt.to_str().unwrap());
    for p in [&["-P"][..], &[]] {
        let mut args = p.to_vec();
        args.extend(["--encrypt=luks2", &k, "-F", i, "md", m]);
        let out = mount_md(&args);
        assert_ne!(out.status.code(), Some(0), "{p:?}");
        assert_eq!(
            text(&out.stderr),
            format!("mount_md: {i}: holds no LUKS2 header: not opened and not formatted (--create --encrypt=luks2 makes one on a new image)\n"),
            "{p:?}"
        );
        assert_eq!(loops_backed_by(tmp.path()), Vec::<String>::new(), "{p:?}");
        assert_eq!(std::fs::read(&img).unwrap(), bytes, "{p:?}");
    }
}

/// Create, write, release, mount again: the data is there, the image is
/// LUKS2 and holds no plaintext of what was written; a wrong key opens
/// nothing; -u leaves no dm target.
#[test]
fn encrypted_image_round_trip() {
    require_loop!();
    if let Some(why) = dm_missing() {
        skip_optional(&why);
        return;
    }
    let tmp = TempDir::new("crypt-round");
    let (img, mnt) = (tmp.join("c.img"), tmp.dir("mnt"));
    let (i, m) = (img.to_str().unwrap(), mnt.to_str().unwrap());
    let key = key_file(&tmp, "k", b"0123456789abcdef0123456789abcdef", 0o600);
    let bad = key_file(&tmp, "bad", b"not the key", 0o600);
    let k = format!("--key-file={}", key.display());
    let guard = MountGuard(mnt.clone());
    let out = mount_md(&["-P", "-s", "64m", "--create", "--encrypt=luks2", &k, "--kdf=pbkdf2:10", "-F", i, "md", m]);
    ok(&out);
    assert!(dm_node(&mnt).exists());
    std::fs::write(mnt.join("marker"), MARKER.repeat(64)).unwrap();
    let json = text(&mount_md(&["--list", "--json"]).stdout);
    let want = format!(r#""crypt": {{"type": "luks2", "device": "{}"}}"#, dm_node(&mnt).display());
    assert!(json.contains(&want), "{json}");
    ok(&mount_md(&["-u", m]));
    assert!(!dm_node(&mnt).exists(), "-u left the dm target");
    assert_eq!(wait_no_loops(tmp.path(), std::time::Duration::from_secs(10)), Vec::<String>::new());
    let blkid = Command::new("blkid").args(["-p", "-o", "export", i]).output().unwrap();
    let b = text(&blkid.stdout);
    assert!(b.contains("TYPE=crypto_LUKS") && b.contains("VERSION=2"), "{b}");
    let bytes = std::fs::read(&img).unwrap();
    assert!(!bytes.windows(MARKER.len()).any(|w| w == MARKER), "plaintext in the image");
    let b = format!("--key-file={}", bad.display());
    let out = mount_md(&["-P", "--encrypt=luks2", &b, "-F", i, "md", m]);
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(text(&out.stderr).lines().count(), 1, "{}", text(&out.stderr));
    assert!(!dm_node(&mnt).exists() && loops_backed_by(tmp.path()).is_empty());
    ok(&mount_md(&["-P", "--encrypt=luks2", &k, "-F", i, "md", m]));
    assert_eq!(std::fs::read(mnt.join("marker")).unwrap(), MARKER.repeat(64));
    ok(&mount_md(&["-u", m]));
    drop(guard);
    assert!(!dm_node(&mnt).exists());
}
