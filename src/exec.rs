//! Runs a plan on a platform, step by step; on the first failure undoes
//! every step already done, newest first (unmount what it mounted, detach
//! what it attached), then returns the original error.
#![forbid(unsafe_code)]
use crate::check::{before_attach, fstype_of, judge, layered, Before, Checked};
use crate::error::{Error, Result};
use crate::lifecycle;
use crate::plan::{Attach, Examine, FsType, Plan, Step};
use crate::platform::{
    Describe, Device, Disk, Fit, GrowOf, Head, Helper, MountOf, Mounted, Note, Opened, Platform, RootAttr, UnmountOf,
};
use crate::request::{Backing, ReleaseRequest};

use crate::output::Output;

/// Whether to go on with the plan.
enum Flow {
    Next,
    /// Already done by an earlier run (`mount -a` twice): stop, succeed.
    AlreadyMounted,
    /// Mounted by an earlier run whose skeleton copy did not finish: go on
    /// after the mount step, on that mount.
    Finish,
}

/// Runs `plan`, already accepted by [`crate::check::check`] (which read
/// `checked`); `debug` prints `DEBUG:` lines on `err` as steps run (`-X`).
/// On error, the system is as it was before (as far as the platform could
/// undo) and the first error is returned.
///
/// The executor owns what the run holds: the opened image, the attached
/// disk and the mounted root, as the handles the platform returned. A
/// successful run lets go of them newest first (the root, then the loop
/// descriptor, then the image and its lock); a failed one hands them to
/// the undo steps, newest first.
pub fn execute<P: Describe>(
    plan: &Plan,
    checked: &Checked,
    platform: &mut P,
    debug: bool,
    io: &mut Output<'_>,
) -> Result<()> {
    let mut run = Run {
        platform,
        io,
        debug,
        plan,
        image: None,
        disk: None,
        attached: false,
        mounted: None,
        adopted: false,
        keeps: plan.steps.iter().any(|s| matches!(s, Step::Examine(Examine::BeforeMount(_)))),
        fs_size: checked.fs_size,
        ro_noted: false,
        probed: None,
        looked: None,
    };
    let mut skip_to_mounted = false;
    for step in &plan.steps {
        if skip_to_mounted {
            skip_to_mounted = !matches!(step, Step::Mount(_));
            continue;
        }
        let result = match run.platform.pause(std::time::Duration::ZERO) {
            Some(signal) if run.adopted => Err(Error::plain(format!("stopped by {signal}"))),
            Some(signal) => Err(Error::plain(format!("stopped by {signal}; what this run did is undone"))),
            None => {
                if run.debug {
                    let line = run.platform.describe(step, run.disk.as_ref().map(|d| &d.device), run.image.as_ref());
                    let _ = writeln!(run.io.err, "DEBUG: {line}");
                }
                run.step(step)
            }
        };
        run.flush_notes();
        match result {
            Ok(Flow::Next) => {}
            Ok(Flow::AlreadyMounted) => break,
            Ok(Flow::Finish) => skip_to_mounted = true,
            Err(e) => {
                run.rollback();
                if run.adopted {
                    return Err(Error::plain(format!(
                        "{e}; the skeleton copy is still unfinished (the next run finishes it)"
                    )));
                }
                return Err(e);
            }
        }
    }
    drop(run.mounted.take());
    drop(run.disk.take());
    drop(run.image.take());
    run.flush_notes();
    Ok(())
}

