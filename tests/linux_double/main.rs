//! The Linux policy over the recording double (no root, no loop device):
//! the attach race loop, the mark and size each attach asks for, the units
//! and mounts the lifecycle sees, and how `-u` and a leftover's detach
//! treat busy, foreign and unreadable units.
#![cfg(target_os = "linux")]

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

use mount_md::device::Unit;
use mount_md::host::SystemHost;
use mount_md::mark;
use mount_md::plan::{Attach, Formats, OpenImage};
use mount_md::platform::linux::loopdev::{LO_FLAGS_AUTOCLEAR, LO_FLAGS_READ_ONLY};
use mount_md::platform::linux::recording::{bound, rdev_of, LoopCall, Recorder};
use mount_md::platform::linux::sys::Statx;
use mount_md::platform::linux::Linux;
use mount_md::platform::{Describe, Detached, Device, MountOf, Note, Owner, Platform, UnmountOf, Which};
use mount_md::request::Backing;
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

fn swap(unit: Unit) -> Attach {
    Attach {
        unit,
        backing: Backing::Swap,
        size: Some(1 << 20),
        read_only: false,
        direct_io: true,
        formats: Formats::Never,
    }
}

fn ours(mount_point: &str) -> Vec<u8> {
    mark::encode(mount_point.as_bytes(), mark::LINUX_CAPACITY)
}

fn binds(calls: &[LoopCall]) -> Vec<u32> {
    calls.iter().filter_map(|c| if let LoopCall::Bind { unit, .. } = c { Some(*unit) } else { None }).collect()
}

#[test]
fn a_lost_race_is_retried_on_another_unit() {
    let mut rec = Recorder::new();
    rec.stolen = vec![0];
    let mut l = Linux::with_sys(rec);
    let disk = l.attach(&swap(Unit::Auto), None, Path::new("/nonexistent/j")).unwrap();
    assert_eq!(disk.device.unit, 1);
    assert!(l.take_notes().contains(&Note::Debug("/dev/loop1: attached after 1 lost race(s)".into())));
    let rec = l.into_sys();
    assert_eq!(binds(&rec.calls), [0, 1]);
    assert!(!rec.locked, "the loop-control lock is let go");
    assert!(rec.slept >= Duration::from_millis(10), "backed off");
    // The stolen unit is someone else's: never cleared.
    assert!(!rec.calls.contains(&LoopCall::ClrFd(0)));
}

#[test]
fn a_busy_fixed_unit_is_refused_not_retried() {
    let rec = Recorder::new().with_unit(3, bound(1, 2, 0, b"/other.img"));
    let mut l = Linux::with_sys(rec);
    let e = l.attach(&swap(Unit::Fixed(3)), None, Path::new("/j")).unwrap_err();
    assert_eq!(e.to_string(), "/dev/loop3: already attached to another file: Device or resource busy");
    let rec = l.into_sys();
    assert_eq!(binds(&rec.calls), [3]);
    assert!(!rec.locked);
}

#[test]
fn every_attach_is_marked_autoclear_and_sized_as_described() {
    let dir = support::TempDir::new("double");
    let img = dir.join("x.img");
    std::fs::write(&img, vec![0u8; 1 << 20]).unwrap();
    let mut l = Linux::with_sys(Recorder::new());
    let opened = l.open_image(&OpenImage { path: img.clone(), create: None, read_only: false, from: None }).unwrap();
    let a = Attach {
        unit: Unit::Auto,
        backing: Backing::Vnode(img.clone()),
        size: Some(1 << 20),
        read_only: true,
        direct_io: false,
        formats: Formats::Never,
    };
    let described = l.describe(&mount_md::plan::Step::Attach(a.clone()), None, Some(&opened));
    assert!(
        described.ends_with("flags=AUTOCLEAR|READ_ONLY, sizelimit=1048576, lo_file_name=\"mount_md:<mount point>\")"),
        "{described}"
    );
    let disk = l.attach(&a, Some(&opened), Path::new("/nonexistent/j")).unwrap();
    assert!(disk.device.read_only);
    drop(disk);
    let rec = l.into_sys();
    let bind = rec.calls.iter().find(|c| matches!(c, LoopCall::Bind { .. })).unwrap();
    assert_eq!(
        bind,
        &LoopCall::Bind {
            unit: 0,
            flags: LO_FLAGS_AUTOCLEAR | LO_FLAGS_READ_ONLY,
            sizelimit: 1 << 20,
            name: ours("/nonexistent/j")
        }
    );
}

