//! `mount_md -r` and `mount_md --list` for real, on loop devices (root).
//! Every test works on its own images under its own temp dir and touches
//! no other loop device or mount.
use crate::support::*;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn mdmfs(args: &[&std::ffi::OsStr]) -> Output {
    run(&bin(), args)
}

/// FNV-1a, enough to tell whether bytes changed.
fn fnv(data: &[u8], mut h: u64) -> u64 {
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}
const FNV0: u64 = 0xcbf2_9ce4_8422_2325;

fn hash_file(p: &Path) -> u64 {
    let mut f = std::fs::File::open(p).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut h = FNV0;
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            return h;
        }
        h = fnv(&buf[..n], h);
    }
}

/// The size of the file system mounted at `dir`, as df(1) reports it.
fn df_size(dir: &Path) -> u64 {
    let out = Command::new("df").args(["-B1", "--output=size"]).arg(dir).output().expect("df");
    assert!(out.status.success());
    text(&out.stdout).lines().nth(1).unwrap().trim().parse().unwrap()
}

/// ext4 grows online through an ioctl that needs CAP_SYS_RESOURCE, which
/// some containers drop even for root.
fn have_cap_sys_resource() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let eff = status.lines().find_map(|l| l.strip_prefix("CapEff:")).map(str::trim).unwrap_or("0");
    u64::from_str_radix(eff, 16).is_ok_and(|caps| caps & (1 << 24) != 0)
}

fn mkfs(fstype: &str, image: &Path, size: u64) {
    let f = std::fs::File::create(image).unwrap();
    f.set_len(size).unwrap();
    drop(f);
    let prog = tool(&format!("mkfs.{fstype}")).unwrap();
    let flag = if fstype == "ext4" { "-F" } else { "-f" };
    let st = Command::new(prog).args(["-q", flag]).arg(image).status().unwrap();
    assert!(st.success(), "mkfs.{fstype}");
}

/// Mounted through mount_md; the guards clean up if the test fails.
fn mount(image: &Path, dir: &Path, loops: &mut LoopGuard) -> (MountGuard, MountInfo) {
    ok(&mdmfs(args!["-P", "-F", image, "md", dir]));
    mounted(dir, image, loops)
}

/// Grows a mounted `fstype` image from `from` to `to` bytes while a
/// thread keeps writing into it; checks the data, the new size and that
/// it stayed mounted.
/// `with_s`: mounted with `-s` the image's size (as a `--create -s` line
/// leaves it), so the loop device has a size limit to grow.
fn online_grow(fstype: &str, from: u64, to: u64, with_s: bool) {
    let tmp = TempDir::new(&format!("grow-online-{fstype}"));
    let image = tmp.join("img");
    let dir = tmp.dir("mnt");
    mkfs(fstype, &image, from);
    let mut loops = LoopGuard::default();
    let (guard, before) = if with_s {
        ok(&mdmfs(args!["-P", "-s", format!("{from}b"), "-F", &image, "md", &dir]));
        mounted(&dir, &image, &mut loops)
    } else {
        mount(&image, &dir, &mut loops)
    };
    let old_size = df_size(&dir);
    // Data that was there before.
    let seed: Vec<u8> = (0..4 * MIB).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.join("before"), &seed).unwrap();
    // A writer that keeps appending while the grow runs.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let path = dir.join("stream");
        std::thread::spawn(move || {
            let mut f = std::fs::File::create(&path).unwrap();
            let mut h = FNV0;
            let mut n: u64 = 0;
            let mut chunks = 0;
            while !stop.load(Ordering::SeqCst) || chunks < 8 {
                let chunk: Vec<u8> = (0..64 * 1024u64).map(|i| ((n + i) * 31 % 253) as u8).collect();
                f.write_all(&chunk).unwrap();
                f.sync_data().unwrap();
                h = fnv(&chunk, h);
                n += chunk.len() as u64;
                chunks += 1;
                if n > from / 4 {
                    break; // never fill the old size
                }
            }
            (h, n)
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(50));
    let out = mdmfs(args!["-X", "-r", "-s", format!("{to}b"), &dir]);
    stop.store(true, Ordering::SeqCst);
    let (want, written) = writer.join().unwrap();
    ok(&out);
    let how = if with_s { format!("LOOP_SET_STATUS64, lo_sizelimit={to}") } else { "LOOP_SET_CAPACITY".into() };
    assert!(text(&out.stderr).contains(&how), "{}", text(&out.stderr));
    // Still mounted, from the same device.
    let now = mount_at(&dir).expect("still mounted");
    assert_eq!(now.source, before.source);
    // Data unchanged.
    assert_eq!(std::fs::metadata(dir.join("stream")).unwrap().len(), written);
    assert_eq!(hash_file(&dir.join("stream")), want);
    assert_eq!(hash_file(&dir.join("before")), fnv(&seed, FNV0));
    // df shows the new size (less the file system's own overhead).
    let new_size = df_size(&dir);
    assert!(new_size > old_size + (to - from) * 8 / 10, "df: {old_size} -> {new_size}");
    // --list says how much is used, whatever device number the file
    // system reports (btrfs gives its mounts anonymous ones).
    let list = mdmfs(args!["--list", "--bytes"]);
    ok(&list);
    let line = text(&list.stdout).lines().find(|l| l.starts_with(&format!("{} ", before.source))).map(str::to_string);
    let used = line.as_deref().and_then(|l| l.split_whitespace().nth(6)).unwrap_or("?").to_string();
    assert!(used.parse::<u64>().is_ok(), "{fstype}: used {used:?} in {line:?}");
    // The image is that large and every new block is allocated.
    let md = std::fs::metadata(&image).unwrap();
    assert_eq!(md.len(), to);
    assert!(md.blocks() * 512 >= to - from, "{} blocks", md.blocks());
    ok(&mdmfs(args!["-u", &dir]));
    drop(guard);
    assert_nothing_left(&tmp);
}

