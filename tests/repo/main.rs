//! The repository's documents and packaging against the code: the man
//! page (its option list, and as mandoc renders it), the README, the
//! FreeBSD port, `make install`, the FreeBSD host script, and the shell
//! scripts through shellcheck. No root needed.
#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod architecture;
mod completion;
mod diagnostics;
mod host_script;
mod install;
mod manpage;
mod manpage_render;
mod next_step;
mod packaging;
mod readme;
mod scripts;
