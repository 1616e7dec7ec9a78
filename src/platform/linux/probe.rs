//! Which file system an image holds: the superblock reading itself is
//! shared with FreeBSD and lives in [`crate::superblock`].
pub use crate::superblock::{probe, Found, FIRST_LEN, PROBE_LEN};
