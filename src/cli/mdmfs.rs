//! mdmfs's own grammar (FreeBSD's sbin/mdmfs/mdmfs.c, main()): how
//! mount_md, mdmfs and mount_mfs are called by hand, by FreeBSD 6.x
//! mount(8) and by modern mount(8) with `mountprog=`.
use super::flags::{self, Mode};
use super::getopt::{self, getopt, GetoptError, LongArg, Opt, Style};
use super::{info_request, split_option_list, CliError, Host};
use crate::crypt::{Encrypt, Kdf, Scheme};
use crate::device::{parse_device, DeviceArg};
use crate::flavor::Flavor;
use crate::mode::parse_mode;
use crate::owner::{parse_owner, OwnerError};
use crate::request::{Backing, CreateMode, FsckPolicy, ModeSetting, NewfsOpt, Request};
use crate::size::parse_size;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

impl From<GetoptError> for CliError {
    fn from(e: GetoptError) -> Self {
        CliError::Usage(Some(e.to_string()))
    }
}

/// Parses mdmfs-style arguments (argv without `argv[0]`).
pub fn parse(flavor: Flavor, args: &[OsString], host: &dyn Host) -> Result<Request, CliError> {
    let (spec, longs) = (flags::spec(Mode::Mount), flags::longs(Mode::Mount));
    let plain = getopt(args, &spec, &longs, Style::StopAtOperand);
    // More than two operands, or `--fsck` without its value: perhaps
    // FreeBSD mount(8) split an `-x=value` item in two.
    let (opts, operands) = match plain {
        Ok((_, ref operands)) if operands.len() <= 2 => plain?,
        _ => match rejoin_split_values(args) {
            repaired if repaired.len() != args.len() => getopt(&repaired, &spec, &longs, Style::StopAtOperand)?,
            _ => plain?,
        },
    };
    info_request(&opts)?;
    interpret(flavor, &opts, &operands, host)
}

/// Undoes FreeBSD mount(8)'s split of an fstab item `-F/a=b` into the two
/// words `-F/a` and `b` (FreeBSD's sbin/mount/mount.c, mangle(), splits
/// every `-x=value` item at its first `=`).
///
/// mount(8) always passes the md-device and mount point as the last two
/// words, so a non-option word that directly follows an option word whose
/// argument is attached (`-F/a`), and is not one of those last two, can only
/// be the tail of such a split: it is glued back with the `=` mount(8) ate.
/// Only tried when plain parsing leaves more than two operands, which mdmfs
/// would silently ignore.
pub fn rejoin_split_values(args: &[OsString]) -> Vec<OsString> {
    let (spec, longs) = (flags::spec(Mode::Mount), flags::longs(Mode::Mount));
    let last_options = args.len().saturating_sub(2);
    let mut out: Vec<OsString> = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        let word = args[i].as_bytes();
        out.push(args[i].clone());
        i += 1;
        if word == b"--" || word.len() < 2 || word[0] != b'-' {
            out.extend(args[i..].iter().cloned());
            break;
        }
        if word.starts_with(b"--") {
            // `--create=sparse` arrives as `--create` `sparse` too.
            let takes_value = longs.iter().any(|(n, k)| *k != LongArg::No && n.as_bytes() == &word[2..]);
            if takes_value && i < last_options && !args[i].as_bytes().starts_with(b"-") {
                glue(&mut out, &args[i]);
                i += 1;
            }
            continue;
        }
        // Walk the letters of this option word the way getopt does: the
        // first that takes an argument has it attached, or in the next word.
        let letter = word.iter().enumerate().skip(1).find(|&(_, &c)| getopt::lookup(&spec, c) == Some(true));
        let attached = letter.map(|(j, _)| j + 1 < word.len());
        if attached == Some(false) && i < args.len() {
            out.push(args[i].clone());
            i += 1;
        } else if attached == Some(true) {
            while i < last_options && !args[i].as_bytes().starts_with(b"-") {
                glue(&mut out, &args[i]);
                i += 1;
            }
        }
    }
    out
}

fn glue(out: &mut [OsString], tail: &OsStr) {
    if let Some(last) = out.last_mut() {
        last.push("=");
        last.push(tail);
    }
}

/// An option's argument as text, or the complaint that it is not UTF-8.
pub(crate) fn utf8(letter: char, arg: &OsStr) -> Result<&str, CliError> {
    arg.to_str()
        .ok_or_else(|| CliError::Fatal(format!("-{letter}: argument is not valid UTF-8: {}", arg.to_string_lossy())))
}