#[test]
fn online_grow_xfs_while_writing() {
    require_loop!();
    require_tools!("mkfs.xfs", "xfs_growfs");
    require_kernel_fs!("xfs");
    online_grow("xfs", 320 * MIB, 640 * MIB, false);
}

/// Mounted with `-s` (the loop device has a size limit): the new size is
/// given as the new limit.
#[test]
fn online_grow_xfs_mounted_with_s() {
    require_loop!();
    require_tools!("mkfs.xfs", "xfs_growfs");
    require_kernel_fs!("xfs");
    online_grow("xfs", 320 * MIB, 480 * MIB, true);
}

#[test]
fn online_grow_btrfs_while_writing() {
    require_loop!();
    require_tools!("mkfs.btrfs", "btrfs");
    require_kernel_fs!("btrfs");
    online_grow("btrfs", 160 * MIB, 320 * MIB, false);
}

#[test]
fn online_grow_ext4_while_writing() {
    require_loop!();
    if !have_cap_sys_resource() {
        skip_optional("no CAP_SYS_RESOURCE here, which ext4's online resize (EXT4_IOC_RESIZE_FS) needs");
        return;
    }
    online_grow("ext4", 64 * MIB, 128 * MIB, false);
}

#[test]
fn offline_grow_ext4() {
    require_loop!();
    let tmp = TempDir::new("grow-offline");
    let image = tmp.join("img");
    let dir = tmp.dir("mnt");
    mkfs("ext4", &image, 64 * MIB);
    let data: Vec<u8> = (0..3 * MIB).map(|i| (i % 241) as u8).collect();
    {
        let mut loops = LoopGuard::default();
        let (guard, _) = mount(&image, &dir, &mut loops);
        std::fs::write(dir.join("data"), &data).unwrap();
        ok(&mdmfs(args!["-u", &dir]));
        drop(guard);
    }
    let old = {
        let mut loops = LoopGuard::default();
        let (guard, _) = mount(&image, &dir, &mut loops);
        let s = df_size(&dir);
        ok(&mdmfs(args!["-u", &dir]));
        drop(guard);
        s
    };
    assert_nothing_left(&tmp);
    // -N prints the steps and changes nothing.
    let out = mdmfs(args!["-N", "-r", "-s", "128m", &image]);
    ok(&out);
    let steps = text(&out.stdout);
    let kinds: Vec<&str> = steps.lines().map(|l| l.split(['(', ' ']).next().unwrap()).collect();
    assert_eq!(kinds, ["fallocate", "flock", "e2fsck", "resize2fs", "ioctl"], "{steps}");
    assert_eq!(std::fs::metadata(&image).unwrap().len(), 64 * MIB);
    // The grow itself, traced.
    let out = mdmfs(args!["-X", "-r", "-s", "128m", &image]);
    ok(&out);
    let trace = text(&out.stderr);
    assert!(trace.contains("DEBUG: e2fsck -f -p /dev/loop") && trace.contains("DEBUG: resize2fs /dev/loop"), "{trace}");
    assert_nothing_left(&tmp);
    let md = std::fs::metadata(&image).unwrap();
    assert_eq!(md.len(), 128 * MIB);
    assert!(md.blocks() * 512 >= 64 * MIB, "new tail not allocated: {} blocks", md.blocks());
    let mut loops = LoopGuard::default();
    let (guard, _) = mount(&image, &dir, &mut loops);
    let new = df_size(&dir);
    assert!(new > old + 50 * MIB, "df: {old} -> {new}");
    assert_eq!(std::fs::read(dir.join("data")).unwrap(), data);
    ok(&mdmfs(args!["-u", &dir]));
    drop(guard);
    assert_nothing_left(&tmp);
}

