//! The FreeBSD side of "lifecycle and data safety", end to end through
//! `run::run` on `FreeBsd<Recorder>`: one image one attachment (found by
//! GEOM ident), the ident check after MDIOCATTACH, `--create`, and
//! `mount_md -u`; plus the pure readers of `kern.geom.confxml` and of a
//! mount's `from`.
use crate::support::freebsd::{c, mount_6x_argv, run, words};
use crate::support::{mounted_on, GIB};
use mount_md::platform::freebsd::abi::{MD_SWAP, MD_VNODE};
use mount_md::platform::freebsd::geom::{md_unit_of, parse_confxml, vnode_ident, FileId, MdUnit};
use mount_md::platform::freebsd::recording::{Asked, Recorder, SysCall};
use mount_md::platform::freebsd::FreeBsd;
use nix::errno::Errno;
use std::path::Path;

const ARTICLE: &str = "md /var/jails/10.0.0.1 md rw,-P,-F/jails/10.0.0.1/rootfs.volume 0 0";
const IMG: &str = "/jails/10.0.0.1/rootfs.volume";
const MNT: &str = "/var/jails/10.0.0.1";

fn rec() -> Recorder {
    Recorder::new().with_file(IMG, IMG, GIB)
}

fn run_article_line(sys: Recorder) -> (i32, String, FreeBsd<Recorder>) {
    let mut fb = FreeBsd::with_sys(sys);
    let (code, _, err) = run(&mount_6x_argv(ARTICLE).unwrap(), &mut fb);
    (code, err, fb)
}

fn attaches(sys: &Recorder) -> usize {
    sys.calls.iter().filter(|c| matches!(c, SysCall::Attach(_))).count()
}

fn units(sys: &Recorder) -> Vec<u32> {
    sys.units.keys().copied().collect()
}

fn nmount_from(sys: &Recorder) -> Vec<String> {
    sys.calls
        .iter()
        .filter_map(|c| match c {
            SysCall::Nmount(n) => Some(n.from()),
            _ => None,
        })
        .collect()
}

#[test]
fn article_attaches_once_checks_the_ident_and_mounts() {
    let (code, err, fb) = run_article_line(rec());
    assert_eq!((code, err.as_str()), (0, ""));
    let sys = fb.sys();
    assert_eq!(attaches(sys), 1);
    assert_eq!(units(sys), [0]);
    assert_eq!(mounted_on(sys), [Path::new(MNT)]);
    assert_eq!(nmount_from(sys), ["/dev/md0"]);
    // Opened before anything else but the check's look-ups (which change
    // nothing); the ident asked right after the attach.
    let first = sys.asked.iter().find(|a| !matches!(a, Asked::Mounts | Asked::ListUnits));
    assert_eq!(first, Some(&Asked::OpenImage(IMG.into())));
    assert!(sys.asked.contains(&Asked::Ident(0)));
    // The image was there and writable: nothing created, attached read-write.
    assert!(!sys.calls.iter().any(|c| matches!(c, SysCall::CreateImage(_) | SysCall::PublishImage(_))));
    assert!(sys.calls.iter().any(|c| matches!(c, SysCall::Attach(a) if !a.read_only())));
}

#[test]
fn mount_a_twice_is_a_no_op_the_second_time() {
    let (code, _, fb) = run_article_line(rec());
    assert_eq!(code, 0);
    let mut sys = fb.into_sys();
    sys.calls.clear();
    // A new process: a new FreeBsd over the same "kernel".
    let mut fb = FreeBsd::with_sys(sys);
    let (code, _, err) = run(&mount_6x_argv(ARTICLE).unwrap(), &mut fb);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(fb.sys().calls.is_empty(), "{:?}", fb.sys().calls);
    assert_eq!(units(fb.sys()), [0]);
    // Under -X it says why.
    let mut fb = FreeBsd::with_sys(fb.into_sys());
    let (code, _, err) =
        run(&words("mount_md -X -o rw -P -F/jails/10.0.0.1/rootfs.volume md /var/jails/10.0.0.1"), &mut fb);
    assert_eq!(code, 0);
    assert!(err.contains("DEBUG: already mounted: /dev/md0 on /var/jails/10.0.0.1\n"), "{err}");
}

