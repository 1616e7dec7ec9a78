//! `fsck_ufs -p` before mounting a kept UFS file system that is not clean
//! (see [`crate::superblock::health`]). Plain code: it compiles and its
//! argv is tested anywhere.
//!
//! fsck_ufs (fsck_ffs) in preen mode repairs what is safe to repair without
//! asking, replays a soft-updates journal, and exits 8 (`EEXIT`) on
//! anything it will not fix unattended, 16 (`ERERUN`) when it wants to be
//! run again (sbin/fsck_ffs/fsck.h).
use crate::error::{Error, Result};
use crate::platform::posix;
use std::ffi::OsString;
use std::path::Path;

/// The checker, by absolute path.
pub const FSCK_UFS: &str = "/sbin/fsck_ufs";

/// fsck_ffs's "run me again" exit code.
const ERERUN: i32 = 16;

/// `fsck_ufs -p /dev/mdN`: preen mode, the unit's node; with `force`
/// (`--fsck=always`) `-f` first, without which a clean file system is
/// skipped (sbin/fsck_ffs main.c keeps `skipclean` set unless `-f` is
/// given; setup.c `setup`: "FILE SYSTEM CLEAN; SKIPPING CHECKS").
pub fn fsck_argv(device: &Path, force: bool) -> Vec<OsString> {
    let flags = crate::platform::describe::checker_flags(force).iter().map(|f| f.into());
    std::iter::once(FSCK_UFS.into()).chain(flags).chain([device.as_os_str().to_os_string()]).collect()
}

/// What `argv` (from [`fsck_argv`]) runs, as messages name it:
/// `fsck_ufs -f -p`.
pub fn shown(argv: &[OsString]) -> String {
    let flags = argv.iter().skip(1).filter(|a| a.to_string_lossy().starts_with('-'));
    let words: Vec<String> = flags.map(|a| a.to_string_lossy().into_owned()).collect();
    format!("fsck_ufs {}", words.join(" "))
}

/// Runs `argv` (from [`fsck_argv`]) as mkfs and newfs are run: argument
/// vector, cleared environment, output captured. Exit 0 is success; 16 is
/// run once more; anything else is an error carrying fsck_ufs's output
/// (bounded). Returns that output on success.
pub fn run(argv: &[OsString]) -> Result<String> {
    let (prog, args) = argv.split_first().ok_or_else(|| Error::plain("fsck_ufs: empty argv"))?;
    let mut output = String::new();
    for _ in 0..2 {
        let done = posix::run_captured(Path::new(prog), args, false)?;
        output.push_str(&done.output);
        match done.status.code() {
            Some(0) => return Ok(output),
            Some(ERERUN) => continue,
            _ => return Err(posix::helper_failed(shown(argv), done.status, &posix::output_lines(&output, ""))),
        }
    }
    Err(Error::text(shown(argv), "asked to be run again twice; run it by hand"))
}
