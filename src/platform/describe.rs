//! Platform-neutral one-line descriptions of steps, used by platforms for
//! steps they have nothing more exact to say about.
use super::Device;
use crate::plan::{Examine, FsType, Step};
use crate::request::Backing;
use crate::request::FsckPolicy;

/// `/dev/md3`, or `<prefix>?` when the unit is not known yet.
pub fn device_name(prefix: &str, dev: Option<&Device>) -> String {
    match dev {
        Some(d) => d.path.display().to_string(),
        None => format!("{prefix}?"),
    }
}

/// A neutral description; `prefix` is the device path prefix (`/dev/md`).
pub fn generic(step: &Step, prefix: &str, dev: Option<&Device>) -> String {
    let name = device_name(prefix, dev);
    match step {
        Step::EnterNamespace(ns) => format!("enter mount namespace {}", ns.display()),
        Step::OpenImage(o) => {
            let create = match o.create {
                Some((size, mode)) => format!(" (create {size} bytes, {mode:?})").to_lowercase(),
                None => String::new(),
            };
            let ro = if o.read_only { " readonly" } else { "" };
            format!("open and lock {}{ro}{create}", o.path.display())
        }
        Step::PreDetach(u) => format!("detach {prefix}{u} if attached"),
        Step::Crypt(c) => format!("open the {} crypt layer on {name}", c.encrypt.scheme.name()),
        Step::Attach(a) => {
            let what = match &a.backing {
                Backing::Swap => "swap".to_string(),
                Backing::Malloc => "malloc".to_string(),
                Backing::Vnode(p) => format!("vnode {}", p.display()),
            };
            let unit = match a.unit {
                crate::device::Unit::Auto => "auto".to_string(),
                crate::device::Unit::Fixed(n) => n.to_string(),
            };
            let size = a.size.map(|s| format!(" size={s}")).unwrap_or_default();
            let ro = if a.read_only { " readonly" } else { "" };
            format!("attach {what} unit={unit}{size}{ro}")
        }
        Step::WaitForNode => format!("wait for {name}"),
        Step::Examine(e) => examine(e, &name, "fsck"),
        Step::Format(f) => format!("format {} {name}", f.fstype),
        Step::Mount(m) => {
            let t = match &m.fstype {
                FsType::Named(t) => t.clone(),
                FsType::Probe => "(probe)".to_string(),
            };
            let opts = if m.options.is_empty() { String::new() } else { format!(" -o {}", m.options.join(",")) };
            format!("mount -t {t}{opts} {name}{} {}", m.suffix, m.mount_point.display())
        }
        Step::MountTmpfs(t) => {
            let mut opts = t.options.clone();
            if let Some(s) = t.size {
                opts.push(format!("size={s}"));
            }
            let opts = if opts.is_empty() { String::new() } else { format!(" -o {}", opts.join(",")) };
            format!("mount -t tmpfs{opts} tmpfs {}", t.mount_point.display())
        }
        Step::SetMode { mode, .. } => format!("chmod {mode:o} (mounted root)"),
        Step::SetOwner { uid, gid } => format!("chown {uid}:{gid} (mounted root)"),
        Step::CopySkeleton(p) => format!("copy {} into the mounted root", p.display()),
        Step::NewIdentity { grow_to } => format!(
            "give the file system on {name} a new UUID, {}then publish the image",
            grow_to.map_or(String::new(), |s| format!("grow it to {s} bytes if it is smaller, "))
        ),
    }
}

/// The checker's flags: preen (`-p`), and with `force` (`--fsck=always`)
/// `-f`, without which e2fsck and fsck_ufs skip a file system marked clean.
/// Shared by e2fsck and fsck_ufs, which spell both alike.
pub fn checker_flags(force: bool) -> &'static [&'static str] {
    if force {
        &["-f", "-p"]
    } else {
        &["-p"]
    }
}

/// What an [`Examine`] step does, with the checker's program filled in.
pub fn examine(e: &Examine, name: &str, checker: &str) -> String {
    let run = |force| format!("{checker} {} {name}", checker_flags(force).join(" "));
    match e {
        Examine::BeforeFormat => format!("pread({name}, 4096, 0): refuse to format over a file system"),
        Examine::BeforeMount(FsckPolicy::Auto) => {
            format!("pread({name}, 4096, 0); {} only if it is not clean", run(false))
        }
        Examine::BeforeMount(FsckPolicy::Always) => run(true),
        Examine::BeforeMount(FsckPolicy::Never) => {
            format!("pread({name}, 4096, 0): warn if it is not clean (--fsck=never)")
        }
    }
}
