//! Property tests for the parsers: they never panic, they agree with a
//! simple model, and every dialect of the same fstab line gives the same
//! request.
use crate::support::*;
use mount_md::device::{parse_device, DeviceArg, Unit};
use mount_md::mode::parse_mode;
use mount_md::request::Backing;
use mount_md::size::{parse_size, SizeError};
use proptest::prelude::*;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

fn shift_of(suffix: &str) -> Option<u32> {
    Some(match suffix {
        "" => return None,
        "b" | "B" => 0,
        "k" | "K" => 10,
        "m" | "M" => 20,
        "g" | "G" => 30,
        "t" | "T" => 40,
        "p" | "P" => 50,
        _ => unreachable!(),
    })
}

proptest! {
    #[test]
    fn size_matches_the_model(v in any::<u64>(), suffix in "(|b|B|k|K|m|M|g|G|t|T|p|P)", base in 0..3u8) {
        // strtoumax reads a `b` after 0x as a hex digit, as mdmfs does.
        prop_assume!(!(base == 1 && (suffix == "b" || suffix == "B")));
        let number = match base { 0 => v.to_string(), 1 => format!("0x{v:x}"), _ => format!("0{v:o}") };
        // "0x0" is hex zero; "00" octal zero: both still zero.
        let text = format!("{number}{suffix}");
        let want = match shift_of(&suffix) {
            None => v.checked_mul(512),
            Some(s) => v.checked_mul(1u64 << s),
        }.filter(|b| *b <= i64::MAX as u64);
        match want {
            Some(bytes) => prop_assert_eq!(parse_size(&text), Ok(bytes)),
            None => prop_assert_eq!(parse_size(&text), Err(SizeError::Invalid(text.clone()))),
        }
    }

    #[test]
    fn size_never_panics(s in ".{0,24}") {
        let _ = parse_size(&s);
    }

    #[test]
    fn octal_modes_round_trip(m in 0u32..=0o7777) {
        prop_assert_eq!(parse_mode(&format!("{m:o}"), 0o022), Some(m));
        prop_assert_eq!(parse_mode(&format!("0{m:o}"), 0o022), Some(m));
    }

    #[test]
    fn symbolic_modes_stay_in_range(s in "[ugoa]{0,3}[-+=][rwxXstugo]{0,4}(,[ugoa]{0,2}[-+=][rwx]{0,3}){0,2}", umask in 0u32..0o1000) {
        let m = parse_mode(&s, umask);
        prop_assert!(m.is_some(), "{} refused", s);
        prop_assert!(m.unwrap() <= 0o7777);
    }

    #[test]
    fn fixed_units(n in 0u32..=i32::MAX as u32, dev in any::<bool>(), suffix in "(|\\.uzip|s1a|p2)") {
        let arg = format!("{}md{n}{suffix}", if dev { "/dev/" } else { "" });
        prop_assert_eq!(parse_device(&arg), Ok(DeviceArg::Md { unit: Unit::Fixed(n), suffix: suffix.clone() }));
    }

    #[test]
    fn argv_never_panics(flavor in 0..3usize, words in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..12), 0..8)) {
        let name = ["mount_md", "mount_mfs", "mount.md"][flavor];
        let mut argv = vec![OsString::from(name)];
        argv.extend(words.into_iter().map(OsString::from_vec));
        let o = run_on(recorder(), &argv);
        prop_assert!([0, 1, 32].contains(&o.status));
        if o.status != 0 {
            prop_assert!(o.stderr.starts_with(&format!("{name}: ")) || o.stderr.starts_with("usage: "), "{}", o.stderr);
        }
    }

    /// One fstab line (`md <dir> md rw,-P,-F<img>[,-s<size>]`) through the
    /// three mount(8)s gives one request. Paths avoid what fstab cannot
    /// carry (commas, spaces) but may contain '='.
    #[test]
    fn dialects_agree(img in "/[a-z0-9_.=-]{1,12}(/[a-z0-9_.=]{1,8}){0,2}", dir in "/[a-z0-9_.]{1,12}", size in proptest::option::of("[1-9][0-9]{0,3}[kmg]")) {
        // After FreeBSD's split, a tail that starts with '-' reads as an
        // option: such paths cannot come through FreeBSD fstab (README).
        prop_assume!(!img.contains("=-"));
        let size_item = size.as_ref().map(|s| format!(",-s{s}")).unwrap_or_default();
        let fstab_opts = format!("rw,-P,-F{img}{size_item}");
        // FreeBSD 6.x: rw dropped, each -x item its own word, split at the first '='.
        let mut old = vec!["mount_md".to_string()];
        let mut modern = vec!["/usr/local/sbin/mount_md".to_string()];
        for item in fstab_opts.split(',') {
            if let Some(rest) = item.strip_prefix('-') {
                let words: Vec<String> = match rest.split_once('=') {
                    Some((a, b)) => vec![format!("-{a}"), b.to_string()],
                    None => vec![item.to_string()],
                };
                old.extend(words.clone());
                modern.extend(words);
            } else {
                modern.extend(["-o".to_string(), item.to_string()]);
            }
        }
        for v in [&mut old, &mut modern] {
            v.extend(["md".to_string(), dir.clone()]);
        }
        let linux = vec!["mount.md".to_string(), "md".into(), dir.clone(), "-o".into(), fstab_opts.clone()];
        let parse_words = |w: &Vec<String>| parse(&w.iter().map(OsString::from).collect::<Vec<_>>());
        let (a, b, c) = (parse_words(&old), parse_words(&modern), parse_words(&linux));
        let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
        prop_assert_eq!(&a.backing, &Backing::Vnode(img.clone().into()));
        for r in [&b, &c] {
            prop_assert_eq!(&r.backing, &a.backing);
            prop_assert_eq!(&r.size, &a.size);
            prop_assert_eq!(&r.device, &a.device);
            prop_assert_eq!(&r.mount_point, &a.mount_point);
            prop_assert_eq!(r.newfs, a.newfs);
            prop_assert_eq!(r.read_only(), a.read_only());
        }
    }
}