#[test]
fn attached_and_in_use_elsewhere_is_refused_and_nothing_changes() {
    // Mounted elsewhere.
    let (code, err, fb) =
        run_article_line(rec().with_leftover(2, IMG, GIB, false).with_mount("/dev/md2", "/elsewhere"));
    assert_eq!((code, err.as_str()), (1, "mount_md: /jails/10.0.0.1/rootfs.volume: already attached as /dev/md2, and in use (mount_md --list shows it; mount_md -u /dev/md2 releases it)\n"));
    assert!(fb.sys().calls.is_empty(), "{:?}", fb.sys().calls);
    assert_eq!(units(fb.sys()), [2]);
    // Mounted elsewhere through a GEOM layer (md2.uzip).
    let (code, err, _) = run_article_line(rec().with_leftover(2, IMG, GIB, false).with_mount("/dev/md2.uzip", "/ro"));
    assert_eq!((code, err.as_str()), (1, "mount_md: /jails/10.0.0.1/rootfs.volume: already attached as /dev/md2, and in use (mount_md --list shows it; mount_md -u /dev/md2 releases it)\n"));
    // Not mounted, but held open (GEOM access counts).
    let mut sys = rec().with_leftover(4, IMG, GIB, false);
    sys.units.get_mut(&4).unwrap().held = true;
    let (code, err, fb) = run_article_line(sys);
    assert_eq!((code, err.as_str()), (1, "mount_md: /jails/10.0.0.1/rootfs.volume: already attached as /dev/md4, and in use (mount_md --list shows it; mount_md -u /dev/md4 releases it)\n"));
    assert!(fb.sys().calls.is_empty());
}

/// Whether a unit is held reads `kern.geom.confxml` once; only a unit of
/// ours that something holds is looked at again, for an idle geli layer
/// of ours (which does not count).
#[test]
fn held_reads_confxml_once_unless_a_unit_of_ours_is_held() {
    use mount_md::platform::{Platform, UnitState, Which};
    for (held, reads) in [(false, vec![Asked::ListUnits]), (true, vec![Asked::ListUnits, Asked::Geli])] {
        let mut sys = rec().with_leftover(4, IMG, GIB, false);
        sys.units.get_mut(&4).unwrap().held = held;
        let mut fb = FreeBsd::with_sys(sys);
        let u = fb.units(Which::All).unwrap().remove(0);
        let before = fb.sys().asked.len();
        assert_eq!(fb.unit_is(&u, UnitState::Held).unwrap(), held);
        assert_eq!(fb.sys().asked[before..], reads);
    }
}

/// A mount point is known by its mount's id alone: no stat or devname of
/// any mount's node (which `mounts` does to key each mount to its unit).
#[test]
fn identify_reads_the_mount_table_without_looking_up_devices() {
    use mount_md::platform::{PathKind, Platform};
    let sys = rec().with_leftover(0, IMG, GIB, false).with_mount("/dev/ada0p2", "/").with_mount("/dev/md0", MNT);
    let mut fb = FreeBsd::with_sys(sys);
    let kind = fb.identify(Path::new(MNT)).unwrap();
    assert_eq!(fb.sys().asked, [Asked::Mounts]);
    let id = fb.mounts().unwrap().into_iter().find(|m| m.on == Path::new(MNT)).unwrap().id;
    assert_eq!(kind, PathKind::MountRoot(id));
}

#[test]
fn other_images_units_are_not_ours() {
    let sys = rec().with_file("/other.img", "/other.img", GIB).with_leftover(0, "/other.img", GIB, false);
    let (code, err, fb) = run_article_line(sys.with_mount("/dev/md0", "/other"));
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(units(fb.sys()), [0, 1]);
    assert_eq!(nmount_from(fb.sys()), ["/dev/md1"]);
}

