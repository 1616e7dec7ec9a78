//! `--encrypt=luks2` on Linux: cryptsetup(8) opens a dm-crypt target named
//! [`crate::crypt::dm_name`] on the loop unit; format, check and mount go
//! through `/dev/mapper/<name>`; detaching the disk closes it first.
//! cryptsetup is run as mkfs is ([`keyed::run_checked`]: absolute path,
//! cleared environment, the key on standard input, its lines in the error).
use super::dmcrypt::Layer;
use super::sys::LoopSys;
use super::{Linux, NODE_WAIT};
use crate::crypt::{self, Scheme};
use crate::error::{Error, Result};
use crate::plan::Crypt;
use crate::platform::keyed::{self, Key};
use crate::platform::posix;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What a plan's crypt step needs of this system, said before anything
/// is created or attached (and under `-N`): LUKS2 (geli is FreeBSD's), a
/// key (a key file that passes the rules, or a terminal to ask on),
/// device-mapper in the kernel, and cryptsetup.
pub fn check(c: &Crypt) -> Result<()> {
    if c.encrypt.scheme != Scheme::Luks2 {
        return Err(Error::plain("--encrypt=geli is FreeBSD's; on Linux use --encrypt=luks2"));
    }
    match &c.encrypt.key_file {
        Some(path) => keyed::open_key_file(path).map(drop)?,
        None if keyed::stdin_is_terminal() => {}
        None => return Err(Error::plain(keyed::NO_KEY)),
    }
    if let Some(why) = super::dmcrypt::missing_device_mapper() {
        return Err(Error::plain(why));
    }
    posix::program("cryptsetup").map(drop)
}

impl<S: LoopSys> Linux<S> {
    /// The key, opened (or asked for) once per run; `confirm` asks a new
    /// passphrase twice.
    fn key(&mut self, c: &Crypt, what: &str, confirm: bool) -> Result<&Key> {
        if self.key.is_none() {
            self.key = Some(match &c.encrypt.key_file {
                Some(path) => keyed::open_key_file(path)?,
                None => Key::Passphrase(keyed::ask_passphrase(what, confirm)?),
            });
        }
        Ok(self.key.as_ref().expect("set above"))
    }

    /// `cryptsetup luksFormat` on the unit of an image this run created.
    pub(super) fn crypt_header(&mut self, device: &Path, shown: &str, c: &Crypt) -> Result<()> {
        let program = posix::program("cryptsetup")?;
        let key = self.key(c, shown, true)?;
        let args = crypt::luks_format_argv(device, c.encrypt.kdf.as_ref());
        keyed::run_checked(&program, &args, Some(key), format!("{shown}: cryptsetup luksFormat")).map(drop)
    }

    /// `cryptsetup open` on the unit; answers `/dev/mapper/<name>` once
    /// its node is there.
    pub(super) fn crypt_open(&mut self, device: &Path, shown: &str, c: &Crypt, mount_point: &Path) -> Result<PathBuf> {
        let program = posix::program("cryptsetup")?;
        let name = crypt::dm_name(mount_point.as_os_str().as_bytes());
        let key = self.key(c, shown, false)?;
        let args = crypt::luks_open_argv(device, &name, c.read_only);
        keyed::run_checked(&program, &args, Some(key), format!("{shown}: cryptsetup open"))?;
        let node = Path::new("/dev/mapper").join(&name);
        if let Err(e) = posix::wait_for_node(&node, NODE_WAIT) {
            let _ = close_layer(&node);
            return Err(e);
        }
        self.debug(format!("{shown}: crypt layer {}", node.display()));
        Ok(node)
    }
}

/// `cryptsetup close` of a layer mount_md opened (`/dev/mapper/<name>`).
pub fn close_layer(node: &Path) -> Result<()> {
    let name = node.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let program = posix::program("cryptsetup")?;
    keyed::run_checked(&program, &crypt::luks_close_argv(&name), None, format!("cryptsetup close {name}")).map(drop)
}

