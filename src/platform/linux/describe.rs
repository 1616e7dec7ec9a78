//! `-N` and `-X` on Linux: the exact system call or program each step
//! makes, with its arguments ([`super::super::Describe`]).
use super::*;
use crate::platform::Describe;

/// mount(2) of `source` on `mount_point` with the flags and data of `s`,
/// and how the mounted root is opened right after it.
fn describe_mount(source: &str, mount_point: &Path, fstype: &str, s: &mount::Split) -> String {
    let root = match (mount_point.parent(), mount_point.file_name()) {
        (Some(parent), Some(name)) => format!(
            "openat(<{}>, {}, O_DIRECTORY|O_NOFOLLOW)",
            parent.display(),
            mount::quoted(&name.to_string_lossy())
        ),
        _ => format!("open({}, O_DIRECTORY|O_NOFOLLOW)", mount::quoted(&show(mount_point))),
    };
    format!(
        "mount({}, {}, {}, {}, {}); {root}",
        mount::quoted(source),
        mount::quoted(&show(mount_point)),
        mount::quoted(fstype),
        mount::flag_names(s.flags),
        mount::quoted(&s.data_string())
    )
}

fn describe_attach(a: &Attach, mount_point: &Path) -> String {
    let (align, open_part, fd_name, sizelimit) = match &a.backing {
        Backing::Vnode(p) => {
            let len = std::fs::metadata(p).map(|m| m.len()).ok();
            let (grow, limit) = sizing(a.size, len);
            let grow = grow.map(|s| format!("ftruncate({}, {s})", mount::quoted(&show(p)))).unwrap_or_default();
            (super::sys::dio_offset_align_of(p), grow, "<img>", limit)
        }
        Backing::Swap | Backing::Malloc => {
            let size = a.size.map(|s| s.to_string()).unwrap_or_else(|| "<-s missing>".into());
            (None, format!("memfd_create(\"mount_md\", MFD_CLOEXEC); ftruncate(<memfd>, {size})"), "<memfd>", 0)
        }
    };
    let dio = loopdev::direct_io_for(a.direct_io, align);
    let info = loop_info(a.read_only, sizelimit, &mark_of(mount_point), dio.flag());
    let (find, node) = match a.unit {
        Unit::Auto => ("ioctl(/dev/loop-control, LOOP_CTL_GET_FREE)".to_string(), "/dev/loop?".to_string()),
        Unit::Fixed(n) => (format!("ioctl(/dev/loop-control, LOOP_CTL_ADD, {n})"), format!("/dev/loop{n}")),
    };
    let block_size = match dio.block_size() {
        0 => String::new(),
        n => format!(", block_size={n}"),
    };
    format!(
        "{open_part}{}flock(/dev/loop-control, LOCK_EX); {find}; ioctl({node}, LOOP_CONFIGURE, fd={fd_name}, {}{block_size})",
        if open_part.is_empty() { "" } else { "; " },
        describe_info(&info)
    )
}

