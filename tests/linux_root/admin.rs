//! What admins look at (issue 24), for real on Linux: messages that name
//! the next step (an empty image with -P, a file system larger than its
//! disk), remount (with mount_md and with util-linux), -N in words,
//! --list for people, monitors and normal users, progress on a terminal,
//! -r's report.
use crate::support::schema;
use crate::support::*;

/// Runs `args` and `-N` with `args`: both fail with `message` alone on
/// standard error, and nothing is left in `tmp`.
fn refused_alike(tmp: &TempDir, args: &[&std::ffi::OsStr], message: &str) {
    for extra in [None, Some("-N")] {
        let mut all: Vec<&std::ffi::OsStr> = extra.iter().map(std::ffi::OsStr::new).collect();
        all.extend(args);
        let out = run(&bin(), &all);
        let err = text(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{err}");
        assert_eq!(err.trim(), message);
        assert_nothing_left(tmp);
    }
}

/// `-P` on an image that holds only zeros: it is empty, and the message
/// says to drop -P (or use --create), for the run and for -N alike;
/// nothing is attached.
#[test]
fn an_all_zero_image_with_p_is_called_empty() {
    require_loop!();
    let tmp = TempDir::new("admin-empty");
    let img = tmp.join("zero.img");
    make_image(&img, 16 * MIB, false);
    let mnt = tmp.dir("mnt");
    let message = format!(
        "mount_md: {}: is empty (all zeros where a file system begins): there is nothing to mount; \
         drop -P to format it, or use --create to make and format a missing image",
        img.display()
    );
    refused_alike(&tmp, args!["-P", "-F", img, "md", mnt], &message);
}

/// The loop device's read-only flag in sysfs.
fn disk_ro(source: &str) -> bool {
    std::fs::read_to_string(format!("/sys/block/{}/ro", source.trim_start_matches("/dev/"))).unwrap().trim() == "1"
}

/// `mount_md -o remount,ro DIR` makes the mount and its loop device
/// read-only, `remount,rw` both writable again, flags change as asked,
/// and what cannot change is refused with nothing changed.
#[test]
fn remount_changes_the_mount_and_the_disk() {
    require_loop!();
    let tmp = TempDir::new("admin-remount");
    let img = tmp.join("r.img");
    make_image(&img, 32 * MIB, true);
    let mnt = tmp.dir("mnt");
    let mut loops = LoopGuard::default();
    ok(&run(&bin(), args!["-P", "-F", img, "md", mnt]));
    let (guard, info) = mounted(&mnt, &img, &mut loops);
    ok(&run(&bin(), args!["-o", "remount,ro", mnt]));
    let m = mount_at(&mnt).unwrap();
    assert!(m.options.split(',').any(|o| o == "ro"), "{}", m.options);
    assert!(disk_ro(&info.source), "the loop device is read-only too");
    assert!(std::fs::write(mnt.join("x"), b"x").is_err());
    // -N says what it would do, and does nothing.
    let out = run(&bin(), args!["-N", "-o", "remount,rw", mnt]);
    ok(&out);
    assert_eq!(
        text(&out.stdout),
        format!("make {} writable\nremount {} with ro,relatime,rw\n", info.source, mnt.display())
    );
    assert!(disk_ro(&info.source));
    ok(&run(&bin(), args!["-o", "remount,rw,noexec", mnt]));
    let m = mount_at(&mnt).unwrap();
    assert!(m.options.split(',').any(|o| o == "rw") && m.options.contains("noexec"), "{}", m.options);
    assert!(!disk_ro(&info.source));
    std::fs::write(mnt.join("x"), b"x").unwrap();
    // What a remount cannot change.
    let out = run(&bin(), args!["-o", "remount,ro", "-s", "64m", mnt]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("a remount does not change the size (mount_md -r -s SIZE"),
        "{}",
        text(&out.stderr)
    );
    let other = tmp.join("other.img");
    make_image(&other, 32 * MIB, true);
    let out = run(&bin(), args!["-o", "remount,ro", "-F", other, "md", mnt]);
    assert!(text(&out.stderr).contains("-F names another image"), "{}", text(&out.stderr));
    assert!(mount_at(&mnt).unwrap().options.split(',').any(|o| o == "rw"), "still read-write");
    // Not a mount point.
    let out = run(&bin(), args!["-o", "remount,ro", tmp.path()]);
    assert_ne!(out.status.code(), Some(0));
    // -u leaves the unit writable again: the kernel would keep the
    // read-only flag for the unit's next user.
    ok(&run(&bin(), args!["-o", "remount,ro", mnt]));
    assert!(disk_ro(&info.source));
    ok(&run(&bin(), args!["-u", mnt]));
    assert!(!disk_ro(&info.source), "{} left read-only", info.source);
    drop(guard);
    assert_nothing_left(&tmp);
}

/// util-linux: `mount -o remount,ro DIR` on a mount.md fstab line runs
/// the helper with `-o <fstab options>,remount,ro`, which remounts.
#[test]
fn mount_o_remount_on_an_md_fstab_line() {
    require_loop!(alone); // it makes a mount namespace
    let tmp = require_helper!("admin-fstab-remount");
    let img = tmp.join("web.img");
    make_image(&img, 32 << 20, true);
    let ct = tmp.dir("ct");
    let fstab = tmp.join("fstab");
    std::fs::write(&fstab, format!("md {} md rw,noatime,-P,-F{} 0 0\n", ct.display(), img.display())).unwrap();
    let mut loops = LoopGuard::default();
    let guard = MountGuard(ct.clone());
    let out = tmp.mount(args!["-a", "-T", fstab]);
    assert!(out.status.success(), "mount -a: {}", text(&out.stderr));
    let m = mount_at(&ct).expect("mounted by mount -a");
    loops.record(&m.source, &img);
    let out = tmp.mount(args!["-T", fstab, "-o", "remount,ro", ct]);
    assert!(out.status.success(), "mount -o remount,ro: {}", text(&out.stderr));
    let after = mount_at(&ct).unwrap();
    assert!(after.options.split(',').any(|o| o == "ro"), "{}", after.options);
    assert!(disk_ro(&m.source));
    let out = tmp.mount(args!["-T", fstab, "-o", "remount,rw", ct]);
    assert!(out.status.success(), "mount -o remount,rw: {}", text(&out.stderr));
    assert!(mount_at(&ct).unwrap().options.split(',').any(|o| o == "rw"));
    let st = std::process::Command::new("umount").arg(&ct).status().unwrap();
    assert!(st.success());
    drop(guard);
}

/// `-N` lists the steps in an admin's words, one a line; `-N -X` the
/// exact system calls.
#[test]
fn dry_run_speaks_in_steps_and_x_in_system_calls() {
    require_loop!();
    let tmp = TempDir::new("admin-words");
    let img = tmp.join("new.img");
    let mnt = tmp.dir("mnt");
    let out = run(&bin(), args!["-N", "--create", "-s", "64m", "-p", "0750", "-w", "0:0", "-F", img, "md", mnt]);
    ok(&out);
    let (i, m) = (img.display(), mnt.display());
    assert_eq!(
        text(&out.stdout),
        format!(
            "open {i} read-write, creating it if it does not exist (64MiB (67108864 bytes), every block reserved)\n\
             attach {i} as a loop device of 64MiB (67108864 bytes)\n\
             check that the loop device holds no file system (none is formatted over)\n\
             format the loop device ext4 with mkfs.ext4\n\
             mount the loop device on {m} (ext4)\n\
             set the mode of {m} to 0750\n\
             set the owner of {m} to 0:0\n\
             remove the image again if this run created it and a later step fails\n"
        )
    );
    let out = run(&bin(), args!["-N", "-X", "--create", "-s", "64m", "-F", img, "md", mnt]);
    ok(&out);
    assert!(
        text(&out.stdout).contains("LOOP_CONFIGURE") && text(&out.stdout).contains("mkfs.ext4 -q"),
        "{}",
        text(&out.stdout)
    );
    assert!(!img.exists());
    assert_nothing_left(&tmp);
}

/// `--list`: a header, the unit's row with the mount's type, sizes
/// (human, or bytes with --bytes), the mount's ro/rw (after a remount,
/// not the disk's flag at attach), direct I/O and the owner; `--json`
/// validates against tests/schema/list.json; a normal user gets the
/// table too, owners unknown, exit 0.
#[test]
fn list_for_people_monitors_and_normal_users() {
    use std::os::unix::process::CommandExt;
    require_loop!();
    let tmp = TempDir::new("admin-list");
    std::fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let img = tmp.join("l.img");
    make_image(&img, 32 * MIB, true);
    let mnt = tmp.dir("mnt");
    let mut loops = LoopGuard::default();
    ok(&run(&bin(), args!["-P", "-F", img, "md", mnt]));
    let (guard, info) = mounted(&mnt, &img, &mut loops);
    ok(&run(&bin(), args!["-o", "remount,ro", mnt]));
    let row = |out: &std::process::Output| -> Vec<String> {
        let t = text(&out.stdout);
        assert!(t.starts_with("DEVICE "), "{t}");
        let line = t.lines().find(|l| l.split_whitespace().next() == Some(info.source.as_str())).expect("our row");
        line.split_whitespace().map(str::to_string).collect()
    };
    let out = run(&bin(), args!["--list"]);
    ok(&out);
    let header: Vec<String> =
        text(&out.stdout).lines().next().unwrap().split_whitespace().map(str::to_string).collect();
    assert_eq!(
        header,
        ["DEVICE", "IMAGE", "MOUNTPOINT", "TYPE", "SIZE", "FSSIZE", "USED", "AVAIL", "MODE", "DIO", "OWNER", "CRYPT"]
    );
    let r = row(&out);
    assert_eq!((r[1].as_str(), r[2].as_str(), r[3].as_str()), (img.to_str().unwrap(), mnt.to_str().unwrap(), "ext4"));
    assert_eq!((r[4].as_str(), r[8].as_str(), r[10].as_str()), ("32M", "ro", "mount_md"));
    assert!(["on", "off"].contains(&r[9].as_str()), "{r:?}");
    let r = row(&run(&bin(), args!["--list", "--bytes"]));
    assert_eq!(r[4], (32 * MIB).to_string());
    let (fs, used, avail): (u64, u64, u64) = (r[5].parse().unwrap(), r[6].parse().unwrap(), r[7].parse().unwrap());
    assert!(used > 0 && avail > 0 && fs <= 32 * MIB && used + avail <= fs, "{r:?}");
    // JSON, checked against the schema.
    let out = run(&bin(), args!["--list", "--json", "--all"]);
    ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema::violations(&schema::load("list"), &v), Vec::<String>::new(), "{}", text(&out.stdout));
    let ours = v["mount_md"].as_array().unwrap().iter().find(|u| u["device"] == info.source.as_str()).unwrap();
    assert_eq!(
        (ours["readonly"].as_bool(), ours["type"].as_str(), ours["size"].as_u64()),
        (Some(true), Some("ext4"), Some(32 * MIB))
    );
    assert_eq!(ours["owner"], "mount_md");
    // A normal user: what sysfs and the mount table show, owners unknown.
    let out = std::process::Command::new(bin()).args(["--list"]).uid(65534).gid(65534).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let r = row(&out);
    assert_eq!((r[2].as_str(), r[8].as_str(), r[10].as_str()), (mnt.to_str().unwrap(), "ro", "?"));
    let out = std::process::Command::new(bin()).args(["--list", "--json"]).uid(65534).gid(65534).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema::violations(&schema::load("list"), &v), Vec::<String>::new());
    ok(&run(&bin(), args!["-o", "remount,rw", mnt]));
    unmount_and_check_no_leak(guard, &tmp);
}