#[test]
fn units_say_whose_they_are_and_what_backs_them() {
    let rec = Recorder::new()
        .with_unit(1, bound(5, 6, LO_FLAGS_AUTOCLEAR, &ours("/j")))
        .with_unit(2, bound(5, 7, 0, b"/srv/x.img"));
    let mut l = Linux::with_sys(rec);
    let units = l.units(Which::All).unwrap();
    assert_eq!(units.len(), 2);
    assert!(matches!(&units[0].owner, Owner::Ours(m) if m.mount_point == b"/j"));
    assert_eq!((units[0].rdev, units[0].autoclear), (rdev_of(1), true));
    assert_eq!(units[0].backing.map(|b| (b.dev, b.ino)), Some((5, 6)));
    assert_eq!(units[1].owner, Owner::Foreign);
    // --list reads each unit once (one open), its mark from that read.
    let opened = l.sys().opens;
    let listed = l.list(&[]).unwrap();
    assert_eq!(l.sys().opens - opened, 2);
    let marks: Vec<_> = listed.iter().map(|(_, known, r)| (*known, r.mark.clone())).collect();
    assert_eq!(marks, [(true, Some(ours("/j"))), (true, Some(b"/srv/x.img".to_vec()))]);
    // No permission to look: an error, never an empty list.
    let mut rec = l.into_sys();
    rec.deny = true;
    let mut l = Linux::with_sys(rec);
    assert_eq!(l.units(Which::All).unwrap_err().to_string(), "/dev/loop1: cannot check whose it is: Permission denied");
}

#[test]
fn mounts_are_read_as_bytes_and_an_unreadable_table_is_an_error() {
    let mut rec = Recorder::new().with_mount(40, 1, "/j");
    rec.mountinfo.as_mut().unwrap().extend_from_slice(b"41 1 0:9 / /odd\xff rw - tmpfs /dev/loop1 rw\n");
    let mut l = Linux::with_sys(rec);
    let m = l.mounts().unwrap();
    assert_eq!((m[0].id, m[0].dev), (40, rdev_of(1)));
    assert_eq!(m[1].dev, libc::makedev(0, 9), "a decoy is matched by its own device number");
    let mut rec = l.into_sys();
    rec.mountinfo = None;
    let mut l = Linux::with_sys(rec);
    assert_eq!(l.mounts().unwrap_err().to_string(), "/proc/self/mountinfo: Permission denied");
}

#[test]
fn release_waits_bounded_for_the_last_user() {
    let info = bound(5, 6, LO_FLAGS_AUTOCLEAR, &ours("/j"));
    let mut rec = Recorder::new().with_unit(1, info);
    rec.loops.get_mut(&1).unwrap().open_elsewhere = true;
    let mut l = Linux::with_sys(rec);
    let u = l.units(Which::All).unwrap().remove(0);
    let e = l.release_unit(&u, false).unwrap_err();
    assert_eq!(e.to_string(), "/dev/loop1: Device or resource busy");
    assert_eq!(l.sys().slept, Duration::from_secs(5));
    // Forced, while a lazily unmounted file system still claims it.
    let mut rec = l.into_sys();
    rec.loops.get_mut(&1).unwrap().claimed = true;
    rec.slept = Duration::ZERO;
    let mut l = Linux::with_sys(rec);
    assert_eq!(l.release_unit(&u, true).unwrap(), Detached::OnLastClose);
    assert_eq!(l.sys().slept, Duration::ZERO);
    // Nobody else: detached at once.
    let mut l = Linux::with_sys(Recorder::new().with_unit(1, info));
    assert_eq!(l.release_unit(&u, false).unwrap(), Detached::Now);
    assert!(l.sys().loops[&1].info.is_none());
    // Bound to another file by now (autoclear freed it, someone took it):
    // left alone.
    let mut l = Linux::with_sys(Recorder::new().with_unit(1, bound(8, 9, 0, b"/theirs")));
    assert_eq!(l.release_unit(&u, false).unwrap(), Detached::Now);
    assert!(l.sys().calls.is_empty());
}

