//! Template images (`--create --from=BASE`) for real: the clone engine on
//! reflink file systems made inside the test (an XFS with reflink=1 and a
//! btrfs, each in an image of this test's, mounted through mount_md), the
//! copy that keeps holes on a host without reflink, and the tools that
//! give a copy its own UUID.
use crate::support::*;
use mount_md::platform::clone::{give_new_identity, make_from_base, Kernel, Method, Policy};
use std::fs::{File, OpenOptions};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The tools a host of `fstype` needs here (tests/run installs them; a
/// missing one fails under `MOUNT_MD_REQUIRE_ROOT=1`), and the kernel's
/// support for it (a kernel without it only skips).
fn have_host(fstype: &str) -> bool {
    let tools: &[&str] = match fstype {
        "xfs" => &["mkfs.xfs", "xfs_io", "xfs_admin", "blkid"],
        _ => &["mkfs.btrfs", "btrfstune", "xfs_io", "blkid"],
    };
    if let Some(why) = missing_tools(tools) {
        skip(&why);
        return false;
    }
    if !kernel_has(fstype) {
        skip(&format!("the kernel has no {fstype} (modprobe {fstype})"));
        return false;
    }
    true
}

/// A host file system of `fstype` in an image of `size` bytes under
/// `tmp`, mounted through mount_md on `tmp/host`: the tests' own, whatever
/// `/tmp` is on.
fn host(tmp: &TempDir, fstype: &str, size: u64, loops: &mut LoopGuard) -> (MountGuard, PathBuf) {
    let image = tmp.join(format!("host-{fstype}.img"));
    File::create(&image).unwrap().set_len(size).unwrap();
    let mkfs = tool(&format!("mkfs.{fstype}")).unwrap();
    let mut cmd = Command::new(mkfs);
    cmd.args(["-q", if fstype == "ext4" { "-F" } else { "-f" }]);
    if fstype == "xfs" {
        cmd.args(["-m", "reflink=1"]);
    }
    let out = cmd.arg(&image).output().unwrap();
    assert!(out.status.success(), "mkfs.{fstype}: {}", text(&out.stderr));
    let dir = tmp.dir("host");
    ok(&run(&bin(), args!["-P", "-F", &image, "md", &dir]));
    let (guard, _) = mounted(&dir, &image, loops);
    (guard, dir)
}

/// A 1 GiB sparse base with 32 MiB of data in four places; its bytes
/// there, for comparing.
fn base(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let f = File::create(path).unwrap();
    f.set_len(GIB).unwrap();
    let mut pieces = Vec::new();
    for (i, at) in [0, 100 * MIB, 500 * MIB, GIB - 8 * MIB].into_iter().enumerate() {
        let data: Vec<u8> = (0..8 * MIB).map(|b| (b as u8).wrapping_mul(31).wrapping_add(i as u8 + 1)).collect();
        f.write_all_at(&data, at).unwrap();
        pieces.push((at, data));
    }
    f.sync_all().unwrap();
    pieces
}

fn open(path: &Path, new: bool) -> OwnedFd {
    let f = if new {
        OpenOptions::new().read(true).write(true).create_new(true).open(path).unwrap()
    } else {
        File::open(path).unwrap()
    };
    f.into()
}

fn same_bytes(path: &Path, pieces: &[(u64, Vec<u8>)]) -> bool {
    let f = File::open(path).unwrap();
    pieces.iter().all(|(at, data)| {
        let mut buf = vec![0u8; data.len()];
        f.read_exact_at(&mut buf, *at).unwrap();
        &buf == data
    }) && {
        // A hole of the base reads as zeros in the copy.
        let mut buf = vec![1u8; 4096];
        f.read_exact_at(&mut buf, 300 * MIB).unwrap();
        buf.iter().all(|&b| b == 0)
    }
}

/// Bytes in extents `xfs_io -c 'fiemap -v'` marks shared
/// (`FIEMAP_EXTENT_SHARED`, 0x2000), in 512-byte blocks × 512.
fn shared_bytes(path: &Path) -> u64 {
    let out = Command::new(tool("xfs_io").unwrap()).args(["-r", "-c", "fiemap -v"]).arg(path).output().unwrap();
    assert!(out.status.success(), "xfs_io: {}", text(&out.stderr));
    let mut shared = 0;
    for line in text(&out.stdout).lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // EXT: FILE-OFFSET BLOCK-RANGE TOTAL FLAGS
        if cols.len() >= 5 && cols[0].ends_with(':') && cols[2] != "hole" {
            let flags = u64::from_str_radix(cols[4].trim_start_matches("0x"), 16).unwrap_or(0);
            if flags & 0x2000 != 0 {
                shared += cols[3].parse::<u64>().unwrap_or(0) * 512;
            }
        }
    }
    shared
}

