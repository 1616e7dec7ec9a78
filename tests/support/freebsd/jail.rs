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
//! * jail(8) start runs its commands in jail.c's `startcommands` order:
//!   `exec.prepare`, the address aliases, `mount`, `mount.fstab`,
//!   `mount.devfs`…, `exec.prestart`, the create, `exec.created`,
//!   `exec.start`, `command`, `exec.poststart`. The first command that
//!   fails makes the create fail, and command.c `next_command` then walks
//!   that list backwards from it (`create_failed`): every command already
//!   run is run again in its "down" form — `umount -t TYPE DIR` for each
//!   `mount.fstab` line, last first, the jail removed — except
//!   `exec.prestart`, `exec.start`, `command` and `exec.poststart`, which
//!   its skip list names. `exec.prepare` is not in that list, so it runs
//!   again, after the unmounts; `exec.release` is not in `startcommands`
//!   at all, so it never runs on a failed start.
//! * jail(8) stop: for each line, last first, `umount -t TYPE DIR`, but only
//!   when the file system mounted on DIR is of that type (command.c checks
//!   `f_fstypename`); then `exec.release` (last in jail.c's
//!   `stopcommands`). A command that fails fails the stop, and what comes
//!   after it is not run: a busy root (a dying jail, see
//!   `Model::dying_jail_root`) leaves its mount and its unit.
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
    /// `exec.prepare`, as words (a mount_md command).
    pub prepare: Option<&'a str>,
    /// `exec.release`, as words.
    pub release: Option<&'a str>,
    pub dialect: Dialect,
    /// `exec.start` fails (`exec.start = "false"`): the create fails after
    /// `mount.fstab`.
    pub start_fails: bool,
}

/// A mount_md command line of jail.conf, run: Err carries its stderr.
fn exec(model: &Model, cmd: &str) -> Result<(), String> {
    let argv: Vec<String> = cmd.split(' ').map(str::to_string).collect();
    match mount_md(model, &argv) {
        (0, _, _) => Ok(()),
        (_, _, err) => Err(err),
    }
}

impl Jail<'_> {
    /// jail -c, in `startcommands` order; on a failure, the walk back
    /// (see the module header). Err says what failed first.
    pub fn start(&self, model: &Model) -> Result<(), String> {
        if let Some(cmd) = self.prepare {
            exec(model, cmd).map_err(|e| format!("exec.prepare: {e}"))?;
        }
        let mut mounted = 0;
        let mut failure = None;
        for line in &self.fstab {
            match mount8(model, line, self.dialect) {
                Ok(()) => mounted += 1,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if failure.is_none() && self.start_fails {
            failure = Some("exec.start: false: failed".into());
        }
        let Some(failure) = failure else { return Ok(()) };
        // create_failed: back through mount.fstab, last line first, then
        // exec.prepare again. A failure on the way back is jail(8)'s
        // warning; the walk goes on.
        for line in self.fstab[..mounted].iter().rev() {
            let _ = self.umount8(model, line);
        }
        if let Some(cmd) = self.prepare {
            let _ = exec(model, cmd);
        }
        Err(failure)
    }

    /// `umount -t TYPE DIR` for one fstab line, if check_path lets it run.
    fn umount8(&self, model: &Model, line: &str) -> Result<(), String> {
        let f = Fstab::parse(line);
        let mounted_type = model.k().mounts.iter().rev().find(|m| m.on == Path::new(f.file)).map(|m| m.fstype.clone());
        let matches = match self.dialect {
            Dialect::Modern => mounted_type.as_deref() == Some(f.vfstype),
            Dialect::Old6x => mounted_type.is_some(),
        };
        if matches {
            let mut m = model.clone();
            m.unmount(Path::new(f.file), false).map_err(|e| format!("umount: {e}"))?;
        }
        Ok(())
    }

    /// jail -r: umount(8) each line (type permitting), then exec.release;
    /// the first failure ends the stop.
    pub fn stop(&self, model: &Model) -> Result<(), String> {
        for line in self.fstab.iter().rev() {
            self.umount8(model, line)?;
        }
        if let Some(cmd) = self.release {
            exec(model, cmd)?;
        }
        Ok(())
    }
}
