//! The command line, all dialects, without root.
mod core_support;
use core_support::*;
use mount_md::cli::CliError;
use mount_md::device::{DeviceArg, Unit};
use mount_md::flavor::Flavor;
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
    let flags: String = r.newfs_options.iter().map(|o| o.newfs_flag()).collect();
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
    assert_eq!(mode("0999"), Err(CliError::Usage(None)));
    assert_eq!(mode("q+r"), Err(CliError::Usage(None)));

    let owner = |w: &str| parse_line(&format!("mount_md -w {w} -F /img md /mnt")).map(|r| r.owner.unwrap());
    assert_eq!(owner("root:wheel"), Ok((0, 0)));
    assert_eq!(owner("1000:1000"), Ok((1000, 1000)));
    assert_eq!(owner("nosuchuser:wheel"), Err(CliError::Fatal("invalid user: nosuchuser".into())));
    assert_eq!(owner("root:nosuchgroup"), Err(CliError::Fatal("invalid group: nosuchgroup".into())));
    assert_eq!(owner("root"), Err(CliError::Usage(None)));
}

#[test]
fn compat_names_imply_01777_unless_p() {
    for name in ["mount_mfs", "mfs", "/sbin/mount_mfs"] {
        let r = parse_line(&format!("{name} -s 8m md /tmp/x")).unwrap();
        assert_eq!(r.flavor, Flavor::Compat);
        assert_eq!(r.mode, Some(ModeSetting { mode: 0o1777, explicit: false }));
        let r = parse_line(&format!("{name} -p 0700 -s 8m md /tmp/x")).unwrap();
        assert_eq!(r.mode, Some(ModeSetting { mode: 0o700, explicit: true }));
    }
    for name in ["mount_md", "mdmfs", "/usr/local/sbin/mount_md"] {
        let r = parse_line(&format!("{name} -s 8m md /tmp/x")).unwrap();
        assert_eq!(r.flavor, Flavor::Mdmfs);
        assert_eq!(r.mode, None);
    }
}

/// The seed's fstab line, `md /var/jails/10.0.0.1 md rw,-P,-F/jails/10.0.0.1/rootfs.volume`,
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
    // Only the spelling of the options and the flavor differ.
    let same = |a: &mount_md::request::Request, b: &mount_md::request::Request| {
        let mut b = b.clone();
        b.flavor = a.flavor;
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
    assert_eq!(parse_line("mount_md -P -F /img md /j extra"), Err(CliError::Usage(None)));
}

#[test]
fn linux_helper_argv() {
    let r = parse_line(
        "/sbin/mount.md md /srv/ct -s -f -n -v -N /proc/1/ns/mnt -o noatime,ro,-P,-F/i.img,-s1g,-w0:0,-p0700 -t md.xfs",
    )
    .unwrap();
    assert_eq!(r.flavor, Flavor::LinuxHelper);
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
    assert_eq!(parse_line("mount.md md -o -P,-F/i"), Err(CliError::Usage(None)));
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

/// Bad command lines: the exact message on stderr, usage where BSD prints
/// it, exit 1, and the platform never called.
#[test]
fn bad_input_messages_and_exit_status() {
    let usage_first = "usage: mount_md [-DLlMNnPStUX] [-a maxcontig] [-b block-size]\n";
    let cases: &[(&str, &str)] = &[
        ("mount_md -q md /mnt", "mount_md: illegal option -- q\n"),
        ("mount_md -s", "mount_md: option requires an argument -- s\n"),
        ("mount_md md", ""),
        ("mount_md", ""),
        ("mount_md -F /a -F /b md /mnt", ""),
        ("mount_md -F /a -M md /mnt", ""),
        ("mount_md -M -F /a md /mnt", ""),
        ("mount_md -p 8888 md /mnt", ""),
        ("mount_md -w root md /mnt", ""),
        ("mount_md -w :wheel md /mnt", ""),
        ("mount_md -h", ""),
        ("mount_md -F /img md /mnt extra", ""),
    ];
    for (line, first) in cases {
        let o = run_line(line);
        assert_eq!(o.status, 1, "{line}");
        assert_eq!(o.stderr, format!("{first}{}", &o.stderr[first.len()..]), "{line}");
        assert!(o.stderr[first.len()..].starts_with(usage_first), "{line}: {}", o.stderr);
        assert!(o.fake.calls.is_empty(), "{line}");
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
    ];
    for (line, msg) in fatal {
        let o = run_line(line);
        assert_eq!((o.status, o.stderr.as_str()), (1, *msg), "{line}");
        assert!(o.fake.calls.is_empty(), "{line}");
    }
}

#[test]
fn usage_texts_by_name() {
    let o = run_line("mount.md");
    assert_eq!(o.status, 1);
    assert!(o.stderr.starts_with("usage: mount.md md-device mount-point [-fnsv] [-N namespace] [-o options]"));
    let o = run_line("/sbin/mount_mfs -h");
    assert!(o.stderr.starts_with("usage: mount_mfs [-DLlMNnPStUX]"));
}
