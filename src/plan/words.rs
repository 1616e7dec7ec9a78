//! `-N` in words: the steps of a plan as an admin would name them, one a
//! line, as mdmfs's `-N` lists the commands it would run (`-N -X` keeps
//! the exact system calls each backend describes). Pure: the plan and the
//! system's [`Vocabulary`] in, lines out.
#![forbid(unsafe_code)]
use super::{Examine, FsType, Plan, Step};
use crate::device::Unit;
use crate::error::quoted;
use crate::request::{Backing, CreateMode, FsckPolicy};

/// How a system names its disks and tools.
#[derive(Debug, Clone, Copy)]
pub struct Vocabulary {
    /// `loop device`, `md(4) disk`.
    pub disk: &'static str,
    /// With its article: `a loop device`, `an md(4) disk`.
    pub a_disk: &'static str,
    /// `/dev/loop`, `/dev/md`: a unit's node without its number.
    pub node: &'static str,
    /// The formatter for a type: `mkfs.ext4`, `newfs`.
    pub formatter: fn(&str) -> String,
    /// The checker the `--fsck` policy runs (`e2fsck -p`, `fsck_ufs -p`).
    pub checker: &'static str,
}

/// Linux's words.
pub const LINUX: Vocabulary = Vocabulary {
    disk: "loop device",
    a_disk: "a loop device",
    node: "/dev/loop",
    formatter: |t| format!("mkfs.{t}"),
    checker: "e2fsck -p",
};

/// FreeBSD's words.
pub const FREEBSD: Vocabulary = Vocabulary {
    disk: "md(4) disk",
    a_disk: "an md(4) disk",
    node: "/dev/md",
    formatter: |_| "newfs".to_string(),
    checker: "fsck_ufs -p",
};

/// `2 GiB (2147483648 bytes)`, or bytes alone below a KiB.
fn size(n: u64) -> String {
    if n < 1024 {
        format!("{n} bytes")
    } else {
        format!("{}iB ({n} bytes)", crate::size::human(n))
    }
}