#[test]
fn shrink_is_refused_and_same_size_does_nothing() {
    require_loop!();
    let tmp = TempDir::new("grow-shrink");
    let image = tmp.join("img");
    let dir = tmp.dir("mnt");
    mkfs("ext4", &image, 64 * MIB);
    // Offline.
    let out = mdmfs(args!["-r", "-s", "32m", &image]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "mount_md: {}: is 67108864 bytes; -r does not shrink (asked for 33554432); nothing changed\n",
            image.display()
        )
    );
    assert_eq!(std::fs::metadata(&image).unwrap().len(), 64 * MIB);
    ok(&mdmfs(args!["-r", "-s", "64m", &image]));
    assert_eq!(std::fs::metadata(&image).unwrap().len(), 64 * MIB);
    assert_nothing_left(&tmp);
    // Mounted.
    let mut loops = LoopGuard::default();
    let (guard, before) = mount(&image, &dir, &mut loops);
    let size = df_size(&dir);
    let out = mdmfs(args!["-r", "-s", "63m", &dir]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("does not shrink"), "{}", text(&out.stderr));
    let out = mdmfs(args!["-X", "-r", "-s", "64m", &dir]);
    ok(&out);
    assert!(text(&out.stderr).contains("already 67108864 bytes: nothing to do"), "{}", text(&out.stderr));
    assert_eq!(mount_at(&dir).unwrap().source, before.source);
    assert_eq!(df_size(&dir), size);
    assert_eq!(std::fs::metadata(&image).unwrap().len(), 64 * MIB);
    ok(&mdmfs(args!["-u", &dir]));
    drop(guard);
    assert_nothing_left(&tmp);
}

#[test]
fn units_without_the_mark_are_neither_grown_nor_listed() {
    require_loop!();
    let tmp = TempDir::new("grow-foreign");
    let image = tmp.join("img");
    mkfs("ext4", &image, 64 * MIB);
    let mut loops = LoopGuard::default();
    let dev = losetup(&image, &mut loops);
    let out = mdmfs(args!["-r", "-s", "128m", &dev]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!("mount_md: {dev}: not attached by mount_md (it carries no mount_md mark); nothing changed\n")
    );
    let out = mdmfs(args!["-r", "-s", "128m", &image]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::metadata(&image).unwrap().len(), 64 * MIB);
    // --list leaves it out; --all shows it, foreign.
    let out = mdmfs(args!["--list"]);
    ok(&out);
    assert!(!text(&out.stdout).lines().any(|l| l.starts_with(&format!("{dev} "))), "{}", text(&out.stdout));
    let out = mdmfs(args!["--list", "--all", "--bytes"]);
    ok(&out);
    let line = text(&out.stdout).lines().find(|l| l.starts_with(&format!("{dev} "))).map(str::to_string);
    let line = line.unwrap_or_else(|| panic!("{dev} not in --list --all: {}", text(&out.stdout)));
    let f: Vec<&str> = line.split_whitespace().collect();
    let dio = f[9];
    assert_eq!(
        f,
        [dev.as_str(), &image.display().to_string(), "-", "-", "67108864", "-", "-", "-", "-", dio, "foreign", "-"]
    );
    let out = mdmfs(args!["--list", "--all", "--json"]);
    ok(&out);
    assert!(text(&out.stdout).contains(&format!("\"device\": \"{dev}\"")), "{}", text(&out.stdout));
    let st = Command::new("losetup").arg("-d").arg(&dev).status().unwrap();
    assert!(st.success());
    assert_nothing_left(&tmp);
}

