//! `mount_md --list [--json] [--all]`: the units the platform enumerates,
//! as it describes each ([`collect`]), and the two ways of printing them.
//!
//! Text: one line per unit, fields separated by one space:
//! `device image mount-point size used ro|rw mark`, where a missing value
//! is `-`, sizes are bytes, and space, backslash, every control character
//! (C0 such as tab, newline and escape; DEL; C1, U+0080 to U+009F) and
//! every byte that is not UTF-8 inside a path or mark are written in
//! octal a byte at a time (`\040`, `\134`, `\011`, `\012`, `\033`,
//! `\177`, `\302\233`), as /proc/self/mountinfo and fstab(5) write the
//! first four, so every line splits on spaces and prints nothing a
//! terminal would act on.
//!
//! JSON: an array of objects with `device`, `unit`, `image`, `deleted`,
//! `mountpoint`, `size`, `used`, `readonly`, `mark` and `foreign`; missing
//! values are `null`. `image` of an unlinked file is its last name and
//! `deleted` is true, so a file really named `… (deleted)` is told apart.
//! Strings are the bytes the kernel gave, control characters escaped;
//! bytes that are not UTF-8 become U+FFFD (so this is lossy for such
//! names: the text form keeps them, in octal).
#![forbid(unsafe_code)]
use crate::error::Result;
use crate::platform::Platform;
pub use crate::unit::Listed;
use std::fmt::Write as _;

/// `mount_md --list`: every attached unit ([`Platform::units`], the one
/// enumeration mount, `-u` and `-r` use), with the first mount of its
/// device ([`Platform::mounts`], matched by device number as the lifecycle
/// matches), each described by the backend ([`Platform::list_row`]).
pub fn collect<P: Platform + ?Sized>(p: &mut P) -> Result<Vec<Listed>> {
    let mounts = p.mounts()?;
    let mut out = Vec::new();
    for u in p.units()? {
        let mount = mounts.iter().find(|m| m.dev == u.rdev);
        out.extend(p.list_row(&u, mount)?);
    }
    Ok(out)
}

