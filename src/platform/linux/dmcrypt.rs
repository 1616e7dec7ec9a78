//! The device-mapper targets above a loop unit, as sysfs shows them: what
//! `-u`, `-r` and `--list` need to find the crypt layer mount_md opened on
//! one of its units, by what the kernel holds, not by a path.
//!
//! `/sys/block/loopN/holders/` lists the block devices built on loopN
//! (linux/drivers/md/dm.c `open_table_device` links each device a table
//! uses with `bd_link_disk_holder`); for each `dm-M` there, `dm/name` and
//! `dm/uuid` (linux/drivers/md/dm-sysfs.c `dm_attr_name_show`,
//! `dm_attr_uuid_show`) give its name and the UUID cryptsetup set
//! (`CRYPT-LUKS2-<uuid>-<name>`, cryptsetup lib/libdevmapper.c
//! `dm_prepare_uuid`). A layer is mount_md's when its name is one
//! [`crate::crypt::dm_name`] makes and the loop unit under it carries
//! mount_md's mark for the same mount point: the caller checks both.
use std::path::{Path, PathBuf};

/// One device-mapper target on a loop unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// `dm-3`.
    pub kernel_name: String,
    /// Its dm name (`mount_md-…` for ours), as bytes.
    pub name: Vec<u8>,
    /// The crypt type its UUID names (`luks2`), if it is a crypt target.
    pub crypt: Option<String>,
}

impl Layer {
    /// `/dev/mapper/<name>`, the node cryptsetup's udev rules and
    /// libdevmapper make for it.
    pub fn node(&self) -> PathBuf {
        use std::os::unix::ffi::OsStrExt;
        Path::new("/dev/mapper").join(std::ffi::OsStr::from_bytes(&self.name))
    }
}

/// The crypt type a dm UUID names: `CRYPT-LUKS2-…` → `luks2`,
/// `CRYPT-PLAIN-…` → `plain`; `None` for other targets.
pub fn crypt_type(uuid: &[u8]) -> Option<String> {
    let rest = uuid.strip_prefix(b"CRYPT-")?;
    let end = rest.iter().position(|b| *b == b'-').unwrap_or(rest.len());
    let t = std::str::from_utf8(&rest[..end]).ok()?;
    (!t.is_empty()).then(|| t.to_ascii_lowercase())
}

/// `253:4\n` → (253, 4).
pub fn parse_dev(text: &[u8]) -> Option<(u32, u32)> {
    let s = std::str::from_utf8(text).ok()?.trim();
    let (a, b) = s.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn trim_nl(mut v: Vec<u8>) -> Vec<u8> {
    while v.last() == Some(&b'\n') {
        v.pop();
    }
    v
}

/// The dm targets that hold `loop_name` (`loop7`), read under `sysfs`
/// (`/sys`). A unit nothing is built on has none; a holder that vanished
/// while being read is left out.
pub fn layers_over(sysfs: &Path, loop_name: &str) -> std::io::Result<Vec<Layer>> {
    let holders = sysfs.join("block").join(loop_name).join("holders");
    let entries = match std::fs::read_dir(&holders) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let kernel_name = entry?.file_name().to_string_lossy().into_owned();
        if !kernel_name.starts_with("dm-") {
            continue;
        }
        let dir = sysfs.join("block").join(&kernel_name);
        let Ok(name) = std::fs::read(dir.join("dm/name")) else { continue };
        let uuid = std::fs::read(dir.join("dm/uuid")).unwrap_or_default();
        out.push(Layer { kernel_name, name: trim_nl(name), crypt: crypt_type(&trim_nl(uuid)) });
    }
    out.sort_by(|a, b| a.kernel_name.cmp(&b.kernel_name));
    Ok(out)
}

/// The loop unit under a dm target of mount_md's, by device numbers: when
/// `dev` is a dm target whose name [`crate::crypt::is_ours_name`] accepts
/// and whose one slave is a loop device, that loop device's number. A
/// mount on mount_md's crypt layer is then matched to the unit under it,
/// as a mount on the unit itself is (`/sys/dev/block/M:m/dm/name`,
/// `slaves/`, linux/drivers/md/dm-sysfs.c and dm.c `open_table_device`).
pub fn unit_under(sysfs: &Path, dev: u64) -> Option<u64> {
    // Anonymous devices (tmpfs, proc, btrfs subvolumes) and loop devices
    // themselves are never dm targets: no sysfs look-up for them.
    if matches!(libc::major(dev), 0 | 7) {
        return None;
    }
    let dir = sysfs.join("dev/block").join(format!("{}:{}", libc::major(dev), libc::minor(dev)));
    let name = trim_nl(std::fs::read(dir.join("dm/name")).ok()?);
    if !crate::crypt::is_ours_name(&name) {
        return None;
    }
    let slaves: Vec<String> = std::fs::read_dir(dir.join("slaves"))
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let [only] = slaves.as_slice() else { return None };
    if !only.starts_with("loop") {
        return None;
    }
    let (major, minor) = parse_dev(&std::fs::read(sysfs.join("block").join(only).join("dev")).ok()?)?;
    Some(libc::makedev(major, minor))
}

