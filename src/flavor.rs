//! Behaviour chosen by program name, as mdmfs does with getprogname().
#![forbid(unsafe_code)]
use std::ffi::OsStr;
use std::path::Path;

/// How we were called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `mount_md`, `mdmfs`, or any other name: mdmfs's normal mode.
    Mdmfs,
    /// `mount_mfs` or `mfs`: the mount point gets mode 01777 unless `-p`.
    Compat,
    /// `mount.md`: util-linux's helper argv, mount(8)'s exit codes.
    LinuxHelper,
}

impl Flavor {
    /// From `argv[0]`'s basename.
    pub fn from_name(name: &str) -> Flavor {
        match name {
            "mount_mfs" | "mfs" => Flavor::Compat,
            "mount.md" => Flavor::LinuxHelper,
            _ => Flavor::Mdmfs,
        }
    }

    /// Exit status for a failure: mdmfs always exits 1; `mount.md` follows
    /// the contract mount(8) has with its helpers (util-linux
    /// include/exitcodes.h: MNT_EX_USAGE 1, MNT_EX_SYSERR 2, MNT_EX_FAIL 32).
    pub fn exit_status(self, failure: Failure) -> i32 {
        match (self, failure) {
            (Flavor::LinuxHelper, Failure::System) => 2,
            (Flavor::LinuxHelper, Failure::Mount) => 32,
            _ => 1,
        }
    }
}

/// What kind of failure ended a run, for the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A bad command line or fstab line (also under mount.md `-f`).
    Usage,
    /// Not allowed: EACCES/EPERM.
    Permission,
    /// The system ran out of something (memory, descriptors, space).
    System,
    /// The mount could not be made (a missing image or mount point, a
    /// refusal by the kernel, a formatter that failed, …).
    Mount,
}

/// The basename of `argv[0]`, as getprogname(3) gives it; `mount_md` when
/// `argv[0]` is missing or empty.
pub fn progname(argv0: Option<&OsStr>) -> String {
    argv0
        .map(Path::new)
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "mount_md".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(Flavor::from_name("mount_md"), Flavor::Mdmfs);
        assert_eq!(Flavor::from_name("mdmfs"), Flavor::Mdmfs);
        assert_eq!(Flavor::from_name("mount_mfs"), Flavor::Compat);
        assert_eq!(Flavor::from_name("mfs"), Flavor::Compat);
        assert_eq!(Flavor::from_name("mount.md"), Flavor::LinuxHelper);
        assert_eq!(Flavor::from_name("anything"), Flavor::Mdmfs);
        assert_eq!(progname(Some(OsStr::new("/usr/local/sbin/mount_md"))), "mount_md");
        assert_eq!(progname(Some(OsStr::new("/sbin/mount.md"))), "mount.md");
        assert_eq!(progname(None), "mount_md");
        let all = [Failure::Usage, Failure::Permission, Failure::System, Failure::Mount];
        assert_eq!(all.map(|f| Flavor::LinuxHelper.exit_status(f)), [1, 1, 2, 32]);
        assert_eq!(all.map(|f| Flavor::Mdmfs.exit_status(f)), [1; 4]);
        assert_eq!(all.map(|f| Flavor::Compat.exit_status(f)), [1; 4]);
    }
}
