//! Direct I/O never breaks an image that mounts buffered (issue 23): on a
//! host whose direct I/O needs 4096-byte units, an image whose file system
//! works in smaller ones is attached buffered.
use crate::support::*;
use std::process::Command;

/// A host file system on a 4096-byte-sector device (a loop device made
/// with `--sector-size 4096`), holding a 1 KiB-block ext4 image: mounted
/// with the default options (direct I/O) it must mount.
#[test]
fn a_1k_block_ext4_mounts_on_a_4k_sector_host() {
    require_loop!();
    on_a_4k_sector_host("dio-4k", "ext4", 64 * MIB, &["-q", "-F", "-b", "1024"]);
}

/// The same for an XFS image made with 512-byte sectors (`-s size=512`,
/// as mkfs.xfs makes one on a 512-byte-sector device), which the kernel
/// refuses to mount on a device whose logical blocks are 4096 bytes.
#[test]
fn a_512_byte_sector_xfs_mounts_on_a_4k_sector_host() {
    require_loop!();
    require_tools!("mkfs.xfs", "xfs_repair");
    require_kernel_fs!("xfs");
    on_a_4k_sector_host("dio-4k-xfs", "xfs", 320 * MIB, &["-q", "-f", "-s", "size=512"]);
}

/// A host file system that does direct I/O without reporting its
/// alignment to statx(2) (ntfs-3g, a FUSE block device) on a
/// 4096-byte-sector device: the kernel gives a direct-I/O loop device the
/// host disk's 4096-byte logical blocks, which a 1 KiB-block ext4 is not
/// mounted on; the unit is made buffered before the mount (`-X` says so).
#[test]
fn a_1k_block_ext4_mounts_on_a_fuse_host_on_a_4k_sector_disk() {
    require_loop!();
    require_tools!("ntfs-3g", "mkntfs");
    if !std::path::Path::new("/dev/fuse").exists() {
        return skip("no /dev/fuse (the fuse module)");
    }
    let tmp = TempDir::new("dio-4k-fuse");
    let host_img = tmp.join("host.img");
    let host = tmp.dir("host");
    let dir = tmp.dir("mnt");
    std::fs::File::create(&host_img).unwrap().set_len(200 * MIB).unwrap();
    let mut loops = LoopGuard::default();
    let out = Command::new("losetup").args(["-f", "--show", "--sector-size", "4096"]).arg(&host_img).output().unwrap();
    assert!(out.status.success(), "losetup: {}", text(&out.stderr));
    let host_dev = text(&out.stdout).trim().to_string();
    loops.record(&host_dev, &host_img);
    let out = Command::new(tool("mkntfs").unwrap()).args(["-Q", "-F", "-s", "4096", &host_dev]).output().unwrap();
    assert!(out.status.success(), "mkntfs: {}", text(&out.stderr));
    let st = Command::new(tool("ntfs-3g").unwrap()).arg(&host_dev).arg(&host).status().unwrap();
    assert!(st.success(), "ntfs-3g");
    let host_guard = MountGuard(host.clone());
    let image = host.join("j.img");
    make_image(&image, 64 * MIB, false);
    let st = Command::new(mkfs_ext4().unwrap()).args(["-q", "-F", "-b", "1024"]).arg(&image).status().unwrap();
    assert!(st.success());
    let out = run(&bin(), args!["-X", "-P", "-F", &image, "md", &dir]);
    let guard = MountGuard(dir.clone());
    ok(&out);
    assert!(text(&out.stderr).contains("works in 1024-byte units"), "{}", text(&out.stderr));
    let m = mount_at(&dir).expect("mounted");
    loops.record(&m.source, &image);
    std::fs::write(dir.join("f"), b"x").unwrap();
    ok(&run(&bin(), args!["-u", &dir]));
    drop(guard);
    let out = Command::new(tool("e2fsck").unwrap()).args(["-f", "-n"]).arg(&image).output().unwrap();
    assert!(out.status.success(), "e2fsck -fn: {}", text(&out.stdout));
    drop(host_guard);
    let _ = Command::new("losetup").arg("-d").arg(&host_dev).status();
    assert_nothing_left(&tmp);
}

fn on_a_4k_sector_host(tag: &str, fstype: &str, size: u64, mkfs: &[&str]) {
    let tmp = TempDir::new(tag);
    let host_img = tmp.join("host.img");
    let host = tmp.dir("host");
    let dir = tmp.dir("mnt");
    std::fs::File::create(&host_img).unwrap().set_len(size + 128 * MIB).unwrap();
    let mut loops = LoopGuard::default();
    let out = Command::new("losetup").args(["-f", "--show", "--sector-size", "4096"]).arg(&host_img).output().unwrap();
    assert!(out.status.success(), "losetup: {}", text(&out.stderr));
    let host_dev = text(&out.stdout).trim().to_string();
    loops.record(&host_dev, &host_img);
    let st = Command::new(mkfs_ext4().unwrap()).args(["-q", "-F"]).arg(&host_dev).status().unwrap();
    assert!(st.success());
    let st = Command::new("mount").arg(&host_dev).arg(&host).status().unwrap();
    assert!(st.success());
    let host_guard = MountGuard(host.clone());
    let image = host.join("j.img");
    make_image(&image, size, false);
    let st = Command::new(tool(&format!("mkfs.{fstype}")).unwrap()).args(mkfs).arg(&image).status().unwrap();
    assert!(st.success());
    let out = run(&bin(), args!["-P", "-F", &image, "md", &dir]);
    let guard = MountGuard(dir.clone());
    ok(&out);
    let m = mount_at(&dir).expect("mounted");
    loops.record(&m.source, &image);
    std::fs::write(dir.join("f"), b"x").unwrap();
    ok(&run(&bin(), args!["-u", &dir]));
    drop(guard);
    let out = match fstype {
        "ext4" => Command::new(tool("e2fsck").unwrap()).args(["-f", "-n"]).arg(&image).output().unwrap(),
        // xfs_repair reads the image with direct I/O, which a 4 KiB-sector
        // host refuses for 512-byte sectors: it checks a copy kept on the
        // test's own directory.
        _ => {
            let copy = tmp.join("copy.img");
            assert!(Command::new("cp").arg("--sparse=always").arg(&image).arg(&copy).status().unwrap().success());
            let out = Command::new(tool("xfs_repair").unwrap()).args(["-n", "-f"]).arg(&copy).output().unwrap();
            std::fs::remove_file(&copy).unwrap();
            out
        }
    };
    assert!(out.status.success(), "check: {}{}", text(&out.stdout), text(&out.stderr));
    drop(host_guard);
    let _ = Command::new("losetup").arg("-d").arg(&host_dev).status();
    assert_nothing_left(&tmp);
}