/// Blocks in use on the file system holding `dir`, in bytes, after a sync.
fn used(dir: &Path) -> u64 {
    let f = File::open(dir).unwrap();
    nix::unistd::syncfs(&f).unwrap();
    let st = nix::sys::statvfs::statvfs(dir).unwrap();
    (st.blocks() - st.blocks_free()) * st.fragment_size()
}

fn clone_on(fstype: &str) {
    let tmp = TempDir::new(&format!("template-{fstype}"));
    let mut loops = LoopGuard::default();
    let (guard, dir) = host(&tmp, fstype, 2 * GIB, &mut loops);
    let (b, c) = (dir.join("base.img"), dir.join("clone.img"));
    let pieces = base(&b);
    let before = used(&dir);
    let made = make_from_base(&mut Kernel, &open(&b, false), &open(&c, true), Policy::Require).unwrap();
    eprintln!("{fstype}: {}", made.line());
    assert_eq!((made.method, made.copied), (Method::Clone, 0));
    assert_eq!(std::fs::metadata(&c).unwrap().len(), GIB);
    assert!(same_bytes(&c, &pieces));
    // Every data extent is shared with the base, and the host's space
    // hardly moved.
    assert!(shared_bytes(&c) >= 32 * MIB, "{fstype}: {} bytes shared", shared_bytes(&c));
    let grew = used(&dir).saturating_sub(before);
    assert!(grew < 4 * MIB, "{fstype}: the clone took {grew} bytes of the host");
    // Writing into the clone leaves the base alone.
    File::options().write(true).open(&c).unwrap().write_all_at(&[0xEE; 4096], 0).unwrap();
    assert!(same_bytes(&b, &pieces));
    drop(guard);
    assert_nothing_left(&tmp);
}

#[test]
fn a_1g_base_clones_on_xfs_with_reflink() {
    require_loop!();
    if have_host("xfs") {
        clone_on("xfs");
    }
}

#[test]
fn a_1g_base_clones_on_btrfs() {
    require_loop!();
    if have_host("btrfs") {
        clone_on("btrfs");
    }
}

/// ext4 has no reflink: copy_file_range of the data segments, the holes
/// kept; --clone=require refuses and writes nothing.
#[test]
fn an_ext4_host_copies_keeping_holes() {
    require_loop!();
    let tmp = TempDir::new("template-ext4");
    let mut loops = LoopGuard::default();
    let (guard, dir) = host(&tmp, "ext4", 2 * GIB, &mut loops);
    let (b, c) = (dir.join("base.img"), dir.join("copy.img"));
    let pieces = base(&b);
    let e = make_from_base(&mut Kernel, &open(&b, false), &open(&c, true), Policy::Require).unwrap_err();
    assert!(e.text().contains("--clone=require forbids a copy"), "{}", e.text());
    assert_eq!(std::fs::metadata(&c).unwrap().len(), 0, "nothing written");
    std::fs::remove_file(&c).unwrap();
    let made = make_from_base(&mut Kernel, &open(&b, false), &open(&c, true), Policy::Auto).unwrap();
    eprintln!("ext4: {}", made.line());
    assert_eq!((made.method, made.copied), (Method::KernelCopy, 32 * MIB));
    assert_eq!(std::fs::metadata(&c).unwrap().len(), GIB);
    assert!(same_bytes(&c, &pieces));
    let (bb, cb) = (std::fs::metadata(&b).unwrap().blocks(), std::fs::metadata(&c).unwrap().blocks());
    assert!(cb * 512 <= 33 * MIB, "holes kept: the copy has {cb} blocks, the base {bb}");
    drop(guard);
    assert_nothing_left(&tmp);
}

