//! The pure part of `mount_md -r`: which steps, in which order, and what
//! each failure leaves (src/grow.rs), on a recording GrowOps.
use crate::support::MIB;
use mount_md::error::{Error, Result};
use mount_md::grow::{execute, plan, tools, Attached, Found, GrowOps, GrowStep, Options, Outcome, Tool};
use mount_md::output::Output;
use nix::errno::Errno;

fn found(mounted: Option<&str>, attached: bool, fstype: &str) -> Found {
    Found {
        image: "/img".into(),
        image_len: 64 * MIB,
        disk_size: 64 * MIB,
        attached: attached.then(|| Attached {
            device: mount_md::platform::Device { unit: 3, path: "/dev/loop3".into(), read_only: false },
            mount_point: mounted.map(Into::into),
        }),
        fstype: fstype.into(),
        fs_size: Some(64 * MIB),
        growth: None,
        refusal: None,
    }
}

fn steps(f: &Found, size: u64) -> Vec<GrowStep> {
    match plan(f, size).unwrap() {
        Outcome::Steps(s) => s,
        o => panic!("{o:?}"),
    }
}

#[test]
fn step_orders() {
    let ext = GrowStep::ExtendImage { from: 64 * MIB, to: 128 * MIB };
    let cap = GrowStep::SetCapacity { from: 64 * MIB, to: 128 * MIB };
    assert_eq!(
        steps(&found(Some("/j"), true, "ext4"), 128 * MIB),
        [ext.clone(), cap.clone(), GrowStep::GrowFs(Tool::Resize2fs)]
    );
    assert_eq!(
        steps(&found(Some("/j"), true, "xfs"), 128 * MIB),
        [ext.clone(), cap.clone(), GrowStep::GrowFs(Tool::XfsGrowfs)]
    );
    assert_eq!(steps(&found(Some("/j"), true, "ufs"), 128 * MIB)[2], GrowStep::GrowFs(Tool::Growfs));
    // Attached, not mounted: checked first.
    assert_eq!(
        steps(&found(None, true, "ext4"), 128 * MIB),
        [ext.clone(), cap, GrowStep::CheckFs(Tool::E2fsck), GrowStep::GrowFs(Tool::Resize2fs)]
    );
    // Not attached: attach, check, grow, detach.
    assert_eq!(
        steps(&found(None, false, "ext3"), 128 * MIB),
        [ext, GrowStep::Attach, GrowStep::CheckFs(Tool::E2fsck), GrowStep::GrowFs(Tool::Resize2fs), GrowStep::Detach]
    );
    // An image already longer than its disk (grown earlier, fs not yet).
    let mut f = found(Some("/j"), true, "ext4");
    f.image_len = 128 * MIB;
    assert_eq!(
        steps(&f, 128 * MIB),
        [GrowStep::SetCapacity { from: 64 * MIB, to: 128 * MIB }, GrowStep::GrowFs(Tool::Resize2fs)]
    );
}

#[test]
fn refusals() {
    let e = |f: &Found, size: u64| plan(f, size).unwrap_err().to_string();
    let mounted = found(Some("/j"), true, "ext4");
    assert_eq!(
        e(&mounted, 32 * MIB),
        "/img: is 67108864 bytes; -r does not shrink (asked for 33554432); nothing changed"
    );
    assert_eq!(plan(&mounted, 64 * MIB).unwrap(), Outcome::Nothing { size: 64 * MIB });
    assert!(e(&mounted, 64 * MIB + 100).contains("whole number of 512-byte sectors"));
    assert!(e(&found(None, false, "xfs"), 128 * MIB).starts_with("xfs grows only while mounted"));
    assert!(e(&found(None, true, "btrfs"), 128 * MIB).starts_with("btrfs grows only while mounted"));
    assert_eq!(
        e(&found(Some("/j"), true, "vfat"), 128 * MIB),
        "mount_md cannot grow a vfat file system (nothing changed)"
    );
    let mut ro = found(Some("/j"), true, "ext4");
    ro.attached.as_mut().unwrap().device.read_only = true;
    assert_eq!(e(&ro, 128 * MIB), "/img: attached read-only; nothing changed");
    assert_eq!(tools("ext4", false).unwrap(), (Some(Tool::E2fsck), Tool::Resize2fs));
}

