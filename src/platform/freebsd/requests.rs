//! What the FreeBSD backend asks of the kernel, built by plain functions
//! that compile and are tested everywhere: the md_ioctl contents for an
//! attach (as sbin/mdconfig/mdconfig.c fills them), the nmount(2) name/value
//! list for a mount (as sbin/mount/mount_fs.c builds it), the
//! MNT_* flags from mount(8)'s standard option table, and newfs(8)'s argv.
//! Only the syscall layer (`sys.rs`) turns these into raw structs.
use super::abi::{
    bit_names, options_names, type_name, MD_AUTOUNIT, MD_CLUSTER, MD_COMPRESS, MD_MALLOC, MD_READONLY, MD_RESERVE,
    MD_SWAP, MD_VNODE,
};
use crate::device::Unit;
use crate::error::{from_io, Error, Result};
use crate::plan::{Attach, Format, TmpfsMount};
use crate::platform::Note;
use crate::request::Backing;
use libc::c_uint;
use nix::errno::Errno;
use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// newfs(8), always by absolute path.
pub const NEWFS: &str = "/sbin/newfs";
/// The sector size md(4) uses when `md_sectorsize` is 0.
pub const SECTOR: u64 = 512;
/// The errmsg buffer mount(8) hands nmount(2).
pub const ERRMSG_LEN: usize = 255;
/// The `from` mdmfs gives a tmpfs mount.
pub const TMPFS_FROM: &str = "tmp";

/// The md_ioctl fields an attach sets; everything else is zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachRequest {
    pub md_type: c_uint,
    pub options: c_uint,
    /// The unit asked for; meaningful only without `MD_AUTOUNIT`.
    pub unit: u32,
    /// Bytes. The kernel never derives it from the file.
    pub mediasize: u64,
    /// The backing file, already realpath'd (vnode disks only).
    pub file: Option<CString>,
    /// `md_label`; `None` gives the kernel a zeroed buffer, as mdconfig does.
    pub label: Option<CString>,
}

impl AttachRequest {
    pub fn autounit(&self) -> bool {
        self.options & MD_AUTOUNIT != 0
    }
    pub fn read_only(&self) -> bool {
        self.options & MD_READONLY != 0
    }
    /// `{type=MD_VNODE, file=/img, mediasize=…, options=…}`.
    pub fn describe(&self) -> String {
        let t = type_name(self.md_type);
        let file = self.file.as_ref().map(|f| format!(", file={}", f.to_string_lossy())).unwrap_or_default();
        let label = self.label.as_ref().map(|l| format!(", label={}", l.to_string_lossy())).unwrap_or_default();
        let unit = if self.autounit() { String::new() } else { format!(", unit={}", self.unit) };
        let options = options_names(self.options);
        format!("{{type={t}{file}{label}{unit}, mediasize={}, options={options}}}", self.mediasize)
    }
}

/// `{unit=N, options=0, mediasize=0}`: what a detach sends.
pub fn describe_detach(unit: u32) -> String {
    format!("{{unit={unit}, options=0, mediasize=0}}")
}

/// What mdconfig learns about a backing file before attaching it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackingFile {
    /// realpath(3) of the file as given.
    pub path: PathBuf,
    pub size: u64,
    pub regular: bool,
    /// access(2) W_OK did not fail with EACCES, EPERM or EROFS.
    pub writable: bool,
}

/// realpath, open read-only and fstat, access(W_OK): mdconfig's
/// `md_set_file` steps. The open is non-blocking so a FIFO cannot hang us.
pub fn inspect_backing(file: &Path) -> Result<BackingFile> {
    let path = std::fs::canonicalize(file)
        .map_err(|e| from_io(format!("could not find full path for {}", file.display()), &e))?;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| from_io(path.display().to_string(), &e))?;
    let meta = f.metadata().map_err(|e| from_io(path.display().to_string(), &e))?;
    let writable = !matches!(
        nix::unistd::access(&path, nix::unistd::AccessFlags::W_OK),
        Err(Errno::EACCES | Errno::EPERM | Errno::EROFS)
    );
    Ok(BackingFile { path, size: meta.len(), regular: meta.file_type().is_file(), writable })
}

