//! The command line, all dialects, without root.
use crate::support::*;
use mount_md::cli::CliError;
use mount_md::device::{DeviceArg, Unit};
use mount_md::platform::freebsd::recording::Asked;
use mount_md::request::{Backing, ModeSetting, NewfsOpt};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

fn nf(letter: char, value: Option<&str>) -> NewfsOpt {
    NewfsOpt { letter, value: value.map(str::to_string) }
}

#[test]
fn every_newfs_letter_is_kept_in_order() {
    let r = parse_line("mount_md -a 4 -b 32768 -c 8 -d 16 -e 2048 -f 4096 -i 8192 -l -m 5 -n -O space -t -v 2 md /mnt")
        .unwrap();
    assert_eq!(
        r.newfs_options,
        vec![
            nf('a', Some("4")),
            nf('b', Some("32768")),
            nf('c', Some("8")),
            nf('d', Some("16")),
            nf('e', Some("2048")),
            nf('f', Some("4096")),
            nf('i', Some("8192")),
            nf('l', None),
            nf('m', Some("5")),
            nf('n', None),
            nf('O', Some("space")),
            nf('t', None),
            nf('v', Some("2")),
        ]
    );
    assert!(r.multilabel);
    // what newfs(8) sees: -O → -o, -v → -O
    let flags: String = r.newfs_options.iter().map(mount_md::platform::freebsd::requests::newfs_flag).collect();
    assert_eq!(flags, "abcdefilmnotO");
}

#[test]
fn every_other_letter() {
    let r = parse_line("mount_md -C -D -E /sbin/mdconfig -k /skel -L -N -o ro,noatime -o async -p 0750 -S -s 1g -T ext4 -w www:staff -X -F /img md3 /mnt").unwrap();
    assert!(!r.predetach);
    assert_eq!(r.mdconfig_path, Some(PathBuf::from("/sbin/mdconfig")));
    assert_eq!(r.skel, Some(PathBuf::from("/skel")));
    assert!(r.loud && r.dry_run && r.show_plan && r.debug);
    assert_eq!(r.mount_options, vec!["ro", "noatime", "async"]);
    assert!(r.read_only());
    assert_eq!(r.mode, Some(ModeSetting { mode: 0o750, explicit: true }));
    assert!(!r.soft_updates);
    assert_eq!(r.size, Some(1 << 30));
    assert_eq!(r.fstype.as_deref(), Some("ext4"));
    assert_eq!(r.owner, Some((80, 20)));
    assert_eq!(r.backing, Backing::Vnode("/img".into()));
    assert_eq!(r.device, DeviceArg::Md { unit: Unit::Fixed(3), suffix: String::new() });
    assert_eq!(r.mount_point, PathBuf::from("/mnt"));

    let r = parse_line("mount_md -M -P -U md /mnt");
    assert_eq!(r, Err(CliError::Fatal("-P requires a vnode-backed disk".into())));
    let r = parse_line("mount_md -M -s 64m md /mnt").unwrap();
    assert_eq!(r.backing, Backing::Malloc);
    assert!(r.newfs && r.soft_updates);
    assert_eq!(parse_line("mount_md -h md /mnt"), Err(CliError::Usage(None)));
}

#[test]
fn last_of_s_and_u_wins_even_inside_one_word() {
    assert!(!parse_line("mount_md -US md /mnt").unwrap().soft_updates);
    assert!(parse_line("mount_md -SU md /mnt").unwrap().soft_updates);
    assert!(!parse_line("mount_md -S -U -S md /mnt").unwrap().soft_updates);
}

#[test]
fn md_device_forms() {
    let dev = |d: &str| parse_line(&format!("mount_md -F /img {d} /mnt")).map(|r| r.device);
    let md = |unit, suffix: &str| Ok(DeviceArg::Md { unit, suffix: suffix.into() });
    assert_eq!(dev("md"), md(Unit::Auto, ""));
    assert_eq!(dev("/dev/md"), md(Unit::Auto, ""));
    assert_eq!(dev("md7"), md(Unit::Fixed(7), ""));
    assert_eq!(dev("/dev/md7"), md(Unit::Fixed(7), ""));
    assert_eq!(dev("md.uzip"), md(Unit::Auto, ".uzip"));
    assert_eq!(dev("md1.uzip"), md(Unit::Fixed(1), ".uzip"));
    // -F asks for a disk, so `auto` cannot mean tmpfs here
    assert_eq!(dev("auto"), md(Unit::Auto, ""));
    assert_eq!(parse_line("mount_md -s 1m auto /mnt").unwrap().device, DeviceArg::Auto);
    assert_eq!(parse_line("mount_md tmpfs /mnt").unwrap().device, DeviceArg::Tmpfs);
    assert_eq!(dev("foo"), Err(CliError::Fatal("bad device unit: foo".into())));
}