/// The device-mapper control node (linux/drivers/md/dm-ioctl.c
/// `_dm_misc`: misc minor 236, "mapper/control").
pub const CONTROL: &str = "/dev/mapper/control";

/// Why this kernel cannot open a crypt layer, or `None`: opening the
/// control node (which also has the kernel load dm_mod where it is a
/// module, through the `devname:mapper/control` alias) fails with ENODEV
/// or ENXIO when device-mapper is not in the kernel, and ENOENT when the
/// node is missing.
pub fn missing_device_mapper() -> Option<String> {
    use nix::errno::Errno;
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    match open(CONTROL, OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty()) {
        Ok(_) => None,
        Err(e @ (Errno::ENODEV | Errno::ENXIO | Errno::ENOENT)) => Some(format!(
            "this kernel has no device-mapper ({CONTROL}: {}): --encrypt=luks2 needs dm-crypt (CONFIG_BLK_DEV_DM, CONFIG_DM_CRYPT)",
            e.desc()
        )),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answer agrees with the kernel's list of misc devices, which
    /// holds `device-mapper` once dm is loaded (the open loads it).
    #[test]
    fn device_mapper_presence_agrees_with_proc_misc() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: opening {CONTROL} needs root");
            return;
        }
        let missing = missing_device_mapper();
        let misc = std::fs::read_to_string("/proc/misc").unwrap();
        let listed = misc.lines().any(|l| l.trim_end().ends_with(" device-mapper"));
        assert_eq!(missing.is_none(), listed, "{missing:?}");
        if let Some(m) = missing {
            assert!(m.starts_with("this kernel has no device-mapper (/dev/mapper/control: "), "{m}");
        }
    }

    /// A dm target of ours over loop7 stands for loop7; another's, or one
    /// over two devices, does not.
    #[test]
    fn mounts_on_our_layer_belong_to_the_unit_under_it() {
        let root = std::env::temp_dir().join(format!("mount_md-dmdev-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let mk = |dev: &str, name: &str, slaves: &[&str]| {
            let d = root.join("dev/block").join(dev);
            std::fs::create_dir_all(d.join("dm")).unwrap();
            std::fs::create_dir_all(d.join("slaves")).unwrap();
            std::fs::write(d.join("dm/name"), format!("{name}\n")).unwrap();
            for s in slaves {
                std::fs::create_dir_all(d.join("slaves").join(s)).unwrap();
            }
        };
        std::fs::create_dir_all(root.join("block/loop7")).unwrap();
        std::fs::write(root.join("block/loop7/dev"), "7:7\n").unwrap();
        mk("253:1", "mount_md-0011223344556677", &["loop7"]);
        mk("253:2", "vg-lv", &["loop7"]);
        mk("253:3", "mount_md-8899aabbccddeeff", &["loop7", "loop8"]);
        assert_eq!(unit_under(&root, libc::makedev(253, 1)), Some(libc::makedev(7, 7)));
        assert_eq!(unit_under(&root, libc::makedev(253, 2)), None);
        assert_eq!(unit_under(&root, libc::makedev(253, 3)), None);
        assert_eq!(unit_under(&root, libc::makedev(8, 1)), None);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn uuids_and_devs() {
        assert_eq!(crypt_type(b"CRYPT-LUKS2-0b1c2d3e4f5a47b8a9c0d1e2f3a4b5c6-mount_md-00"), Some("luks2".into()));
        assert_eq!(crypt_type(b"CRYPT-PLAIN-x"), Some("plain".into()));
        assert_eq!(crypt_type(b"LVM-abc"), None);
        assert_eq!(crypt_type(b"CRYPT-"), None);
        assert_eq!(parse_dev(b"253:4\n"), Some((253, 4)));
        assert_eq!(parse_dev(b"253"), None);
    }

    /// A sysfs tree laid out as the kernel does: loop7 held by dm-2 (ours)
    /// and dm-5 (someone's LVM), loop8 held by nothing.
    #[test]
    fn holders_are_read_from_sysfs() {
        let root = std::env::temp_dir().join(format!("mount_md-dmsys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let b = root.join("block");
        std::fs::create_dir_all(b.join("loop7/holders")).unwrap();
        std::fs::create_dir_all(b.join("loop8/holders")).unwrap();
        for (dm, name, uuid) in [
            ("dm-2", "mount_md-0011223344556677\n", "CRYPT-LUKS2-abc-mount_md-0011223344556677\n"),
            ("dm-5", "vg-lv\n", "LVM-xyz\n"),
        ] {
            std::fs::create_dir_all(b.join(dm).join("dm")).unwrap();
            std::fs::write(b.join(dm).join("dm/name"), name).unwrap();
            std::fs::write(b.join(dm).join("dm/uuid"), uuid).unwrap();
            std::fs::create_dir(b.join("loop7/holders").join(dm)).unwrap();
        }
        let got = layers_over(&root, "loop7").unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].name, b"mount_md-0011223344556677");
        assert_eq!(got[0].crypt.as_deref(), Some("luks2"));
        assert_eq!(got[0].node(), Path::new("/dev/mapper/mount_md-0011223344556677"));
        assert_eq!(got[1].crypt, None);
        assert!(layers_over(&root, "loop8").unwrap().is_empty());
        assert!(layers_over(&root, "loop9").unwrap().is_empty());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
