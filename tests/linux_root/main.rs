//! mount_md for real on Linux, as root: loop devices, mounts, util-linux
//! and the image and skeleton code on real file systems. Every test works
//! under its own temporary directory and touches no loop device or mount it
//! did not make. Without root or loop devices a test says why and passes,
//! or fails under `MOUNT_MD_REQUIRE_ROOT=1` (see `support::skip`). The soak
//! tests (`soak::`) are `#[ignore]`d: `.ci/run` runs them on their own.
#![cfg(target_os = "linux")]

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod admin;
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
mod skel;
mod soak;
mod symlinks;
mod untrusted;