#[test]
fn sizes() {
    let size = |s: &str| parse_line(&format!("mount_md -s {s} -F /img md /mnt")).map(|r| r.size.unwrap());
    assert_eq!(size("2048"), Ok(2048 * 512));
    assert_eq!(size("0x800"), Ok(2048 * 512));
    assert_eq!(size("010k"), Ok(8 * 1024));
    assert_eq!(size("1b"), Ok(1));
    assert_eq!(size("1t"), Ok(1 << 40));
    assert_eq!(size("10mb"), Err(CliError::Fatal("invalid size '10mb'".into())));
    assert_eq!(size("10q"), Err(CliError::Fatal("invalid size suffix on '10q'".into())));
    assert_eq!(size("99999999999999999999"), Err(CliError::Fatal("invalid size '99999999999999999999'".into())));
    assert_eq!(size("9000000p"), Err(CliError::Fatal("invalid size '9000000p'".into())));
}

#[test]
fn modes_and_owners() {
    let mode = |p: &str| parse_line(&format!("mount_md -p {p} -F /img md /mnt")).map(|r| r.mode.unwrap().mode);
    assert_eq!(mode("1777"), Ok(0o1777));
    assert_eq!(mode("u=rwx,go=rx"), Ok(0o755));
    assert_eq!(mode("go-w,+t"), Ok(0o1755));
    assert_eq!(mode("0999"), Err(CliError::Usage(Some("-p: invalid mode '0999'".into()))));
    assert_eq!(mode("q+r"), Err(CliError::Usage(Some("-p: invalid mode 'q+r'".into()))));

    let owner = |w: &str| parse_line(&format!("mount_md -w {w} -F /img md /mnt")).map(|r| r.owner.unwrap());
    assert_eq!(owner("root:wheel"), Ok((0, 0)));
    assert_eq!(owner("1000:1000"), Ok((1000, 1000)));
    assert_eq!(owner("nosuchuser:wheel"), Err(CliError::Fatal("invalid user: nosuchuser".into())));
    assert_eq!(owner("root:nosuchgroup"), Err(CliError::Fatal("invalid group: nosuchgroup".into())));
    assert_eq!(owner("root"), Err(CliError::Usage(Some("-w: 'root' is not user:group".into()))));
}

#[test]
fn compat_names_imply_01777_unless_p() {
    for name in ["mount_mfs", "mfs", "/sbin/mount_mfs"] {
        let r = parse_line(&format!("{name} -s 8m md /tmp/x")).unwrap();
        assert_eq!(r.mode, Some(ModeSetting { mode: 0o1777, explicit: false }));
        let r = parse_line(&format!("{name} -p 0700 -s 8m md /tmp/x")).unwrap();
        assert_eq!(r.mode, Some(ModeSetting { mode: 0o700, explicit: true }));
    }
    for name in ["mount_md", "mdmfs", "/usr/local/sbin/mount_md"] {
        let r = parse_line(&format!("{name} -s 8m md /tmp/x")).unwrap();
        assert_eq!(r.mode, None);
    }
}

