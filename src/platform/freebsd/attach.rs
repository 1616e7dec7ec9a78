//! MDIOCATTACH checked (the unit backed by the very file the run holds and
//! carrying its mark, or detached again), MDIOCDETACH with EBUSY retried,
//! and the mounted root opened after nmount(2).
use super::geom::{vnode_ident, FileId};
use super::mdsys::{MdSys, DETACH_POLL, DETACH_TRIES};
use super::requests::{device_path, AttachRequest, NmountRequest};
use super::{Device, FreeBsd, Mounted, Note};
use crate::error::{Error, Result};
use nix::errno::Errno;
use std::path::{Path, PathBuf};

impl<S: MdSys> FreeBsd<S> {
    /// After MDIOCATTACH of a vnode disk: the kernel opened the file by
    /// path, so make sure that path still led to the file we hold. On a
    /// mismatch (or if it cannot be told) the unit is detached again.
    /// Waits for the node on the way, so the WaitForNode step has nothing
    /// left to wait for.
    pub(super) fn verify_backing(&mut self, dev: &Device, img_path: &Path, id: FileId) -> Result<()> {
        let checked = self.sys.wait_for_node(&dev.path).and_then(|()| {
            let ident = match self.sys.disk_ident(dev.unit) {
                Ok(ident) => Some(ident),
                // A kernel without idents: the path it recorded, stat'ed.
                Err(e) if matches!(e.errno(), Some(Errno::ENOTTY | Errno::EOPNOTSUPP)) => None,
                Err(e) => return Err(e),
            };
            Ok(self.ident_file(dev.unit, ident.as_deref(), None) == Some(id))
        });
        self.or_detach(dev.unit, checked, || {
            format!("{}: replaced while attaching; detached {}", img_path.display(), dev.path.display())
        })
    }

    /// After MDIOCATTACH: the mark reads back (MDIOCQUERY's `md_label`). A
    /// kernel before 12.0 has no `md_label` in its `struct md_ioctl`,
    /// accepts the longer struct and keeps no label, so the unit would look
    /// like another tool's to every later run (`-u` in exec.release would
    /// refuse it at every stop): the unit is detached again and the attach
    /// fails.
    pub(super) fn verify_mark(&mut self, dev: &Device, want: &[u8]) -> Result<()> {
        let kept = self.sys.query(dev.unit).map(|q| q.label.as_deref() == Some(want));
        self.or_detach(dev.unit, kept, || {
            format!(
                "{}: the kernel did not keep mount_md's mark (md_label), which needs FreeBSD 12.0 or later; detached",
                dev.path.display()
            )
        })
    }

    /// A check after MDIOCATTACH that did not pass (`failure` says why) or
    /// could not be made: the unit is detached again.
    fn or_detach(&mut self, unit: u32, checked: Result<bool>, failure: impl FnOnce() -> String) -> Result<()> {
        let e = match checked {
            Ok(true) => return Ok(()),
            Ok(false) => Error::plain(failure()),
            Err(e) => e,
        };
        if let Err(d) = self.detach_settled(unit, false) {
            self.notes.push(Note::Warning(format!("rollback: {d}")));
        }
        Err(e)
    }

    /// MDIOCATTACH of `req`. A labelled unit is then checked to carry
    /// the label asked for (`verify_mark`), and for a vnode disk (`vnode`:
    /// the path given and the identity of the file we hold) to hold that
    /// very file (`verify_backing`); each detaches it again if not. Used by
    /// the mount path and by `-r`'s offline attach.
    pub fn attach_checked(&mut self, req: &AttachRequest, vnode: Option<(&Path, FileId)>) -> Result<Device> {
        let unit = self.sys.attach(req)?;
        let path = device_path(unit);
        self.notes.push(Note::Debug(format!("attached {} {}", path.display(), req.describe())));
        let device = Device { unit, path, read_only: req.read_only() };
        if let Some(label) = &req.label {
            self.verify_mark(&device, label.as_bytes())?;
        }
        if let Some((given, id)) = vnode {
            self.verify_backing(&device, given, id)?;
            self.notes.push(Note::Debug(format!(
                "{} is backed by {} ({})",
                device.path.display(),
                given.display(),
                vnode_ident(id)
            )));
        }
        Ok(device)
    }

    /// MDIOCDETACH; EBUSY while no mount uses the unit (GEOM re-tasting it
    /// after the last writer closed) is retried, bounded (see
    /// [`DETACH_TRIES`]). ENOENT and other errors are returned at once.
    pub fn detach_settled(&mut self, unit: u32, force: bool) -> Result<()> {
        let mut tries = 0;
        loop {
            let Err(e) = self.sys.detach(unit, force) else { return Ok(()) };
            tries += 1;
            if e.errno() != Some(Errno::EBUSY) || force || tries >= DETACH_TRIES {
                return Err(e);
            }
            if self.mounts_with_units()?.iter().any(|(_, u)| *u == Some(unit)) {
                return Err(e);
            }
            if tries == 1 {
                self.notes.push(Note::Debug(format!(
                    "{}: busy with no mount on it (GEOM re-taste?); retrying for up to {} ms",
                    device_path(unit).display(),
                    DETACH_POLL.as_millis() * u128::from(DETACH_TRIES)
                )));
            }
            self.sys.pause(DETACH_POLL);
        }
    }

    /// nmount(2) of `req` on `fspath` (its parent pinned first), then the
    /// new root opened through the pinned parent and the mount's flags read
    /// through it; if either fails, unmount again (the executor only undoes
    /// mounts it was told about) and report the first error.
    pub(super) fn nmount(&mut self, req: &NmountRequest, fspath: PathBuf) -> Result<Mounted<S::Root>> {
        let pin = self.sys.pin_mount_point(&fspath)?;
        self.sys.nmount(req)?;
        let opened = self.sys.open_mounted_root(pin, &fspath).and_then(|root| {
            let read_only = self.sys.mounted_read_only(&root, &fspath)?;
            Ok((root, read_only))
        });
        match opened {
            Ok((root, read_only)) => Ok(Mounted { mount_point: fspath, read_only, root }),
            Err(e) => {
                if let Err(u) = self.sys.unmount(&fspath, false) {
                    self.notes.push(Note::Warning(format!("rollback: {u}")));
                }
                Err(e)
            }
        }
    }
}
