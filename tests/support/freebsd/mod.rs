//! Shared by the FreeBSD tests: a runner, and re-creations of
//! how FreeBSD's mount(8) (6.x and modern) and jail(8) turn an fstab line
//! into a helper's argv (sbin/mount/mount.c `mangle`,
//! `mountfs`, `use_mountprog`; usr.sbin/jail/command.c `run_command`).
use super::TestHost;
use mount_md::platform::Describe;
use std::ffi::OsString;

/// A C string (for the request builders' expected values).
pub fn c(s: &str) -> std::ffi::CString {
    std::ffi::CString::new(s).unwrap()
}

/// Exit status, stdout, stderr of `run::run`.
pub fn run<P: Describe>(argv: &[String], platform: &mut P) -> (i32, String, String) {
    let argv: Vec<OsString> = argv.iter().map(OsString::from).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = mount_md::run::run(&argv, platform, &TestHost, &mut out, &mut err);
    (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

pub fn words(s: &str) -> Vec<String> {
    s.split(' ').map(str::to_string).collect()
}

/// One fstab line: spec, file, vfstype, mntops.
pub struct Fstab<'a> {
    pub spec: &'a str,
    pub file: &'a str,
    pub vfstype: &'a str,
    pub mntops: &'a str,
}

impl<'a> Fstab<'a> {
    pub fn parse(line: &'a str) -> Self {
        let f: Vec<&str> = line.split_whitespace().collect();
        Fstab { spec: f[0], file: f[1], vfstype: f[2], mntops: f[3] }
    }
}

/// FreeBSD 6.x mount(8) (`mount -a`): every type but ufs is a helper
/// `mount_<type>` found in /sbin:/usr/sbin; options mangled: `-x` items
/// are words (split once at `=`), `rw` and `late` dropped, others `-o x`.
pub fn mount_6x_argv(line: &str) -> Option<Vec<String>> {
    let f = Fstab::parse(line);
    if f.vfstype == "ufs" {
        return None; // built in: old mount(2), no helper
    }
    let mut argv = vec![format!("mount_{}", f.vfstype)];
    for item in f.mntops.split(',').filter(|i| !i.is_empty()) {
        if let Some(rest) = item.strip_prefix('-') {
            match rest.split_once('=') {
                Some((a, b)) => {
                    argv.push(format!("-{a}"));
                    argv.push(b.to_string());
                }
                None => argv.push(item.to_string()),
            }
        } else if item != "rw" && item != "late" {
            argv.push("-o".into());
            argv.push(item.into());
        }
    }
    argv.push(f.spec.into());
    argv.push(f.file.into());
    Some(argv)
}

/// Modern mount(8) (`mount -a`, or jail(8)'s `mount -t T -o O spec dir`,
/// which reaches the same `mountfs` with the same option string). Returns
/// `None` when no helper runs (the type goes straight to nmount(2)).
/// With `mountprog=`, argv[0] is the mountprog path: mount.c appends the
/// `execname` buffer as argv[0] and then overwrites it with mountprog.
pub fn mount_modern_argv(line: &str) -> Option<Vec<String>> {
    let f = Fstab::parse(line);
    let mut mountprog: Option<String> = None;
    let mut args = Vec::new();
    for item in f.mntops.split(',').filter(|i| !i.is_empty()) {
        if matches!(item, "noauto" | "late" | "failok" | "userquota" | "groupquota")
            || item.starts_with("userquota=")
            || item.starts_with("groupquota=")
        {
            continue;
        }
        if item.starts_with("mountprog") {
            mountprog = item.split_once('=').map(|(_, v)| v.to_string()).filter(|v| !v.is_empty());
            assert!(mountprog.is_some(), "Need value for -o mountprog");
            continue;
        }
        if item.starts_with('-') {
            match item.split_once('=') {
                Some((a, b)) => {
                    args.push(a.to_string());
                    args.push(b.to_string());
                }
                None => args.push(item.to_string()),
            }
        } else {
            args.push("-o".into());
            args.push(item.into());
        }
    }
    let listed = ["cd9660", "mfs", "msdosfs", "nfs", "nullfs", "smbfs", "udf", "unionfs"];
    let argv0 = match mountprog {
        Some(p) => p,
        None if listed.contains(&f.vfstype) => format!("mount_{}", f.vfstype),
        None => return None,
    };
    let mut argv = vec![argv0];
    argv.extend(args);
    argv.push(f.spec.into());
    argv.push(f.file.into());
    Some(argv)
}

/// jail(8)'s mount.fstab commands for a line: (create, remove). Remove
/// runs only if the mount point's statfs type equals the fstab type.
pub fn jail_commands(line: &str) -> (Vec<String>, Vec<String>) {
    let f = Fstab::parse(line);
    let create = ["/sbin/mount", "-t", f.vfstype, "-o", f.mntops, f.spec, f.file].map(String::from).to_vec();
    let remove = ["/sbin/umount", "-t", f.vfstype, f.file].map(String::from).to_vec();
    (create, remove)
}

pub mod geli;
pub mod jail;
pub mod model;

/// geom_dump.c `g_conf_cat_escaped`: text in a confxml document as the
/// kernel renders it.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &c in bytes {
        if matches!(c, b'&' | b'<' | b'>' | b'\'' | b'"') || c > 0x7e {
            out.push_str(&format!("&#x{c:X};"));
        } else if matches!(c, b'\t' | b'\n' | b'\r') || c > 0x1f {
            out.push(c as char);
        } else {
            out.push('?');
        }
    }
    out
}