/// Whether the dm name `name` is the one mount_md gives the mount point
/// `mark` names: for a whole mark by the mount point, for a cut one by the
/// hash it carries (the same hash [`crypt::dm_name`] uses).
pub fn mark_names(mark: &crate::mark::Mark, name: &[u8]) -> bool {
    match (mark.truncated, mark.hash) {
        (false, _) => crypt::names(name, &mark.mount_point),
        (true, Some(h)) => name == format!("{}{h:016x}", crypt::DM_PREFIX).as_bytes(),
        (true, None) => false,
    }
}

/// The node of the crypt layer mount_md opened on the loop unit `u`, if
/// one is open (`--list`).
pub fn layer_of(u: &crate::platform::UnitInfo) -> Option<PathBuf> {
    let crate::platform::Owner::Ours(mark) = &u.owner else { return None };
    ours_on(u.device.unit, Some(mark)).ok()?.first().map(Layer::node)
}

/// Whether `u` carries a crypt layer of ours ([`layer_of`]) that nobody
/// has open: an exclusive open of its node succeeds only then (a mount
/// claims it, block/bdev.c `bd_prepare_to_claim`).
pub fn idle_layer(u: &crate::platform::UnitInfo) -> bool {
    use nix::fcntl::OFlag;
    layer_of(u).is_some_and(|node| {
        nix::fcntl::open(&node, OFlag::O_RDONLY | OFlag::O_EXCL | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
            .is_ok()
    })
}

/// Closes the dm-crypt targets with a name of mount_md's on loop unit
/// `unit`, which the lifecycle detaches only when it is ours.
pub fn close_ours_on(unit: u32) -> Result<()> {
    ours_on(unit, None)?.iter().try_for_each(|l| close_layer(&l.node()))
}

/// Closes the crypt layers mount_md opened on the loop unit `u`: only a
/// dm-crypt target whose name is the one for the mount point the unit's
/// mark names. Others' targets are left; the unit's detach then fails on
/// them as busy.
pub fn close_ours(u: &crate::platform::UnitInfo) -> Result<()> {
    let crate::platform::Owner::Ours(mark) = &u.owner else { return Ok(()) };
    ours_on(u.device.unit, Some(mark))?.iter().try_for_each(|l| close_layer(&l.node()))
}

/// The dm-crypt targets with a name of mount_md's on loop unit `unit`,
/// found in sysfs ([`super::dmcrypt::layers_over`]); with `mark`, only
/// the one named for the mount point that mark names.
fn ours_on(unit: u32, mark: Option<&crate::mark::Mark>) -> Result<Vec<Layer>> {
    let loop_name = format!("loop{unit}");
    let layers = super::dmcrypt::layers_over(Path::new("/sys"), &loop_name)
        .map_err(|e| crate::error::from_io(format!("/sys/block/{loop_name}/holders"), &e))?;
    let ours =
        |l: &Layer| l.crypt.is_some() && crypt::is_ours_name(&l.name) && mark.is_none_or(|m| mark_names(m, &l.name));
    Ok(layers.into_iter().filter(ours).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mark::{decode, encode, LINUX_CAPACITY};

    /// A layer is tied to the mount point the unit's mark names, whole or
    /// cut (by the hash the cut mark keeps).
    #[test]
    fn marks_name_their_layers() {
        let short = b"/srv/ct/web1".to_vec();
        let long = [b"/srv/".to_vec(), vec![b'x'; 200]].concat();
        for mp in [short, long] {
            let mark = decode(&encode(&mp, LINUX_CAPACITY), LINUX_CAPACITY).unwrap();
            assert!(mark_names(&mark, crypt::dm_name(&mp).as_bytes()));
            assert!(!mark_names(&mark, crypt::dm_name(b"/elsewhere").as_bytes()));
        }
    }
}