/// Long work shows a dd-like line on a terminal only: the -k copy, the
/// zero-filling of --create and of -r's new tail, and helpers, bytes/rate
/// or time; in scripted use (no terminal) nothing.
/// `MOUNT_MD_PROGRESS_AFTER=0` makes the line come at once, so a quick
/// test run shows it.
#[test]
fn progress_on_a_terminal_only() {
    require_loop!();
    if tool("script").is_none() {
        skip("script(1) not found (apt-get install -y bsdutils)");
        return;
    }
    let tmp = TempDir::new("admin-progress");
    let skel = tmp.dir("skel");
    std::fs::write(skel.join("big"), vec![7u8; 8 * MIB as usize]).unwrap();
    let img = tmp.join("p.img");
    let mnt = tmp.dir("mnt");
    let mut loops = LoopGuard::default();
    let line = format!(
        "MOUNT_MD_PROGRESS_AFTER=0 '{}' --create -s 64m -k '{}' -F '{}' md '{}'",
        bin().display(),
        skel.display(),
        img.display(),
        mnt.display()
    );
    let out = std::process::Command::new("script").args(["-qec", &line, "/dev/null"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stdout));
    let said = text(&out.stdout);
    assert!(said.contains(&format!("\rmount_md: copying {}: ", skel.display())), "{said:?}");
    assert!(said.contains("/s, ") && said.contains("\r\n"), "{said:?}");
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    ok(&run(&bin(), args!["-u", mnt]));
    drop(guard);
    // Not a terminal: the same run says nothing.
    std::fs::remove_file(&img).unwrap();
    let out = std::process::Command::new(bin())
        .env("MOUNT_MD_PROGRESS_AFTER", "0")
        .args(["--create", "-s", "64m", "-k"])
        .arg(&skel)
        .arg("-F")
        .arg(&img)
        .arg("md")
        .arg(&mnt)
        .output()
        .unwrap();
    assert!(out.status.success() && out.stderr.is_empty() && out.stdout.is_empty(), "{}", text(&out.stderr));
    let (guard, _) = mounted(&mnt, &img, &mut loops);
    ok(&run(&bin(), args!["-u", mnt]));
    drop(guard);
    // ext2 cannot preallocate: --create writes the zeros, and says so.
    let host_img = tmp.join("host.img");
    let host = tmp.dir("host");
    ok(&run(&bin(), args!["--create", "-s", "48m", "-T", "ext2", "-F", host_img, "md", host]));
    let (host_guard, _) = mounted(&host, &host_img, &mut loops);
    let inner = host.join("z.img");
    // `line` run on a terminal zero-fills 16 MiB of `inner`, and says so.
    let zero_fills_on_a_terminal = |line: &str| {
        let out = std::process::Command::new("script").args(["-qec", line, "/dev/null"]).output().unwrap();
        let said = text(&out.stdout);
        assert!(out.status.success(), "{said}");
        assert!(
            said.contains(&format!("\rmount_md: zero-filling {}: ", inner.display())) && said.contains(" of 16M ("),
            "{said:?}"
        );
    };
    let line = format!(
        "MOUNT_MD_PROGRESS_AFTER=0 '{}' --create -s 16m -F '{}' md '{}'",
        bin().display(),
        inner.display(),
        mnt.display()
    );
    zero_fills_on_a_terminal(&line);
    let (guard, _) = mounted(&mnt, &inner, &mut loops);
    ok(&run(&bin(), args!["-u", mnt]));
    drop(guard);
    // -r extends it the same way: its new tail zero-filled, and said so.
    let line = format!("MOUNT_MD_PROGRESS_AFTER=0 '{}' -r -s 32m '{}'", bin().display(), inner.display());
    zero_fills_on_a_terminal(&line);
    assert_eq!(std::fs::metadata(&inner).unwrap().len(), 32 * MIB);
    ok(&run(&bin(), args!["-u", host]));
    drop(host_guard);
    assert_nothing_left(&tmp);
}

