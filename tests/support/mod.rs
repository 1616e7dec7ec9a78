//! Shared by every test harness (tests/<harness>/main.rs includes it with
//! `#[path = "../support/mod.rs"] mod support;`):
//!
//! * skipping: [`skip`] for a test that cannot run without root, loop
//!   devices, a tool `tests/run` installs ([`require_tools!`]) or a file
//!   system the kernel lacks (it fails instead under
//!   `MOUNT_MD_REQUIRE_ROOT=1`, which `.ci/run` sets), [`skip_optional`]
//!   only for a host property a test needs the opposite of;
//! * [`TempDir`], a scratch directory removed on drop;
//! * [`TestHost`], a fixed user/group table, and ways to parse a command
//!   line and to run the whole program on the FreeBSD backend over its
//!   recording syscall double;
//! * [`linux`] (Linux only): mount table and loop device readers and
//!   cleanup guards for the tests that run as root;
//! * [`schema`]: a small JSON Schema check for `--list --json`;
//! * [`freebsd`]: mount(8) and jail(8) re-created, and the FreeBSD kernel
//!   model the FreeBSD backend runs on.
#![allow(dead_code)] // each harness uses a different subset
use mount_md::cli::{self, CliError, Host};
use mount_md::flavor::{progname, Flavor};
use mount_md::owner::IdLookup;
use mount_md::platform::freebsd::recording::Recorder;
use mount_md::platform::freebsd::FreeBsd;
use mount_md::request::{Command, Request};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

pub mod freebsd;
#[cfg(target_os = "linux")]
pub mod linux;
pub mod schema;
#[cfg(target_os = "linux")]
#[allow(unused_imports)] // not every harness uses them
pub use linux::*;

pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;

/// Why this machine cannot run the real tests, if it cannot.
pub fn skip_reason() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root".into());
    }
    if !Path::new("/dev/loop-control").exists() {
        return Some("/dev/loop-control is missing".into());
    }
    if mkfs_ext4().is_none() {
        return Some("mkfs.ext4 not found (apt-get install -y e2fsprogs)".into());
    }
    None
}

/// Whether a skip must fail instead (`MOUNT_MD_REQUIRE_ROOT=1`, which
/// `.ci/run` sets: a CI machine without root or loop devices must not go
/// green by skipping).
pub fn skips_fail() -> bool {
    std::env::var_os("MOUNT_MD_REQUIRE_ROOT").is_some_and(|v| v == "1")
}

/// Prints why a test cannot run here: no root, no loop devices, or a tool
/// that `tests/run` installs is missing. Panics instead under
/// `MOUNT_MD_REQUIRE_ROOT=1`.
pub fn skip(why: &str) {
    assert!(!skips_fail(), "MOUNT_MD_REQUIRE_ROOT=1, but this test cannot run: {why}");
    eprintln!("skipped: {why}");
}

/// Prints why a test cannot run here, for a host property that one test
/// needs and its twin needs the opposite of (CAP_SYS_RESOURCE, a temporary
/// file system's limits); never fails, not even under
/// `MOUNT_MD_REQUIRE_ROOT=1`. A missing tool is a [`skip`]: `tests/run`
/// installs every tool a test needs.
pub fn skip_optional(why: &str) {
    eprintln!("skipped: {why}");
}

/// The tests of a harness run on parallel threads of one process. A test
/// whose check depends on the machine being otherwise quiet within this
/// process (the crash test spreads its kill points over a run's measured
/// duration), and a test that makes a mount namespace (which holds a copy
/// of every mount there is while it lives, so another test's unmount would
/// leave that test's loop device open), runs alone: it takes the write
/// side of this lock through `require_loop!(alone)`, every other
/// `require_loop!()` test the read side.
static ALONE: RwLock<()> = RwLock::new(());

/// Held by a `require_loop!()` test for its duration.
pub fn shared_turn() -> RwLockReadGuard<'static, ()> {
    ALONE.read().unwrap_or_else(|e| e.into_inner())
}

/// Held by a `require_loop!(alone)` test: no other `require_loop!` test of
/// this harness runs meanwhile.
pub fn alone_turn() -> RwLockWriteGuard<'static, ()> {
    ALONE.write().unwrap_or_else(|e| e.into_inner())
}

/// Returns from the test, saying why, when it cannot run here (fails the
/// test instead under `MOUNT_MD_REQUIRE_ROOT=1`); otherwise holds the
/// test's turn ([`shared_turn`], or [`alone_turn`] with `alone`) until the
/// end of the enclosing block. Once per test.
#[macro_export]
macro_rules! require_loop {
    () => {
        $crate::require_loop!(@turn shared_turn)
    };
    (alone) => {
        $crate::require_loop!(@turn alone_turn)
    };
    (@turn $turn:ident) => {
        let _turn = match $crate::support::skip_reason() {
            Some(why) => {
                $crate::support::skip(&why);
                return;
            }
            None => $crate::support::$turn(),
        };
    };
}