fn loop2() -> Device {
    Device { unit: 2, path: "/dev/loop2".into(), read_only: false }
}

#[test]
fn a_leftover_detach_retries_ebusy_only_while_unmounted() {
    let info = bound(5, 6, 0, &ours("/j"));
    let mut rec = Recorder::new().with_unit(2, info);
    rec.busy_excl = 3;
    let mut l = Linux::with_sys(rec);
    l.reuse(&loop2(), None).unwrap();
    assert_eq!(l.sys().slept, Duration::from_millis(30));
    assert!(l.sys().loops[&2].info.is_none());
    // Mounted here: busy at once, no waiting.
    let mut rec = Recorder::new().with_unit(2, info).with_mount(40, 2, "/j");
    rec.loops.get_mut(&2).unwrap().claimed = true;
    let mut l = Linux::with_sys(rec);
    assert_eq!(l.reuse(&loop2(), None).unwrap_err().to_string(), "/dev/loop2: Device or resource busy");
    assert_eq!(l.sys().slept, Duration::ZERO);
    // Claimed by something that is not a mount: retried for a second.
    let mut rec = Recorder::new().with_unit(2, info);
    rec.loops.get_mut(&2).unwrap().claimed = true;
    let mut l = Linux::with_sys(rec);
    assert!(l.reuse(&loop2(), None).is_err());
    assert_eq!(l.sys().slept, Duration::from_secs(1));
    // Open elsewhere: LOOP_CLR_FD only set autoclear; put back, refused.
    let mut rec = Recorder::new().with_unit(2, info);
    rec.loops.get_mut(&2).unwrap().open_elsewhere = true;
    let mut l = Linux::with_sys(rec);
    let e = l.reuse(&loop2(), None).unwrap_err();
    assert_eq!(e.to_string(), "/dev/loop2: open elsewhere, left attached: Device or resource busy");
    assert_eq!(l.sys().loops[&2].info.unwrap().lo_flags & LO_FLAGS_AUTOCLEAR, 0);
}

fn run(l: &mut Linux<Recorder>, line: &str) -> (i32, String) {
    let argv: Vec<OsString> = line.split(' ').map(OsString::from).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = mount_md::run::run(&argv, l, &SystemHost, &mut out, &mut err);
    (code, String::from_utf8_lossy(&err).into_owned())
}

fn dir(mnt_id: u64) -> Statx {
    Statx { is_dir: true, dev: 1, ino: 2, mnt_id: Some(mnt_id), mount_root: Some(true), rdev: None }
}

#[test]
fn u_through_the_core_on_the_double() {
    let mut rec = Recorder::new()
        .with_unit(1, bound(5, 6, LO_FLAGS_AUTOCLEAR, &ours("/j")))
        .with_unit(2, bound(5, 7, 0, b"/srv/x.img"))
        .with_mount(40, 1, "/j")
        .with_mount(41, 2, "/k");
    rec.paths.insert(b"/j".to_vec(), dir(40));
    rec.paths.insert(b"/k".to_vec(), dir(41));
    let mut l = Linux::with_sys(rec);
    let (code, err) = run(&mut l, "mount_md -u /k");
    assert_eq!((code, err.as_str()), (1, "mount_md: /k: /dev/loop2 was not attached by mount_md; left alone (another tool attached it: when nothing uses it, losetup -d /dev/loop2 detaches it)\n"));
    let (code, err) = run(&mut l, "mount_md -u /dev/loop2");
    assert_eq!((code, err.as_str()), (1, "mount_md: /dev/loop2 was not attached by mount_md; left alone (another tool attached it: when nothing uses it, losetup -d /dev/loop2 detaches it)\n"));
    assert!(!l.sys().calls.iter().any(|c| matches!(c, LoopCall::Unmount(..) | LoopCall::ClrFd(_))));
    let (code, err) = run(&mut l, "mount_md -u -X /j");
    assert_eq!((code, err.as_str()), (0, "DEBUG: unmounted /j\nDEBUG: detached /dev/loop1\n"));
    assert_eq!(l.sys().calls, [LoopCall::Unmount("/j".into(), false), LoopCall::ClrFd(1)]);
    assert!(l.sys().loops[&2].info.is_some());
}

