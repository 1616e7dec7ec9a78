//! `-s size`: mdmfs's size syntax (FreeBSD sbin/mdmfs/mdmfs.c, main(), case 's'), decoded to bytes.
//!
//! A number as strtoumax(3) reads it with base 0 (`0x` hex, leading `0`
//! octal, else decimal), then at most one suffix letter: none = 512-byte
//! sectors, `b` bytes, `k m g t p` powers of 1024. Unlike mdmfs, a value that
//! does not fit in 64 bits (in the number or after scaling) is rejected with
//! the same `invalid size` message instead of wrapping.
#![forbid(unsafe_code)]

/// Why a size was refused; `Display` gives mdmfs's exact text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("invalid size '{0}'")]
    Invalid(String),
    #[error("invalid size suffix on '{0}'")]
    Suffix(String),
}

/// Largest size we accept: md_mediasize is an off_t (signed 64-bit).
const MAX_BYTES: u64 = i64::MAX as u64;

/// Parses an mdmfs size argument into bytes.
pub fn parse_size(arg: &str) -> Result<u64, SizeError> {
    let invalid = || SizeError::Invalid(arg.to_string());
    let (value, rest) = strtoumax_base0(arg).ok_or_else(invalid)?;
    // At most one suffix letter.
    let mut chars = rest.chars();
    let (suffix, None) = (chars.next(), chars.next()) else { return Err(invalid()) };
    let shift = match suffix {
        None => 9, // 512-byte sectors
        Some('b' | 'B') => 0,
        Some('k' | 'K') => 10,
        Some('m' | 'M') => 20,
        Some('g' | 'G') => 30,
        Some('t' | 'T') => 40,
        Some('p' | 'P') => 50,
        Some(_) => return Err(SizeError::Suffix(arg.to_string())),
    };
    value.checked_mul(1u64 << shift).filter(|v| *v <= MAX_BYTES).ok_or_else(invalid)
}

/// What a bare `-s` number (no suffix: 512-byte sectors, as in mdmfs)
/// means in bytes, said once where the size makes an image (`--create`)
/// or grows one (`-r`) and a count of bytes or MiB was likely meant:
/// `None` for a size with a suffix or one that does not parse.
pub fn sectors_note(arg: &str) -> Option<String> {
    let (_, rest) = strtoumax_base0(arg)?;
    let bytes = parse_size(arg).ok()?;
    rest.is_empty().then(|| {
        let shown = if bytes % (1 << 30) == 0 {
            format!("{} GiB", bytes >> 30)
        } else if bytes % (1 << 20) == 0 {
            format!("{} MiB", bytes >> 20)
        } else {
            format!("{} KiB", bytes as f64 / 1024.0)
        };
        format!("-s {arg} counts 512-byte sectors: {bytes} bytes ({shown})")
    })
}

/// What to write in a line's `-s` for a disk of `bytes` (`640m`, `2g`,
/// `1000b`): said after a grow (`-r`) and when `-P` finds a file system
/// larger than `-s`.
pub fn as_s(bytes: u64) -> String {
    if bytes % (1 << 30) == 0 {
        format!("{}g", bytes >> 30)
    } else if bytes % (1 << 20) == 0 {
        format!("{}m", bytes >> 20)
    } else {
        format!("{bytes}b")
    }
}

/// strtoumax(s, &end, 0) without its silent wrap-arounds: returns the value
/// and the unparsed tail, or `None` when no digit was read, the number is
/// negative, or it overflows 64 bits.
fn strtoumax_base0(s: &str) -> Option<(u64, &str)> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    if t.starts_with('-') {
        return None;
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    // "0x" counts as a hex prefix only when a hex digit follows; otherwise
    // strtoumax reads the "0" and leaves "x…" as the tail.
    let (radix, digits) = match t.as_bytes() {
        [b'0', b'x' | b'X', h, ..] if h.is_ascii_hexdigit() => (16, &t[2..]),
        [b'0', ..] => (8, t),
        _ => (10, t),
    };
    let end = digits.find(|c: char| !c.is_digit(radix)).unwrap_or(digits.len());
    // No digit (from_str_radix refuses ""), or more than 64 bits: None.
    Some((u64::from_str_radix(&digits[..end], radix).ok()?, &digits[end..]))
}

/// `n` bytes as people read them: `512B`, `4.0K`, `1.5G`, `20G` (binary
/// units; one decimal below 10, as `df -h`; rounded to nearest).
pub fn human(n: u64) -> String {
    const UNITS: [char; 6] = ['K', 'M', 'G', 'T', 'P', 'E'];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    loop {
        // What the value prints as, so 1023.96K carries to 1.0M.
        let shown = if value < 9.95 { (value * 10.0).round() / 10.0 } else { value.round() };
        if shown < 1024.0 || unit == UNITS.len() - 1 {
            return if shown < 10.0 {
                format!("{shown:.1}{}", UNITS[unit])
            } else {
                format!("{shown:.0}{}", UNITS[unit])
            };
        }
        value /= 1024.0;
        unit += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(1023), "1023B");
        assert_eq!(human(1024), "1.0K");
        assert_eq!(human(1536), "1.5K");
        assert_eq!(human(10 * 1024), "10K");
        assert_eq!(human(1024 * 1024 - 1), "1.0M");
        assert_eq!(human(2 << 30), "2.0G");
        assert_eq!(human(20 << 30), "20G");
        assert_eq!(human(1_006_632_960), "960M");
        assert_eq!(human(u64::MAX), "16E");
    }

    #[test]
    fn reminders() {
        assert_eq!(as_s(640 << 20), "640m");
        assert_eq!(as_s(2 << 30), "2g");
        assert_eq!(as_s(1000), "1000b");
    }

    #[test]
    fn a_bare_number_is_said_in_bytes() {
        assert_eq!(sectors_note("4096").as_deref(), Some("-s 4096 counts 512-byte sectors: 2097152 bytes (2 MiB)"));
        assert_eq!(sectors_note("3").as_deref(), Some("-s 3 counts 512-byte sectors: 1536 bytes (1.5 KiB)"));
        assert_eq!(sectors_note("4096k"), None);
        assert_eq!(sectors_note("4096b"), None);
        assert_eq!(sectors_note("x"), None);
    }

    /// Every suffix in decimal, octal and hex: tests/core/properties.rs
    /// (size_matches_the_model).
    #[test]
    fn leading_blanks_and_a_plus_sign() {
        assert_eq!(parse_size(" +4k"), Ok(4096));
    }

    #[test]
    fn bad_sizes() {
        for s in ["", "m", "-1", "-1m", "10mb", "1kk", "x", " ", "+"] {
            assert_eq!(parse_size(s), Err(SizeError::Invalid(s.into())), "{s:?}");
        }
        for s in ["1x", "10q", "08", "0x", "1 "] {
            assert_eq!(parse_size(s), Err(SizeError::Suffix(s.into())), "{s:?}");
        }
    }

    #[test]
    fn overflow_is_rejected_not_wrapped() {
        for s in ["18446744073709551616", "99999999999999999999999b", "16777216t", "8192p", "18014398509481984"] {
            assert_eq!(parse_size(s), Err(SizeError::Invalid(s.into())), "{s:?}");
        }
        assert_eq!(parse_size("8191p"), Ok(8191 << 50));
        assert_eq!(parse_size("9223372036854775807b"), Ok(i64::MAX as u64));
        assert_eq!(parse_size("9223372036854775808b"), Err(SizeError::Invalid("9223372036854775808b".into())));
    }
}
