//! What Linux and FreeBSD do alike, one file per concern: `root`,
//! `skeleton`, `walk`, `image`, `lock`, `spawn`, `signals`, `setid`
//! (whether this process was started set-id), `progress` (the line long
//! work shows on a terminal), and `sys` (the raw calls, all of this
//! folder's `unsafe` outside its tests).
//!
//! Everything is done relative to directory descriptors opened with
//! `O_NOFOLLOW`, never by re-resolving a path after the mount, so a jailed
//! root that swaps a directory for a symlink cannot redirect a chmod, chown
//! or copy onto the host (mdmfs's chmod/chown-by-path race).
mod image;
mod lock;
pub mod progress;
mod root;
mod setid;
mod signals;
mod skeleton;
mod spawn;
pub(in crate::platform) mod sys;
mod walk;

pub use image::*;
pub use lock::*;
pub use root::*;
pub use setid::*;
pub use signals::*;
pub use skeleton::*;
pub use spawn::*;
pub use walk::*;