/// The 2006 article's fstab line, `md /var/jails/10.0.0.1 md rw,-P,-F/jails/10.0.0.1/rootfs.volume`,
/// as each mount(8) hands it over, must become one and the same request.
#[test]
fn three_dialects_one_request() {
    let img = "/jails/10.0.0.1/rootfs.volume";
    let freebsd6 = parse_line(&format!("mount_md -P -F{img} md /var/jails/10.0.0.1")).unwrap();
    let modern = parse_line(&format!("/usr/local/sbin/mount_md -o rw -P -F{img} md /var/jails/10.0.0.1")).unwrap();
    let linux = parse_line(&format!("/sbin/mount.md md /var/jails/10.0.0.1 -o rw,-P,-F{img}")).unwrap();
    let linux_eq = parse_line(&format!("/sbin/mount.md md /var/jails/10.0.0.1 -o rw,-P,-F={img}")).unwrap();
    for r in [&freebsd6, &modern, &linux, &linux_eq] {
        assert_eq!(r.backing, Backing::Vnode(img.into()));
        assert!(!r.newfs);
        assert_eq!(r.device, DeviceArg::Md { unit: Unit::Auto, suffix: String::new() });
        assert_eq!(r.mount_point, PathBuf::from("/var/jails/10.0.0.1"));
        assert!(!r.read_only());
    }
    // Only the spelling of the options differs.
    let same = |a: &mount_md::request::Request, b: &mount_md::request::Request| {
        let mut b = b.clone();
        b.mount_options = a.mount_options.clone();
        assert_eq!(*a, b);
    };
    same(&freebsd6, &modern);
    same(&freebsd6, &linux);
    assert_eq!(linux, linux_eq);
    assert_eq!(modern.mount_options, vec!["rw"]);
    assert_eq!(linux.mount_options, vec!["rw"]);
}

#[test]
fn freebsd_mount_splits_at_equals_and_we_rejoin() {
    // fstab `-F/images/a=b.img` reaches us as the two words `-F/images/a` `b.img`.
    let r = parse_line("mount_md -P -F/images/a b.img md /j").unwrap();
    assert_eq!(r.backing, Backing::Vnode("/images/a=b.img".into()));
    assert_eq!(r.device, DeviceArg::Md { unit: Unit::Auto, suffix: String::new() });
    assert_eq!(r.mount_point, PathBuf::from("/j"));
    // `-F=/img` arrives as `-F` `/img`: plain getopt already gets it right.
    let r = parse_line("mount_md -P -F /img md /j").unwrap();
    assert_eq!(r.backing, Backing::Vnode("/img".into()));
    // Two split items, second one with two '='.
    let r = parse_line("mount_md -o rw -P -F/i/a b -k/s/x y=z md /j").unwrap();
    assert_eq!(r.backing, Backing::Vnode("/i/a=b".into()));
    assert_eq!(r.skel, Some(PathBuf::from("/s/x=y=z")));
    // A genuine third operand is refused, not ignored.
    assert_eq!(
        parse_line("mount_md -P -F /img md /j extra"),
        Err(CliError::Usage(Some("unexpected operand 'extra'".into())))
    );
}

#[test]
fn linux_helper_argv() {
    let r = parse_line(
        "/sbin/mount.md md /srv/ct -s -f -n -v -N /proc/1/ns/mnt -o noatime,ro,-P,-F/i.img,-s1g,-w0:0,-p0700 -t md.xfs",
    )
    .unwrap();
    assert!(r.sloppy && r.dry_run && r.debug && r.show_plan);
    assert_eq!(r.namespace, Some(PathBuf::from("/proc/1/ns/mnt")));
    assert_eq!(r.mount_options, vec!["noatime", "ro"]);
    assert!(r.read_only());
    assert_eq!(r.backing, Backing::Vnode("/i.img".into()));
    assert_eq!(r.size, Some(1 << 30));
    assert_eq!(r.owner, Some((0, 0)));
    assert_eq!(r.mode, Some(ModeSetting { mode: 0o700, explicit: true }));
    assert_eq!(r.fstype.as_deref(), Some("xfs"));
    // -f alone is quiet; -T beats the -t subtype
    let r = parse_line("mount.md md /m -f -o -P,-F/i,-Text4 -t md.xfs").unwrap();
    assert!(r.dry_run && !r.show_plan);
    assert_eq!(r.fstype.as_deref(), Some("ext4"));
    // options before operands work too
    let r = parse_line("mount.md -o -P,-F/i md /m").unwrap();
    assert_eq!(r.mount_point, PathBuf::from("/m"));
    // a path with '=' inside survives -F=
    let r = parse_line("mount.md md /m -o -P,-F=/a=b.img").unwrap();
    assert_eq!(r.backing, Backing::Vnode("/a=b.img".into()));
}