#[test]
fn an_unused_leftover_that_fits_is_reused() {
    let leftover =
        || rec().with_leftover(5, IMG, GIB, false).with_label(5, b"mount_md:dev=90,ino=1000:/var/jails/10.0.0.1");
    let (code, err, fb) = run_article_line(leftover());
    assert_eq!((code, err.as_str()), (0, ""));
    let sys = fb.sys();
    assert_eq!(attaches(sys), 0, "never a second unit");
    assert!(sys.asked.contains(&Asked::Query(5)));
    assert_eq!(nmount_from(sys), ["/dev/md5"]);
    assert_eq!(units(sys), [5]);
    // A reused unit was there before the run: a later failure leaves it.
    let (code, _, fb) = run_article_line(leftover().failing_at("nmount", Errno::EINVAL));
    assert_eq!(code, 1);
    assert_eq!(units(fb.sys()), [5]);
    assert!(fb.sys().mounted.is_empty());
    assert!(!fb.sys().calls.iter().any(|c| matches!(c, SysCall::Detach(_))));
}

#[test]
fn a_leftover_that_does_not_fit_is_detached_then_attached_afresh() {
    // Another size (an earlier run with -s), or read-only where we want rw.
    for sys in [rec().with_leftover(5, IMG, GIB / 2, false), rec().with_leftover(5, IMG, GIB, true)] {
        let mut fb = FreeBsd::with_sys(sys);
        let (code, _, err) = run(&words("mount_md -X -o rw -P -F/jails/10.0.0.1/rootfs.volume md /j"), &mut fb);
        assert_eq!(code, 0, "{err}");
        assert!(err.contains("DEBUG: /dev/md5 does not fit: "), "{err}");
        assert!(err.contains("DEBUG: detaching /dev/md5, left attached by an earlier run\n"), "{err}");
        let sys = fb.sys();
        let changes: Vec<&SysCall> = sys.changes();
        assert!(matches!(changes[..], [SysCall::Detach(5), SysCall::Attach(_), SysCall::Nmount(_)]), "{changes:?}");
        assert_eq!(units(sys), [0], "one unit, never two");
    }
    // -s asks for another size than the leftover has.
    let mut fb = FreeBsd::with_sys(rec().with_leftover(5, IMG, GIB, false));
    let (code, _, _) = run(&words("mount_md -P -s 2g -F/jails/10.0.0.1/rootfs.volume md /j"), &mut fb);
    assert_eq!(code, 0);
    assert_eq!(fb.sys().calls[0], SysCall::Detach(5));
    assert_eq!(fb.sys().units[&0].mediasize, 2 * GIB);
}

#[test]
fn an_image_replaced_between_open_and_attach_is_detached() {
    let mut sys = rec();
    sys.replaced.insert(IMG.into());
    let (code, err, fb) = run_article_line(sys);
    assert_eq!(
        (code, err.as_str()),
        (1, "mount_md: /jails/10.0.0.1/rootfs.volume: replaced while attaching; detached /dev/md0\n")
    );
    let sys = fb.sys();
    assert!(sys.is_clean());
    assert!(
        matches!(sys.calls[..], [SysCall::Attach(_), SysCall::WaitForNode(_), SysCall::Detach(0)]),
        "{:?}",
        sys.calls
    );
}

#[test]
fn without_idents_the_attached_path_is_compared() {
    let mut sys = rec();
    sys.no_idents = true;
    let (code, err, fb) = run_article_line(sys);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(fb.sys().asked.contains(&Asked::Query(0)));
    let mut sys = rec();
    sys.no_idents = true;
    sys.replaced.insert(IMG.into());
    // The double's stat of the path still finds the original file: without
    // an ident only a replacement *after* the kernel's open is invisible.
    let (code, _, _) = run_article_line(sys);
    assert_eq!(code, 0);
}

