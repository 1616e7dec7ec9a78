//! What the FreeBSD backend learns about md units that already exist, and
//! the plain functions that read it (tested on any host):
//!
//! * [`parse_confxml`] reads the MD class out of `kern.geom.confxml`: every
//!   unit with its type, length, access, backing file, ident and the GEOM
//!   access counts of its provider, in one snapshot, without opening any
//!   `/dev/mdN` (an open would itself count as a user). There is no list
//!   ioctl any more (MDIOCLIST is gone since FreeBSD 14); `mdconfig -l`
//!   walks the same GEOM tree.
//! * [`vnode_ident`] is the ident md.c gives a vnode unit:
//!   `MD-DEV<va_fsid>-INO<va_fileid>`. FreeBSD's stat(2) fills `st_dev`
//!   from `va_fsid` and `st_ino` from `va_fileid` (vn_stat), so it is
//!   rebuilt from the `fstat` of the image we hold open. (vn_stat falls
//!   back to `f_fsid.val[0]` when a file system leaves `va_fsid` unset;
//!   UFS, ZFS and tmpfs set it. On one that did not, the check after the
//!   attach would fail safe: the unit is detached and the mount refused.)
//! * [`md_unit_of`] says which unit a mount's `from` names.
use super::abi::{MD_IDENT_LEN, MD_MALLOC, MD_NULL, MD_PRELOAD, MD_SWAP, MD_VNODE};
use libc::c_uint;
use std::path::PathBuf;

/// A file's identity: `st_dev`, `st_ino`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

/// One md unit as `kern.geom.confxml` shows it. Fields an older kernel
/// does not print are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MdUnit {
    pub unit: u32,
    pub md_type: Option<c_uint>,
    /// `<length>`, bytes.
    pub mediasize: Option<u64>,
    /// `<access>read-only</access>`.
    pub read_only: Option<bool>,
    /// `<ident>`, vnode units only.
    pub ident: Option<String>,
    /// `<file>`: the path the kernel opened (as given at attach).
    pub file: Option<PathBuf>,
    /// The provider's `<mode>rXwYeZ</mode>`: how many hold it open.
    pub access: Option<(u32, u32, u32)>,
}

impl MdUnit {
    /// Someone (a mount, a GEOM consumer such as uzip or a partition, a
    /// process with `/dev/mdN` open) holds the unit open.
    pub fn held_open(&self) -> bool {
        self.access.is_some_and(|(r, w, e)| r + w + e > 0)
    }
}

/// What MDIOCQUERY reports about a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitQuery {
    pub md_type: c_uint,
    /// The unit's flags: for a vnode unit only MD_ASYNC, MD_CACHE,
    /// MD_FORCE, MD_VERIFY and MD_READONLY survive the attach.
    pub options: c_uint,
    pub mediasize: u64,
    /// 0 is never reported (the kernel turns it into 512).
    pub sectorsize: u32,
    /// The backing file's path as attached (vnode units).
    pub file: Option<PathBuf>,
}

/// One mounted file system, as getfsstat(2) lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// `f_mntfromname`: `/dev/md3`, `/dev/md3.uzip`, `tmpfs`, `zroot/usr`.
    pub from: String,
    /// `f_mntonname`.
    pub on: PathBuf,
}

/// The ident md.c builds for a vnode unit backed by the file `id`, cut to
/// the 31 characters its `char ident[32]` keeps.
pub fn vnode_ident(id: FileId) -> String {
    let mut s = format!("MD-DEV{}-INO{}", id.dev, id.ino);
    s.truncate(MD_IDENT_LEN - 1);
    s
}

/// Whether a unit's ident says it is backed by the file `id`.
pub fn ident_matches(ident: &str, id: FileId) -> bool {
    ident == vnode_ident(id)
}

/// The md unit a mount's `from` names: `/dev/md3`, `/dev/md3.uzip`,
/// `/dev/md3p1`, `md3` → 3. Anything else (`/dev/mdctl`, `/dev/ada0p2`,
/// `tmpfs`) → `None`.
pub fn md_unit_of(from: &str) -> Option<u32> {
    let rest = from.strip_prefix("/dev/").unwrap_or(from).strip_prefix("md")?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || (digits > 1 && rest.starts_with('0')) {
        return None;
    }
    rest[..digits].parse().ok()
}

/// The md units in a `kern.geom.confxml` document (the `MD` class's
/// providers). Plain string handling: the document is machine-written by
/// GEOM with one element per line and escaped text.
pub fn parse_confxml(xml: &str) -> Vec<MdUnit> {
    let Some(class) = blocks(xml, "<class id=", "</class>").find(|b| tag(b, "name") == Some("MD")) else {
        return Vec::new();
    };
    let mut units = Vec::new();
    for p in blocks(class, "<provider id=", "</provider>") {
        let Some(unit) = tag(p, "name").and_then(|n| n.strip_prefix("md")).and_then(|n| n.parse().ok()) else {
            continue;
        };
        let config = blocks(p, "<config>", "</config>").next().unwrap_or("");
        units.push(MdUnit {
            unit,
            md_type: tag(config, "type").and_then(type_from_name),
            mediasize: tag(config, "length").or_else(|| tag(p, "mediasize")).and_then(|v| v.trim().parse().ok()),
            read_only: tag(config, "access").map(|a| a == "read-only"),
            ident: tag(config, "ident").map(unescape),
            file: tag(config, "file").map(|f| PathBuf::from(unescape(f))),
            access: tag(p, "mode").and_then(parse_mode),
        });
    }
    units.sort_by_key(|u| u.unit);
    units
}

fn type_from_name(name: &str) -> Option<c_uint> {
    Some(match name {
        "malloc" => MD_MALLOC,
        "preload" => MD_PRELOAD,
        "vnode" => MD_VNODE,
        "swap" => MD_SWAP,
        "null" => MD_NULL,
        _ => return None,
    })
}

/// Every `start … end` span of `text` (not nested), `start` included.
fn blocks<'a>(text: &'a str, start: &'a str, end: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let mut rest = text;
    std::iter::from_fn(move || {
        let from = rest.find(start)?;
        let len = rest[from..].find(end)?;
        let block = &rest[from..from + len];
        rest = &rest[from + len + end.len()..];
        Some(block)
    })
}

/// The text of the first `<name>…</name>` in `block`.
fn tag<'a>(block: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let from = block.find(&open)? + open.len();
    let len = block[from..].find(&close)?;
    Some(&block[from..from + len])
}

/// `r1w1e1` → (1, 1, 1).
fn parse_mode(mode: &str) -> Option<(u32, u32, u32)> {
    let rest = mode.trim().strip_prefix('r')?;
    let (r, rest) = rest.split_once('w')?;
    let (w, e) = rest.split_once('e')?;
    Some((r.parse().ok()?, w.parse().ok()?, e.parse().ok()?))
}

/// Undoes GEOM's XML escaping: the five named entities and `&#N;`/`&#xN;`.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let decoded = rest.find(';').and_then(|end| {
            let c = match &rest[1..end] {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                e => {
                    let n = match e.strip_prefix("#x").or_else(|| e.strip_prefix("#X")) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => e.strip_prefix('#')?.parse().ok()?,
                    };
                    char::from_u32(n)?
                }
            };
            Some((c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