/// Size rules the kernel enforces, checked first so the user gets a clear
/// message rather than `EDOM`/`EINVAL` (sys/dev/md/md.c
/// `kern_mdattach_locked`: mediasize below the sector size is EINVAL;
/// `mdcreate_swap`: a size that is not a multiple of the page size is EDOM).
pub fn validate_size(backing: &Backing, size: Option<u64>, page_size: u64) -> Result<()> {
    let size = match backing {
        Backing::Vnode(_) => size,
        Backing::Swap | Backing::Malloc => Some(
            size.filter(|s| *s > 0)
                .ok_or_else(|| Error::plain("must specify -s for swap- or malloc-backed disks (a size above zero)"))?,
        ),
    };
    match size {
        Some(s) if matches!(backing, Backing::Swap) && s % page_size != 0 => Err(Error::plain(format!(
            "-s {s}B: a swap-backed disk must be a multiple of the page size ({page_size} bytes)"
        ))),
        Some(s) if s < SECTOR => {
            Err(Error::plain(format!("-s {s}B: a disk must be at least one {SECTOR}-byte sector")))
        }
        _ => Ok(()),
    }
}

fn cstring(what: &str, bytes: impl Into<Vec<u8>>) -> Result<CString> {
    CString::new(bytes).map_err(|_| Error::text(what, "contains a NUL byte"))
}

/// The attach request for `a`, as mdconfig builds it. `backing` is what
/// [`inspect_backing`] found for a vnode disk. Returns the notes to show
/// (the read-only fallback warning).
pub fn attach_request(a: &Attach, backing: Option<&BackingFile>, page_size: u64) -> Result<(AttachRequest, Vec<Note>)> {
    validate_size(&a.backing, a.size, page_size)?;
    let mut notes = Vec::new();
    let (md_type, mut options) = match a.backing {
        Backing::Swap => (MD_SWAP, MD_CLUSTER | MD_AUTOUNIT | MD_COMPRESS),
        Backing::Vnode(_) => (MD_VNODE, MD_CLUSTER | MD_AUTOUNIT | MD_COMPRESS),
        // mdmfs -M adds mdconfig's `-o reserve`.
        Backing::Malloc => (MD_MALLOC, MD_AUTOUNIT | MD_COMPRESS | MD_RESERVE),
    };
    let unit = match a.unit {
        Unit::Auto => 0,
        Unit::Fixed(n) => {
            options &= !MD_AUTOUNIT;
            n
        }
    };
    if a.read_only {
        options |= MD_READONLY;
    }
    let (file, mediasize) = match &a.backing {
        Backing::Vnode(given) => {
            let b = backing.ok_or_else(|| Error::plain(format!("{}: backing file not inspected", given.display())))?;
            if !b.regular {
                return Err(Error::plain(format!("{} is not a regular file", b.path.display())));
            }
            let mediasize = a.size.unwrap_or(b.size);
            if mediasize < SECTOR {
                return Err(Error::plain(format!(
                    "{}: a disk of {mediasize} bytes is smaller than one {SECTOR}-byte sector",
                    b.path.display()
                )));
            }
            if !a.read_only && !b.writable {
                options |= MD_READONLY;
                notes.push(Note::Warning(format!("WARNING: opening backing store: {} readonly", b.path.display())));
            }
            (Some(cstring("backing file", b.path.as_os_str().as_bytes())?), mediasize)
        }
        _ => (None, a.size.unwrap_or(0)),
    };
    Ok((AttachRequest { md_type, options, unit, mediasize, file, label: None }, notes))
}

/// The device a unit appears as.
pub fn device_path(unit: u32) -> PathBuf {
    PathBuf::from(format!("/dev/md{unit}"))
}

/// One nmount(2) value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoValue {
    /// A flag-style option: NULL, length 0.
    Flag,
    /// A NUL-terminated string, length strlen+1.
    Text(CString),
    /// The writable errmsg buffer ([`ERRMSG_LEN`] bytes).
    Errmsg,
}