#[test]
fn ident_and_query_failures_detach() {
    for kind in ["ident", "wait"] {
        let (code, err, fb) = run_article_line(rec().failing_at(kind, Errno::EIO));
        assert_eq!(code, 1, "{kind}");
        assert!(err.ends_with(": Input/output error\n"), "{kind}: {err}");
        assert!(fb.sys().is_clean(), "{kind}");
        assert_eq!(fb.sys().calls.last(), Some(&SysCall::Detach(0)), "{kind}");
    }
    // Listing units or mounts failing: nothing was done yet.
    for kind in ["list", "open"] {
        let (code, _, fb) = run_article_line(rec().failing_at(kind, Errno::EPERM));
        assert_eq!(code, 1, "{kind}");
        assert!(fb.sys().calls.is_empty(), "{kind}");
    }
}

fn release(sys: Recorder, line: &str) -> (i32, String, Recorder) {
    let mut fb = FreeBsd::with_sys(sys);
    let (code, _, err) = run(&words(line), &mut fb);
    (code, err, fb.into_sys())
}

#[test]
fn release_by_mount_point_then_again_is_a_no_op() {
    let (code, _, fb) = run_article_line(rec());
    assert_eq!(code, 0);
    let mut sys = fb.into_sys();
    sys.calls.clear();
    let (code, err, mut sys) = release(sys, "mount_md -u -X /var/jails/10.0.0.1");
    assert_eq!((code, err.as_str()), (0, "DEBUG: unmounted /var/jails/10.0.0.1\nDEBUG: detached /dev/md0\n"));
    assert_eq!(sys.calls, [SysCall::Unmount(MNT.into()), SysCall::Detach(0)]);
    assert!(sys.is_clean());
    sys.calls.clear();
    let (code, err, sys) = release(sys, "mount_md -u -X /var/jails/10.0.0.1");
    assert_eq!((code, err.as_str()), (0, "DEBUG: /var/jails/10.0.0.1: not mounted, not attached: nothing to do\n"));
    assert!(sys.calls.is_empty());
}

#[test]
fn release_by_image_takes_every_unit_backed_by_it() {
    let sys = rec()
        .with_leftover(1, IMG, GIB, false)
        .with_leftover(3, IMG, GIB / 2, false)
        .with_file("/other.img", "/other.img", GIB)
        .with_leftover(2, "/other.img", GIB, false)
        .with_mount("/dev/md1", "/a")
        .with_mount("/dev/md2", "/b")
        .with_mount("/dev/md1", "/a/nested");
    let (code, err, sys) = release(sys, "mount_md -u /jails/10.0.0.1/rootfs.volume");
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        sys.calls,
        [SysCall::Unmount("/a/nested".into()), SysCall::Unmount("/a".into()), SysCall::Detach(1), SysCall::Detach(3)]
    );
    assert_eq!(units(&sys), [2]);
    assert_eq!(mounted_on(&sys), [Path::new("/b")]);
}

#[test]
fn release_by_unit() {
    let sys = rec().with_leftover(3, IMG, GIB, false).with_mount("/dev/md3.uzip", "/u");
    for line in ["mount_md -u md3", "mount_md -u /dev/md3"] {
        let (code, err, sys) = release(sys_clone(&sys), line);
        assert_eq!((code, err.as_str()), (0, ""), "{line}");
        assert_eq!(sys.calls, [SysCall::Unmount("/u".into()), SysCall::Detach(3)], "{line}");
        assert!(sys.is_clean());
    }
    // Not attached: nothing to do.
    let (code, err, sys) = release(rec(), "mount_md -u -X md9");
    assert_eq!((code, err.as_str()), (0, "DEBUG: unit 9: not mounted, not attached: nothing to do\n"));
    assert!(sys.calls.is_empty());
}

/// The double is not Clone (it holds no handles, but keep it simple).
fn sys_clone(s: &Recorder) -> Recorder {
    let mut r = rec();
    r.units = s.units.clone();
    r.mounted = s.mounted.clone();
    r
}

#[test]
fn release_refuses_a_mount_that_is_not_an_md_disk() {
    let sys = rec().with_mount("zroot/jails/x", "/var/jails/x");
    let (code, err, sys) = release(sys, "mount_md -u /var/jails/x");
    assert_eq!((code, err.as_str()), (1, "mount_md: /var/jails/x: mounted from zroot/jails/x, not an md(4) disk\n"));
    assert!(sys.calls.is_empty());
}

