//! The pure core, on any system, no root: the command line, plans and the
//! executor on the FreeBSD backend over its recording syscall double, the
//! lifecycle rules, `-r`'s steps, and property tests of the parsers.
#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod cli;
mod crypt;
mod exec;
mod grow;
mod lifecycle;
mod list_json;
mod properties;
