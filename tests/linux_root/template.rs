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

fn program(name: &str) -> Option<PathBuf> {
    ["/sbin", "/usr/sbin", "/bin", "/usr/bin"].iter().map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

fn kernel_has(fstype: &str) -> bool {
    std::fs::read_to_string("/proc/filesystems")
        .is_ok_and(|t| t.lines().any(|l| l.split_whitespace().last() == Some(fstype)))
}

/// The tools a host of `fstype` needs here (tests/run installs them), or
/// why the test cannot run: a missing tool fails under
/// `MOUNT_MD_REQUIRE_ROOT=1`, a kernel without the file system does not.
fn have_host(fstype: &str) -> bool {
    let tools: &[&str] = match fstype {
        "xfs" => &["mkfs.xfs", "xfs_io", "xfs_admin"],
        _ => &["mkfs.btrfs", "btrfstune", "xfs_io"],
    };
    if let Some(t) = tools.iter().find(|t| program(t).is_none()) {
        skip(&format!("{t} not found (tests/run installs xfsprogs and btrfs-progs)"));
        return false;
    }
    if !kernel_has(fstype) {
        skip_optional(&format!("this kernel has no {fstype}"));
        return false;
    }
    true
}

/// A host file system of `fstype` in an image of `size` bytes under
/// `tmp`, mounted through mount_md on `tmp/host`.
fn host(tmp: &TempDir, fstype: &str, size: u64, loops: &mut LoopGuard) -> (MountGuard, PathBuf) {
    let image = tmp.join(format!("host-{fstype}.img"));
    File::create(&image).unwrap().set_len(size).unwrap();
    let mkfs = program(&format!("mkfs.{fstype}")).unwrap();
    let mut cmd = Command::new(mkfs);
    cmd.args(["-q", "-f"]);
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
    let out = Command::new(program("xfs_io").unwrap()).args(["-r", "-c", "fiemap -v"]).arg(path).output().unwrap();
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
    let made = make_from_base(&mut Kernel::default(), &open(&b, false), &open(&c, true), Policy::Require).unwrap();
    eprintln!("{fstype}: {}", made.line());
    assert_eq!((made.method, made.copied, made.len), (Method::Clone, 0, GIB));
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
    let st = nix::sys::statfs::statfs(tmp.path()).unwrap();
    if st.filesystem_type() != nix::sys::statfs::EXT4_SUPER_MAGIC {
        skip_optional(&format!("{} is not on ext4", tmp.path().display()));
        return;
    }
    let (b, c) = (tmp.join("base.img"), tmp.join("copy.img"));
    let pieces = base(&b);
    let e = make_from_base(&mut Kernel::default(), &open(&b, false), &open(&c, true), Policy::Require).unwrap_err();
    assert!(e.text().contains("--clone=require forbids a copy"), "{}", e.text());
    assert_eq!(std::fs::metadata(&c).unwrap().len(), 0, "nothing written");
    std::fs::remove_file(&c).unwrap();
    let made = make_from_base(&mut Kernel::default(), &open(&b, false), &open(&c, true), Policy::Auto).unwrap();
    eprintln!("ext4: {}", made.line());
    assert_eq!((made.method, made.copied, made.len), (Method::KernelCopy, 32 * MIB, GIB));
    assert!(same_bytes(&c, &pieces));
    let (bb, cb) = (std::fs::metadata(&b).unwrap().blocks(), std::fs::metadata(&c).unwrap().blocks());
    assert!(cb * 512 <= 33 * MIB, "holes kept: the copy has {cb} blocks, the base {bb}");
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
        let mkfs = program(&format!("mkfs.{fstype}")).unwrap();
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
        let find = |p: &str| program(p).ok_or_else(|| mount_md::error::Error::plain(format!("{p} not found")));
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