struct Run<'p, 'o, 'w, P: Describe> {
    platform: &'p mut P,
    io: &'o mut Output<'w>,
    debug: bool,
    plan: &'p Plan,
    /// The opened image; rollback removes it if this run created it.
    image: Option<Opened<P::Image>>,
    /// The disk the run works on: attached by it, or a leftover taken over.
    disk: Option<Disk<P::Hold>>,
    /// `disk` was attached by this run: rollback detaches it (a leftover
    /// taken over was there before and stays).
    attached: bool,
    /// What this run mounted: rollback unmounts it (unless `adopted`).
    mounted: Option<Mounted<P::Root>>,
    /// `mounted` is an earlier run's mount whose skeleton copy this run
    /// finishes: rollback leaves it mounted.
    adopted: bool,
    /// The plan mounts the file system the image holds (`-P`).
    keeps: bool,
    /// With `keeps`: the size of the file system the image holds, from its
    /// superblock, once read ([`Checked::fs_size`]).
    fs_size: Option<Option<u64>>,
    /// The read-only notice is given once, not once per skipped step.
    ro_noted: bool,
    /// The file system type Examine read from the disk's superblock: a
    /// mount that probes uses it instead of reading the disk again.
    probed: Option<String>,
    /// What the lifecycle said of the plan's Attach step once the image
    /// was opened and locked (dropped when a pre-detach changed the units,
    /// so that Attach looks again).
    looked: Option<(Before, Vec<Device>)>,
}

