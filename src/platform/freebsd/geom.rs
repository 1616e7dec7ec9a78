//! What the FreeBSD backend learns about md units that already exist, and
//! the plain functions that read it (tested on any host):
//!
//! * [`parse_confxml`] reads the MD class out of `kern.geom.confxml`: every
//!   unit with its type, length, access, backing file, ident and the GEOM
//!   access counts of its provider (a unit being destroyed, whose geom
//!   withers, is left out), in one snapshot, without opening any
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
//!   md.c's `char ident[32]` keeps 31 characters: an ident shorter than
//!   that is whole and names its file ([`parse_ident`]); a 31-character one
//!   may have been cut (on ZFS `st_dev` has 19–20 digits and only a digit
//!   or two of the inode survive), so equality is only a candidate that the
//!   backend confirms through the unit's file (MDIOCQUERY `md_file`,
//!   stat'ed, compared by device and inode: [`super::FreeBsd::backing_id`]).
//! * [`md_unit_of`] says which unit a device name (`md3`, `md3.uzip`) is.
//! * Text in the document is escaped by sys/geom/geom_dump.c
//!   `g_conf_cat_escaped`/`g_conf_printf_escaped`: `& < > ' "` and every
//!   byte above 0x7e become `&#xNN;` (one *byte* each), other control bytes
//!   but tab, newline and return become `?`. [`parse_confxml`] reads bytes
//!   and decodes `&#xNN;` back to the byte, so a non-ASCII file name comes
//!   back exactly (a name with a control byte does not: MDIOCQUERY has it).
use super::abi::{MD_IDENT_LEN, MD_TYPES};
use libc::c_uint;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

pub use crate::unit::FileId;

/// One md unit as `kern.geom.confxml` shows it: every unit at once, with
/// how many hold it open. Fields an older kernel does not print are
/// `None`. The backend builds each [`crate::unit::UnitInfo`] from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MdUnit {
    pub unit: u32,
    pub md_type: Option<c_uint>,
    /// `<access>read-only</access>`.
    pub read_only: Option<bool>,
    /// `<ident>`, vnode units only.
    pub ident: Option<String>,
    /// `<file>`: the path the kernel opened (as given at attach).
    pub file: Option<PathBuf>,
    /// `<label>`: `md_label` as given at attach (empty when none was).
    pub label: Option<Vec<u8>>,
    /// The provider's `<mode>rXwYeZ</mode>`: how many hold it open.
    pub access: Option<(u32, u32, u32)>,
}

/// What MDIOCQUERY reports about one unit, asked by number: every field
/// there, and the unit's flags and sector size, which confxml does not
/// give ([`MdUnit`]).
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
    /// `md_label` (kern_mdquery_locked copies it out when asked).
    pub label: Option<Vec<u8>>,
}

/// One mounted file system, as getfsstat(2) lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// `f_mntfromname`: `/dev/md3`, `/dev/md3.uzip`, `tmpfs`, `zroot/usr`.
    /// Only a name: which device it is comes from the `st_rdev` of the node
    /// it names (see `MdSys::device_name`).
    pub from: PathBuf,
    /// `f_mntonname`.
    pub on: PathBuf,
    /// `f_fstypename`: `ufs`, `tmpfs`, `zfs`.
    pub fstype: String,
    /// `f_flags`: `MNT_RDONLY`, `MNT_NOSUID`, … (sys/mount.h).
    pub flags: u64,
    /// `f_fsid.val`: the mount's own id, unique among mounts (the kernel's
    /// `vfs_getnewfsid`); what umount(8) unmounts by (`FSID:%d:%d` with
    /// `MNT_BYFSID`). A non-root caller may be shown zeros.
    pub fsid: [i32; 2],
}

impl MountEntry {
    /// Whether this type keeps a device in `f_mntfromname`
    /// ([`crate::plan::on_a_disk`]). Any other type (tmpfs, nullfs, devfs,
    /// zfs, nfs, …) may carry any text there, `/dev/md0` included, and is
    /// never taken for a unit's mount.
    pub fn on_disk(&self) -> bool {
        crate::plan::on_a_disk(&self.fstype) == Some(true)
    }
}

/// The ident md.c builds for a vnode unit backed by the file `id`, cut to
/// the 31 characters its `char ident[32]` keeps.
pub fn vnode_ident(id: FileId) -> String {
    let mut s = format!("MD-DEV{}-INO{}", id.dev, id.ino);
    s.truncate(MD_IDENT_LEN - 1);
    s
}