/// The tools that give a copy its own UUID, run on copies of freshly made
/// file systems that were mounted once (ext4 with metadata_csum then needs
/// the checksum seed: tune2fs refuses a plain -U until e2fsck -f).
#[test]
fn each_copy_gets_its_own_uuid() {
    require_loop!();
    for fstype in ["ext4", "xfs", "btrfs"] {
        if fstype != "ext4" && !have_host(fstype) {
            continue;
        }
        let tmp = TempDir::new(&format!("template-uuid-{fstype}"));
        let b = tmp.join("base.img");
        File::create(&b).unwrap().set_len(320 * MIB).unwrap();
        let mkfs = tool(&format!("mkfs.{fstype}")).unwrap();
        let force = if fstype == "ext4" { "-F" } else { "-f" };
        ok(&run(&mkfs, args!["-q", force, &b]));
        {
            let dir = tmp.dir("m");
            let mut loops = LoopGuard::default();
            ok(&run(&bin(), args!["-P", "-F", &b, "md", &dir]));
            let (guard, _) = mounted(&dir, &b, &mut loops);
            std::fs::write(dir.join("f"), b"base").unwrap();
            ok(&run(&bin(), args!["-u", &dir]));
            drop(guard);
        }
        let c = tmp.join("copy.img");
        std::fs::copy(&b, &c).unwrap();
        let start = {
            let mut buf = vec![0u8; 1 << 20];
            File::open(&c).unwrap().read_exact_at(&mut buf, 0).unwrap();
            buf
        };
        let find = |p: &str| tool(p).ok_or_else(|| mount_md::error::Error::plain(format!("{p} not found")));
        let ran = give_new_identity(&c, &start, find, "copy.img").unwrap();
        assert!(ran.is_some(), "{fstype}");
        let uuid = |p: &Path| {
            let out = Command::new("blkid").args(["-p", "-s", "UUID", "-o", "value"]).arg(p).output().unwrap();
            text(&out.stdout).trim().to_string()
        };
        assert_ne!(uuid(&b), uuid(&c), "{fstype}");
        assert!(!uuid(&c).is_empty(), "{fstype}");
    }
}

// ---- `--create --from=BASE` through the binary ----

fn mdmfs(args: &[&std::ffi::OsStr]) -> std::process::Output {
    run(&bin(), args)
}

/// The UUID blkid reads from `p` (an image file or a device).
fn uuid_of(p: &Path) -> String {
    let out = Command::new("blkid").args(["-p", "-s", "UUID", "-o", "value"]).arg(p).output().unwrap();
    text(&out.stdout).trim().to_string()
}

/// A 1 GiB sparse base image of `fstype` made by mount_md under `dir`,
/// holding a 160 MiB file `data`, unmounted again.
fn make_base(tmp: &TempDir, dir: &Path, fstype: &str) -> (PathBuf, Vec<u8>) {
    let base = dir.join("base.img");
    let mnt = tmp.dir("base-mnt");
    ok(&mdmfs(args!["--create=sparse", "-s", "1g", "-T", fstype, "-F", &base, "md", &mnt]));
    let data: Vec<u8> = (0..160 * MIB).map(|i| (i as u8).wrapping_mul(13) ^ 0x5a).collect();
    std::fs::write(mnt.join("data"), &data).unwrap();
    ok(&mdmfs(args!["-u", &mnt]));
    (base, data)
}