impl<P: Describe> Run<'_, '_, '_, P> {
    fn created(&self) -> bool {
        self.image.as_ref().is_some_and(|i| i.created)
    }

    fn step(&mut self, step: &Step) -> Result<Flow> {
        match step {
            Step::EnterNamespace(ns) => self.platform.enter_namespace(ns)?,
            Step::OpenImage(o) => {
                if self.keeps && self.fs_size.is_none() {
                    // Not read by the check (mount.md -N, an image not
                    // there yet): read before the image is opened and
                    // locked by this run.
                    let head = self.platform.read_start(Head::Image(&o.path), crate::superblock::PROBE_LEN)?;
                    self.fs_size =
                        Some(head.and_then(|h| crate::superblock::fs_size(&h, crate::superblock::probe(&h))));
                }
                let image = self.image.insert(self.platform.open_image(o)?);
                let made = image.made;
                if image.created {
                    self.debug_line(&format!("created {}", o.path.display()));
                }
                if let Some(made) = made {
                    self.debug_line(&format!("{}: {}", o.path.display(), made.line()));
                }
                if let Some(a) = self.plan.attach() {
                    self.looked = Some(self.look(a)?);
                }
            }
            Step::PreDetach(unit) => {
                let mut notes = Vec::new();
                let r = lifecycle::predetach(&mut *self.platform, *unit, &mut notes);
                print_notes(notes, self.debug, self.io);
                match r {
                    Ok(true) => self.looked = None,
                    Ok(false) => {}
                    Err(e) => self.debug_line(&format!("{e} (ignored)")),
                }
            }
            Step::Attach(a) => return self.attach(a),
            Step::WaitForNode => self.platform.wait_for_node(need(&self.disk, "a device before attaching one")?)?,
            Step::Crypt(c) => self.crypt(c)?,
            Step::Examine(e) => self.examine(e)?,
            Step::Format(f) if f.only_if_created && !self.created() => {
                self.debug_line("-P: keeping the image's file system");
            }
            Step::Format(f) => {
                self.platform.helper(need(&self.disk, "a device before attaching one")?, Helper::Format(f))?;
                if let Some(image) = self.image.as_mut().filter(|i| i.created) {
                    self.platform.publish_image(image)?;
                }
            }
            Step::Mount(m) => {
                let mut m = self.harden(m).unwrap_or_else(|| m.clone());
                let disk = need(&self.disk, "a device before attaching one")?;
                if let (FsType::Probe, Some(t)) = (&m.fstype, &self.probed) {
                    let line = format!("{}: found {t}", disk.device.path.display());
                    m.fstype = FsType::Named(t.clone());
                    print_notes([Note::Debug(line)], self.debug, self.io);
                }
                self.mounted = Some(self.platform.mount(MountOf::Disk(disk, &m))?);
            }
            Step::MountTmpfs(t) => self.mounted = Some(self.platform.mount(MountOf::Tmpfs(t))?),
            Step::SetMode(m) => self.set_root(RootAttr::Mode(m.mode), m.explicit)?,
            Step::SetOwner { uid, gid } => self.set_root(RootAttr::Owner(*uid, *gid), true)?,
            Step::NewIdentity { grow_to } => {
                // Only an image this run made from its base; it is
                // published once its file system has its own identity.
                if self.image.as_ref().is_some_and(|i| i.created && i.made.is_some()) {
                    let disk = need(&self.disk, "a device before attaching one")?;
                    let head =
                        self.platform.read_start(Head::Disk(disk), crate::superblock::PROBE_LEN)?.unwrap_or_default();
                    if let Some(tool) = self.platform.helper(disk, Helper::NewIdentity(&head))? {
                        self.debug_line(&format!("{tool}: a new UUID for the copy"));
                    }
                    if let Some(size) = *grow_to {
                        self.grow_made(size)?;
                    }
                    if let Some(image) = self.image.as_mut() {
                        self.platform.publish_image(image)?;
                    }
                }
            }
            Step::CopySkeleton(from) => {
                self.platform.copy_skeleton(need(&self.mounted, "a mount before mounting")?, from)?
            }
        }
        Ok(Flow::Next)
    }

    /// `--from` with `-s`: grows the image this run made from its base,
    /// attached and not yet mounted nor published, to `size` bytes, by
    /// `-r`'s plan and its run ([`crate::grow`]) over the backend's
    /// operations ([`Platform::grow`]). The same size is nothing to
    /// do; on failure the run's rollback removes the image.
    fn grow_made(&mut self, size: u64) -> Result<()> {
        let disk = need(&self.disk, "a device before attaching one")?;
        let image = need(&self.image, "an image before opening one")?;
        let started = std::time::Instant::now();
        let (found, mut ops) = self.platform.grow(GrowOf::Made { disk, image, mount_point: &self.plan.mount_point })?;
        let outcome = crate::grow::plan(&found, size)?;
        let opts = crate::grow::Options { dry_run: false, debug: self.debug, scratch: true };
        crate::grow::execute(&found, &outcome, ops.as_mut(), opts, self.io)?;
        drop(ops);
        if let crate::grow::Outcome::Steps(_) = outcome {
            let took = started.elapsed().as_secs_f64() * 1000.0;
            self.debug_line(&format!(
                "grew the new image and its {} file system from its base's {} to {size} bytes in {took:.0} ms",
                found.fstype, found.disk_size
            ));
        }
        Ok(())
    }

    /// One image, one attachment ([`before_attach`], [`lifecycle::decide`]):
    /// a leftover of ours nobody uses is taken over (or replaced).
    fn attach(&mut self, a: &Attach) -> Result<Flow> {
        let (before, stale) = self.looked.take().map_or_else(|| self.look(a), Ok)?;
        // Best effort: a stale unit holds another file, so one that cannot
        // be detached (opened meanwhile, going away by itself) harms
        // nothing here; it is said under -X and left.
        for dev in stale {
            let what = format!(
                "{}, left attached for {} by an earlier run, holding another file",
                dev.path.display(),
                self.plan.mount_point.display()
            );
            match self.platform.reuse(&dev, None) {
                Ok(_) => self.debug_line(&format!("detached {what}")),
                Err(e) => self.debug_line(&format!("left {what}: {e}")),
            }
        }
        match before {
            Before::Attach => {}
            Before::AlreadyMounted(dev) => {
                let copies = self.plan.steps.iter().any(|s| matches!(s, Step::CopySkeleton(_)));
                let unfinished = if copies { self.platform.unfinished_copy(&self.plan.mount_point)? } else { None };
                if let Some(m) = unfinished {
                    self.warn(&format!(
                        "{}: already mounted from {}, but an earlier run's skeleton copy did not finish; finishing it",
                        crate::error::quoted(&self.plan.mount_point),
                        dev.display()
                    ));
                    self.mounted = Some(m);
                    self.adopted = true;
                    return Ok(Flow::Finish);
                }
                self.debug_line(&format!("already mounted: {} on {}", dev.display(), self.plan.mount_point.display()));
                return Ok(Flow::AlreadyMounted);
            }
            Before::Leftover(e) => match self.platform.reuse(
                &e.unit.device,
                Some(Fit { attach: a, image: self.image.as_ref(), mount_point: &self.plan.mount_point }),
            )? {
                Some(disk) => {
                    let shown = disk.device.path.display().to_string();
                    self.debug_line(&format!("reusing {shown}, left attached by an earlier run"));
                    self.disk = Some(disk);
                    return Ok(Flow::Next);
                }
                None => self.debug_line(&format!(
                    "detaching {}, left attached by an earlier run",
                    e.unit.device.path.display()
                )),
            },
        }
        let kept = self.keeps && self.image.as_ref().is_some_and(|i| !i.created);
        let widened = if kept { self.fit_to_fs(a) } else { None };
        let a = widened.as_ref().unwrap_or(a);
        let image = self.image.as_ref().filter(|_| matches!(a.backing, Backing::Vnode(_)));
        self.disk = Some(self.platform.attach(a, image, &self.plan.mount_point)?);
        self.attached = true;
        Ok(Flow::Next)
    }

    /// The lifecycle's look-ups before attaching `a` ([`before_attach`]),
    /// the scan of the units holding the opened image included.
    fn look(&mut self, a: &Attach) -> Result<(Before, Vec<Device>)> {
        let image = self.image.as_ref().map(|i| i.id);
        before_attach(&mut *self.platform, a, &self.plan.mount_point, image, fstype_of(self.plan), true)
    }

    /// Opens the crypt layer on the attached disk: on an image this run
    /// created, after writing its header; on any other, only over a header
    /// that is there (LUKS2 is looked for here; geli's attach finds no
    /// metadata itself). Nothing is ever formatted over an image that holds
    /// no header. From here on the disk is used through the layer, and
    /// detaching it closes the layer first.
    fn crypt(&mut self, c: &crate::plan::Crypt) -> Result<()> {
        use crate::crypt::{luks_version, Scheme};
        let disk = need(&self.disk, "a device before attaching one")?;
        let what = crate::error::quoted(self.image.as_ref().map_or(&disk.device.path, |i| &i.path));
        if self.created() {
            self.platform.helper(disk, Helper::CryptHeader(c))?;
        } else if c.encrypt.scheme == Scheme::Luks2 {
            let head = self.platform.read_start(Head::Disk(disk), 4096)?.unwrap_or_default();
            if luks_version(&head) != Some(2) {
                return Err(Error::text(
                    what,
                    "holds no LUKS2 header: not opened and not formatted (--create --encrypt=luks2 makes one on a new image)",
                ));
            }
        }
        let node = self.platform.helper(disk, Helper::CryptOpen(c))?;
        let node = node.ok_or_else(|| Error::text(what, "the crypt layer gave no device"))?;
        let disk = self.disk.as_mut().expect("checked above");
        disk.layer = Some(crate::platform::Layer { scheme: c.encrypt.scheme, node: node.into() });
        Ok(())
    }

    /// `-P` with `-s` smaller than the file system the image holds (grown
    /// with `-r` since the line was written): a disk of `-s` bytes would
    /// cut the file system short and the kernel refuse it, so the disk is
    /// made the file system's size, with one warning naming what to update.
    /// The superblock was read from the image file, where the disk starts,
    /// before the image was opened ([`Run::fs_size`]).
    fn fit_to_fs(&mut self, a: &Attach) -> Option<Attach> {
        let (Some(size), Backing::Vnode(path)) = (a.size.filter(|s| *s > 0), &a.backing) else { return None };
        let fs = self.fs_size.flatten().filter(|fs| *fs > size)?;
        self.warn(&format!(
            "{}: its file system is {fs} bytes, more than -s {size}: mounted at its size; \
             update -s to {} in the options (fourth field) of its fstab line",
            crate::error::quoted(path),
            crate::size::as_s(fs)
        ));
        Some(Attach { size: Some(fs), ..a.clone() })
    }

    /// Reads the superblock of the attached disk (4 KiB, more only when
    /// those do not say what it is) and acts on it: refuse to format over
    /// a file system, or check a kept one as `--fsck` says. An image this
    /// run created holds nothing yet to refuse or check.
    fn examine(&mut self, e: &Examine) -> Result<()> {
        use crate::superblock::{self, Decision, FsckPolicy};
        if self.created() {
            self.debug_line("new image: nothing to examine");
            return Ok(());
        }
        let disk = need(&self.disk, "a device before attaching one")?;
        let what = crate::error::quoted(self.image.as_ref().map_or(&disk.device.path, |i| &i.path));
        let read_only = disk.device.read_only;
        let first = match e {
            Examine::BeforeFormat => superblock::EMPTY_LEN,
            Examine::BeforeMount(_) => superblock::FIRST_LEN,
        };
        let mut head = self.platform.read_start(Head::Disk(disk), first)?.unwrap_or_default();
        let mut found = superblock::probe(&head);
        if found == superblock::Found::Unknown && head.len() == superblock::FIRST_LEN {
            head = self.platform.read_start(Head::Disk(disk), superblock::PROBE_LEN)?.unwrap_or_default();
            found = superblock::probe(&head);
        }
        if let (Examine::BeforeMount(_), superblock::Found::Mountable(t)) = (e, found) {
            self.probed = Some(t.to_string());
        }
        let Some(decision) = judge(e, &head, found, &what, layered(self.plan), read_only)? else { return Ok(()) };
        match decision {
            Decision::Mount(why) => self.debug_line(&format!("{what}: {why}")),
            Decision::Warn(why) => self.warn(&format!("{what}: {why}")),
            Decision::Refuse(why) => return Err(Error::text(what, why)),
            Decision::Check(why) => {
                let fs = found.name().unwrap_or_default();
                let force = *e == Examine::BeforeMount(FsckPolicy::Always);
                match self.platform.helper(disk, Helper::Fsck(fs, force))? {
                    Some(checker) => self.warn(&format!("{what}: {why}: checked with {checker}")),
                    None if force => {
                        return Err(Error::text(
                            what,
                            format!(
                                "--fsck=always: no checker for {fs} on this system (install it, or use --fsck=auto)"
                            ),
                        ))
                    }
                    None => self.warn(&format!("{what}: {why}; no checker for {fs} on this system, not checked")),
                }
            }
        }
        Ok(())
    }

    /// The mount of an image someone other than root can change, with
    /// [`Platform::HARDENING`] added ([`crate::trust::harden`]), said once
    /// under `-X`; `None` for root's own image (mount `m` as it is).
    fn harden(&mut self, m: &crate::plan::Mount) -> Option<crate::plan::Mount> {
        let why = self.image.as_ref()?.untrusted.clone()?;
        let what = crate::error::quoted(&self.image.as_ref()?.path);
        let (options, warnings) = crate::trust::harden(&m.options, P::HARDENING);
        let added: Vec<&str> = options[m.options.len()..].iter().map(String::as_str).collect();
        if !added.is_empty() {
            self.debug_line(&format!("{what} is {why}: mounting it {}", added.join(",")));
        }
        for w in warnings {
            self.warn(&format!("{what} is {why}: {w}"));
        }
        Some(crate::plan::Mount { options, ..m.clone() })
    }

    /// chmod or chown of the mounted root; skipped when it is read-only,
    /// as mdmfs does, with a warning if the user asked (`-p`, `-w`), with
    /// a debug line if only compat mode implied it.
    fn set_root(&mut self, attr: RootAttr, explicit: bool) -> Result<()> {
        let m = need(&self.mounted, "a mount before mounting")?;
        if !m.read_only {
            return self.platform.set_root(m, attr);
        }
        let text = format!("Not changing mode/owner of {} since it is read-only", crate::error::quoted(&m.mount_point));
        if !self.ro_noted {
            self.ro_noted = true;
            let note = if explicit { Note::Warning(text) } else { Note::Debug(text) };
            print_notes([note], self.debug, self.io);
        }
        Ok(())
    }

    /// Undoes what this run did, newest first, each undo step consuming
    /// its handle: the mount, the disk it attached (not a leftover it took
    /// over), the image it created.
    fn rollback(&mut self) {
        if self.adopted {
            drop(self.mounted.take()); // an earlier run's: it stays
        }
        if let Some(m) = self.mounted.take() {
            let r = self.platform.unmount(UnmountOf::Made(m));
            self.undone(r);
        }
        if let Some(disk) = self.disk.take().filter(|_| self.attached) {
            let r = self.platform.detach(disk);
            self.undone(r);
        }
        if let Some(image) = self.image.take().filter(|i| i.created) {
            let r = self.platform.remove_image(image);
            self.undone(r);
        }
    }

    fn undone(&mut self, r: Result<()>) {
        self.flush_notes();
        if let Err(e) = r {
            self.warn(&format!("rollback: {e}"));
        }
    }

    fn flush_notes(&mut self) {
        print_notes(self.platform.take_notes(), self.debug, self.io);
    }

    fn warn(&mut self, text: &str) {
        print_notes([Note::Warning(text.to_string())], self.debug, self.io);
    }

    fn debug_line(&mut self, text: &str) {
        print_notes([Note::Debug(text.to_string())], self.debug, self.io);
    }
}

