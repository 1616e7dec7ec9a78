//! `mount_md -u [-fNX] target`: unmount and detach (not in mdmfs).
//! `target` is a mount point, an image file, or a unit (`md3`, `/dev/md3`,
//! `loop3`, `/dev/loop3`); `-f` forces, `-N` says what it would do, `-X`
//! explains.
use super::flags::{self, Mode};
use super::getopt::{getopt, Style};
use super::{info_request, CliError};
use crate::request::{ReleaseRequest, Target};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

pub fn parse(args: &[OsString]) -> Result<ReleaseRequest, CliError> {
    let (opts, operands) =
        getopt(args, &flags::spec(Mode::Release), &flags::longs(Mode::Release), Style::StopAtOperand)?;
    info_request(&opts)?;
    if opts.iter().any(|o| o.letter == 'h') {
        return Err(CliError::Usage(None));
    }
    let target = one_target("-u", &operands)?;
    let mut req = ReleaseRequest { target, force: false, dry_run: false, debug: false };
    for o in opts {
        match o.letter {
            'f' => req.force = true,
            'N' => req.dry_run = true,
            'X' => req.debug = true,
            _ => {} // 'u'
        }
    }
    Ok(req)
}

/// The one operand of `-u` and `-r`.
pub(crate) fn one_target(mode: &str, operands: &[OsString]) -> Result<Target, CliError> {
    match operands {
        [target] => Ok(target_of(target)),
        [] => Err(CliError::Usage(Some(format!("{mode}: missing target (a mount point, an image or a unit)")))),
        [_, extra, ..] => Err(super::extra_operand(extra)),
    }
}

/// `md3`, `/dev/md3`, `loop3`, `/dev/loop3` name a unit; anything else is
/// a path (write `./md3` for a directory called md3).
pub fn target_of(word: &OsString) -> Target {
    let b = word.as_bytes();
    let b = b.strip_prefix(b"/dev/").unwrap_or(b);
    let digits = b.strip_prefix(b"md").or_else(|| b.strip_prefix(b"loop"));
    match digits
        .and_then(|d| std::str::from_utf8(d).ok())
        .filter(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()))
    {
        Some(d) => match d.parse::<u32>() {
            Ok(n) => Target::Unit(n),
            Err(_) => Target::Path(PathBuf::from(word)),
        },
        None => Target::Path(PathBuf::from(word)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<OsString> {
        s.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn targets_and_flags() {
        let r = parse(&words("-u -f -X md3")).unwrap();
        assert_eq!((r.target, r.force, r.debug, r.dry_run), (Target::Unit(3), true, true, false));
        assert_eq!(parse(&words("-u /dev/loop12")).unwrap().target, Target::Unit(12));
        assert_eq!(parse(&words("-u /var/jails/x")).unwrap().target, Target::Path("/var/jails/x".into()));
        assert_eq!(parse(&words("-u ./md3")).unwrap().target, Target::Path("./md3".into()));
        assert_eq!(parse(&words("-u md")).unwrap().target, Target::Path("md".into()));
        assert_eq!(
            parse(&words("-u")),
            Err(CliError::Usage(Some("-u: missing target (a mount point, an image or a unit)".into())))
        );
        assert_eq!(parse(&words("-u a b")), Err(CliError::Usage(Some("unexpected operand 'b'".into()))));
        assert_eq!(
            parse(&words("-u /j -f")),
            Err(CliError::Usage(Some("option -f after the operands (options come first)".into())))
        );
        assert_eq!(parse(&words("-u --help")), Err(CliError::Help));
        assert_eq!(parse(&words("-h -u")), Err(CliError::Usage(None)));
        let r = parse(&words("-X -N -u /")).unwrap();
        assert_eq!((r.target, r.force, r.debug, r.dry_run), (Target::Path("/".into()), false, true, true));
    }
}