#[test]
fn linux_helper_errors() {
    assert_eq!(parse_line("mount.md md /m -o -P,-q"), Err(CliError::Usage(Some("illegal option -- q".into()))));
    assert_eq!(parse_line("mount.md md /m -x"), Err(CliError::Usage(Some("illegal option -- x".into()))));
    assert_eq!(parse_line("mount.md md /m -o"), Err(CliError::Usage(Some("option requires an argument -- o".into()))));
    assert_eq!(parse_line("mount.md md -o -P,-F/i"), Err(CliError::Usage(Some("missing mount-point".into()))));
    assert_eq!(
        parse_line("mount.md md /m -o -s"),
        Err(CliError::Usage(Some("option requires an argument -- s".into())))
    );
    assert_eq!(parse_line("mount.md md /m -o -P"), Err(CliError::Fatal("-P requires a vnode-backed disk".into())));
}

#[test]
fn non_utf8_paths_are_kept_byte_for_byte() {
    let mut words = argv("mount_md -P");
    words.push(OsString::from_vec(b"-F/img/\xe9t\xe9.img".to_vec()));
    words.push("md".into());
    words.push(OsString::from_vec(b"/mnt/\xff".to_vec()));
    let r = parse(&words).unwrap();
    assert_eq!(r.backing, Backing::Vnode(PathBuf::from(OsString::from_vec(b"/img/\xe9t\xe9.img".to_vec()))));
    assert_eq!(r.mount_point, PathBuf::from(OsString::from_vec(b"/mnt/\xff".to_vec())));
    // ...but a size must be text
    let mut words = argv("mount_md -s");
    words.push(OsString::from_vec(b"1\xffm".to_vec()));
    words.extend(argv("md /mnt"));
    assert_eq!(parse(&words), Err(CliError::Fatal("-s: argument is not valid UTF-8: 1\u{fffd}m".into())));
}

/// Bad command lines: one line saying what was wrong, then the usage
/// (usage errors) or nothing more (fatal), exit 1, the platform never
/// called.
#[test]
fn bad_input_messages_and_exit_status() {
    let usage_first = "usage: mount_md [-CDLlMNnPStUX] [-a maxcontig] [-b block-size]\n";
    let cases: &[(&str, &str)] = &[
        ("mount_md -q md /mnt", "mount_md: illegal option -- q\n"),
        ("mount_md -s", "mount_md: option requires an argument -- s\n"),
        ("mount_md md", "mount_md: missing mount-point\n"),
        ("mount_md", "mount_md: missing md-device and mount-point\n"),
        ("mount_md -F /a -F /b md /mnt", "mount_md: only one of -F file and -M may be given\n"),
        ("mount_md -F /a -M md /mnt", "mount_md: only one of -F file and -M may be given\n"),
        ("mount_md -M -F /a md /mnt", "mount_md: only one of -F file and -M may be given\n"),
        ("mount_md -p 8888 md /mnt", "mount_md: -p: invalid mode '8888'\n"),
        ("mount_md -w root md /mnt", "mount_md: -w: 'root' is not user:group\n"),
        ("mount_md -w :wheel md /mnt", "mount_md: -w: ':wheel' is not user:group\n"),
        ("mount_md -h", ""),
        ("mount_md -F /img md /mnt extra", "mount_md: unexpected operand 'extra'\n"),
        ("mount_md -F /img md /mnt -P", "mount_md: option -P after the operands (options come first)\n"),
        ("mount_md -u", "mount_md: -u: missing target (a mount point, an image or a unit)\n"),
        ("mount_md -u /a /b", "mount_md: unexpected operand '/b'\n"),
        ("mount_md -u -P /j", "mount_md: -P cannot be used with -u\n"),
        ("mount_md -s 1g -r", "mount_md: -r: missing target (a mount point, an image or a unit)\n"),
        ("mount_md -r -u /j", "mount_md: -r and -u cannot be combined\n"),
        ("mount_md --list /j", "mount_md: unexpected operand '/j'\n"),
        ("mount_md --json md /j", "mount_md: --json needs --list\n"),
    ];
    for (line, first) in cases {
        let o = run_line(line);
        assert_eq!(o.status, 1, "{line}");
        assert!(o.stderr.starts_with(first), "{line}: {}", o.stderr);
        assert!(o.stderr[first.len()..].starts_with(usage_first), "{line}: {}", o.stderr);
        assert!(o.stdout.is_empty(), "{line}");
        assert!(o.untouched(), "{line}");
    }
    let fatal: &[(&str, &str)] = &[
        ("mount_md -s 10mb md /mnt", "mount_md: invalid size '10mb'\n"),
        ("mount_md -s 1x md /mnt", "mount_md: invalid size suffix on '1x'\n"),
        ("mount_md -s 18446744073709551616 md /mnt", "mount_md: invalid size '18446744073709551616'\n"),
        ("mount_md -s -5 md /mnt", "mount_md: invalid size '-5'\n"),
        ("mount_md -P md /mnt", "mount_md: -P requires a vnode-backed disk\n"),
        ("mount_md -P -M -s 8m md /mnt", "mount_md: -P requires a vnode-backed disk\n"),
        ("mount_md -w nosuchuser:wheel md /mnt", "mount_md: invalid user: nosuchuser\n"),
        ("mount_md -w root:nosuchgroup md /mnt", "mount_md: invalid group: nosuchgroup\n"),
        ("mount_md -F /img foo /mnt", "mount_md: bad device unit: foo\n"),
        ("mount_md -F /img md99999999999 /mnt", "mount_md: bad device unit: 99999999999\n"),
        ("mdmfs -s 1q md /mnt", "mdmfs: invalid size suffix on '1q'\n"),
        ("mount.md md /m -o -P", "mount.md: -P requires a vnode-backed disk\n"),
        ("mount_md -r -s 1q /j", "mount_md: invalid size suffix on '1q'\n"),
    ];
    for (line, msg) in fatal {
        let o = run_line(line);
        assert_eq!((o.status, o.stderr.as_str()), (1, *msg), "{line}");
        assert!(o.untouched(), "{line}");
    }
}

