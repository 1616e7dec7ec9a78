//! `--encrypt=geli` on FreeBSD: geli(8) (sbin/geom/class/eli) writes its
//! metadata on the md unit (`geli init`) and attaches it (`geli attach`),
//! giving `/dev/mdN.eli`; format, check and mount go through that node;
//! detaching the disk detaches the provider first. geli is run through
//! [`MdSys::run_geli`] as newfs is run, the key on its standard input.
use super::mdsys::MdSys;
use super::{named, FreeBsd};
use crate::crypt::{self, Scheme};
use crate::error::{Error, Result};
use crate::plan::Crypt;
use crate::platform::keyed::{self, Key};
use std::path::{Path, PathBuf};

impl<S: MdSys> FreeBsd<S> {
    /// What a plan's crypt step needs, said before anything is attached:
    /// geli (LUKS2 is Linux's), and a key file that passes the rules or a
    /// terminal to ask on.
    pub(super) fn check_crypt(&mut self, c: &Crypt) -> Result<()> {
        if c.encrypt.scheme != Scheme::Geli {
            return Err(Error::plain("--encrypt=luks2 is Linux's; on FreeBSD use --encrypt=geli"));
        }
        match &c.encrypt.key_file {
            Some(path) => self.sys.open_key(path).map(drop),
            None if keyed::stdin_is_terminal() => Ok(()),
            None => Err(Error::plain(keyed::NO_KEY)),
        }
    }

    fn key(&mut self, c: &Crypt, what: &str, confirm: bool) -> Result<()> {
        if self.key.is_none() {
            self.key = Some(match &c.encrypt.key_file {
                Some(path) => self.sys.open_key(path)?,
                None => Key::Passphrase(keyed::ask_passphrase(what, confirm)?),
            });
        }
        Ok(())
    }

    /// `geli init` on the unit of an image this run created.
    pub(super) fn crypt_header(&mut self, device: &Path, shown: &str, c: &Crypt) -> Result<()> {
        self.key(c, shown, true)?;
        let key = self.key.as_ref().expect("set above");
        let args = crypt::geli_init_argv(&node_name(device), key.geli());
        self.sys.run_geli(&args, Some(key)).map_err(|e| named(e, shown))
    }

    /// `geli attach` on the unit; answers `/dev/mdN.eli` once it is there.
    pub(super) fn crypt_open(&mut self, device: &Path, shown: &str, c: &Crypt) -> Result<PathBuf> {
        self.key(c, shown, false)?;
        let key = self.key.as_ref().expect("set above");
        let unit = node_name(device);
        let args = crypt::geli_attach_argv(&unit, key.geli(), c.read_only);
        self.sys.run_geli(&args, Some(key)).map_err(|e| named(e, shown))?;
        let node = Path::new("/dev").join(crypt::geli_provider(&unit));
        if let Err(e) = self.sys.wait_for_node(&node) {
            let _ = self.close_layer(&node);
            return Err(e);
        }
        Ok(node)
    }

    /// `geli detach mdN.eli`.
    pub(super) fn close_layer(&mut self, node: &Path) -> Result<()> {
        self.sys.run_geli(&crypt::geli_detach_argv(&node_name(node)), None)
    }

    /// Detaches the geli provider on md unit `unit` (a unit of ours), if
    /// one is attached.
    pub(super) fn close_geli_on(&mut self, unit: u32) -> Result<()> {
        self.sys.geli_on(unit)?.map_or(Ok(()), |eli| self.close_layer(&Path::new("/dev").join(&eli.name)))
    }
}

/// `/dev/md3` → `md3`, `/dev/md3.eli` → `md3.eli`.
fn node_name(device: &Path) -> String {
    device.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
