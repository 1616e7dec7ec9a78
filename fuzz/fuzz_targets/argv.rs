//! Whole command lines, every flavor: parsing must never panic, and a
//! request that parses must plan and run on the FreeBSD backend over its
//! recording syscall double.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mount_md::cli::{self, Host};
use mount_md::flavor::Flavor;
use mount_md::owner::IdLookup;
use mount_md::platform::freebsd::recording::Recorder;
use mount_md::platform::freebsd::FreeBsd;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

struct H;
impl IdLookup for H {
    fn uid_of(&self, n: &str) -> Option<u32> {
        (n == "root").then_some(0)
    }
    fn gid_of(&self, n: &str) -> Option<u32> {
        (n == "wheel").then_some(0)
    }
}
impl Host for H {
    fn umask(&self) -> u32 {
        0o022
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let name = ["mount_md", "mount_mfs", "mount.md"][usize::from(selector % 3)];
    let mut argv = vec![OsString::from(name)];
    argv.extend(rest.split(|&b| b == 0).map(|w| OsString::from_vec(w.to_vec())));
    let flavor = Flavor::from_name(name);
    let _ = cli::parse(flavor, &argv, &H);
    // The whole program over the recording syscall double (nothing real
    // changes).
    let mut fb = FreeBsd::with_sys(Recorder::new().with_file("/img", "/img", 1 << 30));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = mount_md::run::run(&argv, &mut fb, &H, &mut out, &mut err);
    assert!(matches!(status, 0 | 1 | 2 | 32));
    assert_eq!(fb.sys().open_roots(), 0, "the executor let go of every mounted root");
});