#[test]
fn usage_texts_by_name() {
    let o = run_line("mount.md");
    assert_eq!(o.status, 1);
    assert!(o.stderr.starts_with("mount.md: missing md-device and mount-point\nusage: mount.md md-device mount-point [-fnsv] [-N namespace] [-o options]"), "{}", o.stderr);
    let o = run_line("/sbin/mount_mfs -h");
    assert!(o.stderr.starts_with("usage: mount_mfs [-CDLlMNnPStUX]"));
    // The usage lists every mode.
    for mode in [
        "mount_mfs -u [-fNX] mount-point|image|unit",
        "mount_mfs -r -s size [-NX]",
        "mount_mfs --list [--json] [--all] [--bytes]",
        "mount_mfs --help | --version",
        "[--create[=reserve|sparse]]",
    ] {
        assert!(o.stderr.contains(mode), "{mode} missing from\n{}", o.stderr);
    }
}

/// A `u` anywhere inside an option's argument is not `-u` (the first word
/// of a FreeBSD 6.x mount(8) call is often `-F/usr/...`).
#[test]
fn u_inside_an_argument_is_not_the_u_option() {
    let r = parse_line("mount_md -F/usr/jails/x.img -P md /j").unwrap();
    assert_eq!(r.backing, Backing::Vnode("/usr/jails/x.img".into()));
    let r = parse_line("mount_md -k/usr/share/skel -F /i md /j").unwrap();
    assert_eq!(r.skel, Some(PathBuf::from("/usr/share/skel")));
    let r = parse_line("mount_md -F/usr/jails/j.img -P -o rw md /j").unwrap();
    assert!(!r.newfs);
    let r = parse_line("mount_md -ourw -F /i md /j").unwrap();
    assert_eq!(r.mount_options, vec!["urw"]);
}

/// Mode options anywhere among the options.
#[test]
fn modes_anywhere_among_the_options() {
    use mount_md::request::{Command, GrowRequest, ListRequest, ReleaseRequest, Target};
    let release =
        |target: Target, force, dry_run, debug| Ok(Command::Release(ReleaseRequest { target, force, dry_run, debug }));
    let path = |p: &str| Target::Path(p.into());
    assert_eq!(parse_command(&argv("mount_md -X -u /j")), release(path("/j"), false, false, true));
    assert_eq!(parse_command(&argv("mount_md -N -u /")), release(path("/"), false, true, false));
    assert_eq!(parse_command(&argv("mount_md -f -X -u md3")), release(Target::Unit(3), true, false, true));
    assert_eq!(parse_command(&argv("mount_md -uf /j")), release(path("/j"), true, false, false));
    assert_eq!(
        parse_command(&argv("mount_md -N -s 2g -r /j")),
        Ok(Command::Grow(GrowRequest {
            target: path("/j"),
            size: 2 << 30,
            size_note: None,
            dry_run: true,
            debug: false
        }))
    );
    assert_eq!(
        parse_command(&argv("mount_md --json --list")),
        Ok(Command::List(ListRequest { json: true, all: false, bytes: false }))
    );
}