/// The name/value list and flags of one nmount(2) call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NmountRequest {
    pub iov: Vec<(CString, IoValue)>,
    /// MNT_* bits from mount(8)'s standard option table. nmount's flags
    /// argument is an `int`: [`NmountRequest::flags_arg`] keeps the low 31
    /// bits; higher bits travel by name only.
    pub flags: u64,
}

impl NmountRequest {
    /// The flags argument of nmount(2): the low 31 bits. Bit 31
    /// (MNT_NOCLUSTERW) would make the `int` negative, and sys_nmount
    /// (sys/kern/vfs_mount.c) widens it to 64 bits with the sign, setting
    /// MNT_AUTOMOUNTED, MNT_UNTRUSTED, MNT_NOCOVER and MNT_EMPTYDIR too
    /// (mount(8) passes it that way, bug for bug). `noclusterw` goes by its
    /// name in the list, which vfs_donmount turns into MNT_NOCLUSTERW.
    pub fn flags_arg(&self) -> libc::c_int {
        (self.flags & 0x7fff_ffff) as libc::c_int
    }
    /// The value of the first pair called `name`.
    pub fn get(&self, name: &str) -> Option<&IoValue> {
        self.iov.iter().find(|(n, _)| n.as_bytes() == name.as_bytes()).map(|(_, v)| v)
    }
    /// The `from` value, for messages.
    pub fn from(&self) -> String {
        match self.get("from") {
            Some(IoValue::Text(t)) => t.to_string_lossy().into_owned(),
            _ => String::new(),
        }
    }
    /// `nmount(ro, fstype=ufs, fspath=/x, from=/dev/md0, errmsg) flags=MNT_RDONLY`.
    pub fn describe(&self) -> String {
        let items: Vec<String> = self
            .iov
            .iter()
            .map(|(n, v)| match v {
                IoValue::Flag | IoValue::Errmsg => n.to_string_lossy().into_owned(),
                IoValue::Text(t) => format!("{}={}", n.to_string_lossy(), t.to_string_lossy()),
            })
            .collect();
        let flags =
            if self.flags == 0 { String::new() } else { format!(" flags={}", bit_names(self.flags, MNT_NAMES)) };
        format!("nmount({}){flags}", items.join(", "))
    }
}

/// MNT_* bits (sys/sys/mount.h) that mount(8)'s standard table sets.
pub mod mnt {
    pub const RDONLY: u64 = 0x1;
    pub const SYNCHRONOUS: u64 = 0x2;
    pub const NOEXEC: u64 = 0x4;
    pub const NOSUID: u64 = 0x8;
    pub const NFS4ACLS: u64 = 0x10;
    pub const UNION: u64 = 0x20;
    pub const ASYNC: u64 = 0x40;
    /// Change the flags of a mounted file system (mount(8) -u).
    pub const UPDATE: u64 = 0x1_0000;
    pub const SUIDDIR: u64 = 0x10_0000;
    pub const NOSYMFOLLOW: u64 = 0x40_0000;
    pub const MULTILABEL: u64 = 0x400_0000;
    pub const ACLS: u64 = 0x800_0000;
    pub const NOATIME: u64 = 0x1000_0000;
    pub const NOCLUSTERR: u64 = 0x4000_0000;
    pub const NOCLUSTERW: u64 = 0x8000_0000;
    pub const AUTOMOUNTED: u64 = 0x2_0000_0000;
    pub const UNTRUSTED: u64 = 0x8_0000_0000;
    pub const NOCOVER: u64 = 0x10_0000_0000;
    pub const EMPTYDIR: u64 = 0x20_0000_0000;
}

