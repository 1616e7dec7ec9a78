//! The FreeBSD backend on Linux (or anywhere): no FreeBSD machine is
//! needed. Its request builders as plain functions, the md(4) ABI, and the
//! real policy `FreeBsd<_>` over the recording syscall double and over the
//! kernel model (tests/support/freebsd/model.rs), including the jail(8)
//! scenarios.
#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod abi;
mod boot_again;
mod crypt;
mod fsck;
mod geli;
mod grow;
mod grow_on_the_model;
mod issue22;
mod jail;
mod lifecycle;
mod model;
mod mounted_root;
mod requests;
mod run;
mod template;
