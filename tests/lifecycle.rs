//! Lifecycle rules decided by the core, on the recording platform: one
//! image one attachment, `--create`, and `-u`.
mod core_support;
use core_support::*;
use mount_md::cli::CliError;
use mount_md::platform::fake::{Call, Fake};
use mount_md::platform::{Device, Existing};
use mount_md::request::{Command, CreateMode, ReleaseTarget};
use nix::errno::Errno;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn leftover(unit: u32, mounted_here: bool, in_use: bool) -> Existing {
    Existing { device: Device { unit, path: format!("/dev/md{unit}").into(), read_only: false }, mounted_here, in_use }
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
    let mut fake = Fake::new();
    fake.existing = vec![leftover(3, true, true)];
    let o = run_on(fake, &argv(SEED));
    assert_eq!((o.status, o.stderr.as_str()), (0, ""));
    assert!(changes(&o.fake).is_empty());
    let mut fake = Fake::new();
    fake.existing = vec![leftover(3, true, true)];
    let o = run_on(fake, &argv(&SEED.replace("-P", "-X -P")));
    assert!(o.stderr.contains("DEBUG: already mounted: /dev/md3 on /j\n"), "{}", o.stderr);
}

#[test]
fn attached_and_in_use_elsewhere_is_refused() {
    let mut fake = Fake::new();
    fake.existing = vec![leftover(2, false, true)];
    let o = run_on(fake, &argv(SEED));
    assert_eq!((o.status, o.stderr.as_str()), (1, "mount_md: /img: already attached as /dev/md2\n"));
    assert!(changes(&o.fake).is_empty());
}

#[test]
fn an_unused_leftover_is_reused_or_replaced_never_doubled() {
    let mut fake = Fake::new();
    fake.existing = vec![leftover(5, false, false)];
    fake.attached.insert(5);
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
    let mut fake = Fake::new();
    fake.existing = vec![leftover(5, false, false)];
    fake.attached.insert(5);
    let o = run_on(fake, &argv(SEED));
    assert_eq!(o.status, 0);
    let seq: Vec<&Call> = changes(&o.fake);
    assert!(matches!(seq[..], [Call::Detach(5), Call::Attach(_), Call::Mount { .. }]), "{seq:?}");
    assert_eq!(o.fake.attached.len(), 1);

    // A reused unit was there before: a failure later leaves it attached.
    let mut fake = Fake::failing_at("mount", Errno::EINVAL);
    fake.existing = vec![leftover(5, false, false)];
    fake.attached.insert(5);
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
    assert!(
        matches!(cmd, Command::Release(ref r) if r.force && r.target == ReleaseTarget::Path("/var/jails/x".into()))
    );

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
    assert_eq!((o.status, o.stdout.as_str()), (0, "unmount and detach unit 4\n"));
    assert!(o.fake.calls.is_empty());
    // busy: the platform's error, exit 1
    let o = run_on(Fake::failing_at("release", Errno::EBUSY), &argv("mount_md -u /j"));
    assert_eq!((o.status, o.stderr.as_str()), (1, "mount_md: release: Device or resource busy\n"));
}
