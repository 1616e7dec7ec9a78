//! Runs a plan on a platform, step by step; on the first failure undoes
//! every step already done, newest first (unmount what it mounted, detach
//! what it attached), then returns the original error.
#![forbid(unsafe_code)]
use crate::error::{Error, Result};
use crate::lifecycle::{self, Decision};
use crate::plan::{Attach, Examine, Plan, Step};
use crate::platform::{Device, Mounted, Note, Platform};
use crate::request::{Backing, ReleaseRequest, ReleaseTarget};
use std::io::Write;

/// Where the executor writes: the plan to `out`; warnings and debug lines,
/// prefixed as err(3) would, to `err`.
pub struct Output<'a> {
    pub prog: &'a str,
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
}

/// What rollback must undo, newest last.
enum Undo {
    RemoveImage,
    Detach(Device),
    Unmount(Mounted),
}

/// Whether to go on with the plan.
enum Flow {
    Next,
    /// Already done by an earlier run (`mount -a` twice): stop, succeed.
    AlreadyMounted,
}

/// Every refusal of `plan` that looks at nothing but the plan and the
/// platform's rules, in the order a user meets them: what the plan itself
/// refuses (`-o ro` without `-P`), the rules both systems share
/// ([`lifecycle::check_plan`]), then the platform's ([`Platform::check`]).
/// Run once, before a dry run prints the plan or a real run starts.
pub fn check(plan: &Plan, platform: &mut dyn Platform) -> Result<()> {
    if let Some(why) = plan.refusal() {
        return Err(Error::plain(why));
    }
    lifecycle::check_plan(plan)?;
    platform.check(plan)
}

