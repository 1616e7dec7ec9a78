//! Helpers for the tests that need no root: a fixed user/group table and
//! a way to run the whole program on the recording platform.
#![allow(dead_code)]
use mount_md::cli::{self, CliError, Host};
use mount_md::flavor::{progname, Flavor};
use mount_md::owner::IdLookup;
use mount_md::platform::fake::Fake;
use mount_md::request::{Command, Request};
use std::ffi::OsString;

/// `root`/`wheel` = 0, `www` = 80, `staff` = 20; umask 022.
pub struct TestHost;

impl IdLookup for TestHost {
    fn uid_of(&self, name: &str) -> Option<u32> {
        match name {
            "root" => Some(0),
            "www" => Some(80),
            _ => None,
        }
    }
    fn gid_of(&self, name: &str) -> Option<u32> {
        match name {
            "wheel" => Some(0),
            "www" => Some(80),
            "staff" => Some(20),
            _ => None,
        }
    }
}

impl Host for TestHost {
    fn umask(&self) -> u32 {
        0o022
    }
}

/// argv from space-separated words (no word may contain a space).
pub fn argv(line: &str) -> Vec<OsString> {
    line.split(' ').filter(|w| !w.is_empty()).map(OsString::from).collect()
}

/// Parses a command line (argv[0] first) the way the binary would.
pub fn parse(words: &[OsString]) -> Result<Request, CliError> {
    match parse_command(words)? {
        Command::Mount(r) => Ok(*r),
        other => panic!("expected a mount request, got {other:?}"),
    }
}

/// Parses any command line (mount or `-u`).
pub fn parse_command(words: &[OsString]) -> Result<Command, CliError> {
    let flavor = Flavor::from_name(&progname(words.first().map(|w| w.as_os_str())));
    cli::parse(flavor, words, &TestHost)
}

pub fn parse_line(line: &str) -> Result<Request, CliError> {
    parse(&argv(line))
}

/// What one run of the program did.
pub struct Outcome {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub fake: Fake,
}

/// Runs the program on a given fake.
pub fn run_on(fake: Fake, words: &[OsString]) -> Outcome {
    let mut fake = fake;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = mount_md::run::run(words, &mut fake, &TestHost, &mut out, &mut err);
    Outcome { status, stdout: String::from_utf8_lossy(&out).into(), stderr: String::from_utf8_lossy(&err).into(), fake }
}

pub fn run_line(line: &str) -> Outcome {
    run_on(Fake::new(), &argv(line))
}

/// A scratch directory under the system temp dir, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("mount_md-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
