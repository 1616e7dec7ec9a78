//! The parser's view of the machine: user/group databases, the umask, and
//! whether this process may attach disks and mount.
//! Below the command line (which asks through [`Host`]) and beside the
//! `-w` look-up trait it extends ([`IdLookup`]).
use crate::owner::IdLookup;
use nix::sys::stat::{umask, Mode};
use nix::unistd::{Group, User};

/// What the parser needs from the machine: user and group names, and the
/// umask that symbolic `-p` modes without a `who` honour.
pub trait Host: IdLookup {
    fn umask(&self) -> u32;
    /// Why this process cannot attach disks or mount (`mount_md runs as
    /// uid 1000`), or `None` when it can: said before anything is looked
    /// at, so a normal user is not sent after a device name.
    fn unprivileged(&self) -> Option<String> {
        None
    }
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

    /// Root can; on Linux so can a process with `CAP_SYS_ADMIN` (21) in its
    /// effective set (include/uapi/linux/capability.h), as
    /// /proc/self/status shows it. On FreeBSD /dev/mdctl and nmount(2) of
    /// a disk are root's (a jail's root included, where allowed).
    fn unprivileged(&self) -> Option<String> {
        let euid = nix::unistd::geteuid();
        if euid.is_root() {
            return None;
        }
        #[cfg(target_os = "linux")]
        {
            let status = std::fs::read("/proc/self/status").unwrap_or_default();
            let eff = status
                .split(|&b| b == b'\n')
                .find_map(|l| l.strip_prefix(b"CapEff:"))
                .and_then(|v| u64::from_str_radix(std::str::from_utf8(v).ok()?.trim(), 16).ok());
            if eff.unwrap_or(0) & (1 << 21) != 0 {
                return None;
            }
        }
        Some(format!("mount_md runs as uid {euid}"))
    }
}