#[test]
fn help_and_version_on_stdout_exit_0() {
    for line in
        ["mount_md --help", "mount_md -u --help", "mount_md -P --help", "mount.md --help", "mount_md --list --help"]
    {
        let o = run_line(line);
        assert_eq!(o.status, 0, "{line}");
        assert!(o.stderr.is_empty(), "{line}: {}", o.stderr);
        assert!(o.stdout.starts_with("usage: "), "{line}: {}", o.stdout);
        assert!(o.stdout.contains("--version"), "{line}");
        assert!(o.untouched(), "{line}");
    }
    let o = run_line("mount_md --help");
    for needle in ["-u [-fNX]", "--list", "-r -s size", "--create", "-F file", "back the disk with this image file"] {
        assert!(o.stdout.contains(needle), "{needle}");
    }
    for line in ["mount_md --version", "mdmfs -X --version", "mount.md --version", "mount.md md /m -o --version"] {
        let o = run_line(line);
        let prog = line.split(' ').next().unwrap();
        assert_eq!(
            (o.status, o.stdout.clone()),
            (0, format!("{prog} (mount_md) {}\n", env!("CARGO_PKG_VERSION"))),
            "{line}"
        );
        assert!(o.stderr.is_empty());
    }
}

/// The agreed options other branches implement: parsed here, from the
/// command line and from a Linux fstab's -o list alike.
#[test]
fn fsck_reformat_and_direct_io() {
    use mount_md::request::FsckPolicy;
    let r = parse_line("mount_md -F /i md /j").unwrap();
    assert_eq!((r.fsck, r.reformat, r.direct_io), (FsckPolicy::Auto, false, true));
    let r = parse_line("mount_md --fsck=always --reformat --no-direct-io -F /i md /j").unwrap();
    assert_eq!((r.fsck, r.reformat, r.direct_io), (FsckPolicy::Always, true, false));
    let r = parse_line("mount.md md /j -o rw,-P,-F/img,--fsck=never,--no-direct-io").unwrap();
    assert_eq!((r.fsck, r.direct_io, r.mount_options.clone()), (FsckPolicy::Never, false, vec!["rw".to_string()]));
    let r = parse_line("mount.md md /j -o rw,-F/img,--reformat,--fsck=auto").unwrap();
    assert_eq!((r.fsck, r.reformat), (FsckPolicy::Auto, true));
    // FreeBSD mount(8) splits `--fsck=never` into two words
    let r = parse_line("mount_md -o rw -P -F/img --fsck never md /j").unwrap();
    assert_eq!(r.fsck, FsckPolicy::Never);
    assert_eq!(
        parse_line("mount_md --fsck -F /i md /j"),
        Err(CliError::Usage(Some("option '--fsck' requires an argument".into())))
    );
    assert_eq!(
        parse_line("mount_md --fsck=maybe -F /i md /j"),
        Err(CliError::Fatal("--fsck: unknown policy 'maybe' (use auto, always or never)".into()))
    );
    assert_eq!(
        parse_line("mount_md --reformat=yes -F /i md /j"),
        Err(CliError::Usage(Some("option '--reformat' doesn't allow an argument".into())))
    );
}

/// libmount keeps a double-quoted value whole: `-F="/srv/a,b.img"` in
/// fstab reaches the helper inside `-o rw,-P,-F="/srv/a,b.img"`.
#[test]
fn double_quotes_keep_commas_in_fstab_values() {
    let r = parse_line("mount.md md /j -o rw,-P,-F=\"/srv/a,b.img\",noatime").unwrap();
    assert_eq!(r.backing, Backing::Vnode("/srv/a,b.img".into()));
    assert_eq!(r.mount_options, vec!["rw", "noatime"]);
    let r = parse_line("mount.md md /j -o -P,-F\"/srv/x,y/a,b.img\",-k\"/s,k\"").unwrap();
    assert_eq!(r.backing, Backing::Vnode("/srv/x,y/a,b.img".into()));
    assert_eq!(r.skel, Some(PathBuf::from("/s,k")));
    // mount options keep their quotes (the kernel reads them: SELinux context=)
    let r = parse_line("mount_md -P -o rw,context=\"u:r:t:s0:c1,c2\" -F /i md /j").unwrap();
    assert_eq!(r.mount_options, vec!["rw", "context=\"u:r:t:s0:c1,c2\""]);
    let r = parse_line("mount.md md /j -o -P,-F/i,context=\"a,b\"").unwrap();
    assert_eq!(r.mount_options, vec!["context=\"a,b\""]);
}