/// On a reflink host: the new image is a clone (shared extents, the host's
/// space hardly moves), has its own UUID, mounts beside its base, and what
/// is written into it stays out of the base.
fn from_base_on(fstype: &str) {
    let tmp = TempDir::new(&format!("template-from-{fstype}"));
    let mut loops = LoopGuard::default();
    let (host_guard, host) = host(&tmp, fstype, 3 * GIB, &mut loops);
    let (base, data) = make_base(&tmp, &host, fstype);
    let j1 = host.join("j1.img");
    let m1 = tmp.dir("j1");
    let before = used(&host);
    let out = mdmfs(args!["-X", "--create", &format!("--from={}", base.display()), "-F", &j1, "md", &m1]);
    ok(&out);
    let (g1, _) = mounted(&m1, &j1, &mut loops);
    let err = text(&out.stderr);
    assert!(err.contains(": a clone sharing every block with the base"), "{err}");
    assert!(err.contains("made from the base in 0."), "{err}");
    assert_eq!(std::fs::read(m1.join("data")).unwrap(), data);
    assert!(shared_bytes(&j1) >= 160 * MIB, "{fstype}: {} bytes shared", shared_bytes(&j1));
    // Far less than the data: what the new UUID rewrote (all of XFS's
    // log, 64 MiB here: xfs_admin clears it) and the mount wrote.
    let grew = used(&host).saturating_sub(before);
    assert!(grew < 96 * MIB, "{fstype}: the clone took {grew} bytes of the host");
    // Base and clone side by side, each with its own UUID.
    let mb = tmp.dir("base-again");
    ok(&mdmfs(args!["-P", "-F", &base, "md", &mb]));
    let (gb, _) = mounted(&mb, &base, &mut loops);
    let (ub, uc) = (uuid_of(&base), uuid_of(&j1));
    assert!(!ub.is_empty() && ub != uc, "{fstype}: base {ub}, clone {uc}");
    std::fs::write(m1.join("only-in-the-clone"), b"j1").unwrap();
    assert!(!mb.join("only-in-the-clone").exists());
    assert_eq!(std::fs::read(mb.join("data")).unwrap(), data);
    ok(&mdmfs(args!["-u", &m1]));
    ok(&mdmfs(args!["-u", &mb]));
    drop((g1, gb));
    // The line again: the image exists now and is mounted as it is.
    ok(&mdmfs(args!["--create", &format!("--from={}", base.display()), "-F", &j1, "md", &m1]));
    let (g1, _) = mounted(&m1, &j1, &mut loops);
    assert_eq!(std::fs::read(m1.join("only-in-the-clone")).unwrap(), b"j1");
    ok(&mdmfs(args!["-u", &m1]));
    drop(g1);
    ok(&mdmfs(args!["-u", &host]));
    drop(host_guard);
    assert_nothing_left(&tmp);
}

#[test]
fn from_a_1g_base_on_xfs_with_reflink() {
    require_loop!();
    if have_host("xfs") {
        from_base_on("xfs");
    }
}

#[test]
fn from_a_1g_base_on_btrfs() {
    require_loop!();
    if have_host("btrfs") {
        from_base_on("btrfs");
    }
}

/// On ext4 (no reflink): a copy that keeps the holes, its own UUID;
/// `--clone=require` refuses and leaves nothing.
#[test]
fn from_a_base_on_ext4_copies_keeping_holes() {
    require_loop!();
    let tmp = TempDir::new("template-from-ext4");
    let mut loops = LoopGuard::default();
    let (host_guard, host) = host(&tmp, "ext4", 3 * GIB, &mut loops);
    let (base, data) = make_base(&tmp, &host, "ext4");
    let j1 = host.join("j1.img");
    let m1 = tmp.dir("j1");
    let from = format!("--from={}", base.display());
    let out = mdmfs(args!["--create", &from, "--clone=require", "-F", &j1, "md", &m1]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "mount_md: {}: cannot be made a clone of its base (Operation not supported), \
             and --clone=require forbids a copy (--clone=auto copies it)\n",
            j1.display()
        )
    );
    assert!(!j1.exists() && !host.join(".j1.img.mount_md-new").exists(), "nothing left");
    let out = mdmfs(args!["-X", "--create", &from, "-F", &j1, "md", &m1]);
    ok(&out);
    let (g1, _) = mounted(&m1, &j1, &mut loops);
    assert!(text(&out.stderr).contains("a copy by copy_file_range"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(m1.join("data")).unwrap(), data);
    ok(&mdmfs(args!["-u", &m1]));
    drop(g1);
    let (b, c) = (std::fs::metadata(&base).unwrap(), std::fs::metadata(&j1).unwrap());
    assert_eq!(c.len(), GIB);
    assert!(c.blocks() <= b.blocks() + 2048, "holes kept: the copy has {} blocks, the base {}", c.blocks(), b.blocks());
    assert_ne!(uuid_of(&base), uuid_of(&j1));
    drop(host_guard);
    assert_nothing_left(&tmp);
}