/// The units to show: mount_md's, and with `all` every other one too.
pub fn select(units: Vec<Listed>, all: bool) -> Vec<Listed> {
    let mut shown: Vec<Listed> = units.into_iter().filter(|u| all || !u.foreign).collect();
    shown.sort_by_key(|u| u.unit);
    shown
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

/// One text line (without the newline), as bytes: paths are not text.
pub fn line(u: &Listed) -> Vec<u8> {
    let dash = || b"-".to_vec();
    let field = |v: &Option<Vec<u8>>| v.as_deref().map(escape_field).unwrap_or_else(dash);
    // The kernel's own form for an unlinked file (the JSON says it apart).
    let image = match (&u.image, u.deleted) {
        (Some(name), Some(true)) => Some([name.as_slice(), b" (deleted)"].concat()),
        (name, _) => name.clone(),
    };
    let mark = if u.foreign {
        let mut m = b"foreign".to_vec();
        if let Some(l) = u.mark.as_deref().filter(|l| !l.is_empty()) {
            m.push(b':');
            m.extend(escape_field(l));
        }
        m
    } else {
        field(&u.mark)
    };
    let parts: Vec<Vec<u8>> = vec![
        escape_field(u.device.as_os_str().as_encoded_bytes()),
        field(&image),
        field(&u.mount_point),
        u.size.to_string().into_bytes(),
        u.used.map(|n| n.to_string().into_bytes()).unwrap_or_else(dash),
        if u.read_only { b"ro".to_vec() } else { b"rw".to_vec() },
        mark,
    ];
    parts.join(&b' ')
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

fn json_opt(b: &Option<Vec<u8>>) -> String {
    b.as_deref().map(json_string).unwrap_or_else(|| "null".into())
}

/// The JSON array (with a final newline).
pub fn json(units: &[Listed]) -> String {
    let mut s = String::from("[");
    for (i, u) in units.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(
            s,
            "\n  {{\"device\": {}, \"unit\": {}, \"image\": {}, \"deleted\": {}, \"mountpoint\": {}, \"size\": {}, \"used\": {}, \
             \"readonly\": {}, \"mark\": {}, \"foreign\": {}}}",
            json_string(u.device.as_os_str().as_encoded_bytes()),
            u.unit,
            json_opt(&u.image),
            u.deleted.map_or_else(|| "null".to_string(), |d| d.to_string()),
            json_opt(&u.mount_point),
            u.size,
            u.used.map(|n| n.to_string()).unwrap_or_else(|| "null".into()),
            u.read_only,
            json_opt(&u.mark),
            u.foreign
        );
    }
    if !units.is_empty() {
        s.push('\n');
    }
    s.push_str("]\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(n: u32, foreign: bool) -> Listed {
        Listed {
            unit: n,
            device: format!("/dev/loop{n}").into(),
            image: Some(b"/srv/a b.img".to_vec()),
            deleted: Some(false),
            mount_point: (!foreign).then(|| b"/j/x".to_vec()),
            size: 1 << 30,
            used: (!foreign).then_some(4096),
            read_only: foreign,
            mark: (!foreign).then(|| b"mount_md:/j/x".to_vec()),
            foreign,
        }
    }

    #[test]
    fn control_bytes_are_escaped() {
        assert_eq!(
            escape_field(b"a b\\c\td\ne\x1b[31mf\x7fg\xff"),
            b"a\\040b\\134c\\011d\\012e\\033[31mf\\177g\\377".to_vec()
        );
    }

    #[test]
    fn c1_controls_and_raw_high_bytes_are_escaped() {
        // U+009B (CSI) in UTF-8, then a raw 0x9B byte, then printable é.
        assert_eq!(escape_field("a\u{9b}31m".as_bytes()), b"a\\302\\23331m".to_vec());
        assert_eq!(escape_field(b"a\x9b31m\xff"), b"a\\23331m\\377".to_vec());
        assert_eq!(escape_field("caf\u{e9}".as_bytes()), "caf\u{e9}".as_bytes().to_vec());
        assert!(escape_field(&(0u8..=255).collect::<Vec<_>>()).iter().all(|&c| (0x21..0x7f).contains(&c)));
        assert_eq!(json_string("x\u{9b}y".as_bytes()), r#""x\u009by""#);
    }

    #[test]
    fn an_unlinked_image_is_told_from_a_file_named_deleted() {
        let mut gone = unit(3, false);
        gone.deleted = Some(true);
        assert!(json(&[gone.clone()]).contains(r#""image": "/srv/a b.img", "deleted": true"#));
        assert!(String::from_utf8(line(&gone)).unwrap().contains(" /srv/a\\040b.img\\040(deleted) "));
        let mut named = unit(3, false);
        named.image = Some(b"/srv/a b.img (deleted)".to_vec());
        assert!(json(&[named]).contains(r#""image": "/srv/a b.img (deleted)", "deleted": false"#));
    }

    #[test]
    fn lines() {
        assert_eq!(
            String::from_utf8(line(&unit(3, false))).unwrap(),
            "/dev/loop3 /srv/a\\040b.img /j/x 1073741824 4096 rw mount_md:/j/x"
        );
        assert_eq!(
            String::from_utf8(line(&unit(4, true))).unwrap(),
            "/dev/loop4 /srv/a\\040b.img - 1073741824 - ro foreign"
        );
        let mut u = unit(5, true);
        u.mark = Some(b"/srv/a b.img".to_vec());
        assert!(String::from_utf8(line(&u)).unwrap().ends_with(" foreign:/srv/a\\040b.img"));
        assert_eq!(escape_field(b"a\\b\tc\nd"), b"a\\134b\\011c\\012d");
    }

    #[test]
    fn selection() {
        let all = vec![unit(7, true), unit(2, false), unit(1, false)];
        assert_eq!(select(all.clone(), false).iter().map(|u| u.unit).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(select(all, true).iter().map(|u| u.unit).collect::<Vec<_>>(), [1, 2, 7]);
    }

    #[test]
    fn json_escapes() {
        assert_eq!(json_string(b"a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(json_string(b"\x01\n\x7f"), r#""\u0001\n\u007f""#);
        assert_eq!(json_string(b"caf\xc3\xa9"), "\"caf\u{e9}\"");
        assert_eq!(json_string(b"x\xffy"), "\"x\u{fffd}y\"");
        assert_eq!(json(&[]), "[]\n");
        let j = json(&[unit(3, false), unit(4, true)]);
        assert!(j.contains(r#"{"device": "/dev/loop3", "unit": 3, "image": "/srv/a b.img", "deleted": false, "mountpoint": "/j/x", "size": 1073741824, "used": 4096, "readonly": false, "mark": "mount_md:/j/x", "foreign": false}"#), "{j}");
        assert!(j.contains(r#""mountpoint": null, "size": 1073741824, "used": null, "readonly": true, "mark": null, "foreign": true}"#), "{j}");
    }
}
