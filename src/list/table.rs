//! The `--list` table for people and the JSON object for monitors: pure
//! formatting of [`Row`]s.
//!
//! Text: a header line, then one line per unit, columns aligned with
//! spaces: `DEVICE IMAGE MOUNTPOINT TYPE SIZE FSSIZE USED AVAIL MODE DIO
//! OWNER CRYPT`. SIZE is the disk's, FSSIZE, USED and AVAIL the mounted file
//! system's (statvfs: AVAIL is what an unprivileged writer may still use),
//! MODE the mount's `ro`/`rw` (not the disk's), DIO whether the disk does
//! direct I/O on its backing file (`-` on FreeBSD, whose md(4) has no such
//! switch), OWNER `mount_md`, `foreign` or `?`, CRYPT the crypt layer
//! mount_md opened on the unit as `TYPE:DEVICE` (`luks2:/dev/mapper/…`,
//! `geli:/dev/md3.eli`) or `-`.
//! Sizes are human (`1.5G`, binary units, as `df -h`) unless `bytes`.
//! `-` is "none" (not mounted, no backing file), `?` is "could not be
//! read" (a normal user cannot read a unit's mark). Fields are escaped as
//! [`super::escape_field`] does, so every line splits at runs of spaces.
//!
//! JSON: `{"mount_md": [ … ]}`, one object per unit with `device`, `unit`,
//! `image`, `deleted`, `mountpoint`, `type`, `size`, `fs_size`, `used`,
//! `available`, `readonly`, `direct_io`, `owner`, `mark` and `crypt`
//! (`{"type": …, "device": …}`); every size in
//! bytes, `null` where a value is unknown or does not apply.
#![forbid(unsafe_code)]
use super::{escape_field, json_string};
use crate::unit::Listed;

/// Who attached a unit, by its mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whose {
    /// It carries mount_md's mark.
    MountMd,
    /// Another tool's (losetup, mount -o loop, mdconfig).
    Foreign,
    /// The mark could not be read (a normal user on Linux).
    Unknown,
}

pub use crate::unit::Usage;

/// One attached unit, as `--list` shows it: what the backend read of it
/// ([`Listed`]), and what its mount and mark add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub listed: Listed,
    /// Where it is mounted (the first such mount), if anywhere.
    pub mount_point: Option<Vec<u8>>,
    /// The mounted file system's type, from the mount table.
    pub fstype: Option<String>,
    /// The mount is read-only (from the mount table); `None` when not
    /// mounted.
    pub read_only: Option<bool>,
    pub whose: Whose,
}

/// The units to show: mount_md's and those whose mark could not be read;
/// with `all` other tools' too. In unit order.
pub fn select(mut rows: Vec<Row>, all: bool) -> Vec<Row> {
    rows.retain(|r| all || r.whose != Whose::Foreign);
    rows.sort_by_key(|r| r.listed.unit);
    rows
}

use crate::size::human;

const HEADER: [&str; 12] =
    ["DEVICE", "IMAGE", "MOUNTPOINT", "TYPE", "SIZE", "FSSIZE", "USED", "AVAIL", "MODE", "DIO", "OWNER", "CRYPT"];

/// One row's fields, escaped, in [`HEADER`]'s order.
fn fields(r: &Row, bytes: bool) -> [String; 12] {
    let text = |b: &[u8]| String::from_utf8_lossy(&escape_field(b)).into_owned();
    let dash = || "-".to_string();
    let size = |n: u64| if bytes { n.to_string() } else { human(n) };
    // A field of the mount that is missing: `-` when not mounted (nothing
    // to say), `?` when mounted but unread.
    let unread = || if r.mount_point.is_some() { "?".to_string() } else { dash() };
    let fs = |pick: fn(&Usage) -> u64| r.listed.usage.as_ref().map(|u| size(pick(u))).unwrap_or_else(unread);
    let image = match (&r.listed.image, r.listed.deleted) {
        // The kernel's own form for an unlinked file (the JSON says it apart).
        (Some(name), Some(true)) => text(&[name.as_slice(), b" (deleted)"].concat()),
        (Some(name), _) => text(name),
        (None, _) => dash(),
    };
    [
        text(r.listed.device.as_os_str().as_encoded_bytes()),
        image,
        r.mount_point.as_deref().map(text).unwrap_or_else(dash),
        r.fstype.as_deref().map(|t| text(t.as_bytes())).unwrap_or_else(unread),
        r.listed.size.map(size).unwrap_or_else(|| "?".into()),
        fs(|u| u.size),
        fs(|u| u.used),
        fs(|u| u.available),
        r.read_only.map(|ro| if ro { "ro" } else { "rw" }.to_string()).unwrap_or_else(unread),
        // `-`: not known, or not a switch this system has (md(4)).
        r.listed.direct_io.map(|on| if on { "on" } else { "off" }.to_string()).unwrap_or_else(dash),
        match r.whose {
            Whose::MountMd => "mount_md".into(),
            Whose::Foreign => "foreign".into(),
            Whose::Unknown => "?".into(),
        },
        match &r.listed.crypt {
            Some((t, d)) => format!("{t}:{}", text(d.as_os_str().as_encoded_bytes())),
            None => dash(),
        },
    ]
}

