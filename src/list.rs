//! `mount_md --list [--json] [--all]`: what the platform found about each
//! attached unit, and the two ways of printing it. Pure: formatting only.
//!
//! Text: one line per unit, fields separated by one space:
//! `device image mount-point size used ro|rw mark`, where a missing value
//! is `-`, sizes are bytes, and space, backslash and control bytes (tab,
//! newline, escape, DEL…) inside a path or mark are written in octal
//! (`\040`, `\134`, `\011`, `\012`, `\033`, `\177`), as
//! /proc/self/mountinfo and fstab(5) write the first four, so every line
//! splits on spaces and prints nothing a terminal would act on.
//!
//! JSON: an array of objects with `device`, `unit`, `image`, `mountpoint`,
//! `size`, `used`, `readonly`, `mark` and `foreign`; missing values are
//! `null`. Strings are the bytes the kernel gave; bytes that are not UTF-8
//! become U+FFFD (so this is lossy for such names: the text form keeps
//! them).
#![forbid(unsafe_code)]
use std::fmt::Write as _;
use std::path::PathBuf;

/// One attached unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub unit: u32,
    /// `/dev/loop3`, `/dev/md3`.
    pub device: PathBuf,
    /// The backing file as the kernel shows it (for display only), or
    /// `None` for a unit with no file (swap, malloc, memfd).
    pub image: Option<Vec<u8>>,
    /// Where it is mounted (the first such mount), if anywhere.
    pub mount_point: Option<Vec<u8>>,
    /// Bytes the disk holds.
    pub size: u64,
    /// Bytes the mounted file system uses (statvfs), when mounted.
    pub used: Option<u64>,
    pub read_only: bool,
    /// The unit's whole mark/label text (`mount_md:/var/jails/j1`), if any.
    pub mark: Option<Vec<u8>>,
    /// Not attached by mount_md (no mount_md mark).
    pub foreign: bool,
}

/// The units to show: mount_md's, and with `all` every other one too.
pub fn select(units: Vec<Listed>, all: bool) -> Vec<Listed> {
    let mut shown: Vec<Listed> = units.into_iter().filter(|u| all || !u.foreign).collect();
    shown.sort_by_key(|u| u.unit);
    shown
}

/// Bytes with space, backslash and every control byte (tab, newline,
/// escape sequences a terminal would act on, DEL) escaped as octal; other
/// bytes kept, UTF-8 and not (a terminal shows what the name is).
pub fn escape_field(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    for &c in b {
        match c {
            b' ' | b'\\' | 0..=0x1f | 0x7f => out.extend_from_slice(format!("\\{c:03o}").as_bytes()),
            _ => out.push(c),
        }
    }
    out
}

/// One text line (without the newline), as bytes: paths are not text.
pub fn line(u: &Listed) -> Vec<u8> {
    let dash = || b"-".to_vec();
    let field = |v: &Option<Vec<u8>>| v.as_deref().map(escape_field).unwrap_or_else(dash);
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
        field(&u.image),
        field(&u.mount_point),
        u.size.to_string().into_bytes(),
        u.used.map(|n| n.to_string().into_bytes()).unwrap_or_else(dash),
        if u.read_only { b"ro".to_vec() } else { b"rw".to_vec() },
        mark,
    ];
    parts.join(&b' ')
}

/// A JSON string literal for `b`: `"`, `\` and control characters escaped
/// (RFC 8259), bytes that are not UTF-8 as U+FFFD.
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
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
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
            "\n  {{\"device\": {}, \"unit\": {}, \"image\": {}, \"mountpoint\": {}, \"size\": {}, \"used\": {}, \
             \"readonly\": {}, \"mark\": {}, \"foreign\": {}}}",
            json_string(u.device.as_os_str().as_encoded_bytes()),
            u.unit,
            json_opt(&u.image),
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
            b"a\\040b\\134c\\011d\\012e\\033[31mf\\177g\xff".to_vec()
        );
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
        assert!(j.contains(r#"{"device": "/dev/loop3", "unit": 3, "image": "/srv/a b.img", "mountpoint": "/j/x", "size": 1073741824, "used": 4096, "readonly": false, "mark": "mount_md:/j/x", "foreign": false}"#), "{j}");
        assert!(j.contains(r#""mountpoint": null, "size": 1073741824, "used": null, "readonly": true, "mark": null, "foreign": true}"#), "{j}");
    }
}