/// Grow and list are driven by the core over the platform's units: a
/// target that names nothing is refused, and a platform with no units
/// lists none; nothing is touched.
#[test]
fn grow_and_list_go_through_the_units() {
    // (The core's refusal of a directory that names nothing: linux_double's
    // `a_target_that_names_nothing_is_not_grown`; FreeBSD takes a path no
    // mark names for an image, here a missing one.)
    let o = run_line("mount_md -r -s 2g /j");
    assert_eq!((o.status, o.stderr.as_str()), (1, "mount_md: /j: No such file or directory\n"));
    let o = run_line("mount_md --list --json");
    assert_eq!((o.status, o.stdout.as_str(), o.stderr.as_str()), (0, "{\"mount_md\": []}\n", ""));
    for o in [run_line("mount_md -r -s 2g /j"), run_line("mount_md --list")] {
        assert!(o.sys.calls.is_empty(), "{:?}", o.sys.calls);
        let looks = |a: &Asked| matches!(a, Asked::ListUnits | Asked::Geli | Asked::Mounts | Asked::OpenImage(_));
        assert!(o.sys.asked.iter().all(looks), "{:?}", o.sys.asked);
    }
}

/// `--reformat` with `-P` asks for two opposite things: refused, exit 1,
/// nothing touched. The other new options are accepted.
#[test]
fn reformat_with_p_is_refused() {
    let o = run_line("mount.md md /j -o -P,-F/i,--reformat");
    let msg = "mount.md: --reformat has no meaning with -P (-P keeps the image's file system)\n";
    assert_eq!((o.status, o.stderr.as_str()), (1, msg));
    assert!(o.untouched());
    for line in ["mount_md --fsck=never -P -F /i md /j", "mount_md --reformat --no-direct-io -F /i md /j"] {
        assert_eq!(run_line(line).status, 0, "{line}");
    }
}

/// `-N`: conditional steps say so.
#[test]
fn dry_run_marks_conditional_steps() {
    let o = run_on(
        mount_md::platform::freebsd::recording::Recorder::new(),
        &argv("mount_md -N -P --create -s 64m -F /img md /j"),
    );
    assert_eq!(o.status, 0, "{}", o.stderr);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert!(lines[0].contains(", creating it if it does not exist ("), "{}", o.stdout);
    let format = lines.iter().find(|l| l.contains("format")).expect("a format line");
    assert!(format.ends_with(" (only if this run created the image)"), "{}", o.stdout);
    assert!(o.sys.calls.is_empty(), "{:?}", o.sys.calls);
}

/// What the platform's check notes is said once: in a dry run by run.rs,
/// in a real run by the executor (which checks again), never twice.
#[test]
fn check_notes_are_said_once() {
    use mount_md::platform::freebsd::recording::Recorder;
    use mount_md::platform::freebsd::FreeBsd;
    let img = "/jails/j/rootfs.volume";
    for line in [
        format!("mount_md -X -E /sbin/mdconfig -P -F {img} md /m"),
        format!("mount_md -N -X -E /sbin/mdconfig -P -F {img} md /m"),
    ] {
        let mut fb = FreeBsd::with_sys(Recorder::new().with_file(img, img, 1 << 30));
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let status = mount_md::run::run(&argv(&line), &mut fb, &TestHost, &mut out, &mut err);
        let err = String::from_utf8_lossy(&err);
        assert_eq!(status, 0, "{line}: {err}");
        assert_eq!(err.matches("DEBUG: -E /sbin/mdconfig: ignored").count(), 1, "{line}: {err}");
    }
}

