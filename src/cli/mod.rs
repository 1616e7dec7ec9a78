//! Command line → validated [`Request`](crate::request::Request), in two
//! stages (as ripgrep does): raw words are tokenised by a BSD getopt
//! ([`getopt`](mod@getopt)), then each dialect ([`mdmfs`] for mount_md/mdmfs/mount_mfs
//! and both FreeBSD mount(8)s, [`helper`] for util-linux's `mount.md`)
//! turns its tokens into the same option list, which [`mdmfs::interpret`]
//! validates into one request. Every option is declared once, in
//! [`flags::FLAGS`]. Nothing here touches the system except through
//! [`Host`] look-ups.
#![forbid(unsafe_code)]
pub mod complete;
pub mod flags;
pub mod getopt;
pub mod helper;
pub mod mdmfs;
pub mod modes;

use crate::flavor::Flavor;
use crate::request::Command;
use flags::Mode;
use getopt::{getopt, Style};
use std::ffi::OsString;

pub use crate::host::Host;

/// A command line that runs nothing. `Usage` and `Fatal` print
/// `<prog>: <message>` (`Usage` then the usage text) on standard error and
/// exit 1; `Help` and `Version` print on standard output and exit 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// What was wrong (`illegal option -- q`), then the usage; `None` only
    /// for `-h`, which asks for the usage.
    Usage(Option<String>),
    /// errx(1, …): one line.
    Fatal(String),
    /// `--help`.
    Help,
    /// `--version`.
    Version,
    /// `--completion=SHELL`: the script on standard output, exit 0.
    Completion(complete::Shell),
}

/// Parses a whole argv (`argv[0]` included) for the given flavor.
pub fn parse(flavor: Flavor, argv: &[OsString], host: &dyn Host) -> Result<Command, CliError> {
    let args = argv.get(1..).unwrap_or_default();
    match flavor {
        Flavor::LinuxHelper => helper::parse(args, host).and_then(mount_or_remount),
        _ => match select_mode(args)? {
            Mode::Mount => mdmfs::parse(flavor, args, host).and_then(mount_or_remount),
            Mode::Release => modes::parse_release(args).map(Command::Release),
            Mode::Grow => modes::parse_grow(args).map(Command::Grow),
            Mode::List => modes::parse_list(args).map(Command::List),
        },
    }
}

/// A mount request, or a remount when `-o` says `remount` (util-linux)
/// or `update` (FreeBSD mount(8)'s `-u`). A mount refuses options that
/// contradict each other: `--reformat` replaces a file system that `-P`
/// says to keep.
fn mount_or_remount(r: crate::request::Request) -> Result<Command, CliError> {
    if let Some(re) = crate::request::RemountRequest::from_request(&r) {
        return Ok(Command::Remount(Box::new(re)));
    }
    if r.reformat && !r.newfs && r.create.is_none() {
        return Err(CliError::Fatal("--reformat has no meaning with -P (-P keeps the image's file system)".into()));
    }
    Ok(Command::Mount(Box::new(r)))
}

/// Which mode argv (without `argv[0]`) asks for, by getopt's rules: `-u`,
/// `-r` and `--list` count only as option letters (never a `u` inside
/// `-F/usr/x.img`) and may come anywhere among the options.
///
/// A command line that reads as a whole under a mode's own grammar and
/// holds that mode's letter is that mode (`-u -f /j`: `-f` is force there,
/// not frag-size). Otherwise it is read with the mount grammar plus the
/// mode letters: one mode letter there means an option of the wrong mode
/// (`-u -P /j`), which is refused by name.
pub fn select_mode(args: &[OsString]) -> Result<Mode, CliError> {
    for mode in [Mode::Release, Mode::Grow, Mode::List] {
        let own = getopt(args, &flags::spec(mode), &flags::longs(mode), Style::StopAtOperand);
        if own.is_ok_and(|(opts, _)| opts.iter().any(|o| flags::selected_mode(o).is_some_and(|(m, _)| m == mode))) {
            return Ok(mode);
        }
    }
    let Ok((opts, _)) = getopt(args, &flags::union_spec(), &flags::longs_of(flags::FLAGS.iter()), Style::StopAtOperand)
    else {
        // The mount grammar gives the error (it is the union's subset).
        return Ok(Mode::Mount);
    };
    info_request(&opts)?;
    let selected: Vec<(Mode, &flags::Flag)> = opts.iter().filter_map(flags::selected_mode).collect();
    let Some(&(mode, flag)) = selected.first() else {
        // An option of another mode without that mode's option.
        for o in opts.iter().filter(|o| flags::lookup(Mode::Mount, o).is_none()) {
            if let Some(sel) = Mode::ALL.into_iter().find(|m| flags::lookup(*m, o).is_some()).and_then(flags::selector)
            {
                return Err(CliError::Usage(Some(format!("{} needs {}", o.name(), sel.name()))));
            }
        }
        return Ok(Mode::Mount);
    };
    if let Some((_, other)) = selected.iter().find(|(m, _)| *m != mode) {
        return Err(CliError::Usage(Some(format!("{} and {} cannot be combined", flag.name(), other.name()))));
    }
    let stray = opts.iter().find(|o| flags::lookup(mode, o).is_none()).map(getopt::Opt::name);
    Err(CliError::Usage(Some(match stray {
        Some(name) => format!("{name} cannot be used with {}", flag.name()),
        None => format!("{}: bad arguments", flag.name()),
    })))
}