#[test]
fn a_busy_rollback_unmount_is_made_lazy_with_a_warning() {
    let mut rec = Recorder::new().with_mount(40, 1, "/j");
    rec.unmount_error = Some(nix::errno::Errno::EBUSY);
    let mut l = Linux::with_sys(rec);
    let root = std::fs::File::open("/").unwrap().into();
    let m = mount_md::platform::Mounted { mount_point: "/j".into(), read_only: false, root };
    l.unmount(UnmountOf::Made(m)).unwrap();
    assert_eq!(l.take_notes(), [Note::Warning("/j is busy; detaching it lazily".into())]);
    assert_eq!(l.sys().calls, [LoopCall::Unmount("/j".into(), false), LoopCall::Unmount("/j".into(), true)]);
}

/// mount(2) goes through the seam: the flags and data split as util-linux
/// splits them; with `-s` (sloppy) options the file system refuses are
/// dropped with a warning and the mount tried once more without them;
/// without it the refusal is said in words. The root is opened after.
#[test]
fn the_mount_call_and_a_sloppy_retry() {
    use mount_md::plan::{FsType, Mount};
    use nix::mount::MsFlags;
    let dir = support::TempDir::new("double-mount");
    let mp = dir.dir("j");
    let mut rec = Recorder::new();
    rec.refuse_mount_data = true;
    let mut l = Linux::with_sys(rec);
    let disk = l.attach(&swap(Unit::Auto), None, &mp).unwrap();
    let m = Mount {
        fstype: FsType::Named("ext4".into()),
        options: vec!["noatime".into(), "errors=remount-ro".into(), "nofail".into()],
        suffix: String::new(),
        mount_point: mp.clone(),
        sloppy: true,
    };
    let mounted = l.mount(MountOf::Disk(&disk, &m)).unwrap();
    assert!(!mounted.read_only);
    assert!(l
        .take_notes()
        .contains(&Note::Warning("sloppy: ext4 refused options errors=remount-ro; mounting without them".into())));
    let mounts: Vec<&LoopCall> = l.sys().calls.iter().filter(|c| matches!(c, LoopCall::Mount { .. })).collect();
    let call = |data: Option<&str>| LoopCall::Mount {
        source: "/dev/loop0".into(),
        fstype: "ext4".into(),
        flags: MsFlags::MS_NOATIME,
        data: data.map(str::to_string),
    };
    assert_eq!(mounts, [&call(Some("errors=remount-ro")), &call(None)]);
    drop(mounted);
    let e = l.mount(MountOf::Disk(&disk, &Mount { sloppy: false, ..m })).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "/dev/loop0 on {}: not a valid ext4 file system, one larger than the disk (-s), or an option ext4 does not accept: Invalid argument",
            mp.display()
        )
    );
}

/// `-u DIR` on a mount point reads the one unit the mount's device number
/// names, however many are attached; `-u IMAGE` must look at all of them.
#[test]
fn u_of_a_mount_point_reads_one_unit_whatever_the_number_attached() {
    let mut rec = Recorder::new().with_unit(1, bound(5, 6, LO_FLAGS_AUTOCLEAR, &ours("/j"))).with_mount(40, 1, "/j");
    for n in 2..200 {
        rec = rec.with_unit(n, bound(5, u64::from(n) + 100, 0, b"/srv/other.img"));
    }
    rec.paths.insert(b"/j".to_vec(), dir(40));
    let mut l = Linux::with_sys(rec);
    let (code, err) = run(&mut l, "mount_md -u /j");
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(l.sys().opens <= 3, "{} loop nodes opened", l.sys().opens);
    assert_eq!(l.sys().calls, [LoopCall::Unmount("/j".into(), false), LoopCall::ClrFd(1)]);
}

