//! jail(8) and mount(8) as they run mount_md, over the kernel model: each
//! command is a new process, i.e. a new `FreeBsd` over the same `Model`.
//!
//! * jail(8) start (usr.sbin/jail/command.c `run_command`, IP_MOUNT_FSTAB):
//!   for each `mount.fstab` line, `/sbin/mount -t TYPE -o OPTS SPEC DIR`;
//!   mount(8) (sbin/mount/mount.c `mountfs`) then drops `noauto`, `late`,
//!   `failok`, the quota options and `mountprog=`, and execs the mountprog
//!   with `-o opt` for plain options, the `-x[=v]` items split at `=`, then
//!   SPEC and DIR ([`super::mount_modern_argv`]).
//! * FreeBSD 6.x mount(8) (`mount -a` of the rc.d jail scripts) runs
//!   `mount_TYPE` with `rw` dropped and the items in order
//!   ([`super::mount_6x_argv`]).
//! * jail(8) stop: for each line, last first, `umount -t TYPE DIR`, but only
//!   when the file system mounted on DIR is of that type (command.c checks
//!   `f_fstypename`); then `exec.release` (jail.c runs it after the mounts
//!   are gone).
use super::model::Model;
use super::{jail_commands, mount_6x_argv, mount_modern_argv, run, Fstab};
use mount_md::platform::freebsd::{FreeBsd, MdSys};
use std::path::Path;

/// Which mount(8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Modern,
    Old6x,
}

/// One mount_md process: (status, stdout, stderr).
pub fn mount_md(model: &Model, argv: &[String]) -> (i32, String, String) {
    let mut fb = FreeBsd::with_sys(model.clone());
    let r = run(argv, &mut fb);
    model.k().log.push(format!("{argv:?} -> {} {}", r.0, r.2.trim_end()));
    r
}

/// mount(8) on one fstab line (also what jail(8)'s `mount -t T -o O spec
/// dir` amounts to). Err carries the helper's stderr.
pub fn mount8(model: &Model, line: &str, dialect: Dialect) -> Result<(), String> {
    let argv = match dialect {
        Dialect::Modern => {
            // jail(8)'s create command is that fstab line, as arguments.
            let (create, _) = jail_commands(line);
            assert_eq!(create[0], "/sbin/mount");
            mount_modern_argv(line)
        }
        Dialect::Old6x => mount_6x_argv(line),
    };
    let Some(argv) = argv else {
        // No helper: mount(8) calls nmount itself with from=SPEC ("md"),
        // which names no device.
        return Err(format!("mount: {}: No such file or directory", Fstab::parse(line).spec));
    };
    match mount_md(model, &argv) {
        (0, _, _) => Ok(()),
        (_, _, err) => Err(err),
    }
}

/// A jail as jail.conf describes it.
pub struct Jail<'a> {
    pub fstab: Vec<&'a str>,
    /// `exec.release`, as words.
    pub release: Option<&'a str>,
    pub dialect: Dialect,
}

impl Jail<'_> {
    /// jail -c: mounts every line; the first failure fails the start.
    pub fn start(&self, model: &Model) -> Result<(), String> {
        for line in &self.fstab {
            mount8(model, line, self.dialect)?;
        }
        Ok(())
    }

    /// jail -r: umount(8) each line (type permitting), then exec.release.
    pub fn stop(&self, model: &Model) -> Result<(), String> {
        for line in self.fstab.iter().rev() {
            let f = Fstab::parse(line);
            let mounted_type =
                model.k().mounts.iter().rev().find(|m| m.on == Path::new(f.file)).map(|m| m.fstype.clone());
            let matches = match self.dialect {
                Dialect::Modern => mounted_type.as_deref() == Some(f.vfstype),
                Dialect::Old6x => mounted_type.is_some(),
            };
            if matches {
                let mut m = model.clone();
                m.unmount(Path::new(f.file), false).map_err(|e| format!("umount: {e}"))?;
            }
        }
        if let Some(cmd) = self.release {
            let argv: Vec<String> = cmd.split(' ').map(str::to_string).collect();
            let (code, _, err) = mount_md(model, &argv);
            if code != 0 {
                return Err(err);
            }
        }
        Ok(())
    }
}