/// mount(8)'s MOPT_STDOPTS, in its order: (name, inverse, bit).
const STD_OPTS: &[(&str, bool, u64)] = &[
    ("userquota", false, 0),
    ("groupquota", false, 0),
    ("ro", false, mnt::RDONLY),
    ("rw", true, mnt::RDONLY),
    ("auto", false, 0),
    ("atime", true, mnt::NOATIME),
    ("exec", true, mnt::NOEXEC),
    ("suiddir", false, mnt::SUIDDIR),
    ("suid", true, mnt::NOSUID),
    ("symfollow", true, mnt::NOSYMFOLLOW),
    ("rdonly", false, mnt::RDONLY),
    ("union", false, mnt::UNION),
    ("clusterr", true, mnt::NOCLUSTERR),
    ("clusterw", true, mnt::NOCLUSTERW),
    ("multilabel", false, mnt::MULTILABEL),
    ("acls", false, mnt::ACLS),
    ("nfsv4acls", false, mnt::NFS4ACLS),
    ("automounted", false, mnt::AUTOMOUNTED),
    ("untrusted", false, mnt::UNTRUSTED),
    ("cover", true, mnt::NOCOVER),
    ("emptydir", false, mnt::EMPTYDIR),
];

const MNT_NAMES: &[(u64, &str)] = &[
    (mnt::RDONLY, "MNT_RDONLY"),
    (mnt::SYNCHRONOUS, "MNT_SYNCHRONOUS"),
    (mnt::NOEXEC, "MNT_NOEXEC"),
    (mnt::NOSUID, "MNT_NOSUID"),
    (mnt::NFS4ACLS, "MNT_NFS4ACLS"),
    (mnt::UNION, "MNT_UNION"),
    (mnt::ASYNC, "MNT_ASYNC"),
    (mnt::SUIDDIR, "MNT_SUIDDIR"),
    (mnt::NOSYMFOLLOW, "MNT_NOSYMFOLLOW"),
    (mnt::MULTILABEL, "MNT_MULTILABEL"),
    (mnt::ACLS, "MNT_ACLS"),
    (mnt::NOATIME, "MNT_NOATIME"),
    (mnt::NOCLUSTERR, "MNT_NOCLUSTERR"),
    (mnt::NOCLUSTERW, "MNT_NOCLUSTERW"),
    (mnt::UPDATE, "MNT_UPDATE"),
    (mnt::AUTOMOUNTED, "MNT_AUTOMOUNTED"),
    (mnt::UNTRUSTED, "MNT_UNTRUSTED"),
    (mnt::NOCOVER, "MNT_NOCOVER"),
    (mnt::EMPTYDIR, "MNT_EMPTYDIR"),
];

/// A mount's `f_flags` as option words (`ro`/`rw` first), as mount(8)
/// names them.
pub fn mnt_option_words(flags: u64) -> Vec<String> {
    let mut out = vec![if flags & mnt::RDONLY != 0 { "ro" } else { "rw" }.to_string()];
    for (bit, word) in [
        (mnt::SYNCHRONOUS, "sync"),
        (mnt::NOEXEC, "noexec"),
        (mnt::NOSUID, "nosuid"),
        (mnt::ASYNC, "async"),
        (mnt::NOATIME, "noatime"),
        (mnt::NOSYMFOLLOW, "nosymfollow"),
        (mnt::MULTILABEL, "multilabel"),
        (mnt::ACLS, "acls"),
        (mnt::NOCLUSTERR, "noclusterr"),
        (mnt::NOCLUSTERW, "noclusterw"),
    ] {
        if flags & bit != 0 {
            out.push(word.to_string());
        }
    }
    out
}

/// The MNT_* flags getmntopts(3) computes from options with the standard
/// table: a `no` prefix negates, `name=value` matches on `name`, case is
/// ignored, unknown names are skipped (mount_fs.c runs it silently).
pub fn mnt_flags<S: AsRef<str>>(options: &[S]) -> u64 {
    let mut flags = 0u64;
    for opt in options {
        let opt = opt.as_ref();
        let (negative, rest) = opt.strip_prefix("no").map_or((false, opt), |rest| (true, rest));
        let name = rest.split_once('=').map_or(rest, |(n, _)| n);
        if let Some((_, inverse, bit)) = STD_OPTS.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(name)) {
            if negative == *inverse {
                flags |= bit;
            } else {
                flags &= !bit;
            }
        }
    }
    flags
}

/// mount(8)'s rmslashes: collapse `//`, drop a trailing `/`.
pub fn rmslashes(path: &[u8]) -> Vec<u8> {
    let mut out = path.to_vec();
    out.dedup_by(|b, prev| *b == b'/' && *prev == b'/');
    if out.len() > 1 && out.last() == Some(&b'/') {
        out.pop();
    }
    out
}