/// A [`HelperDir`] (util-linux mount(8) running this build as
/// `/sbin/mount.md`) for this test, or returns from the test saying why it
/// cannot have one (fails instead under `MOUNT_MD_REQUIRE_ROOT=1`).
#[macro_export]
macro_rules! require_helper {
    ($tag:expr) => {
        match $crate::support::HelperDir::new($tag) {
            Ok(t) => t,
            Err(why) => {
                $crate::support::skip(&why);
                return;
            }
        }
    };
}

/// Shorthand: `&OsStr` arguments from strs and paths.
#[macro_export]
macro_rules! args {
    ($($a:expr),* $(,)?) => { &[$(::std::ffi::OsStr::new(&$a)),*] };
}

/// Where the tests look for a tool (as the Linux backend does for mkfs).
pub const TOOL_DIRS: [&str; 4] = ["/sbin", "/usr/sbin", "/bin", "/usr/bin"];

/// The tool `name`, from [`TOOL_DIRS`].
pub fn tool(name: &str) -> Option<PathBuf> {
    TOOL_DIRS.iter().map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

/// Which of `names` are not in [`TOOL_DIRS`], said for a skip.
pub fn missing_tools(names: &[&str]) -> Option<String> {
    let missing: Vec<&str> = names.iter().copied().filter(|n| tool(n).is_none()).collect();
    (!missing.is_empty()).then(|| format!("{} not found (tests/run installs it)", missing.join(", ")))
}

/// Whether the kernel knows the file system type `fstype`; when
/// /proc/filesystems does not list it yet, after `modprobe` (mount(2)
/// would load the module too).
pub fn kernel_has(fstype: &str) -> bool {
    let listed = || {
        std::fs::read_to_string("/proc/filesystems")
            .is_ok_and(|t| t.lines().any(|l| l.split_whitespace().last() == Some(fstype)))
    };
    listed() || {
        let _ = std::process::Command::new("modprobe").arg("-q").arg(fstype).status();
        listed()
    }
}

/// Returns from the test, saying which tools are missing (fails the test
/// instead under `MOUNT_MD_REQUIRE_ROOT=1`).
#[macro_export]
macro_rules! require_tools {
    ($($t:expr),+ $(,)?) => {
        if let Some(why) = $crate::support::missing_tools(&[$($t),+]) {
            $crate::support::skip(&why);
            return;
        }
    };
}

/// Returns from the test, saying why, when the kernel lacks `fstype`
/// (fails the test instead under `MOUNT_MD_REQUIRE_ROOT=1`).
#[allow(unused_macros)] // only the root tests use it
macro_rules! require_kernel_fs {
    ($fstype:expr) => {
        if !$crate::support::kernel_has($fstype) {
            $crate::support::skip(&format!("the kernel has no {} (modprobe {})", $fstype, $fstype));
            return;
        }
    };
}

pub fn mkfs_ext4() -> Option<PathBuf> {
    tool("mkfs.ext4")
}

/// A directory under the system temp dir, unique to this test, removed on
/// drop (on Linux after lazily unmounting anything still mounted below it,
/// so nothing is deleted through a mount).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let name = format!("mount_md-test-{tag}-{}-{}-{nanos}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
        let p = std::env::temp_dir().join(name);
        std::fs::create_dir(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.0.join(p)
    }

    /// A subdirectory (a mount point).
    pub fn dir(&self, name: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::create_dir_all(&p).expect("create dir");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if !linux::unmount_below(&self.0) {
            eprintln!("warning: leaving {} (still mounted)", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mount_md"))
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

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

/// The image files the core's tests name: [`recorder`] knows each.
pub const IMAGES: [&str; 8] =
    ["/jails/10.0.0.1/rootfs.volume", "/img", "/i", "/old", "/a.img", "/b.img", "/other.img", "/new.img"];

/// A recording FreeBSD syscall layer that knows every one of [`IMAGES`] as
/// a writable 1 GiB file (its realpath as named); nothing attached, nothing
/// mounted.
pub fn recorder() -> Recorder {
    IMAGES.iter().fold(Recorder::new(), |r, i| r.with_file(i, i, GIB))
}

/// The double's mount points, in mount order.
pub fn mounted_on(sys: &Recorder) -> Vec<&Path> {
    sys.mounted.iter().map(|(on, _, _)| on.as_path()).collect()
}

/// What one run of the program did.
pub struct Outcome {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    /// The syscall layer after the run.
    pub sys: Recorder,
}

impl Outcome {
    /// Nothing was asked of the system, nothing done.
    pub fn untouched(&self) -> bool {
        self.sys.calls.is_empty() && self.sys.asked.is_empty()
    }
}

/// Runs the program on the FreeBSD backend over `sys`.
pub fn run_on(sys: Recorder, words: &[OsString]) -> Outcome {
    let mut fb = FreeBsd::with_sys(sys);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = mount_md::run::run(words, &mut fb, &TestHost, &mut out, &mut err);
    let sys = fb.into_sys();
    // Whatever happened, the executor let go of every mounted root it
    // opened.
    assert_eq!(sys.open_roots(), 0, "roots left open after {words:?}");
    Outcome { status, stdout: String::from_utf8_lossy(&out).into(), stderr: String::from_utf8_lossy(&err).into(), sys }
}

/// Runs a command line on [`recorder`].
pub fn run_line(line: &str) -> Outcome {
    run_on(recorder(), &argv(line))
}
