//! The modes added to mdmfs besides `-u` ([`super::release`]):
//! `-r -s SIZE [-NX] target` (grow an image) and `--list [--json] [--all] [--bytes]`.
use super::flags::{self, Mode};
use super::getopt::{self, getopt, Style};
use super::release::one_target;
use super::{info_request, CliError};
use crate::request::{GrowRequest, ListRequest};
use crate::size::parse_size;
use std::ffi::OsString;

/// `-r -s SIZE [-NX] target`.
pub fn parse_grow(args: &[OsString]) -> Result<GrowRequest, CliError> {
    let (opts, operands) = getopt(args, &flags::spec(Mode::Grow), &flags::longs(Mode::Grow), Style::StopAtOperand)?;
    info_request(&opts)?;
    if opts.iter().any(|o| o.letter == 'h') {
        return Err(CliError::Usage(None));
    }
    let target = one_target("-r", &operands)?;
    let (mut size, mut size_note, mut dry_run, mut debug) = (None, None, false, false);
    for o in &opts {
        match o.letter {
            's' => {
                let arg = o.arg.as_deref().unwrap_or_default();
                let text = getopt::text(arg).ok_or_else(|| {
                    CliError::Fatal(format!("-s: argument is not valid UTF-8: {}", arg.to_string_lossy()))
                })?;
                size = Some(parse_size(text).map_err(|e| CliError::Fatal(e.to_string()))?);
                size_note = crate::size::sectors_note(text);
            }
            'N' => dry_run = true,
            'X' => debug = true,
            _ => {} // 'r'
        }
    }
    let size = size.ok_or_else(|| CliError::Usage(Some("-r needs -s size".into())))?;
    Ok(GrowRequest { target, size, size_note, dry_run, debug })
}

/// `--list [--json] [--all] [--bytes]`.
pub fn parse_list(args: &[OsString]) -> Result<ListRequest, CliError> {
    let (opts, operands) = getopt(args, &flags::spec(Mode::List), &flags::longs(Mode::List), Style::StopAtOperand)?;
    info_request(&opts)?;
    if opts.iter().any(|o| o.letter == 'h') {
        return Err(CliError::Usage(None));
    }
    if let Some(extra) = operands.first() {
        return Err(super::extra_operand(extra));
    }
    let mut req = ListRequest { json: false, all: false, bytes: false };
    for o in &opts {
        match (o.letter, o.long) {
            (_, Some("json")) => req.json = true,
            (_, Some("all")) => req.all = true,
            (_, Some("bytes")) => req.bytes = true,
            _ => {} // --list
        }
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Target;

    fn words(s: &str) -> Vec<OsString> {
        s.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn grow() {
        let g = parse_grow(&words("-r -s 2g /j")).unwrap();
        assert_eq!(
            g,
            GrowRequest {
                target: Target::Path("/j".into()),
                size: 2 << 30,
                size_note: None,
                dry_run: false,
                debug: false
            }
        );
        let g = parse_grow(&words("-N -X -r -s4096 md3")).unwrap();
        let note = Some("-s 4096 counts 512-byte sectors: 2097152 bytes (2 MiB)".to_string());
        assert_eq!(
            g,
            GrowRequest { target: Target::Unit(3), size: 4096 * 512, size_note: note, dry_run: true, debug: true }
        );
        assert_eq!(parse_grow(&words("-r /j")), Err(CliError::Usage(Some("-r needs -s size".into()))));
        assert_eq!(parse_grow(&words("-r -s 1x /j")), Err(CliError::Fatal("invalid size suffix on '1x'".into())));
        assert!(
            matches!(parse_grow(&words("-r -s 1g")), Err(CliError::Usage(Some(m))) if m.starts_with("-r: missing target"))
        );
    }

    #[test]
    fn list() {
        assert_eq!(parse_list(&words("--list")), Ok(ListRequest { json: false, all: false, bytes: false }));
        assert_eq!(parse_list(&words("--all --list --json")), Ok(ListRequest { json: true, all: true, bytes: false }));
        assert_eq!(parse_list(&words("--list --bytes")), Ok(ListRequest { json: false, all: false, bytes: true }));
        assert_eq!(parse_list(&words("--list x")), Err(CliError::Usage(Some("unexpected operand 'x'".into()))));
        assert_eq!(parse_list(&words("--list --version")), Err(CliError::Version));
    }
}
