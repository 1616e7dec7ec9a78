//! The md-device operand (FreeBSD sbin/mdmfs/mdmfs.c, main()): `md`, `/dev/md`, `mdN`, `/dev/mdN`,
//! optional suffixes (`md.uzip`, `md1.uzip`), and the words `auto` and `tmpfs`.
#![forbid(unsafe_code)]

/// Which unit to attach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// `MD_AUTOUNIT` / `LOOP_CTL_GET_FREE`: the kernel picks.
    Auto,
    /// A fixed unit number (`md3`).
    Fixed(u32),
}

/// What the md-device operand asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceArg {
    /// An md(4)/loop unit, plus a suffix appended to the device name for
    /// the mount only (`.uzip` → `/dev/md0.uzip`).
    Md { unit: Unit, suffix: String },
    /// `tmpfs`: a tmpfs mount, no disk at all.
    Tmpfs,
    /// `auto`: tmpfs where the system has it and `-l` is not given, else `md`.
    Auto,
}

/// Parses the md-device operand. Errors carry mdmfs's text.
///
/// Deviation from current mdmfs (documented in the README): a name that does
/// not start with `md` after an optional `/dev/` and is not all digits
/// (`foo`, `/dev/ada0`) is refused with `bad device unit` instead of being
/// taken as an auto unit with suffix `foo`, which would mount `/dev/md0foo`.
pub fn parse_device(arg: &str) -> Result<DeviceArg, String> {
    match arg {
        "auto" => return Ok(DeviceArg::Auto),
        "tmpfs" => return Ok(DeviceArg::Tmpfs),
        _ => {}
    }
    let bad = |s: &str| format!("bad device unit: {s}");
    let rest = arg.strip_prefix("/dev/").unwrap_or(arg);
    let (had_md, rest) = rest.strip_prefix("md").map_or((false, rest), |r| (true, r));
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    match (digits, had_md) {
        (0, false) => return Err(bad(rest)),
        (0, true) => return Ok(DeviceArg::Md { unit: Unit::Auto, suffix: rest.to_string() }),
        _ => {}
    }
    // The kernel refuses units above INT_MAX (md.c); refuse them here.
    let unit = rest[..digits].parse::<u32>().ok().filter(|u| *u <= i32::MAX as u32).ok_or_else(|| bad(rest))?;
    Ok(DeviceArg::Md { unit: Unit::Fixed(unit), suffix: rest[digits..].to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(unit: Unit, suffix: &str) -> Result<DeviceArg, String> {
        Ok(DeviceArg::Md { unit, suffix: suffix.into() })
    }

    /// The forms tests/core/cli.rs (md_device_forms) does not give.
    #[test]
    fn every_form() {
        assert_eq!(parse_device("3"), md(Unit::Fixed(3), ""));
        assert_eq!(parse_device("/dev/md12s1a"), md(Unit::Fixed(12), "s1a"));
    }

    #[test]
    fn bad_units() {
        assert_eq!(parse_device("/dev/ada0"), Err("bad device unit: ada0".into()));
        assert_eq!(parse_device(""), Err("bad device unit: ".into()));
        assert_eq!(parse_device("md2147483648"), Err("bad device unit: 2147483648".into()));
        assert_eq!(parse_device("md99999999999999999999"), Err("bad device unit: 99999999999999999999".into()));
        assert_eq!(parse_device("md2147483647"), md(Unit::Fixed(2147483647), ""));
    }
}
