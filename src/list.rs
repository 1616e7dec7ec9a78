//! `mount_md --list [--json] [--all] [--bytes]`: the units the platform
//! enumerates, each with the first mount of its device, composed here once
//! ([`collect`]) from what the backend answers, and printed by [`table`]
//! (a table for people, a JSON object for monitors).
//!
//! Paths and marks are the bytes the kernel gave. In text they are
//! escaped in octal ([`escape_field`]: `\040`, `\134`, `\011`, `\012` as
//! /proc/self/mountinfo and fstab(5) write them), so every line splits at
//! spaces and prints nothing a terminal would act on; in JSON
//! ([`json_string`]) a name that is not UTF-8 is lossy, the text form
//! keeps it.
#![forbid(unsafe_code)]
pub mod table;

use crate::error::Result;
use crate::platform::{mount_of, Platform};
use std::fmt::Write as _;
use table::{Row, Whose};

/// `mount_md --list`: every attached unit ([`Platform::list`]: the
/// units mount, `-u` and `-r` see, and as a normal user those it can only
/// see, whose owner is then unknown), with the first mount of its device
/// ([`Platform::mounts`], matched by device number as the lifecycle
/// matches, [`mount_of`]): its type and the mount's own `ro`/`rw` from the
/// mount table, the rest as the backend reads it.
pub fn collect<P: Platform + ?Sized>(p: &mut P) -> Result<Vec<Row>> {
    let mounts = p.mounts()?;
    let rows = p.list(&mounts)?.into_iter().map(|(u, known, l)| {
        let mount = mount_of(&mounts, &u);
        Row {
            mount_point: mount.map(|m| m.on.clone().into_os_string().into_encoded_bytes()),
            fstype: mount.map(|m| m.fstype.clone()),
            read_only: mount.map(|m| m.read_only()),
            whose: match (known, u.owner.is_foreign()) {
                (false, _) => Whose::Unknown,
                (true, true) => Whose::Foreign,
                (true, false) => Whose::MountMd,
            },
            listed: l,
        }
    });
    Ok(rows.collect())
}

/// Bytes with space, backslash, every control character and every byte
/// that is not UTF-8 escaped as octal, a byte at a time: C0 (tab,
/// newline, escape), DEL, C1 (U+0080 to U+009F, whose UTF-8 form a
/// terminal may take for CSI and friends) and a raw 0x80 to 0xFF byte
/// (which an 8-bit terminal would). Printable UTF-8 is kept as it is.
pub fn escape_field(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let octal = |out: &mut Vec<u8>, bytes: &[u8]| {
        for c in bytes {
            out.extend_from_slice(format!("\\{c:03o}").as_bytes());
        }
    };
    for chunk in b.utf8_chunks() {
        let mut buf = [0u8; 4];
        for c in chunk.valid().chars() {
            let bytes = c.encode_utf8(&mut buf).as_bytes();
            if c == ' ' || c == '\\' || c.is_control() {
                octal(&mut out, bytes);
            } else {
                out.extend_from_slice(bytes);
            }
        }
        octal(&mut out, chunk.invalid());
    }
    out
}

/// A JSON string literal for `b`: `"`, `\` and every control character
/// (C0, DEL, C1) escaped (RFC 8259), bytes that are not UTF-8 as U+FFFD.
pub fn json_string(b: &[u8]) -> String {
    let text = String::from_utf8_lossy(b);
    let mut s = String::with_capacity(text.len() + 2);
    s.push('"');
    for c in text.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bytes_are_escaped() {
        assert_eq!(escape_field(b"a b\\c\td\ne\x1b[31mf\x7fg\xff"), b"a\\040b\\134c\\011d\\012e\\033[31mf\\177g\\377");
    }

    #[test]
    fn c1_controls_and_raw_high_bytes_are_escaped() {
        // U+009B (CSI) in UTF-8, then a raw 0x9B byte, then printable é.
        assert_eq!(escape_field("a\u{9b}31m".as_bytes()), b"a\\302\\23331m");
        assert_eq!(escape_field(b"a\x9b31m\xff"), b"a\\23331m\\377");
        assert_eq!(escape_field("caf\u{e9}".as_bytes()), "caf\u{e9}".as_bytes());
        assert!(escape_field(&(0u8..=255).collect::<Vec<_>>()).iter().all(|&c| (0x21..0x7f).contains(&c)));
        assert_eq!(json_string("x\u{9b}y".as_bytes()), r#""x\u009by""#);
    }

    #[test]
    fn json_escapes() {
        assert_eq!(json_string(b"a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(json_string(b"\x01\n\x7f"), r#""\u0001\n\u007f""#);
        assert_eq!(json_string(b"caf\xc3\xa9"), "\"caf\u{e9}\"");
        assert_eq!(json_string(b"x\xffy"), "\"x\u{fffd}y\"");
    }
}
