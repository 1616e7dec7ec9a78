//! Issue 23 on the kernel model (tests/support/freebsd/model.rs): a grow
//! cut short between MDIOCRESIZE and growfs is finished by the next `-r`
//! (the UFS superblock's `fs_size` compared with what growfs makes of the
//! disk, sbin/growfs/growfs.c `main`); a `-P` line whose `-s` is smaller
//! than the grown file system mounts it at its size; a `-k` copy cut short
//! is finished by the next run of the line, and the line mounts again
//! with its skeleton copied again (the merge itself is shared code,
//! src/platform/posix/skeleton.rs, run for real by the Linux root tests);
//! `-u` takes the image's lock a mount and `-r` take. Each failed on the
//! code before.
use crate::support::freebsd::jail::mount_md;
use crate::support::freebsd::model::{growfs_size, Model, UFS_FSIZE};
use crate::support::freebsd::words;
use crate::support::MIB;
use std::path::Path;

const J1: &str = "/var/jails/j1";
const IMG: &str = "/images/j1.img";

fn run(m: &Model, line: &str) -> (i32, String, String) {
    mount_md(m, &words(line))
}

fn log(m: &Model) -> String {
    m.k().log.join("\n")
}

fn ufs_bytes(m: &Model) -> u64 {
    let mut k = m.k();
    let id = k.files[Path::new(IMG)].id;
    k.ufs_size_of(id)
}

fn growfs_runs(m: &Model) -> usize {
    m.k().log.iter().filter(|l| l.starts_with("run [\"/sbin/growfs\"")).count()
}

/// Mounted by a `-P` line: a 64 MiB image holding a UFS as large.
fn mounted() -> Model {
    let m =
        Model::new(crate::support::freebsd::model::Host::Ufs).dir(J1).image(IMG, 64 * MIB, Model::clean_ufs(), None);
    let (code, _, err) = run(&m, &format!("mount_md -P -F {IMG} md {J1}"));
    assert_eq!(code, 0, "{err}");
    m
}

/// The model's growfs follows growfs.c: a last cylinder group without room
/// for a data block is left out, and a grow that adds nothing fails.
#[test]
fn the_models_growfs_leaves_out_a_last_group_too_small() {
    assert_eq!(growfs_size(64 * MIB, 128 * MIB), Some(128 * MIB));
    // 64 MiB + 1 MiB: a second group of 256 fragments, below its first
    // data fragment (1024): left out, nothing added.
    assert_eq!(growfs_size(64 * MIB, 65 * MIB), None);
    assert_eq!(growfs_size(64 * MIB, 64 * MIB + 8 * MIB), Some(72 * MIB));
}

