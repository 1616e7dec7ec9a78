//! Grow and boot safety, round 3 (issue 23), for real: a rerun of `-r`
//! finishes a grow cut short, kill -9 never leaves a file system that
//! needs repair, a grown image still mounts from its unchanged fstab line,
//! direct I/O never breaks an image that mounts buffered, and what would
//! fail half-way is refused before anything changes.
use crate::second_boot::{next, run_killed};
use crate::support::*;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn mdmfs(args: &[&std::ffi::OsStr]) -> Output {
    run(&bin(), args)
}

fn mkfs(fstype: &str, image: &Path, size: u64, extra: &[&str]) {
    let f = std::fs::File::create(image).unwrap();
    f.set_len(size).unwrap();
    drop(f);
    let prog = tool(&format!("mkfs.{fstype}")).unwrap();
    let flag = if fstype == "ext4" { "-F" } else { "-f" };
    let st = Command::new(prog).args(["-q", flag]).args(extra).arg(image).status().unwrap();
    assert!(st.success(), "mkfs.{fstype}");
}

/// A `fstype` file system of `size` bytes made in an image in a new
/// temporary directory (`name`) and mounted through mount_md (`-P`).
struct Fresh {
    tmp: TempDir,
    image: std::path::PathBuf,
    dir: std::path::PathBuf,
    loops: LoopGuard,
    guard: MountGuard,
    info: MountInfo,
}

fn mount_fresh(name: &str, fstype: &str, size: u64) -> Fresh {
    let tmp = TempDir::new(name);
    let image = tmp.join("img");
    let dir = tmp.dir("mnt");
    mkfs(fstype, &image, size, &[]);
    let mut loops = LoopGuard::default();
    ok(&mdmfs(args!["-P", "-F", &image, "md", &dir]));
    let (guard, info) = mounted(&dir, &image, &mut loops);
    Fresh { tmp, image, dir, loops, guard, info }
}

/// The size of the ext4 file system in an image, from its superblock.
fn ext4_size(image: &Path) -> u64 {
    let out = Command::new("dumpe2fs").arg("-h").arg(image).output().expect("dumpe2fs");
    let t = text(&out.stdout);
    let field = |name: &str| -> u64 {
        t.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().parse().unwrap()).unwrap_or(0)
    };
    field("Block count:") * field("Block size:")
}

/// The data size of the xfs file system mounted at `dir`, from
/// `xfs_info`'s `data = bsize=B blocks=N` line.
fn xfs_size(dir: &Path) -> u64 {
    let out = Command::new(tool("xfs_info").unwrap()).arg(dir).output().expect("xfs_info");
    let t = text(&out.stdout);
    let line = t.lines().find(|l| l.starts_with("data")).unwrap_or_default();
    let field = |name: &str| -> u64 {
        line.split(|c: char| c.is_whitespace() || c == ',')
            .find_map(|w| w.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    field("bsize=") * field("blocks=")
}

/// The size of the file system mounted at `dir`: blocks × fragment size.
fn statvfs_size(dir: &Path) -> u64 {
    let s = nix::sys::statvfs::statvfs(dir).unwrap();
    #[allow(clippy::unnecessary_cast)]
    let size = s.blocks() as u64 * s.fragment_size() as u64;
    size
}

fn e2fsck_clean(image: &Path) -> Result<(), String> {
    let out = Command::new(tool("e2fsck").unwrap()).args(["-f", "-n"]).arg(image).output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("e2fsck -fn: {}{}", text(&out.stdout), text(&out.stderr)))
    }
}

fn xfs_repair_clean(image: &Path) -> Result<(), String> {
    let out = Command::new(tool("xfs_repair").unwrap()).args(["-n", "-f"]).arg(image).output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("xfs_repair -n: {}{}", text(&out.stdout), text(&out.stderr)))
    }
}