#[test]
fn argvs() {
    let s = |t: Tool, mp: Option<&str>| {
        t.argv("/dev/loop3", mp.map(std::path::Path::new))
            .iter()
            .map(|a| a.to_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(s(Tool::E2fsck, None), ["e2fsck", "-f", "-p", "/dev/loop3"]);
    assert_eq!(s(Tool::Resize2fs, Some("/j")), ["resize2fs", "/dev/loop3"]);
    assert_eq!(s(Tool::XfsGrowfs, Some("/j")), ["xfs_growfs", "/j"]);
    assert_eq!(s(Tool::BtrfsResize, Some("/j")), ["btrfs", "filesystem", "resize", "max", "/j"]);
    assert_eq!(s(Tool::Growfs, Some("/j")), ["growfs", "-y", "/dev/loop3"]);
    assert!(Tool::E2fsck.succeeded(1) && !Tool::E2fsck.succeeded(4) && !Tool::Resize2fs.succeeded(1));
}

/// Records runs and undos; fails at the first step of a given kind; with
/// `stop_after`, a stop signal arrives once that many steps have run.
#[derive(Default)]
struct Rec {
    log: Vec<String>,
    fail: Option<&'static str>,
    stop_after: Option<usize>,
}

fn kind(s: &GrowStep) -> &'static str {
    match s {
        GrowStep::ExtendImage { .. } => "extend",
        GrowStep::Attach => "attach",
        GrowStep::SetCapacity { .. } => "capacity",
        GrowStep::CheckFs(_) => "check",
        GrowStep::GrowFs(_) => "grow",
        GrowStep::Detach => "detach",
    }
}

impl GrowOps for Rec {
    fn interrupted(&mut self) -> Option<&'static str> {
        let ran = self.log.iter().filter(|l| !l.starts_with("undo")).count();
        self.stop_after.is_some_and(|n| ran >= n).then_some("SIGTERM")
    }
    fn describe(&self, s: &GrowStep) -> String {
        format!("<{}>", kind(s))
    }
    fn run(&mut self, s: &GrowStep) -> Result<()> {
        self.log.push(kind(s).to_string());
        if self.fail == Some(kind(s)) {
            return Err(Error::sys(kind(s), Errno::ENOSPC));
        }
        Ok(())
    }
    fn undo(&mut self, s: &GrowStep) -> Result<()> {
        self.log.push(format!("undo {}", kind(s)));
        Ok(())
    }
}

