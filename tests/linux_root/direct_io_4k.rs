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
    let tmp = TempDir::new("dio-4k");
    let host_img = tmp.join("host.img");
    let host = tmp.dir("host");
    let dir = tmp.dir("mnt");
    std::fs::File::create(&host_img).unwrap().set_len(256 * MIB).unwrap();
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
    make_image(&image, 64 * MIB, false);
    let st = Command::new(mkfs_ext4().unwrap()).args(["-q", "-F", "-b", "1024"]).arg(&image).status().unwrap();
    assert!(st.success());
    let out = run(&bin(), args!["-P", "-F", &image, "md", &dir]);
    let guard = MountGuard(dir.clone());
    ok(&out);
    let m = mount_at(&dir).expect("mounted");
    loops.record(&m.source, &image);
    std::fs::write(dir.join("f"), b"x").unwrap();
    ok(&run(&bin(), args!["-u", &dir]));
    drop(guard);
    let out = Command::new("e2fsck").args(["-f", "-n"]).arg(&image).output().unwrap();
    assert!(out.status.success(), "e2fsck -fn: {}", text(&out.stdout));
    drop(host_guard);
    let _ = Command::new("losetup").arg("-d").arg(&host_dev).status();
    assert_nothing_left(&tmp);
}