/// The one check keeps each refusal's exit status: what Linux cannot do
/// at all is a bad invocation (1, under mount.md too), what the files say
/// is a failed mount (mount.md: 32); what the check noted (`-E`, said
/// under `-v`) comes before the files' refusal.
#[test]
fn each_refusal_of_the_check_keeps_its_exit_status() {
    let tmp = support::TempDir::new("check-status");
    let img = tmp.join("i.img");
    std::fs::File::create(&img).unwrap().set_len(1 << 20).unwrap();
    let mnt = tmp.dir("mnt");
    let (img, mnt, skel) = (img.display(), mnt.display(), tmp.path().display());
    let mut l = Linux::with_sys(Recorder::new());
    let (code, err) = run(&mut l, &format!("mount.md md {mnt} -o -P,-Tufs,-F{img}"));
    assert_eq!((code, err.as_str()), (1, "mount.md: Linux cannot mount UFS read-write (add -o ro,ufstype=ufs2)\n"));
    let mut l = Linux::with_sys(Recorder::new());
    let (code, err) = run(&mut l, &format!("mount.md -v md {mnt} -o -P,-E/sbin/mdconfig,-k{skel},-F{img}"));
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(code, 32, "{err}");
    assert_eq!(lines.len(), 2, "{err}");
    assert_eq!(
        lines[0],
        "DEBUG: -E /sbin/mdconfig: ignored; mount_md attaches loop devices itself and runs no mdconfig"
    );
    assert_eq!(
        lines[1],
        format!("mount.md: -k {skel}: the skeleton contains the mount point; refusing to copy it into itself")
    );
    assert!(l.sys().calls.is_empty(), "{:?}", l.sys().calls);
}

/// `-r` and `locate` refuse a directory that is not a mount point and that
/// no mark names: nothing to grow, nothing changed.
#[test]
fn a_target_that_names_nothing_is_not_grown() {
    use mount_md::lifecycle::locate;
    use mount_md::request::Target;
    let plain = Statx { is_dir: true, dev: 1, ino: 3, mnt_id: Some(1), mount_root: Some(false), rdev: None };
    let mut rec = Recorder::new();
    rec.paths.insert(b"/j".to_vec(), plain);
    rec.paths.insert(b"/nowhere".to_vec(), plain);
    let mut l = Linux::with_sys(rec);
    let (code, err) = run(&mut l, "mount_md -r -s 2g /j");
    assert_eq!(
        (code, err.as_str()),
        (1, "mount_md: /j: not a mount point, an image file or a unit; nothing changed\n")
    );
    assert_eq!(
        locate(&mut l, &Target::Path("/nowhere".into())).unwrap_err().to_string(),
        "/nowhere: not a mount point, an image file or a unit; nothing changed"
    );
    assert!(l.sys().calls.is_empty(), "{:?}", l.sys().calls);
}

/// `-u` of a mount that stays busy: ten tries, then refused with nothing
/// detached, and `-f` detaches lazily; `-u -f` of a unit of ours that
/// someone holds open: autoclear, gone when its last user closes it.
#[test]
fn u_of_a_busy_mount_and_of_a_held_unit() {
    let mut rec = Recorder::new().with_unit(1, bound(5, 6, LO_FLAGS_AUTOCLEAR, &ours("/j"))).with_mount(40, 1, "/j");
    rec.paths.insert(b"/j".to_vec(), dir(40));
    rec.unmount_error = Some(nix::errno::Errno::EBUSY);
    let mut l = Linux::with_sys(rec);
    let (code, err) = run(&mut l, "mount_md -u /j");
    assert_eq!(
        (code, err.as_str()),
        (1, "mount_md: unmount of /j: in use, nothing detached (-f forces): Device or resource busy\n")
    );
    assert_eq!(l.sys().calls, vec![LoopCall::Unmount("/j".into(), false); 10]);
    assert!(l.sys().loops[&1].info.is_some());
    let (code, err) = run(&mut l, "mount_md -u -f /j");
    assert_eq!(code, 0, "{err}");
    assert_eq!(l.sys().calls[10..], [LoopCall::Unmount("/j".into(), true), LoopCall::ClrFd(1)]);

    let mut rec = Recorder::new().with_unit(3, bound(5, 6, LO_FLAGS_AUTOCLEAR, &ours("/j")));
    rec.loops.get_mut(&3).unwrap().open_elsewhere = true;
    rec.paths.insert(
        b"/j".to_vec(),
        Statx { is_dir: true, dev: 1, ino: 3, mnt_id: Some(1), mount_root: Some(false), rdev: None },
    );
    let mut l = Linux::with_sys(rec);
    let (code, err) = run(&mut l, "mount_md -u -f /j");
    assert_eq!(
        (code, err.as_str()),
        (0, "mount_md: /dev/loop3: still in use; detached when its last user closes it\n")
    );
    assert_eq!(l.sys().calls, [LoopCall::ClrFd(3)]);
}

