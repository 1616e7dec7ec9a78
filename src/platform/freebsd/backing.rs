//! Which file backs an md(4) unit and which unit a mount is of, told by
//! what the kernel holds: the mark, the GEOM ident, the file MDIOCQUERY
//! reports (stat'ed, by device and inode), and a mount's `f_mntfromname`
//! by `st_rdev`.
use super::geom::{self, md_unit_of, vnode_ident, FileId, MdUnit, MountEntry};
use super::{abi, posix, FreeBsd, MdSys};
use crate::error::Result;
use crate::mark;
use std::path::{Path, PathBuf};

/// The file a unit names whole, with no look-up: by our mark, else by a
/// whole ident. md(4) holds the vnode it opened, whatever the path it
/// recorded names by now.
pub(super) fn exact_id(u: &MdUnit) -> Option<FileId> {
    u.label.as_deref().and_then(mark::file).or_else(|| u.ident.as_deref().and_then(geom::parse_ident))
}

impl<S: MdSys> FreeBsd<S> {
    /// The device and inode of the file a vnode unit holds: from our mark
    /// or a whole ident (`exact_id`), else as `ident_file` confirms it (the
    /// confxml `<file>` when the query fails).
    pub fn backing_id(&mut self, u: &MdUnit) -> Option<FileId> {
        if u.md_type != Some(abi::MD_VNODE) {
            return None;
        }
        exact_id(u).or_else(|| self.ident_file(u.unit, u.ident.as_deref(), u.file.as_deref()))
    }

    /// The file a vnode unit holds by its `ident`, never by the mark (right
    /// after MDIOCATTACH the mark only says what was asked for): a whole
    /// ident names it; with a cut one (ZFS) or none at all (an old kernel),
    /// the file MDIOCQUERY reports (exact bytes; `listed` when the query
    /// fails), stat'ed, kept only if it gives back the same ident.
    pub(super) fn ident_file(&mut self, unit: u32, ident: Option<&str>, listed: Option<&Path>) -> Option<FileId> {
        if let Some(id) = ident.and_then(geom::parse_ident) {
            return Some(id);
        }
        let (_, id) = self.queried_file(unit, listed)?;
        ident.is_none_or(|ident| ident == vnode_ident(id)).then_some(id)
    }

    /// Where the file `unit` was attached with is now, and its identity,
    /// by the path MDIOCQUERY reports (`listed` when the query fails) as
    /// [`FreeBsd::unit_file`] finds it.
    pub(super) fn queried_file(&mut self, unit: u32, listed: Option<&Path>) -> Option<(PathBuf, FileId)> {
        let file = self.sys.query(unit).map(|q| q.file).unwrap_or_else(|_| listed.map(Path::to_path_buf))?;
        self.unit_file(&file)
    }

    /// Where the file a unit was attached with is now, and its identity,
    /// from the path md(4) recorded. An image `--create` made was attached
    /// under its temporary name and renamed after newfs, and md.c
    /// `mdcreate_vnode` keeps the path it was given: when that name is
    /// gone, the published name ([`posix::published_name`]) is used.
    pub(super) fn unit_file(&self, file: &Path) -> Option<(PathBuf, FileId)> {
        let stat = |path: PathBuf| self.sys.stat_file(&path).ok().map(|id| (path, id));
        stat(file.to_path_buf()).or_else(|| stat(posix::published_name(file)?))
    }

    /// The unit a mount is of: its type lives on a disk, and the node its
    /// `f_mntfromname` names is, by `st_rdev`, an md unit or a provider
    /// stacked on one. A tmpfs whose source text reads `/dev/md0` is not.
    pub fn mount_unit(&mut self, m: &MountEntry) -> Option<u32> {
        if !m.on_disk() {
            return None;
        }
        md_unit_of(&self.sys.device_name(&m.from).ok().flatten()?)
    }

    /// Mounts with the unit each is of.
    pub(super) fn mounts_with_units(&mut self) -> Result<Vec<(MountEntry, Option<u32>)>> {
        let mounts = self.sys.mounts()?;
        let units: Vec<_> = mounts.iter().map(|m| self.mount_unit(m)).collect();
        Ok(mounts.into_iter().zip(units).collect())
    }
}