/// The options and operands of `-u`, `-r` or `--list` (`mode`), read by
/// that mode's own grammar, after `--help`, `--version`, `--completion`
/// and `-h`.
fn mode_options(mode: Mode, args: &[OsString]) -> Result<(Vec<getopt::Opt>, Vec<OsString>), CliError> {
    let (opts, operands) = getopt(args, &flags::spec(mode), &flags::longs(mode), Style::StopAtOperand)?;
    info_request(&opts)?;
    if opts.iter().any(|o| o.letter == 'h') {
        return Err(CliError::Usage(None));
    }
    Ok((opts, operands))
}

/// The help/version options, wherever they are among the options.
pub(crate) fn info_request(opts: &[getopt::Opt]) -> Result<(), CliError> {
    for o in opts {
        match o.long {
            Some("help") => return Err(CliError::Help),
            Some("version") => return Err(CliError::Version),
            Some("completion") => {
                return Err(
                    complete::Shell::from_arg(o.arg.as_deref()).map_or_else(CliError::Fatal, CliError::Completion)
                )
            }
            _ => {}
        }
    }
    Ok(())
}

/// The usage line for an operand too many: an option after the operands
/// (BSD getopt stops at the first operand) says so.
pub(crate) fn extra_operand(word: &std::ffi::OsStr) -> CliError {
    let w = word.to_string_lossy();
    CliError::Usage(Some(if w.len() > 1 && w.starts_with('-') {
        format!("option {w} after the operands (options come first)")
    } else {
        format!("unexpected operand '{w}'")
    }))
}

/// Splits a comma-separated option list the way libmount does
/// (`mnt_optstr_next_option`): a comma inside double quotes does not
/// separate, so fstab can say `-F="/srv/a,b.img"` or
/// `context="system_u:object_r:tmp_t:s0:c127,c456"`. Empty items are
/// dropped; quotes are kept (see [`unquote`]).
pub fn split_option_list(list: &[u8]) -> Vec<&[u8]> {
    let mut items = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, &b) in list.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                items.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&list[start..]);
    items.retain(|i| !i.is_empty());
    items
}

/// Drops the double quotes of a mount_md option item from fstab
/// (`-F"/srv/a,b.img"` → `-F/srv/a,b.img`): in those items `"` only
/// quotes, as it does for libmount.
pub fn unquote(item: &[u8]) -> Vec<u8> {
    item.iter().copied().filter(|&b| b != b'"').collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A command line split at spaces (argv without `argv[0]`).
    pub(crate) fn words(s: &str) -> Vec<OsString> {
        s.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn modes_by_getopt_rules() {
        let m = |s: &str| select_mode(&words(s));
        assert_eq!(m("-fu /j"), Ok(Mode::Release));
        assert_eq!(m("-Xf -u md3"), Ok(Mode::Release));
        assert_eq!(m("--list -X"), Err(CliError::Usage(Some("-X cannot be used with --list".into()))));
        assert_eq!(m("--list --create"), Err(CliError::Usage(Some("--create cannot be used with --list".into()))));
        // a `u` after the operands is an operand (BSD getopt stops there)
        assert_eq!(m("-P -F /i md /j -u"), Ok(Mode::Mount));
        assert_eq!(m("-u -P --help /j"), Err(CliError::Help));
        assert_eq!(m("-F --help md /j"), Ok(Mode::Mount));
    }

    /// Quoted commas, and unquote, are tests/core/cli.rs's
    /// (double_quotes_keep_commas_in_fstab_values).
    #[test]
    fn option_lists_drop_empty_items() {
        assert_eq!(split_option_list(b",a,,b,"), [&b"a"[..], &b"b"[..]]);
    }
}