#[test]
fn release_busy_changes_nothing_and_force_forces() {
    // Busy for longer than the core's second of unmount retries and the
    // wait for a dying jail after it (70 s, every 500 ms).
    let sys = (0..200).fold(rec().with_leftover(0, IMG, GIB, false).with_mount("/dev/md0", MNT), |s, _| {
        s.failing_at("unmount", Errno::EBUSY)
    });
    let (code, err, sys) = release(sys, "mount_md -u /var/jails/10.0.0.1");
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "mount_md: unmount of /var/jails/10.0.0.1: busy; waiting up to 70 s for a dying jail's last references \
             to its root (sockets in TIME_WAIT)\n\
             mount_md: unmount of /var/jails/10.0.0.1: in use, nothing detached (-f forces): Device or resource busy\n"
        )
    );
    let unmounts = sys.calls.iter().filter(|c| matches!(c, SysCall::Unmount(_))).count();
    assert_eq!(unmounts, 10 + 140);
    assert!(!sys.calls.iter().any(|c| matches!(c, SysCall::Detach(_))), "{:?}", sys.calls);
    assert_eq!(units(&sys), [0]);
    assert_eq!(mounted_on(&sys), [Path::new(MNT)]);

    // -f: MNT_FORCE and MD_FORCE.
    let sys = rec().with_leftover(0, IMG, GIB, false).with_mount("/dev/md0", MNT);
    let (code, _, sys) = release(sys, "mount_md -u -f /var/jails/10.0.0.1");
    assert_eq!(code, 0);
    assert_eq!(sys.calls, [SysCall::UnmountForced(MNT.into()), SysCall::DetachForced(0)]);
    assert!(sys.is_clean());

    // Unmounted, but something else holds the unit: the detach says so.
    let mut sys = rec().with_leftover(0, IMG, GIB, false);
    sys.units.get_mut(&0).unwrap().held = true;
    let (code, err, sys) = release(sys, "mount_md -u md0");
    assert_eq!(
        (code, err.as_str()),
        (1, "mount_md: detach /dev/md0: still open (-f forces): Device or resource busy\n")
    );
    assert_eq!(units(&sys), [0]);
}

fn missing_image() -> Recorder {
    Recorder::new()
}

#[test]
fn create_makes_formats_once_and_removes_on_failure() {
    let line = "mount_md -P --create -s 64m -F /img md /j";
    let mut fb = FreeBsd::with_sys(missing_image());
    let (code, _, err) = run(&words(line), &mut fb);
    assert_eq!(code, 0, "{err}");
    let sys = fb.sys();
    assert_eq!(sys.calls[0], SysCall::CreateImage("/img".into()));
    let SysCall::Attach(a) = &sys.calls[1] else { panic!("{:?}", sys.calls) };
    assert_eq!(a.mediasize, 64 << 20);
    // The kernel opens the new image by path: by its temporary name, the
    // only one it has until it is formatted and published.
    assert_eq!(a.file, Some(c("/.img.mount_md-new")));
    let newfs = SysCall::Newfs { argv: words("/sbin/newfs -U /dev/md0"), loud: false };
    let at = |c: &SysCall| sys.calls.iter().position(|x| x == c);
    assert!(at(&newfs) < at(&SysCall::PublishImage("/img".into())), "{:?}", sys.calls);
    assert!(sys.files.contains_key(Path::new("/img")) && sys.files.len() == 1);

    // Next boot: the image exists, -P keeps its file system.
    let mut fb = FreeBsd::with_sys(Recorder::new().with_file("/img", "/img", 64 << 20));
    let (code, _, err) = run(&words(line), &mut fb);
    assert_eq!(code, 0, "{err}");
    assert!(!fb.sys().calls.iter().any(|c| matches!(c, SysCall::Newfs { .. } | SysCall::CreateImage(_))));

    // Any failure after creating removes the half-made image again.
    for kind in ["attach", "ident", "wait", "newfs", "nmount", "statfs"] {
        let mut fb = FreeBsd::with_sys(missing_image().failing_at(kind, Errno::ENOSPC));
        let (code, _, err) = run(&words(line), &mut fb);
        assert_eq!(code, 1, "{kind}: {err}");
        let sys = fb.sys();
        assert!(sys.is_clean(), "{kind}: {:?}", sys.calls);
        // Removed under the name it had when the run failed.
        let published = sys.calls.contains(&SysCall::PublishImage("/img".into()));
        let name = if published { "/img" } else { "/.img.mount_md-new" };
        assert_eq!(sys.calls.last(), Some(&SysCall::RemoveImage(name.into())), "{kind}");
        assert!(sys.files.is_empty(), "{kind}");
    }
    // An image that was already there is never removed.
    let mut fb = FreeBsd::with_sys(Recorder::new().with_file("/img", "/img", GIB).failing_at("nmount", Errno::EIO));
    let (code, _, _) = run(&words(line), &mut fb);
    assert_eq!(code, 1);
    assert!(!fb.sys().calls.iter().any(|c| matches!(c, SysCall::RemoveImage(_))));
    assert!(fb.sys().is_clean());
}