/// Whether `option` is one only mount(8) understands: sbin/mount/mount.c
/// drops `noauto`, `late`, `failok`, `userquota`, `groupquota` (with or
/// without a value) before it execs a helper or calls nmount, and takes
/// `mountprog=` for itself. Run directly (an rc.d script, `mount_md -o
/// late,...`), mount_md drops them too; passed on, ffs_mount would refuse
/// `noauto`, `late`, `failok` and `mountprog` ("mount option `<late>` is
/// unknown").
pub fn mount8_only(option: &str) -> bool {
    let name = option.split_once('=').map_or(option, |(n, _)| n);
    ["noauto", "late", "failok", "userquota", "groupquota", "mountprog"].contains(&name)
}

/// The file system types mount_md mounts from an md disk itself: UFS,
/// which mount(8) also mounts with nmount directly (sbin/mount/mount.c
/// `mountfs` runs a `mount_<type>` helper only for cd9660, msdosfs, nfs,
/// nullfs, smbfs, udf and unionfs). Those helpers add options of their own
/// (mount_msdosfs: `uid`, `gid`, `mask`, `dirmask` from the mount point's
/// owner; mount_cd9660: `ssector` read from the disk), which mount_md does
/// not reproduce, so `-T` with any other type is refused before anything
/// runs: mount the unit with `mount -t TYPE /dev/mdN DIR` instead. A type
/// that does not live on a disk (tmpfs, nullfs, …) is refused the same way.
pub fn check_disk_fstype(fstype: &str) -> Result<()> {
    if fstype == "ufs" {
        return Ok(());
    }
    Err(Error::plain(format!(
        "-T {fstype}: mount_md mounts md disks only as ufs on FreeBSD \
         (mount(8) runs mount_{fstype}, whose options mount_md does not reproduce); \
         attach with mdconfig and use mount -t {fstype}"
    )))
}

/// The nmount(2) list mount(8) sends for `-o` options `options` on a
/// device (those [`mount8_only`] names left out): each option as (name, value-or-flag), split at the first `=`,
/// then `fstype`, `fspath`, `from`, `errmsg`. `force_ro` (the disk was
/// attached read-only) appends `ro` after the user's options, so it wins.
pub fn nmount_request(
    fstype: &str,
    options: &[String],
    fspath: &Path,
    from: &OsStr,
    force_ro: bool,
) -> Result<NmountRequest> {
    let mut opts: Vec<String> = options.iter().filter(|o| !mount8_only(o)).cloned().collect();
    if force_ro && mnt_flags(&opts) & mnt::RDONLY == 0 {
        opts.push("ro".into());
    }
    let mut iov = Vec::new();
    for o in &opts {
        let (name, value) = match o.split_once('=') {
            Some((n, v)) => (n, IoValue::Text(cstring("mount option", v)?)),
            None => (o.as_str(), IoValue::Flag),
        };
        iov.push((cstring("mount option", name)?, value));
    }
    iov.push((c"fstype".into(), IoValue::Text(cstring("fstype", fstype)?)));
    iov.push((c"fspath".into(), IoValue::Text(cstring("fspath", fspath.as_os_str().as_bytes())?)));
    iov.push((c"from".into(), IoValue::Text(cstring("from", rmslashes(from.as_bytes()))?)));
    iov.push((c"errmsg".into(), IoValue::Errmsg));
    Ok(NmountRequest { iov, flags: mnt_flags(&opts) })
}

/// The nmount(2) list for mdmfs's tmpfs: the `-o` options, `size=` when
/// `-s` gave one, then fstype=tmpfs, fspath, from=tmp, errmsg.
pub fn tmpfs_request(t: &TmpfsMount, fspath: &Path) -> Result<NmountRequest> {
    let mut options = t.options.clone();
    options.extend(t.size.filter(|s| *s != 0).map(|size| format!("size={size}")));
    nmount_request("tmpfs", &options, fspath, OsStr::new(TMPFS_FROM), false)
}

