//! Lifecycle rules decided by the core, on the FreeBSD backend over its
//! recording syscall layer: one image one attachment, `--create`, and `-u`.
use crate::support::*;
use mount_md::cli::CliError;
use mount_md::mark;
use mount_md::platform::freebsd::recording::{Recorder, SysCall};
use mount_md::platform::freebsd::FreeBsd;
use mount_md::request::{Command, CreateMode, Target};
use nix::errno::Errno;
use std::path::{Path, PathBuf};

/// Whose a unit is: mount_md's, marked for a mount point (with the
/// identity of the image it was attached for), or another tool's.
#[derive(Clone, Copy)]
enum Owner {
    Ours(&'static str),
    Foreign,
}

const OURS: Owner = Owner::Ours("/j");
const FOREIGN: Owner = Owner::Foreign;

/// A recorder where unit `unit` is a 1 GiB disk backed by /img (ours,
/// marked for /j), and, if `mounted_at` says so, mounted there; `held`:
/// open by someone.
fn leftover(unit: u32, mounted_at: Option<&str>, held: bool) -> Recorder {
    leftover_of(recorder(), unit, mounted_at, held, OURS)
}

fn leftover_of(sys: Recorder, unit: u32, mounted_at: Option<&str>, held: bool, owner: Owner) -> Recorder {
    backed_by(sys, unit, "/img", owner, held, mounted_at)
}

/// Unit `unit` backed by `image`, `owner`'s, open by someone if `held`,
/// mounted at `mounted_at`.
fn backed_by(sys: Recorder, unit: u32, image: &str, owner: Owner, held: bool, mounted_at: Option<&str>) -> Recorder {
    let mut sys = sys.with_leftover(unit, image, GIB, false);
    let label = match owner {
        Owner::Ours(at) => mark::encode_with_file(at.as_bytes(), sys.id_of(Path::new(image)), mark::FREEBSD_CAPACITY),
        Owner::Foreign => Vec::new(),
    };
    let mut sys = sys.with_label(unit, &label);
    sys.units.get_mut(&unit).unwrap().held = held;
    match mounted_at {
        Some(at) => sys.with_mount(&format!("/dev/md{unit}"), at),
        None => sys,
    }
}

fn changes(s: &Recorder) -> Vec<&SysCall> {
    s.calls
        .iter()
        .filter(|c| matches!(c, SysCall::Attach(_) | SysCall::Detach(_) | SysCall::Nmount(_) | SysCall::Newfs { .. }))
        .collect()
}

const SEED: &str = "mount_md -o rw -P -F/img md /j";

#[test]
fn already_mounted_here_is_success_and_changes_nothing() {
    let o = run_on(leftover(3, Some("/j"), false), &argv(SEED));
    assert_eq!((o.status, o.stderr.as_str()), (0, ""));
    assert!(changes(&o.sys).is_empty());
    // Whoever attached it: it is mounted where asked.
    let sys = leftover_of(recorder(), 3, Some("/j"), false, FOREIGN);
    let o = run_on(sys, &argv(&SEED.replace("-P", "-X -P")));
    assert!(o.stderr.contains("DEBUG: already mounted: /dev/md3 on /j\n"), "{}", o.stderr);
}

#[test]
fn attached_and_in_use_elsewhere_is_refused() {
    for sys in [leftover(2, Some("/elsewhere"), false), leftover(2, None, true)] {
        let o = run_on(sys, &argv(SEED));
        assert_eq!((o.status, o.stderr.as_str()), (1, "mount_md: /img: already attached as /dev/md2, and in use (mount_md --list shows it; mount_md -u /dev/md2 releases it)\n"));
        assert!(changes(&o.sys).is_empty());
    }
}

#[test]
fn an_idle_unit_another_tool_attached_is_refused_not_replaced() {
    let sys = leftover_of(recorder(), 4, None, false, FOREIGN);
    let o = run_on(sys, &argv(SEED));
    assert_eq!(
        (o.status, o.stderr.as_str()),
        (1, "mount_md: /img: /dev/md4 was not attached by mount_md; left alone (another tool attached it: when nothing uses it, mdconfig -d -u 4 detaches it)\n")
    );
    assert!(changes(&o.sys).is_empty());
    assert!(o.sys.units.contains_key(&4));
}

#[test]
fn an_attach_is_marked_for_its_mount_point() {
    let o = run_line(SEED);
    assert_eq!(o.status, 0, "{}", o.stderr);
    let label = &o.sys.units[&0].label;
    assert!(label.starts_with(b"mount_md:") && label.ends_with(b":/j"), "{}", String::from_utf8_lossy(label));
}

#[test]
fn t_with_a_disk_takes_only_file_systems_on_a_disk() {
    for t in ["tmpfs", "proc", "sysfs", "ramfs", "devpts", "cgroup2"] {
        for line in [format!("mount_md -P -T {t} -F/img md /j"), format!("mount_md -N -T {t} -s 1m md /j")] {
            let o = run_line(&line);
            assert_eq!(o.status, 1, "{line}");
            assert_eq!(
                o.stderr,
                format!("mount_md: -T {t}: not a file system on a disk (for a tmpfs, use tmpfs as the md-device)\n"),
                "{line}"
            );
            assert!(o.untouched(), "{line}");
        }
    }
    // tmpfs as the md-device is still a tmpfs.
    assert_eq!(run_line("mount_md -s 1m tmpfs /j").status, 0);
}

#[test]
fn an_unused_leftover_is_reused_or_replaced_never_doubled() {
    let o = run_on(leftover(5, None, false), &argv(SEED));
    assert_eq!(o.status, 0, "{}", o.stderr);
    assert!(!o.sys.calls.iter().any(|c| matches!(c, SysCall::Attach(_))), "no second unit");
    assert!(o.sys.mounted.iter().any(|(on, from, _)| on == Path::new("/j") && from == "/dev/md5"));
    assert_eq!(o.sys.units.len(), 1);

    // Not reusable (another size): detached, then attached afresh.
    let mut sys = leftover(5, None, false);
    sys.units.get_mut(&5).unwrap().mediasize = GIB / 2;
    let o = run_on(sys, &argv(SEED));
    assert_eq!(o.status, 0);
    let seq: Vec<&SysCall> = changes(&o.sys);
    assert!(matches!(seq[..], [SysCall::Detach(5), SysCall::Attach(_), SysCall::Nmount(_)]), "{seq:?}");
    assert_eq!(o.sys.units.len(), 1);

    // A reused unit was there before: a failure later leaves it attached.
    let sys = leftover_of(recorder().failing_at("nmount", Errno::EINVAL), 5, None, false, OURS);
    let o = run_on(sys, &argv(SEED));
    assert_eq!(o.status, 1);
    assert_eq!(o.sys.units.keys().copied().collect::<Vec<_>>(), vec![5]);
    assert!(o.sys.mounted.is_empty());
}

#[test]
fn create_parsing() {
    let r = parse_line("mount_md --create -s 1g -F /i md /j").unwrap();
    assert_eq!(r.create, Some(CreateMode::Reserve));
    let r = parse_line("mount_md --create=sparse -s 1g -F /i md /j").unwrap();
    assert_eq!(r.create, Some(CreateMode::Sparse));
    // FreeBSD mount(8) splits `--create=sparse` like any `-x=y` item
    let r = parse_line("mount_md -o rw -P -F/i -s 1g --create sparse md /j").unwrap();
    assert_eq!(r.create, Some(CreateMode::Sparse));
    // util-linux hands it over whole
    let r = parse_line("mount.md md /j -o rw,-P,-F/i,-s1g,--create=reserve").unwrap();
    assert_eq!(r.create, Some(CreateMode::Reserve));
    assert_eq!(
        parse_line("mount_md --create=thick -s 1g -F /i md /j"),
        Err(CliError::Fatal("--create: unknown mode 'thick' (use reserve or sparse)".into()))
    );
    assert_eq!(
        parse_line("mount_md --create -F /i md /j"),
        Err(CliError::Fatal("--create requires -F file and -s size".into()))
    );
    assert_eq!(
        parse_line("mount_md --create -s 1g md /j"),
        Err(CliError::Fatal("--create requires -F file and -s size".into()))
    );
    assert_eq!(
        parse_line("mount_md --bogus md /j"),
        Err(CliError::Usage(Some("unrecognized option '--bogus'".into())))
    );
}

/// A recorder that knows no image: /img is missing.
fn missing_image() -> Recorder {
    Recorder::new()
}

fn created(s: &Recorder) -> bool {
    s.calls.iter().any(|c| matches!(c, SysCall::CreateImage(_)))
}

fn formatted(s: &Recorder) -> bool {
    s.calls.iter().any(|c| matches!(c, SysCall::Newfs { .. }))
}

#[test]
fn create_makes_formats_and_on_failure_removes_the_image() {
    // -P --create on a missing image: created, formatted once, mounted.
    let o = run_on(missing_image(), &argv("mount_md -P --create -s 64m -F/img md /j"));
    assert_eq!(o.status, 0, "{}", o.stderr);
    assert!(created(&o.sys) && formatted(&o.sys));
    assert!(o.sys.files.contains_key(Path::new("/img")), "published under its name");
    // Second boot: the image exists, -P keeps its file system.
    let o = run_on(o.sys, &argv("mount_md -u /j"));
    assert_eq!(o.status, 0, "{}", o.stderr);
    let mut sys = o.sys;
    sys.calls.clear();
    let o = run_on(sys, &argv("mount_md -P --create -s 64m -F/img md /j"));
    assert_eq!(o.status, 0);
    assert!(!created(&o.sys) && !formatted(&o.sys));
    // Any failure after creating removes the half-made image again.
    for step in ["attach", "wait", "newfs", "nmount"] {
        let o =
            run_on(missing_image().failing_at(step, Errno::ENOSPC), &argv("mount_md -P --create -s 64m -F/img md /j"));
        assert_eq!(o.status, 1, "{step}");
        assert!(o.sys.is_clean(), "{step}");
        assert!(matches!(o.sys.calls.last(), Some(SysCall::RemoveImage(_))), "{step}: {:?}", o.sys.calls);
        assert!(o.sys.files.is_empty(), "{step}: {:?}", o.sys.files);
    }
    // Without --create a missing image is just an error.
    let o = run_on(missing_image(), &argv("mount_md -P -F/img md /j"));
    assert_eq!((o.status, o.stderr.as_str()), (1, "mount_md: /img: No such file or directory\n"));
}

#[test]
fn release_command() {
    let cmd = parse_command(&argv("mount_md -u -f /var/jails/x")).unwrap();
    assert!(matches!(cmd, Command::Release(ref r) if r.force && r.target == Target::Path("/var/jails/x".into())));

    // mount, then -u on the mount point: unmounted and detached
    let o = run_line(SEED);
    assert_eq!(o.status, 0);
    let o = run_on(o.sys, &argv("mount_md -u -X /j"));
    assert_eq!(o.status, 0);
    assert!(o.sys.is_clean());
    assert_eq!(o.stderr, "DEBUG: unmounted /j\nDEBUG: detached /dev/md0\n");
    // again: nothing to do is success, said under -X only
    let o = run_on(o.sys, &argv("mount_md -u /j"));
    assert_eq!((o.status, o.stderr.as_str()), (0, ""));
    let o = run_on(o.sys, &argv("mount_md -u -X /j"));
    assert_eq!((o.status, o.stderr.as_str()), (0, "DEBUG: /j: not mounted, not attached: nothing to do\n"));
    // -N says what it would do
    let o = run_line("mount_md -uN md4");
    assert_eq!((o.status, o.stdout.as_str()), (0, "unit 4: not mounted, not attached: nothing to do\n"));
    assert!(o.sys.is_clean());
    // ... after the same look-ups as -u: each unmount and detach, nothing done
    let o = run_on(leftover(1, Some("/j"), false), &argv("mount_md -N -u /j"));
    assert_eq!(
        (o.status, o.stdout.as_str()),
        (0, "unmount /j (refused if it is busy; -f forces)\ndetach /dev/md1 (refused while it is open; -f forces)\n")
    );
    assert!(o.sys.calls.is_empty(), "{:?}", o.sys.calls);
    // ... and refuses what -u refuses
    let o = run_on(leftover_of(recorder(), 1, Some("/j"), false, FOREIGN), &argv("mount_md -N -u /j"));
    assert_eq!(o.status, 1, "{}", o.stderr);
    assert!(o.stderr.contains("was not attached by mount_md"), "{}", o.stderr);
    // busy for a moment (a holder going away): retried, then done
    let o = run_on(leftover(1, Some("/j"), false).failing_at("unmount", Errno::EBUSY), &argv("mount_md -u /j"));
    assert_eq!((o.status, o.stderr.as_str()), (0, ""));
    assert_eq!(o.sys.calls.iter().filter(|c| **c == SysCall::Unmount("/j".into())).count(), 2);
    assert!(o.sys.is_clean());
    // busy for good: nothing detached, exit 1 once the tries are over; -f
    // forces. (How many tries: ten, and on FreeBSD then a dying jail's
    // wait: freebsd_double's `release_busy_changes_nothing_and_force_forces`,
    // linux_double's `u_of_a_busy_mount_and_of_a_held_unit`.)
    let mut sys = leftover(1, Some("/j"), false);
    sys.fail = vec![("unmount", Errno::EBUSY); 1000];
    let o = run_on(sys, &argv("mount_md -u /j"));
    assert_eq!(o.status, 1);
    assert!(
        o.stderr.ends_with("mount_md: unmount of /j: in use, nothing detached (-f forces): Device or resource busy\n"),
        "{}",
        o.stderr
    );
    assert!(o.sys.changes().iter().all(|c| **c == SysCall::Unmount("/j".into())), "{:?}", o.sys.changes());
    assert_eq!((o.sys.units.len(), o.sys.mounted.len()), (1, 1));
    let mut sys = o.sys;
    sys.fail.clear();
    let o = run_on(sys, &argv("mount_md -u -f /j"));
    assert_eq!(o.status, 0, "{}", o.stderr);
    assert!(o.sys.is_clean());
}

#[test]
fn release_touches_only_what_mount_md_attached() {
    // By mount point, image and unit: refused whole, nothing changed.
    for target in ["/j", "/img", "md6"] {
        let sys = leftover_of(recorder(), 6, Some("/j"), false, FOREIGN);
        let o = run_on(sys, &argv(&format!("mount_md -u {target}")));
        let shown = if target == "md6" { String::new() } else { format!("{target}: ") };
        assert_eq!(
            (o.status, o.stderr.as_str()),
            (1, format!("mount_md: {shown}/dev/md6 was not attached by mount_md; left alone (another tool attached it: when nothing uses it, mdconfig -d -u 6 detaches it)\n").as_str()),
            "{target}"
        );
        assert!(o.sys.calls.is_empty(), "{target}: {:?}", o.sys.calls);
        assert_eq!(mounted_on(&o.sys), [Path::new("/j")]);
    }
    // An image backing one unit of ours and one of another tool's: neither.
    let sys = leftover_of(leftover(1, None, false), 2, None, false, FOREIGN);
    let o = run_on(sys, &argv("mount_md -u /img"));
    assert_eq!(o.status, 1);
    assert_eq!(o.sys.units.len(), 2);
    // A mount that is not from a disk at all.
    let o = run_on(recorder().with_mount("tmpfs", "/t"), &argv("mount_md -u /t"));
    assert_eq!((o.status, o.stderr.as_str()), (1, "mount_md: /t: mounted from tmpfs, not an md(4) disk\n"));
}

#[test]
fn release_of_an_unmounted_directory_finds_its_unit_by_the_mark() {
    // jail(8) unmounts, then runs exec.release with the directory.
    let o = run_on(leftover(3, None, false), &argv("mount_md -u -X /j"));
    assert_eq!((o.status, o.stderr.as_str()), (0, "DEBUG: detached /dev/md3\n"));
    assert!(o.sys.is_clean());
    // Only a mark that names it.
    for sys in [leftover(3, None, true), leftover(3, Some("/elsewhere"), false)] {
        let o = run_on(sys, &argv("mount_md -u /k"));
        assert_eq!((o.status, o.stderr.as_str()), (0, ""));
        assert_eq!(o.sys.units.len(), 1);
    }
    // Held open: never "nothing to do"; refused, and -f forces it.
    let o = run_on(leftover(3, None, true), &argv("mount_md -u /j"));
    assert_eq!(
        (o.status, o.stderr.as_str()),
        (1, "mount_md: detach /dev/md3: still open (-f forces): Device or resource busy\n")
    );
    assert_eq!(o.sys.units.len(), 1);
    // (md(4) detaches with MD_FORCE at once; Linux's autoclear, detached
    // when its last user closes it: linux_double's
    // `u_of_a_busy_mount_and_of_a_held_unit`.)
    let o = run_on(leftover(3, None, true), &argv("mount_md -u -f /j"));
    assert_eq!((o.status, o.stderr.as_str()), (0, ""));
    assert_eq!(o.sys.changes(), [&SysCall::DetachForced(3)]);
    assert!(o.sys.is_clean());
    // Mounted somewhere else: it serves that mount; said, left alone.
    let o = run_on(leftover(3, Some("/elsewhere"), false), &argv("mount_md -u /j"));
    assert_eq!(
        (o.status, o.stderr.as_str()),
        (1, "mount_md: /j: /dev/md3 is mounted on /elsewhere; left alone (mount_md -u /elsewhere releases it there)\n")
    );
    assert_eq!((o.sys.units.len(), o.sys.mounted.len()), (1, 1));
}

#[test]
fn what_cannot_be_checked_is_an_error() {
    for (kind, what) in [("list", "sysctl kern.geom.confxml"), ("mounts", "getfsstat")] {
        let sys = leftover(1, Some("/j"), false).failing_at(kind, Errno::EACCES);
        let o = run_on(sys, &argv("mount_md -u /j"));
        assert_eq!((o.status, o.stderr.as_str()), (1, format!("mount_md: {what}: Permission denied\n").as_str()));
        assert_eq!(o.sys.mounted.len(), 1, "{kind}");
        // Mounting too: the check that the image is free is not skipped.
        let o = run_on(leftover(1, None, false).failing_at(kind, Errno::EACCES), &argv(SEED));
        assert_eq!(o.status, 1, "{kind}");
        assert!(changes(&o.sys).is_empty(), "{kind}");
    }
}

/// `-r` finds its unit by the rules `-u` uses (`lifecycle::locate`).
#[test]
fn grow_locates_by_the_release_rules() {
    use mount_md::lifecycle::{locate, Located};
    let path = |p: &str| Target::Path(p.into());
    let unit_of = |r: mount_md::error::Result<Located>| match r {
        Ok(Located::Unit(u, m)) => Ok((u.device.unit, m.iter().map(|m| m.on.clone()).collect::<Vec<_>>())),
        Ok(other) => Err(format!("{other:?}")),
        Err(e) => Err(e.to_string()),
    };
    // By mount point, image and unit number: the same unit, with its mount.
    let mut f = FreeBsd::with_sys(leftover(3, Some("/j"), false));
    for t in [path("/j"), path("/img"), Target::Unit(3)] {
        assert_eq!(unit_of(locate(&mut f, &t)), Ok((3, vec![PathBuf::from("/j")])), "{t:?}");
    }
    // Unmounted (jail(8) stop): the directory finds it by its mark.
    let mut f = FreeBsd::with_sys(leftover(3, None, false));
    assert_eq!(unit_of(locate(&mut f, &path("/j"))), Ok((3, vec![])));
    // An image nothing attached is grown offline.
    let mut f = FreeBsd::with_sys(recorder());
    assert_eq!(locate(&mut f, &path("/other.img")), Ok(Located::Image("/other.img".into())));
    // Refusals, each with nothing changed.
    let mut f = FreeBsd::with_sys(leftover_of(recorder(), 3, Some("/j"), false, FOREIGN));
    assert_eq!(
        unit_of(locate(&mut f, &path("/j"))),
        Err("/dev/md3: not attached by mount_md (it carries no mount_md mark); nothing changed".into())
    );
    // (A directory that names nothing: linux_double's
    // `a_target_that_names_nothing_is_not_grown`; FreeBSD takes any path
    // no mark names for an image.)
    let mut f = FreeBsd::with_sys(recorder());
    assert_eq!(unit_of(locate(&mut f, &Target::Unit(4))), Err("/dev/md4: not attached".into()));
    let mut f = FreeBsd::with_sys(backed_by(leftover(3, None, false), 5, "/img", Owner::Ours("/k"), false, None));
    assert_eq!(
        unit_of(locate(&mut f, &path("/img"))),
        Err("/img: attached as 2 units (/dev/md3, /dev/md5); nothing changed".into())
    );
    assert!(f.sys().calls.is_empty(), "{:?}", f.sys().calls);
}

/// Long mount points: a cut mark carries the hash of the whole path, so
/// `-u DIR` on an unmounted directory takes only its own unit, not one of
/// a sibling with the same first bytes; cut marks without a hash (older
/// runs) that several units share make it choose none.
#[test]
fn cut_marks_name_one_directory() {
    use mount_md::mark::{encode, FREEBSD_CAPACITY};
    let base = format!("/var/jails/{}", "x".repeat(FREEBSD_CAPACITY));
    let (j1, j2) = (format!("{base}/j1"), format!("{base}/j2"));
    let labelled = |sys: Recorder, unit: u32, image: &str, label: &[u8]| {
        backed_by(sys, unit, image, FOREIGN, false, None).with_label(unit, label)
    };
    let marked = |p: &str| encode(p.as_bytes(), FREEBSD_CAPACITY);
    let sys = labelled(labelled(recorder(), 1, "/a.img", &marked(&j1)), 2, "/b.img", &marked(&j2));
    let o = run_on(sys, &argv(&format!("mount_md -u -X {j1}")));
    assert_eq!((o.status, o.stderr.as_str()), (0, "DEBUG: detached /dev/md1\n"));
    assert_eq!(o.sys.units.keys().copied().collect::<Vec<_>>(), [2]);
    // Old cut marks, no hash: both fit; neither is touched.
    let mut old = b"mount_md:".to_vec();
    old.extend_from_slice(&base.as_bytes()[..FREEBSD_CAPACITY - 1 - old.len()]);
    let sys = labelled(labelled(recorder(), 1, "/a.img", &old), 2, "/b.img", &old);
    let o = run_on(sys, &argv(&format!("mount_md -u {j1}")));
    assert_eq!(o.status, 1);
    assert!(
        o.stderr
            .ends_with("the cut marks of /dev/md1, /dev/md2 all fit it; name the unit or the image; nothing done\n"),
        "{}",
        o.stderr
    );
    assert_eq!(o.sys.units.len(), 2);
}

/// A disk is never mounted over a file system already mounted there: the
/// same memory-disk line run again (`mount -a` twice) finds its disk and
/// succeeds; anything else on the mount point is refused, nothing changed.
#[test]
fn no_disk_is_mounted_over_another_mount() {
    let o = run_line("mount_md -M -s 16m md /mnt");
    assert_eq!(o.status, 0, "{}", o.stderr);
    let o = run_on(o.sys, &argv("mount_md -X -M -s 16m md /mnt"));
    assert_eq!(o.status, 0, "{}", o.stderr);
    assert!(o.stderr.ends_with("DEBUG: already mounted: /dev/md0 on /mnt\n"), "{}", o.stderr);
    assert_eq!((o.sys.units.len(), o.sys.mounted.len()), (1, 1));
    // A memory-disk line asking for another type than the one mounted is
    // another line: refused. (newfs makes only UFS: the mount is made to
    // say msdosfs.)
    let mut sys = o.sys;
    sys.mounted.iter_mut().find(|(on, _, _)| on == Path::new("/mnt")).unwrap().2 = "msdosfs".into();
    let o = run_on(sys, &argv("mount_md -M -s 16m md /mnt"));
    assert_eq!(o.status, 1, "{}", o.stderr);
    assert!(
        o.stderr.ends_with("already a mount point (of /dev/md0); not mounting over it (unmount it first)\n"),
        "{}",
        o.stderr
    );
    // Someone else's mount there, or another image of ours: refused.
    for sys in [backed_by(recorder(), 4, "/other.img", FOREIGN, false, Some("/mnt")), leftover(3, Some("/mnt"), false)]
    {
        let o = run_on(sys, &argv("mount_md -P -F /new.img md /mnt"));
        assert_eq!(o.status, 1, "{}", o.stderr);
        let refused =
            |n: u32| format!("/mnt: already a mount point (of /dev/md{n}); not mounting over it (unmount it first)\n");
        assert!(o.stderr.ends_with(&refused(4)) || o.stderr.ends_with(&refused(3)), "{}", o.stderr);
        assert!(!o.sys.calls.iter().any(|c| matches!(c, SysCall::Attach(_))), "{:?}", o.sys.calls);
    }
}

/// The check of a plan is one, made before the first step by the run and
/// by `-N` (mount.md `-f`) alike: a dry run refuses with the run's message
/// and exit status, and the run refuses before changing anything: before
/// mdmfs's pre-detach of a fixed unit and before attaching, having at most
/// opened (and locked) the image that exists, under whose lock it scans
/// the units once. What
/// the plan itself contradicts exits as a bad invocation (1), what the
/// system holds as a failed mount (mount.md: 32).
#[test]
fn the_run_refuses_where_a_dry_run_does_before_changing_anything() {
    let in_use_and_md5_idle = || {
        // /img in use as md2; md5 an idle unit of ours for /j, which the
        // run's pre-detach of a fixed unit would detach.
        backed_by(leftover(2, Some("/elsewhere"), false), 5, "/old", OURS, false, None)
    };
    let foreign = || leftover_of(recorder(), 4, None, false, FOREIGN);
    let cases: [(&dyn Fn() -> Recorder, &str, &str, i32); 5] = [
        (&in_use_and_md5_idle, "mount_md -P -F/img md5 /j", "mount_md -N -P -F/img md5 /j", 1),
        (&foreign, SEED, "mount_md -N -o rw -P -F/img md /j", 1),
        (&foreign, "mount.md md /j -o rw,-P,-F/img", "mount.md -f md /j -o rw,-P,-F/img", 32),
        (&in_use_and_md5_idle, "mount.md md5 /j -o -P,-F/img", "mount.md -f md5 /j -o -P,-F/img", 32),
        (&foreign, "mount.md md /j -o ro,-F/img", "mount.md -f md /j -o ro,-F/img", 1),
    ];
    for (sys, line, dry_line, status) in cases {
        let dry = run_on(sys(), &argv(dry_line));
        let run = run_on(sys(), &argv(line));
        assert_eq!(run.status, status, "{line}: {}", run.stderr);
        assert_eq!((dry.status, dry.stderr.as_str()), (run.status, run.stderr.as_str()), "{line}");
        assert!(run.sys.calls.is_empty(), "{line}: {:?}", run.sys.calls);
    }
}