/// `-P --create -o ro`: a missing image is not made (it would have to be
/// formatted, and the mount is read-only), as on Linux; one that exists is
/// attached and mounted read-only, never opened for writing.
#[test]
fn create_under_read_only_makes_nothing() {
    let line = "mount_md -P --create -s 64m -o ro -F /img md /j";
    let mut fb = FreeBsd::with_sys(missing_image());
    let (code, _, err) = run(&words(line), &mut fb);
    assert_eq!(
        (code, err.as_str()),
        (1, "mount_md: /img: does not exist, and --create cannot make it for a read-only mount (-o ro): a new image must be formatted\n")
    );
    assert!(fb.sys().calls.is_empty() && fb.sys().files.is_empty(), "{:?}", fb.sys().calls);
    let mut fb = FreeBsd::with_sys(Recorder::new().with_file("/img", "/img", 64 << 20));
    let (code, _, err) = run(&words(line), &mut fb);
    assert_eq!(code, 0, "{err}");
    let SysCall::Attach(a) = &fb.sys().calls[0] else { panic!("{:?}", fb.sys().calls) };
    assert!(a.read_only(), "MD_READONLY for an image that is kept");
    assert!(!fb.sys().calls.iter().any(|c| matches!(c, SysCall::Newfs { .. } | SysCall::CreateImage(_))));
}

#[test]
fn every_rollback_leaves_no_unit_attached() {
    let argv = words("mount_md -s 1g -p 0755 -w 0:0 -k /skel -F /jails/10.0.0.1/rootfs.volume md3 /m");
    for kind in ["attach", "ident", "wait", "newfs", "nmount", "statfs", "chmod", "chown", "skel"] {
        let mut fb = FreeBsd::with_sys(rec().failing_at(kind, Errno::EIO));
        let (code, _, err) = run(&argv, &mut fb);
        assert_eq!(code, 1, "{kind}: {err}");
        assert!(fb.sys().is_clean(), "{kind}: {:?}", fb.sys().calls);
    }
}

#[test]
fn read_only_fallback_comes_from_the_opened_image() {
    let mut sys = rec();
    sys.files.get_mut(Path::new(IMG)).unwrap().writable = false;
    let (code, err, fb) = run_article_line(sys);
    assert_eq!(code, 0);
    assert_eq!(err, "mount_md: WARNING: opening backing store: /jails/10.0.0.1/rootfs.volume readonly\n");
    let SysCall::Attach(a) = &fb.sys().calls[0] else { panic!() };
    assert!(a.read_only());
}

// ---- pure readers ----

