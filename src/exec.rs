//! Runs a plan on a platform, step by step; on the first failure undoes
//! every step already done, newest first (unmount what it mounted, detach
//! what it attached), then returns the original error.
use crate::error::{Error, Result};
use crate::plan::{Plan, Step};
use crate::platform::{Device, Mounted, Note, Platform};
use std::io::Write;

/// How to run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Change nothing (`-N`, mount.md `-f`).
    pub dry_run: bool,
    /// Print the plan on `out`, a line per step (`-N`).
    pub show_plan: bool,
    /// Print `DEBUG:` lines on `err` as steps run (`-X`).
    pub debug: bool,
}

/// Where the executor writes: the plan to `out`; warnings and debug lines,
/// prefixed as err(3) would, to `err`.
pub struct Output<'a> {
    pub prog: &'a str,
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
}

/// What rollback must undo, newest last.
enum Undo {
    Detach(Device),
    Unmount(Mounted),
}

/// Runs `plan`. On error, the system is as it was before (as far as the
/// platform could undo) and the first error is returned.
pub fn execute(plan: &Plan, platform: &mut dyn Platform, opts: Options, io: &mut Output<'_>) -> Result<()> {
    platform.check(plan)?;
    if opts.dry_run {
        if opts.show_plan {
            for step in &plan.steps {
                let _ = writeln!(io.out, "{}", platform.describe(step, None));
            }
        }
        return Ok(());
    }
    let mut run =
        Run { platform, io, debug: opts.debug, undo: Vec::new(), device: None, mounted: None, ro_noted: false };
    for step in &plan.steps {
        if run.debug {
            let line = run.platform.describe(step, run.device.as_ref());
            let _ = writeln!(run.io.err, "DEBUG: {line}");
        }
        let result = run.step(step);
        run.flush_notes();
        if let Err(e) = result {
            run.rollback();
            return Err(e);
        }
    }
    run.platform.finish();
    run.flush_notes();
    Ok(())
}

struct Run<'p, 'o, 'w> {
    platform: &'p mut dyn Platform,
    io: &'o mut Output<'w>,
    debug: bool,
    undo: Vec<Undo>,
    device: Option<Device>,
    mounted: Option<Mounted>,
    /// The read-only notice is given once, not once per skipped step.
    ro_noted: bool,
}

impl Run<'_, '_, '_> {
    fn step(&mut self, step: &Step) -> Result<()> {
        match step {
            Step::EnterNamespace(ns) => self.platform.enter_namespace(ns),
            Step::PreDetach(unit) => {
                if let Err(e) = self.platform.detach_unit(*unit) {
                    self.debug_line(&format!("{e} (ignored)"));
                }
                Ok(())
            }
            Step::Attach(a) => {
                let dev = self.platform.attach(a)?;
                self.undo.push(Undo::Detach(dev.clone()));
                self.device = Some(dev);
                Ok(())
            }
            Step::WaitForNode => {
                let dev = self.device()?.clone();
                self.platform.wait_for_node(&dev)
            }
            Step::Format(f) => {
                let dev = self.device()?.clone();
                self.platform.format(&dev, f)
            }
            Step::Mount(m) => {
                let dev = self.device()?.clone();
                let mounted = self.platform.mount(&dev, m)?;
                self.undo.push(Undo::Unmount(mounted.clone()));
                self.mounted = Some(mounted);
                Ok(())
            }
            Step::MountTmpfs(t) => {
                let mounted = self.platform.mount_tmpfs(t)?;
                self.undo.push(Undo::Unmount(mounted.clone()));
                self.mounted = Some(mounted);
                Ok(())
            }
            Step::SetMode { mode, explicit } => {
                let Some(m) = self.writable_root(*explicit)? else { return Ok(()) };
                self.platform.set_mode(&m, *mode)
            }
            Step::SetOwner { uid, gid } => {
                let Some(m) = self.writable_root(true)? else { return Ok(()) };
                self.platform.set_owner(&m, *uid, *gid)
            }
            Step::CopySkeleton(from) => {
                let m = self.mounted()?.clone();
                self.platform.copy_skeleton(&m, from)
            }
        }
    }

    fn device(&self) -> Result<&Device> {
        self.device.as_ref().ok_or_else(|| Error::plain("internal error: plan uses a device before attaching one"))
    }

    fn mounted(&self) -> Result<&Mounted> {
        self.mounted.as_ref().ok_or_else(|| Error::plain("internal error: plan uses a mount before mounting"))
    }

    /// The mounted root for chmod/chown, or `None` when it is read-only:
    /// as mdmfs does, skip with a warning if the user asked (`-p`, `-w`),
    /// with a debug line if only compat mode implied it.
    fn writable_root(&mut self, explicit: bool) -> Result<Option<Mounted>> {
        let m = self.mounted()?.clone();
        if !m.read_only {
            return Ok(Some(m));
        }
        if !self.ro_noted {
            self.ro_noted = true;
            let text = format!("Not changing mode/owner of {} since it is read-only", m.mount_point.display());
            if explicit {
                self.warn(&text);
            } else {
                self.debug_line(&text);
            }
        }
        Ok(None)
    }

    fn rollback(&mut self) {
        while let Some(u) = self.undo.pop() {
            let r = match &u {
                Undo::Unmount(m) => self.platform.unmount(m),
                Undo::Detach(d) => self.platform.detach(d),
            };
            self.flush_notes();
            if let Err(e) = r {
                self.warn(&format!("rollback: {e}"));
            }
        }
    }

    fn flush_notes(&mut self) {
        for note in self.platform.take_notes() {
            match note {
                Note::Warning(t) => self.warn(&t),
                Note::Debug(t) => self.debug_line(&t),
            }
        }
    }

    fn warn(&mut self, text: &str) {
        let _ = writeln!(self.io.err, "{}: {text}", self.io.prog);
    }

    fn debug_line(&mut self, text: &str) {
        if self.debug {
            let _ = writeln!(self.io.err, "DEBUG: {text}");
        }
    }
}
