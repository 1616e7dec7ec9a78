//! Lifecycle rules decided by the core, on the recording platform: one
//! image one attachment, `--create`, and `-u`.
use crate::support::*;
use mount_md::cli::CliError;
use mount_md::platform::fake::{mark_for, Call, Fake};
use mount_md::platform::Owner;
use mount_md::request::{Command, CreateMode, Target};
use nix::errno::Errno;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A fake where unit `unit` is backed by /img (ours, marked for /j), and,
/// if `mounted_at` says so, mounted there; `held`: open by someone.
fn leftover(unit: u32, mounted_at: Option<&str>, held: bool) -> Fake {
    leftover_of(Fake::new(), unit, mounted_at, held, mark_for(Path::new("/j")))
}

fn leftover_of(fake: Fake, unit: u32, mounted_at: Option<&str>, held: bool, owner: Owner) -> Fake {
    let fake = fake.with_unit(unit, Path::new("/img"), owner, held);
    match mounted_at {
        Some(at) => fake.with_mount(unit, at),
        None => fake,
    }
}

fn changes(f: &Fake) -> Vec<&Call> {
    f.calls
        .iter()
        .filter(|c| matches!(c, Call::Attach(_) | Call::Detach(_) | Call::Mount { .. } | Call::Format { .. }))
        .collect()
}

const SEED: &str = "mount_md -o rw -P -F/img md /j";

#[test]
fn already_mounted_here_is_success_and_changes_nothing() {
    let o = run_on(leftover(3, Some("/j"), false), &argv(SEED));
    assert_eq!((o.status, o.stderr.as_str()), (0, ""));
    assert!(changes(&o.fake).is_empty());
    // Whoever attached it: it is mounted where asked.
    let fake = leftover_of(Fake::new(), 3, Some("/j"), false, Owner::Foreign);
    let o = run_on(fake, &argv(&SEED.replace("-P", "-X -P")));
    assert!(o.stderr.contains("DEBUG: already mounted: /dev/md3 on /j\n"), "{}", o.stderr);
}

#[test]
fn attached_and_in_use_elsewhere_is_refused() {
    for fake in [leftover(2, Some("/elsewhere"), false), leftover(2, None, true)] {
        let o = run_on(fake, &argv(SEED));
        assert_eq!((o.status, o.stderr.as_str()), (1, "mount_md: /img: already attached as /dev/md2, and in use (mount_md --list shows it; mount_md -u /dev/md2 releases it)\n"));
        assert!(changes(&o.fake).is_empty());
    }
}

#[test]
fn an_idle_unit_another_tool_attached_is_refused_not_replaced() {
    let fake = leftover_of(Fake::new(), 4, None, false, Owner::Foreign);
    let o = run_on(fake, &argv(SEED));
    assert_eq!(
        (o.status, o.stderr.as_str()),
        (1, "mount_md: /img: /dev/md4 was not attached by mount_md; left alone (another tool attached it: when nothing uses it, mdconfig -d -u 4 detaches it)\n")
    );
    assert!(changes(&o.fake).is_empty());
    assert!(o.fake.attached.contains(&4));
}

#[test]
fn an_attach_is_marked_for_its_mount_point() {
    let o = run_line(SEED);
    assert_eq!(o.status, 0, "{}", o.stderr);
    assert_eq!(o.fake.units[&0].owner, mark_for(Path::new("/j")));
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
            assert!(o.fake.calls.is_empty(), "{line}");
        }
    }
    // tmpfs as the md-device is still a tmpfs.
    assert_eq!(run_line("mount_md -s 1m tmpfs /j").status, 0);
}