impl<S: LoopSys> Describe for Linux<S> {
    fn describe(&self, step: &Step, dev: Option<&Device>, _image: Option<&Opened<posix::Image>>) -> String {
        let node = match (dev, self.fixed_unit) {
            (None, Some(n)) => show(&loopdev::node(n)),
            _ => crate::platform::describe::device_name("/dev/loop", dev),
        };
        let unit_node = node.clone();
        let node = match (&self.layer_node, step) {
            (Some(l), Step::Examine(_) | Step::Format(_) | Step::Mount(_)) => show(l),
            _ => node,
        };
        let mp = self.mount_point.clone().unwrap_or_else(|| PathBuf::from("<mount point>"));
        // The root as mount() opened it, once, through the pinned parent.
        let root = format!("<root of {}>", mount::quoted(&show(&mp)));
        match step {
            Step::EnterNamespace(ns) => format!("setns(open({}), CLONE_NEWNS)", mount::quoted(&show(ns))),
            Step::OpenImage(o) => {
                let mode = if o.read_only { "O_RDONLY" } else { "O_RDWR" };
                let tmp = o.path.file_name().map(|n| show(Path::new(&posix::temp_name(n)))).unwrap_or_default();
                let create = match o.create {
                    Some((size, mode)) => format!(
                        "if missing: flock(<dir's lock file>, LOCK_EX); openat({}, O_CREAT|O_EXCL, 0600); {}; \
                         renameat2(RENAME_NOREPLACE) once formatted; ",
                        mount::quoted(&tmp),
                        match mode {
                            crate::request::CreateMode::Reserve => {
                                crate::platform::extend::describe_linux("<img>", 0, size)
                            }
                            crate::request::CreateMode::Sparse => format!("ftruncate(<img>, {size})"),
                        }
                    ),
                    None => match &o.from {
                        Some(b) => format!(
                            "if missing: open {} read-only, locked; refuse it if a unit has it attached read-write; \
                             flock(<dir's lock file>, LOCK_EX); openat({}, O_CREAT|O_EXCL, 0600); ioctl(<img>, FICLONE, <base>){}; \
                             renameat2(RENAME_NOREPLACE) once it has its own UUID; ",
                            mount::quoted(&show(&b.path)),
                            mount::quoted(&tmp),
                            match b.clone {
                                crate::template::Policy::Auto =>                                     " else copy_file_range, else pread/pwrite, of each SEEK_DATA..SEEK_HOLE segment",
                                crate::template::Policy::Require => " (no copy: --clone=require)",
                            }
                        ),
                        None => String::new(),
                    },
                };
                format!(
                    "{create}openat({}, {mode}|O_NOFOLLOW|O_NONBLOCK) (a symlink only if nobody else can change it); \
                     flock(<img's lock file>, LOCK_EX) (at most {} s)",
                    mount::quoted(&show(&o.path)),
                    posix::LOCK_WAIT.as_secs()
                )
            }
            Step::PreDetach(n) => format!("ioctl(/dev/loop{n}, LOOP_CLR_FD) if bound and not in use"),
            Step::Attach(a) => describe_attach(a, &mp),
            Step::WaitForNode => format!("wait for {node} (at most {} s)", NODE_WAIT.as_secs()),
            Step::Crypt(c) => {
                crate::crypt::describe(&c.encrypt, c.read_only, Path::new(&unit_node), mp.as_os_str().as_bytes())
            }
            Step::Examine(e) => crate::platform::describe::examine(e, &node, "e2fsck"),
            Step::Format(f) => match mkfs::argv(f, &node) {
                Ok(args) => format!("mkfs.{} {}", f.fstype, args.join(" ")),
                Err(e) => format!("mkfs.{}: {e}", f.fstype),
            },
            Step::Mount(m) => {
                let t = if let FsType::Named(t) = &m.fstype { t } else { "<probed>" };
                let (c, _) = mount_call(&m.options, dev.is_some_and(|d| d.read_only));
                describe_mount(&format!("{node}{}", m.suffix), &m.mount_point, t, &c)
            }
            Step::MountTmpfs(t) => describe_mount("tmpfs", &t.mount_point, "tmpfs", &requests::tmpfs_call(t)),
            Step::SetMode(m) => format!("fchmod({root}, {:04o})", m.mode),
            Step::SetOwner { uid, gid } => format!("fchown({root}, {uid}, {gid})"),
            Step::CopySkeleton(p) => format!("copy {} into {root}", mount::quoted(&show(p))),
            Step::NewIdentity { grow_to } => format!(
                "tune2fs -U random | xfs_admin -U generate | btrfstune -m {node} (by its file system), {}then publish the image",
                grow_to.map_or(String::new(), |s| format!(
                    "then if it is smaller than {s} bytes: fallocate of its tail, LOOP_SET_CAPACITY, \
                     e2fsck -f -p + resize2fs {node} | xfs_growfs | btrfs filesystem resize max (mounted in a \
                     mount namespace of its own), "
                ))
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::linux::tests::plan;

    #[test]
    fn describes_exact_calls() {
        let mut l = Linux::new();
        let p = plan(&["mount_md", "-o", "noatime,nodev,errors=remount-ro", "-p", "0750", "-F", "/i m/g", "md", "/"]);
        l.refusal(&p).unwrap();
        let lines: Vec<String> = p.steps.iter().map(|s| l.describe(s, None, None)).collect();
        assert_eq!(
            lines,
            [
                "openat(\"/i m/g\", O_RDWR|O_NOFOLLOW|O_NONBLOCK) (a symlink only if nobody else can change it); \
                 flock(<img's lock file>, LOCK_EX) (at most 10 s)",
                "flock(/dev/loop-control, LOCK_EX); ioctl(/dev/loop-control, LOOP_CTL_GET_FREE); \
                 ioctl(/dev/loop?, LOOP_CONFIGURE, fd=<img>, flags=AUTOCLEAR|DIRECT_IO, lo_file_name=\"mount_md:/\")",
                "wait for /dev/loop? (at most 5 s)",
                "pread(/dev/loop?, 4096, 0): refuse to format over a file system",
                "mkfs.ext4 -q -F -E nodiscard /dev/loop?",
                "mount(\"/dev/loop?\", \"/\", \"ext4\", MS_NODEV|MS_NOATIME, \"errors=remount-ro\"); \
                 open(\"/\", O_DIRECTORY|O_NOFOLLOW)",
                "fchmod(<root of \"/\">, 0750)",
            ]
        );
        let dev = Device { unit: 7, path: "/dev/loop7".into(), read_only: true };
        let p = plan(&["mount_md", "-P", "-F", "/i", "md", "/"]);
        assert_eq!(
            l.describe(&p.steps[3], Some(&dev), None),
            "pread(/dev/loop7, 4096, 0); e2fsck -p /dev/loop7 only if it is not clean"
        );
        assert_eq!(
            l.describe(&p.steps[4], Some(&dev), None),
            "mount(\"/dev/loop7\", \"/\", \"<probed>\", MS_RDONLY, \"\"); open(\"/\", O_DIRECTORY|O_NOFOLLOW)"
        );
        let p = plan(&["mount_md", "-o", "ro", "-s", "1m", "-F", "/nonexistent", "md4", "/"]);
        assert_eq!(
            l.describe(&p.steps[0], None, None),
            "openat(\"/nonexistent\", O_RDONLY|O_NOFOLLOW|O_NONBLOCK) (a symlink only if nobody else can change it); \
             flock(<img's lock file>, LOCK_EX) (at most 10 s)"
        );
        assert_eq!(p.steps[1], Step::PreDetach(4));
        assert_eq!(l.describe(&p.steps[1], None, None), "ioctl(/dev/loop4, LOOP_CLR_FD) if bound and not in use");
        assert_eq!(
            l.describe(&p.steps[2], None, None),
            "flock(/dev/loop-control, LOCK_EX); ioctl(/dev/loop-control, LOOP_CTL_ADD, 4); \
             ioctl(/dev/loop4, LOOP_CONFIGURE, fd=<img>, flags=AUTOCLEAR|READ_ONLY|DIRECT_IO, sizelimit=1048576, \
             lo_file_name=\"mount_md:/\")"
        );
        let p = plan(&["mount_md", "--create=sparse", "-s", "1m", "-F", "/n", "md", "/"]);
        assert_eq!(
            l.describe(&p.steps[0], None, None),
            "if missing: flock(<dir's lock file>, LOCK_EX); openat(\".n.mount_md-new\", O_CREAT|O_EXCL, 0600); \
             ftruncate(<img>, 1048576); renameat2(RENAME_NOREPLACE) once formatted; \
             openat(\"/n\", O_RDWR|O_NOFOLLOW|O_NONBLOCK) (a symlink only if nobody else can change it); \
             flock(<img's lock file>, LOCK_EX) (at most 10 s)"
        );
        let p = plan(&["mount_md", "-s", "1m", "tmpfs", "/"]);
        assert_eq!(
            l.describe(&p.steps[0], None, None),
            "mount(\"tmpfs\", \"/\", \"tmpfs\", 0, \"size=1048576\"); open(\"/\", O_DIRECTORY|O_NOFOLLOW)"
        );
    }

    #[test]
    fn no_direct_io_option() {
        let l = Linux::new();
        let attach = |args: &[&str]| {
            let p = plan(args);
            let a = p.steps.iter().find(|s| matches!(s, Step::Attach(_))).expect("attach step").clone();
            l.describe(&a, None, None)
        };
        let flags = |line: String| {
            let f = line.rsplit_once("flags=").map(|(_, f)| f.to_string()).unwrap();
            f.replace(", lo_file_name=\"mount_md:<mount point>\"", "")
        };
        assert_eq!(flags(attach(&["mount_md", "-F", "/nonexistent", "md", "/"])), "AUTOCLEAR|DIRECT_IO)");
        assert_eq!(flags(attach(&["mount_md", "--no-direct-io", "-F", "/nonexistent", "md", "/"])), "AUTOCLEAR)");
        assert_eq!(flags(attach(&["mount.md", "md", "/", "-o", "-F/nonexistent,--no-direct-io"])), "AUTOCLEAR)");
        assert_eq!(flags(attach(&["mount_md", "-s", "1m", "md", "/"])), "AUTOCLEAR|DIRECT_IO)");
        // The block size is the image's file system's direct-I/O alignment.
        let exe = std::env::current_exe().unwrap();
        let line = attach(&["mount_md", "-F", exe.to_str().unwrap(), "md", "/"]);
        match super::sys::dio_offset_align_of(&exe) {
            Some(a) if a > 0 => assert!(line.ends_with(&format!(", block_size={})", a.max(512))), "{line}"),
            _ => assert!(!line.contains("block_size"), "{line}"),
        }
    }
}
