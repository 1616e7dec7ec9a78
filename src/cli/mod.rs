//! Command line → validated [`Request`], in two stages (as ripgrep does):
//! raw words are tokenised by a BSD getopt ([`getopt`]), then each dialect
//! ([`mdmfs`] for mount_md/mdmfs/mount_mfs and both FreeBSD mount(8)s,
//! [`helper`] for util-linux's `mount.md`) turns its tokens into the same
//! option list, which [`mdmfs::interpret`] validates into one [`Request`].
//! Nothing here touches the system except through [`Host`] look-ups.
pub mod getopt;
pub mod grow;
pub mod helper;
pub mod mdmfs;
pub mod release;
pub mod usage;

use crate::flavor::Flavor;
use crate::owner::IdLookup;
use crate::request::Command;
use std::ffi::OsString;

/// What the parser needs from the machine: user and group names, and the
/// umask that symbolic `-p` modes without a `who` honour.
pub trait Host: IdLookup {
    fn umask(&self) -> u32;
}

/// A refused command line. Both print `<prog>: <message>`; `Usage` then
/// prints the usage text. Both exit 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// BSD's usage(): an optional line (`illegal option -- q`), then usage.
    Usage(Option<String>),
    /// errx(1, …): one line.
    Fatal(String),
}

/// Parses a whole argv (argv[0] included) for the given flavor.
pub fn parse(flavor: Flavor, argv: &[OsString], host: &dyn Host) -> Result<Command, CliError> {
    let args = argv.get(1..).unwrap_or_default();
    match flavor {
        Flavor::LinuxHelper => helper::parse(args, host).map(|r| Command::Mount(Box::new(r))),
        _ if release::wanted(args) => release::parse(flavor, args).map(Command::Release),
        _ if grow::wanted(args) => grow::parse(args).map(Command::Grow),
        _ if grow::list_wanted(args) => grow::parse_list(args).map(Command::List),
        _ => mdmfs::parse(flavor, args, host).map(|r| Command::Mount(Box::new(r))),
    }
}