/// The object for `device` in `--list --json` output, checked by python3's
/// json module (the output must be strict JSON).
fn json_object(json: &str, device: &str) -> Option<String> {
    {
        let check = Command::new(tool("python3").expect("python3 (tests/run installs it)"))
            .args([
                "-c",
                "import json,sys; a=json.load(sys.stdin)['mount_md']; assert isinstance(a, list); print(len(a))",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin.take().unwrap().write_all(json.as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        assert!(check.status.success(), "not valid JSON: {json}");
    }
    json.lines().find(|l| l.contains(&format!("\"device\": \"{device}\""))).map(str::to_string)
}

#[test]
fn list_and_json_while_mounted_and_after_release() {
    require_loop!();
    require_tools!("python3");
    let tmp = TempDir::new("list \"q\"");
    let image = tmp.join("im g");
    let dir = tmp.dir("mnt");
    mkfs("ext4", &image, 64 * MIB);
    let mut loops = LoopGuard::default();
    let (guard, m) = mount(&image, &dir, &mut loops);
    std::fs::write(dir.join("f"), vec![1u8; 2 * MIB as usize]).unwrap();
    nix::unistd::sync();
    let out = mdmfs(args!["--list", "--bytes"]);
    ok(&out);
    let listing = text(&out.stdout);
    let line =
        listing.lines().find(|l| l.starts_with(&format!("{} ", m.source))).unwrap_or_else(|| panic!("{listing}"));
    let f: Vec<&str> = line.split_whitespace().collect();
    let esc = |p: &Path| p.display().to_string().replace(' ', "\\040");
    assert_eq!(f.len(), 12, "{line}");
    assert_eq!(f[1], esc(&image));
    assert_eq!(f[2], esc(&dir));
    assert_eq!((f[3], f[4]), ("ext4", "67108864"));
    let used: u64 = f[6].parse().unwrap();
    assert!((2 * MIB..64 * MIB).contains(&used), "{line}");
    assert_eq!((f[8], f[10], f[11]), ("rw", "mount_md", "-"), "no crypt layer: {line}");
    let out = mdmfs(args!["--list", "--json"]);
    ok(&out);
    let json = text(&out.stdout);
    let obj = json_object(&json, &m.source).unwrap_or_else(|| panic!("{json}"));
    let q = |p: &Path| p.display().to_string().replace('"', "\\\"");
    assert!(obj.contains(&format!("\"image\": \"{}\"", q(&image))), "{obj}");
    assert!(obj.contains(&format!("\"mountpoint\": \"{}\"", q(&dir))), "{obj}");
    assert!(obj.contains("\"size\": 67108864") && obj.contains("\"readonly\": false"), "{obj}");
    assert!(obj.contains("\"used\": ") && !obj.contains("\"used\": null"), "{obj}");
    ok(&mdmfs(args!["-u", &dir]));
    drop(guard);
    assert_nothing_left(&tmp);
    let out = mdmfs(args!["--list", "--all"]);
    ok(&out);
    assert!(!text(&out.stdout).contains(&esc(&image)), "{}", text(&out.stdout));
    let out = mdmfs(args!["--list", "--json"]);
    ok(&out);
    let json = text(&out.stdout);
    assert!(json_object(&json, &m.source).is_none_or(|o| !o.contains(&q(&image))), "{json}");
}

/// A grow the host file system has no room for: the allocation fails
/// part-way, the image is cut back to its old length (the space given
/// back), and the message says nothing changed. The host is a small ext4
/// of the test's own, mounted through mount_md.
#[test]
fn a_grow_without_room_gives_the_space_back() {
    require_loop!();
    let tmp = TempDir::new("grow-enospc");
    let host_img = tmp.join("host.img");
    let host = tmp.dir("host");
    mkfs("ext4", &host_img, 48 * MIB);
    let mut loops = LoopGuard::default();
    let (guard, _) = mount(&host_img, &host, &mut loops);
    let image = host.join("a.img");
    mkfs("ext4", &image, 16 * MIB);
    let before = hash_file(&image);
    let free = || nix::sys::statvfs::statvfs(&host).map(|v| v.blocks_available() * v.fragment_size()).unwrap();
    let free_before = free();
    let out = mdmfs(args!["-r", "-s", "128m", &image]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("No space left on device") && err.trim_end().ends_with("(nothing changed)"), "{err}");
    assert_eq!(std::fs::metadata(&image).unwrap().len(), 16 * MIB, "cut back");
    assert_eq!(hash_file(&image), before);
    assert!(free() + MIB >= free_before, "the space is given back: {} < {free_before}", free());
    ok(&mdmfs(args!["-u", &host]));
    drop(guard);
    assert_nothing_left(&tmp);
}

/// An image mounted in another mount namespace (a container's) is in use,
/// not offline: -r refuses it, changing nothing, instead of running e2fsck
/// and resize2fs on a mounted file system.
#[test]
fn an_image_mounted_in_another_namespace_is_not_grown_offline() {
    require_loop!(alone); // it makes a mount namespace
    let tmp = TempDir::new("grow-other-ns");
    let image = tmp.join("img");
    let dir = tmp.dir("mnt");
    mkfs("ext4", &image, 32 * MIB);
    let holder =
        Holder::in_namespace(r#""$0" -P -F "$1" md "$2""#, &[bin().as_os_str(), image.as_os_str(), dir.as_os_str()]);
    let attached = loops_backed_by(&image);
    let out = mdmfs(args!["-r", "-s", "48m", &image]);
    drop(holder);
    assert_eq!(attached.len(), 1, "mounted in the other namespace");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("mounted in another mount namespace (process "), "{}", text(&out.stderr));
    assert_eq!(std::fs::metadata(&image).unwrap().len(), 32 * MIB, "nothing changed");
    assert!(wait_no_loops(&image, std::time::Duration::from_secs(5)).is_empty());
    assert_nothing_left(&tmp);
}
