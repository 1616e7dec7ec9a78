//! getopt(3) as BSD's libc does it, over raw `OsStr` bytes.
//!
//! Written here rather than taken from the `getopts` crate because mdmfs
//! needs what that crate does not give: arguments that are not UTF-8 (any
//! path a Unix file name can be), the order of flags inside one word
//! (`-SU` and `-US` differ), and BSD's exact diagnostics.
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// One option occurrence: the letter and, for `x:` letters, its argument.
/// A long option (`--create=sparse`) has letter `-` and its name in `long`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    pub letter: char,
    pub long: Option<&'static str>,
    pub arg: Option<OsString>,
}

impl Opt {
    pub fn short(letter: char, arg: Option<OsString>) -> Self {
        Opt { letter, long: None, arg }
    }

    /// `-x` or `--name`, as messages show it.
    pub fn name(&self) -> String {
        match self.long {
            Some(l) => format!("--{l}"),
            None => format!("-{}", self.letter),
        }
    }
}

/// Whether a long option takes a value: `--name` or `--name=value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongArg {
    No,
    Optional,
    Required,
}

/// The long options a grammar knows.
pub type Longs<'a> = &'a [(&'static str, LongArg)];

/// getopt(3)'s two complaints; `Display` is the BSD text without the
/// program name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GetoptError {
    #[error("illegal option -- {0}")]
    Illegal(char),
    #[error("option requires an argument -- {0}")]
    MissingArgument(char),
    #[error("unrecognized option '--{0}'")]
    IllegalLong(String),
    #[error("option '--{0}' requires an argument")]
    LongMissingArgument(String),
    #[error("option '--{0}' doesn't allow an argument")]
    LongUnexpectedArgument(String),
}

/// Whether options may follow operands (GNU/util-linux helper argv) or
/// parsing stops at the first operand (BSD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    StopAtOperand,
    Permute,
}

/// Does `letter` exist in `spec`, and does it take an argument?
pub fn lookup(spec: &str, letter: u8) -> Option<bool> {
    let s = spec.as_bytes();
    let i = s.iter().position(|&c| c == letter && c != b':')?;
    Some(s.get(i + 1) == Some(&b':'))
}

/// Splits `args` (without `argv[0]`) into options, in order, and operands.
pub fn getopt(
    args: &[OsString],
    spec: &str,
    longs: Longs<'_>,
    style: Style,
) -> Result<(Vec<Opt>, Vec<OsString>), GetoptError> {
    let mut opts = Vec::new();
    let mut operands = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let word = arg.as_bytes();
        if word == b"--" {
            operands.extend(rest.cloned());
            break;
        }
        if word.len() < 2 || word[0] != b'-' {
            operands.push(arg.clone());
            if style == Style::StopAtOperand {
                operands.extend(rest.cloned());
                break;
            }
            continue;
        }
        if word[1] == b'-' {
            opts.push(long_option(&word[2..], longs)?);
            continue;
        }
        for (j, &c) in word.iter().enumerate().skip(1) {
            let letter = char::from(c);
            let shown = if c.is_ascii() { letter } else { char::REPLACEMENT_CHARACTER };
            match lookup(spec, c) {
                None => return Err(GetoptError::Illegal(shown)),
                Some(false) => opts.push(Opt::short(letter, None)),
                Some(true) => {
                    let arg = match &word[j + 1..] {
                        [] => rest.next().cloned().ok_or(GetoptError::MissingArgument(letter))?,
                        attached => OsStr::from_bytes(attached).to_os_string(),
                    };
                    opts.push(Opt::short(letter, Some(arg)));
                    break;
                }
            }
        }
    }
    Ok((opts, operands))
}

/// `--name` or `--name=value`. A value is only ever attached with `=`, so
/// that a following operand is never swallowed. Without long options at all
/// the word is BSD's `illegal option -- -`.
fn long_option(body: &[u8], longs: Longs<'_>) -> Result<Opt, GetoptError> {
    let (name, value) = match body.iter().position(|&b| b == b'=') {
        Some(i) => (&body[..i], Some(OsStr::from_bytes(&body[i + 1..]).to_os_string())),
        None => (body, None),
    };
    let shown = String::from_utf8_lossy(name).into_owned();
    if longs.is_empty() {
        return Err(GetoptError::Illegal('-'));
    }
    let &(long, kind) = longs.iter().find(|(n, _)| n.as_bytes() == name).ok_or(GetoptError::IllegalLong(shown))?;
    match (kind, &value) {
        (LongArg::No, Some(_)) => Err(GetoptError::LongUnexpectedArgument(long.to_string())),
        (LongArg::Required, None) => Err(GetoptError::LongMissingArgument(long.to_string())),
        _ => Ok(Opt { letter: '-', long: Some(long), arg: value }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::tests::words;

    fn o(letter: char, arg: Option<&str>) -> Opt {
        Opt::short(letter, arg.map(OsString::from))
    }
    const LONGS: Longs<'static> = &[("create", LongArg::Optional)];

    #[test]
    fn bsd_rules() {
        let (opts, ops) =
            getopt(&words("-PXF/img -o -P -s 1g md /mnt extra"), "F:o:s:PX", &[], Style::StopAtOperand).unwrap();
        assert_eq!(opts, [o('P', None), o('X', None), o('F', Some("/img")), o('o', Some("-P")), o('s', Some("1g"))]);
        assert_eq!(ops, words("md /mnt extra"));
        // stops at the first operand; "--" ends options; "-" is an operand
        let (opts, ops) = getopt(&words("md -P"), "P", &[], Style::StopAtOperand).unwrap();
        assert!(opts.is_empty());
        assert_eq!(ops, words("md -P"));
        let (_, ops) = getopt(&words("-- -P x"), "P", &[], Style::StopAtOperand).unwrap();
        assert_eq!(ops, words("-P x"));
        let (_, ops) = getopt(&words("- x"), "P", &[], Style::StopAtOperand).unwrap();
        assert_eq!(ops, words("- x"));
    }

    #[test]
    fn errors() {
        assert_eq!(getopt(&words("-Pq"), "P", &[], Style::StopAtOperand), Err(GetoptError::Illegal('q')));
        assert_eq!(getopt(&words("--long"), "s:", &[], Style::StopAtOperand), Err(GetoptError::Illegal('-')));
        assert_eq!(getopt(&words("-:"), "s:", &[], Style::StopAtOperand), Err(GetoptError::Illegal(':')));
        let long = |w: &str| getopt(&words(w), "P", LONGS, Style::StopAtOperand).map(|(o, _)| o);
        assert_eq!(long("--create"), Ok(vec![Opt { letter: '-', long: Some("create"), arg: None }]));
        assert_eq!(
            long("--create=sparse"),
            Ok(vec![Opt { letter: '-', long: Some("create"), arg: Some("sparse".into()) }])
        );
    }
}
