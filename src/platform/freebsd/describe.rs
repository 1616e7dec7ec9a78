//! `-N` and `-X` on FreeBSD: the exact ioctl, syscall or program each
//! step makes, with its arguments.
use super::*;
use crate::platform::Describe;

impl<S: MdSys> Describe for FreeBsd<S> {
    fn describe(&self, step: &Step, dev: Option<&Device>, image: Option<&Opened<OpenedImage>>) -> String {
        let unit = crate::platform::describe::device_name("/dev/md", dev);
        // After the crypt step, what is formatted and mounted is geli's.
        let layered = self.encrypted && matches!(step, Step::Examine(_) | Step::Format(_) | Step::Mount(_));
        let name = if layered { format!("{unit}.eli") } else { unit };
        match step {
            Step::PreDetach(u) => {
                format!("ioctl({}, MDIOCDETACH, {}) (errors ignored)", abi::MDCTL_PATH, describe_detach(*u))
            }
            Step::Attach(a) => {
                let mp = self.mount_point.clone().unwrap_or_else(|| PathBuf::from("<mount point>"));
                let what = match self.request_for(a, image, &mp) {
                    Ok((req, _)) => req.describe(),
                    Err(e) => format!("{{{}: {e}}}", attach_words(a)),
                };
                format!("ioctl({}, MDIOCATTACH, {what})", abi::MDCTL_PATH)
            }
            Step::WaitForNode => format!("wait for {name}"),
            Step::Crypt(c) => {
                let mp = self.mount_point.clone().unwrap_or_default();
                crate::crypt::describe(&c.encrypt, c.read_only, Path::new(&name), mp.as_os_str().as_bytes())
            }
            Step::Examine(e) => crate::platform::describe::examine(e, &name, fsck::FSCK_UFS),
            Step::Format(f) => crate::grow_ops::show_argv(&newfs_argv(f, Path::new(&name))),
            Step::Mount(m) => {
                let from = mount_from(Path::new(&name), &m.suffix);
                let ro = dev.is_some_and(|d| d.read_only);
                let mut line = match nmount_request(&fstype_of(m), &m.options, &m.mount_point, &from, ro) {
                    Ok(r) => r.describe(),
                    Err(e) => format!("nmount: {e}"),
                };
                if !m.suffix.is_empty() {
                    line = format!("wait for {}; {line}", Path::new(&from).display());
                }
                line
            }
            Step::MountTmpfs(t) => match tmpfs_request(t, &t.mount_point) {
                Ok(r) => r.describe(),
                Err(e) => format!("nmount: {e}"),
            },
            Step::EnterNamespace(ns) => format!("enter mount namespace {}", ns.display()),
            Step::OpenImage(o) => {
                let create = match o.create {
                    Some((size, mode)) => format!(" (create {size} bytes, {mode:?})").to_lowercase(),
                    None => String::new(),
                };
                let ro = if o.read_only { " readonly" } else { "" };
                format!("open and lock {}{ro}{create}", o.path.display())
            }
            Step::SetMode(m) => format!("chmod {:o} (mounted root)", m.mode),
            Step::SetOwner { uid, gid } => format!("chown {uid}:{gid} (mounted root)"),
            Step::CopySkeleton(p) => format!("copy {} into the mounted root", p.display()),
            Step::NewIdentity { grow_to } => format!(
                "give the file system on {name} a new UUID, {}then publish the image",
                grow_to.map_or(String::new(), |s| format!("grow it to {s} bytes if it is smaller, "))
            ),
        }
    }
}

/// An attach in words, where its MDIOCATTACH request cannot be built yet
/// (under -N the image may not exist).
fn attach_words(a: &Attach) -> String {
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