/// Turns ordered option occurrences and operands into a [`Request`],
/// following mdmfs's main() switch; the checks after the loop come in
/// mdmfs's order so the same bad command line gives the same message.
pub fn interpret(flavor: Flavor, opts: &[Opt], operands: &[OsString], host: &dyn Host) -> Result<Request, CliError> {
    let mut req = Request {
        device: DeviceArg::Md { unit: crate::device::Unit::Auto, suffix: String::new() },
        mount_point: PathBuf::new(),
        backing: Backing::Swap,
        size: None,
        size_note: None,
        newfs: true,
        newfs_options: Vec::new(),
        soft_updates: true,
        multilabel: false,
        mount_options: Vec::new(),
        fstype: None,
        // mount_mfs/mfs: 01777 unless -p says otherwise (current mdmfs).
        mode: (flavor == Flavor::Compat).then_some(ModeSetting { mode: 0o1777, explicit: false }),
        owner: None,
        skel: None,
        predetach: true,
        mdconfig_path: None,
        loud: false,
        dry_run: false,
        show_plan: false,
        debug: false,
        sloppy: false,
        namespace: None,
        create: None,
        from: None,
        fsck: FsckPolicy::Auto,
        reformat: false,
        direct_io: true,
        encrypt: None,
    };
    let mut have_type = false;
    let mut size_arg: Option<&str> = None;
    let mut clone_policy = None;
    let (mut scheme, mut key_file, mut kdf) = (None, None, None);
    for opt in opts {
        let arg = opt.arg.as_deref();
        let value = || arg.map(|a| utf8(opt.letter, a)).transpose();
        match opt.letter {
            'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'i' | 'm' | 'O' | 'v' | 'n' | 't' => {
                req.newfs_options.push(NewfsOpt { letter: opt.letter, value: value()?.map(str::to_string) })
            }
            'l' => {
                req.multilabel = true;
                req.newfs_options.push(NewfsOpt { letter: 'l', value: None });
            }
            'C' => {} // ignored, as in current mdmfs
            'D' => req.predetach = false,
            'E' => req.mdconfig_path = arg.map(PathBuf::from),
            'F' | 'M' => {
                if have_type {
                    return Err(CliError::Usage(Some("only one of -F file and -M may be given".into())));
                }
                have_type = true;
                req.backing = arg.map_or(Backing::Malloc, |path| Backing::Vnode(PathBuf::from(path)));
            }
            'h' => return Err(CliError::Usage(None)),
            'k' => req.skel = arg.map(PathBuf::from),
            'L' => req.loud = true,
            'N' => {
                req.dry_run = true;
                req.show_plan = true;
            }
            'o' => {
                let list = value()?.unwrap_or_default();
                req.mount_options.extend(
                    split_option_list(list.as_bytes()).into_iter().map(|i| String::from_utf8_lossy(i).into_owned()),
                );
            }
            'P' => req.newfs = false,
            'p' => {
                let text = value()?.unwrap_or_default();
                let mode = parse_mode(text, host.umask())
                    .ok_or_else(|| CliError::Usage(Some(format!("-p: invalid mode '{text}'"))))?;
                req.mode = Some(ModeSetting { mode, explicit: true });
            }
            'S' => req.soft_updates = false,
            'U' => req.soft_updates = true,
            's' => size_arg = value()?,
            'T' => req.fstype = value()?.map(str::to_string),
            'w' => {
                let text = value()?.unwrap_or_default();
                req.owner = Some(parse_owner(text, host).map_err(|e| match e {
                    OwnerError::Usage => CliError::Usage(Some(format!("-w: '{text}' is not user:group"))),
                    OwnerError::Invalid(m) => CliError::Fatal(m),
                })?)
            }
            'X' => req.debug = true,
            '-' => match opt.long {
                Some("create") => {
                    req.create = Some(match value()? {
                        None | Some("reserve") => CreateMode::Reserve,
                        Some("sparse") => CreateMode::Sparse,
                        Some(other) => {
                            return Err(CliError::Fatal(format!(
                                "--create: unknown mode '{other}' (use reserve or sparse)"
                            )))
                        }
                    })
                }
                Some("from") => {
                    let path = arg
                        .filter(|a| !a.is_empty())
                        .ok_or_else(|| CliError::Fatal("--from: no base image named".into()))?;
                    // Its clone policy and size are set once every option is read.
                    let path = PathBuf::from(path);
                    req.from = Some(crate::template::Base { path, clone: Default::default(), size: None });
                }
                Some("clone") => {
                    let clone = match value()? {
                        Some("auto") => crate::template::Policy::Auto,
                        Some("require") => crate::template::Policy::Require,
                        other => {
                            return Err(CliError::Fatal(format!(
                                "--clone: unknown policy '{}' (use auto or require)",
                                other.unwrap_or_default()
                            )))
                        }
                    };
                    clone_policy = Some(clone);
                }
                Some("fsck") => {
                    req.fsck = match value()? {
                        Some("auto") => FsckPolicy::Auto,
                        Some("always") => FsckPolicy::Always,
                        Some("never") => FsckPolicy::Never,
                        other => {
                            return Err(CliError::Fatal(format!(
                                "--fsck: unknown policy '{}' (use auto, always or never)",
                                other.unwrap_or_default()
                            )))
                        }
                    }
                }
                Some("reformat") => req.reformat = true,
                Some("no-direct-io") => req.direct_io = false,
                Some("encrypt") => scheme = Some(Scheme::parse(value()?.unwrap_or_default()).map_err(CliError::Fatal)?),
                Some("key-file") => key_file = value()?.map(PathBuf::from),
                Some("kdf") => kdf = Some(Kdf::parse(value()?.unwrap_or_default()).map_err(CliError::Fatal)?),
                Some("help" | "version") => {} // answered before interpret
                other => unreachable!("getopt returned --{other:?}, which is not in the flag table"),
            },
            other => unreachable!("getopt returned -{other}, which is not in the flag table"),
        }
    }
    // mdmfs ignores operands beyond two; we refuse them (README: deviations),
    // since they are always a mistake once mount(8)'s '=' split is repaired.
    // A remount names only the mount point (`mount_md -o remount,ro /j`).
    let remount = req.mount_options.iter().any(|o| crate::request::is_remount_word(o));
    let md = OsString::from("md");
    let operands: &[OsString] = match operands {
        [mount_point] if remount => &[md, mount_point.clone()],
        _ => operands,
    };
    let [device, mount_point] = operands else {
        return Err(match operands {
            [] => CliError::Usage(Some("missing md-device and mount-point".into())),
            [_] => CliError::Usage(Some("missing mount-point".into())),
            _ => super::extra_operand(&operands[2]),
        });
    };
    req.size = size_arg.map(parse_size).transpose().map_err(|e| CliError::Fatal(e.to_string()))?;
    let device =
        device.to_str().ok_or_else(|| CliError::Fatal(format!("bad device unit: {}", device.to_string_lossy())))?;
    req.device = parse_device(device).map_err(CliError::Fatal)?;
    // `auto` means tmpfs only when nothing asks for a disk (deviation: mdmfs
    // would silently drop -F or -M and mount a tmpfs).
    if req.device == DeviceArg::Auto && have_type {
        req.device = DeviceArg::Md { unit: crate::device::Unit::Auto, suffix: String::new() };
    }
    req.mount_point = PathBuf::from(mount_point);
    if !req.newfs && req.device != DeviceArg::Tmpfs && !matches!(req.backing, Backing::Vnode(_)) {
        return Err(CliError::Fatal("-P requires a vnode-backed disk".into()));
    }
    if let Some(base) = req.from.as_mut() {
        if req.create.is_none() || !matches!(req.backing, Backing::Vnode(_)) {
            return Err(CliError::Fatal("--from requires --create and -F file".into()));
        }
        // -s is the size the copy is grown to, not one to attach it with.
        base.size = req.size.take();
        base.clone = clone_policy.unwrap_or_default();
        // The copy holds its base's file system: nothing to format.
        req.newfs = false;
    } else if clone_policy.is_some() {
        return Err(CliError::Fatal("--clone requires --from".into()));
    }
    if req.create.is_some() && req.from.is_none() && (!matches!(req.backing, Backing::Vnode(_)) || req.size.is_none()) {
        return Err(CliError::Fatal("--create requires -F file and -s size".into()));
    }
    req.encrypt = encryption(scheme, key_file, kdf, &req)?;
    req.size_note = size_arg.filter(|_| req.create.is_some()).and_then(crate::size::sectors_note);
    Ok(req)
}

/// The crypt layer a request asks for, or why the options do not fit.
fn encryption(
    scheme: Option<Scheme>,
    key_file: Option<PathBuf>,
    kdf: Option<Kdf>,
    req: &Request,
) -> Result<Option<Encrypt>, CliError> {
    let Some(scheme) = scheme else {
        return match (&key_file, &kdf) {
            (Some(_), _) => Err(CliError::Fatal("--key-file requires --encrypt".into())),
            (_, Some(_)) => Err(CliError::Fatal("--kdf requires --encrypt".into())),
            _ => Ok(None),
        };
    };
    if !matches!(req.backing, Backing::Vnode(_)) {
        return Err(CliError::Fatal("--encrypt requires -F file".into()));
    }
    if kdf.is_some() && req.create.is_none() {
        return Err(CliError::Fatal("--kdf requires --create: it sets up a new header".into()));
    }
    if kdf.is_some() && scheme == Scheme::Geli {
        return Err(CliError::Fatal(
            "--kdf applies to --encrypt=luks2 only (geli with a key file derives no key)".into(),
        ));
    }
    Ok(Some(Encrypt { scheme, key_file, kdf }))
}