/// `-r` says what it did in one line: the image's and the file system's
/// old and new sizes.
#[test]
fn grow_reports_old_and_new_sizes() {
    require_loop!();
    let tmp = TempDir::new("admin-grow");
    let img = tmp.join("g.img");
    make_image(&img, 32 * MIB, true);
    let out = run(&bin(), args!["-r", "-s", "64m", img]);
    ok(&out);
    assert_eq!(
        text(&out.stdout),
        format!(
            "{}: grown from 33554432 to 67108864 bytes (32M to 64M); \
             its ext4 file system from 33554432 to 67108864 bytes (32M to 64M)\n",
            img.display()
        )
    );
    assert_nothing_left(&tmp);
}

/// libmount passes `-N ns` to a helper when mount(8) works in another
/// mount namespace (`mount -N ns -o remount,ro DIR`): the remount is made
/// there, as the mount was, not in mount.md's own namespace (where DIR is
/// no mount point at all).
#[test]
fn a_remount_with_dash_n_is_made_in_that_namespace() {
    require_loop!(alone); // it makes a mount namespace
    let tmp = TempDir::new("admin-ns-remount");
    let img = tmp.join("ns.img");
    make_image(&img, 16 << 20, true);
    let mnt = tmp.dir("mnt");
    let mut loops = LoopGuard::default();
    let holder = Holder::in_namespace("true", &[]);
    let (pid, ns) = (holder.0.id(), holder.namespace());
    // The mount's options as that namespace has them.
    let options_there = || -> Option<String> {
        let table = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
        let at = mnt.to_str().unwrap();
        table.lines().map(|l| l.split(' ').collect::<Vec<_>>()).find(|f| f[4] == at).map(|f| f[5].to_string())
    };
    let helper = flavor(&tmp, "mount.md");
    ok(&run(&helper, args!["md", mnt, "-N", ns, "-o", format!("-P,-F{}", img.display())]));
    for dev in loops_backed_by(tmp.path()) {
        loops.record(&dev, &img);
    }
    assert!(mount_at(&mnt).is_none(), "mounted there, not here");
    assert!(options_there().is_some_and(|o| o.split(',').any(|w| w == "rw")), "{:?}", options_there());
    let out = run(&helper, args!["md", mnt, "-N", ns, "-o", format!("-P,-F{},remount,ro", img.display())]);
    ok(&out);
    assert!(options_there().is_some_and(|o| o.split(',').any(|w| w == "ro")), "{:?}", options_there());
    assert!(mount_at(&mnt).is_none(), "nothing mounted here");
    drop(holder);
}