/// A base attached read-write (by mount_md, or by losetup) is refused,
/// naming the unit and where it is mounted, and nothing is created; a
/// base attached read-only is fine.
#[test]
fn a_base_in_use_read_write_is_refused() {
    require_loop!();
    let tmp = TempDir::new("template-in-use");
    let (base, _) = make_base(&tmp, tmp.path(), "ext4");
    let mb = tmp.dir("base");
    let mut loops = LoopGuard::default();
    ok(&mdmfs(args!["-P", "-F", &base, "md", &mb]));
    let (gb, info) = mounted(&mb, &base, &mut loops);
    let j1 = tmp.join("j1.img");
    let m1 = tmp.dir("j1");
    let from = format!("--from={}", base.display());
    let out = mdmfs(args!["--create", &from, "-F", &j1, "md", &m1]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "mount_md: {}: is attached read-write as {} (mounted on {}): a copy of it could be torn; \
             detach it or attach it read-only first\n",
            base.display(),
            info.source,
            mb.display()
        )
    );
    assert!(!j1.exists() && !tmp.join(".j1.img.mount_md-new").exists(), "nothing created");
    ok(&mdmfs(args!["-u", &mb]));
    drop(gb);
    // Another tool's read-write attachment counts the same.
    let dev = losetup(&base, &mut loops);
    let out = mdmfs(args!["--create", &from, "-F", &j1, "md", &m1]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("is attached read-write as {dev} (not mounted)")),
        "{}",
        text(&out.stderr)
    );
    assert!(!j1.exists());
    drop(loops);
    // Read-only: fine.
    let mut loops = LoopGuard::default();
    ok(&mdmfs(args!["-P", "-o", "ro", "-F", &base, "md", &mb]));
    let (gb, _) = mounted(&mb, &base, &mut loops);
    ok(&mdmfs(args!["--create", &from, "-F", &j1, "md", &m1]));
    let (g1, _) = mounted(&m1, &j1, &mut loops);
    ok(&mdmfs(args!["-u", &m1]));
    ok(&mdmfs(args!["-u", &mb]));
    drop((g1, gb));
    assert_nothing_left(&tmp);
}

/// SIGKILL during the copy: no half image under the final name, and the
/// same line run again succeeds and leaves no temporary.
#[test]
fn killed_during_the_copy_a_rerun_succeeds() {
    require_loop!();
    let tmp = TempDir::new("template-kill");
    let (base, data) = make_base(&tmp, tmp.path(), "ext4");
    let j1 = tmp.join("j1.img");
    let m1 = tmp.dir("j1");
    let from = format!("--from={}", base.display());
    let line: Vec<std::ffi::OsString> =
        vec!["--create".into(), from.into(), "-F".into(), j1.clone().into(), "md".into(), m1.clone().into()];
    let line: Vec<&std::ffi::OsStr> = line.iter().map(|a| a.as_os_str()).collect();
    let line = line.as_slice();
    let mut loops = LoopGuard::default();
    for delay_ms in [0u64, 20, 60, 150, 400] {
        let mut child = Command::new(bin()).args(line).stdin(std::process::Stdio::null()).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let _ = nix::mount::umount2(&m1, nix::mount::MntFlags::empty());
        assert_eq!(wait_no_loops(tmp.path().join("j1.img").as_path(), SETTLE), Vec::<String>::new());
        if j1.exists() {
            // Published: whole, with its own identity.
            assert_eq!(std::fs::metadata(&j1).unwrap().len(), GIB, "after {delay_ms} ms");
            assert_ne!(uuid_of(&j1), uuid_of(&base), "after {delay_ms} ms");
        }
        ok(&mdmfs(line));
        let (g, _) = mounted(&m1, &j1, &mut loops);
        assert_eq!(std::fs::read(m1.join("data")).unwrap(), data, "after {delay_ms} ms");
        ok(&mdmfs(args!["-u", &m1]));
        drop(g);
        assert!(!tmp.join(".j1.img.mount_md-new").exists(), "temporary left after {delay_ms} ms");
        std::fs::remove_file(&j1).unwrap();
    }
    assert_nothing_left(&tmp);
}

// ---- `--create --from=BASE -s SIZE`: the new image grown ----

