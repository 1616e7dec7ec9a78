//! mount_md: FreeBSD's mdmfs(8) as a mount helper that attaches an image
//! file as a disk (md(4) on FreeBSD, loop(4) on Linux) and mounts it, so a
//! jail or container root cannot grow beyond the image.
//!
//! The flow is linear: [`cli`] turns argv into a validated
//! [`request::Request`]; [`plan`] turns that into an ordered list of steps;
//! [`exec`] runs the steps on a [`platform::Platform`] and undoes what it did
//! on the first failure. `-u`, `-r` and `--list` are driven by the core
//! ([`lifecycle`], [`grow`], [`list`]) in the same way. Parsing and planning
//! are pure. The system calls are the backends' under [`platform`], their
//! `unsafe` behind each system's syscall trait (`LoopSys`, `MdSys`) and in
//! one small module of raw calls both share (`platform::posix::sys`), with
//! the Linux `no_main` entry; outside them only [`host`]
//! (user and group names, the umask) and [`run`] (the effective uid, for a
//! hint) ask the system anything.
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(no_backend)]
compile_error!("mount_md has a backend for Linux (loop devices) and FreeBSD (md disks) only");

pub mod check;
pub mod cli;
pub mod crypt;
pub mod device;
pub mod error;
pub mod exec;
pub mod flavor;
pub mod grow;
pub mod grow_ops;
pub mod host;
pub mod lifecycle;
pub mod list;
pub mod mark;
pub mod mode;
pub mod output;
pub mod owner;
pub mod plan;
pub mod platform;
pub mod progress;
pub mod remount;
pub mod request;
pub mod run;
pub mod size;
pub mod superblock;
pub mod template;
pub mod trust;
pub mod unit;