/// Runs `plan`, already accepted by [`check`] (and the platform's
/// preflight); `debug` prints `DEBUG:` lines on `err` as steps run (`-X`).
/// On error, the system is as it was before (as far as the platform could
/// undo) and the first error is returned.
pub fn execute(plan: &Plan, platform: &mut dyn Platform, debug: bool, io: &mut Output<'_>) -> Result<()> {
    let mut run = Run {
        platform,
        io,
        debug,
        mount_point: &plan.mount_point,
        undo: Vec::new(),
        device: None,
        mounted: None,
        created: false,
        image: None,
        ro_noted: false,
    };
    for step in &plan.steps {
        if run.debug {
            let line = run.platform.describe(step, run.device.as_ref());
            let _ = writeln!(run.io.err, "DEBUG: {line}");
        }
        let result = run.step(step);
        run.flush_notes();
        match result {
            Ok(Flow::Next) => {}
            Ok(Flow::AlreadyMounted) => break,
            Err(e) => {
                run.rollback();
                return Err(e);
            }
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
    mount_point: &'p std::path::Path,
    /// This run created the image (`--create`).
    created: bool,
    /// The `-F` image, for messages about what it holds.
    image: Option<std::path::PathBuf>,
    undo: Vec<Undo>,
    device: Option<Device>,
    mounted: Option<Mounted>,
    /// The read-only notice is given once, not once per skipped step.
    ro_noted: bool,
}

impl Run<'_, '_, '_> {
    fn step(&mut self, step: &Step) -> Result<Flow> {
        match step {
            Step::EnterNamespace(ns) => self.platform.enter_namespace(ns)?,
            Step::OpenImage(o) => {
                self.image = Some(o.path.clone());
                if self.platform.open_image(o)? {
                    self.created = true;
                    self.undo.push(Undo::RemoveImage);
                    self.debug_line(&format!("created {}", o.path.display()));
                }
            }
            Step::PreDetach(unit) => {
                let mut notes = Vec::new();
                let r = lifecycle::predetach(&mut *self.platform, *unit, &mut notes);
                self.show(notes);
                if let Err(e) = r {
                    self.debug_line(&format!("{e} (ignored)"));
                }
            }
            Step::Attach(a) => return self.attach(a),
            Step::WaitForNode => {
                let dev = self.device()?.clone();
                self.platform.wait_for_node(&dev)?
            }
            Step::Examine(e) => self.examine(e)?,
            Step::Format(f) if f.only_if_created && !self.created => {
                self.debug_line("-P: keeping the image's file system");
            }
            Step::Format(f) => {
                let dev = self.device()?.clone();
                self.platform.format(&dev, f)?;
                if self.created {
                    // Only now, formatted, does a new image get its name.
                    self.platform.publish_image()?;
                }
            }
            Step::Mount(m) => {
                let dev = self.device()?.clone();
                let mounted = self.platform.mount(&dev, m)?;
                self.undo.push(Undo::Unmount(mounted.clone()));
                self.mounted = Some(mounted);
            }
            Step::MountTmpfs(t) => {
                let mounted = self.platform.mount_tmpfs(t)?;
                self.undo.push(Undo::Unmount(mounted.clone()));
                self.mounted = Some(mounted);
            }
            Step::SetMode { mode, explicit } => {
                if let Some(m) = self.writable_root(*explicit)? {
                    self.platform.set_mode(&m, *mode)?
                }
            }
            Step::SetOwner { uid, gid } => {
                if let Some(m) = self.writable_root(true)? {
                    self.platform.set_owner(&m, *uid, *gid)?
                }
            }
            Step::CopySkeleton(from) => {
                let m = self.mounted()?.clone();
                self.platform.copy_skeleton(&m, from)?
            }
        }
        Ok(Flow::Next)
    }

    /// One image, one attachment: an image already mounted here is done; one
    /// attached and in use elsewhere is refused; one another tool attached
    /// is refused; a leftover of ours nobody uses is taken over (or
    /// replaced) rather than joined by a second unit
    /// ([`lifecycle::decide`]).
    fn attach(&mut self, a: &Attach) -> Result<Flow> {
        if let (Backing::Vnode(image), Some(id)) = (&a.backing, self.platform.image_id()) {
            let existing = lifecycle::find_attached(&mut *self.platform, id, self.mount_point)?;
            match lifecycle::decide(&existing) {
                Decision::Attach => {}
                Decision::AlreadyMounted(e) => {
                    self.debug_line(&format!(
                        "already mounted: {} on {}",
                        e.device.path.display(),
                        self.mount_point.display()
                    ));
                    return Ok(Flow::AlreadyMounted);
                }
                Decision::InUse(e) => {
                    return Err(Error::plain(format!(
                        "{}: already attached as {}",
                        crate::error::quoted(image),
                        e.device.path.display()
                    )));
                }
                Decision::Foreign(e) => return Err(lifecycle::foreign(&crate::error::quoted(image), &e.device)),
                Decision::Leftover(e) => match self.platform.reuse(&e, a)? {
                    Some(dev) => {
                        self.debug_line(&format!("reusing {}, left attached by an earlier run", dev.path.display()));
                        // It was there before this run: rollback leaves it.
                        self.device = Some(dev);
                        return Ok(Flow::Next);
                    }
                    None => {
                        self.debug_line(&format!(
                            "detaching {}, left attached by an earlier run",
                            e.device.path.display()
                        ));
                        self.platform.detach(&e.device)?;
                    }
                },
            }
        }
        let dev = self.platform.attach(a, self.mount_point)?;
        self.undo.push(Undo::Detach(dev.clone()));
        self.device = Some(dev);
        Ok(Flow::Next)
    }

    /// Reads the superblock of the attached disk (4 KiB, more only when
    /// those do not say what it is) and acts on it: refuse to format over
    /// a file system, or check a kept one as `--fsck` says. An image this
    /// run created holds nothing yet to refuse or check.
    fn examine(&mut self, e: &Examine) -> Result<()> {
        use crate::superblock::{self, Decision, FsckPolicy};
        if self.created {
            self.debug_line("new image: nothing to examine");
            return Ok(());
        }
        let dev = self.device()?.clone();
        let what = self.image.as_ref().unwrap_or(&dev.path).display().to_string();
        let mut head = self.platform.read_start(&dev, superblock::FIRST_LEN)?;
        let mut found = superblock::probe(&head);
        if found == superblock::Found::Unknown && head.len() == superblock::FIRST_LEN {
            head = self.platform.read_start(&dev, superblock::PROBE_LEN)?;
            found = superblock::probe(&head);
        }
        let policy = match e {
            Examine::BeforeFormat => {
                return match found.name() {
                    Some(fs) => Err(Error::text(
                        what,
                        format!(
                            "already holds a file system ({fs}); not formatting it \
                             (-P mounts it as it is, --reformat replaces it)"
                        ),
                    )),
                    None => Ok(()),
                };
            }
            Examine::BeforeMount(policy) => *policy,
        };
        let health = superblock::health(&head, found);
        match superblock::decide(policy, found, &health, dev.read_only) {
            Decision::Mount(why) => self.debug_line(&format!("{what}: {why}")),
            Decision::Warn(why) => self.warn(&format!("{what}: {why}")),
            Decision::Refuse(why) => return Err(Error::text(what, why)),
            Decision::Check(why) => {
                let fs = found.name().unwrap_or_default();
                match self.platform.fsck(&dev, fs)? {
                    Some(checker) => self.warn(&format!("{what}: {why}: checked with {checker}")),
                    None if policy == FsckPolicy::Always => {
                        return Err(Error::text(what, format!("--fsck=always: no checker for {fs} on this system")))
                    }
                    None => self.warn(&format!("{what}: {why}; no checker for {fs} on this system, not checked")),
                }
            }
        }
        Ok(())
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
            let text =
                format!("Not changing mode/owner of {} since it is read-only", crate::error::quoted(&m.mount_point));
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
                Undo::RemoveImage => self.platform.remove_image(),
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
        let notes = self.platform.take_notes();
        self.show(notes);
    }

    fn show(&mut self, notes: Vec<Note>) {
        for note in notes {
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

/// `mount_md -u`: unmount and detach what is ours ([`lifecycle::release`]).
/// Nothing to do is success (so a jail's `exec.release` can run it every
/// time), said under `-X`; what could not be checked is an error.
pub fn release(req: &ReleaseRequest, platform: &mut dyn Platform, io: &mut Output<'_>) -> Result<()> {
    let target = match &req.target {
        ReleaseTarget::Unit(n) => format!("unit {n}"),
        ReleaseTarget::Path(p) => p.display().to_string(),
    };
    if req.dry_run {
        for line in lifecycle::preview(platform, &req.target, req.force)? {
            let _ = writeln!(io.out, "{line}");
        }
        return Ok(());
    }
    let mut notes = Vec::new();
    let done = lifecycle::release(platform, &req.target, req.force, &mut notes);
    notes.extend(platform.take_notes());
    for note in notes {
        match note {
            Note::Warning(t) => {
                let _ = writeln!(io.err, "{}: {t}", io.prog);
            }
            Note::Debug(t) if req.debug => {
                let _ = writeln!(io.err, "DEBUG: {t}");
            }
            Note::Debug(_) => {}
        }
    }
    let done = done?;
    if req.debug {
        for m in &done.unmounted {
            let _ = writeln!(io.err, "DEBUG: unmounted {}", m.display());
        }
        for d in &done.detached {
            let _ = writeln!(io.err, "DEBUG: detached {}", d.path.display());
        }
        if done.unmounted.is_empty() && done.detached.is_empty() {
            let _ = writeln!(io.err, "DEBUG: {target}: not mounted, not attached: nothing to do");
        }
    }
    Ok(())
}
