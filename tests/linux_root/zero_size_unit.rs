//! The one-attachment rule sees every bound loop unit, whatever its size
//! (issue 23): a unit another tool bound to the image while it was empty
//! has no capacity, and /proc/partitions leaves such disks out; once its
//! capacity is refreshed it exposes the same file system.
use crate::support::*;
use std::fs;

#[test]
fn a_zero_size_unit_of_another_tool_counts() {
    require_loop!();
    let tmp = TempDir::new("zero-unit");
    let img = tmp.join("j.img");
    let mnt = tmp.dir("mnt");
    fs::File::create(&img).unwrap();
    let mut loops = LoopGuard::default();
    let dev = losetup(&img, &mut loops);
    let size = fs::read_to_string(format!("/sys/block/{}/size", dev.trim_start_matches("/dev/"))).unwrap();
    assert_eq!(size.trim(), "0", "{dev} has no capacity");
    fs::File::options().write(true).open(&img).unwrap().set_len(64 * MIB).unwrap();
    let out = run(&bin(), args!["-F", img, "md", mnt]);
    let guard = MountGuard(mnt.clone());
    assert!(!out.status.success(), "formatted and mounted while {dev} is bound to the image");
    assert_eq!(
        text(&out.stderr),
        format!("mount_md: {}: {dev} was not attached by mount_md; left alone (another tool attached it: when nothing uses it, losetup -d {dev} detaches it)\n", img.display())
    );
    assert!(mount_at(&mnt).is_none());
    drop(guard);
    let st = std::process::Command::new("losetup").arg("-d").arg(&dev).status().unwrap();
    assert!(st.success());
    assert_nothing_left(&tmp);
}