fn go(
    f: &Found,
    fail: Option<&'static str>,
    opts: Options,
) -> (Vec<String>, std::result::Result<(), String>, String, String) {
    let mut rec = Rec { fail, ..Rec::default() };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let outcome = plan(f, 128 * MIB).unwrap();
    let r = {
        let mut io = Output { prog: "mount_md", out: &mut out, err: &mut err };
        execute(f, &outcome, &mut rec, opts, &mut io)
    };
    (rec.log, r.map_err(|e| e.to_string()), String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

#[test]
fn rollback_online() {
    let f = found(Some("/j"), true, "ext4");
    let (log, r, ..) = go(&f, None, Options::default());
    assert_eq!(log, ["extend", "capacity", "grow"]);
    assert_eq!(r, Ok(()));
    // The kernel refused the new size: the image is cut back.
    let (log, r, ..) = go(&f, Some("capacity"), Options::default());
    assert_eq!(log, ["extend", "capacity", "undo extend"]);
    assert_eq!(r.unwrap_err(), "capacity: No space left on device (nothing changed)");
    let (log, r, ..) = go(&f, Some("extend"), Options::default());
    assert_eq!(log, ["extend"]);
    assert_eq!(r.unwrap_err(), "extend: No space left on device (nothing changed)");
    // The file system grow failed: the image stays larger, and says so.
    let (log, r, ..) = go(&f, Some("grow"), Options::default());
    assert_eq!(log, ["extend", "capacity", "grow"]);
    assert_eq!(
        r.unwrap_err(),
        "grow: No space left on device (the image stays 134217728 bytes (was 67108864), its file system intact at \
         its old size; once the cause is fixed, finish with: <grow>)"
    );
}

/// SIGTERM undoes what is undoable (before the grower: the disk gets its
/// old size back and the image is cut back) and finishes what is not
/// (after the grower: the detach runs, and the run says so).
#[test]
fn a_stop_signal_undoes_before_the_grower_and_finishes_after() {
    let stopped = |f: &Found, after: usize| {
        let mut rec = Rec { stop_after: Some(after), ..Rec::default() };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut io = Output { prog: "mount_md", out: &mut out, err: &mut err };
        let r = execute(f, &plan(f, 128 * MIB).unwrap(), &mut rec, Options::default(), &mut io);
        (rec.log, r.map_err(|e| e.to_string()), String::from_utf8(err).unwrap())
    };
    let (log, r, _) = stopped(&found(Some("/j"), true, "ext4"), 2);
    assert_eq!(log, ["extend", "capacity", "undo capacity", "undo extend"]);
    assert_eq!(r.unwrap_err(), "stopped by SIGTERM before: <grow>: nothing changed");
    let (log, r, err) = stopped(&found(None, false, "ext4"), 4);
    assert_eq!(r, Ok(()));
    assert_eq!(log, ["extend", "attach", "check", "grow", "detach"]);
    assert!(err.starts_with("mount_md: /img: SIGTERM after the file system grew: finished the grow\n"), "{err}");
}

#[test]
fn rollback_offline() {
    let f = found(None, false, "ext4");
    let (log, r, ..) = go(&f, Some("attach"), Options::default());
    assert_eq!(log, ["extend", "attach", "undo extend"]);
    assert!(r.unwrap_err().ends_with("(nothing changed)"));
    // The check writes nothing past the old end: detach and cut back.
    let (log, r, ..) = go(&f, Some("check"), Options::default());
    assert_eq!(log, ["extend", "attach", "check", "undo attach", "undo extend"]);
    assert!(r.unwrap_err().ends_with("(nothing changed)"));
    let (log, r, ..) = go(&f, Some("grow"), Options::default());
    assert_eq!(log, ["extend", "attach", "check", "grow", "undo attach"]);
    assert!(r.unwrap_err().contains("the image stays 134217728 bytes"));
    // Grown, then the detach failed: nothing is undone (cutting the image
    // back would cut the grown file system), and the message says so.
    let (log, r, ..) = go(&f, Some("detach"), Options::default());
    assert_eq!(log, ["extend", "attach", "check", "grow", "detach"]);
    assert_eq!(
        r.unwrap_err(),
        "detach: No space left on device (the image and its file system were grown to 134217728 bytes; \
         the unit is still attached)"
    );
}

#[test]
fn the_report_names_both_sizes() {
    let f = found(Some("/j"), true, "ext4");
    assert_eq!(
        mount_md::grow::report(&f, 128 * MIB, Some(60 * MIB), Some(124 * MIB)),
        "/img: grown from 67108864 to 134217728 bytes (64M to 128M); \
         its ext4 file system from 62914560 to 130023424 bytes (60M to 124M)"
    );
}

#[test]
fn dry_run_and_trace() {
    let f = found(None, false, "ext4");
    let (log, r, out, err) = go(&f, None, Options { dry_run: true, debug: false, scratch: false });
    assert!(log.is_empty() && r.is_ok() && err.is_empty());
    assert_eq!(out, "<extend>\n<attach>\n<check>\n<grow>\n<detach>\n");
    let (log, _, out, err) = go(&f, None, Options { dry_run: false, debug: true, scratch: false });
    assert_eq!(log.len(), 5);
    // The one line a grow reports (the double cannot tell the file
    // system's sizes).
    assert_eq!(
        out,
        "/img: grown from 67108864 to 134217728 bytes (64M to 128M); its ext4 file system grown to fill it\n"
    );
    assert_eq!(
        err,
        "DEBUG: <extend>\nDEBUG: <attach>\nDEBUG: <check>\nDEBUG: <grow>\nDEBUG: <detach>\n\
         mount_md: /img: grown to 134217728 bytes; a line that mounts it with -s: \
         update -s to 128m in the options (fourth field) of its fstab line\n"
    );
}

/// A disk already the size asked for with a file system still smaller (a
/// run stopped after extending the image): the grower runs again.
#[test]
fn a_file_system_smaller_than_its_disk_is_grown() {
    let mut f = found(None, false, "ext4");
    f.fs_size = Some(32 * MIB);
    assert_eq!(
        steps(&f, 64 * MIB),
        [GrowStep::Attach, GrowStep::CheckFs(Tool::E2fsck), GrowStep::GrowFs(Tool::Resize2fs), GrowStep::Detach]
    );
    let mut m = found(Some("/j"), true, "xfs");
    m.fs_size = Some(32 * MIB);
    assert_eq!(steps(&m, 64 * MIB), [GrowStep::GrowFs(Tool::XfsGrowfs)]);
    // What a grower leaves unused is not a grow to resume.
    f.fs_size = Some(64 * MIB - 512 * 1024);
    assert_eq!(plan(&f, 64 * MIB).unwrap(), Outcome::Nothing { size: 64 * MIB });
}

/// A grow of less than 4 MiB cut short (the disk grown, the file system
/// not) resumes: the file system is compared with what its grower makes of
/// the disk, from its superblock, not with the disk less a fixed slack;
/// and what the grower leaves out (a last allocation group under 64
/// blocks, a last ext4 group too small for its bookkeeping) is not taken
/// for a grow to finish.
#[test]
fn a_small_grow_cut_short_resumes() {
    use mount_md::superblock::{Backups, Growth};
    // XFS, 4 KiB blocks, 16 MiB allocation groups, 62 MiB grown to 64.
    let xfs = Growth::Xfs { block: 4096, dblocks: 62 * 256, agblocks: 4096 };
    let mut m = found(Some("/j"), true, "xfs");
    m.fs_size = Some(62 * MIB);
    m.growth = Some(xfs);
    assert_eq!(steps(&m, 64 * MIB), [GrowStep::GrowFs(Tool::XfsGrowfs)]);
    // Grown to 64 MiB + 128 KiB: 32 blocks into a new allocation group,
    // which xfs_growfs leaves out, so the file system stays 64 MiB.
    m.fs_size = Some(64 * MIB);
    m.growth = Some(Growth::Xfs { block: 4096, dblocks: 64 * 256, agblocks: 4096 });
    m.disk_size = 64 * MIB + 128 * 1024;
    m.image_len = m.disk_size;
    assert_eq!(plan(&m, m.disk_size).unwrap(), Outcome::Nothing { size: m.disk_size });
    // ext4, 1 KiB blocks, 8 MiB groups: 63 MiB grown to 64 offline.
    let ext = |blocks: u64| Growth::Ext {
        block: 1024,
        blocks,
        first_data_block: 1,
        blocks_per_group: 8192,
        itb_per_group: 256,
        desc_per_block: 32,
        reserved_gdt: 256,
        backups: Backups::Sparse,
        cluster: 1,
        blocks_32: true,
    };
    let mut f = found(None, false, "ext4");
    f.fs_size = Some(63 * MIB);
    f.growth = Some(ext(63 * 1024));
    assert_eq!(
        steps(&f, 64 * MIB),
        [GrowStep::Attach, GrowStep::CheckFs(Tool::E2fsck), GrowStep::GrowFs(Tool::Resize2fs), GrowStep::Detach]
    );
    // Eight whole groups (8 × 8192 blocks after block 0), on a disk of
    // 64 MiB + 64 KiB: a ninth group of 63 blocks, which resize2fs leaves
    // out (it cannot hold its 256 inode table blocks): nothing to finish.
    f.fs_size = Some((64 * 1024 + 1) * 1024);
    f.growth = Some(ext(64 * 1024 + 1));
    f.disk_size = 64 * MIB + 64 * 1024;
    f.image_len = f.disk_size;
    assert_eq!(plan(&f, f.disk_size).unwrap(), Outcome::Nothing { size: f.disk_size });
}

/// A mounted ext4 without CAP_SYS_RESOURCE is refused by the plan, after
/// the shrink and same-size answers.
#[test]
fn a_refusal_found_by_the_backend_comes_from_the_plan() {
    let mut f = found(Some("/j"), true, "ext4");
    f.refusal = Some("no CAP_SYS_RESOURCE".into());
    assert_eq!(plan(&f, 64 * MIB).unwrap(), Outcome::Nothing { size: 64 * MIB });
    assert_eq!(plan(&f, 128 * MIB).unwrap_err().to_string(), "no CAP_SYS_RESOURCE");
}
