//! mount_md, mdmfs, mount_mfs, mfs, mount.md: one binary, chosen by name.
//!
//! On Linux with glibc the binary has its own C `main` (`no_main`): std's
//! runtime set-up costs more than the rest of a `-u` run's user space, and
//! [`mount_md::platform::linux::start::init`] does the part of it that
//! matters here. std still gets argv there (glibc hands it to std's
//! `.init_array` hook), so `std::env::args_os` works as usual. Elsewhere
//! (FreeBSD, musl) the ordinary `fn main`.
//! (`cargo test` builds this file with the test harness's own `main`: that
//! build keeps the ordinary one too.)
#![cfg_attr(all(target_os = "linux", target_env = "gnu", not(test)), no_main)]

#[cfg(all(target_os = "linux", target_env = "gnu", not(test)))]
#[no_mangle]
extern "C" fn main(_argc: std::ffi::c_int, _argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    mount_md::platform::linux::start::init();
    let code = mount_md::run::main();
    let _ = std::io::Write::flush(&mut std::io::stdout());
    code
}

#[cfg(any(test, not(all(target_os = "linux", target_env = "gnu"))))]
fn main() {
    std::process::exit(mount_md::run::main());
}
