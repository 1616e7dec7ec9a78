//! mount_md for real on Linux, as root: loop devices, mounts, util-linux
//! and the image and skeleton code on real file systems. Every test works
//! under its own temporary directory and touches no loop device or mount it
//! did not make. Without root, loop devices or a tool `tests/run` installs
//! a test says why and passes, or fails under `MOUNT_MD_REQUIRE_ROOT=1`
//! (see `support::skip`). The soak tests (`soak::`) and the 512-at-once
//! test (`scale::`) are `#[ignore]`d: `.ci/run` runs them on their own.
#![cfg(target_os = "linux")]

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod bad_inputs;
mod boot;
mod cli;
mod concurrent;
mod create_crash;
mod direct_io;
mod failures;
mod fstab;
mod grow;
mod identity;
mod image;
mod lifecycle;
mod recipes;
mod scale;
mod skel;
mod soak;
mod symlinks;
mod untrusted;