/// The plan's steps in words, one a line, each with the condition it runs
/// under.
pub fn describe(plan: &Plan, v: &Vocabulary) -> Vec<String> {
    let disk = match plan.attach().map(|a| a.unit) {
        Some(Unit::Fixed(n)) => format!("{}{n}", v.node),
        _ => format!("the {}", v.disk),
    };
    let created = plan.steps.iter().any(|s| matches!(s, Step::OpenImage(o) if o.create.is_some()));
    let options = |o: &[String]| if o.is_empty() { String::new() } else { format!(", options {}", o.join(",")) };
    let mut lines = Vec::new();
    for step in &plan.steps {
        let line = match step {
            Step::EnterNamespace(ns) => format!("enter the mount namespace of {}", quoted(ns)),
            Step::OpenImage(o) => {
                let how = if o.read_only { "read-only" } else { "read-write" };
                match (o.create, &o.from) {
                    (_, Some(base)) => format!(
                        "open {} {how}, making it from {} if it does not exist (a clone where the host can)",
                        quoted(&o.path),
                        quoted(&base.path)
                    ),
                    (Some((n, mode)), None) => {
                        let blocks = match mode {
                            CreateMode::Reserve => "every block reserved",
                            CreateMode::Sparse => "sparse",
                        };
                        format!(
                            "open {} {how}, creating it if it does not exist ({}, {blocks})",
                            quoted(&o.path),
                            size(n)
                        )
                    }
                    (None, None) => format!("open {} {how} and lock it", quoted(&o.path)),
                }
            }
            Step::PreDetach(n) => format!("detach {}{n} if it is attached and not in use (-D keeps it)", v.node),
            Step::Attach(a) => {
                let what = match &a.backing {
                    Backing::Vnode(p) => format!("attach {} as {}", quoted(p), v.a_disk),
                    Backing::Swap => format!("attach a swap-backed {}", v.disk),
                    Backing::Malloc => format!("attach a memory-backed {}", v.disk),
                };
                let of = match (a.size, &a.backing) {
                    (Some(n), _) => format!(" of {}", size(n)),
                    (None, Backing::Vnode(_)) => " of the image's size".to_string(),
                    (None, _) => String::new(),
                };
                let which = match a.unit {
                    Unit::Fixed(n) => format!(", {}{n}", v.node),
                    Unit::Auto => String::new(),
                };
                let ro = if a.read_only { ", read-only" } else { "" };
                format!("{what}{of}{which}{ro}")
            }
            Step::WaitForNode => continue,
            Step::Crypt(c) => {
                let header = if created { ", writing its header first on an image this run created" } else { "" };
                let ro = if c.read_only { " read-only" } else { "" };
                format!("open the {} crypt layer on {disk}{ro}{header}", c.encrypt.scheme.name())
            }
            Step::NewIdentity { grow_to } => {
                let grow =
                    grow_to.map(|n| format!(", then grow it and its file system to {}", size(n))).unwrap_or_default();
                format!(
                    "give the copied file system an identity of its own (a new UUID){grow}, if this run made the image"
                )
            }
            Step::Examine(Examine::BeforeFormat) => {
                format!("check that {disk} holds no file system (none is formatted over)")
            }
            Step::Examine(Examine::BeforeMount(policy)) => match policy {
                FsckPolicy::Auto => format!("check the file system with {} if it is not clean", v.checker),
                FsckPolicy::Always => format!("check the file system with {}", v.checker),
                FsckPolicy::Never => "warn if the file system is not clean (--fsck=never)".to_string(),
            },
            Step::Format(f) => {
                let opts: Vec<String> = f
                    .options
                    .iter()
                    .map(|o| {
                        format!("-{}{}", o.letter, o.value.as_deref().map(|v| format!(" {v}")).unwrap_or_default())
                    })
                    .collect();
                let opts = if opts.is_empty() { String::new() } else { format!(" ({})", opts.join(" ")) };
                let when = if f.only_if_created { " (only if this run created the image)" } else { "" };
                format!("format {disk} {} with {}{opts}{when}", f.fstype, (v.formatter)(&f.fstype))
            }
            Step::Mount(m) => {
                let t = match &m.fstype {
                    FsType::Named(t) => t.clone(),
                    FsType::Probe => "the type the image holds".to_string(),
                };
                format!("mount {disk}{} on {} ({t}{})", m.suffix, quoted(&m.mount_point), options(&m.options))
            }
            Step::MountTmpfs(t) => {
                let of = t.size.map(|n| format!(" of {}", size(n))).unwrap_or_default();
                format!("mount a tmpfs{of} on {}{}", quoted(&t.mount_point), options(&t.options))
            }
            Step::SetMode(m) => format!("set the mode of {} to {:04o}", quoted(&plan.mount_point), m.mode),
            Step::SetOwner { uid, gid } => format!("set the owner of {} to {uid}:{gid}", quoted(&plan.mount_point)),
            Step::CopySkeleton(p) => format!("copy {} into {}", quoted(p), quoted(&plan.mount_point)),
        };
        lines.push(line);
    }
    if created {
        lines.push("remove the image again if this run created it and a later step fails".to_string());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{of_line, Defaults};

    /// mdmfs's: the Linux line names its type.
    const DEFAULTS: Defaults = Defaults { fstype: "ufs", probe_preserved: false, tmpfs_available: true };

    #[test]
    fn a_new_image_in_words() {
        let line =
            "mount_md -P --create -s 2g -F /srv/j1.img -T ext4 -i 8192 -o rw,noatime -p 0755 -w 0:0 md /var/jails/j1";
        let p = of_line(&line.split(' ').collect::<Vec<_>>(), DEFAULTS);
        assert_eq!(
            describe(&p, &LINUX),
            [
                "open /srv/j1.img read-write, creating it if it does not exist (2.0GiB (2147483648 bytes), every block reserved)",
                "attach /srv/j1.img as a loop device of 2.0GiB (2147483648 bytes)",
                "format the loop device ext4 with mkfs.ext4 (-i 8192) (only if this run created the image)",
                "check the file system with e2fsck -p if it is not clean",
                "mount the loop device on /var/jails/j1 (ext4, options rw,noatime)",
                "set the mode of /var/jails/j1 to 0755",
                "set the owner of /var/jails/j1 to 0:0",
                "remove the image again if this run created it and a later step fails",
            ]
        );
    }

    #[test]
    fn a_fixed_md_unit_on_freebsd() {
        let p = of_line(&["mdmfs", "-s", "64m", "md3", "/tmp/x y"], DEFAULTS);
        assert_eq!(
            describe(&p, &FREEBSD),
            [
                "detach /dev/md3 if it is attached and not in use (-D keeps it)",
                "attach a swap-backed md(4) disk of 64MiB (67108864 bytes), /dev/md3",
                "format /dev/md3 ufs with newfs",
                "mount /dev/md3 on '/tmp/x y' (ufs)",
            ]
        );
    }
}