const CONFXML: &str = r#"<mesh>
  <class id="0xffffffff81e2a0a0">
    <name>MD</name>
    <geom id="0xfffff80003a6e100">
      <class ref="0xffffffff81e2a0a0"/>
      <name>md0</name>
      <rank>1</rank>
      <config>
      </config>
      <provider id="0xfffff80003a6e000">
        <geom ref="0xfffff80003a6e100"/>
        <mode>r1w1e1</mode>
        <name>md0</name>
        <mediasize>1073741824</mediasize>
        <sectorsize>512</sectorsize>
        <stripesize>0</stripesize>
        <stripeoffset>0</stripeoffset>
        <config>
          <unit>0</unit>
          <sectorsize>512</sectorsize>
          <fwheads>0</fwheads>
          <fwsectors>0</fwsectors>
          <ident>MD-DEV1895890688-INO12</ident>
          <length>1073741824</length>
          <compression>off</compression>
          <access>read-write</access>
          <type>vnode</type>
          <file>/jails/a&amp;b/root fs.img</file>
          <cache>off</cache>
          <label>mount_md:/var/jails/caf&#xC3;&#xA9;</label>
        </config>
      </provider>
    </geom>
    <geom id="0xfffff80003a6e300">
      <class ref="0xffffffff81e2a0a0"/>
      <name>md1</name>
      <rank>1</rank>
      <config>
      </config>
      <provider id="0xfffff80003a6e200">
        <geom ref="0xfffff80003a6e300"/>
        <mode>r0w0e0</mode>
        <name>md1</name>
        <mediasize>8388608</mediasize>
        <sectorsize>512</sectorsize>
        <stripesize>0</stripesize>
        <stripeoffset>0</stripeoffset>
        <config>
          <unit>1</unit>
          <sectorsize>512</sectorsize>
          <fwheads>0</fwheads>
          <fwsectors>0</fwsectors>
          <length>8388608</length>
          <compression>off</compression>
          <access>read-only</access>
          <type>swap</type>
          <label></label>
        </config>
      </provider>
    </geom>
  </class>
  <class id="0xffffffff81e2b000">
    <name>DEV</name>
    <geom id="0xfffff80003a6e500">
      <class ref="0xffffffff81e2b000"/>
      <name>md7</name>
      <rank>2</rank>
      <config>
      </config>
      <consumer id="0xfffff80003a6e600">
        <geom ref="0xfffff80003a6e500"/>
        <provider ref="0xfffff80003a6e000"/>
        <mode>r1w1e1</mode>
        <config>
        </config>
      </consumer>
    </geom>
  </class>
</mesh>
"#;

#[test]
fn confxml_md_class_is_read() {
    let units = parse_confxml(CONFXML);
    assert_eq!(
        units,
        [
            MdUnit {
                unit: 0,
                md_type: Some(MD_VNODE),
                read_only: Some(false),
                ident: Some("MD-DEV1895890688-INO12".into()),
                file: Some("/jails/a&b/root fs.img".into()),
                label: Some("mount_md:/var/jails/café".as_bytes().to_vec()),
                access: Some((1, 1, 1)),
            },
            MdUnit {
                unit: 1,
                md_type: Some(MD_SWAP),
                read_only: Some(true),
                ident: None,
                file: None,
                label: Some(Vec::new()),
                access: Some((0, 0, 0)),
            },
        ]
    );
    assert!(parse_confxml("<mesh>\n</mesh>\n").is_empty());
    assert!(parse_confxml("").is_empty());
}

#[test]
fn ident_is_md_c_s_format_cut_to_31_bytes() {
    assert_eq!(vnode_ident(FileId { dev: 1895890688, ino: 12 }), "MD-DEV1895890688-INO12");
    // char ident[32]: snprintf keeps 31 characters.
    let long = vnode_ident(FileId { dev: 18446744073709551615, ino: 123456789 });
    assert_eq!(long, "MD-DEV18446744073709551615-INO1");
    assert_eq!(long.len(), 31);
}

#[test]
fn mount_from_names_a_unit() {
    for (from, unit) in [
        ("/dev/md0", Some(0)),
        ("/dev/md12", Some(12)),
        ("/dev/md3.uzip", Some(3)),
        ("/dev/md3p1", Some(3)),
        ("/dev/md3s1a", Some(3)),
        ("md4", Some(4)),
        ("/dev/mdctl", None),
        ("/dev/md", None),
        ("/dev/ada0p2", None),
        ("tmpfs", None),
        ("zroot/jails", None),
        ("/dev/md01", None),
    ] {
        assert_eq!(md_unit_of(from), unit, "{from}");
    }
}