/// The size the file system in image `p` says it has, from its superblock:
/// ext4 blocks × block size, XFS data blocks × block size, btrfs
/// total_bytes.
fn fs_size(p: &Path, fstype: &str) -> u64 {
    let mut b = vec![0u8; 0x10000 + 4096];
    File::open(p).unwrap().read_exact_at(&mut b, 0).unwrap();
    let le32 = |at: usize| u64::from(u32::from_le_bytes(b[at..at + 4].try_into().unwrap()));
    match fstype {
        "ext4" => {
            let blocks = le32(1024 + 0x4) | (le32(1024 + 0x150) << 32);
            blocks * (1024 << le32(1024 + 0x18))
        }
        "xfs" => {
            let bs = u64::from(u32::from_be_bytes(b[4..8].try_into().unwrap()));
            u64::from_be_bytes(b[8..16].try_into().unwrap()) * bs
        }
        _ => u64::from_le_bytes(b[0x10000 + 0x70..0x10000 + 0x78].try_into().unwrap()),
    }
}

/// statvfs of `dir`: the file system's size in bytes.
fn statvfs_size(dir: &Path) -> u64 {
    let st = nix::sys::statvfs::statvfs(dir).unwrap();
    #[allow(clippy::unnecessary_cast)]
    let size = st.blocks() as u64 * st.fragment_size() as u64;
    size
}

fn sha256(p: &Path) -> String {
    let out = Command::new(tool("sha256sum").unwrap()).arg(p).output().unwrap();
    ok(&out);
    text(&out.stdout).split_whitespace().next().unwrap().to_string()
}

/// A 320 MiB base of `fstype` (XFS's smallest is 300 MiB) made by
/// mount_md under `tmp`, holding a file `data`, unmounted again.
fn small_base(tmp: &TempDir, fstype: &str) -> (PathBuf, Vec<u8>) {
    let base = tmp.join("base.img");
    let mnt = tmp.dir("base-mnt");
    ok(&mdmfs(args!["--create=sparse", "-s", "320m", "-T", fstype, "-F", &base, "md", &mnt]));
    let data: Vec<u8> = (0..8 * MIB).map(|i| (i as u8).wrapping_mul(7) ^ 0x3c).collect();
    std::fs::write(mnt.join("data"), &data).unwrap();
    ok(&mdmfs(args!["-u", &mnt]));
    (base, data)
}

/// `-s` larger than the base: the new image is that size and its file
/// system fills it (statvfs while mounted, the superblock after), the data
/// is there, the base is untouched; `-X` says what was done. The same size
/// is nothing to do; a smaller one is refused with nothing made.
fn grown_from_base(fstype: &str) {
    let tmp = TempDir::new(&format!("template-grow-{fstype}"));
    let mut loops = LoopGuard::default();
    let (base, data) = small_base(&tmp, fstype);
    let before = sha256(&base);
    let from = format!("--from={}", base.display());
    let j1 = tmp.join("j1.img");
    let m1 = tmp.dir("j1");
    let out = mdmfs(args!["-X", "--create", &from, "-s", "512m", "-F", &j1, "md", &m1]);
    ok(&out);
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "grew the new image and its {fstype} file system from its base's {} to {} bytes",
            320 * MIB,
            512 * MIB
        )),
        "{err}"
    );
    let (g1, _) = mounted(&m1, &j1, &mut loops);
    assert_eq!(std::fs::metadata(&j1).unwrap().len(), 512 * MIB);
    let seen = statvfs_size(&m1);
    assert!(seen > 400 * MIB && seen <= 512 * MIB, "{fstype}: statvfs says {seen} bytes");
    assert_eq!(std::fs::read(m1.join("data")).unwrap(), data);
    ok(&mdmfs(args!["-u", &m1]));
    drop(g1);
    assert_eq!(fs_size(&j1, fstype), 512 * MIB, "{fstype}: the superblock");
    assert_ne!(uuid_of(&j1), uuid_of(&base));
    assert_eq!(sha256(&base), before, "{fstype}: the base changed");
    assert_eq!(std::fs::metadata(&base).unwrap().len(), 320 * MIB);

    // The base's own size: nothing to grow, said under -X.
    let j2 = tmp.join("j2.img");
    let out = mdmfs(args!["-X", "--create", &from, "-s", "320m", "-F", &j2, "md", &m1]);
    ok(&out);
    assert!(
        text(&out.stderr).contains(&format!("is already {} bytes: nothing to do", 320 * MIB)),
        "{}",
        text(&out.stderr)
    );
    let (g2, _) = mounted(&m1, &j2, &mut loops);
    ok(&mdmfs(args!["-u", &m1]));
    drop(g2);
    assert_eq!(std::fs::metadata(&j2).unwrap().len(), 320 * MIB);

    // Smaller: one line, nothing made.
    let j3 = tmp.join("j3.img");
    let out = mdmfs(args!["--create", &from, "-s", "100m", "-F", &j3, "md", &m1]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "is {} bytes, more than -s {}: an image made from a base is never smaller; give -s {}B or more, \
             or no -s; nothing made",
            320 * MIB,
            100 * MIB,
            320 * MIB
        )),
        "{err}"
    );
    assert!(!j3.exists() && !tmp.join(".j3.img.mount_md-new").exists());
    assert_eq!(sha256(&base), before);
    assert_nothing_left(&tmp);
}

