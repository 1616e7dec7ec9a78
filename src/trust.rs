//! Whose bytes an image holds, and what a mount of bytes someone else
//! controls may not do. Pure: the backends hand in what `fstat` said.
//!
//! mount_md runs as root on images that tenants own. Whoever can write an
//! image file can put anything in the file system it holds, without
//! mounting it (debugfs on one's own file needs no privilege): a
//! set-user-ID-root shell, a device node of the host's disk. Mounted as it
//! is, that bit and that node would work for them. So an image that
//! someone other than root can change is mounted `nosuid` and, where the
//! system has it, `nodev`, unless the line asks for `suid`/`dev` by name
//! (util-linux's `user`/`users` options imply the same two for a mount an
//! ordinary user makes; util-linux libmount/src/optmap.c).
//!
//! `noexec` is not added: a jail or container root must run its own
//! programs, and a program run from the image runs with the rights of
//! whoever runs it, which is what the tenant has anyway.
#![forbid(unsafe_code)]

/// Why the image at hand is someone else's to change, or `None` when
/// only root can: the file is root's and not writable by its group or
/// others, and the directory holding it is root's and not writable by
/// its group or others (or, if it is, sticky: then nobody else can
/// remove or rename root's file there, Linux fs/namei.c `may_delete`,
/// FreeBSD sys/ufs/ufs/ufs_lookup.c `ufs_delete_denied`).
///
/// The directory counts because its owner can put another file under
/// the image's name before the next boot; the directories above it are
/// covered by the symlink rule of the walk that reached it.
pub fn untrusted(file_uid: u32, file_mode: u32, dir_uid: u32, dir_mode: u32) -> Option<String> {
    let sticky = dir_mode & 0o1000 != 0;
    if file_uid != 0 {
        Some(format!("owned by uid {file_uid}"))
    } else if file_mode & 0o002 != 0 {
        Some("writable by others".into())
    } else if file_mode & 0o020 != 0 {
        Some("writable by its group".into())
    } else if dir_uid != 0 {
        Some(format!("in a directory owned by uid {dir_uid}"))
    } else if !sticky && dir_mode & 0o022 != 0 {
        Some("in a directory others can write".into())
    } else {
        None
    }
}

/// What a mount of an untrusted image gets: `options` with each of
/// `hardening` (`nosuid`, and `nodev` where the system has it) added,
/// except where `options` names its opposite (`suid`, `dev`) last, as
/// mount(8) reads options: then the option stays as asked and the
/// returned warnings say what that lets the image's owner do.
pub fn harden(options: &[String], hardening: &[&str]) -> (Vec<String>, Vec<String>) {
    let mut out = options.to_vec();
    let mut warnings = Vec::new();
    for &no in hardening {
        let yes = no.strip_prefix("no").unwrap_or(no);
        let last = options.iter().rev().find(|o| o.as_str() == no || o.as_str() == yes);
        match last {
            Some(o) if o == yes => warnings.push(match yes {
                "suid" => "-o suid: its set-user-ID and set-group-ID files take effect".to_string(),
                "dev" => "-o dev: its device nodes open the host's devices".to_string(),
                other => format!("-o {other} as asked"),
            }),
            Some(_) => {}
            None => out.push(no.to_string()),
        }
    }
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_root_with_no_writers_is_trusted() {
        assert_eq!(untrusted(0, 0o100600, 0, 0o40755), None);
        assert_eq!(untrusted(0, 0o100644, 0, 0o41777), None, "sticky /tmp: root's file stays root's");
        assert_eq!(untrusted(65534, 0o100600, 0, 0o40755).unwrap(), "owned by uid 65534");
        assert_eq!(untrusted(0, 0o100666, 0, 0o40755).unwrap(), "writable by others");
        assert_eq!(untrusted(0, 0o100660, 0, 0o40755).unwrap(), "writable by its group");
        assert_eq!(untrusted(0, 0o100600, 1000, 0o40755).unwrap(), "in a directory owned by uid 1000");
        assert_eq!(untrusted(0, 0o100600, 0, 0o40775).unwrap(), "in a directory others can write");
        assert_eq!(untrusted(0, 0o100600, 0, 0o40777).unwrap(), "in a directory others can write");
    }

    #[test]
    fn hardening_unless_asked_by_name() {
        let o = |s: &str| s.split(',').filter(|x| !x.is_empty()).map(String::from).collect::<Vec<_>>();
        let (opts, warn) = harden(&o("rw,noatime"), &["nosuid", "nodev"]);
        assert_eq!((opts, warn.len()), (o("rw,noatime,nosuid,nodev"), 0));
        let (opts, warn) = harden(&o("suid"), &["nosuid", "nodev"]);
        assert_eq!(opts, o("suid,nodev"));
        assert_eq!(warn, ["-o suid: its set-user-ID and set-group-ID files take effect"]);
        let (opts, warn) = harden(&o("suid,nosuid,dev"), &["nosuid", "nodev"]);
        assert_eq!(opts, o("suid,nosuid,dev"));
        assert_eq!(warn, ["-o dev: its device nodes open the host's devices"]);
        let (opts, _) = harden(&o(""), &["nosuid"]);
        assert_eq!(opts, o("nosuid"));
    }
}
