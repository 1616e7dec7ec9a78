//! Build script: turns the target triple into the few cfg aliases the code
//! actually branches on, so that no module repeats a `target_os` list.
//!
//! * `loop_backend`  — Linux and Android: loop(4) devices and mount(2).
//! * `md_backend`    — FreeBSD: md(4) ioctls on /dev/mdctl and nmount(2).
//! * `no_backend`    — anything else: no backend, and the crate refuses to
//!   compile (`compile_error!` in lib.rs).
//! * `md_abi = "lp64" | "i386" | "ilp32"` — which `struct md_ioctl` layout the
//!   *target* uses (sys/sys/mdioctl.h `struct md_ioctl`). i386 aligns 64-bit fields to 4 bytes (436-byte
//!   struct); other 32-bit ABIs align them to 8 (440); LP64 is 448. The layout
//!   types compile on every host so tests can pin all three, but the one the
//!   FreeBSD backend passes to the kernel is chosen here from the target,
//!   never from the host that runs the build script.
use std::env;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(loop_backend)");
    println!("cargo::rustc-check-cfg=cfg(md_backend)");
    println!("cargo::rustc-check-cfg=cfg(no_backend)");
    println!("cargo::rustc-check-cfg=cfg(md_abi, values(\"lp64\", \"i386\", \"ilp32\"))");
    println!("cargo::rerun-if-changed=build.rs");

    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let width = env::var("CARGO_CFG_TARGET_POINTER_WIDTH").unwrap_or_default();

    match os.as_str() {
        "linux" | "android" => println!("cargo::rustc-cfg=loop_backend"),
        "freebsd" => println!("cargo::rustc-cfg=md_backend"),
        _ => println!("cargo::rustc-cfg=no_backend"),
    }

    let abi = match (width.as_str(), arch.as_str()) {
        ("64", _) => "lp64",
        ("32", "x86") => "i386",
        ("32", _) => "ilp32",
        (w, a) => panic!("mount_md: unsupported pointer width {w} on {a}"),
    };
    println!("cargo::rustc-cfg=md_abi=\"{abi}\"");
}