/// The text table: a header line and one line per row, columns padded to
/// the widest field (the last column is not padded), each line ending in
/// a newline. Bytes, since a path is not text (escaped, it is ASCII and
/// printable UTF-8).
pub fn text(rows: &[Row], bytes: bool) -> Vec<u8> {
    let mut lines: Vec<[String; 12]> = vec![HEADER.map(String::from)];
    lines.extend(rows.iter().map(|r| fields(r, bytes)));
    let widths: [usize; 12] = std::array::from_fn(|i| lines.iter().map(|l| l[i].chars().count()).max().unwrap_or(0));
    let mut out = String::new();
    for l in &lines {
        let padded: Vec<String> = l.iter().zip(widths).map(|(f, w)| format!("{f:<w$}")).collect();
        out.push_str(padded.join(" ").trim_end());
        out.push('\n');
    }
    out.into_bytes()
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "null".to_string(), |v| v.to_string())
}

/// The JSON object `{"mount_md": [...]}` (with a final newline).
pub fn json(rows: &[Row]) -> String {
    let objects: Vec<String> = rows.iter().map(object).collect();
    let end = if rows.is_empty() { "" } else { "\n" };
    format!("{{\"mount_md\": [{}{end}]}}\n", objects.join(","))
}

/// One row's object, on a line of its own.
fn object(r: &Row) -> String {
    let owner = match r.whose {
        Whose::MountMd => "\"mount_md\"",
        Whose::Foreign => "\"foreign\"",
        Whose::Unknown => "null",
    };
    format!(
        "\n  {{\"device\": {}, \"unit\": {}, \"image\": {}, \"deleted\": {}, \"mountpoint\": {}, \"type\": {}, \
         \"size\": {}, \"fs_size\": {}, \"used\": {}, \"available\": {}, \"readonly\": {}, \"direct_io\": {}, \
         \"owner\": {owner}, \"mark\": {}, \"crypt\": {}}}",
        json_string(r.listed.device.as_os_str().as_encoded_bytes()),
        r.listed.unit,
        opt(r.listed.image.as_deref().map(json_string)),
        opt(r.listed.deleted),
        opt(r.mount_point.as_deref().map(json_string)),
        opt(r.fstype.as_deref().map(|t| json_string(t.as_bytes()))),
        opt(r.listed.size),
        opt(r.listed.usage.map(|u| u.size)),
        opt(r.listed.usage.map(|u| u.used)),
        opt(r.listed.usage.map(|u| u.available)),
        opt(r.read_only),
        opt(r.listed.direct_io),
        opt(r.listed.mark.as_deref().map(json_string)),
        opt(r.listed.crypt.as_ref().map(|(t, d)| {
            format!(
                "{{\"type\": {}, \"device\": {}}}",
                json_string(t.as_bytes()),
                json_string(d.as_os_str().as_encoded_bytes())
            )
        })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn row(n: u32, whose: Whose) -> Row {
        let ours = whose == Whose::MountMd;
        let listed = Listed {
            unit: n,
            device: format!("/dev/loop{n}").into(),
            image: Some(b"/srv/a b.img".to_vec()),
            deleted: Some(false),
            size: Some(1 << 30),
            usage: ours.then_some(Usage { size: 1_006_632_960, used: 4096, available: 940_000_000 }),
            direct_io: Some(ours),
            mark: ours.then(|| b"mount_md:/j/x".to_vec()),
            crypt: None,
        };
        Row {
            listed,
            mount_point: ours.then(|| b"/j/x".to_vec()),
            fstype: ours.then(|| "ext4".to_string()),
            read_only: ours.then_some(false),
            whose,
        }
    }

    #[test]
    fn a_header_then_aligned_rows() {
        let rows = [row(3, Whose::MountMd), row(12, Whose::Foreign)];
        let t = String::from_utf8(text(&rows, false)).unwrap();
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        let split: Vec<Vec<&str>> = lines.iter().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(split[0], HEADER);
        assert_eq!(split[1].join(" "), "/dev/loop3 /srv/a\\040b.img /j/x ext4 1.0G 960M 4.0K 896M rw on mount_md -");
        assert_eq!(split[2].join(" "), "/dev/loop12 /srv/a\\040b.img - - 1.0G - - - - off foreign -");
        // Columns line up: every field of a column starts where its header does.
        let starts = |l: &str| -> Vec<usize> {
            let b = l.as_bytes();
            (0..b.len()).filter(|&i| b[i] != b' ' && (i == 0 || b[i - 1] == b' ')).collect()
        };
        assert_eq!(starts(lines[0]), starts(lines[1]));
        assert_eq!(starts(lines[0]), starts(lines[2]));
        assert!(text(&[], false) == b"DEVICE IMAGE MOUNTPOINT TYPE SIZE FSSIZE USED AVAIL MODE DIO OWNER CRYPT\n");
    }

    #[test]
    fn bytes_and_unknowns() {
        let mut r = row(3, Whose::Unknown);
        r.mount_point = Some(b"/j/x".to_vec());
        r.listed.size = None;
        r.listed.direct_io = None;
        let t = String::from_utf8(text(&[r], true)).unwrap();
        let f: Vec<&str> = t.lines().nth(1).unwrap().split_whitespace().collect();
        // Mounted, but nothing else could be read.
        assert_eq!(f[2..], ["/j/x", "?", "?", "?", "?", "?", "?", "-", "?", "-"]);
        let t = String::from_utf8(text(&[row(3, Whose::MountMd)], true)).unwrap();
        assert!(t.contains(" 1073741824 1006632960 4096 940000000 rw "), "{t}");
    }

    #[test]
    fn deleted_and_escaped() {
        let mut r = row(3, Whose::MountMd);
        r.listed.deleted = Some(true);
        r.mount_point = Some(b"/j/a\tb\x1b[31m".to_vec());
        let t = String::from_utf8(text(std::slice::from_ref(&r), false)).unwrap();
        assert!(t.contains(" /srv/a\\040b.img\\040(deleted) /j/a\\011b\\033[31m "), "{t}");
        assert!(json(&[r]).contains(r#""image": "/srv/a b.img", "deleted": true, "mountpoint": "/j/a\tb\u001b[31m""#));
    }

    #[test]
    fn selection_keeps_unknown_owners() {
        let rows = vec![row(7, Whose::Foreign), row(2, Whose::Unknown), row(1, Whose::MountMd)];
        assert_eq!(select(rows.clone(), false).iter().map(|r| r.listed.unit).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(select(rows, true).iter().map(|r| r.listed.unit).collect::<Vec<_>>(), [1, 2, 7]);
    }

    #[test]
    fn json_object() {
        assert_eq!(json(&[]), "{\"mount_md\": []}\n");
        let j = json(&[row(3, Whose::MountMd), row(4, Whose::Unknown)]);
        assert!(j.starts_with("{\"mount_md\": [\n  {"), "{j}");
        assert!(j.contains(
            r#"{"device": "/dev/loop3", "unit": 3, "image": "/srv/a b.img", "deleted": false, "mountpoint": "/j/x", "type": "ext4", "size": 1073741824, "fs_size": 1006632960, "used": 4096, "available": 940000000, "readonly": false, "direct_io": true, "owner": "mount_md", "mark": "mount_md:/j/x", "crypt": null}"#
        ), "{j}");
        assert!(j.contains(
            r#""mountpoint": null, "type": null, "size": 1073741824, "fs_size": null, "used": null, "available": null, "readonly": null, "direct_io": false, "owner": null, "mark": null, "crypt": null}"#
        ), "{j}");
    }
}
