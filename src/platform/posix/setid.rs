//! Whether this process runs with privileges its caller lacks (started
//! from a set-user-ID or set-group-ID file).
#![forbid(unsafe_code)]

/// Why this process has privileges its caller lacks — it was started
/// from a set-user-ID or set-group-ID file (or, on Linux, one with file
/// capabilities) — or `None`. mount_md is not meant to be installed that
/// way: it would let any user attach and mount images on any directory.
/// FreeBSD asks issetugid(2) (sys/kern/kern_prot.c `sys_issetugid`: the
/// process changed credentials at exec); Linux compares the real and
/// effective ids and reads the kernel's `AT_SECURE` (set by
/// security/commoncap.c `cap_bprm_creds_from_file` for such an exec).
pub fn set_id() -> Option<String> {
    use nix::unistd::{getegid, geteuid, getgid, getuid};
    let (uid, euid, gid, egid) = (getuid(), geteuid(), getgid(), getegid());
    (super::sys::secure_exec() || uid != euid || gid != egid).then(|| {
        format!(
            "refusing to run set-user-ID or set-group-ID (real uid {uid}, effective uid {euid}, \
             real gid {gid}, effective gid {egid}): mount_md is not meant to be installed setuid; run it as root"
        )
    })
}