/// `-k` with `-o ro` is refused before anything runs: the copy could only
/// fail against a read-only mount (and blame the skeleton).
#[test]
fn skeleton_into_a_read_only_mount_is_refused() {
    let o = run_line("mount_md -P -o ro -k /skel -F /img md /mnt");
    assert_eq!(
        (o.status, o.stderr.as_str()),
        (1, "mount_md: -k with -o ro: the skeleton cannot be copied into a read-only mount\n")
    );
    assert!(o.untouched());
}

/// `--create --from=BASE [--clone=…]`: from the command line, from
/// util-linux's one comma list, and as FreeBSD's mount(8) splits
/// `--from=/b` into two words; `--from` implies -P; misuse is a usage
/// error saying what was wrong.
#[test]
fn from_a_base() {
    use mount_md::template::{Base, Policy};
    let base = |p: Policy| Some(Base { path: "/images/base.img".into(), clone: p, size: None });
    for line in [
        "mount_md --create --from=/images/base.img -F /images/j1.img md /j1",
        "mount_md --create --from /images/base.img -F /images/j1.img md /j1",
        "mount_md -o rw --create --from /images/base.img -F/images/j1.img md /j1",
        "mount.md md /j1 -o rw,--create,--from=/images/base.img,-F/images/j1.img",
    ] {
        let r = parse_line(line).unwrap_or_else(|e| panic!("{line}: {e:?}"));
        assert_eq!(r.from, base(Policy::Auto), "{line}");
        assert!(!r.newfs, "{line}: -P implied");
    }
    let r = parse_line("mount_md --create --from=/images/base.img --clone=require -F /j.img md /j1").unwrap();
    assert_eq!(r.from, base(Policy::Require));
    let fatal = |line: &str| match parse_line(line) {
        Err(CliError::Fatal(m)) => m,
        other => panic!("{line}: {other:?}"),
    };
    assert_eq!(fatal("mount_md --from=/b -F /j.img md /j1"), "--from requires --create and -F file");
    assert_eq!(fatal("mount_md --create --from=/b -s 1g md /j1"), "--from requires --create and -F file");
    // -s with --from: the size the new image is grown to, not a size to
    // attach it with.
    let r = parse_line("mount_md --create --from=/images/base.img -s 1g -F /j.img md /j1").unwrap();
    assert_eq!(r.from, Some(Base { path: "/images/base.img".into(), clone: Policy::Auto, size: Some(1 << 30) }));
    assert_eq!(r.size, None);
    assert_eq!(fatal("mount_md --create --clone=require -s 1g -F /j.img md /j1"), "--clone requires --from");
    assert_eq!(
        fatal("mount_md --create --from=/b --clone=maybe -F /j.img md /j1"),
        "--clone: unknown policy 'maybe' (use auto or require)"
    );
    assert_eq!(fatal("mount_md --create --from= -F /j.img md /j1"), "--from: no base image named");
}

/// `-o remount,…` (util-linux) and `-o update,…` (FreeBSD mount(8) -u)
/// make a remount request: mount_md with the mount point alone or with
/// both operands, mount.md as util-linux calls it (fstab options first).
#[test]
fn remount_requests() {
    use mount_md::request::Command;
    use mount_md::request::RemountRequest;
    let remount = |line: &str| match parse_command(&argv(line)) {
        Ok(Command::Remount(r)) => *r,
        other => panic!("{line}: {other:?}"),
    };
    let r = remount("mount_md -o remount,ro /j");
    assert_eq!((r.mount_point.as_path(), r.options.as_slice()), (std::path::Path::new("/j"), &["ro".to_string()][..]));
    assert_eq!((r.image, r.size, r.dry_run), (None, None, false));
    let r = remount("mount_md -N -o update,ro -P -F /img md /j");
    assert!(r.dry_run && r.show_plan);
    assert_eq!(r.image, Some(PathBuf::from("/img")));
    let r: RemountRequest = remount("/sbin/mount.md md /var/jails/j1 -o rw,noatime,-P,-F/i.img,-s1g,remount,ro");
    assert_eq!(r.options, ["rw", "noatime", "ro"]);
    assert_eq!((r.size, r.image.as_deref()), (Some(1 << 30), Some(std::path::Path::new("/i.img"))));
    assert!(r.read_only(false));
    assert!(parse_command(&argv("mount_md -o ro /j")).is_err(), "one operand without remount");
}