#[test]
fn detach_ebusy_with_no_mount_is_retried_for_about_a_second() {
    use mount_md::platform::freebsd::{DETACH_POLL, DETACH_TRIES};
    let leftover = || rec().with_leftover(0, IMG, GIB, false).with_label(0, b"mount_md:/var/jails/10.0.0.1");
    // EBUSY once (a GEOM re-taste), then gone.
    let mut sys = leftover();
    sys.busy_detaches = 1;
    let (code, err, sys) = release(sys, "mount_md -u md0");
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        sys.calls,
        [SysCall::Detach(0), SysCall::Pause(DETACH_POLL), SysCall::Detach(0)],
        "EBUSY on the first detach, success on a retry"
    );
    assert!(sys.is_clean());
    // Busy for good: bounded, then said, and nothing changed.
    let mut sys = leftover();
    sys.busy_detaches = 1000;
    let (code, err, sys) = release(sys, "mount_md -u md0");
    assert_eq!(code, 1);
    assert_eq!(err, "mount_md: detach /dev/md0: still open (-f forces): Device or resource busy\n");
    let detaches = sys.calls.iter().filter(|c| matches!(c, SysCall::Detach(0))).count();
    let pauses = sys.calls.iter().filter(|c| matches!(c, SysCall::Pause(_))).count();
    assert_eq!((detaches, pauses), (DETACH_TRIES as usize, DETACH_TRIES as usize - 1));
    assert_eq!(units(&sys), [0]);
    // Mounted and busy: the unmount is what fails (after its own second of
    // retries); the detach and its re-taste retry are never reached.
    let sys = (0..200).fold(leftover().with_mount("/dev/md0", MNT), |s, _| s.failing_at("unmount", Errno::EBUSY));
    let (code, _, sys) = release(sys, "mount_md -u md0");
    assert_eq!(code, 1);
    assert!(!sys.calls.iter().any(|c| matches!(c, SysCall::Detach(_))), "{:?}", sys.calls);
}

#[test]
fn release_refuses_units_without_the_mark() {
    let sys = rec().with_leftover(0, IMG, GIB, false).with_label(0, b"");
    for line in ["mount_md -u md0", "mount_md -u /jails/10.0.0.1/rootfs.volume"] {
        let (code, err, sys) = release(sys_clone(&sys), line);
        assert_eq!(code, 1, "{line}");
        assert!(err.ends_with("/dev/md0 was not attached by mount_md; left alone (another tool attached it: when nothing uses it, mdconfig -d -u 0 detaches it)\n"), "{err}");
        assert!(sys.calls.is_empty(), "{line}: {:?}", sys.calls);
    }
    // Mounted by someone else's unit: the mount is left too.
    let sys = rec()
        .with_leftover(0, IMG, GIB, false)
        .with_label(0, b"/jails/10.0.0.1/rootfs.volume")
        .with_mount("/dev/md0", MNT);
    let (code, _, sys) = release(sys, "mount_md -u /var/jails/10.0.0.1");
    assert_eq!(code, 1);
    assert!(sys.calls.is_empty());
}

#[test]
fn a_tmpfs_named_like_our_device_is_not_our_mount() {
    let mut sys = rec().with_leftover(0, IMG, GIB, false).with_label(0, b"mount_md:/var/jails/10.0.0.1");
    sys = sys.with_mount("/dev/md0", "/decoy");
    sys.mounted.iter_mut().find(|(on, _, _)| on == Path::new("/decoy")).unwrap().2 = "tmpfs".into();
    let (code, err, sys) = release(sys, "mount_md -u /decoy");
    assert_eq!(code, 1);
    assert_eq!(err, "mount_md: /decoy: mounted from /dev/md0, not an md(4) disk\n");
    assert!(sys.calls.is_empty());
    // And -u of the unit does not unmount the decoy.
    let (code, _, sys) = release(sys_clone(&sys), "mount_md -u md0");
    assert_eq!(code, 0);
    assert_eq!(sys.calls, [SysCall::Detach(0)]);
}
