//! The parser's view of the machine: user/group databases and the umask.
//! Below the command line (which asks through [`Host`]) and beside the
//! `-w` look-up trait it extends ([`IdLookup`]).
use crate::owner::IdLookup;
use nix::sys::stat::{umask, Mode};
use nix::unistd::{Group, User};

/// What the parser needs from the machine: user and group names, and the
/// umask that symbolic `-p` modes without a `who` honour.
pub trait Host: IdLookup {
    fn umask(&self) -> u32;
}

/// Reads the real password and group databases.
pub struct SystemHost;

impl IdLookup for SystemHost {
    fn uid_of(&self, name: &str) -> Option<u32> {
        User::from_name(name).ok().flatten().map(|u| u.uid.as_raw())
    }
    fn gid_of(&self, name: &str) -> Option<u32> {
        Group::from_name(name).ok().flatten().map(|g| g.gid.as_raw())
    }
}

impl Host for SystemHost {
    fn umask(&self) -> u32 {
        // umask(2) can only be read by setting it; put it straight back.
        let old = umask(Mode::from_bits_truncate(0o022));
        umask(old);
        // mode_t is u32 on Linux but u16 on FreeBSD.
        #[allow(clippy::useless_conversion)]
        u32::from(old.bits())
    }
}
