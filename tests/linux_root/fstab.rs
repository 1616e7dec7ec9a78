//! The real client: util-linux `mount -a` with an fstab line of type `md`
//! runs `/sbin/mount.md`, which is this build's binary in the mount
//! namespace [`HelperDir::mount`] runs mount(8) in (the host's /sbin is
//! not touched).
use crate::support::*;
use std::process::Command;
use std::time::Duration;

#[test]
fn mount_a_with_an_md_fstab_line() {
    require_loop!(alone); // it makes a mount namespace
    let tmp = require_helper!("fstab");
    let img = tmp.join("web1.img");
    make_image(&img, 32 << 20, true);
    let ct = tmp.dir("ct/web1");
    let fstab = tmp.join("fstab");
    let line = format!("md {} md rw,noatime,-P,-F{} 0 0\n", ct.display(), img.display());
    std::fs::write(&fstab, &line).unwrap();
    let mut loops = LoopGuard::default();
    let guard = MountGuard(ct.clone());
    let out = tmp.mount(args!["-a", "-T", fstab]);
    assert!(out.status.success(), "mount -a: {} {}", text(&out.stdout), text(&out.stderr));
    let m = mount_at(&ct).expect("mounted by mount -a");
    loops.record(&m.source, &img);
    assert_eq!(m.fstype, "ext4");
    assert!(m.options.split(',').any(|o| o == "noatime"), "{}", m.options);
    assert_eq!(backing_file(m.source.trim_start_matches("/dev/")).as_deref(), Some(img.as_path()));
    std::fs::write(ct.join("index.html"), b"ok").unwrap();
    let st = Command::new("umount").arg(&ct).status().unwrap();
    assert!(st.success());
    drop(guard);
    assert_eq!(wait_no_loops(tmp.path(), Duration::from_secs(10)), Vec::<String>::new());
}

#[test]
fn mount_t_md_failure_is_32() {
    require_loop!(alone); // it makes a mount namespace
    let tmp = require_helper!("fstab32");
    let dir = tmp.dir("d");
    let img = tmp.join("missing.img");
    let out = tmp.mount(args!["-t", "md", "-o", format!("-P,-F{}", img.display()), "md", dir]);
    assert_eq!(out.status.code(), Some(32), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("No such file or directory"), "{}", text(&out.stderr));
}
