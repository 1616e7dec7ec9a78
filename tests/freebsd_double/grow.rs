//! `mount_md -r` and `--list` on FreeBSD, through the recording md(4)
//! double (`Recorder`, as MdSys): the
//! MDIOCRESIZE request (its number pinned), the growfs argv, the order of
//! steps online and offline, and what each failure leaves.
// c_ulong is 64 bits here but 32 on i386.
#![allow(clippy::useless_conversion)]
use crate::support::GIB;
use mount_md::output::Output;
use mount_md::platform::freebsd::abi;
use mount_md::platform::freebsd::grow::{growfs_argv, resize_request, ResizeRequest};
use mount_md::platform::freebsd::recording::{Asked, Recorder, SysCall};
use mount_md::platform::freebsd::FreeBsd;
use mount_md::request::{GrowRequest, Target};
use nix::errno::Errno;
use std::ffi::OsString;
use std::path::Path;

/// The grow's own operations among what the double recorded: extend,
/// truncate, MDIOCRESIZE, growfs.
fn grown(sys: &Recorder) -> Vec<SysCall> {
    sys.calls.iter().filter(|c| is_grow(c)).cloned().collect()
}

fn is_grow(c: &SysCall) -> bool {
    matches!(c, SysCall::Extend(..) | SysCall::Truncate(_) | SysCall::Resize(_) | SysCall::Growfs(_))
}

/// What changed beside the grow's own operations.
fn other_changes(sys: &Recorder) -> Vec<SysCall> {
    sys.changes().into_iter().filter(|c| !is_grow(c)).cloned().collect()
}

fn req(target: Target, size: u64) -> GrowRequest {
    GrowRequest { target, size, size_note: None, dry_run: false, debug: false }
}

