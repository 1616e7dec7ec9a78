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
                    // Under -N the image may not be there yet: say why.
                    Err(e) => format!("{{{}: {e}}}", crate::platform::describe::generic(step, "/dev/md", dev)),
                };
                format!("ioctl({}, MDIOCATTACH, {what})", abi::MDCTL_PATH)
            }
            Step::WaitForNode => format!("wait for {name}"),
            Step::Crypt(c) => {
                let mp = self.mount_point.clone().unwrap_or_default();
                crate::crypt::describe(&c.encrypt, c.read_only, Path::new(&name), mp.as_os_str().as_bytes())
            }
            Step::Examine(e) => crate::platform::describe::examine(e, &name, fsck::FSCK_UFS),
            Step::Format(f) => show_argv(&newfs_argv(f, Path::new(&name))),
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
            _ => crate::platform::describe::generic(step, "/dev/md", dev),
        }
    }
}
