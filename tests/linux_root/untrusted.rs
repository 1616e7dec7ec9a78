//! Untrusted images, paths and callers, as root on real loop devices: an
//! image someone else can write is mounted nosuid,nodev; `-u` and `-r`
//! do not follow a symlink a tenant planted; a set-user-ID copy of the
//! binary refuses to run; nothing that is not empty is formatted without
//! `--reformat`; `--list` prints no C1 control.
use crate::support::*;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{chown, lchown, symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const NOBODY: u32 = 65534;

/// Runs the binary with `words` (paths and flags alike).
fn call(words: &[&dyn AsRef<OsStr>]) -> std::process::Output {
    let args: Vec<&OsStr> = words.iter().map(|w| w.as_ref()).collect();
    run(&bin(), &args)
}

fn set_mode(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Runs `program args` as uid/gid 65534 with no supplementary groups.
fn as_nobody(program: &Path, args: &[&str]) -> std::process::Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(program)
        .args(args)
        .output()
        .expect("setpriv")
}

/// Puts a copy of /usr/bin/id, owned by root with mode 4755, at the root
/// of the ext4 in `img`, as its owner can without mounting it (debugfs).
fn plant_setuid_id(img: &Path, tmp: &TempDir) {
    let script = tmp.join("debugfs.cmds");
    std::fs::write(&script, "write /usr/bin/id id\nsif id mode 0104755\nsif id uid 0\nsif id gid 0\n").unwrap();
    let out = Command::new("debugfs").arg("-w").arg("-f").arg(&script).arg(img).output().expect("debugfs");
    assert!(out.status.success(), "debugfs: {}", text(&out.stderr));
}

fn options_of(mp: &Path) -> String {
    let m = mount_at(mp).unwrap_or_else(|| panic!("{} not mounted", mp.display()));
    m.options.clone()
}

#[test]
fn a_tenant_image_with_a_setuid_root_binary_mounts_nosuid_nodev() {
    require_loop!();
    let tmp = TempDir::new("untrusted-suid");
    set_mode(tmp.path(), 0o755);
    let tenant = tmp.dir("tenant");
    let img = tenant.join("t.img");
    make_image(&img, 16 * MIB, true);
    plant_setuid_id(&img, &tmp);
    chown(&img, Some(NOBODY), Some(NOBODY)).unwrap();
    chown(&tenant, Some(NOBODY), Some(NOBODY)).unwrap();
    let mnt = tmp.dir("mnt");
    let mut loops = LoopGuard::default();

    let out = run(&bin(), args!["-P", "-X", "-F", &img, "md", &mnt]);
    ok(&out);
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    let opts = options_of(&mnt);
    assert!(opts.split(',').any(|o| o == "nosuid") && opts.split(',').any(|o| o == "nodev"), "{opts}");
    let said = text(&out.stderr);
    assert!(said.contains("is owned by uid 65534: mounting it nosuid,nodev"), "{said}");
    // The planted binary runs, but as the caller: the set-user-ID bit does
    // not take effect.
    let id = as_nobody(&mnt.join("id"), &["-u"]);
    assert_eq!((text(&id.stdout).trim(), id.status.success()), ("65534", true), "{}", text(&id.stderr));
    unmount_and_check_no_leak(guard, &tmp);

    // Asked for by name, suid is kept, with a warning that says so.
    let out = run(&bin(), args!["-P", "-o", "suid", "-F", &img, "md", &mnt]);
    ok(&out);
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    assert!(text(&out.stderr).contains("-o suid: its set-user-ID"), "{}", text(&out.stderr));
    let opts = options_of(&mnt);
    assert!(!opts.split(',').any(|o| o == "nosuid") && opts.split(',').any(|o| o == "nodev"), "{opts}");
    let id = as_nobody(&mnt.join("id"), &["-u"]);
    assert_eq!(text(&id.stdout).trim(), "0", "the fs honours suid when asked: the test above could fail");
    unmount_and_check_no_leak(guard, &tmp);

    // Root's own image, 0600 in root's 0755 directory: mounted as asked.
    chown(&img, Some(0), Some(0)).unwrap();
    set_mode(&img, 0o600);
    let own = tmp.dir("own");
    let root_img = own.join("r.img");
    std::fs::rename(&img, &root_img).unwrap();
    ok(&run(&bin(), args!["-P", "-F", &root_img, "md", &mnt]));
    let (guard, _) = mounted(&mnt, &root_img, &mut loops);
    let opts = options_of(&mnt);
    assert!(!opts.split(',').any(|o| o == "nosuid" || o == "nodev"), "{opts}");
    unmount_and_check_no_leak(guard, &tmp);

    // Root's file, but group-writable: someone else can change it.
    set_mode(&root_img, 0o660);
    ok(&run(&bin(), args!["-P", "-F", &root_img, "md", &mnt]));
    let (guard, _) = mounted(&mnt, &root_img, &mut loops);
    assert!(options_of(&mnt).split(',').any(|o| o == "nosuid"));
    unmount_and_check_no_leak(guard, &tmp);
}

/// Two tenants' images mounted by mount_md; tenant a's mount point then
/// replaced by a symlink (owned by a) to tenant b's mount.
fn victim_scene(tmp: &TempDir, loops: &mut LoopGuard) -> (PathBuf, PathBuf, PathBuf, MountGuard) {
    set_mode(tmp.path(), 0o755);
    let b_img = tmp.join("b.img");
    make_image(&b_img, 16 * MIB, true);
    let b_mnt = tmp.dir("b");
    ok(&run(&bin(), args!["-P", "-F", &b_img, "md", &b_mnt]));
    let (guard, _) = mounted(&b_mnt, &b_img, loops);
    let a = tmp.dir("a");
    chown(&a, Some(NOBODY), Some(NOBODY)).unwrap();
    let planted = a.join("mp");
    symlink(&b_mnt, &planted).unwrap();
    lchown(&planted, Some(NOBODY), Some(NOBODY)).unwrap();
    (planted, b_mnt, b_img, guard)
}

#[test]
fn u_and_r_through_a_symlink_a_tenant_planted_refuse_and_leave_the_other_mount() {
    require_loop!();
    let tmp = TempDir::new("untrusted-u");
    let mut loops = LoopGuard::default();
    let (planted, b_mnt, b_img, guard) = victim_scene(&tmp, &mut loops);
    let size_before = std::fs::metadata(&b_img).unwrap().len();
    let cases: [&[&dyn AsRef<OsStr>]; 3] =
        [&[&"-u", &planted], &[&"-u", &"-f", &planted], &[&"-r", &"-s", &"32m", &planted]];
    for args in cases {
        let out = call(args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("is a symbolic link owned by uid 65534, not followed"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(mount_at(&b_mnt).is_some(), "the other tenant's mount is still there");
    }
    assert_eq!(std::fs::metadata(&b_img).unwrap().len(), size_before, "the other image was not grown");
    // The same for -u IMAGE and -r IMAGE through a link to the image, and
    // for a link in a directory of the path.
    let a = planted.parent().unwrap();
    let img_link = a.join("img");
    symlink(&b_img, &img_link).unwrap();
    lchown(&img_link, Some(NOBODY), Some(NOBODY)).unwrap();
    let dir_link = a.join("d");
    symlink(tmp.path(), &dir_link).unwrap();
    lchown(&dir_link, Some(NOBODY), Some(NOBODY)).unwrap();
    let b_via_dir = dir_link.join("b");
    let cases: [&[&dyn AsRef<OsStr>]; 3] =
        [&[&"-u", &img_link], &[&"-r", &"-s", &"32m", &img_link], &[&"-u", &b_via_dir]];
    for args in cases {
        let out = call(args);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("not followed"), "{}", text(&out.stderr));
        assert!(mount_at(&b_mnt).is_some());
    }
    unmount_and_check_no_leak(guard, &tmp);
}

#[test]
fn a_set_user_id_copy_refuses_to_run() {
    require_loop!();
    let tmp = TempDir::new("untrusted-setuid");
    set_mode(tmp.path(), 0o755);
    let copy = tmp.join("mount_md");
    std::fs::copy(bin(), &copy).unwrap();
    set_mode(&copy, 0o4755);
    // The file system honours set-user-ID here (else this test proves
    // nothing): a set-user-ID copy of id(1) says euid 0.
    let id = tmp.join("id");
    std::fs::copy("/usr/bin/id", &id).unwrap();
    set_mode(&id, 0o4755);
    let euid = as_nobody(&id, &["-u"]);
    if text(&euid.stdout).trim() != "0" {
        skip("the temporary directory's file system is mounted nosuid");
        return;
    }
    for args in [&["--list"][..], &["-u", "/nonexistent"], &["-F", "/nonexistent", "md", "/nonexistent"]] {
        let out = as_nobody(&copy, args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.starts_with("mount_md: refusing to run set-user-ID or set-group-ID (real uid 65534, effective uid 0")
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // A set-group-ID copy too.
    // (chown clears the set-ID bits, so it comes first.)
    chown(&copy, Some(NOBODY), Some(0)).unwrap();
    set_mode(&copy, 0o2755);
    let out = as_nobody(&copy, &["--list"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("refusing to run set-user-ID or set-group-ID"));
}

fn sha(path: &Path) -> Vec<u8> {
    Command::new("sha256sum").arg(path).output().unwrap().stdout
}

#[test]
fn nothing_that_is_not_empty_is_formatted_without_reformat() {
    require_loop!();
    let tmp = TempDir::new("untrusted-consent");
    let mnt = tmp.dir("mnt");
    let mib = MIB as usize;
    // A qcow2 header (QFI\xfb, version 3) and nothing else.
    let qcow = tmp.join("vm.qcow2");
    let mut head = vec![0u8; 16 * mib];
    head[..8].copy_from_slice(b"QFI\xfb\0\0\0\x03");
    std::fs::write(&qcow, &head).unwrap();
    // Random bytes (an encrypted container without a header).
    let random = tmp.join("random.img");
    let mut bytes = vec![0u8; 16 * mib];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom").unwrap(), &mut bytes[..64 * 1024]).unwrap();
    std::fs::write(&random, &bytes).unwrap();
    // A tar archive, padded to 16 MiB.
    let tarball = tmp.join("backup.tar");
    std::fs::write(tmp.join("hello"), "hello\n").unwrap();
    let st = Command::new("tar").arg("-C").arg(tmp.path()).arg("-cf").arg(&tarball).arg("hello").status().unwrap();
    assert!(st.success());
    std::fs::OpenOptions::new().write(true).open(&tarball).unwrap().set_len(16 * MIB).unwrap();
    // An ext4 whose primary superblock is gone (a backup one would recover it).
    let damaged = tmp.join("damaged.img");
    make_image(&damaged, 16 * MIB, true);
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&damaged).unwrap();
        f.write_all_at(&[0u8; 1024], 1024).unwrap();
    }
    for img in [&qcow, &random, &tarball, &damaged] {
        let before = sha(img);
        for dry in [true, false] {
            let flag = if dry { "-N" } else { "-X" };
            let out = call(&[&flag, &"-F", img, &"md", &mnt]);
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{}: {err}", img.display());
            assert!(
                err.contains("is not empty (its first MiB holds data mount_md does not recognise)")
                    || err.contains("already holds"),
                "{}: {err}",
                img.display()
            );
            assert_eq!(err.lines().filter(|l| !l.starts_with("DEBUG:")).count(), 1, "{err}");
        }
        assert_eq!(sha(img), before, "{} unchanged", img.display());
        assert_nothing_left(&tmp);
    }
    // With --reformat it is the admin's call.
    let mut loops = LoopGuard::default();
    ok(&run(&bin(), args!["--reformat", "-F", &tarball, "md", &mnt]));
    let (guard, _) = mounted(&mnt, &tarball, &mut loops);
    unmount_and_check_no_leak(guard, &tmp);
    // An all-zero image (sparse, as truncate makes it) is formatted as before.
    let zero = tmp.join("zero.img");
    make_image(&zero, 16 * MIB, false);
    ok(&run(&bin(), args!["-F", &zero, "md", &mnt]));
    let (guard, _) = mounted(&mnt, &zero, &mut loops);
    unmount_and_check_no_leak(guard, &tmp);
}

#[test]
fn list_shows_no_c1_control() {
    require_loop!();
    let tmp = TempDir::new("untrusted-list");
    let name = [b"c1-".as_slice(), "\u{9b}31m".as_bytes(), b"-\x9b31m-\x1b[2J.img"].concat();
    let img = tmp.join(OsStr::from_bytes(&name));
    make_image(&img, 16 * MIB, true);
    let mnt = tmp.dir("mnt");
    let mut loops = LoopGuard::default();
    ok(&run(&bin(), args!["-P", "-F", &img, "md", &mnt]));
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    let cases: [&[&OsStr]; 2] = [args!["--list"], args!["--list", "--json"]];
    for args in cases {
        let out = run(&bin(), args);
        ok(&out);
        let listed = &out.stdout;
        assert!(listed.windows(3).any(|w| w == b"c1-"), "the unit is listed");
        assert!(!listed.contains(&0x9b), "no raw 0x9b");
        assert!(!listed.windows(2).any(|w| w == [0xc2, 0x9b]), "no U+009B in UTF-8");
        assert!(!listed.contains(&0x1b), "no escape");
    }
    unmount_and_check_no_leak(guard, &tmp);
}

/// `flock(1 … sleep)` as uid 65534 on `path`, returned once /proc/locks
/// shows its lock (at most 5 s); its process group killed when dropped.
struct NobodyLock(std::process::Child);

impl NobodyLock {
    fn hold(path: &Path) -> NobodyLock {
        use std::os::unix::process::CommandExt;
        let child = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--", "flock", "-o", "-x"])
            .arg(path)
            .args(["sleep", "120"])
            .process_group(0)
            .spawn()
            .expect("setpriv");
        let held = NobodyLock(child);
        let start = std::time::Instant::now();
        while !std::fs::read_to_string("/proc/locks").unwrap().contains(&format!(" {} ", held.0.id())) {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(5),
                "flock as nobody never held {}",
                path.display()
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        held
    }
}

impl Drop for NobodyLock {
    fn drop(&mut self) {
        // SAFETY: kill(2) of the process group this test started.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

/// flock(2) needs nothing but a descriptor, so anyone who can read an
/// image (root's own at 0644, or a tenant's) could lock it. mount_md's
/// lock is a file only root can open: a lock another user holds on the
/// image, or on its directory, stalls no mount, `-u`, `-r` or `--create`.
#[test]
fn a_lock_someone_else_holds_on_the_image_or_its_directory_stalls_nothing() {
    require_loop!();
    require_tools!("flock", "setpriv");
    let tmp = TempDir::new("untrusted-lock");
    set_mode(&tmp.0, 0o755);
    let img = tmp.join("j.img");
    make_image(&img, 32 * MIB, true);
    set_mode(&img, 0o644);
    let mnt = tmp.dir("mnt");
    let mut loops = LoopGuard::default();
    let _on_image = NobodyLock::hold(&img);
    let _on_dir = NobodyLock::hold(&tmp.0);
    // A wait for a lock says so at once ("waiting up to 10 s for its lock").
    let quick = |args: &[&dyn AsRef<OsStr>]| {
        let out = call(args);
        let err = text(&out.stderr);
        assert!(out.status.success() && !err.contains("waiting"), "{err}");
    };
    quick(&[&"-P", &"-F", &img, &"md", &mnt]);
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    quick(&[&"-u", &mnt]);
    drop(guard);
    quick(&[&"-r", &"-s", &"48m", &img]);
    assert_eq!(std::fs::metadata(&img).unwrap().len(), 48 * MIB);
    let new = tmp.join("new.img");
    quick(&[&"--create", &"-s", &"16m", &"-F", &new, &"md", &mnt]);
    let (guard, _) = mounted(&mnt, &new, &mut loops);
    quick(&[&"-u", &mnt]);
    drop(guard);
    assert_nothing_left(&tmp);
}