fn hash_file(p: &Path) -> u64 {
    let mut f = std::fs::File::open(p).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            return h;
        }
        for b in &buf[..n] {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// An interruption between extending the image and growing its file
/// system (kill -9, SIGTERM at that point) leaves the image larger than
/// the file system: the same `-r` run again grows the file system.
#[test]
fn a_rerun_finishes_an_offline_ext4_grow_cut_short() {
    require_loop!();
    let tmp = TempDir::new("grow-resume-ext4");
    let image = tmp.join("img");
    mkfs("ext4", &image, 32 * MIB, &[]);
    // As a run killed after extending the image leaves it.
    std::fs::File::options().write(true).open(&image).unwrap().set_len(64 * MIB).unwrap();
    assert_eq!(ext4_size(&image), 32 * MIB);
    let out = mdmfs(args!["-r", "-s", "64m", &image]);
    ok(&out);
    assert_eq!(ext4_size(&image), 64 * MIB, "{}", text(&out.stderr));
    e2fsck_clean(&image).unwrap();
    assert_nothing_left(&tmp);
}

/// A grow by less than 4 MiB cut short resumes too: the file system is
/// compared with what resize2fs makes of the disk, not with the disk less
/// a slack; and once it is grown, the same `-r` again does nothing.
#[test]
fn a_rerun_finishes_a_one_mib_offline_ext4_grow_cut_short() {
    require_loop!();
    let tmp = TempDir::new("grow-resume-small-ext4");
    let image = tmp.join("img");
    mkfs("ext4", &image, 64 * MIB, &[]);
    std::fs::File::options().write(true).open(&image).unwrap().set_len(65 * MIB).unwrap();
    let out = mdmfs(args!["-r", "-s", "65m", &image]);
    ok(&out);
    assert_eq!(ext4_size(&image), 65 * MIB, "{}", text(&out.stderr));
    e2fsck_clean(&image).unwrap();
    let again = mdmfs(args!["-X", "-r", "-s", "65m", &image]);
    ok(&again);
    assert!(text(&again.stderr).contains("already"), "{}", text(&again.stderr));
    assert_nothing_left(&tmp);
}

#[test]
fn a_rerun_finishes_a_one_mib_online_xfs_grow_cut_short() {
    require_loop!();
    require_tools!("mkfs.xfs", "xfs_growfs", "xfs_repair");
    require_kernel_fs!("xfs");
    let Fresh { tmp, image, dir, loops: _loops, guard, .. } = mount_fresh("grow-resume-small-xfs", "xfs", 320 * MIB);
    std::fs::File::options().write(true).open(&image).unwrap().set_len(321 * MIB).unwrap();
    let dev = mount_at(&dir).unwrap().source;
    assert!(Command::new("losetup").arg("-c").arg(&dev).status().unwrap().success());
    let out = mdmfs(args!["-r", "-s", "321m", &dir]);
    ok(&out);
    assert_eq!(xfs_size(&dir), 321 * MIB, "{}", text(&out.stderr));
    ok(&mdmfs(args!["-u", &dir]));
    drop(guard);
    xfs_repair_clean(&image).unwrap();
    assert_nothing_left(&tmp);
}

#[test]
fn a_rerun_finishes_an_online_xfs_grow_cut_short() {
    require_loop!();
    require_tools!("mkfs.xfs", "xfs_growfs", "xfs_repair");
    require_kernel_fs!("xfs");
    let Fresh { tmp, image, dir, loops: _loops, guard, .. } = mount_fresh("grow-resume-xfs", "xfs", 320 * MIB);
    assert_eq!(xfs_size(&dir), 320 * MIB);
    // As a run killed after extending the image and the disk leaves them.
    std::fs::File::options().write(true).open(&image).unwrap().set_len(400 * MIB).unwrap();
    let dev = mount_at(&dir).unwrap().source;
    let st = Command::new("losetup").arg("-c").arg(&dev).status().unwrap();
    assert!(st.success());
    let out = mdmfs(args!["-r", "-s", "400m", &dir]);
    ok(&out);
    assert_eq!(xfs_size(&dir), 400 * MIB, "{}", text(&out.stderr));
    ok(&mdmfs(args!["-u", &dir]));
    drop(guard);
    assert_nothing_left(&tmp);
}

/// `-r -s 640m` on the image of a `-P -s 256m` line: the unchanged line
/// mounts it at the file system's size, with one warning naming the fstab
/// field to update; `-r` says the same.
#[test]
fn a_grow_then_the_unchanged_line_mounts() {
    require_loop!();
    let tmp = TempDir::new("grow-line");
    let image = tmp.join("img");
    let dir = tmp.dir("mnt");
    let mut loops = LoopGuard::default();
    ok(&mdmfs(args!["--create=sparse", "-s", "256m", "-F", &image, "md", &dir]));
    let (guard, _) = mounted(&dir, &image, &mut loops);
    ok(&mdmfs(args!["-u", &dir]));
    drop(guard);
    let out = mdmfs(args!["-r", "-s", "640m", &image]);
    ok(&out);
    let said = text(&out.stderr);
    assert!(said.contains("fstab") && said.contains("-s"), "-r reminds of the fstab line: {said}");
    let out = mdmfs(args!["-P", "-s", "256m", "-F", &image, "md", &dir]);
    ok(&out);
    let (guard, _) = mounted(&dir, &image, &mut loops);
    let said = text(&out.stderr);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(said.contains("fstab") && said.contains("-s"), "{said}");
    assert!(statvfs_size(&dir) > 500 * MIB);
    ok(&mdmfs(args!["-u", &dir]));
    drop(guard);
    assert_nothing_left(&tmp);
}

/// Online ext4 grow needs CAP_SYS_RESOURCE (the resize ioctl); without it
/// (dropped here with capsh, as some containers drop it even for root)
/// the grow is refused in one line before anything changes: the image
/// not extended, the mount as it was, `-N` and `-X` alike (it used to
/// extend the image and then fail in resize2fs).
#[test]
fn online_ext4_grow_without_cap_sys_resource_is_refused_first() {
    require_loop!();
    require_tools!("capsh");
    let Fresh { tmp, image, dir, loops: _loops, guard, info } = mount_fresh("grow-nocap", "ext4", 64 * MIB);
    let said = format!(
        "mount_md: {}: growing a mounted ext4 needs CAP_SYS_RESOURCE, which this process lacks \
         (a container drops it); unmount it and grow it offline; nothing changed\n",
        image.display()
    );
    for n in ["-N", "-X", "-r"] {
        let out = Command::new(tool("capsh").unwrap())
            .arg("--drop=cap_sys_resource")
            .args(["--", "-c", r#"exec "$0" "$1" -r -s 128m "$2""#])
            .arg(bin())
            .arg(n)
            .arg(&dir)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{n}: {err}");
        if n == "-r" {
            assert_eq!(err, said);
        } else {
            assert!(err.ends_with(&said), "{n}: {err}");
        }
        assert_eq!(std::fs::metadata(&image).unwrap().len(), 64 * MIB, "{n}: the image was extended");
        assert_eq!(mount_at(&dir).unwrap().source, info.source, "{n}: the mount changed");
    }
    ok(&mdmfs(args!["-u", &dir]));
    drop(guard);
    assert_nothing_left(&tmp);
}

/// Waits (bounded) until nobody holds the image's lock ([`lock_of`]): a
/// grower a killed run started holds it to its end.
fn settle(image: &Path) {
    let start = Instant::now();
    loop {
        let f = std::fs::File::open(lock_of(image)).unwrap();
        match nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock) {
            Ok(_) => return,
            Err(_) if start.elapsed() < Duration::from_secs(60) => std::thread::sleep(Duration::from_millis(20)),
            Err((_, e)) => panic!("{}: still locked after 60 s: {e}", image.display()),
        }
    }
}

/// kill -9 at `runs` random points of `-r` growing `fstype` (ext4
/// offline, xfs online); after each: the file system checks clean, the data
/// is unchanged, and the same `-r` run again reaches the target size.
pub fn killed_grows(fstype: &str, runs: u32) {
    let tmp = TempDir::new(&format!("grow-kill-{fstype}"));
    let image = tmp.join("img");
    let dir = tmp.dir("mnt");
    let (start, step) = if fstype == "xfs" { (300 * MIB, 16 * MIB) } else { (16 * MIB, 8 * MIB) };
    mkfs(fstype, &image, start, &[]);
    let mut loops = LoopGuard::default();
    ok(&mdmfs(args!["-P", "-F", &image, "md", &dir]));
    let (guard, _) = mounted(&dir, &image, &mut loops);
    let data: Vec<u8> = (0..2 * MIB).map(|i| (i * 13 % 251) as u8).collect();
    std::fs::write(dir.join("data"), &data).unwrap();
    let want = hash_file(&dir.join("data"));
    let online = fstype == "xfs";
    if !online {
        ok(&mdmfs(args!["-u", &dir]));
        drop(guard);
    } else {
        std::mem::forget(guard); // the mount stays; TempDir's drop unmounts it
    }
    let mut seed = u64::from(std::process::id()) | 1 << 41;
    eprintln!("{fstype}: seed {seed}");
    let check = |i: u32, what: &str| {
        let r = if online {
            ok(&mdmfs(args!["-u", &dir]));
            let r = xfs_repair_clean(&image);
            ok(&mdmfs(args!["-P", "-F", &image, "md", &dir]));
            let (g, _) = mounted(&dir, &image, &mut LoopGuard::default());
            std::mem::forget(g);
            r
        } else {
            e2fsck_clean(&image)
        };
        if let Err(e) = r {
            panic!("run {i} ({what}): {e}");
        }
    };
    let mut target = start;
    // How long a whole grow takes, to kill within it.
    let mut whole = Duration::from_millis(300);
    for i in 0..runs {
        target += step;
        let size = format!("{target}b");
        let on: &Path = if online { &dir } else { &image };
        let line = args!["-r", "-s", size, on];
        let at = Duration::from_micros(next(&mut seed) % (whole.as_micros() as u64 * 12 / 10).max(1));
        let t0 = Instant::now();
        let killed = run_killed(line, at);
        if !killed {
            whole = t0.elapsed();
        }
        settle(&image);
        let what = format!("killed {killed} at {at:?}");
        check(i, &what);
        let out = mdmfs(line);
        assert!(out.status.success(), "run {i} ({what}): rerun: {}", text(&out.stderr));
        let size = if online { xfs_size(&dir) } else { ext4_size(&image) };
        assert_eq!(size, target, "run {i} ({what})");
        check(i, &what);
        if online {
            assert_eq!(hash_file(&dir.join("data")), want, "run {i} ({what})");
        }
    }
    if online {
        ok(&mdmfs(args!["-u", &dir]));
    } else {
        ok(&mdmfs(args!["-P", "-F", &image, "md", &dir]));
        let (g, _) = mounted(&dir, &image, &mut loops);
        assert_eq!(hash_file(&dir.join("data")), want);
        ok(&mdmfs(args!["-u", &dir]));
        drop(g);
    }
    assert_nothing_left(&tmp);
}

#[test]
fn kill_9_during_an_offline_ext4_grow() {
    require_loop!();
    killed_grows("ext4", 4);
}

#[test]
fn kill_9_during_an_online_xfs_grow() {
    require_loop!();
    require_tools!("mkfs.xfs", "xfs_growfs", "xfs_repair");
    require_kernel_fs!("xfs");
    killed_grows("xfs", 4);
}

/// A rerun of `-r IMAGE` while a killed run's grower still holds the
/// image's lock and its unit (attached for the offline grow, mounted
/// nowhere): once the grower lets both go, the rerun grows the image
/// offline, not "released while waiting". Played here by the test: it
/// holds the unit open (so autoclear keeps it after the unmount) and the
/// image's lock, and lets go of both while the rerun waits.
#[test]
fn a_rerun_waiting_for_a_killed_runs_grower_finishes_offline() {
    require_loop!();
    let Fresh { tmp, image, dir, loops: _loops, guard, info } = mount_fresh("grow-after-grower", "ext4", 16 * MIB);
    let unit = std::fs::File::open(&info.source).unwrap();
    let lock = std::fs::File::open(lock_of(&image)).unwrap();
    let lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| e).unwrap();
    assert!(Command::new("umount").arg(&dir).status().unwrap().success());
    drop(guard);
    let rerun = Command::new(bin())
        .args(["-r", "-s", "24m"])
        .arg(&image)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Let go once the rerun waits (it says so at once).
    let start = Instant::now();
    while !std::fs::read_to_string("/proc/locks").unwrap().contains(" -> FLOCK ") {
        assert!(start.elapsed() < Duration::from_secs(5), "the rerun never waited for the lock");
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(unit);
    assert!(wait_no_loops(&image, Duration::from_secs(5)).is_empty(), "the unit outlived its last opener");
    drop(lock);
    let out = rerun.wait_with_output().unwrap();
    ok(&out);
    assert_eq!(ext4_size(&image), 24 * MIB, "{}", text(&out.stderr));
    e2fsck_clean(&image).unwrap();
    assert_nothing_left(&tmp);
}