/// What a step needs that an earlier step makes; its absence is a plan
/// built wrongly.
fn need<'a, T>(slot: &'a Option<T>, what: &str) -> Result<&'a T> {
    slot.as_ref().ok_or_else(|| Error::plain(format!("internal error: plan uses {what}")))
}

/// `mount_md -u`: unmount and detach what is ours ([`lifecycle::release`]).
/// Nothing to do is success (so a jail's `exec.release` can run it every
/// time), said under `-X`; what could not be checked is an error.
pub fn release<P: Platform + ?Sized>(req: &ReleaseRequest, platform: &mut P, io: &mut Output<'_>) -> Result<()> {
    if req.dry_run {
        for line in lifecycle::preview(platform, &req.target, req.force)? {
            let _ = writeln!(io.out, "{line}");
        }
        return Ok(());
    }
    let mut notes = Vec::new();
    let done = lifecycle::release(platform, &req.target, req.force, &mut notes);
    notes.extend(platform.take_notes());
    if let Ok(done) = &done {
        notes.extend(done.unmounted.iter().map(|m| Note::Debug(format!("unmounted {}", m.display()))));
        notes.extend(done.detached.iter().map(|d| Note::Debug(format!("detached {}", d.path.display()))));
        if done.unmounted.is_empty() && done.detached.is_empty() {
            let target = lifecycle::shown(&req.target);
            notes.push(Note::Debug(format!("{target}: not mounted, not attached: nothing to do")));
        }
    }
    print_notes(notes, req.debug, io);
    done.map(drop)
}

/// The one note printer: a warning as `<prog>: <text>`, a debug line as
/// `DEBUG: <text>` under `-X` (`debug`).
pub fn print_notes(notes: impl IntoIterator<Item = Note>, debug: bool, io: &mut Output<'_>) {
    for note in notes {
        let _ = match note {
            Note::Warning(t) => writeln!(io.err, "{}: {t}", io.prog),
            Note::Debug(t) if debug => writeln!(io.err, "DEBUG: {t}"),
            Note::Debug(_) => Ok(()),
        };
    }
}