fn go(sys: &mut Recorder, r: &GrowRequest) -> (std::result::Result<(), String>, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let res = {
        let mut io = Output { prog: "mount_md", out: &mut out, err: &mut err };
        let mut fb = FreeBsd::with_sys(std::mem::take(sys));
        let res = mount_md::grow::run(&mut fb, r, &mut io);
        *sys = fb.into_sys();
        res
    };
    (res.map_err(|e| e.to_string()), String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

/// md3 backed by /img (1 GiB), mounted on /j, marked.
fn mounted() -> Recorder {
    Recorder::new()
        .with_file("/img", "/img", GIB)
        .with_leftover(3, "/img", GIB, false)
        .with_label(3, b"mount_md:/j")
        .with_mount("/dev/md3", "/j")
}

#[test]
fn resize_request_and_number() {
    // _IOWR('m', 4, struct md_ioctl): pinned for every layout.
    assert_eq!(u64::from(abi::LP64.resize), 0xC1C0_6D04);
    assert_eq!(u64::from(abi::I386.resize), 0xC1B4_6D04);
    assert_eq!(u64::from(abi::ILP32.resize), 0xC1B8_6D04);
    assert_eq!(u64::from(abi::iowr(b'm', 4, 448)), 0xC000_0000 + (448 << 16) + (0x6D << 8) + 4);
    #[cfg(target_pointer_width = "64")]
    assert_eq!(u64::from(abi::MDIOCRESIZE), 0xC1C0_6D04);
    let r = resize_request(3, 2 * GIB).unwrap();
    assert_eq!(r, ResizeRequest { unit: 3, mediasize: 2 * GIB, options: 0 });
    assert_eq!(r.describe(), "ioctl(/dev/mdctl, MDIOCRESIZE, {unit=3, mediasize=2147483648, options=0})");
    let m = abi::MdIoctl::new(r.unit, r.options, r.mediasize).unwrap();
    assert_eq!((m.md_version, m.md_unit, m.md_mediasize, m.md_options), (0, 3, 2 * GIB as i64, 0));
    assert!(m.md_file.is_null() && m.md_label.is_null() && m.md_sectorsize == 0);
    assert!(resize_request(3, 2 * GIB + 1).is_err());
    assert!(resize_request(3, 0).is_err());
}

#[test]
fn growfs_argv_is_absolute_and_answers_yes() {
    assert_eq!(growfs_argv(Path::new("/dev/md3")), [OsString::from("/sbin/growfs"), "-y".into(), "/dev/md3".into()]);
}

#[test]
fn online_by_mount_point_image_and_unit() {
    for target in [Target::Path("/j".into()), Target::Path("/img".into()), Target::Unit(3)] {
        let mut sys = mounted();
        let (r, out, err) = go(&mut sys, &req(target.clone(), 2 * GIB));
        assert_eq!(r, Ok(()), "{target:?}");
        // One line: the sizes before and after (the recording double's
        // statvfs answers 1 GiB both times).
        assert_eq!(
            out,
            "/img: grown from 1073741824 to 2147483648 bytes (1.0G to 2.0G); \
             its ufs file system from 1073741824 to 1073741824 bytes (1.0G to 1.0G)\n"
        );
        // The reminder for a line that mounts the image with -s.
        assert!(
            err.ends_with(": grown to 2147483648 bytes; a line that mounts it with -s: update -s to 2g in the options (fourth field) of its fstab line\n")
                && err.lines().count() == 1,
            "{err}"
        );
        assert_eq!(
            grown(&sys),
            [
                SysCall::Extend(GIB, 2 * GIB),
                SysCall::Resize(ResizeRequest { unit: 3, mediasize: 2 * GIB, options: 0 }),
                SysCall::Growfs(vec!["/sbin/growfs".into(), "-y".into(), "/dev/md3".into()]),
            ],
            "{target:?}"
        );
        // Nothing attached, detached, mounted or unmounted on the way.
        assert!(other_changes(&sys).is_empty(), "{:?}", sys.changes());
        // kern.geom.confxml: read to locate the unit (for the image's path
        // first to look for a mark naming it) and for a geli layer on it;
        // the located unit's entry is not read again.
        let reads = if target == Target::Path("/img".into()) { 3 } else { 2 };
        let read = sys.asked.iter().filter(|a| matches!(a, Asked::ListUnits | Asked::Geli)).count();
        assert_eq!(read, reads, "{target:?}: {:?}", sys.asked);
    }
}

#[test]
fn dry_run_prints_the_steps() {
    let mut sys = mounted();
    let r = GrowRequest { dry_run: true, ..req(Target::Path("/j".into()), 2 * GIB) };
    let (res, out, _) = go(&mut sys, &r);
    assert_eq!(res, Ok(()));
    assert!(grown(&sys).is_empty());
    assert_eq!(
        out,
        "posix_fallocate(/img, 1073741824, 1073741824)\n\
         ioctl(/dev/mdctl, MDIOCRESIZE, {unit=3, mediasize=2147483648, options=0})\n\
         /sbin/growfs -y /dev/md3\n"
    );
}

#[test]
fn offline_attaches_marked_grows_and_detaches() {
    let mut sys = Recorder::new().with_file("/img", "/img", GIB);
    let (r, ..) = go(&mut sys, &req(Target::Path("/img".into()), 2 * GIB));
    assert_eq!(r, Ok(()));
    assert_eq!(
        grown(&sys),
        [SysCall::Extend(GIB, 2 * GIB), SysCall::Growfs(vec!["/sbin/growfs".into(), "-y".into(), "/dev/md0".into()])]
    );
    let changes = other_changes(&sys);
    let SysCall::Attach(a) = &changes[0] else { panic!("{changes:?}") };
    assert_eq!(a.md_type, abi::MD_VNODE);
    assert_eq!(a.mediasize, 2 * GIB);
    assert_eq!(a.label.as_ref().unwrap().to_bytes(), b"mount_md:");
    assert_eq!(changes[1], SysCall::Detach(0));
    assert!(sys.is_clean());
}

/// The offline attach is checked as a mount's is: an image replaced
/// between the open and MDIOCATTACH (which opens by path) gets its unit
/// detached again and the image cut back; nothing changed.
#[test]
fn offline_attach_of_a_replaced_image_is_detached_again() {
    let mut sys = Recorder::new().with_file("/img", "/img", GIB);
    sys.replaced.insert("/img".into());
    let (r, ..) = go(&mut sys, &req(Target::Path("/img".into()), 2 * GIB));
    assert_eq!(r.unwrap_err(), "/img: replaced while attaching; detached /dev/md0: nothing changed");
    assert_eq!(grown(&sys), [SysCall::Extend(GIB, 2 * GIB), SysCall::Truncate(GIB)]);
    assert!(sys.is_clean(), "{:?}", sys.calls);
}

#[test]
fn refusals_change_nothing() {
    // Shrink.
    let mut sys = mounted();
    let (r, ..) = go(&mut sys, &req(Target::Unit(3), GIB / 2));
    assert_eq!(r.unwrap_err(), "/img: is 1073741824 bytes; -r does not shrink (asked for 536870912); nothing changed");
    assert!(grown(&sys).is_empty());
    // Same size.
    let (r, ..) = go(&mut sys, &req(Target::Unit(3), GIB));
    assert_eq!(r, Ok(()));
    assert!(grown(&sys).is_empty());
    // Mounted from a slice of the disk.
    let mut sys = Recorder::new()
        .with_file("/img", "/img", GIB)
        .with_leftover(3, "/img", GIB, false)
        .with_mount("/dev/md3.uzip", "/j");
    let (r, ..) = go(&mut sys, &req(Target::Path("/j".into()), 2 * GIB));
    assert!(r.unwrap_err().contains("not a whole md(4) disk"));
    assert!(sys.changes().is_empty());
}

#[test]
fn failures() {
    // The kernel refuses the new size: the image is cut back.
    let mut sys = mounted();
    sys.fail.push(("resize", Errno::EIO));
    let (r, ..) = go(&mut sys, &req(Target::Path("/j".into()), 2 * GIB));
    assert_eq!(r.unwrap_err(), "resize: Input/output error (nothing changed)");
    assert_eq!(grown(&sys).last(), Some(&SysCall::Truncate(GIB)));
    // growfs fails: the image stays larger, and the message says so.
    let mut sys = mounted();
    sys.fail.push(("growfs", Errno::EIO));
    let (r, ..) = go(&mut sys, &req(Target::Path("/j".into()), 2 * GIB));
    let e = r.unwrap_err();
    assert!(e.contains("the image stays 2147483648 bytes (was 1073741824)"), "{e}");
    assert!(e.ends_with("finish with: /sbin/growfs -y /dev/md3)"), "{e}");
    assert!(!grown(&sys).iter().any(|c| matches!(c, SysCall::Truncate(_))));
    // Offline, growfs fails: detached all the same.
    let mut sys = Recorder::new().with_file("/img", "/img", GIB).failing_at("growfs", Errno::EIO);
    let (r, ..) = go(&mut sys, &req(Target::Path("/img".into()), 2 * GIB));
    let e = r.unwrap_err();
    assert!(
        e.ends_with("finish with: md=$(mdconfig -a -t vnode -f /img) && growfs -y /dev/$md; mdconfig -d -u $md)"),
        "{e}"
    );
    assert!(sys.is_clean());
}

#[test]
fn list_marks_foreign_units() {
    let mut sys = mounted();
    let sys2 = std::mem::take(&mut sys)
        .with_file("/other", "/other", GIB)
        .with_leftover(4, "/other", GIB, true)
        .with_label(4, b"/other");
    let mut fb = FreeBsd::with_sys(sys2);
    let units = mount_md::list::collect(&mut fb).unwrap();
    assert_eq!(units.len(), 2);
    // kern.geom.confxml is read twice whatever the number of units: once
    // for the units, once for the geli layers on them.
    let asked = fb.into_sys().asked;
    let reads: Vec<_> = asked.iter().filter(|a| matches!(a, Asked::ListUnits | Asked::Geli)).collect();
    assert_eq!(reads, [&Asked::ListUnits, &Asked::Geli], "{asked:?}");
    assert_eq!(units[0].listed.device, Path::new("/dev/md3"));
    assert_eq!(units[0].listed.image.as_deref(), Some(&b"/img"[..]));
    assert_eq!(units[0].mount_point.as_deref(), Some(&b"/j"[..]));
    use mount_md::list::table::Whose;
    assert_eq!(
        (units[0].listed.size, units[0].listed.usage.map(|u| u.used), units[0].read_only, units[0].whose),
        (Some(GIB), Some(4096), Some(false), Whose::MountMd)
    );
    assert_eq!((units[0].fstype.as_deref(), units[0].listed.direct_io), (Some("ufs"), None));
    assert_eq!(units[0].listed.mark.as_deref(), Some(&b"mount_md:/j"[..]));
    assert_eq!((units[1].whose, units[1].read_only, units[1].listed.usage), (Whose::Foreign, None, None));
    let shown = mount_md::list::table::select(units, false);
    assert_eq!(shown.len(), 1);
}