#[test]
fn grown_from_an_ext4_base() {
    require_loop!();
    grown_from_base("ext4");
}

#[test]
fn grown_from_an_xfs_base() {
    require_loop!();
    if have_host("xfs") {
        grown_from_base("xfs");
    }
}

#[test]
fn grown_from_a_btrfs_base() {
    require_loop!();
    if have_host("btrfs") {
        grown_from_base("btrfs");
    }
}

/// SIGKILL while the new image is grown (offline for ext4, mounted in the
/// run's own mount namespace for XFS): no half image under the final name
/// (anything published is whole: the size asked, its file system that
/// size), no mount or loop device left, and the line run again succeeds.
fn killed_while_growing(fstype: &str) {
    let tmp = TempDir::new(&format!("template-grow-kill-{fstype}"));
    let (base, data) = small_base(&tmp, fstype);
    let j1 = tmp.join("j1.img");
    let m1 = tmp.dir("j1");
    let from = format!("--from={}", base.display());
    let line: Vec<std::ffi::OsString> = vec![
        "--create".into(),
        from.into(),
        "-s".into(),
        "1g".into(),
        "-F".into(),
        j1.clone().into(),
        "md".into(),
        m1.clone().into(),
    ];
    let line: Vec<&std::ffi::OsStr> = line.iter().map(|a| a.as_os_str()).collect();
    let line = line.as_slice();
    let mut loops = LoopGuard::default();
    for delay_ms in [0u64, 30, 80, 150, 300, 600] {
        let mut child = Command::new(bin()).args(line).stdin(std::process::Stdio::null()).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let _ = nix::mount::umount2(&m1, nix::mount::MntFlags::empty());
        assert_eq!(wait_no_loops(tmp.path().join("j1.img").as_path(), SETTLE), Vec::<String>::new());
        if j1.exists() {
            assert_eq!(std::fs::metadata(&j1).unwrap().len(), GIB, "after {delay_ms} ms");
            assert_eq!(fs_size(&j1, fstype), GIB, "after {delay_ms} ms");
        }
        ok(&mdmfs(line));
        let (g, _) = mounted(&m1, &j1, &mut loops);
        assert_eq!(std::fs::read(m1.join("data")).unwrap(), data, "after {delay_ms} ms");
        ok(&mdmfs(args!["-u", &m1]));
        drop(g);
        assert_eq!(fs_size(&j1, fstype), GIB, "after {delay_ms} ms");
        assert!(!tmp.join(".j1.img.mount_md-new").exists(), "temporary left after {delay_ms} ms");
        std::fs::remove_file(&j1).unwrap();
    }
    assert_eq!(std::fs::metadata(&base).unwrap().len(), 320 * MIB);
    assert_nothing_left(&tmp);
}

#[test]
fn killed_while_growing_ext4_a_rerun_succeeds() {
    require_loop!();
    killed_while_growing("ext4");
}

#[test]
fn killed_while_growing_xfs_a_rerun_succeeds() {
    require_loop!();
    if have_host("xfs") {
        killed_while_growing("xfs");
    }
}
