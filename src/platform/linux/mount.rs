//! `-o` options → mount(2) flags and data, the way util-linux splits them
//! (libmount's optmap): the generic VFS options become `MS_*` bits, options
//! only mount(8) itself understands are dropped, and everything else goes
//! to the file system in the comma-separated data string, in order.
use nix::mount::MsFlags;

const NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(256); // MS_NOSYMFOLLOW, Linux 5.10

/// The VFS options (mount(8) "FILESYSTEM-INDEPENDENT MOUNT OPTIONS"): the
/// names that set each flag, the names that clear it, and the flag's own
/// name for `-N`/`-X` lines; in the flags' bit order.
const TABLE: &[(&[&str], &[&str], MsFlags, &str)] = &[
    (&["ro", "rdonly"], &["rw", "noro"], MsFlags::MS_RDONLY, "MS_RDONLY"), // rdonly: FreeBSD's spelling
    (&["nosuid"], &["suid"], MsFlags::MS_NOSUID, "MS_NOSUID"),
    (&["nodev"], &["dev"], MsFlags::MS_NODEV, "MS_NODEV"),
    (&["noexec"], &["exec"], MsFlags::MS_NOEXEC, "MS_NOEXEC"),
    (&["sync"], &["async"], MsFlags::MS_SYNCHRONOUS, "MS_SYNCHRONOUS"),
    (&["mand"], &["nomand"], MsFlags::MS_MANDLOCK, "MS_MANDLOCK"),
    (&["dirsync"], &[], MsFlags::MS_DIRSYNC, "MS_DIRSYNC"),
    (&["nosymfollow"], &["symfollow"], NOSYMFOLLOW, "MS_NOSYMFOLLOW"),
    (&["noatime"], &["atime"], MsFlags::MS_NOATIME, "MS_NOATIME"),
    (&["nodiratime"], &["diratime"], MsFlags::MS_NODIRATIME, "MS_NODIRATIME"),
    (&["silent"], &["loud"], MsFlags::MS_SILENT, "MS_SILENT"),
    (&["relatime"], &["norelatime"], MsFlags::MS_RELATIME, "MS_RELATIME"),
    (&["iversion"], &["noiversion"], MsFlags::MS_I_VERSION, "MS_I_VERSION"),
    (&["strictatime"], &["nostrictatime"], MsFlags::MS_STRICTATIME, "MS_STRICTATIME"),
    (&["lazytime"], &["nolazytime"], MsFlags::MS_LAZYTIME, "MS_LAZYTIME"),
];

/// Options that mean something to mount(8) or fstab only, never to the
/// kernel: dropped (util-linux strips most before calling a helper).
fn userspace_only(opt: &str) -> bool {
    const WORDS: &[&str] =
        &["defaults", "auto", "noauto", "nofail", "_netdev", "user", "nouser", "users", "owner", "group", "loop"];
    const PREFIXES: &[&str] = &["x-", "X-", "comment=", "helper=", "uhelper=", "loop=", "offset=", "sizelimit="];
    WORDS.contains(&opt) || PREFIXES.iter().any(|p| opt.starts_with(p))
}

/// Options that would make mount(2) do something other than mount a new
/// file system: refused by `check()`.
pub fn refused(opt: &str) -> bool {
    const WORDS: &[&str] = &["remount", "bind", "rbind", "move"];
    // Propagation changes, each also with `r` (recursive) in front.
    const PROPAGATION: &[&str] = &["shared", "slave", "private", "unbindable"];
    // mount(8)'s loop options that change what is mounted: mount_md
    // attaches the whole image itself (`-s` limits it).
    const PREFIXES: &[&str] = &["make-", "offset=", "sizelimit=", "encryption="];
    WORDS.contains(&opt)
        || PROPAGATION.contains(&opt.strip_prefix('r').unwrap_or(opt))
        || PREFIXES.iter().any(|p| opt.starts_with(p))
}

/// The options split for mount(2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub flags: MsFlags,
    /// File-system-specific options, comma-joined, in the order given.
    pub data: Vec<String>,
    /// Dropped userspace-only options (shown under -X).
    pub dropped: Vec<String>,
}

impl Split {
    pub fn data_string(&self) -> String {
        self.data.join(",")
    }
}