#[test]
fn an_unused_leftover_is_reused_or_replaced_never_doubled() {
    let mut fake = leftover(5, None, false);
    fake.reuse_ok = true;
    let o = run_on(fake, &argv(SEED));
    assert_eq!(o.status, 0, "{}", o.stderr);
    assert!(!o.fake.calls.iter().any(|c| matches!(c, Call::Attach(_))), "no second unit");
    assert!(o.fake.calls.contains(&Call::Mount {
        fstype: "ufs".into(),
        device: "/dev/md5".into(),
        mount_point: "/j".into(),
        options: vec!["rw".into()]
    }));
    assert_eq!(o.fake.attached.len(), 1);

    // Not reusable (say, another size): detached, then attached afresh.
    let fake = leftover(5, None, false);
    let o = run_on(fake, &argv(SEED));
    assert_eq!(o.status, 0);
    let seq: Vec<&Call> = changes(&o.fake);
    assert!(matches!(seq[..], [Call::Detach(5), Call::Attach(_), Call::Mount { .. }]), "{seq:?}");
    assert_eq!(o.fake.attached.len(), 1);

    // A reused unit was there before: a failure later leaves it attached.
    let mut fake = leftover_of(Fake::failing_at("mount", Errno::EINVAL), 5, None, false, mark_for(Path::new("/j")));
    fake.reuse_ok = true;
    let o = run_on(fake, &argv(SEED));
    assert_eq!(o.status, 1);
    assert_eq!(o.fake.attached.iter().copied().collect::<Vec<_>>(), vec![5]);
    assert!(o.fake.mounted.is_empty());
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

fn missing_image_fake() -> Fake {
    let mut fake = Fake::new();
    fake.images = Some(BTreeSet::new());
    fake
}

#[test]
fn create_makes_formats_and_on_failure_removes_the_image() {
    // -P --create on a missing image: created, formatted once, mounted.
    let o = run_on(missing_image_fake(), &argv("mount_md -P --create -s 64m -F/img md /j"));
    assert_eq!(o.status, 0, "{}", o.stderr);
    assert_eq!(o.fake.created, BTreeSet::from([PathBuf::from("/img")]));
    assert!(o.fake.calls.iter().any(|c| matches!(c, Call::Format { .. })));
    // Second boot: the image exists, -P keeps its file system.
    let mut fake = Fake::new();
    fake.images = Some(BTreeSet::from([PathBuf::from("/img")]));
    let o = run_on(fake, &argv("mount_md -P --create -s 64m -F/img md /j"));
    assert_eq!(o.status, 0);
    assert!(!o.fake.calls.iter().any(|c| matches!(c, Call::Format { .. })));
    assert!(o.fake.created.is_empty());
    // Any failure after creating removes the half-made image again.
    for step in ["attach", "wait", "format", "mount"] {
        let mut fake = missing_image_fake();
        fake.fail = Some((step, Errno::ENOSPC));
        let o = run_on(fake, &argv("mount_md -P --create -s 64m -F/img md /j"));
        assert_eq!(o.status, 1, "{step}");
        assert!(o.fake.is_clean(), "{step}");
        assert_eq!(o.fake.calls.last(), Some(&Call::RemoveImage("/img".into())), "{step}");
    }
    // Without --create a missing image is just an error.
    let o = run_on(missing_image_fake(), &argv("mount_md -P -F/img md /j"));
    assert_eq!((o.status, o.stderr.as_str()), (1, "mount_md: /img: No such file or directory\n"));
}

#[test]
fn release_command() {
    let cmd = parse_command(&argv("mount_md -u -f /var/jails/x")).unwrap();
    assert!(matches!(cmd, Command::Release(ref r) if r.force && r.target == Target::Path("/var/jails/x".into())));

    // mount, then -u on the mount point: unmounted and detached
    let o = run_line(SEED);
    assert_eq!(o.status, 0);
    let o = run_on(o.fake, &argv("mount_md -u -X /j"));
    assert_eq!(o.status, 0);
    assert!(o.fake.is_clean());
    assert_eq!(o.stderr, "DEBUG: unmounted /j\nDEBUG: detached /dev/md0\n");
    // again: nothing to do is success, said under -X only
    let o = run_on(o.fake, &argv("mount_md -u /j"));
    assert_eq!((o.status, o.stderr.as_str()), (0, ""));
    let o = run_on(o.fake, &argv("mount_md -u -X /j"));
    assert_eq!((o.status, o.stderr.as_str()), (0, "DEBUG: /j: not mounted, not attached: nothing to do\n"));
    // -N says what it would do
    let o = run_line("mount_md -uN md4");
    assert_eq!((o.status, o.stdout.as_str()), (0, "unit 4: not mounted, not attached: nothing to do\n"));
    assert!(o.fake.is_clean());
    // ... after the same look-ups as -u: each unmount and detach, nothing done
    let o = run_on(leftover(1, Some("/j"), false), &argv("mount_md -N -u /j"));
    assert_eq!(
        (o.status, o.stdout.as_str()),
        (0, "unmount /j (refused if it is busy; -f forces)\ndetach /dev/md1 (refused while it is open; -f forces)\n")
    );
    assert!(changes(&o.fake).is_empty() && !o.fake.calls.iter().any(|c| matches!(c, Call::Unmount(_))));
    // ... and refuses what -u refuses
    let o = run_on(leftover_of(Fake::new(), 1, Some("/j"), false, Owner::Foreign), &argv("mount_md -N -u /j"));
    assert_eq!(o.status, 1, "{}", o.stderr);
    assert!(o.stderr.contains("was not attached by mount_md"), "{}", o.stderr);
    // busy for a moment (a holder going away): retried, then done
    let mut fake = leftover(1, Some("/j"), false);
    fake.fail = Some(("unmount", Errno::EBUSY));
    let o = run_on(fake, &argv("mount_md -u /j"));
    assert_eq!((o.status, o.stderr.as_str()), (0, ""));
    assert_eq!(o.fake.calls.iter().filter(|c| **c == Call::Unmount("/j".into())).count(), 2);
    assert!(o.fake.is_clean());
    // busy for good: nothing detached, exit 1 after ten tries; -f forces
    let mut fake = leftover(1, Some("/j"), false);
    fake.fail = Some(("unmount", Errno::EBUSY));
    fake.fail_always = true;
    let o = run_on(fake, &argv("mount_md -u /j"));
    assert_eq!(
        (o.status, o.stderr.as_str()),
        (1, "mount_md: unmount of /j: in use, nothing detached (-f forces): Device or resource busy\n")
    );
    let mut want = vec![Call::Units];
    want.extend(std::iter::repeat_n(Call::Unmount("/j".into()), 10));
    assert_eq!(o.fake.calls, want);
    let mut fake = o.fake;
    fake.fail = None;
    let o = run_on(fake, &argv("mount_md -u -f /j"));
    assert_eq!(o.status, 0, "{}", o.stderr);
    assert!(o.fake.is_clean());
}

#[test]
fn release_touches_only_what_mount_md_attached() {
    // By mount point, image and unit: refused whole, nothing changed.
    for target in ["/j", "/img", "md6"] {
        let fake = leftover_of(Fake::new(), 6, Some("/j"), false, Owner::Foreign);
        let o = run_on(fake, &argv(&format!("mount_md -u {target}")));
        let shown = if target == "md6" { String::new() } else { format!("{target}: ") };
        assert_eq!(
            (o.status, o.stderr.as_str()),
            (1, format!("mount_md: {shown}/dev/md6 was not attached by mount_md; left alone (another tool attached it: when nothing uses it, mdconfig -d -u 6 detaches it)\n").as_str()),
            "{target}"
        );
        assert_eq!(o.fake.calls, [Call::Units], "{target}");
        assert_eq!(o.fake.mounted, [PathBuf::from("/j")]);
    }
    // An image backing one unit of ours and one of another tool's: neither.
    let fake = leftover_of(leftover(1, None, false), 2, None, false, Owner::Foreign);
    let o = run_on(fake, &argv("mount_md -u /img"));
    assert_eq!(o.status, 1);
    assert_eq!(o.fake.attached.len(), 2);
    // A mount that is not from a disk at all.
    let mut fake = Fake::new();
    fake.mounted.push("/t".into());
    let o = run_on(fake, &argv("mount_md -u /t"));
    assert_eq!((o.status, o.stderr.as_str()), (1, "mount_md: /t: mounted from tmpfs, not an md(4) disk\n"));
}

#[test]
fn release_of_an_unmounted_directory_finds_its_unit_by_the_mark() {
    // jail(8) unmounts, then runs exec.release with the directory.
    let o = run_on(leftover(3, None, false), &argv("mount_md -u -X /j"));
    assert_eq!((o.status, o.stderr.as_str()), (0, "DEBUG: detached /dev/md3\n"));
    assert!(o.fake.is_clean());
    // Only a mark that names it.
    for fake in [leftover(3, None, true), leftover(3, Some("/elsewhere"), false)] {
        let o = run_on(fake, &argv("mount_md -u /k"));
        assert_eq!((o.status, o.stderr.as_str()), (0, ""));
        assert_eq!(o.fake.attached.len(), 1);
    }
    // Held open: never "nothing to do"; refused, and -f forces it.
    let o = run_on(leftover(3, None, true), &argv("mount_md -u /j"));
    assert_eq!(
        (o.status, o.stderr.as_str()),
        (1, "mount_md: detach /dev/md3: still open (-f forces): Device or resource busy\n")
    );
    assert_eq!(o.fake.attached.len(), 1);
    let o = run_on(leftover(3, None, true), &argv("mount_md -u -f /j"));
    assert_eq!(o.status, 0, "{}", o.stderr);
    assert_eq!(o.stderr, "mount_md: /dev/md3: still in use; detached when its last user closes it\n");
    // Mounted somewhere else: it serves that mount; said, left alone.
    let o = run_on(leftover(3, Some("/elsewhere"), false), &argv("mount_md -u /j"));
    assert_eq!(
        (o.status, o.stderr.as_str()),
        (1, "mount_md: /j: /dev/md3 is mounted on /elsewhere; left alone (mount_md -u /elsewhere releases it there)\n")
    );
    assert_eq!((o.fake.attached.len(), o.fake.mounted.len()), (1, 1));
}

#[test]
fn what_cannot_be_checked_is_an_error() {
    for kind in ["units", "mounts"] {
        let mut fake = leftover(1, Some("/j"), false);
        fake.fail = Some((kind, Errno::EACCES));
        let o = run_on(fake, &argv("mount_md -u /j"));
        assert_eq!((o.status, o.stderr.as_str()), (1, format!("mount_md: {kind}: Permission denied\n").as_str()));
        assert_eq!(o.fake.mounted.len(), 1, "{kind}");
        // Mounting too: the check that the image is free is not skipped.
        let mut fake = leftover(1, None, false);
        fake.fail = Some((kind, Errno::EACCES));
        let o = run_on(fake, &argv(SEED));
        assert_eq!(o.status, 1, "{kind}");
        assert!(changes(&o.fake).is_empty(), "{kind}");
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
    let mut f = leftover(3, Some("/j"), false);
    for t in [path("/j"), path("/img"), Target::Unit(3)] {
        assert_eq!(unit_of(locate(&mut f, &t)), Ok((3, vec![PathBuf::from("/j")])), "{t:?}");
    }
    // Unmounted (jail(8) stop): the directory finds it by its mark.
    let mut f = leftover(3, None, false);
    assert_eq!(unit_of(locate(&mut f, &path("/j"))), Ok((3, vec![])));
    // An image nothing attached is grown offline.
    let mut f = Fake::new();
    f.images = Some(BTreeSet::from([PathBuf::from("/other.img")]));
    assert_eq!(locate(&mut f, &path("/other.img")), Ok(Located::Image("/other.img".into())));
    // Refusals, each with nothing changed.
    let mut f = leftover_of(Fake::new(), 3, Some("/j"), false, Owner::Foreign);
    assert_eq!(
        unit_of(locate(&mut f, &path("/j"))),
        Err("/dev/md3: not attached by mount_md (it carries no mount_md mark); nothing changed".into())
    );
    let mut f = Fake::new();
    assert_eq!(unit_of(locate(&mut f, &Target::Unit(4))), Err("/dev/md4: not attached".into()));
    assert_eq!(
        unit_of(locate(&mut f, &path("/nowhere"))),
        Err("/nowhere: not a mount point, an image file or a unit; nothing changed".into())
    );
    let mut f = leftover(3, None, false).with_unit(5, Path::new("/img"), mark_for(Path::new("/k")), false);
    assert_eq!(
        unit_of(locate(&mut f, &path("/img"))),
        Err("/img: attached as 2 units (/dev/md3, /dev/md5); nothing changed".into())
    );
    assert!(f.calls.iter().all(|c| matches!(c, Call::Units)), "{:?}", f.calls);
}

/// Long mount points: a cut mark carries the hash of the whole path, so
/// `-u DIR` on an unmounted directory takes only its own unit, not one of
/// a sibling with the same first bytes; cut marks without a hash (older
/// runs) that several units share make it choose none.
#[test]
fn cut_marks_name_one_directory() {
    use mount_md::mark::{decode, encode, Mark, LINUX_CAPACITY};
    let base = format!("/var/jails/{}", "x".repeat(60));
    let (j1, j2) = (format!("{base}/j1"), format!("{base}/j2"));
    let marked = |p: &str| Owner::Ours(decode(&encode(p.as_bytes(), LINUX_CAPACITY), LINUX_CAPACITY).unwrap());
    let fake = Fake::new().with_unit(1, Path::new("/a.img"), marked(&j1), false).with_unit(
        2,
        Path::new("/b.img"),
        marked(&j2),
        false,
    );
    let o = run_on(fake, &argv(&format!("mount_md -u -X {j1}")));
    assert_eq!((o.status, o.stderr.as_str()), (0, "DEBUG: detached /dev/md1\n"));
    assert_eq!(o.fake.attached.iter().copied().collect::<Vec<_>>(), [2]);
    // Old cut marks, no hash: both fit; neither is touched.
    let old = Owner::Ours(Mark { mount_point: base.as_bytes()[..40].to_vec(), truncated: true, hash: None });
    let fake =
        Fake::new().with_unit(1, Path::new("/a.img"), old.clone(), false).with_unit(2, Path::new("/b.img"), old, false);
    let o = run_on(fake, &argv(&format!("mount_md -u {j1}")));
    assert_eq!(o.status, 1);
    assert!(
        o.stderr
            .ends_with("the cut marks of /dev/md1, /dev/md2 all fit it; name the unit or the image; nothing done\n"),
        "{}",
        o.stderr
    );
    assert_eq!(o.fake.attached.len(), 2);
}

/// A disk is never mounted over a file system already mounted there: the
/// same memory-disk line run again (`mount -a` twice) finds its disk and
/// succeeds; anything else on the mount point is refused, nothing changed.
#[test]
fn no_disk_is_mounted_over_another_mount() {
    let o = run_line("mount_md -M -s 16m md /mnt");
    assert_eq!(o.status, 0, "{}", o.stderr);
    let o = run_on(o.fake, &argv("mount_md -X -M -s 16m md /mnt"));
    assert_eq!(o.status, 0, "{}", o.stderr);
    assert!(o.stderr.ends_with("DEBUG: already mounted: /dev/md0 on /mnt\n"), "{}", o.stderr);
    assert_eq!((o.fake.attached.len(), o.fake.mounted.len()), (1, 1));
    // A memory-disk line asking for another type is another line: refused.
    let o = run_on(o.fake, &argv("mount_md -M -s 16m -T xfs md /mnt"));
    assert_eq!(o.status, 1, "{}", o.stderr);
    assert!(o.stderr.ends_with("already a mount point (of /dev/md0); not mounting over it (unmount it first)\n"));
    // Someone else's mount there, or another image of ours: refused.
    for fake in [
        Fake::new().with_unit(4, Path::new("/other.img"), Owner::Foreign, false).with_mount(4, "/mnt"),
        leftover(3, Some("/mnt"), false),
    ] {
        let before = fake.calls.len();
        let o = run_on(fake, &argv("mount_md -P -F /new.img md /mnt"));
        assert_eq!(o.status, 1, "{}", o.stderr);
        let refused =
            |n: u32| format!("/mnt: already a mount point (of /dev/md{n}); not mounting over it (unmount it first)\n");
        assert!(o.stderr.ends_with(&refused(4)) || o.stderr.ends_with(&refused(3)), "{}", o.stderr);
        assert!(!o.fake.calls[before..].iter().any(|c| matches!(c, Call::Attach(_))), "{:?}", o.fake.calls);
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
        leftover(2, Some("/elsewhere"), false).with_unit(5, Path::new("/old"), mark_for(Path::new("/j")), false)
    };
    let foreign = || leftover_of(Fake::new(), 4, None, false, Owner::Foreign);
    let cases: [(&dyn Fn() -> Fake, &str, &str, i32); 5] = [
        (&in_use_and_md5_idle, "mount_md -P -F/img md5 /j", "mount_md -N -P -F/img md5 /j", 1),
        (&foreign, SEED, "mount_md -N -o rw -P -F/img md /j", 1),
        (&foreign, "mount.md md /j -o rw,-P,-F/img", "mount.md -f md /j -o rw,-P,-F/img", 32),
        (&in_use_and_md5_idle, "mount.md md5 /j -o -P,-F/img", "mount.md -f md5 /j -o -P,-F/img", 32),
        (&foreign, "mount.md md /j -o ro,-F/img", "mount.md -f md /j -o ro,-F/img", 1),
    ];
    for (fake, line, dry_line, status) in cases {
        let dry = run_on(fake(), &argv(dry_line));
        let run = run_on(fake(), &argv(line));
        assert_eq!(run.status, status, "{line}: {}", run.stderr);
        assert_eq!((dry.status, dry.stderr.as_str()), (run.status, run.stderr.as_str()), "{line}");
        let reads = |c: &Call| match c {
            Call::OpenImage(o) => o.create.is_none(),
            c => *c == Call::Units,
        };
        assert!(run.fake.calls.iter().all(reads), "{line}: {:?}", run.fake.calls);
    }
}