/// The file a whole ident names: `MD-DEV90-INO12` → (90, 12). A cut
/// ident (31 characters) names no file for sure: `None`.
pub fn parse_ident(ident: &str) -> Option<FileId> {
    if ident.len() >= MD_IDENT_LEN - 1 {
        return None;
    }
    let (dev, ino) = ident.strip_prefix("MD-DEV")?.split_once("-INO")?;
    let id = FileId { dev: dev.parse().ok()?, ino: ino.parse().ok()? };
    (vnode_ident(id) == ident).then_some(id)
}

/// The md unit a device name or path names: `/dev/md3`, `/dev/md3.uzip`,
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
pub fn parse_confxml(xml: impl AsRef<[u8]>) -> Vec<MdUnit> {
    // Markup is ASCII; only the escaped text may hold other bytes, and it
    // is decoded from its escapes, never from this lossy view.
    let text = String::from_utf8_lossy(xml.as_ref());
    let Some(class) = blocks(&text, "<class id=", "</class>").find(|b| tag(b, "name") == Some("MD")) else {
        return Vec::new();
    };
    let mut units = Vec::new();
    // A geom being destroyed (md.c `mddestroy` → `g_wither_geom`) says
    // `<wither/>` where its config would be, and its provider has no
    // `<config>` (geom_dump.c `g_conf_geom`, `g_conf_provider`): md(4) has
    // already let go of the unit, so it is no unit of anyone's.
    let live = blocks(class, "<geom id=", "</geom>").filter(|g| !g.contains("<wither/>"));
    for p in live.flat_map(|g| blocks(g, "<provider id=", "</provider>")) {
        let Some(unit) = tag(p, "name").and_then(|n| n.strip_prefix("md")).and_then(|n| n.parse().ok()) else {
            continue;
        };
        let config = blocks(p, "<config>", "</config>").next().unwrap_or("");
        units.push(MdUnit {
            unit,
            md_type: tag(config, "type").and_then(type_from_name),
            read_only: tag(config, "access").map(|a| a == "read-only"),
            ident: tag(config, "ident").map(|i| String::from_utf8_lossy(&unescape(i)).into_owned()),
            file: tag(config, "file").map(|f| PathBuf::from(OsString::from_vec(unescape(f)))),
            label: tag(config, "label").map(unescape),
            access: tag(p, "mode").and_then(parse_mode),
        });
    }
    units.sort_by_key(|u| u.unit);
    units
}

fn type_from_name(name: &str) -> Option<c_uint> {
    MD_TYPES.iter().find(|(.., word)| *word == name).map(|(t, ..)| *t)
}

/// Every `start … end` span of `text` (not nested), `start` included.
pub(super) fn blocks<'a>(text: &'a str, start: &'a str, end: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let mut rest = text;
    std::iter::from_fn(move || {
        let from = rest.find(start)?;
        let (block, after) = rest[from..].split_once(end)?;
        rest = after;
        Some(block)
    })
}

/// The text of the first `<name>…</name>` in `block`.
pub(super) fn tag<'a>(block: &'a str, name: &str) -> Option<&'a str> {
    let (_, rest) = block.split_once(&format!("<{name}>"))?;
    rest.split_once(&format!("</{name}>")).map(|(text, _)| text)
}

/// `r1w1e1` → (1, 1, 1).
pub(super) fn parse_mode(mode: &str) -> Option<(u32, u32, u32)> {
    let rest = mode.trim().strip_prefix('r')?;
    let (r, rest) = rest.split_once('w')?;
    let (w, e) = rest.split_once('e')?;
    Some((r.parse().ok()?, w.parse().ok()?, e.parse().ok()?))
}

/// Undoes GEOM's XML escaping (geom_dump.c `g_conf_cat_escaped`): the
/// five named entities and `&#xNN;`/`&#NN;`, each of which stands for one
/// byte, not a code point.
fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut rest = s;
    while let Some((text, after)) = rest.split_once('&') {
        out.extend_from_slice(text.as_bytes());
        let decoded = after.split_once(';').and_then(|(entity, tail)| {
            let b = match entity {
                "amp" => b'&',
                "lt" => b'<',
                "gt" => b'>',
                "quot" => b'"',
                "apos" => b'\'',
                e => match e.strip_prefix("#x").or_else(|| e.strip_prefix("#X")) {
                    Some(hex) => u8::from_str_radix(hex, 16).ok()?,
                    None => e.strip_prefix('#')?.parse().ok()?,
                },
            };
            Some((b, tail))
        });
        // Not an entity: the `&` stays as it is.
        let (b, tail) = decoded.unwrap_or((b'&', after));
        out.push(b);
        rest = tail;
    }
    out.extend_from_slice(rest.as_bytes());
    out
}