/// kill -9 after MDIOCRESIZE, before growfs: the image and the disk are
/// 96 MiB, the file system 64. The same `-r` again runs growfs; once more
/// it does nothing (growfs would fail: "not enough new space").
#[test]
fn a_rerun_finishes_an_online_grow_cut_short() {
    let m = mounted();
    let unit = m.unit_numbers()[0];
    m.k().files.get_mut(Path::new(IMG)).unwrap().size = 96 * MIB;
    let flags = m.k().units[&unit].flags;
    m.resize(unit, 96 * MIB, flags).unwrap();
    assert_eq!(ufs_bytes(&m), 64 * MIB);
    let (code, _, err) = run(&m, &format!("mount_md -r -s 96m {J1}"));
    assert_eq!(code, 0, "{err}\n{}", log(&m));
    assert_eq!(ufs_bytes(&m), 96 * MIB, "{}", log(&m));
    assert_eq!(growfs_runs(&m), 1);
    let (code, _, err) = run(&m, &format!("mount_md -r -s 96m {J1}"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(growfs_runs(&m), 1, "a finished grow is not run again");
}

/// The same offline: the image extended by a run killed before its
/// attach; the rerun attaches, runs growfs and detaches.
#[test]
fn a_rerun_finishes_an_offline_grow_cut_short() {
    let m =
        Model::new(crate::support::freebsd::model::Host::Ufs).dir(J1).image(IMG, 64 * MIB, Model::clean_ufs(), None);
    m.k().files.get_mut(Path::new(IMG)).unwrap().size = 128 * MIB;
    let (code, _, err) = run(&m, &format!("mount_md -r -s 128m {IMG}"));
    assert_eq!(code, 0, "{err}\n{}", log(&m));
    assert_eq!(ufs_bytes(&m), 128 * MIB, "{}", log(&m));
    assert!(m.unit_numbers().is_empty(), "the unit it attached is gone");
}

/// After `-r -s 128m`, the unchanged `-P -s 64m` line mounts the image at
/// its file system's size (a disk of 64 MiB would cut it), saying which
/// `-s` to write.
#[test]
fn a_p_line_with_a_smaller_s_mounts_at_the_file_systems_size() {
    let m =
        Model::new(crate::support::freebsd::model::Host::Ufs).dir(J1).image(IMG, 64 * MIB, Model::clean_ufs(), None);
    let line = format!("mount_md -P -s 64m -F {IMG} md {J1}");
    assert_eq!(run(&m, &line).0, 0);
    let (code, _, err) = run(&m, &format!("mount_md -r -s 128m {J1}"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(run(&m, &format!("mount_md -u {J1}")).0, 0);
    let before = m.k().log.len();
    let (code, _, err) = run(&m, &line);
    assert_eq!(code, 0, "{err}\n{}", log(&m));
    assert!(err.contains("more than -s 67108864: mounted at its size; update -s to 128m"), "{err}");
    // The image's superblock is read once, by the check, which hands the
    // executor the file system's size (issue 21: probed once per run).
    let reads = m.k().log[before..].iter().filter(|l| l.starts_with("read the start of ")).count();
    assert_eq!(reads, 1, "{}", log(&m));
    let unit = m.unit_numbers()[0];
    assert_eq!(m.k().units[&unit].mediasize, 128 * MIB / UFS_FSIZE * UFS_FSIZE);
}

/// A `-P -k` line mounted, released and mounted again copies its skeleton
/// again; a run killed during the copy leaves the unfinished-copy file in
/// the root, and the next run of the line finishes the copy instead of
/// reporting the mount done.
#[test]
fn a_k_line_mounts_again_and_finishes_a_copy_cut_short() {
    let m =
        Model::new(crate::support::freebsd::model::Host::Ufs).dir(J1).image(IMG, 64 * MIB, Model::clean_ufs(), None);
    let line = format!("mount_md -P -k /skel -F {IMG} md {J1}");
    let copies = |m: &Model| m.k().log.iter().filter(|l| l.contains("] copy /skel into root of")).count();
    assert_eq!(run(&m, &line).0, 0);
    assert_eq!(run(&m, &format!("mount_md -u {J1}")).0, 0);
    let (code, _, err) = run(&m, &line);
    assert_eq!(code, 0, "{err}");
    assert_eq!(copies(&m), 2, "copied at each mount\n{}", log(&m));
    m.cut_copy_short(J1);
    let (code, _, err) = run(&m, &line);
    assert_eq!(code, 0, "{err}\n{}", log(&m));
    assert!(err.contains("an earlier run's skeleton copy did not finish; finishing it"), "{err}");
    assert_eq!(copies(&m), 3, "{}", log(&m));
    assert!(m.k().unfinished.is_empty());
    let (code, _, _) = run(&m, &line);
    assert_eq!((code, copies(&m)), (0, 3), "a finished copy is not made again");
    assert_eq!(m.unit_numbers().len(), 1);
}

/// `-u` takes the image's lock (the one a mount and `-r` hold while they
/// work on it) before it unmounts.
#[test]
fn u_takes_the_images_lock_before_it_unmounts() {
    let m = mounted();
    let (code, _, err) = run(&m, &format!("mount_md -u {J1}"));
    assert_eq!(code, 0, "{err}");
    let l = log(&m);
    let lock = l.find(&format!("flock {IMG}")).unwrap_or_else(|| panic!("no lock taken:\n{l}"));
    let unmount = l.find("unmount").unwrap_or_else(|| panic!("no unmount:\n{l}"));
    assert!(lock < unmount, "{l}");
}
