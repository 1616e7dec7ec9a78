//! The modes added to mdmfs: `-u [-fNX] target` (unmount and detach),
//! `-r -s SIZE [-NX] target` (grow an image) and `--list [--json] [--all]
//! [--bytes]`. The target of `-u` and `-r` is a mount point, an image
//! file, or a unit (`md3`, `/dev/md3`, `loop3`, `/dev/loop3`).
use super::flags::Mode;
use super::CliError;
use crate::request::{GrowRequest, ListRequest, ReleaseRequest, Target};
use crate::size::parse_size;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// `-u [-fNX] target`: `-f` forces, `-N` says what it would do, `-X`
/// explains.
pub fn parse_release(args: &[OsString]) -> Result<ReleaseRequest, CliError> {
    let (opts, operands) = super::mode_options(Mode::Release, args)?;
    let target = one_target("-u", &operands)?;
    let given = |letter| opts.iter().any(|o| o.letter == letter);
    Ok(ReleaseRequest { target, force: given('f'), dry_run: given('N'), debug: given('X') })
}

/// `-r -s SIZE [-NX] target`.
pub fn parse_grow(args: &[OsString]) -> Result<GrowRequest, CliError> {
    let (opts, operands) = super::mode_options(Mode::Grow, args)?;
    let target = one_target("-r", &operands)?;
    let (mut size, mut size_note) = (None, None);
    for o in opts.iter().filter(|o| o.letter == 's') {
        let text = super::mdmfs::utf8('s', o.arg.as_deref().unwrap_or_default())?;
        size = Some(parse_size(text).map_err(|e| CliError::Fatal(e.to_string()))?);
        size_note = crate::size::sectors_note(text);
    }
    let size = size.ok_or_else(|| CliError::Usage(Some("-r needs -s size".into())))?;
    let given = |letter| opts.iter().any(|o| o.letter == letter);
    Ok(GrowRequest { target, size, size_note, dry_run: given('N'), debug: given('X') })
}

/// `--list [--json] [--all] [--bytes]`.
pub fn parse_list(args: &[OsString]) -> Result<ListRequest, CliError> {
    let (opts, operands) = super::mode_options(Mode::List, args)?;
    if let Some(extra) = operands.first() {
        return Err(super::extra_operand(extra));
    }
    let given = |name| opts.iter().any(|o| o.long == Some(name));
    Ok(ListRequest { json: given("json"), all: given("all"), bytes: given("bytes") })
}

/// The one operand of `-u` and `-r`.
fn one_target(mode: &str, operands: &[OsString]) -> Result<Target, CliError> {
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
    let unit = digits
        .and_then(|d| std::str::from_utf8(d).ok())
        .filter(|d| d.bytes().all(|c| c.is_ascii_digit()))
        .and_then(|d| d.parse::<u32>().ok());
    unit.map_or_else(|| Target::Path(PathBuf::from(word)), Target::Unit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::tests::words;

    #[test]
    fn grow() {
        // `-N -s 2g -r /j` is tests/core/cli.rs's (modes_anywhere_among_the_options).
        let g = parse_grow(&words("-N -X -r -s4096 md3")).unwrap();
        let note = Some("-s 4096 counts 512-byte sectors: 2097152 bytes (2 MiB)".to_string());
        assert_eq!(
            g,
            GrowRequest { target: Target::Unit(3), size: 4096 * 512, size_note: note, dry_run: true, debug: true }
        );
        // A bad size and a missing target are tests/core/cli.rs's
        // (bad_input_messages_and_exit_status).
        assert_eq!(parse_grow(&words("-r /j")), Err(CliError::Usage(Some("-r needs -s size".into()))));
    }

    #[test]
    fn list() {
        assert_eq!(parse_list(&words("--list")), Ok(ListRequest { json: false, all: false, bytes: false }));
        assert_eq!(parse_list(&words("--all --list --json")), Ok(ListRequest { json: true, all: true, bytes: false }));
        assert_eq!(parse_list(&words("--list --bytes")), Ok(ListRequest { json: false, all: false, bytes: true }));
        assert_eq!(parse_list(&words("--list --version")), Err(CliError::Version));
    }

    #[test]
    fn targets_and_flags() {
        assert_eq!(parse_release(&words("-u /dev/loop12")).unwrap().target, Target::Unit(12));
        assert_eq!(parse_release(&words("-u /var/jails/x")).unwrap().target, Target::Path("/var/jails/x".into()));
        assert_eq!(parse_release(&words("-u ./md3")).unwrap().target, Target::Path("./md3".into()));
        assert_eq!(parse_release(&words("-u md")).unwrap().target, Target::Path("md".into()));
        // A missing target and a second one are tests/core/cli.rs's
        // (bad_input_messages_and_exit_status).
        assert_eq!(
            parse_release(&words("-u /j -f")),
            Err(CliError::Usage(Some("option -f after the operands (options come first)".into())))
        );
        assert_eq!(parse_release(&words("-h -u")), Err(CliError::Usage(None)));
    }
}
