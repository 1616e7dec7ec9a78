//! util-linux's helper argv (util-linux libmount/src/context_mount.c,
//! exec_helper()):
//! `mount.md spec dir [-sfnv] [-N namespace] [-o options] [-t type.subtype]`.
//!
//! Options may come after the operands, and every fstab option arrives in
//! one comma list, split as libmount splits it (a comma inside double
//! quotes does not separate). Items starting with `-` are mount_md options
//! (`-P`, `-F/img`, `-F=/img`, `-F="/a,b.img"`, `-s1g`, `-w0:0`,
//! `--fsck=never`); the rest are mount options. The mount_md items are
//! parsed by the very same getopt and switch as mount_md's own command
//! line, so every dialect yields the same [`Request`].
use super::flags::{self, Mode, HELPER_FLAGS};
use super::getopt::{self, getopt, Style};
use super::mdmfs;
use super::{info_request, split_option_list, unquote, CliError, Host};
use crate::flavor::Flavor;
use crate::request::Request;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

/// Parses `mount.md` arguments (argv without `argv[0]`).
pub fn parse(args: &[OsString], host: &dyn Host) -> Result<Request, CliError> {
    let (opts, operands) =
        getopt(args, &flags::spec_of(HELPER_FLAGS.iter()), &flags::longs_of(HELPER_FLAGS.iter()), Style::Permute)?;
    info_request(&opts)?;
    let (mut namespace, mut subtype) = (None, None);
    let mut items: Vec<&[u8]> = Vec::new();
    for opt in &opts {
        match opt.letter {
            'n' => {} // we never write /etc/mtab
            'N' => namespace = opt.arg.as_deref().map(PathBuf::from),
            'o' => items.extend(split_option_list(opt.arg.as_deref().unwrap_or_default().as_bytes())),
            't' => {
                // `-t md.ext4`: util-linux adds -t only for a subtype.
                let t = opt.arg.as_deref().and_then(|a| a.to_str()).unwrap_or_default();
                subtype = t.split_once('.').map(|(_, sub)| sub.to_string()).filter(|s| !s.is_empty());
            }
            'h' => return Err(CliError::Usage(None)),
            _ => {} // -f, -s, -v: read below; --help, --version: answered above
        }
    }
    let (dash_items, mount_options): (Vec<&[u8]>, Vec<&[u8]>) =
        items.into_iter().partition(|item| matches!(item, [b'-', _, ..]));
    let dash_words: Vec<OsString> =
        dash_items.into_iter().map(|item| OsString::from_vec(strip_equals(&unquote(item)))).collect();
    let (mut mdmfs_opts, stray) =
        getopt(&dash_words, &flags::spec(Mode::Mount), &flags::longs(Mode::Mount), Style::StopAtOperand)?;
    if let Some(word) = stray.first() {
        return Err(CliError::Fatal(format!("{}: not an mdmfs option", word.to_string_lossy())));
    }
    info_request(&mdmfs_opts)?;
    // Mount options go last, as util-linux orders VFS options before the rest.
    mdmfs_opts.extend(mount_options.into_iter().map(|o| getopt::Opt::short('o', Some(OsString::from_vec(o.to_vec())))));
    let mut req = mdmfs::interpret(Flavor::LinuxHelper, &mdmfs_opts, &operands, host)?;
    // The helper's own options, on top of what the -o list says.
    let given = |letter| opts.iter().any(|o| o.letter == letter);
    req.dry_run |= given('f');
    req.show_plan |= given('f') && given('v');
    req.debug |= given('v');
    req.sloppy = given('s');
    req.namespace = namespace;
    req.fstype = req.fstype.or(subtype);
    Ok(req)
}

/// `-F=/img` → `-F/img`: in fstab the `=` reads naturally, and util-linux
/// (unlike FreeBSD mount(8)) hands it over unsplit. Only for letters that
/// take an argument, so a path that merely contains `=` is left alone.
fn strip_equals(item: &[u8]) -> Vec<u8> {
    match item {
        [b'-', letter, b'=', rest @ ..] if getopt::lookup(&flags::spec(Mode::Mount), *letter) == Some(true) => {
            [&[b'-', *letter], rest].concat()
        }
        _ => item.to_vec(),
    }
}
