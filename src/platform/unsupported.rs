//! The platform for systems with neither md(4) nor loop(4): plans can be
//! printed (`-N`), nothing can run.
use super::{describe, Detached, Device, Disk, MountRec, Mounted, Note, Opened, PathKind, Platform, UnitInfo};
use crate::error::{Error, Result};
use crate::plan::{Attach, Defaults, Format, Mount, OpenImage, Plan, Step, TmpfsMount};
use std::path::Path;

pub struct Unsupported;

impl Unsupported {
    pub fn new() -> Self {
        Unsupported
    }
}

impl Default for Unsupported {
    fn default() -> Self {
        Self::new()
    }
}

fn refuse<T>() -> Result<T> {
    Err(Error::plain("this operating system has neither md(4) nor loop(4); only -N works"))
}

impl Platform for Unsupported {
    type Image = ();
    type Hold = ();
    type Root = ();
    const HARDENING: &'static [&'static str] = &["nosuid"];
    const WORDS: crate::plan::words::Vocabulary = crate::plan::words::FREEBSD;

    fn defaults(&self) -> Defaults {
        Defaults { fstype: "ufs", probe_preserved: false, tmpfs_available: false }
    }
    fn check(&mut self, _plan: &Plan) -> Result<()> {
        Ok(())
    }
    fn describe(&self, step: &Step, dev: Option<&Device>, _: Option<&Opened<()>>) -> String {
        describe::generic(step, "/dev/md", dev)
    }
    fn enter_namespace(&mut self, _: &Path) -> Result<()> {
        refuse()
    }
    fn open_image(&mut self, _: &OpenImage) -> Result<Opened<()>> {
        refuse()
    }
    fn remove_image(&mut self, _: Opened<()>) -> Result<()> {
        refuse()
    }
    fn units(&mut self) -> Result<Vec<UnitInfo>> {
        refuse()
    }
    fn mounts(&mut self) -> Result<Vec<MountRec>> {
        refuse()
    }
    fn held(&mut self, _: &UnitInfo) -> Result<bool> {
        refuse()
    }
    fn identify(&mut self, _: &Path) -> Result<PathKind> {
        refuse()
    }
    fn unmount_at(&mut self, _: &Path, _: bool) -> Result<()> {
        refuse()
    }
    fn release_unit(&mut self, _: &UnitInfo, _: bool) -> Result<Detached> {
        refuse()
    }
    fn disk_name(&self) -> &'static str {
        "an md(4) disk"
    }
    fn node(&self, unit: u32) -> std::path::PathBuf {
        format!("/dev/md{unit}").into()
    }
    fn detach_leftover(&mut self, _: &Device) -> Result<()> {
        refuse()
    }
    fn detach_unit(&mut self, _: u32) -> Result<()> {
        refuse()
    }
    fn attach(&mut self, _: &Attach, _: Option<&Opened<()>>, _: &Path) -> Result<Disk<()>> {
        refuse()
    }
    fn detach(&mut self, _: Disk<()>) -> Result<()> {
        refuse()
    }
    fn wait_for_node(&mut self, _: &Disk<()>) -> Result<()> {
        refuse()
    }
    fn format(&mut self, _: &Disk<()>, _: &Format) -> Result<()> {
        refuse()
    }
    fn mount(&mut self, _: &Disk<()>, _: &Mount) -> Result<Mounted<()>> {
        refuse()
    }
    fn mount_tmpfs(&mut self, _: &TmpfsMount) -> Result<Mounted<()>> {
        refuse()
    }
    fn unmount(&mut self, _: Mounted<()>) -> Result<()> {
        refuse()
    }
    fn set_mode(&mut self, _: &Mounted<()>, _: u32) -> Result<()> {
        refuse()
    }
    fn set_owner(&mut self, _: &Mounted<()>, _: u32, _: u32) -> Result<()> {
        refuse()
    }
    fn copy_skeleton(&mut self, _: &Mounted<()>, _: &Path) -> Result<()> {
        refuse()
    }
    fn take_notes(&mut self) -> Vec<Note> {
        Vec::new()
    }
}
