//! `mount_md -r -s size [-NX] target` (grow) and `mount_md --list [--json]
//! [--all]`: two commands mdmfs does not have. `target` is what `-u` takes:
//! a mount point, an image file, or a unit (`md3`, `/dev/loop3`).
use super::getopt::{getopt, text, LongArg, Longs, Style};
use super::CliError;
use crate::request::{GrowRequest, ListRequest};
use crate::size::parse_size;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

pub const SPEC: &str = "rs:NX";
const LIST_LONGS: Longs = &[("list", LongArg::No), ("json", LongArg::No), ("all", LongArg::No)];

/// Whether argv (without argv[0]) asks for `-r` (a letter mdmfs itself
/// does not have): the leading option words hold only `N`, `X` and `r`
/// up to an `r`: `-r`, `-rX`, `-N -r`, `-Xr`, `-rs1g`.
pub fn wanted(args: &[OsString]) -> bool {
    for w in args.iter().map(|w| w.as_bytes()) {
        if w.len() < 2 || w[0] != b'-' || w[1] == b'-' {
            return false;
        }
        for &c in &w[1..] {
            match c {
                b'r' => return true,
                b'N' | b'X' => {}
                _ => return false,
            }
        }
    }
    false
}

/// Whether argv asks for `--list`.
pub fn list_wanted(args: &[OsString]) -> bool {
    args.iter().any(|a| a.as_bytes() == b"--list")
}

pub fn parse(args: &[OsString]) -> Result<GrowRequest, CliError> {
    let (opts, operands) = getopt(args, SPEC, &[], Style::StopAtOperand)?;
    let [target] = &operands[..] else {
        return Err(CliError::Usage(None));
    };
    let mut size = None;
    let (mut dry_run, mut debug) = (false, false);
    for o in opts {
        match o.letter {
            's' => {
                let arg = o.arg.unwrap_or_default();
                let t = text(&arg).ok_or_else(|| CliError::Fatal("-s: argument is not valid UTF-8".into()))?;
                size = Some(parse_size(t).map_err(|e| CliError::Fatal(e.to_string()))?);
            }
            'N' => dry_run = true,
            'X' => debug = true,
            _ => {} // 'r'
        }
    }
    let size = size.ok_or_else(|| CliError::Fatal("-r needs the new size (-s size)".into()))?;
    Ok(GrowRequest { target: super::release::target_of(target), size, dry_run, debug })
}

pub fn parse_list(args: &[OsString]) -> Result<ListRequest, CliError> {
    let (opts, operands) = getopt(args, "", LIST_LONGS, Style::Permute)?;
    if !operands.is_empty() {
        return Err(CliError::Usage(None));
    }
    let mut req = ListRequest { json: false, all: false };
    for o in opts {
        match o.long {
            Some("json") => req.json = true,
            Some("all") => req.all = true,
            _ => {} // list
        }
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::ReleaseTarget;

    fn words(s: &str) -> Vec<OsString> {
        s.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn grow_words() {
        assert!(wanted(&words("-r -s 2g /j")));
        assert!(wanted(&words("-Nr -s 2g /j")));
        assert!(wanted(&words("-rs2g /j")));
        assert!(wanted(&words("-N -r -s 2g /j")));
        assert!(wanted(&words("-X -N -r -s 2g /j")));
        assert!(!wanted(&words("-N -P -r")));
        assert!(!wanted(&words("-N md /r")));
        assert!(!wanted(&words("-o ro md /j")));
        assert!(!wanted(&words("-oro md /j")));
        assert!(!wanted(&words("-P -r")));
        assert!(!wanted(&words("--create")));
        let r = parse(&words("-r -s 2g -N -X /var/jails/j1")).unwrap();
        assert_eq!(
            r,
            GrowRequest {
                target: ReleaseTarget::Path("/var/jails/j1".into()),
                size: 2 << 30,
                dry_run: true,
                debug: true
            }
        );
        assert_eq!(parse(&words("-rs4194304 md3")).unwrap().target, ReleaseTarget::Unit(3));
        assert_eq!(parse(&words("-rs4194304 md3")).unwrap().size, 4194304 * 512);
        assert_eq!(parse(&words("-r /j")), Err(CliError::Fatal("-r needs the new size (-s size)".into())));
        assert_eq!(parse(&words("-r -s 2x /j")), Err(CliError::Fatal("invalid size suffix on '2x'".into())));
        assert_eq!(parse(&words("-r -s 2g")), Err(CliError::Usage(None)));
        assert_eq!(parse(&words("-r -s 2g a b")), Err(CliError::Usage(None)));
        assert_eq!(parse(&words("-r -f -s 2g a")), Err(CliError::Usage(Some("illegal option -- f".into()))));
    }

    #[test]
    fn list_words() {
        assert!(list_wanted(&words("--list")));
        assert!(list_wanted(&words("--json --list")));
        assert!(!list_wanted(&words("--json")));
        assert_eq!(parse_list(&words("--list")).unwrap(), ListRequest { json: false, all: false });
        assert_eq!(parse_list(&words("--list --all --json")).unwrap(), ListRequest { json: true, all: true });
        assert_eq!(parse_list(&words("--list x")), Err(CliError::Usage(None)));
        assert_eq!(
            parse_list(&words("--list --jsn")),
            Err(CliError::Usage(Some("unrecognized option '--jsn'".into())))
        );
        assert_eq!(parse_list(&words("--list -X")), Err(CliError::Usage(Some("illegal option -- X".into()))));
    }
}
