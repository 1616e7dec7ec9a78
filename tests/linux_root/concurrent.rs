//! The allocation race: 16 mount_md processes at once, each on its own
//! image, all get distinct loop devices, all unmount cleanly, none leaks.
use crate::support::*;
use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const N: usize = 16;

#[test]
fn sixteen_at_once() {
    require_loop!();
    let tmp = TempDir::new("race");
    let mut images = Vec::new();
    let mut dirs = Vec::new();
    for i in 0..N {
        let img = tmp.join(format!("c{i}.img"));
        // Half are prepared ext4 images (-P), half are formatted by mount_md itself.
        make_image(&img, 24 << 20, i % 2 == 1);
        images.push(img);
        dirs.push(tmp.dir(&format!("m{i}")));
    }
    let mut guards: Vec<MountGuard> = dirs.iter().map(|d| MountGuard(d.clone())).collect();
    let mut loops = LoopGuard::default();
    let start = Instant::now();
    let children: Vec<_> = (0..N)
        .map(|i| {
            let mut c = Command::new(bin());
            if i % 2 == 1 {
                c.arg("-P");
            }
            c.arg("-F").arg(&images[i]).arg("md").arg(&dirs[i]);
            c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn")
        })
        .collect();
    let outputs: Vec<_> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    let elapsed = start.elapsed();
    let mut devices = BTreeSet::new();
    for (i, out) in outputs.iter().enumerate() {
        assert!(out.status.success(), "#{i}: {}", text(&out.stderr));
        let m = mount_at(&dirs[i]).unwrap_or_else(|| panic!("#{i} not mounted"));
        loops.record(&m.source, &images[i]);
        assert_eq!(backing_file(m.source.trim_start_matches("/dev/")).as_deref(), Some(images[i].as_path()));
        devices.insert(m.source.clone());
    }
    assert_eq!(devices.len(), N, "distinct devices: {devices:?}");
    eprintln!("{N} concurrent mounts in {elapsed:?} on {devices:?}");
    for d in &dirs {
        let st = Command::new("umount").arg(d).status().unwrap();
        assert!(st.success(), "umount {}", d.display());
    }
    guards.clear();
    assert_eq!(wait_no_loops(tmp.path(), Duration::from_secs(10)), Vec::<String>::new(), "leaked loop devices");
}

/// losetup does not take the loop-control lock, so it can win the race
/// between LOOP_CTL_GET_FREE and LOOP_CONFIGURE: mount_md must retry on
/// EBUSY and never detach the device losetup got.
#[test]
fn racing_losetup() {
    require_loop!();
    let tmp = TempDir::new("losetup");
    let mut loops = LoopGuard::default();
    let mut guards = Vec::new();
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for i in 0..N {
        let img = tmp.join(format!("r{i}.img"));
        make_image(&img, 16 << 20, true);
        let dir = tmp.dir(&format!("m{i}"));
        guards.push(MountGuard(dir.clone()));
        ours.push((img, dir));
        let other = tmp.join(format!("l{i}.img"));
        make_image(&other, 1 << 20, false);
        theirs.push(other);
    }
    let spawn = |c: &mut Command| c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut children = Vec::new();
    for i in 0..N {
        children.push((
            true,
            spawn(Command::new(bin()).arg("-X").arg("-P").arg("-F").arg(&ours[i].0).arg("md").arg(&ours[i].1)),
        ));
        children.push((false, spawn(Command::new("losetup").arg("-f").arg("--show").arg(&theirs[i]))));
    }
    // Every child waited for, and every device losetup got recorded for
    // the guard to detach, before anything is asserted.
    let outs: Vec<(bool, std::process::Output)> =
        children.into_iter().map(|(mine, c)| (mine, c.wait_with_output().unwrap())).collect();
    for (_, out) in outs.iter().filter(|(mine, out)| !mine && out.status.success()) {
        let dev = text(&out.stdout).trim().to_string();
        if let Some(img) = backing_file(dev.trim_start_matches("/dev/")) {
            loops.record(&dev, &img);
        }
    }
    let mut lost = 0;
    for (mine, out) in &outs {
        assert!(out.status.success(), "{}", text(&out.stderr));
        if *mine {
            lost += text(&out.stderr).lines().filter(|l| l.contains("lost race")).count();
        } else {
            let dev = text(&out.stdout).trim().to_string();
            assert!(backing_file(dev.trim_start_matches("/dev/")).is_some(), "losetup's {dev} is still bound");
        }
    }
    eprintln!("{lost} mount_md process(es) lost the race to losetup at least once and retried");
    let mut devices = BTreeSet::new();
    for (img, dir) in &ours {
        let m = mount_at(dir).expect("mounted");
        loops.record(&m.source, img);
        assert_eq!(backing_file(m.source.trim_start_matches("/dev/")).as_deref(), Some(img.as_path()));
        devices.insert(m.source);
    }
    assert_eq!(devices.len(), N);
    for other in &theirs {
        assert_eq!(loops_backed_by(other).len(), 1, "losetup's device for {} untouched", other.display());
    }
    guards.clear();
    drop(loops);
    assert_eq!(wait_no_loops(tmp.path(), Duration::from_secs(10)), Vec::<String>::new(), "leaked loop devices");
}