/// The newfs(8) flag an mdmfs letter becomes (`-O x` → `-o x`, `-v N` →
/// `-O N`; the rest keep their letter), as mdmfs.c `main` maps them.
pub fn newfs_flag(o: &crate::request::NewfsOpt) -> char {
    match o.letter {
        'O' => 'o',
        'v' => 'O',
        c => c,
    }
}

/// newfs(8)'s argv: `/sbin/newfs`, the newfs options in command-line order,
/// `-U` last unless `-S`, then the device (never with the mount suffix).
pub fn newfs_argv(f: &Format, device: &Path) -> Vec<OsString> {
    let mut argv: Vec<OsString> = vec![NEWFS.into()];
    for o in &f.options {
        argv.push(format!("-{}", newfs_flag(o)).into());
        argv.extend(o.value.as_ref().map(OsString::from));
    }
    if f.soft_updates {
        argv.push("-U".into());
    }
    argv.push(device.as_os_str().to_os_string());
    argv
}

/// `/dev/md0` + suffix.
pub fn mount_from(dev: &Path, suffix: &str) -> OsString {
    let mut v = dev.as_os_str().to_os_string();
    v.push(suffix);
    v
}

/// `options` with each flag pair (`ro`/`rw`, `nosuid`/`suid`, …) down to
/// its last word, the others kept in order: for a system call that takes
/// names, not a sequence (FreeBSD's nmount(2)).
pub fn last_of_pairs(options: &[String]) -> Vec<String> {
    const PAIRS: &[(&str, &str)] = &[
        ("ro", "rw"),
        ("rdonly", "rw"),
        ("ro", "noro"),
        ("nosuid", "suid"),
        ("noexec", "exec"),
        ("nodev", "dev"),
        ("noatime", "atime"),
        ("sync", "async"),
        ("nosymfollow", "symfollow"),
    ];
    let family = |o: &str| PAIRS.iter().find(|(a, b)| *a == o || *b == o).map(|(a, _)| *a);
    let mut out: Vec<String> = Vec::new();
    for o in options {
        if let Some(f) = family(o) {
            out.retain(|x| family(x) != Some(f));
        } else {
            out.retain(|x| x != o);
        }
        out.push(o.clone());
    }
    // `rw` is what nmount does without `ro`.
    out.retain(|o| o != "rw" && o != "noro");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_come_down_to_their_last_word() {
        assert_eq!(
            last_of_pairs(&["rw", "nosuid", "noatime", "ro", "suid", "rw"].map(String::from)),
            ["noatime", "suid"]
        );
        assert_eq!(last_of_pairs(&["rw", "nosuid", "ro"].map(String::from)), ["nosuid", "ro"]);
    }

    #[test]
    fn getmntopts_semantics() {
        assert_eq!(mnt_flags(&["ro", "noatime"]), mnt::RDONLY | mnt::NOATIME);
        assert_eq!(mnt_flags(&["ro", "rw"]), 0);
        assert_eq!(mnt_flags(&["rw", "noro"]), 0);
        assert_eq!(mnt_flags(&["rdonly"]), mnt::RDONLY);
        assert_eq!(mnt_flags(&["nosuid", "noexec", "noATime"]), mnt::NOSUID | mnt::NOEXEC | mnt::NOATIME);
        // Names match without case, but the `no` prefix is lower case only.
        assert_eq!(mnt_flags(&["RO"]), mnt::RDONLY);
        assert_eq!(mnt_flags(&["NOATIME"]), 0);
        assert_eq!(mnt_flags(&["nosuid", "suid"]), 0);
        assert_eq!(mnt_flags(&["suiddir"]), mnt::SUIDDIR);
        assert_eq!(mnt_flags(&["async", "size=1", "bogus"]), 0);
        assert_eq!(mnt_flags(&["nocover", "emptydir"]), mnt::NOCOVER | mnt::EMPTYDIR);
    }

    #[test]
    fn slashes() {
        assert_eq!(rmslashes(b"//dev//md0/"), b"/dev/md0");
        assert_eq!(rmslashes(b"/"), b"/");
        assert_eq!(rmslashes(b"tmp"), b"tmp");
    }
}