/// `--encrypt=luks2` on an image that exists but holds no LUKS2 header
/// (the double's disk reads as zeros): the executor refuses it before any
/// crypt helper runs, with or without -P, and detaches the unit it
/// attached for the look. The plan is executed directly: the check before
/// it asks the real kernel for device-mapper. (The real-kernel twin,
/// linux_root's crypt test, needs device-mapper.)
#[test]
fn luks2_over_an_image_without_a_header_is_refused() {
    let tmp = support::TempDir::new("double-luks");
    let (img, key) = (tmp.join("plain.img"), tmp.join("k"));
    std::fs::write(&img, vec![0u8; 1 << 20]).unwrap();
    for p in ["-P ", ""] {
        let line = format!("mount_md {p}--encrypt=luks2 --key-file={} -F {} md /j", key.display(), img.display());
        let argv: Vec<OsString> = line.split(' ').map(OsString::from).collect();
        let Ok(mount_md::request::Command::Mount(req)) =
            mount_md::cli::parse(mount_md::flavor::Flavor::Mdmfs, &argv, &SystemHost)
        else {
            panic!("{line}: not a mount")
        };
        let plan = mount_md::plan::build(&req, <Linux<Recorder> as Platform>::DEFAULTS);
        let mut l = Linux::with_sys(Recorder::new());
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut io = mount_md::output::Output { prog: "mount_md", out: &mut out, err: &mut err };
        let e = mount_md::exec::execute(&plan, &Default::default(), &mut l, false, &mut io).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: holds no LUKS2 header: not opened and not formatted (--create --encrypt=luks2 makes one on a new image)", img.display()),
            "{p}"
        );
        let rec = l.into_sys();
        assert_eq!(binds(&rec.calls).len(), 1, "{p}: attached once, for the look");
        assert!(rec.loops.values().all(|u| u.info.is_none()), "{p}: detached again");
    }
}

/// The image's path from the name sysfs shows (`units::image_path`, the
/// rule -u's lock, -r and --list share): a name without ` (deleted)` as it
/// is; one with it only while it is the unit's file, else the path given,
/// the name without the suffix or its published name, by device and inode.
#[test]
fn the_image_path_from_the_name_sysfs_shows() {
    use mount_md::platform::linux::units::image_path;
    use std::os::unix::fs::MetadataExt;
    let dir = support::TempDir::new("image-path");
    let img = dir.join("a.img");
    std::fs::write(&img, b"").unwrap();
    let md = std::fs::metadata(&img).unwrap();
    let id = mount_md::platform::FileId { dev: md.dev(), ino: md.ino() };
    let shown = |name: &str| format!("{}/{name}", dir.0.display()).into_bytes();
    assert_eq!(image_path(&shown("a.img"), id, None), Ok(img.clone()));
    assert_eq!(image_path(&shown("b.img (deleted)"), id, None), Err(dir.join("b.img")));
    assert_eq!(image_path(&shown("b.img (deleted)"), id, Some(&img)), Ok(img.clone()));
    assert_eq!(image_path(&shown(".a.img.mount_md-new (deleted)"), id, None), Ok(img.clone()));
    std::fs::hard_link(&img, dir.join("c (deleted)")).unwrap();
    assert_eq!(image_path(&shown("c (deleted)"), id, None), Ok(dir.join("c (deleted)")));
    std::fs::write(dir.join("d"), b"").unwrap();
    assert_eq!(image_path(&shown("d (deleted)"), id, None), Err(dir.join("d")), "another file by that name");
}