/// Splits `-o` items. Later items win (`ro,rw` is read-write).
pub fn split(options: &[String]) -> Split {
    let mut s = Split { flags: MsFlags::empty(), data: Vec::new(), dropped: Vec::new() };
    for opt in options.iter().filter(|o| !o.is_empty()) {
        let set = TABLE.iter().find(|(on, ..)| on.contains(&opt.as_str())).map(|(.., f, _)| *f);
        let cleared = TABLE.iter().find(|(_, off, ..)| off.contains(&opt.as_str())).map(|(.., f, _)| *f);
        match (set, cleared) {
            (Some(f), _) => {
                s.flags |= f;
                // atime family: choosing one clears the others, as libmount does.
                if f.intersects(MsFlags::MS_RELATIME | MsFlags::MS_STRICTATIME) {
                    s.flags.remove(MsFlags::MS_NOATIME);
                }
                if f.contains(MsFlags::MS_NOATIME) {
                    s.flags.remove(MsFlags::MS_RELATIME | MsFlags::MS_STRICTATIME);
                }
            }
            (_, Some(f)) => s.flags.remove(f),
            _ if userspace_only(opt) => s.dropped.push(opt.clone()),
            _ => s.data.push(opt.clone()),
        }
    }
    s
}

/// `MS_RDONLY|MS_NOATIME`, or `0`, for `-N`/`-X` lines.
pub fn flag_names(flags: MsFlags) -> String {
    crate::platform::describe::flag_set(TABLE.iter().filter(|(.., f, _)| flags.contains(*f)).map(|(.., n)| *n))
}

/// A quoted C-ish string for descriptions: `"/mnt/a b"`.
pub fn quoted(s: &str) -> String {
    format!("{s:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(s: &str) -> Vec<String> {
        s.split(',').map(str::to_string).collect()
    }

    #[test]
    fn flags_and_data() {
        let s = split(&opts("rw,noatime,nodev,nosuid,noexec,errors=remount-ro,discard,commit=30"));
        assert_eq!(s.flags, MsFlags::MS_NOATIME | MsFlags::MS_NODEV | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
        assert_eq!(s.data_string(), "errors=remount-ro,discard,commit=30");
        assert!(s.dropped.is_empty());
    }

    #[test]
    fn later_wins() {
        for (o, flags) in [
            ("ro,rw", MsFlags::empty()),
            ("rw,ro", MsFlags::MS_RDONLY),
            ("rdonly", MsFlags::MS_RDONLY),
            ("nodev,dev,suid,exec,async,atime", MsFlags::empty()),
            ("sync,dirsync,mand", MsFlags::MS_SYNCHRONOUS | MsFlags::MS_DIRSYNC | MsFlags::MS_MANDLOCK),
            ("noatime,relatime", MsFlags::MS_RELATIME),
            ("relatime,noatime", MsFlags::MS_NOATIME),
            ("strictatime,norelatime", MsFlags::MS_STRICTATIME),
            ("lazytime,nodiratime,silent", MsFlags::MS_LAZYTIME | MsFlags::MS_NODIRATIME | MsFlags::MS_SILENT),
            ("silent,loud,iversion,noiversion,nolazytime,diratime,nomand", MsFlags::empty()),
        ] {
            assert_eq!(split(&opts(o)).flags, flags, "{o}");
        }
        assert_eq!(split(&opts("nosymfollow")).flags.bits(), 256);
    }

    #[test]
    fn userspace_options_are_dropped() {
        let s = split(&opts("defaults,noauto,nofail,_netdev,x-systemd.device-timeout=5,comment=foo,user_xattr"));
        assert_eq!(s.flags, MsFlags::empty());
        assert_eq!(s.data, ["user_xattr"]);
        assert_eq!(s.dropped.len(), 6);
    }

    #[test]
    fn refusals() {
        for o in ["bind", "rbind", "remount", "move", "make-private", "offset=1", "sizelimit=1", "encryption=x"] {
            assert!(refused(o), "{o}");
        }
        for o in ["shared", "slave", "private", "unbindable"] {
            assert!(refused(o) && refused(&format!("r{o}")), "{o}");
        }
        assert!(!refused("ro") && !refused("discard") && !refused("rw") && !refused("relatime"));
    }
}
