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

mod admin;
mod bad_inputs;
mod boot;
mod cli;
mod concurrent;
mod create_crash;
mod crypt;
mod direct_io;
mod direct_io_4k;
mod exclusion;
mod failures;
mod fstab;
mod grow;
mod grow_again;
mod identity;
mod image;
mod larger_fs;
mod lifecycle;
mod recipes;
mod scale;
mod second_boot;
mod sizes_and_stops;
mod skel;
mod soak;
mod symlinks;
mod template;
mod untrusted;
mod zero_size_unit;
